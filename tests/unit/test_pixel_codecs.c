/* Unit tests of the library-backed decoders (lib/pixel/jpeg.c, jpegls.c,
 * j2k.c): the JPEG, JPEG-LS, JPEG 2000 and HTJ2K files of the test corpus
 * decoded frame by frame and compared with references, and hostile streams
 * (truncated, of another size than the header says, garbage, corrupted)
 * that must fail cleanly.
 *
 * References, in order of preference:
 *  - the same image stored natively in the corpus (test_native_twins: the
 *    CT of cornerstone3D in 13 transfer syntaxes, the Siemens MR of
 *    dcm_qa_ts in 9, emri_small, MR_small, TestPattern, SC_rgb_gdcm2k; in
 *    ../shared/testdata, skipped without it). Lossless syntaxes must give
 *    exactly the native values, lossy ones stay within the tolerance given
 *    with each pair;
 *  - the SHA-256 of the frame as pydicom 2.3 returns it (test_checksums),
 *    computed once on Debian 12: pydicom has no handler for these syntaxes
 *    there, so the file was first made native with DCMTK (dcmdjpeg,
 *    dcmdjpls) or GDCM (gdcmconv --raw), which decode JPEG with IJG code,
 *    JPEG-LS with their own CharLS and JPEG 2000 with OpenJPEG:
 *      dcmdjpls IN ref.dcm   # or dcmdjpeg / gdcmconv --raw
 *      a = pydicom.dcmread("ref.dcm").pixel_array.reshape(frames, rows, cols, spp)
 *      hashlib.sha256(a[frame].astype("<u2").tobytes()).hexdigest()  # "u1" for 8 bits
 *    (JPEG-LS decoding is exact even for near-lossless streams, and these
 *    lossy JPEG and JPEG 2000 frames decode bit-exactly in both toolkits);
 *  - values published by pydicom 3.0 (tests/pixels/pixels_reference.py)
 *    for the files no Debian tool decodes (HTJ2K) and for the cases where
 *    libraries disagree (signed JPEG-LS, J2K signedness, RGB JPEG without
 *    APP14), in test_reference_values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/dicom.h"
#include "obia/pixel.h"
#include "../../lib/pixel/codec.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TS_JPEG_BASELINE "1.2.840.10008.1.2.4.50"
#define TS_J2K "1.2.840.10008.1.2.4.91"

/* ---- corpus files ------------------------------------------------------------------- */

typedef struct corpus_file {
    obia_file *f;
    obia_pixel_info info;
    char path[1024];
} corpus_file;

static uint64_t get_uint(const obia_dataset *ds, uint16_t g, uint16_t e, uint64_t dflt)
{
    const obia_element *el = obia_dataset_get(ds, OBIA_TAG(g, e));
    uint64_t v;
    obia_error err;
    obia_error_clear(&err);
    return el && obia_element_get_uint(el, 0, &v, &err) ? v : dflt;
}

/* Open dir/rel and describe its pixels by hand from the header; false if
 * the file is absent (the shared corpus may be). */
static bool open_corpus(const char *dir, const char *rel, corpus_file *cf)
{
    memset(cf, 0, sizeof *cf);
    snprintf(cf->path, sizeof cf->path, "%s/%s", dir, rel);
    if (access(cf->path, R_OK) != 0)
        return false;
    obia_error err;
    obia_error_clear(&err);
    cf->f = obia_file_read(cf->path, NULL, &err);
    if (!cf->f)
        fail_msg("%s: %s", rel, err.message);
    const obia_dataset *ds = obia_file_dataset(cf->f);
    obia_pixel_info *in = &cf->info;
    in->rows = (uint32_t)get_uint(ds, 0x0028, 0x0010, 0);
    in->columns = (uint32_t)get_uint(ds, 0x0028, 0x0011, 0);
    in->frames = (uint32_t)get_uint(ds, 0x0028, 0x0008, 1);
    in->samples = (uint16_t)get_uint(ds, 0x0028, 0x0002, 1);
    in->bits_allocated = (uint16_t)get_uint(ds, 0x0028, 0x0100, 0);
    in->bits_stored = (uint16_t)get_uint(ds, 0x0028, 0x0101, in->bits_allocated);
    in->high_bit = (uint16_t)get_uint(ds, 0x0028, 0x0102, in->bits_stored - 1u);
    in->is_signed = get_uint(ds, 0x0028, 0x0103, 0) == 1;
    in->planar = get_uint(ds, 0x0028, 0x0006, 0) == 1;
    const obia_element *px = obia_dataset_get(ds, OBIA_TAG_PIXEL_DATA);
    in->encapsulated = px && obia_element_is_encapsulated(px);
    obia_buf b;
    obia_buf_init(&b, 256);
    const char *pi = obia_dataset_get_cstr(ds, OBIA_TAG(0x0028, 0x0004), &b);
    snprintf(in->photometric, sizeof in->photometric, "%s", pi ? pi : "");
    obia_buf_free(&b);
    snprintf(in->transfer_syntax, sizeof in->transfer_syntax, "%s",
             obia_file_transfer_syntax(cf->f));
    if (!px || in->rows == 0 || in->columns == 0 || in->bits_allocated == 0)
        fail_msg("%s: no usable pixel description", rel);
    return true;
}

static size_t frame_size(const obia_pixel_info *in)
{
    size_t bps = in->bits_allocated <= 8 ? 1 : in->bits_allocated / 8;
    return (size_t)in->rows * in->columns * in->samples * bps;
}

static bool starts_codestream(const uint8_t *p, size_t n)
{
    static const uint8_t jp2[] = {0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20};
    return (n >= 2 && p[0] == 0xFF && (p[1] == 0xD8 || p[1] == 0x4F)) ||
           (n >= 8 && memcmp(p, jp2, sizeof jp2) == 0);
}

/* The bytes of encapsulated frame index (malloc'ed): fragment index + 1
 * when there is one fragment per frame; else the fragments from the
 * index-th one that starts a codestream up to the next (each frame starts
 * a fragment, PS3.5 A.4), which also joins all fragments of one frame. */
