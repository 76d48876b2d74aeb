/*
 * test_log_retention.c - deleting old segments by total size and by age,
 * what cursors and readers protect, and what a pass reports.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "log/embedded.h"
#include "support/logtest.h"
#include "support/tmpdir.h"

#define VALUE_LEN 200
#define SEGMENT_BYTES (16 * 1024)
#define MAX_SEGMENTS 128
#define DAY_MS (24 * 3600 * 1000LL)

static void retention_options(struct log_options *opts, const char *dir,
                              uint32_t partitions)
{
    logtest_options(opts, dir, partitions, LOG_DURABILITY_NONE);
    opts->segment_max_bytes = SEGMENT_BYTES;
    opts->retention.keep_unread = false;
}

/* A snapshot of what the partitions hold. */
struct snapshot {
    struct log_partition_info info[4];
    uint64_t bytes;
    uint32_t segments;
};

static void snapshot_take(struct log *log, struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    for (uint32_t p = 0; p < log_partitions(log); p++) {
        cr_assert_eq(log_partition_info(log, p, &s->info[p]), 0);
        s->bytes += s->info[p].bytes;
        s->segments += s->info[p].segments;
    }
}

/* The report says exactly what changed between two snapshots. */
static void assert_report_matches(const struct log_retention_report *r,
                                  const struct snapshot *before,
                                  const struct snapshot *after,
                                  uint32_t partitions)
{
    uint64_t records = 0;

    for (uint32_t p = 0; p < partitions; p++) {
        records += after->info[p].start_offset - before->info[p].start_offset;
        cr_assert_eq(after->info[p].end_offset, before->info[p].end_offset);
    }
    cr_assert_eq(r->segments_deleted, before->segments - after->segments);
    cr_assert_eq(r->bytes_deleted, before->bytes - after->bytes);
    cr_assert_eq(r->records_deleted, records);
}

/* Segment files on disk match the partition: none older than start. */
static void assert_files_match(const char *dir, uint32_t p,
                               const struct log_partition_info *info)
{
    uint64_t bases[MAX_SEGMENTS];
    char path[PATH_MAX];
    size_t n = logtest_segment_bases(dir, p, bases, MAX_SEGMENTS);

    cr_assert_eq(n, info->segments);
    cr_assert_eq(bases[0], info->start_offset);
    for (size_t i = 0; i + 1 < n; i++) {
        logtest_segment_path(path, sizeof(path), dir, p, bases[i], "idx");
        cr_assert(logtest_file_exists(path), "%s is missing", path);
    }
}

