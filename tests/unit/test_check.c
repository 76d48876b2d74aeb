/*
 * test_check.c - offline check and repair of a log's files (check.h).
 *
 * Most logs here are written by hand with the format functions (segment
 * header, batch encode and seal, index write, cursor slot encode), so a
 * test can put damage exactly where it wants and knows which bytes and
 * offsets it hit. After a repair the real engine opens the log and reads
 * it, which is the promise repair makes.
 *
 * The standard log has two partitions:
 *
 *   p000/00000000000000000000.seg  5 batches of 4 records, offsets 0..19,
 *                                  closed, with its index
 *   p000/00000000000000000020.seg  3 batches of 4 records, offsets 20..31,
 *                                  the active segment (no index)
 *   p001/00000000000000000000.seg  2 batches of 3 records, offsets 0..5
 *   cursors/billing.cur            p000 at 10, p001 at 3 (slot 1, seq 1)
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "log/batch.h"
#include "log/check.h"
#include "log/cursor.h"
#include "log/embedded.h"
#include "log/index.h"
#include "log/segment.h"
#include "support/logtest.h"
#include "support/tmpdir.h"

#define MAX_BATCHES 16
#define T0_MS INT64_C(1700000000000)
#define INTERVAL 128u

static char *dir;

static void suite_init(void)
{
    dir = tw_test_tmpdir();
}

static void suite_fini(void)
{
    tw_test_rmdir(dir);
    dir = NULL;
}

TestSuite(check, .init = suite_init, .fini = suite_fini);
TestSuite(repair, .init = suite_init, .fini = suite_fini);

/* ------------------------------------------------- logs written by hand -- */

struct hseg {
    char path[PATH_MAX];
    uint32_t partition;
    uint64_t base;
    uint64_t next; /* offset of the next record */
    uint64_t pos[MAX_BATCHES + 1];
    uint64_t first[MAX_BATCHES];
    uint32_t count[MAX_BATCHES];
    size_t batches;
    int64_t min_ts;
    int64_t max_ts;
    struct log_index idx;
    int fd;
};

static void path_in(char *out, const char *fmt, ...) TW_PRINTF(2, 3);

static void path_in(char *out, const char *fmt, ...)
{
    char rel[PATH_MAX / 2];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    cr_assert_lt(snprintf(out, PATH_MAX, "%s/%s", dir, rel), PATH_MAX);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void make_log(uint32_t partitions)
{
    char path[PATH_MAX];
    char text[64];

    snprintf(text, sizeof(text), "trackway-log 1\npartitions %u\n", partitions);
    path_in(path, "LOG");
    write_file(path, text, strlen(text));
    for (uint32_t p = 0; p < partitions; p++) {
        path_in(path, "p%03u", p);
        cr_assert_eq(mkdir(path, 0755), 0);
    }
    path_in(path, "cursors");
    cr_assert_eq(mkdir(path, 0755), 0);
}

static void seg_open(struct hseg *s, uint32_t partition, uint64_t base,
                     uint16_t version)
{
    uint8_t buf[LOG_SEGMENT_HEADER_SIZE];
    struct log_segment_header hdr = {
        .version = version,
        .partition = partition,
        .base_offset = base,
        .created_ms = T0_MS,
    };
    char name[LOG_SEGMENT_NAME_MAX];

    memset(s, 0, sizeof(*s));
    s->partition = partition;
    s->base = base;
    s->next = base;
    log_segment_name(name, base, "seg");
    path_in(s->path, "p%03u/%s", partition, name);
    s->fd = open(s->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(s->fd, 0);
    log_segment_header_encode(buf, &hdr);
    cr_assert_eq(pwrite(s->fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    s->pos[0] = LOG_SEGMENT_HEADER_SIZE;
    log_index_init(&s->idx);
}

/* Appends a batch of n records; offset o has key user-o, value {"n":o}. */
static void seg_batch(struct hseg *s, uint32_t n)
{
    struct log_record recs[8];
    char keys[8][32];
    char values[8][32];
    uint8_t *batch;
    uint32_t len;
    size_t b = s->batches;

    cr_assert_leq(n, 8);
    cr_assert_lt(b, MAX_BATCHES);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = s->next + i;

        snprintf(keys[i], sizeof(keys[i]), "user-%" PRIu64, off);
        snprintf(values[i], sizeof(values[i]), "{\"n\":%" PRIu64 "}", off);
        recs[i] = (struct log_record){
            .timestamp_ms = T0_MS + (int64_t)off * 1000,
            .key = keys[i],
            .key_len = (uint32_t)strlen(keys[i]),
            .value = values[i],
            .value_len = (uint32_t)strlen(values[i]),
        };
    }
    cr_assert_eq(log_batch_encode(recs, n, LOG_COMPRESSION_NONE, 0,
                                  LOG_BATCH_MAX_BYTES, &batch, &len),
                 0);
    log_batch_seal(batch, s->next);
    cr_assert_eq(pwrite(s->fd, batch, len, (off_t)s->pos[b]), (ssize_t)len);
    free(batch);

    cr_assert_eq(log_index_add(&s->idx, s->pos[b], s->next,
                               recs[n - 1].timestamp_ms, INTERVAL),
                 0);
    if (b == 0) {
        s->min_ts = recs[0].timestamp_ms;
    }
    s->max_ts = recs[n - 1].timestamp_ms;
    s->first[b] = s->next;
    s->count[b] = n;
    s->pos[b + 1] = s->pos[b] + len;
    s->next += n;
    s->batches++;
}

static void index_file(char *path, uint32_t partition, uint64_t base)
{
    char name[LOG_SEGMENT_NAME_MAX];

    log_segment_name(name, base, "idx");
    path_in(path, "p%03u/%s", partition, name);
}

/* Closes the file; a closed segment gets its index, as the engine does. */
static void seg_close(struct hseg *s, bool with_index)
{
    struct log_index_summary sum = {
        .entry_count = (uint32_t)s->idx.count,
        .segment_size = s->pos[s->batches],
        .base_offset = s->base,
        .end_offset = s->next,
        .min_ts = s->min_ts,
        .max_ts = s->max_ts,
    };
    char path[PATH_MAX];

    if (with_index) {
        index_file(path, s->partition, s->base);
        cr_assert_eq(log_index_write(path, &s->idx, &sum), 0);
    }
    log_index_free(&s->idx);
    close(s->fd);
    s->fd = -1;
}

static void write_cursor(const char *name, int slot, uint64_t seq,
                         uint32_t partitions, const uint64_t *offsets)
{
    char path[PATH_MAX];
    uint8_t buf[2 * LOG_CURSOR_SLOT_SIZE];
    struct log_cursor_slot s = {.partitions = partitions, .seq = seq};
    int fd;

    for (uint32_t p = 0; p < LOG_MAX_PARTITIONS; p++) {
        s.offsets[p] = p < partitions ? offsets[p] : LOG_CURSOR_UNSET;
    }
    path_in(path, "cursors/%s.cur", name);
    fd = open(path, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    if (lseek(fd, 0, SEEK_END) == 0) {
        memset(buf, 0, sizeof(buf));
        cr_assert_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    }
    log_cursor_slot_encode(buf, &s);
    cr_assert_eq(pwrite(fd, buf, LOG_CURSOR_SLOT_SIZE,
                        (off_t)slot * LOG_CURSOR_SLOT_SIZE),
                 (ssize_t)LOG_CURSOR_SLOT_SIZE);
    close(fd);
}

/* The standard log of the header comment; the segments are kept open. */
struct std_log {
    struct hseg s0;  /* p000 base 0, closed */
    struct hseg s20; /* p000 base 20, active */
    struct hseg t0;  /* p001 base 0, active */
};

static void std_log(struct std_log *l)
{
    uint64_t cursor[2] = {10, 3};

    make_log(2);
    seg_open(&l->s0, 0, 0, LOG_SEGMENT_VERSION);
    for (int i = 0; i < 5; i++) {
        seg_batch(&l->s0, 4);
    }
    seg_close(&l->s0, true);
    seg_open(&l->s20, 0, 20, LOG_SEGMENT_VERSION);
    for (int i = 0; i < 3; i++) {
        seg_batch(&l->s20, 4);
    }
    seg_close(&l->s20, false);
    seg_open(&l->t0, 1, 0, LOG_SEGMENT_VERSION);
    seg_batch(&l->t0, 3);
    seg_batch(&l->t0, 3);
    seg_close(&l->t0, false);
    write_cursor("billing", 1, 1, 2, cursor);
}

static void flip_byte(const char *path, uint64_t pos)
{
    int fd = open(path, O_RDWR);
    uint8_t b;

    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, &b, 1, (off_t)pos), 1);
    b ^= 0x5a;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)pos), 1);
    close(fd);
}

