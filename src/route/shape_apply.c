/*
 * shape_apply.c - writing the shaped copy of an event (shape.h).
 *
 * One pass over the parsed event writes the output directly into the
 * caller's buffer. Where the writer cannot know in advance whether a
 * member will end up with anything in it (an object kept only for a
 * field below it, which may be missing), it writes the member and takes
 * it back with tw_buf_truncate when nothing came of it. A hashed value
 * that is not a string is written first, hashed where it lies, and then
 * replaced by its hash the same way. So applying a shape allocates
 * nothing beyond the growth of the output buffer.
 */
#include <sodium.h>

#include "json/json_write.h"
#include "route/shape_internal.h"

/* The digest is BLAKE2b-256: 32 bytes, 64 hex digits. */
#define APPLY_HASH_BYTES 32u

struct shape_writer {
    const struct route_shape *shape;
    struct tw_json event; /* where rename sources are looked up */
    struct tw_buf *out;
};

static bool apply_value(struct shape_writer *w, struct tw_json value,
                        uint32_t node, bool kept);
static bool apply_object(struct shape_writer *w, const struct tw_json *object,
                         uint32_t node, uint32_t target, bool kept);

static uint32_t apply_flags(const struct shape_writer *w, uint32_t node)
{
    return node == SHAPE_NONE ? 0 : w->shape->rules[node].flags;
}

/* The keyed hash of len bytes, as 64 hex digits and a NUL. */
static void apply_digest(const struct route_shape *s, const char *bytes,
                         size_t len, char hex[APPLY_HASH_BYTES * 2 + 1])
{
    unsigned char digest[APPLY_HASH_BYTES];

    crypto_generichash(digest, sizeof(digest), (const unsigned char *)bytes,
                       len, s->key, s->key_len);
    sodium_bin2hex(hex, APPLY_HASH_BYTES * 2 + 1, digest, sizeof(digest));
}

/* The value at a rename's source in the event, if it is there. */
static bool apply_source(const struct shape_writer *w, uint32_t rename,
                         struct tw_json *value)
{
    return route_path_resolve(w->shape->renames[rename].from, w->event, value);
}

static bool apply_array(struct shape_writer *w, struct tw_json array,
                        uint32_t node, bool kept)
{
    struct tw_buf *out = w->out;
    size_t start = out->len;
    struct tw_json_iter it;
    struct tw_json element;
    bool any = false;

    tw_buf_putc(out, '[');
    tw_json_iter_init(&it, array);
    for (int64_t i = 0; tw_json_array_next(&it, &element); i++) {
        uint32_t child = shape_child_index(w->shape->rules, node, i);
        size_t mark = out->len;

        if (apply_flags(w, child) & (SHAPE_DROP | SHAPE_MOVED)) {
            continue;
        }
        if (any) {
            tw_buf_putc(out, ',');
        }
        if (apply_value(w, element, child, kept)) {
            any = true;
        } else {
            tw_buf_truncate(out, mark);
        }
    }
    tw_buf_putc(out, ']');
    if (!any && !kept) {
        tw_buf_truncate(out, start);
        return false;
    }
    return true;
}

/* A value as keep, drop and the renames below it leave it; no hash. */
static bool apply_plain(struct shape_writer *w, struct tw_json value,
                        uint32_t node, bool kept)
{
    uint32_t flags = apply_flags(w, node);

    kept = kept || (flags & SHAPE_KEEP);
    if (!kept && !(flags & SHAPE_KEEP_BELOW)) {
        return false;
    }
    if (!(flags & SHAPE_RULE_BELOW)) {
        tw_jw_value(w->out, value); /* kept, and nothing below changes */
        return true;
    }
    switch (tw_json_type(value)) {
    case TW_JSON_OBJECT:
        return apply_object(w, &value, node, SHAPE_NONE, kept);
    case TW_JSON_ARRAY:
        return apply_array(w, value, node, kept);
    default:
        if (kept) {
            tw_jw_value(w->out, value);
        }
        return kept;
    }
}

/* A value under a hash rule: its hash in place of it; null stays null. */
static bool apply_hash(struct shape_writer *w, struct tw_json value,
                       uint32_t node, bool kept)
{
    struct tw_buf *out = w->out;
    char hex[APPLY_HASH_BYTES * 2 + 1];
    size_t mark = out->len;
    const char *text;
    size_t len;

    switch (tw_json_type(value)) {
    case TW_JSON_STRING:
        if (!kept && !(apply_flags(w, node) & SHAPE_KEEP)) {
            return false;
        }
        text = tw_json_string(value, &len);
        apply_digest(w->shape, text, len, hex);
        tw_jw_string(out, hex, sizeof(hex) - 1);
        return true;
    case TW_JSON_NULL:
        return apply_plain(w, value, node, kept);
    default:
        break;
    }
    if (!apply_plain(w, value, node, kept)) {
        return false;
    }
    if (out->status != 0) {
        return true; /* the text is cut; the caller sees the failure */
    }
    apply_digest(w->shape, out->data + mark, out->len - mark, hex);
    tw_buf_truncate(out, mark);
    tw_jw_string(out, hex, sizeof(hex) - 1);
    return true;
}

/*
 * Writes value as shaped at rules node (SHAPE_NONE: no rule there or
 * below); kept: it lies inside a kept path. Returns whether anything was
 * written.
 */
