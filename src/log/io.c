/* io.c - system calls behind a switch that tests can flip to fail them. */
#include "log/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct io_fault {
    _Atomic int armed;
    _Atomic int errnum;
    _Atomic int skip;
    _Atomic int count;
    _Atomic bool short_write;
};

static struct io_fault faults[IO_OP_COUNT];
static _Atomic uint64_t fault_hits;

/* A call held on purpose (io_hold_arm), and what it waits for. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    _Atomic int armed[IO_OP_COUNT];
    bool held;
    bool released;
} hold = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void io_fault_arm(enum io_op op, int errnum, int skip, int count,
                  bool short_write)
{
    struct io_fault *f = &faults[op];

    atomic_store(&f->armed, 0);
    atomic_store(&f->errnum, errnum);
    atomic_store(&f->skip, skip);
    atomic_store(&f->count, count);
    atomic_store(&f->short_write, short_write);
    atomic_store(&f->armed, 1);
}

void io_fault_clear(void)
{
    for (int i = 0; i < IO_OP_COUNT; i++) {
        atomic_store(&faults[i].armed, 0);
    }
}

uint64_t io_fault_hits(void)
{
    return atomic_load(&fault_hits);
}

void io_hold_arm(enum io_op op)
{
    pthread_mutex_lock(&hold.lock);
    hold.released = false;
    pthread_mutex_unlock(&hold.lock);
    atomic_store(&hold.armed[op], 1);
}

bool io_hold_await(int timeout_ms)
{
    struct timespec until;
    bool held;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&hold.lock);
    while (!hold.held) {
        if (pthread_cond_timedwait(&hold.cond, &hold.lock, &until) != 0) {
            break;
        }
    }
    held = hold.held;
    pthread_mutex_unlock(&hold.lock);
    return held;
}

void io_hold_release(void)
{
    pthread_mutex_lock(&hold.lock);
    for (int i = 0; i < IO_OP_COUNT; i++) {
        atomic_store(&hold.armed[i], 0);
    }
    hold.released = true;
    pthread_cond_broadcast(&hold.cond);
    pthread_mutex_unlock(&hold.lock);
}

/* Holds the call if a hold of op is armed and no other call took it. */
static void io_hold_take(enum io_op op)
{
    int armed = 1;

    if (!atomic_load_explicit(&hold.armed[op], memory_order_relaxed) ||
        !atomic_compare_exchange_strong(&hold.armed[op], &armed, 0)) {
        return;
    }
    pthread_mutex_lock(&hold.lock);
    hold.held = true;
    pthread_cond_broadcast(&hold.cond);
    while (!hold.released) {
        pthread_cond_wait(&hold.cond, &hold.lock);
    }
    hold.held = false;
    pthread_mutex_unlock(&hold.lock);
}

/* Returns the errno to fail with, or 0 to let the call through. */
static int io_fault_take(enum io_op op)
{
    struct io_fault *f = &faults[op];
    int count;

    io_hold_take(op);
    if (!atomic_load_explicit(&f->armed, memory_order_relaxed)) {
        return 0;
    }
    if (atomic_fetch_sub(&f->skip, 1) > 0) {
        return 0;
    }
    atomic_store(&f->skip, 0);
    count = atomic_load(&f->count);
    if (count == 0) {
        return 0;
    }
    if (count > 0) {
        atomic_fetch_sub(&f->count, 1);
    }
    atomic_fetch_add(&fault_hits, 1);
    return atomic_load(&f->errnum);
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
    size_t total = 0;

    for (int i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
    }
    return total;
}

ssize_t io_pwrite(int fd, const void *buf, size_t len, off_t pos)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    return io_pwritev(fd, &iov, 1, pos);
}

ssize_t io_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t pos)
{
    int err = io_fault_take(IO_OP_WRITE);

    if (err != 0) {
        size_t half = iov_total(iov, iovcnt) / 2;

        if (atomic_load(&faults[IO_OP_WRITE].short_write) && half > 0 &&
            iov[0].iov_len >= half) {
            /* A full disk often takes part of a write before refusing. */
            return pwrite(fd, iov[0].iov_base, half, pos);
        }
        errno = err;
        return -1;
    }
    return pwritev(fd, iov, iovcnt, pos);
}

int io_fdatasync(int fd)
{
    int err = io_fault_take(IO_OP_SYNC);

    if (err != 0) {
        errno = err;
        return -1;
    }
    return fdatasync(fd);
}

int io_fsync(int fd)
{
    int err = io_fault_take(IO_OP_SYNC);

    if (err != 0) {
        errno = err;
        return -1;
    }
    return fsync(fd);
}

int io_ftruncate(int fd, off_t len)
{
    int err = io_fault_take(IO_OP_TRUNCATE);

    if (err != 0) {
        errno = err;
        return -1;
    }
    return ftruncate(fd, len);
}

int io_pwrite_all(int fd, const void *buf, size_t len, off_t pos)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = io_pwrite(fd, p, len, pos);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}

int io_pread_all(int fd, void *buf, size_t len, off_t pos)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = pread(fd, p, len, pos);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}

int io_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;
    int saved;

    if (fd < 0) {
        return -1;
    }
    rc = io_fsync(fd);
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int io_write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    int fd;
    int saved;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    if (io_pwrite_all(fd, data, len, 0) < 0 || io_fsync(fd) < 0) {
        goto fail_unlink;
    }
    if (close(fd) < 0) {
        fd = -1;
        goto fail_unlink;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        goto fail_unlink;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    return io_fsync_dir(dirname(dir));

fail_unlink:
    saved = errno;
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    errno = saved;
    return -1;
}
