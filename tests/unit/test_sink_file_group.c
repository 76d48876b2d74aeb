/*
 * test_sink_file_group.c - the file sink's group commit: batches sent
 * while a write and sync run share the next fdatasync, complete only once
 * that sync returned, land in the file whole and in the order they were
 * sent, and fail together (every one SINK_RETRY, none of their lines
 * left) when the group's write or sync fails. Also: a group that reaches
 * max_bytes syncs the old file before it rotates, destroy finishes what
 * it accepted, and the delivery runtime delivers through the sink with
 * completions coming from the sink's writer thread.
 *
 * The writer is kept inside a sync with io_hold_arm (src/log/io.h) while
 * the test queues batches behind it, so what makes a group is decided by
 * the test, not by timing. Faults come from io_fault_arm. Criterion runs
 * each test in its own process, so neither leaks into another test.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "deliver/deliver.h"
#include "log/io.h"
#include "obs/logging.h"
#include "sinks/file.h"
#include "support/logtest.h"
#include "support/sinkevents.h"
#include "support/sinktest.h"
#include "support/tmpdir.h"

/* 2025-12-04T00:00:00.123Z */
#define T0 INT64_C(1764806400123)
#define PRODUCER 11u
#define HOLD_MS 10000

static void quiet(void)
{
    /* The failures below are on purpose; their warnings are noise. */
    obs_log_set_level(OBS_OFF);
}

TestSuite(sink_file_group, .init = quiet);

/* A sent batch with the storage its events point into. */
struct pending {
    struct sinkevents_batch b;
    struct sinktest_done done;
};

struct fixture {
    char *dir;
    struct sinktest_clock clock;
    struct sink_file_options opts;
    struct sink *sink;
    struct pending *pending;       /* max_in_flight + 1 of them */
    struct sinktest_expect expect; /* every line that must be in them */
};

/* Options with a test clock at T0, no rotation and max_in_flight batches
 * at once; the caller may change them, then calls fx_start. */
static void fx_init(struct fixture *fx, unsigned max_in_flight)
{
    memset(fx, 0, sizeof(*fx));
    fx->dir = tw_test_tmpdir();
    atomic_store(&fx->clock.now_ms, T0);
    sink_file_options_init(&fx->opts, fx->dir);
    fx->opts.max_bytes = 0;
    fx->opts.max_age_ms = 0;
    fx->opts.max_in_flight = max_in_flight;
    fx->opts.clock_ms = sinktest_clock_cb;
    fx->opts.clock_ctx = &fx->clock;
    fx->pending = calloc(max_in_flight + 1, sizeof(*fx->pending));
    cr_assert_not_null(fx->pending);
    sinktest_expect_init(&fx->expect);
}

static void fx_start(struct fixture *fx)
{
    cr_assert_eq(sink_file_new(&fx->opts, "lake", &fx->sink), 0, "%s",
                 tw_err_message());
}

static void fx_open(struct fixture *fx, unsigned max_in_flight)
{
    fx_init(fx, max_in_flight);
    fx_start(fx);
}

static void fx_done(struct fixture *fx)
{
    sink_destroy(fx->sink); /* NULL when the test destroyed it */
    sinktest_expect_free(&fx->expect);
    free(fx->pending);
    tw_test_rmdir(fx->dir);
}

/* Sends batch seq from pending slot i without waiting for it. */
static void fx_send(struct fixture *fx, size_t i, uint64_t seq)
{
    struct pending *p = &fx->pending[i];

    memset(&p->done, 0, sizeof(p->done));
    sinkevents_build(&p->b, PRODUCER, seq);
    cr_assert_eq(sink_send(fx->sink, &p->b.batch, sinktest_done_cb, &p->done),
                 0, "send %" PRIu64 ": %s", seq, tw_err_message());
}

/* The bytes batch seq takes as NDJSON. */
static uint64_t batch_bytes(uint64_t seq)
{
    struct sinkevents_batch *b = malloc(sizeof(*b));
    uint64_t total = 0;

    cr_assert_not_null(b);
    sinkevents_build(b, PRODUCER, seq);
    for (size_t i = 0; i < b->batch.count; i++) {
        total += b->events[i].data_len + 1;
    }
    free(b);
    return total;
}

