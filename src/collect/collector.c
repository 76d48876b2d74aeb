/*
 * collector.c - routing, the life of a request, and its answer.
 *
 * A request is ingested on the HTTP thread that read it (ingest.c), its
 * records go to the log as one append per partition touched (plus one to
 * the failed-events log), and the HTTP connection is parked. Each append
 * completes on the log's writer thread; the last completion answers:
 *
 *   handler --> ingest --> log_append × k --> (parked)
 *                               |
 *   writer thread: completion --+-> last one? --> dedup_add, http_respond
 *
 * The handler holds one reference of its own while it appends, so an
 * answer cannot go out before every append was queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/failed.h"
#include "collect/internal.h"
#include "common/clock.h"
#include "json/json_write.h"
#include "obs/logging.h"
#include "obs/ratelimit.h"

const double collect_latency_bounds[COLLECT_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
};

/* One append of a request: which records it carried. */
struct collect_append {
    struct collect_request *owner;
    size_t first; /* into the request's fingerprint list */
    size_t count;
};

struct collect_request {
    struct collector *c;
    struct http_request *http;
    struct collect_source *source;
    enum collect_endpoint endpoint;
    _Atomic int pending;
    _Atomic int status;     /* 0 until an append fails */
    uint64_t *fingerprints; /* accepted records, grouped by append */
    struct collect_append *appends;
    size_t append_count;
    uint64_t accepted;
    size_t held_bytes; /* counted in c->inflight_bytes */
    uint64_t start_ns;
    char error[256];
};

/* The GIF the pixel answers with: 1x1, transparent. */
static const unsigned char pixel_gif[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
};

static enum collect_status status_slot(unsigned status)
{
    switch (status) {
    case 200:
        return COLLECT_S200;
    case 204:
        return COLLECT_S204;
    case 400:
        return COLLECT_S400;
    case 401:
        return COLLECT_S401;
    case 404:
        return COLLECT_S404;
    case 405:
        return COLLECT_S405;
    case 413:
        return COLLECT_S413;
    case 429:
        return COLLECT_S429;
    default:
        return COLLECT_S503;
    }
}

/*
 * Sends an answer with the CORS headers every browser client needs, and
 * Retry-After when retry_after_s > 0. A JSON body names the error, or
 * says success; the pixel always gets its GIF.
 */
static void answer(struct collector *c, struct http_request *request,
                   enum collect_endpoint endpoint, unsigned status,
                   const char *error, int64_t retry_after_s)
{
    struct http_header headers[5];
    size_t n = 0;
    char retry[24];
    char body[400];
    const char *origin = http_request_header(request, "Origin");
    int len;

    headers[n++] = (struct http_header){"Access-Control-Allow-Origin",
                                        origin != NULL ? origin : "*"};
    headers[n++] = (struct http_header){"Vary", "Origin"};
    if (retry_after_s > 0) {
        snprintf(retry, sizeof(retry), "%lld", (long long)retry_after_s);
        headers[n++] = (struct http_header){"Retry-After", retry};
    }
    atomic_fetch_add(&c->answers[status_slot(status)], 1);
    if (endpoint == COLLECT_PIXEL) {
        headers[n++] = (struct http_header){"Content-Type", "image/gif"};
        headers[n++] = (struct http_header){"Cache-Control", "no-store"};
        http_respond(request, status, headers, n, pixel_gif, sizeof(pixel_gif));
        return;
    }
    headers[n++] = (struct http_header){"Content-Type", "application/json"};
    if (error == NULL) {
        len = snprintf(body, sizeof(body), "{\"success\":true}");
    } else {
        struct tw_buf b;
        tw_buf_init(&b, 1024);
        tw_buf_puts(&b, "{\"success\":false,\"error\":");
        tw_jw_cstring(&b, error);
        tw_buf_putc(&b, '}');
        http_respond(request, status, headers, n, b.data, b.len);
        tw_buf_free(&b);
        return;
    }
    http_respond(request, status, headers, n, body, (size_t)len);
}

static void observe_latency(struct collector *c, uint64_t start_ns)
{
    uint64_t us = (tw_monotonic_ns() - start_ns) / 1000;
    double s = (double)us * 1e-6;
    int i = 0;

    while (i < COLLECT_LATENCY_BUCKETS && s > collect_latency_bounds[i]) {
        i++;
    }
    atomic_fetch_add(&c->latency_count[i], 1);
    atomic_fetch_add(&c->latency_sum_us, us);
}

