/* The dataset model: elements in tag order, sequences of items, fragments. */
#include "charset.h"
#include "dicom_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- construction --------------------------------------------------------- */

obia_dataset *obia__dataset_new_in(obia_arena *arena, obia_dataset *parent)
{
    obia_dataset *ds = obia_arena_alloc(arena, sizeof *ds);
    if (!ds)
        return NULL;
    memset(ds, 0, sizeof *ds);
    ds->arena = arena;
    ds->parent = parent;
    return ds;
}

obia_dataset *obia_dataset_new(void)
{
    obia_arena *arena = obia_arena_new(16384);
    if (!arena)
        return NULL;
    obia_dataset *ds = obia__dataset_new_in(arena, NULL);
    if (!ds) {
        obia_arena_free(arena);
        return NULL;
    }
    ds->owns_arena = true;
    return ds;
}

void obia__element_clear(obia_element *el)
{
    if (el->vr == OBIA_VR_SQ) {
        for (uint32_t i = 0; i < el->nchild; i++)
            obia__dataset_release(el->u.items[i]);
        free(el->u.items);
    } else if (el->flags & EL_ENCAP) {
        free(el->u.frags);
    }
    el->u.items = NULL;
    el->nchild = el->capchild = 0;
}

void obia__dataset_release(obia_dataset *ds)
{
    if (!ds)
        return;
    for (uint32_t i = 0; i < ds->n; i++)
        obia__element_clear(&ds->elems[i]);
    free(ds->elems);
    ds->elems = NULL;
    ds->n = ds->cap = 0;
}

void obia_dataset_free(obia_dataset *ds)
{
    if (!ds || !ds->owns_arena)
        return;
    obia__dataset_release(ds);
    obia_arena_free(ds->arena);
}

/* ---- lookup ------------------------------------------------------------------ */

size_t obia_dataset_count(const obia_dataset *ds) { return ds->n; }

const obia_element *obia_dataset_at(const obia_dataset *ds, size_t index)
{
    return index < ds->n ? &ds->elems[index] : NULL;
}

