/*
 * shape_internal.h - the compiled form of a shape, shared by its compiler
 * (shape_compile.c) and its writer (shape_apply.c).
 *
 * Two tries of path segments, each in one array with node 0 the event:
 *
 *   rules (stored layout)              targets (output layout)
 *   [0] event  KEEP_BELOW|RULE_BELOW   [0] event
 *    +- [1] properties KEEP             +- [1] revenue    <- rename 0
 *    |     +- [2] total MOVED (rename 0)+- [2] user
 *    +- [3] context RULE_BELOW                +- [3] email <- rename 1
 *          +- [4] traits RULE_BELOW
 *                +- [5] email HASH|MOVED (rename 1)
 *
 * The writer walks the event and the rules trie side by side, members in
 * document order, and merges in the targets trie where the output has a
 * target. A subtree with no rule below it and kept is written whole by
 * the JSON writer without further lookups.
 */
#ifndef TW_ROUTE_SHAPE_INTERNAL_H
#define TW_ROUTE_SHAPE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "route/path.h"
#include "route/shape.h"

#define SHAPE_NONE UINT32_MAX

enum shape_flag {
    SHAPE_KEEP = 1u << 0,       /* kept whole (with what is below) */
    SHAPE_KEEP_BELOW = 1u << 1, /* something below is kept */
    SHAPE_DROP = 1u << 2,       /* dropped or redacted by dropping */
    SHAPE_HASH = 1u << 3,       /* value replaced by its keyed hash */
    SHAPE_MOVED = 1u << 4,      /* a rename's source: written at its target */
    SHAPE_RULE_BELOW = 1u << 5, /* something below has a flag */
};

/* A node of either trie: one segment under its parent. */
struct shape_node {
    const struct route_segment *seg; /* in one of shape->paths; NULL at 0 */
    uint32_t child;                  /* first child */
    uint32_t next;                   /* next sibling */
    uint32_t flags;                  /* rules trie: enum shape_flag */
    uint32_t rename;                 /* MOVED / a target: its rename */
};

struct shape_rename {
    const struct route_path *from;
    const struct route_path *to;
    uint32_t from_node; /* in the rules trie */
};

struct route_shape {
    struct shape_node *rules;
    uint32_t rule_count;
    uint32_t rule_cap;
    struct shape_node *targets;
    uint32_t target_count;
    uint32_t target_cap;
    struct shape_rename *renames;
    uint32_t rename_count;
    struct route_path **paths; /* every parsed path, owned */
    uint32_t path_count;
    uint32_t path_cap;
    uint8_t key[ROUTE_SHAPE_KEY_MAX_BYTES];
    size_t key_len;
};

/* The child of node (in trie nodes) whose segment names key, or NONE. */
uint32_t shape_child(const struct shape_node *nodes, uint32_t node,
                     const char *key, size_t key_len);
/* The child of node that indexes element index of an array, or NONE. */
uint32_t shape_child_index(const struct shape_node *nodes, uint32_t node,
                           int64_t index);

#endif
