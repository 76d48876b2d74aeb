/*
 * check.c - offline verification and repair of an embedded log's files.
 *
 * The contract (what is checked, what repair changes) is in check.h. Here:
 * one walk over the directory serves both; in repair mode each problem is
 * acted on as soon as it is understood, and the action is reported right
 * after the problem.
 *
 * A partition is walked in two passes. The first reads every segment
 * header, so that the second knows which segments form the chain and where
 * the next one begins (to see overlaps). The second scans each segment of
 * the chain with log_segment_scan, decodes every record of every valid
 * batch, compares the stored index with the batches as they go by and
 * builds the index a repair would write, with memory bounded by one batch
 * and the index entries.
 */
#include "log/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "log/batch.h"
#include "log/cursor.h"
#include "log/index.h"
#include "log/io.h"
#include "log/segment.h"
#include "obs/logging.h"

/* Sanity ceilings: a directory beyond them is not one we wrote. */
#define CHECK_MAX_SEGMENTS (1u << 20)
#define CHECK_MAX_QUARANTINED (1u << 16)
#define CHECK_LOG_FILE_MAX 256
#define CHECK_MESSAGE_MAX 512
#define CHECK_COPY_CHUNK (1u << 20)
#define CHECK_REL_MAX (PATH_MAX / 2)

/* A quarantined segment's origin, parsed from the quarantine file name. */
struct quarantined {
    uint32_t partition;
    uint64_t base;
};

struct check_run {
    const char *path;
    uint32_t interval;
    bool repair;
    bool act; /* repair and not a dry run: change the files */
    log_finding_cb cb;
    void *ctx;
    struct log_check_summary sum;
    int error;        /* first error that stopped an action */
    uint32_t unfixed; /* damage repair left as it was */

    uint32_t partitions;
    uint64_t ends[LOG_MAX_PARTITIONS]; /* each partition's end offset */

    struct quarantined *quarantined;
    size_t quarantined_count;
    bool quarantine_ready; /* the directory exists */

    /* Batch bytes and decompressed bodies, grown to the largest batch. */
    uint8_t *buf;
    size_t buf_cap;
    uint8_t *scratch;
    size_t scratch_cap;
};

struct seg_file {
    uint64_t base;
    uint64_t size;
    char name[LOG_SEGMENT_NAME_MAX];
    bool keep; /* header valid: part of the chain */
};

struct seg_list {
    struct seg_file *items;
    size_t count;
    size_t cap;
};

/* Everything one scan of one segment learns. */
struct seg_scan {
    struct check_run *run;
    uint32_t partition;
    const struct seg_file *seg;
    char file[CHECK_REL_MAX]; /* "p000/<name>" */
    int fd;
    uint64_t next_base; /* next segment of the chain, or UINT64_MAX */
    bool last;          /* the chain's newest segment */

    uint64_t expected; /* offset the next batch must carry */
    uint64_t cut;      /* first damage: where repair cuts, or UINT64_MAX */
    uint64_t cut_offset;
    bool cut_is_torn_tail;

    /* The valid batches before the cut. */
    uint64_t prefix_end;
    uint64_t prefix_batches;
    int64_t min_ts;
    int64_t max_ts;
    struct log_index rebuilt;

    /* Valid batches after the cut (they go to quarantine with it). */
    uint64_t after_batches;
    uint64_t after_records;
    uint64_t after_first;
    uint64_t after_end;

    uint64_t max_end; /* offset after the highest valid batch */
    uint64_t overlap_pos;
    uint64_t overlap_first;
    bool ts_reported;

    /* Damage waiting for the next batch to learn its offset range. */
    bool pending;
    uint64_t pending_pos;
    uint64_t pending_end;
    uint64_t pending_expected;
    char pending_what[96];
    uint32_t damages;

    /* The stored index, compared with the batches as they go by. */
    int index_status;
    struct log_index stored;
    struct log_index_summary stored_sum;
    size_t stored_next;
    char index_problem[200];

    int error; /* a read or memory failure during the scan */
};

/* ------------------------------------------------------------ findings -- */

const char *log_severity_name(enum log_severity severity)
{
    switch (severity) {
    case LOG_SEVERITY_INFO:
        return "info";
    case LOG_SEVERITY_WARNING:
        return "warning";
    case LOG_SEVERITY_DAMAGE:
        return "damage";
    }
    return "unknown";
}

const char *log_action_name(enum log_action action)
{
    static const char *const names[] = {
        "none",          "cut",     "quarantined",
        "index-rebuilt", "removed", "cursor-rewritten",
        "created",       "failed",  "recorded",
    };

    if ((unsigned)action < sizeof(names) / sizeof(names[0])) {
        return names[action];
    }
    return "unknown";
}

void log_check_options_init(struct log_check_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->index_interval_bytes = LOG_CHECK_INDEX_INTERVAL_DEFAULT;
}

/* A finding about file, before its details are filled in. */
static struct log_finding finding_at(enum log_severity severity,
                                     uint32_t partition, const char *file,
                                     uint64_t position)
{
    struct log_finding f = {
        .severity = severity,
        .action = LOG_ACTION_NONE,
        .partition = partition,
        .file = file,
        .position = position,
    };

    return f;
}

static void finding_offsets(struct log_finding *f, uint64_t first,
                            uint64_t last)
{
    f->has_offsets = true;
    f->first_offset = first;
    f->last_offset = last;
}

static void report(struct check_run *run, const struct log_finding *in,
                   const char *fmt, ...) TW_PRINTF(3, 4);

static void report(struct check_run *run, const struct log_finding *in,
                   const char *fmt, ...)
{
    char message[CHECK_MESSAGE_MAX];
    struct log_finding f = *in;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    f.message = message;

    run->sum.findings[f.severity]++;
    if (f.action == LOG_ACTION_FAILED) {
        run->sum.failed_actions++;
    } else if (f.action != LOG_ACTION_NONE) {
        run->sum.actions++;
    }
    if (run->cb != NULL) {
        run->cb(run->ctx, &f);
    }
}

/* Reports that an action failed, keeping the first error for the caller. */
static void report_failure(struct check_run *run, uint32_t partition,
                           const char *file, int err, const char *what)
{
    struct log_finding f = finding_at(LOG_SEVERITY_DAMAGE, partition, file,
                                      LOG_FINDING_NO_POSITION);

    f.action = LOG_ACTION_FAILED;
    if (run->error == 0) {
        run->error = err;
    }
    report(run, &f, "repair could not %s: %s", what, tw_err_message());
}

/* -------------------------------------------------------------- paths -- */

static int path_join(char *out, size_t size, const char *dir, const char *rel)
{
    if (snprintf(out, size, "%s/%s", dir, rel) >= (int)size) {
        return tw_err_set(TW_EINVAL, "path %s/%s is too long", dir, rel);
    }
    return 0;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name);
    size_t s = strlen(suffix);

    return n >= s && strcmp(name + n - s, suffix) == 0;
}

/* "p007" -> 7; false for anything else. */
static bool parse_partition_dir(const char *name, uint32_t *partition)
{
    if (name[0] != 'p' || strlen(name) != 4) {
        return false;
    }
    for (int i = 1; i < 4; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return false;
        }
    }
    *partition = (uint32_t)atoi(name + 1);
    return true;
}

/* "<20 digits>.idx" -> base offset. */
static bool parse_index_name(const char *name, uint64_t *base)
{
    char seg[LOG_SEGMENT_NAME_MAX];

    if (strlen(name) != 24 || !has_suffix(name, ".idx")) {
        return false;
    }
    memcpy(seg, name, 20);
    memcpy(seg + 20, ".seg", 5);
    return log_segment_parse_name(seg, base);
}

static uint64_t file_size_of(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* -------------------------------------------------------- quarantine -- */

static int quarantine_open_dir(struct check_run *run)
{
    char dir[PATH_MAX];
    int rc = path_join(dir, sizeof(dir), run->path, "quarantine");

    if (rc < 0 || run->quarantine_ready) {
        return rc;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        return tw_err_errno(errno, "cannot create %s", dir);
    }
    if (io_fsync_dir(run->path) < 0) {
        return tw_err_errno(errno, "cannot sync %s", run->path);
    }
    run->quarantine_ready = true;
    return 0;
}

/* Remembers that a segment of partition based at base is in quarantine. */
static int quarantine_note(struct check_run *run, uint32_t partition,
                           uint64_t base)
{
    if (run->quarantined_count >= CHECK_MAX_QUARANTINED) {
        return 0; /* only gaps would be reported as unexplained */
    }
    if (run->quarantined_count % 64 == 0) {
        struct quarantined *grown = realloc(
            run->quarantined, (run->quarantined_count + 64) * sizeof(*grown));

        if (grown == NULL) {
            return tw_err_set(TW_ENOMEM, "no memory for the quarantine list");
        }
        run->quarantined = grown;
    }
    run->quarantined[run->quarantined_count].partition = partition;
    run->quarantined[run->quarantined_count].base = base;
    run->quarantined_count++;
    return 0;
}

/*
 * Reads the quarantine's names (p<NNN>-<segment>-<position>.bad), to tell
 * gaps an earlier repair made from others.
 */
static int quarantine_load(struct check_run *run)
{
    char dir[PATH_MAX];
    DIR *d;
    struct dirent *e;
    int rc = path_join(dir, sizeof(dir), run->path, "quarantine");

    if (rc < 0) {
        return rc;
    }
    d = opendir(dir);
    if (d == NULL) {
        return errno == ENOENT ? 0 : tw_err_errno(errno, "cannot read %s", dir);
    }
    run->quarantine_ready = true;
    while ((e = readdir(d)) != NULL && rc == 0) {
        char seg[LOG_SEGMENT_NAME_MAX];
        uint64_t base;
        unsigned p;

        if (sscanf(e->d_name, "p%3u-%24[0-9.seg]-", &p, seg) == 2 &&
            log_segment_parse_name(seg, &base)) {
            rc = quarantine_note(run, p, base);
        }
    }
    closedir(d);
    return rc;
}

/* Whether repair quarantined a segment of partition based in [lo, hi). */
static bool quarantine_explains(const struct check_run *run, uint32_t partition,
                                uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < run->quarantined_count; i++) {
        const struct quarantined *q = &run->quarantined[i];

        if (q->partition == partition && q->base >= lo && q->base < hi) {
            return true;
        }
    }
    return false;
}

