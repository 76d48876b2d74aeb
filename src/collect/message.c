/* message.c - Segment message rules and enrichment (message.h). */
#include "collect/message.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/units.h"
#include "json/json_write.h"

static const char *const msg_types[] = {"track",  "identify", "page",
                                        "screen", "group",    "alias"};

/*
 * The longest prefix of text of at most max bytes that ends on a
 * character boundary: quoting a client's text in a reason must not cut a
 * character in two, or the stored record would not be valid UTF-8.
 */
static size_t utf8_prefix(const char *text, size_t len, size_t max)
{
    size_t n = len < max ? len : max;

    while (n > 0 && n < len && ((unsigned char)text[n] & 0xc0) == 0x80) {
        n--;
    }
    return n;
}

static bool known_type(const char *text, size_t len)
{
    for (size_t i = 0; i < sizeof(msg_types) / sizeof(msg_types[0]); i++) {
        if (strlen(msg_types[i]) == len &&
            memcmp(msg_types[i], text, len) == 0) {
            return true;
        }
    }
    return false;
}

/* A member that is a non-empty string, or a number (some SDKs send ids
 * as numbers); false when absent. text_buf holds a number's digits. */
static bool id_member(struct tw_json message, const char *name,
                      const char **text, size_t *len, char *text_buf,
                      size_t text_size)
{
    struct tw_json v;

    if (!tw_json_get(message, name, &v)) {
        return false;
    }
    switch (tw_json_type(v)) {
    case TW_JSON_STRING:
        *text = tw_json_string(v, len);
        return *len > 0;
    case TW_JSON_INT:
        *len =
            (size_t)snprintf(text_buf, text_size, "%" PRId64, tw_json_int(v));
        *text = text_buf;
        return true;
    case TW_JSON_UINT:
        *len =
            (size_t)snprintf(text_buf, text_size, "%" PRIu64, tw_json_uint(v));
        *text = text_buf;
        return true;
    default:
        return false;
    }
}

static bool has_id(struct tw_json message, const char *name)
{
    const char *text;
    size_t len;
    char digits[32];

    return id_member(message, name, &text, &len, digits, sizeof(digits));
}

/* Reads an optional time member. -1 when present but not a time. */
static int time_member(struct tw_json message, const char *name, int64_t *ms)
{
    struct tw_json v;
    const char *text;
    size_t len;

    if (!tw_json_get(message, name, &v) || tw_json_type(v) == TW_JSON_NULL) {
        return 0;
    }
    if (tw_json_type(v) != TW_JSON_STRING) {
        return -1;
    }
    text = tw_json_string(v, &len);
    if (len == 0 || len >= 64 || memchr(text, '\0', len) != NULL) {
        return -1;
    }
    return tw_parse_time(text, ms) == 0 ? 1 : -1;
}

static int check_type(const struct msg_envelope *env, struct tw_json message,
                      struct msg_fields *f, char *why, size_t why_size)
{
    struct tw_json v;
    const char *text;
    size_t len;

    if (!tw_json_get(message, "type", &v)) {
        if (env->default_type == NULL) {
            snprintf(why, why_size, "the message has no \"type\"");
            return TW_EINVAL;
        }
        snprintf(f->type, sizeof(f->type), "%s", env->default_type);
        return 0;
    }
    if (tw_json_type(v) != TW_JSON_STRING) {
        snprintf(why, why_size, "\"type\" must be a string");
        return TW_EINVAL;
    }
    text = tw_json_string(v, &len);
    if (!known_type(text, len)) {
        snprintf(why, why_size,
                 "\"type\" must be one of track, identify, page, screen, "
                 "group, alias; got \"%.*s\"",
                 (int)utf8_prefix(text, len, 32), text);
        return TW_EINVAL;
    }
    memcpy(f->type, text, len);
    f->type[len] = '\0';
    return 0;
}

