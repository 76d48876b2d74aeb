/*
 * json_write.h - writing JSON text into a struct tw_buf.
 *
 * The writer emits minified JSON. Strings are escaped as RFC 8259 asks
 * (quote, backslash and control characters; everything else, valid UTF-8
 * included, as is). Doubles are written in the shortest form that reads
 * back as the same double, so 89.9 stays "89.9".
 */
#ifndef TW_JSON_JSON_WRITE_H
#define TW_JSON_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "json/json.h"

/* A JSON string holding len bytes of text (which must be UTF-8). */
void tw_jw_string(struct tw_buf *buf, const char *text, size_t len);
void tw_jw_cstring(struct tw_buf *buf, const char *text);
void tw_jw_int(struct tw_buf *buf, int64_t value);
void tw_jw_double(struct tw_buf *buf, double value);
/* "name": with the quotes and the colon. */
void tw_jw_key(struct tw_buf *buf, const char *name);

/* Any parsed value, written back out whole. */
void tw_jw_value(struct tw_buf *buf, struct tw_json value);

#endif
