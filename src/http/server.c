/*
 * server.c - the HTTP server around libmicrohttpd: options, the listening
 * socket, the daemon and its threads, connection limits, idle timeouts,
 * the library's own messages, counters, and an orderly stop.
 *
 * Threads. The daemon runs a pool of `threads` threads, each with its own
 * epoll set; all of them accept from the one listening socket, and a
 * connection stays on the thread that accepted it. Handlers run on these
 * threads; a request that waits for its answer is suspended and holds no
 * thread (request.c).
 *
 * Limits and how each is seen:
 * - max_connections is enforced here, in the accept policy callback,
 *   which counts the refusal. The library's own connection limit is set
 *   to max_connections per thread, only as a backstop: it is split
 *   between the threads, and a thread at its share stops accepting
 *   (clients wait in the kernel's backlog) rather than refusing.
 * - max_per_ip is the library's; it refuses with a message that the
 *   logger callback recognises and counts.
 * - connection_memory_bytes is the library's per-connection pool; headers
 *   that do not fit are answered 431 by the library, which reports the
 *   status through the logger callback, where it is counted.
 * - idle_timeout_s is the library's. It tells the application nothing
 *   when it closes an idle connection, so when a connection closes while
 *   the server runs, its peer has not hung up, and nothing happened on it
 *   for the timeout, it is counted as timed out.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "http/server.h"
#include "obs/logging.h"

#define HTTP_MAX_THREADS 256u
#define HTTP_MAX_BODY_BYTES (1024u * 1024u * 1024u)
#define HTTP_MIN_CONNECTION_MEMORY (4u * 1024u)

/* An idle close is recognised up to this long before the timeout, since
 * the library's clock for a connection may start a little before ours. */
#define HTTP_TIMEOUT_SLACK_MS 250

static const char http_too_large_format[] =
    "{\"success\":false,\"error\":\"request body is larger than the limit of "
    "%zu bytes\"}";
static const char http_stopping_body[] =
    "{\"success\":false,\"error\":\"the server is shutting down; "
    "retry on another connection\"}";

/* The library's messages that carry a meaning we count (0.9.75). */
static const char http_msg_limit[] = "Server reached connection limit";
static const char http_msg_error_response[] =
    "Error processing request (HTTP response code is ";
static const char http_msg_we_closed[] = "Application reported internal error";

int64_t http_now_ms(void)
{
    return (int64_t)(tw_monotonic_ns() / 1000000u);
}

void http_server_options_init(struct http_server_options *opts)
{
    *opts = (struct http_server_options){
        .host = "127.0.0.1",
        .port = 0,
        .threads = 0,
        .max_body_bytes = 512u * 1024u,
        .max_connections = 1024,
        .max_per_ip = 64,
        .idle_timeout_s = 30,
        .connection_memory_bytes = 32u * 1024u,
    };
}

/* ---------------------------------------------------------- options -- */

static int http_options_check(const struct http_server_options *opts)
{
    if (opts->handler == NULL) {
        return tw_err_set(TW_EINVAL, "http: no request handler was given");
    }
    if (opts->host == NULL) {
        return tw_err_set(TW_EINVAL, "http: no listen address was given");
    }
    if (opts->threads > HTTP_MAX_THREADS) {
        return tw_err_set(TW_EINVAL, "http: %u threads asked for; at most %u",
                          opts->threads, HTTP_MAX_THREADS);
    }
    if (opts->max_body_bytes == 0 ||
        opts->max_body_bytes > HTTP_MAX_BODY_BYTES) {
        return tw_err_set(TW_EINVAL,
                          "http: max_body_bytes %zu is outside 1..%u",
                          opts->max_body_bytes, HTTP_MAX_BODY_BYTES);
    }
    if (opts->max_connections == 0) {
        return tw_err_set(TW_EINVAL, "http: max_connections must be >= 1");
    }
    if (opts->idle_timeout_s == 0) {
        return tw_err_set(TW_EINVAL,
                          "http: idle_timeout_s must be >= 1 (a silent "
                          "client must not hold a connection forever)");
    }
    if (opts->connection_memory_bytes < HTTP_MIN_CONNECTION_MEMORY) {
        return tw_err_set(
            TW_EINVAL, "http: connection_memory_bytes %zu is below %u",
            opts->connection_memory_bytes, HTTP_MIN_CONNECTION_MEMORY);
    }
    return 0;
}

