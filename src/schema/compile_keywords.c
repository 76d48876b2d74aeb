/*
 * compile_keywords.c - one schema object to its list of keywords.
 *
 * Each keyword's value is checked for the type the draft requires (an
 * error names the keyword's location and what it should be) and turned
 * into a struct schema_kw. Keywords that only mean something together
 * become one: properties, patternProperties and additionalProperties;
 * prefixItems and items (draft-07: items and additionalItems); contains
 * with minContains and maxContains; if with then and else.
 *
 * The order of the list is the order of evaluation: cheap assertions
 * first, then $ref and the applicators, and unevaluatedItems and
 * unevaluatedProperties last, because they depend on what everything
 * else in the object evaluated.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/compile.h"
#include "schema/format.h"
#include "schema/number.h"

/* The keywords being built for one node. */
struct kw_list {
    struct schema_compiler *c;
    struct schema_node *node;
    const struct schema_place *place;
    struct schema_kw *kws;
    uint32_t count;
    uint32_t capacity;
};

static struct schema_kw *kw_add(struct kw_list *l, enum schema_kw_kind kind,
                                const char *name)
{
    struct schema_kw *kw;

    if (l->count == l->capacity) {
        return NULL; /* sized for every member: cannot happen */
    }
    kw = &l->kws[l->count++];
    kw->kind = kind;
    kw->name = name;
    return kw;
}

static int kw_nomem(void)
{
    return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
}

static const char *kw_location(struct kw_list *l, const char *name)
{
    return schema_location_child(l->c, l->place->location, name, strlen(name));
}

static int kw_wrong(struct kw_list *l, const char *name, const char *want,
                    struct tw_json value)
{
    return schema_fail(l->c, kw_location(l, name), TW_EINVAL,
                       "%s must be %s, not %s", name, want,
                       tw_json_type_name(tw_json_type(value)));
}

static bool kw_get(struct kw_list *l, const char *name, struct tw_json *value)
{
    return tw_json_get(l->place->value, name, value);
}

static bool kw_is_number(struct tw_json v)
{
    enum tw_json_type t = tw_json_type(v);

    return t == TW_JSON_INT || t == TW_JSON_UINT || t == TW_JSON_DOUBLE;
}

/* A non-negative integer (2.0 counts); huge values saturate. */
static int kw_count(struct kw_list *l, const char *name, struct tw_json v,
                    uint64_t *out)
{
    double d;

    if (!kw_is_number(v) || !tw_json_is_integral(v) ||
        (tw_json_type(v) == TW_JSON_INT && tw_json_int(v) < 0) ||
        (tw_json_type(v) == TW_JSON_DOUBLE && tw_json_number(v) < 0)) {
        return schema_fail(l->c, kw_location(l, name), TW_EINVAL,
                           "%s must be a non-negative integer", name);
    }
    switch (tw_json_type(v)) {
    case TW_JSON_INT:
        *out = (uint64_t)tw_json_int(v);
        break;
    case TW_JSON_UINT:
        *out = tw_json_uint(v);
        break;
    default:
        d = tw_json_number(v);
        *out = d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
        break;
    }
    return 0;
}

/* --------------------------------------------------------- assertions -- */

static int kw_type_bit(struct kw_list *l, struct tw_json name, uint32_t *bits)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } types[] = {
        {"null", SCHEMA_T_NULL},       {"boolean", SCHEMA_T_BOOLEAN},
        {"integer", SCHEMA_T_INTEGER}, {"number", SCHEMA_T_NUMBER},
        {"string", SCHEMA_T_STRING},   {"array", SCHEMA_T_ARRAY},
        {"object", SCHEMA_T_OBJECT},
    };
    const char *text;
    size_t len;

    if (tw_json_type(name) != TW_JSON_STRING) {
        return kw_wrong(l, "type", "a type name or an array of them", name);
    }
    text = tw_json_string(name, &len);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strlen(types[i].name) == len &&
            memcmp(types[i].name, text, len) == 0) {
            *bits |= types[i].bit;
            return 0;
        }
    }
    return schema_fail(l->c, kw_location(l, "type"), TW_EINVAL,
                       "type \"%.*s\" is not a JSON Schema type (null, "
                       "boolean, integer, number, string, array, object)",
                       (int)(len > 40 ? 40 : len), text);
}

