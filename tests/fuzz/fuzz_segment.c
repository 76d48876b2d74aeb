/*
 * fuzz_segment.c - libFuzzer target for the segment scan and the index
 * reader (segment.h, index.h).
 *
 * An input is
 *
 *   byte 0      mode: bit 0 puts a valid segment header in front of the
 *               file, bit 1 limits batches to 4096 bytes, bit 2 gives
 *               that header the version in bits 4-7 instead of ours,
 *               bits 4-7 pick the index interval (1 << n bytes)
 *   bytes 1-8   expected offset of the first batch (little-endian)
 *   bytes 9-    the file
 *
 * The file is scanned from a memfd as a segment, and the scan must account
 * for every byte: the batches and damaged ranges it reports follow each
 * other without gap or overlap from the start position to the end of the
 * file, every batch reported verifies, no valid batch hides inside a
 * damaged range, and the totals match the callbacks. The batches found
 * feed an in-memory index whose searches are checked against a linear
 * search. The same file is then read as an index file, as it is and with
 * its magic, entry count and checksum made right, through its
 * /proc/self/fd path. A broken invariant stops the fuzzer with
 * __builtin_trap().
 */
#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "fuzz.h"
#include "common/error.h"
#include "log/batch.h"
#include "log/index.h"
#include "log/io.h"
#include "log/segment.h"

#define FUZZ_PREFIX_SIZE 9u
#define FUZZ_MODE_HEADER 0x01u
#define FUZZ_MODE_SMALL_BATCHES 0x02u
#define FUZZ_MODE_HEADER_VERSION 0x04u
/* Index entries whose searches are checked, per index. */
#define FUZZ_QUERY_ENTRIES 32u

/* A batch the scan reported. */
struct fuzz_batch {
    uint64_t position;
    uint64_t base_offset;
    uint32_t count;
    int64_t max_ts;
};

/* What the callbacks saw, to be compared with what the scan says. */
struct fuzz_scan_ctx {
    const uint8_t *file;
    uint64_t file_size;
    uint32_t max_batch_bytes;
    uint32_t index_interval;
    struct log_index index;

    uint64_t cursor;   /* where the next batch or damage must start */
    uint64_t expected; /* the offset the next batch must carry */
    uint64_t records;
    uint64_t lost;
    uint32_t damages;
    uint64_t first_damage;
    bool batch_after_damage;
    int64_t min_ts;
    int64_t max_ts;

    struct fuzz_batch *batches; /* room for file_size / 56 + 1 */
    size_t batch_count;
};

static uint64_t fuzz_get_u64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

static void fuzz_put_u32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

static void fuzz_put_u64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}

/* A memfd holding len bytes of data. */
static int fuzz_memfd(const char *name, const uint8_t *data, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(io_pwrite_all(fd, data, len, 0) == 0);
    return fd;
}

/* True when a whole, verified batch with base >= min_offset is at pos. */
static bool fuzz_batch_at(const struct fuzz_scan_ctx *c, uint64_t pos,
                          uint64_t min_offset, struct log_batch_header *hdr)
{
    if (log_batch_parse_header(c->file + pos, c->file_size - pos,
                               c->max_batch_bytes, hdr) < 0) {
        return false;
    }
    if (hdr->length > c->file_size - pos) {
        return false;
    }
    if (log_batch_verify(c->file + pos, hdr) < 0) {
        return false;
    }
    return hdr->base_offset >= min_offset;
}

