/*
 * arena.h - the memory of a compiled schema: allocated piecewise while
 * compiling, freed at once with the schema.
 *
 * A compiled schema is built once and never changes, so its nodes,
 * keywords, names and location strings come from large blocks with a
 * bump pointer instead of one malloc each. The arena has a ceiling; an
 * allocation beyond it fails like an out-of-memory one.
 */
#ifndef TW_SCHEMA_ARENA_H
#define TW_SCHEMA_ARENA_H

#include <stddef.h>

/* The most memory one compiled schema may take. */
#define SCHEMA_ARENA_MAX_BYTES (256u << 20)

struct schema_arena_block;

struct schema_arena {
    struct schema_arena_block *head;
    size_t total; /* bytes taken from malloc so far */
};

/* size bytes, zeroed, aligned for any type; NULL when out of memory or
 * over SCHEMA_ARENA_MAX_BYTES. Owned by the arena. */
void *schema_arena_alloc(struct schema_arena *arena, size_t size);

/* n elements of size bytes each, checked for overflow. */
void *schema_arena_array(struct schema_arena *arena, size_t n, size_t size);

/* A NUL-terminated copy of len bytes (which may hold NULs themselves). */
char *schema_arena_strndup(struct schema_arena *arena, const char *s,
                           size_t len);

/* Frees every block; the arena is empty and usable again. */
void schema_arena_free(struct schema_arena *arena);

#endif
