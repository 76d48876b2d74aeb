/*
 * test_sink_crash.c - a file sink killed at any moment loses no batch it
 * answered SINK_OK, and after recovery its files hold only whole lines of
 * real events.
 *
 * Each round starts sinkcrashchild (tests/unit/sinkcrashchild.c) on the
 * same directory, waits until it has acknowledged a new batch, lets it
 * run on for a random 0 to 30 ms and kills it with SIGKILL. The test then
 * opens a file sink on the directory, which runs recovery, closes it, and
 * reads every file back (decompressing the zstd ones), checking that:
 *
 *   - every file ends with a newline, and every line parses as JSON and
 *     regenerates byte for byte from its messageId (no torn line, no
 *     garbage);
 *   - the lines of a batch are together and in order; a batch is cut
 *     short only if it is its producer's last and was never acknowledged;
 *   - each producer's batches come in order, from its first, without a
 *     gap, and no batch appears twice;
 *   - every acknowledged batch is there, whole;
 *   - what the previous check read is still there, unchanged, at the
 *     start: recovery never takes back what it kept;
 *   - no temporary file remains, names sort by sequence and only the
 *     last file is active.
 *
 * Rounds vary the number of producer threads (1 to 3), compression
 * (every third round zstd), the rotation size (16 to 128 KiB) and, every
 * fourth round, a 3 ms age limit with a ticking thread. Every eighth
 * child is killed within 10 ms of starting, often inside its recovery;
 * the round before it is not checked, so that child recovers what the
 * kill before left.
 *
 * Rounds: 60 (at least 50 kills), 600 with TW_TEST_LONG=1;
 * TW_SINK_CRASH_ROUNDS overrides. A fresh directory every 20 rounds keeps
 * the reading back bounded. TW_TEST_SEED repeats a run's random choices.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "json/json.h"
#include "obs/logging.h"
#include "sinks/file.h"
#include "support/sinkevents.h"
#include "support/sinktest.h"
#include "support/tmpdir.h"

#define CRASH_ROUNDS_PER_DIR 20
#define CRASH_MAX_KILL_DELAY_US 30000
#define CRASH_ACK_TIMEOUT_MS 30000

struct crash_ack {
    uint64_t producer;
    uint64_t seq;
};

/* A batch's lines as found: (producer, seq), how many, where. */
struct crash_group {
    uint64_t producer;
    uint64_t seq;
    uint32_t lines;
    size_t order; /* its place among the groups found */
};

struct crash_run {
    uint64_t seed;
    uint64_t rng;
    int round;
    char *root;
    char dir[512];
    char ack_path[600];

    struct crash_ack *acks;
    size_t ack_count;
    size_t ack_cap;
    off_t ack_parsed;

    char *previous; /* every byte the last check read, in order */
    size_t previous_len;
    struct tw_json_parser *parser;

    /* Totals for the summary line. */
    int kills;
    int checks;
    uint64_t lines_read;
    uint64_t tails_cut;
    uint64_t bytes_cut;
    uint64_t leftovers;
    uint64_t temporaries;
    uint64_t partial_batches;
    uint64_t files_seen;
};

static uint64_t crash_random(struct crash_run *run)
{
    return tw_test_rec_mix(run->rng++);
}

static uint64_t crash_env_u64(const char *name, uint64_t fallback)
{
    const char *text = getenv(name);

    return text != NULL && *text != '\0' ? strtoull(text, NULL, 0) : fallback;
}

static int crash_rounds(void)
{
    const char *mode = getenv("TW_TEST_LONG");
    int rounds = mode != NULL && strcmp(mode, "1") == 0 ? 600 : 60;

    return (int)crash_env_u64("TW_SINK_CRASH_ROUNDS", (uint64_t)rounds);
}

