/* decode.c - gzip through zlib, and base64 (decode.h). */
#include "collect/decode.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

int decode_gzip(const void *in, size_t len, struct tw_buf *out)
{
    unsigned char chunk[16384];
    z_stream zs;
    int zrc;
    int rc = 0;

    tw_buf_reset(out);
    memset(&zs, 0, sizeof(zs));
    /* 32 + MAX_WBITS: accept gzip and zlib headers alike. */
    if (inflateInit2(&zs, 32 + MAX_WBITS) != Z_OK) {
        return tw_err_set(TW_ENOMEM, "cannot start inflating the body");
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    do {
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        zrc = inflate(&zs, Z_NO_FLUSH);
        if (zrc != Z_OK && zrc != Z_STREAM_END) {
            rc = tw_err_set(TW_EINVAL, "the gzip body is damaged: %s",
                            zs.msg != NULL ? zs.msg : "stream error");
            goto end;
        }
        tw_buf_append(out, chunk, sizeof(chunk) - zs.avail_out);
        if (out->status != 0) {
            rc = out->status == TW_EFULL
                     ? tw_err_set(TW_EFULL,
                                  "the gzip body inflates past the limit "
                                  "of %zu bytes",
                                  out->max)
                     : tw_err_set(TW_ENOMEM, "out of memory inflating");
            goto end;
        }
        if (zrc != Z_STREAM_END && zs.avail_in == 0 && zs.avail_out != 0) {
            rc = tw_err_set(TW_EINVAL, "the gzip body ends too early");
            goto end;
        }
    } while (zrc != Z_STREAM_END);
    if (zs.avail_in != 0) {
        rc = tw_err_set(TW_EINVAL, "the gzip body has %u bytes after its end",
                        zs.avail_in);
    }
end:
    inflateEnd(&zs);
    return rc;
}

/* The value of a base64 character in either alphabet, or -1. */
static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

int decode_base64(const char *in, size_t len, struct tw_buf *out)
{
    uint32_t bits = 0;
    int have = 0;
    size_t end = len;

    tw_buf_reset(out);
    while (end > 0 && in[end - 1] == '=') {
        end--;
    }
    if (len - end > 2) {
        return tw_err_set(TW_EINVAL, "base64 has too much '=' padding");
    }
    for (size_t i = 0; i < end; i++) {
        int v = base64_value((unsigned char)in[i]);

        if (v < 0) {
            return tw_err_set(TW_EINVAL,
                              "base64 has an invalid character at byte %zu", i);
        }
        bits = (bits << 6) | (uint32_t)v;
        have += 6;
        if (have >= 8) {
            have -= 8;
            tw_buf_putc(out, (char)((bits >> have) & 0xff));
        }
    }
    /* One character left over carries under a byte: the text was cut. */
    if (have == 6) {
        return tw_err_set(TW_EINVAL, "base64 text is cut short");
    }
    if (out->status != 0) {
        return tw_buf_status(out);
    }
    return 0;
}
