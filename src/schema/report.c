/*
 * report.c - violations as a person reads them (validate.h).
 *
 * A violation names the instance location as a JSON Pointer, the keyword,
 * the keyword's location in the schema, and a sentence. The result holds
 * the first TW_SCHEMA_MAX_VIOLATIONS and counts the rest; strings too long
 * for their fields end in "...". Nothing is formatted while evaluation is
 * quiet or once the result is full, so a failing branch of anyOf costs no
 * printing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "obs/logging.h"
#include "schema/validate.h"

/* Ends a cut string with "..." (buf holds cap bytes, NUL included). */
static void report_ellipsis(char *buf, size_t cap)
{
    if (cap >= 4) {
        memcpy(buf + cap - 4, "...", 4);
    }
}

/* Appends s (len bytes) to buf at *at; false once buf is full. */
static bool report_append(char *buf, size_t cap, size_t *at, const char *s,
                          size_t len)
{
    if (len >= cap - *at) {
        memcpy(buf + *at, s, cap - *at - 1);
        buf[cap - 1] = '\0';
        report_ellipsis(buf, cap);
        *at = cap - 1;
        return false;
    }
    memcpy(buf + *at, s, len);
    *at += len;
    buf[*at] = '\0';
    return true;
}

/* A member name as a JSON Pointer token: ~ as ~0, / as ~1. */
static bool report_token(char *buf, size_t cap, size_t *at, const char *key,
                         size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const char *piece = key[i] == '~' ? "~0" : key[i] == '/' ? "~1" : NULL;
        bool ok = piece != NULL ? report_append(buf, cap, at, piece, 2)
                                : report_append(buf, cap, at, key + i, 1);

        if (!ok) {
            return false;
        }
    }
    return true;
}

static void report_path(const struct schema_eval *ev, char *buf, size_t cap)
{
    size_t at = 0;
    char number[24];

    buf[0] = '\0';
    for (uint32_t i = 0; i < ev->path_len; i++) {
        const struct eval_segment *seg = &ev->path[i];
        bool ok = report_append(buf, cap, &at, "/", 1);

        if (ok && seg->key != NULL) {
            ok = report_token(buf, cap, &at, seg->key, seg->len);
        } else if (ok) {
            int n = snprintf(number, sizeof(number), "%zu", seg->index);

            ok = report_append(buf, cap, &at, number, (size_t)n);
        }
        if (!ok) {
            return;
        }
    }
}

static void report_location(const struct schema_node *node, const char *kw,
                            bool is_false, char *buf, size_t cap)
{
    const char *hash = strchr(node->location, '#');
    size_t uri_len = hash != NULL ? (size_t)(hash - node->location) : 0;
    const char *pointer = hash != NULL ? hash : node->location;
    size_t shown = uri_len;
    int n;

    /* The default base names no document: show "#/..." alone. */
    if (uri_len == strlen(TW_SCHEMA_DEFAULT_BASE_URI) &&
        strncmp(node->location, TW_SCHEMA_DEFAULT_BASE_URI, uri_len) == 0) {
        shown = 0;
    }
    n = snprintf(buf, cap, "%.*s%s%s%s", (int)shown, node->location, pointer,
                 is_false ? "" : "/", is_false ? "" : kw);
    if (n < 0 || (size_t)n >= cap) {
        report_ellipsis(buf, cap);
    }
}

/* The next violation slot, or NULL when only counting. */
static struct tw_schema_violation *report_slot(struct schema_eval *ev)
{
    struct tw_schema_result *r = ev->result;

    r->total++;
    if (r->count >= TW_SCHEMA_MAX_VIOLATIONS) {
        return NULL;
    }
    return &r->violations[r->count++];
}

static void report_fill(struct schema_eval *ev, struct tw_schema_violation *v,
                        const struct schema_node *node, const char *keyword,
                        bool is_false, const char *fmt, va_list ap)
{
    int n;

    report_path(ev, v->instance_path, sizeof(v->instance_path));
    snprintf(v->keyword, sizeof(v->keyword), "%s", keyword);
    report_location(node, keyword, is_false, v->schema_path,
                    sizeof(v->schema_path));
    n = vsnprintf(v->message, sizeof(v->message), fmt, ap);
    if (n < 0 || (size_t)n >= sizeof(v->message)) {
        report_ellipsis(v->message, sizeof(v->message));
    }
}

void schema_report(struct schema_eval *ev, const struct schema_node *node,
                   const struct schema_kw *kw, const char *fmt, ...)
{
    struct tw_schema_violation *v;
    va_list ap;

    if (ev->quiet > 0 || ev->stopped) {
        return;
    }
    v = report_slot(ev);
    if (v == NULL) {
        return;
    }
    va_start(ap, fmt);
    report_fill(ev, v, node, kw->name, kw->kind == SCHEMA_KW_FALSE, fmt, ap);
    va_end(ap);
}

void schema_report_member(struct schema_eval *ev,
                          const struct schema_node *node,
                          const struct schema_kw *kw, const char *key,
                          size_t len, const char *fmt, ...)
{
    struct tw_schema_violation *v;
    va_list ap;

    if (ev->quiet > 0 || ev->stopped) {
        return;
    }
    v = report_slot(ev);
    if (v == NULL) {
        return;
    }
    /* The path array has a spare slot beyond max_depth for this. */
    ev->path[ev->path_len++] = (struct eval_segment){.key = key, .len = len};
    va_start(ap, fmt);
    report_fill(ev, v, node, kw->name, false, fmt, ap);
    va_end(ap);
    ev->path_len--;
}

void schema_report_limit(struct schema_eval *ev, const struct schema_node *node,
                         const char *keyword, const char *fmt, ...)
{
    struct tw_schema_violation *v;
    va_list ap;

    if (ev->stopped) {
        return;
    }
    ev->result->limit_hit = true;
    v = report_slot(ev);
    if (v != NULL) {
        va_start(ap, fmt);
        report_fill(ev, v, node, keyword, false, fmt, ap);
        va_end(ap);
    }
    ev->stopped = true;

    /* Once per compiled schema: a hostile pattern would repeat it. */
    if (!atomic_exchange(&((struct tw_schema *)ev->schema)->limit_logged,
                         true)) {
        OBS_LOG(OBS_WARN, "schema", "validation stopped at a limit",
                "keyword=%s schema=\"%s\" (logged once per schema; see "
                "tw_schema_stats)",
                keyword, node->location);
    }
}

const char *schema_quote(struct tw_json value, char *buf, size_t cap)
{
    size_t n = tw_json_write(value, buf, cap);

    if (n >= cap) {
        report_ellipsis(buf, cap);
    }
    return buf;
}
