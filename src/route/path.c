/* path.c - parsing and resolving field paths (path.h). */
#include "route/path.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int path_fail(struct route_path_error *err, size_t offset,
                     const char *fmt, ...) TW_PRINTF(3, 4);

static int path_fail(struct route_path_error *err, size_t offset,
                     const char *fmt, ...)
{
    va_list ap;

    err->offset = offset;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return tw_err_set(TW_EINVAL, "%s", err->message);
}

/* The array index a segment spells, or -1 (18 digits always fit). */
static int64_t path_index(const char *name, size_t len)
{
    int64_t index = 0;

    if (len == 0 || len > 18 || (name[0] == '0' && len > 1)) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return -1;
        }
        index = index * 10 + (name[i] - '0');
    }
    return index;
}

/*
 * Checks the text's shape and counts its segments, so that one
 * allocation can hold them; the decoded names are never longer than the
 * text.
 */
static int path_check(const char *text, size_t len, bool pointer,
                      uint32_t *count, struct route_path_error *err)
{
    char sep = pointer ? '/' : '.';
    size_t start = pointer ? 1 : 0;
    size_t names = len - start;
    uint32_t n = 1;

    for (size_t i = start; i <= len; i++) {
        if (i < len && pointer && text[i] == '~') {
            if (i + 1 == len || (text[i + 1] != '0' && text[i + 1] != '1')) {
                return path_fail(err, i,
                                 "'~' in a JSON Pointer must be followed by "
                                 "0 (for '~') or 1 (for '/')");
            }
            names--;
        }
        if (i < len && text[i] != sep) {
            continue;
        }
        if (!pointer && i == start) {
            return path_fail(err, i,
                             i == len ? "a path cannot be empty"
                                      : "a dotted path cannot start with '.'");
        }
        if (!pointer && text[i - 1] == '.') {
            return path_fail(err, i - 1,
                             i == len ? "a dotted path cannot end with '.'"
                                      : "a dotted path has an empty segment "
                                        "('..'); name members with dots in "
                                        "the /pointer form");
        }
        if (i < len && ++n > ROUTE_PATH_MAX_SEGMENTS) {
            return path_fail(err, i, "a path has more than %u segments",
                             ROUTE_PATH_MAX_SEGMENTS);
        }
        names -= i < len;
    }
    if (names > ROUTE_PATH_MAX_NAME_BYTES) {
        return path_fail(err, 0, "a path names more than %u bytes in all",
                         ROUTE_PATH_MAX_NAME_BYTES);
    }
    *count = n;
    return 0;
}

/* Copies one segment's text into names, decoding ~0 and ~1. */
static size_t path_decode(const char *text, size_t len, bool pointer,
                          char *names)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (pointer && text[i] == '~') {
            names[n++] = text[++i] == '0' ? '~' : '/';
        } else {
            names[n++] = text[i];
        }
    }
    names[n] = '\0';
    return n;
}

static void path_split(struct route_path *path, const char *text, size_t len,
                       bool pointer)
{
    char sep = pointer ? '/' : '.';
    char *names = (char *)&path->segs[path->count];
    size_t start = pointer ? 1 : 0;
    uint32_t k = 0;

    for (size_t i = start; i <= len; i++) {
        struct route_segment *seg;

        if (i < len && text[i] != sep) {
            continue;
        }
        seg = &path->segs[k++];
        seg->name = names;
        seg->len = path_decode(text + start, i - start, pointer, names);
        seg->index = path_index(seg->name, seg->len);
        names += seg->len + 1;
        start = i + 1;
    }
}

int route_path_parse(const char *text, size_t len, struct route_path **out,
                     struct route_path_error *err)
{
    bool pointer = len > 0 && text[0] == '/';
    struct route_path *path;
    uint32_t count = 0;
    int rc;

    *out = NULL;
    if (len == 0) {
        return path_fail(err, 0, "a path cannot be empty");
    }
    if (len > ROUTE_PATH_MAX_BYTES) {
        return path_fail(err, ROUTE_PATH_MAX_BYTES,
                         "a path is longer than %u bytes",
                         ROUTE_PATH_MAX_BYTES);
    }
    if (!tw_json_utf8_valid(text, len)) {
        return path_fail(err, 0, "a path must be UTF-8 text");
    }
    rc = path_check(text, len, pointer, &count, err);
    if (rc < 0) {
        return rc;
    }

    path = malloc(sizeof(*path) + count * sizeof(path->segs[0]) + len + count);
    if (path == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory parsing a path");
    }
    path->count = count;
    path_split(path, text, len, pointer);
    *out = path;
    return 0;
}

void route_path_free(struct route_path *path)
{
    free(path);
}

/* The element at index of an array: a walk, arrays being lists here. */
static bool path_element(struct tw_json array, int64_t index,
                         struct tw_json *out)
{
    struct tw_json_iter it;
    struct tw_json element;

    if (index < 0 || (uint64_t)index >= tw_json_count(array)) {
        return false;
    }
    tw_json_iter_init(&it, array);
    for (int64_t i = 0; tw_json_array_next(&it, &element); i++) {
        if (i == index) {
            *out = element;
            return true;
        }
    }
    return false;
}

bool route_path_resolve(const struct route_path *path, struct tw_json root,
                        struct tw_json *out)
{
    struct tw_json at = root;

    for (uint32_t i = 0; i < path->count; i++) {
        const struct route_segment *seg = &path->segs[i];

        switch (tw_json_type(at)) {
        case TW_JSON_OBJECT:
            if (!tw_json_object_get(at, seg->name, seg->len, &at)) {
                return false;
            }
            break;
        case TW_JSON_ARRAY:
            if (!path_element(at, seg->index, &at)) {
                return false;
            }
            break;
        default:
            return false;
        }
    }
    *out = at;
    return true;
}

bool route_segment_equal(const struct route_segment *a,
                         const struct route_segment *b)
{
    return a->len == b->len && memcmp(a->name, b->name, a->len) == 0;
}

/* Whether the first n segments of a and b agree. */
static bool path_same_start(const struct route_path *a,
                            const struct route_path *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!route_segment_equal(&a->segs[i], &b->segs[i])) {
            return false;
        }
    }
    return true;
}

bool route_path_equal(const struct route_path *a, const struct route_path *b)
{
    return a->count == b->count && path_same_start(a, b, a->count);
}

bool route_path_contains(const struct route_path *outer,
                         const struct route_path *inner)
{
    return outer->count < inner->count &&
           path_same_start(outer, inner, outer->count);
}

void route_path_write_pointer(const struct route_path *path, struct tw_buf *out)
{
    for (uint32_t i = 0; i < path->count; i++) {
        const struct route_segment *seg = &path->segs[i];

        tw_buf_putc(out, '/');
        for (size_t k = 0; k < seg->len; k++) {
            if (seg->name[k] == '~') {
                tw_buf_append(out, "~0", 2);
            } else if (seg->name[k] == '/') {
                tw_buf_append(out, "~1", 2);
            } else {
                tw_buf_putc(out, seg->name[k]);
            }
        }
    }
}
