/*
 * ndjson.h - events as NDJSON lines, for the sinks that write them (file,
 * stdout): each event's JSON text followed by one '\n'.
 *
 * An event's text must hold no '\n' of its own, or a reader would take
 * one event for two lines; events read from the log are compact JSON, in
 * which a newline can only be an escape, so such an event is refused
 * rather than rewritten.
 */
#ifndef TW_SINKS_NDJSON_H
#define TW_SINKS_NDJSON_H

#include <stdbool.h>
#include <stdint.h>

#include "sinks/sink.h"

/*
 * true when every event of batch can be written as one line. Otherwise
 * false, with result set to SINK_REJECTED naming the first event that
 * cannot (its index, partition and offset) and why: empty, or holding a
 * newline.
 */
bool sink_ndjson_check(const struct sink_batch *batch,
                       struct sink_result *result);

/* Bytes the batch takes as NDJSON: every event plus its newline. */
uint64_t sink_ndjson_size(const struct sink_batch *batch);

#endif
