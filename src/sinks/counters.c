/* counters.c - in-flight bound, counters and results shared by sinks. */
#include "sinks/counters.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/clock.h"

void sink_counters_init(struct sink_counters *c, unsigned max_in_flight)
{
    c->max_in_flight = max_in_flight;
    atomic_init(&c->in_flight, 0);
    atomic_init(&c->batches_sent, 0);
    atomic_init(&c->batches_ok, 0);
    atomic_init(&c->batches_retry, 0);
    atomic_init(&c->batches_rejected, 0);
    atomic_init(&c->events_ok, 0);
    atomic_init(&c->bytes_out, 0);
    atomic_init(&c->send_ns_total, 0);
}

bool sink_counters_enter(struct sink_counters *c)
{
    uint64_t now = atomic_load(&c->in_flight);

    do {
        if (now >= c->max_in_flight) {
            return false;
        }
    } while (!atomic_compare_exchange_weak(&c->in_flight, &now, now + 1));
    atomic_fetch_add_explicit(&c->batches_sent, 1, memory_order_relaxed);
    return true;
}

void sink_counters_leave(struct sink_counters *c,
                         const struct sink_result *result, size_t events,
                         uint64_t bytes, uint64_t started_ns)
{
    uint64_t took = tw_monotonic_ns() - started_ns;

    switch (result->outcome) {
    case SINK_OK:
        atomic_fetch_add_explicit(&c->batches_ok, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->events_ok, events, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->bytes_out, bytes, memory_order_relaxed);
        break;
    case SINK_RETRY:
        atomic_fetch_add_explicit(&c->batches_retry, 1, memory_order_relaxed);
        break;
    case SINK_REJECTED:
        atomic_fetch_add_explicit(&c->batches_rejected, 1,
                                  memory_order_relaxed);
        break;
    }
    atomic_fetch_add_explicit(&c->send_ns_total, took, memory_order_relaxed);
    atomic_fetch_sub(&c->in_flight, 1);
}

void sink_counters_read(struct sink_counters *c, struct sink_stats *stats)
{
    stats->batches_sent = atomic_load(&c->batches_sent);
    stats->batches_ok = atomic_load(&c->batches_ok);
    stats->batches_retry = atomic_load(&c->batches_retry);
    stats->batches_rejected = atomic_load(&c->batches_rejected);
    stats->events_ok = atomic_load(&c->events_ok);
    stats->bytes_out = atomic_load(&c->bytes_out);
    stats->in_flight = atomic_load(&c->in_flight);
    stats->send_ns_total = atomic_load(&c->send_ns_total);
}

void sink_result_init(struct sink_result *result)
{
    result->outcome = SINK_OK;
    result->retry_after_ms = -1;
    result->status = 0;
    result->detail[0] = '\0';
}

void sink_result_set(struct sink_result *result, enum sink_outcome outcome,
                     const char *fmt, ...)
{
    va_list ap;

    result->outcome = outcome;
    va_start(ap, fmt);
    vsnprintf(result->detail, sizeof(result->detail), fmt, ap);
    va_end(ap);
}
