/* json_write.c - minified JSON output (json_write.h). */
#include "json/json_write.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

void tw_jw_string(struct tw_buf *buf, const char *text, size_t len)
{
    size_t run = 0;

    tw_buf_putc(buf, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        char esc[6];

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        /* Flush the plain bytes before this one in one append. */
        tw_buf_append(buf, text + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            tw_buf_append(buf, "\\\"", 2);
            break;
        case '\\':
            tw_buf_append(buf, "\\\\", 2);
            break;
        case '\n':
            tw_buf_append(buf, "\\n", 2);
            break;
        case '\r':
            tw_buf_append(buf, "\\r", 2);
            break;
        case '\t':
            tw_buf_append(buf, "\\t", 2);
            break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex_digits[c >> 4];
            esc[5] = hex_digits[c & 15];
            tw_buf_append(buf, esc, 6);
            break;
        }
    }
    tw_buf_append(buf, text + run, len - run);
    tw_buf_putc(buf, '"');
}

void tw_jw_cstring(struct tw_buf *buf, const char *text)
{
    tw_jw_string(buf, text, strlen(text));
}

void tw_jw_int(struct tw_buf *buf, int64_t value)
{
    tw_buf_printf(buf, "%" PRId64, value);
}

void tw_jw_double(struct tw_buf *buf, double value)
{
    char text[40];

    /* JSON has no NaN or infinity; a parsed document never holds them. */
    if (!isfinite(value)) {
        tw_buf_puts(buf, "null");
        return;
    }
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof(text), "%.*g", precision, value);
        if (strtod(text, NULL) == value) {
            break;
        }
    }
    tw_buf_puts(buf, text);
}

void tw_jw_key(struct tw_buf *buf, const char *name)
{
    tw_jw_cstring(buf, name);
    tw_buf_putc(buf, ':');
}

static void jw_container(struct tw_buf *buf, struct tw_json value)
{
    struct tw_json_iter it;
    struct tw_json element;
    const char *key;
    size_t key_len;
    int first = 1;

    tw_json_iter_init(&it, value);
    if (tw_json_type(value) == TW_JSON_ARRAY) {
        tw_buf_putc(buf, '[');
        while (tw_json_array_next(&it, &element)) {
            if (!first) {
                tw_buf_putc(buf, ',');
            }
            first = 0;
            tw_jw_value(buf, element);
        }
        tw_buf_putc(buf, ']');
        return;
    }
    tw_buf_putc(buf, '{');
    while (tw_json_object_next(&it, &key, &key_len, &element)) {
        if (!first) {
            tw_buf_putc(buf, ',');
        }
        first = 0;
        tw_jw_string(buf, key, key_len);
        tw_buf_putc(buf, ':');
        tw_jw_value(buf, element);
    }
    tw_buf_putc(buf, '}');
}

void tw_jw_value(struct tw_buf *buf, struct tw_json value)
{
    const char *text;
    size_t len;

    switch (tw_json_type(value)) {
    case TW_JSON_NULL:
        tw_buf_puts(buf, "null");
        break;
    case TW_JSON_BOOL:
        tw_buf_puts(buf, tw_json_bool(value) ? "true" : "false");
        break;
    case TW_JSON_INT:
        tw_jw_int(buf, tw_json_int(value));
        break;
    case TW_JSON_UINT:
        tw_buf_printf(buf, "%" PRIu64, tw_json_uint(value));
        break;
    case TW_JSON_DOUBLE:
        tw_jw_double(buf, tw_json_number(value));
        break;
    case TW_JSON_STRING:
        text = tw_json_string(value, &len);
        tw_jw_string(buf, text, len);
        break;
    case TW_JSON_ARRAY:
    case TW_JSON_OBJECT:
        jw_container(buf, value);
        break;
    }
}