Test(log_retention, retention_by_bytes_deletes_the_oldest_segments_to_fit)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct snapshot before;
    struct snapshot after;
    struct logtest_records recs;
    struct log_options opts;
    struct log_reader *r;
    struct log_stats st;
    struct log *log;
    uint64_t max_bytes = 100 * 1024;

    retention_options(&opts, dir, 2);
    opts.retention.max_bytes = max_bytes;
    log = logtest_open(&opts, NULL);
    for (uint32_t p = 0; p < 2; p++) {
        logtest_append_numbered(log, p, 1200, 6, VALUE_LEN, 1000, 1);
    }
    snapshot_take(log, &before);
    cr_assert_gt(before.bytes, 2 * max_bytes);

    cr_assert_eq(log_retention_run(log, &report), 0);
    snapshot_take(log, &after);
    cr_assert_leq(after.bytes, max_bytes + SEGMENT_BYTES,
                  "%" PRIu64 " bytes left", after.bytes);
    cr_assert_gt(report.segments_deleted, 0);
    cr_assert_eq(report.segments_kept_for_cursors, 0);
    cr_assert_eq(report.segments_deleted_unread, 0);
    assert_report_matches(&report, &before, &after, 2);
    log_stats(log, &st);
    cr_assert_eq(st.segments_deleted, report.segments_deleted);

    for (uint32_t p = 0; p < 2; p++) {
        uint64_t start = after.info[p].start_offset;

        cr_assert_gt(start, 0);
        assert_files_match(dir, p, &after.info[p]);
        cr_assert_eq(log_reader_open(log, p, 0, &r), TW_ERANGE);
        logtest_read_all(log, p, start, &recs);
        cr_assert_eq(recs.count, 1200 - start);
        logtest_assert_numbered(&recs.items[0], p, VALUE_LEN, 1000, 1);
        logtest_records_free(&recs);
    }

    /* The log fits now: another pass finds nothing to do. */
    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_eq(report.segments_deleted, 0);
    log_close(log);

    /* And the new start survives a reopen. */
    log = logtest_open(&opts, NULL);
    snapshot_take(log, &before);
    for (uint32_t p = 0; p < 2; p++) {
        cr_assert_eq(before.info[p].start_offset, after.info[p].start_offset);
    }
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_retention, retention_by_bytes_takes_the_oldest_data_of_any_partition)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct snapshot before;
    struct snapshot after;
    struct log_options opts;
    struct log *log;

    /* Partition 0 holds only older records than partition 1. */
    retention_options(&opts, dir, 2);
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 600, 6, VALUE_LEN, 1000, 1);
    logtest_append_numbered(log, 1, 600, 6, VALUE_LEN, 100000, 1);
    snapshot_take(log, &before);
    log_close(log);

    /* A budget that a few segments' worth of deletions satisfy. */
    opts.retention.max_bytes = before.bytes - 2 * SEGMENT_BYTES;
    log = logtest_open(&opts, NULL);
    cr_assert_eq(log_retention_run(log, &report), 0);
    snapshot_take(log, &after);
    cr_assert_geq(report.segments_deleted, 2);
    cr_assert_leq(after.bytes, opts.retention.max_bytes);
    cr_assert_gt(after.info[0].start_offset, 0);
    cr_assert_eq(after.info[1].start_offset, 0,
                 "the newer partition lost data first");
    assert_report_matches(&report, &before, &after, 2);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_retention, retention_by_age_deletes_closed_segments_of_old_records)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct snapshot before;
    struct snapshot after;
    struct logtest_records recs;
    struct log_options opts;
    struct log *log;
    int64_t old = tw_now_ms() - 10 * DAY_MS;
    int64_t recent = tw_now_ms() - 1000;
    uint64_t first_recent;

    retention_options(&opts, dir, 1);
    opts.retention.max_age_ms = DAY_MS;
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 400, 5, VALUE_LEN, old, 0);
    first_recent =
        logtest_append_numbered(log, 0, 300, 5, VALUE_LEN, recent, 0);
    snapshot_take(log, &before);

    cr_assert_eq(log_retention_run(log, &report), 0);
    snapshot_take(log, &after);
    cr_assert_gt(report.segments_deleted, 0);
    assert_report_matches(&report, &before, &after, 1);
    assert_files_match(dir, 0, &after.info[0]);

    /* Every segment of only old records went; none with a recent one. */
    cr_assert_gt(after.info[0].start_offset, 0);
    cr_assert_leq(after.info[0].start_offset, first_recent);
    cr_assert_gt(after.info[0].start_offset + SEGMENT_BYTES / VALUE_LEN,
                 first_recent, "a segment of old records was kept");
    logtest_read_all(log, 0, after.info[0].start_offset, &recs);
    cr_assert_eq(recs.count, 700 - after.info[0].start_offset);
    logtest_records_free(&recs);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_retention, retention_by_age_never_deletes_the_active_segment)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct snapshot before;
    struct snapshot after;
    struct logtest_records recs;
    struct log_options opts;
    struct log *log;
    int64_t old = tw_now_ms() - 10 * DAY_MS;

    retention_options(&opts, dir, 1);
    opts.retention.max_age_ms = DAY_MS;
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 500, 5, VALUE_LEN, old, 1);
    snapshot_take(log, &before);
    cr_assert_gt(before.segments, 3);

    cr_assert_eq(log_retention_run(log, &report), 0);
    snapshot_take(log, &after);
    cr_assert_eq(report.segments_deleted, before.segments - 1);
    cr_assert_eq(after.segments, 1);
    assert_report_matches(&report, &before, &after, 1);

    /* The active segment's old records are all still readable. */
    logtest_read_all(log, 0, after.info[0].start_offset, &recs);
    cr_assert_gt(recs.count, 0);
    cr_assert_eq(recs.count, 500 - after.info[0].start_offset);
    for (size_t i = 0; i < recs.count; i++) {
        logtest_assert_numbered(&recs.items[i], 0, VALUE_LEN, old, 1);
    }
    logtest_records_free(&recs);

    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_eq(report.segments_deleted, 0);
    log_close(log);
    tw_test_rmdir(dir);
}

