/*
 * test_deliver.c - the destination runtime (deliver/deliver.h) on a real
 * embedded log, with a scripted sink written here: every event reaches
 * the sink in offset order per partition, the cursor moves only past
 * what the sink acknowledged, retries resend the same batch, refusals and
 * exhausted retries go to the dead-letter log, the circuit breaker opens
 * and closes, and pausing keeps the place.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "deliver/deliver.h"
#include "support/logtest.h"
#include "support/tmpdir.h"

#define AWAIT_MS 10000
#define MAX_SEEN 4096

/* A sink that answers from a script and records what it was sent. */
struct script_sink {
    struct sink base;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    /* Outcomes for the next batches; past the end, SINK_OK. */
    enum sink_outcome script[64];
    size_t script_len;
    size_t calls;
    char seen[MAX_SEEN][64]; /* event texts of batches answered OK */
    uint64_t seen_offset[MAX_SEEN];
    uint32_t seen_partition[MAX_SEEN];
    size_t seen_count;
    char keys[64][96]; /* idempotency key of each call */
};

static int script_send(struct sink *base, const struct sink_batch *b,
                       sink_done_cb done, void *ctx)
{
    struct script_sink *s = (struct script_sink *)base;
    struct sink_result r = {.outcome = SINK_OK, .retry_after_ms = -1};

    pthread_mutex_lock(&s->lock);
    if (s->calls < s->script_len) {
        r.outcome = s->script[s->calls];
    }
    if (s->calls < 64) {
        snprintf(s->keys[s->calls], sizeof(s->keys[0]), "%s",
                 b->idempotency_key);
    }
    s->calls++;
    if (r.outcome == SINK_OK) {
        for (size_t i = 0; i < b->count && s->seen_count < MAX_SEEN; i++) {
            snprintf(s->seen[s->seen_count], sizeof(s->seen[0]), "%.*s",
                     (int)b->events[i].data_len, b->events[i].data);
            s->seen_offset[s->seen_count] = b->events[i].offset;
            s->seen_partition[s->seen_count] = b->events[i].partition;
            s->seen_count++;
        }
    } else {
        r.status = r.outcome == SINK_REJECTED ? 400 : 503;
        r.retry_after_ms = 1;
        snprintf(r.detail, sizeof(r.detail), "scripted %s",
                 r.outcome == SINK_REJECTED ? "refusal" : "failure");
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    done(ctx, &r); /* synchronously, as a file sink may */
    return 0;
}

static void script_stats(struct sink *base, struct sink_stats *st)
{
    (void)base;
    memset(st, 0, sizeof(*st));
}

static void script_destroy(struct sink *base)
{
    (void)base;
}

static const struct sink_ops script_ops = {
    .type = "script",
    .send = script_send,
    .stats = script_stats,
    .destroy = script_destroy,
};

static char *dir;
static struct log *events;
static struct log *dlq;
static struct script_sink sink;

static void setup(void)
{
    struct log_options o;
    char path[4096];

    dir = tw_test_tmpdir();
    snprintf(path, sizeof(path), "%s/events", dir);
    logtest_options(&o, path, 2, LOG_DURABILITY_NONE);
    events = logtest_open(&o, NULL);
    snprintf(path, sizeof(path), "%s/dlq", dir);
    logtest_options(&o, path, 1, LOG_DURABILITY_NONE);
    dlq = logtest_open(&o, NULL);
    memset(&sink, 0, sizeof(sink));
    sink.base.ops = &script_ops;
    sink.base.name = "script";
    pthread_mutex_init(&sink.lock, NULL);
    pthread_cond_init(&sink.changed, NULL);
}

static void teardown(void)
{
    log_close(events);
    log_close(dlq);
    tw_test_rmdir(dir);
}

TestSuite(deliver, .init = setup, .fini = teardown);

/* Appends n events {"n":i} keyed "web/m<i>", alternating partitions. */
static void append_events(int first, int n)
{
    for (int i = first; i < first + n; i++) {
        char key[32];
        char value[32];
        struct log_record r;

        snprintf(key, sizeof(key), "web/m%d", i);
        snprintf(value, sizeof(value), "{\"n\":%d}", i);
        r = (struct log_record){.timestamp_ms = tw_now_ms(),
                                .key = key,
                                .key_len = (uint32_t)strlen(key),
                                .value = value,
                                .value_len = (uint32_t)strlen(value)};
        logtest_append(events, (uint32_t)(i % 2), &r, 1);
    }
}

static void await_seen(size_t n)
{
    int64_t deadline = tw_now_ms() + AWAIT_MS;

    pthread_mutex_lock(&sink.lock);
    while (sink.seen_count < n && tw_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&sink.changed, &sink.lock, &ts);
    }
    pthread_mutex_unlock(&sink.lock);
    cr_assert_geq(sink.seen_count, n, "the sink saw %zu of %zu events",
                  sink.seen_count, n);
}

