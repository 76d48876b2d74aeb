/*
 * hookrecv.h - a webhook receiver for the HTTP sink's tests: a real
 * HTTP/1.1 server on a free loopback port (raw sockets, one thread) that
 * records every request it reads (method, target, headers, body, and on
 * which connection it came) and answers each the way the test scripted:
 * any status with any extra headers (Retry-After...) and body, after a
 * delay, held until the test releases it, or not at all, closing the
 * connection instead.
 *
 * It counts connections accepted and requests in progress (read whole,
 * not yet answered), with the peak, so a concurrency limit or connection
 * reuse is measured where it matters: at the destination. Every wait is
 * a bounded wait on a condition, never a sleep.
 *
 * Requests are read by Content-Length (what libcurl sends for a POST of
 * a known size); a chunked request closes its connection unrecorded.
 * Functions that take the test's assertions must run on the test thread.
 */
#ifndef TW_TEST_HOOKRECV_H
#define TW_TEST_HOOKRECV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOOKRECV_MAX_HEADERS 48
#define HOOKRECV_MAX_REQUESTS 2048

enum hookrecv_action {
    HOOKRECV_ANSWER = 0, /* answer delay_ms after the request was read */
    HOOKRECV_HOLD = 1,   /* keep it until hookrecv_release (or stop) */
    HOOKRECV_CLOSE = 2,  /* close the connection without an answer */
};

/* How to answer one request. Strings are copied. */
struct hookrecv_reply {
    enum hookrecv_action action;
    int status;          /* 0: 200 */
    const char *headers; /* extra header lines, each ending in "\r\n" */
    const char *body;    /* NULL: empty */
    int delay_ms;
};

/* One request as it arrived; owned by the receiver, valid until stop. */
struct hookrecv_request {
    char method[16];
    char target[256];
    size_t header_count;
    char *names[HOOKRECV_MAX_HEADERS];
    char *values[HOOKRECV_MAX_HEADERS];
    char *body; /* body_len bytes, then a NUL */
    size_t body_len;
    unsigned connection; /* 1 for the first connection accepted, ... */
};

struct hookrecv_counts {
    unsigned connections; /* accepted since start */
    unsigned requests;    /* read whole since start */
    unsigned in_progress; /* read, neither answered nor closed */
    unsigned peak_in_progress;
    unsigned held; /* of in_progress, held for hookrecv_release */
};

struct hookrecv;

/* Starts a receiver on 127.0.0.1, port 0, or fails the test. Until told
 * otherwise it answers every request 200 with "{}". */
struct hookrecv *hookrecv_start(void);

/* Closes every connection (held requests get no answer) and frees. */
void hookrecv_stop(struct hookrecv *rx);

uint16_t hookrecv_port(const struct hookrecv *rx);

/* "http://127.0.0.1:<port><path>" into buf. */
void hookrecv_url(const struct hookrecv *rx, const char *path, char *buf,
                  size_t cap);

/* The answer for requests nothing was pushed for. */
void hookrecv_set_default(struct hookrecv *rx,
                          const struct hookrecv_reply *reply);

/* The answer for the next request that arrives (first pushed, first used). */
void hookrecv_push(struct hookrecv *rx, const struct hookrecv_reply *reply);

/* Wait until at least n requests were read / n are held; false on timeout. */
bool hookrecv_await_requests(struct hookrecv *rx, unsigned n, int timeout_ms);
bool hookrecv_await_held(struct hookrecv *rx, unsigned n, int timeout_ms);

/* Answers up to n held requests, oldest first, as their reply said;
 * returns how many were released. */
unsigned hookrecv_release(struct hookrecv *rx, unsigned n);

/* The i-th request read (0 first), or fails the test. */
const struct hookrecv_request *hookrecv_request(struct hookrecv *rx,
                                                unsigned i);

/* A request header's value (name matched ignoring case), or NULL. */
const char *hookrecv_header(const struct hookrecv_request *req,
                            const char *name);

void hookrecv_counts(struct hookrecv *rx, struct hookrecv_counts *out);

#endif
