/*
 * test_log_durability.c - the durability policies as seen through the
 * counters and a reopen, their names, and the rules for opening a log:
 * partition count, one writer at a time, read-only inspection.
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

#define VALUE_LEN 80
#define TS_BASE 1700000000000

/* Appends in two partitions, reads back, reopens, reads back again. */
static void policy_round_trip(enum log_durability durability)
{
    char *dir = tw_test_tmpdir();
    struct logtest_records before[2];
    struct logtest_records after[2];
    struct log_options opts;
    struct log *log;

    logtest_options(&opts, dir, 2, durability);
    opts.interval_ms = 50;
    opts.segment_max_bytes = 8 * 1024;
    log = logtest_open(&opts, NULL);
    for (uint32_t p = 0; p < 2; p++) {
        logtest_append_numbered(log, p, 300, 7, VALUE_LEN, TS_BASE, 1);
        logtest_read_all(log, p, 0, &before[p]);
        cr_assert_eq(before[p].count, 300);
        for (size_t i = 0; i < before[p].count; i++) {
            logtest_assert_numbered(&before[p].items[i], p, VALUE_LEN, TS_BASE,
                                    1);
        }
    }
    log_close(log);

    log = logtest_open(&opts, NULL);
    for (uint32_t p = 0; p < 2; p++) {
        logtest_read_all(log, p, 0, &after[p]);
        logtest_assert_same_records(&before[p], &after[p]);
        logtest_records_free(&before[p]);
        logtest_records_free(&after[p]);
    }

    /* Appends after the reopen continue the offsets. */
    cr_assert_eq(logtest_append_one(log, 1, TS_BASE, "k", "next"), 300);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_durability, the_fsync_policy_appends_reads_back_and_reopens)
{
    policy_round_trip(LOG_DURABILITY_FSYNC);
}

Test(log_durability, the_interval_policy_appends_reads_back_and_reopens)
{
    policy_round_trip(LOG_DURABILITY_INTERVAL);
}

Test(log_durability, the_none_policy_appends_reads_back_and_reopens)
{
    policy_round_trip(LOG_DURABILITY_NONE);
}

Test(log_durability, under_fsync_every_append_is_synced_before_completion)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log_stats st;
    struct log *log;
    uint64_t last = 0;

    logtest_options(&opts, dir, 2, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    for (int i = 0; i < 20; i++) {
        logtest_append_one(log, (uint32_t)i % 2, TS_BASE + i, "k", "v");
        log_stats(log, &st);
        cr_assert_gt(st.syncs, last, "append %d completed without a sync", i);
        last = st.syncs;
    }
    cr_assert_geq(st.syncs, 20);
    cr_assert_gt(st.sync_ns_total, 0);
    log_close(log);
    tw_test_rmdir(dir);
}

/* What a completion saw of the sync counter, under the interval policy. */
struct interval_probe {
    struct log *log;
    struct logtest_waiter waiter;
    uint64_t syncs_at_completion;
    int status;
};

static void interval_probe_cb(void *ctx, int status, uint64_t first_offset,
                              uint32_t count, const char *message)
{
    struct interval_probe *probe = ctx;
    struct log_stats st;

    log_stats(probe->log, &st);
    probe->syncs_at_completion = st.syncs;
    probe->status = status;
    logtest_waiter_cb(&probe->waiter, status, first_offset, count, message);
}

struct syncs_above {
    struct log *log;
    uint64_t floor;
};

static bool syncs_grew(void *ctx)
{
    struct syncs_above *s = ctx;
    struct log_stats st;

    log_stats(s->log, &st);
    return st.syncs > s->floor;
}

