/*
 * cli_replay.c - `trackway replay DEST --from ...`: re-deliver a slice of
 * history to a destination, beside its live traffic.
 *
 * The running server does the delivering; this command turns times into
 * offsets, writes the job file the server follows (delivery.h), and shows
 * the replay's progress from its cursor until the server removes the job.
 * Ctrl-C stops watching, not the replay; --cancel stops the replay.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/delivery.h"
#include "cli/storage.h"
#include "common/clock.h"
#include "common/units.h"
#include "deliver/deliver.h"
#include "json/json_write.h"
#include "route/filter.h"

static const char replay_help[] =
    "Usage: trackway replay -c CONFIG DEST --from TIME|OFFSET [--to "
    "TIME|OFFSET]\n"
    "                       [--where FILTER] [--rate N] [--no-wait]\n"
    "       trackway replay -c CONFIG DEST --cancel\n"
    "       trackway dlq replay -c CONFIG DEST [--from X] [--to X] [--rate N]\n"
    "\n"
    "Delivers a slice of the stored history to destination DEST again,\n"
    "beside its live traffic (which goes on), through its routes and, with\n"
    "--where, a filter of your own. Also a backfill: a destination added\n"
    "after the events arrived. Replayed events keep their messageId, so a\n"
    "destination that keys on it sees no duplicates. The running server\n"
    "does the work: this command starts it and shows its progress, with\n"
    "the rate and the time left, until it ends; Ctrl-C stops watching, not\n"
    "the replay. A replay cut short by a restart carries on after it.\n"
    "'trackway dlq replay' sends DEST's dead letters (all, or --from/--to\n"
    "offsets of its dead-letter log) to it again, as they were; the\n"
    "dead-letter log keeps them (it is append-only).\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  the configuration 'trackway serve' runs with\n"
    "      --from X       where to start: an ISO-8601 time (the first event\n"
    "                     received at or after it, in each partition) or a\n"
    "                     plain number, an offset in every partition\n"
    "      --to X         where to stop (not included), the same way;\n"
    "                     default: the end of what is stored now\n"
    "      --where F      only events matching filter F (docs/ROUTES.md)\n"
    "      --rate N       at most N events a second (default: no limit)\n"
    "      --no-wait      start it and return\n"
    "      --cancel       stop DEST's replay after its batches in flight\n"
    "\n"
    "Example:\n"
    "  trackway replay -c config/sample.yaml lake --from 2026-12-04T00:00:00Z "
    "--rate 5000\n";

static volatile sig_atomic_t replay_interrupted;

static void replay_interrupt_cb(int sig)
{
    (void)sig;
    replay_interrupted = 1;
}

struct replay_args {
    bool dead_letters; /* `trackway dlq replay` */
    const char *config;
    const char *dest;
    const char *from;
    const char *to;
    const char *where;
    double rate;
    bool wait;
    bool cancel;
};

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "trackway replay: %s%s\nRun 'trackway replay --help'.\n",
            what, arg);
    return CLI_EXIT_USAGE;
}

/* A position: a plain number is an offset, anything else a time. */
static int position(struct log *events, uint32_t p, const char *text,
                    uint64_t *out)
{
    struct log_partition_info info;
    int64_t ms;
    uint64_t offset;
    int rc = log_partition_info(events, p, &info);

    if (rc != 0) {
        return rc;
    }
    if (text[strspn(text, "0123456789")] == '\0') {
        if (tw_parse_u64(text, &offset) != 0) {
            return TW_EINVAL;
        }
        *out = offset < info.start_offset ? info.start_offset
               : offset > info.end_offset ? info.end_offset
                                          : offset;
        return 0;
    }
    rc = tw_parse_time(text, &ms);
    return rc != 0 ? rc : log_offset_for_time(events, p, ms, out);
}