static uint8_t *encoded_frame(const corpus_file *cf, uint32_t index, size_t *len)
{
    const obia_element *px = obia_dataset_get(obia_file_dataset(cf->f), OBIA_TAG_PIXEL_DATA);
    size_t n = obia_element_fragment_count(px);
    assert_true(n >= 2);
    obia_buf out;
    obia_buf_init(&out, (size_t)1 << 30);
    size_t first = 1, last = n - 1;   /* fragments of the frame, inclusive */
    if (n - 1 == cf->info.frames) {
        first = last = index + 1;
    } else if (cf->info.frames > 1) {
        uint32_t seen = 0;
        first = 0;
        for (size_t i = 1; i < n; i++) {
            size_t fl;
            const uint8_t *fp = obia_element_fragment(px, i, &fl, NULL);
            if (!starts_codestream(fp, fl))
                continue;
            if (seen == index)
                first = i;
            else if (seen == index + 1) {
                last = i - 1;
                break;
            }
            seen++;
        }
        if (first == 0)
            fail_msg("%s: no frame %u among %zu fragments", cf->path, index + 1, n - 1);
    }
    for (size_t i = first; i <= last; i++) {
        size_t fl;
        const uint8_t *fp = obia_element_fragment(px, i, &fl, NULL);
        assert_true(obia_buf_append(&out, fp, fl));
    }
    *len = out.len;
    return out.data;
}

static pixel_decoder decoder_for(const char *ts)
{
    static const struct {
        const char *suffix;
        pixel_decoder dec;
    } map[] = {
        {".4.50", pixel_jpeg_decode},    {".4.51", pixel_jpeg_decode},
        {".4.53", pixel_jpeg_decode},    {".4.55", pixel_jpeg_decode},
        {".4.57", pixel_jpeg_decode},    {".4.70", pixel_jpeg_decode},
        {".4.80", pixel_jpegls_decode},  {".4.81", pixel_jpegls_decode},
        {".4.90", pixel_j2k_decode},     {".4.91", pixel_j2k_decode},
        {".4.201", pixel_j2k_decode},    {".4.202", pixel_j2k_decode},
        {".4.203", pixel_j2k_decode},
    };
    size_t tl = strlen(ts);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t sl = strlen(map[i].suffix);
        if (tl > sl && strcmp(ts + tl - sl, map[i].suffix) == 0 &&
            strncmp(ts, "1.2.840.10008.1.2", 17) == 0)
            return map[i].dec;
    }
    fail_msg("no decoder for %s", ts);
    return NULL;
}

/* Decode into a buffer of exactly the frame's size, from a copy of exactly
 * len bytes (so ASan sees any access past either); on failure the error
 * must say something and the photometric must be untouched. */
static uint8_t *decode(pixel_decoder dec, const uint8_t *src, size_t len,
                       const obia_pixel_info *in, char photometric[20], obia_error *err)
{
    size_t n = frame_size(in);
    uint8_t *dst = malloc(n ? n : 1);
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(dst);
    assert_non_null(copy);
    if (len)
        memcpy(copy, src, len);
    char pm[20];
    memcpy(pm, in->photometric, sizeof pm);
    obia_error_clear(err);
    bool ok = dec(copy, len, in, dst, n, pm, err);
    free(copy);
    if (photometric)
        memcpy(photometric, pm, sizeof pm);
    if (!ok) {
        assert_int_not_equal(err->code, OBIA_E_OK);
        assert_true(err->message[0] != '\0');
        assert_string_equal(pm, in->photometric);
        free(dst);
        return NULL;
    }
    assert_int_equal(err->code, OBIA_E_OK);
    return dst;
}

static uint8_t *decode_corpus_frame(const corpus_file *cf, uint32_t index, char photometric[20])
{
    size_t len;
    uint8_t *src = encoded_frame(cf, index, &len);
    obia_error err;
    uint8_t *out = decode(decoder_for(cf->info.transfer_syntax), src, len, &cf->info,
                          photometric, &err);
    free(src);
    if (!out)
        fail_msg("%s frame %u: %s: %s", cf->path, index + 1, obia_status_name(err.code),
                 err.message);
    return out;
}

/* Value i (sample order: pixels, samples interleaved) of a frame. */
static int64_t value_at(const obia_pixel_info *in, const uint8_t *d, size_t i)
{
    switch (in->bits_allocated <= 8 ? 1 : in->bits_allocated / 8) {
    case 1:
        return in->is_signed ? (int64_t)(int8_t)d[i] : (int64_t)d[i];
    case 2: {
        uint16_t u = obia_rd16le(d + 2 * i);
        return in->is_signed ? (int64_t)(int16_t)u : (int64_t)u;
    }
    default: {
        uint32_t u = obia_rd32le(d + 4 * i);
        return in->is_signed ? (int64_t)(int32_t)u : (int64_t)u;
    }
    }
}

/* Native frame index of a file, samples interleaved (malloc'ed). */
static uint8_t *native_frame(const corpus_file *cf, uint32_t index)
{
    const obia_element *px = obia_dataset_get(obia_file_dataset(cf->f), OBIA_TAG_PIXEL_DATA);
    size_t n = frame_size(&cf->info);
    assert_true(cf->info.bits_allocated >= 8);
    assert_true(obia_element_length(px) >= n * (index + 1));
    const uint8_t *src = obia_element_bytes(px) + n * index;
    uint8_t *out = malloc(n);
    assert_non_null(out);
    size_t bps = cf->info.bits_allocated / 8, pixels = (size_t)cf->info.rows * cf->info.columns;
    if (cf->info.samples > 1 && cf->info.planar) {
        for (size_t s = 0; s < cf->info.samples; s++)
            for (size_t i = 0; i < pixels; i++)
                memcpy(out + (i * cf->info.samples + s) * bps, src + (s * pixels + i) * bps, bps);
    } else {
        memcpy(out, src, n);
    }
    return out;
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    assert_true(EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) == 1);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The NEAR parameter of a JPEG-LS stream's first scan (0: lossless). */
static int jpegls_near(const uint8_t *p, size_t n)
{
    for (size_t i = 2; i + 4 < n;) {
        if (p[i] != 0xFF) {
            i++;
            continue;
        }
        uint8_t m = p[i + 1];
        size_t seg = (size_t)p[i + 2] << 8 | p[i + 3];
        if (m == 0xDA && i + 5 < n) {
            size_t at = i + 5 + 2u * p[i + 4];
            return at < n ? p[at] : -1;
        }
        i += 2 + seg;
    }
    return -1;
}

