/* Data dictionary, UID registry and transfer syntax lookups. */
#include "dict_internal.h"
#include "dicom_internal.h"

#include <string.h>

/* Order a table string against len bytes of input (which may hold NULs). */
static int bytes_cmp(const char *table, const char *input, size_t len)
{
    size_t tlen = strlen(table);
    int c = memcmp(table, input, tlen < len ? tlen : len);
    if (c != 0)
        return c;
    return tlen < len ? -1 : tlen > len ? 1 : 0;
}

const obia_dict_entry *obia_dict_lookup(uint32_t tag)
{
    size_t lo = 0, hi = obia_dict_plain_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t t = obia_dict_table[mid].tag;
        if (t == tag)
            return &obia_dict_table[mid];
        if (t < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Repeating groups: only a few groups can match, test them cheaply. */
    uint16_t g = OBIA_GROUP(tag);
    if ((g & 0xFF00) != 0x5000 && (g & 0xFF00) != 0x6000 && (g & 0xFF00) != 0x7F00 &&
        g != 0x1000 && g != 0x1010 && g != 0x0020 && g != 0x0028)
        return NULL;
    for (size_t i = obia_dict_plain_count; i < obia_dict_total_count; i++) {
        const obia_dict_entry *e = &obia_dict_table[i];
        if ((tag & e->mask) == e->tag) {
            /* 50xx/60xx/7Fxx groups are even-numbered only */
            if ((e->mask & 0x00FF0000) == 0 && (g & 1))
                continue;
            return e;
        }
    }
    return NULL;
}

const obia_dict_entry *obia_dict_lookup_keyword(const char *keyword, size_t len)
{
    size_t lo = 0, hi = obia_dict_keyword_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const obia_dict_entry *e = &obia_dict_table[obia_dict_by_keyword[mid]];
        int c = bytes_cmp(e->keyword, keyword, len);
        if (c == 0)
            return e;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t obia_dict_size(void)
{
    return obia_dict_total_count;
}

const obia_private_entry *obia_private_dict_lookup(const char *creator, size_t len, uint32_t tag)
{
    size_t lo = 0, hi = obia_private_creator_count;
    const obia_private_creator *pc = NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const obia_private_creator *c = &obia_private_creators[mid];
        size_t n = c->len < len ? c->len : len;
        int cmp = memcmp(c->name, creator, n);
        if (cmp == 0)
            cmp = c->len < len ? -1 : c->len > len ? 1 : 0;
        if (cmp == 0) {
            pc = c;
            break;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!pc)
        return NULL;
    /* The most specific match wins: the exact tag, then gggg,xxee, then ggxx,xxee. */
    const obia_private_entry *best = NULL;
    for (size_t i = pc->first; i < (size_t)pc->first + pc->count; i++) {
        const obia_private_entry *e = &obia_private_table[i];
        if ((tag & e->mask) == e->tag && (!best || e->mask > best->mask))
            best = e;
    }
    return best;
}

const obia_uid_entry *obia_uid_lookup(const char *uid, size_t len)
{
    /* values may carry a trailing NUL pad */
    while (len && (uid[len - 1] == '\0' || uid[len - 1] == ' '))
        len--;
    size_t lo = 0, hi = obia_uid_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bytes_cmp(obia_uid_table[mid].uid, uid, len);
        if (c == 0)
            return &obia_uid_table[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool uid_eq(const char *uid, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(uid, lit, n) == 0;
}

obia_ts_info obia_ts_classify(const char *uid, size_t len)
{
    obia_ts_info ts = {.explicit_vr = true};
    while (len && (uid[len - 1] == '\0' || uid[len - 1] == ' '))
        len--;
    const obia_uid_entry *e = obia_uid_lookup(uid, len);
    ts.known = e && strcmp(e->type, "Transfer Syntax") == 0;
    if (uid_eq(uid, len, OBIA_TS_IMPLICIT_LE)) {
        ts.explicit_vr = false;
    } else if (uid_eq(uid, len, OBIA_TS_EXPLICIT_LE)) {
    } else if (uid_eq(uid, len, OBIA_TS_EXPLICIT_BE)) {
        ts.big_endian = true;
    } else if (uid_eq(uid, len, OBIA_TS_DEFLATED_LE) ||
               uid_eq(uid, len, "1.2.840.10008.1.2.1.98") /* encapsulated uncompressed */) {
        ts.deflated = uid_eq(uid, len, OBIA_TS_DEFLATED_LE);
        ts.encapsulated = !ts.deflated;
    } else {
        /* JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE, MPEG, deflated image frames... */
        ts.encapsulated = true;
    }
    return ts;
}

obia_vr obia__dict_vr(const obia_dataset *ds, uint32_t tag)
{
    uint16_t g = OBIA_GROUP(tag), e = OBIA_ELEM(tag);
    if (e == 0)
        return OBIA_VR_UL;
    if (g & 1) {
        if (e >= 0x0010 && e <= 0x00FF)
            return OBIA_VR_LO;
        const char *creator;
        size_t len;
        if (ds && obia_dataset_private_creator(ds, tag, &creator, &len)) {
            const obia_private_entry *p = obia_private_dict_lookup(creator, len, tag);
            if (p && p->vr != OBIA_VR_NONE)
                return p->vr;
        }
        return OBIA_VR_UN;
    }
    const obia_dict_entry *d = obia_dict_lookup(tag);
    /* tags the dictionary lists without a VR (retired, "See Note") are UN */
    return d && d->vr != OBIA_VR_NONE ? d->vr : OBIA_VR_UN;
}

static const obia_element *find_up(const obia_dataset *ds, uint32_t tag,
                                   const obia_dataset **where)
{
    for (; ds; ds = ds->parent) {
        const obia_element *el = obia_dataset_get(ds, tag);
        if (el) {
            if (where)
                *where = ds;
            return el;
        }
    }
    return NULL;
}

obia_vr obia__resolve_ambiguous(const obia_dataset *ds, uint32_t tag, obia_vr vr, bool implicit,
                                bool undefined_length)
{
    int64_t v = 0;
    switch (vr) {
    case OBIA_VR_OB_OW:
        if (undefined_length)
            return OBIA_VR_OB;
        if (implicit)
            return OBIA_VR_OW;
        if (tag == OBIA_TAG_PIXEL_DATA) {
            const obia_element *ba = find_up(ds, OBIA_TAG(0x0028, 0x0100), NULL);
            return ba && obia_element_get_int(ba, 0, &v, NULL) && v <= 8 ? OBIA_VR_OB : OBIA_VR_OW;
        }
        {
            const obia_element *wba = obia_dataset_get(ds, OBIA_TAG(0x5400, 0x1004));
            return wba && obia_element_get_int(wba, 0, &v, NULL) && v <= 8 ? OBIA_VR_OB
                                                                             : OBIA_VR_OW;
        }
    case OBIA_VR_US_SS: {
        /* SS when Pixel Representation (here or in a parent) is 1 */
        const obia_element *pr = find_up(ds, OBIA_TAG(0x0028, 0x0103), NULL);
        if (pr && obia_element_get_int(pr, 0, &v, NULL) && v == 1)
            return OBIA_VR_SS;
        return OBIA_VR_US;
    }
    case OBIA_VR_US_OW:
    case OBIA_VR_US_SS_OW: {
        /* LUT Data: US when the LUT Descriptor announces a single entry */
        const obia_element *desc = obia_dataset_get(ds, OBIA_TAG(0x0028, 0x3002));
        if (desc && obia_element_get_int(desc, 0, &v, NULL) && v == 1)
            return OBIA_VR_US;
        return OBIA_VR_OW;
    }
    default:
        return vr;
    }
}