/* ----------------------------------------------------------- findings -- */

struct caught {
    enum log_severity severity;
    enum log_action action;
    uint32_t partition;
    char file[256];
    uint64_t position;
    bool has_offsets;
    uint64_t first;
    uint64_t last;
    uint64_t bytes;
    char quarantine[256];
    char message[512];
};

struct catcher {
    struct caught items[64];
    size_t count;
    char text[8192]; /* every finding, for failure messages */
};

static void catch_cb(void *ctx, const struct log_finding *f)
{
    struct catcher *c = ctx;
    struct caught *k;
    size_t used = strlen(c->text);

    snprintf(c->text + used, sizeof(c->text) - used,
             "\n  %s %s %s @%" PRIu64 " %" PRIu64 "..%" PRIu64 ": %s",
             log_severity_name(f->severity), log_action_name(f->action),
             f->file, f->position, f->first_offset, f->last_offset, f->message);
    cr_assert_lt(c->count, 64, "too many findings:%s", c->text);
    k = &c->items[c->count++];
    k->severity = f->severity;
    k->action = f->action;
    k->partition = f->partition;
    snprintf(k->file, sizeof(k->file), "%s", f->file);
    k->position = f->position;
    k->has_offsets = f->has_offsets;
    k->first = f->first_offset;
    k->last = f->last_offset;
    k->bytes = f->bytes;
    snprintf(k->quarantine, sizeof(k->quarantine), "%s",
             f->quarantine != NULL ? f->quarantine : "");
    snprintf(k->message, sizeof(k->message), "%s", f->message);
}

/* The first finding of that severity and action about file, or NULL. */
static const struct caught *find(const struct catcher *c,
                                 enum log_severity severity,
                                 enum log_action action, const char *file)
{
    for (size_t i = 0; i < c->count; i++) {
        const struct caught *k = &c->items[i];

        if (k->severity == severity && k->action == action &&
            strcmp(k->file, file) == 0) {
            return k;
        }
    }
    return NULL;
}

static size_t count_severity(const struct catcher *c,
                             enum log_severity severity)
{
    size_t n = 0;

    for (size_t i = 0; i < c->count; i++) {
        n += c->items[i].severity == severity;
    }
    return n;
}

static int run_check(struct catcher *c, struct log_check_summary *sum)
{
    memset(c, 0, sizeof(*c));
    return log_check(dir, NULL, catch_cb, c, sum);
}

static int run_repair(struct catcher *c, struct log_check_summary *sum)
{
    struct log_check_options opts;

    log_check_options_init(&opts);
    opts.index_interval_bytes = INTERVAL;
    memset(c, 0, sizeof(*c));
    return log_repair(dir, &opts, catch_cb, c, sum);
}

/* Check finds no warning and no damage (an info about a cut is fine). */
static void assert_clean(void)
{
    struct catcher c;
    struct log_check_summary sum;

    cr_assert_eq(run_check(&c, &sum), 0, "check failed: %s%s", tw_err_message(),
                 c.text);
    cr_assert_eq(sum.findings[LOG_SEVERITY_WARNING] +
                     sum.findings[LOG_SEVERITY_DAMAGE],
                 0, "findings after repair:%s", c.text);
}

/* ------------------------------------------------------ engine reading -- */

static struct log *engine_open(bool read_only)
{
    struct log_options opts;

    logtest_options(&opts, dir, 0, LOG_DURABILITY_FSYNC);
    opts.create = false;
    opts.read_only = read_only;
    return logtest_open(&opts, NULL);
}

/*
 * Reads partition from its start until the end or an error; offsets go to
 * got. Returns the reader's last status (0 at the end, or the error).
 */
static int engine_read(struct log *log, uint32_t partition, uint64_t *got,
                       size_t max, size_t *n)
{
    struct log_partition_info info;
    struct log_reader *r;
    struct log_record rec;
    int rc;

    *n = 0;
    cr_assert_eq(log_partition_info(log, partition, &info), 0);
    cr_assert_eq(log_reader_open(log, partition, info.start_offset, &r), 0,
                 "%s", tw_err_message());
    while ((rc = log_reader_next(r, &rec)) == 1) {
        char key[32];

        cr_assert_lt(*n, max);
        snprintf(key, sizeof(key), "user-%" PRIu64, rec.offset);
        cr_assert_eq(rec.key_len, strlen(key));
        cr_assert_eq(memcmp(rec.key, key, rec.key_len), 0);
        got[(*n)++] = rec.offset;
    }
    log_reader_close(r);
    return rc;
}

