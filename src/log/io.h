/*
 * io.h - the file operations the log uses, with fault injection.
 *
 * Every write, sync and truncate of the embedded log goes through here so
 * that tests can make the disk fail on demand (ENOSPC, EIO, short writes)
 * and check that an append fails cleanly and the log recovers once the
 * fault clears. With no fault armed each call is the plain system call
 * plus one relaxed atomic load. The file sink (src/sinks/file.c and
 * file_dir.c) does its writes, syncs and truncates through here too, for
 * the same tests.
 */
#ifndef TW_LOG_IO_H
#define TW_LOG_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum io_op {
    IO_OP_WRITE = 0, /* pwrite, pwritev */
    IO_OP_SYNC = 1,  /* fdatasync, fsync */
    IO_OP_TRUNCATE = 2,
    IO_OP_COUNT = 3,
};

/*
 * Arms a fault: after `skip` more successful calls of op, the next `count`
 * calls fail with errnum (count < 0: until io_fault_clear). With
 * short_write, a failing write first writes half of its bytes, as a full
 * disk does. Meant for tests; safe to call from any thread.
 */
void io_fault_arm(enum io_op op, int errnum, int skip, int count,
                  bool short_write);
void io_fault_clear(void);
/* How many calls have failed on purpose since the process started. */
uint64_t io_fault_hits(void);

/*
 * Holds the next call of op: it waits, before it does anything, until
 * io_hold_release; then it goes on as usual, an armed fault included.
 * Only the first call to arrive is held. Lets a test keep a writer
 * inside a write or a sync while it queues more work behind it. Meant
 * for tests; safe to call from any thread.
 */
void io_hold_arm(enum io_op op);
/* Waits until a call is held; false if none is after timeout_ms. */
bool io_hold_await(int timeout_ms);
/* Lets the held call go on and disarms every hold not yet taken. */
void io_hold_release(void);

/* Each returns what the system call returns, with errno set on failure. */
ssize_t io_pwrite(int fd, const void *buf, size_t len, off_t pos);
ssize_t io_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t pos);
int io_fdatasync(int fd);
int io_fsync(int fd);
int io_ftruncate(int fd, off_t len);

/* Writes all of buf at pos, retrying short writes. 0 or -1 (errno). */
int io_pwrite_all(int fd, const void *buf, size_t len, off_t pos);

/* Reads exactly len bytes at pos. 0, or -1 with errno (EIO for EOF). */
int io_pread_all(int fd, void *buf, size_t len, off_t pos);

/* fsyncs a directory so that created, renamed or removed names persist. */
int io_fsync_dir(const char *path);

/*
 * Atomically replaces path with data: write to path.tmp, fsync, rename,
 * fsync the directory. 0 or -1 (errno).
 */
int io_write_file_atomic(const char *path, const void *data, size_t len);

#endif
