/*
 * json.h - JSON documents: parse once, checking every byte, then walk.
 *
 * The parser is simdjson's DOM parser behind this C interface (the
 * binding is src/json/json_simdjson.cpp, the one C++ file of the tree).
 * Parsing validates the whole document: UTF-8, structure, numbers,
 * nesting depth. Nothing is parsed lazily, so a document that parsed can
 * be walked without any later error.
 *
 * Lifetimes. A parser owns the buffers of the document it parsed last.
 * Every struct tw_json taken from that document, and every string pointer
 * read from one, stays valid until the parser parses again or is freed.
 * A parser is used by one thread at a time; keep one per thread.
 *
 * Values are small handles passed by value. Reading a value as a type it
 * is not (tw_json_int on a string, say) is a programming error caught by
 * an assert; check tw_json_type first.
 */
#ifndef TW_JSON_JSON_H
#define TW_JSON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The deepest nesting a parser accepts unless told otherwise. */
#define TW_JSON_DEPTH_DEFAULT 64u

enum tw_json_type {
    TW_JSON_NULL = 0,
    TW_JSON_BOOL = 1,
    TW_JSON_INT = 2,    /* an integer that fits in int64_t */
    TW_JSON_UINT = 3,   /* an integer above INT64_MAX that fits uint64_t */
    TW_JSON_DOUBLE = 4, /* any other number (a fraction, an exponent) */
    TW_JSON_STRING = 5,
    TW_JSON_ARRAY = 6,
    TW_JSON_OBJECT = 7,
};

/* A value inside a parsed document. Opaque; copy it freely. */
struct tw_json {
    uint64_t opaque[2];
};

/* A position inside an array or object being walked. Opaque. */
struct tw_json_iter {
    uint64_t opaque[4];
};

struct tw_json_parser;

/*
 * Creates a parser for documents of up to max_bytes bytes nested up to
 * max_depth deep (0: TW_JSON_DEPTH_DEFAULT). Memory for max_bytes is
 * taken on the first parse that needs it and reused after.
 */
TW_MUST_CHECK int tw_json_parser_new(size_t max_bytes, uint32_t max_depth,
                                     struct tw_json_parser **out);
void tw_json_parser_free(struct tw_json_parser *parser);

/*
 * Parses len bytes at buf (no terminator needed) and sets *root. Returns 0,
 * TW_EINVAL with a message naming what is wrong ("invalid UTF-8", "the
 * document is nested deeper than 64 levels", ...) when the bytes are not
 * one JSON value, TW_EFULL when len exceeds the parser's max_bytes, or
 * TW_ENOMEM. Integers must lie between INT64_MIN and UINT64_MAX and other
 * numbers within a double's range; anything beyond is refused as
 * TW_EINVAL ("a number is ... out of range"), never rounded.
 */
TW_MUST_CHECK int tw_json_parse(struct tw_json_parser *parser, const char *buf,
                                size_t len, struct tw_json *root);

enum tw_json_type tw_json_type(struct tw_json value);
/* A name for a type: "null", "boolean", "integer", "number", "string",
 * "array", "object" (INT and UINT are "integer", DOUBLE is "number"). */
const char *tw_json_type_name(enum tw_json_type type);

bool tw_json_bool(struct tw_json value);
int64_t tw_json_int(struct tw_json value);
uint64_t tw_json_uint(struct tw_json value);
/* Any number as a double (INT, UINT and DOUBLE). */
double tw_json_number(struct tw_json value);
/* true for INT and UINT, and for a DOUBLE with no fractional part. */
bool tw_json_is_integral(struct tw_json value);

/*
 * A string's bytes, NUL-terminated, with their length in *len (they may
 * hold NUL bytes themselves, so use len). Always valid UTF-8.
 */
const char *tw_json_string(struct tw_json value, size_t *len);

/* Elements of an array or members of an object. */
size_t tw_json_count(struct tw_json value);

/* Starts walking an array or an object. */
void tw_json_iter_init(struct tw_json_iter *it, struct tw_json container);
/* The next element of an array; false at the end. */
bool tw_json_array_next(struct tw_json_iter *it, struct tw_json *element);
/*
 * The next member of an object, in document order; false at the end.
 * key is NUL-terminated, key_len its length in bytes.
 */
bool tw_json_object_next(struct tw_json_iter *it, const char **key,
                         size_t *key_len, struct tw_json *value);

/*
 * tw_json_object_next, with the member's name given as a string value
 * (for code that validates names as it validates values, such as JSON
 * Schema's propertyNames).
 */
bool tw_json_object_next_entry(struct tw_json_iter *it, struct tw_json *key,
                               struct tw_json *value);

/*
 * The value of the first member named key (key_len bytes) of an object;
 * false when there is none. A linear search: for a few lookups per
 * object, not for walking every member.
 */
bool tw_json_object_get(struct tw_json object, const char *key, size_t key_len,
                        struct tw_json *value);
/* tw_json_object_get with a NUL-terminated key. */
bool tw_json_get(struct tw_json object, const char *key, struct tw_json *value);

/*
 * Whether two values are equal as JSON Schema defines it: same type
 * (numbers compare by value, so 1 equals 1.0), strings byte for byte,
 * arrays element by element, objects with the same member names (in any
 * order) and equal values.
 */
bool tw_json_equal(struct tw_json a, struct tw_json b);

/*
 * Whether len bytes at text are valid UTF-8 (simdjson's validator), for
 * text that reaches JSON output without passing through the parser, such
 * as the field names of a configuration.
 */
bool tw_json_utf8_valid(const char *text, size_t len);

/*
 * Writes value as compact JSON text into buf (cap bytes, always
 * NUL-terminated when cap > 0) and returns the length the whole text
 * needs, like snprintf: a result >= cap means the text was cut. Integers
 * are written exactly, doubles with the fewest digits that read back as
 * the same double, strings escaped as JSON requires (control characters,
 * quote and backslash; other UTF-8 as it is), members in document order.
 * Implemented in json_text.c over the writer of json_write.h.
 */
size_t tw_json_write(struct tw_json value, char *buf, size_t cap);

/*
 * The shortest decimal form of a double that reads back as the same
 * double, as digits and a power of ten: |d| = digits * 10^exp10 with
 * digits having no trailing zero (0 gives digits 0, exp10 0); the sign is
 * the caller's. d must be finite. Used where decimal arithmetic on a parsed
 * number must be exact (JSON Schema's multipleOf).
 */
void tw_json_double_decimal(double d, uint64_t *digits, int32_t *exp10);

#endif
