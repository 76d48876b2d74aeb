/*
 * index.c - finds what a schema document names: its resources ($id), its
 * anchors ($anchor, $dynamicAnchor, draft-07's "$id": "#name"), and the
 * dialect each resource is written in ($schema, $vocabulary).
 *
 * Only subschema positions are searched, as each draft defines them: an
 * "$id" inside an enum value or under an unknown keyword names nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/compile.h"
#include "schema/registry.h"

#define DRAFT_2020_12_URI "https://json-schema.org/draft/2020-12/schema"
#define DRAFT_7_URI "http://json-schema.org/draft-07/schema"
#define VOCAB_PREFIX "https://json-schema.org/draft/2020-12/vocab/"

/* A custom meta-schema may name another; this many levels at most. */
#define DIALECT_MAX_CHAIN 8

enum index_shape {
    INDEX_ONE,   /* the value is a schema */
    INDEX_LIST,  /* an array of schemas */
    INDEX_MAP,   /* an object whose values are schemas */
    INDEX_MAYBE, /* a schema, an array of schemas, or anything else */
};

struct index_keyword {
    const char *name;
    enum index_shape shape;
};

static const struct index_keyword index_2020[] = {
    {"additionalProperties", INDEX_ONE},
    {"propertyNames", INDEX_ONE},
    {"items", INDEX_ONE},
    {"contains", INDEX_ONE},
    {"not", INDEX_ONE},
    {"if", INDEX_ONE},
    {"then", INDEX_ONE},
    {"else", INDEX_ONE},
    {"unevaluatedItems", INDEX_ONE},
    {"unevaluatedProperties", INDEX_ONE},
    {"contentSchema", INDEX_ONE},
    {"allOf", INDEX_LIST},
    {"anyOf", INDEX_LIST},
    {"oneOf", INDEX_LIST},
    {"prefixItems", INDEX_LIST},
    {"properties", INDEX_MAP},
    {"patternProperties", INDEX_MAP},
    {"$defs", INDEX_MAP},
    {"dependentSchemas", INDEX_MAP},
    {NULL, INDEX_ONE},
};

static const struct index_keyword index_7[] = {
    {"additionalItems", INDEX_ONE},
    {"additionalProperties", INDEX_ONE},
    {"contains", INDEX_ONE},
    {"not", INDEX_ONE},
    {"if", INDEX_ONE},
    {"then", INDEX_ONE},
    {"else", INDEX_ONE},
    {"propertyNames", INDEX_ONE},
    {"items", INDEX_MAYBE},
    {"allOf", INDEX_LIST},
    {"anyOf", INDEX_LIST},
    {"oneOf", INDEX_LIST},
    {"properties", INDEX_MAP},
    {"patternProperties", INDEX_MAP},
    {"definitions", INDEX_MAP},
    {"dependencies", INDEX_MAP},
    {NULL, INDEX_ONE},
};

static int index_schema(struct schema_compiler *c,
                        const struct schema_place *place);

/* --------------------------------------------------------------- dialects */

static uint32_t vocab_bit(const char *name, size_t len)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } vocabs[] = {
        {"applicator", SCHEMA_VOCAB_APPLICATOR},
        {"unevaluated", SCHEMA_VOCAB_UNEVALUATED},
        {"validation", SCHEMA_VOCAB_VALIDATION},
        {"format-assertion", SCHEMA_VOCAB_FORMAT_ASSERTION},
    };
    size_t prefix = strlen(VOCAB_PREFIX);

    if (len <= prefix || memcmp(name, VOCAB_PREFIX, prefix) != 0) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(vocabs) / sizeof(vocabs[0]); i++) {
        if (strlen(vocabs[i].name) == len - prefix &&
            memcmp(vocabs[i].name, name + prefix, len - prefix) == 0) {
            return vocabs[i].bit;
        }
    }
    return 0;
}

/* The vocabularies a meta-schema's $vocabulary lists (unknown: ignored). */
static uint32_t vocab_of(struct tw_json vocabulary)
{
    struct tw_json_iter it;
    struct tw_json value;
    const char *key;
    size_t key_len;
    uint32_t bits = 0;

    tw_json_iter_init(&it, vocabulary);
    while (tw_json_object_next(&it, &key, &key_len, &value)) {
        bits |= vocab_bit(key, key_len);
    }
    return bits;
}

static int dialect_chain(struct schema_compiler *c, const char *location,
                         const char *uri, size_t len, unsigned level,
                         struct schema_dialect *out);