Test(log_durability, under_interval_a_sync_follows_the_completion_in_time)
{
    char *dir = tw_test_tmpdir();
    struct interval_probe probe = {0};
    struct log_record rec = {
        .timestamp_ms = TS_BASE, .value = "soon", .value_len = 4};
    struct syncs_above cond;
    struct log_options opts;
    struct log_stats st;
    struct log *log;
    int64_t completed;
    int64_t waited;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_INTERVAL);
    opts.interval_ms = 50;
    log = logtest_open(&opts, NULL);
    probe.log = log;
    logtest_waiter_init(&probe.waiter);

    for (int round = 0; round < 3; round++) {
        log_stats(log, &st);
        cr_assert_eq(log_append(log, 0, &rec, 1, interval_probe_cb, &probe), 0);
        logtest_waiter_await(&probe.waiter, (uint64_t)round + 1);
        completed = logtest_mono_ms();
        cr_assert_eq(probe.status, 0);
        cr_assert_eq(probe.syncs_at_completion, st.syncs,
                     "round %d: the append was synced before it completed",
                     round);

        /* Bounded generously: the policy says one interval. */
        cond = (struct syncs_above){.log = log, .floor = st.syncs};
        cr_assert(logtest_eventually(syncs_grew, &cond, 20 * 50),
                  "round %d: no sync within 20 intervals", round);
        waited = logtest_mono_ms() - completed;
        cr_assert_leq(waited, 20 * 50);
    }
    log_close(log);
    logtest_waiter_destroy(&probe.waiter);
    tw_test_rmdir(dir);
}

Test(log_durability, under_none_appends_never_sync_data)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log_stats st;
    struct log *log;

    logtest_options(&opts, dir, 2, LOG_DURABILITY_NONE);
    opts.segment_max_bytes = 8 * 1024;
    log = logtest_open(&opts, NULL);
    for (uint32_t p = 0; p < 2; p++) {
        logtest_append_numbered(log, p, 400, 4, VALUE_LEN, TS_BASE, 1);
    }
    log_stats(log, &st);
    cr_assert_eq(st.syncs, 0, "%" PRIu64 " syncs", st.syncs);
    cr_assert_eq(st.sync_ns_total, 0);
    cr_assert_gt(st.segments_rolled, 0);
    cr_assert_eq(st.appends, 200);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_durability, policy_names_parse_and_print_round_trip)
{
    const enum log_durability all[] = {
        LOG_DURABILITY_FSYNC, LOG_DURABILITY_INTERVAL, LOG_DURABILITY_NONE};

    for (size_t i = 0; i < 3; i++) {
        const char *name = log_durability_name(all[i]);

        cr_assert_not_null(name);
        cr_assert_eq(log_durability_parse(name), (int)all[i], "%s", name);
    }
    cr_assert_str_eq(log_durability_name(LOG_DURABILITY_FSYNC), "fsync");
    cr_assert_str_eq(log_durability_name(LOG_DURABILITY_INTERVAL), "interval");
    cr_assert_str_eq(log_durability_name(LOG_DURABILITY_NONE), "none");
    cr_assert_eq(log_durability_parse("always"), -1);
    cr_assert_eq(log_durability_parse(""), -1);
    cr_assert_eq(log_durability_parse("FSYNC"), -1);
    cr_assert_eq(log_durability_parse("fsync "), -1);
    cr_assert_str_eq(log_durability_name((enum log_durability)7), "?");
}

