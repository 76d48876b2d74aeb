/*
 * collector.h - the front door: Segment-compatible HTTP endpoints that
 * judge, enrich and store events, answering only once they are durable.
 *
 * Endpoints (all also answer OPTIONS for CORS preflight):
 *
 *   POST /v1/batch, /v1/import      {"batch":[...], "context", "sentAt"...}
 *   POST /v1/track|identify|page|screen|group|alias   one message
 *        (and the short forms /v1/t, /v1/i, /v1/p, /v1/s, /v1/g, /v1/a)
 *   GET  /v1/pixel/<type>?data=<base64 JSON>          a 1x1 GIF
 *   GET  /health                                      {"status":"ok"}
 *   GET  /metrics                                     Prometheus text
 *
 * Answers: 200 {"success":true} when every event of the request is
 * durable (accepted ones in the events log, rejected ones in the
 * failed-events log); 400 malformed body, 401 unknown write key, 413 too
 * large, 429 rate limited, 503 when the log cannot take more now. Every
 * error body is {"success":false,"error":"<reason>"}; 429 and 503 carry
 * Retry-After. A 5xx only ever means "nothing was kept, send it again".
 *
 * Stored records: key "<source>/<messageId>", timestamp receivedAt, value
 * the enriched event (message.h) or, in the failed-events log, the
 * failure record (failed.h).
 */
#ifndef TW_COLLECT_COLLECTOR_H
#define TW_COLLECT_COLLECTOR_H

#include "collect/plan.h"
#include "common/buf.h"
#include "config/config.h"
#include "http/http.h"
#include "log/log.h"

struct collector;

struct collector_options {
    const struct tw_config *config;
    struct log *events; /* accepted events */
    struct log *failed; /* the failed-events log */
    /* Compiled plans, one per config->plans entry, same order. */
    struct plan *const *plans;
};

/* The collector borrows everything in opts; the caller owns *out. */
TW_MUST_CHECK int collector_new(const struct collector_options *opts,
                                struct collector **out);
void collector_free(struct collector *c);

/*
 * Refills the dedup set from the keys of the events log written within
 * the dedup window, so a restart does not forget what SDKs may resend.
 * Reports how many ids it read.
 */
TW_MUST_CHECK int collector_dedup_restore(struct collector *c,
                                          uint64_t *ids_read);

/* The HTTP handler: pass with the collector as handler_ctx. */
void collector_handle_cb(void *ctx, struct http_request *request);

/* Lets /metrics include the server's own counters. */
void collector_set_http(struct collector *c, struct http_server *server);

/* Lets /metrics include more: fn appends to out, with ctx. */
void collector_set_extra_metrics(struct collector *c,
                                 void (*fn)(void *ctx, struct tw_buf *out),
                                 void *ctx);

/* Appends every metric in the Prometheus text format to out. */
void collector_metrics(struct collector *c, struct tw_buf *out);

#endif
