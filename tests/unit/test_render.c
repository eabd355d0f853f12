/* Unit tests of rendering (lib/pixel/render.c) and of the image encoders
 * and contact sheets (lib/pixel/image.c): each step of the grey pipeline on
 * small frames and datasets made here, with values computed by hand from
 * the formulas of PS3.3 C.11; colour (RGB, YBR, palettes, segmented
 * palettes); area averaging; PNG and JPEG read back with libspng and
 * libjpeg; contact sheets; and hostile attributes. Frames are made by hand
 * (or from the native Pixel Data of files in tests/data), so these tests do
 * not depend on the decoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/dicom.h"
#include "obia/pixel.h"

#include <jpeglib.h>
#include <math.h>
#include <spng.h>
#include <stdio.h>
#include <zlib.h>
#include <stdlib.h>
#include <string.h>

#define T(g, e) OBIA_TAG(0x##g, 0x##e)

/* ---- datasets and frames made here ------------------------------------------------------ */

static obia_dataset *dataset(const char *photometric)
{
    obia_dataset *ds = obia_dataset_new();
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_string(ds, T(0008, 0016), OBIA_VR_UI, "1.2.840.10008.5.1.4.1.1.7", &err));
    assert_true(obia_dataset_set_string(ds, T(0008, 0018), OBIA_VR_UI, "1.2.3.4.5", &err));
    assert_true(obia_dataset_set_string(ds, T(0028, 0004), OBIA_VR_CS, photometric, &err));
    return ds;
}

static void set_str(obia_dataset *ds, uint32_t tag, const char *v)
{
    obia_error err;
    obia_error_clear(&err);
    if (!obia_dataset_set_string(ds, tag, OBIA_VR_NONE, v, &err))
        fail_msg("set %08x: %s", tag, err.message);
}

static void set_us(obia_dataset *ds, uint32_t tag, obia_vr vr, int v)
{
    obia_error err;
    obia_error_clear(&err);
    if (!obia_dataset_set_int(ds, tag, vr, v, &err))
        fail_msg("set %08x: %s", tag, err.message);
}

static void set_desc(obia_dataset *ds, uint32_t tag, obia_vr vr, int n, int first, int bits)
{
    uint8_t b[6];
    obia_wr16le(b, (uint16_t)n);
    obia_wr16le(b + 2, (uint16_t)(int16_t)first);
    obia_wr16le(b + 4, (uint16_t)bits);
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_bytes(ds, tag, vr, b, 6, &err));
}

static void set_words(obia_dataset *ds, uint32_t tag, const uint16_t *w, size_t n)
{
    uint8_t *b = malloc(2 * n + 2);
    for (size_t i = 0; i < n; i++)
        obia_wr16le(b + 2 * i, w[i]);
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_bytes(ds, tag, OBIA_VR_OW, b, 2 * n, &err));
    free(b);
}

static void set_octets(obia_dataset *ds, uint32_t tag, const uint8_t *v, size_t n)
{
    obia_error err;
    obia_error_clear(&err);
    uint8_t *b = calloc(1, n + 1);
    memcpy(b, v, n);
    assert_true(obia_dataset_set_bytes(ds, tag, OBIA_VR_OW, b, n + (n & 1), &err));   /* even */
    free(b);
}

/* ds written as Part 10 and read back (values copied): what obia_render takes. */
static obia_file *as_file(obia_dataset *ds)
{
    obia_buf out;
    obia_buf_init(&out, 64u << 20);
    obia_error err;
    obia_error_clear(&err);
    if (!obia_write_part10(ds, NULL, NULL, OBIA_WRITE_EXPLICIT_LE, obia_sink_buf, &out, &err))
        fail_msg("write: %s", err.message);
    obia_read_options opt;
    obia_read_options_init(&opt);
    opt.copy_values = true;
    obia_file *f = obia_file_parse(out.data, out.len, &opt, &err);
    if (!f)
        fail_msg("parse: %s", err.message);
    obia_buf_free(&out);
    obia_dataset_free(ds);
    return f;
}

static obia_frame frame(uint32_t w, uint32_t h, uint16_t samples, uint16_t bps, uint16_t bits,
                        bool is_signed, const char *photometric)
{
    obia_frame fr;
    memset(&fr, 0, sizeof fr);
    fr.columns = w;
    fr.rows = h;
    fr.samples = samples;
    fr.bytes_per_sample = bps;
    fr.bits_stored = bits;
    fr.is_signed = is_signed;
    snprintf(fr.photometric, sizeof fr.photometric, "%s", photometric);
    fr.len = (size_t)w * h * samples * bps;
    fr.data = calloc(1, fr.len);
    return fr;
}

static void put16(obia_frame *fr, size_t i, int v)
{
    obia_wr16le(fr->data + 2 * i, (uint16_t)v);
}

static obia_image render_ok(const obia_file *f, const obia_frame *fr, const obia_render_options *opt)
{
    obia_image im;
    obia_error err;
    obia_error_clear(&err);
    if (!obia_render(f, fr, opt, &im, &err))
        fail_msg("render: %s", err.message);
    return im;
}

static obia_status render_fails(const obia_file *f, const obia_frame *fr,
                                const obia_render_options *opt, const char *words)
{
    obia_image im;
    obia_error err;
    obia_error_clear(&err);
    if (obia_render(f, fr, opt, &im, &err))
        fail_msg("rendered, expected an error about \"%s\"", words);
    assert_null(im.data);
    if (words && !strstr(err.message, words))
        fail_msg("error \"%s\" does not say \"%s\"", err.message, words);
    return err.code;
}

static unsigned px16(const obia_image *im, size_t i)
{
    assert_int_equal(im->depth, 16);
    return obia_rd16le(im->data + 2 * i);
}

/* Options: no resizing, 16-bit output, so every pipeline value is seen. */
static obia_render_options exact(void)
{
    obia_render_options opt;
    obia_render_options_init(&opt);
    opt.size = 0;
    opt.bits16 = true;
    return opt;
}

static unsigned scale(double y)
{
    return (unsigned)((y < 0 ? 0 : y > 1 ? 1 : y) * 65535.0 + 0.5);
}

/* ---- the grey pipeline -------------------------------------------------------------------- */

static void test_options(void **state)
{
    (void)state;
    obia_render_options opt;
    memset(&opt, 0xAB, sizeof opt);
    obia_render_options_init(&opt);
    assert_int_equal(opt.size, 256);
    assert_false(opt.window);
    assert_int_equal(opt.voi_index, 0);
    assert_false(opt.bits16);
}

/* A 1-row frame of 16-bit values. */
static obia_frame row16(const int *v, size_t n, uint16_t bits, bool is_signed)
{
    obia_frame fr = frame((uint32_t)n, 1, 1, 2, bits, is_signed, "MONOCHROME2");
    for (size_t i = 0; i < n; i++)
        put16(&fr, i, v[i]);
    return fr;
}

/* PS3.3 C.11.2.1.2.1: center 100, width 51 -> 0 up to 74.5, 1 above 124.5,
 * else ((x - 99.5) / 50 + 0.5). Rescale 2x - 100 before it. */
static void test_window_linear(void **state)
{
    (void)state;
    obia_dataset *ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1050), "100");
    set_str(ds, T(0028, 1051), "51");
    set_str(ds, T(0028, 1052), "-100");
    set_str(ds, T(0028, 1053), "2");
    obia_file *f = as_file(ds);
    /* stored s -> modality 2s - 100: 74.5 is s 87.25; 124.5 is s 112.25 */
    int s[] = {0, 87, 88, 100, 112, 113, 1000};
    obia_frame fr = row16(s, 7, 16, false);
    obia_render_options opt = exact();
    obia_image im = render_ok(f, &fr, &opt);
    assert_int_equal(im.width, 7);
    assert_int_equal(im.height, 1);
    assert_int_equal(im.channels, 1);
    assert_int_equal(px16(&im, 0), 0);
    assert_int_equal(px16(&im, 1), 0);                               /* 74 */
    assert_int_equal(px16(&im, 2), scale((76 - 99.5) / 50 + 0.5));   /* 76 */
    assert_int_equal(px16(&im, 3), scale((100 - 99.5) / 50 + 0.5));  /* 100: 0.51 */
    assert_int_equal(px16(&im, 4), scale((124 - 99.5) / 50 + 0.5));  /* 124 */
    assert_int_equal(px16(&im, 5), 65535);                           /* 126 */
    assert_int_equal(px16(&im, 6), 65535);
    obia_image_free(&im);
    assert_null(im.data);

    /* 8 bits: 0.51 * 255 = 130.05 */
    opt.bits16 = false;
    im = render_ok(f, &fr, &opt);
    assert_int_equal(im.depth, 8);
    assert_int_equal(im.data[3], 130);
    obia_image_free(&im);

    /* a window given replaces the file's: center 0 width 101 on 2s - 100 */
    opt = exact();
    opt.window = true;
    opt.center = 80;
    opt.width = 101;   /* 29.5 .. 129.5 */
    im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 1), scale((74 - 79.5) / 100 + 0.5));
    assert_int_equal(px16(&im, 3), scale((100 - 79.5) / 100 + 0.5));
    assert_int_equal(px16(&im, 0), 0);
    obia_image_free(&im);

    /* a width below 1 given is refused */
    opt.width = 0.5;
    assert_int_equal(render_fails(f, &fr, &opt, "width"), OBIA_E_ARG);
    opt.width = NAN;
    assert_int_equal(render_fails(f, &fr, &opt, "width"), OBIA_E_ARG);
    free(fr.data);
    obia_file_free(f);
}

