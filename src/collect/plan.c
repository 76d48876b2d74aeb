/*
 * plan.c - compiling tracking plans and judging events (plan.h).
 *
 * Every *.json file in the folders of a plan's schema files is registered
 * under its file:// URI before any is compiled, so schemas may $ref each
 * other, and shared definitions files, by relative path
 * ("common.json#/$defs/price"). Nothing else is ever fetched. Event names are
 * kept sorted, so judging a track event is a binary search and one validate.
 */
#include "collect/plan.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema.h"

struct plan_event {
    const char *name; /* points into the configuration */
    struct tw_schema *schema;
};

struct plan {
    const struct cfg_plan *cfg;
    struct plan_event *events; /* sorted by name */
    size_t event_count;
    struct tw_schema *identify;
    struct tw_schema *page;
    struct tw_schema *screen;
    struct tw_schema *group;
    /* An empty object, judged when an event carries no properties. */
    struct tw_json_parser *empty_parser;
    struct tw_json empty;
};

/* Reads a whole file, at most TW_SCHEMA_DOC_MAX_BYTES. */
static int read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL) {
        return tw_err_errno(errno, "cannot read %s", path);
    }
    buf = malloc(TW_SCHEMA_DOC_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return tw_err_set(TW_ENOMEM, "out of memory reading %s", path);
    }
    n = fread(buf, 1, TW_SCHEMA_DOC_MAX_BYTES + 1, f);
    fclose(f);
    if (n > TW_SCHEMA_DOC_MAX_BYTES) {
        free(buf);
        return tw_err_set(TW_EFULL, "%s is larger than %u bytes", path,
                          TW_SCHEMA_DOC_MAX_BYTES);
    }
    *text = buf;
    *len = n;
    return 0;
}

static int file_uri(const char *path, char *uri, size_t size)
{
    char real[PATH_MAX];

    if (realpath(path, real) == NULL) {
        return tw_err_errno(errno, "cannot find %s", path);
    }
    snprintf(uri, size, "file://%s", real);
    return 0;
}

/* What compiling one of a plan's schemas needs to say where it failed. */
struct plan_build {
    const struct tw_config *config;
    const struct cfg_plan *cfg;
    struct tw_schema_registry *registry;
    struct cfg_errors *errors;
};

static void register_file(struct plan_build *pb, const char *path, int line)
{
    char uri[PATH_MAX + 8];
    char *text;
    size_t len;
    int rc;

    if (path == NULL) {
        return;
    }
    rc = file_uri(path, uri, sizeof(uri));
    if (rc == 0) {
        rc = read_file(path, &text, &len);
    }
    if (rc != 0) {
        cfg_errors_add(pb->errors, pb->config->file, line, "plan '%s': %s",
                       pb->cfg->name, tw_err_message());
        return;
    }
    rc = tw_schema_registry_add(pb->registry, uri, text, len);
    free(text);
    /* The same file named twice in one plan is fine. */
    if (rc != 0 && rc != TW_EBUSY) {
        cfg_errors_add(pb->errors, pb->config->file, line, "plan '%s': %s: %s",
                       pb->cfg->name, path, tw_err_message());
    }
}

/* Registers every *.json file in the folder holding path. */
static void register_folder(struct plan_build *pb, const char *path, int line)
{
    char folder[PATH_MAX];
    char file[PATH_MAX];
    struct dirent *entry;
    DIR *dir;

    if (path == NULL) {
        return;
    }
    snprintf(folder, sizeof(folder), "%s", path);
    dirname(folder);
    dir = opendir(folder);
    if (dir == NULL) {
        register_file(pb, path, line); /* reports why it cannot be read */
        return;
    }
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);

        if (len > 5 && strcmp(entry->d_name + len - 5, ".json") == 0) {
            snprintf(file, sizeof(file), "%s/%s", folder, entry->d_name);
            register_file(pb, file, line);
        }
    }
    closedir(dir);
}

