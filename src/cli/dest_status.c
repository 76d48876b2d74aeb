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
    for (unsigned k = 0; k < s->marks.count; k++) {
        const struct deliver_mark *m = &s->marks.mark[k];

        tw_buf_printf(b, "%s[%llu,%llu,%lld,%lld]", k > 0 ? "," : "",
                      (unsigned long long)m->from, (unsigned long long)m->to,
                      (long long)m->first_ms, (long long)m->last_ms);
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

/* [from, to, first_ms, last_ms]; [from, to, ms] as files before said. */
static void read_mark(struct tw_json mark, struct deliver_marks *marks)
{
    struct tw_json_iter it;
    struct tw_json field;
    int64_t v[4];
    unsigned n = 0;

    if (tw_json_type(mark) != TW_JSON_ARRAY) {
        return;
    }
    tw_json_iter_init(&it, mark);
    while (n < 4 && tw_json_array_next(&it, &field) &&
           tw_json_type(field) == TW_JSON_INT) {
        v[n++] = tw_json_int(field);
    }
    if (n < 3 || v[0] < 0 || v[1] < 0) {
        return;
    }
    marks->mark[marks->count++] = (struct deliver_mark){
        .from = (uint64_t)v[0],
        .to = (uint64_t)v[1],
        .first_ms = v[2],
        .last_ms = n == 4 ? v[3] : v[2],
    };
}

static void read_part(struct tw_json obj, struct deliver_part_status *s)
{
    struct tw_json v;
    struct tw_json mark;
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
    while (s->marks.count < DELIVER_MARKS && tw_json_array_next(&it, &mark)) {
        read_mark(mark, &s->marks);
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

/*
 * Reads the file's head into *head and partitions [first, first + count)
 * into parts; *found says how many of those the file had.
 */
static int load(const struct tw_config *c, const char *dest,
                struct dest_status *head, struct deliver_part_status *parts,
                uint32_t first, uint32_t count, uint32_t *found)
{
    struct tw_json_parser *parser = NULL;
    struct tw_json root;
    struct tw_json list;
    struct tw_json part;
    struct tw_json_iter it;
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    int rc;

    *found = 0;
    dest_status_path(c, dest, path, sizeof(path));
    rc = read_text(path, &text, &len);
    if (rc == 0) {
        rc = tw_json_parser_new(STATUS_MAX_BYTES, 0, &parser);
    }
    if (rc == 0 && (tw_json_parse(parser, text, len, &root) != 0 ||
                    tw_json_type(root) != TW_JSON_OBJECT ||
                    !tw_json_get(root, "partitions", &list) ||
                    tw_json_type(list) != TW_JSON_ARRAY)) {
        rc = tw_err_set(TW_EINVAL, "%s is not a status file", path);
    }
    if (rc == 0) {
        head->written_ms = (int64_t)get_u64(root, "written_ms");
        head->paused = get_bool(root, "paused");
        head->breaker_open = get_bool(root, "breaker_open");
        tw_json_iter_init(&it, list);
        for (uint32_t i = 0;
             i < first + count && tw_json_array_next(&it, &part); i++) {
            if (i >= first && tw_json_type(part) == TW_JSON_OBJECT) {
                read_part(part, &parts[i - first]);
                *found = i - first + 1;
            } else if (i >= first) {
                break;
            }
        }
    }
    tw_json_parser_free(parser);
    free(text);
    return rc;
}

int dest_status_read(const struct tw_config *c, const char *dest,
                     uint32_t partition, struct dest_status *out)
{
    uint32_t found;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = load(c, dest, out, &out->part, partition, 1, &found);
    return rc == 0 && found == 0 ? TW_ENOENT : rc;
}

int dest_status_read_marks(const struct tw_config *c, const char *dest,
                           struct deliver_marks *marks, uint32_t count,
                           uint32_t *found)
{
    struct deliver_part_status *parts = calloc(count, sizeof(*parts));
    struct dest_status head;
    int rc;

    *found = 0;
    if (parts == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory for %u partitions", count);
    }
    rc = load(c, dest, &head, parts, 0, count, found);
    for (uint32_t i = 0; rc == 0 && i < *found; i++) {
        marks[i] = parts[i].marks;
    }
    free(parts);
    return rc;
}