static unsigned http_thread_count(unsigned asked)
{
    long cores;

    if (asked > 0) {
        return asked;
    }
    cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) {
        return 1;
    }
    return cores > (long)HTTP_MAX_THREADS ? HTTP_MAX_THREADS : (unsigned)cores;
}

/* ------------------------------------------------------------ socket -- */

struct http_address {
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } u;
    socklen_t len;
};

static int http_address_parse(const char *host, uint16_t port,
                              struct http_address *addr)
{
    memset(addr, 0, sizeof(*addr));
    if (inet_pton(AF_INET, host, &addr->u.v4.sin_addr) == 1) {
        addr->u.v4.sin_family = AF_INET;
        addr->u.v4.sin_port = htons(port);
        addr->len = sizeof(addr->u.v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &addr->u.v6.sin6_addr) == 1) {
        addr->u.v6.sin6_family = AF_INET6;
        addr->u.v6.sin6_port = htons(port);
        addr->len = sizeof(addr->u.v6);
        return 0;
    }
    return tw_err_set(TW_EINVAL,
                      "http: listen address \"%s\" is not a numeric IPv4 or "
                      "IPv6 address (write 127.0.0.1 or ::1, not a name)",
                      host);
}

/* "127.0.0.1:8080" or "[::1]:8080", for messages. */
static void http_format_endpoint(char *buf, size_t size, const char *host,
                                 uint16_t port)
{
    if (strchr(host, ':') != NULL) {
        snprintf(buf, size, "[%s]:%u", host, port);
    } else {
        snprintf(buf, size, "%s:%u", host, port);
    }
}

static const char *http_bind_hint(int err)
{
    switch (err) {
    case EADDRINUSE:
        return "; another process listens there: stop it or choose "
               "another port";
    case EACCES:
        return "; ports below 1024 need privileges: choose a higher port";
    case EADDRNOTAVAIL:
        return "; no interface of this machine has that address";
    default:
        return "";
    }
}

/*
 * Binds and listens ourselves rather than through the library, so that a
 * failure names the address and the reason, and port 0 can be resolved.
 */
static int http_listen(struct http_server *server, const char *host,
                       uint16_t port)
{
    struct http_address addr;
    char endpoint[INET6_ADDRSTRLEN + 16];
    int one = 1;
    int fd;
    int rc = http_address_parse(host, port, &addr);

    if (rc < 0) {
        return rc;
    }
    http_format_endpoint(endpoint, sizeof(endpoint), host, port);
    fd = socket(addr.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        int err = errno;

        return tw_err_set(TW_EIO, "http: cannot create a socket for %s: %s",
                          endpoint, strerror(err));
    }
    /* A restart must not wait for the old connections' TIME_WAIT. */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, &addr.u.sa, addr.len) < 0 || listen(fd, SOMAXCONN) < 0) {
        int err = errno;

        close(fd);
        return tw_err_set(TW_EIO, "http: cannot listen on %s: %s%s", endpoint,
                          strerror(err), http_bind_hint(err));
    }
    if (getsockname(fd, &addr.u.sa, &addr.len) < 0) {
        int err = errno;

        close(fd);
        return tw_err_set(TW_EIO, "http: cannot read the port of %s: %s",
                          endpoint, strerror(err));
    }
    server->listen_fd = fd;
    server->port = ntohs(addr.u.sa.sa_family == AF_INET ? addr.u.v4.sin_port
                                                        : addr.u.v6.sin6_port);
    snprintf(server->host, sizeof(server->host), "%s", host);
    return 0;
}

