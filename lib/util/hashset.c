/* A set of 16-byte keyed hashes: open addressing on their first 8 bytes
 * (already uniformly random), an all-zero slot empty. */
#include "obia/util.h"

#include <stdlib.h>
#include <string.h>

static bool zero16(const uint8_t *h)
{
    static const uint8_t z[16];
    return memcmp(h, z, 16) == 0;
}

static size_t home(const uint8_t h[16], size_t cap)
{
    uint64_t k;
    memcpy(&k, h, 8);
    return (size_t)k & (cap - 1);
}

static bool grow(obia_hash_set *s)
{
    size_t cap = s->cap ? 2 * s->cap : 1024;
    uint8_t(*slot)[16] = calloc(cap, 16);
    if (!slot)
        return false;
    for (size_t i = 0; i < s->cap; i++)
        if (!zero16(s->slot[i])) {
            size_t j = home(s->slot[i], cap);
            while (!zero16(slot[j]))
                j = (j + 1) & (cap - 1);
            memcpy(slot[j], s->slot[i], 16);
        }
    free(s->slot);
    s->slot = slot;
    s->cap = cap;
    return true;
}

int obia_hash_set_add(obia_hash_set *s, const uint8_t h[16])
{
    if (zero16(h))
        return 0;
    if (2 * (s->n + 1) > s->cap && !grow(s))
        return -1;
    size_t j = home(h, s->cap);
    for (; !zero16(s->slot[j]); j = (j + 1) & (s->cap - 1))
        if (memcmp(s->slot[j], h, 16) == 0)
            return 0;
    memcpy(s->slot[j], h, 16);
    s->n++;
    return 1;
}

bool obia_hash_set_has(const obia_hash_set *s, const uint8_t h[16])
{
    if (!s->cap || zero16(h))
        return false;
    for (size_t j = home(h, s->cap); !zero16(s->slot[j]); j = (j + 1) & (s->cap - 1))
        if (memcmp(s->slot[j], h, 16) == 0)
            return true;
    return false;
}

void obia_hash_set_free(obia_hash_set *s)
{
    free(s->slot);
    memset(s, 0, sizeof *s);
}
