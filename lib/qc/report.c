/*
 * The tag report (include/obia/qc.h): every element path found in a set of
 * images, with how many images carry it, its distinct values, the most
 * frequent ones and risk flags, written as TSV or as one HTML page.
 *
 * A report owns everything it holds: an arena for path keys, private
 * creators and the display texts of values; one malloc'd open-addressing
 * table of paths and, per path, one malloc'd table of values. A path is
 * keyed by its tags (with a hash of each private element's creator), a value
 * by a 64-bit hash of its text (or of its bytes for binary numbers), so an
 * image costs a few hash probes per element and no allocation once its
 * paths and values have been seen. A path counts at most QC_DISTINCT_CAP
 * distinct values, each with its display text (at most QC_DISPLAY_CHARS
 * characters), which bounds the memory of a path.
 */
#include "obia/qc.h"

#include "report_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QC_DISTINCT_CAP 100000u  /* distinct values counted per path */
#define QC_DISPLAY_CHARS 64u     /* characters of a value shown before "…" */
#define QC_TOP 5u

_Static_assert(OBIA_VR_COUNT <= 64, "a path's VRs are kept as a 64-bit mask");

typedef struct qc_value {
    uint64_t hash;      /* 0: an empty slot */
    uint64_t count;
    const char *text;   /* display text, in the arena */
} qc_value;

typedef struct qc_path {
    uint64_t hash;
    const uint64_t *key;   /* depth components: tag << 32 | creator hash */
    uint32_t depth;
    bool capped;
    unsigned flags;
    uint64_t vrs;          /* bit per obia_vr seen */
    uint64_t images;
    uint64_t seen_in;      /* serial of the last image counted (1-based), 0 none */
    const char *creator;   /* private creator of the element, or NULL */
    qc_value *values;      /* capvalues slots, a power of two */
    uint32_t nvalues;
    uint32_t capvalues;
} qc_path;

struct obia_qc_report {
    obia_qc_known_fn known;
    void *known_ctx;
    obia_arena *arena;
    qc_path *paths;
    size_t npaths, cappaths;
    uint32_t *index;       /* slot -> path number + 1, 0 empty */
    size_t capindex;
    uint64_t images;
    /* while counting one image */
    uint64_t *stack;
    size_t capstack;
    obia_buf text;         /* decoded value */
    obia_buf scratch;      /* value given to the callback, rendered numbers */
    obia_buf individual;
    /* after finish */
    obia_qc_report_row *rows;
    size_t nrows, nflagged;
    obia_arena *row_arena;
    bool finish_failed;
};

/* ---- flags ------------------------------------------------------------------------ */

static const struct {
    unsigned flag;
    const char *name;
    const char *meaning;
} flag_table[] = {
    {OBIA_QC_FLAG_NAME, "name", "a person name: a non-empty PN that is not a pseudonym, or Last^First text"},
    {OBIA_QC_FLAG_DATE, "date", "a date equal to one of the individual's original dates"},
    {OBIA_QC_FLAG_PHONE, "phone", "a phone number: 7 to 15 digits with separators, + or parentheses"},
    {OBIA_QC_FLAG_EMAIL, "email", "an e-mail address"},
    {OBIA_QC_FLAG_ADDRESS, "address", "a postal address: house number, words and a street word, or a PO box"},
    {OBIA_QC_FLAG_LONG_ID, "long-id", "a long identifier: a token of 6+ characters with 5+ digits"},
    {OBIA_QC_FLAG_KNOWN, "known", "equal to an original ID or name in the keys database"},
};
#define NFLAGS (sizeof flag_table / sizeof *flag_table)

const char *obia_qc_flag_name(unsigned flag)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (flag_table[i].flag == flag)
            return flag_table[i].name;
    return NULL;
}

/* ---- hashing ------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* 128-bit multiply, folded: the mixing step of wyhash. */
static uint64_t mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t read64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Up to 8 bytes (n in 1..8) as a number. */
static uint64_t read_tail(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n);
    return v;
}

/* A 64-bit hash of n bytes, never 0 (the empty slot); 16 bytes a step, in
 * the manner of wyhash. */
static uint64_t hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const uint64_t P0 = 0xa0761d6478bd642fULL, P1 = 0xe7037ed1a0b428dbULL,
                   P2 = 0x8ebc6af09c88c6e3ULL;
    const uint8_t *s = data;
    uint64_t h = seed ^ mum(seed ^ P0, P1), a = 0, b = 0;
    size_t left = n;
    while (left > 16) {
        h = mum(read64(s) ^ P1, read64(s + 8) ^ h);
        s += 16;
        left -= 16;
    }
    if (left > 8) {
        a = read64(s);
        b = read_tail(s + 8, left - 8);
    } else if (left) {
        a = read_tail(s, left);
    }
    h = mum(P1 ^ (uint64_t)n, mum(a ^ P1, b ^ h ^ P2));
    return h ? h : 1;
}

static uint64_t path_hash(uint64_t parent, uint64_t component)
{
    return mix64(parent * 0x9E3779B97F4A7C15ULL + component + 1);
}

#define ROOT_HASH 0x6F6269615F716300ULL

/* ---- the report ----------------------------------------------------------------------- */