/* ---- references -------------------------------------------------------------------- */

/* Frames of tests/data files and the SHA-256 of their decoded values (see
 * the head of this file for how each was made). */
static void test_checksums(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        uint32_t frame;
        const char *photometric;
        const char *sha256;
    } cases[] = {
        /* JPEG-LS lossless, interleave none and line (dcmdjpls) */
        {"gh-pydicom-data/JLSL_RGB_ILV0.dcm", 0, "RGB",
         "ed1fce22a62e4194dd75dd98e7c04aa6978a2858108714876a615c5d5d3c7dff"},
        {"gh-pydicom-data/JLSL_RGB_ILV1.dcm", 0, "RGB",
         "ed1fce22a62e4194dd75dd98e7c04aa6978a2858108714876a615c5d5d3c7dff"},
        /* JPEG-LS near-lossless (dcmdjpls) */
        {"gh-pydicom-data/JLSN_RGB_ILV0.dcm", 0, "RGB",
         "646fdbe8c1803837e525e3532235b754281a119da35c05cb592f49aca41e7a27"},
        /* 7 bits stored (gdcmconv --raw) */
        {"gh-pydicom-data/JLSL_08_07_0_1F.dcm", 0, "MONOCHROME2",
         "210dc401f95db43be537b01d15cd4ad5d3d3016ec415a98ac93dd5bd8e5c8393"},
        /* two frames in several fragments, no offset table (dcmdjpls) */
        {"gh-dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.81.dcm", 0,
         "MONOCHROME2", "887c791c6343d44f0b498e405d993758847bb3ffe9dc04df76a011d0650bedfd"},
        {"gh-dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.81.dcm", 1,
         "MONOCHROME2", "fc1f0e546b05af60eae84bea6ca5e2360615e0bb2a6c761227a3e98b108e8b2f"},
        /* JPEG 2000 lossy RGB (gdcmconv --raw) */
        {"deb-python3-pydicom/test_files/SC_rgb_gdcm_KY.dcm", 0, "RGB",
         "169e619557b12114a7f0be8602026e9abb3d5045804311736ec14cecb026aca9"},
        /* 11-bit codestream, Bits Stored 16 (gdcmconv --raw) */
        {"gh-pylibjpeg-data/JPEG2000/OsirixFake16BitsStoredFakeSpacing.dcm", 0, "MONOCHROME2",
         "cab7acb042b2af348a89a13965f4f1595b05d1ab6ceb217bc2e741c1803743f4"},
        /* JPEG 2000 lossless frames of a file cut before its delimiter:
         * frame 1 of emri_small.dcm (native, pydicom) */
        {"gh-pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm", 0, "MONOCHROME2",
         "c789183acdfdfb1cb565fc6615e0c4b71914f42bf96ede4c0041e2009ea79843"},
        {"gh-pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm", 1, "MONOCHROME2",
         "4d4d290ccca70ad36d1d3a291dbf539eeff2287e45dc11cc63b047fdd9d7ab82"},
        /* JPEG baseline, RGB without colour transform and a short APP14
         * (gdcmconv --raw) */
        {"deb-python3-pydicom/test_files/SC_rgb_jpeg.dcm", 0, "RGB",
         "be7aa556b206ac445bc4125d24213bfac8832980138d54ece2b90be6e3d63d74"},
        /* JPEG baseline YBR_FULL with JFIF, 3 x 3: comes out RGB (dcmdjpeg) */
        {"deb-python3-pydicom/test_files/SC_rgb_small_odd_jpeg.dcm", 0, "RGB",
         "f750a80478763f97d94bbd9caeaee3dd1e16794fe9a95da34a991bfb7c42d4f5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        corpus_file cf;
        if (!open_corpus(OBIA_TEST_DATA, cases[i].path, &cf))
            fail_msg("%s is missing from tests/data", cases[i].path);
        char pm[20];
        uint8_t *out = decode_corpus_frame(&cf, cases[i].frame, pm);
        char hex[65];
        sha256_hex(out, frame_size(&cf.info), hex);
        if (strcmp(hex, cases[i].sha256) != 0)
            fail_msg("%s frame %u: SHA-256 %s, not %s", cases[i].path, cases[i].frame + 1, hex,
                     cases[i].sha256);
        assert_string_equal(pm, cases[i].photometric);
        free(out);
        obia_file_free(cf.f);
    }
}

/* Values published by pydicom 3.0 (pixels_reference.py): (row, column,
 * sample) of frame 1. */
typedef struct spot {
    uint32_t row, column;
    uint16_t sample;
    int64_t value;
} spot;

static void check_spots(const char *dir, const char *rel, const char *photometric,
                        const spot *spots, size_t n)
{
    corpus_file cf;
    if (!open_corpus(dir, rel, &cf))
        return;
    char pm[20];
    uint8_t *out = decode_corpus_frame(&cf, 0, pm);
    assert_string_equal(pm, photometric);
    for (size_t i = 0; i < n; i++) {
        size_t at = ((size_t)spots[i].row * cf.info.columns + spots[i].column) * cf.info.samples +
                    spots[i].sample;
        int64_t v = value_at(&cf.info, out, at);
        if (v != spots[i].value)
            fail_msg("%s (%u,%u)[%u]: %lld, pydicom 3.0 says %lld", rel, spots[i].row,
                     spots[i].column, spots[i].sample, (long long)v,
                     (long long)spots[i].value);
    }
    free(out);
    obia_file_free(cf.f);
}

