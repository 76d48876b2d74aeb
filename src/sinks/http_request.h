/*
 * http_request.h - what the HTTP sink puts on the wire, apart from the
 * threads that send it: the options checked once, the headers every
 * request shares, the URL in a form fit for logs, and a batch's body in
 * either format (http.h describes both), gzip'd when asked.
 *
 * Everything here runs on the caller's thread and touches no shared
 * state, so send() can build a body while the worker drives others.
 */
#ifndef TW_SINKS_HTTP_REQUEST_H
#define TW_SINKS_HTTP_REQUEST_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "sinks/http.h"
#include "sinks/sink.h"

/* 0, or TW_EINVAL naming the first option that cannot work. */
TW_MUST_CHECK int sink_http_check_options(const struct sink_http_options *o);

/*
 * Checks url with libcurl's parser (so what passes here is what requests
 * will use) and writes into out a form safe to log: scheme, host, port
 * and path, without user, password or query, which may hold secrets.
 * 0, or TW_EINVAL for a URL that does not parse or is not http(s).
 */
TW_MUST_CHECK int sink_http_log_url(const char *url, char *out, size_t cap);

/*
 * The header list every request of the sink shares: Content-Type,
 * Content-Encoding when gzip is on, an empty Expect (no 100-continue
 * round trip), then the configured ones. The caller frees *out with
 * curl_slist_free_all. 0 or TW_ENOMEM.
 */
TW_MUST_CHECK int sink_http_headers_new(const struct sink_http_options *o,
                                        struct curl_slist **out);

/* Whether key can be sent as an Idempotency-Key: 1 to
 * SINK_HTTP_MAX_KEY_BYTES visible ASCII characters. */
bool sink_http_key_ok(const char *key);

/* The body's size for batch in *size; false when it would pass
 * max_body_bytes (nothing is allocated to find out). */
bool sink_http_body_fits(enum sink_http_format format, size_t max_body_bytes,
                         const struct sink_batch *batch, size_t *size);

/*
 * Writes batch as a body of exactly size bytes (from sink_http_body_fits)
 * into a new buffer the caller frees. 0 or TW_ENOMEM; name is the sink's,
 * for the message.
 */
TW_MUST_CHECK int sink_http_body_write(enum sink_http_format format,
                                       const struct sink_batch *batch,
                                       size_t size, const char *name,
                                       char **body);

/* Replaces *body (*len bytes, malloc'd) with its gzip form. 0 or
 * TW_ENOMEM; on failure *body is unchanged. */
TW_MUST_CHECK int sink_http_gzip(char **body, size_t *len, const char *name);

#endif