static size_t lower_bound(const obia_dataset *ds, uint32_t tag)
{
    size_t lo = 0, hi = ds->n;
    /* the common case while parsing: appending after the last element */
    if (hi && ds->elems[hi - 1].tag < tag)
        return hi;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ds->elems[mid].tag < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const obia_element *obia_dataset_get(const obia_dataset *ds, uint32_t tag)
{
    if (!ds)
        return NULL;
    size_t i = lower_bound(ds, tag);
    return i < ds->n && ds->elems[i].tag == tag ? &ds->elems[i] : NULL;
}

const obia_dataset *obia_dataset_parent(const obia_dataset *ds) { return ds->parent; }
uint64_t obia_dataset_offset(const obia_dataset *ds) { return ds->offset; }

obia_element *obia__dataset_slot(obia_dataset *ds, uint32_t tag, bool *existed)
{
    size_t i = lower_bound(ds, tag);
    if (i < ds->n && ds->elems[i].tag == tag) {
        *existed = true;
        return &ds->elems[i];
    }
    *existed = false;
    if (ds->n == ds->cap) {
        if (ds->cap > UINT32_MAX / 2)
            return NULL;
        uint32_t cap = ds->cap ? ds->cap * 2 : 16;
        obia_element *e = realloc(ds->elems, (size_t)cap * sizeof *e);
        if (!e)
            return NULL;
        ds->elems = e;
        ds->cap = cap;
    }
    if (i < ds->n)
        memmove(&ds->elems[i + 1], &ds->elems[i], (ds->n - i) * sizeof *ds->elems);
    ds->n++;
    obia_element *el = &ds->elems[i];
    memset(el, 0, sizeof *el);
    el->tag = tag;
    return el;
}

bool obia__element_add_item(obia_element *el, obia_dataset *item)
{
    if (el->nchild == el->capchild) {
        if (el->capchild > UINT32_MAX / 2)
            return false;
        uint32_t cap = el->capchild ? el->capchild * 2 : 4;
        obia_dataset **p = realloc(el->u.items, (size_t)cap * sizeof *p);
        if (!p)
            return false;
        el->u.items = p;
        el->capchild = cap;
    }
    el->u.items[el->nchild++] = item;
    return true;
}

bool obia__element_add_fragment(obia_element *el, const uint8_t *p, uint32_t len, uint64_t offset)
{
    if (el->nchild == el->capchild) {
        if (el->capchild > UINT32_MAX / 2)
            return false;
        uint32_t cap = el->capchild ? el->capchild * 2 : 8;
        obia_fragment *f = realloc(el->u.frags, (size_t)cap * sizeof *f);
        if (!f)
            return false;
        el->u.frags = f;
        el->capchild = cap;
    }
    el->u.frags[el->nchild++] = (obia_fragment){p, len, offset};
    return true;
}

const uint8_t *obia__dataset_charset(const obia_dataset *ds, size_t *len)
{
    for (; ds; ds = ds->parent) {
        const obia_element *el = obia_dataset_get(ds, OBIA_TAG_SPECIFIC_CHARSET);
        if (el) {
            *len = el->length;
            return el->value;
        }
    }
    *len = 0;
    return NULL;
}

/* ---- element accessors ------------------------------------------------------- */

uint32_t obia_element_tag(const obia_element *el) { return el->tag; }
obia_vr obia_element_vr(const obia_element *el) { return (obia_vr)el->vr; }
uint64_t obia_element_offset(const obia_element *el) { return el->offset; }
bool obia_element_undefined_length(const obia_element *el) { return el->flags & EL_UNDEF_LEN; }
size_t obia_element_length(const obia_element *el) { return el->length; }
const uint8_t *obia_element_bytes(const obia_element *el) { return el->value; }
bool obia_element_is_encapsulated(const obia_element *el) { return el->flags & EL_ENCAP; }

size_t obia_element_item_count(const obia_element *el)
{
    return el->vr == OBIA_VR_SQ ? el->nchild : 0;
}

obia_dataset *obia_element_item(const obia_element *el, size_t index)
{
    return el->vr == OBIA_VR_SQ && index < el->nchild ? el->u.items[index] : NULL;
}

size_t obia_element_fragment_count(const obia_element *el)
{
    return (el->flags & EL_ENCAP) ? el->nchild : 0;
}

const uint8_t *obia_element_fragment(const obia_element *el, size_t index, size_t *len,
                                     uint64_t *offset)
{
    if (!(el->flags & EL_ENCAP) || index >= el->nchild)
        return NULL;
    if (len)
        *len = el->u.frags[index].len;
    if (offset)
        *offset = el->u.frags[index].offset;
    return el->u.frags[index].data;
}

static bool single_valued_text(obia_vr vr)
{
    return vr == OBIA_VR_LT || vr == OBIA_VR_ST || vr == OBIA_VR_UT || vr == OBIA_VR_UR;
}

size_t obia_element_vm(const obia_element *el)
{
    obia_vr vr = (obia_vr)el->vr;
    if (vr == OBIA_VR_SQ)
        return el->nchild;
    if (el->flags & EL_ENCAP)
        return 1;
    if (el->length == 0)
        return 0;
    if (obia_vr_is_binary(vr))
        return 1;
    unsigned size = obia_vr_numeric_size(vr);
    if (size)
        return el->length / size;
    if (single_valued_text(vr))
        return 1;
    size_t vm = 1;
    for (uint32_t i = 0; i < el->length; i++)
        vm += el->value[i] == '\\';
    return vm;
}

/* Locate value `index` of a backslash-separated string. */
static bool string_value(const obia_element *el, size_t index, const uint8_t **p, size_t *n)
{
    const uint8_t *s = el->value, *end = el->value + el->length;
    if (single_valued_text((obia_vr)el->vr)) {
        if (index != 0)
            return false;
        *p = s;
        *n = el->length;
        return true;
    }
    for (size_t k = 0; k < index; k++) {
        const uint8_t *bs = memchr(s, '\\', (size_t)(end - s));
        if (!bs)
            return false;
        s = bs + 1;
    }
    const uint8_t *bs = memchr(s, '\\', (size_t)(end - s));
    *p = s;
    *n = (size_t)((bs ? bs : end) - s);
    return true;
}

/* Trim per VR: leading spaces are insignificant except for LT/ST/UT/UR. */
static void trim(obia_vr vr, const uint8_t **p, size_t *n)
{
    const uint8_t *s = *p;
    size_t len = *n;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\0'))
        len--;
    if (!single_valued_text(vr) && vr != OBIA_VR_PN)
        while (len && s[0] == ' ') {
            s++;
            len--;
        }
    *p = s;
    *n = len;
}

static bool decode_text(const obia_dataset *ds, obia_vr vr, const uint8_t *s, size_t n,
                        obia_buf *out, obia_error *err)
{
    if (!obia_vr_is_charset_text(vr))
        return obia_buf_append(out, s, n) ||
               obia_error_set(err, OBIA_E_LIMIT, "value too long for the output buffer");
    size_t cslen;
    const uint8_t *cs = obia__dataset_charset(ds, &cslen);
    return obia_charset_decode(cs, cslen, vr == OBIA_VR_PN, s, n, out, NULL, err);
}

bool obia_element_get_string(const obia_dataset *ds, const obia_element *el, size_t index,
                             obia_buf *out, obia_error *err)
{
    obia_vr vr = (obia_vr)el->vr;
    if (!obia_vr_is_string(vr))
        return obia_error_set_at(err, OBIA_E_ARG, el->tag, el->offset, "VR %s is not text",
                                 obia_vr_name(vr));
    const uint8_t *s;
    size_t n;
    if (obia_vr_is_charset_text(vr) && !single_valued_text(vr)) {
        /* decode whole, then split: a multi-byte character may hold 0x5C */
        obia_buf whole;
        obia_buf_init(&whole, out->max);
        bool ok = decode_text(ds, vr, el->value, el->length, &whole, err);
        obia_element text = *el;
        text.value = whole.data ? whole.data : (const uint8_t *)"";
        text.length = (uint32_t)whole.len;
        if (ok && !string_value(&text, index, &s, &n))
            ok = obia_error_set_at(err, OBIA_E_NOTFOUND, el->tag, el->offset,
                                   "no value %zu (VM is %zu)", index + 1, obia_element_vm(el));
        if (ok) {
            trim(vr, &s, &n);
            ok = obia_buf_append(out, s, n) ||
                 obia_error_set(err, OBIA_E_LIMIT, "value too long for the output buffer");
        }
        obia_buf_free(&whole);
        return ok;
    }
    if (!string_value(el, index, &s, &n))
        return obia_error_set_at(err, OBIA_E_NOTFOUND, el->tag, el->offset,
                                 "no value %zu (VM is %zu)", index + 1, obia_element_vm(el));
    trim(vr, &s, &n);
    return decode_text(ds, vr, s, n, out, err);
}

bool obia_element_get_text(const obia_dataset *ds, const obia_element *el, obia_buf *out,
                           obia_error *err)
{
    const uint8_t *s = el->value;
    size_t n = el->length;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\0'))
        n--;
    return decode_text(ds, (obia_vr)el->vr, s, n, out, err);
}

const char *obia_dataset_get_cstr(const obia_dataset *ds, uint32_t tag, obia_buf *out)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    obia_buf_reset(out);
    if (!el || !obia_vr_is_string((obia_vr)el->vr) || el->length == 0)
        return NULL;
    if (!obia_element_get_string(ds, el, 0, out, NULL))
        return NULL;
    return obia_buf_cstr(out);
}

