/*
 * test_log_cursor.c - named, durable cursors through the log interface:
 * commit and read back, names, ranges, persistence, deletion, a torn
 * slot, and cursors left ahead of data the log lost.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/cursor.h"
#include "log/embedded.h"
#include "support/logtest.h"
#include "support/tmpdir.h"

#define VALUE_LEN 64

static struct log *open_with_records(const char *dir, struct log_options *opts,
                                     uint64_t records)
{
    struct log *log;

    logtest_options(opts, dir, 3, LOG_DURABILITY_FSYNC);
    log = logtest_open(opts, NULL);
    for (uint32_t p = 0; p < 3; p++) {
        logtest_append_numbered(log, p, records, 10, VALUE_LEN, 1000, 1);
    }
    return log;
}

static void assert_cursor(struct log *log, const char *name, uint32_t p,
                          uint64_t want)
{
    uint64_t got = UINT64_MAX;

    cr_assert_eq(log_cursor_get(log, name, p, &got), 0, "%s/%u: %s", name, p,
                 tw_err_message());
    cr_assert_eq(got, want, "%s/%u is %" PRIu64 ", not %" PRIu64, name, p, got,
                 want);
}

static void cursor_file(char *path, size_t size, const char *dir,
                        const char *name)
{
    snprintf(path, size, "%s/cursors/%s.cur", dir, name);
}

Test(log_cursor, a_committed_position_reads_back)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log = open_with_records(dir, &opts, 30);

    cr_assert_eq(log_cursor_commit(log, "delivery", 0, 5), 0, "%s",
                 tw_err_message());
    assert_cursor(log, "delivery", 0, 5);
    cr_assert_eq(log_cursor_commit(log, "delivery", 0, 17), 0);
    assert_cursor(log, "delivery", 0, 17);

    /* Back, to the start and to the end: all are positions. */
    cr_assert_eq(log_cursor_commit(log, "delivery", 0, 2), 0);
    assert_cursor(log, "delivery", 0, 2);
    cr_assert_eq(log_cursor_commit(log, "delivery", 0, 0), 0);
    assert_cursor(log, "delivery", 0, 0);
    cr_assert_eq(log_cursor_commit(log, "delivery", 0, 30), 0);
    assert_cursor(log, "delivery", 0, 30);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_cursor, partitions_and_names_hold_independent_positions)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log = open_with_records(dir, &opts, 30);

    cr_assert_eq(log_cursor_commit(log, "a", 0, 3), 0);
    cr_assert_eq(log_cursor_commit(log, "a", 1, 10), 0);
    cr_assert_eq(log_cursor_commit(log, "b", 0, 20), 0);
    cr_assert_eq(log_cursor_commit(log, "a", 0, 4), 0);
    assert_cursor(log, "a", 0, 4);
    assert_cursor(log, "a", 1, 10);
    assert_cursor(log, "b", 0, 20);
    cr_assert_eq(log_cursor_commit(log, "b", 2, 30), 0);
    assert_cursor(log, "a", 0, 4);
    assert_cursor(log, "a", 1, 10);
    assert_cursor(log, "b", 0, 20);
    assert_cursor(log, "b", 2, 30);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_cursor, unknown_cursors_and_uncommitted_partitions_give_enoent)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log = open_with_records(dir, &opts, 10);
    uint64_t got;

    cr_assert_eq(log_cursor_get(log, "nobody", 0, &got), TW_ENOENT);
    cr_assert_eq(log_cursor_commit(log, "some", 1, 4), 0);
    cr_assert_eq(log_cursor_get(log, "some", 0, &got), TW_ENOENT);
    cr_assert_eq(log_cursor_get(log, "some", 2, &got), TW_ENOENT);
    cr_assert_eq(log_cursor_get(log, "some", 3, &got), TW_EINVAL);
    cr_assert_eq(log_cursor_commit(log, "some", 3, 0), TW_EINVAL);
    assert_cursor(log, "some", 1, 4);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_cursor, invalid_names_are_refused_with_einval_and_leave_no_file)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log = open_with_records(dir, &opts, 10);
    char longest[LOG_CURSOR_NAME_MAX + 2];
    char path[PATH_MAX];
    const char *bad[] = {"",       ".hidden", "..",    "a/b",
                         "../LOG", "sp ace",  "tab\t", "caf\xc3\xa9",
                         "star*",  "nul\x01"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert(!log_cursor_name_valid(bad[i]), "\"%s\" was valid", bad[i]);
        cr_assert_eq(log_cursor_commit(log, bad[i], 0, 1), TW_EINVAL,
                     "\"%s\" was taken", bad[i]);
    }

    memset(longest, 'n', sizeof(longest));
    longest[LOG_CURSOR_NAME_MAX + 1] = '\0';
    cr_assert_eq(log_cursor_commit(log, longest, 0, 1), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "cursor name") != NULL, "%s",
              tw_err_message());
    longest[LOG_CURSOR_NAME_MAX] = '\0';
    cr_assert(log_cursor_name_valid(longest));
    cr_assert_eq(log_cursor_commit(log, longest, 0, 1), 0, "%s",
                 tw_err_message());
    assert_cursor(log, longest, 0, 1);
    cr_assert(log_cursor_name_valid("Delivery_2.retry-x"));

    /* Only the valid one left a file behind, and nothing outside. */
    snprintf(path, sizeof(path), "%s/cursors/.hidden.cur", dir);
    cr_assert(!logtest_file_exists(path));
    snprintf(path, sizeof(path), "%s/cursors/a", dir);
    cr_assert(!logtest_file_exists(path));
    snprintf(path, sizeof(path), "%s/LOG.cur", dir);
    cr_assert(!logtest_file_exists(path));
    cursor_file(path, sizeof(path), dir, longest);
    cr_assert(logtest_file_exists(path));
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_cursor, a_commit_past_the_end_is_refused_with_erange)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log = open_with_records(dir, &opts, 10);
    uint64_t got;

    cr_assert_eq(log_cursor_commit(log, "ahead", 0, 11), TW_ERANGE);
    cr_assert(strstr(tw_err_message(), "11") != NULL, "%s", tw_err_message());
    cr_assert_eq(log_cursor_get(log, "ahead", 0, &got), TW_ENOENT);
    cr_assert_eq(log_cursor_commit(log, "ahead", 0, 10), 0);
    cr_assert_eq(log_cursor_commit(log, "ahead", 0, UINT64_MAX), TW_ERANGE);
    assert_cursor(log, "ahead", 0, 10);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_cursor, a_commit_before_the_start_is_refused_with_erange)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct log_partition_info info;
    struct log_options opts;
    struct log *log;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_NONE);
    opts.segment_max_bytes = 8 * 1024;
    opts.retention.max_bytes = 4096;
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 400, 10, VALUE_LEN, 1000, 1);
    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_eq(log_partition_info(log, 0, &info), 0);
    cr_assert_gt(info.start_offset, 0);

    cr_assert_eq(log_cursor_commit(log, "late", 0, info.start_offset - 1),
                 TW_ERANGE);
    cr_assert_eq(log_cursor_commit(log, "late", 0, 0), TW_ERANGE);
    cr_assert_eq(log_cursor_commit(log, "late", 0, info.start_offset), 0);
    assert_cursor(log, "late", 0, info.start_offset);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_cursor, committed_positions_survive_a_reopen)
{
    char *dir = tw_test_tmpdir();
    struct log_recovery report;
    struct log_options opts;
    struct log *log = open_with_records(dir, &opts, 20);
    uint64_t got;

    for (uint64_t i = 0; i <= 20; i++) {
        cr_assert_eq(log_cursor_commit(log, "moving", 1, i), 0);
    }
    cr_assert_eq(log_cursor_commit(log, "moving", 2, 7), 0);
    cr_assert_eq(log_cursor_commit(log, "other", 0, 13), 0);
    log_close(log);

    log = logtest_open(&opts, &report);
    cr_assert_eq(report.cursors_clamped, 0);
    assert_cursor(log, "moving", 1, 20);
    assert_cursor(log, "moving", 2, 7);
    assert_cursor(log, "other", 0, 13);
    cr_assert_eq(log_cursor_get(log, "moving", 0, &got), TW_ENOENT);

    /* And commits after the reopen build on what was loaded. */
    cr_assert_eq(log_cursor_commit(log, "moving", 0, 3), 0);
    log_close(log);
    log = logtest_open(&opts, NULL);
    assert_cursor(log, "moving", 0, 3);
    assert_cursor(log, "moving", 1, 20);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_cursor, deleting_a_cursor_removes_its_file_and_positions)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log = open_with_records(dir, &opts, 10);
    char path[PATH_MAX];
    uint64_t got;

    cr_assert_eq(log_cursor_commit(log, "gone", 0, 4), 0);
    cr_assert_eq(log_cursor_commit(log, "gone", 1, 5), 0);
    cr_assert_eq(log_cursor_commit(log, "kept", 1, 6), 0);
    cursor_file(path, sizeof(path), dir, "gone");
    cr_assert(logtest_file_exists(path));

    cr_assert_eq(log_cursor_delete(log, "gone"), 0, "%s", tw_err_message());
    cr_assert(!logtest_file_exists(path));
    cr_assert_eq(log_cursor_get(log, "gone", 0, &got), TW_ENOENT);
    cr_assert_eq(log_cursor_get(log, "gone", 1, &got), TW_ENOENT);
    cr_assert_eq(log_cursor_delete(log, "gone"), TW_ENOENT);
    cr_assert_eq(log_cursor_delete(log, "never"), TW_ENOENT);
    assert_cursor(log, "kept", 1, 6);
    log_close(log);

    log = logtest_open(&opts, NULL);
    cr_assert_eq(log_cursor_get(log, "gone", 0, &got), TW_ENOENT);
    assert_cursor(log, "kept", 1, 6);

    /* The name can be used again, starting afresh. */
    cr_assert_eq(log_cursor_commit(log, "gone", 2, 1), 0);
    cr_assert_eq(log_cursor_get(log, "gone", 0, &got), TW_ENOENT);
    assert_cursor(log, "gone", 2, 1);
    log_close(log);
    tw_test_rmdir(dir);
}

