/*
 * json_write.c - JSON values back to text, and the decimal form of a
 * double.
 *
 * Written in C on top of json.h (it needs nothing from simdjson): error
 * messages quote values from documents ("must be one of: \"a\", \"b\""),
 * and tests write documents out again. Output is bounded by the caller's
 * buffer; the length of the whole text is still computed, as snprintf
 * does, so a caller can tell that it was cut.
 */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

/* Where the text goes: buf up to cap, len counts the whole text. */
struct json_out {
    char *buf;
    size_t cap;
    size_t len;
};

static void json_put(struct json_out *out, const char *s, size_t n)
{
    if (out->len < out->cap) {
        size_t room = out->cap - out->len;

        memcpy(out->buf + out->len, s, n < room ? n : room);
    }
    out->len += n;
}

static void json_put_string(struct json_out *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;

    json_put(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        json_put(out, s + start, i - start);
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            json_put(out, esc, 2);
        } else {
            json_put(out, esc, 6);
        }
        start = i + 1;
    }
    json_put(out, s + start, len - start);
    json_put(out, "\"", 1);
}

/*
 * The fewest significant digits that read back as d. A normal double has
 * 53 bits, so 15 digits or more are needed unless fewer were written, and
 * then the 15-digit form ends in zeros (see tw_json_double_decimal). A
 * subnormal one has fewer bits and may need as few as one digit.
 */
static int json_double_precision(double d)
{
    char text[40];

    for (int precision = fabs(d) < DBL_MIN ? 1 : 15; precision < 17;
         precision++) {
        snprintf(text, sizeof(text), "%.*e", precision - 1, d);
        if (strtod(text, NULL) == d) {
            return precision;
        }
    }
    return 17;
}

void tw_json_double_decimal(double d, uint64_t *digits, int32_t *exp10)
{
    char text[40];
    int precision;
    uint64_t m = 0;
    int32_t e;
    char *p;

    assert(isfinite(d));
    if (d == 0) {
        *digits = 0;
        *exp10 = 0;
        return;
    }

    /*
     * "%.*e" gives "d.ddd...e±XX": at most 17 digits, which fit in 64
     * bits. Any decimal of 15 digits or fewer that reads back as d is the
     * one rounding to 15 digits gives, so the trailing zeros stripped
     * below leave the shortest form.
     */
    precision = json_double_precision(d);
    snprintf(text, sizeof(text), "%.*e", precision - 1, fabs(d));
    for (p = text; *p != 'e'; p++) {
        if (*p != '.') {
            m = m * 10 + (uint64_t)(*p - '0');
        }
    }
    e = (int32_t)strtol(p + 1, NULL, 10) - (precision - 1);
    while (m % 10 == 0) {
        m /= 10;
        e++;
    }
    *digits = m;
    *exp10 = e;
}

static void json_put_number(struct json_out *out, struct tw_json value)
{
    char text[40];
    int n;

    switch (tw_json_type(value)) {
    case TW_JSON_INT:
        n = snprintf(text, sizeof(text), "%lld", (long long)tw_json_int(value));
        break;
    case TW_JSON_UINT:
        n = snprintf(text, sizeof(text), "%llu",
                     (unsigned long long)tw_json_uint(value));
        break;
    default: {
        double d = tw_json_number(value);

        n = snprintf(text, sizeof(text), "%.*g", json_double_precision(d), d);
        /* Keep a double looking like one: 1.0 stays "1.0", not "1". */
        if (strpbrk(text, ".e") == NULL) {
            n = snprintf(text, sizeof(text), "%.*g.0", json_double_precision(d),
                         d);
        }
        break;
    }
    }
    json_put(out, text, (size_t)n);
}

static void json_put_value(struct json_out *out, struct tw_json value);

static void json_put_array(struct json_out *out, struct tw_json value)
{
    struct tw_json_iter it;
    struct tw_json element;
    bool first = true;

    json_put(out, "[", 1);
    tw_json_iter_init(&it, value);
    while (tw_json_array_next(&it, &element)) {
        if (!first) {
            json_put(out, ",", 1);
        }
        json_put_value(out, element);
        first = false;
    }
    json_put(out, "]", 1);
}

static void json_put_object(struct json_out *out, struct tw_json value)
{
    struct tw_json_iter it;
    struct tw_json member;
    const char *key;
    size_t key_len;
    bool first = true;

    json_put(out, "{", 1);
    tw_json_iter_init(&it, value);
    while (tw_json_object_next(&it, &key, &key_len, &member)) {
        if (!first) {
            json_put(out, ",", 1);
        }
        json_put_string(out, key, key_len);
        json_put(out, ":", 1);
        json_put_value(out, member);
        first = false;
    }
    json_put(out, "}", 1);
}

static void json_put_value(struct json_out *out, struct tw_json value)
{
    const char *s;
    size_t len;

    switch (tw_json_type(value)) {
    case TW_JSON_NULL:
        json_put(out, "null", 4);
        break;
    case TW_JSON_BOOL:
        if (tw_json_bool(value)) {
            json_put(out, "true", 4);
        } else {
            json_put(out, "false", 5);
        }
        break;
    case TW_JSON_INT:
    case TW_JSON_UINT:
    case TW_JSON_DOUBLE:
        json_put_number(out, value);
        break;
    case TW_JSON_STRING:
        s = tw_json_string(value, &len);
        json_put_string(out, s, len);
        break;
    case TW_JSON_ARRAY:
        json_put_array(out, value);
        break;
    case TW_JSON_OBJECT:
        json_put_object(out, value);
        break;
    }
}

size_t tw_json_write(struct tw_json value, char *buf, size_t cap)
{
    struct json_out out = {.buf = buf, .cap = cap};

    json_put_value(&out, value);
    if (cap > 0) {
        buf[out.len < cap ? out.len : cap - 1] = '\0';
    }
    return out.len;
}