static int kw_type(struct kw_list *l, struct tw_json value)
{
    struct tw_json_iter it;
    struct tw_json name;
    uint32_t bits = 0;
    int rc = 0;

    if (tw_json_type(value) == TW_JSON_ARRAY) {
        tw_json_iter_init(&it, value);
        while (rc == 0 && tw_json_array_next(&it, &name)) {
            rc = kw_type_bit(l, name, &bits);
        }
    } else {
        rc = kw_type_bit(l, value, &bits);
    }
    if (rc == 0) {
        kw_add(l, SCHEMA_KW_TYPE, "type")->u.types = bits;
    }
    return rc;
}

static int kw_enum(struct kw_list *l, struct tw_json value)
{
    struct schema_kw *kw;
    struct tw_json_iter it;
    struct tw_json v;
    size_t n = 0;

    if (tw_json_type(value) != TW_JSON_ARRAY) {
        return kw_wrong(l, "enum", "an array", value);
    }
    kw = kw_add(l, SCHEMA_KW_ENUM, "enum");
    kw->u.enumeration.count = (uint32_t)tw_json_count(value);
    kw->u.enumeration.values = schema_arena_array(
        &l->c->schema->arena, kw->u.enumeration.count, sizeof(struct tw_json));
    if (kw->u.enumeration.values == NULL) {
        return kw_nomem();
    }
    tw_json_iter_init(&it, value);
    while (tw_json_array_next(&it, &v) && n < kw->u.enumeration.count) {
        kw->u.enumeration.values[n++] = v;
    }
    return 0;
}

static int kw_bound(struct kw_list *l, enum schema_kw_kind kind,
                    const char *name, struct tw_json value)
{
    if (!kw_is_number(value)) {
        return kw_wrong(l, name, "a number", value);
    }
    kw_add(l, kind, name)->u.bound = value;
    return 0;
}

static int kw_multiple_of(struct kw_list *l, struct tw_json value)
{
    struct schema_kw *kw;

    if (!kw_is_number(value) || tw_json_number(value) <= 0) {
        return schema_fail(l->c, kw_location(l, "multipleOf"), TW_EINVAL,
                           "multipleOf must be a number above 0");
    }
    kw = kw_add(l, SCHEMA_KW_MULTIPLE_OF, "multipleOf");
    kw->u.multiple.value = value;
    schema_number_decimal(value, &kw->u.multiple.decimal);
    return 0;
}

static int kw_counted(struct kw_list *l, enum schema_kw_kind kind,
                      const char *name, struct tw_json value)
{
    uint64_t count;
    int rc = kw_count(l, name, value, &count);

    if (rc == 0) {
        kw_add(l, kind, name)->u.count = count;
    }
    return rc;
}

/* Compiles a pattern, keeping it on the schema's list to free. */
static int kw_regex_text(struct kw_list *l, const char *location,
                         const char *text, size_t len,
                         struct schema_regex **out)
{
    char message[TW_SCHEMA_MESSAGE_MAX];
    int rc = schema_regex_compile(text, len, out, message, sizeof(message));

    if (rc == TW_EINVAL) {
        return schema_fail(l->c, location, rc, "invalid regular expression: %s",
                           message);
    }
    if (rc < 0) {
        return rc;
    }
    (*out)->source = schema_arena_strndup(&l->c->schema->arena, text, len);
    (*out)->next = l->c->schema->regexes;
    l->c->schema->regexes = *out;
    return (*out)->source != NULL ? 0 : kw_nomem();
}

static int kw_pattern(struct kw_list *l, struct tw_json value)
{
    struct schema_regex *regex;
    const char *text;
    size_t len;
    int rc;

    if (tw_json_type(value) != TW_JSON_STRING) {
        return kw_wrong(l, "pattern", "a string", value);
    }
    text = tw_json_string(value, &len);
    rc = kw_regex_text(l, kw_location(l, "pattern"), text, len, &regex);
    if (rc == 0) {
        kw_add(l, SCHEMA_KW_PATTERN, "pattern")->u.regex = regex;
    }
    return rc;
}

