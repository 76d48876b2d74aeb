/*
 * test_log_time.c - finding an offset by time (log_offset_for_time): the
 * answer must always equal a scan of every record for the first one at
 * or after the time, whatever order the timestamps came in, across
 * segments, and after a reopen reads the closed segments' indexes.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/embedded.h"
#include "support/logtest.h"
#include "support/tmpdir.h"

#define TS_BASE 1700000000000
#define MAX_RECORDS 4000

/* The timestamps written to one partition, by offset. */
struct timeline {
    int64_t ts[MAX_RECORDS];
    uint64_t count;
    int64_t min;
    int64_t max;
};

static void timeline_add(struct timeline *tl, int64_t ts)
{
    cr_assert_lt(tl->count, MAX_RECORDS);
    if (tl->count == 0 || ts < tl->min) {
        tl->min = ts;
    }
    if (tl->count == 0 || ts > tl->max) {
        tl->max = ts;
    }
    tl->ts[tl->count++] = ts;
}

/* The answer by brute force: first offset >= start with ts >= t. */
static uint64_t timeline_first_at(const struct timeline *tl, uint64_t start,
                                  int64_t t)
{
    for (uint64_t o = start; o < tl->count; o++) {
        if (tl->ts[o] >= t) {
            return o;
        }
    }
    return tl->count;
}

/* Appends the timeline's timestamps in batches of 1 to 16 records. */
static void write_timeline(struct log *log, uint32_t p,
                           const struct timeline *tl)
{
    static char values[16][80];
    struct log_record recs[16];
    uint64_t rnd = 1234567;
    uint64_t o = 0;

    while (o < tl->count) {
        uint32_t n = 1 + (uint32_t)(logtest_rand(&rnd) % 16);

        if (n > tl->count - o) {
            n = (uint32_t)(tl->count - o);
        }
        for (uint32_t i = 0; i < n; i++) {
            snprintf(values[i], sizeof(values[i]),
                     "record %" PRIu64 " of a timeline, padded to be long",
                     o + i);
            recs[i] =
                (struct log_record){.timestamp_ms = tl->ts[o + i],
                                    .value = values[i],
                                    .value_len = (uint32_t)strlen(values[i])};
        }
        cr_assert_eq(logtest_append(log, p, recs, n), o);
        o += n;
    }
}

static void assert_seek(struct log *log, uint32_t p, const struct timeline *tl,
                        uint64_t start, int64_t t)
{
    uint64_t got = UINT64_MAX;
    uint64_t want = timeline_first_at(tl, start, t);

    cr_assert_eq(log_offset_for_time(log, p, t, &got), 0,
                 "time %" PRId64 ": %s", t, tw_err_message());
    cr_assert_eq(got, want,
                 "time %" PRId64 ": offset %" PRIu64 ", a scan "
                 "says %" PRIu64,
                 t, got, want);
}

/* Compares log_offset_for_time with the scan for many times. */
static void assert_seeks_match(struct log *log, uint32_t p,
                               const struct timeline *tl, uint64_t start)
{
    uint64_t rnd = 99;
    int64_t span = tl->max - tl->min + 200;

    for (int i = 0; i < 600; i++) {
        int64_t t =
            tl->min - 100 + (int64_t)(logtest_rand(&rnd) % (uint64_t)span);

        assert_seek(log, p, tl, start, t);
    }
    for (uint64_t o = start; o < tl->count; o += 37) {
        assert_seek(log, p, tl, start, tl->ts[o]);
        assert_seek(log, p, tl, start, tl->ts[o] + 1);
        assert_seek(log, p, tl, start, tl->ts[o] - 1);
    }
    assert_seek(log, p, tl, start, INT64_MIN);
    assert_seek(log, p, tl, start, INT64_MAX);
    assert_seek(log, p, tl, start, tl->min);
    assert_seek(log, p, tl, start, tl->max);
    assert_seek(log, p, tl, start, tl->max + 1);
}

/* Small segments and dense indexes, so that seeks cross both. */
static void time_options(struct log_options *opts, const char *dir)
{
    logtest_options(opts, dir, 2, LOG_DURABILITY_NONE);
    opts->segment_max_bytes = 16 * 1024;
    opts->index_interval_bytes = 512;
}