/* C.11.2.1.3.2 LINEAR_EXACT and C.11.2.1.3.1 SIGMOID, center 100 width 50. */
static void test_window_functions(void **state)
{
    (void)state;
    int s[] = {70, 75, 76, 80, 100, 125, 126};
    obia_frame fr = row16(s, 7, 16, false);
    obia_render_options opt = exact();

    obia_dataset *ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1050), "100");
    set_str(ds, T(0028, 1051), "50");
    set_str(ds, T(0028, 1056), "LINEAR_EXACT");
    obia_file *f = as_file(ds);
    obia_image im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 0), 0);
    assert_int_equal(px16(&im, 1), 0);                       /* <= c - w/2 */
    assert_int_equal(px16(&im, 2), scale(0.02));             /* (76-100)/50 + .5 */
    assert_int_equal(px16(&im, 3), scale(0.1));              /* 6554 */
    assert_int_equal(px16(&im, 3), 6554);
    assert_int_equal(px16(&im, 4), 32768);                   /* 0.5 */
    assert_int_equal(px16(&im, 5), 65535);
    assert_int_equal(px16(&im, 6), 65535);
    obia_image_free(&im);
    obia_file_free(f);

    ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1050), "100");
    set_str(ds, T(0028, 1051), "50");
    set_str(ds, T(0028, 1056), "SIGMOID");
    f = as_file(ds);
    im = render_ok(f, &fr, &opt);
    for (int i = 0; i < 7; i++)
        assert_int_equal(px16(&im, (size_t)i), scale(1 / (1 + exp(-4 * (s[i] - 100) / 50.0))));
    assert_int_equal(px16(&im, 4), 32768);
    assert_int_equal(px16(&im, 5), 57723);                   /* 1 / (1 + e^-2) */
    obia_image_free(&im);
    obia_file_free(f);
    free(fr.data);
}

/* Every stored value of 12 bits through rescale and LINEAR windows of many
 * shapes (the table is filled by a faster route for straight lines): within
 * one 16-bit step of the formula, ties aside. */
static void test_window_all_values(void **state)
{
    (void)state;
    static const double params[][4] = {   /* center, width, slope, intercept */
        {0, 4097, 1, 0},      {-1000, 1, 1, 0},   {40, 400, 1, -1024}, {1e6, 2e6, -3, 7},
        {0.25, 2.5, 0.001, 0}, {300, 1000, 1, 0},  {-5, 10, 2, 1},      {2047, 1, 1, 0},
    };
    obia_frame fr[2];
    for (int sgn = 0; sgn < 2; sgn++) {
        fr[sgn] = frame(64, 64, 1, 2, 12, sgn == 1, "MONOCHROME2");
        for (int i = 0; i < 4096; i++)
            put16(&fr[sgn], (size_t)i, i);
    }
    for (size_t k = 0; k < sizeof params / sizeof *params; k++) {
        for (int inv = 0; inv < 2; inv++) {
            obia_dataset *ds = dataset(inv ? "MONOCHROME1" : "MONOCHROME2");
            char v[4][64];
            for (int j = 0; j < 4; j++)
                snprintf(v[j], sizeof v[j], "%.10g", params[k][j]);
            set_str(ds, T(0028, 1050), v[0]);
            set_str(ds, T(0028, 1051), v[1]);
            set_str(ds, T(0028, 1053), v[2]);
            set_str(ds, T(0028, 1052), v[3]);
            obia_file *f = as_file(ds);
            for (int sgn = 0; sgn < 2; sgn++) {
                obia_render_options opt = exact();
                snprintf(fr[sgn].photometric, sizeof fr[sgn].photometric, "%s",
                         inv ? "MONOCHROME1" : "MONOCHROME2");
                obia_image im = render_ok(f, &fr[sgn], &opt);
                double c = params[k][0] - 0.5, w = params[k][1] - 1;
                for (int i = 0; i < 4096; i++) {
                    double sv = sgn && i >= 2048 ? i - 4096 : i;
                    double x = sv * params[k][2] + params[k][3];
                    double y = x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5;
                    long e = (long)scale(inv ? 1 - y : y), got = (long)px16(&im, (size_t)i);
                    if (labs(e - got) > 1)
                        fail_msg("window %g/%g rescale %g,%g %s%s: value %g gives %ld, not %ld",
                                 params[k][0], params[k][1], params[k][2], params[k][3],
                                 sgn ? "signed" : "unsigned", inv ? " inverted" : "", sv, got, e);
                }
                obia_image_free(&im);
            }
            obia_file_free(f);
        }
    }
    free(fr[0].data);
    free(fr[1].data);
}

/* Multiple windows: voi_index picks one; one too many is an error. */
static void test_window_index(void **state)
{
    (void)state;
    obia_dataset *ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1050), "100\\1000");
    set_str(ds, T(0028, 1051), "51\\2001");
    obia_file *f = as_file(ds);
    int s[] = {100, 1000};
    obia_frame fr = row16(s, 2, 16, false);
    obia_render_options opt = exact();
    obia_image im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 0), scale(0.51));
    assert_int_equal(px16(&im, 1), 65535);
    obia_image_free(&im);
    opt.voi_index = 1;
    im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 0), scale((100 - 999.5) / 2000 + 0.5));
    obia_image_free(&im);
    opt.voi_index = 2;
    assert_int_equal(render_fails(f, &fr, &opt, "2 windows"), OBIA_E_ARG);
    free(fr.data);
    obia_file_free(f);
}

/* Stored values with other bits above Bits Stored: masked, then signed. */
static void test_mask_and_sign(void **state)
{
    (void)state;
    obia_dataset *ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1050), "0");
    set_str(ds, T(0028, 1051), "4097");   /* -2048.5 .. 2047.5 */
    obia_file *f = as_file(ds);
    /* 12 bits signed: 0x5FFF is -1, 0xA800 is -2048, 0x37FF is 2047, 0x0001 is 1 */
    int s[] = {0x5FFF, 0xA800, 0x37FF, 0x0001, 0xF000};
    obia_frame fr = row16(s, 5, 12, true);
    obia_render_options opt = exact();
    obia_image im = render_ok(f, &fr, &opt);
    double c = -0.5, w = 4096;
    assert_int_equal(px16(&im, 0), scale((-1 - c) / w + 0.5));
    assert_int_equal(px16(&im, 1), scale((-2048 - c) / w + 0.5));
    assert_int_equal(px16(&im, 2), scale((2047 - c) / w + 0.5));
    assert_int_equal(px16(&im, 3), scale((1 - c) / w + 0.5));
    assert_int_equal(px16(&im, 4), scale((0 - c) / w + 0.5));
    obia_image_free(&im);
    free(fr.data);

    /* the same bits unsigned: 0x5FFF is 4095 */
    fr = row16(s, 5, 12, false);
    im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 0), 65535);
    assert_int_equal(px16(&im, 3), scale((1 - c) / w + 0.5));
    obia_image_free(&im);
    free(fr.data);

    /* 8-bit samples, 7 bits stored */
    obia_frame f8 = frame(2, 1, 1, 1, 7, false, "MONOCHROME2");
    f8.data[0] = 0x80 | 5;
    f8.data[1] = 5;
    im = render_ok(f, &f8, &opt);
    assert_int_equal(px16(&im, 0), px16(&im, 1));
    obia_image_free(&im);
    free(f8.data);
    obia_file_free(f);
}

/* MONOCHROME1 inverts; Presentation LUT Shape INVERSE too; the two together
 * are one inversion (PS3.3 C.8.11.6.1.2); IDENTITY changes nothing. */
static void test_polarity(void **state)
{
    (void)state;
    static const struct {
        const char *pi, *shape;
        bool inverted;
    } cases[] = {{"MONOCHROME2", NULL, false},      {"MONOCHROME1", NULL, true},
                 {"MONOCHROME2", "INVERSE", true},  {"MONOCHROME1", "INVERSE", true},
                 {"MONOCHROME2", "IDENTITY", false}};
    int s[] = {0, 30, 100};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        obia_dataset *ds = dataset(cases[i].pi);
        set_str(ds, T(0028, 1050), "50.5");
        set_str(ds, T(0028, 1051), "101");
        if (cases[i].shape)
            set_str(ds, T(2050, 0020), cases[i].shape);
        obia_file *f = as_file(ds);
        obia_frame fr = row16(s, 3, 16, false);
        snprintf(fr.photometric, sizeof fr.photometric, "%s", cases[i].pi);
        obia_render_options opt = exact();
        obia_image im = render_ok(f, &fr, &opt);
        assert_int_equal(px16(&im, 0), cases[i].inverted ? 65535 : 0);
        assert_int_equal(px16(&im, 1), scale(cases[i].inverted ? 0.7 : 0.3));
        assert_int_equal(px16(&im, 2), cases[i].inverted ? 0 : 65535);
        obia_image_free(&im);
        free(fr.data);
        obia_file_free(f);
    }
}