static int kw_format(struct kw_list *l, struct tw_json value)
{
    enum schema_format format;
    struct schema_kw *kw;
    const char *name;
    size_t len;

    if (tw_json_type(value) != TW_JSON_STRING) {
        return kw_wrong(l, "format", "a string", value);
    }
    name = tw_json_string(value, &len);
    if (!(l->c->opts.format_assert ||
          (l->place->dialect.vocab & SCHEMA_VOCAB_FORMAT_ASSERTION)) ||
        !schema_format_lookup(name, len, &format)) {
        return 0; /* an annotation, or a format not checked */
    }
    kw = kw_add(l, SCHEMA_KW_FORMAT, "format");
    kw->u.format.format = format;
    kw->u.format.name = schema_format_describe(format);
    return 0;
}

static int kw_unique(struct kw_list *l, struct tw_json value)
{
    if (tw_json_type(value) != TW_JSON_BOOL) {
        return kw_wrong(l, "uniqueItems", "a boolean", value);
    }
    if (tw_json_bool(value)) {
        kw_add(l, SCHEMA_KW_UNIQUE_ITEMS, "uniqueItems");
    }
    return 0;
}

/* An array of strings, copied into list. */
static int kw_names(struct kw_list *l, const char *location, struct tw_json v,
                    struct schema_name_list *list)
{
    struct schema_arena *arena = &l->c->schema->arena;
    struct tw_json_iter it;
    struct tw_json name;
    uint32_t n = 0;

    if (tw_json_type(v) != TW_JSON_ARRAY) {
        return schema_fail(l->c, location, TW_EINVAL,
                           "must be an array of property names, not %s",
                           tw_json_type_name(tw_json_type(v)));
    }
    list->count = (uint32_t)tw_json_count(v);
    list->names = schema_arena_array(arena, list->count, sizeof(char *));
    list->lens = schema_arena_array(arena, list->count, sizeof(size_t));
    if (list->names == NULL || list->lens == NULL) {
        return kw_nomem();
    }
    tw_json_iter_init(&it, v);
    while (tw_json_array_next(&it, &name) && n < list->count) {
        if (tw_json_type(name) != TW_JSON_STRING) {
            return schema_fail(l->c, location, TW_EINVAL,
                               "must hold only strings, not %s",
                               tw_json_type_name(tw_json_type(name)));
        }
        list->names[n] = tw_json_string(name, &list->lens[n]);
        n++;
    }
    return 0;
}

static int kw_required(struct kw_list *l, struct tw_json value)
{
    struct schema_kw *kw = kw_add(l, SCHEMA_KW_REQUIRED, "required");

    return kw_names(l, kw_location(l, "required"), value, &kw->u.required);
}

/* ------------------------------------------------- object applicators -- */

static int kw_named_compare(const void *a, const void *b)
{
    const struct schema_named_node *x = a;
    const struct schema_named_node *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int diff = memcmp(x->name, y->name, n);

    return diff != 0 ? diff : (x->len > y->len) - (x->len < y->len);
}

/* An object of schemas, as (name, node) pairs; sorted when asked. */
static int kw_schema_map(struct kw_list *l, const char *name, struct tw_json v,
                         struct schema_named_node **out, uint32_t *count,
                         bool sorted)
{
    struct tw_json_iter it;
    struct tw_json member;
    const char *key;
    size_t key_len;
    uint32_t n = 0;
    int rc;

    if (tw_json_type(v) != TW_JSON_OBJECT) {
        return kw_wrong(l, name, "an object of schemas", v);
    }
    *count = (uint32_t)tw_json_count(v);
    *out = schema_arena_array(&l->c->schema->arena, *count, sizeof(**out));
    if (*out == NULL) {
        return kw_nomem();
    }
    tw_json_iter_init(&it, v);
    while (tw_json_object_next(&it, &key, &key_len, &member) && n < *count) {
        (*out)[n].name = key;
        (*out)[n].len = key_len;
        rc = schema_child(l->c, l->place, member, name, key, key_len,
                          &(*out)[n].node);
        if (rc < 0) {
            return rc;
        }
        n++;
    }
    if (sorted && n > 1) {
        qsort(*out, n, sizeof(**out), kw_named_compare);
    }
    return 0;
}

static int kw_pattern_properties(struct kw_list *l, struct tw_json v,
                                 struct schema_kw *kw)
{
    struct schema_named_node *named;
    uint32_t n;
    int rc = kw_schema_map(l, "patternProperties", v, &named, &n, false);

