/* JPEG Lossless, process 14 (ITU-T T.81 Annex H): the decoder of DICOM's
 * transfer syntaxes 1.2.840.10008.1.2.4.57 (any selection value) and .70
 * (selection value 1). libjpeg-turbo 2.1 has no lossless mode, so it is
 * done here.
 *
 * A stream is markers (SOI, SOF3, DHT, DRI, SOS, ..., EOI); each scan's
 * Huffman-coded differences are added to a prediction from the neighbours
 * already decoded (left Ra, above Rb, above-left Rc; selection values 1-7),
 * modulo 2^16, then shifted left by the point transform. Scans may hold all
 * components interleaved or one each; restart markers reset the prediction
 * at the start of a row (as in IJG, the restart interval must be a whole
 * number of rows). Huffman codes are read from a 64-bit bit buffer through
 * an 11-bit lookahead table that also holds the difference when code and
 * extra bits fit in it; longer codes take the canonical slow path.
 *
 * Output (see codec.h): 1 byte per sample for up to 8 bits allocated, else
 * 2, little endian, samples interleaved. JPEG codes the stored bits as
 * unsigned numbers of P (precision) bits. When Pixel Representation is 1,
 * the values are sign-extended from bits stored to the container, so a
 * negative 12-bit value comes out as the 16-bit negative number native data
 * would hold (as GDCM's decoder gives it; DCMTK's keeps the high bits as
 * coded); unsigned values are given as decoded. The frame's precision must
 * lie between bits stored and the container's bits: DCMTK and GDCM code
 * 12-bit signed images with P 16 (the container), which is accepted. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#define LOOKAHEAD 11
#define MAX_COMPONENTS 4

/* A lookahead entry: bits 0-4 how many bits to consume; bit 5 set when
 * those bits hold the code and its extra bits (the difference is then in
 * bits 15-31, plus 32768); else bits 8-12 hold the category (17 for a symbol
 * above 16). 0: a code longer than the lookahead. */
#define LOOK_RESOLVED 0x20u

typedef struct huff_table {
    bool defined;
    uint32_t look[1 << LOOKAHEAD];
    int32_t maxcode[17];           /* largest code of each length, -1 if none */
    int32_t valoffset[17];         /* symbol index = code + valoffset[length] */
    uint8_t vals[256];
} huff_table;

typedef struct component {
    uint8_t id;
    bool decoded;
} component;

typedef struct bit_reader {
    const uint8_t *p, *end;  /* next byte of entropy-coded data, end of the stream */
    uint64_t acc;            /* bits, most significant first */
    int nbits;               /* valid bits in acc */
    size_t pad;              /* zero bits appended after the data ended (marker or end) */
    bool stopped;            /* a marker or the end was reached */
} bit_reader;

typedef struct decoder {
    const uint8_t *src;
    size_t len;
    const obia_pixel_info *info;
    uint8_t *dst;
    obia_error *err;
    huff_table tables[4];
    unsigned restart_interval;
    bool have_frame;
    unsigned precision, height, width, ncomp;
    component comp[MAX_COMPONENTS];
    unsigned scans;
} decoder;

/* ---- Huffman tables (T.81 Annex C) ------------------------------------------------- */

static bool build_table(huff_table *t, const uint8_t counts[16], const uint8_t *vals,
                        unsigned nvals)
{
    memset(t, 0, sizeof *t);
    memcpy(t->vals, vals, nvals);
    int32_t code = 0;
    unsigned k = 0;
    for (unsigned l = 1; l <= 16; l++) {
        t->valoffset[l] = (int32_t)k - code;
        for (unsigned i = 0; i < counts[l - 1]; i++, k++, code++) {
            if (code >= (1 << l))
                return false;   /* more codes than fit in l bits */
            if (l <= LOOKAHEAD) {
                unsigned shift = LOOKAHEAD - l, first = (unsigned)code << shift;
                unsigned sym = vals[k] > 16 ? 17 : vals[k];
                unsigned extra = sym == 16 ? 0 : sym;
                for (unsigned j = 0; j < (1u << shift); j++) {
                    uint32_t e = l | (sym << 8);
                    if (sym <= 16 && l + extra <= LOOKAHEAD) {
                        int32_t diff = sym == 16 ? 32768 : 0;
                        if (extra) {
                            int32_t v = (int32_t)(j >> (shift - extra));
                            diff = v < (1 << (extra - 1)) ? v - (1 << extra) + 1 : v;
                        }
                        e = (l + extra) | LOOK_RESOLVED | ((uint32_t)(diff + 32768) << 15);
                    }
                    t->look[first + j] = e;
                }
            }
        }
        t->maxcode[l] = counts[l - 1] ? code - 1 : -1;
        code <<= 1;
    }
    t->defined = true;
    return true;
}

