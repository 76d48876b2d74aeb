/*
 * log.h - the log interface: the seam between Trackway and its storage.
 *
 * Everything above this header (collector, delivery, replay, the CLI) sees
 * a log as N partitions of records. Two backends implement it: the
 * embedded log in this directory and, for scale-out, NATS JetStream. No
 * caller may depend on which one runs, so this file is the contract, and
 * each promise below holds for every backend.
 *
 * Records. A record is a key, a timestamp in milliseconds since the epoch
 * and an opaque payload. The log never interprets the payload.
 *
 * Offsets. Each partition numbers its records 0, 1, 2, ... with no holes.
 * An offset names one record for the life of the partition. The only
 * offsets that ever disappear are the oldest ones, removed by retention,
 * and ranges an operator cut out with `trackway log repair` (which says
 * so); the start offset of a partition moves forward past them.
 *
 * Appends. log_append() queues a batch for one partition and returns at
 * once; the batch's records get consecutive offsets, and batches to one
 * partition keep the order in which log_append() was called. The
 * completion callback runs exactly once, on a backend thread, when the
 * batch is stored as the durability policy promises (see enum
 * log_durability) or has failed. A failed batch left nothing visible:
 * no reader ever sees any record of it and its offsets are reused. The
 * callback must be quick and must not call log_append on the same log
 * synchronously in a way that waits for its own completion.
 *
 * Reads. A reader returns records in offset order from any offset that
 * still exists, up to the last completed append (readers never see data
 * that could still be lost under the fsync policy). Damaged data is
 * reported as TW_ECORRUPT with its place, never returned as records. An
 * open reader does not keep records from retention: once retention has
 * removed its position, the reader says TW_ERANGE.
 *
 * Cursors. A cursor is a named, durable position per partition: the
 * offset of the next record its owner wants. Committing is atomic: after
 * a crash a cursor reads as one of the values committed, never a mix.
 *
 * Holding. A cursor marked with log_cursor_hold keeps retention from
 * removing any record it has not read past. When retention cannot bring
 * the log under its byte budget because a holding cursor still needs the
 * oldest records, the log is full: appends are refused with TW_ENOSPC
 * until that cursor moves on. A cursor that does not hold loses what
 * retention removes before it gets there (its reader says TW_ERANGE).
 * The mark is not stored: it lasts while the log is open, and the owner
 * sets it again after each open, so a cursor nobody uses any more stops
 * holding by itself. (JetStream has this choice per stream, with interest
 * retention and discard-new, not per consumer: its backend is to keep
 * holding and non-holding consumers on streams of their own.)
 *
 * Threads. Every function may be called from any thread, except that a
 * reader belongs to one thread at a time.
 */
#ifndef TW_LOG_LOG_H
#define TW_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The most partitions a log may have. */
#define LOG_MAX_PARTITIONS 256
/* The longest cursor name, in bytes, without the terminating NUL. */
#define LOG_CURSOR_NAME_MAX 128

struct log;
struct log_reader;

/* One record, as given to log_append or returned by a reader. */
struct log_record {
    uint64_t offset;      /* set by readers; ignored by log_append */
    int64_t timestamp_ms; /* milliseconds since the Unix epoch */
    const void *key;      /* may be NULL when key_len is 0 */
    uint32_t key_len;
    const void *value; /* the payload; may be NULL when value_len is 0 */
    uint32_t value_len;
};

/*
 * Completion of one append. status is 0 or a negative tw_err code; on
 * success first_offset is the offset given to the first record and the
 * batch holds count records. message explains a failure (NULL on success)
 * and lives only during the call.
 */
typedef void (*log_append_cb)(void *ctx, int status, uint64_t first_offset,
                              uint32_t count, const char *message);