static void assert_offsets(const uint64_t *got, size_t n, uint64_t from,
                           uint64_t to, size_t *at)
{
    for (uint64_t o = from; o <= to; o++) {
        cr_assert_lt(*at, n, "offset %" PRIu64 " missing", o);
        cr_assert_eq(got[*at], o);
        (*at)++;
    }
}

static uint8_t *read_range(const char *path, uint64_t from, uint64_t len)
{
    uint8_t *buf = malloc(len);
    int fd = open(path, O_RDONLY);

    cr_assert_not_null(buf);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, buf, len, (off_t)from), (ssize_t)len);
    close(fd);
    return buf;
}

static uint64_t size_of(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return (uint64_t)st.st_size;
}

/* -------------------------------------------------------------- check -- */

Test(check, a_clean_log_has_no_findings_and_is_counted)
{
    struct std_log l;
    struct catcher c;
    struct log_check_summary sum;
    struct log *log;
    uint64_t got[64];
    size_t n;
    size_t at = 0;

    std_log(&l);
    cr_assert_eq(run_check(&c, &sum), 0, "%s", tw_err_message());
    cr_assert_eq(c.count, 0, "findings on a clean log:%s", c.text);
    cr_assert_eq(sum.partitions, 2);
    cr_assert_eq(sum.segments, 3);
    cr_assert_eq(sum.batches, 10);
    cr_assert_eq(sum.records, 38);
    cr_assert_eq(sum.bytes, l.s0.pos[5] + l.s20.pos[3] + l.t0.pos[2]);
    cr_assert_eq(sum.cursors, 1);

    /* The hand-made log is one the engine reads as it is. */
    log = engine_open(true);
    cr_assert_eq(engine_read(log, 0, got, 64, &n), 0, "%s", tw_err_message());
    assert_offsets(got, n, 0, 31, &at);
    log_close(log);
}

Test(check, a_flipped_byte_in_a_middle_batch_is_damage_with_its_place)
{
    struct std_log l;
    struct catcher c;
    struct log_check_summary sum;
    const struct caught *k;
    struct log *log;
    uint64_t got[64];
    size_t n;
    size_t at = 0;

    std_log(&l);
    flip_byte(l.s0.path, l.s0.pos[2] + LOG_BATCH_HEADER_SIZE + 5);

    cr_assert_eq(run_check(&c, &sum), TW_ECORRUPT);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_NONE,
             "p000/00000000000000000000.seg");
    cr_assert_not_null(k, "no damage finding:%s", c.text);
    cr_assert_eq(k->partition, 0);
    cr_assert_eq(k->position, l.s0.pos[2]);
    cr_assert(k->has_offsets);
    cr_assert_eq(k->first, 8);
    cr_assert_eq(k->last, 11);
    cr_assert_eq(k->bytes, l.s0.pos[3] - l.s0.pos[2]);
    cr_assert_not_null(strstr(k->message, "checksum"), "%s", k->message);
    cr_assert_eq(sum.findings[LOG_SEVERITY_DAMAGE], 1, "%s", c.text);

    /* The records before the damage still read; then the damage says so. */
    log = engine_open(true);
    cr_assert_eq(engine_read(log, 0, got, 64, &n), TW_ECORRUPT);
    assert_offsets(got, n, 0, 7, &at);
    cr_assert_eq(at, n);
    log_close(log);
}

Test(check, a_batch_whose_records_do_not_fit_is_damage_despite_its_checksum)
{
    struct std_log l;
    struct catcher c;
    const struct caught *k;
    uint64_t pos;
    uint8_t *batch;
    uint32_t len;
    uint32_t huge = 1000000;

    std_log(&l);
    /* Record 0's key_len made too long, then the batch sealed again. */
    pos = l.s0.pos[1];
    len = (uint32_t)(l.s0.pos[2] - pos);
    batch = read_range(l.s0.path, pos, len);
    memcpy(batch + LOG_BATCH_HEADER_SIZE, &huge, 4);
    log_batch_seal(batch, l.s0.first[1]);
    {
        int fd = open(l.s0.path, O_RDWR);

        cr_assert_eq(pwrite(fd, batch, len, (off_t)pos), (ssize_t)len);
        close(fd);
    }
    free(batch);

    cr_assert_eq(run_check(&c, NULL), TW_ECORRUPT);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_NONE,
             "p000/00000000000000000000.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->position, pos);
    cr_assert_eq(k->first, 4);
    cr_assert_eq(k->last, 7);
    cr_assert_not_null(strstr(k->message, "records do not decode"));
}

Test(check, a_truncated_closed_segment_is_damage_up_to_the_next_segment)
{
    struct std_log l;
    struct catcher c;
    const struct caught *k;

    std_log(&l);
    cr_assert_eq(truncate(l.s0.path, (off_t)(l.s0.pos[4] + 20)), 0);

    cr_assert_eq(run_check(&c, NULL), TW_ECORRUPT);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_NONE,
             "p000/00000000000000000000.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->position, l.s0.pos[4]);
    cr_assert_eq(k->first, 16);
    cr_assert_eq(k->last, 19);
    cr_assert_eq(k->bytes, 20);
    cr_assert_eq(c.count, 1, "one damage, reported once:%s", c.text);
}

Test(check, a_torn_tail_of_the_active_segment_is_only_a_warning)
{
    struct std_log l;
    struct catcher c;
    const struct caught *k;
    uint8_t junk[30];

    std_log(&l);
    memset(junk, 0xab, sizeof(junk));
    {
        int fd = open(l.s20.path, O_RDWR);

        cr_assert_eq(pwrite(fd, junk, sizeof(junk), (off_t)l.s20.pos[3]),
                     (ssize_t)sizeof(junk));
        close(fd);
    }
    cr_assert_eq(run_check(&c, NULL), 0);
    k = find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_NONE,
             "p000/00000000000000000020.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->position, l.s20.pos[3]);
    cr_assert_eq(k->bytes, sizeof(junk));
    cr_assert_not_null(strstr(k->message, "torn tail"));
}

