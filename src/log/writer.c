/*
 * writer.c - group commit.
 *
 * Callers of log_append encode their batch in their own thread and queue
 * it. One writer thread takes everything queued at once, gives each batch
 * its offsets, writes each partition's batches with one pwritev, then (under
 * the fsync policy) one fdatasync per partition touched, all at once from
 * a few helper threads, and only then makes the batches visible to readers
 * and runs the completions. The longer a sync takes, the more appends
 * queue behind it and the bigger the next group: throughput rises with
 * load while each append waits for at most about two syncs.
 *
 * A failed write or sync is undone by truncating the segment back to where
 * the group started in it, so a failed batch leaves nothing a reader or a
 * later recovery could see, and its offsets are given again. If even the
 * truncate fails, the partition refuses appends until a later attempt at
 * the truncate succeeds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "log/batch.h"
#include "log/engine.h"
#include "log/io.h"
#include "log/segment.h"
#include "obs/logging.h"

/* The most iovecs one pwritev gets (IOV_MAX is 1024 on Linux). */
#define WRITER_IOV_MAX 1024

int log_embedded_append(struct log *base, uint32_t partition,
                        const struct log_record *records, size_t count,
                        log_append_cb cb, void *ctx)
{
    struct log_embedded *log = log_embedded_of(base);
    struct log_pending *item;
    uint8_t *batch;
    uint32_t len;
    int rc;

    if (partition >= log->partitions) {
        return tw_err_set(TW_EINVAL,
                          "partition %u does not exist (the log "
                          "has %u)",
                          partition, log->partitions);
    }
    if (log->opts.read_only) {
        return tw_err_set(TW_EINVAL, "log %s is open read-only", log->path);
    }
    if (atomic_load(&log->full)) {
        atomic_fetch_add(&log->st_rejected_budget, 1);
        return log_full_error(log);
    }
    rc = log_batch_encode(records, count, log->opts.compression,
                          log->opts.zstd_level, log->opts.max_batch_bytes,
                          &batch, &len);
    if (rc < 0) {
        return rc;
    }
    item = calloc(1, sizeof(*item));
    if (item == NULL) {
        free(batch);
        return tw_err_set(TW_ENOMEM, "no memory to queue an append");
    }
    item->partition = partition;
    item->batch = batch;
    item->length = len;
    item->count = (uint32_t)count;
    item->cb = cb;
    item->ctx = ctx;

    pthread_mutex_lock(&log->queue_lock);
    if (log->closing) {
        rc = tw_err_set(TW_ECLOSED, "log %s is closing", log->path);
    } else if (log->pending_batches > 0 &&
               log->pending_bytes + len > log->opts.max_pending_bytes) {
        atomic_fetch_add(&log->st_rejected_full, 1);
        rc = tw_err_set(TW_EFULL,
                        "log %s: %" PRIu64 " bytes already wait "
                        "for the disk (limit %" PRIu64 "); retry later",
                        log->path, log->pending_bytes,
                        log->opts.max_pending_bytes);
    } else {
        if (log->queue_tail != NULL) {
            log->queue_tail->next = item;
        } else {
            log->queue_head = item;
        }
        log->queue_tail = item;
        log->pending_bytes += len;
        log->pending_batches++;
        pthread_cond_signal(&log->queue_cond);
    }
    pthread_mutex_unlock(&log->queue_lock);

    if (rc < 0) {
        free(item->batch);
        free(item);
        return rc;
    }
    atomic_fetch_add(&log->st_appends, 1);
    atomic_fetch_add(&log->st_append_records, count);
    return 0;
}

static struct log_segment *active_segment(struct log_partition *p)
{
    return p->segments[p->segment_count - 1];
}

static void fail_items(struct log_pending *from, struct log_pending *to,
                       int status, const char *message)
{
    for (struct log_pending *it = from; it != to; it = it->next) {
        it->status = status;
        snprintf(it->message, sizeof(it->message), "%s", message);
    }
}

