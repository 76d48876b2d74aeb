/*
 * test_schema.c - what the JSON Schema Test Suite does not check: the
 * violations a person reads (pointers, keywords, locations, messages),
 * the bound on how many are kept, where compile errors point, the limits
 * that stop hostile schemas, and validating from two threads at once.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "json/json.h"
#include "schema/schema.h"

static struct tw_json_parser *instance_parser;

static void suite_setup(void)
{
    cr_assert_eq(tw_json_parser_new(1 << 20, 0, &instance_parser), 0);
}

static void suite_teardown(void)
{
    tw_json_parser_free(instance_parser);
}

TestSuite(schema, .init = suite_setup, .fini = suite_teardown);

static struct tw_schema *compile_with(const struct tw_schema_registry *reg,
                                      const char *text,
                                      const struct tw_schema_options *opts)
{
    struct tw_schema_error err;
    struct tw_schema *schema;
    int rc = tw_schema_compile(reg, text, strlen(text), opts, &schema, &err);

    cr_assert_eq(rc, 0, "compile %s: %s", text, tw_err_message());
    return schema;
}

static struct tw_schema *compile(const char *text)
{
    return compile_with(NULL, text, NULL);
}

/* Compiles text, which must fail; returns the code, fills err. */
static int compile_fails(const char *text, struct tw_schema_error *err)
{
    struct tw_schema *schema = NULL;
    int rc = tw_schema_compile(NULL, text, strlen(text), NULL, &schema, err);

    cr_assert_lt(rc, 0, "compiled although it should not: %s", text);
    cr_assert_null(schema);
    return rc;
}

static struct tw_json instance(const char *text)
{
    struct tw_json root;

    cr_assert_eq(tw_json_parse(instance_parser, text, strlen(text), &root), 0,
                 "instance %s: %s", text, tw_err_message());
    return root;
}

/* Validates; the result is the caller's (it is large). */
static void check(const struct tw_schema *schema, const char *text,
                  struct tw_schema_result *result)
{
    cr_assert_eq(tw_schema_validate(schema, instance(text), result), 0);
    cr_assert_eq(result->valid, result->total == 0, "valid %d, total %u",
                 result->valid, result->total);
}

static void expect_violation(const struct tw_schema_violation *v,
                             const char *path, const char *keyword,
                             const char *location, const char *message)
{
    cr_assert_str_eq(v->instance_path, path);
    cr_assert_str_eq(v->keyword, keyword);
    cr_assert_str_eq(v->schema_path, location);
    cr_assert_str_eq(v->message, message);
}

Test(schema, a_string_too_long_names_the_pointer_keyword_location_and_lengths)
{
    struct tw_schema *s =
        compile("{\"properties\":{\"name\":{\"maxLength\":3}}}");
    struct tw_schema_result r;

    check(s, "{\"name\":\"abc\\u00e9\"}", &r);
    cr_assert_not(r.valid);
    cr_assert_eq(r.total, 1);
    expect_violation(&r.violations[0], "/name", "maxLength",
                     "#/properties/name/maxLength",
                     "must be at most 3 characters, got 4");
    check(s, "{\"name\":\"ab\\u00e9\"}", &r);
    cr_assert(r.valid, "three code points in four bytes fit maxLength 3");
    tw_schema_free(s);
}

Test(schema, a_missing_required_property_is_reported_at_its_own_pointer)
{
    struct tw_schema *s =
        compile("{\"required\":[\"a\",\"b\"],\"dependentRequired\":"
                "{\"card\":[\"billing\"]}}");
    struct tw_schema_result r;

    check(s, "{\"a\":1,\"card\":\"x\"}", &r);
    cr_assert_eq(r.total, 2);
    expect_violation(&r.violations[0], "/b", "required", "#/required",
                     "is required");
    expect_violation(&r.violations[1], "/billing", "dependentRequired",
                     "#/dependentRequired",
                     "is required when \"card\" is present");
    tw_schema_free(s);
}

