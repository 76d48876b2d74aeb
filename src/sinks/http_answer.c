/*
 * http_answer.c - statuses to outcomes, Retry-After to a delay, answer
 * bodies to an excerpt fit for a log line and the dead-letter log.
 */
#include "sinks/http_answer.h"

#include <curl/curl.h>
#include <string.h>
#include <time.h>

/* Longer values are neither a sane number of seconds nor a date. */
#define SINK_HTTP_RETRY_AFTER_TEXT_MAX 64

bool sink_http_statuses_add(struct sink_http_statuses *set, int status)
{
    unsigned bit;

    if (status < SINK_HTTP_RETRYABLE_MIN || status > SINK_HTTP_RETRYABLE_MAX) {
        return false;
    }
    bit = (unsigned)(status - SINK_HTTP_RETRYABLE_MIN);
    set->bits[bit / 64] |= 1ull << (bit % 64);
    return true;
}

bool sink_http_statuses_has(const struct sink_http_statuses *set, int status)
{
    unsigned bit;

    if (status < SINK_HTTP_RETRYABLE_MIN || status > SINK_HTTP_RETRYABLE_MAX) {
        return false;
    }
    bit = (unsigned)(status - SINK_HTTP_RETRYABLE_MIN);
    return (set->bits[bit / 64] >> (bit % 64)) & 1u;
}

enum sink_outcome sink_http_outcome(int status,
                                    const struct sink_http_statuses *retryable)
{
    if (status >= 200 && status <= 299) {
        return SINK_OK;
    }
    if (sink_http_statuses_has(retryable, status)) {
        return SINK_RETRY;
    }
    return SINK_REJECTED;
}

static bool sink_http_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* delay-seconds: 1*DIGIT, however many digits, capped. */
static int64_t sink_http_delay_seconds(const char *text)
{
    int64_t ms = 0;

    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        if (ms < SINK_HTTP_RETRY_AFTER_MAX_MS) {
            ms = ms * 10 + (*p - '0') * 1000;
        }
    }
    return ms < SINK_HTTP_RETRY_AFTER_MAX_MS ? ms
                                             : SINK_HTTP_RETRY_AFTER_MAX_MS;
}

int64_t sink_http_retry_after_ms(const char *value, int64_t now_ms)
{
    char text[SINK_HTTP_RETRY_AFTER_TEXT_MAX];
    size_t len;
    time_t when;
    int64_t delay_ms;

    if (value == NULL) {
        return -1;
    }
    while (sink_http_is_blank(*value)) {
        value++;
    }
    len = strlen(value);
    while (len > 0 && sink_http_is_blank(value[len - 1])) {
        len--;
    }
    if (len == 0 || len >= sizeof(text)) {
        return -1;
    }
    memcpy(text, value, len);
    text[len] = '\0';

    if (text[0] >= '0' && text[0] <= '9') {
        return sink_http_delay_seconds(text);
    }

    /* libcurl's parser reads all three HTTP-date forms (IMF-fixdate,
     * RFC 850, asctime) and the looser ones servers send in practice. */
    when = curl_getdate(text, NULL);
    if (when == -1) {
        return -1;
    }
    if (when < 0) {
        return 0;
    }
    if (when > SINK_HTTP_RETRY_AFTER_MAX_MS / 1000 + now_ms / 1000) {
        return SINK_HTTP_RETRY_AFTER_MAX_MS;
    }
    delay_ms = (int64_t)when * 1000 - now_ms;
    return delay_ms > 0 ? delay_ms : 0;
}

/*
 * The length of the UTF-8 character at p (n bytes left): 1 to 4 for a
 * well-formed one, 0 for a byte that starts none, -1 for one that is
 * well-formed as far as it goes but cut short by the end of the bytes.
 */
static int sink_http_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    size_t need;

    if (p[0] < 0x80) {
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        need = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        need = 3;
        lo = p[0] == 0xe0 ? 0xa0 : lo; /* no overlong forms */
        hi = p[0] == 0xed ? 0x9f : hi; /* no surrogates */
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        need = 4;
        lo = p[0] == 0xf0 ? 0x90 : lo;
        hi = p[0] == 0xf4 ? 0x8f : hi; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        if (i == n) {
            return -1;
        }
        if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf)) {
            return 0;
        }
    }
    return (int)need;
}

size_t sink_http_excerpt(char *dst, size_t cap, const char *src, size_t len,
                         bool *cut)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t out = 0;
    size_t i = 0;

    if (cap == 0) {
        if (cut != NULL) {
            *cut = len > 0;
        }
        return 0;
    }
    while (i < len) {
        int n = sink_http_utf8_len(p + i, len - i);

        if (n < 0 || out + (n > 0 ? (size_t)n : 1) >= cap) {
            break;
        }
        if (n == 0) {
            dst[out++] = '?';
            i++;
        } else if (n == 1) {
            dst[out++] = p[i] < 0x20 || p[i] == 0x7f ? ' ' : (char)p[i];
            i++;
        } else {
            memcpy(dst + out, p + i, (size_t)n);
            out += (size_t)n;
            i += (size_t)n;
        }
    }
    dst[out] = '\0';
    if (cut != NULL) {
        *cut = i < len;
    }
    return out;
}
