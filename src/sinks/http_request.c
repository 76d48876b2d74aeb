/*
 * http_request.c - options, URL, shared headers and bodies of the HTTP
 * sink's requests.
 */
#include "sinks/http_request.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "sinks/http_answer.h"

static const char sink_http_batch_open[] = "{\"batch\":[";
static const char sink_http_batch_close[] = "]}";

/* Headers the sink writes itself, or that would break the framing. */
static const char *const sink_http_reserved_headers[] = {
    "Content-Type",     "Content-Length",
    "Content-Encoding", "Transfer-Encoding",
    "Idempotency-Key",  "Expect",
    "Connection",       "Host",
};

/* ------------------------------------------------------------ options -- */

/* RFC 9110 token characters, which is what a field name is made of. */
static bool sink_http_is_token(const char *text)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if (*text == '\0') {
        return false;
    }
    for (const char *p = text; *p != '\0'; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9');

        if (!alnum && strchr(extra, *p) == NULL) {
            return false;
        }
    }
    return true;
}

/* A field value may hold tabs and visible bytes, never CR, LF or NUL. */
static bool sink_http_is_field_value(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0';
         p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

static int sink_http_check_header(const struct sink_http_header *h, size_t i)
{
    size_t n = sizeof(sink_http_reserved_headers) /
               sizeof(sink_http_reserved_headers[0]);

    if (h->name == NULL || h->value == NULL || !sink_http_is_token(h->name)) {
        return tw_err_set(TW_EINVAL,
                          "http sink: header %zu needs a name of letters, "
                          "digits and !#$%%&'*+-.^_`|~ and a value",
                          i + 1);
    }
    if (!sink_http_is_field_value(h->value)) {
        return tw_err_set(TW_EINVAL,
                          "http sink: header %s has a control character "
                          "(CR, LF, ...) in its value",
                          h->name);
    }
    for (size_t r = 0; r < n; r++) {
        if (strcasecmp(h->name, sink_http_reserved_headers[r]) == 0) {
            return tw_err_set(TW_EINVAL,
                              "http sink: header %s is set by the sink "
                              "itself and cannot be configured",
                              h->name);
        }
    }
    return 0;
}

static int sink_http_check_headers(const struct sink_http_options *o)
{
    if (o->header_count > SINK_HTTP_MAX_HEADERS ||
        (o->header_count > 0 && o->headers == NULL)) {
        return tw_err_set(TW_EINVAL, "http sink: at most %d headers",
                          SINK_HTTP_MAX_HEADERS);
    }
    for (size_t i = 0; i < o->header_count; i++) {
        int rc = sink_http_check_header(&o->headers[i], i);

        if (rc != 0) {
            return rc;
        }
    }
    if (o->user_agent != NULL && !sink_http_is_field_value(o->user_agent)) {
        return tw_err_set(TW_EINVAL,
                          "http sink: user_agent has a control character");
    }
    return 0;
}

static int sink_http_check_limits(const struct sink_http_options *o)
{
    if (o->timeout_ms == 0 || o->connect_timeout_ms == 0 ||
        o->timeout_ms > INT32_MAX || o->connect_timeout_ms > INT32_MAX) {
        return tw_err_set(TW_EINVAL,
                          "http sink: timeout_ms and connect_timeout_ms must "
                          "be 1 or more");
    }
    if (o->max_in_flight == 0 || o->max_in_flight > SINK_HTTP_MAX_IN_FLIGHT) {
        return tw_err_set(TW_EINVAL,
                          "http sink: max_in_flight must be 1 ... %d, not %u",
                          SINK_HTTP_MAX_IN_FLIGHT, o->max_in_flight);
    }
    if (o->max_body_bytes == 0 ||
        o->max_body_bytes > SINK_HTTP_MAX_BODY_BYTES) {
        return tw_err_set(TW_EINVAL,
                          "http sink: max_body_bytes must be 1 ... %u",
                          SINK_HTTP_MAX_BODY_BYTES);
    }
    for (size_t i = 0; o->retryable != NULL && i < o->retryable_count; i++) {
        if (o->retryable[i] < SINK_HTTP_RETRYABLE_MIN ||
            o->retryable[i] > SINK_HTTP_RETRYABLE_MAX) {
            return tw_err_set(TW_EINVAL,
                              "http sink: retryable status %u is not a 4xx "
                              "or 5xx status (2xx is always success)",
                              o->retryable[i]);
        }
    }
    return 0;
}

int sink_http_check_options(const struct sink_http_options *o)
{
    int rc;

    if (o->url == NULL || o->url[0] == '\0') {
        return tw_err_set(TW_EINVAL, "http sink: a url is needed");
    }
    if (o->format != SINK_HTTP_JSON_BATCH && o->format != SINK_HTTP_NDJSON) {
        return tw_err_set(TW_EINVAL, "http sink: unknown body format %d",
                          (int)o->format);
    }
    rc = sink_http_check_headers(o);
    return rc != 0 ? rc : sink_http_check_limits(o);
}

int sink_http_log_url(const char *url, char *out, size_t cap)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    char *host = NULL;
    char *port = NULL;
    char *path = NULL;
    CURLUcode uc;
    int rc = 0;

    if (u == NULL) {
        return tw_err_set(TW_ENOMEM, "http sink: out of memory");
    }
    uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK) {
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    }
    if (uc == CURLUE_OK) {
        uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    }
    if (uc != CURLUE_OK) {
        rc = tw_err_set(TW_EINVAL, "http sink: url %s: %s", url,
                        curl_url_strerror(uc));
        goto free_parts;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        rc = tw_err_set(TW_EINVAL,
                        "http sink: url %s: the scheme must be http or https",
                        url);
        goto free_parts;
    }
    (void)curl_url_get(u, CURLUPART_PORT, &port, 0);
    (void)curl_url_get(u, CURLUPART_PATH, &path, 0);
    snprintf(out, cap, "%s://%s%s%s%s", scheme, host, port != NULL ? ":" : "",
             port != NULL ? port : "", path != NULL ? path : "/");