Test(schema, messages_quote_the_values_that_were_expected)
{
    struct tw_schema *s = compile(
        "{\"properties\":{\"e\":{\"enum\":[\"a\",\"b\"]},\"c\":{\"const\":3},"
        "\"t\":{\"type\":[\"string\",\"null\"]},\"n\":{\"minimum\":5},"
        "\"m\":{\"multipleOf\":0.01},\"o\":{\"anyOf\":[{\"type\":\"string\"},"
        "{\"type\":\"array\"}]}}}");
    struct tw_schema_result r;

    check(s, "{\"e\":\"c\",\"c\":4,\"t\":1,\"n\":4.5,\"m\":1.005,\"o\":{}}",
          &r);
    cr_assert_eq(r.total, 6);
    expect_violation(&r.violations[0], "/e", "enum", "#/properties/e/enum",
                     "must be one of: \"a\", \"b\"");
    expect_violation(&r.violations[1], "/c", "const", "#/properties/c/const",
                     "must be equal to 3");
    expect_violation(&r.violations[2], "/t", "type", "#/properties/t/type",
                     "must be null or string, got integer");
    expect_violation(&r.violations[3], "/n", "minimum",
                     "#/properties/n/minimum", "must be at least 5, got 4.5");
    expect_violation(&r.violations[4], "/m", "multipleOf",
                     "#/properties/m/multipleOf",
                     "must be a multiple of 0.01, got 1.005");
    expect_violation(
        &r.violations[5], "/o", "anyOf", "#/properties/o/anyOf",
        "must match at least one of the 2 schemas in anyOf, matched none");
    tw_schema_free(s);
}

Test(schema, instance_pointers_escape_names_and_count_array_indexes)
{
    struct tw_schema *s =
        compile("{\"properties\":{\"a/b~c\":{\"items\":{\"type\":\"string\"}}},"
                "\"additionalProperties\":false}");
    struct tw_schema_result r;

    check(s, "{\"a/b~c\":[\"x\",1],\"extra\":true}", &r);
    cr_assert_eq(r.total, 2);
    expect_violation(&r.violations[0], "/a~1b~0c/1", "type",
                     "#/properties/a~1b~0c/items/type",
                     "must be string, got integer");
    expect_violation(&r.violations[1], "/extra", "additionalProperties",
                     "#/additionalProperties",
                     "is not allowed here (the schema is false)");
    tw_schema_free(s);
}

Test(schema, only_the_first_16_violations_are_kept_and_all_are_counted)
{
    struct tw_schema *s = compile("{\"items\":{\"type\":\"string\"}}");
    struct tw_schema_result r;
    char text[200] = "[";
    char want[8];

    for (int i = 0; i < 40; i++) {
        strcat(text, i ? ",7" : "7");
    }
    strcat(text, "]");
    check(s, text, &r);
    cr_assert_eq(r.total, 40);
    cr_assert_eq(r.count, TW_SCHEMA_MAX_VIOLATIONS);
    for (uint32_t i = 0; i < r.count; i++) {
        snprintf(want, sizeof(want), "/%u", i);
        cr_assert_str_eq(r.violations[i].instance_path, want);
    }
    tw_schema_free(s);
}

Test(schema, violations_in_a_registered_document_name_its_uri)
{
    static const char defs[] =
        "{\"$defs\":{\"sku\":{\"type\":\"string\",\"pattern\":\"^[A-Z]+$\"}}}";
    struct tw_schema_registry *reg;
    struct tw_schema *s;
    struct tw_schema_result r;

    cr_assert_eq(tw_schema_registry_new(0, &reg), 0);
    cr_assert_eq(tw_schema_registry_add(reg, "https://example.com/defs.json",
                                        defs, strlen(defs)),
                 0);
    s = compile_with(
        reg, "{\"$ref\":\"https://example.com/defs.json#/$defs/sku\"}", NULL);
    /* The compiled schema needs the registry no more. */
    tw_schema_registry_free(reg);

    check(s, "\"ab\"", &r);
    cr_assert_eq(r.total, 1);
    expect_violation(&r.violations[0], "", "pattern",
                     "https://example.com/defs.json#/$defs/sku/pattern",
                     "must match the pattern \"^[A-Z]+$\"");
    check(s, "\"AB\"", &r);
    cr_assert(r.valid);
    tw_schema_free(s);
}

Test(schema, the_registry_refuses_duplicates_relative_uris_and_non_json)
{
    struct tw_schema_registry *reg;

    cr_assert_eq(tw_schema_registry_new(64, &reg), 0);
    cr_assert_eq(tw_schema_registry_add(reg, "urn:a", "{}", 2), 0);
    cr_assert_eq(tw_schema_registry_add(reg, "urn:a#", "{}", 2), TW_EBUSY);
    cr_assert_eq(tw_schema_registry_add(reg, "a.json", "{}", 2), TW_EINVAL);
    cr_assert_eq(tw_schema_registry_add(reg, "urn:b", "{", 1), TW_EINVAL);
    cr_assert_eq(tw_schema_registry_add(reg, "urn:c", "[1]", 100), TW_EFULL);
    tw_schema_registry_free(reg);
}

