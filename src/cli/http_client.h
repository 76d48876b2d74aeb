/*
 * http_client.h - the command line's client for a collector's /v1/batch,
 * shared by `trackway send` and `trackway failed replay`: one libcurl
 * handle, HTTP Basic with a write key, optional gzip, and retries.
 *
 * A 5xx answer, a 429 and a network error are retried with exponential
 * backoff and full jitter, waiting at least what Retry-After asks; any
 * other answer is final. Callers give every message a messageId before
 * the first attempt, so a resent batch is deduplicated by the collector.
 */
#ifndef TW_CLI_HTTP_CLIENT_H
#define TW_CLI_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct http_client_opts {
    const char *cmd;   /* for messages: "send", "failed replay" */
    const char *agent; /* the User-Agent */
    bool gzip;         /* compress request bodies */
    uint64_t retries;  /* attempts after the first */
    bool progress;     /* a progress line is on the terminal: start
                          messages on a new line */
    size_t max_body;   /* the largest body that will be posted */
};

struct http_client_stats {
    uint64_t requests; /* attempts, each retry counted */
    uint64_t retried;
    uint64_t ok; /* batches answered 200 */
};

struct http_client;

/*
 * Starts a client for the batch endpoint under url ("http://h:p" gets
 * "/v1/batch"; a URL with a path is taken as is). Returns 0 or a negative
 * tw_err code with a message. The caller owns *out (http_client_free).
 */
int http_client_new(const struct http_client_opts *opts, const char *url,
                    struct http_client **out);
void http_client_free(struct http_client *c);

/* The write key the next posts authenticate with (copied). */
void http_client_set_key(struct http_client *c, const char *key);

/*
 * Posts a JSON body, retrying as the header says. Returns the last HTTP
 * status, or 0 when every attempt failed on the network.
 */
long http_client_post(struct http_client *c, const char *body, size_t len);

void http_client_stats(const struct http_client *c,
                       struct http_client_stats *out);

/*
 * A /v1/batch body being built. Events go in one at a time until it
 * holds max_events, or one more would take it past max_bytes; posting
 * empties it and counts its events as taken or not.
 */
struct http_batch {
    struct tw_buf body;
    size_t events; /* in the body now */
    size_t max_events;
    size_t max_bytes;
    bool sent_at;       /* open each body with a sentAt of that time */
    uint64_t taken;     /* events in batches answered 200 */
    uint64_t not_taken; /* events in batches answered otherwise */
};

/*
 * ceiling bounds the body's memory; it must hold max_bytes plus the
 * largest event, the most a batch of one event over max_bytes reaches.
 */
void http_batch_init(struct http_batch *b, size_t max_events, size_t max_bytes,
                     size_t ceiling, bool sent_at);
void http_batch_free(struct http_batch *b);

/* Whether an event of len more bytes has to go in the next batch. */
bool http_batch_full(const struct http_batch *b, size_t len);

/*
 * Makes room for one more event: opens the body, or puts the comma after
 * the one before. The caller appends the event's JSON to the result.
 */
struct tw_buf *http_batch_add(struct http_batch *b);

/*
 * Posts the batch, when it holds anything, and empties it. An answer
 * other than 200 is said on stderr: "trackway CMD: a batch of N events
 * WHOSE was not taken: ", then "no answer from URL" or the status and
 * the start of the answer; whose is "" or, say, " of source 'web'".
 * Returns the status as http_client_post does, 200 for an empty batch,
 * or -1 when the body could not be built (out of memory).
 */
long http_client_post_batch(struct http_client *c, struct http_batch *b,
                            const char *whose);

#endif
