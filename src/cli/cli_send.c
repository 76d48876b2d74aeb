/*
 * cli_send.c - `trackway send`: NDJSON events from a file or stdin to a
 * collector's /v1/batch, the way an SDK would send them.
 *
 * Lines are grouped into batches (by count and by bytes). Each message
 * without a messageId gets one here, before the first attempt, so a
 * batch resent after a 5xx, a 429 or a network error is deduplicated by
 * the collector instead of stored twice. Posting and its retries are
 * http_client.h's. A line that is not a JSON object is reported with its
 * number and skipped; the rest still go.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "collect/message.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/units.h"
#include "json/json.h"

#define SEND_LINE_MAX (1u << 20)
#define SEND_PROGRESS_NS 100000000ull

static const char send_help[] =
    "Usage: trackway send [FILE] --url URL --write-key KEY [--batch N]\n"
    "                     [--max-bytes SIZE] [--gzip] [--retries N]\n"
    "                     [--no-progress]\n"
    "\n"
    "Sends events, one JSON message a line (NDJSON), from FILE or stdin to\n"
    "a collector's /v1/batch endpoint, with the write key as HTTP Basic\n"
    "user. Messages without a messageId get one first, so a batch resent\n"
    "after a failure is stored once. 5xx answers, 429 and network errors\n"
    "are retried with backoff (honouring Retry-After); 4xx answers are\n"
    "reported and that batch is skipped. A progress line goes to stderr on\n"
    "a terminal; a summary always does. Exits 0 when every line was sent\n"
    "and answered 200, 1 otherwise.\n"
    "\n"
    "Options:\n"
    "  -u, --url URL         the collector, e.g. http://127.0.0.1:8080\n"
    "  -k, --write-key KEY   the source's write key\n"
    "  -b, --batch N         messages per request (default 100)\n"
    "      --max-bytes SIZE  bytes per request at most (default 450KiB)\n"
    "  -z, --gzip            compress request bodies\n"
    "      --retries N       attempts per batch after the first (default 8)\n"
    "      --no-progress     no progress line, even on a terminal\n"
    "\n"
    "Example:\n"
    "  trackway send events.ndjson --url http://127.0.0.1:8080 "
    "--write-key wk_web_123\n";

struct send_opts {
    const char *file;
    const char *url;
    const char *key;
    uint64_t batch;
    uint64_t max_bytes;
    bool gzip;
    uint64_t retries;
    bool progress;
};

struct send_state {
    struct send_opts o;
    struct http_client *http;
    struct tw_json_parser *parser;
    struct http_batch batch;
    uint64_t lines;
    uint64_t invalid;
    uint64_t bytes_read;
    uint64_t file_size;
    uint64_t start_ns;
    uint64_t drawn_ns;
    bool fatal; /* 401: nothing more can succeed */
};

static void progress(struct send_state *s, bool final)
{
    uint64_t now = tw_monotonic_ns();
    double secs = (double)(now - s->start_ns) / 1e9;

    if (!s->o.progress || (!final && now - s->drawn_ns < SEND_PROGRESS_NS)) {
        return;
    }
    s->drawn_ns = now;
    fprintf(stderr, "\r  %" PRIu64 " events sent, %.0f/s", s->batch.taken,
            secs > 0 ? (double)s->batch.taken / secs : 0.0);
    if (s->file_size > 0) {
        double done = (double)s->bytes_read / (double)s->file_size;
        fprintf(stderr, "  [%3.0f%%]", done * 100);
        if (done > 0.01 && !final) {
            fprintf(stderr, "  ETA %.0fs", secs / done - secs);
        }
    }
    fputs(final ? "\n" : "   ", stderr);
}

static void flush_batch(struct send_state *s)
{
    long status = http_client_post_batch(s->http, &s->batch, "");

    s->fatal = status == 401;
    progress(s, false);
}

/* Adds one line to the batch, with a messageId when it has none. */
static void add_line(struct send_state *s, const char *line, size_t len)
{
    struct tw_json root;
    struct tw_json id;
    struct tw_buf *body;
    const char *brace;
    char uuid[37];

    bool parsed = tw_json_parse(s->parser, line, len, &root) == 0;

    if (!parsed || tw_json_type(root) != TW_JSON_OBJECT) {
        s->invalid++;
        fprintf(stderr, "%strackway send: %s line %" PRIu64 ": %s; skipped\n",
                s->o.progress ? "\n" : "", s->o.file ? s->o.file : "stdin",
                s->lines, parsed ? "not a JSON object" : tw_err_message());
        return;
    }
    /* Room for a messageId put in front: {"messageId":"UUID", */
    if (http_batch_full(&s->batch, len + 64)) {
        flush_batch(s);
    }
    body = http_batch_add(&s->batch);
    brace = memchr(line, '{', len);
    if (!tw_json_get(root, "messageId", &id)) {
        msg_new_id(uuid);
        tw_buf_printf(body, "{\"messageId\":\"%s\"%s", uuid,
                      tw_json_count(root) > 0 ? "," : "");
        tw_buf_append(body, brace + 1, len - (size_t)(brace + 1 - line));
    } else {
        tw_buf_append(body, line, len);
    }
}

