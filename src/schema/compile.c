/*
 * compile.c - the compiler's driver (see compile.h): documents, the node
 * work list, $ref resolution, and the public compile and free calls.
 */
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/compile.h"
#include "schema/registry.h"
#include "schema/uri.h"

/* A node shell waiting for its keywords. */
struct schema_work {
    struct schema_node *node;
    struct schema_place place;
    struct schema_work *next;
};

/* A place in a document, by the identity of its value, and its node. */
struct schema_memo {
    struct tw_json value;
    struct schema_node *node;
};

void tw_schema_options_init(struct tw_schema_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->default_draft = TW_SCHEMA_DRAFT_2020_12;
}

int schema_fail(struct schema_compiler *c, const char *location, int code,
                const char *fmt, ...)
{
    char message[TW_SCHEMA_MESSAGE_MAX];
    const char *hash = location != NULL ? strchr(location, '#') : NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    if (location == NULL) {
        location = "";
    } else if (hash != NULL &&
               strncmp(location, TW_SCHEMA_DEFAULT_BASE_URI,
                       (size_t)(hash - location)) == 0 &&
               (size_t)(hash - location) ==
                   strlen(TW_SCHEMA_DEFAULT_BASE_URI)) {
        location = hash;
    }
    if (c->err != NULL) {
        snprintf(c->err->location, sizeof(c->err->location), "%s", location);
        snprintf(c->err->message, sizeof(c->err->message), "%s", message);
    }
    return tw_err_set(code, "schema %s: %s", location, message);
}

bool schema_is_schema(struct tw_json value)
{
    enum tw_json_type type = tw_json_type(value);

    return type == TW_JSON_OBJECT || type == TW_JSON_BOOL;
}

const char *schema_location_child(struct schema_compiler *c, const char *parent,
                                  const char *token, size_t len)
{
    size_t parent_len = strlen(parent);
    size_t extra = 0;
    char *out;
    char *p;

    for (size_t i = 0; i < len; i++) {
        extra += token[i] == '~' || token[i] == '/';
    }
    out = schema_arena_alloc(&c->schema->arena, parent_len + len + extra + 2);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, parent, parent_len);
    p = out + parent_len;
    *p++ = '/';
    for (size_t i = 0; i < len; i++) {
        if (token[i] == '~' || token[i] == '/') {
            *p++ = '~';
            *p++ = token[i] == '~' ? '0' : '1';
        } else {
            *p++ = token[i] == '\0' ? '?' : token[i];
        }
    }
    *p = '\0';
    return out;
}

/* ------------------------------------------------------------ the index -- */

static int index_compare(const void *a, const void *b)
{
    return strcmp(((const struct schema_index_entry *)a)->key,
                  ((const struct schema_index_entry *)b)->key);
}

struct schema_index_entry *schema_index_find(struct schema_compiler *c,
                                             const char *key)
{
    struct schema_index_entry probe = {.key = key};
    void *found = tfind(&probe, &c->index, index_compare);

    return found != NULL ? *(struct schema_index_entry **)found : NULL;
}

static int index_remember_dynamic(struct schema_compiler *c,
                                  struct schema_index_entry *entry)
{
    if (c->dynamic_count == c->dynamic_capacity) {
        uint32_t capacity = c->dynamic_capacity ? c->dynamic_capacity * 2 : 16;
        struct schema_index_entry **grown =
            realloc(c->dynamic, capacity * sizeof(*grown));

        if (grown == NULL) {
            return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
        }
        c->dynamic = grown;
        c->dynamic_capacity = capacity;
    }
    c->dynamic[c->dynamic_count++] = entry;
    return 0;
}