/*
 * Cuts the active segment back to size after a failed write or sync.
 * Returns false when that failed too: the partition is then broken.
 */
static bool undo_write(struct log_partition *p, uint64_t size)
{
    struct log_segment *seg = active_segment(p);

    /* The data ends at size now, whatever the file still holds: a retry
     * cuts back to here (not to synced_size, which under the interval and
     * none policies lags behind completed batches). */
    p->written_size = size;
    if (io_ftruncate(seg->fd, (off_t)size) < 0) {
        p->broken = true;
        OBS_LOG(OBS_ERROR, "log",
                "cannot undo a failed write; partition "
                "refuses appends until the truncate succeeds",
                "partition=%u"
                " size=%" PRIu64 " errno=%d",
                p->id, size, errno);
        return false;
    }
    p->broken = false;
    return true;
}

/* Retries the undo that an earlier failure left pending. */
static bool partition_usable(struct log_partition *p)
{
    return !p->broken || undo_write(p, p->written_size);
}

static bool needs_roll(struct log_embedded *log, struct log_partition *p,
                       uint32_t incoming)
{
    struct log_segment *seg = active_segment(p);

    if (p->written_size <= LOG_SEGMENT_HEADER_SIZE) {
        return false;
    }
    if (p->written_size + incoming > log->opts.segment_max_bytes) {
        return true;
    }
    return log->opts.segment_max_age_ms > 0 &&
           tw_now_ms() - seg->created_ms > log->opts.segment_max_age_ms;
}

/* Writes items [from, to) at the end of the active segment. */
static int write_run(struct log_embedded *log, struct log_partition *p,
                     struct log_pending *from, struct log_pending *to)
{
    struct iovec iov[WRITER_IOV_MAX];
    struct log_segment *seg = active_segment(p);
    struct log_pending *it = from;

    while (it != to) {
        uint64_t pos = p->written_size;
        size_t total = 0;
        int n = 0;

        for (; it != to && n < WRITER_IOV_MAX; it = it->next) {
            iov[n].iov_base = it->batch;
            iov[n].iov_len = it->length;
            total += it->length;
            n++;
        }
        size_t done = 0;
        int first = 0;
        while (done < total) {
            ssize_t w = io_pwritev(seg->fd, iov + first, n - first,
                                   (off_t)(pos + done));
            if (w < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return -errno;
            }
            done += (size_t)w;
            /* Skip the iovecs that a short write finished. */
            while (first < n && (size_t)w >= iov[first].iov_len) {
                w -= (ssize_t)iov[first].iov_len;
                first++;
            }
            if (first < n && w > 0) {
                iov[first].iov_base = (uint8_t *)iov[first].iov_base + w;
                iov[first].iov_len -= (size_t)w;
            }
        }
        p->written_size += total;
        atomic_fetch_add(&log->st_bytes_written, total);
    }
    return 0;
}

static int sync_active(struct log_embedded *log, struct log_partition *p)
{
    uint64_t start = tw_monotonic_ns();
    int rc = io_fdatasync(active_segment(p)->fd);

    atomic_fetch_add(&log->st_syncs, 1);
    atomic_fetch_add(&log->st_sync_ns, tw_monotonic_ns() - start);
    if (rc < 0) {
        return -errno;
    }
    p->synced_size = p->written_size;
    p->last_sync_ms = tw_now_ms();
    return 0;
}