/* Modality LUT Sequence: descriptor (entries, first mapped, bits), data of
 * 16-bit words, or 8-bit entries in bytes; the window applies to its output. */
static void test_modality_lut(void **state)
{
    (void)state;
    obia_dataset *ds = dataset("MONOCHROME2");
    obia_error err;
    obia_error_clear(&err);
    set_us(ds, T(0028, 0103), OBIA_VR_US, 1);
    obia_dataset *item = obia_dataset_add_item(ds, T(0028, 3000), &err);
    assert_non_null(item);
    set_desc(item, T(0028, 3002), OBIA_VR_SS, 4, -2, 16);
    uint16_t data[] = {0, 1000, 2000, 3000};
    set_words(item, T(0028, 3006), data, 4);
    set_str(ds, T(0028, 1050), "1500");
    set_str(ds, T(0028, 1051), "3001");   /* 0 at <= -1.0, linear to 3000 */
    /* rescale is ignored when the LUT is there */
    set_str(ds, T(0028, 1052), "-5000");
    set_str(ds, T(0028, 1053), "7");
    obia_file *f = as_file(ds);
    int s[] = {-3, -2, -1, 0, 1, 9};
    obia_frame fr = row16(s, 6, 16, true);
    obia_render_options opt = exact();
    obia_image im = render_ok(f, &fr, &opt);
    unsigned expect[] = {0, 0, 1000, 2000, 3000, 3000};
    for (int i = 0; i < 6; i++)
        assert_int_equal(px16(&im, (size_t)i), scale((expect[i] - 1499.5) / 3000 + 0.5));
    obia_image_free(&im);
    obia_file_free(f);

    /* 8-bit entries packed in bytes */
    ds = dataset("MONOCHROME2");
    item = obia_dataset_add_item(ds, T(0028, 3000), &err);
    set_desc(item, T(0028, 3002), OBIA_VR_US, 4, 0, 8);
    uint8_t bytes[] = {10, 20, 30, 40};
    set_octets(item, T(0028, 3006), bytes, 4);
    set_str(ds, T(0028, 1050), "25.5");
    set_str(ds, T(0028, 1051), "31");   /* 10.5 .. 40.5 */
    f = as_file(ds);
    int u[] = {0, 1, 2, 3};
    obia_frame fu = row16(u, 4, 16, false);
    im = render_ok(f, &fu, &opt);
    assert_int_equal(px16(&im, 0), 0);
    assert_int_equal(px16(&im, 1), scale((20 - 25) / 30.0 + 0.5));
    assert_int_equal(px16(&im, 3), 65535);
    obia_image_free(&im);
    free(fu.data);
    free(fr.data);
    obia_file_free(f);
}

/* VOI LUT Sequence (no window): entries scaled by their bit depth. */
static void test_voi_lut(void **state)
{
    (void)state;
    obia_dataset *ds = dataset("MONOCHROME2");
    obia_error err;
    obia_error_clear(&err);
    obia_dataset *item = obia_dataset_add_item(ds, T(0028, 3010), &err);
    set_desc(item, T(0028, 3002), OBIA_VR_US, 3, 10, 12);
    uint16_t lut1[] = {0, 1000, 4095};
    set_words(item, T(0028, 3006), lut1, 3);
    item = obia_dataset_add_item(ds, T(0028, 3010), &err);
    set_desc(item, T(0028, 3002), OBIA_VR_US, 2, 0, 8);
    uint8_t lut2[] = {255, 0};
    set_octets(item, T(0028, 3006), lut2, 2);
    obia_file *f = as_file(ds);
    int s[] = {0, 10, 11, 12, 50};
    obia_frame fr = row16(s, 5, 16, false);
    obia_render_options opt = exact();
    obia_image im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 0), 0);
    assert_int_equal(px16(&im, 1), 0);
    assert_int_equal(px16(&im, 2), scale(1000 / 4095.0));
    assert_int_equal(px16(&im, 3), 65535);
    assert_int_equal(px16(&im, 4), 65535);
    obia_image_free(&im);
    opt.voi_index = 1;
    im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 0), 65535);
    assert_int_equal(px16(&im, 1), 0);
    obia_image_free(&im);
    opt.voi_index = 2;
    assert_int_equal(render_fails(f, &fr, &opt, "2 VOI LUTs"), OBIA_E_ARG);
    free(fr.data);
    obia_file_free(f);
}

/* Without a window: the 0.5th and 99.5th percentiles of the modality values
 * (numpy's 'lower' and 'higher' ranks) become black and white. */
static void test_auto_window(void **state)
{
    (void)state;
    obia_frame fr = frame(100, 10, 1, 2, 16, false, "MONOCHROME2");
    for (int i = 0; i < 1000; i++)
        put16(&fr, (size_t)i, i);   /* ranks 4 and ceil(994.005) = 995 */
    obia_dataset *ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1052), "-1000");
    set_str(ds, T(0028, 1053), "1");
    obia_file *f = as_file(ds);
    obia_render_options opt = exact();
    obia_image im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 4), 0);
    assert_int_equal(px16(&im, 995), 65535);
    assert_int_equal(px16(&im, 500), scale((500 - 4) / 991.0));
    obia_image_free(&im);
    obia_file_free(f);

    /* Pixel Padding Value and Range Limit are left out of the histogram */
    for (int i = 0; i < 100; i++)
        put16(&fr, (size_t)i, 60000 + i % 3);
    ds = dataset("MONOCHROME2");
    set_us(ds, T(0028, 0120), OBIA_VR_US, 60000);
    set_us(ds, T(0028, 0121), OBIA_VR_US, 60002);
    f = as_file(ds);
    im = render_ok(f, &fr, &opt);
    /* 900 values 100..999: ranks 4 and 895 -> 104 and 995 */
    assert_int_equal(px16(&im, 104), 0);
    assert_int_equal(px16(&im, 995), 65535);
    assert_int_equal(px16(&im, 0), 65535);   /* padding is still shown, here white */
    obia_image_free(&im);
    obia_file_free(f);
    free(fr.data);

    /* a small mask: the percentiles meet, so the whole range is used */
    fr = frame(100, 10, 1, 1, 1, false, "MONOCHROME2");
    fr.data[7] = 1;
    im = render_ok(NULL, &fr, &opt);
    assert_int_equal(px16(&im, 7), 65535);
    assert_int_equal(px16(&im, 8), 0);
    obia_image_free(&im);
    /* a constant image is black */
    fr.data[7] = 0;
    im = render_ok(NULL, &fr, &opt);
    assert_int_equal(px16(&im, 7), 0);
    obia_image_free(&im);
    free(fr.data);

    /* signed values, a decreasing rescale: the percentiles of modality values */
    fr = frame(100, 10, 1, 2, 16, true, "MONOCHROME2");
    for (int i = 0; i < 1000; i++)
        put16(&fr, (size_t)i, i - 500);
    ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1052), "0");
    set_str(ds, T(0028, 1053), "-1");
    f = as_file(ds);
    im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 4), 65535);    /* stored -496: modality 496, the high end */
    assert_int_equal(px16(&im, 995), 0);
    obia_image_free(&im);
    obia_file_free(f);
    free(fr.data);
}

static void put_float(obia_frame *fr, size_t i, float v)
{
    uint32_t r;
    memcpy(&r, &v, 4);
    obia_wr32le(fr->data + 4 * i, r);
}

/* Float Pixel Data: no rescale; the file's LINEAR window is exact on
 * continuous values; NaN is black; automatic window without NaN/inf. */
static void test_float(void **state)
{
    (void)state;
    obia_frame fr = frame(5, 1, 1, 4, 32, false, "MONOCHROME2");
    fr.is_float = true;
    float v[] = {0.25f, 0.5f, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 5; i++)
        put_float(&fr, (size_t)i, v[i]);
    obia_dataset *ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1050), "0.5");
    set_str(ds, T(0028, 1051), "1");
    set_str(ds, T(0028, 1052), "100");   /* not for floats */
    obia_file *f = as_file(ds);
    obia_render_options opt = exact();
    obia_image im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 0), scale(0.25));
    assert_int_equal(px16(&im, 1), 32768);
    assert_int_equal(px16(&im, 2), 0);
    assert_int_equal(px16(&im, 3), 65535);
    assert_int_equal(px16(&im, 4), 0);
    obia_image_free(&im);
    obia_file_free(f);

    /* automatic: 3 finite values -> ranks 0 and 2 */
    im = render_ok(NULL, &fr, &opt);
    assert_int_equal(px16(&im, 0), 0);
    assert_int_equal(px16(&im, 1), 65535);
    assert_int_equal(px16(&im, 2), 0);
    obia_image_free(&im);
    free(fr.data);

    /* doubles, and 32-bit integers (per pixel, no table) */
    fr = frame(3, 1, 1, 8, 64, false, "MONOCHROME2");
    fr.is_float = true;
    double d[] = {-1.0, 0.0, 1.0};
    for (int i = 0; i < 3; i++) {
        uint64_t r;
        memcpy(&r, &d[i], 8);
        obia_wr32le(fr.data + 8 * i, (uint32_t)r);
        obia_wr32le(fr.data + 8 * i + 4, (uint32_t)(r >> 32));
    }
    im = render_ok(NULL, &fr, &opt);
    assert_int_equal(px16(&im, 0), 0);
    assert_int_equal(px16(&im, 1), 32768);
    assert_int_equal(px16(&im, 2), 65535);
    obia_image_free(&im);
    free(fr.data);

    fr = frame(3, 1, 1, 4, 32, true, "MONOCHROME2");
    obia_wr32le(fr.data, (uint32_t)-100000);
    obia_wr32le(fr.data + 4, 0);
    obia_wr32le(fr.data + 8, 100000);
    ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1050), "0");
    set_str(ds, T(0028, 1051), "100001");   /* -50000.5 .. 49999.5 */
    set_str(ds, T(0028, 1052), "0");
    set_str(ds, T(0028, 1053), "0.5");
    f = as_file(ds);
    im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 0), 0);
    assert_int_equal(px16(&im, 1), scale(0.5 / 100000 + 0.5));
    assert_int_equal(px16(&im, 2), 65535);
    obia_image_free(&im);
    obia_file_free(f);
    free(fr.data);
}

