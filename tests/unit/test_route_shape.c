/*
 * test_route_shape.c - per-destination shaping (src/route/shape.h): keep,
 * drop, redact and rename on nested fields and arrays, their order,
 * rename collisions, keyed hashes (stable for one key, different for
 * another, equal to an independent BLAKE2b), and every compile error
 * naming its path. Every output is checked to be one valid JSON value.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/buf.h"
#include "common/error.h"
#include "json/json.h"
#include "route/shape.h"

#include "count_alloc.h"

#define KEY "trackway-test-key-0123456789abcd"
#define OTHER_KEY "another-key-for-the-same-values!"

/* A stored event, minified, so an unchanged event reads back the same. */
static const char stored_event[] =
    "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":\"u1\","
    "\"messageId\":\"m-1\","
    "\"properties\":{\"total\":120.5,\"currency\":\"EUR\",\"coupon\":null,"
    "\"items\":[{\"sku\":\"A-1\",\"price\":10},{\"sku\":\"B-2\",\"price\":20}]"
    ",\"a.b\":1,\"q\\\"k\":\"v\"},"
    "\"context\":{\"ip\":\"203.0.113.9\",\"traits\":{\"email\":"
    "\"alice@example.com\",\"phone\":\"+1555\",\"age\":41},"
    "\"trackway\":{\"source\":\"web\"}},\"integrations\":{}}";

static struct tw_json_parser *parser;
static struct tw_json_parser *check_parser;
static struct tw_json event;

static void suite_setup(void)
{
    cr_assert_eq(tw_json_parser_new(1 << 16, 0, &parser), 0);
    cr_assert_eq(tw_json_parser_new(1 << 16, 0, &check_parser), 0);
    cr_assert_eq(
        tw_json_parse(parser, stored_event, strlen(stored_event), &event), 0,
        "%s", tw_err_message());
    cr_assert_geq(sodium_init(), 0);
}

static void suite_teardown(void)
{
    tw_json_parser_free(parser);
    tw_json_parser_free(check_parser);
}

TestSuite(route_shape, .init = suite_setup, .fini = suite_teardown);

static struct route_shape *compile(const struct route_shape_spec *spec)
{
    struct route_shape *shape = NULL;
    struct route_shape_error err;
    int rc = route_shape_compile(spec, &shape, &err);

    cr_assert_eq(rc, 0, "compile: %s", err.message);
    cr_assert_not_null(shape);
    return shape;
}

/* The shaped event as text (caller frees), checked to be valid JSON. */
static char *apply_to(const struct route_shape *shape, struct tw_json ev)
{
    struct tw_buf out;
    struct tw_json parsed;

    tw_buf_init(&out, 1 << 16);
    cr_assert_eq(route_shape_apply(shape, ev, &out), 0, "%s", tw_err_message());
    cr_assert_eq(tw_json_parse(check_parser, out.data, out.len, &parsed), 0,
                 "not JSON: %s", out.data);
    cr_assert_eq(tw_json_type(parsed), TW_JSON_OBJECT);
    return out.data;
}

static void expect_shape(const struct route_shape_spec *spec,
                         const char *expected)
{
    struct route_shape *shape = compile(spec);
    char *text = apply_to(shape, event);

    cr_expect_str_eq(text, expected);
    free(text);
    route_shape_free(shape);
}

static void expect_error(const struct route_shape_spec *spec,
                         enum route_shape_list list, size_t index,
                         const char *needle)
{
    struct route_shape *shape = NULL;
    struct route_shape_error err;
    int rc = route_shape_compile(spec, &shape, &err);

    cr_assert_eq(rc, TW_EINVAL, "compiled although it should not");
    cr_assert_null(shape);
    cr_expect_eq(err.list, list, "list %d, not %d (%s)", err.list, list,
                 err.message);
    cr_expect_eq(err.index, index, "index %zu, not %zu (%s)", err.index, index,
                 err.message);
    cr_expect(strstr(err.message, needle) != NULL,
              "message \"%s\" lacks \"%s\"", err.message, needle);
    cr_expect_str_eq(tw_err_message(), err.message);
}