/* Makes items [from, to) that succeeded visible to readers, in order. */
static void publish_range(struct log_embedded *log, struct log_partition *p,
                          struct log_pending *from, struct log_pending *to)
{
    pthread_mutex_lock(&p->lock);
    for (struct log_pending *it = from; it != to; it = it->next) {
        struct log_segment *seg = it->segment;
        bool empty;

        /* A batch that failed before it was placed has no segment. */
        if (it->status != 0) {
            continue;
        }
        empty = seg->end_offset == seg->base_offset;
        if (log_index_add(&seg->index, it->position, it->first_offset,
                          it->max_ts, log->opts.index_interval_bytes) < 0) {
            /* The index is a cache: a missing entry costs a longer scan. */
            OBS_LOG(OBS_WARN, "log", "index entry dropped: no memory",
                    "partition=%u offset=%" PRIu64, p->id, it->first_offset);
        }
        if (empty || it->min_ts < seg->min_ts) {
            seg->min_ts = it->min_ts;
        }
        if (empty || it->max_ts > seg->max_ts) {
            seg->max_ts = it->max_ts;
        }
        seg->end_offset = it->first_offset + it->count;
        seg->records += it->count;
        seg->size = it->position + it->length;
        p->end_offset = seg->end_offset;
    }
    pthread_cond_broadcast(&p->grew);
    pthread_mutex_unlock(&p->lock);
}

/*
 * Seals and writes one partition's items of this group, rolling segments
 * as they fill. Items that fail get their status set; the rest keep 0.
 * Returns the first item written since the last sync of the active
 * segment, which the sync step must cover (or NULL).
 */
static struct log_pending *write_partition(struct log_embedded *log,
                                           struct log_partition *p)
{
    struct log_pending *it = p->group_head;
    struct log_pending *unsynced = NULL;
    char msg[256];

    p->group_unpublished = it;

    if (!partition_usable(p)) {
        snprintf(msg, sizeof(msg),
                 "partition %u: an earlier write failure "
                 "could not be undone yet",
                 p->id);
        fail_items(it, NULL, TW_EIO, msg);
        return NULL;
    }
    while (it != NULL) {
        if (needs_roll(log, p, it->length)) {
            int rc = log_partition_roll_sync(log, p);

            if (rc == 0) {
                /* Durable now: visible before the index is written. */
                publish_range(log, p, p->group_unpublished, it);
                p->group_unpublished = it;
                rc = log_partition_roll_finish(log, p);
            }
            if (rc < 0) {
                OBS_LOG(OBS_ERROR, "log",
                        "cannot start a new segment; the appends fail",
                        "partition=%u error=\"%s\"", p->id, tw_err_message());
                fail_items(it, NULL, rc, tw_err_message());
                return unsynced;
            }
            unsynced = NULL;
        }

        /* A run: the items that fit in the active segment. */
        struct log_pending *end = it;
        uint64_t size = p->written_size;
        uint64_t offset = p->next_offset;
        do {
            log_batch_seal(end->batch, offset);
            end->segment = active_segment(p);
            end->position = size;
            end->first_offset = offset;
            offset += end->count;
            size += end->length;
            end = end->next;
        } while (end != NULL &&
                 size + end->length <= log->opts.segment_max_bytes);

        uint64_t before = p->written_size;
        int err = write_run(log, p, it, end);
        if (err < 0) {
            snprintf(msg, sizeof(msg), "cannot write to partition %u: %s",
                     p->id, strerror(-err));
            OBS_LOG(OBS_ERROR, "log", "write failed; the appends fail",
                    "partition=%u bytes=%" PRIu64 " error=\"%s\"", p->id,
                    size - before, strerror(-err));
            undo_write(p, before);
            fail_items(it, NULL, tw_err_from_errno(-err), msg);
            return unsynced;
        }
        p->next_offset = offset;
        if (unsynced == NULL) {
            unsynced = it;
        }
        it = end;
    }
    return unsynced;
}

/* Syncs where the policy says so; on failure undoes the unsynced items. */
static void sync_partition(struct log_embedded *log, struct log_partition *p,
                           struct log_pending *unsynced, bool force)
{
    char msg[256];
    int err;

    if (unsynced == NULL && !force) {
        return;
    }
    if (p->written_size == p->synced_size) {
        return;
    }
    err = sync_active(log, p);
    if (err == 0 || unsynced == NULL) {
        if (err < 0) {
            OBS_LOG(OBS_ERROR, "log", "periodic sync failed",
                    "partition=%u "
                    "error=\"%s\"",
                    p->id, strerror(-err));
        }
        return;
    }

