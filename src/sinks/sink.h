/*
 * sink.h - a destination's output: the one interface every sink (file,
 * HTTP webhook, stdout; Kafka, PostgreSQL and NATS later) implements.
 *
 * The delivery runtime (src/deliver/) owns everything about guarantees:
 * cursors, order, retries and their backoff, the circuit breaker and the
 * dead-letter log. A sink only moves one batch of events out and says how
 * that went. So a sink is small, and a new one touches nothing else.
 *
 * Batches. The runtime hands a sink a batch of events of one partition,
 * in offset order, and never reorders or splits what it gave: a retry is
 * the same batch (same events, same idempotency key) with attempt + 1.
 * A sink may have several batches in flight (up to max_in_flight, given
 * when it is created); the runtime keeps at most one per partition in
 * flight, so per-partition order holds without the sink's help.
 *
 * Completion. send() starts delivering and returns at once; done runs
 * exactly once per accepted batch, from any thread (possibly before
 * send() returns), with the outcome. Until done runs, the batch and every
 * byte it points to stay valid and unchanged. A sink never retries by
 * itself: SINK_RETRY hands the decision back to the runtime.
 *
 * Outcomes:
 *   SINK_OK        every event of the batch is delivered, as durably as
 *                  the destination promises (the file sink: written and
 *                  fdatasync'd; the HTTP sink: a 2xx answer)
 *   SINK_RETRY     assume nothing was delivered; may be tried again,
 *                  after retry_after_ms when the destination said so
 *   SINK_REJECTED  the destination refused the batch for good (an HTTP
 *                  4xx that is not retryable, say): dead-letter it with
 *                  status and detail
 *
 * Threads. send and stats may be called from any thread; destroy
 * only once every done has run (the runtime stops sending, waits, then
 * destroys).
 */
#ifndef TW_SINKS_SINK_H
#define TW_SINKS_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct sink;

/* One event as the runtime read it from the log, already shaped. */
struct sink_event {
    const char *data; /* the event's JSON text, data_len bytes, no NUL */
    size_t data_len;
    const char *message_id; /* its messageId, id_len bytes */
    size_t id_len;
    uint32_t partition;
    uint64_t offset;
    int64_t timestamp_ms; /* receivedAt */
};

struct sink_batch {
    const struct sink_event *events;
    size_t count;
    /* Stable for this batch on every attempt: the HTTP sink sends it as
     * Idempotency-Key. NUL-terminated. */
    const char *idempotency_key;
    unsigned attempt; /* 1 for the first */
};

enum sink_outcome {
    SINK_OK = 0,
    SINK_RETRY = 1,
    SINK_REJECTED = 2,
};

struct sink_result {
    enum sink_outcome outcome;
    int64_t retry_after_ms; /* SINK_RETRY: the destination's wish, or -1 */
    int status;             /* the protocol's status (HTTP code), or 0 */
    char detail[512];       /* why, for logs and the dead-letter log: an error,
                             * or the start of the destination's answer */
};

typedef void (*sink_done_cb)(void *ctx, const struct sink_result *result);

/* Counters since creation; gauges say so. */
struct sink_stats {
    uint64_t batches_sent; /* send() calls accepted */
    uint64_t batches_ok;
    uint64_t batches_retry;
    uint64_t batches_rejected;
    uint64_t events_ok;
    uint64_t bytes_out;     /* bytes handed to the destination */
    uint64_t in_flight;     /* gauge: batches awaiting done */
    uint64_t send_ns_total; /* send() to done, summed over batches */
};

struct sink_ops {
    const char *type; /* "file", "http", "stdout", ... */
    /*
     * Starts delivering batch. Returns 0 (done will run exactly once),
     * TW_EFULL when max_in_flight batches are already out (done will not
     * run; send again after one completes), or another error with a
     * message (done will not run).
     */
    int (*send)(struct sink *sink, const struct sink_batch *batch,
                sink_done_cb done, void *ctx);
    void (*stats)(struct sink *sink, struct sink_stats *stats);
    /* Frees the sink; every done must have run. */
    void (*destroy)(struct sink *sink);
    /*
     * Housekeeping that cannot wait for the next batch (the file sink
     * rotates a file by age), called about once a second by the runtime
     * from its thread; may be NULL. A failure is the sink's to count and
     * log; the runtime calls again a second later.
     */
    int (*tick)(struct sink *sink);
};

/* Every sink starts with this. name is the destination's, for logs. */
struct sink {
    const struct sink_ops *ops;
    const char *name;
};

static inline int sink_send(struct sink *sink, const struct sink_batch *batch,
                            sink_done_cb done, void *ctx)
{
    return sink->ops->send(sink, batch, done, ctx);
}

static inline void sink_stats(struct sink *sink, struct sink_stats *stats)
{
    sink->ops->stats(sink, stats);
}

static inline void sink_tick(struct sink *sink)
{
    if (sink->ops->tick != NULL && sink->ops->tick(sink) != 0) {
        tw_err_clear();
    }
}

static inline void sink_destroy(struct sink *sink)
{
    if (sink != NULL) {
        sink->ops->destroy(sink);
    }
}

#endif