static void hex_hash(const char *key, const char *text, char hex[65])
{
    unsigned char digest[32];

    crypto_generichash(digest, sizeof(digest), (const unsigned char *)text,
                       strlen(text), (const unsigned char *)key, strlen(key));
    sodium_bin2hex(hex, 65, digest, sizeof(digest));
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------ keep and drop -- */

Test(route_shape, an_empty_spec_delivers_the_event_as_stored)
{
    struct route_shape_spec spec = {0};

    expect_shape(&spec, stored_event);
}

Test(route_shape, keep_delivers_the_listed_fields_and_the_objects_around_them)
{
    static const char *const keep[] = {"type", "properties.total",
                                       "/context/traits/email"};
    struct route_shape_spec spec = {.keep = keep, .keep_count = COUNT(keep)};

    expect_shape(&spec, "{\"type\":\"track\",\"properties\":{\"total\":120.5},"
                        "\"context\":{\"traits\":{\"email\":"
                        "\"alice@example.com\"}}}");
}

Test(route_shape, keeping_a_missing_field_leaves_out_the_objects_leading_to_it)
{
    static const char *const keep[] = {"event", "properties.missing",
                                       "nothing.here"};
    struct route_shape_spec spec = {.keep = keep, .keep_count = COUNT(keep)};

    expect_shape(&spec, "{\"event\":\"Order Completed\"}");
}

Test(route_shape, an_object_kept_whole_stays_even_when_empty)
{
    static const char *const keep[] = {"integrations", "context.trackway"};
    static const char *const drop[] = {"context.trackway.source"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .drop = drop,
                                    .drop_count = COUNT(drop)};

    expect_shape(&spec, "{\"context\":{\"trackway\":{}},\"integrations\":{}}");
}

Test(route_shape, keeping_nothing_that_exists_delivers_an_empty_object)
{
    static const char *const keep[] = {"missing"};
    struct route_shape_spec spec = {.keep = keep, .keep_count = COUNT(keep)};

    expect_shape(&spec, "{}");
}

Test(route_shape, drop_removes_fields_at_any_depth)
{
    static const char *const drop[] = {"messageId", "context.ip",
                                       "context.traits", "properties.items",
                                       "properties.missing"};
    struct route_shape_spec spec = {.drop = drop, .drop_count = COUNT(drop)};

    expect_shape(&spec,
                 "{\"type\":\"track\",\"event\":\"Order Completed\","
                 "\"userId\":\"u1\",\"properties\":{\"total\":120.5,"
                 "\"currency\":\"EUR\",\"coupon\":null,\"a.b\":1,"
                 "\"q\\\"k\":\"v\"},\"context\":{\"trackway\":{\"source\":"
                 "\"web\"}},\"integrations\":{}}");
}

Test(route_shape, drop_applies_to_what_keep_left)
{
    static const char *const keep[] = {"context"};
    static const char *const drop[] = {"context.ip", "context.traits.phone",
                                       "context.traits.age"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .drop = drop,
                                    .drop_count = COUNT(drop)};

    expect_shape(&spec, "{\"context\":{\"traits\":{\"email\":"
                        "\"alice@example.com\"},\"trackway\":{\"source\":"
                        "\"web\"}}}");
}

Test(route_shape, pointers_name_members_whose_names_hold_dots_or_quotes)
{
    static const char *const drop[] = {"/properties/a.b", "properties.q\"k",
                                       "properties.a.b"};
    static const char *const keep[] = {"properties"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .drop = drop,
                                    .drop_count = COUNT(drop)};

    expect_shape(&spec, "{\"properties\":{\"total\":120.5,\"currency\":\"EUR\","
                        "\"coupon\":null,\"items\":[{\"sku\":\"A-1\","
                        "\"price\":10},{\"sku\":\"B-2\",\"price\":20}]}}");
}

/* --------------------------------------------------------------- arrays -- */

Test(route_shape, digit_segments_index_arrays_and_dropping_closes_the_gap)
{
    static const char *const keep[] = {"properties.items"};
    static const char *const drop[] = {"properties.items.0",
                                       "properties.items.1.price"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .drop = drop,
                                    .drop_count = COUNT(drop)};

    expect_shape(&spec, "{\"properties\":{\"items\":[{\"sku\":\"B-2\"}]}}");
}

Test(route_shape, keeping_an_element_keeps_only_that_element)
{
    static const char *const keep[] = {"properties.items.1.sku",
                                       "properties.items.7"};
    struct route_shape_spec spec = {.keep = keep, .keep_count = COUNT(keep)};

    expect_shape(&spec, "{\"properties\":{\"items\":[{\"sku\":\"B-2\"}]}}");
}

/* --------------------------------------------------------------- redact -- */

Test(route_shape, redacting_by_dropping_removes_the_field)
{
    static const struct route_redaction redact[] = {
        {"context.ip", ROUTE_REDACT_DROP},
        {"context.traits.email", ROUTE_REDACT_DROP},
    };
    static const char *const keep[] = {"context.ip", "context.traits"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .redact = redact,
                                    .redact_count = COUNT(redact)};

    expect_shape(&spec, "{\"context\":{\"traits\":{\"phone\":\"+1555\","
                        "\"age\":41}}}");
}

Test(route_shape, a_hashed_string_is_the_keyed_blake2b_of_its_bytes_in_hex)
{
    static const struct route_redaction redact[] = {
        {"context.traits.email", ROUTE_REDACT_HASH},
    };
    static const char *const keep[] = {"context.traits.email"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .redact = redact,
                                    .redact_count = COUNT(redact),
                                    .hash_key = (const uint8_t *)KEY,
                                    .hash_key_len = strlen(KEY)};
    char hex[65];
    char expected[160];

    /* Computed by Python's hashlib.blake2b(key=KEY, digest_size=32), an
     * implementation independent of libsodium. */
    expect_shape(&spec, "{\"context\":{\"traits\":{\"email\":"
                        "\"339556e2b33e6a17e9c9f4f06945a81bc22465e8b2e2c28f5"
                        "0c2dd45d47989a0\"}}}");
    hex_hash(KEY, "alice@example.com", hex);
    snprintf(expected, sizeof(expected),
             "{\"context\":{\"traits\":{\"email\":\"%s\"}}}", hex);
    expect_shape(&spec, expected);
}

Test(route_shape, one_value_and_key_give_one_hash_and_another_key_another)
{
    static const struct route_redaction redact[] = {
        {"context.traits.email", ROUTE_REDACT_HASH},
    };
    static const char *const keep[] = {"context.traits.email"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .redact = redact,
                                    .redact_count = COUNT(redact),
                                    .hash_key = (const uint8_t *)KEY,
                                    .hash_key_len = strlen(KEY)};
    struct route_shape *a = compile(&spec);
    struct route_shape *b = compile(&spec);
    struct route_shape *other;
    char *first = apply_to(a, event);
    char *again = apply_to(a, event);
    char *twin = apply_to(b, event);
    char *different;

    spec.hash_key = (const uint8_t *)OTHER_KEY;
    spec.hash_key_len = strlen(OTHER_KEY);
    other = compile(&spec);
    different = apply_to(other, event);
    cr_expect_str_eq(first, again);
    cr_expect_str_eq(first, twin);
    cr_expect_str_neq(first, different);
    cr_expect_eq(strlen(first), strlen(different));
    cr_expect(strstr(different, "alice") == NULL);
    free(first);
    free(again);
    free(twin);
    free(different);
    route_shape_free(a);
    route_shape_free(b);
    route_shape_free(other);
}

Test(route_shape, other_values_are_hashed_as_their_json_text_and_null_stays)
{
    static const struct route_redaction redact[] = {
        {"context.traits.age", ROUTE_REDACT_HASH},
        {"properties.coupon", ROUTE_REDACT_HASH},
    };
    static const char *const keep[] = {"context.traits.age",
                                       "properties.coupon"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .redact = redact,
                                    .redact_count = COUNT(redact),
                                    .hash_key = (const uint8_t *)KEY,
                                    .hash_key_len = strlen(KEY)};

    /* hashlib.blake2b(b"41", key=KEY, digest_size=32) */
    expect_shape(&spec, "{\"properties\":{\"coupon\":null},\"context\":{"
                        "\"traits\":{\"age\":\"0329436797d2e4a78256f48a1b1af6"
                        "d45dfcd72b39cfd53ab9fe113d92d270cd\"}}}");
}

Test(route_shape, a_hashed_object_is_hashed_as_drop_left_it)
{
    static const struct route_redaction redact[] = {
        {"context.traits", ROUTE_REDACT_HASH},
    };
    static const char *const keep[] = {"context.traits"};
    static const char *const drop[] = {"context.traits.phone"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .drop = drop,
                                    .drop_count = COUNT(drop),
                                    .redact = redact,
                                    .redact_count = COUNT(redact),
                                    .hash_key = (const uint8_t *)KEY,
                                    .hash_key_len = strlen(KEY)};
    char hex[65];
    char expected[160];

    hex_hash(KEY, "{\"email\":\"alice@example.com\",\"age\":41}", hex);
    cr_assert_str_eq(hex, "c131b3136ce4c0e9a145957b24918051f06c14541f40f230ab"
                          "f25a67963170d3");
    snprintf(expected, sizeof(expected), "{\"context\":{\"traits\":\"%s\"}}",
             hex);
    expect_shape(&spec, expected);
}

Test(route_shape, a_redaction_of_a_field_that_is_not_kept_changes_nothing)
{
    static const struct route_redaction redact[] = {
        {"context.ip", ROUTE_REDACT_HASH},
        {"properties.missing", ROUTE_REDACT_HASH},
    };
    static const char *const keep[] = {"type"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .redact = redact,
                                    .redact_count = COUNT(redact),
                                    .hash_key = (const uint8_t *)KEY,
                                    .hash_key_len = strlen(KEY)};

    expect_shape(&spec, "{\"type\":\"track\"}");
}

/* --------------------------------------------------------------- rename -- */

Test(route_shape, rename_moves_fields_to_new_paths_after_the_other_members)
{
    static const char *const keep[] = {"type", "properties", "context.traits"};
    static const struct route_rename rename[] = {
        {"properties.total", "revenue"},
        {"context.traits.email", "user.email"},
        {"/properties/a.b", "properties.ab"},
    };
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .rename = rename,
                                    .rename_count = COUNT(rename)};

    expect_shape(&spec,
                 "{\"type\":\"track\",\"properties\":{\"currency\":\"EUR\","
                 "\"coupon\":null,\"items\":[{\"sku\":\"A-1\",\"price\":10},"
                 "{\"sku\":\"B-2\",\"price\":20}],\"q\\\"k\":\"v\","
                 "\"ab\":1},\"context\":{\"traits\":{\"phone\":\"+1555\","
                 "\"age\":41}},\"revenue\":120.5,\"user\":{\"email\":"
                 "\"alice@example.com\"}}");
}

