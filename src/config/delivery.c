/*
 * delivery.c - reading the destinations and routes sections
 * (docs/CONFIGURATION.md, "destinations" and "routes").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "config/sections.h"
#include "deliver/deliver.h"
#include "sinks/file.h"
#include "sinks/http.h"

static void unknown(struct yaml_walk *w, const struct yaml_member *m,
                    const char *where, const char *known)
{
    yaml_error(w, m->key_node, "unknown key '%s' in %s (known keys: %s)",
               m->key, where, known);
}

static void read_pairs(struct yaml_walk *w, yaml_node_t *node,
                       struct cfg_pair **out, size_t *count)
{
    struct yaml_member m;
    size_t n = 0;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "this value")) {
        return;
    }
    while (yaml_member_at(w, node, n, &m)) {
        n++;
    }
    *out = calloc(n + 1, sizeof(**out));
    if (*out == NULL) {
        yaml_error(w, node, "out of memory");
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        (*out)[i].name = strdup(m.key);
        yaml_read_string(w, m.value, &(*out)[i].value);
        *count = i + 1;
    }
}

/* "100ms..30s": the first and the longest wait between attempts. */
static void read_backoff(struct yaml_walk *w, yaml_node_t *node,
                         struct cfg_destination *d)
{
    char *text = NULL;
    char *dots;

    if (!yaml_read_string(w, node, &text)) {
        return;
    }
    dots = strstr(text, "..");
    if (dots != NULL) {
        *dots = '\0';
    }
    if (dots == NULL || tw_parse_duration(text, &d->backoff_min_ms) != 0 ||
        tw_parse_duration(dots + 2, &d->backoff_max_ms) != 0 ||
        d->backoff_min_ms <= 0 || d->backoff_max_ms < d->backoff_min_ms) {
        yaml_error(w, node,
                   "backoff must be MIN..MAX with durations, MIN > 0 and "
                   "MAX >= MIN, such as \"100ms..30s\"");
    }
    free(text);
}

static void read_batch(struct yaml_walk *w, yaml_node_t *node,
                       struct cfg_destination *d)
{
    struct yaml_member m;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "batch")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "max_events") == 0) {
            yaml_read_u32(w, m.value, 1, 100000, &d->batch_max_events);
        } else if (strcmp(m.key, "max_bytes") == 0) {
            yaml_read_size(w, m.value, &d->batch_max_bytes);
        } else if (strcmp(m.key, "max_wait") == 0) {
            yaml_read_duration(w, m.value, &d->batch_max_wait_ms);
        } else {
            unknown(w, &m, "batch", "max_events, max_bytes, max_wait");
        }
    }
}

static void read_retry(struct yaml_walk *w, yaml_node_t *node,
                       struct cfg_destination *d)
{
    struct yaml_member m;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "retry")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "max_attempts") == 0) {
            yaml_read_u32(w, m.value, 1, 1000000, &d->max_attempts);
        } else if (strcmp(m.key, "backoff") == 0) {
            read_backoff(w, m.value, d);
        } else if (strcmp(m.key, "retryable_statuses") == 0) {
            yaml_node_t *item;
            size_t n = 0;
            if (!yaml_expect(w, m.value, YAML_SEQUENCE_NODE,
                             "retryable_statuses")) {
                continue;
            }
            while (yaml_item_at(w, m.value, n) != NULL) {
                n++;
            }
            d->retryable = calloc(n + 1, sizeof(*d->retryable));
            for (size_t k = 0; d->retryable != NULL &&
                               (item = yaml_item_at(w, m.value, k)) != NULL;
                 k++) {
                yaml_read_u32(w, item, 400, 599, &d->retryable[k]);
                d->retryable_count = k + 1;
            }
        } else {
            unknown(w, &m, "retry",
                    "max_attempts, backoff, retryable_statuses");
        }
    }
}

static void read_breaker(struct yaml_walk *w, yaml_node_t *node,
                         struct cfg_destination *d)
{
    struct yaml_member m;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "breaker")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "failures") == 0) {
            yaml_read_u32(w, m.value, 1, 1000000, &d->breaker_failures);
        } else if (strcmp(m.key, "open_for") == 0) {
            yaml_read_duration(w, m.value, &d->breaker_open_ms);
        } else {
            unknown(w, &m, "breaker", "failures, open_for");
        }
    }
}

