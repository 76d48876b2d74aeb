/*
 * json_text.c - a parsed value back to text in a caller's buffer, and the
 * shortest decimal form of a double (json.h).
 *
 * Error messages quote values from documents ("must be one of: \"a\"") and
 * exact multipleOf needs a double's decimal digits; both live here, on top
 * of the JSON writer of json_write.h.
 */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/json_write.h"

/* The largest text tw_json_write measures; longer values are cut. */
#define JSON_TEXT_MAX (64u << 20)

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

size_t tw_json_write(struct tw_json value, char *buf, size_t cap)
{
    struct tw_buf out;
    size_t len;

    tw_buf_init(&out, JSON_TEXT_MAX);
    tw_jw_value(&out, value);
    len = out.len;
    if (cap > 0) {
        size_t n = len < cap ? len : cap - 1;

        if (n > 0) {
            memcpy(buf, out.data, n);
        }
        buf[n] = '\0';
    }
    tw_buf_free(&out);
    return len;
}
