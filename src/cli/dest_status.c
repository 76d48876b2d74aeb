/* dest_status.c - a running destination's status file (dest_status.h). */
#include "cli/dest_status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/delivery.h"
#include "common/buf.h"
#include "common/clock.h"
#include "json/json.h"
#include "json/json_write.h"

/* A status file holds at most this much (256 partitions fit). */
#define STATUS_MAX_BYTES (4u << 20)

void dest_status_path(const struct tw_config *c, const char *dest, char *out,
                      size_t size)
{
    snprintf(out, size, "%s/%s/%s.status", c->storage.path,
             DELIVERY_CONTROL_DIR, dest);
}

static void write_part(struct tw_buf *b, const struct deliver_part_status *s)
{
    tw_buf_printf(
        b,
        "{\"committed\":%llu,\"batch_from\":%llu,\"batch_to\":%llu,"
        "\"in_flight\":%s,\"attempt\":%u,\"retry_at_ms\":%lld,"
        "\"last_status\":%d,\"last_error\":",
        (unsigned long long)s->committed, (unsigned long long)s->batch_from,
        (unsigned long long)s->batch_to, s->in_flight ? "true" : "false",
        s->attempt, (long long)s->retry_at_ms, s->last_status);
    tw_jw_cstring(b, s->last_error);
    tw_buf_puts(b, ",\"marks\":[");
    for (unsigned k = 0; k < s->mark_count; k++) {
        tw_buf_printf(b, "%s[%llu,%llu,%lld]", k > 0 ? "," : "",
                      (unsigned long long)s->marks[k].from,
                      (unsigned long long)s->marks[k].offset,
                      (long long)s->marks[k].ms);
    }
    tw_buf_puts(b, "]}");
}

static int write_file(const char *path, const struct tw_buf *b)
{
    char tmp[4200];
    int fd;
    ssize_t n;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return tw_err_errno(errno, "cannot create %s", tmp);
    }
    n = write(fd, b->data, b->len);
    if (n < 0 || (size_t)n != b->len) {
        int err = n < 0 ? errno : EIO;
        close(fd);
        unlink(tmp);
        return tw_err_errno(err, "cannot write %s", tmp);
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return tw_err_errno(err, "cannot rename %s", tmp);
    }
    return 0;
}

int dest_status_write(const struct tw_config *c, const char *dest,
                      const struct deliver_part_status *parts, uint32_t count,
                      bool paused, bool breaker_open)
{
    char path[4096];
    struct tw_buf b;
    int rc;

    tw_buf_init(&b, STATUS_MAX_BYTES);
    tw_buf_printf(&b,
                  "{\"written_ms\":%lld,\"paused\":%s,\"breaker_open\":%s,"
                  "\"partitions\":[",
                  (long long)tw_now_ms(), paused ? "true" : "false",
                  breaker_open ? "true" : "false");
    for (uint32_t i = 0; i < count; i++) {
        if (i > 0) {
            tw_buf_putc(&b, ',');
        }
        write_part(&b, &parts[i]);
    }
    tw_buf_puts(&b, "]}\n");
    rc = tw_buf_status(&b);
    if (rc == 0) {
        dest_status_path(c, dest, path, sizeof(path));
        rc = write_file(path, &b);
    }
    tw_buf_free(&b);
    return rc;
}

static uint64_t get_u64(struct tw_json obj, const char *key)
{
    struct tw_json v;

    return tw_json_get(obj, key, &v) && tw_json_type(v) == TW_JSON_INT
               ? (uint64_t)tw_json_int(v)
               : 0;
}

static bool get_bool(struct tw_json obj, const char *key)
{
    struct tw_json v;

    return tw_json_get(obj, key, &v) && tw_json_type(v) == TW_JSON_BOOL &&
           tw_json_bool(v);
}

static void read_part(struct tw_json obj, struct deliver_part_status *s)
{
    struct tw_json v;
    struct tw_json pair;
    struct tw_json_iter it;

    s->committed = get_u64(obj, "committed");
    s->batch_from = get_u64(obj, "batch_from");
    s->batch_to = get_u64(obj, "batch_to");
    s->in_flight = get_bool(obj, "in_flight");
    s->attempt = (unsigned)get_u64(obj, "attempt");
    s->retry_at_ms = (int64_t)get_u64(obj, "retry_at_ms");
    s->last_status = (int)get_u64(obj, "last_status");
    if (tw_json_get(obj, "last_error", &v) &&
        tw_json_type(v) == TW_JSON_STRING) {
        size_t n;
        const char *text = tw_json_string(v, &n);

        snprintf(s->last_error, sizeof(s->last_error), "%.*s", (int)n, text);
    }
    if (!tw_json_get(obj, "marks", &v) || tw_json_type(v) != TW_JSON_ARRAY) {
        return;
    }
    tw_json_iter_init(&it, v);
    while (s->mark_count < DELIVER_MARKS && tw_json_array_next(&it, &pair)) {
        struct tw_json_iter in;
        struct tw_json from;
        struct tw_json offset;
        struct tw_json ms;

        tw_json_iter_init(&in, pair);
        if (tw_json_type(pair) == TW_JSON_ARRAY &&
            tw_json_array_next(&in, &from) &&
            tw_json_array_next(&in, &offset) && tw_json_array_next(&in, &ms)) {
            s->marks[s->mark_count].from = (uint64_t)tw_json_int(from);
            s->marks[s->mark_count].offset = (uint64_t)tw_json_int(offset);
            s->marks[s->mark_count].ms = tw_json_int(ms);
            s->mark_count++;
        }
    }
}

/* Reads the whole file into *text (the caller frees it). */
static int read_text(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = malloc(STATUS_MAX_BYTES);

    if (f == NULL || data == NULL) {
        int rc = f == NULL && errno == ENOENT ? TW_ENOENT : TW_EIO;
        if (f != NULL) {
            fclose(f);
        }
        free(data);
        return tw_err_set(rc, "cannot read %s", path);
    }
    *len = fread(data, 1, STATUS_MAX_BYTES, f);
    fclose(f);
    *text = data;
    return 0;
}

int dest_status_read(const struct tw_config *c, const char *dest,
                     uint32_t partition, struct dest_status *out)
{
    struct tw_json_parser *parser = NULL;
    struct tw_json root;
    struct tw_json parts;
    struct tw_json part;
    struct tw_json_iter it;
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    dest_status_path(c, dest, path, sizeof(path));
    rc = read_text(path, &text, &len);
    if (rc == 0) {
        rc = tw_json_parser_new(STATUS_MAX_BYTES, 0, &parser);
    }
    if (rc == 0 && (tw_json_parse(parser, text, len, &root) != 0 ||
                    tw_json_type(root) != TW_JSON_OBJECT ||
                    !tw_json_get(root, "partitions", &parts) ||
                    tw_json_type(parts) != TW_JSON_ARRAY)) {
        rc = tw_err_set(TW_EINVAL, "%s is not a status file", path);
    }
    if (rc == 0) {
        out->written_ms = (int64_t)get_u64(root, "written_ms");
        out->paused = get_bool(root, "paused");
        out->breaker_open = get_bool(root, "breaker_open");
        rc = TW_ENOENT;
        tw_json_iter_init(&it, parts);
        for (uint32_t i = 0; tw_json_array_next(&it, &part); i++) {
            if (i == partition && tw_json_type(part) == TW_JSON_OBJECT) {
                read_part(part, &out->part);
                rc = 0;
                break;
            }
        }
    }
    tw_json_parser_free(parser);
    free(text);
    return rc;
}
