/*
 * config.c - loading the configuration file (config.h): YAML through
 * libyaml's document API, then one function per section.
 */
#include "config/config.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "config/sections.h"
#include "config/yaml_walk.h"
#include "log/embedded.h"

#define KIB (1024ull)
#define MIB (1024ull * 1024ull)

static void config_defaults(struct tw_config *c)
{
    c->server.port = 8080;
    c->server.limits.max_message_bytes = 32 * KIB;
    c->server.limits.max_request_bytes = 500 * KIB;
    c->server.limits.max_inflight_bytes = 64 * MIB;
    c->server.limits.max_connections = 1024;
    c->server.limits.max_per_ip = 256;
    c->server.limits.idle_timeout_ms = 30000;
    c->server.limits.retry_after_s = 1;
    c->storage.partitions = 4;
    c->storage.durability = LOG_DURABILITY_FSYNC;
    c->storage.interval_ms = 100;
    c->storage.compression = LOG_COMPRESSION_NONE;
    c->storage.segment_max_bytes = 64 * MIB;
    c->dedup.enabled = true;
    c->dedup.window_ms = 24ll * 3600 * 1000;
    c->dedup.max_ids = 2u * 1024 * 1024;
}

static void unknown_key(struct yaml_walk *w, const struct yaml_member *m,
                        const char *section, const char *known)
{
    yaml_error(w, m->key_node, "unknown key '%s' in %s (known keys: %s)",
               m->key, section, known);
}

static void read_listen(struct yaml_walk *w, yaml_node_t *node,
                        struct cfg_server *server)
{
    char *text = NULL;
    char *colon;
    uint64_t port;

    if (!yaml_read_string(w, node, &text)) {
        return;
    }
    colon = strrchr(text, ':');
    if (colon == NULL || colon == text || tw_parse_u64(colon + 1, &port) ||
        port > 65535) {
        yaml_error(w, node,
                   "listen must be HOST:PORT with a numeric address, such "
                   "as \"127.0.0.1:8080\" or \"[::1]:8080\", not '%s'",
                   text);
        free(text);
        return;
    }
    *colon = '\0';
    if (text[0] == '[' && colon[-1] == ']') {
        colon[-1] = '\0';
        memmove(text, text + 1, strlen(text));
    }
    free(server->host);
    server->host = text;
    server->port = (uint16_t)port;
}

static void read_limits(struct yaml_walk *w, yaml_node_t *node,
                        struct cfg_limits *l)
{
    struct yaml_member m;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "server.limits")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "max_message_bytes") == 0) {
            yaml_read_size(w, m.value, &l->max_message_bytes);
        } else if (strcmp(m.key, "max_request_bytes") == 0) {
            yaml_read_size(w, m.value, &l->max_request_bytes);
        } else if (strcmp(m.key, "max_inflight_bytes") == 0) {
            yaml_read_size(w, m.value, &l->max_inflight_bytes);
        } else if (strcmp(m.key, "max_connections") == 0) {
            yaml_read_u32(w, m.value, 1, 1000000, &l->max_connections);
        } else if (strcmp(m.key, "max_connections_per_ip") == 0) {
            yaml_read_u32(w, m.value, 0, 1000000, &l->max_per_ip);
        } else if (strcmp(m.key, "idle_timeout") == 0) {
            yaml_read_duration(w, m.value, &l->idle_timeout_ms);
        } else if (strcmp(m.key, "retry_after") == 0) {
            int64_t ms = 0;
            if (yaml_read_duration(w, m.value, &ms)) {
                l->retry_after_s = (ms + 999) / 1000;
            }
        } else {
            unknown_key(w, &m, "server.limits",
                        "max_message_bytes, max_request_bytes, "
                        "max_inflight_bytes, max_connections, "
                        "max_connections_per_ip, idle_timeout, retry_after");
        }
    }
}

static void read_server(struct yaml_walk *w, yaml_node_t *node,
                        struct cfg_server *s)
{
    struct yaml_member m;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "server")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "listen") == 0) {
            read_listen(w, m.value, s);
        } else if (strcmp(m.key, "threads") == 0) {
            yaml_read_u32(w, m.value, 0, 256, &s->threads);
        } else if (strcmp(m.key, "trusted_proxies") == 0) {
            yaml_read_strings(w, m.value, &s->trusted_proxies,
                              &s->trusted_proxy_count);
        } else if (strcmp(m.key, "anonymize_ip") == 0) {
            yaml_read_bool(w, m.value, &s->anonymize_ip);
        } else if (strcmp(m.key, "limits") == 0) {
            read_limits(w, m.value, &s->limits);
        } else {
            unknown_key(w, &m, "server",
                        "listen, threads, trusted_proxies, anonymize_ip, "
                        "limits");
        }
    }
}

