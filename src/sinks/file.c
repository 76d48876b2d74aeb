/*
 * file.c - the file sink: events as NDJSON files in a directory, rotated
 * by size and age, compressed with zstd once rotated if asked to. The
 * files' names, rotation and recovery after a crash are in file_dir.c;
 * this file queues batches and writes them.
 *
 * Writing: group commit. send() queues the batch and returns; the sink's
 * writer thread does the disk work. It takes every batch queued at once
 * (a group, at most max_in_flight), writes each at the end of the active
 * file with its own pwrite, in the order they were sent, and makes them
 * durable with one fdatasync; only then does it answer each SINK_OK, on
 * the writer thread, in send order. Batches sent while a sync runs wait
 * for the next group, so one sync's cost is shared by all of them, as
 * the log's group commit does (src/log/writer.c). A batch never
 * straddles two files: when rotation is due before a batch of the group,
 * the batches written so far are synced first, then the file rotates and
 * the group goes on in the new file (one sync per file touched).
 *
 * A failed write or sync (ENOSPC, EIO) fails every batch of the group
 * that is not yet durable: the file is cut back (ftruncate) to its size
 * before the first of them, so nothing of a failed batch stays visible,
 * and each is answered SINK_RETRY with the same reason; batches of the
 * group after a failed write are not tried. If even the cut fails, the
 * sink answers SINK_RETRY to every batch until a later cut works (the
 * writer tries before each batch, sink_file_tick once a second). A
 * batch that cannot be one NDJSON line per event or is over
 * max_batch_bytes is SINK_REJECTED without touching the file. The active
 * file is created (O_EXCL) by the first batch after a rotation, and the
 * directory is fsync'd before that batch is written, so the new name
 * survives a machine crash too.
 *
 * Threads and locks. queue_lock guards the ring of sent batches between
 * send() and the writer; lock guards the files and is held by the writer
 * for a whole group and by sink_file_tick, which only tries it (a busy
 * writer checks rotation before every batch itself). Completions run
 * with neither held, so a done may send the next batch at once, and a
 * caller's own lock taken in done (the delivery runtime's) is never
 * nested inside the sink's. The ring has max_in_flight slots: a batch
 * holds an in-flight slot from send() until just before its done, and
 * leaves the ring when the writer takes it, so the ring never overflows.
 */
#include "sinks/file_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "log/io.h"
#include "obs/logging.h"
#include "obs/ratelimit.h"
#include "sinks/counters.h"
#include "sinks/ndjson.h"

/* Paths are dir + '/' + a name: the directory may use the rest. */
#define FILE_DIR_MAX (PATH_MAX - FILE_NAME_MAX - 2)
/* The batch buffer keeps at most this much memory between batches. */
#define FILE_KEEP_BUFFER_BYTES (1u << 20)
#define FILE_WARN_INTERVAL_MS 10000

/* A batch between send() and the writer. */
struct file_job {
    struct sink_batch batch; /* the caller's; valid until done runs */
    sink_done_cb done;
    void *ctx;
    uint64_t started_ns;
    int64_t now_ms; /* the sink's clock when it was sent */
};

enum file_item_state {
    FILE_ITEM_PENDING = 0, /* not looked at yet */
    FILE_ITEM_UNSYNCED,    /* written, waiting for its sync */
    FILE_ITEM_SETTLED,     /* its result is final */
};

/* A job in the group the writer is working on. */
struct file_item {
    struct file_job job;
    enum file_item_state state;
    struct sink_result result;
    uint64_t written; /* bytes it added to the active file */
};

/* The batches of a group written since the active file's last sync. */
struct file_run {
    uint64_t start; /* the file's size before the first of them */
    size_t count;
};

static const struct sink_ops file_ops;

static struct sink_file *file_of(struct sink *sink)
{
    assert(sink->ops == &file_ops);
    return (struct sink_file *)sink;
}

static int64_t file_now(const struct sink_file *fs)
{
    if (fs->opts.clock_ms != NULL) {
        return fs->opts.clock_ms(fs->opts.clock_ctx);
    }
    return tw_now_ms();
}

/*
 * Replaces the thread's error message with one that names the sink, so a
 * failure to open says which destination it was about.
 */
static int file_name_error(int rc, const char *name)
{
    char message[512];

    snprintf(message, sizeof(message), "%s", tw_err_message());
    return tw_err_set(rc, "file sink %s: %s", name, message);
}

