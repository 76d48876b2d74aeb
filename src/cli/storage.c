/* storage.c - opening a configuration's logs and plans (storage.h). */
#include "cli/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collect/failed.h"
#include "deliver/deliver.h"
#include "log/embedded.h"

/*
 * The cursors of the destinations with backlog: block, so that they hold
 * the log from its first moment open: its writer may run retention
 * before the destinations start (a full log, restarted). The caller
 * frees *names.
 */
static const char **holding_cursors(const struct tw_config *config,
                                    char **names, size_t *count)
{
    size_t n = config->destination_count;
    const char **list = calloc(n + 1, sizeof(*list));
    size_t size = LOG_CURSOR_NAME_MAX + 1;

    *count = 0;
    *names = calloc(n + 1, size);
    if (list == NULL || *names == NULL) {
        free(list);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cfg_destination *d = &config->destinations[i];

        if (!d->backlog_skip) {
            deliver_cursor_name(d->name, *names + *count * size, size);
            list[*count] = *names + *count * size;
            (*count)++;
        }
    }
    return list;
}

/* Opens (or creates) the log named name under storage.path. */
static int log_open(const struct tw_config *config, const char *name,
                    uint32_t partitions, bool read_only, struct log **out)
{
    const struct cfg_storage *s = &config->storage;
    struct log_options opts;
    char path[4096];
    char *names = NULL;
    const char **holding;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", s->path, name);
    log_options_init(&opts, path);
    opts.create = !read_only;
    opts.read_only = read_only;
    opts.partitions = read_only ? 0 : partitions;
    opts.durability = (enum log_durability)s->durability;
    opts.interval_ms = s->interval_ms;
    opts.compression = (enum log_compression)s->compression;
    opts.segment_max_bytes = s->segment_max_bytes;
    opts.retention.max_bytes = s->retention_max_bytes;
    opts.retention.max_age_ms = s->retention_max_age_ms;
    /* Which cursors hold retention is said by their owners, each
     * destination with backlog: block (src/deliver/deliver.h); theirs
     * hold from the open on, before the destinations start. */
    opts.retention.keep_unread = false;
    holding = holding_cursors(config, &names, &opts.retention.holding_count);
    if (holding == NULL) {
        free(names);
        return tw_err_set(TW_ENOMEM, "no memory to open the %s log", name);
    }
    opts.retention.holding = holding;
    rc = log_embedded_open(&opts, out, NULL);
    free(holding);
    free(names);
    return rc;
}

int cli_log_open(const char *cmd, const struct tw_config *config,
                 const char *name, uint32_t partitions, bool read_only,
                 struct log **out)
{
    const char *slash = strchr(name, '/');
    char parent[4096];
    int rc;

    /* A log in a folder of its own ("dlq/<name>"): make the folder. */
    if (!read_only && slash != NULL) {
        snprintf(parent, sizeof(parent), "%s/%.*s", config->storage.path,
                 (int)(slash - name), name);
        if (mkdir(parent, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "trackway %s: cannot create %s: %s\n", cmd, parent,
                    strerror(errno));
            return tw_err_from_errno(errno);
        }
    }
    rc = log_open(config, name, partitions, read_only, out);
    if (rc != 0) {
        fprintf(stderr, "trackway %s: cannot open the %s log at %s/%s: %s\n",
                cmd, name, config->storage.path, name, tw_err_message());
    }
    return rc;
}

int cli_storage_open(const char *cmd, const struct tw_config *config,
                     bool read_only, struct cli_storage *st)
{
    int rc;

    st->events = NULL;
    st->failed = NULL;
    if (!read_only && mkdir(config->storage.path, 0755) != 0 &&
        errno != EEXIST) {
        fprintf(stderr, "trackway %s: cannot create %s: %s\n", cmd,
                config->storage.path, strerror(errno));
        return tw_err_from_errno(errno);
    }
    rc = cli_log_open(cmd, config, EVENTS_LOG_DIR, config->storage.partitions,
                      read_only, &st->events);
    if (rc == 0) {
        rc = cli_log_open(cmd, config, FAILED_LOG_DIR, 1, read_only,
                          &st->failed);
    }
    if (rc != 0) {
        cli_storage_close(st);
    }
    return rc;
}

void cli_storage_close(struct cli_storage *st)
{
    if (st->events != NULL) {
        log_close(st->events);
    }
    if (st->failed != NULL) {
        log_close(st->failed);
    }
    st->events = NULL;
    st->failed = NULL;
}

static void print_errors(const char *cmd, struct cfg_errors *errors)
{
    for (size_t i = 0; i < errors->count; i++) {
        fprintf(stderr, "%s\n", errors->lines[i]);
    }
    fprintf(stderr, "trackway %s: %zu mistake%s; nothing was started\n", cmd,
            errors->count, errors->count == 1 ? "" : "s");
}

struct tw_config *cli_config_load(const char *cmd, const char *path)
{
    struct tw_config *config = NULL;
    struct cfg_errors errors;
    int rc = config_load(path, &config, &errors);

    if (rc == TW_EINVAL && errors.count > 0) {
        print_errors(cmd, &errors);
    } else if (rc != 0) {
        fprintf(stderr, "trackway %s: %s\n", cmd, tw_err_message());
    }
    cfg_errors_free(&errors);
    return rc == 0 ? config : NULL;
}

int cli_plans_compile(const char *cmd, const struct tw_config *config,
                      struct plan ***out)
{
    struct cfg_errors errors = {0};
    struct plan **plans = calloc(config->plan_count + 1, sizeof(*plans));

    if (plans == NULL) {
        fprintf(stderr, "trackway %s: out of memory\n", cmd);
        return TW_ENOMEM;
    }
    for (size_t i = 0; i < config->plan_count; i++) {
        if (plan_compile(config, &config->plans[i], &plans[i], &errors) != 0 &&
            errors.count == 0) {
            cfg_errors_add(&errors, config->file, config->plans[i].line,
                           "plan '%s': %s", config->plans[i].name,
                           tw_err_message());
        }
    }
    if (errors.count > 0) {
        print_errors(cmd, &errors);
        cfg_errors_free(&errors);
        cli_plans_free(plans, config->plan_count);
        return TW_EINVAL;
    }
    *out = plans;
    return 0;
}

void cli_plans_free(struct plan **plans, size_t count)
{
    if (plans == NULL) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        plan_free(plans[i]);
    }
    free(plans);
}

int cli_log_open_quiet(const struct tw_config *config, const char *name,
                       struct log **out)
{
    return log_open(config, name, 0, true, out);
}
