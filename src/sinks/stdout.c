/*
 * stdout.c - the stdout sink: NDJSON lines written with writev straight
 * from the events, SIGPIPE kept away, and a cut line completed before
 * the next batch (stdout.h says why).
 */
#include "sinks/stdout.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "obs/logging.h"
#include "obs/ratelimit.h"
#include "sinks/counters.h"
#include "sinks/ndjson.h"

/* Two iovecs per event: its text and its newline. */
#define STDOUT_IOV_MAX 1024
#define STDOUT_WARN_INTERVAL_MS 10000

struct sink_stdout {
    struct sink base;
    char *name; /* owned; base.name points here */
    int fd;
    int64_t write_timeout_ms;

    /* Serialises writes, so lines of two batches never interleave. */
    pthread_mutex_t lock;
    struct tw_buf pending; /* the rest of a cut line, to write first */
    size_t pending_at;     /* bytes of it already written */
    bool pending_newline;  /* the rest did not fit: only end the line */

    struct sink_counters counters;
    _Atomic uint64_t write_failures;
    _Atomic uint64_t lines_broken;
    struct obs_ratelimit warn_write;
};

/* Where writing a batch stands: byte `at` of event `event`'s line. */
struct stdout_cursor {
    size_t event;
    size_t at; /* data_len: only the newline is left */
};

static const struct sink_ops stdout_ops;

static struct sink_stdout *stdout_of(struct sink *sink)
{
    assert(sink->ops == &stdout_ops);
    return (struct sink_stdout *)sink;
}

/* ------------------------------------------------------------ SIGPIPE -- */

/*
 * A write to a pipe without a reader raises SIGPIPE, which kills a
 * process that did not ask otherwise. Blocking it in this thread turns it
 * into a plain EPIPE; the signal then waits, pending, and is taken back
 * here, unless one was pending before the write (that one is not ours).
 */
struct stdout_sigpipe {
    sigset_t old;
    bool was_pending;
};

static void stdout_sigpipe_block(struct stdout_sigpipe *sp)
{
    sigset_t pipe_only;
    sigset_t pending;

    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    sp->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_only, &sp->old);
}

static void stdout_sigpipe_restore(const struct stdout_sigpipe *sp, bool raised)
{
    sigset_t pipe_only;
    struct timespec zero = {0, 0};

    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    if (raised && !sp->was_pending) {
        while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &sp->old, NULL);
}

/* ------------------------------------------------------------ writing -- */

/* Waits for a non-blocking fd to take bytes again; 0 or -errno. */
static int stdout_wait_writable(int fd, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = tw_monotonic_ns();
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int rc;

        if (now >= deadline_ns) {
            return -ETIMEDOUT;
        }
        rc = poll(&p, 1, (int)((deadline_ns - now + 999999) / 1000000));
        if (rc > 0) {
            return 0; /* writable, or an error the next write reports */
        }
        if (rc < 0 && errno != EINTR) {
            return -errno;
        }
    }
}

/* One writev, past EINTR and EAGAIN; the bytes written, or -errno. */
static ssize_t stdout_writev(struct sink_stdout *s, const struct iovec *iov,
                             int iovcnt, uint64_t deadline_ns, bool *epipe)
{
    for (;;) {
        ssize_t n = writev(s->fd, iov, iovcnt);
        int rc;

        if (n > 0) {
            return n;
        }
        if (n == 0) {
            return -EIO;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EPIPE) {
            *epipe = true;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -errno;
        }
        rc = stdout_wait_writable(s->fd, deadline_ns);
        if (rc < 0) {
            return rc;
        }
    }
}

/* Writes the rest of a line an earlier failure cut; 0 or -errno. */
static int stdout_flush_pending(struct sink_stdout *s, uint64_t deadline_ns,
                                bool *epipe)
{
    if (s->pending_newline) {
        struct iovec nl = {.iov_base = (void *)"\n", .iov_len = 1};
        ssize_t n = stdout_writev(s, &nl, 1, deadline_ns, epipe);

        if (n < 0) {
            return (int)n;
        }
        s->pending_newline = false;
        return 0;
    }
    while (s->pending_at < s->pending.len) {
        struct iovec rest = {
            .iov_base = s->pending.data + s->pending_at,
            .iov_len = s->pending.len - s->pending_at,
        };
        ssize_t n = stdout_writev(s, &rest, 1, deadline_ns, epipe);

        if (n < 0) {
            return (int)n;
        }
        s->pending_at += (size_t)n;
    }
    tw_buf_reset(&s->pending);
    s->pending_at = 0;
    return 0;
}

