/*
 * validate_array.c - array keywords: prefixItems/items (draft-07 items
 * and additionalItems), contains with minContains/maxContains,
 * minItems/maxItems, uniqueItems and unevaluatedItems.
 */
#include "schema/validate.h"

bool schema_eval_items(struct schema_eval *ev, const struct schema_node *node,
                       const struct schema_kw *kw, struct tw_json instance,
                       struct eval_marks *marks)
{
    struct tw_json_iter it;
    struct tw_json item;
    bool valid = true;
    size_t i = 0;

    (void)node;
    if (tw_json_type(instance) != TW_JSON_ARRAY) {
        return true;
    }
    tw_json_iter_init(&it, instance);
    while (tw_json_array_next(&it, &item) && !ev->stopped) {
        const struct schema_node *child = i < kw->u.items.prefix_count
                                              ? kw->u.items.prefix[i]
                                              : kw->u.items.rest;

        if (child == NULL) {
            break; /* a prefix only, and the array is longer */
        }
        if (!schema_eval_item(ev, child, item, i)) {
            valid = false;
            if (ev->quiet > 0) {
                break;
            }
        }
        schema_marks_set(marks, i);
        i++;
    }
    return valid;
}

bool schema_eval_contains(struct schema_eval *ev,
                          const struct schema_node *node,
                          const struct schema_kw *kw, struct tw_json instance,
                          struct eval_marks *marks)
{
    uint64_t min = kw->u.contains.min;
    uint64_t max = kw->u.contains.max;
    struct tw_json_iter it;
    struct tw_json item;
    uint64_t found = 0;
    size_t i = 0;

    if (tw_json_type(instance) != TW_JSON_ARRAY) {
        return true;
    }
    ev->quiet++;
    tw_json_iter_init(&it, instance);
    while (tw_json_array_next(&it, &item) && !ev->stopped) {
        if (schema_eval_item(ev, kw->u.contains.node, item, i)) {
            found++;
            schema_marks_set(marks, i);
        }
        /* Enough found, and nobody needs the rest counted or marked. */
        if (found >= min && max == UINT64_MAX && marks == NULL) {
            break;
        }
        i++;
    }
    ev->quiet--;
    if (ev->stopped) {
        return false;
    }
    if (found < min) {
        schema_report(ev, node, kw,
                      "must contain at least %llu item%s matching contains, "
                      "found %llu",
                      (unsigned long long)min, min == 1 ? "" : "s",
                      (unsigned long long)found);
        return false;
    }
    if (found > max) {
        schema_report(ev, node, kw,
                      "must contain at most %llu item%s matching contains, "
                      "found %llu",
                      (unsigned long long)max, max == 1 ? "" : "s",
                      (unsigned long long)found);
        return false;
    }
    return true;
}

bool schema_eval_item_count(struct schema_eval *ev,
                            const struct schema_node *node,
                            const struct schema_kw *kw, struct tw_json instance,
                            struct eval_marks *marks)
{
    bool max = kw->kind == SCHEMA_KW_MAX_ITEMS;
    uint64_t n;

    (void)marks;
    if (tw_json_type(instance) != TW_JSON_ARRAY) {
        return true;
    }
    n = tw_json_count(instance);
    if (max ? n <= kw->u.count : n >= kw->u.count) {
        return true;
    }
    schema_report(ev, node, kw, "must have at %s %llu item%s, got %llu",
                  max ? "most" : "least", (unsigned long long)kw->u.count,
                  kw->u.count == 1 ? "" : "s", (unsigned long long)n);
    return false;
}

/* Items i and j that are equal, or false; every comparison is a step. */
static bool unique_find(struct schema_eval *ev, const struct schema_node *node,
                        const struct schema_kw *kw, struct tw_json instance,
                        size_t *first, size_t *second)
{
    struct tw_json_iter outer;
    struct tw_json a;
    size_t i = 0;

    tw_json_iter_init(&outer, instance);
    while (tw_json_array_next(&outer, &a)) {
        struct tw_json_iter inner = outer;
        struct tw_json b;
        size_t j = i + 1;

        while (tw_json_array_next(&inner, &b)) {
            if (!schema_eval_step(ev, node, kw)) {
                return false;
            }
            if (tw_json_equal(a, b)) {
                *first = i;
                *second = j;
                return true;
            }
            j++;
        }
        i++;
    }
    return false;
}

bool schema_eval_unique(struct schema_eval *ev, const struct schema_node *node,
                        const struct schema_kw *kw, struct tw_json instance,
                        struct eval_marks *marks)
{
    size_t first;
    size_t second;

    (void)marks;
    if (tw_json_type(instance) != TW_JSON_ARRAY) {
        return true;
    }
    if (!unique_find(ev, node, kw, instance, &first, &second)) {
        return !ev->stopped;
    }
    schema_report(ev, node, kw,
                  "must not hold duplicates: items %zu and %zu are equal",
                  first, second);
    return false;
}

bool schema_eval_unevaluated_items(struct schema_eval *ev,
                                   const struct schema_node *node,
                                   const struct schema_kw *kw,
                                   struct tw_json instance,
                                   struct eval_marks *marks)
{
    struct tw_json_iter it;
    struct tw_json item;
    bool valid = true;
    size_t i = 0;

    (void)node;
    if (tw_json_type(instance) != TW_JSON_ARRAY) {
        return true;
    }
    tw_json_iter_init(&it, instance);
    while (tw_json_array_next(&it, &item) && !ev->stopped) {
        if (!schema_marks_test(marks, i)) {
            if (!schema_eval_item(ev, kw->u.node, item, i)) {
                valid = false;
                if (ev->quiet > 0) {
                    break;
                }
            }
            schema_marks_set(marks, i);
        }
        i++;
    }
    return valid;
}
