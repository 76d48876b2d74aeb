/*
 * test_log_read.c - reading the embedded log through the log interface:
 * where a reader may start, reading across segments, waiting for records,
 * and reading everything back after a reopen, plain and compressed.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/embedded.h"
#include "log/engine.h"
#include "support/logtest.h"
#include "support/tmpdir.h"

#define VALUE_LEN 100
#define TS_BASE 1700000000000
#define TS_STEP 10

/* Opens a reader at offset and checks the next record is that offset. */
static void assert_first_record_is(struct log *log, uint32_t p, uint64_t offset)
{
    struct log_reader *r;
    struct log_record rec;

    cr_assert_eq(log_reader_open(log, p, offset, &r), 0,
                 "reader at %" PRIu64 ": %s", offset, tw_err_message());
    cr_assert_eq(log_reader_position(r), offset);
    cr_assert_eq(log_reader_next(r, &rec), 1, "reader at %" PRIu64 ": %s",
                 offset, tw_err_message());
    cr_assert_eq(rec.offset, offset);
    cr_assert_eq(log_reader_position(r), offset + 1);

    struct logtest_record copy = {.offset = rec.offset,
                                  .timestamp_ms = rec.timestamp_ms,
                                  .key = (uint8_t *)rec.key,
                                  .key_len = rec.key_len,
                                  .value = (uint8_t *)rec.value,
                                  .value_len = rec.value_len};
    logtest_assert_numbered(&copy, p, VALUE_LEN, TS_BASE, TS_STEP);
    log_reader_close(r);
}

