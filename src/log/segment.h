/*
 * segment.h - segment files: where a partition's batches live on disk.
 *
 * A partition is a directory of segment files, each named after the offset
 * of its first record as 20 decimal digits, e.g. 00000000000000001024.seg.
 * Only the newest segment (the active one) is ever appended to; the others
 * are closed and never change, except that repair may cut them.
 *
 *   +----------------+---------+---------+-----+---------+
 *   | segment header | batch 0 | batch 1 | ... | batch n |
 *   +----------------+---------+---------+-----+---------+
 *        64 bytes      see batch.h, back to back
 *
 * The header (little-endian):
 *
 *   offset size field
 *        0    4 magic        "TWSG"
 *        4    2 version      format version, now 1
 *        6    2 reserved     zero
 *        8    4 partition    partition number
 *       12    4 reserved     zero
 *       16    8 base_offset  offset of the first record (= the file name)
 *       24    8 created_ms   when the segment was created
 *       32   24 reserved     zero
 *       56    8 checksum     XXH3-64 of bytes [0, 56)
 *
 * A segment whose version is newer than this build knows is refused with
 * TW_EVERSION rather than guessed at.
 *
 * Recovery. Batches are written at the end of the active segment and are
 * complete only once their write returned (and, under the fsync policy,
 * fdatasync did). A crash can therefore leave, after the last whole batch,
 * a torn tail: part of a batch, zeroes, or stale bytes. On open, the
 * active segment is scanned from its start; the first batch that is
 * incomplete or fails its checksum ends the valid data. If no valid batch
 * follows it anywhere in the file, the rest is a torn tail and is cut off
 * (the bytes are counted and logged). If a valid batch does follow, the
 * damage is in the middle: nothing is cut, the damage is reported with
 * its file position, reads stop there with TW_ECORRUPT, and `trackway log
 * repair` decides. Closed segments are trusted as far as their index file
 * says (index.h); a missing or stale index makes recovery scan that
 * segment too.
 */
#ifndef TW_LOG_SEGMENT_H
#define TW_LOG_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "log/batch.h"

#define LOG_SEGMENT_MAGIC 0x47535754u /* "TWSG" read little-endian */
#define LOG_SEGMENT_VERSION 1u
#define LOG_SEGMENT_HEADER_SIZE 64u
/* "%020llu.seg" plus NUL. */
#define LOG_SEGMENT_NAME_MAX 32

struct log_segment_header {
    uint16_t version;
    uint32_t partition;
    uint64_t base_offset;
    int64_t created_ms;
};

/* Writes "<base 20 digits>.<ext>" into name (LOG_SEGMENT_NAME_MAX). */
void log_segment_name(char *name, uint64_t base_offset, const char *ext);

/*
 * Parses a directory entry name "<20 digits>.seg"; returns true and sets
 * *base_offset when it is one.
 */
bool log_segment_parse_name(const char *name, uint64_t *base_offset);

/* Encodes a segment header into buf (LOG_SEGMENT_HEADER_SIZE bytes). */
void log_segment_header_encode(uint8_t *buf,
                               const struct log_segment_header *hdr);

/*
 * Decodes and checks a segment header: TW_ECORRUPT when the magic or the
 * checksum is wrong, TW_EVERSION when the version is newer than ours.
 */
int log_segment_header_decode(const uint8_t *buf,
                              struct log_segment_header *hdr);

/* Called for every whole, checksum-verified batch a scan finds. */
typedef void (*log_scan_batch_cb)(void *ctx, uint64_t position,
                                  const struct log_batch_header *hdr);

/* Called for every damaged range a scan finds: [position, end). */
typedef void (*log_scan_damage_cb)(void *ctx, uint64_t position, uint64_t end,
                                   uint64_t expected_offset, const char *what);

struct log_scan {
    /* Input. */
    int fd;
    uint64_t file_size;
    uint64_t start_position;  /* first batch to look at */
    uint64_t expected_offset; /* base_offset the first batch must carry */
    uint32_t max_batch_bytes;
    log_scan_batch_cb on_batch;   /* may be NULL */
    log_scan_damage_cb on_damage; /* may be NULL */
    void *ctx;

    /* Output. */
    uint64_t valid_end;   /* end of the whole batches before any damage */
    uint64_t next_offset; /* offset after the last valid batch found */
    uint64_t records;     /* records in valid batches */
    uint64_t batches;     /* valid batches */
    int64_t min_ts;       /* over valid batches; 0 when none */
    int64_t max_ts;
    uint64_t first_damage;   /* position of the first damage, or UINT64_MAX */
    uint32_t damaged_ranges; /* how many separate damaged ranges */
    bool damage_in_middle;   /* a valid batch follows some damage */
    uint64_t lost_offsets;   /* offsets skipped over between valid batches */
};

/*
 * Walks the batches of a segment file from scan->start_position, checking
 * each one's header, checksum and offset. After damage it searches on for
 * the next valid batch, so one bad byte does not hide the rest. Returns 0
 * (damage is reported in the output fields, not as an error), or TW_EIO /
 * TW_ENOMEM when the scan itself could not run.
 */
TW_MUST_CHECK int log_segment_scan(struct log_scan *scan);

#endif
