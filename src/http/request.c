/*
 * request.c - one request's life: headers in, body gathered within the
 * limit, the handler called once, the answer queued when it comes (from
 * any thread; see the state diagram in server.h), the request's state
 * reset when it completes.
 *
 * The library calls the access handler several times per request: once
 * when the headers are in, once per piece of body, and once more when
 * the request is whole. A response may be queued only on the first call
 * or after the body is whole. Queuing on the first call also makes the
 * library close the connection after the answer (the body is never
 * read), which is right for a too-large Content-Length and wrong for
 * everything else, so ordinary answers wait for the body.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/server.h"
#include "obs/logging.h"

static struct http_request *http_request_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info == NULL ? NULL : info->socket_context;
}

void http_count_response(struct http_server *server, unsigned status)
{
    unsigned cls = status / 100;

    if (cls > 5) {
        cls = 5;
    }
    atomic_fetch_add_explicit(&server->counters.responses[cls], 1,
                              memory_order_relaxed);
}

/* Queues a response and counts it; the caller keeps its reference. */
static enum MHD_Result http_queue(struct http_request *req, unsigned status,
                                  struct MHD_Response *response)
{
    enum MHD_Result ret = MHD_queue_response(req->conn, status, response);

    if (ret == MHD_YES) {
        http_count_response(req->server, status);
    }
    return ret;
}

/* Parses a Content-Length the library has already checked for form. */
static uint64_t http_parse_length(const char *text)
{
    errno = 0;
    unsigned long long v = strtoull(text, NULL, 10);

    return errno == ERANGE ? UINT64_MAX : (uint64_t)v;
}

static enum MHD_Result http_request_begin(struct http_server *server,
                                          struct MHD_Connection *conn,
                                          const char *url, const char *method,
                                          void **req_cls)
{
    struct http_request *req = http_request_of(conn);
    const char *length;

    if (req == NULL) {
        /* The connection's state could not be allocated when it opened. */
        return MHD_NO;
    }
    *req_cls = req;
    req->method = method;
    req->path = url;
    req->body_len = 0;
    req->body_expected = 0;
    req->discarded = 0;
    req->too_large = false;
    req->response = NULL;
    req->in_flight = true;
    atomic_store_explicit(&req->state, HTTP_REQ_READING, memory_order_relaxed);
    req->last_active_ms = http_now_ms();
    atomic_fetch_add(&server->counters.requests_in_flight, 1);

    if (atomic_load_explicit(&server->stopping, memory_order_relaxed)) {
        return http_queue(req, 503, server->stopping_response);
    }

    length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length != NULL) {
        uint64_t n = http_parse_length(length);

        if (n > server->max_body_bytes) {
            atomic_fetch_add_explicit(&server->counters.bodies_too_large, 1,
                                      memory_order_relaxed);
            return http_queue(req, 413, server->too_large_response);
        }
        req->body_expected = (size_t)n;
    }
    return MHD_YES;
}

/* Makes room for `more` bytes: doubling, capped by the Content-Length
 * when one was given and by the limit in any case. */
static int http_body_reserve(struct http_request *req, size_t more)
{
    size_t need = req->body_len + more;
    size_t cap = req->body_cap;
    size_t ceiling = req->server->max_body_bytes;
    uint8_t *grown;

    if (need <= cap) {
        return 0;
    }
    if (req->body_expected >= need && req->body_expected < ceiling) {
        ceiling = req->body_expected;
    }
    if (cap == 0) {
        cap = HTTP_BODY_FIRST_BYTES;
    }
    while (cap < need) {
        cap *= 2;
    }
    if (cap > ceiling) {
        cap = ceiling;
    }
    grown = realloc(req->body, cap);
    if (grown == NULL) {
        return TW_ENOMEM;
    }
    req->body = grown;
    req->body_cap = cap;
    return 0;
}

static void http_body_release_large(struct http_request *req)
{
    if (req->body_cap > HTTP_BODY_KEEP_BYTES) {
        free(req->body);
        req->body = NULL;
        req->body_cap = 0;
    }
}