Test(route_shape, a_rename_target_that_exists_is_replaced_by_the_moved_value)
{
    static const char *const keep[] = {"properties.total",
                                       "properties.currency"};
    static const struct route_rename rename[] = {
        {"properties.total", "properties.currency"},
    };
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .rename = rename,
                                    .rename_count = COUNT(rename)};

    expect_shape(&spec, "{\"properties\":{\"currency\":120.5}}");
}

Test(route_shape, a_rename_whose_source_is_missing_leaves_the_target_alone)
{
    static const char *const keep[] = {"properties.currency",
                                       "properties.missing"};
    static const struct route_rename rename[] = {
        {"properties.missing", "properties.currency"},
        {"properties.missing2", "elsewhere.deep"},
    };
    struct route_shape_spec spec = {
        .keep = keep, .keep_count = 2, .rename = rename, .rename_count = 1};

    expect_shape(&spec, "{\"properties\":{\"currency\":\"EUR\"}}");
    spec.keep_count = 0;
    spec.rename_count = 2;
    {
        struct route_shape *shape = compile(&spec);
        char *text = apply_to(shape, event);

        cr_expect(strstr(text, "elsewhere") == NULL, "%s", text);
        cr_expect(strstr(text, "\"currency\":\"EUR\"") != NULL, "%s", text);
        free(text);
        route_shape_free(shape);
    }
}