static void test_reference_values(void **state)
{
    (void)state;
    /* HTJ2K: no Debian tool decodes it */
    static const spot htj2k_lossless[] = {
        {160, 295, 0, 90},  {160, 295, 1, 38},  {160, 295, 2, 1},   {160, 298, 0, 173},
        {160, 298, 1, 122}, {160, 304, 2, 79},  {275, 635, 0, 208}, {275, 635, 2, 172},
        {281, 635, 1, 218}, {284, 635, 0, 242}, {284, 635, 2, 226},
    };
    check_spots(OBIA_TEST_DATA, "gh-pydicom-data/HTJ2KLossless_08_RGB.dcm", "RGB",
                htj2k_lossless, sizeof htj2k_lossless / sizeof htj2k_lossless[0]);
    static const spot htj2k_lossy[] = {
        {160, 295, 0, 91},  {160, 295, 1, 37},  {160, 295, 2, 2},   {160, 298, 0, 174},
        {160, 298, 1, 123}, {160, 304, 2, 78},  {275, 635, 0, 207}, {275, 635, 2, 171},
        {281, 635, 1, 218}, {284, 635, 0, 242}, {284, 635, 2, 227},
    };
    check_spots(OBIA_TEST_DATA, "gh-pydicom-data/HTJ2K_08_RGB.dcm", "RGB", htj2k_lossy,
                sizeof htj2k_lossy / sizeof htj2k_lossy[0]);
    /* 7 bits stored */
    static const spot jlsl7[] = {
        {59, 58, 0, 55}, {60, 58, 0, 53},  {61, 58, 0, 58},  {62, 58, 0, 85},  {63, 58, 0, 109},
        {64, 58, 0, 123}, {65, 58, 0, 116}, {66, 58, 0, 102}, {67, 58, 0, 98}, {68, 58, 0, 89},
    };
    check_spots(OBIA_TEST_DATA, "gh-pydicom-data/JLSL_08_07_0_1F.dcm", "MONOCHROME2", jlsl7,
                sizeof jlsl7 / sizeof jlsl7[0]);
    /* JPEG-LS interleave none: planes become interleaved */
    static const spot ilv0[] = {
        {124, 40, 0, 115}, {124, 40, 1, 109}, {124, 40, 2, 91},
        {127, 40, 0, 192}, {127, 40, 1, 53},  {127, 40, 2, 172},
    };
    check_spots(OBIA_TEST_DATA, "gh-pydicom-data/JLSL_RGB_ILV0.dcm", "RGB", ilv0,
                sizeof ilv0 / sizeof ilv0[0]);
    static const spot near3[] = {
        {124, 40, 0, 118}, {124, 40, 1, 110}, {124, 40, 2, 92},
        {127, 40, 0, 191}, {127, 40, 1, 55},  {127, 40, 2, 175},
    };
    check_spots(OBIA_TEST_DATA, "gh-pydicom-data/JLSN_RGB_ILV0.dcm", "RGB", near3,
                sizeof near3 / sizeof near3[0]);

    /* The shared corpus, where libraries disagree. Signed JPEG-LS of 15
     * bits: sign-extended (GDCM and DCMTK give the bit pattern). */
    static const spot jlsl15[] = {
        {59, 58, 0, -2073}, {60, 58, 0, -2629}, {61, 58, 0, -1167},
        {62, 58, 0, 5566},  {63, 58, 0, 11808}, {64, 58, 0, 15604},
    };
    check_spots(OBIA_SHARED_TESTDATA, "gh-pydicom-data/JLSL_16_15_1_1F.dcm", "MONOCHROME2",
                jlsl15, sizeof jlsl15 / sizeof jlsl15[0]);
    /* unsigned 13-bit codestream, Pixel Representation 1 */
    static const spot mismatch[] = {
        {0, 0, 0, -2000},    {47, 279, 0, 621},   {50, 279, 0, -193},
        {56, 279, 0, -995},  {328, 106, 0, -377}, {337, 106, 0, 1732},
    };
    check_spots(OBIA_SHARED_TESTDATA, "deb-python3-pydicom/test_files/J2K_pixelrep_mismatch.dcm",
                "MONOCHROME2", mismatch, sizeof mismatch / sizeof mismatch[0]);
    /* RGB JPEG without APP14 and with component ids 0 1 2: no transform */
    static const spot no_transform[] = {
        {29, 77, 0, 240}, {29, 77, 1, 243}, {29, 77, 2, 246},
        {29, 79, 0, 150}, {29, 79, 1, 134}, {29, 80, 2, 244},
    };
    check_spots(OBIA_SHARED_TESTDATA, "deb-python3-pydicom/test_files/SC_jpeg_no_color_transform.dcm",
                "RGB", no_transform, sizeof no_transform / sizeof no_transform[0]);
    /* JP2 file with YBR_RCT: the reversible transform undone */
    static const spot rct[] = {
        {45, 140, 0, 223}, {45, 140, 1, 32}, {45, 140, 2, 32},
        {46, 140, 0, 255}, {46, 140, 1, 0},  {350, 195, 1, 128},
    };
    check_spots(OBIA_SHARED_TESTDATA, "deb-python3-pydicom/test_files/GDCMJ2K_TextGBR.dcm", "RGB",
                rct, sizeof rct / sizeof rct[0]);
}

/* ---- the same image coded and native ------------------------------------------------- */

typedef struct twin {
    const char *dir;
    const char *coded, *native;
    int tolerance;            /* largest difference; -1: the stream's NEAR */
    double mean_tolerance;    /* largest mean absolute difference */
} twin;

