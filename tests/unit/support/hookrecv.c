/*
 * hookrecv.c - the webhook receiver: one poll() loop over the listening
 * socket, an eventfd the test thread wakes it with, and the connections.
 * Everything shared with the test thread is under one lock, held by the
 * loop except while it polls.
 */
#include "support/hookrecv.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOOKRECV_MAX_CONNS 64
#define HOOKRECV_SCRIPT_MAX 256
#define HOOKRECV_HEAD_MAX (64u * 1024u)
#define HOOKRECV_IN_MAX (64u * 1024u * 1024u)

struct hookrecv_owned_reply {
    enum hookrecv_action action;
    int status;
    char *headers;
    char *body;
    int delay_ms;
};

struct hookrecv_conn {
    int fd; /* -1: free slot */
    unsigned id;
    char *in;
    size_t in_len;
    size_t in_cap;
    bool busy; /* a request was read and its answer is not queued yet */
    bool held;
    uint64_t hold_seq;
    int64_t due_ms;
    struct hookrecv_owned_reply reply;
    char *out;
    size_t out_len;
    size_t out_off;
};

struct hookrecv {
    int listen_fd;
    int wake_fd;
    uint16_t port;
    pthread_t thread;

    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool stop;
    struct hookrecv_conn conns[HOOKRECV_MAX_CONNS];
    struct hookrecv_owned_reply fallback;
    struct hookrecv_owned_reply script[HOOKRECV_SCRIPT_MAX];
    unsigned script_head;
    unsigned script_len;
    struct hookrecv_request *requests[HOOKRECV_MAX_REQUESTS];
    struct hookrecv_counts counts;
    uint64_t hold_seq;
};

static int64_t hookrecv_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The receiver's thread cannot assert; running out of memory there is a
 * broken test machine, so it stops the test process loudly. */
static void *hookrecv_alloc(size_t size)
{
    void *p = calloc(1, size);

    if (p == NULL) {
        abort();
    }
    return p;
}

static char *hookrecv_strndup(const char *s, size_t n)
{
    char *copy = hookrecv_alloc(n + 1);

    memcpy(copy, s, n);
    return copy;
}

static char *hookrecv_strdup_or_null(const char *s)
{
    return s == NULL ? NULL : hookrecv_strndup(s, strlen(s));
}

static struct hookrecv_owned_reply
hookrecv_own(const struct hookrecv_reply *reply)
{
    return (struct hookrecv_owned_reply){
        .action = reply->action,
        .status = reply->status == 0 ? 200 : reply->status,
        .headers = hookrecv_strdup_or_null(reply->headers),
        .body = hookrecv_strdup_or_null(reply->body),
        .delay_ms = reply->delay_ms,
    };
}

static struct hookrecv_owned_reply
hookrecv_copy(const struct hookrecv_owned_reply *reply)
{
    struct hookrecv_owned_reply copy = *reply;

    copy.headers = hookrecv_strdup_or_null(reply->headers);
    copy.body = hookrecv_strdup_or_null(reply->body);
    return copy;
}

static void hookrecv_disown(struct hookrecv_owned_reply *reply)
{
    free(reply->headers);
    free(reply->body);
    memset(reply, 0, sizeof(*reply));
}

static void hookrecv_wake(struct hookrecv *rx)
{
    uint64_t one = 1;

    (void)!write(rx->wake_fd, &one, sizeof(one));
}

/* ------------------------------------------------------- connections -- */

static void hookrecv_close(struct hookrecv *rx, struct hookrecv_conn *c)
{
    if (c->busy) {
        rx->counts.in_progress--;
    }
    if (c->held) {
        rx->counts.held--;
    }
    close(c->fd);
    free(c->in);
    free(c->out);
    hookrecv_disown(&c->reply);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    pthread_cond_broadcast(&rx->changed);
}

