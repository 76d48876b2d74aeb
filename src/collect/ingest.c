/*
 * ingest.c - one request body turned into log records: undo gzip or
 * base64, parse, find the source by write key, take rate-limit tokens,
 * then check, deduplicate, judge and enrich each message on its own.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "collect/decode.h"
#include "collect/internal.h"
#include "common/clock.h"
#include "common/units.h"

struct collect_scratch {
    struct tw_json_parser *parser;
    struct tw_buf decoded;  /* the body after gzip or base64 */
    struct tw_buf key_text; /* Basic credentials, decoded */
    uint64_t *seen;         /* fingerprints of this request */
    size_t seen_slots;
    uint64_t *fps; /* per message: its fingerprint, or 0 */
    bool *known;   /* per message: the dedup set holds it */
    size_t lookup_capacity;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free_cb(void *ptr)
{
    struct collect_scratch *s = ptr;

    tw_json_parser_free(s->parser);
    tw_buf_free(&s->decoded);
    tw_buf_free(&s->key_text);
    free(s->seen);
    free(s->fps);
    free(s->known);
    free(s);
}

static void scratch_key_create(void)
{
    if (pthread_key_create(&scratch_key, scratch_free_cb) != 0) {
        abort();
    }
}

struct collect_scratch *collect_scratch_get(struct collector *c)
{
    struct collect_scratch *s;
    size_t max = c->config->server.limits.max_request_bytes;

    pthread_once(&scratch_once, scratch_key_create);
    s = pthread_getspecific(scratch_key);
    if (s != NULL) {
        return s;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    if (tw_json_parser_new(max, 0, &s->parser) != 0) {
        free(s);
        return NULL;
    }
    tw_buf_init(&s->decoded, max);
    tw_buf_init(&s->key_text, 512);
    pthread_setspecific(scratch_key, s);
    return s;
}

const char *collect_reason_name(enum collect_reason reason)
{
    static const char *const names[] = {"malformed", "too_large", "unplanned",
                                        "invalid"};

    return (unsigned)reason < COLLECT_REASONS ? names[reason] : "?";
}

static void refuse(struct collect_batch *b, int status, const char *fmt, ...)
    TW_PRINTF(3, 4);

static void refuse(struct collect_batch *b, int status, const char *fmt, ...)
{
    va_list ap;

    b->status = status;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof(b->error), fmt, ap);
    va_end(ap);
}

/* The body as JSON text: gunzipped, or the pixel's base64 decoded. */
static bool body_text(struct collector *c, struct collect_scratch *s,
                      struct http_request *request,
                      enum collect_endpoint endpoint, const void **body,
                      size_t *len, struct collect_batch *b)
{
    const char *encoding = http_request_header(request, "Content-Encoding");
    const char *data;
    int rc;

    if (endpoint == COLLECT_PIXEL) {
        data = http_request_query(request, "data");
        if (data == NULL) {
            refuse(b, 400, "the pixel needs a data argument: base64 JSON");
            return false;
        }
        rc = decode_base64(data, strlen(data), &s->decoded);
    } else if (encoding != NULL && (strcasestr(encoding, "gzip") != NULL ||
                                    strcasestr(encoding, "deflate") != NULL)) {
        rc = decode_gzip(*body, *len, &s->decoded);
    } else {
        return true;
    }
    if (rc == TW_EFULL) {
        refuse(b, 413, "the body is larger than %llu bytes once decoded",
               (unsigned long long)c->config->server.limits.max_request_bytes);
        return false;
    }
    if (rc != 0) {
        refuse(b, 400, "%s", tw_err_message());
        return false;
    }
    *body = s->decoded.data != NULL ? s->decoded.data : "";
    *len = s->decoded.len;
    return true;
}

static struct collect_source *source_by_key(struct collector *c,
                                            const char *key, size_t len)
{
    for (size_t i = 0; i < c->source_count; i++) {
        const struct cfg_source *cfg = c->sources[i].cfg;

        for (size_t k = 0; k < cfg->write_key_count; k++) {
            if (strlen(cfg->write_keys[k]) == len &&
                memcmp(cfg->write_keys[k], key, len) == 0) {
                return &c->sources[i];
            }
        }
    }
    return NULL;
}

