/*
 * http_client.c - posting batches to a collector with retries
 * (http_client.h).
 */
#include "cli/http_client.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "common/clock.h"
#include "common/units.h"

#define HTTP_ANSWER_MAX (64u * 1024)
#define HTTP_KEY_MAX 512
/* How much of a refusing answer a message quotes. */
#define HTTP_QUOTE_MAX 300

struct http_client {
    struct http_client_opts o;
    char *url;
    CURL *curl;
    struct curl_slist *headers;
    struct tw_buf packed;
    struct tw_buf answer;
    char userpwd[HTTP_KEY_MAX + 2];
    struct http_client_stats stats;
};

static size_t answer_cb(char *data, size_t size, size_t n, void *ctx)
{
    tw_buf_append(ctx, data, size * n);
    return size * n;
}

/* The batch endpoint under a base URL: "http://h:p" -> ".../v1/batch". */
static char *batch_url(const char *base)
{
    const char *path = strstr(base, "://");
    char *url;

    path = path != NULL ? strchr(path + 3, '/') : NULL;
    if (path != NULL && strcmp(path, "/") != 0) {
        return strdup(base);
    }
    if (asprintf(&url, "%.*s/v1/batch",
                 (int)(path != NULL ? (size_t)(path - base) : strlen(base)),
                 base) < 0) {
        return NULL;
    }
    return url;
}

int http_client_new(const struct http_client_opts *opts, const char *url,
                    struct http_client **out)
{
    struct http_client *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (c == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        free(c);
        return tw_err_set(TW_ENOMEM, "cannot start the HTTP client");
    }
    c->o = *opts;
    c->url = batch_url(url);
    c->curl = curl_easy_init();
    if (c->url == NULL || c->curl == NULL) {
        http_client_free(c);
        return tw_err_set(TW_ENOMEM, "cannot start the HTTP client");
    }
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->o.gzip) {
        c->headers = curl_slist_append(c->headers, "Content-Encoding: gzip");
    }
    c->headers = curl_slist_append(c->headers, "Expect:");
    curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, answer_cb);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->answer);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, c->o.agent);
    tw_buf_init(&c->packed, 2 * c->o.max_body + 1024);
    tw_buf_init(&c->answer, HTTP_ANSWER_MAX);
    *out = c;
    return 0;
}

void http_client_free(struct http_client *c)
{
    if (c == NULL) {
        return;
    }
    tw_buf_free(&c->packed);
    tw_buf_free(&c->answer);
    curl_slist_free_all(c->headers);
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
    }
    curl_global_cleanup();
    free(c->url);
    free(c);
}

void http_client_set_key(struct http_client *c, const char *key)
{
    snprintf(c->userpwd, sizeof(c->userpwd), "%s:", key);
    curl_easy_setopt(c->curl, CURLOPT_USERPWD, c->userpwd);
}

static int gzip_body(struct http_client *c, const char *body, size_t len)
{
    z_stream zs;
    int rc;

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return -1;
    }
    tw_buf_reset(&c->packed);
    size_t bound = deflateBound(&zs, len);
    char *out = malloc(bound);
    if (out == NULL) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)body;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)bound;
    rc = deflate(&zs, Z_FINISH);
    tw_buf_append(&c->packed, out, bound - zs.avail_out);
    free(out);
    deflateEnd(&zs);
    return rc == Z_STREAM_END && c->packed.status == 0 ? 0 : -1;
}

/* Sleeps before attempt n (1, 2, ...): full jitter over an exponential
 * ceiling, or what Retry-After asked for when it asked for more. */
static void backoff(unsigned attempt, long retry_after_s)
{
    uint64_t ceiling_ms = 100ull << (attempt > 8 ? 8 : attempt);
    uint64_t wait_ms = (uint64_t)rand() % (ceiling_ms + 1);
    struct timespec ts;

    if (retry_after_s > 0 && (uint64_t)retry_after_s * 1000 > wait_ms) {
        wait_ms = (uint64_t)retry_after_s * 1000;
    }
    ts.tv_sec = (time_t)(wait_ms / 1000);
    ts.tv_nsec = (long)(wait_ms % 1000) * 1000000;
    nanosleep(&ts, NULL);
}