/* ---- bit reader (T.81 F.2.2.5: 0xFF00 stuffing; markers end the data) ---------------- */

static inline void fill(bit_reader *b)
{
    if (!b->stopped && b->end - b->p >= 8) {
        /* eight bytes without 0xFF: take as many as fit at once */
        uint64_t w = (uint64_t)obia_rd32be(b->p) << 32 | obia_rd32be(b->p + 4), x = ~w;
        if (((x - 0x0101010101010101u) & ~x & 0x8080808080808080u) == 0) {
            unsigned k = (unsigned)(64 - b->nbits) >> 3;
            b->acc |= (w >> (64 - 8 * k)) << (64 - b->nbits - 8 * (int)k);
            b->p += k;
            b->nbits += 8 * (int)k;
            return;
        }
    }
    while (b->nbits <= 56) {
        unsigned c = 0;
        if (!b->stopped) {
            if (b->p < b->end && *b->p != 0xFF) {
                c = *b->p++;
            } else if (b->end - b->p > 1 && b->p[1] == 0x00) {
                c = 0xFF;
                b->p += 2;
            } else {
                b->stopped = true;   /* a marker (or fill bytes before one), or the end */
            }
        }
        if (b->stopped)
            b->pad += 8;
        b->acc |= (uint64_t)c << (56 - b->nbits);
        b->nbits += 8;
    }
}

/* Bits consumed past the end of the entropy-coded data. */
static inline bool overrun(const bit_reader *b)
{
    return b->pad > (size_t)b->nbits;
}

static inline unsigned get_bits(bit_reader *b, unsigned n)
{
    unsigned v = (unsigned)(b->acc >> (64 - n));
    b->acc <<= n;
    b->nbits -= (int)n;
    return v;
}

/* One difference (T.81 H.1.2.2): a Huffman-coded category SSSS, then SSSS
 * extra bits (none for 16: the difference is 32768). Needs 32 bits in the
 * buffer. False for a code the table does not have or a category above 16. */
static inline bool read_diff(bit_reader *b, const huff_table *t, int32_t *diff)
{
    uint32_t e = t->look[b->acc >> (64 - LOOKAHEAD)];
    unsigned sym;
    if (e & LOOK_RESOLVED) {
        unsigned n = e & 31;
        b->acc <<= n;
        b->nbits -= (int)n;
        *diff = (int32_t)(e >> 15) - 32768;
        return true;
    }
    if (e) {
        unsigned l = e & 31;
        b->acc <<= l;
        b->nbits -= (int)l;
        sym = (e >> 8) & 31;
    } else {
        unsigned l = LOOKAHEAD + 1;
        int32_t code = 0;
        for (; l <= 16; l++) {
            code = (int32_t)(b->acc >> (64 - l));
            if (code <= t->maxcode[l])
                break;
        }
        if (l > 16)
            return false;
        b->acc <<= l;
        b->nbits -= (int)l;
        sym = t->vals[(code + t->valoffset[l]) & 0xFF];
    }
    if (sym == 0 || sym == 16) {
        *diff = sym == 16 ? 32768 : 0;
        return true;
    }
    if (sym > 16)
        return false;
    int32_t v = (int32_t)get_bits(b, sym);
    *diff = v < (1 << (sym - 1)) ? v - (1 << sym) + 1 : v;
    return true;
}

/* ---- markers ------------------------------------------------------------------------ */

static size_t offset_of(const decoder *d, const uint8_t *p)
{
    return (size_t)(p - d->src);
}

/* From p, skip the rest of an entropy-coded segment (stuffed bytes) up to the
 * next marker; returns the position of its 0xFF (fill bytes skipped), or end. */
static const uint8_t *next_marker(const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        if (*p != 0xFF) {
            p++;
            continue;
        }
        if (p + 1 < end && p[1] == 0x00) {
            p += 2;
            continue;
        }
        while (p + 1 < end && p[1] == 0xFF)
            p++;
        return p;
    }
    return end;
}

