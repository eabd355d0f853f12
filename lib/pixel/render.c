/*
 * Rendering: a decoded frame (stored values) to the grey or RGB pixels a
 * person looks at -- PS3.3 C.11 and the grayscale pipeline of PS3.4 N.2 for
 * MONOCHROME1/2, PS3.3 C.7.6.3 and C.7.9 for colour -- scaled down to the
 * size asked by area averaging. docs/pixel.md ("Rendering") gives every rule.
 *
 * Speed comes from evaluating the grey pipeline once per possible stored
 * value (values of up to 16 bits: a table from the masked stored bits to a
 * 16-bit display value) instead of once per pixel, and from streaming rows
 * through an exact, integer box filter: memory is the output, the table and
 * a few rows. Wider integers and floats go through the same steps per pixel.
 *
 * Memory: the image returned is the caller's (obia_image_free); nothing
 * points into the file or the frame afterwards.
 */
#include "obia/pixel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T(g, e) OBIA_TAG(0x##g, 0x##e)

#define MAX_SIDE 65535u              /* Rows and Columns are US */
#define SAMPLE_PIXELS (1u << 22)     /* pixels looked at for the automatic window */
#define SEGMENT_STEPS (1u << 20)     /* segments a segmented palette may expand */
#define ASPECT_TOLERANCE 0.01        /* pixel aspect ratios this close to 1 are square */
#define AUTO_LOW 0.5                 /* automatic window: percentiles of the modality values */
#define AUTO_HIGH 99.5

void obia_render_options_init(obia_render_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->size = 256;
}

/* ---- attributes ----------------------------------------------------------- */

/* Item 0 of a functional group macro: the Shared Functional Groups' item, or
 * the Per-Frame one when the image has a single frame (the renderer is not
 * told which frame it has; see docs). */
static const obia_dataset *functional_group(const obia_dataset *ds, uint32_t macro)
{
    static const uint32_t groups[2] = {T(5200, 9229), T(5200, 9230)};
    for (int i = 0; i < 2; i++) {
        const obia_element *g = obia_dataset_get(ds, groups[i]);
        if (!g || obia_element_item_count(g) == 0)
            continue;
        if (i == 1) {
            const obia_element *nf = obia_dataset_get(ds, T(0028, 0008));
            int64_t frames = 1;
            if (nf && obia_element_get_int(nf, 0, &frames, NULL) && frames > 1)
                continue;
        }
        const obia_element *m = obia_dataset_get(obia_element_item(g, 0), macro);
        if (m && obia_element_item_count(m) > 0)
            return obia_element_item(m, 0);
    }
    return NULL;
}

/* tag at the top level, else in the functional group macro (0: none); *where
 * is the dataset holding it, so that its companions are read from there too. */
static const obia_element *attribute(const obia_dataset *ds, uint32_t tag, uint32_t macro,
                                     const obia_dataset **where)
{
    const obia_element *el = ds ? obia_dataset_get(ds, tag) : NULL;
    if (el && obia_element_length(el) > 0) {
        *where = ds;
        return el;
    }
    const obia_dataset *item = ds && macro ? functional_group(ds, macro) : NULL;
    el = item ? obia_dataset_get(item, tag) : NULL;
    if (el && obia_element_length(el) > 0) {
        *where = item;
        return el;
    }
    return NULL;
}

static bool finite_value(const obia_element *el, size_t index, double *v)
{
    return el && obia_element_get_double(el, index, v, NULL) && isfinite(*v);
}

/* Value 0 of a code string, or "" (at most n - 1 characters). */
static void code_string(const obia_dataset *ds, uint32_t tag, char *out, size_t n)
{
    out[0] = '\0';
    const obia_element *el = ds ? obia_dataset_get(ds, tag) : NULL;
    if (!el)
        return;
    obia_buf b;
    obia_buf_init(&b, 256);
    if (obia_element_get_string(ds, el, 0, &b, NULL) && b.len < n) {
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    }
    obia_buf_free(&b);
}

/* ---- lookup tables (descriptor + data) ------------------------------------ */

typedef struct lut {
    uint32_t n;          /* entries, 1 to 65536 */
    int32_t first;       /* first stored value mapped */
    unsigned bits;       /* bits per entry, 1 to 16 */
    uint16_t *v;
} lut;

static void lut_free(lut *l)
{
    free(l->v);
    l->v = NULL;
}

static bool lut_error(obia_error *err, const obia_element *el, const char *what, const char *why)
{
    return obia_error_set_at(err, OBIA_E_FORMAT, el ? obia_element_tag(el) : OBIA_NO_TAG,
                             el ? obia_element_offset(el) : OBIA_NO_OFFSET, "%s: %s", what, why);
}

/* PS3.3 C.11.1.1.1: entries (0 means 65536), first value mapped (signed when
 * the pixels are), bits per entry. */
static bool lut_descriptor(const obia_element *el, bool signed_first, lut *l, const char *what,
                           obia_error *err)
{
    if (!el)
        return lut_error(err, NULL, what, "the LUT Descriptor is missing");
    int64_t v[3];
    if (obia_vr_numeric_size(obia_element_vr(el)) == 2 && obia_element_length(el) >= 6) {
        const uint8_t *p = obia_element_bytes(el);
        v[0] = obia_rd16le(p);
        v[1] = signed_first ? (int16_t)obia_rd16le(p + 2) : obia_rd16le(p + 2);
        v[2] = obia_rd16le(p + 4);
    } else {
        for (int i = 0; i < 3; i++)
            if (!obia_element_get_int(el, (size_t)i, &v[i], NULL))
                return lut_error(err, el, what, "the LUT Descriptor does not hold 3 numbers");
    }
    if (v[0] < 0 || v[0] > 65535 || v[1] < -32768 || v[1] > 65535)
        return lut_error(err, el, what, "the LUT Descriptor's entries or first value are out of range");
    if (v[2] < 1 || v[2] > 16) {
        char why[96];
        snprintf(why, sizeof why, "%lld bits per LUT entry (1 to 16 expected)", (long long)v[2]);
        return lut_error(err, el, what, why);
    }
    l->n = v[0] ? (uint32_t)v[0] : 65536u;
    l->first = (int32_t)v[1];
    l->bits = (unsigned)v[2];
    return true;
}

/* LUT Data: 16-bit words, or bytes when the entries have 8 bits or fewer and
 * the value holds fewer than two bytes per entry (PS3.3 C.11.2.1.1 allows
 * both readings of 8-bit tables). 8-bit entries found in the high byte of
 * their words are taken from there. */
