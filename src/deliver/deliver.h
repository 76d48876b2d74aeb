/*
 * deliver.h - the destination runtime: events from the log to one
 * destination's sink, at least once, in order per partition.
 *
 * A destination reads every partition of the events log from its own
 * durable cursor (named "dest.<name>"), passes each event through its
 * route (a filter and a shaping, as one callback), groups what passes
 * into batches per partition, and hands them to its sink. A cursor is
 * committed only past a batch the sink acknowledged (or that went to the
 * dead-letter log), so a restart resumes where delivery was sure, and
 * duplicates come only from the batches in flight when it stopped.
 *
 *   partition p:  cursor -> reader -> route -> batch -> sink -> commit
 *                                                  |
 *                 retry with backoff (full jitter, Retry-After) --+
 *                 attempts exhausted or rejected -> dead-letter log
 *
 * Order. At most one batch per partition is out at a time, and a retried
 * batch is the same batch, so a partition's events reach the sink in
 * offset order, also across retries. Partitions do not wait for each
 * other.
 *
 * Isolation. Each destination has its own thread, cursors and sink; a
 * slow or failing one never blocks ingestion or another destination.
 * Memory is bounded by one batch per partition.
 *
 * Backlog. With backlog_skip false ("block"), the destination's cursor
 * holds retention (log_cursor_hold): nothing it has not delivered is
 * deleted, and once the log's byte budget is used up the log refuses
 * appends, so ingestion answers 503 rather than lose events. With
 * backlog_skip ("skip") retention may remove what the destination has
 * not read yet; it then goes on from the oldest event left, counts the
 * events it lost (events_lost) and logs their offset range.
 *
 * Circuit breaker. After breaker_failures batches in a row fail, the
 * destination stops sending for breaker_open_ms, then sends one batch as
 * a probe: success closes the breaker, failure opens it again.
 */
#ifndef TW_DELIVER_DELIVER_H
#define TW_DELIVER_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "deliver/marks.h"
#include "json/json.h"
#include "log/log.h"
#include "sinks/sink.h"

struct deliver_dest;

/*
 * One stored event as a route sees it. Its source comes from the record
 * key ("<source>/<messageId>"), so a route that only looks at sources
 * costs nothing per event; the JSON is parsed on the first call of
 * deliver_event_json and only then.
 */
struct deliver_event {
    const char *source; /* source_len bytes, not NUL-terminated */
    size_t source_len;
    const struct log_record *record;
    struct tw_json_parser *parser; /* the destination's */
    struct tw_json json;
    int parsed; /* 0: not yet; 1: json is set; -1: not JSON */
};

/* The event parsed; false when its bytes are not JSON. */
bool deliver_event_json(struct deliver_event *event, struct tw_json *out);

/*
 * A destination's route: decides whether an event goes to it and, when
 * it does, may write a shaped copy into out (left empty: the event as
 * stored). Returns 1 to deliver, 0 to skip. Called on the destination's
 * thread only.
 */
typedef int (*deliver_route_fn)(void *ctx, struct deliver_event *event,
                                struct tw_buf *out);

struct deliver_options {
    const char *name;   /* the destination's, [A-Za-z0-9._-] */
    struct log *events; /* read from */
    struct log *dlq;    /* the destination's dead-letter log (1 partition) */
    struct sink *sink;  /* borrowed; outlives the destination */
    deliver_route_fn route; /* NULL: every event, as stored */
    void *route_ctx;
    uint32_t batch_max_events; /* default 500 */
    uint64_t batch_max_bytes;  /* default 1 MiB */
    int64_t batch_max_wait_ms; /* a partial batch waits this long; 200 */
    uint32_t max_attempts;     /* then the dead-letter log; default 10 */
    int64_t backoff_min_ms;    /* default 100 */
    int64_t backoff_max_ms;    /* default 30000 */
    uint32_t breaker_failures; /* default 5 */
    int64_t breaker_open_ms;   /* default 10000 */
    bool start_at_end;         /* a new cursor starts at the end, not the
                                * oldest event */
    bool start_paused;         /* as after deliver_dest_pause(dest, true) */
    bool backlog_skip;         /* lose the oldest rather than hold the log */
    /* Called about once a second on the destination's thread, after the
     * sink's own tick: a way to pause or replay from outside; may be
     * NULL. */
    void (*tick)(void *ctx, struct deliver_dest *dest);
    void *tick_ctx;
    /* The delivery times an earlier run left, per partition (may be
     * NULL; read by deliver_dest_start only), so that trace goes on
     * saying when it delivered what it did. */
    const struct deliver_marks *previous_marks;
    uint32_t previous_marks_count;
};