static bool parse_dht(decoder *d, const uint8_t *p, size_t n, size_t at)
{
    while (n > 0) {
        if (n < 17)
            return obia_error_set(d->err, OBIA_E_FORMAT,
                                  "JPEG lossless: the DHT segment at byte %zu ends inside a "
                                  "table header", at);
        unsigned tc = p[0] >> 4, th = p[0] & 15, total = 0;
        for (unsigned i = 1; i <= 16; i++)
            total += p[i];
        if (tc > 1 || th > 3 || total > 256 || 17 + (size_t)total > n)
            return obia_error_set(d->err, OBIA_E_FORMAT,
                                  "JPEG lossless: the DHT segment at byte %zu has a bad table "
                                  "(class %u, number %u, %u codes, %zu bytes left)",
                                  at, tc, th, total, n - 17);
        /* class 1 (AC) tables have no use in lossless scans: skipped */
        if (tc == 0 && !build_table(&d->tables[th], p + 1, p + 17, total))
            return obia_error_set(d->err, OBIA_E_FORMAT,
                                  "JPEG lossless: Huffman table %u (DHT at byte %zu) has more "
                                  "codes of some length than fit in it", th, at);
        p += 17 + total;
        n -= 17 + total;
    }
    return true;
}

static bool parse_sof3(decoder *d, const uint8_t *p, size_t n, size_t at)
{
    const obia_pixel_info *info = d->info;
    if (d->have_frame)
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: a second frame header (SOF) at byte %zu", at);
    if (n < 6 || n < 6 + 3 * (size_t)p[5])
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: the frame header (SOF3) at byte %zu is %zu "
                              "bytes long, too short", at, n);
    d->precision = p[0];
    d->height = obia_rd16be(p + 1);
    d->width = obia_rd16be(p + 3);
    d->ncomp = p[5];
    if (d->precision < 2 || d->precision > 16)
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: precision %u in the frame header at byte %zu "
                              "(2 to 16)", d->precision, at);
    if (d->ncomp < 1 || d->ncomp > MAX_COMPONENTS || d->ncomp != info->samples)
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: the frame has %u components; the header says "
                              "%u samples per pixel", d->ncomp, info->samples);
    /* a height of 0 is given later by a DNL marker; DICOM's Rows say it */
    if (d->width != info->columns || (d->height != info->rows && d->height != 0))
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: the frame is %u x %u (columns x rows); the "
                              "header says %u x %u", d->width, d->height, info->columns,
                              info->rows);
    d->height = info->rows;
    unsigned container = info->bits_allocated <= 8 ? 8 : 16;
    if (d->precision < info->bits_stored || d->precision > container)
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: precision %u does not fit the header's %u bits "
                              "stored in %u allocated", d->precision, info->bits_stored,
                              info->bits_allocated);
    for (unsigned i = 0; i < d->ncomp; i++) {
        const uint8_t *c = p + 6 + 3 * i;
        d->comp[i].id = c[0];
        for (unsigned j = 0; j < i; j++)
            if (d->comp[j].id == c[0])
                return obia_error_set(d->err, OBIA_E_FORMAT,
                                      "JPEG lossless: component id %u appears twice in the "
                                      "frame header at byte %zu", c[0], at);
        /* sampling factors only matter when they differ (subsampled colour) */
        if (c[1] != p[7])
            return obia_error_set(d->err, OBIA_E_UNSUPPORTED,
                                  "JPEG lossless: components with different sampling "
                                  "factors (subsampled) are not supported");
    }
    d->have_frame = true;
    return true;
}

/* ---- scans -------------------------------------------------------------------------- */

typedef struct scan {
    unsigned ns;
    unsigned index[MAX_COMPONENTS];     /* frame component (= sample) of each */
    const huff_table *table[MAX_COMPONENTS];
    unsigned predictor, pt;
} scan;

