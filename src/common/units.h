/*
 * units.h - the quantities operators type and read: sizes, durations,
 * points in time and plain counts, parsed strictly and printed plainly.
 *
 * Sizes:      a whole number of bytes with an optional unit, no space:
 *             B, KiB, MiB, GiB, TiB (powers of 1024) or kB/KB, MB, GB, TB
 *             (powers of 1000), units case-insensitive ("10GiB", "512mib",
 *             "100000", "5GB").
 * Durations:  one or more whole numbers each with a unit, no spaces:
 *             ms, s, m, h, d, w ("7d", "12h", "30m", "500ms", "1h30m").
 *             "0" alone means zero; any other number needs its unit.
 * Times:      ISO-8601 in UTC or with an offset, "2024-03-01",
 *             "2024-03-01T12:00:00Z", "2024-03-01T12:00:00.250+02:00", or
 *             milliseconds since the epoch ("1709294400000").
 *
 * Every parser refuses signs, spaces, empty text, trailing garbage and
 * overflow with TW_EINVAL, and sets a message that quotes the text.
 */
#ifndef TW_COMMON_UNITS_H
#define TW_COMMON_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Longest text tw_format_time writes, with its NUL. */
#define TW_TIME_TEXT_MAX 32
/* Longest text tw_format_size writes, with its NUL. */
#define TW_SIZE_TEXT_MAX 24

TW_MUST_CHECK int tw_parse_u64(const char *text, uint64_t *value);
TW_MUST_CHECK int tw_parse_size(const char *text, uint64_t *bytes);
TW_MUST_CHECK int tw_parse_duration(const char *text, int64_t *ms);
TW_MUST_CHECK int tw_parse_time(const char *text, int64_t *ms);

/* "2024-03-01T12:00:00.250Z" (UTC, milliseconds always shown). */
void tw_format_time(int64_t ms, char *buf, size_t size);

/* "999 B", "1.5 KiB", "64.0 MiB": for people, not for parsing. */
void tw_format_size(uint64_t bytes, char *buf, size_t size);

#endif