Test(route_shape, two_renames_can_swap_two_fields)
{
    static const char *const keep[] = {"type", "event"};
    static const struct route_rename rename[] = {
        {"type", "event"},
        {"event", "type"},
    };
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .rename = rename,
                                    .rename_count = COUNT(rename)};

    expect_shape(&spec, "{\"event\":\"track\",\"type\":\"Order Completed\"}");
}

Test(route_shape, a_rename_target_replaces_what_is_not_an_object_on_its_way)
{
    static const char *const keep[] = {"event", "userId", "properties.items"};
    static const struct route_rename rename[] = {
        {"userId", "event.user"},
        {"/properties/items/0/sku", "properties.items.first"},
    };
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .rename = rename,
                                    .rename_count = COUNT(rename)};

    expect_shape(&spec, "{\"event\":{\"user\":\"u1\"},\"properties\":{"
                        "\"items\":{\"first\":\"A-1\"}}}");
}

Test(route_shape, a_field_moves_out_of_an_array_element_and_into_a_dropped_one)
{
    static const char *const keep[] = {"userId", "properties.items"};
    static const char *const drop[] = {"context"};
    static const struct route_rename rename[] = {
        {"properties.items.0.sku", "first_sku"},
        {"userId", "context.user"},
    };
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .drop = drop,
                                    .drop_count = COUNT(drop),
                                    .rename = rename,
                                    .rename_count = COUNT(rename)};

    /* context keeps its place; first_sku, new at the top, comes last. */
    expect_shape(&spec, "{\"properties\":{\"items\":[{\"price\":10},{\"sku\":"
                        "\"B-2\",\"price\":20}]},\"context\":{\"user\":"
                        "\"u1\"},\"first_sku\":\"A-1\"}");
}