/* true when the file at path holds exactly src's bytes [from, from+len). */
static bool same_bytes(const char *path, int src, uint64_t from, uint64_t len,
                       uint8_t *a, uint8_t *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    bool same = false;

    if (fd < 0) {
        return false;
    }
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != len) {
        goto out;
    }
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done > CHECK_COPY_CHUNK ? CHECK_COPY_CHUNK
                                                 : (size_t)(len - done);

        if (io_pread_all(src, a, n, (off_t)(from + done)) < 0 ||
            io_pread_all(fd, b, n, (off_t)done) < 0 || memcmp(a, b, n) != 0) {
            goto out;
        }
        done += n;
    }
    same = true;
out:
    close(fd);
    return same;
}

static int copy_range(int src, uint64_t from, uint64_t len, int dst,
                      uint8_t *chunk)
{
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done > CHECK_COPY_CHUNK ? CHECK_COPY_CHUNK
                                                 : (size_t)(len - done);

        if (io_pread_all(src, chunk, n, (off_t)(from + done)) < 0 ||
            io_pwrite_all(dst, chunk, n, (off_t)done) < 0) {
            return -1;
        }
        done += n;
    }
    return 0;
}

/*
 * Copies src's bytes [from, from + len) into a new quarantine file named
 * after the segment and the position, and syncs it. When a file of that
 * name already holds exactly those bytes (a repair that stopped between
 * copy and cut), it is used as it is. rel receives the file's name
 * relative to the log directory.
 */
static int quarantine_copy(struct check_run *run, uint32_t partition,
                           const char *seg_name, int src, uint64_t from,
                           uint64_t len, char *rel, size_t rel_size)
{
    char path[PATH_MAX];
    uint8_t *a;
    uint8_t *b;
    int rc;
    int fd = -1;

    if (!run->act) {
        snprintf(rel, rel_size, "quarantine/p%03u-%s-%" PRIu64 ".bad",
                 partition, seg_name, from);
        return 0;
    }
    a = malloc(CHECK_COPY_CHUNK);
    b = malloc(CHECK_COPY_CHUNK);
    rc = quarantine_open_dir(run);

    if (a == NULL || b == NULL) {
        rc = tw_err_set(TW_ENOMEM, "no memory to copy into quarantine");
    }
    for (unsigned n = 1; rc == 0; n++) {
        if (n == 1) {
            snprintf(rel, rel_size, "quarantine/p%03u-%s-%" PRIu64 ".bad",
                     partition, seg_name, from);
        } else {
            snprintf(rel, rel_size, "quarantine/p%03u-%s-%" PRIu64 ".%u.bad",
                     partition, seg_name, from, n);
        }
        rc = path_join(path, sizeof(path), run->path, rel);
        if (rc < 0) {
            break;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            break;
        }
        if (errno != EEXIST || n >= 1000) {
            rc = tw_err_errno(errno, "cannot create %s", path);
        } else if (same_bytes(path, src, from, len, a, b)) {
            goto out_free;
        }
    }
    if (rc < 0) {
        goto out_free;
    }

    if (copy_range(src, from, len, fd, a) < 0 || io_fsync(fd) < 0) {
        rc = tw_err_errno(errno, "cannot copy %" PRIu64 " bytes to %s", len,
                          path);
        close(fd);
        unlink(path);
        goto out_free;
    }
    close(fd);
    snprintf(path, sizeof(path), "%s/quarantine", run->path);
    if (io_fsync_dir(path) < 0) {
        rc = tw_err_errno(errno, "cannot sync %s", path);
    }
out_free:
    free(a);
    free(b);
    return rc;
}

/* Moves a whole file into quarantine; rel receives its new name. */
static int quarantine_move(struct check_run *run, uint32_t partition,
                           const char *dir_rel, const char *name, char *rel,
                           size_t rel_size)
{
    char from[PATH_MAX];
    char to[PATH_MAX];
    char dir[PATH_MAX];
    int rc = run->act ? quarantine_open_dir(run) : 0;

    if (rc < 0) {
        return rc;
    }
    snprintf(dir, sizeof(dir), "%s/%s", run->path, dir_rel);
    rc = path_join(from, sizeof(from), dir, name);
    for (unsigned n = 1; rc == 0; n++) {
        if (partition == LOG_FINDING_NO_PARTITION) {
            snprintf(rel, rel_size, "quarantine/%s-%s.%u.bad", dir_rel, name,
                     n);
        } else if (n == 1) {
            snprintf(rel, rel_size, "quarantine/p%03u-%s-0.bad", partition,
                     name);
        } else {
            snprintf(rel, rel_size, "quarantine/p%03u-%s-0.%u.bad", partition,
                     name, n);
        }
        rc = path_join(to, sizeof(to), run->path, rel);
        if (rc == 0 && (!run->act || access(to, F_OK) != 0)) {
            break;
        }
        if (n >= 1000) {
            rc = tw_err_set(TW_EIO, "no free quarantine name for %s", from);
        }
    }
    if (rc < 0 || !run->act) {
        return rc;
    }
    if (rename(from, to) < 0) {
        return tw_err_errno(errno, "cannot move %s to %s", from, to);
    }
    snprintf(to, sizeof(to), "%s/quarantine", run->path);
    if (io_fsync_dir(to) < 0 || io_fsync_dir(dir) < 0) {
        return tw_err_errno(errno, "cannot sync after moving %s", from);
    }
    return 0;
}

/* Removes a file that holds no data (a leftover), syncing its directory. */
static int remove_leftover(const struct check_run *run, const char *dir,
                           const char *name)
{
    char path[PATH_MAX];
    int rc = path_join(path, sizeof(path), dir, name);

    if (rc < 0 || !run->act) {
        return rc;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        return tw_err_errno(errno, "cannot remove %s", path);
    }
    if (io_fsync_dir(dir) < 0) {
        return tw_err_errno(errno, "cannot sync %s", dir);
    }
    return 0;
}

/* ----------------------------------------------------------- LOG file -- */

/* Number of partition directories p000..pN-1 present without a hole. */
static uint32_t count_partition_dirs(const char *path)
{
    char dir[PATH_MAX];
    uint32_t n = 0;
    struct stat st;

    while (n < LOG_MAX_PARTITIONS) {
        snprintf(dir, sizeof(dir), "%s/p%03u", path, n);
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            break;
        }
        n++;
    }
    return n;
}

/* Parses the LOG file: 0, TW_ENOENT, TW_ECORRUPT or TW_EVERSION. */
static int read_log_file(const char *path, uint32_t *partitions,
                         unsigned *version)
{
    char file[PATH_MAX];
    char text[CHECK_LOG_FILE_MAX + 1];
    char expect[CHECK_LOG_FILE_MAX];
    unsigned n = 0;
    ssize_t len;
    int fd;
    int rc = path_join(file, sizeof(file), path, "LOG");

    if (rc < 0) {
        return rc;
    }
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? TW_ENOENT
                               : tw_err_errno(errno, "cannot open %s", file);
    }
    len = read(fd, text, CHECK_LOG_FILE_MAX);
    close(fd);
    if (len < 0) {
        return tw_err_errno(errno, "cannot read %s", file);
    }
    text[len] = '\0';

    *version = 0;
    if (sscanf(text, "trackway-log %u\npartitions %u\n", version, &n) < 1) {
        return TW_ECORRUPT;
    }
    if (*version > 1) {
        return TW_EVERSION;
    }
    snprintf(expect, sizeof(expect), "trackway-log 1\npartitions %u\n", n);
    if (*version != 1 || strcmp(text, expect) != 0 || n == 0 ||
        n > LOG_MAX_PARTITIONS) {
        return TW_ECORRUPT;
    }
    *partitions = n;
    return 0;
}

static void rewrite_log_file(struct check_run *run, uint32_t partitions)
{
    char file[PATH_MAX];
    char text[64];
    int len = snprintf(text, sizeof(text), "trackway-log 1\npartitions %u\n",
                       partitions);
    struct log_finding f =
        finding_at(LOG_SEVERITY_DAMAGE, LOG_FINDING_NO_PARTITION, "LOG",
                   LOG_FINDING_NO_POSITION);

    if (path_join(file, sizeof(file), run->path, "LOG") < 0 ||
        (run->act && io_write_file_atomic(file, text, (size_t)len) < 0)) {
        report_failure(run, LOG_FINDING_NO_PARTITION, "LOG",
                       tw_err_errno(errno, "cannot write %s", file),
                       "rewrite the LOG file");
        return;
    }
    f.action = LOG_ACTION_CREATED;
    report(run, &f, "LOG file for the %u partition directories found",
           partitions);
}

/*
 * Establishes the partition count from the LOG file, or from the
 * partition directories when the file is missing or damaged.
 */
