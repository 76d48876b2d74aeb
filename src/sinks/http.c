/*
 * http.c - the HTTP webhook sink: bodies and headers built in send(), one
 * libcurl multi handle driven by one worker thread, answers judged into
 * outcomes (http_answer.h).
 *
 *   send(), any thread                     worker thread
 *   ------------------                     -------------
 *   reserve a slot (in_flight, TW_EFULL)
 *   build body (+gzip), easy handle
 *   queue on pending ---- wakeup --------> move pending into the multi
 *                                          curl_multi_perform
 *                                          each finished transfer:
 *                                            judge the answer, count, log
 *                                            free it, release its slot
 *                                            done(ctx, result)
 *                                          curl_multi_poll (wakeup, curl's
 *                                            sockets and timers end it)
 *
 * The slot is taken before anything is allocated and given back before
 * done runs, so at most max_in_flight bodies exist at once and a done
 * that sends the next batch finds a free slot. Everything under the lock
 * is short: pushing or taking the pending queue and the slot count.
 * Only the worker touches the multi handle and transfers once queued;
 * curl_multi_wakeup is the one call made on the multi from other threads,
 * which libcurl allows.
 */
#include "sinks/http.h"

#include <assert.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "obs/logging.h"
#include "obs/ratelimit.h"
#include "sinks/http_answer.h"
#include "sinks/http_request.h"

#define SINK_HTTP_WARN_INTERVAL_MS 10000
/* The worker wakes at least this often when idle; curl's timers, its
 * sockets and curl_multi_wakeup wake it sooner. */
#define SINK_HTTP_POLL_MS 1000
#define SINK_HTTP_LOG_URL_MAX 256
#define SINK_HTTP_KEY_PREFIX "Idempotency-Key: "

static const char sink_http_cancelled[] =
    "cancelled: the sink was destroyed before the destination answered";

static const uint32_t sink_http_default_retryable[] = {408, 425, 429, 500,
                                                       502, 503, 504};

struct sink_http_counters {
    _Atomic uint64_t batches_sent;
    _Atomic uint64_t batches_ok;
    _Atomic uint64_t batches_retry;
    _Atomic uint64_t batches_rejected;
    _Atomic uint64_t events_ok;
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t send_ns_total;
    _Atomic uint64_t responses[6];
    _Atomic uint64_t network_errors;
    _Atomic uint64_t timeouts;
    _Atomic uint64_t connections_made;
    _Atomic uint64_t sends_full;
    _Atomic uint64_t sends_refused;
    _Atomic uint64_t batches_cancelled;
    _Atomic uint64_t batches_too_large;
    _Atomic uint64_t answer_bytes;
};

/* One batch's request, from send() until just before its done runs. */
struct sink_http_transfer {
    CURL *easy;
    /* The batch's own header, chained in front of the sink's shared list
     * (libcurl only reads the list), so no list is copied per batch. */
    struct curl_slist key_header;
    char key_line[sizeof(SINK_HTTP_KEY_PREFIX) + SINK_HTTP_MAX_KEY_BYTES];
    char *body; /* owned; what is sent, gzip'd when the sink gzips */
    size_t body_len;
    size_t events;
    unsigned attempt;
    char answer[SINK_HTTP_ANSWER_KEEP_BYTES]; /* the answer body's start */
    size_t answer_len;
    uint64_t answer_total;
    char error[CURL_ERROR_SIZE];
    sink_done_cb done;
    void *ctx;
    uint64_t started_ns;
    struct sink_http_transfer *prev; /* pending queue or active list */
    struct sink_http_transfer *next;
};

struct sink_http {
    struct sink base;
    char *name;
    char *url;
    char log_url[SINK_HTTP_LOG_URL_MAX]; /* no credentials, no query */
    char *user_agent;
    struct curl_slist *headers; /* shared by every request */
    bool gzip;
    enum sink_http_format format;
    long timeout_ms;
    long connect_timeout_ms;
    unsigned max_in_flight;
    size_t max_body_bytes;
    struct sink_http_statuses retryable;
    bool curl_initialised;

    CURLM *multi;
    pthread_t worker;

