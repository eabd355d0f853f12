/* The de-identification engine: PS3.15 Table E.1-1 with options, applied
 * to every element of a dataset, its sequence items and private blocks. */
#include "deid_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG(g, e) OBIA_TAG(g, e)

/* ---- options --------------------------------------------------------------- */

static const obia_deid_option_info options[] = {
    {"clean-pixel-data", OBIA_DEID_CLEAN_PIXEL_DATA, "Clean Pixel Data Option", "113101"},
    {"clean-descriptors", OBIA_DEID_CLEAN_DESCRIPTORS, "Clean Descriptors Option", "113105"},
    {"retain-modified-dates", OBIA_DEID_RETAIN_MODIFIED_DATES,
     "Retain Longitudinal Temporal Information Modified Dates Option", "113107"},
    {"retain-full-dates", OBIA_DEID_RETAIN_FULL_DATES,
     "Retain Longitudinal Temporal Information Full Dates Option", "113106"},
    {"retain-patient-characteristics", OBIA_DEID_RETAIN_PATIENT_CHARACTERISTICS,
     "Retain Patient Characteristics Option", "113108"},
    {"retain-device-identity", OBIA_DEID_RETAIN_DEVICE_IDENTITY, "Retain Device Identity Option",
     "113109"},
    {"retain-institution-identity", OBIA_DEID_RETAIN_INSTITUTION_IDENTITY,
     "Retain Institution Identity Option", "113112"},
    {"retain-uids", OBIA_DEID_RETAIN_UIDS, "Retain UIDs Option", "113110"},
    {"retain-safe-private", OBIA_DEID_RETAIN_SAFE_PRIVATE, "Retain Safe Private Option", "113111"},
    {"clean-structured-content", OBIA_DEID_CLEAN_STRUCTURED_CONTENT,
     "Clean Structured Content Option", "113104"},
    {"clean-graphics", OBIA_DEID_CLEAN_GRAPHICS, "Clean Graphics Option", "113103"},
    {"retain-numeric-private", OBIA_DEID_RETAIN_NUMERIC_PRIVATE,
     "Retain private attributes with purely numeric values", NULL},
};

const obia_deid_option_info *obia_deid_options(size_t *count)
{
    *count = sizeof options / sizeof options[0];
    return options;
}

const obia_deid_option_info *obia_deid_option_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

void obia_deid_config_init(obia_deid_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->options = OBIA_DEID_PROFILE_OBIA;
}

/* Option bit of each column of Table E.1-1. */
static const unsigned column_option[DEID_NCOLUMNS] = {
    [DEID_COL_SAFE_PRIVATE] = OBIA_DEID_RETAIN_SAFE_PRIVATE,
    [DEID_COL_UIDS] = OBIA_DEID_RETAIN_UIDS,
    [DEID_COL_DEVICE] = OBIA_DEID_RETAIN_DEVICE_IDENTITY,
    [DEID_COL_INSTITUTION] = OBIA_DEID_RETAIN_INSTITUTION_IDENTITY,
    [DEID_COL_PATIENT_CHARS] = OBIA_DEID_RETAIN_PATIENT_CHARACTERISTICS,
    [DEID_COL_FULL_DATES] = OBIA_DEID_RETAIN_FULL_DATES,
    [DEID_COL_MODIFIED_DATES] = OBIA_DEID_RETAIN_MODIFIED_DATES,
    [DEID_COL_CLEAN_DESCRIPTORS] = OBIA_DEID_CLEAN_DESCRIPTORS,
    [DEID_COL_CLEAN_STRUCTURED] = OBIA_DEID_CLEAN_STRUCTURED_CONTENT,
    [DEID_COL_CLEAN_GRAPHICS] = OBIA_DEID_CLEAN_GRAPHICS,
};

/* ---- UIDs ------------------------------------------------------------------ */

void obia_deid_map_uid(const uint8_t key[32], const char *uid, size_t len, char out[64])
{
    while (len && (uid[len - 1] == 0 || uid[len - 1] == ' '))
        len--;
    uint8_t h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)uid, len, key, 32);
    obia_uid_2_25(h, out);
}

/* ---- the walk ------------------------------------------------------------- */

typedef struct walk {
    const obia_deid_config *cfg;
    unsigned opt;
    obia_deid_action_fn on_action;
    void *action_ctx;
    obia_deid_identity id;
    deid_cleaner *cleaner;
    bool shift;               /* dates are shifted by id.date_offset_days */
    bool shifted_any;
    char path[640];
    size_t plen;
    obia_buf tmp;
    obia_error *err;
    bool failed;
} walk;

static void act(walk *w, uint32_t tag, char action)
{
    if (!w->on_action)
        return;
    size_t n = w->plen;
    snprintf(w->path + n, sizeof w->path - n, "%08X", tag);
    w->on_action(w->action_ctx, w->path, action);
    w->path[n] = '\0';
}

static bool fail_oom(walk *w)
{
    if (!w->failed)
        obia_error_set(w->err, OBIA_E_NOMEM, "out of memory");
    w->failed = true;
    return false;
}

/* The action for a public element with a row in Table E.1-1; *cleaners the
 * columns whose C applies. Where options disagree, C (clean) wins over K
 * (keep): cleaning is the safer of the two. */