static bool parse_number_text(const obia_element *el, size_t index, bool want_int, int64_t *iv,
                              double *dv, obia_error *err)
{
    const uint8_t *s;
    size_t n;
    if (!string_value(el, index, &s, &n))
        return obia_error_set_at(err, OBIA_E_NOTFOUND, el->tag, el->offset,
                                 "no value %zu (VM is %zu)", index + 1, obia_element_vm(el));
    trim(OBIA_VR_DS, &s, &n);
    char tmp[72];
    if (n == 0 || n >= sizeof tmp)
        return obia_error_set_at(err, OBIA_E_FORMAT, el->tag, el->offset,
                                 n ? "number too long" : "empty value");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    if (want_int && el->vr == OBIA_VR_IS) {
        long long v = strtoll(tmp, &end, 10);
        if (*end || errno)
            return obia_error_set_at(err, OBIA_E_FORMAT, el->tag, el->offset,
                                     "\"%s\" is not an integer", tmp);
        *iv = v;
        return true;
    }
    double d = strtod(tmp, &end);
    if (*end || errno == ERANGE)
        return obia_error_set_at(err, OBIA_E_FORMAT, el->tag, el->offset,
                                 "\"%s\" is not a number", tmp);
    if (want_int) {
        if (!(d >= -9.2e18 && d <= 9.2e18) || d != floor(d))
            return obia_error_set_at(err, OBIA_E_FORMAT, el->tag, el->offset,
                                     "\"%s\" is not an integer", tmp);
        *iv = (int64_t)d;
    } else {
        *dv = d;
    }
    return true;
}

static bool binary_number(const obia_element *el, size_t index, int64_t *iv, uint64_t *uv,
                          double *dv, obia_error *err)
{
    obia_vr vr = (obia_vr)el->vr;
    unsigned size = obia_vr_numeric_size(vr);
    if (!size || vr == OBIA_VR_AT)
        return obia_error_set_at(err, OBIA_E_ARG, el->tag, el->offset, "VR %s is not a number",
                                 obia_vr_name(vr));
    if (index >= el->length / size)
        return obia_error_set_at(err, OBIA_E_NOTFOUND, el->tag, el->offset,
                                 "no value %zu (VM is %zu)", index + 1, (size_t)el->length / size);
    const uint8_t *p = el->value + index * size;
    uint64_t raw = 0;
    for (unsigned i = 0; i < size; i++)
        raw |= (uint64_t)p[i] << (8 * i);
    switch (vr) {
    case OBIA_VR_SS: *iv = (int16_t)raw; break;
    case OBIA_VR_SL: *iv = (int32_t)raw; break;
    case OBIA_VR_SV: *iv = (int64_t)raw; break;
    case OBIA_VR_FL: case OBIA_VR_OF: {
        uint32_t r32 = (uint32_t)raw;
        float f;
        memcpy(&f, &r32, 4);
        *dv = f;
        return true;
    }
    case OBIA_VR_FD: case OBIA_VR_OD: {
        double d;
        memcpy(&d, &raw, 8);
        *dv = d;
        return true;
    }
    default:
        *uv = raw;
        return true;
    }
    *uv = (uint64_t)*iv;
    *dv = (double)*iv;
    return true;
}

enum { NUM_INT, NUM_UINT, NUM_FLOAT, NUM_SIGNED };

