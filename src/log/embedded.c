/*
 * embedded.c - opening and closing the embedded log, its metadata file
 * and lock, and the table that plugs it into the log interface.
 */
#include "log/embedded.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "log/batch.h"
#include "log/engine.h"
#include "log/io.h"
#include "obs/logging.h"

#define LOG_META_VERSION 1

void log_options_init(struct log_options *opts, const char *path)
{
    memset(opts, 0, sizeof(*opts));
    opts->path = path;
    opts->partitions = 4;
    opts->create = true;
    opts->durability = LOG_DURABILITY_FSYNC;
    opts->interval_ms = 100;
    opts->compression = LOG_COMPRESSION_NONE;
    opts->zstd_level = 1;
    opts->segment_max_bytes = 64u << 20;
    opts->segment_max_age_ms = 3600 * 1000;
    opts->index_interval_bytes = 4096;
    opts->max_batch_bytes = 8u << 20;
    opts->max_pending_bytes = 64u << 20;
    opts->retention.keep_unread = true;
    opts->retention_interval_ms = 30 * 1000;
}

static const char *const durability_names[] = {"fsync", "interval", "none"};

int log_durability_parse(const char *name)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, durability_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *log_durability_name(enum log_durability durability)
{
    return (unsigned)durability < 3 ? durability_names[durability] : "?";
}

static int check_options(const struct log_options *o)
{
    if (o->path == NULL || o->path[0] == '\0') {
        return tw_err_set(TW_EINVAL, "the log needs a directory path");
    }
    if (strlen(o->path) > PATH_MAX - 64) {
        return tw_err_set(TW_EINVAL, "log path is too long: %s", o->path);
    }
    if (o->partitions > LOG_MAX_PARTITIONS) {
        return tw_err_set(TW_EINVAL, "partitions must be 1 to %d, not %u",
                          LOG_MAX_PARTITIONS, o->partitions);
    }
    if (o->segment_max_bytes < 4096 ||
        o->max_batch_bytes < LOG_BATCH_HEADER_SIZE + LOG_RECORD_HEADER_SIZE ||
        o->index_interval_bytes == 0 || o->max_pending_bytes == 0 ||
        (o->durability == LOG_DURABILITY_INTERVAL && o->interval_ms == 0) ||
        (unsigned)o->durability > LOG_DURABILITY_NONE) {
        return tw_err_set(TW_EINVAL, "log options out of range for %s",
                          o->path);
    }
    return 0;
}

/* Reads <path>/LOG: "trackway-log <version>\npartitions <n>\n". */
static int meta_read(const char *path, uint32_t *partitions)
{
    char file[PATH_MAX];
    unsigned version = 0;
    unsigned count = 0;
    FILE *f;
    int n;

    snprintf(file, sizeof(file), "%s/LOG", path);
    f = fopen(file, "r");
    if (f == NULL) {
        return tw_err_errno(errno, "no log at %s (missing %s)", path, file);
    }
    n = fscanf(f, "trackway-log %u\npartitions %u\n", &version, &count);
    fclose(f);
    if (n != 2) {
        return tw_err_set(TW_ECORRUPT,
                          "%s is not a Trackway log metadata "
                          "file",
                          file);
    }
    if (version > LOG_META_VERSION) {
        return tw_err_set(TW_EVERSION,
                          "log %s has format %u; this build "
                          "reads up to %u: upgrade Trackway",
                          path, version, LOG_META_VERSION);
    }
    if (count == 0 || count > LOG_MAX_PARTITIONS) {
        return tw_err_set(TW_ECORRUPT, "%s: impossible partition count %u",
                          file, count);
    }
    *partitions = count;
    return 0;
}

static int meta_create(const struct log_options *o)
{
    char file[PATH_MAX];
    char text[64];
    int len;

    if (mkdir(o->path, 0755) < 0 && errno != EEXIST) {
        return tw_err_errno(errno, "cannot create log directory %s", o->path);
    }
    snprintf(file, sizeof(file), "%s/LOG", o->path);
    len = snprintf(text, sizeof(text), "trackway-log %d\npartitions %u\n",
                   LOG_META_VERSION, o->partitions ? o->partitions : 4);
    if (io_write_file_atomic(file, text, (size_t)len) < 0) {
        return tw_err_errno(errno, "cannot write %s", file);
    }
    return 0;
}

static int take_lock(struct log_embedded *log)
{
    char file[PATH_MAX];
    char pid[32];
    int fd;
    int len;

    snprintf(file, sizeof(file), "%s/LOCK", log->path);
    fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return tw_err_errno(errno, "cannot open lock file %s", file);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int saved = errno;

        len = (int)pread(fd, pid, sizeof(pid) - 1, 0);
        pid[len > 0 ? len : 0] = '\0';
        close(fd);
        if (saved == EWOULDBLOCK) {
            return tw_err_set(TW_EBUSY,
                              "log %s is in use by another "
                              "process (pid %s); stop it first, or open "
                              "read-only",
                              log->path, pid[0] ? pid : "unknown");
        }
        return tw_err_errno(saved, "cannot lock %s", file);
    }
    len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) == 0) {
        ssize_t ignored = pwrite(fd, pid, (size_t)len, 0);
        (void)ignored;
    }
    log->lock_fd = fd;
    return 0;
}