/* Write one decoded row (values of scan components, interleaved) to dst. */
static void put_row(const decoder *d, const scan *s, const uint16_t *row, unsigned y)
{
    const obia_pixel_info *info = d->info;
    unsigned samples = info->samples, ns = s->ns, width = d->width;
    bool wide = info->bits_allocated > 8;
    unsigned bits = wide ? 16 : 8, stored = info->bits_stored;
    uint32_t mask = (1u << bits) - 1;
    bool extend = info->is_signed && stored > 0 && stored < bits;
    uint32_t sign = extend ? 1u << (stored - 1) : 0, low = extend ? (1u << stored) - 1 : mask;
    size_t bps = wide ? 2 : 1;
    for (unsigned c = 0; c < ns; c++) {
        uint8_t *out = d->dst + ((size_t)y * width * samples + s->index[c]) * bps;
        size_t step = (size_t)samples * bps;
        const uint16_t *in = row + c;
        if (!extend && s->pt == 0 && wide) {        /* the common case, kept simple */
            for (unsigned x = 0; x < width; x++, out += step, in += ns)
                obia_wr16le(out, *in);
            continue;
        }
        if (!extend && s->pt == 0 && !wide) {
            for (unsigned x = 0; x < width; x++, out += step, in += ns)
                *out = (uint8_t)*in;
            continue;
        }
        for (unsigned x = 0; x < width; x++, out += step) {
            uint32_t v = ((uint32_t)row[(size_t)x * ns + c] << s->pt) & mask;
            if (extend)
                v = (((v & low) ^ sign) - sign) & mask;
            out[0] = (uint8_t)v;
            if (wide)
                out[1] = (uint8_t)(v >> 8);
        }
    }
}

/* At a restart boundary: check the interval's data was all there, then
 * expect RSTn and restart the bit reader after it. */
static bool restart(decoder *d, bit_reader *b, unsigned n, unsigned y)
{
    const uint8_t *m = next_marker(b->p, b->end);
    if (b->end - m < 2 || m[1] != 0xD0 + (n & 7))
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: expected restart marker RST%u before row %u at "
                              "byte %zu, found %s", n & 7, y,
                              offset_of(d, m),
                              b->end - m < 2 ? "the end of the data" : "another marker");
    b->p = m + 2;
    b->acc = 0;
    b->nbits = 0;
    b->pad = 0;
    b->stopped = false;
    return true;
}

static bool decode_scan(decoder *d, const scan *s, bit_reader *b)
{
    unsigned ns = s->ns, width = d->width, height = d->height;
    size_t rowlen = (size_t)width * ns;
    uint16_t *buf = malloc(2 * rowlen * sizeof *buf);
    if (!buf)
        return obia_error_set(d->err, OBIA_E_NOMEM, "JPEG lossless: out of memory");
    uint16_t *prev = buf, *cur = buf + rowlen;
    unsigned rows_per_interval = d->restart_interval ? d->restart_interval / width : 0;
    unsigned next_rst = 0;
    int32_t initial = 1 << (d->precision - s->pt - 1);
    unsigned sv = s->predictor;
    bool ok = true, first_row = true;

    for (unsigned y = 0; y < height && ok; y++) {
        if (rows_per_interval && y > 0 && y % rows_per_interval == 0) {
            if (overrun(b))
                break;
            if (!(ok = restart(d, b, next_rst++, y)))
                break;
            first_row = true;
        }
        /* the first column (and the whole first row): fixed predictors */
        size_t i = 0, bad = SIZE_MAX;
        unsigned c = 0;
        int32_t diff;
        for (; i < rowlen && (first_row || i < ns); i++) {
            if (b->nbits < 32)
                fill(b);
            if (!read_diff(b, s->table[c], &diff)) {
                bad = i;
                break;
            }
            int32_t pred = first_row ? (i < ns ? initial : cur[i - ns]) : prev[i];
            cur[i] = (uint16_t)((uint32_t)(pred + diff) & 0xFFFF);
            c = c + 1 == ns ? 0 : c + 1;
        }
        /* the rest, one loop per predictor */
#define ROW_LOOP(PRED)                                                                  \
        for (; i < rowlen; i++) {                                                       \
            if (b->nbits < 32)                                                          \
                fill(b);                                                                \
            if (!read_diff(b, s->table[c], &diff)) {                                    \
                bad = i;                                                                \
                break;                                                                  \
            }                                                                           \
            int32_t ra = cur[i - ns], rb = prev[i], rc = prev[i - ns];                  \
            (void)ra, (void)rb, (void)rc;                                               \
            cur[i] = (uint16_t)((uint32_t)((PRED) + diff) & 0xFFFF);                    \
            c = c + 1 == ns ? 0 : c + 1;                                                \
        }
        if (bad == SIZE_MAX) {
            switch (sv) {
            case 1: ROW_LOOP(ra) break;
            case 2: ROW_LOOP(rb) break;
            case 3: ROW_LOOP(rc) break;
            case 4: ROW_LOOP(ra + rb - rc) break;
            case 5: ROW_LOOP(ra + ((rb - rc) >> 1)) break;
            case 6: ROW_LOOP(rb + ((ra - rc) >> 1)) break;
            default: ROW_LOOP((ra + rb) >> 1) break;
            }
        }
#undef ROW_LOOP
        if (bad != SIZE_MAX)
            ok = obia_error_set(d->err, OBIA_E_FORMAT,
                                "JPEG lossless: a Huffman code not in the table, or a "
                                "difference category above 16, at row %u, column %zu near "
                                "byte %zu", y + 1, bad / ns + 1, offset_of(d, b->p));
        if (!ok)
            break;
        if (overrun(b)) {
            ok = obia_error_set(d->err, OBIA_E_FORMAT,
                                "JPEG lossless: the data of scan %u ends %s at byte %zu, "
                                "inside row %u of %u", d->scans,
                                b->p >= b->end ? "(truncated)" : "at a marker",
                                offset_of(d, b->p), y + 1, height);
            break;
        }
        put_row(d, s, cur, y);
        uint16_t *t = prev;
        prev = cur;
        cur = t;
        first_row = false;
    }
    if (ok && overrun(b))   /* broke out at a restart boundary */
        ok = obia_error_set(d->err, OBIA_E_FORMAT,
                            "JPEG lossless: the data of scan %u ends at byte %zu, before its "
                            "restart interval does", d->scans, offset_of(d, b->p));
    free(buf);
    return ok;
}