    pthread_mutex_t lock;
    struct sink_http_transfer *pending; /* lock: FIFO, oldest first */
    struct sink_http_transfer *pending_tail;
    unsigned in_flight; /* lock: accepted batches whose done has not run */
    bool stopping;      /* lock */

    struct sink_http_transfer *active; /* worker only: in the multi */

    struct sink_http_counters counters;
    struct obs_ratelimit warn_network;
    struct obs_ratelimit warn_retry;
    struct obs_ratelimit warn_rejected;
};

static const struct sink_ops sink_http_ops;

static void sink_http_count(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uint64_t sink_http_read(_Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

/* ------------------------------------------------------------ options -- */

void sink_http_options_init(struct sink_http_options *opts)
{
    *opts = (struct sink_http_options){
        .format = SINK_HTTP_JSON_BATCH,
        .timeout_ms = 30000,
        .connect_timeout_ms = 5000,
        .max_in_flight = 4,
        .max_body_bytes = 16u * 1024u * 1024u,
        .user_agent = "trackway-http-sink",
    };
}

/* ---------------------------------------------------------- transfers -- */

static size_t sink_http_answer_cb(char *data, size_t size, size_t n, void *arg)
{
    struct sink_http_transfer *t = arg;
    size_t len = size * n;
    size_t room = sizeof(t->answer) - t->answer_len;

    memcpy(t->answer + t->answer_len, data, len < room ? len : room);
    t->answer_len += len < room ? len : room;
    t->answer_total += len;
    return len;
}

static void sink_http_transfer_free(struct sink_http_transfer *t)
{
    if (t->easy != NULL) {
        curl_easy_cleanup(t->easy);
    }
    free(t->body);
    free(t);
}

static int sink_http_easy_setup(const struct sink_http *s,
                                struct sink_http_transfer *t)
{
    CURL *e = curl_easy_init();
    CURLcode rc;

    if (e == NULL) {
        return tw_err_set(TW_ENOMEM, "http sink %s: cannot make a request",
                          s->name);
    }
    t->easy = e;
    rc = curl_easy_setopt(e, CURLOPT_URL, s->url);
    if (rc == CURLE_OK) {
        rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    }
    /* Proxies from the environment (http_proxy, ...) are not used: a
     * destination is reached as configured, or not at all. */
    if (rc == CURLE_OK) {
        rc = curl_easy_setopt(e, CURLOPT_PROXY, "");
    }
    if (rc == CURLE_OK && s->user_agent != NULL) {
        rc = curl_easy_setopt(e, CURLOPT_USERAGENT, s->user_agent);
    }
    if (rc != CURLE_OK) {
        return tw_err_set(TW_ENOMEM, "http sink %s: %s", s->name,
                          curl_easy_strerror(rc));
    }
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, &t->key_header);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_http_answer_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    return 0;
}

/* Everything a batch needs to go out, built on the sender's thread. */
static int sink_http_transfer_new(const struct sink_http *s,
                                  const struct sink_batch *batch,
                                  struct sink_http_transfer **out)
{
    struct sink_http_transfer *t = calloc(1, sizeof(*t));
    size_t size = 0;
    int rc;

    if (t == NULL) {
        return tw_err_set(TW_ENOMEM, "http sink %s: out of memory", s->name);
    }
    snprintf(t->key_line, sizeof(t->key_line), "%s%s", SINK_HTTP_KEY_PREFIX,
             batch->idempotency_key);
    t->key_header.data = t->key_line;
    t->key_header.next = s->headers;
    t->events = batch->count;
    t->attempt = batch->attempt;

    /* No retry can make the batch smaller, and the runtime only learns
     * that from an outcome: the worker rejects it, without a request. */
    if (!sink_http_body_fits(s->format, s->max_body_bytes, batch, &size)) {
        snprintf(t->error, sizeof(t->error),
                 "the batch of %zu events is larger than the http sink's "
                 "max_body_bytes (%zu); raise it or send smaller batches",
                 batch->count, s->max_body_bytes);
        *out = t;
        return 0;
    }
    rc = sink_http_body_write(s->format, batch, size, s->name, &t->body);
    t->body_len = rc == 0 ? size : 0;
    if (rc == 0 && s->gzip) {
        rc = sink_http_gzip(&t->body, &t->body_len, s->name);
    }
    if (rc == 0) {
        rc = sink_http_easy_setup(s, t);
    }
    if (rc != 0) {
        sink_http_transfer_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* --------------------------------------------------------------- send -- */

/* Takes a slot: 0, TW_EFULL at max_in_flight, TW_ECLOSED once destroy
 * has begun. */
static int sink_http_reserve(struct sink_http *s)
{
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = s->stopping                        ? TW_ECLOSED
         : s->in_flight >= s->max_in_flight ? TW_EFULL
                                            : 0;
    s->in_flight += rc == 0 ? 1 : 0;
    pthread_mutex_unlock(&s->lock);
    if (rc == TW_EFULL) {
        sink_http_count(&s->counters.sends_full, 1);
        return tw_err_set(TW_EFULL, "http sink %s: %u batches in flight",
                          s->name, s->max_in_flight);
    }
    if (rc != 0) {
        sink_http_count(&s->counters.sends_refused, 1);
        return tw_err_set(rc, "http sink %s is shutting down", s->name);
    }
    return 0;
}

static void sink_http_release(struct sink_http *s)
{
    pthread_mutex_lock(&s->lock);
    s->in_flight--;
    pthread_mutex_unlock(&s->lock);
}

/* Hands t to the worker; TW_ECLOSED when destroy began while the body
 * was built (sink.h does not allow that, but a batch stranded in the
 * queue would be worse than a refusal). */
static int sink_http_enqueue(struct sink_http *s, struct sink_http_transfer *t)
{
    bool stopping;

    pthread_mutex_lock(&s->lock);
    stopping = s->stopping;
    if (!stopping) {
        if (s->pending_tail != NULL) {
            s->pending_tail->next = t;
        } else {
            s->pending = t;
        }
        s->pending_tail = t;
    }
    pthread_mutex_unlock(&s->lock);
    if (stopping) {
        return tw_err_set(TW_ECLOSED, "http sink %s is shutting down", s->name);
    }
    curl_multi_wakeup(s->multi);
    return 0;
}

static int sink_http_send(struct sink *base, const struct sink_batch *batch,
                          sink_done_cb done, void *ctx)
{
    struct sink_http *s = (struct sink_http *)base;
    struct sink_http_transfer *t = NULL;
    int rc;

    if (batch == NULL || done == NULL || batch->count == 0 ||
        batch->events == NULL || !sink_http_key_ok(batch->idempotency_key)) {
        sink_http_count(&s->counters.sends_refused, 1);
        return tw_err_set(TW_EINVAL,
                          "http sink %s: a batch needs events, a done "
                          "callback and an idempotency key of 1 to %d "
                          "visible ASCII characters",
                          s->name, SINK_HTTP_MAX_KEY_BYTES);
    }
    rc = sink_http_reserve(s);
    if (rc != 0) {
        return rc;
    }

    rc = sink_http_transfer_new(s, batch, &t);
    if (rc == 0) {
        t->done = done;
        t->ctx = ctx;
        t->started_ns = tw_monotonic_ns();
        rc = sink_http_enqueue(s, t);
        if (rc != 0) {
            sink_http_transfer_free(t);
        }
    }
    if (rc != 0) {
        sink_http_release(s);
        sink_http_count(&s->counters.sends_refused, 1);
        return rc;
    }
    sink_http_count(&s->counters.batches_sent, 1);
    return 0;
}

/* ------------------------------------------------------------ answers -- */

/* "HTTP 404 (redirect to ... not followed): <body>" into r->detail. */
static void sink_http_describe(const struct sink_http_transfer *t, int status,
                               const char *location, struct sink_result *r)
{
    size_t cap = sizeof(r->detail);
    int n = snprintf(r->detail, cap, "HTTP %d", status);
    size_t used = n > 0 && (size_t)n < cap ? (size_t)n : cap - 1;
    bool cut = false;

    if (location != NULL) {
        char where[200];

        sink_http_excerpt(where, sizeof(where), location, strlen(location),
                          NULL);
        n = snprintf(r->detail + used, cap - used,
                     " (redirect to %s not followed)", where);
        used += n > 0 && (size_t)n < cap - used ? (size_t)n : cap - 1 - used;
    }
    /* Room for ": ", at least a little of the body, and "...". */
    if (t->answer_total == 0 || used + 8 > cap) {
        return;
    }
    memcpy(r->detail + used, ": ", 3);
    used += 2;
    used += sink_http_excerpt(r->detail + used, cap - used - 3, t->answer,
                              t->answer_len, &cut);
    if (cut || t->answer_total > t->answer_len) {
        memcpy(r->detail + used, "...", 4);
    }
}

static void sink_http_judge_status(struct sink_http *s,
                                   struct sink_http_transfer *t,
                                   struct sink_result *r)
{
    struct curl_header *h = NULL;
    const char *location = NULL;
    long status = 0;

    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    r->status = (int)status;
    r->outcome = sink_http_outcome(r->status, &s->retryable);
    sink_http_count(
        &s->counters
             .responses[status >= 100 && status <= 599 ? status / 100 : 0],
        1);
    if (r->outcome == SINK_OK) {
        return;
    }
    if (r->outcome == SINK_RETRY &&
        curl_easy_header(t->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) ==
            CURLHE_OK) {
        r->retry_after_ms = sink_http_retry_after_ms(h->value, tw_now_ms());
    }
    if (status >= 300 && status <= 399 &&
        curl_easy_header(t->easy, "Location", 0, CURLH_HEADER, -1, &h) ==
            CURLHE_OK) {
        location = h->value;
    }
    sink_http_describe(t, r->status, location, r);
}

static void sink_http_judge_error(struct sink_http *s,
                                  struct sink_http_transfer *t, CURLcode rc,
                                  struct sink_result *r)
{
    r->outcome = SINK_RETRY;
    r->status = 0;
    /* libcurl's error buffer names the address and the reason ("Failed
     * to connect to 127.0.0.1 port 9000 after 0 ms: Couldn't connect to
     * server"); its code's text is the fallback. */
    snprintf(r->detail, sizeof(r->detail), "%s%s",
             rc == CURLE_OPERATION_TIMEDOUT ? "timed out: " : "",
             t->error[0] != '\0' ? t->error : curl_easy_strerror(rc));
    sink_http_count(&s->counters.network_errors, 1);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        sink_http_count(&s->counters.timeouts, 1);
    }
}

/* detail for a logfmt value: cut on a character, no double quotes. */
static void sink_http_log_text(char *out, size_t cap, const char *detail)
{
    size_t n = sink_http_excerpt(out, cap, detail, strlen(detail), NULL);

    for (size_t i = 0; i < n; i++) {
        out[i] = out[i] == '"' || out[i] == '\\' ? '\'' : out[i];
    }
}

/* One line per kind and interval, with how many were not written. */
static void sink_http_log(struct sink_http *s,
                          const struct sink_http_transfer *t,
                          const struct sink_result *r)
{
    struct obs_ratelimit *rl = &s->warn_rejected;
    const char *msg = "http destination rejected a batch";
    char detail[160];
    uint64_t suppressed;

    if (r->outcome == SINK_OK) {
        return;
    }
    if (r->outcome == SINK_RETRY && r->status == 0) {
        rl = &s->warn_network;
        msg = "http destination did not answer";
    } else if (r->outcome == SINK_RETRY) {
        rl = &s->warn_retry;
        msg = "http destination asked for a retry";
    } else if (r->status == 0) {
        msg = "batch too large for the http sink, rejected unsent";
    }
    if (!obs_ratelimit_allow(rl, SINK_HTTP_WARN_INTERVAL_MS, &suppressed)) {
        return;
    }
    sink_http_log_text(detail, sizeof(detail), r->detail);
    OBS_LOG(OBS_WARN, "sink", msg,
            "sink=%s url=%s status=%d events=%zu attempt=%u "
            "retry_after_ms=%" PRId64 " detail=\"%s\" suppressed=%" PRIu64,
            s->name, s->log_url, r->status, t->events, t->attempt,
            r->retry_after_ms, detail, suppressed);
}

static void sink_http_count_outcome(struct sink_http *s,
                                    const struct sink_http_transfer *t,
                                    const struct sink_result *r)
{
    curl_off_t uploaded = 0;
    long connects = 0;

    curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
    sink_http_count(&s->counters.bytes_out, (uint64_t)uploaded);
    sink_http_count(&s->counters.connections_made, (uint64_t)connects);
    sink_http_count(&s->counters.answer_bytes, t->answer_total);
    if (r->outcome == SINK_OK) {
        sink_http_count(&s->counters.batches_ok, 1);
        sink_http_count(&s->counters.events_ok, t->events);
    } else if (r->outcome == SINK_RETRY) {
        sink_http_count(&s->counters.batches_retry, 1);
    } else {
        sink_http_count(&s->counters.batches_rejected, 1);
    }
}

static void sink_http_unlink_active(struct sink_http *s,
                                    struct sink_http_transfer *t)
{
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        s->active = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
}

/* Frees the transfer, releases its slot, then tells the runtime. */
static void sink_http_complete(struct sink_http *s,
                               struct sink_http_transfer *t,
                               const struct sink_result *r)
{
    sink_done_cb done = t->done;
    void *ctx = t->ctx;

    sink_http_count(&s->counters.send_ns_total,
                    tw_monotonic_ns() - t->started_ns);
    sink_http_transfer_free(t);
    sink_http_release(s);
    done(ctx, r);
}

static void sink_http_finish(struct sink_http *s, struct sink_http_transfer *t,
                             CURLcode rc)
{
    struct sink_result r = {.retry_after_ms = -1};

    if (rc == CURLE_OK) {
        sink_http_judge_status(s, t, &r);
    } else {
        sink_http_judge_error(s, t, rc, &r);
    }
    sink_http_count_outcome(s, t, &r);
    sink_http_log(s, t, &r);
    curl_multi_remove_handle(s->multi, t->easy);
    sink_http_unlink_active(s, t);
    sink_http_complete(s, t, &r);
}

/* Ends a batch that never got an answer: a retry, with why. */
static void sink_http_end_unsent(struct sink_http *s,
                                 struct sink_http_transfer *t, const char *why)
{
    struct sink_result r = {.outcome = SINK_RETRY, .retry_after_ms = -1};

    snprintf(r.detail, sizeof(r.detail), "%s", why);
    sink_http_count(&s->counters.batches_retry, 1);
    sink_http_complete(s, t, &r);
}

/* A batch send() found too large: rejected with the reason, unsent. */
static void sink_http_reject_unsent(struct sink_http *s,
                                    struct sink_http_transfer *t)
{
    struct sink_result r = {.outcome = SINK_REJECTED, .retry_after_ms = -1};

    snprintf(r.detail, sizeof(r.detail), "%s", t->error);
    sink_http_count(&s->counters.batches_rejected, 1);
    sink_http_count(&s->counters.batches_too_large, 1);
    sink_http_log(s, t, &r);
    sink_http_complete(s, t, &r);
}

static void sink_http_cancel(struct sink_http *s, struct sink_http_transfer *t)
{
    sink_http_count(&s->counters.batches_cancelled, 1);
    sink_http_end_unsent(s, t, sink_http_cancelled);
}

/* ------------------------------------------------------------- worker -- */

/* Moves queued transfers into the multi; returns whether to stop. */
static bool sink_http_start_pending(struct sink_http *s)
{
    struct sink_http_transfer *t;
    bool stopping;

    pthread_mutex_lock(&s->lock);
    stopping = s->stopping;
    t = stopping ? NULL : s->pending;
    if (!stopping) {
        s->pending = s->pending_tail = NULL;
    }
    pthread_mutex_unlock(&s->lock);

    while (t != NULL) {
        struct sink_http_transfer *next = t->next;
        CURLMcode mc;

        if (t->easy == NULL) {
            sink_http_reject_unsent(s, t);
        } else if ((mc = curl_multi_add_handle(s->multi, t->easy)) !=
                   CURLM_OK) {
            char why[160];

            snprintf(why, sizeof(why), "cannot start the request: %s",
                     curl_multi_strerror(mc));
            sink_http_end_unsent(s, t, why);
        } else {
            t->prev = NULL;
            t->next = s->active;
            if (s->active != NULL) {
                s->active->prev = t;
            }
            s->active = t;
        }
        t = next;
    }
    return stopping;
}

static void sink_http_reap(struct sink_http *s)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        CURLcode rc = msg->data.result;
        char *t = NULL;

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
        sink_http_finish(s, (struct sink_http_transfer *)t, rc);
    }
}

