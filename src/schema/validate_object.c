/*
 * validate_object.c - object keywords: properties with patternProperties
 * and additionalProperties, propertyNames, required, dependentRequired
 * and dependentSchemas (draft-07: dependencies), minProperties and
 * maxProperties, unevaluatedProperties.
 */
#include <stdlib.h>
#include <string.h>

#include "schema/validate.h"

static int named_compare(const void *key, const void *element)
{
    const struct schema_named_node *x = key;
    const struct schema_named_node *y = element;
    size_t n = x->len < y->len ? x->len : y->len;
    int diff = memcmp(x->name, y->name, n);

    return diff != 0 ? diff : (x->len > y->len) - (x->len < y->len);
}

/*
 * One member against properties, every matching patternProperties, and
 * additionalProperties when neither matched. Returns -1 when stopped.
 */
static int properties_member(struct schema_eval *ev,
                             const struct schema_node *node,
                             const struct schema_kw *kw, const char *key,
                             size_t len, struct tw_json value, bool *matched)
{
    struct schema_named_node probe = {.name = key, .len = len};
    const struct schema_named_node *prop = NULL;
    bool valid = true;

    if (kw->u.properties.prop_count > 0) {
        prop =
            bsearch(&probe, kw->u.properties.props, kw->u.properties.prop_count,
                    sizeof(*prop), named_compare);
    }

    *matched = prop != NULL;
    if (prop != NULL) {
        valid = schema_eval_member(ev, prop->node, value, key, len);
    }
    for (uint32_t i = 0; i < kw->u.properties.pattern_count; i++) {
        const struct schema_pattern_node *p = &kw->u.properties.patterns[i];
        int rc = schema_eval_regex(ev, node, "patternProperties", p->regex, key,
                                   len);

        if (rc < 0) {
            return -1;
        }
        if (rc == 1) {
            *matched = true;
            valid = schema_eval_member(ev, p->node, value, key, len) && valid;
        }
    }
    if (!*matched && kw->u.properties.additional != NULL) {
        *matched = true;
        valid = schema_eval_member(ev, kw->u.properties.additional, value, key,
                                   len) &&
                valid;
    }
    return valid ? 1 : 0;
}

bool schema_eval_properties(struct schema_eval *ev,
                            const struct schema_node *node,
                            const struct schema_kw *kw, struct tw_json instance,
                            struct eval_marks *marks)
{
    struct tw_json_iter it;
    struct tw_json value;
    const char *key;
    size_t len;
    bool valid = true;
    size_t i = 0;

    if (tw_json_type(instance) != TW_JSON_OBJECT) {
        return true;
    }
    tw_json_iter_init(&it, instance);
    while (tw_json_object_next(&it, &key, &len, &value) && !ev->stopped) {
        bool matched;
        int rc = properties_member(ev, node, kw, key, len, value, &matched);

        if (rc <= 0) {
            valid = false;
            if (rc < 0 || ev->quiet > 0) {
                break;
            }
        }
        if (matched) {
            schema_marks_set(marks, i);
        }
        i++;
    }
    return valid;
}

bool schema_eval_property_names(struct schema_eval *ev,
                                const struct schema_node *node,
                                const struct schema_kw *kw,
                                struct tw_json instance,
                                struct eval_marks *marks)
{
    struct tw_json_iter it;
    struct tw_json name;
    struct tw_json value;
    bool valid = true;

    (void)node;
    (void)marks;
    if (tw_json_type(instance) != TW_JSON_OBJECT) {
        return true;
    }
    tw_json_iter_init(&it, instance);
    while (tw_json_object_next_entry(&it, &name, &value) && !ev->stopped) {
        size_t len;
        const char *key = tw_json_string(name, &len);

        if (!schema_eval_member(ev, kw->u.node, name, key, len)) {
            valid = false;
            if (ev->quiet > 0) {
                break;
            }
        }
    }
    return valid;
}

