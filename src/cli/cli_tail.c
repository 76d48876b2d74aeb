/*
 * cli_tail.c - `trackway tail`: accepted or failed events as NDJSON, as
 * the collector stored them, following new ones.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/follow.h"
#include "common/units.h"

static const char tail_help[] =
    "Usage: trackway tail -c CONFIG [--failed] [--source NAME] [--event NAME]\n"
    "                     [--type TYPE] [--since TIME | --from-start]\n"
    "                     [--limit N] [--no-follow]\n"
    "\n"
    "Prints events as the collector stored them, one JSON object a line,\n"
    "and keeps printing new ones as they arrive (Ctrl-C stops). Reads the\n"
    "logs named by the configuration's storage section, read-only, so it\n"
    "runs beside 'trackway serve'.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  the configuration 'trackway serve' runs with\n"
    "      --failed       the failed-events log instead of accepted events\n"
    "      --source NAME  only events of this source\n"
    "      --event NAME   only track events of this name\n"
    "      --type TYPE    only this call type (track, identify, page, ...)\n"
    "      --since TIME   start at the first event received at or after\n"
    "                     TIME (ISO-8601, or milliseconds since 1970)\n"
    "      --from-start   start at the oldest stored event\n"
    "                     (default: only events arriving from now on)\n"
    "  -n, --limit N      stop after N events\n"
    "      --no-follow    stop at the end of what is stored now\n"
    "\n"
    "Examples:\n"
    "  trackway tail -c config/sample.yaml --source web --event "
    "'Order Completed'\n"
    "  trackway tail -c config/sample.yaml --failed --from-start "
    "--no-follow\n";

static void print_value(struct follow_run *t, uint32_t partition,
                        const struct log_record *rec)
{
    (void)t;
    (void)partition;
    fwrite(rec->value, 1, rec->value_len, stdout);
    fputc('\n', stdout);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("trackway tail: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nRun 'trackway tail --help' for its options.\n", stderr);
    return CLI_EXIT_USAGE;
}

int cli_tail_main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"failed", no_argument, NULL, 'F'},
        {"source", required_argument, NULL, 's'},
        {"event", required_argument, NULL, 'e'},
        {"type", required_argument, NULL, 't'},
        {"since", required_argument, NULL, 'S'},
        {"from-start", no_argument, NULL, 'B'},
        {"limit", required_argument, NULL, 'n'},
        {"no-follow", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct follow_run *t = calloc(1, sizeof(*t));
    enum follow_start start = FOLLOW_FROM_END;
    const char *config_path = NULL;
    int64_t since_ms = 0;
    bool follow = true;
    int status;
    int c;

    if (t == NULL) {
        return CLI_EXIT_USAGE;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, ":hc:n:", longs, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(tail_help, stdout);
            free(t);
            return CLI_EXIT_OK;
        case 'c':
            config_path = optarg;
            break;
        case 'F':
            t->failed_log = true;
            break;
        case 's':
            t->filter.source = optarg;
            break;
        case 'e':
            t->filter.event = optarg;
            break;
        case 't':
            t->filter.type = optarg;
            break;
        case 'S':
            if (tw_parse_time(optarg, &since_ms) != 0) {
                free(t);
                return usage_error("--since: %s", tw_err_message());
            }
            start = FOLLOW_FROM_TIME;
            break;
        case 'B':
            start = FOLLOW_FROM_START;
            break;
        case 'n':
            if (tw_parse_u64(optarg, &t->limit) != 0) {
                free(t);
                return usage_error("--limit: %s", tw_err_message());
            }
            t->has_limit = true;
            break;
        case 'N':
            follow = false;
            break;
        default:
            free(t);
            return usage_error("bad option %s", argv[optind - 1]);
        }
    }
    if (config_path == NULL || optind < argc) {
        free(t);
        return usage_error("%s", config_path == NULL ? "missing -c CONFIG"
                                                     : "unexpected argument");
    }
    t->cmd = "tail";
    status =
        follow_execute(t, config_path, start, since_ms, follow, print_value);
    free(t);
    return status;
}
