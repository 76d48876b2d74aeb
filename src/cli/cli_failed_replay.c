/*
 * cli_failed_replay.c - `trackway failed replay`: the failed-events log,
 * or a slice of it, sent again to the running collector, so that events
 * a fixed plan now accepts are stored.
 *
 * The collector holds the logs' write lock, so the events go through its
 * own /v1/batch, with the write key of the source each came from: it
 * judges them again, stores what passes as accepted and fails the rest
 * with their new reason. Each event keeps its messageId (the one its key
 * names, which is the collector's own when the client sent none), so the
 * dedup set stores an event replayed twice once. The old log is only
 * read: it is append-only, and what still fails gets a new record.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/follow.h"
#include "cli/http_client.h"
#include "common/clock.h"
#include "common/units.h"
#include "json/json_write.h"

#define REPLAY_EVENT_MAX (16u << 20)
#define REPLAY_PROGRESS_NS 100000000ull
#define REPLAY_SOURCE_MAX 128
/* Under the collector's default max_body_bytes (512 KiB), as send's. */
#define REPLAY_BATCH_BYTES (450u * 1024)

static const char replay_help[] =
    "Usage: trackway failed replay -c CONFIG [--url URL] [--source NAME]\n"
    "                              [--reason REASON] [--event NAME]\n"
    "                              [--since TIME] [--until TIME]\n"
    "                              [--batch N] [--retries N] [--dry-run]\n"
    "                              [--no-progress]\n"
    "\n"
    "Sends the failed events that match, exactly as their clients sent\n"
    "them, to the running collector's /v1/batch with the first write key\n"
    "of each event's source, so they are judged again by the plan it runs\n"
    "now: those that pass are stored as accepted, the rest get a new\n"
    "failed record with their new reason. Each event keeps its messageId\n"
    "(the collector's own when the client sent none), so an event replayed\n"
    "twice within the dedup window is stored once. Replayed events get a\n"
    "new receivedAt: the time of the replay. The failed-events log itself\n"
    "is only read. Retries are those of 'trackway send'. Exits 0 when every\n"
    "matching event was sent and answered 200, 1 otherwise.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE    the configuration 'trackway serve' runs with\n"
    "  -u, --url URL        the collector (default: http:// and its\n"
    "                       server.listen, 0.0.0.0 read as 127.0.0.1)\n"
    "      --source NAME    only this source\n"
    "      --reason REASON  malformed, too_large, unplanned or invalid\n"
    "      --event NAME     only track events of this name\n"
    "      --since TIME     from the first failed at or after TIME\n"
    "      --until TIME     only those failed before TIME\n"
    "  -b, --batch N        events per request (default 100, and 450KiB\n"
    "                       at most unless one event is larger)\n"
    "      --retries N      attempts per batch after the first (default 8)\n"
    "  -n, --dry-run        print what would be sent (NDJSON), send nothing\n"
    "      --no-progress    no progress line, even on a terminal\n"
    "\n"
    "Example:\n"
    "  trackway failed replay -c trackway.yaml --reason invalid \\\n"
    "      --since 2026-12-04T09:00:00Z\n";

struct replay_state {
    const char *config_path;
    const char *url;
    bool dry_run;
    bool progress;
    int64_t until_ms; /* INT64_MAX: no --until */
    uint64_t batch_max;
    uint64_t retries;
    struct http_client *http;
    struct http_batch batch;
    struct tw_buf event;
    char source[REPLAY_SOURCE_MAX]; /* of the batch being built */
    uint64_t read;
    uint64_t skipped; /* no event, or a source without a write key */
    uint64_t start_ns;
    uint64_t drawn_ns;
    bool fatal; /* the collector cannot be reached, or refused the key */
};

static int replay_usage(const char *what, const char *arg)
{
    fprintf(stderr,
            "trackway failed replay: %s%s\nRun 'trackway failed replay "
            "--help'.\n",
            what, arg);
    return CLI_EXIT_USAGE;
}