/* Compare every frame of t.coded with t.native; false if absent. */
static bool compare_twin(const twin *t)
{
    corpus_file enc, nat;
    if (!open_corpus(t->dir, t->coded, &enc))
        return false;
    if (!open_corpus(t->dir, t->native, &nat))
        fail_msg("%s is there but not %s", t->coded, t->native);
    assert_int_equal(enc.info.frames, nat.info.frames);
    assert_int_equal(enc.info.rows, nat.info.rows);
    assert_int_equal(enc.info.columns, nat.info.columns);
    assert_int_equal(enc.info.samples, nat.info.samples);
    int64_t worst = 0;
    double worst_mean = 0;
    for (uint32_t fr = 0; fr < enc.info.frames; fr++) {
        int tolerance = t->tolerance;
        if (tolerance < 0) {
            size_t len;
            uint8_t *src = encoded_frame(&enc, fr, &len);
            tolerance = jpegls_near(src, len);
            free(src);
            assert_true(tolerance >= 0);
        }
        char pm[20];
        uint8_t *a = decode_corpus_frame(&enc, fr, pm);
        uint8_t *b = native_frame(&nat, fr);
        if (nat.info.samples == 3)
            assert_string_equal(pm, nat.info.photometric);
        size_t n = (size_t)enc.info.rows * enc.info.columns * enc.info.samples;
        int64_t max = 0;
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t d = value_at(&enc.info, a, i) - value_at(&nat.info, b, i);
            d = d < 0 ? -d : d;
            max = d > max ? d : max;
            sum += (double)d;
        }
        if (max > tolerance || sum / (double)n > t->mean_tolerance)
            fail_msg("%s frame %u vs %s: max difference %lld (tolerance %d), mean %.4f "
                     "(tolerance %.4f)",
                     t->coded, fr + 1, t->native, (long long)max, tolerance, sum / (double)n,
                     t->mean_tolerance);
        worst = max > worst ? max : worst;
        worst_mean = sum / (double)n > worst_mean ? sum / (double)n : worst_mean;
        free(a);
        free(b);
    }
    if (worst)
        print_message("  %s: max difference %lld, mean %.4f\n", t->coded, (long long)worst,
                      worst_mean);
    obia_file_free(enc.f);
    obia_file_free(nat.f);
    return true;
}

static void test_native_twins(void **state)
{
    (void)state;
    const char *ct = "gh-cornerstone3D/CTImage.dcm_LittleEndianImplicitTransferSyntax_1.2.840.10008.1.2.dcm";
    const char *rgb = "gh-cornerstone3D/TestPattern_RGB.dcm";
    const twin twins[] = {
        /* the CT: lossless exactly, near-lossless within NEAR, JPEG 2000
         * lossy (9-7 wavelet) within 10 (observed: 5, mean 0.57) */
        {OBIA_SHARED_TESTDATA,
         "gh-cornerstone3D/CTImage.dcm_JPEGLSLosslessTransferSyntax_1.2.840.10008.1.2.4.80.dcm", ct,
         0, 0},
        {OBIA_SHARED_TESTDATA,
         "gh-cornerstone3D/CTImage.dcm_JPEG2000LosslessOnlyTransferSyntax_1.2.840.10008.1.2.4.90.dcm",
         ct, 0, 0},
        {OBIA_SHARED_TESTDATA,
         "gh-cornerstone3D/CTImage.dcm_JPEGLSLossyTransferSyntax_1.2.840.10008.1.2.4.81.dcm", ct, -1,
         2.0},
        {OBIA_SHARED_TESTDATA,
         "gh-cornerstone3D/CTImage.dcm_JPEG2000TransferSyntax_1.2.840.10008.1.2.4.91.dcm", ct, 10,
         1.0},
        /* the MR: JPEG-LS (two encoders) and JPEG 2000, lossless */
        {OBIA_SHARED_TESTDATA, "gh-dcm_qa_ts/7.dcm", "gh-dcm_qa_ts/1.dcm", 0, 0},
        {OBIA_SHARED_TESTDATA, "gh-dcm_qa_ts/8.dcm", "gh-dcm_qa_ts/1.dcm", 0, 0},
        {OBIA_SHARED_TESTDATA, "gh-dcm_qa_ts/9.dcm", "gh-dcm_qa_ts/1.dcm", 0, 0},
        /* 10 frames, one fragment each */
        {OBIA_SHARED_TESTDATA, "gh-pydicom-data/emri_small_jpeg_2k_lossless.dcm",
         "gh-pydicom-data/emri_small.dcm", 0, 0},
        {OBIA_SHARED_TESTDATA, "gh-pydicom-data/emri_small_jpeg_ls_lossless.dcm",
         "gh-pydicom-data/emri_small.dcm", 0, 0},
        /* signed 16-bit */
        {OBIA_SHARED_TESTDATA, "deb-python3-pydicom/test_files/MR_small_jpeg_ls_lossless.dcm",
         "deb-python3-pydicom/test_files/MR_small.dcm", 0, 0},
        {OBIA_SHARED_TESTDATA, "deb-python3-pydicom/test_files/MR_small_jp2klossless.dcm",
         "deb-python3-pydicom/test_files/MR_small.dcm", 0, 0},
        /* colour: JPEG-LS exactly or within NEAR, JPEG 2000 lossy RGB
         * decoded as GDCM wrote it, and JPEG YCbCr made RGB: a test
         * pattern of one-pixel colour edges rings by up to 42 levels (74
         * with 4:2:2 chroma), 0.69 and 0.90 on average */
        {OBIA_SHARED_TESTDATA, "gh-cornerstone3D/TestPattern_JPEG-LS-Lossless.dcm", rgb, 0, 0},
        {OBIA_SHARED_TESTDATA, "gh-cornerstone3D/TestPattern_JPEG-LS-NearLossless.dcm", rgb, -1,
         2.0},
        {OBIA_SHARED_TESTDATA, "gh-cornerstone3D/TestPattern_JPEG-Baseline_YBRFull.dcm", rgb, 80,
         1.5},
        {OBIA_SHARED_TESTDATA, "gh-cornerstone3D/TestPattern_JPEG-Baseline_YBR422.dcm", rgb, 80,
         1.5},
        {OBIA_SHARED_TESTDATA, "deb-python3-pydicom/test_files/SC_rgb_gdcm_KY.dcm",
         "gh-pydicom-data/SC_rgb_gdcm2k_uncompressed.dcm", 0, 0},
    };
    size_t compared = 0;
    for (size_t i = 0; i < sizeof twins / sizeof twins[0]; i++)
        compared += compare_twin(&twins[i]);

    /* In tests/data: the same picture in two JPEG-LS interleave modes,
     * near-lossless within its NEAR, and HTJ2K lossy against lossless
     * (pydicom 3.0 shows the two differ by a few levels). */
    corpus_file a, b, c;
    assert_true(open_corpus(OBIA_TEST_DATA, "gh-pydicom-data/JLSL_RGB_ILV0.dcm", &a));
    assert_true(open_corpus(OBIA_TEST_DATA, "gh-pydicom-data/JLSL_RGB_ILV1.dcm", &b));
    assert_true(open_corpus(OBIA_TEST_DATA, "gh-pydicom-data/JLSN_RGB_ILV0.dcm", &c));
    uint8_t *da = decode_corpus_frame(&a, 0, NULL);
    uint8_t *db = decode_corpus_frame(&b, 0, NULL);
    uint8_t *dc = decode_corpus_frame(&c, 0, NULL);
    size_t len;
    uint8_t *src = encoded_frame(&c, 0, &len);
    int near = jpegls_near(src, len);
    free(src);
    assert_int_equal(near, 3);
    assert_memory_equal(da, db, frame_size(&a.info));
    for (size_t i = 0; i < frame_size(&a.info); i++)
        assert_true(abs((int)da[i] - (int)dc[i]) <= near);
    free(da);
    free(db);
    free(dc);
    obia_file_free(a.f);
    obia_file_free(b.f);
    obia_file_free(c.f);

    assert_true(open_corpus(OBIA_TEST_DATA, "gh-pydicom-data/HTJ2KLossless_08_RGB.dcm", &a));
    assert_true(open_corpus(OBIA_TEST_DATA, "gh-pydicom-data/HTJ2K_08_RGB.dcm", &b));
    da = decode_corpus_frame(&a, 0, NULL);
    db = decode_corpus_frame(&b, 0, NULL);
    int max = 0;
    double sum = 0;
    for (size_t i = 0; i < frame_size(&a.info); i++) {
        int d = abs((int)da[i] - (int)db[i]);
        max = d > max ? d : max;
        sum += d;
    }
    /* observed: max 4, mean 0.45 */
    if (max > 8 || sum / (double)frame_size(&a.info) > 1.0)
        fail_msg("HTJ2K lossy vs lossless: max %d, mean %.3f", max,
                 sum / (double)frame_size(&a.info));
    free(da);
    free(db);
    obia_file_free(a.f);
    obia_file_free(b.f);
    if (compared == 0)
        print_message("  %s absent: native twins not compared\n", OBIA_SHARED_TESTDATA);
}

