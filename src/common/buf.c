/* buf.c - the growable byte buffer of buf.h. */
#include "common/buf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tw_buf_init(struct tw_buf *buf, size_t max)
{
    memset(buf, 0, sizeof(*buf));
    buf->max = max;
}

void tw_buf_free(struct tw_buf *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

void tw_buf_reset(struct tw_buf *buf)
{
    buf->len = 0;
    buf->status = 0;
    if (buf->data != NULL) {
        buf->data[0] = '\0';
    }
}

/* Makes room for extra more bytes and the NUL; false when it cannot. */
static int buf_reserve(struct tw_buf *buf, size_t extra)
{
    size_t need;
    size_t cap;
    char *grown;

    if (buf->status != 0) {
        return 0;
    }
    if (extra > buf->max - buf->len) {
        buf->status = TW_EFULL;
        return 0;
    }
    need = buf->len + extra + 1;
    if (need <= buf->cap) {
        return 1;
    }
    cap = buf->cap == 0 ? 256 : buf->cap;
    while (cap < need) {
        cap *= 2;
    }
    grown = realloc(buf->data, cap);
    if (grown == NULL) {
        buf->status = TW_ENOMEM;
        return 0;
    }
    buf->data = grown;
    buf->cap = cap;
    return 1;
}

void tw_buf_append(struct tw_buf *buf, const void *bytes, size_t len)
{
    if (!buf_reserve(buf, len)) {
        return;
    }
    if (len > 0) {
        memcpy(buf->data + buf->len, bytes, len);
    }
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void tw_buf_truncate(struct tw_buf *buf, size_t len)
{
    assert(len <= buf->len);
    buf->len = len;
    if (buf->data != NULL) {
        buf->data[len] = '\0';
    }
}

void tw_buf_puts(struct tw_buf *buf, const char *text)
{
    tw_buf_append(buf, text, strlen(text));
}

void tw_buf_printf(struct tw_buf *buf, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof(small)) {
        tw_buf_append(buf, small, (size_t)n);
        return;
    }
    if (!buf_reserve(buf, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
}

int tw_buf_status(const struct tw_buf *buf)
{
    if (buf->status == TW_EFULL) {
        return tw_err_set(TW_EFULL,
                          "output is larger than its limit of "
                          "%zu bytes",
                          buf->max);
    }
    if (buf->status != 0) {
        return tw_err_set(buf->status, "out of memory building output");
    }
    return 0;
}
