/* json_write.c - minified JSON output (json_write.h). */
#include "json/json_write.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

/* Bytes in a word: a word-sized pattern of one byte value. */
#define JW_ONES UINT64_C(0x0101010101010101)
#define JW_HIGHS UINT64_C(0x8080808080808080)

/*
 * Whether any of the 8 bytes of w needs escaping: a control character,
 * a quote or a backslash. The collector writes every string of every
 * event through here, so plain text is skipped a word at a time (the
 * byte-wise test was a fifth of its instructions).
 */
static int jw_word_needs_escape(uint64_t w)
{
    uint64_t quote = w ^ (JW_ONES * '"');
    uint64_t backslash = w ^ (JW_ONES * '\\');
    uint64_t control = (w - JW_ONES * 0x20) & ~w;
    uint64_t zero_quote = (quote - JW_ONES) & ~quote;
    uint64_t zero_backslash = (backslash - JW_ONES) & ~backslash;

    return ((control | zero_quote | zero_backslash) & JW_HIGHS) != 0;
}

static void jw_escape(struct tw_buf *buf, unsigned char c)
{
    char esc[6];

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

void tw_jw_string(struct tw_buf *buf, const char *text, size_t len)
{
    size_t run = 0;
    size_t i = 0;

    tw_buf_putc(buf, '"');
    while (i < len) {
        unsigned char c;
        uint64_t w;

        if (len - i >= sizeof(w)) {
            memcpy(&w, text + i, sizeof(w));
            if (!jw_word_needs_escape(w)) {
                i += sizeof(w);
                continue;
            }
        }
        c = (unsigned char)text[i++];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        /* Flush the plain bytes before this one in one append. */
        tw_buf_append(buf, text + run, i - 1 - run);
        run = i;
        jw_escape(buf, c);
    }
    tw_buf_append(buf, text + run, len - run);
    tw_buf_putc(buf, '"');
}

void tw_jw_cstring(struct tw_buf *buf, const char *text)
{
    tw_jw_string(buf, text, strlen(text));
}

/* Writes v's decimal digits ending just before end; returns the start. */
static char *jw_digits(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

void tw_jw_int(struct tw_buf *buf, int64_t value)
{
    char text[24];
    char *end = text + sizeof(text);
    /* The magnitude as unsigned, which INT64_MIN also has. */
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    char *start = jw_digits(end, magnitude);

    if (value < 0) {
        *--start = '-';
    }
    tw_buf_append(buf, start, (size_t)(end - start));
}

/*
 * The common double of an event, a price or a ratio, written without
 * printf, which costs several thousand instructions a number: the first
 * scale 10^k (k <= 6) at which value * 10^k rounds to an integer n whose
 * n / 10^k is value again. Division of two exact doubles is correctly
 * rounded, as strtod is, so the text n with k decimals reads back as
 * value. Only for 1e-4 <= |value| < 1e15, where "%.15g" would write the
 * same digits without an exponent; false for anything else.
 */
static bool jw_double_short(struct tw_buf *buf, double value)
{
    static const double scales[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
    double magnitude = fabs(value);
    char text[40];
    char *end = text + sizeof(text);
    char *start;

    if (!(magnitude >= 1e-4 && magnitude < 1e15)) {
        return false;
    }
    for (int k = 0; k < 7; k++) {
        double scaled = magnitude * scales[k];
        uint64_t n;

        if (scaled >= 9007199254740992.0) { /* 2^53: no longer exact */
            return false;
        }
        n = (uint64_t)(scaled + 0.5);
        if ((double)n / scales[k] != magnitude) {
            continue;
        }
        start = end;
        for (int d = 0; d < k; d++) {
            *--start = (char)('0' + n % 10);
            n /= 10;
        }
        if (k > 0) {
            *--start = '.';
        } else {
            /* A double stays one: 2.0 is written "2.0", not "2", so a
             * destination inferring column types sees what was sent. */
            *--start = '0';
            *--start = '.';
        }
        start = jw_digits(start, n);
        if (value < 0) {
            *--start = '-';
        }
        tw_buf_append(buf, start, (size_t)(end - start));
        return true;
    }
    return false;
}

void tw_jw_double(struct tw_buf *buf, double value)
{
    char text[40];

    /* JSON has no NaN or infinity; a parsed document never holds them. */
    if (!isfinite(value)) {
        tw_buf_puts(buf, "null");
        return;
    }
    if (jw_double_short(buf, value)) {
        return;
    }
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof(text), "%.*g", precision, value);
        if (strtod(text, NULL) == value) {
            break;
        }
    }
    tw_buf_puts(buf, text);
    if (strpbrk(text, ".e") == NULL) {
        tw_buf_puts(buf, ".0");
    }
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
    char digits[24];
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
        text = jw_digits(digits + sizeof(digits), tw_json_uint(value));
        tw_buf_append(buf, text, (size_t)(digits + sizeof(digits) - text));
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