static void read_retention(struct yaml_walk *w, yaml_node_t *node,
                           struct cfg_storage *s)
{
    struct yaml_member m;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "storage.retention")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "max_bytes") == 0) {
            yaml_read_size(w, m.value, &s->retention_max_bytes);
        } else if (strcmp(m.key, "max_age") == 0) {
            yaml_read_duration(w, m.value, &s->retention_max_age_ms);
        } else {
            unknown_key(w, &m, "storage.retention", "max_bytes, max_age");
        }
    }
}

static void read_storage(struct yaml_walk *w, yaml_node_t *node,
                         struct cfg_storage *s)
{
    static const char *const backends[] = {"embedded"};
    static const char *const durabilities[] = {"fsync", "interval", "none"};
    static const char *const compressions[] = {"none", "zstd"};
    struct yaml_member m;
    int backend;
    int64_t interval_ms;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "storage")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "backend") == 0) {
            yaml_read_choice(w, m.value, backends, 1, &backend);
        } else if (strcmp(m.key, "path") == 0) {
            yaml_read_path(w, m.value, &s->path);
        } else if (strcmp(m.key, "partitions") == 0) {
            yaml_read_u32(w, m.value, 1, LOG_MAX_PARTITIONS, &s->partitions);
        } else if (strcmp(m.key, "durability") == 0) {
            yaml_read_choice(w, m.value, durabilities, 3, &s->durability);
        } else if (strcmp(m.key, "interval") == 0) {
            if (yaml_read_duration(w, m.value, &interval_ms)) {
                s->interval_ms =
                    (uint32_t)(interval_ms > 60000 ? 60000 : interval_ms);
            }
        } else if (strcmp(m.key, "compression") == 0) {
            yaml_read_choice(w, m.value, compressions, 2, &s->compression);
        } else if (strcmp(m.key, "segment_max_bytes") == 0) {
            yaml_read_size(w, m.value, &s->segment_max_bytes);
        } else if (strcmp(m.key, "retention") == 0) {
            read_retention(w, m.value, s);
        } else {
            unknown_key(w, &m, "storage",
                        "backend, path, partitions, durability, interval, "
                        "compression, segment_max_bytes, retention");
        }
    }
}

static void read_dedup(struct yaml_walk *w, yaml_node_t *node,
                       struct cfg_dedup *d)
{
    struct yaml_member m;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "dedup")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "enabled") == 0) {
            yaml_read_bool(w, m.value, &d->enabled);
        } else if (strcmp(m.key, "window") == 0) {
            yaml_read_duration(w, m.value, &d->window_ms);
        } else if (strcmp(m.key, "max_ids") == 0) {
            yaml_read_u64(w, m.value, &d->max_ids);
        } else {
            unknown_key(w, &m, "dedup", "enabled, window, max_ids");
        }
    }
}

/* Source and plan names appear in metrics and on disk: keep them plain. */
bool cfg_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > 64) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

static void read_rate_limit(struct yaml_walk *w, yaml_node_t *node,
                            struct cfg_rate_limit *r)
{
    struct yaml_member m;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "rate_limit")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "events_per_second") == 0) {
            yaml_read_double(w, m.value, &r->events_per_s);
        } else if (strcmp(m.key, "burst") == 0) {
            yaml_read_double(w, m.value, &r->burst);
        } else {
            unknown_key(w, &m, "rate_limit", "events_per_second, burst");
        }
    }
    if (r->burst == 0) {
        r->burst = r->events_per_s;
    }
}

static void read_source(struct yaml_walk *w, yaml_node_t *node,
                        struct cfg_source *s)
{
    static const char *const policies[] = {"accept", "annotate", "reject"};
    struct yaml_member m;
    int policy;

