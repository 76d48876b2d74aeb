/*
 * fuzz.h - what every libFuzzer target here shares.
 *
 * FUZZ_CHECK stops the fuzzer on a broken invariant with a trap, which
 * libFuzzer reports as a crash with the input that caused it; an assert
 * would do the same but vanish in a build with NDEBUG.
 */
#ifndef TW_FUZZ_FUZZ_H
#define TW_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            __builtin_trap();                                                  \
        }                                                                      \
    } while (0)

/* libFuzzer's entry point, declared for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
