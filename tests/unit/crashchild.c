/*
 * crashchild.c - a producer that appends to a log until it is killed, so
 * that tests/unit/test_crash.c can kill it at a random moment and check
 * what recovery finds.
 *
 *   crashchild DIR THREADS DURABILITY [COMPRESSION]
 *
 * opens (creating if needed) the log at DIR with 4 partitions, small
 * segments (so kills also land in the middle of segment rolls) and the
 * named durability policy ("fsync", "interval", "none") and compression
 * ("none", "zstd"). THREADS producer threads each keep several appends in
 * flight; every batch is made by support/records.h from (thread, seq), so
 * its bytes can be regenerated from that name alone.
 *
 * When a completion reports success, and only then, one line
 *
 *   <partition> <first_offset> <count> <thread> <seq>\n
 *
 * goes to the acknowledgement file DIR.acks (opened O_APPEND, one write()
 * per line): the list of batches the log has promised to keep. A thread's
 * id is the boot-time clock in microseconds when the process started,
 * times 64, plus the thread's number: process ids are reused, the clock
 * only grows, so batches of successive children never share a name.
 *
 * Exit codes (all mean the test failed): 2 bad usage, 3 the log would not
 * open, 4 an append failed, 5 the acknowledgement file failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/embedded.h"
#include "obs/logging.h"
#include "support/records.h"

#define CRASH_PARTITIONS 4u
#define CRASH_MAX_THREADS 64
/* Appends each thread keeps queued at once. */
#define CRASH_IN_FLIGHT 4
#define CRASH_SEGMENT_BYTES (256u << 10)

struct crash_producer {
    struct log *log;
    int ack_fd;
    uint64_t thread;
    pthread_mutex_t lock;
    pthread_cond_t drained;
    int in_flight;
};

/* One queued append; freed by its completion. */
struct crash_append {
    struct crash_producer *producer;
    uint32_t partition;
    uint64_t seq;
};

static void crash_ack_cb(void *ctx, int status, uint64_t first_offset,
                         uint32_t count, const char *message)
{
    struct crash_append *a = ctx;
    struct crash_producer *pr = a->producer;
    char line[128];
    int len;

    if (status != 0) {
        fprintf(stderr,
                "crashchild: append t%" PRIu64 "-s%" PRIu64 " failed: %s\n",
                pr->thread, a->seq, message);
        _exit(4);
    }

    /* The batch is durable now: only now may the test rely on it. */
    len = snprintf(line, sizeof(line),
                   "%" PRIu32 " %" PRIu64 " %" PRIu32 " %" PRIu64 " %" PRIu64
                   "\n",
                   a->partition, first_offset, count, pr->thread, a->seq);
    if (write(pr->ack_fd, line, (size_t)len) != len) {
        fprintf(stderr, "crashchild: cannot write an acknowledgement: %s\n",
                strerror(errno));
        _exit(5);
    }

    pthread_mutex_lock(&pr->lock);
    pr->in_flight--;
    pthread_cond_signal(&pr->drained);
    pthread_mutex_unlock(&pr->lock);
    free(a);
}

/* Waits until fewer than limit appends of pr are in flight. */
static void crash_wait_below(struct crash_producer *pr, int limit)
{
    pthread_mutex_lock(&pr->lock);
    while (pr->in_flight >= limit) {
        pthread_cond_wait(&pr->drained, &pr->lock);
    }
    pthread_mutex_unlock(&pr->lock);
}

static void crash_append_one(struct crash_producer *pr,
                             struct tw_test_batch *batch, uint64_t seq)
{
    struct crash_append *a = malloc(sizeof(*a));
    int rc;

    if (a == NULL) {
        fprintf(stderr, "crashchild: out of memory\n");
        _exit(4);
    }
    tw_test_rec_build(batch, pr->thread, seq, CRASH_PARTITIONS);
    a->producer = pr;
    a->partition = batch->partition;
    a->seq = seq;

