/* yaml_walk.c - typed reads of a libyaml document (yaml_walk.h). */
#include "config/yaml_walk.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"

int yaml_line(const yaml_node_t *node)
{
    return node == NULL ? 0 : (int)node->start_mark.line + 1;
}

void yaml_error(struct yaml_walk *walk, const yaml_node_t *node,
                const char *fmt, ...)
{
    char message[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    cfg_errors_add(walk->errors, walk->file, yaml_line(node), "%s", message);
}

static const char *node_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return "a single value";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

bool yaml_expect(struct yaml_walk *walk, yaml_node_t *node,
                 yaml_node_type_t type, const char *what)
{
    if (node->type == type) {
        return true;
    }
    yaml_error(walk, node, "%s must be %s, not %s", what,
               type == YAML_MAPPING_NODE    ? "a mapping"
               : type == YAML_SEQUENCE_NODE ? "a list"
                                            : "a single value",
               node_kind(node));
    return false;
}

bool yaml_member_at(struct yaml_walk *walk, yaml_node_t *map, size_t n,
                    struct yaml_member *member)
{
    yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    size_t count = (size_t)(map->data.mapping.pairs.top - pairs);

    if (n >= count) {
        return false;
    }
    member->key_node = yaml_document_get_node(walk->doc, pairs[n].key);
    member->value = yaml_document_get_node(walk->doc, pairs[n].value);
    member->key = member->key_node->type == YAML_SCALAR_NODE
                      ? (const char *)member->key_node->data.scalar.value
                      : "";
    return true;
}

yaml_node_t *yaml_item_at(struct yaml_walk *walk, yaml_node_t *seq, size_t n)
{
    yaml_node_item_t *items = seq->data.sequence.items.start;
    size_t count = (size_t)(seq->data.sequence.items.top - items);

    if (n >= count) {
        return NULL;
    }
    return yaml_document_get_node(walk->doc, items[n]);
}

static const char *scalar(struct yaml_walk *walk, yaml_node_t *node)
{
    if (!yaml_expect(walk, node, YAML_SCALAR_NODE, "this value")) {
        return NULL;
    }
    return (const char *)node->data.scalar.value;
}

bool yaml_read_string(struct yaml_walk *walk, yaml_node_t *node, char **out)
{
    const char *text = scalar(walk, node);
    char *copy;

    if (text == NULL) {
        return false;
    }
    copy = strdup(text);
    if (copy == NULL) {
        yaml_error(walk, node, "out of memory");
        return false;
    }
    free(*out);
    *out = copy;
    return true;
}

bool yaml_read_path(struct yaml_walk *walk, yaml_node_t *node, char **out)
{
    const char *text = scalar(walk, node);
    char *path;

    if (text == NULL) {
        return false;
    }
    if (text[0] == '\0') {
        yaml_error(walk, node, "a path must not be empty");
        return false;
    }
    if (text[0] == '/' || strcmp(walk->base_dir, ".") == 0) {
        path = strdup(text);
    } else if (asprintf(&path, "%s/%s", walk->base_dir, text) < 0) {
        path = NULL;
    }
    if (path == NULL) {
        yaml_error(walk, node, "out of memory");
        return false;
    }
    free(*out);
    *out = path;
    return true;
}

bool yaml_read_bool(struct yaml_walk *walk, yaml_node_t *node, bool *out)
{
    const char *text = scalar(walk, node);

    if (text == NULL) {
        return false;
    }
    if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 ||
        strcmp(text, "on") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 ||
        strcmp(text, "off") == 0) {
        *out = false;
        return true;
    }
    yaml_error(walk, node, "'%s' is not true or false", text);
    return false;
}

bool yaml_read_u64(struct yaml_walk *walk, yaml_node_t *node, uint64_t *out)
{
    const char *text = scalar(walk, node);

    if (text == NULL) {
        return false;
    }
    if (tw_parse_u64(text, out) != 0) {
        yaml_error(walk, node, "%s", tw_err_message());
        return false;
    }
    return true;
}

bool yaml_read_u32(struct yaml_walk *walk, yaml_node_t *node, uint32_t min,
                   uint32_t max, uint32_t *out)
{
    uint64_t value;

    if (!yaml_read_u64(walk, node, &value)) {
        return false;
    }
    if (value < min || value > max) {
        yaml_error(walk, node, "%llu is outside %u..%u",
                   (unsigned long long)value, min, max);
        return false;
    }
    *out = (uint32_t)value;
    return true;
}

bool yaml_read_double(struct yaml_walk *walk, yaml_node_t *node, double *out)
{
    const char *text = scalar(walk, node);
    char *end;
    double value;

    if (text == NULL) {
        return false;
    }
    value = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(value) || value < 0) {
        yaml_error(walk, node, "'%s' is not a number of 0 or more", text);
        return false;
    }
    *out = value;
    return true;
}

bool yaml_read_size(struct yaml_walk *walk, yaml_node_t *node, uint64_t *out)
{
    const char *text = scalar(walk, node);

    if (text == NULL) {
        return false;
    }
    if (tw_parse_size(text, out) != 0) {
        yaml_error(walk, node, "%s", tw_err_message());
        return false;
    }
    return true;
}

bool yaml_read_duration(struct yaml_walk *walk, yaml_node_t *node, int64_t *out)
{
    const char *text = scalar(walk, node);

    if (text == NULL) {
        return false;
    }
    if (tw_parse_duration(text, out) != 0) {
        yaml_error(walk, node, "%s", tw_err_message());
        return false;
    }
    return true;
}

bool yaml_read_choice(struct yaml_walk *walk, yaml_node_t *node,
                      const char *const *names, int count, int *out)
{
    const char *text = scalar(walk, node);
    char expected[256] = "";

    if (text == NULL) {
        return false;
    }
    for (int i = 0; i < count; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return true;
        }
        strncat(expected, i == 0 ? "" : ", ",
                sizeof(expected) - strlen(expected) - 1);
        strncat(expected, names[i], sizeof(expected) - strlen(expected) - 1);
    }
    yaml_error(walk, node, "'%s' is not one of: %s", text, expected);
    return false;
}

bool yaml_read_strings(struct yaml_walk *walk, yaml_node_t *node, char ***out,
                       size_t *count)
{
    size_t n = 0;
    char **list;

    if (node->type == YAML_SCALAR_NODE) {
        list = calloc(1, sizeof(*list));
        if (list == NULL || !yaml_read_string(walk, node, &list[0])) {
            free(list);
            return false;
        }
        *out = list;
        *count = 1;
        return true;
    }
    if (!yaml_expect(walk, node, YAML_SEQUENCE_NODE, "this value")) {
        return false;
    }
    while (yaml_item_at(walk, node, n) != NULL) {
        n++;
    }
    list = calloc(n == 0 ? 1 : n, sizeof(*list));
    if (list == NULL) {
        yaml_error(walk, node, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!yaml_read_string(walk, yaml_item_at(walk, node, i), &list[i])) {
            for (size_t j = 0; j < i; j++) {
                free(list[j]);
            }
            free(list);
            return false;
        }
    }
    *out = list;
    *count = n;
    return true;
}
