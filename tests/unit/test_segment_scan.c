/*
 * test_segment_scan.c - segment files and their sparse indexes on disk
 * (segment.h, index.h): the verifying scan finds every whole batch, tells
 * a torn tail from damage in the middle and finds the batches after it;
 * headers and names round-trip; index searches agree with a brute-force
 * answer and a damaged index file is refused.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/error.h"
#include "log/batch.h"
#include "log/index.h"
#include "log/io.h"
#include "log/segment.h"

#define SEG_BATCHES 6
#define SEG_BASE 1024u
#define PAGE 4096u
/* Batches and damaged ranges a scan may report in these tests. */
#define SEEN_MAX (SEG_BATCHES + 2)

static char tmpdir[PATH_MAX];

static void tmpdir_create(void)
{
    strcpy(tmpdir, "/tmp/trackway-test-segment.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void tmpdir_remove(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[PATH_MAX + 256];

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(tmpdir);
}

TestSuite(segment, .init = tmpdir_create, .fini = tmpdir_remove);
TestSuite(segment_index, .init = tmpdir_create, .fini = tmpdir_remove);

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A segment file written by hand, and where its batches are. */
struct seg {
    char path[PATH_MAX + 64];
    uint64_t pos[SEG_BATCHES + 1]; /* pos[SEG_BATCHES]: end of the last */
    uint32_t len[SEG_BATCHES];
    uint32_t count[SEG_BATCHES];
    uint64_t records;
    uint64_t size;
    int64_t min_ts;
    int64_t max_ts;
};

static void file_write_at(const char *path, const void *data, size_t len,
                          uint64_t pos)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

    cr_assert_geq(fd, 0);
    cr_assert_eq(io_pwrite_all(fd, data, len, (off_t)pos), 0);
    close(fd);
}

static void file_truncate(const char *path, uint64_t size)
{
    cr_assert_eq(truncate(path, (off_t)size), 0);
}

static void file_flip(const char *path, uint64_t pos, uint8_t mask)
{
    uint8_t byte;
    int fd = open(path, O_RDWR | O_CLOEXEC);

    cr_assert_geq(fd, 0);
    cr_assert_eq(io_pread_all(fd, &byte, 1, (off_t)pos), 0);
    byte ^= mask;
    cr_assert_eq(io_pwrite_all(fd, &byte, 1, (off_t)pos), 0);
    close(fd);
}

/*
 * Batch i holds i + 1 records (plain and zstd in turn) whose values carry
 * the batch magic, so a resync meets false starts. The last batch holds
 * one record of last_value bytes of random data, stored plain.
 */
static uint8_t *seg_batch(struct seg *s, int i, uint64_t offset,
                          size_t last_value, uint32_t *len)
{
    static const char phrase[] = "TWB1 tracking payload TWB1 ";
    bool last = i == SEG_BATCHES - 1;
    size_t n = last ? 1 : (size_t)i + 1;
    size_t value_len = last ? last_value : 50;
    struct log_record r[SEG_BATCHES];
    uint8_t *value = malloc(value_len);
    uint8_t *batch;

    cr_assert_not_null(value);
    for (size_t j = 0; j < value_len; j++) {
        value[j] = last ? (uint8_t)rng_next()
                        : (uint8_t)phrase[j % (sizeof(phrase) - 1)];
    }
    for (size_t j = 0; j < n; j++) {
        /* Timestamps that go down as well as up. */
        int64_t ts = 5000 + (int64_t)((i * 7 + (int)j * 3) % 10) * 100;

        r[j] = (struct log_record){
            .timestamp_ms = ts,
            .key = "device-7",
            .key_len = 8,
            .value = value,
            .value_len = (uint32_t)value_len,
        };
        s->min_ts = s->records + j == 0 || ts < s->min_ts ? ts : s->min_ts;
        s->max_ts = s->records + j == 0 || ts > s->max_ts ? ts : s->max_ts;
    }
    cr_assert_eq(log_batch_encode(r, n,
                                  i % 2 && !last ? LOG_COMPRESSION_ZSTD
                                                 : LOG_COMPRESSION_NONE,
                                  3, LOG_BATCH_MAX_BYTES, &batch, len),
                 0);
    log_batch_seal(batch, offset);
    s->count[i] = (uint32_t)n;
    s->records += n;
    free(value);
    return batch;
}

