/*
 * delivery.h - what `serve` starts besides the collector: one running
 * destination per configured destination, with its sink, its dead-letter
 * log and its routes, built from the configuration.
 */
#ifndef TW_CLI_DELIVERY_H
#define TW_CLI_DELIVERY_H

#include "common/buf.h"
#include "config/config.h"
#include "log/log.h"

struct serve_delivery;

/*
 * Compiles every route filter of config, printing each mistake as
 * FILE:LINE:COL prefixed with cmd. Returns 0 or TW_EINVAL.
 */
TW_MUST_CHECK int delivery_check(const char *cmd,
                                 const struct tw_config *config);

/*
 * Builds and starts every destination of config, reading from events.
 * Prints what went wrong, prefixed with cmd. The caller owns *out.
 */
TW_MUST_CHECK int delivery_start(const char *cmd,
                                 const struct tw_config *config,
                                 struct log *events,
                                 struct serve_delivery **out);

/* Stops every destination (batches in flight finish), frees it all. */
void delivery_stop(struct serve_delivery *d);

/*
 * Pausing from outside the server: while storage.path/control/<dest>.paused
 * exists, the destination sends nothing and keeps its place. The running
 * server looks once a second; the file also holds across restarts.
 */
#define DELIVERY_CONTROL_DIR "control"
void delivery_pause_path(const struct tw_config *config, const char *dest,
                         char *out, size_t size);

/*
 * Replaying from outside the server: storage.path/control/<dest>.replay
 * holds {"from":[offset per partition], "to":[...], "rate":N,
 * "where":"filter"}, written by `trackway replay`. The server starts it
 * within a second, cancels it when the file goes, and removes the file
 * when the replay has ended.
 */
void delivery_replay_path(const struct tw_config *config, const char *dest,
                          char *out, size_t size);

/* Appends the destinations' metrics in the Prometheus text format. */
void delivery_metrics(void *ctx, struct tw_buf *out);

#endif
