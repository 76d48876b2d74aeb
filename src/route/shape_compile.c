/*
 * shape_compile.c - a shape spec to its two tries (shape.h,
 * shape_internal.h).
 *
 * Every path is parsed by route/path.h, the parser filters use. Specs
 * that cannot mean what they say are refused here, naming the path, so
 * that applying a shape never has to choose between two readings: two
 * renames into one place, a rename of something already dropped, a
 * rename target inside a field whose value becomes a hash (which would
 * deliver the field's members unhashed around the target).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "route/shape_internal.h"

/* How much of a path a message quotes. */
#define SHAPE_QUOTE_MAX 80u

struct shape_compiler {
    const struct route_shape_spec *spec;
    struct route_shape *shape;
    struct route_shape_error *err;
    /* Where each list's parsed paths start in shape->paths. */
    uint32_t keep_at;
    uint32_t drop_at;
    uint32_t redact_at;
};

static const char *shape_list_name(enum route_shape_list list)
{
    switch (list) {
    case ROUTE_SHAPE_KEEP:
        return "keep";
    case ROUTE_SHAPE_DROP:
        return "drop";
    case ROUTE_SHAPE_REDACT:
        return "redact";
    case ROUTE_SHAPE_RENAME_FROM:
        return "rename source";
    case ROUTE_SHAPE_RENAME_TO:
        return "rename target";
    case ROUTE_SHAPE_HASH_KEY:
        break;
    }
    return "hash key";
}

static int shape_fail(struct shape_compiler *c, enum route_shape_list list,
                      size_t index, const char *fmt, ...) TW_PRINTF(4, 5);

static int shape_fail(struct shape_compiler *c, enum route_shape_list list,
                      size_t index, const char *fmt, ...)
{
    va_list ap;

    c->err->list = list;
    c->err->index = index;
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
    return tw_err_set(TW_EINVAL, "%s", c->err->message);
}

/* A path's text in quotes, cut at a character boundary when long. */
static const char *shape_quote(const char *text, char *buf, size_t cap)
{
    size_t n = strlen(text);
    size_t cut = n;

    if (cut > SHAPE_QUOTE_MAX) {
        cut = SHAPE_QUOTE_MAX;
        while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80) {
            cut--;
        }
    }
    snprintf(buf, cap, "\"%.*s%s\"", (int)cut, text, cut < n ? "..." : "");
    return buf;
}

static int shape_grow(void **array, uint32_t *cap, uint32_t count, size_t size)
{
    uint32_t want = *cap == 0 ? 16 : *cap * 2;
    void *grown;

    if (count < *cap) {
        return 0;
    }
    grown = realloc(*array, (size_t)want * size);
    if (grown == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a shape");
    }
    *array = grown;
    *cap = want;
    return 0;
}

/* Parses one path of a list and keeps it in shape->paths. */
static int shape_parse(struct shape_compiler *c, enum route_shape_list list,
                       size_t index, const char *text, struct route_path **out)
{
    struct route_shape *s = c->shape;
    struct route_path_error perr;
    char quoted[SHAPE_QUOTE_MAX + 8];
    int rc = shape_grow((void **)&s->paths, &s->path_cap, s->path_count,
                        sizeof(s->paths[0]));

    if (rc < 0) {
        return rc;
    }
    if (text == NULL) {
        return shape_fail(c, list, index, "%s %zu is missing",
                          shape_list_name(list), index);
    }
    rc = route_path_parse(text, strlen(text), out, &perr);
    if (rc == TW_EINVAL) {
        return shape_fail(c, list, index, "%s %s: %s", shape_list_name(list),
                          shape_quote(text, quoted, sizeof(quoted)),
                          perr.message);
    }
    if (rc == 0) {
        s->paths[s->path_count++] = *out;
    }
    return rc;
}

uint32_t shape_child(const struct shape_node *nodes, uint32_t node,
                     const char *key, size_t key_len)
{
    if (node == SHAPE_NONE) {
        return SHAPE_NONE;
    }
    for (uint32_t c = nodes[node].child; c != SHAPE_NONE; c = nodes[c].next) {
        if (nodes[c].seg->len == key_len &&
            memcmp(nodes[c].seg->name, key, key_len) == 0) {
            return c;
        }
    }
    return SHAPE_NONE;
}

