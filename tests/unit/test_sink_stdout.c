/*
 * test_sink_stdout.c - the stdout sink writes exactly one line per event
 * to its descriptor, in order and whole however large the batch; a
 * reader that went away is a SINK_RETRY, never a SIGPIPE; a stalled
 * reader holds batches in flight up to max_in_flight; and a write cut in
 * the middle of a line is completed before anything else is written.
 *
 * Every test writes into a pipe it reads back (or /dev/full for a full
 * disk), never into the test's own standard output.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "obs/logging.h"
#include "sinks/stdout.h"
#include "support/sinkevents.h"
#include "support/sinktest.h"

#define PRODUCER 11u

static void quiet(void)
{
    obs_log_set_level(OBS_OFF);
}

TestSuite(sink_stdout, .init = quiet);

static struct sink *open_sink(int fd, unsigned max_in_flight)
{
    struct sink_stdout_options opts;
    struct sink *sink = NULL;

    sink_stdout_options_init(&opts);
    opts.fd = fd;
    if (max_in_flight > 0) {
        opts.max_in_flight = max_in_flight;
    }
    cr_assert_eq(sink_stdout_new(&opts, "watch", &sink), 0, "%s",
                 tw_err_message());
    return sink;
}

static struct sink_stdout_stats stats_of(struct sink *sink)
{
    struct sink_stdout_stats st;

    sink_stdout_stats(sink, &st);
    return st;
}

/* Everything the pipe holds now, without waiting, appended to out. */
static void drain(int fd, FILE *out)
{
    char buf[65536];
    int flags = fcntl(fd, F_GETFL);

    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n <= 0) {
            cr_assert(n == 0 || errno == EAGAIN, "read: %s", strerror(errno));
            break;
        }
        fwrite(buf, 1, (size_t)n, out);
    }
    fflush(out);
    fcntl(fd, F_SETFL, flags);
}

/* A batch of the given texts. */
struct text_batch {
    struct sink_event events[8];
    struct sink_batch batch;
};

static void text_batch(struct text_batch *tb, const char *const *texts,
                       size_t count)
{
    for (size_t i = 0; i < count; i++) {
        tb->events[i] =
            (struct sink_event){.data = texts[i], .data_len = strlen(texts[i])};
    }
    tb->batch =
        (struct sink_batch){.events = tb->events, .count = count, .attempt = 1};
}

Test(sink_stdout, writes_each_event_as_its_json_text_and_one_newline_in_order)
{
    static const char *const first[] = {"{\"a\":1}", "{\"b\":\"x y\"}"};
    static const char *const second[] = {"[]"};
    static const char want[] = "{\"a\":1}\n{\"b\":\"x y\"}\n[]\n";
    struct text_batch tb;
    struct sink_stdout_stats st;
    char *got;
    size_t got_len;
    FILE *out = open_memstream(&got, &got_len);
    int fds[2];
    struct sink *sink;

    cr_assert_eq(pipe(fds), 0);
    sink = open_sink(fds[1], 0);
    text_batch(&tb, first, 2);
    sinktest_send_ok(sink, &tb.batch);
    text_batch(&tb, second, 1);
    sinktest_send_ok(sink, &tb.batch);
    drain(fds[0], out);
    cr_assert_eq(got_len, sizeof(want) - 1);
    cr_assert(memcmp(got, want, got_len) == 0, "got \"%s\"", got);

    st = stats_of(sink);
    cr_assert_eq(st.sink.batches_sent, 2);
    cr_assert_eq(st.sink.batches_ok, 2);
    cr_assert_eq(st.sink.events_ok, 3);
    cr_assert_eq(st.sink.bytes_out, sizeof(want) - 1);
    cr_assert_eq(st.sink.in_flight, 0);
    sink_destroy(sink);
    fclose(out);
    free(got);
    close(fds[0]);
    close(fds[1]);
}

/* Reads a pipe to its end on another thread. */
struct reader {
    int fd;
    pthread_t thread;
    char *data;
    size_t len;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    FILE *out = open_memstream(&r->data, &r->len);
    char buf[65536];
    ssize_t n;

    while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
        fwrite(buf, 1, (size_t)n, out);
    }
    fclose(out);
    return NULL;
}

static void reader_start(struct reader *r, int fd)
{
    r->fd = fd;
    cr_assert_eq(pthread_create(&r->thread, NULL, reader_main, r), 0);
}