void file_warn(struct sink_file *fs, struct obs_ratelimit *rl, const char *msg,
               const char *error)
{
    uint64_t suppressed;

    if (obs_ratelimit_allow(rl, FILE_WARN_INTERVAL_MS, &suppressed)) {
        OBS_LOG(OBS_WARN, "sink", msg,
                "sink=%s dir=%s error=\"%s\" suppressed=%" PRIu64,
                fs->base.name, fs->dir, error, suppressed);
    }
}

/* ----------------------------------------------------------- writing -- */

/* Starts a new active file for the batch about to be written. */
static int file_open_active(struct sink_file *fs, int64_t now)
{
    int64_t created = now > 0 ? now : 0;
    char path[PATH_MAX];
    int fd;

    for (int attempt = 0;; attempt++) {
        file_make_stem(fs, fs->next_seq, created, fs->stem);
        file_path(fs, fs->stem, FILE_ACTIVE, path);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            break;
        }
        if (errno != EEXIST || attempt == 3) {
            return tw_err_errno(errno, "cannot create %s", path);
        }
        fs->next_seq++;
    }
    fs->next_seq++;

    /* The batch's fdatasync keeps its bytes; this keeps the name. */
    if (io_fsync_dir(fs->dir) < 0) {
        int rc = tw_err_errno(errno,
                              "cannot sync directory %s after "
                              "creating %s",
                              fs->dir, path);

        close(fd);
        unlink(path);
        return rc;
    }
    fs->fd = fd;
    fs->size = 0;
    fs->created_ms = created;
    return 0;
}

/* Cuts the active file back to its whole lines after a failed batch. */
static int file_cut_back(struct sink_file *fs, struct sink_result *result)
{
    char path[PATH_MAX];
    int err;

    if (io_ftruncate(fs->fd, (off_t)fs->size) == 0) {
        fs->undo_pending = false;
        return 0;
    }
    err = errno;
    fs->undo_pending = true;
    atomic_fetch_add(&fs->undo_failures, 1);
    file_path(fs, fs->stem, FILE_ACTIVE, path);
    if (result != NULL) {
        sink_result_set(result, SINK_RETRY,
                        "the bytes of an earlier failed batch could not be "
                        "cut from %s yet (%s); no batch is written until "
                        "they are",
                        path, strerror(err));
    }
    return -1;
}

/* The batch's NDJSON into fs->text; false with result set on failure. */
static bool file_build_text(struct sink_file *fs,
                            const struct sink_batch *batch,
                            struct sink_result *result)
{
    tw_buf_reset(&fs->text);
    for (size_t i = 0; i < batch->count; i++) {
        tw_buf_append(&fs->text, batch->events[i].data,
                      batch->events[i].data_len);
        tw_buf_putc(&fs->text, '\n');
    }
    if (tw_buf_status(&fs->text) < 0) {
        sink_result_set(result, SINK_RETRY,
                        "no memory for a batch of %zu events", batch->count);
        return false;
    }
    return true;
}

/* Gives back the memory of an unusually large batch. */
static void file_trim_buffer(struct sink_file *fs)
{
    if (fs->text.cap > FILE_KEEP_BUFFER_BYTES) {
        size_t max = fs->text.max;

        tw_buf_free(&fs->text);
        tw_buf_init(&fs->text, max);
    }
}

/*
 * Settles what needs no disk: an empty batch (SINK_OK), one that cannot
 * be NDJSON or is too large (SINK_REJECTED), one held back by a cut that
 * has not worked yet (SINK_RETRY). True when the batch is to be written;
 * *bytes is then its NDJSON size.
 */
static bool file_item_ready(struct sink_file *fs, struct file_item *it,
                            uint64_t *bytes)
{
    const struct sink_batch *batch = &it->job.batch;

    it->state = FILE_ITEM_SETTLED;
    if (batch->count == 0 || !sink_ndjson_check(batch, &it->result)) {
        return false;
    }
    *bytes = sink_ndjson_size(batch);
    if (*bytes > fs->opts.max_batch_bytes) {
        sink_result_set(&it->result, SINK_REJECTED,
                        "the batch is %" PRIu64 " bytes as NDJSON, more than "
                        "the file sink's max_batch_bytes (%zu)",
                        *bytes, fs->opts.max_batch_bytes);
        return false;
    }
    if (fs->undo_pending && file_cut_back(fs, &it->result) < 0) {
        return false;
    }
    it->state = FILE_ITEM_PENDING;
    return true;
}