/* The write key from "Authorization: Basic base64(key:)", if any. */
static bool basic_key(struct collect_scratch *s, struct http_request *request,
                      const char **key, size_t *len)
{
    const char *auth = http_request_header(request, "Authorization");
    const char *colon;

    if (auth == NULL || strncasecmp(auth, "Basic ", 6) != 0) {
        return false;
    }
    auth += 6;
    while (*auth == ' ') {
        auth++;
    }
    if (decode_base64(auth, strlen(auth), &s->key_text) != 0 ||
        s->key_text.len == 0) {
        return false;
    }
    colon = memchr(s->key_text.data, ':', s->key_text.len);
    *key = s->key_text.data;
    *len = colon != NULL ? (size_t)(colon - s->key_text.data) : s->key_text.len;
    return true;
}

static struct collect_source *authenticate(struct collector *c,
                                           struct collect_scratch *s,
                                           struct http_request *request,
                                           struct tw_json root,
                                           struct collect_batch *b)
{
    struct collect_source *source = NULL;
    struct tw_json v;
    const char *key;
    size_t len;

    if (basic_key(s, request, &key, &len)) {
        source = source_by_key(c, key, len);
    }
    if (source == NULL && tw_json_get(root, "writeKey", &v) &&
        tw_json_type(v) == TW_JSON_STRING) {
        key = tw_json_string(v, &len);
        source = source_by_key(c, key, len);
    }
    if (source == NULL) {
        atomic_fetch_add(&c->unknown_keys, 1);
        refuse(b, 401,
               "unknown or missing write key: send it as HTTP Basic "
               "user name (Authorization: Basic base64(\"KEY:\")) or as "
               "\"writeKey\" in the body");
    }
    return source;
}

static void envelope_init(struct collector *c, struct collect_source *src,
                          struct http_request *request, struct tw_json root,
                          enum collect_endpoint endpoint, const char *type,
                          char *ip, size_t ip_size, struct msg_envelope *env)
{
    struct tw_json v;
    const char *text;
    size_t len;

    memset(env, 0, sizeof(*env));
    env->source = src->cfg->name;
    env->plan_name = src->plan != NULL ? plan_name(src->plan) : NULL;
    env->plan_version = src->plan != NULL ? plan_version(src->plan) : NULL;
    env->received_ms = tw_now_ms();
    env->default_type = type;
    if (collect_client_ip(c, request, ip, ip_size)) {
        env->client_ip = ip;
    }
    if (endpoint != COLLECT_BATCH) {
        return;
    }
    if (tw_json_get(root, "context", &v) && tw_json_type(v) == TW_JSON_OBJECT) {
        env->batch_context = v;
        env->has_batch_context = true;
    }
    if (tw_json_get(root, "integrations", &v) &&
        tw_json_type(v) == TW_JSON_OBJECT) {
        env->batch_integrations = v;
        env->has_batch_integrations = true;
    }
    if (tw_json_get(root, "sentAt", &v) && tw_json_type(v) == TW_JSON_STRING) {
        text = tw_json_string(v, &len);
        if (len < 64 && tw_parse_time(text, &env->sent_at_ms) == 0) {
            env->has_sent_at = true;
        }
    }
}

static struct collect_record *record_add(struct collect_batch *b)
{
    struct collect_record *grown;

    if (b->count == b->capacity) {
        size_t cap = b->capacity == 0 ? 16 : b->capacity * 2;
        grown = realloc(b->records, cap * sizeof(*grown));
        if (grown == NULL) {
            return NULL;
        }
        b->records = grown;
        b->capacity = cap;
    }
    memset(&b->records[b->count], 0, sizeof(*b->records));
    return &b->records[b->count++];
}

