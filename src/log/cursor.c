/* cursor.c - cursor files with two slots (format in cursor.h). */
#include "log/cursor.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "log/io.h"
#include "obs/logging.h"

static void put32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return le64toh(v);
}

void log_cursor_slot_encode(uint8_t *slot, const struct log_cursor_slot *in)
{
    uint16_t version = htole16(LOG_CURSOR_VERSION);

    memset(slot, 0, LOG_CURSOR_SLOT_SIZE);
    put32(slot, LOG_CURSOR_MAGIC);
    memcpy(slot + 4, &version, 2);
    put32(slot + 8, in->partitions);
    put64(slot + 16, in->seq);
    for (uint32_t i = 0; i < LOG_MAX_PARTITIONS; i++) {
        put64(slot + 24 + 8 * i, in->offsets[i]);
    }
    put64(slot + LOG_CURSOR_CHECKSUM_AT,
          XXH3_64bits(slot, LOG_CURSOR_CHECKSUM_AT));
}

int log_cursor_slot_decode(const uint8_t *slot, struct log_cursor_slot *out)
{
    uint16_t version;

    if (get32(slot) != LOG_CURSOR_MAGIC ||
        get64(slot + LOG_CURSOR_CHECKSUM_AT) !=
            XXH3_64bits(slot, LOG_CURSOR_CHECKSUM_AT)) {
        return TW_ECORRUPT;
    }
    memcpy(&version, slot + 4, 2);
    if (le16toh(version) > LOG_CURSOR_VERSION) {
        return TW_EVERSION;
    }
    out->partitions = get32(slot + 8);
    out->seq = get64(slot + 16);
    if (out->partitions == 0 || out->partitions > LOG_MAX_PARTITIONS) {
        return TW_ECORRUPT;
    }
    for (uint32_t i = 0; i < LOG_MAX_PARTITIONS; i++) {
        out->offsets[i] = get64(slot + 24 + 8 * i);
    }
    return 0;
}