static deid_action resolve(const deid_rule *r, unsigned opt, unsigned *cleaners)
{
    bool keep = false;
    *cleaners = 0;
    for (int c = 0; c < DEID_NCOLUMNS; c++) {
        if (!(opt & column_option[c]) || r->option[c] == DEID_ACT_NONE)
            continue;
        if (r->option[c] == DEID_ACT_C)
            *cleaners |= 1u << c;
        else if (r->option[c] == DEID_ACT_K)
            keep = true;
    }
    if (*cleaners)
        return DEID_ACT_C;
    return keep ? DEID_ACT_K : (deid_action)r->basic;
}

static bool set_raw(walk *w, obia_dataset *ds, uint32_t tag, obia_vr vr, const void *p, size_t n)
{
    if (!obia_dataset_set_bytes(ds, tag, vr, p, n, w->err)) {
        w->failed = true;
        return false;
    }
    return true;
}

/* A value valid for the VR that says nothing (action D). */
static bool set_dummy(walk *w, obia_dataset *ds, uint32_t tag, obia_vr vr)
{
    static const uint8_t zeros[8];
    const char *text = NULL;
    switch (vr) {
    case OBIA_VR_AE: text = "ANONYMOUS"; break;
    case OBIA_VR_AS: text = "000D"; break;
    case OBIA_VR_CS: text = "ANONYMIZED"; break;
    case OBIA_VR_DA: text = "19000101"; break;
    case OBIA_VR_DT: text = "19000101000000"; break;
    case OBIA_VR_TM: text = "000000"; break;
    case OBIA_VR_DS:
    case OBIA_VR_IS: text = "0"; break;
    case OBIA_VR_LO: case OBIA_VR_SH: case OBIA_VR_ST: case OBIA_VR_LT: case OBIA_VR_UT:
    case OBIA_VR_UC: case OBIA_VR_PN: case OBIA_VR_UR: text = "ANONYMIZED"; break;
    default: break;
    }
    if (text)
        return set_raw(w, ds, tag, vr, text, strlen(text));
    unsigned size = obia_vr_numeric_size(vr);
    if (vr == OBIA_VR_AT)
        size = 4;
    if (size == 0)
        size = 2;   /* OB: one even-length run of zeros */
    return set_raw(w, ds, tag, vr, zeros, size);
}

/* The values of a text element one by one, without their surrounding
 * spaces and NUL padding: *pos starts at 0; false when there are no more. */
typedef struct values {
    const uint8_t *p;
    size_t n;
    size_t pos;
    bool done;
} values;

static values values_of(const obia_element *el)
{
    return (values){obia_element_bytes(el), obia_element_length(el), 0, false};
}

static bool next_value(values *it, const uint8_t **v, size_t *len, bool *first)
{
    if (it->done)
        return false;
    *first = it->pos == 0;
    size_t i = it->pos;
    while (i < it->n && it->p[i] != '\\')
        i++;
    const uint8_t *s = it->p + it->pos;
    size_t k = i - it->pos;
    while (k && (*s == ' ' || *s == 0))
        s++, k--;
    while (k && (s[k - 1] == ' ' || s[k - 1] == 0))
        k--;
    *v = s;
    *len = k;
    if (i >= it->n)
        it->done = true;
    it->pos = i + 1;
    return true;
}

static bool map_uids(walk *w, obia_dataset *ds, const obia_element *el, uint32_t tag)
{
    obia_buf_reset(&w->tmp);
    values it = values_of(el);
    const uint8_t *v;
    size_t len;
    bool first;
    while (next_value(&it, &v, &len, &first)) {
        if (!first)
            obia_buf_append_byte(&w->tmp, '\\');
        if (len) {
            char uid[64];
            obia_deid_map_uid(w->cfg->uid_key, (const char *)v, len, uid);
            obia_buf_append_str(&w->tmp, uid);
        }
    }
    if (w->tmp.failed)
        return fail_oom(w);
    return set_raw(w, ds, tag, OBIA_VR_UI, w->tmp.data, w->tmp.len);
}

static bool shift_dates(walk *w, obia_dataset *ds, const obia_element *el, uint32_t tag, obia_vr vr)
{
    obia_buf_reset(&w->tmp);
    values it = values_of(el);
    const uint8_t *v;
    size_t len;
    bool first;
    while (next_value(&it, &v, &len, &first)) {
        if (!first)
            obia_buf_append_byte(&w->tmp, '\\');
        char da[9];
        if (len == 0) {
            /* empty stays empty */
        } else if (vr == OBIA_VR_DA && deid_shift_da(v, len, w->id.date_offset_days, da)) {
            obia_buf_append(&w->tmp, da, 8);
        } else if (vr == OBIA_VR_DT && deid_shift_dt(v, len, w->id.date_offset_days, &w->tmp)) {
            /* appended */
        } else {
            /* not a date that can be shifted (a range, a malformed value):
             * nothing of it is kept */
            obia_buf_reset(&w->tmp);
            act(w, tag, 'Z');
            return set_raw(w, ds, tag, vr, "", 0);
        }
    }
    if (w->tmp.failed)
        return fail_oom(w);
    w->shifted_any = true;
    act(w, tag, 'S');
    return set_raw(w, ds, tag, vr, w->tmp.data, w->tmp.len);
}

