/*
 * fuzz_sink_http_answer.c - libFuzzer target for what the HTTP sink reads
 * from a destination's answer: the Retry-After value and the body whose
 * start becomes a dead-lettered batch's detail.
 *
 * The first byte picks the excerpt's room (1 to 256 bytes); the rest is
 * both the answer body and, up to its first NUL, a Retry-After value.
 * Invariants: a delay is -1 or within 0 ... SINK_HTTP_RETRY_AFTER_MAX_MS;
 * an excerpt fits its room, is NUL-terminated at its length, holds no
 * control character, is as long as the part of the input it stands for,
 * and is its own excerpt (so it is valid UTF-8 that the excerpt keeps
 * whole).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sinks/http_answer.h"

#define FUZZ_NOW_MS 1764842400000LL

static void fuzz_retry_after(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    int64_t ms;

    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    ms = sink_http_retry_after_ms(text, FUZZ_NOW_MS);
    FUZZ_CHECK(ms == -1 || (ms >= 0 && ms <= SINK_HTTP_RETRY_AFTER_MAX_MS));
    ms = sink_http_retry_after_ms(text, 0);
    FUZZ_CHECK(ms == -1 || (ms >= 0 && ms <= SINK_HTTP_RETRY_AFTER_MAX_MS));
    free(text);
}

static void fuzz_excerpt(size_t room, const uint8_t *data, size_t size)
{
    char out[257];
    char again[257];
    bool cut = false;
    bool cut_again = true;
    size_t n = sink_http_excerpt(out, room, (const char *)data, size, &cut);

    FUZZ_CHECK(n < room);
    FUZZ_CHECK(out[n] == '\0' && strlen(out) == n);
    /* Every byte kept is one byte out ('?' and ' ' stand in for one), so
     * what was left out is exactly what the length says. */
    FUZZ_CHECK(cut == (n < size) && n <= size);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];

        FUZZ_CHECK(c >= 0x20 && c != 0x7f);
    }
    FUZZ_CHECK(sink_http_excerpt(again, sizeof(again), out, n, &cut_again) ==
               n);
    FUZZ_CHECK(!cut_again && memcmp(again, out, n + 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    fuzz_retry_after(data + 1, size - 1);
    fuzz_excerpt((size_t)data[0] + 1, data + 1, size - 1);
    return 0;
}