static int check_ids(struct tw_json message, struct msg_fields *f, char *why,
                     size_t why_size)
{
    struct tw_json v;
    size_t len = 0;

    if (!id_member(message, "userId", &f->user_id, &f->user_id_len,
                   f->user_id_text, sizeof(f->user_id_text)) &&
        !id_member(message, "anonymousId", &f->user_id, &f->user_id_len,
                   f->user_id_text, sizeof(f->user_id_text))) {
        snprintf(why, why_size,
                 "the message needs a \"userId\" or an \"anonymousId\"");
        return TW_EINVAL;
    }
    if (strcmp(f->type, "track") == 0 &&
        (!tw_json_get(message, "event", &v) ||
         tw_json_type(v) != TW_JSON_STRING ||
         (tw_json_string(v, &len), len == 0))) {
        snprintf(why, why_size, "a track call needs an \"event\" name");
        return TW_EINVAL;
    }
    if (strcmp(f->type, "group") == 0 && !has_id(message, "groupId")) {
        snprintf(why, why_size, "a group call needs a \"groupId\"");
        return TW_EINVAL;
    }
    if (strcmp(f->type, "alias") == 0 &&
        (!has_id(message, "previousId") || !has_id(message, "userId"))) {
        snprintf(why, why_size,
                 "an alias call needs a \"previousId\" and a \"userId\"");
        return TW_EINVAL;
    }
    return 0;
}

static int check_message_id(struct tw_json message, struct msg_fields *f,
                            char *why, size_t why_size)
{
    struct tw_json v;
    const char *text;
    size_t len;

    if (!tw_json_get(message, "messageId", &v) ||
        tw_json_type(v) == TW_JSON_NULL) {
        msg_new_id(f->message_id);
        f->message_id_len = strlen(f->message_id);
        f->message_id_assigned = true;
        return 0;
    }
    if (tw_json_type(v) != TW_JSON_STRING) {
        snprintf(why, why_size, "\"messageId\" must be a string");
        return TW_EINVAL;
    }
    text = tw_json_string(v, &len);
    if (!msg_id_valid(text, len)) {
        snprintf(why, why_size,
                 "\"messageId\" must be 1 to %d characters without NUL, got "
                 "%zu bytes",
                 MSG_ID_MAX_CHARS, len);
        return TW_EINVAL;
    }
    memcpy(f->message_id, text, len);
    f->message_id[len] = '\0';
    f->message_id_len = len;
    return 0;
}

static int check_times(const struct msg_envelope *env, struct tw_json message,
                       struct msg_fields *f, char *why, size_t why_size)
{
    static const char *const names[] = {"originalTimestamp", "timestamp",
                                        "sentAt"};
    int64_t ms[3] = {0, 0, 0};
    int found[3];

    for (int i = 0; i < 3; i++) {
        found[i] = time_member(message, names[i], &ms[i]);
        if (found[i] < 0) {
            snprintf(why, why_size,
                     "\"%s\" must be an ISO-8601 time such as "
                     "2024-03-01T12:00:00.000Z",
                     names[i]);
            return TW_EINVAL;
        }
    }
    f->has_original = found[0] || found[1];
    f->original_ms = found[0] ? ms[0] : ms[1];
    f->has_sent_at = found[2] || env->has_sent_at;
    f->sent_at_ms = found[2] ? ms[2] : env->sent_at_ms;
    return 0;
}

int msg_check(const struct msg_envelope *env, struct tw_json message,
              struct msg_fields *f, char *why, size_t why_size)
{
    int rc;

    memset(f, 0, sizeof(*f));
    if (tw_json_type(message) != TW_JSON_OBJECT) {
        snprintf(why, why_size, "a message must be a JSON object, not %s",
                 tw_json_type_name(tw_json_type(message)));
        return TW_EINVAL;
    }
    rc = check_type(env, message, f, why, why_size);
    if (rc == 0) {
        rc = check_ids(message, f, why, why_size);
    }
    if (rc == 0) {
        rc = check_message_id(message, f, why, why_size);
    }
    if (rc == 0) {
        rc = check_times(env, message, f, why, why_size);
    }
    return rc;
}

int64_t msg_event_time(const struct msg_envelope *env,
                       const struct msg_fields *f)
{
    if (f->has_original && f->has_sent_at) {
        return env->received_ms - (f->sent_at_ms - f->original_ms);
    }
    if (f->has_original) {
        return f->original_ms;
    }
    return env->received_ms;
}

static void write_time(struct tw_buf *out, const char *name, int64_t ms)
{
    char text[MSG_TIME_MAX];

    tw_format_time(ms, text, sizeof(text));
    tw_buf_putc(out, ',');
    tw_jw_key(out, name);
    tw_jw_cstring(out, text);
}

