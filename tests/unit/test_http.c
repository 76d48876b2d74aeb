/*
 * test_http.c - the HTTP server over real loopback sockets: what reaches
 * the handler, answers given later from other threads, keep-alive across
 * parked requests, every limit (body, headers, connections in all and per
 * address, idle time) with its counter, stopping with a request parked,
 * and the errors of a bad start.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "obs/logging.h"
#include "support/httptest.h"

/* ------------------------------------------------------------ fixture -- */

#define PARK_MAX 256

enum answer_mode {
    ANSWER_AT_ONCE,   /* echo the body from inside the handler */
    ANSWER_LATER,     /* park; the test or the responder thread answers */
    ANSWER_BY_HEADER, /* "X-Answer: now" at once, otherwise later */
};

/* What the handler saw of the last request. */
struct seen {
    char method[16];
    char path[128];
    char trace_lower[64];
    char trace_upper[64];
    bool missing_header_null;
    char query_key[64];
    char query_flag[16];
    bool query_flag_null;
    bool query_case_null;
    char query_case[16];
    bool query_missing_null;
    char peer[64];
    char body[4096];
    size_t body_len;
};

struct fixture {
    struct http_server *server;
    uint16_t port;
    enum answer_mode mode;

    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned calls;
    struct seen seen;
    struct http_request *parked[PARK_MAX];
    size_t parked_count;

    pthread_t responder;
    bool responder_running;
    bool responder_stop;
};

static struct fixture fx;

static void copy_or_empty(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src == NULL ? "" : src);
}

static void record(struct http_request *req)
{
    struct seen *s = &fx.seen;
    size_t len;
    const void *body = http_request_body(req, &len);

    copy_or_empty(s->method, sizeof(s->method), http_request_method(req));
    copy_or_empty(s->path, sizeof(s->path), http_request_path(req));
    copy_or_empty(s->trace_lower, sizeof(s->trace_lower),
                  http_request_header(req, "x-trace-id"));
    copy_or_empty(s->trace_upper, sizeof(s->trace_upper),
                  http_request_header(req, "X-TRACE-ID"));
    s->missing_header_null = http_request_header(req, "X-Missing") == NULL;
    copy_or_empty(s->query_key, sizeof(s->query_key),
                  http_request_query(req, "write_key"));
    s->query_flag_null = http_request_query(req, "flag") == NULL;
    copy_or_empty(s->query_flag, sizeof(s->query_flag),
                  http_request_query(req, "flag"));
    s->query_case_null = http_request_query(req, "case") == NULL;
    copy_or_empty(s->query_case, sizeof(s->query_case),
                  http_request_query(req, "Case"));
    s->query_missing_null = http_request_query(req, "missing") == NULL;
    copy_or_empty(s->peer, sizeof(s->peer), http_request_peer(req));
    s->body_len = len;
    memcpy(s->body, body, len < sizeof(s->body) ? len : sizeof(s->body));
}

/* Answers with the request's own body, and its path in X-Path. */
static int echo(struct http_request *req, unsigned status)
{
    const struct http_header headers[] = {
        {"Content-Type", "application/octet-stream"},
        {"X-Path", http_request_path(req)},
    };
    size_t len;
    const void *body = http_request_body(req, &len);

    return http_respond(req, status, headers, 2, body, len);
}

static void handler_cb(void *ctx, struct http_request *req)
{
    const char *answer = http_request_header(req, "X-Answer");
    bool now = fx.mode == ANSWER_AT_ONCE ||
               (fx.mode == ANSWER_BY_HEADER && answer != NULL &&
                strcmp(answer, "now") == 0);

    (void)ctx;
    pthread_mutex_lock(&fx.lock);
    fx.calls++;
    record(req);
    if (!now) {
        if (fx.parked_count == PARK_MAX) {
            abort(); /* a test parks more than it answers */
        }
        fx.parked[fx.parked_count++] = req;
    }
    pthread_cond_broadcast(&fx.changed);
    pthread_mutex_unlock(&fx.lock);
    if (now) {
        echo(req, 200);
    }
}

static void start_with(struct http_server_options *opts)
{
    int rc;

    opts->handler = handler_cb;
    rc = http_server_start(opts, &fx.server);
    cr_assert_eq(rc, 0, "start: %s", tw_err_message());
    fx.port = http_server_port(fx.server);
    cr_assert_neq(fx.port, 0);
}

