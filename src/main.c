/*
 * main.c - the trackway binary: finds the command named by the first
 * argument in a table and runs it. A new command is one line in
 * `commands` and an entry point declared in cli/cli.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "obs/logging.h"

struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static int version_main(int argc, char **argv);
static int help_main(int argc, char **argv);

static const struct command commands[] = {
    {"serve", "run the collector: HTTP ingestion into the log", cli_serve_main},
    {"check", "check a configuration file and its schemas", cli_check_main},
    {"send", "send NDJSON events to a collector", cli_send_main},
    {"tail", "follow stored events (or failed ones) as NDJSON", cli_tail_main},
    {"failed", "list, show and replay events that failed validation",
     cli_failed_main},
    {"replay", "deliver a slice of history to a destination again",
     cli_replay_main},
    {"dest", "list destinations; pause or resume one in place", cli_dest_main},
    {"dlq", "list, show and replay what a destination gave up on",
     cli_dlq_main},
    {"trace", "where one event is, and how far each destination got with it",
     cli_trace_main},
    {"log", "inspect, check and repair the embedded log", cli_log_main},
    {"version", "print the version", version_main},
    {"help", "show this help, or a command's: trackway help log", help_main},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "Usage: trackway COMMAND [ARGS]\n"
                 "\n"
                 "Trackway captures behavioural events, keeps them in a "
                 "durable partitioned\n"
                 "log and delivers them to destinations.\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\n"
                 "Run 'trackway COMMAND --help' for a command's options "
                 "and an example.\n"
                 "Diagnostics go to stderr; TRACKWAY_LOG_LEVEL (debug, "
                 "info, warn, error,\n"
                 "off; default warn) sets how many.\n"
                 "\n"
                 "Examples:\n"
                 "  trackway serve -c config/sample.yaml\n"
                 "  trackway tail -c config/sample.yaml --from-start\n");
}

static const struct command *command_find(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static int version_main(int argc, char **argv)
{
    if (argc > 1 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: trackway version\n"
               "\n"
               "Prints the version of this binary. No options.\n"
               "\n"
               "Example:\n"
               "  trackway version\n");
        return CLI_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "trackway version: unexpected argument '%s'\n",
                argv[1]);
        return CLI_EXIT_USAGE;
    }
    printf("trackway %s\n", CLI_VERSION);
    return CLI_EXIT_OK;
}

/* `trackway help [COMMAND]`: the usage, or COMMAND --help. */
static int help_main(int argc, char **argv)
{
    const struct command *cmd;
    char help_flag[] = "--help";
    char *args[3];

    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    cmd = command_find(argv[1]);
    if (cmd == NULL || cmd->run == help_main) {
        fprintf(stderr, "trackway help: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    args[0] = argv[1];
    args[1] = help_flag;
    args[2] = NULL;
    return cmd->run(2, args);
}

/* Operators read command output; the log lines below warn are noise. */
static void logging_setup(void)
{
    const char *level = getenv("TRACKWAY_LOG_LEVEL");
    int parsed = level != NULL ? obs_level_parse(level) : -1;

    if (level != NULL && parsed < 0) {
        fprintf(stderr,
                "trackway: TRACKWAY_LOG_LEVEL=%s is not one of "
                "debug, info, warn, error, off; using warn\n",
                level);
    }
    obs_log_set_level(parsed >= 0 ? (enum obs_level)parsed : OBS_WARN);
}

int main(int argc, char **argv)
{
    const struct command *cmd;

    logging_setup();
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        return version_main(1, argv + 1);
    }
    cmd = command_find(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "trackway: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
