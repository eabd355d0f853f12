/* Unit tests of the own lossless decoders (lib/pixel/rle.c and
 * lib/pixel/jpeg_lossless.c): streams built by hand here -- RLE segments
 * byte by byte, JPEG lossless by a small encoder written from T.81 Annex H
 * -- hostile variants of them, and the RLE and JPEG lossless files of the
 * test corpus, checked against reference values (see test_corpus_files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/dicom.h"
#include "obia/pixel.h"
#include "../../lib/pixel/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static obia_pixel_info mkinfo(uint32_t rows, uint32_t columns, uint16_t samples,
                              uint16_t allocated, uint16_t stored, bool is_signed)
{
    obia_pixel_info in;
    memset(&in, 0, sizeof in);
    in.rows = rows;
    in.columns = columns;
    in.frames = 1;
    in.samples = samples;
    in.bits_allocated = allocated;
    in.bits_stored = stored;
    in.high_bit = (uint16_t)(stored - 1);
    in.is_signed = is_signed;
    in.encapsulated = true;
    snprintf(in.photometric, sizeof in.photometric, "%s", samples == 3 ? "RGB" : "MONOCHROME2");
    return in;
}

static size_t frame_size(const obia_pixel_info *in)
{
    size_t bps = in->bits_allocated <= 8 ? 1 : in->bits_allocated / 8;
    return (size_t)in->rows * in->columns * in->samples * bps;
}

/* Decode with dec into a buffer of exactly the frame's size (so ASan sees
 * any write past it); on failure the error must say something. */
static uint8_t *decode(pixel_decoder dec, const uint8_t *src, size_t len,
                       const obia_pixel_info *in, obia_error *err)
{
    size_t n = frame_size(in);
    uint8_t *dst = malloc(n ? n : 1);
    assert_non_null(dst);
    char photometric[20];
    memcpy(photometric, in->photometric, sizeof photometric);
    obia_error_clear(err);
    /* a copy of exactly len bytes, so reads past the stream are caught too */
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, src, len);
    bool ok = dec(copy, len, in, dst, n, photometric, err);
    free(copy);
    assert_string_equal(photometric, in->photometric);
    if (!ok) {
        assert_int_not_equal(err->code, OBIA_E_OK);
        assert_true(err->message[0] != '\0');
        free(dst);
        return NULL;
    }
    assert_int_equal(err->code, OBIA_E_OK);
    return dst;
}

static void expect_fail(pixel_decoder dec, const uint8_t *src, size_t len,
                        const obia_pixel_info *in, obia_status code, const char *words)
{
    obia_error err;
    uint8_t *out = decode(dec, src, len, in, &err);
    if (out)
        fail_msg("decoded what should fail (%s)", words);
    if (err.code != code || !strstr(err.message, words))
        fail_msg("expected %s with \"%s\", got %s: %s", obia_status_name(code), words,
                 obia_status_name(err.code), err.message);
}

/* ---- RLE ---------------------------------------------------------------------------- */

/* An RLE frame: the header for the segments given, then the segments. */
static size_t rle_frame(uint8_t *out, const uint8_t *const *seg, const size_t *seglen,
                        size_t nseg)
{
    memset(out, 0, 64);
    obia_wr32le(out, (uint32_t)nseg);
    size_t at = 64;
    for (size_t s = 0; s < nseg; s++) {
        obia_wr32le(out + 4 + 4 * s, (uint32_t)at);
        memcpy(out + at, seg[s], seglen[s]);
        at += seglen[s];
    }
    return at;
}

static void test_rle_8bit(void **state)
{
    (void)state;
    /* 2 x 5: literal of 3, no-op byte, repeat of 5, literal of 2 */
    static const uint8_t seg[] = {0x02, 10, 20, 30, 0x80, 0xFC, 7, 0x01, 40, 50};
    const uint8_t *segs[] = {seg};
    size_t lens[] = {sizeof seg};
    uint8_t frame[256];
    size_t n = rle_frame(frame, segs, lens, 1);
    obia_pixel_info in = mkinfo(2, 5, 1, 8, 8, false);
    obia_error err;
    uint8_t *out = decode(pixel_rle_decode, frame, n, &in, &err);
    assert_non_null(out);
    static const uint8_t want[] = {10, 20, 30, 7, 7, 7, 7, 7, 40, 50};
    assert_memory_equal(out, want, sizeof want);
    free(out);

    /* a surplus byte at the end of the segment (a padding run) is ignored */
    static const uint8_t seg2[] = {0x02, 10, 20, 30, 0xFC, 7, 0x02, 40, 50, 0};
    segs[0] = seg2;
    lens[0] = sizeof seg2;
    n = rle_frame(frame, segs, lens, 1);
    out = decode(pixel_rle_decode, frame, n, &in, &err);
    assert_non_null(out);
    assert_memory_equal(out, want, sizeof want);
    free(out);

    /* a repeat run longer than needed, and trailing bytes after it */
    static const uint8_t seg3[] = {0x81, 9, 0x00, 1, 2};
    segs[0] = seg3;
    lens[0] = sizeof seg3;
    n = rle_frame(frame, segs, lens, 1);
    out = decode(pixel_rle_decode, frame, n, &in, &err);
    assert_non_null(out);
    for (int i = 0; i < 10; i++)
        assert_int_equal(out[i], 9);
    free(out);
}

