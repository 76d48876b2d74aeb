/*
 * partition.c - a partition's segments: finding them on open, recovering
 * the active one after a crash (rules in segment.h), rolling to a new
 * segment, and answering where an offset lives.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "log/engine.h"
#include "log/io.h"
#include "log/segment.h"
#include "obs/logging.h"

void log_partition_file(const struct log_partition *p, uint64_t base,
                        const char *ext, char *path, size_t size)
{
    char name[LOG_SEGMENT_NAME_MAX];

    log_segment_name(name, base, ext);
    snprintf(path, size, "%s/%s", p->dir, name);
}

static int segment_list_push(struct log_partition *p, struct log_segment *s)
{
    if (p->segment_count == p->segment_capacity) {
        size_t cap = p->segment_capacity ? p->segment_capacity * 2 : 16;
        struct log_segment **grown = realloc(p->segments, cap * sizeof(*grown));

        if (grown == NULL) {
            return tw_err_set(TW_ENOMEM, "no memory for segment list");
        }
        p->segments = grown;
        p->segment_capacity = cap;
    }
    p->segments[p->segment_count++] = s;
    return 0;
}

static void segment_free(struct log_segment *s)
{
    if (s->fd >= 0) {
        close(s->fd);
    }
    log_index_free(&s->index);
    free(s);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Lists segment base offsets in p->dir, sorted; removes *.tmp leftovers. */
static int partition_list(struct log_partition *p, bool read_only,
                          uint64_t **bases, size_t *count)
{
    DIR *d = opendir(p->dir);
    struct dirent *e;
    uint64_t *list = NULL;
    size_t n = 0;
    size_t cap = 0;

    if (d == NULL) {
        return tw_err_errno(errno, "cannot list partition %s", p->dir);
    }
    while ((e = readdir(d)) != NULL) {
        uint64_t base;
        size_t len = strlen(e->d_name);

        if (!read_only && len > 8 &&
            strcmp(e->d_name + len - 8, ".idx.tmp") == 0) {
            /* An index write that a crash interrupted; indexes rebuild. */
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        if (!log_segment_parse_name(e->d_name, &base)) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *grown = realloc(list, cap * sizeof(*grown));
            if (grown == NULL) {
                free(list);
                closedir(d);
                return tw_err_set(TW_ENOMEM, "no memory to list %s", p->dir);
            }
            list = grown;
        }
        list[n++] = base;
    }
    closedir(d);
    if (n > 0) {
        qsort(list, n, sizeof(*list), compare_u64);
    }
    *bases = list;
    *count = n;
    return 0;
}

/* Reads and checks the header of the segment file open as fd. */
static int segment_check_header(struct log_partition *p, int fd,
                                const char *path, uint64_t base,
                                struct log_segment_header *hdr)
{
    uint8_t buf[LOG_SEGMENT_HEADER_SIZE];
    int rc;

    if (io_pread_all(fd, buf, sizeof(buf), 0) < 0) {
        return tw_err_set(TW_ECORRUPT,
                          "segment %s: header is incomplete; "
                          "run `trackway log repair`",
                          path);
    }
    rc = log_segment_header_decode(buf, hdr);
    if (rc == TW_EVERSION) {
        return tw_err_set(rc,
                          "segment %s was written by a newer Trackway "
                          "(format %u, this build reads up to %u); "
                          "upgrade, or quarantine it with `trackway log "
                          "repair`",
                          path, hdr->version, LOG_SEGMENT_VERSION);
    }
    if (rc < 0) {
        return tw_err_set(rc,
                          "segment %s: header fails its checksum; run "
                          "`trackway log repair`",
                          path);
    }
    if (hdr->base_offset != base || hdr->partition != p->id) {
        return tw_err_set(TW_ECORRUPT,
                          "segment %s: header says partition "
                          "%u offset %" PRIu64 ", which does not match its "
                          "place; run `trackway log repair`",
                          path, hdr->partition, hdr->base_offset);
    }
    return 0;
}

struct recover_ctx {
    struct log_embedded *log;
    struct log_segment *seg;
    const char *path;
    int rc;
};