static void read_rotate(struct yaml_walk *w, yaml_node_t *node,
                        struct cfg_destination *d)
{
    struct yaml_member m;

    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "rotate")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "max_bytes") == 0) {
            yaml_read_size(w, m.value, &d->rotate_max_bytes);
        } else if (strcmp(m.key, "max_age") == 0) {
            yaml_read_duration(w, m.value, &d->rotate_max_age_ms);
        } else {
            unknown(w, &m, "rotate", "max_bytes, max_age");
        }
    }
}

static void read_shape(struct yaml_walk *w, yaml_node_t *node,
                       struct cfg_shape *sh)
{
    struct yaml_member m;
    struct yaml_member r;

    sh->line = yaml_line(node);
    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "shape")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "keep") == 0) {
            yaml_read_strings(w, m.value, &sh->keep, &sh->keep_count);
        } else if (strcmp(m.key, "drop") == 0) {
            yaml_read_strings(w, m.value, &sh->drop, &sh->drop_count);
        } else if (strcmp(m.key, "rename") == 0) {
            read_pairs(w, m.value, &sh->rename, &sh->rename_count);
        } else if (strcmp(m.key, "redact") == 0 &&
                   yaml_expect(w, m.value, YAML_MAPPING_NODE, "redact")) {
            for (size_t k = 0; yaml_member_at(w, m.value, k, &r); k++) {
                if (strcmp(r.key, "drop") == 0) {
                    yaml_read_strings(w, r.value, &sh->redact_drop,
                                      &sh->redact_drop_count);
                } else if (strcmp(r.key, "hash") == 0) {
                    yaml_read_strings(w, r.value, &sh->redact_hash,
                                      &sh->redact_hash_count);
                } else if (strcmp(r.key, "key") == 0) {
                    yaml_read_string(w, r.value, &sh->hash_key);
                } else {
                    unknown(w, &r, "redact", "drop, hash, key");
                }
            }
        } else if (strcmp(m.key, "redact") != 0) {
            unknown(w, &m, "shape", "keep, drop, rename, redact");
        }
    }
    if (sh->redact_hash_count > 0 &&
        (sh->hash_key == NULL || strlen(sh->hash_key) < 16)) {
        yaml_error(w, node,
                   "redact.hash needs redact.key: a secret of at least 16 "
                   "characters for the keyed hash");
    }
}

/* What a destination leaves out takes the runtime's and the sinks' own
 * defaults, so the two cannot drift apart. */
static void dest_defaults(struct cfg_destination *d)
{
    struct deliver_options o;
    struct sink_file_options f;
    struct sink_http_options h;

    deliver_options_init(&o);
    sink_file_options_init(&f, "");
    sink_http_options_init(&h);
    d->rotate_max_bytes = f.max_bytes;
    d->rotate_max_age_ms = f.max_age_ms;
    d->timeout_ms = h.timeout_ms;
    d->max_in_flight = h.max_in_flight;
    d->batch_max_events = o.batch_max_events;
    d->batch_max_bytes = o.batch_max_bytes;
    d->batch_max_wait_ms = o.batch_max_wait_ms;
    d->max_attempts = o.max_attempts;
    d->backoff_min_ms = o.backoff_min_ms;
    d->backoff_max_ms = o.backoff_max_ms;
    d->breaker_failures = o.breaker_failures;
    d->breaker_open_ms = o.breaker_open_ms;
}

static void read_dest_member(struct yaml_walk *w, const struct yaml_member *m,
                             struct cfg_destination *d)
{
    static const char *const types[] = {"file", "http", "stdout"};
    static const char *const starts[] = {"oldest", "newest"};
    static const char *const formats[] = {"batch", "ndjson"};
    static const char *const backlogs[] = {"block", "skip"};
    int choice;

