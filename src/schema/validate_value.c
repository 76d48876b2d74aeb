/*
 * validate_value.c - assertions on one value: false, type, enum, const,
 * the numeric bounds and multipleOf, string length, pattern and format.
 *
 * An assertion about one type passes for every other type: maxLength
 * says nothing about a number.
 */
#include <stdio.h>
#include <string.h>

#include "schema/format.h"
#include "schema/number.h"
#include "schema/validate.h"

/* Room for a value quoted in a message. */
#define QUOTE_BYTES 64

static bool is_number(struct tw_json v)
{
    enum tw_json_type t = tw_json_type(v);

    return t == TW_JSON_INT || t == TW_JSON_UINT || t == TW_JSON_DOUBLE;
}

bool schema_eval_false(struct schema_eval *ev, const struct schema_node *node,
                       const struct schema_kw *kw, struct tw_json instance,
                       struct eval_marks *marks)
{
    (void)instance;
    (void)marks;
    schema_report(ev, node, kw, "is not allowed here (the schema is false)");
    return false;
}

static uint32_t type_bits_of(struct tw_json v)
{
    switch (tw_json_type(v)) {
    case TW_JSON_NULL:
        return SCHEMA_T_NULL;
    case TW_JSON_BOOL:
        return SCHEMA_T_BOOLEAN;
    case TW_JSON_INT:
    case TW_JSON_UINT:
        return SCHEMA_T_INTEGER | SCHEMA_T_NUMBER;
    case TW_JSON_DOUBLE:
        /* 1.0 is an integer: JSON Schema looks at the value, not the text */
        return tw_json_is_integral(v) ? SCHEMA_T_INTEGER | SCHEMA_T_NUMBER
                                      : SCHEMA_T_NUMBER;
    case TW_JSON_STRING:
        return SCHEMA_T_STRING;
    case TW_JSON_ARRAY:
        return SCHEMA_T_ARRAY;
    case TW_JSON_OBJECT:
        return SCHEMA_T_OBJECT;
    }
    return 0;
}

/* "string", or "string or null", from a type mask. */
static void type_names(uint32_t bits, char *buf, size_t cap)
{
    static const char *const names[] = {
        "null", "boolean", "integer", "number", "string", "array", "object"};
    size_t at = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (bits & (1u << i)) {
            int n = snprintf(buf + at, cap - at, "%s%s", at ? " or " : "",
                             names[i]);

            at += n > 0 && (size_t)n < cap - at ? (size_t)n : 0;
        }
    }
}

bool schema_eval_type(struct schema_eval *ev, const struct schema_node *node,
                      const struct schema_kw *kw, struct tw_json instance,
                      struct eval_marks *marks)
{
    char want[96];

    (void)marks;
    if ((type_bits_of(instance) & kw->u.types) != 0) {
        return true;
    }
    type_names(kw->u.types, want, sizeof(want));
    schema_report(ev, node, kw, "must be %s, got %s", want,
                  tw_json_type_name(tw_json_type(instance)));
    return false;
}

/* "\"a\", \"b\", ..." for the message of enum. */
static void enum_list(const struct schema_kw *kw, char *buf, size_t cap)
{
    char one[QUOTE_BYTES];
    size_t at = 0;

    buf[0] = '\0';
    for (uint32_t i = 0; i < kw->u.enumeration.count; i++) {
        const char *text =
            schema_quote(kw->u.enumeration.values[i], one, sizeof(one));
        int n = snprintf(buf + at, cap - at, "%s%s", i ? ", " : "", text);

        if (n < 0 || (size_t)n >= cap - at) {
            snprintf(buf + at, cap - at, "%s", i ? ", ..." : "...");
            return;
        }
        at += (size_t)n;
    }
}

bool schema_eval_enum(struct schema_eval *ev, const struct schema_node *node,
                      const struct schema_kw *kw, struct tw_json instance,
                      struct eval_marks *marks)
{
    char list[TW_SCHEMA_MESSAGE_MAX - 24];

    (void)marks;
    for (uint32_t i = 0; i < kw->u.enumeration.count; i++) {
        if (!schema_eval_step(ev, node, kw)) {
            return false;
        }
        if (tw_json_equal(instance, kw->u.enumeration.values[i])) {
            return true;
        }
    }
    if (ev->quiet == 0) {
        enum_list(kw, list, sizeof(list));
        schema_report(ev, node, kw, "must be one of: %s", list);
    }
    return false;
}

bool schema_eval_const(struct schema_eval *ev, const struct schema_node *node,
                       const struct schema_kw *kw, struct tw_json instance,
                       struct eval_marks *marks)
{
    char want[TW_SCHEMA_MESSAGE_MAX - 24];

    (void)marks;
    if (tw_json_equal(instance, kw->u.value)) {
        return true;
    }
    if (ev->quiet == 0) {
        schema_report(ev, node, kw, "must be equal to %s",
                      schema_quote(kw->u.value, want, sizeof(want)));
    }
    return false;
}