static void fuzz_on_batch(void *ctx, uint64_t position,
                          const struct log_batch_header *hdr)
{
    struct fuzz_scan_ctx *c = ctx;
    struct log_batch_header mine;
    struct fuzz_batch *b;

    FUZZ_CHECK(position == c->cursor);
    FUZZ_CHECK(position < c->file_size);
    FUZZ_CHECK(fuzz_batch_at(c, position, 0, &mine));
    FUZZ_CHECK(mine.length == hdr->length);
    FUZZ_CHECK(mine.checksum == hdr->checksum);
    FUZZ_CHECK(mine.base_offset == hdr->base_offset);
    FUZZ_CHECK(mine.count == hdr->count);

    /* Offsets skip ahead only across damage. */
    FUZZ_CHECK(hdr->base_offset >= c->expected);
    if (hdr->base_offset > c->expected) {
        FUZZ_CHECK(c->damages > 0);
    }
    c->lost += hdr->base_offset - c->expected;
    if (c->damages > 0) {
        c->batch_after_damage = true;
    }
    if (c->batch_count == 0 || hdr->min_ts < c->min_ts) {
        c->min_ts = hdr->min_ts;
    }
    if (c->batch_count == 0 || hdr->max_ts > c->max_ts) {
        c->max_ts = hdr->max_ts;
    }

    b = &c->batches[c->batch_count++];
    FUZZ_CHECK(c->batch_count <= c->file_size / LOG_BATCH_HEADER_SIZE);
    b->position = position;
    b->base_offset = hdr->base_offset;
    b->count = hdr->count;
    b->max_ts = hdr->max_ts;
    FUZZ_CHECK(log_index_add(&c->index, position, hdr->base_offset, hdr->max_ts,
                             c->index_interval) == 0);

    c->records += hdr->count;
    c->expected = hdr->base_offset + hdr->count;
    c->cursor = position + hdr->length;
}

/* The scan must not have skipped a batch it could have taken. */
static void fuzz_check_nothing_hidden(const struct fuzz_scan_ctx *c,
                                      uint64_t position, uint64_t end)
{
    static const uint8_t magic[4] = {'T', 'W', 'B', '1'};
    struct log_batch_header hdr;
    uint64_t at = position + 1;

    /* At the damage itself only a batch that fits nowhere is allowed. */
    if (fuzz_batch_at(c, position, c->expected, &hdr)) {
        FUZZ_CHECK(hdr.base_offset > c->expected && c->damages == 0);
    }
    while (at < end) {
        const uint8_t *hit = memmem(c->file + at, end - at, magic, 4);

        if (hit == NULL) {
            break;
        }
        at = (uint64_t)(hit - c->file);
        FUZZ_CHECK(!fuzz_batch_at(c, at, c->expected, &hdr));
        at++;
    }
}

static void fuzz_on_damage(void *ctx, uint64_t position, uint64_t end,
                           uint64_t expected_offset, const char *what)
{
    struct fuzz_scan_ctx *c = ctx;

    FUZZ_CHECK(position == c->cursor);
    FUZZ_CHECK(position < end);
    FUZZ_CHECK(end <= c->file_size);
    FUZZ_CHECK(expected_offset == c->expected);
    FUZZ_CHECK(what != NULL && what[0] != '\0');

    fuzz_check_nothing_hidden(c, position, end);
    if (c->damages == 0) {
        c->first_damage = position;
    }
    c->damages++;
    c->cursor = end;
}

/* What the scan reports must be what the callbacks saw. */
static void fuzz_check_scan(const struct log_scan *s,
                            const struct fuzz_scan_ctx *c)
{
    FUZZ_CHECK(s->batches == c->batch_count);
    FUZZ_CHECK(s->records == c->records);
    FUZZ_CHECK(s->lost_offsets == c->lost);
    FUZZ_CHECK(s->damaged_ranges == c->damages);
    FUZZ_CHECK(s->next_offset == c->expected);
    FUZZ_CHECK(s->valid_end >= s->start_position);
    FUZZ_CHECK(s->valid_end <= s->file_size);
    FUZZ_CHECK(c->cursor == s->file_size);
    if (c->batch_count > 0) {
        FUZZ_CHECK(s->min_ts == c->min_ts && s->max_ts == c->max_ts);
    } else {
        FUZZ_CHECK(s->min_ts == 0 && s->max_ts == 0);
    }
    if (c->damages == 0) {
        FUZZ_CHECK(s->first_damage == UINT64_MAX);
        FUZZ_CHECK(s->valid_end == s->file_size);
        FUZZ_CHECK(!s->damage_in_middle);
        FUZZ_CHECK(s->lost_offsets == 0);
    } else {
        FUZZ_CHECK(s->first_damage == c->first_damage);
        FUZZ_CHECK(s->valid_end == s->first_damage);
        FUZZ_CHECK(s->damage_in_middle == c->batch_after_damage);
    }
}

