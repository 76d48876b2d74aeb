/*
 * delivery.c - building running destinations from the configuration
 * (delivery.h): a sink by type, a dead-letter log under
 * storage.path/dlq/<name>, and a route callback that sends on the events
 * of the routes naming the destination.
 */
#include "cli/delivery.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/dest_status.h"
#include "cli/storage.h"
#include "common/clock.h"
#include "deliver/deliver.h"
#include "obs/logging.h"
#include "obs/ratelimit.h"
#include "obs/metrics.h"
#include "route/filter.h"
#include "route/shape.h"
#include "sinks/file.h"
#include "sinks/http.h"
#include "sinks/stdout.h"

/* One route as a destination sees it. */
struct serve_route {
    const struct cfg_route *cfg;
    struct route_filter *filter; /* NULL: every event of its sources */
};

struct serve_dest {
    const struct cfg_destination *cfg;
    const struct tw_config *config;
    struct obs_ratelimit status_error_log;
    _Atomic uint64_t status_write_failures;
    struct sink *sink;
    struct log *events;
    struct log *dlq;
    struct serve_route *routes;
    size_t route_count;
    struct route_scratch *scratch; /* the destination's thread only */
    struct route_shape *shape;     /* NULL: events as stored */
    struct obs_ratelimit shape_error_log;
    struct deliver_dest *running;
    char pause_path[4096];
    bool paused; /* as last applied; the destination's thread only */
    char replay_path[4096];
    bool replaying; /* a job file was started */
    struct route_filter *replay_where;
    struct tw_json_parser *job_parser;
};

struct serve_delivery {
    struct serve_dest *dests;
    size_t count;
};

static int compile_filter(const char *cmd, const struct tw_config *c,
                          const struct cfg_route *r, struct route_filter **out)
{
    struct route_error err;

    *out = NULL;
    if (r->where == NULL) {
        return 0;
    }
    if (route_filter_compile(r->where, strlen(r->where), NULL, out, &err) ==
        0) {
        return 0;
    }
    fprintf(stderr, "%s:%d:%u: route filter: %s\n", c->file,
            r->where_line + (int)err.line - (err.line > 0 ? 1 : 0), err.column,
            err.message);
    (void)cmd;
    return TW_EINVAL;
}

/* Compiles a destination's shaping, printing a mistake as FILE:LINE. */
static int compile_shape(const struct tw_config *c,
                         const struct cfg_destination *d,
                         struct route_shape **out)
{
    const struct cfg_shape *sh = &d->shape;
    struct route_redaction *redact;
    struct route_rename *rename;
    struct route_shape_spec spec = {0};
    struct route_shape_error err;
    size_t n = 0;
    int rc;

    *out = NULL;
    if (!d->has_shape) {
        return 0;
    }
    redact = calloc(sh->redact_drop_count + sh->redact_hash_count + 1,
                    sizeof(*redact));
    rename = calloc(sh->rename_count + 1, sizeof(*rename));
    if (redact == NULL || rename == NULL) {
        free(redact);
        free(rename);
        return tw_err_set(TW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < sh->redact_drop_count; i++) {
        redact[n++] =
            (struct route_redaction){sh->redact_drop[i], ROUTE_REDACT_DROP};
    }
    for (size_t i = 0; i < sh->redact_hash_count; i++) {
        redact[n++] =
            (struct route_redaction){sh->redact_hash[i], ROUTE_REDACT_HASH};
    }
    for (size_t i = 0; i < sh->rename_count; i++) {
        rename[i] =
            (struct route_rename){sh->rename[i].name, sh->rename[i].value};
    }
    spec.keep = (const char *const *)sh->keep;
    spec.keep_count = sh->keep_count;
    spec.drop = (const char *const *)sh->drop;
    spec.drop_count = sh->drop_count;
    spec.redact = redact;
    spec.redact_count = n;
    spec.rename = rename;
    spec.rename_count = sh->rename_count;
    spec.hash_key = (const uint8_t *)sh->hash_key;
    spec.hash_key_len = sh->hash_key != NULL ? strlen(sh->hash_key) : 0;
    rc = route_shape_compile(&spec, out, &err);
    if (rc != 0) {
        fprintf(stderr, "%s:%d: destination '%s' shape: %s\n", c->file,
                sh->line, d->name, err.message);
    }
    free(redact);
    free(rename);
    return rc;
}

int delivery_check(const char *cmd, const struct tw_config *c)
{
    int rc = 0;

    for (size_t i = 0; i < c->destination_count; i++) {
        struct route_shape *shape;

        if (compile_shape(c, &c->destinations[i], &shape) != 0) {
            rc = TW_EINVAL;
        }
        route_shape_free(shape);
    }

    for (size_t i = 0; i < c->route_count; i++) {
        struct route_filter *f;

        if (compile_filter(cmd, c, &c->routes[i], &f) != 0) {
            rc = TW_EINVAL;
        }
        route_filter_free(f);
    }
    return rc;
}

static bool source_is(const struct deliver_event *event, char **from,
                      size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(from[i], "*") == 0 ||
            (strlen(from[i]) == event->source_len &&
             memcmp(from[i], event->source, event->source_len) == 0)) {
            return true;
        }
    }
    return false;
}

