/*
 * schema_suite.c - runs the official JSON Schema Test Suite against the
 * schema compiler and validator (src/schema/schema.h).
 *
 *   schema_suite [-v]            -v: name passing files' counts too
 *
 * The suite's folder is $TW_CONFORMANCE_DIR, or else the shared folder
 * next to the source tree (TW_SOURCE_DIR "/../shared/conformance/
 * json-schema"). Every file under remotes/ is what the suite serves as
 * http://localhost:1234/: it goes into the registry under that URI, so no
 * reference ever needs the network.
 *
 * What counts, for draft2020-12 and draft7: every file of the draft's own
 * folder with format as an annotation, and optional/format/{date-time,
 * date, uuid, email, ipv4, ipv6, uri}.json with format asserted. A test is
 * skipped only when its schema refers to a document the suite does not
 * ship (a meta-schema on json-schema.org); the URI is printed.
 *
 * Output: a line per file (passed/failed/skipped), a line per failing
 * test (file, group, test, what went wrong), then exactly one JSON line:
 * {"suite":"json-schema","passed":N,"failed":N,"skipped":N}.
 * Exit status: 0 when nothing failed, 1 when something did, 77 when the
 * suite is not there (ctest reports that as skipped).
 */
#include <dirent.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "json/json.h"
#include "schema/schema.h"

#define SUITE_EXIT_ABSENT 77
#define SUITE_REMOTE_BASE "http://localhost:1234/"
#define SUITE_MAX_FILE (16u << 20)
#define SUITE_MAX_SCHEMA (4u << 20)

struct suite_counts {
    unsigned passed;
    unsigned failed;
    unsigned skipped;
};

static const char *const suite_formats[] = {
    "date-time", "date", "uuid", "email", "ipv4", "ipv6", "uri",
};

static bool suite_verbose;
static struct tw_schema_registry *suite_registry;
static const char *suite_remotes_root;

/* The whole file at path, malloc'd; NULL with a message on failure. */
static char *suite_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL) {
        fprintf(stderr, "schema_suite: cannot open %s\n", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
        (size_t)size <= SUITE_MAX_FILE && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)size;
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "schema_suite: cannot read %s\n", path);
    }
    return buf;
}

/* nftw callback: registers one remote under its localhost:1234 URI. */
static int suite_add_remote(const char *path, const struct stat *st, int kind,
                            struct FTW *ftw)
{
    char uri[1024];
    size_t len;
    char *text;
    int rc;

    (void)st;
    (void)ftw;
    if (kind != FTW_F || strlen(path) < 5 ||
        strcmp(path + strlen(path) - 5, ".json") != 0) {
        return 0;
    }
    snprintf(uri, sizeof(uri), "%s%s", SUITE_REMOTE_BASE,
             path + strlen(suite_remotes_root) + 1);
    text = suite_read(path, &len);
    if (text == NULL) {
        return 1;
    }
    rc = tw_schema_registry_add(suite_registry, uri, text, len);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "schema_suite: %s\n", tw_err_message());
        return 1;
    }
    return 0;
}

static int suite_load_remotes(const char *dir)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/remotes", dir);
    suite_remotes_root = path;
    if (tw_schema_registry_new(0, &suite_registry) < 0) {
        return -1;
    }
    return nftw(path, suite_add_remote, 16, FTW_PHYS) == 0 ? 0 : -1;
}

/* The schema of a test group as text for tw_schema_compile; malloc'd. */
static char *suite_schema_text(struct tw_json schema, size_t *len)
{
    char *text = malloc(SUITE_MAX_SCHEMA);

    if (text == NULL) {
        return NULL;
    }
    *len = tw_json_write(schema, text, SUITE_MAX_SCHEMA);
    if (*len >= SUITE_MAX_SCHEMA) {
        free(text);
        return NULL;
    }
    return text;
}

static const char *suite_string(struct tw_json obj, const char *key)
{
    struct tw_json v;
    size_t len;

    if (!tw_json_get(obj, key, &v) || tw_json_type(v) != TW_JSON_STRING) {
        return "?";
    }
    return tw_json_string(v, &len);
}

/* A document is the suite's own when it is served from localhost:1234. */
static bool suite_ships(const char *uri)
{
    return strncmp(uri, SUITE_REMOTE_BASE, strlen(SUITE_REMOTE_BASE)) == 0;
}

