/* sinktest.c - shared steps of the sink tests. */
#include "support/sinktest.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define SINKTEST_FILE_MAX (64u << 20)

int64_t sinktest_clock_cb(void *ctx)
{
    struct sinktest_clock *clock = ctx;

    return atomic_load(&clock->now_ms);
}

#define SINKTEST_AWAIT_S 10

/* One lock for every sinktest_done: completions are rare in tests. */
static pthread_mutex_t sinktest_done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sinktest_done_cond = PTHREAD_COND_INITIALIZER;

void sinktest_done_cb(void *ctx, const struct sink_result *result)
{
    struct sinktest_done *d = ctx;

    pthread_mutex_lock(&sinktest_done_lock);
    d->calls++;
    d->result = *result;
    pthread_cond_broadcast(&sinktest_done_cond);
    pthread_mutex_unlock(&sinktest_done_lock);
}

int sinktest_await(struct sinktest_done *done, int calls)
{
    struct timespec deadline;
    int got;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += SINKTEST_AWAIT_S;
    pthread_mutex_lock(&sinktest_done_lock);
    while (done->calls < calls) {
        if (pthread_cond_timedwait(&sinktest_done_cond, &sinktest_done_lock,
                                   &deadline) == ETIMEDOUT) {
            break;
        }
    }
    got = done->calls;
    pthread_mutex_unlock(&sinktest_done_lock);
    cr_assert_geq(got, calls, "done ran %d times in %d s, want %d", got,
                  SINKTEST_AWAIT_S, calls);
    return got;
}

int sinktest_calls(struct sinktest_done *done)
{
    int calls;

    pthread_mutex_lock(&sinktest_done_lock);
    calls = done->calls;
    pthread_mutex_unlock(&sinktest_done_lock);
    return calls;
}

struct sink_result sinktest_send(struct sink *sink,
                                 const struct sink_batch *batch)
{
    struct sinktest_done d = {0};
    int rc = sink_send(sink, batch, sinktest_done_cb, &d);

    cr_assert_eq(rc, 0, "send refused the batch: %s", tw_err_message());
    cr_assert_eq(d.calls, 1, "done ran %d times before send returned", d.calls);
    return d.result;
}

void sinktest_send_ok(struct sink *sink, const struct sink_batch *batch)
{
    struct sink_result r = sinktest_send(sink, batch);

    cr_assert_eq(r.outcome, SINK_OK, "outcome %d: %s", r.outcome, r.detail);
}

struct sink_result sinktest_send_wait(struct sink *sink,
                                      const struct sink_batch *batch)
{
    struct sinktest_done d = {0};
    int rc = sink_send(sink, batch, sinktest_done_cb, &d);

    cr_assert_eq(rc, 0, "send refused the batch: %s", tw_err_message());
    cr_assert_eq(sinktest_await(&d, 1), 1, "done ran more than once");
    return d.result;
}

void sinktest_send_wait_ok(struct sink *sink, const struct sink_batch *batch)
{
    struct sink_result r = sinktest_send_wait(sink, batch);

    cr_assert_eq(r.outcome, SINK_OK, "outcome %d: %s", r.outcome, r.detail);
}

char *sinktest_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *data;
    size_t got = 0;

    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_leq((uint64_t)st.st_size, SINKTEST_FILE_MAX);
    data = malloc((size_t)st.st_size + 1);
    cr_assert_not_null(data);
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

        cr_assert_gt(n, 0, "read %s: %s", path, strerror(errno));
        got += (size_t)n;
    }
    close(fd);
    data[got] = '\0';
    *len = got;
    return data;
}

static void sinktest_write_flags(const char *path, const void *data, size_t len,
                                 int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);

    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len, "write %s: %s", path,
                 strerror(errno));
    close(fd);
}

void sinktest_write_file(const char *path, const void *data, size_t len)
{
    sinktest_write_flags(path, data, len, O_TRUNC);
}

void sinktest_append_file(const char *path, const void *data, size_t len)
{
    sinktest_write_flags(path, data, len, O_APPEND);
}

