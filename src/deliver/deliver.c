/*
 * deliver.c - one destination's delivery loop (deliver.h).
 *
 * One thread per destination does everything but the sending: it reads,
 * routes and batches per partition, hands batches to the sink, and turns
 * each outcome the sink reports (on the sink's thread, through a flag and
 * a condition variable) into a cursor commit, a retry or a dead letter.
 * The mutex guards the partitions' in-flight state and the outcomes; the
 * thread holds it except while it waits.
 */
#include "deliver/deliver.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/ratelimit.h"
#include "json/json_write.h"
#include "obs/logging.h"

/* How often an idle destination looks for new events. */
#define DELIVER_POLL_MS 20
#define DELIVER_EVENT_MAX (16u << 20)

struct deliver_part {
    uint32_t id;
    bool replay;        /* a part of a replay, not of live delivery */
    bool dead_letters;  /* reads the dead-letter log: events come wrapped */
    struct log *log;    /* what it reads, and where its cursor is */
    const char *cursor; /* the cursor it commits: the destination's own */
    uint64_t limit;     /* reads no record at or past this offset */
    struct log_reader *reader;
    uint64_t committed; /* the cursor: first offset not yet delivered */
    bool broken;        /* reading failed; retried after a pause */
    int64_t broken_until_ms;

    /* The batch being built, or out at the sink. */
    struct sink_event *events;
    size_t count;
    size_t capacity;
    struct tw_buf data; /* the events' bytes, back to back */
    uint64_t batch_end; /* offset after the last record read into it */
    int64_t first_read_ms;
    bool in_flight;
    bool prepared; /* events[] point into data: nothing more is added */
    unsigned attempt;
    int64_t retry_at_ms; /* 0: no retry waiting */
    char key[LOG_CURSOR_NAME_MAX + 64];

    struct deliver_marks marks; /* when its commits were made */

    /* Set by the sink's completion, taken by the thread. */
    bool done;
    struct sink_result result;
    struct deliver_dest *dest;
};

struct deliver_dest {
    struct deliver_options o;
    char name[LOG_CURSOR_NAME_MAX + 1];
    char cursor[LOG_CURSOR_NAME_MAX + 1];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    bool paused;
    struct deliver_part *parts;
    uint32_t part_count;

    /* A replay: a second set of parts between a start and an end, on a
     * cursor of its own, paced by a token bucket. */
    struct deliver_part *replay_parts;
    char replay_cursor[LOG_CURSOR_NAME_MAX + 1];
    bool replay_active;
    bool replay_cancel;
    deliver_route_fn replay_where;
    void *replay_where_ctx;
    struct ratelimit replay_pace; /* rate 0: as fast as the sink takes */
    struct tw_json_parser *parser;
    struct tw_buf shaped;
    uint32_t failures_in_a_row;
    int64_t breaker_until_ms; /* 0: closed */
    bool probing;
    uint64_t rng;
    int64_t last_tick_ms;
    struct deliver_stats st;
};

void deliver_options_init(struct deliver_options *o)
{
    memset(o, 0, sizeof(*o));
    o->batch_max_events = 500;
    o->batch_max_bytes = 1u << 20;
    o->batch_max_wait_ms = 200;
    o->max_attempts = 10;
    o->backoff_min_ms = 100;
    o->backoff_max_ms = 30000;
    o->breaker_failures = 5;
    o->breaker_open_ms = 10000;
}

void deliver_cursor_name(const char *dest, char *out, size_t size)
{
    snprintf(out, size, "dest.%s", dest);
}

void deliver_replay_cursor_name(const char *dest, char *out, size_t size)
{
    snprintf(out, size, "replay.%s", dest);
}

/* ------------------------------------------------------------ reading -- */

static int commit(struct deliver_dest *d, struct deliver_part *p,
                  uint64_t delivered_to);

/*
 * Retention removed offsets before start that p had not read: only a
 * destination that does not hold the log (backlog: skip), or a replay
 * reaching back past retention, gets here. p goes on from start; what
 * it lost is counted and logged.
 */
