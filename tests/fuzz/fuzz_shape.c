/*
 * fuzz_shape.c - libFuzzer target for per-destination shaping
 * (src/route/shape.h): the paths of a spec and the events it is applied
 * to, both from the input.
 *
 * The input is a spec, a blank line, then an event. Each line of the spec
 * is one entry, its first byte naming the list: 'k' keep, 'd' drop, 'x'
 * redact by dropping, 'h' redact by hashing, 'r' rename (from, a tab, to);
 * the rest of the line is the path. Without a blank line the whole input
 * is the spec. The shape is applied to the event (when it parses) and to
 * a few fixed ones.
 *
 * Invariants: compiling fails with a message about an entry of the named
 * list, or succeeds; applying to an object succeeds and to anything else
 * is refused; the output is a JSON object; applying twice writes the same
 * bytes; an empty shape's output is a fixed point of the empty shape. A
 * shape that only keeps, by paths that can never index an array (whose
 * output may renumber the elements), gives the same output again when
 * applied to its own output, and every kept path found in the event is
 * found in the output with an equal value. A broken invariant stops the
 * fuzzer with __builtin_trap().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "common/buf.h"
#include "common/error.h"
#include "json/json.h"
#include "obs/logging.h"
#include "route/path.h"
#include "route/shape.h"

#define FUZZ_EVENTS 3
#define FUZZ_OUT_CEILING (1u << 22)
#define FUZZ_EVENT_MAX_BYTES (1u << 16)

static const char fuzz_track[] =
    "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":\"u1\","
    "\"properties\":{\"total\":120.5,\"email\":\"a@x.example\","
    "\"items\":[{\"sku\":\"A-1\"},{\"sku\":\"B-2\",\"n\":[1,2]}],"
    "\"a/b\":1,\"m~n\":{},\"empty\":[]},"
    "\"context\":{\"ip\":\"127.0.0.1\",\"trackway\":{\"source\":\"web\"}}}";

static const char fuzz_identify[] =
    "{\"type\":\"identify\",\"traits\":{\"email\":\"\\u00e9@x\","
    "\"age\":-1.5e3,\"0\":null}}";

static const char *const fuzz_event_texts[FUZZ_EVENTS] = {
    fuzz_track,
    fuzz_identify,
    "{}",
};

static const char fuzz_key[] = "trackway-fuzz-shape-hash-key";

static struct tw_json fuzz_events[FUZZ_EVENTS];
static struct tw_json_parser *fuzz_event_parser;
static struct tw_json_parser *fuzz_output_parser;
static struct route_shape *fuzz_empty_shape;

/* The spec's strings, NUL-terminated copies of the input's lines. */
struct fuzz_spec {
    const char *keep[ROUTE_SHAPE_MAX_PATHS + 1];
    const char *drop[ROUTE_SHAPE_MAX_PATHS + 1];
    struct route_redaction redact[ROUTE_SHAPE_MAX_PATHS + 1];
    struct route_rename rename[ROUTE_SHAPE_MAX_PATHS + 1];
    struct route_shape_spec spec;
    char *text;
    /* The keep paths parsed, when the shape only keeps and by name. */
    struct route_path *by_name[ROUTE_SHAPE_MAX_PATHS + 1];
    size_t by_name_count;
    bool keeps_by_name;
};

static void fuzz_setup(void)
{
    struct route_shape_spec none = {0};
    struct route_shape_error err;
    struct tw_json_parser *parser;

    obs_log_set_level(OBS_OFF);
    for (int i = 0; i < FUZZ_EVENTS; i++) {
        /* One parser per event, kept for the life of the process. */
        FUZZ_CHECK(tw_json_parser_new(1 << 12, 0, &parser) == 0);
        FUZZ_CHECK(tw_json_parse(parser, fuzz_event_texts[i],
                                 strlen(fuzz_event_texts[i]),
                                 &fuzz_events[i]) == 0);
    }
    FUZZ_CHECK(
        tw_json_parser_new(FUZZ_EVENT_MAX_BYTES, 0, &fuzz_event_parser) == 0);
    FUZZ_CHECK(tw_json_parser_new(FUZZ_OUT_CEILING, 0, &fuzz_output_parser) ==
               0);
    FUZZ_CHECK(route_shape_compile(&none, &fuzz_empty_shape, &err) == 0);
}

