/*
 * uri.h - URI references of schemas ($id, $ref, registry keys) resolved
 * and compared as RFC 3986 says, on uriparser.
 *
 * Every URI the schema code keeps is absolute and in normal form (scheme
 * and host lower case, dot segments removed, percent-encodings in upper
 * case), without an empty fragment, so two spellings of one resource
 * compare equal with strcmp.
 */
#ifndef TW_SCHEMA_URI_H
#define TW_SCHEMA_URI_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/*
 * Resolves the reference ref (ref_len bytes) against the absolute base and
 * sets *out to the result in normal form, malloc'd (the caller frees).
 * Returns TW_EINVAL with a message when ref is not a URI reference or the
 * result is not absolute, or TW_ENOMEM.
 */
TW_MUST_CHECK int schema_uri_resolve(const char *base, const char *ref,
                                     size_t ref_len, char **out);

/* Whether text is an absolute URI (scheme, then hier-part) per RFC 3986. */
bool schema_uri_is_absolute(const char *text, size_t len);

/*
 * The fragment of uri: the text after its first '#', or NULL when it has
 * none. *base_len is set to the length of what comes before the '#'.
 */
const char *schema_uri_fragment(const char *uri, size_t *base_len);

/*
 * Decodes percent-escapes of text (len bytes) into out (len + 1 bytes
 * suffice) and returns the decoded length. A '%' not followed by two hex
 * digits is kept as it is.
 */
size_t schema_uri_unescape(const char *text, size_t len, char *out);

#endif
