/*
 * test_faults.c - a disk that fails (full, I/O errors, short writes,
 * failed syncs and truncates) fails the appends it touches, cleanly: the
 * completion says what failed and where, nothing stored before changes,
 * no reader sees any record of a failed batch, its offsets are given
 * again, and once the disk works again so do appends and the next open.
 *
 * Faults come from io_fault_arm (src/log/io.h), which fails the log's own
 * system calls on demand. Criterion runs each test in its own process, so
 * an armed fault never leaks into another test.
 *
 * Batches are made by support/records.h for one partition count of 1:
 * whichever partition a test appends to, every record can be regenerated
 * from its key and checked byte for byte on the way back.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/embedded.h"
#include "log/io.h"
#include "obs/logging.h"
#include "support/records.h"
#include "support/tmpdir.h"

/* The generator's producer id for every batch in this file. */
#define FAULT_THREAD 7u
#define FAULT_PARTITION 1u
#define FAULT_MAX_BATCHES 64

/* What a partition must hold: the batches that succeeded, in order. */
struct fault_model {
    uint64_t seqs[FAULT_MAX_BATCHES];
    uint64_t firsts[FAULT_MAX_BATCHES];
    size_t count;
    uint64_t end;
};

/* Completions of a burst of asynchronous appends. */
struct fault_burst {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
    int statuses[8];
    uint64_t firsts[8];
};

struct fault_slot {
    struct fault_burst *burst;
    int index;
};

static void fault_quiet(void)
{
    /* The failures below are on purpose; their error lines are noise. */
    obs_log_set_level(OBS_OFF);
}

TestSuite(faults, .init = fault_quiet);

static struct log *fault_open(const char *dir, enum log_durability durability,
                              uint64_t segment_max_bytes,
                              struct log_recovery *report)
{
    struct log_options opts;
    struct log *log = NULL;
    int rc;

    log_options_init(&opts, dir);
    opts.partitions = 2;
    opts.durability = durability;
    if (segment_max_bytes != 0) {
        opts.segment_max_bytes = segment_max_bytes;
    }
    rc = log_embedded_open(&opts, &log, report);
    cr_assert_eq(rc, 0, "open %s: %s", dir, tw_err_message());
    return log;
}

static struct tw_test_batch *fault_batch(uint64_t seq)
{
    static struct tw_test_batch batch;

    tw_test_rec_build(&batch, FAULT_THREAD, seq, 1);
    return &batch;
}

/* Appends batch seq to FAULT_PARTITION; returns the status. */
static int fault_append(struct log *log, uint64_t seq, uint64_t *first)
{
    struct tw_test_batch *b = fault_batch(seq);

    return log_append_wait(log, FAULT_PARTITION, b->records, b->count, first);
}

/* Appends batch seq, which must succeed at the model's end. */
static void fault_append_ok(struct log *log, struct fault_model *m,
                            uint64_t seq)
{
    uint64_t first = UINT64_MAX;
    int rc = fault_append(log, seq, &first);

    cr_assert_eq(rc, 0, "append s%" PRIu64 ": %s", seq, tw_err_message());
    cr_assert_eq(first, m->end,
                 "append s%" PRIu64 " got offset %" PRIu64
                 ", the end was %" PRIu64,
                 seq, first, m->end);
    cr_assert_lt(m->count, FAULT_MAX_BATCHES);
    m->seqs[m->count] = seq;
    m->firsts[m->count] = first;
    m->count++;
    m->end += tw_test_rec_count(FAULT_THREAD, seq);
}

/* Reads the next record and checks it is record idx of batch seq. */
static void fault_expect_record(struct log_reader *r, uint64_t seq,
                                uint32_t idx, uint64_t offset)
{
    struct tw_test_rec_id id;
    struct log_record rec;
    char why[128];
    int rc = log_reader_next(r, &rec);

    cr_assert_eq(rc, 1, "offset %" PRIu64 ": read returned %d: %s", offset, rc,
                 rc < 0 ? tw_err_message() : "end of the partition");
    cr_assert_eq(rec.offset, offset);
    cr_assert(tw_test_rec_check(&rec, 0, 1, &id, why, sizeof(why)),
              "offset %" PRIu64 ": %s", offset, why);
    cr_assert(id.thread == FAULT_THREAD && id.seq == seq && id.idx == idx,
              "offset %" PRIu64 " holds t%" PRIu64 "-s%" PRIu64 "-i%u, not "
              "s%" PRIu64 "-i%u",
              offset, id.thread, id.seq, id.idx, seq, idx);
}