/*
 * Shapes an event for its destination. An event that cannot be shaped is
 * not sent unshaped (that could leak what shaping redacts): it is skipped
 * and said so, at most once a minute.
 */
static int shape(struct serve_dest *d, struct deliver_event *event,
                 struct tw_buf *out)
{
    struct tw_json json;
    uint64_t suppressed;

    if (d->shape == NULL) {
        return 1;
    }
    if (!deliver_event_json(event, &json)) {
        return 0;
    }
    if (route_shape_apply(d->shape, json, out) == 0) {
        return 1;
    }
    if (obs_ratelimit_allow(&d->shape_error_log, 60000, &suppressed)) {
        OBS_LOG(OBS_ERROR, "deliver",
                "an event could not be shaped and was not sent",
                "dest=%s error=\"%s\" suppressed=%llu", d->cfg->name,
                tw_err_message(), (unsigned long long)suppressed);
    }
    return 0;
}

/* The destination's route: any of its routes lets the event through. */
static int route_cb(void *ctx, struct deliver_event *event, struct tw_buf *out)
{
    struct serve_dest *d = ctx;
    struct tw_json json;

    for (size_t i = 0; i < d->route_count; i++) {
        const struct serve_route *r = &d->routes[i];

        if (!source_is(event, r->cfg->from, r->cfg->from_count)) {
            continue;
        }
        if (r->filter == NULL ||
            (deliver_event_json(event, &json) &&
             route_filter_match(r->filter, json, d->scratch))) {
            return shape(d, event, out);
        }
    }
    return 0;
}

static int make_sink(const struct tw_config *c, const struct cfg_destination *d,
                     struct sink **out)
{
    if (d->type == CFG_DEST_FILE) {
        struct sink_file_options o;
        sink_file_options_init(&o, d->path);
        o.max_bytes = d->rotate_max_bytes;
        o.max_age_ms = d->rotate_max_age_ms;
        o.compression = d->compress ? SINK_FILE_COMPRESSION_ZSTD
                                    : SINK_FILE_COMPRESSION_NONE;
        o.max_in_flight = d->max_in_flight;
        return sink_file_new(&o, d->name, out);
    }
    if (d->type == CFG_DEST_STDOUT) {
        struct sink_stdout_options o;
        sink_stdout_options_init(&o);
        return sink_stdout_new(&o, d->name, out);
    }
    struct sink_http_options o;
    struct sink_http_header headers[64];
    size_t n = d->header_count < 64 ? d->header_count : 64;

    (void)c;
    sink_http_options_init(&o);
    for (size_t i = 0; i < n; i++) {
        headers[i] =
            (struct sink_http_header){d->headers[i].name, d->headers[i].value};
    }
    o.url = d->url;
    o.headers = headers;
    o.header_count = n;
    o.gzip = d->gzip;
    o.format = d->ndjson ? SINK_HTTP_NDJSON : SINK_HTTP_JSON_BATCH;
    o.timeout_ms = (unsigned)d->timeout_ms;
    o.max_in_flight = d->max_in_flight;
    if (d->retryable_count > 0) {
        o.retryable = d->retryable;
        o.retryable_count = d->retryable_count;
    }
    return sink_http_new(&o, d->name, out);
}