/* A sealed batch of one small record. */
static uint8_t *one_batch(uint64_t offset, uint32_t *len)
{
    struct log_record r = {
        .timestamp_ms = 1,
        .key = "k",
        .key_len = 1,
        .value = "v",
        .value_len = 1,
    };
    uint8_t *batch;

    cr_assert_eq(log_batch_encode(&r, 1, LOG_COMPRESSION_NONE, 0,
                                  LOG_BATCH_MAX_BYTES, &batch, len),
                 0);
    log_batch_seal(batch, offset);
    return batch;
}

/* Writes header + SEG_BATCHES sealed batches back to back. */
static void seg_build(struct seg *s, size_t last_value)
{
    struct log_segment_header hdr = {
        .version = LOG_SEGMENT_VERSION,
        .partition = 2,
        .base_offset = SEG_BASE,
        .created_ms = 1700000000000,
    };
    uint8_t head[LOG_SEGMENT_HEADER_SIZE];
    uint64_t offset = SEG_BASE;
    uint64_t pos = LOG_SEGMENT_HEADER_SIZE;

    memset(s, 0, sizeof(*s));
    rng_state = 0x853c49e6748fea9bu;
    snprintf(s->path, sizeof(s->path), "%s/00000000000000001024.seg", tmpdir);
    log_segment_header_encode(head, &hdr);
    file_write_at(s->path, head, sizeof(head), 0);
    for (int i = 0; i < SEG_BATCHES; i++) {
        uint32_t len;
        uint8_t *batch = seg_batch(s, i, offset, last_value, &len);

        file_write_at(s->path, batch, len, pos);
        free(batch);
        s->pos[i] = pos;
        s->len[i] = len;
        pos += len;
        offset += s->count[i];
    }
    s->pos[SEG_BATCHES] = pos;
    s->size = pos;
}

/* What the callbacks of a scan saw. */
struct seen {
    uint64_t batch_pos[SEEN_MAX];
    uint64_t batch_offset[SEEN_MAX];
    size_t batches;
    uint64_t damage_pos[SEEN_MAX];
    uint64_t damage_end[SEEN_MAX];
    size_t damages;
};

static void seen_batch(void *ctx, uint64_t position,
                       const struct log_batch_header *hdr)
{
    struct seen *seen = ctx;

    cr_assert_lt(seen->batches, SEEN_MAX);
    seen->batch_pos[seen->batches] = position;
    seen->batch_offset[seen->batches] = hdr->base_offset;
    seen->batches++;
}

static void seen_damage(void *ctx, uint64_t position, uint64_t end,
                        uint64_t expected_offset, const char *what)
{
    struct seen *seen = ctx;

    (void)expected_offset;
    cr_assert_not_null(what);
    cr_assert_lt(seen->damages, SEEN_MAX);
    seen->damage_pos[seen->damages] = position;
    seen->damage_end[seen->damages] = end;
    seen->damages++;
}

/* Scans the segment at path from after its header. */
static void seg_scan(const char *path, struct log_scan *scan, struct seen *seen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    cr_assert_geq(fd, 0);
    cr_assert_eq(fstat(fd, &st), 0);
    memset(seen, 0, sizeof(*seen));
    *scan = (struct log_scan){
        .fd = fd,
        .file_size = (uint64_t)st.st_size,
        .start_position = LOG_SEGMENT_HEADER_SIZE,
        .expected_offset = SEG_BASE,
        .max_batch_bytes = LOG_BATCH_MAX_BYTES,
        .on_batch = seen_batch,
        .on_damage = seen_damage,
        .ctx = seen,
    };
    cr_assert_eq(log_segment_scan(scan), 0, "%s", tw_err_message());
    close(fd);
}

/* First offset of batch i. */
static uint64_t seg_offset(const struct seg *s, int i)
{
    uint64_t offset = SEG_BASE;

    for (int j = 0; j < i; j++) {
        offset += s->count[j];
    }
    return offset;
}