int schema_index_add(struct schema_compiler *c, const char *key,
                     const struct schema_place *place,
                     const char *dynamic_anchor)
{
    struct schema_index_entry *entry;
    void *slot;

    if (schema_index_find(c, key) != NULL) {
        return 0;
    }
    entry = schema_arena_alloc(&c->schema->arena, sizeof(*entry));
    if (entry == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    entry->key = schema_arena_strndup(&c->schema->arena, key, strlen(key));
    entry->place = *place;
    entry->dynamic_anchor = dynamic_anchor;
    slot = entry->key != NULL ? tsearch(entry, &c->index, index_compare) : NULL;
    if (slot == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    return dynamic_anchor != NULL ? index_remember_dynamic(c, entry) : 0;
}

/* ------------------------------------------------------------ resources -- */

static struct schema_resource *resource_new(struct schema_compiler *c,
                                            const char *uri)
{
    struct schema_resource *res =
        schema_arena_alloc(&c->schema->arena, sizeof(*res));

    if (res == NULL) {
        return NULL;
    }
    res->uri = schema_arena_strndup(&c->schema->arena, uri, strlen(uri));
    if (res->uri == NULL) {
        return NULL;
    }
    res->next = c->schema->resources;
    c->schema->resources = res;
    return res;
}

static bool same_value(struct tw_json a, struct tw_json b)
{
    return memcmp(a.opaque, b.opaque, sizeof(a.opaque)) == 0;
}

/* The absolute URI an $id names, without its fragment; malloc'd. */
static int resolve_id(struct schema_compiler *c, const char *base,
                      const char *location, struct tw_json id, char **out)
{
    size_t len;
    const char *text = tw_json_string(id, &len);
    size_t base_len;
    int rc = schema_uri_resolve(base, text, len, out);

    if (rc < 0) {
        return schema_fail(c, location, rc, "$id: %s", tw_err_message());
    }
    (void)schema_uri_fragment(*out, &base_len);
    (*out)[base_len] = '\0';
    return 0;
}

/* Whether an object's $id names a resource in its dialect. */
static bool names_resource(const struct schema_dialect *d, struct tw_json obj,
                           struct tw_json *id)
{
    struct tw_json ref;
    size_t len;

    if (!tw_json_get(obj, "$id", id) || tw_json_type(*id) != TW_JSON_STRING) {
        return false;
    }
    if (d->draft == TW_SCHEMA_DRAFT_7) {
        /* Beside $ref every other keyword is ignored, $id included; and
         * "#name" is a plain-name anchor, not a new base. */
        return !tw_json_get(obj, "$ref", &ref) &&
               tw_json_string(*id, &len)[0] != '#';
    }
    return true;
}

int schema_enter(struct schema_compiler *c, const struct schema_place *parent,
                 struct tw_json value, const char *location,
                 struct schema_place *out)
{
    struct schema_index_entry *entry;
    struct tw_json id;
    struct tw_json meta;
    char *uri;
    int rc = 0;

    *out = *parent;
    out->value = value;
    out->location = location;
    if (tw_json_type(value) != TW_JSON_OBJECT ||
        !names_resource(&parent->dialect, value, &id)) {
        return 0;
    }
    rc = resolve_id(c, parent->resource->uri, location, id, &uri);
    if (rc < 0) {
        return rc;
    }
    entry = schema_index_find(c, uri);
    if (entry != NULL && same_value(entry->place.value, value)) {
        *out = entry->place;
        goto free_uri;
    }
    if (tw_json_get(value, "$schema", &meta)) {
        rc = schema_dialect_of(c, location, meta, &out->dialect);
        if (rc < 0) {
            goto free_uri;
        }
    }
    out->resource = resource_new(c, uri);
    out->location = schema_arena_alloc(&c->schema->arena, strlen(uri) + 2);
    if (out->resource == NULL || out->location == NULL) {
        rc = tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
        goto free_uri;
    }
    sprintf((char *)out->location, "%s#", uri);

free_uri:
    free(uri);
    return rc;
}

/* ------------------------------------------------------------ documents -- */

static int keep_parser(struct schema_compiler *c, struct tw_json_parser *p)
{
    struct tw_schema *s = c->schema;
    struct tw_json_parser **grown =
        realloc(s->parsers, (s->parser_count + 1) * sizeof(*grown));

    if (grown == NULL) {
        tw_json_parser_free(p);
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    s->parsers = grown;
    s->parsers[s->parser_count++] = p;
    return 0;
}

/* The place of a document's root, before any $id: its retrieval URI. */
static int document_place(struct schema_compiler *c, const char *uri,
                          struct tw_json root, struct schema_place *out)
{
    struct schema_place outer = {
        .value = root,
        .dialect = {c->opts.default_draft, SCHEMA_VOCAB_DEFAULT},
    };
    struct tw_json meta;
    char *location;
    int rc;

    location = schema_arena_alloc(&c->schema->arena, strlen(uri) + 2);
    outer.resource = resource_new(c, uri);
    if (location == NULL || outer.resource == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    sprintf(location, "%s#", uri);
    outer.location = location;
    if (tw_json_type(root) == TW_JSON_OBJECT &&
        tw_json_get(root, "$schema", &meta)) {
        rc = schema_dialect_of(c, location, meta, &outer.dialect);
        if (rc < 0) {
            return rc;
        }
    }
    *out = outer;
    return 0;
}

/*
 * Parses a document, indexes it under its retrieval URI and everything it
 * names, and sets *root to its root's place.
 */
static int document_load(struct schema_compiler *c, const char *uri,
                         const char *text, size_t len,
                         struct schema_place *root)
{
    struct tw_json_parser *parser;
    struct schema_place outer;
    struct tw_json value;
    int rc;

    rc = tw_json_parser_new(TW_SCHEMA_DOC_MAX_BYTES, TW_SCHEMA_DOC_MAX_DEPTH,
                            &parser);
    if (rc < 0) {
        return rc;
    }
    rc = keep_parser(c, parser);
    if (rc < 0) {
        return rc;
    }
    rc = tw_json_parse(parser, text, len, &value);
    if (rc < 0) {
        return schema_fail(c, uri, rc, "not JSON: %s", tw_err_message());
    }
    if (!schema_is_schema(value)) {
        return schema_fail(c, uri, TW_EINVAL,
                           "a schema must be an object or a boolean, not %s",
                           tw_json_type_name(tw_json_type(value)));
    }
    rc = document_place(c, uri, value, &outer);
    if (rc < 0) {
        return rc;
    }
    rc = schema_enter(c, &outer, value, outer.location, root);
    if (rc < 0) {
        return rc;
    }
    rc = schema_index_add(c, uri, root, NULL);
    if (rc < 0) {
        return rc;
    }
    return schema_index_document(c, root);
}

/* Loads the registry's document for uri; TW_ENOENT when it has none. */
static int document_fetch(struct schema_compiler *c, const char *uri,
                          const char *kw_location)
{
    struct schema_place root;
    const char *text;
    size_t len;

    if (!schema_registry_get(c->reg, uri, &text, &len)) {
        if (c->err != NULL) {
            snprintf(c->err->missing_uri, sizeof(c->err->missing_uri), "%s",
                     uri);
        }
        return schema_fail(c, kw_location, TW_ENOENT,
                           "no document %s is known (add it to the registry)",
                           uri);
    }
    return document_load(c, uri, text, len, &root);
}

/* --------------------------------------------------------- resolution -- */

/* An array index in JSON Pointer form: digits, no leading zero. */
static bool pointer_index(const char *token, size_t len, size_t *index)
{
    size_t value = 0;

    if (len == 0 || (len > 1 && token[0] == '0')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (token[i] < '0' || token[i] > '9' || value > SIZE_MAX / 10 - 1) {
            return false;
        }
        value = value * 10 + (size_t)(token[i] - '0');
    }
    *index = value;
    return true;
}

static bool pointer_step(struct tw_json from, const char *token, size_t len,
                         struct tw_json *to)
{
    struct tw_json_iter it;
    size_t index;

    if (tw_json_type(from) == TW_JSON_OBJECT) {
        return tw_json_object_get(from, token, len, to);
    }
    if (tw_json_type(from) != TW_JSON_ARRAY ||
        !pointer_index(token, len, &index)) {
        return false;
    }
    tw_json_iter_init(&it, from);
    while (tw_json_array_next(&it, to)) {
        if (index-- == 0) {
            return true;
        }
    }
    return false;
}

/* ~1 is '/' and ~0 is '~'; returns the token's decoded length. */
static size_t pointer_unescape(char *token, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (token[i] == '~' && i + 1 < len &&
            (token[i + 1] == '0' || token[i + 1] == '1')) {
            token[n++] = token[i + 1] == '0' ? '~' : '/';
            i++;
        } else {
            token[n++] = token[i];
        }
    }
    return n;
}

/* Follows a decoded JSON Pointer (pointer[0] == '/') from a place. */
static int pointer_walk(struct schema_compiler *c,
                        const struct schema_place *start, char *pointer,
                        size_t len, const char *kw_location,
                        struct schema_place *out)
{
    struct schema_place place = *start;
    size_t i = 1;

    while (i <= len) {
        size_t end = i;
        struct tw_json next;
        const char *location;
        size_t token_len;
        int rc;

        while (end < len && pointer[end] != '/') {
            end++;
        }
        token_len = pointer_unescape(pointer + i, end - i);
        if (!pointer_step(place.value, pointer + i, token_len, &next)) {
            return schema_fail(c, kw_location, TW_ENOENT,
                               "$ref target %s has no \"%.*s\"", place.location,
                               (int)token_len, pointer + i);
        }
        location =
            schema_location_child(c, place.location, pointer + i, token_len);
        if (location == NULL) {
            return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
        }
        rc = schema_enter(c, &place, next, location, &place);
        if (rc < 0) {
            return rc;
        }
        i = end + 1;
    }
    *out = place;
    return 0;
}

/* The entry of a document or resource URI, loading it when needed. */
static int resolve_base(struct schema_compiler *c, const char *base,
                        const char *kw_location,
                        struct schema_index_entry **out)
{
    int rc;

    *out = schema_index_find(c, base);
    if (*out != NULL) {
        return 0;
    }
    rc = document_fetch(c, base, kw_location);
    if (rc < 0) {
        return rc;
    }
    *out = schema_index_find(c, base);
    if (*out == NULL) {
        return schema_fail(c, kw_location, TW_ENOENT, "%s names no schema",
                           base);
    }
    return 0;
}

/* The fragment part of an absolute reference: pointer, anchor or none. */
static int resolve_fragment(struct schema_compiler *c, const char *uri,
                            size_t base_len, const char *fragment,
                            const char *kw_location,
                            struct schema_index_entry *base,
                            struct schema_place *out,
                            struct schema_index_entry **anchor)
{
    size_t len = strlen(fragment);
    char *decoded = malloc(len + 1);
    int rc = 0;

    if (decoded == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    len = schema_uri_unescape(fragment, len, decoded);
    if (len == 0) {
        *out = base->place;
    } else if (decoded[0] == '/') {
        rc = pointer_walk(c, &base->place, decoded, len, kw_location, out);
    } else {
        char *key = malloc(base_len + len + 2);

        *anchor = NULL;
        if (key == NULL) {
            rc = tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
        } else {
            sprintf(key, "%.*s#%s", (int)base_len, uri, decoded);
            *anchor = schema_index_find(c, key);
            free(key);
        }
        if (rc == 0 && *anchor == NULL) {
            rc = schema_fail(c, kw_location, TW_ENOENT,
                             "no anchor \"%s\" in %.*s", decoded, (int)base_len,
                             uri);
        } else if (rc == 0) {
            *out = (*anchor)->place;
        }
    }
    free(decoded);
    return rc;
}

int schema_resolve(struct schema_compiler *c, const struct schema_place *from,
                   const char *kw_location, struct tw_json ref,
                   struct schema_place *out, struct schema_index_entry **entry)
{
    struct schema_index_entry *base;
    const char *fragment;
    size_t base_len;
    size_t len;
    const char *text = tw_json_string(ref, &len);
    char *uri;
    int rc;

    *entry = NULL;
    rc = schema_uri_resolve(from->resource->uri, text, len, &uri);
    if (rc < 0) {
        return schema_fail(c, kw_location, rc, "%s", tw_err_message());
    }
    fragment = schema_uri_fragment(uri, &base_len);
    uri[base_len] = '\0';
    rc = resolve_base(c, uri, kw_location, &base);
    if (rc == 0) {
        rc = resolve_fragment(c, uri, base_len, fragment ? fragment : "",
                              kw_location, base, out, entry);
    }
    free(uri);
    return rc;
}

/* ---------------------------------------------------------------- nodes -- */

static int memo_compare(const void *a, const void *b)
{
    return memcmp(((const struct schema_memo *)a)->value.opaque,
                  ((const struct schema_memo *)b)->value.opaque,
                  sizeof(struct tw_json));
}

int schema_node_for(struct schema_compiler *c, const struct schema_place *place,
                    struct schema_node **out)
{
    struct schema_memo probe = {.value = place->value};
    struct schema_memo *memo;
    struct schema_work *work;
    void *found = tfind(&probe, &c->memo, memo_compare);

    if (found != NULL) {
        *out = (*(struct schema_memo **)found)->node;
        return 0;
    }
    memo = schema_arena_alloc(&c->schema->arena, sizeof(*memo));
    work = schema_arena_alloc(&c->schema->arena, sizeof(*work));
    if (memo == NULL || work == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    memo->value = place->value;
    memo->node = schema_arena_alloc(&c->schema->arena, sizeof(*memo->node));
    if (memo->node == NULL || tsearch(memo, &c->memo, memo_compare) == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    memo->node->location = place->location;
    memo->node->resource = place->resource;
    work->node = memo->node;
    work->place = *place;
    work->next = c->work;
    c->work = work;
    *out = memo->node;
    return 0;
}

int schema_child(struct schema_compiler *c, const struct schema_place *parent,
                 struct tw_json value, const char *token1, const char *token2,
                 size_t token2_len, struct schema_node **out)
{
    const char *location =
        schema_location_child(c, parent->location, token1, strlen(token1));
    struct schema_place place;
    int rc;

    if (location != NULL && token2 != NULL) {
        location = schema_location_child(c, location, token2, token2_len);
    }
    if (location == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    if (!schema_is_schema(value)) {
        return schema_fail(c, location, TW_EINVAL,
                           "must be a schema (an object or a boolean), not %s",
                           tw_json_type_name(tw_json_type(value)));
    }
    rc = schema_enter(c, parent, value, location, &place);
    if (rc < 0) {
        return rc;
    }
    return schema_node_for(c, &place, out);
}

static int drain_work(struct schema_compiler *c)
{
    while (c->work != NULL) {
        struct schema_work *work = c->work;
        int rc;

        c->work = work->next;
        rc = schema_compile_node(c, work->node, &work->place);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/*
 * A $dynamicRef may land on any $dynamicAnchor of its name in the dynamic
 * scope, decided while validating, so every dynamic anchor gets a node
 * and every resource a table of its own.
 */
static int compile_dynamic_anchors(struct schema_compiler *c)
{
    struct schema_node *node;
    int rc;

    for (uint32_t i = 0; i < c->dynamic_count; i++) {
        rc = schema_node_for(c, &c->dynamic[i]->place, &node);
        if (rc == 0) {
            rc = drain_work(c);
        }
        if (rc < 0) {
            return rc;
        }
    }
    for (uint32_t i = 0; i < c->dynamic_count; i++) {
        c->dynamic[i]->place.resource->dynamic_count++;
    }
    for (struct schema_resource *r = c->schema->resources; r; r = r->next) {
        r->dynamic = schema_arena_array(&c->schema->arena, r->dynamic_count,
                                        sizeof(*r->dynamic));
        if (r->dynamic == NULL) {
            return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
        }
        r->dynamic_count = 0;
    }
    for (uint32_t i = 0; i < c->dynamic_count; i++) {
        struct schema_index_entry *e = c->dynamic[i];
        struct schema_resource *r = e->place.resource;

        rc = schema_node_for(c, &e->place, &node);
        if (rc < 0) {
            return rc;
        }
        r->dynamic[r->dynamic_count++] =
            (struct schema_dynamic_anchor){e->dynamic_anchor, node};
    }
    return 0;
}

static void tree_noop(void *node)
{
    (void)node;
}

static int schema_new(const struct tw_schema_options *opts,
                      struct tw_schema **out)
{
    struct tw_schema *s = calloc(1, sizeof(*s));
    int rc;

    *out = NULL;
    if (s == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a schema");
    }
    s->format_assert = opts->format_assert;
    s->max_depth =
        opts->max_depth ? opts->max_depth : TW_SCHEMA_DEFAULT_MAX_DEPTH;
    s->max_steps =
        opts->max_steps ? opts->max_steps : TW_SCHEMA_DEFAULT_MAX_STEPS;
    rc = schema_regex_limits_init(
        &s->regex_limits,
        opts->regex_match_limit ? opts->regex_match_limit
                                : TW_SCHEMA_DEFAULT_REGEX_MATCH_LIMIT,
        opts->regex_depth_limit ? opts->regex_depth_limit
                                : TW_SCHEMA_DEFAULT_REGEX_DEPTH_LIMIT);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* The base URI in normal form: the given one or the default. */
static int compile_base(struct schema_compiler *c, char **out)
{
    const char *base = c->opts.base_uri != NULL ? c->opts.base_uri
                                                : TW_SCHEMA_DEFAULT_BASE_URI;
    size_t base_len;
    int rc;

    if (!schema_uri_is_absolute(base, strlen(base))) {
        return schema_fail(c, "", TW_EINVAL,
                           "base URI \"%s\" is not an absolute URI", base);
    }
    rc = schema_uri_resolve(base, base, strlen(base), out);
    if (rc < 0) {
        return schema_fail(c, "", rc, "%s", tw_err_message());
    }
    (void)schema_uri_fragment(*out, &base_len);
    (*out)[base_len] = '\0';
    return 0;
}

static int compile_all(struct schema_compiler *c, const char *json, size_t len)
{
    struct schema_place root;
    char *base;
    int rc = compile_base(c, &base);

    if (rc < 0) {
        return rc;
    }
    rc = document_load(c, base, json, len, &root);
    free(base);
    if (rc == 0) {
        rc = schema_node_for(c, &root, &c->schema->root);
    }
    if (rc == 0) {
        rc = drain_work(c);
    }
    if (rc == 0 && c->has_dynamic_ref) {
        rc = compile_dynamic_anchors(c);
    }
    return rc;
}

int tw_schema_compile(const struct tw_schema_registry *reg, const char *json,
                      size_t len, const struct tw_schema_options *opts,
                      struct tw_schema **out, struct tw_schema_error *err)
{
    struct schema_compiler c = {.reg = reg, .err = err};
    int rc;

    *out = NULL;
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
    if (opts != NULL) {
        c.opts = *opts;
    } else {
        tw_schema_options_init(&c.opts);
    }
    rc = schema_new(&c.opts, &c.schema);
    if (rc < 0) {
        return rc;
    }
    rc = compile_all(&c, json, len);

    tdestroy(c.index, tree_noop);
    tdestroy(c.memo, tree_noop);
    free(c.dynamic);
    if (rc < 0) {
        tw_schema_free(c.schema);
        return rc;
    }
    *out = c.schema;
    return 0;
}

void tw_schema_free(struct tw_schema *schema)
{
    struct schema_regex *regex;

    if (schema == NULL) {
        return;
    }
    regex = schema->regexes;
    while (regex != NULL) {
        struct schema_regex *next = regex->next;

        schema_regex_free(regex);
        regex = next;
    }
    for (uint32_t i = 0; i < schema->parser_count; i++) {
        tw_json_parser_free(schema->parsers[i]);
    }
    free(schema->parsers);
    schema_regex_limits_free(&schema->regex_limits);
    schema_arena_free(&schema->arena);
    free(schema);
}

void tw_schema_stats(const struct tw_schema *schema,
                     struct tw_schema_stats *out)
{
    out->regex_limit_hits =
        atomic_load_explicit(&schema->regex_limit_hits, memory_order_relaxed);
    out->depth_limit_hits =
        atomic_load_explicit(&schema->depth_limit_hits, memory_order_relaxed);
    out->step_limit_hits =
        atomic_load_explicit(&schema->step_limit_hits, memory_order_relaxed);
}
