/*
 * format.c - checks for the formats of format.h.
 *
 * IP addresses go through inet_pton, whose grammar is the RFCs' (dotted
 * decimal without leading zeros; RFC 4291 text forms without zone ids);
 * URIs through uriparser (uri.h). Dates, times, UUIDs and e-mail
 * addresses are small fixed grammars checked here:
 *
 *   date       RFC 3339 full-date        2024-02-29
 *   date-time  RFC 3339 date-time        2024-02-29T23:59:60.5+01:00
 *   uuid       RFC 4122 text form        8-4-4-4-12 hex digits
 *   email      RFC 5321 Mailbox          dot-atom or quoted local part,
 *                                        host name or [address literal]
 */
#include <arpa/inet.h>
#include <string.h>

#include "schema/format.h"
#include "schema/uri.h"

static const struct {
    const char *name;
    enum schema_format format;
    const char *description;
} format_table[] = {
    {"date-time", SCHEMA_FORMAT_DATE_TIME, "date-time (RFC 3339)"},
    {"date", SCHEMA_FORMAT_DATE, "date (RFC 3339 full-date)"},
    {"uuid", SCHEMA_FORMAT_UUID, "UUID (RFC 4122)"},
    {"email", SCHEMA_FORMAT_EMAIL, "e-mail address (RFC 5321)"},
    {"ipv4", SCHEMA_FORMAT_IPV4, "IPv4 address"},
    {"ipv6", SCHEMA_FORMAT_IPV6, "IPv6 address"},
    {"uri", SCHEMA_FORMAT_URI, "absolute URI (RFC 3986)"},
};

#define FORMAT_COUNT (sizeof(format_table) / sizeof(format_table[0]))

bool schema_format_lookup(const char *name, size_t len, enum schema_format *out)
{
    for (size_t i = 0; i < FORMAT_COUNT; i++) {
        if (strlen(format_table[i].name) == len &&
            memcmp(format_table[i].name, name, len) == 0) {
            *out = format_table[i].format;
            return true;
        }
    }
    return false;
}

const char *schema_format_describe(enum schema_format format)
{
    for (size_t i = 0; i < FORMAT_COUNT; i++) {
        if (format_table[i].format == format) {
            return format_table[i].description;
        }
    }
    return "format";
}

/* n ASCII digits at s as a number, or -1. */
static int format_digits(const char *s, size_t n)
{
    int value = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        value = value * 10 + (s[i] - '0');
    }
    return value;
}

static bool format_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* YYYY-MM-DD, exactly ten characters, a day that exists. */
static bool format_date(const char *s, size_t len)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year;
    int month;
    int day;
    int max;

    if (len != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    year = format_digits(s, 4);
    month = format_digits(s + 5, 2);
    day = format_digits(s + 8, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1) {
        return false;
    }
    max = days[month - 1] + (month == 2 && format_leap_year(year) ? 1 : 0);
    return day <= max;
}

/* "Z" or ±hh:mm; sets the offset in minutes east of UTC. */
static bool format_offset(const char *s, size_t len, int *minutes)
{
    int hours;
    int mins;

    if (len == 1 && (s[0] == 'Z' || s[0] == 'z')) {
        *minutes = 0;
        return true;
    }
    if (len != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') {
        return false;
    }
    hours = format_digits(s + 1, 2);
    mins = format_digits(s + 4, 2);
    if (hours < 0 || hours > 23 || mins < 0 || mins > 59) {
        return false;
    }
    *minutes = (hours * 60 + mins) * (s[0] == '-' ? -1 : 1);
    return true;
}

/*
 * hh:mm:ss[.frac]offset. A leap second (ss = 60) exists only at 23:59:60
 * UTC, so the time shifted by its offset must land there.
 */
