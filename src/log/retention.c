/*
 * retention.c - deleting whole old segments by total size and by age.
 *
 * A pass looks at closed segments only (the active one is never deleted),
 * oldest first across all partitions, and deletes while the log is over
 * its byte budget or the segment's newest record is older than max_age.
 * A segment is kept when a reader is positioned in it, and, with
 * keep_unread, when some cursor has not yet read past its end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "log/engine.h"
#include "obs/logging.h"

static uint64_t log_total_bytes(struct log_embedded *log)
{
    uint64_t total = 0;

    for (uint32_t i = 0; i < log->partitions; i++) {
        struct log_partition *p = &log->parts[i];

        pthread_mutex_lock(&p->lock);
        for (size_t s = 0; s < p->segment_count; s++) {
            total += p->segments[s]->size;
        }
        pthread_mutex_unlock(&p->lock);
    }
    return total;
}

/* The partition whose oldest closed segment has the oldest data, or -1. */
static int oldest_partition(struct log_embedded *log, const bool *blocked)
{
    int best = -1;
    int64_t best_ts = 0;

    for (uint32_t i = 0; i < log->partitions; i++) {
        struct log_partition *p = &log->parts[i];
        int64_t ts;

        if (blocked[i]) {
            continue;
        }
        pthread_mutex_lock(&p->lock);
        bool has_closed = p->segment_count > 1;
        ts = has_closed ? p->segments[0]->max_ts : 0;
        pthread_mutex_unlock(&p->lock);
        if (has_closed && (best < 0 || ts < best_ts)) {
            best = (int)i;
            best_ts = ts;
        }
    }
    return best;
}

static void delete_files(struct log_partition *p, uint64_t base)
{
    char path[PATH_MAX];

    log_partition_file(p, base, "seg", path, sizeof(path));
    if (unlink(path) < 0) {
        OBS_LOG(OBS_ERROR, "log", "cannot delete segment",
                "segment=%s "
                "errno=%d",
                path, errno);
    }
    log_partition_file(p, base, "idx", path, sizeof(path));
    unlink(path);
}

enum verdict {
    VERDICT_DELETED,
    VERDICT_KEPT,    /* wanted, but a reader or cursor needs it */
    VERDICT_NOT_DUE, /* within the limits */
};

/* Deletes partition p's oldest segment if it is due. */
static enum verdict retire_oldest(struct log_embedded *log,
                                  struct log_partition *p, bool over_bytes,
                                  struct log_retention_report *report)
{
    const struct log_retention *ret = &log->opts.retention;
    int64_t now = tw_now_ms();
    uint64_t min_cursor = log_cursors_min(&log->cursors, p->id);
    struct log_segment *seg;
    bool too_old;
    bool unread;

    pthread_mutex_lock(&p->lock);
    seg = p->segments[0];
    too_old = ret->max_age_ms > 0 && seg->max_ts < now - ret->max_age_ms;
    if (!over_bytes && !too_old) {
        pthread_mutex_unlock(&p->lock);
        return VERDICT_NOT_DUE;
    }
    unread = min_cursor != LOG_CURSOR_UNSET && min_cursor < seg->end_offset;
    if (seg->readers > 0 || (unread && ret->keep_unread)) {
        uint64_t base_offset = seg->base_offset;
        int readers = seg->readers;

        pthread_mutex_unlock(&p->lock);
        report->segments_kept_for_cursors++;
        /* Once per pass and partition: the oldest segment blocks the rest,
         * and the log may now exceed its limits. */
        if (readers > 0) {
            OBS_LOG(OBS_WARN, "log",
                    "retention kept a segment an open reader is in",
                    "partition=%u base_offset=%" PRIu64 " readers=%d", p->id,
                    base_offset, readers);
        } else {
            OBS_LOG(OBS_WARN, "log",
                    "retention kept a segment a cursor has not read",
                    "partition=%u base_offset=%" PRIu64
                    " slowest_cursor=%" PRIu64,
                    p->id, base_offset, min_cursor);
        }
        return VERDICT_KEPT;
    }
    memmove(p->segments, p->segments + 1,
            (p->segment_count - 1) * sizeof(*p->segments));
    p->segment_count--;
    pthread_mutex_unlock(&p->lock);

    delete_files(p, seg->base_offset);
    report->segments_deleted++;
    report->bytes_deleted += seg->size;
    report->records_deleted += seg->records;
    atomic_fetch_add(&log->st_segments_deleted, 1);
    if (unread) {
        report->segments_deleted_unread++;
        OBS_LOG(OBS_WARN, "log",
                "retention deleted records a cursor had "
                "not read",
                "partition=%u from=%" PRIu64 " to=%" PRIu64, p->id,
                seg->base_offset, seg->end_offset - 1);
    }
    OBS_LOG(OBS_INFO, "log", "retention deleted a segment",
            "partition=%u "
            "base_offset=%" PRIu64 " bytes=%" PRIu64 " reason=%s",
            p->id, seg->base_offset, seg->size, over_bytes ? "size" : "age");
    free(seg);
    return VERDICT_DELETED;
}

int log_embedded_retention_run(struct log *base,
                               struct log_retention_report *report)
{
    struct log_embedded *log = log_embedded_of(base);
    const struct log_retention *ret = &log->opts.retention;
    struct log_retention_report local = {0};
    bool blocked[LOG_MAX_PARTITIONS] = {false};
    uint64_t total;

    if (report == NULL) {
        report = &local;
    }
    memset(report, 0, sizeof(*report));
    if (log->opts.read_only || (ret->max_bytes == 0 && ret->max_age_ms == 0)) {
        return 0;
    }

    pthread_mutex_lock(&log->retention_lock);
    total = log_total_bytes(log);
    for (;;) {
        int i = oldest_partition(log, blocked);

        if (i < 0) {
            break;
        }
        bool over = ret->max_bytes > 0 && total > ret->max_bytes;
        uint64_t before = report->bytes_deleted;
        enum verdict v = retire_oldest(log, &log->parts[i], over, report);

        if (v == VERDICT_DELETED) {
            total -= report->bytes_deleted - before;
        } else {
            /* Nothing older can go in this partition until this does. */
            blocked[i] = true;
        }
    }
    pthread_mutex_unlock(&log->retention_lock);
    return 0;
}