static bool lut_data(const obia_element *el, lut *l, const char *what, obia_error *err)
{
    if (!el || obia_element_length(el) == 0)
        return lut_error(err, el, what, "the LUT Data is missing");
    const uint8_t *p = obia_element_bytes(el);
    size_t len = obia_element_length(el);
    bool bytes = l->bits <= 8 && len < 2 * (size_t)l->n;
    if (len < (bytes ? 1 : 2) * (size_t)l->n) {
        char why[128];
        snprintf(why, sizeof why, "the LUT Data holds %zu entries, its descriptor says %u",
                 bytes ? len : len / 2, l->n);
        return lut_error(err, el, what, why);
    }
    l->v = malloc(l->n * sizeof *l->v);
    if (!l->v)
        return obia_error_set(err, OBIA_E_NOMEM, "%s: out of memory", what);
    uint16_t maxv = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        l->v[i] = bytes ? p[i] : obia_rd16le(p + 2 * (size_t)i);
        if (l->v[i] > maxv)
            maxv = l->v[i];
    }
    if (l->bits <= 8 && !bytes && maxv > 255)
        for (uint32_t i = 0; i < l->n; i++)
            l->v[i] >>= 8;
    uint32_t top = (1u << l->bits) - 1;
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i] > top)
            l->v[i] = (uint16_t)top;
    return true;
}

/* Entry for input x (values below the first mapped take entry 0, above the
 * last the last entry; PS3.3 C.11.1.1.1). */
static inline uint16_t lut_at(const lut *l, double x)
{
    double i = floor(x) - l->first;
    if (!(i > 0))
        return l->v[0];
    if (i >= l->n - 1)
        return l->v[l->n - 1];
    return l->v[(uint32_t)i];
}

/* Segmented palette data (PS3.3 C.7.9.2): discrete, linear and indirect
 * segments of words of the entry size (bytes for 8-bit entries), expanded to
 * exactly l->n entries. The indirect segment's offset is in bytes from the
 * start of the data, as the standard says, and may not reach another
 * indirect segment. */
typedef struct segments {
    const uint8_t *p;
    size_t words;
    unsigned ws;         /* bytes per word */
    uint32_t steps;
} segments;

static inline uint32_t seg_word(const segments *s, size_t i)
{
    return s->ws == 1 ? s->p[i] : obia_rd16le(s->p + 2 * i);
}

static bool seg_expand(segments *s, size_t pos, uint32_t max_segments, bool nested, lut *l,
                       uint32_t *produced, const obia_element *el, const char *what,
                       obia_error *err)
{
    char why[128];
    for (uint32_t done = 0; done < max_segments && pos + 1 < s->words; done++) {
        if (++s->steps > SEGMENT_STEPS)
            return lut_error(err, el, what, "the segmented LUT has too many segments");
        uint32_t op = seg_word(s, pos), n = seg_word(s, pos + 1);
        pos += 2;
        if (op == 0 || op == 1) {
            if ((uint64_t)*produced + n > l->n) {
                snprintf(why, sizeof why, "the segments expand to more than the %u entries described",
                         l->n);
                return lut_error(err, el, what, why);
            }
        }
        switch (op) {
        case 0:
            if (pos + n > s->words)
                return lut_error(err, el, what, "a discrete segment runs past the end of the data");
            for (uint32_t i = 0; i < n; i++)
                l->v[(*produced)++] = (uint16_t)seg_word(s, pos + i);
            pos += n;
            break;
        case 1: {
            if (*produced == 0)
                return lut_error(err, el, what, "the first segment is a linear segment");
            if (pos >= s->words)
                return lut_error(err, el, what, "a linear segment runs past the end of the data");
            double y0 = l->v[*produced - 1], y1 = seg_word(s, pos++);
            for (uint32_t i = 1; i <= n; i++)
                l->v[(*produced)++] = (uint16_t)nearbyint(y0 + (y1 - y0) * i / n);
            break;
        }
        case 2: {
            if (nested)
                return lut_error(err, el, what, "an indirect segment copies another indirect segment");
            if (*produced == 0)
                return lut_error(err, el, what, "the first segment is an indirect segment");
            size_t need = s->ws == 1 ? 4 : 2;
            if (pos + need > s->words)
                return lut_error(err, el, what, "an indirect segment runs past the end of the data");
            uint32_t offset = s->ws == 1
                                  ? seg_word(s, pos) | seg_word(s, pos + 1) << 8 |
                                        seg_word(s, pos + 2) << 16 | seg_word(s, pos + 3) << 24
                                  : seg_word(s, pos) | seg_word(s, pos + 1) << 16;
            pos += need;
            if (offset % s->ws || offset / s->ws >= s->words)
                return lut_error(err, el, what, "an indirect segment's offset is outside the data");
            if (!seg_expand(s, offset / s->ws, n, true, l, produced, el, what, err))
                return false;
            break;
        }
        default:
            snprintf(why, sizeof why, "unknown segment type %u", op);
            return lut_error(err, el, what, why);
        }
    }
    return true;
}

static bool lut_segmented(const obia_element *el, lut *l, const char *what, obia_error *err)
{
    if (!el || obia_element_length(el) == 0)
        return lut_error(err, el, what, "the segmented LUT Data is missing");
    segments s = {obia_element_bytes(el), 0, l->bits <= 8 ? 1u : 2u, 0};
    s.words = obia_element_length(el) / s.ws;
    l->v = malloc(l->n * sizeof *l->v);
    if (!l->v)
        return obia_error_set(err, OBIA_E_NOMEM, "%s: out of memory", what);
    uint32_t produced = 0;
    if (!seg_expand(&s, 0, UINT32_MAX, false, l, &produced, el, what, err))
        return false;
    if (produced != l->n) {
        char why[128];
        snprintf(why, sizeof why, "the segments expand to %u entries, the descriptor says %u",
                 produced, l->n);
        return lut_error(err, el, what, why);
    }
    uint32_t top = (1u << l->bits) - 1;
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i] > top)
            l->v[i] = (uint16_t)top;
    return true;
}

/* ---- the frame's values ------------------------------------------------------ */

typedef struct layout {
    uint32_t w, h;
    unsigned samples, bps, bits;   /* bits: significant bits of integer samples */
    uint64_t mask;
    double span;                   /* 2^bits */
    bool is_signed, is_float;
    size_t row_bytes;
} layout;

static inline uint64_t raw_at(const uint8_t *p, unsigned bps)
{
    switch (bps) {
    case 1: return p[0];
    case 2: return obia_rd16le(p);
    case 4: return obia_rd32le(p);
    default: return obia_rd32le(p) | (uint64_t)obia_rd32le(p + 4) << 32;
    }
}

/* Masked raw bits as a number: two's complement when signed. */
static inline double stored_value(const layout *lo, uint64_t raw)
{
    raw &= lo->mask;
    if (lo->is_signed && (raw >> (lo->bits - 1)) & 1)
        return lo->bits == 64 ? (double)(int64_t)raw : (double)raw - lo->span;
    return (double)raw;
}

static inline double float_at(const uint8_t *p, unsigned bps)
{
    if (bps == 4) {
        uint32_t r = obia_rd32le(p);
        float f;
        memcpy(&f, &r, 4);
        return f;
    }
    uint64_t r = raw_at(p, 8);
    double d;
    memcpy(&d, &r, 8);
    return d;
}

/* ---- the grey pipeline ----------------------------------------------------------- */

enum { MOD_IDENTITY, MOD_RESCALE, MOD_LUT };
enum { VOI_LINEAR, VOI_LINEAR_EXACT, VOI_SIGMOID, VOI_LUT, VOI_RANGE };