Test(schema, a_ref_to_an_unknown_document_names_the_document_and_the_ref)
{
    struct tw_schema_error err;

    cr_assert_eq(compile_fails("{\"properties\":{\"a\":{\"$ref\":"
                               "\"https://nowhere.example/x.json#/a\"}}}",
                               &err),
                 TW_ENOENT);
    cr_assert_str_eq(err.location, "#/properties/a/$ref");
    cr_assert_str_eq(err.missing_uri, "https://nowhere.example/x.json");
    cr_assert(strstr(err.message, "https://nowhere.example/x.json") != NULL,
              "%s", err.message);
    cr_assert(strstr(tw_err_message(), "#/properties/a/$ref") != NULL);
}

Test(schema, a_ref_to_a_missing_place_in_a_known_document_is_an_error)
{
    struct tw_schema_error err;

    cr_assert_eq(compile_fails("{\"$defs\":{\"a\":{}},\"items\":"
                               "{\"$ref\":\"#/$defs/b\"}}",
                               &err),
                 TW_ENOENT);
    cr_assert_str_eq(err.location, "#/items/$ref");
    cr_assert_str_eq(err.missing_uri, "");
    cr_assert(strstr(err.message, "\"b\"") != NULL, "%s", err.message);

    cr_assert_eq(compile_fails("{\"$ref\":\"#nowhere\"}", &err), TW_ENOENT);
    cr_assert(strstr(err.message, "anchor \"nowhere\"") != NULL, "%s",
              err.message);
}

Test(schema, an_invalid_pattern_gives_pcre2s_message_and_offset)
{
    struct tw_schema_error err;

    cr_assert_eq(compile_fails("{\"patternProperties\":{\"^a(\":{}}}", &err),
                 TW_EINVAL);
    cr_assert_str_eq(err.location, "#/patternProperties/^a(");
    cr_assert(strstr(err.message, "missing closing parenthesis") != NULL, "%s",
              err.message);
    cr_assert(strstr(err.message, "offset 3") != NULL, "%s", err.message);
}

Test(schema, a_keyword_of_the_wrong_type_is_refused_at_its_location)
{
    static const struct {
        const char *schema;
        const char *location;
        const char *words;
    } cases[] = {
        {"{\"minLength\":\"3\"}", "#/minLength", "non-negative integer"},
        {"{\"maxItems\":-1}", "#/maxItems", "non-negative integer"},
        {"{\"type\":\"strnig\"}", "#/type", "\"strnig\" is not"},
        {"{\"required\":[1]}", "#/required", "only strings"},
        {"{\"properties\":{\"a\":3}}", "#/properties/a", "must be a schema"},
        {"{\"allOf\":[]}", "#/allOf", "non-empty array"},
        {"{\"multipleOf\":0}", "#/multipleOf", "above 0"},
        {"{\"$defs\":{\"x\":{\"enum\":{}}},\"$ref\":\"#/$defs/x\"}",
         "#/$defs/x/enum", "an array"},
        {"{\"$schema\":\"http://json-schema.org/draft-04/schema#\"}", "#",
         "neither draft 2020-12 nor draft-07"},
    };
    struct tw_schema_error err;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_lt(compile_fails(cases[i].schema, &err), 0);
        cr_assert_str_eq(err.location, cases[i].location, "%s",
                         cases[i].schema);
        cr_assert(strstr(err.message, cases[i].words) != NULL, "%s: %s",
                  cases[i].schema, err.message);
    }
    cr_assert_eq(compile_fails("{\"type\":", &err), TW_EINVAL);
    cr_assert_eq(compile_fails("[]", &err), TW_EINVAL);
}

Test(schema, a_catastrophic_pattern_hits_the_match_limit_and_is_reported)
{
    struct tw_schema_options opts;
    struct tw_schema_stats stats;
    struct tw_schema_result r;
    struct tw_schema *s;

    tw_schema_options_init(&opts);
    opts.regex_match_limit = 1000;
    s = compile_with(NULL, "{\"pattern\":\"^(a+)+$\"}", &opts);
    check(s, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"", &r);
    cr_assert_not(r.valid);
    cr_assert(r.limit_hit);
    cr_assert_eq(r.total, 1);
    cr_assert_str_eq(r.violations[0].keyword, "pattern");
    cr_assert(strstr(r.violations[0].message, "limit") != NULL, "%s",
              r.violations[0].message);
    tw_schema_stats(s, &stats);
    cr_assert_eq(stats.regex_limit_hits, 1);

    check(s, "\"aaaa\"", &r);
    cr_assert(r.valid, "a short subject stays within the limit");
    tw_schema_free(s);
}

