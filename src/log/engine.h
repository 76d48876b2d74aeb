/*
 * engine.h - the embedded log's internal structures, shared by its files:
 * embedded.c (open, close, the ops table), partition.c (segments and
 * recovery), writer.c (group commit), reader.c, cursor.c, retention.c.
 *
 * Locking. Each partition has one mutex guarding its segment list and the
 * in-memory index of its active segment; readers hold it only to find
 * their place and to learn how far they may read. Only the writer thread
 * appends to files or rolls segments; retention removes segments under
 * the partition mutex and skips any a reader holds. The queue mutex
 * guards the list of appends waiting for the writer.
 */
#ifndef TW_LOG_ENGINE_H
#define TW_LOG_ENGINE_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "log/cursor.h"
#include "log/embedded.h"
#include "log/index.h"
#include "log/log.h"

struct log_segment {
    uint64_t base_offset;
    uint64_t end_offset; /* after the last visible record */
    uint64_t size;       /* bytes of the file that readers may read */
    int64_t min_ts;
    int64_t max_ts;
    int64_t created_ms;
    uint64_t records; /* visible records (end - base, less any lost) */
    int fd;           /* the active segment's, for writing; else -1 */
    int readers;      /* readers positioned in this segment */
    bool retired;     /* removed by retention; the last reader frees it */
    bool damaged;     /* recovery found damage in the middle */
    uint64_t damage_position;
    struct log_index index; /* active segment only */
};

struct log_pending;

struct log_partition {
    uint32_t id;
    char dir[PATH_MAX];
    pthread_mutex_t lock;
    pthread_cond_t grew; /* broadcast when end_offset moves */

    /* Oldest first; the last one is the active segment. */
    struct log_segment **segments;
    size_t segment_count;
    size_t segment_capacity;
    uint64_t end_offset; /* visible end, under lock */
    int waiters;         /* threads inside log_wait, under lock */
    bool closed;         /* log_close is sending waiters away, under lock */

    /* Writer thread only. */
    uint64_t next_offset;  /* offset the next sealed batch gets */
    uint64_t written_size; /* active segment bytes written */
    uint64_t synced_size;  /* active segment bytes known on disk */
    bool broken;           /* a failed write could not be undone yet */
    struct log_pending *group_head;
    struct log_pending *group_tail;
    struct log_pending *group_unpublished;
    int64_t last_sync_ms;
};

struct log_pending {
    struct log_pending *next;
    uint32_t partition;
    uint8_t *batch;
    uint32_t length;
    uint32_t count;
    int64_t min_ts;
    int64_t max_ts;
    log_append_cb cb;
    void *ctx;

    /* Set by the writer. */
    struct log_segment *segment;
    uint64_t position;
    uint64_t first_offset;
    int status;
    char message[256];
};

struct log_embedded {
    struct log base;
    struct log_options opts;
    char path[PATH_MAX];
    uint32_t partitions;
    struct log_partition *parts;
    int lock_fd;
    struct log_cursors cursors;

    /* The append queue. */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    struct log_pending *queue_head;
    struct log_pending *queue_tail;
    uint64_t pending_bytes;
    uint64_t pending_batches;
    bool closing;
    bool writer_running;
    pthread_t writer;

    pthread_mutex_t retention_lock;
    int64_t next_retention_ms;
    int64_t next_budget_check_ms; /* writer only */
    /* Set by a retention pass that ended over the byte budget because a
     * holding cursor needs the oldest records; read by every append. */
    _Atomic bool full;
    char full_message[512]; /* why, under retention_lock */

    /* Counters for struct log_stats. */
    _Atomic uint64_t st_appends;
    _Atomic uint64_t st_append_records;
    _Atomic uint64_t st_append_failures;
    _Atomic uint64_t st_rejected_full;
    _Atomic uint64_t st_bytes_written;
    _Atomic uint64_t st_write_groups;
    _Atomic uint64_t st_syncs;
    _Atomic uint64_t st_sync_ns;
    _Atomic uint64_t st_segments_rolled;
    _Atomic uint64_t st_segments_deleted;
    _Atomic uint64_t st_rejected_budget;
    _Atomic uint64_t st_deleted_unread;
};

static inline struct log_embedded *log_embedded_of(struct log *log)
{
    return (struct log_embedded *)log;
}

/* partition.c */
int log_partition_open(struct log_embedded *log, struct log_partition *p,
                       uint32_t id, struct log_recovery *report);
void log_partition_close(struct log_partition *p);
/* Path of a segment's file with extension ext ("seg" or "idx"). */
void log_partition_file(const struct log_partition *p, uint64_t base,
                        const char *ext, char *path, size_t size);
/*
 * Rolling the active segment, in two steps so the writer can publish the
 * batches the sync made durable before the index is written: sync it,
 * then write its index and start a new segment at p->next_offset.
 */
int log_partition_roll_sync(struct log_embedded *log, struct log_partition *p);
int log_partition_roll_finish(struct log_embedded *log,
                              struct log_partition *p);
/* Index of the segment holding offset (lock held), or -1. */
ptrdiff_t log_partition_find_segment(const struct log_partition *p,
                                     uint64_t offset);
uint64_t log_partition_start_offset(const struct log_partition *p);
int log_partition_info_get(struct log_partition *p,
                           struct log_partition_info *info);

/* writer.c */
int log_writer_start(struct log_embedded *log);
void log_writer_stop(struct log_embedded *log);
int log_embedded_append(struct log *base, uint32_t partition,
                        const struct log_record *records, size_t count,
                        log_append_cb cb, void *ctx);

/* reader.c */
int log_embedded_reader_open(struct log *base, uint32_t partition,
                             uint64_t offset, struct log_reader **out);
int log_embedded_reader_next(struct log_reader *reader,
                             struct log_record *record);
uint64_t log_embedded_reader_position(struct log_reader *reader);
void log_embedded_reader_close(struct log_reader *reader);
int log_embedded_wait(struct log *base, uint32_t partition, uint64_t offset,
                      int timeout_ms);
int log_embedded_offset_for_time(struct log *base, uint32_t partition,
                                 int64_t timestamp_ms, uint64_t *offset);

/* retention.c */
int log_embedded_retention_run(struct log *base,
                               struct log_retention_report *report);
/* Bytes of every segment of every partition. */
uint64_t log_total_bytes(struct log_embedded *log);
/* The writer's check: a pass now when the log is over its byte budget,
 * at most once a second. */
void log_budget_check(struct log_embedded *log, int64_t now);
/* TW_ENOSPC with why the log is full. */
int log_full_error(struct log_embedded *log);

#endif
