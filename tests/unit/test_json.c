/*
 * test_json.c - the JSON interface (json.h): what parses, what is refused
 * and why, types and numbers, walking in document order, and JSON Schema
 * equality.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "json/json.h"

static struct tw_json_parser *parser;

static void parser_setup(void)
{
    cr_assert_eq(tw_json_parser_new(1 << 20, 0, &parser), 0);
}

static void parser_teardown(void)
{
    tw_json_parser_free(parser);
}

TestSuite(json, .init = parser_setup, .fini = parser_teardown);

/* Parses text (which must parse) with the suite's parser. */
static struct tw_json parse_ok(const char *text)
{
    struct tw_json root;
    int rc = tw_json_parse(parser, text, strlen(text), &root);

    cr_assert_eq(rc, 0, "parse %s: %s", text, tw_err_message());
    return root;
}

/* Parses bytes that must be refused; returns the code. */
static int parse_fails(const char *bytes, size_t len)
{
    struct tw_json root;
    int rc = tw_json_parse(parser, bytes, len, &root);

    cr_assert_lt(rc, 0, "parsed although invalid: %.*s", (int)len, bytes);
    return rc;
}

/* "[[[...0...]]]" nested depth arrays deep; the caller frees it. */
static char *nested_arrays(size_t depth)
{
    char *s = malloc(2 * depth + 2);

    cr_assert_not_null(s);
    memset(s, '[', depth);
    s[depth] = '0';
    memset(s + depth + 1, ']', depth);
    s[2 * depth + 1] = '\0';
    return s;
}

Test(json, values_have_the_types_and_values_written)
{
    struct tw_json root = parse_ok("{\"n\":null,\"t\":true,\"f\":false,\"i\":-"
                                   "42,\"u\":18446744073709551615,"
                                   "\"d\":2.5,\"s\":\"x\",\"a\":[],\"o\":{}}");
    struct tw_json v;

    cr_assert_eq(tw_json_type(root), TW_JSON_OBJECT);
    cr_assert(tw_json_get(root, "n", &v));
    cr_assert_eq(tw_json_type(v), TW_JSON_NULL);
    cr_assert(tw_json_get(root, "t", &v));
    cr_assert(tw_json_bool(v));
    cr_assert(tw_json_get(root, "f", &v));
    cr_assert_not(tw_json_bool(v));
    cr_assert(tw_json_get(root, "i", &v));
    cr_assert_eq(tw_json_type(v), TW_JSON_INT);
    cr_assert_eq(tw_json_int(v), -42);
    cr_assert(tw_json_get(root, "u", &v));
    cr_assert_eq(tw_json_type(v), TW_JSON_UINT);
    cr_assert_eq(tw_json_uint(v), UINT64_MAX);
    cr_assert(tw_json_get(root, "d", &v));
    cr_assert_eq(tw_json_type(v), TW_JSON_DOUBLE);
    cr_assert_float_eq(tw_json_number(v), 2.5, 0.0);
    cr_assert(tw_json_get(root, "a", &v));
    cr_assert_eq(tw_json_type(v), TW_JSON_ARRAY);
    cr_assert_eq(tw_json_count(v), 0);
    cr_assert_not(tw_json_get(root, "missing", &v));
}

Test(json, integers_take_the_narrowest_type_that_holds_them)
{
    struct tw_json v = parse_ok("9223372036854775807");

    cr_assert_eq(tw_json_type(v), TW_JSON_INT);
    cr_assert_eq(tw_json_int(v), INT64_MAX);
    v = parse_ok("9223372036854775808");
    cr_assert_eq(tw_json_type(v), TW_JSON_UINT);
    cr_assert_eq(tw_json_uint(v), (uint64_t)INT64_MAX + 1);
    v = parse_ok("-9223372036854775808");
    cr_assert_eq(tw_json_type(v), TW_JSON_INT);
    cr_assert_eq(tw_json_int(v), INT64_MIN);
}

Test(json, numbers_beyond_64_bit_integers_are_refused_with_a_reason)
{
    cr_assert_eq(parse_fails("18446744073709551616", 20), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "number") != NULL, "%s",
              tw_err_message());
    cr_assert_eq(parse_fails("-9223372036854775809", 20), TW_EINVAL);
    cr_assert_eq(parse_fails("[1e400]", 7), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "out of range") != NULL, "%s",
              tw_err_message());
}

