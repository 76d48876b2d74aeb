/* batch.c - encoding, sealing and decoding batches (format in batch.h). */
#include "log/batch.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>

static void put_u16(uint8_t *p, uint16_t v)
{
    v = htole16(v);
    memcpy(p, &v, sizeof(v));
}

static void put_u32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}

static uint16_t get_u16(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return le16toh(v);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

static int batch_body_size(const struct log_record *records, size_t count,
                           uint32_t max_bytes, uint32_t *size)
{
    uint64_t total = 0;

    for (size_t i = 0; i < count; i++) {
        total += LOG_RECORD_HEADER_SIZE;
        total += (uint64_t)records[i].key_len + records[i].value_len;
        if (total + LOG_BATCH_HEADER_SIZE > max_bytes) {
            return tw_err_set(TW_EINVAL,
                              "batch of %zu records exceeds the limit of %u "
                              "bytes; send smaller batches",
                              count, max_bytes);
        }
    }
    *size = (uint32_t)total;
    return 0;
}

static void batch_write_records(uint8_t *p, const struct log_record *records,
                                size_t count, int64_t *min_ts, int64_t *max_ts)
{
    *min_ts = records[0].timestamp_ms;
    *max_ts = records[0].timestamp_ms;
    for (size_t i = 0; i < count; i++) {
        const struct log_record *r = &records[i];

        put_u32(p, r->key_len);
        put_u32(p + 4, r->value_len);
        put_u64(p + 8, (uint64_t)r->timestamp_ms);
        p += LOG_RECORD_HEADER_SIZE;
        if (r->key_len > 0) {
            memcpy(p, r->key, r->key_len);
            p += r->key_len;
        }
        if (r->value_len > 0) {
            memcpy(p, r->value, r->value_len);
            p += r->value_len;
        }
        if (r->timestamp_ms < *min_ts) {
            *min_ts = r->timestamp_ms;
        }
        if (r->timestamp_ms > *max_ts) {
            *max_ts = r->timestamp_ms;
        }
    }
}

static void batch_write_header(uint8_t *b, uint32_t length, uint32_t count,
                               uint16_t flags, int64_t min_ts, int64_t max_ts,
                               uint32_t body_size)
{
    memset(b, 0, LOG_BATCH_HEADER_SIZE);
    put_u32(b, LOG_BATCH_MAGIC);
    put_u32(b + 4, length);
    put_u32(b + 24, count);
    put_u16(b + 28, flags);
    put_u64(b + 32, (uint64_t)min_ts);
    put_u64(b + 40, (uint64_t)max_ts);
    put_u32(b + 48, body_size);
}

/* Compresses the plain batch in place of a new buffer when it pays off. */
static int batch_compress(uint8_t **batch, uint32_t *len, int level)
{
    uint32_t body_size = *len - LOG_BATCH_HEADER_SIZE;
    size_t bound = ZSTD_compressBound(body_size);
    uint8_t *packed = malloc(LOG_BATCH_HEADER_SIZE + bound);
    size_t n;

    if (packed == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory to compress a batch");
    }
    n = ZSTD_compress(packed + LOG_BATCH_HEADER_SIZE, bound,
                      *batch + LOG_BATCH_HEADER_SIZE, body_size, level);
    if (ZSTD_isError(n) || n >= body_size) {
        /* Incompressible data is stored plain; both forms are valid. */
        free(packed);
        return 0;
    }
    memcpy(packed, *batch, LOG_BATCH_HEADER_SIZE);
    put_u32(packed + 4, (uint32_t)(LOG_BATCH_HEADER_SIZE + n));
    put_u16(packed + 28, LOG_COMPRESSION_ZSTD);
    free(*batch);
    *batch = packed;
    *len = (uint32_t)(LOG_BATCH_HEADER_SIZE + n);
    return 0;
}

int log_batch_encode(const struct log_record *records, size_t count,
                     enum log_compression compression, int zstd_level,
                     uint32_t max_bytes, uint8_t **out, uint32_t *out_len)
{
    uint32_t body_size = 0;
    uint32_t len;
    int64_t min_ts;
    int64_t max_ts;
    uint8_t *batch;
    int rc;

    if (count == 0 || count > UINT32_MAX) {
        return tw_err_set(TW_EINVAL, "a batch needs 1 to 2^32-1 records");
    }
    if (max_bytes > LOG_BATCH_MAX_BYTES) {
        max_bytes = LOG_BATCH_MAX_BYTES;
    }
    rc = batch_body_size(records, count, max_bytes, &body_size);
    if (rc < 0) {
        return rc;
    }

    len = LOG_BATCH_HEADER_SIZE + body_size;
    batch = malloc(len);
    if (batch == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for a batch of %u bytes", len);
    }
    batch_write_records(batch + LOG_BATCH_HEADER_SIZE, records, count, &min_ts,
                        &max_ts);
    batch_write_header(batch, len, (uint32_t)count, LOG_COMPRESSION_NONE,
                       min_ts, max_ts, body_size);

    if (compression == LOG_COMPRESSION_ZSTD) {
        rc = batch_compress(&batch, &len, zstd_level);
        if (rc < 0) {
            free(batch);
            return rc;
        }
    }
    *out = batch;
    *out_len = len;
    return 0;
}

static uint64_t batch_checksum(const uint8_t *batch, uint32_t length)
{
    return XXH3_64bits_withSeed(batch + 16, length - 16, get_u64(batch));
}

void log_batch_seal(uint8_t *batch, uint64_t base_offset)
{
    put_u64(batch + 16, base_offset);
    put_u64(batch + 8, batch_checksum(batch, get_u32(batch + 4)));
}

int log_batch_parse_header(const uint8_t *buf, size_t avail,
                           uint32_t max_length, struct log_batch_header *hdr)
{
    uint16_t compression;

    if (avail < LOG_BATCH_HEADER_SIZE) {
        return TW_ECORRUPT;
    }
    if (get_u32(buf) != LOG_BATCH_MAGIC) {
        return TW_ECORRUPT;
    }
    hdr->length = get_u32(buf + 4);
    hdr->checksum = get_u64(buf + 8);
    hdr->base_offset = get_u64(buf + 16);
    hdr->count = get_u32(buf + 24);
    hdr->flags = get_u16(buf + 28);
    hdr->min_ts = (int64_t)get_u64(buf + 32);
    hdr->max_ts = (int64_t)get_u64(buf + 40);
    hdr->body_size = get_u32(buf + 48);

    compression = hdr->flags & LOG_BATCH_COMPRESSION_MASK;
    if (hdr->length < LOG_BATCH_HEADER_SIZE || hdr->length > max_length ||
        hdr->length > LOG_BATCH_MAX_BYTES || hdr->count == 0 ||
        compression > LOG_COMPRESSION_ZSTD ||
        (hdr->flags & ~LOG_BATCH_COMPRESSION_MASK) != 0 ||
        hdr->body_size > LOG_BATCH_MAX_BYTES ||
        (uint64_t)hdr->count * LOG_RECORD_HEADER_SIZE > hdr->body_size) {
        return TW_ECORRUPT;
    }
    if (compression == LOG_COMPRESSION_NONE &&
        hdr->body_size != hdr->length - LOG_BATCH_HEADER_SIZE) {
        return TW_ECORRUPT;
    }
    return 0;
}

int log_batch_verify(const uint8_t *batch, const struct log_batch_header *hdr)
{
    if (batch_checksum(batch, hdr->length) != hdr->checksum) {
        return TW_ECORRUPT;
    }
    return 0;
}

static int batch_reserve(uint8_t **scratch, size_t *cap, size_t need)
{
    uint8_t *grown;

    if (*cap >= need) {
        return 0;
    }
    grown = realloc(*scratch, need);
    if (grown == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory to decode a batch");
    }
    *scratch = grown;
    *cap = need;
    return 0;
}

int log_batch_iter_init(struct log_batch_iter *it, const uint8_t *batch,
                        const struct log_batch_header *hdr, uint8_t **scratch,
                        size_t *scratch_cap)
{
    const uint8_t *body = batch + LOG_BATCH_HEADER_SIZE;
    size_t stored = hdr->length - LOG_BATCH_HEADER_SIZE;
    int rc;

    it->next_offset = hdr->base_offset;
    it->remaining = hdr->count;
    if ((hdr->flags & LOG_BATCH_COMPRESSION_MASK) == LOG_COMPRESSION_NONE) {
        it->pos = body;
        it->end = body + stored;
        return 0;
    }

    rc = batch_reserve(scratch, scratch_cap, hdr->body_size);
    if (rc < 0) {
        return rc;
    }
    size_t n = ZSTD_decompress(*scratch, hdr->body_size, body, stored);
    if (ZSTD_isError(n) || n != hdr->body_size) {
        return TW_ECORRUPT;
    }
    it->pos = *scratch;
    it->end = *scratch + n;
    return 0;
}

int log_batch_iter_next(struct log_batch_iter *it, struct log_record *record)
{
    size_t left = (size_t)(it->end - it->pos);
    uint32_t key_len;
    uint32_t value_len;

    if (it->remaining == 0) {
        return left == 0 ? 0 : TW_ECORRUPT;
    }
    if (left < LOG_RECORD_HEADER_SIZE) {
        return TW_ECORRUPT;
    }
    key_len = get_u32(it->pos);
    value_len = get_u32(it->pos + 4);
    if ((uint64_t)key_len + value_len > left - LOG_RECORD_HEADER_SIZE) {
        return TW_ECORRUPT;
    }

    record->offset = it->next_offset;
    record->timestamp_ms = (int64_t)get_u64(it->pos + 8);
    record->key = it->pos + LOG_RECORD_HEADER_SIZE;
    record->key_len = key_len;
    record->value = it->pos + LOG_RECORD_HEADER_SIZE + key_len;
    record->value_len = value_len;

    it->pos += LOG_RECORD_HEADER_SIZE + (size_t)key_len + value_len;
    it->next_offset++;
    it->remaining--;
    return 1;
}