free_parts:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

/* ------------------------------------------------------------ headers -- */

/* Appends "Name: value" ("Name;" sends an empty value; "Name:" alone
 * would tell libcurl to drop the header). */
static int sink_http_add_header(struct curl_slist **list, const char *name,
                                const char *value)
{
    struct curl_slist *grown;
    char *line;

    if (asprintf(&line, "%s%s%s", name, value[0] == '\0' ? ";" : ": ", value) <
        0) {
        return tw_err_set(TW_ENOMEM, "http sink: out of memory");
    }
    grown = curl_slist_append(*list, line);
    free(line);
    if (grown == NULL) {
        return tw_err_set(TW_ENOMEM, "http sink: out of memory");
    }
    *list = grown;
    return 0;
}

int sink_http_headers_new(const struct sink_http_options *o,
                          struct curl_slist **out)
{
    struct curl_slist *list = NULL;
    int rc = sink_http_add_header(&list, "Content-Type",
                                  o->format == SINK_HTTP_NDJSON
                                      ? "application/x-ndjson"
                                      : "application/json");

    if (rc == 0 && o->gzip) {
        rc = sink_http_add_header(&list, "Content-Encoding", "gzip");
    }
    /* "Expect:" with nothing after it stops libcurl from waiting for a
     * 100 Continue before large bodies: one round trip less per batch. */
    if (rc == 0) {
        struct curl_slist *grown = curl_slist_append(list, "Expect:");

        rc = grown != NULL ? 0
                           : tw_err_set(TW_ENOMEM, "http sink: out of memory");
        list = grown != NULL ? grown : list;
    }
    for (size_t i = 0; rc == 0 && i < o->header_count; i++) {
        rc = sink_http_add_header(&list, o->headers[i].name,
                                  o->headers[i].value);
    }
    if (rc != 0) {
        curl_slist_free_all(list);
        return rc;
    }
    *out = list;
    return 0;
}

bool sink_http_key_ok(const char *key)
{
    size_t len = 0;

    if (key == NULL) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)key; *p != '\0';
         p++, len++) {
        if (*p <= 0x20 || *p >= 0x7f || len == SINK_HTTP_MAX_KEY_BYTES) {
            return false;
        }
    }
    return len > 0;
}

/* --------------------------------------------------------------- body -- */

bool sink_http_body_fits(enum sink_http_format format, size_t max_body_bytes,
                         const struct sink_batch *batch, size_t *size)
{
    bool json = format == SINK_HTTP_JSON_BATCH;
    size_t total = json ? sizeof(sink_http_batch_open) - 1 +
                              sizeof(sink_http_batch_close) - 1
                        : 0;

    for (size_t i = 0; i < batch->count; i++) {
        /* The event and its separator: '\n' after each NDJSON line, ','
         * before each JSON element but the first. */
        size_t one = batch->events[i].data_len + (json && i == 0 ? 0 : 1);

        if (one > max_body_bytes || total > max_body_bytes - one) {
            return false;
        }
        total += one;
    }
    if (total > max_body_bytes) {
        return false;
    }
    *size = total;
    return true;
}

int sink_http_body_write(enum sink_http_format format,
                         const struct sink_batch *batch, size_t size,
                         const char *name, char **body)
{
    bool json = format == SINK_HTTP_JSON_BATCH;
    char *start = malloc(size);
    char *p = start;

    if (start == NULL) {
        return tw_err_set(TW_ENOMEM,
                          "http sink %s: no memory for a body of %zu bytes",
                          name, size);
    }
    if (json) {
        memcpy(p, sink_http_batch_open, sizeof(sink_http_batch_open) - 1);
        p += sizeof(sink_http_batch_open) - 1;
    }
    for (size_t i = 0; i < batch->count; i++) {
        const struct sink_event *e = &batch->events[i];

        if (i > 0 && json) {
            *p++ = ',';
        }
        memcpy(p, e->data, e->data_len);
        p += e->data_len;
        if (!json) {
            *p++ = '\n';
        }
    }
    if (json) {
        memcpy(p, sink_http_batch_close, sizeof(sink_http_batch_close) - 1);
        p += sizeof(sink_http_batch_close) - 1;
    }
    assert((size_t)(p - start) == size);
    *body = start;
    return 0;
}

int sink_http_gzip(char **body, size_t *len, const char *name)
{
    z_stream zs;
    size_t bound;
    char *out;
    int zrc;

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return tw_err_set(TW_ENOMEM, "http sink %s: cannot start gzip", name);
    }
    bound = deflateBound(&zs, (uLong)*len);
    out = malloc(bound);
    if (out == NULL) {
        deflateEnd(&zs);
        return tw_err_set(
            TW_ENOMEM, "http sink %s: no memory to gzip %zu bytes", name, *len);
    }
    zs.next_in = (Bytef *)*body;
    zs.avail_in = (uInt)*len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)bound;
    zrc = deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    if (zrc != Z_STREAM_END) {
        free(out);
        return tw_err_set(TW_ENOMEM, "http sink %s: gzip failed (%d)", name,
                          zrc);
    }
    free(*body);
    *body = out;
    *len = bound - zs.avail_out;
    return 0;
}
