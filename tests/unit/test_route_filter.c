/*
 * test_route_filter.c - route filters (src/route/filter.h): every
 * operator on every type, missing fields, precedence, paths in all their
 * spellings, regex limits, every compile error with its place, the
 * normal form that describe writes, matching from two threads at once,
 * and matching without allocating.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "json/json.h"
#include "obs/logging.h"
#include "route/filter.h"

#include "count_alloc.h"

/* A stored event as the collector writes it (docs/API.md). */
static const char order_event[] =
    "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":\"u1\","
    "\"messageId\":\"m-1\",\"source\":\"top-level\","
    "\"properties\":{\"total\":120.5,\"count\":3,\"precise\":"
    "9007199254740993,\"big\":18446744073709551615,\"neg\":-7,"
    "\"coupon\":null,\"currency\":\"EUR\",\"accent\":\"\\u00e9\","
    "\"flag\":true,\"tags\":[\"a\",\"b\"],"
    "\"items\":[{\"sku\":\"A-1\",\"price\":10},{\"sku\":\"B-2\",\"price\":20}],"
    "\"a/b\":1,\"m~n\":2,\"\":3,\"0\":\"zero\",\"dotted.name\":\"d\","
    "\"Order Total\":9,\"esc\":\"q\\\"b\\\\s\\n\",\"long\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"},"
    "\"context\":{\"page\":{\"url\":\"https://shop.example/checkout?x=1\"},"
    "\"trackway\":{\"source\":\"web\"},\"ip\":\"203.0.113.9\"}}";

static const char page_event[] =
    "{\"type\":\"page\",\"name\":\"Home\",\"anonymousId\":\"a1\","
    "\"properties\":{\"path\":\"/\"},"
    "\"context\":{\"trackway\":{\"source\":\"ios\"}}}";

static struct tw_json_parser *order_parser;
static struct tw_json_parser *page_parser;
static struct tw_json order;
static struct tw_json page;
static struct route_scratch *scratch;

static void suite_setup(void)
{
    obs_log_set_level(OBS_OFF);
    cr_assert_eq(tw_json_parser_new(1 << 16, 0, &order_parser), 0);
    cr_assert_eq(tw_json_parser_new(1 << 16, 0, &page_parser), 0);
    cr_assert_eq(
        tw_json_parse(order_parser, order_event, strlen(order_event), &order),
        0, "%s", tw_err_message());
    cr_assert_eq(
        tw_json_parse(page_parser, page_event, strlen(page_event), &page), 0);
    cr_assert_eq(route_scratch_new(&scratch), 0);
}

static void suite_teardown(void)
{
    route_scratch_free(scratch);
    tw_json_parser_free(order_parser);
    tw_json_parser_free(page_parser);
}

TestSuite(route_filter, .init = suite_setup, .fini = suite_teardown);

static struct route_filter *compile_with(const char *text,
                                         const struct route_filter_options *o)
{
    struct route_filter *filter = NULL;
    struct route_error err;
    int rc = route_filter_compile(text, strlen(text), o, &filter, &err);

    cr_assert_eq(rc, 0, "compile '%s': %u:%u %s", text, err.line, err.column,
                 err.message);
    cr_assert_not_null(filter);
    return filter;
}

static bool matches_event(const char *text, struct tw_json event)
{
    struct route_filter *filter = compile_with(text, NULL);
    bool result = route_filter_match(filter, event, scratch);

    route_filter_free(filter);
    return result;
}

static void expect_match(const char *text)
{
    cr_expect(matches_event(text, order), "'%s' should match", text);
}

static void expect_no_match(const char *text)
{
    cr_expect_not(matches_event(text, order), "'%s' should not match", text);
}

/* Compiling must fail at line 1, column; message must contain needle. */
static void expect_error_at(const char *text, uint32_t line, uint32_t column,
                            const char *needle)
{
    struct route_filter *filter = NULL;
    struct route_error err;
    int rc = route_filter_compile(text, strlen(text), NULL, &filter, &err);

    cr_assert_eq(rc, TW_EINVAL, "'%s' compiled (rc %d)", text, rc);
    cr_assert_null(filter);
    cr_expect_eq(err.line, line, "'%s': line %u, not %u (%s)", text, err.line,
                 line, err.message);
    cr_expect_eq(err.column, column, "'%s': column %u, not %u (%s)", text,
                 err.column, column, err.message);
    cr_expect(strstr(err.message, needle) != NULL,
              "'%s': message \"%s\" lacks \"%s\"", text, err.message, needle);
}

