/*
 * test_ratelimit.c - token buckets (common/ratelimit.h): a burst goes
 * through at once and then the rate holds, a request beyond the burst
 * passes on a full bucket and leaves it in debt, Retry-After says when a
 * refused request would fit, and a replay's pace is what it spends.
 */
#include <criterion/criterion.h>

#include <stdint.h>

#include "common/ratelimit.h"

#define SECOND 1000000000ull

Test(ratelimit, a_burst_passes_then_the_rate_holds)
{
    struct ratelimit rl;
    int64_t retry = 0;

    ratelimit_init(&rl, 10, 20);
    cr_assert(ratelimit_take(&rl, 20, 1 * SECOND, &retry));
    cr_assert_not(ratelimit_take(&rl, 5, 1 * SECOND, &retry));
    cr_assert_eq(retry, 1, "5 tokens at 10/s: within a second");
    cr_assert(ratelimit_take(&rl, 5, 1 * SECOND + SECOND / 2, &retry));
    ratelimit_destroy(&rl);
}

Test(ratelimit, a_request_beyond_the_burst_passes_on_a_full_bucket_in_debt)
{
    struct ratelimit rl;
    int64_t retry = 0;

    ratelimit_init(&rl, 10, 10);
    cr_assert(ratelimit_take(&rl, 50, SECOND, &retry));
    cr_assert_not(ratelimit_take(&rl, 1, 2 * SECOND, &retry));
    /* -40 after the take, -30 a second later: 31 tokens to go at 10/s. */
    cr_assert_eq(retry, 4);
    ratelimit_destroy(&rl);
}

Test(ratelimit, no_rate_is_no_limit)
{
    struct ratelimit rl;
    int64_t retry = 0;

    ratelimit_init(&rl, 0, 0);
    cr_assert(ratelimit_take(&rl, 1e9, SECOND, &retry));
    cr_assert_eq(ratelimit_available(&rl, SECOND), UINT32_MAX);
    ratelimit_destroy(&rl);
}

Test(ratelimit, available_tokens_refill_at_the_rate_and_spending_takes_them)
{
    struct ratelimit rl;

    ratelimit_init(&rl, 0, 0);
    ratelimit_reset(&rl, 100, 100);
    cr_assert_eq(ratelimit_available(&rl, SECOND), 100);
    ratelimit_spend(&rl, 100);
    cr_assert_eq(ratelimit_available(&rl, SECOND), 0);
    cr_assert_eq(ratelimit_available(&rl, SECOND + SECOND / 4), 25);
    cr_assert_eq(ratelimit_available(&rl, 10 * SECOND), 100, "up to burst");
    ratelimit_destroy(&rl);
}
