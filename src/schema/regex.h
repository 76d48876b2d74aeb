/*
 * regex.h - the pattern and patternProperties keywords on PCRE2.
 *
 * Patterns are compiled as close to ECMA-262 (which JSON Schema names) as
 * PCRE2 allows: UTF mode, \d \w \s and \b on ASCII only, "$" only at the
 * very end, \uHHHH and \u{H...} escapes, and no implicit anchoring (a
 * pattern matches anywhere in the string). Every match runs under match
 * and depth limits, so a catastrophic pattern ends with a limit hit, not
 * a hang. Compiled patterns are read-only and shared by every thread; the
 * match data a match writes into belongs to the caller.
 */
#ifndef TW_SCHEMA_REGEX_H
#define TW_SCHEMA_REGEX_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/error.h"

struct schema_regex {
    pcre2_code *code;
    const char *source;        /* the pattern as written, NUL-terminated */
    struct schema_regex *next; /* the schema's list of patterns */
};

/* The limits every match of one schema runs under. */
struct schema_regex_limits {
    pcre2_match_context *context;
};

/* Sets up limits; TW_ENOMEM when PCRE2 cannot allocate. */
TW_MUST_CHECK int schema_regex_limits_init(struct schema_regex_limits *limits,
                                           uint32_t match_limit,
                                           uint32_t depth_limit);
void schema_regex_limits_free(struct schema_regex_limits *limits);

/*
 * Compiles pattern (len bytes, valid UTF-8). On failure returns TW_EINVAL
 * with PCRE2's message and the offset in the pattern in message (cap
 * bytes), or TW_ENOMEM. *out is malloc'd; free with schema_regex_free.
 */
TW_MUST_CHECK int schema_regex_compile(const char *pattern, size_t len,
                                       struct schema_regex **out, char *message,
                                       size_t cap);
void schema_regex_free(struct schema_regex *regex);

/*
 * Matches subject against regex. *match_data is the caller's, created on
 * first use and reused (free it with pcre2_match_data_free). Returns 1
 * (matches), 0 (does not), TW_ERANGE when a limit was hit, TW_ENOMEM.
 */
TW_MUST_CHECK int schema_regex_match(const struct schema_regex *regex,
                                     const struct schema_regex_limits *limits,
                                     pcre2_match_data **match_data,
                                     const char *subject, size_t len);

#endif