    if (rc < 0) {
        return rc;
    }
    kw->u.properties.patterns = schema_arena_array(
        &l->c->schema->arena, n, sizeof(*kw->u.properties.patterns));
    if (kw->u.properties.patterns == NULL) {
        return kw_nomem();
    }
    for (uint32_t i = 0; i < n; i++) {
        struct schema_pattern_node *p = &kw->u.properties.patterns[i];
        const char *location =
            schema_location_child(l->c, kw_location(l, "patternProperties"),
                                  named[i].name, named[i].len);

        rc = location != NULL ? 0 : kw_nomem();
        if (rc == 0) {
            rc = kw_regex_text(l, location, named[i].name, named[i].len,
                               &p->regex);
        }
        if (rc < 0) {
            return rc;
        }
        p->node = named[i].node;
    }
    kw->u.properties.pattern_count = n;
    return 0;
}

static int kw_properties(struct kw_list *l)
{
    struct schema_kw kw = {.kind = SCHEMA_KW_PROPERTIES, .name = "properties"};
    struct tw_json value;
    bool any = false;
    int rc = 0;

    if (kw_get(l, "properties", &value)) {
        any = true;
        rc = kw_schema_map(l, "properties", value, &kw.u.properties.props,
                           &kw.u.properties.prop_count, true);
    }
    if (rc == 0 && kw_get(l, "patternProperties", &value)) {
        any = true;
        rc = kw_pattern_properties(l, value, &kw);
    }
    if (rc == 0 && kw_get(l, "additionalProperties", &value)) {
        any = true;
        rc = schema_child(l->c, l->place, value, "additionalProperties", NULL,
                          0, &kw.u.properties.additional);
    }
    if (rc == 0 && any) {
        *kw_add(l, SCHEMA_KW_PROPERTIES, "properties") = kw;
    }
    return rc;
}

static int kw_dependent_required(struct kw_list *l, const char *name,
                                 struct tw_json value)
{
    struct schema_kw *kw;
    struct tw_json_iter it;
    struct tw_json member;
    const char *key;
    size_t key_len;
    uint32_t n = 0;
    int rc = 0;

    if (tw_json_type(value) != TW_JSON_OBJECT) {
        return kw_wrong(l, name, "an object", value);
    }
    kw = kw_add(l, SCHEMA_KW_DEPENDENT_REQUIRED, name);
    kw->u.dependent_required.deps =
        schema_arena_array(&l->c->schema->arena, tw_json_count(value),
                           sizeof(struct schema_dependency));
    if (kw->u.dependent_required.deps == NULL) {
        return kw_nomem();
    }
    tw_json_iter_init(&it, value);
    while (rc == 0 && tw_json_object_next(&it, &key, &key_len, &member)) {
        struct schema_dependency *dep = &kw->u.dependent_required.deps[n];

        /* draft-07's dependencies mixes both kinds: schemas go elsewhere. */
        if (schema_is_schema(member) && strcmp(name, "dependencies") == 0) {
            continue;
        }
        dep->name = key;
        dep->len = key_len;
        rc = kw_names(
            l, schema_location_child(l->c, kw_location(l, name), key, key_len),
            member, &dep->required);
        n++;
    }
    kw->u.dependent_required.count = n;
    return rc;
}

static int kw_dependent_schemas(struct kw_list *l, const char *name,
                                struct tw_json value)
{
    struct schema_kw *kw;
    struct tw_json_iter it;
    struct tw_json member;
    const char *key;
    size_t key_len;
    uint32_t n = 0;
    int rc = 0;

    if (tw_json_type(value) != TW_JSON_OBJECT) {
        return kw_wrong(l, name, "an object of schemas", value);
    }
    kw = kw_add(l, SCHEMA_KW_DEPENDENT_SCHEMAS, name);
    kw->u.dependent_schemas.deps =
        schema_arena_array(&l->c->schema->arena, tw_json_count(value),
                           sizeof(struct schema_named_node));
    if (kw->u.dependent_schemas.deps == NULL) {
        return kw_nomem();
    }
    tw_json_iter_init(&it, value);
    while (rc == 0 && tw_json_object_next(&it, &key, &key_len, &member)) {
        struct schema_named_node *dep = &kw->u.dependent_schemas.deps[n];

        if (tw_json_type(member) == TW_JSON_ARRAY &&
            strcmp(name, "dependencies") == 0) {
            continue; /* a draft-07 list of names: see kw_dependent_required */
        }
        dep->name = key;
        dep->len = key_len;
        rc = schema_child(l->c, l->place, member, name, key, key_len,
                          &dep->node);
        n++;
    }
    kw->u.dependent_schemas.count = n;
    return rc;
}

