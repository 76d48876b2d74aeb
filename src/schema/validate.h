/*
 * validate.h - the validator's state, shared by its files:
 *
 *   validate.c         the entry point, node evaluation, in-place
 *                      applicators ($ref, allOf, anyOf, ...), limits
 *   validate_value.c   assertions on scalars (type, enum, numbers, strings)
 *   validate_array.c   array keywords
 *   validate_object.c  object keywords
 *   report.c           violations: instance paths, locations, messages
 *
 * Evaluating a node returns whether the instance is valid against it.
 * While a failure is only a step toward another keyword's verdict (a
 * branch of anyOf, oneOf, not or if), evaluation is "quiet": nothing is
 * reported and a node stops at its first failing keyword.
 *
 * unevaluatedItems and unevaluatedProperties need to know what the other
 * keywords of their object, and the subschemas applied in place, have
 * evaluated. That is a set of marks, one bit per array item or object
 * member of the instance, passed down to in-place subschemas and merged
 * back only from the ones that succeeded. Marks are only kept when a node
 * with an unevaluated keyword asked for them.
 */
#ifndef TW_SCHEMA_VALIDATE_H
#define TW_SCHEMA_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/schema_internal.h"

/* Which items or members of one instance have been evaluated. */
struct eval_marks {
    uint64_t *bits;
    size_t count;
};

/* One step from the instance root: a member name or an item index. */
struct eval_segment {
    const char *key; /* NULL for an index */
    size_t len;
    size_t index;
};

struct schema_eval {
    const struct tw_schema *schema;
    struct tw_schema_result *result;
    pcre2_match_data *match; /* created on the first pattern matched */
    uint64_t steps;
    uint32_t depth;
    uint32_t quiet; /* > 0: failures are not reported */
    bool stopped;   /* a limit was hit or memory ran out: unwinding */
    int error;      /* TW_ENOMEM when memory ran out */
    struct eval_segment *path;
    uint32_t path_len;
    const struct schema_resource **scope; /* the dynamic scope */
    uint32_t scope_len;
};

typedef bool eval_fn(struct schema_eval *ev, const struct schema_node *node,
                     const struct schema_kw *kw, struct tw_json instance,
                     struct eval_marks *marks);

/* Evaluates instance against node; marks (may be NULL) gains what the
 * node evaluated. */
bool schema_eval_node(struct schema_eval *ev, const struct schema_node *node,
                      struct tw_json instance, struct eval_marks *marks);

/* Evaluates a child instance (an item or a member value) of the current
 * one: pushes its path segment around the evaluation. */
bool schema_eval_item(struct schema_eval *ev, const struct schema_node *node,
                      struct tw_json item, size_t index);
bool schema_eval_member(struct schema_eval *ev, const struct schema_node *node,
                        struct tw_json value, const char *key, size_t len);

/* Counts one unit of work; false (and the violation) past max_steps. */
bool schema_eval_step(struct schema_eval *ev, const struct schema_node *node,
                      const struct schema_kw *kw);

/* Marks for an instance with count items or members; false on ENOMEM. */
bool schema_marks_init(struct schema_eval *ev, struct eval_marks *m,
                       size_t count);
void schema_marks_free(struct eval_marks *m);
void schema_marks_set(struct eval_marks *m, size_t i);
bool schema_marks_test(const struct eval_marks *m, size_t i);
void schema_marks_merge(struct eval_marks *into, const struct eval_marks *from);

/* Records that memory ran out; validation stops. */
void schema_eval_nomem(struct schema_eval *ev);

/* report.c: records a violation of kw at the current instance path. */
void schema_report(struct schema_eval *ev, const struct schema_node *node,
                   const struct schema_kw *kw, const char *fmt, ...)
    TW_PRINTF(4, 5);
/* The same, one member further (a missing required property). */
void schema_report_member(struct schema_eval *ev,
                          const struct schema_node *node,
                          const struct schema_kw *kw, const char *key,
                          size_t len, const char *fmt, ...) TW_PRINTF(6, 7);
/* A bound was hit: reported even while quiet, and validation stops. */
void schema_report_limit(struct schema_eval *ev, const struct schema_node *node,
                         const char *keyword, const char *fmt, ...)
    TW_PRINTF(4, 5);
/* A value as JSON text for a message, cut with "..." to fit cap. */
const char *schema_quote(struct tw_json value, char *buf, size_t cap);

/* The keyword evaluators, by file. */
eval_fn schema_eval_false, schema_eval_type, schema_eval_enum,
    schema_eval_const, schema_eval_multiple_of, schema_eval_bound,
    schema_eval_length, schema_eval_pattern, schema_eval_format;
eval_fn schema_eval_items, schema_eval_contains, schema_eval_item_count,
    schema_eval_unique, schema_eval_unevaluated_items;
eval_fn schema_eval_properties, schema_eval_property_names,
    schema_eval_required, schema_eval_dependent_required,
    schema_eval_dependent_schemas, schema_eval_property_count,
    schema_eval_unevaluated_properties;

/* Matches a pattern, turning a PCRE2 limit into a reported limit hit:
 * 1 matches, 0 does not, -1 validation stopped. */
int schema_eval_regex(struct schema_eval *ev, const struct schema_node *node,
                      const char *keyword, const struct schema_regex *regex,
                      const char *s, size_t len);

#endif
