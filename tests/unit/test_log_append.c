/*
 * test_log_append.c - appending to the embedded log through the log
 * interface: ordering and dense offsets under concurrency, completions,
 * refused batches, back-pressure, odd record contents and the counters.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/embedded.h"
#include "support/logtest.h"
#include "support/tmpdir.h"

/* ------------------------------------------------ concurrent appends -- */

#define MT_THREADS 6
#define MT_BATCHES 150
#define MT_PARTITIONS 4

/* One async append and what its completion said. */
struct mt_batch {
    uint32_t thread;
    uint32_t seq;
    uint32_t partition;
    uint32_t count;
    struct logtest_waiter *waiter;
    atomic_int calls;
    int status;
    uint64_t first_offset;
    uint32_t completed_count;
    bool had_message;
};

struct mt_thread {
    pthread_t tid;
    struct log *log;
    pthread_barrier_t *start;
    uint32_t index;
    struct mt_batch *batches;
    int append_rc;
};

static void mt_batch_cb(void *ctx, int status, uint64_t first_offset,
                        uint32_t count, const char *message)
{
    struct mt_batch *b = ctx;

    b->status = status;
    b->first_offset = first_offset;
    b->completed_count = count;
    b->had_message = message != NULL;
    atomic_fetch_add(&b->calls, 1);
    logtest_waiter_cb(b->waiter, status, first_offset, count, message);
}

static void mt_value(char *buf, size_t size, uint32_t thread, uint32_t seq,
                     uint32_t record)
{
    snprintf(buf, size, "t%u-b%u-r%u", thread, seq, record);
}

static void *mt_appender(void *arg)
{
    struct mt_thread *t = arg;
    uint64_t rnd = 0x9e3779b97f4a7c15ULL ^ (t->index + 1);

    pthread_barrier_wait(t->start);
    for (uint32_t s = 0; s < MT_BATCHES; s++) {
        struct mt_batch *b = &t->batches[s];
        struct log_record recs[4];
        char values[4][48];

        b->partition = (uint32_t)(logtest_rand(&rnd) % MT_PARTITIONS);
        b->count = 1 + (uint32_t)(logtest_rand(&rnd) % 4);
        for (uint32_t r = 0; r < b->count; r++) {
            mt_value(values[r], sizeof(values[r]), t->index, s, r);
            recs[r] = (struct log_record){
                .timestamp_ms = 1700000000000 + s,
                .key = "k",
                .key_len = 1,
                .value = values[r],
                .value_len = (uint32_t)strlen(values[r]),
            };
        }
        int rc =
            log_append(t->log, b->partition, recs, b->count, mt_batch_cb, b);
        if (rc < 0 && t->append_rc == 0) {
            t->append_rc = rc;
        }
    }
    return NULL;
}

static int compare_by_offset(const void *a, const void *b)
{
    const struct mt_batch *x = *(const struct mt_batch *const *)a;
    const struct mt_batch *y = *(const struct mt_batch *const *)b;

    return (x->first_offset > y->first_offset) -
           (x->first_offset < y->first_offset);
}

/* Offsets of one partition are 0.. with no hole and no overlap. */
static void mt_check_dense(struct mt_batch **sorted, size_t n, uint64_t end)
{
    uint64_t next = 0;

    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(sorted[i]->first_offset, next,
                     "batch t%u-b%u starts at %" PRIu64 ", expected %" PRIu64,
                     sorted[i]->thread, sorted[i]->seq, sorted[i]->first_offset,
                     next);
        next += sorted[i]->count;
    }
    cr_assert_eq(next, end,
                 "partition ends at %" PRIu64 ", batches cover "
                 "%" PRIu64,
                 end, next);
}

/* Each thread's batches to one partition got offsets in call order. */
static void mt_check_thread_order(struct mt_thread *threads, uint32_t p)
{
    for (uint32_t t = 0; t < MT_THREADS; t++) {
        uint64_t last = 0;
        bool any = false;

        for (uint32_t s = 0; s < MT_BATCHES; s++) {
            struct mt_batch *b = &threads[t].batches[s];

            if (b->partition != p) {
                continue;
            }
            cr_assert(!any || b->first_offset > last,
                      "thread %u: batch %u got offset %" PRIu64 " after an "
                      "earlier call got %" PRIu64,
                      t, s, b->first_offset, last);
            last = b->first_offset;
            any = true;
        }
    }
}