static void replay_progress(struct replay_state *s, bool final)
{
    uint64_t now = tw_monotonic_ns();
    double secs = (double)(now - s->start_ns) / 1e9;

    if (!s->progress || (!final && now - s->drawn_ns < REPLAY_PROGRESS_NS)) {
        return;
    }
    s->drawn_ns = now;
    fprintf(stderr, "\r  %" PRIu64 " read, %" PRIu64 " sent, %.0f/s", s->read,
            s->batch.taken, secs > 0 ? (double)s->batch.taken / secs : 0.0);
    fputs(final ? "\n" : "   ", stderr);
}

static const struct cfg_source *source_named(const struct tw_config *config,
                                             const char *name)
{
    for (size_t i = 0; i < config->source_count; i++) {
        if (strcmp(config->sources[i].name, name) == 0) {
            return &config->sources[i];
        }
    }
    return NULL;
}

static void flush_batch(struct replay_state *s)
{
    char whose[REPLAY_SOURCE_MAX + 16];
    long status;

    if (s->batch.events == 0) {
        return; /* keeps fatal as it was */
    }
    snprintf(whose, sizeof(whose), " of source '%s'", s->source);
    status = http_client_post_batch(s->http, &s->batch, whose);
    s->fatal = status == 0 || status == 401;
    replay_progress(s, false);
}

/* The event as it goes out: its messageId put in from the key when it
 * has none, so the replay keeps the id the collector gave it. */
static void write_event(struct replay_state *s, struct tw_json event,
                        const char *id, size_t id_len)
{
    struct tw_json v;

    tw_buf_reset(&s->event);
    if (tw_json_type(event) != TW_JSON_OBJECT || id_len == 0 ||
        tw_json_get(event, "messageId", &v)) {
        tw_jw_value(&s->event, event);
        return;
    }
    tw_buf_puts(&s->event, "{\"messageId\":");
    tw_jw_string(&s->event, id, id_len);
    if (tw_json_count(event) == 0) {
        tw_buf_putc(&s->event, '}');
        return;
    }
    tw_buf_putc(&s->event, ',');
    size_t start = s->event.len;
    tw_jw_value(&s->event, event);
    /* Drop the '{' tw_jw_value opened the object with. */
    if (s->event.status == 0 && s->event.len > start) {
        memmove(s->event.data + start, s->event.data + start + 1,
                s->event.len - start);
        s->event.len--;
    }
}

static void add_event(struct replay_state *s, const char *source)
{
    /* A batch holds one source's events: source_ready posted the last
     * source's batch before it set the new key. */
    if (http_batch_full(&s->batch, s->event.len)) {
        flush_batch(s);
    }
    if (s->fatal) {
        return;
    }
    if (s->batch.events == 0) {
        snprintf(s->source, sizeof(s->source), "%s", source);
    }
    tw_buf_append(http_batch_add(&s->batch), s->event.data, s->event.len);
}

/* The collector's base URL when --url is not given: where it listens,
 * with a wildcard address read as loopback. The caller frees it. */
static char *default_url(const struct tw_config *config)
{
    const char *host = config->server.host;
    char *url;

    if (host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
        host = "127.0.0.1";
    } else if (strcmp(host, "::") == 0) {
        host = "::1";
    }
    if (asprintf(&url,
                 strchr(host, ':') != NULL ? "http://[%s]:%u" : "http://%s:%u",
                 host, (unsigned)config->server.port) < 0) {
        return NULL;
    }
    return url;
}

static int replay_connect(struct replay_state *s,
                          const struct tw_config *config)
{
    struct http_client_opts opts = {.cmd = "failed replay",
                                    .agent = "trackway-replay/" CLI_VERSION,
                                    .retries = s->retries,
                                    .progress = s->progress,
                                    .max_body = REPLAY_EVENT_MAX + 64};
    char *fallback = s->url == NULL ? default_url(config) : NULL;
    int rc;

    if (s->url == NULL && fallback == NULL) {
        fprintf(stderr, "trackway failed replay: out of memory\n");
        return -1;
    }
    rc = http_client_new(&opts, s->url != NULL ? s->url : fallback, &s->http);
    free(fallback);
    if (rc != 0) {
        fprintf(stderr, "trackway failed replay: %s\n", tw_err_message());
        return -1;
    }
    return 0;
}

