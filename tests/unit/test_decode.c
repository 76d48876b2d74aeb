/*
 * test_decode.c - gzip and base64 bodies (collect/decode.h): what SDKs
 * send decodes exactly, damage is refused with a reason, and a gzip bomb
 * stops at the ceiling.
 */
#include <criterion/criterion.h>

#include <string.h>
#include <zlib.h>

#include "collect/decode.h"

static size_t gzip_of(const char *text, size_t len, unsigned char *out,
                      size_t size)
{
    z_stream zs;

    memset(&zs, 0, sizeof(zs));
    cr_assert_eq(
        deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
        Z_OK);
    zs.next_in = (Bytef *)text;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)size;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    deflateEnd(&zs);
    return size - zs.avail_out;
}

Test(decode, a_gzip_body_inflates_to_its_text)
{
    static const char text[] = "{\"batch\":[{\"type\":\"track\"}]}";
    unsigned char gz[256];
    size_t n = gzip_of(text, strlen(text), gz, sizeof(gz));
    struct tw_buf out;

    tw_buf_init(&out, 1024);
    cr_assert_eq(decode_gzip(gz, n, &out), 0, "%s", tw_err_message());
    cr_assert_eq(out.len, strlen(text));
    cr_assert_str_eq(out.data, text);
    tw_buf_free(&out);
}

Test(decode, a_gzip_bomb_stops_at_the_ceiling)
{
    static char zeros[1 << 20];
    static unsigned char gz[1 << 16];
    size_t n = gzip_of(zeros, sizeof(zeros), gz, sizeof(gz));
    struct tw_buf out;

    tw_buf_init(&out, 64 * 1024);
    cr_assert_lt(n, 4096, "a megabyte of zeros compresses well");
    cr_assert_eq(decode_gzip(gz, n, &out), TW_EFULL);
    cr_assert_leq(out.len, 64 * 1024);
    tw_buf_free(&out);
}

Test(decode, a_cut_or_damaged_gzip_body_is_refused)
{
    static const char text[] = "a fairly ordinary body of text to squeeze";
    unsigned char gz[256];
    size_t n = gzip_of(text, strlen(text), gz, sizeof(gz));
    struct tw_buf out;

    tw_buf_init(&out, 1024);
    cr_assert_eq(decode_gzip(gz, n - 5, &out), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "ends too early"), "%s",
              tw_err_message());
    gz[12] ^= 0xff;
    cr_assert_eq(decode_gzip(gz, n, &out), TW_EINVAL);
    cr_assert_eq(decode_gzip("plain", 5, &out), TW_EINVAL);
    tw_buf_free(&out);
}

Test(decode, base64_in_either_alphabet_with_or_without_padding)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"aGVsbG8=", "hello"},
        {"aGVsbG8", "hello"},
        {"Pz8_", "???"},
        {"Pz8/", "???"},
        {"", ""},
        {"YQ==", "a"},
        {"d2s6", "wk:"},
        {"fn5-", "~~~"},
        {"fn5+", "~~~"},
    };
    struct tw_buf out;

    tw_buf_init(&out, 64);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(decode_base64(cases[i].in, strlen(cases[i].in), &out), 0,
                     "%s: %s", cases[i].in, tw_err_message());
        cr_assert_eq(out.len, strlen(cases[i].out), "%s", cases[i].in);
        cr_assert(memcmp(out.data != NULL ? out.data : "", cases[i].out,
                         out.len) == 0,
                  "%s", cases[i].in);
    }
    tw_buf_free(&out);
}

Test(decode, bad_base64_is_refused_with_its_place)
{
    struct tw_buf out;

    tw_buf_init(&out, 64);
    cr_assert_eq(decode_base64("aGV*bG8", 7, &out), TW_EINVAL);
    cr_assert(strstr(tw_err_message(), "byte 3"), "%s", tw_err_message());
    cr_assert_eq(decode_base64("a", 1, &out), TW_EINVAL);
    cr_assert_eq(decode_base64("YQ===", 5, &out), TW_EINVAL);
    cr_assert_eq(decode_base64("aGVsbG8gd29ybGQ", 15, &out), 0);
    tw_buf_free(&out);
    tw_buf_init(&out, 4);
    cr_assert_eq(decode_base64("aGVsbG8gd29ybGQ", 15, &out), TW_EFULL);
    tw_buf_free(&out);
}