Test(sink_stdout, a_batch_of_thousands_of_events_goes_out_whole_and_in_order)
{
    enum {
        COUNT = 3000
    };
    struct sink_event *events = calloc(COUNT, sizeof(*events));
    char(*texts)[SINKEVENTS_TEXT_MAX] = malloc(COUNT * SINKEVENTS_TEXT_MAX);
    struct sink_batch batch = {.events = events, .count = COUNT};
    struct reader r = {0};
    char *want;
    size_t want_len;
    FILE *expect = open_memstream(&want, &want_len);
    int fds[2];
    struct sink *sink;

    cr_assert(events != NULL && texts != NULL);
    for (uint32_t i = 0; i < COUNT; i++) {
        events[i].data = texts[i];
        events[i].data_len = sinkevents_text(texts[i], PRODUCER, i / 40, i);
        fprintf(expect, "%s\n", texts[i]);
    }
    fclose(expect);
    cr_assert_gt(want_len, 256u << 10, "the batch must outgrow a pipe");
    cr_assert_eq(pipe(fds), 0);
    reader_start(&r, fds[0]);
    sink = open_sink(fds[1], 0);

    sinktest_send_ok(sink, &batch);
    close(fds[1]);
    pthread_join(r.thread, NULL);
    cr_assert_eq(r.len, want_len, "%zu bytes read, %zu sent", r.len, want_len);
    cr_assert(memcmp(r.data, want, want_len) == 0, "the lines differ");
    cr_assert_eq(stats_of(sink).sink.bytes_out, want_len);
    sink_destroy(sink);
    close(fds[0]);
    free(r.data);
    free(want);
    free(texts);
    free(events);
}

static bool sigpipe_pending(void)
{
    sigset_t pending;

    sigemptyset(&pending);
    sigpending(&pending);
    return sigismember(&pending, SIGPIPE) == 1;
}

static bool sigpipe_blocked(void)
{
    sigset_t mask;

    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    return sigismember(&mask, SIGPIPE) == 1;
}

Test(sink_stdout, a_reader_that_went_away_is_a_retry_and_never_a_sigpipe)
{
    static const char *const one[] = {"{\"a\":1}"};
    struct text_batch tb;
    struct sink_result r;
    int fds[2];
    struct sink *sink;

    /* The default action of SIGPIPE ends the process: the test would die. */
    signal(SIGPIPE, SIG_DFL);
    cr_assert_eq(pipe(fds), 0);
    close(fds[0]);
    sink = open_sink(fds[1], 0);
    text_batch(&tb, one, 1);
    for (int i = 0; i < 2; i++) {
        r = sinktest_send(sink, &tb.batch);
        cr_assert_eq(r.outcome, SINK_RETRY);
        cr_assert_not_null(strstr(r.detail, "EPIPE"), "%s", r.detail);
    }
    cr_assert_not(sigpipe_pending(), "a SIGPIPE was left pending");
    cr_assert_not(sigpipe_blocked(), "SIGPIPE was left blocked");
    cr_assert_eq(stats_of(sink).write_failures, 2);
    cr_assert_eq(stats_of(sink).sink.batches_retry, 2);
    sink_destroy(sink);
    close(fds[1]);
}

Test(sink_stdout, a_sigpipe_the_caller_had_pending_is_left_to_the_caller)
{
    static const char *const one[] = {"{\"a\":1}"};
    struct text_batch tb;
    sigset_t pipe_only;
    int fds[2];
    struct sink *sink;

    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
    raise(SIGPIPE);
    cr_assert(sigpipe_pending());
    cr_assert_eq(pipe(fds), 0);
    close(fds[0]);
    sink = open_sink(fds[1], 0);
    text_batch(&tb, one, 1);
    cr_assert_eq(sinktest_send(sink, &tb.batch).outcome, SINK_RETRY);
    cr_assert(sigpipe_pending(), "the caller's pending SIGPIPE was taken");
    cr_assert(sigpipe_blocked(), "the caller's signal mask was changed");
    sink_destroy(sink);
    close(fds[1]);
}

