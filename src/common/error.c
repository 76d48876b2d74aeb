/* error.c - per-thread error messages behind the tw_err convention. */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TW_ERR_MESSAGE_MAX 512

static _Thread_local char err_message[TW_ERR_MESSAGE_MAX];
static _Thread_local int err_code;

const char *tw_err_name(int err)
{
    switch (err) {
    case TW_OK:
        return "ok";
    case TW_EINVAL:
        return "invalid argument";
    case TW_ENOMEM:
        return "out of memory";
    case TW_EIO:
        return "I/O error";
    case TW_ENOSPC:
        return "no space left on device";
    case TW_ECORRUPT:
        return "corrupt data";
    case TW_EVERSION:
        return "unsupported format version";
    case TW_ENOENT:
        return "not found";
    case TW_EBUSY:
        return "busy";
    case TW_EFULL:
        return "queue full";
    case TW_ECLOSED:
        return "closed";
    case TW_ERANGE:
        return "out of range";
    default:
        return "unknown error";
    }
}

static void err_vformat(int err, const char *fmt, va_list ap)
{
    err_code = err;
    vsnprintf(err_message, sizeof(err_message), fmt, ap);
}

int tw_err_set(int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vformat(err, fmt, ap);
    va_end(ap);
    return err;
}

int tw_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return TW_OK;
    case ENOSPC:
    case EDQUOT:
        return TW_ENOSPC;
    case ENOMEM:
        return TW_ENOMEM;
    case ENOENT:
        return TW_ENOENT;
    case EINVAL:
        return TW_EINVAL;
    case EBUSY:
    case EWOULDBLOCK:
        return TW_EBUSY;
    default:
        return TW_EIO;
    }
}

int tw_err_errno(int errnum, const char *fmt, ...)
{
    va_list ap;
    size_t used;
    int err = tw_err_from_errno(errnum);

    va_start(ap, fmt);
    err_vformat(err, fmt, ap);
    va_end(ap);

    used = strlen(err_message);
    snprintf(err_message + used, sizeof(err_message) - used, ": %s",
             strerror(errnum));
    return err;
}

const char *tw_err_message(void)
{
    if (err_code == TW_OK || err_message[0] == '\0') {
        return tw_err_name(err_code);
    }
    return err_message;
}

void tw_err_clear(void)
{
    err_code = TW_OK;
    err_message[0] = '\0';
}