typedef struct grey {
    int modality;
    double slope, intercept;
    lut mlut;
    int voi;
    double center, width;     /* VOI_LINEAR, VOI_LINEAR_EXACT, VOI_SIGMOID */
    double lo, hi;            /* VOI_RANGE */
    lut vlut;                 /* VOI_LUT */
    bool invert;
    bool has_padding;         /* excluded from the automatic window */
    double pad_lo, pad_hi;
} grey;

static inline double grey_modality(const grey *g, double s)
{
    switch (g->modality) {
    case MOD_RESCALE: return s * g->slope + g->intercept;
    case MOD_LUT: return lut_at(&g->mlut, s);
    default: return s;
    }
}

/* The VOI output in [0, 1] (PS3.3 C.11.2.1.2.1 and C.11.2.1.3). */
static inline double grey_voi(const grey *g, double x)
{
    double c = g->center, w = g->width;
    switch (g->voi) {
    case VOI_LINEAR:
        if (x <= c - 0.5 - (w - 1) / 2)
            return 0;
        if (x > c - 0.5 + (w - 1) / 2)
            return 1;
        return (x - (c - 0.5)) / (w - 1) + 0.5;
    case VOI_LINEAR_EXACT:
        if (x <= c - w / 2)
            return 0;
        if (x > c + w / 2)
            return 1;
        return (x - c) / w + 0.5;
    case VOI_SIGMOID:
        return 1 / (1 + exp(-4 * (x - c) / w));
    case VOI_LUT:
        return lut_at(&g->vlut, x) / (double)((1u << g->vlut.bits) - 1);
    default:
        if (!(g->hi > g->lo))
            return 0;
        return x <= g->lo ? 0 : x >= g->hi ? 1 : (x - g->lo) / (g->hi - g->lo);
    }
}

/* Modality value m to a 16-bit display value; NaN is black. */
static inline uint16_t grey_display(const grey *g, double m)
{
    if (isnan(m))
        return 0;
    double y = grey_voi(g, m);
    if (!(y >= 0))
        y = 0;
    if (y > 1)
        y = 1;
    if (g->invert)
        y = 1 - y;
    return (uint16_t)(y * 65535.0 + 0.5);
}

/* When the whole pipeline is a clamped straight line y = k*s + q of the
 * stored value (rescale or none, then a linear window or the automatic
 * range), the table is filled without the general path. */
static bool grey_linear(const grey *g, double *k, double *q)
{
    double slope = g->modality == MOD_RESCALE ? g->slope : 1;
    double intercept = g->modality == MOD_RESCALE ? g->intercept : 0;
    double a, b;   /* y = a*x + b of the modality value x */
    switch (g->voi) {
    case VOI_LINEAR:
        if (g->width <= 1)
            return false;
        a = 1 / (g->width - 1);
        b = 0.5 - (g->center - 0.5) * a;
        break;
    case VOI_LINEAR_EXACT:
        a = 1 / g->width;
        b = 0.5 - g->center * a;
        break;
    case VOI_RANGE:
        if (!(g->hi > g->lo))
            return false;
        a = 1 / (g->hi - g->lo);
        b = -g->lo * a;
        break;
    default:
        return false;
    }
    if (g->modality == MOD_LUT || !isfinite(a) || !isfinite(b))
        return false;
    *k = a * slope;
    *q = a * intercept + b;
    if (g->invert) {
        *k = -*k;
        *q = 1 - *q;
    }
    return isfinite(*k) && isfinite(*q);
}

static void fill_linear(uint16_t *tab, size_t from, size_t to, double first, double k, double q)
{
    for (size_t i = from; i < to; i++) {
        double y = k * (first + (double)(i - from)) + q;
        y = y < 0 ? 0 : y > 1 ? 1 : y;
        tab[i] = (uint16_t)(y * 65535.0 + 0.5);
    }
}

static void grey_free(grey *g)
{
    lut_free(&g->mlut);
    lut_free(&g->vlut);
}

static bool grey_modality_setup(const obia_dataset *ds, const layout *lo, grey *g,
                                obia_error *err)
{
    g->modality = MOD_IDENTITY;
    if (lo->is_float || !ds)
        return true;
    const obia_element *seq = obia_dataset_get(ds, T(0028, 3000));
    if (seq && obia_element_item_count(seq) > 0) {
        const obia_dataset *item = obia_element_item(seq, 0);
        const char *what = "Modality LUT Sequence";
        if (!lut_descriptor(obia_dataset_get(item, T(0028, 3002)), lo->is_signed, &g->mlut, what,
                            err) ||
            !lut_data(obia_dataset_get(item, T(0028, 3006)), &g->mlut, what, err))
            return false;
        g->modality = MOD_LUT;
        return true;
    }
    const obia_dataset *where = NULL;
    const obia_element *in = attribute(ds, T(0028, 1052), T(0028, 9145), &where);
    const obia_element *sl = in ? obia_dataset_get(where, T(0028, 1053))
                                : attribute(ds, T(0028, 1053), T(0028, 9145), &where);
    if (!in && !sl)
        return true;
    double intercept = 0, slope = 1;
    if (in && !finite_value(in, 0, &intercept))
        return obia_error_set_at(err, OBIA_E_FORMAT, obia_element_tag(in),
                                 obia_element_offset(in),
                                 "Rescale Intercept is not a finite number");
    if (sl && obia_element_length(sl) > 0 && !finite_value(sl, 0, &slope))
        return obia_error_set_at(err, OBIA_E_FORMAT, obia_element_tag(sl),
                                 obia_element_offset(sl), "Rescale Slope is not a finite number");
    g->modality = MOD_RESCALE;
    g->slope = slope;
    g->intercept = intercept;
    return true;
}

