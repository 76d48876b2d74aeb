/*
 * retention.c - deleting whole old segments by total size and by age.
 *
 * A pass looks at closed segments only (the active one is never deleted),
 * oldest first across all partitions, and deletes while the log is over
 * its byte budget or the segment's newest record is older than max_age.
 * A segment is kept while a holding cursor (log_cursor_hold; with
 * keep_unread, any cursor) has not read past its end. A pass that ends
 * over the byte budget with such a segment kept marks the log full, and
 * appends are refused until a later pass finds room: the writer runs one
 * every second while the log is over its budget.
 *
 * A reader may be in a segment that goes: the segment leaves the list
 * and its files are removed at once, but its memory stays until the last
 * reader leaves it, and those readers learn of it at their next batch.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/units.h"
#include "log/engine.h"
#include "obs/logging.h"

/* How often the writer looks at the total size when there is a budget. */
#define BUDGET_CHECK_MS 1000

uint64_t log_total_bytes(struct log_embedded *log)
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
    VERDICT_KEPT,    /* wanted, but a holding cursor needs it */
    VERDICT_NOT_DUE, /* within the limits */
};

/* Notes which cursor kept a segment, for the log line and the report. */
static enum verdict kept_for(struct log_retention_report *report,
                             const struct log_partition *p, const char *cursor,
                             bool over_bytes)
{
    report->segments_kept_for_cursors++;
    if (over_bytes && report->held_by[0] == '\0') {
        snprintf(report->held_by, sizeof(report->held_by), "%s", cursor);
        report->held_partition = p->id;
    }
    return VERDICT_KEPT;
}

/* Deletes partition p's oldest segment if it is due. */
static enum verdict retire_oldest(struct log_embedded *log,
                                  struct log_partition *p, bool over_bytes,
                                  struct log_retention_report *report)
{
    const struct log_retention *ret = &log->opts.retention;
    int64_t now = tw_now_ms();
    char slowest[LOG_CURSOR_NAME_MAX + 1] = "";
    uint64_t held =
        log_cursors_min(&log->cursors, p->id, ret->keep_unread, slowest);
    uint64_t any = log_cursors_min(&log->cursors, p->id, true, NULL);
    struct log_segment *seg;
    struct log_segment gone;
    bool too_old;

    pthread_mutex_lock(&p->lock);
    seg = p->segments[0];
    too_old = ret->max_age_ms > 0 && seg->max_ts < now - ret->max_age_ms;
    if (!over_bytes && !too_old) {
        pthread_mutex_unlock(&p->lock);
        return VERDICT_NOT_DUE;
    }
    if (held != LOG_CURSOR_UNSET && held < seg->end_offset) {
        pthread_mutex_unlock(&p->lock);
        return kept_for(report, p, slowest, over_bytes);
    }
    memmove(p->segments, p->segments + 1,
            (p->segment_count - 1) * sizeof(*p->segments));
    p->segment_count--;
    gone = *seg;
    /* A reader in it frees it when it leaves; it may do so as soon as the
     * lock is let go, so only the copy is used below. */
    seg->retired = seg->readers > 0;
    if (!seg->retired) {
        free(seg);
    }
    pthread_mutex_unlock(&p->lock);

    delete_files(p, gone.base_offset);
    report->segments_deleted++;
    report->bytes_deleted += gone.size;
    report->records_deleted += gone.records;
    atomic_fetch_add(&log->st_segments_deleted, 1);
    if (any != LOG_CURSOR_UNSET && any < gone.end_offset) {
        report->segments_deleted_unread++;
        atomic_fetch_add(&log->st_deleted_unread, 1);
        OBS_LOG(OBS_WARN, "log",
                "retention deleted records a cursor that does not hold "
                "had not read",
                "partition=%u from=%" PRIu64 " to=%" PRIu64, p->id,
                gone.base_offset, gone.end_offset - 1);
    }
    OBS_LOG(OBS_INFO, "log", "retention deleted a segment",
            "partition=%u "
            "base_offset=%" PRIu64 " bytes=%" PRIu64 " reason=%s",
            p->id, gone.base_offset, gone.size, over_bytes ? "size" : "age");
    return VERDICT_DELETED;
}

/* Sets or clears the full mark after a pass, saying so when it changes. */
static void budget_settle(struct log_embedded *log,
                          const struct log_retention_report *report,
                          uint64_t total)
{
    char used[TW_SIZE_TEXT_MAX];
    char budget[TW_SIZE_TEXT_MAX];
    bool was = atomic_load(&log->full);

    tw_format_size(total, used, sizeof(used));
    tw_format_size(log->opts.retention.max_bytes, budget, sizeof(budget));
    if (report->full) {
        snprintf(log->full_message, sizeof(log->full_message),
                 "log %s is full: it holds %s against a budget of %s, and "
                 "cursor %s has not read the oldest records of partition %u, "
                 "which it holds",
                 log->path, used, budget, report->held_by,
                 report->held_partition);
    }
    atomic_store(&log->full, report->full);
    if (report->full && !was) {
        OBS_LOG(OBS_WARN, "log",
                "log full: a holding cursor keeps the oldest records; "
                "appends are refused until it moves on",
                "path=%s bytes=%" PRIu64 " max_bytes=%" PRIu64
                " cursor=%s partition=%u",
                log->path, total, log->opts.retention.max_bytes,
                report->held_by, report->held_partition);
    } else if (!report->full && was) {
        OBS_LOG(OBS_INFO, "log", "log no longer full: appends are taken again",
                "path=%s bytes=%" PRIu64 " max_bytes=%" PRIu64, log->path,
                total, log->opts.retention.max_bytes);
    }
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
    report->full = ret->max_bytes > 0 && total > ret->max_bytes &&
                   report->held_by[0] != '\0';
    budget_settle(log, report, total);
    pthread_mutex_unlock(&log->retention_lock);
    return 0;
}

void log_budget_check(struct log_embedded *log, int64_t now)
{
    uint64_t max = log->opts.retention.max_bytes;

    if (max == 0 || log->opts.read_only || now < log->next_budget_check_ms) {
        return;
    }
    log->next_budget_check_ms = now + BUDGET_CHECK_MS;
    if (atomic_load(&log->full) || log_total_bytes(log) > max) {
        log_embedded_retention_run(&log->base, NULL);
    }
}

/* The reason an append is refused while the log is full. */
int log_full_error(struct log_embedded *log)
{
    int rc;

    pthread_mutex_lock(&log->retention_lock);
    rc = tw_err_set(TW_ENOSPC, "%s; retry once it has caught up",
                    log->full_message);
    pthread_mutex_unlock(&log->retention_lock);
    return rc;
}
