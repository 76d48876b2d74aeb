/*
 * plan.h - tracking plans, compiled: which schema judges which event.
 *
 * A plan maps each track event name to the schema of its properties and
 * names schemas for the fields of identify (traits), page and screen
 * (properties) and group (traits). Compiling reads and compiles every
 * schema file once; judging an event afterwards reads no file.
 *
 * Schemas are judged with format asserted (a "date-time" that is not one
 * is a violation), as a tracking plan means it.
 */
#ifndef TW_COLLECT_PLAN_H
#define TW_COLLECT_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "json/json.h"

/* The most violations kept per event; the total is counted beyond. */
#define PLAN_VIOLATIONS_MAX 16

struct plan;

struct plan_violation {
    char pointer[192]; /* JSON Pointer into the event, "/properties/price" */
    char keyword[32];  /* "type", "required", ... */
    char message[192]; /* for a person: "must be a number, got a string" */
};

enum plan_outcome {
    PLAN_VALID = 0,
    PLAN_UNPLANNED = 1, /* a track event the plan does not list */
    PLAN_INVALID = 2,   /* breaks its schema: see the violations */
};

struct plan_verdict {
    enum plan_outcome outcome;
    size_t violation_count; /* all found; at most _MAX are kept */
    size_t kept;
    struct plan_violation violations[PLAN_VIOLATIONS_MAX];
};

/*
 * Compiles the plan described by cfg. Every schema that cannot be read
 * or compiled adds a "FILE:LINE: ..." line to errors (naming the plan's
 * line in the configuration and the place inside the schema) and the
 * call returns TW_EINVAL. The caller owns *out (plan_free).
 */
TW_MUST_CHECK int plan_compile(const struct tw_config *config,
                               const struct cfg_plan *cfg, struct plan **out,
                               struct cfg_errors *errors);
void plan_free(struct plan *plan);

const char *plan_name(const struct plan *plan);
const char *plan_version(const struct plan *plan);

/*
 * Judges one message of the given call type ("track", ...) against the
 * plan. Safe from many threads at once. Never fails: an event the
 * validator cannot finish (a regex over its limit, say) is invalid, with
 * a violation that says so.
 */
void plan_judge(const struct plan *plan, const char *type,
                struct tw_json message, struct plan_verdict *verdict);

#endif
