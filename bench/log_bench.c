/*
 * log_bench.c - throughput and time-to-durable of the embedded log, set
 * against what the disk under it does with plain writes.
 *
 * Producers (1, 2 and 4 threads by default) append Segment-style events of
 * 400 bytes, keyed by userId, in batches of 100 (one /v1/batch request of
 * the collector), each batch to one partition, with at most 8 batches of
 * each thread waiting for their completion. Every run writes a fresh log
 * and lasts a fixed time or record count. Per run the benchmark reports
 * records/s, payload MB/s, bytes handed to the disk per second (the log's
 * bytes_written: batch and record headers, keys and payloads), the time
 * from log_append to its completion per batch (p50 and p99 over a fixed
 * reservoir of samples), and the log's write groups and syncs.
 *
 * The reference is the disk itself: right after each run of the headline
 * configuration (fsync, most threads) the same number of bytes is written
 * to a fresh file on the same filesystem with pwrite in 1 MiB chunks, each
 * followed by fdatasync: buffered I/O, as the log does. The log's written
 * MB/s over that raw MB/s is the ratio to raw. The headline log is then
 * read back through one reader per partition while its pages are still in
 * the page cache.
 *
 * Each configuration runs --repeat times, interleaved, and the table shows
 * medians. The last line of output is one JSON object with the headline
 * figures. MB means 10^6 bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "log/embedded.h"
#include "log/log.h"
#include "obs/logging.h"

#ifndef TW_BUILD_DIR
#define TW_BUILD_DIR "build"
#endif

#define BENCH_MAX_THREADS 16
#define BENCH_MAX_POLICIES 3
#define BENCH_MAX_REPEAT 99
#define BENCH_MAX_BATCH 10000
#define BENCH_MAX_INFLIGHT 1024
#define BENCH_MAX_VALUE 65536
/* Distinct users; each has one prepared event, its key is its userId. */
#define BENCH_USERS 4096
#define BENCH_KEY_LEN 13 /* "user-" and 8 digits */
/* Latency samples kept per producer and run (reservoir sampling). */
#define BENCH_SAMPLES 65536
#define BENCH_RAW_CHUNK (1u << 20)

struct bench_opts {
    const char *dir;
    double seconds;    /* per run, when records is 0 */
    uint64_t records;  /* per run; 0: run for seconds */
    uint32_t batch;    /* records per log_append */
    uint32_t inflight; /* batches per thread awaiting completion */
    uint32_t repeat;
    uint32_t partitions;
    uint32_t value_bytes;
    uint32_t threads[BENCH_MAX_THREADS];
    uint32_t thread_count;
    enum log_durability policies[BENCH_MAX_POLICIES];
    uint32_t policy_count;
};

/* The prepared events: the producers only point at them. */
struct bench_data {
    char *values; /* BENCH_USERS events of value_bytes each */
    char keys[BENCH_USERS][BENCH_KEY_LEN + 1];
    uint32_t value_bytes;
};

/* A fixed array of latency samples filled by reservoir sampling. */
struct bench_samples {
    uint64_t *ns;
    uint32_t kept;
    uint64_t seen;
    uint64_t rng;
};

struct bench_run;
struct bench_producer;

/* One batch awaiting its completion. */
struct bench_slot {
    struct bench_producer *owner;
    uint64_t start_ns;
};

struct bench_producer {
    struct bench_run *run;
    uint32_t id;
    pthread_t thread;
    struct log_record *records;
    struct bench_slot *slots;
    uint64_t rng;

    /* Shared with the completion callback, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    uint32_t *free_slots;
    uint32_t free_count;
    struct bench_samples samples;
    uint64_t done_records;
    uint64_t done_batches;
    uint64_t failures;
    uint64_t last_done_ns;
    char failure[256];

    /* Producer thread only. */
    uint64_t rejected_full;
    int error;
    char error_text[256];
};

struct bench_run {
    const struct bench_opts *opts;
    const struct bench_data *data;
    struct log *log;
    uint32_t threads;
    pthread_mutex_t gate_lock; /* producers start when go turns true */
    pthread_cond_t gate;
    bool go;
    uint64_t start_ns;
    uint64_t deadline_ns;
    _Atomic uint64_t claimed; /* records handed out, for --records */
    struct bench_producer producers[BENCH_MAX_THREADS];
};

/* What one run measured. */
struct bench_result {
    double seconds;
    uint64_t records;
    uint64_t batches;
    double records_per_s;
    double payload_mb_per_s;
    double written_mb_per_s;
    double p50_ms;
    double p99_ms;
    uint64_t samples_kept;
    uint64_t samples_seen;
    struct log_stats stats;
    double batches_per_group;
    double sync_busy; /* share of the run the writer spent in fdatasync */
    double sync_avg_ms;
    uint64_t rejected_full;
};

/* Medians over the repetitions of one configuration. */
struct bench_summary {
    enum log_durability policy;
    uint32_t threads;
    double records_per_s;
    double payload_mb_per_s;
    double written_mb_per_s;
    double p50_ms;
    double p99_ms;
    double batches_per_group;
    double syncs_per_s;
    double sync_busy;
    double sync_avg_ms;
};

static uint64_t bench_rand(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double bench_seconds_since(uint64_t start_ns, uint64_t end_ns)
{
    return (double)(end_ns - start_ns) / 1e9;
}

/* ------------------------------------------------------------ options -- */

static void bench_usage(FILE *out)
{
    fprintf(out,
            "usage: log_bench [options]\n"
            "  --dir DIR          where the logs and the raw file go\n"
            "                     (default " TW_BUILD_DIR "/bench-data/log)\n"
            "  --seconds S        length of each run (default 3)\n"
            "  --records N        run until N records instead of S seconds\n"
            "  --batch N          records per log_append (default 100)\n"
            "  --inflight N       batches per thread awaiting completion "
            "(default 8)\n"
            "  --repeat R         runs per configuration (default 3)\n"
            "  --threads LIST     producer thread counts (default 1,2,4)\n"
            "  --policies LIST    durability policies (default fsync,none)\n"
            "  --partitions N     partitions of each log (default 4)\n"
            "  --value-bytes N    payload bytes per record (default 400)\n");
}

static int bench_parse_u64(const char *text, const char *flag, uint64_t min,
                           uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' ||
        v < min || v > max) {
        fprintf(stderr,
                "log_bench: %s wants a whole number from %" PRIu64
                " to %" PRIu64 ", not '%s'\n",
                flag, min, max, text);
        return TW_EINVAL;
    }
    *out = v;
    return 0;
}