/* ------------------------------------------------------- connections -- */

static void http_warn_refused(struct http_server *server,
                              struct obs_ratelimit *rl, const char *reason,
                              unsigned limit)
{
    uint64_t suppressed;

    if (obs_ratelimit_allow(rl, HTTP_WARN_INTERVAL_MS, &suppressed)) {
        OBS_LOG(OBS_WARN, "http", "connection refused",
                "reason=%s limit=%u refused_total=%" PRIu64
                " suppressed=%" PRIu64,
                reason, limit,
                atomic_load(&server->counters.connections_refused), suppressed);
    }
}

/*
 * Called for each accepted connection, before the library sets it up.
 * Two threads may both let a connection in when one slot is left, so the
 * count can exceed max_connections by at most threads - 1 for a moment;
 * counting a slot before the connection exists would instead leak the
 * slot whenever the library fails to set the connection up.
 */
static enum MHD_Result http_accept_cb(void *cls, const struct sockaddr *addr,
                                      socklen_t addrlen)
{
    struct http_server *server = cls;

    (void)addr;
    (void)addrlen;
    if (atomic_load_explicit(&server->counters.connections_open,
                             memory_order_relaxed) < server->max_connections) {
        return MHD_YES;
    }
    atomic_fetch_add_explicit(&server->counters.connections_refused, 1,
                              memory_order_relaxed);
    http_warn_refused(server, &server->warn_refused_total, "max_connections",
                      server->max_connections);
    return MHD_NO;
}

/* The peer's address as text; an IPv4 client of a dual-stack socket is
 * shown as IPv4, not as ::ffff:a.b.c.d. */
static void http_format_peer(struct MHD_Connection *conn, char *buf,
                             size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info == NULL ? NULL : info->client_addr;

    buf[0] = '\0';
    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &v4->sin_addr, buf, (socklen_t)size);
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;

        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], buf,
                      (socklen_t)size);
        } else {
            inet_ntop(AF_INET6, &v6->sin6_addr, buf, (socklen_t)size);
        }
    }
}

/* true while the peer has neither closed nor reset the connection. */
static bool http_peer_still_there(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char byte;
    ssize_t n;

    if (info == NULL) {
        return false;
    }
    n = recv(info->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

static bool http_closed_by_timeout(struct http_server *server,
                                   struct http_request *req)
{
    int64_t idle_ms = http_now_ms() - req->last_active_ms;
    int64_t timeout_ms = (int64_t)server->idle_timeout_s * 1000;

    if (atomic_load(&server->stopping)) {
        return false;
    }
    return idle_ms + HTTP_TIMEOUT_SLACK_MS >= timeout_ms &&
           http_peer_still_there(req->conn);
}

static void http_connection_opened(struct http_server *server,
                                   struct MHD_Connection *conn,
                                   void **socket_context)
{
    struct http_request *req = calloc(1, sizeof(*req));

    atomic_fetch_add_explicit(&server->counters.connections_accepted, 1,
                              memory_order_relaxed);
    atomic_fetch_add(&server->counters.connections_open, 1);
    *socket_context = req;
    if (req == NULL) {
        /* The first request on it is refused by closing (request.c). */
        return;
    }
    req->server = server;
    req->conn = conn;
    req->last_active_ms = http_now_ms();
    http_format_peer(conn, req->peer, sizeof(req->peer));
}

static void http_connection_closed(struct http_server *server,
                                   void **socket_context)
{
    struct http_request *req = *socket_context;

    if (req != NULL && http_closed_by_timeout(server, req)) {
        atomic_fetch_add_explicit(&server->counters.connections_timed_out, 1,
                                  memory_order_relaxed);
    }
    http_request_free(req);
    *socket_context = NULL;
    atomic_fetch_sub(&server->counters.connections_open, 1);
}

static void http_connection_cb(void *cls, struct MHD_Connection *conn,
                               void **socket_context,
                               enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        http_connection_opened(cls, conn, socket_context);
    } else {
        http_connection_closed(cls, socket_context);
    }
}

/* --------------------------------------------- the library's messages -- */

/* A status the library answered by itself (malformed request, headers
 * over the connection memory...). */
static void http_library_answered(struct http_server *server, unsigned status)
{
    uint64_t suppressed;

    http_count_response(server, status);
    if (status == 413) {
        atomic_fetch_add_explicit(&server->counters.bodies_too_large, 1,
                                  memory_order_relaxed);
    } else if (status == 431 || status == 414) {
        atomic_fetch_add_explicit(&server->counters.headers_too_large, 1,
                                  memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&server->counters.requests_malformed, 1,
                                  memory_order_relaxed);
    }
    /* A client's mistake: info, and rarely. */
    if (obs_ratelimit_allow(&server->warn_bad_request, HTTP_WARN_INTERVAL_MS,
                            &suppressed)) {
        OBS_LOG(OBS_INFO, "http", "request refused before the handler",
                "status=%u suppressed=%" PRIu64, status, suppressed);
    }
}

/* Most of the library's messages are about what a client sent, which is
 * worth an info line; those about our own resources are warnings. */
static enum obs_level http_library_message_level(const char *text)
{
    static const char *const ours[] = {"memory", "resource", "thread", "epoll",
                                       "system"};

    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
        if (strcasestr(text, ours[i]) != NULL) {
            return OBS_WARN;
        }
    }
    return OBS_INFO;
}