/* The sink records a batch before the runtime settles it: await that. */
static void await_delivered(struct deliver_dest *d, uint64_t n,
                            struct deliver_stats *st)
{
    int64_t deadline = tw_now_ms() + AWAIT_MS;

    deliver_dest_stats(d, st);
    while (st->events_delivered < n && tw_now_ms() < deadline) {
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
        deliver_dest_stats(d, st);
    }
    cr_assert_eq(st->events_delivered, n);
}

static struct deliver_dest *start(struct deliver_options *o)
{
    struct deliver_dest *d;

    cr_assert_eq(deliver_dest_start(o, &d), 0, "%s", tw_err_message());
    return d;
}

static void options(struct deliver_options *o)
{
    deliver_options_init(o);
    o->name = "lake";
    o->events = events;
    o->dlq = dlq;
    o->sink = &sink.base;
    o->batch_max_wait_ms = 5;
    o->backoff_min_ms = 1;
    o->backoff_max_ms = 5;
}

static void assert_in_order_per_partition(void)
{
    uint64_t last[2] = {0, 0};
    bool any[2] = {false, false};

    for (size_t i = 0; i < sink.seen_count; i++) {
        uint32_t p = sink.seen_partition[i];
        if (any[p]) {
            cr_assert_gt(sink.seen_offset[i], last[p], "out of order");
        }
        last[p] = sink.seen_offset[i];
        any[p] = true;
    }
}

Test(deliver, every_event_arrives_in_order_and_the_cursor_follows)
{
    struct deliver_options o;
    struct deliver_dest *d;
    struct deliver_stats st;
    uint64_t cursor;

    append_events(0, 100);
    options(&o);
    o.batch_max_events = 7;
    d = start(&o);
    await_seen(100);
    deliver_dest_stop(d);
    assert_in_order_per_partition();
    cr_assert_eq(log_cursor_get(events, "dest.lake", 0, &cursor), 0);
    cr_assert_eq(cursor, 50);
    cr_assert_eq(log_cursor_get(events, "dest.lake", 1, &cursor), 0);
    cr_assert_eq(cursor, 50);

    /* A restart resumes after what was delivered: nothing twice. */
    append_events(100, 10);
    d = start(&o);
    await_seen(110);
    await_delivered(d, 10, &st);
    deliver_dest_stop(d);
    cr_assert_eq(sink.seen_count, 110);
}

static int only_even_cb(void *ctx, struct deliver_event *event,
                        struct tw_buf *out)
{
    struct tw_json json;
    struct tw_json n;

    (void)ctx;
    if (!deliver_event_json(event, &json) || !tw_json_get(json, "n", &n) ||
        tw_json_int(n) % 2 != 0) {
        return 0;
    }
    tw_buf_printf(out, "{\"even\":%" PRId64 "}", tw_json_int(n));
    return 1;
}

Test(deliver, the_route_skips_and_shapes_and_skipped_events_move_the_cursor)
{
    struct deliver_options o;
    struct deliver_dest *d;
    struct deliver_stats st;
    uint64_t cursor;

    append_events(0, 20);
    options(&o);
    o.route = only_even_cb;
    d = start(&o);
    await_seen(10);
    await_delivered(d, 10, &st);
    deliver_dest_stop(d);
    cr_assert_eq(sink.seen_count, 10);
    cr_assert_str_eq(sink.seen[0], "{\"even\":0}");
    cr_assert_eq(st.events_skipped, 10);
    /* Partition 1 holds only odd events: all skipped, cursor at its end. */
    cr_assert_eq(log_cursor_get(events, "dest.lake", 1, &cursor), 0);
    cr_assert_eq(cursor, 10);
}