Test(check, a_missing_index_of_a_closed_segment_is_a_warning)
{
    struct std_log l;
    struct catcher c;
    char idx[PATH_MAX];

    std_log(&l);
    index_file(idx, 0, 0);
    cr_assert_eq(unlink(idx), 0);
    cr_assert_eq(run_check(&c, NULL), 0);
    cr_assert_eq(c.count, 1, "%s", c.text);
    cr_assert_not_null(find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_NONE,
                            "p000/00000000000000000000.idx"));
    cr_assert_not_null(strstr(c.items[0].message, "missing"));
}

Test(check, an_index_that_disagrees_with_the_data_is_a_warning)
{
    struct std_log l;
    struct catcher c;
    char idx[PATH_MAX];
    struct log_index wrong;
    struct log_index_summary sum = {
        .segment_size = 0,
        .base_offset = 0,
        .end_offset = 20,
    };

    std_log(&l);
    sum.segment_size = l.s0.pos[5];
    sum.min_ts = l.s0.min_ts;
    sum.max_ts = l.s0.max_ts;
    /* A well-formed index whose second entry names no batch start. */
    log_index_init(&wrong);
    cr_assert_eq(log_index_add(&wrong, l.s0.pos[0], 0, T0_MS + 3000, 1), 0);
    cr_assert_eq(log_index_add(&wrong, l.s0.pos[1] + 8, 4, T0_MS + 7000, 1), 0);
    sum.entry_count = (uint32_t)wrong.count;
    index_file(idx, 0, 0);
    cr_assert_eq(log_index_write(idx, &wrong, &sum), 0);
    log_index_free(&wrong);

    cr_assert_eq(run_check(&c, NULL), 0);
    cr_assert_eq(c.count, 1, "%s", c.text);
    cr_assert_not_null(strstr(c.items[0].message, "disagrees"), "%s", c.text);
}

Test(check, overlapping_segments_are_damage)
{
    struct hseg a;
    struct hseg b;
    struct catcher c;
    const struct caught *k;

    make_log(1);
    seg_open(&a, 0, 0, LOG_SEGMENT_VERSION);
    for (int i = 0; i < 5; i++) {
        seg_batch(&a, 4);
    }
    seg_close(&a, true);
    seg_open(&b, 0, 16, LOG_SEGMENT_VERSION);
    seg_batch(&b, 4);
    seg_close(&b, false);

    cr_assert_eq(run_check(&c, NULL), TW_ECORRUPT);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_NONE,
             "p000/00000000000000000000.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->position, a.pos[4]);
    cr_assert_eq(k->first, 16);
    cr_assert_eq(k->last, 19);
    cr_assert_not_null(strstr(k->message, "overlap"));
}

Test(check, a_log_of_a_newer_format_stops_the_check)
{
    char path[PATH_MAX];
    const char *text = "trackway-log 2\npartitions 1\n";
    struct catcher c;

    make_log(1);
    path_in(path, "LOG");
    write_file(path, text, strlen(text));
    cr_assert_eq(run_check(&c, NULL), TW_EVERSION);
    cr_assert_eq(c.count, 1);
    cr_assert_not_null(strstr(c.items[0].message, "newer"));
}

Test(check, a_directory_without_a_log_is_reported_as_missing)
{
    struct catcher c;

    cr_assert_eq(run_check(&c, NULL), TW_ENOENT);
    cr_assert_not_null(strstr(tw_err_message(), "no log"));
}

Test(check, a_damaged_cursor_slot_is_a_warning_while_the_other_holds)
{
    struct std_log l;
    struct catcher c;
    char path[PATH_MAX];
    uint64_t offsets[2] = {12, 4};

    std_log(&l);
    write_cursor("billing", 0, 2, 2, offsets);
    path_in(path, "cursors/billing.cur");
    flip_byte(path, 100); /* slot 0, seq 2: now damaged */

    cr_assert_eq(run_check(&c, NULL), 0);
    cr_assert_eq(c.count, 1, "%s", c.text);
    cr_assert_eq(c.items[0].severity, LOG_SEVERITY_WARNING);
    cr_assert_eq(c.items[0].position, 0);
    cr_assert_not_null(strstr(c.items[0].message, "slot 0"));
}

/* ------------------------------------------------------------- repair -- */

Test(repair, cuts_a_damaged_segment_and_the_quarantine_holds_the_cut_bytes)
{
    struct std_log l;
    struct catcher c;
    struct log_check_summary sum;
    const struct caught *k;
    char qpath[PATH_MAX];
    char want[128];
    uint8_t *before;
    uint8_t *moved;
    uint64_t cut_len;
    struct log *log;
    uint64_t got[64];
    size_t n;
    size_t at = 0;

    std_log(&l);
    flip_byte(l.s0.path, l.s0.pos[2] + LOG_BATCH_HEADER_SIZE + 5);
    cut_len = l.s0.pos[5] - l.s0.pos[2];
    before = read_range(l.s0.path, l.s0.pos[2], cut_len);

    cr_assert_eq(run_repair(&c, &sum), 0, "%s%s", tw_err_message(), c.text);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_CUT,
             "p000/00000000000000000000.seg");
    cr_assert_not_null(k, "no cut:%s", c.text);
    cr_assert_eq(k->position, l.s0.pos[2]);
    cr_assert_eq(k->bytes, cut_len);
    cr_assert_eq(k->first, 8);
    cr_assert_eq(k->last, 19);
    snprintf(want, sizeof(want),
             "quarantine/p000-00000000000000000000.seg-%" PRIu64 ".bad",
             l.s0.pos[2]);
    cr_assert_str_eq(k->quarantine, want);
    /* Valid batches after the damage are named as kept in quarantine. */
    cr_assert_not_null(strstr(k->message, "offsets 12..19"), "%s", k->message);

    path_in(qpath, "%s", k->quarantine);
    cr_assert_eq(size_of(qpath), cut_len);
    moved = read_range(qpath, 0, cut_len);
    cr_assert_eq(memcmp(before, moved, cut_len), 0);
    cr_assert_eq(size_of(l.s0.path), l.s0.pos[2]);
    cr_assert_not_null(find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_INDEX_REBUILT,
                            "p000/00000000000000000000.idx"),
                       "%s", c.text);
    free(before);
    free(moved);

    assert_clean();
    log = engine_open(false);
    cr_assert_eq(engine_read(log, 0, got, 64, &n), 0, "%s", tw_err_message());
    assert_offsets(got, n, 0, 7, &at);
    assert_offsets(got, n, 20, 31, &at);
    cr_assert_eq(at, n);
    cr_assert_eq(logtest_append_one(log, 0, T0_MS, "user-32", "{}"), 32);
    log_close(log);
}