static bool format_time(const char *s, size_t len)
{
    int hour;
    int minute;
    int second;
    int offset;
    size_t i = 8;

    if (len < 9 || s[2] != ':' || s[5] != ':') {
        return false;
    }
    hour = format_digits(s, 2);
    minute = format_digits(s + 3, 2);
    second = format_digits(s + 6, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
        second > 60) {
        return false;
    }
    if (s[i] == '.') {
        size_t start = ++i;

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == start) {
            return false;
        }
    }
    if (!format_offset(s + i, len - i, &offset)) {
        return false;
    }
    if (second == 60) {
        int utc = ((hour * 60 + minute - offset) % 1440 + 1440) % 1440;

        return utc == 23 * 60 + 59;
    }
    return true;
}

static bool format_date_time(const char *s, size_t len)
{
    if (len < 11 || (s[10] != 'T' && s[10] != 't')) {
        return false;
    }
    return format_date(s, 10) && format_time(s + 11, len - 11);
}

static bool format_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static bool format_uuid(const char *s, size_t len)
{
    if (len != 36) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? s[i] != '-' : !format_hex(s[i])) {
            return false;
        }
    }
    return true;
}

/* inet_pton needs a terminated string without stray bytes. */
static bool format_inet(int family, const char *s, size_t len)
{
    char text[64];
    unsigned char addr[16];

    if (len == 0 || len >= sizeof(text) || memchr(s, '\0', len) != NULL) {
        return false;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    return inet_pton(family, text, addr) == 1;
}

/* RFC 5321 atext: letters, digits and !#$%&'*+-/=?^_`{|}~ */
static bool format_atext(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Dot-atom: atoms of atext separated by single dots. */
static bool format_dot_atom(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.' || s[len - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' ? s[i + 1] == '.' : !format_atext(s[i])) {
            return false;
        }
    }
    return true;
}

/* A quoted string: printable ASCII, with \ quoting the next character. */
static bool format_quoted(const char *s, size_t len)
{
    if (len < 2 || s[0] != '"' || s[len - 1] != '"') {
        return false;
    }
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\\') {
            i++;
            c = (unsigned char)s[i];
            if (i + 1 >= len || c < 32 || c > 126) {
                return false;
            }
        } else if (c < 32 || c > 126 || c == '"') {
            return false;
        }
    }
    return true;
}

/* Labels of letters, digits and inner hyphens, 1 to 63 each. */
static bool format_hostname(const char *s, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > 253) {
        return false;
    }
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? s[i] : '.';

        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-') {
                return false;
            }
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || (c == '-' && label > 0))) {
            return false;
        }
        label++;
    }
    return true;
}

static bool format_email_domain(const char *s, size_t len)
{
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        if (len > 7 && memcmp(s + 1, "IPv6:", 5) == 0) {
            return format_inet(AF_INET6, s + 6, len - 7);
        }
        return format_inet(AF_INET, s + 1, len - 2);
    }
    return format_hostname(s, len);
}

/* The local part ends at the last '@' (a quoted one may hold '@'). */
static bool format_email(const char *s, size_t len)
{
    const char *at = NULL;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '@') {
            at = s + i;
        }
    }
    if (at == NULL) {
        return false;
    }
    size_t local = (size_t)(at - s);

    if (!format_dot_atom(s, local) && !format_quoted(s, local)) {
        return false;
    }
    return format_email_domain(at + 1, len - local - 1);
}

bool schema_format_check(enum schema_format format, const char *s, size_t len)
{
    switch (format) {
    case SCHEMA_FORMAT_DATE_TIME:
        return format_date_time(s, len);
    case SCHEMA_FORMAT_DATE:
        return format_date(s, len);
    case SCHEMA_FORMAT_UUID:
        return format_uuid(s, len);
    case SCHEMA_FORMAT_EMAIL:
        return format_email(s, len);
    case SCHEMA_FORMAT_IPV4:
        return format_inet(AF_INET, s, len);
    case SCHEMA_FORMAT_IPV6:
        return format_inet(AF_INET6, s, len);
    case SCHEMA_FORMAT_URI:
        return schema_uri_is_absolute(s, len);
    }
    return true;
}