/*
 * A write or sync failed with err: every batch of the group not yet
 * durable is answered SINK_RETRY, and the file is cut back to where the
 * first of them started.
 */
static void file_fail_group(struct sink_file *fs, struct file_item *items,
                            size_t n, struct file_run *run, const char *what,
                            int err)
{
    char path[PATH_MAX];
    uint64_t failed = 0;

    file_path(fs, fs->stem, FILE_ACTIVE, path);
    for (size_t i = 0; i < n; i++) {
        if (items[i].state != FILE_ITEM_SETTLED) {
            sink_result_set(&items[i].result, SINK_RETRY, "cannot %s %s: %s",
                            what, path, strerror(err));
            items[i].state = FILE_ITEM_SETTLED;
            items[i].written = 0;
            failed++;
        }
    }
    atomic_fetch_add(&fs->write_failures, failed);
    if (run->count > 0) {
        fs->size = run->start;
    }
    run->count = 0;
    fs->undo_pending = true;
    (void)file_cut_back(fs, NULL);
}

/* Makes the run durable: one fdatasync for all of its batches. */
static int file_sync_run(struct sink_file *fs, struct file_item *items,
                         size_t n, struct file_run *run)
{
    if (run->count == 0) {
        return 0;
    }
    atomic_fetch_add(&fs->syncs, 1);
    if (io_fdatasync(fs->fd) < 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].state == FILE_ITEM_UNSYNCED) {
            items[i].state = FILE_ITEM_SETTLED;
        }
    }
    atomic_fetch_add(&fs->batches_synced, run->count);
    atomic_store(&fs->active_bytes, fs->size);
    run->count = 0;
    return 0;
}

/* Appends one batch to the active file; -1 (errno) if the write failed. */
static int file_write_item(struct sink_file *fs, struct file_item *it,
                           struct file_run *run)
{
    if (!file_build_text(fs, &it->job.batch, &it->result)) {
        it->state = FILE_ITEM_SETTLED;
        return 0;
    }
    if (run->count == 0) {
        run->start = fs->size;
    }
    if (io_pwrite_all(fs->fd, fs->text.data, fs->text.len, (off_t)fs->size) <
        0) {
        return -1;
    }
    fs->size += fs->text.len;
    it->written = fs->text.len;
    it->state = FILE_ITEM_UNSYNCED;
    run->count++;
    return 0;
}

/*
 * Writes a group in order and syncs it, rotating between batches where
 * due; leaves every item settled. Holds the files' lock throughout.
 */
static void file_write_group(struct sink_file *fs, struct file_item *items,
                             size_t n)
{
    struct file_run run = {0};
    uint64_t bytes = 0;

    pthread_mutex_lock(&fs->lock);
    for (size_t i = 0; i < n; i++) {
        struct file_item *it = &items[i];

        if (!file_item_ready(fs, it, &bytes)) {
            continue;
        }
        if (file_rotation_due(fs, it->job.now_ms, bytes)) {
            /* What the old file got of the group is made durable first:
             * after a rotation the old file is never written again. */
            if (file_sync_run(fs, items, n, &run) < 0) {
                file_fail_group(fs, items, n, &run, "sync", errno);
                break;
            }
            (void)file_rotate_active(fs, it->job.now_ms);
        }
        if (fs->fd < 0 && file_open_active(fs, it->job.now_ms) < 0) {
            sink_result_set(&it->result, SINK_RETRY, "%s", tw_err_message());
            it->state = FILE_ITEM_SETTLED;
            continue;
        }
        if (file_write_item(fs, it, &run) < 0) {
            file_fail_group(fs, items, n, &run, "write", errno);
            break;
        }
    }
    if (file_sync_run(fs, items, n, &run) < 0) {
        file_fail_group(fs, items, n, &run, "sync", errno);
    }
    file_trim_buffer(fs);
    pthread_mutex_unlock(&fs->lock);
}