static bool clean_text(walk *w, obia_dataset *ds, const obia_element *el, uint32_t tag, obia_vr vr)
{
    obia_buf_reset(&w->tmp);
    if (!deid_clean_text(w->cleaner, obia_element_bytes(el), obia_element_length(el), w->shift,
                         w->id.date_offset_days, &w->tmp))
        return true;   /* nothing identifying: kept as it is */
    if (w->tmp.failed)
        return fail_oom(w);
    act(w, tag, 'C');
    return set_raw(w, ds, tag, vr, w->tmp.data, w->tmp.len);
}

static bool process_dataset(walk *w, obia_dataset *ds, int depth);

static bool recurse(walk *w, const obia_element *el, uint32_t tag)
{
    size_t n = obia_element_item_count(el);
    size_t plen = w->plen;
    for (size_t i = 0; i < n && !w->failed; i++) {
        int k = snprintf(w->path + plen, sizeof w->path - plen, "%08X[%zu].", tag, i);
        if (k < 0 || (size_t)k >= sizeof w->path - plen) {
            w->path[plen] = '\0';
            obia_error_set(w->err, OBIA_E_LIMIT, "sequences nested too deep");
            w->failed = true;
            return false;
        }
        w->plen = plen + (size_t)k;
        process_dataset(w, obia_element_item(el, i), 1);
        w->plen = plen;
        w->path[plen] = '\0';
    }
    return !w->failed;
}

/* Sequences of Table E.1-1 with X/Z, X/D or X/Z/D that are Type 2 in the
 * IODs that use them: emptied rather than removed. */
static bool type2_sequence(uint32_t tag)
{
    return tag == TAG(0x0040, 0x0555);   /* AcquisitionContextSequence */
}

static bool apply(walk *w, obia_dataset *ds, uint32_t tag, deid_action a, unsigned cleaners)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    obia_vr vr = obia_element_vr(el);
    if (vr == OBIA_VR_SQ) {
        switch (a) {
        case DEID_ACT_X:
            obia_dataset_remove(ds, tag);
            act(w, tag, 'X');
            return true;
        case DEID_ACT_XZ:
        case DEID_ACT_XD:
        case DEID_ACT_XZD:
            /* An empty sequence is valid only where the sequence is Type 2;
             * elsewhere (Type 3, the usual case) removing it is. */
            if (!type2_sequence(tag)) {
                obia_dataset_remove(ds, tag);
                act(w, tag, 'X');
                return true;
            }
            /* fall through */
        case DEID_ACT_Z: case DEID_ACT_ZD: case DEID_ACT_D:
            /* a dummy sequence would have to keep items; the content of
             * these sequences is identifying as a whole (institution codes,
             * operators, SR content), so it goes */
            if (obia_element_item_count(el) == 0)
                return true;
            act(w, tag, 'Z');
            if (!obia_dataset_set_empty_sequence(ds, tag, w->err))
                return fail_oom(w);
            return true;
        default:
            /* K, C, U, X/Z/U*: keep the sequence, de-identify its items */
            return recurse(w, el, tag);
        }
    }
    switch (a) {
    case DEID_ACT_NONE:
    case DEID_ACT_K:
        return true;
    case DEID_ACT_X:
        obia_dataset_remove(ds, tag);
        act(w, tag, 'X');
        return true;
    case DEID_ACT_Z:
    case DEID_ACT_XZ:
        if (obia_element_length(el) == 0 && !obia_element_is_encapsulated(el))
            return true;
        act(w, tag, 'Z');
        return set_raw(w, ds, tag, vr, "", 0);
    case DEID_ACT_U:
    case DEID_ACT_XZU:   /* a non-UID under U gets a dummy, below */
    case DEID_ACT_D:
    case DEID_ACT_ZD:
    case DEID_ACT_XD:
    case DEID_ACT_XZD:
        /* A dummy keeps the attribute present, valid whatever its Type in
         * the IOD, and says no more than removing it would. */
        if (vr == OBIA_VR_UI) {
            if (obia_element_length(el) == 0)
                return true;
            act(w, tag, 'U');
            return map_uids(w, ds, el, tag);
        }
        if (vr == OBIA_VR_UN || vr == OBIA_VR_NONE) {
            act(w, tag, 'Z');
            return set_raw(w, ds, tag, OBIA_VR_UN, "", 0);
        }
        act(w, tag, 'D');
        return set_dummy(w, ds, tag, vr);
    case DEID_ACT_C:
        if ((cleaners & (1u << DEID_COL_MODIFIED_DATES)) && (vr == OBIA_VR_DA || vr == OBIA_VR_DT)) {
            if (obia_element_length(el) == 0)
                return true;
            return shift_dates(w, ds, el, tag, vr);
        }
        switch (vr) {
        case OBIA_VR_TM:
            return true;   /* times are kept: the shift is whole days */
        case OBIA_VR_DA:
        case OBIA_VR_DT:
            if (w->shift && obia_element_length(el))
                return shift_dates(w, ds, el, tag, vr);
            act(w, tag, 'Z');
            return set_raw(w, ds, tag, vr, "", 0);
        case OBIA_VR_UI:
            if (obia_element_length(el) == 0)
                return true;
            act(w, tag, 'U');
            return map_uids(w, ds, el, tag);
        case OBIA_VR_AE:
            act(w, tag, 'D');
            return set_dummy(w, ds, tag, vr);
        case OBIA_VR_LO: case OBIA_VR_SH: case OBIA_VR_ST: case OBIA_VR_LT: case OBIA_VR_UT:
        case OBIA_VR_UC: case OBIA_VR_CS:
            return clean_text(w, ds, el, tag, vr);
        case OBIA_VR_PN:
            act(w, tag, 'D');
            return set_dummy(w, ds, tag, vr);
        default:
            if (obia_vr_numeric_size(vr) && vr != OBIA_VR_OB && vr != OBIA_VR_UN)
                return true;   /* numbers: nothing to clean */
            /* bytes that cannot be inspected (overlay bitmaps, UN) are not
             * trusted */
            obia_dataset_remove(ds, tag);
            act(w, tag, 'X');
            return true;
        }
    }
    return true;
}