static int routes_of(const char *cmd, const struct tw_config *c,
                     struct serve_dest *sd)
{
    sd->routes = calloc(c->route_count + 1, sizeof(*sd->routes));
    if (sd->routes == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->route_count; i++) {
        const struct cfg_route *r = &c->routes[i];
        bool to_me = false;

        for (size_t k = 0; k < r->to_count; k++) {
            to_me = to_me || strcmp(r->to[k], sd->cfg->name) == 0;
        }
        if (!to_me) {
            continue;
        }
        sd->routes[sd->route_count].cfg = r;
        if (compile_filter(cmd, c, r, &sd->routes[sd->route_count].filter) !=
            0) {
            return TW_EINVAL;
        }
        sd->route_count++;
    }
    return route_scratch_new(&sd->scratch);
}

/* Whether the pause file of a destination exists (delivery.h). */
static bool pause_requested(const struct serve_dest *sd)
{
    return access(sd->pause_path, F_OK) == 0;
}

static int replay_where_cb(void *ctx, struct deliver_event *event,
                           struct tw_buf *out)
{
    struct serve_dest *sd = ctx;
    struct tw_json json;

    (void)out;
    return deliver_event_json(event, &json) &&
           route_filter_match(sd->replay_where, json, sd->scratch);
}

/* Reads n offsets of the job's array name into out; false if it cannot. */
static bool job_offsets(struct tw_json job, const char *name, uint64_t *out,
                        uint32_t n)
{
    struct tw_json list;
    struct tw_json v;
    struct tw_json_iter it;
    uint32_t i = 0;

    if (!tw_json_get(job, name, &list) || tw_json_type(list) != TW_JSON_ARRAY ||
        tw_json_count(list) != n) {
        return false;
    }
    tw_json_iter_init(&it, list);
    while (tw_json_array_next(&it, &v)) {
        if (tw_json_type(v) != TW_JSON_INT || tw_json_int(v) < 0) {
            return false;
        }
        out[i++] = (uint64_t)tw_json_int(v);
    }
    return true;
}

/* Starts the replay its job file describes (written by trackway replay). */
static void replay_start(struct serve_dest *sd, struct deliver_dest *running,
                         uint32_t partitions)
{
    struct deliver_replay spec = {0};
    struct route_error err;
    struct tw_json job;
    struct tw_json v;
    char text[8192];
    size_t len = 0;
    FILE *f = fopen(sd->replay_path, "rb");
    bool ok = f != NULL;

    if (f != NULL) {
        len = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
    }
    ok = ok && (sd->job_parser != NULL ||
                tw_json_parser_new(sizeof(text), 0, &sd->job_parser) == 0);
    ok = ok && tw_json_parse(sd->job_parser, text, len, &job) == 0 &&
         tw_json_type(job) == TW_JSON_OBJECT;
    if (ok && tw_json_get(job, "dead_letters", &v) &&
        tw_json_type(v) == TW_JSON_BOOL && tw_json_bool(v)) {
        spec.dead_letters = true;
        partitions = 1;
    }
    ok = ok && job_offsets(job, "from", spec.from, partitions) &&
         job_offsets(job, "to", spec.to, partitions);
    if (ok && tw_json_get(job, "rate", &v) &&
        (tw_json_type(v) == TW_JSON_INT || tw_json_type(v) == TW_JSON_DOUBLE)) {
        spec.events_per_s = tw_json_number(v);
    }
    if (ok && tw_json_get(job, "where", &v) &&
        tw_json_type(v) == TW_JSON_STRING) {
        const char *w = tw_json_string(v, &len);
        ok = route_filter_compile(w, len, NULL, &sd->replay_where, &err) == 0;
        spec.where = ok ? replay_where_cb : NULL;
        spec.where_ctx = sd;
    }
    if (!ok || deliver_dest_replay(running, &spec) != 0) {
        OBS_LOG(OBS_ERROR, "deliver",
                "cannot start the replay its job file asks for; removing it",
                "dest=%s job=%s", sd->cfg->name, sd->replay_path);
        route_filter_free(sd->replay_where);
        sd->replay_where = NULL;
        unlink(sd->replay_path);
        return;
    }
    sd->replaying = true;
}