static int num_kind(obia_vr vr)
{
    switch (vr) {
    case OBIA_VR_SS: case OBIA_VR_SL: case OBIA_VR_SV: return NUM_SIGNED;
    case OBIA_VR_FL: case OBIA_VR_FD: case OBIA_VR_OF: case OBIA_VR_OD: return NUM_FLOAT;
    default: return NUM_UINT;
    }
}

bool obia_element_get_int(const obia_element *el, size_t index, int64_t *out, obia_error *err)
{
    obia_vr vr = (obia_vr)el->vr;
    if (vr == OBIA_VR_IS || vr == OBIA_VR_DS)
        return parse_number_text(el, index, true, out, NULL, err);
    int64_t iv = 0;
    uint64_t uv = 0;
    double dv = 0;
    if (!binary_number(el, index, &iv, &uv, &dv, err))
        return false;
    switch (num_kind(vr)) {
    case NUM_SIGNED: *out = iv; return true;
    case NUM_FLOAT:
        if (!(dv >= -9.2e18 && dv <= 9.2e18) || dv != floor(dv))
            return obia_error_set_at(err, OBIA_E_FORMAT, el->tag, el->offset,
                                     "%g is not an integer", dv);
        *out = (int64_t)dv;
        return true;
    default:
        if (uv > INT64_MAX)
            return obia_error_set_at(err, OBIA_E_FORMAT, el->tag, el->offset,
                                     "value out of range");
        *out = (int64_t)uv;
        return true;
    }
}

bool obia_element_get_uint(const obia_element *el, size_t index, uint64_t *out, obia_error *err)
{
    obia_vr vr = (obia_vr)el->vr;
    if (num_kind(vr) == NUM_UINT && vr != OBIA_VR_IS && vr != OBIA_VR_DS) {
        int64_t iv;
        double dv;
        return binary_number(el, index, &iv, out, &dv, err);
    }
    int64_t v;
    if (!obia_element_get_int(el, index, &v, err))
        return false;
    if (v < 0)
        return obia_error_set_at(err, OBIA_E_FORMAT, el->tag, el->offset, "negative value");
    *out = (uint64_t)v;
    return true;
}

bool obia_element_get_double(const obia_element *el, size_t index, double *out, obia_error *err)
{
    obia_vr vr = (obia_vr)el->vr;
    if (vr == OBIA_VR_IS || vr == OBIA_VR_DS)
        return parse_number_text(el, index, false, NULL, out, err);
    int64_t iv = 0;
    uint64_t uv = 0;
    double dv = 0;
    if (!binary_number(el, index, &iv, &uv, &dv, err))
        return false;
    switch (num_kind(vr)) {
    case NUM_SIGNED: *out = (double)iv; break;
    case NUM_FLOAT: *out = dv; break;
    default: *out = (double)uv; break;
    }
    return true;
}

/* ---- private elements ----------------------------------------------------------- */

bool obia_dataset_private_creator(const obia_dataset *ds, uint32_t tag, const char **creator,
                                  size_t *len)
{
    uint16_t g = OBIA_GROUP(tag), e = OBIA_ELEM(tag);
    if (!(g & 1) || g < 0x0009 || e < 0x1000)
        return false;
    const obia_element *c = obia_dataset_get(ds, OBIA_TAG(g, e >> 8));
    if (!c || !c->value || c->length == 0)
        return false;
    const uint8_t *s = c->value;
    size_t n = c->length;
    trim(OBIA_VR_LO, &s, &n);
    *creator = (const char *)s;
    *len = n;
    return n > 0;
}

uint32_t obia_dataset_private_tag(const obia_dataset *ds, uint16_t group, const char *creator,
                                  uint8_t low)
{
    if (!(group & 1))
        return 0;
    size_t want = strlen(creator);
    for (uint16_t blk = 0x10; blk <= 0xFF; blk++) {
        const obia_element *c = obia_dataset_get(ds, OBIA_TAG(group, blk));
        if (!c || !c->value)
            continue;
        const uint8_t *s = c->value;
        size_t n = c->length;
        trim(OBIA_VR_LO, &s, &n);
        if (n == want && memcmp(s, creator, n) == 0)
            return OBIA_TAG(group, (blk << 8) | low);
    }
    return 0;
}

/* ---- editing ---------------------------------------------------------------------- */

static obia_vr default_vr(const obia_dataset *ds, uint32_t tag, obia_vr vr)
{
    if (vr != OBIA_VR_NONE)
        return vr;
    vr = obia__dict_vr(ds, tag);
    return obia__resolve_ambiguous(ds, tag, vr, false, false);
}

/* The element of tag, inserted or emptied of its old value, with vr. */
static obia_element *fresh_slot(obia_dataset *ds, uint32_t tag, obia_vr vr, obia_error *err)
{
    bool existed;
    obia_element *el = obia__dataset_slot(ds, tag, &existed);
    if (!el) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    if (existed)
        obia__element_clear(el);
    el->vr = (uint8_t)vr;
    el->flags = 0;
    el->length = 0;
    el->value = NULL;
    el->offset = 0;
    return el;
}