static void http_library_message(struct http_server *server, const char *fmt,
                                 va_list ap)
{
    char text[240];
    uint64_t suppressed;
    size_t n;

    vsnprintf(text, sizeof(text), fmt, ap);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '.')) {
        text[--n] = '\0';
    }
    for (char *p = text; *p != '\0'; p++) {
        if (*p == '"') {
            *p = '\'';
        }
    }
    if (!atomic_load(&server->started)) {
        snprintf(server->start_error, sizeof(server->start_error), "%s", text);
    }
    if (obs_ratelimit_allow(&server->warn_library, HTTP_WARN_INTERVAL_MS,
                            &suppressed)) {
        OBS_LOG(http_library_message_level(text), "http", "libmicrohttpd",
                "text=\"%s\" suppressed=%" PRIu64, text, suppressed);
    }
}

static void http_logger_cb(void *cls, const char *fmt, va_list ap)
{
    struct http_server *server = cls;

    if (strncmp(fmt, http_msg_limit, sizeof(http_msg_limit) - 1) == 0) {
        /* Our own total limit refuses first, so this is the per-IP one. */
        atomic_fetch_add_explicit(&server->counters.connections_refused, 1,
                                  memory_order_relaxed);
        http_warn_refused(server, &server->warn_refused_per_ip, "max_per_ip",
                          server->max_per_ip);
        return;
    }
    if (strncmp(fmt, http_msg_we_closed, sizeof(http_msg_we_closed) - 1) == 0) {
        /* We returned MHD_NO on purpose and said why where we did. */
        return;
    }
    if (strncmp(fmt, http_msg_error_response,
                sizeof(http_msg_error_response) - 1) == 0) {
        va_list copy;

        va_copy(copy, ap);
        unsigned status = va_arg(copy, unsigned);
        va_end(copy);
        http_library_answered(server, status);
        return;
    }
    http_library_message(server, fmt, ap);
}

/* ------------------------------------------------------ start, stop -- */

static struct MHD_Response *http_json_response(const char *body)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);

    if (response != NULL &&
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json") != MHD_YES) {
        MHD_destroy_response(response);
        return NULL;
    }
    return response;
}