/* The partition holds exactly what the model says, byte for byte. */
static void fault_verify(struct log *log, const struct fault_model *m)
{
    struct log_partition_info info;
    struct log_reader *r;
    struct log_record rec;

    cr_assert_eq(log_partition_info(log, FAULT_PARTITION, &info), 0);
    cr_assert_eq(info.end_offset, m->end,
                 "end offset %" PRIu64 ", want %" PRIu64, info.end_offset,
                 m->end);
    cr_assert_eq(log_reader_open(log, FAULT_PARTITION, 0, &r), 0, "%s",
                 tw_err_message());
    for (size_t i = 0; i < m->count; i++) {
        uint32_t count = tw_test_rec_count(FAULT_THREAD, m->seqs[i]);

        for (uint32_t k = 0; k < count; k++) {
            fault_expect_record(r, m->seqs[i], k, m->firsts[i] + k);
        }
    }
    cr_assert_eq(log_reader_next(r, &rec), 0,
                 "records past the end %" PRIu64 " (offset %" PRIu64 ")",
                 m->end, rec.offset);
    log_reader_close(r);
}

static void fault_burst_cb(void *ctx, int status, uint64_t first_offset,
                           uint32_t count, const char *message)
{
    struct fault_slot *slot = ctx;
    struct fault_burst *b = slot->burst;

    (void)count;
    (void)message;
    pthread_mutex_lock(&b->lock);
    b->statuses[slot->index] = status;
    b->firsts[slot->index] = first_offset;
    b->done++;
    pthread_cond_signal(&b->done_cond);
    pthread_mutex_unlock(&b->lock);
}

/*
 * Queues n appends at once (s<first_seq>...) while the disk fails, and
 * checks that every one of them fails with status.
 */
static void fault_burst_fails(struct log *log, uint64_t first_seq, int n,
                              int status)
{
    struct fault_burst b = {.done = 0};
    struct fault_slot slots[8];

    cr_assert_leq(n, 8);
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.done_cond, NULL);
    for (int i = 0; i < n; i++) {
        struct tw_test_batch *batch = fault_batch(first_seq + (uint64_t)i);

        slots[i] = (struct fault_slot){&b, i};
        cr_assert_eq(log_append(log, FAULT_PARTITION, batch->records,
                                batch->count, fault_burst_cb, &slots[i]),
                     0, "%s", tw_err_message());
    }
    pthread_mutex_lock(&b.lock);
    while (b.done < n) {
        pthread_cond_wait(&b.done_cond, &b.lock);
    }
    pthread_mutex_unlock(&b.lock);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(b.statuses[i], status,
                     "queued append %d completed with "
                     "%d, want %d",
                     i, b.statuses[i], status);
    }
    pthread_cond_destroy(&b.done_cond);
    pthread_mutex_destroy(&b.lock);
}

static void fault_segment_path(const char *dir, uint64_t base, char *path,
                               size_t size)
{
    snprintf(path, size, "%s/p%03u/%020" PRIu64 ".seg", dir, FAULT_PARTITION,
             base);
}

