/*
 * cli_log.c - `trackway log ...`: the operator's tools for the embedded
 * log in a directory.
 *
 *   stat    what each partition holds, and how far each cursor lags
 *   dump    records as NDJSON, from an offset or a time, or following
 *   check   log_check (check.h): every segment, index and cursor file
 *   repair  log_repair, or with --dry-run what it would do
 *   demo    append sample Segment-style events
 *   retain  one retention pass with the limits given
 *
 * stat and dump open the log read-only through the engine, so they work
 * beside a running server; check works on the files alone; repair, demo
 * and retain need the log to themselves. Exit statuses are in cli.h.
 */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/units.h"
#include "common/clock.h"
#include "common/error.h"
#include "log/check.h"
#include "log/cursor.h"
#include "log/embedded.h"
#include "log/log.h"

/* How often dump --follow looks for records another process appended. */
#define DUMP_FOLLOW_POLL_MS 500
/* Demo events are generated, appended and printed this many at a time. */
#define DEMO_CHUNK 256
/* Records per appended batch, about what an SDK sends at once. */
#define DEMO_BATCH_RECORDS 4
#define DEMO_USERS 16
#define DEMO_MAX_EVENTS 10000000u
#define DEMO_EVENT_MAX 640
/* Demo runs print each event up to this many, then a summary. */
#define DEMO_PRINT_MAX 50

struct log_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

/* ----------------------------------------------------------- plumbing -- */

static int usage_error(const char *cmd, const char *fmt, ...) TW_PRINTF(2, 3);

static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "trackway log %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'trackway log %s --help' for its options.\n", cmd);
    return CLI_EXIT_USAGE;
}

/* getopt_long returned '?' or ':' for the option before optind. */
static int option_error(const char *cmd, int c, char **argv)
{
    const char *opt = argv[optind - 1];

    if (c == ':') {
        return usage_error(cmd, "option %s needs a value", opt);
    }
    return usage_error(cmd, "unknown option %s", opt);
}

/* The one positional argument every subcommand takes; -1 when wrong. */
static int take_path(const char *cmd, int argc, char **argv, const char **path)
{
    if (optind >= argc) {
        usage_error(cmd, "missing the log directory PATH");
        return -1;
    }
    if (optind + 1 < argc) {
        usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
        return -1;
    }
    *path = argv[optind];
    return 0;
}

/* Runs a units.h parser on an option's value, reporting a refusal. */
static int parse_u64_option(const char *cmd, const char *opt, const char *text,
                            uint64_t *value)
{
    if (tw_parse_u64(text, value) < 0) {
        return usage_error(cmd, "%s: %s", opt, tw_err_message());
    }
    return 0;
}

static void say_error(const char *cmd, const char *what, const char *path)
{
    fprintf(stderr, "trackway log %s: %s %s: %s\n", cmd, what, path,
            tw_err_message());
}

/* Opens the log at path read-only: beside a server, changing nothing. */
static int open_read_only(const char *cmd, const char *path, struct log **out)
{
    struct log_options opts;

    log_options_init(&opts, path);
    opts.partitions = 0;
    opts.create = false;
    opts.read_only = true;
    if (log_embedded_open(&opts, out, NULL) < 0) {
        say_error(cmd, "cannot open the log", path);
        return -1;
    }
    return 0;
}

/* An ISO time or "-", padded to width (0: not padded). */
static void print_time_or_dash(FILE *out, int64_t ms, bool known, int width)
{
    char text[TW_TIME_TEXT_MAX] = "-";

    if (known) {
        tw_format_time(ms, text, sizeof(text));
    }
    fprintf(out, "%-*s", width, text);
}

/* --------------------------------------------------------------- JSON -- */

/* Writes bytes already known to be UTF-8 as a JSON string. */
static void json_string(FILE *out, const void *data, size_t len)
{
    const unsigned char *s = data;
    size_t run = 0;

    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        const char *esc = NULL;
        char hex[8];

        if (c == '"') {
            esc = "\\\"";
        } else if (c == '\\') {
            esc = "\\\\";
        } else if (c == '\n') {
            esc = "\\n";
        } else if (c == '\r') {
            esc = "\\r";
        } else if (c == '\t') {
            esc = "\\t";
        } else if (c == '\b') {
            esc = "\\b";
        } else if (c == '\f') {
            esc = "\\f";
        } else if (c < 0x20) {
            snprintf(hex, sizeof(hex), "\\u%04x", c);
            esc = hex;
        }
        if (esc == NULL) {
            run++;
            continue;
        }
        fwrite(s + i - run, 1, run, out);
        run = 0;
        fputs(esc, out);
    }
    fwrite(s + len - run, 1, run, out);
    fputc('"', out);
}

static void json_text(FILE *out, const char *text)
{
    json_string(out, text, strlen(text));
}

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or > U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        unsigned char lo = 0x80;
        unsigned char hi = 0xbf;
        size_t more;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xc2 || c > 0xf4) {
            return false;
        }
        more = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
        if (c == 0xe0) {
            lo = 0xa0;
        } else if (c == 0xed) {
            hi = 0x9f;
        } else if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;
        }
        if (len - i <= more || s[i + 1] < lo || s[i + 1] > hi) {
            return false;
        }
        for (size_t k = 2; k <= more; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) {
                return false;
            }
        }
        i += more + 1;
    }
    return true;
}

static void base64_write(FILE *out, const unsigned char *s, size_t len)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        size_t n = len - i < 3 ? len - i : 3;

        if (n > 1) {
            v |= (uint32_t)s[i + 1] << 8;
        }
        if (n > 2) {
            v |= s[i + 2];
        }
        fputc(abc[(v >> 18) & 63], out);
        fputc(abc[(v >> 12) & 63], out);
        fputc(n > 1 ? abc[(v >> 6) & 63] : '=', out);
        fputc(n > 2 ? abc[v & 63] : '=', out);
    }
}

/* "name":"text" when the bytes are UTF-8, else "name_b64":"base64". */
static void json_bytes_field(FILE *out, const char *name, const void *data,
                             size_t len)
{
    if (len == 0 || utf8_valid(data, len)) {
        fprintf(out, "\"%s\":", name);
        json_string(out, data, len);
        return;
    }
    fprintf(out, "\"%s_b64\":\"", name);
    base64_write(out, data, len);
    fputc('"', out);
}

static void json_time_or_null(FILE *out, int64_t ms, bool known)
{
    char text[TW_TIME_TEXT_MAX];

    if (!known) {
        fputs("null", out);
        return;
    }
    tw_format_time(ms, text, sizeof(text));
    json_text(out, text);
}

/* --------------------------------------------------------------- stat -- */

