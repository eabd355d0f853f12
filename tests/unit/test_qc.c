/* Unit tests of the quality checks (lib/qc/checks.c): the table, the
 * per-file checks on files made in memory, and the series checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/dicom.h"
#include "obia/qc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- files made in memory ----------------------------------------------------------- */

/* An explicit VR little endian element. */
static void put(obia_buf *b, uint16_t g, uint16_t e, const char *vr, const void *v, uint32_t n)
{
    uint8_t h[12] = {(uint8_t)g, (uint8_t)(g >> 8), (uint8_t)e, (uint8_t)(e >> 8),
                     (uint8_t)vr[0], (uint8_t)vr[1]};
    bool long_len = strcmp(vr, "OB") == 0 || strcmp(vr, "OW") == 0 || strcmp(vr, "SQ") == 0 ||
                    strcmp(vr, "UN") == 0;
    if (long_len) {
        memcpy(h + 8, &n, 4);
        obia_buf_append(b, h, 12);
    } else {
        h[6] = (uint8_t)n;
        h[7] = (uint8_t)(n >> 8);
        obia_buf_append(b, h, 8);
    }
    if (v && n != 0xFFFFFFFFu)
        obia_buf_append(b, v, n);
}

static void put_str(obia_buf *b, uint16_t g, uint16_t e, const char *vr, const char *s)
{
    size_t n = strlen(s);
    char tmp[128];
    memcpy(tmp, s, n);
    if (n & 1)
        tmp[n++] = strcmp(vr, "UI") == 0 ? '\0' : ' ';
    put(b, g, e, vr, tmp, (uint32_t)n);
}

static void put_us(obia_buf *b, uint16_t g, uint16_t e, uint16_t v)
{
    put(b, g, e, "US", &v, 2);
}

static void put_item(obia_buf *b, uint16_t e, const void *v, uint32_t n)
{
    uint8_t h[8] = {0xFE, 0xFF, (uint8_t)e, (uint8_t)(e >> 8)};
    memcpy(h + 4, &n, 4);
    obia_buf_append(b, h, 8);
    if (v)
        obia_buf_append(b, v, n);
}

typedef struct spec {
    const char *ts;
    bool no_modality, no_series, no_patient_id, empty;
    uint16_t rows, columns, bits;
    const char *frames;     /* NULL: no Number of Frames */
    long pixel_bytes;       /* native Pixel Data length; -1: none */
    bool encapsulated;
    uint32_t bot[4];
    size_t nbot;
    size_t fragments;
} spec;

static obia_file *make(const spec *s, obia_buf *b)
{
    obia_buf_init(b, 1u << 24);
    uint8_t pre[128] = {0};
    obia_buf_append(b, pre, 128);
    obia_buf_append(b, "DICM", 4);
    put_str(b, 0x0002, 0x0010, "UI", s->ts ? s->ts : OBIA_TS_EXPLICIT_LE);
    if (!s->empty) {
        put_str(b, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2");
        put_str(b, 0x0008, 0x0018, "UI", "1.2.3.4.5");
        if (!s->no_modality)
            put_str(b, 0x0008, 0x0060, "CS", "CT");
        if (!s->no_patient_id)
            put_str(b, 0x0010, 0x0020, "LO", "P1");
        put_str(b, 0x0020, 0x000D, "UI", "1.2.3.4");
        if (!s->no_series)
            put_str(b, 0x0020, 0x000E, "UI", "1.2.3.4.1");
        put_us(b, 0x0028, 0x0002, 1);
        if (s->frames)
            put_str(b, 0x0028, 0x0008, "IS", s->frames);
        put_us(b, 0x0028, 0x0010, s->rows);
        put_us(b, 0x0028, 0x0011, s->columns);
        put_us(b, 0x0028, 0x0100, s->bits);
        if (s->encapsulated) {
            put(b, 0x7FE0, 0x0010, "OB", NULL, 0xFFFFFFFFu);
            put_item(b, 0xE000, s->bot, (uint32_t)(4 * s->nbot));
            uint8_t frag[8] = {0xFF, 0xD8, 1, 2, 3, 4, 0xFF, 0xD9};
            for (size_t i = 0; i < s->fragments; i++)
                put_item(b, 0xE000, frag, 8);
            put_item(b, 0xE0DD, NULL, 0);
        } else if (s->pixel_bytes >= 0) {
            void *px = calloc(1, (size_t)s->pixel_bytes + 1);
            put(b, 0x7FE0, 0x0010, "OW", px, (uint32_t)s->pixel_bytes);
            free(px);
        }
    }
    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_parse(b->data, b->len, NULL, &err);
    if (!f)
        fail_msg("cannot parse the file made: %s", err.message);
    return f;
}

static void expect(const spec *s, const char *codes)
{
    obia_buf b;
    obia_file *f = make(s, &b);
    obia_qc_findings out = {0};
    obia_qc_check_file(f, &out);
    char got[256];
    obia_qc_codes(&out, got, sizeof got);
    if (strcmp(got, codes) != 0)
        fail_msg("expected '%s', got '%s' (%s)", codes, got,
                 out.count ? out.items[0].detail : "");
    obia_file_free(f);
    obia_buf_free(&b);
}

static const spec ct = {.rows = 4, .columns = 4, .bits = 16, .pixel_bytes = 32};

static void test_table(void **state)
{
    (void)state;
    size_t n;
    const obia_qc_check_info *c = obia_qc_checks(&n);
    assert_true(n >= 19);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(obia_qc_check(c[i].code), &c[i]);   /* codes are unique */
        assert_true(strlen(c[i].title) > 10);
    }
    assert_null(obia_qc_check("nope"));
    assert_int_equal(obia_qc_check("burned-in")->severity, OBIA_QC_HOLD);
    assert_int_equal(obia_qc_check("series-mixed-modality")->severity, OBIA_QC_WARNING);
    assert_string_equal(obia_qc_severity_name(OBIA_QC_ERROR), "error");

    obia_qc_findings f = {0};
    assert_int_equal(obia_qc_worst(&f), OBIA_QC_WARNING);
    obia_qc_add(&f, "series-mixed-modality", "a");
    obia_qc_add(&f, "series-mixed-modality", "again");   /* once per code */
    obia_qc_add(&f, "unknown-code", "dropped");
    assert_int_equal(f.count, 1);
    assert_int_equal(obia_qc_worst(&f), OBIA_QC_WARNING);
    obia_qc_add(&f, "burned-in", "b");
    assert_int_equal(obia_qc_worst(&f), OBIA_QC_HOLD);
    obia_qc_add(&f, "uid-conflict", "c");
    assert_int_equal(obia_qc_worst(&f), OBIA_QC_ERROR);
    char codes[64];
    obia_qc_codes(&f, codes, sizeof codes);
    assert_string_equal(codes, "series-mixed-modality,burned-in,uid-conflict");
    assert_true(obia_qc_has(&f, "burned-in"));
    assert_false(obia_qc_has(&f, "pixel-length"));
}