/* ---- refused ------------------------------------------------------------------------- */

static void expect_refused(const char *dir, const char *rel, uint32_t frame, pixel_decoder dec,
                           obia_status code, const char *words)
{
    corpus_file cf;
    if (!open_corpus(dir, rel, &cf))
        return;
    size_t len;
    uint8_t *src = encoded_frame(&cf, frame, &len);
    obia_error err;
    uint8_t *out = decode(dec ? dec : decoder_for(cf.info.transfer_syntax), src, len, &cf.info,
                          NULL, &err);
    if (out)
        fail_msg("%s: decoded, should fail with %s", rel, obia_status_name(code));
    if (err.code != code || !strstr(err.message, words))
        fail_msg("%s: expected %s with \"%s\", got %s: %s", rel, obia_status_name(code), words,
                 obia_status_name(err.code), err.message);
    free(src);
    obia_file_free(cf.f);
}

static void test_refused(void **state)
{
    (void)state;
    /* 12-bit lossy JPEG: sequential, spectral selection, progressive */
    expect_refused(OBIA_TEST_DATA, "deb-python3-pydicom/test_files/JPEG-lossy.dcm", 0, NULL,
                   OBIA_E_UNSUPPORTED, "12-bit lossy JPEG is not supported");
    expect_refused(OBIA_TEST_DATA,
                   "gh-cornerstone3D/CTImage.dcm_JPEGProcess6_8TransferSyntax_1.2.840.10008.1.2.4.53.dcm",
                   0, NULL, OBIA_E_UNSUPPORTED, "12-bit");
    expect_refused(OBIA_TEST_DATA,
                   "gh-cornerstone3D/CTImage.dcm_JPEGProcess10_12TransferSyntax_1.2.840.10008.1.2.4.55.dcm",
                   0, NULL, OBIA_E_UNSUPPORTED, "12-bit");
    /* a lossless (SOF3) frame given to the lossy decoder */
    expect_refused(OBIA_TEST_DATA,
                   "gh-dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm",
                   0, pixel_jpeg_decode, OBIA_E_UNSUPPORTED, "lossless");
    /* a parser test: its 250-byte "codestream" has sequence delimiter
     * bytes (FFFE,E0DD) where the SIZ image size should be; GDCM refuses
     * it too */
    expect_refused(OBIA_TEST_DATA,
                   "deb-python3-pydicom/test_files/JPEG2000-embedded-sequence-delimiter.dcm", 0,
                   NULL, OBIA_E_FORMAT, "tiles");
    /* libdicom's generated files hold 8 bytes that are no codestream */
    expect_refused(OBIA_TEST_DATA, "gh-libdicom/generated_encapsulated_empty_bot_1_to_1.dcm", 0,
                   NULL, OBIA_E_FORMAT, "neither a codestream");
    /* JPEG-LS given to the JPEG decoder and the reverse, J2K to both */
    expect_refused(OBIA_TEST_DATA, "gh-pydicom-data/JLSL_RGB_ILV0.dcm", 0, pixel_jpeg_decode,
                   OBIA_E_UNSUPPORTED, "JPEG-LS (SOF55)");
    expect_refused(OBIA_TEST_DATA, "deb-python3-pydicom/test_files/SC_rgb_jpeg.dcm", 0,
                   pixel_jpegls_decode, OBIA_E_FORMAT, "JPEG-LS");
    expect_refused(OBIA_TEST_DATA, "deb-python3-pydicom/test_files/SC_rgb_gdcm_KY.dcm", 0,
                   pixel_jpeg_decode, OBIA_E_FORMAT, "SOI");
    expect_refused(OBIA_TEST_DATA, "deb-python3-pydicom/test_files/SC_rgb_gdcm_KY.dcm", 0,
                   pixel_jpegls_decode, OBIA_E_FORMAT, "SOI");
    expect_refused(OBIA_TEST_DATA, "deb-python3-pydicom/test_files/SC_rgb_jpeg.dcm", 0,
                   pixel_j2k_decode, OBIA_E_FORMAT, "neither a codestream");
}