Test(log_read, a_reader_from_offset_zero_returns_every_record_in_order)
{
    char *dir = tw_test_tmpdir();
    struct logtest_records recs;
    struct log_options opts;
    struct log *log;

    logtest_options(&opts, dir, 2, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 1, 37, 8, VALUE_LEN, TS_BASE, TS_STEP);
    logtest_read_all(log, 1, 0, &recs);
    cr_assert_eq(recs.count, 37);
    for (size_t i = 0; i < recs.count; i++) {
        logtest_assert_numbered(&recs.items[i], 1, VALUE_LEN, TS_BASE, TS_STEP);
    }
    logtest_records_free(&recs);

    /* The other partition got nothing. */
    logtest_read_all(log, 0, 0, &recs);
    cr_assert_eq(recs.count, 0);
    logtest_records_free(&recs);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_read, a_reader_in_the_middle_of_a_batch_starts_at_exactly_that_offset)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 50, 10, VALUE_LEN, TS_BASE, TS_STEP);
    for (uint64_t o = 0; o < 50; o++) {
        assert_first_record_is(log, 0, o);
    }
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_read, a_reader_at_the_end_returns_nothing_until_a_record_is_appended)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log_reader *r;
    struct log_record rec;
    struct log *log;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);

    /* An empty partition: its end is offset 0. */
    cr_assert_eq(log_reader_open(log, 0, 0, &r), 0, "%s", tw_err_message());
    cr_assert_eq(log_reader_next(r, &rec), 0);
    log_reader_close(r);

    logtest_append_numbered(log, 0, 12, 4, VALUE_LEN, TS_BASE, TS_STEP);
    cr_assert_eq(log_reader_open(log, 0, 12, &r), 0, "%s", tw_err_message());
    cr_assert_eq(log_reader_next(r, &rec), 0);
    cr_assert_eq(log_reader_next(r, &rec), 0);
    cr_assert_eq(log_reader_position(r), 12);

    cr_assert_eq(logtest_append_one(log, 0, 99, "new", "the new one"), 12);
    cr_assert_eq(log_reader_next(r, &rec), 1, "%s", tw_err_message());
    cr_assert_eq(rec.offset, 12);
    cr_assert_eq(rec.timestamp_ms, 99);
    cr_assert_eq(rec.value_len, strlen("the new one"));
    cr_assert_eq(memcmp(rec.value, "the new one", rec.value_len), 0);
    cr_assert_eq(log_reader_next(r, &rec), 0);
    cr_assert_eq(log_reader_position(r), 13);
    log_reader_close(r);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_read, offsets_before_the_start_or_past_the_end_give_erange)
{
    char *dir = tw_test_tmpdir();
    struct log_retention_report report;
    struct log_partition_info info;
    struct log_options opts;
    struct log_reader *r = NULL;
    struct log *log;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_NONE);
    opts.segment_max_bytes = 16 * 1024;
    opts.retention.max_bytes = 40 * 1024;
    opts.retention.keep_unread = false;
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 1000, 10, VALUE_LEN, TS_BASE, TS_STEP);

    cr_assert_eq(log_reader_open(log, 0, 1001, &r), TW_ERANGE);
    cr_assert(strstr(tw_err_message(), "1001") != NULL, "message: %s",
              tw_err_message());
    cr_assert_eq(log_reader_open(log, 0, UINT64_MAX, &r), TW_ERANGE);
    cr_assert_eq(log_reader_open(log, 1, 0, &r), TW_EINVAL);

    cr_assert_eq(log_retention_run(log, &report), 0);
    cr_assert_gt(report.segments_deleted, 0);
    cr_assert_eq(log_partition_info(log, 0, &info), 0);
    cr_assert_gt(info.start_offset, 0);
    cr_assert_eq(log_reader_open(log, 0, 0, &r), TW_ERANGE);
    cr_assert_eq(log_reader_open(log, 0, info.start_offset - 1, &r), TW_ERANGE);
    assert_first_record_is(log, 0, info.start_offset);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_read, a_reader_crosses_many_small_segments_seamlessly)
{
    char *dir = tw_test_tmpdir();
    struct logtest_records recs;
    struct log_partition_info info;
    struct log_options opts;
    struct log *log;
    uint64_t bases[256];
    size_t n;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_NONE);
    opts.segment_max_bytes = 16 * 1024;
    log = logtest_open(&opts, NULL);
    for (uint32_t b = 1; b <= 9; b++) {
        logtest_append_numbered(log, 0, 333, b, VALUE_LEN, TS_BASE, TS_STEP);
    }
    cr_assert_eq(log_partition_info(log, 0, &info), 0);
    cr_assert_eq(info.end_offset, 2997);
    cr_assert_geq(info.segments, 20, "only %u segments", info.segments);

    logtest_read_all(log, 0, 0, &recs);
    cr_assert_eq(recs.count, 2997);
    for (size_t i = 0; i < recs.count; i++) {
        logtest_assert_numbered(&recs.items[i], 0, VALUE_LEN, TS_BASE, TS_STEP);
    }
    logtest_records_free(&recs);

    /* Readers starting at either side of every segment boundary. */
    n = logtest_segment_bases(dir, 0, bases, 256);
    cr_assert_eq(n, info.segments);
    for (size_t i = 1; i < n; i++) {
        if (bases[i] < info.end_offset) {
            assert_first_record_is(log, 0, bases[i]);
        }
        assert_first_record_is(log, 0, bases[i] - 1);
    }
    logtest_read_all(log, 0, bases[n / 2], &recs);
    cr_assert_eq(recs.count, 2997 - bases[n / 2]);
    logtest_records_free(&recs);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_read, a_reader_at_the_end_follows_new_records_into_new_segments)
{
    char *dir = tw_test_tmpdir();
    struct log_partition_info info;
    struct log_options opts;
    struct log_reader *r;
    struct log_record rec;
    struct log *log;
    uint64_t next = 0;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_NONE);
    opts.segment_max_bytes = 8 * 1024;
    log = logtest_open(&opts, NULL);
    cr_assert_eq(log_reader_open(log, 0, 0, &r), 0);
    for (int round = 0; round < 60; round++) {
        logtest_append_numbered(log, 0, 7, 7, VALUE_LEN, TS_BASE, TS_STEP);
        for (int i = 0; i < 7; i++) {
            cr_assert_eq(log_reader_next(r, &rec), 1, "round %d: %s", round,
                         tw_err_message());
            cr_assert_eq(rec.offset, next);
            next++;
        }
        cr_assert_eq(log_reader_next(r, &rec), 0);
    }
    log_reader_close(r);
    cr_assert_eq(log_partition_info(log, 0, &info), 0);
    cr_assert_gt(info.segments, 5);
    log_close(log);
    tw_test_rmdir(dir);
}

/* ----------------------------------------------------------- waiting -- */

struct waiter_thread {
    pthread_t tid;
    struct log *log;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started;
    int rc;
    int64_t waited_ms;
};

