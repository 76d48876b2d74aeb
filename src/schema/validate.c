/*
 * validate.c - evaluating a compiled schema against an instance (see
 * validate.h): the entry point, nodes, the in-place applicators and the
 * bounds on depth and work.
 */
#include <stdlib.h>
#include <string.h>

#include "schema/validate.h"

/* Up to this depth the path and scope stacks live on the C stack. */
#define EVAL_STACK_DEPTH 256u

static eval_fn eval_all_of, eval_any_of, eval_one_of, eval_not, eval_if,
    eval_ref, eval_dynamic_ref;

static eval_fn *const eval_table[] = {
    [SCHEMA_KW_FALSE] = schema_eval_false,
    [SCHEMA_KW_TYPE] = schema_eval_type,
    [SCHEMA_KW_ENUM] = schema_eval_enum,
    [SCHEMA_KW_CONST] = schema_eval_const,
    [SCHEMA_KW_MULTIPLE_OF] = schema_eval_multiple_of,
    [SCHEMA_KW_MAXIMUM] = schema_eval_bound,
    [SCHEMA_KW_EXCLUSIVE_MAXIMUM] = schema_eval_bound,
    [SCHEMA_KW_MINIMUM] = schema_eval_bound,
    [SCHEMA_KW_EXCLUSIVE_MINIMUM] = schema_eval_bound,
    [SCHEMA_KW_MAX_LENGTH] = schema_eval_length,
    [SCHEMA_KW_MIN_LENGTH] = schema_eval_length,
    [SCHEMA_KW_PATTERN] = schema_eval_pattern,
    [SCHEMA_KW_FORMAT] = schema_eval_format,
    [SCHEMA_KW_MAX_ITEMS] = schema_eval_item_count,
    [SCHEMA_KW_MIN_ITEMS] = schema_eval_item_count,
    [SCHEMA_KW_UNIQUE_ITEMS] = schema_eval_unique,
    [SCHEMA_KW_ITEMS] = schema_eval_items,
    [SCHEMA_KW_CONTAINS] = schema_eval_contains,
    [SCHEMA_KW_MAX_PROPERTIES] = schema_eval_property_count,
    [SCHEMA_KW_MIN_PROPERTIES] = schema_eval_property_count,
    [SCHEMA_KW_REQUIRED] = schema_eval_required,
    [SCHEMA_KW_DEPENDENT_REQUIRED] = schema_eval_dependent_required,
    [SCHEMA_KW_DEPENDENT_SCHEMAS] = schema_eval_dependent_schemas,
    [SCHEMA_KW_PROPERTIES] = schema_eval_properties,
    [SCHEMA_KW_PROPERTY_NAMES] = schema_eval_property_names,
    [SCHEMA_KW_ALL_OF] = eval_all_of,
    [SCHEMA_KW_ANY_OF] = eval_any_of,
    [SCHEMA_KW_ONE_OF] = eval_one_of,
    [SCHEMA_KW_NOT] = eval_not,
    [SCHEMA_KW_IF] = eval_if,
    [SCHEMA_KW_REF] = eval_ref,
    [SCHEMA_KW_DYNAMIC_REF] = eval_dynamic_ref,
    [SCHEMA_KW_UNEVALUATED_ITEMS] = schema_eval_unevaluated_items,
    [SCHEMA_KW_UNEVALUATED_PROPERTIES] = schema_eval_unevaluated_properties,
};

/* ---------------------------------------------------------------- marks -- */

bool schema_marks_init(struct schema_eval *ev, struct eval_marks *m,
                       size_t count)
{
    m->count = count;
    m->bits = NULL;
    if (count == 0) {
        return true;
    }
    m->bits = calloc((count + 63) / 64, sizeof(uint64_t));
    if (m->bits == NULL) {
        schema_eval_nomem(ev);
        return false;
    }
    return true;
}

void schema_marks_free(struct eval_marks *m)
{
    free(m->bits);
    m->bits = NULL;
}