Test(repair, cuts_a_truncated_closed_segment_back_to_its_last_whole_batch)
{
    struct std_log l;
    struct catcher c;
    const struct caught *k;
    struct log *log;
    uint64_t got[64];
    size_t n;
    size_t at = 0;

    std_log(&l);
    cr_assert_eq(truncate(l.s0.path, (off_t)(l.s0.pos[4] + 20)), 0);

    cr_assert_eq(run_repair(&c, NULL), 0, "%s%s", tw_err_message(), c.text);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_CUT,
             "p000/00000000000000000000.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->bytes, 20);
    cr_assert_eq(k->first, 16);
    cr_assert_eq(k->last, 19);
    cr_assert_eq(size_of(l.s0.path), l.s0.pos[4]);

    assert_clean();
    log = engine_open(true);
    cr_assert_eq(engine_read(log, 0, got, 64, &n), 0, "%s", tw_err_message());
    assert_offsets(got, n, 0, 15, &at);
    assert_offsets(got, n, 20, 31, &at);
    log_close(log);
}

Test(repair, records_a_gap_it_cannot_explain_so_later_checks_know_it)
{
    struct std_log l;
    struct catcher c;
    const struct caught *k;
    char note[PATH_MAX];
    char text[512] = {0};
    struct log_check_summary sum;
    int fd;

    /* Cut between batches: no torn bytes are left to quarantine, so
     * only the offsets 16..19 missing before the next segment tell. */
    std_log(&l);
    cr_assert_eq(truncate(l.s0.path, (off_t)l.s0.pos[4]), 0);
    cr_assert_eq(run_check(&c, NULL), 0, "%s", c.text);
    k = find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_NONE,
             "p000/00000000000000000020.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->first, 16);
    cr_assert_eq(k->last, 19);

    cr_assert_eq(run_repair(&c, NULL), 0, "%s%s", tw_err_message(), c.text);
    k = find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_RECORDED,
             "p000/00000000000000000020.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_str_eq(k->quarantine,
                     "quarantine/p000-00000000000000000000.seg-gap.lost");
    path_in(note, "%s", k->quarantine);
    fd = open(note, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_gt(read(fd, text, sizeof(text) - 1), 0);
    close(fd);
    cr_assert_not_null(strstr(text, "offsets 16..19"), "%s", text);

    cr_assert_eq(run_check(&c, NULL), 0, "%s", c.text);
    cr_assert_eq(count_severity(&c, LOG_SEVERITY_WARNING), 0, "%s", c.text);
    k = find(&c, LOG_SEVERITY_INFO, LOG_ACTION_NONE,
             "p000/00000000000000000020.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->first, 16);
    cr_assert_eq(run_repair(&c, &sum), 0);
    cr_assert_eq(sum.actions, 0, "a second repair acts again:%s", c.text);
}

Test(repair, rebuilds_a_missing_index_from_the_data)
{
    struct std_log l;
    struct catcher c;
    char idx[PATH_MAX];
    uint8_t *original;
    uint8_t *rebuilt;
    uint64_t len;

    std_log(&l);
    index_file(idx, 0, 0);
    len = size_of(idx);
    original = read_range(idx, 0, len);
    cr_assert_eq(unlink(idx), 0);

    cr_assert_eq(run_repair(&c, NULL), 0, "%s", c.text);
    cr_assert_not_null(find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_INDEX_REBUILT,
                            "p000/00000000000000000000.idx"),
                       "%s", c.text);
    /* Same data, same spacing: the same bytes as the one the writer made. */
    cr_assert_eq(size_of(idx), len);
    rebuilt = read_range(idx, 0, len);
    cr_assert_eq(memcmp(original, rebuilt, len), 0);
    free(original);
    free(rebuilt);
    assert_clean();
}

Test(repair, quarantines_a_segment_from_a_newer_version_whole)
{
    struct std_log l;
    struct catcher c;
    const struct caught *k;
    char qpath[PATH_MAX];
    uint8_t *before;
    uint8_t *moved;
    uint64_t len;
    struct log *log;
    struct log_partition_info info;

    std_log(&l);
    /* The active segment again, written by a "version 2" build. */
    seg_open(&l.s20, 0, 20, 2);
    for (int i = 0; i < 3; i++) {
        seg_batch(&l.s20, 4);
    }
    seg_close(&l.s20, false);
    len = size_of(l.s20.path);
    before = read_range(l.s20.path, 0, len);

    cr_assert_eq(run_check(&c, NULL), TW_ECORRUPT);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_NONE,
             "p000/00000000000000000020.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_not_null(strstr(k->message, "version 2"), "%s", k->message);

    cr_assert_eq(run_repair(&c, NULL), 0, "%s", c.text);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_QUARANTINED,
             "p000/00000000000000000020.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_str_eq(k->quarantine,
                     "quarantine/p000-00000000000000000020.seg-0.bad");
    cr_assert_eq(k->bytes, len);
    cr_assert_eq(access(l.s20.path, F_OK), -1);
    path_in(qpath, "%s", k->quarantine);
    moved = read_range(qpath, 0, len);
    cr_assert_eq(memcmp(before, moved, len), 0);
    free(before);
    free(moved);

    assert_clean();
    log = engine_open(false);
    cr_assert_eq(log_partition_info(log, 0, &info), 0);
    cr_assert_eq(info.end_offset, 20);
    log_close(log);
}

Test(repair, a_cut_of_the_active_segment_never_gives_its_offsets_again)
{
    struct std_log l;
    struct catcher c;
    const struct caught *k;
    struct log *log;
    struct log_partition_info info;
    uint64_t got[64];
    size_t n;
    size_t at = 0;

    std_log(&l);
    /* Damage in the first batch of the active segment; 24..31 follow. */
    flip_byte(l.s20.path, l.s20.pos[0] + LOG_BATCH_HEADER_SIZE + 3);

    cr_assert_eq(run_repair(&c, NULL), 0, "%s%s", tw_err_message(), c.text);
    /* Nothing good before the damage: the whole file goes. */
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_QUARANTINED,
             "p000/00000000000000000020.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->first, 20);
    cr_assert_eq(k->last, 31);
    cr_assert_eq(k->bytes, l.s20.pos[3]);
    k = find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_CREATED,
             "p000/00000000000000000032.seg");
    cr_assert_not_null(k, "no new segment at the old end:%s", c.text);

    assert_clean();
    log = engine_open(false);
    cr_assert_eq(engine_read(log, 0, got, 64, &n), 0, "%s", tw_err_message());
    assert_offsets(got, n, 0, 19, &at);
    cr_assert_eq(at, n);
    cr_assert_eq(log_partition_info(log, 0, &info), 0);
    cr_assert_eq(info.end_offset, 32);
    cr_assert_eq(logtest_append_one(log, 0, T0_MS, "user-32", "{}"), 32);
    log_close(log);
}

