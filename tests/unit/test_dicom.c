/* Unit tests of the DICOM codec: reading every encoding and VR, sequences,
 * tolerated defects, limits and errors, editing, writing, JSON and listing.
 * Inputs are built byte by byte so every case is exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/dicom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- byte builder ------------------------------------------------------- */

typedef struct {
    uint8_t d[1 << 16];
    size_t n;
    bool be;
} bb;

static void put8(bb *b, uint8_t v) { b->d[b->n++] = v; }
static void put16(bb *b, uint16_t v)
{
    if (b->be) { put8(b, (uint8_t)(v >> 8)); put8(b, (uint8_t)v); }
    else { put8(b, (uint8_t)v); put8(b, (uint8_t)(v >> 8)); }
}
static void put32(bb *b, uint32_t v)
{
    if (b->be) { put16(b, (uint16_t)(v >> 16)); put16(b, (uint16_t)v); }
    else { put16(b, (uint16_t)v); put16(b, (uint16_t)(v >> 16)); }
}
static void putn(bb *b, const void *p, size_t n) { memcpy(b->d + b->n, p, n); b->n += n; }
static void tag(bb *b, uint16_t g, uint16_t e) { put16(b, g); put16(b, e); }

static bool long_vr(const char *vr)
{
    return strstr("OB OD OF OL OV OW SQ SV UC UN UR UT UV", vr) != NULL;
}

/* explicit VR element */
static void ex(bb *b, uint16_t g, uint16_t e, const char *vr, const void *v, uint32_t len)
{
    tag(b, g, e);
    putn(b, vr, 2);
    if (long_vr(vr)) { put16(b, 0); put32(b, len); }
    else put16(b, (uint16_t)len);
    if (v && len != 0xFFFFFFFF) putn(b, v, len);
}
static void exs(bb *b, uint16_t g, uint16_t e, const char *vr, const char *s)
{
    ex(b, g, e, vr, s, (uint32_t)strlen(s));
}
/* implicit VR element */
static void im(bb *b, uint16_t g, uint16_t e, const void *v, uint32_t len)
{
    tag(b, g, e);
    put32(b, len);
    if (v && len != 0xFFFFFFFF) putn(b, v, len);
}

static void part10_header(bb *b, const char *ts)
{
    memset(b->d, 0, 128);
    b->n = 128;
    putn(b, "DICM", 4);
    bb m = {.n = 0};
    ex(&m, 2, 1, "OB", "\0\1", 2);
    exs(&m, 2, 2, "UI", "1.2.840.10008.5.1.4.1.1.7");
    exs(&m, 2, 3, "UI", "1.2.3.4");
    size_t tl = strlen(ts);
    ex(&m, 2, 0x10, "UI", ts, (uint32_t)(tl + (tl & 1)));
    if (tl & 1) m.d[m.n - 1] = 0;
    ex(b, 2, 0, "UL", NULL, 4);
    put32(b, (uint32_t)m.n);
    putn(b, m.d, m.n);
}

static obia_file *parse_ok(const bb *b)
{
    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_parse(b->d, b->n, NULL, &err);
    if (!f)
        fail_msg("parse failed: %s", err.message);
    return f;
}

static const char *str0(const obia_dataset *ds, uint32_t t, obia_buf *buf)
{
    const char *s = obia_dataset_get_cstr(ds, t, buf);
    return s ? s : "(null)";
}

static bool has_warning(const obia_file *f, const char *needle)
{
    for (size_t i = 0; i < obia_file_warning_count(f); i++)
        if (strstr(obia_file_warning(f, i)->message, needle))
            return true;
    return false;
}

/* ---- VR and dictionary ------------------------------------------------------ */

static void test_vr_properties(void **state)
{
    (void)state;
    assert_int_equal(obia_vr_from_chars('P', 'N'), OBIA_VR_PN);
    assert_int_equal(obia_vr_from_chars('U', 'V'), OBIA_VR_UV);
    assert_int_equal(obia_vr_from_chars('Z', 'Z'), OBIA_VR_NONE);
    assert_int_equal(obia_vr_from_chars('a', 'e'), OBIA_VR_NONE);
    assert_string_equal(obia_vr_name(OBIA_VR_OV), "OV");
    assert_true(obia_vr_long_length(OBIA_VR_UC));
    assert_true(obia_vr_long_length(OBIA_VR_UR));
    assert_true(obia_vr_long_length(OBIA_VR_SV));
    assert_false(obia_vr_long_length(OBIA_VR_LT));
    assert_int_equal(obia_vr_pad(OBIA_VR_UI), 0);
    assert_int_equal(obia_vr_pad(OBIA_VR_LO), ' ');
    assert_int_equal(obia_vr_numeric_size(OBIA_VR_UV), 8);
    assert_true(obia_vr_is_charset_text(OBIA_VR_PN));
    assert_false(obia_vr_is_charset_text(OBIA_VR_CS));
}

static void test_dictionary(void **state)
{
    (void)state;
    assert_true(obia_dict_size() > 5000);
    const obia_dict_entry *e = obia_dict_lookup(OBIA_TAG(0x0010, 0x0010));
    assert_non_null(e);
    assert_string_equal(e->keyword, "PatientName");
    assert_int_equal(e->vr, OBIA_VR_PN);
    assert_string_equal(e->vm, "1");
    e = obia_dict_lookup_keyword("StudyInstanceUID", 16);
    assert_non_null(e);
    assert_int_equal(e->tag, OBIA_TAG(0x0020, 0x000D));
    assert_null(obia_dict_lookup_keyword("NoSuchKeyword", 13));
    /* repeating groups */
    e = obia_dict_lookup(OBIA_TAG(0x6002, 0x3000));
    assert_non_null(e);
    assert_string_equal(e->keyword, "OverlayData");
    e = obia_dict_lookup(OBIA_TAG(0x601E, 0x0010));
    assert_non_null(e);
    assert_string_equal(e->keyword, "OverlayRows");
    assert_null(obia_dict_lookup(OBIA_TAG(0x6001, 0x0010))); /* odd group: private */
    e = obia_dict_lookup(OBIA_TAG(0x5004, 0x0005));
    assert_non_null(e);
    assert_string_equal(e->keyword, "CurveDimensions");
    assert_int_equal(obia_dict_lookup(OBIA_TAG(0x7FE0, 0x0010))->vr, OBIA_VR_OB_OW);
    const obia_uid_entry *u = obia_uid_lookup("1.2.840.10008.1.2.4.50", 22);
    assert_non_null(u);
    assert_string_equal(u->type, "Transfer Syntax");
    obia_ts_info ts = obia_ts_classify("1.2.840.10008.1.2.2", 19);
    assert_true(ts.big_endian && ts.explicit_vr && !ts.encapsulated);
    ts = obia_ts_classify("1.2.840.10008.1.2\0", 18);
    assert_false(ts.explicit_vr);
    ts = obia_ts_classify("1.2.840.10008.1.2.4.90", 22);
    assert_true(ts.encapsulated && ts.known);
}

