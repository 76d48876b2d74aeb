/*
 * test_crash.c - a process killed at any moment loses nothing the log
 * acknowledged, and recovery never returns a record that was not written.
 *
 * Each round starts the crashchild program (tests/unit/crashchild.c) on
 * the same log, waits until it has acknowledged new batches, lets it run
 * on for a random 0 to 30 ms and kills it with SIGKILL. The test then
 * opens the log, which runs recovery, and reads every partition from its
 * start, checking that:
 *
 *   - offsets are dense from the start to the end offset;
 *   - every record regenerates byte for byte from its key (no garbage),
 *     and records form whole batches (no batch is half visible);
 *   - every acknowledged batch is there, at the offsets its completion
 *     gave, with all its records;
 *   - whatever an earlier round found is still there, unchanged: one
 *     recovery never undoes what another kept;
 *   - no batch appears twice.
 *
 * Most rounds use the fsync policy; some use "none" and "interval" (a
 * process kill leaves the page cache, so they must lose nothing either),
 * some compress with zstd. Every eighth round the killed child is not
 * checked at once: the next child recovers its log itself and is killed
 * within 10 ms of starting, before it acknowledges anything and at times
 * in the middle of that recovery.
 *
 * Rounds: 200, or 2000 with TW_TEST_LONG=1 (half as many under
 * AddressSanitizer, where everything runs several times slower);
 * TW_CRASH_ROUNDS overrides.
 * A long run starts a fresh log every 200 rounds so that the time to read
 * the whole log back stays bounded. TW_TEST_SEED repeats a run's random
 * choices (threads, kill delays); the timing of each kill still varies.
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
#include "log/embedded.h"
#include "obs/logging.h"
#include "support/records.h"
#include "support/tmpdir.h"

#if defined(__SANITIZE_ADDRESS__)
#define CRASH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRASH_SANITIZED 1
#endif
#endif
#ifndef CRASH_SANITIZED
#define CRASH_SANITIZED 0
#endif

#define CRASH_PARTITIONS 4u
#define CRASH_ROUNDS_PER_LOG 200
#define CRASH_MAX_KILL_DELAY_US 30000
#define CRASH_ACK_TIMEOUT_MS 30000

/* One line of the acknowledgement file. */
struct crash_ack {
    uint32_t partition;
    uint64_t first;
    uint32_t count;
    uint64_t thread;
    uint64_t seq;
};

/* One batch as found in the log. */
struct crash_batch {
    uint64_t first;
    uint32_t count;
    uint64_t thread;
    uint64_t seq;
};

struct crash_batches {
    struct crash_batch *items;
    size_t count;
    size_t cap;
};

struct crash_run {
    uint64_t seed;
    uint64_t rng;
    int round;
    char *root;
    char log_dir[512];
    char ack_path[512];

    struct crash_ack *acks;
    size_t ack_count;
    size_t ack_cap;
    off_t ack_parsed; /* bytes of the file turned into acks */

    /* What the last check found in each partition. */
    struct crash_batches found[CRASH_PARTITIONS];
    struct crash_batches previous[CRASH_PARTITIONS];

    /* Totals for the summary line. */
    uint64_t records_read;
    uint64_t tails_truncated;
    uint64_t empty_removed;
    uint64_t indexes_rebuilt;
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
    bool long_mode = getenv("TW_TEST_LONG") != NULL &&
                     strcmp(getenv("TW_TEST_LONG"), "1") == 0;
    int rounds = long_mode ? 2000 : 200;

    if (CRASH_SANITIZED) {
        rounds /= 2;
    }
    return (int)crash_env_u64("TW_CRASH_ROUNDS", (uint64_t)rounds);
}

