/*
 * cursor.h - named, durable consumer positions.
 *
 * Each cursor is one file, <log>/cursors/<name>.cur, of two 4096-byte
 * slots. A commit writes the whole position table into the slot that does
 * not hold the newest copy, then (under the fsync policy) fdatasyncs, so a
 * crash mid-write can tear only the slot being written and the other one
 * still holds the previous commit. On load, the valid slot with the
 * larger sequence number wins. A slot (little-endian):
 *
 *   offset size field
 *        0    4 magic       "TWCU"
 *        4    2 version     1
 *        6    2 reserved    zero
 *        8    4 partitions  the log's partition count
 *       12    4 reserved    zero
 *       16    8 seq         commit sequence number, starting at 1
 *       24 2048 offsets     256 u64: next offset per partition,
 *                           UINT64_MAX when never committed
 *     2072   24 reserved    zero
 *     2096    8 checksum    XXH3-64 of bytes [0, 2096)
 *     2104      zero up to 4096
 */
#ifndef TW_LOG_CURSOR_H
#define TW_LOG_CURSOR_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "log/log.h"

#define LOG_CURSOR_MAGIC 0x55435754u /* "TWCU" read little-endian */
#define LOG_CURSOR_VERSION 1u
#define LOG_CURSOR_SLOT_SIZE 4096u
#define LOG_CURSOR_CHECKSUM_AT 2096u
#define LOG_CURSOR_UNSET UINT64_MAX
/* Cursors a log keeps at most; each costs one file and 2 KiB of memory. */
#define LOG_MAX_CURSORS 1024

struct log_cursor {
    char name[LOG_CURSOR_NAME_MAX + 1];
    int fd;
    bool hold; /* retention keeps what it has not read; not stored */
    uint64_t seq;
    uint64_t offsets[LOG_MAX_PARTITIONS];
};

struct log_cursors {
    pthread_mutex_t lock;
    char dir[PATH_MAX];
    uint32_t partitions;
    bool sync;
    bool read_only;
    struct log_cursor **items;
    size_t count;
};

/* One decoded slot; exposed for the offline checker. */
struct log_cursor_slot {
    uint32_t partitions;
    uint64_t seq;
    uint64_t offsets[LOG_MAX_PARTITIONS];
};

/* Decodes a slot; TW_ECORRUPT or TW_EVERSION when it is not valid. */
int log_cursor_slot_decode(const uint8_t *slot, struct log_cursor_slot *out);
void log_cursor_slot_encode(uint8_t *slot, const struct log_cursor_slot *in);

/* Loads every cursor file in dir (creating dir unless read_only). */
TW_MUST_CHECK int log_cursors_open(struct log_cursors *cs, const char *dir,
                                   uint32_t partitions, bool sync,
                                   bool read_only);
void log_cursors_close(struct log_cursors *cs);

TW_MUST_CHECK int log_cursors_commit(struct log_cursors *cs, const char *name,
                                     uint32_t partition, uint64_t offset);
TW_MUST_CHECK int log_cursors_get(struct log_cursors *cs, const char *name,
                                  uint32_t partition, uint64_t *offset);
int log_cursors_delete(struct log_cursors *cs, const char *name);

/* Marks a cursor as holding retention or not; TW_ENOENT when unknown. */
int log_cursors_hold(struct log_cursors *cs, const char *name, bool hold);

/*
 * The smallest committed position in partition over the cursors that
 * hold retention (over every cursor when every is true), or
 * LOG_CURSOR_UNSET when none has one. When slowest is not NULL it
 * receives that cursor's name (LOG_CURSOR_NAME_MAX + 1 bytes).
 */
uint64_t log_cursors_min(struct log_cursors *cs, uint32_t partition, bool every,
                         char *slowest);

/*
 * Moves every cursor that points past end in partition back to end and
 * commits it; returns how many moved.
 */
uint32_t log_cursors_clamp(struct log_cursors *cs, uint32_t partition,
                           uint64_t end);

#endif