static void init_scratch(obia_qc_report *r)
{
    obia_buf_init(&r->text, SIZE_MAX / 2);
    obia_buf_init(&r->scratch, SIZE_MAX / 2);
    obia_buf_init(&r->individual, 1 << 16);
}

obia_qc_report *obia_qc_report_new(obia_qc_known_fn known, void *known_ctx)
{
    obia_qc_report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->known = known;
    r->known_ctx = known_ctx;
    r->arena = obia_arena_new(1 << 16);
    if (!r->arena) {
        free(r);
        return NULL;
    }
    init_scratch(r);
    return r;
}

static void clear_rows(obia_qc_report *r)
{
    free(r->rows);
    obia_arena_free(r->row_arena);
    r->rows = NULL;
    r->row_arena = NULL;
    r->nrows = r->nflagged = 0;
    r->finish_failed = false;
}

/* Free what was counted; the report is then empty (or, if no arena could be
 * made, refuses to count with an out-of-memory error). */
static void clear_counts(obia_qc_report *r)
{
    for (size_t i = 0; i < r->npaths; i++)
        free(r->paths[i].values);
    free(r->paths);
    free(r->index);
    free(r->stack);
    obia_arena_free(r->arena);
    obia_buf_free(&r->text);
    obia_buf_free(&r->scratch);
    obia_buf_free(&r->individual);
    r->paths = NULL;
    r->npaths = r->cappaths = 0;
    r->index = NULL;
    r->capindex = 0;
    r->stack = NULL;
    r->capstack = 0;
    r->images = 0;
    r->arena = NULL;
    clear_rows(r);
}

void obia_qc_report_free(obia_qc_report *r)
{
    if (!r)
        return;
    clear_counts(r);
    free(r);
}

uint64_t obia_qc_report_images(const obia_qc_report *r) { return r->images; }
size_t obia_qc_report_rows(const obia_qc_report *r) { return r->npaths; }

size_t obia_qc_report_flagged(const obia_qc_report *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->npaths; i++)
        n += r->paths[i].flags != 0;
    return n;
}

static bool nomem(obia_error *err)
{
    return obia_error_set(err, OBIA_E_NOMEM, "tag report: out of memory");
}

/* The path of key (depth components, hash h), added if new. The pointer is
 * valid until the next path is added. */
static qc_path *path_get(obia_qc_report *r, uint64_t h, const uint64_t *key, uint32_t depth,
                         const char *creator, size_t creator_len, obia_error *err)
{
    if ((r->npaths + 1) * 2 > r->capindex) {
        size_t cap = r->capindex ? r->capindex * 2 : 256;
        if (cap > UINT32_MAX) {
            obia_error_set(err, OBIA_E_LIMIT, "tag report: too many element paths");
            return NULL;
        }
        uint32_t *index = calloc(cap, sizeof *index);
        if (!index) {
            nomem(err);
            return NULL;
        }
        for (size_t i = 0; i < r->npaths; i++) {
            size_t s = r->paths[i].hash & (cap - 1);
            while (index[s])
                s = (s + 1) & (cap - 1);
            index[s] = (uint32_t)(i + 1);
        }
        free(r->index);
        r->index = index;
        r->capindex = cap;
    }
    size_t mask = r->capindex - 1, s = h & mask;
    for (uint32_t v; (v = r->index[s]) != 0; s = (s + 1) & mask) {
        qc_path *p = &r->paths[v - 1];
        if (p->hash == h && p->depth == depth && memcmp(p->key, key, depth * sizeof *key) == 0)
            return p;
    }
    if (r->npaths == r->cappaths) {
        size_t cap = r->cappaths ? r->cappaths * 2 : 256;
        qc_path *paths = realloc(r->paths, cap * sizeof *paths);
        if (!paths) {
            nomem(err);
            return NULL;
        }
        r->paths = paths;
        r->cappaths = cap;
    }
    qc_path *p = &r->paths[r->npaths];
    memset(p, 0, sizeof *p);
    p->hash = h;
    p->depth = depth;
    p->key = obia_arena_memdup(r->arena, key, depth * sizeof *key);
    if (creator)
        p->creator = obia_arena_strndup(r->arena, creator, creator_len);
    if (!p->key || (creator && !p->creator)) {
        nomem(err);
        return NULL;
    }
    r->npaths++;
    r->index[s] = (uint32_t)r->npaths;
    return p;
}

/* The slot of value hash h in p, inserted with count 0 if new (*fresh) and
 * the path is under its cap; *slot NULL when the path is full and h is
 * not in it (p->capped is then set). */
