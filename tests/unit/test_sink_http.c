/*
 * test_sink_http.c - the HTTP webhook sink against a real receiver on a
 * free loopback port (support/hookrecv.h): what a request carries (body
 * in both formats, gzip, Idempotency-Key across retries, headers), what
 * each answer becomes (every status class, the retryable set, Retry-After
 * in both forms, timeouts, refused and closed connections, excerpts of
 * answer bodies), the max_in_flight limit and keep-alive reuse as the
 * receiver counts them, destroy with batches in flight, and the options
 * and batches send() refuses. The answer helpers (http_answer.h) are
 * tested alone at the end.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collect/decode.h"
#include "common/buf.h"
#include "common/clock.h"
#include "obs/logging.h"
#include "sinks/http.h"
#include "sinks/http_answer.h"
#include "support/hookrecv.h"

#define AWAIT_MS 10000
#define DONE_MAX 512
#define EVENTS_MAX 8

/* ------------------------------------------------------------ fixture -- */

struct done_record {
    struct sink_result result;
    uintptr_t tag;
    bool on_test_thread;
};

static struct {
    struct hookrecv *rx;
    struct sink *sink;
    char url[128];
    pthread_t test_thread;

    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct done_record done[DONE_MAX];
    unsigned done_count;
} fx;

/* A batch with its own storage, as the runtime would hand it over. */
struct tbatch {
    char text[EVENTS_MAX][160];
    struct sink_event events[EVENTS_MAX];
    char key[80];
    struct sink_batch batch;
};

static void record_done_cb(void *ctx, const struct sink_result *result)
{
    pthread_mutex_lock(&fx.lock);
    if (fx.done_count == DONE_MAX) {
        abort(); /* a test sends more than it can check */
    }
    fx.done[fx.done_count] = (struct done_record){
        .result = *result,
        .tag = (uintptr_t)ctx,
        .on_test_thread = pthread_equal(pthread_self(), fx.test_thread),
    };
    fx.done_count++;
    pthread_cond_broadcast(&fx.changed);
    pthread_mutex_unlock(&fx.lock);
}