/* Fills a partition with many segments and returns their bases. */
static size_t fill_segments(const char *dir, struct log *log, uint64_t *bases)
{
    size_t n;

    logtest_append_numbered(log, 0, 800, 5, VALUE_LEN, 1000, 1);
    n = logtest_segment_bases(dir, 0, bases, MAX_SEGMENTS);
    cr_assert_geq(n, 6, "only %zu segments", n);
    return n;
}

Test(log_retention, keep_unread_keeps_segments_a_cursor_has_not_read_past)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct snapshot after;
    struct log_options opts;
    struct log *log;
    uint64_t bases[MAX_SEGMENTS];
    uint64_t at;

    retention_options(&opts, dir, 1);
    opts.retention.max_bytes = 4096;
    opts.retention.keep_unread = true;
    log = logtest_open(&opts, NULL);
    fill_segments(dir, log, bases);

    /* The cursor has read segments 0 to 2 and one record of segment 3. */
    at = bases[3] + 1;
    cr_assert_eq(log_cursor_commit(log, "consumer", 0, at), 0);
    cr_assert_eq(log_retention_run(log, &report), 0);
    snapshot_take(log, &after);
    cr_assert_eq(report.segments_deleted, 3);
    cr_assert_gt(report.segments_kept_for_cursors, 0);
    cr_assert_eq(report.segments_deleted_unread, 0);
    cr_assert_eq(after.info[0].start_offset, bases[3]);
    cr_assert_gt(after.bytes, opts.retention.max_bytes);

    /* Once the cursor moves on, its old segments may go. */
    cr_assert_eq(log_cursor_commit(log, "consumer", 0, bases[5]), 0);
    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_eq(report.segments_deleted, 2);
    snapshot_take(log, &after);
    cr_assert_eq(after.info[0].start_offset, bases[5]);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_retention, without_keep_unread_unread_segments_go_and_are_counted)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct snapshot after;
    struct log_options opts;
    struct log_reader *r;
    struct log *log;
    uint64_t bases[MAX_SEGMENTS];
    uint64_t cursor;
    size_t n;

    retention_options(&opts, dir, 1);
    opts.retention.max_bytes = 4096;
    opts.retention.keep_unread = false;
    log = logtest_open(&opts, NULL);
    n = fill_segments(dir, log, bases);

    cr_assert_eq(log_cursor_commit(log, "slow", 0, bases[2] + 3), 0);
    cr_assert_eq(log_retention_run(log, &report), 0);
    snapshot_take(log, &after);

    /* All closed segments went; segments 2 and on were unread. */
    cr_assert_eq(report.segments_deleted, n - 1);
    cr_assert_eq(report.segments_deleted_unread, n - 1 - 2);
    cr_assert_eq(report.segments_kept_for_cursors, 0);
    cr_assert_eq(after.segments, 1);
    cr_assert_eq(after.info[0].start_offset, bases[n - 1]);

    /* The cursor keeps its value; its reader learns the data is gone. */
    cr_assert_eq(log_cursor_get(log, "slow", 0, &cursor), 0);
    cr_assert_eq(cursor, bases[2] + 3);
    cr_assert_eq(log_reader_open(log, 0, cursor, &r), TW_ERANGE);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_retention, a_reader_in_a_removed_segment_says_erange_at_its_next_batch)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct log_options opts;
    struct log_reader *r;
    struct log_record rec;
    struct log *log;
    uint64_t bases[MAX_SEGMENTS];
    uint64_t next;
    size_t n;
    int rc;

    retention_options(&opts, dir, 1);
    opts.retention.max_bytes = 4096;
    log = logtest_open(&opts, NULL);
    n = fill_segments(dir, log, bases);

    cr_assert_eq(log_reader_open(log, 0, bases[3] + 2, &r), 0);
    cr_assert_eq(log_reader_next(r, &rec), 1);
    cr_assert_eq(rec.offset, bases[3] + 2);

    /* An open reader keeps nothing: every closed segment goes. */
    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_eq(report.segments_deleted, n - 1);
    cr_assert_eq(report.segments_kept_for_cursors, 0);

    /* What the reader had loaded it still gives, in order; then it says
     * that its place is gone, and keeps saying so. */
    next = bases[3] + 3;
    while ((rc = log_reader_next(r, &rec)) == 1) {
        cr_assert_eq(rec.offset, next);
        next++;
    }
    cr_assert_eq(rc, TW_ERANGE, "%s", tw_err_message());
    cr_assert_lt(next, bases[4]);
    cr_assert_eq(log_reader_next(r, &rec), TW_ERANGE);
    log_reader_close(r);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_retention,
     a_reader_at_the_end_of_a_removed_segment_goes_on_in_the_next)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct log_options opts;
    struct log_reader *r;
    struct log_record rec;
    struct log *log;
    uint64_t bases[MAX_SEGMENTS];
    uint64_t next;
    int rc;

    retention_options(&opts, dir, 1);
    opts.retention.max_bytes = 4096;
    log = logtest_open(&opts, NULL);
    fill_segments(dir, log, bases);

    /* The reader has read segment 3 to its last record. */
    cr_assert_eq(log_reader_open(log, 0, bases[3], &r), 0);
    for (next = bases[3]; next < bases[4]; next++) {
        cr_assert_eq(log_reader_next(r, &rec), 1);
        cr_assert_eq(rec.offset, next);
    }
    cr_assert_eq(log_cursor_commit(log, "keeper", 0, bases[4]), 0);
    cr_assert_eq(log_cursor_hold(log, "keeper", true), 0);
    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_eq(report.segments_deleted, 4);

    /* No record is missed and none comes twice. */
    while ((rc = log_reader_next(r, &rec)) == 1) {
        cr_assert_eq(rec.offset, next);
        next++;
    }
    cr_assert_eq(rc, 0, "%s", tw_err_message());
    cr_assert_eq(next, 800);
    log_reader_close(r);
    log_close(log);
    tw_test_rmdir(dir);
}