/* ---- colour ------------------------------------------------------------------------------------ */

static void test_rgb(void **state)
{
    (void)state;
    obia_frame fr = frame(2, 1, 3, 1, 8, false, "RGB");
    uint8_t v[] = {1, 2, 3, 250, 128, 0};
    memcpy(fr.data, v, 6);
    obia_render_options opt = exact();   /* bits16 does not apply to colour */
    obia_image im = render_ok(NULL, &fr, &opt);
    assert_int_equal(im.channels, 3);
    assert_int_equal(im.depth, 8);
    assert_memory_equal(im.data, v, 6);
    obia_image_free(&im);
    free(fr.data);

    /* 12 of 16 bits: scaled down to 8 */
    fr = frame(1, 1, 3, 2, 12, false, "RGB");
    put16(&fr, 0, 4095);
    put16(&fr, 1, 2048 | 0xF000);   /* garbage above bit 11 */
    put16(&fr, 2, 0);
    im = render_ok(NULL, &fr, &opt);
    assert_int_equal(im.data[0], 255);
    assert_int_equal(im.data[1], 128);   /* 2048 * 255 / 4095 = 127.53 */
    assert_int_equal(im.data[2], 0);
    obia_image_free(&im);
    free(fr.data);
}

/* YBR_FULL to RGB with PS3.3 C.7.6.3.1.2's inverse, rounded. */
static void test_ybr(void **state)
{
    (void)state;
    static const uint8_t ybr[][3] = {{128, 128, 128}, {76, 85, 255}, {0, 128, 128}, {255, 0, 0}};
    obia_frame fr = frame(4, 1, 3, 1, 8, false, "YBR_FULL");
    memcpy(fr.data, ybr, sizeof ybr);
    obia_render_options opt = exact();
    for (int k = 0; k < 2; k++) {
        snprintf(fr.photometric, sizeof fr.photometric, "%s", k ? "YBR_FULL_422" : "YBR_FULL");
        obia_image im = render_ok(NULL, &fr, &opt);
        for (int i = 0; i < 4; i++) {
            double y = ybr[i][0], cb = ybr[i][1] - 128.0, cr = ybr[i][2] - 128.0;
            double rgb[3] = {y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb};
            for (int c = 0; c < 3; c++) {
                double e = floor(rgb[c] + 0.5);
                e = e < 0 ? 0 : e > 255 ? 255 : e;
                assert_int_equal(im.data[3 * i + c], (int)e);
            }
        }
        assert_int_equal(im.data[3], 254);   /* red */
        assert_int_equal(im.data[4], 0);
        assert_int_equal(im.data[5], 0);
        obia_image_free(&im);
    }
    snprintf(fr.photometric, sizeof fr.photometric, "CMYK");
    assert_int_equal(render_fails(NULL, &fr, &opt, "CMYK"), OBIA_E_UNSUPPORTED);
    free(fr.data);
}

/* A palette of three colours, each channel its own descriptor. */
static obia_dataset *palette_dataset(int n, int first, int bits, const void *r, const void *g,
                                     const void *b, size_t bytes)
{
    obia_dataset *ds = dataset("PALETTE COLOR");
    const void *data[3] = {r, g, b};
    for (uint32_t c = 0; c < 3; c++) {
        set_desc(ds, T(0028, 1101) + c, first < 0 ? OBIA_VR_SS : OBIA_VR_US, n, first, bits);
        if (data[c])
            set_octets(ds, T(0028, 1201) + c, data[c], bytes);
    }
    return ds;
}

static void test_palette(void **state)
{
    (void)state;
    /* 8-bit entries in bytes, first mapped value 2 */
    uint8_t r[] = {10, 20, 30, 40}, g[] = {1, 2, 3, 4}, b[] = {200, 150, 100, 50};
    obia_file *f = as_file(palette_dataset(4, 2, 8, r, g, b, 4));
    obia_frame fr = frame(5, 1, 1, 1, 8, false, "PALETTE COLOR");
    uint8_t s[] = {0, 2, 3, 5, 255};
    memcpy(fr.data, s, 5);
    obia_render_options opt = exact();
    obia_image im = render_ok(f, &fr, &opt);
    assert_int_equal(im.channels, 3);
    uint8_t expect[] = {10, 1, 200, 10, 1, 200, 20, 2, 150, 40, 4, 50, 40, 4, 50};
    assert_memory_equal(im.data, expect, 15);
    obia_image_free(&im);
    obia_file_free(f);

    /* 16-bit entries: the high byte; signed first mapped value */
    uint8_t r16[8], g16[8], b16[8];
    uint16_t w[] = {0x0000, 0x12FF, 0xFF00, 0xFFFF};
    for (int i = 0; i < 4; i++) {
        obia_wr16le(r16 + 2 * i, w[i]);
        obia_wr16le(g16 + 2 * i, w[3 - i]);
        obia_wr16le(b16 + 2 * i, 0x8000);
    }
    f = as_file(palette_dataset(4, -2, 16, r16, g16, b16, 8));
    obia_frame fs = frame(4, 1, 1, 2, 16, true, "PALETTE COLOR");
    int sv[] = {-2, -1, 0, 1};
    for (int i = 0; i < 4; i++)
        put16(&fs, (size_t)i, sv[i]);
    im = render_ok(f, &fs, &opt);
    uint8_t e16[] = {0x00, 0xFF, 0x80, 0x12, 0xFF, 0x80, 0xFF, 0x12, 0x80, 0xFF, 0x00, 0x80};
    assert_memory_equal(im.data, e16, 12);
    obia_image_free(&im);
    obia_file_free(f);
    free(fs.data);

    /* 8-bit entries in 16-bit words (values below 256) */
    uint8_t rw[8] = {10, 0, 20, 0, 30, 0, 40, 0};
    f = as_file(palette_dataset(4, 0, 8, rw, rw, rw, 8));
    im = render_ok(f, &fr, &opt);
    assert_int_equal(im.data[0], 10);
    assert_int_equal(im.data[3 * 1], 30);
    assert_int_equal(im.data[3 * 2], 40);
    obia_image_free(&im);
    obia_file_free(f);
    free(fr.data);
}

/* Segmented palettes (PS3.3 C.7.9.2): discrete, linear and indirect
 * segments, in bytes for 8-bit entries and words for 16-bit ones; the
 * indirect segment's offset counts bytes. */
static void test_segmented_palette(void **state)
{
    (void)state;
    obia_render_options opt = exact();
    obia_frame fr = frame(9, 1, 1, 1, 8, false, "PALETTE COLOR");
    for (int i = 0; i < 9; i++)
        fr.data[i] = (uint8_t)i;

    /* 8-bit: discrete 10,20; linear to 60 over 4 (30 40 50 60); indirect:
     * 1 segment from byte 0 (10 20) */
    uint8_t seg8[] = {0, 2, 10, 20, 1, 4, 60, 2, 1, 0, 0, 0, 0};
    obia_dataset *ds = palette_dataset(8, 0, 8, NULL, NULL, NULL, 0);
    for (uint32_t c = 0; c < 3; c++)
        set_octets(ds, T(0028, 1221) + c, seg8, sizeof seg8);   /* padded to even */
    obia_file *f = as_file(ds);
    obia_image im = render_ok(f, &fr, &opt);
    uint8_t expect[] = {10, 20, 30, 40, 50, 60, 10, 20, 20};
    for (int i = 0; i < 9; i++)
        assert_int_equal(im.data[3 * i], expect[i]);
    obia_image_free(&im);
    obia_file_free(f);

    /* 16-bit words: discrete 0x1000; linear to 0x5000 over 4; indirect copy
     * of 2 segments from byte 0 */
    uint16_t seg16[] = {0, 1, 0x1000, 1, 4, 0x5000, 2, 2, 0, 0};
    ds = palette_dataset(10, 0, 16, NULL, NULL, NULL, 0);
    for (uint32_t c = 0; c < 3; c++)
        set_words(ds, T(0028, 1221) + c, seg16, 10);
    f = as_file(ds);
    im = render_ok(f, &fr, &opt);
    uint8_t e16[] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x10, 0x20, 0x30, 0x40};
    for (int i = 0; i < 9; i++)
        assert_int_equal(im.data[3 * i], e16[i]);
    obia_image_free(&im);
    obia_file_free(f);

    /* the well-known FALL shape: one value then a ramp, 256 entries */
    uint8_t fall[] = {0, 1, 255, 1, 255, 255};
    uint8_t fallb[] = {0, 1, 0, 1, 255, 0};
    ds = palette_dataset(256, 0, 8, NULL, NULL, NULL, 0);
    set_octets(ds, T(0028, 1221), fall, 6);
    set_octets(ds, T(0028, 1222), fall, 6);
    set_octets(ds, T(0028, 1223), fallb, 6);
    f = as_file(ds);
    im = render_ok(f, &fr, &opt);
    assert_int_equal(im.data[2], 0);
    assert_int_equal(im.data[3 * 1 + 2], 0);   /* 0 + (0 - 0) ... blue stays 0 */
    assert_int_equal(im.data[3 * 1], 255);
    obia_image_free(&im);
    obia_file_free(f);
    free(fr.data);
}

