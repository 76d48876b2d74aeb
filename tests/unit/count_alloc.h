/*
 * count_alloc.h - counting every malloc, calloc and realloc of a test
 * process, for tests that show a hot path allocates nothing.
 *
 * Include it in exactly one file of a test binary: it defines malloc,
 * calloc and realloc, which then take precedence over libc's for every
 * library of the process, and count while counting is on. ASan replaces
 * the allocator itself, so under ASan nothing is defined and
 * COUNT_ALLOC_AVAILABLE is 0; tests skip there.
 */
#ifndef TW_TEST_COUNT_ALLOC_H
#define TW_TEST_COUNT_ALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define COUNT_ALLOC_AVAILABLE 0
#else
#define COUNT_ALLOC_AVAILABLE 1

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);

static atomic_bool count_alloc_on;
static atomic_long count_alloc_calls;

static inline void count_alloc_note(void)
{
    if (atomic_load(&count_alloc_on)) {
        atomic_fetch_add(&count_alloc_calls, 1);
    }
}

void *malloc(size_t size)
{
    count_alloc_note();
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count_alloc_note();
    return __libc_calloc(n, size);
}

void *realloc(void *ptr, size_t size)
{
    count_alloc_note();
    return __libc_realloc(ptr, size);
}

/* Starts counting from zero. */
static inline void count_alloc_start(void)
{
    atomic_store(&count_alloc_calls, 0);
    atomic_store(&count_alloc_on, true);
}

/* Stops counting and says how many calls there were. */
static inline long count_alloc_stop(void)
{
    atomic_store(&count_alloc_on, false);
    return atomic_load(&count_alloc_calls);
}
#endif

#endif
