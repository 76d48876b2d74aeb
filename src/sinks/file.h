/*
 * file.h - the file sink: events as NDJSON files in a directory, with
 * rotation by size and age and optional zstd compression of the files it
 * rotates out. The file layout and the recovery rules are described at
 * the top of file_dir.c, the writing at the top of file.c.
 *
 * send() queues the batch and returns at once; the sink's own writer
 * thread writes it, together with every batch sent while the previous
 * write and sync ran (group commit: one fdatasync for the group), and
 * runs done on that thread, in send order: SINK_OK once the batch is
 * durable, or SINK_RETRY after cutting the file back to where the failed
 * part of the group started, so a failed batch leaves no line behind.
 * When a group's write or sync fails, every batch of the group not yet
 * durable is answered SINK_RETRY. done is never run inside send(), and
 * may send again. sink_destroy finishes every batch already accepted
 * (writes it and runs its done) before it frees the sink; it must not be
 * called from a done.
 */
#ifndef TW_SINKS_FILE_H
#define TW_SINKS_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "sinks/sink.h"

/* The longest file name prefix accepted. */
#define SINK_FILE_PREFIX_MAX 64
/* The most batches a file sink may hold at once (max_in_flight). */
#define SINK_FILE_MAX_IN_FLIGHT 1024

enum sink_file_compression {
    SINK_FILE_COMPRESSION_NONE = 0,
    SINK_FILE_COMPRESSION_ZSTD = 1, /* rotated files only; see file.c */
};

struct sink_file_options {
    /* The directory of the files; created, with its parents, if missing. */
    const char *dir;
    /* File names start with it: 1 to 64 of [A-Za-z0-9._-], not starting
     * with '.'. Default "events". */
    const char *prefix;
    /* A batch that would take the active file past this many bytes goes
     * to a new file (a batch larger than this gets a file of its own).
     * 0: no size limit. Default 64 MiB. */
    uint64_t max_bytes;
    /* The active file is rotated once this old (from its first line),
     * by the next send or sink_file_tick; also when the clock reads this
     * much earlier than the file's time (it stepped back). 0: no age
     * limit. Default 1 h. */
    int64_t max_age_ms;
    enum sink_file_compression compression; /* default none */
    int zstd_level;                         /* default 3 */
    /* Batches accepted and not yet completed, so also the largest
     * group one sync covers; more: TW_EFULL. 1 to
     * SINK_FILE_MAX_IN_FLIGHT, default 4. */
    unsigned max_in_flight;
    /* The NDJSON text of one batch may be at most this long; a longer
     * batch is SINK_REJECTED. It is built in one buffer of this ceiling.
     * Default 16 MiB. */
    size_t max_batch_bytes;
    /* Wall-clock milliseconds for file names and ages; NULL: the system
     * clock. Tests pass their own so that time can move without waiting.
     * Called once per send (on the sending thread, after the in-flight
     * slot is taken: the batch's rotation by age is judged by that time)
     * and once per tick, on the calling thread. */
    int64_t (*clock_ms)(void *ctx);
    void *clock_ctx;
};

/* What opening the directory found and did. Each action is also logged. */
struct sink_file_recovery {
    uint32_t tails_cut;           /* active files that ended in a torn line */
    uint64_t bytes_cut;           /* bytes cut off those torn lines */
    uint32_t temporaries_removed; /* compressions a crash interrupted */
    uint32_t leftovers_removed;   /* active files already rotated whole */
    uint32_t files_rotated;       /* older active files rotated on open */
    uint32_t empty_removed;       /* active files with no whole line */
};

struct sink_file_stats {
    struct sink_stats sink; /* bytes_out: NDJSON bytes of SINK_OK batches */
    uint64_t rotations;
    uint64_t rotation_failures; /* each logged; retried after a second */
    uint64_t write_failures;    /* batches failed by a write or a sync */
    uint64_t undo_failures;     /* failed cuts back of a failed batch */
    uint64_t active_bytes;      /* gauge: size of the active file */
    /* fdatasyncs of the active file for batches (failed ones too), and
     * the batches they made durable: batches_synced / syncs is the
     * average group a sync covered. */
    uint64_t syncs;
    uint64_t batches_synced;
    struct sink_file_recovery recovery;
};

/* Fills opts with the defaults above for the directory dir. */
void sink_file_options_init(struct sink_file_options *opts, const char *dir);

/*
 * Opens (creating if needed) the sink's directory, takes its lock file
 * (<dir>/<prefix>.lock: one sink per directory and prefix, in any
 * process: TW_EBUSY otherwise) and recovers whatever a crash left, as
 * file_dir.c describes; the recovery is in sink_file_stats. name is the
 * destination's, for logs and messages; the sink keeps a copy. Returns 0
 * and the sink in *out, owned by the caller and freed with sink_destroy;
 * or TW_EINVAL for bad options, the error of a directory that cannot be
 * created or read, TW_EBUSY, TW_ENOMEM.
 */
TW_MUST_CHECK int sink_file_new(const struct sink_file_options *opts,
                                const char *name, struct sink **out);

/*
 * Rotates the active file if it is due by age (or by size), for when no
 * batch arrives to do it: the runtime calls this every second or so,
 * from any thread, but never during or after sink_destroy. It also cuts
 * back the bytes of a failed batch that an earlier cut could not remove.
 * While the writer is busy with a group it does nothing (and returns 0):
 * the writer checks the same before each batch, so a tick never waits
 * behind a group.
 * Returns 0 (nothing due, busy, or rotated), or the error of a rotation that
 * failed (with a message; the active file stays active and the rotation
 * is tried again a second later).
 */
TW_MUST_CHECK int sink_file_tick(struct sink *sink);

/* The sink.h counters and the file sink's own; sink must be a file sink. */
void sink_file_stats(struct sink *sink, struct sink_file_stats *stats);

#endif
