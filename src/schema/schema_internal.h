/*
 * schema_internal.h - the compiled form of a schema, shared by the
 * compiler (compile*.c) and the validator (validate*.c).
 *
 * A compiled schema is a graph of nodes, one per subschema location that
 * can be reached from the root. A node is a list of keywords in the order
 * they are evaluated; a keyword that applies subschemas points at their
 * nodes, and $ref points at its target's node, so cycles in the schema
 * are cycles in the graph. Everything lives in the schema's arena and is
 * freed at once.
 *
 *   tw_schema -- root --> node -- kws[] --> kw {TYPE, mask}
 *                           |               kw {PROPERTIES} --> node ...
 *                           |               kw {REF} ----------> node (any)
 *                           +-- resource --> {uri, dynamic anchors}
 *
 * Values a keyword compares with (enum, const) stay tw_json handles into
 * the schema documents, whose parsers the schema owns and never parses
 * with again, so they stay valid and are only read.
 */
#ifndef TW_SCHEMA_SCHEMA_INTERNAL_H
#define TW_SCHEMA_SCHEMA_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json/json.h"
#include "schema/arena.h"
#include "schema/regex.h"
#include "schema/schema.h"

/* The type keyword's bits, one per JSON Schema type name. */
enum schema_type_bit {
    SCHEMA_T_NULL = 1u << 0,
    SCHEMA_T_BOOLEAN = 1u << 1,
    SCHEMA_T_INTEGER = 1u << 2,
    SCHEMA_T_NUMBER = 1u << 3,
    SCHEMA_T_STRING = 1u << 4,
    SCHEMA_T_ARRAY = 1u << 5,
    SCHEMA_T_OBJECT = 1u << 6,
};

enum schema_format {
    SCHEMA_FORMAT_DATE_TIME,
    SCHEMA_FORMAT_DATE,
    SCHEMA_FORMAT_UUID,
    SCHEMA_FORMAT_EMAIL,
    SCHEMA_FORMAT_IPV4,
    SCHEMA_FORMAT_IPV6,
    SCHEMA_FORMAT_URI,
};

enum schema_kw_kind {
    SCHEMA_KW_FALSE, /* the schema false, or a keyword refusing all */
    SCHEMA_KW_TYPE,
    SCHEMA_KW_ENUM,
    SCHEMA_KW_CONST,
    SCHEMA_KW_MULTIPLE_OF,
    SCHEMA_KW_MAXIMUM,
    SCHEMA_KW_EXCLUSIVE_MAXIMUM,
    SCHEMA_KW_MINIMUM,
    SCHEMA_KW_EXCLUSIVE_MINIMUM,
    SCHEMA_KW_MAX_LENGTH,
    SCHEMA_KW_MIN_LENGTH,
    SCHEMA_KW_PATTERN,
    SCHEMA_KW_FORMAT,
    SCHEMA_KW_MAX_ITEMS,
    SCHEMA_KW_MIN_ITEMS,
    SCHEMA_KW_UNIQUE_ITEMS,
    SCHEMA_KW_ITEMS, /* prefixItems + items, or draft-07 items + additionalItems
                      */
    SCHEMA_KW_CONTAINS,
    SCHEMA_KW_MAX_PROPERTIES,
    SCHEMA_KW_MIN_PROPERTIES,
    SCHEMA_KW_REQUIRED,
    SCHEMA_KW_DEPENDENT_REQUIRED,
    SCHEMA_KW_DEPENDENT_SCHEMAS,
    SCHEMA_KW_PROPERTIES, /* properties + patternProperties + additional */
    SCHEMA_KW_PROPERTY_NAMES,
    SCHEMA_KW_ALL_OF,
    SCHEMA_KW_ANY_OF,
    SCHEMA_KW_ONE_OF,
    SCHEMA_KW_NOT,
    SCHEMA_KW_IF,
    SCHEMA_KW_REF,
    SCHEMA_KW_DYNAMIC_REF,
    SCHEMA_KW_UNEVALUATED_ITEMS,
    SCHEMA_KW_UNEVALUATED_PROPERTIES,
};

struct schema_node;

/* A decimal d = digits * 10^exp10 (multipleOf's divisor). */
struct schema_decimal {
    uint64_t digits;
    int32_t exp10;
};