static void test_rle_16bit_and_colour(void **state)
{
    (void)state;
    uint8_t frame[512];
    obia_error err;

    /* 16-bit grey, 1 x 3: values 0x0102, 0x0304, 0xFFFE; high bytes first */
    static const uint8_t hi[] = {0x02, 0x01, 0x03, 0xFF};
    static const uint8_t lo[] = {0x02, 0x02, 0x04, 0xFE};
    const uint8_t *s16[] = {hi, lo};
    size_t l16[] = {sizeof hi, sizeof lo};
    size_t n = rle_frame(frame, s16, l16, 2);
    obia_pixel_info in = mkinfo(1, 3, 1, 16, 16, false);
    uint8_t *out = decode(pixel_rle_decode, frame, n, &in, &err);
    assert_non_null(out);
    static const uint8_t want16[] = {0x02, 0x01, 0x04, 0x03, 0xFE, 0xFF};
    assert_memory_equal(out, want16, sizeof want16);
    free(out);

    /* 8-bit RGB, 2 x 2: planes R G B become interleaved */
    static const uint8_t r[] = {0xFD, 200}, g[] = {0x03, 1, 2, 3, 4}, b[] = {0x01, 5, 6, 0xFF, 7};
    const uint8_t *s3[] = {r, g, b};
    size_t l3[] = {sizeof r, sizeof g, sizeof b};
    n = rle_frame(frame, s3, l3, 3);
    in = mkinfo(2, 2, 3, 8, 8, false);
    out = decode(pixel_rle_decode, frame, n, &in, &err);
    assert_non_null(out);
    static const uint8_t want3[] = {200, 1, 5, 200, 2, 6, 200, 3, 7, 200, 4, 7};
    assert_memory_equal(out, want3, sizeof want3);
    free(out);

    /* 16-bit RGB, 1 x 2: six segments, sample by sample, high byte first */
    static const uint8_t a0[] = {0xFF, 0x11}, a1[] = {0x01, 0x22, 0x23}, a2[] = {0xFF, 0x33},
                         a3[] = {0x01, 0x44, 0x45}, a4[] = {0xFF, 0x55}, a5[] = {0x01, 0x66, 0x67};
    const uint8_t *s6[] = {a0, a1, a2, a3, a4, a5};
    size_t l6[] = {2, 3, 2, 3, 2, 3};
    n = rle_frame(frame, s6, l6, 6);
    in = mkinfo(1, 2, 3, 16, 16, false);
    out = decode(pixel_rle_decode, frame, n, &in, &err);
    assert_non_null(out);
    static const uint8_t want6[] = {0x22, 0x11, 0x44, 0x33, 0x66, 0x55,
                                    0x23, 0x11, 0x45, 0x33, 0x67, 0x55};
    assert_memory_equal(out, want6, sizeof want6);
    free(out);

    /* 32-bit grey, 1 x 1: four segments, most significant first */
    static const uint8_t b0[] = {0x00, 0x12}, b1[] = {0x00, 0x34}, b2[] = {0x00, 0x56},
                         b3[] = {0x00, 0x78};
    const uint8_t *s4[] = {b0, b1, b2, b3};
    size_t l4[] = {2, 2, 2, 2};
    n = rle_frame(frame, s4, l4, 4);
    in = mkinfo(1, 1, 1, 32, 32, false);
    out = decode(pixel_rle_decode, frame, n, &in, &err);
    assert_non_null(out);
    static const uint8_t want4[] = {0x78, 0x56, 0x34, 0x12};
    assert_memory_equal(out, want4, sizeof want4);
    free(out);

    /* 1-bit, 3 x 4: 12 bits packed first pixel lowest, unpacked to bytes */
    static const uint8_t bits[] = {0x01, 0xA5, 0x0C};
    const uint8_t *s1[] = {bits};
    size_t l1[] = {sizeof bits};
    n = rle_frame(frame, s1, l1, 1);
    in = mkinfo(3, 4, 1, 1, 1, false);
    out = decode(pixel_rle_decode, frame, n, &in, &err);
    assert_non_null(out);
    static const uint8_t want1[] = {1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1};
    assert_memory_equal(out, want1, sizeof want1);
    free(out);
}

static void test_rle_hostile(void **state)
{
    (void)state;
    uint8_t frame[512];
    static const uint8_t ok4[] = {0x03, 1, 2, 3, 4};
    const uint8_t *segs[] = {ok4, ok4, ok4};
    size_t lens[] = {sizeof ok4, sizeof ok4, sizeof ok4};
    obia_pixel_info in = mkinfo(2, 2, 1, 8, 8, false);

    /* segment count: 2 for 8-bit grey, 0, more than 15 */
    size_t n = rle_frame(frame, segs, lens, 2);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "says 2 segments");
    obia_wr32le(frame, 0);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "says 0 segments");
    obia_wr32le(frame, 0xFFFFFFFFu);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "segments");

    /* shorter than its header */
    n = rle_frame(frame, segs, lens, 1);
    expect_fail(pixel_rle_decode, frame, 63, &in, OBIA_E_FORMAT, "64-byte header");

    /* offsets: inside the header, past the end, out of order */
    obia_wr32le(frame + 4, 10);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "inside the 64-byte header");
    obia_wr32le(frame + 4, (uint32_t)n);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "past the end");
    obia_wr32le(frame + 4, 0xFFFFFFF0u);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "past the end");
    in = mkinfo(2, 1, 1, 16, 16, false);
    static const uint8_t two[] = {0x01, 1, 2};
    const uint8_t *s2[] = {two, two};
    size_t l2[] = {3, 3};
    n = rle_frame(frame, s2, l2, 2);
    obia_wr32le(frame + 8, 64);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "not after the previous");

    /* a literal run past its segment's end (into the next segment) */
    in = mkinfo(2, 2, 1, 16, 16, false);
    static const uint8_t longlit[] = {0x03, 1, 2};
    const uint8_t *s3[] = {longlit, ok4};
    size_t l3[] = {sizeof longlit, sizeof ok4};
    n = rle_frame(frame, s3, l3, 2);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "goes past the segment's end");
    /* a repeat header as the segment's last byte */
    static const uint8_t lonely[] = {0x01, 1, 2, 0xFF};
    s3[0] = lonely;
    l3[0] = sizeof lonely;
    n = rle_frame(frame, s3, l3, 2);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "goes past the segment's end");
    /* too few bytes: a segment of 3 for 4 pixels, and one of only no-ops */
    static const uint8_t few[] = {0x02, 1, 2, 3};
    s3[0] = few;
    l3[0] = sizeof few;
    n = rle_frame(frame, s3, l3, 2);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "decodes to 3 bytes");
    static const uint8_t nops[] = {0x80, 0x80};
    s3[1] = nops;
    l3[1] = sizeof nops;
    s3[0] = ok4;
    l3[0] = sizeof ok4;
    n = rle_frame(frame, s3, l3, 2);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_FORMAT, "decodes to 0 bytes");

    /* what the decoder does not do, and an output of the wrong size */
    in = mkinfo(2, 2, 1, 12, 12, false);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_UNSUPPORTED, "12 bits");
    in = mkinfo(1, 1, 4, 32, 32, false);
    expect_fail(pixel_rle_decode, frame, n, &in, OBIA_E_UNSUPPORTED, "at most 15");
    in = mkinfo(2, 2, 1, 8, 8, false);
    uint8_t dst[3];
    char ph[20] = "MONOCHROME2";
    obia_error err;
    obia_error_clear(&err);
    assert_false(pixel_rle_decode(frame, n, &in, dst, sizeof dst, ph, &err));
    assert_int_equal(err.code, OBIA_E_ARG);

    /* every truncation of a good frame fails cleanly */
    const uint8_t *s6[] = {ok4, ok4, ok4};
    size_t l6[] = {sizeof ok4, sizeof ok4, sizeof ok4};
    in = mkinfo(2, 2, 3, 8, 8, false);
    n = rle_frame(frame, s6, l6, 3);
    for (size_t cut = 0; cut < n; cut++) {
        obia_error e;
        uint8_t *out = decode(pixel_rle_decode, frame, cut, &in, &e);
        assert_null(out);
    }
}