    s->line = yaml_line(node);
    s->on_violation = CFG_VIOLATION_REJECT;
    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "a source")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "name") == 0) {
            if (yaml_read_string(w, m.value, &s->name) &&
                !cfg_name_valid(s->name)) {
                yaml_error(w, m.value,
                           "source name '%s' must be 1 to 64 characters of "
                           "A-Z a-z 0-9 _ - .",
                           s->name);
            }
        } else if (strcmp(m.key, "write_keys") == 0) {
            yaml_read_strings(w, m.value, &s->write_keys, &s->write_key_count);
        } else if (strcmp(m.key, "plan") == 0) {
            yaml_read_string(w, m.value, &s->plan);
        } else if (strcmp(m.key, "on_violation") == 0) {
            if (yaml_read_choice(w, m.value, policies, 3, &policy)) {
                s->on_violation = (enum cfg_on_violation)policy;
            }
        } else if (strcmp(m.key, "rate_limit") == 0) {
            read_rate_limit(w, m.value, &s->rate_limit);
        } else {
            unknown_key(w, &m, "a source",
                        "name, write_keys, plan, on_violation, rate_limit");
        }
    }
    if (s->name == NULL) {
        yaml_error(w, node, "a source needs a name");
    }
    if (s->write_key_count == 0) {
        yaml_error(w, node, "source '%s' needs at least one write key",
                   s->name != NULL ? s->name : "?");
    }
}

static void read_sources(struct yaml_walk *w, yaml_node_t *node,
                         struct tw_config *c)
{
    size_t n = 0;

    if (!yaml_expect(w, node, YAML_SEQUENCE_NODE, "sources")) {
        return;
    }
    while (yaml_item_at(w, node, n) != NULL) {
        n++;
    }
    c->sources = calloc(n == 0 ? 1 : n, sizeof(*c->sources));
    if (c->sources == NULL) {
        yaml_error(w, node, "out of memory");
        return;
    }
    c->source_count = n;
    for (size_t i = 0; i < n; i++) {
        read_source(w, yaml_item_at(w, node, i), &c->sources[i]);
    }
}

static void read_plan_schema(struct yaml_walk *w, yaml_node_t *node,
                             struct cfg_plan_schema *schema)
{
    schema->line = yaml_line(node);
    yaml_read_path(w, node, &schema->path);
}

static void read_plan_events(struct yaml_walk *w, yaml_node_t *node,
                             struct cfg_plan *p)
{
    struct yaml_member m;
    size_t n = 0;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "a plan's events")) {
        return;
    }
    while (yaml_member_at(w, node, n, &m)) {
        n++;
    }
    p->events = calloc(n == 0 ? 1 : n, sizeof(*p->events));
    if (p->events == NULL) {
        yaml_error(w, node, "out of memory");
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        struct cfg_plan_event *e = &p->events[p->event_count];

        e->line = yaml_line(m.key_node);
        for (size_t j = 0; j < p->event_count; j++) {
            if (strcmp(p->events[j].name, m.key) == 0) {
                yaml_error(w, m.key_node,
                           "event '%s' is listed twice in plan '%s'", m.key,
                           p->name);
            }
        }
        e->name = strdup(m.key);
        if (e->name == NULL) {
            yaml_error(w, m.key_node, "out of memory");
            return;
        }
        p->event_count++;
        yaml_read_path(w, m.value, &e->schema_path);
    }
}

static void read_plan(struct yaml_walk *w, const struct yaml_member *pm,
                      struct cfg_plan *p)
{
    static const char *const unplanned[] = {"allow", "reject"};
    struct yaml_member m;
    int choice;

    p->line = yaml_line(pm->key_node);
    p->name = strdup(pm->key);
    if (p->name == NULL || !cfg_name_valid(p->name)) {
        yaml_error(w, pm->key_node,
                   "plan name '%s' must be 1 to 64 characters of "
                   "A-Z a-z 0-9 _ - .",
                   pm->key);
    }
    if (!yaml_expect(w, pm->value, YAML_MAPPING_NODE, "a plan")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, pm->value, i, &m); i++) {
        if (strcmp(m.key, "version") == 0) {
            yaml_read_string(w, m.value, &p->version);
        } else if (strcmp(m.key, "unplanned") == 0) {
            if (yaml_read_choice(w, m.value, unplanned, 2, &choice)) {
                p->unplanned = (enum cfg_unplanned)choice;
            }
        } else if (strcmp(m.key, "events") == 0) {
            read_plan_events(w, m.value, p);
        } else if (strcmp(m.key, "identify") == 0) {
            read_plan_schema(w, m.value, &p->identify);
        } else if (strcmp(m.key, "page") == 0) {
            read_plan_schema(w, m.value, &p->page);
        } else if (strcmp(m.key, "screen") == 0) {
            read_plan_schema(w, m.value, &p->screen);
        } else if (strcmp(m.key, "group") == 0) {
            read_plan_schema(w, m.value, &p->group);
        } else {
            unknown_key(w, &m, "a plan",
                        "version, unplanned, events, identify, page, "
                        "screen, group");
        }
    }
    if (p->version == NULL) {
        p->version = strdup("1");
    }
}

