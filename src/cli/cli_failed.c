/*
 * cli_failed.c - `trackway failed ls|show`: the events the collector
 * kept in the failed-events log, with why each failed (failed.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/follow.h"
#include "cli/show.h"
#include "common/units.h"

static const char failed_help[] =
    "Usage: trackway failed ls -c CONFIG [--source NAME] [--reason REASON]\n"
    "                          [--event NAME] [--since TIME] [--limit N]\n"
    "       trackway failed show -c CONFIG OFFSET\n"
    "       trackway failed replay -c CONFIG [--url URL] [--dry-run] ...\n"
    "\n"
    "Events that reached the collector but were not accepted: malformed\n"
    "(broke the API's rules), too_large, unplanned (a track event the plan\n"
    "does not list) or invalid (broke its schema). Their requests were\n"
    "answered 200, so SDKs do not resend them; they are kept here with the\n"
    "reason and the event exactly as sent.\n"
    "\n"
    "  ls      one line per failed event, oldest first: offset, time,\n"
    "          source, reason, call, and the first violation or error\n"
    "  show    one failed event in full: every violation and the event\n"
    "  replay  send them to the running collector again, to be judged by\n"
    "          the plan it runs now; replayed events get a new receivedAt\n"
    "          (see 'trackway failed replay --help')\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE    the configuration 'trackway serve' runs with\n"
    "      --source NAME    only this source\n"
    "      --reason REASON  malformed, too_large, unplanned or invalid\n"
    "      --event NAME     only track events of this name\n"
    "      --since TIME     from the first failed at or after TIME\n"
    "  -n, --limit N        at most N lines (default 100)\n"
    "\n"
    "Examples:\n"
    "  trackway failed ls -c config/sample.yaml --reason invalid\n"
    "  trackway failed show -c config/sample.yaml 42\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("trackway failed: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nRun 'trackway failed --help' for its options.\n", stderr);
    return CLI_EXIT_USAGE;
}

/* The first violation as "pointer: message", else the error. */
static const char *why_of(struct tw_json rec, char *buf, size_t size)
{
    struct tw_json list;
    struct tw_json first;
    struct tw_json_iter it;
    char pointer[200];
    char message[200];

    if (tw_json_get(rec, "violations", &list) &&
        tw_json_type(list) == TW_JSON_ARRAY) {
        tw_json_iter_init(&it, list);
        if (tw_json_array_next(&it, &first) &&
            tw_json_type(first) == TW_JSON_OBJECT) {
            snprintf(buf, size, "%s: %s",
                     show_text(first, "pointer", pointer, sizeof(pointer)),
                     show_text(first, "message", message, sizeof(message)));
            return buf;
        }
    }
    return show_text(rec, "error", buf, size);
}

static void print_row(struct follow_run *t, uint32_t partition,
                      const struct log_record *rec)
{
    struct tw_json root = t->parsed;
    struct tw_json event;
    char when[TW_TIME_TEXT_MAX];
    char source[80];
    char reason[32];
    char call[120];
    char why[420];
    char type[32];

    (void)partition;
    if (!t->has_parsed &&
        (tw_json_parse(t->parser, rec->value, rec->value_len, &root) != 0 ||
         tw_json_type(root) != TW_JSON_OBJECT)) {
        printf("%-8" PRIu64 " (unreadable record)\n", rec->offset);
        return;
    }
    tw_format_time(rec->timestamp_ms, when, sizeof(when));
    snprintf(call, sizeof(call), "-");
    if (tw_json_get(root, "event", &event) &&
        tw_json_type(event) == TW_JSON_OBJECT) {
        const char *kind = show_text(event, "type", type, sizeof(type));
        if (strcmp(kind, "track") == 0) {
            show_text(event, "event", call, sizeof(call));
        } else {
            snprintf(call, sizeof(call), "%s", kind);
        }
    }
    if (t->printed == 0) {
        printf("%-8s %-24s %-12s %-10s %-24s %s\n", "OFFSET", "RECEIVED",
               "SOURCE", "REASON", "CALL", "WHY");
    }
    printf("%-8" PRIu64 " %-24s %-12s %-10s %-24s %s\n", rec->offset, when,
           show_text(root, "source", source, sizeof(source)),
           show_text(root, "reason", reason, sizeof(reason)), call,
           why_of(root, why, sizeof(why)));
}

