/*
 * logtest.h - shared steps of the tests that drive the embedded log through
 * the log interface: opening with test settings, appending and reading
 * back with every failure turned into a test failure, completion counters,
 * a gate that holds the writer thread, and small file operations for
 * tampering with a closed log.
 *
 * Functions that assert must run on the test's own thread; the completion
 * callbacks here only record and signal, so they are safe on the writer's.
 */
#ifndef TW_TEST_LOGTEST_H
#define TW_TEST_LOGTEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/embedded.h"

/* How long any await in these tests may take before the test fails. */
#define LOGTEST_AWAIT_MS 10000

/*
 * Fills opts for a log in dir: the defaults, with partitions and
 * durability as given and automatic retention off (tests run it by hand).
 */
void logtest_options(struct log_options *opts, const char *dir,
                     uint32_t partitions, enum log_durability durability);

/* Opens the log or fails the test. report may be NULL. */
struct log *logtest_open(const struct log_options *opts,
                         struct log_recovery *report);

/* log_append_wait, failing the test on error; returns the first offset. */
uint64_t logtest_append(struct log *log, uint32_t partition,
                        const struct log_record *records, size_t count);

/* Appends one record of string key and value; returns its offset. */
uint64_t logtest_append_one(struct log *log, uint32_t partition,
                            int64_t timestamp_ms, const char *key,
                            const char *value);

/* A record copied out of a reader; the arrays own key and value. */
struct logtest_record {
    uint64_t offset;
    int64_t timestamp_ms;
    uint8_t *key;
    uint32_t key_len;
    uint8_t *value;
    uint32_t value_len;
};

struct logtest_records {
    struct logtest_record *items;
    size_t count;
    size_t capacity;
};

/*
 * Reads partition from offset up to what is stored now into out (which
 * must be zeroed or freed before). Fails the test on any reader error and
 * when offsets are not consecutive from `from`.
 */
void logtest_read_all(struct log *log, uint32_t partition, uint64_t from,
                      struct logtest_records *out);
void logtest_records_free(struct logtest_records *recs);

/* Fails the test unless a and b hold the same records. */
void logtest_assert_same_records(const struct logtest_records *a,
                                 const struct logtest_records *b);

/* true when rec's value is exactly the string text. */
bool logtest_value_is(const struct logtest_record *rec, const char *text);

/*
 * Numbered records: the record at offset o of partition p has the value
 * "p<p>-o<o>-" padded with letters that depend on o to value_len bytes,
 * key "k<o mod 10>" and timestamp ts_base + o * ts_step. Tests append
 * them to a partition in order and then check any record by its offset.
 */
void logtest_numbered_value(char *buf, size_t value_len, uint32_t partition,
                            uint64_t offset);

/*
 * Appends count numbered records to partition, batch records per
 * log_append_wait, from its current end. Returns the first offset.
 */
uint64_t logtest_append_numbered(struct log *log, uint32_t partition,
                                 uint64_t count, uint32_t batch,
                                 uint32_t value_len, int64_t ts_base,
                                 int64_t ts_step);

/* Fails the test unless rec is the numbered record at its offset. */
void logtest_assert_numbered(const struct logtest_record *rec,
                             uint32_t partition, uint32_t value_len,
                             int64_t ts_base, int64_t ts_step);

/* <dir>/p<partition>/<base 20 digits>.<ext> into path. */
void logtest_segment_path(char *path, size_t size, const char *dir,
                          uint32_t partition, uint64_t base, const char *ext);

/*
 * The base offsets of the segment files of a partition, sorted, into
 * bases (at most max); returns how many there are (may exceed max).
 */
size_t logtest_segment_bases(const char *dir, uint32_t partition,
                             uint64_t *bases, size_t max);

bool logtest_file_exists(const char *path);
/* The size of a file; fails the test when it cannot stat it. */
uint64_t logtest_file_size(const char *path);
/* Reads a whole file (at most max bytes) into a new buffer; *len its size. */
uint8_t *logtest_file_read(const char *path, size_t max, size_t *len);
void logtest_file_copy(const char *from, const char *to);
void logtest_file_truncate(const char *path, uint64_t size);
void logtest_file_write_at(const char *path, uint64_t position,
                           const void *data, size_t len);

/* Sum of info.bytes over every partition. */
uint64_t logtest_total_bytes(struct log *log);

/* Counts completions of async appends. */
struct logtest_waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t done;
    uint64_t failed;
};

void logtest_waiter_init(struct logtest_waiter *w);
void logtest_waiter_destroy(struct logtest_waiter *w);
/* A log_append_cb whose ctx is a struct logtest_waiter. */
void logtest_waiter_cb(void *ctx, int status, uint64_t first_offset,
                       uint32_t count, const char *message);
/* Waits until n completions arrived; fails the test after LOGTEST_AWAIT_MS. */
void logtest_waiter_await(struct logtest_waiter *w, uint64_t n);

/*
 * Holds the writer thread: an append whose completion is logtest_gate_cb
 * keeps the writer inside that callback until logtest_gate_open, so the
 * test decides exactly what queues up meanwhile.
 */
struct logtest_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool entered;
    bool open;
    int status;
};

void logtest_gate_init(struct logtest_gate *g);
void logtest_gate_destroy(struct logtest_gate *g);
void logtest_gate_cb(void *ctx, int status, uint64_t first_offset,
                     uint32_t count, const char *message);
/* Waits until the writer is inside the gate (bounded). */
void logtest_gate_await_entered(struct logtest_gate *g);
void logtest_gate_open(struct logtest_gate *g);

/*
 * Polls cond(ctx) every millisecond until it holds or timeout_ms passed;
 * for states that announce themselves through no notification (counters).
 * Returns whether it held.
 */
bool logtest_eventually(bool (*cond)(void *ctx), void *ctx, int timeout_ms);

/* Milliseconds on the monotonic clock. */
int64_t logtest_mono_ms(void);

/* A deterministic pseudo-random sequence (xorshift64*); state must be != 0. */
uint64_t logtest_rand(uint64_t *state);

#endif