static uint32_t embedded_partitions(struct log *base)
{
    return log_embedded_of(base)->partitions;
}

static int embedded_partition_info(struct log *base, uint32_t partition,
                                   struct log_partition_info *info)
{
    struct log_embedded *log = log_embedded_of(base);

    if (partition >= log->partitions) {
        return tw_err_set(TW_EINVAL, "partition %u does not exist", partition);
    }
    return log_partition_info_get(&log->parts[partition], info);
}

static int embedded_cursor_commit(struct log *base, const char *name,
                                  uint32_t partition, uint64_t offset)
{
    struct log_embedded *log = log_embedded_of(base);
    struct log_partition *p;
    uint64_t start;
    uint64_t end;

    if (partition >= log->partitions) {
        return tw_err_set(TW_EINVAL, "partition %u does not exist", partition);
    }
    p = &log->parts[partition];
    pthread_mutex_lock(&p->lock);
    start = log_partition_start_offset(p);
    end = p->end_offset;
    pthread_mutex_unlock(&p->lock);
    if (offset > end) {
        return tw_err_set(TW_ERANGE,
                          "cursor %s: offset %" PRIu64 " is past "
                          "the end of partition %u (%" PRIu64 ")",
                          name, offset, partition, end);
    }
    if (offset < start) {
        return tw_err_set(TW_ERANGE,
                          "cursor %s: offset %" PRIu64 " is "
                          "before the start of partition %u (%" PRIu64 "), "
                          "which no longer holds it",
                          name, offset, partition, start);
    }
    return log_cursors_commit(&log->cursors, name, partition, offset);
}

static int embedded_cursor_get(struct log *base, const char *name,
                               uint32_t partition, uint64_t *offset)
{
    struct log_embedded *log = log_embedded_of(base);

    if (partition >= log->partitions) {
        return tw_err_set(TW_EINVAL, "partition %u does not exist", partition);
    }
    return log_cursors_get(&log->cursors, name, partition, offset);
}

static int embedded_cursor_delete(struct log *base, const char *name)
{
    return log_cursors_delete(&log_embedded_of(base)->cursors, name);
}

static int embedded_cursor_hold(struct log *base, const char *name, bool hold)
{
    return log_cursors_hold(&log_embedded_of(base)->cursors, name, hold);
}

static void embedded_stats(struct log *base, struct log_stats *st)
{
    struct log_embedded *log = log_embedded_of(base);

    st->appends = atomic_load(&log->st_appends);
    st->append_records = atomic_load(&log->st_append_records);
    st->append_failures = atomic_load(&log->st_append_failures);
    st->rejected_full = atomic_load(&log->st_rejected_full);
    st->bytes_written = atomic_load(&log->st_bytes_written);
    st->write_groups = atomic_load(&log->st_write_groups);
    st->syncs = atomic_load(&log->st_syncs);
    st->sync_ns_total = atomic_load(&log->st_sync_ns);
    st->segments_rolled = atomic_load(&log->st_segments_rolled);
    st->segments_deleted = atomic_load(&log->st_segments_deleted);
    st->rejected_budget = atomic_load(&log->st_rejected_budget);
    st->deleted_unread = atomic_load(&log->st_deleted_unread);
    st->full = atomic_load(&log->full) ? 1 : 0;
    st->stored_bytes = log_total_bytes(log);
    pthread_mutex_lock(&log->queue_lock);
    st->pending_bytes = log->pending_bytes;
    st->pending_batches = log->pending_batches;
    pthread_mutex_unlock(&log->queue_lock);
}

static void embedded_free(struct log_embedded *log, uint32_t opened)
{
    for (uint32_t i = 0; i < opened; i++) {
        log_partition_close(&log->parts[i]);
    }
    free(log->parts);
    if (log->lock_fd >= 0) {
        close(log->lock_fd);
    }
    pthread_mutex_destroy(&log->retention_lock);
    pthread_cond_destroy(&log->queue_cond);
    pthread_mutex_destroy(&log->queue_lock);
    free(log);
}

/*
 * Wakes every thread in log_wait, which then returns TW_ECLOSED unless
 * its records came, and waits until all have left the partitions.
 */
static void embedded_release_waiters(struct log_embedded *log)
{
    for (uint32_t i = 0; i < log->partitions; i++) {
        struct log_partition *p = &log->parts[i];

        pthread_mutex_lock(&p->lock);
        p->closed = true;
        pthread_cond_broadcast(&p->grew);
        while (p->waiters > 0) {
            pthread_cond_wait(&p->grew, &p->lock);
        }
        pthread_mutex_unlock(&p->lock);
    }
}

