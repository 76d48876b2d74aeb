/*
 * follow.c - reading the collector's logs read-only (follow.h).
 *
 * A read-only handle sees the log as it was when opened; following means
 * reopening it every half second and reading on from where each
 * partition stopped.
 */
#include "cli/follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/storage.h"

#define FOLLOW_POLL_MS 500
#define FOLLOW_PARSE_MAX (16u << 20)

static volatile sig_atomic_t follow_stop;

static void follow_stop_cb(int sig)
{
    (void)sig;
    follow_stop = 1;
}

static int follow_open(struct follow_run *t)
{
    struct cli_storage st;
    int rc;

    if (t->log_name != NULL) {
        rc = cli_log_open(t->cmd, t->config, t->log_name, 0, true, &t->log);
        if (rc == 0) {
            t->partitions = log_partitions(t->log);
        }
        return rc;
    }
    rc = cli_storage_open(t->cmd, t->config, true, &st);
    if (rc != 0) {
        return rc;
    }
    t->log = t->failed_log ? st.failed : st.events;
    log_close(t->failed_log ? st.events : st.failed);
    t->partitions = log_partitions(t->log);
    return 0;
}

static bool string_is(struct tw_json obj, const char *name, const char *want)
{
    struct tw_json v;
    const char *text;
    size_t len;

    if (!tw_json_get(obj, name, &v) || tw_json_type(v) != TW_JSON_STRING) {
        return false;
    }
    text = tw_json_string(v, &len);
    return strlen(want) == len && memcmp(text, want, len) == 0;
}

/* Whether a record passes the filters. The source is its key's prefix. */
static bool follow_matches(struct follow_run *t, const struct log_record *rec)
{
    const struct follow_filter *f = &t->filter;
    struct tw_json root;
    struct tw_json event;
    size_t n;

    t->has_parsed = false;
    if (f->source != NULL) {
        n = strlen(f->source);
        if (rec->key_len <= n || memcmp(rec->key, f->source, n) != 0 ||
            ((const char *)rec->key)[n] != '/') {
            return false;
        }
    }
    if (f->event == NULL && f->type == NULL && f->reason == NULL) {
        return true;
    }
    if (tw_json_parse(t->parser, rec->value, rec->value_len, &root) != 0 ||
        tw_json_type(root) != TW_JSON_OBJECT) {
        return false;
    }
    t->parsed = root;
    t->has_parsed = true;
    event = root;
    if (t->failed_log) {
        if (f->reason != NULL && !string_is(root, "reason", f->reason)) {
            return false;
        }
        if (!tw_json_get(root, "event", &event) ||
            tw_json_type(event) != TW_JSON_OBJECT) {
            return f->event == NULL && f->type == NULL;
        }
    }
    if (f->type != NULL && !string_is(event, "type", f->type)) {
        return false;
    }
    return f->event == NULL || string_is(event, "event", f->event);
}

static int follow_partition(struct follow_run *t, uint32_t p,
                            follow_print_fn print)
{
    struct log_partition_info info;
    struct log_reader *r;
    struct log_record rec;
    int rc;

    if (log_partition_info(t->log, p, &info) != 0) {
        return -1;
    }
    if (t->next[p] < info.start_offset) {
        t->next[p] = info.start_offset;
    }
    if (t->next[p] >= info.end_offset) {
        return 0;
    }
    if (log_reader_open(t->log, p, t->next[p], &r) != 0) {
        return -1;
    }
    while ((!t->has_limit || t->printed < t->limit) &&
           (rc = log_reader_next(r, &rec)) == 1) {
        if (follow_matches(t, &rec)) {
            print(t, p, &rec);
            t->printed++;
        }
    }
    t->next[p] = log_reader_position(r);
    log_reader_close(r);
    return rc < 0 ? -1 : 0;
}

/* Reads every partition on from t->next, following when asked. */
static int follow_loop(struct follow_run *t, bool follow, follow_print_fn print)
{
    for (;;) {
        for (uint32_t p = 0; p < t->partitions; p++) {
            if (follow_partition(t, p, print) != 0) {
                fflush(stdout);
                fprintf(stderr, "trackway %s: partition %u: %s\n", t->cmd, p,
                        tw_err_message());
                return CLI_EXIT_FAIL;
            }
        }
        fflush(stdout);
        if (!follow || follow_stop ||
            (t->has_limit && t->printed >= t->limit)) {
            return CLI_EXIT_OK;
        }
        usleep(FOLLOW_POLL_MS * 1000);
        if (follow_stop) {
            return CLI_EXIT_OK;
        }
        log_close(t->log);
        t->log = NULL;
        if (follow_open(t) != 0) {
            return CLI_EXIT_FAIL;
        }
    }
}

static int follow_starts(struct follow_run *t, enum follow_start start,
                         int64_t since_ms)
{
    if (start == FOLLOW_AT_OFFSETS) {
        return 0;
    }
    for (uint32_t p = 0; p < t->partitions; p++) {
        struct log_partition_info info;

        if (log_partition_info(t->log, p, &info) != 0) {
            return -1;
        }
        t->next[p] =
            start == FOLLOW_FROM_END ? info.end_offset : info.start_offset;
        if (start == FOLLOW_FROM_TIME &&
            log_offset_for_time(t->log, p, since_ms, &t->next[p]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Runs t over the loaded configuration; frees what it opened. */
int follow_execute(struct follow_run *t, const char *config_path,
                   enum follow_start start, int64_t since_ms, bool follow,
                   follow_print_fn print)
{
    const char *cmd = t->cmd;
    struct tw_config *config = cli_config_load(cmd, config_path);
    int status = CLI_EXIT_USAGE;

    if (config == NULL) {
        return CLI_EXIT_USAGE;
    }
    t->config = config;
    if (tw_json_parser_new(FOLLOW_PARSE_MAX, 0, &t->parser) != 0) {
        fprintf(stderr, "trackway %s: %s\n", cmd, tw_err_message());
    } else if (follow_open(t) == 0) {
        if (follow_starts(t, start, since_ms) != 0) {
            fprintf(stderr, "trackway %s: %s\n", cmd, tw_err_message());
            status = CLI_EXIT_FAIL;
        } else {
            signal(SIGINT, follow_stop_cb);
            signal(SIGTERM, follow_stop_cb);
            status = follow_loop(t, follow, print);
        }
        if (t->log != NULL) {
            log_close(t->log);
        }
    }
    tw_json_parser_free(t->parser);
    config_free(config);
    return status;
}
