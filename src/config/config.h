/*
 * config.h - Trackway's configuration file: YAML in, checked structs out.
 *
 * The file is read whole and checked whole: config_load reports every
 * mistake it finds, each as "FILE:LINE: what is wrong", not just the
 * first, so an operator fixes a file in one pass. Unknown keys are
 * mistakes too (a misspelt limit must not silently take its default).
 * docs/CONFIGURATION.md describes every key, its default and its unit.
 *
 * Paths inside the file (storage.path, schema files) are relative to the
 * directory of the file itself, and are stored here already resolved.
 */
#ifndef TW_CONFIG_CONFIG_H
#define TW_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

enum cfg_on_violation {
    CFG_VIOLATION_ACCEPT = 0,   /* store the event as if it were valid */
    CFG_VIOLATION_ANNOTATE = 1, /* store it with its violations attached */
    CFG_VIOLATION_REJECT = 2,   /* send it to the failed-events log */
};

enum cfg_unplanned {
    CFG_UNPLANNED_ALLOW = 0,
    CFG_UNPLANNED_REJECT = 1,
};

struct cfg_limits {
    uint64_t max_message_bytes;  /* one event, as sent */
    uint64_t max_request_bytes;  /* one body, after gzip is undone */
    uint64_t max_inflight_bytes; /* bodies being handled, all together */
    uint32_t max_connections;
    uint32_t max_per_ip;
    int64_t idle_timeout_ms;
    int64_t retry_after_s; /* what 503 answers put in Retry-After */
};

struct cfg_server {
    char *host;
    uint16_t port;
    uint32_t threads; /* 0: one per core */
    char **trusted_proxies;
    size_t trusted_proxy_count;
    bool anonymize_ip;
    struct cfg_limits limits;
};

struct cfg_storage {
    char *path;
    uint32_t partitions;
    int durability; /* enum log_durability */
    uint32_t interval_ms;
    int compression; /* enum log_compression */
    uint64_t segment_max_bytes;
    uint64_t retention_max_bytes;
    int64_t retention_max_age_ms;
};

struct cfg_dedup {
    bool enabled;
    int64_t window_ms;
    uint64_t max_ids; /* per generation; memory is 32 bytes per id */
};

struct cfg_rate_limit {
    double events_per_s; /* 0: no limit */
    double burst;        /* tokens the bucket holds */
};

struct cfg_source {
    char *name;
    char **write_keys;
    size_t write_key_count;
    char *plan; /* name of a plan, or NULL */
    enum cfg_on_violation on_violation;
    struct cfg_rate_limit rate_limit;
    int line;
};

struct cfg_plan_event {
    char *name;        /* a track event name */
    char *schema_path; /* resolved path of its properties schema */
    int line;
};

/* A schema file for a call type's fields, or NULL when the plan has none. */
struct cfg_plan_schema {
    char *path;
    int line;
};

struct cfg_plan {
    char *name;
    char *version;
    enum cfg_unplanned unplanned;
    struct cfg_plan_event *events;
    size_t event_count;
    struct cfg_plan_schema identify; /* traits */
    struct cfg_plan_schema page;     /* properties */
    struct cfg_plan_schema screen;   /* properties */
    struct cfg_plan_schema group;    /* traits */
    int line;
};

enum cfg_dest_type {
    CFG_DEST_FILE = 0,
    CFG_DEST_HTTP = 1,
    CFG_DEST_STDOUT = 2,
};

/* A name and a value, for HTTP headers. */
struct cfg_pair {
    char *name;
    char *value;
};

/* Per-destination shaping, as written (compiled by src/route/). */
struct cfg_shape {
    char **keep;
    size_t keep_count;
    char **drop;
    size_t drop_count;
    struct cfg_pair *rename; /* from path -> to path */
    size_t rename_count;
    char **redact_drop;
    size_t redact_drop_count;
    char **redact_hash;
    size_t redact_hash_count;
    char *hash_key; /* the key of the keyed hash */
    int line;
};

struct cfg_destination {
    char *name;
    enum cfg_dest_type type;
    int line;
    /* file */
    char *path;
    uint64_t rotate_max_bytes;
    int64_t rotate_max_age_ms;
    bool compress; /* zstd rotated files */
    /* http */
    char *url;
    struct cfg_pair *headers;
    size_t header_count;
    bool gzip;
    bool ndjson; /* body format: NDJSON instead of {"batch":[...]} */
    int64_t timeout_ms;
    uint32_t max_in_flight;
    uint32_t *retryable; /* HTTP statuses; NULL: the sink's defaults */
    size_t retryable_count;
    /* delivery */
    uint32_t batch_max_events;
    uint64_t batch_max_bytes;
    int64_t batch_max_wait_ms;
    uint32_t max_attempts;
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    uint32_t breaker_failures;
    int64_t breaker_open_ms;
    bool start_at_end;
    bool paused;
    bool backlog_skip; /* backlog: skip (else block) */
    struct cfg_shape shape;
    bool has_shape;
};

struct cfg_route {
    char **from; /* source names; "*" is every source */
    size_t from_count;
    char *where; /* a filter (src/route/), NULL: every event */
    int where_line;
    char **to; /* destination names */
    size_t to_count;
    int line;
};

struct tw_config {
    char *file; /* the file as named when loading */
    struct cfg_server server;
    struct cfg_storage storage;
    struct cfg_dedup dedup;
    struct cfg_source *sources;
    size_t source_count;
    struct cfg_plan *plans;
    size_t plan_count;
    struct cfg_destination *destinations;
    size_t destination_count;
    struct cfg_route *routes;
    size_t route_count;
};

/* Every mistake config_load found, in file order. */
struct cfg_errors {
    char **lines; /* "FILE:LINE: message" */
    size_t count;
};

/*
 * Reads and checks the file at path. Returns 0 and sets *out (the caller
 * frees it with config_free), or TW_EINVAL with every mistake in *errors
 * (freed with cfg_errors_free), or TW_EIO / TW_ENOENT when the file
 * cannot be read. errors is filled only on failure.
 */
TW_MUST_CHECK int config_load(const char *path, struct tw_config **out,
                              struct cfg_errors *errors);
void config_free(struct tw_config *config);
void cfg_errors_free(struct cfg_errors *errors);

/* Adds one "FILE:LINE: message" line (line 0: no line part). */
void cfg_errors_add(struct cfg_errors *errors, const char *file, int line,
                    const char *fmt, ...) TW_PRINTF(4, 5);

const struct cfg_source *config_source(const struct tw_config *config,
                                       const char *name);
const struct cfg_plan *config_plan(const struct tw_config *config,
                                   const char *name);

const struct cfg_destination *config_destination(const struct tw_config *c,
                                                 const char *name);

#endif
