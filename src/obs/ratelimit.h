/*
 * ratelimit.h - at most one log line per interval for a repeated event.
 *
 * A warning that a client can trigger at will (a refused connection, a
 * malformed request) must not turn into a flood of lines. Each such
 * warning keeps one struct obs_ratelimit; the first occurrence in an
 * interval is written, the rest are counted and the count is reported on
 * the next line that is written. Lock-free, safe from any thread.
 */
#ifndef TW_OBS_RATELIMIT_H
#define TW_OBS_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Zero-initialised is ready to use. */
struct obs_ratelimit {
    _Atomic int64_t next_ms;     /* monotonic ms before which lines wait */
    _Atomic uint64_t suppressed; /* occurrences since the last line */
};

/*
 * true when the caller should write its line now; *suppressed is then
 * the number of occurrences swallowed since the previous line. false
 * means the occurrence was counted and nothing should be written.
 */
bool obs_ratelimit_allow(struct obs_ratelimit *rl, int64_t interval_ms,
                         uint64_t *suppressed);

#endif