/* Hostile palettes and LUTs: clear errors, never out of bounds. */
static void test_hostile_luts(void **state)
{
    (void)state;
    obia_render_options opt = exact();
    obia_frame fr = frame(4, 1, 1, 1, 8, false, "PALETTE COLOR");
    fr.data[3] = 255;
    uint8_t d[8] = {1, 2, 3, 4};

    /* 0 entries means 65536: the data is far too short */
    obia_file *f = as_file(palette_dataset(0, 0, 16, d, d, d, 4));
    assert_int_equal(render_fails(f, &fr, &opt, "says 65536"), OBIA_E_FORMAT);
    obia_file_free(f);
    f = as_file(palette_dataset(65535, 0, 8, d, d, d, 4));
    assert_int_equal(render_fails(f, &fr, &opt, "holds 4 entries"), OBIA_E_FORMAT);
    obia_file_free(f);
    f = as_file(palette_dataset(4, 0, 0, d, d, d, 4));
    assert_int_equal(render_fails(f, &fr, &opt, "0 bits"), OBIA_E_FORMAT);
    obia_file_free(f);
    f = as_file(palette_dataset(4, 0, 17, d, d, d, 8));
    assert_int_equal(render_fails(f, &fr, &opt, "17 bits"), OBIA_E_FORMAT);
    obia_file_free(f);
    f = as_file(palette_dataset(4, 0, 8, d, d, NULL, 4));
    assert_int_equal(render_fails(f, &fr, &opt, "Blue"), OBIA_E_FORMAT);
    obia_file_free(f);
    obia_dataset *ds = dataset("PALETTE COLOR");
    f = as_file(ds);
    assert_int_equal(render_fails(f, &fr, &opt, "LUT Descriptor is missing"), OBIA_E_FORMAT);
    obia_file_free(f);
    assert_int_equal(render_fails(NULL, &fr, &opt, "without a palette"), OBIA_E_FORMAT);

    /* broken segments */
    static const struct {
        uint8_t seg[16];
        size_t n;
        const char *words;
    } bad[] = {
        {{1, 4, 60}, 3, "first segment is a linear"},
        {{2, 1, 0, 0, 0, 0}, 6, "first segment is an indirect"},
        {{0, 2, 10, 20, 2, 1, 4, 0, 0, 0, 2, 1, 0, 0, 0, 0}, 16, "copies another indirect"},
        {{0, 2, 10, 20, 2, 1, 200, 0, 0, 0}, 10, "offset is outside"},
        {{0, 3, 10, 20}, 4, "past the end"},
        {{0, 2, 10, 20, 1, 250, 9}, 7, "more than the 4 entries"},
        {{0, 2, 10, 20}, 4, "expand to 2 entries"},
        {{7, 2, 10, 20}, 4, "unknown segment type 7"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ds = palette_dataset(4, 0, 8, NULL, NULL, NULL, 0);
        for (uint32_t c = 0; c < 3; c++)
            set_octets(ds, T(0028, 1221) + c, bad[i].seg, bad[i].n);
        f = as_file(ds);
        assert_int_equal(render_fails(f, &fr, &opt, bad[i].words), OBIA_E_FORMAT);
        obia_file_free(f);
    }
    /* indirect segments copying empty segments over and over stay bounded:
     * 1000 empty discrete segments copied by each of 1100 indirect ones */
    size_t nw = 3 + 2 * 1000 + 4 * 1100, k = 0;
    uint16_t *loop = calloc(nw, sizeof *loop);
    loop[k++] = 0, loop[k++] = 1, loop[k++] = 5;
    k += 2 * 1000;
    for (int i = 0; i < 1100; i++)
        loop[k++] = 2, loop[k++] = 1000, loop[k++] = 6, loop[k++] = 0;
    ds = palette_dataset(0, 0, 16, NULL, NULL, NULL, 0);
    for (uint32_t c = 0; c < 3; c++)
        set_words(ds, T(0028, 1221) + c, loop, nw);
    free(loop);
    f = as_file(ds);
    assert_int_equal(render_fails(f, &fr, &opt, "too many segments"), OBIA_E_FORMAT);
    obia_file_free(f);
    free(fr.data);

    /* a broken Modality LUT is an error */
    obia_frame g = row16((int[]){1, 2}, 2, 16, false);
    obia_error err;
    obia_error_clear(&err);
    ds = dataset("MONOCHROME2");
    obia_dataset *item = obia_dataset_add_item(ds, T(0028, 3000), &err);
    set_desc(item, T(0028, 3002), OBIA_VR_US, 4096, 0, 16);
    set_words(item, T(0028, 3006), (uint16_t[]){1, 2, 3}, 3);
    f = as_file(ds);
    assert_int_equal(render_fails(f, &g, &opt, "Modality LUT Sequence: the LUT Data holds 3 entries"),
                     OBIA_E_FORMAT);
    obia_file_free(f);
    ds = dataset("MONOCHROME2");
    item = obia_dataset_add_item(ds, T(0028, 3000), &err);
    set_words(item, T(0028, 3006), (uint16_t[]){1, 2, 3}, 3);
    f = as_file(ds);
    assert_int_equal(render_fails(f, &g, &opt, "Descriptor is missing"), OBIA_E_FORMAT);
    obia_file_free(f);
    ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1052), "nan");
    f = as_file(ds);
    assert_int_equal(render_fails(f, &g, &opt, "Rescale Intercept"), OBIA_E_FORMAT);
    obia_file_free(f);

    /* a broken VOI LUT or window is skipped: the automatic window applies */
    obia_image ref = render_ok(NULL, &g, &opt);
    ds = dataset("MONOCHROME2");
    item = obia_dataset_add_item(ds, T(0028, 3010), &err);
    set_desc(item, T(0028, 3002), OBIA_VR_US, 0, 0, 16);
    set_words(item, T(0028, 3006), (uint16_t[]){1, 2, 3}, 3);
    f = as_file(ds);
    obia_image im = render_ok(f, &g, &opt);
    assert_memory_equal(im.data, ref.data, ref.len);
    obia_image_free(&im);
    obia_file_free(f);
    static const char *const widths[] = {"0", "-10", "0.5", "nan", "inf"};
    for (size_t i = 0; i < 5; i++) {
        ds = dataset("MONOCHROME2");
        set_str(ds, T(0028, 1050), "1");
        set_str(ds, T(0028, 1051), widths[i]);
        f = as_file(ds);
        im = render_ok(f, &g, &opt);
        assert_memory_equal(im.data, ref.data, ref.len);
        obia_image_free(&im);
        obia_file_free(f);
    }
    obia_image_free(&ref);
    free(g.data);
}