Test(segment, a_clean_segment_reports_every_batch_up_to_its_end)
{
    struct seg s;
    struct log_scan scan;
    struct seen seen;

    seg_build(&s, 300);
    seg_scan(s.path, &scan, &seen);

    cr_assert_eq(scan.batches, SEG_BATCHES);
    cr_assert_eq(scan.records, s.records);
    cr_assert_eq(scan.valid_end, s.size);
    cr_assert_eq(scan.next_offset, SEG_BASE + s.records);
    cr_assert_eq(scan.first_damage, UINT64_MAX);
    cr_assert_eq(scan.damaged_ranges, 0);
    cr_assert_not(scan.damage_in_middle);
    cr_assert_eq(scan.lost_offsets, 0);
    cr_assert_eq(scan.min_ts, s.min_ts);
    cr_assert_eq(scan.max_ts, s.max_ts);
    cr_assert_eq(seen.batches, SEG_BATCHES);
    cr_assert_eq(seen.damages, 0);
    for (int i = 0; i < SEG_BATCHES; i++) {
        cr_assert_eq(seen.batch_pos[i], s.pos[i]);
        cr_assert_eq(seen.batch_offset[i], seg_offset(&s, i));
    }
}

Test(segment, a_batch_larger_than_the_read_window_is_read_whole)
{
    struct seg s;
    struct log_scan scan;
    struct seen seen;
    const int last = SEG_BATCHES - 1;

    /* Scans read through a 1 MiB window; this batch is 3 MiB. */
    seg_build(&s, 3u << 20);
    seg_scan(s.path, &scan, &seen);
    cr_assert_eq(scan.batches, SEG_BATCHES);
    cr_assert_eq(scan.valid_end, s.size);
    cr_assert_eq(scan.damaged_ranges, 0);
    cr_assert_eq(seen.batch_pos[last], s.pos[last]);

    file_truncate(s.path, s.size - 1);
    seg_scan(s.path, &scan, &seen);
    cr_assert_eq(scan.batches, SEG_BATCHES - 1);
    cr_assert_eq(scan.first_damage, s.pos[last]);
    cr_assert_not(scan.damage_in_middle);
}

/* The last batch is cut: the valid data ends where it starts. */
static void expect_torn_last_batch(const struct seg *s, const char *how)
{
    struct log_scan scan;
    struct seen seen;
    const int last = SEG_BATCHES - 1;

    seg_scan(s->path, &scan, &seen);
    cr_assert_eq(scan.first_damage, s->pos[last], "%s", how);
    cr_assert_eq(scan.valid_end, s->pos[last], "%s", how);
    cr_assert_not(scan.damage_in_middle, "%s", how);
    cr_assert_eq(scan.damaged_ranges, 1, "%s", how);
    cr_assert_eq(scan.batches, SEG_BATCHES - 1, "%s", how);
    cr_assert_eq(scan.records, s->records - s->count[last], "%s", how);
    cr_assert_eq(scan.next_offset, seg_offset(s, last), "%s", how);
    cr_assert_eq(scan.lost_offsets, 0, "%s", how);
    cr_assert_eq(seen.damages, 1, "%s", how);
    cr_assert_eq(seen.damage_pos[0], s->pos[last], "%s", how);
    cr_assert_eq(seen.damage_end[0], scan.file_size, "%s", how);
}

Test(segment, a_truncated_last_batch_ends_the_valid_data_at_its_start)
{
    struct seg s;
    const int last = SEG_BATCHES - 1;
    const uint64_t cuts[] = {1, 3, LOG_BATCH_HEADER_SIZE - 1,
                             LOG_BATCH_HEADER_SIZE, LOG_BATCH_HEADER_SIZE + 1};

    seg_build(&s, 5000);
    file_truncate(s.path, s.pos[last] + s.len[last] - 1);
    expect_torn_last_batch(&s, "cut one byte short");
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        file_truncate(s.path, s.pos[last] + cuts[i]);
        expect_torn_last_batch(&s, "cut early");
    }
}

