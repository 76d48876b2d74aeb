/*
 * test_log_index.c - the sparse index files of closed segments: written
 * when a segment closes, trusted on open when they match, rebuilt when
 * missing, torn or stale, and never changing what reads and seeks return.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/embedded.h"
#include "support/logtest.h"
#include "support/tmpdir.h"

#define VALUE_LEN 120
#define TS_BASE 1700000000000
#define RECORDS 1500
#define MAX_SEGMENTS 64
#define PROBES 60

/* What reads and seeks return, to compare before and after a rebuild. */
struct answers {
    uint64_t seek[PROBES];
    uint64_t first_at[PROBES];
    struct logtest_records all;
};

static int64_t probe_time(int i)
{
    /* Timestamps go up by 7 with a dip every 10th record (see fill). */
    return TS_BASE + (int64_t)i * RECORDS * 7 / PROBES - 3;
}

static int64_t record_time(uint64_t offset)
{
    return TS_BASE + (int64_t)offset * 7 - (offset % 10 == 9 ? 500 : 0);
}

/* The first offset at or after t, by looking at every record. */
static uint64_t scan_for_time(int64_t t)
{
    for (uint64_t o = 0; o < RECORDS; o++) {
        if (record_time(o) >= t) {
            return o;
        }
    }
    return RECORDS;
}

static void fill(struct log *log)
{
    static char values[10][VALUE_LEN + 1];
    struct log_record recs[10];

    /* Equal batches: every segment ends up the same size. */
    for (uint64_t o = 0; o < RECORDS; o += 10) {
        for (uint64_t i = 0; i < 10; i++) {
            logtest_numbered_value(values[i], VALUE_LEN, 0, o + i);
            recs[i] = (struct log_record){.timestamp_ms = record_time(o + i),
                                          .value = values[i],
                                          .value_len = VALUE_LEN};
        }
        cr_assert_eq(logtest_append(log, 0, recs, 10), o);
    }
}

static void collect(struct log *log, struct answers *a)
{
    struct log_reader *r;
    struct log_record rec;

    for (int i = 0; i < PROBES; i++) {
        uint64_t at = (uint64_t)i * RECORDS / PROBES + (uint64_t)i % 10;

        cr_assert_eq(log_offset_for_time(log, 0, probe_time(i), &a->seek[i]), 0,
                     "%s", tw_err_message());
        cr_assert_eq(a->seek[i], scan_for_time(probe_time(i)), "probe %d", i);
        cr_assert_eq(log_reader_open(log, 0, at, &r), 0, "%s",
                     tw_err_message());
        cr_assert_eq(log_reader_next(r, &rec), 1, "%s", tw_err_message());
        a->first_at[i] = rec.offset;
        cr_assert_eq(rec.offset, at);
        log_reader_close(r);
    }
    logtest_read_all(log, 0, 0, &a->all);
    cr_assert_eq(a->all.count, RECORDS);
}

static void assert_same_answers(const struct answers *a,
                                const struct answers *b)
{
    for (int i = 0; i < PROBES; i++) {
        cr_assert_eq(a->seek[i], b->seek[i],
                     "seek %d: %" PRIu64 " then %" PRIu64, i, a->seek[i],
                     b->seek[i]);
        cr_assert_eq(a->first_at[i], b->first_at[i]);
    }
    logtest_assert_same_records(&a->all, &b->all);
}

static void index_options(struct log_options *opts, const char *dir)
{
    logtest_options(opts, dir, 1, LOG_DURABILITY_NONE);
    opts->segment_max_bytes = 16 * 1024;
    opts->index_interval_bytes = 1024;
}

/* Writes the log, closes it and returns its segment bases. */
static size_t make_closed_log(const char *dir, struct log_options *opts,
                              struct answers *before, uint64_t *bases)
{
    struct log *log;
    size_t n;

    index_options(opts, dir);
    log = logtest_open(opts, NULL);
    fill(log);
    collect(log, before);
    log_close(log);
    n = logtest_segment_bases(dir, 0, bases, MAX_SEGMENTS);
    cr_assert_geq(n, 5, "only %zu segments", n);
    cr_assert_leq(n, MAX_SEGMENTS);
    return n;
}