static void expect_error(const char *text, uint32_t column, const char *needle)
{
    expect_error_at(text, 1, column, needle);
}

/* The normal form of text (caller frees). */
static char *describe(const char *text)
{
    struct route_filter *filter = compile_with(text, NULL);
    struct tw_buf out;

    tw_buf_init(&out, 1 << 16);
    cr_assert_eq(route_filter_describe(filter, &out), 0);
    route_filter_free(filter);
    return out.data;
}

static void expect_description(const char *text, const char *expected)
{
    char *first = describe(text);
    char *again = describe(first);

    cr_expect_str_eq(first, expected, "describe '%s'", text);
    cr_expect_str_eq(again, first, "describing '%s' again changed it", first);
    free(first);
    free(again);
}

/* ------------------------------------------------------ names of things -- */

Test(route_filter, type_and_event_compare_with_the_call_type_and_track_name)
{
    expect_match("type == \"track\"");
    expect_match("event == \"Order Completed\"");
    expect_no_match("event == \"order completed\"");
    cr_expect(matches_event("type == \"page\" and name == \"Home\"", page));
    cr_expect_not(matches_event("event == \"Home\"", page));
}

Test(route_filter, source_reads_the_source_trackway_recorded_in_the_context)
{
    expect_match("source == \"web\"");
    expect_no_match("source == \"top-level\"");
    expect_match("/source == \"top-level\"");
    expect_match("context.trackway.source == \"web\"");
    cr_expect(matches_event("source in [\"ios\", \"android\"]", page));
}

/* ------------------------------------------------------------ operators -- */

Test(route_filter, numbers_compare_by_value_whatever_their_spelling)
{
    expect_match("properties.total == 120.5");
    expect_match("properties.total == 1.205e2");
    expect_match("properties.count == 3");
    expect_match("properties.count == 3.0");
    expect_match("properties.neg == -7");
    expect_match("properties.big == 18446744073709551615");
    expect_no_match("properties.big == 18446744073709551614");
    expect_no_match("properties.count == 4");
}

Test(route_filter, ordering_compares_numbers_exactly_across_64_bits)
{
    expect_match("properties.total > 120");
    expect_match("properties.total >= 120.5");
    expect_match("properties.total <= 120.5");
    expect_match("properties.total < 121");
    expect_no_match("properties.total < 120.5");
    expect_no_match("properties.total > 120.5");
    expect_match("properties.neg < 0");
    /* 9007199254740993 is not a double; compared as one it would equal
     * 9007199254740992. */
    expect_match("properties.precise > 9007199254740992");
    expect_no_match("properties.precise == 9007199254740992");
    expect_match("properties.big > 9223372036854775807");
    expect_match("properties.big >= 1.8e19");
}

Test(route_filter, strings_compare_byte_by_byte)
{
    expect_match("properties.currency == \"EUR\"");
    expect_match("properties.currency != \"USD\"");
    expect_match("properties.currency < \"USD\"");
    expect_match("properties.currency > \"EU\"");
    expect_match("properties.currency >= \"EUR\"");
    expect_match("properties.currency <= \"EUR\"");
    expect_no_match("properties.currency < \"EUR\"");
    expect_no_match("properties.currency == \"eur\"");
    /* é is two bytes starting 0xc3, above every ASCII byte. */
    expect_match("properties.accent > \"z\"");
}

Test(route_filter, true_false_and_null_compare_with_equality)
{
    expect_match("properties.flag == true");
    expect_match("properties.flag != false");
    expect_no_match("properties.flag == false");
    expect_match("properties.coupon == null");
    expect_no_match("properties.coupon != null");
}

Test(route_filter, not_equal_holds_only_for_two_values_of_one_type_that_differ)
{
    expect_match("properties.count != 4");
    expect_no_match("properties.count != 3");
    expect_no_match("properties.currency != 5");
    expect_no_match("properties.missing != 5");
    expect_match("not properties.currency == 5");
    expect_match("not properties.missing == 5");
}