Test(deliver, a_failed_batch_is_sent_again_whole_with_the_same_key)
{
    struct deliver_options o;
    struct deliver_dest *d;
    struct deliver_stats st;

    sink.script[0] = SINK_RETRY;
    sink.script[1] = SINK_RETRY;
    sink.script_len = 2;
    append_events(0, 1); /* one event, one partition: one batch */
    options(&o);
    d = start(&o);
    await_seen(1);
    await_delivered(d, 1, &st);
    deliver_dest_stop(d);
    cr_assert_eq(sink.calls, 3);
    cr_assert_str_eq(sink.keys[0], sink.keys[2]);
    cr_assert_eq(st.batches_retried, 2);
    cr_assert_eq(sink.seen_count, 1);
}

static size_t dlq_count(const char *reason)
{
    struct log_reader *r;
    struct log_record rec;
    size_t n = 0;
    char want[64];

    snprintf(want, sizeof(want), "\"reason\":\"%s\"", reason);
    cr_assert_eq(log_reader_open(dlq, 0, 0, &r), 0);
    while (log_reader_next(r, &rec) == 1) {
        n += memmem(rec.value, rec.value_len, want, strlen(want)) != NULL;
    }
    log_reader_close(r);
    return n;
}

static void await_dlq(const char *reason, size_t n)
{
    int64_t deadline = tw_now_ms() + AWAIT_MS;

    while (dlq_count(reason) < n && tw_now_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(dlq_count(reason), n);
}

Test(deliver, a_refused_batch_goes_to_the_dead_letter_log_and_delivery_goes_on)
{
    struct deliver_options o;
    struct deliver_dest *d;
    struct deliver_stats st;

    sink.script[0] = SINK_REJECTED;
    sink.script_len = 1;
    append_events(0, 1);
    options(&o);
    d = start(&o);
    await_dlq("rejected", 1);
    append_events(1, 2);
    await_seen(2);
    deliver_dest_stats(d, &st);
    deliver_dest_stop(d);
    cr_assert_eq(st.events_dead, 1);
    for (size_t i = 0; i < sink.seen_count; i++) {
        cr_assert_str_neq(sink.seen[i], "{\"n\":0}", "the refused event");
    }
}

Test(deliver, exhausted_retries_dead_letter_the_batch)
{
    struct deliver_options o;
    struct deliver_dest *d;
    struct deliver_stats st;

    for (int i = 0; i < 3; i++) {
        sink.script[i] = SINK_RETRY;
    }
    sink.script_len = 3;
    append_events(0, 1);
    options(&o);
    o.max_attempts = 3;
    o.breaker_failures = 100;
    d = start(&o);
    await_dlq("attempts_exhausted", 1);
    append_events(2, 1);
    await_seen(1);
    deliver_dest_stats(d, &st);
    deliver_dest_stop(d);
    cr_assert_eq(st.batches_dead, 1);
    cr_assert_eq(sink.calls, 4);
}

Test(deliver, the_breaker_opens_after_failures_and_a_probe_closes_it)
{
    struct deliver_options o;
    struct deliver_dest *d;
    struct deliver_stats st;

    for (int i = 0; i < 3; i++) {
        sink.script[i] = SINK_RETRY;
    }
    sink.script_len = 3;
    append_events(0, 1);
    options(&o);
    o.breaker_failures = 3;
    o.breaker_open_ms = 50;
    d = start(&o);
    await_seen(1);
    await_delivered(d, 1, &st);
    deliver_dest_stop(d);
    cr_assert_eq(st.breaker_opened, 1);
    cr_assert_not(st.breaker_open, "the successful probe closed it");
    cr_assert_eq(sink.calls, 4);
}

Test(deliver, a_paused_destination_sends_nothing_and_resumes_in_place)
{
    struct deliver_options o;
    struct deliver_dest *d;
    struct deliver_stats st;

    options(&o);
    d = start(&o);
    deliver_dest_pause(d, true);
    append_events(0, 10);
    deliver_dest_stats(d, &st);
    cr_assert(st.paused);
    /* While paused the lag stays: wait for it to show, then check. */
    cr_assert_eq(st.lag, 10);
    cr_assert_eq(sink.seen_count, 0);
    deliver_dest_pause(d, false);
    await_seen(10);
    deliver_dest_stop(d);
    assert_in_order_per_partition();
}

static int even_only_cb(void *ctx, struct deliver_event *event,
                        struct tw_buf *out)
{
    struct tw_json json;
    struct tw_json n;

    (void)ctx;
    (void)out;
    return deliver_event_json(event, &json) && tw_json_get(json, "n", &n) &&
           tw_json_int(n) % 2 == 0;
}

Test(deliver, a_replay_redelivers_a_range_beside_live_and_leaves_the_cursor)
{
    struct deliver_options o;
    struct deliver_replay r = {.where = even_only_cb};
    struct deliver_dest *d;
    struct deliver_stats st;
    int64_t deadline;
    uint64_t cursor;

    append_events(0, 20);
    options(&o);
    d = start(&o);
    await_delivered(d, 20, &st);

    /* Offsets 2..8 of both partitions: events 4..16; even ones pass. */
    for (uint32_t p = 0; p < 2; p++) {
        r.from[p] = 2;
        r.to[p] = 9;
    }
    /* Paused, the replay cannot end before the second start is tried. */
    deliver_dest_pause(d, true);
    cr_assert_eq(deliver_dest_replay(d, &r), 0, "%s", tw_err_message());
    cr_assert_eq(deliver_dest_replay(d, &r), TW_EBUSY);
    deliver_dest_pause(d, false);
    append_events(20, 2); /* live traffic goes on beside it */
    await_seen(20 + 7 + 2);
    deadline = tw_now_ms() + AWAIT_MS;
    deliver_dest_stats(d, &st);
    while (st.replay_active && tw_now_ms() < deadline) {
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
        deliver_dest_stats(d, &st);
    }
    deliver_dest_stop(d);
    cr_assert_not(st.replay_active);
    cr_assert_eq(st.replays_done, 1);
    cr_assert_eq(sink.seen_count, 29);
    for (size_t i = 20; i < sink.seen_count; i++) {
        int n = atoi(sink.seen[i] + 5);
        cr_assert(n >= 20 || (n % 2 == 0 && n >= 4 && n <= 16), "replayed %s",
                  sink.seen[i]);
    }
    cr_assert_eq(log_cursor_get(events, "replay.lake", 0, &cursor), TW_ENOENT,
                 "the replay's cursor is gone once it ended");
    cr_assert_eq(log_cursor_get(events, "dest.lake", 0, &cursor), 0);
    cr_assert_eq(cursor, 11, "the destination's own place is untouched");
}

static int source_web_cb(void *ctx, struct deliver_event *event,
                         struct tw_buf *out)
{
    (void)ctx;
    (void)out;
    return event->source_len == 3 && memcmp(event->source, "web", 3) == 0 &&
           event->parsed == 0;
}

Test(deliver, a_route_that_reads_only_the_source_parses_nothing)
{
    struct deliver_options o;
    struct deliver_dest *d;
    struct deliver_stats st;
    struct log_record r = {
        .key = "web/m1", .key_len = 6, .value = "not json", .value_len = 8};

    logtest_append(events, 0, &r, 1);
    r.key = "ios/m2";
    logtest_append(events, 1, &r, 1);
    options(&o);
    o.route = source_web_cb;
    d = start(&o);
    await_delivered(d, 1, &st);
    deliver_dest_stop(d);
    cr_assert_eq(sink.seen_count, 1);
    cr_assert_str_eq(sink.seen[0], "not json");
}

/* Reopens the events log small, with nothing holding it but the
 * destinations that ask to, and fills it with events of some 300
 * bytes: many segments per partition. */
static void small_log_filled(int n)
{
    struct log_options o;
    char path[4096];
    char value[320];

    log_close(events);
    snprintf(path, sizeof(path), "%s/small", dir);
    logtest_options(&o, path, 2, LOG_DURABILITY_NONE);
    o.segment_max_bytes = 8 * 1024;
    o.retention.max_bytes = 16 * 1024;
    o.retention.keep_unread = false;
    events = logtest_open(&o, NULL);
    memset(value, 'x', sizeof(value));
    for (int i = 0; i < n; i++) {
        char key[32];
        int len = snprintf(value, sizeof(value), "{\"n\":%d,\"pad\":\"", i);
        struct log_record r;

        memset(value + len, 'x', 300 - (size_t)len - 2);
        memcpy(value + 298, "\"}", 2);
        snprintf(key, sizeof(key), "web/m%d", i);
        r = (struct log_record){.timestamp_ms = tw_now_ms(),
                                .key = key,
                                .key_len = (uint32_t)strlen(key),
                                .value = value,
                                .value_len = 300};
        logtest_append(events, (uint32_t)(i % 2), &r, 1);
    }
}

Test(deliver, a_new_blocking_destination_holds_the_log_from_its_start)
{
    struct log_retention_report report;
    struct deliver_options o;
    struct deliver_dest *d;
    uint64_t at;

    small_log_filled(400);
    options(&o);
    o.start_paused = true;
    d = start(&o);

    /* Its place is stored before it delivered anything ... */
    cr_assert_eq(log_cursor_get(events, "dest.lake", 0, &at), 0);
    cr_assert_eq(at, 0);

    /* ... and retention keeps everything it has not delivered. */
    cr_assert_eq(log_retention_run(events, &report), 0);
    cr_assert_eq(report.segments_deleted, 0);
    cr_assert(report.full);
    cr_assert_str_eq(report.held_by, "dest.lake");

    deliver_dest_pause(d, false);
    await_seen(400);
    deliver_dest_stop(d);
    cr_assert_eq(log_retention_run(events, &report), 0);
    cr_assert_not(report.full);
    cr_assert_gt(report.segments_deleted, 0);
}

Test(deliver, a_skipping_destination_counts_what_retention_took_from_it)
{
    struct log_retention_report report;
    struct log_partition_info info;
    struct deliver_options o;
    struct deliver_dest *d;
    struct deliver_stats st;
    uint64_t start_of[2];
    uint64_t removed = 0;
    uint64_t early = 0;

    small_log_filled(1000);
    options(&o);
    o.backlog_skip = true;
    o.batch_max_events = 10;
    o.start_paused = true;
    d = start(&o);

    cr_assert_eq(log_retention_run(events, &report), 0);
    cr_assert_not(report.full);
    cr_assert_gt(report.segments_deleted, 0);
    for (uint32_t p = 0; p < 2; p++) {
        cr_assert_eq(log_partition_info(events, p, &info), 0);
        start_of[p] = info.start_offset;
        removed += info.start_offset;
    }

    /* Resumed, it delivers what it had read, loses what retention took
     * after that, and delivers the rest in order. */
    deliver_dest_pause(d, false);
    for (int64_t until = tw_now_ms() + AWAIT_MS; tw_now_ms() < until;) {
        deliver_dest_stats(d, &st);
        if (st.lag == 0 && st.events_delivered + st.events_lost == 1000) {
            break;
        }
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
    }
    deliver_dest_stop(d);
    cr_assert_eq(st.events_delivered + st.events_lost, 1000,
                 "delivered %" PRIu64 " lost %" PRIu64, st.events_delivered,
                 st.events_lost);
    /* What it had read before retention ran (at most a batch per
     * partition) arrived; everything else removed is counted lost. */
    for (size_t i = 0; i < sink.seen_count; i++) {
        early += sink.seen_offset[i] < start_of[sink.seen_partition[i]];
    }
    cr_assert_leq(early, 2 * 10);
    cr_assert_eq(st.events_lost, removed - early);
    cr_assert_eq(sink.seen_count, st.events_delivered);
    assert_in_order_per_partition();
}