void schema_marks_set(struct eval_marks *m, size_t i)
{
    if (m != NULL && i < m->count) {
        m->bits[i / 64] |= UINT64_C(1) << (i % 64);
    }
}

bool schema_marks_test(const struct eval_marks *m, size_t i)
{
    return i < m->count && (m->bits[i / 64] >> (i % 64) & 1) != 0;
}

void schema_marks_merge(struct eval_marks *into, const struct eval_marks *from)
{
    for (size_t i = 0; i < (into->count + 63) / 64; i++) {
        into->bits[i] |= from->bits[i];
    }
}

/* Marks for the same instance as like (none when like is NULL). */
static bool marks_like(struct schema_eval *ev, const struct eval_marks *like,
                       struct eval_marks *m, struct eval_marks **out)
{
    *out = NULL;
    if (like == NULL) {
        return true;
    }
    if (!schema_marks_init(ev, m, like->count)) {
        return false;
    }
    *out = m;
    return true;
}

/* ------------------------------------------------------------- limits -- */

void schema_eval_nomem(struct schema_eval *ev)
{
    ev->error = TW_ENOMEM;
    ev->stopped = true;
}

bool schema_eval_step(struct schema_eval *ev, const struct schema_node *node,
                      const struct schema_kw *kw)
{
    if (++ev->steps <= ev->schema->max_steps) {
        return true;
    }
    atomic_fetch_add_explicit(
        &((struct tw_schema *)ev->schema)->step_limit_hits, 1,
        memory_order_relaxed);
    schema_report_limit(ev, node, kw != NULL ? kw->name : "$schema",
                        "validation stopped after %llu steps (max_steps): "
                        "the schema does too much work for this instance",
                        (unsigned long long)ev->schema->max_steps);
    return false;
}