Test(route_filter, a_value_of_another_type_makes_every_comparison_false)
{
    static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
    static const char *const pairs[][2] = {
        {"properties.currency", "5"}, {"properties.total", "\"120.5\""},
        {"properties.tags", "\"a\""}, {"properties.items", "1"},
        {"properties", "\"x\""},      {"properties.coupon", "0"},
        {"properties.flag", "1"},     {"properties.count", "\"3\""},
    };
    char text[128];

    for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
        for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
            snprintf(text, sizeof(text), "%s %s %s", pairs[p][0], ops[o],
                     pairs[p][1]);
            expect_no_match(text);
        }
    }
    expect_no_match("properties.flag == null");
    expect_no_match("properties.coupon == false");
    expect_no_match("properties.flag in [1, \"true\"]");
}

Test(route_filter, a_missing_field_makes_every_comparison_false)
{
    static const char *const conditions[] = {
        "properties.missing == 1",         "properties.missing != 1",
        "properties.missing < 1",          "properties.missing >= 1",
        "properties.missing == null",      "properties.missing in [null, 1]",
        "properties.missing matches \"\"", "exists properties.missing",
        "properties.total.deeper == 1",    "nothing.at.all == \"x\"",
    };

    for (size_t i = 0; i < sizeof(conditions) / sizeof(conditions[0]); i++) {
        expect_no_match(conditions[i]);
    }
    expect_match("not exists properties.missing");
}

Test(route_filter, in_holds_when_any_literal_equals_the_value)
{
    expect_match("properties.currency in [\"USD\", \"EUR\"]");
    expect_match("properties.count in [1, 2, 3.0]");
    expect_match("properties.coupon in [false, null]");
    expect_match("properties.flag in [true]");
    expect_no_match("properties.currency in [\"USD\", \"GBP\", 3]");
    expect_match("event in [\"Order Completed\"]");
}

Test(route_filter, exists_holds_for_any_value_null_included)
{
    expect_match("exists properties.coupon");
    expect_match("exists properties.items");
    expect_match("exists properties");
    expect_match("exists /properties/tags/1");
    expect_no_match("exists /properties/tags/2");
}

Test(route_filter, matches_finds_the_pattern_anywhere_unless_anchored)
{
    expect_match("context.page.url matches \"checkout\"");
    expect_match("context.page.url matches \"^https://\"");
    expect_no_match("context.page.url matches \"^checkout\"");
    expect_match("context.page.url matches \"x=\\\\d$\"");
    expect_match("properties.accent matches \"^.$\"");
    expect_no_match("properties.count matches \"3\"");
    expect_no_match("properties.tags matches \"a\"");
}

/* ------------------------------------------------------------ combining -- */

Test(route_filter, and_binds_tighter_than_or_and_not_tighter_than_and)
{
    /* track or (x and Nope): true; (track or x) and Nope would be false. */
    expect_match("type == \"track\" or type == \"x\" and event == \"Nope\"");
    /* (not x) and Nope: false; not (x and Nope) would be true. */
    expect_no_match("not type == \"x\" and event == \"Nope\"");
    expect_match("not type == \"x\" and not event == \"Nope\"");
    expect_match("type == \"x\" or not type == \"x\"");
}

Test(route_filter, parentheses_group_against_precedence)
{
    expect_no_match("(type == \"track\" or type == \"x\") and event == \"N\"");
    expect_match("not (type == \"x\" and event == \"Nope\")");
    expect_match("((((type == \"track\"))))");
    expect_match("not not type == \"track\"");
    expect_no_match("not not not type == \"track\"");
}

Test(route_filter, and_and_or_take_any_number_of_operands)
{
    expect_match("type == \"track\" and properties.count == 3 and "
                 "properties.flag == true and source == \"web\"");
    expect_no_match("type == \"track\" and properties.count == 3 and "
                    "properties.flag == false and source == \"web\"");
    expect_match("type == \"a\" or type == \"b\" or type == \"c\" or "
                 "type == \"track\"");
    expect_no_match("type == \"a\" or type == \"b\" or type == \"c\"");
}

