#include "obia/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void obia_buf_init(obia_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->failed = false;
}

void obia_buf_free(obia_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void obia_buf_reset(obia_buf *b)
{
    b->len = 0;
}

bool obia_buf_reserve(obia_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    /* +1 keeps room for the NUL that obia_buf_cstr() adds */
    if (extra > b->max || b->len > b->max - extra) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

bool obia_buf_append(obia_buf *b, const void *p, size_t n)
{
    if (!obia_buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

bool obia_buf_append_byte(obia_buf *b, uint8_t c)
{
    if (b->len + 1 < b->cap && b->len < b->max && !b->failed) {
        b->data[b->len++] = c;
        return true;
    }
    return obia_buf_append(b, &c, 1);
}

bool obia_buf_append_str(obia_buf *b, const char *s)
{
    return obia_buf_append(b, s, strlen(s));
}

bool obia_buf_appendf(obia_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return false;
    }
    if ((size_t)n < sizeof small)
        return obia_buf_append(b, small, (size_t)n);
    if (!obia_buf_reserve(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

char *obia_buf_cstr(obia_buf *b)
{
    if (!b->data && !obia_buf_reserve(b, 0))
        return NULL;
    if (b->len >= b->cap && !obia_buf_reserve(b, 0))
        return NULL;
    b->data[b->len] = '\0';
    return (char *)b->data;
}

bool obia_base64_append(obia_buf *b, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out = (n + 2) / 3 * 4;
    if (!obia_buf_reserve(b, out))
        return false;
    char *o = (char *)b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = '=';
    }
    b->len += out;
    return true;
}

bool obia_array_grow(void *items, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? 2 * *cap : first;
    if (ncap < *cap || ncap > SIZE_MAX / elem)
        return false;
    void **pp = items;
    void *p = realloc(*pp, ncap * elem);
    if (!p)
        return false;
    *pp = p;
    *cap = ncap;
    return true;
}