/* Linear versions of the index searches (index.h). */
static ptrdiff_t fuzz_find_offset_slow(const struct log_index *idx,
                                       uint64_t target)
{
    ptrdiff_t found = 0;

    if (idx->count == 0) {
        return -1;
    }
    for (size_t i = 0; i < idx->count; i++) {
        if (idx->entries[i].offset <= target) {
            found = (ptrdiff_t)i;
        }
    }
    return found;
}

static ptrdiff_t fuzz_find_time_slow(const struct log_index *idx, int64_t ts)
{
    if (idx->count == 0) {
        return -1;
    }
    for (size_t i = 0; i < idx->count; i++) {
        if (idx->entries[i].max_ts >= ts) {
            return i == 0 ? 0 : (ptrdiff_t)(i - 1);
        }
    }
    return (ptrdiff_t)(idx->count - 1);
}

static bool fuzz_index_sorted(const struct log_index *idx, bool by_time)
{
    for (size_t i = 1; i < idx->count; i++) {
        const struct log_index_entry *a = &idx->entries[i - 1];
        const struct log_index_entry *b = &idx->entries[i];

        if (by_time ? b->max_ts < a->max_ts : b->offset < a->offset) {
            return false;
        }
    }
    return true;
}

static void fuzz_query(const struct log_index *idx, uint64_t offset, int64_t ts,
                       bool offsets_sorted, bool times_sorted)
{
    ptrdiff_t by_offset = log_index_find_offset(idx, offset);
    ptrdiff_t by_time = log_index_find_time(idx, ts);

    if (idx->count == 0) {
        FUZZ_CHECK(by_offset == -1 && by_time == -1);
        return;
    }
    FUZZ_CHECK(by_offset >= 0 && (size_t)by_offset < idx->count);
    FUZZ_CHECK(by_time >= 0 && (size_t)by_time < idx->count);
    if (offsets_sorted) {
        FUZZ_CHECK(by_offset == fuzz_find_offset_slow(idx, offset));
    }
    if (times_sorted) {
        FUZZ_CHECK(by_time == fuzz_find_time_slow(idx, ts));
    }
}

/* Searches around a sample of the entries and at the extremes. */
static void fuzz_check_index(const struct log_index *idx)
{
    bool offsets_sorted = fuzz_index_sorted(idx, false);
    bool times_sorted = fuzz_index_sorted(idx, true);
    size_t step = idx->count / FUZZ_QUERY_ENTRIES + 1;

    fuzz_query(idx, 0, INT64_MIN, offsets_sorted, times_sorted);
    fuzz_query(idx, UINT64_MAX, INT64_MAX, offsets_sorted, times_sorted);
    for (size_t i = 0; i < idx->count; i += step) {
        const struct log_index_entry *e = &idx->entries[i];

        for (int d = -1; d <= 1; d++) {
            fuzz_query(idx, e->offset + (uint64_t)(int64_t)d,
                       (int64_t)((uint64_t)e->max_ts + (uint64_t)(int64_t)d),
                       offsets_sorted, times_sorted);
        }
    }
}

/*
 * The first record at or after ts sits in the first batch whose max_ts
 * reaches ts; scanning from the entry found must not start past it.
 */
static void fuzz_check_index_finds(const struct fuzz_scan_ctx *c)
{
    const struct log_index *idx = &c->index;

    for (size_t i = 0; i < c->batch_count; i++) {
        const struct fuzz_batch *b = &c->batches[i];
        ptrdiff_t e = log_index_find_time(idx, b->max_ts);
        size_t first = 0;

        while (c->batches[first].max_ts < b->max_ts) {
            first++;
        }
        FUZZ_CHECK(e >= 0);
        FUZZ_CHECK(idx->entries[e].position <= c->batches[first].position);
        if (b->base_offset >= c->batches[0].base_offset &&
            fuzz_index_sorted(idx, false)) {
            e = log_index_find_offset(idx, b->base_offset);
            FUZZ_CHECK(idx->entries[e].position <= b->position);
        }
    }
}

