/*
 * marks.h - when a partition's events were delivered: a bounded history
 * of a destination's cursor commits, for `trackway trace`.
 *
 * Each mark says that the events [from, to) of the partition were
 * delivered by commits made between first_ms and last_ms. A new commit
 * adds an exact mark (first_ms == last_ms). When the history is full, the
 * two neighbouring marks whose joined time span is smallest against
 * their age are joined, so recent deliveries keep their exact times and
 * older ones are known within a window that widens with age: with 64
 * marks, a day of steady commits keeps windows of about a quarter of
 * their age, and under half. The history outlives a restart through the
 * destination's status file (cli/dest_status.h).
 */
#ifndef TW_DELIVER_MARKS_H
#define TW_DELIVER_MARKS_H

#include <stdbool.h>
#include <stdint.h>

#define DELIVER_MARKS 64

struct deliver_mark {
    uint64_t from; /* the first offset delivered */
    uint64_t to;   /* the offset after the last */
    int64_t first_ms;
    int64_t last_ms;
};

/* Oldest first; offsets and times only grow along the array. */
struct deliver_marks {
    struct deliver_mark mark[DELIVER_MARKS];
    unsigned count;
};

/* The commit at now_ms that delivered [from, to); ignored when empty. */
void deliver_marks_add(struct deliver_marks *m, uint64_t from, uint64_t to,
                       int64_t now_ms);

/*
 * Keeps of a history left by an earlier run only what fits a cursor now
 * at committed: marks in order, ending at or before it. A log that was
 * replaced since leaves nothing that claims offsets it never delivered.
 */
void deliver_marks_keep_valid(struct deliver_marks *m, uint64_t committed);

/*
 * When offset was delivered: true with the window [*first_ms, *last_ms]
 * (equal for an exact time) when a mark holds it, or when it lies
 * between two marks (a crash lost the marks of the last second before a
 * restart: it was delivered after the one and before the other). False
 * otherwise, with *before set when offset is older than every mark.
 */
bool deliver_marks_when(const struct deliver_marks *m, uint64_t offset,
                        int64_t *first_ms, int64_t *last_ms, bool *before);

#endif