    if (strcmp(m->key, "name") == 0) {
        if (yaml_read_string(w, m->value, &d->name) &&
            !cfg_name_valid(d->name)) {
            yaml_error(w, m->value,
                       "destination name '%s' must be 1 to 64 characters "
                       "of A-Z a-z 0-9 _ - .",
                       d->name);
        }
    } else if (strcmp(m->key, "type") == 0) {
        if (yaml_read_choice(w, m->value, types, 3, &choice)) {
            d->type = (enum cfg_dest_type)choice;
        }
    } else if (strcmp(m->key, "path") == 0) {
        yaml_read_path(w, m->value, &d->path);
    } else if (strcmp(m->key, "rotate") == 0) {
        read_rotate(w, m->value, d);
    } else if (strcmp(m->key, "compression") == 0) {
        static const char *const comp[] = {"none", "zstd"};
        if (yaml_read_choice(w, m->value, comp, 2, &choice)) {
            d->compress = choice == 1;
        }
    } else if (strcmp(m->key, "url") == 0) {
        yaml_read_string(w, m->value, &d->url);
    } else if (strcmp(m->key, "headers") == 0) {
        read_pairs(w, m->value, &d->headers, &d->header_count);
    } else if (strcmp(m->key, "gzip") == 0) {
        yaml_read_bool(w, m->value, &d->gzip);
    } else if (strcmp(m->key, "format") == 0) {
        if (yaml_read_choice(w, m->value, formats, 2, &choice)) {
            d->ndjson = choice == 1;
        }
    } else if (strcmp(m->key, "timeout") == 0) {
        yaml_read_duration(w, m->value, &d->timeout_ms);
    } else if (strcmp(m->key, "max_in_flight") == 0) {
        yaml_read_u32(w, m->value, 1, 256, &d->max_in_flight);
    } else if (strcmp(m->key, "batch") == 0) {
        read_batch(w, m->value, d);
    } else if (strcmp(m->key, "retry") == 0) {
        read_retry(w, m->value, d);
    } else if (strcmp(m->key, "breaker") == 0) {
        read_breaker(w, m->value, d);
    } else if (strcmp(m->key, "start") == 0) {
        if (yaml_read_choice(w, m->value, starts, 2, &choice)) {
            d->start_at_end = choice == 1;
        }
    } else if (strcmp(m->key, "paused") == 0) {
        yaml_read_bool(w, m->value, &d->paused);
    } else if (strcmp(m->key, "backlog") == 0) {
        if (yaml_read_choice(w, m->value, backlogs, 2, &choice)) {
            d->backlog_skip = choice == 1;
        }
    } else if (strcmp(m->key, "shape") == 0) {
        read_shape(w, m->value, &d->shape);
        d->has_shape = true;
    } else {
        unknown(w, m, "a destination",
                "name, type, path, rotate, compression, url, headers, gzip, "
                "format, timeout, max_in_flight, batch, retry, breaker, "
                "start, paused, backlog, shape");
    }
}

static void read_destination(struct yaml_walk *w, yaml_node_t *node,
                             struct cfg_destination *d)
{
    struct yaml_member m;

    d->line = yaml_line(node);
    dest_defaults(d);
    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "a destination")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        read_dest_member(w, &m, d);
    }
    if (d->name == NULL) {
        yaml_error(w, node, "a destination needs a name");
    }
    if (d->type == CFG_DEST_FILE && d->path == NULL) {
        yaml_error(w, node, "file destination '%s' needs a path (a folder)",
                   d->name != NULL ? d->name : "?");
    }
    if (d->type == CFG_DEST_HTTP &&
        (d->url == NULL || (strncmp(d->url, "http://", 7) != 0 &&
                            strncmp(d->url, "https://", 8) != 0))) {
        yaml_error(w, node, "http destination '%s' needs an http:// url",
                   d->name != NULL ? d->name : "?");
    }
}

void cfg_read_destinations(struct yaml_walk *w, yaml_node_t *node,
                           struct tw_config *c)
{
    size_t n = 0;

    if (!yaml_expect(w, node, YAML_SEQUENCE_NODE, "destinations")) {
        return;
    }
    while (yaml_item_at(w, node, n) != NULL) {
        n++;
    }
    c->destinations = calloc(n + 1, sizeof(*c->destinations));
    if (c->destinations == NULL) {
        yaml_error(w, node, "out of memory");
        return;
    }
    c->destination_count = n;
    for (size_t i = 0; i < n; i++) {
        read_destination(w, yaml_item_at(w, node, i), &c->destinations[i]);
    }
}

static void read_route(struct yaml_walk *w, yaml_node_t *node,
                       struct cfg_route *r)
{
    struct yaml_member m;

