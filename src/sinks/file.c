/*
 * file.c - the file sink: events as NDJSON files in a directory, rotated
 * by size and age, compressed with zstd once rotated if asked to.
 *
 * Layout. A sink owns the files of its prefix in its directory (sinks
 * with other prefixes may share the directory):
 *
 *   <dir>/events.lock                                   flock()ed by the sink
 *   <dir>/events-0000000005-20261204T023258.870Z.ndjson.zst   rotated, zstd
 *   <dir>/events-0000000006-20261204T033301.004Z.ndjson       rotated, plain
 *   <dir>/events-0000000007-20261204T043305.123Z.ndjson.active  being written
 *   <dir>/events-0000000007-20261204T043305.123Z.ndjson.zst.tmp compressing
 *          \____/ \________/ \__________________/
 *          prefix  sequence   UTC time of the file's first line
 *
 * Each file the sink starts takes the next sequence number (ten digits),
 * so names sort in the order the files were started, which is time order
 * even when the wall clock steps back; the time is for people and for
 * picking files by date. Every file is NDJSON: each event's JSON text,
 * then '\n'. A rotated file (*.ndjson, *.ndjson.zst) is complete and
 * never changes again: readers may take those in name order. The one
 * .active file grows a batch at a time.
 *
 * Writing: group commit. send() queues the batch and returns; the sink's
 * writer thread does the disk work. It takes every batch queued at once
 * (a group, at most max_in_flight), writes each at the end of the active
 * file with its own pwrite, in the order they were sent, and makes them
 * durable with one fdatasync; only then does it answer each SINK_OK, on
 * the writer thread, in send order. Batches sent while a sync runs wait
 * for the next group, so one sync's cost is shared by all of them, as
 * the log's group commit does (src/log/writer.c). A batch never
 * straddles two files: when rotation is due before a batch of the group,
 * the batches written so far are synced first, then the file rotates and
 * the group goes on in the new file (one sync per file touched).
 *
 * A failed write or sync (ENOSPC, EIO) fails every batch of the group
 * that is not yet durable: the file is cut back (ftruncate) to its size
 * before the first of them, so nothing of a failed batch stays visible,
 * and each is answered SINK_RETRY with the same reason; batches of the
 * group after a failed write are not tried. If even the cut fails, the
 * sink answers SINK_RETRY to every batch until a later cut works (the
 * writer tries before each batch, sink_file_tick once a second). A
 * batch that cannot be one NDJSON line per event or is over
 * max_batch_bytes is SINK_REJECTED without touching the file. The active
 * file is created (O_EXCL) by the first batch after a rotation, and the
 * directory is fsync'd before that batch is written, so the new name
 * survives a machine crash too.
 *
 * Rotation. Before a batch is written, the active file is rotated when it
 * holds a line and either the batch would take it past max_bytes or its
 * first line is max_age_ms old; sink_file_tick does the same when no
 * batch comes. Plain rotation renames X.ndjson.active to X.ndjson and
 * fsyncs the directory. With zstd, the active file is compressed into
 * X.ndjson.zst.tmp (one frame, with the content size and a checksum),
 * which is fsync'd and renamed to X.ndjson.zst; the directory is fsync'd,
 * X.ndjson.active removed and the directory fsync'd again. Once that
 * rename is made the active file is never written again. A rotation that
 * fails before its rename leaves the active file active and untouched,
 * and is tried again a second later by the sink's clock.
 *
 * Files are compressed when rotated rather than while written, so the
 * active file stays plain NDJSON that any tool can follow and recovery
 * can cut at a newline; the cost is that the batches queued behind a
 * rotation wait while the whole file is read and compressed
 * (docs/KNOWN_LIMITATIONS.md).
 *
 * Threads and locks. queue_lock guards the ring of sent batches between
 * send() and the writer; lock guards the files and is held by the writer
 * for a whole group and by sink_file_tick, which only tries it (a busy
 * writer checks rotation before every batch itself). Completions run
 * with neither held, so a done may send the next batch at once, and a
 * caller's own lock taken in done (the delivery runtime's) is never
 * nested inside the sink's. The ring has max_in_flight slots: a batch
 * holds an in-flight slot from send() until just before its done, and
 * leaves the ring when the writer takes it, so the ring never overflows.
 *
 * Recovery, when a sink opens its directory:
 *   1. X.ndjson.zst.tmp was being compressed when the process stopped:
 *      it is removed (X.ndjson.active is still there).
 *   2. X.ndjson.active beside a rotated X (X.ndjson or X.ndjson.zst) was
 *      rotated whole but not yet removed: it is removed. Nothing is lost,
 *      as the active file is not written after the rename.
 *   3. Every other active file is cut back to just after its last '\n':
 *      a crash in the middle of a write leaves a torn line there, which a
 *      reader must never take for an event. The bytes cut are counted
 *      and logged. A file left without a line is removed.
 *   4. The newest active file stays active, unless a rotated file has a
 *      higher sequence; any other active file is rotated now.
 *   5. Sequence numbers go on after the highest one found.
 * A crash in the middle of a write can leave the first lines of a batch
 * that was never SINK_OK (step 3 cuts only the torn line). The runtime
 * sends that batch again, so those events appear twice: delivery is at
 * least once, and each event carries its messageId for deduplication.
 */
#include "sinks/file.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "log/io.h"
#include "obs/logging.h"
#include "obs/ratelimit.h"
#include "sinks/counters.h"
#include "sinks/ndjson.h"

/* prefix, '-', ten digits, '-', the time, the longest suffix, NUL. */
#define FILE_NAME_MAX 128
#define FILE_SEQ_DIGITS 10
#define FILE_TIME_LEN 20 /* "20261204T043305.123Z" */
/* Paths are dir + '/' + a name: the directory may use the rest. */
#define FILE_DIR_MAX (PATH_MAX - FILE_NAME_MAX - 2)
/* A failed rotation waits this long (sink clock) before the next try. */
#define FILE_ROTATE_RETRY_MS 1000
/* The batch buffer keeps at most this much memory between batches. */
#define FILE_KEEP_BUFFER_BYTES (1u << 20)
#define FILE_SCAN_CHUNK (64u << 10)
#define FILE_WARN_INTERVAL_MS 10000

enum file_kind {
    FILE_ACTIVE = 0,
    FILE_PLAIN = 1,
    FILE_ZST = 2,
    FILE_TMP = 3,
};

static const char *const file_suffixes[] = {
    [FILE_ACTIVE] = ".ndjson.active",
    [FILE_PLAIN] = ".ndjson",
    [FILE_ZST] = ".ndjson.zst",
    [FILE_TMP] = ".ndjson.zst.tmp",
};