/* SOS at byte at: its header p[0..n), then the entropy-coded data from *pos,
 * which is left at the marker after it. */
static bool parse_sos(decoder *d, const uint8_t *p, size_t n, size_t at, size_t *pos)
{
    if (!d->have_frame)
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: a scan (SOS at byte %zu) before the frame "
                              "header", at);
    scan s;
    memset(&s, 0, sizeof s);
    s.ns = n > 0 ? p[0] : 0;
    if (s.ns < 1 || s.ns > d->ncomp || n != 4 + 2 * (size_t)s.ns)
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: the scan header at byte %zu names %u components "
                              "in %zu bytes (the frame has %u)", at, s.ns, n, d->ncomp);
    for (unsigned j = 0; j < s.ns; j++) {
        uint8_t id = p[1 + 2 * j], td = p[2 + 2 * j] >> 4;
        unsigned k = 0;
        while (k < d->ncomp && d->comp[k].id != id)
            k++;
        if (k == d->ncomp || d->comp[k].decoded)
            return obia_error_set(d->err, OBIA_E_FORMAT,
                                  "JPEG lossless: the scan at byte %zu names component %u, "
                                  "%s", at, id,
                                  k == d->ncomp ? "which the frame does not have"
                                                : "already decoded");
        if (td > 3 || !d->tables[td].defined)
            return obia_error_set(d->err, OBIA_E_FORMAT,
                                  "JPEG lossless: the scan at byte %zu uses Huffman table %u, "
                                  "which is not defined", at, td);
        d->comp[k].decoded = true;
        s.index[j] = k;
        s.table[j] = &d->tables[td];
    }
    const uint8_t *t = p + 1 + 2 * s.ns;
    s.predictor = t[0];
    s.pt = t[2] & 15;
    if (s.predictor < 1 || s.predictor > 7)
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: selection value %u in the scan at byte %zu "
                              "(1 to 7)", s.predictor, at);
    if (s.pt >= d->precision)
        return obia_error_set(d->err, OBIA_E_FORMAT,
                              "JPEG lossless: point transform %u is not below precision %u",
                              s.pt, d->precision);
    if (d->restart_interval && d->restart_interval % d->width != 0)
        return obia_error_set(d->err, OBIA_E_UNSUPPORTED,
                              "JPEG lossless: a restart interval of %u samples is not a "
                              "whole number of rows of %u", d->restart_interval, d->width);
    d->scans++;
    bit_reader b = {.p = d->src + *pos, .end = d->src + d->len};
    if (!decode_scan(d, &s, &b))
        return false;
    *pos = offset_of(d, next_marker(b.p, b.end));
    return true;
}

/* ---- the stream --------------------------------------------------------------------- */

