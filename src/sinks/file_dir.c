/*
 * file_dir.c - the file sink's directory: the names of its files, its
 * lock, rotation (and compression) of the active file, and recovery of
 * what a crash left. The writer (file.c) calls in here with the files'
 * lock held.
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
#include "sinks/file_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/io.h"
#include "obs/logging.h"

#define FILE_SEQ_DIGITS 10
#define FILE_TIME_LEN 20 /* "20261204T043305.123Z" */
/* A failed rotation waits this long (sink clock) before the next try. */
#define FILE_ROTATE_RETRY_MS 1000
#define FILE_SCAN_CHUNK (64u << 10)

const char *const file_suffixes[] = {
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

/* ------------------------------------------------------------- names -- */

void file_make_stem(const struct sink_file *fs, uint64_t seq,
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

bool file_prefix_ok(const char *prefix)
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
int file_mkdirs(const char *dir)
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
int file_take_lock(struct sink_file *fs)
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
int file_rotate_active(struct sink_file *fs, int64_t now)
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

bool file_rotation_due(const struct sink_file *fs, int64_t now,
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
int file_recover(struct sink_file *fs)
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
