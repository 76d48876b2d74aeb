/* ratelimit.c - token buckets (ratelimit.h). */
#include "collect/ratelimit.h"

#include <math.h>

void ratelimit_init(struct ratelimit *rl, double rate, double burst)
{
    pthread_mutex_init(&rl->lock, NULL);
    rl->rate = rate;
    rl->burst = burst > 0 ? burst : rate;
    rl->tokens = rl->burst;
    rl->last_ns = 0;
}

void ratelimit_destroy(struct ratelimit *rl)
{
    pthread_mutex_destroy(&rl->lock);
}

bool ratelimit_take(struct ratelimit *rl, double count, uint64_t now_ns,
                    int64_t *retry_after_s)
{
    bool ok;

    if (rl->rate <= 0) {
        return true;
    }
    pthread_mutex_lock(&rl->lock);
    if (rl->last_ns != 0 && now_ns > rl->last_ns) {
        rl->tokens += (double)(now_ns - rl->last_ns) * 1e-9 * rl->rate;
        if (rl->tokens > rl->burst) {
            rl->tokens = rl->burst;
        }
    }
    rl->last_ns = now_ns;
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