static int check_log_file(struct check_run *run)
{
    struct log_finding f =
        finding_at(LOG_SEVERITY_DAMAGE, LOG_FINDING_NO_PARTITION, "LOG",
                   LOG_FINDING_NO_POSITION);
    unsigned version = 0;
    uint32_t dirs = count_partition_dirs(run->path);
    struct stat st;
    int rc = read_log_file(run->path, &run->partitions, &version);

    if (rc == 0) {
        return 0;
    }
    if (rc == TW_EVERSION) {
        report(run, &f,
               "the log has format version %u, newer than this build reads "
               "(1); use a newer trackway",
               version);
        return tw_err_set(TW_EVERSION,
                          "log %s has format version %u; this "
                          "build reads version 1",
                          run->path, version);
    }
    if (rc != TW_ENOENT && rc != TW_ECORRUPT) {
        return rc;
    }
    if (stat(run->path, &st) < 0 || !S_ISDIR(st.st_mode) ||
        (rc == TW_ENOENT && dirs == 0)) {
        return tw_err_set(TW_ENOENT,
                          "no log at %s (no LOG file and no "
                          "partition directories)",
                          run->path);
    }
    run->partitions = dirs;
    report(run, &f, "LOG file %s; %u partition directories found",
           rc == TW_ENOENT ? "missing" : "damaged", dirs);
    if (!run->repair) {
        return 0;
    }
    if (dirs == 0) {
        run->unfixed++;
        return 0;
    }
    rewrite_log_file(run, dirs);
    return 0;
}

/* ---------------------------------------------------- segment listing -- */

static int seg_cmp(const void *a, const void *b)
{
    const struct seg_file *x = a;
    const struct seg_file *y = b;

    return x->base < y->base ? -1 : x->base > y->base;
}

static int list_segments(const char *dir, struct seg_list *list)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;

    if (d == NULL) {
        return tw_err_errno(errno, "cannot read %s", dir);
    }
    while ((e = readdir(d)) != NULL && rc == 0) {
        struct seg_file s = {0};
        char path[PATH_MAX];

        if (!log_segment_parse_name(e->d_name, &s.base)) {
            continue;
        }
        if (list->count >= CHECK_MAX_SEGMENTS) {
            rc = tw_err_set(TW_EINVAL, "%s holds more than %u segments", dir,
                            CHECK_MAX_SEGMENTS);
            break;
        }
        if (list->count == list->cap) {
            size_t cap = list->cap == 0 ? 64 : list->cap * 2;
            struct seg_file *grown = realloc(list->items, cap * sizeof(s));

            if (grown == NULL) {
                rc = tw_err_set(TW_ENOMEM, "no memory to list %s", dir);
                break;
            }
            list->items = grown;
            list->cap = cap;
        }
        memcpy(s.name, e->d_name, strlen(e->d_name) + 1); /* 24 + NUL */
        rc = path_join(path, sizeof(path), dir, e->d_name);
        s.size = file_size_of(path);
        list->items[list->count++] = s;
    }
    closedir(d);
    if (rc == 0 && list->count > 1) {
        qsort(list->items, list->count, sizeof(list->items[0]), seg_cmp);
    }
    return rc;
}

/* ---------------------------------------------------- segment headers -- */

static void index_path(char *out, size_t size, const char *dir, uint64_t base)
{
    char name[LOG_SEGMENT_NAME_MAX];

    log_segment_name(name, base, "idx");
    snprintf(out, size, "%s/%s", dir, name);
}

/*
 * Moves a whole segment to quarantine, with its index (a cache) removed;
 * a 0-byte file, which holds nothing, is removed. f says the severity,
 * the file and any offsets lost; the action and the bytes are added.
 */
static void quarantine_segment(struct check_run *run, uint32_t partition,
                               const char *dir, const struct seg_file *s,
                               struct log_finding f)
{
    char dir_rel[8];
    char rel[CHECK_REL_MAX];
    char idx[PATH_MAX];
    int rc;

    snprintf(dir_rel, sizeof(dir_rel), "p%03u", partition);
    f.position = 0;
    if (s->size == 0) {
        rc = remove_leftover(run, dir, s->name);
        if (rc < 0) {
            report_failure(run, partition, f.file, rc, "remove the file");
            return;
        }
        f.action = LOG_ACTION_REMOVED;
        report(run, &f, "empty segment file; it holds no data");
        return;
    }
    rc = quarantine_move(run, partition, dir_rel, s->name, rel, sizeof(rel));
    if (rc == 0) {
        rc = quarantine_note(run, partition, s->base);
    }
    if (rc < 0) {
        report_failure(run, partition, f.file, rc,
                       "move the segment to quarantine");
        return;
    }
    index_path(idx, sizeof(idx), dir, s->base);
    if (run->act) {
        unlink(idx);
    }
    f.action = LOG_ACTION_QUARANTINED;
    f.bytes = s->size;
    f.quarantine = rel;
    report(run, &f,
           "whole segment (%" PRIu64 " bytes) to %s; its records leave the "
           "log",
           s->size, rel);
}

/*
 * Reads a segment's header into buf: 0, TW_ENOENT when the file is gone
 * (retention removed it since the listing, on a live log), or an error.
 */
static int read_header(const char *path, uint8_t *buf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0) {
        return errno == ENOENT ? TW_ENOENT
                               : tw_err_errno(errno, "cannot open %s", path);
    }
    if (io_pread_all(fd, buf, LOG_SEGMENT_HEADER_SIZE, 0) < 0) {
        rc = tw_err_errno(errno, "cannot read %s", path);
    }
    close(fd);
    return rc;
}

/* Says what is wrong with a header that was read; false when nothing. */
static bool header_problem(struct check_run *run, struct log_finding *f,
                           const uint8_t *buf, uint32_t partition,
                           uint64_t base)
{
    struct log_segment_header hdr;
    int rc = log_segment_header_decode(buf, &hdr);

    if (rc == TW_EVERSION) {
        report(run, f,
               "segment written in format version %u, newer than this "
               "build reads (%u); not read",
               hdr.version, LOG_SEGMENT_VERSION);
        return true;
    }
    if (rc < 0) {
        report(run, f, "segment header damaged (magic or checksum wrong)");
        return true;
    }
    if (hdr.partition != partition || hdr.base_offset != base) {
        report(run, f,
               "segment header says partition %u, base offset %" PRIu64
               ", unlike its place",
               hdr.partition, hdr.base_offset);
        return true;
    }
    return false;
}

/* Reads and judges one segment header; sets s->keep. */
static void check_header(struct check_run *run, uint32_t partition,
                         const char *dir, struct seg_file *s, bool newest)
{
    char path[PATH_MAX];
    char file[CHECK_REL_MAX];
    uint8_t buf[LOG_SEGMENT_HEADER_SIZE];
    struct log_finding f;
    int rc;

    snprintf(file, sizeof(file), "p%03u/%s", partition, s->name);
    f = finding_at(LOG_SEVERITY_DAMAGE, partition, file, 0);
    f.bytes = s->size;
    s->keep = false;
    if (path_join(path, sizeof(path), dir, s->name) < 0) {
        return;
    }
    if (s->size < LOG_SEGMENT_HEADER_SIZE) {
        /* The newest segment torn while being created: nothing was in it. */
        f.severity = newest ? LOG_SEVERITY_WARNING : LOG_SEVERITY_DAMAGE;
        report(run, &f,
               "segment file of %" PRIu64 " bytes is shorter than its "
               "header (torn while being created)",
               s->size);
    } else if ((rc = read_header(path, buf)) == TW_ENOENT) {
        return;
    } else if (rc < 0) {
        report(run, &f, "segment header unreadable: %s", tw_err_message());
        run->unfixed++;
        run->error = run->error != 0 ? run->error : rc;
        return;
    } else if (!header_problem(run, &f, buf, partition, s->base)) {
        s->keep = true;
        return;
    }
    if (run->repair) {
        f.has_offsets = false;
        quarantine_segment(run, partition, dir, s, f);
    }
}

/* ------------------------------------------------------ segment scans -- */

static void scan_report_damage(struct seg_scan *s, uint64_t next_offset,
                               bool next_known)
{
    struct check_run *run = s->run;
    struct log_finding f =
        finding_at(LOG_SEVERITY_DAMAGE, s->partition, s->file, s->pending_pos);
    bool tail = !next_known;
    uint64_t first = s->pending_expected;

    f.bytes = s->pending_end - s->pending_pos;
    if (next_known && next_offset > first) {
        finding_offsets(&f, first, next_offset - 1);
    } else if (tail && !s->last && s->next_base != UINT64_MAX &&
               s->next_base > first) {
        finding_offsets(&f, first, s->next_base - 1);
    } else if (tail && s->last) {
        finding_offsets(&f, first, LOG_FINDING_OPEN_END);
    }

    if (tail && s->last && s->cut == s->pending_pos) {
        s->cut_is_torn_tail = true;
        f.severity = LOG_SEVERITY_WARNING;
        report(run, &f,
               "torn tail: %" PRIu64 " bytes after the last whole batch "
               "(%s); the log cuts them when next opened for writing",
               f.bytes, s->pending_what);
        return;
    }
    if (tail && !s->last) {
        report(run, &f, "%s; the segment ends in %" PRIu64 " damaged bytes",
               s->pending_what, f.bytes);
        return;
    }
    report(run, &f, "%s", s->pending_what);
}

static void scan_flush_pending(struct seg_scan *s, uint64_t next_offset,
                               bool next_known)
{
    if (!s->pending) {
        return;
    }
    s->pending = false;
    scan_report_damage(s, next_offset, next_known);
}

static void scan_note_cut(struct seg_scan *s, uint64_t pos, uint64_t offset)
{
    if (s->cut == UINT64_MAX) {
        s->cut = pos;
        s->cut_offset = offset;
    }
}

