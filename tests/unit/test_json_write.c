/*
 * test_json_write.c - the JSON writer (json_write.h): strings escaped
 * wherever the special byte falls, numbers in exact short text, parsed
 * documents written back whole, and the byte buffer's one-byte append.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "json/json.h"
#include "json/json_write.h"

/* The escaping RFC 8259 asks for, one byte at a time, as a reference. */
static void escape_slowly(const char *text, size_t len, char *out)
{
    char *p = out;

    *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c == '\n') {
            p += sprintf(p, "\\n");
        } else if (c == '\r') {
            p += sprintf(p, "\\r");
        } else if (c == '\t') {
            p += sprintf(p, "\\t");
        } else if (c < 0x20) {
            p += sprintf(p, "\\u%04x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    *p = '\0';
}

Test(json_write, strings_are_escaped_wherever_the_special_byte_falls)
{
    static const char specials[] = {'"',  '\\', '\n', '\r', '\t',
                                    0x01, 0x1f, 0x00, 0x7f, (char)0xc3};
    char text[40];
    char expected[300];
    struct tw_buf out;

    tw_buf_init(&out, 1024);
    for (size_t len = 1; len <= 33; len++) {
        for (size_t at = 0; at < len; at++) {
            for (size_t s = 0; s < sizeof(specials); s++) {
                memset(text, 'a', len);
                text[at] = specials[s];
                /* A second special near the end, past a word boundary. */
                if (len > 9) {
                    text[len - 1] = '"';
                }
                escape_slowly(text, len, expected);
                tw_buf_reset(&out);
                tw_jw_string(&out, text, len);
                cr_assert_eq(out.len, strlen(expected), "len %zu at %zu", len,
                             at);
                cr_assert_str_eq(out.data, expected);
            }
        }
    }
    tw_buf_free(&out);
}

Test(json_write, doubles_take_the_fewest_decimals_that_read_back_exactly)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {89.99, "89.99"},
        {-12.5, "-12.5"},
        {0.05, "0.05"},
        {0.0001, "0.0001"},
        {5.0, "5.0"},
        {123456789.125, "123456789.125"},
        {999999999999999.0, "999999999999999.0"},
        {1e15, "1e+15"},
        {-2.5e-7, "-2.5e-07"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
    };
    struct tw_buf out;

    tw_buf_init(&out, 256);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tw_buf_reset(&out);
        tw_jw_double(&out, cases[i].value);
        cr_assert_str_eq(out.data, cases[i].text);
    }
    tw_buf_free(&out);
}

Test(json_write, every_double_written_reads_back_as_the_same_double)
{
    struct tw_buf out;
    uint64_t state = 88172645463325252u;
    char *end;

    tw_buf_init(&out, 256);
    for (int i = 0; i < 200000; i++) {
        double value;

        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        /* Prices and ratios with up to 7 decimals, and arbitrary bits. */
        if (i % 2 == 0) {
            value = (double)(int64_t)(state % 2000000000) /
                    pow(10, (double)((state >> 60) % 8));
        } else {
            memcpy(&value, &state, sizeof(value));
            if (!isfinite(value)) {
                continue;
            }
        }
        tw_buf_reset(&out);
        tw_jw_double(&out, value);
        cr_assert_eq(strtod(out.data, &end), value, "%s", out.data);
        cr_assert_eq(*end, '\0', "%s", out.data);
    }
    tw_buf_free(&out);
}

Test(json_write, integers_are_written_in_full_down_to_the_most_negative)
{
    static const struct {
        int64_t value;
        const char *text;
    } cases[] = {
        {0, "0"},
        {-1, "-1"},
        {1234567890, "1234567890"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    struct tw_buf out;

    tw_buf_init(&out, 256);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tw_buf_reset(&out);
        tw_jw_int(&out, cases[i].value);
        cr_assert_str_eq(out.data, cases[i].text);
    }
    tw_buf_free(&out);
}

Test(json_write, a_parsed_document_is_written_back_minified_and_whole)
{
    static const char text[] =
        "{ \"n\": [0, -7, 18446744073709551615, 2.5, 1e-9, true, null],"
        " \"s\": \"a\\\"b\\\\c\\u0001d\\u00e9\", \"o\": {} }";
    static const char expected[] =
        "{\"n\":[0,-7,18446744073709551615,2.5,1e-09,true,null],"
        "\"s\":\"a\\\"b\\\\c\\u0001d\xc3\xa9\",\"o\":{}}";
    struct tw_json_parser *parser;
    struct tw_json root;
    struct tw_buf out;

    cr_assert_eq(tw_json_parser_new(1 << 16, 0, &parser), 0);
    cr_assert_eq(tw_json_parse(parser, text, strlen(text), &root), 0);
    tw_buf_init(&out, 1024);
    tw_jw_value(&out, root);
    cr_assert_str_eq(out.data, expected);
    tw_buf_free(&out);
    tw_json_parser_free(parser);
}

Test(json_write, one_byte_appends_stop_at_the_ceiling_and_grow_before_it)
{
    struct tw_buf out;

    tw_buf_init(&out, 300);
    for (int i = 0; i < 300; i++) {
        tw_buf_putc(&out, (char)('a' + i % 26));
    }
    cr_assert_eq(tw_buf_status(&out), 0);
    cr_assert_eq(out.len, 300);
    cr_assert_eq(out.data[300], '\0');
    cr_assert_eq(out.data[299], (char)('a' + 299 % 26));
    tw_buf_putc(&out, 'z');
    cr_assert_eq(out.len, 300);
    cr_assert_eq(tw_buf_status(&out), TW_EFULL);
    tw_buf_free(&out);
}
