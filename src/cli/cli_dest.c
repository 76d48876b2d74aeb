/*
 * cli_dest.c - `trackway dest ls|pause|resume`: the destinations of a
 * configuration as they stand, and pausing one without a restart.
 *
 * Pausing writes storage.path/control/<name>.paused, which the running
 * server looks for once a second (delivery.h); resuming removes it. The
 * destination keeps its cursors either way, so nothing is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/delivery.h"
#include "cli/storage.h"
#include "common/units.h"
#include "deliver/deliver.h"

static const char dest_help[] =
    "Usage: trackway dest ls -c CONFIG\n"
    "       trackway dest pause -c CONFIG NAME\n"
    "       trackway dest resume -c CONFIG NAME\n"
    "\n"
    "  ls      every destination: type, where it sends, paused or not,\n"
    "          events not yet delivered (lag) and dead letters\n"
    "  pause   stop sending to NAME and keep its place; the running server\n"
    "          notices within a second, and a restart keeps it paused\n"
    "  resume  carry on from where NAME stopped\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  the configuration 'trackway serve' runs with\n"
    "\n"
    "Example:\n"
    "  trackway dest pause -c config/sample.yaml lake\n";

static int usage(const char *what)
{
    fprintf(stderr, "trackway dest: %s\nRun 'trackway dest --help'.\n", what);
    return CLI_EXIT_USAGE;
}

/* Events of the log that the destination's cursors are behind. */
static uint64_t lag_of(struct log *events, const char *dest)
{
    char cursor[LOG_CURSOR_NAME_MAX + 1];
    uint64_t lag = 0;

    deliver_cursor_name(dest, cursor, sizeof(cursor));
    for (uint32_t p = 0; p < log_partitions(events); p++) {
        struct log_partition_info info;
        uint64_t next;

        if (log_partition_info(events, p, &info) != 0) {
            continue;
        }
        if (log_cursor_get(events, cursor, p, &next) != 0) {
            next = info.start_offset;
        }
        lag += info.end_offset > next ? info.end_offset - next : 0;
    }
    return lag;
}

static uint64_t dead_letters(const struct tw_config *c, const char *dest)
{
    struct log_partition_info info;
    struct log *dlq;
    char name[256];
    uint64_t n = 0;

    snprintf(name, sizeof(name), "%s/%s", CLI_DLQ_DIR, dest);
    /* No dead-letter log yet: the destination never started. */
    if (cli_log_open_quiet(c, name, &dlq) != 0) {
        return 0;
    }
    if (log_partition_info(dlq, 0, &info) == 0) {
        n = info.end_offset - info.start_offset;
    }
    log_close(dlq);
    return n;
}

static int dest_ls(const struct tw_config *c)
{
    struct cli_storage st;
    char path[4096];

    if (c->destination_count == 0) {
        printf("no destinations in %s\n", c->file);
        return CLI_EXIT_OK;
    }
    if (cli_storage_open("dest ls", c, true, &st) != 0) {
        return CLI_EXIT_FAIL;
    }
    printf("%-16s %-7s %-8s %12s %12s %-7s  %s\n", "NAME", "TYPE", "STATE",
           "LAG", "DEAD", "BACKLOG", "TO");
    for (size_t i = 0; i < c->destination_count; i++) {
        const struct cfg_destination *d = &c->destinations[i];
        static const char *const types[] = {"file", "http", "stdout"};

        delivery_pause_path(c, d->name, path, sizeof(path));
        printf("%-16s %-7s %-8s %12" PRIu64 " %12" PRIu64 " %-7s  %s\n",
               d->name, types[d->type],
               d->paused || access(path, F_OK) == 0 ? "paused" : "active",
               lag_of(st.events, d->name), dead_letters(c, d->name),
               d->backlog_skip ? "skip" : "block",
               d->type == CFG_DEST_FILE   ? d->path
               : d->type == CFG_DEST_HTTP ? d->url
                                          : "stdout");
    }
    cli_storage_close(&st);
    return CLI_EXIT_OK;
}

static int dest_pause(const struct tw_config *c, const char *name, bool on)
{
    const struct cfg_destination *d = config_destination(c, name);
    char path[4096];
    char dir[4096];
    int fd;

    if (d == NULL) {
        fprintf(stderr, "trackway dest: no destination '%s' in %s\n", name,
                c->file);
        return CLI_EXIT_FAIL;
    }
    delivery_pause_path(c, name, path, sizeof(path));
    if (!on && d->paused) {
        fprintf(stderr,
                "trackway dest: %s is paused by its configuration (%s:%d, "
                "paused: true); remove that and restart trackway serve\n",
                name, c->file, d->line);
        return CLI_EXIT_FAIL;
    }
    if (!on) {
        if (unlink(path) != 0 && errno != ENOENT) {
            fprintf(stderr, "trackway dest: cannot remove %s: %s\n", path,
                    strerror(errno));
            return CLI_EXIT_FAIL;
        }
        printf("%s resumes within a second, from where it stopped\n", name);
        return CLI_EXIT_OK;
    }
    /* Pausing before the first start is fine: make the folders. */
    snprintf(dir, sizeof(dir), "%s/%s", c->storage.path, DELIVERY_CONTROL_DIR);
    if ((mkdir(c->storage.path, 0755) != 0 && errno != EEXIST) ||
        (mkdir(dir, 0755) != 0 && errno != EEXIST)) {
        fprintf(stderr, "trackway dest: cannot create %s: %s\n", dir,
                strerror(errno));
        return CLI_EXIT_FAIL;
    }
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd < 0) {
        fprintf(stderr, "trackway dest: cannot create %s: %s\n", path,
                strerror(errno));
        return CLI_EXIT_FAIL;
    }
    close(fd);
    printf("%s pauses within a second and keeps its place; "
           "'trackway dest resume' carries on\n",
           name);
    return CLI_EXIT_OK;
}

int cli_dest_main(int argc, char **argv)
{
    struct tw_config *config;
    const char *verb;
    int status;

    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(dest_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 4 ||
        (strcmp(argv[2], "-c") != 0 && strcmp(argv[2], "--config") != 0)) {
        return usage("needs ls, pause or resume, then -c CONFIG");
    }
    verb = argv[1];
    if ((strcmp(verb, "ls") == 0 && argc != 4) ||
        (strcmp(verb, "ls") != 0 && argc != 5)) {
        return usage("pause and resume take one destination NAME");
    }
    config = cli_config_load("dest", argv[3]);
    if (config == NULL) {
        return CLI_EXIT_USAGE;
    }
    if (strcmp(verb, "ls") == 0) {
        status = dest_ls(config);
    } else if (strcmp(verb, "pause") == 0 || strcmp(verb, "resume") == 0) {
        status = dest_pause(config, argv[4], strcmp(verb, "pause") == 0);
    } else {
        status = usage("ls, pause or resume?");
    }
    config_free(config);
    return status;
}