Test(segment, a_zeroed_tail_page_ends_the_valid_data_at_the_batch_it_hit)
{
    struct seg s;
    const int last = SEG_BATCHES - 1;
    uint8_t *zeroes = calloc(1, PAGE);
    uint64_t page;

    cr_assert_not_null(zeroes);
    /* The last batch spans a page boundary; the page after it is lost. */
    seg_build(&s, 3 * PAGE);
    page = (s.pos[last] / PAGE + 1) * PAGE;
    cr_assert_lt(page + 1, s.size);
    file_write_at(s.path, zeroes, PAGE, page);
    file_truncate(s.path, page + PAGE);
    expect_torn_last_batch(&s, "zeroed page");
    free(zeroes);
}

Test(segment, a_page_of_zeroes_after_the_last_batch_is_a_torn_tail)
{
    struct seg s;
    struct log_scan scan;
    struct seen seen;
    uint8_t *zeroes = calloc(1, PAGE);

    cr_assert_not_null(zeroes);
    seg_build(&s, 100);
    file_write_at(s.path, zeroes, PAGE, s.size);
    seg_scan(s.path, &scan, &seen);

    cr_assert_eq(scan.batches, SEG_BATCHES);
    cr_assert_eq(scan.first_damage, s.size);
    cr_assert_eq(scan.valid_end, s.size);
    cr_assert_not(scan.damage_in_middle);
    cr_assert_eq(scan.damaged_ranges, 1);
    cr_assert_eq(scan.next_offset, SEG_BASE + s.records);
    free(zeroes);
}

/* Batch k is damaged; the scan must find every batch after it. */
static void expect_middle_damage(const struct seg *s, int k, uint64_t at)
{
    struct log_scan scan;
    struct seen seen;
    size_t j = 0;

    seg_scan(s->path, &scan, &seen);
    cr_assert(scan.damage_in_middle, "byte %lu", (unsigned long)at);
    cr_assert_eq(scan.damaged_ranges, 1, "byte %lu", (unsigned long)at);
    cr_assert_eq(scan.first_damage, s->pos[k]);
    cr_assert_eq(scan.valid_end, s->pos[k]);
    cr_assert_eq(scan.batches, SEG_BATCHES - 1);
    cr_assert_eq(scan.records, s->records - s->count[k]);
    cr_assert_eq(scan.lost_offsets, s->count[k]);
    cr_assert_eq(scan.next_offset, SEG_BASE + s->records);
    cr_assert_eq(seen.damages, 1);
    cr_assert_eq(seen.damage_pos[0], s->pos[k]);
    cr_assert_eq(seen.damage_end[0], s->pos[k + 1]);
    for (int i = 0; i < SEG_BATCHES; i++) {
        if (i == k) {
            continue;
        }
        cr_assert_eq(seen.batch_pos[j], s->pos[i], "batch %d", i);
        cr_assert_eq(seen.batch_offset[j], seg_offset(s, i), "batch %d", i);
        j++;
    }
}

Test(segment, a_flipped_byte_in_a_middle_batch_is_damage_in_the_middle)
{
    struct seg s;
    const int k = 2;
    /* Magic, length, checksum, offset, count, flags, times, body. */
    const uint32_t fields[] = {0, 5, 9, 17, 24, 28, 33, 41, 49, 56, 70};

    seg_build(&s, 200);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        file_flip(s.path, s.pos[k] + fields[i], 0x10);
        expect_middle_damage(&s, k, fields[i]);
        file_flip(s.path, s.pos[k] + fields[i], 0x10);
    }
    file_flip(s.path, s.pos[k + 1] - 1, 0x01);
    expect_middle_damage(&s, k, s.len[k] - 1);
}

Test(segment, two_damaged_batches_are_two_ranges_and_lose_their_offsets)
{
    struct seg s;
    struct log_scan scan;
    struct seen seen;

    seg_build(&s, 200);
    file_flip(s.path, s.pos[1] + 60, 0x04);
    file_flip(s.path, s.pos[3] + 60, 0x04);
    seg_scan(s.path, &scan, &seen);

    cr_assert_eq(scan.damaged_ranges, 2);
    cr_assert(scan.damage_in_middle);
    cr_assert_eq(scan.first_damage, s.pos[1]);
    cr_assert_eq(scan.valid_end, s.pos[1]);
    cr_assert_eq(scan.batches, SEG_BATCHES - 2);
    cr_assert_eq(scan.lost_offsets, s.count[1] + s.count[3]);
    cr_assert_eq(scan.next_offset, SEG_BASE + s.records);
    cr_assert_eq(seen.damage_pos[1], s.pos[3]);
    cr_assert_eq(seen.damage_end[1], s.pos[4]);
}

