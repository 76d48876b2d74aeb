/*
 * registry.c - documents a schema may refer to, by URI (schema.h).
 *
 * A flat array searched linearly: a registry holds the few dozen documents
 * of a tracking plan, and it is read only while compiling.
 */
#include <stdlib.h>
#include <string.h>

#include "schema/registry.h"
#include "schema/uri.h"

#define REGISTRY_DEFAULT_MAX_BYTES (64u << 20)

struct registry_doc {
    char *uri;
    char *text;
    size_t len;
};

struct tw_schema_registry {
    struct registry_doc *docs;
    size_t count;
    size_t capacity;
    size_t bytes;
    size_t max_bytes;
};

int tw_schema_registry_new(size_t max_bytes, struct tw_schema_registry **out)
{
    struct tw_schema_registry *reg = calloc(1, sizeof(*reg));

    *out = NULL;
    if (reg == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory creating a registry");
    }
    reg->max_bytes = max_bytes != 0 ? max_bytes : REGISTRY_DEFAULT_MAX_BYTES;
    *out = reg;
    return 0;
}

void tw_schema_registry_free(struct tw_schema_registry *reg)
{
    if (reg == NULL) {
        return;
    }
    for (size_t i = 0; i < reg->count; i++) {
        free(reg->docs[i].uri);
        free(reg->docs[i].text);
    }
    free(reg->docs);
    free(reg);
}

/* The URI in normal form without its fragment; malloc'd. */
static int registry_key(const char *uri, char **out)
{
    size_t base_len;
    int rc;

    if (!schema_uri_is_absolute(uri, strlen(uri))) {
        return tw_err_set(TW_EINVAL, "registry: \"%s\" is not an absolute URI",
                          uri);
    }
    rc = schema_uri_resolve(uri, uri, strlen(uri), out);
    if (rc < 0) {
        return rc;
    }
    (void)schema_uri_fragment(*out, &base_len);
    (*out)[base_len] = '\0';
    return 0;
}

static int registry_check_json(const char *uri, const char *json, size_t len)
{
    struct tw_json_parser *parser;
    struct tw_json root;
    int rc = tw_json_parser_new(TW_SCHEMA_DOC_MAX_BYTES,
                                TW_SCHEMA_DOC_MAX_DEPTH, &parser);

    if (rc < 0) {
        return rc;
    }
    rc = tw_json_parse(parser, json, len, &root);
    if (rc < 0) {
        rc = tw_err_set(rc, "registry: document %s: %s", uri, tw_err_message());
    }
    tw_json_parser_free(parser);
    return rc;
}

static int registry_grow(struct tw_schema_registry *reg)
{
    size_t capacity = reg->capacity != 0 ? reg->capacity * 2 : 16;
    struct registry_doc *docs;

    if (reg->count < reg->capacity) {
        return 0;
    }
    docs = realloc(reg->docs, capacity * sizeof(*docs));
    if (docs == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory growing a registry");
    }
    reg->docs = docs;
    reg->capacity = capacity;
    return 0;
}

int tw_schema_registry_add(struct tw_schema_registry *reg, const char *uri,
                           const char *json, size_t len)
{
    struct registry_doc doc = {.len = len};
    const char *existing;
    size_t existing_len;
    int rc;

    if (len > reg->max_bytes - reg->bytes) {
        return tw_err_set(TW_EFULL,
                          "registry: adding %s (%zu bytes) would pass the "
                          "registry's %zu bytes",
                          uri, len, reg->max_bytes);
    }
    rc = registry_key(uri, &doc.uri);
    if (rc < 0) {
        return rc;
    }
    if (schema_registry_get(reg, doc.uri, &existing, &existing_len)) {
        rc =
            tw_err_set(TW_EBUSY, "registry: %s is already registered", doc.uri);
        goto free_uri;
    }
    rc = registry_check_json(doc.uri, json, len);
    if (rc < 0) {
        goto free_uri;
    }
    rc = registry_grow(reg);
    if (rc < 0) {
        goto free_uri;
    }
    doc.text = malloc(len + 1);
    if (doc.text == NULL) {
        rc = tw_err_set(TW_ENOMEM, "out of memory adding %s", doc.uri);
        goto free_uri;
    }
    memcpy(doc.text, json, len);
    doc.text[len] = '\0';
    reg->docs[reg->count++] = doc;
    reg->bytes += len;
    return 0;

free_uri:
    free(doc.uri);
    return rc;
}

bool schema_registry_get(const struct tw_schema_registry *reg, const char *uri,
                         const char **text, size_t *len)
{
    if (reg == NULL) {
        return false;
    }
    for (size_t i = 0; i < reg->count; i++) {
        if (strcmp(reg->docs[i].uri, uri) == 0) {
            *text = reg->docs[i].text;
            *len = reg->docs[i].len;
            return true;
        }
    }
    return false;
}