Test(route_filter,
     whitespace_of_any_kind_separates_words_and_operators_need_none)
{
    expect_match("\ttype==\"track\"\r\n and\n(properties.count>=3)");
    expect_match("properties.total>120 and(properties.count<4)");
    expect_error("properties.total>120and a == 1", 18, "'120and' is not");
}

/* ---------------------------------------------------------------- paths -- */

Test(route_filter, json_pointers_decode_tilde_escapes_and_name_empty_members)
{
    expect_match("/properties/a~1b == 1");
    expect_match("/properties/m~0n == 2");
    expect_match("/properties/ == 3");
    expect_match("/properties/total == 120.5");
    expect_match("/properties/dotted.name == \"d\"");
    expect_no_match("/properties/a/b == 1");
}

Test(route_filter, digit_segments_index_arrays_and_name_object_members)
{
    expect_match("properties.items.0.sku == \"A-1\"");
    expect_match("properties.items.1.price == 20");
    expect_match("/properties/items/1/sku == \"B-2\"");
    expect_match("properties.tags.1 == \"b\"");
    expect_no_match("exists properties.items.2");
    expect_no_match("exists properties.tags.01");
    expect_match("properties.0 == \"zero\"");
    expect_no_match("exists /properties/tags/-");
}

Test(route_filter, quoted_paths_reach_names_with_spaces_and_dots)
{
    expect_match("`properties.Order Total` == 9");
    expect_match("`/properties/Order Total` == 9");
    expect_match("`/properties/dotted.name` == \"d\"");
    expect_no_match("`properties.dotted.name` == \"d\"");
}

Test(route_filter, string_literals_decode_json_escapes)
{
    expect_match("properties.esc == \"q\\\"b\\\\s\\n\"");
    expect_match("properties.accent == \"\\u00e9\"");
    expect_match("properties.accent == \"\xc3\xa9\"");
    expect_match("`properties.Order Total` == 9 and "
                 "properties.currency == \"\\u0045UR\"");
}

/* --------------------------------------------------------------- limits -- */

Test(route_filter, a_regex_that_hits_its_match_limit_is_no_match_and_counted)
{
    struct route_filter_options opts = {.regex_match_limit = 1000};
    struct route_filter *filter =
        compile_with("properties.long matches \"^(a+)+$\" or "
                     "properties.currency matches \"^E\"",
                     &opts);
    struct route_filter *stuck =
        compile_with("properties.long matches \"^(a+)+$\"", &opts);
    struct route_filter_stats stats;

    cr_expect(route_filter_match(filter, order, scratch),
              "the second operand still decides");
    cr_expect_not(route_filter_match(stuck, order, scratch));
    cr_expect_not(route_filter_match(stuck, order, scratch));
    route_filter_stats(stuck, &stats);
    cr_expect_eq(stats.regex_limit_hits, 2);
    route_filter_stats(filter, &stats);
    cr_expect_eq(stats.regex_limit_hits, 1);
    route_filter_free(filter);
    route_filter_free(stuck);
}

Test(route_filter, a_regex_within_its_limits_is_not_counted)
{
    struct route_filter *filter =
        compile_with("properties.long matches \"^a+b$\"", NULL);
    struct route_filter_stats stats;

    cr_expect(route_filter_match(filter, order, scratch));
    route_filter_stats(filter, &stats);
    cr_expect_eq(stats.regex_limit_hits, 0);
    route_filter_free(filter);
}

static char *repeat(const char *prefix, const char *unit, size_t n,
                    const char *suffix)
{
    size_t len = strlen(prefix) + strlen(unit) * n + strlen(suffix) + 1;
    char *text = malloc(len);

    cr_assert_not_null(text);
    strcpy(text, prefix);
    for (size_t i = 0; i < n; i++) {
        strcat(text, unit);
    }
    strcat(text, suffix);
    return text;
}