uint32_t shape_child_index(const struct shape_node *nodes, uint32_t node,
                           int64_t index)
{
    if (node == SHAPE_NONE) {
        return SHAPE_NONE;
    }
    for (uint32_t c = nodes[node].child; c != SHAPE_NONE; c = nodes[c].next) {
        if (nodes[c].seg->index == index) {
            return c;
        }
    }
    return SHAPE_NONE;
}

static int shape_new_node(struct shape_node **nodes, uint32_t *count,
                          uint32_t *cap, const struct route_segment *seg,
                          uint32_t *out)
{
    int rc = shape_grow((void **)nodes, cap, *count, sizeof((*nodes)[0]));

    if (rc < 0) {
        return rc;
    }
    *out = (*count)++;
    (*nodes)[*out] = (struct shape_node){.seg = seg,
                                         .child = SHAPE_NONE,
                                         .next = SHAPE_NONE,
                                         .rename = SHAPE_NONE};
    return 0;
}

/*
 * The rules-trie node of path, made as needed; every node on the way to
 * it (the event included) gets the flags in below.
 */
static int shape_rule(struct route_shape *s, const struct route_path *path,
                      uint32_t below, uint32_t *out)
{
    uint32_t at = 0;

    for (uint32_t i = 0; i < path->count; i++) {
        const struct route_segment *seg = &path->segs[i];
        uint32_t next = shape_child(s->rules, at, seg->name, seg->len);
        int rc;

        s->rules[at].flags |= below;
        if (next == SHAPE_NONE) {
            rc = shape_new_node(&s->rules, &s->rule_count, &s->rule_cap, seg,
                                &next);
            if (rc < 0) {
                return rc;
            }
            s->rules[next].next = s->rules[at].child;
            s->rules[at].child = next;
        }
        at = next;
    }
    *out = at;
    return 0;
}

static int shape_list(struct shape_compiler *c, enum route_shape_list list,
                      const char *const *paths, size_t count, uint32_t flag,
                      uint32_t below)
{
    struct route_path *path;
    uint32_t node;
    int rc;

    if (count > ROUTE_SHAPE_MAX_PATHS) {
        return shape_fail(c, list, ROUTE_SHAPE_MAX_PATHS,
                          "%s lists more than %u paths", shape_list_name(list),
                          ROUTE_SHAPE_MAX_PATHS);
    }
    for (size_t i = 0; i < count; i++) {
        rc = shape_parse(c, list, i, paths[i], &path);
        if (rc == 0) {
            rc = shape_rule(c->shape, path, below, &node);
        }
        if (rc < 0) {
            return rc;
        }
        c->shape->rules[node].flags |= flag;
    }
    return 0;
}

/* A redacted path must not be asked for both ways. */
static int shape_redact_modes(struct shape_compiler *c)
{
    const struct route_shape_spec *spec = c->spec;
    struct route_path **paths;
    char quoted[SHAPE_QUOTE_MAX + 8];

    if (spec->redact_count == 0) {
        return 0; /* shape->paths may be NULL: no index into it */
    }
    paths = &c->shape->paths[c->redact_at];
    for (size_t i = 0; i < spec->redact_count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (spec->redact[i].mode != spec->redact[j].mode &&
                route_path_equal(paths[i], paths[j])) {
                return shape_fail(
                    c, ROUTE_SHAPE_REDACT, i,
                    "redact %s is listed both to drop and to hash",
                    shape_quote(spec->redact[i].path, quoted, sizeof(quoted)));
            }
        }
    }
    return 0;
}

