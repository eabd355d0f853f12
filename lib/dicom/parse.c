/* Part 10 / dataset parser (PS3.5 7, PS3.10 7). */
#include "dicom_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

void obia_read_options_init(obia_read_options *opt)
{
    opt->header_only = false;
    opt->copy_values = false;
    opt->max_value_length = 0xFFFFFFFEu;   /* the format's own limit */
    opt->max_depth = 64;
    opt->max_elements = 10u * 1000 * 1000;
    opt->max_inflated = 4ull << 30;
}

typedef struct parser {
    const uint8_t *buf;    /* bytes being parsed */
    size_t len;
    uint64_t base;         /* offset of buf[0] in the reported stream */
    bool explicit_vr;
    bool big_endian;
    bool copy;             /* copy values into the arena */
    obia_read_options opt;
    obia_file *f;
    obia_error *err;
    uint64_t nelements;
} parser;

/* ---- warnings --------------------------------------------------------------- */

static void warn(parser *p, uint32_t tag, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void warn(parser *p, uint32_t tag, uint64_t off, const char *fmt, ...)
{
    obia_file *f = p->f;
    if (f->nwarn >= 1000)   /* a hostile file cannot make us store unbounded warnings */
        return;
    if (f->nwarn == f->capwarn) {
        size_t cap = f->capwarn ? f->capwarn * 2 : 8;
        obia_warning *w = realloc(f->warnings, cap * sizeof *w);
        if (!w)
            return;
        f->warnings = w;
        f->capwarn = cap;
    }
    char msg[400];
    int n = 0;
    if (tag != OBIA_NO_TAG)
        n = snprintf(msg, sizeof msg, "element (%04X,%04X) at offset %llu: ", tag >> 16,
                     tag & 0xFFFF, (unsigned long long)off);
    else
        n = snprintf(msg, sizeof msg, "at offset %llu: ", (unsigned long long)off);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    char *copy = obia_arena_strndup(f->arena, msg, strlen(msg));
    if (!copy)
        return;
    f->warnings[f->nwarn++] = (obia_warning){tag, off, copy};
}

/* ---- primitives -------------------------------------------------------------- */

static inline uint16_t rd16(const parser *p, size_t pos)
{
    return p->big_endian ? obia_rd16be(p->buf + pos) : obia_rd16le(p->buf + pos);
}

static inline uint32_t rd32(const parser *p, size_t pos)
{
    return p->big_endian ? obia_rd32be(p->buf + pos) : obia_rd32le(p->buf + pos);
}

static inline uint32_t rdtag(const parser *p, size_t pos)
{
    return OBIA_TAG(rd16(p, pos), rd16(p, pos + 2));
}

static bool fail(parser *p, obia_status code, uint32_t tag, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static bool fail(parser *p, obia_status code, uint32_t tag, size_t pos, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return obia_error_set_at(p->err, code, tag, p->base + pos, "%s", msg);
}

/* Store a value: point into the input, or copy it (and byte-swap big-endian
 * numbers, so that values in memory are always little-endian). */
static bool set_value(parser *p, obia_element *el, size_t pos, uint32_t len)
{
    const uint8_t *src = p->buf + pos;
    unsigned unit = p->big_endian ? obia__swap_unit((obia_vr)el->vr) : 0;
    el->length = len;
    if (unit > 1 || p->copy) {
        uint8_t *dst = obia_arena_alloc(p->f->arena, len ? len : 1);
        if (!dst)
            return fail(p, OBIA_E_NOMEM, el->tag, pos, "out of memory for a %u-byte value", len);
        if (unit > 1) {
            size_t whole = len - len % unit;
            for (size_t i = 0; i < whole; i += unit)
                for (unsigned k = 0; k < unit; k++)
                    dst[i + k] = src[i + unit - 1 - k];
            memcpy(dst + whole, src + whole, len - whole);
        } else {
            memcpy(dst, src, len);
        }
        el->value = dst;
    } else {
        el->value = src;
    }
    return true;
}

/* ---- recursive descent ---------------------------------------------------------- */

static bool parse_dataset(parser *p, obia_dataset *ds, size_t *pos, size_t end, uint32_t depth,
                          bool in_undefined_item, bool top);

static bool parse_items(parser *p, obia_dataset *ds, obia_element *el, size_t pos, size_t end,
                        bool undefined, uint32_t depth, size_t *out_pos)
{
    if (depth >= p->opt.max_depth)
        return fail(p, OBIA_E_LIMIT, el->tag, pos, "sequences nested deeper than %u levels",
                    p->opt.max_depth);
    el->vr = OBIA_VR_SQ;
    while (pos < end) {
        if (end - pos < 8) {
            warn(p, el->tag, p->base + pos, "%zu stray bytes at the end of a sequence ignored",
                 end - pos);
            pos = end;
            break;
        }
        uint32_t tag = rdtag(p, pos);
        uint32_t ilen = rd32(p, pos + 4);
        if (tag == OBIA_TAG_SEQ_DELIM) {
            pos += 8;
            if (!undefined)
                warn(p, el->tag, p->base + pos - 8,
                     "sequence delimiter inside a sequence of defined length");
            *out_pos = pos;
            return true;
        }
        if (tag != OBIA_TAG_ITEM)
            return fail(p, OBIA_E_FORMAT, el->tag, pos,
                        "expected an item (FFFE,E000) in the sequence, found (%04X,%04X)",
                        tag >> 16, tag & 0xFFFF);
        if (++p->nelements > p->opt.max_elements)
            return fail(p, OBIA_E_LIMIT, el->tag, pos, "more than %llu elements",
                        (unsigned long long)p->opt.max_elements);
        size_t item_start = pos;
        pos += 8;
        obia_dataset *item = obia__dataset_new_in(p->f->arena, ds);
        if (!item || !obia__element_add_item(el, item))
            return fail(p, OBIA_E_NOMEM, el->tag, pos, "out of memory");
        item->offset = p->base + item_start;
        if (ilen == OBIA_UNDEFINED_LENGTH) {
            if (!parse_dataset(p, item, &pos, end, depth + 1, true, false))
                return false;
        } else {
            size_t iend;
            if (ilen > end - pos) {
                if (end == p->len) {
                    warn(p, el->tag, p->base + item_start,
                         "item of %u bytes is cut short at %zu bytes by the end of the data",
                         ilen, end - pos);
                    iend = end;
                } else {
                    return fail(p, OBIA_E_FORMAT, el->tag, item_start,
                                "item length %u exceeds the %zu bytes left in its sequence", ilen,
                                end - pos);
                }
            } else {
                iend = pos + ilen;
            }
            if (!parse_dataset(p, item, &pos, iend, depth + 1, false, false))
                return false;
            pos = iend;
        }
    }
    if (undefined)
        warn(p, el->tag, p->base + pos, "sequence has no delimiter before the end of the data");
    *out_pos = pos;
    return true;
}

static bool parse_fragments(parser *p, obia_element *el, size_t pos, size_t *out_pos)
{
    el->flags |= EL_ENCAP | EL_UNDEF_LEN;
    el->length = 0;
    while (pos < p->len) {
        if (p->len - pos < 8) {
            warn(p, el->tag, p->base + pos, "%zu stray bytes after the last fragment ignored",
                 p->len - pos);
            pos = p->len;
            break;
        }
        uint32_t tag = rdtag(p, pos);
        uint32_t flen = rd32(p, pos + 4);
        if (tag == OBIA_TAG_SEQ_DELIM) {
            *out_pos = pos + 8;
            return true;
        }
        if (tag != OBIA_TAG_ITEM)
            return fail(p, OBIA_E_FORMAT, el->tag, pos,
                        "expected a fragment item (FFFE,E000), found (%04X,%04X)", tag >> 16,
                        tag & 0xFFFF);
        if (flen == OBIA_UNDEFINED_LENGTH)
            return fail(p, OBIA_E_FORMAT, el->tag, pos, "fragment with undefined length");
        if (++p->nelements > p->opt.max_elements)
            return fail(p, OBIA_E_LIMIT, el->tag, pos, "more than %llu elements",
                        (unsigned long long)p->opt.max_elements);
        pos += 8;
        uint32_t take = flen;
        if (flen > p->len - pos) {
            warn(p, el->tag, p->base + pos - 8,
                 "fragment of %u bytes is cut short at %zu bytes by the end of the data", flen,
                 p->len - pos);
            take = (uint32_t)(p->len - pos);
        }
        const uint8_t *data = p->buf + pos;
        if (p->copy) {
            uint8_t *c = obia_arena_memdup(p->f->arena, data, take);
            if (!c)
                return fail(p, OBIA_E_NOMEM, el->tag, pos, "out of memory");
            data = c;
        }
        if (!obia__element_add_fragment(el, data, take, p->base + pos - 8))
            return fail(p, OBIA_E_NOMEM, el->tag, pos, "out of memory");
        pos += take;
    }
    warn(p, el->tag, p->base + pos, "encapsulated pixel data has no sequence delimiter");
    *out_pos = pos;
    return true;
}

static bool is_pixel_tag(uint32_t tag)
{
    return tag == OBIA_TAG_PIXEL_DATA || tag == OBIA_TAG_FLOAT_PIXEL_DATA ||
           tag == OBIA_TAG_DOUBLE_PIXEL_DATA;
}

/* Parse elements from *pos up to end (or the item delimiter). */
static bool parse_dataset(parser *p, obia_dataset *ds, size_t *pos_io, size_t end, uint32_t depth,
                          bool in_undefined_item, bool top)
{
    size_t pos = *pos_io;
    uint32_t last_tag = 0;
    while (pos < end) {
        size_t start = pos;
        if (end - pos < 8) {
            bool zeros = true;
            for (size_t i = pos; i < end; i++)
                zeros &= p->buf[i] == 0;
            warn(p, OBIA_NO_TAG, p->base + pos, "%zu trailing %sbytes ignored", end - pos,
                 zeros ? "zero " : "");
            pos = end;
            break;
        }
        uint32_t tag = rdtag(p, pos);
        if (tag == OBIA_TAG_ITEM_DELIM) {
            pos += 8;
            if (in_undefined_item) {
                *pos_io = pos;
                return true;
            }
            warn(p, tag, p->base + start, "item delimiter outside an item of undefined length");
            continue;
        }
        if (tag == OBIA_TAG_SEQ_DELIM) {
            if (in_undefined_item) {
                /* the item's own delimiter is missing: let the sequence see this one */
                warn(p, tag, p->base + start, "item ends without an item delimiter");
                *pos_io = pos;
                return true;
            }
            if (top && depth == 0) {
                /* a stray delimiter after a top-level sequence: skip it */
                warn(p, tag, p->base + start, "stray sequence delimiter ignored");
                pos += 8;
                continue;
            }
            return fail(p, OBIA_E_FORMAT, tag, start, "sequence delimiter inside an item");
        }
        if (OBIA_GROUP(tag) == 0xFFFE)
            return fail(p, OBIA_E_FORMAT, tag, start, "item tag where an element was expected");
        if (top && depth == 0 && p->opt.header_only && is_pixel_tag(tag)) {
            p->f->stopped = true;
            break;
        }
        if (++p->nelements > p->opt.max_elements)
            return fail(p, OBIA_E_LIMIT, tag, start, "more than %llu elements",
                        (unsigned long long)p->opt.max_elements);

        obia_vr vr = OBIA_VR_NONE;
        uint32_t len;
        bool implicit_el = !p->explicit_vr;
        if (p->explicit_vr) {
            vr = obia_vr_from_chars(p->buf[pos + 4], p->buf[pos + 5]);
            if (vr == OBIA_VR_NONE) {
                /* Not a VR: some writers switch to implicit VR mid-stream, or
                 * write junk. Read this element as implicit VR. */
                warn(p, tag, p->base + start, "invalid VR bytes 0x%02X 0x%02X; read as implicit VR",
                     p->buf[pos + 4], p->buf[pos + 5]);
                implicit_el = true;
            }
        }
        if (implicit_el) {
            len = rd32(p, pos + 4);
            pos += 8;
            vr = obia__dict_vr(ds, tag);
        } else if (obia_vr_long_length(vr)) {
            if (end - pos < 12) {
                warn(p, tag, p->base + start, "element header cut short by the end of the data");
                pos = end;
                break;
            }
            len = rd32(p, pos + 8);
            pos += 12;
        } else {
            len = rd16(p, pos + 6);
            pos += 8;
        }

        bool existed;
        if (tag <= last_tag && ds->n)
            warn(p, tag, p->base + start, tag == last_tag ? "duplicate element; the last one is kept"
                                                          : "element out of ascending tag order");
        last_tag = tag > last_tag ? tag : last_tag;
        obia_element *el = obia__dataset_slot(ds, tag, &existed);
        if (!el)
            return fail(p, OBIA_E_NOMEM, tag, start, "out of memory");
        if (existed) {
            obia__element_clear(el);
            memset(el, 0, sizeof *el);
            el->tag = tag;
        }
        el->offset = p->base + start;

        /* An explicit UN whose tag a dictionary knows (the public one, or the
         * private one through its creator) takes the known VR; its value is
         * implicit VR little endian (PS3.5 6.2.2).  This includes values
         * too long for the known VR's 16-bit length, which writers must send
         * as UN (obia's writer does the same, so such values round-trip). */
        bool un_known = false;
        if (vr == OBIA_VR_UN && !implicit_el) {
            obia_vr known = obia__dict_vr(ds, tag);
            if (known != OBIA_VR_UN && known != OBIA_VR_NONE &&
                (len != OBIA_UNDEFINED_LENGTH || known == OBIA_VR_SQ)) {
                vr = known;
                un_known = true;
            }
        }
        if (vr >= OBIA_VR_OB_OW)
            vr = obia__resolve_ambiguous(ds, tag, vr, implicit_el,
                                         len == OBIA_UNDEFINED_LENGTH);
        el->vr = (uint8_t)vr;

        if (len == OBIA_UNDEFINED_LENGTH) {
            el->flags |= EL_UNDEF_LEN;
            /* In implicit VR only a sequence (or encapsulated pixel data) can
             * have an undefined length, whatever the dictionary says. */
            if (implicit_el && vr != OBIA_VR_SQ && vr != OBIA_VR_UN && vr != OBIA_VR_OB &&
                vr != OBIA_VR_OW) {
                warn(p, tag, p->base + start, "undefined length on a %s element: read as a sequence",
                     obia_vr_name(vr));
                vr = OBIA_VR_SQ;
                el->vr = (uint8_t)vr;
            }
            if (vr == OBIA_VR_SQ || vr == OBIA_VR_UN) {
                /* UN of undefined length is a sequence in implicit VR LE */
                bool save_explicit = p->explicit_vr, save_be = p->big_endian;
                if (vr == OBIA_VR_UN || un_known) {
                    p->explicit_vr = false;
                    p->big_endian = false;
                }
                bool ok = parse_items(p, ds, el, pos, end, true, depth, &pos);
                p->explicit_vr = save_explicit;
                p->big_endian = save_be;
                if (!ok)
                    return false;
            } else if (vr == OBIA_VR_OB || vr == OBIA_VR_OW) {
                if (!parse_fragments(p, el, pos, &pos))
                    return false;
                if (pos > end)
                    return fail(p, OBIA_E_FORMAT, tag, start,
                                "encapsulated value runs past the end of its item");
            } else {
                return fail(p, OBIA_E_FORMAT, tag, start, "undefined length is not allowed for VR %s",
                            obia_vr_name(vr));
            }
            continue;
        }

        if (len > p->opt.max_value_length)
            return fail(p, OBIA_E_LIMIT, tag, start,
                        "length %u exceeds the configured maximum of %llu bytes", len,
                        (unsigned long long)p->opt.max_value_length);
        if (len > end - pos) {
            if (end == p->len) {
                warn(p, tag, p->base + start,
                     "value of %u bytes is cut short at %zu bytes by the end of the data", len,
                     end - pos);
                len = (uint32_t)(end - pos);
            } else {
                return fail(p, OBIA_E_FORMAT, tag, start,
                            "length %u exceeds the %zu bytes left in its item", len, end - pos);
            }
        }
        if (vr == OBIA_VR_SQ && (implicit_el || un_known) && len > 0 &&
            (len < 8 ||
             OBIA_TAG(obia_rd16le(p->buf + pos), obia_rd16le(p->buf + pos + 2)) != OBIA_TAG_ITEM)) {
            /* the dictionary says sequence but the value holds no items */
            warn(p, tag, p->base + start, "sequence value holds no items: kept as UN");
            vr = OBIA_VR_UN;
            el->vr = (uint8_t)vr;
        }
        if (vr == OBIA_VR_SQ) {
            bool save_explicit = p->explicit_vr, save_be = p->big_endian;
            if (un_known) {
                p->explicit_vr = false;
                p->big_endian = false;
            }
            size_t after;
            bool ok = parse_items(p, ds, el, pos, pos + len, false, depth, &after);
            p->explicit_vr = save_explicit;
            p->big_endian = save_be;
            if (!ok)
                return false;
            pos += len;
            continue;
        }
        if ((len & 1) && vr != OBIA_VR_UN)
            warn(p, tag, p->base + start, "odd value length %u", len);
        if (!set_value(p, el, pos, len))
            return false;
        pos += len;
    }
    /* File Meta elements belong before the dataset, never in it */
    for (uint32_t i = 0; top && i < ds->n && OBIA_GROUP(ds->elems[i].tag) <= 0x0002;) {
        if (OBIA_GROUP(ds->elems[i].tag) == 0x0002) {
            warn(p, ds->elems[i].tag, ds->elems[i].offset,
                 "File Meta element inside the dataset ignored");
            obia_dataset_remove(ds, ds->elems[i].tag);
        } else {
            i++;
        }
    }
    if (in_undefined_item)
        warn(p, OBIA_NO_TAG, p->base + pos, "item has no delimiter before the end of the data");
    *pos_io = pos;
    return true;
}

/* ---- file level ------------------------------------------------------------------- */

static bool looks_like_group2(const uint8_t *b, size_t len)
{
    return len >= 8 && b[0] == 0x02 && b[1] == 0x00 && b[3] == 0x00 &&
           obia_vr_from_chars(b[4], b[5]) != OBIA_VR_NONE;
}

/* Guess the encoding of a bare dataset from its first element. */
static void guess_syntax(const uint8_t *b, size_t len, bool *explicit_vr, bool *big_endian)
{
    *explicit_vr = true;
    *big_endian = false;
    if (len < 8)
        return;
    uint16_t gle = obia_rd16le(b), gbe = obia_rd16be(b);
    /* datasets start with a low group (0008 usually): the smaller reading wins */
    *big_endian = gbe < gle;
    obia_vr vr = obia_vr_from_chars(b[4], b[5]);
    *explicit_vr = vr != OBIA_VR_NONE;
    if (*explicit_vr && vr != OBIA_VR_UN) {
        /* an implicit length can spell a VR by chance: it must also fit the tag */
        uint32_t tag = *big_endian ? OBIA_TAG(gbe, obia_rd16be(b + 2)) : OBIA_TAG(gle, obia_rd16le(b + 2));
        const obia_dict_entry *e = (OBIA_GROUP(tag) & 1) ? NULL : obia_dict_lookup(tag);
        obia_vr d = e ? e->vr : OBIA_VR_NONE;
        bool fits = d == OBIA_VR_NONE || d == vr ||
                    (d == OBIA_VR_OB_OW && (vr == OBIA_VR_OB || vr == OBIA_VR_OW)) ||
                    ((d == OBIA_VR_US_SS || d == OBIA_VR_US_SS_OW || d == OBIA_VR_US_OW) &&
                     (vr == OBIA_VR_US || vr == OBIA_VR_SS || vr == OBIA_VR_OW));
        /* ...unless read as implicit its length would run past the data */
        uint32_t ilen = *big_endian ? obia_rd32be(b + 4) : obia_rd32le(b + 4);
        if (!fits && (ilen == OBIA_UNDEFINED_LENGTH || ilen <= len - 8))
            *explicit_vr = false;
    }
}

/* Without a "DICM" marker after a preamble or a File Meta group, anything
 * could be a bare dataset: accept it only if it starts with an element of
 * the dictionary whose value fits in the data. */
static bool plausible_bare_dataset(parser *p, const uint8_t *b, size_t len, size_t pos,
                                   bool explicit_vr, bool big_endian)
{
    if (len < 8)
        return fail(p, OBIA_E_FORMAT, OBIA_NO_TAG, pos,
                    "not DICOM: %zu bytes, without a \"DICM\" marker", len);
    uint16_t g = big_endian ? obia_rd16be(b) : obia_rd16le(b);
    uint16_t e = big_endian ? obia_rd16be(b + 2) : obia_rd16le(b + 2);
    uint32_t tag = OBIA_TAG(g, e);
    bool known = !(g & 1) && g != 0xFFFE && (e == 0 || obia_dict_lookup(tag) != NULL);
    uint64_t vlen, hdr = 8;
    obia_vr vr = OBIA_VR_NONE;
    if (explicit_vr) {
        vr = obia_vr_from_chars(b[4], b[5]);
        if (obia_vr_long_length(vr)) {
            hdr = 12;
            vlen = len >= 12 ? (big_endian ? obia_rd32be(b + 8) : obia_rd32le(b + 8)) : len;
        } else {
            vlen = big_endian ? obia_rd16be(b + 6) : obia_rd16le(b + 6);
        }
    } else {
        vlen = big_endian ? obia_rd32be(b + 4) : obia_rd32le(b + 4);
    }
    bool fits = vlen == OBIA_UNDEFINED_LENGTH ? (vr == OBIA_VR_SQ || vr == OBIA_VR_UN ||
                                                 vr == OBIA_VR_OB || vr == OBIA_VR_OW ||
                                                 (!explicit_vr && known))
                                              : hdr <= len && vlen <= len - hdr;
    if (known && fits)
        return true;
    if (!known)
        return fail(p, OBIA_E_FORMAT, OBIA_NO_TAG, pos,
                    "not DICOM: no \"DICM\" marker, and the data does not start with a DICOM "
                    "element ((%04X,%04X) is not in the dictionary)",
                    g, e);
    return fail(p, OBIA_E_FORMAT, tag, pos,
                "not DICOM: no \"DICM\" marker, and the value of the first element (%llu bytes) "
                "does not fit in the %zu bytes of data",
                (unsigned long long)vlen, len);
}

static bool inflate_all(parser *p, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK)
        return fail(p, OBIA_E_NOMEM, OBIA_NO_TAG, 0, "cannot start inflate");
    size_t cap = in_len * 4 + 4096, n = 0;
    if (cap > p->opt.max_inflated)
        cap = (size_t)p->opt.max_inflated;
    uint8_t *buf = malloc(cap ? cap : 1);
    bool ok = buf != NULL;
    zs.next_in = (Bytef *)in;
    int rc = Z_OK;
    size_t consumed_total = 0;
    while (ok) {
        if (n == cap) {
            if (cap >= p->opt.max_inflated) {
                ok = fail(p, OBIA_E_LIMIT, OBIA_NO_TAG, 0,
                          "deflated dataset inflates beyond the configured %llu bytes",
                          (unsigned long long)p->opt.max_inflated);
                break;
            }
            size_t ncap = cap * 2 > p->opt.max_inflated ? (size_t)p->opt.max_inflated : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                ok = fail(p, OBIA_E_NOMEM, OBIA_NO_TAG, 0, "out of memory inflating");
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t avail_in = in_len - consumed_total;
        zs.avail_in = avail_in > UINT32_MAX ? UINT32_MAX : (uInt)avail_in;
        zs.next_out = buf + n;
        size_t room = cap - n;
        zs.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        uInt before_in = zs.avail_in, before_out = zs.avail_out;
        rc = inflate(&zs, Z_NO_FLUSH);
        consumed_total += before_in - zs.avail_in;
        n += before_out - zs.avail_out;
        if (rc == Z_STREAM_END)
            break;
        if (rc == Z_BUF_ERROR && consumed_total == in_len) {
            warn(p, OBIA_NO_TAG, 0, "deflate stream ends early; %zu bytes inflated", n);
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            ok = fail(p, OBIA_E_FORMAT, OBIA_NO_TAG, 0, "corrupt deflate stream: %s",
                      zs.msg ? zs.msg : "inflate failed");
            break;
        }
    }
    inflateEnd(&zs);
    if (!ok) {
        free(buf);
        return false;
    }
    *out = buf;
    *out_len = n;
    return true;
}

static obia_file *file_new(void)
{
    obia_file *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->arena = obia_arena_new(64 * 1024);
    if (f->arena) {
        f->meta = obia__dataset_new_in(f->arena, NULL);
        f->body = obia__dataset_new_in(f->arena, NULL);
    }
    if (!f->arena || !f->meta || !f->body) {
        obia_arena_free(f->arena);
        free(f);
        return NULL;
    }
    return f;
}

static bool parse_file(parser *p, const uint8_t *data, size_t len)
{
    obia_file *f = p->f;
    size_t pos = 0;
    f->size = len;
    p->buf = data;
    p->len = len;
    p->base = 0;
    if (len >= 132 && memcmp(data + 128, "DICM", 4) == 0) {
        f->has_preamble = true;
        pos = 132;
    } else if (len >= 4 && memcmp(data, "DICM", 4) == 0) {
        warn(p, OBIA_NO_TAG, 0, "no 128-byte preamble before \"DICM\"");
        pos = 4;
    }

    /* File Meta Information: group 0002, always Explicit VR Little Endian. */
    if (looks_like_group2(data + pos, len - pos)) {
        f->has_meta = true;
        p->explicit_vr = true;
        p->big_endian = false;
        size_t meta_end = pos;
        /* find where group 0002 ends without trusting the group length */
        while (len - meta_end >= 8 && obia_rd16le(data + meta_end) == 0x0002) {
            obia_vr vr = obia_vr_from_chars(data[meta_end + 4], data[meta_end + 5]);
            size_t hdr = 8, vlen;
            if (vr == OBIA_VR_NONE) {
                /* implicit VR in the meta group (seen in the wild) */
                vlen = obia_rd32le(data + meta_end + 4);
            } else if (obia_vr_long_length(vr)) {
                if (len - meta_end < 12)
                    break;
                vlen = obia_rd32le(data + meta_end + 8);
                hdr = 12;
            } else {
                vlen = obia_rd16le(data + meta_end + 6);
            }
            if (vlen == OBIA_UNDEFINED_LENGTH || vlen > len - meta_end - hdr)
                return fail(p, OBIA_E_FORMAT, OBIA_TAG(2, obia_rd16le(data + meta_end + 2)),
                            meta_end, "File Meta element length %zu exceeds the %zu bytes left",
                            vlen, len - meta_end - hdr);
            meta_end += hdr + vlen;
        }
        if (!parse_dataset(p, f->meta, &pos, meta_end, 0, false, false))
            return false;
        const obia_element *gl = obia_dataset_get(f->meta, OBIA_TAG(2, 0));
        int64_t glv;
        if (gl && obia_element_get_int(gl, 0, &glv, NULL) &&
            (uint64_t)glv != meta_end - (gl->offset + 12))
            warn(p, gl->tag, gl->offset, "File Meta group length %lld is wrong (group is %llu bytes)",
                 (long long)glv, (unsigned long long)(meta_end - (gl->offset + 12)));
        if (!gl)
            warn(p, OBIA_TAG(2, 0), pos, "File Meta has no group length");
        pos = meta_end;
    } else if (f->has_preamble) {
        warn(p, OBIA_NO_TAG, pos, "no File Meta Information after the preamble");
    }

    bool explicit_vr, big_endian, deflated = false;
    const obia_element *tse = obia_dataset_get(f->meta, OBIA_TAG(2, 0x10));
    if (tse && tse->length) {
        size_t n = tse->length;
        while (n && (tse->value[n - 1] == 0 || tse->value[n - 1] == ' '))
            n--;
        if (n >= sizeof f->ts)
            n = sizeof f->ts - 1;
        memcpy(f->ts, tse->value, n);
        f->ts[n] = '\0';
        obia_ts_info ts = obia_ts_classify(f->ts, n);
        explicit_vr = ts.explicit_vr;
        big_endian = ts.big_endian;
        deflated = ts.deflated;
        if (!ts.known)
            warn(p, tse->tag, tse->offset, "unknown transfer syntax %s; read as explicit VR little endian",
                 f->ts);
        /* Trust the data over a meta header that says explicit VR where the
         * first element has no VR code at all.  A valid code that disagrees
         * with the dictionary is still read as explicit: the header says so.
         * (The reverse is not checked: an implicit length can look like a VR
         * by chance.) */
        if (len - pos >= 8 && !deflated && explicit_vr && !big_endian &&
            obia_vr_from_chars(data[pos + 4], data[pos + 5]) == OBIA_VR_NONE) {
            warn(p, OBIA_NO_TAG, pos, "transfer syntax %s says explicit VR but the data is implicit VR",
                 f->ts);
            explicit_vr = false;
        }
    } else {
        if (f->has_meta)
            warn(p, OBIA_TAG(2, 0x10), pos, "File Meta has no Transfer Syntax UID; guessed from the data");
        guess_syntax(data + pos, len - pos, &explicit_vr, &big_endian);
        if (!f->has_meta && !f->has_preamble &&
            !plausible_bare_dataset(p, data + pos, len - pos, pos, explicit_vr, big_endian))
            return false;
        snprintf(f->ts, sizeof f->ts, "%s",
                 !explicit_vr ? OBIA_TS_IMPLICIT_LE : big_endian ? OBIA_TS_EXPLICIT_BE
                                                                 : OBIA_TS_EXPLICIT_LE);
    }

    p->explicit_vr = explicit_vr;
    p->big_endian = big_endian;
    if (deflated) {
        uint8_t *inflated = NULL;
        size_t ilen = 0;
        if (!inflate_all(p, data + pos, len - pos, &inflated, &ilen))
            return false;
        f->inflated = inflated;
        p->buf = inflated;
        p->len = ilen;
        p->base = 0;
        /* offsets reported from here on count in the inflated stream */
        pos = 0;
    }
    return parse_dataset(p, f->body, &pos, p->len, 0, false, true);
}

obia_file *obia_file_parse(const uint8_t *data, size_t len, const obia_read_options *opt,
                           obia_error *err)
{
    obia_file *f = file_new();
    if (!f) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    parser p = {.f = f, .err = err};
    if (opt)
        p.opt = *opt;
    else
        obia_read_options_init(&p.opt);
    p.copy = p.opt.copy_values;
    if (!parse_file(&p, data, len)) {
        obia_error_set(err, OBIA_E_FORMAT, "cannot parse");
        obia_file_free(f);
        return NULL;
    }
    return f;
}

#define READ_CHUNK ((size_t)64 << 10)

/* Parse the first READ_CHUNK bytes of fd (all of a smaller file): the
 * file, when that was all of it or the header ended (at Pixel Data) within
 * them; else NULL with err set only if the file was all read. */
static obia_file *read_prefix(int fd, size_t len, const obia_read_options *o, obia_error *err)
{
    size_t n = len < READ_CHUNK ? len : READ_CHUNK;
    uint8_t *buf = malloc(n);
    if (!buf) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != n) {
        free(buf);
        if (n == len)
            obia_error_set(err, OBIA_E_IO, "cannot read: %s", got < n && errno ? strerror(errno) : "short read");
        return NULL;
    }
    obia_error e;
    obia_error_clear(&e);
    obia_file *f = obia_file_parse(buf, n, o, &e);
    if (f && (n == len || f->stopped)) {
        f->size = len;
        if (o->copy_values)
            free(buf);
        else
            f->owned = buf;
        return f;
    }
    obia_file_free(f);
    free(buf);
    if (n == len)
        *err = e;
    return NULL;
}

obia_file *obia_file_read(const char *path, const obia_read_options *opt, obia_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        obia_error_set(err, OBIA_E_IO, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        obia_error_set(err, OBIA_E_IO, "cannot stat: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        obia_error_set(err, OBIA_E_IO, "%s", S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return NULL;
    }
    obia_read_options o;
    if (opt)
        o = *opt;
    else
        obia_read_options_init(&o);
    size_t len = (size_t)st.st_size;
    /* A small file, or the header of any file: read (not mapped) into a
     * buffer, which costs less than mapping and unmapping; a header longer
     * than the buffer falls back to mapping the file. */
    if (len && (len <= READ_CHUNK || o.header_only)) {
        obia_file *f = read_prefix(fd, len, &o, err);
        if (f || len <= READ_CHUNK) {
            close(fd);
            return f;
        }
        obia_error_clear(err);
    }
    void *map = NULL;
    if (len) {
        /* a whole read touches every page: fault them in at once */
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | (o.header_only ? 0 : MAP_POPULATE), fd, 0);
        if (map == MAP_FAILED) {
            obia_error_set(err, OBIA_E_IO, "cannot map: %s", strerror(errno));
            close(fd);
            return NULL;
        }
    }
    close(fd);
    obia_file *f = obia_file_parse(map ? map : (const uint8_t *)"", len, &o, err);
    if (!f) {
        if (map)
            munmap(map, len);
        return NULL;
    }
    if (o.copy_values) {
        if (map)
            munmap(map, len);
    } else {
        f->map = map;
        f->map_len = len;
    }
    return f;
}

void obia_file_free(obia_file *f)
{
    if (!f)
        return;
    obia__dataset_release(f->meta);
    obia__dataset_release(f->body);
    obia_arena_free(f->arena);
    if (f->map)
        munmap(f->map, f->map_len);
    free(f->inflated);
    free(f->owned);
    free(f->warnings);
    free(f);
}

obia_dataset *obia_file_meta(const obia_file *f) { return f->meta; }
obia_dataset *obia_file_dataset(const obia_file *f) { return f->body; }
const char *obia_file_transfer_syntax(const obia_file *f) { return f->ts; }
bool obia_file_has_preamble(const obia_file *f) { return f->has_preamble; }
bool obia_file_has_meta(const obia_file *f) { return f->has_meta; }
bool obia_file_stopped_at_pixels(const obia_file *f) { return f->stopped; }
uint64_t obia_file_size(const obia_file *f) { return f->size; }
size_t obia_file_warning_count(const obia_file *f) { return f->nwarn; }

const obia_warning *obia_file_warning(const obia_file *f, size_t index)
{
    return index < f->nwarn ? &f->warnings[index] : NULL;
}
