/*
 * test_sink_file.c - the file sink writes exactly one line per event,
 * makes a batch durable before SINK_OK, rotates by size and by age (time
 * moved by hand, never waited for), compresses rotated files so they
 * decompress to exactly their lines, recovers what a crash leaves, and
 * under disk faults fails the batch cleanly, leaves no partial line and
 * works again once the fault clears.
 *
 * Faults come from io_fault_arm (src/log/io.h), which fails the sink's
 * writes, syncs and truncates on demand. Criterion runs each test in its
 * own process, so an armed fault never leaks into another test.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "log/io.h"
#include "obs/logging.h"
#include "sinks/file.h"
#include "support/sinkevents.h"
#include "support/sinktest.h"
#include "support/tmpdir.h"

/* 2025-12-04T00:00:00.123Z */
#define T0 INT64_C(1764806400123)
#define PRODUCER 7u

static void quiet(void)
{
    /* The failures below are on purpose; their warnings are noise. */
    obs_log_set_level(OBS_OFF);
}

TestSuite(sink_file, .init = quiet);

/* A test's sink, its directory and its clock. */
struct fixture {
    char *dir;
    struct sinktest_clock clock;
    struct sink_file_options opts;
    struct sink *sink;
    struct sinktest_expect expect; /* every line sent with SINK_OK */
};

static void fx_open(struct fixture *fx)
{
    int rc = sink_file_new(&fx->opts, "lake", &fx->sink);

    cr_assert_eq(rc, 0, "open %s: %s", fx->dir, tw_err_message());
}

/* Options with a test clock at T0 and no rotation; the caller opens. */
static void fx_init(struct fixture *fx)
{
    memset(fx, 0, sizeof(*fx));
    fx->dir = tw_test_tmpdir();
    atomic_store(&fx->clock.now_ms, T0);
    sink_file_options_init(&fx->opts, fx->dir);
    fx->opts.max_bytes = 0;
    fx->opts.max_age_ms = 0;
    fx->opts.clock_ms = sinktest_clock_cb;
    fx->opts.clock_ctx = &fx->clock;
    sinktest_expect_init(&fx->expect);
}

static void fx_close(struct fixture *fx)
{
    sink_destroy(fx->sink);
    fx->sink = NULL;
}

static void fx_done(struct fixture *fx)
{
    fx_close(fx);
    sinktest_expect_free(&fx->expect);
    tw_test_rmdir(fx->dir);
}

static void fx_advance(struct fixture *fx, int64_t ms)
{
    atomic_fetch_add(&fx->clock.now_ms, ms);
}

/* Sends generated batch seq, which must succeed, and expects its lines. */
static void fx_send_ok(struct fixture *fx, uint64_t seq)
{
    static struct sinkevents_batch b;

    sinkevents_build(&b, PRODUCER, seq);
    sinktest_send_wait_ok(fx->sink, &b.batch);
    sinktest_expect_batch(&fx->expect, &b.batch);
}

/* Sends generated batch seq and returns the result (nothing expected). */
static struct sink_result fx_send(struct fixture *fx, uint64_t seq)
{
    static struct sinkevents_batch b;

    sinkevents_build(&b, PRODUCER, seq);
    return sinktest_send_wait(fx->sink, &b.batch);
}

/* The directory holds exactly the expected lines, in order. */
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

/* The active file's path (there must be exactly one). */
static void fx_active_path(struct fixture *fx, char *path)
{
    struct sinktest_files files;

    sinktest_files_read(fx->dir, "events", &files);
    cr_assert_gt(files.count, 0);
    cr_assert_eq(files.items[files.count - 1].kind, SINKTEST_ACTIVE);
    snprintf(path, PATH_MAX, "%s/%s", fx->dir,
             files.items[files.count - 1].name);
    sinktest_files_free(&files);
}

static void expect_detail(const struct sink_result *r, const char *want)
{
    cr_assert_not_null(strstr(r->detail, want),
                       "detail \"%s\" does not say \"%s\"", r->detail, want);
}

/* A batch of the given event texts. */
struct text_batch {
    struct sink_event events[8];
    struct sink_batch batch;
};

static void text_batch(struct text_batch *tb, const char *const *texts,
                       size_t count)
{
    cr_assert_leq(count, 8);
    for (size_t i = 0; i < count; i++) {
        tb->events[i] = (struct sink_event){
            .data = texts[i],
            .data_len = strlen(texts[i]),
            .message_id = "m",
            .id_len = 1,
            .offset = i,
        };
    }
    tb->batch = (struct sink_batch){
        .events = tb->events, .count = count, .idempotency_key = "k"};
}

/* ---------------------------------------------------------- content -- */