static void skip_removed(struct deliver_dest *d, struct deliver_part *p,
                         uint64_t start)
{
    uint64_t from = p->batch_end;

    if (from >= start) {
        return;
    }
    if (p->replay) {
        OBS_LOG(OBS_WARN, "deliver",
                "the replay starts later: retention removed the oldest "
                "events it asked for",
                "dest=%s partition=%u from=%" PRIu64 " to=%" PRIu64, d->name,
                p->id, from, start - 1);
    } else {
        d->st.events_lost += start - from;
        OBS_LOG(OBS_WARN, "deliver",
                "retention removed events before this destination read "
                "them; they are lost to it",
                "dest=%s partition=%u from=%" PRIu64 " to=%" PRIu64
                " events=%" PRIu64 " backlog=%s",
                d->name, p->id, from, start - 1, start - from,
                d->o.backlog_skip ? "skip" : "block");
    }
    p->batch_end = start;
}

static int part_open_reader(struct deliver_dest *d, struct deliver_part *p)
{
    struct log_partition_info info;
    int rc = log_partition_info(p->log, p->id, &info);

    if (rc != 0) {
        return rc;
    }
    if (p->batch_end < info.start_offset) {
        skip_removed(d, p, info.start_offset);
        if (p->count == 0) {
            (void)commit(d, p, p->committed); /* lost, not delivered */
        }
    }
    if (p->batch_end > info.end_offset) {
        p->batch_end = info.end_offset;
        p->committed =
            p->committed < p->batch_end ? p->committed : p->batch_end;
    }
    /* The reader stops where the batch in hand ends: open it there. */
    return log_reader_open(p->log, p->id, p->batch_end, &p->reader);
}

static struct sink_event *batch_add(struct deliver_part *p)
{
    if (p->count == p->capacity) {
        size_t cap = p->capacity == 0 ? 64 : p->capacity * 2;
        struct sink_event *grown = realloc(p->events, cap * sizeof(*grown));
        if (grown == NULL) {
            return NULL;
        }
        p->events = grown;
        p->capacity = cap;
    }
    memset(&p->events[p->count], 0, sizeof(*p->events));
    return &p->events[p->count++];
}

/*
 * A dead letter back into the batch: its event was routed and shaped when
 * it first failed, so it goes as it is; the record's key is its
 * messageId. False when memory ran out.
 */
static bool take_dead_letter(struct deliver_dest *d, struct deliver_part *p,
                             const struct log_record *rec)
{
    struct tw_json root;
    struct tw_json event;
    struct sink_event *e;

    if (tw_json_parse(d->parser, rec->value, rec->value_len, &root) != 0 ||
        tw_json_type(root) != TW_JSON_OBJECT ||
        !tw_json_get(root, "event", &event)) {
        d->st.events_skipped++;
        return true;
    }
    e = batch_add(p);
    if (e == NULL) {
        return false;
    }
    e->offset = rec->offset;
    e->partition = 0;
    e->timestamp_ms = rec->timestamp_ms;
    e->message_id = (const char *)(uintptr_t)p->data.len;
    tw_jw_value(&p->data, event);
    e->data_len = p->data.len - (size_t)(uintptr_t)e->message_id;
    e->id_len = rec->key_len;
    tw_buf_append(&p->data, rec->key, rec->key_len);
    return p->data.status == 0;
}

/* Routes one record into the batch; false when memory ran out. */
static bool take_record(struct deliver_dest *d, struct deliver_part *p,
                        const struct log_record *rec)
{
    const char *key = rec->key;
    const char *slash = memchr(key, '/', rec->key_len);
    const char *text = rec->value;
    size_t len = rec->value_len;
    struct deliver_event event = {
        .source = key,
        .source_len = slash != NULL ? (size_t)(slash - key) : 0,
        .record = rec,
        .parser = d->parser,
    };
    bool where = p->replay && d->replay_where != NULL;
    struct sink_event *e;

    tw_buf_reset(&d->shaped);
    if ((where &&
         d->replay_where(d->replay_where_ctx, &event, &d->shaped) == 0) ||
        (d->o.route != NULL &&
         d->o.route(d->o.route_ctx, &event, &d->shaped) == 0)) {
        d->st.events_skipped++;
        return true;
    }
    if (d->shaped.len > 0) {
        text = d->shaped.data;
        len = d->shaped.len;
    }
    e = batch_add(p);
    if (e == NULL) {
        return false;
    }
    /* Pointers are set when the batch is sent: data may still move. */
    e->data_len = len;
    e->partition = p->id;
    e->offset = rec->offset;
    e->timestamp_ms = rec->timestamp_ms;
    e->id_len = slash != NULL ? rec->key_len - (size_t)(slash + 1 - key) : 0;
    e->message_id = (const char *)(uintptr_t)p->data.len;
    tw_buf_append(&p->data, text, len);
    tw_buf_append(&p->data, slash != NULL ? slash + 1 : "", e->id_len);
    return p->data.status == 0;
}