/* ---- a JPEG lossless encoder (T.81 Annex H), for the tests ---------------------------- */

typedef struct huff_spec {
    uint8_t counts[16];
    uint8_t vals[17];
    uint16_t code[17];   /* by symbol */
    uint8_t size[17];
} huff_spec;

/* Canonical codes (T.81 C.2) of a table of the 17 categories. */
static void huff_init(huff_spec *h, const uint8_t counts[16], const uint8_t vals[17])
{
    memcpy(h->counts, counts, 16);
    memcpy(h->vals, vals, 17);
    unsigned code = 0, k = 0;
    for (unsigned l = 1; l <= 16; l++, code <<= 1)
        for (unsigned i = 0; i < counts[l - 1]; i++, k++, code++) {
            h->code[vals[k]] = (uint16_t)code;
            h->size[vals[k]] = (uint8_t)l;
        }
    assert_int_equal(k, 17);
}

/* Two tables: short codes for small categories (up to 16 bits long, so the
 * decoder's slow path is used), and the reverse. */
static const uint8_t counts_a[16] = {0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const uint8_t vals_a[17] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t counts_b[16] = {0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t vals_b[17] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};

typedef struct jspec {
    unsigned rows, cols, ncomp, precision, sv, pt;
    unsigned restart_rows;   /* 0: no restart interval */
    bool separate_scans;     /* one scan per component */
    bool fill_bytes;         /* 0xFF fill bytes before markers */
    bool no_eoi;
    bool two_tables;         /* component 2.. use table 1; table 0 redefined between scans */
    bool extras;             /* APP0, COM and DQT segments to skip */
} jspec;

typedef struct bitw {
    obia_buf *out;
    uint32_t acc;
    int n;
} bitw;

static void put_bits(bitw *w, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        w->acc = (w->acc << 1) | ((v >> i) & 1);
        if (++w->n == 8) {
            obia_buf_append_byte(w->out, (uint8_t)w->acc);
            if ((uint8_t)w->acc == 0xFF)
                obia_buf_append_byte(w->out, 0x00);
            w->acc = 0;
            w->n = 0;
        }
    }
}

static void flush_bits(bitw *w)
{
    while (w->n != 0)
        put_bits(w, 1, 1);
}

static void put_marker(obia_buf *b, const jspec *s, uint8_t m)
{
    if (s->fill_bytes)
        obia_buf_append(b, "\xFF\xFF\xFF", 3);
    obia_buf_append_byte(b, 0xFF);
    obia_buf_append_byte(b, m);
}

static void put_segment(obia_buf *b, const jspec *s, uint8_t m, const uint8_t *body, size_t n)
{
    put_marker(b, s, m);
    obia_buf_append_byte(b, (uint8_t)((n + 2) >> 8));
    obia_buf_append_byte(b, (uint8_t)(n + 2));
    obia_buf_append(b, body, n);
}

static void put_dht(obia_buf *b, const jspec *s, unsigned id, const huff_spec *h)
{
    uint8_t body[1 + 16 + 17];
    body[0] = (uint8_t)id;
    memcpy(body + 1, h->counts, 16);
    memcpy(body + 17, h->vals, 17);
    put_segment(b, s, 0xC4, body, sizeof body);
}

static void encode_diff(bitw *w, const huff_spec *h, int32_t x, int32_t pred)
{
    int32_t d = (int32_t)((uint32_t)(x - pred) & 0xFFFF);
    if (d > 32768)
        d -= 65536;
    unsigned ssss = 0;
    for (int32_t a = d < 0 ? -d : d; a; a >>= 1)
        ssss++;
    put_bits(w, h->code[ssss], h->size[ssss]);
    if (ssss && ssss < 16)
        put_bits(w, (uint32_t)(d < 0 ? d - 1 : d) & ((1u << ssss) - 1), (int)ssss);
}

