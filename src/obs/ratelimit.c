/* ratelimit.c - one line per interval, the rest counted. */
#include "obs/ratelimit.h"

#include "common/clock.h"

bool obs_ratelimit_allow(struct obs_ratelimit *rl, int64_t interval_ms,
                         uint64_t *suppressed)
{
    int64_t now_ms = (int64_t)(tw_monotonic_ns() / 1000000u);
    int64_t next = atomic_load_explicit(&rl->next_ms, memory_order_relaxed);

    /* Of the threads that see the interval over, only the one that moves
     * next_ms on writes; the others count themselves as suppressed. */
    if (now_ms < next || !atomic_compare_exchange_strong(
                             &rl->next_ms, &next, now_ms + interval_ms)) {
        atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
        return false;
    }
    *suppressed = atomic_exchange(&rl->suppressed, 0);
    return true;
}