/* Whether the record's source has a key to send with; sets it. */
static bool source_ready(struct replay_state *s, const struct tw_config *config,
                         const char *source, uint64_t offset)
{
    const struct cfg_source *src = source_named(config, source);

    if (src == NULL || src->write_key_count == 0) {
        fprintf(stderr,
                "%strackway failed replay: offset %" PRIu64 ": source '%s' "
                "%s in the configuration; skipped\n",
                s->progress ? "\n" : "", offset, source,
                src == NULL ? "is not" : "has no write key");
        return false;
    }
    if (!s->dry_run && s->http == NULL && replay_connect(s, config) != 0) {
        s->fatal = true;
        return false;
    }
    if (!s->dry_run &&
        (s->batch.events == 0 || strcmp(s->source, source) != 0)) {
        flush_batch(s);
        http_client_set_key(s->http, src->write_keys[0]);
    }
    return true;
}

static void replay_record(struct follow_run *t, uint32_t partition,
                          const struct log_record *rec)
{
    struct replay_state *s = t->print_ctx;
    struct tw_json root = t->parsed;
    struct tw_json event;
    char source[REPLAY_SOURCE_MAX];
    const char *key = rec->key;
    const char *slash = memchr(key, '/', rec->key_len);

    if (rec->timestamp_ms >= s->until_ms) {
        return;
    }
    s->read++;
    bool readable = t->has_parsed || tw_json_parse(t->parser, rec->value,
                                                   rec->value_len, &root) == 0;

    if (!readable || slash == NULL || (size_t)(slash - key) >= sizeof(source) ||
        tw_json_type(root) != TW_JSON_OBJECT ||
        !tw_json_get(root, "event", &event)) {
        s->skipped++;
        fprintf(stderr,
                "%strackway failed replay: offset %" PRIu64 " in partition "
                "%u: unreadable record; skipped\n",
                s->progress ? "\n" : "", rec->offset, partition);
        return;
    }
    snprintf(source, sizeof(source), "%.*s", (int)(slash - key), key);
    if (!source_ready(s, t->config, source, rec->offset)) {
        s->skipped++;
        return;
    }
    write_event(s, event, slash + 1, rec->key_len - (size_t)(slash + 1 - key));
    if (s->event.status != 0) {
        s->skipped++;
        fprintf(stderr,
                "%strackway failed replay: offset %" PRIu64 ": the event is "
                "over %u bytes; skipped\n",
                s->progress ? "\n" : "", rec->offset, REPLAY_EVENT_MAX);
        return;
    }
    if (s->dry_run) {
        printf("%.*s\n", (int)s->event.len, s->event.data);
        return;
    }
    add_event(s, source);
    if (s->fatal) {
        /* Stop reading: follow_partition stops at the limit. */
        t->has_limit = true;
        t->limit = t->printed + 1;
    }
}

static void replay_summary(struct replay_state *s, int64_t start_ms)
{
    double secs = (double)(tw_monotonic_ns() - s->start_ns) / 1e9;
    struct http_client_stats hs = {0};
    char since[TW_TIME_TEXT_MAX];

    replay_progress(s, true);
    if (s->dry_run) {
        fprintf(stderr,
                "trackway failed replay: %" PRIu64 " failed events read, "
                "%" PRIu64 " would be sent, %" PRIu64
                " skipped (dry run: nothing sent)\n",
                s->read, s->read - s->skipped, s->skipped);
        return;
    }
    if (s->http != NULL) {
        http_client_stats(s->http, &hs);
    }
    fprintf(stderr,
            "trackway failed replay: %" PRIu64 " failed events read, %" PRIu64
            " sent in %" PRIu64 " requests (%" PRIu64 " retried, %" PRIu64
            " answered 200), %" PRIu64 " not taken, %" PRIu64
            " skipped, in %.2f s\n",
            s->read, s->batch.taken, hs.requests, hs.retried, hs.ok,
            s->batch.not_taken, s->skipped, secs);
    if (s->batch.taken > 0) {
        tw_format_time(start_ms, since, sizeof(since));
        fprintf(stderr,
                "Events that pass now are stored; those that still fail "
                "have new failed records:\n"
                "  trackway failed ls -c %s --since %s\n",
                s->config_path, since);
    }
}