/* Eight digits that make a date from 1900 on: a date, not a number. */
static bool looks_like_date(const uint8_t *p, size_t n)
{
    char tmp[9];
    return n >= 8 && (n == 8 || n >= 12) && p[0] >= '1' && p[0] <= '2' &&
           (p[0] == '2' || p[1] == '9') && deid_shift_da(p, 8, 0, tmp);
}

/* One decimal number: [+-]digits[.digits][(e|E)[+-]digits], with at least
 * one digit before the exponent. A phone number (digits with dashes) or a
 * UID (several dots) is not one. */
static bool is_number(const uint8_t *p, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        i++;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++, digits++;
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return false;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t exp = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++, exp++;
        if (!exp)
            return false;
    }
    return i == n;
}

/* Whether a private dictionary name says the value is a date, time stamp
 * or identifier, which a number can be. */
static bool named_identifying(const obia_dataset *ds, uint32_t tag)
{
    const char *creator;
    size_t clen;
    if (!obia_dataset_private_creator(ds, tag, &creator, &clen))
        return false;
    const obia_private_entry *e = obia_private_dict_lookup(creator, clen, tag);
    if (!e || !e->name)
        return false;
    /* the answer for a dictionary entry never changes: remember it */
    static __thread struct {
        const obia_private_entry *entry;
        bool identifying;
    } cache[512];
    size_t slot = ((uintptr_t)e / sizeof *e) % (sizeof cache / sizeof cache[0]);
    if (cache[slot].entry == e)
        return cache[slot].identifying;
    cache[slot].entry = e;
    cache[slot].identifying = false;
    static const char *const words[] = {"date", "time stamp", "timestamp", "birth", "serial",
                                        "uid", "patient id", "accession", "name", "address",
                                        "phone", "checksum"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(e->name, words[i]))
            return cache[slot].identifying = true;
    return false;
}

/* Purely numeric: a binary numeric VR, or text whose every value is one
 * decimal number -- but not dates and times (by VR, or a value that reads as
 * a date), nor what the private dictionary names a date, time stamp or
 * identifier. */
static bool numeric_value(const obia_dataset *ds, const obia_element *el)
{
    obia_vr vr = obia_element_vr(el);
    bool number;
    switch (vr) {
    case OBIA_VR_US: case OBIA_VR_SS: case OBIA_VR_UL: case OBIA_VR_SL: case OBIA_VR_UV:
    case OBIA_VR_SV: case OBIA_VR_FL: case OBIA_VR_FD: case OBIA_VR_OF: case OBIA_VR_OD:
    case OBIA_VR_OL: case OBIA_VR_OV:
        number = true;
        break;
    case OBIA_VR_SQ: case OBIA_VR_DA: case OBIA_VR_DT: case OBIA_VR_TM: case OBIA_VR_UI:
    case OBIA_VR_AT:
        return false;
    default: {
        if (obia_element_is_encapsulated(el))
            return false;
        values it = values_of(el);
        const uint8_t *v;
        size_t len;
        bool first;
        number = false;
        while (next_value(&it, &v, &len, &first)) {
            if (!len)
                continue;
            bool plus = *v == '+';
            if (!is_number(v, len) || looks_like_date(v + plus, len - plus))
                return false;
            number = true;
        }
    }
    }
    return number && !named_identifying(ds, obia_element_tag(el));
}

static bool process_private(walk *w, obia_dataset *ds, uint32_t tag)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    uint16_t g = OBIA_GROUP(tag), e = OBIA_ELEM(tag);
    if (e < 0x1000 || g <= 0x0007 || g == 0xFFFF) {
        /* creators are settled after their elements; (gggg,0001-000F) and
         * the groups 0001-0007 and FFFF cannot hold private data */
        if (e >= 0x0010 && e <= 0x00FF && g > 0x0007 && g != 0xFFFF)
            return true;
        obia_dataset_remove(ds, tag);
        act(w, tag, 'X');
        return true;
    }
    const char *creator;
    size_t clen;
    bool has_creator = obia_dataset_private_creator(ds, tag, &creator, &clen);
    if ((w->opt & OBIA_DEID_RETAIN_SAFE_PRIVATE) && has_creator &&
        deid_safe_private_find(g, (uint8_t)(e & 0xFF), creator, clen)) {
        if (obia_element_vr(el) == OBIA_VR_SQ)
            return recurse(w, el, tag);
        return true;
    }
    if ((w->opt & OBIA_DEID_RETAIN_NUMERIC_PRIVATE) && has_creator && numeric_value(ds, el))
        return true;
    obia_dataset_remove(ds, tag);
    act(w, tag, 'X');
    return true;
}