Test(route_filter, nesting_is_refused_past_the_limit_at_the_level_too_deep)
{
    char *at_limit = repeat("", "(", ROUTE_FILTER_MAX_DEPTH, "a == 1");
    char *closed = repeat(at_limit, ")", ROUTE_FILTER_MAX_DEPTH, "");
    char *too_deep = repeat("", "(", ROUTE_FILTER_MAX_DEPTH + 1, "a == 1");
    char *nots = repeat("", "not ", ROUTE_FILTER_MAX_DEPTH + 1, "a == 1");
    char *mixed = repeat("", "not (", ROUTE_FILTER_MAX_DEPTH / 2, "x");

    route_filter_free(compile_with(closed, NULL));
    expect_error(too_deep, ROUTE_FILTER_MAX_DEPTH + 1, "deeper than 32");
    expect_error(nots, ROUTE_FILTER_MAX_DEPTH * 4 + 1, "deeper than 32");
    /* Exactly at the limit, then the missing operator is reported. */
    expect_error(mixed, ROUTE_FILTER_MAX_DEPTH / 2 * 5 + 2,
                 "expected an operator");
    free(at_limit);
    free(closed);
    free(too_deep);
    free(nots);
    free(mixed);
}

Test(route_filter, text_longer_than_the_limit_is_refused)
{
    char *longest = repeat("a == \"", "x", ROUTE_FILTER_MAX_BYTES - 7, "\"");
    char *too_long = repeat("a == \"", "x", ROUTE_FILTER_MAX_BYTES - 6, "\"");

    cr_assert_eq(strlen(longest), ROUTE_FILTER_MAX_BYTES);
    route_filter_free(compile_with(longest, NULL));
    expect_error(too_long, ROUTE_FILTER_MAX_BYTES + 1, "longer than 4096");
    free(longest);
    free(too_long);
}

Test(route_filter, long_chains_and_lists_compile_without_deep_recursion)
{
    char *chain = repeat("a == 0", " or a == 0", 300, " or type == \"track\"");
    char *list = repeat("a in [0", ", 0", ROUTE_FILTER_MAX_LIST - 1, "]");
    char *over = repeat("a in [0", ", 0", ROUTE_FILTER_MAX_LIST, "]");

    expect_match(chain);
    route_filter_free(compile_with(list, NULL));
    /* "a in [0" then ", 0" per literal: the 257th starts at 7 + 3 * 256. */
    expect_error(over, 7 + 3 * ROUTE_FILTER_MAX_LIST, "at most 256");
    free(chain);
    free(list);
    free(over);
}

/* --------------------------------------------------------------- errors -- */

Test(route_filter, syntax_errors_name_the_column_and_what_was_expected)
{
    expect_error("", 1, "expected a condition");
    expect_error("   ", 4, "found the end of the filter");
    expect_error("type = \"track\"", 6, "unknown operator '='");
    expect_error("type =~ \"t\"", 6, "unknown operator '=~'");
    expect_error("type !~ \"t\"", 6, "unknown operator '!~'");
    expect_error("type === \"t\"", 6, "unknown operator '==='");
    expect_error("type contains \"t\"", 6, "unknown operator 'contains'");
    expect_error("type", 5, "expected an operator");
    expect_error("type ==", 8, "expected a literal");
    expect_error("type == and", 9, "expected a literal");
    expect_error("type == \"track\" and", 20, "expected a condition");
    expect_error("type == \"track\" or or", 20, "expected a condition");
    expect_error("type == \"track\" AND a == 1", 17, "found 'AND'");
    expect_error("type == \"track\" type == \"x\"", 17,
                 "expected and, or or the end");
    expect_error("\"track\" == type", 1, "starts with a field path");
    expect_error("5 < properties.total", 1, "starts with a field path");
    expect_error("not", 4, "expected a condition");
    expect_error("exists", 7, "a field path after exists");
    expect_error("exists 5", 8, "a field path after exists");
    expect_error("properties.coupon exists", 19, "exists comes before");
    expect_error("type == 'track'", 9, "unexpected '''");
    expect_error("type == \"track\" & a == 1", 17, "unexpected '&'");
    expect_error("type == \"tr\x01\"", 9, "invalid string");
    expect_error("type\x01 == 1", 5, "control character 0x01");
    expect_error("a matches 5", 11, "a regular expression (a string)");
    expect_error("a matches", 10, "a regular expression");
}

