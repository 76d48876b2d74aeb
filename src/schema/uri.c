/*
 * uri.c - RFC 3986 reference resolution and normal form (uri.h), on
 * uriparser (Debian's liburiparser), which implements the RFC's grammar,
 * its resolution algorithm and syntax-based normalisation.
 */
#include <stdlib.h>
#include <string.h>

#include <uriparser/Uri.h>

#include "schema/uri.h"

/* Parses len bytes as a URI reference; false when they are not one. */
static bool uri_parse(UriUriA *uri, const char *text, size_t len)
{
    const char *error_pos;

    if (memchr(text, '\0', len) != NULL) {
        return false;
    }
    return uriParseSingleUriExA(uri, text, text + len, &error_pos) ==
           URI_SUCCESS;
}

/* The URI as text, normalised, without an empty fragment; malloc'd. */
static int uri_to_string(UriUriA *uri, char **out)
{
    int needed = 0;
    char *text;
    size_t len;

    if (uriNormalizeSyntaxA(uri) != URI_SUCCESS ||
        uriToStringCharsRequiredA(uri, &needed) != URI_SUCCESS) {
        return tw_err_set(TW_ENOMEM, "out of memory normalising a URI");
    }
    text = malloc((size_t)needed + 1);
    if (text == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory normalising a URI");
    }
    if (uriToStringA(text, uri, needed + 1, NULL) != URI_SUCCESS) {
        free(text);
        return tw_err_set(TW_ENOMEM, "out of memory normalising a URI");
    }
    len = strlen(text);
    if (len > 0 && text[len - 1] == '#') {
        text[len - 1] = '\0';
    }
    *out = text;
    return 0;
}

/*
 * A reference that is only a fragment keeps the base and replaces its
 * fragment. It is joined here as text rather than parsed, because JSON
 * Pointer fragments in schemas are often not strict URI syntax (quotes,
 * non-ASCII names) yet mean something plain.
 */
static int uri_with_fragment(const char *base, const char *ref, size_t len,
                             char **out)
{
    size_t base_len;
    char *text;

    (void)schema_uri_fragment(base, &base_len);
    text = malloc(base_len + len + 1);
    if (text == NULL) {
        return tw_err_set(TW_ENOMEM, "out of memory resolving a URI");
    }
    memcpy(text, base, base_len);
    memcpy(text + base_len, ref, len);
    text[base_len + len] = '\0';
    if (len == 1) {
        text[base_len] = '\0'; /* "#" alone: no fragment */
    }
    *out = text;
    return 0;
}

int schema_uri_resolve(const char *base, const char *ref, size_t ref_len,
                       char **out)
{
    UriUriA base_uri;
    UriUriA ref_uri;
    UriUriA result;
    int rc;

    *out = NULL;
    if (ref_len > 0 && ref[0] == '#' && memchr(ref, '\0', ref_len) == NULL) {
        return uri_with_fragment(base, ref, ref_len, out);
    }
    if (!uri_parse(&ref_uri, ref, ref_len)) {
        return tw_err_set(TW_EINVAL, "\"%.*s\" is not a URI reference",
                          (int)(ref_len > 200 ? 200 : ref_len), ref);
    }
    if (!uri_parse(&base_uri, base, strlen(base))) {
        uriFreeUriMembersA(&ref_uri);
        return tw_err_set(TW_EINVAL, "base URI \"%s\" is not a URI", base);
    }
    rc = uriAddBaseUriExA(&result, &ref_uri, &base_uri, URI_RESOLVE_STRICTLY);
    if (rc != URI_SUCCESS) {
        rc = tw_err_set(TW_EINVAL, "\"%.*s\" cannot be resolved against %s",
                        (int)(ref_len > 200 ? 200 : ref_len), ref, base);
        goto free_parsed;
    }
    rc = uri_to_string(&result, out);
    uriFreeUriMembersA(&result);

free_parsed:
    uriFreeUriMembersA(&base_uri);
    uriFreeUriMembersA(&ref_uri);
    return rc;
}

bool schema_uri_is_absolute(const char *text, size_t len)
{
    UriUriA uri;
    bool absolute;

    if (!uri_parse(&uri, text, len)) {
        return false;
    }
    absolute = uri.scheme.first != NULL;
    uriFreeUriMembersA(&uri);
    return absolute;
}

const char *schema_uri_fragment(const char *uri, size_t *base_len)
{
    const char *hash = strchr(uri, '#');

    *base_len = hash != NULL ? (size_t)(hash - uri) : strlen(uri);
    return hash != NULL ? hash + 1 : NULL;
}

static int uri_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

size_t schema_uri_unescape(const char *text, size_t len, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        int hi = -1;
        int lo = -1;

        if (text[i] == '%' && len - i > 2) {
            hi = uri_hex(text[i + 1]);
            lo = uri_hex(text[i + 2]);
        }
        if (hi >= 0 && lo >= 0) {
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = text[i];
        }
    }
    out[n] = '\0';
    return n;
}