static bool value_slot(qc_path *p, uint64_t h, qc_value **slot, bool *fresh, obia_error *err)
{
    *fresh = false;
    if (p->nvalues < QC_DISTINCT_CAP && ((uint64_t)p->nvalues + 1) * 5 > (uint64_t)p->capvalues * 4) {
        uint32_t cap = p->capvalues ? p->capvalues * 2 : 8;
        qc_value *v = calloc(cap, sizeof *v);
        if (!v)
            return nomem(err);
        for (uint32_t i = 0; i < p->capvalues; i++) {
            if (!p->values[i].hash)
                continue;
            uint32_t s = (uint32_t)p->values[i].hash & (cap - 1);
            while (v[s].hash)
                s = (s + 1) & (cap - 1);
            v[s] = p->values[i];
        }
        free(p->values);
        p->values = v;
        p->capvalues = cap;
    }
    uint32_t mask = p->capvalues - 1, s = (uint32_t)h & mask;
    for (; p->values[s].hash; s = (s + 1) & mask)
        if (p->values[s].hash == h) {
            *slot = &p->values[s];
            return true;
        }
    if (p->nvalues >= QC_DISTINCT_CAP) {
        p->capped = true;
        *slot = NULL;
        return true;
    }
    p->values[s].hash = h;
    p->nvalues++;
    *slot = &p->values[s];
    *fresh = true;
    return true;
}

/* ---- display texts -------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return c ? 1 : 0;
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return len;
}

/* A copy of s for display: valid UTF-8 (NUL and invalid bytes become
 * U+FFFD), cut after QC_DISPLAY_CHARS characters with "…". */
static const char *display_text(obia_arena *a, const char *text, size_t n)
{
    const uint8_t *s = (const uint8_t *)text;
    char out[QC_DISPLAY_CHARS * 4 + 8];
    size_t o = 0, chars = 0, i = 0;
    while (i < n && chars < QC_DISPLAY_CHARS) {
        size_t len = utf8_seq(s + i, n - i);
        if (len) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
        chars++;
    }
    if (i < n) {
        memcpy(out + o, "\xE2\x80\xA6", 3);
        o += 3;
    }
    return obia_arena_strndup(a, out, o);
}

/* Binary numbers as text, values separated by backslashes, stopped once
 * longer than a display text. */
static bool render_numbers(obia_buf *out, obia_vr vr, const uint8_t *p, size_t n)
{
    unsigned size = vr == OBIA_VR_US_SS ? 2 : obia_vr_numeric_size(vr);
    obia_buf_reset(out);
    for (size_t i = 0; size && i + size <= n && out->len <= QC_DISPLAY_CHARS + 1; i += size) {
        if (i)
            obia_buf_append_byte(out, '\\');
        const uint8_t *v = p + i;
        switch (vr) {
        case OBIA_VR_SS:
            obia_buf_appendf(out, "%d", (int16_t)obia_rd16le(v));
            break;
        case OBIA_VR_UL:
            obia_buf_appendf(out, "%u", obia_rd32le(v));
            break;
        case OBIA_VR_SL:
            obia_buf_appendf(out, "%d", (int32_t)obia_rd32le(v));
            break;
        case OBIA_VR_AT:
            obia_buf_appendf(out, "(%04X,%04X)", obia_rd16le(v), obia_rd16le(v + 2));
            break;
        case OBIA_VR_FL: {
            float f;
            uint32_t u = obia_rd32le(v);
            memcpy(&f, &u, 4);
            char tmp[32];
            snprintf(tmp, sizeof tmp, "%.7g", (double)f);
            if ((float)strtod(tmp, NULL) != f)
                snprintf(tmp, sizeof tmp, "%.9g", (double)f);
            obia_buf_append_str(out, tmp);
            break;
        }
        case OBIA_VR_FD: {
            double d;
            uint64_t u = (uint64_t)obia_rd32le(v) | (uint64_t)obia_rd32le(v + 4) << 32;
            memcpy(&d, &u, 8);
            char tmp[40];
            snprintf(tmp, sizeof tmp, "%.15g", d);
            if (strtod(tmp, NULL) != d)
                snprintf(tmp, sizeof tmp, "%.17g", d);
            obia_buf_append_str(out, tmp);
            break;
        }
        case OBIA_VR_SV:
        case OBIA_VR_UV: {
            uint64_t u = (uint64_t)obia_rd32le(v) | (uint64_t)obia_rd32le(v + 4) << 32;
            if (vr == OBIA_VR_SV)
                obia_buf_appendf(out, "%lld", (long long)(int64_t)u);
            else
                obia_buf_appendf(out, "%llu", (unsigned long long)u);
            break;
        }
        default: /* US, US or SS */
            obia_buf_appendf(out, "%u", obia_rd16le(v));
            break;
        }
    }
    return !out->failed;
}

/* ---- counting one image ----------------------------------------------------------------- */

static bool numeric_binary(obia_vr vr)
{
    switch (vr) {
    case OBIA_VR_US: case OBIA_VR_SS: case OBIA_VR_UL: case OBIA_VR_SL: case OBIA_VR_FL:
    case OBIA_VR_FD: case OBIA_VR_SV: case OBIA_VR_UV: case OBIA_VR_AT: case OBIA_VR_US_SS:
        return true;
    default:
        return false;
    }
}

static bool single_valued(obia_vr vr)
{
    return vr == OBIA_VR_LT || vr == OBIA_VR_ST || vr == OBIA_VR_UT || vr == OBIA_VR_UR;
}

/* A UN value that is printable ASCII (tabs and line ends allowed, padding
 * removed) is read as text: private elements often hold text under UN. */
static bool printable_ascii(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') || p[i] > 0x7E)
            return false;
    return true;
}

/* No byte of p is 0x80 or more or ESC: the text reads the same in every
 * character set (eight bytes a step). */
