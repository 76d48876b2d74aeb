/*
 * test_batch.c - encoding, sealing, verifying and decoding batches
 * (batch.h): what goes in comes out, and damage never passes.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "log/batch.h"

/* Records and the bytes they point into, owned together. */
struct records {
    struct log_record *r;
    uint8_t *space;
    size_t n;
};

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/*
 * n records with keys of 0..15 bytes (some empty), values of 0..max_value
 * bytes (some empty) holding every byte value, the batch magic now and
 * then, and timestamps that go up and down and below zero.
 */
static struct records records_make(size_t n, size_t max_value, int random)
{
    struct records rs = {.n = n};
    size_t per = 16 + max_value;
    static const uint8_t phrase[] = "TWB1\0\xff tracking payload ";

    rs.r = calloc(n, sizeof(*rs.r));
    rs.space = malloc(n * per);
    cr_assert_not_null(rs.r);
    cr_assert_not_null(rs.space);
    rng_state = 0x2545f4914f6cdd1du + n;
    for (size_t i = 0; i < n; i++) {
        uint8_t *key = rs.space + i * per;
        uint8_t *value = key + 16;
        size_t key_len = i % 5 == 1 ? 0 : i % 16;
        size_t value_len = i % 7 == 3 ? 0 : (i * 31 + 1) % (max_value + 1);

        for (size_t j = 0; j < key_len; j++) {
            key[j] = (uint8_t)(i + j);
        }
        for (size_t j = 0; j < value_len; j++) {
            value[j] =
                random ? (uint8_t)rng_next() : phrase[j % (sizeof(phrase) - 1)];
        }
        rs.r[i] = (struct log_record){
            .timestamp_ms = (int64_t)(rng_next() % 100000) - 1000,
            .key = key_len > 0 ? key : NULL,
            .key_len = (uint32_t)key_len,
            .value = value,
            .value_len = (uint32_t)value_len,
        };
    }
    return rs;
}

static void records_free(struct records *rs)
{
    free(rs->r);
    free(rs->space);
}

static uint8_t *batch_make(const struct records *rs,
                           enum log_compression compression,
                           uint64_t base_offset, uint32_t *len)
{
    uint8_t *batch = NULL;
    int rc = log_batch_encode(rs->r, rs->n, compression, 3, LOG_BATCH_MAX_BYTES,
                              &batch, len);

    cr_assert_eq(rc, 0, "encode: %s", tw_err_message());
    log_batch_seal(batch, base_offset);
    return batch;
}

static void parse_and_verify(const uint8_t *batch, uint32_t len,
                             struct log_batch_header *hdr)
{
    cr_assert_eq(log_batch_parse_header(batch, len, LOG_BATCH_MAX_BYTES, hdr),
                 0);
    cr_assert_eq(hdr->length, len);
    cr_assert_eq(log_batch_verify(batch, hdr), 0);
}

/* Empty fields may be NULL on one side, which memcmp does not allow. */
static bool same_bytes(const void *a, const void *b, size_t len)
{
    return len == 0 || memcmp(a, b, len) == 0;
}

/* Decodes the batch and compares every record with the originals. */
static void expect_records(const uint8_t *batch, uint32_t len,
                           const struct records *rs, uint64_t base_offset)
{
    struct log_batch_header hdr;
    struct log_batch_iter it;
    struct log_record rec;
    uint8_t *scratch = NULL;
    size_t cap = 0;

    parse_and_verify(batch, len, &hdr);
    cr_assert_eq(log_batch_iter_init(&it, batch, &hdr, &scratch, &cap), 0);
    for (size_t i = 0; i < rs->n; i++) {
        const struct log_record *want = &rs->r[i];

        cr_assert_eq(log_batch_iter_next(&it, &rec), 1, "record %zu", i);
        cr_assert_eq(rec.offset, base_offset + i);
        cr_assert_eq(rec.timestamp_ms, want->timestamp_ms);
        cr_assert_eq(rec.key_len, want->key_len);
        cr_assert_eq(rec.value_len, want->value_len);
        cr_assert(same_bytes(rec.key, want->key, rec.key_len),
                  "key of record %zu", i);
        cr_assert(same_bytes(rec.value, want->value, rec.value_len),
                  "value of record %zu", i);
    }
    cr_assert_eq(log_batch_iter_next(&it, &rec), 0);
    cr_assert_eq(log_batch_iter_next(&it, &rec), 0);
    free(scratch);
}