/* Follows the job file: start, cancel when removed, remove when done. */
static void replay_tick(struct serve_dest *sd, struct deliver_dest *running)
{
    struct deliver_stats st;
    bool job = access(sd->replay_path, F_OK) == 0;

    if (!sd->replaying) {
        if (job) {
            replay_start(sd, running, log_partitions(sd->events));
        }
        return;
    }
    deliver_dest_stats(running, &st);
    if (!job && st.replay_active) {
        deliver_dest_replay_cancel(running);
        return;
    }
    if (!st.replay_active) {
        /* Finished (or cancelled): the job is done. */
        unlink(sd->replay_path);
        route_filter_free(sd->replay_where);
        sd->replay_where = NULL;
        sd->replaying = false;
    }
}

/* What `trackway trace` reads about this destination's partitions. */
static void status_tick(struct serve_dest *sd, struct deliver_dest *running)
{
    uint32_t count = log_partitions(sd->events);
    struct deliver_part_status *parts = calloc(count, sizeof(*parts));
    struct deliver_stats st;
    uint64_t suppressed;
    int rc;

    if (parts == NULL) {
        rc = tw_err_set(TW_ENOMEM, "out of memory for %u partitions", count);
    } else {
        deliver_dest_status(running, parts);
        deliver_dest_stats(running, &st);
        rc = dest_status_write(sd->config, sd->cfg->name, parts, count,
                               st.paused, st.breaker_open);
    }
    if (rc != 0) {
        atomic_fetch_add(&sd->status_write_failures, 1);
        if (obs_ratelimit_allow(&sd->status_error_log, 60000, &suppressed)) {
            OBS_LOG(OBS_WARN, "serve",
                    "cannot write a destination's status; trace will say "
                    "less",
                    "dest=%s error=\"%s\" suppressed=%" PRIu64, sd->cfg->name,
                    tw_err_message(), suppressed);
        }
    }
    free(parts);
}

/* Once a second on the destination's thread: pause and replay jobs, and
 * the status file. */
static void tick_cb(void *ctx, struct deliver_dest *running)
{
    struct serve_dest *sd = ctx;
    bool paused = sd->cfg->paused || pause_requested(sd);

    if (paused != sd->paused) {
        sd->paused = paused;
        deliver_dest_pause(running, paused);
    }
    replay_tick(sd, running);
    status_tick(sd, running);
}

/*
 * The delivery times the last run wrote to dest's status file, so that
 * trace can still say when events were delivered before this start.
 * NULL when there are none; the file is advisory, so a damaged one only
 * costs those times. The caller frees the array.
 */
static struct deliver_marks *previous_marks(const struct tw_config *c,
                                            const char *dest,
                                            struct log *events, uint32_t *count)
{
    uint32_t partitions = log_partitions(events);
    struct deliver_marks *marks = calloc(partitions, sizeof(*marks));
    int rc;

    *count = 0;
    if (marks == NULL) {
        return NULL;
    }
    rc = dest_status_read_marks(c, dest, marks, partitions, count);
    if (rc != 0 && rc != TW_ENOENT) {
        OBS_LOG(OBS_WARN, "serve",
                "cannot read a destination's last status; trace will not "
                "know when it delivered before this start",
                "dest=%s error=\"%s\"", dest, tw_err_message());
    }
    if (*count == 0) {
        free(marks);
        return NULL;
    }
    return marks;
}

static int dest_start(const char *cmd, const struct tw_config *c,
                      struct log *events, struct serve_dest *sd)
{
    const struct cfg_destination *d = sd->cfg;
    struct deliver_options o;
    struct deliver_marks *marks;
    char dlq[256];
    int rc;

