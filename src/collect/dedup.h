/*
 * dedup.h - recently seen message ids, in bounded memory.
 *
 * SDKs resend a whole batch after a timeout or a 5xx, so the collector
 * drops an event whose (source, messageId) it accepted within the window
 * (24 hours by default). The set holds 64-bit fingerprints (XXH3 of the
 * source name and the id) in two generations of open-addressed tables:
 *
 *   current   fingerprints accepted since it was started
 *   previous  the generation before; consulted, never added to
 *
 * When current is window old, or holds max_ids fingerprints, previous is
 * dropped and current takes its place. So an id is remembered for at
 * least one window while fewer than max_ids arrive per window, and the
 * memory is fixed: 2 tables of max_ids / 0.5 load, 8 bytes a slot, so 32
 * bytes per id (64 MiB for the default 2 M ids). A generation filled
 * before its time shortens the effective window; that is counted
 * (early_rotations) and logged, and the effective window is a metric.
 *
 * False positives: two different ids share a fingerprint with chance
 * about n / 2^64 per lookup when n ids are held, one in 2 * 10^12 for 8 M
 * ids: an accepted event is wrongly dropped far less often than a disk
 * fails.
 *
 * The set lives in memory; after a restart the collector refills it
 * from the log's keys of the last window (see collector.c).
 *
 * Thread safety: every call takes the set's mutex.
 */
#ifndef TW_COLLECT_DEDUP_H
#define TW_COLLECT_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct dedup;

struct dedup_stats {
    uint64_t ids;             /* fingerprints held, both generations */
    uint64_t capacity;        /* max_ids */
    uint64_t rotations;       /* generations started */
    uint64_t early_rotations; /* ... because the current one was full */
    int64_t window_ms;        /* effective: age of the previous start */
};

/* The caller owns *out and frees it with dedup_free. */
TW_MUST_CHECK int dedup_new(uint64_t max_ids, int64_t window_ms,
                            struct dedup **out);
void dedup_free(struct dedup *set);

/* The fingerprint of a source's message id. */
uint64_t dedup_fingerprint(const char *source, size_t source_len,
                           const char *message_id, size_t id_len);

/*
 * Whether each of count fingerprints was added within the window, into
 * seen[], under one lock and with the memory of later lookups fetched
 * while earlier ones are answered: a batch's lookups miss the cache
 * together instead of one after another. A fingerprint of 0 is not
 * looked up (seen[i] = false).
 */
void dedup_seen_many(struct dedup *set, const uint64_t *fps, size_t count,
                     int64_t now_ms, bool *seen);
/* Marks count fingerprints seen at now_ms. */
void dedup_add(struct dedup *set, const uint64_t *fps, size_t count,
               int64_t now_ms);

void dedup_stats(struct dedup *set, int64_t now_ms, struct dedup_stats *st);

#endif