bool pixel_jpeg_lossless_decode(const uint8_t *src, size_t len, const obia_pixel_info *info,
                                uint8_t *dst, size_t dst_len, char photometric[20],
                                obia_error *err)
{
    (void)photometric;   /* lossless JPEG has no colour transform */
    if (info->bits_allocated != 8 && info->bits_allocated != 16)
        return obia_error_set(err, OBIA_E_FORMAT,
                              "JPEG lossless: %u bits allocated (8 or 16 expected)",
                              info->bits_allocated);
    size_t bps = info->bits_allocated / 8, need;
    if (info->samples < 1 || info->samples > MAX_COMPONENTS ||
        __builtin_mul_overflow((size_t)info->rows * info->columns, info->samples * bps, &need) ||
        need != dst_len || info->rows > 65535 || info->columns > 65535)
        return obia_error_set(err, OBIA_E_ARG,
                              "JPEG lossless: %u x %u x %u samples of %zu bytes cannot be "
                              "decoded into %zu bytes", info->rows, info->columns,
                              info->samples, bps, dst_len);
    if (len < 2 || src[0] != 0xFF || src[1] != 0xD8)
        return obia_error_set(err, OBIA_E_FORMAT,
                              "JPEG lossless: the frame does not start with SOI (FF D8)");

    decoder *d = calloc(1, sizeof *d);
    if (!d)
        return obia_error_set(err, OBIA_E_NOMEM, "JPEG lossless: out of memory");
    d->src = src;
    d->len = len;
    d->info = info;
    d->dst = dst;
    d->err = err;

    bool ok = true, done = false;
    size_t pos = 2;
    while (ok && !done) {
        if (pos >= len)
            break;   /* a missing EOI is tolerated once every component is decoded */
        if (src[pos] != 0xFF) {
            ok = obia_error_set(err, OBIA_E_FORMAT,
                                "JPEG lossless: expected a marker at byte %zu, found 0x%02X",
                                pos, src[pos]);
            break;
        }
        while (pos < len && src[pos] == 0xFF)
            pos++;
        if (pos >= len)
            break;
        size_t at = pos - 1;
        unsigned m = src[pos++];
        if (m == 0xD9) {
            done = true;
            break;
        }
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01)
            continue;   /* a stray RST (after a scan's last interval) or TEM */
        if (m == 0xD8 || m == 0x00) {
            ok = obia_error_set(err, OBIA_E_FORMAT,
                                "JPEG lossless: unexpected marker FF%02X at byte %zu", m, at);
            break;
        }
        if (pos + 2 > len || obia_rd16be(src + pos) < 2 || pos + obia_rd16be(src + pos) > len) {
            ok = obia_error_set(err, OBIA_E_FORMAT,
                                "JPEG lossless: the segment of marker FF%02X at byte %zu runs "
                                "past the end of the data (%zu bytes)", m, at, len);
            break;
        }
        size_t seglen = obia_rd16be(src + pos);
        const uint8_t *body = src + pos + 2;
        size_t n = seglen - 2;
        pos += seglen;
        switch (m) {
        case 0xC3:
            ok = parse_sof3(d, body, n, at);
            break;
        case 0xC0: case 0xC1: case 0xC2: case 0xC5: case 0xC6: case 0xC7:
        case 0xC9: case 0xCA: case 0xCB: case 0xCD: case 0xCE: case 0xCF:
            ok = obia_error_set(err, OBIA_E_UNSUPPORTED,
                                "JPEG lossless: the frame is SOF%u (marker FF%02X at byte %zu), "
                                "not lossless process 14 (SOF3)", m - 0xC0, m, at);
            break;
        case 0xDE: case 0xDF:
            ok = obia_error_set(err, OBIA_E_UNSUPPORTED,
                                "JPEG lossless: hierarchical mode (marker FF%02X at byte %zu) "
                                "is not supported", m, at);
            break;
        case 0xC4:
            ok = parse_dht(d, body, n, at);
            break;
        case 0xDD:
            if (n < 2) {
                ok = obia_error_set(err, OBIA_E_FORMAT,
                                    "JPEG lossless: the DRI segment at byte %zu is too short", at);
                break;
            }
            d->restart_interval = obia_rd16be(body);
            break;
        case 0xDA:
            ok = parse_sos(d, body, n, at, &pos);
            break;
        default:
            break;   /* APPn, COM, DQT, DNL, DAC... carry nothing needed here */
        }
    }
    if (ok && !d->have_frame)
        ok = obia_error_set(err, OBIA_E_FORMAT,
                            "JPEG lossless: the stream has no frame header (SOF3)");
    for (unsigned k = 0; ok && k < d->ncomp; k++)
        if (!d->comp[k].decoded)
            ok = obia_error_set(err, OBIA_E_FORMAT,
                                "JPEG lossless: the stream %s before component %u (id %u) was "
                                "decoded", done ? "ends (EOI)" : "ends", k + 1, d->comp[k].id);
    free(d);
    return ok;
}