/* The records stored are the ones each batch sent, at its offsets. */
static void mt_check_contents(struct log *log, uint32_t p,
                              struct mt_batch **sorted, size_t n)
{
    struct logtest_records recs;
    char value[48];

    logtest_read_all(log, p, 0, &recs);
    for (size_t i = 0; i < n; i++) {
        for (uint32_t r = 0; r < sorted[i]->count; r++) {
            uint64_t off = sorted[i]->first_offset + r;

            cr_assert_lt(off, recs.count);
            mt_value(value, sizeof(value), sorted[i]->thread, sorted[i]->seq,
                     r);
            cr_assert(logtest_value_is(&recs.items[off], value),
                      "offset %" PRIu64 " does not hold %s", off, value);
        }
    }
    logtest_records_free(&recs);
}

Test(log_append, batches_from_many_threads_keep_call_order_and_dense_offsets)
{
    char *dir = tw_test_tmpdir();
    static struct mt_thread threads[MT_THREADS];
    static struct mt_batch batches[MT_THREADS][MT_BATCHES];
    static struct mt_batch *sorted[MT_THREADS * MT_BATCHES];
    struct logtest_waiter waiter;
    struct log_options opts;
    pthread_barrier_t start;
    struct log_stats st;
    struct log *log;

    logtest_options(&opts, dir, MT_PARTITIONS, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_waiter_init(&waiter);
    pthread_barrier_init(&start, NULL, MT_THREADS);
    for (uint32_t t = 0; t < MT_THREADS; t++) {
        for (uint32_t s = 0; s < MT_BATCHES; s++) {
            batches[t][s] =
                (struct mt_batch){.thread = t, .seq = s, .waiter = &waiter};
        }
        threads[t] = (struct mt_thread){
            .log = log, .start = &start, .index = t, .batches = batches[t]};
        cr_assert_eq(
            pthread_create(&threads[t].tid, NULL, mt_appender, &threads[t]), 0);
    }
    for (uint32_t t = 0; t < MT_THREADS; t++) {
        pthread_join(threads[t].tid, NULL);
        cr_assert_eq(threads[t].append_rc, 0, "thread %u: append refused", t);
    }
    logtest_waiter_await(&waiter, MT_THREADS * MT_BATCHES);
    cr_assert_eq(waiter.failed, 0);

    uint64_t records = 0;
    for (uint32_t t = 0; t < MT_THREADS; t++) {
        for (uint32_t s = 0; s < MT_BATCHES; s++) {
            struct mt_batch *b = &batches[t][s];

            cr_assert_eq(atomic_load(&b->calls), 1);
            cr_assert_eq(b->status, 0);
            cr_assert_eq(b->completed_count, b->count);
            cr_assert(!b->had_message);
            records += b->count;
        }
    }
    for (uint32_t p = 0; p < MT_PARTITIONS; p++) {
        struct log_partition_info info;
        size_t n = 0;

        for (uint32_t t = 0; t < MT_THREADS; t++) {
            for (uint32_t s = 0; s < MT_BATCHES; s++) {
                if (batches[t][s].partition == p) {
                    sorted[n++] = &batches[t][s];
                }
            }
        }
        qsort(sorted, n, sizeof(*sorted), compare_by_offset);
        cr_assert_eq(log_partition_info(log, p, &info), 0);
        cr_assert_eq(info.start_offset, 0);
        mt_check_dense(sorted, n, info.end_offset);
        mt_check_thread_order(threads, p);
        mt_check_contents(log, p, sorted, n);
    }

    log_stats(log, &st);
    cr_assert_eq(st.appends, MT_THREADS * MT_BATCHES);
    cr_assert_eq(st.append_records, records);
    cr_assert_eq(st.append_failures, 0);
    cr_assert_gt(st.write_groups, 0);
    cr_assert_leq(st.write_groups, st.appends);
    log_close(log);
    pthread_barrier_destroy(&start);
    logtest_waiter_destroy(&waiter);
    tw_test_rmdir(dir);
}

/* ------------------------------------------------------ completions -- */

struct completion {
    atomic_int calls;
    int status;
    uint64_t first_offset;
    uint32_t count;
    bool had_message;
    struct logtest_waiter *waiter;
};

static void completion_cb(void *ctx, int status, uint64_t first_offset,
                          uint32_t count, const char *message)
{
    struct completion *c = ctx;

    c->status = status;
    c->first_offset = first_offset;
    c->count = count;
    c->had_message = message != NULL;
    atomic_fetch_add(&c->calls, 1);
    if (c->waiter != NULL) {
        logtest_waiter_cb(c->waiter, status, first_offset, count, message);
    }
}

Test(log_append, each_async_completion_runs_once_with_its_offsets_and_count)
{
    char *dir = tw_test_tmpdir();
    struct completion done[40];
    struct logtest_waiter waiter;
    struct log_options opts;
    struct log_record recs[7];
    struct log *log;
    uint64_t expect = 0;

    memset(done, 0, sizeof(done));
    for (size_t r = 0; r < 7; r++) {
        recs[r] = (struct log_record){
            .timestamp_ms = 5, .value = "v", .value_len = 1};
    }
    logtest_options(&opts, dir, 2, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_waiter_init(&waiter);
    for (size_t i = 0; i < 40; i++) {
        done[i].waiter = &waiter;
        cr_assert_eq(
            log_append(log, 1, recs, 1 + i % 7, completion_cb, &done[i]), 0,
            "%s", tw_err_message());
    }
    logtest_waiter_await(&waiter, 40);
    log_close(log);

    /* After close nothing runs again: each count is still exactly one. */
    for (size_t i = 0; i < 40; i++) {
        cr_assert_eq(atomic_load(&done[i].calls), 1, "batch %zu", i);
        cr_assert_eq(done[i].status, 0);
        cr_assert(!done[i].had_message);
        cr_assert_eq(done[i].first_offset, expect, "batch %zu", i);
        cr_assert_eq(done[i].count, 1 + i % 7);
        expect += 1 + i % 7;
    }
    logtest_waiter_destroy(&waiter);
    tw_test_rmdir(dir);
}

/* Appends nothing else happens to; the partition must stay empty. */
static void assert_partition_empty(struct log *log, uint32_t p)
{
    struct log_partition_info info;

    cr_assert_eq(log_partition_info(log, p, &info), 0);
    cr_assert_eq(info.end_offset, 0);
}

Test(log_append, an_empty_batch_is_refused_with_einval_and_no_callback)
{
    char *dir = tw_test_tmpdir();
    struct completion done;
    struct log_options opts;
    struct log_record rec = {.value = "x", .value_len = 1};
    struct log_stats st;
    struct log *log;

    memset(&done, 0, sizeof(done));
    logtest_options(&opts, dir, 2, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    cr_assert_eq(log_append(log, 0, &rec, 0, completion_cb, &done), TW_EINVAL);
    cr_assert_eq(log_append(log, 0, NULL, 0, completion_cb, &done), TW_EINVAL);
    cr_assert_eq(log_append_wait(log, 0, &rec, 0, NULL), TW_EINVAL);
    assert_partition_empty(log, 0);
    log_stats(log, &st);
    cr_assert_eq(st.appends, 0);
    log_close(log);
    cr_assert_eq(atomic_load(&done.calls), 0);
    tw_test_rmdir(dir);
}

Test(log_append, a_batch_for_a_missing_partition_is_refused_without_callback)
{
    char *dir = tw_test_tmpdir();
    struct completion done;
    struct log_options opts;
    struct log_record rec = {.value = "x", .value_len = 1};
    struct log *log;

    memset(&done, 0, sizeof(done));
    logtest_options(&opts, dir, 2, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    cr_assert_eq(log_append(log, 2, &rec, 1, completion_cb, &done), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "partition 2") != NULL, "message: %s",
              tw_err_message());
    cr_assert_eq(log_append(log, UINT32_MAX, &rec, 1, completion_cb, &done),
                 TW_EINVAL);
    assert_partition_empty(log, 0);
    assert_partition_empty(log, 1);
    log_close(log);
    cr_assert_eq(atomic_load(&done.calls), 0);
    tw_test_rmdir(dir);
}

Test(log_append, a_batch_over_max_batch_bytes_is_refused_with_a_message)
{
    char *dir = tw_test_tmpdir();
    static char big[5000];
    struct log_record many[300];
    struct completion done;
    struct log_options opts;
    struct log_record rec = {.value = big, .value_len = sizeof(big)};
    struct log *log;

    memset(&done, 0, sizeof(done));
    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    opts.max_batch_bytes = 4096;
    log = logtest_open(&opts, NULL);

    cr_assert_eq(log_append(log, 0, &rec, 1, completion_cb, &done), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "4096") != NULL, "message: %s",
              tw_err_message());

    /* Small records that only together exceed the limit. */
    for (size_t i = 0; i < 300; i++) {
        many[i] = (struct log_record){.value = big, .value_len = 8};
    }
    cr_assert_eq(log_append(log, 0, many, 300, completion_cb, &done),
                 TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "exceeds") != NULL, "message: %s",
              tw_err_message());
    assert_partition_empty(log, 0);
    log_close(log);
    cr_assert_eq(atomic_load(&done.calls), 0);
    tw_test_rmdir(dir);
}

Test(log_append, a_batch_of_exactly_max_batch_bytes_is_accepted)
{
    char *dir = tw_test_tmpdir();
    static char big[4096];
    struct logtest_records recs;
    struct log_options opts;
    struct log_record rec = {.timestamp_ms = 1, .value = big};
    struct log *log;

    memset(big, 'a', sizeof(big));
    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    opts.max_batch_bytes = 4096;
    log = logtest_open(&opts, NULL);

    /* Batch header 56 bytes, record header 16: 4024 value bytes fit. */
    rec.value_len = 4096 - 56 - 16;
    cr_assert_eq(logtest_append(log, 0, &rec, 1), 0);
    rec.value_len++;
    cr_assert_eq(log_append_wait(log, 0, &rec, 1, NULL), TW_EINVAL);
    logtest_read_all(log, 0, 0, &recs);
    cr_assert_eq(recs.count, 1);
    cr_assert_eq(recs.items[0].value_len, 4096 - 56 - 16);
    logtest_records_free(&recs);
    log_close(log);
    tw_test_rmdir(dir);
}

/* ---------------------------------------------------- back-pressure -- */

Test(log_append, appends_beyond_max_pending_bytes_get_efull_while_writer_busy)
{
    char *dir = tw_test_tmpdir();
    static char payload[3000];
    struct completion done[20];
    struct logtest_waiter waiter;
    struct logtest_gate gate;
    struct log_options opts;
    struct log_record small = {
        .timestamp_ms = 1, .value = "first", .value_len = 5};
    struct log_record rec = {
        .timestamp_ms = 2, .value = payload, .value_len = sizeof(payload)};
    struct log_stats st;
    struct log *log;
    uint32_t accepted = 0;
    uint32_t full = 0;
    bool taken[20] = {false};

    memset(done, 0, sizeof(done));
    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    opts.max_pending_bytes = 8192;
    log = logtest_open(&opts, NULL);
    logtest_waiter_init(&waiter);
    logtest_gate_init(&gate);

    /* The writer stays inside the first completion: nothing drains. */
    cr_assert_eq(log_append(log, 0, &small, 1, logtest_gate_cb, &gate), 0);
    logtest_gate_await_entered(&gate);
    for (size_t i = 0; i < 20; i++) {
        done[i].waiter = &waiter;
        int rc = log_append(log, 0, &rec, 1, completion_cb, &done[i]);

        if (rc == TW_EFULL) {
            full++;
            cr_assert(strstr(tw_err_message(), "8192") != NULL, "message: %s",
                      tw_err_message());
        } else {
            cr_assert_eq(rc, 0, "%s", tw_err_message());
            taken[i] = true;
            accepted++;
        }
    }
    log_stats(log, &st);
    cr_assert_geq(full, 1);
    cr_assert_geq(accepted, 1);
    cr_assert_eq(st.rejected_full, full);
    cr_assert_eq(st.appends, 1 + accepted);
    cr_assert_leq(st.pending_bytes, opts.max_pending_bytes);

    logtest_gate_open(&gate);
    logtest_waiter_await(&waiter, accepted);
    for (size_t i = 0; i < 20; i++) {
        cr_assert_eq(atomic_load(&done[i].calls), taken[i] ? 1 : 0);
        cr_assert_eq(done[i].status, 0);
    }

    /* Once the queue drained, appends are taken again. */
    cr_assert_eq(logtest_append(log, 0, &rec, 1), 1 + accepted);
    log_stats(log, &st);
    cr_assert_eq(st.pending_bytes, 0);
    cr_assert_eq(st.pending_batches, 0);
    cr_assert_eq(st.rejected_full, full);
    log_close(log);
    cr_assert_eq(gate.status, 0);
    logtest_gate_destroy(&gate);
    logtest_waiter_destroy(&waiter);
    tw_test_rmdir(dir);
}

Test(log_append, a_producer_waiting_for_each_append_is_never_refused_as_full)
{
    char *dir = tw_test_tmpdir();
    static char payload[5000];
    struct log_options opts;
    struct log_record rec = {
        .timestamp_ms = 3, .value = payload, .value_len = sizeof(payload)};
    struct log_stats st;
    struct log *log;

    /* One batch in flight at a time, each over half the limit: the one
     * before it has completed, so nothing waits for the disk. */
    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    opts.max_pending_bytes = 8192;
    log = logtest_open(&opts, NULL);
    for (uint64_t i = 0; i < 50; i++) {
        cr_assert_eq(logtest_append(log, 0, &rec, 1), i);
        log_stats(log, &st);
        cr_assert_eq(st.pending_bytes, 0,
                     "append %" PRIu64 " completed "
                     "but %" PRIu64 " bytes still count as pending",
                     i, st.pending_bytes);
    }
    log_stats(log, &st);
    cr_assert_eq(st.rejected_full, 0);
    log_close(log);
    tw_test_rmdir(dir);
}

Test(log_append, a_batch_over_max_pending_bytes_is_taken_when_nothing_waits)
{
    char *dir = tw_test_tmpdir();
    static char payload[20000];
    struct logtest_records recs;
    struct log_options opts;
    struct log_record rec = {
        .timestamp_ms = 4, .value = payload, .value_len = sizeof(payload)};
    struct log *log;

    /* Refusing it would refuse it forever: it can only ever go alone. */
    memset(payload, 'p', sizeof(payload));
    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    opts.max_pending_bytes = 4096;
    log = logtest_open(&opts, NULL);
    cr_assert_eq(logtest_append(log, 0, &rec, 1), 0);
    cr_assert_eq(logtest_append(log, 0, &rec, 1), 1);
    logtest_read_all(log, 0, 0, &recs);
    cr_assert_eq(recs.count, 2);
    cr_assert_eq(recs.items[1].value_len, sizeof(payload));
    logtest_records_free(&recs);
    log_close(log);
    tw_test_rmdir(dir);
}

/* ------------------------------------------------- group commit ----- */

#define GROUP_THREADS 8
#define GROUP_BATCHES 25

struct group_thread {
    pthread_t tid;
    struct log *log;
    uint32_t index;
    struct logtest_waiter *waiter;
    int append_rc;
};

static void *group_appender(void *arg)
{
    struct group_thread *t = arg;
    char value[32];

    for (uint32_t s = 0; s < GROUP_BATCHES; s++) {
        snprintf(value, sizeof(value), "t%u-%u", t->index, s);
        struct log_record rec = {.timestamp_ms = s,
                                 .value = value,
                                 .value_len = (uint32_t)strlen(value)};
        int rc = log_append(t->log, t->index % 4, &rec, 1, logtest_waiter_cb,
                            t->waiter);

        if (rc < 0 && t->append_rc == 0) {
            t->append_rc = rc;
        }
    }
    return NULL;
}

Test(log_append, appends_queued_while_the_writer_is_busy_share_one_group)
{
    char *dir = tw_test_tmpdir();
    struct group_thread threads[GROUP_THREADS];
    struct logtest_waiter waiter;
    struct logtest_gate gate;
    struct log_options opts;
    struct log_record first = {.value = "gate", .value_len = 4};
    struct log_stats st;
    struct log *log;

    logtest_options(&opts, dir, 4, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_waiter_init(&waiter);
    logtest_gate_init(&gate);
    cr_assert_eq(log_append(log, 0, &first, 1, logtest_gate_cb, &gate), 0);
    logtest_gate_await_entered(&gate);

    for (uint32_t t = 0; t < GROUP_THREADS; t++) {
        threads[t] =
            (struct group_thread){.log = log, .index = t, .waiter = &waiter};
        cr_assert_eq(
            pthread_create(&threads[t].tid, NULL, group_appender, &threads[t]),
            0);
    }
    for (uint32_t t = 0; t < GROUP_THREADS; t++) {
        pthread_join(threads[t].tid, NULL);
        cr_assert_eq(threads[t].append_rc, 0);
    }
    logtest_gate_open(&gate);
    logtest_waiter_await(&waiter, GROUP_THREADS * GROUP_BATCHES);
    cr_assert_eq(waiter.failed, 0);

    /* One group for the gate's batch, one for everything queued behind. */
    log_stats(log, &st);
    cr_assert_eq(st.appends, 1 + GROUP_THREADS * GROUP_BATCHES);
    cr_assert_eq(st.write_groups, 2, "%" PRIu64 " groups", st.write_groups);
    cr_assert_leq(st.syncs, 1 + 4,
                  "one sync per partition and group, not "
                  "%" PRIu64,
                  st.syncs);
    for (uint32_t p = 0; p < 4; p++) {
        struct log_partition_info info;

        cr_assert_eq(log_partition_info(log, p, &info), 0);
        cr_assert_eq(info.end_offset,
                     (p == 0 ? 1 : 0) + GROUP_BATCHES * (GROUP_THREADS / 4));
    }
    log_close(log);
    logtest_gate_destroy(&gate);
    logtest_waiter_destroy(&waiter);
    tw_test_rmdir(dir);
}

Test(log_append, a_group_larger_than_one_write_call_is_stored_whole_in_order)
{
    char *dir = tw_test_tmpdir();
    struct logtest_records recs;
    struct logtest_waiter waiter;
    struct logtest_gate gate;
    struct log_options opts;
    struct log_record first = {.value = "gate", .value_len = 4};
    struct log_stats st;
    struct log *log;
    char value[32];

    /* More batches than one pwritev takes (1024), in one group. */
    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    logtest_waiter_init(&waiter);
    logtest_gate_init(&gate);
    cr_assert_eq(log_append(log, 0, &first, 1, logtest_gate_cb, &gate), 0);
    logtest_gate_await_entered(&gate);
    for (uint32_t i = 1; i <= 2500; i++) {
        snprintf(value, sizeof(value), "batch %u", i);
        struct log_record rec = {.timestamp_ms = i,
                                 .value = value,
                                 .value_len = (uint32_t)strlen(value)};

        cr_assert_eq(log_append(log, 0, &rec, 1, logtest_waiter_cb, &waiter), 0,
                     "%s", tw_err_message());
    }
    logtest_gate_open(&gate);
    logtest_waiter_await(&waiter, 2500);
    cr_assert_eq(waiter.failed, 0);
    log_stats(log, &st);
    cr_assert_eq(st.write_groups, 2);

    logtest_read_all(log, 0, 0, &recs);
    cr_assert_eq(recs.count, 2501);
    for (uint32_t i = 1; i <= 2500; i++) {
        snprintf(value, sizeof(value), "batch %u", i);
        cr_assert(logtest_value_is(&recs.items[i], value), "offset %u", i);
    }
    logtest_records_free(&recs);
    log_close(log);
    logtest_gate_destroy(&gate);
    logtest_waiter_destroy(&waiter);
    tw_test_rmdir(dir);
}

/* ------------------------------------------------ record contents ---- */

Test(log_append, empty_keys_and_values_and_binary_bytes_round_trip)
{
    char *dir = tw_test_tmpdir();
    static uint8_t all_bytes[256];
    static uint8_t large[100000];
    const uint8_t key_nul[] = {0, 'k', 0, 0xff};
    struct logtest_records before;
    struct logtest_records after;
    struct log_options opts;
    struct log *log;
    uint64_t rnd = 42;

    for (int i = 0; i < 256; i++) {
        all_bytes[i] = (uint8_t)i;
    }
    for (size_t i = 0; i < sizeof(large); i++) {
        large[i] = (uint8_t)logtest_rand(&rnd);
    }
    struct log_record recs[] = {
        {.timestamp_ms = 0},
        {.timestamp_ms = -1, .key = key_nul, .key_len = sizeof(key_nul)},
        {.timestamp_ms = INT64_MAX, .value = all_bytes, .value_len = 256},
        {.timestamp_ms = INT64_MIN,
         .key = all_bytes,
         .key_len = 256,
         .value = key_nul,
         .value_len = sizeof(key_nul)},
        {.timestamp_ms = 7,
         .key = "",
         .key_len = 0,
         .value = large,
         .value_len = sizeof(large)},
    };
    size_t n = sizeof(recs) / sizeof(recs[0]);

    logtest_options(&opts, dir, 1, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    cr_assert_eq(logtest_append(log, 0, recs, n), 0);
    cr_assert_eq(logtest_append(log, 0, &recs[1], 1), n);
    logtest_read_all(log, 0, 0, &before);
    cr_assert_eq(before.count, n + 1);
    for (size_t i = 0; i <= n; i++) {
        const struct log_record *want = &recs[i < n ? i : 1];
        const struct logtest_record *got = &before.items[i];

        cr_assert_eq(got->timestamp_ms, want->timestamp_ms, "record %zu", i);
        cr_assert_eq(got->key_len, want->key_len, "record %zu", i);
        cr_assert_eq(got->value_len, want->value_len, "record %zu", i);
        cr_assert(got->key_len == 0 ||
                  memcmp(got->key, want->key, got->key_len) == 0);
        cr_assert(got->value_len == 0 ||
                  memcmp(got->value, want->value, got->value_len) == 0);
    }
    log_close(log);

    log = logtest_open(&opts, NULL);
    logtest_read_all(log, 0, 0, &after);
    logtest_assert_same_records(&before, &after);
    logtest_records_free(&before);
    logtest_records_free(&after);
    log_close(log);
    tw_test_rmdir(dir);
}

/* --------------------------------------------------------- counters -- */

Test(log_append, stats_count_appends_records_bytes_and_syncs)
{
    char *dir = tw_test_tmpdir();
    struct log_options opts;
    struct log_stats st;
    struct log *log;
    uint64_t records = 0;
    uint64_t data_bytes = 0;
    char value[64];

    logtest_options(&opts, dir, 3, LOG_DURABILITY_FSYNC);
    log = logtest_open(&opts, NULL);
    for (uint32_t i = 0; i < 30; i++) {
        struct log_record recs[5];
        uint32_t n = 1 + i % 5;

        snprintf(value, sizeof(value), "value number %u", i);
        for (uint32_t r = 0; r < n; r++) {
            recs[r] = (struct log_record){.timestamp_ms = i,
                                          .key = "key",
                                          .key_len = 3,
                                          .value = value,
                                          .value_len = (uint32_t)strlen(value)};
        }
        logtest_append(log, i % 3, recs, n);
        records += n;
    }

    log_stats(log, &st);
    cr_assert_eq(st.appends, 30);
    cr_assert_eq(st.append_records, records);
    cr_assert_eq(st.append_failures, 0);
    cr_assert_eq(st.rejected_full, 0);
    cr_assert_gt(st.syncs, 0);
    cr_assert_gt(st.write_groups, 0);
    cr_assert_leq(st.write_groups, st.appends);
    cr_assert_eq(st.pending_bytes, 0);
    cr_assert_eq(st.pending_batches, 0);

    /* What was handed to the disk is what the segments hold past their
     * headers. */
    for (uint32_t p = 0; p < 3; p++) {
        struct log_partition_info info;

        cr_assert_eq(log_partition_info(log, p, &info), 0);
        data_bytes += info.bytes - 64u * info.segments;
    }
    cr_assert_eq(st.bytes_written, data_bytes);
    log_close(log);
    tw_test_rmdir(dir);
}