/* ---- reading ---------------------------------------------------------------- */

static void test_every_vr_explicit(void **state)
{
    (void)state;
    static bb b;
    part10_header(&b, OBIA_TS_EXPLICIT_LE);
    exs(&b, 8, 5, "CS", "ISO_IR 192");
    exs(&b, 8, 0x20, "DA", "20240131");
    exs(&b, 8, 0x30, "TM", "101010.5");
    exs(&b, 8, 0x54, "AE", "STORESCP");
    exs(&b, 8, 0x60, "CS", "CT");
    exs(&b, 8, 0x0107, "DT", "20240131101010");
    exs(&b, 8, 0x1030, "LO", "Head \xc3\xa9tude");
    ex(&b, 0x0008, 0x0119, "UC", "long code value", 15);
    exs(&b, 0x0008, 0x0120, "UR", "http://example.org/a ");
    exs(&b, 0x0010, 0x0010, "PN", "Doe^Jane=\xe5\xb1\xb1\xe7\x94\xb0");
    exs(&b, 0x0010, 0x1010, "AS", "042Y");
    exs(&b, 0x0018, 0x0050, "DS", "2.5 ");
    exs(&b, 0x0020, 0x0013, "IS", "7 ");
    exs(&b, 0x0020, 0x4000, "LT", "  line one\r\nline two");
    uint8_t at[4] = {0x10, 0x00, 0x20, 0x00};
    ex(&b, 0x0020, 0x5000, "AT", at, 4);
    exs(&b, 0x0032, 0x4000, "ST", "short text");
    uint8_t us[4] = {0x00, 0x02, 0x01, 0x00};
    ex(&b, 0x0028, 0x0010, "US", us, 2);
    ex(&b, 0x0028, 0x0034, "IS", "1\\1", 4);
    uint8_t ss[2] = {0xFE, 0xFF};
    ex(&b, 0x0028, 0x0106, "SS", ss, 2);
    uint8_t sl[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    ex(&b, 0x0018, 0x6020, "SL", sl, 4);
    uint8_t ul[4] = {1, 0, 1, 0};
    ex(&b, 0x0028, 0x0008, "IS", "1 ", 2);
    ex(&b, 0x0040, 0xA122, "TM", "1010", 4);
    float fl = 0.3f;
    ex(&b, 0x0018, 0x9089, "FD", (double[]){-1.25}, 8);
    ex(&b, 0x0018, 0x9306, "FD", (double[]){1.5}, 8);
    ex(&b, 0x0028, 0x1052, "DS", "-1024", 6 - 1);
    ex(&b, 0x0040, 0x9216, "FL", &fl, 4);
    ex(&b, 0x0054, 0x1001, "CS", "BQML", 4);
    ex(&b, 0x0066, 0x0040, "UL", ul, 4);
    uint8_t sv[8] = {0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    ex(&b, 0x0072, 0x0082, "SV", sv, 8);
    uint8_t uv[8] = {1, 0, 0, 0, 0, 0, 0, 0x80};
    ex(&b, 0x0072, 0x0083, "UV", uv, 8);
    uint8_t od[8] = {0};
    ex(&b, 0x0070, 0x1104, "OD", od, 8);   /* tag is not OD in the dictionary; VR kept */
    ex(&b, 0x0066, 0x0016, "OF", "\0\0\x80\x3f", 4);
    ex(&b, 0x0066, 0x0023, "OL", "\1\0\0\0\2\0\0\0", 8);
    ex(&b, 0x0066, 0x0024, "OV", "\1\0\0\0\0\0\0\0", 8);
    ex(&b, 0x0066, 0x0025, "OW", "\1\0\2\0", 4);
    ex(&b, 0x0071, 0x0010, "LO", "ACME 1.0", 8);
    ex(&b, 0x0071, 0x1001, "UN", "\1\2\3\4", 4);
    ex(&b, 0x7FE0, 0x0010, "OW", "\1\0\2\0\3\0\4\0", 8);
    obia_file *f = parse_ok(&b);
    obia_dataset *ds = obia_file_dataset(f);
    obia_buf s;
    obia_buf_init(&s, 4096);
    assert_true(has_warning(f, "odd value length 5"));
    assert_true(has_warning(f, "out of ascending tag order"));
    assert_string_equal(str0(ds, OBIA_TAG(8, 0x1030), &s), "Head \xc3\xa9tude");
    assert_string_equal(str0(ds, OBIA_TAG(0x10, 0x10), &s), "Doe^Jane=\xe5\xb1\xb1\xe7\x94\xb0");
    assert_string_equal(str0(ds, OBIA_TAG(0x20, 0x4000), &s), "  line one\r\nline two");
    assert_string_equal(str0(ds, OBIA_TAG(0x8, 0x120), &s), "http://example.org/a");
    assert_string_equal(str0(ds, OBIA_TAG(0x8, 0x119), &s), "long code value");
    const obia_element *el = obia_dataset_get(ds, OBIA_TAG(0x0028, 0x0010));
    int64_t iv;
    uint64_t uvv;
    double dv;
    assert_true(obia_element_get_int(el, 0, &iv, NULL));
    assert_int_equal(iv, 512);
    assert_true(obia_element_get_int(obia_dataset_get(ds, OBIA_TAG(0x28, 0x106)), 0, &iv, NULL));
    assert_int_equal(iv, -2);
    assert_true(obia_element_get_int(obia_dataset_get(ds, OBIA_TAG(0x18, 0x6020)), 0, &iv, NULL));
    assert_int_equal(iv, -1);
    assert_true(obia_element_get_int(obia_dataset_get(ds, OBIA_TAG(0x72, 0x82)), 0, &iv, NULL));
    assert_int_equal(iv, -2);
    assert_true(obia_element_get_uint(obia_dataset_get(ds, OBIA_TAG(0x72, 0x83)), 0, &uvv, NULL));
    assert_true(uvv == 0x8000000000000001ull);
    assert_true(obia_element_get_double(obia_dataset_get(ds, OBIA_TAG(0x18, 0x50)), 0, &dv, NULL));
    assert_true(dv == 2.5);
    assert_true(obia_element_get_int(obia_dataset_get(ds, OBIA_TAG(0x20, 0x13)), 0, &iv, NULL));
    assert_int_equal(iv, 7);
    el = obia_dataset_get(ds, OBIA_TAG(0x28, 0x34));
    assert_int_equal(obia_element_vm(el), 2);
    assert_true(obia_element_get_double(obia_dataset_get(ds, OBIA_TAG(0x40, 0x9216)), 0, &dv, NULL));
    assert_true((float)dv == 0.3f);
    el = obia_dataset_get(ds, OBIA_TAG(0x20, 0x5000));
    assert_int_equal(obia_element_vr(el), OBIA_VR_AT);
    assert_int_equal(obia_element_vm(el), 1);
    el = obia_dataset_get(ds, OBIA_TAG(0x66, 0x24));
    assert_int_equal(obia_element_vr(el), OBIA_VR_OV);
    assert_int_equal(obia_element_length(el), 8);
    el = obia_dataset_get(ds, OBIA_TAG(0x71, 0x1001));
    assert_int_equal(obia_element_vr(el), OBIA_VR_UN);
    const char *creator;
    size_t clen;
    assert_true(obia_dataset_private_creator(ds, OBIA_TAG(0x71, 0x1001), &creator, &clen));
    assert_int_equal(clen, 8);
    assert_memory_equal(creator, "ACME 1.0", 8);
    assert_int_equal(obia_dataset_private_tag(ds, 0x71, "ACME 1.0", 1), OBIA_TAG(0x71, 0x1001));
    assert_int_equal(obia_dataset_private_tag(ds, 0x71, "OTHER", 1), 0);
    /* values point into the input (no copies) */
    el = obia_dataset_get(ds, OBIA_TAG_PIXEL_DATA);
    assert_true(obia_element_bytes(el) >= b.d && obia_element_bytes(el) < b.d + b.n);
    obia_buf_free(&s);
    obia_file_free(f);
}

static void test_implicit_and_bare(void **state)
{
    (void)state;
    static bb b;
    b.n = 0;
    /* bare dataset, implicit VR LE, no preamble or meta */
    im(&b, 8, 0x16, "1.2.840.10008.5.1.4.1.1.7\0", 26);
    im(&b, 8, 0x60, "OT", 2);
    im(&b, 0x10, 0x10, "Smith^John", 10);
    im(&b, 0x28, 0x0103, "\1\0", 2);
    im(&b, 0x28, 0x0106, "\xFF\xFF", 2);  /* US or SS -> SS because Pixel Representation is 1 */
    im(&b, 0x0029, 0x0010, "VENDOR", 6);
    im(&b, 0x0029, 0x1001, "\1\2", 2);
    /* private sequence of undefined length: an implicit VR sequence */
    im(&b, 0x0029, 0x1002, NULL, 0xFFFFFFFF);
    tag(&b, 0xFFFE, 0xE000); put32(&b, 0xFFFFFFFF);
    im(&b, 0x0008, 0x0100, "CODE", 4);
    tag(&b, 0xFFFE, 0xE00D); put32(&b, 0);
    tag(&b, 0xFFFE, 0xE0DD); put32(&b, 0);
    im(&b, 0x7FE0, 0x0010, "\1\0\2\0", 4);
    obia_file *f = parse_ok(&b);
    assert_false(obia_file_has_preamble(f));
    assert_false(obia_file_has_meta(f));
    assert_string_equal(obia_file_transfer_syntax(f), OBIA_TS_IMPLICIT_LE);
    obia_dataset *ds = obia_file_dataset(f);
    assert_int_equal(obia_element_vr(obia_dataset_get(ds, OBIA_TAG(0x10, 0x10))), OBIA_VR_PN);
    assert_int_equal(obia_element_vr(obia_dataset_get(ds, OBIA_TAG(0x28, 0x106))), OBIA_VR_SS);
    assert_int_equal(obia_element_vr(obia_dataset_get(ds, OBIA_TAG(0x29, 0x10))), OBIA_VR_LO);
    assert_int_equal(obia_element_vr(obia_dataset_get(ds, OBIA_TAG(0x29, 0x1001))), OBIA_VR_UN);
    const obia_element *sq = obia_dataset_get(ds, OBIA_TAG(0x29, 0x1002));
    assert_int_equal(obia_element_vr(sq), OBIA_VR_SQ);
    assert_int_equal(obia_element_item_count(sq), 1);
    obia_buf s;
    obia_buf_init(&s, 100);
    assert_string_equal(str0(obia_element_item(sq, 0), OBIA_TAG(8, 0x100), &s), "CODE");
    assert_int_equal(obia_element_vr(obia_dataset_get(ds, OBIA_TAG_PIXEL_DATA)), OBIA_VR_OW);
    obia_buf_free(&s);
    obia_file_free(f);
}

static void test_big_endian(void **state)
{
    (void)state;
    static bb b;
    part10_header(&b, OBIA_TS_EXPLICIT_BE);
    b.be = true;
    ex(&b, 0x0028, 0x0010, "US", "\x02\x00", 2);           /* 512 */
    ex(&b, 0x0028, 0x1050, "DS", "40", 2);
    ex(&b, 0x0020, 0x5000, "AT", "\x00\x10\x00\x20", 4);   /* (0010,0020) */
    ex(&b, 0x0018, 0x9306, "FD", "\x3f\xf8\0\0\0\0\0\0", 8); /* 1.5 */
    ex(&b, 0x7FE0, 0x0010, "OW", "\x01\x02\x03\x04", 4);
    b.be = false;
    obia_file *f = parse_ok(&b);
    obia_dataset *ds = obia_file_dataset(f);
    int64_t v;
    double d;
    assert_true(obia_element_get_int(obia_dataset_get(ds, OBIA_TAG(0x28, 0x10)), 0, &v, NULL));
    assert_int_equal(v, 512);
    assert_true(obia_element_get_double(obia_dataset_get(ds, OBIA_TAG(0x18, 0x9306)), 0, &d, NULL));
    assert_true(d == 1.5);
    const uint8_t *at = obia_element_bytes(obia_dataset_get(ds, OBIA_TAG(0x20, 0x5000)));
    assert_int_equal(obia_rd16le(at), 0x0010);
    assert_int_equal(obia_rd16le(at + 2), 0x0020);
    /* OW words are swapped into little endian */
    assert_memory_equal(obia_element_bytes(obia_dataset_get(ds, OBIA_TAG_PIXEL_DATA)), "\x02\x01\x04\x03", 4);
    obia_file_free(f);
}

static void test_deflated(void **state)
{
    (void)state;
    static bb body, b;
    body.n = 0;
    exs(&body, 0x0008, 0x0060, "CS", "MR");
    exs(&body, 0x0010, 0x0010, "PN", "Deflated^Dataset");
    uint8_t comp[4096];
    z_stream zs = {0};
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = body.d;
    zs.avail_in = (uInt)body.n;
    zs.next_out = comp;
    zs.avail_out = sizeof comp;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t clen = sizeof comp - zs.avail_out;
    deflateEnd(&zs);
    part10_header(&b, OBIA_TS_DEFLATED_LE);
    putn(&b, comp, clen);
    obia_file *f = parse_ok(&b);
    obia_buf s;
    obia_buf_init(&s, 100);
    assert_string_equal(str0(obia_file_dataset(f), OBIA_TAG(0x10, 0x10), &s), "Deflated^Dataset");
    obia_file_free(f);
    /* a corrupt stream is an error that says so */
    b.d[b.n - 3] ^= 0xFF;
    b.d[b.n - 5] ^= 0xFF;
    b.n -= 1;
    obia_error err;
    obia_error_clear(&err);
    f = obia_file_parse(b.d, b.n, NULL, &err);
    if (f) {
        /* a damaged tail may still inflate to a prefix: then it is flagged */
        assert_true(obia_file_warning_count(f) > 0);
        obia_file_free(f);
    } else {
        assert_non_null(strstr(err.message, "deflate"));
    }
    obia_buf_free(&s);
}

static void test_encapsulated(void **state)
{
    (void)state;
    static bb b;
    part10_header(&b, "1.2.840.10008.1.2.4.50");
    exs(&b, 0x0028, 0x0010, "US", "\x10\x00");
    ex(&b, 0x7FE0, 0x0010, "OB", NULL, 0xFFFFFFFF);
    tag(&b, 0xFFFE, 0xE000); put32(&b, 4); put32(&b, 0);      /* offset table */
    tag(&b, 0xFFFE, 0xE000); put32(&b, 6); putn(&b, "\xFF\xD8\x01\x02\xFF\xD9", 6);
    tag(&b, 0xFFFE, 0xE000); put32(&b, 2); putn(&b, "\xAB\xCD", 2);
    tag(&b, 0xFFFE, 0xE0DD); put32(&b, 0);
    obia_file *f = parse_ok(&b);
    const obia_element *px = obia_dataset_get(obia_file_dataset(f), OBIA_TAG_PIXEL_DATA);
    assert_true(obia_element_is_encapsulated(px));
    assert_int_equal(obia_element_fragment_count(px), 3);
    size_t len;
    const uint8_t *p = obia_element_fragment(px, 0, &len, NULL);
    assert_int_equal(len, 4);
    assert_memory_equal(p, "\0\0\0\0", 4);
    p = obia_element_fragment(px, 1, &len, NULL);
    assert_int_equal(len, 6);
    assert_memory_equal(p, "\xFF\xD8", 2);
    /* written back in its own syntax with fragments unchanged; implicit refused */
    obia_buf out;
    obia_buf_init(&out, 1 << 20);
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_file_write(f, OBIA_WRITE_EXPLICIT_LE, obia_sink_buf, &out, &err));
    obia_file *g = obia_file_parse(out.data, out.len, NULL, &err);
    assert_non_null(g);
    assert_string_equal(obia_file_transfer_syntax(g), "1.2.840.10008.1.2.4.50");
    assert_true(obia_dataset_equal(obia_file_dataset(f), obia_file_dataset(g), NULL, 0));
    obia_file_free(g);
    obia_buf_reset(&out);
    obia_error_clear(&err);
    assert_false(obia_file_write(f, OBIA_WRITE_IMPLICIT_LE, obia_sink_buf, &out, &err));
    assert_int_equal(err.code, OBIA_E_UNSUPPORTED);
    obia_buf_free(&out);
    obia_file_free(f);
}

/* Sequences: defined and undefined lengths, nested, and depth limits. */
static void nested(bb *b, int depth, bool undefined)
{
    if (depth == 0) {
        exs(b, 0x0008, 0x0100, "SH", "LEAF");
        return;
    }
    ex(b, 0x0040, 0xA730, "SQ", NULL, 0xFFFFFFFF);
    if (undefined) {
        tag(b, 0xFFFE, 0xE000); put32(b, 0xFFFFFFFF);
        nested(b, depth - 1, !undefined);
        tag(b, 0xFFFE, 0xE00D); put32(b, 0);
    } else {
        /* item of defined length: build the content first */
        bb *inner = calloc(1, sizeof *inner);
        nested(inner, depth - 1, !undefined);
        tag(b, 0xFFFE, 0xE000); put32(b, (uint32_t)inner->n);
        putn(b, inner->d, inner->n);
        free(inner);
    }
    tag(b, 0xFFFE, 0xE0DD); put32(b, 0);
}

static void test_sequences_and_depth(void **state)
{
    (void)state;
    static bb b;
    b.n = 0;
    exs(&b, 0x0008, 0x0060, "CS", "SR");
    nested(&b, 10, true);
    obia_file *f = parse_ok(&b);
    const obia_element *el = obia_dataset_find(obia_file_dataset(f),
        "ContentSequence[0].ContentSequence[0].ContentSequence[0].ContentSequence[0]."
        "ContentSequence[0].ContentSequence[0].ContentSequence[0].ContentSequence[0]."
        "ContentSequence[0].ContentSequence[0].CodeValue", NULL);
    assert_non_null(el);
    assert_int_equal(obia_element_length(el), 4);
    obia_file_free(f);

    obia_read_options opt;
    obia_read_options_init(&opt);
    opt.max_depth = 5;
    obia_error err;
    obia_error_clear(&err);
    f = obia_file_parse(b.d, b.n, &opt, &err);
    assert_null(f);
    assert_int_equal(err.code, OBIA_E_LIMIT);
    assert_non_null(strstr(err.message, "(0040,A730)"));
    assert_non_null(strstr(err.message, "deeper than 5"));

    obia_read_options_init(&opt);
    opt.max_elements = 8;
    obia_error_clear(&err);
    assert_null(obia_file_parse(b.d, b.n, &opt, &err));
    assert_int_equal(err.code, OBIA_E_LIMIT);
}

static void test_un_hides_sequence(void **state)
{
    (void)state;
    static bb b;
    part10_header(&b, OBIA_TS_EXPLICIT_LE);
    /* a public SQ sent as UN of undefined length (its content is implicit VR) */
    ex(&b, 0x0008, 0x1140, "UN", NULL, 0xFFFFFFFF);
    tag(&b, 0xFFFE, 0xE000); put32(&b, 0xFFFFFFFF);
    im(&b, 0x0008, 0x1150, "1.2.840.10008.5.1.4.1.1.2\0", 26);
    im(&b, 0x0008, 0x1155, "1.2.3.4.5.6", 12);
    tag(&b, 0xFFFE, 0xE00D); put32(&b, 0);
    tag(&b, 0xFFFE, 0xE0DD); put32(&b, 0);
    /* a public element sent as UN of defined length takes its known VR */
    ex(&b, 0x0010, 0x0010, "UN", "Known^VR", 8);
    obia_file *f = parse_ok(&b);
    obia_dataset *ds = obia_file_dataset(f);
    const obia_element *sq = obia_dataset_get(ds, OBIA_TAG(8, 0x1140));
    assert_int_equal(obia_element_vr(sq), OBIA_VR_SQ);
    obia_buf s;
    obia_buf_init(&s, 100);
    assert_string_equal(str0(obia_element_item(sq, 0), OBIA_TAG(8, 0x1155), &s), "1.2.3.4.5.6");
    assert_int_equal(obia_element_vr(obia_element_item(sq, 0) ? obia_dataset_get(obia_element_item(sq, 0), OBIA_TAG(8, 0x1150)) : NULL), OBIA_VR_UI);
    assert_int_equal(obia_element_vr(obia_dataset_get(ds, OBIA_TAG(0x10, 0x10))), OBIA_VR_PN);
    obia_buf_free(&s);
    obia_file_free(f);
}

/* ---- defects that are tolerated with a warning ----------------------------------- */

static void test_tolerated_defects(void **state)
{
    (void)state;
    static bb b;
    part10_header(&b, OBIA_TS_EXPLICIT_LE);
    /* wrong group length */
    b.d[132 + 8] += 2;
    exs(&b, 0x0008, 0x0060, "CS", "MR ");    /* odd length */
    ex(&b, 0x0008, 0x1140, "SQ", NULL, 0xFFFFFFFF);
    tag(&b, 0xFFFE, 0xE000); put32(&b, 0xFFFFFFFF);
    exs(&b, 0x0008, 0x1155, "UI", "1.2.3");
    /* file ends: no item or sequence delimiter */
    obia_file *f = parse_ok(&b);
    assert_true(has_warning(f, "group length"));
    assert_true(has_warning(f, "odd value length 3"));
    assert_true(has_warning(f, "no delimiter"));
    const obia_element *sq = obia_dataset_get(obia_file_dataset(f), OBIA_TAG(8, 0x1140));
    assert_int_equal(obia_element_item_count(sq), 1);
    obia_file_free(f);

    /* File Meta without a transfer syntax: guessed from the data */
    static bb c;
    memset(c.d, 0, 128);
    c.n = 128;
    putn(&c, "DICM", 4);
    exs(&c, 2, 2, "UI", "1.2.840.10008.5.1.4.1.1.7");
    im(&c, 0x0008, 0x0060, "OT", 2);
    im(&c, 0x0010, 0x0010, "A^B ", 4);
    f = parse_ok(&c);
    assert_true(has_warning(f, "no Transfer Syntax"));
    assert_string_equal(obia_file_transfer_syntax(f), OBIA_TS_IMPLICIT_LE);
    assert_int_equal(obia_element_vr(obia_dataset_get(obia_file_dataset(f), OBIA_TAG(0x10, 0x10))), OBIA_VR_PN);
    obia_file_free(f);

    /* preamble but no File Meta */
    memset(c.d, 0, 128);
    c.n = 128;
    putn(&c, "DICM", 4);
    exs(&c, 0x0008, 0x0060, "CS", "CT");
    f = parse_ok(&c);
    assert_true(has_warning(f, "no File Meta"));
    obia_file_free(f);

    /* a value cut short by the end of the file */
    c.n = 0;
    exs(&c, 0x0008, 0x0060, "CS", "CT");
    ex(&c, 0x7FE0, 0x0010, "OW", NULL, 100);
    putn(&c, "\1\2\3\4", 4);
    f = parse_ok(&c);
    assert_true(has_warning(f, "cut short"));
    assert_int_equal(obia_element_length(obia_dataset_get(obia_file_dataset(f), OBIA_TAG_PIXEL_DATA)), 4);
    obia_file_free(f);
}

/* ---- errors name the element and the offset ---------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    static bb b;
    b.n = 0;
    exs(&b, 0x0008, 0x0060, "CS", "CT");
    size_t sq_at = b.n;
    ex(&b, 0x0008, 0x1140, "SQ", NULL, 20);
    tag(&b, 0xFFFE, 0xE000); put32(&b, 100);    /* item longer than its sequence */
    exs(&b, 0x0008, 0x1155, "UI", "1.2.3.4");
    exs(&b, 0x0010, 0x0010, "PN", "After^Sequence");
    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_parse(b.d, b.n, NULL, &err);
    assert_null(f);
    assert_int_equal(err.code, OBIA_E_FORMAT);
    assert_int_equal(err.tag, OBIA_TAG(0x0008, 0x1140));
    assert_int_equal(err.offset, sq_at + 12);
    assert_non_null(strstr(err.message, "element (0008,1140) at offset"));
    assert_non_null(strstr(err.message, "exceeds"));

    /* undefined length on a VR that cannot have one */
    b.n = 0;
    exs(&b, 0x0008, 0x0005, "CS", "ISO_IR 100");
    size_t pn_at = b.n;
    ex(&b, 0x0010, 0x0010, "PN", NULL, 0);
    b.d[pn_at + 6] = 0xFF; b.d[pn_at + 7] = 0xFF;  /* 16-bit length 0xFFFF: runs past the end, tolerated */
    obia_error_clear(&err);
    f = obia_file_parse(b.d, b.n, NULL, &err);
    assert_non_null(f);
    assert_int_equal(obia_file_warning_count(f), 1);
    assert_non_null(strstr(obia_file_warning(f, 0)->message, "cut short"));
    obia_file_free(f);

    /* ...but a bare dataset must start with an element that fits */
    b.n = 0;
    ex(&b, 0x0010, 0x0010, "PN", NULL, 0);
    b.d[6] = 0xFF; b.d[7] = 0xFF;
    obia_error_clear(&err);
    assert_null(obia_file_parse(b.d, b.n, NULL, &err));
    assert_int_equal(err.code, OBIA_E_FORMAT);
    assert_non_null(strstr(err.message, "does not fit"));

    /* text is not DICOM */
    static const char text[] = "path\tsource\tlicence\nThis is a README, not an image.\n";
    obia_error_clear(&err);
    assert_null(obia_file_parse((const uint8_t *)text, sizeof text - 1, NULL, &err));
    assert_int_equal(err.code, OBIA_E_FORMAT);
    assert_non_null(strstr(err.message, "not DICOM"));
    assert_non_null(strstr(err.message, "(6170,6874)"));

    /* a length beyond the configured maximum */
    b.n = 0;
    ex(&b, 0x7FE0, 0x0010, "OB", "\0\0\0\0", 4);
    obia_read_options opt;
    obia_read_options_init(&opt);
    opt.max_value_length = 2;
    obia_error_clear(&err);
    assert_null(obia_file_parse(b.d, b.n, &opt, &err));
    assert_int_equal(err.code, OBIA_E_LIMIT);
    assert_non_null(strstr(err.message, "(7FE0,0010)"));

    /* garbage in a sequence */
    b.n = 0;
    ex(&b, 0x0008, 0x1140, "SQ", NULL, 0xFFFFFFFF);
    tag(&b, 0x0008, 0x0060); put32(&b, 0);
    obia_error_clear(&err);
    assert_null(obia_file_parse(b.d, b.n, NULL, &err));
    assert_non_null(strstr(err.message, "expected an item"));

    /* a missing file */
    obia_error_clear(&err);
    assert_null(obia_file_read("/nonexistent/file.dcm", NULL, &err));
    assert_int_equal(err.code, OBIA_E_IO);
}