/* An append of one record, returning log_append's answer. */
static int try_append(struct log *log)
{
    struct log_record rec = {
        .timestamp_ms = tw_now_ms(), .value = "x", .value_len = 1};

    return log_append_wait(log, 0, &rec, 1, NULL);
}

Test(log_retention,
     a_holding_cursor_keeps_what_it_has_not_read_and_fills_the_log)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct snapshot after;
    struct log_options opts;
    struct log_stats st;
    struct log *log;
    uint64_t bases[MAX_SEGMENTS];
    size_t n;

    retention_options(&opts, dir, 1);
    opts.retention.max_bytes = 4096;
    log = logtest_open(&opts, NULL);
    n = fill_segments(dir, log, bases);
    cr_assert_eq(log_cursor_hold(log, "slow", true), TW_ENOENT);

    cr_assert_eq(log_cursor_commit(log, "slow", 0, bases[2] + 1), 0);
    cr_assert_eq(log_cursor_hold(log, "slow", true), 0);
    cr_assert_eq(log_cursor_commit(log, "quick", 0, bases[5]), 0);
    cr_assert_eq(log_retention_run(log, &report), 0);
    snapshot_take(log, &after);
    cr_assert_eq(report.segments_deleted, 2);
    cr_assert_eq(report.segments_deleted_unread, 0);
    cr_assert_eq(after.info[0].start_offset, bases[2]);
    cr_assert(report.full);
    cr_assert_str_eq(report.held_by, "slow");
    cr_assert_eq(report.held_partition, 0);

    /* Full: appends are refused, saying which cursor holds the log. */
    cr_assert_eq(try_append(log), TW_ENOSPC);
    cr_assert(strstr(tw_err_message(), "cursor slow") != NULL, "%s",
              tw_err_message());
    log_stats(log, &st);
    cr_assert_eq(st.full, 1);
    cr_assert_eq(st.rejected_budget, 1);
    cr_assert_eq(st.stored_bytes, after.bytes);

    /* Once the cursor has caught up, the next pass makes room. */
    cr_assert_eq(log_cursor_commit(log, "slow", 0, after.info[0].end_offset),
                 0);
    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_not(report.full);
    cr_assert_eq(report.segments_deleted, n - 1 - 2);
    cr_assert_eq(try_append(log), 0, "%s", tw_err_message());
    log_stats(log, &st);
    cr_assert_eq(st.full, 0);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_retention, a_cursor_that_does_not_hold_loses_what_retention_takes)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct log_options opts;
    struct log_stats st;
    struct log *log;
    uint64_t bases[MAX_SEGMENTS];
    size_t n;

    retention_options(&opts, dir, 1);
    opts.retention.max_bytes = 4096;
    log = logtest_open(&opts, NULL);
    n = fill_segments(dir, log, bases);

    cr_assert_eq(log_cursor_commit(log, "slow", 0, bases[1]), 0);
    cr_assert_eq(log_cursor_hold(log, "slow", true), 0);
    cr_assert_eq(log_cursor_hold(log, "slow", false), 0);
    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_not(report.full);
    cr_assert_eq(report.segments_deleted, n - 1);
    cr_assert_eq(report.segments_deleted_unread, n - 2);
    log_stats(log, &st);
    cr_assert_eq(st.deleted_unread, n - 2);
    cr_assert_eq(st.full, 0);
    cr_assert_eq(try_append(log), 0, "%s", tw_err_message());
    log_close(log);

    /* The mark is not stored: after a reopen nothing holds. */
    log = logtest_open(&opts, NULL);
    cr_assert_eq(log_cursor_commit(log, "slow", 0, bases[n - 1]), 0);
    logtest_append_numbered(log, 0, 400, 5, VALUE_LEN, 1000, 1);
    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_gt(report.segments_deleted_unread, 0);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_retention, cursors_named_at_open_hold_before_their_owners_run)
{
    static const char *const holding[] = {"slow", "not-made-yet"};
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct snapshot after;
    struct log_options opts;
    struct log *log;
    uint64_t bases[MAX_SEGMENTS];

    retention_options(&opts, dir, 1);
    log = logtest_open(&opts, NULL);
    fill_segments(dir, log, bases);
    cr_assert_eq(log_cursor_commit(log, "slow", 0, bases[2] + 1), 0);
    log_close(log);

    /* Reopened over its budget, as a full log is after a restart: the
     * first pass may come before the destination has said it holds. */
    opts.retention.max_bytes = 4096;
    opts.retention.holding = holding;
    opts.retention.holding_count = 2;
    log = logtest_open(&opts, NULL);
    cr_assert_eq(log_retention_run(log, &report), 0);
    snapshot_take(log, &after);
    cr_assert_eq(report.segments_deleted, 2);
    cr_assert_eq(report.segments_deleted_unread, 0);
    cr_assert_eq(after.info[0].start_offset, bases[2]);
    cr_assert(report.full);
    cr_assert_str_eq(report.held_by, "slow");
    log_close(log);
    tw_test_rmdir(dir);
}

