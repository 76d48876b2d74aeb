/* logtest.c - shared steps of the embedded log's behaviour tests. */
#include "support/logtest.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/segment.h"

void logtest_options(struct log_options *opts, const char *dir,
                     uint32_t partitions, enum log_durability durability)
{
    log_options_init(opts, dir);
    opts->partitions = partitions;
    opts->durability = durability;
    opts->retention_interval_ms = 0;
}

struct log *logtest_open(const struct log_options *opts,
                         struct log_recovery *report)
{
    struct log *log = NULL;
    int rc = log_embedded_open(opts, &log, report);

    cr_assert_eq(rc, 0, "opening the log at %s failed: %s", opts->path,
                 tw_err_message());
    cr_assert_not_null(log);
    return log;
}

uint64_t logtest_append(struct log *log, uint32_t partition,
                        const struct log_record *records, size_t count)
{
    uint64_t first = UINT64_MAX;
    int rc = log_append_wait(log, partition, records, count, &first);

    cr_assert_eq(rc, 0, "append of %zu records to partition %u failed: %s",
                 count, partition, tw_err_message());
    return first;
}

uint64_t logtest_append_one(struct log *log, uint32_t partition,
                            int64_t timestamp_ms, const char *key,
                            const char *value)
{
    struct log_record rec = {
        .timestamp_ms = timestamp_ms,
        .key = key,
        .key_len = (uint32_t)strlen(key),
        .value = value,
        .value_len = (uint32_t)strlen(value),
    };

    return logtest_append(log, partition, &rec, 1);
}

static uint8_t *copy_bytes(const void *data, uint32_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);

    cr_assert_not_null(copy);
    if (len > 0) {
        memcpy(copy, data, len);
    }
    return copy;
}

static void records_push(struct logtest_records *out,
                         const struct log_record *rec)
{
    struct logtest_record *r;

    if (out->count == out->capacity) {
        size_t cap = out->capacity ? out->capacity * 2 : 256;
        struct logtest_record *grown =
            realloc(out->items, cap * sizeof(*grown));

        cr_assert_not_null(grown);
        out->items = grown;
        out->capacity = cap;
    }
    r = &out->items[out->count++];
    r->offset = rec->offset;
    r->timestamp_ms = rec->timestamp_ms;
    r->key_len = rec->key_len;
    r->key = copy_bytes(rec->key, rec->key_len);
    r->value_len = rec->value_len;
    r->value = copy_bytes(rec->value, rec->value_len);
}

void logtest_read_all(struct log *log, uint32_t partition, uint64_t from,
                      struct logtest_records *out)
{
    struct log_reader *reader = NULL;
    struct log_record rec;
    uint64_t expect = from;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = log_reader_open(log, partition, from, &reader);
    cr_assert_eq(rc, 0,
                 "opening a reader of partition %u at %" PRIu64 " failed: %s",
                 partition, from, tw_err_message());
    while ((rc = log_reader_next(reader, &rec)) == 1) {
        cr_assert_eq(rec.offset, expect,
                     "partition %u: offset %" PRIu64 " where %" PRIu64
                     " was due",
                     partition, rec.offset, expect);
        records_push(out, &rec);
        expect++;
    }
    cr_assert_eq(rc, 0, "reading partition %u at %" PRIu64 " failed: %s",
                 partition, expect, tw_err_message());
    cr_assert_eq(log_reader_position(reader), expect);
    log_reader_close(reader);
}

void logtest_records_free(struct logtest_records *recs)
{
    for (size_t i = 0; i < recs->count; i++) {
        free(recs->items[i].key);
        free(recs->items[i].value);
    }
    free(recs->items);
    memset(recs, 0, sizeof(*recs));
}

void logtest_assert_same_records(const struct logtest_records *a,
                                 const struct logtest_records *b)
{
    cr_assert_eq(a->count, b->count, "%zu records against %zu", a->count,
                 b->count);
    for (size_t i = 0; i < a->count; i++) {
        const struct logtest_record *x = &a->items[i];
        const struct logtest_record *y = &b->items[i];

        cr_assert_eq(x->offset, y->offset, "record %zu: offset", i);
        cr_assert_eq(x->timestamp_ms, y->timestamp_ms, "record %zu: timestamp",
                     i);
        cr_assert_eq(x->key_len, y->key_len, "record %zu: key length", i);
        cr_assert_eq(memcmp(x->key, y->key, x->key_len), 0,
                     "record %zu: key bytes", i);
        cr_assert_eq(x->value_len, y->value_len, "record %zu: value length", i);
        cr_assert_eq(memcmp(x->value, y->value, x->value_len), 0,
                     "record %zu: value bytes", i);
    }
}