static int shape_redactions(struct shape_compiler *c)
{
    const struct route_shape_spec *spec = c->spec;
    struct route_path *path;
    bool hashes = false;
    uint32_t node;
    int rc;

    if (spec->redact_count > ROUTE_SHAPE_MAX_PATHS) {
        return shape_fail(c, ROUTE_SHAPE_REDACT, ROUTE_SHAPE_MAX_PATHS,
                          "redact lists more than %u paths",
                          ROUTE_SHAPE_MAX_PATHS);
    }
    for (size_t i = 0; i < spec->redact_count; i++) {
        bool hash = spec->redact[i].mode == ROUTE_REDACT_HASH;

        rc = shape_parse(c, ROUTE_SHAPE_REDACT, i, spec->redact[i].path, &path);
        if (rc == 0) {
            rc = shape_rule(c->shape, path, SHAPE_RULE_BELOW, &node);
        }
        if (rc < 0) {
            return rc;
        }
        c->shape->rules[node].flags |= hash ? SHAPE_HASH : SHAPE_DROP;
        hashes = hashes || hash;
    }
    if (hashes && (spec->hash_key == NULL ||
                   spec->hash_key_len < ROUTE_SHAPE_KEY_MIN_BYTES ||
                   spec->hash_key_len > ROUTE_SHAPE_KEY_MAX_BYTES)) {
        return shape_fail(c, ROUTE_SHAPE_HASH_KEY, 0,
                          "redacting by hash needs a key of %u to %u bytes, "
                          "got %zu",
                          ROUTE_SHAPE_KEY_MIN_BYTES, ROUTE_SHAPE_KEY_MAX_BYTES,
                          spec->hash_key == NULL ? 0 : spec->hash_key_len);
    }
    if (spec->hash_key != NULL &&
        spec->hash_key_len <= ROUTE_SHAPE_KEY_MAX_BYTES) {
        memcpy(c->shape->key, spec->hash_key, spec->hash_key_len);
        c->shape->key_len = spec->hash_key_len;
    }
    return shape_redact_modes(c);
}

/* --------------------------------------------------------------- renames -- */

/*
 * A source that drop or redact removes, or that lies inside a hashed
 * value, or outside what keep keeps, could never be delivered.
 */
static int shape_check_source(struct shape_compiler *c, size_t i,
                              const struct route_path *from)
{
    const struct route_shape_spec *spec = c->spec;
    struct route_path **paths = c->shape->paths;
    const char *text = spec->rename[i].from;
    char quoted[SHAPE_QUOTE_MAX + 8];
    char other[SHAPE_QUOTE_MAX + 8];
    bool kept = spec->keep_count == 0;

    shape_quote(text, quoted, sizeof(quoted));
    for (size_t k = 0; k < spec->keep_count; k++) {
        const struct route_path *keep = paths[c->keep_at + k];

        kept = kept || route_path_equal(keep, from) ||
               route_path_contains(keep, from);
    }
    if (!kept) {
        return shape_fail(c, ROUTE_SHAPE_RENAME_FROM, i,
                          "rename source %s is not kept: add it, or a field "
                          "around it, to keep",
                          quoted);
    }
    for (size_t k = 0; k < spec->drop_count; k++) {
        const struct route_path *drop = paths[c->drop_at + k];

        if (route_path_equal(drop, from) || route_path_contains(drop, from)) {
            return shape_fail(c, ROUTE_SHAPE_RENAME_FROM, i,
                              "rename source %s is removed by drop %s", quoted,
                              shape_quote(spec->drop[k], other, sizeof(other)));
        }
    }
    for (size_t k = 0; k < spec->redact_count; k++) {
        const struct route_path *redact = paths[c->redact_at + k];
        bool hash = spec->redact[k].mode == ROUTE_REDACT_HASH;
        bool equal = route_path_equal(redact, from);

        shape_quote(spec->redact[k].path, other, sizeof(other));
        if (hash && route_path_contains(redact, from)) {
            return shape_fail(c, ROUTE_SHAPE_RENAME_FROM, i,
                              "rename source %s lies inside redact %s, whose "
                              "value is replaced by its hash",
                              quoted, other);
        }
        if (!hash && (equal || route_path_contains(redact, from))) {
            return shape_fail(c, ROUTE_SHAPE_RENAME_FROM, i,
                              "rename source %s is removed by redact %s",
                              quoted, other);
        }
    }
    return 0;
}

static int shape_check_sources(struct shape_compiler *c, size_t i,
                               struct route_path *const *froms)
{
    const struct route_shape_spec *spec = c->spec;
    char quoted[SHAPE_QUOTE_MAX + 8];
    char other[SHAPE_QUOTE_MAX + 8];

    for (size_t j = 0; j < i; j++) {
        if (route_path_equal(froms[i], froms[j])) {
            return shape_fail(
                c, ROUTE_SHAPE_RENAME_FROM, i,
                "rename source %s is renamed twice",
                shape_quote(spec->rename[i].from, quoted, sizeof(quoted)));
        }
        if (route_path_contains(froms[i], froms[j]) ||
            route_path_contains(froms[j], froms[i])) {
            return shape_fail(
                c, ROUTE_SHAPE_RENAME_FROM, i,
                "rename sources %s and %s lie one inside the other",
                shape_quote(spec->rename[i].from, quoted, sizeof(quoted)),
                shape_quote(spec->rename[j].from, other, sizeof(other)));
        }
    }
    return shape_check_source(c, i, froms[i]);
}