static void recover_batch_cb(void *ctx, uint64_t position,
                             const struct log_batch_header *hdr)
{
    struct recover_ctx *rc = ctx;
    int64_t max_ts = hdr->max_ts;

    if (rc->rc == 0) {
        rc->rc = log_index_add(&rc->seg->index, position, hdr->base_offset,
                               max_ts, rc->log->opts.index_interval_bytes);
    }
}

static void recover_damage_cb(void *ctx, uint64_t position, uint64_t end,
                              uint64_t expected, const char *what)
{
    struct recover_ctx *rc = ctx;

    OBS_LOG(OBS_WARN, "log", "segment damage found",
            "segment=%s "
            "position=%" PRIu64 " end=%" PRIu64 " expected_offset=%" PRIu64
            " what=\"%s\"",
            rc->path, position, end, expected, what);
}

/* Scans a whole segment, filling seg's index and summary from the data. */
static int segment_scan_into(struct log_embedded *log, struct log_segment *seg,
                             int fd, const char *path, uint64_t file_size,
                             struct log_scan *scan)
{
    struct recover_ctx ctx = {.log = log, .seg = seg, .path = path};
    int rc;

    memset(scan, 0, sizeof(*scan));
    scan->fd = fd;
    scan->file_size = file_size;
    scan->start_position = LOG_SEGMENT_HEADER_SIZE;
    scan->expected_offset = seg->base_offset;
    scan->max_batch_bytes = LOG_BATCH_MAX_BYTES;
    scan->on_batch = recover_batch_cb;
    scan->on_damage = recover_damage_cb;
    scan->ctx = &ctx;

    log_index_free(&seg->index);
    rc = log_segment_scan(scan);
    if (rc == 0) {
        rc = ctx.rc;
    }
    if (rc < 0) {
        return rc;
    }
    seg->end_offset = scan->next_offset;
    seg->records = scan->records;
    seg->min_ts = scan->min_ts;
    seg->max_ts = scan->max_ts;
    return 0;
}

static int segment_write_index(struct log_partition *p,
                               const struct log_segment *seg)
{
    char path[PATH_MAX];
    struct log_index_summary sum = {
        .entry_count = (uint32_t)seg->index.count,
        .segment_size = seg->size,
        .base_offset = seg->base_offset,
        .end_offset = seg->end_offset,
        .min_ts = seg->min_ts,
        .max_ts = seg->max_ts,
    };

    log_partition_file(p, seg->base_offset, "idx", path, sizeof(path));
    return log_index_write(path, &seg->index, &sum);
}

/* A closed segment: trust its index when it matches, else rebuild it. */
static int segment_open_closed(struct log_embedded *log,
                               struct log_partition *p, struct log_segment *seg,
                               int fd, const char *path, uint64_t file_size,
                               struct log_recovery *report)
{
    char idx_path[PATH_MAX];
    struct log_index_summary sum;
    struct log_scan scan;
    struct log_index idx;
    int rc;

    log_partition_file(p, seg->base_offset, "idx", idx_path, sizeof(idx_path));
    log_index_init(&idx);
    rc = log_index_read(idx_path, &idx, &sum);
    log_index_free(&idx);
    if (rc == 0 && sum.segment_size == file_size &&
        sum.base_offset == seg->base_offset) {
        seg->end_offset = sum.end_offset;
        seg->min_ts = sum.min_ts;
        seg->max_ts = sum.max_ts;
        seg->records = sum.end_offset - sum.base_offset;
        return 0;
    }
    if (rc == TW_EVERSION) {
        return rc;
    }

    rc = segment_scan_into(log, seg, fd, path, file_size, &scan);
    if (rc < 0) {
        return rc;
    }
    if (scan.first_damage != UINT64_MAX) {
        seg->damaged = true;
        seg->damage_position = scan.first_damage;
        report->damaged_segments++;
        OBS_LOG(OBS_ERROR, "log",
                "closed segment is damaged; reads stop at "
                "the damage until `trackway log repair`",
                "segment=%s "
                "position=%" PRIu64,
                path, scan.first_damage);
    }
    if (!log->opts.read_only) {
        rc = segment_write_index(p, seg);
        if (rc < 0) {
            log_index_free(&seg->index);
            return rc;
        }
    }
    log_index_free(&seg->index);
    report->indexes_rebuilt++;
    OBS_LOG(OBS_INFO, "log", "index rebuilt", "segment=%s", path);
    return 0;
}