static const char stat_help[] =
    "Usage: trackway log stat PATH [--json]\n"
    "\n"
    "Shows what the log in directory PATH holds: for each partition its\n"
    "start and end offsets, records, segment files, bytes on disk and the\n"
    "oldest and newest record times (ISO-8601, UTC); the totals; and each\n"
    "cursor's position in every partition with its lag (records still to\n"
    "read). The log is opened read-only, so this is safe while a server\n"
    "runs; it shows the log as it was when opened.\n"
    "\n"
    "records counts the offsets between start and end; offsets that\n"
    "`trackway log repair` cut out are counted too.\n"
    "\n"
    "Options:\n"
    "  --json      one JSON document instead of the table (default: table)\n"
    "  -h, --help  show this help\n"
    "\n"
    "Example:\n"
    "  trackway log stat ./data\n"
    "  trackway log stat ./data --json | jq '.partitions[0].end_offset'\n";

/* The name of every cursor file of the log, sorted. */
struct cursor_names {
    char (*names)[LOG_CURSOR_NAME_MAX + 1];
    size_t count;
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int list_cursors(const char *path, struct cursor_names *out)
{
    char dir[PATH_MAX];
    DIR *d;
    struct dirent *e;

    memset(out, 0, sizeof(*out));
    if (snprintf(dir, sizeof(dir), "%s/cursors", path) >= (int)sizeof(dir)) {
        return tw_err_set(TW_EINVAL, "path %s is too long", path);
    }
    d = opendir(dir);
    if (d == NULL) {
        return errno == ENOENT ? 0 : tw_err_errno(errno, "cannot list %s", dir);
    }
    out->names = calloc(LOG_MAX_CURSORS, sizeof(*out->names));
    if (out->names == NULL) {
        closedir(d);
        return tw_err_set(TW_ENOMEM, "no memory for cursor names");
    }
    while ((e = readdir(d)) != NULL && out->count < LOG_MAX_CURSORS) {
        size_t len = strlen(e->d_name);
        char *name = out->names[out->count];

        if (len <= 4 || len - 4 > LOG_CURSOR_NAME_MAX ||
            strcmp(e->d_name + len - 4, ".cur") != 0) {
            continue;
        }
        memcpy(name, e->d_name, len - 4);
        name[len - 4] = '\0';
        if (log_cursor_name_valid(name)) {
            out->count++;
        }
    }
    closedir(d);
    qsort(out->names, out->count, sizeof(*out->names), name_cmp);
    return 0;
}

struct stat_view {
    const char *path;
    uint32_t partitions;
    struct log_partition_info info[LOG_MAX_PARTITIONS];
    struct log_partition_info total;
    bool any_time;
    struct cursor_names cursors;
    struct log *log;
};

static void stat_totals(struct stat_view *v)
{
    memset(&v->total, 0, sizeof(v->total));
    v->any_time = false;
    for (uint32_t p = 0; p < v->partitions; p++) {
        const struct log_partition_info *i = &v->info[p];

        v->total.end_offset += i->end_offset - i->start_offset;
        v->total.segments += i->segments;
        v->total.bytes += i->bytes;
        if (i->end_offset == i->start_offset) {
            continue;
        }
        if (!v->any_time || i->oldest_ms < v->total.oldest_ms) {
            v->total.oldest_ms = i->oldest_ms;
        }
        if (!v->any_time || i->newest_ms > v->total.newest_ms) {
            v->total.newest_ms = i->newest_ms;
        }
        v->any_time = true;
    }
}

/*
 * A cursor's place in one partition: set is false when it never committed
 * there. lag counts the records it has still to read; skipped the ones
 * retention removed before it read them.
 */
struct cursor_place {
    bool set;
    uint64_t offset;
    uint64_t lag;
    uint64_t skipped;
};

static struct cursor_place cursor_place(struct stat_view *v, const char *name,
                                        uint32_t p)
{
    const struct log_partition_info *i = &v->info[p];
    struct cursor_place c = {0};

    if (log_cursor_get(v->log, name, p, &c.offset) < 0) {
        return c;
    }
    c.set = true;
    if (c.offset < i->start_offset) {
        c.skipped = i->start_offset - c.offset;
        c.lag = i->end_offset - i->start_offset;
    } else if (c.offset < i->end_offset) {
        c.lag = i->end_offset - c.offset;
    }
    return c;
}

static void stat_print_table(struct stat_view *v)
{
    char size[TW_SIZE_TEXT_MAX];

    tw_format_size(v->total.bytes, size, sizeof(size));
    printf("log %s: %u partitions, %" PRIu64 " records, %u segments, %s\n\n",
           v->path, v->partitions, v->total.end_offset, v->total.segments,
           size);
    printf("%-5s %12s %12s %12s %8s %11s  %-25s %s\n", "part", "start", "end",
           "records", "segments", "bytes", "oldest", "newest");
    for (uint32_t p = 0; p < v->partitions; p++) {
        const struct log_partition_info *i = &v->info[p];
        bool any = i->end_offset > i->start_offset;

        tw_format_size(i->bytes, size, sizeof(size));
        printf("p%03u  %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %8u %11s  ", p,
               i->start_offset, i->end_offset, i->end_offset - i->start_offset,
               i->segments, size);
        print_time_or_dash(stdout, i->oldest_ms, any, 25);
        fputc(' ', stdout);
        print_time_or_dash(stdout, i->newest_ms, any, 0);
        fputc('\n', stdout);
    }
    tw_format_size(v->total.bytes, size, sizeof(size));
    printf("%-5s %12s %12s %12" PRIu64 " %8u %11s  ", "total", "", "",
           v->total.end_offset, v->total.segments, size);
    print_time_or_dash(stdout, v->total.oldest_ms, v->any_time, 25);
    fputc(' ', stdout);
    print_time_or_dash(stdout, v->total.newest_ms, v->any_time, 0);
    fputc('\n', stdout);

    if (v->cursors.count == 0) {
        printf("\nno cursors\n");
        return;
    }
    printf("\ncursors (next offset to read per partition, lag = records "
           "still to read):\n");
    for (size_t k = 0; k < v->cursors.count; k++) {
        const char *name = v->cursors.names[k];
        uint64_t lag = 0;

        printf("  %s\n   ", name);
        for (uint32_t p = 0; p < v->partitions; p++) {
            struct cursor_place c = cursor_place(v, name, p);

            if (!c.set) {
                printf(" p%03u -", p);
                continue;
            }
            lag += c.lag;
            printf(" p%03u %" PRIu64 " (lag %" PRIu64, p, c.offset, c.lag);
            if (c.skipped > 0) {
                printf(", %" PRIu64 " removed unread", c.skipped);
            }
            printf(")");
        }
        printf("\n    total lag %" PRIu64 "\n", lag);
    }
}

static void stat_print_json(struct stat_view *v)
{
    printf("{\"path\":");
    json_text(stdout, v->path);
    printf(",\"partitions\":[");
    for (uint32_t p = 0; p < v->partitions; p++) {
        const struct log_partition_info *i = &v->info[p];
        bool any = i->end_offset > i->start_offset;
        char dir[PATH_MAX];

        snprintf(dir, sizeof(dir), "%s/p%03u", v->path, p);
        printf("%s{\"partition\":%u,\"dir\":", p ? "," : "", p);
        json_text(stdout, dir);
        printf(",\"start_offset\":%" PRIu64 ",\"end_offset\":%" PRIu64
               ",\"records\":%" PRIu64 ",\"segments\":%u,\"bytes\":%" PRIu64
               ",\"oldest\":",
               i->start_offset, i->end_offset, i->end_offset - i->start_offset,
               i->segments, i->bytes);
        json_time_or_null(stdout, i->oldest_ms, any);
        printf(",\"newest\":");
        json_time_or_null(stdout, i->newest_ms, any);
        printf("}");
    }
    printf("],\"total\":{\"records\":%" PRIu64 ",\"segments\":%u,"
           "\"bytes\":%" PRIu64 ",\"oldest\":",
           v->total.end_offset, v->total.segments, v->total.bytes);
    json_time_or_null(stdout, v->total.oldest_ms, v->any_time);
    printf(",\"newest\":");
    json_time_or_null(stdout, v->total.newest_ms, v->any_time);
    printf("},\"cursors\":[");
    for (size_t k = 0; k < v->cursors.count; k++) {
        const char *name = v->cursors.names[k];
        uint64_t lag = 0;

        printf("%s{\"name\":", k ? "," : "");
        json_text(stdout, name);
        printf(",\"positions\":[");
        for (uint32_t p = 0; p < v->partitions; p++) {
            struct cursor_place c = cursor_place(v, name, p);

            printf("%s{\"partition\":%u,", p ? "," : "", p);
            if (!c.set) {
                printf("\"offset\":null,\"lag\":null}");
                continue;
            }
            lag += c.lag;
            printf("\"offset\":%" PRIu64 ",\"lag\":%" PRIu64
                   ",\"removed_unread\":%" PRIu64 "}",
                   c.offset, c.lag, c.skipped);
        }
        printf("],\"lag\":%" PRIu64 "}", lag);
    }
    printf("]}\n");
}

static int log_stat(int argc, char **argv)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct stat_view *v;
    bool json = false;
    const char *path;
    int status = CLI_EXIT_OK;
    int c;

    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(stat_help, stdout);
            return CLI_EXIT_OK;
        } else if (c == 'j') {
            json = true;
        } else {
            return option_error("stat", c, argv);
        }
    }
    if (take_path("stat", argc, argv, &path) < 0) {
        return CLI_EXIT_USAGE;
    }

    v = calloc(1, sizeof(*v));
    if (v == NULL) {
        fprintf(stderr, "trackway log stat: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    v->path = path;
    if (open_read_only("stat", path, &v->log) < 0) {
        free(v);
        return CLI_EXIT_USAGE;
    }
    v->partitions = log_partitions(v->log);
    for (uint32_t p = 0; p < v->partitions && status == 0; p++) {
        if (log_partition_info(v->log, p, &v->info[p]) < 0) {
            say_error("stat", "cannot read partition info of", path);
            status = CLI_EXIT_FAIL;
        }
    }
    if (status == 0 && list_cursors(path, &v->cursors) < 0) {
        say_error("stat", "cannot list the cursors of", path);
        status = CLI_EXIT_FAIL;
    }
    if (status == 0) {
        stat_totals(v);
        if (json) {
            stat_print_json(v);
        } else {
            stat_print_table(v);
        }
    }
    log_close(v->log);
    free(v->cursors.names);
    free(v);
    return status;
}

/* --------------------------------------------------------------- dump -- */

static const char dump_help[] =
    "Usage: trackway log dump PATH [--partition N] [--from-offset N | "
    "--from-time TIME]\n"
    "                          [--limit N] [--follow]\n"
    "\n"
    "Prints records of the log in directory PATH as NDJSON, one object per\n"
    "line, each partition in offset order:\n"
    "\n"
    "  "
    "{\"partition\":0,\"offset\":12,\"timestamp\":\"2024-03-01T12:00:00.250Z\","
    "\n   \"key\":\"user-42\",\"value\":\"{\\\"event\\\":\\\"Order "
    "Completed\\\"}\"}\n"
    "\n"
    "key and value are JSON strings when their bytes are UTF-8; otherwise\n"
    "they appear base64-encoded as key_b64 and value_b64. The log is opened\n"
    "read-only, so this is safe while a server runs.\n"
    "\n"
    "Options:\n"
    "  -p, --partition N     only partition N (default: all, one after the\n"
    "                        other)\n"
    "      --from-offset N   start at offset N in each partition (default:\n"
    "                        the oldest record still stored)\n"
    "      --from-time TIME  start at the first record at or after TIME:\n"
    "                        ISO-8601 with a zone (2024-03-01T12:00:00Z), a\n"
    "                        date (2024-03-01) or milliseconds since 1970\n"
    "  -n, --limit N         stop after N records in all (default: no limit)\n"
    "  -f, --follow          keep waiting for new records (until Ctrl-C or\n"
    "                        --limit); the log is looked at again every\n"
    "                        half second for what a server appended\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 when every record could be read; 1 when a read failed\n"
    "(the message on stderr names the place; the records before it are\n"
    "printed); 2 on wrong usage or when the log cannot be opened.\n"
    "\n"
    "Example:\n"
    "  trackway log dump ./data --partition 2 --from-time 2024-03-01 "
    "--limit 100\n";

struct dump_run {
    const char *path;
    struct log *log;
    uint32_t first;
    uint32_t last;
    uint64_t next[LOG_MAX_PARTITIONS];
    bool failed[LOG_MAX_PARTITIONS];
    bool has_limit;
    uint64_t limit;
    uint64_t printed;
    int status;
};

static void dump_record(uint32_t partition, const struct log_record *r)
{
    char ts[TW_TIME_TEXT_MAX];

    tw_format_time(r->timestamp_ms, ts, sizeof(ts));
    printf("{\"partition\":%u,\"offset\":%" PRIu64 ",\"timestamp\":\"%s\",",
           partition, r->offset, ts);
    json_bytes_field(stdout, "key", r->key, r->key_len);
    fputc(',', stdout);
    json_bytes_field(stdout, "value", r->value, r->value_len);
    fputs("}\n", stdout);
}

static bool dump_done(const struct dump_run *d)
{
    return d->has_limit && d->printed >= d->limit;
}

/* Reads partition p from d->next[p] to what is stored now. */
static void dump_partition(struct dump_run *d, uint32_t p)
{
    struct log_partition_info info;
    struct log_reader *r;
    struct log_record rec;
    int rc = 0;

    if (log_partition_info(d->log, p, &info) < 0) {
        goto fail;
    }
    if (d->next[p] < info.start_offset) {
        /* Retention removed them since; say so rather than fail. */
        fprintf(stderr,
                "trackway log dump: partition %u now starts at "
                "offset %" PRIu64 "; offsets %" PRIu64 "..%" PRIu64
                " are no longer stored\n",
                p, info.start_offset, d->next[p], info.start_offset - 1);
        d->next[p] = info.start_offset;
    }
    if (d->next[p] >= info.end_offset) {
        return;
    }
    if (log_reader_open(d->log, p, d->next[p], &r) < 0) {
        goto fail;
    }
    while (!dump_done(d) && (rc = log_reader_next(r, &rec)) == 1) {
        dump_record(p, &rec);
        d->printed++;
    }
    d->next[p] = log_reader_position(r);
    log_reader_close(r);
    if (!dump_done(d) && rc < 0) {
        goto fail;
    }
    return;

fail:
    fflush(stdout);
    fprintf(stderr, "trackway log dump: partition %u: %s\n", p,
            tw_err_message());
    d->failed[p] = true;
    d->status = CLI_EXIT_FAIL;
}

/* Sets each partition's first offset from --from-offset or --from-time. */
static int dump_starts(struct dump_run *d, bool from_offset, uint64_t offset,
                       bool from_time, int64_t time_ms)
{
    for (uint32_t p = d->first; p <= d->last; p++) {
        struct log_partition_info info;

        if (log_partition_info(d->log, p, &info) < 0) {
            return -1;
        }
        d->next[p] = info.start_offset;
        if (from_offset) {
            d->next[p] = offset > info.end_offset ? info.end_offset : offset;
        }
        if (from_time &&
            log_offset_for_time(d->log, p, time_ms, &d->next[p]) < 0) {
            return -1;
        }
    }
    return 0;
}

/*
 * Waits for more records. The engine's wait sees appends made through
 * this process's handle; what a server appends shows after reopening.
 */
static int dump_wait(struct dump_run *d)
{
    uint32_t p = d->first;

    while (p < d->last && d->failed[p]) {
        p++;
    }
    if (log_wait(d->log, p, d->next[p], DUMP_FOLLOW_POLL_MS) == 1) {
        return 0;
    }
    log_close(d->log);
    d->log = NULL;
    return open_read_only("dump", d->path, &d->log);
}

static int dump_run_all(struct dump_run *d, bool follow)
{
    for (;;) {
        bool all_failed = true;

        for (uint32_t p = d->first; p <= d->last && !dump_done(d); p++) {
            if (!d->failed[p]) {
                dump_partition(d, p);
            }
            all_failed = all_failed && d->failed[p];
        }
        fflush(stdout);
        if (!follow || dump_done(d) || all_failed) {
            return d->status;
        }
        if (dump_wait(d) < 0) {
            return CLI_EXIT_FAIL;
        }
    }
}

struct dump_args {
    bool has_partition;
    uint64_t partition;
    bool from_offset;
    uint64_t offset;
    bool from_time;
    int64_t time_ms;
    bool follow;
};

static int dump_parse(int argc, char **argv, struct dump_args *a,
                      struct dump_run *d)
{
    static const struct option longs[] = {
        {"partition", required_argument, NULL, 'p'},
        {"from-offset", required_argument, NULL, 'o'},
        {"from-time", required_argument, NULL, 't'},
        {"limit", required_argument, NULL, 'n'},
        {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, ":hp:n:f", longs, NULL)) != -1) {
        int rc = 0;

        if (c == 'h') {
            fputs(dump_help, stdout);
            return 1;
        } else if (c == 'p') {
            a->has_partition = true;
            rc = parse_u64_option("dump", "--partition", optarg, &a->partition);
        } else if (c == 'o') {
            a->from_offset = true;
            rc = parse_u64_option("dump", "--from-offset", optarg, &a->offset);
        } else if (c == 't') {
            a->from_time = true;
            if (tw_parse_time(optarg, &a->time_ms) < 0) {
                rc = usage_error("dump", "--from-time: %s", tw_err_message());
            }
        } else if (c == 'n') {
            d->has_limit = true;
            rc = parse_u64_option("dump", "--limit", optarg, &d->limit);
        } else if (c == 'f') {
            a->follow = true;
        } else {
            rc = option_error("dump", c, argv);
        }
        if (rc != 0) {
            return -1;
        }
    }
    if (a->from_offset && a->from_time) {
        usage_error("dump", "give --from-offset or --from-time, not both");
        return -1;
    }
    return take_path("dump", argc, argv, &d->path) < 0 ? -1 : 0;
}