/* One rate-limited warning per group for its failed or refused batches. */
static void file_warn_group(struct sink_file *fs, const struct file_item *items,
                            size_t n)
{
    const struct file_item *first = NULL;
    char error[sizeof(items->result.detail) + 64];
    size_t failed = 0;

    for (size_t i = 0; i < n; i++) {
        if (items[i].result.outcome != SINK_OK) {
            first = first != NULL ? first : &items[i];
            failed++;
        }
    }
    if (first == NULL) {
        return;
    }
    snprintf(error, sizeof(error), "%zu of %zu batches: %s", failed, n,
             first->result.detail);
    file_warn(fs, &fs->warn_write,
              first->result.outcome == SINK_RETRY
                  ? "batches failed; they may be retried"
                  : "batches rejected",
              error);
}

/* Runs the group's completions, in send order, with no lock held. */
static void file_complete_group(struct sink_file *fs, struct file_item *items,
                                size_t n)
{
    file_warn_group(fs, items, n);
    for (size_t i = 0; i < n; i++) {
        struct file_item *it = &items[i];

        assert(it->state == FILE_ITEM_SETTLED);
        sink_counters_leave(&fs->counters, &it->result, it->job.batch.count,
                            it->written, it->job.started_ns);
        it->job.done(it->job.ctx, &it->result);
    }
}

/*
 * Waits for sent batches and moves all of them into fs->group. Returns
 * how many; 0 once the sink is stopping and nothing is left.
 */
static size_t file_take_group(struct sink_file *fs)
{
    size_t slots = fs->opts.max_in_flight;
    size_t n;

    pthread_mutex_lock(&fs->queue_lock);
    while (fs->queue_count == 0 && !fs->stopping) {
        pthread_cond_wait(&fs->queue_cond, &fs->queue_lock);
    }
    n = fs->queue_count;
    for (size_t i = 0; i < n; i++) {
        fs->group[i] = (struct file_item){
            .job = fs->queue[(fs->queue_head + i) % slots],
        };
        sink_result_init(&fs->group[i].result);
    }
    fs->queue_head = (fs->queue_head + n) % slots;
    fs->queue_count = 0;
    pthread_mutex_unlock(&fs->queue_lock);
    return n;
}

static void *file_writer_main(void *arg)
{
    struct sink_file *fs = arg;
    size_t n;

    while ((n = file_take_group(fs)) > 0) {
        file_write_group(fs, fs->group, n);
        file_complete_group(fs, fs->group, n);
    }
    return NULL;
}

/* Lets the writer finish every queued batch, then joins it. */
static void file_writer_stop(struct sink_file *fs)
{
    if (!fs->writer_running) {
        return;
    }
    /* A done that destroys its sink would wait for itself. */
    assert(!pthread_equal(pthread_self(), fs->writer));
    pthread_mutex_lock(&fs->queue_lock);
    fs->stopping = true;
    pthread_cond_signal(&fs->queue_cond);
    pthread_mutex_unlock(&fs->queue_lock);
    pthread_join(fs->writer, NULL);
    fs->writer_running = false;
}

/* --------------------------------------------------- the sink's ops -- */

static int file_send(struct sink *sink, const struct sink_batch *batch,
                     sink_done_cb done, void *ctx)
{
    struct sink_file *fs = file_of(sink);
    struct file_job job = {.started_ns = tw_monotonic_ns()};
    size_t slots = fs->opts.max_in_flight;

    if (batch == NULL || done == NULL ||
        (batch->count > 0 && batch->events == NULL)) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: send needs a batch and a completion",
                          sink->name);
    }
    if (!sink_counters_enter(&fs->counters)) {
        return tw_err_set(TW_EFULL,
                          "file sink %s: %u batches are in flight already",
                          sink->name, fs->opts.max_in_flight);
    }
    job.batch = *batch;
    job.done = done;
    job.ctx = ctx;
    job.now_ms = file_now(fs);

    pthread_mutex_lock(&fs->queue_lock);
    assert(fs->queue_count < slots);
    fs->queue[(fs->queue_head + fs->queue_count) % slots] = job;
    fs->queue_count++;
    pthread_cond_signal(&fs->queue_cond);
    pthread_mutex_unlock(&fs->queue_lock);
    return 0;
}

static void file_stats_op(struct sink *sink, struct sink_stats *stats)
{
    sink_counters_read(&file_of(sink)->counters, stats);
}

