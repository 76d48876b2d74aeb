/* log.c - the log interface's entry points, the same for every backend. */
#include "log/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

uint32_t log_partitions(struct log *log)
{
    return log->ops->partitions(log);
}

int log_append(struct log *log, uint32_t partition,
               const struct log_record *records, size_t count, log_append_cb cb,
               void *ctx)
{
    return log->ops->append(log, partition, records, count, cb, ctx);
}

/* A one-shot completion that log_append_wait blocks on. */
struct append_waiter {
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    bool done;
    int status;
    uint64_t first_offset;
    char message[256];
};

static void append_waiter_cb(void *ctx, int status, uint64_t first_offset,
                             uint32_t count, const char *message)
{
    struct append_waiter *w = ctx;

    (void)count;
    pthread_mutex_lock(&w->lock);
    w->status = status;
    w->first_offset = first_offset;
    if (message != NULL) {
        strncpy(w->message, message, sizeof(w->message) - 1);
    }
    w->done = true;
    pthread_cond_signal(&w->done_cond);
    pthread_mutex_unlock(&w->lock);
}

int log_append_wait(struct log *log, uint32_t partition,
                    const struct log_record *records, size_t count,
                    uint64_t *first_offset)
{
    struct append_waiter w = {.done = false};
    int rc;

    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.done_cond, NULL);
    rc = log_append(log, partition, records, count, append_waiter_cb, &w);
    if (rc == 0) {
        pthread_mutex_lock(&w.lock);
        while (!w.done) {
            pthread_cond_wait(&w.done_cond, &w.lock);
        }
        pthread_mutex_unlock(&w.lock);
        rc = w.status;
        if (rc < 0) {
            tw_err_set(rc, "%s", w.message);
        } else if (first_offset != NULL) {
            *first_offset = w.first_offset;
        }
    }
    pthread_cond_destroy(&w.done_cond);
    pthread_mutex_destroy(&w.lock);
    return rc;
}

int log_reader_open(struct log *log, uint32_t partition, uint64_t offset,
                    struct log_reader **out)
{
    return log->ops->reader_open(log, partition, offset, out);
}

int log_reader_next(struct log_reader *reader, struct log_record *record)
{
    return reader->log->ops->reader_next(reader, record);
}

uint64_t log_reader_position(struct log_reader *reader)
{
    return reader->log->ops->reader_position(reader);
}

void log_reader_close(struct log_reader *reader)
{
    if (reader != NULL) {
        reader->log->ops->reader_close(reader);
    }
}

int log_wait(struct log *log, uint32_t partition, uint64_t offset,
             int timeout_ms)
{
    return log->ops->wait(log, partition, offset, timeout_ms);
}

int log_offset_for_time(struct log *log, uint32_t partition,
                        int64_t timestamp_ms, uint64_t *offset)
{
    return log->ops->offset_for_time(log, partition, timestamp_ms, offset);
}

int log_partition_info(struct log *log, uint32_t partition,
                       struct log_partition_info *info)
{
    return log->ops->partition_info(log, partition, info);
}

int log_cursor_commit(struct log *log, const char *name, uint32_t partition,
                      uint64_t offset)
{
    return log->ops->cursor_commit(log, name, partition, offset);
}

int log_cursor_get(struct log *log, const char *name, uint32_t partition,
                   uint64_t *offset)
{
    return log->ops->cursor_get(log, name, partition, offset);
}

int log_cursor_delete(struct log *log, const char *name)
{
    return log->ops->cursor_delete(log, name);
}

int log_cursor_hold(struct log *log, const char *name, bool hold)
{
    return log->ops->cursor_hold(log, name, hold);
}

int log_retention_run(struct log *log, struct log_retention_report *report)
{
    return log->ops->retention_run(log, report);
}

void log_stats(struct log *log, struct log_stats *stats)
{
    log->ops->stats(log, stats);
}

void log_close(struct log *log)
{
    if (log != NULL) {
        log->ops->close(log);
    }
}
