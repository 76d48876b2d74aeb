/*
 * cli_serve.c - `trackway serve`: load the configuration, open the logs,
 * refill the dedup set, listen, and run until SIGINT or SIGTERM.
 *
 * Shutdown is orderly: stop accepting, let every parked request get its
 * answer (their appends complete as the log writes them), then close the
 * logs. A second signal during shutdown is ignored; kill -9 is safe too,
 * since nothing answered 200 was kept only in memory.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/delivery.h"
#include "cli/storage.h"
#include "collect/collector.h"
#include "common/clock.h"
#include "obs/logging.h"

static const char serve_help[] =
    "Usage: trackway serve -c CONFIG\n"
    "\n"
    "Runs the collector: Segment-compatible HTTP endpoints (/v1/batch,\n"
    "/v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias,\n"
    "/v1/pixel/<type>), /health and /metrics, on the address of\n"
    "server.listen. Events are validated against their source's tracking\n"
    "plan, enriched, deduplicated and answered 200 only once durable in\n"
    "the log under storage.path.\n"
    "\n"
    "When it listens it prints one line to stdout:\n"
    "  trackway: listening on http://HOST:PORT\n"
    "(with listen: \"127.0.0.1:0\" the port is any free one, named there).\n"
    "SIGINT or SIGTERM stops it after answering every request in flight.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the configuration (YAML); see "
    "docs/CONFIGURATION.md\n"
    "  -h, --help          this help\n"
    "\n"
    "Environment: TRACKWAY_LOG_LEVEL=debug|info|warn|error (default info\n"
    "for serve).\n"
    "\n"
    "Example:\n"
    "  trackway serve -c config/sample.yaml\n";

struct serve_state {
    struct tw_config *config;
    struct plan **plans;
    struct cli_storage storage;
    struct collector *collector;
    struct serve_delivery *delivery;
    struct http_server *http;
};

static int serve_start(struct serve_state *s)
{
    const struct cfg_server *cs = &s->config->server;
    struct collector_options copts = {
        .config = s->config,
        .events = s->storage.events,
        .failed = s->storage.failed,
        .plans = s->plans,
    };
    struct http_server_options hopts;
    uint64_t ids = 0;

    if (collector_new(&copts, &s->collector) != 0) {
        fprintf(stderr, "trackway serve: %s\n", tw_err_message());
        return CLI_EXIT_FAIL;
    }
    if (collector_dedup_restore(s->collector, &ids) != 0) {
        fprintf(stderr, "trackway serve: %s\n", tw_err_message());
        return CLI_EXIT_FAIL;
    }
    if (delivery_start("serve", s->config, s->storage.events, &s->delivery) !=
        0) {
        return CLI_EXIT_FAIL;
    }
    collector_set_extra_metrics(s->collector, delivery_metrics, s->delivery);
    http_server_options_init(&hopts);
    hopts.host = cs->host != NULL ? cs->host : "127.0.0.1";
    hopts.port = cs->port;
    hopts.threads = cs->threads;
    hopts.max_body_bytes = cs->limits.max_request_bytes;
    hopts.max_connections = cs->limits.max_connections;
    hopts.max_per_ip = cs->limits.max_per_ip;
    hopts.idle_timeout_s =
        (unsigned)((cs->limits.idle_timeout_ms + 999) / 1000);
    hopts.handler = collector_handle_cb;
    hopts.handler_ctx = s->collector;
    if (http_server_start(&hopts, &s->http) != 0) {
        fprintf(stderr, "trackway serve: %s\n", tw_err_message());
        return CLI_EXIT_FAIL;
    }
    collector_set_http(s->collector, s->http);
    printf("trackway: listening on http://%s%s%s:%u\n",
           strchr(hopts.host, ':') != NULL ? "[" : "", hopts.host,
           strchr(hopts.host, ':') != NULL ? "]" : "",
           http_server_port(s->http));
    fflush(stdout);
    return CLI_EXIT_OK;
}

static void serve_stop(struct serve_state *s)
{
    if (s->http != NULL) {
        http_server_stop(s->http);
        s->http = NULL;
    }
    /* After ingest stopped, before the log closes: batches in flight
     * finish and their cursors are committed. */
    delivery_stop(s->delivery);
    collector_free(s->collector);
    cli_storage_close(&s->storage);
    if (s->config != NULL) {
        cli_plans_free(s->plans, s->config->plan_count);
    }
    config_free(s->config);
}

/* Blocks the stop signals in every thread, so sigwait can take them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cli_serve_main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct serve_state s = {0};
    int64_t started_ms = tw_now_ms();
    const char *config_path = NULL;
    sigset_t set;
    int sig = 0;
    int status;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, ":hc:", longs, NULL)) != -1) {
        if (c == 'h') {
            fputs(serve_help, stdout);
            return CLI_EXIT_OK;
        } else if (c == 'c') {
            config_path = optarg;
        } else {
            fprintf(stderr, "trackway serve: %s %s\n",
                    c == ':' ? "missing the value of" : "unknown option",
                    argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    if (config_path == NULL || optind < argc) {
        fprintf(stderr, "trackway serve: %s\nRun 'trackway serve --help'.\n",
                config_path == NULL ? "missing -c CONFIG"
                                    : "unexpected argument");
        return CLI_EXIT_USAGE;
    }
    if (getenv("TRACKWAY_LOG_LEVEL") == NULL) {
        obs_log_set_level(OBS_INFO);
    }

    block_signals(&set);
    s.config = cli_config_load("serve", config_path);
    if (s.config == NULL) {
        return CLI_EXIT_USAGE;
    }
    if (cli_plans_compile("serve", s.config, &s.plans) != 0 ||
        delivery_check("serve", s.config) != 0 ||
        cli_storage_open("serve", s.config, false, &s.storage) != 0) {
        serve_stop(&s);
        return CLI_EXIT_USAGE;
    }
    status = serve_start(&s);
    if (status == CLI_EXIT_OK) {
        sigwait(&set, &sig);
        OBS_LOG(OBS_INFO, "serve", "stopping: answering requests in flight",
                "signal=%d", sig);
    }
    serve_stop(&s);
    if (status == CLI_EXIT_OK) {
        OBS_LOG(OBS_INFO, "serve", "stopped", "uptime_s=%lld",
                (long long)((tw_now_ms() - started_ms) / 1000));
    }
    return status;
}