/* -------------------------------------------------- array applicators -- */

/* An array of schemas below keyword name. */
static int kw_schema_list(struct kw_list *l, const char *name, struct tw_json v,
                          bool non_empty, struct schema_node ***out,
                          uint32_t *count)
{
    struct tw_json_iter it;
    struct tw_json member;
    char index[24];
    uint32_t n = 0;
    int rc;

    if (tw_json_type(v) != TW_JSON_ARRAY ||
        (non_empty && tw_json_count(v) == 0)) {
        return schema_fail(l->c, kw_location(l, name), TW_EINVAL,
                           "%s must be a%s array of schemas", name,
                           non_empty ? " non-empty" : "n");
    }
    *count = (uint32_t)tw_json_count(v);
    *out = schema_arena_array(&l->c->schema->arena, *count, sizeof(**out));
    if (*out == NULL) {
        return kw_nomem();
    }
    tw_json_iter_init(&it, v);
    while (tw_json_array_next(&it, &member) && n < *count) {
        snprintf(index, sizeof(index), "%u", n);
        rc = schema_child(l->c, l->place, member, name, index, strlen(index),
                          &(*out)[n]);
        if (rc < 0) {
            return rc;
        }
        n++;
    }
    return 0;
}

static int kw_items_2020(struct kw_list *l, struct schema_kw *kw)
{
    struct tw_json value;
    int rc = 0;

    kw->u.items.prefix_name = "prefixItems";
    kw->u.items.rest_name = "items";
    if (kw_get(l, "prefixItems", &value)) {
        rc = kw_schema_list(l, "prefixItems", value, false, &kw->u.items.prefix,
                            &kw->u.items.prefix_count);
    }
    if (rc == 0 && kw_get(l, "items", &value)) {
        rc = schema_child(l->c, l->place, value, "items", NULL, 0,
                          &kw->u.items.rest);
    }
    return rc;
}

/* draft-07: items is a schema for all, or an array for the first ones,
 * and then additionalItems applies to the rest. */
static int kw_items_7(struct kw_list *l, struct schema_kw *kw)
{
    struct tw_json items;
    struct tw_json value;
    int rc;

    kw->u.items.prefix_name = "items";
    kw->u.items.rest_name = "additionalItems";
    if (!kw_get(l, "items", &items)) {
        return 0; /* additionalItems alone does nothing */
    }
    if (tw_json_type(items) != TW_JSON_ARRAY) {
        kw->u.items.rest_name = "items";
        return schema_child(l->c, l->place, items, "items", NULL, 0,
                            &kw->u.items.rest);
    }
    rc = kw_schema_list(l, "items", items, false, &kw->u.items.prefix,
                        &kw->u.items.prefix_count);
    if (rc == 0 && kw_get(l, "additionalItems", &value)) {
        rc = schema_child(l->c, l->place, value, "additionalItems", NULL, 0,
                          &kw->u.items.rest);
    }
    return rc;
}

static int kw_items(struct kw_list *l)
{
    struct schema_kw kw = {.kind = SCHEMA_KW_ITEMS};
    int rc = l->place->dialect.draft == TW_SCHEMA_DRAFT_7
                 ? kw_items_7(l, &kw)
                 : kw_items_2020(l, &kw);

    if (rc == 0 && (kw.u.items.prefix_count > 0 || kw.u.items.rest != NULL)) {
        kw.name = kw.u.items.prefix_count > 0 ? kw.u.items.prefix_name
                                              : kw.u.items.rest_name;
        *kw_add(l, SCHEMA_KW_ITEMS, kw.name) = kw;
    }
    return rc;
}