static void test_header_only(void **state)
{
    (void)state;
    static bb b;
    part10_header(&b, OBIA_TS_EXPLICIT_LE);
    exs(&b, 0x0028, 0x0010, "US", "\x10\x00");
    ex(&b, 0x7FE0, 0x0010, "OW", NULL, 60000);
    b.n += 60000;
    exs(&b, 0xFFFC, 0xFFFC, "OB", "");
    obia_read_options opt;
    obia_read_options_init(&opt);
    opt.header_only = true;
    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_parse(b.d, b.n, &opt, &err);
    assert_non_null(f);
    assert_true(obia_file_stopped_at_pixels(f));
    assert_null(obia_dataset_get(obia_file_dataset(f), OBIA_TAG_PIXEL_DATA));
    assert_non_null(obia_dataset_get(obia_file_dataset(f), OBIA_TAG(0x28, 0x10)));
    obia_buf out;
    obia_buf_init(&out, 1 << 20);
    assert_false(obia_file_write(f, OBIA_WRITE_EXPLICIT_LE, obia_sink_buf, &out, &err));
    obia_buf_free(&out);
    obia_file_free(f);
}

/* ---- editing ---------------------------------------------------------------------- */

static void test_editing(void **state)
{
    (void)state;
    obia_dataset *ds = obia_dataset_new();
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x10, 0x20), OBIA_VR_NONE, "P1", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x8, 0x60), OBIA_VR_NONE, "CT", &err));
    assert_true(obia_dataset_set_int(ds, OBIA_TAG(0x28, 0x10), OBIA_VR_NONE, 512, &err));
    assert_true(obia_dataset_set_double(ds, OBIA_TAG(0x18, 0x50), OBIA_VR_NONE, 1.25, &err));
    assert_true(obia_dataset_set_path(ds, "ReferencedSeriesSequence[0].SeriesInstanceUID", "1.2.3", &err));
    assert_true(obia_dataset_set_path(ds, "ReferencedSeriesSequence[1].SeriesInstanceUID", "1.2.4", &err));
    assert_true(obia_dataset_set_path(ds, "(0028,0011)", "256", &err));
    assert_true(obia_dataset_set_path(ds, "00280030", "0.5\\0.5", &err));
    assert_true(obia_dataset_set_path(ds, "FrameIncrementPointer", "00181063", &err));
    /* iteration is in tag order whatever the order of insertion */
    uint32_t prev = 0;
    for (size_t i = 0; i < obia_dataset_count(ds); i++) {
        uint32_t t = obia_element_tag(obia_dataset_at(ds, i));
        assert_true(t > prev);
        prev = t;
    }
    obia_buf s;
    obia_buf_init(&s, 100);
    const obia_element *el = obia_dataset_find(ds, "ReferencedSeriesSequence[1].SeriesInstanceUID", &err);
    assert_non_null(el);
    assert_int_equal(obia_element_vr(el), OBIA_VR_UI);
    int64_t v;
    assert_true(obia_element_get_int(obia_dataset_get(ds, OBIA_TAG(0x28, 0x11)), 0, &v, NULL));
    assert_int_equal(v, 256);
    assert_int_equal(obia_element_vm(obia_dataset_get(ds, OBIA_TAG(0x28, 0x30))), 2);
    assert_string_equal(str0(ds, OBIA_TAG(0x18, 0x50), &s), "1.25");
    /* errors */
    obia_error_clear(&err);
    assert_false(obia_dataset_set_path(ds, "ReferencedSeriesSequence[5].SeriesInstanceUID", "x", &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);
    obia_error_clear(&err);
    assert_false(obia_dataset_set_path(ds, "NotAKeyword", "x", &err));
    assert_non_null(strstr(err.message, "unknown keyword"));
    obia_error_clear(&err);
    assert_false(obia_dataset_set_int(ds, OBIA_TAG(0x28, 0x10), OBIA_VR_NONE, 70000, &err));
    obia_error_clear(&err);
    assert_false(obia_dataset_set_string(ds, OBIA_TAG(0x10, 0x10), OBIA_VR_NONE, "J\xc3\xa9r\xc3\xb4me", &err));
    assert_int_equal(err.code, OBIA_E_CHARSET);
    obia_error_clear(&err);
    assert_true(obia_dataset_set_string(ds, OBIA_TAG_SPECIFIC_CHARSET, OBIA_VR_NONE, "ISO_IR 192", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x10, 0x10), OBIA_VR_NONE, "J\xc3\xa9r\xc3\xb4me", &err));
    /* remove */
    assert_true(obia_dataset_remove_path(ds, "ReferencedSeriesSequence[0].SeriesInstanceUID", &err));
    assert_null(obia_dataset_find(ds, "ReferencedSeriesSequence[0].SeriesInstanceUID", NULL));
    assert_true(obia_dataset_remove(ds, OBIA_TAG(0x8, 0x60)));
    assert_false(obia_dataset_remove(ds, OBIA_TAG(0x8, 0x60)));
    obia_buf_free(&s);
    obia_dataset_free(ds);
}

