/*
 * fuzz_batch.c - libFuzzer target for the batch decoder (batch.h).
 *
 * Any sequence of bytes must decode to records or to TW_ECORRUPT, never to
 * a crash, an out-of-bounds read or a leak. Random bytes almost never
 * carry a matching checksum, so each input is decoded twice:
 *
 *   1. as it is: header parse, checksum, and records when it verifies;
 *   2. as a batch made trustworthy: a private copy gets the magic, the
 *      length of the input and (for plain bodies) a matching body_size,
 *      then log_batch_seal gives it a correct checksum, so that record
 *      parsing and zstd decompression meet hostile bodies.
 *
 * Whatever decodes completely is encoded again, plain and with zstd, and
 * must come back as the same records: the body of a batch is its records
 * written back to back, so the decoder and the encoder must agree byte for
 * byte. A broken invariant stops the fuzzer with __builtin_trap().
 */
#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "common/error.h"
#include "log/batch.h"

/*
 * Batches with more records or body bytes than this are not re-encoded
 * (memory, time; the encoder also refuses a body that a zstd batch may
 * legitimately expand to, up to LOG_BATCH_MAX_BYTES).
 */
#define FUZZ_REENCODE_MAX_RECORDS 1024u
#define FUZZ_REENCODE_MAX_BYTES (1u << 20)

/* What one decoding pass keeps: scratch space and the records it found. */
struct fuzz_decode {
    uint8_t *scratch; /* decompression space, reused across passes */
    size_t scratch_cap;
    struct log_record *records; /* the first FUZZ_REENCODE_MAX_RECORDS */
    uint32_t kept;
};

static void fuzz_put_u32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

static uint64_t fuzz_get_u64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

/* A record must lie inside the body, right after the previous one. */
static void fuzz_check_record(const struct log_record *rec,
                              const struct log_batch_header *hdr, uint32_t i,
                              const uint8_t *at, const uint8_t *end)
{
    const uint8_t *key = rec->key;
    const uint8_t *value = rec->value;

    FUZZ_CHECK(rec->offset == hdr->base_offset + i);
    FUZZ_CHECK(key == at + LOG_RECORD_HEADER_SIZE);
    FUZZ_CHECK(value == key + rec->key_len);
    FUZZ_CHECK(value <= end);
    FUZZ_CHECK(rec->value_len <= (size_t)(end - value));
}

/*
 * Decodes every record of a verified batch. Returns 0 when the body held
 * exactly hdr->count records, or the error the decoder reported.
 */
static int fuzz_decode_all(struct fuzz_decode *d, const uint8_t *batch,
                           const struct log_batch_header *hdr,
                           const uint8_t **body, size_t *body_len)
{
    struct log_batch_iter it;
    struct log_record rec;
    const uint8_t *at;
    uint32_t n = 0;
    int rc;

    d->kept = 0;
    rc = log_batch_iter_init(&it, batch, hdr, &d->scratch, &d->scratch_cap);
    if (rc < 0) {
        FUZZ_CHECK(rc == TW_ECORRUPT || rc == TW_ENOMEM);
        return rc;
    }
    FUZZ_CHECK(it.pos <= it.end);
    FUZZ_CHECK((size_t)(it.end - it.pos) == hdr->body_size);
    *body = it.pos;
    *body_len = hdr->body_size;

    at = it.pos;
    while ((rc = log_batch_iter_next(&it, &rec)) == 1) {
        fuzz_check_record(&rec, hdr, n, at, it.end);
        at = (const uint8_t *)rec.value + rec.value_len;
        FUZZ_CHECK(it.pos == at);
        if (d->kept < FUZZ_REENCODE_MAX_RECORDS) {
            d->records[d->kept++] = rec;
        }
        n++;
        FUZZ_CHECK(n <= hdr->count);
    }
    if (rc == 0) {
        FUZZ_CHECK(n == hdr->count);
        FUZZ_CHECK(at == it.end);
        /* The end stays the end. */
        FUZZ_CHECK(log_batch_iter_next(&it, &rec) == 0);
        return 0;
    }
    FUZZ_CHECK(rc == TW_ECORRUPT);
    return rc;
}

/* min_ts and max_ts of an encoded batch are those of its records. */
static void fuzz_check_times(const struct log_batch_header *hdr,
                             const struct log_record *records, uint32_t n)
{
    int64_t min_ts = records[0].timestamp_ms;
    int64_t max_ts = records[0].timestamp_ms;

    for (uint32_t i = 1; i < n; i++) {
        if (records[i].timestamp_ms < min_ts) {
            min_ts = records[i].timestamp_ms;
        }
        if (records[i].timestamp_ms > max_ts) {
            max_ts = records[i].timestamp_ms;
        }
    }
    FUZZ_CHECK(hdr->min_ts == min_ts);
    FUZZ_CHECK(hdr->max_ts == max_ts);
}