/* The lines of batch seq must be in the files, after those expected. */
static void fx_expect(struct fixture *fx, uint64_t seq)
{
    struct sinkevents_batch *b = malloc(sizeof(*b));

    cr_assert_not_null(b);
    sinkevents_build(b, PRODUCER, seq);
    sinktest_expect_batch(&fx->expect, &b->batch);
    free(b);
}

/* Waits for slot i's completion and checks its outcome. */
static struct sink_result fx_await(struct fixture *fx, size_t i,
                                   enum sink_outcome want)
{
    struct pending *p = &fx->pending[i];

    cr_assert_eq(sinktest_await(&p->done, 1), 1, "batch %zu completed twice",
                 i);
    cr_assert_eq(p->done.result.outcome, want, "batch %zu: outcome %d (%s)", i,
                 p->done.result.outcome, p->done.result.detail);
    return p->done.result;
}

/* Sends batch seq from slot 0 and waits for SINK_OK. */
static void fx_send_ok(struct fixture *fx, uint64_t seq)
{
    fx_send(fx, 0, seq);
    fx_await(fx, 0, SINK_OK);
    fx_expect(fx, seq);
}

/* The files hold exactly the expected lines, in order. */
static void fx_verify(struct fixture *fx, struct sinktest_files *files)
{
    sinktest_files_check_expected(fx->dir, "events", &fx->expect, files);
}

static void fx_verify_only(struct fixture *fx)
{
    struct sinktest_files files;

    fx_verify(fx, &files);
    sinktest_files_free(&files);
}

static struct sink_file_stats fx_stats(struct fixture *fx)
{
    struct sink_file_stats st;

    sink_file_stats(fx->sink, &st);
    return st;
}

/*
 * Sends batch `first` and holds the writer in its sync, then queues
 * batches first+1 .. first+behind behind it (slots 1 .. behind+1): they
 * are all waiting when the hold is released, so they form one group.
 */
static void fx_queue_behind_a_sync(struct fixture *fx, uint64_t first,
                                   size_t behind)
{
    io_hold_arm(IO_OP_SYNC);
    fx_send(fx, 1, first);
    cr_assert(io_hold_await(HOLD_MS), "the writer never reached its sync");
    for (size_t i = 0; i < behind; i++) {
        fx_send(fx, i + 2, first + 1 + i);
    }
}

static void expect_detail(const struct sink_result *r, const char *want)
{
    cr_assert_not_null(strstr(r->detail, want),
                       "detail \"%s\" does not say \"%s\"", r->detail, want);
}

/* The active file's name (there must be one, the last). */
static void fx_active_name(struct fixture *fx, char *name, size_t size)
{
    struct sinktest_files files;

    sinktest_files_read(fx->dir, "events", &files);
    cr_assert_gt(files.count, 0);
    cr_assert_eq(files.items[files.count - 1].kind, SINKTEST_ACTIVE);
    snprintf(name, size, "%s", files.items[files.count - 1].name);
    sinktest_files_free(&files);
}

/* ----------------------------------------------------------- groups -- */

Test(sink_file_group, batches_sent_while_a_sync_runs_share_the_next_fdatasync)
{
    struct fixture fx;
    struct sink_file_stats st;

    fx_open(&fx, 9);
    fx_send_ok(&fx, 0); /* creates the file */
    st = fx_stats(&fx);
    cr_assert_eq(st.syncs, 1);
    cr_assert_eq(st.batches_synced, 1);

    fx_queue_behind_a_sync(&fx, 1, 7);
    for (size_t i = 1; i <= 8; i++) {
        cr_assert_eq(sinktest_calls(&fx.pending[i].done), 0,
                     "batch %zu completed before its sync returned", i);
    }
    cr_assert_eq(fx_stats(&fx).sink.in_flight, 8);

    io_hold_release();
    for (size_t i = 1; i <= 8; i++) {
        fx_await(&fx, i, SINK_OK);
        fx_expect(&fx, i);
    }
    st = fx_stats(&fx);
    cr_assert_eq(st.sink.batches_ok, 9);
    cr_assert_eq(st.batches_synced, 9);
    cr_assert_eq(st.syncs, 3,
                 "%" PRIu64 " syncs: the 7 batches queued behind a sync "
                 "should have shared one",
                 st.syncs);
    cr_assert_lt(st.syncs, st.sink.batches_ok);
    cr_assert_eq(st.sink.in_flight, 0);
    fx_verify_only(&fx);
    fx_done(&fx);
}