Test(route_filter, unbalanced_parentheses_are_reported_where_they_break)
{
    expect_error("(type == \"track\"", 17,
                 "')' to close the '(' at line 1, "
                 "column 1");
    expect_error("((a == 1) or (b == 2)", 22, "column 1");
    expect_error("(a == 1) or (b == 2", 20, "column 13");
    expect_error("type == \"track\")", 16, "no '(' before it");
    expect_error("()", 2, "expected a condition");
    expect_error("(a == 1))", 9, "no '(' before it");
}

Test(route_filter, literal_errors_name_the_literal)
{
    expect_error("a == \"open", 6, "never closed");
    expect_error("a == \"bad \\x escape\"", 6, "invalid string");
    expect_error("a == \"\\ud800\"", 6, "invalid string");
    expect_error("a == 01", 6, "'01' is not a number");
    expect_error("a == 1.", 6, "'1.' is not a number");
    expect_error("a == 1e400", 6, "is not a number");
    expect_error("a == 99999999999999999999", 6, "is not a number");
    expect_error("a == -", 6, "'-' is not a number");
    expect_error("a == 12abc", 6, "'12abc' is not a number");
    expect_error("a == True", 6, "expected a literal");
}

Test(route_filter, semantic_errors_are_compile_errors_at_their_operand)
{
    expect_error("a < true", 5, "compare true, false and null with ==");
    expect_error("a >= null", 6, "orders numbers and strings");
    expect_error("a in []", 7, "at least one literal");
    expect_error("a in [1, 2", 11, "',' or ']'");
    expect_error("a in [1 2]", 9, "',' or ']'");
    expect_error("a in [1,]", 9, "expected a literal");
    expect_error("a in 1", 6, "'[' to start the list");
    expect_error("a in [b]", 7, "expected a literal");
    expect_error("a matches \"(\"", 11, "invalid regular expression");
    expect_error("a matches \"[z-a]\"", 11, "invalid regular expression");
}

Test(route_filter, path_errors_point_into_the_path)
{
    expect_error("properties..total == 1", 11, "empty segment");
    expect_error("properties. == 1", 11, "cannot end with '.'");
    expect_error("/a~2 == 1", 3, "'~' in a JSON Pointer");
    expect_error("/a~ == 1", 3, "'~' in a JSON Pointer");
    expect_error("`` == 1", 2, "a path cannot be empty");
    expect_error("`a..b` == 1", 3, "empty segment");
    expect_error("`/x``y/~9` == 1", 8, "'~' in a JSON Pointer");
    expect_error("`a == 1", 1, "quoted path is never closed");
    expect_error("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a1.b1."
                 "c1.d1.e1.f1.g1 == 1",
                 70, "more than 32 segments");
}

Test(route_filter, errors_on_later_lines_give_the_line_and_the_column_there)
{
    expect_error_at("type == \"track\"\n  and properties.total = 5", 2, 24,
                    "unknown operator");
    expect_error_at("(a == 1 or\n b == 2", 2, 8, "line 1, column 1");
}

Test(route_filter, columns_count_characters_not_bytes)
{
    expect_error("pr\xc3\xa9.x == \"\xc3\xa9t\xc3\xa9\" and", 19,
                 "expected a condition");
    expect_error("\xc3\xa9t\xc3\xa9 = 1", 5, "unknown operator");
}

Test(route_filter, invalid_utf8_in_a_path_is_refused)
{
    expect_error("pr\xff == 1", 1, "UTF-8");
}

Test(route_filter, the_error_message_of_the_thread_carries_the_column)
{
    struct route_filter *filter = NULL;
    struct route_error err;

    cr_assert_eq(route_filter_compile("a ==", 4, NULL, &filter, &err),
                 TW_EINVAL);
    cr_expect_str_eq(tw_err_message(),
                     "column 5: expected a literal (a string, a number, "
                     "true, false or null) after ==, found the end of the "
                     "filter");
}

/* Errors at the very end of the text read nothing past it (ASan checks). */
Test(route_filter, text_is_read_only_within_its_length)
{
    static const char *const texts[] = {"type",     "a ==",   "(a == 1",  "not",
                                        "a in [1,", "exists", "a matches"};

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        size_t len = strlen(texts[i]);
        char *exact = malloc(len);
        struct route_filter *filter = NULL;
        struct route_error err;

        cr_assert_not_null(exact);
        memcpy(exact, texts[i], len);
        cr_expect_eq(route_filter_compile(exact, len, NULL, &filter, &err),
                     TW_EINVAL);
        cr_expect(strstr(err.message, "the end of the filter") != NULL, "%s",
                  err.message);
        free(exact);
    }
}