static void hookrecv_accept(struct hookrecv *rx)
{
    for (;;) {
        int fd =
            accept4(rx->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int one = 1;
        struct hookrecv_conn *slot = NULL;

        if (fd < 0) {
            return;
        }
        for (size_t i = 0; i < HOOKRECV_MAX_CONNS && slot == NULL; i++) {
            slot = rx->conns[i].fd < 0 ? &rx->conns[i] : NULL;
        }
        if (slot == NULL) {
            close(fd);
            continue;
        }
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        slot->fd = fd;
        slot->id = ++rx->counts.connections;
        pthread_cond_broadcast(&rx->changed);
    }
}

static const char *hookrecv_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

/* Queues the connection's answer; the request stops being in progress. */
static void hookrecv_answer(struct hookrecv *rx, struct hookrecv_conn *c)
{
    const struct hookrecv_owned_reply *r = &c->reply;
    size_t body_len = r->body != NULL ? strlen(r->body) : 0;
    char *out = NULL;
    int n;

    n = asprintf(&out, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n%s",
                 r->status, hookrecv_reason(r->status), body_len,
                 r->headers != NULL ? r->headers : "",
                 r->body != NULL ? r->body : "");
    if (n < 0) {
        abort();
    }
    c->out = out;
    c->out_len = (size_t)n;
    c->out_off = 0;
    c->busy = false;
    rx->counts.in_progress--;
    pthread_cond_broadcast(&rx->changed);
}

/* Writes what it can of the answer; false when the connection died. */
static bool hookrecv_flush(struct hookrecv_conn *c)
{
    while (c->out != NULL && c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return true;
        }
        if (n <= 0) {
            return false;
        }
        c->out_off += (size_t)n;
    }
    free(c->out);
    c->out = NULL;
    return true;
}

/* Reads what there is; false when the peer closed or the input is huge. */
static bool hookrecv_fill(struct hookrecv_conn *c)
{
    for (;;) {
        ssize_t n;

        if (c->in_cap - c->in_len < 4096) {
            size_t cap = c->in_cap == 0 ? 16384 : c->in_cap * 2;

            if (cap > HOOKRECV_IN_MAX) {
                return false;
            }
            c->in = realloc(c->in, cap);
            if (c->in == NULL) {
                abort();
            }
            c->in_cap = cap;
        }
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return true;
        }
        if (n <= 0) {
            return false;
        }
        c->in_len += (size_t)n;
        c->in[c->in_len] = '\0';
    }
}

/* --------------------------------------------------------- requests -- */

static bool hookrecv_parse_headers(struct hookrecv_request *req,
                                   const char *line, const char *end)
{
    while (line < end) {
        const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        const char *colon;
        const char *value;

        if (eol == NULL || eol == line) {
            return true;
        }
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || req->header_count == HOOKRECV_MAX_HEADERS) {
            return false;
        }
        value = colon + 1;
        while (value < eol && (*value == ' ' || *value == '\t')) {
            value++;
        }
        req->names[req->header_count] =
            hookrecv_strndup(line, (size_t)(colon - line));
        req->values[req->header_count] =
            hookrecv_strndup(value, (size_t)(eol - value));
        req->header_count++;
        line = eol + 2;
    }
    return true;
}

static void hookrecv_request_free(struct hookrecv_request *req)
{
    for (size_t i = 0; i < req->header_count; i++) {
        free(req->names[i]);
        free(req->values[i]);
    }
    free(req->body);
    free(req);
}

/*
 * Takes one whole request off the connection's input into *out: 1 when
 * one was there, 0 when more bytes are needed, -1 when the input can
 * never be a request this receiver reads (the connection is closed).
 */
static int hookrecv_take_request(struct hookrecv_conn *c,
                                 struct hookrecv_request **out)
{
    const char *blank;
    const char *length;
    struct hookrecv_request *req;
    size_t head_len;
    size_t body_len;