/* Frames that do not fit their description, or the file's. */
static void test_hostile_frames(void **state)
{
    (void)state;
    obia_render_options opt = exact();
    obia_frame fr = frame(4, 4, 1, 2, 16, false, "MONOCHROME2");
    obia_dataset *ds = dataset("MONOCHROME2");
    set_us(ds, T(0028, 0010), OBIA_VR_US, 4);
    set_us(ds, T(0028, 0011), OBIA_VR_US, 5);
    obia_file *f = as_file(ds);
    assert_int_equal(render_fails(f, &fr, &opt, "Columns x Rows 5 x 4"), OBIA_E_ARG);
    obia_file_free(f);

    fr.len -= 1;
    assert_int_equal(render_fails(NULL, &fr, &opt, "holds 31 bytes"), OBIA_E_ARG);
    fr.len += 1;
    fr.bits_stored = 17;
    assert_int_equal(render_fails(NULL, &fr, &opt, "17 bits stored"), OBIA_E_ARG);
    fr.bits_stored = 16;
    fr.samples = 2;
    assert_int_equal(render_fails(NULL, &fr, &opt, "2 samples"), OBIA_E_ARG);
    fr.samples = 3;   /* grey with 3 samples */
    fr.len = 4 * 4 * 3 * 2;
    fr.data = realloc(fr.data, fr.len);
    assert_int_equal(render_fails(NULL, &fr, &opt, "MONOCHROME2 with 3 samples"), OBIA_E_ARG);
    snprintf(fr.photometric, sizeof fr.photometric, "PALETTE COLOR");
    assert_int_equal(render_fails(NULL, &fr, &opt, "PALETTE COLOR with 3"), OBIA_E_ARG);
    fr.samples = 1;
    snprintf(fr.photometric, sizeof fr.photometric, "RGB");
    assert_int_equal(render_fails(NULL, &fr, &opt, "RGB with 1"), OBIA_E_ARG);
    snprintf(fr.photometric, sizeof fr.photometric, "MONOCHROME2");
    fr.bytes_per_sample = 3;
    assert_int_equal(render_fails(NULL, &fr, &opt, "3 bytes per sample"), OBIA_E_ARG);
    fr.bytes_per_sample = 2;
    fr.is_float = true;
    assert_int_equal(render_fails(NULL, &fr, &opt, "float samples of 2 bytes"), OBIA_E_ARG);
    fr.is_float = false;
    fr.rows = 0;
    assert_int_equal(render_fails(NULL, &fr, &opt, "0 pixels"), OBIA_E_ARG);
    fr.rows = 70000;
    assert_int_equal(render_fails(NULL, &fr, &opt, "cannot be rendered"), OBIA_E_ARG);
    fr.rows = 4;
    assert_int_equal(render_fails(NULL, NULL, &opt, "no frame"), OBIA_E_ARG);
    obia_error err;
    obia_error_clear(&err);
    assert_false(obia_render(NULL, &fr, &opt, NULL, &err));

    /* the frame's photometric is empty: the file's, else by samples */
    fr.photometric[0] = '\0';
    f = as_file(dataset("MONOCHROME1"));
    for (int i = 0; i < 16; i++)
        put16(&fr, (size_t)i, i);
    obia_image im = render_ok(f, &fr, &opt);
    assert_int_equal(px16(&im, 0), 65535);   /* inverted */
    obia_image_free(&im);
    obia_file_free(f);
    im = render_ok(NULL, &fr, NULL);   /* default options */
    assert_int_equal(im.depth, 8);
    assert_int_equal(im.data[0], 0);
    obia_image_free(&im);
    free(fr.data);
}

/* ---- area averaging --------------------------------------------------------------------------- */

/* The exact average of the source footprint of each output pixel, fractional
 * edges weighted: RGB 8-bit values pass through unchanged, so the output is
 * round(mean). */
static void test_area_average(void **state)
{
    (void)state;
    obia_render_options opt;
    obia_render_options_init(&opt);

    /* 4x4 checkerboard of 0/255 to 2x2: every output 127.5 -> 128; blocks of 2x2 */
    obia_frame fr = frame(4, 4, 3, 1, 8, false, "RGB");
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            uint8_t *p = fr.data + 3 * (y * 4 + x);
            p[0] = (x + y) % 2 ? 255 : 0;
            p[1] = (uint8_t)(10 * (y / 2 * 2 + x / 2));   /* constant per block */
            p[2] = (uint8_t)(x + 4 * y);
        }
    opt.size = 2;
    obia_image im = render_ok(NULL, &fr, &opt);
    assert_int_equal(im.width, 2);
    assert_int_equal(im.height, 2);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++) {
            const uint8_t *p = im.data + 3 * (y * 2 + x);
            assert_int_equal(p[0], 128);
            assert_int_equal(p[1], 10 * (2 * y + x));
            /* mean of x+4y over the block: 2x + 8y + 2.5 -> rounds up */
            assert_int_equal(p[2], 2 * x + 8 * y + 3);
        }
    obia_image_free(&im);
    free(fr.data);

    /* 3x3 to 2x2: output (0,0) covers source [0,1.5) x [0,1.5): weights 4,2,2,1 of 9 */
    fr = frame(3, 3, 3, 1, 8, false, "RGB");
    int v[9] = {90, 0, 0, 0, 0, 0, 0, 0, 9};
    for (int i = 0; i < 9; i++)
        fr.data[3 * i] = fr.data[3 * i + 1] = fr.data[3 * i + 2] = (uint8_t)v[i];
    fr.data[3 * 1] = 180;   /* (1,0) red: weight 2 in (0,0) and (1,0) */
    im = render_ok(NULL, &fr, &opt);
    assert_int_equal(im.width, 2);
    assert_int_equal(im.data[0], (4 * 90 + 2 * 180 + 4) / 9);     /* 80 */
    assert_int_equal(im.data[1], (4 * 90 + 4) / 9);               /* 40 */
    assert_int_equal(im.data[3 * 1], (2 * 180 + 4) / 9);          /* 40 */
    assert_int_equal(im.data[3 * 3], (4 * 9 + 4) / 9);            /* 4 */
    assert_int_equal(im.data[3 * 2], 0);
    obia_image_free(&im);
    free(fr.data);

    /* 6x3 to size 4: 4x2, aspect kept; a vertical ramp averaged exactly */
    fr = frame(6, 3, 1, 2, 16, false, "MONOCHROME2");
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 6; x++)
            put16(&fr, (size_t)(y * 6 + x), y == 0 ? 0 : y == 1 ? 300 : 900);
    obia_dataset *ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 1050), "450");
    set_str(ds, T(0028, 1051), "901");   /* modality value x -> (x + 0.5 - 450)/900 + .5 */
    obia_file *f = as_file(ds);
    opt.size = 4;
    opt.bits16 = true;
    im = render_ok(f, &fr, &opt);
    assert_int_equal(im.width, 4);
    assert_int_equal(im.height, 2);
    double y0 = scale((0 + 0.5 - 450) / 900 + 0.5), y1 = scale((300 + 0.5 - 450) / 900 + 0.5);
    double y2 = 65535;
    /* row 0 covers source rows [0, 1.5): (2*y0 + y1) / 3 */
    assert_int_equal(px16(&im, 0), (unsigned)floor((2 * y0 + y1) / 3 + 0.5));
    assert_int_equal(px16(&im, 7), (unsigned)floor((y1 + 2 * y2) / 3 + 0.5));
    obia_image_free(&im);
    obia_file_free(f);
    free(fr.data);

    /* never enlarged; size 0 keeps the size */
    fr = frame(5, 3, 1, 1, 8, false, "MONOCHROME2");
    opt.size = 100;
    im = render_ok(NULL, &fr, &opt);
    assert_int_equal(im.width, 5);
    assert_int_equal(im.height, 3);
    obia_image_free(&im);
    opt.size = 1;
    im = render_ok(NULL, &fr, &opt);
    assert_int_equal(im.width, 1);
    assert_int_equal(im.height, 1);
    obia_image_free(&im);
    free(fr.data);
}

/* Unequal Pixel Spacing (row \ column) or Pixel Aspect Ratio: pixels shown
 * square by reducing the finer axis, never enlarging. */
static void test_aspect(void **state)
{
    (void)state;
    obia_frame fr = frame(100, 50, 1, 1, 8, false, "MONOCHROME2");
    obia_render_options opt;
    obia_render_options_init(&opt);
    static const struct {
        uint32_t tag;
        const char *value;
        uint32_t w, h;
    } cases[] = {
        {T(0028, 0030), "2\\1", 50, 50},         /* tall pixels: the width halves */
        {T(0028, 0030), "0.5\\1", 100, 25},      /* wide pixels: the height halves */
        {T(0018, 1164), "1\\1.005", 100, 50},    /* within 1%: square */
        {T(0028, 0034), "4\\3", 75, 50},         /* vertical \ horizontal */
        {T(0028, 0030), "0\\1", 100, 50},        /* nonsense: ignored */
        {T(0028, 0030), "100\\1", 100, 50},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        obia_dataset *ds = dataset("MONOCHROME2");
        set_str(ds, cases[i].tag, cases[i].value);
        obia_file *f = as_file(ds);
        obia_image im = render_ok(f, &fr, &opt);
        if (im.width != cases[i].w || im.height != cases[i].h)
            fail_msg("%s: %ux%u, expected %ux%u", cases[i].value, im.width, im.height, cases[i].w,
                     cases[i].h);
        obia_image_free(&im);
        obia_file_free(f);
    }
    /* with a size: the longest displayed side becomes it */
    obia_dataset *ds = dataset("MONOCHROME2");
    set_str(ds, T(0028, 0030), "2\\1");
    obia_file *f = as_file(ds);
    opt.size = 20;
    obia_image im = render_ok(f, &fr, &opt);
    assert_int_equal(im.width, 20);
    assert_int_equal(im.height, 20);
    obia_image_free(&im);
    opt.size = 0;   /* as stored */
    im = render_ok(f, &fr, &opt);
    assert_int_equal(im.width, 100);
    assert_int_equal(im.height, 50);
    obia_image_free(&im);
    obia_file_free(f);
    free(fr.data);
}

/* ---- encoders ------------------------------------------------------------------------------------ */

