/*
 * test_config.c - the configuration loader (config/config.h): a full
 * file loads into the right values, defaults fill what is left out, and
 * every mistake is reported with its file and line, all in one pass.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "log/embedded.h"
#include "support/tmpdir.h"

static char *dir;

static void setup(void)
{
    dir = tw_test_tmpdir();
}

static void teardown(void)
{
    tw_test_rmdir(dir);
}

TestSuite(config, .init = setup, .fini = teardown);

static char *write_config(const char *text)
{
    char *path;
    FILE *f;

    cr_assert(asprintf(&path, "%s/trackway.yaml", dir) > 0);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text, expecting failure; returns the joined error lines. */
static char *load_errors(const char *text, size_t *count)
{
    struct tw_config *config = NULL;
    struct cfg_errors errors;
    char *path = write_config(text);
    size_t total = 1;
    char *joined;

    cr_assert_eq(config_load(path, &config, &errors), TW_EINVAL);
    cr_assert_null(config);
    for (size_t i = 0; i < errors.count; i++) {
        total += strlen(errors.lines[i]) + 1;
    }
    joined = calloc(1, total);
    for (size_t i = 0; i < errors.count; i++) {
        strcat(joined, errors.lines[i]);
        strcat(joined, "\n");
    }
    *count = errors.count;
    cfg_errors_free(&errors);
    free(path);
    return joined;
}

Test(config, a_full_file_loads_every_value)
{
    struct tw_config *c = NULL;
    struct cfg_errors errors;
    char *path = write_config(
        "server:\n"
        "  listen: \"127.0.0.1:9090\"\n"
        "  threads: 3\n"
        "  trusted_proxies: [10.0.0.1, 10.0.0.2]\n"
        "  anonymize_ip: true\n"
        "  limits: { max_message_bytes: 16KiB, max_request_bytes: 1MiB,\n"
        "            idle_timeout: 5s, retry_after: 2s }\n"
        "storage: { path: data, partitions: 8, durability: interval,\n"
        "           interval: 50ms, compression: zstd,\n"
        "           retention: { max_bytes: 10GiB, max_age: 7d } }\n"
        "dedup: { window: 1h, max_ids: 1000 }\n"
        "sources:\n"
        "  - { name: web, write_keys: [k1, k2], plan: shop,\n"
        "      on_violation: annotate,\n"
        "      rate_limit: { events_per_second: 100, burst: 500 } }\n"
        "plans:\n"
        "  shop:\n"
        "    version: \"7\"\n"
        "    unplanned: reject\n"
        "    events: { \"Order Completed\": schemas/order.json }\n"
        "    identify: schemas/traits.json\n");
    char expect[512];

    cr_assert_eq(config_load(path, &c, &errors), 0, "%s",
                 errors.count ? errors.lines[0] : "");
    cr_assert_str_eq(c->server.host, "127.0.0.1");
    cr_assert_eq(c->server.port, 9090);
    cr_assert_eq(c->server.threads, 3);
    cr_assert_eq(c->server.trusted_proxy_count, 2);
    cr_assert_str_eq(c->server.trusted_proxies[1], "10.0.0.2");
    cr_assert(c->server.anonymize_ip);
    cr_assert_eq(c->server.limits.max_message_bytes, 16384);
    cr_assert_eq(c->server.limits.max_request_bytes, 1u << 20);
    cr_assert_eq(c->server.limits.idle_timeout_ms, 5000);
    cr_assert_eq(c->server.limits.retry_after_s, 2);
    snprintf(expect, sizeof(expect), "%s/data", dir);
    cr_assert_str_eq(c->storage.path, expect);
    cr_assert_eq(c->storage.partitions, 8);
    cr_assert_eq(c->storage.durability, LOG_DURABILITY_INTERVAL);
    cr_assert_eq(c->storage.interval_ms, 50);
    cr_assert_eq(c->storage.compression, LOG_COMPRESSION_ZSTD);
    cr_assert_eq(c->storage.retention_max_bytes, 10ull << 30);
    cr_assert_eq(c->storage.retention_max_age_ms, 7ll * 86400 * 1000);
    cr_assert_eq(c->dedup.window_ms, 3600 * 1000);
    cr_assert_eq(c->dedup.max_ids, 1000);
    cr_assert_eq(c->source_count, 1);
    cr_assert_str_eq(c->sources[0].write_keys[1], "k2");
    cr_assert_eq(c->sources[0].on_violation, CFG_VIOLATION_ANNOTATE);
    cr_assert_float_eq(c->sources[0].rate_limit.burst, 500.0, 1e-9);
    cr_assert_eq(c->plan_count, 1);
    cr_assert_str_eq(c->plans[0].version, "7");
    cr_assert_eq(c->plans[0].unplanned, CFG_UNPLANNED_REJECT);
    cr_assert_str_eq(c->plans[0].events[0].name, "Order Completed");
    snprintf(expect, sizeof(expect), "%s/schemas/order.json", dir);
    cr_assert_str_eq(c->plans[0].events[0].schema_path, expect);
    cr_assert_eq(c->plans[0].events[0].line, 20);
    config_free(c);
    free(path);
}