Test(schema, a_ref_cycle_that_consumes_nothing_stops_at_the_depth_limit)
{
    static const char *const cycles[] = {
        "{\"$ref\":\"#\"}",
        "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/"
        "b\"},\"b\":{\"allOf\":[{\"$ref\":"
        "\"#/$defs/a\"}]}},\"$ref\":\"#/$defs/a\"}",
    };

    for (size_t i = 0; i < 2; i++) {
        struct tw_schema *s = compile(cycles[i]);
        struct tw_schema_stats stats;
        struct tw_schema_result r;

        check(s, "{\"any\":1}", &r);
        cr_assert_not(r.valid);
        cr_assert(r.limit_hit);
        cr_assert(strstr(r.violations[0].message, "nested more than 256") !=
                      NULL,
                  "%s", r.violations[0].message);
        tw_schema_stats(s, &stats);
        cr_assert_eq(stats.depth_limit_hits, 1);
        tw_schema_free(s);
    }
}

Test(schema, exponential_branching_stops_at_the_step_limit)
{
    char text[4096] = "{\"$defs\":{";
    struct tw_schema_stats stats;
    struct tw_schema_result r;
    struct tw_schema *s;

    /* d0 tries d1 twice, d1 tries d2 twice...: 2^30 paths to false. */
    for (int i = 0; i < 30; i++) {
        char def[96];

        snprintf(def, sizeof(def),
                 "\"d%d\":{\"anyOf\":[{\"$ref\":\"#/$defs/d%d\"},"
                 "{\"$ref\":\"#/$defs/d%d\"}]},",
                 i, i + 1, i + 1);
        strcat(text, def);
    }
    strcat(text, "\"d30\":false},\"$ref\":\"#/$defs/d0\"}");
    s = compile(text);
    check(s, "1", &r);
    cr_assert_not(r.valid);
    cr_assert(r.limit_hit);
    cr_assert(strstr(r.violations[0].message, "steps") != NULL, "%s",
              r.violations[0].message);
    tw_schema_stats(s, &stats);
    cr_assert_eq(stats.step_limit_hits, 1);
    tw_schema_free(s);
}

Test(schema, deep_instances_validate_within_the_depth_limit)
{
    struct tw_schema *s = compile("{\"items\":{\"$ref\":\"#\"}}");
    struct tw_schema_options opts;
    struct tw_schema_result r;
    char text[160];
    struct tw_schema *shallow;

    memset(text, '[', 60);
    memset(text + 60, ']', 60);
    text[120] = '\0';
    check(s, text, &r);
    cr_assert(r.valid);

    tw_schema_options_init(&opts);
    opts.max_depth = 10;
    shallow = compile_with(NULL, "{\"items\":{\"$ref\":\"#\"}}", &opts);
    check(shallow, text, &r);
    cr_assert(r.limit_hit);
    tw_schema_free(shallow);
    tw_schema_free(s);
}

Test(schema, format_is_checked_only_when_asserted)
{
    static const char text[] = "{\"format\":\"date\"}";
    struct tw_schema_options opts;
    struct tw_schema_result r;
    struct tw_schema *annotation = compile(text);
    struct tw_schema *assertion;

    tw_schema_options_init(&opts);
    opts.format_assert = true;
    assertion = compile_with(NULL, text, &opts);
    check(annotation, "\"2023-02-29\"", &r);
    cr_assert(r.valid);
    check(assertion, "\"2023-02-29\"", &r);
    cr_assert_not(r.valid);
    cr_assert_str_eq(r.violations[0].message,
                     "must be a valid date (RFC 3339 full-date)");
    check(assertion, "\"2024-02-29\"", &r);
    cr_assert(r.valid);
    tw_schema_free(annotation);
    tw_schema_free(assertion);
}