static void read_plans(struct yaml_walk *w, yaml_node_t *node,
                       struct tw_config *c)
{
    struct yaml_member m;
    size_t n = 0;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "plans")) {
        return;
    }
    while (yaml_member_at(w, node, n, &m)) {
        n++;
    }
    c->plans = calloc(n == 0 ? 1 : n, sizeof(*c->plans));
    if (c->plans == NULL) {
        yaml_error(w, node, "out of memory");
        return;
    }
    c->plan_count = n;
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        read_plan(w, &m, &c->plans[i]);
    }
}

static void read_root(struct yaml_walk *w, yaml_node_t *root,
                      struct tw_config *c)
{
    struct yaml_member m;

    if (!yaml_expect(w, root, YAML_MAPPING_NODE, "the configuration")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, root, i, &m); i++) {
        if (strcmp(m.key, "server") == 0) {
            read_server(w, m.value, &c->server);
        } else if (strcmp(m.key, "storage") == 0) {
            read_storage(w, m.value, &c->storage);
        } else if (strcmp(m.key, "dedup") == 0) {
            read_dedup(w, m.value, &c->dedup);
        } else if (strcmp(m.key, "sources") == 0) {
            read_sources(w, m.value, c);
        } else if (strcmp(m.key, "plans") == 0) {
            read_plans(w, m.value, c);
        } else if (strcmp(m.key, "destinations") == 0) {
            cfg_read_destinations(w, m.value, c);
        } else if (strcmp(m.key, "routes") == 0) {
            cfg_read_routes(w, m.value, c);
        } else {
            unknown_key(w, &m, "the configuration",
                        "server, storage, dedup, sources, plans, "
                        "destinations, routes");
        }
    }
}

/* Checks that need the whole file: names unique, references resolve. */
static void check_references(struct yaml_walk *w, struct tw_config *c)
{
    for (size_t i = 0; i < c->source_count; i++) {
        const struct cfg_source *s = &c->sources[i];

        for (size_t j = 0; j < i && s->name != NULL; j++) {
            if (c->sources[j].name != NULL &&
                strcmp(c->sources[j].name, s->name) == 0) {
                cfg_errors_add(w->errors, w->file, s->line,
                               "source '%s' is defined twice (first on "
                               "line %d)",
                               s->name, c->sources[j].line);
            }
        }
        for (size_t k = 0; k < s->write_key_count; k++) {
            for (size_t j = 0; j <= i; j++) {
                const struct cfg_source *o = &c->sources[j];
                size_t end = j == i ? k : o->write_key_count;
                for (size_t l = 0; l < end; l++) {
                    if (strcmp(o->write_keys[l], s->write_keys[k]) == 0) {
                        cfg_errors_add(w->errors, w->file, s->line,
                                       "write key '%s' is used twice",
                                       s->write_keys[k]);
                    }
                }
            }
        }
        if (s->plan != NULL && config_plan(c, s->plan) == NULL) {
            cfg_errors_add(w->errors, w->file, s->line,
                           "source '%s' names plan '%s', which is not "
                           "defined under plans",
                           s->name != NULL ? s->name : "?", s->plan);
        }
    }
    if (c->source_count == 0) {
        cfg_errors_add(w->errors, w->file, 0,
                       "no sources: define at least one under 'sources', "
                       "each with a name and write_keys");
    }
    if (c->storage.path == NULL) {
        cfg_errors_add(w->errors, w->file, 0,
                       "storage.path is required: the directory of the log");
    }
}

static void yaml_problem(struct yaml_walk *w, const yaml_parser_t *parser)
{
    cfg_errors_add(w->errors, w->file, (int)parser->problem_mark.line + 1,
                   "YAML syntax: %s%s%s",
                   parser->problem != NULL ? parser->problem : "error",
                   parser->context != NULL ? " " : "",
                   parser->context != NULL ? parser->context : "");
}