/* One of our files, as found in the directory. */
struct file_entry {
    uint64_t seq;
    int64_t created_ms;
    enum file_kind kind;
    char stem[FILE_NAME_MAX]; /* the name without its suffix */
};

/* A batch between send() and the writer. */
struct file_job {
    struct sink_batch batch; /* the caller's; valid until done runs */
    sink_done_cb done;
    void *ctx;
    uint64_t started_ns;
    int64_t now_ms; /* the sink's clock when it was sent */
};

enum file_item_state {
    FILE_ITEM_PENDING = 0, /* not looked at yet */
    FILE_ITEM_UNSYNCED,    /* written, waiting for its sync */
    FILE_ITEM_SETTLED,     /* its result is final */
};

/* A job in the group the writer is working on. */
struct file_item {
    struct file_job job;
    enum file_item_state state;
    struct sink_result result;
    uint64_t written; /* bytes it added to the active file */
};

/* The batches of a group written since the active file's last sync. */
struct file_run {
    uint64_t start; /* the file's size before the first of them */
    size_t count;
};

struct sink_file {
    struct sink base;
    char *name; /* owned; base.name points here */
    struct sink_file_options opts;
    char dir[PATH_MAX];
    char prefix[SINK_FILE_PREFIX_MAX + 1];
    int lock_fd;

    /* Sent batches waiting for the writer: a ring of max_in_flight. */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    struct file_job *queue;
    size_t queue_head;
    size_t queue_count;
    bool stopping;
    pthread_t writer;
    bool writer_running;
    struct file_item *group; /* the writer's: max_in_flight items */

    /* The files: held by the writer for a group, and by the tick. */
    pthread_mutex_t lock;
    int fd;                       /* the active file, -1 when none */
    char stem[FILE_NAME_MAX];     /* its name without ".ndjson.active" */
    uint64_t size;                /* its bytes of whole lines */
    int64_t created_ms;           /* when its first line was written */
    bool undo_pending;            /* bytes past size may still be there */
    uint64_t next_seq;            /* for the next file */
    int64_t rotate_not_before_ms; /* after a failed rotation */
    struct tw_buf text;           /* the NDJSON of the batch being sent */
    ZSTD_CCtx *zstd;              /* NULL unless compressing */
    void *zstd_in;
    size_t zstd_in_size;
    void *zstd_out;
    size_t zstd_out_size;

    struct sink_counters counters;
    _Atomic uint64_t rotations;
    _Atomic uint64_t rotation_failures;
    _Atomic uint64_t write_failures;
    _Atomic uint64_t undo_failures;
    _Atomic uint64_t active_bytes;
    _Atomic uint64_t syncs;
    _Atomic uint64_t batches_synced;
    struct sink_file_recovery recovery; /* written only while opening */
    struct obs_ratelimit warn_write;
    struct obs_ratelimit warn_rotate;
};

static const struct sink_ops file_ops;

static struct sink_file *file_of(struct sink *sink)
{
    assert(sink->ops == &file_ops);
    return (struct sink_file *)sink;
}

static int64_t file_now(const struct sink_file *fs)
{
    if (fs->opts.clock_ms != NULL) {
        return fs->opts.clock_ms(fs->opts.clock_ctx);
    }
    return tw_now_ms();
}

/* <dir>/<stem><the kind's suffix> into path (PATH_MAX bytes). */
static void file_path(const struct sink_file *fs, const char *stem,
                      enum file_kind kind, char *path)
{
    snprintf(path, PATH_MAX, "%s/%s%s", fs->dir, stem, file_suffixes[kind]);
}

/*
 * Replaces the thread's error message with one that names the sink, so a
 * failure to open says which destination it was about.
 */
static int file_name_error(int rc, const char *name)
{
    char message[512];

    snprintf(message, sizeof(message), "%s", tw_err_message());
    return tw_err_set(rc, "file sink %s: %s", name, message);
}

static void file_warn(struct sink_file *fs, struct obs_ratelimit *rl,
                      const char *msg, const char *error)
{
    uint64_t suppressed;

    if (obs_ratelimit_allow(rl, FILE_WARN_INTERVAL_MS, &suppressed)) {
        OBS_LOG(OBS_WARN, "sink", msg,
                "sink=%s dir=%s error=\"%s\" suppressed=%" PRIu64,
                fs->base.name, fs->dir, error, suppressed);
    }
}

/* ------------------------------------------------------------- names -- */

static void file_make_stem(const struct sink_file *fs, uint64_t seq,
                           int64_t created_ms, char *stem)
{
    time_t secs = (time_t)(created_ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(stem, FILE_NAME_MAX,
             "%s-%0*" PRIu64 "-%04d%02d%02dT%02d%02d%02d.%03dZ", fs->prefix,
             FILE_SEQ_DIGITS, seq, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(created_ms % 1000));
}

/* Reads exactly n decimal digits at text; false if any is not a digit. */
static bool file_digits(const char *text, int n, uint64_t *value)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(text[i] - '0');
    }
    *value = v;
    return true;
}

/* "20261204T043305.123Z" to milliseconds since the epoch. */
static bool file_parse_time(const char *t, int64_t *ms)
{
    uint64_t date;
    uint64_t clock;
    uint64_t milli;
    struct tm tm = {0};

    if (!file_digits(t, 8, &date) || t[8] != 'T' ||
        !file_digits(t + 9, 6, &clock) || t[15] != '.' ||
        !file_digits(t + 16, 3, &milli) || t[19] != 'Z') {
        return false;
    }
    tm.tm_year = (int)(date / 10000) - 1900;
    tm.tm_mon = (int)(date / 100 % 100) - 1;
    tm.tm_mday = (int)(date % 100);
    tm.tm_hour = (int)(clock / 10000);
    tm.tm_min = (int)(clock / 100 % 100);
    tm.tm_sec = (int)(clock % 100);
    *ms = (int64_t)timegm(&tm) * 1000 + (int64_t)milli;
    return true;
}

/* true when name is one of this sink's files; fills e. */
static bool file_parse_name(const struct sink_file *fs, const char *name,
                            struct file_entry *e)
{
    size_t plen = strlen(fs->prefix);
    size_t stem_len = plen + 1 + FILE_SEQ_DIGITS + 1 + FILE_TIME_LEN;
    const char *seq = name + plen + 1;
    const char *time = seq + FILE_SEQ_DIGITS + 1;