Test(repair, cuts_the_earlier_of_two_overlapping_segments)
{
    struct hseg a;
    struct hseg b;
    struct catcher c;
    const struct caught *k;
    struct log *log;
    uint64_t got[64];
    size_t n;
    size_t at = 0;

    make_log(1);
    seg_open(&a, 0, 0, LOG_SEGMENT_VERSION);
    for (int i = 0; i < 5; i++) {
        seg_batch(&a, 4);
    }
    seg_close(&a, true);
    seg_open(&b, 0, 16, LOG_SEGMENT_VERSION);
    seg_batch(&b, 4);
    seg_close(&b, false);

    cr_assert_eq(run_repair(&c, NULL), 0, "%s%s", tw_err_message(), c.text);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_CUT,
             "p000/00000000000000000000.seg");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->position, a.pos[4]);
    cr_assert_eq(k->has_offsets, false, "nothing lost: 16..19 live on");

    assert_clean();
    log = engine_open(true);
    cr_assert_eq(engine_read(log, 0, got, 64, &n), 0, "%s", tw_err_message());
    assert_offsets(got, n, 0, 19, &at);
    log_close(log);
}

Test(repair, removes_files_a_crash_left_behind)
{
    struct std_log l;
    struct catcher c;
    char tmp[3][PATH_MAX];
    const char *rel[3] = {"p000/00000000000000000000.idx.tmp", "LOG.tmp",
                          "cursors/billing.cur.tmp"};

    std_log(&l);
    for (int i = 0; i < 3; i++) {
        path_in(tmp[i], "%s", rel[i]);
        write_file(tmp[i], "x", 1);
    }
    cr_assert_eq(run_check(&c, NULL), 0);
    cr_assert_eq(count_severity(&c, LOG_SEVERITY_WARNING), 3, "%s", c.text);

    cr_assert_eq(run_repair(&c, NULL), 0, "%s", c.text);
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(
            find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_REMOVED, rel[i]),
            "%s not removed:%s", rel[i], c.text);
        cr_assert_eq(access(tmp[i], F_OK), -1);
    }
    assert_clean();
}

Test(repair, leaves_a_file_that_is_no_part_of_the_log_alone)
{
    struct std_log l;
    struct catcher c;
    char path[PATH_MAX];

    std_log(&l);
    path_in(path, "p000/notes.txt");
    write_file(path, "mine", 4);
    cr_assert_eq(run_repair(&c, NULL), 0);
    cr_assert_eq(c.count, 1, "%s", c.text);
    cr_assert_eq(c.items[0].action, LOG_ACTION_NONE);
    cr_assert_eq(access(path, F_OK), 0);
}

Test(repair, moves_a_cursor_past_the_end_back_to_the_end)
{
    struct std_log l;
    struct catcher c;
    const struct caught *k;
    uint64_t offsets[2] = {40, 3};
    uint64_t at;
    struct log *log;

    std_log(&l);
    write_cursor("billing", 0, 2, 2, offsets);

    cr_assert_eq(run_check(&c, NULL), 0);
    k = find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_NONE, "cursors/billing.cur");
    cr_assert_not_null(k, "%s", c.text);
    cr_assert_eq(k->partition, 0);
    cr_assert_not_null(strstr(k->message, "40"));

    cr_assert_eq(run_repair(&c, NULL), 0, "%s", c.text);
    cr_assert_not_null(find(&c, LOG_SEVERITY_WARNING,
                            LOG_ACTION_CURSOR_REWRITTEN, "cursors/billing.cur"),
                       "%s", c.text);
    assert_clean();

    log = engine_open(true);
    cr_assert_eq(log_cursor_get(log, "billing", 0, &at), 0);
    cr_assert_eq(at, 32);
    cr_assert_eq(log_cursor_get(log, "billing", 1, &at), 0);
    cr_assert_eq(at, 3);
    log_close(log);
}

Test(repair, quarantines_a_cursor_without_a_valid_slot)
{
    struct std_log l;
    struct catcher c;
    char path[PATH_MAX];
    uint64_t offsets[2] = {12, 4};
    struct log *log;

    std_log(&l);
    /* Two commits (seq 1 in slot 1, seq 2 in slot 0), both damaged. */
    write_cursor("billing", 0, 2, 2, offsets);
    path_in(path, "cursors/billing.cur");
    flip_byte(path, 30);
    flip_byte(path, LOG_CURSOR_SLOT_SIZE + 30);

    cr_assert_eq(run_check(&c, NULL), TW_ECORRUPT);
    cr_assert_eq(run_repair(&c, NULL), 0, "%s", c.text);
    cr_assert_not_null(find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_QUARANTINED,
                            "cursors/billing.cur"),
                       "%s", c.text);
    cr_assert_eq(access(path, F_OK), -1);
    assert_clean();
    log = engine_open(false);
    log_close(log);
}

Test(repair, refuses_while_a_process_holds_the_log)
{
    struct std_log l;
    struct catcher c;
    struct log *log;

    std_log(&l);
    log = engine_open(false);
    cr_assert_eq(run_repair(&c, NULL), TW_EBUSY);
    cr_assert_not_null(strstr(tw_err_message(), "holds the log"), "%s",
                       tw_err_message());
    cr_assert_eq(c.count, 0);
    log_close(log);
}

Test(repair, a_second_repair_finds_nothing_to_do)
{
    struct std_log l;
    struct catcher c;
    struct log_check_summary sum;
    char path[PATH_MAX];
    uint64_t offsets[2] = {40, 3};

    std_log(&l);
    flip_byte(l.s0.path, l.s0.pos[3] + 40);
    flip_byte(l.t0.path, l.t0.pos[1] + 60);
    index_file(path, 0, 0);
    cr_assert_eq(unlink(path), 0);
    path_in(path, "p001/00000000000000000000.idx.tmp");
    write_file(path, "x", 1);
    write_cursor("billing", 0, 2, 2, offsets);

    cr_assert_eq(run_repair(&c, &sum), 0, "%s", c.text);
    cr_assert_geq(sum.actions, 4, "%s", c.text);
    cr_assert_eq(sum.failed_actions, 0);

    cr_assert_eq(run_repair(&c, &sum), 0, "%s", c.text);
    cr_assert_eq(sum.actions, 0, "second repair acted:%s", c.text);
    cr_assert_eq(sum.findings[LOG_SEVERITY_WARNING], 0, "%s", c.text);
    cr_assert_eq(sum.findings[LOG_SEVERITY_DAMAGE], 0, "%s", c.text);
}