/* Attributes the archive cannot do without, whatever the allow-list says. */
static bool essential(uint32_t tag)
{
    switch (tag) {
    case TAG(0x0008, 0x0005): /* SpecificCharacterSet */
    case TAG(0x0008, 0x0016): /* SOPClassUID */
    case TAG(0x0028, 0x0002): case TAG(0x0028, 0x0004): case TAG(0x0028, 0x0006):
    case TAG(0x0028, 0x0008): case TAG(0x0028, 0x0010): case TAG(0x0028, 0x0011):
    case TAG(0x0028, 0x0100): case TAG(0x0028, 0x0101): case TAG(0x0028, 0x0102):
    case TAG(0x0028, 0x0103): case TAG(0x7FE0, 0x0010):
        return true;
    default:
        return false;
    }
}

static bool process_dataset(walk *w, obia_dataset *ds, int depth)
{
    size_t n = obia_dataset_count(ds);
    uint32_t stack_tags[256];
    uint32_t *tags = n <= 256 ? stack_tags : malloc(n * sizeof *tags);
    if (!tags)
        return fail_oom(w);
    uint16_t overlays = 0;   /* overlay groups 6000-601E that have data */
    for (size_t i = 0; i < n; i++) {
        tags[i] = obia_element_tag(obia_dataset_at(ds, i));
        if ((tags[i] & 0xFFE1FFFFu) == TAG(0x6000, 0x3000))
            overlays |= (uint16_t)(1u << ((OBIA_GROUP(tags[i]) - 0x6000) / 2));
    }

    for (size_t i = 0; i < n && !w->failed; i++) {
        uint32_t tag = tags[i];
        const obia_element *el = obia_dataset_get(ds, tag);
        if (!el)
            continue;
        uint16_t g = OBIA_GROUP(tag);
        if (OBIA_ELEM(tag) == 0) {
            obia_dataset_remove(ds, tag);   /* group lengths: wrong once edited */
            continue;
        }
        if (g & 1) {
            process_private(w, ds, tag);
            continue;
        }
        if (g == 0x0002) {
            obia_dataset_remove(ds, tag);
            act(w, tag, 'X');
            continue;
        }
        if (depth == 0 && (tag == TAG(0x0010, 0x0010) || tag == TAG(0x0010, 0x0020))) {
            continue;   /* replaced by the pseudonym afterwards */
        }
        const deid_rule *r = deid_rule_find(tag);
        unsigned cleaners = 0;
        deid_action a;
        if (r) {
            a = resolve(r, w->opt, &cleaners);
        } else {
            /* Outside Table E.1-1: the allow-list keeps (or cleans) an
             * attribute; any other attribute of the dictionary is kept
             * present but empty, so that a Type 2 attribute stays valid,
             * except sequences, which an empty value would make invalid
             * where they are Type 3; what the dictionary does not know
             * goes. */
            const deid_safe_attr *sa = deid_safe_attr_find(tag);
            if (sa && sa->clean && obia_vr_is_string(obia_element_vr(el))) {
                clean_text(w, ds, el, tag, obia_element_vr(el));
                continue;
            }
            a = (sa || essential(tag)) ? DEID_ACT_K
                : (obia_dict_lookup(tag) && obia_element_vr(el) != OBIA_VR_SQ) ? DEID_ACT_Z
                                                                             : DEID_ACT_X;
        }
        if (a == DEID_ACT_K && obia_element_vr(el) == OBIA_VR_SQ)
            recurse(w, el, tag);
        else
            apply(w, ds, tag, a, cleaners);
    }

    /* Private creators left without elements go. */
    n = obia_dataset_count(ds);
    for (size_t i = 0; i < n; i++) {
        uint32_t tag = obia_element_tag(obia_dataset_at(ds, i));
        uint16_t g = OBIA_GROUP(tag), e = OBIA_ELEM(tag);
        if (!(g & 1) || e < 0x0010 || e > 0x00FF)
            continue;
        bool used = false;
        for (size_t k = 0; k < n && !used; k++) {
            uint32_t t = obia_element_tag(obia_dataset_at(ds, k));
            used = OBIA_GROUP(t) == g && (OBIA_ELEM(t) >> 8) == e;
        }
        if (!used) {
            obia_dataset_remove(ds, tag);
            act(w, tag, 'X');
            n--;
            i--;
        }
    }
    /* An overlay whose data went cannot keep its description. */
    for (uint16_t g = 0x6000; g <= 0x601E; g += 2) {
        if (!(overlays & (1u << ((g - 0x6000) / 2))) || obia_dataset_get(ds, TAG(g, 0x3000)))
            continue;
        for (size_t i = 0; i < obia_dataset_count(ds);) {
            uint32_t tag = obia_element_tag(obia_dataset_at(ds, i));
            if (OBIA_GROUP(tag) == g) {
                obia_dataset_remove(ds, tag);
                act(w, tag, 'X');
            } else {
                i++;
            }
        }
    }
    if (tags != stack_tags)
        free(tags);
    return !w->failed;
}

