/*
 * cli_trace.c - `trackway trace MESSAGE_ID`: where one event is.
 *
 * The first thing an on-call engineer runs when a team says "my event
 * never arrived": it finds the event in the events log (when, which
 * partition and offset, which plan version judged it) or in the
 * failed-events log (why it failed), and, for each destination a route
 * sends its source to, whether it was delivered (and about when), is
 * being sent, is waiting for a retry (after which error, until when), is
 * still pending (behind how many events), or was dead-lettered (when and
 * why). The cursors and logs are the truth; the running server's status
 * file (cli/dest_status.h) adds the times and the retries. Everything is
 * read read-only, beside a live server; the logs are scanned from --since
 * (default: everything stored), so narrowing it makes a trace faster.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/dest_status.h"
#include "cli/show.h"
#include "cli/storage.h"
#include "common/clock.h"
#include "common/units.h"
#include "deliver/deliver.h"
#include "json/json.h"
#include "route/filter.h"

static const char trace_help[] =
    "Usage: trackway trace -c CONFIG MESSAGE_ID [--since TIME]\n"
    "\n"
    "Says where one event is: accepted (when, which partition and offset,\n"
    "which plan version judged it) or failed (why), and for every\n"
    "destination a route sends its source to: delivered (when),\n"
    "being sent, retrying (after which error, next try when), pending\n"
    "(behind how many events), or dead-lettered (when, why, after how\n"
    "many attempts).\n"
    "Reads the logs read-only, so it runs beside 'trackway serve'.\n"
    "Exits 0 when the event was found, 1 when it was not.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  the configuration 'trackway serve' runs with\n"
    "      --since TIME   only look at events received at or after TIME\n"
    "                     (ISO-8601 or milliseconds; default: all stored)\n"
    "\n"
    "Example:\n"
    "  trackway trace -c config/sample.yaml ajs-next-1733300000000-4f1c\n";

struct trace_hit {
    uint32_t partition;
    uint64_t offset;
    int64_t received_ms;
    char source[80];
    char *value; /* the stored record, NUL-terminated */
};

struct trace {
    const struct tw_config *config;
    const char *id;
    int64_t since_ms;
    bool has_since;
    struct tw_json_parser *parser;
};

static bool key_matches(const struct log_record *rec, const char *id,
                        char *source, size_t size)
{
    const char *key = rec->key;
    const char *slash = memchr(key, '/', rec->key_len);
    size_t id_len = strlen(id);

    if (slash == NULL || (size_t)(key + rec->key_len - (slash + 1)) != id_len ||
        memcmp(slash + 1, id, id_len) != 0) {
        return false;
    }
    snprintf(source, size, "%.*s", (int)(slash - key), key);
    return true;
}