static void *wait_for_record(void *arg)
{
    struct waiter_thread *w = arg;
    int64_t start;

    pthread_mutex_lock(&w->lock);
    w->started = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    start = logtest_mono_ms();
    w->rc = log_wait(w->log, 0, 5, LOGTEST_AWAIT_MS);
    w->waited_ms = logtest_mono_ms() - start;
    return NULL;
}

Test(log_read, log_wait_returns_one_when_another_thread_appends)
{
    char *dir = tw_test_tmpdir();
    struct waiter_thread w = {0};
    struct log_options opts;
    struct log *log;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 5, 5, VALUE_LEN, TS_BASE, TS_STEP);

    w.log = log;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    cr_assert_eq(pthread_create(&w.tid, NULL, wait_for_record, &w), 0);
    pthread_mutex_lock(&w.lock);
    while (!w.started) {
        pthread_cond_wait(&w.cond, &w.lock);
    }
    pthread_mutex_unlock(&w.lock);

    logtest_append_one(log, 0, 1, "k", "wake up");
    pthread_join(w.tid, NULL);
    cr_assert_eq(w.rc, 1);
    cr_assert_lt(w.waited_ms, LOGTEST_AWAIT_MS);
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_read, log_wait_returns_zero_when_nothing_arrives_in_time)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log *log;
    int64_t start;
    int64_t waited;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 3, 3, VALUE_LEN, TS_BASE, TS_STEP);

    start = logtest_mono_ms();
    cr_assert_eq(log_wait(log, 0, 3, 60), 0);
    waited = logtest_mono_ms() - start;
    cr_assert_geq(waited, 50, "returned after %" PRId64 " ms", waited);

    /* Records already there need no waiting. */
    cr_assert_eq(log_wait(log, 0, 2, 0), 1);
    cr_assert_eq(log_wait(log, 0, 0, 60000), 1);
    cr_assert_eq(log_wait(log, 0, 3, 0), 0);
    cr_assert_eq(log_wait(log, 1, 0, 0), TW_EINVAL);
    log_close(log);
    tw_test_rmdir(dir);
}

/* Threads inside log_wait on partition p (the embedded log's count). */
struct inside_wait {
    struct log *log;
    uint32_t partition;
};

static bool someone_waits(void *ctx)
{
    struct inside_wait *w = ctx;
    struct log_partition *p = &log_embedded_of(w->log)->parts[w->partition];
    int waiters;

    pthread_mutex_lock(&p->lock);
    waiters = p->waiters;
    pthread_mutex_unlock(&p->lock);
    return waiters > 0;
}

struct unlimited_waiter {
    pthread_t tid;
    struct log *log;
    uint64_t offset;
    int rc;
    char message[256];
};

static void *wait_without_limit(void *arg)
{
    struct unlimited_waiter *w = arg;

    w->rc = log_wait(w->log, 0, w->offset, -1);
    snprintf(w->message, sizeof(w->message), "%s", tw_err_message());
    return NULL;
}

Test(log_read, log_wait_returns_eclosed_when_the_log_closes_meanwhile,
     .timeout = 30)
{
    char *dir = tw_test_tmpdir();
    struct unlimited_waiter w = {0};
    struct inside_wait inside;
    struct log_options opts;
    struct log *log;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_append_numbered(log, 0, 2, 2, VALUE_LEN, TS_BASE, TS_STEP);
    w.log = log;
    w.offset = 2;
    cr_assert_eq(pthread_create(&w.tid, NULL, wait_without_limit, &w), 0);
    inside = (struct inside_wait){.log = log, .partition = 0};
    cr_assert(logtest_eventually(someone_waits, &inside, LOGTEST_AWAIT_MS));

    log_close(log);
    pthread_join(w.tid, NULL);
    cr_assert_eq(w.rc, TW_ECLOSED, "log_wait returned %d", w.rc);
    cr_assert(strstr(w.message, "closed") != NULL, "%s", w.message);
    tw_test_rmdir(dir);
}