static bool plain_ascii(const uint8_t *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v, esc;
        memcpy(&v, p + i, 8);
        esc = v ^ (ones * 0x1B);
        if ((v | ((esc - ones) & ~esc)) & highs)
            return false;
    }
    for (; i < n; i++)
        if (p[i] >= 0x80 || p[i] == 0x1B)
            return false;
    return true;
}

static void trim_value(obia_vr vr, const char **s, size_t *n)
{
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\0'))
        (*n)--;
    if (!single_valued(vr) && vr != OBIA_VR_PN)
        while (*n && (*s)[0] == ' ')
            (*s)++, (*n)--;
}

/* The text of a string (or printable UN) element as UTF-8, padding
 * removed: the element's own bytes when they are ASCII, else decoded into
 * r->text. */
static bool value_text(obia_qc_report *r, const obia_dataset *ds, const obia_element *el,
                       obia_vr vr, const char **s, size_t *n, obia_error *err)
{
    const uint8_t *p = obia_element_bytes(el);
    size_t len = p ? obia_element_length(el) : 0;
    if (obia_vr_is_charset_text(vr) && !plain_ascii(p, len)) {
        obia_buf_reset(&r->text);
        if (!obia_element_get_text(ds, el, &r->text, err)) {
            obia_buf_free(&r->text); /* clears its sticky failure */
            obia_buf_init(&r->text, SIZE_MAX / 2);
            return false;
        }
        p = r->text.data;
        len = r->text.len;
    }
    *s = p ? (const char *)p : "";
    *n = len;
    trim_value(vr, s, n);
    return true;
}

/* Ask the callback about each value of s (the values of a multi-valued
 * element one by one), NUL-terminated and without padding. */
static unsigned ask_known(obia_qc_report *r, obia_vr vr, const char *s, size_t n)
{
    unsigned f = 0;
    const char *end = s + n;
    for (;;) {
        const char *bs = single_valued(vr) ? NULL : memchr(s, '\\', (size_t)(end - s));
        const char *q = bs ? bs : end;
        const char *a = s;
        size_t len = (size_t)(q - s);
        while (len && a[len - 1] == ' ')
            len--;
        while (len && a[0] == ' ' && vr != OBIA_VR_PN && !single_valued(vr))
            a++, len--;
        if (len) {
            obia_buf_reset(&r->scratch);
            if (obia_buf_append(&r->scratch, a, len)) {
                const char *c = obia_buf_cstr(&r->scratch);
                f |= r->known(r->known_ctx, (const char *)obia_buf_cstr(&r->individual), c,
                              len, vr);
            }
        }
        if (!bs)
            break;
        s = bs + 1;
    }
    return f & (OBIA_QC_FLAG_KNOWN | OBIA_QC_FLAG_DATE);
}

/* What a counted value is, so that its display text is made only when the
 * value is first seen: text, binary numbers (rendered from the element), or
 * a description of a value that is not read (items, fragments, bytes). */
typedef enum value_kind { V_TEXT, V_NUMBERS, V_ITEMS, V_FRAGMENTS, V_BYTES } value_kind;

typedef struct value_src {
    value_kind kind;
    const char *text;          /* V_TEXT */
    size_t n;                  /* V_TEXT: bytes; else the number of items, fragments, bytes */
    const obia_element *el;    /* V_NUMBERS */
} value_src;

static uint64_t class_hash(value_kind kind, size_t n)
{
    uint64_t h = mix64(((uint64_t)kind << 56) ^ (uint64_t)n ^ 0x636C617373000000ULL);
    return h ? h : 1;
}

static bool render(obia_qc_report *r, const value_src *v, const char **text, size_t *n)
{
    static const char *const forms[] = {
        [V_ITEMS] = "<%zu item%s>",
        [V_FRAGMENTS] = "<encapsulated, %zu fragment%s>",
        [V_BYTES] = "<%zu byte%s>",
    };
    obia_buf_reset(&r->scratch);
    if (v->kind == V_TEXT) {
        *text = v->text;
        *n = v->n;
        return true;
    }
    if (v->kind == V_NUMBERS) {
        const uint8_t *b = obia_element_bytes(v->el);
        if (!render_numbers(&r->scratch, obia_element_vr(v->el), b,
                            b ? obia_element_length(v->el) : 0))
            return false;
    } else if (!obia_buf_appendf(&r->scratch, forms[v->kind], v->n, v->n == 1 ? "" : "s")) {
        return false;
    }
    *text = r->scratch.len ? (const char *)r->scratch.data : "";
    *n = r->scratch.len;
    return true;
}

/* Count one occurrence of the value of hash h in p; *slot and *fresh say
 * whether it was new (slot NULL: new, but the path is full). */
static bool count_hash(obia_qc_report *r, qc_path *p, uint64_t h, const value_src *v,
                       qc_value **slot, bool *fresh, obia_error *err)
{
    if (!value_slot(p, h, slot, fresh, err))
        return false;
    qc_value *e = *slot;
    if (!e)
        return true;
    e->count++;
    if (*fresh) {
        const char *text;
        size_t n;
        if (!render(r, v, &text, &n) || !(e->text = display_text(r->arena, text, n)))
            return nomem(err);
    }
    return true;
}