/* A meta-schema from the registry: its $vocabulary and its own $schema. */
static int dialect_custom(struct schema_compiler *c, const char *location,
                          const char *uri, const char *text, size_t len,
                          unsigned level, struct schema_dialect *out)
{
    struct tw_json_parser *parser;
    struct tw_json root;
    struct tw_json value;
    const char *meta;
    size_t meta_len;
    int rc = tw_json_parser_new(TW_SCHEMA_DOC_MAX_BYTES,
                                TW_SCHEMA_DOC_MAX_DEPTH, &parser);

    if (rc < 0) {
        return rc;
    }
    rc = tw_json_parse(parser, text, len, &root);
    if (rc < 0 || tw_json_type(root) != TW_JSON_OBJECT) {
        rc = schema_fail(c, location, TW_EINVAL,
                         "meta-schema %s is not a JSON object", uri);
        goto free_parser;
    }
    out->draft = TW_SCHEMA_DRAFT_2020_12;
    out->vocab = SCHEMA_VOCAB_DEFAULT;
    if (tw_json_get(root, "$schema", &value) &&
        tw_json_type(value) == TW_JSON_STRING) {
        meta = tw_json_string(value, &meta_len);
        if (meta_len != strlen(uri) || memcmp(meta, uri, meta_len) != 0) {
            rc = dialect_chain(c, location, meta, meta_len, level + 1, out);
        }
    }
    if (rc == 0 && tw_json_get(root, "$vocabulary", &value) &&
        tw_json_type(value) == TW_JSON_OBJECT) {
        out->vocab = vocab_of(value);
    }

free_parser:
    tw_json_parser_free(parser);
    return rc;
}

static bool same_uri(const char *a, size_t len, const char *known)
{
    size_t n = strlen(known);

    /* Written with or without the empty fragment. */
    return (len == n || (len == n + 1 && a[n] == '#')) &&
           memcmp(a, known, n) == 0;
}

static int dialect_chain(struct schema_compiler *c, const char *location,
                         const char *uri, size_t len, unsigned level,
                         struct schema_dialect *out)
{
    char key[TW_SCHEMA_PATH_MAX];
    const char *text;
    size_t text_len;

    if (same_uri(uri, len, DRAFT_2020_12_URI)) {
        *out = (struct schema_dialect){TW_SCHEMA_DRAFT_2020_12,
                                       SCHEMA_VOCAB_DEFAULT};
        return 0;
    }
    if (same_uri(uri, len, DRAFT_7_URI)) {
        *out = (struct schema_dialect){TW_SCHEMA_DRAFT_7, SCHEMA_VOCAB_DEFAULT};
        return 0;
    }
    if (level >= DIALECT_MAX_CHAIN) {
        return schema_fail(c, location, TW_EINVAL,
                           "$schema: meta-schemas name each other more than "
                           "%d levels deep",
                           DIALECT_MAX_CHAIN);
    }
    snprintf(key, sizeof(key), "%.*s", (int)len, uri);
    if (len > 0 && key[strlen(key) - 1] == '#') {
        key[strlen(key) - 1] = '\0';
    }
    if (!schema_registry_get(c->reg, key, &text, &text_len)) {
        if (c->err != NULL) {
            snprintf(c->err->missing_uri, sizeof(c->err->missing_uri), "%s",
                     key);
        }
        return schema_fail(c, location, TW_ENOENT,
                           "$schema: %s is neither draft 2020-12 nor draft-07 "
                           "and is not in the registry",
                           key);
    }
    return dialect_custom(c, location, key, text, text_len, level, out);
}

int schema_dialect_of(struct schema_compiler *c, const char *location,
                      struct tw_json uri, struct schema_dialect *out)
{
    const char *text;
    size_t len;

    if (tw_json_type(uri) != TW_JSON_STRING) {
        return schema_fail(c, location, TW_EINVAL,
                           "$schema must be a string (a URI), not %s",
                           tw_json_type_name(tw_json_type(uri)));
    }
    text = tw_json_string(uri, &len);
    return dialect_chain(c, location, text, len, 0, out);
}

/* ---------------------------------------------------------------- walking */