/* Encode img (rows x cols x ncomp values of precision bits, interleaved). */
static void jpeg_encode(const jspec *s, const uint16_t *img, obia_buf *b)
{
    huff_spec ha, hb;
    huff_init(&ha, counts_a, vals_a);
    huff_init(&hb, counts_b, vals_b);
    obia_buf_init(b, 1u << 26);
    obia_buf_append(b, "\xFF\xD8", 2);
    if (s->extras) {
        put_segment(b, s, 0xE0, (const uint8_t *)"JFIF\0\1\2\0\0\1\0\1\0\0", 14);
        put_segment(b, s, 0xFE, (const uint8_t *)"made by test_pixel_lossless", 27);
        uint8_t dqt[65] = {0};
        put_segment(b, s, 0xDB, dqt, sizeof dqt);
    }
    uint8_t sof[6 + 12] = {(uint8_t)s->precision, (uint8_t)(s->rows >> 8), (uint8_t)s->rows,
                           (uint8_t)(s->cols >> 8), (uint8_t)s->cols, (uint8_t)s->ncomp};
    for (unsigned c = 0; c < s->ncomp; c++) {
        sof[6 + 3 * c] = (uint8_t)(c + 1);
        sof[7 + 3 * c] = 0x11;
    }
    put_segment(b, s, 0xC3, sof, 6 + 3 * s->ncomp);
    put_dht(b, s, 0, &ha);
    if (s->two_tables)
        put_dht(b, s, 1, &hb);
    if (s->restart_rows) {
        unsigned ri = s->restart_rows * s->cols;
        uint8_t dri[2] = {(uint8_t)(ri >> 8), (uint8_t)ri};
        put_segment(b, s, 0xDD, dri, 2);
    }
    unsigned nscans = s->separate_scans ? s->ncomp : 1;
    for (unsigned scan = 0; scan < nscans; scan++) {
        unsigned first = s->separate_scans ? scan : 0, ns = s->separate_scans ? 1 : s->ncomp;
        /* two tables: interleaved, component 1 codes with table 0 (A), the
         * others with table 1 (B); in separate scans, table 0 is redefined
         * as B before the second scan, which and later ones use it */
        bool redefined = s->two_tables && s->separate_scans && scan >= 1;
        if (redefined && scan == 1)
            put_dht(b, s, 0, &hb);
        const huff_spec *tab[4];
        uint8_t sos[1 + 8 + 3] = {(uint8_t)ns};
        for (unsigned j = 0; j < ns; j++) {
            unsigned c = first + j;
            bool use_b = s->two_tables && c > 0;
            tab[j] = use_b ? &hb : &ha;
            sos[1 + 2 * j] = (uint8_t)(c + 1);
            sos[2 + 2 * j] = use_b && !redefined ? 0x10 : 0x00;
        }
        sos[1 + 2 * ns] = (uint8_t)s->sv;
        sos[2 + 2 * ns] = 0;
        sos[3 + 2 * ns] = (uint8_t)s->pt;
        put_segment(b, s, 0xDA, sos, 4 + 2 * ns);
        bitw w = {.out = b};
        unsigned rst = 0;
        int32_t initial = 1 << (s->precision - s->pt - 1);
        for (unsigned y = 0; y < s->rows; y++) {
            bool first_row = y == 0;
            if (s->restart_rows && y > 0 && y % s->restart_rows == 0) {
                flush_bits(&w);
                put_marker(b, s, (uint8_t)(0xD0 + (rst++ & 7)));
                first_row = true;
            }
            for (unsigned x = 0; x < s->cols; x++)
                for (unsigned j = 0; j < ns; j++) {
                    unsigned c = first + j;
#define AT(yy, xx) ((int32_t)(img[((size_t)(yy) * s->cols + (xx)) * s->ncomp + c] >> s->pt))
                    int32_t pred;
                    if (first_row)
                        pred = x == 0 ? initial : AT(y, x - 1);
                    else if (x == 0)
                        pred = AT(y - 1, 0);
                    else {
                        int32_t ra = AT(y, x - 1), rb = AT(y - 1, x), rc = AT(y - 1, x - 1);
                        switch (s->sv) {
                        case 1: pred = ra; break;
                        case 2: pred = rb; break;
                        case 3: pred = rc; break;
                        case 4: pred = ra + rb - rc; break;
                        case 5: pred = ra + ((rb - rc) >> 1); break;
                        case 6: pred = rb + ((ra - rc) >> 1); break;
                        default: pred = (ra + rb) >> 1; break;
                        }
                    }
                    encode_diff(&w, tab[j], AT(y, x), pred);
#undef AT
                }
        }
        flush_bits(&w);
    }
    if (!s->no_eoi)
        put_marker(b, s, 0xD9);
    assert_false(b->failed);
}

/* Pseudo-random values of bits bits with low pt bits zero, rough like images. */
static uint16_t *make_image(const jspec *s, uint32_t seed)
{
    size_t n = (size_t)s->rows * s->cols * s->ncomp;
    uint16_t *img = malloc(n * sizeof *img);
    assert_non_null(img);
    uint32_t mask = ((1u << s->precision) - 1) & ~((1u << s->pt) - 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t r = seed >> 8;
        uint32_t v = (r & 3) == 0 ? r >> 4                  /* a jump anywhere */
                     : i >= s->ncomp ? img[i - s->ncomp] + (r >> 4) % 9 - 4   /* near the left */
                                     : r >> 4;
        img[i] = (uint16_t)(v & mask);
    }
    return img;
}

/* Encode per s, decode, and compare with the image (in a container of
 * allocated bits, sign-extended from stored bits when signed). */
static void roundtrip(const jspec *s, uint16_t allocated, uint16_t stored, bool is_signed,
                      uint32_t seed)
{
    uint16_t *img = make_image(s, seed);
    obia_buf b;
    jpeg_encode(s, img, &b);
    obia_pixel_info in = mkinfo(s->rows, s->cols, (uint16_t)s->ncomp, allocated, stored,
                                is_signed);
    obia_error err;
    uint8_t *out = decode(pixel_jpeg_lossless_decode, b.data, b.len, &in, &err);
    if (!out)
        fail_msg("sv %u precision %u: %s", s->sv, s->precision, err.message);
    size_t n = (size_t)s->rows * s->cols * s->ncomp;
    for (size_t i = 0; i < n; i++) {
        uint32_t want = img[i];
        if (is_signed && stored < allocated && (want & (1u << (stored - 1))))
            want |= ((1u << allocated) - 1) & ~((1u << stored) - 1);
        uint32_t got = allocated > 8 ? obia_rd16le(out + 2 * i) : out[i];
        if (got != want)
            fail_msg("sv %u precision %u pt %u: sample %zu is %u, not %u", s->sv, s->precision,
                     s->pt, i, got, want);
    }
    free(out);
    free(img);
    obia_buf_free(&b);
}