static bool count_simple(obia_qc_report *r, qc_path *p, uint64_t h, const value_src *v,
                         obia_error *err)
{
    qc_value *e;
    bool fresh;
    return count_hash(r, p, h, v, &e, &fresh, err);
}

/* Code values of coded entries are codes of a coding scheme (SNOMED CT
 * 76752008, DCM 113100), not identifiers of anyone. */
static bool code_value(uint32_t tag)
{
    return tag == OBIA_TAG(0x0008, 0x0100) || tag == OBIA_TAG(0x0008, 0x0119) ||
           tag == OBIA_TAG(0x0008, 0x0120) || tag == OBIA_TAG(0x0008, 0x010F);
}

static bool count_text(obia_qc_report *r, qc_path *p, obia_vr vr, const char *s, size_t n,
                       obia_error *err)
{
    qc_value *e;
    bool fresh;
    value_src v = {V_TEXT, s, n, NULL};
    if (!count_hash(r, p, hash_bytes(s, n, 0x74657874), &v, &e, &fresh, err))
        return false;
    if (!e || fresh) {
        unsigned f = obia__qc_text_flags(vr, s, n);
        if (code_value((uint32_t)(p->key[p->depth - 1] >> 32)))
            f &= ~(unsigned)OBIA_QC_FLAG_LONG_ID;
        p->flags |= f;
        if (r->known && n && obia__qc_known_per_value(vr))
            p->flags |= ask_known(r, vr, s, n);
    }
    /* dates are compared with the original dates of this image's individual */
    if (r->known && n && (vr == OBIA_VR_DA || vr == OBIA_VR_DT))
        p->flags |= ask_known(r, vr, s, n);
    return true;
}

static bool count_value(obia_qc_report *r, qc_path *p, const obia_dataset *ds,
                        const obia_element *el, obia_error *err)
{
    obia_vr vr = obia_element_vr(el);
    if (vr == OBIA_VR_SQ) {
        value_src v = {V_ITEMS, NULL, obia_element_item_count(el), NULL};
        return count_simple(r, p, class_hash(v.kind, v.n), &v, err);
    }
    if (obia_element_is_encapsulated(el)) {
        size_t k = obia_element_fragment_count(el);
        value_src v = {V_FRAGMENTS, NULL, k ? k - 1 : 0, NULL}; /* not the offset table */
        return count_simple(r, p, class_hash(v.kind, v.n), &v, err);
    }
    const uint8_t *b = obia_element_bytes(el);
    size_t len = b ? obia_element_length(el) : 0;
    if (numeric_binary(vr)) {
        value_src v = {V_NUMBERS, NULL, 0, el};
        return count_simple(r, p, hash_bytes(b, len, 0x6E756D00u + vr), &v, err);
    }
    if (vr == OBIA_VR_UN) {
        size_t n = len;
        while (n && (b[n - 1] == '\0' || b[n - 1] == ' '))
            n--;
        if (printable_ascii(b, n))
            return count_text(r, p, vr, n ? (const char *)b : "", n, err);
    } else if (obia_vr_is_string(vr)) {
        const char *s;
        size_t n;
        return value_text(r, ds, el, vr, &s, &n, err) && count_text(r, p, vr, s, n, err);
    }
    value_src v = {V_BYTES, NULL, len, NULL};
    return count_simple(r, p, class_hash(v.kind, v.n), &v, err);
}

static uint32_t creator_hash(const char *s, size_t n)
{
    return (uint32_t)hash_bytes(s, n, 0x70726976) | 1;
}

static bool walk(obia_qc_report *r, const obia_dataset *ds, uint32_t depth, uint64_t parent,
                 obia_error *err)
{
    if (depth + 1 > r->capstack) {
        size_t cap = r->capstack ? r->capstack * 2 : 16;
        uint64_t *stack = realloc(r->stack, cap * sizeof *stack);
        if (!stack)
            return nomem(err);
        r->stack = stack;
        r->capstack = cap;
    }
    size_t count = obia_dataset_count(ds);
    for (size_t i = 0; i < count; i++) {
        const obia_element *el = obia_dataset_at(ds, i);
        uint32_t tag = obia_element_tag(el);
        if (OBIA_GROUP(tag) == 0x0002 || OBIA_GROUP(tag) == 0xFFFE)
            continue; /* File Meta, items and delimiters */
        const char *creator = NULL;
        size_t clen = 0;
        uint64_t component = (uint64_t)tag << 32;
        if (obia_dataset_private_creator(ds, tag, &creator, &clen))
            component |= creator_hash(creator, clen);
        else
            creator = NULL;
        r->stack[depth] = component;
        uint64_t h = path_hash(parent, component);
        qc_path *p = path_get(r, h, r->stack, depth + 1, creator, clen, err);
        if (!p)
            return false;
        if (p->seen_in != r->images) {
            p->seen_in = r->images;
            p->images++;
        }
        obia_vr vr = obia_element_vr(el);
        p->vrs |= 1ULL << vr;
        if (!count_value(r, p, ds, el, err))
            return false;
        if (vr == OBIA_VR_SQ) {
            size_t items = obia_element_item_count(el);
            for (size_t k = 0; k < items; k++)
                if (!walk(r, obia_element_item(el, k), depth + 1, h, err))
                    return false;
        }
    }
    return true;
}

