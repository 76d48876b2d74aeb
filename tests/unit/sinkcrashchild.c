/*
 * sinkcrashchild.c - a producer that sends batches to a file sink until
 * it is killed, so that tests/unit/test_sink_crash.c can kill it at a
 * random moment and check what recovery finds.
 *
 *   sinkcrashchild DIR THREADS none|zstd MAX_BYTES MAX_AGE_MS
 *
 * opens a file sink on DIR (prefix "events") with the given compression
 * of rotated files, rotation size and age. THREADS producer threads each
 * send batch after batch, waiting for each batch's completion (it comes
 * from the sink's writer thread) before the next, so the writer gathers
 * the producers' batches into groups that share a sync. Every batch is
 * made by support/sinkevents.h from (producer, seq), so its lines can be
 * regenerated from that name.
 * With MAX_AGE_MS > 0 one more thread calls sink_file_tick every
 * millisecond, so kills also land in rotations that no batch started.
 *
 * When a batch's completion says SINK_OK, and only then, one line
 *
 *   <producer> <seq>\n
 *
 * goes to the acknowledgement file DIR.acks (opened O_APPEND, one write()
 * per line): the batches the sink has promised are on disk. A producer's
 * id is the boot-time clock in microseconds when the process started,
 * times 64, plus the thread's number, so successive children never share
 * one.
 *
 * Exit codes (all mean the test failed): 2 bad usage, 3 the sink would
 * not open, 4 a batch or a tick failed, 5 the acknowledgement file failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "obs/logging.h"
#include "sinks/file.h"
#include "support/sinkevents.h"

#define CHILD_MAX_THREADS 16

struct child_producer {
    struct sink *sink;
    int ack_fd;
    uint64_t producer;
    uint64_t seq;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done; /* the batch in flight has completed */
};

static void child_done_cb(void *ctx, const struct sink_result *result)
{
    struct child_producer *pr = ctx;
    char line[64];
    int len;

    if (result->outcome != SINK_OK) {
        fprintf(stderr,
                "sinkcrashchild: batch p%" PRIu64 "-s%" PRIu64
                " failed (%d): %s\n",
                pr->producer, pr->seq, result->outcome, result->detail);
        _exit(4);
    }

    /* Durable now: only now may the test rely on it. */
    len = snprintf(line, sizeof(line), "%" PRIu64 " %" PRIu64 "\n",
                   pr->producer, pr->seq);
    if (write(pr->ack_fd, line, (size_t)len) != len) {
        fprintf(stderr, "sinkcrashchild: cannot write an ack: %s\n",
                strerror(errno));
        _exit(5);
    }
    pthread_mutex_lock(&pr->lock);
    pr->done = true;
    pthread_cond_signal(&pr->cond);
    pthread_mutex_unlock(&pr->lock);
}

static void *child_produce(void *arg)
{
    struct child_producer *pr = arg;
    struct sinkevents_batch *b = malloc(sizeof(*b));

    if (b == NULL) {
        fprintf(stderr, "sinkcrashchild: out of memory\n");
        _exit(4);
    }
    for (pr->seq = 0;; pr->seq++) {
        sinkevents_build(b, pr->producer, pr->seq);
        pr->done = false;
        if (sink_send(pr->sink, &b->batch, child_done_cb, pr) != 0) {
            fprintf(stderr, "sinkcrashchild: send: %s\n", tw_err_message());
            _exit(4);
        }
        /* The batch's bytes must stay as they are until it completes. */
        pthread_mutex_lock(&pr->lock);
        while (!pr->done) {
            pthread_cond_wait(&pr->cond, &pr->lock);
        }
        pthread_mutex_unlock(&pr->lock);
    }
    return NULL;
}

static void *child_tick(void *arg)
{
    struct sink *sink = arg;
    struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};

    for (;;) {
        if (sink_file_tick(sink) != 0) {
            fprintf(stderr, "sinkcrashchild: tick: %s\n", tw_err_message());
            _exit(4);
        }
        nanosleep(&ms, NULL);
    }
    return NULL;
}

static int child_usage(void)
{
    fprintf(stderr, "usage: sinkcrashchild DIR THREADS none|zstd "
                    "MAX_BYTES MAX_AGE_MS\n");
    return 2;
}

int main(int argc, char **argv)
{
    static struct child_producer producers[CHILD_MAX_THREADS];
    struct sink_file_options opts;
    struct sink *sink;
    char ack_path[4096];
    struct timespec now;
    uint64_t started_us;
    pthread_t tid;
    int threads;
    int ack_fd;

    if (argc != 6) {
        return child_usage();
    }
    threads = atoi(argv[2]);
    if (threads < 1 || threads > CHILD_MAX_THREADS ||
        (strcmp(argv[3], "none") != 0 && strcmp(argv[3], "zstd") != 0)) {
        return child_usage();
    }
    obs_log_set_level(OBS_ERROR);

    sink_file_options_init(&opts, argv[1]);
    opts.compression = strcmp(argv[3], "zstd") == 0
                           ? SINK_FILE_COMPRESSION_ZSTD
                           : SINK_FILE_COMPRESSION_NONE;
    opts.max_bytes = strtoull(argv[4], NULL, 10);
    opts.max_age_ms = strtoll(argv[5], NULL, 10);
    opts.max_in_flight = CHILD_MAX_THREADS;
    if (sink_file_new(&opts, "crash", &sink) < 0) {
        fprintf(stderr, "sinkcrashchild: %s\n", tw_err_message());
        return 3;
    }

    snprintf(ack_path, sizeof(ack_path), "%s.acks", argv[1]);
    ack_fd = open(ack_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (ack_fd < 0) {
        fprintf(stderr, "sinkcrashchild: cannot open %s: %s\n", ack_path,
                strerror(errno));
        return 5;
    }

    clock_gettime(CLOCK_BOOTTIME, &now);
    started_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
    for (int i = 0; i < threads; i++) {
        producers[i] = (struct child_producer){
            .sink = sink,
            .ack_fd = ack_fd,
            .producer = started_us * 64 + (uint64_t)i,
        };
        pthread_mutex_init(&producers[i].lock, NULL);
        pthread_cond_init(&producers[i].cond, NULL);
        if (pthread_create(&tid, NULL, child_produce, &producers[i]) != 0) {
            fprintf(stderr, "sinkcrashchild: cannot start a thread\n");
            return 4;
        }
    }
    if (opts.max_age_ms > 0 &&
        pthread_create(&tid, NULL, child_tick, sink) != 0) {
        fprintf(stderr, "sinkcrashchild: cannot start the ticker\n");
        return 4;
    }

    /* Producers never stop: the test ends this process with SIGKILL. */
    for (;;) {
        pause();
    }
}
