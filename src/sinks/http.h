/*
 * http.h - the HTTP webhook sink: every batch is one POST to a configured
 * URL, and the answer decides the batch's outcome (sink.h).
 *
 * The request. The body is the batch's events, each one's JSON text as
 * the runtime gave it (so each keeps its messageId), in batch order:
 *
 *   SINK_HTTP_JSON_BATCH  {"batch":[<event>,<event>,...]}
 *                         Content-Type: application/json
 *   SINK_HTTP_NDJSON      <event>\n<event>\n...
 *                         Content-Type: application/x-ndjson
 *
 * gzip'd with Content-Encoding: gzip when asked. Every request carries
 * Idempotency-Key: <batch->idempotency_key>, which the runtime keeps the
 * same on every attempt of a batch, so a destination that keys on it
 * takes a retried batch once. Then the configured headers and a
 * User-Agent. Redirects are not followed; there is no Expect: 100-continue
 * round trip.
 *
 * The answer, as a struct sink_result:
 *
 *   2xx                        SINK_OK        status; detail empty
 *   status in the retryable    SINK_RETRY     status; retry_after_ms from
 *   set (default 408 425 429                  Retry-After (seconds or an
 *   500 502 503 504)                          HTTP-date), else -1
 *   no answer: refused, reset, SINK_RETRY     status 0; detail is libcurl's
 *   closed, DNS, TLS, timeout                 error ("Couldn't connect...")
 *   3xx (not followed)         SINK_REJECTED  status; detail names Location
 *   any other status           SINK_REJECTED  status
 *   body over max_body_bytes   SINK_REJECTED  status 0; never sent
 *
 * For every answer but a 2xx, detail starts "HTTP <status>", followed by
 * ": " and the start of the answer's body when it had one (at most
 * SINK_HTTP_ANSWER_KEEP_BYTES are kept, made one printable line of UTF-8,
 * "..." when cut), so a dead-lettered batch says why it was refused. A
 * reused connection that closes before any answer is resent once by
 * libcurl on a new one (docs/KNOWN_LIMITATIONS.md).
 *
 * Threads. One worker thread per sink drives one libcurl multi handle:
 * send() (from any thread) builds the body and its headers, queues the
 * request and wakes the worker, which starts it at once. Connections are
 * kept alive and reused, at most max_in_flight of them. done runs on the
 * worker thread, never inside send(); it may call send() again, and a
 * slot is free by then. Nothing blocks the worker but done itself, so a
 * slow done delays every batch of this sink; done must not destroy the
 * sink it was called by.
 *
 * Destroying with batches in flight (which sink.h does not ask of a
 * caller) cancels them: each gets done with SINK_RETRY and a detail saying
 * so, on the worker thread, before destroy returns. The destination may
 * have taken a cancelled batch; its retry carries the same key.
 */
#ifndef TW_SINKS_HTTP_H
#define TW_SINKS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "sinks/sink.h"

/* How much of an answer's body is kept for detail; the rest is read and
 * dropped. */
#define SINK_HTTP_ANSWER_KEEP_BYTES 512

#define SINK_HTTP_MAX_HEADERS 32
#define SINK_HTTP_MAX_IN_FLIGHT 256
#define SINK_HTTP_MAX_BODY_BYTES (1024u * 1024u * 1024u)
/* An Idempotency-Key longer than this is refused by send(). */
#define SINK_HTTP_MAX_KEY_BYTES 256

enum sink_http_format {
    SINK_HTTP_JSON_BATCH = 0, /* {"batch":[...]}, application/json */
    SINK_HTTP_NDJSON = 1,     /* one event a line, application/x-ndjson */
};

/* A header sent with every request, e.g. {"Authorization", "Bearer x"}. */
struct sink_http_header {
    const char *name;
    const char *value;
};

/*
 * What sink_http_new needs. sink_http_options_init fills the defaults
 * given in brackets; url must then be set. Everything is copied by
 * sink_http_new, so the caller may free it afterwards.
 */
