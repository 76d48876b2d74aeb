/*
 * embedded.h - the embedded log: the log interface (log.h) on local disk.
 *
 * A directory holds the whole log:
 *
 *   <path>/LOG              format version and partition count (text)
 *   <path>/LOCK             flock()ed by the one process writing the log
 *   <path>/p000/            one directory per partition, holding
 *       00000000000000000000.seg   segment files named by base offset
 *       00000000000000000000.idx   their sparse indexes
 *   <path>/cursors/<name>.cur      one file per cursor
 *   <path>/quarantine/             damaged bytes moved aside by repair
 *
 * segment.h describes the segment and batch format and how recovery
 * works; index.h the index; cursor.h the cursor file.
 */
#ifndef TW_LOG_EMBEDDED_H
#define TW_LOG_EMBEDDED_H

#include "log/log.h"

/*
 * When an append counts as complete. The name is what operators write in
 * the configuration.
 */
enum log_durability {
    /* "fsync": written and fdatasync'd before completion (the default).
     * A crash of the process or of the machine loses nothing completed. */
    LOG_DURABILITY_FSYNC = 0,
    /* "interval": written before completion, fdatasync'd at most every
     * interval_ms. A process crash loses nothing completed; a machine
     * crash may lose the last interval. */
    LOG_DURABILITY_INTERVAL = 1,
    /* "none": written before completion, synced only when a segment is
     * closed. A machine crash may lose whatever the kernel had not yet
     * written back. */
    LOG_DURABILITY_NONE = 2,
};

enum log_compression {
    LOG_COMPRESSION_NONE = 0,
    LOG_COMPRESSION_ZSTD = 1,
};

struct log_retention {
    uint64_t max_bytes; /* all partitions together; 0: no limit */
    int64_t max_age_ms; /* by newest record of a segment; 0: no limit */
    /* true: never delete a segment some cursor has not read past (the
     * disk budget may then be exceeded); false: delete it anyway and
     * report it in segments_deleted_unread. */
    bool keep_unread;
    /* Cursors that hold (log_cursor_hold) from the moment the log opens,
     * before the writer could run a retention pass; their owners set
     * the mark again once they run. Names with no cursor yet are
     * skipped. Read by log_embedded_open only. */
    const char *const *holding;
    size_t holding_count;
};

struct log_options {
    const char *path;
    uint32_t partitions; /* when creating; 0 on open: take what is there */
    bool create;         /* create the log when path holds none */
    bool read_only;      /* inspect only: no writer, no repair, no lock */
    enum log_durability durability;
    uint32_t interval_ms; /* for LOG_DURABILITY_INTERVAL */
    enum log_compression compression;
    int zstd_level;
    uint64_t segment_max_bytes;    /* roll the active segment past this */
    int64_t segment_max_age_ms;    /* ... or when its first batch is older */
    uint32_t index_interval_bytes; /* one index entry per this many bytes */
    uint32_t max_batch_bytes;      /* largest encoded batch accepted */
    uint64_t max_pending_bytes;    /* queued, not durable: beyond, EFULL */
    struct log_retention retention;
    int64_t retention_interval_ms; /* how often the writer enforces it */
};

/* Fills opts with the defaults documented in docs/ARCHITECTURE.md. */
void log_options_init(struct log_options *opts, const char *path);

/* "fsync" | "interval" | "none" -> enum value, or -1. */
int log_durability_parse(const char *name);
const char *log_durability_name(enum log_durability durability);

/* What opening the log found and did. Each action is also logged. */
struct log_recovery {
    uint32_t segments;               /* segment files found */
    uint32_t tails_truncated;        /* torn tails cut back to a whole batch */
    uint64_t bytes_truncated;        /* bytes cut off those tails */
    uint32_t indexes_rebuilt;        /* missing or stale index files rebuilt */
    uint32_t empty_segments_removed; /* segments torn while being created */
    uint32_t damaged_segments;       /* mid-segment damage found (not fixed) */
    uint32_t cursors_clamped;        /* cursors ahead of the data moved back */
};

/*
 * Opens (and with opts->create, creates) the log at opts->path, recovering
 * from any crash first; report (may be NULL) receives what was done. The
 * caller owns *out and releases it with log_close.
 */
TW_MUST_CHECK int log_embedded_open(const struct log_options *opts,
                                    struct log **out,
                                    struct log_recovery *report);

#endif