    if (c->in_len == 0) {
        return 0;
    }
    blank = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (blank == NULL) {
        return c->in_len > HOOKRECV_HEAD_MAX ? -1 : 0;
    }
    head_len = (size_t)(blank - c->in) + 4;
    req = hookrecv_alloc(sizeof(*req));
    if (sscanf(c->in, "%15s %255s HTTP/1.%*d", req->method, req->target) != 2 ||
        !hookrecv_parse_headers(req, strstr(c->in, "\r\n") + 2,
                                c->in + head_len) ||
        hookrecv_header(req, "Transfer-Encoding") != NULL) {
        hookrecv_request_free(req);
        return -1;
    }
    length = hookrecv_header(req, "Content-Length");
    body_len = length != NULL ? strtoul(length, NULL, 10) : 0;
    if (body_len > HOOKRECV_IN_MAX - head_len) {
        hookrecv_request_free(req);
        return -1;
    }
    if (c->in_len < head_len + body_len) {
        hookrecv_request_free(req);
        return 0;
    }
    req->body = hookrecv_strndup(c->in + head_len, body_len);
    req->body_len = body_len;
    req->connection = c->id;
    c->in_len -= head_len + body_len;
    memmove(c->in, c->in + head_len + body_len, c->in_len);
    *out = req;
    return 1;
}

static struct hookrecv_owned_reply hookrecv_next_reply(struct hookrecv *rx)
{
    struct hookrecv_owned_reply reply;

    if (rx->script_len == 0) {
        return hookrecv_copy(&rx->fallback);
    }
    reply = rx->script[rx->script_head];
    rx->script_head = (rx->script_head + 1) % HOOKRECV_SCRIPT_MAX;
    rx->script_len--;
    return reply;
}

/* Reads the next request of an idle connection and acts on its reply;
 * false when the connection was closed. */
static bool hookrecv_serve(struct hookrecv *rx, struct hookrecv_conn *c)
{
    struct hookrecv_request *req = NULL;
    int got;

    if (c->busy || c->out != NULL) {
        return true;
    }
    got = hookrecv_take_request(c, &req);
    if (got <= 0 || rx->counts.requests == HOOKRECV_MAX_REQUESTS) {
        if (got != 0) {
            hookrecv_close(rx, c);
        }
        if (req != NULL) {
            hookrecv_request_free(req);
        }
        return got == 0;
    }
    rx->requests[rx->counts.requests++] = req;
    c->busy = true;
    rx->counts.in_progress++;
    if (rx->counts.in_progress > rx->counts.peak_in_progress) {
        rx->counts.peak_in_progress = rx->counts.in_progress;
    }
    hookrecv_disown(&c->reply);
    c->reply = hookrecv_next_reply(rx);
    pthread_cond_broadcast(&rx->changed);
    if (c->reply.action == HOOKRECV_CLOSE) {
        hookrecv_close(rx, c);
        return false;
    }
    if (c->reply.action == HOOKRECV_HOLD) {
        c->held = true;
        c->hold_seq = ++rx->hold_seq;
        rx->counts.held++;
        return true;
    }
    c->due_ms = hookrecv_now_ms() + c->reply.delay_ms;
    return true;
}

/* ------------------------------------------------------------- loop -- */

/* Answers what is due; returns the poll timeout until the next one. */
static int hookrecv_answer_due(struct hookrecv *rx)
{
    int64_t now = hookrecv_now_ms();
    int64_t wait = -1;

    for (size_t i = 0; i < HOOKRECV_MAX_CONNS; i++) {
        struct hookrecv_conn *c = &rx->conns[i];

        if (c->fd < 0 || !c->busy || c->held) {
            continue;
        }
        if (c->due_ms <= now) {
            hookrecv_answer(rx, c);
            if (!hookrecv_flush(c)) {
                hookrecv_close(rx, c);
            } else if (c->out == NULL) {
                (void)hookrecv_serve(rx, c); /* one sent right after */
            }
        } else if (wait < 0 || c->due_ms - now < wait) {
            wait = c->due_ms - now;
        }
    }
    return (int)wait;
}

static void hookrecv_on_events(struct hookrecv *rx, struct hookrecv_conn *c,
                               short revents)
{
    if ((revents & POLLOUT) && !hookrecv_flush(c)) {
        hookrecv_close(rx, c);
        return;
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && !hookrecv_fill(c)) {
        hookrecv_close(rx, c);
        return;
    }
    while (c->fd >= 0 && !c->busy && c->out == NULL && c->in_len > 0) {
        unsigned before = rx->counts.requests;

        if (!hookrecv_serve(rx, c) || rx->counts.requests == before) {
            break;
        }
    }
}