static struct timespec deadline_in(int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits until n dones have run in all; false on timeout. */
static bool await_done(unsigned n)
{
    struct timespec deadline = deadline_in(AWAIT_MS);
    bool reached;

    pthread_mutex_lock(&fx.lock);
    while (fx.done_count < n) {
        if (pthread_cond_timedwait(&fx.changed, &fx.lock, &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
    reached = fx.done_count >= n;
    pthread_mutex_unlock(&fx.lock);
    return reached;
}

static unsigned done_count(void)
{
    pthread_mutex_lock(&fx.lock);
    unsigned n = fx.done_count;
    pthread_mutex_unlock(&fx.lock);
    return n;
}

static void setup(void)
{
    obs_log_set_level(OBS_ERROR);
    memset(&fx, 0, sizeof(fx));
    pthread_mutex_init(&fx.lock, NULL);
    pthread_cond_init(&fx.changed, NULL);
    fx.test_thread = pthread_self();
    fx.rx = hookrecv_start();
    hookrecv_url(fx.rx, "/hook", fx.url, sizeof(fx.url));
}

static void teardown(void)
{
    sink_destroy(fx.sink);
    fx.sink = NULL;
    hookrecv_stop(fx.rx);
    pthread_cond_destroy(&fx.changed);
    pthread_mutex_destroy(&fx.lock);
}

static struct sink_http_options default_options(void)
{
    struct sink_http_options o;

    sink_http_options_init(&o);
    o.url = fx.url;
    return o;
}

static void start_sink(const struct sink_http_options *o)
{
    int rc = sink_http_new(o, "hooks", &fx.sink);

    cr_assert_eq(rc, 0, "sink_http_new: %s", tw_err_message());
    cr_assert_not_null(fx.sink);
    cr_assert_str_eq(fx.sink->ops->type, "http");
    cr_assert_str_eq(fx.sink->name, "hooks");
}

static void tbatch_init(struct tbatch *b, const char *key, size_t count)
{
    cr_assert_leq(count, EVENTS_MAX);
    memset(b, 0, sizeof(*b));
    snprintf(b->key, sizeof(b->key), "%s", key);
    for (size_t i = 0; i < count; i++) {
        int n = snprintf(b->text[i], sizeof(b->text[i]),
                         "{\"messageId\":\"%s-%zu\",\"type\":\"track\","
                         "\"event\":\"Signed Up\",\"n\":%zu}",
                         key, i, i);

        b->events[i] = (struct sink_event){
            .data = b->text[i],
            .data_len = (size_t)n,
            .message_id = b->text[i] + 14,
            .id_len = strlen(key) + 2,
            .partition = 0,
            .offset = i,
            .timestamp_ms = 1764842400000 + (int64_t)i,
        };
    }
    b->batch = (struct sink_batch){.events = b->events,
                                   .count = count,
                                   .idempotency_key = b->key,
                                   .attempt = 1};
}

/* The body the JSON batch format must produce; the caller frees it. */
static char *expected_json(const struct tbatch *b)
{
    struct tw_buf out;

    tw_buf_init(&out, 1u << 20);
    tw_buf_puts(&out, "{\"batch\":[");
    for (size_t i = 0; i < b->batch.count; i++) {
        if (i > 0) {
            tw_buf_putc(&out, ',');
        }
        tw_buf_append(&out, b->events[i].data, b->events[i].data_len);
    }
    tw_buf_puts(&out, "]}");
    cr_assert_eq(tw_buf_status(&out), 0);
    return out.data;
}

static void send_tagged(struct tbatch *b, uintptr_t tag)
{
    int rc = sink_send(fx.sink, &b->batch, record_done_cb, (void *)tag);

    cr_assert_eq(rc, 0, "send: %s", tw_err_message());
}

/* Sends one batch and waits for its done; returns its result. */
static struct sink_result deliver(struct tbatch *b)
{
    unsigned before = done_count();

    send_tagged(b, before);
    cr_assert(await_done(before + 1), "done did not run within %d ms",
              AWAIT_MS);
    return fx.done[before].result;
}

static void push_reply(int status, const char *headers, const char *body)
{
    const struct hookrecv_reply r = {
        .status = status, .headers = headers, .body = body};

    hookrecv_push(fx.rx, &r);
}

static void push_action(enum hookrecv_action action)
{
    const struct hookrecv_reply r = {.action = action};

    hookrecv_push(fx.rx, &r);
}

static struct sink_http_stats http_stats(void)
{
    struct sink_http_stats st;

    sink_http_stats(fx.sink, &st);
    return st;
}

/* -------------------------------------------------------- the request -- */

TestSuite(sink_http, .init = setup, .fini = teardown);

Test(sink_http, a_batch_is_posted_as_one_json_object_holding_its_events)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;
    const struct hookrecv_request *req;
    char *want;

    start_sink(&o);
    tbatch_init(&b, "batch-1", 3);
    r = deliver(&b);

    cr_expect_eq(r.outcome, SINK_OK);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.retry_after_ms, -1);
    cr_expect_str_empty(r.detail);
    req = hookrecv_request(fx.rx, 0);
    cr_expect_str_eq(req->method, "POST");
    cr_expect_str_eq(req->target, "/hook");
    cr_expect_str_eq(hookrecv_header(req, "Content-Type"), "application/json");
    want = expected_json(&b);
    cr_expect_str_eq(req->body, want);
    cr_expect_not_null(strstr(req->body, "\"messageId\":\"batch-1-2\""));
    free(want);
}

Test(sink_http, ndjson_puts_each_event_on_a_line_of_its_own)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    const struct hookrecv_request *req;
    char want[1024] = "";

    o.format = SINK_HTTP_NDJSON;
    start_sink(&o);
    tbatch_init(&b, "lines", 3);
    cr_assert_eq(deliver(&b).outcome, SINK_OK);

    for (size_t i = 0; i < 3; i++) {
        strncat(want, b.text[i], sizeof(want) - strlen(want) - 2);
        strcat(want, "\n");
    }
    req = hookrecv_request(fx.rx, 0);
    cr_expect_str_eq(hookrecv_header(req, "Content-Type"),
                     "application/x-ndjson");
    cr_expect_str_eq(req->body, want);
}

Test(sink_http, every_request_carries_the_key_the_agent_and_configured_headers)
{
    const struct sink_http_header headers[] = {
        {"Authorization", "Bearer t0ken"},
        {"X-Tenant", "acme"},
        {"X-Empty", ""},
    };
    struct sink_http_options o = default_options();
    struct tbatch b;
    const struct hookrecv_request *req;
    char length[32];

    o.headers = headers;
    o.header_count = 3;
    start_sink(&o);
    tbatch_init(&b, "3f2a-key", 1);
    cr_assert_eq(deliver(&b).outcome, SINK_OK);

    req = hookrecv_request(fx.rx, 0);
    cr_expect_str_eq(hookrecv_header(req, "Idempotency-Key"), "3f2a-key");
    cr_expect_str_eq(hookrecv_header(req, "User-Agent"), "trackway-http-sink");
    cr_expect_str_eq(hookrecv_header(req, "Authorization"), "Bearer t0ken");
    cr_expect_str_eq(hookrecv_header(req, "X-Tenant"), "acme");
    cr_expect_str_eq(hookrecv_header(req, "X-Empty"), "");
    cr_expect_null(hookrecv_header(req, "Expect"),
                   "a body waited for 100 Continue");
    cr_expect_null(hookrecv_header(req, "Content-Encoding"));
    snprintf(length, sizeof(length), "%zu", req->body_len);
    cr_expect_str_eq(hookrecv_header(req, "Content-Length"), length);
}

Test(sink_http, a_configured_user_agent_replaces_the_sinks_own)
{
    struct sink_http_options o = default_options();
    struct tbatch b;

    o.user_agent = "hooks-test/2";
    start_sink(&o);
    tbatch_init(&b, "ua", 1);
    cr_assert_eq(deliver(&b).outcome, SINK_OK);
    cr_expect_str_eq(hookrecv_header(hookrecv_request(fx.rx, 0), "User-Agent"),
                     "hooks-test/2");
}

Test(sink_http, a_retried_batch_carries_the_same_idempotency_key_and_body)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct tbatch other;
    const struct hookrecv_request *first;
    const struct hookrecv_request *again;

    start_sink(&o);
    push_reply(503, NULL, "busy");
    tbatch_init(&b, "order-7", 2);
    cr_assert_eq(deliver(&b).outcome, SINK_RETRY);
    b.batch.attempt = 2;
    cr_assert_eq(deliver(&b).outcome, SINK_OK);
    tbatch_init(&other, "order-8", 2);
    cr_assert_eq(deliver(&other).outcome, SINK_OK);

    first = hookrecv_request(fx.rx, 0);
    again = hookrecv_request(fx.rx, 1);
    cr_expect_str_eq(hookrecv_header(first, "Idempotency-Key"), "order-7");
    cr_expect_str_eq(hookrecv_header(again, "Idempotency-Key"), "order-7");
    cr_expect_str_eq(first->body, again->body);
    cr_expect_str_eq(
        hookrecv_header(hookrecv_request(fx.rx, 2), "Idempotency-Key"),
        "order-8");
}

Test(sink_http, a_gzip_body_inflates_to_exactly_the_batch)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    const struct hookrecv_request *req;
    struct tw_buf inflated;
    char *want;

    o.gzip = true;
    start_sink(&o);
    tbatch_init(&b, "zipped", 8);
    cr_assert_eq(deliver(&b).outcome, SINK_OK);

    req = hookrecv_request(fx.rx, 0);
    cr_expect_str_eq(hookrecv_header(req, "Content-Encoding"), "gzip");
    cr_expect_str_eq(hookrecv_header(req, "Content-Type"), "application/json");
    tw_buf_init(&inflated, 1u << 20);
    cr_assert_eq(decode_gzip(req->body, req->body_len, &inflated), 0, "%s",
                 tw_err_message());
    want = expected_json(&b);
    cr_expect_str_eq(inflated.data, want);
    cr_expect_lt(req->body_len, strlen(want), "gzip did not shrink the body");
    cr_expect_eq(http_stats().sink.bytes_out, req->body_len,
                 "bytes_out counts what went on the wire");
    free(want);
    tw_buf_free(&inflated);
}

/* --------------------------------------------------------- the answer -- */