static bool set_raw(obia_dataset *ds, uint32_t tag, obia_vr vr, const void *p, size_t n,
                    obia_error *err)
{
    if (OBIA_GROUP(tag) == 0xFFFE)
        return obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                                 "items and delimiters are not elements");
    if (vr == OBIA_VR_SQ || vr >= OBIA_VR_OB_OW || vr == OBIA_VR_NONE)
        return obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                                 "cannot set a value of VR %s", obia_vr_name(vr));
    if (n >= OBIA_UNDEFINED_LENGTH - 1)
        return obia_error_set_at(err, OBIA_E_LIMIT, tag, OBIA_NO_OFFSET, "value too long");
    unsigned size = obia_vr_numeric_size(vr);
    if (size && n % size)
        return obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                                 "%zu bytes is not a whole number of %s values", n,
                                 obia_vr_name(vr));
    void *copy = obia_arena_memdup(ds->arena, p, n);
    if (!copy)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    obia_element *el = fresh_slot(ds, tag, vr, err);
    if (!el)
        return false;
    el->length = (uint32_t)n;
    el->value = copy;
    return true;
}

bool obia_dataset_set_empty_sequence(obia_dataset *ds, uint32_t tag, obia_error *err)
{
    if (OBIA_GROUP(tag) == 0xFFFE)
        return obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                                 "items and delimiters are not elements");
    return fresh_slot(ds, tag, OBIA_VR_SQ, err) != NULL;
}

bool obia_dataset_set_bytes(obia_dataset *ds, uint32_t tag, obia_vr vr, const void *p, size_t n,
                            obia_error *err)
{
    return set_raw(ds, tag, default_vr(ds, tag, vr), p, n, err);
}

static bool is_utf8_charset(const obia_dataset *ds)
{
    size_t n;
    const uint8_t *cs = obia__dataset_charset(ds, &n);
    while (n && (cs[n - 1] == ' ' || cs[n - 1] == 0))
        n--;
    return cs && n == 10 && memcmp(cs, "ISO_IR 192", 10) == 0;
}

bool obia_dataset_set_string(obia_dataset *ds, uint32_t tag, obia_vr vr, const char *utf8,
                             obia_error *err)
{
    vr = default_vr(ds, tag, vr);
    if (!obia_vr_is_string(vr))
        return obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET, "VR %s is not text",
                                 obia_vr_name(vr));
    size_t n = strlen(utf8);
    if (obia_vr_is_charset_text(vr) && !is_utf8_charset(ds)) {
        for (size_t i = 0; i < n; i++)
            if ((uint8_t)utf8[i] >= 0x80 || utf8[i] == 0x1B)
                return obia_error_set_at(err, OBIA_E_CHARSET, tag, OBIA_NO_OFFSET,
                                         "non-ASCII text needs Specific Character Set ISO_IR 192");
    } else if (!obia_vr_is_charset_text(vr)) {
        for (size_t i = 0; i < n; i++)
            if ((uint8_t)utf8[i] >= 0x80)
                return obia_error_set_at(err, OBIA_E_CHARSET, tag, OBIA_NO_OFFSET,
                                         "VR %s allows only the default repertoire",
                                         obia_vr_name(vr));
    }
    return set_raw(ds, tag, vr, utf8, n, err);
}

static bool store_int(uint8_t *p, obia_vr vr, int64_t v, double d, bool from_double)
{
    switch (vr) {
    case OBIA_VR_US: if (v < 0 || v > 0xFFFF) return false; obia_wr16le(p, (uint16_t)v); return true;
    case OBIA_VR_SS: if (v < INT16_MIN || v > INT16_MAX) return false; obia_wr16le(p, (uint16_t)v); return true;
    case OBIA_VR_UL: if (v < 0 || v > 0xFFFFFFFFLL) return false; obia_wr32le(p, (uint32_t)v); return true;
    case OBIA_VR_SL: if (v < INT32_MIN || v > INT32_MAX) return false; obia_wr32le(p, (uint32_t)v); return true;
    case OBIA_VR_UV: if (v < 0) return false; /* fall through */
    case OBIA_VR_SV: {
        uint64_t u = (uint64_t)v;
        for (int i = 0; i < 8; i++) p[i] = (uint8_t)(u >> (8 * i));
        return true;
    }
    case OBIA_VR_FL: {
        float f = from_double ? (float)d : (float)v;
        uint32_t r;
        memcpy(&r, &f, 4);
        obia_wr32le(p, r);
        return true;
    }
    case OBIA_VR_FD: {
        double x = from_double ? d : (double)v;
        uint64_t r;
        memcpy(&r, &x, 8);
        for (int i = 0; i < 8; i++) p[i] = (uint8_t)(r >> (8 * i));
        return true;
    }
    default:
        return false;
    }
}

