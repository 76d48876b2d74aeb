/* dedup.c - the two-generation fingerprint set of dedup.h. */
#include "collect/dedup.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "obs/logging.h"

/* One open-addressed table of fingerprints; 0 marks an empty slot. */
struct dedup_table {
    uint64_t *slots;
    uint64_t mask;
    uint64_t count;
    int64_t started_ms;
};

struct dedup {
    pthread_mutex_t lock;
    uint64_t max_ids;
    int64_t window_ms;
    struct dedup_table tables[2];
    int current; /* index into tables */
    uint64_t rotations;
    uint64_t early_rotations;
    int64_t last_warning_ms;
};

static int table_init(struct dedup_table *t, uint64_t max_ids)
{
    uint64_t slots = 16;

    /* At most half full, so a probe ends after about two slots. */
    while (slots < max_ids * 2) {
        slots *= 2;
    }
    t->slots = calloc(slots, sizeof(*t->slots));
    if (t->slots == NULL) {
        return tw_err_set(TW_ENOMEM,
                          "cannot allocate the dedup set for %llu ids "
                          "(%llu MiB); lower dedup.max_ids",
                          (unsigned long long)max_ids,
                          (unsigned long long)(slots * 8 >> 20));
    }
    t->mask = slots - 1;
    t->count = 0;
    return 0;
}

int dedup_new(uint64_t max_ids, int64_t window_ms, struct dedup **out)
{
    struct dedup *set;
    int rc;

    if (max_ids == 0 || max_ids > (1ull << 32) || window_ms <= 0) {
        return tw_err_set(TW_EINVAL,
                          "dedup needs 1 to 2^32 ids and a positive window");
    }
    set = calloc(1, sizeof(*set));
    if (set == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory for the dedup set");
    }
    set->max_ids = max_ids;
    set->window_ms = window_ms;
    rc = table_init(&set->tables[0], max_ids);
    if (rc == 0) {
        rc = table_init(&set->tables[1], max_ids);
    }
    if (rc != 0) {
        free(set->tables[0].slots);
        free(set);
        return rc;
    }
    pthread_mutex_init(&set->lock, NULL);
    *out = set;
    return 0;
}

void dedup_free(struct dedup *set)
{
    if (set == NULL) {
        return;
    }
    pthread_mutex_destroy(&set->lock);
    free(set->tables[0].slots);
    free(set->tables[1].slots);
    free(set);
}

uint64_t dedup_fingerprint(const char *source, size_t source_len,
                           const char *message_id, size_t id_len)
{
    uint64_t fp = XXH3_64bits_withSeed(message_id, id_len,
                                       XXH3_64bits(source, source_len));

    return fp == 0 ? 1 : fp;
}

static bool table_has(const struct dedup_table *t, uint64_t fp)
{
    for (uint64_t i = fp & t->mask;; i = (i + 1) & t->mask) {
        if (t->slots[i] == fp) {
            return true;
        }
        if (t->slots[i] == 0) {
            return false;
        }
    }
}

static void table_put(struct dedup_table *t, uint64_t fp)
{
    for (uint64_t i = fp & t->mask;; i = (i + 1) & t->mask) {
        if (t->slots[i] == fp) {
            return;
        }
        if (t->slots[i] == 0) {
            t->slots[i] = fp;
            t->count++;
            return;
        }
    }
}

static void rotate(struct dedup *set, int64_t now_ms, bool early)
{
    struct dedup_table *old;

    set->current ^= 1;
    old = &set->tables[set->current];
    memset(old->slots, 0, (old->mask + 1) * sizeof(*old->slots));
    old->count = 0;
    old->started_ms = now_ms;
    set->rotations++;
    if (early) {
        set->early_rotations++;
    }
    /* Under a flood this happens every few seconds: say it once a minute,
     * the counter tells how often. */
    if (early && now_ms - set->last_warning_ms >= 60000) {
        set->last_warning_ms = now_ms;
        OBS_LOG(OBS_WARN, "dedup",
                "dedup set full before its window; duplicates older than "
                "the effective window will be accepted",
                "max_ids=%llu effective_window_ms=%lld",
                (unsigned long long)set->max_ids,
                (long long)(now_ms - set->tables[set->current ^ 1].started_ms));
    }
}

/* Starts a new generation when the current one is old or full. */
static void maybe_rotate(struct dedup *set, int64_t now_ms)
{
    struct dedup_table *cur = &set->tables[set->current];

    if (cur->started_ms == 0) {
        cur->started_ms = now_ms;
    }
    if (now_ms - cur->started_ms >= set->window_ms) {
        rotate(set, now_ms, false);
    } else if (cur->count >= set->max_ids) {
        rotate(set, now_ms, true);
    }
}

/* How many lookups ahead the slots are fetched. */
#define DEDUP_PREFETCH_AHEAD 8

static void prefetch_slots(const struct dedup *set, uint64_t fp)
{
    __builtin_prefetch(&set->tables[0].slots[fp & set->tables[0].mask]);
    __builtin_prefetch(&set->tables[1].slots[fp & set->tables[1].mask]);
}

void dedup_seen_many(struct dedup *set, const uint64_t *fps, size_t count,
                     int64_t now_ms, bool *seen)
{
    pthread_mutex_lock(&set->lock);
    maybe_rotate(set, now_ms);
    for (size_t i = 0; i < count && i < DEDUP_PREFETCH_AHEAD; i++) {
        prefetch_slots(set, fps[i]);
    }
    for (size_t i = 0; i < count; i++) {
        if (i + DEDUP_PREFETCH_AHEAD < count) {
            prefetch_slots(set, fps[i + DEDUP_PREFETCH_AHEAD]);
        }
        seen[i] = fps[i] != 0 && (table_has(&set->tables[0], fps[i]) ||
                                  table_has(&set->tables[1], fps[i]));
    }
    pthread_mutex_unlock(&set->lock);
}

void dedup_add(struct dedup *set, const uint64_t *fps, size_t count,
               int64_t now_ms)
{
    pthread_mutex_lock(&set->lock);
    for (size_t i = 0; i < count; i++) {
        if (i + DEDUP_PREFETCH_AHEAD < count) {
            prefetch_slots(set, fps[i + DEDUP_PREFETCH_AHEAD]);
        }
        maybe_rotate(set, now_ms);
        table_put(&set->tables[set->current], fps[i]);
    }
    pthread_mutex_unlock(&set->lock);
}

void dedup_stats(struct dedup *set, int64_t now_ms, struct dedup_stats *st)
{
    const struct dedup_table *prev;

    pthread_mutex_lock(&set->lock);
    prev = &set->tables[set->current ^ 1];
    st->ids = set->tables[0].count + set->tables[1].count;
    st->capacity = set->max_ids;
    st->rotations = set->rotations;
    st->early_rotations = set->early_rotations;
    /* Until the first rotation, everything since the start is held. */
    if (prev->started_ms != 0) {
        st->window_ms = now_ms - prev->started_ms;
    } else {
        st->window_ms = now_ms - set->tables[set->current].started_ms;
    }
    if (st->window_ms > set->window_ms) {
        st->window_ms = set->window_ms;
    }
    pthread_mutex_unlock(&set->lock);
}