Test(log_durability, opening_with_another_partition_count_is_refused)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log = NULL;

    logtest_options(&opts, dir, 4, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_append_one(log, 3, TS_BASE, "k", "kept");
    log_close(log);

    opts.partitions = 2;
    log = NULL;
    cr_assert_eq(log_embedded_open(&opts, &log, NULL), TW_EINVAL);
    cr_assert_null(log);
    cr_assert(strstr(tw_err_message(), "4 partitions") != NULL, "%s",
              tw_err_message());
    cr_assert(strstr(tw_err_message(), "2") != NULL, "%s", tw_err_message());

    /* Zero takes what is on disk; the data is untouched. */
    opts.partitions = 0;
    log = logtest_open(&opts, NULL);
    cr_assert_eq(log_partitions(log), 4);
    struct logtest_records recs;
    logtest_read_all(log, 3, 0, &recs);
    cr_assert_eq(recs.count, 1);
    cr_assert(logtest_value_is(&recs.items[0], "kept"));
    logtest_records_free(&recs);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_durability, a_second_open_while_open_is_refused_naming_the_pid)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *first;
    struct log *second = NULL;
    char pid[64];

    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    first = logtest_open(&opts, NULL);
    logtest_append_one(first, 0, TS_BASE, "k", "one");

    cr_assert_eq(log_embedded_open(&opts, &second, NULL), TW_EBUSY);
    cr_assert_null(second);
    snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
    cr_assert(strstr(tw_err_message(), pid) != NULL, "%s", tw_err_message());

    /* The refused open left the first handle working. */
    cr_assert_eq(logtest_append_one(first, 0, TS_BASE, "k", "two"), 1);
    log_close(first);

    /* Once closed, the log opens again. */
    second = logtest_open(&opts, NULL);
    cr_assert_eq(logtest_append_one(second, 0, TS_BASE, "k", "three"), 2);
    log_close(second);
    tw_test_rmdir(dir);
}

Test(log_durability, a_read_only_open_sees_the_data_and_refuses_changes)
{
    char *dir = tw_test_tmpdir();
    struct logtest_records written;
    struct logtest_records seen;
    struct log_retention_report report;
    struct log_options opts;
    struct log_options ro_opts;
    struct log_record rec = {.value = "x", .value_len = 1};
    struct log *writer;
    struct log *reader;
    uint64_t got;

    logtest_options(&opts, dir, 2, LOG_DURABILITY_FSYNC);
    opts.segment_max_bytes = 8 * 1024;
    writer = logtest_open(&opts, NULL);
    logtest_append_numbered(writer, 1, 250, 5, VALUE_LEN, TS_BASE, 1);
    cr_assert_eq(log_cursor_commit(writer, "c", 1, 100), 0);

    ro_opts = opts;
    ro_opts.read_only = true;
    ro_opts.partitions = 0;
    ro_opts.retention.max_bytes = 1;
    reader = logtest_open(&ro_opts, NULL);
    cr_assert_eq(log_partitions(reader), 2);
    logtest_read_all(writer, 1, 0, &written);
    logtest_read_all(reader, 1, 0, &seen);
    logtest_assert_same_records(&written, &seen);
    cr_assert_eq(log_offset_for_time(reader, 1, TS_BASE + 120, &got), 0);
    cr_assert_eq(got, 120);
    cr_assert_eq(log_cursor_get(reader, "c", 1, &got), 0);
    cr_assert_eq(got, 100);

    cr_assert_eq(log_append(reader, 1, &rec, 1, NULL, NULL), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "read-only") != NULL, "%s",
              tw_err_message());
    cr_assert_neq(log_cursor_commit(reader, "c", 1, 5), 0);
    cr_assert_eq(log_retention_run(reader, &report), 0);
    cr_assert_eq(report.segments_deleted, 0);
    log_close(reader);

    /* The writer was not disturbed. */
    cr_assert_eq(logtest_append_one(writer, 1, TS_BASE, "k", "more"), 250);
    log_close(writer);
    logtest_records_free(&written);
    logtest_records_free(&seen);
    tw_test_rmdir(dir);
}

Test(log_durability,
     a_read_only_open_of_a_missing_log_fails_and_creates_nothing)
{
    char *dir = tw_test_tmpdir();
    char path[PATH_MAX];
    struct log_options opts;
    struct log *log = NULL;

    snprintf(path, sizeof(path), "%s/absent", dir);
    logtest_options(&opts, path, 1, LOG_DURABILITY_FSYNC);
    opts.read_only = true;
    cr_assert_lt(log_embedded_open(&opts, &log, NULL), 0);
    cr_assert_null(log);
    cr_assert(!logtest_file_exists(path));

    opts.read_only = false;
    opts.create = false;
    cr_assert_lt(log_embedded_open(&opts, &log, NULL), 0);
    cr_assert(!logtest_file_exists(path));
    tw_test_rmdir(dir);
}