static int log_dump(int argc, char **argv)
{
    struct dump_args a = {0};
    struct dump_run *d = calloc(1, sizeof(*d));
    int status = CLI_EXIT_USAGE;
    int rc;

    if (d == NULL) {
        fprintf(stderr, "trackway log dump: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    rc = dump_parse(argc, argv, &a, d);
    if (rc != 0) {
        free(d);
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    if (open_read_only("dump", d->path, &d->log) < 0) {
        free(d);
        return CLI_EXIT_USAGE;
    }
    d->last = log_partitions(d->log) - 1;
    if (a.has_partition) {
        if (a.partition > d->last) {
            usage_error("dump",
                        "--partition %" PRIu64 ": the log has "
                        "partitions 0 to %u",
                        a.partition, d->last);
            goto out;
        }
        d->first = (uint32_t)a.partition;
        d->last = (uint32_t)a.partition;
    }
    if (dump_starts(d, a.from_offset, a.offset, a.from_time, a.time_ms) < 0) {
        say_error("dump", "cannot find where to start in", d->path);
        status = CLI_EXIT_FAIL;
        goto out;
    }
    status = dump_run_all(d, a.follow);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "trackway log dump: cannot write the output: %s\n",
                strerror(errno));
        status = CLI_EXIT_FAIL;
    }
out:
    if (d->log != NULL) {
        log_close(d->log);
    }
    free(d);
    return status;
}

/* ------------------------------------------------------ check, repair -- */

static const char check_help[] =
    "Usage: trackway log check PATH [--json]\n"
    "\n"
    "Verifies the log in directory PATH file by file, without the engine,\n"
    "so it works on a log that will not open: every segment header, every\n"
    "batch checksum, every record, offsets dense within and across\n"
    "segments, each index against the data, both slots of every cursor\n"
    "file, and files that do not belong (a *.tmp a crash left). Each\n"
    "finding is one line:\n"
    "\n"
    "  damage p002 00000000000000001024.seg @4096 offsets 1030..1039: "
    "batch checksum mismatch\n"
    "\n"
    "severity (info, warning, damage), partition, file, byte position,\n"
    "the offsets affected, and what is wrong; then a summary. Warnings are\n"
    "things the log or `trackway log repair` mends without losing data.\n"
    "It reads only, so it may run beside a server; a batch being written\n"
    "at that moment can then show as a torn tail.\n"
    "\n"
    "Options:\n"
    "  --json      one JSON document with the findings and the summary\n"
    "              (default: lines of text)\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit status: 0 no damage (warnings allowed); 1 damage found; 2 wrong\n"
    "usage, no log at PATH, a newer format, or the files could not be read.\n"
    "\n"
    "Example:\n"
    "  trackway log check ./data\n";

static const char repair_help[] =
    "Usage: trackway log repair PATH [--dry-run]\n"
    "\n"
    "Mends what `trackway log check` finds in the log in directory PATH,\n"
    "and prints every action with what it lost (offsets and bytes). Stop\n"
    "the server first: repair refuses to run while a process holds the\n"
    "log. What it does:\n"
    "\n"
    "  - a damaged segment keeps its whole batches before the damage; the\n"
    "    bytes from the damage on are moved (copied, synced, then cut off)\n"
    "    to PATH/quarantine/p<NNN>-<segment>-<position>.bad. Valid batches\n"
    "    after the damage go with them and are reported as lost;\n"
    "  - a segment whose header is damaged or from a newer version is\n"
    "    moved to quarantine whole;\n"
    "  - missing, stale or wrong indexes are rebuilt from the data;\n"
    "  - *.tmp files left by a crash are removed;\n"
    "  - cursors past their partition's new end are moved back to it;\n"
    "  - offsets missing between segments that nothing explains (a file\n"
    "    cut short or removed outside Trackway) cannot come back; the\n"
    "    range is written to PATH/quarantine/p<NNN>-<segment>-gap.lost so\n"
    "    that later checks report it as known (info), not as a warning.\n"
    "\n"
    "Nothing with data is deleted. Afterwards the log opens and reads\n"
    "cleanly, with an offset gap where data was cut, and a second repair\n"
    "finds nothing to do.\n"
    "\n"
    "Options:\n"
    "  --dry-run   say what repair would do, change nothing (default: "
    "repair)\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit status: 0 the log is clean afterwards (with --dry-run: nothing\n"
    "to do); 1 damage is left, an action failed, a process holds the log\n"
    "(with --dry-run: repair would act); 2 wrong usage or no log at PATH.\n"
    "\n"
    "Example:\n"
    "  trackway log repair ./data --dry-run\n"
    "  trackway log repair ./data\n";

struct finding_printer {
    bool json;
    bool dry_run;
    uint64_t count;
    uint64_t quarantined_bytes;
};

/* What an action is called in a report: done, or to be done. */
static const char *action_label(enum log_action action, bool dry_run)
{
    static const char *const done[] = {
        "",
        "cut",
        "quarantined",
        "rebuilt index",
        "removed",
        "rewrote cursor",
        "created",
        "FAILED",
        "recorded",
    };
    static const char *const todo[] = {
        "",
        "would cut",
        "would quarantine",
        "would rebuild index",
        "would remove",
        "would rewrite cursor",
        "would create",
        "FAILED",
        "would record",
    };

    if ((unsigned)action >= sizeof(done) / sizeof(done[0])) {
        return "?";
    }
    return dry_run ? todo[action] : done[action];
}

static void print_finding_text(const struct log_finding *f, bool dry_run)
{
    char prefix[8];
    const char *file = f->file;

    printf("%s", f->action == LOG_ACTION_NONE
                     ? log_severity_name(f->severity)
                     : action_label(f->action, dry_run));
    if (f->partition != LOG_FINDING_NO_PARTITION) {
        snprintf(prefix, sizeof(prefix), "p%03u/", f->partition);
        if (strncmp(file, prefix, 5) == 0) {
            file += 5;
        }
        printf(" p%03u", f->partition);
    }
    printf(" %s", file);
    if (f->position != LOG_FINDING_NO_POSITION) {
        printf(" @%" PRIu64, f->position);
    }
    if (f->has_offsets && f->last_offset == LOG_FINDING_OPEN_END) {
        printf(" offsets %" PRIu64 "..", f->first_offset);
    } else if (f->has_offsets) {
        printf(" offsets %" PRIu64 "..%" PRIu64, f->first_offset,
               f->last_offset);
    }
    printf(": %s\n", f->message);
}

static void print_finding_json(const struct log_finding *f, bool first)
{
    printf("%s{\"severity\":\"%s\",\"action\":\"%s\",\"partition\":",
           first ? "" : ",", log_severity_name(f->severity),
           log_action_name(f->action));
    if (f->partition == LOG_FINDING_NO_PARTITION) {
        printf("null");
    } else {
        printf("%u", f->partition);
    }
    printf(",\"file\":");
    json_text(stdout, f->file);
    printf(",\"position\":");
    if (f->position == LOG_FINDING_NO_POSITION) {
        printf("null");
    } else {
        printf("%" PRIu64, f->position);
    }
    if (f->has_offsets) {
        printf(",\"first_offset\":%" PRIu64 ",\"last_offset\":",
               f->first_offset);
        if (f->last_offset == LOG_FINDING_OPEN_END) {
            printf("null");
        } else {
            printf("%" PRIu64, f->last_offset);
        }
    }
    printf(",\"bytes\":%" PRIu64 ",\"quarantine\":", f->bytes);
    if (f->quarantine == NULL) {
        printf("null");
    } else {
        json_text(stdout, f->quarantine);
    }
    printf(",\"message\":");
    json_text(stdout, f->message);
    printf("}");
}

static void finding_cb(void *ctx, const struct log_finding *f)
{
    struct finding_printer *pr = ctx;

    if (f->quarantine != NULL) {
        pr->quarantined_bytes += f->bytes;
    }
    if (pr->json) {
        print_finding_json(f, pr->count == 0);
    } else {
        print_finding_text(f, pr->dry_run);
    }
    pr->count++;
}

static void print_summary_text(const char *what, const char *path,
                               const struct log_check_summary *s)
{
    char size[TW_SIZE_TEXT_MAX];

    tw_format_size(s->bytes, size, sizeof(size));
    printf("%s %s: %u partitions, %u segments (%s), %" PRIu64 " batches, "
           "%" PRIu64 " records, %u cursors\n",
           what, path, s->partitions, s->segments, size, s->batches, s->records,
           s->cursors);
    printf("findings: %" PRIu64 " damage, %" PRIu64 " warnings, %" PRIu64
           " info\n",
           s->findings[LOG_SEVERITY_DAMAGE], s->findings[LOG_SEVERITY_WARNING],
           s->findings[LOG_SEVERITY_INFO]);
}

static void print_summary_json(const struct log_check_summary *s, int rc)
{
    printf("],\"summary\":{\"partitions\":%u,\"segments\":%u,\"batches\":"
           "%" PRIu64 ",\"records\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"cursors\":%u,\"damage\":%" PRIu64 ",\"warnings\":%" PRIu64
           ",\"info\":%" PRIu64 "},\"clean\":%s}\n",
           s->partitions, s->segments, s->batches, s->records, s->bytes,
           s->cursors, s->findings[LOG_SEVERITY_DAMAGE],
           s->findings[LOG_SEVERITY_WARNING], s->findings[LOG_SEVERITY_INFO],
           rc == 0 ? "true" : "false");
}

static void check_options(struct log_check_options *opts, const char *path)
{
    struct log_options log_opts;

    /* Indexes repair writes are spaced as the engine spaces its own. */
    log_options_init(&log_opts, path);
    log_check_options_init(opts);
    opts->index_interval_bytes = log_opts.index_interval_bytes;
}

static int log_check_cmd(int argc, char **argv)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct finding_printer pr = {0};
    struct log_check_options opts;
    struct log_check_summary sum = {0};
    const char *path;
    int rc;
    int c;

    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(check_help, stdout);
            return CLI_EXIT_OK;
        } else if (c == 'j') {
            pr.json = true;
        } else {
            return option_error("check", c, argv);
        }
    }
    if (take_path("check", argc, argv, &path) < 0) {
        return CLI_EXIT_USAGE;
    }

    check_options(&opts, path);
    if (pr.json) {
        printf("{\"path\":");
        json_text(stdout, path);
        printf(",\"findings\":[");
    }
    rc = log_check(path, &opts, finding_cb, &pr, &sum);
    if (rc < 0 && rc != TW_ECORRUPT) {
        const char *why = tw_err_message();

        if (pr.json) {
            printf("],\"error\":");
            json_text(stdout, why);
            printf("}\n");
        }
        fflush(stdout);
        fprintf(stderr, "trackway log check: cannot check %s: %s\n", path, why);
        return CLI_EXIT_USAGE;
    }
    if (pr.json) {
        print_summary_json(&sum, rc);
        return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    if (pr.count > 0) {
        printf("\n");
    }
    print_summary_text("checked", path, &sum);
    if (rc == 0) {
        printf("result: no damage\n");
        return CLI_EXIT_OK;
    }
    printf("result: damage found; stop the server, then run "
           "`trackway log repair %s` (try --dry-run first)\n",
           path);
    return CLI_EXIT_FAIL;
}

