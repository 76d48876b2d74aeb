/*
 * dest_status.h - what a running destination is doing, written by `trackway
 * serve` to storage.path/control/<dest>.status once a second and read by
 * `trackway trace`: per partition, the cursor, the batch in hand (being
 * sent, or failed and waiting for its retry, with the last error) and the
 * latest commits with their times.
 *
 * The file is advisory: it is replaced whole (write, then rename) and not
 * synced, and a reader checks its age. The cursors in the events log stay
 * the truth about what was delivered.
 */
#ifndef TW_CLI_DEST_STATUS_H
#define TW_CLI_DEST_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "deliver/deliver.h"

/* The status file of dest into out. */
void dest_status_path(const struct tw_config *config, const char *dest,
                      char *out, size_t size);

/* Replaces dest's status file with parts[0..count). */
TW_MUST_CHECK int dest_status_write(const struct tw_config *config,
                                    const char *dest,
                                    const struct deliver_part_status *parts,
                                    uint32_t count, bool paused,
                                    bool breaker_open);

/* What dest_status_read found for one partition. */
struct dest_status {
    int64_t written_ms; /* when the server wrote the file */
    bool paused;
    bool breaker_open;
    struct deliver_part_status part;
};

/*
 * Reads partition's status of dest. TW_ENOENT when the server never wrote
 * one (or not for that partition), TW_EINVAL when the file is damaged.
 */
TW_MUST_CHECK int dest_status_read(const struct tw_config *config,
                                   const char *dest, uint32_t partition,
                                   struct dest_status *out);

/*
 * The delivery times of partitions [0, count) that dest's status file
 * holds, for a server starting again: *found partitions were read (0
 * when the file has none). TW_ENOENT when there is no file.
 */
TW_MUST_CHECK int dest_status_read_marks(const struct tw_config *config,
                                         const char *dest,
                                         struct deliver_marks *marks,
                                         uint32_t count, uint32_t *found);

#endif