static uint64_t fault_file_size(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

static void fault_expect_message(const char *want)
{
    const char *msg = tw_err_message();

    cr_assert_not_null(strstr(msg, want), "message \"%s\" does not say \"%s\"",
                       msg, want);
}

/* Reopens the log and checks that recovery finds it whole. */
static struct log *fault_reopen(struct log *log, const char *dir,
                                enum log_durability durability,
                                const struct fault_model *m)
{
    struct log_recovery report;

    log_close(log);
    log = fault_open(dir, durability, 0, &report);
    cr_assert_eq(report.tails_truncated, 0,
                 "a clean close left a torn tail "
                 "of %" PRIu64 " bytes",
                 report.bytes_truncated);
    cr_assert_eq(report.damaged_segments, 0);
    fault_verify(log, m);
    return log;
}

/*
 * The shared course of a failing write or sync: five good batches, then
 * failures while the fault is armed (one waited for, three queued at
 * once), then a good append once it is cleared, then a reopen.
 */
static void fault_failing_append(enum io_op op, int errnum, bool short_write,
                                 int status, const char *what)
{
    char *dir = tw_test_tmpdir();
    struct log *log = fault_open(dir, LOG_DURABILITY_FSYNC, 0, NULL);
    struct fault_model m = {.count = 0};
    struct log_reader *tail;
    struct log_record rec;
    char seg[PATH_MAX];
    uint64_t size_before;
    uint64_t hits = io_fault_hits();

    for (uint64_t seq = 0; seq < 5; seq++) {
        fault_append_ok(log, &m, seq);
    }
    cr_assert_eq(log_reader_open(log, FAULT_PARTITION, m.end, &tail), 0);
    fault_segment_path(dir, 0, seg, sizeof(seg));
    size_before = fault_file_size(seg);

    io_fault_arm(op, errnum, 0, -1, short_write);
    cr_assert_eq(fault_append(log, 5, NULL), status,
                 "append while the disk "
                 "fails: %s",
                 tw_err_message());
    fault_expect_message(what);
    fault_expect_message("partition 1");
    fault_burst_fails(log, 6, 3, status);
    cr_assert_gt(io_fault_hits(), hits, "the fault never fired");

    /* The failed batches left nothing, on disk or for readers. */
    cr_assert_eq(fault_file_size(seg), size_before,
                 "failed appends left "
                 "bytes in %s",
                 seg);
    cr_assert_eq(log_reader_next(tail, &rec), 0,
                 "a reader saw offset %" PRIu64 " of a failed batch",
                 rec.offset);
    fault_verify(log, &m);

    /* Once the disk works, the failed batch's offsets are given again. */
    io_fault_clear();
    fault_append_ok(log, &m, 9);
    for (uint32_t k = 0; k < tw_test_rec_count(FAULT_THREAD, 9); k++) {
        fault_expect_record(tail, 9, k, m.firsts[m.count - 1] + k);
    }
    log_reader_close(tail);
    fault_verify(log, &m);

    log = fault_reopen(log, dir, LOG_DURABILITY_FSYNC, &m);
    fault_append_ok(log, &m, 10);
    fault_verify(log, &m);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(faults, a_write_failing_with_enospc_fails_the_batch_and_keeps_all_before)
{
    fault_failing_append(IO_OP_WRITE, ENOSPC, false, TW_ENOSPC, "cannot write");
}

Test(faults, a_short_write_on_a_full_disk_leaves_no_partial_batch_behind)
{
    fault_failing_append(IO_OP_WRITE, ENOSPC, true, TW_ENOSPC, "cannot write");
}

Test(faults, a_write_failing_with_eio_fails_the_batch_and_keeps_all_before)
{
    fault_failing_append(IO_OP_WRITE, EIO, false, TW_EIO, "cannot write");
}

Test(faults,
     an_fdatasync_failing_with_eio_fails_the_batch_and_its_offsets_are_reused)
{
    fault_failing_append(IO_OP_SYNC, EIO, false, TW_EIO, "cannot sync");
}

/*
 * A write fails after writing part of the batch, and the truncate that
 * should remove that part fails too: the partition must refuse appends
 * (they would land after the stray bytes) until a truncate succeeds.
 */
static void fault_stuck_truncate(enum log_durability durability)
{
    char *dir = tw_test_tmpdir();
    struct log *log = fault_open(dir, durability, 0, NULL);
    struct fault_model m = {.count = 0};
    struct log_reader *tail;
    struct log_record rec;
    char seg[PATH_MAX];
    uint64_t size_before;
    uint64_t first;

    for (uint64_t seq = 0; seq < 3; seq++) {
        fault_append_ok(log, &m, seq);
    }
    cr_assert_eq(log_reader_open(log, FAULT_PARTITION, m.end, &tail), 0);
    fault_segment_path(dir, 0, seg, sizeof(seg));
    size_before = fault_file_size(seg);

    io_fault_arm(IO_OP_WRITE, ENOSPC, 0, -1, true);
    io_fault_arm(IO_OP_TRUNCATE, EIO, 0, -1, false);
    cr_assert_eq(fault_append(log, 3, NULL), TW_ENOSPC, "%s", tw_err_message());
    cr_assert_gt(fault_file_size(seg), size_before,
                 "the short write should have left stray bytes");

    /* The disk has room again, but the stray bytes are still there. */
    io_fault_clear();
    io_fault_arm(IO_OP_TRUNCATE, EIO, 0, -1, false);
    for (uint64_t seq = 4; seq < 6; seq++) {
        cr_assert_eq(fault_append(log, seq, NULL), TW_EIO,
                     "append s%" PRIu64 " to a partition with stray bytes: %s",
                     seq, tw_err_message());
        fault_expect_message("partition 1");
    }
    cr_assert_eq(log_reader_next(tail, &rec), 0,
                 "a reader saw offset %" PRIu64 " of a failed batch",
                 rec.offset);
    fault_verify(log, &m);

    /* The truncate works again: the stray bytes go, appends resume. */
    io_fault_clear();
    first = m.end;
    fault_append_ok(log, &m, 6);
    cr_assert_eq(m.firsts[m.count - 1], first);
    for (uint32_t k = 0; k < tw_test_rec_count(FAULT_THREAD, 6); k++) {
        fault_expect_record(tail, 6, k, first + k);
    }
    log_reader_close(tail);
    fault_verify(log, &m);

    log = fault_reopen(log, dir, durability, &m);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(faults,
     a_failed_write_that_cannot_be_undone_blocks_the_partition_until_it_can)
{
    fault_stuck_truncate(LOG_DURABILITY_FSYNC);
}

Test(faults, a_failed_undo_under_the_none_policy_keeps_every_acknowledged_batch)
{
    fault_stuck_truncate(LOG_DURABILITY_NONE);
}

/* The first batch from seq `from` on with min to max bytes of records. */
static uint64_t fault_sized_seq(uint64_t from, size_t min_bytes,
                                size_t max_bytes)
{
    for (uint64_t seq = from;; seq++) {
        struct tw_test_batch *b = fault_batch(seq);
        size_t bytes = 0;

        for (uint32_t i = 0; i < b->count; i++) {
            bytes += b->records[i].key_len + b->records[i].value_len;
        }
        if (bytes >= min_bytes && bytes <= max_bytes) {
            return seq;
        }
    }
}

static bool fault_dir_has_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".tmp") != NULL) {
            found = true;
        }
    }
    closedir(d);
    return found;
}

