/* marks.c - a bounded history of delivery times (marks.h). */
#include "deliver/marks.h"

#include <string.h>

/* How coarse joining marks i and i + 1 would make them, seen from now. */
static double join_cost(const struct deliver_marks *m, unsigned i,
                        int64_t now_ms)
{
    const struct deliver_mark *a = &m->mark[i];
    const struct deliver_mark *b = &m->mark[i + 1];
    int64_t age = now_ms - b->last_ms;

    return (double)(b->last_ms - a->first_ms) / (double)(age > 1 ? age : 1);
}

/* Joins the neighbours that lose least, freeing the last slot. */
static void join_cheapest(struct deliver_marks *m, int64_t now_ms)
{
    unsigned best = 0;
    double best_cost = join_cost(m, 0, now_ms);

    for (unsigned i = 1; i + 1 < m->count; i++) {
        double cost = join_cost(m, i, now_ms);

        if (cost < best_cost) {
            best = i;
            best_cost = cost;
        }
    }
    m->mark[best].to = m->mark[best + 1].to;
    m->mark[best].last_ms = m->mark[best + 1].last_ms;
    memmove(&m->mark[best + 1], &m->mark[best + 2],
            (m->count - best - 2) * sizeof(m->mark[0]));
    m->count--;
}

void deliver_marks_add(struct deliver_marks *m, uint64_t from, uint64_t to,
                       int64_t now_ms)
{
    struct deliver_mark *last = m->count > 0 ? &m->mark[m->count - 1] : NULL;

    if (to <= from) {
        return;
    }
    /* The wall clock stepped back: keep the times in order. */
    if (last != NULL && now_ms < last->last_ms) {
        now_ms = last->last_ms;
    }
    if (m->count == DELIVER_MARKS) {
        join_cheapest(m, now_ms);
    }
    m->mark[m->count++] = (struct deliver_mark){
        .from = from, .to = to, .first_ms = now_ms, .last_ms = now_ms};
}

void deliver_marks_keep_valid(struct deliver_marks *m, uint64_t committed)
{
    unsigned kept = 0;

    for (unsigned i = 0; i < m->count && i < DELIVER_MARKS; i++) {
        const struct deliver_mark *k = &m->mark[i];
        const struct deliver_mark *prev = kept > 0 ? &m->mark[kept - 1] : NULL;

        if (k->from >= k->to || k->to > committed || k->first_ms > k->last_ms ||
            (prev != NULL &&
             (k->from < prev->to || k->first_ms < prev->last_ms))) {
            continue;
        }
        m->mark[kept++] = *k;
    }
    m->count = kept;
}

bool deliver_marks_when(const struct deliver_marks *m, uint64_t offset,
                        int64_t *first_ms, int64_t *last_ms, bool *before)
{
    *before = m->count > 0 && offset < m->mark[0].from;
    for (unsigned i = 0; i < m->count; i++) {
        const struct deliver_mark *k = &m->mark[i];

        if (k->from <= offset && offset < k->to) {
            *first_ms = k->first_ms;
            *last_ms = k->last_ms;
            return true;
        }
        if (i + 1 < m->count && k->to <= offset &&
            offset < m->mark[i + 1].from) {
            *first_ms = k->last_ms;
            *last_ms = m->mark[i + 1].first_ms;
            return true;
        }
    }
    return false;
}