Test(schema, numbers_compare_exactly_and_multiple_of_works_in_decimal)
{
    struct tw_schema *s = compile(
        "{\"properties\":{\"a\":{\"multipleOf\":0.1},\"b\":{\"multipleOf\":"
        "0.01},\"c\":{\"type\":\"integer\"},\"d\":{\"maximum\":"
        "9007199254740992},\"e\":{\"minimum\":18446744073709551615}}}");
    struct tw_schema_result r;

    check(s,
          "{\"a\":0.3,\"b\":19.99,\"c\":1.0,\"d\":9007199254740992,"
          "\"e\":18446744073709551615}",
          &r);
    cr_assert(r.valid, "%s", r.violations[0].message);
    check(s, "{\"d\":9007199254740993}", &r);
    cr_assert_eq(r.total, 1);
    check(s, "{\"e\":18446744073709551614}", &r);
    cr_assert_eq(r.total, 1);
    check(s, "{\"a\":0.35,\"c\":1.5}", &r);
    cr_assert_eq(r.total, 2);
    tw_schema_free(s);
}

Test(schema, draft_07_lets_ref_hide_its_siblings_and_2020_12_does_not)
{
    static const char text[] =
        "{\"$ref\":\"#/definitions/a\",\"maxLength\":1,\"definitions\":"
        "{\"a\":{\"type\":\"string\"}}}";
    struct tw_schema_options opts;
    struct tw_schema_result r;
    struct tw_schema *modern = compile(text);
    struct tw_schema *old;

    tw_schema_options_init(&opts);
    opts.default_draft = TW_SCHEMA_DRAFT_7;
    old = compile_with(NULL, text, &opts);
    check(old, "\"abc\"", &r);
    cr_assert(r.valid);
    check(modern, "\"abc\"", &r);
    cr_assert_not(r.valid);
    cr_assert_str_eq(r.violations[0].keyword, "maxLength");
    tw_schema_free(modern);
    tw_schema_free(old);
}

/* ---------------------------------------------------------- threads -- */

struct thread_job {
    const struct tw_schema *schema;
    unsigned rounds;
    unsigned wrong; /* results that differed from the expected ones */
};

static const char *const thread_inputs[] = {
    "{\"id\":\"AB-12\",\"tags\":[\"x\",\"y\"],\"n\":6}",
    "{\"id\":\"ab-12\",\"tags\":[\"x\",\"x\"],\"n\":4.5,\"extra\":1}",
    "{\"tags\":[]}",
};
static const bool thread_valid[] = {true, false, false};
static const uint32_t thread_total[] = {0, 5, 1};

static void *thread_validate(void *arg)
{
    struct thread_job *job = arg;
    struct tw_json_parser *parser;
    struct tw_schema_result *r = malloc(sizeof(*r));

    if (r == NULL || tw_json_parser_new(4096, 0, &parser) < 0) {
        job->wrong = job->rounds;
        free(r);
        return NULL;
    }
    for (unsigned i = 0; i < job->rounds; i++) {
        size_t k = i % 3;
        struct tw_json doc;

        if (tw_json_parse(parser, thread_inputs[k], strlen(thread_inputs[k]),
                          &doc) < 0 ||
            tw_schema_validate(job->schema, doc, r) < 0 ||
            r->valid != thread_valid[k] || r->total != thread_total[k]) {
            job->wrong++;
        }
    }
    tw_json_parser_free(parser);
    free(r);
    return NULL;
}

Test(schema, two_threads_validate_against_one_schema_at_once)
{
    struct tw_schema *s =
        compile("{\"required\":[\"id\"],\"properties\":{\"id\":{\"pattern\":"
                "\"^[A-Z]+-[0-9]+$\"},\"tags\":{\"uniqueItems\":true,\"items\":"
                "{\"type\":\"string\"}},\"n\":{\"type\":\"integer\"}},"
                "\"allOf\":[{\"properties\":{\"n\":{\"minimum\":5}}}],"
                "\"unevaluatedProperties\":false}");
    struct thread_job jobs[2] = {{s, 3000, 0}, {s, 3000, 0}};
    pthread_t threads[2];

    for (int i = 0; i < 2; i++) {
        cr_assert_eq(
            pthread_create(&threads[i], NULL, thread_validate, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_join(threads[i], NULL), 0);
        cr_assert_eq(jobs[i].wrong, 0, "thread %d: %u wrong results", i,
                     jobs[i].wrong);
    }
    tw_schema_free(s);
}

Test(schema, a_ref_landing_on_a_value_that_is_no_schema_is_a_compile_error)
{
    struct tw_schema_error err;

    cr_assert_eq(
        compile_fails("{\"$defs\":\"object\",\"$ref\":\"#/$defs\"}", &err),
        TW_EINVAL);
    cr_assert(strstr(err.location, "#/$defs"), "%s", err.location);
    cr_assert(strstr(err.message, "is string, not an object or a boolean"),
              "%s", err.message);
}
