/*
 * stdout.h - the stdout sink: events as NDJSON lines on a file
 * descriptor (standard output unless told otherwise), for pipelines and
 * for watching events go by.
 *
 * send() completes before it returns. A batch goes out with as few
 * writev calls as the system allows (one per 512 events), without copying
 * the events. SINK_OK means the lines were handed to the descriptor:
 * nothing here can know whether the reader kept them.
 *
 * Failures. A reader that has gone away (EPIPE), a full disk behind a
 * redirected stdout, or a non-blocking descriptor that stays full for
 * write_timeout_ms give SINK_RETRY with the error. The sink never raises
 * SIGPIPE: it blocks the signal in the sending thread while it writes and
 * takes back a SIGPIPE its own write caused, so the process's handling of
 * the signal is left as it is. A failure in the middle of a line leaves
 * half a line on the stream; the sink keeps the rest of that line and
 * writes it before anything else on the next send, so the reader never
 * sees one event run into another (a retried batch then repeats the
 * lines that had gone out: delivery is at least once).
 */
#ifndef TW_SINKS_STDOUT_H
#define TW_SINKS_STDOUT_H

#include <stdint.h>

#include "common/error.h"
#include "sinks/sink.h"

/* The longest rest of a cut line the sink keeps to complete it later;
 * beyond it the cut line is only ended with a '\n' (and counted). */
#define SINK_STDOUT_PENDING_MAX (1u << 20)

struct sink_stdout_options {
    int fd;                   /* default STDOUT_FILENO; never closed here */
    unsigned max_in_flight;   /* concurrent sends accepted; default 4 */
    int64_t write_timeout_ms; /* for a non-blocking fd; default 30 s. A
                               * blocking fd waits as long as its reader */
};

struct sink_stdout_stats {
    struct sink_stats sink; /* bytes_out: NDJSON bytes of SINK_OK batches */
    uint64_t write_failures;
    uint64_t lines_broken; /* cut lines too long to complete: ended early */
};

void sink_stdout_options_init(struct sink_stdout_options *opts);

/*
 * Makes a stdout sink writing to opts->fd. name is the destination's, for
 * logs; the sink keeps a copy. Returns 0 with the sink in *out (the
 * caller's, freed with sink_destroy), TW_EINVAL for bad options (a
 * closed fd, say) or TW_ENOMEM.
 */
TW_MUST_CHECK int sink_stdout_new(const struct sink_stdout_options *opts,
                                  const char *name, struct sink **out);

/* The sink.h counters and the stdout sink's own. */
void sink_stdout_stats(struct sink *sink, struct sink_stdout_stats *stats);

#endif
