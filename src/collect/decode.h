/*
 * decode.h - undoing what clients wrap request bodies in: gzip (any body
 * whose Content-Encoding says so) and base64 (the pixel's data argument
 * and the Basic credentials).
 *
 * Both decoders write into a struct tw_buf whose ceiling is the largest
 * decoded size allowed, so a small gzip bomb stops at the limit instead
 * of filling memory.
 */
#ifndef TW_COLLECT_DECODE_H
#define TW_COLLECT_DECODE_H

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

/*
 * Inflates a gzip (or zlib) stream into out, replacing its contents.
 * Returns 0, TW_EFULL when the inflated bytes pass out's ceiling, or
 * TW_EINVAL with zlib's reason when the stream is damaged or cut short.
 */
TW_MUST_CHECK int decode_gzip(const void *in, size_t len, struct tw_buf *out);

/*
 * Decodes base64, standard or URL-safe alphabet, padding optional (e-mail
 * clients and URL builders both mangle it), into out, replacing its
 * contents. Returns 0, TW_EINVAL naming the first bad character, or
 * TW_EFULL.
 */
TW_MUST_CHECK int decode_base64(const char *in, size_t len, struct tw_buf *out);

#endif