/* Scans every partition of log for records keyed "<source>/<id>". */
static int scan(struct trace *t, struct log *log, struct trace_hit *hits,
                size_t max, size_t *found)
{
    *found = 0;
    for (uint32_t p = 0; p < log_partitions(log); p++) {
        struct log_partition_info info;
        struct log_reader *r;
        struct log_record rec;
        uint64_t from;
        int rc = log_partition_info(log, p, &info);

        from = info.start_offset;
        if (rc == 0 && t->has_since) {
            rc = log_offset_for_time(log, p, t->since_ms, &from);
        }
        if (rc == 0) {
            rc = log_reader_open(log, p, from, &r);
        }
        if (rc != 0) {
            return rc;
        }
        while ((rc = log_reader_next(r, &rec)) == 1) {
            struct trace_hit *h = &hits[*found];

            if (*found == max ||
                !key_matches(&rec, t->id, h->source, sizeof(h->source))) {
                continue;
            }
            h->partition = p;
            h->offset = rec.offset;
            h->received_ms = rec.timestamp_ms;
            h->value = strndup(rec.value, rec.value_len);
            (*found)++;
        }
        log_reader_close(r);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* Whether a route's filter lets the stored event through. */
static bool filter_passes(struct trace *t, const struct cfg_route *r,
                          const struct trace_hit *h)
{
    struct route_filter *filter;
    struct route_scratch *scratch;
    struct route_error err;
    struct tw_json event;
    bool pass = false;

    if (r->where == NULL) {
        return true;
    }
    if (route_filter_compile(r->where, strlen(r->where), NULL, &filter, &err) !=
        0) {
        return false; /* `trackway check` reports it */
    }
    if (route_scratch_new(&scratch) == 0) {
        pass =
            tw_json_parse(t->parser, h->value, strlen(h->value), &event) == 0 &&
            route_filter_match(filter, event, scratch);
        route_scratch_free(scratch);
    }
    route_filter_free(filter);
    return pass;
}

enum trace_route {
    TRACE_NOT_ROUTED, /* no route names both its source and dest */
    TRACE_FILTERED,   /* routes name them, no filter lets it through */
    TRACE_ROUTED,
};

/* What the routes of the configuration do with this event for dest. */
static enum trace_route routed(struct trace *t, const struct trace_hit *h,
                               const char *dest)
{
    const struct tw_config *c = t->config;
    enum trace_route verdict = TRACE_NOT_ROUTED;

    for (size_t i = 0; i < c->route_count; i++) {
        const struct cfg_route *r = &c->routes[i];
        bool from = false;
        bool to = false;

        for (size_t k = 0; k < r->from_count; k++) {
            from = from || strcmp(r->from[k], "*") == 0 ||
                   strcmp(r->from[k], h->source) == 0;
        }
        for (size_t k = 0; k < r->to_count; k++) {
            to = to || strcmp(r->to[k], dest) == 0;
        }
        if (from && to) {
            if (filter_passes(t, r, h)) {
                return TRACE_ROUTED;
            }
            verdict = TRACE_FILTERED;
        }
    }
    return verdict;
}

/* The dead-letter record of id in dest's dead-letter log, or NULL; *at_ms
 * is when it was written. */
static char *dead_letter_of(struct trace *t, const char *dest, int64_t *at_ms)
{
    char name[256];
    struct log *dlq;
    struct log_reader *r;
    struct log_record rec;
    char *found = NULL;
    size_t id_len = strlen(t->id);

    snprintf(name, sizeof(name), "%s/%s", CLI_DLQ_DIR, dest);
    if (cli_log_open("trace", t->config, name, 0, true, &dlq) != 0) {
        return NULL;
    }
    if (log_reader_open(dlq, 0, 0, &r) == 0) {
        while (log_reader_next(r, &rec) == 1) {
            if (rec.key_len == id_len && memcmp(rec.key, t->id, id_len) == 0) {
                free(found);
                found = strndup(rec.value, rec.value_len);
                *at_ms = rec.timestamp_ms;
            }
        }
        log_reader_close(r);
    }
    log_close(dlq);
    return found;
}

/* A status file older than this says the server may not be running. */
#define TRACE_STATUS_FRESH_MS 10000

/*
 * When the commit that delivered the event happened, from the status
 * file's marks: an exact time for recent deliveries, a window that
 * widens with age for older ones (deliver/marks.h); older than every
 * mark: only that it was before the first.
 */
static void print_delivered(const struct cfg_destination *d,
                            const struct trace_hit *h,
                            const struct dest_status *st, bool have_status)
{
    char first[TW_TIME_TEXT_MAX];
    char last[TW_TIME_TEXT_MAX];
    int64_t first_ms;
    int64_t last_ms;
    bool before = false;
    bool known =
        have_status && deliver_marks_when(&st->part.marks, h->offset, &first_ms,
                                          &last_ms, &before);

    if (known) {
        tw_format_time(first_ms, first, sizeof(first));
        tw_format_time(last_ms, last, sizeof(last));
        if (first_ms == last_ms) {
            printf("  %-16s delivered at %s\n", d->name, first);
        } else {
            printf("  %-16s delivered between %s and %s\n", d->name, first,
                   last);
        }
    } else if (before) {
        tw_format_time(st->part.marks.mark[0].first_ms, first, sizeof(first));
        printf("  %-16s delivered before %s\n", d->name, first);
    } else {
        printf("  %-16s delivered\n", d->name);
    }
}

static void print_waiting(const struct cfg_destination *d,
                          const struct trace_hit *h, uint64_t next,
                          const struct dest_status *st, bool have_status)
{
    const struct deliver_part_status *s = &st->part;
    bool in_batch =
        have_status && s->batch_from <= h->offset && h->offset < s->batch_to;
    char when[TW_TIME_TEXT_MAX];

    if (in_batch && s->retry_at_ms > 0) {
        tw_format_time(s->retry_at_ms, when, sizeof(when));
        printf("  %-16s retrying: attempt %u failed (status %d: %.160s); "
               "next try at %s",
               d->name, s->attempt, s->last_status, s->last_error, when);
    } else if (in_batch && s->in_flight) {
        printf("  %-16s being sent: attempt %u", d->name, s->attempt);
    } else {
        printf("  %-16s pending: %" PRIu64 " events of partition %u before "
               "it",
               d->name, h->offset - next, h->partition);
    }
    printf("%s%s\n", have_status && st->paused ? "; destination paused" : "",
           have_status && st->breaker_open ? "; circuit breaker open" : "");
}

static void trace_destination(struct trace *t, struct log *events,
                              const struct trace_hit *h,
                              const struct cfg_destination *d)
{
    char cursor[LOG_CURSOR_NAME_MAX + 1];
    enum trace_route route = routed(t, h, d->name);
    struct dest_status st;
    bool have_status;
    uint64_t next = 0;
    int64_t dead_ms = 0;
    char *dead;
    struct tw_json root;
    char a[64];
    char b[300];
    char when[TW_TIME_TEXT_MAX];

    if (route == TRACE_NOT_ROUTED) {
        printf("  %-16s not routed from source %s\n", d->name, h->source);
        return;
    }
    if (route == TRACE_FILTERED) {
        printf("  %-16s not sent: no route's filter matches it\n", d->name);
        return;
    }
    have_status = dest_status_read(t->config, d->name, h->partition, &st) == 0;
    deliver_cursor_name(d->name, cursor, sizeof(cursor));
    if (log_cursor_get(events, cursor, h->partition, &next) != 0 ||
        next <= h->offset) {
        print_waiting(d, h, next, &st, have_status);
        if (have_status &&
            tw_now_ms() - st.written_ms > TRACE_STATUS_FRESH_MS) {
            tw_format_time(st.written_ms, when, sizeof(when));
            printf("  %-16s (its status is from %s: is trackway serve "
                   "running?)\n",
                   "", when);
        }
        return;
    }
    dead = dead_letter_of(t, d->name, &dead_ms);
    if (dead != NULL &&
        tw_json_parse(t->parser, dead, strlen(dead), &root) == 0) {
        char attempts[24];
        tw_format_time(dead_ms, when, sizeof(when));
        printf("  %-16s dead-lettered at %s: %s after %s attempts: %s\n",
               d->name, when, show_text(root, "reason", a, sizeof(a)),
               show_text(root, "attempts", attempts, sizeof(attempts)),
               show_text(root, "error", b, sizeof(b)));
    } else {
        print_delivered(d, h, &st, have_status);
    }
    free(dead);
}

static void print_accepted(struct trace *t, struct log *events,
                           const struct trace_hit *h)
{
    struct tw_json root;
    char when[TW_TIME_TEXT_MAX];
    char a[128];
    char b[64];

    tw_format_time(h->received_ms, when, sizeof(when));
    printf("accepted  source %s, partition %u, offset %" PRIu64
           ", received %s\n",
           h->source, h->partition, h->offset, when);
    if (tw_json_parse(t->parser, h->value, strlen(h->value), &root) == 0) {
        printf("          %s %s", show_text(root, "type", b, sizeof(b)),
               show_text(root, "event", a, sizeof(a)));
        if (strcmp(show_text(root, "context.trackway.plan", a, sizeof(a)),
                   "-") != 0) {
            printf(
                ", judged by plan %s version %s", a,
                show_text(root, "context.trackway.planVersion", b, sizeof(b)));
        }
        printf("\n");
    }
    if (t->config->destination_count == 0) {
        printf("  no destinations are configured\n");
    }
    for (size_t i = 0; i < t->config->destination_count; i++) {
        trace_destination(t, events, h, &t->config->destinations[i]);
    }
}

static void print_failed(struct trace *t, const struct trace_hit *h)
{
    struct tw_json root;
    struct tw_json list;
    struct tw_json v;
    struct tw_json_iter it;
    char when[TW_TIME_TEXT_MAX];
    char a[64];
    char b[300];

    tw_format_time(h->received_ms, when, sizeof(when));
    printf("failed    source %s, failed-events offset %" PRIu64
           ", received %s\n",
           h->source, h->offset, when);
    if (tw_json_parse(t->parser, h->value, strlen(h->value), &root) != 0) {
        return;
    }
    printf("          reason %s", show_text(root, "reason", a, sizeof(a)));
    if (strcmp(show_text(root, "error", b, sizeof(b)), "-") != 0) {
        printf(": %s", b);
    }
    printf("\n");
    if (tw_json_get(root, "violations", &list) &&
        tw_json_type(list) == TW_JSON_ARRAY) {
        tw_json_iter_init(&it, list);
        while (tw_json_array_next(&it, &v)) {
            printf("          %s: %s\n", show_text(v, "pointer", a, sizeof(a)),
                   show_text(v, "message", b, sizeof(b)));
        }
    }
    printf("          see: trackway failed show -c %s %" PRIu64 "\n",
           t->config->file, h->offset);
}

enum {
    TRACE_MAX_HITS = 16
};

static int trace_run(struct trace *t)
{
    struct trace_hit accepted[TRACE_MAX_HITS];
    struct trace_hit failed[TRACE_MAX_HITS];
    size_t n_accepted = 0;
    size_t n_failed = 0;
    struct cli_storage st;
    int rc = cli_storage_open("trace", t->config, true, &st);

    if (rc != 0) {
        return CLI_EXIT_USAGE;
    }
    rc = scan(t, st.events, accepted, TRACE_MAX_HITS, &n_accepted);
    if (rc == 0) {
        rc = scan(t, st.failed, failed, TRACE_MAX_HITS, &n_failed);
    }
    if (rc != 0) {
        fprintf(stderr, "trackway trace: %s\n", tw_err_message());
    }
    for (size_t i = 0; i < n_accepted; i++) {
        print_accepted(t, st.events, &accepted[i]);
        free(accepted[i].value);
    }
    for (size_t i = 0; i < n_failed; i++) {
        print_failed(t, &failed[i]);
        free(failed[i].value);
    }
    if (rc == 0 && n_accepted + n_failed == 0) {
        printf("no event with messageId %s%s: not received, or removed by "
               "retention, or sent without this messageId (the collector "
               "assigns one when none is sent)\n",
               t->id, t->has_since ? " since then" : "");
    }
    cli_storage_close(&st);
    return rc != 0 ? CLI_EXIT_FAIL
                   : (n_accepted + n_failed > 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL);
}

int cli_trace_main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"since", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct trace t = {0};
    const char *config_path = NULL;
    struct tw_config *config;
    int status;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, ":hc:", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(trace_help, stdout);
            return CLI_EXIT_OK;
        } else if (c == 'c') {
            config_path = optarg;
        } else if (c == 'S' && tw_parse_time(optarg, &t.since_ms) == 0) {
            t.has_since = true;
        } else {
            fprintf(stderr,
                    "trackway trace: bad option %s\nRun 'trackway "
                    "trace --help'.\n",
                    argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    if (config_path == NULL || optind != argc - 1) {
        fprintf(stderr, "trackway trace: needs -c CONFIG and one "
                        "MESSAGE_ID\nRun 'trackway trace --help'.\n");
        return CLI_EXIT_USAGE;
    }
    t.id = argv[optind];
    config = cli_config_load("trace", config_path);
    if (config == NULL) {
        return CLI_EXIT_USAGE;
    }
    t.config = config;
    if (tw_json_parser_new(16u << 20, 0, &t.parser) != 0) {
        config_free(config);
        return CLI_EXIT_USAGE;
    }
    status = trace_run(&t);
    tw_json_parser_free(t.parser);
    config_free(config);
    return status;
}
