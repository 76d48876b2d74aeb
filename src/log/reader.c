/*
 * reader.c - reading a partition from an offset, waiting for new records,
 * and finding an offset by time.
 *
 * A reader is in one segment at a time (counted in segment->readers, so
 * that retention leaves its memory alone), reads it one whole batch at a
 * time through its own file descriptor, and checks every batch's checksum
 * before handing out a record. It never reads past what the writer
 * published. When retention removes the segment it is in, the reader
 * carries on in the next one if its position still exists there, and
 * says TW_ERANGE if not.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/batch.h"
#include "log/engine.h"
#include "log/io.h"
#include "log/segment.h"

struct embedded_reader {
    struct log_reader base;
    struct log_embedded *log;
    struct log_partition *part;
    uint64_t position;           /* next offset to return */
    struct log_segment *segment; /* held: segment->readers counts us */
    int fd;
    uint64_t file_pos; /* next batch in the segment file */
    uint8_t *buf;      /* the current batch, as read */
    size_t buf_cap;
    uint8_t *scratch; /* its decompressed body */
    size_t scratch_cap;
    struct log_batch_iter iter;
    bool in_batch;
};

/*
 * Start of the batch holding offset, from the index file of the segment
 * at base. Needs no lock: it never touches the in-memory index, which the
 * writer grows and frees under the partition lock. Without a file (an
 * active segment) the answer is the first batch.
 */
static uint64_t index_file_start_position(struct log_partition *p,
                                          uint64_t base, uint64_t offset)
{
    char path[PATH_MAX];
    struct log_index_summary sum;
    struct log_index idx;
    ptrdiff_t at;
    uint64_t pos = LOG_SEGMENT_HEADER_SIZE;

    log_partition_file(p, base, "idx", path, sizeof(path));
    log_index_init(&idx);
    if (log_index_read(path, &idx, &sum) == 0 && idx.count > 0) {
        at = log_index_find_offset(&idx, offset);
        pos = idx.entries[at].position;
    }
    log_index_free(&idx);
    return pos;
}

/* Leaves the reader's segment, freeing it if retention removed it and
 * this was its last reader (partition lock held). */
static void reader_leave(struct embedded_reader *r)
{
    struct log_segment *seg = r->segment;

    if (seg == NULL) {
        return;
    }
    close(r->fd);
    r->fd = -1;
    r->segment = NULL;
    if (--seg->readers == 0 && seg->retired) {
        free(seg);
    }
}

/* Moves the reader into segment index i (partition lock held). */
static int reader_enter(struct embedded_reader *r, size_t i)
{
    struct log_partition *p = r->part;
    struct log_segment *seg = p->segments[i];
    char path[PATH_MAX];
    int fd;

    log_partition_file(p, seg->base_offset, "seg", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return tw_err_errno(errno, "cannot open segment %s", path);
    }
    reader_leave(r);
    seg->readers++;
    r->segment = seg;
    r->fd = fd;
    r->in_batch = false;
    if (r->position < seg->base_offset) {
        /* Offsets between segments were cut out by a repair. */
        r->position = seg->base_offset;
    }
    r->file_pos = LOG_SEGMENT_HEADER_SIZE;
    if (seg->index.count > 0) {
        ptrdiff_t at = log_index_find_offset(&seg->index, r->position);

        r->file_pos = seg->index.entries[at].position;
    }
    return 0;
}

int log_embedded_reader_open(struct log *base, uint32_t partition,
                             uint64_t offset, struct log_reader **out)
{
    struct log_embedded *log = log_embedded_of(base);
    struct embedded_reader *r;
    struct log_partition *p;
    bool indexed;
    ptrdiff_t i;
    int rc;

    if (partition >= log->partitions) {
        return tw_err_set(TW_EINVAL,
                          "partition %u does not exist (the log "
                          "has %u)",
                          partition, log->partitions);
    }
    p = &log->parts[partition];
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for a reader");
    }
    r->base.log = base;
    r->log = log;
    r->part = p;
    r->fd = -1;
    r->position = offset;

    pthread_mutex_lock(&p->lock);
    if (offset < log_partition_start_offset(p) || offset > p->end_offset) {
        rc = tw_err_set(TW_ERANGE,
                        "offset %" PRIu64 " is outside partition "
                        "%u, which holds %" PRIu64 " to %" PRIu64,
                        offset, partition, log_partition_start_offset(p),
                        p->end_offset);
        goto fail_unlock;
    }
    i = log_partition_find_segment(p, offset);
    if (i < 0) {
        i = 0;
    }
    if (offset >= p->segments[i]->end_offset &&
        (size_t)i + 1 < p->segment_count) {
        i++;
    }
    rc = reader_enter(r, (size_t)i);
    if (rc < 0) {
        goto fail_unlock;
    }
    indexed = r->segment->index.count > 0;
    pthread_mutex_unlock(&p->lock);
    if (!indexed) {
        /* Closed segment: its index lives in a file, read it unlocked. */
        r->file_pos =
            index_file_start_position(p, r->segment->base_offset, r->position);
    }
    *out = &r->base;
    return 0;