static int http_prebuild_responses(struct http_server *server)
{
    char body[160];

    snprintf(body, sizeof(body), http_too_large_format, server->max_body_bytes);
    server->too_large_response = http_json_response(body);
    server->stopping_response = http_json_response(http_stopping_body);
    /* Also after a body that was read: this connection is done. */
    if (server->stopping_response != NULL &&
        MHD_add_response_header(server->stopping_response,
                                MHD_HTTP_HEADER_CONNECTION,
                                "close") != MHD_YES) {
        MHD_destroy_response(server->stopping_response);
        server->stopping_response = NULL;
    }
    if (server->too_large_response == NULL ||
        server->stopping_response == NULL) {
        return tw_err_set(TW_ENOMEM, "http: out of memory preparing answers");
    }
    return 0;
}

static int http_sync_init(struct http_server *server)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_mutex_init(&server->drain_lock, NULL) != 0) {
        return tw_err_set(TW_ENOMEM, "http: cannot create a mutex");
    }
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&server->drained, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&server->drain_lock);
        return tw_err_set(TW_ENOMEM, "http: cannot create a condition");
    }
    return 0;
}

static void http_server_free(struct http_server *server)
{
    if (server->too_large_response != NULL) {
        MHD_destroy_response(server->too_large_response);
    }
    if (server->stopping_response != NULL) {
        MHD_destroy_response(server->stopping_response);
    }
    if (server->listen_fd >= 0) {
        close(server->listen_fd);
    }
    pthread_cond_destroy(&server->drained);
    pthread_mutex_destroy(&server->drain_lock);
    free(server);
}

static int http_daemon_start(struct http_server *server, int family)
{
    char endpoint[INET6_ADDRSTRLEN + 16];
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    unsigned backstop = server->max_connections;
    struct MHD_OptionItem extra[2] = {{MHD_OPTION_END, 0, NULL},
                                      {MHD_OPTION_END, 0, NULL}};

    if (family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    if (backstop <= UINT_MAX / server->threads) {
        backstop *= server->threads;
    }
    /* The library warns about a pool of one; leave the option out. */
    if (server->threads > 1) {
        extra[0] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                           (intptr_t)server->threads, NULL};
    }
    server->daemon = MHD_start_daemon(
        flags, 0, http_accept_cb, server, http_access_cb, server,
        /* First, or the library prints some messages itself. */
        MHD_OPTION_EXTERNAL_LOGGER, http_logger_cb, server,
        MHD_OPTION_LISTEN_SOCKET, server->listen_fd,
        MHD_OPTION_NOTIFY_COMPLETED, http_completed_cb, server,
        MHD_OPTION_NOTIFY_CONNECTION, http_connection_cb, server,
        MHD_OPTION_CONNECTION_LIMIT, backstop,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, server->max_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, server->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, server->connection_memory_bytes,
        MHD_OPTION_ARRAY, extra, MHD_OPTION_END);
    if (server->daemon == NULL) {
        /* A daemon that failed after taking the socket has closed it;
         * our fixed options cannot fail before that point. */
        server->listen_fd = -1;
        http_format_endpoint(endpoint, sizeof(endpoint), server->host,
                             server->port);
        return tw_err_set(TW_EIO, "http: cannot start serving %s: %s", endpoint,
                          server->start_error[0] != '\0'
                              ? server->start_error
                              : "libmicrohttpd gave no reason");
    }
    atomic_store(&server->started, true);
    return 0;
}

int http_server_start(const struct http_server_options *opts,
                      struct http_server **out)
{
    struct http_server *server;
    struct http_address addr;
    int rc = http_options_check(opts);

    *out = NULL;
    if (rc < 0) {
        return rc;
    }
    rc = http_address_parse(opts->host, opts->port, &addr);
    if (rc < 0) {
        return rc;
    }
    server = calloc(1, sizeof(*server));
    if (server == NULL) {
        return tw_err_set(TW_ENOMEM, "http: out of memory");
    }
    server->listen_fd = -1;
    rc = http_sync_init(server);
    if (rc < 0) {
        free(server);
        return rc;
    }
    server->handler = opts->handler;
    server->handler_ctx = opts->handler_ctx;
    server->threads = http_thread_count(opts->threads);
    server->max_body_bytes = opts->max_body_bytes;
    server->max_connections = opts->max_connections;
    server->max_per_ip = opts->max_per_ip;
    server->idle_timeout_s = opts->idle_timeout_s;
    server->connection_memory_bytes = opts->connection_memory_bytes;