static void *hookrecv_main(void *arg)
{
    struct hookrecv *rx = arg;
    struct pollfd pfds[HOOKRECV_MAX_CONNS + 2];
    struct hookrecv_conn *polled[HOOKRECV_MAX_CONNS];

    pthread_mutex_lock(&rx->lock);
    while (!rx->stop) {
        int timeout = hookrecv_answer_due(rx);
        nfds_t n = 2;
        uint64_t drained;

        pfds[0] = (struct pollfd){.fd = rx->listen_fd, .events = POLLIN};
        pfds[1] = (struct pollfd){.fd = rx->wake_fd, .events = POLLIN};
        for (size_t i = 0; i < HOOKRECV_MAX_CONNS; i++) {
            struct hookrecv_conn *c = &rx->conns[i];

            if (c->fd >= 0) {
                polled[n - 2] = c;
                pfds[n++] = (struct pollfd){
                    .fd = c->fd,
                    .events = (short)(POLLIN | (c->out ? POLLOUT : 0))};
            }
        }
        pthread_mutex_unlock(&rx->lock);
        (void)poll(pfds, n, timeout);
        pthread_mutex_lock(&rx->lock);

        if (pfds[1].revents & POLLIN) {
            (void)!read(rx->wake_fd, &drained, sizeof(drained));
        }
        if (pfds[0].revents & POLLIN) {
            hookrecv_accept(rx);
        }
        for (nfds_t i = 2; i < n; i++) {
            if (pfds[i].revents != 0 && polled[i - 2]->fd == pfds[i].fd) {
                hookrecv_on_events(rx, polled[i - 2], pfds[i].revents);
            }
        }
    }
    pthread_mutex_unlock(&rx->lock);
    return NULL;
}

/* ------------------------------------------------------------ public -- */

struct hookrecv *hookrecv_start(void)
{
    struct hookrecv *rx = hookrecv_alloc(sizeof(*rx));
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof(addr);
    const struct hookrecv_reply ok = {.status = 200, .body = "{}"};
    int one = 1;