static void scan_on_damage(void *ctx, uint64_t pos, uint64_t end,
                           uint64_t expected, const char *what)
{
    struct seg_scan *s = ctx;

    scan_flush_pending(s, 0, false);
    s->pending = true;
    s->pending_pos = pos;
    s->pending_end = end;
    s->pending_expected = expected;
    snprintf(s->pending_what, sizeof(s->pending_what), "%s", what);
    s->damages++;
    scan_note_cut(s, pos, expected);
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    uint8_t *grown;

    if (need <= *cap) {
        return 0;
    }
    grown = realloc(*buf, need);
    if (grown == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for a batch of %zu bytes",
                          need);
    }
    *buf = grown;
    *cap = need;
    return 0;
}

/*
 * Decodes every record of a batch whose checksum matched. Returns false
 * (and reports) when the records do not fit the batch.
 */
static bool scan_records(struct seg_scan *s, uint64_t pos,
                         const struct log_batch_header *hdr)
{
    struct check_run *run = s->run;
    struct log_finding f =
        finding_at(LOG_SEVERITY_DAMAGE, s->partition, s->file, pos);
    struct log_batch_iter it;
    struct log_record rec;
    uint32_t seen = 0;
    bool ts_ok = true;
    int rc;

    if (grow(&run->buf, &run->buf_cap, hdr->length) < 0) {
        s->error = TW_ENOMEM;
        return true;
    }
    if (io_pread_all(s->fd, run->buf, hdr->length, (off_t)pos) < 0) {
        s->error = tw_err_errno(errno, "cannot read %s at byte %" PRIu64,
                                s->file, pos);
        return true;
    }
    rc = log_batch_iter_init(&it, run->buf, hdr, &run->scratch,
                             &run->scratch_cap);
    while (rc == 0 && (rc = log_batch_iter_next(&it, &rec)) == 1) {
        seen++;
        if (rec.timestamp_ms < hdr->min_ts || rec.timestamp_ms > hdr->max_ts) {
            ts_ok = false;
        }
        rc = 0;
    }
    if (rc == TW_ENOMEM) {
        s->error = rc;
        return true;
    }
    if (rc < 0) {
        finding_offsets(&f, hdr->base_offset,
                        hdr->base_offset + hdr->count - 1);
        f.bytes = hdr->length;
        report(run, &f,
               "batch checksum matches but its records do not decode "
               "(record %u of %u)",
               seen, hdr->count);
        return false;
    }
    if (!ts_ok && !s->ts_reported) {
        s->ts_reported = true;
        f.severity = LOG_SEVERITY_WARNING;
        finding_offsets(&f, hdr->base_offset,
                        hdr->base_offset + hdr->count - 1);
        report(run, &f,
               "a record's timestamp lies outside its batch's range; "
               "lookups by time may miss it");
    }
    return true;
}

/* Compares the stored index with one batch of the valid prefix. */
static void index_compare(struct seg_scan *s, uint64_t pos,
                          const struct log_batch_header *hdr)
{
    const struct log_index *idx = &s->stored;
    const struct log_index_entry *e;
    char *why = s->index_problem;
    size_t n = sizeof(s->index_problem);

    if (s->index_status != 0 || why[0] != '\0') {
        return;
    }
    if (s->stored_next >= idx->count) {
        if (s->prefix_batches == 0) {
            snprintf(why, n, "it has no entry for the first batch");
        }
        return;
    }
    e = &idx->entries[s->stored_next];
    if (e->position < pos) {
        snprintf(why, n,
                 "entry %zu names byte %" PRIu64 ", where no batch starts",
                 s->stored_next, e->position);
    } else if (e->position > pos && s->prefix_batches == 0) {
        snprintf(why, n, "it has no entry for the first batch");
    } else if (e->position == pos && e->offset != hdr->base_offset) {
        snprintf(why, n,
                 "entry %zu says offset %" PRIu64 ", the batch holds "
                 "%" PRIu64,
                 s->stored_next, e->offset, hdr->base_offset);
    } else if (e->position == pos && e->max_ts != s->rebuilt.max_ts) {
        snprintf(why, n, "entry %zu has the wrong timestamp", s->stored_next);
    } else if (e->position == pos) {
        s->stored_next++;
    }
}

static void scan_on_batch(void *ctx, uint64_t pos,
                          const struct log_batch_header *hdr)
{
    struct seg_scan *s = ctx;
    struct check_run *run = s->run;
    uint64_t end = hdr->base_offset + hdr->count;

    if (s->pending) {
        scan_flush_pending(s, hdr->base_offset, true);
    } else if (hdr->base_offset != s->expected) {
        struct log_finding f =
            finding_at(LOG_SEVERITY_DAMAGE, s->partition, s->file, pos);

        finding_offsets(&f, s->expected, hdr->base_offset - 1);
        report(run, &f, "offsets missing inside the segment");
        scan_note_cut(s, pos, s->expected);
    }
    s->expected = end;
    if (end > s->max_end) {
        s->max_end = end;
    }
    run->sum.batches++;
    run->sum.records += hdr->count;

    if (!scan_records(s, pos, hdr)) {
        scan_note_cut(s, pos, hdr->base_offset);
    }
    if (s->next_base != UINT64_MAX && end > s->next_base &&
        s->overlap_pos == UINT64_MAX) {
        s->overlap_pos = pos;
        s->overlap_first =
            hdr->base_offset > s->next_base ? hdr->base_offset : s->next_base;
        scan_note_cut(s, pos, hdr->base_offset);
    }

    if (s->cut != UINT64_MAX) {
        if (s->after_batches == 0) {
            s->after_first = hdr->base_offset;
        }
        s->after_batches++;
        s->after_records += hdr->count;
        s->after_end = end;
        return;
    }
    if (log_index_add(&s->rebuilt, pos, hdr->base_offset, hdr->max_ts,
                      run->interval) < 0) {
        s->error = TW_ENOMEM;
    }
    index_compare(s, pos, hdr);
    if (s->prefix_batches == 0 || hdr->min_ts < s->min_ts) {
        s->min_ts = hdr->min_ts;
    }
    if (s->prefix_batches == 0 || hdr->max_ts > s->max_ts) {
        s->max_ts = hdr->max_ts;
    }
    s->prefix_batches++;
    s->prefix_end = end;
}

static void scan_report_overlap(struct seg_scan *s)
{
    struct log_finding f =
        finding_at(LOG_SEVERITY_DAMAGE, s->partition, s->file, s->overlap_pos);
    char next[LOG_SEGMENT_NAME_MAX];

    if (s->overlap_pos == UINT64_MAX) {
        return;
    }
    log_segment_name(next, s->next_base, "seg");
    finding_offsets(&f, s->overlap_first, s->max_end - 1);
    report(s->run, &f, "offsets overlap the next segment %s", next);
}

/* Judges the stored index once the whole segment has been scanned. */
static void index_verdict(struct seg_scan *s)
{
    const struct log_index_summary *sum = &s->stored_sum;
    char *why = s->index_problem;
    size_t n = sizeof(s->index_problem);

    if (s->index_status != 0 || why[0] != '\0') {
        return;
    }
    if (sum->segment_size != s->seg->size) {
        snprintf(why, n,
                 "stale: it describes %" PRIu64
                 " bytes, the segment has %" PRIu64,
                 sum->segment_size, s->seg->size);
    } else if (s->stored_next < s->stored.count) {
        snprintf(why, n, "entry %zu names a batch past the data",
                 s->stored_next);
    } else if (sum->base_offset != s->seg->base ||
               sum->end_offset != s->prefix_end) {
        snprintf(why, n,
                 "it says offsets %" PRIu64 "..%" PRIu64
                 ", the data holds %" PRIu64 "..%" PRIu64,
                 sum->base_offset, sum->end_offset, s->seg->base,
                 s->prefix_end);
    } else if (s->prefix_batches > 0 &&
               (sum->min_ts != s->min_ts || sum->max_ts != s->max_ts)) {
        snprintf(why, n, "its timestamps disagree with the data");
    }
}

/* Loads <base>.idx for comparison; index_status says how it went. */
static void index_load(struct seg_scan *s, const char *dir)
{
    char path[PATH_MAX];

    index_path(path, sizeof(path), dir, s->seg->base);
    s->index_status = log_index_read(path, &s->stored, &s->stored_sum);
    if (s->index_status == TW_ENOENT) {
        return;
    }
    if (s->index_status == TW_ENOMEM || s->index_status == TW_EIO) {
        s->error = s->index_status;
    }
}

/* Whether the segment's index needs writing, and says why (not repair). */
static bool index_needs_rebuild(struct seg_scan *s)
{
    struct log_finding f = finding_at(LOG_SEVERITY_WARNING, s->partition,
                                      s->file, LOG_FINDING_NO_POSITION);
    char name[LOG_SEGMENT_NAME_MAX];
    char file[CHECK_REL_MAX];

    /*
     * The engine keeps the active segment's index in memory and ignores
     * any file, which may be stale after a restart: nothing to judge.
     */
    if (s->last) {
        return false;
    }
    log_segment_name(name, s->seg->base, "idx");
    snprintf(file, sizeof(file), "p%03u/%s", s->partition, name);
    f.file = file;
    switch (s->index_status) {
    case 0:
        if (s->index_problem[0] == '\0') {
            return false;
        }
        report(s->run, &f, "index disagrees with the segment: %s",
               s->index_problem);
        return true;
    case TW_ENOENT:
        report(s->run, &f, "index missing; the log rebuilds it when opened");
        return true;
    case TW_EVERSION:
        report(s->run, &f, "index written in a newer format version");
        return true;
    default:
        report(s->run, &f, "index damaged (%s)", tw_err_name(s->index_status));
        return true;
    }
}

