/* units.c - parsing and printing sizes, durations and times (units.h). */
#include "common/units.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MS_PER_DAY INT64_C(86400000)

struct unit {
    const char *name;
    uint64_t factor;
};

static const struct unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"kib", UINT64_C(1) << 10},
    {"mib", UINT64_C(1) << 20},
    {"gib", UINT64_C(1) << 30},
    {"tib", UINT64_C(1) << 40},
    {"kb", UINT64_C(1000)},
    {"mb", UINT64_C(1000000)},
    {"gb", UINT64_C(1000000000)},
    {"tb", UINT64_C(1000000000000)},
};

/* Longer names first, so "ms" is not read as "m" followed by "s". */
static const struct unit duration_units[] = {
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 3600 * 1000},
    {"d", UINT64_C(86400000)},
    {"w", UINT64_C(604800000)},
};

/*
 * Reads the digits at *p into *value, moving *p past them. false when
 * there is no digit or the number does not fit.
 */
static bool take_digits(const char **p, uint64_t *value)
{
    const char *s = *p;
    uint64_t v = 0;

    if (*s < '0' || *s > '9') {
        return false;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');

        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *p = s;
    *value = v;
    return true;
}

/* Reads exactly n digits at *p. */
static bool take_fixed(const char **p, int n, unsigned *value)
{
    unsigned v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *value = v;
    return true;
}

int tw_parse_u64(const char *text, uint64_t *value)
{
    const char *p = text;

    if (!take_digits(&p, value) || *p != '\0') {
        return tw_err_set(TW_EINVAL, "\"%s\" is not a whole number", text);
    }
    return 0;
}

int tw_parse_size(const char *text, uint64_t *bytes)
{
    const char *p = text;
    uint64_t n;

    if (!take_digits(&p, &n)) {
        goto bad;
    }
    for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
        const struct unit *u = &size_units[i];

        if (strcasecmp(p, u->name) != 0) {
            continue;
        }
        if (n > UINT64_MAX / u->factor) {
            return tw_err_set(TW_EINVAL, "size \"%s\" is too large", text);
        }
        *bytes = n * u->factor;
        return 0;
    }
bad:
    return tw_err_set(TW_EINVAL,
                      "\"%s\" is not a size: write bytes, or a "
                      "number with B, KiB, MiB, GiB, TiB, kB, MB, GB or TB "
                      "(e.g. 512MiB)",
                      text);
}

/* Matches a duration unit at *p, moving past it. */
static const struct unit *take_duration_unit(const char **p)
{
    for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]);
         i++) {
        size_t len = strlen(duration_units[i].name);

        if (strncmp(*p, duration_units[i].name, len) == 0) {
            *p += len;
            return &duration_units[i];
        }
    }
    return NULL;
}

int tw_parse_duration(const char *text, int64_t *ms)
{
    const char *p = text;
    uint64_t total = 0;

    if (strcmp(text, "0") == 0) {
        *ms = 0;
        return 0;
    }
    do {
        const struct unit *u;
        uint64_t n;

        if (!take_digits(&p, &n) || (u = take_duration_unit(&p)) == NULL) {
            return tw_err_set(TW_EINVAL,
                              "\"%s\" is not a duration: write "
                              "numbers with units ms, s, m, h, d or w "
                              "(e.g. 7d, 12h, 1h30m, 500ms)",
                              text);
        }
        if (n > (uint64_t)INT64_MAX / u->factor ||
            total > (uint64_t)INT64_MAX - n * u->factor) {
            return tw_err_set(TW_EINVAL, "duration \"%s\" is too long", text);
        }
        total += n * u->factor;
    } while (*p != '\0');
    *ms = (int64_t)total;
    return 0;
}

/*
 * Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
 * Years are counted from March so that the leap day ends a year; an era
 * is the 400-year cycle after which the calendar repeats.
 */
static int64_t days_from_date(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    int64_t yoe;
    int64_t doy;
    int64_t doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_date. */
static void date_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    int64_t doe;
    int64_t yoe;
    int64_t doy;
    int64_t mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* "HH:MM[:SS[.fff...]]" into milliseconds of the day. */
static bool take_clock(const char **p, int64_t *ms)
{
    unsigned hh;
    unsigned mm;
    unsigned ss = 0;
    unsigned frac = 0;

    if (!take_fixed(p, 2, &hh) || *(*p)++ != ':' || !take_fixed(p, 2, &mm) ||
        hh > 23 || mm > 59) {
        return false;
    }
    if (**p == ':') {
        (*p)++;
        if (!take_fixed(p, 2, &ss) || ss > 59) {
            return false;
        }
        if (**p == '.' || **p == ',') {
            int digits = 0;

            for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, digits++) {
                if (digits < 3) {
                    frac = frac * 10 + (unsigned)(**p - '0');
                }
            }
            if (digits == 0) {
                return false;
            }
            for (; digits < 3; digits++) {
                frac *= 10;
            }
        }
    }
    *ms = ((int64_t)hh * 3600 + mm * 60 + ss) * 1000 + frac;
    return true;
}