Test(sink_file, writes_each_event_as_its_json_text_and_one_newline_in_order)
{
    static const char *const first[] = {"{\"a\":1}", "{\"b\":\"x y\"}"};
    static const char *const second[] = {"{\"\xc3\xa9\":\"\xe2\x82\xac\"}"};
    static const char want[] = "{\"a\":1}\n{\"b\":\"x y\"}\n"
                               "{\"\xc3\xa9\":\"\xe2\x82\xac\"}\n";
    struct fixture fx;
    struct text_batch tb;
    struct sinktest_files files;
    struct sink_file_stats st;

    fx_init(&fx);
    fx_open(&fx);
    text_batch(&tb, first, 2);
    sinktest_send_wait_ok(fx.sink, &tb.batch);
    text_batch(&tb, second, 1);
    sinktest_send_wait_ok(fx.sink, &tb.batch);

    sinktest_files_read(fx.dir, "events", &files);
    cr_assert_eq(files.count, 1);
    cr_assert_str_eq(files.items[0].name,
                     "events-0000000001-20251204T000000.123Z.ndjson.active");
    cr_assert_eq(files.all_len, sizeof(want) - 1);
    cr_assert(memcmp(files.all, want, sizeof(want) - 1) == 0, "got \"%s\"",
              files.all);
    sinktest_files_free(&files);

    st = fx_stats(&fx);
    cr_assert_eq(st.sink.batches_sent, 2);
    cr_assert_eq(st.sink.batches_ok, 2);
    cr_assert_eq(st.sink.events_ok, 3);
    cr_assert_eq(st.sink.bytes_out, sizeof(want) - 1);
    cr_assert_eq(st.sink.in_flight, 0);
    cr_assert_eq(st.active_bytes, sizeof(want) - 1);
    fx_done(&fx);
}

Test(sink_file, one_batch_costs_one_fdatasync_whatever_its_size)
{
    struct fixture fx;
    struct sink_result r;

    fx_init(&fx);
    fx_open(&fx);
    fx_send_ok(&fx, 0); /* creates the file: the directory is synced too */

    /* One sync may pass: the batch needs exactly one, the next fails. */
    io_fault_arm(IO_OP_SYNC, EIO, 1, -1, false);
    fx_send_ok(&fx, 1);
    cr_assert_gt(sinkevents_count(PRODUCER, 1), 1);
    r = fx_send(&fx, 2);
    cr_assert_eq(r.outcome, SINK_RETRY,
                 "a batch was acknowledged without its own sync");
    expect_detail(&r, "cannot sync");
    io_fault_clear();
    fx_verify_only(&fx);
    fx_done(&fx);
}

Test(sink_file, an_empty_batch_is_ok_and_writes_nothing)
{
    struct fixture fx;
    struct sink_batch empty = {.events = NULL, .count = 0};
    struct sinktest_files files;

    fx_init(&fx);
    fx_open(&fx);
    sinktest_send_wait_ok(fx.sink, &empty);
    sinktest_files_read(fx.dir, "events", &files);
    cr_assert_eq(files.count, 0, "an empty batch created a file");
    sinktest_files_free(&files);
    fx_done(&fx);
}

/* Sends a batch of texts, which must succeed, and expects its lines. */
static void fx_send_texts_ok(struct fixture *fx, const char *const *texts,
                             size_t count)
{
    struct text_batch tb;

    text_batch(&tb, texts, count);
    sinktest_send_wait_ok(fx->sink, &tb.batch);
    sinktest_expect_batch(&fx->expect, &tb.batch);
}

/* A chained send: the completion of one batch sends the next. */
struct chain {
    struct sink *sink;
    const struct sink_batch *next;
    struct sink_result first;
    int rc;
    struct sinktest_done outer; /* counts the first completion */
    struct sinktest_done inner;
};

static void chain_cb(void *ctx, const struct sink_result *result)
{
    struct chain *c = ctx;

    c->first = *result;
    c->rc = sink_send(c->sink, c->next, sinktest_done_cb, &c->inner);
    sinktest_done_cb(&c->outer, result);
}

Test(sink_file, a_completion_may_send_the_next_batch_at_once)
{
    static const char *const a[] = {"{\"n\":1}"};
    static const char *const b[] = {"{\"n\":2}"};
    struct fixture fx;
    struct text_batch first;
    struct text_batch second;
    struct chain c = {.rc = -1};

    fx_init(&fx);
    fx.opts.max_in_flight = 1;
    fx_open(&fx);
    text_batch(&first, a, 1);
    text_batch(&second, b, 1);
    c.sink = fx.sink;
    c.next = &second.batch;

    cr_assert_eq(sink_send(fx.sink, &first.batch, chain_cb, &c), 0, "%s",
                 tw_err_message());
    cr_assert_eq(sinktest_await(&c.outer, 1), 1);
    cr_assert_eq(c.first.outcome, SINK_OK, "%s", c.first.detail);
    cr_assert_eq(c.rc, 0,
                 "a send from a completion was refused: the slot of "
                 "the finished batch was still taken");
    cr_assert_eq(sinktest_await(&c.inner, 1), 1);
    cr_assert_eq(c.inner.result.outcome, SINK_OK, "%s", c.inner.result.detail);
    sinktest_expect_text(&fx.expect, "{\"n\":1}\n{\"n\":2}\n");
    fx_verify_only(&fx);
    fx_done(&fx);
}

/* --------------------------------------------------------- rotation -- */

/* A 99-byte event text: with its newline, 100 bytes. */
static const char *hundred(int n)
{
    static char texts[16][100];
    char *t = texts[n % 16];

    snprintf(t, 100, "{\"n\":\"%02d\",\"p\":\"%0*d\"}", n % 100, 82, 0);
    cr_assert_eq(strlen(t), 99);
    return t;
}

/* Sends a batch of k 100-byte lines. */
static void fx_send_hundreds(struct fixture *fx, int k, int *n)
{
    const char *texts[8] = {NULL};

    cr_assert_leq(k, 8);
    for (int i = 0; i < k; i++) {
        texts[i] = hundred((*n)++);
    }
    fx_send_texts_ok(fx, texts, (size_t)k);
}

