/*
 * fuzz_seeds.c - writes the seed corpus of the log fuzz targets.
 *
 *   fuzz_seeds DIR
 *
 * writes DIR/fuzz_batch/ (sealed batches: plain, zstd, an empty key, an
 * empty record, many records, incompressible data) and DIR/fuzz_segment/
 * (inputs in the layout tests/fuzz/fuzz_segment.c reads: a mode byte, the
 * expected offset, then a segment file, whole, torn, damaged or of a newer
 * version, an index file, or a segment file name). The output is the same on
 * every run, so the committed corpus under tests/fuzz/corpus/ can be
 * regenerated and compared.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "log/batch.h"
#include "log/index.h"
#include "log/segment.h"

#define SEED_MAX_RECORDS 600
#define SEED_MAX_BYTES (64u << 10)
/* The segment every segment seed starts from. */
#define SEED_BASE_OFFSET 1000u
#define SEED_BATCHES 4

/* A file being assembled in memory. */
struct seed_buf {
    uint8_t data[SEED_MAX_BYTES];
    size_t len;
};

/* Where each batch of the seed segment starts, for the damaged variants. */
struct seed_segment {
    struct seed_buf file;
    size_t position[SEED_BATCHES];
    uint32_t length[SEED_BATCHES];
};

static uint64_t seed_state = 0x9e3779b97f4a7c15u;

/* xorshift64: the same bytes on every run. */
static uint64_t seed_random(void)
{
    seed_state ^= seed_state << 13;
    seed_state ^= seed_state >> 7;
    seed_state ^= seed_state << 17;
    return seed_state;
}