static void setup(void)
{
    obs_log_set_level(OBS_WARN);
    memset(&fx, 0, sizeof(fx));
    pthread_mutex_init(&fx.lock, NULL);
    pthread_cond_init(&fx.changed, NULL);
}

static void stop_responder(void);

static void teardown(void)
{
    stop_responder();
    if (fx.server != NULL) {
        http_server_stop(fx.server);
        fx.server = NULL;
    }
    pthread_cond_destroy(&fx.changed);
    pthread_mutex_destroy(&fx.lock);
}

static void start_default(enum answer_mode mode)
{
    struct http_server_options opts;

    http_server_options_init(&opts);
    fx.mode = mode;
    start_with(&opts);
}

/* Waits until n requests are parked; returns the oldest, taken off. */
static struct http_request *take_parked(void)
{
    struct timespec deadline;
    struct http_request *req;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += HTTPTEST_AWAIT_MS / 1000;
    pthread_mutex_lock(&fx.lock);
    while (fx.parked_count == 0) {
        int rc = pthread_cond_timedwait(&fx.changed, &fx.lock, &deadline);

        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&fx.lock);
            cr_assert_fail("no request was parked within %d ms",
                           HTTPTEST_AWAIT_MS);
        }
    }
    req = fx.parked[0];
    fx.parked_count--;
    memmove(fx.parked, fx.parked + 1, fx.parked_count * sizeof(fx.parked[0]));
    pthread_mutex_unlock(&fx.lock);
    return req;
}

static unsigned calls(void)
{
    pthread_mutex_lock(&fx.lock);
    unsigned n = fx.calls;
    pthread_mutex_unlock(&fx.lock);
    return n;
}

/* The responder answers every parked request as soon as it is parked. */
static void *responder_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&fx.lock);
    for (;;) {
        while (fx.parked_count == 0 && !fx.responder_stop) {
            pthread_cond_wait(&fx.changed, &fx.lock);
        }
        if (fx.parked_count == 0) {
            break;
        }
        struct http_request *req = fx.parked[0];

        fx.parked_count--;
        memmove(fx.parked, fx.parked + 1,
                fx.parked_count * sizeof(fx.parked[0]));
        pthread_mutex_unlock(&fx.lock);
        echo(req, 200);
        pthread_mutex_lock(&fx.lock);
    }
    pthread_mutex_unlock(&fx.lock);
    return NULL;
}

static void start_responder(void)
{
    cr_assert_eq(pthread_create(&fx.responder, NULL, responder_main, NULL), 0);
    fx.responder_running = true;
}

static void stop_responder(void)
{
    if (!fx.responder_running) {
        return;
    }
    pthread_mutex_lock(&fx.lock);
    fx.responder_stop = true;
    pthread_cond_broadcast(&fx.changed);
    pthread_mutex_unlock(&fx.lock);
    pthread_join(fx.responder, NULL);
    fx.responder_running = false;
}

static struct http_stats stats(void)
{
    struct http_stats s;

    http_server_stats(fx.server, &s);
    return s;
}

static bool no_connection_open(void *ctx)
{
    (void)ctx;
    return stats().connections_open == 0;
}

static bool one_timed_out(void *ctx)
{
    (void)ctx;
    return stats().connections_timed_out == 1;
}