static int kw_contains(struct kw_list *l, struct tw_json value)
{
    struct schema_kw kw = {.kind = SCHEMA_KW_CONTAINS, .name = "contains"};
    struct tw_json bound;
    int rc = schema_child(l->c, l->place, value, "contains", NULL, 0,
                          &kw.u.contains.node);

    kw.u.contains.min = 1;
    kw.u.contains.max = UINT64_MAX;
    if (l->place->dialect.draft == TW_SCHEMA_DRAFT_2020_12 &&
        (l->place->dialect.vocab & SCHEMA_VOCAB_VALIDATION)) {
        if (rc == 0 && kw_get(l, "minContains", &bound)) {
            rc = kw_count(l, "minContains", bound, &kw.u.contains.min);
        }
        if (rc == 0 && kw_get(l, "maxContains", &bound)) {
            rc = kw_count(l, "maxContains", bound, &kw.u.contains.max);
        }
    }
    if (rc == 0) {
        *kw_add(l, SCHEMA_KW_CONTAINS, "contains") = kw;
    }
    return rc;
}

/* ------------------------------------------------------- in-place ones -- */

static int kw_list_of(struct kw_list *l, enum schema_kw_kind kind,
                      const char *name, struct tw_json value)
{
    struct schema_kw kw = {.kind = kind, .name = name};
    int rc = kw_schema_list(l, name, value, true, &kw.u.list.nodes,
                            &kw.u.list.count);

    if (rc == 0) {
        *kw_add(l, kind, name) = kw;
    }
    return rc;
}

static int kw_single(struct kw_list *l, enum schema_kw_kind kind,
                     const char *name, struct tw_json value)
{
    struct schema_node *node;
    int rc = schema_child(l->c, l->place, value, name, NULL, 0, &node);

    if (rc == 0) {
        kw_add(l, kind, name)->u.node = node;
    }
    return rc;
}

static int kw_if(struct kw_list *l, struct tw_json value)
{
    struct schema_kw kw = {.kind = SCHEMA_KW_IF, .name = "if"};
    struct tw_json branch;
    int rc =
        schema_child(l->c, l->place, value, "if", NULL, 0, &kw.u.cond.if_node);

    if (rc == 0 && kw_get(l, "then", &branch)) {
        rc = schema_child(l->c, l->place, branch, "then", NULL, 0,
                          &kw.u.cond.then_node);
    }
    if (rc == 0 && kw_get(l, "else", &branch)) {
        rc = schema_child(l->c, l->place, branch, "else", NULL, 0,
                          &kw.u.cond.else_node);
    }
    if (rc == 0) {
        *kw_add(l, SCHEMA_KW_IF, "if") = kw;
    }
    return rc;
}

static int kw_ref(struct kw_list *l, struct tw_json value)
{
    struct schema_index_entry *anchor;
    struct schema_place target;
    struct schema_node *node;
    int rc;

    if (tw_json_type(value) != TW_JSON_STRING) {
        return kw_wrong(l, "$ref", "a string (a URI reference)", value);
    }
    rc = schema_resolve(l->c, l->place, kw_location(l, "$ref"), value, &target,
                        &anchor);
    if (rc == 0) {
        rc = schema_node_for(l->c, &target, &node);
    }
    if (rc == 0) {
        kw_add(l, SCHEMA_KW_REF, "$ref")->u.node = node;
    }
    return rc;
}

/*
 * Resolved like $ref; when the target is a $dynamicAnchor of the name in
 * the fragment, validation looks for the outermost resource in the
 * dynamic scope with an anchor of that name.
 */
static int kw_dynamic_ref(struct kw_list *l, struct tw_json value)
{
    struct schema_index_entry *anchor;
    struct schema_place target;
    struct schema_kw *kw;
    struct schema_node *node;
    int rc;

    if (tw_json_type(value) != TW_JSON_STRING) {
        return kw_wrong(l, "$dynamicRef", "a string (a URI reference)", value);
    }
    rc = schema_resolve(l->c, l->place, kw_location(l, "$dynamicRef"), value,
                        &target, &anchor);
    if (rc == 0) {
        rc = schema_node_for(l->c, &target, &node);
    }
    if (rc < 0) {
        return rc;
    }
    kw = kw_add(l, SCHEMA_KW_DYNAMIC_REF, "$dynamicRef");
    kw->u.dynamic_ref.node = node;
    if (anchor != NULL && anchor->dynamic_anchor != NULL) {
        kw->u.dynamic_ref.anchor = anchor->dynamic_anchor;
        l->c->has_dynamic_ref = true;
    }
    return 0;
}

/* ------------------------------------------------------------- groups -- */