static void check_timeline_before_and_after_reopen(struct timeline *tl)
{
    char *dir = tw_test_tmpdir();
    struct log_partition_info info;
    struct log_options opts;
    struct log *log;

    time_options(&opts, dir);
    log = logtest_open(&opts, NULL);
    write_timeline(log, 1, tl);
    cr_assert_eq(log_partition_info(log, 1, &info), 0);
    cr_assert_geq(info.segments, 5, "only %u segments", info.segments);
    cr_assert_eq(info.oldest_ms, tl->min);
    cr_assert_eq(info.newest_ms, tl->max);
    assert_seeks_match(log, 1, tl, 0);
    log_close(log);

    log = logtest_open(&opts, NULL);
    assert_seeks_match(log, 1, tl, 0);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_time, seeking_increasing_timestamps_finds_the_first_record_at_or_after)
{
    static struct timeline tl;

    /* Steps of 10 ms with runs of equal timestamps. */
    for (uint64_t o = 0; o < 3000; o++) {
        timeline_add(&tl, TS_BASE + (int64_t)(o / 3) * 10);
    }
    check_timeline_before_and_after_reopen(&tl);
}

Test(log_time, seeking_unordered_timestamps_matches_a_scan_of_every_record)
{
    static struct timeline tl;
    uint64_t rnd = 4242;

    /* Mostly rising with jitter, some far in the past or future. */
    for (uint64_t o = 0; o < 3000; o++) {
        int64_t ts = TS_BASE + (int64_t)o * 10 +
                     (int64_t)(logtest_rand(&rnd) % 1001) - 500;

        if (logtest_rand(&rnd) % 20 == 0) {
            ts = TS_BASE - 20000 + (int64_t)(logtest_rand(&rnd) % 70000);
        }
        timeline_add(&tl, ts);
    }
    check_timeline_before_and_after_reopen(&tl);
}

Test(log_time, a_time_after_every_record_gives_the_end_offset)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log;
    uint64_t got = 0;

    time_options(&opts, dir);
    log = logtest_open(&opts, NULL);

    /* An empty partition ends at 0. */
    cr_assert_eq(log_offset_for_time(log, 0, TS_BASE, &got), 0);
    cr_assert_eq(got, 0);

    logtest_append_numbered(log, 0, 900, 9, 100, TS_BASE, 5);
    cr_assert_eq(log_offset_for_time(log, 0, TS_BASE + 899 * 5 + 1, &got), 0);
    cr_assert_eq(got, 900);
    cr_assert_eq(log_offset_for_time(log, 0, INT64_MAX, &got), 0);
    cr_assert_eq(got, 900);
    cr_assert_eq(log_offset_for_time(log, 0, TS_BASE + 899 * 5, &got), 0);
    cr_assert_eq(got, 899);
    cr_assert_eq(log_offset_for_time(log, 2, TS_BASE, &got), TW_EINVAL);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_time, a_time_before_every_record_gives_the_start_offset)
{
    char *dir = tw_test_tmpdir();
    static struct timeline tl;
    struct log_retention_report report;
    struct log_partition_info info;
    struct log_options opts;
    struct log *log;
    uint64_t got = UINT64_MAX;
    uint64_t rnd = 77;

    time_options(&opts, dir);
    opts.retention.max_bytes = 40 * 1024;
    opts.retention.keep_unread = false;
    log = logtest_open(&opts, NULL);
    for (uint64_t o = 0; o < 2000; o++) {
        timeline_add(&tl, TS_BASE + (int64_t)(logtest_rand(&rnd) % 100000));
    }
    write_timeline(log, 0, &tl);

    cr_assert_eq(log_offset_for_time(log, 0, tl.min, &got), 0);
    cr_assert_eq(got, timeline_first_at(&tl, 0, tl.min));
    cr_assert_eq(log_offset_for_time(log, 0, tl.min - 1, &got), 0);
    cr_assert_eq(got, 0);
    cr_assert_eq(log_offset_for_time(log, 0, INT64_MIN, &got), 0);
    cr_assert_eq(got, 0);

    /* Once retention moved the start, "before everything" is the start. */
    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_gt(report.segments_deleted, 0);
    cr_assert_eq(log_partition_info(log, 0, &info), 0);
    cr_assert_gt(info.start_offset, 0);
    cr_assert_eq(log_offset_for_time(log, 0, INT64_MIN, &got), 0);
    cr_assert_eq(got, info.start_offset);
    cr_assert_eq(log_offset_for_time(log, 0, tl.min - 1, &got), 0);
    cr_assert_eq(got, info.start_offset);
    assert_seeks_match(log, 0, &tl, info.start_offset);
    log_close(log);
    tw_test_rmdir(dir);
}