static bool open_count_is(void *ctx)
{
    return stats().connections_open == *(uint64_t *)ctx;
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------- what the handler sees -- */

Test(http,
     a_request_reaches_the_handler_with_method_path_headers_query_peer_and_body)
{
    struct httptest_conn c;
    struct httptest_response r;
    const char body[] = "{\"event\":\"Signed Up\"}";

    start_default(ANSWER_AT_ONCE);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c,
                   "POST /v1/batch%%20x?write_key=wk%%201&flag&Case=up "
                   "HTTP/1.1\r\nHost: t\r\nX-Trace-Id: abc-123\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   strlen(body), body);
    httptest_expect_response(&c, &r);

    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, body);
    cr_expect_str_eq(httptest_header(&r, "Content-Type"),
                     "application/octet-stream");
    cr_expect_str_eq(httptest_header(&r, "X-Path"), "/v1/batch x");
    cr_expect_eq(calls(), 1);
    cr_expect_str_eq(fx.seen.method, "POST");
    cr_expect_str_eq(fx.seen.path, "/v1/batch x");
    cr_expect_str_eq(fx.seen.trace_lower, "abc-123");
    cr_expect_str_eq(fx.seen.trace_upper, "abc-123");
    cr_expect(fx.seen.missing_header_null);
    cr_expect_str_eq(fx.seen.query_key, "wk 1");
    cr_expect_not(fx.seen.query_flag_null);
    cr_expect_str_eq(fx.seen.query_flag, "");
    cr_expect(fx.seen.query_case_null, "query names must match exactly");
    cr_expect_str_eq(fx.seen.query_case, "up");
    cr_expect(fx.seen.query_missing_null);
    cr_expect_str_eq(fx.seen.peer, "127.0.0.1");
    cr_expect_eq(fx.seen.body_len, strlen(body));
    cr_expect_eq(memcmp(fx.seen.body, body, strlen(body)), 0);

    struct http_stats s = stats();
    cr_expect_eq(s.requests, 1);
    cr_expect_eq(s.responses[2], 1);
    cr_expect_eq(s.body_bytes, strlen(body));
    cr_expect_eq(s.connections_accepted, 1);
    httptest_response_free(&r);
    httptest_close(&c);
}

Test(http, a_request_without_a_body_reaches_the_handler_with_an_empty_one)
{
    struct httptest_conn c;
    struct httptest_response r;

    start_default(ANSWER_AT_ONCE);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
    httptest_expect_response(&c, &r);

    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.body_len, 0);
    cr_expect_str_eq(fx.seen.method, "GET");
    cr_expect_str_eq(fx.seen.path, "/health");
    cr_expect_eq(fx.seen.body_len, 0);
    httptest_response_free(&r);
    httptest_close(&c);
}

Test(http, an_ipv6_peer_is_reported_as_its_numeric_address_without_port)
{
    struct http_server_options opts;
    struct httptest_conn c;
    struct httptest_response r;

    http_server_options_init(&opts);
    opts.host = "::1";
    fx.mode = ANSWER_AT_ONCE;
    start_with(&opts);
    httptest_connect(&c, "::1", fx.port);
    httptest_sendf(&c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    httptest_expect_response(&c, &r);

    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(fx.seen.peer, "::1");
    httptest_response_free(&r);
    httptest_close(&c);
}

Test(http, a_chunked_body_reaches_the_handler_whole_and_contiguous)
{
    struct httptest_conn c;
    struct httptest_response r;
    char chunk[301];

    start_default(ANSWER_AT_ONCE);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c, "POST /c HTTP/1.1\r\nHost: t\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        memset(chunk, 'a' + i, 300);
        chunk[300] = '\0';
        httptest_sendf(&c, "12c\r\n%s\r\n", chunk);
    }
    httptest_sendf(&c, "0\r\n\r\n");
    httptest_expect_response(&c, &r);

    cr_assert_eq(r.status, 200);
    cr_assert_eq(fx.seen.body_len, 900);
    for (size_t i = 0; i < 900; i++) {
        cr_assert_eq(fx.seen.body[i], 'a' + (int)(i / 300), "byte %zu", i);
    }
    cr_expect_eq(r.body_len, 900);
    httptest_response_free(&r);
    httptest_close(&c);
}

/* --------------------------------------------------- deferred answers -- */

Test(http, an_answer_given_from_another_thread_after_a_delay_arrives_intact)
{
    struct httptest_conn c;
    struct httptest_response r;
    struct http_request *req;
    static char big[200000];
    const struct http_header headers[] = {{"Content-Type", "text/plain"},
                                          {"X-Late", "yes"}};

    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (char)('A' + i % 23);
    }
    start_default(ANSWER_LATER);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c, "POST /late HTTP/1.1\r\nHost: t\r\n"
                       "Content-Length: 5\r\n\r\nhello");
    req = take_parked();

    /* Parked: nothing may come back until the answer is given. */
    cr_assert(httptest_quiet_for(&c, 200), "a parked request was answered");
    cr_expect_eq(stats().requests_parked, 1);
    cr_assert_eq(http_respond(req, 202, headers, 2, big, sizeof(big)), 0);
    httptest_expect_response(&c, &r);

    cr_expect_eq(r.status, 202);
    cr_expect_str_eq(httptest_header(&r, "X-Late"), "yes");
    cr_assert_eq(r.body_len, sizeof(big));
    cr_expect_eq(memcmp(r.body, big, sizeof(big)), 0);
    cr_expect_eq(stats().requests_parked, 0);
    httptest_response_free(&r);
    httptest_close(&c);
}