static void file_free(struct sink_file *fs)
{
    if (fs->fd >= 0) {
        close(fs->fd);
    }
    if (fs->lock_fd >= 0) {
        close(fs->lock_fd);
    }
    ZSTD_freeCCtx(fs->zstd);
    free(fs->zstd_in);
    free(fs->zstd_out);
    tw_buf_free(&fs->text);
    free(fs->queue);
    free(fs->group);
    pthread_cond_destroy(&fs->queue_cond);
    pthread_mutex_destroy(&fs->queue_lock);
    pthread_mutex_destroy(&fs->lock);
    free(fs->name);
    free(fs);
}

static void file_destroy(struct sink *sink)
{
    struct sink_file *fs = file_of(sink);

    file_writer_stop(fs);
    assert(atomic_load(&fs->counters.in_flight) == 0);
    file_free(fs);
}

static const struct sink_ops file_ops = {
    .type = "file",
    .send = file_send,
    .stats = file_stats_op,
    .destroy = file_destroy,
    .tick = sink_file_tick,
};

/* ------------------------------------------------------------ opening -- */

void sink_file_options_init(struct sink_file_options *opts, const char *dir)
{
    *opts = (struct sink_file_options){
        .dir = dir,
        .prefix = "events",
        .max_bytes = 64u << 20,
        .max_age_ms = 3600 * 1000,
        .compression = SINK_FILE_COMPRESSION_NONE,
        .zstd_level = 3,
        .max_in_flight = 4,
        .max_batch_bytes = 16u << 20,
    };
}

static int file_check_options(const struct sink_file_options *o,
                              const char *name)
{
    const char *prefix = o->prefix != NULL ? o->prefix : "events";

    if (o->dir == NULL || o->dir[0] == '\0') {
        return tw_err_set(TW_EINVAL, "file sink %s: no directory given", name);
    }
    if (strlen(o->dir) > FILE_DIR_MAX) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: the directory path is longer than "
                          "%d bytes",
                          name, FILE_DIR_MAX);
    }
    if (!file_prefix_ok(prefix)) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: prefix \"%s\" must be 1 to %d of "
                          "A-Z a-z 0-9 . _ - and not start with '.'",
                          name, prefix, SINK_FILE_PREFIX_MAX);
    }
    if (o->max_in_flight == 0 || o->max_in_flight > SINK_FILE_MAX_IN_FLIGHT ||
        o->max_batch_bytes == 0 || o->max_age_ms < 0) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: max_in_flight must be 1 to %d, "
                          "max_batch_bytes positive, max_age_ms not negative",
                          name, SINK_FILE_MAX_IN_FLIGHT);
    }
    if (o->compression != SINK_FILE_COMPRESSION_NONE &&
        o->compression != SINK_FILE_COMPRESSION_ZSTD) {
        return tw_err_set(TW_EINVAL, "file sink %s: unknown compression %d",
                          name, (int)o->compression);
    }
    if (o->compression == SINK_FILE_COMPRESSION_ZSTD &&
        (o->zstd_level < ZSTD_minCLevel() ||
         o->zstd_level > ZSTD_maxCLevel())) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: zstd_level %d is outside %d..%d", name,
                          o->zstd_level, ZSTD_minCLevel(), ZSTD_maxCLevel());
    }
    return 0;
}

static int file_zstd_init(struct sink_file *fs)
{
    fs->zstd = ZSTD_createCCtx();
    fs->zstd_in_size = ZSTD_CStreamInSize();
    fs->zstd_out_size = ZSTD_CStreamOutSize();
    fs->zstd_in = malloc(fs->zstd_in_size);
    fs->zstd_out = malloc(fs->zstd_out_size);
    if (fs->zstd == NULL || fs->zstd_in == NULL || fs->zstd_out == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for zstd");
    }
    /* The checksum lets `zstd -t` and readers verify a rotated file. */
    if (ZSTD_isError(ZSTD_CCtx_setParameter(fs->zstd, ZSTD_c_compressionLevel,
                                            fs->opts.zstd_level)) ||
        ZSTD_isError(
            ZSTD_CCtx_setParameter(fs->zstd, ZSTD_c_checksumFlag, 1))) {
        return tw_err_set(TW_EINVAL, "zstd refused level %d",
                          fs->opts.zstd_level);
    }
    return 0;
}