/* Writes the record's key, "<source>/<messageId>", before its value. */
static void write_key(struct collect_batch *b, struct collect_record *r,
                      const char *source, const char *id, size_t id_len)
{
    r->key_off = b->out.len;
    tw_buf_puts(&b->out, source);
    tw_buf_putc(&b->out, '/');
    tw_buf_append(&b->out, id, id_len);
    r->key_len = (uint32_t)(b->out.len - r->key_off);
}

/* The client's messageId when it sent a usable one, else "". */
static const char *client_id(struct tw_json message, size_t *len)
{
    struct tw_json v;
    const char *id;

    *len = 0;
    if (tw_json_type(message) != TW_JSON_OBJECT ||
        !tw_json_get(message, "messageId", &v) ||
        tw_json_type(v) != TW_JSON_STRING) {
        return "";
    }
    id = tw_json_string(v, len);
    if (!msg_id_valid(id, *len)) {
        *len = 0;
        return "";
    }
    return id;
}

static void add_failed(struct collect_batch *b, const struct msg_envelope *env,
                       enum collect_reason reason, const char *why,
                       const struct plan_verdict *verdict,
                       struct tw_json message, const struct msg_fields *f)
{
    struct collect_record *r = record_add(b);
    const char *id;
    size_t id_len;

    if (r == NULL) {
        b->out.status = TW_ENOMEM;
        return;
    }
    r->failed = true;
    /* A malformed message has no checked fields, but trace still finds
     * it by the id its client sent. */
    if (f != NULL) {
        id = f->message_id;
        id_len = f->message_id_len;
    } else {
        id = client_id(message, &id_len);
    }
    write_key(b, r, env->source, id, id_len);
    r->value_off = b->out.len;
    collect_write_failed(&b->out, env, reason, why, verdict, message);
    r->value_len = (uint32_t)(b->out.len - r->value_off);
    atomic_fetch_add(&b->source->failed[reason], 1);
}

/* true when fp was already seen in this request; otherwise notes it. */
static bool seen_in_request(struct collect_scratch *s, uint64_t fp)
{
    for (size_t i = fp & (s->seen_slots - 1);;
         i = (i + 1) & (s->seen_slots - 1)) {
        if (s->seen[i] == fp) {
            return true;
        }
        if (s->seen[i] == 0) {
            s->seen[i] = fp;
            return false;
        }
    }
}

static bool seen_reset(struct collect_scratch *s, size_t events)
{
    size_t slots = 64;
    uint64_t *grown;

    while (slots < events * 2) {
        slots *= 2;
    }
    if (slots > s->seen_slots) {
        grown = realloc(s->seen, slots * sizeof(*grown));
        if (grown == NULL) {
            return false;
        }
        s->seen = grown;
        s->seen_slots = slots;
    }
    memset(s->seen, 0, s->seen_slots * sizeof(*s->seen));
    if (events > s->lookup_capacity) {
        uint64_t *fps = realloc(s->fps, events * sizeof(*fps));
        bool *known =
            fps != NULL ? realloc(s->known, events * sizeof(*known)) : NULL;
        if (fps != NULL) {
            s->fps = fps;
        }
        if (known == NULL) {
            return false;
        }
        s->known = known;
        s->lookup_capacity = events;
    }
    return true;
}

static const char *client_id(struct tw_json message, size_t *len);

/* The fingerprint msg_check's messageId will have, or 0 when it will
 * have none of the client's (absent, or not a usable string). */
static uint64_t message_fingerprint(const struct msg_envelope *env,
                                    struct tw_json message)
{
    size_t len;
    const char *id = client_id(message, &len);

    if (len == 0) {
        return 0;
    }
    return dedup_fingerprint(env->source, strlen(env->source), id, len);
}

/* Looks every message of the request up in the dedup set at once. */
static void lookup_known(struct collector *c, struct collect_scratch *s,
                         const struct msg_envelope *env, struct tw_json list,
                         enum collect_endpoint endpoint, size_t count)
{
    struct tw_json_iter it;
    struct tw_json message;
    size_t n = 0;