/* The active segment: scan it whole, cut a torn tail. */
static int segment_open_active(struct log_embedded *log,
                               struct log_segment *seg, int fd,
                               const char *path, uint64_t file_size,
                               struct log_recovery *report)
{
    struct log_scan scan;
    int rc;

    rc = segment_scan_into(log, seg, fd, path, file_size, &scan);
    if (rc < 0) {
        return rc;
    }
    if (scan.first_damage == UINT64_MAX) {
        seg->size = file_size;
        return 0;
    }
    if (scan.damage_in_middle) {
        seg->damaged = true;
        seg->damage_position = scan.first_damage;
        seg->size = file_size;
        report->damaged_segments++;
        OBS_LOG(OBS_ERROR, "log",
                "damage in the middle of the newest "
                "segment; it is closed and appends go to a new one; reads "
                "stop at the damage until `trackway log repair`",
                "segment=%s position=%" PRIu64 " lost_offsets=%" PRIu64, path,
                scan.first_damage, scan.lost_offsets);
        return 0;
    }

    /* Only a torn tail: everything after the last whole batch goes. */
    seg->size = scan.valid_end;
    report->tails_truncated++;
    report->bytes_truncated += file_size - scan.valid_end;
    OBS_LOG(OBS_WARN, "log", "torn tail truncated to the last whole batch",
            "segment=%s position=%" PRIu64 " bytes=%" PRIu64
            " next_offset=%" PRIu64,
            path, scan.valid_end, file_size - scan.valid_end, scan.next_offset);
    if (log->opts.read_only) {
        return 0;
    }
    if (io_ftruncate(fd, (off_t)scan.valid_end) < 0 || io_fsync(fd) < 0) {
        return tw_err_errno(errno, "cannot truncate torn tail of %s", path);
    }
    return 0;
}

static int segment_load(struct log_embedded *log, struct log_partition *p,
                        uint64_t base, bool active, struct log_recovery *report,
                        struct log_segment **out)
{
    char path[PATH_MAX];
    struct log_segment_header hdr;
    struct log_segment *seg;
    struct stat st;
    int flags = (active && !log->opts.read_only) ? O_RDWR : O_RDONLY;
    int fd;
    int rc;

    log_partition_file(p, base, "seg", path, sizeof(path));
    fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        return tw_err_errno(errno, "cannot open segment %s", path);
    }
    if (fstat(fd, &st) < 0) {
        rc = tw_err_errno(errno, "cannot stat segment %s", path);
        goto fail_close;
    }
    rc = segment_check_header(p, fd, path, base, &hdr);
    if (rc < 0) {
        goto fail_close;
    }

    seg = calloc(1, sizeof(*seg));
    if (seg == NULL) {
        rc = tw_err_set(TW_ENOMEM, "no memory for segment %s", path);
        goto fail_close;
    }
    seg->fd = -1;
    seg->base_offset = base;
    seg->end_offset = base;
    seg->created_ms = hdr.created_ms;
    seg->size = (uint64_t)st.st_size;
    log_index_init(&seg->index);

    if (active) {
        rc = segment_open_active(log, seg, fd, path, (uint64_t)st.st_size,
                                 report);
    } else {
        rc = segment_open_closed(log, p, seg, fd, path, (uint64_t)st.st_size,
                                 report);
    }
    if (rc < 0) {
        segment_free(seg);
        goto fail_close;
    }
    if (active && !seg->damaged) {
        seg->fd = fd;
    } else {
        close(fd);
    }
    *out = seg;
    return 0;

fail_close:
    close(fd);
    return rc;
}

/*
 * A newest segment too short to hold its header was being created when a
 * crash came: it holds no data and is removed.
 */
static bool segment_is_torn_creation(struct log_partition *p, uint64_t base)
{
    char path[PATH_MAX];
    struct stat st;

    log_partition_file(p, base, "seg", path, sizeof(path));
    return stat(path, &st) == 0 &&
           (uint64_t)st.st_size < LOG_SEGMENT_HEADER_SIZE;
}