/* Encodes records again and checks that they decode to the same bytes. */
static void fuzz_reencode(struct fuzz_decode *d,
                          const struct log_batch_header *orig,
                          const uint8_t *body, size_t body_len,
                          enum log_compression compression)
{
    struct log_batch_header hdr;
    struct fuzz_decode again = {0};
    const uint8_t *body2;
    size_t body2_len;
    uint8_t *batch;
    uint32_t len;
    int rc;

    rc = log_batch_encode(d->records, d->kept, compression, 1,
                          LOG_BATCH_MAX_BYTES, &batch, &len);
    if (rc == TW_ENOMEM) {
        return;
    }
    FUZZ_CHECK(rc == 0);
    log_batch_seal(batch, orig->base_offset);

    FUZZ_CHECK(log_batch_parse_header(batch, len, len, &hdr) == 0);
    FUZZ_CHECK(hdr.length == len);
    FUZZ_CHECK(hdr.count == d->kept);
    FUZZ_CHECK(hdr.body_size == body_len);
    FUZZ_CHECK(hdr.base_offset == orig->base_offset);
    FUZZ_CHECK(log_batch_verify(batch, &hdr) == 0);

    again.records = calloc(FUZZ_REENCODE_MAX_RECORDS, sizeof(*again.records));
    FUZZ_CHECK(again.records != NULL);
    FUZZ_CHECK(fuzz_decode_all(&again, batch, &hdr, &body2, &body2_len) == 0);
    FUZZ_CHECK(body2_len == body_len);
    FUZZ_CHECK(memcmp(body2, body, body_len) == 0);

    fuzz_check_times(&hdr, again.records, again.kept);

    free(again.records);
    free(again.scratch);
    free(batch);
}

/* Decodes a verified batch and, when it is small enough, re-encodes it. */
static void fuzz_batch_checked(struct fuzz_decode *d, const uint8_t *batch,
                               const struct log_batch_header *hdr)
{
    const uint8_t *body;
    size_t body_len;

    if (fuzz_decode_all(d, batch, hdr, &body, &body_len) < 0) {
        return;
    }
    if (hdr->count > FUZZ_REENCODE_MAX_RECORDS ||
        body_len > FUZZ_REENCODE_MAX_BYTES) {
        return;
    }
    fuzz_reencode(d, hdr, body, body_len, LOG_COMPRESSION_NONE);
    fuzz_reencode(d, hdr, body, body_len, LOG_COMPRESSION_ZSTD);
}

/* Path 1: the input as a batch read from disk. */
static void fuzz_raw(struct fuzz_decode *d, const uint8_t *data, size_t size)
{
    struct log_batch_header hdr;

    if (log_batch_parse_header(data, size, LOG_BATCH_MAX_BYTES, &hdr) < 0) {
        return;
    }
    FUZZ_CHECK(hdr.length >= LOG_BATCH_HEADER_SIZE);
    FUZZ_CHECK(hdr.length <= LOG_BATCH_MAX_BYTES);
    FUZZ_CHECK(hdr.count >= 1);
    /* A reader never verifies a batch that is not all there. */
    if (hdr.length > size) {
        return;
    }
    if (log_batch_verify(data, &hdr) < 0) {
        return;
    }
    fuzz_batch_checked(d, data, &hdr);
}

/* Path 2: the input with magic, length and checksum made right. */
static void fuzz_sealed(struct fuzz_decode *d, const uint8_t *data, size_t size)
{
    struct log_batch_header hdr;
    uint8_t *copy;
    uint16_t flags;

    if (size < LOG_BATCH_HEADER_SIZE || size > LOG_BATCH_MAX_BYTES) {
        return;
    }
    copy = malloc(size);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);

    fuzz_put_u32(copy, LOG_BATCH_MAGIC);
    fuzz_put_u32(copy + 4, (uint32_t)size);
    memcpy(&flags, copy + 28, sizeof(flags));
    if ((le16toh(flags) & LOG_BATCH_COMPRESSION_MASK) == 0) {
        fuzz_put_u32(copy + 48, (uint32_t)(size - LOG_BATCH_HEADER_SIZE));
    }
    log_batch_seal(copy, fuzz_get_u64(copy + 16));

    if (log_batch_parse_header(copy, size, LOG_BATCH_MAX_BYTES, &hdr) == 0) {
        FUZZ_CHECK(hdr.length == size);
        FUZZ_CHECK(log_batch_verify(copy, &hdr) == 0);
        fuzz_batch_checked(d, copy, &hdr);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_decode d = {0};

    d.records = calloc(FUZZ_REENCODE_MAX_RECORDS, sizeof(*d.records));
    FUZZ_CHECK(d.records != NULL);

    fuzz_raw(&d, data, size);
    fuzz_sealed(&d, data, size);

    free(d.records);
    free(d.scratch);
    tw_err_clear();
    return 0;
}