    if (strncmp(name, fs->prefix, plen) != 0 || name[plen] != '-' ||
        strlen(name) <= stem_len || stem_len >= FILE_NAME_MAX) {
        return false;
    }
    if (!file_digits(seq, FILE_SEQ_DIGITS, &e->seq) ||
        seq[FILE_SEQ_DIGITS] != '-' || !file_parse_time(time, &e->created_ms)) {
        return false;
    }
    for (int kind = 0; kind <= FILE_TMP; kind++) {
        if (strcmp(name + stem_len, file_suffixes[kind]) == 0) {
            e->kind = (enum file_kind)kind;
            memcpy(e->stem, name, stem_len);
            e->stem[stem_len] = '\0';
            return true;
        }
    }
    return false;
}

static bool file_prefix_ok(const char *prefix)
{
    size_t len = strlen(prefix);

    if (len == 0 || len > SINK_FILE_PREFIX_MAX || prefix[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = prefix[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------ the directory -- */

/* fsyncs the directory that holds path (for a name made or removed). */
static int file_sync_parent(const char *path)
{
    char parent[PATH_MAX];
    char *slash;

    snprintf(parent, sizeof(parent), "%s", path);
    slash = strrchr(parent, '/');
    if (slash == NULL) {
        return io_fsync_dir(".");
    }
    if (slash == parent) {
        return io_fsync_dir("/");
    }
    *slash = '\0';
    return io_fsync_dir(parent);
}

/* Like mkdir -p, syncing the parent of every directory it makes. */
static int file_mkdirs(const char *dir)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);
    struct stat st;

    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        char saved = path[i];

        if (saved != '/' && saved != '\0') {
            continue;
        }
        path[i] = '\0';
        if (mkdir(path, 0755) == 0) {
            if (file_sync_parent(path) < 0) {
                return -1;
            }
        } else if (errno != EEXIST) {
            return -1;
        }
        path[i] = saved;
    }
    if (stat(dir, &st) < 0) {
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* One sink per directory and prefix: a second writer would interleave. */
static int file_take_lock(struct sink_file *fs)
{
    char path[PATH_MAX];
    char pid[32];
    int fd;
    int len;

    snprintf(path, sizeof(path), "%s/%s.lock", fs->dir, fs->prefix);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return tw_err_errno(errno, "cannot open the lock file %s", path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int saved = errno;

        len = (int)pread(fd, pid, sizeof(pid) - 1, 0);
        pid[len > 0 ? len - (pid[len - 1] == '\n') : 0] = '\0';
        close(fd);
        if (saved == EWOULDBLOCK) {
            return tw_err_set(TW_EBUSY,
                              "%s is held by another file sink (pid %s); "
                              "give each destination its own directory "
                              "or prefix",
                              path, pid[0] ? pid : "unknown");
        }
        return tw_err_errno(saved, "cannot lock %s", path);
    }
    len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) == 0) {
        ssize_t ignored = pwrite(fd, pid, (size_t)len, 0);
        (void)ignored;
    }
    fs->lock_fd = fd;
    return 0;
}

static int file_compare_entries(const void *a, const void *b)
{
    const struct file_entry *x = a;
    const struct file_entry *y = b;

    if (x->seq != y->seq) {
        return x->seq < y->seq ? -1 : 1;
    }
    return (int)x->kind - (int)y->kind;
}

/* The sink's files in the directory, by sequence; the caller frees. */
static int file_list(struct sink_file *fs, struct file_entry **out,
                     size_t *count)
{
    DIR *d = opendir(fs->dir);
    struct file_entry *list = NULL;
    struct dirent *de;
    size_t n = 0;
    size_t cap = 0;

    if (d == NULL) {
        return tw_err_errno(errno, "cannot list %s", fs->dir);
    }
    while ((de = readdir(d)) != NULL) {
        struct file_entry e;

        if (!file_parse_name(fs, de->d_name, &e)) {
            continue;
        }
        if (n == cap) {
            size_t grown_cap = cap ? cap * 2 : 16;
            struct file_entry *grown =
                realloc(list, grown_cap * sizeof(*grown));

            if (grown == NULL) {
                closedir(d);
                free(list);
                return tw_err_set(TW_ENOMEM, "no memory to list %s", fs->dir);
            }
            list = grown;
            cap = grown_cap;
        }
        list[n++] = e;
    }
    closedir(d);
    if (n > 0) {
        qsort(list, n, sizeof(*list), file_compare_entries);
    }
    *out = list;
    *count = n;
    return 0;
}

static int file_remove(struct sink_file *fs, const char *stem,
                       enum file_kind kind)
{
    char path[PATH_MAX];

    file_path(fs, stem, kind, path);
    if (unlink(path) < 0 && errno != ENOENT) {
        return tw_err_errno(errno, "cannot remove %s", path);
    }
    return 0;
}

/* Logs (rate-limited) a directory sync that failed after a rename. */
static void file_sync_dir_or_warn(struct sink_file *fs)
{
    char error[256];

    if (io_fsync_dir(fs->dir) == 0) {
        return;
    }
    snprintf(error, sizeof(error), "cannot sync the directory: %s",
             strerror(errno));
    file_warn(fs, &fs->warn_rotate, "rotation not yet durable", error);
}

/* ---------------------------------------------------------- rotation -- */

/* Compresses size bytes of from into to as one zstd frame, then fsyncs. */
static int file_compress(struct sink_file *fs, const char *from, const char *to,
                         uint64_t size)
{
    uint64_t read_pos = 0;
    uint64_t write_pos = 0;
    int rc = 0;
    int in;
    int out;

    in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return tw_err_errno(errno, "cannot open %s to compress it", from);
    }
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = tw_err_errno(errno, "cannot create %s", to);
        goto close_in;
    }
    ZSTD_CCtx_reset(fs->zstd, ZSTD_reset_session_only);
    ZSTD_CCtx_setPledgedSrcSize(fs->zstd, size);

    for (;;) {
        uint64_t left_in = size - read_pos;
        size_t n =
            left_in < fs->zstd_in_size ? (size_t)left_in : fs->zstd_in_size;
        ZSTD_inBuffer in_buf = {fs->zstd_in, n, 0};
        ZSTD_EndDirective mode;
        bool finished;

        if (n > 0 && io_pread_all(in, fs->zstd_in, n, (off_t)read_pos) < 0) {
            rc = tw_err_errno(errno, "cannot read %s", from);
            goto close_out;
        }
        read_pos += n;
        mode = read_pos == size ? ZSTD_e_end : ZSTD_e_continue;
        do {
            ZSTD_outBuffer out_buf = {fs->zstd_out, fs->zstd_out_size, 0};
            size_t left =
                ZSTD_compressStream2(fs->zstd, &out_buf, &in_buf, mode);

            if (ZSTD_isError(left)) {
                rc = tw_err_set(TW_EIO, "cannot compress %s: %s", from,
                                ZSTD_getErrorName(left));
                goto close_out;
            }
            if (out_buf.pos > 0 && io_pwrite_all(out, fs->zstd_out, out_buf.pos,
                                                 (off_t)write_pos) < 0) {
                rc = tw_err_errno(errno, "cannot write %s", to);
                goto close_out;
            }
            write_pos += out_buf.pos;
            finished =
                mode == ZSTD_e_end ? left == 0 : in_buf.pos == in_buf.size;
        } while (!finished);
        if (mode == ZSTD_e_end) {
            break;
        }
    }
    if (io_fsync(out) < 0) {
        rc = tw_err_errno(errno, "cannot sync %s", to);
    }

