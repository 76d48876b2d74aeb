/*
 * test_message.c - Segment message rules and enrichment
 * (collect/message.h) and the JSON writer under them: what the API
 * requires is enforced with a sentence, and the stored event carries the
 * client's fields plus the server's, skew-corrected.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/message.h"
#include "common/units.h"
#include "json/json_write.h"

static struct tw_json_parser *parser;
static struct tw_json_parser *reparser;

static void setup(void)
{
    cr_assert_eq(tw_json_parser_new(1 << 20, 0, &parser), 0);
    cr_assert_eq(tw_json_parser_new(1 << 20, 0, &reparser), 0);
}

static void teardown(void)
{
    tw_json_parser_free(parser);
    tw_json_parser_free(reparser);
}

TestSuite(message, .init = setup, .fini = teardown);

static struct tw_json parse(const char *text)
{
    struct tw_json v;

    cr_assert_eq(tw_json_parse(parser, text, strlen(text), &v), 0, "%s: %s",
                 text, tw_err_message());
    return v;
}

static int64_t ms_of(const char *text)
{
    int64_t ms;

    cr_assert_eq(tw_parse_time(text, &ms), 0);
    return ms;
}

static struct msg_envelope envelope(void)
{
    struct msg_envelope env;

    memset(&env, 0, sizeof(env));
    env.source = "web";
    env.received_ms = ms_of("2026-12-04T10:00:00.000Z");
    env.client_ip = "192.0.2.7";
    return env;
}

static int check(const char *text, char *why)
{
    struct msg_envelope env = envelope();
    struct msg_fields f;

    return msg_check(&env, parse(text), &f, why, 256);
}

Test(message, what_the_api_requires_is_refused_with_a_sentence)
{
    static const struct {
        const char *json;
        const char *words;
    } cases[] = {
        {"{\"userId\":\"u\"}", "no \"type\""},
        {"{\"type\":\"clicked\",\"userId\":\"u\"}", "must be one of"},
        {"{\"type\":\"track\",\"event\":\"E\"}", "\"userId\" or an"},
        {"{\"type\":\"track\",\"userId\":\"u\"}", "\"event\" name"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"\"}", "\"event\""},
        {"{\"type\":\"group\",\"userId\":\"u\"}", "\"groupId\""},
        {"{\"type\":\"alias\",\"previousId\":\"p\",\"anonymousId\":\"a\"}",
         "\"previousId\" and a \"userId\""},
        {"{\"type\":\"page\",\"userId\":\"u\",\"messageId\":7}",
         "\"messageId\" must be a string"},
        {"{\"type\":\"page\",\"userId\":\"u\",\"timestamp\":\"noon\"}",
         "\"timestamp\" must be an ISO-8601"},
        {"[1]", "must be a JSON object"},
    };
    char why[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why[0] = '\0';
        cr_assert_eq(check(cases[i].json, why), TW_EINVAL, "%s", cases[i].json);
        cr_assert(strstr(why, cases[i].words), "%s: %s", cases[i].json, why);
    }
}

Test(message, a_message_id_of_99_characters_in_any_script_is_accepted)
{
    char text[600];
    char why[256];
    char id[400] = "";

    /* 99 three-byte characters: 297 bytes, under 100 characters. */
    for (int i = 0; i < 99; i++) {
        strcat(id, "\xe2\x82\xac");
    }
    snprintf(text, sizeof(text),
             "{\"type\":\"page\",\"userId\":\"u\",\"messageId\":\"%s\"}", id);
    cr_assert_eq(check(text, why), 0, "%s", why);
    strcat(id, "\xe2\x82\xac");
    snprintf(text, sizeof(text),
             "{\"type\":\"page\",\"userId\":\"u\",\"messageId\":\"%s\"}", id);
    cr_assert_eq(check(text, why), TW_EINVAL);
    cr_assert(strstr(why, "1 to 99 characters"), "%s", why);
}

Test(message, a_message_id_of_100_bytes_is_too_long_and_99_is_not)
{
    char text[400];
    char why[256];
    char id[101];

    memset(id, 'x', 100);
    id[100] = '\0';
    snprintf(text, sizeof(text),
             "{\"type\":\"page\",\"userId\":\"u\",\"messageId\":\"%s\"}", id);
    cr_assert_eq(check(text, why), TW_EINVAL);
    id[99] = '\0';
    snprintf(text, sizeof(text),
             "{\"type\":\"page\",\"userId\":\"u\",\"messageId\":\"%s\"}", id);
    cr_assert_eq(check(text, why), 0, "%s", why);
}

