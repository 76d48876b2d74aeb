/*
 * cli.h - the trackway command line: one entry point per top-level
 * command, dispatched from src/main.c by name.
 *
 * Each entry point takes the arguments from its own name on (argv[0] is
 * "log", ...) and returns the process exit status:
 *
 *   0  the command did what was asked (and, for check, found no damage)
 *   1  it ran but the outcome is bad: damage found, a read failed, a
 *      repair could not finish, the log is held by another process
 *   2  it could not run: wrong usage, no log at the path, an I/O error
 *
 * Every command and subcommand answers --help on stdout with what it does,
 * its options and their defaults, and an example, and exits 0.
 */
#ifndef TW_CLI_CLI_H
#define TW_CLI_CLI_H

/* The release this binary reports; kept in step with CMakeLists.txt. */
#define CLI_VERSION "0.1.0"

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,
    CLI_EXIT_USAGE = 2,
};

/* `trackway log SUBCOMMAND ...`: stat, dump, check, repair, demo, retain. */
int cli_log_main(int argc, char **argv);
/* `trackway serve -c CONFIG`: the collector. */
int cli_serve_main(int argc, char **argv);
/* `trackway tail -c CONFIG`: follow stored events as NDJSON. */
int cli_tail_main(int argc, char **argv);
/* `trackway failed ls|show -c CONFIG`: the failed-events log. */
int cli_failed_main(int argc, char **argv);
/* `trackway failed replay -c CONFIG`: failed events to the collector again. */
int cli_failed_replay_main(int argc, char **argv);
/* `trackway send URL`: NDJSON events to a collector. */
int cli_send_main(int argc, char **argv);
/* `trackway replay -c CONFIG DEST --from ...`: history delivered again. */
int cli_replay_main(int argc, char **argv);
/* `trackway dlq replay -c CONFIG DEST`: dead letters delivered again. */
int cli_dlq_replay_main(int argc, char **argv);
/* `trackway dest ls|pause|resume -c CONFIG`: destinations as they are. */
int cli_dest_main(int argc, char **argv);
/* `trackway dlq ls|show -c CONFIG DEST`: a destination's dead letters. */
int cli_dlq_main(int argc, char **argv);
/* `trackway trace -c CONFIG MESSAGE_ID`: where one event is. */
int cli_trace_main(int argc, char **argv);
/* `trackway check CONFIG`: validate a configuration and its schemas. */
int cli_check_main(int argc, char **argv);

#endif