/* The VOI the options or the file give. *automatic when none applies. */
static bool grey_voi_setup(const obia_dataset *ds, const layout *lo,
                           const obia_render_options *opt, grey *g, bool *automatic,
                           obia_error *err)
{
    *automatic = false;
    if (opt->window) {
        g->voi = lo->is_float ? VOI_LINEAR_EXACT : VOI_LINEAR;   /* see below */
        if (!isfinite(opt->center) || !isfinite(opt->width) ||
            !(lo->is_float ? opt->width > 0 : opt->width >= 1))
            return obia_error_set(err, OBIA_E_ARG,
                                  "window center %g width %g: the width must be %s",
                                  opt->center, opt->width, lo->is_float ? "above 0" : "at least 1");
        g->center = opt->center;
        g->width = opt->width;
        return true;
    }
    const obia_dataset *where = NULL;
    const obia_element *wc = ds ? attribute(ds, T(0028, 1050), T(0028, 9132), &where) : NULL;
    const obia_element *ww = wc ? obia_dataset_get(where, T(0028, 1051)) : NULL;
    size_t nwin = 0;
    if (wc && ww) {
        nwin = obia_element_vm(wc);
        if (obia_element_vm(ww) < nwin)
            nwin = obia_element_vm(ww);
    }
    const obia_element *seq = ds ? obia_dataset_get(ds, T(0028, 3010)) : NULL;
    size_t nlut = seq ? obia_element_item_count(seq) : 0;
    if (nwin > 0) {
        if (opt->voi_index >= nwin)
            return obia_error_set(err, OBIA_E_ARG, "VOI %u asked, the file has %zu window%s",
                                  opt->voi_index, nwin, nwin == 1 ? "" : "s");
        char fn[32];
        code_string(where, T(0028, 1056), fn, sizeof fn);
        g->voi = strcmp(fn, "LINEAR_EXACT") == 0 ? VOI_LINEAR_EXACT
                 : strcmp(fn, "SIGMOID") == 0    ? VOI_SIGMOID
                                                 : VOI_LINEAR;
        /* LINEAR's half-unit offsets place integers in the middle of output
         * steps; on continuous float values (a parametric map's 0.5/1 window)
         * they turn the window into a step, so floats take the exact line. */
        if (lo->is_float && g->voi == VOI_LINEAR)
            g->voi = VOI_LINEAR_EXACT;
        double c, w;
        /* a window that cannot be applied is skipped (the VOI is advisory) */
        if (finite_value(wc, opt->voi_index, &c) && finite_value(ww, opt->voi_index, &w) &&
            (g->voi == VOI_LINEAR ? w >= 1 : w > 0)) {
            g->center = c;
            g->width = w;
            return true;
        }
    } else if (nlut > 0) {
        if (opt->voi_index >= nlut)
            return obia_error_set(err, OBIA_E_ARG, "VOI %u asked, the file has %zu VOI LUT%s",
                                  opt->voi_index, nlut, nlut == 1 ? "" : "s");
        const obia_dataset *item = obia_element_item(seq, opt->voi_index);
        obia_error ignored;
        obia_error_clear(&ignored);
        /* The input of a VOI LUT is the modality output: signed first value
         * unless a Modality LUT (whose output is unsigned) came before. */
        bool signed_first = lo->is_signed && g->modality != MOD_LUT;
        if (lut_descriptor(obia_dataset_get(item, T(0028, 3002)), signed_first, &g->vlut,
                           "VOI LUT Sequence", &ignored) &&
            lut_data(obia_dataset_get(item, T(0028, 3006)), &g->vlut, "VOI LUT Sequence",
                     &ignored)) {
            g->voi = VOI_LUT;
            return true;
        }
        lut_free(&g->vlut);
    }
    g->voi = VOI_RANGE;
    *automatic = true;
    return true;
}

static void grey_polarity(const obia_dataset *ds, const char *photometric, grey *g)
{
    char shape[32];
    code_string(ds, T(2050, 0020), shape, sizeof shape);
    /* PS3.3 C.8.11.6.1.2: INVERSE is how MONOCHROME1 images say they are
     * shown inverted, not a second inversion. */
    g->invert = strcmp(photometric, "MONOCHROME1") == 0 || strcmp(shape, "INVERSE") == 0;
}

static void grey_padding(const obia_dataset *ds, const layout *lo, grey *g)
{
    if (!ds)
        return;
    if (lo->is_float) {
        const obia_element *el = obia_dataset_get(ds, lo->bps == 4 ? T(0028, 0122) : T(0028, 0123));
        double v;
        if (finite_value(el, 0, &v)) {
            g->has_padding = true;
            g->pad_lo = g->pad_hi = v;
        }
        return;
    }
    const obia_element *pv = obia_dataset_get(ds, T(0028, 0120));
    int64_t a, b;
    if (!pv || !obia_element_get_int(pv, 0, &a, NULL))
        return;
    const obia_element *pl = obia_dataset_get(ds, T(0028, 0121));
    if (!pl || !obia_element_get_int(pl, 0, &b, NULL))
        b = a;
    double x = stored_value(lo, (uint64_t)a), y = stored_value(lo, (uint64_t)b);
    g->has_padding = true;
    g->pad_lo = x < y ? x : y;
    g->pad_hi = x < y ? y : x;
}

static inline bool is_padding(const grey *g, double s)
{
    return g->has_padding && s >= g->pad_lo && s <= g->pad_hi;
}

/* Rows looked at for the automatic window: all of them up to SAMPLE_PIXELS
 * pixels, else evenly spaced ones. */
static uint32_t sample_stride(const layout *lo)
{
    uint64_t px = (uint64_t)lo->w * lo->h;
    return px <= SAMPLE_PIXELS ? 1 : (uint32_t)((px + SAMPLE_PIXELS - 1) / SAMPLE_PIXELS);
}

typedef struct weighted {
    double v;
    uint64_t n;
} weighted;

static int cmp_weighted(const void *a, const void *b)
{
    double x = ((const weighted *)a)->v, y = ((const weighted *)b)->v;
    return x < y ? -1 : x > y;
}

/* Ranks of the percentiles as numpy's 'lower' and 'higher' methods count. */
static void percentile_ranks(uint64_t n, uint64_t *lo, uint64_t *hi)
{
    *lo = (uint64_t)floor(AUTO_LOW / 100.0 * (double)(n - 1));
    *hi = (uint64_t)ceil(AUTO_HIGH / 100.0 * (double)(n - 1));
    if (*hi > n - 1)
        *hi = n - 1;
}

/* lo/hi from values with counts, sorted by value. */
static void range_from_sorted(const weighted *w, size_t k, grey *g)
{
    uint64_t n = 0;
    for (size_t i = 0; i < k; i++)
        n += w[i].n;
    if (n == 0) {
        g->lo = g->hi = 0;
        return;
    }
    uint64_t rlo, rhi, seen = 0;
    percentile_ranks(n, &rlo, &rhi);
    bool have_lo = false;
    for (size_t i = 0; i < k; i++) {
        seen += w[i].n;
        if (!have_lo && seen > rlo) {
            g->lo = w[i].v;
            have_lo = true;
        }
        if (seen > rhi) {
            g->hi = w[i].v;
            break;
        }
    }
    if (!(g->hi > g->lo)) {   /* most values alike: the whole range, e.g. a small mask */
        g->lo = w[0].v;
        g->hi = w[k - 1].v;
    }
}

/* Automatic window over the stored values of up to 16 bits: a histogram of
 * the masked bits, its modality values sorted. */
static bool auto_window_table(const obia_frame *fr, const layout *lo, grey *g, obia_error *err)
{
    size_t nv = (size_t)1 << lo->bits;
    uint32_t *hist = calloc(nv, sizeof *hist);
    weighted *w = malloc(nv * sizeof *w);
    if (!hist || !w) {
        free(hist);
        free(w);
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory for the histogram");
    }
    uint32_t stride = sample_stride(lo);
    uint32_t mask = (uint32_t)lo->mask;
    for (uint32_t y = 0; y < lo->h; y += stride) {
        const uint8_t *p = fr->data + (size_t)y * lo->row_bytes;
        if (lo->bps == 1)
            for (uint32_t x = 0; x < lo->w; x++)
                hist[p[x] & mask]++;
        else if (lo->bps == 2)
            for (uint32_t x = 0; x < lo->w; x++)
                hist[obia_rd16le(p + 2 * (size_t)x) & mask]++;
        else
            for (uint32_t x = 0; x < lo->w; x++)
                hist[raw_at(p + (size_t)lo->bps * x, lo->bps) & mask]++;
    }
    /* in increasing stored value: negative values first when signed */
    size_t k = 0;
    bool sorted = true;
    size_t half = lo->is_signed ? nv / 2 : 0;
    for (size_t i = 0; i < nv; i++) {
        size_t s = (i + half) & (nv - 1);
        double sv = stored_value(lo, s);
        if (!hist[s] || is_padding(g, sv))
            continue;
        w[k].v = grey_modality(g, sv);
        w[k].n = hist[s];
        if (k > 0 && w[k].v < w[k - 1].v)
            sorted = false;
        k++;
    }
    if (k > 0 && !sorted)
        qsort(w, k, sizeof *w, cmp_weighted);
    if (k > 0)
        range_from_sorted(w, k, g);
    else
        g->lo = g->hi = 0;
    free(hist);
    free(w);
    return true;
}

