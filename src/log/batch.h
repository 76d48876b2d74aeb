/*
 * batch.h - the batch: the unit the log writes, checksums and compresses.
 *
 * A batch is a header followed by a body. All integers are little-endian.
 *
 *   offset size field
 *        0    4 magic        "TWB1"
 *        4    4 length       of the whole batch, header included
 *        8    8 checksum     XXH3-64 of bytes [16, length), seeded with
 *                            the 8 bytes at [0, 8) read as a u64, so
 *                            magic, length, header and body are covered
 *       16    8 base_offset  offset of the first record
 *       24    4 count        number of records, at least 1
 *       28    2 flags        bits 0-3: body compression (0 none, 1 zstd)
 *       30    2 reserved     zero
 *       32    8 min_ts       smallest record timestamp (ms)
 *       40    8 max_ts       largest record timestamp (ms)
 *       48    4 body_size    size of the body before compression
 *       52    4 reserved     zero
 *       56      body
 *
 * The body is `count` records, each
 *
 *   u32 key_len | u32 value_len | i64 timestamp_ms | key | value
 *
 * and the offsets of the records are base_offset, base_offset + 1, ...
 *
 * A batch is trusted only when its checksum matches; nothing in a batch is
 * read before that, and every length is checked against the bytes that
 * are really there, so any sequence of bytes decodes to records or to
 * TW_ECORRUPT, never to a crash (tests/fuzz/fuzz_batch.c holds us to it).
 */
#ifndef TW_LOG_BATCH_H
#define TW_LOG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "log/embedded.h"
#include "log/log.h"

#define LOG_BATCH_MAGIC 0x31425754u /* "TWB1" read little-endian */
#define LOG_BATCH_HEADER_SIZE 56u
#define LOG_RECORD_HEADER_SIZE 16u
/* No batch, compressed or not, may be larger than this. */
#define LOG_BATCH_MAX_BYTES (64u << 20)

#define LOG_BATCH_COMPRESSION_MASK 0x000fu

struct log_batch_header {
    uint32_t length;
    uint64_t checksum;
    uint64_t base_offset;
    uint32_t count;
    uint16_t flags;
    int64_t min_ts;
    int64_t max_ts;
    uint32_t body_size;
};

/*
 * Encodes records into a new batch in *out (malloc'd, owned by the caller)
 * of *out_len bytes. base_offset and checksum are left for
 * log_batch_seal, which the writer calls once it knows the offset.
 * TW_EINVAL when count is 0 or the batch would exceed max_bytes.
 */
int log_batch_encode(const struct log_record *records, size_t count,
                     enum log_compression compression, int zstd_level,
                     uint32_t max_bytes, uint8_t **out, uint32_t *out_len);

/* Sets base_offset and computes the checksum of an encoded batch. */
void log_batch_seal(uint8_t *batch, uint64_t base_offset);

/*
 * Reads and checks the header fields that can be checked without the
 * body: magic, a length between the header size and max_length, count,
 * flags. avail is how many bytes buf holds (at least the header is
 * needed). Returns 0 or TW_ECORRUPT.
 */
int log_batch_parse_header(const uint8_t *buf, size_t avail,
                           uint32_t max_length, struct log_batch_header *hdr);

/* Recomputes the checksum of a whole batch of hdr->length bytes. */
int log_batch_verify(const uint8_t *batch, const struct log_batch_header *hdr);

/* Walks the records of a verified batch. */
struct log_batch_iter {
    const uint8_t *pos;
    const uint8_t *end;
    uint64_t next_offset;
    uint32_t remaining;
};

/*
 * Prepares iteration over a verified batch, decompressing into *scratch
 * (grown with realloc as needed up to LOG_BATCH_MAX_BYTES; the caller
 * owns it and frees it). Returns 0 or TW_ECORRUPT / TW_ENOMEM.
 */
int log_batch_iter_init(struct log_batch_iter *it, const uint8_t *batch,
                        const struct log_batch_header *hdr, uint8_t **scratch,
                        size_t *scratch_cap);

/*
 * Fills *record and returns 1, returns 0 after the last record, or
 * TW_ECORRUPT when the body does not hold exactly count records.
 */
int log_batch_iter_next(struct log_batch_iter *it, struct log_record *record);

#endif