static int write_index(struct seg_scan *s, const char *dir, uint64_t size)
{
    char path[PATH_MAX];
    struct log_index_summary sum = {
        .entry_count = (uint32_t)s->rebuilt.count,
        .segment_size = size,
        .base_offset = s->seg->base,
        .end_offset = s->prefix_batches > 0 ? s->prefix_end : s->seg->base,
        .min_ts = s->min_ts,
        .max_ts = s->max_ts,
    };

    if (!s->run->act) {
        return 0;
    }
    index_path(path, sizeof(path), dir, s->seg->base);
    return log_index_write(path, &s->rebuilt, &sum);
}

static void rebuild_index(struct seg_scan *s, const char *dir, uint64_t size)
{
    char name[LOG_SEGMENT_NAME_MAX];
    char file[CHECK_REL_MAX];
    struct log_finding f;
    int rc = write_index(s, dir, size);

    log_segment_name(name, s->seg->base, "idx");
    snprintf(file, sizeof(file), "p%03u/%s", s->partition, name);
    if (rc < 0) {
        report_failure(s->run, s->partition, file, rc, "rebuild the index");
        return;
    }
    f = finding_at(LOG_SEVERITY_WARNING, s->partition, file,
                   LOG_FINDING_NO_POSITION);
    f.action = LOG_ACTION_INDEX_REBUILT;
    report(s->run, &f, "index from the data (%zu entries)", s->rebuilt.count);
}

/*
 * The offsets a cut at s->cut loses from the log, set on f: up to the
 * next segment for a closed one; for the newest, up to the last valid
 * batch found after the damage, or from the cut on (no end known).
 */
static void cut_lost_offsets(const struct seg_scan *s, struct log_finding *f)
{
    uint64_t lost_end = 0;

    if (!s->last && s->next_base != UINT64_MAX) {
        lost_end = s->next_base;
    } else if (s->after_batches > 0) {
        lost_end = s->after_end;
    }
    if (lost_end > s->cut_offset) {
        finding_offsets(f, s->cut_offset, lost_end - 1);
    } else if (s->last && s->after_batches == 0) {
        finding_offsets(f, s->cut_offset, LOG_FINDING_OPEN_END);
    }
}

/* Says what a cut loses, for the end of an action's message. */
static void cut_describe(const struct seg_scan *s, const struct log_finding *f,
                         char *buf, size_t size)
{
    int n;

    if (!f->has_offsets) {
        n = snprintf(buf, size, "no offsets lost");
    } else if (f->last_offset == LOG_FINDING_OPEN_END) {
        n = snprintf(buf, size,
                     "whatever the bytes held from offset %" PRIu64
                     " on is lost",
                     f->first_offset);
    } else {
        n = snprintf(buf, size, "offsets %" PRIu64 "..%" PRIu64 " lost",
                     f->first_offset, f->last_offset);
    }
    if (s->after_batches > 0 && n >= 0 && (size_t)n < size) {
        snprintf(buf + n, size - (size_t)n,
                 "; %" PRIu64 " valid batches after the damage (offsets "
                 "%" PRIu64 "..%" PRIu64 ", %" PRIu64
                 " records) are in the quarantine file, not in the log",
                 s->after_batches, s->after_first, s->after_end - 1,
                 s->after_records);
    }
}

/* Cuts the segment at s->cut, the bytes from there going to quarantine. */
static void cut_segment(struct seg_scan *s, const char *dir)
{
    struct check_run *run = s->run;
    struct log_finding f = finding_at(s->cut_is_torn_tail ? LOG_SEVERITY_WARNING
                                                          : LOG_SEVERITY_DAMAGE,
                                      s->partition, s->file, s->cut);
    uint64_t len = s->seg->size - s->cut;
    char rel[CHECK_REL_MAX];
    char lost[320];
    int rc;

    rc = quarantine_copy(run, s->partition, s->seg->name, s->fd, s->cut, len,
                         rel, sizeof(rel));
    if (rc == 0 && run->act &&
        (io_ftruncate(s->fd, (off_t)s->cut) < 0 || io_fsync(s->fd) < 0)) {
        rc = tw_err_errno(errno, "cannot cut %s at byte %" PRIu64, s->file,
                          s->cut);
    }
    if (rc == 0) {
        rc = quarantine_note(run, s->partition, s->seg->base);
    }
    if (rc < 0) {
        report_failure(run, s->partition, s->file, rc, "cut the segment");
        return;
    }
    cut_lost_offsets(s, &f);
    cut_describe(s, &f, lost, sizeof(lost));
    f.action = LOG_ACTION_CUT;
    f.bytes = len;
    f.quarantine = rel;
    report(run, &f, "at byte %" PRIu64 ", %" PRIu64 " bytes to %s; %s", s->cut,
           len, rel, lost);
    rebuild_index(s, dir, s->cut);
}

/* Repairs one scanned segment. Returns false when it left the chain. */
static bool repair_segment(struct seg_scan *s, const char *dir, bool index_bad)
{
    struct log_finding f;

    if (s->cut == UINT64_MAX) {
        if (index_bad) {
            rebuild_index(s, dir, s->seg->size);
        }
        return true;
    }
    if (s->prefix_batches > 0) {
        cut_segment(s, dir);
        return true;
    }
    /*
     * Not one good batch before the damage: keep none of the file, so
     * that no empty segment is left between others.
     */
    f = finding_at(s->cut_is_torn_tail ? LOG_SEVERITY_WARNING
                                       : LOG_SEVERITY_DAMAGE,
                   s->partition, s->file, 0);
    cut_lost_offsets(s, &f);
    quarantine_segment(s->run, s->partition, dir, s->seg, f);
    return false;
}

static void scan_free(struct seg_scan *s)
{
    log_index_free(&s->rebuilt);
    log_index_free(&s->stored);
    if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
}

/*
 * Scans one segment of the chain. Returns 0 (damage goes to findings) or
 * the error that kept it from being read.
 */
static int scan_segment(struct seg_scan *s, const char *dir)
{
    char path[PATH_MAX];
    struct log_scan scan = {0};
    int rc = path_join(path, sizeof(path), dir, s->seg->name);

    if (rc < 0) {
        return rc;
    }
    s->fd = open(path, (s->run->act ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (s->fd < 0) {
        return tw_err_errno(errno, "cannot open %s", path);
    }
    index_load(s, dir);

    scan.fd = s->fd;
    scan.file_size = s->seg->size;
    scan.start_position = LOG_SEGMENT_HEADER_SIZE;
    scan.expected_offset = s->seg->base;
    scan.max_batch_bytes = LOG_BATCH_MAX_BYTES;
    scan.on_batch = scan_on_batch;
    scan.on_damage = scan_on_damage;
    scan.ctx = s;
    rc = log_segment_scan(&scan);
    if (rc < 0) {
        return rc;
    }
    scan_flush_pending(s, 0, false);
    scan_report_overlap(s);
    if (s->error != 0) {
        return s->error;
    }
    index_verdict(s);
    return 0;
}

static void scan_init(struct seg_scan *s, struct check_run *run,
                      uint32_t partition, const struct seg_file *seg)
{
    memset(s, 0, sizeof(*s));
    s->run = run;
    s->partition = partition;
    s->seg = seg;
    s->fd = -1;
    s->next_base = UINT64_MAX;
    s->expected = seg->base;
    s->cut = UINT64_MAX;
    s->overlap_pos = UINT64_MAX;
    s->prefix_end = seg->base;
    s->max_end = seg->base;
    log_index_init(&s->rebuilt);
    log_index_init(&s->stored);
    snprintf(s->file, sizeof(s->file), "p%03u/%s", partition, seg->name);
}

/* ---------------------------------------------------------- partitions -- */

/* What the walk of one partition learned, across its segments. */
struct part_state {
    uint32_t id;
    char dir[PATH_MAX];
    uint64_t prev_base; /* previous segment of the chain */
    uint64_t prev_end;  /* offset after what it accounts for */
    bool have_prev;
    uint64_t known_end; /* highest offset known to have existed, + 1 */
    uint64_t end;       /* offset after the chain's last record now */
};

/*
 * Writes down, in quarantine/, offsets lost before repair ran, named after
 * the segment before the gap so that quarantine_load finds it next time.
 * Nothing can bring the offsets back; the note is what tells a later
 * check that the loss is known.
 */
static void gap_record(struct check_run *run, struct part_state *ps,
                       struct log_finding *f)
{
    char seg[LOG_SEGMENT_NAME_MAX];
    char rel[CHECK_REL_MAX];
    char path[PATH_MAX];
    char text[256];
    int len;
    int fd = -1;
    int rc = run->act ? quarantine_open_dir(run) : 0;

    log_segment_name(seg, ps->prev_base, "seg");
    snprintf(rel, sizeof(rel), "quarantine/p%03u-%s-gap.lost", ps->id, seg);
    len = snprintf(text, sizeof(text),
                   "partition %u: offsets %" PRIu64 "..%" PRIu64
                   " were missing from the log when repair ran at %" PRIu64
                   " ms since the epoch; no bytes of them were found\n",
                   ps->id, f->first_offset, f->last_offset, tw_now_ms());
    if (rc == 0) {
        rc = path_join(path, sizeof(path), run->path, rel);
    }
    if (rc == 0 && run->act) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || io_pwrite_all(fd, text, (size_t)len, 0) < 0 ||
            io_fsync(fd) < 0) {
            rc = tw_err_errno(errno, "cannot write %s", path);
        }
        if (fd >= 0) {
            close(fd);
        }
        snprintf(path, sizeof(path), "%s/quarantine", run->path);
        if (rc == 0 && io_fsync_dir(path) < 0) {
            rc = tw_err_errno(errno, "cannot sync %s", path);
        }
    }
    if (rc == 0) {
        rc = quarantine_note(run, ps->id, ps->prev_base);
    }
    if (rc < 0) {
        report_failure(run, ps->id, f->file, rc, "record a gap");
        return;
    }
    f->action = LOG_ACTION_RECORDED;
    f->quarantine = rel;
    report(run, f,
           "offsets before this segment are missing from the log and "
           "cannot be recovered; the loss is recorded");
}