    /* The data of this group may not be on disk: take it back. */
    snprintf(msg, sizeof(msg), "cannot sync partition %u: %s", p->id,
             strerror(-err));
    OBS_LOG(OBS_ERROR, "log", "sync failed; the group's appends fail",
            "partition=%u error=\"%s\"", p->id, strerror(-err));
    undo_write(p, unsynced->position);
    p->next_offset = unsynced->first_offset;
    fail_items(unsynced, NULL, tw_err_from_errno(-err), msg);
}

static void complete_items(struct log_embedded *log, struct log_pending *it)
{
    uint64_t bytes = 0;
    uint64_t batches = 0;

    /* Stored batches no longer wait for the disk: release their share of
     * the queue before the completions, so that a caller that appends
     * again from or right after its completion is not refused as full. */
    for (struct log_pending *p = it; p != NULL; p = p->next) {
        bytes += p->length;
        batches++;
    }
    pthread_mutex_lock(&log->queue_lock);
    log->pending_bytes -= bytes;
    log->pending_batches -= batches;
    pthread_mutex_unlock(&log->queue_lock);

    while (it != NULL) {
        struct log_pending *next = it->next;

        if (it->status != 0) {
            atomic_fetch_add(&log->st_append_failures, 1);
        }
        if (it->cb != NULL) {
            it->cb(it->ctx, it->status, it->first_offset, it->count,
                   it->status != 0 ? it->message : NULL);
        }
        free(it->batch);
        free(it);
        it = next;
    }
}

/* Sorts the group into per-partition lists, keeping the queue order. */
static void split_group(struct log_embedded *log, struct log_pending *list)
{
    while (list != NULL) {
        struct log_pending *next = list->next;
        struct log_partition *p = &log->parts[list->partition];
        struct log_batch_header hdr;

        log_batch_parse_header(list->batch, list->length, UINT32_MAX, &hdr);
        list->min_ts = hdr.min_ts;
        list->max_ts = hdr.max_ts;
        list->next = NULL;
        if (p->group_tail != NULL) {
            p->group_tail->next = list;
        } else {
            p->group_head = list;
        }
        p->group_tail = list;
        list = next;
    }
}

/*
 * The fdatasyncs that end a group under the fsync policy, one per
 * partition touched, run side by side. Their cost is the device's latency
 * per flush far more than bandwidth, so in a row they would add up while
 * side by side they overlap. Helper threads, started and stopped by the
 * writer thread, take syncs from the round the writer posts; the writer
 * takes some too and waits for the round to end before it publishes. A
 * sync touches only its own partition's writer-side state and items, so
 * partitions need no locking beyond the round's.
 */
#define WRITER_SYNC_PARALLEL 8

struct sync_round {
    struct log_embedded *log;
    pthread_mutex_t lock;
    pthread_cond_t posted;         /* helpers: syncs to take, or stop */
    pthread_cond_t finished;       /* writer: the round's last sync ended */
    struct log_pending **unsynced; /* per partition; NULL: no round */
    uint32_t *todo;                /* partitions to sync */
    uint32_t queued;               /* writer only: todo being filled */
    uint32_t count;                /* todo entries of the posted round */
    uint32_t next;                 /* next todo entry to take */
    uint32_t done;
    bool stop;
    pthread_t helpers[WRITER_SYNC_PARALLEL - 1];
    uint32_t helper_count;
};

/* Takes the next sync of the round (lock held); false when none is left. */
static bool sync_round_take(struct sync_round *r, uint32_t *partition)
{
    if (r->next >= r->count) {
        return false;
    }
    *partition = r->todo[r->next++];
    return true;
}

/* Runs the syncs left in the round (called and returns with lock held). */
static void sync_round_work(struct sync_round *r)
{
    uint32_t i;

    while (sync_round_take(r, &i)) {
        pthread_mutex_unlock(&r->lock);
        sync_partition(r->log, &r->log->parts[i], r->unsynced[i], false);
        pthread_mutex_lock(&r->lock);
        if (++r->done == r->count) {
            pthread_cond_signal(&r->finished);
        }
    }
}

