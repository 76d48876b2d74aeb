/* ratelimit.c - token buckets (ratelimit.h). */
#include "common/ratelimit.h"

#include <math.h>

/* A full bucket of the given size; the caller owns the lock. */
static void fill(struct ratelimit *rl, double rate, double burst)
{
    rl->rate = rate;
    rl->burst = burst > 0 ? burst : rate;
    rl->tokens = rl->burst;
    rl->last_ns = 0;
}

void ratelimit_init(struct ratelimit *rl, double rate, double burst)
{
    pthread_mutex_init(&rl->lock, NULL);
    fill(rl, rate, burst);
}

void ratelimit_destroy(struct ratelimit *rl)
{
    pthread_mutex_destroy(&rl->lock);
}

/* Adds what accrued since the last call; the lock is held. */
static void refill(struct ratelimit *rl, uint64_t now_ns)
{
    if (rl->last_ns != 0 && now_ns > rl->last_ns) {
        rl->tokens += (double)(now_ns - rl->last_ns) * 1e-9 * rl->rate;
        if (rl->tokens > rl->burst) {
            rl->tokens = rl->burst;
        }
    }
    rl->last_ns = now_ns;
}

bool ratelimit_take(struct ratelimit *rl, double count, uint64_t now_ns,
                    int64_t *retry_after_s)
{
    bool ok;

    if (rl->rate <= 0) {
        return true;
    }
    pthread_mutex_lock(&rl->lock);
    refill(rl, now_ns);
    /* A request larger than the burst would never fit, and its SDK
     * would retry it forever: it goes through on a full bucket and leaves
     * the bucket in debt instead. */
    double need = count > rl->burst ? rl->burst : count;
    ok = rl->tokens >= need;
    if (ok) {
        rl->tokens -= count;
    } else {
        double wait_s = (need - rl->tokens) / rl->rate;
        *retry_after_s = (int64_t)ceil(wait_s < 1 ? 1 : wait_s);
    }
    pthread_mutex_unlock(&rl->lock);
    return ok;
}

void ratelimit_reset(struct ratelimit *rl, double rate, double burst)
{
    pthread_mutex_lock(&rl->lock);
    fill(rl, rate, burst);
    pthread_mutex_unlock(&rl->lock);
}

uint32_t ratelimit_available(struct ratelimit *rl, uint64_t now_ns)
{
    double tokens;

    if (rl->rate <= 0) {
        return UINT32_MAX;
    }
    pthread_mutex_lock(&rl->lock);
    refill(rl, now_ns);
    tokens = rl->tokens;
    pthread_mutex_unlock(&rl->lock);
    return tokens <= 0            ? 0
           : tokens >= UINT32_MAX ? UINT32_MAX
                                  : (uint32_t)tokens;
}

void ratelimit_spend(struct ratelimit *rl, double count)
{
    if (rl->rate <= 0) {
        return;
    }
    pthread_mutex_lock(&rl->lock);
    rl->tokens -= count;
    pthread_mutex_unlock(&rl->lock);
}