static void test_private_path(void **state)
{
    (void)state;
    obia_dataset *ds = obia_dataset_new();
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0009, 0x0011), OBIA_VR_NONE, "GEMS_IDEN_01", &err));
    assert_true(obia_dataset_set_bytes(ds, OBIA_TAG(0x0009, 0x1104), OBIA_VR_SH, "CT01", 4, &err));
    const obia_element *el = obia_dataset_find(ds, "(0009,\"GEMS_IDEN_01\",04)", &err);
    assert_non_null(el);
    assert_int_equal(obia_element_tag(el), OBIA_TAG(0x0009, 0x1104));
    obia_error_clear(&err);
    assert_null(obia_dataset_find(ds, "(0009,\"OTHER\",04)", &err));
    assert_non_null(strstr(err.message, "no private block"));
    obia_dataset_free(ds);
}

/* ---- writing ---------------------------------------------------------------------- */

static void test_write_roundtrip(void **state)
{
    (void)state;
    static bb b;
    part10_header(&b, OBIA_TS_EXPLICIT_LE);
    exs(&b, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7");
    exs(&b, 0x0008, 0x0018, "UI", "1.2.3.4.5");   /* odd length: padded with NUL */
    exs(&b, 0x0008, 0x0060, "CS", "OT ");
    exs(&b, 0x0010, 0x0010, "PN", "Round^Trip");
    ex(&b, 0x0008, 0x1140, "SQ", NULL, 0xFFFFFFFF);
    tag(&b, 0xFFFE, 0xE000); put32(&b, 0xFFFFFFFF);
    exs(&b, 0x0008, 0x1155, "UI", "1.2.3.9");
    tag(&b, 0xFFFE, 0xE00D); put32(&b, 0);
    tag(&b, 0xFFFE, 0xE0DD); put32(&b, 0);
    ex(&b, 0x0028, 0x0010, "US", "\2\0", 2);
    ex(&b, 0x7FE0, 0x0010, "OB", "\1\2\3", 3);
    obia_file *f = parse_ok(&b);
    for (int syn = OBIA_WRITE_EXPLICIT_LE; syn <= OBIA_WRITE_DEFLATED; syn++) {
        obia_buf out;
        obia_buf_init(&out, 1 << 20);
        obia_error err;
        obia_error_clear(&err);
        assert_true(obia_file_write(f, (obia_write_syntax)syn, obia_sink_buf, &out, &err));
        assert_int_equal(out.len % 2, syn == OBIA_WRITE_DEFLATED ? out.len % 2 : 0);
        assert_memory_equal(out.data + 128, "DICM", 4);
        obia_file *g = obia_file_parse(out.data, out.len, NULL, &err);
        assert_non_null(g);
        assert_int_equal(obia_file_warning_count(g), 0);
        char why[256];
        if (syn == OBIA_WRITE_IMPLICIT_LE) {
            /* OB pixel data comes back as OW: the same bytes */
            assert_false(obia_dataset_equal(obia_file_dataset(f), obia_file_dataset(g), why, sizeof why));
            assert_non_null(strstr(why, "(7FE0,0010): VR differs"));
            if (!obia_dataset_equivalent(obia_file_dataset(f), obia_file_dataset(g), why, sizeof why))
                fail_msg("syntax %d: %s", syn, why);
        } else if (!obia_dataset_equal(obia_file_dataset(f), obia_file_dataset(g), why, sizeof why)) {
            fail_msg("syntax %d: %s", syn, why);
        }
        obia_dataset *m = obia_file_meta(g);
        obia_buf s;
        obia_buf_init(&s, 200);
        assert_string_equal(str0(m, OBIA_TAG(2, 0x12), &s), OBIA_IMPLEMENTATION_CLASS_UID);
        assert_string_equal(str0(m, OBIA_TAG(2, 0x13), &s), OBIA_IMPLEMENTATION_VERSION);
        assert_string_equal(str0(m, OBIA_TAG(2, 3), &s), "1.2.3.4.5");
        assert_string_equal(str0(m, OBIA_TAG(2, 0x10), &s),
                            syn == OBIA_WRITE_IMPLICIT_LE ? OBIA_TS_IMPLICIT_LE
                            : syn == OBIA_WRITE_DEFLATED ? OBIA_TS_DEFLATED_LE : OBIA_TS_EXPLICIT_LE);
        /* group length is right */
        int64_t gl;
        assert_true(obia_element_get_int(obia_dataset_get(m, OBIA_TAG(2, 0)), 0, &gl, NULL));
        assert_false(has_warning(g, "group length"));
        /* padding characters: UI with NUL, CS with space, OB with NUL */
        const obia_element *uid = obia_dataset_get(obia_file_dataset(g), OBIA_TAG(8, 0x18));
        assert_int_equal(obia_element_length(uid), 10);
        assert_int_equal(obia_element_bytes(uid)[9], 0);
        obia_buf_free(&s);
        obia_file_free(g);
        obia_buf_free(&out);
    }
    obia_file_free(f);
}

/* ---- DICOM JSON --------------------------------------------------------------------- */

static char *json_of(const obia_dataset *ds, const obia_json_options *opt)
{
    static obia_buf out;
    obia_buf_free(&out);
    obia_buf_init(&out, 1 << 20);
    obia_error err;
    obia_error_clear(&err);
    if (!obia_json_write(ds, opt, obia_sink_buf, &out, &err))
        fail_msg("json: %s", err.message);
    return obia_buf_cstr(&out);
}

static void test_json(void **state)
{
    (void)state;
    static bb b;
    b.n = 0;
    ex(&b, 0x0008, 0x0000, "UL", "\x40\0\0\0", 4);   /* group length: not in JSON */
    exs(&b, 0x0008, 0x0008, "CS", "ORIGINAL\\\\AXIAL ");
    exs(&b, 0x0010, 0x0010, "PN", "Yamada^Tarou=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e=");
    exs(&b, 0x0008, 0x0005, "CS", "ISO_IR 192");
    exs(&b, 0x0018, 0x0050, "DS", " +2.50 ");
    exs(&b, 0x0020, 0x0013, "IS", "-7");
    exs(&b, 0x0020, 0x0032, "DS", "1\\-2.5e2\\.5");
    ex(&b, 0x0020, 0x5000, "AT", "\x10\x00\x20\x00\xe0\x7f\x10\x00", 8);
    ex(&b, 0x0028, 0x0010, "US", "\0\2", 2);
    ex(&b, 0x0040, 0x9216, "FL", (float[]){0.3f}, 4);
    ex(&b, 0x0010, 0x1020, "DS", "", 0);
    exs(&b, 0x0020, 0x4000, "LT", "a\"quote\\back\nslash");
    ex(&b, 0x0008, 0x1140, "SQ", NULL, 0xFFFFFFFF);
    tag(&b, 0xFFFE, 0xE000); put32(&b, 0xFFFFFFFF);
    exs(&b, 0x0008, 0x1155, "UI", "1.2");
    tag(&b, 0xFFFE, 0xE00D); put32(&b, 0);
    tag(&b, 0xFFFE, 0xE0DD); put32(&b, 0);
    ex(&b, 0x7FE0, 0x0010, "OB", "\1\2\3\4", 4);
    obia_file *f = parse_ok(&b);
    obia_json_options opt;
    obia_json_options_init(&opt);
    char *j = json_of(obia_file_dataset(f), &opt);
    assert_non_null(strstr(j, "\"00080008\":{\"vr\":\"CS\",\"Value\":[\"ORIGINAL\",null,\"AXIAL\"]}"));
    assert_non_null(strstr(j, "\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Yamada^Tarou\","
                              "\"Ideographic\":\"\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e\"}]}"));
    assert_non_null(strstr(j, "\"00180050\":{\"vr\":\"DS\",\"Value\":[2.5]}"));
    assert_non_null(strstr(j, "\"00200013\":{\"vr\":\"IS\",\"Value\":[-7]}"));
    assert_non_null(strstr(j, "\"00200032\":{\"vr\":\"DS\",\"Value\":[1,-250,0.5]}"));
    assert_non_null(strstr(j, "\"00205000\":{\"vr\":\"AT\",\"Value\":[\"00100020\",\"7FE00010\"]}"));
    assert_non_null(strstr(j, "\"00280010\":{\"vr\":\"US\",\"Value\":[512]}"));
    assert_non_null(strstr(j, "\"00409216\":{\"vr\":\"FL\",\"Value\":[0.3]}"));
    assert_non_null(strstr(j, "\"00101020\":{\"vr\":\"DS\"}"));
    assert_non_null(strstr(j, "\"Value\":[\"a\\\"quote\\\\back\\nslash\"]"));
    assert_non_null(strstr(j, "\"00081140\":{\"vr\":\"SQ\",\"Value\":[{\"00081155\":{\"vr\":\"UI\",\"Value\":[\"1.2\"]}}]}"));
    assert_non_null(strstr(j, "\"7FE00010\":{\"vr\":\"OB\",\"InlineBinary\":\"AQIDBA==\"}"));
    assert_null(strstr(j, "00080000"));   /* PS3.18 F.2.2 */
    assert_int_equal(j[1], '"');          /* the object starts with an element */
    /* bulk data above the threshold becomes a URI */
    opt.bulk_threshold = 2;
    opt.bulk_uri_prefix = "http://h/bulk";
    j = json_of(obia_file_dataset(f), &opt);
    assert_non_null(strstr(j, "\"7FE00010\":{\"vr\":\"OB\",\"BulkDataURI\":\"http://h/bulk/7FE00010\"}"));
    obia_file_free(f);
}

/* Offset of the first item (FFFE,E000) whose dataset holds `needle`. */
static size_t item_holding(const uint8_t *d, size_t n, const char *needle)
{
    size_t last_item = 0, k = strlen(needle);
    for (size_t i = 0; i + 4 <= n; i++) {
        if (d[i] == 0xFE && d[i + 1] == 0xFF && d[i + 2] == 0x00 && d[i + 3] == 0xE0)
            last_item = i;
        if (i + k <= n && memcmp(d + i, needle, k) == 0)
            return last_item;
    }
    return 0;
}

static uint32_t ul_at(const obia_dataset *ds, uint32_t tag)
{
    int64_t v = -1;
    const obia_element *el = obia_dataset_get(ds, tag);
    assert_non_null(el);
    assert_true(obia_element_get_int(el, 0, &v, NULL));
    return (uint32_t)v;
}

static void test_dicomdir_offsets(void **state)
{
    (void)state;
    /* a DICOMDIR with two patient records: root -> P1 -> P2; P1's lower
     * level -> a study record. Offsets count from the start of the data. */
    static bb b;
    b.n = 0;
    size_t first_at = b.n;
    ex(&b, 0x0004, 0x1200, "UL", "\0\0\0\0", 4);
    size_t last_at = b.n;
    ex(&b, 0x0004, 0x1202, "UL", "\0\0\0\0", 4);
    ex(&b, 0x0004, 0x1220, "SQ", NULL, 0xFFFFFFFF);
    size_t rec[3], next_at[3], lower_at[3];
    static const char *const key[3] = {"PATIENT1", "STUDYONE", "PATIENT2"};
    for (int r = 0; r < 3; r++) {
        rec[r] = b.n;
        tag(&b, 0xFFFE, 0xE000); put32(&b, 0xFFFFFFFF);
        next_at[r] = b.n;
        ex(&b, 0x0004, 0x1400, "UL", "\0\0\0\0", 4);
        lower_at[r] = b.n;
        ex(&b, 0x0004, 0x1420, "UL", "\0\0\0\0", 4);
        exs(&b, 0x0004, 0x1430, "CS", r == 1 ? "STUDY " : "PATIENT ");
        exs(&b, 0x0010, 0x0020, "LO", key[r]);
        tag(&b, 0xFFFE, 0xE00D); put32(&b, 0);
    }
    tag(&b, 0xFFFE, 0xE0DD); put32(&b, 0);
    #define SET_UL(at, v) (b.d[(at) + 8] = (uint8_t)(v), b.d[(at) + 9] = (uint8_t)((v) >> 8))
    SET_UL(first_at, rec[0]);
    SET_UL(last_at, rec[2]);
    SET_UL(next_at[0], rec[2]);
    SET_UL(lower_at[0], rec[1]);
    #undef SET_UL
    obia_file *f = parse_ok(&b);

    obia_buf out;
    obia_buf_init(&out, 1u << 20);
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_file_write(f, OBIA_WRITE_EXPLICIT_LE, obia_sink_buf, &out, &err));
    obia_file *g = obia_file_parse(out.data, out.len, NULL, &err);
    assert_non_null(g);
    const obia_dataset *ds = obia_file_dataset(g);
    size_t p1 = item_holding(out.data, out.len, "PATIENT1");
    size_t st = item_holding(out.data, out.len, "STUDYONE");
    size_t p2 = item_holding(out.data, out.len, "PATIENT2");
    assert_true(p1 > rec[0] + 132);   /* the records moved */
    assert_int_equal(ul_at(ds, OBIA_TAG(0x0004, 0x1200)), p1);
    assert_int_equal(ul_at(ds, OBIA_TAG(0x0004, 0x1202)), p2);
    const obia_element *seq = obia_dataset_get(ds, OBIA_TAG(0x0004, 0x1220));
    assert_int_equal(obia_element_item_count(seq), 3);
    const obia_dataset *r0 = obia_element_item(seq, 0);
    assert_int_equal(ul_at(r0, OBIA_TAG(0x0004, 0x1400)), p2);
    assert_int_equal(ul_at(r0, OBIA_TAG(0x0004, 0x1420)), st);
    assert_int_equal(ul_at(obia_element_item(seq, 2), OBIA_TAG(0x0004, 0x1400)), 0);
    obia_file_free(g);

    /* a DICOMDIR is only ever Explicit VR Little Endian */
    obia_buf_reset(&out);
    obia_error_clear(&err);
    assert_false(obia_file_write(f, OBIA_WRITE_IMPLICIT_LE, obia_sink_buf, &out, &err));
    assert_non_null(strstr(err.message, "DICOMDIR"));
    obia_error_clear(&err);
    assert_false(obia_file_write(f, OBIA_WRITE_DEFLATED, obia_sink_buf, &out, &err));
    obia_buf_free(&out);
    obia_file_free(f);
}

