/*
 * schema.h - JSON Schema: compile once, validate many times.
 *
 * Tracking plans describe events with JSON Schema (drafts 2020-12 and 07).
 * A schema is compiled once into an immutable struct tw_schema: every
 * keyword checked, every $ref resolved, every pattern compiled. Validating
 * an instance then never reads the schema's text again.
 *
 * References never touch the network. A registry holds the documents a
 * schema may refer to, each under the URI it is known by; a $ref to any
 * other document is a compile error naming that URI. Compiling copies
 * what it needs from the registry, so the registry may change or be freed
 * once compile returns.
 *
 * Threads. A compiled schema is read-only while validating: any number of
 * threads may validate against one schema at once. Each validate call
 * keeps its working state (regex match data included) on its own stack
 * and heap. A registry is not locked: add documents before compiling, or
 * serialise the two.
 *
 * Hostile schemas and instances. Compile refuses what is malformed and
 * terminates on $ref cycles. Validation is bounded: at most max_depth
 * nested schema evaluations (a $ref cycle that consumes nothing hits this),
 * at most max_steps evaluation steps in all (nested anyOf/oneOf can
 * otherwise multiply work), and PCRE2 match and depth limits on every
 * pattern. A bound that is hit ends validation with a violation saying
 * which one: the instance is reported invalid, never accepted unchecked.
 *
 * Errors follow src/common/error.h: 0 or a negative tw_err code, with
 * tw_err_message() set.
 */
#ifndef TW_SCHEMA_SCHEMA_H
#define TW_SCHEMA_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "json/json.h"

/* Violations kept in a result; more are counted but not described. */
#define TW_SCHEMA_MAX_VIOLATIONS 16u
/* Room for a pointer or schema location; longer ones end in "...". */
#define TW_SCHEMA_PATH_MAX 256u
/* Room for a message; longer ones end in "...". */
#define TW_SCHEMA_MESSAGE_MAX 256u

/* The largest document a registry or compile accepts. */
#define TW_SCHEMA_DOC_MAX_BYTES (16u << 20)
/* The deepest nesting of a schema document. */
#define TW_SCHEMA_DOC_MAX_DEPTH 256u

/* Defaults of struct tw_schema_options (0 in a field means these). */
#define TW_SCHEMA_DEFAULT_MAX_DEPTH 256u
#define TW_SCHEMA_DEFAULT_MAX_STEPS 1000000u
#define TW_SCHEMA_DEFAULT_REGEX_MATCH_LIMIT 100000u
#define TW_SCHEMA_DEFAULT_REGEX_DEPTH_LIMIT 1000u
/* The base URI of a document that names none (no base_uri, no $id). */
#define TW_SCHEMA_DEFAULT_BASE_URI "tw:/schema.json"

enum tw_schema_draft {
    TW_SCHEMA_DRAFT_2020_12 = 0,
    TW_SCHEMA_DRAFT_7 = 1,
};

struct tw_schema_options {
    /*
     * The URI the compiled document is known by: its relative $id and
     * $ref resolve against it. NULL: TW_SCHEMA_DEFAULT_BASE_URI.
     */
    const char *base_uri;
    /* The draft of a document without $schema (this one or a remote). */
    enum tw_schema_draft default_draft;
    /*
     * Whether format is an assertion (date-time, date, uuid, email, ipv4,
     * ipv6, uri are checked; other formats are ignored) or, when false,
     * an annotation only, as the drafts specify by default.
     */
    bool format_assert;
    uint32_t max_depth;         /* nested evaluations; 0: the default */
    uint64_t max_steps;         /* evaluation steps per validate; 0: default */
    uint32_t regex_match_limit; /* PCRE2 match limit; 0: the default */
    uint32_t regex_depth_limit; /* PCRE2 depth limit; 0: the default */
};

/* Fills opts with the defaults: draft 2020-12, format not asserted. */
void tw_schema_options_init(struct tw_schema_options *opts);

/* ------------------------------------------------------------ registry -- */

struct tw_schema_registry;

/*
 * Creates an empty registry that holds at most max_bytes of document text
 * in all (0: 64 MiB).
 */