/* What a partition holds now. */
struct log_partition_info {
    uint32_t partition;
    uint64_t start_offset; /* oldest offset still stored */
    uint64_t end_offset;   /* the offset the next record will get */
    uint64_t bytes;        /* bytes on disk (or in the stream) */
    uint32_t segments;     /* segment files (embedded) or 0 */
    int64_t oldest_ms;     /* smallest record timestamp, 0 when empty */
    int64_t newest_ms;     /* largest record timestamp, 0 when empty */
};

/* Counters since open, for metrics. All are monotonic but pending_*. */
struct log_stats {
    uint64_t appends;          /* batches accepted by log_append */
    uint64_t append_records;   /* records in those batches */
    uint64_t append_failures;  /* batches completed with an error */
    uint64_t rejected_full;    /* log_append calls refused: queue full */
    uint64_t bytes_written;    /* bytes handed to the disk */
    uint64_t write_groups;     /* group commits (one write round each) */
    uint64_t syncs;            /* fdatasync calls on data */
    uint64_t sync_ns_total;    /* time spent in them */
    uint64_t segments_rolled;  /* new segments started */
    uint64_t segments_deleted; /* segments removed by retention */
    uint64_t pending_bytes;    /* queued, not yet completed (gauge) */
    uint64_t pending_batches;  /* queued, not yet completed (gauge) */
    uint64_t stored_bytes;     /* on disk now (gauge) */
    uint64_t full;             /* 1 while appends get TW_ENOSPC (gauge) */
    uint64_t rejected_budget;  /* log_append calls refused: log full */
    uint64_t deleted_unread;   /* segments removed before some cursor
                                * (not holding) had read them */
};

/* What one retention pass did. */
struct log_retention_report {
    uint32_t segments_deleted;
    uint64_t bytes_deleted;
    uint64_t records_deleted;
    /* Segments over the limits kept because a cursor still needs them. */
    uint32_t segments_kept_for_cursors;
    /* Segments deleted although a cursor had not read them. */
    uint32_t segments_deleted_unread;
    /* Still over the byte budget because of a holding cursor: the log is
     * full until the next pass finds otherwise. */
    bool full;
    char held_by[LOG_CURSOR_NAME_MAX + 1]; /* that cursor, when full */
    uint32_t held_partition;
};

/* The backend's functions; each backend fills one of these. */
struct log_ops {
    const char *name;
    uint32_t (*partitions)(struct log *log);
    int (*append)(struct log *log, uint32_t partition,
                  const struct log_record *records, size_t count,
                  log_append_cb cb, void *ctx);
    int (*reader_open)(struct log *log, uint32_t partition, uint64_t offset,
                       struct log_reader **out);
    int (*reader_next)(struct log_reader *reader, struct log_record *record);
    uint64_t (*reader_position)(struct log_reader *reader);
    void (*reader_close)(struct log_reader *reader);
    int (*wait)(struct log *log, uint32_t partition, uint64_t offset,
                int timeout_ms);
    int (*offset_for_time)(struct log *log, uint32_t partition,
                           int64_t timestamp_ms, uint64_t *offset);
    int (*partition_info)(struct log *log, uint32_t partition,
                          struct log_partition_info *info);
    int (*cursor_commit)(struct log *log, const char *name, uint32_t partition,
                         uint64_t offset);
    int (*cursor_get)(struct log *log, const char *name, uint32_t partition,
                      uint64_t *offset);
    int (*cursor_delete)(struct log *log, const char *name);
    int (*cursor_hold)(struct log *log, const char *name, bool hold);
    int (*retention_run)(struct log *log, struct log_retention_report *report);
    void (*stats)(struct log *log, struct log_stats *stats);
    void (*close)(struct log *log);
};

/* Every backend's handle starts with this. */
struct log {
    const struct log_ops *ops;
};

/* Every backend's reader starts with this. */
struct log_reader {
    struct log *log;
};

/* The number of partitions, fixed for the life of the log. */
uint32_t log_partitions(struct log *log);

