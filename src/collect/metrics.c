/*
 * metrics.c - the collector's /metrics: its own counters, the HTTP
 * server's, the dedup set's and both logs'. docs/OPERATIONS.md lists
 * every metric and what to do when one moves.
 */
#include <stddef.h>
#include <stdio.h>

#include "collect/internal.h"
#include "common/clock.h"
#include "obs/metrics.h"

#define LABELS_MAX 160

static void source_counter(struct tw_buf *out, struct collector *c,
                           const char *name, const char *help, size_t field)
{
    char labels[LABELS_MAX];

    obs_metric_family(out, name, "counter", help);
    for (size_t i = 0; i < c->source_count; i++) {
        const _Atomic uint64_t *v =
            (const _Atomic uint64_t *)((const char *)&c->sources[i] + field);
        snprintf(labels, sizeof(labels), "source=\"%s\"",
                 c->sources[i].cfg->name);
        obs_metric_u64(out, name, labels, atomic_load(v));
    }
}

static void source_metrics(struct tw_buf *out, struct collector *c)
{
    char labels[LABELS_MAX];

    source_counter(out, c, "trackway_requests_total",
                   "Requests that passed authentication, by source.",
                   offsetof(struct collect_source, requests));
    source_counter(out, c, "trackway_events_received_total",
                   "Events in authenticated requests, by source.",
                   offsetof(struct collect_source, received));
    source_counter(out, c, "trackway_events_accepted_total",
                   "Events durable in the events log, by source.",
                   offsetof(struct collect_source, accepted));
    source_counter(out, c, "trackway_events_annotated_total",
                   "Accepted events stored with plan violations attached.",
                   offsetof(struct collect_source, annotated));
    source_counter(out, c, "trackway_events_duplicate_total",
                   "Events dropped because their messageId was seen within "
                   "the dedup window.",
                   offsetof(struct collect_source, duplicates));
    source_counter(out, c, "trackway_rate_limited_requests_total",
                   "Requests answered 429 by the source's rate limit.",
                   offsetof(struct collect_source, rate_limited));
    obs_metric_family(out, "trackway_events_failed_total", "counter",
                      "Events sent to the failed-events log, by source and "
                      "reason.");
    for (size_t i = 0; i < c->source_count; i++) {
        for (int r = 0; r < COLLECT_REASONS; r++) {
            snprintf(labels, sizeof(labels), "source=\"%s\",reason=\"%s\"",
                     c->sources[i].cfg->name,
                     collect_reason_name((enum collect_reason)r));
            obs_metric_u64(out, "trackway_events_failed_total", labels,
                           atomic_load(&c->sources[i].failed[r]));
        }
    }
}

static void answer_metrics(struct tw_buf *out, struct collector *c)
{
    static const char *const codes[COLLECT_STATUSES] = {
        "200", "204", "400", "401", "404", "405", "413", "429", "503",
    };
    char labels[LABELS_MAX];
    uint64_t cumulative = 0;

    obs_metric_family(out, "trackway_responses_total", "counter",
                      "Answers sent by the collector, by status code.");
    for (int i = 0; i < COLLECT_STATUSES; i++) {
        snprintf(labels, sizeof(labels), "code=\"%s\"", codes[i]);
        obs_metric_u64(out, "trackway_responses_total", labels,
                       atomic_load(&c->answers[i]));
    }
    obs_metric_family(out, "trackway_backpressure_total", "counter",
                      "Requests answered 503, by cause.");
    obs_metric_u64(out, "trackway_backpressure_total",
                   "cause=\"inflight_bytes\"",
                   atomic_load(&c->backpressure_inflight));
    obs_metric_u64(out, "trackway_backpressure_total", "cause=\"log_full\"",
                   atomic_load(&c->backpressure_log));
    obs_metric_u64(out, "trackway_backpressure_total", "cause=\"storage_full\"",
                   atomic_load(&c->backpressure_storage));
    obs_metric_u64(out, "trackway_backpressure_total", "cause=\"log_error\"",
                   atomic_load(&c->append_errors));
    obs_metric_family(out, "trackway_inflight_bytes", "gauge",
                      "Request body bytes being handled now.");
    obs_metric_u64(out, "trackway_inflight_bytes", NULL,
                   atomic_load(&c->inflight_bytes));

    obs_metric_family(out, "trackway_ack_seconds", "histogram",
                      "Time from a request's arrival to its answer, for "
                      "requests whose events were appended.");
    for (int i = 0; i <= COLLECT_LATENCY_BUCKETS; i++) {
        cumulative += atomic_load(&c->latency_count[i]);
        if (i < COLLECT_LATENCY_BUCKETS) {
            snprintf(labels, sizeof(labels), "le=\"%g\"",
                     collect_latency_bounds[i]);
        } else {
            snprintf(labels, sizeof(labels), "le=\"+Inf\"");
        }
        obs_metric_u64(out, "trackway_ack_seconds_bucket", labels, cumulative);
    }
    obs_metric_f64(out, "trackway_ack_seconds_sum", NULL,
                   (double)atomic_load(&c->latency_sum_us) * 1e-6);
    obs_metric_u64(out, "trackway_ack_seconds_count", NULL, cumulative);
}