bool obia_qc_report_add(obia_qc_report *r, const obia_dataset *ds, obia_error *err)
{
    if (!r->arena)
        return nomem(err);
    r->images++;
    obia_buf_reset(&r->individual);
    const obia_element *id = obia_dataset_get(ds, OBIA_TAG(0x0010, 0x0020));
    if (id && obia_vr_is_string(obia_element_vr(id))) {
        const char *s;
        size_t n;
        if (!value_text(r, ds, id, obia_element_vr(id), &s, &n, err))
            return false;
        if (!obia_buf_append(&r->individual, s, n))
            return obia_error_set(err, OBIA_E_LIMIT, "tag report: Patient ID too long");
    }
    if (!obia_buf_cstr(&r->individual))
        return nomem(err);
    return walk(r, ds, 0, ROOT_HASH, err);
}

/* ---- merge ------------------------------------------------------------------------------- */

bool obia_qc_report_merge(obia_qc_report *into, obia_qc_report *from, obia_error *err)
{
    if (into == from)
        return obia_error_set(err, OBIA_E_ARG, "tag report: a report cannot be merged into itself");
    if (!into->arena)
        return nomem(err);
    for (size_t i = 0; i < from->npaths; i++) {
        const qc_path *f = &from->paths[i];
        qc_path *p = path_get(into, f->hash, f->key, f->depth, f->creator,
                              f->creator ? strlen(f->creator) : 0, err);
        if (!p)
            return false;
        p->images += f->images;
        p->flags |= f->flags;
        p->vrs |= f->vrs;
        p->capped |= f->capped;
        for (uint32_t k = 0; k < f->capvalues; k++) {
            const qc_value *v = &f->values[k];
            if (!v->hash)
                continue;
            qc_value *e;
            bool fresh;
            if (!value_slot(p, v->hash, &e, &fresh, err))
                return false;
            if (!e)
                continue;
            e->count += v->count;
            if (fresh && v->text &&
                !(e->text = obia_arena_strndup(into->arena, v->text, strlen(v->text))))
                return nomem(err);
        }
    }
    into->images += from->images;
    clear_counts(from);
    from->arena = obia_arena_new(1 << 16);
    init_scratch(from);
    return true;
}

/* ---- rows --------------------------------------------------------------------------------- */

static int compare_paths(const void *a, const void *b)
{
    const qc_path *x = *(const qc_path *const *)a, *y = *(const qc_path *const *)b;
    if (!x->flags != !y->flags)
        return x->flags ? -1 : 1;
    uint32_t n = x->depth < y->depth ? x->depth : y->depth;
    for (uint32_t i = 0; i < n; i++)
        if (x->key[i] != y->key[i])
            return x->key[i] < y->key[i] ? -1 : 1;
    return x->depth < y->depth ? -1 : x->depth > y->depth;
}

static int compare_top(const qc_value *a, const qc_value *b)
{
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->text, b->text);
}

static const char *keyword_of(const qc_path *p)
{
    uint32_t tag = (uint32_t)(p->key[p->depth - 1] >> 32);
    if (p->creator) {
        const obia_private_entry *e = obia_private_dict_lookup(p->creator, strlen(p->creator), tag);
        return e && e->name ? e->name : "";
    }
    const obia_dict_entry *e = obia_dict_lookup(tag);
    if (e && e->keyword)
        return e->keyword;
    if ((OBIA_GROUP(tag) & 1) && OBIA_ELEM(tag) >= 0x0010 && OBIA_ELEM(tag) <= 0x00FF)
        return "PrivateCreator";
    if (OBIA_ELEM(tag) == 0)
        return "GroupLength";
    return "";
}

static bool fill_row(obia_qc_report *r, const qc_path *p, obia_qc_report_row *row)
{
    obia_arena *a = r->row_arena;
    char *path = obia_arena_alloc(a, (size_t)p->depth * 14 + 1);
    size_t vrcap = 16 * OBIA_VR_COUNT + 1;
    char *vr = obia_arena_alloc(a, vrcap);
    if (!path || !vr)
        return false;
    size_t o = 0;
    for (uint32_t i = 0; i < p->depth; i++) {
        uint32_t tag = (uint32_t)(p->key[i] >> 32);
        o += (size_t)sprintf(path + o, "%s(%04X,%04X)", i ? "[]." : "", OBIA_GROUP(tag),
                             OBIA_ELEM(tag));
    }
    o = 0;
    vr[0] = '\0';
    for (unsigned v = 0; v < OBIA_VR_COUNT; v++)
        if (p->vrs & (1ULL << v)) {
            const char *name = obia_vr_name((obia_vr)v);
            o += (size_t)snprintf(vr + o, vrcap - o, "%s%s", o ? "/" : "",
                                  *name ? name : "??");
        }
    memset(row, 0, sizeof *row);
    row->path = path;
    row->keyword = keyword_of(p);
    row->vr = vr;
    row->creator = p->creator;
    row->images = p->images;
    row->distinct = p->nvalues;
    row->distinct_capped = p->capped;
    row->flags = p->flags;
    const qc_value *top[QC_TOP];
    size_t ntop = 0;
    for (uint32_t k = 0; k < p->capvalues; k++) {
        const qc_value *v = &p->values[k];
        if (!v->hash || !v->text) /* no text: its allocation failed */
            continue;
        if (ntop == QC_TOP && compare_top(v, top[QC_TOP - 1]) >= 0)
            continue;
        size_t at = ntop < QC_TOP ? ntop++ : QC_TOP - 1;
        while (at > 0 && compare_top(v, top[at - 1]) < 0) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = v;
    }
    row->ntop = ntop;
    for (size_t k = 0; k < ntop; k++) {
        row->top[k] = top[k]->text;
        row->top_count[k] = top[k]->count;
    }
    return true;
}