static void test_jpeg_predictors(void **state)
{
    (void)state;
    for (unsigned sv = 1; sv <= 7; sv++) {
        jspec s = {.rows = 13, .cols = 17, .ncomp = 1, .precision = 16, .sv = sv};
        roundtrip(&s, 16, 16, false, sv);
        s.precision = 12;
        roundtrip(&s, 16, 12, false, sv * 7);
        roundtrip(&s, 16, 12, true, sv * 11);
        s.precision = 8;
        roundtrip(&s, 8, 8, false, sv * 13);
        s.ncomp = 3;
        roundtrip(&s, 8, 8, false, sv * 17);
        s.separate_scans = true;
        roundtrip(&s, 8, 8, false, sv * 19);
    }
}

static void test_jpeg_precisions(void **state)
{
    (void)state;
    for (unsigned p = 2; p <= 16; p++) {
        jspec s = {.rows = 9, .cols = 11, .ncomp = 1, .precision = p, .sv = 1 + p % 7};
        uint16_t allocated = p <= 8 ? 8 : 16;
        roundtrip(&s, allocated, (uint16_t)p, false, p);
        roundtrip(&s, allocated, (uint16_t)p, true, p + 100);
        /* point transform */
        s.pt = p / 3;
        roundtrip(&s, allocated, (uint16_t)p, false, p + 200);
    }
    /* precision above bits stored (12 stored, coded with P 16): accepted */
    jspec s = {.rows = 5, .cols = 7, .ncomp = 1, .precision = 16, .sv = 1};
    uint16_t *img = make_image(&s, 5);
    for (size_t i = 0; i < 35; i++)
        img[i] &= 0x0FFF;
    obia_buf b;
    jpeg_encode(&s, img, &b);
    obia_pixel_info in = mkinfo(5, 7, 1, 16, 12, false);
    obia_error err;
    uint8_t *out = decode(pixel_jpeg_lossless_decode, b.data, b.len, &in, &err);
    assert_non_null(out);
    for (size_t i = 0; i < 35; i++)
        assert_int_equal(obia_rd16le(out + 2 * i), img[i]);
    free(out);
    /* signed: -1 in 12 bits coded with P 16 as 0x0FFF or as 0xFFFF gives 0xFFFF */
    img[0] = 0x0FFF;
    img[1] = 0xFFFF;
    obia_buf_free(&b);
    jpeg_encode(&s, img, &b);
    in.is_signed = true;
    out = decode(pixel_jpeg_lossless_decode, b.data, b.len, &in, &err);
    assert_non_null(out);
    assert_int_equal(obia_rd16le(out), 0xFFFF);
    assert_int_equal(obia_rd16le(out + 2), 0xFFFF);
    free(out);
    free(img);
    obia_buf_free(&b);
}

static void test_jpeg_structure(void **state)
{
    (void)state;
    /* restart intervals, with every predictor, interleaved and not */
    for (unsigned sv = 1; sv <= 7; sv++) {
        jspec s = {.rows = 20, .cols = 6, .ncomp = 1, .precision = 16, .sv = sv,
                   .restart_rows = 1 + sv % 4};
        roundtrip(&s, 16, 16, false, 300 + sv);
        s.ncomp = 3;
        s.precision = 8;
        roundtrip(&s, 8, 8, false, 310 + sv);
        s.separate_scans = true;
        s.restart_rows = 3;
        roundtrip(&s, 8, 8, false, 320 + sv);
    }
    /* several tables, redefined between scans; fill bytes; APP/COM/DQT; no EOI */
    jspec s = {.rows = 8, .cols = 8, .ncomp = 3, .precision = 10, .sv = 4, .two_tables = true};
    roundtrip(&s, 16, 10, false, 400);
    s.separate_scans = true;
    roundtrip(&s, 16, 10, false, 401);
    s.fill_bytes = true;
    s.extras = true;
    s.restart_rows = 2;
    roundtrip(&s, 16, 10, false, 402);
    s.no_eoi = true;
    roundtrip(&s, 16, 10, false, 403);
    /* four components */
    jspec s4 = {.rows = 4, .cols = 5, .ncomp = 4, .precision = 8, .sv = 6};
    roundtrip(&s4, 8, 8, false, 404);
}

/* Differences of 32768 (category 16, no extra bits), and wrap-around. */
static void test_jpeg_ssss16(void **state)
{
    (void)state;
    jspec s = {.rows = 3, .cols = 4, .ncomp = 1, .precision = 16, .sv = 1};
    static const uint16_t img[12] = {0,     32768, 0,     65535, 32767, 65535,
                                     0,     32768, 1,     0,     65535, 32768};
    obia_buf b;
    jpeg_encode(&s, img, &b);
    obia_pixel_info in = mkinfo(3, 4, 1, 16, 16, false);
    obia_error err;
    uint8_t *out = decode(pixel_jpeg_lossless_decode, b.data, b.len, &in, &err);
    assert_non_null(out);
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(obia_rd16le(out + 2 * i), img[i]);
    free(out);
    obia_buf_free(&b);
}

/* Replace the bytes at the first occurrence of marker m (FF m). */
static uint8_t *find_marker(obia_buf *b, uint8_t m)
{
    for (size_t i = 0; i + 1 < b->len; i++)
        if (b->data[i] == 0xFF && b->data[i + 1] == m)
            return b->data + i;
    fail_msg("no marker FF%02X", m);
    return NULL;
}