Test(http, many_keep_alive_requests_with_parked_answers_share_one_connection)
{
    struct httptest_conn c;
    struct httptest_response r;
    char body[64];

    start_default(ANSWER_LATER);
    start_responder();
    httptest_connect(&c, "127.0.0.1", fx.port);
    for (int i = 0; i < 300; i++) {
        int n = snprintf(body, sizeof(body), "request number %d", i);

        httptest_sendf(&c,
                       "POST /k/%d HTTP/1.1\r\nHost: t\r\n"
                       "Content-Length: %d\r\n\r\n%s",
                       i, n, body);
        httptest_expect_response(&c, &r);
        cr_assert_eq(r.status, 200, "request %d", i);
        cr_assert_str_eq(r.body, body, "request %d", i);
        httptest_response_free(&r);
    }

    struct http_stats s = stats();
    cr_expect_eq(s.connections_accepted, 1);
    cr_expect_eq(s.requests, 300);
    cr_expect_eq(s.responses[2], 300);
    httptest_close(&c);
}

Test(http, pipelined_requests_are_answered_in_order_after_parking)
{
    struct httptest_conn c;
    struct httptest_response r;
    char all[8192];
    size_t len = 0;

    start_default(ANSWER_LATER);
    start_responder();
    httptest_connect(&c, "127.0.0.1", fx.port);
    for (int i = 0; i < 20; i++) {
        len += (size_t)snprintf(all + len, sizeof(all) - len,
                                "POST /p HTTP/1.1\r\nHost: t\r\n"
                                "Content-Length: 6\r\n\r\nbody%02d",
                                i);
    }
    cr_assert(httptest_send(&c, all, len));
    for (int i = 0; i < 20; i++) {
        char want[8];

        snprintf(want, sizeof(want), "body%02d", i);
        httptest_expect_response(&c, &r);
        cr_assert_str_eq(r.body, want, "response %d", i);
        httptest_response_free(&r);
    }
    httptest_close(&c);
}

struct client_run {
    pthread_t tid;
    struct httptest_conn conn;
    int index;
    int failures;
    char failure[128];
};

#define STRESS_CLIENTS 6
#define STRESS_REQUESTS 150

/* A client thread: requests answered at once or parked, alternately. */
static void *stress_client(void *arg)
{
    struct client_run *run = arg;
    struct httptest_response r;
    char body[80];
    char req[256];

    for (int i = 0; i < STRESS_REQUESTS; i++) {
        int n =
            snprintf(body, sizeof(body), "client %d request %d", run->index, i);
        int m = snprintf(req, sizeof(req),
                         "POST /s HTTP/1.1\r\nHost: t\r\nX-Answer: %s\r\n"
                         "Content-Length: %d\r\n\r\n%s",
                         (i + run->index) % 2 ? "now" : "later", n, body);

        if (!httptest_send(&run->conn, req, (size_t)m) ||
            !httptest_read_response(&run->conn, &r, HTTPTEST_AWAIT_MS)) {
            snprintf(run->failure, sizeof(run->failure),
                     "request %d got no answer", i);
            run->failures++;
            return NULL;
        }
        if (r.status != 200 || strcmp(r.body, body) != 0) {
            snprintf(run->failure, sizeof(run->failure),
                     "request %d: status %d body %.60s", i, r.status, r.body);
            run->failures++;
        }
        httptest_response_free(&r);
    }
    return NULL;
}