/* ---- hostile streams ----------------------------------------------------------------- */

typedef struct sample_stream {
    corpus_file cf;
    uint8_t *src;
    size_t len;
    size_t end;     /* after the end marker FFD9 (fragment padding excluded) */
    pixel_decoder dec;
} sample_stream;

static const char *const hostile_sources[] = {
    "deb-python3-pydicom/test_files/SC_rgb_jpeg.dcm",              /* JPEG RGB */
    "deb-python3-pydicom/test_files/SC_rgb_small_odd_jpeg.dcm",    /* JPEG YCbCr, 3 x 3 */
    "gh-pydicom-data/JLSL_RGB_ILV0.dcm",                           /* JPEG-LS planes */
    "gh-pydicom-data/JLSL_RGB_ILV1.dcm",                           /* JPEG-LS lines */
    "gh-dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.81.dcm",
    "deb-python3-pydicom/test_files/SC_rgb_gdcm_KY.dcm",           /* J2K RGB */
    "gh-pylibjpeg-data/JPEG2000/OsirixFake16BitsStoredFakeSpacing.dcm",
    "gh-pydicom-data/HTJ2K_08_RGB.dcm",                            /* HTJ2K */
};
#define N_HOSTILE (sizeof hostile_sources / sizeof hostile_sources[0])

static void load_stream(const char *rel, sample_stream *s)
{
    assert_true(open_corpus(OBIA_TEST_DATA, rel, &s->cf));
    s->src = encoded_frame(&s->cf, 0, &s->len);
    s->dec = decoder_for(s->cf.info.transfer_syntax);
    s->end = s->len;
    while (s->end >= 2 && !(s->src[s->end - 2] == 0xFF && s->src[s->end - 1] == 0xD9))
        s->end--;
    assert_true(s->end > 16);
}

static void free_stream(sample_stream *s)
{
    free(s->src);
    obia_file_free(s->cf.f);
}

static void test_truncated(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_HOSTILE; k++) {
        sample_stream s;
        load_stream(hostile_sources[k], &s);
        char pm[20];
        obia_error err;
        uint8_t *whole = decode(s.dec, s.src, s.end, &s.cf.info, pm, &err);
        if (!whole)
            fail_msg("%s: %s", hostile_sources[k], err.message);
        free(whole);
        /* every cut before the end marker's last byte fails */
        size_t cuts[40], n = 0;
        for (size_t c = 0; c <= 16; c++)
            cuts[n++] = c;
        for (size_t c = 1; c < 16; c++)
            cuts[n++] = s.end * c / 16;
        for (size_t c = 1; c <= 4; c++)
            cuts[n++] = s.end - c;
        for (size_t i = 0; i < n; i++) {
            uint8_t *out = decode(s.dec, s.src, cuts[i], &s.cf.info, pm, &err);
            if (out)
                fail_msg("%s cut to %zu of %zu bytes: decoded", hostile_sources[k], cuts[i], s.end);
            if (err.code != OBIA_E_FORMAT)
                fail_msg("%s cut to %zu: %s: %s", hostile_sources[k], cuts[i],
                         obia_status_name(err.code), err.message);
        }
        free_stream(&s);
    }
}

/* Streams whose size, components or precision differ from the header. */
static void test_mismatch(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_HOSTILE; k++) {
        sample_stream s;
        load_stream(hostile_sources[k], &s);
        const obia_pixel_info base = s.cf.info;
        obia_pixel_info v[6];
        size_t n = 0;
        v[n] = base, v[n++].rows += 1;
        v[n] = base, v[n++].columns -= 1;
        v[n] = base, v[n].rows += 8, v[n++].columns += 8;
        v[n] = base, v[n++].samples = base.samples == 3 ? 1 : 3;
        if (base.bits_stored > 8) {
            /* 16-bit samples in an 8-bit container */
            v[n] = base, v[n].bits_allocated = 8, v[n].bits_stored = 8, v[n++].high_bit = 7;
        } else {
            /* more bits stored than an 8-bit stream holds */
            v[n] = base, v[n].bits_allocated = 16, v[n].bits_stored = 12, v[n++].high_bit = 11;
        }
        for (size_t i = 0; i < n; i++) {
            obia_error err;
            uint8_t *out = decode(s.dec, s.src, s.len, &v[i], NULL, &err);
            /* JPEG-LS and JPEG 2000 accept a precision other than Bits
             * Stored while it fits the container; 8-bit JPEG does not */
            bool precision_ok = i == 4 && s.dec != pixel_jpeg_decode && base.bits_stored <= 8;
            if (out && !precision_ok)
                fail_msg("%s variant %zu (%u x %u x %u, %u/%u bits): decoded", hostile_sources[k],
                         i, v[i].rows, v[i].columns, v[i].samples, v[i].bits_allocated,
                         v[i].bits_stored);
            free(out);
            if (!out && err.code != OBIA_E_FORMAT)
                fail_msg("%s variant %zu: %s: %s", hostile_sources[k], i,
                         obia_status_name(err.code), err.message);
        }
        /* an output buffer of the wrong size is the caller's error */
        uint8_t small[16];
        char pm[20];
        obia_error err;
        obia_error_clear(&err);
        memcpy(pm, base.photometric, sizeof pm);
        assert_false(s.dec(s.src, s.len, &base, small, sizeof small, pm, &err));
        assert_int_equal(err.code, OBIA_E_ARG);
        free_stream(&s);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Bytes that are not a stream, or only start like one. */
static void test_garbage(void **state)
{
    (void)state;
    static const uint8_t soi[] = {0xFF, 0xD8};
    static const uint8_t soc_siz[] = {0xFF, 0x4F, 0xFF, 0x51};
    static const uint8_t jp2[] = {0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A};
    const struct {
        const uint8_t *prefix;
        size_t n;
    } prefixes[] = {{NULL, 0}, {soi, sizeof soi}, {soc_siz, sizeof soc_siz}, {jp2, sizeof jp2}};
    pixel_decoder decs[] = {pixel_jpeg_decode, pixel_jpegls_decode, pixel_j2k_decode};
    obia_pixel_info in;
    memset(&in, 0, sizeof in);
    in.rows = in.columns = 64;
    in.frames = in.samples = 1;
    in.bits_allocated = 8;
    in.bits_stored = 8;
    in.high_bit = 7;
    in.encapsulated = true;
    snprintf(in.photometric, sizeof in.photometric, "MONOCHROME2");
    uint8_t buf[4096];
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++)
        for (size_t round = 0; round < 40; round++) {
            size_t len = round == 0 ? prefixes[p].n : 1 + rng() % sizeof buf;
            if (len < prefixes[p].n)
                len = prefixes[p].n;
            for (size_t i = 0; i < len; i++)
                buf[i] = round == 1 ? 0 : round == 2 ? 0xFF : (uint8_t)rng();
            if (prefixes[p].n)
                memcpy(buf, prefixes[p].prefix, prefixes[p].n);
            for (size_t d = 0; d < 3; d++) {
                obia_error err;
                uint8_t *out = decode(decs[d], buf, len, &in, NULL, &err);
                if (out)
                    fail_msg("decoder %zu decoded %zu bytes of garbage (prefix %zu)", d, len, p);
            }
        }
}

