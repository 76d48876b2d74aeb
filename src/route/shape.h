/*
 * shape.h - per-destination shaping: what of an event a destination gets.
 *
 * A shape is a projection applied to an event as it is delivered; the
 * stored event never changes. It is compiled once from a spec (lists of
 * paths in the syntax of route/path.h) and applied to a parsed event by
 * writing a new JSON text, any number of times from any number of
 * threads at once.
 *
 * Order of operations, each step working on what the one before left:
 *
 *   1. keep    when the list is not empty, only the listed fields (and
 *              the objects around them) remain; empty: everything does
 *   2. drop    the listed fields are removed
 *   3. redact  each listed field is removed (mode DROP) or its value is
 *              replaced by its keyed hash (mode HASH, below)
 *   4. rename  each field moves to its new path
 *
 * Every path names a field of the stored event as it was stored, renames
 * included: a field that is renamed is redacted under its old name. Only
 * a rename's target names a place in the output.
 *
 * Details a destination can see:
 *   - A field that is not there is skipped by every step; no step fails
 *     on an event.
 *   - An object that remains only because it leads to a kept field or a
 *     rename target, and ends up with nothing in it, is left out; one
 *     that was kept whole stays even when empty.
 *   - Paths through arrays index them (items.0.sku): dropping or moving
 *     an element closes the gap, so later indexes shift; keeping
 *     items.0 keeps only that element.
 *   - A rename target replaces what the output already had at that path,
 *     and replaces anything that is not an object on the way to it (so a
 *     target never merges into a scalar or an array). Renamed fields come
 *     after the other members of their object. Targets name object
 *     members only: a segment of digits in a target is refused.
 *   - The hash is BLAKE2b-256 keyed with the spec's key (libsodium's
 *     crypto_generichash), written as 64 lowercase hex digits in a JSON
 *     string. A string is hashed as its UTF-8 bytes (no quotes), so
 *     anyone holding the key can compute the same hash of a known value;
 *     any other value is hashed as the compact JSON text this writer
 *     gives it (after keep and drop inside it), so 1 and "1" hash alike;
 *     null stays null. The same value and key always give the same hash,
 *     whichever destination or process computes it.
 *
 * Errors follow src/common/error.h.
 */
#ifndef TW_ROUTE_SHAPE_H
#define TW_ROUTE_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "json/json.h"

/* The most paths in each list of a spec. */
#define ROUTE_SHAPE_MAX_PATHS 256u
/* Hash key lengths libsodium's keyed BLAKE2b accepts. */
#define ROUTE_SHAPE_KEY_MIN_BYTES 16u
#define ROUTE_SHAPE_KEY_MAX_BYTES 64u

enum route_redact_mode {
    ROUTE_REDACT_DROP = 0, /* remove the field */
    ROUTE_REDACT_HASH = 1, /* replace its value by its keyed hash */
};

struct route_redaction {
    const char *path;
    enum route_redact_mode mode;
};

struct route_rename {
    const char *from; /* a field of the stored event */
    const char *to;   /* where it goes in the output */
};

/* What to compile; the strings are read during compile only. */
struct route_shape_spec {
    const char *const *keep;
    size_t keep_count;
    const char *const *drop;
    size_t drop_count;
    const struct route_redaction *redact;
    size_t redact_count;
    const struct route_rename *rename;
    size_t rename_count;
    const uint8_t *hash_key; /* needed when a redaction hashes */
    size_t hash_key_len;
};

/* Which entry of a spec a compile error is about. */
enum route_shape_list {
    ROUTE_SHAPE_KEEP,
    ROUTE_SHAPE_DROP,
    ROUTE_SHAPE_REDACT,
    ROUTE_SHAPE_RENAME_FROM,
    ROUTE_SHAPE_RENAME_TO,
    ROUTE_SHAPE_HASH_KEY,
};

struct route_shape_error {
    enum route_shape_list list;
    size_t index;      /* the entry in that list (0 for the key) */
    char message[256]; /* names the list and quotes the offending path */
};

struct route_shape;

/*
 * Compiles spec. On success *out owns the shape (route_shape_free), which
 * keeps its own copy of the key and needs nothing of spec any more. On
 * failure returns TW_EINVAL with err filled (and tw_err_message() set):
 * a path that is not a path, a list over ROUTE_SHAPE_MAX_PATHS, a hash
 * redaction without a key of ROUTE_SHAPE_KEY_MIN_BYTES to
 * ROUTE_SHAPE_KEY_MAX_BYTES bytes, a path redacted both ways, rename
 * sources or targets that coincide or lie inside one another, a rename
 * source that is dropped, lies inside a hashed field or is not kept, a
 * target inside a hashed field, or a target with a digit segment. Or
 * TW_ENOMEM.
 */
TW_MUST_CHECK int route_shape_compile(const struct route_shape_spec *spec,
                                      struct route_shape **out,
                                      struct route_shape_error *err);
void route_shape_free(struct route_shape *shape);

/*
 * Appends the shaped event as compact JSON text to out. event must be an
 * object (TW_EINVAL otherwise). Allocates nothing but out's own growth.
 * Returns tw_buf_status(out): TW_EFULL when out's ceiling is reached or
 * TW_ENOMEM, with a partial text in out.
 */
TW_MUST_CHECK int route_shape_apply(const struct route_shape *shape,
                                    struct tw_json event, struct tw_buf *out);

#endif