Test(json, a_whole_number_written_as_a_fraction_is_integral)
{
    cr_assert(tw_json_is_integral(parse_ok("1.0")));
    cr_assert(tw_json_is_integral(parse_ok("-3e2")));
    cr_assert(tw_json_is_integral(parse_ok("7")));
    cr_assert_not(tw_json_is_integral(parse_ok("1.5")));
    cr_assert_not(tw_json_is_integral(parse_ok("\"1\"")));
    cr_assert_eq(tw_json_type(parse_ok("1.0")), TW_JSON_DOUBLE);
    cr_assert_str_eq(tw_json_type_name(TW_JSON_DOUBLE), "number");
    cr_assert_str_eq(tw_json_type_name(TW_JSON_UINT), "integer");
}

Test(json, strings_keep_embedded_nul_bytes_and_their_length)
{
    struct tw_json root = parse_ok("{\"a\\u0000b\":\"x\\u0000y\\u00e9\"}");
    struct tw_json_iter it;
    struct tw_json value;
    const char *key;
    const char *s;
    size_t key_len;
    size_t len;

    tw_json_iter_init(&it, root);
    cr_assert(tw_json_object_next(&it, &key, &key_len, &value));
    cr_assert_eq(key_len, 3);
    cr_assert_eq(memcmp(key, "a\0b", 4), 0);
    s = tw_json_string(value, &len);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(s, "x\0y\xc3\xa9", 6), 0);
    cr_assert_eq(s[len], '\0');

    cr_assert(tw_json_object_get(root, "a\0b", 3, &value));
    cr_assert_not(tw_json_object_get(root, "a", 1, &value));
}

Test(json, members_and_elements_come_in_document_order)
{
    struct tw_json root =
        parse_ok("{\"z\":1,\"a\":2,\"m\":[10,\"x\",null],\"b\":4,\"z\":5}");
    static const char *const names[] = {"z", "a", "m", "b", "z"};
    struct tw_json_iter it;
    struct tw_json value;
    struct tw_json element;
    const char *key;
    size_t key_len;
    size_t i = 0;

    cr_assert_eq(tw_json_count(root), 5);
    tw_json_iter_init(&it, root);
    while (tw_json_object_next(&it, &key, &key_len, &value)) {
        cr_assert_lt(i, 5);
        cr_assert_str_eq(key, names[i]);
        cr_assert_eq(key_len, 1);
        i++;
    }
    cr_assert_eq(i, 5);
    cr_assert_not(tw_json_object_next(&it, &key, &key_len, &value));

    /* The first of two members with one name is the one found. */
    cr_assert(tw_json_get(root, "z", &value));
    cr_assert_eq(tw_json_int(value), 1);

    cr_assert(tw_json_get(root, "m", &value));
    cr_assert_eq(tw_json_count(value), 3);
    tw_json_iter_init(&it, value);
    cr_assert(tw_json_array_next(&it, &element));
    cr_assert_eq(tw_json_int(element), 10);
    cr_assert(tw_json_array_next(&it, &element));
    cr_assert_eq(tw_json_type(element), TW_JSON_STRING);
    cr_assert(tw_json_array_next(&it, &element));
    cr_assert_eq(tw_json_type(element), TW_JSON_NULL);
    cr_assert_not(tw_json_array_next(&it, &element));
}

Test(json, nesting_up_to_the_limit_parses_and_one_more_is_refused)
{
    struct tw_json_parser *shallow;
    struct tw_json root;
    char *ok = nested_arrays(5);
    char *deep = nested_arrays(6);

    cr_assert_eq(tw_json_parser_new(1024, 5, &shallow), 0);
    cr_assert_eq(tw_json_parse(shallow, ok, strlen(ok), &root), 0, "%s",
                 tw_err_message());
    cr_assert_eq(tw_json_parse(shallow, deep, strlen(deep), &root), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "deeper than 5 levels") != NULL, "%s",
              tw_err_message());
    tw_json_parser_free(shallow);
    free(ok);
    free(deep);
}

Test(json, the_default_depth_limit_is_64)
{
    char *ok = nested_arrays(TW_JSON_DEPTH_DEFAULT);
    char *deep = nested_arrays(TW_JSON_DEPTH_DEFAULT + 1);

    parse_ok(ok);
    cr_assert_eq(parse_fails(deep, strlen(deep)), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "deeper than 64 levels") != NULL, "%s",
              tw_err_message());
    free(ok);
    free(deep);
}