close_out:
    if (close(out) < 0 && rc == 0) {
        rc = tw_err_errno(errno, "cannot close %s", to);
    }
close_in:
    close(in);
    return rc;
}

static int file_rotate_zstd(struct sink_file *fs, const char *stem,
                            uint64_t size)
{
    char active[PATH_MAX];
    char tmp[PATH_MAX];
    char done[PATH_MAX];
    int rc;

    file_path(fs, stem, FILE_ACTIVE, active);
    file_path(fs, stem, FILE_TMP, tmp);
    file_path(fs, stem, FILE_ZST, done);
    rc = file_compress(fs, active, tmp, size);
    if (rc == 0 && rename(tmp, done) < 0) {
        rc = tw_err_errno(errno, "cannot rename %s to %s", tmp, done);
    }
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }

    /* Committed: the active file is not written again; recovery removes
     * it if the unlink below does not last. */
    file_sync_dir_or_warn(fs);
    if (unlink(active) < 0) {
        char error[PATH_MAX + 64];

        snprintf(error, sizeof(error), "cannot remove %s: %s", active,
                 strerror(errno));
        file_warn(fs, &fs->warn_rotate, "rotated file left behind", error);
    }
    file_sync_dir_or_warn(fs);
    return 0;
}

/* Gives the active file stem (size bytes, all whole lines) its final name. */
static int file_rotate_stem(struct sink_file *fs, const char *stem,
                            uint64_t size)
{
    char active[PATH_MAX];
    char done[PATH_MAX];

    if (fs->zstd != NULL) {
        return file_rotate_zstd(fs, stem, size);
    }
    file_path(fs, stem, FILE_ACTIVE, active);
    file_path(fs, stem, FILE_PLAIN, done);
    if (rename(active, done) < 0) {
        return tw_err_errno(errno, "cannot rename %s to %s", active, done);
    }
    file_sync_dir_or_warn(fs);
    return 0;
}

/* Rotates the active file; when that fails it stays active, unchanged. */
static int file_rotate_active(struct sink_file *fs, int64_t now)
{
    uint64_t size = fs->size;
    int rc = file_rotate_stem(fs, fs->stem, size);

    if (rc < 0) {
        atomic_fetch_add(&fs->rotation_failures, 1);
        fs->rotate_not_before_ms = now + FILE_ROTATE_RETRY_MS;
        file_warn(fs, &fs->warn_rotate,
                  "rotation failed; the active file stays active",
                  tw_err_message());
        return rc;
    }
    close(fs->fd);
    fs->fd = -1;
    fs->size = 0;
    atomic_store(&fs->active_bytes, 0);
    atomic_fetch_add(&fs->rotations, 1);
    OBS_LOG(OBS_DEBUG, "sink", "file rotated",
            "sink=%s file=%s%s bytes=%" PRIu64, fs->base.name, fs->stem,
            file_suffixes[fs->zstd != NULL ? FILE_ZST : FILE_PLAIN], size);
    return 0;
}

static bool file_rotation_due(const struct sink_file *fs, int64_t now,
                              uint64_t incoming)
{
    const struct sink_file_options *o = &fs->opts;
    bool by_size;
    bool by_age;

    if (fs->fd < 0 || fs->size == 0 || fs->undo_pending) {
        return false;
    }
    /* After a failure, wait; unless the clock stepped back past it. */
    if (now < fs->rotate_not_before_ms &&
        now >= fs->rotate_not_before_ms - FILE_ROTATE_RETRY_MS) {
        return false;
    }
    by_size = o->max_bytes > 0 &&
              (fs->size >= o->max_bytes || incoming > o->max_bytes - fs->size);
    /* A clock that stepped back past the file's time counts as aged, or
     * the file could stay active for as long as the step. */
    by_age = o->max_age_ms > 0 && (now - fs->created_ms >= o->max_age_ms ||
                                   fs->created_ms - now >= o->max_age_ms);
    return by_size || by_age;
}

/* ---------------------------------------------------------- recovery -- */

/*
 * Cuts the file at path back to just after its last '\n'. Returns the
 * size left in *size and the file, open for writing, in *fd_out.
 */
static int file_cut_torn(struct sink_file *fs, const char *path, int *fd_out,
                         uint64_t *size)
{
    uint64_t keep = 0;
    uint64_t end;
    uint64_t pos;
    struct stat st;
    char *chunk;
    int fd;

    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return tw_err_errno(errno, "cannot open %s", path);
    }
    chunk = malloc(FILE_SCAN_CHUNK);
    if (chunk == NULL || fstat(fd, &st) < 0) {
        int rc = chunk == NULL
                     ? tw_err_set(TW_ENOMEM, "no memory to scan %s", path)
                     : tw_err_errno(errno, "cannot stat %s", path);
        free(chunk);
        close(fd);
        return rc;
    }
    end = (uint64_t)st.st_size;
    for (pos = end; pos > 0 && keep == 0;) {
        size_t n = pos < FILE_SCAN_CHUNK ? (size_t)pos : FILE_SCAN_CHUNK;
        const char *nl;

        pos -= n;
        if (io_pread_all(fd, chunk, n, (off_t)pos) < 0) {
            int rc = tw_err_errno(errno, "cannot read %s", path);

            free(chunk);
            close(fd);
            return rc;
        }
        nl = memrchr(chunk, '\n', n);
        if (nl != NULL) {
            keep = pos + (uint64_t)(nl - chunk) + 1;
        }
    }
    free(chunk);

    if (keep < end) {
        if (io_ftruncate(fd, (off_t)keep) < 0 || io_fdatasync(fd) < 0) {
            int rc =
                tw_err_errno(errno, "cannot cut the torn line of %s", path);

            close(fd);
            return rc;
        }
        fs->recovery.tails_cut++;
        fs->recovery.bytes_cut += end - keep;
        OBS_LOG(OBS_WARN, "sink", "torn line cut from the active file",
                "sink=%s file=%s bytes=%" PRIu64 " kept=%" PRIu64,
                fs->base.name, path, end - keep, keep);
    }
    *fd_out = fd;
    *size = keep;
    return 0;
}

