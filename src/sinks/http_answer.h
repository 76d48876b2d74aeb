/*
 * http_answer.h - what a webhook's answer means for the batch it carried:
 * the outcome of a status under the configured retryable set, the delay
 * a Retry-After header asks for, and the printable excerpt of the answer
 * body that goes into sink_result.detail (and from there into logs and
 * the dead-letter log).
 *
 * These are pure functions of their arguments, apart from libcurl's date
 * parser, so they are tested and fuzzed on their own, without sockets.
 */
#ifndef TW_SINKS_HTTP_ANSWER_H
#define TW_SINKS_HTTP_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sinks/sink.h"

/* A Retry-After further away than this is taken as this: one day. */
#define SINK_HTTP_RETRY_AFTER_MAX_MS (24 * 3600 * 1000LL)

/* The statuses that may be in the retryable set: 400 ... 599. */
#define SINK_HTTP_RETRYABLE_MIN 400
#define SINK_HTTP_RETRYABLE_MAX 599

/* A set of HTTP statuses, one bit each for 400 ... 599. */
struct sink_http_statuses {
    uint64_t bits[(SINK_HTTP_RETRYABLE_MAX - SINK_HTTP_RETRYABLE_MIN) / 64 + 1];
};

/* Adds status to set; false (set unchanged) when it is outside 400..599. */
bool sink_http_statuses_add(struct sink_http_statuses *set, int status);

bool sink_http_statuses_has(const struct sink_http_statuses *set, int status);

/*
 * The outcome of a whole HTTP answer: 2xx is SINK_OK, a status in
 * retryable is SINK_RETRY, anything else (1xx as a final answer, 3xx,
 * other 4xx and 5xx, codes outside 100..599) is SINK_REJECTED.
 */
enum sink_outcome sink_http_outcome(int status,
                                    const struct sink_http_statuses *retryable);

/*
 * The delay a Retry-After value asks for, in milliseconds from now_ms
 * (wall clock, ms since the epoch): either form of RFC 9110 section
 * 10.2.3, delay-seconds ("120") or an HTTP-date (any of the three date
 * formats; a date in the past is 0). Surrounding blanks are ignored. The
 * result is capped at SINK_HTTP_RETRY_AFTER_MAX_MS; -1 when value is
 * NULL or neither form.
 */
int64_t sink_http_retry_after_ms(const char *value, int64_t now_ms);

/*
 * Writes the first bytes of an answer body into dst (cap bytes, always
 * NUL-terminated when cap > 0) as one line of valid UTF-8: control
 * characters become spaces, bytes that are not UTF-8 become '?', and a
 * character that does not fit whole is left out. Returns the length
 * written. The excerpt stops early when dst is full; *cut (if not NULL)
 * says whether any of src was left out.
 */
size_t sink_http_excerpt(char *dst, size_t cap, const char *src, size_t len,
                         bool *cut);

#endif
