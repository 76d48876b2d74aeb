/*
 * error.h - the one error convention used across Trackway.
 *
 * A function that can fail returns 0 on success or a negative tw_err code.
 * The code says what kind of failure it was; the text that a person needs
 * (what failed, on what, what to do) is kept per thread and read with
 * tw_err_message() right after the failing call, much like dlerror().
 */
#ifndef TW_COMMON_ERROR_H
#define TW_COMMON_ERROR_H

#include <stddef.h>

#define TW_MUST_CHECK __attribute__((warn_unused_result))
#define TW_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

enum tw_err {
    TW_OK = 0,
    TW_EINVAL = -1,   /* the caller passed something that cannot work */
    TW_ENOMEM = -2,   /* an allocation failed */
    TW_EIO = -3,      /* the operating system reported an I/O error */
    TW_ENOSPC = -4,   /* the disk is full */
    TW_ECORRUPT = -5, /* stored data failed its checksum or structure */
    TW_EVERSION = -6, /* stored data was written by a newer format */
    TW_ENOENT = -7,   /* the named thing does not exist */
    TW_EBUSY = -8,    /* another process or reader holds it */
    TW_EFULL = -9,    /* a bounded queue is full: try again later */
    TW_ECLOSED = -10, /* the object is shutting down */
    TW_ERANGE = -11,  /* an offset or position outside what exists */
};

/* A short stable name for a code, such as "corrupt". Never NULL. */
const char *tw_err_name(int err);

/*
 * Records a detailed message for the calling thread and returns err, so a
 * failure site reads: return tw_err_set(TW_EIO, "write %s: %s", ...);
 */
int tw_err_set(int err, const char *fmt, ...) TW_PRINTF(2, 3);

/* Maps an errno value to a tw_err code (ENOSPC -> TW_ENOSPC, ...). */
int tw_err_from_errno(int errnum);

/*
 * Like tw_err_set, with the code taken from errnum and ": strerror(errnum)"
 * appended to the message.
 */
int tw_err_errno(int errnum, const char *fmt, ...) TW_PRINTF(2, 3);

/*
 * The message recorded by the last failing call on this thread, or the
 * code's name when none was recorded. Valid until the next tw_err_set.
 */
const char *tw_err_message(void);

/* Forgets the thread's message (so a later read cannot show a stale one). */
void tw_err_clear(void);

#endif
