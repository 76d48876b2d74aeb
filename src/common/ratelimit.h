/*
 * ratelimit.h - token buckets: a source's event rate at the collector,
 * a replay's pace at a destination.
 *
 * A bucket refills at rate tokens a second up to burst. The collector
 * takes one token per event of a request and refuses the whole request
 * (429) when they are not there, telling how long until it would fit,
 * for Retry-After; a replay asks how many are there and spends them.
 */
#ifndef TW_COMMON_RATELIMIT_H
#define TW_COMMON_RATELIMIT_H

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

/* Changes the rate and the burst, and fills the bucket. */
void ratelimit_reset(struct ratelimit *rl, double rate, double burst);

/* The whole tokens there at now_ns (UINT32_MAX without a limit). */
uint32_t ratelimit_available(struct ratelimit *rl, uint64_t now_ns);
/* Spends count tokens (may leave the bucket in debt). */
void ratelimit_spend(struct ratelimit *rl, double count);

#endif
