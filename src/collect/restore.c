/*
 * restore.c - refilling the dedup set after a restart.
 *
 * Every record of the events log is keyed "<source>/<messageId>", so the
 * set is rebuilt from keys alone, without parsing a single event: for
 * each partition, read from the first record of the dedup window to the
 * end. A damaged place stops that partition's scan with a warning; the
 * collector still starts (dedup is a courtesy to retrying clients, not a
 * promise about stored data).
 */
#include <string.h>

#include "collect/internal.h"
#include "common/clock.h"
#include "obs/logging.h"

#define RESTORE_CHUNK 4096

static int restore_partition(struct collector *c, uint32_t p, int64_t now,
                             uint64_t *ids)
{
    uint64_t fps[RESTORE_CHUNK];
    size_t n = 0;
    struct log_reader *reader;
    struct log_record rec;
    uint64_t offset;
    int rc;

    rc = log_offset_for_time(c->events, p, now - c->config->dedup.window_ms,
                             &offset);
    if (rc == 0) {
        rc = log_reader_open(c->events, p, offset, &reader);
    }
    if (rc != 0) {
        return rc;
    }
    while ((rc = log_reader_next(reader, &rec)) == 1) {
        const char *key = rec.key;
        const char *slash = memchr(key, '/', rec.key_len);

        if (slash == NULL || slash + 1 == key + rec.key_len) {
            continue;
        }
        fps[n++] = dedup_fingerprint(key, (size_t)(slash - key), slash + 1,
                                     rec.key_len - (size_t)(slash - key) - 1);
        if (n == RESTORE_CHUNK) {
            dedup_add(c->dedup, fps, n, now);
            *ids += n;
            n = 0;
        }
    }
    dedup_add(c->dedup, fps, n, now);
    *ids += n;
    log_reader_close(reader);
    return rc < 0 ? rc : 0;
}

int collector_dedup_restore(struct collector *c, uint64_t *ids_read)
{
    int64_t now = tw_now_ms();
    uint64_t start_ns = tw_monotonic_ns();

    *ids_read = 0;
    if (c->dedup == NULL) {
        return 0;
    }
    for (uint32_t p = 0; p < c->partitions; p++) {
        if (restore_partition(c, p, now, ids_read) != 0) {
            OBS_LOG(OBS_WARN, "collect",
                    "dedup restore stopped early in a partition; resent "
                    "events from before that place may be stored twice",
                    "partition=%u error=\"%s\"", p, tw_err_message());
        }
    }
    OBS_LOG(OBS_INFO, "collect", "dedup set restored from the log",
            "ids=%llu window_ms=%lld took_ms=%llu",
            (unsigned long long)*ids_read,
            (long long)c->config->dedup.window_ms,
            (unsigned long long)((tw_monotonic_ns() - start_ns) / 1000000));
    return 0;
}
