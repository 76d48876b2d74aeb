/*
 * path.h - field paths into an event, shared by route filters and shapes.
 *
 * A path names one value inside an event, step by step from the top. It
 * can be written two ways, told apart by the first character:
 *
 *   JSON Pointer (RFC 6901)  /properties/total   /context/page/url
 *                            /a~1b is the member "a/b", /a~0b is "a~b"
 *   dotted                   properties.total    context.page.url
 *
 * A dotted path splits at every '.', so a member whose name holds a '.'
 * needs the pointer form; a pointer decodes ~1 to '/' and ~0 to '~' and
 * allows no other '~'. Neither form allows an empty path, and a dotted
 * path allows no empty segment ("a..b", ".a", "a."); a pointer may name
 * the empty member ("/a//b"), as RFC 6901 says.
 *
 * Arrays. A segment of decimal digits without a leading zero ("0", "17")
 * indexes an array when the value reached so far is an array, and names
 * the member of that name when it is an object: items.0.sku and
 * /items/0/sku both mean the sku of the first item. "-" and "01" never
 * index anything.
 *
 * Duplicate member names: a step takes the first member of that name.
 *
 * Paths are parsed once (into one allocation holding the decoded
 * segments) and resolved any number of times from any number of threads;
 * resolving reads the event only and allocates nothing.
 */
#ifndef TW_ROUTE_PATH_H
#define TW_ROUTE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "json/json.h"

/*
 * Bounds: the names of a path hold at most ROUTE_PATH_MAX_NAME_BYTES in
 * all, in at most ROUTE_PATH_MAX_SEGMENTS segments. The text may be
 * longer than its names (separators, ~ escapes), up to
 * ROUTE_PATH_MAX_BYTES, which any spelling of a path within the other
 * two bounds fits.
 */
#define ROUTE_PATH_MAX_NAME_BYTES 1024u
#define ROUTE_PATH_MAX_SEGMENTS 32u
#define ROUTE_PATH_MAX_BYTES (2u * ROUTE_PATH_MAX_NAME_BYTES + 64u)

struct route_segment {
    const char *name; /* decoded bytes, NUL-terminated; len counts them */
    size_t len;
    int64_t index; /* the array index the name spells, or -1 */
};

/* A parsed path: count segments, in order from the top of the event. */
struct route_path {
    uint32_t count;
    struct route_segment segs[];
};

/* Why a path was refused, and where in its text. */
struct route_path_error {
    size_t offset; /* byte offset of the fault in the text */
    char message[128];
};

/*
 * Parses len bytes at text (no terminator needed; valid UTF-8 required).
 * On success *out is malloc'd and owned by the caller (route_path_free).
 * Returns TW_EINVAL with err filled (and tw_err_message() set) when the
 * text is not a path, or TW_ENOMEM.
 */
TW_MUST_CHECK int route_path_parse(const char *text, size_t len,
                                   struct route_path **out,
                                   struct route_path_error *err);
void route_path_free(struct route_path *path);

/*
 * Finds the value path names inside root. Returns false when any step
 * is missing: no such member, an index past the end, or a step into a
 * value that is neither an object nor an array.
 */
bool route_path_resolve(const struct route_path *path, struct tw_json root,
                        struct tw_json *out);

/* Whether a and b name the same place. */
bool route_path_equal(const struct route_path *a, const struct route_path *b);
/* Whether outer is a proper ancestor of inner (inner lies inside it). */
bool route_path_contains(const struct route_path *outer,
                         const struct route_path *inner);

/* Whether two segments are the same name. */
bool route_segment_equal(const struct route_segment *a,
                         const struct route_segment *b);

/* Appends path as a JSON Pointer ("/a/b~1c"), for messages and logs. */
void route_path_write_pointer(const struct route_path *path,
                              struct tw_buf *out);

#endif