Test(sink_http, every_2xx_answer_is_ok_and_counts_the_events)
{
    const int statuses[] = {200, 201, 202, 204, 299};
    struct sink_http_options o = default_options();
    struct tbatch b;

    start_sink(&o);
    tbatch_init(&b, "fine", 2);
    for (size_t i = 0; i < 5; i++) {
        struct sink_result r;

        push_reply(statuses[i], NULL, statuses[i] == 204 ? NULL : "ok");
        r = deliver(&b);
        cr_expect_eq(r.outcome, SINK_OK, "status %d", statuses[i]);
        cr_expect_eq(r.status, statuses[i]);
    }
    cr_expect_eq(http_stats().sink.events_ok, 10);
    cr_expect_eq(http_stats().responses[2], 5);
}

Test(sink_http, the_default_retryable_statuses_retry_and_other_errors_reject)
{
    const int retry[] = {408, 425, 429, 500, 502, 503, 504};
    const int reject[] = {400, 401, 403, 404, 409, 413, 422, 501, 505, 507};
    struct sink_http_options o = default_options();
    struct sink_http_stats st;
    struct tbatch b;

    start_sink(&o);
    tbatch_init(&b, "classes", 1);
    for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++) {
        struct sink_result r;

        push_reply(retry[i], NULL, "later");
        r = deliver(&b);
        cr_expect_eq(r.outcome, SINK_RETRY, "status %d", retry[i]);
        cr_expect_eq(r.status, retry[i]);
    }
    for (size_t i = 0; i < sizeof(reject) / sizeof(reject[0]); i++) {
        struct sink_result r;

        push_reply(reject[i], NULL, "no");
        r = deliver(&b);
        cr_expect_eq(r.outcome, SINK_REJECTED, "status %d", reject[i]);
        cr_expect_eq(r.status, reject[i]);
    }
    st = http_stats();
    cr_expect_eq(st.sink.batches_retry, 7);
    cr_expect_eq(st.sink.batches_rejected, 10);
    cr_expect_eq(st.responses[4], 10);
    cr_expect_eq(st.responses[5], 7);
    cr_expect_eq(st.network_errors, 0);
}

Test(sink_http, a_configured_retryable_set_replaces_the_default)
{
    const uint32_t retryable[] = {409, 507};
    struct sink_http_options o = default_options();
    struct tbatch b;

    o.retryable = retryable;
    o.retryable_count = 2;
    start_sink(&o);
    tbatch_init(&b, "custom", 1);
    push_reply(409, NULL, NULL);
    cr_expect_eq(deliver(&b).outcome, SINK_RETRY);
    push_reply(507, NULL, NULL);
    cr_expect_eq(deliver(&b).outcome, SINK_RETRY);
    push_reply(503, NULL, NULL);
    cr_expect_eq(deliver(&b).outcome, SINK_REJECTED);
    push_reply(429, NULL, NULL);
    cr_expect_eq(deliver(&b).outcome, SINK_REJECTED);
}

Test(sink_http, with_no_retryable_status_only_network_errors_are_retried)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;

    static const uint32_t none[1];

    o.retryable = none;
    o.retryable_count = 0;
    start_sink(&o);
    tbatch_init(&b, "strict", 1);
    /* Closed after answering, so the next request has a new connection
     * (a reused one that dies is resent by libcurl; see below). */
    push_reply(503, "Connection: close\r\n", NULL);
    cr_expect_eq(deliver(&b).outcome, SINK_REJECTED);
    push_action(HOOKRECV_CLOSE);
    r = deliver(&b);
    cr_expect_eq(r.outcome, SINK_RETRY);
    cr_expect_eq(r.status, 0);
}

Test(sink_http, a_redirect_is_not_followed_and_rejects_naming_its_location)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;
    char location[160];
    char where[128];

    start_sink(&o);
    hookrecv_url(fx.rx, "/elsewhere", where, sizeof(where));
    snprintf(location, sizeof(location), "Location: %s\r\n", where);
    push_reply(301, location, "moved");
    tbatch_init(&b, "moved", 1);
    r = deliver(&b);

    cr_expect_eq(r.outcome, SINK_REJECTED);
    cr_expect_eq(r.status, 301);
    cr_expect_not_null(strstr(r.detail, "not followed"), "%s", r.detail);
    cr_expect_not_null(strstr(r.detail, where), "%s", r.detail);
    cr_expect_not_null(strstr(r.detail, ": moved"), "%s", r.detail);
    cr_expect_eq(http_stats().responses[3], 1);
    struct hookrecv_counts counts;
    hookrecv_counts(fx.rx, &counts);
    cr_expect_eq(counts.requests, 1, "the redirect was followed");
}

Test(sink_http, retry_after_in_seconds_becomes_retry_after_ms)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;

    start_sink(&o);
    push_reply(429, "Retry-After: 7\r\n", "slow down");
    tbatch_init(&b, "limited", 1);
    r = deliver(&b);

    cr_expect_eq(r.outcome, SINK_RETRY);
    cr_expect_eq(r.status, 429);
    cr_expect_eq(r.retry_after_ms, 7000);
    cr_expect_str_eq(r.detail, "HTTP 429: slow down");
}

Test(sink_http, retry_after_as_an_http_date_becomes_the_delay_until_then)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;
    char header[96];
    time_t when = time(NULL) + 120;
    struct tm tm;

    gmtime_r(&when, &tm);
    strftime(header, sizeof(header),
             "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    start_sink(&o);
    push_reply(503, header, NULL);
    tbatch_init(&b, "dated", 1);
    r = deliver(&b);

    cr_expect_eq(r.outcome, SINK_RETRY);
    /* The date has whole seconds, so up to one is lost, plus the trip. */
    cr_expect_geq(r.retry_after_ms, 118000, "%lld",
                  (long long)r.retry_after_ms);
    cr_expect_leq(r.retry_after_ms, 120000, "%lld",
                  (long long)r.retry_after_ms);
}

Test(sink_http, a_missing_or_broken_retry_after_and_a_rejection_give_no_hint)
{
    struct sink_http_options o = default_options();
    struct tbatch b;

    start_sink(&o);
    tbatch_init(&b, "hintless", 1);
    push_reply(503, NULL, NULL);
    cr_expect_eq(deliver(&b).retry_after_ms, -1);
    push_reply(503, "Retry-After: soon\r\n", NULL);
    cr_expect_eq(deliver(&b).retry_after_ms, -1);
    push_reply(400, "Retry-After: 5\r\n", NULL);
    cr_expect_eq(deliver(&b).retry_after_ms, -1);
    push_reply(200, "Retry-After: 5\r\n", NULL);
    cr_expect_eq(deliver(&b).retry_after_ms, -1);
}