static void crash_sleep_us(uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000),
                          .tv_nsec = (long)(us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void crash_batches_push(struct crash_batches *v,
                               const struct crash_batch *b)
{
    if (v->count == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 1024;
        v->items = realloc(v->items, v->cap * sizeof(*v->items));
        cr_assert_not_null(v->items);
    }
    v->items[v->count++] = *b;
}

static void crash_acks_push(struct crash_run *run, const struct crash_ack *a)
{
    if (run->ack_count == run->ack_cap) {
        run->ack_cap = run->ack_cap ? run->ack_cap * 2 : 4096;
        run->acks = realloc(run->acks, run->ack_cap * sizeof(*run->acks));
        cr_assert_not_null(run->acks);
    }
    run->acks[run->ack_count++] = *a;
}

static off_t crash_ack_size(const struct crash_run *run)
{
    struct stat st;

    return stat(run->ack_path, &st) == 0 ? st.st_size : 0;
}

/* Checks one acknowledgement line and adds it to run->acks. */
static void crash_parse_ack(struct crash_run *run, const char *line)
{
    struct crash_ack a;
    int used = -1;

    cr_assert_eq(
        sscanf(line,
               "%" SCNu32 " %" SCNu64 " %" SCNu32 " %" SCNu64 " %" SCNu64 "%n",
               &a.partition, &a.first, &a.count, &a.thread, &a.seq, &used),
        5, "seed %" PRIu64 ": malformed ack line \"%s\"", run->seed, line);
    cr_assert_eq((size_t)used, strlen(line),
                 "seed %" PRIu64 ": trailing bytes in ack line \"%s\"",
                 run->seed, line);
    cr_assert_eq(a.partition,
                 tw_test_rec_partition(a.thread, a.seq, CRASH_PARTITIONS),
                 "seed %" PRIu64 ": ack \"%s\" names the wrong partition",
                 run->seed, line);
    cr_assert_eq(a.count, tw_test_rec_count(a.thread, a.seq),
                 "seed %" PRIu64 ": ack \"%s\" has the wrong count", run->seed,
                 line);
    crash_acks_push(run, &a);
}

/*
 * Reads the acknowledgements written since the last call. A SIGKILL can
 * cut a write() that straddles a page boundary, leaving half a line at
 * the end: that acknowledgement was never fully given, so it is dropped
 * (the file is cut back to the last newline before the next child runs).
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

/*
 * Forks and execs crashchild; returns its pid, or -1 with *exec_errno set
 * when the exec failed (a close-on-exec pipe carries the errno back).
 */
static pid_t crash_fork_exec(struct crash_run *run, const char *durability,
                             const char *compression, int threads,
                             int *exec_errno)
{
    char threads_arg[16];
    pid_t parent = getpid();
    int err = 0;
    int fds[2];
    pid_t pid;

    snprintf(threads_arg, sizeof(threads_arg), "%d", threads);
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
    pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Never outlive the test, whatever happens to it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        err = ESRCH;
        if (getppid() == parent) {
            execl(TW_BUILD_DIR "/crashchild", "crashchild", run->log_dir,
                  threads_arg, durability, compression, (char *)NULL);
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

/*
 * Starts crashchild on the log; returns its pid. While the program is
 * being relinked (a build in the same tree) the exec fails for a moment:
 * that is retried for a few seconds, anything else fails the test.
 */
static pid_t crash_spawn(struct crash_run *run, const char *durability,
                         const char *compression, int threads)
{
    for (int attempt = 0;; attempt++) {
        int err = 0;
        pid_t pid =
            crash_fork_exec(run, durability, compression, threads, &err);

        if (pid > 0) {
            return pid;
        }
        cr_assert(attempt < 50 && (err == ETXTBSY || err == ENOENT ||
                                   err == ENOEXEC || err == EACCES),
                  "cannot start %s: %s", TW_BUILD_DIR "/crashchild",
                  strerror(err));
        crash_sleep_us(100000);
    }
}

/* Fails the test with the child's fate when it ended on its own. */
static void crash_check_alive(struct crash_run *run, pid_t pid)
{
    int status;
    pid_t got = waitpid(pid, &status, WNOHANG);

    if (got == 0) {
        return;
    }
    cr_assert_fail("seed %" PRIu64 " round %d: crashchild ended by itself "
                   "(%s %d) before it was killed",
                   run->seed, run->round,
                   WIFEXITED(status) ? "exit status" : "signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* Waits until the child has acknowledged something new. */
static void crash_await_ack(struct crash_run *run, pid_t pid, off_t before)
{
    uint64_t deadline = tw_monotonic_ns() / 1000000 + CRASH_ACK_TIMEOUT_MS;

    while (crash_ack_size(run) <= before) {
        crash_check_alive(run, pid);
        if (tw_monotonic_ns() / 1000000 > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            cr_assert_fail("seed %" PRIu64 " round %d: no acknowledgement "
                           "within %d ms",
                           run->seed, run->round, CRASH_ACK_TIMEOUT_MS);
        }
        crash_sleep_us(500);
    }
}

static void crash_kill(struct crash_run *run, pid_t pid)
{
    int status;

    crash_check_alive(run, pid);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "seed %" PRIu64 " round %d: crashchild ended with status %d "
              "instead of being killed",
              run->seed, run->round, status);
}

/*
 * Reads partition p from its start, checking every record and gathering
 * the batches into run->found[p].
 */
static void crash_read_partition(struct crash_run *run, struct log *log,
                                 uint32_t p)
{
    struct crash_batches *found = &run->found[p];
    struct log_partition_info info;
    struct tw_test_rec_id cur = {0};
    struct tw_test_rec_id id;
    struct log_reader *reader;
    struct log_record rec;
    bool in_batch = false;
    uint64_t expect = 0;
    char why[128];
    int rc;

    found->count = 0;
    cr_assert_eq(log_partition_info(log, p, &info), 0);
    cr_assert_eq(info.start_offset, 0,
                 "seed %" PRIu64 " round %d: "
                 "partition %u starts at %" PRIu64,
                 run->seed, run->round, p, info.start_offset);
    cr_assert_eq(log_reader_open(log, p, 0, &reader), 0, "%s",
                 tw_err_message());

    while ((rc = log_reader_next(reader, &rec)) == 1) {
        cr_assert_eq(rec.offset, expect,
                     "seed %" PRIu64 " round %d: "
                     "partition %u: offset %" PRIu64 " where %" PRIu64
                     " was due",
                     run->seed, run->round, p, rec.offset, expect);
        cr_assert(
            tw_test_rec_check(&rec, p, CRASH_PARTITIONS, &id, why, sizeof(why)),
            "seed %" PRIu64 " round %d: partition %u offset %" PRIu64
            ": garbage record: %s",
            run->seed, run->round, p, rec.offset, why);
        if (in_batch) {
            cr_assert(id.thread == cur.thread && id.seq == cur.seq &&
                          id.idx == cur.idx + 1,
                      "seed %" PRIu64 " round %d: partition %u offset %" PRIu64
                      ": batch t%" PRIu64 "-s%" PRIu64 " is cut "
                      "short",
                      run->seed, run->round, p, rec.offset, cur.thread,
                      cur.seq);
        } else {
            struct crash_batch b = {rec.offset, id.count, id.thread, id.seq};

            cr_assert_eq(id.idx, 0,
                         "seed %" PRIu64 " round %d: partition "
                         "%u offset %" PRIu64 ": a batch starts at record %u",
                         run->seed, run->round, p, rec.offset, id.idx);
            crash_batches_push(found, &b);
        }
        cur = id;
        in_batch = id.idx + 1 < id.count;
        expect++;
    }
    cr_assert_eq(rc, 0,
                 "seed %" PRIu64 " round %d: partition %u: read "
                 "failed at %" PRIu64 ": %s",
                 run->seed, run->round, p, expect, tw_err_message());
    cr_assert_not(in_batch,
                  "seed %" PRIu64 " round %d: partition %u ends "
                  "inside batch t%" PRIu64 "-s%" PRIu64,
                  run->seed, run->round, p, cur.thread, cur.seq);
    cr_assert_eq(expect, info.end_offset,
                 "seed %" PRIu64 " round %d: "
                 "partition %u: read %" PRIu64 " records, end offset %" PRIu64,
                 run->seed, run->round, p, expect, info.end_offset);
    log_reader_close(reader);
    run->records_read += expect;
}

static int crash_compare_first(const void *key, const void *item)
{
    uint64_t first = *(const uint64_t *)key;
    const struct crash_batch *b = item;

    return (first > b->first) - (first < b->first);
}

/* Every acknowledged batch is found where its completion said. */
static void crash_check_acks(struct crash_run *run)
{
    for (size_t i = 0; i < run->ack_count; i++) {
        const struct crash_ack *a = &run->acks[i];
        const struct crash_batches *found = &run->found[a->partition];
        const struct crash_batch *b =
            bsearch(&a->first, found->items, found->count,
                    sizeof(*found->items), crash_compare_first);

        cr_assert(b != NULL && b->thread == a->thread && b->seq == a->seq &&
                      b->count == a->count,
                  "seed %" PRIu64 " round %d: acknowledged batch t%" PRIu64
                  "-s%" PRIu64 " (partition %u offsets %" PRIu64 "+%u) is "
                  "missing",
                  run->seed, run->round, a->thread, a->seq, a->partition,
                  a->first, a->count);
    }
}

/* What an earlier check found is still there, unchanged. */
static void crash_check_prefix(struct crash_run *run)
{
    for (uint32_t p = 0; p < CRASH_PARTITIONS; p++) {
        const struct crash_batches *was = &run->previous[p];
        const struct crash_batches *now = &run->found[p];

        cr_assert_geq(now->count, was->count,
                      "seed %" PRIu64 " round %d: "
                      "partition %u lost batches: %zu, had %zu",
                      run->seed, run->round, p, now->count, was->count);
        for (size_t i = 0; i < was->count; i++) {
            const struct crash_batch *a = &was->items[i];
            const struct crash_batch *b = &now->items[i];

            cr_assert(a->first == b->first && a->count == b->count &&
                          a->thread == b->thread && a->seq == b->seq,
                      "seed %" PRIu64 " round %d: partition %u: batch at "
                      "offset %" PRIu64 " changed since the last check",
                      run->seed, run->round, p, was->items[i].first);
        }
    }
}

static int crash_compare_name(const void *a, const void *b)
{
    const struct crash_batch *x = a;
    const struct crash_batch *y = b;

    if (x->thread != y->thread) {
        return (x->thread > y->thread) - (x->thread < y->thread);
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* No batch was stored twice. */
static void crash_check_unique(struct crash_run *run)
{
    struct crash_batches all = {0};

    for (uint32_t p = 0; p < CRASH_PARTITIONS; p++) {
        for (size_t i = 0; i < run->found[p].count; i++) {
            crash_batches_push(&all, &run->found[p].items[i]);
        }
    }
    qsort(all.items, all.count, sizeof(*all.items), crash_compare_name);
    for (size_t i = 1; i < all.count; i++) {
        cr_assert(crash_compare_name(&all.items[i - 1], &all.items[i]) != 0,
                  "seed %" PRIu64 " round %d: batch t%" PRIu64 "-s%" PRIu64
                  " is stored twice",
                  run->seed, run->round, all.items[i].thread, all.items[i].seq);
    }
    free(all.items);
}

/*
 * Opens readers at random offsets of partition p, which finds their place
 * through the index files written before the kills: each must return the
 * record found there by the full read.
 */
static void crash_seek_partition(struct crash_run *run, struct log *log,
                                 uint32_t p)
{
    const struct crash_batches *found = &run->found[p];

    for (int i = 0; i < 8 && found->count > 0; i++) {
        const struct crash_batch *b =
            &found->items[crash_random(run) % found->count];
        uint32_t idx = (uint32_t)(crash_random(run) % b->count);
        struct log_reader *reader;
        struct tw_test_rec_id id;
        struct log_record rec;
        char why[128];

        cr_assert_eq(log_reader_open(log, p, b->first + idx, &reader), 0, "%s",
                     tw_err_message());
        cr_assert_eq(log_reader_next(reader, &rec), 1,
                     "seed %" PRIu64 " round %d: partition %u: no record at "
                     "offset %" PRIu64 ": %s",
                     run->seed, run->round, p, b->first + idx,
                     tw_err_message());
        cr_assert(rec.offset == b->first + idx &&
                      tw_test_rec_check(&rec, p, CRASH_PARTITIONS, &id, why,
                                        sizeof(why)) &&
                      id.thread == b->thread && id.seq == b->seq &&
                      id.idx == idx,
                  "seed %" PRIu64 " round %d: partition %u: a reader opened "
                  "at %" PRIu64 " returned the wrong record",
                  run->seed, run->round, p, b->first + idx);
        log_reader_close(reader);
    }
}

/* Opens the log (recovering it) and checks everything it holds. */
static void crash_check_log(struct crash_run *run)
{
    struct log_options opts;
    struct log_recovery report;
    struct log *log = NULL;
    int rc;

    log_options_init(&opts, run->log_dir);
    opts.partitions = CRASH_PARTITIONS;
    opts.create = false;
    opts.segment_max_bytes = 256u << 10;
    rc = log_embedded_open(&opts, &log, &report);
    cr_assert_eq(rc, 0,
                 "seed %" PRIu64 " round %d: open after a kill "
                 "failed: %s",
                 run->seed, run->round, tw_err_message());
    cr_assert_eq(report.damaged_segments, 0,
                 "seed %" PRIu64 " round %d: "
                 "a process kill left damage in the middle of a segment",
                 run->seed, run->round);
    cr_assert_leq(report.tails_truncated, CRASH_PARTITIONS);
    run->tails_truncated += report.tails_truncated;
    run->empty_removed += report.empty_segments_removed;
    run->indexes_rebuilt += report.indexes_rebuilt;

    for (uint32_t p = 0; p < CRASH_PARTITIONS; p++) {
        crash_read_partition(run, log, p);
        crash_seek_partition(run, log, p);
    }
    log_close(log);

    crash_check_acks(run);
    crash_check_prefix(run);
    crash_check_unique(run);
    for (uint32_t p = 0; p < CRASH_PARTITIONS; p++) {
        struct crash_batches *was = &run->previous[p];

        was->count = 0;
        for (size_t i = 0; i < run->found[p].count; i++) {
            crash_batches_push(was, &run->found[p].items[i]);
        }
    }
}

/* Starts a fresh log (and acknowledgement file) for the next rounds. */
static void crash_new_log(struct crash_run *run, int number)
{
    snprintf(run->log_dir, sizeof(run->log_dir), "%s/log%d", run->root, number);
    snprintf(run->ack_path, sizeof(run->ack_path), "%s.acks", run->log_dir);
    run->ack_count = 0;
    run->ack_parsed = 0;
    for (uint32_t p = 0; p < CRASH_PARTITIONS; p++) {
        run->found[p].count = 0;
        run->previous[p].count = 0;
    }
}

static void crash_remove_log(struct crash_run *run)
{
    char *dir = strdup(run->log_dir);

    cr_assert_not_null(dir);
    tw_test_rmdir(dir);
    unlink(run->ack_path);
}

/* One round: start a child, kill it, and (mostly) check the log. */
static void crash_round(struct crash_run *run, int rounds)
{
    int phase = run->round % 8;
    const char *durability = run->round % 10 == 4   ? "none"
                             : run->round % 10 == 9 ? "interval"
                                                    : "fsync";
    const char *compression = run->round % 3 == 2 ? "zstd" : "none";
    int threads = 1 + (int)(crash_random(run) % 4);
    off_t before = crash_ack_size(run);
    pid_t pid = crash_spawn(run, durability, compression, threads);

    if (phase == 7) {
        /* Kill it while it starts up: often inside recovery. */
        crash_sleep_us(crash_random(run) % 10000);
    } else {
        crash_await_ack(run, pid, before);
        crash_sleep_us(crash_random(run) % (CRASH_MAX_KILL_DELAY_US + 1));
    }
    crash_kill(run, pid);
    crash_read_acks(run);

    /* The round before a quick kill leaves its recovery to the next child. */
    if (phase != 6 || run->round + 1 == rounds ||
        (run->round + 1) % CRASH_ROUNDS_PER_LOG == 0) {
        crash_check_log(run);
    }
}

Test(crash, a_killed_writer_loses_no_acknowledged_batch_and_leaves_no_garbage)
{
    struct crash_run run = {0};
    int rounds = crash_rounds();
    uint64_t started = tw_monotonic_ns() / 1000000;

    run.seed = crash_env_u64("TW_TEST_SEED",
                             (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20));
    run.rng = run.seed;
    run.root = tw_test_tmpdir();
    obs_log_set_level(OBS_ERROR);
    fprintf(stderr,
            "crash: %d rounds, seed %" PRIu64 " (TW_TEST_SEED to "
            "replay), in %s\n",
            rounds, run.seed, run.root);

    for (run.round = 0; run.round < rounds; run.round++) {
        if (run.round % CRASH_ROUNDS_PER_LOG == 0) {
            if (run.round > 0) {
                crash_remove_log(&run);
            }
            crash_new_log(&run, run.round / CRASH_ROUNDS_PER_LOG);
        }
        crash_round(&run, rounds);
    }
    cr_assert_gt(run.ack_count, 0, "no batch was ever acknowledged");

    fprintf(stderr,
            "crash: %d rounds in %" PRIu64 " ms: %zu acknowledged "
            "batches in the last log, %" PRIu64 " records read back, %" PRIu64
            " torn tails cut, %" PRIu64 " torn segment creations "
            "removed, %" PRIu64 " indexes rebuilt\n",
            rounds, tw_monotonic_ns() / 1000000 - started, run.ack_count,
            run.records_read, run.tails_truncated, run.empty_removed,
            run.indexes_rebuilt);
    for (uint32_t p = 0; p < CRASH_PARTITIONS; p++) {
        free(run.found[p].items);
        free(run.previous[p].items);
    }
    free(run.acks);
    tw_test_rmdir(run.root);
}

/* The checks above are only as good as the generator's own strictness. */
Test(crash, generated_records_check_back_and_anything_else_is_refused)
{
    static struct tw_test_batch batch;
    static const char *const bad[] = {
        "t1-s2-i",   "t1-s2-i3x", "t01-s2-i3", "t1-s2-i4294967296",
        "t1-s-i3",   "x1-s2-i3",  "t1_s2-i3",  "t18446744073709551616-s2-i3",
        "t1-s2-i3-", "",
    };
    struct tw_test_rec_id id;
    char why[128];
    uint8_t saved;

    tw_test_rec_build(&batch, UINT64_MAX, 123456789, 4);
    for (uint32_t i = 0; i < batch.count; i++) {
        struct log_record *rec = &batch.records[i];

        cr_assert(
            tw_test_rec_check(rec, batch.partition, 4, &id, why, sizeof(why)),
            "record %u: %s", i, why);
        cr_assert(id.thread == UINT64_MAX && id.seq == 123456789 &&
                  id.idx == i && id.count == batch.count);
        cr_assert_not(tw_test_rec_check(rec, (batch.partition + 1) % 4, 4, &id,
                                        why, sizeof(why)));

        /* One changed byte of the value, the last one, is noticed. */
        saved = batch.values[i][rec->value_len - 1];
        batch.values[i][rec->value_len - 1] ^= 1;
        cr_assert_not(
            tw_test_rec_check(rec, batch.partition, 4, &id, why, sizeof(why)));
        batch.values[i][rec->value_len - 1] = saved;
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_not(
            tw_test_rec_parse_key(bad[i], (uint32_t)strlen(bad[i]), &id),
            "accepted \"%s\"", bad[i]);
    }
    cr_assert(tw_test_rec_parse_key("t0-s0-i0", 8, &id));
}