static int segment_create(struct log_embedded *log, struct log_partition *p,
                          uint64_t base, struct log_segment **out)
{
    char path[PATH_MAX];
    uint8_t buf[LOG_SEGMENT_HEADER_SIZE];
    struct log_segment_header hdr = {
        .version = LOG_SEGMENT_VERSION,
        .partition = p->id,
        .base_offset = base,
        .created_ms = tw_now_ms(),
    };
    struct log_segment *seg;
    int fd;
    int rc;

    log_partition_file(p, base, "seg", path, sizeof(path));
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return tw_err_errno(errno, "cannot create segment %s", path);
    }
    log_segment_header_encode(buf, &hdr);
    if (io_pwrite_all(fd, buf, sizeof(buf), 0) < 0 ||
        (log->opts.durability != LOG_DURABILITY_NONE &&
         (io_fdatasync(fd) < 0 || io_fsync_dir(p->dir) < 0))) {
        rc = tw_err_errno(errno, "cannot initialise segment %s", path);
        goto fail;
    }
    seg = calloc(1, sizeof(*seg));
    if (seg == NULL) {
        rc = tw_err_set(TW_ENOMEM, "no memory for segment %s", path);
        goto fail;
    }
    seg->fd = fd;
    seg->base_offset = base;
    seg->end_offset = base;
    seg->created_ms = hdr.created_ms;
    seg->size = LOG_SEGMENT_HEADER_SIZE;
    log_index_init(&seg->index);
    *out = seg;
    return 0;

fail:
    close(fd);
    unlink(path);
    return rc;
}

/* Checks that each segment starts where the one before it ends. */
static int partition_check_sequence(struct log_partition *p)
{
    for (size_t i = 1; i < p->segment_count; i++) {
        struct log_segment *prev = p->segments[i - 1];
        struct log_segment *cur = p->segments[i];

        if (cur->base_offset < prev->end_offset) {
            return tw_err_set(TW_ECORRUPT,
                              "partition %s: segment %" PRIu64
                              " overlaps the one before it (which ends at "
                              "%" PRIu64 "); run `trackway log repair`",
                              p->dir, cur->base_offset, prev->end_offset);
        }
        if (cur->base_offset > prev->end_offset) {
            OBS_LOG(OBS_WARN, "log", "offsets missing between segments",
                    "partition=%u from=%" PRIu64 " to=%" PRIu64, p->id,
                    prev->end_offset, cur->base_offset - 1);
        }
    }
    return 0;
}

static int partition_load_segments(struct log_embedded *log,
                                   struct log_partition *p, uint64_t *bases,
                                   size_t count, struct log_recovery *report)
{
    int rc = 0;

    if (count > 0 && !log->opts.read_only &&
        segment_is_torn_creation(p, bases[count - 1])) {
        char path[PATH_MAX];

        log_partition_file(p, bases[count - 1], "seg", path, sizeof(path));
        OBS_LOG(OBS_WARN, "log",
                "removed a segment torn while being "
                "created",
                "segment=%s", path);
        unlink(path);
        report->empty_segments_removed++;
        count--;
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        struct log_segment *seg = NULL;

        rc = segment_load(log, p, bases[i], i + 1 == count, report, &seg);
        if (rc == 0) {
            rc = segment_list_push(p, seg);
            if (rc < 0) {
                segment_free(seg);
            }
        }
    }
    report->segments += (uint32_t)count;
    return rc;
}

/* Starts the first segment, or a new one after a damaged newest one. */
static int partition_ensure_active(struct log_embedded *log,
                                   struct log_partition *p)
{
    struct log_segment *last = NULL;
    struct log_segment *seg = NULL;
    uint64_t base = 0;
    int rc;

    if (p->segment_count > 0) {
        last = p->segments[p->segment_count - 1];
        base = last->end_offset;
        if (!last->damaged || log->opts.read_only) {
            return 0;
        }
        rc = segment_write_index(p, last);
        if (rc < 0) {
            return rc;
        }
        log_index_free(&last->index);
    }
    if (log->opts.read_only) {
        return 0;
    }
    rc = segment_create(log, p, base, &seg);
    if (rc < 0) {
        return rc;
    }
    rc = segment_list_push(p, seg);
    if (rc < 0) {
        segment_free(seg);
    }
    return rc;
}

