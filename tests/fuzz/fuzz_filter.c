/*
 * fuzz_filter.c - libFuzzer target for route filters (src/route/filter.h).
 *
 * The input is filter text. Compiling must either fail with a message at
 * a line and column inside the text (or just past its end), or succeed.
 * A filter that compiles is matched against a few fixed events, then
 * described; the description must compile (when it is within the length
 * limit), describe itself identically, and match every event exactly as
 * the original does. A broken invariant
 * stops the fuzzer with __builtin_trap().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "common/buf.h"
#include "common/error.h"
#include "json/json.h"
#include "obs/logging.h"
#include "route/filter.h"

#define FUZZ_EVENTS 3

static const char fuzz_track[] =
    "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":\"u1\","
    "\"properties\":{\"total\":120.5,\"count\":3,\"big\":18446744073709551615,"
    "\"coupon\":null,\"flag\":true,\"tags\":[\"a\",\"b\"],\"a/b\":1,\"m~n\":2,"
    "\"items\":[{\"sku\":\"A-1\"}],\"s\":\"aaaaaaaaaaaaaaaaaaaaaaaaab\"},"
    "\"context\":{\"page\":{\"url\":\"https://x.example/c?q=1\"},"
    "\"trackway\":{\"source\":\"web\"}}}";

static const char fuzz_page[] =
    "{\"type\":\"page\",\"name\":\"Home\",\"anonymousId\":\"a\","
    "\"properties\":{\"path\":\"/\",\"\":0,\"0\":[1,2]},"
    "\"context\":{\"trackway\":{\"source\":\"ios\"}}}";

static const char fuzz_identify[] =
    "{\"type\":\"identify\",\"traits\":{\"email\":\"\\u00e9@x\","
    "\"age\":-1.5e3}}";

static const char *const fuzz_event_texts[FUZZ_EVENTS] = {
    fuzz_track,
    fuzz_page,
    fuzz_identify,
};

static struct tw_json fuzz_events[FUZZ_EVENTS];
static struct route_scratch *fuzz_scratch;

static void fuzz_setup(void)
{
    struct tw_json_parser *parser;

    obs_log_set_level(OBS_OFF);
    FUZZ_CHECK(route_scratch_new(&fuzz_scratch) == 0);
    for (int i = 0; i < FUZZ_EVENTS; i++) {
        /* One parser per event, kept for the life of the process. */
        FUZZ_CHECK(tw_json_parser_new(1 << 12, 0, &parser) == 0);
        FUZZ_CHECK(tw_json_parse(parser, fuzz_event_texts[i],
                                 strlen(fuzz_event_texts[i]),
                                 &fuzz_events[i]) == 0);
    }
}

static void fuzz_check_error(int rc, const struct route_filter *filter,
                             const struct route_error *err, const char *text,
                             size_t size)
{
    uint32_t lines = 1;

    for (size_t i = 0; i < size; i++) {
        lines += text[i] == '\n';
    }
    FUZZ_CHECK(rc == TW_EINVAL || rc == TW_ENOMEM);
    FUZZ_CHECK(filter == NULL);
    FUZZ_CHECK(rc != TW_EINVAL || err->message[0] != '\0');
    FUZZ_CHECK(rc != TW_EINVAL || (err->line >= 1 && err->line <= lines));
    FUZZ_CHECK(rc != TW_EINVAL ||
               (err->column >= 1 && err->column <= size + 1));
}

static struct route_filter *fuzz_compile(const char *text, size_t len)
{
    struct route_filter_options opts = {.regex_match_limit = 10000,
                                        .regex_depth_limit = 200};
    struct route_filter *filter = NULL;
    struct route_error err;
    int rc = route_filter_compile(text, len, &opts, &filter, &err);

    if (rc < 0) {
        fuzz_check_error(rc, filter, &err, text, len);
        return NULL;
    }
    FUZZ_CHECK(filter != NULL);
    return filter;
}

/* The description compiles, describes itself again, and matches alike. */
static void fuzz_round_trip(const struct route_filter *filter)
{
    struct route_filter *again;
    struct tw_buf first;
    struct tw_buf second;

    tw_buf_init(&first, 1 << 20);
    tw_buf_init(&second, 1 << 20);
    FUZZ_CHECK(route_filter_describe(filter, &first) == 0);
    if (first.len > ROUTE_FILTER_MAX_BYTES) {
        tw_buf_free(&first);
        tw_buf_free(&second);
        return; /* the normal form may outgrow the limit (filter.h) */
    }
    again = fuzz_compile(first.data, first.len);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(route_filter_describe(again, &second) == 0);
    FUZZ_CHECK(first.len == second.len &&
               memcmp(first.data, second.data, first.len) == 0);
    for (int i = 0; i < FUZZ_EVENTS; i++) {
        FUZZ_CHECK(route_filter_match(filter, fuzz_events[i], fuzz_scratch) ==
                   route_filter_match(again, fuzz_events[i], fuzz_scratch));
    }
    route_filter_free(again);
    tw_buf_free(&first);
    tw_buf_free(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    struct route_filter *filter;

    if (!ready) {
        fuzz_setup();
        ready = true;
    }
    filter = fuzz_compile((const char *)data, size);
    if (filter != NULL) {
        for (int i = 0; i < FUZZ_EVENTS; i++) {
            (void)route_filter_match(filter, fuzz_events[i], fuzz_scratch);
        }
        fuzz_round_trip(filter);
        route_filter_free(filter);
    }
    tw_err_clear();
    return 0;
}