/*
 * Reports offsets missing between the previous segment of the chain and
 * this one, unless a segment left out of the chain (already reported)
 * lies between them.
 */
static void check_gap(struct check_run *run, struct part_state *ps,
                      const struct seg_scan *s, bool skipped)
{
    struct log_finding f = finding_at(LOG_SEVERITY_WARNING, ps->id, s->file,
                                      LOG_FINDING_NO_POSITION);
    bool explained;

    if (!ps->have_prev || s->seg->base <= ps->prev_end || skipped) {
        return;
    }
    explained = quarantine_explains(run, ps->id, ps->prev_base, s->seg->base);
    if (explained && run->repair) {
        return; /* the cut that made it was just reported */
    }
    finding_offsets(&f, ps->prev_end, s->seg->base - 1);
    if (explained) {
        f.severity = LOG_SEVERITY_INFO;
        report(run, &f,
               "offsets before this segment were cut out by an "
               "earlier repair (see quarantine/)");
        return;
    }
    if (run->repair) {
        gap_record(run, ps, &f);
        return;
    }
    report(run, &f, "offsets before this segment are missing from the log");
}

/* The offset after what a scanned segment accounts for. */
static uint64_t scan_accounted_end(const struct seg_scan *s, bool kept)
{
    if (s->run->repair) {
        if (!kept) {
            return s->seg->base;
        }
        return s->prefix_batches > 0 ? s->prefix_end : s->seg->base;
    }
    /* Damage at a closed segment's end is reported up to the next one. */
    if (s->cut != UINT64_MAX && !s->last && s->next_base != UINT64_MAX) {
        return s->next_base > s->max_end ? s->next_base : s->max_end;
    }
    return s->max_end;
}

/* Starts an empty segment at base, so no offset below it is reused. */
static void start_empty_segment(struct check_run *run, struct part_state *ps,
                                uint64_t base)
{
    struct log_segment_header hdr = {
        .version = LOG_SEGMENT_VERSION,
        .partition = ps->id,
        .base_offset = base,
        .created_ms = tw_now_ms(),
    };
    uint8_t buf[LOG_SEGMENT_HEADER_SIZE];
    char name[LOG_SEGMENT_NAME_MAX];
    char path[PATH_MAX];
    char file[CHECK_REL_MAX];
    struct log_finding f;
    int fd;
    int rc = 0;

    log_segment_name(name, base, "seg");
    snprintf(file, sizeof(file), "p%03u/%s", ps->id, name);
    log_segment_header_encode(buf, &hdr);
    fd = -1;
    if (path_join(path, sizeof(path), ps->dir, name) == 0 && run->act) {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (!run->act) {
        rc = 0;
    } else if (fd < 0 || io_pwrite_all(fd, buf, sizeof(buf), 0) < 0 ||
               io_fsync(fd) < 0 || io_fsync_dir(ps->dir) < 0) {
        rc = tw_err_errno(errno, "cannot create %s", path);
    }
    if (fd >= 0) {
        close(fd);
        if (rc < 0) {
            unlink(path); /* ours, half made */
        }
    }
    if (rc < 0) {
        report_failure(run, ps->id, file, rc, "start an empty segment");
        return;
    }
    f = finding_at(LOG_SEVERITY_WARNING, ps->id, file, 0);
    f.action = LOG_ACTION_CREATED;
    finding_offsets(&f, ps->end, base - 1);
    report(run, &f,
           "empty segment at offset %" PRIu64 ", so that the offsets cut "
           "out are never given to new records",
           base);
    ps->end = base;
}

/* Judges (and in repair mode mends) one scanned segment of the chain. */
static void chain_settle(struct check_run *run, struct part_state *ps,
                         struct seg_scan *s, struct seg_file *seg, bool skipped)
{
    bool index_bad;
    bool kept = true;

    check_gap(run, ps, s, skipped);
    index_bad = s->cut == UINT64_MAX && index_needs_rebuild(s);
    if (run->repair) {
        kept = repair_segment(s, ps->dir, index_bad);
    }
    seg->keep = kept;
    ps->prev_base = seg->base;
    ps->prev_end = scan_accounted_end(s, kept);
    ps->have_prev = true;
    if (s->max_end > ps->known_end) {
        ps->known_end = s->max_end;
    }
    if (kept) {
        ps->end = ps->prev_end;
    }
}

/* Scans (and in repair mode mends) the chain's segments in order. */
static int scan_chain(struct check_run *run, struct part_state *ps,
                      struct seg_list *list)
{
    struct seg_scan s;
    bool skipped = false;
    size_t next;
    int rc = 0;

    for (size_t i = 0; i < list->count && rc == 0; i = next) {
        struct seg_file *seg = &list->items[i];

        for (next = i + 1; next < list->count && !list->items[next].keep;
             next++) {
        }
        if (!seg->keep) {
            skipped = true;
            continue;
        }
        scan_init(&s, run, ps->id, seg);
        s.next_base = next < list->count ? list->items[next].base : UINT64_MAX;
        s.last = next >= list->count;

        rc = scan_segment(&s, ps->dir);
        if (rc == TW_ENOENT && s.fd < 0) {
            /* Retention removed it since the listing (a live log). */
            seg->keep = false;
            rc = 0;
        } else if (rc == 0) {
            chain_settle(run, ps, &s, seg, skipped);
            skipped = false;
        }
        scan_free(&s);
    }
    return rc;
}

/*
 * Gives the chain's newest segment a good index before an empty segment
 * is started after it, since it is about to become a closed segment.
 */
static void index_newest_for_close(struct check_run *run, struct part_state *ps,
                                   struct seg_list *list)
{
    struct seg_file *newest = NULL;
    struct log_check_summary saved = run->sum;
    log_finding_cb cb = run->cb;
    struct seg_scan s;
    char path[PATH_MAX];
    int rc;

    for (size_t i = list->count; i > 0 && newest == NULL; i--) {
        if (list->items[i - 1].keep) {
            newest = &list->items[i - 1];
        }
    }
    if (newest == NULL) {
        return;
    }
    if (path_join(path, sizeof(path), ps->dir, newest->name) < 0) {
        return;
    }
    newest->size = file_size_of(path);

    /* A second look at a segment already reported on: count nothing. */
    scan_init(&s, run, ps->id, newest);
    run->cb = NULL;
    rc = scan_segment(&s, ps->dir);
    run->cb = cb;
    run->sum = saved;
    if (rc == 0 && s.cut == UINT64_MAX &&
        (s.index_status != 0 || s.index_problem[0] != '\0')) {
        rebuild_index(&s, ps->dir, newest->size);
    }
    scan_free(&s);
}

/* Stray names in a partition directory, after the segments are settled. */
static void check_partition_strays(struct check_run *run, struct part_state *ps)
{
    DIR *d = opendir(ps->dir);
    struct dirent *e;

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char file[CHECK_REL_MAX];
        char path[PATH_MAX];
        uint64_t base;
        struct log_finding f;
        bool orphan = false;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            log_segment_parse_name(e->d_name, &base)) {
            continue;
        }
        snprintf(file, sizeof(file), "p%03u/%s", ps->id, e->d_name);
        f = finding_at(LOG_SEVERITY_WARNING, ps->id, file,
                       LOG_FINDING_NO_POSITION);
        if (parse_index_name(e->d_name, &base)) {
            char seg[LOG_SEGMENT_NAME_MAX];

            log_segment_name(seg, base, "seg");
            if (path_join(path, sizeof(path), ps->dir, seg) < 0 ||
                access(path, F_OK) == 0) {
                continue;
            }
            orphan = true;
        }
        f.bytes = path_join(path, sizeof(path), ps->dir, e->d_name) == 0
                      ? file_size_of(path)
                      : 0;
        if (!orphan && !has_suffix(e->d_name, ".tmp")) {
            report(run, &f, "name is no part of the log; left alone");
            continue;
        }
        report(run, &f,
               orphan ? "index without its segment"
                      : "temporary file left by a crash");
        if (run->repair) {
            int rc = remove_leftover(run, ps->dir, e->d_name);

            if (rc < 0) {
                report_failure(run, ps->id, file, rc, "remove the file");
                continue;
            }
            f.action = LOG_ACTION_REMOVED;
            report(run, &f, "%" PRIu64 " bytes, no records", f.bytes);
        }
    }
    closedir(d);
}

/* A partition directory that is not there: its records are gone. */
static void partition_dir_missing(struct check_run *run, uint32_t id,
                                  const char *dir)
{
    char file[8];
    struct log_finding f;

    snprintf(file, sizeof(file), "p%03u", id);
    f = finding_at(LOG_SEVERITY_DAMAGE, id, file, LOG_FINDING_NO_POSITION);
    report(run, &f, "partition directory missing: its records are gone");
    if (!run->repair) {
        return;
    }
    if (run->act && (mkdir(dir, 0755) < 0 || io_fsync_dir(run->path) < 0)) {
        report_failure(run, id, file,
                       tw_err_errno(errno, "cannot create %s", dir),
                       "create the partition directory");
        return;
    }
    f.action = LOG_ACTION_CREATED;
    report(run, &f,
           "empty partition directory; the partition starts again at "
           "offset 0");
}