static void fuzz_scan(const uint8_t *file, size_t len, uint64_t start,
                      uint64_t expected, uint8_t mode)
{
    struct fuzz_scan_ctx c = {0};
    struct log_scan s = {0};
    int fd = fuzz_memfd("fuzz_segment", file, len);

    c.file = file;
    c.file_size = len;
    c.max_batch_bytes =
        mode & FUZZ_MODE_SMALL_BATCHES ? 4096 : LOG_BATCH_MAX_BYTES;
    c.index_interval = 1u << (mode >> 4);
    c.cursor = start;
    c.expected = expected;
    c.batches = calloc(len / LOG_BATCH_HEADER_SIZE + 1, sizeof(*c.batches));
    FUZZ_CHECK(c.batches != NULL);
    log_index_init(&c.index);

    s.fd = fd;
    s.file_size = len;
    s.start_position = start;
    s.expected_offset = expected;
    s.max_batch_bytes = c.max_batch_bytes;
    s.on_batch = fuzz_on_batch;
    s.on_damage = fuzz_on_damage;
    s.ctx = &c;
    FUZZ_CHECK(log_segment_scan(&s) == 0);
    fuzz_check_scan(&s, &c);
    fuzz_check_index(&c.index);
    fuzz_check_index_finds(&c);

    log_index_free(&c.index);
    free(c.batches);
    close(fd);
}

/* Reads bytes as an index file; returns what log_index_read returned. */
static int fuzz_read_index(const uint8_t *file, size_t len)
{
    struct log_index idx;
    struct log_index_summary sum;
    char path[64];
    int fd = fuzz_memfd("fuzz_index", file, len);
    int rc;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    log_index_init(&idx);
    rc = log_index_read(path, &idx, &sum);
    if (rc == 0) {
        FUZZ_CHECK(idx.count == sum.entry_count);
        FUZZ_CHECK(len == LOG_INDEX_HEADER_SIZE +
                              (size_t)sum.entry_count * LOG_INDEX_ENTRY_SIZE);
        for (size_t i = 0; i < idx.count; i++) {
            const uint8_t *e =
                file + LOG_INDEX_HEADER_SIZE + i * LOG_INDEX_ENTRY_SIZE;

            FUZZ_CHECK(idx.entries[i].offset == fuzz_get_u64(e));
            FUZZ_CHECK(idx.entries[i].position == fuzz_get_u64(e + 8));
            FUZZ_CHECK(idx.entries[i].max_ts == (int64_t)fuzz_get_u64(e + 16));
        }
        fuzz_check_index(&idx);
    } else {
        FUZZ_CHECK(rc == TW_ECORRUPT || rc == TW_EVERSION || rc == TW_ENOMEM);
    }
    log_index_free(&idx);
    close(fd);
    return rc;
}

/* The file as an index whose magic, entry count and checksum are right. */
static void fuzz_read_sealed_index(const uint8_t *file, size_t len)
{
    size_t entries;
    uint16_t version;
    uint8_t *copy;
    uint64_t seed;
    int rc;

    if (len < LOG_INDEX_HEADER_SIZE) {
        return;
    }
    entries = (len - LOG_INDEX_HEADER_SIZE) / LOG_INDEX_ENTRY_SIZE;
    len = LOG_INDEX_HEADER_SIZE + entries * LOG_INDEX_ENTRY_SIZE;
    copy = malloc(len);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, file, len);

    fuzz_put_u32(copy, LOG_INDEX_MAGIC);
    fuzz_put_u32(copy + 8, (uint32_t)entries);
    seed = XXH3_64bits(copy, 56);
    fuzz_put_u64(copy + 56,
                 XXH3_64bits_withSeed(copy + LOG_INDEX_HEADER_SIZE,
                                      len - LOG_INDEX_HEADER_SIZE, seed));
    memcpy(&version, copy + 4, sizeof(version));

    rc = fuzz_read_index(copy, len);
    if (le16toh(version) > LOG_INDEX_VERSION) {
        FUZZ_CHECK(rc == TW_EVERSION);
    } else {
        FUZZ_CHECK(rc == 0);
    }
    free(copy);
}