static int load_document(const char *path, struct yaml_walk *w,
                         struct tw_config *c)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    FILE *file;
    int rc = 0;

    file = fopen(path, "rb");
    if (file == NULL) {
        return tw_err_errno(errno, "cannot read configuration %s", path);
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, file);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_problem(w, &parser);
        rc = TW_EINVAL;
        goto close_parser;
    }
    w->doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        cfg_errors_add(w->errors, w->file, 0, "the file is empty");
    } else {
        read_root(w, root, c);
        check_references(w, c);
        cfg_check_delivery(w, c);
    }
    yaml_document_delete(&doc);
close_parser:
    yaml_parser_delete(&parser);
    fclose(file);
    return rc;
}

int config_load(const char *path, struct tw_config **out,
                struct cfg_errors *errors)
{
    struct yaml_walk w = {.file = path, .errors = errors};
    struct tw_config *c;
    char *copy;
    int rc;

    memset(errors, 0, sizeof(*errors));
    c = calloc(1, sizeof(*c));
    copy = strdup(path);
    if (c == NULL || copy == NULL) {
        free(c);
        free(copy);
        return tw_err_set(TW_ENOMEM, "out of memory loading %s", path);
    }
    w.base_dir = strdup(dirname(copy));
    free(copy);
    c->file = strdup(path);
    config_defaults(c);
    rc = load_document(path, &w, c);
    free(w.base_dir);
    if (rc == 0 && errors->count > 0) {
        rc = tw_err_set(TW_EINVAL, "%s: %zu mistake%s", path, errors->count,
                        errors->count == 1 ? "" : "s");
    }
    if (rc != 0) {
        config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void free_strings(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(list[i]);
    }
    free(list);
}

static void plan_free(struct cfg_plan *p)
{
    for (size_t i = 0; i < p->event_count; i++) {
        free(p->events[i].name);
        free(p->events[i].schema_path);
    }
    free(p->events);
    free(p->name);
    free(p->version);
    free(p->identify.path);
    free(p->page.path);
    free(p->screen.path);
    free(p->group.path);
}

void config_free(struct tw_config *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->source_count; i++) {
        free(c->sources[i].name);
        free(c->sources[i].plan);
        free_strings(c->sources[i].write_keys, c->sources[i].write_key_count);
    }
    free(c->sources);
    for (size_t i = 0; i < c->plan_count; i++) {
        plan_free(&c->plans[i]);
    }
    free(c->plans);
    cfg_free_delivery(c);
    free_strings(c->server.trusted_proxies, c->server.trusted_proxy_count);
    free(c->server.host);
    free(c->storage.path);
    free(c->file);
    free(c);
}

void cfg_errors_add(struct cfg_errors *errors, const char *file, int line,
                    const char *fmt, ...)
{
    char message[600];
    char *entry = NULL;
    char **grown;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (line > 0) {
        if (asprintf(&entry, "%s:%d: %s", file, line, message) < 0) {
            entry = NULL;
        }
    } else if (asprintf(&entry, "%s: %s", file, message) < 0) {
        entry = NULL;
    }
    grown = realloc(errors->lines, (errors->count + 1) * sizeof(*grown));
    if (entry == NULL || grown == NULL) {
        free(entry);
        if (grown != NULL) {
            errors->lines = grown;
        }
        return;
    }
    errors->lines = grown;
    errors->lines[errors->count++] = entry;
}

void cfg_errors_free(struct cfg_errors *errors)
{
    free_strings(errors->lines, errors->count);
    memset(errors, 0, sizeof(*errors));
}

const struct cfg_source *config_source(const struct tw_config *c,
                                       const char *name)
{
    for (size_t i = 0; i < c->source_count; i++) {
        if (c->sources[i].name != NULL &&
            strcmp(c->sources[i].name, name) == 0) {
            return &c->sources[i];
        }
    }
    return NULL;
}

const struct cfg_plan *config_plan(const struct tw_config *c, const char *name)
{
    for (size_t i = 0; i < c->plan_count; i++) {
        if (c->plans[i].name != NULL && strcmp(c->plans[i].name, name) == 0) {
            return &c->plans[i];
        }
    }
    return NULL;
}