    snprintf(dlq, sizeof(dlq), "%s/%s", CLI_DLQ_DIR, d->name);
    rc = routes_of(cmd, c, sd);
    if (rc == 0) {
        rc = compile_shape(c, d, &sd->shape);
    }
    if (rc == 0) {
        rc = cli_log_open(cmd, c, dlq, 1, false, &sd->dlq);
    }
    if (rc == 0 && (rc = make_sink(c, d, &sd->sink)) != 0) {
        fprintf(stderr, "trackway %s: destination %s: %s\n", cmd, d->name,
                tw_err_message());
    }
    if (rc != 0) {
        return rc;
    }
    deliver_options_init(&o);
    o.name = d->name;
    o.events = events;
    o.dlq = sd->dlq;
    o.sink = sd->sink;
    o.route = route_cb;
    o.route_ctx = sd;
    o.batch_max_events = d->batch_max_events;
    o.batch_max_bytes = d->batch_max_bytes;
    o.batch_max_wait_ms = d->batch_max_wait_ms;
    o.max_attempts = d->max_attempts;
    o.backoff_min_ms = d->backoff_min_ms;
    o.backoff_max_ms = d->backoff_max_ms;
    o.breaker_failures = d->breaker_failures;
    o.breaker_open_ms = d->breaker_open_ms;
    o.start_at_end = d->start_at_end;
    o.backlog_skip = d->backlog_skip;
    o.tick = tick_cb;
    o.tick_ctx = sd;
    delivery_pause_path(c, d->name, sd->pause_path, sizeof(sd->pause_path));
    delivery_replay_path(c, d->name, sd->replay_path, sizeof(sd->replay_path));
    sd->events = events;
    sd->paused = d->paused || pause_requested(sd);
    o.start_paused = sd->paused;
    marks = previous_marks(c, d->name, events, &o.previous_marks_count);
    o.previous_marks = marks;
    rc = deliver_dest_start(&o, &sd->running);
    if (rc != 0) {
        fprintf(stderr, "trackway %s: destination %s: %s\n", cmd, d->name,
                tw_err_message());
    }
    free(marks);
    return rc;
}

void delivery_pause_path(const struct tw_config *c, const char *dest, char *out,
                         size_t size)
{
    snprintf(out, size, "%s/%s/%s.paused", c->storage.path,
             DELIVERY_CONTROL_DIR, dest);
}

int delivery_start(const char *cmd, const struct tw_config *c,
                   struct log *events, struct serve_delivery **out)
{
    struct serve_delivery *d = calloc(1, sizeof(*d));
    char control[4096];
    int rc = 0;

    /* Where pause and replay jobs come from, and status files go. */
    snprintf(control, sizeof(control), "%s/%s", c->storage.path,
             DELIVERY_CONTROL_DIR);
    if (mkdir(control, 0755) != 0 && errno != EEXIST) {
        OBS_LOG(OBS_WARN, "serve", "cannot create the control folder",
                "path=%s errno=%d", control, errno);
    }
    if (d == NULL || (d->dests = calloc(c->destination_count + 1,
                                        sizeof(*d->dests))) == NULL) {
        free(d);
        return tw_err_set(TW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->destination_count && rc == 0; i++) {
        d->dests[i].cfg = &c->destinations[i];
        d->dests[i].config = c;
        d->count = i + 1;
        rc = dest_start(cmd, c, events, &d->dests[i]);
    }
    if (rc != 0) {
        delivery_stop(d);
        return rc;
    }
    *out = d;
    return 0;
}

void delivery_stop(struct serve_delivery *d)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->count; i++) {
        struct serve_dest *sd = &d->dests[i];

        deliver_dest_stop(sd->running);
        sink_destroy(sd->sink);
        if (sd->dlq != NULL) {
            log_close(sd->dlq);
        }
        for (size_t k = 0; k < sd->route_count; k++) {
            route_filter_free(sd->routes[k].filter);
        }
        free(sd->routes);
        route_scratch_free(sd->scratch);
        route_shape_free(sd->shape);
        route_filter_free(sd->replay_where);
        tw_json_parser_free(sd->job_parser);
    }
    free(d->dests);
    free(d);
}