    rc = http_prebuild_responses(server);
    if (rc == 0) {
        rc = http_listen(server, opts->host, opts->port);
    }
    if (rc == 0) {
        rc = http_daemon_start(server, addr.u.sa.sa_family);
    }
    if (rc < 0) {
        http_server_free(server);
        return rc;
    }
    OBS_LOG(OBS_INFO, "http", "listening",
            "host=%s port=%u threads=%u max_connections=%u max_per_ip=%u "
            "max_body_bytes=%zu idle_timeout_s=%u",
            server->host, server->port, server->threads,
            server->max_connections, server->max_per_ip, server->max_body_bytes,
            server->idle_timeout_s);
    *out = server;
    return 0;
}

uint16_t http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_signal_drain(struct http_server *server)
{
    if (atomic_load(&server->stopping)) {
        pthread_mutex_lock(&server->drain_lock);
        pthread_cond_broadcast(&server->drained);
        pthread_mutex_unlock(&server->drain_lock);
    }
}

/* Waits for the owner's answers to every parked request, then (for at
 * most HTTP_DRAIN_MS) for the answers to be written. */
static void http_server_drain(struct http_server *server)
{
    uint64_t parked = atomic_load(&server->counters.requests_parked);
    struct timespec deadline;

    if (parked > 0) {
        OBS_LOG(OBS_INFO, "http", "waiting for parked requests",
                "parked=%" PRIu64, parked);
    }
    pthread_mutex_lock(&server->drain_lock);
    while (atomic_load(&server->counters.requests_parked) > 0) {
        pthread_cond_wait(&server->drained, &server->drain_lock);
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += HTTP_DRAIN_MS / 1000;
    deadline.tv_nsec += (long)(HTTP_DRAIN_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (atomic_load(&server->counters.requests_in_flight) > 0) {
        if (pthread_cond_timedwait(&server->drained, &server->drain_lock,
                                   &deadline) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&server->drain_lock);
}

void http_server_stop(struct http_server *server)
{
    struct http_stats stats;

    if (server == NULL) {
        return;
    }
    /* The listening socket stays ours to close, after the daemon. */
    (void)MHD_quiesce_daemon(server->daemon);
    atomic_store(&server->stopping, true);
    http_server_drain(server);
    MHD_stop_daemon(server->daemon);

    http_server_stats(server, &stats);
    OBS_LOG(OBS_INFO, "http", "stopped",
            "host=%s port=%u requests=%" PRIu64 " connections_accepted=%" PRIu64
            " connections_refused=%" PRIu64,
            server->host, server->port, stats.requests,
            stats.connections_accepted, stats.connections_refused);
    http_server_free(server);
}

void http_server_stats(struct http_server *server, struct http_stats *stats)
{
    const struct http_counters *c = &server->counters;

    *stats = (struct http_stats){
        .connections_accepted = atomic_load(&c->connections_accepted),
        .connections_refused = atomic_load(&c->connections_refused),
        .connections_timed_out = atomic_load(&c->connections_timed_out),
        .connections_open = atomic_load(&c->connections_open),
        .requests = atomic_load(&c->requests),
        .requests_parked = atomic_load(&c->requests_parked),
        .bodies_too_large = atomic_load(&c->bodies_too_large),
        .headers_too_large = atomic_load(&c->headers_too_large),
        .requests_malformed = atomic_load(&c->requests_malformed),
        .body_bytes = atomic_load(&c->body_bytes),
    };
    for (int i = 0; i < 6; i++) {
        stats->responses[i] = atomic_load(&c->responses[i]);
    }
}