int log_partition_open(struct log_embedded *log, struct log_partition *p,
                       uint32_t id, struct log_recovery *report)
{
    uint64_t *bases = NULL;
    size_t count = 0;
    int rc;

    memset(p, 0, sizeof(*p));
    p->id = id;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->grew, NULL);
    snprintf(p->dir, sizeof(p->dir), "%s/p%03u", log->path, id);
    if (!log->opts.read_only && mkdir(p->dir, 0755) < 0 && errno != EEXIST) {
        return tw_err_errno(errno, "cannot create partition directory %s",
                            p->dir);
    }

    rc = partition_list(p, log->opts.read_only, &bases, &count);
    if (rc < 0) {
        return rc;
    }
    rc = partition_load_segments(log, p, bases, count, report);
    free(bases);
    if (rc == 0) {
        rc = partition_check_sequence(p);
    }
    if (rc == 0) {
        rc = partition_ensure_active(log, p);
    }
    if (rc < 0) {
        return rc;
    }

    if (p->segment_count > 0) {
        struct log_segment *active = p->segments[p->segment_count - 1];

        p->end_offset = active->end_offset;
        p->written_size = active->size;
        p->synced_size = active->size;
    }
    p->next_offset = p->end_offset;
    p->last_sync_ms = tw_now_ms();
    return 0;
}

void log_partition_close(struct log_partition *p)
{
    for (size_t i = 0; i < p->segment_count; i++) {
        segment_free(p->segments[i]);
    }
    free(p->segments);
    p->segments = NULL;
    p->segment_count = 0;
    pthread_cond_destroy(&p->grew);
    pthread_mutex_destroy(&p->lock);
}

int log_partition_roll_sync(struct log_embedded *log, struct log_partition *p)
{
    struct log_segment *old = p->segments[p->segment_count - 1];

    (void)log;
    if (io_fdatasync(old->fd) < 0) {
        return tw_err_errno(errno,
                            "cannot sync segment %" PRIu64
                            " of partition %u before closing it",
                            old->base_offset, p->id);
    }
    p->synced_size = p->written_size;
    return 0;
}

int log_partition_roll_finish(struct log_embedded *log, struct log_partition *p)
{
    struct log_segment *old = p->segments[p->segment_count - 1];
    struct log_segment *seg;
    int rc;

    rc = segment_write_index(p, old);
    if (rc < 0) {
        return rc;
    }
    rc = segment_create(log, p, p->next_offset, &seg);
    if (rc < 0) {
        return rc;
    }

    pthread_mutex_lock(&p->lock);
    rc = segment_list_push(p, seg);
    if (rc == 0) {
        close(old->fd);
        old->fd = -1;
        log_index_free(&old->index);
    }
    pthread_mutex_unlock(&p->lock);
    if (rc < 0) {
        segment_free(seg);
        return rc;
    }
    p->written_size = LOG_SEGMENT_HEADER_SIZE;
    p->synced_size = LOG_SEGMENT_HEADER_SIZE;
    atomic_fetch_add(&log->st_segments_rolled, 1);
    return 0;
}

ptrdiff_t log_partition_find_segment(const struct log_partition *p,
                                     uint64_t offset)
{
    size_t lo = 0;
    size_t hi = p->segment_count;

    /* The last segment whose base is at or below offset. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (p->segments[mid]->base_offset <= offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? -1 : (ptrdiff_t)(lo - 1);
}

uint64_t log_partition_start_offset(const struct log_partition *p)
{
    return p->segment_count > 0 ? p->segments[0]->base_offset : p->end_offset;
}

int log_partition_info_get(struct log_partition *p,
                           struct log_partition_info *info)
{
    bool any = false;

    memset(info, 0, sizeof(*info));
    info->partition = p->id;
    pthread_mutex_lock(&p->lock);
    info->start_offset = log_partition_start_offset(p);
    info->end_offset = p->end_offset;
    info->segments = (uint32_t)p->segment_count;
    for (size_t i = 0; i < p->segment_count; i++) {
        struct log_segment *s = p->segments[i];

        info->bytes += s->size;
        if (s->end_offset == s->base_offset) {
            continue;
        }
        if (!any || s->min_ts < info->oldest_ms) {
            info->oldest_ms = s->min_ts;
        }
        if (!any || s->max_ts > info->newest_ms) {
            info->newest_ms = s->max_ts;
        }
        any = true;
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}