Test(route_shape, a_rename_can_wrap_a_field_in_an_object_of_its_own_name)
{
    static const struct route_rename rename[] = {{"userId", "userId.value"}};
    static const char *const keep[] = {"userId"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .rename = rename,
                                    .rename_count = COUNT(rename)};

    expect_shape(&spec, "{\"userId\":{\"value\":\"u1\"}}");
}

Test(route_shape, redaction_names_the_field_as_stored_and_applies_before_rename)
{
    static const struct route_redaction redact[] = {
        {"context.traits.email", ROUTE_REDACT_HASH},
    };
    static const struct route_rename rename[] = {
        {"context.traits.email", "email"},
    };
    struct route_shape_spec spec = {.redact = redact,
                                    .redact_count = COUNT(redact),
                                    .rename = rename,
                                    .rename_count = COUNT(rename),
                                    .hash_key = (const uint8_t *)KEY,
                                    .hash_key_len = strlen(KEY)};
    static const char *const keep[] = {"context.traits.email"};
    char hex[65];
    char expected[128];

    spec.keep = keep;
    spec.keep_count = COUNT(keep);
    hex_hash(KEY, "alice@example.com", hex);
    snprintf(expected, sizeof(expected), "{\"email\":\"%s\"}", hex);
    expect_shape(&spec, expected);
}