void obia_qc_report_finish(obia_qc_report *r)
{
    clear_rows(r);
    if (r->npaths == 0)
        return;
    const qc_path **order = malloc(r->npaths * sizeof *order);
    r->rows = calloc(r->npaths, sizeof *r->rows);
    r->row_arena = obia_arena_new(1 << 16);
    bool ok = order && r->rows && r->row_arena;
    if (ok) {
        for (size_t i = 0; i < r->npaths; i++)
            order[i] = &r->paths[i];
        qsort(order, r->npaths, sizeof *order, compare_paths);
        for (size_t i = 0; i < r->npaths && ok; i++) {
            ok = fill_row(r, order[i], &r->rows[i]);
            r->nflagged += order[i]->flags != 0;
        }
    }
    free(order);
    if (!ok) {
        clear_rows(r);
        r->finish_failed = true;
        return;
    }
    r->nrows = r->npaths;
}

void obia_qc_report_row_at(const obia_qc_report *r, size_t index, obia_qc_report_row *out)
{
    if (index < r->nrows) {
        *out = r->rows[index];
    } else {
        memset(out, 0, sizeof *out);
        out->path = out->keyword = out->vr = "";
    }
}

/* ---- writers ------------------------------------------------------------------------------- */

typedef struct writer {
    obia_buf b;
    obia_sink_fn sink;
    void *ctx;
} writer;

static bool flush(writer *w, bool all, obia_error *err)
{
    if (w->b.failed)
        return nomem(err);
    if (w->b.len && (all || w->b.len >= (1 << 16))) {
        if (!w->sink(w->ctx, w->b.data, w->b.len))
            return obia_error_set(err, OBIA_E_IO, "tag report: the output could not be written");
        obia_buf_reset(&w->b);
    }
    return true;
}

static bool start(const obia_qc_report *r, writer *w, obia_sink_fn sink, void *ctx,
                  obia_error *err)
{
    obia_buf_init(&w->b, SIZE_MAX / 2);
    w->sink = sink;
    w->ctx = ctx;
    if (r->finish_failed)
        return obia_error_set(err, OBIA_E_NOMEM, "tag report: out of memory while sorting the rows");
    return true;
}

static void put(writer *w, const char *s) { obia_buf_append_str(&w->b, s); }

/* Tabs, line ends, backslashes and other control characters are written
 * as backslash escapes (t, n, r, a doubled backslash, xHH): nothing in a
 * value can break a line or a field. */
static void put_escaped(writer *w, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '\t': put(w, "\\t"); break;
        case '\n': put(w, "\\n"); break;
        case '\r': put(w, "\\r"); break;
        case '\\': put(w, "\\\\"); break;
        default:
            if (c < 0x20 || c == 0x7F)
                obia_buf_appendf(&w->b, "\\x%02X", c);
            else
                obia_buf_append_byte(&w->b, c);
        }
    }
}

static void put_flags(writer *w, unsigned flags, const char *sep)
{
    bool first = true;
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags & flag_table[i].flag) {
            if (!first)
                put(w, sep);
            put(w, flag_table[i].name);
            first = false;
        }
}

bool obia_qc_report_write_tsv(const obia_qc_report *r, obia_sink_fn sink, void *ctx,
                              obia_error *err)
{
    writer w;
    bool ok = start(r, &w, sink, ctx, err);
    if (ok)
        put(&w, "path\tkeyword\tvr\tcreator\timages\tdistinct\tflags\ttop_values\n");
    for (size_t i = 0; ok && i < r->nrows; i++) {
        const obia_qc_report_row *row = &r->rows[i];
        put_escaped(&w, row->path);
        put(&w, "\t");
        put_escaped(&w, row->keyword);
        put(&w, "\t");
        put_escaped(&w, row->vr);
        put(&w, "\t");
        put_escaped(&w, row->creator ? row->creator : "");
        obia_buf_appendf(&w.b, "\t%llu\t%llu%s\t", (unsigned long long)row->images,
                         (unsigned long long)row->distinct, row->distinct_capped ? "+" : "");
        put_flags(&w, row->flags, ",");
        put(&w, "\t");
        for (size_t k = 0; k < row->ntop; k++) {
            if (k)
                put(&w, " | ");
            put_escaped(&w, *row->top[k] ? row->top[k] : "(empty)");
            obia_buf_appendf(&w.b, " (%llu)", (unsigned long long)row->top_count[k]);
        }
        put(&w, "\n");
        ok = flush(&w, false, err);
    }
    ok = ok && flush(&w, true, err);
    obia_buf_free(&w.b);
    return ok;
}