Test(message, numeric_user_ids_are_partition_keys_too)
{
    struct msg_envelope env = envelope();
    struct msg_fields f;
    char why[256];

    cr_assert_eq(msg_check(&env, parse("{\"type\":\"identify\",\"userId\":42}"),
                           &f, why, sizeof(why)),
                 0);
    cr_assert_eq(f.user_id_len, 2);
    cr_assert(memcmp(f.user_id, "42", 2) == 0);
    cr_assert(f.message_id_assigned);
    cr_assert_eq(strlen(f.message_id), 36);
    cr_assert_eq(f.message_id[14], '4', "a version 4 UUID");
}

/* Writes the enriched form of text and parses it back. */
static struct tw_json enrich(struct msg_envelope *env, const char *text,
                             struct tw_buf *out)
{
    struct msg_fields f;
    struct tw_json root;
    char why[256];

    struct tw_json message = parse(text);

    tw_buf_init(out, 1 << 20);
    cr_assert_eq(msg_check(env, message, &f, why, sizeof(why)), 0, "%s", why);
    msg_write(env, message, &f, NULL, out);
    cr_assert_eq(tw_buf_status(out), 0);
    cr_assert_eq(tw_json_parse(reparser, out->data, out->len, &root), 0,
                 "not JSON: %s", out->data);
    return root;
}

static const char *member_text(struct tw_json obj, const char *path)
{
    char name[64];
    const char *dot;
    struct tw_json v = obj;
    size_t len;

    while ((dot = strchr(path, '.')) != NULL) {
        memcpy(name, path, (size_t)(dot - path));
        name[dot - path] = '\0';
        cr_assert(tw_json_get(v, name, &v), "no %s", name);
        path = dot + 1;
    }
    cr_assert(tw_json_get(v, path, &v), "no %s", path);
    cr_assert_eq(tw_json_type(v), TW_JSON_STRING, "%s", path);
    return tw_json_string(v, &len);
}

Test(message, the_timestamp_is_corrected_for_the_clients_clock)
{
    struct msg_envelope env = envelope();
    struct tw_buf out;
    struct tw_json e;

    /* The client's clock runs one hour ahead; the event happened 10 s
     * before it was sent. */
    env.has_sent_at = true;
    env.sent_at_ms = ms_of("2026-12-04T11:00:05.000Z");
    e = enrich(&env,
               "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\","
               "\"originalTimestamp\":\"2026-12-04T10:59:55.000Z\"}",
               &out);
    cr_assert_str_eq(member_text(e, "timestamp"), "2026-12-04T09:59:50.000Z");
    cr_assert_str_eq(member_text(e, "receivedAt"), "2026-12-04T10:00:00.000Z");
    cr_assert_str_eq(member_text(e, "originalTimestamp"),
                     "2026-12-04T10:59:55.000Z");
    tw_buf_free(&out);
}

Test(message, without_sent_at_the_clients_time_is_kept_else_received_at)
{
    struct msg_envelope env = envelope();
    struct tw_buf out;
    struct tw_json e;

    e = enrich(&env,
               "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\","
               "\"timestamp\":\"2026-01-02T03:04:05.678+01:00\"}",
               &out);
    cr_assert_str_eq(member_text(e, "timestamp"), "2026-01-02T02:04:05.678Z");
    tw_buf_free(&out);
    e = enrich(&env, "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\"}",
               &out);
    cr_assert_str_eq(member_text(e, "timestamp"), "2026-12-04T10:00:00.000Z");
    tw_buf_free(&out);
}

Test(message, the_stored_event_keeps_the_clients_fields_but_the_write_key)
{
    struct msg_envelope env = envelope();
    struct tw_buf out;
    struct tw_json e;
    struct tw_json v;

    e = enrich(&env,
               "{\"type\":\"track\",\"event\":\"Paid\",\"userId\":\"u\","
               "\"writeKey\":\"secret\",\"messageId\":\"m1\",\"properties\":"
               "{\"price\":89.9,\"big\":18446744073709551615,\"q\":\"a\\\"b\","
               "\"ctl\":\"\\u0001\",\"n\":null,\"t\":true}}",
               &out);
    cr_assert_not(tw_json_get(e, "writeKey", &v));
    cr_assert_str_eq(member_text(e, "messageId"), "m1");
    cr_assert(strstr(out.data, "\"price\":89.9,"), "%s", out.data);
    cr_assert(strstr(out.data, "\"big\":18446744073709551615"), "%s", out.data);
    cr_assert(strstr(out.data, "\"q\":\"a\\\"b\""), "%s", out.data);
    cr_assert(strstr(out.data, "\"ctl\":\"\\u0001\""), "%s", out.data);
    cr_assert_str_eq(member_text(e, "context.ip"), "192.0.2.7");
    cr_assert_str_eq(member_text(e, "context.trackway.source"), "web");
    tw_buf_free(&out);
}