struct dest_family {
    const char *name;
    const char *type;
    const char *help;
    size_t field;
};

static const struct dest_family dest_families[] = {
    {"trackway_dest_events_delivered_total", "counter",
     "Events the destination acknowledged, replayed ones included.",
     offsetof(struct deliver_stats, events_delivered)},
    {"trackway_dest_events_replayed_total", "counter",
     "Events a replay (trackway replay, dlq replay) delivered again.",
     offsetof(struct deliver_stats, events_replayed)},
    {"trackway_dest_replay_remaining_offsets", "gauge",
     "Offsets the running replay has still to read, all partitions; 0 "
     "when none runs.",
     offsetof(struct deliver_stats, replay_remaining)},
    {"trackway_dest_replays_total", "counter",
     "Replays that finished or were cancelled.",
     offsetof(struct deliver_stats, replays_done)},
    {"trackway_dest_events_lost_total", "counter",
     "Events retention removed before this destination (backlog: skip) "
     "read them.",
     offsetof(struct deliver_stats, events_lost)},
    {"trackway_dest_events_skipped_total", "counter",
     "Events its routes did not send on.",
     offsetof(struct deliver_stats, events_skipped)},
    {"trackway_dest_events_dead_total", "counter",
     "Events sent to its dead-letter log (trackway trace, the DLQ).",
     offsetof(struct deliver_stats, events_dead)},
    {"trackway_dest_batches_retried_total", "counter",
     "Batches sent again after a failure.",
     offsetof(struct deliver_stats, batches_retried)},
    {"trackway_dest_breaker_opened_total", "counter",
     "Times the circuit breaker opened: the destination kept failing.",
     offsetof(struct deliver_stats, breaker_opened)},
    {"trackway_dest_lag_events", "gauge",
     "Events stored but not yet delivered (or dead-lettered).",
     offsetof(struct deliver_stats, lag)},
};

/* What every sink counts (sink.h), by destination. */
static void delivery_sink_metrics(struct serve_delivery *d, struct tw_buf *out)
{
    static const char *const outcomes[] = {"ok", "retry", "rejected"};
    struct sink_stats *st = calloc(d->count, sizeof(*st));
    char labels[200];

    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < d->count; i++) {
        sink_stats(d->dests[i].sink, &st[i]);
    }
    obs_metric_family(out, "trackway_sink_batches_total", "counter",
                      "Batches the sink finished, by outcome.");
    for (size_t i = 0; i < d->count; i++) {
        const uint64_t by[] = {st[i].batches_ok, st[i].batches_retry,
                               st[i].batches_rejected};
        for (int k = 0; k < 3; k++) {
            snprintf(labels, sizeof(labels),
                     "destination=\"%s\",outcome=\"%s\"", d->dests[i].cfg->name,
                     outcomes[k]);
            obs_metric_u64(out, "trackway_sink_batches_total", labels, by[k]);
        }
    }
    obs_metric_family(out, "trackway_sink_bytes_total", "counter",
                      "Bytes the sink handed to its destination.");
    for (size_t i = 0; i < d->count; i++) {
        snprintf(labels, sizeof(labels), "destination=\"%s\"",
                 d->dests[i].cfg->name);
        obs_metric_u64(out, "trackway_sink_bytes_total", labels,
                       st[i].bytes_out);
    }
    obs_metric_family(out, "trackway_sink_in_flight", "gauge",
                      "Batches out at the destination now.");
    for (size_t i = 0; i < d->count; i++) {
        snprintf(labels, sizeof(labels), "destination=\"%s\"",
                 d->dests[i].cfg->name);
        obs_metric_u64(out, "trackway_sink_in_flight", labels, st[i].in_flight);
    }
    free(st);
}

/*
 * The file sink's group commit, per file destination: syncs against the
 * batches they made durable says how many batches one sync carries.
 */