/* At destroy: whatever has not finished ends as SINK_RETRY. */
static void sink_http_cancel_all(struct sink_http *s)
{
    struct sink_http_transfer *t;
    uint64_t cancelled = 0;

    while ((t = s->active) != NULL) {
        curl_multi_remove_handle(s->multi, t->easy);
        sink_http_unlink_active(s, t);
        sink_http_cancel(s, t);
        cancelled++;
    }
    pthread_mutex_lock(&s->lock);
    t = s->pending;
    s->pending = s->pending_tail = NULL;
    pthread_mutex_unlock(&s->lock);
    while (t != NULL) {
        struct sink_http_transfer *next = t->next;

        if (t->easy == NULL) {
            sink_http_reject_unsent(s, t);
        } else {
            sink_http_cancel(s, t);
            cancelled++;
        }
        t = next;
    }
    if (cancelled > 0) {
        OBS_LOG(OBS_WARN, "sink",
                "http sink destroyed with batches in flight; they end as "
                "retries",
                "sink=%s url=%s cancelled=%" PRIu64, s->name, s->log_url,
                cancelled);
    }
}

static void *sink_http_worker_main(void *arg)
{
    struct sink_http *s = arg;

    for (;;) {
        bool stopping = sink_http_start_pending(s);
        int running = 0;
        CURLMcode mc = curl_multi_perform(s->multi, &running);

        if (mc != CURLM_OK) {
            uint64_t suppressed;

            if (obs_ratelimit_allow(&s->warn_network,
                                    SINK_HTTP_WARN_INTERVAL_MS, &suppressed)) {
                OBS_LOG(OBS_ERROR, "sink", "http sink cannot drive requests",
                        "sink=%s error=\"%s\" suppressed=%" PRIu64, s->name,
                        curl_multi_strerror(mc), suppressed);
            }
        }
        /* On the way out, answers already in report their real outcome. */
        sink_http_reap(s);
        if (stopping) {
            break;
        }
        curl_multi_poll(s->multi, NULL, 0, SINK_HTTP_POLL_MS, NULL);
    }
    sink_http_cancel_all(s);
    return NULL;
}