static void expect_files(struct fixture *fx, size_t count,
                         const enum sinktest_kind *kinds, const size_t *sizes)
{
    struct sinktest_files files;

    fx_verify(fx, &files);
    cr_assert_eq(files.count, count, "%zu files, want %zu", files.count, count);
    for (size_t i = 0; i < count; i++) {
        cr_assert_eq(files.items[i].kind, kinds[i], "%s has kind %d, want %d",
                     files.items[i].name, files.items[i].kind, kinds[i]);
        cr_assert_eq(files.items[i].seq, i + 1, "%s", files.items[i].name);
        cr_assert_eq(files.items[i].len, sizes[i], "%s holds %zu bytes",
                     files.items[i].name, files.items[i].len);
    }
    sinktest_files_free(&files);
}

Test(sink_file, rotates_before_a_batch_would_take_the_file_past_max_bytes)
{
    static const enum sinktest_kind kinds[] = {SINKTEST_PLAIN, SINKTEST_PLAIN,
                                               SINKTEST_ACTIVE};
    static const size_t sizes[] = {900, 900, 300};
    struct fixture fx;
    int n = 0;

    fx_init(&fx);
    fx.opts.max_bytes = 1000;
    fx_open(&fx);
    for (int i = 0; i < 7; i++) {
        fx_send_hundreds(&fx, 3, &n);
    }
    expect_files(&fx, 3, kinds, sizes);
    cr_assert_eq(fx_stats(&fx).rotations, 2);
    cr_assert_eq(fx_stats(&fx).active_bytes, 300);
    fx_done(&fx);
}

Test(sink_file, a_file_may_reach_max_bytes_exactly_and_rotates_after_it)
{
    static const enum sinktest_kind kinds[] = {SINKTEST_PLAIN, SINKTEST_ACTIVE};
    static const size_t sizes[] = {900, 100};
    struct fixture fx;
    int n = 0;

    fx_init(&fx);
    fx.opts.max_bytes = 900;
    fx_open(&fx);
    for (int i = 0; i < 3; i++) {
        fx_send_hundreds(&fx, 3, &n);
    }
    cr_assert_eq(fx_stats(&fx).rotations, 0);
    fx_send_hundreds(&fx, 1, &n);
    expect_files(&fx, 2, kinds, sizes);
    fx_done(&fx);
}

Test(sink_file, a_batch_larger_than_max_bytes_gets_a_file_of_its_own)
{
    static const enum sinktest_kind kinds[] = {SINKTEST_PLAIN, SINKTEST_PLAIN,
                                               SINKTEST_ACTIVE};
    static const size_t sizes[] = {300, 300, 100};
    struct fixture fx;
    int n = 0;

    fx_init(&fx);
    fx.opts.max_bytes = 250;
    fx_open(&fx);
    fx_send_hundreds(&fx, 3, &n);
    fx_send_hundreds(&fx, 3, &n);
    fx_send_hundreds(&fx, 1, &n);
    expect_files(&fx, 3, kinds, sizes);
    fx_done(&fx);
}

Test(sink_file, sink_file_tick_rotates_a_file_that_reached_max_bytes)
{
    static const enum sinktest_kind kinds[] = {SINKTEST_PLAIN};
    static const size_t sizes[] = {200};
    struct fixture fx;
    int n = 0;

    fx_init(&fx);
    fx.opts.max_bytes = 200;
    fx_open(&fx);
    fx_send_hundreds(&fx, 1, &n);
    cr_assert_eq(sink_file_tick(fx.sink), 0);
    cr_assert_eq(fx_stats(&fx).rotations, 0, "rotated a file under the limit");
    fx_send_hundreds(&fx, 1, &n);
    cr_assert_eq(sink_file_tick(fx.sink), 0, "%s", tw_err_message());
    cr_assert_eq(fx_stats(&fx).rotations, 1);
    expect_files(&fx, 1, kinds, sizes);
    fx_done(&fx);
}

Test(sink_file, rotates_when_a_batch_comes_once_the_file_is_max_age_old)
{
    struct fixture fx;
    struct sinktest_files files;
    int n = 0;

    fx_init(&fx);
    fx.opts.max_age_ms = 60000;
    fx_open(&fx);
    fx_send_hundreds(&fx, 1, &n);
    fx_advance(&fx, 59999);
    fx_send_hundreds(&fx, 1, &n);
    cr_assert_eq(fx_stats(&fx).rotations, 0, "rotated 1 ms before its age");
    fx_advance(&fx, 1);
    fx_send_hundreds(&fx, 1, &n);
    cr_assert_eq(fx_stats(&fx).rotations, 1);

    fx_verify(&fx, &files);
    cr_assert_eq(files.count, 2);
    cr_assert_str_eq(files.items[0].name,
                     "events-0000000001-20251204T000000.123Z.ndjson");
    cr_assert_str_eq(files.items[1].name,
                     "events-0000000002-20251204T000100.123Z.ndjson.active");
    cr_assert_eq(files.items[0].len, 200);
    sinktest_files_free(&files);
    fx_done(&fx);
}

Test(sink_file, a_clock_stepped_back_past_max_age_rotates_the_file)
{
    struct fixture fx;
    int n = 0;

    fx_init(&fx);
    fx.opts.max_age_ms = 60000;
    fx_open(&fx);
    fx_send_hundreds(&fx, 1, &n);
    fx_advance(&fx, -59999);
    fx_send_hundreds(&fx, 1, &n);
    cr_assert_eq(fx_stats(&fx).rotations, 0);
    fx_advance(&fx, -1);
    fx_send_hundreds(&fx, 1, &n);
    cr_assert_eq(fx_stats(&fx).rotations, 1,
                 "a file from the future stayed active");
    fx_verify_only(&fx);
    fx_done(&fx);
}

