/*
 * test_deliver_marks.c - the history of delivery times behind `trackway
 * trace`: recent commits keep their exact time, a full history joins old
 * ones into windows that stay narrow against their age, every delivered
 * offset stays covered, and a history from an earlier run keeps only what
 * fits the cursor.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "deliver/marks.h"

#define T0 1764806400000LL

/* n commits of ten offsets each, step_ms apart, the first at T0. */
static void commit_steadily(struct deliver_marks *m, unsigned n,
                            int64_t step_ms)
{
    for (unsigned i = 0; i < n; i++) {
        deliver_marks_add(m, 10ull * i, 10ull * i + 10, T0 + step_ms * i);
    }
}

Test(deliver_marks, each_commit_is_exact_until_the_history_is_full)
{
    struct deliver_marks m = {0};
    int64_t first;
    int64_t last;
    bool before;

    commit_steadily(&m, 10, 1000);
    cr_assert_eq(m.count, 10);
    for (unsigned i = 0; i < 10; i++) {
        cr_assert(deliver_marks_when(&m, 10ull * i + 3, &first, &last, &before),
                  "offset %u has no time", 10 * i + 3);
        cr_assert_not(before);
        cr_assert_eq(first, T0 + 1000 * i);
        cr_assert_eq(last, first);
    }
    cr_assert_not(deliver_marks_when(&m, 100, &first, &last, &before),
                  "not delivered yet");
    cr_assert_not(before);
}

Test(deliver_marks, an_offset_older_than_every_mark_is_before_the_first)
{
    struct deliver_marks m = {0};
    int64_t first;
    int64_t last;
    bool before = false;

    deliver_marks_add(&m, 500, 520, T0);
    cr_assert_not(deliver_marks_when(&m, 499, &first, &last, &before));
    cr_assert(before);
    deliver_marks_add(&m, 520, 520, T0 + 5); /* nothing delivered: no mark */
    cr_assert_eq(m.count, 1);
}

Test(deliver_marks, an_offset_between_two_marks_was_delivered_between_them)
{
    struct deliver_marks m = {0};
    int64_t first = 0;
    int64_t last = 0;
    bool before;

    /* The marks of [20, 50) died with the process before a restart. */
    deliver_marks_add(&m, 0, 20, T0);
    deliver_marks_add(&m, 50, 60, T0 + 3000);
    cr_assert(deliver_marks_when(&m, 30, &first, &last, &before));
    cr_assert_eq(first, T0);
    cr_assert_eq(last, T0 + 3000);
}

Test(deliver_marks, a_full_history_keeps_every_offset_and_recent_times_exact)
{
    struct deliver_marks m = {0};
    const unsigned n = 100000;
    int64_t now = T0 + 10 * (int64_t)(n - 1);

    commit_steadily(&m, n, 10);
    cr_assert_eq(m.count, DELIVER_MARKS);
    cr_assert_eq(m.mark[0].from, 0, "the oldest offsets lost their mark");
    cr_assert_eq(m.mark[0].first_ms, T0);
    cr_assert_eq(m.mark[m.count - 1].to, 10ull * n);
    cr_assert_eq(m.mark[m.count - 1].first_ms, now, "the newest is exact");
    cr_assert_eq(m.mark[m.count - 1].last_ms, now);
    for (unsigned i = 1; i < m.count; i++) {
        const struct deliver_mark *a = &m.mark[i - 1];
        const struct deliver_mark *b = &m.mark[i];
        int64_t age = now - b->last_ms;

        cr_assert_eq(b->from, a->to, "a gap between marks %u and %u", i - 1, i);
        cr_assert_gt(b->first_ms, a->last_ms);
        /* Over 16 minutes of commits 10 ms apart, no window is wider
         * than half its age: older means coarser, never vague. */
        cr_assert_leq(2 * (b->last_ms - b->first_ms), age > 0 ? age : 0,
                      "mark %u spans %lld ms at an age of %lld ms", i,
                      (long long)(b->last_ms - b->first_ms), (long long)age);
    }
}

Test(deliver_marks, a_clock_that_steps_back_keeps_the_times_in_order)
{
    struct deliver_marks m = {0};

    deliver_marks_add(&m, 0, 10, T0 + 5000);
    deliver_marks_add(&m, 10, 20, T0);
    cr_assert_eq(m.count, 2);
    cr_assert_geq(m.mark[1].first_ms, m.mark[0].last_ms);
}

Test(deliver_marks, an_earlier_runs_history_keeps_only_what_fits_the_cursor)
{
    struct deliver_marks m = {0};

    m.mark[0] = (struct deliver_mark){0, 10, T0, T0};
    m.mark[1] = (struct deliver_mark){10, 10, T0 + 1, T0 + 1}; /* empty */
    m.mark[2] = (struct deliver_mark){5, 15, T0 + 2, T0 + 2};  /* overlaps */
    m.mark[3] = (struct deliver_mark){10, 20, T0 + 9, T0 + 3}; /* backwards */
    m.mark[4] = (struct deliver_mark){10, 30, T0 + 4, T0 + 6};
    m.mark[5] = (struct deliver_mark){30, 40, T0 + 7, T0 + 7}; /* too far */
    m.count = 6;

    deliver_marks_keep_valid(&m, 30);
    cr_assert_eq(m.count, 2);
    cr_assert_eq(m.mark[0].to, 10);
    cr_assert_eq(m.mark[1].from, 10);
    cr_assert_eq(m.mark[1].to, 30);

    deliver_marks_keep_valid(&m, 5); /* a log replaced since */
    cr_assert_eq(m.count, 0);
}