static int file_open_dir(struct sink_file *fs)
{
    int rc;

    if (fs->opts.compression == SINK_FILE_COMPRESSION_ZSTD) {
        rc = file_zstd_init(fs);
        if (rc < 0) {
            return rc;
        }
    }
    if (file_mkdirs(fs->dir) < 0) {
        return tw_err_errno(errno, "cannot create directory %s", fs->dir);
    }
    rc = file_take_lock(fs);
    if (rc < 0) {
        return rc;
    }
    return file_recover(fs);
}

static int file_writer_start(struct sink_file *fs)
{
    int rc;

    fs->queue = calloc(fs->opts.max_in_flight, sizeof(*fs->queue));
    fs->group = calloc(fs->opts.max_in_flight, sizeof(*fs->group));
    if (fs->queue == NULL || fs->group == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for %u batches in flight",
                          fs->opts.max_in_flight);
    }
    rc = pthread_create(&fs->writer, NULL, file_writer_main, fs);
    if (rc != 0) {
        return tw_err_errno(rc, "cannot start the writer thread");
    }
    pthread_setname_np(fs->writer, "tw-sink-file");
    fs->writer_running = true;
    return 0;
}

int sink_file_new(const struct sink_file_options *opts, const char *name,
                  struct sink **out)
{
    struct sink_file *fs;
    int rc;

    *out = NULL;
    if (opts == NULL || name == NULL) {
        return tw_err_set(TW_EINVAL, "file sink: options and a name needed");
    }
    rc = file_check_options(opts, name);
    if (rc < 0) {
        return rc;
    }
    fs = calloc(1, sizeof(*fs));
    if (fs == NULL || (fs->name = strdup(name)) == NULL) {
        free(fs);
        return tw_err_set(TW_ENOMEM, "file sink %s: no memory", name);
    }
    fs->base.ops = &file_ops;
    fs->base.name = fs->name;
    fs->opts = *opts;
    snprintf(fs->dir, sizeof(fs->dir), "%s", opts->dir);
    snprintf(fs->prefix, sizeof(fs->prefix), "%s",
             opts->prefix != NULL ? opts->prefix : "events");
    fs->opts.dir = fs->dir;
    fs->opts.prefix = fs->prefix;
    fs->fd = -1;
    fs->lock_fd = -1;
    pthread_mutex_init(&fs->lock, NULL);
    pthread_mutex_init(&fs->queue_lock, NULL);
    pthread_cond_init(&fs->queue_cond, NULL);
    tw_buf_init(&fs->text, opts->max_batch_bytes);
    sink_counters_init(&fs->counters, opts->max_in_flight);

    rc = file_open_dir(fs);
    if (rc == 0) {
        rc = file_writer_start(fs);
    }
    if (rc < 0) {
        rc = file_name_error(rc, name);
        file_free(fs);
        return rc;
    }
    OBS_LOG(OBS_INFO, "sink", "file sink opened",
            "sink=%s dir=%s active=%s%s bytes=%" PRIu64 " next_seq=%" PRIu64,
            name, fs->dir, fs->fd >= 0 ? fs->stem : "none",
            fs->fd >= 0 ? file_suffixes[FILE_ACTIVE] : "", fs->size,
            fs->next_seq);
    *out = &fs->base;
    return 0;
}

int sink_file_tick(struct sink *sink)
{
    struct sink_file *fs = file_of(sink);
    int64_t now = file_now(fs);
    int rc = 0;

    /* A writer at work checks rotation before each batch itself; the
     * runtime's thread that ticks should not wait behind its syncs. */
    if (pthread_mutex_trylock(&fs->lock) != 0) {
        return 0;
    }
    if (fs->undo_pending) {
        (void)file_cut_back(fs, NULL);
    }
    if (file_rotation_due(fs, now, 0)) {
        rc = file_rotate_active(fs, now);
    }
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

void sink_file_stats(struct sink *sink, struct sink_file_stats *stats)
{
    struct sink_file *fs = file_of(sink);

    sink_counters_read(&fs->counters, &stats->sink);
    stats->rotations = atomic_load(&fs->rotations);
    stats->rotation_failures = atomic_load(&fs->rotation_failures);
    stats->write_failures = atomic_load(&fs->write_failures);
    stats->undo_failures = atomic_load(&fs->undo_failures);
    stats->active_bytes = atomic_load(&fs->active_bytes);
    stats->syncs = atomic_load(&fs->syncs);
    stats->batches_synced = atomic_load(&fs->batches_synced);
    stats->recovery = fs->recovery;
}