Test(config, what_a_file_leaves_out_takes_the_documented_default)
{
    struct tw_config *c = NULL;
    struct cfg_errors errors;
    char *path = write_config("storage: { path: /tmp/x }\n"
                              "sources: [ { name: a, write_keys: k } ]\n");

    cr_assert_eq(config_load(path, &c, &errors), 0);
    cr_assert_eq(c->server.port, 8080);
    cr_assert_eq(c->server.limits.max_message_bytes, 32 * 1024);
    cr_assert_eq(c->server.limits.max_request_bytes, 500 * 1024);
    cr_assert_eq(c->storage.durability, LOG_DURABILITY_FSYNC);
    cr_assert_eq(c->storage.partitions, 4);
    cr_assert(c->dedup.enabled);
    cr_assert_eq(c->dedup.window_ms, 24ll * 3600 * 1000);
    cr_assert_eq(c->sources[0].on_violation, CFG_VIOLATION_REJECT);
    cr_assert_eq(c->sources[0].write_key_count, 1);
    config_free(c);
    free(path);
}

Test(config, every_mistake_is_reported_with_its_line)
{
    size_t count;
    char *errors = load_errors("server:\n"
                               "  listen: localhost\n" /* 2: not HOST:PORT */
                               "  limitz: {}\n"        /* 3: unknown key */
                               "storage:\n"
                               "  path: d\n"
                               "  durability: sometimes\n" /* 6: not a policy */
                               "  partitions: 0\n"         /* 7: out of range */
                               "sources:\n"
                               "  - name: web\n"
                               "    write_keys: [k]\n"
                               "    plan: missing\n"    /* 9: unknown plan */
                               "  - name: 'bad name'\n" /* 12: bad name */
                               "    write_keys: [k]\n", /* 12: key reused */
                               &count);

    cr_assert_eq(count, 7, "%s", errors);
    cr_assert(strstr(errors, "trackway.yaml:2: listen must be HOST:PORT"), "%s",
              errors);
    cr_assert(strstr(errors, ":3: unknown key 'limitz' in server"), "%s",
              errors);
    cr_assert(strstr(errors, ":6: 'sometimes' is not one of: fsync, "
                             "interval, none"),
              "%s", errors);
    cr_assert(strstr(errors, ":7: 0 is outside 1..256"), "%s", errors);
    cr_assert(strstr(errors, ":9: source 'web' names plan 'missing'"), "%s",
              errors);
    cr_assert(strstr(errors, ":12: source name 'bad name' must be"), "%s",
              errors);
    cr_assert(strstr(errors, "write key 'k' is used twice"), "%s", errors);
    free(errors);
}

Test(config, a_yaml_syntax_error_names_its_line)
{
    size_t count;
    char *errors = load_errors("server:\n  listen: [\n\nsources: x\n", &count);

    cr_assert_eq(count, 1);
    cr_assert(strstr(errors, "YAML syntax"), "%s", errors);
    /* libyaml notices the open list where the file ends. */
    cr_assert(strstr(errors, "trackway.yaml:5:"), "%s", errors);
    free(errors);
}

Test(config, a_file_without_sources_or_storage_says_what_is_missing)
{
    size_t count;
    char *errors = load_errors("server: { threads: 1 }\n", &count);

    cr_assert_eq(count, 2, "%s", errors);
    cr_assert(strstr(errors, "no sources"), "%s", errors);
    cr_assert(strstr(errors, "storage.path is required"), "%s", errors);
    free(errors);
}