bool logtest_value_is(const struct logtest_record *rec, const char *text)
{
    size_t len = strlen(text);

    return rec->value_len == len && memcmp(rec->value, text, len) == 0;
}

void logtest_numbered_value(char *buf, size_t value_len, uint32_t partition,
                            uint64_t offset)
{
    int head =
        snprintf(buf, value_len + 1, "p%u-o%" PRIu64 "-", partition, offset);

    for (size_t i = (size_t)head; i < value_len; i++) {
        buf[i] = (char)('a' + (offset + i) % 26);
    }
    buf[value_len] = '\0';
}

#define NUMBERED_MAX_VALUE 4096
#define NUMBERED_MAX_BATCH 64

uint64_t logtest_append_numbered(struct log *log, uint32_t partition,
                                 uint64_t count, uint32_t batch,
                                 uint32_t value_len, int64_t ts_base,
                                 int64_t ts_step)
{
    static char values[NUMBERED_MAX_BATCH][NUMBERED_MAX_VALUE + 1];
    static char keys[NUMBERED_MAX_BATCH][4];
    struct log_record recs[NUMBERED_MAX_BATCH];
    struct log_partition_info info;
    uint64_t first;
    uint64_t done = 0;

    cr_assert(value_len >= 32 && value_len <= NUMBERED_MAX_VALUE);
    cr_assert(batch >= 1 && batch <= NUMBERED_MAX_BATCH);
    cr_assert_eq(log_partition_info(log, partition, &info), 0);
    first = info.end_offset;
    while (done < count) {
        uint32_t n = count - done < batch ? (uint32_t)(count - done) : batch;

        for (uint32_t r = 0; r < n; r++) {
            uint64_t off = first + done + r;

            logtest_numbered_value(values[r], value_len, partition, off);
            snprintf(keys[r], sizeof(keys[r]), "k%u", (unsigned)(off % 10));
            recs[r] = (struct log_record){
                .timestamp_ms = ts_base + (int64_t)off * ts_step,
                .key = keys[r],
                .key_len = 2,
                .value = values[r],
                .value_len = value_len,
            };
        }
        cr_assert_eq(logtest_append(log, partition, recs, n), first + done);
        done += n;
    }
    return first;
}

void logtest_assert_numbered(const struct logtest_record *rec,
                             uint32_t partition, uint32_t value_len,
                             int64_t ts_base, int64_t ts_step)
{
    char value[NUMBERED_MAX_VALUE + 1];
    char key[4];

    cr_assert_leq(value_len, NUMBERED_MAX_VALUE);
    logtest_numbered_value(value, value_len, partition, rec->offset);
    snprintf(key, sizeof(key), "k%u", (unsigned)(rec->offset % 10));
    cr_assert(logtest_value_is(rec, value),
              "offset %" PRIu64 " of "
              "partition %u does not hold its value",
              rec->offset, partition);
    cr_assert_eq(rec->key_len, 2);
    cr_assert_eq(memcmp(rec->key, key, 2), 0);
    cr_assert_eq(rec->timestamp_ms, ts_base + (int64_t)rec->offset * ts_step,
                 "offset %" PRIu64 ": timestamp", rec->offset);
}

void logtest_segment_path(char *path, size_t size, const char *dir,
                          uint32_t partition, uint64_t base, const char *ext)
{
    char name[LOG_SEGMENT_NAME_MAX];

    log_segment_name(name, base, ext);
    snprintf(path, size, "%s/p%03u/%s", dir, partition, name);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

size_t logtest_segment_bases(const char *dir, uint32_t partition,
                             uint64_t *bases, size_t max)
{
    char path[PATH_MAX];
    struct dirent *e;
    size_t n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "%s/p%03u", dir, partition);
    d = opendir(path);
    cr_assert_not_null(d, "cannot list %s: %s", path, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        uint64_t base;

        if (log_segment_parse_name(e->d_name, &base)) {
            if (n < max) {
                bases[n] = base;
            }
            n++;
        }
    }
    closedir(d);
    qsort(bases, n < max ? n : max, sizeof(*bases), compare_u64);
    return n;
}

bool logtest_file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

uint64_t logtest_file_size(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "cannot stat %s: %s", path,
                 strerror(errno));
    return (uint64_t)st.st_size;
}