Test(route_shape, rename_targets_with_special_characters_are_escaped)
{
    static const struct route_rename rename[] = {{"type", "/a\"b/c\\d\n"}};
    static const char *const keep[] = {"type"};
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .rename = rename,
                                    .rename_count = COUNT(rename)};

    expect_shape(&spec, "{\"a\\\"b\":{\"c\\\\d\\n\":\"track\"}}");
}

/* ---------------------------------------------------------- the output -- */

Test(route_shape, output_past_the_buffer_ceiling_fails_with_efull)
{
    struct route_shape_spec spec = {0};
    struct route_shape *shape = compile(&spec);
    struct tw_buf out;

    tw_buf_init(&out, 64);
    cr_expect_eq(route_shape_apply(shape, event, &out), TW_EFULL);
    tw_buf_free(&out);
    route_shape_free(shape);
}

Test(route_shape, the_output_is_appended_and_the_stored_event_is_untouched)
{
    static const char *const drop[] = {"context"};
    struct route_shape_spec spec = {.drop = drop, .drop_count = 1};
    struct route_shape *shape = compile(&spec);
    struct tw_buf out;
    struct tw_json ctx;

    tw_buf_init(&out, 1 << 16);
    tw_buf_append(&out, "x", 1);
    cr_assert_eq(route_shape_apply(shape, event, &out), 0);
    cr_expect_eq(out.data[0], 'x');
    cr_expect_eq(out.data[1], '{');
    cr_expect(tw_json_get(event, "context", &ctx));
    tw_buf_free(&out);
    route_shape_free(shape);
}

Test(route_shape, an_event_that_is_not_an_object_is_refused)
{
    struct route_shape_spec spec = {0};
    struct route_shape *shape = compile(&spec);
    struct tw_json_parser *p;
    struct tw_json array;
    struct tw_buf out;

    cr_assert_eq(tw_json_parser_new(64, 0, &p), 0);
    cr_assert_eq(tw_json_parse(p, "[1]", 3, &array), 0);
    tw_buf_init(&out, 1024);
    cr_expect_eq(route_shape_apply(shape, array, &out), TW_EINVAL);
    tw_buf_free(&out);
    tw_json_parser_free(p);
    route_shape_free(shape);
}

Test(route_shape, applying_allocates_nothing_once_the_buffer_has_grown)
{
#if !COUNT_ALLOC_AVAILABLE
    cr_skip_test("ASan owns malloc; the release build counts allocations");
#else
    static const char *const keep[] = {"type", "properties", "context"};
    static const char *const drop[] = {"properties.items.0", "context.ip"};
    static const struct route_redaction redact[] = {
        {"context.traits", ROUTE_REDACT_HASH},
        {"properties.currency", ROUTE_REDACT_HASH},
    };
    static const struct route_rename rename[] = {
        {"properties.total", "revenue.amount"},
        {"context.trackway.source", "source"},
    };
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = COUNT(keep),
                                    .drop = drop,
                                    .drop_count = COUNT(drop),
                                    .redact = redact,
                                    .redact_count = COUNT(redact),
                                    .rename = rename,
                                    .rename_count = COUNT(rename),
                                    .hash_key = (const uint8_t *)KEY,
                                    .hash_key_len = strlen(KEY)};
    struct route_shape *shape = compile(&spec);
    struct tw_buf out;
    int failures = 0;
    long calls;

    tw_buf_init(&out, 1 << 16);
    cr_assert_eq(route_shape_apply(shape, event, &out), 0);
    count_alloc_start();
    for (int i = 0; i < 1000; i++) {
        tw_buf_reset(&out);
        failures += route_shape_apply(shape, event, &out) != 0;
    }
    calls = count_alloc_stop();
    cr_expect_eq(failures, 0);
    cr_expect(strstr(out.data, "\"revenue\":{\"amount\":120.5}") != NULL, "%s",
              out.data);
    cr_expect_eq(calls, 0, "%ld allocations", calls);
    tw_buf_free(&out);
    route_shape_free(shape);
#endif
}