Test(http, concurrent_clients_get_their_own_answers_whether_parked_or_not)
{
    struct client_run runs[STRESS_CLIENTS];

    start_default(ANSWER_BY_HEADER);
    start_responder();
    for (int i = 0; i < STRESS_CLIENTS; i++) {
        runs[i] = (struct client_run){.index = i};
        httptest_connect(&runs[i].conn, "127.0.0.1", fx.port);
        cr_assert_eq(
            pthread_create(&runs[i].tid, NULL, stress_client, &runs[i]), 0);
    }
    for (int i = 0; i < STRESS_CLIENTS; i++) {
        pthread_join(runs[i].tid, NULL);
        cr_expect_eq(runs[i].failures, 0, "client %d: %s", i, runs[i].failure);
        httptest_close(&runs[i].conn);
    }
    cr_expect_eq(stats().requests, STRESS_CLIENTS * STRESS_REQUESTS);
    cr_expect_eq(stats().requests_parked, 0);
}

/* -------------------------------------------------------- body limits -- */

static const char too_large_1000[] =
    "{\"success\":false,\"error\":\"request body is larger than the limit "
    "of 1000 bytes\"}";

static void start_with_body_limit(size_t max_body_bytes)
{
    struct http_server_options opts;

    http_server_options_init(&opts);
    opts.max_body_bytes = max_body_bytes;
    fx.mode = ANSWER_AT_ONCE;
    start_with(&opts);
}

Test(http, a_content_length_above_the_limit_gets_413_at_once_and_no_handler)
{
    struct httptest_conn c;
    struct httptest_response r;

    start_with_body_limit(1000);
    httptest_connect(&c, "127.0.0.1", fx.port);
    /* Only the headers: the answer must not wait for the body. */
    httptest_sendf(&c, "POST /big HTTP/1.1\r\nHost: t\r\n"
                       "Content-Length: 1001\r\n\r\n");
    httptest_expect_response(&c, &r);

    cr_expect_eq(r.status, 413);
    cr_expect_str_eq(httptest_header(&r, "Content-Type"), "application/json");
    cr_expect_str_eq(r.body, too_large_1000);
    cr_expect(httptest_await_closed(&c, HTTPTEST_AWAIT_MS),
              "the connection stays open after an unread body");
    cr_expect_eq(calls(), 0);
    cr_expect_eq(stats().bodies_too_large, 1);
    cr_expect_eq(stats().responses[4], 1);
    cr_expect_eq(stats().requests, 0);
    httptest_response_free(&r);
    httptest_close(&c);
}

Test(http, a_body_of_exactly_the_limit_is_accepted)
{
    struct httptest_conn c;
    struct httptest_response r;
    char body[1001];

    memset(body, 'z', 1000);
    body[1000] = '\0';
    start_with_body_limit(1000);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c,
                   "POST /edge HTTP/1.1\r\nHost: t\r\n"
                   "Content-Length: 1000\r\n\r\n%s",
                   body);
    httptest_expect_response(&c, &r);

    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, body);
    cr_expect_eq(calls(), 1);
    httptest_response_free(&r);
    httptest_close(&c);
}

Test(http, a_chunked_body_growing_past_the_limit_gets_413_and_no_handler)
{
    struct httptest_conn c;
    struct httptest_response r;
    char chunk[401];

    memset(chunk, 'q', 400);
    chunk[400] = '\0';
    start_with_body_limit(1000);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c, "POST /grow HTTP/1.1\r\nHost: t\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        httptest_sendf(&c, "190\r\n%s\r\n", chunk);
    }
    httptest_sendf(&c, "0\r\n\r\n");
    httptest_expect_response(&c, &r);

    cr_expect_eq(r.status, 413);
    cr_expect_str_eq(httptest_header(&r, "Content-Type"), "application/json");
    cr_expect_str_eq(r.body, too_large_1000);
    cr_expect_eq(calls(), 0);
    cr_expect_eq(stats().bodies_too_large, 1);
    httptest_response_free(&r);

    /* The body was read to its end, so the connection goes on. */
    httptest_sendf(&c, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
    httptest_expect_response(&c, &r);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(calls(), 1);
    cr_expect_str_eq(fx.seen.path, "/after");
    cr_expect_eq(stats().connections_accepted, 1);
    httptest_response_free(&r);
    httptest_close(&c);
}