Test(log_read, log_wait_sees_records_appended_just_before_close, .timeout = 30)
{
    char *dir = tw_test_tmpdir();
    struct unlimited_waiter w = {0};
    struct inside_wait inside;
    struct log_options opts;
    struct log_record rec = {
        .timestamp_ms = 1, .value = "last", .value_len = 4};
    struct logtest_waiter done;
    struct log *log;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    w.log = log;
    w.offset = 0;
    cr_assert_eq(pthread_create(&w.tid, NULL, wait_without_limit, &w), 0);
    inside = (struct inside_wait){.log = log, .partition = 0};
    cr_assert(logtest_eventually(someone_waits, &inside, LOGTEST_AWAIT_MS));

    /* Close completes the queued append before sending waiters away. */
    logtest_waiter_init(&done);
    cr_assert_eq(log_append(log, 0, &rec, 1, logtest_waiter_cb, &done), 0);
    log_close(log);
    pthread_join(w.tid, NULL);
    cr_assert_eq(w.rc, 1, "log_wait returned %d: %s", w.rc, w.message);
    cr_assert_eq(done.done, 1);
    cr_assert_eq(done.failed, 0);
    logtest_waiter_destroy(&done);
    tw_test_rmdir(dir);
}

/* ------------------------------------------------------- concurrency -- */

#define FOLLOW_RECORDS 6000

struct follower {
    pthread_t tid;
    struct log *log;
    uint64_t read;
    int rc;
    bool out_of_order;
};

/* Reads with log_wait until every record came, checking each one. */
static void *follow(void *arg)
{
    struct follower *f = arg;
    struct log_reader *r;
    struct log_record rec;
    char want[VALUE_LEN + 1];

    f->rc = log_reader_open(f->log, 0, 0, &r);
    if (f->rc < 0) {
        return NULL;
    }
    while (f->read < FOLLOW_RECORDS) {
        int rc = log_reader_next(r, &rec);

        if (rc == 0) {
            rc = log_wait(f->log, 0, f->read, LOGTEST_AWAIT_MS);
            if (rc != 1) {
                f->rc = rc == 0 ? TW_ERANGE : rc;
                break;
            }
            continue;
        }
        if (rc < 0) {
            f->rc = rc;
            break;
        }
        logtest_numbered_value(want, VALUE_LEN, 0, f->read);
        if (rec.offset != f->read || rec.value_len != VALUE_LEN ||
            memcmp(rec.value, want, VALUE_LEN) != 0) {
            f->out_of_order = true;
            break;
        }
        f->read++;
    }
    log_reader_close(r);
    return NULL;
}