bool log_cursor_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > LOG_CURSOR_NAME_MAX || name[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static void cursor_path(const struct log_cursors *cs, const char *name,
                        char *path, size_t size)
{
    snprintf(path, size, "%s/%s.cur", cs->dir, name);
}

/*
 * True when slot 0 holds nothing: the file is too short for it or it is
 * all zeros. Commits alternate from slot 1, so such a file has never
 * completed a second commit; with no valid slot at all, its first commit
 * failed or was cut by a crash, and the cursor was never committed.
 */
static bool cursor_never_committed(int fd)
{
    uint8_t slot[LOG_CURSOR_SLOT_SIZE];
    struct stat st;

    if (fstat(fd, &st) == 0 && st.st_size < (off_t)sizeof(slot)) {
        return true;
    }
    if (io_pread_all(fd, slot, sizeof(slot), 0) < 0) {
        return false;
    }
    for (size_t i = 0; i < sizeof(slot); i++) {
        if (slot[i] != 0) {
            return false;
        }
    }
    return true;
}

/* Reads both slots of an open cursor file into c. */
static int cursor_load(struct log_cursors *cs, struct log_cursor *c,
                       const char *path)
{
    uint8_t slot[LOG_CURSOR_SLOT_SIZE];
    struct log_cursor_slot best = {0};
    struct log_cursor_slot cur;
    bool found = false;

    for (int i = 0; i < 2; i++) {
        if (io_pread_all(c->fd, slot, sizeof(slot),
                         (off_t)i * LOG_CURSOR_SLOT_SIZE) < 0) {
            continue;
        }
        if (log_cursor_slot_decode(slot, &cur) < 0) {
            continue;
        }
        if (!found || cur.seq > best.seq) {
            best = cur;
            found = true;
        }
    }
    if (!found && cursor_never_committed(c->fd)) {
        /* Its offsets stay unset, as cursor_new made them. */
        c->seq = 0;
        return 0;
    }
    if (!found) {
        return tw_err_set(TW_ECORRUPT,
                          "cursor file %s has no valid slot; run "
                          "`trackway log check`",
                          path);
    }
    if (best.partitions != cs->partitions) {
        return tw_err_set(TW_ECORRUPT,
                          "cursor file %s is for %u partitions, the log "
                          "has %u",
                          path, best.partitions, cs->partitions);
    }
    c->seq = best.seq;
    memcpy(c->offsets, best.offsets, sizeof(c->offsets));
    return 0;
}

static struct log_cursor *cursor_new(const char *name)
{
    struct log_cursor *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->fd = -1;
    for (size_t i = 0; i < LOG_MAX_PARTITIONS; i++) {
        c->offsets[i] = LOG_CURSOR_UNSET;
    }
    return c;
}

static int cursors_add(struct log_cursors *cs, struct log_cursor *c)
{
    struct log_cursor **grown;

    if (cs->count >= LOG_MAX_CURSORS) {
        return tw_err_set(TW_EFULL, "a log holds at most %d cursors",
                          LOG_MAX_CURSORS);
    }
    grown = realloc(cs->items, (cs->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for cursor %s", c->name);
    }
    cs->items = grown;
    cs->items[cs->count++] = c;
    return 0;
}

static int cursor_open_file(struct log_cursors *cs, const char *name)
{
    char path[PATH_MAX];
    struct log_cursor *c = cursor_new(name);
    int rc;

    if (c == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for cursor %s", name);
    }
    cursor_path(cs, name, path, sizeof(path));
    c->fd = open(path, (cs->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (c->fd < 0) {
        rc = tw_err_errno(errno, "cannot open cursor file %s", path);
        goto fail;
    }
    rc = cursor_load(cs, c, path);
    if (rc < 0) {
        goto fail;
    }
    rc = cursors_add(cs, c);
    if (rc < 0) {
        goto fail;
    }
    return 0;

fail:
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c);
    return rc;
}

int log_cursors_open(struct log_cursors *cs, const char *dir,
                     uint32_t partitions, bool sync, bool read_only)
{
    DIR *d;
    struct dirent *e;
    int rc = 0;

    memset(cs, 0, sizeof(*cs));
    pthread_mutex_init(&cs->lock, NULL);
    snprintf(cs->dir, sizeof(cs->dir), "%s", dir);
    cs->partitions = partitions;
    cs->sync = sync;
    cs->read_only = read_only;

    if (!read_only && mkdir(dir, 0755) < 0 && errno != EEXIST) {
        return tw_err_errno(errno, "cannot create cursor directory %s", dir);
    }
    d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT && read_only) {
            return 0;
        }
        return tw_err_errno(errno, "cannot list cursor directory %s", dir);
    }
    while ((e = readdir(d)) != NULL && rc == 0) {
        char name[LOG_CURSOR_NAME_MAX + 1];
        size_t len = strlen(e->d_name);

        if (len <= 4 || len - 4 > LOG_CURSOR_NAME_MAX ||
            strcmp(e->d_name + len - 4, ".cur") != 0) {
            continue;
        }
        memcpy(name, e->d_name, len - 4);
        name[len - 4] = '\0';
        if (!log_cursor_name_valid(name)) {
            continue;
        }
        rc = cursor_open_file(cs, name);
    }
    closedir(d);
    if (rc < 0) {
        log_cursors_close(cs);
    }
    return rc;
}

void log_cursors_close(struct log_cursors *cs)
{
    for (size_t i = 0; i < cs->count; i++) {
        if (cs->items[i]->fd >= 0) {
            close(cs->items[i]->fd);
        }
        free(cs->items[i]);
    }
    free(cs->items);
    cs->items = NULL;
    cs->count = 0;
    pthread_mutex_destroy(&cs->lock);
}

static struct log_cursor *cursor_find(struct log_cursors *cs, const char *name)
{
    for (size_t i = 0; i < cs->count; i++) {
        if (strcmp(cs->items[i]->name, name) == 0) {
            return cs->items[i];
        }
    }
    return NULL;
}

/* Creates the file of a new cursor with both slots empty. */
static int cursor_create(struct log_cursors *cs, const char *name,
                         struct log_cursor **out)
{
    char path[PATH_MAX];
    struct log_cursor *c = cursor_new(name);
    int rc;

    if (c == NULL) {
        return tw_err_set(TW_ENOMEM, "no memory for cursor %s", name);
    }
    cursor_path(cs, name, path, sizeof(path));
    c->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (c->fd < 0) {
        rc = tw_err_errno(errno, "cannot create cursor file %s", path);
        goto fail;
    }
    if (io_ftruncate(c->fd, 2 * LOG_CURSOR_SLOT_SIZE) < 0) {
        rc = tw_err_errno(errno, "cannot size cursor file %s", path);
        goto fail;
    }
    if (cs->sync && io_fsync_dir(cs->dir) < 0) {
        rc = tw_err_errno(errno, "cannot sync cursor directory %s", cs->dir);
        goto fail;
    }
    rc = cursors_add(cs, c);
    if (rc < 0) {
        goto fail;
    }
    *out = c;
    return 0;

fail:
    if (c->fd >= 0) {
        close(c->fd);
        unlink(path);
    }
    free(c);
    return rc;
}

static int cursor_write(struct log_cursors *cs, struct log_cursor *c,
                        const uint64_t *offsets)
{
    uint8_t slot[LOG_CURSOR_SLOT_SIZE];
    struct log_cursor_slot s;
    uint64_t seq = c->seq + 1;

    s.partitions = cs->partitions;
    s.seq = seq;
    memcpy(s.offsets, offsets, sizeof(s.offsets));
    log_cursor_slot_encode(slot, &s);

    if (io_pwrite_all(c->fd, slot, sizeof(slot),
                      (off_t)(seq % 2) * LOG_CURSOR_SLOT_SIZE) < 0) {
        return tw_err_errno(errno, "cannot write cursor %s", c->name);
    }
    if (cs->sync && io_fdatasync(c->fd) < 0) {
        return tw_err_errno(errno, "cannot sync cursor %s", c->name);
    }
    c->seq = seq;
    memcpy(c->offsets, offsets, sizeof(c->offsets));
    return 0;
}

int log_cursors_commit(struct log_cursors *cs, const char *name,
                       uint32_t partition, uint64_t offset)
{
    uint64_t offsets[LOG_MAX_PARTITIONS];
    struct log_cursor *c;
    int rc;

    if (!log_cursor_name_valid(name)) {
        return tw_err_set(TW_EINVAL,
                          "invalid cursor name \"%s\": use 1 to %d of "
                          "[A-Za-z0-9._-], not starting with a dot",
                          name, LOG_CURSOR_NAME_MAX);
    }
    if (cs->read_only) {
        return tw_err_set(TW_EINVAL, "log is open read-only");
    }
    pthread_mutex_lock(&cs->lock);
    c = cursor_find(cs, name);
    if (c == NULL) {
        rc = cursor_create(cs, name, &c);
        if (rc < 0) {
            goto out;
        }
    }
    memcpy(offsets, c->offsets, sizeof(offsets));
    offsets[partition] = offset;
    rc = cursor_write(cs, c, offsets);
out:
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

int log_cursors_get(struct log_cursors *cs, const char *name,
                    uint32_t partition, uint64_t *offset)
{
    struct log_cursor *c;
    int rc = 0;

    pthread_mutex_lock(&cs->lock);
    c = cursor_find(cs, name);
    if (c == NULL || c->offsets[partition] == LOG_CURSOR_UNSET) {
        rc = tw_err_set(TW_ENOENT, "cursor %s has no position in partition %u",
                        name, partition);
    } else {
        *offset = c->offsets[partition];
    }
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

int log_cursors_delete(struct log_cursors *cs, const char *name)
{
    char path[PATH_MAX];
    int rc = TW_ENOENT;

    pthread_mutex_lock(&cs->lock);
    for (size_t i = 0; i < cs->count; i++) {
        struct log_cursor *c = cs->items[i];

        if (strcmp(c->name, name) != 0) {
            continue;
        }
        cursor_path(cs, name, path, sizeof(path));
        if (unlink(path) < 0) {
            rc = tw_err_errno(errno, "cannot remove cursor file %s", path);
            break;
        }
        if (cs->sync) {
            io_fsync_dir(cs->dir);
        }
        close(c->fd);
        free(c);
        cs->items[i] = cs->items[--cs->count];
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&cs->lock);
    if (rc == TW_ENOENT) {
        tw_err_set(rc, "no cursor named %s", name);
    }
    return rc;
}

int log_cursors_hold(struct log_cursors *cs, const char *name, bool hold)
{
    int rc = TW_ENOENT;

    pthread_mutex_lock(&cs->lock);
    for (size_t i = 0; i < cs->count; i++) {
        if (strcmp(cs->items[i]->name, name) == 0) {
            cs->items[i]->hold = hold;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&cs->lock);
    if (rc == TW_ENOENT) {
        tw_err_set(rc, "no cursor named %s: commit a position first", name);
    }
    return rc;
}

uint64_t log_cursors_min(struct log_cursors *cs, uint32_t partition, bool every,
                         char *slowest)
{
    uint64_t min = LOG_CURSOR_UNSET;

    pthread_mutex_lock(&cs->lock);
    for (size_t i = 0; i < cs->count; i++) {
        const struct log_cursor *c = cs->items[i];

        if ((every || c->hold) && c->offsets[partition] < min) {
            min = c->offsets[partition];
            if (slowest != NULL) {
                memcpy(slowest, c->name, sizeof(c->name));
            }
        }
    }
    pthread_mutex_unlock(&cs->lock);
    return min;
}

uint32_t log_cursors_clamp(struct log_cursors *cs, uint32_t partition,
                           uint64_t end)
{
    uint64_t offsets[LOG_MAX_PARTITIONS];
    uint32_t moved = 0;

    pthread_mutex_lock(&cs->lock);
    for (size_t i = 0; i < cs->count; i++) {
        struct log_cursor *c = cs->items[i];
        uint64_t was = c->offsets[partition];

        if (was == LOG_CURSOR_UNSET || was <= end) {
            continue;
        }
        OBS_LOG(OBS_WARN, "log", "cursor ahead of data moved back",
                "cursor=%s partition=%u from=%" PRIu64 " to=%" PRIu64, c->name,
                partition, was, end);
        memcpy(offsets, c->offsets, sizeof(offsets));
        offsets[partition] = end;
        if (cs->read_only) {
            c->offsets[partition] = end;
        } else if (cursor_write(cs, c, offsets) < 0) {
            OBS_LOG(OBS_ERROR, "log", "cannot move cursor back",
                    "cursor=%s "
                    "error=\"%s\"",
                    c->name, tw_err_message());
            continue;
        }
        moved++;
    }
    pthread_mutex_unlock(&cs->lock);
    return moved;
}