/* ------------------------------------------------------ create, free -- */

static void sink_http_free(struct sink_http *s)
{
    if (s->multi != NULL) {
        curl_multi_cleanup(s->multi);
    }
    curl_slist_free_all(s->headers);
    pthread_mutex_destroy(&s->lock);
    if (s->curl_initialised) {
        curl_global_cleanup();
    }
    free(s->user_agent);
    free(s->url);
    free(s->name);
    free(s);
}

static int sink_http_copy_options(struct sink_http *s,
                                  const struct sink_http_options *o,
                                  const char *name)
{
    s->gzip = o->gzip;
    s->format = o->format;
    s->timeout_ms = (long)o->timeout_ms;
    s->connect_timeout_ms = (long)o->connect_timeout_ms;
    s->max_in_flight = o->max_in_flight;
    s->max_body_bytes = o->max_body_bytes;
    const uint32_t *retryable =
        o->retryable != NULL ? o->retryable : sink_http_default_retryable;
    size_t count = o->retryable != NULL
                       ? o->retryable_count
                       : sizeof(sink_http_default_retryable) /
                             sizeof(sink_http_default_retryable[0]);

    for (size_t i = 0; i < count; i++) {
        sink_http_statuses_add(&s->retryable, (int)retryable[i]);
    }
    s->name = strdup(name);
    s->url = strdup(o->url);
    s->user_agent = o->user_agent != NULL ? strdup(o->user_agent) : NULL;
    if (s->name == NULL || s->url == NULL ||
        (o->user_agent != NULL && s->user_agent == NULL)) {
        return tw_err_set(TW_ENOMEM, "http sink: out of memory");
    }
    s->base.ops = &sink_http_ops;
    s->base.name = s->name;
    return 0;
}