static void test_file(void **state)
{
    (void)state;
    expect(&ct, "");
    spec s = ct;
    s.pixel_bytes = 30;
    expect(&s, "pixel-length");
    s.pixel_bytes = 64;
    expect(&s, "pixel-length");
    /* multi-frame: 3 frames need 96 bytes */
    s = ct;
    s.frames = "3";
    expect(&s, "pixel-length");
    s.pixel_bytes = 96;
    expect(&s, "");
    /* 8 bits, 3 x 3: 9 bytes padded to 10 */
    s = (spec){.rows = 3, .columns = 3, .bits = 8, .pixel_bytes = 10};
    expect(&s, "");
    /* 1 bit, 4 x 4: 2 bytes */
    s = (spec){.rows = 4, .columns = 4, .bits = 1, .pixel_bytes = 2};
    expect(&s, "");
    /* no Rows */
    s = ct;
    s.rows = 0;
    expect(&s, "pixel-length");
    /* no pixels at all is no pixel finding (a structured report) */
    s = ct;
    s.pixel_bytes = -1;
    expect(&s, "");

    s = ct;
    s.no_modality = true;
    s.no_series = true;
    expect(&s, "header-missing");
    obia_buf b;
    obia_file *f = make(&s, &b);
    obia_qc_findings out = {0};
    obia_qc_check_file(f, &out);
    assert_non_null(strstr(out.items[0].detail, "SeriesInstanceUID, Modality"));
    obia_file_free(f);
    obia_buf_free(&b);
    s = ct;
    s.no_patient_id = true;
    expect(&s, "patient-id-missing");
    s = (spec){.empty = true};
    expect(&s, "header-empty");

    /* cut inside Pixel Data: the parser keeps what is there and says so */
    f = make(&ct, &b);
    obia_file_free(f);
    obia_error err;
    obia_error_clear(&err);
    f = obia_file_parse(b.data, b.len - 10, NULL, &err);
    assert_non_null(f);
    memset(&out, 0, sizeof out);
    obia_qc_check_file(f, &out);
    char codes[128];
    obia_qc_codes(&out, codes, sizeof codes);
    assert_string_equal(codes, "truncated,pixel-length");
    obia_file_free(f);
    obia_buf_free(&b);
}