    if (c->dedup == NULL) {
        memset(s->fps, 0, count * sizeof(*s->fps));
        memset(s->known, 0, count * sizeof(*s->known));
        return;
    }
    if (endpoint != COLLECT_BATCH) {
        s->fps[n++] = message_fingerprint(env, list);
    } else {
        tw_json_iter_init(&it, list);
        while (n < count && tw_json_array_next(&it, &message)) {
            s->fps[n++] = message_fingerprint(env, message);
        }
    }
    dedup_seen_many(c->dedup, s->fps, n, env->received_ms, s->known);
}

/* Judges a checked message; returns whether it is kept as accepted. */
static bool judge(const struct collect_source *src, const char *type,
                  struct tw_json message, struct plan_verdict *v,
                  enum collect_reason *reason)
{
    v->outcome = PLAN_VALID;
    v->violation_count = 0;
    v->kept = 0;
    if (src->plan == NULL) {
        return true;
    }
    plan_judge(src->plan, type, message, v);
    /* plan_judge answers UNPLANNED only when its plan rejects them. */
    if (v->outcome == PLAN_UNPLANNED) {
        *reason = COLLECT_UNPLANNED;
        return false;
    }
    if (v->outcome == PLAN_INVALID) {
        *reason = COLLECT_INVALID;
        return src->cfg->on_violation != CFG_VIOLATION_REJECT;
    }
    return true;
}

static void add_accepted(struct collector *c, struct collect_batch *b,
                         const struct msg_envelope *env, struct tw_json message,
                         const struct msg_fields *f,
                         const struct plan_verdict *v, uint64_t fp,
                         enum collect_endpoint endpoint)
{
    uint64_t max = c->config->server.limits.max_message_bytes;
    struct collect_record *r = record_add(b);
    size_t start = b->out.len;
    bool annotate = v->outcome != PLAN_VALID &&
                    b->source->cfg->on_violation == CFG_VIOLATION_ANNOTATE;

    if (r == NULL) {
        b->out.status = TW_ENOMEM;
        return;
    }
    write_key(b, r, env->source, f->message_id, f->message_id_len);
    r->value_off = b->out.len;
    msg_write(env, message, f, annotate ? v : NULL, &b->out);
    r->value_len = (uint32_t)(b->out.len - r->value_off);
    r->partition =
        (uint32_t)(XXH3_64bits(f->user_id, f->user_id_len) % c->partitions);
    r->fingerprint = fp;
    if (r->value_len <= max) {
        if (annotate) {
            atomic_fetch_add(&b->source->annotated, 1);
        }
        return;
    }

    /* Too large once written out: take it back. */
    b->count--;
    b->out.len = start;
    if (endpoint != COLLECT_BATCH) {
        refuse(b, 413, "the message is %u bytes, above the limit of %llu",
               r->value_len, (unsigned long long)max);
        return;
    }
    char why[128];
    snprintf(why, sizeof(why),
             "the message is %u bytes, above the limit of "
             "%llu",
             r->value_len, (unsigned long long)max);
    add_failed(b, env, COLLECT_TOO_LARGE, why, NULL, message, f);
}

static void ingest_message(struct collector *c, struct collect_scratch *s,
                           struct collect_batch *b,
                           const struct msg_envelope *env,
                           struct tw_json message, size_t index,
                           enum collect_endpoint endpoint)
{
    struct msg_fields f;
    struct plan_verdict v;
    enum collect_reason reason = COLLECT_INVALID;
    char why[256];
    uint64_t fp = 0;