/* --------------------------------------------------------------- errors -- */

Test(route_shape, a_path_that_is_not_a_path_is_named_with_its_list_and_entry)
{
    static const char *const keep[] = {"type", "a..b"};
    static const char *const drop[] = {""};
    static const char *const bad_pointer[] = {"/x/~2"};
    static const char *const missing[] = {"type", NULL};
    struct route_shape_spec spec = {.keep = keep, .keep_count = 2};

    expect_error(&spec, ROUTE_SHAPE_KEEP, 1, "keep \"a..b\": a dotted path");
    spec = (struct route_shape_spec){.drop = drop, .drop_count = 1};
    expect_error(&spec, ROUTE_SHAPE_DROP, 0, "a path cannot be empty");
    spec = (struct route_shape_spec){.drop = bad_pointer, .drop_count = 1};
    expect_error(&spec, ROUTE_SHAPE_DROP, 0, "drop \"/x/~2\": '~'");
    spec = (struct route_shape_spec){.keep = missing, .keep_count = 2};
    expect_error(&spec, ROUTE_SHAPE_KEEP, 1, "keep 1 is missing");
}

Test(route_shape, a_list_longer_than_the_limit_is_refused)
{
    const char *keep[ROUTE_SHAPE_MAX_PATHS + 1];
    struct route_shape_spec spec = {.keep = keep,
                                    .keep_count = ROUTE_SHAPE_MAX_PATHS + 1};
    struct route_shape *shape;

    for (size_t i = 0; i < COUNT(keep); i++) {
        keep[i] = "type";
    }
    expect_error(&spec, ROUTE_SHAPE_KEEP, ROUTE_SHAPE_MAX_PATHS,
                 "more than 256");
    spec.keep_count = ROUTE_SHAPE_MAX_PATHS;
    shape = compile(&spec);
    route_shape_free(shape);
}

Test(route_shape, hashing_needs_a_key_of_16_to_64_bytes)
{
    static const struct route_redaction redact[] = {
        {"context.ip", ROUTE_REDACT_HASH},
    };
    static const uint8_t key[65] = {1};
    struct route_shape_spec spec = {.redact = redact, .redact_count = 1};
    struct route_shape *shape;

    expect_error(&spec, ROUTE_SHAPE_HASH_KEY, 0, "16 to 64 bytes, got 0");
    spec.hash_key = key;
    spec.hash_key_len = 15;
    expect_error(&spec, ROUTE_SHAPE_HASH_KEY, 0, "got 15");
    spec.hash_key_len = 65;
    expect_error(&spec, ROUTE_SHAPE_HASH_KEY, 0, "got 65");
    spec.hash_key_len = 16;
    shape = compile(&spec);
    route_shape_free(shape);
    spec.hash_key_len = 64;
    shape = compile(&spec);
    route_shape_free(shape);
}

Test(route_shape, a_field_redacted_both_ways_is_refused)
{
    static const struct route_redaction redact[] = {
        {"context.ip", ROUTE_REDACT_HASH},
        {"/context/ip", ROUTE_REDACT_DROP},
    };
    struct route_shape_spec spec = {.redact = redact,
                                    .redact_count = 2,
                                    .hash_key = (const uint8_t *)KEY,
                                    .hash_key_len = strlen(KEY)};

    expect_error(&spec, ROUTE_SHAPE_REDACT, 1,
                 "redact \"/context/ip\" is listed both to drop and to hash");
}

Test(route_shape, rename_targets_that_collide_are_refused)
{
    static const struct route_rename same[] = {{"type", "kind"},
                                               {"event", "/kind"}};
    static const struct route_rename inner[] = {{"type", "x"},
                                                {"event", "x.y"}};
    static const struct route_rename outer[] = {{"type", "x.y.z"},
                                                {"event", "x.y"}};
    struct route_shape_spec spec = {.rename = same, .rename_count = 2};

    expect_error(&spec, ROUTE_SHAPE_RENAME_TO, 1,
                 "rename target \"/kind\" is the target of two renames");
    spec.rename = inner;
    expect_error(&spec, ROUTE_SHAPE_RENAME_TO, 1,
                 "rename targets \"x.y\" and \"x\" lie one inside the other");
    spec.rename = outer;
    expect_error(&spec, ROUTE_SHAPE_RENAME_TO, 1,
                 "rename targets \"x.y\" and \"x.y.z\" lie one inside");
}