Test(sink_http, a_rejection_keeps_the_start_of_the_answer_in_detail)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;

    start_sink(&o);
    push_reply(422, NULL, "{\"error\":\"property \\\"plan\\\" is required\"}");
    tbatch_init(&b, "invalid", 1);
    r = deliver(&b);

    cr_expect_eq(r.outcome, SINK_REJECTED);
    cr_expect_eq(r.status, 422);
    cr_expect_str_eq(r.detail,
                     "HTTP 422: {\"error\":\"property \\\"plan\\\" is "
                     "required\"}");
}

Test(sink_http, a_long_or_unprintable_answer_is_cut_to_a_printable_excerpt)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;
    char body[4001];
    size_t len;

    for (size_t i = 0; i < 4000; i++) {
        body[i] = (char)(i % 50 == 49 ? '\n' : 'a' + (int)(i % 26));
    }
    body[4000] = '\0';
    start_sink(&o);
    push_reply(400, NULL, body);
    tbatch_init(&b, "verbose", 1);
    r = deliver(&b);

    len = strlen(r.detail);
    cr_expect_eq(r.outcome, SINK_REJECTED);
    cr_expect_lt(len, sizeof(r.detail));
    cr_expect_gt(len, 400, "the excerpt is needlessly short: %zu", len);
    cr_expect_eq(strncmp(r.detail, "HTTP 400: abcdef", 16), 0, "%s", r.detail);
    cr_expect_str_eq(r.detail + len - 3, "...");
    cr_expect_null(strchr(r.detail, '\n'));
    cr_expect_eq(http_stats().answer_bytes, 4000);
}

/* ------------------------------------------------ no answer at all -- */

Test(sink_http, an_answer_later_than_timeout_ms_is_a_retry_saying_it_timed_out)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;
    struct sink_http_stats st;
    const struct hookrecv_reply hold = {.action = HOOKRECV_HOLD};

    hookrecv_set_default(fx.rx, &hold);
    o.timeout_ms = 300;
    start_sink(&o);
    tbatch_init(&b, "stalled", 1);
    r = deliver(&b);

    cr_expect_eq(r.outcome, SINK_RETRY);
    cr_expect_eq(r.status, 0);
    cr_expect_eq(r.retry_after_ms, -1);
    cr_expect_not_null(strstr(r.detail, "timed out"), "%s", r.detail);
    st = http_stats();
    cr_expect_eq(st.timeouts, 1);
    cr_expect_eq(st.network_errors, 1);
    cr_expect_eq(st.sink.batches_retry, 1);
}

Test(sink_http, a_refused_connection_is_a_retry_saying_so)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof(addr);
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;
    char url[128];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    /* Bound but not listening: connecting to it is refused, and no other
     * program can take the port while the test runs. */
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook",
             ntohs(addr.sin_port));
    o.url = url;
    start_sink(&o);
    tbatch_init(&b, "refused", 1);
    r = deliver(&b);
    close(fd);

    cr_expect_eq(r.outcome, SINK_RETRY);
    cr_expect_eq(r.status, 0);
    cr_expect_not_null(strstr(r.detail, "Failed to connect to 127.0.0.1"), "%s",
                       r.detail);
    cr_expect_eq(http_stats().network_errors, 1);
    cr_expect_eq(http_stats().timeouts, 0);
}

Test(sink_http, a_connection_closed_without_an_answer_is_a_retry)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;

    start_sink(&o);
    push_action(HOOKRECV_CLOSE);
    tbatch_init(&b, "dropped", 1);
    r = deliver(&b);

    cr_expect_eq(r.outcome, SINK_RETRY);
    cr_expect_eq(r.status, 0);
    cr_expect_neq(r.detail[0], '\0');
    cr_expect_eq(http_stats().network_errors, 1);
    cr_expect_eq(deliver(&b).outcome, SINK_OK, "the next attempt failed");
}

Test(sink_http, a_reused_connection_closed_before_any_answer_is_resent_once)
{
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct hookrecv_counts counts;

    start_sink(&o);
    tbatch_init(&b, "first", 1);
    cr_assert_eq(deliver(&b).outcome, SINK_OK);

    /* libcurl cannot tell this from a keep-alive connection the server
     * closed while the request was on its way, and sends it again on a
     * new connection: the destination sees the batch twice, same key. */
    push_action(HOOKRECV_CLOSE);
    tbatch_init(&b, "resent", 1);
    cr_expect_eq(deliver(&b).outcome, SINK_OK);
    hookrecv_counts(fx.rx, &counts);
    cr_expect_eq(counts.requests, 3);
    cr_expect_eq(counts.connections, 2);
    cr_expect_str_eq(
        hookrecv_header(hookrecv_request(fx.rx, 1), "Idempotency-Key"),
        "resent");
    cr_expect_str_eq(
        hookrecv_header(hookrecv_request(fx.rx, 2), "Idempotency-Key"),
        "resent");
}

Test(sink_http, a_destination_that_never_accepts_times_out_on_connect)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof(addr);
    struct sink_http_options o = default_options();
    struct tbatch b;
    struct sink_result r;
    char url[128];
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int filler = socket(AF_INET, SOCK_STREAM, 0);

    /* A backlog of 0 holds one connection nobody accepts; with that one
     * made, the kernel drops the next handshake, as a dead host would. */
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
    cr_assert_eq(listen(listener, 0), 0);
    cr_assert_eq(getsockname(listener, (struct sockaddr *)&addr, &len), 0);
    cr_assert_eq(connect(filler, (struct sockaddr *)&addr, sizeof(addr)), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook",
             ntohs(addr.sin_port));
    o.url = url;
    o.connect_timeout_ms = 200;
    start_sink(&o);
    tbatch_init(&b, "unreachable", 1);
    r = deliver(&b);
    close(filler);
    close(listener);

    cr_expect_eq(r.outcome, SINK_RETRY);
    cr_expect_eq(r.status, 0);
    cr_expect_not_null(strstr(r.detail, "timed out"), "%s", r.detail);
    cr_expect_eq(http_stats().timeouts, 1);
}

/* ------------------------------------------- limits and connections -- */