bool deliver_event_json(struct deliver_event *e, struct tw_json *out)
{
    if (e->parsed == 0) {
        e->parsed = tw_json_parse(e->parser, e->record->value,
                                  e->record->value_len, &e->json) == 0
                        ? 1
                        : -1;
    }
    *out = e->json;
    return e->parsed == 1;
}

/* Reads what is there into p's batch, up to the batch limits. */
static void fill_batch(struct deliver_dest *d, struct deliver_part *p,
                       int64_t now)
{
    struct log_record rec;
    uint32_t read = 0;
    int rc = 0;

    uint32_t max = d->o.batch_max_events;

    if (p->reader == NULL && part_open_reader(d, p) != 0) {
        goto broken;
    }
    if (p->replay) {
        uint32_t tokens =
            ratelimit_available(&d->replay_pace, tw_monotonic_ns());
        max = tokens < max ? tokens : max;
    }
    while (p->count < max && p->data.len < d->o.batch_max_bytes &&
           log_reader_position(p->reader) < p->limit &&
           (rc = log_reader_next(p->reader, &rec)) == 1) {
        read++;
        if (p->count == 0) {
            p->first_read_ms = now;
        }
        if (!(p->dead_letters ? take_dead_letter(d, p, &rec)
                              : take_record(d, p, &rec))) {
            rc = TW_ENOMEM;
            break;
        }
        p->batch_end = rec.offset + 1;
    }
    /* Every record read counts against the pace, the ones --where
     * leaves out too: reading is what the rate bounds. */
    if (p->replay && read > 0) {
        ratelimit_spend(&d->replay_pace, read);
    }
    if (rc == TW_ERANGE) {
        /* Retention removed the reader's place: start again past it. */
        log_reader_close(p->reader);
        p->reader = NULL;
        return;
    }
    if (rc >= 0) {
        return;
    }
broken:
    OBS_LOG(OBS_ERROR, "deliver", "cannot read the events log; retrying in 1s",
            "dest=%s partition=%u offset=%" PRIu64 " error=\"%s\"", d->name,
            p->id, p->batch_end, tw_err_message());
    p->broken = true;
    p->broken_until_ms = now + 1000;
}

/* ------------------------------------------------------------ sending -- */

static void sent_cb(void *ctx, const struct sink_result *result)
{
    struct deliver_part *p = ctx;
    struct deliver_dest *d = p->dest;

    pthread_mutex_lock(&d->lock);
    p->result = *result;
    p->done = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
}

static void send_batch(struct deliver_dest *d, struct deliver_part *p)
{
    struct sink_batch batch;
    int rc;

    if (!p->prepared) {
        /* Offsets were kept in the pointers until the bytes stopped
         * moving; now they can be pointers. */
        for (size_t i = 0; i < p->count; i++) {
            size_t at = (size_t)(uintptr_t)p->events[i].message_id;
            p->events[i].message_id = p->data.data + at + p->events[i].data_len;
            p->events[i].data = p->data.data + at;
        }
        snprintf(p->key, sizeof(p->key), "%s-%u-%" PRIu64 "-%" PRIu64, d->name,
                 p->id, p->committed, p->batch_end);
        p->prepared = true;
    }
    p->attempt++;
    batch = (struct sink_batch){p->events, p->count, p->key, p->attempt};
    p->in_flight = true;
    p->retry_at_ms = 0;
    rc = sink_send(d->o.sink, &batch, sent_cb, p);
    if (rc != 0) {
        /* Not taken (too many in flight): the same attempt later. */
        p->in_flight = false;
        p->attempt--;
        p->retry_at_ms = tw_now_ms() + DELIVER_POLL_MS;
    }
}

/* ----------------------------------------------------------- outcomes -- */

static void batch_reset(struct deliver_part *p)
{
    p->count = 0;
    p->prepared = false;
    p->attempt = 0;
    p->retry_at_ms = 0;
    tw_buf_reset(&p->data);
}

/*
 * Moves the cursor to batch_end; the events [committed, delivered_to)
 * were delivered (delivered_to is committed when none were).
 */
