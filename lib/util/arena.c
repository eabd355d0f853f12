#include "obia/util.h"

#include <stdlib.h>
#include <string.h>

struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct obia_arena {
    struct block *head;
    size_t block_size;
    size_t total;
};

obia_arena *obia_arena_new(size_t block_size)
{
    obia_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->block_size = block_size < 256 ? 256 : block_size;
    return a;
}

void obia_arena_free(obia_arena *a)
{
    if (!a)
        return;
    struct block *b = a->head;
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *obia_arena_alloc(obia_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n)
        return NULL;
    struct block *b = a->head;
    if (!b || b->size - b->used < need) {
        /* large requests get a block of their own behind the current one */
        size_t size = need > a->block_size / 4 ? need : a->block_size;
        if (size > SIZE_MAX - sizeof *b)
            return NULL;
        struct block *nb = malloc(sizeof *nb + size);
        if (!nb)
            return NULL;
        nb->size = size;
        nb->used = 0;
        if (b && size == need) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        a->total += size;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

void *obia_arena_memdup(obia_arena *a, const void *p, size_t n)
{
    void *q = obia_arena_alloc(a, n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

char *obia_arena_strndup(obia_arena *a, const char *s, size_t n)
{
    char *q = obia_arena_alloc(a, n + 1);
    if (!q)
        return NULL;
    memcpy(q, s, n);
    q[n] = '\0';
    return q;
}

size_t obia_arena_bytes(const obia_arena *a)
{
    return a->total;
}
