/*
 * file_internal.h - the file sink's state, shared by its writer
 * (file.c) and the code that keeps its directory (file_dir.c): file
 * names, the lock, rotation and recovery.
 */
#ifndef TW_SINKS_FILE_INTERNAL_H
#define TW_SINKS_FILE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <zstd.h>

#include "common/buf.h"
#include "obs/ratelimit.h"
#include "sinks/counters.h"
#include "sinks/file.h"

/* prefix, '-', ten digits, '-', the time, the longest suffix, NUL. */
#define FILE_NAME_MAX 128

enum file_kind {
    FILE_ACTIVE = 0,
    FILE_PLAIN = 1,
    FILE_ZST = 2,
    FILE_TMP = 3,
};

/* Indexed by enum file_kind: ".ndjson.active", ".ndjson", ... */
extern const char *const file_suffixes[];

struct file_job;
struct file_item;

struct sink_file {
    struct sink base;
    char *name; /* owned; base.name points here */
    struct sink_file_options opts;
    char dir[PATH_MAX];
    char prefix[SINK_FILE_PREFIX_MAX + 1];
    int lock_fd;

    /* Sent batches waiting for the writer: a ring of max_in_flight. */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    struct file_job *queue;
    size_t queue_head;
    size_t queue_count;
    bool stopping;
    pthread_t writer;
    bool writer_running;
    struct file_item *group; /* the writer's: max_in_flight items */

    /* The files: held by the writer for a group, and by the tick. */
    pthread_mutex_t lock;
    int fd;                       /* the active file, -1 when none */
    char stem[FILE_NAME_MAX];     /* its name without ".ndjson.active" */
    uint64_t size;                /* its bytes of whole lines */
    int64_t created_ms;           /* when its first line was written */
    bool undo_pending;            /* bytes past size may still be there */
    uint64_t next_seq;            /* for the next file */
    int64_t rotate_not_before_ms; /* after a failed rotation */
    struct tw_buf text;           /* the NDJSON of the batch being sent */
    ZSTD_CCtx *zstd;              /* NULL unless compressing */
    void *zstd_in;
    size_t zstd_in_size;
    void *zstd_out;
    size_t zstd_out_size;

    struct sink_counters counters;
    _Atomic uint64_t rotations;
    _Atomic uint64_t rotation_failures;
    _Atomic uint64_t write_failures;
    _Atomic uint64_t undo_failures;
    _Atomic uint64_t active_bytes;
    _Atomic uint64_t syncs;
    _Atomic uint64_t batches_synced;
    struct sink_file_recovery recovery; /* written only while opening */
    struct obs_ratelimit warn_write;
    struct obs_ratelimit warn_rotate;
};

/* <dir>/<stem><the kind's suffix> into path (PATH_MAX bytes). */
static inline void file_path(const struct sink_file *fs, const char *stem,
                             enum file_kind kind, char *path)
{
    snprintf(path, PATH_MAX, "%s/%s%s", fs->dir, stem, file_suffixes[kind]);
}

/* A warning about the sink, at most one per rl's interval (file.c). */
void file_warn(struct sink_file *fs, struct obs_ratelimit *rl, const char *msg,
               const char *error);

/* From file_dir.c. */

/* The name, without suffix, of file seq started at created_ms. */
void file_make_stem(const struct sink_file *fs, uint64_t seq,
                    int64_t created_ms, char *stem);

/* Whether prefix may name files: up to SINK_FILE_PREFIX_MAX of letters,
 * digits, ".", "_" and "-", not starting with ".". */
bool file_prefix_ok(const char *prefix);

/* Like mkdir -p, syncing the parent of every directory it makes. */
int file_mkdirs(const char *dir);

/* Takes <dir>/<prefix>.lock for the sink; TW_EBUSY when it is held. */
int file_take_lock(struct sink_file *fs);

/*
 * Whether the active file is to be rotated before a batch of incoming
 * bytes is written (or, with 0, at a tick).
 */
bool file_rotation_due(const struct sink_file *fs, int64_t now,
                       uint64_t incoming);

/* Rotates the active file; when that fails it stays active, unchanged. */
int file_rotate_active(struct sink_file *fs, int64_t now);

/* Applies the recovery rules of file_dir.c to the sink's directory. */
int file_recover(struct sink_file *fs);

#endif
