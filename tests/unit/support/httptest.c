/* httptest.c - the HTTP server tests' client: sockets, parsing, waits. */
#include "support/httptest.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A response larger than this is a broken test, not a big answer. */
#define HTTPTEST_BUF_MAX (8u * 1024u * 1024u)

int64_t httptest_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool httptest_try_connect(struct httptest_conn *c, const char *host,
                          uint16_t port)
{
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6,
                              .sin6_port = htons(port)};
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(port)};
    const struct sockaddr *sa;
    socklen_t len;
    int one = 1;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
        sa = (const struct sockaddr *)&v4;
        len = sizeof(v4);
    } else {
        cr_assert_eq(inet_pton(AF_INET6, host, &v6.sin6_addr), 1,
                     "%s is not a numeric address", host);
        sa = (const struct sockaddr *)&v6;
        len = sizeof(v6);
    }
    c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(c->fd, 0, "socket: %s", strerror(errno));
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, sa, len) < 0) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    return true;
}

void httptest_connect(struct httptest_conn *c, const char *host, uint16_t port)
{
    cr_assert(httptest_try_connect(c, host, port), "connect to %s:%u: %s", host,
              port, strerror(errno));
}

void httptest_close(struct httptest_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->buf);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

bool httptest_send(struct httptest_conn *c, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

void httptest_sendf(struct httptest_conn *c, const char *fmt, ...)
{
    static __thread char text[64 * 1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof(text), "request text too long");
    cr_assert(httptest_send(c, text, (size_t)n), "send: %s", strerror(errno));
}

/* Waits for readability until the deadline; false on timeout. */
static bool httptest_wait_readable(int fd, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - httptest_mono_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc;

        if (left <= 0) {
            return false;
        }
        rc = poll(&pfd, 1, (int)left);
        if (rc > 0) {
            return true;
        }
        if (rc < 0 && errno != EINTR) {
            return false;
        }
    }
}

/* Reads more into the buffer; 1 read, 0 closed or reset, -1 timeout. */
static int httptest_fill(struct httptest_conn *c, int64_t deadline_ms)
{
    ssize_t n;

    if (c->cap - c->len < 4096) {
        size_t cap = c->cap == 0 ? 16384 : c->cap * 2;
        char *grown;

        if (cap > HTTPTEST_BUF_MAX) {
            return 0;
        }
        grown = realloc(c->buf, cap);
        if (grown == NULL) {
            return 0;
        }
        c->buf = grown;
        c->cap = cap;
    }
    if (!httptest_wait_readable(c->fd, deadline_ms)) {
        return -1;
    }
    do {
        n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        return 0;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return 1;
}

static char *httptest_strndup(const char *s, size_t n)
{
    char *copy = malloc(n + 1);

    /* Client threads use this too, where a test assert cannot run. */
    if (copy == NULL) {
        abort();
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

/* Parses the head (status line and headers, up to the blank line). */
static bool httptest_parse_head(const char *head, size_t head_len,
                                struct httptest_response *r)
{
    const char *end = head + head_len;
    const char *line = strstr(head, "\r\n");
    int status = 0;

    if (line == NULL || sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        return false;
    }
    r->status = status;
    line += 2;
    while (line < end) {
        const char *eol = strstr(line, "\r\n");
        const char *colon;
        const char *value;

        if (eol == NULL || eol == line) {
            break;
        }
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || r->header_count == HTTPTEST_MAX_HEADERS) {
            return false;
        }
        value = colon + 1;
        while (*value == ' ') {
            value++;
        }
        r->names[r->header_count] =
            httptest_strndup(line, (size_t)(colon - line));
        r->values[r->header_count] =
            httptest_strndup(value, (size_t)(eol - value));
        r->header_count++;
        line = eol + 2;
    }
    return true;
}

bool httptest_read_response(struct httptest_conn *c,
                            struct httptest_response *r, int timeout_ms)
{
    int64_t deadline = httptest_mono_ms() + timeout_ms;
    char *blank;
    size_t head_len;
    const char *length;
    size_t body_len;

    memset(r, 0, sizeof(*r));
    while (c->buf == NULL || (blank = strstr(c->buf, "\r\n\r\n")) == NULL) {
        if (httptest_fill(c, deadline) <= 0) {
            return false;
        }
    }
    head_len = (size_t)(blank - c->buf) + 4;
    if (!httptest_parse_head(c->buf, head_len, r)) {
        httptest_response_free(r);
        return false;
    }
    length = httptest_header(r, "Content-Length");
    body_len = length == NULL ? 0 : strtoul(length, NULL, 10);
    while (c->len < head_len + body_len) {
        if (httptest_fill(c, deadline) <= 0) {
            httptest_response_free(r);
            return false;
        }
    }
    r->body = httptest_strndup(c->buf + head_len, body_len);
    r->body_len = body_len;
    c->len -= head_len + body_len;
    memmove(c->buf, c->buf + head_len + body_len, c->len);
    c->buf[c->len] = '\0';
    return true;
}

void httptest_expect_response(struct httptest_conn *c,
                              struct httptest_response *r)
{
    cr_assert(httptest_read_response(c, r, HTTPTEST_AWAIT_MS),
              "no whole response within %d ms", HTTPTEST_AWAIT_MS);
}

const char *httptest_header(const struct httptest_response *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++) {
        if (strcasecmp(r->names[i], name) == 0) {
            return r->values[i];
        }
    }
    return NULL;
}

void httptest_response_free(struct httptest_response *r)
{
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
    free(r->body);
    memset(r, 0, sizeof(*r));
}

bool httptest_await_closed(struct httptest_conn *c, int timeout_ms)
{
    int64_t deadline = httptest_mono_ms() + timeout_ms;

    for (;;) {
        char scratch[4096];
        ssize_t n;

        if (!httptest_wait_readable(c->fd, deadline)) {
            return false;
        }
        n = recv(c->fd, scratch, sizeof(scratch), 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            return true;
        }
    }
}

bool httptest_quiet_for(struct httptest_conn *c, int ms)
{
    return c->len == 0 &&
           !httptest_wait_readable(c->fd, httptest_mono_ms() + ms);
}

bool httptest_eventually(bool (*cond)(void *ctx), void *ctx, int timeout_ms)
{
    int64_t until = httptest_mono_ms() + timeout_ms;
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 1000000L};

    for (;;) {
        if (cond(ctx)) {
            return true;
        }
        if (httptest_mono_ms() >= until) {
            return false;
        }
        nanosleep(&tick, NULL);
    }
}