/* Text in HTML: the markup characters as entities, control characters
 * shown as \xHH (values are hostile input). */
static void put_html(writer *w, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': put(w, "&amp;"); break;
        case '<': put(w, "&lt;"); break;
        case '>': put(w, "&gt;"); break;
        case '"': put(w, "&quot;"); break;
        case '\'': put(w, "&#39;"); break;
        case '\t': put(w, "\\t"); break;
        case '\n': put(w, "\\n"); break;
        case '\r': put(w, "\\r"); break;
        default:
            if (c < 0x20 || c == 0x7F)
                obia_buf_appendf(&w->b, "\\x%02X", c);
            else
                obia_buf_append_byte(&w->b, c);
        }
    }
}

static const char html_style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fff}"
    "h1{font-size:1.4em;margin:0 0 .3em}"
    ".summary{margin:.2em 0 1em;color:#444}"
    ".summary b{color:#1d1d1f}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}"
    "th{background:#f2f2f4;position:sticky;top:0}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code,.v{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;"
    "overflow-wrap:anywhere}"
    "tr.flagged{background:#fff3f0}"
    ".badge{display:inline-block;border-radius:.7em;padding:0 .55em;margin:0 .2em .2em 0;"
    "font-size:.82em;font-weight:600;color:#fff;background:#b3261e}"
    ".badge.known,.badge.date{background:#7b1fa2}"
    ".badge.long-id{background:#c25e00}"
    "ul.top{list-style:none;margin:0;padding:0}"
    ".count{color:#666}"
    ".empty{color:#888;font-style:italic}"
    "dl.legend{display:grid;grid-template-columns:max-content auto;gap:.2em .8em;margin:0 0 1em}"
    "dl.legend dd{margin:0;color:#444}";

bool obia_qc_report_write_html(const obia_qc_report *r, const char *title, obia_sink_fn sink,
                               void *ctx, obia_error *err)
{
    writer w;
    bool ok = start(r, &w, sink, ctx, err);
    if (!title)
        title = "Tag report";
    if (ok) {
        put(&w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
        put_html(&w, title);
        put(&w, "</title>\n<style>");
        put(&w, html_style);
        put(&w, "</style>\n</head>\n<body>\n<h1>");
        put_html(&w, title);
        obia_buf_appendf(&w.b,
                         "</h1>\n<p class=\"summary\"><b>%llu</b> images, <b>%zu</b> elements, "
                         "<b>%zu</b> flagged</p>\n<dl class=\"legend\">\n",
                         (unsigned long long)r->images, r->nrows, r->nflagged);
        for (size_t i = 0; i < NFLAGS; i++) {
            obia_buf_appendf(&w.b, "<dt><span class=\"badge %s\">%s</span></dt><dd>",
                             flag_table[i].name, flag_table[i].name);
            put_html(&w, flag_table[i].meaning);
            put(&w, "</dd>\n");
        }
        put(&w, "</dl>\n<table>\n<thead><tr><th>Path</th><th>Keyword</th><th>VR</th>"
                "<th>Private creator</th><th>Images</th><th>Distinct</th><th>Flags</th>"
                "<th>Most frequent values</th></tr></thead>\n<tbody>\n");
    }
    for (size_t i = 0; ok && i < r->nrows; i++) {
        const obia_qc_report_row *row = &r->rows[i];
        put(&w, row->flags ? "<tr class=\"flagged\"><td><code>" : "<tr><td><code>");
        put_html(&w, row->path);
        put(&w, "</code></td><td>");
        put_html(&w, row->keyword);
        put(&w, "</td><td>");
        put_html(&w, row->vr);
        put(&w, "</td><td>");
        if (row->creator)
            put_html(&w, row->creator);
        obia_buf_appendf(&w.b, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu%s</td><td>",
                         (unsigned long long)row->images, (unsigned long long)row->distinct,
                         row->distinct_capped ? "+" : "");
        for (size_t k = 0; k < NFLAGS; k++)
            if (row->flags & flag_table[k].flag)
                obia_buf_appendf(&w.b, "<span class=\"badge %s\">%s</span>", flag_table[k].name,
                                 flag_table[k].name);
        put(&w, "</td><td>");
        if (row->ntop) {
            put(&w, "<ul class=\"top\">");
            for (size_t k = 0; k < row->ntop; k++) {
                if (*row->top[k]) {
                    put(&w, "<li><span class=\"v\">");
                    put_html(&w, row->top[k]);
                    put(&w, "</span>");
                } else {
                    put(&w, "<li><span class=\"empty\">(empty)</span>");
                }
                obia_buf_appendf(&w.b, " <span class=\"count\">&times;%llu</span></li>",
                                 (unsigned long long)row->top_count[k]);
            }
            put(&w, "</ul>");
        }
        put(&w, "</td></tr>\n");
        ok = flush(&w, false, err);
    }
    if (ok)
        put(&w, "</tbody>\n</table>\n</body>\n</html>\n");
    ok = ok && flush(&w, true, err);
    obia_buf_free(&w.b);
    return ok;
}
