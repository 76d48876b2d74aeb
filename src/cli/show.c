/* show.c - record members as text for the printing commands (show.h). */
#include "cli/show.h"

#include <inttypes.h>
#include <string.h>

#include "common/buf.h"
#include "json/json_write.h"

#define SHOW_JSON_MAX (64u << 20)

const char *show_text(struct tw_json obj, const char *path, char *buf,
                      size_t size)
{
    struct tw_json v = obj;
    const char *dot;
    const char *text;
    size_t len;

    for (;;) {
        dot = strchr(path, '.');
        len = dot != NULL ? (size_t)(dot - path) : strlen(path);
        if (tw_json_type(v) != TW_JSON_OBJECT ||
            !tw_json_object_get(v, path, len, &v)) {
            return "-";
        }
        if (dot == NULL) {
            break;
        }
        path = dot + 1;
    }
    if (tw_json_type(v) == TW_JSON_INT) {
        snprintf(buf, size, "%" PRId64, tw_json_int(v));
        return buf;
    }
    if (tw_json_type(v) != TW_JSON_STRING) {
        return "-";
    }
    text = tw_json_string(v, &len);
    snprintf(buf, size, "%.*s", (int)len, text);
    return buf;
}

void show_json_line(FILE *out, struct tw_json value)
{
    struct tw_buf text;

    tw_buf_init(&text, SHOW_JSON_MAX);
    tw_jw_value(&text, value);
    fprintf(out, "%s\n", text.data != NULL ? text.data : "");
    tw_buf_free(&text);
}