static void embedded_close(struct log *base)
{
    struct log_embedded *log = log_embedded_of(base);

    log_writer_stop(log);
    embedded_release_waiters(log);
    log_cursors_close(&log->cursors);
    embedded_free(log, log->partitions);
}

static const struct log_ops embedded_ops = {
    .name = "embedded",
    .partitions = embedded_partitions,
    .append = log_embedded_append,
    .reader_open = log_embedded_reader_open,
    .reader_next = log_embedded_reader_next,
    .reader_position = log_embedded_reader_position,
    .reader_close = log_embedded_reader_close,
    .wait = log_embedded_wait,
    .offset_for_time = log_embedded_offset_for_time,
    .partition_info = embedded_partition_info,
    .cursor_commit = embedded_cursor_commit,
    .cursor_get = embedded_cursor_get,
    .cursor_delete = embedded_cursor_delete,
    .cursor_hold = embedded_cursor_hold,
    .retention_run = log_embedded_retention_run,
    .stats = embedded_stats,
    .close = embedded_close,
};

/* Finds or creates the metadata, and settles the partition count. */
static int embedded_meta(struct log_embedded *log)
{
    const struct log_options *o = &log->opts;
    uint32_t count = 0;
    int rc = meta_read(o->path, &count);

    if (rc == TW_ENOENT && o->create && !o->read_only) {
        rc = meta_create(o);
        count = o->partitions ? o->partitions : 4;
    }
    if (rc < 0) {
        return rc;
    }
    if (o->partitions != 0 && o->partitions != count) {
        return tw_err_set(TW_EINVAL,
                          "log %s has %u partitions, the "
                          "configuration asks for %u; the count of an "
                          "existing log cannot change",
                          o->path, count, o->partitions);
    }
    log->partitions = count;
    return 0;
}

static int embedded_open_parts(struct log_embedded *log,
                               struct log_recovery *report)
{
    char dir[PATH_MAX];
    uint32_t opened = 0;
    int rc = 0;

    log->parts = calloc(log->partitions, sizeof(*log->parts));
    if (log->parts == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for %u partitions",
                          log->partitions);
    }
    for (; opened < log->partitions && rc == 0; opened++) {
        rc = log_partition_open(log, &log->parts[opened], opened, report);
    }
    if (rc < 0) {
        /* The one that failed cleans up after itself too. */
        for (uint32_t i = 0; i < opened; i++) {
            log_partition_close(&log->parts[i]);
        }
        free(log->parts);
        log->parts = NULL;
        return rc;
    }

    snprintf(dir, sizeof(dir), "%s/cursors", log->path);
    rc = log_cursors_open(&log->cursors, dir, log->partitions,
                          log->opts.durability != LOG_DURABILITY_NONE,
                          log->opts.read_only);
    if (rc < 0) {
        return rc;
    }
    for (uint32_t i = 0; i < log->partitions; i++) {
        report->cursors_clamped +=
            log_cursors_clamp(&log->cursors, i, log->parts[i].end_offset);
    }
    for (size_t i = 0; i < log->opts.retention.holding_count; i++) {
        (void)log_cursors_hold(&log->cursors, log->opts.retention.holding[i],
                               true);
    }
    log->opts.retention.holding = NULL;
    log->opts.retention.holding_count = 0;
    return 0;
}

int log_embedded_open(const struct log_options *opts, struct log **out,
                      struct log_recovery *report)
{
    struct log_recovery local;
    struct log_embedded *log;
    int rc;

    if (report == NULL) {
        report = &local;
    }
    memset(report, 0, sizeof(*report));
    rc = check_options(opts);
    if (rc < 0) {
        return rc;
    }
    log = calloc(1, sizeof(*log));
    if (log == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory to open a log");
    }
    log->base.ops = &embedded_ops;
    log->opts = *opts;
    log->lock_fd = -1;
    snprintf(log->path, sizeof(log->path), "%s", opts->path);
    log->opts.path = log->path;
    pthread_mutex_init(&log->queue_lock, NULL);
    pthread_cond_init(&log->queue_cond, NULL);
    pthread_mutex_init(&log->retention_lock, NULL);
    log->next_retention_ms = tw_now_ms() + opts->retention_interval_ms;

    rc = embedded_meta(log);
    if (rc == 0 && !opts->read_only) {
        rc = take_lock(log);
    }
    if (rc == 0) {
        rc = embedded_open_parts(log, report);
        if (rc < 0 && log->parts != NULL) {
            embedded_free(log, log->partitions);
            return rc;
        }
    }
    if (rc == 0 && !opts->read_only) {
        rc = log_writer_start(log);
        if (rc < 0) {
            log_cursors_close(&log->cursors);
            embedded_free(log, log->partitions);
            return rc;
        }
    }
    if (rc < 0) {
        embedded_free(log, 0);
        return rc;
    }
    *out = &log->base;
    return 0;
}