/* Adds one line to its list; false when the line names no list. */
static bool fuzz_spec_add(struct fuzz_spec *fs, char *line)
{
    struct route_shape_spec *spec = &fs->spec;
    char *path = line + 1;
    char *tab;

    switch (line[0]) {
    case 'k':
        fs->keep[spec->keep_count++] = path;
        return true;
    case 'd':
        fs->drop[spec->drop_count++] = path;
        return true;
    case 'x':
    case 'h':
        fs->redact[spec->redact_count].path = path;
        fs->redact[spec->redact_count++].mode =
            line[0] == 'h' ? ROUTE_REDACT_HASH : ROUTE_REDACT_DROP;
        return true;
    case 'r':
        tab = strchr(path, '\t');
        if (tab == NULL) {
            return false;
        }
        *tab = '\0';
        fs->rename[spec->rename_count].from = path;
        fs->rename[spec->rename_count++].to = tab + 1;
        return true;
    default:
        return false;
    }
}

/*
 * Splits the spec part into lines. Lines that name no list are skipped;
 * each list stops one past ROUTE_SHAPE_MAX_PATHS, so that the limit is
 * reached but nothing overruns. False when the text holds a NUL or is not
 * UTF-8, which the configuration never hands over.
 */
static bool fuzz_spec_read(struct fuzz_spec *fs, const char *data, size_t len)
{
    struct route_shape_spec *spec = &fs->spec;
    char *line;
    char *end;

    if (memchr(data, '\0', len) != NULL || !tw_json_utf8_valid(data, len)) {
        return false;
    }
    fs->text = malloc(len + 1);
    FUZZ_CHECK(fs->text != NULL);
    memcpy(fs->text, data, len);
    fs->text[len] = '\0';
    spec->keep = fs->keep;
    spec->drop = fs->drop;
    spec->redact = fs->redact;
    spec->rename = fs->rename;
    spec->hash_key = (const uint8_t *)fuzz_key;
    spec->hash_key_len = sizeof(fuzz_key) - 1;

    for (line = fs->text; *line != '\0'; line = end) {
        end = strchr(line, '\n');
        if (end == NULL) {
            end = line + strlen(line);
        } else {
            *end++ = '\0';
        }
        if (spec->keep_count > ROUTE_SHAPE_MAX_PATHS ||
            spec->drop_count > ROUTE_SHAPE_MAX_PATHS ||
            spec->redact_count > ROUTE_SHAPE_MAX_PATHS ||
            spec->rename_count > ROUTE_SHAPE_MAX_PATHS) {
            break;
        }
        (void)fuzz_spec_add(fs, line);
    }
    return true;
}

static size_t fuzz_list_count(const struct route_shape_spec *spec,
                              enum route_shape_list list)
{
    switch (list) {
    case ROUTE_SHAPE_KEEP:
        return spec->keep_count;
    case ROUTE_SHAPE_DROP:
        return spec->drop_count;
    case ROUTE_SHAPE_REDACT:
        return spec->redact_count;
    case ROUTE_SHAPE_RENAME_FROM:
    case ROUTE_SHAPE_RENAME_TO:
        return spec->rename_count;
    case ROUTE_SHAPE_HASH_KEY:
        return 1;
    }
    return 0;
}

static struct route_shape *fuzz_compile(const struct route_shape_spec *spec)
{
    struct route_shape *shape = NULL;
    struct route_shape_error err = {0};
    int rc = route_shape_compile(spec, &shape, &err);

    if (rc == 0) {
        FUZZ_CHECK(shape != NULL);
        return shape;
    }
    FUZZ_CHECK(rc == TW_EINVAL || rc == TW_ENOMEM);
    FUZZ_CHECK(shape == NULL);
    FUZZ_CHECK(rc != TW_EINVAL || err.message[0] != '\0');
    FUZZ_CHECK(rc != TW_EINVAL || err.index < fuzz_list_count(spec, err.list));
    return NULL;
}

/* Shapes event into out, which must then parse as an object. */
static void fuzz_apply(const struct route_shape *shape, struct tw_json event,
                       struct tw_buf *out, struct tw_json *parsed)
{
    FUZZ_CHECK(route_shape_apply(shape, event, out) == 0);
    FUZZ_CHECK(tw_json_parse(fuzz_output_parser, out->data, out->len, parsed) ==
               0);
    FUZZ_CHECK(tw_json_type(*parsed) == TW_JSON_OBJECT);
}