/* Keeps the rest of the line the cursor is in, to complete it later. */
static void stdout_keep_rest(struct sink_stdout *s,
                             const struct sink_batch *batch,
                             const struct stdout_cursor *c)
{
    const struct sink_event *e;
    size_t rest;

    if (c->at == 0 || c->event >= batch->count) {
        return; /* the stream ends with a whole line */
    }
    e = &batch->events[c->event];
    rest = e->data_len - c->at + 1;
    tw_buf_reset(&s->pending);
    s->pending_at = 0;
    if (rest <= SINK_STDOUT_PENDING_MAX) {
        tw_buf_append(&s->pending, e->data + c->at, e->data_len - c->at);
        tw_buf_putc(&s->pending, '\n');
    }
    if (rest > SINK_STDOUT_PENDING_MAX || tw_buf_status(&s->pending) < 0) {
        tw_buf_reset(&s->pending);
        s->pending_newline = true;
        atomic_fetch_add(&s->lines_broken, 1);
    }
}

/* Points iov at the lines from the cursor on; returns how many it used. */
static int stdout_fill(const struct sink_batch *batch,
                       const struct stdout_cursor *c, struct iovec *iov)
{
    size_t at = c->at;
    int n = 0;

    for (size_t i = c->event; i < batch->count && n + 2 <= STDOUT_IOV_MAX;
         i++) {
        const struct sink_event *e = &batch->events[i];

        if (at < e->data_len) {
            iov[n++] = (struct iovec){(void *)(e->data + at), e->data_len - at};
        }
        iov[n++] = (struct iovec){(void *)"\n", 1};
        at = 0;
    }
    return n;
}

static void stdout_advance(const struct sink_batch *batch,
                           struct stdout_cursor *c, size_t bytes)
{
    while (bytes > 0) {
        size_t left = batch->events[c->event].data_len + 1 - c->at;

        if (bytes < left) {
            c->at += bytes;
            return;
        }
        bytes -= left;
        c->event++;
        c->at = 0;
    }
}

static void stdout_fail(struct sink_stdout *s, struct sink_result *result,
                        int err, const char *doing)
{
    atomic_fetch_add(&s->write_failures, 1);
    if (err == -ETIMEDOUT) {
        sink_result_set(result, SINK_RETRY,
                        "cannot write %s to fd %d: it took nothing for %" PRId64
                        " ms",
                        doing, s->fd, s->write_timeout_ms);
    } else if (err == -EPIPE) {
        sink_result_set(result, SINK_RETRY,
                        "cannot write %s to fd %d: the reader has closed it "
                        "(EPIPE)",
                        doing, s->fd);
    } else {
        sink_result_set(result, SINK_RETRY, "cannot write %s to fd %d: %s",
                        doing, s->fd, strerror(-err));
    }
}

static void stdout_write_batch(struct sink_stdout *s,
                               const struct sink_batch *batch,
                               struct sink_result *result, bool *epipe)
{
    uint64_t deadline =
        tw_monotonic_ns() + (uint64_t)s->write_timeout_ms * 1000000u;
    struct stdout_cursor c = {0, 0};
    int rc;

    if (batch->count == 0 || !sink_ndjson_check(batch, result)) {
        return;
    }
    rc = stdout_flush_pending(s, deadline, epipe);
    if (rc < 0) {
        stdout_fail(s, result, rc, "the rest of a line cut earlier");
        return;
    }
    while (c.event < batch->count) {
        struct iovec iov[STDOUT_IOV_MAX];
        int iovcnt = stdout_fill(batch, &c, iov);
        ssize_t n = stdout_writev(s, iov, iovcnt, deadline, epipe);

        if (n < 0) {
            stdout_keep_rest(s, batch, &c);
            stdout_fail(s, result, (int)n, "a batch");
            return;
        }
        stdout_advance(batch, &c, (size_t)n);
    }
}

/* --------------------------------------------------- the sink's ops -- */