static bool file_has_rotated(const struct file_entry *list, size_t n, size_t i)
{
    for (size_t j = i; j > 0 && list[j - 1].seq == list[i].seq; j--) {
        if (list[j - 1].kind == FILE_PLAIN || list[j - 1].kind == FILE_ZST) {
            return true;
        }
    }
    for (size_t j = i + 1; j < n && list[j].seq == list[i].seq; j++) {
        if (list[j].kind == FILE_PLAIN || list[j].kind == FILE_ZST) {
            return true;
        }
    }
    return false;
}

/* The active file recovery keeps, while it looks at the others. */
struct file_keep {
    struct file_entry entry;
    int fd; /* -1: none */
    uint64_t size;
};

static int file_rotate_on_open(struct sink_file *fs, struct file_keep *k)
{
    int rc = file_rotate_stem(fs, k->entry.stem, k->size);

    close(k->fd);
    k->fd = -1;
    if (rc < 0) {
        return rc;
    }
    fs->recovery.files_rotated++;
    OBS_LOG(OBS_INFO, "sink", "older active file rotated",
            "sink=%s file=%s%s bytes=%" PRIu64, fs->base.name, k->entry.stem,
            file_suffixes[FILE_ACTIVE], k->size);
    return 0;
}

/* Steps 2 to 4 of the recovery rules for the active file list[i]. */
static int file_recover_active(struct sink_file *fs,
                               const struct file_entry *list, size_t n,
                               size_t i, struct file_keep *keep)
{
    const struct file_entry *e = &list[i];
    char path[PATH_MAX];
    uint64_t size = 0;
    int fd = -1;
    int rc;

    if (file_has_rotated(list, n, i)) {
        rc = file_remove(fs, e->stem, FILE_ACTIVE);
        if (rc == 0) {
            fs->recovery.leftovers_removed++;
            OBS_LOG(OBS_INFO, "sink", "active file already rotated removed",
                    "sink=%s file=%s%s", fs->base.name, e->stem,
                    file_suffixes[FILE_ACTIVE]);
        }
        return rc;
    }
    file_path(fs, e->stem, FILE_ACTIVE, path);
    rc = file_cut_torn(fs, path, &fd, &size);
    if (rc < 0) {
        return rc;
    }
    if (size == 0) {
        close(fd);
        rc = file_remove(fs, e->stem, FILE_ACTIVE);
        fs->recovery.empty_removed += rc == 0;
        return rc;
    }
    if (keep->fd >= 0) {
        rc = file_rotate_on_open(fs, keep);
        if (rc < 0) {
            close(fd);
            return rc;
        }
    }
    keep->entry = *e;
    keep->fd = fd;
    keep->size = size;
    return 0;
}

/* Applies the recovery rules at the top of this file. */
static int file_recover(struct sink_file *fs)
{
    struct file_keep keep = {.fd = -1};
    struct file_entry *list = NULL;
    uint64_t newest_rotated = 0;
    size_t n = 0;
    int rc = file_list(fs, &list, &n);

    if (rc < 0) {
        return rc;
    }
    fs->next_seq = 1;
    for (size_t i = 0; i < n; i++) {
        if (list[i].seq >= fs->next_seq) {
            fs->next_seq = list[i].seq + 1;
        }
        if (list[i].kind == FILE_PLAIN || list[i].kind == FILE_ZST) {
            newest_rotated = list[i].seq;
        }
    }

    for (size_t i = 0; i < n && rc == 0; i++) {
        if (list[i].kind == FILE_TMP) {
            rc = file_remove(fs, list[i].stem, FILE_TMP);
            fs->recovery.temporaries_removed += rc == 0;
        } else if (list[i].kind == FILE_ACTIVE) {
            rc = file_recover_active(fs, list, n, i, &keep);
        }
    }
    if (rc == 0 && keep.fd >= 0 && newest_rotated > keep.entry.seq) {
        rc = file_rotate_on_open(fs, &keep);
    }
    if (rc == 0 && io_fsync_dir(fs->dir) < 0) {
        rc = tw_err_errno(errno, "cannot sync directory %s", fs->dir);
    }
    free(list);
    if (rc < 0) {
        if (keep.fd >= 0) {
            close(keep.fd);
        }
        return rc;
    }

    if (keep.fd >= 0) {
        fs->fd = keep.fd;
        fs->size = keep.size;
        fs->created_ms = keep.entry.created_ms;
        memcpy(fs->stem, keep.entry.stem, sizeof(fs->stem));
        atomic_store(&fs->active_bytes, keep.size);
    }
    return 0;
}

/* ----------------------------------------------------------- writing -- */

/* Starts a new active file for the batch about to be written. */
static int file_open_active(struct sink_file *fs, int64_t now)
{
    int64_t created = now > 0 ? now : 0;
    char path[PATH_MAX];
    int fd;

    for (int attempt = 0;; attempt++) {
        file_make_stem(fs, fs->next_seq, created, fs->stem);
        file_path(fs, fs->stem, FILE_ACTIVE, path);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            break;
        }
        if (errno != EEXIST || attempt == 3) {
            return tw_err_errno(errno, "cannot create %s", path);
        }
        fs->next_seq++;
    }
    fs->next_seq++;

    /* The batch's fdatasync keeps its bytes; this keeps the name. */
    if (io_fsync_dir(fs->dir) < 0) {
        int rc = tw_err_errno(errno,
                              "cannot sync directory %s after "
                              "creating %s",
                              fs->dir, path);

        close(fd);
        unlink(path);
        return rc;
    }
    fs->fd = fd;
    fs->size = 0;
    fs->created_ms = created;
    return 0;
}

/* Cuts the active file back to its whole lines after a failed batch. */
static int file_cut_back(struct sink_file *fs, struct sink_result *result)
{
    char path[PATH_MAX];
    int err;

    if (io_ftruncate(fs->fd, (off_t)fs->size) == 0) {
        fs->undo_pending = false;
        return 0;
    }
    err = errno;
    fs->undo_pending = true;
    atomic_fetch_add(&fs->undo_failures, 1);
    file_path(fs, fs->stem, FILE_ACTIVE, path);
    if (result != NULL) {
        sink_result_set(result, SINK_RETRY,
                        "the bytes of an earlier failed batch could not be "
                        "cut from %s yet (%s); no batch is written until "
                        "they are",
                        path, strerror(err));
    }
    return -1;
}