Test(json, a_document_over_max_bytes_is_refused_as_full)
{
    struct tw_json_parser *small;
    struct tw_json root;
    char text[200];

    memset(text, ' ', sizeof(text));
    text[0] = '1';
    cr_assert_eq(tw_json_parser_new(100, 0, &small), 0);
    cr_assert_eq(tw_json_parse(small, text, 100, &root), 0, "%s",
                 tw_err_message());
    cr_assert_eq(tw_json_parse(small, text, 101, &root), TW_EFULL);
    cr_assert(strstr(tw_err_message(), "101 bytes") != NULL, "%s",
              tw_err_message());
    tw_json_parser_free(small);
}

Test(json, a_parser_for_tiny_documents_still_parses_them)
{
    struct tw_json_parser *tiny;
    struct tw_json root;

    cr_assert_eq(tw_json_parser_new(3, 0, &tiny), 0);
    cr_assert_eq(tw_json_parse(tiny, "[1]", 3, &root), 0, "%s",
                 tw_err_message());
    cr_assert_eq(tw_json_count(root), 1);
    cr_assert_eq(tw_json_parse(tiny, "[12]", 4, &root), TW_EFULL);
    tw_json_parser_free(tiny);
}

Test(json, invalid_utf8_is_refused_wherever_it_is)
{
    static const char *const bad[] = {
        "\"\xff\"",                     /* never valid */
        "\"\xc0\xaf\"",                 /* overlong "/" */
        "\"\xed\xa0\x80\"",             /* an encoded surrogate */
        "\"abc\xe2\x82\"",              /* cut short */
        "{\"\xf8\x88\x80\x80\x80\":1}", /* five bytes, in a key */
        "[1, \"\xf4\x90\x80\x80\"]",    /* above U+10FFFF */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(parse_fails(bad[i], strlen(bad[i])), TW_EINVAL);
        cr_assert(strstr(tw_err_message(), "UTF-8") != NULL, "case %zu: %s", i,
                  tw_err_message());
    }
}

Test(json, anything_but_exactly_one_json_value_is_refused)
{
    static const char *const bad[] = {
        "",        "   ", "[1,,2]",   "tru",     "1 2", "{\"a\":1,}", "[1]x",
        "{'a':1}", "NaN", "\"a\tb\"", "\"\\x\"", "01",  "{\"a\"}",    "[",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(parse_fails(bad[i], strlen(bad[i])), TW_EINVAL, "case %zu",
                     i);
        cr_assert_neq(strlen(tw_err_message()), 0);
    }
}

Test(json, parsing_needs_no_terminator_and_reads_only_len_bytes)
{
    /* The value ends where len says, even with more text after it. */
    static const char text[] = "[1,2]garbage";
    struct tw_json root;

    cr_assert_eq(tw_json_parse(parser, text, 5, &root), 0, "%s",
                 tw_err_message());
    cr_assert_eq(tw_json_count(root), 2);
}