static int stdout_send(struct sink *sink, const struct sink_batch *batch,
                       sink_done_cb done, void *ctx)
{
    struct sink_stdout *s = stdout_of(sink);
    uint64_t started = tw_monotonic_ns();
    struct stdout_sigpipe sp;
    struct sink_result result;
    bool epipe = false;
    uint64_t suppressed;

    if (batch == NULL || done == NULL ||
        (batch->count > 0 && batch->events == NULL)) {
        return tw_err_set(TW_EINVAL,
                          "stdout sink %s: send needs a batch and a "
                          "completion",
                          sink->name);
    }
    if (!sink_counters_enter(&s->counters)) {
        return tw_err_set(TW_EFULL,
                          "stdout sink %s: %u batches are in flight already",
                          sink->name, s->counters.max_in_flight);
    }
    sink_result_init(&result);

    pthread_mutex_lock(&s->lock);
    stdout_sigpipe_block(&sp);
    stdout_write_batch(s, batch, &result, &epipe);
    stdout_sigpipe_restore(&sp, epipe);
    pthread_mutex_unlock(&s->lock);

    if (result.outcome != SINK_OK &&
        obs_ratelimit_allow(&s->warn_write, STDOUT_WARN_INTERVAL_MS,
                            &suppressed)) {
        OBS_LOG(OBS_WARN, "sink",
                result.outcome == SINK_RETRY ? "batch failed; it may be retried"
                                             : "batch rejected",
                "sink=%s fd=%d error=\"%s\" suppressed=%" PRIu64, sink->name,
                s->fd, result.detail, suppressed);
    }
    sink_counters_leave(&s->counters, &result, batch->count,
                        result.outcome == SINK_OK ? sink_ndjson_size(batch) : 0,
                        started);
    done(ctx, &result);
    return 0;
}

static void stdout_stats_op(struct sink *sink, struct sink_stats *stats)
{
    sink_counters_read(&stdout_of(sink)->counters, stats);
}

static void stdout_destroy(struct sink *sink)
{
    struct sink_stdout *s = stdout_of(sink);

    assert(atomic_load(&s->counters.in_flight) == 0);
    tw_buf_free(&s->pending);
    pthread_mutex_destroy(&s->lock);
    free(s->name);
    free(s);
}

static const struct sink_ops stdout_ops = {
    .type = "stdout",
    .send = stdout_send,
    .stats = stdout_stats_op,
    .destroy = stdout_destroy,
};

void sink_stdout_options_init(struct sink_stdout_options *opts)
{
    *opts = (struct sink_stdout_options){
        .fd = STDOUT_FILENO,
        .max_in_flight = 4,
        .write_timeout_ms = 30000,
    };
}

int sink_stdout_new(const struct sink_stdout_options *opts, const char *name,
                    struct sink **out)
{
    struct sink_stdout *s;

    *out = NULL;
    if (opts == NULL || name == NULL) {
        return tw_err_set(TW_EINVAL, "stdout sink: options and a name needed");
    }
    if (opts->fd < 0 || fcntl(opts->fd, F_GETFL) < 0) {
        return tw_err_set(TW_EINVAL, "stdout sink %s: fd %d is not open", name,
                          opts->fd);
    }
    if (opts->max_in_flight == 0 || opts->write_timeout_ms <= 0) {
        return tw_err_set(TW_EINVAL,
                          "stdout sink %s: max_in_flight and "
                          "write_timeout_ms must be positive",
                          name);
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->name = strdup(name)) == NULL) {
        free(s);
        return tw_err_set(TW_ENOMEM, "stdout sink %s: no memory", name);
    }
    s->base.ops = &stdout_ops;
    s->base.name = s->name;
    s->fd = opts->fd;
    s->write_timeout_ms = opts->write_timeout_ms;
    pthread_mutex_init(&s->lock, NULL);
    tw_buf_init(&s->pending, SINK_STDOUT_PENDING_MAX);
    sink_counters_init(&s->counters, opts->max_in_flight);
    *out = &s->base;
    return 0;
}

void sink_stdout_stats(struct sink *sink, struct sink_stdout_stats *stats)
{
    struct sink_stdout *s = stdout_of(sink);

    sink_counters_read(&s->counters, &stats->sink);
    stats->write_failures = atomic_load(&s->write_failures);
    stats->lines_broken = atomic_load(&s->lines_broken);
}