static obia_image pattern(uint32_t w, uint32_t h, uint16_t channels, uint16_t depth)
{
    obia_image im = {w, h, channels, depth, NULL, 0};
    im.len = (size_t)w * h * channels * (depth / 8);
    im.data = malloc(im.len);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint16_t c = 0; c < channels; c++) {
                size_t i = ((size_t)y * w + x) * channels + c;
                unsigned v = (x * 4 + y * 2 + c * 60) % 256;
                if (depth == 16)
                    obia_wr16le(im.data + 2 * i, (uint16_t)(v * 257 + x));
                else
                    im.data[i] = (uint8_t)v;
            }
    return im;
}

static void png_roundtrip(const obia_image *im)
{
    obia_buf out;
    obia_buf_init(&out, 1u << 26);
    obia_error err;
    obia_error_clear(&err);
    if (!obia_image_write_png(im, obia_sink_buf, &out, &err))
        fail_msg("png: %s", err.message);
    assert_true(out.len > 20);
    assert_memory_equal(out.data + out.len - 8, "IEND", 4);   /* finished */
    spng_ctx *c = spng_ctx_new(0);
    assert_int_equal(spng_set_png_buffer(c, out.data, out.len), 0);
    struct spng_ihdr ihdr;
    assert_int_equal(spng_get_ihdr(c, &ihdr), 0);
    assert_int_equal(ihdr.width, im->width);
    assert_int_equal(ihdr.height, im->height);
    assert_int_equal(ihdr.bit_depth, im->depth);
    assert_int_equal(ihdr.color_type, im->channels == 3 ? SPNG_COLOR_TYPE_TRUECOLOR
                                                         : SPNG_COLOR_TYPE_GRAYSCALE);
    size_t n;
    assert_int_equal(spng_decoded_image_size(c, SPNG_FMT_PNG, &n), 0);
    assert_int_equal(n, im->len);
    uint8_t *px = malloc(n);
    assert_int_equal(spng_decode_image(c, px, n, SPNG_FMT_PNG, 0), 0);
    if (im->depth == 16) {   /* libspng gives host order, ours is little endian */
        for (size_t i = 0; i < n; i += 2) {
            uint16_t v;
            memcpy(&v, px + i, 2);
            obia_wr16le(px + i, v);
        }
    }
    assert_memory_equal(px, im->data, n);
    if (im->depth == 16) {   /* and the file holds them big endian (PNG 7.1) */
        obia_image one = {1, 1, 1, 16, (uint8_t[]){0x02, 0x01}, 2};
        obia_buf b;
        obia_buf_init(&b, 1024);
        assert_true(obia_image_write_png(&one, obia_sink_buf, &b, NULL));
        spng_ctx *d = spng_ctx_new(0);
        spng_set_png_buffer(d, b.data, b.len);
        uint16_t v = 0;
        assert_int_equal(spng_decode_image(d, &v, 2, SPNG_FMT_PNG, 0), 0);
        assert_int_equal(v, 0x0102);
        spng_ctx_free(d);
        /* the IDAT after the signature and IHDR holds one scanline: the
         * filter byte, then 0x01 0x02 (any filter predicts 0 for the first
         * pixel of the first row) */
        assert_memory_equal(b.data + 8 + 25 + 4, "IDAT", 4);
        uint32_t zlen = obia_rd32be(b.data + 8 + 25);
        uLongf zn = 3;
        uint8_t line[3];
        assert_int_equal(uncompress(line, &zn, b.data + 8 + 25 + 8, zlen), Z_OK);
        assert_int_equal(zn, 3);
        assert_int_equal(line[1], 0x01);
        assert_int_equal(line[2], 0x02);
        obia_buf_free(&b);
    }
    free(px);
    spng_ctx_free(c);
    obia_buf_free(&out);
}

static bool refuse_after(void *ctx, const void *data, size_t len)
{
    (void)data;
    size_t *left = ctx;
    if (len > *left)
        return false;
    *left -= len;
    return true;
}