uint64_t sinktest_file_size(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

bool sinktest_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static const char *const sinktest_suffixes[] = {
    [SINKTEST_ACTIVE] = ".ndjson.active",
    [SINKTEST_PLAIN] = ".ndjson",
    [SINKTEST_ZST] = ".ndjson.zst",
};

/* -1: not the prefix's; -2: a temporary; else the kind. */
static int sinktest_parse(const char *prefix, const char *name, uint64_t *seq)
{
    size_t plen = strlen(prefix);
    size_t stem = plen + 1 + 10 + 1 + 20;
    char lock[300];

    snprintf(lock, sizeof(lock), "%s.lock", prefix);
    if (strncmp(name, prefix, plen) != 0 || strcmp(name, lock) == 0) {
        return -1;
    }
    cr_assert(strlen(name) > stem && name[plen] == '-' &&
                  name[plen + 11] == '-' && name[plen + 20] == 'T' &&
                  name[plen + 27] == '.' && name[plen + 31] == 'Z',
              "unexpected file name %s", name);
    *seq = 0;
    for (size_t i = plen + 1; i < plen + 11; i++) {
        cr_assert(name[i] >= '0' && name[i] <= '9', "bad sequence in %s", name);
        *seq = *seq * 10 + (uint64_t)(name[i] - '0');
    }
    if (strcmp(name + stem, ".ndjson.zst.tmp") == 0) {
        return -2;
    }
    for (int k = 0; k <= SINKTEST_ZST; k++) {
        if (strcmp(name + stem, sinktest_suffixes[k]) == 0) {
            return k;
        }
    }
    cr_assert_fail("unexpected suffix in %s", name);
    return -1;
}

static int sinktest_compare_names(const void *a, const void *b)
{
    const struct sinktest_file *x = a;
    const struct sinktest_file *y = b;

    return strcmp(x->name, y->name);
}

static void sinktest_decompress(struct sinktest_file *f, const char *path)
{
    size_t len;
    char *packed = sinktest_read_file(path, &len);
    unsigned long long size = ZSTD_getFrameContentSize(packed, len);
    size_t n;

    cr_assert(size != ZSTD_CONTENTSIZE_ERROR &&
                  size != ZSTD_CONTENTSIZE_UNKNOWN && size < SINKTEST_FILE_MAX,
              "%s: no zstd frame with a content size", path);
    cr_assert_eq(ZSTD_findFrameCompressedSize(packed, len), len,
                 "%s is not exactly one zstd frame", path);
    f->data = malloc((size_t)size + 1);
    cr_assert_not_null(f->data);
    n = ZSTD_decompress(f->data, (size_t)size, packed, len);
    cr_assert(!ZSTD_isError(n) && n == size, "%s does not decompress: %s", path,
              ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
    f->data[n] = '\0';
    f->len = n;
    free(packed);
}

void sinktest_files_read(const char *dir, const char *prefix,
                         struct sinktest_files *out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;
    size_t at = 0;

    memset(out, 0, sizeof(*out));
    cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        uint64_t seq;
        int kind = sinktest_parse(prefix, e->d_name, &seq);

        if (kind == -2) {
            out->temporaries++;
        }
        if (kind < 0) {
            continue;
        }
        if (out->count == cap) {
            cap = cap ? cap * 2 : 16;
            out->items = realloc(out->items, cap * sizeof(*out->items));
            cr_assert_not_null(out->items);
        }
        struct sinktest_file *f = &out->items[out->count++];
        memset(f, 0, sizeof(*f));
        snprintf(f->name, sizeof(f->name), "%s", e->d_name);
        f->kind = (enum sinktest_kind)kind;
        f->seq = seq;
    }
    closedir(d);
    if (out->count > 0) {
        qsort(out->items, out->count, sizeof(*out->items),
              sinktest_compare_names);
    }

    for (size_t i = 0; i < out->count; i++) {
        struct sinktest_file *f = &out->items[i];
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", dir, f->name);
        if (f->kind == SINKTEST_ZST) {
            sinktest_decompress(f, path);
        } else {
            f->data = sinktest_read_file(path, &f->len);
        }
        out->all_len += f->len;
    }
    out->all = malloc(out->all_len + 1);
    cr_assert_not_null(out->all);
    for (size_t i = 0; i < out->count; i++) {
        memcpy(out->all + at, out->items[i].data, out->items[i].len);
        at += out->items[i].len;
    }
    out->all[at] = '\0';
}

void sinktest_files_free(struct sinktest_files *files)
{
    for (size_t i = 0; i < files->count; i++) {
        free(files->items[i].data);
    }
    free(files->items);
    free(files->all);
    memset(files, 0, sizeof(*files));
}

void sinktest_files_check_order(const struct sinktest_files *files)
{
    for (size_t i = 0; i < files->count; i++) {
        const struct sinktest_file *f = &files->items[i];

        if (i > 0) {
            cr_assert_gt(f->seq, files->items[i - 1].seq,
                         "%s sorts after %s but its sequence is not higher",
                         f->name, files->items[i - 1].name);
        }
        cr_assert(f->kind != SINKTEST_ACTIVE || i + 1 == files->count,
                  "active file %s is not the newest", f->name);
    }
}

void sinktest_expect_init(struct sinktest_expect *e)
{
    memset(e, 0, sizeof(*e));
    e->out = open_memstream(&e->text, &e->len);
    cr_assert_not_null(e->out);
}

void sinktest_expect_free(struct sinktest_expect *e)
{
    fclose(e->out);
    free(e->text);
}

void sinktest_expect_batch(struct sinktest_expect *e,
                           const struct sink_batch *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        fwrite(batch->events[i].data, 1, batch->events[i].data_len, e->out);
        fputc('\n', e->out);
    }
    fflush(e->out);
}

void sinktest_expect_text(struct sinktest_expect *e, const char *text)
{
    fputs(text, e->out);
    fflush(e->out);
}

void sinktest_files_check_expected(const char *dir, const char *prefix,
                                   const struct sinktest_expect *e,
                                   struct sinktest_files *files)
{
    sinktest_files_read(dir, prefix, files);
    sinktest_files_check_order(files);
    cr_assert_eq(files->temporaries, 0, "a temporary file was left behind");
    cr_assert_eq(files->all_len, e->len,
                 "the files hold %zu bytes, %zu were expected", files->all_len,
                 e->len);
    cr_assert(memcmp(files->all, e->text, e->len) == 0,
              "the files do not hold the lines expected, in order");
}