static void *sync_helper_main(void *arg)
{
    struct sync_round *r = arg;

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        sync_round_work(r);
        if (!r->stop) {
            pthread_cond_wait(&r->posted, &r->lock);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/*
 * Prepares the rounds of the writer thread. Without memory for the table
 * the writer syncs each partition as soon as it is written; without
 * helpers it runs the round's syncs itself, one after the other.
 */
static void sync_round_init(struct sync_round *r, struct log_embedded *log)
{
    uint32_t want = log->partitions < WRITER_SYNC_PARALLEL
                        ? log->partitions
                        : WRITER_SYNC_PARALLEL;

    memset(r, 0, sizeof(*r));
    r->log = log;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->posted, NULL);
    pthread_cond_init(&r->finished, NULL);
    if (log->opts.durability != LOG_DURABILITY_FSYNC) {
        return;
    }
    r->unsynced = calloc(log->partitions, sizeof(*r->unsynced));
    r->todo = calloc(log->partitions, sizeof(*r->todo));
    if (r->unsynced == NULL || r->todo == NULL) {
        free(r->unsynced);
        free(r->todo);
        r->unsynced = NULL;
        r->todo = NULL;
        return;
    }
    for (uint32_t i = 0; i + 1 < want; i++) {
        if (pthread_create(&r->helpers[i], NULL, sync_helper_main, r) != 0) {
            OBS_LOG(OBS_WARN, "log",
                    "sync helper not started; partitions "
                    "sync one after the other",
                    "helpers=%u", i);
            break;
        }
        pthread_setname_np(r->helpers[i], "tw-log-sync");
        r->helper_count++;
    }
}

static void sync_round_destroy(struct sync_round *r)
{
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->posted);
    pthread_mutex_unlock(&r->lock);
    for (uint32_t i = 0; i < r->helper_count; i++) {
        pthread_join(r->helpers[i], NULL);
    }
    free(r->unsynced);
    free(r->todo);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->posted);
    pthread_cond_destroy(&r->finished);
}

/* Adds partition i, written up to its items from u on, to the round. */
static void sync_round_add(struct sync_round *r, uint32_t i,
                           struct log_pending *u)
{
    if (u == NULL) {
        return;
    }
    if (r->todo == NULL) {
        sync_partition(r->log, &r->log->parts[i], u, false);
        return;
    }
    r->unsynced[i] = u;
    r->todo[r->queued++] = i;
}

/* Runs the round's syncs, in parallel where helpers exist, to the end. */
static void sync_round_run(struct sync_round *r)
{
    if (r->queued == 0) {
        return;
    }
    pthread_mutex_lock(&r->lock);
    r->count = r->queued;
    r->next = 0;
    r->done = 0;
    if (r->count > 1 && r->helper_count > 0) {
        pthread_cond_broadcast(&r->posted);
    }
    sync_round_work(r);
    while (r->done < r->count) {
        pthread_cond_wait(&r->finished, &r->lock);
    }
    r->count = 0;
    r->next = 0;
    pthread_mutex_unlock(&r->lock);
    r->queued = 0;
}

static void write_group(struct log_embedded *log, struct sync_round *round,
                        struct log_pending *list)
{
    bool fsync_each = log->opts.durability == LOG_DURABILITY_FSYNC;

    split_group(log, list);
    atomic_fetch_add(&log->st_write_groups, 1);

    for (uint32_t i = 0; i < log->partitions; i++) {
        if (log->parts[i].group_head != NULL) {
            struct log_pending *u = write_partition(log, &log->parts[i]);

            if (fsync_each) {
                sync_round_add(round, i, u);
            }
        }
    }
    sync_round_run(round);
    for (uint32_t i = 0; i < log->partitions; i++) {
        struct log_partition *p = &log->parts[i];

        if (p->group_head != NULL) {
            publish_range(log, p, p->group_unpublished, NULL);
        }
    }
    for (uint32_t i = 0; i < log->partitions; i++) {
        struct log_partition *p = &log->parts[i];

        if (p->group_head != NULL) {
            complete_items(log, p->group_head);
            p->group_head = NULL;
            p->group_tail = NULL;
        }
    }
}