static int check_partition(struct check_run *run, uint32_t id)
{
    struct part_state ps = {.id = id};
    struct seg_list list = {0};
    struct stat st;
    int rc;

    snprintf(ps.dir, sizeof(ps.dir), "%s/p%03u", run->path, id);
    if (stat(ps.dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        partition_dir_missing(run, id, ps.dir);
        return 0;
    }

    rc = list_segments(ps.dir, &list);
    for (size_t i = 0; rc == 0 && i < list.count; i++) {
        run->sum.segments++;
        run->sum.bytes += list.items[i].size;
        check_header(run, id, ps.dir, &list.items[i], i + 1 == list.count);
        if (list.items[i].base > ps.known_end) {
            ps.known_end = list.items[i].base;
        }
    }
    if (rc == 0) {
        rc = scan_chain(run, &ps, &list);
    }
    if (rc == 0 && run->repair && ps.known_end > ps.end) {
        index_newest_for_close(run, &ps, &list);
        start_empty_segment(run, &ps, ps.known_end);
    }
    /* Check judges cursors against all the data holds, repair against
     * where the partition ends now. */
    run->ends[id] =
        run->repair || ps.end > ps.known_end ? ps.end : ps.known_end;
    if (rc == 0) {
        check_partition_strays(run, &ps);
    }
    free(list.items);
    return rc;
}

/* ------------------------------------------------------------- cursors -- */

enum slot_state {
    SLOT_EMPTY, /* never written: beyond the file or all zero */
    SLOT_VALID,
    SLOT_TORN,    /* partly present */
    SLOT_DAMAGED, /* fails its checks */
    SLOT_NEWER,   /* written by a newer version */
};

static enum slot_state slot_read(const uint8_t *file, size_t len, int k,
                                 struct log_cursor_slot *slot)
{
    size_t at = (size_t)k * LOG_CURSOR_SLOT_SIZE;
    const uint8_t *p = file + at;
    size_t have;
    bool zero = true;
    int rc;

    if (len <= at) {
        return SLOT_EMPTY;
    }
    have = len - at < LOG_CURSOR_SLOT_SIZE ? len - at : LOG_CURSOR_SLOT_SIZE;
    for (size_t i = 0; i < have && zero; i++) {
        zero = p[i] == 0;
    }
    if (zero) {
        return SLOT_EMPTY;
    }
    if (have < LOG_CURSOR_SLOT_SIZE) {
        return SLOT_TORN;
    }
    rc = log_cursor_slot_decode(p, slot);
    if (rc == TW_EVERSION) {
        return SLOT_NEWER;
    }
    return rc == 0 ? SLOT_VALID : SLOT_DAMAGED;
}

static const char *slot_state_text(enum slot_state state)
{
    switch (state) {
    case SLOT_TORN:
        return "torn (cut short)";
    case SLOT_DAMAGED:
        return "damaged (magic or checksum wrong)";
    case SLOT_NEWER:
        return "written by a newer format version";
    default:
        return "fine";
    }
}

struct cursor_file {
    const char *name; /* the cursor's name */
    char file[CHECK_REL_MAX];
    char path[PATH_MAX];
    int fd;
    struct log_cursor_slot slots[2];
    enum slot_state state[2];
    int winner; /* slot index, or -1 */
    bool act;   /* write repairs */
};

/* Writes slot content into the slot not in use, with the next seq. */
static int cursor_write(struct cursor_file *c, struct log_cursor_slot *next)
{
    uint8_t *buf = calloc(1, LOG_CURSOR_SLOT_SIZE);
    int k;
    int rc = 0;

    if (buf == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for a cursor slot");
    }
    /* The engine writes sequence s into slot s % 2; never the winner's. */
    next->seq = c->slots[c->winner].seq + 1;
    k = (int)(next->seq % 2);
    if (k == c->winner) {
        k = 1 - k;
    }
    log_cursor_slot_encode(buf, next);
    if (c->act && (io_pwrite_all(c->fd, buf, LOG_CURSOR_SLOT_SIZE,
                                 (off_t)k * LOG_CURSOR_SLOT_SIZE) < 0 ||
                   io_fsync(c->fd) < 0)) {
        rc = tw_err_errno(errno, "cannot write %s", c->path);
    }
    free(buf);
    return rc;
}

/* Reports positions past their partition's end; clamps them in next. */
static uint32_t cursor_check_positions(struct check_run *run,
                                       struct cursor_file *c,
                                       struct log_cursor_slot *next)
{
    const struct log_cursor_slot *w = &c->slots[c->winner];
    uint32_t n =
        w->partitions < run->partitions ? w->partitions : run->partitions;
    uint32_t clamped = 0;

    *next = *w;
    next->partitions = run->partitions;
    for (uint32_t p = 0; p < n && p < LOG_MAX_PARTITIONS; p++) {
        struct log_finding f = finding_at(LOG_SEVERITY_WARNING, p, c->file,
                                          LOG_FINDING_NO_POSITION);

        if (w->offsets[p] == LOG_CURSOR_UNSET ||
            w->offsets[p] <= run->ends[p]) {
            continue;
        }
        finding_offsets(&f, run->ends[p], w->offsets[p] - 1);
        report(run, &f,
               "cursor %s is at offset %" PRIu64 ", past the partition's "
               "end %" PRIu64,
               c->name, w->offsets[p], run->ends[p]);
        next->offsets[p] = run->ends[p];
        clamped++;
    }
    if (w->partitions != run->partitions) {
        struct log_finding f =
            finding_at(LOG_SEVERITY_DAMAGE, LOG_FINDING_NO_PARTITION, c->file,
                       LOG_FINDING_NO_POSITION);

        /* The engine refuses to open a log with such a cursor. */
        report(run, &f,
               "cursor %s was written for %u partitions, the log "
               "has %u; the log does not open with it",
               c->name, w->partitions, run->partitions);
        for (uint32_t p = n; p < LOG_MAX_PARTITIONS; p++) {
            next->offsets[p] = LOG_CURSOR_UNSET;
        }
        clamped++;
    }
    return clamped;
}

static void cursor_repair(struct check_run *run, struct cursor_file *c,
                          struct log_cursor_slot *next, uint32_t clamped,
                          bool slot_bad)
{
    struct log_finding f =
        finding_at(LOG_SEVERITY_WARNING, LOG_FINDING_NO_PARTITION, c->file,
                   LOG_FINDING_NO_POSITION);
    int rc;

    if (clamped == 0 && !slot_bad) {
        return;
    }
    rc = cursor_write(c, next);
    if (rc < 0) {
        report_failure(run, LOG_FINDING_NO_PARTITION, c->file, rc,
                       "rewrite the cursor");
        return;
    }
    f.action = LOG_ACTION_CURSOR_REWRITTEN;
    if (clamped > 0) {
        report(run, &f,
               "cursor %s, seq %" PRIu64 ", for %u partitions, "
               "each position past its partition's end set to that end",
               c->name, next->seq, next->partitions);
    } else {
        report(run, &f, "cursor %s, seq %" PRIu64 ", over its damaged slot",
               c->name, next->seq);
    }
}

/* A cursor file without one valid slot. */
static void cursor_lost(struct check_run *run, struct cursor_file *c,
                        const char *file_name)
{
    struct log_finding f =
        finding_at(LOG_SEVERITY_DAMAGE, LOG_FINDING_NO_PARTITION, c->file,
                   LOG_FINDING_NO_POSITION);
    char rel[CHECK_REL_MAX];
    int rc;

    report(run, &f,
           "cursor %s has no valid slot (%s, %s): its positions "
           "are lost",
           c->name, slot_state_text(c->state[0]), slot_state_text(c->state[1]));
    if (!run->repair) {
        return;
    }
    rc = quarantine_move(run, LOG_FINDING_NO_PARTITION, "cursors", file_name,
                         rel, sizeof(rel));
    if (rc < 0) {
        report_failure(run, LOG_FINDING_NO_PARTITION, c->file, rc,
                       "move the cursor file to quarantine");
        return;
    }
    f.action = LOG_ACTION_QUARANTINED;
    f.quarantine = rel;
    report(run, &f,
           "cursor file to %s; its owner starts as if it had "
           "never committed",
           rel);
}

/*
 * A cursor file that never completed a commit: slot 0 (where the second
 * commit goes) holds nothing and no slot is valid. The engine reads it as
 * a cursor without positions, so nothing is lost. A first commit torn by
 * a crash is left in slot 1; repair removes such a file.
 */
static void cursor_never_committed(struct check_run *run, struct cursor_file *c,
                                   const char *dir, const char *file_name,
                                   uint64_t bytes)
{
    struct log_finding f =
        finding_at(LOG_SEVERITY_INFO, LOG_FINDING_NO_PARTITION, c->file,
                   LOG_FINDING_NO_POSITION);
    int rc;

    f.bytes = bytes;
    if (c->state[1] == SLOT_EMPTY) {
        report(run, &f, "cursor %s has never committed a position", c->name);
        return;
    }
    f.severity = LOG_SEVERITY_WARNING;
    f.position = LOG_CURSOR_SLOT_SIZE;
    report(run, &f,
           "cursor %s: its first commit was torn (slot 1 is %s); it has no "
           "position",
           c->name, slot_state_text(c->state[1]));
    if (!run->repair) {
        return;
    }
    rc = remove_leftover(run, dir, file_name);
    if (rc < 0) {
        report_failure(run, LOG_FINDING_NO_PARTITION, c->file, rc,
                       "remove the cursor file");
        return;
    }
    f.action = LOG_ACTION_REMOVED;
    report(run, &f, "no position is lost");
}

/* Reads both slots of c's file and picks the winner; the byte count. */
static ssize_t cursor_read_slots(struct cursor_file *c, uint8_t *buf)
{
    ssize_t len = pread(c->fd, buf, 2 * LOG_CURSOR_SLOT_SIZE, 0);

    for (int k = 0; k < 2 && len >= 0; k++) {
        c->state[k] = slot_read(buf, (size_t)len, k, &c->slots[k]);
        if (c->state[k] == SLOT_VALID &&
            (c->winner < 0 || c->slots[k].seq > c->slots[c->winner].seq)) {
            c->winner = k;
        }
    }
    return len;
}

/* Reports a damaged slot beside the winning one; true when there is one. */
static bool cursor_report_bad_slots(struct check_run *run,
                                    const struct cursor_file *c)
{
    bool bad = false;

    for (int k = 0; k < 2; k++) {
        struct log_finding f =
            finding_at(LOG_SEVERITY_WARNING, LOG_FINDING_NO_PARTITION, c->file,
                       (uint64_t)k * LOG_CURSOR_SLOT_SIZE);

        if (c->state[k] == SLOT_VALID || c->state[k] == SLOT_EMPTY) {
            continue;
        }
        bad = true;
        report(run, &f,
               "cursor %s: slot %d is %s; slot %d (seq %" PRIu64
               ") holds the position",
               c->name, k, slot_state_text(c->state[k]), c->winner,
               c->slots[c->winner].seq);
    }
    return bad;
}

static void check_cursor(struct check_run *run, const char *dir,
                         const char *file_name)
{
    struct cursor_file c = {.fd = -1, .winner = -1, .act = run->act};
    char name[LOG_CURSOR_NAME_MAX + 1];
    uint8_t *buf = calloc(2, LOG_CURSOR_SLOT_SIZE);
    struct log_cursor_slot next;
    uint32_t clamped;
    bool slot_bad;
    ssize_t len = -1;

    snprintf(name, sizeof(name), "%.*s", (int)(strlen(file_name) - 4),
             file_name);
    c.name = name;
    snprintf(c.file, sizeof(c.file), "cursors/%s", file_name);
    snprintf(c.path, sizeof(c.path), "%s/%s", dir, file_name);
    run->sum.cursors++;
    if (buf != NULL) {
        c.fd = open(c.path, (run->act ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    }
    if (c.fd >= 0) {
        len = cursor_read_slots(&c, buf);
    }
    if (len < 0) {
        struct log_finding f =
            finding_at(LOG_SEVERITY_DAMAGE, LOG_FINDING_NO_PARTITION, c.file,
                       LOG_FINDING_NO_POSITION);

        report(run, &f, "cursor file unreadable: %s", strerror(errno));
        run->unfixed++;
    } else if (c.winner < 0) {
        close(c.fd);
        c.fd = -1;
        if (c.state[0] == SLOT_EMPTY || (size_t)len < LOG_CURSOR_SLOT_SIZE) {
            cursor_never_committed(run, &c, dir, file_name, (uint64_t)len);
        } else {
            cursor_lost(run, &c, file_name);
        }
    } else {
        slot_bad = cursor_report_bad_slots(run, &c);
        clamped = cursor_check_positions(run, &c, &next);
        if (run->repair) {
            cursor_repair(run, &c, &next, clamped, slot_bad);
        }
    }
    if (c.fd >= 0) {
        close(c.fd);
    }
    free(buf);
}

static void check_cursors(struct check_run *run)
{
    char dir[PATH_MAX];
    DIR *d;
    struct dirent *e;

    snprintf(dir, sizeof(dir), "%s/cursors", run->path);
    d = opendir(dir);
    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char file[CHECK_REL_MAX];
        struct log_finding f;
        size_t len = strlen(e->d_name);

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (len > 4 && len - 4 <= LOG_CURSOR_NAME_MAX &&
            has_suffix(e->d_name, ".cur")) {
            char name[LOG_CURSOR_NAME_MAX + 1];

            memcpy(name, e->d_name, len - 4);
            name[len - 4] = '\0';
            if (log_cursor_name_valid(name)) {
                check_cursor(run, dir, e->d_name);
                continue;
            }
        }
        snprintf(file, sizeof(file), "cursors/%s", e->d_name);
        f = finding_at(LOG_SEVERITY_WARNING, LOG_FINDING_NO_PARTITION, file,
                       LOG_FINDING_NO_POSITION);
        if (!has_suffix(e->d_name, ".tmp")) {
            report(run, &f, "name is no part of the log; left alone");
            continue;
        }
        report(run, &f, "temporary file left by a crash");
        if (run->repair) {
            int rc = remove_leftover(run, dir, e->d_name);

            if (rc < 0) {
                report_failure(run, LOG_FINDING_NO_PARTITION, file, rc,
                               "remove the file");
                continue;
            }
            f.action = LOG_ACTION_REMOVED;
            report(run, &f, "it holds no commit");
        }
    }
    closedir(d);
}

/* ---------------------------------------------------------------- root -- */

static bool root_name_known(const struct check_run *run, const char *name)
{
    uint32_t p;

    if (strcmp(name, "LOG") == 0 || strcmp(name, "LOCK") == 0 ||
        strcmp(name, "cursors") == 0 || strcmp(name, "quarantine") == 0 ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        return true;
    }
    return parse_partition_dir(name, &p) && p < run->partitions;
}

static void check_root_strays(struct check_run *run)
{
    DIR *d = opendir(run->path);
    struct dirent *e;

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct log_finding f;

        if (root_name_known(run, e->d_name)) {
            continue;
        }
        f = finding_at(LOG_SEVERITY_WARNING, LOG_FINDING_NO_PARTITION,
                       e->d_name, LOG_FINDING_NO_POSITION);
        if (!has_suffix(e->d_name, ".tmp")) {
            report(run, &f, "name is no part of the log; left alone");
            continue;
        }
        report(run, &f, "temporary file left by a crash");
        if (run->repair) {
            int rc = remove_leftover(run, run->path, e->d_name);

            if (rc < 0) {
                report_failure(run, LOG_FINDING_NO_PARTITION, e->d_name, rc,
                               "remove the file");
                continue;
            }
            f.action = LOG_ACTION_REMOVED;
            report(run, &f, "it holds no data");
        }
    }
    closedir(d);
}

/* ---------------------------------------------------------------- runs -- */

static int run_walk(struct check_run *run)
{
    int rc = check_log_file(run);

    if (rc < 0) {
        return rc;
    }
    run->sum.partitions = run->partitions;
    rc = quarantine_load(run);
    for (uint32_t p = 0; rc == 0 && p < run->partitions; p++) {
        rc = check_partition(run, p);
    }
    if (rc < 0) {
        return rc;
    }
    check_cursors(run);
    check_root_strays(run);
    return 0;
}

static void run_init(struct check_run *run, const char *path,
                     const struct log_check_options *opts, log_finding_cb cb,
                     void *ctx, bool repair)
{
    memset(run, 0, sizeof(*run));
    run->path = path;
    run->interval = opts != NULL && opts->index_interval_bytes > 0
                        ? opts->index_interval_bytes
                        : LOG_CHECK_INDEX_INTERVAL_DEFAULT;
    run->cb = cb;
    run->ctx = ctx;
    run->repair = repair;
    run->act = repair && !(opts != NULL && opts->dry_run);
}

static void run_finish(struct check_run *run, struct log_check_summary *summary)
{
    if (summary != NULL) {
        *summary = run->sum;
    }
    free(run->buf);
    free(run->scratch);
    free(run->quarantined);
}

int log_check(const char *path, const struct log_check_options *opts,
              log_finding_cb cb, void *ctx, struct log_check_summary *summary)
{
    struct check_run run;
    int rc;

    run_init(&run, path, opts, cb, ctx, false);
    rc = run_walk(&run);
    if (rc == 0 && run.sum.findings[LOG_SEVERITY_DAMAGE] > 0) {
        rc = tw_err_set(TW_ECORRUPT,
                        "log %s: %" PRIu64 " damage findings; "
                        "see `trackway log repair`",
                        path, run.sum.findings[LOG_SEVERITY_DAMAGE]);
    }
    run_finish(&run, summary);
    return rc;
}

static int repair_walk(const char *path, const struct log_check_options *opts,
                       log_finding_cb cb, void *ctx,
                       struct log_check_summary *summary)
{
    struct check_run run;
    int rc;

    run_init(&run, path, opts, cb, ctx, true);
    if (run.act) {
        OBS_LOG(OBS_INFO, "log", "repair started", "path=%s", path);
    }
    rc = run_walk(&run);
    if (rc == 0 && run.error != 0) {
        rc = run.error;
    } else if (rc == 0 && run.unfixed > 0) {
        rc = tw_err_set(TW_ECORRUPT,
                        "log %s: %u problems repair cannot "
                        "fix; see the findings",
                        path, run.unfixed);
    }
    if (run.act) {
        OBS_LOG(OBS_INFO, "log", "repair finished",
                "path=%s actions=%u failed=%u", path, run.sum.actions,
                run.sum.failed_actions);
    }
    run_finish(&run, summary);
    return rc;
}

int log_repair(const char *path, const struct log_check_options *opts,
               log_finding_cb cb, void *ctx, struct log_check_summary *summary)
{
    char lock[PATH_MAX];
    int fd;
    int rc = path_join(lock, sizeof(lock), path, "LOCK");

    if (rc < 0) {
        return rc;
    }
    if (opts != NULL && opts->dry_run) {
        return repair_walk(path, opts, cb, ctx, summary);
    }
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return tw_err_errno(errno, "cannot open %s", lock);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        char pid[32];
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

        close(fd);
        pid[n > 0 ? n - (pid[n - 1] == '\n') : 0] = '\0';
        if (err == EWOULDBLOCK) {
            return tw_err_set(TW_EBUSY,
                              "a process (pid %s) holds the log "
                              "%s; stop it before repairing",
                              pid[0] ? pid : "unknown", path);
        }
        return tw_err_errno(err, "cannot lock %s", lock);
    }

    rc = repair_walk(path, opts, cb, ctx, summary);
    close(fd);
    return rc;
}