Test(route_filter, text_need_not_be_terminated)
{
    const char text[] = {'a', ' ', '=', '=', ' ', '1', 'X'};
    struct route_filter *filter = NULL;
    struct route_error err;

    cr_assert_eq(route_filter_compile(text, 6, NULL, &filter, &err), 0, "%s",
                 err.message);
    route_filter_free(filter);
    cr_assert_eq(route_filter_compile(text, 4, NULL, &filter, &err), TW_EINVAL);
    cr_expect_eq(err.column, 5);
}

/* ------------------------------------------------------------- describe -- */

Test(route_filter, describe_writes_the_normal_form_with_needed_parentheses_only)
{
    expect_description("type==\"track\"", "type == \"track\"");
    expect_description("a == 1 or b == 2 and c == 3",
                       "a == 1 or b == 2 and c == 3");
    expect_description("(a == 1 or b == 2) and c == 3",
                       "(a == 1 or b == 2) and c == 3");
    expect_description("((a == 1 and b == 2)) and (c == 3)",
                       "a == 1 and b == 2 and c == 3");
    expect_description("(a == 1 or (b == 2 or c == 3))",
                       "a == 1 or b == 2 or c == 3");
    expect_description("not (a == 1)", "not a == 1");
    expect_description("not (a == 1 and b == 2)", "not (a == 1 and b == 2)");
    expect_description("not (a == 1 or b == 2) or c == 3",
                       "not (a == 1 or b == 2) or c == 3");
    expect_description("not not a == 1", "not not a == 1");
    expect_description("exists   properties.coupon",
                       "exists properties.coupon");
    expect_description("a in [1,2.50,\"x\",true,null,-0.0,1E3]",
                       "a in [1, 2.5, \"x\", true, null, -0.0, 1000.0]");
    expect_description("a != 18446744073709551615",
                       "a != 18446744073709551615");
    expect_description("a matches \"^\\\\d+$\"", "a matches \"^\\\\d+$\"");
    expect_description("a == \"\\u00e9\\t\\\"\"", "a == \"\xc3\xa9\\t\\\"\"");
}

Test(route_filter, describe_spells_each_path_the_plainest_way_that_reads_back)
{
    expect_description("/properties/total == 1", "properties.total == 1");
    expect_description("source == \"web\"",
                       "context.trackway.source == \"web\"");
    expect_description("/source == 1", "/source == 1");
    expect_description("`in` == 1", "/in == 1");
    expect_description("in.x == 1", "in.x == 1");
    expect_description("/0/a == 1", "/0/a == 1");
    expect_description("items.0.sku == 1", "items.0.sku == 1");
    expect_description("/a~1b/c~0d == 1", "/a~1b/c~0d == 1");
    expect_description("`a.Order Total` == 1", "`/a/Order Total` == 1");
    expect_description("`/a``b` == 1", "`/a``b` == 1");
    expect_description("/a/ == 1", "/a/ == 1");
    expect_description("pr\xc3\xa9.x == 1", "pr\xc3\xa9.x == 1");
    expect_description("`/a(b)` == 1", "`/a(b)` == 1");
}

Test(route_filter, a_description_compiles_to_a_filter_that_matches_the_same)
{
    static const char *const filters[] = {
        "type == \"track\" and (properties.total > 100 or not exists "
        "properties.coupon)",
        "`/properties/Order Total` in [9, 10] or /properties/a~1b == 1",
        "source == \"web\" and context.page.url matches \"checkout\"",
        "not (properties.currency < \"F\" and properties.flag == true)",
    };

    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        char *text = describe(filters[i]);

        cr_expect_eq(matches_event(text, order),
                     matches_event(filters[i], order), "'%s' vs '%s'", text,
                     filters[i]);
        cr_expect_eq(matches_event(text, page),
                     matches_event(filters[i], page));
        free(text);
    }
}

