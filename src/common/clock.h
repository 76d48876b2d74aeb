/* clock.h - wall-clock and monotonic time in the units Trackway uses. */
#ifndef TW_COMMON_CLOCK_H
#define TW_COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (wall clock; may jump). */
int64_t tw_now_ms(void);

/* Nanoseconds from an arbitrary origin that never goes backwards. */
uint64_t tw_monotonic_ns(void);

#endif