static void crash_sleep_us(uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000),
                          .tv_nsec = (long)(us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static off_t crash_ack_size(const struct crash_run *run)
{
    struct stat st;

    return stat(run->ack_path, &st) == 0 ? st.st_size : 0;
}

static void crash_parse_ack(struct crash_run *run, const char *line)
{
    struct crash_ack a;
    int used = -1;

    cr_assert_eq(
        sscanf(line, "%" SCNu64 " %" SCNu64 "%n", &a.producer, &a.seq, &used),
        2, "seed %" PRIu64 ": malformed ack \"%s\"", run->seed, line);
    cr_assert_eq((size_t)used, strlen(line),
                 "seed %" PRIu64 ": trailing bytes in ack \"%s\"", run->seed,
                 line);
    if (run->ack_count == run->ack_cap) {
        run->ack_cap = run->ack_cap ? run->ack_cap * 2 : 4096;
        run->acks = realloc(run->acks, run->ack_cap * sizeof(*run->acks));
        cr_assert_not_null(run->acks);
    }
    run->acks[run->ack_count++] = a;
}

/*
 * Reads the acknowledgements written since the last call. A kill can cut
 * the write of an ack line: that ack was never given, so it is dropped
 * and the file cut back to the last newline before the next child.
 */
static void crash_read_acks(struct crash_run *run)
{
    off_t size = crash_ack_size(run);
    size_t len = (size_t)(size - run->ack_parsed);
    char *text;
    char *line;
    char *end;
    int fd;

    if (size <= run->ack_parsed) {
        return;
    }
    text = malloc(len + 1);
    cr_assert_not_null(text);
    fd = open(run->ack_path, O_RDWR | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %s", run->ack_path, strerror(errno));
    cr_assert_eq(pread(fd, text, len, run->ack_parsed), (ssize_t)len);
    text[len] = '\0';
    line = text;
    while ((end = strchr(line, '\n')) != NULL) {
        *end = '\0';
        crash_parse_ack(run, line);
        line = end + 1;
    }
    run->ack_parsed += line - text;
    if (run->ack_parsed < size) {
        cr_assert_eq(ftruncate(fd, run->ack_parsed), 0);
    }
    close(fd);
    free(text);
}

/* ----------------------------------------------------------- the child -- */

struct crash_child_args {
    char threads[16];
    const char *compression;
    char max_bytes[32];
    char max_age[32];
};

/* Forks and execs the child; -1 with *exec_errno when the exec failed. */
static pid_t crash_fork_exec(struct crash_run *run,
                             const struct crash_child_args *a, int *exec_errno)
{
    pid_t parent = getpid();
    int err = 0;
    int fds[2];
    pid_t pid;

    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
    pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Never outlive the test, whatever happens to it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        err = ESRCH;
        if (getppid() == parent) {
            execl(TW_BUILD_DIR "/sinkcrashchild", "sinkcrashchild", run->dir,
                  a->threads, a->compression, a->max_bytes, a->max_age,
                  (char *)NULL);
            err = errno;
        }
        if (write(fds[1], &err, sizeof(err)) < 0) {
            _exit(126);
        }
        _exit(127);
    }
    close(fds[1]);
    if (read(fds[0], &err, sizeof(err)) == (ssize_t)sizeof(err)) {
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    close(fds[0]);
    *exec_errno = err;
    return pid;
}

/* Starts the child; an exec that fails while a build relinks it retries. */
static pid_t crash_spawn(struct crash_run *run,
                         const struct crash_child_args *a)
{
    for (int attempt = 0;; attempt++) {
        int err = 0;
        pid_t pid = crash_fork_exec(run, a, &err);

        if (pid > 0) {
            return pid;
        }
        cr_assert(attempt < 50 && (err == ETXTBSY || err == ENOENT ||
                                   err == ENOEXEC || err == EACCES),
                  "cannot start %s: %s", TW_BUILD_DIR "/sinkcrashchild",
                  strerror(err));
        crash_sleep_us(100000);
    }
}

static void crash_check_alive(struct crash_run *run, pid_t pid)
{
    int status;

    if (waitpid(pid, &status, WNOHANG) == 0) {
        return;
    }
    cr_assert_fail("seed %" PRIu64 " round %d: sinkcrashchild ended by "
                   "itself (%s %d) before it was killed",
                   run->seed, run->round,
                   WIFEXITED(status) ? "exit status" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void crash_await_ack(struct crash_run *run, pid_t pid, off_t before)
{
    uint64_t deadline = tw_monotonic_ns() / 1000000 + CRASH_ACK_TIMEOUT_MS;

    while (crash_ack_size(run) <= before) {
        crash_check_alive(run, pid);
        cr_assert_lt(tw_monotonic_ns() / 1000000, deadline,
                     "seed %" PRIu64 " round %d: no batch acknowledged in "
                     "%d ms",
                     run->seed, run->round, CRASH_ACK_TIMEOUT_MS);
        crash_sleep_us(200);
    }
}

static void crash_kill(struct crash_run *run, pid_t pid)
{
    int status;

    crash_check_alive(run, pid);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "seed %" PRIu64 " round %d: the child did not die of SIGKILL",
              run->seed, run->round);
    run->kills++;
}

/* ----------------------------------------------------------- checking -- */

static int crash_compare_groups(const void *a, const void *b)
{
    const struct crash_group *x = a;
    const struct crash_group *y = b;

    if (x->producer != y->producer) {
        return x->producer < y->producer ? -1 : 1;
    }
    if (x->seq != y->seq) {
        return x->seq < y->seq ? -1 : 1;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

struct crash_groups {
    struct crash_group *items;
    size_t count;
    size_t cap;
};

static void crash_groups_push(struct crash_groups *g,
                              const struct crash_group *item)
{
    if (g->count == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 1024;
        g->items = realloc(g->items, g->cap * sizeof(*g->items));
        cr_assert_not_null(g->items);
    }
    g->items[g->count++] = *item;
}

/* Checks every line and gathers the batches they form into groups. */
static void crash_check_lines(struct crash_run *run,
                              const struct sinktest_files *files,
                              struct crash_groups *groups)
{
    struct crash_group cur = {0};
    bool open = false;

    for (size_t f = 0; f < files->count; f++) {
        const struct sinktest_file *file = &files->items[f];
        const char *p = file->data;
        const char *end = file->data + file->len;

        cr_assert(file->len > 0 && end[-1] == '\n',
                  "seed %" PRIu64 " round %d: %s is empty or ends inside a "
                  "line after recovery",
                  run->seed, run->round, file->name);
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = (size_t)(nl - p);
            struct sinkevents_id id;
            struct tw_json root;
            char why[160];

            cr_assert_eq(tw_json_parse(run->parser, p, len, &root), 0,
                         "seed %" PRIu64 " round %d: %s: a line is not JSON: "
                         "%s",
                         run->seed, run->round, file->name, tw_err_message());
            cr_assert(sinkevents_check(p, len, &id, why, sizeof(why)),
                      "seed %" PRIu64 " round %d: %s: %s", run->seed,
                      run->round, file->name, why);
            if (open && id.producer == cur.producer && id.seq == cur.seq) {
                cr_assert_eq(id.idx, cur.lines,
                             "seed %" PRIu64 " round %d: p%" PRIu64 "-s%" PRIu64
                             ": line e%u where e%u belongs",
                             run->seed, run->round, id.producer, id.seq, id.idx,
                             cur.lines);
                cur.lines++;
            } else {
                if (open) {
                    crash_groups_push(groups, &cur);
                }
                cr_assert_eq(id.idx, 0,
                             "seed %" PRIu64 " round %d: batch p%" PRIu64
                             "-s%" PRIu64 " starts at line e%u",
                             run->seed, run->round, id.producer, id.seq,
                             id.idx);
                cur = (struct crash_group){.producer = id.producer,
                                           .seq = id.seq,
                                           .lines = 1,
                                           .order = groups->count};
                open = true;
            }
            run->lines_read++;
            p = nl + 1;
        }
    }
    if (open) {
        crash_groups_push(groups, &cur);
    }
}

/*
 * Sorted by producer and sequence, each producer's batches must run from
 * 0 without a gap or a repeat, appear in that order in the files, and be
 * whole except perhaps the last.
 */
static void crash_check_groups(struct crash_run *run, struct crash_groups *g)
{
    qsort(g->items, g->count, sizeof(*g->items), crash_compare_groups);
    for (size_t i = 0; i < g->count; i++) {
        const struct crash_group *x = &g->items[i];
        bool first = i == 0 || g->items[i - 1].producer != x->producer;
        bool last =
            i + 1 == g->count || g->items[i + 1].producer != x->producer;
        uint32_t want = sinkevents_count(x->producer, x->seq);

        if (first) {
            cr_assert_eq(x->seq, 0,
                         "seed %" PRIu64 " round %d: producer %" PRIu64
                         " starts at batch %" PRIu64,
                         run->seed, run->round, x->producer, x->seq);
        } else {
            const struct crash_group *prev = &g->items[i - 1];

            cr_assert_eq(x->seq, prev->seq + 1,
                         "seed %" PRIu64 " round %d: p%" PRIu64
                         ": batch %" PRIu64 " follows %" PRIu64
                         " (a gap or a repeat)",
                         run->seed, run->round, x->producer, x->seq, prev->seq);
            cr_assert_gt(x->order, prev->order,
                         "seed %" PRIu64 " round %d: p%" PRIu64 "-s%" PRIu64
                         " is written before the batch it "
                         "followed",
                         run->seed, run->round, x->producer, x->seq);
        }
        cr_assert(x->lines == want || (last && x->lines < want),
                  "seed %" PRIu64 " round %d: p%" PRIu64 "-s%" PRIu64
                  " has %u of its %u lines and is not its producer's last",
                  run->seed, run->round, x->producer, x->seq, x->lines, want);
    }
}

static void crash_check_acks(struct crash_run *run,
                             const struct crash_groups *g)
{
    for (size_t i = 0; i < run->ack_count; i++) {
        struct crash_group key = {.producer = run->acks[i].producer,
                                  .seq = run->acks[i].seq};
        size_t lo = 0;
        size_t hi = g->count;

        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            if (crash_compare_groups(&g->items[mid], &key) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        cr_assert(lo < g->count && g->items[lo].producer == key.producer &&
                      g->items[lo].seq == key.seq,
                  "seed %" PRIu64 " round %d: acknowledged batch p%" PRIu64
                  "-s%" PRIu64 " is missing",
                  run->seed, run->round, key.producer, key.seq);
        cr_assert_eq(g->items[lo].lines,
                     sinkevents_count(key.producer, key.seq),
                     "seed %" PRIu64 " round %d: acknowledged batch p%" PRIu64
                     "-s%" PRIu64 " is not whole",
                     run->seed, run->round, key.producer, key.seq);
    }
}

/* Opens the sink (recovering the directory), then checks every file. */
static void crash_check(struct crash_run *run, bool zstd)
{
    struct sink_file_options opts;
    struct sink_file_stats st;
    struct sinktest_files files;
    struct crash_groups groups = {0};
    struct sink *sink;

    sink_file_options_init(&opts, run->dir);
    opts.compression =
        zstd ? SINK_FILE_COMPRESSION_ZSTD : SINK_FILE_COMPRESSION_NONE;
    cr_assert_eq(sink_file_new(&opts, "check", &sink), 0,
                 "seed %" PRIu64 " round %d: open after a kill: %s", run->seed,
                 run->round, tw_err_message());
    sink_file_stats(sink, &st);
    sink_destroy(sink);
    cr_assert_leq(st.recovery.tails_cut, 1,
                  "seed %" PRIu64 " round %d: more than one torn file",
                  run->seed, run->round);
    run->tails_cut += st.recovery.tails_cut;
    run->bytes_cut += st.recovery.bytes_cut;
    run->leftovers += st.recovery.leftovers_removed;
    run->temporaries += st.recovery.temporaries_removed;

    sinktest_files_read(run->dir, "events", &files);
    sinktest_files_check_order(&files);
    cr_assert_eq(files.temporaries, 0,
                 "seed %" PRIu64 " round %d: a temporary file survived "
                 "recovery",
                 run->seed, run->round);
    cr_assert(run->previous_len == 0 ||
                  (files.all_len >= run->previous_len &&
                   memcmp(files.all, run->previous, run->previous_len) == 0),
              "seed %" PRIu64 " round %d: what the last check read is no "
              "longer the start of the files",
              run->seed, run->round);

    crash_check_lines(run, &files, &groups);
    crash_check_groups(run, &groups);
    crash_check_acks(run, &groups);
    for (size_t i = 0; i < groups.count; i++) {
        run->partial_batches +=
            groups.items[i].lines <
            sinkevents_count(groups.items[i].producer, groups.items[i].seq);
    }
    run->files_seen = files.count;
    run->checks++;

    free(run->previous);
    run->previous = files.all;
    run->previous_len = files.all_len;
    files.all = NULL;
    free(groups.items);
    sinktest_files_free(&files);
}

/* ------------------------------------------------------------- rounds -- */

static void crash_new_dir(struct crash_run *run, int number)
{
    snprintf(run->dir, sizeof(run->dir), "%s/sink%d", run->root, number);
    snprintf(run->ack_path, sizeof(run->ack_path), "%s.acks", run->dir);
    run->ack_count = 0;
    run->ack_parsed = 0;
    free(run->previous);
    run->previous = NULL;
    run->previous_len = 0;
}

static void crash_round(struct crash_run *run, int rounds)
{
    int phase = run->round % 8;
    bool zstd = run->round % 3 == 2;
    struct crash_child_args a = {.compression = zstd ? "zstd" : "none"};
    off_t before = crash_ack_size(run);
    pid_t pid;

    snprintf(a.threads, sizeof(a.threads), "%d",
             1 + (int)(crash_random(run) % 3));
    snprintf(a.max_bytes, sizeof(a.max_bytes), "%llu",
             (16ull << 10) << (crash_random(run) % 4));
    snprintf(a.max_age, sizeof(a.max_age), "%d", run->round % 4 == 1 ? 3 : 0);
    pid = crash_spawn(run, &a);

    if (phase == 7) {
        /* Killed while it starts: often inside recovery. */
        crash_sleep_us(crash_random(run) % 10000);
    } else {
        crash_await_ack(run, pid, before);
        crash_sleep_us(crash_random(run) % (CRASH_MAX_KILL_DELAY_US + 1));
    }
    crash_kill(run, pid);
    crash_read_acks(run);

    /* The round before a quick kill leaves its recovery to that child. */
    if (phase != 6 || run->round + 1 == rounds ||
        (run->round + 1) % CRASH_ROUNDS_PER_DIR == 0) {
        crash_check(run, zstd);
    }
}

Test(sink_crash,
     a_killed_file_sink_loses_no_acknowledged_batch_and_no_line_is_torn)
{
    struct crash_run run = {0};
    int rounds = crash_rounds();
    uint64_t started = tw_monotonic_ns() / 1000000;

    run.seed = crash_env_u64("TW_TEST_SEED",
                             (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20));
    run.rng = run.seed;
    run.root = tw_test_tmpdir();
    cr_assert_eq(tw_json_parser_new(64u << 10, 0, &run.parser), 0);
    obs_log_set_level(OBS_OFF);
    fprintf(stderr,
            "sink crash: %d rounds, seed %" PRIu64 " (TW_TEST_SEED to "
            "replay), in %s\n",
            rounds, run.seed, run.root);

    for (run.round = 0; run.round < rounds; run.round++) {
        if (run.round % CRASH_ROUNDS_PER_DIR == 0) {
            crash_new_dir(&run, run.round / CRASH_ROUNDS_PER_DIR);
        }
        crash_round(&run, rounds);
    }
    cr_assert_geq(run.kills, 50 < rounds ? 50 : rounds);
    cr_assert_gt(run.ack_count, 0, "no batch was ever acknowledged");

    fprintf(stderr,
            "sink crash: %d kills, %d checks in %" PRIu64 " ms: %zu acks in "
            "the last directory (%" PRIu64 " files), %" PRIu64
            " lines read, %" PRIu64 " torn lines cut (%" PRIu64
            " bytes), %" PRIu64 " unacknowledged batches cut short, %" PRIu64
            " rotated leftovers and %" PRIu64 " temporaries removed\n",
            run.kills, run.checks, tw_monotonic_ns() / 1000000 - started,
            run.ack_count, run.files_seen, run.lines_read, run.tails_cut,
            run.bytes_cut, run.partial_batches, run.leftovers, run.temporaries);
    tw_json_parser_free(run.parser);
    free(run.previous);
    free(run.acks);
    tw_test_rmdir(run.root);
}