static int shape_check_target(struct shape_compiler *c, size_t i,
                              const struct route_path *to)
{
    const struct route_shape_spec *spec = c->spec;
    char quoted[SHAPE_QUOTE_MAX + 8];
    char other[SHAPE_QUOTE_MAX + 8];

    shape_quote(spec->rename[i].to, quoted, sizeof(quoted));
    for (uint32_t k = 0; k < to->count; k++) {
        if (to->segs[k].index >= 0) {
            return shape_fail(c, ROUTE_SHAPE_RENAME_TO, i,
                              "rename target %s: the segment \"%s\" is all "
                              "digits, which reads as an array index; "
                              "targets name object members",
                              quoted, to->segs[k].name);
        }
    }
    for (size_t k = 0; k < spec->redact_count; k++) {
        if (spec->redact[k].mode == ROUTE_REDACT_HASH &&
            route_path_contains(c->shape->paths[c->redact_at + k], to)) {
            return shape_fail(
                c, ROUTE_SHAPE_RENAME_TO, i,
                "rename target %s lies inside %s, whose value is replaced "
                "by its hash",
                quoted,
                shape_quote(spec->redact[k].path, other, sizeof(other)));
        }
    }
    return 0;
}

/* Targets keep the order of the spec, so the output does too. */
static void shape_append_child(struct shape_node *nodes, uint32_t parent,
                               uint32_t child)
{
    uint32_t *link = &nodes[parent].child;

    while (*link != SHAPE_NONE) {
        link = &nodes[*link].next;
    }
    *link = child;
}

/* The rename whose target lies at or below a targets-trie node. */
static uint32_t shape_target_below(const struct route_shape *s, uint32_t node)
{
    while (s->targets[node].rename == SHAPE_NONE) {
        node = s->targets[node].child;
    }
    return s->targets[node].rename;
}

static int shape_target_clash(struct shape_compiler *c, size_t i,
                              uint32_t other_rename, bool inside)
{
    const struct route_shape_spec *spec = c->spec;
    char quoted[SHAPE_QUOTE_MAX + 8];
    char other[SHAPE_QUOTE_MAX + 8];

    shape_quote(spec->rename[i].to, quoted, sizeof(quoted));
    shape_quote(spec->rename[other_rename].to, other, sizeof(other));
    if (!inside) {
        return shape_fail(c, ROUTE_SHAPE_RENAME_TO, i,
                          "rename target %s is the target of two renames",
                          quoted);
    }
    return shape_fail(c, ROUTE_SHAPE_RENAME_TO, i,
                      "rename targets %s and %s lie one inside the other",
                      quoted, other);
}

/*
 * Places rename i's target in the targets trie, refusing overlaps: a
 * target met on the way (this one lies inside it, or is it), or targets
 * already below where this one ends.
 */
static int shape_target(struct shape_compiler *c, size_t i,
                        const struct route_path *to)
{
    struct route_shape *s = c->shape;
    uint32_t at = 0;
    int rc;

    for (uint32_t k = 0; k < to->count; k++) {
        const struct route_segment *seg = &to->segs[k];
        uint32_t next = shape_child(s->targets, at, seg->name, seg->len);

        if (next == SHAPE_NONE) {
            rc = shape_new_node(&s->targets, &s->target_count, &s->target_cap,
                                seg, &next);
            if (rc < 0) {
                return rc;
            }
            shape_append_child(s->targets, at, next);
        } else if (s->targets[next].rename != SHAPE_NONE) {
            return shape_target_clash(c, i, s->targets[next].rename,
                                      k + 1 < to->count);
        } else if (k + 1 == to->count) {
            return shape_target_clash(c, i, shape_target_below(s, next), true);
        }
        at = next;
    }
    s->targets[at].rename = (uint32_t)i;
    return 0;
}

static int shape_rename_one(struct shape_compiler *c, size_t i,
                            struct route_path **froms)
{
    const struct route_rename *r = &c->spec->rename[i];
    struct route_shape *s = c->shape;
    struct route_path *to;
    uint32_t node;
    int rc = shape_parse(c, ROUTE_SHAPE_RENAME_FROM, i, r->from, &froms[i]);

