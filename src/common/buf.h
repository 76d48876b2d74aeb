/*
 * buf.h - a growable byte buffer with a ceiling.
 *
 * Appends never fail at the call site: the first append that would pass
 * the ceiling, or that cannot get memory, marks the buffer failed and
 * every later append does nothing. The owner checks tw_buf_status() once,
 * after building, instead of after every append. The bytes are always
 * followed by a NUL that len does not count.
 */
#ifndef TW_COMMON_BUF_H
#define TW_COMMON_BUF_H

#include <stddef.h>

#include "common/error.h"

struct tw_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* the most bytes len may reach */
    int status; /* 0, TW_EFULL (ceiling) or TW_ENOMEM */
};

void tw_buf_init(struct tw_buf *buf, size_t max);
void tw_buf_free(struct tw_buf *buf);
/* Empties the buffer and clears a failure, keeping its memory. */
void tw_buf_reset(struct tw_buf *buf);

void tw_buf_append(struct tw_buf *buf, const void *bytes, size_t len);

/*
 * Cuts the bytes back to the first len (len <= buf->len), so a writer can
 * take back what it wrote speculatively: an object that turned out empty,
 * a value replaced by its hash. A failure already recorded stays.
 */
void tw_buf_truncate(struct tw_buf *buf, size_t len);

/*
 * One byte. JSON output calls this for every quote, comma and colon, so
 * the case with room to spare is inline; the rest is tw_buf_append's.
 */
static inline void tw_buf_putc(struct tw_buf *buf, char c)
{
    if (buf->status == 0 && buf->len < buf->max && buf->len + 2 <= buf->cap) {
        buf->data[buf->len++] = c;
        buf->data[buf->len] = '\0';
        return;
    }
    tw_buf_append(buf, &c, 1);
}

void tw_buf_puts(struct tw_buf *buf, const char *text);
void tw_buf_printf(struct tw_buf *buf, const char *fmt, ...) TW_PRINTF(2, 3);

/* 0, or the failure that stopped the appends (with a message set). */
TW_MUST_CHECK int tw_buf_status(const struct tw_buf *buf);

#endif