/* Valid streams with bytes changed: any outcome but a crash, an
 * out-of-bounds access (ASan) or a silent non-answer. */
static void test_corrupted(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_HOSTILE; k++) {
        sample_stream s;
        load_stream(hostile_sources[k], &s);
        /* JPEG-LS included: CharLS 2.4.1 spends seconds only on a stream
         * that runs out before its EOI, which jpegls.c refuses first */
        uint8_t *copy = malloc(s.len);
        assert_non_null(copy);
        int rounds = s.len > 100000 ? 12 : 60, failed = 0;
        for (int r = 0; r < rounds; r++) {
            memcpy(copy, s.src, s.len);
            int flips = 1 + (int)(rng() % 8);
            for (int f = 0; f < flips; f++) {
                /* mostly in the first kilobyte, where the headers are */
                size_t at = (r % 2 ? rng() % s.len : rng() % (s.len < 1024 ? s.len : 1024));
                copy[at] = (uint8_t)rng();
            }
            obia_error err;
            uint8_t *out = decode(s.dec, copy, s.len, &s.cf.info, NULL, &err);
            failed += out == NULL;
            free(out);
        }
        print_message("  %s: %d of %d corrupted streams refused\n", hostile_sources[k], failed,
                      rounds);
        free(copy);
        free_stream(&s);
    }
}

/* A 12-bit sample precision in an otherwise fine 8-bit baseline stream is
 * reported as the unsupported 12-bit process; and an 8-bit stream may go
 * into a 16-bit container. */
static void test_precision_and_container(void **state)
{
    (void)state;
    sample_stream s;
    load_stream("deb-python3-pydicom/test_files/SC_rgb_jpeg.dcm", &s);
    uint8_t *copy = malloc(s.len);
    assert_non_null(copy);
    memcpy(copy, s.src, s.len);
    size_t sof = 0;
    for (size_t i = 2; i + 4 < s.len && !sof;) {
        if (copy[i] == 0xFF && (copy[i + 1] == 0xC0 || copy[i + 1] == 0xC1))
            sof = i;
        else
            i += copy[i] == 0xFF ? 2 + ((size_t)copy[i + 2] << 8 | copy[i + 3]) : 1;
    }
    assert_true(sof > 0);
    copy[sof + 4] = 12;
    obia_error err;
    assert_null(decode(pixel_jpeg_decode, copy, s.len, &s.cf.info, NULL, &err));
    assert_int_equal(err.code, OBIA_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "12-bit lossy JPEG is not supported"));
    free(copy);

    /* 16 bits allocated: the same values, widened */
    uint8_t *narrow = decode(s.dec, s.src, s.len, &s.cf.info, NULL, &err);
    assert_non_null(narrow);
    obia_pixel_info wide = s.cf.info;
    wide.bits_allocated = 16;
    uint8_t *w = decode(s.dec, s.src, s.len, &wide, NULL, &err);
    assert_non_null(w);
    for (size_t i = 0; i < frame_size(&s.cf.info); i++)
        assert_int_equal(obia_rd16le(w + 2 * i), narrow[i]);
    free(narrow);
    free(w);
    free_stream(&s);

    /* JPEG-LS of 8 bits into 16 too */
    load_stream("gh-pydicom-data/JLSL_RGB_ILV0.dcm", &s);
    narrow = decode(s.dec, s.src, s.len, &s.cf.info, NULL, &err);
    assert_non_null(narrow);
    wide = s.cf.info;
    wide.bits_allocated = 16;
    w = decode(s.dec, s.src, s.len, &wide, NULL, &err);
    assert_non_null(w);
    for (size_t i = 0; i < frame_size(&s.cf.info); i++)
        assert_int_equal(obia_rd16le(w + 2 * i), narrow[i]);
    free(narrow);
    free(w);
    free_stream(&s);
}

/* A codestream declaring a grid of tiny tiles is refused before OpenJPEG
 * sets them up (hundreds of megabytes for a few bytes). */
static void test_j2k_tiny_tiles(void **state)
{
    (void)state;
    sample_stream s;
    load_stream("deb-python3-pydicom/test_files/SC_rgb_gdcm_KY.dcm", &s);
    assert_memory_equal(s.src, "\xFF\x4F\xFF\x51", 4);
    uint8_t *copy = malloc(s.len);
    assert_non_null(copy);
    memcpy(copy, s.src, s.len);
    /* SIZ after SOC: marker, Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz */
    static const uint8_t one_by_one[8] = {0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(copy + 2 + 2 + 2 + 2 + 16, one_by_one, sizeof one_by_one);
    obia_error err;
    assert_null(decode(s.dec, copy, s.len, &s.cf.info, NULL, &err));
    assert_int_equal(err.code, OBIA_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "10000 tiles of 1 x 1 pixels"));
    free(copy);
    free_stream(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_reference_values),
        cmocka_unit_test(test_native_twins),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_corrupted),
        cmocka_unit_test(test_precision_and_container),
        cmocka_unit_test(test_j2k_tiny_tiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