    pthread_mutex_init(&rx->lock, NULL);
    pthread_cond_init(&rx->changed, NULL);
    for (size_t i = 0; i < HOOKRECV_MAX_CONNS; i++) {
        rx->conns[i].fd = -1;
    }
    rx->fallback = hookrecv_own(&ok);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rx->listen_fd =
        socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cr_assert_geq(rx->listen_fd, 0, "socket: %s", strerror(errno));
    (void)setsockopt(rx->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
                     sizeof(one));
    cr_assert_eq(bind(rx->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0,
                 "bind: %s", strerror(errno));
    cr_assert_eq(listen(rx->listen_fd, 128), 0, "listen: %s", strerror(errno));
    cr_assert_eq(getsockname(rx->listen_fd, (struct sockaddr *)&addr, &len), 0);
    rx->port = ntohs(addr.sin_port);
    rx->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    cr_assert_geq(rx->wake_fd, 0, "eventfd: %s", strerror(errno));
    cr_assert_eq(pthread_create(&rx->thread, NULL, hookrecv_main, rx), 0);
    return rx;
}

void hookrecv_stop(struct hookrecv *rx)
{
    if (rx == NULL) {
        return;
    }
    pthread_mutex_lock(&rx->lock);
    rx->stop = true;
    pthread_mutex_unlock(&rx->lock);
    hookrecv_wake(rx);
    pthread_join(rx->thread, NULL);

    for (size_t i = 0; i < HOOKRECV_MAX_CONNS; i++) {
        if (rx->conns[i].fd >= 0) {
            hookrecv_close(rx, &rx->conns[i]);
        }
    }
    for (unsigned i = 0; i < rx->counts.requests; i++) {
        hookrecv_request_free(rx->requests[i]);
    }
    while (rx->script_len > 0) {
        struct hookrecv_owned_reply r = hookrecv_next_reply(rx);

        hookrecv_disown(&r);
    }
    hookrecv_disown(&rx->fallback);
    close(rx->listen_fd);
    close(rx->wake_fd);
    pthread_cond_destroy(&rx->changed);
    pthread_mutex_destroy(&rx->lock);
    free(rx);
}

uint16_t hookrecv_port(const struct hookrecv *rx)
{
    return rx->port;
}

void hookrecv_url(const struct hookrecv *rx, const char *path, char *buf,
                  size_t cap)
{
    snprintf(buf, cap, "http://127.0.0.1:%u%s", rx->port, path);
}

void hookrecv_set_default(struct hookrecv *rx,
                          const struct hookrecv_reply *reply)
{
    pthread_mutex_lock(&rx->lock);
    hookrecv_disown(&rx->fallback);
    rx->fallback = hookrecv_own(reply);
    pthread_mutex_unlock(&rx->lock);
}

void hookrecv_push(struct hookrecv *rx, const struct hookrecv_reply *reply)
{
    pthread_mutex_lock(&rx->lock);
    cr_assert_lt(rx->script_len, HOOKRECV_SCRIPT_MAX, "too many replies");
    rx->script[(rx->script_head + rx->script_len) % HOOKRECV_SCRIPT_MAX] =
        hookrecv_own(reply);
    rx->script_len++;
    pthread_mutex_unlock(&rx->lock);
}

/* Waits until *value >= n, under the lock; false on timeout. */
static bool hookrecv_await(struct hookrecv *rx, const unsigned *value,
                           unsigned n, int timeout_ms)
{
    struct timespec deadline;
    bool reached;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&rx->lock);
    while (*value < n) {
        if (pthread_cond_timedwait(&rx->changed, &rx->lock, &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
    reached = *value >= n;
    pthread_mutex_unlock(&rx->lock);
    return reached;
}

bool hookrecv_await_requests(struct hookrecv *rx, unsigned n, int timeout_ms)
{
    return hookrecv_await(rx, &rx->counts.requests, n, timeout_ms);
}

bool hookrecv_await_held(struct hookrecv *rx, unsigned n, int timeout_ms)
{
    return hookrecv_await(rx, &rx->counts.held, n, timeout_ms);
}

unsigned hookrecv_release(struct hookrecv *rx, unsigned n)
{
    unsigned released = 0;

    pthread_mutex_lock(&rx->lock);
    while (released < n) {
        struct hookrecv_conn *oldest = NULL;

        for (size_t i = 0; i < HOOKRECV_MAX_CONNS; i++) {
            struct hookrecv_conn *c = &rx->conns[i];

            if (c->fd >= 0 && c->held &&
                (oldest == NULL || c->hold_seq < oldest->hold_seq)) {
                oldest = c;
            }
        }
        if (oldest == NULL) {
            break;
        }
        oldest->held = false;
        oldest->due_ms = hookrecv_now_ms() + oldest->reply.delay_ms;
        rx->counts.held--;
        released++;
    }
    pthread_mutex_unlock(&rx->lock);
    hookrecv_wake(rx);
    return released;
}

const struct hookrecv_request *hookrecv_request(struct hookrecv *rx, unsigned i)
{
    const struct hookrecv_request *req = NULL;

    pthread_mutex_lock(&rx->lock);
    if (i < rx->counts.requests) {
        req = rx->requests[i];
    }
    pthread_mutex_unlock(&rx->lock);
    cr_assert_not_null(req, "the receiver has no request %u", i);
    return req;
}

const char *hookrecv_header(const struct hookrecv_request *req,
                            const char *name)
{
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->names[i], name) == 0) {
            return req->values[i];
        }
    }
    return NULL;
}

void hookrecv_counts(struct hookrecv *rx, struct hookrecv_counts *out)
{
    pthread_mutex_lock(&rx->lock);
    *out = rx->counts;
    pthread_mutex_unlock(&rx->lock);
}