    r->line = yaml_line(node);
    if (!yaml_expect(w, node, YAML_MAPPING_NODE, "a route")) {
        return;
    }
    for (size_t i = 0; yaml_member_at(w, node, i, &m); i++) {
        if (strcmp(m.key, "from") == 0) {
            yaml_read_strings(w, m.value, &r->from, &r->from_count);
        } else if (strcmp(m.key, "to") == 0) {
            yaml_read_strings(w, m.value, &r->to, &r->to_count);
        } else if (strcmp(m.key, "where") == 0) {
            r->where_line = yaml_line(m.value);
            yaml_read_string(w, m.value, &r->where);
        } else {
            unknown(w, &m, "a route", "from, where, to");
        }
    }
    if (r->from_count == 0 || r->to_count == 0) {
        yaml_error(w, node,
                   "a route needs from (sources, or \"*\") and to "
                   "(destinations)");
    }
}

void cfg_read_routes(struct yaml_walk *w, yaml_node_t *node,
                     struct tw_config *c)
{
    size_t n = 0;

    if (!yaml_expect(w, node, YAML_SEQUENCE_NODE, "routes")) {
        return;
    }
    while (yaml_item_at(w, node, n) != NULL) {
        n++;
    }
    c->routes = calloc(n + 1, sizeof(*c->routes));
    if (c->routes == NULL) {
        yaml_error(w, node, "out of memory");
        return;
    }
    c->route_count = n;
    for (size_t i = 0; i < n; i++) {
        read_route(w, yaml_item_at(w, node, i), &c->routes[i]);
    }
}

void cfg_check_delivery(struct yaml_walk *w, const struct tw_config *c)
{
    for (size_t i = 0; i < c->destination_count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (c->destinations[i].name != NULL &&
                c->destinations[j].name != NULL &&
                strcmp(c->destinations[i].name, c->destinations[j].name) == 0) {
                cfg_errors_add(w->errors, w->file, c->destinations[i].line,
                               "destination '%s' is defined twice",
                               c->destinations[i].name);
            }
        }
    }
    for (size_t i = 0; i < c->route_count; i++) {
        const struct cfg_route *r = &c->routes[i];

        for (size_t k = 0; k < r->from_count; k++) {
            if (strcmp(r->from[k], "*") != 0 &&
                config_source(c, r->from[k]) == NULL) {
                cfg_errors_add(w->errors, w->file, r->line,
                               "route from '%s': no such source", r->from[k]);
            }
        }
        for (size_t k = 0; k < r->to_count; k++) {
            if (config_destination(c, r->to[k]) == NULL) {
                cfg_errors_add(w->errors, w->file, r->line,
                               "route to '%s': no such destination", r->to[k]);
            }
        }
    }
}

static void free_strings(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(list[i]);
    }
    free(list);
}

static void free_pairs(struct cfg_pair *pairs, size_t count)
{
    for (size_t i = 0; pairs != NULL && i < count; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
}

void cfg_free_delivery(struct tw_config *c)
{
    for (size_t i = 0; i < c->destination_count; i++) {
        struct cfg_destination *d = &c->destinations[i];
        free(d->name);
        free(d->path);
        free(d->url);
        free_pairs(d->headers, d->header_count);
        free(d->retryable);
        free_strings(d->shape.keep, d->shape.keep_count);
        free_strings(d->shape.drop, d->shape.drop_count);
        free_pairs(d->shape.rename, d->shape.rename_count);
        free_strings(d->shape.redact_drop, d->shape.redact_drop_count);
        free_strings(d->shape.redact_hash, d->shape.redact_hash_count);
        free(d->shape.hash_key);
    }
    free(c->destinations);
    for (size_t i = 0; i < c->route_count; i++) {
        free_strings(c->routes[i].from, c->routes[i].from_count);
        free_strings(c->routes[i].to, c->routes[i].to_count);
        free(c->routes[i].where);
    }
    free(c->routes);
}

const struct cfg_destination *config_destination(const struct tw_config *c,
                                                 const char *name)
{
    for (size_t i = 0; i < c->destination_count; i++) {
        if (c->destinations[i].name != NULL &&
            strcmp(c->destinations[i].name, name) == 0) {
            return &c->destinations[i];
        }
    }
    return NULL;
}
