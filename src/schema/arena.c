/*
 * arena.c - bump allocation in blocks for compiled schemas (arena.h).
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/arena.h"

/* Most allocations are small; a large one gets a block of its own. */
#define ARENA_BLOCK_BYTES (64u << 10)

struct schema_arena_block {
    struct schema_arena_block *next;
    size_t used;
    size_t size;
    alignas(max_align_t) unsigned char data[];
};

static struct schema_arena_block *arena_block_new(struct schema_arena *arena,
                                                  size_t size)
{
    struct schema_arena_block *block;

    if (size > SCHEMA_ARENA_MAX_BYTES - arena->total) {
        return NULL;
    }
    block = malloc(sizeof(*block) + size);
    if (block == NULL) {
        return NULL;
    }
    block->used = 0;
    block->size = size;
    block->next = arena->head;
    arena->head = block;
    arena->total += size;
    return block;
}

void *schema_arena_alloc(struct schema_arena *arena, size_t size)
{
    struct schema_arena_block *block = arena->head;
    size_t align = alignof(max_align_t);
    size_t need = (size + align - 1) & ~(align - 1);
    void *p;

    if (size > SCHEMA_ARENA_MAX_BYTES) {
        return NULL;
    }
    if (block == NULL || block->size - block->used < need) {
        block = arena_block_new(
            arena, need > ARENA_BLOCK_BYTES / 4 ? need : ARENA_BLOCK_BYTES);
        if (block == NULL) {
            return NULL;
        }
        /* A block of its own goes behind the current one, which may still
         * have room for the small allocations that follow. */
        if (need > ARENA_BLOCK_BYTES / 4 && block->next != NULL) {
            struct schema_arena_block *current = block->next;

            arena->head = current;
            block->next = current->next;
            current->next = block;
        }
    }
    p = block->data + block->used;
    block->used += need;
    memset(p, 0, size);
    return p;
}

void *schema_arena_array(struct schema_arena *arena, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    return schema_arena_alloc(arena, n * size == 0 ? 1 : n * size);
}

char *schema_arena_strndup(struct schema_arena *arena, const char *s,
                           size_t len)
{
    char *copy = len < SIZE_MAX ? schema_arena_alloc(arena, len + 1) : NULL;

    if (copy != NULL) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

void schema_arena_free(struct schema_arena *arena)
{
    struct schema_arena_block *block = arena->head;

    while (block != NULL) {
        struct schema_arena_block *next = block->next;

        free(block);
        block = next;
    }
    arena->head = NULL;
    arena->total = 0;
}