/* A producer thread of the concurrent test. */
struct producer {
    struct fixture *fx;
    pthread_mutex_t *order; /* held across a send and noting its lines */
    uint64_t id;
    int batches;
    int not_ok;
};

static void *producer_main(void *arg)
{
    struct producer *pr = arg;
    struct sinkevents_batch *b = malloc(sizeof(*b));

    cr_assert_not_null(b);
    for (int seq = 0; seq < pr->batches; seq++) {
        struct sinktest_done done = {0};
        int rc;

        sinkevents_build(b, pr->id, (uint64_t)seq);
        pthread_mutex_lock(pr->order);
        rc = sink_send(pr->fx->sink, &b->batch, sinktest_done_cb, &done);
        if (rc == 0) {
            sinktest_expect_batch(&pr->fx->expect, &b->batch);
        }
        pthread_mutex_unlock(pr->order);
        if (rc != 0 || sinktest_await(&done, 1) != 1 ||
            done.result.outcome != SINK_OK) {
            pr->not_ok++;
        }
    }
    free(b);
    return NULL;
}

Test(sink_file_group,
     batches_from_concurrent_senders_are_in_the_file_whole_in_send_order)
{
    enum {
        THREADS = 4,
        BATCHES = 40
    };
    struct fixture fx;
    struct producer producers[THREADS];
    pthread_t threads[THREADS];
    pthread_mutex_t order = PTHREAD_MUTEX_INITIALIZER;
    struct sink_file_stats st;

    fx_open(&fx, THREADS);
    for (int t = 0; t < THREADS; t++) {
        producers[t] = (struct producer){
            .fx = &fx,
            .order = &order,
            .id = PRODUCER + 1 + (uint64_t)t,
            .batches = BATCHES,
        };
        cr_assert_eq(
            pthread_create(&threads[t], NULL, producer_main, &producers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        cr_assert_eq(producers[t].not_ok, 0, "producer %d had failures", t);
    }

    st = fx_stats(&fx);
    cr_assert_eq(st.sink.batches_ok, THREADS * BATCHES);
    cr_assert_eq(st.batches_synced, THREADS * BATCHES);
    cr_assert_leq(st.syncs, st.batches_synced);
    cr_assert_eq(st.write_failures, 0);
    fx_verify_only(&fx);
    fx_done(&fx);
}

/* ---------------------------------------------------------- failures -- */

Test(sink_file_group,
     a_failed_group_sync_answers_every_batch_of_the_group_retry_and_leaves_none)
{
    struct fixture fx;
    struct sink_file_stats st;
    struct sink_result r[6];
    char name[256];

    fx_open(&fx, 6);
    fx_send_ok(&fx, 0);
    fx_queue_behind_a_sync(&fx, 1, 4);
    /* The held sync (batch 1's) passes; the group's (2 to 5) fails. */
    io_fault_arm(IO_OP_SYNC, EIO, 1, 1, false);
    io_hold_release();

    fx_await(&fx, 1, SINK_OK);
    fx_expect(&fx, 1);
    /* The files are read only once the group is settled: before, the
     * writer may be cutting the active file back under the reader. */
    for (size_t i = 2; i <= 5; i++) {
        r[i] = fx_await(&fx, i, SINK_RETRY);
    }
    fx_active_name(&fx, name, sizeof(name));
    for (size_t i = 2; i <= 5; i++) {
        expect_detail(&r[i], "cannot sync");
        expect_detail(&r[i], name);
        expect_detail(&r[i], strerror(EIO));
    }
    st = fx_stats(&fx);
    cr_assert_eq(st.sink.batches_retry, 4);
    cr_assert_eq(st.write_failures, 4);
    cr_assert_eq(st.syncs, 3);
    cr_assert_eq(st.batches_synced, 2);
    cr_assert_eq(st.undo_failures, 0);
    fx_verify_only(&fx); /* batches 0 and 1 only */

    /* The same batches go through once the disk works again. */
    io_fault_clear();
    for (uint64_t seq = 2; seq <= 5; seq++) {
        fx_send_ok(&fx, seq);
    }
    fx_verify_only(&fx);
    fx_done(&fx);
}

Test(sink_file_group,
     a_failed_write_in_a_group_fails_the_rest_of_the_group_and_cuts_it_back)
{
    struct fixture fx;
    struct sink_file_stats st;
    struct sink_result r;

    fx_open(&fx, 6);
    fx_send_ok(&fx, 0);
    fx_queue_behind_a_sync(&fx, 1, 4);
    /* Batches 2 and 3 are written; 4 fills the disk half way. */
    io_fault_arm(IO_OP_WRITE, ENOSPC, 2, -1, true);
    io_hold_release();

    fx_await(&fx, 1, SINK_OK);
    fx_expect(&fx, 1);
    for (size_t i = 2; i <= 5; i++) {
        r = fx_await(&fx, i, SINK_RETRY);
        expect_detail(&r, "cannot write");
        expect_detail(&r, strerror(ENOSPC));
    }
    st = fx_stats(&fx);
    cr_assert_eq(st.write_failures, 4);
    cr_assert_eq(st.syncs, 2, "a group whose write failed was synced");
    cr_assert_eq(st.batches_synced, 2);
    cr_assert_eq(st.active_bytes, fx.expect.len);
    fx_verify_only(&fx); /* nothing of 2 to 5, not even half a line */

    io_fault_clear();
    for (uint64_t seq = 2; seq <= 5; seq++) {
        fx_send_ok(&fx, seq);
    }
    fx_verify_only(&fx);
    fx_done(&fx);
}

/* ---------------------------------------------------------- rotation -- */

Test(
    sink_file_group,
    a_group_that_fills_the_file_syncs_it_before_rotating_and_no_batch_straddles)
{
    struct fixture fx;
    struct sinktest_files files;
    struct sink_file_stats st;
    uint64_t full = batch_bytes(0) + batch_bytes(1) + batch_bytes(2);

    /* Batches 0 to 2 fill the first file exactly; 3 must start a new one
     * in the middle of the group (2, 3). */
    fx_init(&fx, 4);
    fx.opts.max_bytes = full;
    fx_start(&fx);
    fx_send_ok(&fx, 0);
    fx_queue_behind_a_sync(&fx, 1, 2);
    io_hold_release();
    for (size_t i = 1; i <= 3; i++) {
        fx_await(&fx, i, SINK_OK);
        fx_expect(&fx, i);
    }

    st = fx_stats(&fx);
    cr_assert_eq(st.rotations, 1);
    cr_assert_eq(st.syncs, 4,
                 "%" PRIu64 " syncs: want batch 0, batch 1, the group's "
                 "share of the first file, and its share of the second",
                 st.syncs);
    cr_assert_eq(st.batches_synced, 4);
    fx_verify(&fx, &files);
    cr_assert_eq(files.count, 2);
    cr_assert_eq(files.items[0].kind, SINKTEST_PLAIN);
    cr_assert_eq(files.items[0].len, full, "the first file holds %zu bytes",
                 files.items[0].len);
    cr_assert_eq(files.items[1].kind, SINKTEST_ACTIVE);
    cr_assert_eq(files.items[1].len, batch_bytes(3));
    sinktest_files_free(&files);
    fx_done(&fx);
}

/* ----------------------------------------------------------- destroy -- */

static void *destroy_main(void *arg)
{
    sink_destroy(arg);
    return NULL;
}

Test(sink_file_group, destroy_writes_and_completes_every_batch_it_accepted)
{
    struct fixture fx;
    pthread_t destroyer;

    fx_open(&fx, 5);
    fx_send_ok(&fx, 0);
    fx_queue_behind_a_sync(&fx, 1, 3);
    cr_assert_eq(pthread_create(&destroyer, NULL, destroy_main, fx.sink), 0);
    io_hold_release();
    pthread_join(destroyer, NULL);
    fx.sink = NULL;

    /* Nothing is awaited: each done ran before destroy returned. */
    for (size_t i = 1; i <= 4; i++) {
        cr_assert_eq(sinktest_calls(&fx.pending[i].done), 1,
                     "batch %zu was not completed by destroy", i);
        cr_assert_eq(fx.pending[i].done.result.outcome, SINK_OK, "%s",
                     fx.pending[i].done.result.detail);
        fx_expect(&fx, i);
    }
    fx_verify_only(&fx);
    fx_done(&fx);
}

/* ---------------------------------------------- the delivery runtime -- */

#define DELIVER_PARTITIONS 4
#define DELIVER_EVENTS 600

/* Waits until the destination delivered n events (it has no callback
 * for that, so its counters are read until they get there). */
static void await_delivered(struct deliver_dest *d, uint64_t n)
{
    int64_t deadline = tw_now_ms() + LOGTEST_AWAIT_MS;
    struct deliver_stats st;

    deliver_dest_stats(d, &st);
    while (st.events_delivered < n && tw_now_ms() < deadline) {
        struct timespec ts = {0, 2 * 1000000};

        nanosleep(&ts, NULL);
        deliver_dest_stats(d, &st);
    }
    cr_assert_eq(st.events_delivered, n,
                 "%" PRIu64 " of %" PRIu64 " events delivered",
                 st.events_delivered, n);
    cr_assert_eq(st.lag, 0);
}

/* Each event {"n":i} of partition i % 4 once, in order per partition. */
static void check_delivered_lines(const struct sinktest_files *files)
{
    int64_t last[DELIVER_PARTITIONS] = {-1, -1, -1, -1};
    const char *line = files->all;
    const char *end = files->all + files->all_len;
    size_t count = 0;

    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        long n;

        cr_assert_not_null(nl, "a line without its newline");
        cr_assert_eq(sscanf(line, "{\"n\":%ld}", &n), 1, "line \"%.*s\"",
                     (int)(nl - line), line);
        cr_assert(n >= 0 && n < DELIVER_EVENTS);
        cr_assert_gt(n, last[n % DELIVER_PARTITIONS],
                     "event %ld out of order or twice", n);
        last[n % DELIVER_PARTITIONS] = n;
        count++;
        line = nl + 1;
    }
    cr_assert_eq(count, DELIVER_EVENTS);
}

Test(sink_file_group,
     the_delivery_runtime_delivers_through_completions_from_the_writer_thread)
{
    char *dir = tw_test_tmpdir();
    char path[PATH_MAX];
    struct log_options lo;
    struct log *events;
    struct log *dlq;
    struct sink_file_options so;
    struct sink *sink;
    struct deliver_options o;
    struct deliver_dest *d;
    struct sinktest_files files;
    struct sink_file_stats st;

    snprintf(path, sizeof(path), "%s/events", dir);
    logtest_options(&lo, path, DELIVER_PARTITIONS, LOG_DURABILITY_NONE);
    events = logtest_open(&lo, NULL);
    snprintf(path, sizeof(path), "%s/dlq", dir);
    logtest_options(&lo, path, 1, LOG_DURABILITY_NONE);
    dlq = logtest_open(&lo, NULL);
    for (int i = 0; i < DELIVER_EVENTS; i++) {
        char key[32];
        char value[32];

        snprintf(key, sizeof(key), "web/m%d", i);
        snprintf(value, sizeof(value), "{\"n\":%d}", i);
        logtest_append_one(events, (uint32_t)(i % DELIVER_PARTITIONS),
                           tw_now_ms(), key, value);
    }
    snprintf(path, sizeof(path), "%s/lake", dir);
    sink_file_options_init(&so, path);
    cr_assert_eq(sink_file_new(&so, "lake", &sink), 0, "%s", tw_err_message());

    deliver_options_init(&o);
    o.name = "lake";
    o.events = events;
    o.dlq = dlq;
    o.sink = sink;
    o.batch_max_events = 7;
    o.batch_max_wait_ms = 5;
    cr_assert_eq(deliver_dest_start(&o, &d), 0, "%s", tw_err_message());
    await_delivered(d, DELIVER_EVENTS);
    deliver_dest_stop(d);

    sink_file_stats(sink, &st);
    cr_assert_eq(st.sink.events_ok, DELIVER_EVENTS);
    cr_assert_eq(st.sink.batches_retry, 0);
    cr_assert_eq(st.batches_synced, st.sink.batches_ok);
    cr_assert_leq(st.syncs, st.batches_synced);
    sink_destroy(sink);
    sinktest_files_read(path, "events", &files);
    check_delivered_lines(&files);
    sinktest_files_free(&files);
    log_close(events);
    log_close(dlq);
    tw_test_rmdir(dir);
}
