/*
 * fuzz_json.c - libFuzzer target for the JSON parser (json.h).
 *
 * Any bytes must either parse or be refused with TW_EINVAL (TW_EFULL past
 * the parser's size), never crash or read outside the input. What parses
 * is walked completely, with the invariants of json.h checked on the way:
 * counts match the walk, strings are NUL-terminated at their length, the
 * first member of each name is the one tw_json_object_get finds, and
 * every value equals itself. Then the document is written out again
 * (numbers in full precision, strings escaped) and parsed by a second
 * parser: the copy must be equal to the original by tw_json_equal, and
 * written out again it must give the same bytes. A broken invariant stops
 * the fuzzer with __builtin_trap().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "common/error.h"
#include "json/json.h"

#define FUZZ_MAX_BYTES (1u << 20)

/* A growable output buffer with a ceiling; full means "stop writing". */
struct fuzz_out {
    char *buf;
    size_t len;
    size_t cap;
    bool full;
};

static void fuzz_put(struct fuzz_out *out, const char *s, size_t n)
{
    if (out->full || n > out->cap - out->len) {
        out->full = true;
        return;
    }
    memcpy(out->buf + out->len, s, n);
    out->len += n;
}

static void fuzz_put_string(struct fuzz_out *out, const char *s, size_t len)
{
    char esc[8];

    fuzz_put(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\' || c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            fuzz_put(out, esc, 6);
        } else {
            fuzz_put(out, s + i, 1);
        }
    }
    fuzz_put(out, "\"", 1);
}

static void fuzz_put_number(struct fuzz_out *out, struct tw_json v)
{
    char num[40];
    int n;

    switch (tw_json_type(v)) {
    case TW_JSON_INT:
        n = snprintf(num, sizeof(num), "%lld", (long long)tw_json_int(v));
        break;
    case TW_JSON_UINT:
        n = snprintf(num, sizeof(num), "%llu",
                     (unsigned long long)tw_json_uint(v));
        break;
    default:
        /* Always with a fraction or exponent, so it stays a double. */
        n = snprintf(num, sizeof(num), "%.17e", tw_json_number(v));
        break;
    }
    fuzz_put(out, num, (size_t)n);
}

static void fuzz_walk(struct fuzz_out *out, struct tw_json v);

static void fuzz_walk_array(struct fuzz_out *out, struct tw_json v)
{
    struct tw_json_iter it;
    struct tw_json element;
    size_t n = 0;

    fuzz_put(out, "[", 1);
    tw_json_iter_init(&it, v);
    while (tw_json_array_next(&it, &element)) {
        if (n > 0) {
            fuzz_put(out, ",", 1);
        }
        fuzz_walk(out, element);
        n++;
    }
    FUZZ_CHECK(n == tw_json_count(v));
    FUZZ_CHECK(!tw_json_array_next(&it, &element));
    fuzz_put(out, "]", 1);
}

/* The first member named key, found by walking. */
static struct tw_json fuzz_first_member(struct tw_json obj, const char *key,
                                        size_t key_len)
{
    struct tw_json_iter it;
    struct tw_json value;
    const char *k;
    size_t k_len;

    tw_json_iter_init(&it, obj);
    while (tw_json_object_next(&it, &k, &k_len, &value)) {
        if (k_len == key_len && memcmp(k, key, key_len) == 0) {
            return value;
        }
    }
    __builtin_trap();
}

static void fuzz_walk_object(struct fuzz_out *out, struct tw_json v)
{
    struct tw_json_iter it;
    struct tw_json value;
    struct tw_json found;
    const char *key;
    size_t key_len;
    size_t n = 0;

    fuzz_put(out, "{", 1);
    tw_json_iter_init(&it, v);
    while (tw_json_object_next(&it, &key, &key_len, &value)) {
        FUZZ_CHECK(key[key_len] == '\0');
        FUZZ_CHECK(tw_json_object_get(v, key, key_len, &found));
        FUZZ_CHECK(tw_json_equal(found, fuzz_first_member(v, key, key_len)));
        if (n > 0) {
            fuzz_put(out, ",", 1);
        }
        fuzz_put_string(out, key, key_len);
        fuzz_put(out, ":", 1);
        fuzz_walk(out, value);
        n++;
    }
    FUZZ_CHECK(n == tw_json_count(v));
    fuzz_put(out, "}", 1);
}

static void fuzz_walk(struct fuzz_out *out, struct tw_json v)
{
    const char *s;
    size_t len;

    FUZZ_CHECK(tw_json_equal(v, v));
    switch (tw_json_type(v)) {
    case TW_JSON_NULL:
        fuzz_put(out, "null", 4);
        break;
    case TW_JSON_BOOL:
        fuzz_put(out, tw_json_bool(v) ? "true" : "false",
                 tw_json_bool(v) ? 4 : 5);
        break;
    case TW_JSON_INT:
    case TW_JSON_UINT:
        FUZZ_CHECK(tw_json_is_integral(v));
        fuzz_put_number(out, v);
        break;
    case TW_JSON_DOUBLE:
        fuzz_put_number(out, v);
        break;
    case TW_JSON_STRING:
        s = tw_json_string(v, &len);
        FUZZ_CHECK(s[len] == '\0');
        fuzz_put_string(out, s, len);
        break;
    case TW_JSON_ARRAY:
        fuzz_walk_array(out, v);
        break;
    case TW_JSON_OBJECT:
        fuzz_walk_object(out, v);
        break;
    default:
        __builtin_trap();
    }
}

/* The copy must parse, equal the original and write out the same. */
static void fuzz_round_trip(struct tw_json root, const struct fuzz_out *first)
{
    struct tw_json_parser *again;
    struct fuzz_out second = {.cap = first->len};
    struct tw_json copy;

    FUZZ_CHECK(tw_json_parser_new(first->len, 0, &again) == 0);
    FUZZ_CHECK(tw_json_parse(again, first->buf, first->len, &copy) == 0);
    FUZZ_CHECK(tw_json_equal(root, copy));
    FUZZ_CHECK(tw_json_equal(copy, root));

    second.buf = malloc(second.cap + 1);
    FUZZ_CHECK(second.buf != NULL);
    fuzz_walk(&second, copy);
    FUZZ_CHECK(!second.full && second.len == first->len);
    FUZZ_CHECK(memcmp(second.buf, first->buf, first->len) == 0);
    free(second.buf);
    tw_json_parser_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tw_json_parser *parser;
    struct tw_json root;
    struct fuzz_out out = {0};
    int rc;

    FUZZ_CHECK(tw_json_parser_new(FUZZ_MAX_BYTES, 0, &parser) == 0);
    rc = tw_json_parse(parser, (const char *)data, size, &root);
    if (size > FUZZ_MAX_BYTES) {
        FUZZ_CHECK(rc == TW_EFULL);
    }
    if (rc < 0) {
        FUZZ_CHECK(rc == TW_EINVAL || rc == TW_EFULL);
        goto free_parser;
    }

    /* Escapes may grow a string sixfold; numbers grow to 24 bytes. */
    out.cap = 24 * size + 64;
    out.buf = malloc(out.cap);
    FUZZ_CHECK(out.buf != NULL);
    fuzz_walk(&out, root);
    FUZZ_CHECK(!out.full);
    fuzz_round_trip(root, &out);
    free(out.buf);

free_parser:
    tw_json_parser_free(parser);
    tw_err_clear();
    return 0;
}