static void test_dump(void **state)
{
    (void)state;
    static bb b;
    b.n = 0;
    exs(&b, 0x0010, 0x0010, "PN", "Dump^Test");
    ex(&b, 0x0028, 0x0010, "US", "\0\2", 2);
    obia_file *f = parse_ok(&b);
    obia_buf out;
    obia_buf_init(&out, 1 << 20);
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dump_file(f, NULL, obia_sink_buf, &out, &err));
    const char *t = obia_buf_cstr(&out);
    assert_non_null(strstr(t, "(0010,0010) PN [Dump^Test]"));
    assert_non_null(strstr(t, "# 9, 1 PatientName"));
    assert_non_null(strstr(t, "(0028,0010) US 512"));
    obia_buf_free(&out);
    obia_file_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vr_properties),
        cmocka_unit_test(test_dictionary),
        cmocka_unit_test(test_every_vr_explicit),
        cmocka_unit_test(test_implicit_and_bare),
        cmocka_unit_test(test_big_endian),
        cmocka_unit_test(test_deflated),
        cmocka_unit_test(test_encapsulated),
        cmocka_unit_test(test_sequences_and_depth),
        cmocka_unit_test(test_un_hides_sequence),
        cmocka_unit_test(test_tolerated_defects),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_editing),
        cmocka_unit_test(test_private_path),
        cmocka_unit_test(test_write_roundtrip),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_dicomdir_offsets),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