static struct tw_schema *compile_file(struct plan_build *pb, const char *path,
                                      int line, const char *what)
{
    struct tw_schema_options opts;
    struct tw_schema_error err;
    struct tw_schema *schema = NULL;
    char uri[PATH_MAX + 8];
    char *text;
    size_t len;

    if (path == NULL || file_uri(path, uri, sizeof(uri)) != 0 ||
        read_file(path, &text, &len) != 0) {
        return NULL; /* already reported by register_file */
    }
    tw_schema_options_init(&opts);
    opts.base_uri = uri;
    opts.format_assert = true;
    if (tw_schema_compile(pb->registry, text, len, &opts, &schema, &err) == 0) {
        free(text);
        return schema;
    }
    free(text);
    if (err.missing_uri[0] != '\0') {
        cfg_errors_add(pb->errors, pb->config->file, line,
                       "plan '%s', %s: schema %s refers, at %s, to %s, "
                       "which is not a .json file beside the plan's "
                       "schemas (references are never fetched)",
                       pb->cfg->name, what, path, err.location,
                       err.missing_uri);
    } else {
        cfg_errors_add(pb->errors, pb->config->file, line,
                       "plan '%s', %s: schema %s does not compile: %s: %s",
                       pb->cfg->name, what, path, err.location, err.message);
    }
    return NULL;
}

static int event_cmp(const void *a, const void *b)
{
    return strcmp(((const struct plan_event *)a)->name,
                  ((const struct plan_event *)b)->name);
}

static void compile_all(struct plan_build *pb, struct plan *p)
{
    const struct cfg_plan *cfg = pb->cfg;
    char what[160];

    for (size_t i = 0; i < cfg->event_count; i++) {
        snprintf(what, sizeof(what), "event '%s'", cfg->events[i].name);
        p->events[i].name = cfg->events[i].name;
        p->events[i].schema = compile_file(pb, cfg->events[i].schema_path,
                                           cfg->events[i].line, what);
    }
    p->event_count = cfg->event_count;
    qsort(p->events, p->event_count, sizeof(*p->events), event_cmp);
    p->identify = compile_file(pb, cfg->identify.path, cfg->identify.line,
                               "identify traits");
    p->page =
        compile_file(pb, cfg->page.path, cfg->page.line, "page properties");
    p->screen = compile_file(pb, cfg->screen.path, cfg->screen.line,
                             "screen properties");
    p->group =
        compile_file(pb, cfg->group.path, cfg->group.line, "group traits");
}

int plan_compile(const struct tw_config *config, const struct cfg_plan *cfg,
                 struct plan **out, struct cfg_errors *errors)
{
    struct plan_build pb = {config, cfg, NULL, errors};
    size_t errors_before = errors->count;
    struct plan *p = calloc(1, sizeof(*p));
    int rc;

    if (p == NULL || (p->events = calloc(cfg->event_count + 1,
                                         sizeof(*p->events))) == NULL) {
        free(p);
        return tw_err_set(TW_ENOMEM, "out of memory compiling plan %s",
                          cfg->name);
    }
    p->cfg = cfg;
    rc = tw_json_parser_new(16, 0, &p->empty_parser);
    if (rc == 0) {
        rc = tw_json_parse(p->empty_parser, "{}", 2, &p->empty);
    }
    if (rc == 0) {
        rc = tw_schema_registry_new(0, &pb.registry);
    }
    if (rc != 0) {
        plan_free(p);
        return rc;
    }
    for (size_t i = 0; i < cfg->event_count; i++) {
        register_folder(&pb, cfg->events[i].schema_path, cfg->events[i].line);
    }
    register_folder(&pb, cfg->identify.path, cfg->identify.line);
    register_folder(&pb, cfg->page.path, cfg->page.line);
    register_folder(&pb, cfg->screen.path, cfg->screen.line);
    register_folder(&pb, cfg->group.path, cfg->group.line);
    compile_all(&pb, p);
    tw_schema_registry_free(pb.registry);
    if (errors->count > errors_before) {
        plan_free(p);
        return tw_err_set(TW_EINVAL, "plan %s does not compile", cfg->name);
    }
    *out = p;
    return 0;
}