    for (;;) {
        crash_wait_below(pr, CRASH_IN_FLIGHT);
        pthread_mutex_lock(&pr->lock);
        pr->in_flight++;
        pthread_mutex_unlock(&pr->lock);

        rc = log_append(pr->log, batch->partition, batch->records, batch->count,
                        crash_ack_cb, a);
        if (rc == 0) {
            return;
        }
        if (rc != TW_EFULL) {
            fprintf(stderr, "crashchild: log_append: %s\n", tw_err_message());
            _exit(4);
        }

        /* The queue is full: let one of ours complete, then retry. */
        pthread_mutex_lock(&pr->lock);
        int was = --pr->in_flight;
        while (was > 0 && pr->in_flight >= was) {
            pthread_cond_wait(&pr->drained, &pr->lock);
        }
        pthread_mutex_unlock(&pr->lock);
        if (was == 0) {
            sched_yield();
        }
    }
}

static void *crash_produce(void *arg)
{
    struct crash_producer *pr = arg;
    struct tw_test_batch *batch = malloc(sizeof(*batch));

    if (batch == NULL) {
        fprintf(stderr, "crashchild: out of memory\n");
        _exit(4);
    }
    for (uint64_t seq = 0;; seq++) {
        crash_append_one(pr, batch, seq);
    }
    return NULL;
}

static int crash_usage(void)
{
    fprintf(stderr, "usage: crashchild DIR THREADS fsync|interval|none "
                    "[none|zstd]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static struct crash_producer producers[CRASH_MAX_THREADS];
    struct log_options opts;
    struct log *log;
    char ack_path[4096];
    int threads;
    int durability;
    int ack_fd;
    struct timespec now;
    uint64_t started_us;

    if (argc < 4 || argc > 5) {
        return crash_usage();
    }
    threads = atoi(argv[2]);
    durability = log_durability_parse(argv[3]);
    if (threads < 1 || threads > CRASH_MAX_THREADS || durability < 0 ||
        (argc == 5 && strcmp(argv[4], "none") != 0 &&
         strcmp(argv[4], "zstd") != 0)) {
        return crash_usage();
    }
    obs_log_set_level(OBS_ERROR);

    log_options_init(&opts, argv[1]);
    opts.partitions = CRASH_PARTITIONS;
    opts.durability = (enum log_durability)durability;
    opts.interval_ms = 5;
    opts.segment_max_bytes = CRASH_SEGMENT_BYTES;
    if (argc == 5 && strcmp(argv[4], "zstd") == 0) {
        opts.compression = LOG_COMPRESSION_ZSTD;
    }
    if (log_embedded_open(&opts, &log, NULL) < 0) {
        fprintf(stderr, "crashchild: cannot open %s: %s\n", argv[1],
                tw_err_message());
        return 3;
    }

    snprintf(ack_path, sizeof(ack_path), "%s.acks", argv[1]);
    ack_fd = open(ack_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (ack_fd < 0) {
        fprintf(stderr, "crashchild: cannot open %s: %s\n", ack_path,
                strerror(errno));
        return 5;
    }

    clock_gettime(CLOCK_BOOTTIME, &now);
    started_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
    for (int i = 0; i < threads; i++) {
        struct crash_producer *pr = &producers[i];
        pthread_t tid;

        pr->log = log;
        pr->ack_fd = ack_fd;
        pr->thread = started_us * CRASH_MAX_THREADS + (uint64_t)i;
        pthread_mutex_init(&pr->lock, NULL);
        pthread_cond_init(&pr->drained, NULL);
        if (pthread_create(&tid, NULL, crash_produce, pr) != 0) {
            fprintf(stderr, "crashchild: cannot start a thread\n");
            return 4;
        }
    }

    /* Producers never stop: the test ends this process with SIGKILL. */
    for (;;) {
        pause();
    }
}
