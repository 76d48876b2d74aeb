/*
 * logging.h - structured log lines for operators.
 *
 * Every line is one logfmt record on stderr:
 *
 *   ts=2026-12-03T19:57:38.123Z level=warn sys=log msg="torn tail truncated"
 *       partition=2 segment=00000000000000001024.seg bytes=512
 *
 * The level is checked before anything is formatted, so a disabled level
 * costs one comparison. Nothing on a per-event hot path logs; hot paths
 * count in metrics instead.
 */
#ifndef TW_OBS_LOGGING_H
#define TW_OBS_LOGGING_H

#include "common/error.h"

enum obs_level {
    OBS_DEBUG = 0,
    OBS_INFO = 1,
    OBS_WARN = 2,
    OBS_ERROR = 3,
    OBS_OFF = 4,
};

/* Lines below this level are dropped. Default OBS_INFO. */
void obs_log_set_level(enum obs_level level);
enum obs_level obs_log_level(void);

/* Parses "debug", "info", "warn", "error" or "off"; -1 when unknown. */
int obs_level_parse(const char *name);

/*
 * Writes one line. sys names the subsystem ("log", "http", ...); fmt
 * formats the rest of the line after msg, normally key=value pairs.
 */
void obs_log_write(enum obs_level level, const char *sys, const char *msg,
                   const char *fmt, ...) TW_PRINTF(4, 5);

#define OBS_LOG(level, sys, msg, ...)                                          \
    do {                                                                       \
        if ((level) >= obs_log_level()) {                                      \
            obs_log_write((level), (sys), (msg), __VA_ARGS__);                 \
        }                                                                      \
    } while (0)

#endif
