/*
 * clientip.c - the client's address for context.ip.
 *
 * The peer of the connection is the client, unless it is one of the
 * configured trusted proxies (server.trusted_proxies, exact addresses).
 * Then X-Forwarded-For is read from the right, skipping trusted proxies,
 * and the first other address is the client: entries further left were
 * written by the client itself and prove nothing. With anonymize_ip the
 * last octet of IPv4 and the last 80 bits of IPv6 are zeroed.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "collect/internal.h"

static bool trusted(const struct collector *c, const char *addr)
{
    const struct cfg_server *s = &c->config->server;

    for (size_t i = 0; i < s->trusted_proxy_count; i++) {
        if (strcmp(s->trusted_proxies[i], addr) == 0) {
            return true;
        }
    }
    return false;
}

/* Copies the address in text[0..len), trimmed, into out if it is one. */
static bool take_address(const char *text, size_t len, char *out, size_t size)
{
    unsigned char raw[16];

    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t')) {
        len--;
    }
    if (len == 0 || len >= size) {
        return false;
    }
    memcpy(out, text, len);
    out[len] = '\0';
    return inet_pton(AF_INET, out, raw) == 1 ||
           inet_pton(AF_INET6, out, raw) == 1;
}

static bool forwarded_client(const struct collector *c, const char *xff,
                             char *out, size_t size)
{
    size_t end = strlen(xff);

    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',') {
            start--;
        }
        if (!take_address(xff + start, end - start, out, size)) {
            return false;
        }
        if (!trusted(c, out)) {
            return true;
        }
        end = start > 0 ? start - 1 : 0;
    }
    return false;
}

static void anonymize(char *addr, size_t size)
{
    unsigned char raw[16];

    if (inet_pton(AF_INET, addr, raw) == 1) {
        raw[3] = 0;
        inet_ntop(AF_INET, raw, addr, (socklen_t)size);
    } else if (inet_pton(AF_INET6, addr, raw) == 1) {
        memset(raw + 6, 0, 10);
        inet_ntop(AF_INET6, raw, addr, (socklen_t)size);
    }
}

bool collect_client_ip(const struct collector *c, struct http_request *request,
                       char *out, size_t size)
{
    const char *peer = http_request_peer(request);
    const char *xff;

    if (peer == NULL || peer[0] == '\0') {
        return false;
    }
    snprintf(out, size, "%s", peer);
    if (trusted(c, peer)) {
        xff = http_request_header(request, "X-Forwarded-For");
        if (xff != NULL && !forwarded_client(c, xff, out, size)) {
            snprintf(out, size, "%s", peer);
        }
    }
    if (c->config->server.anonymize_ip) {
        anonymize(out, size);
    }
    return true;
}