/*
 * A damaged stretch holding the batch magic every 64 bytes: each false
 * start must be checked in the bytes already read, not by reading the
 * file again from there (which made a scan of a few megabytes take
 * minutes).
 */
Test(segment, a_damaged_stretch_full_of_false_magics_is_searched_in_one_pass,
     .timeout = 10)
{
    const size_t junk_len = 16u << 20;
    uint8_t *junk = calloc(1, junk_len);
    struct seg s;
    struct log_scan scan;
    struct seen seen;
    uint32_t len;
    uint8_t *after;

    cr_assert_not_null(junk);
    for (size_t i = 0; i + 4 <= junk_len; i += 64) {
        memcpy(junk + i, "TWB1", 4);
    }
    seg_build(&s, 100);
    after = one_batch(SEG_BASE + s.records + 9, &len);
    file_write_at(s.path, junk, junk_len, s.size);
    file_write_at(s.path, after, len, s.size + junk_len);
    seg_scan(s.path, &scan, &seen);

    cr_assert_eq(scan.batches, SEG_BATCHES + 1);
    cr_assert(scan.damage_in_middle);
    cr_assert_eq(scan.first_damage, s.size);
    cr_assert_eq(scan.lost_offsets, 9);
    cr_assert_eq(seen.damage_end[0], s.size + junk_len);
    free(after);
    free(junk);
}

Test(segment, the_segment_header_round_trips)
{
    struct log_segment_header in = {
        .version = LOG_SEGMENT_VERSION,
        .partition = 0xfedcba98u,
        .base_offset = 0x0123456789abcdefull,
        .created_ms = -1234567,
    };
    struct log_segment_header out;
    uint8_t buf[LOG_SEGMENT_HEADER_SIZE];

    log_segment_header_encode(buf, &in);
    cr_assert_eq(memcmp(buf, "TWSG", 4), 0);
    cr_assert_eq(log_segment_header_decode(buf, &out), 0);
    cr_assert_eq(out.version, in.version);
    cr_assert_eq(out.partition, in.partition);
    cr_assert_eq(out.base_offset, in.base_offset);
    cr_assert_eq(out.created_ms, in.created_ms);
}

Test(segment, a_segment_from_a_future_version_is_refused)
{
    struct log_segment_header in = {
        .version = LOG_SEGMENT_VERSION + 1,
        .base_offset = 5,
    };
    struct log_segment_header out;
    uint8_t buf[LOG_SEGMENT_HEADER_SIZE];

    log_segment_header_encode(buf, &in);
    cr_assert_eq(log_segment_header_decode(buf, &out), TW_EVERSION);
}