void plan_free(struct plan *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->event_count; i++) {
        tw_schema_free(p->events[i].schema);
    }
    free(p->events);
    tw_schema_free(p->identify);
    tw_schema_free(p->page);
    tw_schema_free(p->screen);
    tw_schema_free(p->group);
    tw_json_parser_free(p->empty_parser);
    free(p);
}

const char *plan_name(const struct plan *p)
{
    return p->cfg->name;
}

const char *plan_version(const struct plan *p)
{
    return p->cfg->version;
}

static const struct tw_schema *
event_schema(const struct plan *p, struct tw_json message, bool *planned)
{
    struct plan_event key;
    const struct plan_event *found;
    struct tw_json name;
    size_t len;

    *planned = false;
    if (!tw_json_get(message, "event", &name) ||
        tw_json_type(name) != TW_JSON_STRING) {
        return NULL;
    }
    key.name = tw_json_string(name, &len);
    found =
        bsearch(&key, p->events, p->event_count, sizeof(*p->events), event_cmp);
    *planned = found != NULL;
    return found != NULL ? found->schema : NULL;
}

static void copy_violations(const struct tw_schema_result *res,
                            const char *field, struct plan_verdict *v)
{
    v->outcome = PLAN_INVALID;
    v->violation_count = res->total;
    v->kept = 0;
    for (uint32_t i = 0; i < res->count && v->kept < PLAN_VIOLATIONS_MAX; i++) {
        const struct tw_schema_violation *sv = &res->violations[i];
        struct plan_violation *pv = &v->violations[v->kept++];

        snprintf(pv->pointer, sizeof(pv->pointer), "/%s%s", field,
                 sv->instance_path);
        snprintf(pv->keyword, sizeof(pv->keyword), "%s", sv->keyword);
        snprintf(pv->message, sizeof(pv->message), "%s", sv->message);
    }
    if (v->violation_count < v->kept) {
        v->violation_count = v->kept;
    }
}

void plan_judge(const struct plan *p, const char *type, struct tw_json message,
                struct plan_verdict *v)
{
    const struct tw_schema *schema = NULL;
    const char *field = "properties";
    struct tw_schema_result res;
    struct tw_json fields;
    bool planned = true;

    v->outcome = PLAN_VALID;
    v->violation_count = 0;
    v->kept = 0;
    if (strcmp(type, "track") == 0) {
        schema = event_schema(p, message, &planned);
    } else if (strcmp(type, "identify") == 0) {
        schema = p->identify;
        field = "traits";
    } else if (strcmp(type, "page") == 0) {
        schema = p->page;
    } else if (strcmp(type, "screen") == 0) {
        schema = p->screen;
    } else if (strcmp(type, "group") == 0) {
        schema = p->group;
        field = "traits";
    }
    if (!planned) {
        if (p->cfg->unplanned == CFG_UNPLANNED_REJECT) {
            v->outcome = PLAN_UNPLANNED;
        }
        return;
    }
    if (schema == NULL) {
        return;
    }
    if (!tw_json_get(message, field, &fields)) {
        fields = p->empty;
    }
    if (tw_schema_validate(schema, fields, &res) != 0) {
        v->outcome = PLAN_INVALID;
        v->violation_count = 1;
        v->kept = 1;
        snprintf(v->violations[0].pointer, sizeof(v->violations[0].pointer),
                 "/%s", field);
        snprintf(v->violations[0].keyword, sizeof(v->violations[0].keyword),
                 "%s", "$schema");
        snprintf(v->violations[0].message, sizeof(v->violations[0].message),
                 "%s", "the validator ran out of memory; kept as invalid");
        return;
    }
    if (!res.valid) {
        copy_violations(&res, field, v);
    }
}