static int index_anchor(struct schema_compiler *c,
                        const struct schema_place *place, struct tw_json name,
                        bool dynamic)
{
    const char *text;
    size_t len;
    char *key;
    int rc;

    if (tw_json_type(name) != TW_JSON_STRING) {
        return 0;
    }
    text = tw_json_string(name, &len);
    if (memchr(text, '\0', len) != NULL) {
        return 0;
    }
    key = malloc(strlen(place->resource->uri) + len + 2);
    if (key == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    sprintf(key, "%s#%s", place->resource->uri, text);
    rc = schema_index_add(
        c, key, place,
        dynamic ? schema_arena_strndup(&c->schema->arena, text, len) : NULL);
    free(key);
    return rc;
}

static int index_anchors(struct schema_compiler *c,
                         const struct schema_place *place)
{
    struct tw_json value;
    const char *text;
    size_t len;
    int rc = 0;

    if (place->dialect.draft == TW_SCHEMA_DRAFT_7) {
        if (tw_json_get(place->value, "$id", &value) &&
            tw_json_type(value) == TW_JSON_STRING &&
            !tw_json_get(place->value, "$ref", &value)) {
            (void)tw_json_get(place->value, "$id", &value);
            text = tw_json_string(value, &len);
            if (len > 1 && text[0] == '#' && memchr(text, '\0', len) == NULL) {
                char *key = malloc(strlen(place->resource->uri) + len + 1);

                if (key == NULL) {
                    return tw_err_set(TW_ENOMEM, "out of memory compiling");
                }
                sprintf(key, "%s%s", place->resource->uri, text);
                rc = schema_index_add(c, key, place, NULL);
                free(key);
            }
        }
        return rc;
    }
    if (tw_json_get(place->value, "$anchor", &value)) {
        rc = index_anchor(c, place, value, false);
    }
    if (rc == 0 && tw_json_get(place->value, "$dynamicAnchor", &value)) {
        rc = index_anchor(c, place, value, true);
    }
    return rc;
}

static int index_one(struct schema_compiler *c,
                     const struct schema_place *parent, struct tw_json value,
                     const char *location)
{
    struct schema_place place;
    int rc;

    if (!schema_is_schema(value) || location == NULL) {
        return location == NULL ? tw_err_set(TW_ENOMEM, "out of memory") : 0;
    }
    rc = schema_enter(c, parent, value, location, &place);
    if (rc < 0) {
        return rc;
    }
    if (place.resource != parent->resource) {
        rc = schema_index_add(c, place.resource->uri, &place, NULL);
        if (rc < 0) {
            return rc;
        }
    }
    return index_schema(c, &place);
}

static int index_members(struct schema_compiler *c,
                         const struct schema_place *parent,
                         struct tw_json container, const char *location)
{
    struct tw_json_iter it;
    struct tw_json value;
    const char *key;
    size_t key_len;
    char number[24];
    size_t i = 0;
    int rc = 0;

    tw_json_iter_init(&it, container);
    if (tw_json_type(container) == TW_JSON_ARRAY) {
        while (rc == 0 && tw_json_array_next(&it, &value)) {
            snprintf(number, sizeof(number), "%zu", i++);
            rc = index_one(
                c, parent, value,
                schema_location_child(c, location, number, strlen(number)));
        }
        return rc;
    }
    while (rc == 0 && tw_json_object_next(&it, &key, &key_len, &value)) {
        rc = index_one(c, parent, value,
                       schema_location_child(c, location, key, key_len));
    }
    return rc;
}

static int index_keyword(struct schema_compiler *c,
                         const struct schema_place *place,
                         const struct index_keyword *kw, struct tw_json value)
{
    const char *location =
        schema_location_child(c, place->location, kw->name, strlen(kw->name));
    enum tw_json_type type = tw_json_type(value);

    if (location == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    switch (kw->shape) {
    case INDEX_ONE:
        return index_one(c, place, value, location);
    case INDEX_LIST:
        return type == TW_JSON_ARRAY ? index_members(c, place, value, location)
                                     : 0;
    case INDEX_MAP:
        return type == TW_JSON_OBJECT ? index_members(c, place, value, location)
                                      : 0;
    case INDEX_MAYBE:
        return type == TW_JSON_ARRAY ? index_members(c, place, value, location)
                                     : index_one(c, place, value, location);
    }
    return 0;
}

static int index_schema(struct schema_compiler *c,
                        const struct schema_place *place)
{
    const struct index_keyword *table;
    struct tw_json value;
    int rc;

    if (tw_json_type(place->value) != TW_JSON_OBJECT) {
        return 0;
    }
    rc = index_anchors(c, place);
    if (rc < 0) {
        return rc;
    }
    if (place->dialect.draft == TW_SCHEMA_DRAFT_7) {
        if (tw_json_get(place->value, "$ref", &value)) {
            return 0; /* draft-07: $ref hides its siblings */
        }
        table = index_7;
    } else {
        table = index_2020;
    }
    for (const struct index_keyword *kw = table; kw->name != NULL; kw++) {
        if (tw_json_get(place->value, kw->name, &value)) {
            rc = index_keyword(c, place, kw, value);
            if (rc < 0) {
                return rc;
            }
        }
    }
    return 0;
}

int schema_index_document(struct schema_compiler *c,
                          const struct schema_place *root)
{
    int rc = schema_index_add(c, root->resource->uri, root, NULL);

    return rc < 0 ? rc : index_schema(c, root);
}
