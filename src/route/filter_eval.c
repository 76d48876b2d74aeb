/*
 * filter_eval.c - matching stored events against compiled filters
 * (filter.h), and the per-thread scratch that matching needs.
 *
 * Matching reads the filter and the event only. It allocates nothing: a
 * path is resolved by walking the parsed event in place, literals were
 * decoded at compile time, and the one thing PCRE2 must write into (its
 * match data) is the caller's scratch, made once per thread. The only
 * writes to the filter are relaxed atomic counters, on the rare path of
 * a regex limit.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "json/json_write.h"
#include "obs/logging.h"
#include "route/filter_internal.h"

/* The result of comparing a value with a literal of another type. */
#define EVAL_UNORDERED 2

int route_scratch_new(struct route_scratch **out)
{
    struct route_scratch *scratch = calloc(1, sizeof(*scratch));

    *out = NULL;
    if (scratch != NULL) {
        /* One pair: a match only says whether it matched. */
        scratch->match_data = pcre2_match_data_create(1, NULL);
    }
    if (scratch == NULL || scratch->match_data == NULL) {
        free(scratch);
        return tw_err_set(TW_ENOMEM, "out of memory creating filter scratch");
    }
    *out = scratch;
    return 0;
}

void route_scratch_free(struct route_scratch *scratch)
{
    if (scratch != NULL) {
        pcre2_match_data_free(scratch->match_data);
        free(scratch);
    }
}

static bool eval_is_number(enum tw_json_type type)
{
    return type == TW_JSON_INT || type == TW_JSON_UINT ||
           type == TW_JSON_DOUBLE;
}

/* Any number of the event, exactly (see struct filter_literal). */
static long double eval_number(struct tw_json value)
{
    switch (tw_json_type(value)) {
    case TW_JSON_INT:
        return (long double)tw_json_int(value);
    case TW_JSON_UINT:
        return (long double)tw_json_uint(value);
    default:
        return (long double)tw_json_number(value);
    }
}

static int eval_order_bytes(const char *a, size_t a_len, const char *b,
                            size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

/*
 * -1, 0 or 1 as value is below, equal to or above lit; EVAL_UNORDERED
 * when they are of different types (or booleans that differ, which have
 * no order but are not equal).
 */
static int eval_compare(struct tw_json value, const struct filter_literal *lit)
{
    enum tw_json_type type = tw_json_type(value);
    const char *text;
    size_t len;
    long double n;

    if (eval_is_number(type) && eval_is_number(lit->type)) {
        n = eval_number(value);
        return n < lit->number ? -1 : n > lit->number ? 1 : 0;
    }
    if (type != lit->type) {
        return EVAL_UNORDERED;
    }
    switch (type) {
    case TW_JSON_STRING:
        text = tw_json_string(value, &len);
        return eval_order_bytes(text, len, lit->str, lit->len);
    case TW_JSON_BOOL:
        return tw_json_bool(value) == lit->boolean ? 0 : EVAL_UNORDERED;
    case TW_JSON_NULL:
        return 0;
    default:
        return EVAL_UNORDERED;
    }
}

/* != is true only for two values of one type that differ. */
static bool eval_differs(struct tw_json value, const struct filter_literal *lit)
{
    enum tw_json_type type = tw_json_type(value);
    bool same_kind = type == lit->type ||
                     (eval_is_number(type) && eval_is_number(lit->type));

    return same_kind && eval_compare(value, lit) != 0;
}

static void eval_limit_hit(const struct route_filter *filter,
                           const struct filter_literal *pattern)
{
    struct route_filter *f = (struct route_filter *)filter;
    struct tw_buf quoted;

    atomic_fetch_add_explicit(&f->regex_limit_hits, 1, memory_order_relaxed);
    if (atomic_exchange(&f->limit_logged, true)) {
        return;
    }
    /* Once per filter, so the text it quotes may be built on the heap. */
    tw_buf_init(&quoted, 256);
    tw_jw_string(&quoted, pattern->str, pattern->len);
    OBS_LOG(OBS_WARN, "route",
            "a filter's regular expression hit a PCRE2 limit",
            "pattern=%s effect=\"the event counts as not matching\" (logged "
            "once per filter; see route_filter_stats)",
            quoted.status == 0 ? quoted.data : "(too long to show)");
    tw_buf_free(&quoted);
}

static bool eval_matches(const struct route_filter *filter,
                         const struct filter_node *node, struct tw_json value,
                         struct route_scratch *scratch)
{
    const char *text;
    size_t len;
    int rc;

    if (tw_json_type(value) != TW_JSON_STRING) {
        return false;
    }
    text = tw_json_string(value, &len);
    rc = schema_regex_match(node->regex, &filter->limits, &scratch->match_data,
                            text, len);
    if (rc < 0) {
        eval_limit_hit(filter, &filter->lits[node->lit]);
        return false;
    }
    return rc == 1;
}

static bool eval_in(const struct route_filter *filter,
                    const struct filter_node *node, struct tw_json value)
{
    for (uint32_t i = 0; i < node->lit_count; i++) {
        if (eval_compare(value, &filter->lits[node->lit + i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool eval_predicate(const struct route_filter *filter,
                           const struct filter_node *node, struct tw_json event,
                           struct route_scratch *scratch)
{
    struct tw_json value;
    int order;

    if (!route_path_resolve(node->path, event, &value)) {
        return false;
    }
    switch (node->op) {
    case FILTER_EXISTS:
        return true;
    case FILTER_IN:
        return eval_in(filter, node, value);
    case FILTER_MATCHES:
        return eval_matches(filter, node, value, scratch);
    case FILTER_NE:
        return eval_differs(value, &filter->lits[node->lit]);
    default:
        break;
    }
    order = eval_compare(value, &filter->lits[node->lit]);
    switch (node->op) {
    case FILTER_EQ:
        return order == 0;
    case FILTER_LT:
        return order == -1;
    case FILTER_LE:
        return order == -1 || order == 0;
    case FILTER_GT:
        return order == 1;
    case FILTER_GE:
        return order == 1 || order == 0;
    default:
        return false;
    }
}

/* Recursion is bounded by the compiler's nesting limit (filter_internal.h). */
static bool eval_node(const struct route_filter *filter, uint32_t index,
                      struct tw_json event, struct route_scratch *scratch)
{
    const struct filter_node *node = &filter->nodes[index];
    uint32_t child;

    switch (node->kind) {
    case FILTER_AND:
        for (child = node->child; child != FILTER_NONE;
             child = filter->nodes[child].next) {
            if (!eval_node(filter, child, event, scratch)) {
                return false;
            }
        }
        return true;
    case FILTER_OR:
        for (child = node->child; child != FILTER_NONE;
             child = filter->nodes[child].next) {
            if (eval_node(filter, child, event, scratch)) {
                return true;
            }
        }
        return false;
    case FILTER_NOT:
        return !eval_node(filter, node->child, event, scratch);
    case FILTER_PRED:
        return eval_predicate(filter, node, event, scratch);
    }
    return false;
}

bool route_filter_match(const struct route_filter *filter, struct tw_json event,
                        struct route_scratch *scratch)
{
    return eval_node(filter, filter->root, event, scratch);
}

void route_filter_stats(const struct route_filter *filter,
                        struct route_filter_stats *out)
{
    out->regex_limit_hits =
        atomic_load_explicit(&filter->regex_limit_hits, memory_order_relaxed);
}