Test(sink_file, sink_file_tick_rotates_an_old_file_when_no_batch_comes)
{
    struct fixture fx;
    struct sinktest_files files;
    int n = 0;

    fx_init(&fx);
    fx.opts.max_age_ms = 1000;
    fx_open(&fx);
    cr_assert_eq(sink_file_tick(fx.sink), 0, "a tick without a file failed");
    fx_send_hundreds(&fx, 2, &n);
    fx_advance(&fx, 999);
    cr_assert_eq(sink_file_tick(fx.sink), 0);
    cr_assert_eq(fx_stats(&fx).rotations, 0);
    fx_advance(&fx, 1);
    cr_assert_eq(sink_file_tick(fx.sink), 0, "%s", tw_err_message());
    cr_assert_eq(fx_stats(&fx).rotations, 1);
    cr_assert_eq(fx_stats(&fx).active_bytes, 0);

    /* Nothing is active now: ticks do nothing, the next batch starts 2. */
    fx_advance(&fx, 5000);
    cr_assert_eq(sink_file_tick(fx.sink), 0);
    cr_assert_eq(fx_stats(&fx).rotations, 1);
    fx_send_hundreds(&fx, 1, &n);
    fx_verify(&fx, &files);
    cr_assert_eq(files.count, 2);
    cr_assert_eq(files.items[0].kind, SINKTEST_PLAIN);
    cr_assert_str_eq(files.items[1].name,
                     "events-0000000002-20251204T000006.123Z.ndjson.active");
    sinktest_files_free(&files);
    fx_done(&fx);
}

Test(sink_file, the_age_of_a_reopened_file_comes_from_its_name)
{
    struct fixture fx;
    int n = 0;

    fx_init(&fx);
    fx.opts.max_age_ms = 60000;
    fx_open(&fx);
    fx_send_hundreds(&fx, 1, &n);
    fx_close(&fx);
    fx_advance(&fx, 60000);
    fx_open(&fx);
    cr_assert_eq(fx_stats(&fx).active_bytes, 100,
                 "the reopened active file was not taken up");
    cr_assert_eq(sink_file_tick(fx.sink), 0, "%s", tw_err_message());
    cr_assert_eq(fx_stats(&fx).rotations, 1);
    fx_verify_only(&fx);
    fx_done(&fx);
}

Test(sink_file, zstd_rotated_files_decompress_to_exactly_their_lines)
{
    struct fixture fx;
    struct sinktest_files files;
    size_t zst = 0;

    fx_init(&fx);
    fx.opts.compression = SINK_FILE_COMPRESSION_ZSTD;
    fx.opts.max_bytes = 32u << 10;
    fx_open(&fx);
    for (uint64_t seq = 0; seq < 60; seq++) {
        fx_send_ok(&fx, seq);
    }
    cr_assert_gt(fx_stats(&fx).rotations, 3);

    fx_verify(&fx, &files);
    for (size_t i = 0; i < files.count; i++) {
        struct sinktest_file *f = &files.items[i];

        cr_assert(f->kind == SINKTEST_ZST || i + 1 == files.count,
                  "%s is not compressed", f->name);
        cr_assert_eq(f->data[f->len - 1], '\n', "%s ends inside a line",
                     f->name);
        zst += f->kind == SINKTEST_ZST;
    }
    cr_assert_eq(zst, fx_stats(&fx).rotations);

    /* The frame carries a checksum, so `zstd -t` can verify the file:
     * bit 2 of the frame header descriptor, after the 4-byte magic. */
    char path[PATH_MAX];
    size_t len;
    char *packed;

    snprintf(path, sizeof(path), "%s/%s", fx.dir, files.items[0].name);
    packed = sinktest_read_file(path, &len);
    cr_assert_gt(len, 5);
    cr_assert_neq((unsigned char)packed[4] & 0x04, 0, "no checksum flag");
    free(packed);
    sinktest_files_free(&files);
    fx_done(&fx);
}

/* --------------------------------------------------------- recovery -- */

/* Writes name in the fixture's directory with text. */
static void fx_put(struct fixture *fx, const char *name, const char *text)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
    sinktest_write_file(path, text, strlen(text));
}

static void fx_put_zst(struct fixture *fx, const char *name, const char *text)
{
    char packed[256];
    size_t n = ZSTD_compress(packed, sizeof(packed), text, strlen(text), 3);
    char path[PATH_MAX];

    cr_assert(!ZSTD_isError(n));
    snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
    sinktest_write_file(path, packed, n);
}

static void fx_expect_text(struct fixture *fx, const char *text)
{
    sinktest_expect_text(&fx->expect, text);
}

Test(sink_file, a_torn_last_line_is_cut_on_open_and_reported)
{
    static const char torn[] = "{\"messageId\":\"torn";
    struct fixture fx;
    char path[PATH_MAX];
    uint64_t whole;
    struct sink_file_stats st;

    fx_init(&fx);
    fx_open(&fx);
    for (uint64_t seq = 0; seq < 3; seq++) {
        fx_send_ok(&fx, seq);
    }
    fx_close(&fx);
    fx_active_path(&fx, path);
    whole = sinktest_file_size(path);
    sinktest_append_file(path, torn, sizeof(torn) - 1);

    fx_open(&fx);
    st = fx_stats(&fx);
    cr_assert_eq(st.recovery.tails_cut, 1);
    cr_assert_eq(st.recovery.bytes_cut, sizeof(torn) - 1);
    cr_assert_eq(sinktest_file_size(path), whole);
    cr_assert_eq(st.active_bytes, whole);
    fx_send_ok(&fx, 3);
    fx_verify_only(&fx);

    /* A clean close leaves nothing to cut. */
    fx_close(&fx);
    fx_open(&fx);
    cr_assert_eq(fx_stats(&fx).recovery.tails_cut, 0);
    fx_done(&fx);
}