/* The k-th smallest of v[0..n) (quickselect; v is reordered). */
static double select_kth(double *v, size_t n, size_t k)
{
    size_t l = 0, r = n - 1;
    while (l < r) {
        double pivot = v[l + (r - l) / 2];
        size_t i = l, j = r;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            r = j;
        else if (k >= i)
            l = i;
        else
            return v[k];
    }
    return v[k];
}

/* Automatic window over wider integers and floats: modality values of the
 * sampled pixels, NaN and infinities left out. */
static bool auto_window_values(const obia_frame *fr, const layout *lo, grey *g, obia_error *err)
{
    uint32_t stride = sample_stride(lo);
    size_t cap = ((size_t)(lo->h + stride - 1) / stride) * lo->w;
    double *v = malloc((cap ? cap : 1) * sizeof *v);
    if (!v)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory for the histogram");
    size_t n = 0;
    double mn = INFINITY, mx = -INFINITY;
    for (uint32_t y = 0; y < lo->h; y += stride) {
        const uint8_t *p = fr->data + (size_t)y * lo->row_bytes;
        for (uint32_t x = 0; x < lo->w; x++, p += lo->bps) {
            double s = lo->is_float ? float_at(p, lo->bps) : stored_value(lo, raw_at(p, lo->bps));
            if (!isfinite(s) || is_padding(g, s))
                continue;
            double m = grey_modality(g, s);
            if (!isfinite(m))
                continue;
            v[n++] = m;
            if (m < mn)
                mn = m;
            if (m > mx)
                mx = m;
        }
    }
    if (n == 0) {
        g->lo = g->hi = 0;
    } else {
        uint64_t rlo, rhi;
        percentile_ranks(n, &rlo, &rhi);
        g->lo = select_kth(v, n, (size_t)rlo);
        g->hi = select_kth(v, n, (size_t)rhi);
        if (!(g->hi > g->lo)) {
            g->lo = mn;
            g->hi = mx;
        }
    }
    free(v);
    return true;
}

/* ---- colour --------------------------------------------------------------------- */

enum { YBR_NONE, YBR_FULL, YBR_PARTIAL };

/* A palette's 8-bit entries (the high byte of wider ones), as display
 * values, for every masked stored value. */
static bool palette_table(const obia_dataset *ds, const layout *lo, uint16_t **out,
                          obia_error *err)
{
    static const char *const names[3] = {"Red Palette Color LUT", "Green Palette Color LUT",
                                         "Blue Palette Color LUT"};
    if (lo->is_float || lo->bits > 16)
        return obia_error_set(err, OBIA_E_UNSUPPORTED,
                              "PALETTE COLOR with %u-bit%s samples is not supported", lo->bits,
                              lo->is_float ? " float" : "");
    if (!ds)
        return obia_error_set(err, OBIA_E_FORMAT, "PALETTE COLOR without a palette");
    size_t nv = (size_t)1 << lo->bits;
    uint16_t *tab = malloc(nv * 3 * sizeof *tab);
    if (!tab)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory for the palette");
    for (int c = 0; c < 3; c++) {
        lut l = {0};
        const obia_element *data = obia_dataset_get(ds, T(0028, 1201) + (uint32_t)c);
        const obia_element *seg = obia_dataset_get(ds, T(0028, 1221) + (uint32_t)c);
        bool ok = lut_descriptor(obia_dataset_get(ds, T(0028, 1101) + (uint32_t)c),
                                 lo->is_signed, &l, names[c], err);
        if (ok) {
            if (data && obia_element_length(data) > 0)
                ok = lut_data(data, &l, names[c], err);
            else if (seg && obia_element_length(seg) > 0)
                ok = lut_segmented(seg, &l, names[c], err);
            else
                ok = lut_error(err, NULL, names[c], "neither LUT Data nor segmented LUT Data");
        }
        if (!ok) {
            lut_free(&l);
            free(tab);
            return false;
        }
        unsigned shift = l.bits > 8 ? l.bits - 8 : 0;
        for (size_t s = 0; s < nv; s++) {
            unsigned e = lut_at(&l, stored_value(lo, s)) >> shift;
            tab[3 * s + (size_t)c] = (uint16_t)((e > 255 ? 255 : e) * 257);
        }
        lut_free(&l);
    }
    *out = tab;
    return true;
}

/* ---- sources: one row of the frame as 16-bit display values ---------------------- */

enum { SRC_TABLE, SRC_PALETTE, SRC_GREY, SRC_RGB, SRC_YBR };

typedef struct source {
    int kind;
    const obia_frame *fr;
    layout lo;
    unsigned channels;     /* of the display values */
    uint16_t *tab;         /* SRC_TABLE: per masked value, per sample; SRC_PALETTE: 3 per value */
    const grey *g;         /* SRC_GREY */
    int ybr;               /* SRC_YBR */
    double ybr_max;
} source;

static void row_table(const source *s, const uint8_t *p, uint16_t *out, size_t n)
{
    const uint16_t *tab = s->tab;
    uint32_t mask = (uint32_t)s->lo.mask;
    switch (s->lo.bps) {
    case 1:
        for (size_t i = 0; i < n; i++)
            out[i] = tab[p[i] & mask];
        break;
    case 2:
        for (size_t i = 0; i < n; i++)
            out[i] = tab[obia_rd16le(p + 2 * i) & mask];
        break;
    default:
        for (size_t i = 0; i < n; i++)
            out[i] = tab[raw_at(p + (size_t)s->lo.bps * i, s->lo.bps) & mask];
    }
}

static inline uint16_t scale16(double v, double max)
{
    if (!(v > 0))
        return 0;
    if (v >= max)
        return 65535;
    return (uint16_t)lrint(v * 65535.0 / max);
}

