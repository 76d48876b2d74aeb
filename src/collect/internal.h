/*
 * internal.h - the collector's private structures, shared by its files:
 * collector.c (routing, the request's life, answers), ingest.c (a body
 * turned into records), clientip.c, failed.c, restore.c, metrics.c.
 */
#ifndef TW_COLLECT_INTERNAL_H
#define TW_COLLECT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "collect/collector.h"
#include "collect/dedup.h"
#include "collect/message.h"
#include "common/ratelimit.h"
#include "common/buf.h"
#include "json/json.h"
#include "obs/ratelimit.h"

/* Why an event went to the failed-events log. */
enum collect_reason {
    COLLECT_MALFORMED = 0, /* breaks the API rules (message.h) */
    COLLECT_TOO_LARGE = 1, /* larger than max_message_bytes */
    COLLECT_UNPLANNED = 2, /* a track event its plan does not list */
    COLLECT_INVALID = 3,   /* breaks its schema */
    COLLECT_REASONS = 4,
};

const char *collect_reason_name(enum collect_reason reason);

/* A source at run time: its settings, plan, bucket and counters. */
struct collect_source {
    const struct cfg_source *cfg;
    const struct plan *plan; /* NULL: every event is accepted */
    struct ratelimit rate;
    _Atomic uint64_t requests;
    _Atomic uint64_t received;   /* events in requests that got through auth */
    _Atomic uint64_t accepted;   /* durable in the events log */
    _Atomic uint64_t annotated;  /* accepted with violations attached */
    _Atomic uint64_t duplicates; /* dropped by dedup */
    _Atomic uint64_t failed[COLLECT_REASONS];
    _Atomic uint64_t rate_limited; /* requests answered 429 */
};

/* Answers by status, for metrics. */
enum collect_status {
    COLLECT_S200,
    COLLECT_S204,
    COLLECT_S400,
    COLLECT_S401,
    COLLECT_S404,
    COLLECT_S405,
    COLLECT_S413,
    COLLECT_S429,
    COLLECT_S503,
    COLLECT_STATUSES,
};

/* Upper bounds, in seconds, of the time-to-durable-answer histogram. */
#define COLLECT_LATENCY_BUCKETS 12

struct collector {
    const struct tw_config *config;
    struct log *events;
    struct log *failed;
    struct http_server *http;
    void (*extra_metrics)(void *ctx, struct tw_buf *out);
    void *extra_metrics_ctx;
    uint32_t partitions;
    struct collect_source *sources;
    size_t source_count;
    struct dedup *dedup; /* NULL when dedup is off */
    int64_t started_ms;

    _Atomic uint64_t inflight_bytes;
    _Atomic uint64_t answers[COLLECT_STATUSES];
    _Atomic uint64_t backpressure_inflight; /* 503: too many bytes held */
    _Atomic uint64_t backpressure_log;      /* 503: log queue full */
    _Atomic uint64_t backpressure_storage;  /* 503: log full (budget) */
    struct obs_ratelimit storage_full_log;
    _Atomic uint64_t append_errors; /* 503: the log failed a write */
    _Atomic uint64_t bad_bodies;    /* 400 */
    _Atomic uint64_t unknown_keys;  /* 401 */
    _Atomic uint64_t latency_count[COLLECT_LATENCY_BUCKETS + 1];
    _Atomic uint64_t latency_sum_us;
    struct obs_ratelimit append_error_log; /* one line a second at most */
};

extern const double collect_latency_bounds[COLLECT_LATENCY_BUCKETS];

/* One event ready for the log. Offsets point into the request's output. */
struct collect_record {
    uint32_t partition;
    bool failed;
    size_t key_off;
    uint32_t key_len;
    size_t value_off;
    uint32_t value_len;
    uint64_t fingerprint; /* for dedup; 0 when not deduplicated */
};

/* What ingest made of one request. */
struct collect_batch {
    struct collect_source *source;
    int status;      /* 0, or the HTTP status to answer at once */
    char error[256]; /* the reason given with that status */
    int64_t retry_after_s;
    struct collect_record *records;
    size_t count;
    size_t capacity;
    int64_t received_ms;
    size_t events;     /* messages in the request */
    size_t duplicates; /* dropped by dedup */
    struct tw_buf out; /* every key and value, back to back */
};

/* The kind of endpoint, which decides the body's shape and the answer. */
enum collect_endpoint {
    COLLECT_BATCH,
    COLLECT_SINGLE,
    COLLECT_PIXEL,
};

/* Per-thread scratch memory reused across requests (ingest.c). */
struct collect_scratch;
struct collect_scratch *collect_scratch_get(struct collector *c);

/*
 * Turns a request into records: decodes, parses, authenticates, judges
 * every message. On return batch->status says whether to answer at once.
 * type is the endpoint's call type (NULL for batches).
 */
void collect_ingest(struct collector *c, struct http_request *request,
                    enum collect_endpoint endpoint, const char *type,
                    const void *body, size_t body_len,
                    struct collect_batch *batch);
void collect_batch_free(struct collect_batch *batch);

/* The client's address for context.ip (clientip.c); false when none. */
bool collect_client_ip(const struct collector *c, struct http_request *request,
                       char *out, size_t size);

/* Writes a failed-events record (failed.c). */
void collect_write_failed(struct tw_buf *out, const struct msg_envelope *env,
                          enum collect_reason reason, const char *why,
                          const struct plan_verdict *verdict,
                          struct tw_json message);

#endif