static bool fuzz_same(const struct tw_buf *a, const struct tw_buf *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/*
 * Whether the spec only keeps, by paths without a segment that could
 * index an array; fills fs->by_name with those paths.
 */
static bool fuzz_keeps_by_name(struct fuzz_spec *fs)
{
    const struct route_shape_spec *spec = &fs->spec;
    struct route_path_error err;
    struct route_path *path;

    if (spec->drop_count != 0 || spec->redact_count != 0 ||
        spec->rename_count != 0) {
        return false;
    }
    for (size_t i = 0; i < spec->keep_count; i++) {
        /* The shape compiled, so every path parses. */
        FUZZ_CHECK(route_path_parse(spec->keep[i], strlen(spec->keep[i]), &path,
                                    &err) == 0);
        fs->by_name[fs->by_name_count++] = path;
        for (uint32_t k = 0; k < path->count; k++) {
            if (path->segs[k].index >= 0) {
                return false;
            }
        }
    }
    return true;
}

static void fuzz_check_kept(const struct fuzz_spec *fs, struct tw_json event,
                            struct tw_json shaped)
{
    struct tw_json before;
    struct tw_json after;

    for (size_t i = 0; i < fs->by_name_count; i++) {
        if (route_path_resolve(fs->by_name[i], event, &before)) {
            FUZZ_CHECK(route_path_resolve(fs->by_name[i], shaped, &after));
            FUZZ_CHECK(tw_json_equal(before, after));
        }
    }
}

/* Applies shape twice to event, and once more to its own output. */
static void fuzz_check_event(const struct route_shape *shape,
                             const struct fuzz_spec *fs, struct tw_json event)
{
    struct tw_buf first;
    struct tw_buf second;
    struct tw_json parsed;

    tw_buf_init(&first, FUZZ_OUT_CEILING);
    tw_buf_init(&second, FUZZ_OUT_CEILING);
    if (tw_json_type(event) != TW_JSON_OBJECT) {
        FUZZ_CHECK(route_shape_apply(shape, event, &first) == TW_EINVAL);
        goto out;
    }
    fuzz_apply(shape, event, &first, &parsed);
    FUZZ_CHECK(route_shape_apply(shape, event, &second) == 0);
    FUZZ_CHECK(fuzz_same(&first, &second));

    if (fs->keeps_by_name) {
        fuzz_check_kept(fs, event, parsed);
        tw_buf_reset(&second);
        fuzz_apply(shape, parsed, &second, &parsed);
        FUZZ_CHECK(fuzz_same(&first, &second));
    }

    /* The empty shape writes any object in a form it keeps. */
    tw_buf_reset(&first);
    tw_buf_reset(&second);
    fuzz_apply(fuzz_empty_shape, event, &first, &parsed);
    fuzz_apply(fuzz_empty_shape, parsed, &second, &parsed);
    FUZZ_CHECK(fuzz_same(&first, &second));

out:
    tw_buf_free(&first);
    tw_buf_free(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    const char *text = (const char *)data;
    const char *blank = NULL;
    struct fuzz_spec *fs;
    struct route_shape *shape;
    struct tw_json event;
    size_t spec_len = size;

    if (!ready) {
        fuzz_setup();
        ready = true;
    }
    for (size_t i = 0; i + 1 < size; i++) {
        if (text[i] == '\n' && text[i + 1] == '\n') {
            blank = text + i;
            spec_len = i;
            break;
        }
    }
    fs = calloc(1, sizeof(*fs));
    FUZZ_CHECK(fs != NULL);
    if (!fuzz_spec_read(fs, text, spec_len)) {
        goto out;
    }
    shape = fuzz_compile(&fs->spec);
    if (shape == NULL) {
        goto out;
    }
    fs->keeps_by_name = fuzz_keeps_by_name(fs);
    for (int i = 0; i < FUZZ_EVENTS; i++) {
        fuzz_check_event(shape, fs, fuzz_events[i]);
    }
    if (blank != NULL &&
        tw_json_parse(fuzz_event_parser, blank + 2,
                      size - (size_t)(blank + 2 - text), &event) == 0) {
        fuzz_check_event(shape, fs, event);
    }
    route_shape_free(shape);

out:
    for (size_t i = 0; i < fs->by_name_count; i++) {
        route_path_free(fs->by_name[i]);
    }
    free(fs->text);
    free(fs);
    tw_err_clear();
    return 0;
}