static void test_jpeg_hostile(void **state)
{
    (void)state;
    jspec s = {.rows = 6, .cols = 7, .ncomp = 1, .precision = 12, .sv = 7, .restart_rows = 2};
    uint16_t *img = make_image(&s, 77);
    obia_buf b;
    jpeg_encode(&s, img, &b);
    obia_pixel_info in = mkinfo(6, 7, 1, 16, 12, false);
    obia_error err;

    /* every truncation: an error, unless only (part of) EOI is missing */
    size_t eoi = b.len - 2;
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *out = decode(pixel_jpeg_lossless_decode, b.data, cut, &in, &err);
        if ((out != NULL) != (cut >= eoi))
            fail_msg("cut at %zu of %zu: %s", cut, b.len, out ? "decoded" : err.message);
        free(out);
    }

    /* the frame header against the DICOM header */
    obia_pixel_info bad = mkinfo(5, 7, 1, 16, 12, false);
    expect_fail(pixel_jpeg_lossless_decode, b.data, b.len, &bad, OBIA_E_FORMAT, "7 x 6");
    bad = mkinfo(6, 7, 3, 16, 12, false);
    expect_fail(pixel_jpeg_lossless_decode, b.data, b.len, &bad, OBIA_E_FORMAT, "1 components");
    bad = mkinfo(6, 7, 1, 16, 16, false);
    expect_fail(pixel_jpeg_lossless_decode, b.data, b.len, &bad, OBIA_E_FORMAT, "precision 12");
    bad = mkinfo(6, 7, 1, 8, 8, false);
    expect_fail(pixel_jpeg_lossless_decode, b.data, b.len, &bad, OBIA_E_FORMAT, "precision 12");
    bad = mkinfo(6, 7, 1, 32, 32, false);
    expect_fail(pixel_jpeg_lossless_decode, b.data, b.len, &bad, OBIA_E_FORMAT, "32 bits");

    obia_buf c;
    obia_buf_init(&c, 1u << 20);
#define MUTATE(code, words, edit)                                                            \
    do {                                                                                     \
        obia_buf_reset(&c);                                                                  \
        obia_buf_append(&c, b.data, b.len);                                                  \
        edit;                                                                                \
        expect_fail(pixel_jpeg_lossless_decode, c.data, c.len, &in, code, words);            \
    } while (0)
    MUTATE(OBIA_E_FORMAT, "SOI", c.data[1] = 0xD9);
    MUTATE(OBIA_E_UNSUPPORTED, "SOF0", find_marker(&c, 0xC3)[1] = 0xC0);
    MUTATE(OBIA_E_UNSUPPORTED, "SOF11", find_marker(&c, 0xC3)[1] = 0xCB);
    MUTATE(OBIA_E_UNSUPPORTED, "hierarchical", find_marker(&c, 0xC3)[1] = 0xDE);
    MUTATE(OBIA_E_FORMAT, "before the frame header", find_marker(&c, 0xC3)[1] = 0xE1);
    /* SOS: FF DA, length, Ns, Cs Td/Ta, Ss, Se, Ah/Al */
    MUTATE(OBIA_E_FORMAT, "selection value 0", find_marker(&c, 0xDA)[7] = 0);
    MUTATE(OBIA_E_FORMAT, "selection value 8", find_marker(&c, 0xDA)[7] = 8);
    MUTATE(OBIA_E_FORMAT, "point transform 12", find_marker(&c, 0xDA)[9] = 12);
    MUTATE(OBIA_E_FORMAT, "table 2", find_marker(&c, 0xDA)[6] = 0x20);
    MUTATE(OBIA_E_FORMAT, "component 9", find_marker(&c, 0xDA)[5] = 9);
    MUTATE(OBIA_E_FORMAT, "names 2 components", find_marker(&c, 0xDA)[4] = 2);
    MUTATE(OBIA_E_FORMAT, "precision 1 ", find_marker(&c, 0xC3)[4] = 1);
    MUTATE(OBIA_E_FORMAT, "RST1", find_marker(&c, 0xD1)[1] = 0xD2);
    MUTATE(OBIA_E_UNSUPPORTED, "restart interval of 15", find_marker(&c, 0xDD)[5] = 15);
    /* DHT: FF C4, length, Tc/Th, 16 counts, values */
    MUTATE(OBIA_E_FORMAT, "more codes", find_marker(&c, 0xC4)[5] = 3; find_marker(&c, 0xC4)[6] = 0);
    MUTATE(OBIA_E_FORMAT, "bad table", find_marker(&c, 0xC4)[4] = 0x04);
    MUTATE(OBIA_E_FORMAT, "runs past the end", find_marker(&c, 0xC4)[2] = 0x7F);
    MUTATE(OBIA_E_FORMAT, "ends (EOI) before component 1",
           c.len = (size_t)(find_marker(&c, 0xDA) - c.data); obia_buf_append(&c, "\xFF\xD9", 2));
    MUTATE(OBIA_E_FORMAT, "no frame header", c.len = 2; obia_buf_append(&c, "\xFF\xD9", 2));
    MUTATE(OBIA_E_FORMAT, "a second frame header",
           uint8_t sof[13]; memcpy(sof, find_marker(&c, 0xC3), 13);
           c.len = (size_t)(find_marker(&c, 0xDA) - c.data); obia_buf_append(&c, sof, 13));
    MUTATE(OBIA_E_FORMAT, "expected a marker", c.data[2] = 0x12);