Test(http, a_chunked_body_that_goes_on_far_past_the_limit_is_cut_off)
{
    struct httptest_conn c;
    char chunk[401];
    bool closed = false;

    memset(chunk, 'w', 400);
    chunk[400] = '\0';
    start_with_body_limit(1000);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c, "POST /flood HTTP/1.1\r\nHost: t\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 100 && !closed; i++) {
        char text[420];
        int n = snprintf(text, sizeof(text), "190\r\n%s\r\n", chunk);

        closed = !httptest_send(&c, text, (size_t)n);
    }
    cr_expect(httptest_await_closed(&c, HTTPTEST_AWAIT_MS),
              "a client sending forever past the limit is still read");
    cr_expect_eq(calls(), 0);
    cr_expect_eq(stats().bodies_too_large, 1);
    httptest_close(&c);
}

/* ----------------------------------------------------- header limits -- */

Test(http, headers_beyond_the_connection_memory_get_431_and_are_counted)
{
    struct http_server_options opts;
    struct httptest_conn c;
    struct httptest_response r;
    static char filler[12000];

    memset(filler, 'h', sizeof(filler) - 1);
    http_server_options_init(&opts);
    opts.connection_memory_bytes = 8192;
    fx.mode = ANSWER_AT_ONCE;
    start_with(&opts);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c, "GET / HTTP/1.1\r\nHost: t\r\nX-Filler: %s\r\n\r\n",
                   filler);
    httptest_expect_response(&c, &r);

    cr_expect_eq(r.status, 431);
    cr_expect_eq(calls(), 0);
    cr_expect_eq(stats().headers_too_large, 1);
    cr_expect_eq(stats().responses[4], 1);
    httptest_response_free(&r);
    httptest_close(&c);
}

Test(http, a_malformed_content_length_gets_400_and_is_counted)
{
    struct httptest_conn c;
    struct httptest_response r;

    start_default(ANSWER_AT_ONCE);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c, "POST / HTTP/1.1\r\nHost: t\r\n"
                       "Content-Length: twelve\r\n\r\n");
    httptest_expect_response(&c, &r);

    cr_expect_eq(r.status, 400);
    cr_expect_eq(calls(), 0);
    cr_expect_eq(stats().requests_malformed, 1);
    httptest_response_free(&r);
    httptest_close(&c);
}

/* ------------------------------------------------- connection limits -- */

/* One answered request proves the server has taken the connection in. */
static void prove_served(struct httptest_conn *c)
{
    struct httptest_response r;

    httptest_sendf(c, "GET /alive HTTP/1.1\r\nHost: t\r\n\r\n");
    httptest_expect_response(c, &r);
    cr_assert_eq(r.status, 200);
    httptest_response_free(&r);
}

Test(http, connections_beyond_the_limit_are_refused_and_counted)
{
    struct http_server_options opts;
    struct httptest_conn c[4];
    uint64_t one = 1;

    http_server_options_init(&opts);
    opts.max_connections = 2;
    opts.threads = 2;
    fx.mode = ANSWER_AT_ONCE;
    start_with(&opts);
    for (int i = 0; i < 2; i++) {
        httptest_connect(&c[i], "127.0.0.1", fx.port);
        prove_served(&c[i]);
    }
    httptest_connect(&c[2], "127.0.0.1", fx.port);
    cr_assert(httptest_await_closed(&c[2], HTTPTEST_AWAIT_MS),
              "a third connection was kept with a limit of two");
    cr_expect_eq(stats().connections_refused, 1);
    cr_expect_eq(stats().connections_open, 2);

    /* A slot that frees up can be used again. */
    httptest_close(&c[0]);
    cr_assert(httptest_eventually(open_count_is, &one, HTTPTEST_AWAIT_MS));
    httptest_connect(&c[3], "127.0.0.1", fx.port);
    prove_served(&c[3]);
    cr_expect_eq(stats().connections_refused, 1);
    for (int i = 1; i < 4; i++) {
        httptest_close(&c[i]);
    }
}

Test(http, connections_beyond_the_per_address_limit_are_refused_and_counted)
{
    struct http_server_options opts;
    struct httptest_conn a;
    struct httptest_conn b;

    http_server_options_init(&opts);
    opts.max_per_ip = 1;
    fx.mode = ANSWER_AT_ONCE;
    start_with(&opts);
    httptest_connect(&a, "127.0.0.1", fx.port);
    prove_served(&a);
    httptest_connect(&b, "127.0.0.1", fx.port);
    cr_assert(httptest_await_closed(&b, HTTPTEST_AWAIT_MS),
              "a second connection from one address was kept with a "
              "limit of one");
    cr_expect_eq(stats().connections_refused, 1);
    prove_served(&a);
    httptest_close(&a);
    httptest_close(&b);
}