static int replay_run(struct replay_state *s, struct follow_run *t,
                      enum follow_start start, int64_t since_ms)
{
    int64_t start_ms = tw_now_ms();
    int status;

    http_batch_init(&s->batch, s->batch_max, REPLAY_BATCH_BYTES,
                    REPLAY_EVENT_MAX + 64, false);
    tw_buf_init(&s->event, REPLAY_EVENT_MAX);
    s->start_ns = tw_monotonic_ns();
    t->print_ctx = s;
    status = follow_execute(t, s->config_path, start, since_ms, false,
                            replay_record);
    if (status == CLI_EXIT_OK && !s->fatal && !s->dry_run) {
        flush_batch(s);
    }
    if (status != CLI_EXIT_USAGE) {
        replay_summary(s, start_ms);
    }
    http_batch_free(&s->batch);
    tw_buf_free(&s->event);
    http_client_free(s->http);
    if (status != CLI_EXIT_OK) {
        return status;
    }
    return s->fatal || s->batch.not_taken > 0 || s->skipped > 0 ? CLI_EXIT_FAIL
                                                                : CLI_EXIT_OK;
}

int cli_failed_replay_main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"url", required_argument, NULL, 'u'},
        {"source", required_argument, NULL, 's'},
        {"reason", required_argument, NULL, 'r'},
        {"event", required_argument, NULL, 'e'},
        {"since", required_argument, NULL, 'S'},
        {"until", required_argument, NULL, 'U'},
        {"batch", required_argument, NULL, 'b'},
        {"retries", required_argument, NULL, 'R'},
        {"dry-run", no_argument, NULL, 'n'},
        {"no-progress", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct follow_run t = {.cmd = "failed replay", .failed_log = true};
    struct replay_state s = {.until_ms = INT64_MAX,
                             .batch_max = 100,
                             .retries = 8,
                             .progress = true};
    enum follow_start start = FOLLOW_FROM_START;
    int64_t since_ms = 0;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, ":hc:u:b:n", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(replay_help, stdout);
            return CLI_EXIT_OK;
        } else if (c == 'c') {
            s.config_path = optarg;
        } else if (c == 'u') {
            s.url = optarg;
        } else if (c == 's') {
            t.filter.source = optarg;
        } else if (c == 'r') {
            t.filter.reason = optarg;
        } else if (c == 'e') {
            t.filter.event = optarg;
        } else if (c == 'S') {
            if (tw_parse_time(optarg, &since_ms) != 0) {
                return replay_usage("--since: ", tw_err_message());
            }
            start = FOLLOW_FROM_TIME;
        } else if (c == 'U') {
            if (tw_parse_time(optarg, &s.until_ms) != 0) {
                return replay_usage("--until: ", tw_err_message());
            }
        } else if (c == 'b') {
            if (tw_parse_u64(optarg, &s.batch_max) != 0 || s.batch_max == 0) {
                return replay_usage("--batch needs a count of 1 or more: ",
                                    optarg);
            }
        } else if (c == 'R') {
            if (tw_parse_u64(optarg, &s.retries) != 0) {
                return replay_usage("--retries: ", tw_err_message());
            }
        } else if (c == 'n') {
            s.dry_run = true;
        } else if (c == 'P') {
            s.progress = false;
        } else {
            return replay_usage("bad option ", argv[optind - 1]);
        }
    }
    if (s.config_path == NULL || optind < argc) {
        return replay_usage(s.config_path == NULL ? "missing -c CONFIG"
                                                  : "unexpected argument ",
                            s.config_path == NULL ? "" : argv[optind]);
    }
    s.progress = s.progress && isatty(STDERR_FILENO);
    return replay_run(&s, &t, start, since_ms);
}