Test(sink_http,
     no_more_than_max_in_flight_batches_are_out_and_then_send_is_full)
{
    struct sink_http_options o = default_options();
    const struct hookrecv_reply hold = {.action = HOOKRECV_HOLD};
    struct tbatch b[4];
    struct hookrecv_counts counts;
    int rc;

    hookrecv_set_default(fx.rx, &hold);
    o.max_in_flight = 3;
    start_sink(&o);
    for (unsigned i = 0; i < 4; i++) {
        char key[16];

        snprintf(key, sizeof(key), "w-%u", i);
        tbatch_init(&b[i], key, 1);
    }
    for (unsigned i = 0; i < 3; i++) {
        send_tagged(&b[i], i);
    }
    rc = sink_send(fx.sink, &b[3].batch, record_done_cb, (void *)3);
    cr_expect_eq(rc, TW_EFULL, "got %d", rc);
    cr_assert(hookrecv_await_held(fx.rx, 3, AWAIT_MS));
    hookrecv_counts(fx.rx, &counts);
    cr_expect_eq(counts.in_progress, 3);
    cr_expect_eq(http_stats().sink.in_flight, 3);
    cr_expect_eq(http_stats().sends_full, 1);
    cr_expect_eq(done_count(), 0, "done ran for a batch that was refused");

    cr_assert_eq(hookrecv_release(fx.rx, 1), 1);
    cr_assert(await_done(1));
    send_tagged(&b[3], 3);
    cr_assert(hookrecv_await_held(fx.rx, 3, AWAIT_MS));
    cr_assert_eq(hookrecv_release(fx.rx, 3), 3);
    cr_assert(await_done(4));
    hookrecv_counts(fx.rx, &counts);
    cr_expect_eq(counts.peak_in_progress, 3);
    cr_expect_eq(counts.requests, 4);
    cr_expect_eq(http_stats().sink.in_flight, 0);
}

/* Sends every batch, waiting for a done whenever the sink is full. */
static void send_all_through_window(struct tbatch *batches, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        for (;;) {
            unsigned seen = done_count();
            int rc = sink_send(fx.sink, &batches[i].batch, record_done_cb,
                               (void *)(uintptr_t)i);

            if (rc == 0) {
                break;
            }
            cr_assert_eq(rc, TW_EFULL, "send: %s", tw_err_message());
            cr_assert(await_done(seen + 1), "no batch completed");
        }
    }
}

Test(sink_http, many_batches_through_a_window_of_two_never_exceed_it)
{
    enum {
        N = 40
    };
    static struct tbatch batches[N];
    struct sink_http_options o = default_options();
    const struct hookrecv_reply slow = {.status = 200, .delay_ms = 3};
    struct hookrecv_counts counts;

    hookrecv_set_default(fx.rx, &slow);
    o.max_in_flight = 2;
    start_sink(&o);
    for (unsigned i = 0; i < N; i++) {
        char key[16];

        snprintf(key, sizeof(key), "win-%u", i);
        tbatch_init(&batches[i], key, 2);
    }
    send_all_through_window(batches, N);
    cr_assert(await_done(N));

    hookrecv_counts(fx.rx, &counts);
    cr_expect_eq(counts.requests, N);
    cr_expect_leq(counts.peak_in_progress, 2);
    cr_expect_geq(counts.peak_in_progress, 1);
    cr_expect_leq(counts.connections, 2, "connections: %u", counts.connections);
    for (unsigned i = 0; i < N; i++) {
        cr_expect_eq(fx.done[i].result.outcome, SINK_OK);
    }
    cr_expect_eq(http_stats().sink.events_ok, 2 * N);
}

Test(sink_http, sequential_batches_reuse_one_kept_alive_connection)
{
    struct sink_http_options o = default_options();
    struct hookrecv_counts counts;
    struct tbatch b;

    start_sink(&o);
    tbatch_init(&b, "again", 1);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(deliver(&b).outcome, SINK_OK);
    }
    hookrecv_counts(fx.rx, &counts);
    cr_expect_eq(counts.requests, 10);
    cr_expect_eq(counts.connections, 1);
    cr_expect_eq(hookrecv_request(fx.rx, 9)->connection, 1);
    cr_expect_eq(http_stats().connections_made, 1);
}

Test(sink_http, a_connection_the_destination_closed_is_replaced)
{
    struct sink_http_options o = default_options();
    struct hookrecv_counts counts;
    struct tbatch b;

    start_sink(&o);
    tbatch_init(&b, "reconnect", 1);
    push_reply(200, "Connection: close\r\n", NULL);
    cr_assert_eq(deliver(&b).outcome, SINK_OK);
    cr_assert_eq(deliver(&b).outcome, SINK_OK);
    hookrecv_counts(fx.rx, &counts);
    cr_expect_eq(counts.connections, 2);
    cr_expect_eq(http_stats().connections_made, 2);
}

/* --------------------------------------------------- threads, destroy -- */

Test(sink_http, destroying_with_batches_in_flight_ends_each_as_a_retry)
{
    struct sink_http_options o = default_options();
    const struct hookrecv_reply hold = {.action = HOOKRECV_HOLD};
    struct tbatch b[3];
    uint64_t started;

    hookrecv_set_default(fx.rx, &hold);
    start_sink(&o);
    for (unsigned i = 0; i < 3; i++) {
        char key[16];

        snprintf(key, sizeof(key), "late-%u", i);
        tbatch_init(&b[i], key, 1);
        send_tagged(&b[i], i);
    }
    cr_assert(hookrecv_await_held(fx.rx, 3, AWAIT_MS));

    started = tw_monotonic_ns();
    sink_destroy(fx.sink);
    fx.sink = NULL;

    cr_expect_lt(tw_monotonic_ns() - started, 2000000000ull,
                 "destroy waited for the answers");
    cr_assert_eq(done_count(), 3, "destroy returned before every done ran");
    for (unsigned i = 0; i < 3; i++) {
        cr_expect_eq(fx.done[i].result.outcome, SINK_RETRY);
        cr_expect_eq(fx.done[i].result.status, 0);
        cr_expect_not_null(strstr(fx.done[i].result.detail, "cancelled"));
        cr_expect_not(fx.done[i].on_test_thread);
    }
}