static int write_job(const struct tw_config *c, const struct replay_args *a,
                     const uint64_t *from, const uint64_t *to, uint32_t n)
{
    char path[4096];
    char tmp[4200];
    char dir[4096];
    struct tw_buf job;
    FILE *f;
    int rc = 0;

    snprintf(dir, sizeof(dir), "%s/%s", c->storage.path, DELIVERY_CONTROL_DIR);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return tw_err_errno(errno, "cannot create %s", dir);
    }
    tw_buf_init(&job, 1 << 16);
    tw_buf_puts(&job, "{\"from\":[");
    for (uint32_t p = 0; p < n; p++) {
        tw_buf_printf(&job, "%s%" PRIu64, p ? "," : "", from[p]);
    }
    tw_buf_puts(&job, "],\"to\":[");
    for (uint32_t p = 0; p < n; p++) {
        tw_buf_printf(&job, "%s%" PRIu64, p ? "," : "", to[p]);
    }
    tw_buf_printf(&job, "],\"rate\":%.3f,\"dead_letters\":%s", a->rate,
                  a->dead_letters ? "true" : "false");
    if (a->where != NULL) {
        tw_buf_puts(&job, ",\"where\":");
        tw_jw_cstring(&job, a->where);
    }
    tw_buf_puts(&job, "}\n");
    delivery_replay_path(c, a->dest, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* Written whole, then renamed: the server never reads half a job. */
    f = fopen(tmp, "wb");
    if (f == NULL || fwrite(job.data, 1, job.len, f) != job.len ||
        fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = tw_err_errno(errno, "cannot write %s", tmp);
    }
    if (f != NULL) {
        fclose(f);
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = tw_err_errno(errno, "cannot rename %s", tmp);
    }
    tw_buf_free(&job);
    return rc;
}

/* Offsets the replay has delivered, read from its cursor. */
static uint64_t replay_done(const struct tw_config *c, const char *dest,
                            const char *log_name, const uint64_t *from,
                            const uint64_t *to, uint32_t n)
{
    char cursor[LOG_CURSOR_NAME_MAX + 1];
    struct log *events;
    uint64_t done = 0;

    deliver_replay_cursor_name(dest, cursor, sizeof(cursor));
    /* A read-only handle sees cursors as of its opening: open anew. */
    if (cli_log_open_quiet(c, log_name, &events) != 0) {
        return 0;
    }
    for (uint32_t p = 0; p < n; p++) {
        uint64_t at;
        if (log_cursor_get(events, cursor, p, &at) == 0 && at > from[p]) {
            done += (at < to[p] ? at : to[p]) - from[p];
        }
    }
    log_close(events);
    return done;
}

static void watch(const struct tw_config *c, const char *dest,
                  const char *log_name, const uint64_t *from,
                  const uint64_t *to, uint32_t n, uint64_t total)
{
    char path[4096];
    uint64_t start = tw_monotonic_ns();
    bool tty = isatty(STDERR_FILENO);
    uint64_t done = 0;

    delivery_replay_path(c, dest, path, sizeof(path));
    signal(SIGINT, replay_interrupt_cb);
    while (!replay_interrupted && access(path, F_OK) == 0) {
        double secs = (double)(tw_monotonic_ns() - start) / 1e9;
        double rate;

        done = replay_done(c, dest, log_name, from, to, n);
        rate = secs > 0 ? (double)done / secs : 0;
        if (tty) {
            fprintf(stderr, "\r  %" PRIu64 " of %" PRIu64 " [%3.0f%%] %.0f/s",
                    done, total, total ? 100.0 * (double)done / total : 100.0,
                    rate);
            if (rate > 0 && done < total) {
                fprintf(stderr, "  ETA %.0fs   ",
                        (double)(total - done) / rate);
            }
        }
        usleep(500 * 1000);
    }
    if (tty) {
        fputc('\n', stderr);
    }
    if (replay_interrupted) {
        printf("stopped watching; the replay goes on in the server "
               "('trackway replay -c %s %s --cancel' stops it)\n",
               c->file, dest);
        return;
    }
    printf("replay of %s ended: %" PRIu64 " offsets in %.1f s\n", dest, total,
           (double)(tw_monotonic_ns() - start) / 1e9);
}