Test(http, a_silent_client_is_disconnected_after_the_idle_timeout)
{
    struct http_server_options opts;
    struct httptest_conn c;
    int64_t started;
    int64_t waited;

    http_server_options_init(&opts);
    opts.idle_timeout_s = 1;
    fx.mode = ANSWER_AT_ONCE;
    start_with(&opts);
    httptest_connect(&c, "127.0.0.1", fx.port);
    started = httptest_mono_ms();
    cr_assert(httptest_await_closed(&c, 5000),
              "a silent client was still connected after 5 s");
    waited = httptest_mono_ms() - started;

    cr_expect_geq(waited, 900, "closed after %lld ms", (long long)waited);
    cr_expect(httptest_eventually(one_timed_out, NULL, HTTPTEST_AWAIT_MS),
              "connections_timed_out is %llu",
              (unsigned long long)stats().connections_timed_out);
    cr_expect_eq(calls(), 0);
    httptest_close(&c);
}

Test(http, a_client_that_hangs_up_is_not_counted_as_timed_out)
{
    struct http_server_options opts;
    struct httptest_conn c;

    http_server_options_init(&opts);
    opts.idle_timeout_s = 1;
    fx.mode = ANSWER_AT_ONCE;
    start_with(&opts);
    httptest_connect(&c, "127.0.0.1", fx.port);
    prove_served(&c);
    httptest_close(&c);

    cr_assert(httptest_eventually(no_connection_open, NULL, HTTPTEST_AWAIT_MS));
    cr_expect_eq(stats().connections_timed_out, 0);
    cr_expect_eq(stats().connections_accepted, 1);
}

/* --------------------------------------------------------------- stop -- */

struct stopper {
    pthread_t tid;
    struct http_server *server;
};

static void *stopper_main(void *arg)
{
    struct stopper *s = arg;

    http_server_stop(s->server);
    return NULL;
}

static bool joined_within(pthread_t tid, int ms)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(tid, NULL, &deadline) == 0;
}

Test(http, stop_waits_until_a_parked_request_is_answered_and_delivers_it)
{
    struct httptest_conn c;
    struct httptest_response r;
    struct http_request *req;
    struct stopper stopper;

    start_default(ANSWER_LATER);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c, "POST /wait HTTP/1.1\r\nHost: t\r\n"
                       "Content-Length: 4\r\n\r\ndata");
    req = take_parked();

    stopper.server = fx.server;
    fx.server = NULL;
    cr_assert_eq(pthread_create(&stopper.tid, NULL, stopper_main, &stopper), 0);
    cr_assert_not(joined_within(stopper.tid, 300),
                  "stop returned while a request was parked");

    cr_assert_eq(echo(req, 200), 0);
    cr_assert(joined_within(stopper.tid, HTTPTEST_AWAIT_MS),
              "stop did not return after the last answer");
    httptest_expect_response(&c, &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body, "data");
    cr_expect(httptest_await_closed(&c, HTTPTEST_AWAIT_MS));
    httptest_response_free(&r);
    httptest_close(&c);
}