Test(segment, a_flipped_bit_in_the_segment_header_is_corruption)
{
    struct log_segment_header in = {
        .version = LOG_SEGMENT_VERSION,
        .partition = 1,
        .base_offset = 4096,
        .created_ms = 1700000000000,
    };
    struct log_segment_header out;
    uint8_t buf[LOG_SEGMENT_HEADER_SIZE];

    log_segment_header_encode(buf, &in);
    for (size_t i = 0; i < sizeof(buf); i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            cr_assert_eq(log_segment_header_decode(buf, &out), TW_ECORRUPT,
                         "bit %d of byte %zu", bit, i);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    cr_assert_eq(log_segment_header_decode(buf, &out), 0);
}

Test(segment, segment_names_are_twenty_digits_and_seg)
{
    static const char *const bad[] = {
        "",
        "0000000000000001024.seg",
        "000000000000000001024.seg",
        "00000000000000001024.idx",
        "00000000000000001024.seg.tmp",
        "00000000000000001024.se",
        "00000000000000001024seg",
        "0000000000000000102a.seg",
        "-0000000000000001024.seg",
        " 0000000000000001024.seg",
        "18446744073709551616.seg",
        "99999999999999999999.seg",
    };
    char name[LOG_SEGMENT_NAME_MAX];
    uint64_t base = 7;

    cr_assert(log_segment_parse_name("00000000000000001024.seg", &base));
    cr_assert_eq(base, 1024);
    cr_assert(log_segment_parse_name("18446744073709551615.seg", &base));
    cr_assert_eq(base, UINT64_MAX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        base = 7;
        cr_assert_not(log_segment_parse_name(bad[i], &base), "%s", bad[i]);
        cr_assert_eq(base, 7, "%s", bad[i]);
    }
    log_segment_name(name, 1024, "seg");
    cr_assert_str_eq(name, "00000000000000001024.seg");
}

Test(segment_index, entries_are_spaced_by_the_interval)
{
    const uint64_t positions[] = {64,   1000, 4159, 4160,
                                  5000, 8255, 8256, 20000};
    const int64_t max_ts[] = {50, 10, 70, 30, 90, 20, 80, 60};
    const uint64_t want_pos[] = {64, 4160, 8256, 20000};
    const int64_t want_ts[] = {50, 70, 90, 90};
    struct log_index idx;

    log_index_init(&idx);
    for (size_t i = 0; i < 8; i++) {
        cr_assert_eq(
            log_index_add(&idx, positions[i], 100 + i, max_ts[i], 4096), 0);
    }
    cr_assert_eq(idx.count, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(idx.entries[i].position, want_pos[i], "entry %zu", i);
        cr_assert_eq(idx.entries[i].max_ts, want_ts[i], "entry %zu", i);
    }
    cr_assert_eq(idx.entries[1].offset, 103);
    cr_assert_eq(idx.max_ts, 90);
    log_index_free(&idx);
    cr_assert_eq(idx.count, 0);
}

/* Batches of random size and record count with random timestamps. */
struct layout {
    size_t n;
    uint64_t *pos;
    uint64_t *offset;
    uint32_t *count;
    int64_t *max_ts;
    int64_t *ts; /* every record's timestamp, in offset order */
    uint64_t records;
};

static struct layout layout_make(size_t n)
{
    struct layout l = {.n = n};
    uint64_t pos = LOG_SEGMENT_HEADER_SIZE;
    uint64_t offset = rng_next() % 100000;

    l.pos = calloc(n, sizeof(*l.pos));
    l.offset = calloc(n, sizeof(*l.offset));
    l.count = calloc(n, sizeof(*l.count));
    l.max_ts = calloc(n, sizeof(*l.max_ts));
    l.ts = calloc(n * 20, sizeof(*l.ts));
    cr_assert(l.pos && l.offset && l.count && l.max_ts && l.ts);
    for (size_t i = 0; i < n; i++) {
        l.pos[i] = pos;
        l.offset[i] = offset;
        l.count[i] = 1 + (uint32_t)(rng_next() % 20);
        for (uint32_t j = 0; j < l.count[i]; j++) {
            int64_t t = (int64_t)(rng_next() % 20000) - 10000;

            l.ts[l.records++] = t;
            l.max_ts[i] = j == 0 || t > l.max_ts[i] ? t : l.max_ts[i];
        }
        pos += LOG_BATCH_HEADER_SIZE + rng_next() % 3000;
        offset += l.count[i];
    }
    return l;
}

static void layout_free(struct layout *l)
{
    free(l->pos);
    free(l->offset);
    free(l->count);
    free(l->max_ts);
    free(l->ts);
}

/* The entry to scan from: the last one at or before batch b. */
static ptrdiff_t entry_at_or_before(const struct log_index *idx, uint64_t pos)
{
    ptrdiff_t found = 0;

    for (size_t i = 0; i < idx->count; i++) {
        if (idx->entries[i].position <= pos) {
            found = (ptrdiff_t)i;
        }
    }
    return found;
}

/* Brute force: the batch holding the first record with ts >= t. */
static ptrdiff_t brute_find_time(const struct log_index *idx,
                                 const struct layout *l, int64_t t)
{
    uint64_t r = 0;

    for (size_t b = 0; b < l->n; b++) {
        for (uint32_t j = 0; j < l->count[b]; j++, r++) {
            if (l->ts[r] >= t) {
                /* Entries at that batch already count it in max_ts. */
                return b == 0 ? 0 : entry_at_or_before(idx, l->pos[b] - 1);
            }
        }
    }
    return (ptrdiff_t)idx->count - 1;
}

/* Brute force: the batch holding offset t (the last one past the end). */
static ptrdiff_t brute_find_offset(const struct log_index *idx,
                                   const struct layout *l, uint64_t t)
{
    size_t b = 0;

    while (b + 1 < l->n && l->offset[b + 1] <= t) {
        b++;
    }
    return entry_at_or_before(idx, l->pos[b]);
}

Test(segment_index, searches_agree_with_brute_force_over_random_data)
{
    const uint32_t intervals[] = {1, 500, 4096, 65536};

    rng_state = 0x9e3779b97f4a7c15u;
    for (int round = 0; round < 40; round++) {
        struct layout l = layout_make(1 + rng_next() % 400);
        uint32_t interval = intervals[round % 4];
        struct log_index idx;

        log_index_init(&idx);
        for (size_t i = 0; i < l.n; i++) {
            cr_assert_eq(log_index_add(&idx, l.pos[i], l.offset[i], l.max_ts[i],
                                       interval),
                         0);
        }
        for (int q = 0; q < 300; q++) {
            uint64_t last = l.offset[l.n - 1] + l.count[l.n - 1];
            uint64_t off = l.offset[0] + rng_next() % (last - l.offset[0] + 5);
            int64_t t = (int64_t)(rng_next() % 22000) - 11000;

            cr_assert_eq(log_index_find_offset(&idx, off),
                         brute_find_offset(&idx, &l, off),
                         "round %d offset %lu", round, (unsigned long)off);
            cr_assert_eq(log_index_find_time(&idx, t),
                         brute_find_time(&idx, &l, t), "round %d ts %ld", round,
                         (long)t);
        }
        cr_assert_eq(log_index_find_offset(&idx, 0), 0);
        cr_assert_eq(log_index_find_time(&idx, INT64_MIN), 0);
        log_index_free(&idx);
        layout_free(&l);
    }
}

Test(segment_index, an_empty_index_finds_nothing)
{
    struct log_index idx;

    log_index_init(&idx);
    cr_assert_eq(log_index_find_offset(&idx, 10), -1);
    cr_assert_eq(log_index_find_time(&idx, 10), -1);
}

/* An index of n entries written to dir/name; returns its path. */
static void index_write(const char *path, struct log_index *idx, size_t n,
                        struct log_index_summary *sum)
{
    log_index_init(idx);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(log_index_add(idx, 64 + i * 5000, 1000 + i * 17,
                                   (int64_t)(i * 7919 % 1000) - 500, 4096),
                     0);
    }
    *sum = (struct log_index_summary){
        .entry_count = (uint32_t)n,
        .segment_size = 64 + n * 5000,
        .base_offset = 1000,
        .end_offset = 1000 + n * 17,
        .min_ts = -500,
        .max_ts = 499,
    };
    cr_assert_eq(log_index_write(path, idx, sum), 0, "%s", tw_err_message());
}