struct sink_http_options {
    const char *url; /* http:// or https://; no default */
    /* Sent with every request, after the sink's own. A name the sink
     * sets itself (Content-Type, Content-Length, Content-Encoding,
     * Transfer-Encoding, Idempotency-Key, Expect, Connection, Host) is
     * refused; a User-Agent replaces the sink's. [none] */
    const struct sink_http_header *headers;
    size_t header_count;          /* at most SINK_HTTP_MAX_HEADERS */
    bool gzip;                    /* gzip request bodies [off] */
    enum sink_http_format format; /* [SINK_HTTP_JSON_BATCH] */
    /* The whole request, connecting included; then SINK_RETRY. [30000] */
    unsigned timeout_ms;
    /* TCP connect and TLS handshake, within timeout_ms. [5000] */
    unsigned connect_timeout_ms;
    /* Batches out at once, and open connections at most (1 ...
     * SINK_HTTP_MAX_IN_FLIGHT); send() answers TW_EFULL beyond. [4] */
    unsigned max_in_flight;
    /* Statuses answered SINK_RETRY, each in 400..599; every other non-2xx
     * status is SINK_REJECTED. NULL: the defaults; a list with count 0:
     * none (network errors and timeouts are still retried).
     * [NULL: 408, 425, 429, 500, 502, 503, 504] */
    const uint32_t *retryable;
    size_t retryable_count;
    /* The largest request body before gzip (1 ... SINK_HTTP_MAX_BODY_
     * BYTES). A batch whose body would be larger is not sent: it ends
     * SINK_REJECTED, status 0, detail saying so. [16 MiB] */
    size_t max_body_bytes;
    const char *user_agent; /* ["trackway-http-sink"] */
};

void sink_http_options_init(struct sink_http_options *opts);

/*
 * Creates an HTTP sink named name (the destination's, for logs) and
 * starts its worker thread. Returns 0 and the sink in *out, which the
 * caller frees with sink_destroy; TW_EINVAL naming the option that cannot
 * work (a URL without http or https, a header with CR or LF, ...); or
 * TW_ENOMEM / TW_EIO when libcurl or the thread cannot be set up.
 *
 * send() on the sink returns, besides 0 and TW_EFULL: TW_EINVAL for a
 * batch without events, done callback or idempotency key, or a key that
 * cannot be a header value (over SINK_HTTP_MAX_KEY_BYTES, or anything but
 * visible ASCII): mistakes of the caller, which no retry fixes;
 * TW_ENOMEM; TW_ECLOSED once destroy has begun.
 */
TW_MUST_CHECK int sink_http_new(const struct sink_http_options *opts,
                                const char *name, struct sink **out);

/* What the HTTP sink counts beyond struct sink_stats. */
struct sink_http_stats {
    struct sink_stats sink;
    /* Answers by status class: [2] 2xx ... [5] 5xx; [1] 1xx and [0]
     * codes outside 100..599 (both rejected). */
    uint64_t responses[6];
    /* Attempts that ended without an answer (refused, reset, closed, DNS,
     * TLS, timeouts), timeouts included; not those cancelled by destroy. */
    uint64_t network_errors;
    uint64_t timeouts;          /* connect or whole-request timeouts */
    uint64_t connections_made;  /* new connections; the rest were reused */
    uint64_t sends_full;        /* send() answered TW_EFULL */
    uint64_t sends_refused;     /* send() answered another error */
    uint64_t batches_cancelled; /* ended SINK_RETRY by destroy */
    uint64_t batches_too_large; /* rejected unsent: over max_body_bytes */
    uint64_t answer_bytes;      /* answer body bytes read, kept or not */
};

/* Fills stats for an HTTP sink (sink must come from sink_http_new). */
void sink_http_stats(struct sink *sink, struct sink_http_stats *stats);

#endif