static int commit(struct deliver_dest *d, struct deliver_part *p,
                  uint64_t delivered_to)
{
    struct log_partition_info info;
    int rc = log_cursor_commit(p->log, p->cursor, p->id, p->batch_end);

    /* Retention passed the batch while it was out: what was after it is
     * gone too. */
    if (rc == TW_ERANGE && log_partition_info(p->log, p->id, &info) == 0 &&
        p->batch_end < info.start_offset) {
        skip_removed(d, p, info.start_offset);
        /* The reader is still where the batch ended, before what was
         * removed: reopened, it starts past it, and nothing is lost
         * twice. */
        log_reader_close(p->reader);
        p->reader = NULL;
        rc = log_cursor_commit(p->log, p->cursor, p->id, p->batch_end);
    }
    if (rc != 0) {
        OBS_LOG(OBS_ERROR, "deliver",
                "cannot commit the cursor; the batch will be delivered again",
                "dest=%s partition=%u error=\"%s\"", d->name, p->id,
                tw_err_message());
        return rc;
    }
    if (!p->replay) { /* trace reads the live parts' marks only */
        deliver_marks_add(&p->marks, p->committed, delivered_to, tw_now_ms());
    }
    p->committed = p->batch_end;
    return 0;
}

/* Writes each event of the batch to the dead-letter log, with why. */
static int dead_letter(struct deliver_dest *d, struct deliver_part *p,
                       const char *reason)
{
    struct log_record *recs = calloc(p->count + 1, sizeof(*recs));
    struct tw_buf out;
    size_t *ends = calloc(p->count + 1, sizeof(*ends));
    int rc;

    tw_buf_init(&out, p->data.len * 2 + p->count * 1024 + 4096);
    for (size_t i = 0; recs != NULL && ends != NULL && i < p->count; i++) {
        const struct sink_event *e = &p->events[i];

        tw_buf_puts(&out, "{\"destination\":");
        tw_jw_cstring(&out, d->name);
        tw_buf_puts(&out, ",\"reason\":");
        tw_jw_cstring(&out, reason);
        tw_buf_printf(&out,
                      ",\"attempts\":%u,\"status\":%d,\"partition\":%u,"
                      "\"offset\":%" PRIu64 ",\"error\":",
                      p->attempt, p->result.status, e->partition, e->offset);
        tw_jw_cstring(&out, p->result.detail);
        tw_buf_puts(&out, ",\"event\":");
        tw_buf_append(&out, e->data, e->data_len);
        tw_buf_putc(&out, '}');
        ends[i] = out.len;
    }
    rc = recs == NULL || ends == NULL ? TW_ENOMEM : tw_buf_status(&out);
    for (size_t i = 0; rc == 0 && i < p->count; i++) {
        size_t start = i == 0 ? 0 : ends[i - 1];
        recs[i] = (struct log_record){
            .timestamp_ms = tw_now_ms(),
            .key = p->events[i].message_id,
            .key_len = (uint32_t)p->events[i].id_len,
            .value = out.data + start,
            .value_len = (uint32_t)(ends[i] - start),
        };
    }
    if (rc == 0 && p->count > 0) {
        rc = log_append_wait(d->o.dlq, 0, recs, p->count, NULL);
    }
    tw_buf_free(&out);
    free(recs);
    free(ends);
    return rc;
}

static void breaker_failure(struct deliver_dest *d, int64_t now)
{
    d->failures_in_a_row++;
    if (d->probing || d->failures_in_a_row >= d->o.breaker_failures) {
        if (d->breaker_until_ms == 0 || d->probing) {
            d->st.breaker_opened++;
            OBS_LOG(OBS_WARN, "deliver",
                    "circuit breaker open: the destination keeps failing",
                    "dest=%s failures=%u open_ms=%lld", d->name,
                    d->failures_in_a_row, (long long)d->o.breaker_open_ms);
        }
        d->breaker_until_ms = now + d->o.breaker_open_ms;
        d->probing = false;
    }
}

static void breaker_success(struct deliver_dest *d)
{
    if (d->breaker_until_ms != 0) {
        OBS_LOG(OBS_INFO, "deliver", "circuit breaker closed", "dest=%s",
                d->name);
    }
    d->failures_in_a_row = 0;
    d->breaker_until_ms = 0;
    d->probing = false;
}