/* ---- what identifies the patient, gathered before anything changes -------- */

static const uint32_t phrase_tags[] = {
    TAG(0x0008, 0x0050), /* AccessionNumber */
    TAG(0x0008, 0x0080), /* InstitutionName */
    TAG(0x0008, 0x0081), /* InstitutionAddress */
    TAG(0x0008, 0x1010), /* StationName */
    TAG(0x0008, 0x1040), /* InstitutionalDepartmentName */
    TAG(0x0010, 0x0020), /* PatientID */
    TAG(0x0010, 0x0021), /* IssuerOfPatientID */
    TAG(0x0010, 0x1000), /* OtherPatientIDs */
    TAG(0x0010, 0x1040), /* PatientAddress */
    TAG(0x0010, 0x2154), /* PatientTelephoneNumbers */
    TAG(0x0010, 0x21F0), /* PatientReligiousPreference */
    TAG(0x0010, 0x2150), /* CountryOfResidence */
    TAG(0x0010, 0x2152), /* RegionOfResidence */
    TAG(0x0020, 0x0010), /* StudyID */
    TAG(0x0032, 0x1032), /* RequestingPhysician (PN, also as a phrase) */
    TAG(0x0040, 0x0009), /* ScheduledProcedureStepID */
    TAG(0x0040, 0x0253), /* PerformedProcedureStepID */
    TAG(0x0040, 0x1001), /* RequestedProcedureID */
    TAG(0x0040, 0x2016), /* PlacerOrderNumberImagingServiceRequest */
    TAG(0x0040, 0x2017), /* FillerOrderNumberImagingServiceRequest */
    TAG(0x0038, 0x0010), /* AdmissionID */
};

static void gather(deid_cleaner *c, const obia_dataset *ds, int depth)
{
    size_t n = obia_dataset_count(ds);
    for (size_t i = 0; i < n; i++) {
        const obia_element *el = obia_dataset_at(ds, i);
        uint32_t tag = obia_element_tag(el);
        obia_vr vr = obia_element_vr(el);
        if (vr == OBIA_VR_SQ) {
            if (depth < 8)
                for (size_t k = 0; k < obia_element_item_count(el); k++)
                    gather(c, obia_element_item(el, k), depth + 1);
            continue;
        }
        if (vr == OBIA_VR_PN) {
            deid_cleaner_add_name(c, obia_element_bytes(el), obia_element_length(el));
            continue;
        }
        for (size_t k = 0; k < sizeof phrase_tags / sizeof phrase_tags[0]; k++)
            if (phrase_tags[k] == tag && obia_vr_is_string(vr))
                deid_cleaner_add_phrase(c, obia_element_bytes(el), obia_element_length(el));
    }
}

/* The value of a text element as a C string, trimmed (NULL if absent). */
static const char *text_of(const obia_dataset *ds, uint32_t tag, obia_buf *buf)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    if (!el || obia_element_vr(el) == OBIA_VR_SQ)
        return NULL;
    obia_buf_reset(buf);
    const uint8_t *p = obia_element_bytes(el);
    size_t n = obia_element_length(el);
    while (n && (p[n - 1] == ' ' || p[n - 1] == 0))
        n--;
    while (n && *p == ' ') {
        p++;
        n--;
    }
    obia_buf_append(buf, p, n);
    return obia_buf_cstr(buf);
}

/* PatientAge from birth date and the study's date, while both are known. */
static void compute_age(walk *w, obia_dataset *ds)
{
    const obia_element *age = obia_dataset_get(ds, TAG(0x0010, 0x1010));
    if (age && obia_element_length(age))
        return;
    const obia_element *birth = obia_dataset_get(ds, TAG(0x0010, 0x0030));
    if (!birth || obia_element_length(birth) < 8)
        return;
    static const uint32_t when[] = {TAG(0x0008, 0x0020), TAG(0x0008, 0x0021), TAG(0x0008, 0x0022),
                                    TAG(0x0008, 0x0023)};
    for (size_t i = 0; i < sizeof when / sizeof when[0]; i++) {
        const obia_element *d = obia_dataset_get(ds, when[i]);
        int years;
        if (!d || !deid_years_between(obia_element_bytes(birth), obia_element_length(birth),
                                      obia_element_bytes(d), obia_element_length(d), &years))
            continue;
        char v[8];
        if (years >= 1 && years <= 999) {
            snprintf(v, sizeof v, "%03dY", years);
        } else {
            /* under a year: whole weeks, or days under a week */
            int64_t days = 0;
            deid_days_between(obia_element_bytes(birth), obia_element_length(birth),
                              obia_element_bytes(d), obia_element_length(d), &days);
            if (days >= 7)
                snprintf(v, sizeof v, "%03dW", (int)(days / 7));
            else
                snprintf(v, sizeof v, "%03dD", (int)days);
        }
        if (set_raw(w, ds, TAG(0x0010, 0x1010), OBIA_VR_AS, v, 4))
            act(w, TAG(0x0010, 0x1010), 'A');
        return;
    }
}