static void source_row(const source *s, uint32_t y, uint16_t *out)
{
    const layout *lo = &s->lo;
    const uint8_t *p = s->fr->data + (size_t)y * lo->row_bytes;
    size_t n = (size_t)lo->w * lo->samples;
    switch (s->kind) {
    case SRC_TABLE:
        row_table(s, p, out, n);
        break;
    case SRC_PALETTE:
        for (uint32_t x = 0; x < lo->w; x++) {
            const uint16_t *e = s->tab + 3 * (raw_at(p + (size_t)lo->bps * x, lo->bps) & lo->mask);
            out[3 * x] = e[0];
            out[3 * x + 1] = e[1];
            out[3 * x + 2] = e[2];
        }
        break;
    case SRC_GREY:
        for (uint32_t x = 0; x < lo->w; x++, p += lo->bps) {
            double v = lo->is_float ? float_at(p, lo->bps) : stored_value(lo, raw_at(p, lo->bps));
            out[x] = grey_display(s->g, grey_modality(s->g, v));
        }
        break;
    case SRC_RGB: {
        double max = ldexp(1.0, (int)lo->bits) - 1;
        for (size_t i = 0; i < n; i++)
            out[i] = scale16((double)(raw_at(p + (size_t)lo->bps * i, lo->bps) & lo->mask), max);
        break;
    }
    default: {
        /* PS3.3 C.7.6.3.1.2 (YBR_FULL) and ITU-R BT.601 (YBR_PARTIAL), in
         * units of the sample range, rounded like pydicom and libjpeg */
        double max = s->ybr_max, half = (max + 1) / 2, k = max / 255.0;
        for (uint32_t x = 0; x < lo->w; x++) {
            const uint8_t *q = p + (size_t)3 * lo->bps * x;
            double Y = (double)(raw_at(q, lo->bps) & lo->mask);
            double cb = (double)(raw_at(q + lo->bps, lo->bps) & lo->mask) - half;
            double cr = (double)(raw_at(q + 2 * lo->bps, lo->bps) & lo->mask) - half;
            double r, g, b;
            if (s->ybr == YBR_FULL) {
                r = Y + 1.402 * cr;
                g = Y - (0.114 * 1.772 / 0.587) * cb - (0.299 * 1.402 / 0.587) * cr;
                b = Y + 1.772 * cb;
            } else {
                double yy = 255.0 / 219.0 * (Y - 16 * k);
                r = yy + 255.0 / 224.0 * 1.402 * cr;
                g = yy - 255.0 / 224.0 * ((0.114 * 1.772 / 0.587) * cb + (0.299 * 1.402 / 0.587) * cr);
                b = yy + 255.0 / 224.0 * 1.772 * cb;
            }
            out[3 * x] = scale16(floor(r + 0.5), max);
            out[3 * x + 1] = scale16(floor(g + 0.5), max);
            out[3 * x + 2] = scale16(floor(b + 0.5), max);
        }
    }
    }
}

/* ---- area averaging ---------------------------------------------------------------- *
 * Source column x spans [x*W, (x+1)*W) and output column j spans [j*w, (j+1)*w)
 * in units of 1/(w*W) of the image's width, so every overlap is an integer and
 * each output pixel's weights add up to w (horizontally) times h (vertically):
 * the average is exact. */

typedef struct resampler {
    uint32_t w, h, W, H, C;
    uint32_t *x0, *x1, *wf, *wl;   /* per output column: first/last source column and weights */
    uint64_t *rowsum, *acc, *next; /* W*C each */
    uint32_t row;                  /* next output row */
} resampler;

static void resampler_free(resampler *r)
{
    free(r->x0);
    free(r->rowsum);
}

static bool resampler_init(resampler *r, uint32_t w, uint32_t h, uint32_t W, uint32_t H,
                           uint32_t C, obia_error *err)
{
    memset(r, 0, sizeof *r);
    r->w = w, r->h = h, r->W = W, r->H = H, r->C = C;
    r->x0 = malloc(4 * (size_t)W * sizeof *r->x0);
    r->rowsum = calloc(3 * (size_t)W * C, sizeof *r->rowsum);
    if (!r->x0 || !r->rowsum) {
        resampler_free(r);
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory for resampling");
    }
    r->x1 = r->x0 + W, r->wf = r->x1 + W, r->wl = r->wf + W;
    r->acc = r->rowsum + (size_t)W * C;
    r->next = r->acc + (size_t)W * C;
    for (uint32_t j = 0; j < W; j++) {
        uint64_t start = (uint64_t)j * w, end = start + w;
        r->x0[j] = (uint32_t)(start / W);
        r->x1[j] = (uint32_t)((end - 1) / W);
        if (r->x0[j] == r->x1[j]) {
            r->wf[j] = w;
            r->wl[j] = 0;
        } else {
            r->wf[j] = (uint32_t)(((uint64_t)r->x0[j] + 1) * W - start);
            r->wl[j] = (uint32_t)(end - (uint64_t)r->x1[j] * W);
        }
    }
    return true;
}

static void horizontal(resampler *r, const uint16_t *v)
{
    uint32_t C = r->C;
    for (uint32_t j = 0; j < r->W; j++) {
        uint32_t a = r->x0[j], b = r->x1[j];
        for (uint32_t c = 0; c < C; c++) {
            uint64_t s = (uint64_t)v[(size_t)a * C + c] * r->wf[j];
            if (b > a) {
                uint32_t mid = 0;   /* at most 65536 values of 16 bits */
                for (uint32_t x = a + 1; x < b; x++)
                    mid += v[(size_t)x * C + c];
                s += (uint64_t)mid * r->W + (uint64_t)v[(size_t)b * C + c] * r->wl[j];
            }
            r->rowsum[(size_t)j * C + c] = s;
        }
    }
}

static void horizontal_grey(resampler *r, const uint16_t *v)
{
    for (uint32_t j = 0; j < r->W; j++) {
        uint32_t a = r->x0[j], b = r->x1[j];
        uint64_t s = (uint64_t)v[a] * r->wf[j];
        if (b > a) {
            uint32_t mid = 0;
            for (uint32_t x = a + 1; x < b; x++)
                mid += v[x];
            s += (uint64_t)mid * r->W + (uint64_t)v[b] * r->wl[j];
        }
        r->rowsum[j] = s;
    }
}

/* The fused grey path: stored values through the table straight into the
 * column sums (most thumbnails: no row of display values in between). */
static void horizontal_table(resampler *r, const source *s, const uint8_t *p)
{
    const uint16_t *tab = s->tab;
    uint32_t mask = (uint32_t)s->lo.mask;
    for (uint32_t j = 0; j < r->W; j++) {
        uint32_t a = r->x0[j], b = r->x1[j];
        uint64_t sum;
        if (s->lo.bps == 2) {
            sum = (uint64_t)tab[obia_rd16le(p + 2 * (size_t)a) & mask] * r->wf[j];
            if (b > a) {
                uint32_t mid = 0;
                for (uint32_t x = a + 1; x < b; x++)
                    mid += tab[obia_rd16le(p + 2 * (size_t)x) & mask];
                sum += (uint64_t)mid * r->W +
                       (uint64_t)tab[obia_rd16le(p + 2 * (size_t)b) & mask] * r->wl[j];
            }
        } else {
            sum = (uint64_t)tab[p[a] & mask] * r->wf[j];
            if (b > a) {
                uint32_t mid = 0;
                for (uint32_t x = a + 1; x < b; x++)
                    mid += tab[p[x] & mask];
                sum += (uint64_t)mid * r->W + (uint64_t)tab[p[b] & mask] * r->wl[j];
            }
        }
        r->rowsum[j] = sum;
    }
}

