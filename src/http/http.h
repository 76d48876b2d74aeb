/*
 * http.h - Trackway's HTTP server: a thin wrapper over libmicrohttpd.
 *
 * Nothing above this header names libmicrohttpd, so the library can be
 * swapped. The server reads a whole request (headers and body, up to
 * max_body_bytes) and then calls the handler once, on one of its
 * threads. The handler may answer at once or later, from any thread:
 * the collector answers only when the log says the events are durable,
 * which happens on the log's writer thread. Until it answers, the
 * connection is parked and costs no thread.
 *
 * Limits are enforced here, before any handler runs: a body above
 * max_body_bytes is answered 413, headers that do not fit in
 * connection_memory_bytes are answered 431, too many connections (in all
 * or from one address) are refused, and a client that sends nothing for
 * idle_timeout_s is disconnected. Each is counted in struct http_stats.
 * While the server stops, new requests on open connections get 503
 * without reaching the handler.
 *
 * Lifetimes. A struct http_request belongs to the server. It and every
 * pointer read from it stay valid until http_respond() is called on it;
 * after that the caller must not touch it. Every request handed to the
 * handler must be answered exactly once, also while the server stops
 * (http_server_stop waits for the answers of parked requests).
 */
#ifndef TW_HTTP_HTTP_H
#define TW_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct http_server;
struct http_request;

typedef void (*http_handler_cb)(void *ctx, struct http_request *request);

struct http_server_options {
    const char *host;         /* a numeric address: "127.0.0.1", "::1" */
    uint16_t port;            /* 0: any free port (see http_server_port) */
    unsigned threads;         /* 0: one per core */
    size_t max_body_bytes;    /* larger bodies get 413 */
    unsigned max_connections; /* beyond, new connections are refused */
    unsigned max_per_ip;      /* 0: no per-address limit */
    unsigned idle_timeout_s;  /* a silent client is disconnected */
    /* Per connection, for the request line, headers and socket buffers
     * (the body is apart); a request whose headers do not fit gets 431. */
    size_t connection_memory_bytes;
    http_handler_cb handler; /* called once per whole request */
    void *handler_ctx;
};

/* Fills opts with defaults: 127.0.0.1, port 0, 512 KiB bodies, 1024
 * connections, 64 per address, 30 s idle, 32 KiB of connection memory.
 * handler must still be set. */
void http_server_options_init(struct http_server_options *opts);

/*
 * Starts listening and serving. Returns 0, TW_EINVAL for bad options, or
 * TW_EIO when the address cannot be bound (the message names it and the
 * reason, such as "address already in use"). The caller owns *out.
 */
TW_MUST_CHECK int http_server_start(const struct http_server_options *opts,
                                    struct http_server **out);

/* The port the server listens on (useful after asking for port 0). */
uint16_t http_server_port(const struct http_server *server);

/*
 * Stops accepting, waits until every request given to the handler has
 * been answered, gives the answers up to 2 s to reach their clients,
 * closes every connection and frees the server. Must not be called from
 * the handler (it waits for the server's own threads).
 */
void http_server_stop(struct http_server *server);

/* The request line and headers. Header names match case-insensitively. */
const char *http_request_method(const struct http_request *request);
/* The path without the query string ("/v1/batch"), percent-decoded. */
const char *http_request_path(const struct http_request *request);
/* A header's value, or NULL when the request has none by that name. */
const char *http_request_header(const struct http_request *request,
                                const char *name);
/* A query argument's value, percent-decoded, or NULL when absent ("" for
 * an argument without '='). Argument names match exactly. */
const char *http_request_query(const struct http_request *request,
                               const char *name);
/* The peer's numeric address, "127.0.0.1" or "::1" (no port). */
const char *http_request_peer(const struct http_request *request);

/* The body's bytes (not NUL-terminated) and their count. */
const void *http_request_body(const struct http_request *request, size_t *len);

/* A response header; both strings are copied by http_respond. */
struct http_header {
    const char *name;
    const char *value;
};

/*
 * Answers the request: status, the headers given (Content-Length is
 * added; one given is ignored), and body_len bytes of body, which are
 * copied. May be called from any thread, once per request. Returns 0,
 * TW_EINVAL for a status outside 200..599, or TW_ENOMEM when the answer
 * could not be built; on an error the connection is closed. Either way
 * the request is gone.
 */
int http_respond(struct http_request *request, unsigned status,
                 const struct http_header *headers, size_t header_count,
                 const void *body, size_t body_len);

/* Counters since start, for metrics. All monotonic but the gauges. */
struct http_stats {
    uint64_t connections_accepted;
    uint64_t connections_refused; /* over max_connections or max_per_ip */
    uint64_t connections_timed_out;
    uint64_t connections_open;   /* gauge */
    uint64_t requests;           /* handed to the handler */
    uint64_t requests_parked;    /* gauge: awaiting http_respond */
    uint64_t bodies_too_large;   /* answered 413 by the server itself */
    uint64_t headers_too_large;  /* answered 431/414: over connection memory */
    uint64_t requests_malformed; /* other refusals before the handler (400) */
    uint64_t body_bytes;         /* request body bytes received */
    uint64_t responses[6];       /* by class: [2] = 2xx ... [5] = 5xx */
};

void http_server_stats(struct http_server *server, struct http_stats *stats);

#endif