static void test_fragments(void **state)
{
    (void)state;
    const char *jpeg = "1.2.840.10008.1.2.4.50";
    spec s = {.ts = jpeg, .rows = 4, .columns = 4, .bits = 8, .encapsulated = true,
              .fragments = 1};
    expect(&s, "");                       /* one frame, empty table */
    s.frames = "3";
    expect(&s, "fragments");              /* 3 frames, 1 fragment */
    s.fragments = 3;
    expect(&s, "");
    s.bot[0] = 0, s.bot[1] = 16, s.bot[2] = 32, s.nbot = 3;
    expect(&s, "");                       /* each fragment is 8 + 8 bytes */
    s.bot[2] = 200;
    expect(&s, "fragments");              /* past the end */
    s.bot[1] = 20, s.bot[2] = 32;
    expect(&s, "fragments");              /* inside a fragment */
    s.bot[1] = 16;
    s.nbot = 2;
    expect(&s, "fragments");              /* 2 entries for 3 frames */
    s.nbot = 0;
    s.fragments = 0;
    expect(&s, "fragments");              /* no fragments at all */
}

/* ---- series ------------------------------------------------------------------------ */

static obia_qc_series_image slice(double z, long number)
{
    obia_qc_series_image im = {.sop_instance_uid = "1", .modality = "CT",
                               .frame_of_reference = "1.2.3", .instance_number = number,
                               .has_instance_number = true, .has_geometry = true,
                               .position = {-100, -100, z}, .orientation = {1, 0, 0, 0, 1, 0},
                               .frames = 1};
    return im;
}

static void series_expect(const obia_qc_series_image *im, size_t n, const char *codes)
{
    obia_qc_findings out = {0};
    obia_qc_check_series(im, n, &out);
    char got[256];
    obia_qc_codes(&out, got, sizeof got);
    if (strcmp(got, codes) != 0)
        fail_msg("expected '%s', got '%s' (%s)", codes, got,
                 out.count ? out.items[0].detail : "");
}

static void test_series(void **state)
{
    (void)state;
    obia_qc_series_image v[6];
    for (int i = 0; i < 6; i++)
        v[i] = slice(2.5 * i, i + 1);
    series_expect(v, 6, "");
    series_expect(v, 0, "");
    /* in any order */
    obia_qc_series_image t = v[0];
    v[0] = v[4];
    v[4] = t;
    series_expect(v, 6, "");
    for (int i = 0; i < 6; i++)
        v[i] = slice(2.5 * i, i + 1);
    /* a missing slice: a gap of 5 mm among 2.5 mm */
    v[5].position[2] = 15;
    series_expect(v, 6, "series-irregular-spacing");
    v[5].position[2] = 10;   /* the same position as slice 5 */
    series_expect(v, 6, "series-irregular-spacing");
    v[5].position[2] = 12.5;
    /* a localizer in another orientation: spacing is not judged */
    v[5].orientation[1] = 1, v[5].orientation[0] = 0, v[5].orientation[4] = 0,
    v[5].orientation[5] = 1;
    v[5].position[2] = 40;
    series_expect(v, 6, "");
    v[5] = slice(12.5, 6);
    v[2].modality = "MR";
    series_expect(v, 6, "series-mixed-modality");
    v[2].modality = "CT";
    v[3].frame_of_reference = "9.9";
    series_expect(v, 6, "series-mixed-frame-of-reference");
    v[3].frame_of_reference = NULL;   /* unknown is not another one */
    series_expect(v, 6, "");
    v[4].has_instance_number = false;
    series_expect(v, 6, "series-instance-number-missing");
    v[4].has_instance_number = true;
    v[4].instance_number = 2;
    series_expect(v, 6, "series-instance-number-duplicate");
    /* multi-frame images are not slices */
    obia_qc_series_image mf[2] = {slice(0, 1), slice(80, 2)};
    mf[0].frames = mf[1].frames = 50;
    series_expect(mf, 2, "");
}

/* The set of hashes the keys' known values are held in (lib/util). */
static void test_hash_set(void **state)
{
    (void)state;
    obia_hash_set s = {0};
    uint8_t h[16];
    for (uint32_t i = 0; i < 5000; i++) {
        memset(h, 0, sizeof h);
        /* low bytes alike, so probing is exercised */
        h[8] = (uint8_t)i, h[9] = (uint8_t)(i >> 8), h[0] = (uint8_t)(i % 3 + 1);
        assert_int_equal(obia_hash_set_add(&s, h), 1);
        assert_int_equal(obia_hash_set_add(&s, h), 0);
    }
    assert_int_equal(s.n, 5000);
    memset(h, 0, sizeof h);
    h[8] = 77, h[0] = 77 % 3 + 1;
    assert_true(obia_hash_set_has(&s, h));
    h[8] = 78;
    assert_false(obia_hash_set_has(&s, h));   /* 78 went with h[0] = 1 */
    memset(h, 0, sizeof h);
    assert_int_equal(obia_hash_set_add(&s, h), 0);   /* all zero is not storable */
    assert_false(obia_hash_set_has(&s, h));
    obia_hash_set_free(&s);
    assert_false(obia_hash_set_has(&s, h));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_fragments),
        cmocka_unit_test(test_series),
        cmocka_unit_test(test_hash_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
