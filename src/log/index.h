/*
 * index.h - the sparse index of a segment.
 *
 * Each segment has an index with one entry for roughly every
 * index_interval_bytes of batches, so that finding an offset or a time
 * costs a binary search plus reading a few kilobytes, not a scan.
 *
 * An entry names the start of a batch:
 *
 *   u64 offset      base_offset of the batch
 *   u64 position    its byte position in the segment file
 *   i64 max_ts      the largest record timestamp of this batch and of
 *                   every batch before it in the segment
 *
 * max_ts never decreases along the index, even though record timestamps
 * may, so "the first record at or after time T" is found by a binary
 * search for the first entry whose max_ts >= T, then a scan from the
 * entry before it.
 *
 * The active segment's index lives in memory. When a segment is closed
 * its index is written to <base>.idx (atomically, via a temporary file and
 * rename):
 *
 *   offset size field
 *        0    4 magic          "TWIX"
 *        4    2 version        1
 *        6    2 reserved       zero
 *        8    4 entry_count
 *       12    4 reserved       zero
 *       16    8 segment_size   size of the segment file it describes
 *       24    8 base_offset    of the segment
 *       32    8 end_offset     offset after the segment's last record
 *       40    8 min_ts         smallest record timestamp in the segment
 *       48    8 max_ts         largest
 *       56    8 checksum       XXH3-64 of the entries, seeded with the
 *                              XXH3-64 of bytes [0, 56)
 *       64      entries, 24 bytes each
 *
 * An index file is trusted only when its checksum matches and its
 * segment_size equals the segment file's size; otherwise (missing, torn,
 * stale after a repair) it is rebuilt from the segment and rewritten. The
 * index is a cache: losing it never loses data.
 */
#ifndef TW_LOG_INDEX_H
#define TW_LOG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define LOG_INDEX_MAGIC 0x58495754u /* "TWIX" read little-endian */
#define LOG_INDEX_VERSION 1u
#define LOG_INDEX_HEADER_SIZE 64u
#define LOG_INDEX_ENTRY_SIZE 24u

struct log_index_entry {
    uint64_t offset;
    uint64_t position;
    int64_t max_ts;
};

/* The summary an index file carries about its segment. */
struct log_index_summary {
    uint32_t entry_count;
    uint64_t segment_size;
    uint64_t base_offset;
    uint64_t end_offset;
    int64_t min_ts;
    int64_t max_ts;
};

/* An index being built in memory (the active segment's, or a rebuild). */
struct log_index {
    struct log_index_entry *entries;
    size_t count;
    size_t capacity;
    uint64_t last_position; /* position of the last entry, for spacing */
    int64_t max_ts;         /* running maximum */
};

void log_index_init(struct log_index *idx);
void log_index_free(struct log_index *idx);

/*
 * Notes a batch at position. Adds an entry when it is the first batch or
 * at least interval bytes past the last entry. TW_ENOMEM on failure.
 */
int log_index_add(struct log_index *idx, uint64_t position, uint64_t offset,
                  int64_t batch_max_ts, uint32_t interval);

/*
 * The last entry with offset <= target (or the first entry when none):
 * the place to start scanning for target. Returns its index or -1 when
 * the index is empty.
 */
ptrdiff_t log_index_find_offset(const struct log_index *idx, uint64_t target);

/* The entry before the first whose max_ts >= ts (or 0); -1 if empty. */
ptrdiff_t log_index_find_time(const struct log_index *idx, int64_t ts);

/*
 * Writes idx with summary to path atomically. 0 or an error (message set).
 */
TW_MUST_CHECK int log_index_write(const char *path, const struct log_index *idx,
                                  const struct log_index_summary *summary);

/*
 * Reads a whole index file into idx (which must be initialised) and its
 * summary. TW_ENOENT when missing, TW_ECORRUPT when it fails its checks,
 * TW_EVERSION when newer than this build. The caller compares
 * summary->segment_size with the segment file to decide staleness.
 */
TW_MUST_CHECK int log_index_read(const char *path, struct log_index *idx,
                                 struct log_index_summary *summary);

#endif
