/*
 * yaml_walk.h - reading a loaded libyaml document as typed values, with
 * the line of every value at hand for error messages.
 *
 * Every reader takes the node to read and a destination, records a
 * mistake in the walk's error list when the node is not what was asked
 * for, and returns false then (the destination keeps its default).
 */
#ifndef TW_CONFIG_YAML_WALK_H
#define TW_CONFIG_YAML_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "config/config.h"

struct yaml_walk {
    yaml_document_t *doc;
    const char *file;
    char *base_dir; /* the file's directory, for relative paths */
    struct cfg_errors *errors;
};

/* A key's name inside a mapping, and the node it maps to. */
struct yaml_member {
    const char *key;
    yaml_node_t *key_node;
    yaml_node_t *value;
};

int yaml_line(const yaml_node_t *node);
void yaml_error(struct yaml_walk *walk, const yaml_node_t *node,
                const char *fmt, ...) TW_PRINTF(3, 4);

/* The n-th member of a mapping, or false past the end. */
bool yaml_member_at(struct yaml_walk *walk, yaml_node_t *map, size_t n,
                    struct yaml_member *member);
/* The n-th item of a sequence, or NULL past the end. */
yaml_node_t *yaml_item_at(struct yaml_walk *walk, yaml_node_t *seq, size_t n);

bool yaml_expect(struct yaml_walk *walk, yaml_node_t *node,
                 yaml_node_type_t type, const char *what);

/* Readers of one scalar. Strings are copied (the caller frees them). */
bool yaml_read_string(struct yaml_walk *walk, yaml_node_t *node, char **out);
bool yaml_read_path(struct yaml_walk *walk, yaml_node_t *node, char **out);
bool yaml_read_bool(struct yaml_walk *walk, yaml_node_t *node, bool *out);
bool yaml_read_u32(struct yaml_walk *walk, yaml_node_t *node, uint32_t min,
                   uint32_t max, uint32_t *out);
bool yaml_read_u64(struct yaml_walk *walk, yaml_node_t *node, uint64_t *out);
bool yaml_read_double(struct yaml_walk *walk, yaml_node_t *node, double *out);
bool yaml_read_size(struct yaml_walk *walk, yaml_node_t *node, uint64_t *out);
bool yaml_read_duration(struct yaml_walk *walk, yaml_node_t *node,
                        int64_t *out);
/* One of names[0..count): sets *out to its index. */
bool yaml_read_choice(struct yaml_walk *walk, yaml_node_t *node,
                      const char *const *names, int count, int *out);
/* A sequence of strings (a lone scalar counts as a list of one). */
bool yaml_read_strings(struct yaml_walk *walk, yaml_node_t *node, char ***out,
                       size_t *count);

#endif