static int bench_parse_u32(const char *text, const char *flag, uint32_t min,
                           uint32_t max, uint32_t *out)
{
    uint64_t v;
    int rc = bench_parse_u64(text, flag, min, max, &v);

    if (rc == 0) {
        *out = (uint32_t)v;
    }
    return rc;
}

static int bench_parse_threads(const char *text, struct bench_opts *o)
{
    char copy[256];
    char *save = NULL;

    snprintf(copy, sizeof(copy), "%s", text);
    o->thread_count = 0;
    for (char *t = strtok_r(copy, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (o->thread_count == BENCH_MAX_THREADS) {
            fprintf(stderr, "log_bench: at most %d thread counts\n",
                    BENCH_MAX_THREADS);
            return TW_EINVAL;
        }
        if (bench_parse_u32(t, "--threads", 1, BENCH_MAX_THREADS,
                            &o->threads[o->thread_count]) < 0) {
            return TW_EINVAL;
        }
        o->thread_count++;
    }
    if (o->thread_count == 0) {
        fprintf(stderr, "log_bench: --threads needs at least one count\n");
        return TW_EINVAL;
    }
    return 0;
}

static int bench_parse_policies(const char *text, struct bench_opts *o)
{
    char copy[256];
    char *save = NULL;

    snprintf(copy, sizeof(copy), "%s", text);
    o->policy_count = 0;
    for (char *t = strtok_r(copy, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        int p = log_durability_parse(t);

        if (p < 0 || o->policy_count == BENCH_MAX_POLICIES) {
            fprintf(stderr,
                    "log_bench: --policies takes up to %d of fsync, "
                    "interval, none; not '%s'\n",
                    BENCH_MAX_POLICIES, t);
            return TW_EINVAL;
        }
        o->policies[o->policy_count++] = (enum log_durability)p;
    }
    if (o->policy_count == 0) {
        fprintf(stderr, "log_bench: --policies needs at least one policy\n");
        return TW_EINVAL;
    }
    return 0;
}

static int bench_parse_seconds(const char *text, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v > 0) || v > 3600) {
        fprintf(stderr,
                "log_bench: --seconds wants a number above 0 and at "
                "most 3600, not '%s'\n",
                text);
        return TW_EINVAL;
    }
    *out = v;
    return 0;
}

static void bench_opts_init(struct bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->dir = TW_BUILD_DIR "/bench-data/log";
    o->seconds = 3.0;
    o->batch = 100;
    o->inflight = 8;
    o->repeat = 3;
    o->partitions = 4;
    o->value_bytes = 400;
    o->threads[0] = 1;
    o->threads[1] = 2;
    o->threads[2] = 4;
    o->thread_count = 3;
    o->policies[0] = LOG_DURABILITY_FSYNC;
    o->policies[1] = LOG_DURABILITY_NONE;
    o->policy_count = 2;
}

static int bench_apply_opt(int c, const char *arg, struct bench_opts *o)
{
    switch (c) {
    case 'd':
        o->dir = arg;
        return 0;
    case 's':
        return bench_parse_seconds(arg, &o->seconds);
    case 'n':
        return bench_parse_u64(arg, "--records", 1, UINT64_MAX / 2,
                               &o->records);
    case 'b':
        return bench_parse_u32(arg, "--batch", 1, BENCH_MAX_BATCH, &o->batch);
    case 'i':
        return bench_parse_u32(arg, "--inflight", 1, BENCH_MAX_INFLIGHT,
                               &o->inflight);
    case 'r':
        return bench_parse_u32(arg, "--repeat", 1, BENCH_MAX_REPEAT,
                               &o->repeat);
    case 't':
        return bench_parse_threads(arg, o);
    case 'p':
        return bench_parse_policies(arg, o);
    case 'P':
        return bench_parse_u32(arg, "--partitions", 1, LOG_MAX_PARTITIONS,
                               &o->partitions);
    case 'v':
        return bench_parse_u32(arg, "--value-bytes", 1, BENCH_MAX_VALUE,
                               &o->value_bytes);
    default:
        return TW_EINVAL;
    }
}

/* Returns 0, 1 after --help, or an error. */
static int bench_parse_args(int argc, char **argv, struct bench_opts *o)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"seconds", required_argument, NULL, 's'},
        {"records", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'},
        {"inflight", required_argument, NULL, 'i'},
        {"repeat", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},
        {"policies", required_argument, NULL, 'p'},
        {"partitions", required_argument, NULL, 'P'},
        {"value-bytes", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    bench_opts_init(o);
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'h') {
            bench_usage(stdout);
            return 1;
        }
        if (c == '?' || bench_apply_opt(c, optarg, o) < 0) {
            bench_usage(stderr);
            return TW_EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "log_bench: unexpected argument '%s'\n", argv[optind]);
        bench_usage(stderr);
        return TW_EINVAL;
    }
    return 0;
}

/* --------------------------------------------------------------- data -- */

/* Writes `len` bytes of a browser user agent, cycled, at out. */
static void bench_fill_agent(char *out, size_t len)
{
    static const char agent[] =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/124.0.0.0 Safari/537.36 ";

    for (size_t i = 0; i < len; i++) {
        out[i] = agent[i % (sizeof(agent) - 1)];
    }
}