/* x / d rounded down, with m = UINT64_MAX / d: a multiplication and at
 * most two corrections instead of a division per output sample. */
static inline uint64_t divide(uint64_t x, uint64_t d, uint64_t m)
{
    uint64_t q = (uint64_t)(((unsigned __int128)x * m) >> 64), r = x - q * d;
    while (r >= d) {
        q++;
        r -= d;
    }
    return q;
}

static void emit(resampler *r, obia_image *im)
{
    size_t n = (size_t)r->W * r->C;
    uint64_t total = (uint64_t)r->w * r->h;
    if (im->depth == 16) {
        uint8_t *o = im->data + (size_t)r->row * n * 2;
        uint64_t m = UINT64_MAX / total;
        for (size_t i = 0; i < n; i++)
            obia_wr16le(o + 2 * i, (uint16_t)divide(r->acc[i] + total / 2, total, m));
    } else {
        uint8_t *o = im->data + (size_t)r->row * n;
        uint64_t d = total * 65535, m = UINT64_MAX / d;
        for (size_t i = 0; i < n; i++)
            o[i] = (uint8_t)divide(r->acc[i] * 255 + d / 2, d, m);
    }
    r->row++;
    uint64_t *t = r->acc;
    r->acc = r->next;
    r->next = t;
    memset(r->next, 0, n * sizeof *r->next);
}

/* Source row y (its display values in v, or taken from the frame through
 * the table when v is NULL) into the output. */
static void resample_row(resampler *r, const source *s, uint32_t y, const uint16_t *v,
                         obia_image *im)
{
    if (!v)
        horizontal_table(r, s, s->fr->data + (size_t)y * s->lo.row_bytes);
    else if (r->C == 1)
        horizontal_grey(r, v);
    else
        horizontal(r, v);
    uint64_t start = (uint64_t)y * r->H, end = start + r->H;
    uint64_t i = start / r->h, boundary = (i + 1) * r->h;
    uint64_t a = end < boundary ? r->H : boundary - start, b = r->H - a;
    size_t n = (size_t)r->W * r->C;
    for (size_t k = 0; k < n; k++)
        r->acc[k] += r->rowsum[k] * a;
    if (b)
        for (size_t k = 0; k < n; k++)
            r->next[k] += r->rowsum[k] * b;
    if (end >= boundary)
        emit(r, im);
}

/* ---- size ------------------------------------------------------------------------------ */

/* Height over width of a pixel (Pixel Spacing is row spacing \ column
 * spacing, Pixel Aspect Ratio vertical \ horizontal), or 1. */
static double pixel_aspect(const obia_dataset *ds)
{
    static const struct {
        uint32_t tag, macro;
    } sources[] = {{T(0028, 0030), T(0028, 9110)}, {T(0018, 1164), 0}, {T(0018, 2010), 0},
                   {T(0028, 0034), 0}};
    if (!ds)
        return 1;
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) {
        const obia_dataset *where;
        const obia_element *el = attribute(ds, sources[i].tag, sources[i].macro, &where);
        double v, h;
        if (el && finite_value(el, 0, &v) && finite_value(el, 1, &h) && v > 0 && h > 0) {
            double r = v / h;
            if (r < 1.0 / 16 || r > 16 || fabs(r - 1) <= ASPECT_TOLERANCE)
                return 1;
            return r;
        }
    }
    return 1;
}

/* Output size: the longest displayed side becomes size, pixels shown square,
 * and no axis is ever enlarged (an anisotropic axis is reduced instead). */
static void output_size(uint32_t w, uint32_t h, double aspect, uint32_t size, uint32_t *W,
                        uint32_t *H)
{
    if (size == 0) {
        *W = w, *H = h;
        return;
    }
    double dw = w, dh = h * aspect;
    double k = 1;
    if (aspect > 1)
        k = 1 / aspect;
    double longest = dw > dh ? dw : dh;
    if (size / longest < k)
        k = size / longest;
    long lw = lrint(dw * k), lh = lrint(dh * k);
    *W = lw < 1 ? 1 : lw > (long)w ? w : (uint32_t)lw;
    *H = lh < 1 ? 1 : lh > (long)h ? h : (uint32_t)lh;
}

/* ---- the renderer ------------------------------------------------------------------------- */

static bool check_frame(const obia_dataset *ds, const obia_frame *fr, layout *lo,
                        obia_error *err)
{
    if (!fr || !fr->data)
        return obia_error_set(err, OBIA_E_ARG, "no frame to render");
    if (fr->rows == 0 || fr->columns == 0 || fr->rows > MAX_SIDE || fr->columns > MAX_SIDE)
        return obia_error_set(err, OBIA_E_ARG, "a frame of %u x %u pixels cannot be rendered",
                              fr->columns, fr->rows);
    if (fr->samples != 1 && fr->samples != 3)
        return obia_error_set(err, OBIA_E_ARG, "%u samples per pixel (1 or 3 expected)",
                              fr->samples);
    unsigned bps = fr->bytes_per_sample;
    if (bps != 1 && bps != 2 && bps != 4 && bps != 8)
        return obia_error_set(err, OBIA_E_ARG, "%u bytes per sample (1, 2, 4 or 8 expected)", bps);
    if (fr->is_float && bps != 4 && bps != 8)
        return obia_error_set(err, OBIA_E_ARG, "float samples of %u bytes", bps);
    unsigned bits = fr->bits_stored ? fr->bits_stored : 8 * bps;
    if (!fr->is_float && bits > 8 * bps)
        return obia_error_set(err, OBIA_E_ARG, "%u bits stored in samples of %u bytes", bits,
                              bps);
    size_t row_bytes = (size_t)fr->columns * fr->samples * bps;
    if (fr->len / row_bytes < fr->rows)
        return obia_error_set(err, OBIA_E_ARG,
                              "the frame holds %zu bytes, %u x %u pixels of %u x %u bytes need %zu",
                              fr->len, fr->columns, fr->rows, fr->samples, bps,
                              row_bytes * fr->rows);
    if (ds) {
        int64_t rows, cols;
        const obia_element *r = obia_dataset_get(ds, T(0028, 0010));
        const obia_element *c = obia_dataset_get(ds, T(0028, 0011));
        if (r && c && obia_element_get_int(r, 0, &rows, NULL) &&
            obia_element_get_int(c, 0, &cols, NULL) &&
            (rows != fr->rows || cols != fr->columns))
            return obia_error_set(err, OBIA_E_ARG,
                                  "the frame is %u x %u pixels, the file's Columns x Rows %lld x %lld",
                                  fr->columns, fr->rows, (long long)cols, (long long)rows);
    }
    lo->w = fr->columns;
    lo->h = fr->rows;
    lo->samples = fr->samples;
    lo->bps = bps;
    lo->bits = fr->is_float ? 8 * bps : bits;
    lo->mask = lo->bits == 64 ? UINT64_MAX : ((uint64_t)1 << lo->bits) - 1;
    lo->span = ldexp(1.0, (int)lo->bits);
    lo->is_signed = fr->is_signed && !fr->is_float;
    lo->is_float = fr->is_float;
    lo->row_bytes = row_bytes;
    return true;
}