Test(repair, a_log_the_engine_wrote_checks_clean_and_needs_nothing)
{
    struct log_options opts;
    struct log *log;
    struct catcher c;
    struct log_check_summary sum;

    logtest_options(&opts, dir, 3, LOG_DURABILITY_FSYNC);
    opts.segment_max_bytes = 4096;
    log = logtest_open(&opts, NULL);
    for (int i = 0; i < 120; i++) {
        char key[32];
        char value[128];

        snprintf(key, sizeof(key), "user-%d", i % 7);
        snprintf(value, sizeof(value),
                 "{\"event\":\"Clicked\",\"i\":%d,"
                 "\"pad\":\"%060d\"}",
                 i, i);
        logtest_append_one(log, (uint32_t)(i % 3), T0_MS + i, key, value);
    }
    cr_assert_eq(log_cursor_commit(log, "lake", 1, 10), 0);
    log_close(log);

    cr_assert_eq(run_check(&c, &sum), 0, "%s", c.text);
    cr_assert_eq(c.count, 0, "%s", c.text);
    cr_assert_eq(sum.records, 120);
    cr_assert_gt(sum.segments, 3, "the log rolled segments");
    cr_assert_eq(run_repair(&c, &sum), 0, "%s", c.text);
    cr_assert_eq(sum.actions, 0, "%s", c.text);
}

Test(repair, a_dry_run_reports_the_actions_and_changes_nothing)
{
    struct std_log l;
    struct catcher c;
    struct log_check_summary sum;
    char tmp[PATH_MAX];
    char quarantine[PATH_MAX];
    uint64_t size;
    struct log_check_options opts;
    const struct caught *k;

    std_log(&l);
    flip_byte(l.s0.path, l.s0.pos[2] + LOG_BATCH_HEADER_SIZE + 5);
    path_in(tmp, "LOG.tmp");
    write_file(tmp, "x", 1);
    size = size_of(l.s0.path);

    log_check_options_init(&opts);
    opts.dry_run = true;
    memset(&c, 0, sizeof(c));
    cr_assert_eq(log_repair(dir, &opts, catch_cb, &c, &sum), 0, "%s", c.text);
    k = find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_CUT,
             "p000/00000000000000000000.seg");
    cr_assert_not_null(k, "the plan names the cut:%s", c.text);
    cr_assert_eq(k->first, 8);
    cr_assert_eq(k->last, 19);
    cr_assert_not_null(
        find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_REMOVED, "LOG.tmp"));
    cr_assert_eq(sum.actions, 3, "cut, index, tmp:%s", c.text);

    cr_assert_eq(size_of(l.s0.path), size);
    cr_assert_eq(access(tmp, F_OK), 0);
    path_in(quarantine, "quarantine");
    cr_assert_eq(access(quarantine, F_OK), -1);

    /* The real repair then does what the plan said. */
    cr_assert_eq(run_repair(&c, &sum), 0, "%s", c.text);
    cr_assert_eq(sum.actions, 3, "%s", c.text);
}

Test(check, a_cursor_file_without_a_commit_is_only_information)
{
    struct std_log l;
    struct catcher c;
    char path[PATH_MAX];
    uint8_t zero[2 * LOG_CURSOR_SLOT_SIZE] = {0};
    struct log *log;

    std_log(&l);
    /* A cursor file created, its first commit not yet written. */
    path_in(path, "cursors/fresh.cur");
    write_file(path, zero, sizeof(zero));

    cr_assert_eq(run_check(&c, NULL), 0, "%s", c.text);
    cr_assert_eq(c.count, 1, "%s", c.text);
    cr_assert_eq(c.items[0].severity, LOG_SEVERITY_INFO);
    cr_assert_eq(run_repair(&c, NULL), 0, "%s", c.text);
    cr_assert_eq(c.count, 1, "nothing to do:%s", c.text);
    cr_assert_eq(access(path, F_OK), 0);
    log = engine_open(true);
    log_close(log);
}

Test(repair, removes_a_cursor_file_whose_first_commit_was_torn)
{
    struct std_log l;
    struct catcher c;
    char path[PATH_MAX];
    uint8_t junk[2 * LOG_CURSOR_SLOT_SIZE] = {0};
    struct log *log;

    std_log(&l);
    /* Slot 1 (the first commit's) half written when a crash came. */
    memset(junk + LOG_CURSOR_SLOT_SIZE, 0x77, 900);
    path_in(path, "cursors/fresh.cur");
    write_file(path, junk, sizeof(junk));

    cr_assert_eq(run_check(&c, NULL), 0);
    cr_assert_not_null(
        find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_NONE, "cursors/fresh.cur"),
        "%s", c.text);
    cr_assert_eq(run_repair(&c, NULL), 0, "%s", c.text);
    cr_assert_not_null(
        find(&c, LOG_SEVERITY_WARNING, LOG_ACTION_REMOVED, "cursors/fresh.cur"),
        "%s", c.text);
    cr_assert_eq(access(path, F_OK), -1);
    assert_clean();
    log = engine_open(true);
    log_close(log);
}

Test(repair, rewrites_a_cursor_written_for_another_partition_count)
{
    struct std_log l;
    struct catcher c;
    uint64_t offsets[3] = {5, 2, 9};
    uint64_t at;
    struct log *log;

    std_log(&l);
    write_cursor("billing", 0, 2, 3, offsets);

    cr_assert_eq(run_check(&c, NULL), TW_ECORRUPT);
    cr_assert_eq(run_repair(&c, NULL), 0, "%s", c.text);
    cr_assert_not_null(find(&c, LOG_SEVERITY_WARNING,
                            LOG_ACTION_CURSOR_REWRITTEN, "cursors/billing.cur"),
                       "%s", c.text);
    assert_clean();
    log = engine_open(true);
    cr_assert_eq(log_cursor_get(log, "billing", 0, &at), 0);
    cr_assert_eq(at, 5);
    cr_assert_eq(log_cursor_get(log, "billing", 1, &at), 0);
    cr_assert_eq(at, 2);
    log_close(log);
}