static int failed_ls(int argc, char **argv)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"source", required_argument, NULL, 's'},
        {"reason", required_argument, NULL, 'r'},
        {"event", required_argument, NULL, 'e'},
        {"since", required_argument, NULL, 'S'},
        {"limit", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct follow_run t = {.cmd = "failed ls",
                           .failed_log = true,
                           .has_limit = true,
                           .limit = 100};
    enum follow_start start = FOLLOW_FROM_START;
    const char *config_path = NULL;
    int64_t since_ms = 0;
    int status;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, ":hc:n:", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(failed_help, stdout);
            return CLI_EXIT_OK;
        } else if (c == 'c') {
            config_path = optarg;
        } else if (c == 's') {
            t.filter.source = optarg;
        } else if (c == 'r') {
            t.filter.reason = optarg;
        } else if (c == 'e') {
            t.filter.event = optarg;
        } else if (c == 'S') {
            if (tw_parse_time(optarg, &since_ms) != 0) {
                return usage_error("--since: %s", tw_err_message());
            }
            start = FOLLOW_FROM_TIME;
        } else if (c == 'n') {
            if (tw_parse_u64(optarg, &t.limit) != 0) {
                return usage_error("--limit: %s", tw_err_message());
            }
        } else {
            return usage_error("bad option %s", argv[optind - 1]);
        }
    }
    if (config_path == NULL || optind < argc) {
        return usage_error("%s", config_path == NULL ? "missing -c CONFIG"
                                                     : "unexpected argument");
    }
    status = follow_execute(&t, config_path, start, since_ms, false, print_row);
    if (status == CLI_EXIT_OK && t.printed == 0) {
        printf("no failed events%s\n",
               t.filter.source || t.filter.reason || t.filter.event ? " match"
                                                                    : "");
    } else if (status == CLI_EXIT_OK && t.printed == t.limit) {
        printf("(stopped at --limit %" PRIu64 "; use --since or a larger "
               "--limit for more)\n",
               t.limit);
    }
    return status;
}

/* show: prints the record at one offset, for a person. */
static void print_full(struct follow_run *t, uint32_t partition,
                       const struct log_record *rec)
{
    struct tw_json root;
    struct tw_json list;
    struct tw_json v;
    struct tw_json_iter it;
    char a[200];
    char b[200];
    char c[300];

    (void)partition;
    if (rec->offset != *(const uint64_t *)t->print_ctx) {
        printf("no failed event at offset %" PRIu64 "; the oldest kept is "
               "%" PRIu64 "\n",
               *(const uint64_t *)t->print_ctx, rec->offset);
        return;
    }
    if (tw_json_parse(t->parser, rec->value, rec->value_len, &root) != 0 ||
        tw_json_type(root) != TW_JSON_OBJECT) {
        printf("offset %" PRIu64 ": unreadable record: %s\n", rec->offset,
               tw_err_message());
        return;
    }
    tw_format_time(rec->timestamp_ms, a, sizeof(a));
    printf("offset:      %" PRIu64 "\nreceived:    %s\n", rec->offset, a);
    printf("source:      %s\n", show_text(root, "source", a, sizeof(a)));
    printf("reason:      %s\n", show_text(root, "reason", a, sizeof(a)));
    if (tw_json_get(root, "error", &v)) {
        printf("error:       %s\n", show_text(root, "error", c, sizeof(c)));
    }
    if (tw_json_get(root, "plan", &v)) {
        printf("plan:        %s, version %s\n",
               show_text(root, "plan", a, sizeof(a)),
               show_text(root, "planVersion", b, sizeof(b)));
    }
    if (tw_json_get(root, "violations", &list) &&
        tw_json_type(list) == TW_JSON_ARRAY) {
        printf("violations:\n");
        tw_json_iter_init(&it, list);
        while (tw_json_array_next(&it, &v)) {
            if (tw_json_type(v) == TW_JSON_OBJECT) {
                printf("  %-28s %-12s %s\n", show_text(v, "pointer", a, 200),
                       show_text(v, "keyword", b, 200),
                       show_text(v, "message", c, 300));
            }
        }
    }
    if (tw_json_get(root, "event", &v)) {
        printf("event:       ");
        show_json_line(stdout, v);
    }
}

static int failed_show(int argc, char **argv)
{
    struct follow_run t = {.cmd = "failed show",
                           .failed_log = true,
                           .has_limit = true,
                           .limit = 1};
    const char *config_path = NULL;
    uint64_t offset;
    int status;

    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(failed_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc == 4 &&
        (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0)) {
        config_path = argv[2];
    }
    if (config_path == NULL) {
        return usage_error("%s", "usage: failed show -c CONFIG OFFSET");
    }
    if (tw_parse_u64(argv[3], &offset) != 0) {
        return usage_error("OFFSET: %s", tw_err_message());
    }
    t.next[0] = offset;
    t.print_ctx = &offset;
    status = follow_execute(&t, config_path, FOLLOW_AT_OFFSETS, 0, false,
                            print_full);
    if (status == CLI_EXIT_OK && t.printed == 0) {
        fprintf(stderr,
                "trackway failed show: no failed event at offset "
                "%" PRIu64 "\n",
                offset);
        return CLI_EXIT_FAIL;
    }
    return status;
}

int cli_failed_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "ls") == 0) {
        return failed_ls(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "show") == 0) {
        return failed_show(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "replay") == 0) {
        return cli_failed_replay_main(argc - 1, argv + 1);
    }
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(failed_help, stdout);
        return CLI_EXIT_OK;
    }
    return usage_error("%s", argc < 2 ? "missing ls, show or replay" : argv[1]);
}
