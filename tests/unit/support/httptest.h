/*
 * httptest.h - a small HTTP/1.1 client for the HTTP server's tests: raw
 * sockets on loopback, requests written byte for byte as the test wants
 * them (chunked, oversized, pipelined, malformed), responses parsed by
 * Content-Length, and bounded waits on the socket instead of sleeps.
 *
 * Functions that assert must run on the test's own thread, except
 * httptest_conn_* reads, which report failure by return value so client
 * threads can use them.
 */
#ifndef TW_TEST_HTTPTEST_H
#define TW_TEST_HTTPTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long any wait in these tests may take before the test fails. */
#define HTTPTEST_AWAIT_MS 10000

/* A client connection with what it has read but not yet consumed. */
struct httptest_conn {
    int fd;
    char *buf;
    size_t len;
    size_t cap;
};

#define HTTPTEST_MAX_HEADERS 32

struct httptest_response {
    int status;
    size_t header_count;
    char *names[HTTPTEST_MAX_HEADERS];
    char *values[HTTPTEST_MAX_HEADERS];
    char *body; /* NUL-terminated copy; body_len bytes before the NUL */
    size_t body_len;
};

/* Connects to host:port (numeric) or fails the test. */
void httptest_connect(struct httptest_conn *c, const char *host, uint16_t port);

/* Connects without failing; false when connect() itself failed. */
bool httptest_try_connect(struct httptest_conn *c, const char *host,
                          uint16_t port);

void httptest_close(struct httptest_conn *c);

/* Writes all of data; false when the peer is gone. */
bool httptest_send(struct httptest_conn *c, const void *data, size_t len);

/* Writes a formatted request text (at most 64 KiB) or fails the test. */
void httptest_sendf(struct httptest_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Reads one whole response (headers and a Content-Length body) within
 * timeout_ms. false on timeout, on the peer closing first, or on a
 * response that does not parse; *r is then empty.
 */
bool httptest_read_response(struct httptest_conn *c,
                            struct httptest_response *r, int timeout_ms);

/* Like httptest_read_response, failing the test when none arrives. */
void httptest_expect_response(struct httptest_conn *c,
                              struct httptest_response *r);

/* A response header's value (name matched ignoring case), or NULL. */
const char *httptest_header(const struct httptest_response *r,
                            const char *name);

void httptest_response_free(struct httptest_response *r);

/*
 * Waits up to timeout_ms for the peer to close or reset the connection,
 * discarding whatever it sends first. Returns whether it did.
 */
bool httptest_await_closed(struct httptest_conn *c, int timeout_ms);

/*
 * true when nothing at all arrives within ms: a bounded look for
 * something that must not happen (an answer before it was given).
 */
bool httptest_quiet_for(struct httptest_conn *c, int ms);

/* Polls cond(ctx) every millisecond until it holds or timeout_ms passed. */
bool httptest_eventually(bool (*cond)(void *ctx), void *ctx, int timeout_ms);

/* Milliseconds on the monotonic clock. */
int64_t httptest_mono_ms(void);

#endif