/* Checks again after a repair, printing only what is still wrong. */
static void recheck_cb(void *ctx, const struct log_finding *f)
{
    if (f->severity == LOG_SEVERITY_DAMAGE) {
        finding_cb(ctx, f);
    }
}

static int repair_verify(const char *path, const struct log_check_options *opts)
{
    struct finding_printer pr = {0};
    int rc;

    rc = log_check(path, opts, recheck_cb, &pr, NULL);
    if (rc == 0) {
        printf("result: the log is clean now\n");
        return CLI_EXIT_OK;
    }
    printf("result: damage is left (%s); see the lines above\n",
           tw_err_message());
    return CLI_EXIT_FAIL;
}

static int repair_report(const char *path, int rc,
                         const struct finding_printer *pr,
                         const struct log_check_summary *sum, bool dry_run)
{
    char size[TW_SIZE_TEXT_MAX];

    if (pr->count > 0) {
        printf("\n");
    }
    print_summary_text(dry_run ? "repair --dry-run of" : "repaired", path, sum);
    tw_format_size(pr->quarantined_bytes, size, sizeof(size));
    printf("actions: %u%s, %u failed; %s %s to %s/quarantine\n", sum->actions,
           dry_run ? " planned" : "", sum->failed_actions, size,
           dry_run ? "would move" : "moved", path);
    if (dry_run) {
        printf("result: %s\n", sum->actions == 0
                                   ? "nothing to do"
                                   : "run without --dry-run to do it "
                                     "(stop the server first)");
        return sum->actions == 0 && rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    if (rc < 0) {
        printf("result: repair did not finish: %s\n", tw_err_message());
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static int log_repair_cmd(int argc, char **argv)
{
    static const struct option longs[] = {
        {"dry-run", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct finding_printer pr = {0};
    struct log_check_options opts;
    struct log_check_summary sum = {0};
    const char *path;
    int status;
    int rc;
    int c;

    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(repair_help, stdout);
            return CLI_EXIT_OK;
        } else if (c == 'd') {
            pr.dry_run = true;
        } else {
            return option_error("repair", c, argv);
        }
    }
    if (take_path("repair", argc, argv, &path) < 0) {
        return CLI_EXIT_USAGE;
    }

    check_options(&opts, path);
    opts.dry_run = pr.dry_run;
    rc = log_repair(path, &opts, finding_cb, &pr, &sum);
    if (rc == TW_EBUSY || rc == TW_ENOENT || rc == TW_EVERSION ||
        rc == TW_EINVAL) {
        fprintf(stderr, "trackway log repair: %s\n", tw_err_message());
        return rc == TW_EBUSY ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    }
    status = repair_report(path, rc, &pr, &sum, pr.dry_run);
    if (status != CLI_EXIT_OK || pr.dry_run) {
        return status;
    }
    return repair_verify(path, &opts);
}

/* --------------------------------------------------------------- demo -- */

static const char demo_help[] =
    "Usage: trackway log demo PATH [--partitions N] [--events N]\n"
    "\n"
    "Creates a log in directory PATH when there is none, then appends N\n"
    "sample Segment-style track events (Product Viewed, Order Completed,\n"
    "...) as JSON values keyed by their userId, each partition chosen from\n"
    "the userId, in batches of up to 4 events per partition, through the\n"
    "engine with the default durability (fsync).\n"
    "Prints what it wrote. It needs the log to itself (no server running).\n"
    "\n"
    "Options:\n"
    "  -p, --partitions N  partitions of a new log (default 4; an existing\n"
    "                      log keeps its own count and refuses another)\n"
    "  -n, --events N      how many events to append (default 20, at most\n"
    "                      10000000)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Example:\n"
    "  trackway log demo ./data --partitions 2 --events 100\n";

struct demo_kind {
    const char *event;
    const char *properties; /* printf format with one %u: a number */
};

static const struct demo_kind demo_kinds[] = {
    {"Products Searched", "{\"query\":\"trail shoes size %u\"}"},
    {"Product Viewed",
     "{\"product_id\":\"sku-%u\",\"price\":89.90,\"currency\":\"EUR\"}"},
    {"Product Added",
     "{\"product_id\":\"sku-%u\",\"quantity\":1,\"price\":89.90}"},
    {"Checkout Started", "{\"order_id\":\"ord-%u\",\"value\":89.90,"
                         "\"currency\":\"EUR\"}"},
    {"Order Completed", "{\"order_id\":\"ord-%u\",\"total\":89.90,"
                        "\"currency\":\"EUR\"}"},
};

/* One generated event and the record that carries it. */
struct demo_event {
    char user[16];
    char json[DEMO_EVENT_MAX];
    const char *name;
    struct log_record rec;
    uint32_t partition;
    uint64_t offset;
};

static void demo_make(struct demo_event *e, uint64_t i, uint64_t run_id,
                      int64_t ts, uint32_t partitions)
{
    const struct demo_kind *k =
        &demo_kinds[i % (sizeof(demo_kinds) / sizeof(demo_kinds[0]))];
    char props[160];
    char when[TW_TIME_TEXT_MAX];

    snprintf(e->user, sizeof(e->user), "user-%u",
             (unsigned)((i * 7 + 3) % DEMO_USERS + 1));
    snprintf(props, sizeof(props), k->properties, (unsigned)(1000 + i % 97));
    tw_format_time(ts, when, sizeof(when));
    snprintf(e->json, sizeof(e->json),
             "{\"type\":\"track\",\"event\":\"%s\",\"userId\":\"%s\","
             "\"messageId\":\"demo-%016" PRIx64 "-%" PRIu64 "\","
             "\"timestamp\":\"%s\",\"properties\":%s,"
             "\"context\":{\"library\":{\"name\":\"trackway-demo\","
             "\"version\":\"" CLI_VERSION "\"}}}",
             k->event, e->user, run_id, i, when, props);
    e->name = k->event;
    e->partition =
        (uint32_t)(XXH3_64bits(e->user, strlen(e->user)) % partitions);
    e->rec = (struct log_record){
        .timestamp_ms = ts,
        .key = e->user,
        .key_len = (uint32_t)strlen(e->user),
        .value = e->json,
        .value_len = (uint32_t)strlen(e->json),
    };
}

/* Appends one batch: the events of partition p from ev[from] on. */
static int demo_append_batch(struct log *log, struct demo_event *ev, size_t n,
                             uint32_t p, size_t *from)
{
    struct demo_event *in[DEMO_BATCH_RECORDS];
    struct log_record recs[DEMO_BATCH_RECORDS];
    size_t count = 0;
    uint64_t first;

    for (size_t i = *from; i < n && count < DEMO_BATCH_RECORDS; i++) {
        if (ev[i].partition == p) {
            in[count] = &ev[i];
            recs[count++] = ev[i].rec;
            *from = i + 1;
        }
    }
    if (count == 0) {
        *from = n;
        return 0;
    }
    if (log_append_wait(log, p, recs, count, &first) < 0) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        in[i]->offset = first + i;
    }
    return 0;
}

/* Appends a chunk of events in batches per partition, in event order. */
static int demo_append(struct log *log, struct demo_event *ev, size_t n,
                       uint32_t partitions)
{
    for (uint32_t p = 0; p < partitions; p++) {
        size_t from = 0;

        while (from < n) {
            if (demo_append_batch(log, ev, n, p, &from) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int demo_open(const char *path, bool explicit_partitions,
                     uint64_t partitions, struct log **log)
{
    struct log_options opts;
    char meta[PATH_MAX];
    struct stat st;

    snprintf(meta, sizeof(meta), "%s/LOG", path);
    log_options_init(&opts, path);
    opts.create = true;
    opts.partitions = (uint32_t)partitions;
    if (!explicit_partitions && stat(meta, &st) == 0) {
        opts.partitions = 0; /* take the count the log has */
    }
    if (log_embedded_open(&opts, log, NULL) < 0) {
        say_error("demo", "cannot open the log", path);
        return -1;
    }
    return 0;
}

struct demo_args {
    bool explicit_partitions;
    uint64_t partitions;
    uint64_t events;
    const char *path;
};

static int demo_parse(int argc, char **argv, struct demo_args *a)
{
    static const struct option longs[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"events", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    a->partitions = 4;
    a->events = 20;
    while ((c = getopt_long(argc, argv, ":hp:n:", longs, NULL)) != -1) {
        int rc = 0;

        if (c == 'h') {
            fputs(demo_help, stdout);
            return 1;
        } else if (c == 'p') {
            a->explicit_partitions = true;
            rc = parse_u64_option("demo", "--partitions", optarg,
                                  &a->partitions);
            if (rc == 0 &&
                (a->partitions == 0 || a->partitions > LOG_MAX_PARTITIONS)) {
                rc = usage_error("demo", "--partitions must be 1 to %d",
                                 LOG_MAX_PARTITIONS);
            }
        } else if (c == 'n') {
            rc = parse_u64_option("demo", "--events", optarg, &a->events);
            if (rc == 0 && a->events > DEMO_MAX_EVENTS) {
                rc = usage_error("demo", "--events must be at most %u",
                                 DEMO_MAX_EVENTS);
            }
        } else {
            rc = option_error("demo", c, argv);
        }
        if (rc != 0) {
            return -1;
        }
    }
    return take_path("demo", argc, argv, &a->path) < 0 ? -1 : 0;
}

static void demo_print(const struct demo_event *ev, size_t n, uint64_t done,
                       uint64_t total)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t index = done + i;

        if (total > DEMO_PRINT_MAX && index >= DEMO_PRINT_MAX / 2 &&
            index < total - DEMO_PRINT_MAX / 2) {
            if (index == DEMO_PRINT_MAX / 2) {
                printf("  ... %" PRIu64 " more ...\n", total - DEMO_PRINT_MAX);
            }
            continue;
        }
        printf("  p%03u @%-6" PRIu64 " %-8s %s\n", ev[i].partition,
               ev[i].offset, ev[i].user, ev[i].name);
    }
}

static int log_demo(int argc, char **argv)
{
    struct demo_args a = {0};
    struct demo_event *ev;
    struct log *log;
    uint64_t run_id = (uint64_t)tw_now_ms();
    int64_t start_ms = tw_now_ms();
    uint32_t partitions;
    int status = CLI_EXIT_OK;
    int rc = demo_parse(argc, argv, &a);

    if (rc != 0) {
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    ev = calloc(DEMO_CHUNK, sizeof(*ev));
    if (ev == NULL) {
        fprintf(stderr, "trackway log demo: out of memory\n");
        return CLI_EXIT_USAGE;
    }
    if (demo_open(a.path, a.explicit_partitions, a.partitions, &log) < 0) {
        free(ev);
        return CLI_EXIT_USAGE;
    }
    partitions = log_partitions(log);
    printf("appending %" PRIu64 " sample events to %s (%u partitions):\n",
           a.events, a.path, partitions);

    /* Timestamps one second apart, the last one now. */
    start_ms -= (int64_t)(a.events > 0 ? a.events - 1 : 0) * 1000;
    for (uint64_t done = 0; done < a.events; done += DEMO_CHUNK) {
        size_t n = a.events - done < DEMO_CHUNK ? (size_t)(a.events - done)
                                                : DEMO_CHUNK;

        for (size_t i = 0; i < n; i++) {
            uint64_t k = done + i;

            demo_make(&ev[i], k, run_id, start_ms + (int64_t)k * 1000,
                      partitions);
        }
        if (demo_append(log, ev, n, partitions) < 0) {
            fprintf(stderr, "trackway log demo: append failed: %s\n",
                    tw_err_message());
            status = CLI_EXIT_FAIL;
            break;
        }
        demo_print(ev, n, done, a.events);
    }
    log_close(log);
    free(ev);
    if (status == CLI_EXIT_OK) {
        printf("done; read them with: trackway log dump %s\n", a.path);
    }
    return status;
}

/* ------------------------------------------------------------- retain -- */

static const char retain_help[] =
    "Usage: trackway log retain PATH [--max-bytes SIZE] [--max-age "
    "DURATION]\n"
    "                            [--keep-unread | --drop-unread]\n"
    "\n"
    "Runs one retention pass over the log in directory PATH and reports\n"
    "it: the oldest whole segments go while the log is larger than SIZE\n"
    "(all partitions together) or their newest record is older than\n"
    "DURATION. The active segment of a partition is never removed. A\n"
    "server applies its configured limits on its own schedule; this is\n"
    "for a stopped log (it needs the log to itself). Give at least one\n"
    "limit.\n"
    "\n"
    "Options:\n"
    "  --max-bytes SIZE      size budget: 100000, 512MiB, 10GiB, 5GB ...\n"
    "                        (default: no size limit)\n"
    "  --max-age DURATION    age limit: 500ms, 30m, 12h, 7d, 1h30m ...\n"
    "                        (default: no age limit)\n"
    "  --keep-unread         keep segments some cursor has not read past,\n"
    "                        even over the limits (the default)\n"
    "  --drop-unread         remove them anyway; they are counted as\n"
    "                        deleted unread\n"
    "  -h, --help            show this help\n"
    "\n"
    "Example:\n"
    "  trackway log retain ./data --max-bytes 10GiB --max-age 7d\n";

struct retain_args {
    struct log_retention ret;
    const char *max_bytes_text;
    const char *max_age_text;
    const char *path;
};

static int retain_parse(int argc, char **argv, struct retain_args *a)
{
    static const struct option longs[] = {
        {"max-bytes", required_argument, NULL, 'b'},
        {"max-age", required_argument, NULL, 'a'},
        {"keep-unread", no_argument, NULL, 'k'},
        {"drop-unread", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int unread_flags = 0;
    int c;

    a->ret.keep_unread = true;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        int rc = 0;

        if (c == 'h') {
            fputs(retain_help, stdout);
            return 1;
        } else if (c == 'b') {
            a->max_bytes_text = optarg;
            if (tw_parse_size(optarg, &a->ret.max_bytes) < 0) {
                rc = usage_error("retain", "--max-bytes: %s", tw_err_message());
            }
        } else if (c == 'a') {
            a->max_age_text = optarg;
            if (tw_parse_duration(optarg, &a->ret.max_age_ms) < 0) {
                rc = usage_error("retain", "--max-age: %s", tw_err_message());
            }
        } else if (c == 'k' || c == 'd') {
            a->ret.keep_unread = c == 'k';
            unread_flags++;
        } else {
            rc = option_error("retain", c, argv);
        }
        if (rc != 0) {
            return -1;
        }
    }
    if (unread_flags > 1) {
        usage_error("retain", "give --keep-unread or --drop-unread, not "
                              "both");
        return -1;
    }
    if (a->ret.max_bytes == 0 && a->ret.max_age_ms == 0) {
        usage_error("retain", "give --max-bytes and/or --max-age (a limit "
                              "above zero)");
        return -1;
    }
    return take_path("retain", argc, argv, &a->path) < 0 ? -1 : 0;
}

static void retain_totals(struct log *log, uint64_t *bytes, uint64_t *records)
{
    *bytes = 0;
    *records = 0;
    for (uint32_t p = 0; p < log_partitions(log); p++) {
        struct log_partition_info info;

        if (log_partition_info(log, p, &info) == 0) {
            *bytes += info.bytes;
            *records += info.end_offset - info.start_offset;
        }
    }
}

static int log_retain(int argc, char **argv)
{
    struct retain_args a = {0};
    struct log_options opts;
    struct log_retention_report rep = {0};
    struct log *log;
    uint64_t bytes[2];
    uint64_t records[2];
    char size[2][TW_SIZE_TEXT_MAX];
    int rc = retain_parse(argc, argv, &a);

    if (rc != 0) {
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    log_options_init(&opts, a.path);
    opts.partitions = 0;
    opts.create = false;
    opts.retention = a.ret;
    /* Only the pass asked for here: the writer's own comes much later. */
    opts.retention_interval_ms = INT64_C(86400000);
    if (log_embedded_open(&opts, &log, NULL) < 0) {
        say_error("retain", "cannot open the log", a.path);
        return CLI_EXIT_USAGE;
    }
    retain_totals(log, &bytes[0], &records[0]);
    rc = log_retention_run(log, &rep);
    retain_totals(log, &bytes[1], &records[1]);
    log_close(log);
    if (rc < 0) {
        fprintf(stderr, "trackway log retain: retention failed: %s\n",
                tw_err_message());
        return CLI_EXIT_FAIL;
    }

    printf("retention on %s (max-bytes %s, max-age %s, %s unread):\n", a.path,
           a.max_bytes_text ? a.max_bytes_text : "none",
           a.max_age_text ? a.max_age_text : "none",
           a.ret.keep_unread ? "keep" : "drop");
    tw_format_size(rep.bytes_deleted, size[0], sizeof(size[0]));
    printf("  deleted %u segments, %s, %" PRIu64 " records\n",
           rep.segments_deleted, size[0], rep.records_deleted);
    printf("  kept %u segments over the limits for cursors that have not "
           "read them\n",
           rep.segments_kept_for_cursors);
    printf("  deleted %u segments a cursor had not read\n",
           rep.segments_deleted_unread);
    tw_format_size(bytes[0], size[0], sizeof(size[0]));
    tw_format_size(bytes[1], size[1], sizeof(size[1]));
    printf("  log: %s, %" PRIu64 " records before; %s, %" PRIu64
           " records now\n",
           size[0], records[0], size[1], records[1]);
    return CLI_EXIT_OK;
}

/* ----------------------------------------------------------- dispatch -- */

static const struct log_command log_commands[] = {
    {"stat", "partitions, offsets, sizes, times and cursor lag", log_stat},
    {"dump", "print records as NDJSON", log_dump},
    {"check", "verify every segment, index and cursor file", log_check_cmd},
    {"repair", "mend what check found (stop the server first)", log_repair_cmd},
    {"demo", "append sample events", log_demo},
    {"retain", "run one retention pass", log_retain},
};

static void log_usage(FILE *out)
{
    fprintf(out, "Usage: trackway log COMMAND PATH [OPTIONS]\n"
                 "\n"
                 "Inspects, checks and repairs the embedded log kept in "
                 "directory PATH.\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof(log_commands) / sizeof(log_commands[0]);
         i++) {
        fprintf(out, "  %-8s %s\n", log_commands[i].name,
                log_commands[i].summary);
    }
    fprintf(out, "\n"
                 "Run 'trackway log COMMAND --help' for a command's options "
                 "and an example.\n"
                 "\n"
                 "Example:\n"
                 "  trackway log stat ./data\n");
}

int cli_log_main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : NULL;

    if (name == NULL) {
        fprintf(stderr, "trackway log: missing a command\n\n");
        log_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        log_usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(log_commands) / sizeof(log_commands[0]);
         i++) {
        if (strcmp(name, log_commands[i].name) == 0) {
            /* Each command parses its arguments from the start. */
            optind = 0;
            opterr = 0;
            return log_commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "trackway log: unknown command '%s'\n\n", name);
    log_usage(stderr);
    return CLI_EXIT_USAGE;
}
