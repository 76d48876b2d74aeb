/* ndjson.c - which events can be written as one NDJSON line. */
#include "sinks/ndjson.h"

#include <inttypes.h>
#include <string.h>

#include "sinks/counters.h"

bool sink_ndjson_check(const struct sink_batch *batch,
                       struct sink_result *result)
{
    for (size_t i = 0; i < batch->count; i++) {
        const struct sink_event *e = &batch->events[i];
        const char *why = NULL;

        if (e->data_len == 0) {
            why = "is empty";
        } else if (memchr(e->data, '\n', e->data_len) != NULL) {
            why = "holds a newline, so it cannot be one NDJSON line";
        }
        if (why != NULL) {
            sink_result_set(result, SINK_REJECTED,
                            "event %zu of the batch (partition %" PRIu32
                            ", offset %" PRIu64 ") %s",
                            i, e->partition, e->offset, why);
            return false;
        }
    }
    return true;
}

uint64_t sink_ndjson_size(const struct sink_batch *batch)
{
    uint64_t total = 0;

    for (size_t i = 0; i < batch->count; i++) {
        total += batch->events[i].data_len + 1;
    }
    return total;
}