/*
 * One Segment track event of exactly value_bytes for user u: the user
 * agent string stretches or shrinks to fit.
 */
static int bench_make_event(char *out, uint32_t value_bytes, uint32_t u,
                            uint64_t *rng)
{
    static const char tail[] = "\"}}";
    char head[512];
    uint64_t r = bench_rand(rng);
    int n;

    n = snprintf(head, sizeof(head),
                 "{\"type\":\"track\",\"event\":\"Order Completed\","
                 "\"userId\":\"user-%08" PRIu32 "\",\"messageId\":\"%016" PRIx64
                 "\",\"timestamp\":\"2024-06-01T12:%02u:%02u.%03uZ\","
                 "\"properties\":{\"orderId\":\"ord-%06u\",\"revenue\":"
                 "%u.%02u,\"currency\":\"EUR\"},\"context\":{\"ip\":"
                 "\"10.%u.%u.%u\",\"library\":{\"name\":\"analytics.js\","
                 "\"version\":\"4.1.0\"},\"userAgent\":\"",
                 u, r, (unsigned)(r % 60), (unsigned)(r >> 8) % 60,
                 (unsigned)(r >> 16) % 1000, (unsigned)(r >> 24) % 1000000,
                 (unsigned)(r >> 44) % 500, (unsigned)(r >> 52) % 100,
                 (unsigned)(r >> 32) % 256, (unsigned)(r >> 40) % 256,
                 (unsigned)(r >> 48) % 256);
    if (n < 0 || (size_t)n + sizeof(tail) - 1 >= value_bytes) {
        fprintf(stderr,
                "log_bench: --value-bytes %u is too small for an event "
                "(at least %zu)\n",
                value_bytes, (size_t)n + sizeof(tail));
        return TW_EINVAL;
    }
    memcpy(out, head, (size_t)n);
    bench_fill_agent(out + n, value_bytes - (size_t)n - (sizeof(tail) - 1));
    memcpy(out + value_bytes - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    return 0;
}

/* Prepares the events; the caller owns data->values (free it). */
static int bench_data_init(struct bench_data *data, uint32_t value_bytes)
{
    uint64_t rng = 0x9E3779B97F4A7C15ULL;

    data->value_bytes = value_bytes;
    data->values = malloc((size_t)BENCH_USERS * value_bytes);
    if (data->values == NULL) {
        fprintf(stderr, "log_bench: no memory for the events\n");
        return TW_ENOMEM;
    }
    for (uint32_t u = 0; u < BENCH_USERS; u++) {
        snprintf(data->keys[u], sizeof(data->keys[u]), "user-%08" PRIu32, u);
        if (bench_make_event(data->values + (size_t)u * value_bytes,
                             value_bytes, u, &rng) < 0) {
            free(data->values);
            return TW_EINVAL;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ samples -- */

static int bench_samples_init(struct bench_samples *s, uint64_t seed)
{
    s->ns = malloc(BENCH_SAMPLES * sizeof(*s->ns));
    s->kept = 0;
    s->seen = 0;
    s->rng = seed | 1;
    return s->ns == NULL ? TW_ENOMEM : 0;
}

/* Keeps a uniform sample of everything seen (Algorithm R). */
static void bench_samples_add(struct bench_samples *s, uint64_t ns)
{
    s->seen++;
    if (s->kept < BENCH_SAMPLES) {
        s->ns[s->kept++] = ns;
        return;
    }
    uint64_t j = bench_rand(&s->rng) % s->seen;
    if (j < BENCH_SAMPLES) {
        s->ns[j] = ns;
    }
}

static int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted[0..n), in ms. */
static double bench_percentile_ms(const uint64_t *sorted, size_t n, double pct)
{
    size_t rank;

    if (n == 0) {
        return 0;
    }
    rank = (size_t)((pct / 100.0) * (double)n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return (double)sorted[rank - 1] / 1e6;
}

static double bench_median(const double *values, size_t n)
{
    double sorted[BENCH_MAX_REPEAT];

    if (n == 0) {
        return 0;
    }
    memcpy(sorted, values, n * sizeof(*values));
    qsort(sorted, n, sizeof(*sorted), bench_cmp_double);
    if (n % 2 == 1) {
        return sorted[n / 2];
    }
    return (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/* ----------------------------------------------------------- producer -- */

static void bench_append_cb(void *ctx, int status, uint64_t first_offset,
                            uint32_t count, const char *message)
{
    struct bench_slot *slot = ctx;
    struct bench_producer *pr = slot->owner;
    uint64_t now = tw_monotonic_ns();

    (void)first_offset;
    pthread_mutex_lock(&pr->lock);
    if (status == 0) {
        bench_samples_add(&pr->samples, now - slot->start_ns);
        pr->done_records += count;
        pr->done_batches++;
    } else {
        if (pr->failures == 0) {
            snprintf(pr->failure, sizeof(pr->failure), "%s",
                     message != NULL ? message : tw_err_name(status));
        }
        pr->failures++;
    }
    pr->last_done_ns = now;
    pr->free_slots[pr->free_count++] = (uint32_t)(slot - pr->slots);
    pthread_cond_signal(&pr->freed);
    pthread_mutex_unlock(&pr->lock);
}

/* Waits for a free slot and takes it. */
static struct bench_slot *bench_take_slot(struct bench_producer *pr)
{
    struct bench_slot *slot;

    pthread_mutex_lock(&pr->lock);
    while (pr->free_count == 0) {
        pthread_cond_wait(&pr->freed, &pr->lock);
    }
    slot = &pr->slots[pr->free_slots[--pr->free_count]];
    pthread_mutex_unlock(&pr->lock);
    return slot;
}

static void bench_give_back(struct bench_producer *pr, struct bench_slot *slot)
{
    pthread_mutex_lock(&pr->lock);
    pr->free_slots[pr->free_count++] = (uint32_t)(slot - pr->slots);
    pthread_mutex_unlock(&pr->lock);
}

/* Waits until every batch of this producer has completed. */
static void bench_drain(struct bench_producer *pr)
{
    pthread_mutex_lock(&pr->lock);
    while (pr->free_count < pr->run->opts->inflight) {
        pthread_cond_wait(&pr->freed, &pr->lock);
    }
    pthread_mutex_unlock(&pr->lock);
}

/* Waits for one completion when there is one to wait for. */
static void bench_wait_one(struct bench_producer *pr)
{
    pthread_mutex_lock(&pr->lock);
    uint32_t before = pr->free_count;
    if (before < pr->run->opts->inflight) {
        while (pr->free_count == before) {
            pthread_cond_wait(&pr->freed, &pr->lock);
        }
    }
    pthread_mutex_unlock(&pr->lock);
}

/*
 * How many records the next batch may have: 0 when the run is over.
 * Time-bound runs check the clock once per batch.
 */
static uint32_t bench_next_count(struct bench_run *run)
{
    const struct bench_opts *o = run->opts;
    uint64_t from;

    if (o->records == 0) {
        return tw_monotonic_ns() < run->deadline_ns ? o->batch : 0;
    }
    from = atomic_fetch_add(&run->claimed, o->batch);
    if (from >= o->records) {
        return 0;
    }
    return (uint32_t)(o->records - from < o->batch ? o->records - from
                                                   : o->batch);
}

/*
 * Points the records at users of one partition: user u lives in
 * partition u % partitions, the way the collector partitions by userId.
 */
static void bench_fill_batch(struct bench_producer *pr, uint32_t partition,
                             uint32_t count)
{
    const struct bench_data *d = pr->run->data;
    uint32_t parts = pr->run->opts->partitions;
    uint32_t per_part = BENCH_USERS / parts;
    int64_t now_ms = tw_now_ms();

    for (uint32_t i = 0; i < count; i++) {
        uint32_t u = partition;

        if (per_part > 0) {
            u += (uint32_t)(bench_rand(&pr->rng) % per_part) * parts;
        }
        u %= BENCH_USERS;
        pr->records[i] = (struct log_record){
            .timestamp_ms = now_ms,
            .key = d->keys[u],
            .key_len = BENCH_KEY_LEN,
            .value = d->values + (size_t)u * d->value_bytes,
            .value_len = d->value_bytes,
        };
    }
}

/* Appends one batch; 1 when queued, 0 to retry later, or an error. */
static int bench_append_one(struct bench_producer *pr, uint32_t partition,
                            uint32_t count)
{
    struct bench_slot *slot = bench_take_slot(pr);
    int rc;

    bench_fill_batch(pr, partition, count);
    slot->start_ns = tw_monotonic_ns();
    rc = log_append(pr->run->log, partition, pr->records, count,
                    bench_append_cb, slot);
    if (rc == 0) {
        return 1;
    }
    bench_give_back(pr, slot);
    if (rc == TW_EFULL) {
        pr->rejected_full++;
        bench_wait_one(pr);
        return 0;
    }
    snprintf(pr->error_text, sizeof(pr->error_text), "%s", tw_err_message());
    return rc;
}

static void *bench_producer_main(void *arg)
{
    struct bench_producer *pr = arg;
    struct bench_run *run = pr->run;
    uint32_t partition = pr->id % run->opts->partitions;
    uint32_t count = 0;

    pthread_mutex_lock(&run->gate_lock);
    while (!run->go) {
        pthread_cond_wait(&run->gate, &run->gate_lock);
    }
    pthread_mutex_unlock(&run->gate_lock);
    for (;;) {
        if (count == 0) {
            count = bench_next_count(run);
            if (count == 0) {
                break;
            }
        }
        int rc = bench_append_one(pr, partition, count);
        if (rc < 0) {
            pr->error = rc;
            break;
        }
        if (rc == 1) {
            count = 0;
            partition = (partition + 1) % run->opts->partitions;
        }
    }
    bench_drain(pr);
    return NULL;
}

static void bench_producer_free(struct bench_producer *pr)
{
    free(pr->records);
    free(pr->slots);
    free(pr->free_slots);
    free(pr->samples.ns);
    pthread_mutex_destroy(&pr->lock);
    pthread_cond_destroy(&pr->freed);
}

static int bench_producer_init(struct bench_producer *pr, struct bench_run *run,
                               uint32_t id)
{
    const struct bench_opts *o = run->opts;

    memset(pr, 0, sizeof(*pr));
    pr->run = run;
    pr->id = id;
    pr->rng = 0x243F6A8885A308D3ULL + id * 0x9E3779B97F4A7C15ULL;
    pthread_mutex_init(&pr->lock, NULL);
    pthread_cond_init(&pr->freed, NULL);
    pr->records = calloc(o->batch, sizeof(*pr->records));
    pr->slots = calloc(o->inflight, sizeof(*pr->slots));
    pr->free_slots = calloc(o->inflight, sizeof(*pr->free_slots));
    if (bench_samples_init(&pr->samples, pr->rng) < 0 || pr->records == NULL ||
        pr->slots == NULL || pr->free_slots == NULL) {
        bench_producer_free(pr);
        fprintf(stderr, "log_bench: no memory for a producer\n");
        return TW_ENOMEM;
    }
    for (uint32_t i = 0; i < o->inflight; i++) {
        pr->slots[i].owner = pr;
        pr->free_slots[i] = o->inflight - 1 - i;
    }
    pr->free_count = o->inflight;
    return 0;
}

/* ---------------------------------------------------------------- run -- */

static int bench_remove_entry(const char *path, const struct stat *st, int type,
                              struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes path and everything under it; a missing path is fine. */
static int bench_remove_tree(const char *path)
{
    if (nftw(path, bench_remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 &&
        errno != ENOENT) {
        fprintf(stderr, "log_bench: cannot remove %s: %s\n", path,
                strerror(errno));
        return TW_EIO;
    }
    return 0;
}

/*
 * Flushes the filesystem, so that no run pays for the write-back of the
 * one before it.
 */
static void bench_settle(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
}

static int bench_open_log(const struct bench_opts *o, const char *path,
                          enum log_durability policy, struct log **out)
{
    struct log_options lo;

    if (bench_remove_tree(path) < 0) {
        return TW_EIO;
    }
    log_options_init(&lo, path);
    lo.partitions = o->partitions;
    lo.create = true;
    lo.durability = policy;
    if (log_embedded_open(&lo, out, NULL) < 0) {
        fprintf(stderr, "log_bench: cannot open a log at %s: %s\n", path,
                tw_err_message());
        return TW_EIO;
    }
    return 0;
}

/* Starts the producers, lets them run, waits for every completion. */
static int bench_produce(struct bench_run *run)
{
    uint32_t started = 0;
    int rc = 0;

    for (; started < run->threads; started++) {
        struct bench_producer *pr = &run->producers[started];

        if (bench_producer_init(pr, run, started) < 0) {
            rc = TW_ENOMEM;
            break;
        }
        if (pthread_create(&pr->thread, NULL, bench_producer_main, pr) != 0) {
            bench_producer_free(pr);
            fprintf(stderr, "log_bench: cannot start a producer thread\n");
            rc = TW_EINVAL;
            break;
        }
    }

    pthread_mutex_lock(&run->gate_lock);
    run->start_ns = tw_monotonic_ns();
    run->deadline_ns = run->start_ns + (uint64_t)(run->opts->seconds * 1e9);
    if (rc < 0) {
        /* The producers already started stop at once. */
        run->deadline_ns = 0;
        atomic_store(&run->claimed, UINT64_MAX / 2);
    }
    run->go = true;
    pthread_cond_broadcast(&run->gate);
    pthread_mutex_unlock(&run->gate_lock);

    for (uint32_t i = 0; i < started; i++) {
        pthread_join(run->producers[i].thread, NULL);
    }
    run->threads = started;
    return rc;
}

/* Adds up the producers into r; returns an error if any append failed. */
static int bench_collect(struct bench_run *run, struct bench_result *r)
{
    uint64_t end_ns = run->start_ns;
    uint64_t *all = malloc((size_t)run->threads * BENCH_SAMPLES * sizeof(*all));
    size_t n = 0;
    int rc = all == NULL ? TW_ENOMEM : 0;

    for (uint32_t i = 0; i < run->threads; i++) {
        struct bench_producer *pr = &run->producers[i];

        r->records += pr->done_records;
        r->batches += pr->done_batches;
        r->rejected_full += pr->rejected_full;
        r->samples_seen += pr->samples.seen;
        if (pr->last_done_ns > end_ns) {
            end_ns = pr->last_done_ns;
        }
        if (all != NULL) {
            memcpy(all + n, pr->samples.ns, pr->samples.kept * sizeof(*all));
            n += pr->samples.kept;
        }
        if (pr->error < 0 && rc == 0) {
            fprintf(stderr, "log_bench: log_append failed: %s\n",
                    pr->error_text);
            rc = pr->error;
        }
        if (pr->failures > 0 && rc == 0) {
            fprintf(stderr, "log_bench: %" PRIu64 " appends failed: %s\n",
                    pr->failures, pr->failure);
            rc = TW_EIO;
        }
    }
    r->samples_kept = n;
    if (all != NULL) {
        qsort(all, n, sizeof(*all), bench_cmp_u64);
        r->p50_ms = bench_percentile_ms(all, n, 50);
        r->p99_ms = bench_percentile_ms(all, n, 99);
        free(all);
    }
    r->seconds = bench_seconds_since(run->start_ns, end_ns);
    return rc;
}

static void bench_derive(const struct bench_opts *o, struct bench_result *r)
{
    double s = r->seconds > 0 ? r->seconds : 1e-9;

    r->records_per_s = (double)r->records / s;
    r->payload_mb_per_s = (double)r->records * o->value_bytes / s / 1e6;
    r->written_mb_per_s = (double)r->stats.bytes_written / s / 1e6;
    r->batches_per_group =
        r->stats.write_groups > 0
            ? (double)r->stats.appends / (double)r->stats.write_groups
            : 0;
    r->sync_busy = (double)r->stats.sync_ns_total / 1e9 / s;
    r->sync_avg_ms = r->stats.syncs > 0 ? (double)r->stats.sync_ns_total / 1e6 /
                                              (double)r->stats.syncs
                                        : 0;
}

/*
 * One run of one configuration on a fresh log at path. With keep, the log
 * stays open in *kept for reading back; otherwise it is closed.
 */
static int bench_run_once(const struct bench_opts *o,
                          const struct bench_data *data, const char *path,
                          enum log_durability policy, uint32_t threads,
                          struct bench_result *r, struct log **kept)
{
    struct bench_run *run = calloc(1, sizeof(*run));
    int rc;

    memset(r, 0, sizeof(*r));
    if (run == NULL) {
        return TW_ENOMEM;
    }
    run->opts = o;
    run->data = data;
    run->threads = threads;
    pthread_mutex_init(&run->gate_lock, NULL);
    pthread_cond_init(&run->gate, NULL);
    rc = bench_open_log(o, path, policy, &run->log);
    if (rc == 0) {
        rc = bench_produce(run);
        int crc = bench_collect(run, r);
        rc = rc < 0 ? rc : crc;
        log_stats(run->log, &r->stats);
        bench_derive(o, r);
        for (uint32_t i = 0; i < run->threads; i++) {
            bench_producer_free(&run->producers[i]);
        }
        if (kept != NULL && rc == 0) {
            *kept = run->log;
        } else {
            log_close(run->log);
        }
    }
    pthread_mutex_destroy(&run->gate_lock);
    pthread_cond_destroy(&run->gate);
    free(run);
    return rc;
}

/* ---------------------------------------------------- raw and reading -- */

/*
 * Writes bytes to a fresh file at path in 1 MiB pwrites, each followed by
 * fdatasync, and returns the MB/s in *mb_per_s.
 */
static int bench_raw(const char *path, uint64_t bytes, double *mb_per_s)
{
    uint8_t *chunk = malloc(BENCH_RAW_CHUNK);
    uint64_t done = 0;
    uint64_t start;
    int fd;

    if (chunk == NULL) {
        return TW_ENOMEM;
    }
    for (uint32_t i = 0; i < BENCH_RAW_CHUNK; i++) {
        chunk[i] = (uint8_t)(i * 131 + (i >> 9));
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "log_bench: cannot create %s: %s\n", path,
                strerror(errno));
        free(chunk);
        return TW_EIO;
    }
    start = tw_monotonic_ns();
    while (done < bytes) {
        size_t len = bytes - done < BENCH_RAW_CHUNK ? (size_t)(bytes - done)
                                                    : BENCH_RAW_CHUNK;
        ssize_t w = pwrite(fd, chunk, len, (off_t)done);

        if (w <= 0 || fdatasync(fd) < 0) {
            fprintf(stderr, "log_bench: cannot write %s: %s\n", path,
                    strerror(errno));
            break;
        }
        done += (uint64_t)w;
    }
    *mb_per_s =
        (double)done / 1e6 / bench_seconds_since(start, tw_monotonic_ns());
    close(fd);
    unlink(path);
    free(chunk);
    return done < bytes ? TW_EIO : 0;
}

/* Reads partition p from its start to its end; counts records and bytes. */
static int bench_read_partition(struct log *log, uint32_t p, uint64_t *records,
                                uint64_t *bytes)
{
    struct log_partition_info info;
    struct log_reader *reader;
    struct log_record rec;
    int rc;

    if (log_partition_info(log, p, &info) < 0 ||
        log_reader_open(log, p, info.start_offset, &reader) < 0) {
        fprintf(stderr, "log_bench: cannot read partition %u: %s\n", p,
                tw_err_message());
        return TW_EIO;
    }
    while ((rc = log_reader_next(reader, &rec)) == 1) {
        (*records)++;
        *bytes += rec.key_len + rec.value_len;
    }
    log_reader_close(reader);
    if (rc < 0) {
        fprintf(stderr, "log_bench: reading partition %u failed: %s\n", p,
                tw_err_message());
        return rc;
    }
    return 0;
}

/*
 * Reads every partition of log from start to end, one after the other,
 * and checks that it found `expected` records.
 */
static int bench_read_back(struct log *log, uint64_t expected,
                           double *records_per_s)
{
    uint64_t records = 0;
    uint64_t bytes = 0;
    uint64_t start = tw_monotonic_ns();

    for (uint32_t p = 0; p < log_partitions(log); p++) {
        int rc = bench_read_partition(log, p, &records, &bytes);

        if (rc < 0) {
            return rc;
        }
    }
    *records_per_s =
        (double)records / bench_seconds_since(start, tw_monotonic_ns());
    if (records != expected) {
        fprintf(stderr,
                "log_bench: read back %" PRIu64 " records, appended %" PRIu64
                "\n",
                records, expected);
        return TW_ECORRUPT;
    }
    return 0;
}

/* ------------------------------------------------------------ report -- */

static const char *bench_fs_name(long type)
{
    switch ((unsigned long)type) {
    case EXT4_SUPER_MAGIC:
        return "ext2/3/4";
    case TMPFS_MAGIC:
        return "tmpfs";
    case XFS_SUPER_MAGIC:
        return "xfs";
    case BTRFS_SUPER_MAGIC:
        return "btrfs";
    case OVERLAYFS_SUPER_MAGIC:
        return "overlayfs";
    case NFS_SUPER_MAGIC:
        return "nfs";
    default:
        return "other";
    }
}

/* Prints where the benchmark runs; returns an error if dir is unusable. */
static int bench_print_machine(const char *dir)
{
    struct statfs fs;
    struct utsname un;

    if (statfs(dir, &fs) < 0) {
        fprintf(stderr, "log_bench: cannot inspect %s: %s\n", dir,
                strerror(errno));
        return TW_EIO;
    }
    uname(&un);
    printf("machine: %ld cpus, %s %s %s\n", sysconf(_SC_NPROCESSORS_ONLN),
           un.sysname, un.release, un.machine);
    printf("data dir: %s on %s (f_type 0x%lx), %.1f GB free\n", dir,
           bench_fs_name(fs.f_type), (unsigned long)fs.f_type,
           (double)fs.f_bavail * (double)fs.f_bsize / 1e9);
    if ((unsigned long)fs.f_type == TMPFS_MAGIC) {
        printf("WARNING: %s is tmpfs: fdatasync costs nothing there, so "
               "these figures say nothing about a disk\n",
               dir);
    }
    return 0;
}

/* Prints how busy the machine is: figures from a shared one need it. */
static void bench_print_load(const char *when)
{
    char load[128] = "?";
    char cpu[128] = "?";
    char io[128] = "?";
    FILE *f;

    if ((f = fopen("/proc/loadavg", "r")) != NULL) {
        if (fgets(load, sizeof(load), f) != NULL) {
            load[strcspn(load, "\n")] = '\0';
        }
        fclose(f);
    }
    if ((f = fopen("/proc/pressure/cpu", "r")) != NULL) {
        if (fgets(cpu, sizeof(cpu), f) != NULL) {
            cpu[strcspn(cpu, "\n")] = '\0';
        }
        fclose(f);
    }
    if ((f = fopen("/proc/pressure/io", "r")) != NULL) {
        if (fgets(io, sizeof(io), f) != NULL) {
            io[strcspn(io, "\n")] = '\0';
        }
        fclose(f);
    }
    printf("load %s: loadavg %s; cpu pressure %s; io pressure %s\n", when, load,
           cpu, io);
}

static void bench_print_command(int argc, char **argv)
{
    printf("command:");
    for (int i = 0; i < argc; i++) {
        printf(" %s", argv[i]);
    }
    printf("\n");
}

static void bench_print_settings(const struct bench_opts *o)
{
    printf("settings: %u-byte payloads + %u-byte userId keys, batch %u "
           "records, inflight %u batches/thread, %u partitions, ",
           o->value_bytes, BENCH_KEY_LEN, o->batch, o->inflight, o->partitions);
    if (o->records > 0) {
        printf("%" PRIu64 " records per run", o->records);
    } else {
        printf("%.1f s per run", o->seconds);
    }
    printf(", repeat %u\n", o->repeat);
}

static void bench_print_run(enum log_durability policy, uint32_t threads,
                            uint32_t rep, const struct bench_result *r)
{
    printf("run %-5s threads=%u rep=%u: %.0f rec/s, %.1f MB/s payload, "
           "%.1f MB/s written, durable p50 %.2f ms p99 %.2f ms "
           "(%" PRIu64 " of %" PRIu64 " samples), %" PRIu64 " groups "
           "(%.1f batches/group), %" PRIu64 " syncs (%.2f ms each, "
           "adding up to %.0f%% of the run), %.2f s\n",
           log_durability_name(policy), threads, rep, r->records_per_s,
           r->payload_mb_per_s, r->written_mb_per_s, r->p50_ms, r->p99_ms,
           r->samples_kept, r->samples_seen, r->stats.write_groups,
           r->batches_per_group, r->stats.syncs, r->sync_avg_ms,
           r->sync_busy * 100, r->seconds);
    if (r->rejected_full > 0) {
        printf("    %" PRIu64 " appends refused as full and retried\n",
               r->rejected_full);
    }
}

static void bench_summarize(const struct bench_result *runs, uint32_t n,
                            struct bench_summary *s)
{
    double v[9][BENCH_MAX_REPEAT];

    for (uint32_t i = 0; i < n; i++) {
        const struct bench_result *r = &runs[i];

        v[0][i] = r->records_per_s;
        v[1][i] = r->payload_mb_per_s;
        v[2][i] = r->written_mb_per_s;
        v[3][i] = r->p50_ms;
        v[4][i] = r->p99_ms;
        v[5][i] = r->batches_per_group;
        v[6][i] = (double)r->stats.syncs / (r->seconds > 0 ? r->seconds : 1);
        v[7][i] = r->sync_busy;
        v[8][i] = r->sync_avg_ms;
    }
    s->records_per_s = bench_median(v[0], n);
    s->payload_mb_per_s = bench_median(v[1], n);
    s->written_mb_per_s = bench_median(v[2], n);
    s->p50_ms = bench_median(v[3], n);
    s->p99_ms = bench_median(v[4], n);
    s->batches_per_group = bench_median(v[5], n);
    s->syncs_per_s = bench_median(v[6], n);
    s->sync_busy = bench_median(v[7], n);
    s->sync_avg_ms = bench_median(v[8], n);
}

static void bench_print_table(const struct bench_summary *rows, uint32_t n,
                              double raw_mb_per_s)
{
    static const char *const head[2][12] = {
        {"policy", "threads", "records/s", "payload", "written", "ratio",
         "p50 ms", "p99 ms", "batches", "syncs", "ms per", "sync"},
        {"", "", "", "MB/s", "MB/s", "to raw", "durable", "durable", "/group",
         "/s", "sync", "% run"},
    };

    printf("\nmedians of the runs. ratio: written MB/s over the raw "
           "reference's median MB/s;\nsync %% run: time in fdatasync "
           "added up over all syncs, over the run's time\n(above 100 "
           "when syncs overlap)\n");
    for (int i = 0; i < 2; i++) {
        printf("%-6s %7s %10s %8s %8s %6s %7s %7s %7s %6s %6s %7s\n",
               head[i][0], head[i][1], head[i][2], head[i][3], head[i][4],
               head[i][5], head[i][6], head[i][7], head[i][8], head[i][9],
               head[i][10], head[i][11]);
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct bench_summary *s = &rows[i];

        printf("%-6s %7u %10.0f %8.1f %8.1f %6.2f %7.2f %7.2f %7.1f %6.0f "
               "%6.2f %7.0f\n",
               log_durability_name(s->policy), s->threads, s->records_per_s,
               s->payload_mb_per_s, s->written_mb_per_s,
               raw_mb_per_s > 0 ? s->written_mb_per_s / raw_mb_per_s : 0,
               s->p50_ms, s->p99_ms, s->batches_per_group, s->syncs_per_s,
               s->sync_avg_ms, s->sync_busy * 100);
    }
}

/* ------------------------------------------------------------- driver -- */

/* Everything one invocation measures. */
struct bench_all {
    struct bench_result runs[BENCH_MAX_POLICIES][BENCH_MAX_THREADS]
                            [BENCH_MAX_REPEAT];
    double raw_mb_per_s[BENCH_MAX_REPEAT];
    double read_per_s[BENCH_MAX_REPEAT];
    double pair_ratio[BENCH_MAX_REPEAT];
    uint32_t raw_count;
    int head_policy; /* index of the headline configuration, or -1 */
    int head_threads;
};

/* The headline: fsync with the most threads (else the first policy). */
static void bench_pick_headline(const struct bench_opts *o,
                                struct bench_all *all)
{
    all->head_policy = 0;
    for (uint32_t p = 0; p < o->policy_count; p++) {
        if (o->policies[p] == LOG_DURABILITY_FSYNC) {
            all->head_policy = (int)p;
        }
    }
    all->head_threads = 0;
    for (uint32_t t = 0; t < o->thread_count; t++) {
        if (o->threads[t] > o->threads[all->head_threads]) {
            all->head_threads = (int)t;
        }
    }
}

/* The raw reference and the read-back that follow a headline run. */
static int bench_headline_extras(const struct bench_opts *o,
                                 struct bench_all *all, struct log *log,
                                 const struct bench_result *r, uint32_t rep)
{
    char raw_path[PATH_MAX];
    double raw;
    double read;
    int rc;

    rc = bench_read_back(log, r->records, &read);
    log_close(log);
    if (rc < 0) {
        return rc;
    }
    snprintf(raw_path, sizeof(raw_path), "%s/raw.dat", o->dir);
    rc = bench_raw(raw_path, r->stats.bytes_written, &raw);
    if (rc < 0) {
        return rc;
    }
    all->read_per_s[rep] = read;
    all->raw_mb_per_s[rep] = raw;
    all->pair_ratio[rep] = r->written_mb_per_s / raw;
    all->raw_count = rep + 1;
    printf("    read back %" PRIu64 " records (page cache warm): %.0f "
           "rec/s\n",
           r->records, read);
    printf("    raw %.1f MB in 1 MiB pwrite+fdatasync: %.1f MB/s; "
           "log/raw %.2f\n",
           (double)r->stats.bytes_written / 1e6, raw, all->pair_ratio[rep]);
    return 0;
}

static int bench_one_config(const struct bench_opts *o,
                            const struct bench_data *data,
                            struct bench_all *all, uint32_t p, uint32_t t,
                            uint32_t rep)
{
    bool headline = (int)p == all->head_policy && (int)t == all->head_threads;
    struct bench_result *r = &all->runs[p][t][rep];
    struct log *kept = NULL;
    char path[PATH_MAX];
    int rc;

    snprintf(path, sizeof(path), "%s/log-%s-t%u", o->dir,
             log_durability_name(o->policies[p]), o->threads[t]);
    bench_settle(o->dir);
    rc = bench_run_once(o, data, path, o->policies[p], o->threads[t], r,
                        headline ? &kept : NULL);
    if (rc == 0) {
        bench_print_run(o->policies[p], o->threads[t], rep + 1, r);
    }
    if (rc == 0 && headline) {
        rc = bench_headline_extras(o, all, kept, r, rep);
    }
    fflush(stdout);
    if (bench_remove_tree(path) < 0 && rc == 0) {
        rc = TW_EIO;
    }
    return rc;
}

static int bench_all_runs(const struct bench_opts *o,
                          const struct bench_data *data, struct bench_all *all)
{
    /* Repetitions interleave, so a noisy minute touches every row alike. */
    for (uint32_t rep = 0; rep < o->repeat; rep++) {
        for (uint32_t p = 0; p < o->policy_count; p++) {
            for (uint32_t t = 0; t < o->thread_count; t++) {
                int rc = bench_one_config(o, data, all, p, t, rep);

                if (rc < 0) {
                    return rc;
                }
            }
        }
    }
    return 0;
}

static void bench_report(const struct bench_opts *o,
                         const struct bench_all *all)
{
    struct bench_summary rows[BENCH_MAX_POLICIES * BENCH_MAX_THREADS];
    struct bench_summary *head = NULL;
    double raw = bench_median(all->raw_mb_per_s, all->raw_count);
    double read = bench_median(all->read_per_s, all->raw_count);
    double pair = bench_median(all->pair_ratio, all->raw_count);
    uint32_t n = 0;

    for (uint32_t p = 0; p < o->policy_count; p++) {
        for (uint32_t t = 0; t < o->thread_count; t++) {
            rows[n].policy = o->policies[p];
            rows[n].threads = o->threads[t];
            bench_summarize(all->runs[p][t], o->repeat, &rows[n]);
            if ((int)p == all->head_policy && (int)t == all->head_threads) {
                head = &rows[n];
            }
            n++;
        }
    }
    bench_print_table(rows, n, raw);
    printf("\nraw reference (1 MiB pwrite + fdatasync, same bytes): "
           "%.1f MB/s median\n",
           raw);
    printf("%s, %u threads: ratio to raw %.2f (medians), %.2f (median of "
           "paired runs)\n",
           log_durability_name(head->policy), head->threads,
           raw > 0 ? head->written_mb_per_s / raw : 0, pair);
    printf("read back %s, %u threads' log, page cache warm, one reader per "
           "partition in turn: %.0f records/s median\n",
           log_durability_name(head->policy), head->threads, read);
    printf("{\"bench\":\"log\",\"records_per_s\":%.0f,\"mb_per_s\":%.1f,"
           "\"raw_mb_per_s\":%.1f,\"ratio_to_raw\":%.3f,"
           "\"p99_durable_ms\":%.2f,\"read_records_per_s\":%.0f}\n",
           head->records_per_s, head->payload_mb_per_s, raw,
           raw > 0 ? head->written_mb_per_s / raw : 0, head->p99_ms, read);
}

static int bench_make_dir(const char *dir)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s", dir);
    for (char *s = path + 1; *s != '\0'; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(path, 0755);
            *s = '/';
        }
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "log_bench: cannot create %s: %s\n", dir,
                strerror(errno));
        return TW_EIO;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    struct bench_data *data = NULL;
    struct bench_all *all = NULL;
    int rc = bench_parse_args(argc, argv, &o);

    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    obs_log_set_level(OBS_WARN);
    bench_print_command(argc, argv);
    if (bench_make_dir(o.dir) < 0 || bench_print_machine(o.dir) < 0) {
        return 1;
    }
    bench_print_settings(&o);
    data = calloc(1, sizeof(*data));
    all = calloc(1, sizeof(*all));
    if (data == NULL || all == NULL || bench_data_init(data, o.value_bytes)) {
        fprintf(stderr, "log_bench: cannot prepare the events\n");
        rc = 1;
        goto out;
    }
    bench_pick_headline(&o, all);
    bench_print_load("before");
    rc = bench_all_runs(&o, data, all);
    bench_print_load("after");
    if (rc == 0) {
        bench_report(&o, all);
    }
    free(data->values);
out:
    free(all);
    free(data);
    return rc == 0 ? 0 : 1;
}