TW_MUST_CHECK int tw_schema_registry_new(size_t max_bytes,
                                         struct tw_schema_registry **out);
void tw_schema_registry_free(struct tw_schema_registry *reg);

/*
 * Adds the JSON document json (len bytes) under the absolute URI uri (a
 * fragment, if any, is ignored). The registry keeps its own copy. Returns
 * TW_EINVAL when uri is not an absolute URI or json is not JSON, TW_EBUSY
 * when a document is already registered under uri, TW_EFULL when the
 * registry's max_bytes would be exceeded, or TW_ENOMEM.
 */
TW_MUST_CHECK int tw_schema_registry_add(struct tw_schema_registry *reg,
                                         const char *uri, const char *json,
                                         size_t len);

/* ------------------------------------------------------------- compile -- */

struct tw_schema;

/* Where and why a compile failed. */
struct tw_schema_error {
    /* The schema location at fault: "<uri>#<JSON Pointer>". */
    char location[TW_SCHEMA_PATH_MAX];
    /* What is wrong, for a person ("minLength must be ..."). */
    char message[TW_SCHEMA_MESSAGE_MAX];
    /*
     * Set (non-empty) when the failure is a reference to a document that
     * the registry does not hold: that document's URI.
     */
    char missing_uri[TW_SCHEMA_PATH_MAX];
};

/*
 * Compiles the schema document json (len bytes). reg (may be NULL) holds
 * the documents it may refer to; opts may be NULL for the defaults. On
 * success *out owns the compiled schema (free with tw_schema_free) and
 * does not depend on json, reg or opts any more. On failure returns
 * TW_EINVAL (the document is not JSON or not a valid schema), TW_ENOENT
 * (a $ref names nothing known: err->missing_uri says which document when
 * one is missing) or TW_ENOMEM, and fills err (may be NULL) as well as
 * tw_err_message().
 */
TW_MUST_CHECK int tw_schema_compile(const struct tw_schema_registry *reg,
                                    const char *json, size_t len,
                                    const struct tw_schema_options *opts,
                                    struct tw_schema **out,
                                    struct tw_schema_error *err);
void tw_schema_free(struct tw_schema *schema);

/* ------------------------------------------------------------ validate -- */

struct tw_schema_violation {
    /* JSON Pointer into the instance, "" for the instance itself. */
    char instance_path[TW_SCHEMA_PATH_MAX];
    /* The keyword that failed ("maxLength", "required", ...). */
    char keyword[32];
    /* The keyword's location: "<uri>#<JSON Pointer>" ("#/..." in the
     * compiled document when it has no URI of its own). */
    char schema_path[TW_SCHEMA_PATH_MAX];
    /* What is wrong: "must be at most 100 characters, got 143". */
    char message[TW_SCHEMA_MESSAGE_MAX];
};

/*
 * The outcome of one validation: fixed size, filled by tw_schema_validate,
 * no allocation. Violations inside anyOf, oneOf, not and if are summed up
 * by the violation of that keyword, not listed one by one.
 */
struct tw_schema_result {
    bool valid;
    /* A bound (depth, steps, regex limits) ended validation early. */
    bool limit_hit;
    uint32_t total; /* violations found */
    uint32_t count; /* of which described in violations[], in order found */
    struct tw_schema_violation violations[TW_SCHEMA_MAX_VIOLATIONS];
};

/*
 * Validates instance against schema and fills *result. Returns 0 when
 * validation ran (result->valid says the verdict), or TW_ENOMEM, in which
 * case result->valid is false. Safe from any number of threads at once.
 */
TW_MUST_CHECK int tw_schema_validate(const struct tw_schema *schema,
                                     struct tw_json instance,
                                     struct tw_schema_result *result);

/* Counters of a compiled schema, summed over all validations so far. */
struct tw_schema_stats {
    uint64_t regex_limit_hits; /* a pattern hit PCRE2's match/depth limit */
    uint64_t depth_limit_hits; /* evaluation nested deeper than max_depth */
    uint64_t step_limit_hits;  /* evaluation took more than max_steps */
};

void tw_schema_stats(const struct tw_schema *schema,
                     struct tw_schema_stats *out);

#endif