static void delivery_file_sink_metrics(struct serve_delivery *d,
                                       struct tw_buf *out)
{
    static const struct {
        const char *name;
        const char *help;
        size_t field;
    } families[] = {
        {"trackway_sink_file_syncs_total",
         "fdatasyncs of the file sink's active file for batches.",
         offsetof(struct sink_file_stats, syncs)},
        {"trackway_sink_file_batches_synced_total",
         "Batches those fdatasyncs made durable (over syncs: batches per "
         "sync).",
         offsetof(struct sink_file_stats, batches_synced)},
    };
    struct sink_file_stats *st = calloc(d->count, sizeof(*st));
    bool any = false;
    char labels[160];

    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < d->count; i++) {
        if (d->dests[i].cfg->type == CFG_DEST_FILE) {
            sink_file_stats(d->dests[i].sink, &st[i]);
            any = true;
        }
    }
    for (size_t f = 0; any && f < sizeof(families) / sizeof(families[0]); f++) {
        obs_metric_family(out, families[f].name, "counter", families[f].help);
        for (size_t i = 0; i < d->count; i++) {
            if (d->dests[i].cfg->type != CFG_DEST_FILE) {
                continue;
            }
            snprintf(labels, sizeof(labels), "destination=\"%s\"",
                     d->dests[i].cfg->name);
            obs_metric_u64(
                out, families[f].name, labels,
                *(const uint64_t *)((const char *)&st[i] + families[f].field));
        }
    }
    free(st);
}

/* The destination's states, each a gauge of 0 or 1. */
static const struct dest_family dest_flags[] = {
    {"trackway_dest_breaker_open", "gauge",
     "1 while the circuit breaker holds batches back.",
     offsetof(struct deliver_stats, breaker_open)},
    {"trackway_dest_paused", "gauge",
     "1 while the destination is paused (trackway dest).",
     offsetof(struct deliver_stats, paused)},
    {"trackway_dest_replay_active", "gauge",
     "1 while a replay runs beside live delivery.",
     offsetof(struct deliver_stats, replay_active)},
};

void delivery_metrics(void *ctx, struct tw_buf *out)
{
    struct serve_delivery *d = ctx;
    struct deliver_stats *st;
    char labels[160];

    if (d == NULL || d->count == 0) {
        return;
    }
    st = calloc(d->count, sizeof(*st));
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < d->count; i++) {
        deliver_dest_stats(d->dests[i].running, &st[i]);
    }
    for (size_t f = 0; f < sizeof(dest_families) / sizeof(dest_families[0]);
         f++) {
        obs_metric_family(out, dest_families[f].name, dest_families[f].type,
                          dest_families[f].help);
        for (size_t i = 0; i < d->count; i++) {
            snprintf(labels, sizeof(labels), "destination=\"%s\"",
                     d->dests[i].cfg->name);
            obs_metric_u64(out, dest_families[f].name, labels,
                           *(const uint64_t *)((const char *)&st[i] +
                                               dest_families[f].field));
        }
    }
    for (size_t f = 0; f < sizeof(dest_flags) / sizeof(dest_flags[0]); f++) {
        obs_metric_family(out, dest_flags[f].name, "gauge", dest_flags[f].help);
        for (size_t i = 0; i < d->count; i++) {
            snprintf(labels, sizeof(labels), "destination=\"%s\"",
                     d->dests[i].cfg->name);
            obs_metric_u64(
                out, dest_flags[f].name, labels,
                *(const bool *)((const char *)&st[i] + dest_flags[f].field));
        }
    }
    obs_metric_family(out, "trackway_dest_status_write_failures_total",
                      "counter",
                      "Times the status file trace reads could not be "
                      "written (its age then shows in trace).");
    for (size_t i = 0; i < d->count; i++) {
        snprintf(labels, sizeof(labels), "destination=\"%s\"",
                 d->dests[i].cfg->name);
        obs_metric_u64(out, "trackway_dest_status_write_failures_total", labels,
                       atomic_load(&d->dests[i].status_write_failures));
    }
    delivery_sink_metrics(d, out);
    delivery_file_sink_metrics(d, out);
    free(st);
}

void delivery_replay_path(const struct tw_config *c, const char *dest,
                          char *out, size_t size)
{
    snprintf(out, size, "%s/%s/%s.replay", c->storage.path,
             DELIVERY_CONTROL_DIR, dest);
}