static int sink_http_start_worker(struct sink_http *s)
{
    int err;

    s->multi = curl_multi_init();
    if (s->multi == NULL) {
        return tw_err_set(TW_ENOMEM,
                          "http sink %s: cannot make a multi "
                          "handle",
                          s->name);
    }
    /* Keep a connection per possible request, and never open more. */
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->max_in_flight);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)s->max_in_flight);
    err = pthread_create(&s->worker, NULL, sink_http_worker_main, s);
    if (err != 0) {
        return tw_err_errno(err, "http sink %s: cannot start its thread",
                            s->name);
    }
    pthread_setname_np(s->worker, "tw-sink-http");
    return 0;
}

int sink_http_new(const struct sink_http_options *opts, const char *name,
                  struct sink **out)
{
    struct sink_http *s;
    int rc;

    *out = NULL;
    if (name == NULL || name[0] == '\0') {
        return tw_err_set(TW_EINVAL, "http sink: a name is needed");
    }
    rc = sink_http_check_options(opts);
    if (rc != 0) {
        return rc;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return tw_err_set(TW_ENOMEM, "http sink: out of memory");
    }
    pthread_mutex_init(&s->lock, NULL);
    /* Reference-counted by libcurl, and thread-safe in Debian's build. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sink_http_free(s);
        return tw_err_set(TW_EIO, "http sink: cannot start libcurl");
    }
    s->curl_initialised = true;

    rc = sink_http_copy_options(s, opts, name);
    if (rc == 0) {
        rc = sink_http_log_url(opts->url, s->log_url, sizeof(s->log_url));
    }
    if (rc == 0) {
        rc = sink_http_headers_new(opts, &s->headers);
    }
    if (rc == 0) {
        rc = sink_http_start_worker(s);
    }
    if (rc != 0) {
        sink_http_free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}

static void sink_http_destroy(struct sink *base)
{
    struct sink_http *s = (struct sink_http *)base;

    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_mutex_unlock(&s->lock);
    curl_multi_wakeup(s->multi);
    pthread_join(s->worker, NULL);
    sink_http_free(s);
}

/* -------------------------------------------------------------- stats -- */

static void sink_http_fill_stats(struct sink_http *s, struct sink_stats *st)
{
    struct sink_http_counters *c = &s->counters;

    st->batches_sent = sink_http_read(&c->batches_sent);
    st->batches_ok = sink_http_read(&c->batches_ok);
    st->batches_retry = sink_http_read(&c->batches_retry);
    st->batches_rejected = sink_http_read(&c->batches_rejected);
    st->events_ok = sink_http_read(&c->events_ok);
    st->bytes_out = sink_http_read(&c->bytes_out);
    st->send_ns_total = sink_http_read(&c->send_ns_total);
    pthread_mutex_lock(&s->lock);
    st->in_flight = s->in_flight;
    pthread_mutex_unlock(&s->lock);
}

static void sink_http_stats_op(struct sink *base, struct sink_stats *stats)
{
    sink_http_fill_stats((struct sink_http *)base, stats);
}

void sink_http_stats(struct sink *base, struct sink_http_stats *stats)
{
    struct sink_http *s = (struct sink_http *)base;
    struct sink_http_counters *c = &s->counters;

    assert(base->ops == &sink_http_ops);
    sink_http_fill_stats(s, &stats->sink);
    for (size_t i = 0; i < 6; i++) {
        stats->responses[i] = sink_http_read(&c->responses[i]);
    }
    stats->network_errors = sink_http_read(&c->network_errors);
    stats->timeouts = sink_http_read(&c->timeouts);
    stats->connections_made = sink_http_read(&c->connections_made);
    stats->sends_full = sink_http_read(&c->sends_full);
    stats->sends_refused = sink_http_read(&c->sends_refused);
    stats->batches_cancelled = sink_http_read(&c->batches_cancelled);
    stats->batches_too_large = sink_http_read(&c->batches_too_large);
    stats->answer_bytes = sink_http_read(&c->answer_bytes);
}

static const struct sink_ops sink_http_ops = {
    .type = "http",
    .send = sink_http_send,
    .stats = sink_http_stats_op,
    .destroy = sink_http_destroy,
};
