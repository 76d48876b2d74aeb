/*
 * ratelimit.h - a token bucket per source.
 *
 * A source may send events_per_s events a second on average and burst
 * events at once. A request takes one token per event it carries; when
 * the bucket holds fewer, the whole request is refused (429) and the
 * caller is told how long until it would fit, for Retry-After.
 */
#ifndef TW_COLLECT_RATELIMIT_H
#define TW_COLLECT_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
    pthread_mutex_t lock;
    double rate;  /* tokens a second; 0: unlimited */
    double burst; /* the most tokens held */
    double tokens;
    uint64_t last_ns;
};

void ratelimit_init(struct ratelimit *rl, double rate, double burst);
void ratelimit_destroy(struct ratelimit *rl);

/*
 * Takes count tokens at now_ns and returns true, or returns false and
 * sets *retry_after_s (at least 1) when they are not there.
 */
bool ratelimit_take(struct ratelimit *rl, double count, uint64_t now_ns,
                    int64_t *retry_after_s);

#endif