void deliver_options_init(struct deliver_options *opts);

/* Counters since start; gauges say so. */
struct deliver_stats {
    uint64_t events_delivered; /* replayed ones included */
    uint64_t events_replayed;  /* delivered by a replay */
    uint64_t events_skipped;   /* by the route */
    uint64_t events_dead;      /* sent to the dead-letter log */
    uint64_t events_lost;      /* removed by retention before read (skip) */
    uint64_t batches_ok;
    uint64_t batches_retried;
    uint64_t batches_dead;
    uint64_t breaker_opened;
    bool breaker_open;         /* gauge */
    bool paused;               /* gauge */
    uint64_t lag;              /* gauge: events not yet delivered */
    bool replay_active;        /* gauge */
    uint64_t replay_remaining; /* gauge: offsets the replay has left */
    uint64_t replays_done;     /* finished or cancelled */
};

/*
 * Starts delivering. The caller owns *out and stops it with
 * deliver_dest_stop. Fails when the cursor cannot be read.
 */
TW_MUST_CHECK int deliver_dest_start(const struct deliver_options *opts,
                                     struct deliver_dest **out);

/*
 * Stops: no new batches, waits for those in flight (their outcome is
 * committed as usual), then frees the destination.
 */
void deliver_dest_stop(struct deliver_dest *dest);

/* Pausing keeps the place: resume carries on from the cursors. */
void deliver_dest_pause(struct deliver_dest *dest, bool paused);

void deliver_dest_stats(struct deliver_dest *dest, struct deliver_stats *st);

/*
 * What one partition of a destination is doing: enough for `trackway
 * trace` to say whether an event is delivered (and about when), being
 * sent, waiting for a retry (and why), or still pending.
 */
struct deliver_part_status {
    uint64_t committed;  /* first offset not yet delivered */
    uint64_t batch_from; /* the batch in hand: [batch_from, batch_to) */
    uint64_t batch_to;   /* equal to batch_from: none */
    bool in_flight;
    unsigned attempt;    /* attempts made on the batch in hand */
    int64_t retry_at_ms; /* 0: not waiting for a retry */
    int last_status;     /* of the last failed attempt (HTTP code) or 0 */
    char last_error[200];
    struct deliver_marks marks; /* when events were delivered */
};

/* The live partitions' status; parts holds log_partitions(events). */
void deliver_dest_status(struct deliver_dest *dest,
                         struct deliver_part_status *parts);

/* The cursor name of a destination: "dest.<name>". */
void deliver_cursor_name(const char *dest, char *out, size_t size);

/*
 * A replay re-delivers offsets [from[p], to[p]) of every partition p to
 * the destination, beside its live delivery and through its route, also
 * filtered by where (NULL: every event), at most events_per_s a second
 * (0: as fast as the sink takes them). Its progress is a cursor of its
 * own, "replay.<name>", so a replay cut short by a restart carries on
 * when started again with the same range; when it ends the cursor is
 * deleted. The destination's own cursors are never moved by a replay.
 * Replayed events keep their messageId.
 */
struct deliver_replay {
    /* From the destination's dead-letter log instead: offsets of its one
     * partition in from[0], to[0]; events go as they were dead-lettered. */
    bool dead_letters;
    uint64_t from[LOG_MAX_PARTITIONS];
    uint64_t to[LOG_MAX_PARTITIONS];
    deliver_route_fn where;
    void *where_ctx;
    double events_per_s;
};

/* Starts a replay; TW_EBUSY while one runs. Safe from the tick. */
TW_MUST_CHECK int deliver_dest_replay(struct deliver_dest *dest,
                                      const struct deliver_replay *spec);
/* Stops a replay after its batches in flight; a no-op when none runs. */
void deliver_dest_replay_cancel(struct deliver_dest *dest);
void deliver_replay_cursor_name(const char *dest, char *out, size_t size);

#endif