Test(json, equality_follows_json_schema)
{
    static const struct {
        const char *a;
        const char *b;
        bool equal;
    } cases[] = {
        {"1", "1.0", true},
        {"0", "-0.0", true},
        {"1", "1.5", false},
        {"1", "true", false},
        {"0", "false", false},
        {"null", "null", true},
        {"18446744073709551615", "18446744073709551615", true},
        {"18446744073709551615", "-1", false},
        {"9007199254740993", "9007199254740992.0", false},
        {"\"a\"", "\"a\"", true},
        {"\"a\"", "\"A\"", false},
        {"\"a\\u0000b\"", "\"a\\u0000c\"", false},
        {"[1,2]", "[1,2]", true},
        {"[1,2]", "[2,1]", false},
        {"[1,2]", "[1,2,3]", false},
        {"[[1]]", "[[1.0]]", true},
        {"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", true},
        {"{\"a\":1,\"b\":2}", "{\"a\":1,\"b\":3}", false},
        {"{\"a\":1}", "{\"a\":1,\"b\":2}", false},
        {"{\"a\":1,\"a\":1}", "{\"a\":1,\"b\":1}", false},
        {"{\"a\":{\"x\":[1]}}", "{\"a\":{\"x\":[1.0]}}", true},
        {"{}", "[]", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tw_json_parser *other;
        struct tw_json a = parse_ok(cases[i].a);
        struct tw_json b;

        cr_assert_eq(tw_json_parser_new(1024, 0, &other), 0);
        cr_assert_eq(tw_json_parse(other, cases[i].b, strlen(cases[i].b), &b),
                     0);
        cr_assert_eq(tw_json_equal(a, b), cases[i].equal, "%s vs %s",
                     cases[i].a, cases[i].b);
        cr_assert_eq(tw_json_equal(b, a), cases[i].equal, "%s vs %s",
                     cases[i].b, cases[i].a);
        tw_json_parser_free(other);
    }
}

Test(json, a_parser_is_reused_for_documents_of_growing_size)
{
    size_t n = 50000;
    char *text = malloc(2 * n + 2);
    struct tw_json root;

    cr_assert_not_null(text);
    parse_ok("[1]");
    text[0] = '[';
    for (size_t i = 0; i < n; i++) {
        text[1 + 2 * i] = '7';
        text[2 + 2 * i] = ',';
    }
    text[2 * n] = ']';
    cr_assert_eq(tw_json_parse(parser, text, 2 * n + 1, &root), 0, "%s",
                 tw_err_message());
    cr_assert_eq(tw_json_count(root), n);
    root = parse_ok("{\"small\":true}");
    cr_assert_eq(tw_json_count(root), 1);
    free(text);
}

Test(json, values_are_written_back_as_compact_json)
{
    struct tw_json root = parse_ok(
        "{ \"s\" : \"a\\\"b\\\\c\\n\\u0001\\u00e9\", \"n\" : [ 1 , -2 , 1.0 ,"
        " 0.1 , 1e300 , 18446744073709551615 ], \"o\" : { } , \"t\" : true,"
        " \"z\" : null }");
    static const char want[] =
        "{\"s\":\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\",\"n\":[1,-2,1.0,0.1,"
        "1e+300,18446744073709551615],\"o\":{},\"t\":true,\"z\":null}";
    char buf[256];
    char small[8];

    cr_assert_eq(tw_json_write(root, buf, sizeof(buf)), strlen(want));
    cr_assert_str_eq(buf, want);

    /* Cut like snprintf: terminated, and the full length still told. */
    cr_assert_eq(tw_json_write(root, small, sizeof(small)), strlen(want));
    cr_assert_str_eq(small, "{\"s\":\"a");
}

Test(json, a_double_has_a_shortest_decimal_form)
{
    static const struct {
        double d;
        uint64_t digits;
        int32_t exp10;
    } cases[] = {
        {0.1, 1, -1},
        {0.3, 3, -1},
        {19.99, 1999, -2},
        {1e308, 1, 308},
        {-2.5, 25, -1},
        {100.0, 1, 2},
        {0.0, 0, 0},
        {5e-324, 5, -324},
        {123456789.0, 123456789, 0},
        {0.1 + 0.2, 30000000000000004, -17},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t digits;
        int32_t exp10;

        tw_json_double_decimal(cases[i].d, &digits, &exp10);
        cr_assert_eq(digits, cases[i].digits, "case %zu: %llu", i,
                     (unsigned long long)digits);
        cr_assert_eq(exp10, cases[i].exp10, "case %zu: %d", i, exp10);
    }
}

Test(json, member_names_can_be_walked_as_string_values)
{
    struct tw_json root = parse_ok("{\"first\":1,\"x\\u0000y\":[2]}");
    struct tw_json_iter it;
    struct tw_json key;
    struct tw_json value;
    const char *s;
    size_t len;

    tw_json_iter_init(&it, root);
    cr_assert(tw_json_object_next_entry(&it, &key, &value));
    cr_assert_eq(tw_json_type(key), TW_JSON_STRING);
    s = tw_json_string(key, &len);
    cr_assert_eq(len, 5);
    cr_assert_str_eq(s, "first");
    cr_assert_eq(tw_json_int(value), 1);
    cr_assert(tw_json_object_next_entry(&it, &key, &value));
    s = tw_json_string(key, &len);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(s, "x\0y", 3), 0);
    cr_assert_eq(tw_json_type(value), TW_JSON_ARRAY);
    cr_assert_not(tw_json_object_next_entry(&it, &key, &value));
}
