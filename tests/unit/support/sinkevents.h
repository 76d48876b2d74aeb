/*
 * sinkevents.h - test events whose every byte follows from their name, so
 * a test can tell a line a sink wrote from garbage without keeping a copy.
 *
 * A batch is named by (producer, seq); event idx of it is the JSON text
 *
 *   {"messageId":"p<producer>-s<seq>-e<idx>","n":<count>,"pad":"<letters>"}
 *
 * where the count of events (1..40) and the letters (1..1000 of them)
 * come from a seeded generator (support/records.h). sinkevents_check
 * parses the id of a line and regenerates the rest: a line that does not
 * regenerate byte for byte is garbage, or a torn line.
 *
 * Static inline because the crash child links only the core library.
 */
#ifndef TW_TEST_SINKEVENTS_H
#define TW_TEST_SINKEVENTS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sinks/sink.h"
/* Beside this file: the crash child is built without tests/unit on its
 * include path. */
#include "records.h"

#define SINKEVENTS_MAX_COUNT 40u
#define SINKEVENTS_MAX_PAD 1000u
#define SINKEVENTS_TEXT_MAX (SINKEVENTS_MAX_PAD + 128u)
#define SINKEVENTS_ID_MAX 72u

struct sinkevents_id {
    uint64_t producer;
    uint64_t seq;
    uint32_t idx;
};

/* One batch with the storage its events point into (about 46 KiB). */
struct sinkevents_batch {
    struct sink_batch batch;
    struct sink_event events[SINKEVENTS_MAX_COUNT];
    char ids[SINKEVENTS_MAX_COUNT][SINKEVENTS_ID_MAX];
    char texts[SINKEVENTS_MAX_COUNT][SINKEVENTS_TEXT_MAX];
    char key[SINKEVENTS_ID_MAX];
};

static inline uint32_t sinkevents_count(uint64_t producer, uint64_t seq)
{
    return tw_test_rec_spread(tw_test_rec_seed(producer, seq, 0, 21),
                              SINKEVENTS_MAX_COUNT);
}

/* Writes event idx of batch (producer, seq) at out; returns its length. */
static inline size_t sinkevents_text(char *out, uint64_t producer, uint64_t seq,
                                     uint32_t idx)
{
    uint64_t r = tw_test_rec_seed(producer, seq, idx, 22);
    uint32_t pad = tw_test_rec_spread(r, SINKEVENTS_MAX_PAD);
    int len = snprintf(out, SINKEVENTS_TEXT_MAX,
                       "{\"messageId\":\"p%" PRIu64 "-s%" PRIu64 "-e%" PRIu32
                       "\",\"n\":%" PRIu32 ",\"pad\":\"",
                       producer, seq, idx, sinkevents_count(producer, seq));

    for (uint32_t i = 0; i < pad; i++) {
        r = tw_test_rec_mix(r + i);
        out[len++] = (char)('a' + r % 26);
    }
    out[len++] = '"';
    out[len++] = '}';
    out[len] = '\0';
    return (size_t)len;
}

/* Fills b with batch (producer, seq), attempt 1. */
static inline void sinkevents_build(struct sinkevents_batch *b,
                                    uint64_t producer, uint64_t seq)
{
    uint32_t count = sinkevents_count(producer, seq);

    for (uint32_t i = 0; i < count; i++) {
        struct sink_event *e = &b->events[i];

        e->data = b->texts[i];
        e->data_len = sinkevents_text(b->texts[i], producer, seq, i);
        e->id_len = (size_t)snprintf(b->ids[i], SINKEVENTS_ID_MAX,
                                     "p%" PRIu64 "-s%" PRIu64 "-e%" PRIu32,
                                     producer, seq, i);
        e->message_id = b->ids[i];
        e->partition = 0;
        e->offset = seq * SINKEVENTS_MAX_COUNT + i;
        e->timestamp_ms = TW_TEST_REC_EPOCH_MS + (int64_t)seq;
    }
    snprintf(b->key, sizeof(b->key), "p%" PRIu64 "-s%" PRIu64, producer, seq);
    b->batch = (struct sink_batch){
        .events = b->events,
        .count = count,
        .idempotency_key = b->key,
        .attempt = 1,
    };
}

/* Reads a decimal number without leading zeros; advances *p. */
static inline bool sinkevents_number(const char **p, const char *end,
                                     uint64_t *value)
{
    const char *s = *p;
    uint64_t v = 0;

    if (s >= end || *s < '0' || *s > '9' ||
        (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9')) {
        return false;
    }
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    *p = s;
    *value = v;
    return true;
}

/*
 * true when line (len bytes, no newline) is an event this file makes,
 * byte for byte; sets *id. Otherwise false with the reason in why.
 */
static inline bool sinkevents_check(const char *line, size_t len,
                                    struct sinkevents_id *id, char *why,
                                    size_t why_size)
{
    static const char head[] = "{\"messageId\":\"p";
    const char *end = line + len;
    const char *p = line + sizeof(head) - 1;
    char expect[SINKEVENTS_TEXT_MAX];
    uint64_t idx;
    size_t want;

    if (len < sizeof(head) || memcmp(line, head, sizeof(head) - 1) != 0 ||
        !sinkevents_number(&p, end, &id->producer) || p >= end || *p++ != '-' ||
        p >= end || *p++ != 's' || !sinkevents_number(&p, end, &id->seq) ||
        p >= end || *p++ != '-' || p >= end || *p++ != 'e' ||
        !sinkevents_number(&p, end, &idx) ||
        idx >= sinkevents_count(id->producer, id->seq)) {
        snprintf(why, why_size, "not an event id: \"%.60s\"", line);
        return false;
    }
    id->idx = (uint32_t)idx;
    want = sinkevents_text(expect, id->producer, id->seq, id->idx);
    if (want != len || memcmp(expect, line, len) != 0) {
        snprintf(why, why_size,
                 "p%" PRIu64 "-s%" PRIu64 "-e%" PRIu32
                 " is %zu bytes, not the %zu it should be, or differs",
                 id->producer, id->seq, id->idx, len, want);
        return false;
    }
    return true;
}

#endif
