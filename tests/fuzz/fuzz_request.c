/*
 * fuzz_request.c - libFuzzer target for the collector's request decoder:
 * what a client's bytes go through before anything is stored.
 *
 * The first input byte picks the wrapping, as the HTTP layer would from
 * the request: 0 a plain body, 1 a gzip body (Content-Encoding), 2 the
 * pixel's base64 data argument. The rest is decoded, parsed as JSON, and
 * every message found (each element of "batch", or the body itself) is
 * checked, enriched and written as an accepted event and as a failed
 * record. Whatever is written must parse back as JSON: the log must never
 * hold an event a reader cannot read. Inputs that fail to decode or parse
 * simply end; a crash, a leak or a trap is a finding.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "collect/decode.h"
#include "collect/internal.h"
#include "json/json.h"

#define FUZZ_MAX_BODY (1u << 20)

static struct tw_json_parser *parser;
static struct tw_json_parser *reparser;

static void write_back(const struct msg_envelope *env, struct tw_json msg)
{
    struct msg_fields f;
    struct tw_buf out;
    struct tw_json again;
    char why[256] = "";

    tw_buf_init(&out, 8u << 20);
    if (msg_check(env, msg, &f, why, sizeof(why)) == 0) {
        msg_write(env, msg, &f, NULL, &out);
        FUZZ_CHECK(out.status != 0 ||
                   tw_json_parse(reparser, out.data, out.len, &again) == 0);
        tw_buf_reset(&out);
    }
    collect_write_failed(&out, env, COLLECT_MALFORMED, why, NULL, msg);
    FUZZ_CHECK(out.status != 0 ||
               tw_json_parse(reparser, out.data, out.len, &again) == 0);
    tw_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct msg_envelope env = {.source = "fuzz",
                               .client_ip = "127.0.0.1",
                               .received_ms = 1764842400000};
    struct tw_buf decoded;
    struct tw_json root;
    struct tw_json list;
    struct tw_json msg;
    struct tw_json_iter it;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    int rc = 0;

    if (size == 0) {
        return 0;
    }
    if (parser == NULL) {
        FUZZ_CHECK(tw_json_parser_new(FUZZ_MAX_BODY, 0, &parser) == 0);
        FUZZ_CHECK(tw_json_parser_new(16u << 20, 0, &reparser) == 0);
    }
    tw_buf_init(&decoded, FUZZ_MAX_BODY);
    if (data[0] % 3 == 1) {
        rc = decode_gzip(body, len, &decoded);
    } else if (data[0] % 3 == 2) {
        rc = decode_base64(body, len, &decoded);
    }
    if (rc == 0 && data[0] % 3 != 0) {
        body = decoded.data != NULL ? decoded.data : "";
        len = decoded.len;
    }
    if (rc == 0 && tw_json_parse(parser, body, len, &root) == 0 &&
        tw_json_type(root) == TW_JSON_OBJECT) {
        if (tw_json_get(root, "batch", &list) &&
            tw_json_type(list) == TW_JSON_ARRAY) {
            tw_json_iter_init(&it, list);
            while (tw_json_array_next(&it, &msg)) {
                write_back(&env, msg);
            }
        } else {
            env.default_type = "track";
            write_back(&env, root);
        }
    }
    tw_buf_free(&decoded);
    return 0;
}