bool obia_dataset_set_int(obia_dataset *ds, uint32_t tag, obia_vr vr, int64_t v, obia_error *err)
{
    vr = default_vr(ds, tag, vr);
    if (vr == OBIA_VR_IS || vr == OBIA_VR_DS) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld", (long long)v);
        return obia_dataset_set_string(ds, tag, vr, tmp, err);
    }
    uint8_t b[8];
    if (!obia_vr_numeric_size(vr) || obia_vr_is_binary(vr) || vr == OBIA_VR_AT ||
        !store_int(b, vr, v, 0, false))
        return obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                                 "%lld does not fit VR %s", (long long)v, obia_vr_name(vr));
    return set_raw(ds, tag, vr, b, obia_vr_numeric_size(vr), err);
}

bool obia_dataset_set_double(obia_dataset *ds, uint32_t tag, obia_vr vr, double v, obia_error *err)
{
    vr = default_vr(ds, tag, vr);
    if (vr == OBIA_VR_DS) {
        char tmp[32];
        /* DS holds at most 16 characters */
        for (int prec = 16; prec > 0; prec--) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (strlen(tmp) <= 16)
                break;
        }
        return obia_dataset_set_string(ds, tag, vr, tmp, err);
    }
    uint8_t b[8];
    if ((vr != OBIA_VR_FL && vr != OBIA_VR_FD) || !store_int(b, vr, 0, v, true))
        return obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                                 "a real number does not fit VR %s", obia_vr_name(vr));
    return set_raw(ds, tag, vr, b, obia_vr_numeric_size(vr), err);
}

obia_dataset *obia_dataset_add_item(obia_dataset *ds, uint32_t tag, obia_error *err)
{
    bool existed;
    obia_element *el = obia__dataset_slot(ds, tag, &existed);
    if (!el) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    if (existed && el->vr != OBIA_VR_SQ) {
        obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET, "is %s, not a sequence",
                          obia_vr_name((obia_vr)el->vr));
        return NULL;
    }
    el->vr = OBIA_VR_SQ;
    obia_dataset *item = obia__dataset_new_in(ds->arena, ds);
    if (!item || !obia__element_add_item(el, item)) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    return item;
}

bool obia_dataset_remove(obia_dataset *ds, uint32_t tag)
{
    size_t i = lower_bound(ds, tag);
    if (i >= ds->n || ds->elems[i].tag != tag)
        return false;
    obia__element_clear(&ds->elems[i]);
    memmove(&ds->elems[i], &ds->elems[i + 1], (ds->n - i - 1) * sizeof *ds->elems);
    ds->n--;
    return true;
}

/* ---- paths ------------------------------------------------------------------------- */

static bool hexval(const char *s, size_t n, uint32_t *v)
{
    uint32_t x = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        int c = s[i];
        int d = isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                     : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0)
            return false;
        x = x << 4 | (uint32_t)d;
    }
    *v = x;
    return true;
}

/* Parse one path component at *pp: a tag, keyword or private reference. */
static bool parse_component(const obia_dataset *ds, const char **pp, uint32_t *tag,
                            const char *path, obia_error *err)
{
    const char *p = *pp;
    uint32_t g, e;
    if (*p == '(') {
        const char *close = strchr(p, ')');
        if (!close)
            return obia_error_set(err, OBIA_E_ARG, "path \"%s\": missing ')'", path);
        const char *comma = memchr(p, ',', (size_t)(close - p));
        if (!comma || !hexval(p + 1, (size_t)(comma - p - 1), &g) || g > 0xFFFF)
            return obia_error_set(err, OBIA_E_ARG, "path \"%s\": bad tag", path);
        const char *rest = comma + 1;
        if (*rest == '"') {
            /* (gggg,"creator",xx) */
            const char *q = strchr(rest + 1, '"');
            if (!q || q > close || q[1] != ',')
                return obia_error_set(err, OBIA_E_ARG, "path \"%s\": bad private reference", path);
            char creator[80];
            size_t cn = (size_t)(q - rest - 1);
            if (cn >= sizeof creator)
                return obia_error_set(err, OBIA_E_ARG, "path \"%s\": creator too long", path);
            memcpy(creator, rest + 1, cn);
            creator[cn] = '\0';
            if (!hexval(q + 2, (size_t)(close - q - 2), &e) || e > 0xFF)
                return obia_error_set(err, OBIA_E_ARG, "path \"%s\": bad element byte", path);
            uint32_t t = obia_dataset_private_tag(ds, (uint16_t)g, creator, (uint8_t)e);
            if (!t)
                return obia_error_set(err, OBIA_E_NOTFOUND,
                                      "path \"%s\": no private block \"%s\" in group %04X", path,
                                      creator, g);
            *tag = t;
        } else {
            if (!hexval(rest, (size_t)(close - rest), &e) || e > 0xFFFF)
                return obia_error_set(err, OBIA_E_ARG, "path \"%s\": bad tag", path);
            *tag = OBIA_TAG(g, e);
        }
        *pp = close + 1;
        return true;
    }
    size_t n = strcspn(p, ".[");
    if (n == 8 && hexval(p, 8, tag)) {
        *pp = p + n;
        return true;
    }
    const obia_dict_entry *d = obia_dict_lookup_keyword(p, n);
    if (!d || d->mask != 0xFFFFFFFF)
        return obia_error_set(err, OBIA_E_ARG, "path \"%s\": unknown keyword \"%.*s\"", path,
                              (int)n, p);
    *tag = d->tag;
    *pp = p + n;
    return true;
}

