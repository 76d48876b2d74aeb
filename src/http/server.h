/*
 * server.h - the HTTP server's internal structures, shared by server.c
 * (start, stop, connections, limits, the library's own messages) and
 * request.c (reading requests, handing them over, deferred answers).
 *
 * One struct http_request exists per connection, made when the
 * connection opens and reused by every request on it: HTTP/1.1 has at
 * most one request in progress per connection, so keep-alive traffic
 * allocates nothing per request but the answer (and a body buffer only
 * while a body is larger than what a connection keeps between requests).
 *
 * A deferred answer. The handler runs on a server thread once the whole
 * body is in. If it has not answered when it returns, the connection is
 * suspended (it then costs no thread and does not time out). Whoever
 * answers, on any thread, builds the response, marks the request
 * answered and resumes the connection; the library then calls the access
 * handler again on the connection's thread, which queues the response.
 * The state word settles the race between the handler returning and an
 * answer arriving from another thread:
 *
 *   READING --final call--> IN_HANDLER --handler returns--> PARKING
 *                                |                            | suspended
 *                                |                            v
 *                                |                          PARKED
 *                                v                            |
 *                             ANSWERED <---- http_respond ----+
 *
 * http_respond moves any of IN_HANDLER, PARKING, PARKED to ANSWERED and
 * resumes the connection only if it found PARKED, because resuming a
 * connection that is not suspended is undefined. If it found PARKING,
 * the server thread, which is between suspending and marking PARKED,
 * sees ANSWERED and resumes the connection itself. If it found
 * IN_HANDLER, the handler's thread queues the answer when the handler
 * returns. No lock is taken on this path.
 */
#ifndef TW_HTTP_SERVER_H
#define TW_HTTP_SERVER_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "obs/ratelimit.h"

/* A connection keeps a body buffer up to this size between requests. */
#define HTTP_BODY_KEEP_BYTES (64u * 1024u)

/* A body buffer starts at this size (or the Content-Length, if smaller). */
#define HTTP_BODY_FIRST_BYTES (4u * 1024u)

/* How long stop lets answers that were given reach their clients. */
#define HTTP_DRAIN_MS 2000

/* Repeated warnings (refused connections, bad requests) at most this
 * often per kind. */
#define HTTP_WARN_INTERVAL_MS 10000

enum http_request_state {
    HTTP_REQ_READING,    /* headers or body still arriving */
    HTTP_REQ_IN_HANDLER, /* the handler is running */
    HTTP_REQ_PARKING,    /* handler returned, connection being suspended */
    HTTP_REQ_PARKED,     /* suspended until http_respond */
    HTTP_REQ_ANSWERED,   /* response (or its failure) ready to queue */
};

struct http_request {
    struct http_server *server;
    struct MHD_Connection *conn;

    /* The current request; method and path point into the library's
     * memory for the request and stay valid until it completes. */
    const char *method;
    const char *path;
    uint8_t *body;
    size_t body_len;
    size_t body_cap;
    size_t body_expected; /* Content-Length, 0 when unknown */
    size_t discarded;     /* bytes dropped after the body passed the limit */
    bool too_large;
    bool in_flight; /* between the first access call and completion */

    _Atomic int state;             /* enum http_request_state */
    struct MHD_Response *response; /* set before state becomes ANSWERED */
    unsigned status;

    /* Connection thread only: when this connection last did something we
     * saw, to tell an idle timeout from other closes. */
    int64_t last_active_ms;
    char peer[INET6_ADDRSTRLEN];
};

struct http_counters {
    _Atomic uint64_t connections_accepted;
    _Atomic uint64_t connections_refused;
    _Atomic uint64_t connections_timed_out;
    _Atomic uint64_t connections_open;
    _Atomic uint64_t requests;
    _Atomic uint64_t requests_parked;
    _Atomic uint64_t requests_in_flight; /* for stop's drain, not a stat */
    _Atomic uint64_t bodies_too_large;
    _Atomic uint64_t headers_too_large;
    _Atomic uint64_t requests_malformed;
    _Atomic uint64_t body_bytes;
    _Atomic uint64_t responses[6];
};

struct http_server {
    struct MHD_Daemon *daemon;
    int listen_fd;
    http_handler_cb handler;
    void *handler_ctx;

    char host[INET6_ADDRSTRLEN];
    uint16_t port;
    unsigned threads;
    size_t max_body_bytes;
    unsigned max_connections;
    unsigned max_per_ip;
    unsigned idle_timeout_s;
    size_t connection_memory_bytes;

    /* Shared, prebuilt answers the server gives by itself. */
    struct MHD_Response *too_large_response; /* 413 */
    struct MHD_Response *stopping_response;  /* 503 */

    /* Stop sets stopping, then waits on drained until no request is
     * parked and (for a while) none is in flight; the last one out
     * signals. Nothing takes drain_lock unless stopping is set. */
    atomic_bool stopping;
    pthread_mutex_t drain_lock;
    pthread_cond_t drained;

    /* While starting, the library's last message, for the error. */
    atomic_bool started;
    char start_error[256];

    struct http_counters counters;
    struct obs_ratelimit warn_refused_total;
    struct obs_ratelimit warn_refused_per_ip;
    struct obs_ratelimit warn_bad_request;
    struct obs_ratelimit warn_library;
    struct obs_ratelimit warn_no_memory;
};

/* request.c: the library's access and completion callbacks. */
enum MHD_Result http_access_cb(void *cls, struct MHD_Connection *conn,
                               const char *url, const char *method,
                               const char *version, const char *upload_data,
                               size_t *upload_size, void **req_cls);
void http_completed_cb(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe);

/* Frees a connection's request state (its body buffer included). */
void http_request_free(struct http_request *req);

/* Counts a response by its class (responses[2] for 2xx ...). */
void http_count_response(struct http_server *server, unsigned status);

/* Wakes http_server_stop when it waits; cheap when not stopping. */
void http_server_signal_drain(struct http_server *server);

/* Monotonic milliseconds. */
int64_t http_now_ms(void);

#endif