static int seed_append(struct seed_buf *b, const void *data, size_t len)
{
    if (len > sizeof(b->data) - b->len) {
        fprintf(stderr, "fuzz_seeds: a seed would exceed %u bytes\n",
                SEED_MAX_BYTES);
        return -1;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

static int seed_write(const char *dir, const char *name, const void *data,
                      size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "fuzz_seeds: cannot create %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    if (fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static int seed_mkdir(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_seeds: cannot create directory %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Fills n records. Keys name the record; values repeat a phrase (so zstd
 * pays off) or are random bytes, and some hold the batch magic to make
 * the scan's resync look twice. Timestamps go up and down.
 */
static void seed_records(struct log_record *records, size_t n, uint8_t *space,
                         size_t value_len, int random_values)
{
    static const char phrase[] = "TWB1 tracking event payload ";

    for (size_t i = 0; i < n; i++) {
        uint8_t *key = space + i * (16 + value_len);
        uint8_t *value = key + 16;
        int key_len = snprintf((char *)key, 16, "key-%zu", i);

        for (size_t j = 0; j < value_len; j++) {
            value[j] = random_values
                           ? (uint8_t)seed_random()
                           : (uint8_t)phrase[j % (sizeof(phrase) - 1)];
        }
        records[i] = (struct log_record){
            .timestamp_ms = 1700000000000 + (int64_t)(i * 37 % 11) * 1000,
            .key = key,
            .key_len = (uint32_t)key_len,
            .value = value,
            .value_len = (uint32_t)value_len,
        };
    }
}

/* Encodes and seals a batch; the caller frees *out. */
static int seed_batch(const struct log_record *records, size_t n,
                      enum log_compression compression, uint64_t base_offset,
                      uint8_t **out, uint32_t *len)
{
    int rc = log_batch_encode(records, n, compression, 3, LOG_BATCH_MAX_BYTES,
                              out, len);

    if (rc < 0) {
        fprintf(stderr, "fuzz_seeds: cannot encode a batch: %s\n",
                tw_err_message());
        return -1;
    }
    log_batch_seal(*out, base_offset);
    return 0;
}

static int seed_write_batch(const char *dir, const char *name,
                            const struct log_record *records, size_t n,
                            enum log_compression compression)
{
    uint8_t *batch;
    uint32_t len;
    int rc;

    if (seed_batch(records, n, compression, 42, &batch, &len) < 0) {
        return -1;
    }
    rc = seed_write(dir, name, batch, len);
    free(batch);
    return rc;
}

/* The batch seeds: which records, and how they are stored. */
static const struct seed_batch_spec {
    const char *name;
    size_t records;
    size_t value_len;
    int random_values;
    int no_key;
    enum log_compression compression;
} seed_batch_specs[] = {
    {"plain.bin", 3, 24, 0, 0, LOG_COMPRESSION_NONE},
    {"zstd.bin", 3, 24, 0, 0, LOG_COMPRESSION_ZSTD},
    {"empty_key.bin", 2, 8, 0, 1, LOG_COMPRESSION_NONE},
    {"empty_record.bin", 1, 0, 0, 1, LOG_COMPRESSION_NONE},
    {"many_records.bin", SEED_MAX_RECORDS, 6, 0, 0, LOG_COMPRESSION_ZSTD},
    {"many_plain.bin", 200, 6, 0, 0, LOG_COMPRESSION_NONE},
    {"incompressible.bin", 2, 200, 1, 0, LOG_COMPRESSION_ZSTD},
};

static int seed_batches(const char *dir, struct log_record *records,
                        uint8_t *space)
{
    size_t n = sizeof(seed_batch_specs) / sizeof(seed_batch_specs[0]);

    for (size_t i = 0; i < n; i++) {
        const struct seed_batch_spec *spec = &seed_batch_specs[i];

        seed_records(records, spec->records, space, spec->value_len,
                     spec->random_values);
        if (spec->no_key) {
            records[0].key = NULL;
            records[0].key_len = 0;
        }
        if (seed_write_batch(dir, spec->name, records, spec->records,
                             spec->compression) < 0) {
            return -1;
        }
    }
    return 0;
}

/* A segment of SEED_BATCHES batches, plain and zstd in turn. */
static int seed_build_segment(struct seed_segment *seg,
                              struct log_record *records, uint8_t *space)
{
    struct log_segment_header hdr = {
        .version = LOG_SEGMENT_VERSION,
        .partition = 3,
        .base_offset = SEED_BASE_OFFSET,
        .created_ms = 1700000000000,
    };
    uint8_t head[LOG_SEGMENT_HEADER_SIZE];
    uint64_t offset = SEED_BASE_OFFSET;

    seg->file.len = 0;
    log_segment_header_encode(head, &hdr);
    if (seed_append(&seg->file, head, sizeof(head)) < 0) {
        return -1;
    }
    for (int i = 0; i < SEED_BATCHES; i++) {
        size_t n = (size_t)(i + 2);
        uint8_t *batch;
        uint32_t len;
        int rc;

        seed_records(records, n, space, 40, 0);
        if (seed_batch(records, n,
                       i % 2 ? LOG_COMPRESSION_ZSTD : LOG_COMPRESSION_NONE,
                       offset, &batch, &len) < 0) {
            return -1;
        }
        seg->position[i] = seg->file.len;
        seg->length[i] = len;
        rc = seed_append(&seg->file, batch, len);
        free(batch);
        if (rc < 0) {
            return -1;
        }
        offset += n;
    }
    return 0;
}

/* Writes a fuzz_segment input: mode, expected offset, file. */
static int seed_write_input(const char *dir, const char *name, uint8_t mode,
                            uint64_t expected, const uint8_t *file, size_t len)
{
    struct seed_buf *in = malloc(sizeof(*in));
    uint64_t le = htole64(expected);
    int rc = -1;

    if (in == NULL) {
        fprintf(stderr, "fuzz_seeds: out of memory\n");
        return -1;
    }
    in->len = 0;
    if (seed_append(in, &mode, 1) == 0 && seed_append(in, &le, 8) == 0 &&
        seed_append(in, file, len) == 0) {
        rc = seed_write(dir, name, in->data, in->len);
    }
    free(in);
    return rc;
}

/* An index over the seed segment, one entry per batch. */
static int seed_index(const char *dir, const struct seed_segment *seg)
{
    char tmpdir[] = "/tmp/trackway-seeds.XXXXXX";
    char path[sizeof(tmpdir) + 32];
    struct log_index idx;
    struct log_index_summary sum = {
        .segment_size = seg->file.len,
        .base_offset = SEED_BASE_OFFSET,
        .end_offset = SEED_BASE_OFFSET + 14,
        .min_ts = 1700000000000,
        .max_ts = 1700000010000,
    };
    struct seed_buf *file = malloc(sizeof(*file));
    FILE *f = NULL;
    int rc = -1;

    log_index_init(&idx);
    if (file == NULL || mkdtemp(tmpdir) == NULL) {
        fprintf(stderr, "fuzz_seeds: no temporary directory\n");
        goto out_free;
    }
    snprintf(path, sizeof(path), "%s/index.idx", tmpdir);
    for (int i = 0; i < SEED_BATCHES; i++) {
        if (log_index_add(&idx, seg->position[i],
                          SEED_BASE_OFFSET + (uint64_t)(i * (i + 3) / 2),
                          1700000000000 + i * 3000 % 7000, 1) < 0) {
            goto out_rmdir;
        }
    }
    if (log_index_write(path, &idx, &sum) < 0) {
        fprintf(stderr, "fuzz_seeds: %s\n", tw_err_message());
        goto out_rmdir;
    }
    f = fopen(path, "rb");
    if (f != NULL) {
        file->len = fread(file->data, 1, sizeof(file->data), f);
        fclose(f);
        rc = seed_write_input(dir, "index.bin", 0, 0, file->data, file->len);
    }
    unlink(path);
out_rmdir:
    rmdir(tmpdir);
out_free:
    log_index_free(&idx);
    free(file);
    return rc;
}

static int seed_segments(const char *dir, struct log_record *records,
                         uint8_t *space)
{
    struct seed_segment *seg = malloc(sizeof(*seg));
    const uint8_t *body;
    size_t mid;
    int rc = -1;

    if (seg == NULL || seed_build_segment(seg, records, space) < 0) {
        goto out;
    }
    body = seg->file.data + LOG_SEGMENT_HEADER_SIZE;
    if (seed_write_input(dir, "segment.bin", 0x00, 0, seg->file.data,
                         seg->file.len) < 0 ||
        seed_write_input(dir, "batches_only.bin", 0x41, SEED_BASE_OFFSET, body,
                         seg->file.len - LOG_SEGMENT_HEADER_SIZE) < 0 ||
        seed_write_input(dir, "torn_tail.bin", 0xc0, 0, seg->file.data,
                         seg->file.len - 7) < 0 ||
        seed_write_input(dir, "newer_version.bin", 0x25, SEED_BASE_OFFSET, body,
                         seg->file.len - LOG_SEGMENT_HEADER_SIZE) < 0 ||
        seed_write_input(dir, "name.bin", 0x00, 0,
                         (const uint8_t *)"00000000000000001024.seg", 24) < 0 ||
        seed_index(dir, seg) < 0) {
        goto out;
    }
    mid = seg->position[1] + seg->length[1] / 2;
    seg->file.data[mid] ^= 0x20;
    rc = seed_write_input(dir, "damaged_middle.bin", 0x20, 0, seg->file.data,
                          seg->file.len);
out:
    free(seg);
    return rc;
}

int main(int argc, char **argv)
{
    char batch_dir[4096];
    char segment_dir[4096];
    struct log_record *records;
    uint8_t *space;
    int rc = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    snprintf(batch_dir, sizeof(batch_dir), "%s/fuzz_batch", argv[1]);
    snprintf(segment_dir, sizeof(segment_dir), "%s/fuzz_segment", argv[1]);
    records = calloc(SEED_MAX_RECORDS, sizeof(*records));
    space = calloc(SEED_MAX_RECORDS, 16 + 256);
    if (records == NULL || space == NULL) {
        fprintf(stderr, "fuzz_seeds: out of memory\n");
        goto out;
    }
    if (seed_mkdir(argv[1]) < 0 || seed_mkdir(batch_dir) < 0 ||
        seed_mkdir(segment_dir) < 0) {
        goto out;
    }
    if (seed_batches(batch_dir, records, space) == 0 &&
        seed_segments(segment_dir, records, space) == 0) {
        rc = 0;
    }
out:
    free(records);
    free(space);
    return rc;
}