static int kw_validation(struct kw_list *l)
{
    static const struct {
        const char *name;
        enum schema_kw_kind kind;
    } bounds[] =
        {
            {"maximum", SCHEMA_KW_MAXIMUM},
            {"exclusiveMaximum", SCHEMA_KW_EXCLUSIVE_MAXIMUM},
            {"minimum", SCHEMA_KW_MINIMUM},
            {"exclusiveMinimum", SCHEMA_KW_EXCLUSIVE_MINIMUM},
        },
      counts[] = {
          {"maxLength", SCHEMA_KW_MAX_LENGTH},
          {"minLength", SCHEMA_KW_MIN_LENGTH},
          {"maxItems", SCHEMA_KW_MAX_ITEMS},
          {"minItems", SCHEMA_KW_MIN_ITEMS},
          {"maxProperties", SCHEMA_KW_MAX_PROPERTIES},
          {"minProperties", SCHEMA_KW_MIN_PROPERTIES},
      };
    struct tw_json v;
    int rc = 0;

    if (kw_get(l, "type", &v)) {
        rc = kw_type(l, v);
    }
    if (rc == 0 && kw_get(l, "enum", &v)) {
        rc = kw_enum(l, v);
    }
    if (rc == 0 && kw_get(l, "const", &v)) {
        kw_add(l, SCHEMA_KW_CONST, "const")->u.value = v;
    }
    if (rc == 0 && kw_get(l, "multipleOf", &v)) {
        rc = kw_multiple_of(l, v);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        if (kw_get(l, bounds[i].name, &v)) {
            rc = kw_bound(l, bounds[i].kind, bounds[i].name, v);
        }
    }
    for (size_t i = 0; rc == 0 && i < sizeof(counts) / sizeof(counts[0]); i++) {
        if (kw_get(l, counts[i].name, &v)) {
            rc = kw_counted(l, counts[i].kind, counts[i].name, v);
        }
    }
    if (rc == 0 && kw_get(l, "pattern", &v)) {
        rc = kw_pattern(l, v);
    }
    if (rc == 0 && kw_get(l, "uniqueItems", &v)) {
        rc = kw_unique(l, v);
    }
    if (rc == 0 && kw_get(l, "required", &v)) {
        rc = kw_required(l, v);
    }
    if (rc == 0 && l->place->dialect.draft == TW_SCHEMA_DRAFT_2020_12 &&
        kw_get(l, "dependentRequired", &v)) {
        rc = kw_dependent_required(l, "dependentRequired", v);
    }
    return rc;
}

static int kw_applicators(struct kw_list *l)
{
    static const struct {
        const char *name;
        enum schema_kw_kind kind;
    } lists[] = {
        {"allOf", SCHEMA_KW_ALL_OF},
        {"anyOf", SCHEMA_KW_ANY_OF},
        {"oneOf", SCHEMA_KW_ONE_OF},
    };
    bool draft7 = l->place->dialect.draft == TW_SCHEMA_DRAFT_7;
    struct tw_json v;
    int rc = kw_items(l);

    if (rc == 0 && kw_get(l, "contains", &v)) {
        rc = kw_contains(l, v);
    }
    if (rc == 0) {
        rc = kw_properties(l);
    }
    if (rc == 0 && kw_get(l, "propertyNames", &v)) {
        rc = kw_single(l, SCHEMA_KW_PROPERTY_NAMES, "propertyNames", v);
    }
    if (rc == 0 &&
        kw_get(l, draft7 ? "dependencies" : "dependentSchemas", &v)) {
        rc = kw_dependent_schemas(
            l, draft7 ? "dependencies" : "dependentSchemas", v);
    }
    if (rc == 0 && draft7 && kw_get(l, "dependencies", &v)) {
        rc = kw_dependent_required(l, "dependencies", v);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(lists) / sizeof(lists[0]); i++) {
        if (kw_get(l, lists[i].name, &v)) {
            rc = kw_list_of(l, lists[i].kind, lists[i].name, v);
        }
    }
    if (rc == 0 && kw_get(l, "not", &v)) {
        rc = kw_single(l, SCHEMA_KW_NOT, "not", v);
    }
    if (rc == 0 && kw_get(l, "if", &v)) {
        rc = kw_if(l, v);
    }
    return rc;
}