/* The interval policy's periodic sync, and the final one at close. */
static void sync_all_written(struct log_embedded *log)
{
    for (uint32_t i = 0; i < log->partitions; i++) {
        sync_partition(log, &log->parts[i], NULL, true);
    }
}

static int64_t writer_next_deadline(struct log_embedded *log, int64_t now)
{
    int64_t deadline = now + 1000;

    if (log->opts.durability == LOG_DURABILITY_INTERVAL) {
        int64_t at = now + (int64_t)log->opts.interval_ms;

        if (at < deadline) {
            deadline = at;
        }
    }
    return deadline;
}

static void writer_timers(struct log_embedded *log)
{
    int64_t now = tw_now_ms();

    if (log->opts.durability == LOG_DURABILITY_INTERVAL) {
        for (uint32_t i = 0; i < log->partitions; i++) {
            struct log_partition *p = &log->parts[i];

            if (now - p->last_sync_ms >= (int64_t)log->opts.interval_ms) {
                sync_partition(log, p, NULL, true);
            }
        }
    }
    for (uint32_t i = 0; i < log->partitions; i++) {
        struct log_partition *p = &log->parts[i];

        /* An idle active segment is rolled by age too, so that age
         * retention can reach the data in it. */
        if (!p->broken && needs_roll(log, p, 0) &&
            (log_partition_roll_sync(log, p) < 0 ||
             log_partition_roll_finish(log, p) < 0)) {
            OBS_LOG(OBS_ERROR, "log", "cannot roll an aged segment",
                    "partition=%u error=\"%s\"", p->id, tw_err_message());
        }
    }
    if (log->opts.retention_interval_ms > 0 && now >= log->next_retention_ms) {
        log->next_retention_ms = now + log->opts.retention_interval_ms;
        log_embedded_retention_run(&log->base, NULL);
    }
    log_budget_check(log, now);
}

static void *writer_main(void *arg)
{
    struct log_embedded *log = arg;
    struct sync_round round;

    sync_round_init(&round, log);
    for (;;) {
        struct log_pending *list;
        struct timespec until;
        int64_t deadline = writer_next_deadline(log, tw_now_ms());

        until.tv_sec = deadline / 1000;
        until.tv_nsec = (deadline % 1000) * 1000000;

        pthread_mutex_lock(&log->queue_lock);
        while (log->queue_head == NULL && !log->closing &&
               tw_now_ms() < deadline) {
            pthread_cond_timedwait(&log->queue_cond, &log->queue_lock, &until);
        }
        list = log->queue_head;
        log->queue_head = NULL;
        log->queue_tail = NULL;
        bool closing = log->closing;
        pthread_mutex_unlock(&log->queue_lock);

        if (list != NULL) {
            write_group(log, &round, list);
        }
        if (closing && list == NULL) {
            break;
        }
        writer_timers(log);
    }
    sync_all_written(log);
    sync_round_destroy(&round);
    return NULL;
}

int log_writer_start(struct log_embedded *log)
{
    int rc = pthread_create(&log->writer, NULL, writer_main, log);

    if (rc != 0) {
        return tw_err_errno(rc, "cannot start the log writer thread");
    }
    pthread_setname_np(log->writer, "tw-log-writer");
    log->writer_running = true;
    return 0;
}

void log_writer_stop(struct log_embedded *log)
{
    if (!log->writer_running) {
        return;
    }
    pthread_mutex_lock(&log->queue_lock);
    log->closing = true;
    pthread_cond_signal(&log->queue_cond);
    pthread_mutex_unlock(&log->queue_lock);
    pthread_join(log->writer, NULL);
    log->writer_running = false;
}