/* The batch's NDJSON into fs->text; false with result set on failure. */
static bool file_build_text(struct sink_file *fs,
                            const struct sink_batch *batch,
                            struct sink_result *result)
{
    tw_buf_reset(&fs->text);
    for (size_t i = 0; i < batch->count; i++) {
        tw_buf_append(&fs->text, batch->events[i].data,
                      batch->events[i].data_len);
        tw_buf_putc(&fs->text, '\n');
    }
    if (tw_buf_status(&fs->text) < 0) {
        sink_result_set(result, SINK_RETRY,
                        "no memory for a batch of %zu events", batch->count);
        return false;
    }
    return true;
}

/* Gives back the memory of an unusually large batch. */
static void file_trim_buffer(struct sink_file *fs)
{
    if (fs->text.cap > FILE_KEEP_BUFFER_BYTES) {
        size_t max = fs->text.max;

        tw_buf_free(&fs->text);
        tw_buf_init(&fs->text, max);
    }
}

/*
 * Settles what needs no disk: an empty batch (SINK_OK), one that cannot
 * be NDJSON or is too large (SINK_REJECTED), one held back by a cut that
 * has not worked yet (SINK_RETRY). True when the batch is to be written;
 * *bytes is then its NDJSON size.
 */
static bool file_item_ready(struct sink_file *fs, struct file_item *it,
                            uint64_t *bytes)
{
    const struct sink_batch *batch = &it->job.batch;

    it->state = FILE_ITEM_SETTLED;
    if (batch->count == 0 || !sink_ndjson_check(batch, &it->result)) {
        return false;
    }
    *bytes = sink_ndjson_size(batch);
    if (*bytes > fs->opts.max_batch_bytes) {
        sink_result_set(&it->result, SINK_REJECTED,
                        "the batch is %" PRIu64 " bytes as NDJSON, more than "
                        "the file sink's max_batch_bytes (%zu)",
                        *bytes, fs->opts.max_batch_bytes);
        return false;
    }
    if (fs->undo_pending && file_cut_back(fs, &it->result) < 0) {
        return false;
    }
    it->state = FILE_ITEM_PENDING;
    return true;
}

/*
 * A write or sync failed with err: every batch of the group not yet
 * durable is answered SINK_RETRY, and the file is cut back to where the
 * first of them started.
 */
static void file_fail_group(struct sink_file *fs, struct file_item *items,
                            size_t n, struct file_run *run, const char *what,
                            int err)
{
    char path[PATH_MAX];
    uint64_t failed = 0;

    file_path(fs, fs->stem, FILE_ACTIVE, path);
    for (size_t i = 0; i < n; i++) {
        if (items[i].state != FILE_ITEM_SETTLED) {
            sink_result_set(&items[i].result, SINK_RETRY, "cannot %s %s: %s",
                            what, path, strerror(err));
            items[i].state = FILE_ITEM_SETTLED;
            items[i].written = 0;
            failed++;
        }
    }
    atomic_fetch_add(&fs->write_failures, failed);
    if (run->count > 0) {
        fs->size = run->start;
    }
    run->count = 0;
    fs->undo_pending = true;
    (void)file_cut_back(fs, NULL);
}

/* Makes the run durable: one fdatasync for all of its batches. */
static int file_sync_run(struct sink_file *fs, struct file_item *items,
                         size_t n, struct file_run *run)
{
    if (run->count == 0) {
        return 0;
    }
    atomic_fetch_add(&fs->syncs, 1);
    if (io_fdatasync(fs->fd) < 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].state == FILE_ITEM_UNSYNCED) {
            items[i].state = FILE_ITEM_SETTLED;
        }
    }
    atomic_fetch_add(&fs->batches_synced, run->count);
    atomic_store(&fs->active_bytes, fs->size);
    run->count = 0;
    return 0;
}

/* Appends one batch to the active file; -1 (errno) if the write failed. */
static int file_write_item(struct sink_file *fs, struct file_item *it,
                           struct file_run *run)
{
    if (!file_build_text(fs, &it->job.batch, &it->result)) {
        it->state = FILE_ITEM_SETTLED;
        return 0;
    }
    if (run->count == 0) {
        run->start = fs->size;
    }
    if (io_pwrite_all(fs->fd, fs->text.data, fs->text.len, (off_t)fs->size) <
        0) {
        return -1;
    }
    fs->size += fs->text.len;
    it->written = fs->text.len;
    it->state = FILE_ITEM_UNSYNCED;
    run->count++;
    return 0;
}

/*
 * Writes a group in order and syncs it, rotating between batches where
 * due; leaves every item settled. Holds the files' lock throughout.
 */
static void file_write_group(struct sink_file *fs, struct file_item *items,
                             size_t n)
{
    struct file_run run = {0};
    uint64_t bytes = 0;

    pthread_mutex_lock(&fs->lock);
    for (size_t i = 0; i < n; i++) {
        struct file_item *it = &items[i];

        if (!file_item_ready(fs, it, &bytes)) {
            continue;
        }
        if (file_rotation_due(fs, it->job.now_ms, bytes)) {
            /* What the old file got of the group is made durable first:
             * after a rotation the old file is never written again. */
            if (file_sync_run(fs, items, n, &run) < 0) {
                file_fail_group(fs, items, n, &run, "sync", errno);
                break;
            }
            (void)file_rotate_active(fs, it->job.now_ms);
        }
        if (fs->fd < 0 && file_open_active(fs, it->job.now_ms) < 0) {
            sink_result_set(&it->result, SINK_RETRY, "%s", tw_err_message());
            it->state = FILE_ITEM_SETTLED;
            continue;
        }
        if (file_write_item(fs, it, &run) < 0) {
            file_fail_group(fs, items, n, &run, "write", errno);
            break;
        }
    }
    if (file_sync_run(fs, items, n, &run) < 0) {
        file_fail_group(fs, items, n, &run, "sync", errno);
    }
    file_trim_buffer(fs);
    pthread_mutex_unlock(&fs->lock);
}