static void request_finish(struct collect_request *r)
{
    struct collector *c = r->c;
    int status = atomic_load(&r->status);

    if (status == 0) {
        atomic_fetch_add(&r->source->accepted, r->accepted);
        answer(c, r->http, r->endpoint, 200, NULL, 0);
    } else {
        answer(c, r->http, r->endpoint, 503, r->error,
               c->config->server.limits.retry_after_s);
    }
    observe_latency(c, r->start_ns);
    atomic_fetch_sub(&c->inflight_bytes, r->held_bytes);
    free(r->fingerprints);
    free(r->appends);
    free(r);
}

static void request_release(struct collect_request *r)
{
    if (atomic_fetch_sub(&r->pending, 1) == 1) {
        request_finish(r);
    }
}

/* Failures are logged at most once a second: a full disk fails every
 * request, and one line a second says so as well as a thousand. */
static void log_append_failure(struct collector *c, const char *message)
{
    uint64_t suppressed;

    if (obs_ratelimit_allow(&c->append_error_log, 1000, &suppressed)) {
        OBS_LOG(OBS_ERROR, "collect",
                "an append to the log failed; answering 503",
                "error=\"%s\" suppressed=%llu", message != NULL ? message : "?",
                (unsigned long long)suppressed);
    }
}

/* The log says which destination holds it; once a second is enough. */
static void storage_full_warn(struct collector *c, const char *message)
{
    uint64_t suppressed;

    if (obs_ratelimit_allow(&c->storage_full_log, 1000, &suppressed)) {
        OBS_LOG(OBS_WARN, "collect",
                "storage full: answering 503 until the holding destination "
                "catches up",
                "reason=\"%s\" refused_since_last=%llu", message,
                (unsigned long long)suppressed);
    }
}

static void append_done_cb(void *ctx, int status, uint64_t first_offset,
                           uint32_t count, const char *message)
{
    struct collect_append *a = ctx;
    struct collect_request *r = a->owner;
    int expected = 0;

    (void)first_offset;
    (void)count;
    if (status == 0) {
        if (r->c->dedup != NULL && a->count > 0) {
            dedup_add(r->c->dedup, r->fingerprints + a->first, a->count,
                      tw_now_ms());
        }
    } else if (atomic_compare_exchange_strong(&r->status, &expected, status)) {
        atomic_fetch_add(&r->c->append_errors, 1);
        snprintf(r->error, sizeof(r->error),
                 "the events could not be stored (%s); nothing of this "
                 "part was kept, send the request again",
                 message != NULL ? message : tw_err_name(status));
        log_append_failure(r->c, message);
    }
    request_release(r);
}

static void append_refused(struct collect_request *r, int rc)
{
    int expected = 0;

    if (!atomic_compare_exchange_strong(&r->status, &expected, rc)) {
        return;
    }
    if (rc == TW_EFULL) {
        atomic_fetch_add(&r->c->backpressure_log, 1);
        snprintf(r->error, sizeof(r->error),
                 "the log is behind: more bytes wait for the disk than it "
                 "allows; send the request again after Retry-After");
    } else if (rc == TW_ENOSPC) {
        atomic_fetch_add(&r->c->backpressure_storage, 1);
        snprintf(r->error, sizeof(r->error),
                 "storage is full: a destination that keeps its backlog "
                 "(backlog: block) has not yet delivered the oldest events; "
                 "some of this request may not have been kept, send it "
                 "again after Retry-After (what was kept is deduplicated "
                 "by messageId)");
        storage_full_warn(r->c, tw_err_message());
    } else {
        atomic_fetch_add(&r->c->append_errors, 1);
        snprintf(r->error, sizeof(r->error),
                 "the events could not be queued for the log: %s",
                 tw_err_message());
        log_append_failure(r->c, tw_err_message());
    }
}

/* Queues the records of one partition (or the failed ones) as a batch. */
static void submit_group(struct collect_request *r, struct collect_batch *b,
                         struct log *log, uint32_t partition, bool failed,
                         struct log_record *records, size_t *fp_used)
{
    struct collect_append *a = &r->appends[r->append_count];
    size_t n = 0;
    int rc;

    a->owner = r;
    a->first = *fp_used;
    for (size_t i = 0; i < b->count; i++) {
        const struct collect_record *cr = &b->records[i];

        if (cr->failed != failed || (!failed && cr->partition != partition)) {
            continue;
        }
        records[n++] = (struct log_record){
            .timestamp_ms = b->received_ms,
            .key = b->out.data + cr->key_off,
            .key_len = cr->key_len,
            .value = b->out.data + cr->value_off,
            .value_len = cr->value_len,
        };
        if (!failed && cr->fingerprint != 0) {
            r->fingerprints[(*fp_used)++] = cr->fingerprint;
        }
    }
    if (n == 0) {
        return;
    }
    if (!failed) {
        r->accepted += n;
    }
    a->count = *fp_used - a->first;
    r->append_count++;
    atomic_fetch_add(&r->pending, 1);
    rc = log_append(log, failed ? 0 : partition, records, n, append_done_cb, a);
    if (rc != 0) {
        append_refused(r, rc);
        atomic_fetch_sub(&r->pending, 1);
        r->accepted -= failed ? 0 : n;
    }
}

