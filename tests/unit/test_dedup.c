/*
 * test_dedup.c - the dedup set (collect/dedup.h): ids are remembered for
 * at least one window, forgotten after two, a full generation rotates
 * early and says so, and sources do not share ids.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "collect/dedup.h"

/* One lookup, as a request of one message makes it. */
static bool dedup_seen(struct dedup *set, uint64_t fp, int64_t now_ms)
{
    bool seen;

    dedup_seen_many(set, &fp, 1, now_ms, &seen);
    return seen;
}

static uint64_t fp_of(const char *source, const char *id)
{
    return dedup_fingerprint(source, strlen(source), id, strlen(id));
}

Test(dedup, an_added_id_is_seen_and_a_new_one_is_not)
{
    struct dedup *set;
    uint64_t a = fp_of("web", "m1");

    cr_assert_eq(dedup_new(100, 1000, &set), 0);
    cr_assert_not(dedup_seen(set, a, 10));
    dedup_add(set, &a, 1, 10);
    cr_assert(dedup_seen(set, a, 11));
    cr_assert_not(dedup_seen(set, fp_of("web", "m2"), 11));
    dedup_free(set);
}

Test(dedup, the_same_id_from_two_sources_is_two_ids)
{
    cr_assert_neq(fp_of("web", "m1"), fp_of("ios", "m1"));
    cr_assert_neq(fp_of("we", "bm1"), fp_of("web", "m1"));
}

Test(dedup, an_id_is_remembered_for_a_window_and_forgotten_after_two)
{
    struct dedup *set;
    uint64_t a = fp_of("web", "late-in-generation");

    cr_assert_eq(dedup_new(100, 1000, &set), 0);
    cr_assert_not(dedup_seen(set, 1, 1)); /* starts the first generation */
    dedup_add(set, &a, 1, 999);
    cr_assert(dedup_seen(set, a, 1998), "kept one window after it came");
    cr_assert(dedup_seen(set, a, 1999));
    cr_assert_not(dedup_seen(set, a, 3001), "gone two windows later");
    dedup_free(set);
}

Test(dedup, a_full_generation_rotates_early_and_counts_it)
{
    struct dedup *set;
    struct dedup_stats st;
    uint64_t fps[40];

    cr_assert_eq(dedup_new(16, 1000000, &set), 0);
    for (uint64_t i = 0; i < 40; i++) {
        fps[i] = fp_of("web", (char[]){(char)('A' + i), 0});
    }
    dedup_add(set, fps, 40, 5);
    dedup_stats(set, 5, &st);
    cr_assert_geq(st.early_rotations, 1);
    cr_assert_leq(st.ids, 32, "two generations of 16 at most");
    cr_assert(dedup_seen(set, fps[39], 6), "the newest ids are kept");
    cr_assert_not(dedup_seen(set, fps[0], 6), "the oldest are dropped");
    dedup_free(set);
}

Test(dedup, impossible_sizes_are_refused)
{
    struct dedup *set;

    cr_assert_eq(dedup_new(0, 1000, &set), TW_EINVAL);
    cr_assert_eq(dedup_new(10, 0, &set), TW_EINVAL);
}

Test(dedup, a_batch_lookup_answers_each_id_as_a_single_one_would)
{
    struct dedup *set;
    uint64_t fps[100];
    bool seen[100];

    cr_assert_eq(dedup_new(1000, 1000000, &set), 0);
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof(id), "m%d", i);
        fps[i] = fp_of("web", id);
    }
    /* Every third id is known; one fingerprint is 0: never looked up. */
    for (int i = 0; i < 100; i += 3) {
        dedup_add(set, &fps[i], 1, 10);
    }
    fps[51] = 0;
    dedup_seen_many(set, fps, 100, 11, seen);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(seen[i], i != 51 && i % 3 == 0, "id %d", i);
        if (i != 51) {
            cr_assert_eq(seen[i], dedup_seen(set, fps[i], 11), "id %d", i);
        }
    }
    dedup_free(set);
}