Test(sink_http, destroying_an_idle_sink_with_open_connections_is_clean)
{
    struct sink_http_options o = default_options();
    struct tbatch b;

    start_sink(&o);
    tbatch_init(&b, "idle", 1);
    cr_assert_eq(deliver(&b).outcome, SINK_OK);
    sink_destroy(fx.sink);
    fx.sink = NULL;
    cr_expect_eq(done_count(), 1);
}

/* A done that sends the next batch of a chain from inside itself. */
struct chain {
    struct tbatch batches[5];
    unsigned next;
    int send_rc;
};

static void chain_done_cb(void *ctx, const struct sink_result *result)
{
    struct chain *c = ctx;

    if (c->next < 5 && result->outcome == SINK_OK) {
        c->send_rc =
            sink_send(fx.sink, &c->batches[c->next++].batch, chain_done_cb, c);
    }
    record_done_cb((void *)(uintptr_t)c->next, result);
}

Test(sink_http, done_runs_on_the_worker_and_may_send_the_next_batch)
{
    static struct chain c;
    struct sink_http_options o = default_options();

    o.max_in_flight = 1;
    start_sink(&o);
    for (unsigned i = 0; i < 5; i++) {
        char key[16];

        snprintf(key, sizeof(key), "chain-%u", i);
        tbatch_init(&c.batches[i], key, 1);
    }
    c.next = 1;
    cr_assert_eq(sink_send(fx.sink, &c.batches[0].batch, chain_done_cb, &c), 0);
    cr_assert(await_done(5));

    cr_expect_eq(c.send_rc, 0, "a send from done found no free slot");
    for (unsigned i = 0; i < 5; i++) {
        cr_expect_eq(fx.done[i].result.outcome, SINK_OK);
        cr_expect_not(fx.done[i].on_test_thread);
        cr_expect_str_eq(
            hookrecv_header(hookrecv_request(fx.rx, i), "Idempotency-Key"),
            c.batches[i].key);
    }
}

struct sender {
    pthread_t thread;
    unsigned first;
    struct tbatch *batches;
    unsigned count;
    bool failed;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;

    for (unsigned i = 0; i < s->count; i++) {
        for (;;) {
            unsigned seen = done_count();
            int rc = sink_send(fx.sink, &s->batches[i].batch, record_done_cb,
                               (void *)(uintptr_t)(s->first + i));

            if (rc == 0) {
                break;
            }
            if (rc != TW_EFULL || !await_done(seen + 1)) {
                s->failed = true;
                return NULL;
            }
        }
    }
    return NULL;
}

Test(sink_http, batches_sent_from_many_threads_each_arrive_once)
{
    enum {
        THREADS = 4,
        EACH = 25,
        N = THREADS * EACH
    };
    static struct tbatch batches[N];
    struct sender senders[THREADS];
    struct sink_http_options o = default_options();
    bool seen[N] = {false};

    start_sink(&o);
    for (unsigned i = 0; i < N; i++) {
        char key[16];

        snprintf(key, sizeof(key), "t-%u", i);
        tbatch_init(&batches[i], key, 1);
    }
    for (unsigned t = 0; t < THREADS; t++) {
        senders[t] = (struct sender){
            .first = t * EACH, .batches = batches + t * EACH, .count = EACH};
        cr_assert_eq(
            pthread_create(&senders[t].thread, NULL, sender_main, &senders[t]),
            0);
    }
    for (unsigned t = 0; t < THREADS; t++) {
        pthread_join(senders[t].thread, NULL);
        cr_expect_not(senders[t].failed, "sender %u failed", t);
    }
    cr_assert(await_done(N));
    cr_assert(hookrecv_await_requests(fx.rx, N, AWAIT_MS));

    for (unsigned i = 0; i < N; i++) {
        const char *key =
            hookrecv_header(hookrecv_request(fx.rx, i), "Idempotency-Key");
        unsigned n;

        cr_assert_not_null(key);
        cr_assert_eq(sscanf(key, "t-%u", &n), 1, "key %s", key);
        cr_assert_lt(n, N);
        cr_expect_not(seen[n], "key %s arrived twice", key);
        seen[n] = true;
    }
    cr_expect_eq(http_stats().sink.batches_ok, N);
}

Test(sink_http, stats_count_batches_events_bytes_and_time)
{
    struct sink_http_options o = default_options();
    struct sink_http_stats st;
    struct tbatch b;
    size_t wire = 0;

    start_sink(&o);
    tbatch_init(&b, "counted", 3);
    cr_assert_eq(deliver(&b).outcome, SINK_OK);
    push_reply(503, NULL, NULL);
    cr_assert_eq(deliver(&b).outcome, SINK_RETRY);
    push_reply(400, NULL, "bad");
    cr_assert_eq(deliver(&b).outcome, SINK_REJECTED);
    for (unsigned i = 0; i < 3; i++) {
        wire += hookrecv_request(fx.rx, i)->body_len;
    }

    st = http_stats();
    cr_expect_eq(st.sink.batches_sent, 3);
    cr_expect_eq(st.sink.batches_ok, 1);
    cr_expect_eq(st.sink.batches_retry, 1);
    cr_expect_eq(st.sink.batches_rejected, 1);
    cr_expect_eq(st.sink.events_ok, 3);
    cr_expect_eq(st.sink.bytes_out, wire);
    cr_expect_eq(st.sink.in_flight, 0);
    cr_expect_gt(st.sink.send_ns_total, 0);
    cr_expect_eq(st.responses[2], 1);
    cr_expect_eq(st.responses[4], 1);
    cr_expect_eq(st.responses[5], 1);
    cr_expect_eq(st.answer_bytes, 2 + 3, "{} and bad");

    struct sink_stats plain;
    sink_stats(fx.sink, &plain);
    cr_expect_eq(plain.batches_sent, 3);
    cr_expect_eq(plain.events_ok, 3);
}

/* ---------------------------------------------------------------- logs -- */

/* Runs after the suite's own setup. */
static void setup_logged(void)
{
    cr_redirect_stderr();
    obs_log_set_level(OBS_WARN);
}

/* Everything the sink logged so far. The caller frees it. */
static char *logged(void)
{
    FILE *f;
    char *text = calloc(1, 65536);
    size_t n;

    fflush(stderr);
    f = cr_get_redirected_stderr();
    cr_assert_not_null(text);
    cr_assert_not_null(f);
    n = fread(text, 1, 65535, f);
    text[n] = '\0';
    return text;
}