Test(config, a_missing_file_is_an_io_error_not_a_crash)
{
    struct tw_config *c = NULL;
    struct cfg_errors errors;

    cr_assert_eq(config_load("/nonexistent/trackway.yaml", &c, &errors),
                 TW_ENOENT);
    cr_assert(strstr(tw_err_message(), "/nonexistent/trackway.yaml"));
}

Test(config, destinations_and_routes_load_with_their_settings)
{
    struct tw_config *c = NULL;
    struct cfg_errors errors;
    char *path = write_config(
        "storage: { path: d }\n"
        "sources: [ { name: web, write_keys: [k] } ]\n"
        "destinations:\n"
        "  - { name: lake, type: file, path: out, compression: zstd,\n"
        "      rotate: { max_bytes: 1MiB, max_age: 10m } }\n"
        "  - name: billing\n"
        "    type: http\n"
        "    backlog: skip\n"
        "    url: \"http://127.0.0.1:9000/hook\"\n"
        "    headers: { X-Token: abc }\n"
        "    batch: { max_events: 50, max_wait: 1s }\n"
        "    retry: { max_attempts: 3, backoff: \"50ms..2s\",\n"
        "             retryable_statuses: [429, 503] }\n"
        "    shape: { drop: [context.ip],\n"
        "             redact: { hash: [userId], key: 0123456789abcdef } }\n"
        "routes:\n"
        "  - { from: web, to: [lake] }\n"
        "  - { from: \"*\", where: 'event == \"Paid\"', to: [billing] }\n");
    const struct cfg_destination *b;

    cr_assert_eq(config_load(path, &c, &errors), 0, "%s",
                 errors.count ? errors.lines[0] : "");
    cr_assert_eq(c->destination_count, 2);
    cr_assert_eq(c->destinations[0].type, CFG_DEST_FILE);
    cr_assert(c->destinations[0].compress);
    cr_assert_eq(c->destinations[0].rotate_max_age_ms, 600000);
    b = config_destination(c, "billing");
    cr_assert_not_null(b);
    cr_assert_str_eq(b->headers[0].name, "X-Token");
    cr_assert_eq(b->batch_max_events, 50);
    cr_assert_eq(b->backoff_min_ms, 50);
    cr_assert_eq(b->backoff_max_ms, 2000);
    cr_assert_eq(b->retryable_count, 2);
    cr_assert_eq(b->retryable[1], 503);
    cr_assert(b->has_shape);
    cr_assert_str_eq(b->shape.redact_hash[0], "userId");
    cr_assert_eq(c->route_count, 2);
    cr_assert_str_eq(c->routes[1].where, "event == \"Paid\"");
    cr_assert_eq(c->routes[1].where_line, 18);
    cr_assert(b->backlog_skip);
    cr_assert_not(c->destinations[0].backlog_skip, "block is the default");
    config_free(c);
    free(path);
}

Test(config, routes_must_name_sources_and_destinations_that_exist)
{
    size_t count;
    char *errors =
        load_errors("storage: { path: d }\n"
                    "sources: [ { name: web, write_keys: [k] } ]\n"
                    "destinations:\n"
                    "  - { name: out, type: http, url: \"ftp://x\" }\n"
                    "  - { name: out, type: stdout, backlog: drop }\n"
                    "routes:\n"
                    "  - { from: ios, to: [nowhere] }\n"
                    "  - { to: [out] }\n",
                    &count);

    cr_assert(strstr(errors, ":4: http destination 'out' needs an http://"),
              "%s", errors);
    cr_assert(strstr(errors, ":5: destination 'out' is defined twice"), "%s",
              errors);
    cr_assert(strstr(errors, ":7: route from 'ios': no such source"), "%s",
              errors);
    cr_assert(strstr(errors, ":7: route to 'nowhere': no such destination"),
              "%s", errors);
    cr_assert(strstr(errors, ":8: a route needs from"), "%s", errors);
    cr_assert(strstr(errors, ":5: ") && strstr(errors, "block, skip"), "%s",
              errors);
    cr_assert_eq(count, 6, "%s", errors);
    free(errors);
}
