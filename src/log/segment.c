/* segment.c - segment file names, headers and the verifying scan. */
#include "log/segment.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "log/io.h"

/* Scans read the file through a window of this size. */
#define SCAN_WINDOW_BYTES (1u << 20)

void log_segment_name(char *name, uint64_t base_offset, const char *ext)
{
    snprintf(name, LOG_SEGMENT_NAME_MAX, "%020" PRIu64 ".%s", base_offset, ext);
}

bool log_segment_parse_name(const char *name, uint64_t *base_offset)
{
    uint64_t value = 0;

    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(name[i] - '0');
        if (value > (UINT64_MAX - digit) / 10) {
            return false;
        }
        value = value * 10 + digit;
    }
    if (strcmp(name + 20, ".seg") != 0) {
        return false;
    }
    *base_offset = value;
    return true;
}

void log_segment_header_encode(uint8_t *buf,
                               const struct log_segment_header *hdr)
{
    uint32_t magic = htole32(LOG_SEGMENT_MAGIC);
    uint16_t version = htole16(hdr->version);
    uint32_t partition = htole32(hdr->partition);
    uint64_t base = htole64(hdr->base_offset);
    uint64_t created = htole64((uint64_t)hdr->created_ms);
    uint64_t sum;

    memset(buf, 0, LOG_SEGMENT_HEADER_SIZE);
    memcpy(buf, &magic, 4);
    memcpy(buf + 4, &version, 2);
    memcpy(buf + 8, &partition, 4);
    memcpy(buf + 16, &base, 8);
    memcpy(buf + 24, &created, 8);
    sum = htole64(XXH3_64bits(buf, 56));
    memcpy(buf + 56, &sum, 8);
}

int log_segment_header_decode(const uint8_t *buf,
                              struct log_segment_header *hdr)
{
    uint32_t magic;
    uint16_t version;
    uint32_t partition;
    uint64_t base;
    uint64_t created;
    uint64_t sum;

    memcpy(&magic, buf, 4);
    memcpy(&sum, buf + 56, 8);
    if (le32toh(magic) != LOG_SEGMENT_MAGIC ||
        le64toh(sum) != XXH3_64bits(buf, 56)) {
        return TW_ECORRUPT;
    }
    memcpy(&version, buf + 4, 2);
    memcpy(&partition, buf + 8, 4);
    memcpy(&base, buf + 16, 8);
    memcpy(&created, buf + 24, 8);
    hdr->version = le16toh(version);
    hdr->partition = le32toh(partition);
    hdr->base_offset = le64toh(base);
    hdr->created_ms = (int64_t)le64toh(created);
    if (hdr->version > LOG_SEGMENT_VERSION || hdr->version == 0) {
        return TW_EVERSION;
    }
    return 0;
}

/*
 * A read window over the file: batches are taken from it when they fit,
 * and read on their own when they do not.
 */
struct scan_window {
    uint8_t *buf;
    size_t cap;
    uint64_t start; /* file position of buf[0] */
    size_t len;     /* valid bytes in buf */
};

