/*
 * check.h - offline verification and repair of an embedded log's files.
 *
 * Both functions read the files under a log directory (embedded.h) with
 * the format functions of segment.h, batch.h, index.h and cursor.h, never
 * through the engine, so they work on a log the engine refuses to open.
 * This comment is the operator's contract for `trackway log check` and
 * `trackway log repair`.
 *
 * What log_check verifies, reading only (it may run beside a server):
 *
 *   LOG           present and "trackway-log 1\npartitions N\n" with
 *                 1 <= N <= 256. A newer format version stops the check
 *                 with TW_EVERSION: nothing else is read, nothing guessed.
 *   p000..pN-1    every partition directory exists.
 *   segments      in offset order, per partition:
 *                 - the header: magic, checksum, a version this build
 *                   knows (a newer one is reported, never misread), the
 *                   partition and base offset matching the file's place;
 *                 - every batch: header, checksum, and every record's
 *                   structure (all records are decoded);
 *                 - offsets dense inside the segment, starting at its base;
 *                 - offsets dense across segments: a gap between two
 *                   segments is reported with its range (as info when a
 *                   quarantine file shows repair cut it, else as a
 *                   warning); an overlap is damage;
 *                 - damage after the last whole batch of the newest
 *                   segment is a torn tail (a warning: the engine cuts it
 *                   on its next writable open); anywhere else it is damage;
 *                 - a newest segment shorter than its header was torn
 *                   while being created (a warning: it holds no data).
 *   indexes       each closed segment has <base>.idx, it passes its
 *                 checksum, describes the segment's current size and
 *                 agrees with the data: every entry names the start of a
 *                 batch with the right offset and running max timestamp,
 *                 the first batch is indexed, and the summary (offsets,
 *                 timestamps) is right. The newest (active) segment's
 *                 index is not judged: the engine keeps it in memory and
 *                 ignores the file. Index problems are warnings: an
 *                 index is a cache.
 *   cursors       cursors/<name>.cur, both slots: a damaged or torn slot
 *                 (a warning while the other slot holds a position; damage
 *                 when neither does, as the engine then refuses the log);
 *                 a file that never completed a commit (info; a warning
 *                 when its first commit was torn); a position past its
 *                 partition's end (warning); a partition count unlike the
 *                 log's (damage: the engine refuses it).
 *   stray files   *.tmp left by a crash (warning); names that are no part
 *                 of the log (warning; left alone by repair too); an index
 *                 without its segment (warning).
 *
 * Each problem is one struct log_finding passed to the callback: the LOG
 * file, then partition by partition its segments, indexes and stray
 * files, then the cursors, then stray files at the top. log_check returns
 * 0 when it found no damage, TW_ECORRUPT when it found some (warnings and
 * infos do not count), or another error when it could not look
 * (TW_ENOENT: no log at path; TW_EVERSION; TW_EIO).
 *
 * What log_repair does. It first takes flock(LOCK_EX | LOCK_NB) on
 * <path>/LOCK, so it never runs beside a writer (TW_EBUSY otherwise), then
 * checks as above and acts on what it finds. Every action is a finding
 * with action != LOG_ACTION_NONE that says what was lost (offsets, bytes)
 * and where the bytes went. Nothing is deleted that holds data: damaged
 * bytes are moved to <path>/quarantine/ under the name
 * p<NNN>-<segment file name>-<byte position>.bad.
 *
 *   damage inside a segment  the segment keeps the whole batches before
 *                 the first damage. The bytes from there to the end of the
 *                 file are copied to quarantine, fsync'd, then cut off the
 *                 segment, fsync'd. Valid batches that followed the damage
 *                 are in the quarantine file, not put back: their offsets
 *                 are reported as lost. A closed segment left with no
 *                 batch is quarantined whole instead.
 *   overlap       the earlier segment is cut where the later one begins.
 *   torn tail     the newest segment's torn tail is cut the same way.
 *   bad header    a segment whose header is damaged, from a newer version
 *                 or for another place is moved to quarantine whole (its
 *                 index is removed: an index is a cache).
 *   new end       when the cuts removed offsets known to have existed at
 *                 the end of a partition (valid batches quarantined, or a
 *                 quarantined newest segment's base), an empty segment is
 *                 started at the old end, so those offsets are never given
 *                 to new records: a cut leaves a gap, like retention.
 *   gap           offsets missing between two segments that no earlier
 *                 repair explains (a file cut short or removed outside
 *                 Trackway) cannot be brought back; repair writes the
 *                 range into quarantine/p<NNN>-<segment>-gap.lost, named
 *                 after the segment before the gap, so that later checks
 *                 report the gap as known (info) instead of warning again.
 *   indexes       an index that is missing, damaged, stale or wrong, or
 *                 whose segment was cut, is rebuilt from the data.
 *   leftovers     *.tmp files and indexes without a segment are removed;
 *                 an empty (0-byte) segment file is removed.
 *   LOG, dirs     a missing or damaged LOG file is written again for the
 *                 partition directories p000.. found without a hole; a
 *                 missing partition directory is created empty.
 *   cursors       positions past their partition's new end are moved back
 *                 to the end, a damaged slot is overwritten, a partition
 *                 count is set to the log's: each writes the slot not in
 *                 use with the next sequence number. A cursor file with no
 *                 valid slot is quarantined whole; one whose first commit
 *                 was torn is removed (it holds no position).
 *
 * With opts->dry_run, log_repair takes no lock and changes nothing, but
 * reports every action it would take, as it would report it.
 *
 * Afterwards the engine opens and reads the log cleanly, with offset gaps
 * where data was cut, and a second repair finds nothing to do. log_repair
 * returns 0 when no damage is left (everything found was repaired), or
 * the error that stopped an action (its finding has LOG_ACTION_FAILED).
 *
 * Run on a live log, check may see a batch being written at the end of
 * the active segment as a torn tail, and an index being written as a
 * stray .tmp file; run it again, or on a stopped log, before acting.
 */