/*
 * A small batch, then one too big for what is left of a 4 KiB segment,
 * so that it rolls. skip 0: the index of the full segment cannot be
 * written; skip 1: the header of the new segment cannot. (The writer also
 * rolls a full segment when idle, so the count of segments only grows.)
 */
static void fault_full_at_roll(int skip)
{
    char *dir = tw_test_tmpdir();
    struct log *log = fault_open(dir, LOG_DURABILITY_FSYNC, 4096, NULL);
    struct fault_model m = {.count = 0};
    struct log_partition_info info;
    char pdir[PATH_MAX];
    uint64_t small = fault_sized_seq(0, 1, 1024);
    uint64_t big = fault_sized_seq(small + 1, 8192, SIZE_MAX);
    uint32_t segments;

    fault_append_ok(log, &m, small);
    cr_assert_eq(log_partition_info(log, FAULT_PARTITION, &info), 0);
    segments = info.segments;

    io_fault_arm(IO_OP_WRITE, ENOSPC, skip, -1, false);
    cr_assert_eq(fault_append(log, big, NULL), TW_ENOSPC, "%s",
                 tw_err_message());
    io_fault_clear();
    fault_verify(log, &m);
    snprintf(pdir, sizeof(pdir), "%s/p%03u", dir, FAULT_PARTITION);
    cr_assert_not(fault_dir_has_tmp(pdir), "a temporary file was left");

    fault_append_ok(log, &m, big);
    cr_assert_eq(log_partition_info(log, FAULT_PARTITION, &info), 0);
    cr_assert_geq(info.segments, segments + 1, "the big batch did not roll");
    fault_verify(log, &m);

    log = fault_reopen(log, dir, LOG_DURABILITY_FSYNC, &m);
    fault_append_ok(log, &m, big + 1);
    fault_verify(log, &m);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(faults, a_disk_full_while_writing_the_closing_index_fails_the_batch_only)
{
    fault_full_at_roll(0);
}

Test(faults, a_disk_full_while_creating_the_next_segment_fails_the_batch_only)
{
    fault_full_at_roll(1);
}

/* A log with a few records in partition 0, for the cursor tests. */
static struct log *fault_cursor_log(const char *dir)
{
    struct log *log = fault_open(dir, LOG_DURABILITY_FSYNC, 0, NULL);
    struct tw_test_batch *b = fault_batch(0);

    cr_assert_eq(log_append_wait(log, 0, b->records, b->count, NULL), 0);
    b = fault_batch(1);
    cr_assert_eq(log_append_wait(log, 0, b->records, b->count, NULL), 0);
    return log;
}

static uint64_t fault_cursor(struct log *log, const char *name)
{
    uint64_t offset = UINT64_MAX;

    cr_assert_eq(log_cursor_get(log, name, 0, &offset), 0, "%s",
                 tw_err_message());
    return offset;
}

Test(faults, a_cursor_commit_that_cannot_write_fails_and_the_old_value_survives)
{
    char *dir = tw_test_tmpdir();
    struct log *log = fault_cursor_log(dir);
    uint32_t first = tw_test_rec_count(FAULT_THREAD, 0);

    cr_assert_eq(log_cursor_commit(log, "billing", 0, 1), 0);
    for (int round = 0; round < 2; round++) {
        io_fault_arm(IO_OP_WRITE, round == 0 ? EIO : ENOSPC, 0, -1, false);
        cr_assert_lt(log_cursor_commit(log, "billing", 0, first), 0,
                     "a commit succeeded while writes fail");
        fault_expect_message("billing");
        io_fault_clear();
        cr_assert_eq(fault_cursor(log, "billing"), 1);
    }

    log = fault_reopen(log, dir, LOG_DURABILITY_FSYNC,
                       &(struct fault_model){.count = 0});
    cr_assert_eq(fault_cursor(log, "billing"), 1);

    /* And it still moves once the disk works. */
    cr_assert_eq(log_cursor_commit(log, "billing", 0, first), 0);
    log = fault_reopen(log, dir, LOG_DURABILITY_FSYNC,
                       &(struct fault_model){.count = 0});
    cr_assert_eq(fault_cursor(log, "billing"), first);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(faults, a_first_cursor_commit_that_cannot_write_leaves_the_log_openable)
{
    char *dir = tw_test_tmpdir();
    struct log *log = fault_cursor_log(dir);
    struct log_options opts;
    uint64_t offset;
    int rc;

    io_fault_arm(IO_OP_WRITE, ENOSPC, 0, -1, false);
    cr_assert_lt(log_cursor_commit(log, "fresh", 0, 1), 0);
    io_fault_clear();
    log_close(log);

    log_options_init(&opts, dir);
    opts.partitions = 2;
    rc = log_embedded_open(&opts, &log, NULL);
    cr_assert_eq(rc, 0, "a failed first commit made the log unopenable: %s",
                 tw_err_message());
    cr_assert_eq(log_cursor_get(log, "fresh", 0, &offset), TW_ENOENT,
                 "a commit that failed reads as committed");
    cr_assert_eq(log_cursor_commit(log, "fresh", 0, 1), 0, "%s",
                 tw_err_message());
    cr_assert_eq(fault_cursor(log, "fresh"), 1);
    log_close(log);
    tw_test_rmdir(dir);
}

/*
 * When the sync fails the new value may or may not have reached the disk;
 * what must hold is that the commit reports the failure and the cursor
 * reads afterwards as one whole committed value, never a mix.
 */
Test(faults, a_cursor_commit_whose_sync_fails_reports_it_and_stays_whole)
{
    char *dir = tw_test_tmpdir();
    struct log *log = fault_cursor_log(dir);
    uint32_t first = tw_test_rec_count(FAULT_THREAD, 0);
    uint64_t got;

    cr_assert_eq(log_cursor_commit(log, "billing", 0, 1), 0);
    io_fault_arm(IO_OP_SYNC, EIO, 0, -1, false);
    cr_assert_eq(log_cursor_commit(log, "billing", 0, first), TW_EIO);
    fault_expect_message("billing");
    io_fault_clear();

    log = fault_reopen(log, dir, LOG_DURABILITY_FSYNC,
                       &(struct fault_model){.count = 0});
    got = fault_cursor(log, "billing");
    cr_assert(got == 1 || got == first, "cursor reads %" PRIu64, got);
    log_close(log);
    tw_test_rmdir(dir);
}