static bool add_code(walk *w, obia_dataset *seq_owner, const char *value)
{
    const deid_code *c = deid_code_find(value);
    if (!c)
        return true;
    obia_dataset *item = obia_dataset_add_item(seq_owner, TAG(0x0012, 0x0064), w->err);
    if (!item)
        return !(w->failed = true);
    if (!obia_dataset_set_string(item, TAG(0x0008, 0x0100), OBIA_VR_SH, c->value, w->err) ||
        !obia_dataset_set_string(item, TAG(0x0008, 0x0102), OBIA_VR_SH, c->scheme, w->err) ||
        !obia_dataset_set_string(item, TAG(0x0008, 0x0104), OBIA_VR_LO, c->meaning, w->err))
        return !(w->failed = true);
    return true;
}

/* PatientIdentityRemoved, DeidentificationMethod and its codes (PS3.15
 * E.1.1), and whether dates were kept, shifted or removed. */
static bool mark(walk *w, obia_dataset *ds)
{
    obia_buf *m = &w->tmp;
    obia_buf_reset(m);
    obia_buf_appendf(m, "obia %s PS3.15 2026c Basic Profile", OBIA_VERSION);
    size_t nopt;
    const obia_deid_option_info *o = obia_deid_options(&nopt);
    for (size_t i = 0; i < nopt; i++)
        if ((w->opt & o[i].bit) && o[i].code)
            obia_buf_appendf(m, "\\%s", o[i].title);
    if (m->failed)
        return fail_oom(w);
    bool ok = set_raw(w, ds, TAG(0x0012, 0x0062), OBIA_VR_CS, "YES", 3) &&
              set_raw(w, ds, TAG(0x0012, 0x0063), OBIA_VR_LO, m->data, m->len) &&
              obia_dataset_set_empty_sequence(ds, TAG(0x0012, 0x0064), w->err);
    ok = ok && add_code(w, ds, "113100");
    for (size_t i = 0; ok && i < nopt; i++)
        if ((w->opt & o[i].bit) && o[i].code)
            ok = add_code(w, ds, o[i].code);
    const char *dates = w->shift ? "MODIFIED"
                        : (w->opt & OBIA_DEID_RETAIN_FULL_DATES) ? "UNMODIFIED" : "REMOVED";
    ok = ok && set_raw(w, ds, TAG(0x0028, 0x0303), OBIA_VR_CS, dates, strlen(dates));
    return ok && !w->failed;
}

bool obia_deid_file(obia_file *f, const obia_deid_config *cfg, obia_deid_action_fn on_action,
                    void *action_ctx, obia_deid_result *res, obia_error *err)
{
    memset(res, 0, sizeof *res);
    if (obia_file_stopped_at_pixels(f))
        return obia_error_set(err, OBIA_E_ARG, "the file was read without its pixel data");
    if (sodium_init() < 0)
        return obia_error_set(err, OBIA_E_IO, "cannot initialise libsodium");
    obia_dataset *ds = obia_file_dataset(f);
    walk w;
    memset(&w, 0, sizeof w);
    w.cfg = cfg;
    w.opt = cfg->options;
    w.on_action = on_action;
    w.action_ctx = action_ctx;
    w.err = err;
    obia_buf_init(&w.tmp, 64u << 20);

    res->flagged = obia_deid_burned_in_risk(ds, res->reason, sizeof res->reason);

    /* who this is: before anything is removed */
    obia_buf b1, b2, b3;
    obia_buf_init(&b1, 1u << 16);
    obia_buf_init(&b2, 1u << 16);
    obia_buf_init(&b3, 1u << 16);
    const char *pid = text_of(ds, TAG(0x0010, 0x0020), &b1);
    const char *issuer = text_of(ds, TAG(0x0010, 0x0021), &b2);
    const char *study = text_of(ds, TAG(0x0020, 0x000D), &b3);
    bool ok = true;
    if (cfg->identify) {
        ok = cfg->identify(cfg->identify_ctx, issuer ? issuer : "", pid ? pid : "",
                           study ? study : "", &w.id, err);
    } else {
        snprintf(w.id.pseudonym, sizeof w.id.pseudonym, "ANONYMOUS");
        w.id.date_offset_days = 0;
    }
    obia_buf_free(&b1);
    obia_buf_free(&b2);
    obia_buf_free(&b3);
    if (!ok) {
        obia_buf_free(&w.tmp);
        return false;
    }
    res->identity = w.id;
    w.shift = (w.opt & OBIA_DEID_RETAIN_MODIFIED_DATES) && w.id.date_offset_days != 0;

    w.cleaner = deid_cleaner_new();
    if (!w.cleaner) {
        obia_buf_free(&w.tmp);
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    }
    gather(w.cleaner, ds, 0);
    if (w.opt & OBIA_DEID_RETAIN_PATIENT_CHARACTERISTICS)
        compute_age(&w, ds);

    ok = process_dataset(&w, ds, 0);
    if (ok) {
        /* the pseudonym stands for both name and ID */
        size_t pn = strlen(w.id.pseudonym);
        ok = set_raw(&w, ds, TAG(0x0010, 0x0010), OBIA_VR_PN, w.id.pseudonym, pn) &&
             set_raw(&w, ds, TAG(0x0010, 0x0020), OBIA_VR_LO, w.id.pseudonym, pn);
        act(&w, TAG(0x0010, 0x0010), 'D');
        act(&w, TAG(0x0010, 0x0020), 'D');
    }
    ok = ok && mark(&w, ds);

    /* File Meta: only what names this instance, with its new UID */
    obia_dataset *meta = obia_file_meta(f);
    size_t mn = obia_dataset_count(meta);
    for (size_t i = 0; ok && i < mn;) {
        const obia_element *el = obia_dataset_at(meta, i);
        uint32_t tag = obia_element_tag(el);
        if (tag == TAG(0x0002, 0x0003) && !(w.opt & OBIA_DEID_RETAIN_UIDS)) {
            ok = map_uids(&w, meta, el, tag);
            i++;
        } else if (tag <= TAG(0x0002, 0x0003) || tag == TAG(0x0002, 0x0010)) {
            i++;
        } else {
            obia_dataset_remove(meta, tag);
            mn--;
        }
    }
    res->dates_shifted = w.shifted_any;
    deid_cleaner_free(w.cleaner);
    obia_buf_free(&w.tmp);
    return ok && !w.failed;
}