#ifndef TW_LOG_CHECK_H
#define TW_LOG_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

/* Index spacing of the indexes repair writes when opts do not say. */
#define LOG_CHECK_INDEX_INTERVAL_DEFAULT 4096u

/* A finding's partition when it is about no partition. */
#define LOG_FINDING_NO_PARTITION UINT32_MAX
/* A finding's position when it is about no particular byte. */
#define LOG_FINDING_NO_POSITION UINT64_MAX
/* last_offset of a range whose end nobody knows (a torn tail). */
#define LOG_FINDING_OPEN_END UINT64_MAX

enum log_severity {
    LOG_SEVERITY_INFO = 0,    /* worth knowing; nothing is wrong */
    LOG_SEVERITY_WARNING = 1, /* wrong, but nothing unreadable or lost */
    LOG_SEVERITY_DAMAGE = 2,  /* data unreadable, lost or inconsistent */
};
#define LOG_SEVERITY_COUNT 3

/* What repair did about a finding; always LOG_ACTION_NONE from check. */
enum log_action {
    LOG_ACTION_NONE = 0,
    LOG_ACTION_CUT = 1,              /* segment cut, the rest quarantined */
    LOG_ACTION_QUARANTINED = 2,      /* a whole file moved to quarantine */
    LOG_ACTION_INDEX_REBUILT = 3,    /* index rewritten from the data */
    LOG_ACTION_REMOVED = 4,          /* a leftover without data removed */
    LOG_ACTION_CURSOR_REWRITTEN = 5, /* cursor clamped or slot rewritten */
    LOG_ACTION_CREATED = 6,          /* an empty segment started */
    LOG_ACTION_FAILED = 7,           /* repair tried; message says why not */
    LOG_ACTION_RECORDED = 8,         /* a loss written down in quarantine */
};

struct log_finding {
    enum log_severity severity;
    enum log_action action;
    uint32_t partition; /* or LOG_FINDING_NO_PARTITION */
    /* Relative to the log directory: "p002/00000000000000001024.seg",
     * "cursors/billing.cur", "LOG". Never NULL. */
    const char *file;
    uint64_t position; /* byte in file, or LOG_FINDING_NO_POSITION */
    /* The offsets affected (inclusive), when has_offsets. */
    bool has_offsets;
    uint64_t first_offset;
    uint64_t last_offset; /* LOG_FINDING_OPEN_END when unknown */
    uint64_t bytes;       /* bytes affected, cut, moved or removed */
    /* Where repair moved bytes, relative to the log directory; or NULL. */
    const char *quarantine;
    const char *message; /* one sentence, no trailing newline */
};

/* Receives each finding; the strings live only during the call. */
typedef void (*log_finding_cb)(void *ctx, const struct log_finding *finding);

struct log_check_options {
    /* Index entry spacing for indexes repair writes; 0: the default. */
    uint32_t index_interval_bytes;
    /* log_repair only: decide and report every action (the findings look
     * as in a real repair) but change nothing and take no lock. */
    bool dry_run;
};

struct log_check_summary {
    uint32_t partitions;
    uint32_t segments; /* segment files looked at */
    uint64_t batches;  /* valid batches */
    uint64_t records;  /* records in them */
    uint64_t bytes;    /* size of the segment files */
    uint32_t cursors;  /* cursor files looked at */
    uint64_t findings[LOG_SEVERITY_COUNT];
    uint32_t actions;        /* changes repair made (0 for check) */
    uint32_t failed_actions; /* changes repair could not make */
};

void log_check_options_init(struct log_check_options *opts);

/* A name for a severity ("info", "warning", "damage"). */
const char *log_severity_name(enum log_severity severity);
/* A name for an action ("none", "cut", "quarantined", ...). */
const char *log_action_name(enum log_action action);

/*
 * Verifies the log at path, calling cb (may be NULL) for each finding;
 * summary (may be NULL) receives the counts. opts may be NULL. Returns 0
 * (no damage), TW_ECORRUPT (damage found) or the error that stopped it.
 */
TW_MUST_CHECK int log_check(const char *path,
                            const struct log_check_options *opts,
                            log_finding_cb cb, void *ctx,
                            struct log_check_summary *summary);

/*
 * Repairs the log at path as the comment above says; same arguments as
 * log_check. Returns 0 when no damage is left, TW_EBUSY when a process
 * holds the log, or the first error that stopped an action.
 */
TW_MUST_CHECK int log_repair(const char *path,
                             const struct log_check_options *opts,
                             log_finding_cb cb, void *ctx,
                             struct log_check_summary *summary);

#endif