void msg_write_plan(const struct msg_envelope *env, struct tw_buf *out)
{
    tw_buf_putc(out, ',');
    tw_jw_key(out, "plan");
    tw_jw_cstring(out, env->plan_name);
    tw_buf_putc(out, ',');
    tw_jw_key(out, "planVersion");
    tw_jw_cstring(out, env->plan_version);
}

void msg_write_violations(const struct plan_verdict *v, struct tw_buf *out)
{
    tw_buf_putc(out, ',');
    tw_jw_key(out, "violations");
    tw_buf_putc(out, '[');
    for (size_t i = 0; i < v->kept; i++) {
        const struct plan_violation *pv = &v->violations[i];

        tw_buf_puts(out, i == 0 ? "{" : ",{");
        tw_jw_key(out, "pointer");
        tw_jw_cstring(out, pv->pointer);
        tw_buf_putc(out, ',');
        tw_jw_key(out, "keyword");
        tw_jw_cstring(out, pv->keyword);
        tw_buf_putc(out, ',');
        tw_jw_key(out, "message");
        tw_jw_cstring(out, pv->message);
        tw_buf_putc(out, '}');
    }
    tw_buf_putc(out, ']');
    if (v->violation_count > v->kept) {
        tw_buf_putc(out, ',');
        tw_jw_key(out, "violationCount");
        tw_jw_int(out, (int64_t)v->violation_count);
    }
}

static void write_trackway(const struct msg_envelope *env,
                           const struct plan_verdict *annotate,
                           struct tw_buf *out)
{
    tw_jw_key(out, "trackway");
    tw_buf_putc(out, '{');
    tw_jw_key(out, "source");
    tw_jw_cstring(out, env->source);
    if (env->plan_name != NULL) {
        msg_write_plan(env, out);
    }
    if (annotate != NULL && annotate->outcome != PLAN_VALID) {
        msg_write_violations(annotate, out);
    }
    tw_buf_putc(out, '}');
}

/* Names to leave out when merging objects. */
struct msg_skip {
    const char *const *names;
    size_t count;
    const struct tw_json *shadow; /* members named here too are left out */
};

static bool skipped(const struct msg_skip *skip, const char *key,
                    size_t key_len)
{
    struct tw_json ignored;

    for (size_t i = 0; i < skip->count; i++) {
        if (strcmp(key, skip->names[i]) == 0) {
            return true;
        }
    }
    return skip->shadow != NULL &&
           tw_json_object_get(*skip->shadow, key, key_len, &ignored);
}

/* Writes obj's members but the skipped ones, after *any others. */
static void write_members(struct tw_json obj, const struct msg_skip *skip,
                          bool *any, struct tw_buf *out)
{
    struct tw_json_iter it;
    struct tw_json v;
    const char *key;
    size_t key_len;

    tw_json_iter_init(&it, obj);
    while (tw_json_object_next(&it, &key, &key_len, &v)) {
        if (skipped(skip, key, key_len)) {
            continue;
        }
        tw_buf_puts(out, *any ? "," : "");
        tw_jw_string(out, key, key_len);
        tw_buf_putc(out, ':');
        tw_jw_value(out, v);
        *any = true;
    }
}

/*
 * Writes the members of under that over lacks, then those of over, but
 * the names in skip (either object may be absent). Returns whether
 * anything was written.
 */
static bool write_merged_members(struct tw_json under, bool has_under,
                                 struct tw_json over, bool has_over,
                                 const char *const *skip, size_t skip_count,
                                 struct tw_buf *out)
{
    struct msg_skip under_skip = {skip, skip_count, has_over ? &over : NULL};
    struct msg_skip over_skip = {skip, skip_count, NULL};
    bool any = false;

    if (has_under) {
        write_members(under, &under_skip, &any, out);
    }
    if (has_over) {
        write_members(over, &over_skip, &any, out);
    }
    return any;
}

static bool object_member(struct tw_json message, const char *name,
                          struct tw_json *v)
{
    return tw_json_get(message, name, v) && tw_json_type(*v) == TW_JSON_OBJECT;
}

static void write_context(const struct msg_envelope *env,
                          struct tw_json message,
                          const struct plan_verdict *annotate,
                          struct tw_buf *out)
{
    static const char *const skip[] = {"trackway"};
    struct tw_json own;
    struct tw_json ip;
    bool has_own = object_member(message, "context", &own);
    bool has_ip;