Test(sink_stdout, a_full_disk_behind_stdout_is_a_retry_naming_the_error)
{
    static const char *const one[] = {"{\"a\":1}"};
    struct text_batch tb;
    struct sink_result r;
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    struct sink *sink;

    cr_assert_geq(fd, 0, "/dev/full: %s", strerror(errno));
    sink = open_sink(fd, 0);
    text_batch(&tb, one, 1);
    r = sinktest_send(sink, &tb.batch);
    cr_assert_eq(r.outcome, SINK_RETRY);
    cr_assert_not_null(strstr(r.detail, strerror(ENOSPC)), "%s", r.detail);
    sink_destroy(sink);
    close(fd);
}

Test(sink_stdout, an_event_that_cannot_be_one_line_is_rejected_and_not_written)
{
    static const char *const bad[] = {"{\"a\":1}", "{\"b\":\n2}"};
    struct text_batch tb;
    struct sink_result r;
    char *got;
    size_t got_len;
    FILE *out = open_memstream(&got, &got_len);
    int fds[2];
    struct sink *sink;

    cr_assert_eq(pipe(fds), 0);
    sink = open_sink(fds[1], 0);
    text_batch(&tb, bad, 2);
    r = sinktest_send(sink, &tb.batch);
    cr_assert_eq(r.outcome, SINK_REJECTED);
    cr_assert_not_null(strstr(r.detail, "newline"), "%s", r.detail);
    drain(fds[0], out);
    cr_assert_eq(got_len, 0, "a rejected batch wrote \"%s\"", got);
    cr_assert_eq(stats_of(sink).sink.batches_rejected, 1);
    sink_destroy(sink);
    fclose(out);
    free(got);
    close(fds[0]);
    close(fds[1]);
}

/* Sends a batch on another thread. */
struct sender {
    struct sink *sink;
    const struct sink_batch *batch;
    struct sinktest_done done;
    int rc;
    pthread_t thread;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;

    s->rc = sink_send(s->sink, s->batch, sinktest_done_cb, &s->done);
    return NULL;
}

Test(sink_stdout, a_stalled_reader_holds_batches_in_flight_up_to_the_limit)
{
    enum {
        COUNT = 400
    };
    struct sink_event *events = calloc(COUNT, sizeof(*events));
    char(*texts)[SINKEVENTS_TEXT_MAX] = malloc(COUNT * SINKEVENTS_TEXT_MAX);
    struct sink_batch big = {.events = events, .count = COUNT};
    static const char *const one[] = {"{\"a\":1}"};
    struct text_batch small;
    struct sender s = {0};
    struct sinktest_done refused = {0};
    struct reader r = {0};
    uint64_t deadline = tw_monotonic_ns() + 10000000000u;
    int fds[2];
    struct sink *sink;

    cr_assert(events != NULL && texts != NULL);
    for (uint32_t i = 0; i < COUNT; i++) {
        events[i].data = texts[i];
        events[i].data_len = sinkevents_text(texts[i], PRODUCER, i, 0);
    }
    cr_assert_eq(pipe(fds), 0);
    sink = open_sink(fds[1], 1);
    s.sink = sink;
    s.batch = &big;
    cr_assert_eq(pthread_create(&s.thread, NULL, sender_main, &s), 0);

    /* Nobody reads: the big batch fills the pipe and waits there. */
    while (stats_of(sink).sink.in_flight == 0) {
        cr_assert_lt(tw_monotonic_ns(), deadline, "the send never started");
        sched_yield();
    }
    text_batch(&small, one, 1);
    cr_assert_eq(sink_send(sink, &small.batch, sinktest_done_cb, &refused),
                 TW_EFULL);
    cr_assert_eq(refused.calls, 0);

    reader_start(&r, fds[0]);
    pthread_join(s.thread, NULL);
    cr_assert_eq(s.rc, 0);
    cr_assert_eq(s.done.calls, 1);
    cr_assert_eq(s.done.result.outcome, SINK_OK, "%s", s.done.result.detail);
    sinktest_send_ok(sink, &small.batch);
    close(fds[1]);
    pthread_join(r.thread, NULL);
    cr_assert_gt(r.len, 65536);
    cr_assert_eq(r.data[r.len - 1], '\n');
    sink_destroy(sink);
    close(fds[0]);
    free(r.data);
    free(texts);
    free(events);
}

/* Fills a non-blocking pipe with 4-byte lines until it takes no more. */
static size_t fill_pipe(int fd, FILE *expect)
{
    size_t total = 0;

    for (;;) {
        ssize_t n = write(fd, "[0]\n", 4);

        if (n < 0) {
            cr_assert_eq(errno, EAGAIN, "%s", strerror(errno));
            return total;
        }
        cr_assert_eq(n, 4);
        fputs("[0]\n", expect);
        total += 4;
    }
}