/* "Z" or "+HH:MM" / "-HHMM": the zone's offset east of UTC, in ms. */
static bool take_zone(const char **p, int64_t *offset_ms)
{
    unsigned hh;
    unsigned mm;
    int sign;

    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        *offset_ms = 0;
        return true;
    }
    if (**p != '+' && **p != '-') {
        return false;
    }
    sign = **p == '-' ? -1 : 1;
    (*p)++;
    if (!take_fixed(p, 2, &hh)) {
        return false;
    }
    if (**p == ':') {
        (*p)++;
    }
    if (!take_fixed(p, 2, &mm) || hh > 23 || mm > 59) {
        return false;
    }
    *offset_ms = sign * ((int64_t)hh * 3600 + mm * 60) * 1000;
    return true;
}

int tw_parse_time(const char *text, int64_t *ms)
{
    const char *p = text;
    unsigned y;
    unsigned mo;
    unsigned d;
    int64_t clock = 0;
    int64_t zone = 0;
    uint64_t plain = 0;

    if (take_digits(&p, &plain) && *p == '\0') {
        if (plain > (uint64_t)INT64_MAX) {
            goto bad;
        }
        *ms = (int64_t)plain;
        return 0;
    }
    p = text;
    if (!take_fixed(&p, 4, &y) || *p++ != '-' || !take_fixed(&p, 2, &mo) ||
        *p++ != '-' || !take_fixed(&p, 2, &d) || mo < 1 || mo > 12 || d < 1 ||
        d > days_in_month(y, mo)) {
        goto bad;
    }
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        /* A time of day without a zone would be local time: refuse it. */
        if (!take_clock(&p, &clock) || !take_zone(&p, &zone)) {
            goto bad;
        }
    }
    if (*p != '\0') {
        goto bad;
    }
    *ms = days_from_date(y, mo, d) * MS_PER_DAY + clock - zone;
    return 0;

bad:
    return tw_err_set(TW_EINVAL,
                      "\"%s\" is not a time: write ISO-8601 with "
                      "a zone (2024-03-01T12:00:00Z), a date (2024-03-01) "
                      "or milliseconds since 1970",
                      text);
}

/* Writes value as exactly width decimal digits, zero-padded. */
static void put_digits(char *out, unsigned value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

void tw_format_time(int64_t ms, char *buf, size_t size)
{
    int64_t days = ms / MS_PER_DAY;
    int64_t rest = ms % MS_PER_DAY;
    int64_t y;
    unsigned m;
    unsigned d;

    if (rest < 0) {
        rest += MS_PER_DAY;
        days--;
    }
    date_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || size < sizeof("0000-00-00T00:00:00.000Z")) {
        snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
                 (long long)y, m, d, (unsigned)(rest / 3600000),
                 (unsigned)(rest / 60000 % 60), (unsigned)(rest / 1000 % 60),
                 (unsigned)(rest % 1000));
        return;
    }
    /* The collector writes four times per event; snprintf was a fifth of
     * its CPU time, so the common case is laid out by hand. */
    put_digits(buf, (unsigned)y, 4);
    buf[4] = '-';
    put_digits(buf + 5, m, 2);
    buf[7] = '-';
    put_digits(buf + 8, d, 2);
    buf[10] = 'T';
    put_digits(buf + 11, (unsigned)(rest / 3600000), 2);
    buf[13] = ':';
    put_digits(buf + 14, (unsigned)(rest / 60000 % 60), 2);
    buf[16] = ':';
    put_digits(buf + 17, (unsigned)(rest / 1000 % 60), 2);
    buf[19] = '.';
    put_digits(buf + 20, (unsigned)(rest % 1000), 3);
    buf[23] = 'Z';
    buf[24] = '\0';
}

void tw_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const names[] = {"KiB", "MiB", "GiB",
                                        "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int i = -1;

    if (bytes < 1024) {
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
        return;
    }
    while (v >= 1024 && i < 5) {
        v /= 1024;
        i++;
    }
    snprintf(buf, size, "%.1f %s", v, names[i]);
}