Test(message, batch_context_goes_under_the_messages_own)
{
    struct msg_envelope env = envelope();
    struct tw_json batch = parse("{\"context\":{\"locale\":\"de\","
                                 "\"ip\":\"203.0.113.1\",\"app\":{\"v\":1}},"
                                 "\"integrations\":{\"All\":true}}");
    struct tw_buf out;
    struct tw_json e;
    struct tw_json_parser *keep = parser;

    /* The batch document must outlive the message parses below. */
    cr_assert_eq(tw_json_parser_new(1 << 20, 0, &parser), 0);
    cr_assert(tw_json_get(batch, "context", &env.batch_context));
    cr_assert(tw_json_get(batch, "integrations", &env.batch_integrations));
    env.has_batch_context = true;
    env.has_batch_integrations = true;
    e = enrich(&env,
               "{\"type\":\"page\",\"anonymousId\":\"a\",\"context\":"
               "{\"app\":{\"v\":2}},\"integrations\":{\"Mixpanel\":false}}",
               &out);
    cr_assert_str_eq(member_text(e, "context.locale"), "de");
    cr_assert_str_eq(member_text(e, "context.ip"), "203.0.113.1",
                     "a client-set ip is kept");
    cr_assert(strstr(out.data, "\"app\":{\"v\":2}"), "%s", out.data);
    cr_assert(strstr(out.data, "\"integrations\":{\"All\":true,"
                               "\"Mixpanel\":false}"),
              "%s", out.data);
    tw_buf_free(&out);
    tw_json_parser_free(parser);
    parser = keep;
}

Test(message, violations_are_attached_when_annotating)
{
    struct msg_envelope env = envelope();
    struct plan_verdict v = {
        .outcome = PLAN_INVALID, .violation_count = 20, .kept = 1};
    struct msg_fields f;
    struct tw_buf out;
    char why[256];
    const char *text = "{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\"}";

    strcpy(v.violations[0].pointer, "/properties/price");
    strcpy(v.violations[0].keyword, "type");
    strcpy(v.violations[0].message, "must be a number");
    env.plan_name = "shop";
    env.plan_version = "3";
    struct tw_json message = parse(text);

    tw_buf_init(&out, 1 << 20);
    cr_assert_eq(msg_check(&env, message, &f, why, sizeof(why)), 0);
    msg_write(&env, message, &f, &v, &out);
    cr_assert(strstr(out.data,
                     "\"trackway\":{\"source\":\"web\",\"plan\":\"shop\","
                     "\"planVersion\":\"3\",\"violations\":[{\"pointer\":"
                     "\"/properties/price\",\"keyword\":\"type\",\"message\":"
                     "\"must be a number\"}],\"violationCount\":20}"),
              "%s", out.data);
    tw_buf_free(&out);
}

Test(message, doubles_are_written_in_their_shortest_exact_form)
{
    static const double values[] = {0.1,     89.9,          1e300,
                                    -2.5e-7, 123456789.125, 1.0 / 3.0};
    struct tw_buf out;
    char *end;

    tw_buf_init(&out, 256);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        tw_buf_reset(&out);
        tw_jw_double(&out, values[i]);
        cr_assert_eq(strtod(out.data, &end), values[i], "%s", out.data);
        cr_assert_eq(*end, '\0');
    }
    tw_buf_reset(&out);
    tw_jw_double(&out, 0.1);
    cr_assert_str_eq(out.data, "0.1");
    tw_buf_free(&out);
}

Test(message, a_quoted_bad_type_is_cut_on_a_character_boundary)
{
    char text[300];
    char why[256];
    char type[200] = "";
    struct tw_json_parser *check_parser;
    struct tw_json v;

    /* 31 ASCII bytes, then two-byte characters: byte 32 is mid-character. */
    memset(type, 'a', 31);
    for (int i = 0; i < 10; i++) {
        strcat(type, "\xc3\xa9");
    }
    snprintf(text, sizeof(text), "{\"type\":\"%s\",\"userId\":\"u\"}", type);
    cr_assert_eq(check(text, why), TW_EINVAL);
    /* The reason is valid UTF-8: it parses as a JSON string. */
    snprintf(text, sizeof(text), "\"%s\"", strstr(why, "got \"") + 5);
    text[strlen(text) - 1] = '\0';
    cr_assert_eq(tw_json_parser_new(1024, 0, &check_parser), 0);
    cr_assert_eq(tw_json_parse(check_parser, text, strlen(text), &v), 0,
                 "%s: %s", text, tw_err_message());
    tw_json_parser_free(check_parser);
}