Test(segment_index, an_index_file_round_trips)
{
    char path[PATH_MAX + 64];
    struct log_index idx;
    struct log_index back;
    struct log_index_summary sum;
    struct log_index_summary got;

    snprintf(path, sizeof(path), "%s/00000000000000001000.idx", tmpdir);
    index_write(path, &idx, 1000, &sum);
    log_index_init(&back);
    cr_assert_eq(log_index_read(path, &back, &got), 0, "%s", tw_err_message());

    cr_assert_eq(got.entry_count, 1000);
    cr_assert_eq(got.segment_size, sum.segment_size);
    cr_assert_eq(got.base_offset, sum.base_offset);
    cr_assert_eq(got.end_offset, sum.end_offset);
    cr_assert_eq(got.min_ts, sum.min_ts);
    cr_assert_eq(got.max_ts, sum.max_ts);
    cr_assert_eq(back.count, idx.count);
    cr_assert_eq(
        memcmp(back.entries, idx.entries, idx.count * sizeof(*idx.entries)), 0);
    cr_assert_eq(back.last_position, idx.last_position);
    cr_assert_eq(back.max_ts, idx.max_ts);
    log_index_free(&idx);
    log_index_free(&back);
}

Test(segment_index, a_flipped_bit_in_an_index_file_is_corruption)
{
    char path[PATH_MAX + 64];
    struct log_index idx;
    struct log_index back;
    struct log_index_summary sum;
    struct stat st;

    snprintf(path, sizeof(path), "%s/00000000000000001000.idx", tmpdir);
    index_write(path, &idx, 12, &sum);
    cr_assert_eq(stat(path, &st), 0);
    for (off_t i = 0; i < st.st_size; i++) {
        for (int bit = 0; bit < 8; bit++) {
            file_flip(path, (uint64_t)i, (uint8_t)(1u << bit));
            log_index_init(&back);
            cr_assert_eq(log_index_read(path, &back, &sum), TW_ECORRUPT,
                         "bit %d of byte %ld", bit, (long)i);
            log_index_free(&back);
            file_flip(path, (uint64_t)i, (uint8_t)(1u << bit));
        }
    }
    log_index_init(&back);
    cr_assert_eq(log_index_read(path, &back, &sum), 0);
    log_index_free(&back);
    log_index_free(&idx);
}