struct schema_named_node {
    const char *name; /* may hold NUL bytes: use len */
    size_t len;
    struct schema_node *node;
};

struct schema_pattern_node {
    struct schema_regex *regex;
    struct schema_node *node;
};

struct schema_name_list {
    const char **names;
    size_t *lens;
    uint32_t count;
};

/* dependentRequired: when name is present, names must be too. */
struct schema_dependency {
    const char *name;
    size_t len;
    struct schema_name_list required;
};

struct schema_kw {
    enum schema_kw_kind kind;
    /* The keyword as written, for reports ("maxLength", "items", ...). */
    const char *name;
    union {
        uint32_t types; /* TYPE */
        struct {
            struct tw_json *values;
            uint32_t count;
        } enumeration;        /* ENUM */
        struct tw_json value; /* CONST */
        struct tw_json bound; /* MAXIMUM ... EXCLUSIVE_MINIMUM */
        struct {
            struct tw_json value;
            struct schema_decimal decimal;
        } multiple;                 /* MULTIPLE_OF */
        uint64_t count;             /* MAX_/MIN_ LENGTH, ITEMS, PROPERTIES */
        struct schema_regex *regex; /* PATTERN */
        struct {
            enum schema_format format;
            const char *name;
        } format; /* FORMAT */
        struct {
            struct schema_node **prefix;
            uint32_t prefix_count;
            const char *prefix_name;  /* "prefixItems" or "items" */
            struct schema_node *rest; /* NULL: no schema for the rest */
            const char *rest_name;    /* "items" or "additionalItems" */
        } items;
        struct {
            struct schema_node *node;
            uint64_t min; /* minContains, 1 by default */
            uint64_t max; /* maxContains, UINT64_MAX when absent */
        } contains;
        struct schema_name_list required;
        struct {
            struct schema_dependency *deps;
            uint32_t count;
        } dependent_required;
        struct {
            struct schema_named_node *deps;
            uint32_t count;
        } dependent_schemas;
        struct {
            struct schema_named_node *props; /* sorted by name */
            uint32_t prop_count;
            struct schema_pattern_node *patterns;
            uint32_t pattern_count;
            struct schema_node *additional; /* NULL when absent */
        } properties;
        struct {
            struct schema_node **nodes;
            uint32_t count;
        } list;                   /* ALL_OF, ANY_OF, ONE_OF */
        struct schema_node *node; /* NOT, REF, PROPERTY_NAMES, UNEVALUATED_* */
        struct {
            struct schema_node *if_node;
            struct schema_node *then_node; /* NULL when absent */
            struct schema_node *else_node; /* NULL when absent */
        } cond;
        struct {
            struct schema_node *node; /* the reference resolved statically */
            /* The $dynamicAnchor name when the target bears one (the
             * "bookend"); NULL makes this a plain $ref. */
            const char *anchor;
        } dynamic_ref;
    } u;
};

/* A $dynamicAnchor of a resource and the node it names. */
struct schema_dynamic_anchor {
    const char *name;
    struct schema_node *node;
};

/* A schema resource: a document root or a subschema with $id. */
struct schema_resource {
    const char *uri; /* absolute, normalised, without fragment */
    struct schema_dynamic_anchor *dynamic;
    uint32_t dynamic_count;
    struct schema_resource *next; /* all resources of the schema */
};

struct schema_node {
    /* "<uri>#<pointer>" of this subschema, for reports. */
    const char *location;
    struct schema_resource *resource;
    struct schema_kw *kws;
    uint32_t kw_count;
    /* The node has unevaluatedItems/Properties, so its in-place
     * subschemas must report what they evaluated. */
    bool tracks_evaluated;
};

struct tw_schema {
    struct schema_arena arena;
    struct schema_node *root;
    struct schema_resource *resources;
    /* Parsers of the documents the keywords point into. */
    struct tw_json_parser **parsers;
    uint32_t parser_count;
    struct schema_regex_limits regex_limits;
    struct schema_regex *regexes; /* every compiled pattern, to free */
    bool format_assert;
    uint32_t max_depth;
    uint64_t max_steps;
    /* The only state written while validating: counters, relaxed. */
    atomic_uint_fast64_t regex_limit_hits;
    atomic_uint_fast64_t depth_limit_hits;
    atomic_uint_fast64_t step_limit_hits;
    atomic_bool limit_logged;
};

#endif
