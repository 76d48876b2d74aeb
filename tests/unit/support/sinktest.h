/*
 * sinktest.h - shared steps of the sink tests: a clock the test moves by
 * hand, a completion that records its result, and reading back every
 * file a file sink wrote, decompressing the zstd ones.
 */
#ifndef TW_TEST_SINKTEST_H
#define TW_TEST_SINKTEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "sinks/sink.h"

/* A clock for sink_file_options.clock_ms: time moves when the test says. */
struct sinktest_clock {
    _Atomic int64_t now_ms;
};

int64_t sinktest_clock_cb(void *ctx);

/*
 * A sink_done_cb whose ctx is a struct sinktest_done. It may run on any
 * thread: it records under one lock shared by every sinktest_done and
 * wakes sinktest_await.
 */
struct sinktest_done {
    int calls;
    struct sink_result result;
};

void sinktest_done_cb(void *ctx, const struct sink_result *result);

/* Waits (at most 10 s, else the test fails) until done ran calls times;
 * returns how often it ran. */
int sinktest_await(struct sinktest_done *done, int calls);

/* How often done ran so far, read under the callback's lock. */
int sinktest_calls(struct sinktest_done *done);

/*
 * Sends batch and returns its result, failing the test unless send
 * accepted it and done ran exactly once before send returned (a sink
 * that completes inside send, like the stdout sink).
 */
struct sink_result sinktest_send(struct sink *sink,
                                 const struct sink_batch *batch);

/* sinktest_send, failing the test unless the outcome is SINK_OK. */
void sinktest_send_ok(struct sink *sink, const struct sink_batch *batch);

/*
 * Sends batch and waits for its one completion, from whatever thread it
 * comes (a sink with a writer thread, like the file sink); fails the
 * test unless send accepted it and done ran once within 10 s.
 */
struct sink_result sinktest_send_wait(struct sink *sink,
                                      const struct sink_batch *batch);

/* sinktest_send_wait, failing the test unless the outcome is SINK_OK. */
void sinktest_send_wait_ok(struct sink *sink, const struct sink_batch *batch);

enum sinktest_kind {
    SINKTEST_ACTIVE = 0,
    SINKTEST_PLAIN = 1,
    SINKTEST_ZST = 2,
};

/* One file of a file sink, with its bytes (decompressed for zstd). */
struct sinktest_file {
    char name[256];
    enum sinktest_kind kind;
    uint64_t seq;
    char *data; /* owned, NUL-terminated */
    size_t len;
};

struct sinktest_files {
    struct sinktest_file *items;
    size_t count;
    char *all; /* every file's bytes, in name order; owned */
    size_t all_len;
    size_t temporaries; /* .tmp files seen (and not read) */
};

/*
 * Reads every file of prefix in dir in name order into out, failing the
 * test on a name it does not expect, a zstd file that is not exactly one
 * frame with its content size, or a file it cannot read.
 */
void sinktest_files_read(const char *dir, const char *prefix,
                         struct sinktest_files *out);
void sinktest_files_free(struct sinktest_files *files);

/* Fails the test unless the files are sorted by sequence, at most one is
 * active and it is the last. */
void sinktest_files_check_order(const struct sinktest_files *files);

/* The lines a test expects in a file sink's files, in order. */
struct sinktest_expect {
    FILE *out; /* appends to text */
    char *text;
    size_t len;
};

void sinktest_expect_init(struct sinktest_expect *e);
void sinktest_expect_free(struct sinktest_expect *e);
/* Expects the batch's events, each as a line. */
void sinktest_expect_batch(struct sinktest_expect *e,
                           const struct sink_batch *batch);
/* Expects text as it is (whole lines, newlines included). */
void sinktest_expect_text(struct sinktest_expect *e, const char *text);

/*
 * Reads the files of prefix in dir into files (the caller frees them) and
 * fails the test unless they are in order, no temporary file is left and
 * together they hold exactly what e expects.
 */
void sinktest_files_check_expected(const char *dir, const char *prefix,
                                   const struct sinktest_expect *e,
                                   struct sinktest_files *files);

/* A whole file's bytes (at most 64 MiB), NUL-terminated; *len its size. */
char *sinktest_read_file(const char *path, size_t *len);
void sinktest_write_file(const char *path, const void *data, size_t len);
void sinktest_append_file(const char *path, const void *data, size_t len);
uint64_t sinktest_file_size(const char *path);
bool sinktest_exists(const char *path);

#endif