static unsigned count_of(const char *text, const char *word)
{
    unsigned n = 0;

    for (const char *p = strstr(text, word); p != NULL;
         p = strstr(p + 1, word)) {
        n++;
    }
    return n;
}

Test(sink_http, rejections_are_logged_once_per_interval_without_credentials,
     .init = setup_logged)
{
    struct sink_http_options o = default_options();
    const struct hookrecv_reply refuse = {.status = 401, .body = "bad token"};
    struct tbatch b;
    char url[160];
    char want[96];
    char *text;

    snprintf(url, sizeof(url),
             "http://user:s3cret@127.0.0.1:%u/hook?token=t0psecret",
             hookrecv_port(fx.rx));
    o.url = url;
    hookrecv_set_default(fx.rx, &refuse);
    start_sink(&o);
    tbatch_init(&b, "logged", 1);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(deliver(&b).outcome, SINK_REJECTED);
    }

    /* Credentials in the URL still reach the destination, as Basic auth. */
    cr_expect_str_eq(
        hookrecv_header(hookrecv_request(fx.rx, 0), "Authorization"),
        "Basic dXNlcjpzM2NyZXQ=");
    text = logged();
    snprintf(want, sizeof(want), "url=http://127.0.0.1:%u/hook ",
             hookrecv_port(fx.rx));
    cr_expect_eq(count_of(text, "rejected a batch"), 1, "%s", text);
    cr_expect_not_null(strstr(text, want), "%s", text);
    cr_expect_not_null(strstr(text, "status=401"), "%s", text);
    cr_expect_not_null(strstr(text, "detail=\"HTTP 401: bad token\""), "%s",
                       text);
    cr_expect_null(strstr(text, "s3cret"), "%s", text);
    cr_expect_null(strstr(text, "t0psecret"), "%s", text);
    free(text);
}

/* ------------------------------------------------------------ refusals -- */

static void expect_refused(const struct sink_http_options *o, const char *word)
{
    struct sink *sink = (struct sink *)1;
    int rc = sink_http_new(o, "bad", &sink);

    cr_expect_eq(rc, TW_EINVAL, "got %d for %s", rc, word);
    cr_expect_null(sink);
    cr_expect_not_null(strstr(tw_err_message(), word), "message: %s",
                       tw_err_message());
    sink_destroy(sink);
}

Test(sink_http, options_that_cannot_work_are_refused_with_the_reason)
{
    const uint32_t success[] = {503, 200};
    const struct sink_http_header crlf[] = {{"X-Bad", "a\r\nX-Evil: 1"}};
    const struct sink_http_header spaced[] = {{"Bad Name", "v"}};
    const struct sink_http_header reserved[] = {{"content-type", "text/csv"}};
    struct sink_http_options o;

    o = default_options();
    o.url = NULL;
    expect_refused(&o, "url");
    o.url = "ftp://127.0.0.1/hook";
    expect_refused(&o, "http or https");
    o.url = "127.0.0.1:9000/hook";
    expect_refused(&o, "url");

    o = default_options();
    o.headers = crlf;
    o.header_count = 1;
    expect_refused(&o, "control character");
    o.headers = spaced;
    expect_refused(&o, "name");
    o.headers = reserved;
    expect_refused(&o, "set by the sink");

    o = default_options();
    o.retryable = success;
    o.retryable_count = 2;
    expect_refused(&o, "200");

    o = default_options();
    o.max_in_flight = 0;
    expect_refused(&o, "max_in_flight");
    o.max_in_flight = SINK_HTTP_MAX_IN_FLIGHT + 1;
    expect_refused(&o, "max_in_flight");

    o = default_options();
    o.timeout_ms = 0;
    expect_refused(&o, "timeout_ms");
    o = default_options();
    o.max_body_bytes = 0;
    expect_refused(&o, "max_body_bytes");

    struct sink *sink = NULL;
    o = default_options();
    cr_expect_eq(sink_http_new(&o, NULL, &sink), TW_EINVAL);
    cr_expect_null(sink);
}

Test(sink_http, a_batch_send_cannot_take_is_refused_and_done_never_runs)
{
    struct sink_http_options o = default_options();
    struct sink_http_stats st;
    struct tbatch b;
    int rc;

    start_sink(&o);
    tbatch_init(&b, "fine", 1);
    b.batch.idempotency_key = "two\r\nX-Evil: 1";
    rc = sink_send(fx.sink, &b.batch, record_done_cb, NULL);
    cr_expect_eq(rc, TW_EINVAL);
    cr_expect_not_null(strstr(tw_err_message(), "idempotency key"), "%s",
                       tw_err_message());
    b.batch.idempotency_key = "with space";
    cr_expect_eq(sink_send(fx.sink, &b.batch, record_done_cb, NULL), TW_EINVAL);
    b.batch.idempotency_key = NULL;
    cr_expect_eq(sink_send(fx.sink, &b.batch, record_done_cb, NULL), TW_EINVAL);
    b.batch.idempotency_key = b.key;
    b.batch.count = 0;
    cr_expect_eq(sink_send(fx.sink, &b.batch, record_done_cb, NULL), TW_EINVAL);
    b.batch.count = 1;
    cr_expect_eq(sink_send(fx.sink, &b.batch, NULL, NULL), TW_EINVAL);

    cr_assert_eq(deliver(&b).outcome, SINK_OK);
    st = http_stats();
    cr_expect_eq(st.sends_refused, 5);
    cr_expect_eq(st.sink.batches_sent, 1);
    cr_expect_eq(st.sink.in_flight, 0);
    cr_expect_eq(done_count(), 1);
    struct hookrecv_counts counts;
    hookrecv_counts(fx.rx, &counts);
    cr_expect_eq(counts.requests, 1);
}

