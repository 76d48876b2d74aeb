/*
 * filter.h - route filters: which stored events a route sends on.
 *
 * A filter is a small boolean expression over one stored event
 * (docs/API.md, "What is stored"), compiled once into an immutable form
 * and then evaluated any number of times, from any number of threads at
 * once, without allocating. docs/ROUTES.md describes the language for
 * users; this is the reference.
 *
 * Grammar (whitespace - space, tab, CR, LF - separates tokens and is
 * otherwise ignored; keywords are lowercase and case-sensitive):
 *
 *   filter     = or
 *   or         = and { "or" and }
 *   and        = unary { "and" unary }
 *   unary      = "not" unary | primary
 *   primary    = "(" or ")"
 *              | "exists" path
 *              | path compare
 *   compare    = ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) literal
 *              | "in" "[" literal { "," literal } "]"
 *              | "matches" string
 *   literal    = string | number | "true" | "false" | "null"
 *   string     = a JSON string: "..." with JSON's escapes (\" \\ \/ \b \f
 *                \n \r \t \uXXXX, surrogate pairs), UTF-8 inside
 *   number     = a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 *   path       = word { "." segment }         dotted:   properties.total
 *              | "/" pointer-text             pointer:  /properties/total
 *              | "`" quoted-text "`"          quoted:   `properties.Order
 * Total` word       = [A-Za-z_$] or any non-ASCII byte, then [A-Za-z0-9_$-] or
 *                non-ASCII bytes; a word alone that is a keyword is the
 *                keyword (and, or, not, in, exists, matches, true,
 *                false, null)
 *   segment    = ([A-Za-z0-9_$-] | non-ASCII)+
 *   pointer-text = bytes up to whitespace or one of ( ) [ ] , " ` = ! < >
 *   quoted-text  = any text, with `` standing for one backquote; a path
 *                in either spelling of route/path.h
 *
 * Precedence, loosest first: or, and, not; "not" applies to the whole
 * condition after it (not a == 1 is not (a == 1)).
 *
 * Names with a meaning of their own:
 *   source       the event's source, context.trackway.source (a member
 *                named "source" at the top is /source)
 *   type, event  are ordinary paths: the call type and the track name;
 *                name is the page or screen name
 *
 * Meaning:
 *   - A comparison is true only when the path resolves to a value of the
 *     literal's type: numbers compare as numbers (1 == 1.0, integers
 *     exactly up to 64 bits), strings byte by byte (UTF-8 order, which
 *     is code point order), true/false/null only with == and !=. A
 *     missing field, or a value of another type (a string "5" against 5,
 *     an object, an array), makes every comparison false, != included:
 *     "not a == 1" is the way to ask for "anything but 1, or absent".
 *   - in is true when the value equals (as ==) any literal of the list.
 *   - exists is true when the path resolves, to any value, null included.
 *   - matches is true when the value is a string and the regular
 *     expression matches somewhere in it (anchor with ^ and $ for a whole
 *     match). The dialect is that of tracking plans' "pattern" (PCRE2
 *     close to ECMA-262, src/schema/regex.h). Every match runs under
 *     PCRE2's match and depth limits; a match that hits one is no match,
 *     counted in route_filter_stats and logged once per filter.
 *   - and and or stop at the first operand that decides them.
 *
 * Bounds (hostile text ends in a compile error, never a crash): text up
 * to ROUTE_FILTER_MAX_BYTES, parentheses and "not" nested up to
 * ROUTE_FILTER_MAX_DEPTH, lists of up to ROUTE_FILTER_MAX_LIST literals,
 * paths as route/path.h bounds them.
 *
 * Errors follow src/common/error.h (0 or a negative tw_err code, with
 * tw_err_message() set).
 */
#ifndef TW_ROUTE_FILTER_H
#define TW_ROUTE_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "json/json.h"

#define ROUTE_FILTER_MAX_BYTES 4096u
#define ROUTE_FILTER_MAX_DEPTH 32u
#define ROUTE_FILTER_MAX_LIST 256u

/* PCRE2 limits of every match, unless the options say otherwise. */
#define ROUTE_FILTER_REGEX_MATCH_LIMIT 100000u
#define ROUTE_FILTER_REGEX_DEPTH_LIMIT 1000u

struct route_filter;
struct route_scratch;

struct route_filter_options {
    uint32_t regex_match_limit; /* 0: ROUTE_FILTER_REGEX_MATCH_LIMIT */
    uint32_t regex_depth_limit; /* 0: ROUTE_FILTER_REGEX_DEPTH_LIMIT */
};

/*
 * Where and why a filter did not compile. line and column are 1-based
 * and count characters (UTF-8 code points) in the filter's own text, so
 * a loader adds them to where the text starts in its file; a filter
 * written on one line always has line 1.
 */
struct route_error {
    uint32_t line;
    uint32_t column;
    char message[256]; /* what was expected, and what was found */
};

/*
 * Compiles len bytes of filter text (no terminator needed). opts may be
 * NULL. On success *out owns the compiled filter (route_filter_free) and
 * needs neither text nor opts any more. On failure returns TW_EINVAL with
 * err filled ("expected ... found ..." with its line and column; also in
 * tw_err_message() as "column N: ..."), or TW_ENOMEM.
 */
TW_MUST_CHECK int route_filter_compile(const char *text, size_t len,
                                       const struct route_filter_options *opts,
                                       struct route_filter **out,
                                       struct route_error *err);
void route_filter_free(struct route_filter *filter);

/*
 * Per-thread working memory for evaluations (the regex match data), made
 * once per thread and passed to every route_filter_match of that thread,
 * whatever the filter. Owned by the caller: route_scratch_free.
 */
TW_MUST_CHECK int route_scratch_new(struct route_scratch **out);
void route_scratch_free(struct route_scratch *scratch);

/*
 * Whether event (a parsed stored event, normally an object) passes the
 * filter. Reads the event and the filter only and allocates nothing;
 * any number of threads may match against one filter at once, each with
 * its own scratch.
 */
bool route_filter_match(const struct route_filter *filter, struct tw_json event,
                        struct route_scratch *scratch);

/*
 * Appends the filter as text in a normal form: the least parentheses
 * precedence needs, one space around operators, paths dotted where they
 * can be (else pointers, quoted when they must be), literals as JSON
 * writes them. The text compiles back to a filter that behaves the same
 * and describes itself identically, provided it is no longer than
 * ROUTE_FILTER_MAX_BYTES: it can be longer than the text compiled
 * (source is spelled out, spaces are added). Returns tw_buf_status(out).
 */
TW_MUST_CHECK int route_filter_describe(const struct route_filter *filter,
                                        struct tw_buf *out);

/* Counters of one filter, summed over every match so far. */
struct route_filter_stats {
    uint64_t regex_limit_hits; /* a matches hit a PCRE2 limit: no match */
};

void route_filter_stats(const struct route_filter *filter,
                        struct route_filter_stats *out);

#endif