fail_unlock:
    pthread_mutex_unlock(&p->lock);
    free(r);
    return rc;
}

static int reader_damage(struct embedded_reader *r, const char *what)
{
    char name[LOG_SEGMENT_NAME_MAX];

    log_segment_name(name, r->segment->base_offset, "seg");
    return tw_err_set(TW_ECORRUPT,
                      "partition %u segment %s byte %" PRIu64
                      ": %s; records from offset %" PRIu64 " on cannot be "
                      "read; run `trackway log check`",
                      r->part->id, name, r->file_pos, what, r->position);
}

/*
 * The reader's segment was removed by retention: goes on in the segment
 * that holds its position now, or says TW_ERANGE when none does
 * (partition lock held). Returns 1 when it moved.
 */
static int reader_reenter(struct embedded_reader *r)
{
    struct log_partition *p = r->part;
    uint64_t start = log_partition_start_offset(p);
    ptrdiff_t i;
    int rc;

    if (r->position < start) {
        return tw_err_set(TW_ERANGE,
                          "partition %u: retention removed offsets %" PRIu64
                          " to %" PRIu64 " while this reader was at %" PRIu64,
                          p->id, r->segment->base_offset, start - 1,
                          r->position);
    }
    i = log_partition_find_segment(p, r->position);
    rc = reader_enter(r, i < 0 ? 0 : (size_t)i);
    if (rc < 0) {
        return rc;
    }
    /* A closed segment's index is in its file; from the first batch, the
     * batches before the position are skipped one by one. */
    return 1;
}

/*
 * Steps to the next segment when the current one is read to its end.
 * Returns 1 when it moved, 0 when there is nothing more to read now.
 */