/* The file position of the slot holding the newest commit. */
static uint64_t newest_slot(const char *path)
{
    struct log_cursor_slot slot;
    uint64_t best_seq = 0;
    uint64_t best = UINT64_MAX;
    size_t len;
    uint8_t *data = logtest_file_read(path, 1u << 20, &len);

    cr_assert_eq(len, 2 * LOG_CURSOR_SLOT_SIZE);
    for (uint64_t i = 0; i < 2; i++) {
        if (log_cursor_slot_decode(data + i * LOG_CURSOR_SLOT_SIZE, &slot) ==
                0 &&
            slot.seq > best_seq) {
            best_seq = slot.seq;
            best = i * LOG_CURSOR_SLOT_SIZE;
        }
    }
    free(data);
    cr_assert_neq(best, UINT64_MAX, "%s has no valid slot", path);
    return best;
}

Test(log_cursor, a_torn_newest_slot_falls_back_to_the_previous_commit)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log = open_with_records(dir, &opts, 20);
    uint8_t garbage[LOG_CURSOR_SLOT_SIZE / 2];
    char path[PATH_MAX];
    uint64_t rnd = 5;

    cr_assert_eq(log_cursor_commit(log, "torn", 0, 8), 0);
    cr_assert_eq(log_cursor_commit(log, "torn", 1, 9), 0);
    cr_assert_eq(log_cursor_commit(log, "torn", 0, 15), 0);
    log_close(log);

    /* A crash in the middle of writing the newest slot. */
    cursor_file(path, sizeof(path), dir, "torn");
    for (size_t i = 0; i < sizeof(garbage); i++) {
        garbage[i] = (uint8_t)logtest_rand(&rnd);
    }
    logtest_file_write_at(path, newest_slot(path) + 100, garbage,
                          sizeof(garbage));

    log = logtest_open(&opts, NULL);
    assert_cursor(log, "torn", 0, 8);
    assert_cursor(log, "torn", 1, 9);

    /* The next commit lands in the torn slot and wins from then on. */
    cr_assert_eq(log_cursor_commit(log, "torn", 0, 16), 0);
    log_close(log);
    log = logtest_open(&opts, NULL);
    assert_cursor(log, "torn", 0, 16);
    assert_cursor(log, "torn", 1, 9);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_cursor, a_cursor_ahead_of_a_log_that_lost_its_tail_is_clamped)
{
    char *dir = tw_test_tmpdir();
    struct log_partition_info info;
    struct log_recovery report;
    struct log_options opts;
    struct log *log;
    char seg[PATH_MAX];
    uint64_t size_before_last;

    logtest_options(&opts, dir, 2, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_segment_path(seg, sizeof(seg), dir, 0, 0, "seg");
    logtest_append_numbered(log, 0, 5, 5, VALUE_LEN, 1000, 1);
    size_before_last = logtest_file_size(seg);
    logtest_append_numbered(log, 0, 5, 5, VALUE_LEN, 1000, 1);
    logtest_append_numbered(log, 1, 5, 5, VALUE_LEN, 1000, 1);
    cr_assert_eq(log_cursor_commit(log, "ahead", 0, 10), 0);
    cr_assert_eq(log_cursor_commit(log, "ahead", 1, 5), 0);
    cr_assert_eq(log_cursor_commit(log, "behind", 0, 3), 0);
    log_close(log);

    /* The last batch of partition 0 never reached the disk. */
    logtest_file_truncate(seg, size_before_last);

    log = logtest_open(&opts, &report);
    cr_assert_eq(report.cursors_clamped, 1);
    cr_assert_eq(report.tails_truncated, 0);
    cr_assert_eq(log_partition_info(log, 0, &info), 0);
    cr_assert_eq(info.end_offset, 5);
    assert_cursor(log, "ahead", 0, 5);
    assert_cursor(log, "ahead", 1, 5);
    assert_cursor(log, "behind", 0, 3);
    log_close(log);

    /* The clamp was committed: the next open finds nothing to do. */
    log = logtest_open(&opts, &report);
    cr_assert_eq(report.cursors_clamped, 0);
    assert_cursor(log, "ahead", 0, 5);
    log_close(log);
    tw_test_rmdir(dir);
}
