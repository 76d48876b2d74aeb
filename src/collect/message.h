/*
 * message.h - one Segment message: checked, enriched, written out.
 *
 * Checking applies the Segment HTTP API's rules: a known type, userId or
 * anonymousId, event for track, groupId for group, previousId and userId
 * for alias, a messageId (when sent) that is a string under 100 bytes,
 * timestamps that parse. A message that breaks them is malformed; the
 * collector keeps it in the failed-events log with the reason.
 *
 * Enriching writes the message as stored in the log:
 *
 *   - every member the client sent, but writeKey (a credential);
 *   - batch-level context and integrations merged underneath the
 *     message's own (the message wins member by member);
 *   - messageId, assigned when the client sent none;
 *   - receivedAt, the server's clock when the request arrived;
 *   - originalTimestamp, the client's own time (its originalTimestamp,
 *     else its timestamp), when it sent one;
 *   - timestamp, corrected for the client's clock skew as
 *     receivedAt - (sentAt - originalTimestamp) when both are known,
 *     else the client's time, else receivedAt;
 *   - context.ip, the client's address, unless the client set one;
 *   - context.trackway: the source, and the plan and plan version that
 *     judged it, plus the violations when the plan policy is annotate.
 */
#ifndef TW_COLLECT_MESSAGE_H
#define TW_COLLECT_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/plan.h"
#include "common/buf.h"
#include "json/json.h"

/* Longest messageId accepted: under 100 characters, as Segment says, and
 * so at most 4 bytes each in UTF-8. */
#define MSG_ID_MAX_CHARS 99
#define MSG_ID_MAX (MSG_ID_MAX_CHARS * 4)
/* Longest text form of a time written here, with the NUL. */
#define MSG_TIME_MAX 32

/* What the request around a message contributes to it. */
struct msg_envelope {
    const char *source;
    const char *plan_name;    /* NULL when the source has no plan */
    const char *plan_version; /* NULL when the source has no plan */
    int64_t received_ms;
    bool has_sent_at; /* the batch's sentAt */
    int64_t sent_at_ms;
    struct tw_json batch_context; /* an object, when has_batch_context */
    bool has_batch_context;
    struct tw_json batch_integrations;
    bool has_batch_integrations;
    const char *client_ip;    /* NULL when unknown */
    const char *default_type; /* the endpoint's type, for /v1/track etc. */
};

/* The fields the collector needs, as found by msg_check. */
struct msg_fields {
    char type[16];
    const char *user_id; /* the partition key: userId, else anonymousId */
    size_t user_id_len;
    char user_id_text[32]; /* a numeric id, written out */
    char message_id[MSG_ID_MAX + 1];
    size_t message_id_len;
    bool message_id_assigned;
    bool has_original; /* the client's own time */
    int64_t original_ms;
    bool has_sent_at; /* the message's sentAt, else the batch's */
    int64_t sent_at_ms;
};

/*
 * Checks a message against the API rules and fills *f. Returns 0, or
 * TW_EINVAL with why (a person's sentence, why_size bytes at most).
 */
TW_MUST_CHECK int msg_check(const struct msg_envelope *env,
                            struct tw_json message, struct msg_fields *f,
                            char *why, size_t why_size);

/*
 * Appends the enriched message to out (see the top of this file).
 * verdict may be NULL; with violations it is written as annotations.
 */
void msg_write(const struct msg_envelope *env, struct tw_json message,
               const struct msg_fields *f, const struct plan_verdict *annotate,
               struct tw_buf *out);

/* ,"plan":...,"planVersion":... for the envelope's plan. */
void msg_write_plan(const struct msg_envelope *env, struct tw_buf *out);
/* ,"violations":[{pointer, keyword, message}...] and, when more were
 * found than kept, ,"violationCount":N. */
void msg_write_violations(const struct plan_verdict *verdict,
                          struct tw_buf *out);

/* The corrected event time msg_write stores as timestamp. */
int64_t msg_event_time(const struct msg_envelope *env,
                       const struct msg_fields *f);

/* Whether len bytes of text make a usable messageId: 1 to 99 characters
 * (UTF-8 code points), no NUL. The text is known to be valid UTF-8. */
bool msg_id_valid(const char *text, size_t len);

/* Writes a random version 4 UUID (36 characters and a NUL). */
void msg_new_id(char out[37]);

#endif