Test(sink_file, an_active_file_with_no_whole_line_is_removed_on_open)
{
    struct fixture fx;
    struct sinktest_files files;

    fx_init(&fx);
    fx_put(&fx, "events-0000000004-20251204T000000.123Z.ndjson.active",
           "{\"half\":");
    fx_open(&fx);
    cr_assert_eq(fx_stats(&fx).recovery.tails_cut, 1);
    cr_assert_eq(fx_stats(&fx).recovery.empty_removed, 1);
    fx_send_ok(&fx, 0);
    fx_verify(&fx, &files);
    cr_assert_eq(files.count, 1);
    cr_assert_eq(files.items[0].seq, 5, "the sequence did not go on after 4");
    sinktest_files_free(&files);
    fx_done(&fx);
}

Test(sink_file, an_interrupted_rotation_is_resolved_on_open_without_loss)
{
    struct fixture fx;
    struct sink_file_stats st;
    struct sinktest_files files;

    fx_init(&fx);
    fx_put_zst(&fx, "events-0000000001-20251204T000000.123Z.ndjson.zst",
               "{\"n\":1}\n");
    /* Rotated whole, the active file not yet removed. */
    fx_put_zst(&fx, "events-0000000002-20251204T000001.123Z.ndjson.zst",
               "{\"n\":2}\n");
    fx_put(&fx, "events-0000000002-20251204T000001.123Z.ndjson.active",
           "{\"n\":2}\n");
    /* Being compressed when the process stopped. */
    fx_put(&fx, "events-0000000003-20251204T000002.123Z.ndjson.zst.tmp",
           "\x28\xb5\x2f\xfd garbage");
    fx_put(&fx, "events-0000000003-20251204T000002.123Z.ndjson.active",
           "{\"n\":3}\n");
    fx_open(&fx);

    st = fx_stats(&fx);
    cr_assert_eq(st.recovery.temporaries_removed, 1);
    cr_assert_eq(st.recovery.leftovers_removed, 1);
    cr_assert_eq(st.recovery.files_rotated, 0);
    cr_assert_eq(st.recovery.tails_cut, 0);
    cr_assert_eq(st.active_bytes, 8, "the newest active file was not kept");
    fx_expect_text(&fx, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
    fx_send_ok(&fx, 0);
    fx_verify(&fx, &files);
    cr_assert_eq(files.count, 3);
    cr_assert_eq(files.items[2].seq, 3, "the batch did not join file 3");
    sinktest_files_free(&files);
    fx_done(&fx);
}

Test(sink_file, an_active_file_older_than_a_rotated_one_is_rotated_on_open)
{
    struct fixture fx;
    struct sinktest_files files;

    fx_init(&fx);
    fx_put(&fx, "events-0000000003-20251204T000000.123Z.ndjson.active",
           "{\"n\":3}\n");
    fx_put(&fx, "events-0000000004-20251204T000001.123Z.ndjson", "{\"n\":4}\n");
    fx_open(&fx);
    cr_assert_eq(fx_stats(&fx).recovery.files_rotated, 1);
    cr_assert_eq(fx_stats(&fx).active_bytes, 0);
    fx_expect_text(&fx, "{\"n\":3}\n{\"n\":4}\n");
    fx_send_ok(&fx, 0);
    fx_verify(&fx, &files);
    cr_assert_eq(files.count, 3);
    cr_assert_eq(files.items[0].kind, SINKTEST_PLAIN);
    cr_assert_eq(files.items[2].seq, 5);
    sinktest_files_free(&files);
    fx_done(&fx);
}

Test(sink_file, files_of_other_prefixes_and_names_are_left_alone)
{
    struct fixture fx;
    char path[PATH_MAX];

    fx_init(&fx);
    fx_put(&fx, "other-0000000001-20251204T000000.123Z.ndjson.active",
           "{\"torn");
    fx_put(&fx, "events-notes.txt", "not ours");
    fx_open(&fx);
    fx_send_ok(&fx, 0);
    snprintf(path, sizeof(path),
             "%s/other-0000000001-20251204T000000.123Z.ndjson.active", fx.dir);
    cr_assert_eq(sinktest_file_size(path), 6, "another prefix's file changed");
    snprintf(path, sizeof(path), "%s/events-notes.txt", fx.dir);
    cr_assert(sinktest_exists(path));
    fx_close(&fx);
    fx_done(&fx);
}

/* ------------------------------------------------------------ faults -- */

/*
 * Three good batches; two that fail while the fault is armed; one once it
 * is cleared; a reopen that finds nothing to cut.
 */
static void fault_course(enum io_op op, int errnum, bool short_write,
                         const char *what)
{
    struct fixture fx;
    char path[PATH_MAX];
    uint64_t size;
    uint64_t hits = io_fault_hits();
    struct sink_file_stats st;

    fx_init(&fx);
    fx_open(&fx);
    for (uint64_t seq = 0; seq < 3; seq++) {
        fx_send_ok(&fx, seq);
    }
    fx_active_path(&fx, path);
    size = sinktest_file_size(path);

    io_fault_arm(op, errnum, 0, -1, short_write);
    for (uint64_t seq = 3; seq < 5; seq++) {
        struct sink_result r = fx_send(&fx, seq);

        cr_assert_eq(r.outcome, SINK_RETRY, "outcome %d: %s", r.outcome,
                     r.detail);
        expect_detail(&r, what);
        expect_detail(&r, strrchr(path, '/') + 1);
        expect_detail(&r, strerror(errnum));
    }
    cr_assert_gt(io_fault_hits(), hits, "the fault never fired");
    cr_assert_eq(sinktest_file_size(path), size,
                 "failed batches left bytes in the file");
    fx_verify_only(&fx);
    st = fx_stats(&fx);
    cr_assert_eq(st.write_failures, 2);
    cr_assert_eq(st.sink.batches_retry, 2);
    cr_assert_eq(st.sink.batches_ok, 3);

    io_fault_clear();
    fx_send_ok(&fx, 5);
    fx_verify_only(&fx);
    fx_close(&fx);
    fx_open(&fx);
    cr_assert_eq(fx_stats(&fx).recovery.tails_cut, 0);
    fx_send_ok(&fx, 6);
    fx_verify_only(&fx);
    fx_done(&fx);
}

Test(sink_file, a_write_failing_with_enospc_leaves_nothing_and_is_retryable)
{
    fault_course(IO_OP_WRITE, ENOSPC, false, "cannot write");
}

Test(sink_file, a_short_write_on_a_full_disk_leaves_no_partial_line)
{
    fault_course(IO_OP_WRITE, ENOSPC, true, "cannot write");
}

Test(sink_file, a_write_failing_with_eio_leaves_nothing_and_is_retryable)
{
    fault_course(IO_OP_WRITE, EIO, false, "cannot write");
}

Test(sink_file, an_fdatasync_failing_with_eio_cuts_the_batch_back_out)
{
    fault_course(IO_OP_SYNC, EIO, false, "cannot sync");
}

Test(sink_file, an_fdatasync_failing_with_enospc_cuts_the_batch_back_out)
{
    fault_course(IO_OP_SYNC, ENOSPC, false, "cannot sync");
}

Test(sink_file, a_failed_cut_back_holds_every_batch_until_the_cut_works)
{
    struct fixture fx;
    char path[PATH_MAX];
    struct sink_result r;
    uint64_t size;

    fx_init(&fx);
    fx_open(&fx);
    for (uint64_t seq = 0; seq < 3; seq++) {
        fx_send_ok(&fx, seq);
    }
    fx_active_path(&fx, path);
    size = sinktest_file_size(path);

    io_fault_arm(IO_OP_WRITE, ENOSPC, 0, -1, true);
    io_fault_arm(IO_OP_TRUNCATE, EIO, 0, -1, false);
    r = fx_send(&fx, 3);
    cr_assert_eq(r.outcome, SINK_RETRY);
    cr_assert_gt(sinktest_file_size(path), size,
                 "the short write should have left stray bytes");
    cr_assert_geq(fx_stats(&fx).undo_failures, 1);

    /* The disk has room again, but the stray bytes are still there. */
    io_fault_clear();
    io_fault_arm(IO_OP_TRUNCATE, EIO, 0, -1, false);
    r = fx_send(&fx, 4);
    cr_assert_eq(r.outcome, SINK_RETRY);
    expect_detail(&r, "could not be cut");
    cr_assert_eq(sink_file_tick(fx.sink), 0);
    cr_assert_gt(sinktest_file_size(path), size);

    /* A tick cuts them once the truncate works; batches go on. */
    io_fault_clear();
    cr_assert_eq(sink_file_tick(fx.sink), 0);
    cr_assert_eq(sinktest_file_size(path), size, "the tick did not cut back");
    fx_send_ok(&fx, 5);
    fx_verify_only(&fx);
    fx_done(&fx);
}

Test(sink_file, a_directory_sync_failing_for_a_new_file_fails_the_batch)
{
    struct fixture fx;
    struct sinktest_files files;
    struct sink_result r;

    fx_init(&fx);
    fx_open(&fx);
    io_fault_arm(IO_OP_SYNC, EIO, 0, 1, false);
    r = fx_send(&fx, 0);
    cr_assert_eq(r.outcome, SINK_RETRY);
    expect_detail(&r, "cannot sync directory");
    sinktest_files_read(fx.dir, "events", &files);
    cr_assert_eq(files.count, 0, "a file whose name may not last was kept");
    sinktest_files_free(&files);
    fx_send_ok(&fx, 1);
    fx_verify_only(&fx);
    fx_done(&fx);
}

/* The bytes generated batch seq takes as NDJSON. */
static uint64_t bytes_of(uint64_t seq)
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

Test(sink_file, a_failed_compression_keeps_the_file_active_and_is_retried_later)
{
    struct fixture fx;
    struct sinktest_files files;
    uint64_t seq = 0;
    struct sink_file_stats st;

    fx_init(&fx);
    fx.opts.compression = SINK_FILE_COMPRESSION_ZSTD;
    fx.opts.max_bytes = 64u << 10;
    fx_open(&fx);
    do {
        fx_send_ok(&fx, seq++);
    } while (fx_stats(&fx).active_bytes + bytes_of(seq) <= fx.opts.max_bytes);

    /* The compressed copy cannot be synced: no rotation, the batch is ok. */
    io_fault_arm(IO_OP_SYNC, EIO, 0, 1, false);
    fx_send_ok(&fx, seq++);
    st = fx_stats(&fx);
    cr_assert_eq(st.rotation_failures, 1);
    cr_assert_eq(st.rotations, 0);
    cr_assert_gt(st.active_bytes, fx.opts.max_bytes);
    fx_verify_only(&fx);

    /* Not again within a second by the sink's clock; then it works. */
    fx_send_ok(&fx, seq++);
    cr_assert_eq(fx_stats(&fx).rotation_failures, 1);
    cr_assert_eq(fx_stats(&fx).rotations, 0);
    fx_advance(&fx, 1000);
    fx_send_ok(&fx, seq++);
    cr_assert_eq(fx_stats(&fx).rotations, 1);
    fx_verify(&fx, &files);
    cr_assert_eq(files.count, 2);
    cr_assert_eq(files.items[0].kind, SINKTEST_ZST);
    sinktest_files_free(&files);
    fx_done(&fx);
}

Test(sink_file, a_disk_full_during_compression_leaves_no_temporary_file)
{
    struct fixture fx;
    struct sink_result r;
    uint64_t seq = 0;

    fx_init(&fx);
    fx.opts.compression = SINK_FILE_COMPRESSION_ZSTD;
    fx.opts.max_bytes = 64u << 10;
    fx_open(&fx);
    do {
        fx_send_ok(&fx, seq++);
    } while (fx_stats(&fx).active_bytes + bytes_of(seq) <= fx.opts.max_bytes);

    io_fault_arm(IO_OP_WRITE, ENOSPC, 0, -1, true);
    r = fx_send(&fx, seq);
    cr_assert_eq(r.outcome, SINK_RETRY);
    cr_assert_eq(fx_stats(&fx).rotation_failures, 1);
    fx_verify_only(&fx); /* also: no .tmp file */

    /* The retry of the same batch rotates once the disk has room. */
    io_fault_clear();
    fx_advance(&fx, 1000);
    fx_send_ok(&fx, seq);
    cr_assert_eq(fx_stats(&fx).rotations, 1);
    fx_verify_only(&fx);
    fx_done(&fx);
}

/* ----------------------------------------------------- max_in_flight -- */

/* A clock that holds every send inside it until the test opens it. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int entered;
    bool open;
};

static int64_t gate_clock_cb(void *ctx)
{
    struct gate *g = ctx;

    pthread_mutex_lock(&g->lock);
    g->entered++;
    pthread_cond_broadcast(&g->cond);
    while (!g->open) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return T0;
}

struct sender {
    struct sink *sink;
    struct sinkevents_batch batch;
    struct sinktest_done done;
    int rc;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;

    s->rc = sink_send(s->sink, &s->batch.batch, sinktest_done_cb, &s->done);
    return NULL;
}

static void gate_await(struct gate *g, int entered)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&g->lock);
    while (g->entered < entered) {
        int rc = pthread_cond_timedwait(&g->cond, &g->lock, &deadline);

        cr_assert_neq(rc, ETIMEDOUT, "only %d sends arrived", g->entered);
    }
    pthread_mutex_unlock(&g->lock);
}

Test(sink_file, more_than_max_in_flight_batches_at_once_are_refused_with_efull)
{
    struct fixture fx;
    struct gate g = {.open = false};
    static struct sender senders[2];
    pthread_t threads[2];
    struct sinkevents_batch *extra = malloc(sizeof(*extra));
    struct sinktest_done d = {0};
    struct sinktest_files files;
    uint64_t want_bytes = 0;

    cr_assert_not_null(extra);
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.cond, NULL);
    fx_init(&fx);
    fx.opts.max_in_flight = 2;
    fx.opts.clock_ms = gate_clock_cb;
    fx.opts.clock_ctx = &g;
    fx_open(&fx);

    for (int i = 0; i < 2; i++) {
        senders[i].sink = fx.sink;
        sinkevents_build(&senders[i].batch, PRODUCER, (uint64_t)i);
        want_bytes += bytes_of((uint64_t)i);
        cr_assert_eq(
            pthread_create(&threads[i], NULL, sender_main, &senders[i]), 0);
    }
    gate_await(&g, 2);
    sinkevents_build(extra, PRODUCER, 2);
    cr_assert_eq(sink_send(fx.sink, &extra->batch, sinktest_done_cb, &d),
                 TW_EFULL);
    cr_assert_eq(sinktest_calls(&d), 0, "done ran for a refused batch");
    cr_assert_not_null(strstr(tw_err_message(), "in flight"));
    cr_assert_eq(fx_stats(&fx).sink.in_flight, 2);
    cr_assert_eq(fx_stats(&fx).sink.batches_sent, 2);

    pthread_mutex_lock(&g.lock);
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(senders[i].rc, 0);
        cr_assert_eq(sinktest_await(&senders[i].done, 1), 1);
        cr_assert_eq(senders[i].done.result.outcome, SINK_OK);
    }
    sinktest_send_wait_ok(fx.sink, &extra->batch);
    want_bytes += bytes_of(2);
    cr_assert_eq(fx_stats(&fx).sink.in_flight, 0);

    sinktest_files_read(fx.dir, "events", &files);
    cr_assert_eq(files.all_len, want_bytes);
    sinktest_files_free(&files);
    free(extra);
    fx_done(&fx);
}

/* ------------------------------------------------------ bad input -- */

Test(sink_file,
     events_that_cannot_be_one_line_and_oversized_batches_are_rejected)
{
    static const char *const newline[] = {"{\"a\":1}", "{\"b\":\n2}"};
    static const char *const empty[] = {""};
    struct fixture fx;
    struct text_batch tb;
    struct sink_result r;
    struct sinktest_files files;
    int n = 0;
    const char *big[3] = {hundred(0), hundred(1), hundred(2)};

    fx_init(&fx);
    fx.opts.max_batch_bytes = 250;
    fx_open(&fx);
    text_batch(&tb, newline, 2);
    r = sinktest_send_wait(fx.sink, &tb.batch);
    cr_assert_eq(r.outcome, SINK_REJECTED);
    expect_detail(&r, "event 1 of the batch");
    expect_detail(&r, "newline");
    text_batch(&tb, empty, 1);
    r = sinktest_send_wait(fx.sink, &tb.batch);
    cr_assert_eq(r.outcome, SINK_REJECTED);
    expect_detail(&r, "empty");
    text_batch(&tb, big, 3);
    r = sinktest_send_wait(fx.sink, &tb.batch);
    cr_assert_eq(r.outcome, SINK_REJECTED);
    expect_detail(&r, "max_batch_bytes");

    sinktest_files_read(fx.dir, "events", &files);
    cr_assert_eq(files.count, 0, "a rejected batch wrote something");
    sinktest_files_free(&files);
    cr_assert_eq(fx_stats(&fx).sink.batches_rejected, 3);
    fx_send_hundreds(&fx, 2, &n);
    fx_verify_only(&fx);
    fx_done(&fx);
}

Test(sink_file, a_send_without_a_completion_is_refused_and_not_counted)
{
    struct fixture fx;
    struct sinkevents_batch b;

    fx_init(&fx);
    fx_open(&fx);
    sinkevents_build(&b, PRODUCER, 0);
    cr_assert_eq(sink_send(fx.sink, &b.batch, NULL, NULL), TW_EINVAL);
    cr_assert_eq(sink_send(fx.sink, NULL, sinktest_done_cb, NULL), TW_EINVAL);
    cr_assert_eq(fx_stats(&fx).sink.batches_sent, 0);
    fx_done(&fx);
}

Test(sink_file, a_directory_that_cannot_be_created_is_an_error_naming_it)
{
    char *dir = tw_test_tmpdir();
    char file[PATH_MAX];
    char sub[PATH_MAX];
    struct sink_file_options opts;
    struct sink *sink = (struct sink *)1;

    snprintf(file, sizeof(file), "%s/plain-file", dir);
    sinktest_write_file(file, "x", 1);
    snprintf(sub, sizeof(sub), "%s/out", file);
    sink_file_options_init(&opts, sub);
    cr_assert_lt(sink_file_new(&opts, "lake", &sink), 0);
    cr_assert_null(sink);
    cr_assert_not_null(strstr(tw_err_message(), "cannot create directory"),
                       "%s", tw_err_message());
    cr_assert_not_null(strstr(tw_err_message(), sub), "%s", tw_err_message());
    cr_assert_not_null(strstr(tw_err_message(), "file sink lake"), "%s",
                       tw_err_message());

    /* Missing parents are made. */
    snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
    sink_file_options_init(&opts, sub);
    cr_assert_eq(sink_file_new(&opts, "lake", &sink), 0, "%s",
                 tw_err_message());
    sink_destroy(sink);
    cr_assert(sinktest_exists(sub));
    tw_test_rmdir(dir);
}

Test(sink_file, a_second_sink_on_the_same_directory_and_prefix_is_refused)
{
    struct fixture fx;
    struct sink *second = NULL;
    struct sink_file_options opts;

    fx_init(&fx);
    fx_open(&fx);
    opts = fx.opts;
    cr_assert_eq(sink_file_new(&opts, "again", &second), TW_EBUSY);
    cr_assert_not_null(strstr(tw_err_message(), "events.lock"), "%s",
                       tw_err_message());
    opts.prefix = "other";
    cr_assert_eq(sink_file_new(&opts, "other", &second), 0, "%s",
                 tw_err_message());
    sink_destroy(second);

    /* Once the first closes, the directory can be opened again. */
    fx_close(&fx);
    fx_open(&fx);
    fx_done(&fx);
}

Test(sink_file, bad_options_are_refused_with_a_reason)
{
    char *dir = tw_test_tmpdir();
    struct sink_file_options opts;
    struct sink *sink;
    char long_prefix[SINK_FILE_PREFIX_MAX + 2];
    const char *const prefixes[] = {"", ".hidden", "a/b", "a b", long_prefix};

    memset(long_prefix, 'a', sizeof(long_prefix) - 1);
    long_prefix[sizeof(long_prefix) - 1] = '\0';
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        sink_file_options_init(&opts, dir);
        opts.prefix = prefixes[i];
        cr_assert_eq(sink_file_new(&opts, "lake", &sink), TW_EINVAL,
                     "prefix \"%s\" accepted", prefixes[i]);
        cr_assert_not_null(strstr(tw_err_message(), "prefix"));
    }
    sink_file_options_init(&opts, dir);
    opts.max_in_flight = 0;
    cr_assert_eq(sink_file_new(&opts, "lake", &sink), TW_EINVAL);
    sink_file_options_init(&opts, dir);
    opts.compression = SINK_FILE_COMPRESSION_ZSTD;
    opts.zstd_level = 1000;
    cr_assert_eq(sink_file_new(&opts, "lake", &sink), TW_EINVAL);
    cr_assert_not_null(strstr(tw_err_message(), "zstd_level"));
    sink_file_options_init(&opts, "");
    cr_assert_eq(sink_file_new(&opts, "lake", &sink), TW_EINVAL);
    cr_assert_null(sink);
    tw_test_rmdir(dir);
}