uint8_t *logtest_file_read(const char *path, size_t max, size_t *len)
{
    uint64_t size = logtest_file_size(path);
    uint8_t *data;
    ssize_t got;
    int fd;

    cr_assert_leq(size, max, "%s is larger than %zu bytes", path, max);
    data = malloc(size > 0 ? size : 1);
    cr_assert_not_null(data);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "cannot open %s: %s", path, strerror(errno));
    got = pread(fd, data, size, 0);
    close(fd);
    cr_assert_eq(got, (ssize_t)size, "short read of %s", path);
    *len = size;
    return data;
}

void logtest_file_write_at(const char *path, uint64_t position,
                           const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ssize_t put;

    cr_assert_geq(fd, 0, "cannot open %s: %s", path, strerror(errno));
    put = pwrite(fd, data, len, (off_t)position);
    close(fd);
    cr_assert_eq(put, (ssize_t)len, "short write to %s", path);
}

void logtest_file_copy(const char *from, const char *to)
{
    size_t len;
    uint8_t *data = logtest_file_read(from, 64u << 20, &len);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ssize_t put;

    cr_assert_geq(fd, 0, "cannot create %s: %s", to, strerror(errno));
    put = pwrite(fd, data, len, 0);
    close(fd);
    free(data);
    cr_assert_eq(put, (ssize_t)len, "short write to %s", to);
}

void logtest_file_truncate(const char *path, uint64_t size)
{
    cr_assert_eq(truncate(path, (off_t)size), 0, "cannot truncate %s: %s", path,
                 strerror(errno));
}

uint64_t logtest_total_bytes(struct log *log)
{
    uint64_t total = 0;

    for (uint32_t p = 0; p < log_partitions(log); p++) {
        struct log_partition_info info;

        cr_assert_eq(log_partition_info(log, p, &info), 0);
        total += info.bytes;
    }
    return total;
}

void logtest_waiter_init(struct logtest_waiter *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

void logtest_waiter_destroy(struct logtest_waiter *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

void logtest_waiter_cb(void *ctx, int status, uint64_t first_offset,
                       uint32_t count, const char *message)
{
    struct logtest_waiter *w = ctx;

    (void)first_offset;
    (void)count;
    (void)message;
    pthread_mutex_lock(&w->lock);
    w->done++;
    if (status != 0) {
        w->failed++;
    }
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static struct timespec deadline_in(int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

void logtest_waiter_await(struct logtest_waiter *w, uint64_t n)
{
    struct timespec until = deadline_in(LOGTEST_AWAIT_MS);
    uint64_t done;

    pthread_mutex_lock(&w->lock);
    while (w->done < n &&
           pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT) {
    }
    done = w->done;
    pthread_mutex_unlock(&w->lock);
    cr_assert_geq(done, n,
                  "only %" PRIu64 " of %" PRIu64 " appends "
                  "completed within %d ms",
                  done, n, LOGTEST_AWAIT_MS);
}

void logtest_gate_init(struct logtest_gate *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
}

void logtest_gate_destroy(struct logtest_gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

void logtest_gate_cb(void *ctx, int status, uint64_t first_offset,
                     uint32_t count, const char *message)
{
    struct logtest_gate *g = ctx;

    (void)first_offset;
    (void)count;
    (void)message;
    pthread_mutex_lock(&g->lock);
    g->entered = true;
    g->status = status;
    pthread_cond_broadcast(&g->cond);
    while (!g->open) {
        pthread_cond_wait(&g->cond, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
}

void logtest_gate_await_entered(struct logtest_gate *g)
{
    struct timespec until = deadline_in(LOGTEST_AWAIT_MS);
    bool entered;

    pthread_mutex_lock(&g->lock);
    while (!g->entered &&
           pthread_cond_timedwait(&g->cond, &g->lock, &until) != ETIMEDOUT) {
    }
    entered = g->entered;
    pthread_mutex_unlock(&g->lock);
    cr_assert(entered, "the writer did not reach the gate within %d ms",
              LOGTEST_AWAIT_MS);
}

void logtest_gate_open(struct logtest_gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

int64_t logtest_mono_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

bool logtest_eventually(bool (*cond)(void *ctx), void *ctx, int timeout_ms)
{
    int64_t until = logtest_mono_ms() + timeout_ms;
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 1000000L};

    for (;;) {
        if (cond(ctx)) {
            return true;
        }
        if (logtest_mono_ms() >= until) {
            return false;
        }
        nanosleep(&tick, NULL);
    }
}

uint64_t logtest_rand(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}