static int replay_run(const struct tw_config *c, const struct replay_args *a)
{
    uint64_t from[LOG_MAX_PARTITIONS];
    uint64_t to[LOG_MAX_PARTITIONS];
    char path[4096];
    struct log *events;
    struct route_filter *filter;
    struct route_error err;
    uint64_t total = 0;
    char log_name[256] = "events";
    uint32_t n;
    int rc = 0;

    if (a->dead_letters) {
        snprintf(log_name, sizeof(log_name), "%s/%s", CLI_DLQ_DIR, a->dest);
    }
    delivery_replay_path(c, a->dest, path, sizeof(path));
    if (a->cancel) {
        if (unlink(path) != 0) {
            printf("no replay of %s is running\n", a->dest);
            return CLI_EXIT_OK;
        }
        printf("the replay of %s stops after its batches in flight\n", a->dest);
        return CLI_EXIT_OK;
    }
    if (access(path, F_OK) == 0) {
        fprintf(stderr,
                "trackway replay: a replay of %s is running; wait "
                "for it, or stop it with --cancel\n",
                a->dest);
        return CLI_EXIT_FAIL;
    }
    if (a->where != NULL) {
        if (route_filter_compile(a->where, strlen(a->where), NULL, &filter,
                                 &err) != 0) {
            fprintf(stderr, "trackway replay: --where, column %u: %s\n",
                    err.column, err.message);
            return CLI_EXIT_USAGE;
        }
        route_filter_free(filter);
    }
    if (cli_log_open("replay", c, log_name, 0, true, &events) != 0) {
        return CLI_EXIT_FAIL;
    }
    n = log_partitions(events);
    for (uint32_t p = 0; p < n && rc == 0; p++) {
        struct log_partition_info info;
        rc = position(events, p, a->from, &from[p]);
        if (rc == 0 && a->to != NULL) {
            rc = position(events, p, a->to, &to[p]);
        } else if (rc == 0 &&
                   (rc = log_partition_info(events, p, &info)) == 0) {
            to[p] = info.end_offset;
        }
        if (rc == 0 && to[p] < from[p]) {
            to[p] = from[p];
        }
        total += to[p] - from[p];
    }
    log_close(events);
    if (rc != 0) {
        fprintf(stderr, "trackway replay: %s\n", tw_err_message());
        return CLI_EXIT_USAGE;
    }
    if (total == 0) {
        printf("nothing to replay: no stored events in that range\n");
        return CLI_EXIT_OK;
    }
    if ((rc = write_job(c, a, from, to, n)) != 0) {
        fprintf(stderr, "trackway replay: %s\n", tw_err_message());
        return CLI_EXIT_FAIL;
    }
    printf("replay of %s: %" PRIu64 " offsets; the running server starts it "
           "within a second\n",
           a->dest, total);
    fflush(stdout);
    if (a->wait) {
        watch(c, a->dest, log_name, from, to, n, total);
    }
    return CLI_EXIT_OK;
}

static int replay_main(int argc, char **argv, bool dead_letters);

int cli_replay_main(int argc, char **argv)
{
    return replay_main(argc, argv, false);
}

int cli_dlq_replay_main(int argc, char **argv)
{
    return replay_main(argc, argv, true);
}

static int replay_main(int argc, char **argv, bool dead_letters)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"where", required_argument, NULL, 'w'},
        {"rate", required_argument, NULL, 'r'},
        {"no-wait", no_argument, NULL, 'N'},
        {"cancel", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct replay_args a = {.wait = true, .dead_letters = dead_letters};
    struct tw_config *config;
    uint64_t rate;
    int status;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, ":hc:", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(replay_help, stdout);
            return CLI_EXIT_OK;
        } else if (c == 'c') {
            a.config = optarg;
        } else if (c == 'f') {
            a.from = optarg;
        } else if (c == 't') {
            a.to = optarg;
        } else if (c == 'w') {
            a.where = optarg;
        } else if (c == 'r') {
            if (tw_parse_u64(optarg, &rate) != 0) {
                return usage("--rate needs a number: ", optarg);
            }
            a.rate = (double)rate;
        } else if (c == 'N') {
            a.wait = false;
        } else if (c == 'C') {
            a.cancel = true;
        } else {
            return usage("bad option ", argv[optind - 1]);
        }
    }
    if (a.config == NULL || optind != argc - 1) {
        return usage("needs -c CONFIG and one destination", "");
    }
    a.dest = argv[optind];
    if (dead_letters && a.from == NULL) {
        a.from = "0"; /* every dead letter kept */
    }
    if (!a.cancel && a.from == NULL) {
        return usage("needs --from (a time or an offset)", "");
    }
    config = cli_config_load("replay", a.config);
    if (config == NULL) {
        return CLI_EXIT_USAGE;
    }
    if (config_destination(config, a.dest) == NULL) {
        fprintf(stderr, "trackway replay: no destination '%s' in %s\n", a.dest,
                a.config);
        status = CLI_EXIT_USAGE;
    } else {
        status = replay_run(config, &a);
    }
    config_free(config);
    return status;
}
