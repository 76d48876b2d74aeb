/*
 * cli_dlq.c - `trackway dlq ls|show DEST`: the events a destination gave
 * up on, with why (its dead-letter log, storage.path/dlq/<DEST>; the
 * record format is in docs/ARCHITECTURE.md, "Delivery").
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/follow.h"
#include "cli/show.h"
#include "cli/storage.h"
#include "common/units.h"

static const char dlq_help[] =
    "Usage: trackway dlq ls -c CONFIG DEST [--since TIME] [--limit N]\n"
    "       trackway dlq show -c CONFIG DEST OFFSET\n"
    "       trackway dlq replay -c CONFIG DEST [--from N] [--to N] [--rate N]\n"
    "\n"
    "The dead-letter log of destination DEST: the events it refused for\n"
    "good (an HTTP 4xx, say) or could not deliver within its attempts,\n"
    "each with the reason, the attempts, the last status and error, and\n"
    "the event.\n"
    "\n"
    "  ls      one line per event, oldest first\n"
    "  show    one in full\n"
    "  replay  send them to DEST again, through the running server (see\n"
    "          'trackway dlq replay --help'); the log keeps them\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  the configuration 'trackway serve' runs with\n"
    "      --since TIME   from the first dead letter at or after TIME\n"
    "  -n, --limit N      at most N lines (default 100)\n"
    "\n"
    "Example:\n"
    "  trackway dlq ls -c config/sample.yaml billing\n";

static bool parse(struct follow_run *t, const struct log_record *rec,
                  struct tw_json *root)
{
    return tw_json_parse(t->parser, rec->value, rec->value_len, root) == 0 &&
           tw_json_type(*root) == TW_JSON_OBJECT;
}

static void print_row(struct follow_run *t, uint32_t partition,
                      const struct log_record *rec)
{
    struct tw_json root;
    char when[TW_TIME_TEXT_MAX];
    char reason[40];
    char attempts[16];
    char status[16];
    char error[200];

    (void)partition;
    if (!parse(t, rec, &root)) {
        printf("%-8" PRIu64 " (unreadable record)\n", rec->offset);
        return;
    }
    if (t->printed == 0) {
        printf("%-8s %-24s %-36s %-19s %-8s %-6s %s\n", "OFFSET", "FAILED",
               "MESSAGE-ID", "REASON", "ATTEMPTS", "STATUS", "ERROR");
    }
    tw_format_time(rec->timestamp_ms, when, sizeof(when));
    printf("%-8" PRIu64 " %-24s %-36.*s %-19s %-8s %-6s %s\n", rec->offset,
           when, (int)rec->key_len, (const char *)rec->key,
           show_text(root, "reason", reason, sizeof(reason)),
           show_text(root, "attempts", attempts, sizeof(attempts)),
           show_text(root, "status", status, sizeof(status)),
           show_text(root, "error", error, sizeof(error)));
}

static void print_full(struct follow_run *t, uint32_t partition,
                       const struct log_record *rec)
{
    struct tw_json root;
    struct tw_json event;
    char a[300];

    (void)partition;
    if (rec->offset != *(const uint64_t *)t->print_ctx) {
        printf("no dead letter at offset %" PRIu64 "; the oldest kept is "
               "%" PRIu64 "\n",
               *(const uint64_t *)t->print_ctx, rec->offset);
        return;
    }
    if (!parse(t, rec, &root)) {
        printf("offset %" PRIu64 ": unreadable record\n", rec->offset);
        return;
    }
    tw_format_time(rec->timestamp_ms, a, sizeof(a));
    printf("offset:       %" PRIu64 "\nfailed:       %s\n", rec->offset, a);
    printf("messageId:    %.*s\n", (int)rec->key_len, (const char *)rec->key);
    printf("destination:  %s\n", show_text(root, "destination", a, sizeof(a)));
    printf("reason:       %s\n", show_text(root, "reason", a, sizeof(a)));
    printf("attempts:     %s\n", show_text(root, "attempts", a, sizeof(a)));
    printf("status:       %s\n", show_text(root, "status", a, sizeof(a)));
    printf("error:        %s\n", show_text(root, "error", a, sizeof(a)));
    printf("from:         partition %s, ",
           show_text(root, "partition", a, sizeof(a)));
    printf("offset %s of the events log\n",
           show_text(root, "offset", a, sizeof(a)));
    if (tw_json_get(root, "event", &event)) {
        printf("event:        ");
        show_json_line(stdout, event);
    }
}

static int usage(const char *what)
{
    fprintf(stderr, "trackway dlq: %s\nRun 'trackway dlq --help'.\n", what);
    return CLI_EXIT_USAGE;
}

/* Parses "-c CONFIG DEST [OFFSET]" and the ls options. */
static int dlq_args(int argc, char **argv, struct follow_run *t,
                    const char **config, const char **dest,
                    enum follow_start *start, int64_t *since_ms)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"since", required_argument, NULL, 'S'},
        {"limit", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:n:", longs, NULL)) != -1) {
        if (c == 'c') {
            *config = optarg;
        } else if (c == 'S' && tw_parse_time(optarg, since_ms) == 0) {
            *start = FOLLOW_FROM_TIME;
        } else if (c == 'n' && tw_parse_u64(optarg, &t->limit) == 0) {
            t->has_limit = true;
        } else {
            return usage("bad option or value");
        }
    }
    if (*config == NULL || optind >= argc) {
        return usage("needs -c CONFIG and a destination name");
    }
    *dest = argv[optind++];
    return 0;
}

static int dlq_run(int argc, char **argv, bool show)
{
    struct follow_run t = {.cmd = show ? "dlq show" : "dlq ls",
                           .has_limit = true,
                           .limit = show ? 1 : 100};
    enum follow_start start = FOLLOW_FROM_START;
    const char *config = NULL;
    const char *dest = NULL;
    int64_t since_ms = 0;
    uint64_t offset = 0;
    char name[256];
    int status;

    if (dlq_args(argc, argv, &t, &config, &dest, &start, &since_ms) != 0) {
        return CLI_EXIT_USAGE;
    }
    if (show && (optind >= argc || tw_parse_u64(argv[optind], &offset) != 0)) {
        return usage("show needs an OFFSET (from dlq ls)");
    }
    snprintf(name, sizeof(name), "%s/%s", CLI_DLQ_DIR, dest);
    t.log_name = name;
    if (show) {
        t.next[0] = offset;
        t.print_ctx = &offset;
        start = FOLLOW_AT_OFFSETS;
    }
    status = follow_execute(&t, config, start, since_ms, false,
                            show ? print_full : print_row);
    if (status == CLI_EXIT_OK && t.printed == 0 && show) {
        printf("no dead letter at offset %" PRIu64 "\n", offset);
        status = CLI_EXIT_FAIL;
    } else if (status == CLI_EXIT_OK && t.printed == 0) {
        printf("no dead letters\n");
    }
    return status;
}

int cli_dlq_main(int argc, char **argv)
{
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(dlq_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "ls") == 0) {
        return dlq_run(argc - 1, argv + 1, false);
    }
    if (argc >= 2 && strcmp(argv[1], "show") == 0) {
        return dlq_run(argc - 1, argv + 1, true);
    }
    if (argc >= 2 && strcmp(argv[1], "replay") == 0) {
        return cli_dlq_replay_main(argc - 1, argv + 1);
    }
    return usage("ls, show or replay?");
}