/* Full jitter: a random wait up to min(max, min * 2^attempt). */
static int64_t backoff_ms(struct deliver_dest *d, unsigned attempt)
{
    int64_t ceiling = d->o.backoff_min_ms;

    for (unsigned i = 1; i < attempt && ceiling < d->o.backoff_max_ms; i++) {
        ceiling *= 2;
    }
    if (ceiling > d->o.backoff_max_ms) {
        ceiling = d->o.backoff_max_ms;
    }
    d->rng = d->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (int64_t)((d->rng >> 33) % (uint64_t)(ceiling + 1));
}

static void settle_dead(struct deliver_dest *d, struct deliver_part *p,
                        const char *reason, int64_t now)
{
    if (dead_letter(d, p, reason) != 0) {
        OBS_LOG(OBS_ERROR, "deliver",
                "cannot write the dead-letter log; keeping the batch",
                "dest=%s partition=%u error=\"%s\"", d->name, p->id,
                tw_err_message());
        p->retry_at_ms = now + 1000;
        return;
    }
    OBS_LOG(OBS_WARN, "deliver", "batch sent to the dead-letter log",
            "dest=%s partition=%u events=%zu reason=%s status=%d "
            "error=\"%.200s\"",
            d->name, p->id, p->count, reason, p->result.status,
            p->result.detail);
    d->st.batches_dead++;
    d->st.events_dead += p->count;
    if (commit(d, p, p->batch_end) == 0) {
        batch_reset(p);
    }
}

static void settle(struct deliver_dest *d, struct deliver_part *p, int64_t now)
{
    const struct sink_result *r = &p->result;

    p->done = false;
    p->in_flight = false;
    if (r->outcome == SINK_OK) {
        breaker_success(d);
        d->st.batches_ok++;
        d->st.events_delivered += p->count;
        d->st.events_replayed += p->replay ? p->count : 0;
        if (commit(d, p, p->batch_end) == 0) {
            batch_reset(p);
        } else {
            p->retry_at_ms = now + 1000;
        }
        return;
    }
    if (r->outcome == SINK_REJECTED) {
        settle_dead(d, p, "rejected", now);
        return;
    }
    breaker_failure(d, now);
    if (p->attempt >= d->o.max_attempts) {
        settle_dead(d, p, "attempts_exhausted", now);
        return;
    }
    d->st.batches_retried++;
    int64_t wait = backoff_ms(d, p->attempt);
    if (r->retry_after_ms > wait) {
        wait = r->retry_after_ms;
    }
    p->retry_at_ms = now + wait;
}

/* ---------------------------------------------------------- the loop -- */

/* Whether the breaker lets a batch go now; a half-open breaker lets one
 * probe go. */
static bool breaker_allows(struct deliver_dest *d, int64_t now)
{
    if (d->breaker_until_ms == 0) {
        return true;
    }
    if (now < d->breaker_until_ms || d->probing) {
        return false;
    }
    d->probing = true;
    return true;
}

/* Does what partition p can do now; returns when to look again (ms). */
static int64_t step(struct deliver_dest *d, struct deliver_part *p, int64_t now)
{
    bool full;

    if (p->done) {
        settle(d, p, now);
    }
    if (p->in_flight || d->stopping) {
        return DELIVER_POLL_MS;
    }
    if (p->broken) {
        if (now < p->broken_until_ms) {
            return p->broken_until_ms - now;
        }
        p->broken = false;
    }
    if (p->retry_at_ms != 0) {
        if (now < p->retry_at_ms) {
            return p->retry_at_ms - now;
        }
        if (!d->paused && breaker_allows(d, now)) {
            send_batch(d, p);
        }
        return DELIVER_POLL_MS;
    }
    if (!p->prepared) {
        fill_batch(d, p, now);
    }
    if (p->count == 0) {
        if (p->batch_end > p->committed) {
            (void)commit(d, p, p->batch_end); /* all skipped */
        }
        return DELIVER_POLL_MS;
    }
    /* A replay's last batch waits for nothing: no more will come. */
    full = p->count >= d->o.batch_max_events ||
           p->data.len >= d->o.batch_max_bytes ||
           (p->replay && p->reader != NULL &&
            log_reader_position(p->reader) >= p->limit);
    if (!full && now - p->first_read_ms < d->o.batch_max_wait_ms) {
        return p->first_read_ms + d->o.batch_max_wait_ms - now;
    }
    if (!d->paused && breaker_allows(d, now)) {
        send_batch(d, p);
    }
    return DELIVER_POLL_MS;
}