#undef MUTATE
    obia_buf_free(&c);

    /* subsampled colour is not supported */
    jspec s3 = {.rows = 2, .cols = 2, .ncomp = 3, .precision = 8, .sv = 1};
    uint16_t *img3 = make_image(&s3, 5);
    obia_buf b3;
    jpeg_encode(&s3, img3, &b3);
    find_marker(&b3, 0xC3)[14] = 0x21;   /* component 2: H 2, V 1 */
    obia_pixel_info in3 = mkinfo(2, 2, 3, 8, 8, false);
    expect_fail(pixel_jpeg_lossless_decode, b3.data, b3.len, &in3, OBIA_E_UNSUPPORTED,
                "sampling");
    free(img3);
    obia_buf_free(&b3);

    /* any single corrupted byte: decoded or refused, never out of bounds */
    for (size_t i = 2; i < b.len; i++)
        for (unsigned v = 0; v < 256; v += 51) {
            uint8_t keep = b.data[i];
            b.data[i] = (uint8_t)(keep ^ (v | 1));
            free(decode(pixel_jpeg_lossless_decode, b.data, b.len, &in, &err));
            b.data[i] = keep;
        }
    free(img);
    obia_buf_free(&b);
}

/* ---- the corpus ------------------------------------------------------------------------ */

/* 64-bit FNV-1a, to compare with values computed once with pydicom */
static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

static unsigned get_us(const obia_dataset *ds, uint16_t g, uint16_t e, unsigned dflt)
{
    const obia_element *el = obia_dataset_get(ds, OBIA_TAG(g, e));
    uint64_t v;
    return el && obia_element_get_uint(el, 0, &v, NULL) ? (unsigned)v : dflt;
}

typedef struct corpus_file {
    obia_file *f;
    obia_pixel_info info;
    size_t nfrag;
    const obia_element *px;
} corpus_file;

static bool open_corpus(const char *root, const char *rel, corpus_file *cf)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    if (access(path, R_OK) != 0)
        return false;
    obia_error err;
    obia_error_clear(&err);
    cf->f = obia_file_read(path, NULL, &err);
    if (!cf->f)
        fail_msg("%s: %s", rel, err.message);
    const obia_dataset *ds = obia_file_dataset(cf->f);
    obia_buf s;
    obia_buf_init(&s, 256);
    const char *frames = obia_dataset_get_cstr(ds, OBIA_TAG(0x0028, 0x0008), &s);
    cf->info = mkinfo(get_us(ds, 0x0028, 0x0010, 0), get_us(ds, 0x0028, 0x0011, 0),
                      (uint16_t)get_us(ds, 0x0028, 0x0002, 1),
                      (uint16_t)get_us(ds, 0x0028, 0x0100, 0),
                      (uint16_t)get_us(ds, 0x0028, 0x0101, 0),
                      get_us(ds, 0x0028, 0x0103, 0) == 1);
    cf->info.frames = frames && *frames ? (uint32_t)atoi(frames) : 1;
    cf->info.planar = get_us(ds, 0x0028, 0x0006, 0) == 1;
    obia_buf_free(&s);
    cf->px = obia_dataset_get(ds, OBIA_TAG_PIXEL_DATA);
    assert_non_null(cf->px);
    cf->nfrag = obia_element_is_encapsulated(cf->px) ? obia_element_fragment_count(cf->px) : 0;
    return true;
}

/* The bytes of frame index: by the Basic Offset Table, else one frame per
 * fragment (RLE) or per fragment starting with SOI (JPEG), or all of them
 * for a single frame. */
static uint8_t *encoded_frame(const corpus_file *cf, uint32_t index, bool jpeg, size_t *len)
{
    size_t botlen, n;
    const uint8_t *bot = obia_element_fragment(cf->px, 0, &botlen, NULL);
    obia_buf b;
    obia_buf_init(&b, (size_t)1 << 30);
    uint32_t frame = 0;
    uint64_t at = 0;   /* offset of fragment i from the first fragment's item */
    for (size_t i = 1; i < cf->nfrag; i++) {
        const uint8_t *p = obia_element_fragment(cf->px, i, &n, NULL);
        if (botlen >= 4 * (size_t)cf->info.frames) {
            frame = 0;
            while (frame + 1 < cf->info.frames && obia_rd32le(bot + 4 * (frame + 1)) <= at)
                frame++;
        } else if (cf->info.frames > 1 && i > 1 && (!jpeg || (n >= 2 && p[0] == 0xFF && p[1] == 0xD8))) {
            frame++;
        }
        at += 8 + n;
        if (frame == index)
            obia_buf_append(&b, p, n);
    }
    *len = b.len;
    return b.data;
}

/* Decode frame index of a corpus file with the decoder of its syntax. */
static uint8_t *decode_corpus_frame(const corpus_file *cf, uint32_t index, const char *rel)
{
    const char *ts = obia_file_transfer_syntax(cf->f);
    bool jpeg = strcmp(ts, "1.2.840.10008.1.2.5") != 0;
    size_t len;
    uint8_t *src = encoded_frame(cf, index, jpeg, &len);
    obia_error err;
    uint8_t *out = decode(jpeg ? pixel_jpeg_lossless_decode : pixel_rle_decode, src, len,
                          &cf->info, &err);
    if (!out)
        fail_msg("%s frame %u: %s", rel, index + 1, err.message);
    free(src);
    return out;
}

/* The native frame of a native file, interleaved, 1-bit unpacked. */
static uint8_t *native_frame(const corpus_file *cf, uint32_t index)
{
    size_t n = frame_size(&cf->info), pixels = (size_t)cf->info.rows * cf->info.columns;
    const uint8_t *p = obia_element_bytes(cf->px);
    size_t have = obia_element_length(cf->px);
    uint8_t *out = malloc(n);
    assert_non_null(out);
    if (cf->info.bits_allocated == 1) {
        for (size_t i = 0; i < n; i++) {
            size_t bit = index * n + i;
            assert_true(bit / 8 < have);
            out[i] = (uint8_t)((p[bit / 8] >> (bit % 8)) & 1);
        }
        return out;
    }
    assert_true((index + 1) * n <= have);
    p += index * n;
    size_t bps = n / pixels / cf->info.samples;
    if (cf->info.planar && cf->info.samples > 1) {
        for (size_t s = 0; s < cf->info.samples; s++)
            for (size_t i = 0; i < pixels; i++)
                memcpy(out + (i * cf->info.samples + s) * bps, p + (s * pixels + i) * bps, bps);
    } else {
        memcpy(out, p, n);
    }
    return out;
}