/* One rate-limited warning per group for its failed or refused batches. */
static void file_warn_group(struct sink_file *fs, const struct file_item *items,
                            size_t n)
{
    const struct file_item *first = NULL;
    char error[sizeof(items->result.detail) + 64];
    size_t failed = 0;

    for (size_t i = 0; i < n; i++) {
        if (items[i].result.outcome != SINK_OK) {
            first = first != NULL ? first : &items[i];
            failed++;
        }
    }
    if (first == NULL) {
        return;
    }
    snprintf(error, sizeof(error), "%zu of %zu batches: %s", failed, n,
             first->result.detail);
    file_warn(fs, &fs->warn_write,
              first->result.outcome == SINK_RETRY
                  ? "batches failed; they may be retried"
                  : "batches rejected",
              error);
}

/* Runs the group's completions, in send order, with no lock held. */
static void file_complete_group(struct sink_file *fs, struct file_item *items,
                                size_t n)
{
    file_warn_group(fs, items, n);
    for (size_t i = 0; i < n; i++) {
        struct file_item *it = &items[i];

        assert(it->state == FILE_ITEM_SETTLED);
        sink_counters_leave(&fs->counters, &it->result, it->job.batch.count,
                            it->written, it->job.started_ns);
        it->job.done(it->job.ctx, &it->result);
    }
}

/*
 * Waits for sent batches and moves all of them into fs->group. Returns
 * how many; 0 once the sink is stopping and nothing is left.
 */
static size_t file_take_group(struct sink_file *fs)
{
    size_t slots = fs->opts.max_in_flight;
    size_t n;

    pthread_mutex_lock(&fs->queue_lock);
    while (fs->queue_count == 0 && !fs->stopping) {
        pthread_cond_wait(&fs->queue_cond, &fs->queue_lock);
    }
    n = fs->queue_count;
    for (size_t i = 0; i < n; i++) {
        fs->group[i] = (struct file_item){
            .job = fs->queue[(fs->queue_head + i) % slots],
        };
        sink_result_init(&fs->group[i].result);
    }
    fs->queue_head = (fs->queue_head + n) % slots;
    fs->queue_count = 0;
    pthread_mutex_unlock(&fs->queue_lock);
    return n;
}

static void *file_writer_main(void *arg)
{
    struct sink_file *fs = arg;
    size_t n;

    while ((n = file_take_group(fs)) > 0) {
        file_write_group(fs, fs->group, n);
        file_complete_group(fs, fs->group, n);
    }
    return NULL;
}

/* Lets the writer finish every queued batch, then joins it. */
static void file_writer_stop(struct sink_file *fs)
{
    if (!fs->writer_running) {
        return;
    }
    /* A done that destroys its sink would wait for itself. */
    assert(!pthread_equal(pthread_self(), fs->writer));
    pthread_mutex_lock(&fs->queue_lock);
    fs->stopping = true;
    pthread_cond_signal(&fs->queue_cond);
    pthread_mutex_unlock(&fs->queue_lock);
    pthread_join(fs->writer, NULL);
    fs->writer_running = false;
}

/* --------------------------------------------------- the sink's ops -- */

static int file_send(struct sink *sink, const struct sink_batch *batch,
                     sink_done_cb done, void *ctx)
{
    struct sink_file *fs = file_of(sink);
    struct file_job job = {.started_ns = tw_monotonic_ns()};
    size_t slots = fs->opts.max_in_flight;

    if (batch == NULL || done == NULL ||
        (batch->count > 0 && batch->events == NULL)) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: send needs a batch and a completion",
                          sink->name);
    }
    if (!sink_counters_enter(&fs->counters)) {
        return tw_err_set(TW_EFULL,
                          "file sink %s: %u batches are in flight already",
                          sink->name, fs->opts.max_in_flight);
    }
    job.batch = *batch;
    job.done = done;
    job.ctx = ctx;
    job.now_ms = file_now(fs);

    pthread_mutex_lock(&fs->queue_lock);
    assert(fs->queue_count < slots);
    fs->queue[(fs->queue_head + fs->queue_count) % slots] = job;
    fs->queue_count++;
    pthread_cond_signal(&fs->queue_cond);
    pthread_mutex_unlock(&fs->queue_lock);
    return 0;
}

static void file_stats_op(struct sink *sink, struct sink_stats *stats)
{
    sink_counters_read(&file_of(sink)->counters, stats);
}

static void file_free(struct sink_file *fs)
{
    if (fs->fd >= 0) {
        close(fs->fd);
    }
    if (fs->lock_fd >= 0) {
        close(fs->lock_fd);
    }
    ZSTD_freeCCtx(fs->zstd);
    free(fs->zstd_in);
    free(fs->zstd_out);
    tw_buf_free(&fs->text);
    free(fs->queue);
    free(fs->group);
    pthread_cond_destroy(&fs->queue_cond);
    pthread_mutex_destroy(&fs->queue_lock);
    pthread_mutex_destroy(&fs->lock);
    free(fs->name);
    free(fs);
}

static void file_destroy(struct sink *sink)
{
    struct sink_file *fs = file_of(sink);

    file_writer_stop(fs);
    assert(atomic_load(&fs->counters.in_flight) == 0);
    file_free(fs);
}

static const struct sink_ops file_ops = {
    .type = "file",
    .send = file_send,
    .stats = file_stats_op,
    .destroy = file_destroy,
    .tick = sink_file_tick,
};

/* ------------------------------------------------------------ opening -- */

void sink_file_options_init(struct sink_file_options *opts, const char *dir)
{
    *opts = (struct sink_file_options){
        .dir = dir,
        .prefix = "events",
        .max_bytes = 64u << 20,
        .max_age_ms = 3600 * 1000,
        .compression = SINK_FILE_COMPRESSION_NONE,
        .zstd_level = 3,
        .max_in_flight = 4,
        .max_batch_bytes = 16u << 20,
    };
}