static void suite_fail(const char *file, struct tw_json group,
                       struct tw_json test, const char *why)
{
    printf("  FAIL %s | %s | %s: %s\n", file,
           suite_string(group, "description"),
           suite_string(test, "description"), why);
}

static void suite_run_test(const char *file, struct tw_json group,
                           struct tw_json test, const struct tw_schema *schema,
                           struct suite_counts *counts)
{
    struct tw_schema_result result;
    struct tw_json data;
    struct tw_json valid;
    char why[640];

    if (!tw_json_get(test, "data", &data) ||
        !tw_json_get(test, "valid", &valid) ||
        tw_json_type(valid) != TW_JSON_BOOL) {
        suite_fail(file, group, test, "malformed test (no data or valid)");
        counts->failed++;
        return;
    }
    if (tw_schema_validate(schema, data, &result) < 0) {
        snprintf(why, sizeof(why), "validate failed: %s", tw_err_message());
    } else if (result.valid == tw_json_bool(valid)) {
        counts->passed++;
        return;
    } else if (result.valid) {
        snprintf(why, sizeof(why), "expected invalid, got valid");
    } else {
        const struct tw_schema_violation *v = &result.violations[0];

        snprintf(why, sizeof(why),
                 "expected valid, got %u violation(s); first: \"%s\" %s at "
                 "%s: %s",
                 result.total, v->instance_path, v->keyword, v->schema_path,
                 v->message);
    }
    suite_fail(file, group, test, why);
    counts->failed++;
}

/* A group whose schema does not compile: every test skips or fails. */
static void suite_uncompiled(const char *file, struct tw_json group,
                             struct tw_json tests,
                             const struct tw_schema_error *err,
                             struct suite_counts *counts)
{
    bool absent = err->missing_uri[0] != '\0' && !suite_ships(err->missing_uri);
    struct tw_json_iter it;
    struct tw_json test;
    char why[640];

    snprintf(why, sizeof(why), "schema does not compile: %s: %s", err->location,
             err->message);
    tw_json_iter_init(&it, tests);
    while (tw_json_array_next(&it, &test)) {
        if (absent) {
            printf("  SKIP %s | %s | %s: needs %s, which the suite does not "
                   "ship\n",
                   file, suite_string(group, "description"),
                   suite_string(test, "description"), err->missing_uri);
            counts->skipped++;
        } else {
            suite_fail(file, group, test, why);
            counts->failed++;
        }
    }
}

static void suite_run_group(const char *file, struct tw_json group,
                            const struct tw_schema_options *opts,
                            struct suite_counts *counts)
{
    struct tw_schema_error err;
    struct tw_schema *schema;
    struct tw_json schema_json;
    struct tw_json tests;
    struct tw_json_iter it;
    struct tw_json test;
    size_t len;
    char *text;

    if (!tw_json_get(group, "schema", &schema_json) ||
        !tw_json_get(group, "tests", &tests) ||
        tw_json_type(tests) != TW_JSON_ARRAY ||
        (text = suite_schema_text(schema_json, &len)) == NULL) {
        printf("  FAIL %s | %s: malformed group\n", file,
               suite_string(group, "description"));
        counts->failed++;
        return;
    }
    if (tw_schema_compile(suite_registry, text, len, opts, &schema, &err) < 0) {
        suite_uncompiled(file, group, tests, &err, counts);
        free(text);
        return;
    }
    tw_json_iter_init(&it, tests);
    while (tw_json_array_next(&it, &test)) {
        suite_run_test(file, group, test, schema, counts);
    }
    tw_schema_free(schema);
    free(text);
}

/* Runs one file; name is what the report calls it ("draft7/type.json"). */
static void suite_run_file(const char *path, const char *name,
                           const struct tw_schema_options *opts,
                           struct suite_counts *total)
{
    struct suite_counts counts = {0};
    struct tw_json_parser *parser;
    struct tw_json root;
    struct tw_json_iter it;
    struct tw_json group;
    size_t len;
    char *text = suite_read(path, &len);