/* The lossless files of tests/data against FNV-1a hashes of pydicom's
 * decoding: computed once with pydicom 2.3.1 (Debian 12) -- ds.pixel_array
 * for RLE, for JPEG lossless the pixel_array of `dcmdjpeg IN OUT` (DCMTK
 * 3.6.7) -- as FNV-1a 64 of each frame's little-endian bytes. */
static void test_corpus_files(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        uint32_t frame;
        uint64_t fnv;
    } refs[] = {
        {"deb-python3-pydicom/test_files/SC_rgb_rle.dcm", 0, 0xe9719e4c815ac1ddu},
        {"gh-dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm",
         0, 0x314b7aff4df8133eu},
        {"gh-dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm",
         1, 0x3d0079e2cfe35cf8u},
        {"gh-pydicom-data/bad_sequence.dcm", 0, 0x89d101612ec42985u},
    };
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        corpus_file cf;
        if (!open_corpus(OBIA_TEST_DATA, refs[i].path, &cf))
            fail_msg("%s is missing from %s", refs[i].path, OBIA_TEST_DATA);
        uint8_t *out = decode_corpus_frame(&cf, refs[i].frame, refs[i].path);
        uint64_t h = fnv1a(out, frame_size(&cf.info));
        if (h != refs[i].fnv)
            fail_msg("%s frame %u: FNV-1a %016llx, pydicom's %016llx", refs[i].path,
                     refs[i].frame + 1, (unsigned long long)h,
                     (unsigned long long)refs[i].fnv);
        free(out);
        obia_file_free(cf.f);
    }
}

/* The same images in native and lossless syntaxes in the shared corpus
 * (skipped when it is absent): every frame must equal the native one. */
static void test_corpus_pairs(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"gh-cornerstone3D/CTImage.dcm_JPEGProcess14SV1TransferSyntax_1.2.840.10008.1.2.4.70.dcm",
         "gh-cornerstone3D/CTImage.dcm_LittleEndianImplicitTransferSyntax_1.2.840.10008.1.2.dcm"},
        {"gh-cornerstone3D/CTImage.dcm_JPEGProcess14TransferSyntax_1.2.840.10008.1.2.4.57.dcm",
         "gh-cornerstone3D/CTImage.dcm_LittleEndianImplicitTransferSyntax_1.2.840.10008.1.2.dcm"},
        {"gh-cornerstone3D/CTImage.dcm_RLELosslessTransferSyntax_1.2.840.10008.1.2.5.dcm",
         "gh-cornerstone3D/CTImage.dcm_LittleEndianImplicitTransferSyntax_1.2.840.10008.1.2.dcm"},
        {"gh-cornerstone3D/TestPattern_JPEG-Lossless_RGB.dcm", "gh-cornerstone3D/TestPattern_RGB.dcm"},
        {"gh-dcm_qa_ts/4.dcm", "gh-dcm_qa_ts/1.dcm"},
        {"gh-dcm_qa_ts/5.dcm", "gh-dcm_qa_ts/1.dcm"},
        {"gh-dcm_qa_ts/6.dcm", "gh-dcm_qa_ts/1.dcm"},
        {"deb-python3-pydicom/test_files/MR_small_RLE.dcm", "deb-python3-pydicom/test_files/MR_small.dcm"},
        {"deb-python3-pydicom/test_files/SC_rgb_rle.dcm", "gh-pydicom-data/SC_rgb.dcm"},
        {"deb-python3-pydicom/test_files/SC_rgb_rle_2frame.dcm", "gh-pydicom-data/SC_rgb_2frame.dcm"},
        {"deb-python3-pydicom/test_files/SC_rgb_rle_16bit.dcm", "gh-pydicom-data/SC_rgb_16bit.dcm"},
        {"deb-python3-pydicom/test_files/rtdose_rle.dcm", "deb-python3-pydicom/test_files/rtdose.dcm"},
        {"gh-pydicom-data/emri_small_RLE.dcm", "gh-pydicom-data/emri_small.dcm"},
        {"gh-pydicom-data/liver_rle.dcm", "gh-pydicom-data/liver.dcm"},
        {"gh-pydicom-data/liver_nonbyte_aligned_rle.dcm", "gh-pydicom-data/liver_nonbyte_aligned.dcm"},
    };
    size_t compared = 0;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        corpus_file enc, nat;
        if (!open_corpus(OBIA_SHARED_TESTDATA, pairs[i][0], &enc))
            continue;
        assert_true(open_corpus(OBIA_SHARED_TESTDATA, pairs[i][1], &nat));
        assert_int_equal(enc.info.frames, nat.info.frames);
        for (uint32_t fr = 0; fr < enc.info.frames; fr++) {
            uint8_t *a = decode_corpus_frame(&enc, fr, pairs[i][0]);
            uint8_t *b = native_frame(&nat, fr);
            if (memcmp(a, b, frame_size(&enc.info)) != 0)
                fail_msg("%s frame %u differs from %s", pairs[i][0], fr + 1, pairs[i][1]);
            free(a);
            free(b);
            compared++;
        }
        obia_file_free(enc.f);
        obia_file_free(nat.f);
    }
    if (compared == 0)
        skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rle_8bit),
        cmocka_unit_test(test_rle_16bit_and_colour),
        cmocka_unit_test(test_rle_hostile),
        cmocka_unit_test(test_jpeg_predictors),
        cmocka_unit_test(test_jpeg_precisions),
        cmocka_unit_test(test_jpeg_structure),
        cmocka_unit_test(test_jpeg_ssss16),
        cmocka_unit_test(test_jpeg_hostile),
        cmocka_unit_test(test_corpus_files),
        cmocka_unit_test(test_corpus_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