static void round_trip(size_t n, size_t max_value, int random,
                       enum log_compression compression)
{
    struct records rs = records_make(n, max_value, random);
    uint32_t len;
    uint8_t *batch = batch_make(&rs, compression, 7000, &len);

    expect_records(batch, len, &rs, 7000);
    free(batch);
    records_free(&rs);
}

Test(batch, records_with_keys_empty_values_and_binary_bytes_round_trip_plain)
{
    round_trip(50, 300, 1, LOG_COMPRESSION_NONE);
}

Test(batch, records_with_keys_empty_values_and_binary_bytes_round_trip_zstd)
{
    round_trip(50, 300, 0, LOG_COMPRESSION_ZSTD);
    round_trip(50, 300, 1, LOG_COMPRESSION_ZSTD);
}

Test(batch, a_single_record_round_trips)
{
    round_trip(1, 64, 1, LOG_COMPRESSION_NONE);
    round_trip(1, 64, 0, LOG_COMPRESSION_ZSTD);
}

Test(batch, a_record_with_no_key_and_no_value_round_trips)
{
    struct records rs = {0};
    struct log_record empty = {.timestamp_ms = 12};
    uint32_t len;
    uint8_t *batch;

    rs.r = &empty;
    rs.n = 1;
    batch = batch_make(&rs, LOG_COMPRESSION_ZSTD, 0, &len);
    cr_assert_eq(len, LOG_BATCH_HEADER_SIZE + LOG_RECORD_HEADER_SIZE);
    expect_records(batch, len, &rs, 0);
    free(batch);
}

Test(batch, ten_thousand_records_round_trip_plain)
{
    round_trip(10000, 40, 1, LOG_COMPRESSION_NONE);
}

Test(batch, ten_thousand_records_round_trip_zstd_and_compress)
{
    struct records rs = records_make(10000, 40, 0);
    struct log_batch_header hdr;
    uint32_t len;
    uint8_t *batch = batch_make(&rs, LOG_COMPRESSION_ZSTD, 1, &len);

    parse_and_verify(batch, len, &hdr);
    cr_assert_eq(hdr.flags & LOG_BATCH_COMPRESSION_MASK, LOG_COMPRESSION_ZSTD);
    cr_assert_lt(len - LOG_BATCH_HEADER_SIZE, hdr.body_size / 2);
    expect_records(batch, len, &rs, 1);
    free(batch);
    records_free(&rs);
}

Test(batch, incompressible_data_stays_plain_and_decodes)
{
    struct records rs = records_make(4, 4000, 1);
    struct log_batch_header hdr;
    uint32_t len;
    uint8_t *batch = batch_make(&rs, LOG_COMPRESSION_ZSTD, 99, &len);

    parse_and_verify(batch, len, &hdr);
    cr_assert_eq(hdr.flags, LOG_COMPRESSION_NONE);
    cr_assert_eq(hdr.body_size, len - LOG_BATCH_HEADER_SIZE);
    expect_records(batch, len, &rs, 99);
    free(batch);
    records_free(&rs);
}

/* True when a reader would refuse the batch in buf. */
static bool batch_rejected(const uint8_t *buf, uint32_t len)
{
    struct log_batch_header hdr;

    if (log_batch_parse_header(buf, len, LOG_BATCH_MAX_BYTES, &hdr) < 0) {
        return true;
    }
    /* A length pointing past the bytes there is an incomplete batch. */
    if (hdr.length > len) {
        return true;
    }
    return log_batch_verify(buf, &hdr) < 0;
}

static void expect_every_flip_rejected(enum log_compression compression)
{
    struct records rs = records_make(6, 30, 0);
    uint32_t len;
    uint8_t *batch = batch_make(&rs, compression, 123456, &len);
    uint8_t *copy = malloc(len);
    struct log_batch_header hdr;

    cr_assert_not_null(copy);
    parse_and_verify(batch, len, &hdr);
    cr_assert_eq(hdr.flags, compression);
    for (uint32_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, batch, len);
            copy[i] ^= (uint8_t)(1u << bit);
            cr_assert(batch_rejected(copy, len),
                      "bit %d of byte %u flipped, yet the batch passed", bit,
                      i);
        }
    }
    free(copy);
    free(batch);
    records_free(&rs);
}

Test(batch, a_flipped_bit_anywhere_in_a_plain_batch_is_rejected)
{
    expect_every_flip_rejected(LOG_COMPRESSION_NONE);
}

Test(batch, a_flipped_bit_anywhere_in_a_zstd_batch_is_rejected)
{
    expect_every_flip_rejected(LOG_COMPRESSION_ZSTD);
}

