/*
 * compile.h - the compiler's state, shared by its files:
 *
 *   compile.c           the driver: documents, nodes, $ref resolution
 *   index.c             finds the resources and anchors of a document
 *   compile_keywords.c  turns one schema object into keywords
 *
 * Compiling loads the root document, indexes it (every $id, $anchor and
 * $dynamicAnchor, under its absolute URI), then compiles nodes from a
 * work list: a subschema or $ref target becomes a node shell the first
 * time it is met (keyed by its place in its document, so a cycle of refs
 * meets the same shell again and ends) and gets its keywords when taken
 * from the list. A $ref to a document not yet loaded loads it from the
 * registry and indexes it on the spot.
 */
#ifndef TW_SCHEMA_COMPILE_H
#define TW_SCHEMA_COMPILE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "json/json.h"
#include "schema/schema_internal.h"

/* Vocabularies a dialect uses (2020-12's $vocabulary). */
#define SCHEMA_VOCAB_APPLICATOR 1u
#define SCHEMA_VOCAB_UNEVALUATED 2u
#define SCHEMA_VOCAB_VALIDATION 4u
#define SCHEMA_VOCAB_FORMAT_ASSERTION 8u
#define SCHEMA_VOCAB_DEFAULT                                                   \
    (SCHEMA_VOCAB_APPLICATOR | SCHEMA_VOCAB_UNEVALUATED |                      \
     SCHEMA_VOCAB_VALIDATION)

struct schema_dialect {
    enum tw_schema_draft draft;
    uint32_t vocab;
};

/* A subschema's place: its value, the resource it is in, its dialect. */
struct schema_place {
    struct tw_json value;
    struct schema_resource *resource;
    struct schema_dialect dialect;
    const char *location; /* "<uri>#<pointer>", in the arena */
};

/* What an absolute URI (with or without fragment) names. */
struct schema_index_entry {
    const char *key;
    struct schema_place place;
    const char *dynamic_anchor; /* set for a $dynamicAnchor */
};

struct schema_work;

struct schema_compiler {
    struct tw_schema *schema;
    const struct tw_schema_registry *reg;
    struct tw_schema_options opts;
    struct tw_schema_error *err;
    void *index; /* tsearch tree of struct schema_index_entry */
    void *memo;  /* tsearch tree of struct schema_memo (compile.c) */
    struct schema_work *work;
    /* Every $dynamicAnchor indexed, compiled when a $dynamicRef exists. */
    struct schema_index_entry **dynamic;
    uint32_t dynamic_count;
    uint32_t dynamic_capacity;
    bool has_dynamic_ref;
};

/*
 * Records a compile error at location and returns code: err and
 * tw_err_message() both say "<location>: <message>".
 */
int schema_fail(struct schema_compiler *c, const char *location, int code,
                const char *fmt, ...) TW_PRINTF(4, 5);

/* "<parent>/<token>" with the token escaped as JSON Pointer wants. */
const char *schema_location_child(struct schema_compiler *c, const char *parent,
                                  const char *token, size_t len);

/* The entry for an absolute URI, or NULL. */
struct schema_index_entry *schema_index_find(struct schema_compiler *c,
                                             const char *key);

/*
 * Adds key -> place to the index; a key already present keeps its first
 * place (returns 0 either way), TW_ENOMEM on failure.
 */
TW_MUST_CHECK int schema_index_add(struct schema_compiler *c, const char *key,
                                   const struct schema_place *place,
                                   const char *dynamic_anchor);

/*
 * The place of value reached from parent by one step: the same resource
 * and dialect, unless value has an $id (then its resource, created if
 * new) and $schema.
 */
TW_MUST_CHECK int schema_enter(struct schema_compiler *c,
                               const struct schema_place *parent,
                               struct tw_json value, const char *location,
                               struct schema_place *out);

/* Indexes the document whose root place is root (index.c). */
TW_MUST_CHECK int schema_index_document(struct schema_compiler *c,
                                        const struct schema_place *root);

/* The dialect a $schema URI names (index.c). */
TW_MUST_CHECK int schema_dialect_of(struct schema_compiler *c,
                                    const char *location, struct tw_json uri,
                                    struct schema_dialect *out);

/*
 * Resolves a $ref or $dynamicRef value against the place it is written
 * in: sets *out to the target's place and *entry to the index entry of a
 * plain-name fragment (NULL otherwise).
 */
TW_MUST_CHECK int schema_resolve(struct schema_compiler *c,
                                 const struct schema_place *from,
                                 const char *kw_location, struct tw_json ref,
                                 struct schema_place *out,
                                 struct schema_index_entry **entry);

/* The node of a place: existing, or a new shell queued for compiling. */
TW_MUST_CHECK int schema_node_for(struct schema_compiler *c,
                                  const struct schema_place *place,
                                  struct schema_node **out);

/* The node of a subschema one or two steps below parent ("items", or
 * "properties" then "name"; token2 may be NULL). */
TW_MUST_CHECK int schema_child(struct schema_compiler *c,
                               const struct schema_place *parent,
                               struct tw_json value, const char *token1,
                               const char *token2, size_t token2_len,
                               struct schema_node **out);

/* Compiles the keywords of node from its place (compile_keywords.c). */
TW_MUST_CHECK int schema_compile_node(struct schema_compiler *c,
                                      struct schema_node *node,
                                      const struct schema_place *place);

/* Whether value is a schema: an object or a boolean. */
bool schema_is_schema(struct tw_json value);

#endif