static void http_metrics(struct tw_buf *out, struct collector *c)
{
    struct http_stats st;
    char labels[LABELS_MAX];

    if (c->http == NULL) {
        return;
    }
    http_server_stats(c->http, &st);
    obs_metric_family(out, "trackway_http_connections_total", "counter",
                      "Connections accepted, refused over a limit, or closed "
                      "for idling.");
    obs_metric_u64(out, "trackway_http_connections_total",
                   "outcome=\"accepted\"", st.connections_accepted);
    obs_metric_u64(out, "trackway_http_connections_total",
                   "outcome=\"refused\"", st.connections_refused);
    obs_metric_u64(out, "trackway_http_connections_total",
                   "outcome=\"timed_out\"", st.connections_timed_out);
    obs_metric_family(out, "trackway_http_connections_open", "gauge",
                      "Connections open now.");
    obs_metric_u64(out, "trackway_http_connections_open", NULL,
                   st.connections_open);
    obs_metric_family(out, "trackway_http_requests_parked", "gauge",
                      "Requests waiting for the log to make them durable.");
    obs_metric_u64(out, "trackway_http_requests_parked", NULL,
                   st.requests_parked);
    obs_metric_family(out, "trackway_http_body_too_large_total", "counter",
                      "Bodies over max_request_bytes, answered 413.");
    obs_metric_u64(out, "trackway_http_body_too_large_total", NULL,
                   st.bodies_too_large);
    obs_metric_family(out, "trackway_http_body_bytes_total", "counter",
                      "Request body bytes received.");
    obs_metric_u64(out, "trackway_http_body_bytes_total", NULL, st.body_bytes);
    obs_metric_family(out, "trackway_http_responses_total", "counter",
                      "Answers by status class, as the server sent them.");
    for (int i = 1; i <= 5; i++) {
        snprintf(labels, sizeof(labels), "class=\"%dxx\"", i);
        obs_metric_u64(out, "trackway_http_responses_total", labels,
                       st.responses[i]);
    }
}

static void dedup_metrics(struct tw_buf *out, struct collector *c)
{
    struct dedup_stats st;

    if (c->dedup == NULL) {
        return;
    }
    dedup_stats(c->dedup, tw_now_ms(), &st);
    obs_metric_family(out, "trackway_dedup_ids", "gauge",
                      "Message ids held by the dedup set.");
    obs_metric_u64(out, "trackway_dedup_ids", NULL, st.ids);
    obs_metric_family(out, "trackway_dedup_window_seconds", "gauge",
                      "How far back the dedup set remembers ids now.");
    obs_metric_f64(out, "trackway_dedup_window_seconds", NULL,
                   (double)st.window_ms / 1000.0);
    obs_metric_family(out, "trackway_dedup_early_rotations_total", "counter",
                      "Times the dedup set filled before its window passed "
                      "(raise dedup.max_ids).");
    obs_metric_u64(out, "trackway_dedup_early_rotations_total", NULL,
                   st.early_rotations);
}

struct log_family {
    const char *name;
    const char *type;
    const char *help;
    size_t field; /* offset in struct log_stats */
};

static const struct log_family log_families[] = {
    {"trackway_log_appends_total", "counter", "Batches appended.",
     offsetof(struct log_stats, appends)},
    {"trackway_log_records_total", "counter", "Records appended.",
     offsetof(struct log_stats, append_records)},
    {"trackway_log_append_failures_total", "counter",
     "Batches whose write or sync failed (disk full, I/O error).",
     offsetof(struct log_stats, append_failures)},
    {"trackway_log_rejected_full_total", "counter",
     "Appends refused because too many bytes waited for the disk.",
     offsetof(struct log_stats, rejected_full)},
    {"trackway_log_bytes_written_total", "counter", "Bytes written.",
     offsetof(struct log_stats, bytes_written)},
    {"trackway_log_syncs_total", "counter", "fdatasync calls.",
     offsetof(struct log_stats, syncs)},
    {"trackway_log_pending_bytes", "gauge",
     "Bytes queued for the disk, not yet durable.",
     offsetof(struct log_stats, pending_bytes)},
    {"trackway_log_stored_bytes", "gauge",
     "Bytes the log holds on disk (compare storage.retention.max_bytes).",
     offsetof(struct log_stats, stored_bytes)},
    {"trackway_log_full", "gauge",
     "1 while appends are refused: over the byte budget, and a destination "
     "with backlog: block has not read the oldest events.",
     offsetof(struct log_stats, full)},
    {"trackway_log_rejected_budget_total", "counter",
     "Appends refused because the log was full.",
     offsetof(struct log_stats, rejected_budget)},
    {"trackway_log_deleted_unread_segments_total", "counter",
     "Segments retention removed before a destination with backlog: skip "
     "had read them.",
     offsetof(struct log_stats, deleted_unread)},
};

static void log_metrics(struct tw_buf *out, struct collector *c)
{
    struct log_stats st[2];
    static const char *const labels[2] = {"log=\"events\"", "log=\"failed\""};

    log_stats(c->events, &st[0]);
    log_stats(c->failed, &st[1]);
    for (size_t f = 0; f < sizeof(log_families) / sizeof(log_families[0]);
         f++) {
        const struct log_family *fam = &log_families[f];

        obs_metric_family(out, fam->name, fam->type, fam->help);
        for (int i = 0; i < 2; i++) {
            const uint64_t *v =
                (const uint64_t *)((const char *)&st[i] + fam->field);
            obs_metric_u64(out, fam->name, labels[i], *v);
        }
    }
}

void collector_metrics(struct collector *c, struct tw_buf *out)
{
    source_metrics(out, c);
    answer_metrics(out, c);
    http_metrics(out, c);
    dedup_metrics(out, c);
    log_metrics(out, c);
    if (c->extra_metrics != NULL) {
        c->extra_metrics(c->extra_metrics_ctx, out);
    }
}