/* -------------------------------------------------------------- threads -- */

struct thread_run {
    const struct route_filter *filter;
    const struct tw_json *events;
    size_t event_count;
    const bool *expected;
    int rounds;
    int mismatches;
};

static void *match_many(void *arg)
{
    struct thread_run *run = arg;
    struct route_scratch *own;

    cr_assert_eq(route_scratch_new(&own), 0);
    for (int r = 0; r < run->rounds; r++) {
        for (size_t e = 0; e < run->event_count; e++) {
            bool got = route_filter_match(run->filter, run->events[e], own);

            run->mismatches += got != run->expected[e];
        }
    }
    route_scratch_free(own);
    return NULL;
}

Test(route_filter, one_compiled_filter_matches_from_two_threads_at_once)
{
    struct route_filter_options opts = {.regex_match_limit = 500};
    struct route_filter *filter = compile_with(
        "(type == \"track\" and properties.total > 100 and "
        "context.page.url matches \"check(out)?\") or "
        "(source in [\"ios\", \"android\"] and name matches \"^H\") or "
        "properties.long matches \"^(a|aa)+$\"",
        &opts);
    struct tw_json events[] = {order, page};
    bool expected[2];
    struct thread_run runs[2];
    pthread_t threads[2];
    struct route_filter_stats stats;
    const int rounds = 5000;

    for (size_t e = 0; e < 2; e++) {
        expected[e] = route_filter_match(filter, events[e], scratch);
    }
    cr_assert(expected[0] && expected[1]);
    route_filter_stats(filter, &stats);
    cr_assert_eq(stats.regex_limit_hits, 0, "order matches before the regex");

    for (int t = 0; t < 2; t++) {
        runs[t] = (struct thread_run){filter, events, 2, expected, rounds, 0};
        cr_assert_eq(pthread_create(&threads[t], NULL, match_many, &runs[t]),
                     0);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(threads[t], NULL);
        cr_expect_eq(runs[t].mismatches, 0, "thread %d", t);
    }
    route_filter_free(filter);
}

Test(route_filter, regex_limit_hits_from_two_threads_are_all_counted)
{
    struct route_filter_options opts = {.regex_match_limit = 200};
    struct route_filter *filter =
        compile_with("properties.long matches \"^(a+)+$\"", &opts);
    bool expected[] = {false};
    struct thread_run runs[2];
    pthread_t threads[2];
    struct route_filter_stats stats;
    const int rounds = 2000;

    for (int t = 0; t < 2; t++) {
        runs[t] = (struct thread_run){filter, &order, 1, expected, rounds, 0};
        cr_assert_eq(pthread_create(&threads[t], NULL, match_many, &runs[t]),
                     0);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(threads[t], NULL);
        cr_expect_eq(runs[t].mismatches, 0);
    }
    route_filter_stats(filter, &stats);
    cr_expect_eq(stats.regex_limit_hits, 2 * rounds);
    route_filter_free(filter);
}

/* ----------------------------------------------------------- allocation -- */

Test(route_filter, matching_allocates_nothing)
{
#if !COUNT_ALLOC_AVAILABLE
    cr_skip_test("ASan owns malloc; the release build counts allocations");
#else
    struct route_filter *filter = compile_with(
        "type == \"track\" and properties.items.1.price >= 20 and "
        "`properties.Order Total` in [8, 9] and not exists properties.x and "
        "(context.page.url matches \"^https://[a-z.]+/check\" or a == 1) and "
        "properties.long matches \"(a|b)+$\"",
        NULL);
    bool all = true;
    void *volatile probe;
    long calls;

    cr_assert(route_filter_match(filter, order, scratch));
    count_alloc_start();
    probe = malloc(16); /* the count must see an allocation to mean much */
    free(probe);
    cr_assert_eq(count_alloc_stop(), 1);
    count_alloc_start();
    for (int i = 0; i < 1000; i++) {
        all = route_filter_match(filter, order, scratch) && all;
        all = !route_filter_match(filter, page, scratch) && all;
    }
    calls = count_alloc_stop();
    cr_expect(all);
    cr_expect_eq(calls, 0, "%ld allocations", calls);
    route_filter_free(filter);
#endif
}
