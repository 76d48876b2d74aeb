/*
 * counters.h - the bookkeeping every sink does around a batch: the bound
 * on batches in flight, the counters of sink.h's struct sink_stats, and
 * filling in a struct sink_result.
 *
 * Everything here is lock-free, so stats() never waits behind a send that
 * is busy writing.
 */
#ifndef TW_SINKS_COUNTERS_H
#define TW_SINKS_COUNTERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "sinks/sink.h"

struct sink_counters {
    unsigned max_in_flight;
    _Atomic uint64_t in_flight;
    _Atomic uint64_t batches_sent;
    _Atomic uint64_t batches_ok;
    _Atomic uint64_t batches_retry;
    _Atomic uint64_t batches_rejected;
    _Atomic uint64_t events_ok;
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t send_ns_total;
};

void sink_counters_init(struct sink_counters *c, unsigned max_in_flight);

/*
 * Takes a slot for one batch and counts it as sent; false when
 * max_in_flight batches are out already (nothing is counted then).
 */
bool sink_counters_enter(struct sink_counters *c);

/*
 * Counts the outcome of a batch taken with sink_counters_enter and gives
 * its slot back. Called just before the batch's done runs, so that done
 * may send the next batch at once. bytes counts only for SINK_OK.
 */
void sink_counters_leave(struct sink_counters *c,
                         const struct sink_result *result, size_t events,
                         uint64_t bytes, uint64_t started_ns);

void sink_counters_read(struct sink_counters *c, struct sink_stats *stats);

/* SINK_OK, no retry_after_ms (-1), status 0, empty detail. */
void sink_result_init(struct sink_result *result);

/* Sets the outcome and formats the detail (cut to fit). */
void sink_result_set(struct sink_result *result, enum sink_outcome outcome,
                     const char *fmt, ...) TW_PRINTF(3, 4);

#endif