static void test_png(void **state)
{
    (void)state;
    static const uint16_t kinds[][2] = {{1, 8}, {3, 8}, {1, 16}, {3, 16}};
    for (size_t k = 0; k < 4; k++) {
        obia_image im = pattern(37, 23, kinds[k][0], kinds[k][1]);
        png_roundtrip(&im);
        obia_image_free(&im);
    }
    obia_image big = pattern(600, 500, 3, 8);
    png_roundtrip(&big);
    obia_error err;
    obia_error_clear(&err);
    /* a sink that refuses: an IO error, for each point where it could */
    for (size_t left = 0; left < 2000; left += 97) {
        size_t budget = left;
        obia_error_clear(&err);
        assert_false(obia_image_write_png(&big, refuse_after, &budget, &err));
        assert_int_equal(err.code, OBIA_E_IO);
    }
    obia_image_free(&big);
    obia_image bad = {0};
    obia_error_clear(&err);
    assert_false(obia_image_write_png(&bad, obia_sink_buf, NULL, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    obia_image two = pattern(4, 4, 1, 8);
    two.channels = 2;
    obia_error_clear(&err);
    assert_false(obia_image_write_png(&two, obia_sink_buf, NULL, &err));
    two.channels = 1;
    two.len = 15;
    obia_error_clear(&err);
    assert_false(obia_image_write_png(&two, obia_sink_buf, NULL, &err));
    assert_non_null(strstr(err.message, "15 bytes"));
    obia_image_free(&two);
}

/* JPEG: decoded back with libjpeg, close to the original. */
static void jpeg_check(const obia_image *im, int quality, double tolerance)
{
    obia_buf out;
    obia_buf_init(&out, 1u << 26);
    obia_error err;
    obia_error_clear(&err);
    if (!obia_image_write_jpeg(im, quality, obia_sink_buf, &out, &err))
        fail_msg("jpeg: %s", err.message);
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr jerr;
    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, out.data, (unsigned long)out.len);
    assert_int_equal(jpeg_read_header(&d, TRUE), JPEG_HEADER_OK);
    d.out_color_space = im->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_start_decompress(&d);
    assert_int_equal(d.output_width, im->width);
    assert_int_equal(d.output_height, im->height);
    assert_int_equal(d.output_components, im->channels);
    size_t row = (size_t)im->width * im->channels;
    uint8_t *px = malloc(row * im->height);
    while (d.output_scanline < d.output_height) {
        JSAMPROW r = px + row * d.output_scanline;
        jpeg_read_scanlines(&d, &r, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    double sum = 0;
    for (size_t i = 0; i < row * im->height; i++)
        sum += abs((int)px[i] - (int)im->data[i]);
    double mad = sum / (double)(row * im->height);
    if (mad > tolerance)
        fail_msg("JPEG quality %d: mean absolute difference %.2f > %.2f", quality, mad, tolerance);
    free(px);
    obia_buf_free(&out);
}

static void test_jpeg(void **state)
{
    (void)state;
    obia_image grey = {64, 48, 1, 8, NULL, 64 * 48};
    obia_image rgb = {64, 48, 3, 8, NULL, 64 * 48 * 3};
    grey.data = malloc(grey.len);
    rgb.data = malloc(rgb.len);
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            grey.data[y * 64 + x] = (uint8_t)(x * 3 + y);
            for (int c = 0; c < 3; c++)
                rgb.data[3 * (y * 64 + x) + c] = (uint8_t)(c == 0 ? x * 4 : c == 1 ? y * 5 : 128);
        }
    jpeg_check(&grey, 95, 1.0);
    jpeg_check(&rgb, 95, 2.0);
    jpeg_check(&grey, 50, 3.0);
    obia_error err;
    obia_error_clear(&err);
    obia_buf out;
    obia_buf_init(&out, 1u << 20);
    assert_false(obia_image_write_jpeg(&grey, 0, obia_sink_buf, &out, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    obia_error_clear(&err);
    assert_false(obia_image_write_jpeg(&grey, 101, obia_sink_buf, &out, &err));
    obia_image w16 = pattern(8, 8, 1, 16);
    obia_error_clear(&err);
    assert_false(obia_image_write_jpeg(&w16, 90, obia_sink_buf, &out, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    assert_non_null(strstr(err.message, "16-bit"));
    obia_image_free(&w16);
    /* a refusing sink, at the first buffer and at the end */
    obia_image big = pattern(400, 300, 3, 8);
    size_t budgets[] = {0, 100, 20000};
    for (size_t i = 0; i < 3; i++) {
        size_t budget = budgets[i];
        obia_error_clear(&err);
        assert_false(obia_image_write_jpeg(&big, 90, refuse_after, &budget, &err));
        assert_int_equal(err.code, OBIA_E_IO);
    }
    obia_image_free(&big);
    obia_buf_free(&out);
    obia_image_free(&grey);
    obia_image_free(&rgb);
}

/* ---- contact sheets --------------------------------------------------------------------------------- */

static void test_contact_sheet(void **state)
{
    (void)state;
    obia_image a = {2, 4, 1, 8, NULL, 8}, b = {3, 1, 3, 8, NULL, 9}, c = {2, 2, 1, 16, NULL, 8};
    a.data = malloc(8);
    memset(a.data, 200, 8);
    b.data = malloc(9);
    for (int i = 0; i < 9; i++)
        b.data[i] = (uint8_t)(10 + i);
    c.data = malloc(8);
    for (int i = 0; i < 4; i++)
        obia_wr16le(c.data + 2 * i, 0xFFFF);
    const obia_image *list[] = {&a, &b, NULL, &c};
    obia_image sheet;
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_contact_sheet(list, 4, 4, 3, &sheet, &err));
    assert_int_equal(sheet.width, 12);
    assert_int_equal(sheet.height, 8);
    assert_int_equal(sheet.channels, 3);   /* b is colour */
    assert_int_equal(sheet.depth, 8);
    assert_int_equal(sheet.len, 12 * 8 * 3);
#define AT(x, y, ch) sheet.data[((y) * 12 + (x)) * 3 + (ch)]
    /* a: 2x4 centred in cell (0,0): columns 1-2, rows 0-3, grey as RGB */
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int ch = 0; ch < 3; ch++)
                assert_int_equal(AT(x, y, ch), x == 1 || x == 2 ? 200 : 0);
    /* b: 3x1 in cell (1,0): x offset 4 + 0, y offset 1 */
    for (int x = 0; x < 3; x++)
        for (int ch = 0; ch < 3; ch++)
            assert_int_equal(AT(4 + x, 1, ch), 10 + 3 * x + ch);
    assert_int_equal(AT(7, 1, 0), 0);
    assert_int_equal(AT(4, 0, 0), 0);
    assert_int_equal(AT(4, 2, 0), 0);
    /* cell (2,0) empty; c (16-bit white) in cell (0,1) at 1..2 x 5..6 */
    for (int y = 0; y < 4; y++)
        for (int x = 8; x < 12; x++)
            assert_int_equal(AT(x, y, 0), 0);
    assert_int_equal(AT(1, 5, 0), 255);
    assert_int_equal(AT(2, 6, 2), 255);
    assert_int_equal(AT(0, 5, 0), 0);
    assert_int_equal(AT(3, 6, 0), 0);
#undef AT
    obia_image_free(&sheet);

    /* all grey: a grey sheet; an image larger than the cell shows its centre */
    obia_image big = {6, 6, 1, 8, NULL, 36};
    big.data = malloc(36);
    for (int i = 0; i < 36; i++)
        big.data[i] = (uint8_t)i;
    const obia_image *two[] = {&a, &big};
    assert_true(obia_contact_sheet(two, 2, 4, 1, &sheet, &err));
    assert_int_equal(sheet.channels, 1);
    assert_int_equal(sheet.width, 4);
    assert_int_equal(sheet.height, 8);
    assert_int_equal(sheet.data[4 * 4 + 0], 7);    /* big (1,1) */
    assert_int_equal(sheet.data[4 * 7 + 3], 28);   /* big (4,4) */
    obia_image_free(&sheet);

    /* errors */
    obia_error_clear(&err);
    assert_false(obia_contact_sheet(list, 0, 4, 3, &sheet, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    obia_error_clear(&err);
    assert_false(obia_contact_sheet(list, 4, 0, 3, &sheet, &err));
    obia_error_clear(&err);
    assert_false(obia_contact_sheet(list, 4, 4, 0, &sheet, &err));
    obia_error_clear(&err);
    assert_false(obia_contact_sheet(list, 4, 60000, 3, &sheet, &err));
    assert_int_equal(err.code, OBIA_E_LIMIT);
    assert_null(sheet.data);
    a.channels = 4;
    obia_error_clear(&err);
    assert_false(obia_contact_sheet(list, 4, 4, 3, &sheet, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    obia_image_free(&a);
    obia_image_free(&b);
    obia_image_free(&c);
    obia_image_free(&big);
}

/* ---- real files (native Pixel Data read here) -------------------------------------------------- */

static obia_file *read_data(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", OBIA_TEST_DATA, rel);
    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_read(path, NULL, &err);
    if (!f)
        fail_msg("%s: %s", rel, err.message);
    return f;
}

static long attr_int(const obia_dataset *ds, uint32_t tag, long def)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    int64_t v;
    return el && obia_element_get_int(el, 0, &v, NULL) ? (long)v : def;
}

/* Frame 0 of native little endian Pixel Data of 8 or 16 bits. */
static obia_frame native_frame(const obia_file *f)
{
    const obia_dataset *ds = obia_file_dataset(f);
    const obia_element *px = obia_dataset_get(ds, OBIA_TAG_PIXEL_DATA);
    assert_non_null(px);
    long bits = attr_int(ds, T(0028, 0100), 16);
    obia_buf b;
    obia_buf_init(&b, 64);
    const char *pi = obia_dataset_get_cstr(ds, T(0028, 0004), &b);
    obia_frame fr = frame((uint32_t)attr_int(ds, T(0028, 0011), 0),
                          (uint32_t)attr_int(ds, T(0028, 0010), 0),
                          (uint16_t)attr_int(ds, T(0028, 0002), 1), bits == 8 ? 1 : 2,
                          (uint16_t)attr_int(ds, T(0028, 0101), bits),
                          attr_int(ds, T(0028, 0103), 0) == 1, pi ? pi : "");
    obia_buf_free(&b);
    assert_true(obia_element_length(px) >= fr.len);
    memcpy(fr.data, obia_element_bytes(px), fr.len);
    return fr;
}

static double mean(const obia_image *im)
{
    double s = 0;
    for (size_t i = 0; i < im->len; i++)
        s += im->data[i];
    return s / (double)im->len;
}

static void test_files(void **state)
{
    (void)state;
    obia_render_options opt;
    obia_render_options_init(&opt);
    static const struct {
        const char *path;
        uint32_t w, h;
        uint16_t channels;
    } files[] = {
        {"deb-python3-pydicom/test_files/CT_small.dcm", 128, 128, 1},      /* rescale, padding, auto */
        {"deb-python3-pydicom/test_files/MR_small.dcm", 64, 64, 1},        /* window */
        {"gh-highdicom/dx_image.dcm", 211, 169, 1},                        /* MONOCHROME1 */
        {"gh-pydicom-data/OT-PAL-8-face.dcm", 256, 192, 3},                /* palette, 16-bit entries */
        {"deb-python3-pydicom/test_files/SC_rgb_small_odd.dcm", 3, 3, 3},
        {"deb-python3-pydicom/test_files/ExplVR_BigEnd.dcm", 80, 60, 3},   /* big endian file */
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        obia_file *f = read_data(files[i].path);
        obia_frame fr = native_frame(f);
        obia_image im = render_ok(f, &fr, &opt);
        if (im.width != files[i].w || im.height != files[i].h || im.channels != files[i].channels)
            fail_msg("%s: %ux%ux%u", files[i].path, im.width, im.height, im.channels);
        double m = mean(&im);
        if (m < 10 || m > 245)
            fail_msg("%s: mean %.1f: blank?", files[i].path, m);
        /* encoders take every rendering */
        obia_buf out;
        obia_buf_init(&out, 1u << 24);
        obia_error err;
        obia_error_clear(&err);
        assert_true(obia_image_write_png(&im, obia_sink_buf, &out, &err));
        assert_true(obia_image_write_jpeg(&im, 85, obia_sink_buf, &out, &err));
        obia_buf_free(&out);
        obia_image_free(&im);
        free(fr.data);
        obia_file_free(f);
    }

    /* OT-PAL-8-face's palette: pixel (0,0) through the LUT by hand */
    obia_file *f = read_data("gh-pydicom-data/OT-PAL-8-face.dcm");
    obia_frame fr = native_frame(f);
    opt.size = 0;
    obia_image im = render_ok(f, &fr, &opt);
    const obia_dataset *ds = obia_file_dataset(f);
    for (uint32_t c = 0; c < 3; c++) {
        const obia_element *lut = obia_dataset_get(ds, T(0028, 1201) + c);
        const uint8_t *p = obia_element_bytes(lut);
        for (size_t k = 0; k < 1000; k += 37) {
            unsigned s = fr.data[k];
            unsigned idx = s < 200 ? s : 199;
            assert_int_equal(im.data[3 * k + c], obia_rd16le(p + 2 * idx) >> 8);
        }
    }
    obia_image_free(&im);
    free(fr.data);
    obia_file_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_window_linear),
        cmocka_unit_test(test_window_functions),
        cmocka_unit_test(test_window_all_values),
        cmocka_unit_test(test_window_index),
        cmocka_unit_test(test_mask_and_sign),
        cmocka_unit_test(test_polarity),
        cmocka_unit_test(test_modality_lut),
        cmocka_unit_test(test_voi_lut),
        cmocka_unit_test(test_auto_window),
        cmocka_unit_test(test_float),
        cmocka_unit_test(test_rgb),
        cmocka_unit_test(test_ybr),
        cmocka_unit_test(test_palette),
        cmocka_unit_test(test_segmented_palette),
        cmocka_unit_test(test_hostile_luts),
        cmocka_unit_test(test_hostile_frames),
        cmocka_unit_test(test_area_average),
        cmocka_unit_test(test_aspect),
        cmocka_unit_test(test_png),
        cmocka_unit_test(test_jpeg),
        cmocka_unit_test(test_contact_sheet),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