    if (msg_check(env, message, &f, why, sizeof(why)) != 0) {
        add_failed(b, env, COLLECT_MALFORMED, why, NULL, message, NULL);
        return;
    }
    if (c->dedup != NULL && !f.message_id_assigned) {
        fp = s->fps[index];
        if (seen_in_request(s, fp) || s->known[index]) {
            b->duplicates++;
            atomic_fetch_add(&b->source->duplicates, 1);
            return;
        }
    }
    if (!judge(b->source, f.type, message, &v, &reason)) {
        if (reason == COLLECT_UNPLANNED) {
            snprintf(why, sizeof(why),
                     "plan '%s' lists no track event of this name and "
                     "rejects unplanned events",
                     env->plan_name);
        }
        add_failed(b, env, reason, reason == COLLECT_UNPLANNED ? why : NULL, &v,
                   message, &f);
        return;
    }
    add_accepted(c, b, env, message, &f, &v, fp, endpoint);
}

static bool messages_of(struct tw_json root, enum collect_endpoint endpoint,
                        struct tw_json *list, size_t *count,
                        struct collect_batch *b)
{
    if (endpoint != COLLECT_BATCH) {
        *list = root;
        *count = 1;
        return true;
    }
    if (!tw_json_get(root, "batch", list) ||
        tw_json_type(*list) != TW_JSON_ARRAY) {
        refuse(b, 400, "the body needs a \"batch\" array of messages");
        return false;
    }
    *count = tw_json_count(*list);
    return true;
}

void collect_ingest(struct collector *c, struct http_request *request,
                    enum collect_endpoint endpoint, const char *type,
                    const void *body, size_t body_len, struct collect_batch *b)
{
    struct collect_scratch *s = collect_scratch_get(c);
    struct msg_envelope env;
    struct tw_json root;
    struct tw_json list;
    struct tw_json message;
    struct tw_json_iter it;
    char ip[64];
    int64_t retry_after_s = 1;

    if (s == NULL) {
        refuse(b, 503, "out of memory");
        return;
    }
    if (!body_text(c, s, request, endpoint, &body, &body_len, b)) {
        return;
    }
    if (tw_json_parse(s->parser, body, body_len, &root) != 0) {
        atomic_fetch_add(&c->bad_bodies, 1);
        refuse(b, 400, "the body is not valid JSON: %s", tw_err_message());
        return;
    }
    if (tw_json_type(root) != TW_JSON_OBJECT) {
        atomic_fetch_add(&c->bad_bodies, 1);
        refuse(b, 400, "the body must be a JSON object, not %s",
               tw_json_type_name(tw_json_type(root)));
        return;
    }
    b->source = authenticate(c, s, request, root, b);
    if (b->source == NULL ||
        !messages_of(root, endpoint, &list, &b->events, b)) {
        return;
    }
    atomic_fetch_add(&b->source->requests, 1);
    if (!ratelimit_take(&b->source->rate, (double)b->events, tw_monotonic_ns(),
                        &retry_after_s)) {
        atomic_fetch_add(&b->source->rate_limited, 1);
        b->retry_after_s = retry_after_s;
        refuse(b, 429, "source '%s' is over its rate limit of %g events/s",
               b->source->cfg->name, b->source->cfg->rate_limit.events_per_s);
        return;
    }
    atomic_fetch_add(&b->source->received, b->events);
    if (!seen_reset(s, b->events)) {
        refuse(b, 503, "out of memory");
        return;
    }
    envelope_init(c, b->source, request, root, endpoint, type, ip, sizeof(ip),
                  &env);
    b->received_ms = env.received_ms;
    lookup_known(c, s, &env, list, endpoint, b->events);
    if (endpoint != COLLECT_BATCH) {
        ingest_message(c, s, b, &env, list, 0, endpoint);
    } else {
        size_t i = 0;
        tw_json_iter_init(&it, list);
        while (tw_json_array_next(&it, &message) && b->status == 0) {
            ingest_message(c, s, b, &env, message, i++, endpoint);
        }
    }
    if (b->status == 0 && b->out.status == TW_EFULL) {
        refuse(b, 413,
               "the request's events pass %zu bytes once enriched: send "
               "smaller batches",
               b->out.max);
    } else if (b->status == 0 && b->out.status != 0) {
        refuse(b, 503, "out of memory holding the request's events");
    }
}

void collect_batch_free(struct collect_batch *b)
{
    free(b->records);
    tw_buf_free(&b->out);
}