Test(repair, writes_a_missing_log_file_from_the_partition_directories)
{
    struct std_log l;
    struct catcher c;
    char path[PATH_MAX];
    struct log *log;

    std_log(&l);
    path_in(path, "LOG");
    cr_assert_eq(unlink(path), 0);

    cr_assert_eq(run_check(&c, NULL), TW_ECORRUPT);
    cr_assert_eq(run_repair(&c, NULL), 0, "%s", c.text);
    cr_assert_not_null(find(&c, LOG_SEVERITY_DAMAGE, LOG_ACTION_CREATED, "LOG"),
                       "%s", c.text);
    assert_clean();
    log = engine_open(true);
    cr_assert_eq(log_partitions(log), 2);
    log_close(log);
}

/* --------------------------------------------------- random damage -- */

/* Files of a log directory that damage may hit: segments, indexes... */
static size_t list_files(const char *sub, const char *suffix,
                         char (*out)[PATH_MAX], size_t max)
{
    char path[PATH_MAX];
    struct dirent *e;
    size_t n = 0;
    DIR *d;

    path_in(path, "%s", sub);
    d = opendir(path);
    if (d == NULL) {
        return 0;
    }
    while ((e = readdir(d)) != NULL && n < max) {
        size_t len = strlen(e->d_name);

        if (len > strlen(suffix) &&
            strcmp(e->d_name + len - strlen(suffix), suffix) == 0) {
            snprintf(out[n++], PATH_MAX, "%s/%s", path, e->d_name);
        }
    }
    closedir(d);
    return n;
}

static void damage_randomly(uint64_t *rng)
{
    char files[64][PATH_MAX];
    const char *subs[] = {"p000", "p001", "cursors"};
    const char *suffixes[] = {".seg", ".idx", ".cur"};
    int kind = (int)(logtest_rand(rng) % 6);
    const char *sub = subs[logtest_rand(rng) % 3];
    const char *suffix = kind == 5 ? ".cur" : suffixes[logtest_rand(rng) % 2];
    size_t n;
    const char *victim;
    uint64_t size;

    if (kind == 5) {
        sub = "cursors";
    } else if (strcmp(sub, "cursors") == 0) {
        sub = "p000";
    }
    n = list_files(sub, suffix, files, 64);
    if (n == 0) {
        return;
    }
    victim = files[logtest_rand(rng) % n];
    size = size_of(victim);
    if (kind <= 2 || kind == 5) { /* flip one byte */
        if (size > 0) {
            flip_byte(victim, logtest_rand(rng) % size);
        }
    } else if (kind == 3) { /* cut it short */
        cr_assert_eq(truncate(victim, (off_t)(logtest_rand(rng) % (size + 1))),
                     0);
    } else { /* lose it, or append junk to it */
        if (strcmp(suffix, ".idx") == 0) {
            unlink(victim);
        } else {
            uint8_t junk[100];
            int fd = open(victim, O_WRONLY | O_APPEND);

            memset(junk, (int)(logtest_rand(rng) & 0xff), sizeof(junk));
            cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
            close(fd);
        }
    }
}

static void build_engine_log(uint64_t seed)
{
    struct log_options opts;
    struct log *log;

    logtest_options(&opts, dir, 2, LOG_DURABILITY_NONE);
    opts.segment_max_bytes = 4096;
    log = logtest_open(&opts, NULL);
    for (int i = 0; i < 90; i++) {
        char key[32];
        char value[96];

        snprintf(key, sizeof(key), "user-%d", i);
        snprintf(value, sizeof(value),
                 "{\"seed\":%" PRIu64 ",\"i\":%d,"
                 "\"pad\":\"%040d\"}",
                 seed, i, i);
        logtest_append_one(log, (uint32_t)(i % 2), T0_MS + i, key, value);
        if (i % 30 == 29) {
            cr_assert_eq(log_cursor_commit(log, "lake", (uint32_t)(i % 2),
                                           (uint64_t)i / 2),
                         0);
        }
    }
    log_close(log);
}

/* Reads every partition to its end; no record may fail to read. */
static void read_everything(uint64_t seed)
{
    struct log *log = engine_open(false);

    for (uint32_t p = 0; p < log_partitions(log); p++) {
        struct log_partition_info info;
        struct log_reader *r;
        struct log_record rec;
        int rc;

        cr_assert_eq(log_partition_info(log, p, &info), 0);
        cr_assert_eq(log_reader_open(log, p, info.start_offset, &r), 0, "%s",
                     tw_err_message());
        while ((rc = log_reader_next(r, &rec)) == 1) {
        }
        cr_assert_eq(rc, 0, "seed %" PRIu64 " partition %u: %s", seed, p,
                     tw_err_message());
        cr_assert_eq(log_reader_position(r), info.end_offset,
                     "seed %" PRIu64 " partition %u: read to %" PRIu64
                     ", the end is %" PRIu64,
                     seed, p, log_reader_position(r), info.end_offset);
        log_reader_close(r);
    }
    log_close(log);
}

Test(repair, any_random_damage_ends_in_a_log_that_opens_and_reads_whole,
     .timeout = 1200)
{
    for (uint64_t seed = 2001; seed <= 2400; seed++) {
        uint64_t rng = seed * 0x9e3779b97f4a7c15u;
        struct catcher c;
        struct log_check_summary sum;
        int damages = 1 + (int)(logtest_rand(&rng) % 6);

        tw_test_rmdir(strdup(dir));
        cr_assert_eq(mkdir(dir, 0700), 0);
        build_engine_log(seed);
        for (int i = 0; i < damages; i++) {
            damage_randomly(&rng);
        }

        (void)run_check(&c, &sum);
        cr_assert_eq(run_repair(&c, &sum), 0, "seed %" PRIu64 ": %s%s", seed,
                     tw_err_message(), c.text);
        cr_assert_eq(run_check(&c, &sum), 0, "seed %" PRIu64 ":%s", seed,
                     c.text);
        cr_assert_eq(sum.findings[LOG_SEVERITY_WARNING], 0,
                     "seed %" PRIu64 ":%s", seed, c.text);
        read_everything(seed);
        cr_assert_eq(run_repair(&c, &sum), 0);
        cr_assert_eq(sum.actions, 0, "seed %" PRIu64 " again:%s", seed, c.text);
    }
}