/* ---- burned-in text ------------------------------------------------------- */

static bool has_value(const obia_dataset *ds, uint32_t tag, const char *word)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    if (!el)
        return false;
    values it = values_of(el);
    const uint8_t *v;
    size_t len, k = strlen(word);
    bool first;
    while (next_value(&it, &v, &len, &first))
        if (len == k && memcmp(v, word, k) == 0)
            return true;
    return false;
}

bool obia_deid_burned_in_risk(const obia_dataset *ds, char *reason, size_t reason_len)
{
    if (!obia_dataset_get(ds, TAG(0x7FE0, 0x0010)) && !obia_dataset_get(ds, TAG(0x7FE0, 0x0008)) &&
        !obia_dataset_get(ds, TAG(0x7FE0, 0x0009)))
        return false;   /* no pixels, nothing burned in */
    if (has_value(ds, TAG(0x0028, 0x0301), "YES")) {
        snprintf(reason, reason_len, "BurnedInAnnotation is YES");
        return true;
    }
    if (has_value(ds, TAG(0x0028, 0x0301), "NO"))
        return false;
    /* no statement: judge by what usually carries text */
    static const char *const modalities[] = {"US", "XA", "RF", "ES", "SC", "OT", "DOC", "XC", "GM",
                                             "SM", "IVUS", "OP", "IO"};
    for (size_t i = 0; i < sizeof modalities / sizeof modalities[0]; i++)
        if (has_value(ds, TAG(0x0008, 0x0060), modalities[i])) {
            snprintf(reason, reason_len,
                     "Modality %s usually carries burned-in text and BurnedInAnnotation is not NO",
                     modalities[i]);
            return true;
        }
    const obia_element *cls = obia_dataset_get(ds, TAG(0x0008, 0x0016));
    if (cls) {
        static const char sc[] = "1.2.840.10008.5.1.4.1.1.7";   /* Secondary Capture family */
        static const char us[] = "1.2.840.10008.5.1.4.1.1.6";   /* Ultrasound family */
        static const char us_mf[] = "1.2.840.10008.5.1.4.1.1.3.1";
        const char *p = (const char *)obia_element_bytes(cls);
        size_t n = obia_element_length(cls);
        while (n && (p[n - 1] == 0 || p[n - 1] == ' '))
            n--;
        if ((n >= sizeof sc - 1 && memcmp(p, sc, sizeof sc - 1) == 0 &&
             (n == sizeof sc - 1 || p[sizeof sc - 1] == '.')) ||
            (n >= sizeof us - 1 && memcmp(p, us, sizeof us - 1) == 0 &&
             (n == sizeof us - 1 || p[sizeof us - 1] == '.')) ||
            (n == sizeof us_mf - 1 && memcmp(p, us_mf, n) == 0)) {
            snprintf(reason, reason_len,
                     "SOP Class %.*s usually carries burned-in text and BurnedInAnnotation is not NO",
                     (int)n, p);
            return true;
        }
    }
    if (has_value(ds, TAG(0x0008, 0x0008), "SCREEN SAVE") ||
        has_value(ds, TAG(0x0008, 0x0008), "SECONDARY")) {
        snprintf(reason, reason_len, "ImageType says %s and BurnedInAnnotation is not NO",
                 has_value(ds, TAG(0x0008, 0x0008), "SCREEN SAVE") ? "SCREEN SAVE" : "SECONDARY");
        return true;
    }
    const obia_element *it = obia_dataset_get(ds, TAG(0x0008, 0x0008));
    if (it && obia_element_length(it) >= 7 && memcmp(obia_element_bytes(it), "DERIVED", 7) == 0) {
        snprintf(reason, reason_len, "a DERIVED image with no BurnedInAnnotation statement");
        return true;
    }
    return false;
}