static bool submit(struct collect_request *r, struct collect_batch *b)
{
    struct collector *c = r->c;
    struct log_record *records;
    size_t fp_used = 0;

    records = malloc((b->count + 1) * sizeof(*records));
    r->fingerprints = malloc((b->count + 1) * sizeof(*r->fingerprints));
    r->appends = calloc(c->partitions + 1, sizeof(*r->appends));
    if (records == NULL || r->fingerprints == NULL || r->appends == NULL) {
        free(records);
        return false;
    }
    for (uint32_t p = 0; p < c->partitions; p++) {
        submit_group(r, b, c->events, p, false, records, &fp_used);
    }
    submit_group(r, b, c->failed, 0, true, records, &fp_used);
    free(records);
    return true;
}

/* Handles one ingest endpoint: a request whose events go to the log. */
static void handle_events(struct collector *c, struct http_request *request,
                          enum collect_endpoint endpoint, const char *type)
{
    struct collect_batch batch = {0};
    struct collect_request *r;
    const void *body;
    size_t len;
    uint64_t limit = c->config->server.limits.max_inflight_bytes;
    uint64_t start_ns = tw_monotonic_ns();

    body = http_request_body(request, &len);
    if (atomic_fetch_add(&c->inflight_bytes, len) + len > limit) {
        atomic_fetch_sub(&c->inflight_bytes, len);
        atomic_fetch_add(&c->backpressure_inflight, 1);
        answer(c, request, endpoint, 503,
               "the collector holds as many request bytes as it may "
               "(server.limits.max_inflight_bytes); send the request again "
               "after Retry-After",
               c->config->server.limits.retry_after_s);
        return;
    }
    tw_buf_init(&batch.out,
                4 * c->config->server.limits.max_request_bytes + (1u << 20));
    collect_ingest(c, request, endpoint, type, body, len, &batch);

    r = calloc(1, sizeof(*r));
    if (batch.status == 0 && r == NULL) {
        tw_buf_free(&batch.out);
        snprintf(batch.error, sizeof(batch.error), "out of memory");
        batch.status = 503;
    }
    if (batch.status != 0) {
        atomic_fetch_sub(&c->inflight_bytes, len);
        answer(c, request, endpoint, (unsigned)batch.status, batch.error,
               batch.status == 503 ? c->config->server.limits.retry_after_s
                                   : batch.retry_after_s);
        collect_batch_free(&batch);
        free(r);
        return;
    }
    r->c = c;
    r->http = request;
    r->source = batch.source;
    r->endpoint = endpoint;
    r->held_bytes = len;
    r->start_ns = start_ns;
    atomic_init(&r->pending, 1);
    if (!submit(r, &batch)) {
        append_refused(r, TW_ENOMEM);
    }
    collect_batch_free(&batch);
    request_release(r);
}

static void handle_preflight(struct collector *c, struct http_request *request)
{
    const char *origin = http_request_header(request, "Origin");
    const char *asked =
        http_request_header(request, "Access-Control-Request-Headers");
    struct http_header headers[] = {
        {"Access-Control-Allow-Origin", origin != NULL ? origin : "*"},
        {"Access-Control-Allow-Methods", "POST, GET, OPTIONS"},
        {"Access-Control-Allow-Headers",
         asked != NULL ? asked
                       : "Content-Type, Authorization, Content-Encoding"},
        {"Access-Control-Max-Age", "86400"},
        {"Vary", "Origin"},
    };

    atomic_fetch_add(&c->answers[COLLECT_S204], 1);
    http_respond(request, 204, headers, sizeof(headers) / sizeof(headers[0]),
                 NULL, 0);
}

static void handle_metrics(struct collector *c, struct http_request *request)
{
    struct http_header headers[] = {
        {"Content-Type", "text/plain; version=0.0.4"},
    };
    struct tw_buf out;

    tw_buf_init(&out, 4u << 20);
    collector_metrics(c, &out);
    atomic_fetch_add(&c->answers[COLLECT_S200], 1);
    http_respond(request, 200, headers, 1, out.data, out.len);
    tw_buf_free(&out);
}