/* Reports every name of list missing from instance; false if any is. */
static bool required_names(struct schema_eval *ev,
                           const struct schema_node *node,
                           const struct schema_kw *kw, struct tw_json instance,
                           const struct schema_name_list *list,
                           const char *because, size_t because_len)
{
    struct tw_json value;
    bool valid = true;

    for (uint32_t i = 0; i < list->count; i++) {
        if (tw_json_object_get(instance, list->names[i], list->lens[i],
                               &value)) {
            continue;
        }
        valid = false;
        if (ev->quiet > 0) {
            break;
        }
        if (because != NULL) {
            schema_report_member(ev, node, kw, list->names[i], list->lens[i],
                                 "is required when \"%.*s\" is present",
                                 (int)(because_len > 64 ? 64 : because_len),
                                 because);
        } else {
            schema_report_member(ev, node, kw, list->names[i], list->lens[i],
                                 "is required");
        }
    }
    return valid;
}

bool schema_eval_required(struct schema_eval *ev,
                          const struct schema_node *node,
                          const struct schema_kw *kw, struct tw_json instance,
                          struct eval_marks *marks)
{
    (void)marks;
    if (tw_json_type(instance) != TW_JSON_OBJECT) {
        return true;
    }
    return required_names(ev, node, kw, instance, &kw->u.required, NULL, 0);
}

bool schema_eval_dependent_required(struct schema_eval *ev,
                                    const struct schema_node *node,
                                    const struct schema_kw *kw,
                                    struct tw_json instance,
                                    struct eval_marks *marks)
{
    struct tw_json value;
    bool valid = true;

    (void)marks;
    if (tw_json_type(instance) != TW_JSON_OBJECT) {
        return true;
    }
    for (uint32_t i = 0; i < kw->u.dependent_required.count; i++) {
        const struct schema_dependency *dep = &kw->u.dependent_required.deps[i];

        if (tw_json_object_get(instance, dep->name, dep->len, &value) &&
            !required_names(ev, node, kw, instance, &dep->required, dep->name,
                            dep->len)) {
            valid = false;
            if (ev->quiet > 0) {
                break;
            }
        }
    }
    return valid;
}

bool schema_eval_dependent_schemas(struct schema_eval *ev,
                                   const struct schema_node *node,
                                   const struct schema_kw *kw,
                                   struct tw_json instance,
                                   struct eval_marks *marks)
{
    struct tw_json value;
    bool valid = true;

    (void)node;
    if (tw_json_type(instance) != TW_JSON_OBJECT) {
        return true;
    }
    for (uint32_t i = 0; i < kw->u.dependent_schemas.count && !ev->stopped;
         i++) {
        const struct schema_named_node *dep = &kw->u.dependent_schemas.deps[i];

        if (tw_json_object_get(instance, dep->name, dep->len, &value) &&
            !schema_eval_node(ev, dep->node, instance, marks)) {
            valid = false;
            if (ev->quiet > 0) {
                break;
            }
        }
    }
    return valid;
}

bool schema_eval_property_count(struct schema_eval *ev,
                                const struct schema_node *node,
                                const struct schema_kw *kw,
                                struct tw_json instance,
                                struct eval_marks *marks)
{
    bool max = kw->kind == SCHEMA_KW_MAX_PROPERTIES;
    uint64_t n;

    (void)marks;
    if (tw_json_type(instance) != TW_JSON_OBJECT) {
        return true;
    }
    n = tw_json_count(instance);
    if (max ? n <= kw->u.count : n >= kw->u.count) {
        return true;
    }
    schema_report(ev, node, kw, "must have at %s %llu propert%s, got %llu",
                  max ? "most" : "least", (unsigned long long)kw->u.count,
                  kw->u.count == 1 ? "y" : "ies", (unsigned long long)n);
    return false;
}

bool schema_eval_unevaluated_properties(struct schema_eval *ev,
                                        const struct schema_node *node,
                                        const struct schema_kw *kw,
                                        struct tw_json instance,
                                        struct eval_marks *marks)
{
    struct tw_json_iter it;
    struct tw_json value;
    const char *key;
    size_t len;
    bool valid = true;
    size_t i = 0;

    (void)node;
    if (tw_json_type(instance) != TW_JSON_OBJECT) {
        return true;
    }
    tw_json_iter_init(&it, instance);
    while (tw_json_object_next(&it, &key, &len, &value) && !ev->stopped) {
        if (!schema_marks_test(marks, i)) {
            if (!schema_eval_member(ev, kw->u.node, value, key, len)) {
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