static int reader_advance(struct embedded_reader *r, uint64_t *limit)
{
    struct log_partition *p = r->part;
    int rc = 0;

    pthread_mutex_lock(&p->lock);
    if (r->segment->retired) {
        rc = reader_reenter(r);
        *limit = rc == 1 ? r->segment->size : 0;
        goto out;
    }
    *limit = r->segment->size;
    if (r->file_pos < *limit) {
        goto out;
    }
    for (size_t i = 0; i + 1 < p->segment_count; i++) {
        if (p->segments[i] == r->segment) {
            rc = reader_enter(r, i + 1);
            if (rc == 0) {
                *limit = r->segment->size;
                rc = 1;
            }
            break;
        }
    }
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int reader_grow(struct embedded_reader *r, size_t need)
{
    uint8_t *grown;

    if (r->buf_cap >= need) {
        return 0;
    }
    grown = realloc(r->buf, need);
    if (grown == NULL) {
        return tw_err_set(TW_ENOMEM,
                          "no memory to read a batch of %zu "
                          "bytes",
                          need);
    }
    r->buf = grown;
    r->buf_cap = need;
    return 0;
}

/* Reads and checks the batch at r->file_pos, which ends before limit. */
static int reader_load_batch(struct embedded_reader *r, uint64_t limit)
{
    struct log_batch_header hdr;
    int rc;

    if (limit - r->file_pos < LOG_BATCH_HEADER_SIZE) {
        return reader_damage(r, "incomplete batch header");
    }
    rc = reader_grow(r, LOG_BATCH_HEADER_SIZE);
    if (rc < 0) {
        return rc;
    }
    if (io_pread_all(r->fd, r->buf, LOG_BATCH_HEADER_SIZE, (off_t)r->file_pos) <
        0) {
        return tw_err_errno(errno, "cannot read partition %u", r->part->id);
    }
    if (log_batch_parse_header(r->buf, LOG_BATCH_HEADER_SIZE,
                               LOG_BATCH_MAX_BYTES, &hdr) < 0 ||
        hdr.length > limit - r->file_pos) {
        return reader_damage(r, "invalid batch header");
    }
    rc = reader_grow(r, hdr.length);
    if (rc < 0) {
        return rc;
    }
    if (io_pread_all(r->fd, r->buf, hdr.length, (off_t)r->file_pos) < 0) {
        return tw_err_errno(errno, "cannot read partition %u", r->part->id);
    }
    if (log_batch_verify(r->buf, &hdr) < 0) {
        return reader_damage(r, "batch checksum mismatch");
    }
    if (hdr.base_offset > r->position ||
        hdr.base_offset + hdr.count <= r->position) {
        if (hdr.base_offset + hdr.count <= r->position) {
            /* A batch wholly before our position: skip it. */
            r->file_pos += hdr.length;
            return 0;
        }
        return reader_damage(r, "batch offset out of sequence");
    }
    rc = log_batch_iter_init(&r->iter, r->buf, &hdr, &r->scratch,
                             &r->scratch_cap);
    if (rc < 0) {
        return rc == TW_ECORRUPT ? reader_damage(r, "undecodable batch body")
                                 : rc;
    }
    r->file_pos += hdr.length;
    r->in_batch = true;
    return 0;
}

int log_embedded_reader_next(struct log_reader *base, struct log_record *record)
{
    struct embedded_reader *r = (struct embedded_reader *)base;

    for (;;) {
        uint64_t limit;
        int rc;

        if (r->in_batch) {
            rc = log_batch_iter_next(&r->iter, record);
            if (rc < 0) {
                r->in_batch = false;
                return reader_damage(r, "malformed record in batch");
            }
            if (rc == 1) {
                if (record->offset < r->position) {
                    continue;
                }
                r->position = record->offset + 1;
                return 1;
            }
            r->in_batch = false;
        }

        rc = reader_advance(r, &limit);
        if (rc < 0) {
            return rc;
        }
        if (r->file_pos >= limit) {
            return 0;
        }
        rc = reader_load_batch(r, limit);
        if (rc < 0) {
            return rc;
        }
    }
}

uint64_t log_embedded_reader_position(struct log_reader *base)
{
    return ((struct embedded_reader *)base)->position;
}

void log_embedded_reader_close(struct log_reader *base)
{
    struct embedded_reader *r = (struct embedded_reader *)base;

    if (r == NULL) {
        return;
    }
    if (r->segment != NULL) {
        pthread_mutex_lock(&r->part->lock);
        reader_leave(r);
        pthread_mutex_unlock(&r->part->lock);
    }
    free(r->buf);
    free(r->scratch);
    free(r);
}

int log_embedded_wait(struct log *base, uint32_t partition, uint64_t offset,
                      int timeout_ms)
{
    struct log_embedded *log = log_embedded_of(base);
    struct log_partition *p;
    struct timespec until;
    int rc;

    if (partition >= log->partitions) {
        return tw_err_set(TW_EINVAL, "partition %u does not exist", partition);
    }
    p = &log->parts[partition];
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout_ms >= 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&p->lock);
    p->waiters++;
    while (p->end_offset <= offset && !p->closed) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&p->grew, &p->lock);
        } else if (pthread_cond_timedwait(&p->grew, &p->lock, &until) ==
                   ETIMEDOUT) {
            break;
        }
    }
    if (p->end_offset > offset) {
        rc = 1;
    } else if (p->closed) {
        rc = tw_err_set(TW_ECLOSED,
                        "log %s closed while waiting for "
                        "offset %" PRIu64 " of partition %u",
                        log->path, offset, partition);
    } else {
        rc = 0;
    }
    p->waiters--;
    if (p->closed) {
        /* log_close waits for the last waiter to leave. */
        pthread_cond_broadcast(&p->grew);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* The first segment (index) that has a record at or after ts, or -1. */
static ptrdiff_t segment_for_time(struct log_partition *p, int64_t ts)
{
    for (size_t i = 0; i < p->segment_count; i++) {
        struct log_segment *s = p->segments[i];

        if (s->end_offset > s->base_offset && s->max_ts >= ts) {
            return (ptrdiff_t)i;
        }
    }
    return -1;
}

/* Offset of the first batch the index says may hold ts (lock held). */
static uint64_t time_start_offset(struct log_partition *p,
                                  struct log_segment *seg, int64_t ts)
{
    char path[PATH_MAX];
    struct log_index_summary sum;
    struct log_index idx;
    const struct log_index *use = &seg->index;
    uint64_t offset = seg->base_offset;
    ptrdiff_t at;

    log_index_init(&idx);
    if (seg->index.count == 0) {
        log_partition_file(p, seg->base_offset, "idx", path, sizeof(path));
        if (log_index_read(path, &idx, &sum) < 0) {
            log_index_free(&idx);
            return offset;
        }
        use = &idx;
    }
    at = log_index_find_time(use, ts);
    if (at >= 0) {
        offset = use->entries[at].offset;
    }
    log_index_free(&idx);
    return offset;
}

int log_embedded_offset_for_time(struct log *base, uint32_t partition,
                                 int64_t timestamp_ms, uint64_t *offset)
{
    struct log_embedded *log = log_embedded_of(base);
    struct log_partition *p;
    struct log_reader *reader;
    struct log_record rec;
    uint64_t start;
    ptrdiff_t i;
    int rc;

    if (partition >= log->partitions) {
        return tw_err_set(TW_EINVAL, "partition %u does not exist", partition);
    }
    p = &log->parts[partition];
    pthread_mutex_lock(&p->lock);
    i = segment_for_time(p, timestamp_ms);
    if (i < 0) {
        *offset = p->end_offset;
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    start = time_start_offset(p, p->segments[i], timestamp_ms);
    pthread_mutex_unlock(&p->lock);

    rc = log_embedded_reader_open(base, partition, start, &reader);
    if (rc < 0) {
        return rc;
    }
    while ((rc = log_embedded_reader_next(reader, &rec)) == 1) {
        if (rec.timestamp_ms >= timestamp_ms) {
            *offset = rec.offset;
            break;
        }
    }
    if (rc == 0) {
        *offset = log_embedded_reader_position(reader);
    }
    log_embedded_reader_close(reader);
    return rc < 0 ? rc : 0;
}