Test(log_read, followers_read_every_record_while_segments_roll_and_retire)
{
    char *dir = tw_test_tmpdir();
    struct follower followers[3];
    struct log_retention_report report;
    struct log_options opts;
    struct log *log;
    uint64_t deleted = 0;

    logtest_options(&opts, dir, 1, LOG_DURABILITY_NONE);
    opts.segment_max_bytes = 8 * 1024;
    opts.retention.max_bytes = 64 * 1024;
    opts.retention.keep_unread = false;
    log = logtest_open(&opts, NULL);
    for (int i = 0; i < 3; i++) {
        followers[i] = (struct follower){.log = log};
        cr_assert_eq(
            pthread_create(&followers[i].tid, NULL, follow, &followers[i]), 0);
    }

    /* Appends and retention passes interleave with the readers. */
    for (uint64_t done = 0; done < FOLLOW_RECORDS; done += 50) {
        uint64_t t;

        logtest_append_numbered(log, 0, 50, 1 + done % 7, VALUE_LEN, TS_BASE,
                                TS_STEP);
        cr_assert_eq(log_retention_run(log, &report), 0);
        deleted += report.segments_deleted;
        cr_assert_eq(log_offset_for_time(log, 0, TS_BASE, &t), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(followers[i].tid, NULL);
        cr_assert_eq(followers[i].rc, 0, "follower %d: %d", i, followers[i].rc);
        cr_assert(!followers[i].out_of_order, "follower %d at %" PRIu64, i,
                  followers[i].read);
        cr_assert_eq(followers[i].read, FOLLOW_RECORDS);
    }

    /* With the readers gone, retention catches up with the budget. */
    cr_assert_eq(log_retention_run(log, &report), 0);
    deleted += report.segments_deleted;
    cr_assert_gt(deleted, 0);
    cr_assert_leq(logtest_total_bytes(log), 64 * 1024 + 8 * 1024);
    log_close(log);
    tw_test_rmdir(dir);
}

struct steady_appender {
    pthread_t tid;
    struct log *log;
    uint64_t count;
    int rc;
};

static void *append_steadily(void *arg)
{
    struct steady_appender *a = arg;
    char value[VALUE_LEN + 1];

    for (uint64_t o = 0; o < a->count && a->rc == 0; o++) {
        logtest_numbered_value(value, VALUE_LEN, 0, o);
        struct log_record rec = {.timestamp_ms = TS_BASE + (int64_t)o,
                                 .value = value,
                                 .value_len = VALUE_LEN};

        a->rc = log_append_wait(a->log, 0, &rec, 1, NULL);
    }
    return NULL;
}

Test(log_read, readers_opened_while_the_active_index_grows_start_right)
{
    char *dir = tw_test_tmpdir();
    struct steady_appender a = {0};
    struct log_partition_info info;
    struct log_options opts;
    struct log_reader *r;
    struct log_record rec;
    struct log *log;
    char want[VALUE_LEN + 1];
    uint64_t rnd = 3;
    uint64_t opened = 0;
    int64_t deadline = logtest_mono_ms() + LOGTEST_AWAIT_MS;

    /* An index entry per batch: the writer grows (and at each roll
     * frees) the active segment's index all the time. */
    logtest_options(&opts, dir, 1, LOG_DURABILITY_NONE);
    opts.index_interval_bytes = 1;
    opts.segment_max_bytes = 32 * 1024;
    log = logtest_open(&opts, NULL);
    a = (struct steady_appender){.log = log, .count = 4000};
    cr_assert_eq(pthread_create(&a.tid, NULL, append_steadily, &a), 0);
    do {
        cr_assert_eq(log_partition_info(log, 0, &info), 0);
        if (info.end_offset == 0) {
            continue;
        }
        uint64_t at = (opened % 2 == 0) ? info.end_offset - 1
                                        : logtest_rand(&rnd) % info.end_offset;

        cr_assert_eq(log_reader_open(log, 0, at, &r), 0, "%s",
                     tw_err_message());
        cr_assert_eq(log_reader_next(r, &rec), 1, "%s", tw_err_message());
        cr_assert_eq(rec.offset, at);
        logtest_numbered_value(want, VALUE_LEN, 0, at);
        cr_assert_eq(memcmp(rec.value, want, VALUE_LEN), 0);
        log_reader_close(r);
        opened++;
    } while (info.end_offset < a.count && logtest_mono_ms() < deadline);
    pthread_join(a.tid, NULL);
    cr_assert_eq(a.rc, 0);
    cr_assert_gt(opened, 0);
    log_close(log);
    tw_test_rmdir(dir);
}

/* ---------------------------------------------------------- reopening -- */

/* Fills three partitions with compressible and with random records. */
static void fill_mixed(struct log *log)
{
    static uint8_t noise[2000];
    char value[300];
    uint64_t rnd = 7;

    for (uint32_t p = 0; p < 3; p++) {
        for (int b = 0; b < 60; b++) {
            struct log_record recs[10];

            for (size_t i = 0; i < sizeof(noise); i++) {
                noise[i] = (uint8_t)logtest_rand(&rnd);
            }
            snprintf(value, sizeof(value),
                     "{\"user\":\"user-%d\",\"event\":"
                     "\"page_view\",\"path\":\"/products/%d\",\"agent\":"
                     "\"Mozilla/5.0 (X11; Linux x86_64)\"}",
                     b % 7, b);
            for (int i = 0; i < 10; i++) {
                bool random = (b + i) % 5 == 0;

                recs[i] = (struct log_record){
                    .timestamp_ms = TS_BASE + b * 10 + i,
                    .key = "session",
                    .key_len = 7,
                    .value = random ? (const void *)(noise + i * 150)
                                    : (const void *)value,
                    .value_len = random ? 150 : (uint32_t)strlen(value)};
            }
            logtest_append(log, p, recs, 10);
        }
    }
}

static void read_back_after_reopen(enum log_compression compression)
{
    char *dir = tw_test_tmpdir();
    struct logtest_records before[3];
    struct logtest_records after[3];
    struct log_partition_info info_before[3];
    struct log_partition_info info_after[3];
    struct log_recovery report;
    struct log_options opts;
    struct log *log;

    logtest_options(&opts, dir, 3, LOG_DURABILITY_NONE);
    opts.compression = compression;
    opts.segment_max_bytes = 16 * 1024;
    log = logtest_open(&opts, NULL);
    fill_mixed(log);
    for (uint32_t p = 0; p < 3; p++) {
        logtest_read_all(log, p, 0, &before[p]);
        cr_assert_eq(before[p].count, 600);
        cr_assert_eq(log_partition_info(log, p, &info_before[p]), 0);
        cr_assert_gt(info_before[p].segments, 1);
    }
    log_close(log);

    log = logtest_open(&opts, &report);
    cr_assert_eq(report.tails_truncated, 0);
    cr_assert_eq(report.damaged_segments, 0);
    for (uint32_t p = 0; p < 3; p++) {
        logtest_read_all(log, p, 0, &after[p]);
        logtest_assert_same_records(&before[p], &after[p]);
        cr_assert_eq(log_partition_info(log, p, &info_after[p]), 0);
        cr_assert_eq(info_after[p].start_offset, info_before[p].start_offset);
        cr_assert_eq(info_after[p].end_offset, info_before[p].end_offset);
        cr_assert_eq(info_after[p].bytes, info_before[p].bytes);
        cr_assert_eq(info_after[p].segments, info_before[p].segments);
        cr_assert_eq(info_after[p].oldest_ms, info_before[p].oldest_ms);
        cr_assert_eq(info_after[p].newest_ms, info_before[p].newest_ms);
        logtest_records_free(&before[p]);
        logtest_records_free(&after[p]);
    }
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_read, a_reopened_log_reads_back_identically)
{
    read_back_after_reopen(LOG_COMPRESSION_NONE);
}

Test(log_read, a_reopened_zstd_log_reads_back_identically)
{
    read_back_after_reopen(LOG_COMPRESSION_ZSTD);
}

/* Writes the same compressible records into a log at path. */
static struct log *open_and_fill_json(const char *path,
                                      enum log_compression compression)
{
    struct log_options opts;
    struct log *log;
    char values[20][200];

    logtest_options(&opts, path, 1, LOG_DURABILITY_NONE);
    opts.compression = compression;
    log = logtest_open(&opts, NULL);
    for (int b = 0; b < 50; b++) {
        struct log_record recs[20];

        for (int i = 0; i < 20; i++) {
            snprintf(values[i], sizeof(values[i]),
                     "{\"tenant\":\"acme\",\"user\":\"user-%d\",\"event\":"
                     "\"add_to_cart\",\"sku\":\"SKU-%04d\",\"qty\":%d}",
                     (b * 20 + i) % 13, (b * 20 + i) % 50, i % 3 + 1);
            recs[i] =
                (struct log_record){.timestamp_ms = TS_BASE + b * 20 + i,
                                    .key = "cart",
                                    .key_len = 4,
                                    .value = values[i],
                                    .value_len = (uint32_t)strlen(values[i])};
        }
        logtest_append(log, 0, recs, 20);
    }
    return log;
}

Test(log_read, zstd_stores_compressible_records_in_fewer_bytes_than_plain)
{
    char *dir = tw_test_tmpdir();
    char plain_dir[PATH_MAX];
    char zstd_dir[PATH_MAX];
    struct logtest_records plain_recs;
    struct logtest_records zstd_recs;
    struct log_partition_info plain_info;
    struct log_partition_info zstd_info;
    struct log *plain;
    struct log *zstd;

    snprintf(plain_dir, sizeof(plain_dir), "%s/plain", dir);
    snprintf(zstd_dir, sizeof(zstd_dir), "%s/zstd", dir);
    plain = open_and_fill_json(plain_dir, LOG_COMPRESSION_NONE);
    zstd = open_and_fill_json(zstd_dir, LOG_COMPRESSION_ZSTD);

    cr_assert_eq(log_partition_info(plain, 0, &plain_info), 0);
    cr_assert_eq(log_partition_info(zstd, 0, &zstd_info), 0);
    cr_assert_eq(plain_info.end_offset, zstd_info.end_offset);
    cr_assert_lt(zstd_info.bytes * 2, plain_info.bytes,
                 "zstd %" PRIu64 " bytes, plain %" PRIu64, zstd_info.bytes,
                 plain_info.bytes);

    logtest_read_all(plain, 0, 0, &plain_recs);
    logtest_read_all(zstd, 0, 0, &zstd_recs);
    cr_assert_eq(plain_recs.count, 1000);
    logtest_assert_same_records(&plain_recs, &zstd_recs);
    logtest_records_free(&plain_recs);
    logtest_records_free(&zstd_recs);
    log_close(plain);
    log_close(zstd);
    tw_test_rmdir(dir);
}