/* Makes [pos, pos + want) available; returns a pointer or NULL (errno). */
static const uint8_t *window_get(struct scan_window *w, int fd,
                                 uint64_t file_size, uint64_t pos, size_t want)
{
    if (pos >= w->start && pos + want <= w->start + w->len) {
        return w->buf + (pos - w->start);
    }
    if (want > w->cap) {
        uint8_t *grown = realloc(w->buf, want);

        if (grown == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        w->buf = grown;
        w->cap = want;
    }
    size_t len = w->cap;
    if (pos + len > file_size) {
        len = (size_t)(file_size - pos);
    }
    if (len < want) {
        errno = ERANGE;
        return NULL;
    }
    /* A failed read leaves the buffer half overwritten: forget it first. */
    w->len = 0;
    if (io_pread_all(fd, w->buf, len, (off_t)pos) < 0) {
        return NULL;
    }
    w->start = pos;
    w->len = len;
    return w->buf;
}

enum batch_check {
    BATCH_OK = 0,
    BATCH_BAD = 1, /* not a valid batch at this position */
    BATCH_IO = 2,  /* the file could not be read */
};

/* Checks for a whole valid batch at pos. */
static enum batch_check scan_batch_at(struct log_scan *scan,
                                      struct scan_window *w, uint64_t pos,
                                      struct log_batch_header *hdr)
{
    const uint8_t *p;

    if (pos + LOG_BATCH_HEADER_SIZE > scan->file_size) {
        return BATCH_BAD;
    }
    p = window_get(w, scan->fd, scan->file_size, pos, LOG_BATCH_HEADER_SIZE);
    if (p == NULL) {
        return BATCH_IO;
    }
    if (log_batch_parse_header(p, LOG_BATCH_HEADER_SIZE, scan->max_batch_bytes,
                               hdr) < 0) {
        return BATCH_BAD;
    }
    if (pos + hdr->length > scan->file_size) {
        return BATCH_BAD;
    }
    p = window_get(w, scan->fd, scan->file_size, pos, hdr->length);
    if (p == NULL) {
        return errno == ENOMEM ? BATCH_IO : BATCH_BAD;
    }
    return log_batch_verify(p, hdr) == 0 ? BATCH_OK : BATCH_BAD;
}

/*
 * After damage at pos, finds the next position holding a valid batch whose
 * offset is not below min_offset. Returns the position or UINT64_MAX.
 */
static uint64_t scan_resync(struct log_scan *scan, struct scan_window *w,
                            uint64_t pos, uint64_t min_offset, int *io_error)
{
    static const uint8_t magic[4] = {'T', 'W', 'B', '1'};
    struct log_batch_header hdr;

    for (uint64_t at = pos + 1;
         at + LOG_BATCH_HEADER_SIZE <= scan->file_size;) {
        size_t want = SCAN_WINDOW_BYTES;
        const uint8_t *p;
        const uint8_t *hit;

        if (at + want > scan->file_size) {
            want = (size_t)(scan->file_size - at);
        }
        if (at >= w->start && at + LOG_BATCH_HEADER_SIZE <= w->start + w->len) {
            /* Search on in what is read: a false start costs no read. */
            want = (size_t)(w->start + w->len - at);
            p = w->buf + (at - w->start);
        } else {
            p = window_get(w, scan->fd, scan->file_size, at, want);
        }
        if (p == NULL) {
            *io_error = errno;
            return UINT64_MAX;
        }
        hit = memmem(p, want, magic, sizeof(magic));
        if (hit == NULL) {
            /* Keep 3 bytes: the magic may straddle the window edge. */
            at += want > 3 ? want - 3 : want;
            continue;
        }
        uint64_t cand = at + (uint64_t)(hit - p);
        enum batch_check c = scan_batch_at(scan, w, cand, &hdr);
        if (c == BATCH_IO) {
            *io_error = errno;
            return UINT64_MAX;
        }
        if (c == BATCH_OK && hdr.base_offset >= min_offset) {
            return cand;
        }
        at = cand + 1;
    }
    return UINT64_MAX;
}

static void scan_note_batch(struct log_scan *scan, uint64_t pos,
                            const struct log_batch_header *hdr)
{
    if (scan->batches == 0 || hdr->min_ts < scan->min_ts) {
        scan->min_ts = hdr->min_ts;
    }
    if (scan->batches == 0 || hdr->max_ts > scan->max_ts) {
        scan->max_ts = hdr->max_ts;
    }
    scan->batches++;
    scan->records += hdr->count;
    scan->next_offset = hdr->base_offset + hdr->count;
    if (scan->on_batch != NULL) {
        scan->on_batch(scan->ctx, pos, hdr);
    }
}

static const char *scan_describe(struct log_scan *scan, uint64_t pos,
                                 uint64_t expected)
{
    struct log_batch_header hdr;
    uint8_t buf[LOG_BATCH_HEADER_SIZE];

    if (pos + LOG_BATCH_HEADER_SIZE > scan->file_size) {
        return "incomplete batch header at end of file";
    }
    if (io_pread_all(scan->fd, buf, sizeof(buf), (off_t)pos) < 0) {
        return "unreadable batch header";
    }
    if (log_batch_parse_header(buf, sizeof(buf), scan->max_batch_bytes, &hdr) <
        0) {
        return "invalid batch header";
    }
    if (pos + hdr.length > scan->file_size) {
        return "batch runs past end of file";
    }
    if (hdr.base_offset != expected) {
        return "batch offset out of sequence";
    }
    return "batch checksum mismatch";
}

/* Handles damage at pos; returns where the scan continues or file_size. */
static uint64_t scan_damage(struct log_scan *scan, struct scan_window *w,
                            uint64_t pos, uint64_t expected, int *io_error)
{
    const char *what = scan_describe(scan, pos, expected);
    uint64_t next = scan_resync(scan, w, pos, expected, io_error);

    if (*io_error != 0) {
        return scan->file_size;
    }
    if (scan->first_damage == UINT64_MAX) {
        scan->first_damage = pos;
        scan->valid_end = pos;
    }
    scan->damaged_ranges++;
    if (next != UINT64_MAX) {
        scan->damage_in_middle = true;
    }
    if (scan->on_damage != NULL) {
        scan->on_damage(scan->ctx, pos,
                        next == UINT64_MAX ? scan->file_size : next, expected,
                        what);
    }
    return next == UINT64_MAX ? scan->file_size : next;
}

int log_segment_scan(struct log_scan *scan)
{
    struct scan_window w = {0};
    struct log_batch_header hdr;
    uint64_t pos = scan->start_position;
    uint64_t expected = scan->expected_offset;
    int io_error = 0;

    scan->valid_end = pos;
    scan->next_offset = expected;
    scan->records = 0;
    scan->batches = 0;
    scan->min_ts = 0;
    scan->max_ts = 0;
    scan->first_damage = UINT64_MAX;
    scan->damaged_ranges = 0;
    scan->damage_in_middle = false;
    scan->lost_offsets = 0;

    w.cap = SCAN_WINDOW_BYTES;
    w.buf = malloc(w.cap);
    if (w.buf == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory to scan a segment");
    }

    while (pos < scan->file_size && io_error == 0) {
        enum batch_check c = scan_batch_at(scan, &w, pos, &hdr);

        if (c == BATCH_IO) {
            io_error = errno;
            break;
        }
        if (c == BATCH_OK && hdr.base_offset == expected) {
            scan_note_batch(scan, pos, &hdr);
            pos += hdr.length;
            expected = hdr.base_offset + hdr.count;
            if (scan->first_damage == UINT64_MAX) {
                scan->valid_end = pos;
            }
            continue;
        }
        if (c == BATCH_OK && hdr.base_offset > expected &&
            scan->first_damage != UINT64_MAX) {
            /* The batch a resync found: offsets between were lost. */
            scan->lost_offsets += hdr.base_offset - expected;
            expected = hdr.base_offset;
            continue;
        }
        pos = scan_damage(scan, &w, pos, expected, &io_error);
    }
    free(w.buf);
    if (io_error != 0) {
        return tw_err_errno(io_error, "cannot read segment at byte %" PRIu64,
                            pos);
    }
    return 0;
}