static int kw_unevaluated(struct kw_list *l)
{
    struct tw_json v;
    int rc = 0;

    if (kw_get(l, "unevaluatedItems", &v)) {
        rc = kw_single(l, SCHEMA_KW_UNEVALUATED_ITEMS, "unevaluatedItems", v);
        l->node->tracks_evaluated = true;
    }
    if (rc == 0 && kw_get(l, "unevaluatedProperties", &v)) {
        rc = kw_single(l, SCHEMA_KW_UNEVALUATED_PROPERTIES,
                       "unevaluatedProperties", v);
        l->node->tracks_evaluated = true;
    }
    return rc;
}

static int kw_object(struct kw_list *l)
{
    const struct schema_dialect *d = &l->place->dialect;
    struct tw_json v;
    int rc = 0;

    if (d->draft == TW_SCHEMA_DRAFT_7 && kw_get(l, "$ref", &v)) {
        return kw_ref(l, v); /* draft-07: $ref hides its siblings */
    }
    if (d->vocab & SCHEMA_VOCAB_VALIDATION) {
        rc = kw_validation(l);
    }
    if (rc == 0 && kw_get(l, "format", &v)) {
        rc = kw_format(l, v);
    }
    if (rc == 0 && kw_get(l, "$ref", &v)) {
        rc = kw_ref(l, v);
    }
    if (rc == 0 && d->draft == TW_SCHEMA_DRAFT_2020_12 &&
        kw_get(l, "$dynamicRef", &v)) {
        rc = kw_dynamic_ref(l, v);
    }
    if (rc == 0 && (d->vocab & SCHEMA_VOCAB_APPLICATOR)) {
        rc = kw_applicators(l);
    }
    if (rc == 0 && d->draft == TW_SCHEMA_DRAFT_2020_12 &&
        (d->vocab & SCHEMA_VOCAB_UNEVALUATED)) {
        rc = kw_unevaluated(l);
    }
    return rc;
}

/*
 * The keyword a false subschema stands for, for reports: the last token
 * of its location ("additionalProperties"), or the one before when the
 * last is a name or an index under it ("properties" for .../properties/x).
 */
static const char *kw_false_name(struct schema_compiler *c,
                                 const char *location)
{
    static const char *const containers[] = {
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "dependentSchemas",
        "dependencies",
        "prefixItems",
        "items",
        "allOf",
        "anyOf",
        "oneOf",
    };
    const char *last = strrchr(location, '/');
    const char *hash = strchr(location, '#');
    const char *prev;

    if (last == NULL || hash == NULL || last < hash) {
        return "false";
    }
    prev = last - 1;
    while (prev > hash && *prev != '/') {
        prev--;
    }
    for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]); i++) {
        size_t n = strlen(containers[i]);

        if (*prev == '/' && (size_t)(last - prev - 1) == n &&
            memcmp(prev + 1, containers[i], n) == 0) {
            return containers[i];
        }
    }
    return schema_arena_strndup(&c->schema->arena, last + 1, strlen(last + 1));
}

int schema_compile_node(struct schema_compiler *c, struct schema_node *node,
                        const struct schema_place *place)
{
    struct kw_list l = {.c = c, .node = node, .place = place};
    int rc;

    if (tw_json_type(place->value) == TW_JSON_BOOL) {
        if (!tw_json_bool(place->value)) {
            node->kws =
                schema_arena_alloc(&c->schema->arena, sizeof(*node->kws));
            if (node->kws == NULL) {
                return kw_nomem();
            }
            node->kws[0] =
                (struct schema_kw){.kind = SCHEMA_KW_FALSE,
                                   .name = kw_false_name(c, node->location)};
            if (node->kws[0].name == NULL) {
                return kw_nomem();
            }
            node->kw_count = 1;
        }
        return 0;
    }
    /* A $ref by JSON Pointer may land on any value, not only a schema. */
    if (tw_json_type(place->value) != TW_JSON_OBJECT) {
        return schema_fail(c, node->location, TW_EINVAL,
                           "is referred to as a schema but is %s, not an "
                           "object or a boolean",
                           tw_json_type_name(tw_json_type(place->value)));
    }
    /* A member yields at most one keyword, draft-07's dependencies two. */
    l.capacity = (uint32_t)tw_json_count(place->value) + 2;
    l.kws = schema_arena_array(&c->schema->arena, l.capacity, sizeof(*l.kws));
    if (l.kws == NULL) {
        return kw_nomem();
    }
    rc = kw_object(&l);
    node->kws = l.kws;
    node->kw_count = l.count;
    return rc;
}
