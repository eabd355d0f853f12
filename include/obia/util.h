/*
 * obia utilities: error reporting, capped growable buffers, arenas.
 *
 * Every fallible obia function returns bool (or a pointer) and fills an
 * obia_error through an out-parameter; the first error set wins, so a caller
 * may pass one error object through a chain of calls.  Buffers carry a maximum
 * size fixed when created: an append beyond it fails instead of growing, which
 * is how lengths read from untrusted input are kept from driving allocation.
 * Arenas own many small allocations freed together.
 */
#ifndef OBIA_UTIL_H
#define OBIA_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Status codes and their descriptions, declared once. */
#define OBIA_STATUS_LIST(X)                                                    \
    X(OK, "success")                                                           \
    X(NOMEM, "out of memory")                                                  \
    X(IO, "input/output error")                                                \
    X(FORMAT, "malformed data")                                                \
    X(TRUNCATED, "data ends early")                                            \
    X(LIMIT, "a configured limit was exceeded")                                \
    X(UNSUPPORTED, "not supported")                                            \
    X(ARG, "invalid argument")                                                 \
    X(NOTFOUND, "not found")                                                   \
    X(CHARSET, "character set error")

typedef enum obia_status {
#define OBIA_STATUS_ENUM(name, text) OBIA_E_##name,
    OBIA_STATUS_LIST(OBIA_STATUS_ENUM)
#undef OBIA_STATUS_ENUM
} obia_status;

const char *obia_status_name(obia_status code);
const char *obia_status_text(obia_status code);

#define OBIA_NO_TAG UINT32_MAX
#define OBIA_NO_OFFSET UINT64_MAX

typedef struct obia_error {
    obia_status code;   /* OBIA_E_OK while no error was set */
    uint32_t tag;       /* the element concerned, or OBIA_NO_TAG */
    uint64_t offset;    /* byte offset in the input, or OBIA_NO_OFFSET */
    char message[512];  /* full sentence, including tag and offset */
} obia_error;

void obia_error_clear(obia_error *err);
bool obia_error_is_set(const obia_error *err);

/* Set an error unless one is already set (first error wins).  err may be
 * NULL.  Always returns false so callers can `return obia_error_set(...)`. */
bool obia_error_set(obia_error *err, obia_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As obia_error_set, prefixing the message with
 * "element (gggg,eeee) at offset N: " (either part omitted when unknown). */
bool obia_error_set_at(obia_error *err, obia_status code, uint32_t tag,
                       uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- capped growable byte buffer ------------------------------------- */

typedef struct obia_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;    /* appends that would exceed this fail */
    bool failed;   /* sticky: set by the first failed append */
} obia_buf;

void obia_buf_init(obia_buf *b, size_t max);
void obia_buf_free(obia_buf *b);
void obia_buf_reset(obia_buf *b);            /* len = 0, keeps memory */
bool obia_buf_reserve(obia_buf *b, size_t extra);
bool obia_buf_append(obia_buf *b, const void *p, size_t n);
bool obia_buf_append_byte(obia_buf *b, uint8_t c);
bool obia_buf_append_str(obia_buf *b, const char *s);
bool obia_buf_appendf(obia_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Ensure a NUL after the content (not counted in len); returns data. */
char *obia_buf_cstr(obia_buf *b);

/* Room for one more element in a growable array (*items of *cap
 * elements of size elem, n used): doubled (from first) when full. False
 * when out of memory, the array untouched. */
bool obia_array_grow(void *items, size_t *cap, size_t n, size_t elem, size_t first);

/* ---- arena ----------------------------------------------------------- */

typedef struct obia_arena obia_arena;

obia_arena *obia_arena_new(size_t block_size);
void obia_arena_free(obia_arena *a);
void *obia_arena_alloc(obia_arena *a, size_t n);          /* 16-aligned */
void *obia_arena_memdup(obia_arena *a, const void *p, size_t n);
char *obia_arena_strndup(obia_arena *a, const char *s, size_t n);
size_t obia_arena_bytes(const obia_arena *a);

/* ---- small helpers --------------------------------------------------- */

static inline uint16_t obia_rd16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint16_t obia_rd16be(const uint8_t *p) { return (uint16_t)(p[1] | (p[0] << 8)); }
static inline uint32_t obia_rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint32_t obia_rd32be(const uint8_t *p)
{
    return (uint32_t)p[3] | ((uint32_t)p[2] << 8) | ((uint32_t)p[1] << 16) | ((uint32_t)p[0] << 24);
}
static inline void obia_wr16le(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void obia_wr32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* Base64 (RFC 4648, with padding) of n bytes appended to b. */
bool obia_base64_append(obia_buf *b, const uint8_t *p, size_t n);

/* ---- a set of 16-byte hashes (keyed, so uniformly random) ------------- */

typedef struct obia_hash_set {
    uint8_t (*slot)[16];
    size_t cap, n;
} obia_hash_set;   /* zero-initialise it */

/* 1 if h was added, 0 if it was there (or is all zero: not storable), -1
 * out of memory. */
int obia_hash_set_add(obia_hash_set *s, const uint8_t h[16]);
bool obia_hash_set_has(const obia_hash_set *s, const uint8_t h[16]);
void obia_hash_set_free(obia_hash_set *s);

/* ---- text -------------------------------------------------------------- */

/* s (UTF-8) as a JSON string, quoted and escaped. */
bool obia_json_append(obia_buf *b, const char *s);
bool obia_json_fputs(FILE *out, const char *s);
/* "2.25." and the decimal value of a 128-bit number (PS3.5 B.2), at most
 * 44 characters. */
void obia_uid_2_25(const uint8_t v128[16], char out[64]);

/* ---- CSV (RFC 4180) --------------------------------------------------- *
 * Records of comma-separated fields; fields in double quotes may hold
 * commas, line breaks and doubled quotes. CRLF or LF line ends, a UTF-8 BOM
 * skipped. Fields must be valid UTF-8 without NUL; a field is at most
 * 1 MiB, a record at most 1,000 fields. Errors name the line. */
typedef struct obia_csv obia_csv;

/* A reader over data (not copied; it must outlive the reader). */
obia_csv *obia_csv_new(const char *data, size_t len);
void obia_csv_free(obia_csv *c);
/* The next record: *fields (NUL-terminated, valid until the next call),
 * *n of them, *line where the record starts. False at the end (err
 * untouched) or on an error (err set). A blank line is a record of one
 * empty field. */
bool obia_csv_next(obia_csv *c, const char *const **fields, size_t *n, size_t *line,
                   obia_error *err);

#endif