static bool any_done(const struct deliver_dest *d)
{
    for (uint32_t i = 0; i < d->part_count; i++) {
        if (d->parts[i].done || d->replay_parts[i].done) {
            return true;
        }
    }
    return false;
}

static bool any_in_flight(const struct deliver_dest *d)
{
    for (uint32_t i = 0; i < d->part_count; i++) {
        if (d->parts[i].in_flight || d->parts[i].done ||
            d->replay_parts[i].in_flight || d->replay_parts[i].done) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------ replay -- */

static void part_reset(struct deliver_part *p)
{
    if (p->reader != NULL) {
        log_reader_close(p->reader);
        p->reader = NULL;
    }
    p->count = 0;
    p->prepared = false;
    p->attempt = 0;
    p->retry_at_ms = 0;
    p->broken = false;
    tw_buf_reset(&p->data);
}

static void replay_finish(struct deliver_dest *d, const char *how)
{
    for (uint32_t i = 0; i < d->part_count; i++) {
        part_reset(&d->replay_parts[i]);
    }
    if (log_cursor_delete(d->replay_parts[0].log, d->replay_cursor) != 0) {
        tw_err_clear();
    }
    d->replay_active = false;
    d->replay_cancel = false;
    d->st.replays_done++;
    OBS_LOG(OBS_INFO, "deliver", how, "dest=%s", d->name);
}

/* Steps every replay part; ends the replay when all reached their end. */
static int64_t replay_step(struct deliver_dest *d, int64_t now)
{
    int64_t next = DELIVER_POLL_MS;
    bool busy = false;
    bool done = true;

    for (uint32_t i = 0; i < d->part_count; i++) {
        struct deliver_part *p = &d->replay_parts[i];

        if (d->replay_cancel) {
            if (p->done) {
                p->done = false;
                p->in_flight = false;
            }
            busy = busy || p->in_flight;
            continue;
        }
        int64_t at = step(d, p, now);
        next = at < next ? at : next;
        done = done && p->committed >= p->limit && !p->in_flight;
    }
    if (d->replay_cancel && !busy) {
        replay_finish(d, "replay cancelled; the destination's own place is "
                         "unchanged");
    } else if (!d->replay_cancel && done) {
        replay_finish(d, "replay finished");
    }
    return next;
}

int deliver_dest_replay(struct deliver_dest *d,
                        const struct deliver_replay *spec)
{
    int rc = 0;

    pthread_mutex_lock(&d->lock);
    if (d->replay_active) {
        pthread_mutex_unlock(&d->lock);
        return tw_err_set(TW_EBUSY, "destination %s is replaying already",
                          d->name);
    }
    for (uint32_t i = 0; i < d->part_count && rc == 0; i++) {
        struct deliver_part *p = &d->replay_parts[i];
        uint64_t resume;

        part_reset(p);
        /* The dead-letter log has one partition: the others stay idle. */
        p->dead_letters = spec->dead_letters;
        p->log = spec->dead_letters ? d->o.dlq : d->o.events;
        p->id = spec->dead_letters ? 0 : i;
        p->limit = spec->dead_letters && i > 0 ? 0 : spec->to[i];
        p->committed = spec->dead_letters && i > 0 ? 0 : spec->from[i];
        /* A replay cut short by a restart carries on where it was. */
        if (log_cursor_get(p->log, d->replay_cursor, p->id, &resume) == 0 &&
            resume > p->committed && resume <= p->limit) {
            p->committed = resume;
        }
        p->batch_end = p->committed;
        if (p->committed < p->limit) {
            rc = log_cursor_commit(p->log, d->replay_cursor, p->id,
                                   p->committed);
        }
    }
    if (rc == 0) {
        d->replay_where = spec->where;
        d->replay_where_ctx = spec->where_ctx;
        ratelimit_reset(&d->replay_pace, spec->events_per_s,
                        spec->events_per_s);
        d->replay_active = true;
        d->replay_cancel = false;
        OBS_LOG(OBS_INFO, "deliver", "replay started", "dest=%s rate=%g",
                d->name, spec->events_per_s);
        pthread_cond_signal(&d->wake);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void deliver_dest_replay_cancel(struct deliver_dest *d)
{
    pthread_mutex_lock(&d->lock);
    if (d->replay_active) {
        d->replay_cancel = true;
        pthread_cond_signal(&d->wake);
    }
    pthread_mutex_unlock(&d->lock);
}

static void wait_ms(struct deliver_dest *d, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&d->wake, &d->lock, &ts);
}

static void *deliver_main(void *arg)
{
    struct deliver_dest *d = arg;

    pthread_mutex_lock(&d->lock);
    while (!d->stopping || any_in_flight(d)) {
        int64_t now = tw_now_ms();
        int64_t next = DELIVER_POLL_MS;

        for (uint32_t i = 0; i < d->part_count; i++) {
            int64_t at = step(d, &d->parts[i], now);
            next = at < next ? at : next;
        }
        if (d->replay_active) {
            int64_t at = replay_step(d, now);
            next = at < next ? at : next;
        }
        if (d->breaker_until_ms > now && d->breaker_until_ms - now < next) {
            next = d->breaker_until_ms - now;
        }
        if (now - d->last_tick_ms >= 1000) {
            d->last_tick_ms = now;
            sink_tick(d->o.sink);
            if (d->o.tick != NULL) {
                d->o.tick(d->o.tick_ctx, d);
            }
        }
        /* A sink that completes inside send() signalled before this
         * thread waited: waiting now would sleep out the whole timeout
         * with the next batch ready. */
        if (!any_done(d)) {
            wait_ms(d, next < 1 ? 1 : next);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* ------------------------------------------------------ start and stop -- */

static int parts_init(struct deliver_dest *d)
{
    d->part_count = log_partitions(d->o.events);
    d->parts = calloc(d->part_count, sizeof(*d->parts));
    d->replay_parts = calloc(d->part_count, sizeof(*d->replay_parts));
    if (d->parts == NULL || d->replay_parts == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory for destination %s",
                          d->name);
    }
    for (uint32_t i = 0; i < d->part_count; i++) {
        struct deliver_part *p = &d->parts[i];
        struct log_partition_info info;
        int rc;

        struct deliver_part *r = &d->replay_parts[i];

        p->id = i;
        p->dest = d;
        p->cursor = d->cursor;
        p->log = d->o.events;
        p->limit = UINT64_MAX;
        tw_buf_init(&p->data, d->o.batch_max_bytes + DELIVER_EVENT_MAX);
        r->id = i;
        r->dest = d;
        r->replay = true;
        r->log = d->o.events;
        r->cursor = d->replay_cursor;
        tw_buf_init(&r->data, d->o.batch_max_bytes + DELIVER_EVENT_MAX);
        rc = log_cursor_get(d->o.events, d->cursor, i, &p->committed);
        if (rc == TW_ENOENT) {
            /* A new destination: its place is stored at once, so that
             * it holds the log from the start (backlog: block). */
            rc = log_partition_info(d->o.events, i, &info);
            p->committed =
                d->o.start_at_end ? info.end_offset : info.start_offset;
            if (rc == 0) {
                rc = log_cursor_commit(d->o.events, d->cursor, i, p->committed);
            }
        }
        if (rc != 0) {
            return rc;
        }
        p->batch_end = p->committed;
        if (i < d->o.previous_marks_count) {
            p->marks = d->o.previous_marks[i];
            deliver_marks_keep_valid(&p->marks, p->committed);
        }
    }
    return log_cursor_hold(d->o.events, d->cursor, !d->o.backlog_skip);
}

static void part_free(struct deliver_part *p)
{
    if (p->reader != NULL) {
        log_reader_close(p->reader);
    }
    free(p->events);
    tw_buf_free(&p->data);
}

static void dest_free(struct deliver_dest *d)
{
    for (uint32_t i = 0; d->parts != NULL && i < d->part_count; i++) {
        part_free(&d->parts[i]);
    }
    for (uint32_t i = 0; d->replay_parts != NULL && i < d->part_count; i++) {
        part_free(&d->replay_parts[i]);
    }
    free(d->parts);
    free(d->replay_parts);
    tw_json_parser_free(d->parser);
    tw_buf_free(&d->shaped);
    pthread_cond_destroy(&d->wake);
    ratelimit_destroy(&d->replay_pace);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

int deliver_dest_start(const struct deliver_options *opts,
                       struct deliver_dest **out)
{
    struct deliver_dest *d = calloc(1, sizeof(*d));
    int rc;

    if (d == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory for a destination");
    }
    d->o = *opts;
    snprintf(d->name, sizeof(d->name), "%s", opts->name);
    deliver_cursor_name(opts->name, d->cursor, sizeof(d->cursor));
    deliver_replay_cursor_name(opts->name, d->replay_cursor,
                               sizeof(d->replay_cursor));
    d->o.name = d->name;
    d->paused = opts->start_paused;
    d->rng = (uint64_t)tw_monotonic_ns() | 1;
    /* Recursive: a sink may complete a batch inside send(), on this
     * thread, while the loop holds the lock. */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&d->lock, &attr);
    ratelimit_init(&d->replay_pace, 0, 0);
    pthread_mutexattr_destroy(&attr);
    pthread_cond_init(&d->wake, NULL);
    tw_buf_init(&d->shaped, DELIVER_EVENT_MAX);
    if (!log_cursor_name_valid(d->cursor)) {
        dest_free(d);
        return tw_err_set(TW_EINVAL, "destination name '%s' is not usable",
                          opts->name);
    }
    rc = tw_json_parser_new(DELIVER_EVENT_MAX, 0, &d->parser);
    if (rc == 0) {
        rc = parts_init(d);
    }
    if (rc == 0 && pthread_create(&d->thread, NULL, deliver_main, d) != 0) {
        rc = tw_err_set(TW_ENOMEM, "cannot start destination %s", d->name);
    }
    if (rc != 0) {
        dest_free(d);
        return rc;
    }
    pthread_setname_np(d->thread, "tw-deliver");
    OBS_LOG(OBS_INFO, "deliver", "destination started",
            "dest=%s sink=%s partitions=%u backlog=%s", d->name,
            d->o.sink->ops->type, d->part_count,
            d->o.backlog_skip ? "skip" : "block");
    *out = d;
    return 0;
}

void deliver_dest_stop(struct deliver_dest *d)
{
    if (d == NULL) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    dest_free(d);
}

void deliver_dest_pause(struct deliver_dest *d, bool paused)
{
    pthread_mutex_lock(&d->lock);
    d->paused = paused;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    OBS_LOG(OBS_INFO, "deliver",
            paused ? "destination paused" : "destination resumed", "dest=%s",
            d->name);
}

void deliver_dest_status(struct deliver_dest *d,
                         struct deliver_part_status *out)
{
    pthread_mutex_lock(&d->lock);
    for (uint32_t i = 0; i < d->part_count; i++) {
        const struct deliver_part *p = &d->parts[i];
        struct deliver_part_status *s = &out[i];
        bool failed = p->attempt > 0 && !p->in_flight && p->retry_at_ms != 0;

        memset(s, 0, sizeof(*s));
        s->committed = p->committed;
        s->batch_from = p->committed;
        s->batch_to = p->count > 0 ? p->batch_end : p->committed;
        s->in_flight = p->in_flight;
        s->attempt = p->attempt;
        s->retry_at_ms = failed ? p->retry_at_ms : 0;
        if (failed) {
            s->last_status = p->result.status;
            snprintf(s->last_error, sizeof(s->last_error), "%s",
                     p->result.detail);
        }
        s->marks = p->marks;
    }
    pthread_mutex_unlock(&d->lock);
}

void deliver_dest_stats(struct deliver_dest *d, struct deliver_stats *st)
{
    struct log_partition_info info;

    pthread_mutex_lock(&d->lock);
    *st = d->st;
    st->paused = d->paused;
    st->breaker_open = d->breaker_until_ms != 0;
    st->lag = 0;
    st->replay_active = d->replay_active;
    st->replay_remaining = 0;
    for (uint32_t i = 0; d->replay_active && i < d->part_count; i++) {
        const struct deliver_part *r = &d->replay_parts[i];
        st->replay_remaining +=
            r->limit > r->committed ? r->limit - r->committed : 0;
    }
    for (uint32_t i = 0; i < d->part_count; i++) {
        if (log_partition_info(d->o.events, i, &info) == 0 &&
            info.end_offset > d->parts[i].committed) {
            st->lag += info.end_offset - d->parts[i].committed;
        }
    }
    pthread_mutex_unlock(&d->lock);
}