/* One attempt: the HTTP status, or 0 after a network error. */
static long post_once(struct http_client *c, const char *data, size_t len,
                      long *retry_after_s)
{
    struct curl_header *h;
    long status = 0;
    CURLcode rc;

    tw_buf_reset(&c->answer);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    rc = curl_easy_perform(c->curl);
    c->stats.requests++;
    *retry_after_s = 0;
    if (rc != CURLE_OK) {
        fprintf(stderr, "%strackway %s: %s: %s\n", c->o.progress ? "\n" : "",
                c->o.cmd, c->url, curl_easy_strerror(rc));
        return 0;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (curl_easy_header(c->curl, "Retry-After", 0, CURLH_HEADER, -1, &h) ==
        CURLHE_OK) {
        *retry_after_s = atol(h->value);
    }
    return status;
}

long http_client_post(struct http_client *c, const char *body, size_t len)
{
    long status = 0;
    long retry_after_s = 0;

    if (c->o.gzip && gzip_body(c, body, len) == 0) {
        body = c->packed.data;
        len = c->packed.len;
    }
    for (unsigned attempt = 0; attempt <= c->o.retries; attempt++) {
        if (attempt > 0) {
            c->stats.retried++;
            backoff(attempt, retry_after_s);
        }
        status = post_once(c, body, len, &retry_after_s);
        if (status != 0 && status != 429 && status < 500) {
            break;
        }
    }
    if (status == 200) {
        c->stats.ok++;
    }
    return status;
}

void http_client_stats(const struct http_client *c,
                       struct http_client_stats *out)
{
    *out = c->stats;
}

void http_batch_init(struct http_batch *b, size_t max_events, size_t max_bytes,
                     size_t ceiling, bool sent_at)
{
    *b = (struct http_batch){
        .max_events = max_events, .max_bytes = max_bytes, .sent_at = sent_at};
    tw_buf_init(&b->body, ceiling);
}

void http_batch_free(struct http_batch *b)
{
    tw_buf_free(&b->body);
}

bool http_batch_full(const struct http_batch *b, size_t len)
{
    /* Two bytes more: the comma before the event and the closing "]}". */
    return b->events > 0 &&
           (b->events >= b->max_events || b->body.len + len + 2 > b->max_bytes);
}

struct tw_buf *http_batch_add(struct http_batch *b)
{
    char now[TW_TIME_TEXT_MAX];

    if (b->events > 0) {
        tw_buf_putc(&b->body, ',');
    } else if (b->sent_at) {
        tw_format_time(tw_now_ms(), now, sizeof(now));
        tw_buf_printf(&b->body, "{\"sentAt\":\"%s\",\"batch\":[", now);
    } else {
        tw_buf_puts(&b->body, "{\"batch\":[");
    }
    b->events++;
    return &b->body;
}

long http_client_post_batch(struct http_client *c, struct http_batch *b,
                            const char *whose)
{
    size_t quoted;
    long status;

    if (b->events == 0) {
        return 200;
    }
    tw_buf_puts(&b->body, "]}");
    /* A body cut short by memory is never posted: the collector would
     * refuse it, and the events are counted as not taken either way. */
    status = tw_buf_status(&b->body) == 0
                 ? http_client_post(c, b->body.data, b->body.len)
                 : -1;
    if (status == 200) {
        b->taken += b->events;
    } else {
        b->not_taken += b->events;
        fprintf(stderr,
                "%strackway %s: a batch of %zu events%s was not taken: ",
                c->o.progress ? "\n" : "", c->o.cmd, b->events, whose);
        if (status == -1) {
            fprintf(stderr, "out of memory for its body\n");
        } else if (status == 0) {
            fprintf(stderr, "no answer from %s\n", c->url);
        } else {
            quoted =
                c->answer.len < HTTP_QUOTE_MAX ? c->answer.len : HTTP_QUOTE_MAX;
            fprintf(stderr, "HTTP %ld %.*s\n", status, (int)quoted,
                    quoted > 0 ? c->answer.data : "");
        }
    }
    b->events = 0;
    tw_buf_reset(&b->body);
    return status;
}