bool obia_dataset_find_tag(const obia_dataset *ds, const char *path, uint32_t *tag,
                           obia_dataset **owner, bool create_items, obia_error *err)
{
    const char *p = path;
    obia_dataset *cur = (obia_dataset *)ds;
    for (;;) {
        uint32_t t = 0;
        if (!parse_component(cur, &p, &t, path, err))
            return false;
        if (*p == '\0') {
            *tag = t;
            *owner = cur;
            return true;
        }
        if (*p != '[')
            return obia_error_set(err, OBIA_E_ARG, "path \"%s\": expected [index] after a sequence",
                                  path);
        char *end;
        errno = 0;
        unsigned long idx = strtoul(p + 1, &end, 10);
        if (end == p + 1 || *end != ']' || errno || idx > UINT32_MAX)
            return obia_error_set(err, OBIA_E_ARG, "path \"%s\": bad item index", path);
        p = end + 1;
        if (*p != '.')
            return obia_error_set(err, OBIA_E_ARG, "path \"%s\": expected '.' after ']'", path);
        p++;
        const obia_element *el = obia_dataset_get(cur, t);
        size_t count = el && el->vr == OBIA_VR_SQ ? el->nchild : 0;
        if (el && el->vr != OBIA_VR_SQ)
            return obia_error_set_at(err, OBIA_E_ARG, t, OBIA_NO_OFFSET,
                                     "path \"%s\": not a sequence", path);
        if (idx < count) {
            cur = el->u.items[idx];
        } else if (create_items && idx == count) {
            cur = obia_dataset_add_item(cur, t, err);
            if (!cur)
                return false;
        } else {
            return obia_error_set_at(err, OBIA_E_NOTFOUND, t, OBIA_NO_OFFSET,
                                     "path \"%s\": sequence has %zu items", path, count);
        }
    }
}

const obia_element *obia_dataset_find(const obia_dataset *ds, const char *path, obia_error *err)
{
    uint32_t tag;
    obia_dataset *owner;
    if (!obia_dataset_find_tag(ds, path, &tag, &owner, false, err))
        return NULL;
    const obia_element *el = obia_dataset_get(owner, tag);
    if (!el)
        obia_error_set_at(err, OBIA_E_NOTFOUND, tag, OBIA_NO_OFFSET, "path \"%s\": not present",
                          path);
    return el;
}

bool obia_dataset_remove_path(obia_dataset *ds, const char *path, obia_error *err)
{
    uint32_t tag;
    obia_dataset *owner;
    if (!obia_dataset_find_tag(ds, path, &tag, &owner, false, err))
        return false;
    if (!obia_dataset_remove(owner, tag))
        return obia_error_set_at(err, OBIA_E_NOTFOUND, tag, OBIA_NO_OFFSET,
                                 "path \"%s\": not present", path);
    return true;
}

bool obia_dataset_set_path(obia_dataset *ds, const char *path, const char *value, obia_error *err)
{
    uint32_t tag;
    obia_dataset *owner;
    if (!obia_dataset_find_tag(ds, path, &tag, &owner, true, err))
        return false;
    const obia_element *old = obia_dataset_get(owner, tag);
    obia_vr vr = old ? (obia_vr)old->vr : default_vr(owner, tag, OBIA_VR_NONE);
    if (obia_vr_is_string(vr))
        return obia_dataset_set_string(owner, tag, vr, value, err);
    unsigned size = obia_vr_numeric_size(vr);
    if (!size || obia_vr_is_binary(vr))
        return obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                                 "values of VR %s cannot be set from text", obia_vr_name(vr));
    /* numbers (or AT tags) separated by backslashes */
    obia_buf b;
    obia_buf_init(&b, 1u << 20);
    bool ok = true;
    for (const char *s = value; ok && *s;) {
        size_t n = strcspn(s, "\\");
        char tmp[64];
        if (n == 0 || n >= sizeof tmp) {
            ok = obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET, "bad value \"%s\"", value);
            break;
        }
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        uint8_t raw[8];
        char *end;
        errno = 0;
        if (vr == OBIA_VR_AT) {
            uint32_t t;
            if (!hexval(tmp, n, &t) || n != 8) {
                ok = obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                                       "\"%s\" is not a tag (8 hex digits)", tmp);
                break;
            }
            obia_wr16le(raw, OBIA_GROUP(t));
            obia_wr16le(raw + 2, OBIA_ELEM(t));
        } else if (vr == OBIA_VR_FL || vr == OBIA_VR_FD) {
            double d = strtod(tmp, &end);
            ok = !*end && !errno && store_int(raw, vr, 0, d, true);
        } else {
            long long v = strtoll(tmp, &end, 10);
            ok = !*end && !errno && store_int(raw, vr, v, 0, false);
        }
        if (!ok) {
            obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                              "\"%s\" is not a valid %s value", tmp, obia_vr_name(vr));
            break;
        }
        obia_buf_append(&b, raw, size);
        s += n;
        if (*s == '\\')
            s++;
    }
    if (ok)
        ok = set_raw(owner, tag, vr, b.data ? b.data : (const uint8_t *)"", b.len, err);
    obia_buf_free(&b);
    return ok;
}