    has_ip =
        (has_own && tw_json_get(own, "ip", &ip)) ||
        (env->has_batch_context && tw_json_get(env->batch_context, "ip", &ip));
    tw_buf_putc(out, ',');
    tw_jw_key(out, "context");
    tw_buf_putc(out, '{');
    if (write_merged_members(env->batch_context, env->has_batch_context, own,
                             has_own, skip, 1, out)) {
        tw_buf_putc(out, ',');
    }
    if (!has_ip && env->client_ip != NULL) {
        tw_jw_key(out, "ip");
        tw_jw_cstring(out, env->client_ip);
        tw_buf_putc(out, ',');
    }
    write_trackway(env, annotate, out);
    tw_buf_putc(out, '}');
}

static void write_integrations(const struct msg_envelope *env,
                               struct tw_json message, struct tw_buf *out)
{
    struct tw_json own;
    bool has_own = object_member(message, "integrations", &own);

    if (!has_own && !env->has_batch_integrations) {
        return;
    }
    tw_buf_putc(out, ',');
    tw_jw_key(out, "integrations");
    tw_buf_putc(out, '{');
    write_merged_members(env->batch_integrations, env->has_batch_integrations,
                         own, has_own, NULL, 0, out);
    tw_buf_putc(out, '}');
}

/* Members the server writes itself, whatever the client sent. */
static bool server_member(const char *key)
{
    static const char *const names[] = {
        "type",     "messageId",  "timestamp", "originalTimestamp",
        "sentAt",   "receivedAt", "context",   "integrations",
        "writeKey",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(key, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

void msg_write(const struct msg_envelope *env, struct tw_json message,
               const struct msg_fields *f, const struct plan_verdict *annotate,
               struct tw_buf *out)
{
    struct tw_json_iter it;
    struct tw_json v;
    const char *key;
    size_t key_len;

    tw_buf_putc(out, '{');
    tw_jw_key(out, "type");
    tw_jw_cstring(out, f->type);
    tw_buf_putc(out, ',');
    tw_jw_key(out, "messageId");
    tw_jw_string(out, f->message_id, f->message_id_len);
    tw_json_iter_init(&it, message);
    while (tw_json_object_next(&it, &key, &key_len, &v)) {
        if (server_member(key)) {
            continue;
        }
        tw_buf_putc(out, ',');
        tw_jw_string(out, key, key_len);
        tw_buf_putc(out, ':');
        tw_jw_value(out, v);
    }
    write_time(out, "timestamp", msg_event_time(env, f));
    if (f->has_original) {
        write_time(out, "originalTimestamp", f->original_ms);
    }
    if (f->has_sent_at) {
        write_time(out, "sentAt", f->sent_at_ms);
    }
    write_time(out, "receivedAt", env->received_ms);
    write_context(env, message, annotate, out);
    write_integrations(env, message, out);
    tw_buf_putc(out, '}');
}

bool msg_id_valid(const char *text, size_t len)
{
    size_t chars = 0;

    if (len == 0 || len > MSG_ID_MAX || memchr(text, '\0', len) != NULL) {
        return false;
    }
    /* Count the bytes that start a character: all but 10xxxxxx. */
    for (size_t i = 0; i < len; i++) {
        chars += ((unsigned char)text[i] & 0xc0) != 0x80;
    }
    return chars <= MSG_ID_MAX_CHARS;
}

/* Random bits for ids: a per-thread splitmix64, seeded by the kernel. */
static uint64_t random_u64(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local int seeded;
    uint64_t z;

    if (!seeded) {
        if (getrandom(&state, sizeof(state), 0) != sizeof(state)) {
            state = (uint64_t)(uintptr_t)&state ^ 0x9e3779b97f4a7c15ull;
        }
        seeded = 1;
    }
    z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void msg_new_id(char out[37])
{
    uint64_t hi = random_u64();
    uint64_t lo = random_u64();

    hi = (hi & ~0xf000ull) | 0x4000ull;       /* version 4 */
    lo = (lo & ~(3ull << 62)) | (2ull << 62); /* RFC 4122 variant */
    snprintf(out, 37,
             "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64
             "-%012" PRIx64,
             hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
             (uint64_t)(lo & 0xffffffffffffull));
}