Test(http, a_request_arriving_while_the_server_stops_gets_503_and_no_handler)
{
    struct httptest_conn parked;
    struct httptest_conn other;
    struct httptest_response r;
    struct http_request *req;
    struct stopper stopper;
    unsigned calls_before;
    int64_t deadline;

    start_default(ANSWER_BY_HEADER);
    httptest_connect(&parked, "127.0.0.1", fx.port);
    httptest_sendf(&parked, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    req = take_parked();
    /* Served once, so the server has taken it in before it stops
     * accepting. */
    httptest_connect(&other, "127.0.0.1", fx.port);
    httptest_sendf(&other, "GET /first HTTP/1.1\r\nHost: t\r\n"
                           "X-Answer: now\r\n\r\n");
    httptest_expect_response(&other, &r);
    cr_assert_eq(r.status, 200);
    httptest_response_free(&r);

    stopper.server = fx.server;
    fx.server = NULL;
    cr_assert_eq(pthread_create(&stopper.tid, NULL, stopper_main, &stopper), 0);

    /* Until the stop takes effect, requests are still answered; ask until
     * one is refused. */
    deadline = httptest_mono_ms() + HTTPTEST_AWAIT_MS;
    for (;;) {
        calls_before = calls();
        httptest_sendf(&other, "GET /now HTTP/1.1\r\nHost: t\r\n"
                               "X-Answer: now\r\n\r\n");
        httptest_expect_response(&other, &r);
        if (r.status != 200) {
            break;
        }
        httptest_response_free(&r);
        cr_assert_lt(httptest_mono_ms(), deadline, "never refused");
    }
    cr_expect_eq(r.status, 503);
    cr_expect_str_eq(httptest_header(&r, "Content-Type"), "application/json");
    cr_expect_not_null(strstr(r.body, "shutting down"), "body: %s", r.body);
    cr_expect_eq(calls(), calls_before,
                 "a refused request reached the handler");
    cr_expect(httptest_await_closed(&other, HTTPTEST_AWAIT_MS));
    httptest_response_free(&r);

    cr_assert_eq(echo(req, 200), 0);
    cr_assert(joined_within(stopper.tid, HTTPTEST_AWAIT_MS));
    httptest_expect_response(&parked, &r);
    cr_expect_eq(r.status, 200);
    httptest_response_free(&r);
    httptest_close(&parked);
    httptest_close(&other);
}

Test(http, a_server_with_open_idle_connections_stops_at_once)
{
    struct httptest_conn c;

    start_default(ANSWER_AT_ONCE);
    httptest_connect(&c, "127.0.0.1", fx.port);
    prove_served(&c);

    int64_t started = httptest_mono_ms();
    http_server_stop(fx.server);
    fx.server = NULL;
    cr_expect_lt(httptest_mono_ms() - started, 1500);
    cr_expect(httptest_await_closed(&c, HTTPTEST_AWAIT_MS));
    httptest_close(&c);
}

/* ------------------------------------------------------------ errors -- */

Test(http, binding_a_busy_port_fails_with_a_message_naming_address_and_reason)
{
    struct http_server_options opts;
    struct http_server *second = NULL;
    char want[64];
    int rc;

    start_default(ANSWER_AT_ONCE);
    http_server_options_init(&opts);
    opts.port = fx.port;
    opts.handler = handler_cb;
    rc = http_server_start(&opts, &second);

    cr_assert_eq(rc, TW_EIO, "got %d: %s", rc, tw_err_message());
    cr_expect_null(second);
    snprintf(want, sizeof(want), "127.0.0.1:%u", fx.port);
    cr_expect_not_null(strstr(tw_err_message(), want), "message: %s",
                       tw_err_message());
    cr_expect_not_null(strstr(tw_err_message(), "in use"), "message: %s",
                       tw_err_message());
}

Test(http, options_that_cannot_work_are_refused_with_the_reason)
{
    struct http_server_options opts;
    struct http_server *server = NULL;

    http_server_options_init(&opts);
    cr_expect_eq(http_server_start(&opts, &server), TW_EINVAL);
    cr_expect_not_null(strstr(tw_err_message(), "handler"));

    opts.handler = handler_cb;
    opts.host = "localhost";
    cr_expect_eq(http_server_start(&opts, &server), TW_EINVAL);
    cr_expect_not_null(strstr(tw_err_message(), "numeric"), "message: %s",
                       tw_err_message());

    opts.host = "127.0.0.1";
    opts.max_body_bytes = 0;
    cr_expect_eq(http_server_start(&opts, &server), TW_EINVAL);
    cr_expect_null(server);
}

Test(http, an_answer_with_an_impossible_status_is_refused_and_closes)
{
    struct httptest_conn c;
    struct http_request *req;

    start_default(ANSWER_LATER);
    httptest_connect(&c, "127.0.0.1", fx.port);
    httptest_sendf(&c, "GET /odd HTTP/1.1\r\nHost: t\r\n\r\n");
    req = take_parked();

    cr_expect_eq(http_respond(req, 99, NULL, 0, NULL, 0), TW_EINVAL);
    cr_expect(httptest_await_closed(&c, HTTPTEST_AWAIT_MS));
    cr_expect_eq(stats().requests_parked, 0);
    httptest_close(&c);
}