Test(log_index, closed_segments_have_index_files_trusted_on_reopen)
{
    char *dir = tw_test_tmpdir();
    uint64_t bases[MAX_SEGMENTS];
    char path[PATH_MAX];
    struct answers before = {0};
    struct answers after = {0};
    struct log_recovery report;
    struct log_options opts;
    struct log *log;
    size_t n = make_closed_log(dir, &opts, &before, bases);

    for (size_t i = 0; i + 1 < n; i++) {
        logtest_segment_path(path, sizeof(path), dir, 0, bases[i], "idx");
        cr_assert(logtest_file_exists(path), "%s is missing", path);
    }

    log = logtest_open(&opts, &report);
    cr_assert_eq(report.segments, n);
    cr_assert_eq(report.indexes_rebuilt, 0);
    collect(log, &after);
    assert_same_answers(&before, &after);
    log_close(log);
    logtest_records_free(&before.all);
    logtest_records_free(&after.all);
    tw_test_rmdir(dir);
}

Test(log_index, a_deleted_index_is_rebuilt_on_open_with_the_same_answers)
{
    char *dir = tw_test_tmpdir();
    uint64_t bases[MAX_SEGMENTS];
    char path[PATH_MAX];
    struct answers before = {0};
    struct answers after = {0};
    struct log_recovery report;
    struct log_options opts;
    struct log *log;
    size_t n = make_closed_log(dir, &opts, &before, bases);

    logtest_segment_path(path, sizeof(path), dir, 0, bases[0], "idx");
    cr_assert_eq(unlink(path), 0);
    logtest_segment_path(path, sizeof(path), dir, 0, bases[n / 2], "idx");
    cr_assert_eq(unlink(path), 0);

    log = logtest_open(&opts, &report);
    cr_assert_eq(report.indexes_rebuilt, 2);
    cr_assert(logtest_file_exists(path), "%s was not written again", path);
    collect(log, &after);
    assert_same_answers(&before, &after);
    log_close(log);

    /* Rebuilt once, trusted from then on. */
    log = logtest_open(&opts, &report);
    cr_assert_eq(report.indexes_rebuilt, 0);
    log_close(log);
    logtest_records_free(&before.all);
    logtest_records_free(&after.all);
    tw_test_rmdir(dir);
}

Test(log_index, an_index_of_another_segment_is_stale_and_rebuilt)
{
    char *dir = tw_test_tmpdir();
    uint64_t bases[MAX_SEGMENTS];
    char seg1[PATH_MAX];
    char seg2[PATH_MAX];
    char idx1[PATH_MAX];
    char idx2[PATH_MAX];
    struct answers before = {0};
    struct answers after = {0};
    struct log_recovery report;
    struct log_options opts;
    struct log *log;
    uint8_t *copied;
    uint8_t *rebuilt;
    size_t copied_len;
    size_t rebuilt_len;

    make_closed_log(dir, &opts, &before, bases);
    logtest_segment_path(seg1, sizeof(seg1), dir, 0, bases[1], "seg");
    logtest_segment_path(seg2, sizeof(seg2), dir, 0, bases[2], "seg");
    logtest_segment_path(idx1, sizeof(idx1), dir, 0, bases[1], "idx");
    logtest_segment_path(idx2, sizeof(idx2), dir, 0, bases[2], "idx");

    /* Same size, so only the base offset tells the copy apart. */
    cr_assert_eq(logtest_file_size(seg1), logtest_file_size(seg2));
    logtest_file_copy(idx1, idx2);

    log = logtest_open(&opts, &report);
    cr_assert_eq(report.indexes_rebuilt, 1);
    collect(log, &after);
    assert_same_answers(&before, &after);
    log_close(log);

    copied = logtest_file_read(idx1, 1u << 20, &copied_len);
    rebuilt = logtest_file_read(idx2, 1u << 20, &rebuilt_len);
    cr_assert(copied_len != rebuilt_len ||
                  memcmp(copied, rebuilt, copied_len) != 0,
              "%s still holds the index of another segment", idx2);
    free(copied);
    free(rebuilt);
    logtest_records_free(&before.all);
    logtest_records_free(&after.all);
    tw_test_rmdir(dir);
}

Test(log_index, a_torn_index_file_is_rebuilt_with_the_same_answers)
{
    char *dir = tw_test_tmpdir();
    uint64_t bases[MAX_SEGMENTS];
    char path[PATH_MAX];
    struct answers before = {0};
    struct answers after = {0};
    struct log_recovery report;
    struct log_options opts;
    struct log *log;
    uint64_t size;

    make_closed_log(dir, &opts, &before, bases);
    logtest_segment_path(path, sizeof(path), dir, 0, bases[3], "idx");
    size = logtest_file_size(path);
    logtest_file_truncate(path, size - 10);

    log = logtest_open(&opts, &report);
    cr_assert_eq(report.indexes_rebuilt, 1);
    cr_assert_eq(logtest_file_size(path), size);
    collect(log, &after);
    assert_same_answers(&before, &after);
    log_close(log);
    logtest_records_free(&before.all);
    logtest_records_free(&after.all);
    tw_test_rmdir(dir);
}