Test(sink_stdout, a_line_cut_by_a_timeout_is_completed_before_the_next_write)
{
    char texts[3][2001];
    const char *ptrs[3] = {texts[0], texts[1], texts[2]};
    struct sink_stdout_options opts;
    struct text_batch tb;
    struct sink_result res;
    struct sink *sink;
    char *got;
    size_t got_len;
    FILE *out = open_memstream(&got, &got_len);
    char *want;
    size_t want_len;
    FILE *expect = open_memstream(&want, &want_len);
    char page[4096];
    int fds[2];

    for (int i = 0; i < 3; i++) {
        snprintf(texts[i], sizeof(texts[i]), "{\"n\":%d,\"p\":\"%0*d\"}", i,
                 2000 - 14, 0);
        cr_assert_eq(strlen(texts[i]), 2000);
    }
    cr_assert_eq(pipe2(fds, O_NONBLOCK), 0);
    fill_pipe(fds[1], expect);
    /* One page free: part of the batch fits, then the pipe is full. */
    cr_assert_eq(read(fds[0], page, sizeof(page)), (ssize_t)sizeof(page));
    fwrite(page, 1, sizeof(page), out);

    sink_stdout_options_init(&opts);
    opts.fd = fds[1];
    opts.write_timeout_ms = 50;
    cr_assert_eq(sink_stdout_new(&opts, "watch", &sink), 0);
    text_batch(&tb, ptrs, 3);
    res = sinktest_send(sink, &tb.batch);
    cr_assert_eq(res.outcome, SINK_RETRY);
    cr_assert_not_null(strstr(res.detail, "took nothing for 50 ms"), "%s",
                       res.detail);
    drain(fds[0], out);
    cr_assert_gt(got_len, want_len, "nothing of the batch was written");
    cr_assert_neq(got[got_len - 1], '\n', "the write did not cut a line");

    /* The retry first ends the cut line, then writes the batch whole. */
    sinktest_send_ok(sink, &tb.batch);
    drain(fds[0], out);
    fclose(out);
    fclose(expect);

    /* got: the fillers (all of want), the first attempt's lines ending
     * with the completed one, then the whole batch. */
    size_t fill = want_len;
    char batch_text[6004];
    size_t batch_len = 0;

    for (int i = 0; i < 3; i++) {
        memcpy(batch_text + batch_len, texts[i], 2000);
        batch_len += 2000;
        batch_text[batch_len++] = '\n';
    }
    cr_assert_gt(got_len, fill + batch_len);
    cr_assert(memcmp(got, want, fill) == 0, "the fillers changed");
    size_t prefix = got_len - fill - batch_len;
    cr_assert(memcmp(got + fill, batch_text, prefix) == 0,
              "the first attempt's lines are not the batch's");
    cr_assert_eq(got[fill + prefix - 1], '\n',
                 "the cut line was not completed");
    cr_assert(memcmp(got + fill + prefix, batch_text, batch_len) == 0,
              "the retried batch is not whole after the completed line");
    cr_assert_eq(stats_of(sink).lines_broken, 0);
    sink_destroy(sink);
    free(got);
    free(want);
    close(fds[0]);
    close(fds[1]);
}

Test(sink_stdout, bad_options_are_refused_with_a_reason)
{
    struct sink_stdout_options opts;
    struct sink *sink = (struct sink *)1;
    int fds[2];

    sink_stdout_options_init(&opts);
    cr_assert_eq(opts.fd, STDOUT_FILENO);
    opts.fd = -1;
    cr_assert_eq(sink_stdout_new(&opts, "watch", &sink), TW_EINVAL);
    cr_assert_null(sink);
    cr_assert_eq(pipe(fds), 0);
    close(fds[1]);
    opts.fd = fds[1];
    cr_assert_eq(sink_stdout_new(&opts, "watch", &sink), TW_EINVAL);
    cr_assert_not_null(strstr(tw_err_message(), "not open"), "%s",
                       tw_err_message());
    opts.fd = fds[0];
    opts.max_in_flight = 0;
    cr_assert_eq(sink_stdout_new(&opts, "watch", &sink), TW_EINVAL);
    close(fds[0]);
}