Test(segment_index, a_torn_index_file_is_corruption)
{
    char path[PATH_MAX + 64];
    struct log_index idx;
    struct log_index back;
    struct log_index_summary sum;
    const uint64_t sizes[] = {0, 10, LOG_INDEX_HEADER_SIZE,
                              LOG_INDEX_HEADER_SIZE + 5 * 24 + 3};

    snprintf(path, sizeof(path), "%s/00000000000000001000.idx", tmpdir);
    index_write(path, &idx, 12, &sum);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        file_truncate(path, sizes[i]);
        log_index_init(&back);
        cr_assert_eq(log_index_read(path, &back, &sum), TW_ECORRUPT, "size %zu",
                     (size_t)sizes[i]);
        log_index_free(&back);
    }
    log_index_free(&idx);
}

Test(segment_index, an_index_from_a_future_version_is_refused)
{
    char path[PATH_MAX + 64];
    struct log_index idx;
    struct log_index back;
    struct log_index_summary sum;
    uint8_t head[LOG_INDEX_HEADER_SIZE];
    uint8_t *entries = malloc(12 * LOG_INDEX_ENTRY_SIZE);
    uint16_t version = htole16(LOG_INDEX_VERSION + 1);
    uint64_t sum64;
    int fd;

    cr_assert_not_null(entries);
    snprintf(path, sizeof(path), "%s/00000000000000001000.idx", tmpdir);
    index_write(path, &idx, 12, &sum);
    fd = open(path, O_RDWR | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(io_pread_all(fd, head, sizeof(head), 0), 0);
    cr_assert_eq(io_pread_all(fd, entries, 12 * LOG_INDEX_ENTRY_SIZE,
                              LOG_INDEX_HEADER_SIZE),
                 0);
    /* A newer writer seals what it writes: the checksum matches. */
    memcpy(head + 4, &version, sizeof(version));
    sum64 = htole64(XXH3_64bits_withSeed(entries, 12 * LOG_INDEX_ENTRY_SIZE,
                                         XXH3_64bits(head, 56)));
    memcpy(head + 56, &sum64, sizeof(sum64));
    cr_assert_eq(io_pwrite_all(fd, head, sizeof(head), 0), 0);
    close(fd);

    log_index_init(&back);
    cr_assert_eq(log_index_read(path, &back, &sum), TW_EVERSION);
    log_index_free(&back);
    log_index_free(&idx);
    free(entries);
}

Test(segment_index, a_missing_index_file_is_not_found)
{
    char path[PATH_MAX + 64];
    struct log_index idx;
    struct log_index_summary sum;

    snprintf(path, sizeof(path), "%s/00000000000000000000.idx", tmpdir);
    log_index_init(&idx);
    cr_assert_eq(log_index_read(path, &idx, &sum), TW_ENOENT);
    cr_assert_not_null(strstr(tw_err_message(), path), "message: %s",
                       tw_err_message());
    log_index_free(&idx);
}