static bool apply_value(struct shape_writer *w, struct tw_json value,
                        uint32_t node, bool kept)
{
    if (apply_flags(w, node) & SHAPE_HASH) {
        return apply_hash(w, value, node, kept);
    }
    return apply_plain(w, value, node, kept);
}

/* "key": for a member, after a comma unless it is the first. */
static void apply_key(struct tw_buf *out, bool first, const char *key,
                      size_t len)
{
    if (!first) {
        tw_buf_putc(out, ',');
    }
    tw_jw_string(out, key, len);
    tw_buf_putc(out, ':');
}

/*
 * One member of an object: its value as shaped, or, when a rename
 * target lies below it, an object merging what the event has there
 * (if it is an object) with the targets.
 */
static bool apply_member(struct shape_writer *w, struct tw_json value,
                         uint32_t child, uint32_t target, bool present,
                         bool kept)
{
    bool merge = present && tw_json_type(value) == TW_JSON_OBJECT;

    if (target == SHAPE_NONE) {
        return apply_value(w, value, child, kept);
    }
    kept = merge && (kept || (apply_flags(w, child) & SHAPE_KEEP));
    return apply_object(w, merge ? &value : NULL, merge ? child : SHAPE_NONE,
                        target, kept);
}

static bool apply_members(struct shape_writer *w, struct tw_json object,
                          uint32_t node, uint32_t target, bool kept)
{
    const struct route_shape *s = w->shape;
    struct tw_buf *out = w->out;
    struct tw_json_iter it;
    struct tw_json value;
    struct tw_json source;
    const char *key;
    size_t key_len;
    bool any = false;

    tw_json_iter_init(&it, object);
    while (tw_json_object_next(&it, &key, &key_len, &value)) {
        uint32_t child = shape_child(s->rules, node, key, key_len);
        uint32_t tchild = shape_child(s->targets, target, key, key_len);
        bool present = !(apply_flags(w, child) & (SHAPE_DROP | SHAPE_MOVED));
        size_t mark = out->len;

        /* A rename into this very member replaces it, when it has a value. */
        if (tchild != SHAPE_NONE && s->targets[tchild].rename != SHAPE_NONE) {
            if (apply_source(w, s->targets[tchild].rename, &source)) {
                continue;
            }
            tchild = SHAPE_NONE;
        }
        if (!present && tchild == SHAPE_NONE) {
            continue;
        }
        apply_key(out, !any, key, key_len);
        if (apply_member(w, value, child, tchild, present, kept)) {
            any = true;
        } else {
            tw_buf_truncate(out, mark);
        }
    }
    return any;
}

/* The targets below a targets-trie node that the members did not write. */
static bool apply_targets(struct shape_writer *w, const struct tw_json *object,
                          uint32_t target, bool any)
{
    const struct route_shape *s = w->shape;
    struct tw_buf *out = w->out;
    struct tw_json value;

    if (target == SHAPE_NONE) {
        return any;
    }
    for (uint32_t t = s->targets[target].child; t != SHAPE_NONE;
         t = s->targets[t].next) {
        const struct shape_node *tn = &s->targets[t];
        size_t mark = out->len;
        bool written;

        if (tn->rename != SHAPE_NONE) {
            if (!apply_source(w, tn->rename, &value)) {
                continue;
            }
            apply_key(out, !any, tn->seg->name, tn->seg->len);
            written =
                apply_value(w, value, s->renames[tn->rename].from_node, true);
        } else {
            if (object != NULL && tw_json_object_get(*object, tn->seg->name,
                                                     tn->seg->len, &value)) {
                continue; /* merged where the member was */
            }
            apply_key(out, !any, tn->seg->name, tn->seg->len);
            written = apply_object(w, NULL, SHAPE_NONE, t, false);
        }
        if (written) {
            any = true;
        } else {
            tw_buf_truncate(out, mark);
        }
    }
    return any;
}

/*
 * An object (NULL: none in the event, only targets) at rules node and
 * targets node. Left out when nothing is written into it, unless the
 * event's object was kept whole.
 */
static bool apply_object(struct shape_writer *w, const struct tw_json *object,
                         uint32_t node, uint32_t target, bool kept)
{
    struct tw_buf *out = w->out;
    size_t start = out->len;
    bool any = false;

    tw_buf_putc(out, '{');
    if (object != NULL) {
        any = apply_members(w, *object, node, target, kept);
    }
    any = apply_targets(w, object, target, any);
    tw_buf_putc(out, '}');
    if (!any && !(kept && object != NULL)) {
        tw_buf_truncate(out, start);
        return false;
    }
    return true;
}

int route_shape_apply(const struct route_shape *shape, struct tw_json event,
                      struct tw_buf *out)
{
    struct shape_writer w = {.shape = shape, .event = event, .out = out};
    uint32_t targets = shape->target_count > 1 ? 0 : SHAPE_NONE;

    if (tw_json_type(event) != TW_JSON_OBJECT) {
        return tw_err_set(TW_EINVAL,
                          "a shape applies to an event object, "
                          "not to %s",
                          tw_json_type_name(tw_json_type(event)));
    }
    if (!(shape->rules[0].flags & SHAPE_RULE_BELOW) && targets == SHAPE_NONE) {
        tw_jw_value(out, event);
        return tw_buf_status(out);
    }
    if (!apply_object(&w, &event, 0, targets,
                      shape->rules[0].flags & SHAPE_KEEP)) {
        tw_buf_append(out, "{}", 2);
    }
    return tw_buf_status(out);
}