struct full_probe {
    struct log *log;
    uint64_t want;
};

static bool full_is(void *ctx)
{
    struct full_probe *probe = ctx;
    struct log_stats st;

    log_stats(probe->log, &st);
    return st.full == probe->want;
}

Test(log_retention, the_writer_marks_the_log_full_and_free_again_by_itself)
{
    char *dir = tw_test_tmpdir();
    struct log_partition_info info;
    struct log_options opts;
    struct log *log;
    struct full_probe probe;

    retention_options(&opts, dir, 1);
    opts.retention.max_bytes = 4096;
    /* Only the writer's budget check can run a pass in this test. */
    opts.retention_interval_ms = INT64_C(86400000);
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 10, 5, VALUE_LEN, 1000, 1);
    cr_assert_eq(log_cursor_commit(log, "slow", 0, 0), 0);
    cr_assert_eq(log_cursor_hold(log, "slow", true), 0);
    logtest_append_numbered(log, 0, 800, 5, VALUE_LEN, 1000, 1);

    probe = (struct full_probe){log, 1};
    cr_assert(logtest_eventually(full_is, &probe, 10000),
              "the log never became full");
    cr_assert_eq(try_append(log), TW_ENOSPC);

    cr_assert_eq(log_partition_info(log, 0, &info), 0);
    cr_assert_eq(log_cursor_commit(log, "slow", 0, info.end_offset), 0);
    probe.want = 0;
    cr_assert(logtest_eventually(full_is, &probe, 10000),
              "the log stayed full after the cursor caught up");
    cr_assert_eq(try_append(log), 0, "%s", tw_err_message());
    log_close(log);
    tw_test_rmdir(dir);
}
