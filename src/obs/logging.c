/* logging.c - logfmt lines on stderr, one write(2) per line. */
#include "obs/logging.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OBS_LINE_MAX 1024

static _Atomic int log_threshold = OBS_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "off"};

void obs_log_set_level(enum obs_level level)
{
    atomic_store(&log_threshold, (int)level);
}

enum obs_level obs_log_level(void)
{
    return (enum obs_level)atomic_load(&log_threshold);
}

int obs_level_parse(const char *name)
{
    for (int i = 0; i <= OBS_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static size_t obs_format_time(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

void obs_log_write(enum obs_level level, const char *sys, const char *msg,
                   const char *fmt, ...)
{
    char line[OBS_LINE_MAX];
    char when[40];
    va_list ap;
    int n;

    if (level < obs_log_level() || level >= OBS_OFF) {
        return;
    }
    obs_format_time(when, sizeof(when));
    n = snprintf(line, sizeof(line), "ts=%s level=%s sys=%s msg=\"%s\"", when,
                 level_names[level], sys, msg);
    if (n < 0 || (size_t)n >= sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
    }
    if (fmt != NULL && fmt[0] != '\0') {
        line[n++] = ' ';
        va_start(ap, fmt);
        int more = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (more > 0) {
            n += more;
        }
        if ((size_t)n > sizeof(line) - 2) {
            n = (int)sizeof(line) - 2;
        }
    }
    line[n++] = '\n';

    /* One write per line keeps lines from threads whole. */
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}