    if (rc == 0) {
        rc = shape_parse(c, ROUTE_SHAPE_RENAME_TO, i, r->to, &to);
    }
    if (rc == 0) {
        rc = shape_check_sources(c, i, froms);
    }
    if (rc == 0) {
        rc = shape_check_target(c, i, to);
    }
    if (rc == 0) {
        rc = shape_target(c, i, to);
    }
    if (rc == 0) {
        rc = shape_rule(s, froms[i], SHAPE_RULE_BELOW, &node);
    }
    if (rc < 0) {
        return rc;
    }
    s->rules[node].flags |= SHAPE_MOVED;
    s->rules[node].rename = (uint32_t)i;
    s->renames[i] =
        (struct shape_rename){.from = froms[i], .to = to, .from_node = node};
    return 0;
}

static int shape_renames(struct shape_compiler *c)
{
    size_t count = c->spec->rename_count;
    struct route_path **froms;
    int rc = 0;

    if (count > ROUTE_SHAPE_MAX_PATHS) {
        return shape_fail(c, ROUTE_SHAPE_RENAME_FROM, ROUTE_SHAPE_MAX_PATHS,
                          "rename lists more than %u fields",
                          ROUTE_SHAPE_MAX_PATHS);
    }
    if (count == 0) {
        return 0;
    }
    c->shape->renames = calloc(count, sizeof(c->shape->renames[0]));
    froms = calloc(count, sizeof(froms[0]));
    if (c->shape->renames == NULL || froms == NULL) {
        free(froms);
        return tw_err_set(TW_ENOMEM, "out of memory compiling a shape");
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = shape_rename_one(c, i, froms);
    }
    free(froms);
    c->shape->rename_count = (uint32_t)count;
    return rc;
}

/* ---------------------------------------------------------------- public -- */

static int shape_roots(struct route_shape *s)
{
    uint32_t root;
    int rc =
        shape_new_node(&s->rules, &s->rule_count, &s->rule_cap, NULL, &root);

    if (rc == 0) {
        rc = shape_new_node(&s->targets, &s->target_count, &s->target_cap, NULL,
                            &root);
    }
    return rc;
}

static int shape_build(struct shape_compiler *c)
{
    const struct route_shape_spec *spec = c->spec;
    int rc = shape_roots(c->shape);

    if (rc < 0) {
        return rc;
    }
    if (spec->keep_count == 0) {
        c->shape->rules[0].flags |= SHAPE_KEEP;
    }
    c->keep_at = c->shape->path_count;
    rc = shape_list(c, ROUTE_SHAPE_KEEP, spec->keep, spec->keep_count,
                    SHAPE_KEEP, SHAPE_KEEP_BELOW | SHAPE_RULE_BELOW);
    if (rc < 0) {
        return rc;
    }
    c->drop_at = c->shape->path_count;
    rc = shape_list(c, ROUTE_SHAPE_DROP, spec->drop, spec->drop_count,
                    SHAPE_DROP, SHAPE_RULE_BELOW);
    if (rc < 0) {
        return rc;
    }
    c->redact_at = c->shape->path_count;
    rc = shape_redactions(c);
    if (rc < 0) {
        return rc;
    }
    return shape_renames(c);
}

int route_shape_compile(const struct route_shape_spec *spec,
                        struct route_shape **out, struct route_shape_error *err)
{
    struct shape_compiler c = {.spec = spec, .err = err};
    int rc;

    *out = NULL;
    memset(err, 0, sizeof(*err));
    /* Picks libsodium's fastest BLAKE2b for this CPU; safe to repeat. */
    if (sodium_init() < 0) {
        return tw_err_set(TW_ENOMEM, "libsodium could not initialise");
    }
    c.shape = calloc(1, sizeof(*c.shape));
    if (c.shape == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory compiling a shape");
    }
    rc = shape_build(&c);
    if (rc < 0) {
        route_shape_free(c.shape);
        return rc;
    }
    *out = c.shape;
    return 0;
}

void route_shape_free(struct route_shape *shape)
{
    if (shape == NULL) {
        return;
    }
    for (uint32_t i = 0; i < shape->path_count; i++) {
        route_path_free(shape->paths[i]);
    }
    sodium_memzero(shape->key, sizeof(shape->key));
    free(shape->paths);
    free(shape->rules);
    free(shape->targets);
    free(shape->renames);
    free(shape);
}
