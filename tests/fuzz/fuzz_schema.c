/*
 * fuzz_schema.c - libFuzzer target for the schema compiler and validator
 * (src/schema/schema.h).
 *
 * The input is a schema, a NUL byte, then an instance (without a NUL the
 * schema validates itself). The instance is also registered as the
 * document https://fuzz.example/remote.json, so references into another
 * document are exercised. The odd-sized inputs compile as draft-07, the
 * others as 2020-12, with format asserted and small limits so that
 * hostile schemas end quickly.
 *
 * Compile must succeed or fail with a message and a location; validate
 * must return 0 with a result that is consistent (valid exactly when no
 * violation was found, at most TW_SCHEMA_MAX_VIOLATIONS kept, pointers
 * that start with '/') and the same when validated again: a compiled
 * schema does not change while validating. A broken invariant stops the
 * fuzzer with __builtin_trap().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "common/error.h"
#include "json/json.h"
#include "obs/logging.h"
#include "schema/schema.h"

#define FUZZ_REMOTE "https://fuzz.example/remote.json"

static void fuzz_check_result(const struct tw_schema_result *r)
{
    FUZZ_CHECK(r->valid == (r->total == 0));
    FUZZ_CHECK(r->count <= TW_SCHEMA_MAX_VIOLATIONS);
    FUZZ_CHECK(r->count == (r->total < TW_SCHEMA_MAX_VIOLATIONS
                                ? r->total
                                : TW_SCHEMA_MAX_VIOLATIONS));
    for (uint32_t i = 0; i < r->count; i++) {
        const struct tw_schema_violation *v = &r->violations[i];

        FUZZ_CHECK(memchr(v->instance_path, '\0', TW_SCHEMA_PATH_MAX) != NULL);
        FUZZ_CHECK(memchr(v->message, '\0', TW_SCHEMA_MESSAGE_MAX) != NULL);
        FUZZ_CHECK(v->instance_path[0] == '\0' || v->instance_path[0] == '/');
        FUZZ_CHECK(strchr(v->schema_path, '#') != NULL);
        FUZZ_CHECK(v->keyword[0] != '\0' && v->message[0] != '\0');
    }
}

static bool fuzz_same(const struct tw_schema_result *a,
                      const struct tw_schema_result *b)
{
    if (a->valid != b->valid || a->total != b->total || a->count != b->count ||
        a->limit_hit != b->limit_hit) {
        return false;
    }
    for (uint32_t i = 0; i < a->count; i++) {
        if (strcmp(a->violations[i].instance_path,
                   b->violations[i].instance_path) != 0 ||
            strcmp(a->violations[i].message, b->violations[i].message) != 0) {
            return false;
        }
    }
    return true;
}

static void fuzz_validate(const struct tw_schema *schema, const char *text,
                          size_t len)
{
    static struct tw_schema_result first;
    static struct tw_schema_result again;
    struct tw_json_parser *parser;
    struct tw_json instance;

    FUZZ_CHECK(tw_json_parser_new(1u << 20, 0, &parser) == 0);
    if (tw_json_parse(parser, text, len, &instance) == 0) {
        FUZZ_CHECK(tw_schema_validate(schema, instance, &first) == 0);
        fuzz_check_result(&first);
        FUZZ_CHECK(tw_schema_validate(schema, instance, &again) == 0);
        FUZZ_CHECK(fuzz_same(&first, &again));
    }
    tw_json_parser_free(parser);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t schema_len = nul != NULL ? (size_t)(nul - text) : size;
    const char *inst = nul != NULL ? nul + 1 : text;
    size_t inst_len = nul != NULL ? size - schema_len - 1 : size;
    struct tw_schema_registry *reg;
    struct tw_schema_options opts;
    struct tw_schema_error err;
    struct tw_schema *schema;
    int rc;

    obs_log_set_level(OBS_OFF);
    tw_schema_options_init(&opts);
    opts.default_draft = size % 2 ? TW_SCHEMA_DRAFT_7 : TW_SCHEMA_DRAFT_2020_12;
    opts.format_assert = true;
    opts.max_steps = 20000;
    opts.regex_match_limit = 10000;

    FUZZ_CHECK(tw_schema_registry_new(1u << 20, &reg) == 0);
    (void)tw_schema_registry_add(reg, FUZZ_REMOTE, inst, inst_len);

    rc = tw_schema_compile(reg, text, schema_len, &opts, &schema, &err);
    if (rc < 0) {
        FUZZ_CHECK(rc == TW_EINVAL || rc == TW_ENOENT || rc == TW_ENOMEM);
        FUZZ_CHECK(schema == NULL && err.message[0] != '\0');
    } else {
        fuzz_validate(schema, inst, inst_len);
        tw_schema_free(schema);
    }
    tw_schema_registry_free(reg);
    tw_err_clear();
    return 0;
}