/* The grey source: a table over the stored values when they have at most
 * 16 bits, else per pixel. */
static bool grey_source(const obia_dataset *ds, const char *photometric, const obia_frame *fr,
                        const obia_render_options *opt, grey *g, source *s, obia_error *err)
{
    const layout *lo = &s->lo;
    bool automatic;
    if (!grey_modality_setup(ds, lo, g, err) || !grey_voi_setup(ds, lo, opt, g, &automatic, err))
        return false;
    grey_polarity(ds, photometric, g);
    grey_padding(ds, lo, g);
    s->channels = 1;
    s->g = g;
    bool table = !lo->is_float && lo->bits <= 16;
    if (automatic && !(table ? auto_window_table(fr, lo, g, err) : auto_window_values(fr, lo, g, err)))
        return false;
    if (!table) {
        s->kind = SRC_GREY;
        return true;
    }
    size_t nv = (size_t)1 << lo->bits;
    s->tab = malloc(nv * sizeof *s->tab);
    if (!s->tab)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory for the grey table");
    double k, q;
    if (grey_linear(g, &k, &q)) {
        size_t half = lo->is_signed ? nv / 2 : nv;   /* masked values of the negatives follow */
        fill_linear(s->tab, 0, half, 0, k, q);
        fill_linear(s->tab, half, nv, -(double)(nv - half), k, q);
    } else {
        for (size_t v = 0; v < nv; v++)
            s->tab[v] = grey_display(g, grey_modality(g, stored_value(lo, v)));
    }
    s->kind = SRC_TABLE;
    return true;
}

static bool colour_source(const obia_dataset *ds, const char *photometric, source *s,
                          obia_error *err)
{
    const layout *lo = &s->lo;
    s->channels = 3;
    if (strcmp(photometric, "PALETTE COLOR") == 0) {
        if (lo->samples != 1)
            return obia_error_set(err, OBIA_E_ARG, "PALETTE COLOR with %u samples per pixel",
                                  lo->samples);
        s->kind = SRC_PALETTE;
        return palette_table(ds, lo, &s->tab, err);
    }
    if (lo->samples != 3)
        return obia_error_set(err, OBIA_E_ARG, "%s with %u samples per pixel", photometric,
                              lo->samples);
    if (lo->is_float)
        return obia_error_set(err, OBIA_E_UNSUPPORTED, "float %s samples", photometric);
    if (strcmp(photometric, "RGB") == 0) {
        if (lo->bits > 16) {
            s->kind = SRC_RGB;
            return true;
        }
        size_t nv = (size_t)1 << lo->bits;
        s->tab = malloc(nv * sizeof *s->tab);
        if (!s->tab)
            return obia_error_set(err, OBIA_E_NOMEM, "out of memory for the colour table");
        for (size_t v = 0; v < nv; v++)
            s->tab[v] = scale16((double)v, (double)(nv - 1));
        s->kind = SRC_TABLE;
        return true;
    }
    if (strcmp(photometric, "YBR_FULL") == 0 || strcmp(photometric, "YBR_FULL_422") == 0 ||
        strcmp(photometric, "YBR_ICT") == 0)
        s->ybr = YBR_FULL;
    else if (strcmp(photometric, "YBR_PARTIAL_422") == 0 ||
             strcmp(photometric, "YBR_PARTIAL_420") == 0)
        s->ybr = YBR_PARTIAL;
    else
        return obia_error_set(err, OBIA_E_UNSUPPORTED, "photometric interpretation \"%s\"",
                              photometric);
    s->kind = SRC_YBR;
    s->ybr_max = ldexp(1.0, (int)lo->bits) - 1;
    return true;
}

bool obia_render(const obia_file *f, const obia_frame *fr, const obia_render_options *opt,
                 obia_image *out, obia_error *err)
{
    obia_render_options defaults;
    if (!opt) {
        obia_render_options_init(&defaults);
        opt = &defaults;
    }
    if (out)
        memset(out, 0, sizeof *out);
    if (!out)
        return obia_error_set(err, OBIA_E_ARG, "no image to render into");
    const obia_dataset *ds = f ? obia_file_dataset(f) : NULL;
    source s = {0};
    grey g = {0};
    resampler r = {0};
    uint16_t *row = NULL;
    bool ok = false;
    if (!check_frame(ds, fr, &s.lo, err))
        goto out;
    s.fr = fr;

    char photometric[24] = "";
    memcpy(photometric, fr->photometric, sizeof fr->photometric);
    photometric[sizeof fr->photometric] = '\0';
    if (!photometric[0])
        code_string(ds, T(0028, 0004), photometric, sizeof photometric);
    if (!photometric[0])
        strcpy(photometric, fr->samples == 3 ? "RGB" : "MONOCHROME2");

    if (strcmp(photometric, "MONOCHROME1") == 0 || strcmp(photometric, "MONOCHROME2") == 0) {
        if (fr->samples != 1) {
            obia_error_set(err, OBIA_E_ARG, "%s with %u samples per pixel", photometric,
                           fr->samples);
            goto out;
        }
        if (!grey_source(ds, photometric, fr, opt, &g, &s, err))
            goto out;
    } else if (!colour_source(ds, photometric, &s, err)) {
        goto out;
    }

    uint32_t W, H;
    output_size(s.lo.w, s.lo.h, pixel_aspect(ds), opt->size, &W, &H);
    out->width = W;
    out->height = H;
    out->channels = (uint16_t)s.channels;
    out->depth = s.channels == 1 && opt->bits16 ? 16 : 8;
    out->len = (size_t)W * H * s.channels * (out->depth / 8);
    out->data = malloc(out->len);
    row = malloc((size_t)s.lo.w * s.channels * sizeof *row);
    if (!out->data || !row) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory for a %u x %u image", W, H);
        goto out;
    }
    if (W == s.lo.w && H == s.lo.h) {
        size_t n = (size_t)W * s.channels;
        for (uint32_t y = 0; y < H; y++) {
            source_row(&s, y, row);
            if (out->depth == 16)
                for (size_t i = 0; i < n; i++)
                    obia_wr16le(out->data + 2 * ((size_t)y * n + i), row[i]);
            else
                for (size_t i = 0; i < n; i++)
                    out->data[(size_t)y * n + i] = (uint8_t)(((uint32_t)row[i] * 255 + 32767) / 65535);
        }
    } else {
        if (!resampler_init(&r, s.lo.w, s.lo.h, W, H, s.channels, err))
            goto out;
        bool fused = s.kind == SRC_TABLE && s.channels == 1 && s.lo.bps <= 2;
        for (uint32_t y = 0; y < s.lo.h; y++) {
            if (!fused)
                source_row(&s, y, row);
            resample_row(&r, &s, y, fused ? NULL : row, out);
        }
    }
    ok = true;
out:
    free(row);
    resampler_free(&r);
    free(s.tab);
    grey_free(&g);
    if (!ok && out) {
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return ok;
}