static bool eval_enter(struct schema_eval *ev, const struct schema_node *node)
{
    if (!schema_eval_step(ev, node, NULL)) {
        return false;
    }
    if (ev->depth >= ev->schema->max_depth) {
        atomic_fetch_add_explicit(
            &((struct tw_schema *)ev->schema)->depth_limit_hits, 1,
            memory_order_relaxed);
        schema_report_limit(ev, node, "$ref",
                            "validation stopped: schemas nested more than %u "
                            "deep (a $ref cycle that never reaches a value?)",
                            ev->schema->max_depth);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- nodes -- */

static size_t eval_member_count(struct tw_json instance)
{
    enum tw_json_type t = tw_json_type(instance);

    return t == TW_JSON_ARRAY || t == TW_JSON_OBJECT ? tw_json_count(instance)
                                                     : 0;
}

static bool eval_keywords(struct schema_eval *ev,
                          const struct schema_node *node,
                          struct tw_json instance, struct eval_marks *marks)
{
    bool valid = true;

    for (uint32_t i = 0; i < node->kw_count && !ev->stopped; i++) {
        const struct schema_kw *kw = &node->kws[i];

        if (!eval_table[kw->kind](ev, node, kw, instance, marks)) {
            valid = false;
            if (ev->quiet > 0) {
                break;
            }
        }
    }
    return valid && !ev->stopped;
}

bool schema_eval_node(struct schema_eval *ev, const struct schema_node *node,
                      struct tw_json instance, struct eval_marks *marks)
{
    struct eval_marks own;
    bool pushed;
    bool valid;

    if (ev->stopped || !eval_enter(ev, node)) {
        return false;
    }
    ev->depth++;
    pushed =
        ev->scope_len == 0 || ev->scope[ev->scope_len - 1] != node->resource;
    if (pushed) {
        ev->scope[ev->scope_len++] = node->resource;
    }

    /*
     * unevaluated* sees only what this node and its in-place subschemas
     * evaluated, never what the caller's siblings did: fresh marks, handed
     * on to the caller's afterwards.
     */
    if (node->tracks_evaluated) {
        if (schema_marks_init(ev, &own, eval_member_count(instance))) {
            valid = eval_keywords(ev, node, instance, &own);
            if (marks != NULL && own.count == marks->count) {
                schema_marks_merge(marks, &own);
            }
            schema_marks_free(&own);
        } else {
            valid = false;
        }
    } else {
        valid = eval_keywords(ev, node, instance, marks);
    }

    if (pushed) {
        ev->scope_len--;
    }
    ev->depth--;
    return valid;
}

bool schema_eval_item(struct schema_eval *ev, const struct schema_node *node,
                      struct tw_json item, size_t index)
{
    bool valid;

    ev->path[ev->path_len++] = (struct eval_segment){.index = index};
    valid = schema_eval_node(ev, node, item, NULL);
    ev->path_len--;
    return valid;
}

bool schema_eval_member(struct schema_eval *ev, const struct schema_node *node,
                        struct tw_json value, const char *key, size_t len)
{
    bool valid;

    ev->path[ev->path_len++] = (struct eval_segment){.key = key, .len = len};
    valid = schema_eval_node(ev, node, value, NULL);
    ev->path_len--;
    return valid;
}

/* ------------------------------------------------ in-place applicators -- */

static bool eval_all_of(struct schema_eval *ev, const struct schema_node *node,
                        const struct schema_kw *kw, struct tw_json instance,
                        struct eval_marks *marks)
{
    bool valid = true;

    (void)node;
    for (uint32_t i = 0; i < kw->u.list.count; i++) {
        if (!schema_eval_node(ev, kw->u.list.nodes[i], instance, marks)) {
            valid = false;
            if (ev->quiet > 0 || ev->stopped) {
                break;
            }
        }
    }
    return valid;
}

/*
 * One branch of anyOf or oneOf, quietly, with marks of its own that
 * reach the caller's only if the branch holds.
 */
static bool eval_branch(struct schema_eval *ev, const struct schema_node *node,
                        struct tw_json instance, struct eval_marks *marks)
{
    struct eval_marks branch;
    struct eval_marks *mine;
    bool valid;

    if (!marks_like(ev, marks, &branch, &mine)) {
        return false;
    }
    ev->quiet++;
    valid = schema_eval_node(ev, node, instance, mine);
    ev->quiet--;
    if (valid && mine != NULL) {
        schema_marks_merge(marks, mine);
    }
    if (mine != NULL) {
        schema_marks_free(mine);
    }
    return valid;
}

static bool eval_any_of(struct schema_eval *ev, const struct schema_node *node,
                        const struct schema_kw *kw, struct tw_json instance,
                        struct eval_marks *marks)
{
    bool any = false;

    /* With marks every branch counts, so none may be skipped. */
    for (uint32_t i = 0; i < kw->u.list.count && !ev->stopped; i++) {
        if (eval_branch(ev, kw->u.list.nodes[i], instance, marks)) {
            any = true;
            if (marks == NULL) {
                break;
            }
        }
    }
    if (!any) {
        schema_report(ev, node, kw,
                      "must match at least one of the %u schemas in anyOf, "
                      "matched none",
                      kw->u.list.count);
    }
    return any;
}

static bool eval_one_of(struct schema_eval *ev, const struct schema_node *node,
                        const struct schema_kw *kw, struct tw_json instance,
                        struct eval_marks *marks)
{
    uint32_t matched[2] = {0, 0};
    uint32_t count = 0;

    for (uint32_t i = 0; i < kw->u.list.count && count < 2 && !ev->stopped;
         i++) {
        if (eval_branch(ev, kw->u.list.nodes[i], instance, marks)) {
            matched[count++] = i;
        }
    }
    if (count == 0) {
        schema_report(ev, node, kw,
                      "must match exactly one of the %u schemas in oneOf, "
                      "matched none",
                      kw->u.list.count);
    } else if (count > 1) {
        schema_report(ev, node, kw,
                      "must match exactly one of the schemas in oneOf, "
                      "matched both %u and %u",
                      matched[0], matched[1]);
    }
    return count == 1;
}

static bool eval_not(struct schema_eval *ev, const struct schema_node *node,
                     const struct schema_kw *kw, struct tw_json instance,
                     struct eval_marks *marks)
{
    bool valid;

    (void)marks; /* what not evaluates never counts as evaluated */
    ev->quiet++;
    valid = schema_eval_node(ev, kw->u.node, instance, NULL);
    ev->quiet--;
    if (valid) {
        schema_report(ev, node, kw, "must not match the schema in not");
    }
    return !valid && !ev->stopped;
}

static bool eval_if(struct schema_eval *ev, const struct schema_node *node,
                    const struct schema_kw *kw, struct tw_json instance,
                    struct eval_marks *marks)
{
    const struct schema_node *branch;

    (void)node;
    if (eval_branch(ev, kw->u.cond.if_node, instance, marks)) {
        branch = kw->u.cond.then_node;
    } else {
        branch = kw->u.cond.else_node;
    }
    if (ev->stopped) {
        return false;
    }
    return branch == NULL || schema_eval_node(ev, branch, instance, marks);
}

static bool eval_ref(struct schema_eval *ev, const struct schema_node *node,
                     const struct schema_kw *kw, struct tw_json instance,
                     struct eval_marks *marks)
{
    (void)node;
    return schema_eval_node(ev, kw->u.node, instance, marks);
}

/* The outermost resource in the dynamic scope with the anchor wins. */
static const struct schema_node *eval_dynamic_target(struct schema_eval *ev,
                                                     const char *anchor)
{
    for (uint32_t i = 0; i < ev->scope_len; i++) {
        const struct schema_resource *r = ev->scope[i];

        for (uint32_t j = 0; j < r->dynamic_count; j++) {
            if (strcmp(r->dynamic[j].name, anchor) == 0) {
                return r->dynamic[j].node;
            }
        }
    }
    return NULL;
}

static bool eval_dynamic_ref(struct schema_eval *ev,
                             const struct schema_node *node,
                             const struct schema_kw *kw,
                             struct tw_json instance, struct eval_marks *marks)
{
    const struct schema_node *target = kw->u.dynamic_ref.node;

    (void)node;
    if (kw->u.dynamic_ref.anchor != NULL) {
        const struct schema_node *dynamic =
            eval_dynamic_target(ev, kw->u.dynamic_ref.anchor);

        if (dynamic != NULL) {
            target = dynamic;
        }
    }
    return schema_eval_node(ev, target, instance, marks);
}

/* ---------------------------------------------------------------- entry -- */

int tw_schema_validate(const struct tw_schema *schema, struct tw_json instance,
                       struct tw_schema_result *result)
{
    struct eval_segment path_stack[EVAL_STACK_DEPTH + 1];
    const struct schema_resource *scope_stack[EVAL_STACK_DEPTH];
    struct schema_eval ev = {.schema = schema, .result = result};
    void *heap = NULL;
    bool valid;

    result->valid = false;
    result->limit_hit = false;
    result->total = 0;
    result->count = 0;

    /* One spare path slot: a report about a missing member adds it. */
    if (schema->max_depth <= EVAL_STACK_DEPTH) {
        ev.path = path_stack;
        ev.scope = scope_stack;
    } else {
        size_t depth = schema->max_depth;

        heap =
            malloc((depth + 1) * sizeof(*ev.path) + depth * sizeof(*ev.scope));
        if (heap == NULL) {
            return tw_err_set(TW_ENOMEM, "out of memory validating");
        }
        ev.path = heap;
        ev.scope = (const struct schema_resource **)(ev.path + depth + 1);
    }

    valid = schema_eval_node(&ev, schema->root, instance, NULL);

    pcre2_match_data_free(ev.match);
    free(heap);
    if (ev.error != 0) {
        return tw_err_set(ev.error, "out of memory validating");
    }
    result->valid = valid && !ev.stopped;
    return 0;
}