bool schema_eval_multiple_of(struct schema_eval *ev,
                             const struct schema_node *node,
                             const struct schema_kw *kw,
                             struct tw_json instance, struct eval_marks *marks)
{
    char m[QUOTE_BYTES];
    char x[QUOTE_BYTES];

    (void)marks;
    if (!is_number(instance) ||
        schema_number_is_multiple(instance, &kw->u.multiple.decimal)) {
        return true;
    }
    if (ev->quiet == 0) {
        schema_report(ev, node, kw, "must be a multiple of %s, got %s",
                      schema_quote(kw->u.multiple.value, m, sizeof(m)),
                      schema_quote(instance, x, sizeof(x)));
    }
    return false;
}

bool schema_eval_bound(struct schema_eval *ev, const struct schema_node *node,
                       const struct schema_kw *kw, struct tw_json instance,
                       struct eval_marks *marks)
{
    char bound[QUOTE_BYTES];
    char x[QUOTE_BYTES];
    const char *want;
    bool ok;
    int cmp;

    (void)marks;
    if (!is_number(instance)) {
        return true;
    }
    cmp = schema_number_compare(instance, kw->u.bound);
    switch (kw->kind) {
    case SCHEMA_KW_MAXIMUM:
        ok = cmp <= 0;
        want = "at most";
        break;
    case SCHEMA_KW_EXCLUSIVE_MAXIMUM:
        ok = cmp < 0;
        want = "less than";
        break;
    case SCHEMA_KW_MINIMUM:
        ok = cmp >= 0;
        want = "at least";
        break;
    default:
        ok = cmp > 0;
        want = "greater than";
        break;
    }
    if (!ok && ev->quiet == 0) {
        schema_report(ev, node, kw, "must be %s %s, got %s", want,
                      schema_quote(kw->u.bound, bound, sizeof(bound)),
                      schema_quote(instance, x, sizeof(x)));
    }
    return ok;
}

/* Unicode code points: every byte that does not continue a sequence. */
static uint64_t code_points(const char *s, size_t len)
{
    uint64_t n = 0;

    for (size_t i = 0; i < len; i++) {
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return n;
}

bool schema_eval_length(struct schema_eval *ev, const struct schema_node *node,
                        const struct schema_kw *kw, struct tw_json instance,
                        struct eval_marks *marks)
{
    bool max = kw->kind == SCHEMA_KW_MAX_LENGTH;
    uint64_t length;
    size_t len;
    const char *s;

    (void)marks;
    if (tw_json_type(instance) != TW_JSON_STRING) {
        return true;
    }
    s = tw_json_string(instance, &len);
    length = code_points(s, len);
    if (max ? length <= kw->u.count : length >= kw->u.count) {
        return true;
    }
    schema_report(ev, node, kw, "must be at %s %llu character%s, got %llu",
                  max ? "most" : "least", (unsigned long long)kw->u.count,
                  kw->u.count == 1 ? "" : "s", (unsigned long long)length);
    return false;
}

int schema_eval_regex(struct schema_eval *ev, const struct schema_node *node,
                      const char *keyword, const struct schema_regex *regex,
                      const char *s, size_t len)
{
    int rc = schema_regex_match(regex, &ev->schema->regex_limits, &ev->match, s,
                                len);

    if (rc >= 0) {
        return rc;
    }
    if (rc == TW_ENOMEM) {
        schema_eval_nomem(ev);
        return -1;
    }
    atomic_fetch_add_explicit(
        &((struct tw_schema *)ev->schema)->regex_limit_hits, 1,
        memory_order_relaxed);
    schema_report_limit(ev, node, keyword,
                        "could not be checked against the pattern \"%.80s\": "
                        "the match hit PCRE2's match or depth limit",
                        regex->source);
    return -1;
}

bool schema_eval_pattern(struct schema_eval *ev, const struct schema_node *node,
                         const struct schema_kw *kw, struct tw_json instance,
                         struct eval_marks *marks)
{
    const char *s;
    size_t len;
    int rc;

    (void)marks;
    if (tw_json_type(instance) != TW_JSON_STRING) {
        return true;
    }
    s = tw_json_string(instance, &len);
    rc = schema_eval_regex(ev, node, kw->name, kw->u.regex, s, len);
    if (rc == 0) {
        schema_report(ev, node, kw, "must match the pattern \"%.160s\"",
                      kw->u.regex->source);
    }
    return rc == 1;
}

bool schema_eval_format(struct schema_eval *ev, const struct schema_node *node,
                        const struct schema_kw *kw, struct tw_json instance,
                        struct eval_marks *marks)
{
    const char *s;
    size_t len;

    (void)marks;
    if (tw_json_type(instance) != TW_JSON_STRING) {
        return true;
    }
    s = tw_json_string(instance, &len);
    if (schema_format_check(kw->u.format.format, s, len)) {
        return true;
    }
    schema_report(ev, node, kw, "must be a valid %s", kw->u.format.name);
    return false;
}
