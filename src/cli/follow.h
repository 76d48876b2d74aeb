/*
 * follow.h - reading what the collector stored, read-only, beside a live
 * server: every partition of the events or the failed-events log, from
 * a start (oldest, newest, or a time), through filters, optionally
 * following new records. Used by `trackway tail` and `trackway failed`.
 */
#ifndef TW_CLI_FOLLOW_H
#define TW_CLI_FOLLOW_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "json/json.h"
#include "log/log.h"

struct follow_filter {
    const char *source; /* the record key's prefix */
    const char *event;  /* a track event's name */
    const char *type;   /* the call type */
    const char *reason; /* failed-events log only */
};

struct follow_run {
    const struct tw_config *config;
    const char *cmd; /* for messages: "tail", "failed ls" */
    bool failed_log;
    const char *log_name; /* another log under storage.path, or NULL */
    struct follow_filter filter;
    struct log *log;
    uint32_t partitions;
    uint64_t next[LOG_MAX_PARTITIONS];
    bool has_limit;
    uint64_t limit;
    uint64_t printed;
    struct tw_json_parser *parser;
    /* The record being printed, parsed when a filter needed it. */
    struct tw_json parsed;
    bool has_parsed;
    void *print_ctx;
};

enum follow_start {
    FOLLOW_FROM_END,
    FOLLOW_FROM_START,
    FOLLOW_FROM_TIME,
    FOLLOW_AT_OFFSETS, /* t->next as the caller set it */
};

/* Called for each record that passes the filters. */
typedef void (*follow_print_fn)(struct follow_run *t, uint32_t partition,
                                const struct log_record *rec);

/*
 * Loads the configuration, opens the log t->failed_log names, sets the
 * start, reads (following when asked, until Ctrl-C) and closes. Returns
 * the exit status.
 */
int follow_execute(struct follow_run *t, const char *config_path,
                   enum follow_start start, int64_t since_ms, bool follow,
                   follow_print_fn print);

#endif