/*
 * Queues records[0..count) as one batch for partition. The records and
 * the memory they point to are copied before this returns. Returns 0 when
 * queued (cb will run exactly once), or an error and cb will not run:
 * TW_EINVAL (bad partition, empty or oversized batch), TW_EFULL (too many
 * bytes wait for the disk: answer the client "try later"), TW_ENOSPC
 * (the log is full: a holding cursor keeps the oldest records while the
 * byte budget is reached; see "Holding" above), TW_ECLOSED.
 */
TW_MUST_CHECK int log_append(struct log *log, uint32_t partition,
                             const struct log_record *records, size_t count,
                             log_append_cb cb, void *ctx);

/*
 * log_append, then waits for the completion. Returns its status; sets
 * *first_offset (may be NULL) on success.
 */
TW_MUST_CHECK int log_append_wait(struct log *log, uint32_t partition,
                                  const struct log_record *records,
                                  size_t count, uint64_t *first_offset);

/*
 * Opens a reader at offset. An offset older than the partition's start
 * yields TW_ERANGE (the caller decides whether to start at the start
 * offset instead); an offset past the end yields TW_ERANGE too; the end
 * offset itself is valid and waits for new records. The caller owns the
 * reader and frees it with log_reader_close.
 */
TW_MUST_CHECK int log_reader_open(struct log *log, uint32_t partition,
                                  uint64_t offset, struct log_reader **out);

/*
 * Fills *record with the next record and returns 1; returns 0 at the end
 * of what is stored now (call again later, or log_wait), or a negative
 * error: TW_ECORRUPT names the damaged place; TW_ERANGE means retention
 * removed the reader's position. The record's key and value point into
 * the reader and stay valid until the next call on it.
 */
TW_MUST_CHECK int log_reader_next(struct log_reader *reader,
                                  struct log_record *record);

/* The offset the next log_reader_next will return. */
uint64_t log_reader_position(struct log_reader *reader);

void log_reader_close(struct log_reader *reader);

/*
 * Waits until partition's end offset is past offset, for at most
 * timeout_ms (negative: no limit). Returns 1 when records are there, 0 on
 * timeout, or an error (TW_ECLOSED when the log closes meanwhile).
 */
int log_wait(struct log *log, uint32_t partition, uint64_t offset,
             int timeout_ms);

/*
 * The first offset whose record has timestamp_ms at or after the given
 * time, or the end offset when there is none.
 */
TW_MUST_CHECK int log_offset_for_time(struct log *log, uint32_t partition,
                                      int64_t timestamp_ms, uint64_t *offset);

TW_MUST_CHECK int log_partition_info(struct log *log, uint32_t partition,
                                     struct log_partition_info *info);

/*
 * Commits cursor name's position in partition durably (under the log's
 * durability policy). offset must lie between the start and the end
 * offset of the partition (TW_ERANGE otherwise). Names are 1 to
 * LOG_CURSOR_NAME_MAX bytes of [A-Za-z0-9._-].
 */
TW_MUST_CHECK int log_cursor_commit(struct log *log, const char *name,
                                    uint32_t partition, uint64_t offset);

/* Reads a committed position; TW_ENOENT when never committed. */
TW_MUST_CHECK int log_cursor_get(struct log *log, const char *name,
                                 uint32_t partition, uint64_t *offset);

/* Forgets a cursor in every partition. TW_ENOENT when unknown. */
int log_cursor_delete(struct log *log, const char *name);

/*
 * Marks a committed cursor as holding retention, or not (see "Holding"
 * above) until the log closes. TW_ENOENT when it was never committed.
 */
int log_cursor_hold(struct log *log, const char *name, bool hold);

/*
 * Applies the retention limits now (backends also run it on their own
 * schedule) and reports what was removed. report may be NULL.
 */
int log_retention_run(struct log *log, struct log_retention_report *report);

void log_stats(struct log *log, struct log_stats *stats);

/*
 * Waits for every queued append to complete, then releases the log. Any
 * reader must be closed first.
 */
void log_close(struct log *log);

/* true when name is a valid cursor name. */
bool log_cursor_name_valid(const char *name);

#endif