/*
 * Puts a segment header in front of the file. NULL when its version is
 * one that opening the segment refuses.
 */
static uint8_t *fuzz_with_header(const uint8_t *file, size_t len,
                                 uint64_t base_offset, uint16_t version)
{
    struct log_segment_header hdr = {
        .version = version,
        .partition = (uint32_t)base_offset,
        .base_offset = base_offset,
        .created_ms = (int64_t)~base_offset,
    };
    struct log_segment_header back;
    uint8_t *out = malloc(LOG_SEGMENT_HEADER_SIZE + len);
    int rc;

    FUZZ_CHECK(out != NULL);
    log_segment_header_encode(out, &hdr);
    rc = log_segment_header_decode(out, &back);
    if (version == 0 || version > LOG_SEGMENT_VERSION) {
        FUZZ_CHECK(rc == TW_EVERSION);
        free(out);
        return NULL;
    }
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(back.version == hdr.version);
    FUZZ_CHECK(back.partition == hdr.partition);
    FUZZ_CHECK(back.base_offset == hdr.base_offset);
    FUZZ_CHECK(back.created_ms == hdr.created_ms);
    if (len > 0) {
        memcpy(out + LOG_SEGMENT_HEADER_SIZE, file, len);
    }
    return out;
}

/* A file that starts with a valid header is scanned from after it. */
static void fuzz_scan_as_found(const uint8_t *file, size_t len,
                               uint64_t expected, uint8_t mode)
{
    struct log_segment_header hdr;
    int rc = TW_ECORRUPT;

    if (len >= LOG_SEGMENT_HEADER_SIZE) {
        rc = log_segment_header_decode(file, &hdr);
    }
    if (rc == 0) {
        FUZZ_CHECK(hdr.version >= 1 && hdr.version <= LOG_SEGMENT_VERSION);
        fuzz_scan(file, len, LOG_SEGMENT_HEADER_SIZE, hdr.base_offset, mode);
        return;
    }
    FUZZ_CHECK(rc == TW_ECORRUPT || rc == TW_EVERSION);
    fuzz_scan(file, len, 0, expected, mode);
}

/* A name made of the file's first bytes must parse back to itself. */
static void fuzz_name(const uint8_t *file, size_t len)
{
    char name[LOG_SEGMENT_NAME_MAX];
    char again[LOG_SEGMENT_NAME_MAX];
    uint64_t base;

    if (len > sizeof(name) - 1) {
        len = sizeof(name) - 1;
    }
    memcpy(name, file, len);
    name[len] = '\0';
    if (log_segment_parse_name(name, &base)) {
        log_segment_name(again, base, "seg");
        FUZZ_CHECK(strcmp(name, again) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t prefix[FUZZ_PREFIX_SIZE] = {0};
    const uint8_t *file = prefix;
    size_t len = 0;
    uint64_t expected;

    if (size > FUZZ_PREFIX_SIZE) {
        file = data + FUZZ_PREFIX_SIZE;
        len = size - FUZZ_PREFIX_SIZE;
    }
    memcpy(prefix, data, size < sizeof(prefix) ? size : sizeof(prefix));
    expected = fuzz_get_u64(prefix + 1);

    if (prefix[0] & FUZZ_MODE_HEADER) {
        uint16_t version = prefix[0] & FUZZ_MODE_HEADER_VERSION
                               ? (uint16_t)(prefix[0] >> 4)
                               : LOG_SEGMENT_VERSION;
        uint8_t *seg = fuzz_with_header(file, len, expected, version);

        if (seg != NULL) {
            fuzz_scan(seg, LOG_SEGMENT_HEADER_SIZE + len,
                      LOG_SEGMENT_HEADER_SIZE, expected, prefix[0]);
            free(seg);
        }
    } else {
        fuzz_scan_as_found(file, len, expected, prefix[0]);
    }
    fuzz_read_index(file, len);
    fuzz_read_sealed_index(file, len);
    fuzz_name(file, len);
    tw_err_clear();
    return 0;
}