/* ---- equality ------------------------------------------------------------------------ */

static bool differ(char *why, size_t n, const char *where, uint32_t tag, const char *what)
{
    if (why && n)
        snprintf(why, n, "%s(%04X,%04X): %s", where, tag >> 16, tag & 0xFFFF, what);
    return false;
}

/* Values compare after removing their padding (an odd value gains one). */
static bool same_bytes(const uint8_t *x, size_t lx, const uint8_t *y, size_t ly, uint8_t pad)
{
    if (lx + 1 == ly && y[lx] == pad)
        ly = lx;
    else if (ly + 1 == lx && x[ly] == pad)
        lx = ly;
    return lx == ly && (lx == 0 || memcmp(x, y, lx) == 0);
}

/* In implicit VR the dictionary decides the VR: a private element reads
 * back as UN, an ambiguous one as its resolved VR, a public one with a
 * non-standard VR as the dictionary's. */
static bool vr_implicit_equivalent(const obia_dataset *ds, const obia_element *x,
                                   const obia_element *y)
{
    if (x->vr == OBIA_VR_SQ || y->vr == OBIA_VR_SQ) {
        /* an empty value of any VR reads back as an empty sequence */
        const obia_element *sq = x->vr == OBIA_VR_SQ ? x : y, *other = sq == x ? y : x;
        return other->vr != OBIA_VR_SQ && sq->nchild == 0 && other->length == 0 &&
               !(other->flags & EL_ENCAP);
    }
    if (x->vr == OBIA_VR_UN || y->vr == OBIA_VR_UN)
        return true;
    obia_vr d = obia__dict_vr(ds, x->tag);
    return d >= OBIA_VR_OB_OW || d == x->vr || d == y->vr;
}

static bool equal_at(const obia_dataset *a, const obia_dataset *b, char *why, size_t n,
                     const char *where, bool loose_vr)
{
    size_t i = 0, j = 0;
    for (;;) {
        /* group lengths are recomputed or dropped by writers: not compared */
        while (i < a->n && OBIA_ELEM(a->elems[i].tag) == 0)
            i++;
        while (j < b->n && OBIA_ELEM(b->elems[j].tag) == 0)
            j++;
        if (i == a->n || j == b->n)
            break;
        const obia_element *x = &a->elems[i++], *y = &b->elems[j++];
        if (x->tag != y->tag)
            return differ(why, n, where, x->tag < y->tag ? x->tag : y->tag,
                          "present on one side only");
        if (x->vr != y->vr && !(loose_vr && vr_implicit_equivalent(a, x, y)))
            return differ(why, n, where, x->tag, "VR differs");
        if (x->vr == OBIA_VR_SQ) {
            if (x->nchild != y->nchild)
                return differ(why, n, where, x->tag, "item count differs");
            for (uint32_t k = 0; k < x->nchild; k++) {
                char sub[256];
                snprintf(sub, sizeof sub, "%s(%04X,%04X)[%u].", where, x->tag >> 16,
                         x->tag & 0xFFFF, k);
                if (!equal_at(x->u.items[k], y->u.items[k], why, n, sub, loose_vr))
                    return false;
            }
            continue;
        }
        if ((x->flags & EL_ENCAP) != (y->flags & EL_ENCAP))
            return differ(why, n, where, x->tag, "encapsulation differs");
        if (x->flags & EL_ENCAP) {
            if (x->nchild != y->nchild)
                return differ(why, n, where, x->tag, "fragment count differs");
            for (uint32_t k = 0; k < x->nchild; k++)
                if (!same_bytes(x->u.frags[k].data, x->u.frags[k].len, y->u.frags[k].data,
                                y->u.frags[k].len, 0))
                    return differ(why, n, where, x->tag, "fragment differs");
            continue;
        }
        if (!same_bytes(x->value, x->length, y->value, y->length, obia_vr_pad((obia_vr)x->vr)))
            return differ(why, n, where, x->tag, "value differs");
    }
    if (i < a->n)
        return differ(why, n, where, a->elems[i].tag, "present only on the first side");
    if (j < b->n)
        return differ(why, n, where, b->elems[j].tag, "present only on the second side");
    return true;
}

bool obia_dataset_equal(const obia_dataset *a, const obia_dataset *b, char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    return equal_at(a, b, why, why_len, "", false);
}

bool obia_dataset_equivalent(const obia_dataset *a, const obia_dataset *b, char *why,
                             size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    return equal_at(a, b, why, why_len, "", true);
}