static int send_setup(struct send_state *s)
{
    struct http_client_opts opts = {.cmd = "send",
                                    .agent = "trackway-send/" CLI_VERSION,
                                    .gzip = s->o.gzip,
                                    .retries = s->o.retries,
                                    .progress = s->o.progress,
                                    .max_body =
                                        s->o.max_bytes + SEND_LINE_MAX + 128};

    if (http_client_new(&opts, s->o.url, &s->http) != 0 ||
        tw_json_parser_new(SEND_LINE_MAX, 0, &s->parser) != 0) {
        fprintf(stderr, "trackway send: %s\n", tw_err_message());
        return -1;
    }
    http_client_set_key(s->http, s->o.key);
    http_batch_init(&s->batch, s->o.batch, s->o.max_bytes, opts.max_body, true);
    return 0;
}

static void send_teardown(struct send_state *s)
{
    http_batch_free(&s->batch);
    tw_json_parser_free(s->parser);
    http_client_free(s->http);
}

static int send_all(struct send_state *s, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    double secs;
    struct http_client_stats hs;

    s->start_ns = tw_monotonic_ns();
    while (!s->fatal && (n = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)n;
        s->lines++;
        s->bytes_read += len;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        if (len > SEND_LINE_MAX) {
            s->invalid++;
            fprintf(stderr,
                    "trackway send: line %" PRIu64 " is over %u "
                    "bytes; skipped\n",
                    s->lines, SEND_LINE_MAX);
            continue;
        }
        add_line(s, line, len);
    }
    free(line);
    if (!s->fatal) {
        flush_batch(s);
    }
    progress(s, true);
    secs = (double)(tw_monotonic_ns() - s->start_ns) / 1e9;
    http_client_stats(s->http, &hs);
    fprintf(stderr,
            "trackway send: %" PRIu64 " events sent in %" PRIu64
            " requests (%" PRIu64 " retried), %" PRIu64 " not taken, %" PRIu64
            " invalid lines, in %.2f s (%.0f events/s)\n",
            s->batch.taken, hs.requests, hs.retried, s->batch.not_taken,
            s->invalid, secs, secs > 0 ? (double)s->batch.taken / secs : 0.0);
    return s->batch.not_taken == 0 && s->invalid == 0 && !s->fatal
               ? CLI_EXIT_OK
               : CLI_EXIT_FAIL;
}

static int send_usage(const char *what, const char *arg)
{
    fprintf(stderr, "trackway send: %s%s\nRun 'trackway send --help'.\n", what,
            arg);
    return CLI_EXIT_USAGE;
}

int cli_send_main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"url", required_argument, NULL, 'u'},
        {"write-key", required_argument, NULL, 'k'},
        {"batch", required_argument, NULL, 'b'},
        {"max-bytes", required_argument, NULL, 'M'},
        {"gzip", no_argument, NULL, 'z'},
        {"retries", required_argument, NULL, 'r'},
        {"no-progress", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct send_state s = {.o = {.batch = 100,
                                 .max_bytes = 450 * 1024,
                                 .retries = 8,
                                 .progress = true}};
    struct stat st;
    FILE *in = stdin;
    int status;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, ":hu:k:b:z", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(send_help, stdout);
            return CLI_EXIT_OK;
        } else if (c == 'u') {
            s.o.url = optarg;
        } else if (c == 'k') {
            s.o.key = optarg;
        } else if (c == 'b') {
            if (tw_parse_u64(optarg, &s.o.batch) != 0 || s.o.batch == 0) {
                return send_usage("--batch needs a count of 1 or more: ",
                                  optarg);
            }
        } else if (c == 'M') {
            if (tw_parse_size(optarg, &s.o.max_bytes) != 0) {
                return send_usage("--max-bytes: ", tw_err_message());
            }
        } else if (c == 'z') {
            s.o.gzip = true;
        } else if (c == 'r') {
            if (tw_parse_u64(optarg, &s.o.retries) != 0) {
                return send_usage("--retries: ", tw_err_message());
            }
        } else if (c == 'P') {
            s.o.progress = false;
        } else {
            return send_usage("bad option ", argv[optind - 1]);
        }
    }
    if (s.o.url == NULL || s.o.key == NULL) {
        return send_usage(
            s.o.url == NULL ? "missing --url" : "missing --write-key", "");
    }
    if (optind < argc - 1) {
        return send_usage("one FILE at most, got also ", argv[optind + 1]);
    }
    if (optind < argc && strcmp(argv[optind], "-") != 0) {
        s.o.file = argv[optind];
        in = fopen(s.o.file, "r");
        if (in == NULL) {
            fprintf(stderr, "trackway send: cannot read %s: %s\n", s.o.file,
                    strerror(errno));
            return CLI_EXIT_USAGE;
        }
        if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode)) {
            s.file_size = (uint64_t)st.st_size;
        }
    }
    s.o.progress = s.o.progress && isatty(STDERR_FILENO);
    if (send_setup(&s) != 0) {
        status = CLI_EXIT_USAGE;
    } else {
        status = send_all(&s, in);
    }
    send_teardown(&s);
    if (in != stdin) {
        fclose(in);
    }
    return status;
}