Test(route_shape, rename_sources_that_coincide_or_nest_are_refused)
{
    static const struct route_rename twice[] = {{"type", "a"}, {"/type", "b"}};
    static const struct route_rename nested[] = {{"context.traits", "t"},
                                                 {"context.traits.email", "e"}};
    struct route_shape_spec spec = {.rename = twice, .rename_count = 2};

    expect_error(&spec, ROUTE_SHAPE_RENAME_FROM, 1,
                 "rename source \"/type\" is renamed twice");
    spec.rename = nested;
    expect_error(&spec, ROUTE_SHAPE_RENAME_FROM, 1,
                 "\"context.traits.email\" and \"context.traits\" lie one "
                 "inside the other");
}

Test(route_shape, a_rename_source_that_could_never_be_delivered_is_refused)
{
    static const char *const drop[] = {"context"};
    static const char *const keep[] = {"type"};
    static const struct route_redaction removed[] = {
        {"context.ip", ROUTE_REDACT_DROP}};
    static const struct route_redaction hashed[] = {
        {"context.traits", ROUTE_REDACT_HASH}};
    static const struct route_rename ip[] = {{"context.ip", "ip"}};
    static const struct route_rename email[] = {
        {"context.traits.email", "email"}};
    struct route_shape_spec spec = {
        .drop = drop, .drop_count = 1, .rename = ip, .rename_count = 1};

    expect_error(&spec, ROUTE_SHAPE_RENAME_FROM, 0,
                 "\"context.ip\" is removed by drop \"context\"");
    spec = (struct route_shape_spec){
        .redact = removed, .redact_count = 1, .rename = ip, .rename_count = 1};
    expect_error(&spec, ROUTE_SHAPE_RENAME_FROM, 0,
                 "is removed by redact \"context.ip\"");
    spec = (struct route_shape_spec){.redact = hashed,
                                     .redact_count = 1,
                                     .rename = email,
                                     .rename_count = 1,
                                     .hash_key = (const uint8_t *)KEY,
                                     .hash_key_len = strlen(KEY)};
    expect_error(&spec, ROUTE_SHAPE_RENAME_FROM, 0,
                 "\"context.traits.email\" lies inside redact "
                 "\"context.traits\", whose value is replaced by its hash");
    spec = (struct route_shape_spec){
        .keep = keep, .keep_count = 1, .rename = ip, .rename_count = 1};
    expect_error(&spec, ROUTE_SHAPE_RENAME_FROM, 0,
                 "rename source \"context.ip\" is not kept");
}

Test(route_shape, rename_targets_must_name_members_outside_hashed_fields)
{
    static const struct route_rename digits[] = {{"userId", "ids.0"}};
    static const struct route_rename inside[] = {
        {"userId", "context.traits.uid"}};
    static const struct route_redaction hashed[] = {
        {"context.traits", ROUTE_REDACT_HASH}};
    struct route_shape_spec spec = {.rename = digits, .rename_count = 1};

    expect_error(&spec, ROUTE_SHAPE_RENAME_TO, 0,
                 "the segment \"0\" is all digits");
    spec = (struct route_shape_spec){.redact = hashed,
                                     .redact_count = 1,
                                     .rename = inside,
                                     .rename_count = 1,
                                     .hash_key = (const uint8_t *)KEY,
                                     .hash_key_len = strlen(KEY)};
    expect_error(&spec, ROUTE_SHAPE_RENAME_TO, 0,
                 "\"context.traits.uid\" lies inside \"context.traits\"");
}