static void handle_health(struct collector *c, struct http_request *request)
{
    static const char body[] = "{\"status\":\"ok\"}";
    struct http_header headers[] = {{"Content-Type", "application/json"}};

    atomic_fetch_add(&c->answers[COLLECT_S200], 1);
    http_respond(request, 200, headers, 1, body, sizeof(body) - 1);
}

/* The call type an endpoint's path names: "/v1/track" or "/v1/t". */
static const char *single_type(const char *name)
{
    static const char *const types[][2] = {
        {"track", "t"},  {"identify", "i"}, {"page", "p"},
        {"screen", "s"}, {"group", "g"},    {"alias", "a"},
    };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(name, types[i][0]) == 0 || strcmp(name, types[i][1]) == 0) {
            return types[i][0];
        }
    }
    return NULL;
}

static void not_found(struct collector *c, struct http_request *request,
                      unsigned status, const char *path)
{
    char why[200];
    char shown[101];
    size_t i;

    /* The path comes percent-decoded and may be any bytes: show ASCII. */
    for (i = 0; path[i] != '\0' && i < sizeof(shown) - 1; i++) {
        unsigned char ch = (unsigned char)path[i];
        shown[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    shown[i] = '\0';
    path = shown;
    snprintf(why, sizeof(why),
             status == 404 ? "no endpoint at %.100s: use /v1/batch, "
                             "/v1/track, /v1/pixel/track, ..."
                           : "%.100s does not take this method",
             path);
    answer(c, request, COLLECT_BATCH, status, why, 0);
}

void collector_handle_cb(void *ctx, struct http_request *request)
{
    struct collector *c = ctx;
    const char *method = http_request_method(request);
    const char *path = http_request_path(request);
    bool post = strcmp(method, "POST") == 0;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const char *type;

    if (strcmp(method, "OPTIONS") == 0) {
        handle_preflight(c, request);
    } else if (strcmp(path, "/health") == 0 && get) {
        handle_health(c, request);
    } else if (strcmp(path, "/metrics") == 0 && get) {
        handle_metrics(c, request);
    } else if (strncmp(path, "/v1/pixel/", 10) == 0) {
        type = single_type(path + 10);
        if (type == NULL || !get) {
            not_found(c, request, type == NULL ? 404 : 405, path);
        } else {
            handle_events(c, request, COLLECT_PIXEL, type);
        }
    } else if (strcmp(path, "/v1/batch") == 0 ||
               strcmp(path, "/v1/import") == 0) {
        if (post) {
            handle_events(c, request, COLLECT_BATCH, NULL);
        } else {
            not_found(c, request, 405, path);
        }
    } else if (strncmp(path, "/v1/", 4) == 0 &&
               (type = single_type(path + 4)) != NULL) {
        if (post) {
            handle_events(c, request, COLLECT_SINGLE, type);
        } else {
            not_found(c, request, 405, path);
        }
    } else {
        not_found(c, request, 404, path);
    }
}

int collector_new(const struct collector_options *opts, struct collector **out)
{
    const struct tw_config *cfg = opts->config;
    struct collector *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory for the collector");
    }
    c->config = cfg;
    c->events = opts->events;
    c->failed = opts->failed;
    c->partitions = log_partitions(opts->events);
    c->started_ms = tw_now_ms();
    c->sources = calloc(cfg->source_count, sizeof(*c->sources));
    if (c->sources == NULL) {
        free(c);
        return tw_err_set(TW_ENOMEM, "out of memory for the collector");
    }
    c->source_count = cfg->source_count;
    for (size_t i = 0; i < cfg->source_count; i++) {
        const struct cfg_source *s = &cfg->sources[i];
        c->sources[i].cfg = s;
        for (size_t p = 0; s->plan != NULL && p < cfg->plan_count; p++) {
            if (strcmp(cfg->plans[p].name, s->plan) == 0) {
                c->sources[i].plan = opts->plans[p];
            }
        }
        ratelimit_init(&c->sources[i].rate, s->rate_limit.events_per_s,
                       s->rate_limit.burst);
    }
    if (cfg->dedup.enabled) {
        rc = dedup_new(cfg->dedup.max_ids, cfg->dedup.window_ms, &c->dedup);
        if (rc != 0) {
            collector_free(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

void collector_free(struct collector *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->source_count; i++) {
        ratelimit_destroy(&c->sources[i].rate);
    }
    free(c->sources);
    dedup_free(c->dedup);
    free(c);
}

void collector_set_http(struct collector *c, struct http_server *server)
{
    c->http = server;
}

void collector_set_extra_metrics(struct collector *c,
                                 void (*fn)(void *ctx, struct tw_buf *out),
                                 void *ctx)
{
    c->extra_metrics = fn;
    c->extra_metrics_ctx = ctx;
}