Test(sink_http, a_batch_over_max_body_bytes_is_rejected_without_a_request)
{
    struct sink_http_options o = default_options();
    struct hookrecv_counts counts;
    struct sink_http_stats st;
    struct tbatch exact;
    struct tbatch over;
    struct sink_result r;
    char *body;
    char want[64];

    tbatch_init(&exact, "exact", 3);
    body = expected_json(&exact);
    o.max_body_bytes = strlen(body);
    free(body);
    start_sink(&o);

    cr_expect_eq(deliver(&exact).outcome, SINK_OK,
                 "a body of exactly the limit was refused");
    /* The same batch with one byte more: a blank after the last event. */
    tbatch_init(&over, "exact", 3);
    strcat(over.text[2], " ");
    over.events[2].data_len++;
    r = deliver(&over);
    cr_expect_eq(r.outcome, SINK_REJECTED);
    cr_expect_eq(r.status, 0);
    snprintf(want, sizeof(want), "max_body_bytes (%zu)", o.max_body_bytes);
    cr_expect_not_null(strstr(r.detail, want), "%s", r.detail);

    hookrecv_counts(fx.rx, &counts);
    cr_expect_eq(counts.requests, 1, "the large batch was sent");
    st = http_stats();
    cr_expect_eq(st.batches_too_large, 1);
    cr_expect_eq(st.sink.batches_rejected, 1);
    cr_expect_eq(st.sink.batches_sent, 2);
}

/* ------------------------------------------------- the answer helpers -- */

Test(sink_http_answer, statuses_map_to_outcomes_under_the_retryable_set)
{
    struct sink_http_statuses set = {{0}};

    cr_assert(sink_http_statuses_add(&set, 503));
    cr_assert(sink_http_statuses_add(&set, 599));
    cr_assert(sink_http_statuses_add(&set, 400));
    cr_expect_not(sink_http_statuses_add(&set, 399));
    cr_expect_not(sink_http_statuses_add(&set, 600));

    cr_expect_eq(sink_http_outcome(200, &set), SINK_OK);
    cr_expect_eq(sink_http_outcome(299, &set), SINK_OK);
    cr_expect_eq(sink_http_outcome(503, &set), SINK_RETRY);
    cr_expect_eq(sink_http_outcome(599, &set), SINK_RETRY);
    cr_expect_eq(sink_http_outcome(400, &set), SINK_RETRY);
    cr_expect_eq(sink_http_outcome(504, &set), SINK_REJECTED);
    cr_expect_eq(sink_http_outcome(199, &set), SINK_REJECTED);
    cr_expect_eq(sink_http_outcome(302, &set), SINK_REJECTED);
    cr_expect_eq(sink_http_outcome(0, &set), SINK_REJECTED);
    cr_expect_eq(sink_http_outcome(999, &set), SINK_REJECTED);
}

Test(sink_http_answer, retry_after_seconds_are_digits_only_and_capped)
{
    cr_expect_eq(sink_http_retry_after_ms("120", 0), 120000);
    cr_expect_eq(sink_http_retry_after_ms("  3\t", 0), 3000);
    cr_expect_eq(sink_http_retry_after_ms("0", 0), 0);
    cr_expect_eq(sink_http_retry_after_ms("007", 0), 7000);
    cr_expect_eq(sink_http_retry_after_ms("86401", 0),
                 SINK_HTTP_RETRY_AFTER_MAX_MS);
    cr_expect_eq(sink_http_retry_after_ms("99999999999999999999999", 0),
                 SINK_HTTP_RETRY_AFTER_MAX_MS);
    cr_expect_eq(sink_http_retry_after_ms("-1", 0), -1);
    cr_expect_eq(sink_http_retry_after_ms("1.5", 0), -1);
    cr_expect_eq(sink_http_retry_after_ms("12abc", 0), -1);
    cr_expect_eq(sink_http_retry_after_ms("", 0), -1);
    cr_expect_eq(sink_http_retry_after_ms("   ", 0), -1);
    cr_expect_eq(sink_http_retry_after_ms(NULL, 0), -1);
}

Test(sink_http_answer, retry_after_dates_are_read_in_all_three_forms)
{
    /* Wed, 21 Oct 2015 07:28:00 GMT is 1445412480 s; now is 30 s before. */
    const int64_t now = 1445412480000 - 30000;

    cr_expect_eq(sink_http_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now),
                 30000);
    cr_expect_eq(
        sink_http_retry_after_ms("Wednesday, 21-Oct-15 07:28:00 GMT", now),
        30000);
    cr_expect_eq(sink_http_retry_after_ms("Wed Oct 21 07:28:00 2015", now),
                 30000);
    cr_expect_eq(
        sink_http_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now + 90000),
        0, "a date in the past means now");
    cr_expect_eq(sink_http_retry_after_ms("Fri, 31 Dec 9999 23:59:59 GMT", now),
                 SINK_HTTP_RETRY_AFTER_MAX_MS);
    cr_expect_eq(sink_http_retry_after_ms("soon", now), -1);
    cr_expect_eq(sink_http_retry_after_ms("Friday", now), -1);
}

Test(sink_http_answer, an_excerpt_is_one_printable_line_of_valid_utf8)
{
    char out[64];
    bool cut = true;
    size_t n;

    n = sink_http_excerpt(out, sizeof(out), "a\r\nb\tc\x7f", 7, &cut);
    cr_expect_str_eq(out, "a  b c ");
    cr_expect_eq(n, 7);
    cr_expect_not(cut);

    n = sink_http_excerpt(out, sizeof(out), "caf\xc3\xa9 \xff\xc0\xaf x", 11,
                          &cut);
    cr_expect_str_eq(out, "caf\xc3\xa9 ??? x");
    cr_expect_not(cut);

    /* A surrogate encoded in UTF-8 is not UTF-8. */
    sink_http_excerpt(out, sizeof(out), "\xed\xa0\x80", 3, &cut);
    cr_expect_str_eq(out, "???");
}

Test(sink_http_answer, an_excerpt_never_splits_a_character_and_says_it_cut)
{
    char out[6];
    bool cut = false;
    size_t n;

    /* "abcd" + a two-byte é: 6 bytes and the NUL do not fit in 6. */
    n = sink_http_excerpt(out, sizeof(out), "abcd\xc3\xa9", 6, &cut);
    cr_expect_str_eq(out, "abcd");
    cr_expect_eq(n, 4);
    cr_expect(cut);

    n = sink_http_excerpt(out, sizeof(out), "abcde", 5, &cut);
    cr_expect_str_eq(out, "abcde");
    cr_expect_not(cut);

    /* The answer was kept only up to the middle of a character. */
    n = sink_http_excerpt(out, sizeof(out), "ab\xe2\x82", 4, &cut);
    cr_expect_str_eq(out, "ab");
    cr_expect(cut);

    n = sink_http_excerpt(out, 0, "ab", 2, &cut);
    cr_expect_eq(n, 0);
    cr_expect(cut);
}