Test(batch, a_batch_over_the_size_limit_is_refused_with_a_message)
{
    struct records rs = records_make(100, 100, 1);
    uint8_t *batch = NULL;
    uint32_t len = 0;
    int rc;

    tw_err_clear();
    rc = log_batch_encode(rs.r, rs.n, LOG_COMPRESSION_NONE, 0, 1024, &batch,
                          &len);
    cr_assert_eq(rc, TW_EINVAL);
    cr_assert_null(batch);
    cr_assert_not_null(strstr(tw_err_message(), "exceeds the limit of 1024"),
                       "message: %s", tw_err_message());
    records_free(&rs);
}

Test(batch, a_generous_limit_still_cannot_pass_the_hard_maximum)
{
    static const uint8_t byte = 0;
    struct log_record huge[2] = {
        {.value = &byte, .value_len = LOG_BATCH_MAX_BYTES / 2},
        {.value = &byte, .value_len = LOG_BATCH_MAX_BYTES / 2},
    };
    uint8_t *batch = NULL;
    uint32_t len = 0;

    /* The lengths alone exceed the maximum: no byte is read or copied. */
    cr_assert_eq(log_batch_encode(huge, 2, LOG_COMPRESSION_NONE, 0, UINT32_MAX,
                                  &batch, &len),
                 TW_EINVAL);
    cr_assert_null(batch);
    cr_assert_neq(strcmp(tw_err_message(), ""), 0);
}

Test(batch, an_empty_batch_is_refused)
{
    struct log_record one = {0};
    uint8_t *batch = NULL;
    uint32_t len = 0;

    cr_assert_eq(log_batch_encode(&one, 0, LOG_COMPRESSION_NONE, 0,
                                  LOG_BATCH_MAX_BYTES, &batch, &len),
                 TW_EINVAL);
    cr_assert_null(batch);
}

Test(batch, the_header_describes_offsets_count_times_and_sizes)
{
    const int64_t ts[] = {500, -20, 9000, 42, 8999};
    struct log_record r[5];
    struct log_batch_header hdr;
    uint8_t *batch = NULL;
    uint32_t len = 0;
    uint32_t body = 0;

    for (size_t i = 0; i < 5; i++) {
        r[i] = (struct log_record){
            .timestamp_ms = ts[i],
            .key = "k",
            .key_len = 1,
            .value = "value",
            .value_len = 5,
        };
        body += LOG_RECORD_HEADER_SIZE + 6;
    }
    cr_assert_eq(log_batch_encode(r, 5, LOG_COMPRESSION_NONE, 0,
                                  LOG_BATCH_MAX_BYTES, &batch, &len),
                 0);
    log_batch_seal(batch, 0x123456789abcull);

    parse_and_verify(batch, len, &hdr);
    cr_assert_eq(hdr.base_offset, 0x123456789abcull);
    cr_assert_eq(hdr.count, 5);
    cr_assert_eq(hdr.min_ts, -20);
    cr_assert_eq(hdr.max_ts, 9000);
    cr_assert_eq(hdr.body_size, body);
    cr_assert_eq(hdr.length, LOG_BATCH_HEADER_SIZE + body);
    cr_assert_eq(hdr.flags, LOG_COMPRESSION_NONE);
    cr_assert_eq(memcmp(batch, "TWB1", 4), 0);
    free(batch);
}

Test(batch, resealing_at_another_offset_moves_the_records)
{
    struct records rs = records_make(3, 10, 1);
    uint32_t len;
    uint8_t *batch = batch_make(&rs, LOG_COMPRESSION_NONE, 5, &len);

    log_batch_seal(batch, 77);
    expect_records(batch, len, &rs, 77);
    free(batch);
    records_free(&rs);
}

Test(batch, a_header_longer_than_the_allowed_length_is_refused)
{
    struct records rs = records_make(3, 100, 1);
    struct log_batch_header hdr;
    uint32_t len;
    uint8_t *batch = batch_make(&rs, LOG_COMPRESSION_NONE, 0, &len);

    cr_assert_eq(log_batch_parse_header(batch, len, len - 1, &hdr),
                 TW_ECORRUPT);
    cr_assert_eq(log_batch_parse_header(batch, LOG_BATCH_HEADER_SIZE - 1,
                                        LOG_BATCH_MAX_BYTES, &hdr),
                 TW_ECORRUPT);
    cr_assert_eq(log_batch_parse_header(batch, len, len, &hdr), 0);
    free(batch);
    records_free(&rs);
}