static void http_note_cut_off(struct http_request *req)
{
    struct http_server *server = req->server;
    uint64_t suppressed;

    if (obs_ratelimit_allow(&server->warn_bad_request, HTTP_WARN_INTERVAL_MS,
                            &suppressed)) {
        OBS_LOG(
            OBS_INFO, "http", "client kept sending past the body limit",
            "peer=%s path=%s read=%zu max_body_bytes=%zu suppressed=%" PRIu64,
            req->peer, req->path, req->body_len + req->discarded,
            server->max_body_bytes, suppressed);
    }
}

/*
 * A piece of body. Past the limit the rest is read and dropped, because
 * the library cannot answer in the middle of a body; the 413 goes out
 * when the body ends. A client that sends another max_body_bytes after
 * crossing the limit is cut off instead of being read forever.
 */
static enum MHD_Result http_request_absorb(struct http_request *req,
                                           const char *data, size_t *size)
{
    struct http_server *server = req->server;
    size_t n = *size;

    *size = 0;
    req->last_active_ms = http_now_ms();
    atomic_fetch_add_explicit(&server->counters.body_bytes, n,
                              memory_order_relaxed);
    if (req->too_large) {
        req->discarded += n;
        if (req->discarded > server->max_body_bytes) {
            http_note_cut_off(req);
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (n > server->max_body_bytes - req->body_len) {
        req->too_large = true;
        req->discarded = n;
        http_body_release_large(req);
        atomic_fetch_add_explicit(&server->counters.bodies_too_large, 1,
                                  memory_order_relaxed);
        return MHD_YES;
    }
    if (http_body_reserve(req, n) < 0) {
        uint64_t suppressed;

        if (obs_ratelimit_allow(&server->warn_no_memory, HTTP_WARN_INTERVAL_MS,
                                &suppressed)) {
            OBS_LOG(OBS_ERROR, "http", "out of memory for a request body",
                    "peer=%s bytes=%zu suppressed=%" PRIu64, req->peer,
                    req->body_len + n, suppressed);
        }
        return MHD_NO;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
    return MHD_YES;
}

/* Queues the answer http_respond left; without one, closes. */
static enum MHD_Result http_request_send(struct http_request *req)
{
    struct MHD_Response *response = req->response;
    enum MHD_Result ret;

    req->response = NULL;
    if (response == NULL) {
        return MHD_NO;
    }
    ret = http_queue(req, req->status, response);
    MHD_destroy_response(response);
    return ret;
}

/* The body is whole: hand the request over, then park it if need be. */
static enum MHD_Result http_request_dispatch(struct http_request *req)
{
    struct http_server *server = req->server;
    int expected = HTTP_REQ_IN_HANDLER;

    if (req->too_large) {
        return http_queue(req, 413, server->too_large_response);
    }
    if (atomic_load_explicit(&server->stopping, memory_order_relaxed)) {
        return http_queue(req, 503, server->stopping_response);
    }

    atomic_fetch_add_explicit(&server->counters.requests, 1,
                              memory_order_relaxed);
    atomic_fetch_add(&server->counters.requests_parked, 1);
    atomic_store(&req->state, HTTP_REQ_IN_HANDLER);
    server->handler(server->handler_ctx, req);

    if (!atomic_compare_exchange_strong(&req->state, &expected,
                                        HTTP_REQ_PARKING)) {
        return http_request_send(req);
    }
    MHD_suspend_connection(req->conn);
    expected = HTTP_REQ_PARKING;
    if (!atomic_compare_exchange_strong(&req->state, &expected,
                                        HTTP_REQ_PARKED)) {
        /* Answered while we were suspending: the answerer left the
         * resume to us. The next access call queues the answer. */
        MHD_resume_connection(req->conn);
    }
    return MHD_YES;
}

enum MHD_Result http_access_cb(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload_data,
                               size_t *upload_size, void **req_cls)
{
    struct http_request *req = *req_cls;

    (void)version;
    if (req == NULL) {
        return http_request_begin(cls, conn, url, method, req_cls);
    }
    if (*upload_size > 0) {
        return http_request_absorb(req, upload_data, upload_size);
    }
    switch (atomic_load(&req->state)) {
    case HTTP_REQ_READING:
        return http_request_dispatch(req);
    case HTTP_REQ_ANSWERED:
        return http_request_send(req);
    default:
        /* Suspended connections get no calls; nothing to do. */
        return MHD_YES;
    }
}

void http_completed_cb(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe)
{
    struct http_server *server = cls;
    struct http_request *req = *req_cls;

    (void)conn;
    (void)toe;
    if (req == NULL) {
        return;
    }
    *req_cls = NULL;

    /* An answer that arrived but was never queued (the connection broke
     * first, or the server stopped) is dropped here. */
    if (req->response != NULL) {
        MHD_destroy_response(req->response);
        req->response = NULL;
    }
    http_body_release_large(req);
    req->in_flight = false;
    req->last_active_ms = http_now_ms();
    atomic_fetch_sub(&server->counters.requests_in_flight, 1);
    http_server_signal_drain(server);
}

void http_request_free(struct http_request *req)
{
    if (req != NULL) {
        free(req->body);
        free(req);
    }
}

/* ------------------------------------------------------------ answers -- */

static struct MHD_Response *
http_response_build(const struct http_header *headers, size_t header_count,
                    const void *body, size_t body_len)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(
        body_len, (void *)body, MHD_RESPMEM_MUST_COPY);

    if (response == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < header_count; i++) {
        /* The library writes Content-Length itself and refuses ours. */
        if (strcasecmp(headers[i].name, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
            continue;
        }
        if (MHD_add_response_header(response, headers[i].name,
                                    headers[i].value) != MHD_YES) {
            MHD_destroy_response(response);
            return NULL;
        }
    }
    return response;
}

int http_respond(struct http_request *request, unsigned status,
                 const struct http_header *headers, size_t header_count,
                 const void *body, size_t body_len)
{
    struct http_server *server = request->server;
    struct MHD_Connection *conn = request->conn;
    int rc = 0;
    int prev;

    if (status < 200 || status > 599) {
        rc = tw_err_set(TW_EINVAL,
                        "http: status %u is not a final HTTP status "
                        "(200..599); the connection is closed",
                        status);
    } else {
        request->response =
            http_response_build(headers, header_count, body, body_len);
        if (request->response == NULL) {
            rc = tw_err_set(TW_ENOMEM,
                            "http: out of memory building a %zu-byte answer "
                            "with %zu headers; the connection is closed",
                            body_len, header_count);
        }
    }
    request->status = status;

    /* From here on the request belongs to the connection's thread. */
    prev = atomic_exchange(&request->state, HTTP_REQ_ANSWERED);
    assert(prev == HTTP_REQ_IN_HANDLER || prev == HTTP_REQ_PARKING ||
           prev == HTTP_REQ_PARKED);
    if (prev == HTTP_REQ_PARKED) {
        MHD_resume_connection(conn);
    }
    atomic_fetch_sub(&server->counters.requests_parked, 1);
    http_server_signal_drain(server);
    return rc;
}

/* ---------------------------------------------------------- accessors -- */

const char *http_request_method(const struct http_request *request)
{
    return request->method;
}

const char *http_request_path(const struct http_request *request)
{
    return request->path;
}

const char *http_request_header(const struct http_request *request,
                                const char *name)
{
    return MHD_lookup_connection_value(request->conn, MHD_HEADER_KIND, name);
}

struct http_query_lookup {
    const char *name;
    const char *value;
    bool found;
};

static enum MHD_Result http_query_match_cb(void *cls, enum MHD_ValueKind kind,
                                           const char *key, const char *value)
{
    struct http_query_lookup *lookup = cls;

    (void)kind;
    if (strcmp(key, lookup->name) != 0) {
        return MHD_YES;
    }
    lookup->value = value == NULL ? "" : value;
    lookup->found = true;
    return MHD_NO;
}

/* The library's own lookup ignores case, which is right for headers
 * only; arguments are matched here exactly. */
const char *http_request_query(const struct http_request *request,
                               const char *name)
{
    struct http_query_lookup lookup = {.name = name};

    MHD_get_connection_values(request->conn, MHD_GET_ARGUMENT_KIND,
                              http_query_match_cb, &lookup);
    return lookup.found ? lookup.value : NULL;
}

const char *http_request_peer(const struct http_request *request)
{
    return request->peer;
}

const void *http_request_body(const struct http_request *request, size_t *len)
{
    *len = request->body_len;
    return request->body != NULL ? (const void *)request->body : "";
}