    if (text == NULL || tw_json_parser_new(SUITE_MAX_FILE, 0, &parser) < 0) {
        free(text);
        total->failed++;
        return;
    }
    if (tw_json_parse(parser, text, len, &root) < 0 ||
        tw_json_type(root) != TW_JSON_ARRAY) {
        printf("  FAIL %s: not a suite file (%s)\n", name, tw_err_message());
        counts.failed++;
    } else {
        tw_json_iter_init(&it, root);
        while (tw_json_array_next(&it, &group)) {
            suite_run_group(name, group, opts, &counts);
        }
    }
    if (suite_verbose || counts.failed > 0 || counts.skipped > 0) {
        printf("%s %s: %u passed, %u failed, %u skipped\n",
               counts.failed ? "FAIL" : "ok  ", name, counts.passed,
               counts.failed, counts.skipped);
    }
    total->passed += counts.passed;
    total->failed += counts.failed;
    total->skipped += counts.skipped;
    tw_json_parser_free(parser);
    free(text);
}

static int suite_name_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json files directly in dir, sorted; the caller frees them. */
static char **suite_list(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;

    *count = 0;
    if (d == NULL) {
        return NULL;
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char **grown;

        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) {
            continue;
        }
        grown = realloc(names, (n + 1) * sizeof(*names));
        if (grown == NULL) {
            break;
        }
        names = grown;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 0) {
        qsort(names, n, sizeof(*names), suite_name_compare);
    }
    *count = n;
    return names;
}

static void suite_run_draft(const char *dir, const char *draft,
                            enum tw_schema_draft which,
                            struct suite_counts *total)
{
    struct suite_counts counts = {0};
    struct tw_schema_options opts;
    char folder[1024];
    char path[2048];
    char name[1024];
    size_t n;
    char **files;

    tw_schema_options_init(&opts);
    opts.default_draft = which;
    snprintf(folder, sizeof(folder), "%s/%s", dir, draft);
    files = suite_list(folder, &n);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", folder, files[i]);
        snprintf(name, sizeof(name), "%s/%s", draft, files[i]);
        suite_run_file(path, name, &opts, &counts);
        free(files[i]);
    }
    free(files);

    opts.format_assert = true;
    for (size_t i = 0; i < sizeof(suite_formats) / sizeof(*suite_formats);
         i++) {
        struct stat st;

        snprintf(path, sizeof(path), "%s/optional/format/%s.json", folder,
                 suite_formats[i]);
        snprintf(name, sizeof(name), "%s/optional/format/%s.json (asserted)",
                 draft, suite_formats[i]);
        if (stat(path, &st) != 0) {
            printf("note %s: not in this copy of the suite\n", name);
            continue;
        }
        suite_run_file(path, name, &opts, &counts);
    }
    printf("%s: %u passed, %u failed, %u skipped\n", draft, counts.passed,
           counts.failed, counts.skipped);
    total->passed += counts.passed;
    total->failed += counts.failed;
    total->skipped += counts.skipped;
}

static const char *suite_dir(void)
{
    const char *env = getenv("TW_CONFORMANCE_DIR");

    return env != NULL && env[0] != '\0' ? env
                                         : TW_SOURCE_DIR
               "/../shared/conformance/json-schema";
}

int main(int argc, char **argv)
{
    struct suite_counts total = {0};
    const char *dir = suite_dir();
    char probe[1024];
    struct stat st;

    suite_verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    snprintf(probe, sizeof(probe), "%s/remotes", dir);
    if (stat(probe, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("schema_suite: the JSON Schema Test Suite is not at %s (no "
               "remotes/ folder there); set TW_CONFORMANCE_DIR to its "
               "folder. Not run.\n",
               dir);
        return SUITE_EXIT_ABSENT;
    }
    if (suite_load_remotes(dir) < 0) {
        printf("schema_suite: cannot load %s\n", probe);
        return 1;
    }
    suite_run_draft(dir, "draft2020-12", TW_SCHEMA_DRAFT_2020_12, &total);
    suite_run_draft(dir, "draft7", TW_SCHEMA_DRAFT_7, &total);
    tw_schema_registry_free(suite_registry);

    printf("{\"suite\":\"json-schema\",\"passed\":%u,\"failed\":%u,"
           "\"skipped\":%u}\n",
           total.passed, total.failed, total.skipped);
    return total.failed == 0 ? 0 : 1;
}