static int file_check_options(const struct sink_file_options *o,
                              const char *name)
{
    const char *prefix = o->prefix != NULL ? o->prefix : "events";

    if (o->dir == NULL || o->dir[0] == '\0') {
        return tw_err_set(TW_EINVAL, "file sink %s: no directory given", name);
    }
    if (strlen(o->dir) > FILE_DIR_MAX) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: the directory path is longer than "
                          "%d bytes",
                          name, FILE_DIR_MAX);
    }
    if (!file_prefix_ok(prefix)) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: prefix \"%s\" must be 1 to %d of "
                          "A-Z a-z 0-9 . _ - and not start with '.'",
                          name, prefix, SINK_FILE_PREFIX_MAX);
    }
    if (o->max_in_flight == 0 || o->max_in_flight > SINK_FILE_MAX_IN_FLIGHT ||
        o->max_batch_bytes == 0 || o->max_age_ms < 0) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: max_in_flight must be 1 to %d, "
                          "max_batch_bytes positive, max_age_ms not negative",
                          name, SINK_FILE_MAX_IN_FLIGHT);
    }
    if (o->compression != SINK_FILE_COMPRESSION_NONE &&
        o->compression != SINK_FILE_COMPRESSION_ZSTD) {
        return tw_err_set(TW_EINVAL, "file sink %s: unknown compression %d",
                          name, (int)o->compression);
    }
    if (o->compression == SINK_FILE_COMPRESSION_ZSTD &&
        (o->zstd_level < ZSTD_minCLevel() ||
         o->zstd_level > ZSTD_maxCLevel())) {
        return tw_err_set(TW_EINVAL,
                          "file sink %s: zstd_level %d is outside %d..%d", name,
                          o->zstd_level, ZSTD_minCLevel(), ZSTD_maxCLevel());
    }
    return 0;
}

static int file_zstd_init(struct sink_file *fs)
{
    fs->zstd = ZSTD_createCCtx();
    fs->zstd_in_size = ZSTD_CStreamInSize();
    fs->zstd_out_size = ZSTD_CStreamOutSize();
    fs->zstd_in = malloc(fs->zstd_in_size);
    fs->zstd_out = malloc(fs->zstd_out_size);
    if (fs->zstd == NULL || fs->zstd_in == NULL || fs->zstd_out == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for zstd");
    }
    /* The checksum lets `zstd -t` and readers verify a rotated file. */
    if (ZSTD_isError(ZSTD_CCtx_setParameter(fs->zstd, ZSTD_c_compressionLevel,
                                            fs->opts.zstd_level)) ||
        ZSTD_isError(
            ZSTD_CCtx_setParameter(fs->zstd, ZSTD_c_checksumFlag, 1))) {
        return tw_err_set(TW_EINVAL, "zstd refused level %d",
                          fs->opts.zstd_level);
    }
    return 0;
}

static int file_open_dir(struct sink_file *fs)
{
    int rc;

    if (fs->opts.compression == SINK_FILE_COMPRESSION_ZSTD) {
        rc = file_zstd_init(fs);
        if (rc < 0) {
            return rc;
        }
    }
    if (file_mkdirs(fs->dir) < 0) {
        return tw_err_errno(errno, "cannot create directory %s", fs->dir);
    }
    rc = file_take_lock(fs);
    if (rc < 0) {
        return rc;
    }
    return file_recover(fs);
}

static int file_writer_start(struct sink_file *fs)
{
    int rc;

    fs->queue = calloc(fs->opts.max_in_flight, sizeof(*fs->queue));
    fs->group = calloc(fs->opts.max_in_flight, sizeof(*fs->group));
    if (fs->queue == NULL || fs->group == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for %u batches in flight",
                          fs->opts.max_in_flight);
    }
    rc = pthread_create(&fs->writer, NULL, file_writer_main, fs);
    if (rc != 0) {
        return tw_err_errno(rc, "cannot start the writer thread");
    }
    pthread_setname_np(fs->writer, "tw-sink-file");
    fs->writer_running = true;
    return 0;
}

int sink_file_new(const struct sink_file_options *opts, const char *name,
                  struct sink **out)
{
    struct sink_file *fs;
    int rc;

    *out = NULL;
    if (opts == NULL || name == NULL) {
        return tw_err_set(TW_EINVAL, "file sink: options and a name needed");
    }
    rc = file_check_options(opts, name);
    if (rc < 0) {
        return rc;
    }
    fs = calloc(1, sizeof(*fs));
    if (fs == NULL || (fs->name = strdup(name)) == NULL) {
        free(fs);
        return tw_err_set(TW_ENOMEM, "file sink %s: no memory", name);
    }
    fs->base.ops = &file_ops;
    fs->base.name = fs->name;
    fs->opts = *opts;
    snprintf(fs->dir, sizeof(fs->dir), "%s", opts->dir);
    snprintf(fs->prefix, sizeof(fs->prefix), "%s",
             opts->prefix != NULL ? opts->prefix : "events");
    fs->opts.dir = fs->dir;
    fs->opts.prefix = fs->prefix;
    fs->fd = -1;
    fs->lock_fd = -1;
    pthread_mutex_init(&fs->lock, NULL);
    pthread_mutex_init(&fs->queue_lock, NULL);
    pthread_cond_init(&fs->queue_cond, NULL);
    tw_buf_init(&fs->text, opts->max_batch_bytes);
    sink_counters_init(&fs->counters, opts->max_in_flight);

    rc = file_open_dir(fs);
    if (rc == 0) {
        rc = file_writer_start(fs);
    }
    if (rc < 0) {
        rc = file_name_error(rc, name);
        file_free(fs);
        return rc;
    }
    OBS_LOG(OBS_INFO, "sink", "file sink opened",
            "sink=%s dir=%s active=%s%s bytes=%" PRIu64 " next_seq=%" PRIu64,
            name, fs->dir, fs->fd >= 0 ? fs->stem : "none",
            fs->fd >= 0 ? file_suffixes[FILE_ACTIVE] : "", fs->size,
            fs->next_seq);
    *out = &fs->base;
    return 0;
}

int sink_file_tick(struct sink *sink)
{
    struct sink_file *fs = file_of(sink);
    int64_t now = file_now(fs);
    int rc = 0;

    /* A writer at work checks rotation before each batch itself; the
     * runtime's thread that ticks should not wait behind its syncs. */
    if (pthread_mutex_trylock(&fs->lock) != 0) {
        return 0;
    }
    if (fs->undo_pending) {
        (void)file_cut_back(fs, NULL);
    }
    if (file_rotation_due(fs, now, 0)) {
        rc = file_rotate_active(fs, now);
    }
    pthread_mutex_unlock(&fs->lock);
    return rc;
}

void sink_file_stats(struct sink *sink, struct sink_file_stats *stats)
{
    struct sink_file *fs = file_of(sink);

    sink_counters_read(&fs->counters, &stats->sink);
    stats->rotations = atomic_load(&fs->rotations);
    stats->rotation_failures = atomic_load(&fs->rotation_failures);
    stats->write_failures = atomic_load(&fs->write_failures);
    stats->undo_failures = atomic_load(&fs->undo_failures);
    stats->active_bytes = atomic_load(&fs->active_bytes);
    stats->syncs = atomic_load(&fs->syncs);
    stats->batches_synced = atomic_load(&fs->batches_synced);
    stats->recovery = fs->recovery;
}
