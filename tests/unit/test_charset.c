/* Unit tests of the Specific Character Set decoder (lib/dicom/charset.c).
 *
 * The pydicom vectors are the raw (0008,0005) and text values of the pydicom
 * test files charset_files/chr*.dcm (Debian python3-pydicom 2.3), with the
 * UTF-8 that pydicom's decode_bytes() gives them; they are embedded so the
 * test does not depend on the DICOM parser.  Other expectations come from
 * Python's codecs (noted where the decoder deliberately differs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "charset.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FFFD "\xef\xbf\xbd"

/* Decode NUL-free in with scs into a static buffer; returns it as a C string. */
static const char *dec_n(const char *scs, bool pn, const char *in, size_t n, bool *replaced)
{
    static obia_buf out;
    static bool init;
    if (!init) {
        obia_buf_init(&out, 1 << 24);
        init = true;
    }
    obia_buf_reset(&out);
    obia_error err;
    obia_error_clear(&err);
    bool rep = false;
    bool ok = obia_charset_decode((const uint8_t *)scs, scs ? strlen(scs) : 0, pn,
                                  (const uint8_t *)in, n, &out, &rep, &err);
    assert_true(ok);
    assert_false(obia_error_is_set(&err));
    if (replaced)
        *replaced = rep;
    return obia_buf_cstr(&out);
}

static const char *dec(const char *scs, bool pn, const char *in, bool *replaced)
{
    return dec_n(scs, pn, in, strlen(in), replaced);
}

/* Expect exact output and replaced flag. */
static void expect(const char *scs, bool pn, const char *in, const char *want, bool want_rep)
{
    bool rep;
    const char *got = dec(scs, pn, in, &rep);
    if (strcmp(got, want) != 0 || rep != want_rep) {
        print_error("scs \"%s\" in \"%s\": got \"%s\" (replaced %d), want \"%s\" (%d)\n",
                    scs ? scs : "(null)", in, got, rep, want, want_rep);
        fail();
    }
}

/* ---- pydicom charset files ---------------------------------------------- */

static const struct {
    const char *scs, *raw, *utf8;
} pydicom_vectors[] = {
    /* chrArab.dcm PatientName */ {"ISO_IR 127", "\xe2\xc8\xc7\xe6\xea^\xe4\xe6\xd2\xc7\xd1 ", "\xd9\x82\xd8\xa8\xd8\xa7\xd9\x86\xd9\x8a^\xd9\x84\xd9\x86\xd8\xb2\xd8\xa7\xd8\xb1 "},
    /* chrFren.dcm PatientName */ {"ISO_IR 100", "Buc^J\xe9r\xf4me", "Buc^J\xc3\xa9r\xc3\xb4me"},
    /* chrFrenMulti.dcm PatientName */ {"ISO_IR 100", "Buc^J\xe9r\xf4me", "Buc^J\xc3\xa9r\xc3\xb4me"},
    /* chrFrenMulti.dcm (0010,1001) */ {"ISO_IR 100", "Buc^J\xe9r\xf4me\\Buc^J\xe9r\xf4me ", "Buc^J\xc3\xa9r\xc3\xb4me\\Buc^J\xc3\xa9r\xc3\xb4me "},
    /* chrGerm.dcm PatientName */ {"ISO_IR 100", "\xc4neas^R\xfc" "diger ", "\xc3\x84neas^R\xc3\xbc" "diger "},
    /* chrGreek.dcm PatientName */ {"ISO_IR 126", "\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2 ", "\xce\x94\xce\xb9\xce\xbf\xce\xbd\xcf\x85\xcf\x83\xce\xb9\xce\xbf\xcf\x82 "},
    /* chrH31.dcm PatientName */ {"\\ISO 2022 IR 87", "Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$\?$m$&\x1b(B", "Yamada^Tarou=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e=\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86"},
    /* chrH32.dcm PatientName */ {"ISO 2022 IR 13\\ISO 2022 IR 87", "\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$\?$m$&\x1b(J", "\xef\xbe\x94\xef\xbe\x8f\xef\xbe\x80\xef\xbe\x9e^\xef\xbe\x80\xef\xbe\x9b\xef\xbd\xb3=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e=\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86"},
    /* chrHbrw.dcm PatientName */ {"ISO_IR 138", "\xf9\xf8\xe5\xef^\xe3\xe1\xe5\xf8\xe4", "\xd7\xa9\xd7\xa8\xd7\x95\xd7\x9f^\xd7\x93\xd7\x91\xd7\x95\xd7\xa8\xd7\x94"},
    /* chrI2.dcm PatientName */ {"\\ISO 2022 IR 149", "Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf", "Hong^Gildong=\xe6\xb4\xaa^\xe5\x90\x89\xe6\xb4\x9e=\xed\x99\x8d^\xea\xb8\xb8\xeb\x8f\x99"},
    /* chrJapMulti.dcm PatientName */ {"\\ISO 2022 IR 87", "\x1b$B$d$^$@\x1b(B^\x1b$B$\?$m$&\x1b(B ", "\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86 "},
    /* chrJapMulti.dcm (0010,1001) */ {"\\ISO 2022 IR 87", "\x1b$B$d$^$@\x1b(B^\x1b$B$\?$m$&\x1b(B\\\x1b$B$d$^$@\x1b(B^\x1b$B$\?$m$&\x1b(B ", "\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86\\\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86 "},
    /* chrJapMultiExplicitIR6.dcm PatientName */ {"ISO 2022 IR 6\\ISO 2022 IR 87", "\x1b$B$d$^$@\x1b(B^\x1b$B$\?$m$&\x1b(B ", "\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86 "},
    /* chrJapMultiExplicitIR6.dcm (0010,1001) */ {"ISO 2022 IR 6\\ISO 2022 IR 87", "\x1b$B$d$^$@\x1b(B^\x1b$B$\?$m$&\x1b(B\\\x1b$B$d$^$@\x1b(B^\x1b$B$\?$m$&\x1b(B ", "\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86\\\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86 "},
    /* chrKoreanMulti.dcm PatientName */ {"\\ISO 2022 IR 149", "\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B ", "\xea\xb9\x80\xed\x9d\xac\xec\xa4\x91 "},
    /* chrKoreanMulti.dcm (0010,1001) */ {"\\ISO 2022 IR 149", "\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B\\\x1b$)C\xb1\xe8\xc8\xf1\xc1\xdf\x1b(B ", "\xea\xb9\x80\xed\x9d\xac\xec\xa4\x91\\\xea\xb9\x80\xed\x9d\xac\xec\xa4\x91 "},
    /* chrRuss.dcm PatientName */ {"ISO_IR 144", "\xbb\xee\xda" "ce\xdc\xd1yp\xd3", "\xd0\x9b\xd1\x8e\xd0\xba" "ce\xd0\xbc\xd0\xb1yp\xd0\xb3"},
    /* chrSQEncoding.dcm PatientName */ {"ISO 2022 IR 13\\ISO 2022 IR 87 ", "\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$\?$m$&\x1b(B", "\xef\xbe\x94\xef\xbe\x8f\xef\xbe\x80\xef\xbe\x9e^\xef\xbe\x80\xef\xbe\x9b\xef\xbd\xb3=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e=\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86"},
    /* chrSQEncoding1.dcm PatientName */ {"ISO 2022 IR 13\\ISO 2022 IR 87", "\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$\?$m$&\x1b(B", "\xef\xbe\x94\xef\xbe\x8f\xef\xbe\x80\xef\xbe\x9e^\xef\xbe\x80\xef\xbe\x9b\xef\xbd\xb3=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e=\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86"},
    /* chrX1.dcm PatientName */ {"ISO_IR 192", "Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1= ", "Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1= "},
    /* chrX2.dcm PatientName */ {"GB18030", "Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=", "Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe4\xb8\x9c="},
};

static void test_pydicom_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pydicom_vectors / sizeof pydicom_vectors[0]; i++)
        expect(pydicom_vectors[i].scs, true, pydicom_vectors[i].raw, pydicom_vectors[i].utf8,
               false);
    /* padded (0008,0005) values: trailing spaces and NULs do not matter */
    expect("ISO_IR 100 ", true, "Buc^J\xe9r\xf4me", "Buc^J\xc3\xa9r\xc3\xb4me", false);
    expect("ISO_IR 100\0", true, "Buc^J\xe9r\xf4me", "Buc^J\xc3\xa9r\xc3\xb4me", false);
    bool rep;
    static const char scs_nul[] = "ISO_IR 144\0";
    obia_buf out;
    obia_buf_init(&out, 1024);
    assert_true(obia_charset_decode((const uint8_t *)scs_nul, sizeof scs_nul - 1, false,
                                    (const uint8_t *)"\xbb", 1, &out, &rep, NULL));
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.data, "\xd0\x9b", 2);
    obia_buf_free(&out);
}

/* ---- every single-byte set ---------------------------------------------- */

static void test_single_byte_sets(void **state)
{
    (void)state;
    static const struct {
        const char *term, *in, *want;
    } v[] = {
        {"ISO_IR 100", "\xe9\xff\xa0", "\xc3\xa9\xc3\xbf\xc2\xa0"},
        {"ISO_IR 101", "\xb3", "\xc5\x82"},
        {"ISO_IR 109", "\xb1", "\xc4\xa7"},
        {"ISO_IR 110", "\xbc", "\xc5\xa7"},
        {"ISO_IR 144", "\xb6", "\xd0\x96"},
        {"ISO_IR 127", "\xd9", "\xd8\xb9"},
        {"ISO_IR 126", "\xd9", "\xce\xa9"},
        {"ISO_IR 138", "\xe0", "\xd7\x90"},
        {"ISO_IR 148", "\xfe", "\xc5\x9f"},
        {"ISO_IR 203", "\xa4", "\xe2\x82\xac"},
        {"ISO_IR 166", "\xa1", "\xe0\xb8\x81"},
        {"ISO_IR 13", "\xb1\xdf", "\xef\xbd\xb1\xef\xbe\x9f"},
        {"ISO 2022 IR 100", "\xe9", "\xc3\xa9"},
        {"ISO 2022 IR 101", "\xb3", "\xc5\x82"},
        {"ISO 2022 IR 109", "\xb1", "\xc4\xa7"},
        {"ISO 2022 IR 110", "\xbc", "\xc5\xa7"},
        {"ISO 2022 IR 144", "\xb6", "\xd0\x96"},
        {"ISO 2022 IR 127", "\xd9", "\xd8\xb9"},
        {"ISO 2022 IR 126", "\xd9", "\xce\xa9"},
        {"ISO 2022 IR 138", "\xe0", "\xd7\x90"},
        {"ISO 2022 IR 148", "\xfe", "\xc5\x9f"},
        {"ISO 2022 IR 203", "\xa4", "\xe2\x82\xac"},
        {"ISO 2022 IR 166", "\xa1", "\xe0\xb8\x81"},
        {"ISO 2022 IR 13", "\xb1", "\xef\xbd\xb1"},
        {"ISO 2022 IR 149", "\xc8\xab", "\xed\x99\x8d"},   /* EUC-KR without escapes */
        {"ISO 2022 IR 58", "\xd6\xd0", "\xe4\xb8\xad"},    /* EUC-CN without escapes */
        {"GBK", "\xd6\xd0\xce\xc4", "\xe4\xb8\xad\xe6\x96\x87"},
        {"GB18030", "\xa8\xa6\x94\x39\xfc\x36", "\xc3\xa9\xf0\x9f\x98\x80"},
        {"ISO_IR 192", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char in[64], want[64];
        snprintf(in, sizeof in, "a%s^b", v[i].in);
        snprintf(want, sizeof want, "a%s^b", v[i].want);
        expect(v[i].term, false, in, want, false);
        expect(v[i].term, true, in, want, false);
    }
    /* escape sequences designating each single-byte G1 set */
    expect("\\ISO 2022 IR 100\\ISO 2022 IR 101\\ISO 2022 IR 109\\ISO 2022 IR 110"
           "\\ISO 2022 IR 144\\ISO 2022 IR 127\\ISO 2022 IR 126\\ISO 2022 IR 138"
           "\\ISO 2022 IR 148\\ISO 2022 IR 203\\ISO 2022 IR 166\\ISO 2022 IR 13",
           false,
           "\x1b-A\xe9\x1b-B\xb3\x1b-C\xb1\x1b-D\xbc\x1b-L\xb6\x1b-G\xd9\x1b-F\xd9"
           "\x1b-H\xe0\x1b-M\xfe\x1b-b\xa4\x1b-T\xa1\x1b)I\xb1",
           "\xc3\xa9\xc5\x82\xc4\xa7\xc5\xa7\xd0\x96\xd8\xb9\xce\xa9\xd7\x90\xc5\x9f"
           "\xe2\x82\xac\xe0\xb8\x81\xef\xbd\xb1",
           false);
}

/* ---- ISO 2022 multi-byte sets ------------------------------------------- */

static void test_iso2022_multibyte(void **state)
{
    (void)state;
    /* JIS X 0212 (ESC $ ( D): 0x2B21 is a-acute, 0x3021 is U+4E02 */
    expect("\\ISO 2022 IR 159", true, "\x1b$(D+!0!\x1b(B", "\xc3\xa1\xe4\xb8\x82", false);
    /* JIS X 0208 designated by ESC $ @ (JIS C 6226-1978) too */
    expect("\\ISO 2022 IR 87", true, "\x1b$@$d\x1b(B", "\xe3\x82\x84", false);
    /* GB 2312 in G1 (ESC $ ) A) */
    expect("\\ISO 2022 IR 58", true, "Zhong^\x1b$)A\xd6\xd0", "Zhong^\xe4\xb8\xad", false);
    /* JIS X 0201: Romaji G0 is read as ASCII, like pydicom */
    expect("ISO 2022 IR 13\\ISO 2022 IR 87", false, "\x1b$B$d\x1b(Ja\\~", "\xe3\x82\x84" "a\\~",
           false);
    /* KS X 1001:1998 Annex 3 make-up sequence (filler + 3 jamo), as Python */
    expect("ISO 2022 IR 149", false, "\xa4\xd4\xa4\xa1\xa4\xbf\xa4\xa4", "\xea\xb0\x84", false);
    /* a lone jamo stays a jamo */
    expect("ISO 2022 IR 149", false, "\xa4\xa1", "\xe3\x84\xb1", false);
    /* Shift_JIS pairs in ISO_IR 13 data (a frequent defect) are decoded */
    expect("ISO_IR 13", false, "\x93\xfa\x96\x7b\xb1", "\xe6\x97\xa5\xe6\x9c\xac\xef\xbd\xb1",
           false);
}

/* ---- returning to the initial code elements ----------------------------- */

static void test_resets(void **state)
{
    (void)state;
    const char *scs = "ISO 2022 IR 100\\ISO 2022 IR 144";
    /* '^' and '=' reset G1 in person names only */
    expect(scs, true, "\x1b-L\xbb^\xbb", "\xd0\x9b^\xc2\xbb", false);
    expect(scs, true, "\x1b-L\xbb=\xbb", "\xd0\x9b=\xc2\xbb", false);
    expect(scs, false, "\x1b-L\xbb^\xbb", "\xd0\x9b^\xd0\x9b", false);
    /* '\' (value delimiter), CR, LF, FF and TAB reset in every VR */
    expect(scs, false, "\x1b-L\xbb\\\xbb", "\xd0\x9b\\\xc2\xbb", false);
    expect(scs, false, "\x1b-L\xbb\r\xbb", "\xd0\x9b\r\xc2\xbb", false);
    expect(scs, false, "\x1b-L\xbb\n\xbb", "\xd0\x9b\n\xc2\xbb", false);
    expect(scs, false, "\x1b-L\xbb\f\xbb", "\xd0\x9b\f\xc2\xbb", false);
    expect(scs, false, "\x1b-L\xbb\t\xbb", "\xd0\x9b\t\xc2\xbb", false);
    /* a space does not */
    expect(scs, true, "\x1b-L\xbb \xbb", "\xd0\x9b \xd0\x9b", false);
    /* two-byte G0: CR LF returns to ASCII; '^' inside it is a character byte */
    expect("\\ISO 2022 IR 87", true, "\x1b$B$d\r\n$d", "\xe3\x82\x84\r\n$d", false);
    expect("\\ISO 2022 IR 87", true, "\x1b$B%^\x1b(B^", "\xe3\x83\x9e^", false);
    /* after a reset the initial G1 (katakana for ISO 2022 IR 13) is back */
    expect("ISO 2022 IR 13\\ISO 2022 IR 149", true, "\x1b$)C\xc8\xab^\xb1",
           "\xed\x99\x8d^\xef\xbd\xb1", false);
    /* a reset to "no G1": the next 8-bit byte is not in any set in force; it
     * is read in the G1 set named in (0008,0005) and flagged */
    expect("\\ISO 2022 IR 149", true, "\x1b$)C\xc8\xab^\xc8\xab", "\xed\x99\x8d^\xed\x99\x8d",
           true);
    expect("\\ISO 2022 IR 149", false, "\x1b$)C\xc8\xab^\xc8\xab", "\xed\x99\x8d^\xed\x99\x8d",
           false);
}

/* ---- ASCII, empty input -------------------------------------------------- */

static void test_ascii_and_empty(void **state)
{
    (void)state;
    static const char *const sets[] = {
        NULL, "", "ISO_IR 6", "ISO_IR 100", "ISO_IR 13", "ISO_IR 192", "GB18030", "GBK",
        "\\ISO 2022 IR 87", "ISO 2022 IR 13\\ISO 2022 IR 87", "\\ISO 2022 IR 149",
        "ISO_IR 166",
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        const char *s = sets[i];
        expect(s, true, "Doe^John=\\x ~", "Doe^John=\\x ~", false);
        expect(s, false, "", "", false);
        assert_true(obia_charset_ascii_compatible((const uint8_t *)s, s ? strlen(s) : 0));
    }
    /* NULL input with length 0 */
    obia_buf out;
    obia_buf_init(&out, 16);
    bool rep = false;
    assert_true(obia_charset_decode((const uint8_t *)"ISO_IR 100", 10, false, NULL, 0, &out,
                                    &rep, NULL));
    assert_int_equal(out.len, 0);
    assert_false(rep);
    /* replaced is only ever set, never cleared */
    rep = true;
    assert_true(obia_charset_decode(NULL, 0, false, (const uint8_t *)"a", 1, &out, &rep, NULL));
    assert_true(rep);
    /* NULs and control characters pass through */
    rep = false;
    obia_buf_reset(&out);
    assert_true(obia_charset_decode(NULL, 0, false, (const uint8_t *)"a\0b\x01", 4, &out, &rep,
                                    NULL));
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "a\0b\x01", 4);
    assert_false(rep);
    obia_buf_free(&out);

    /* a long ASCII value is copied whole, appended after existing content */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(' ' + i % 95);
    big[n] = '\0';
    obia_buf_init(&out, n + 3);
    assert_true(obia_buf_append(&out, "<<", 2));
    rep = false;
    assert_true(obia_charset_decode((const uint8_t *)"ISO 2022 IR 13\\ISO 2022 IR 87", 29, true,
                                    (const uint8_t *)big, n, &out, &rep, NULL));
    assert_int_equal(out.len, n + 2);
    assert_memory_equal(out.data + 2, big, n);
    assert_false(rep);
    obia_buf_free(&out);
    free(big);
}

/* ---- long values cross the internal chunk sizes -------------------------- */

static void test_long_multibyte(void **state)
{
    (void)state;
    enum { N = 3001 };
    static char in[4 + 2 * N + 4 + 1], want[3 * N + 1];
    /* JIS X 0208 */
    size_t k = 0, w = 0;
    memcpy(in, "\x1b$B", 3);
    k = 3;
    for (int i = 0; i < N; i++) {
        memcpy(in + k, "$d", 2);
        k += 2;
        memcpy(want + w, "\xe3\x82\x84", 3);
        w += 3;
    }
    in[k] = '\0';
    want[w] = '\0';
    expect("\\ISO 2022 IR 87", true, in, want, false);
    /* KS X 1001 */
    memcpy(in, "\x1b$)C", 4);
    k = 4;
    w = 0;
    for (int i = 0; i < N; i++) {
        memcpy(in + k, "\xc8\xab", 2);
        k += 2;
        memcpy(want + w, "\xed\x99\x8d", 3);
        w += 3;
    }
    in[k] = '\0';
    want[w] = '\0';
    expect("\\ISO 2022 IR 149", true, in, want, false);
    /* GB18030, one invalid byte in the middle */
    k = w = 0;
    for (int i = 0; i < N; i++) {
        if (i == N / 2) {
            in[k++] = '\xff';
            memcpy(want + w, FFFD, 3);
            w += 3;
            continue;
        }
        memcpy(in + k, "\xd6\xd0", 2);
        k += 2;
        memcpy(want + w, "\xe4\xb8\xad", 3);
        w += 3;
    }
    in[k] = '\0';
    want[w] = '\0';
    expect("GB18030", false, in, want, true);
}

/* ---- invalid bytes -------------------------------------------------------- */

static void test_invalid_bytes(void **state)
{
    (void)state;
    /* UTF-8: one U+FFFD per maximal ill-formed subpart, as Python */
    expect("ISO_IR 192", false, "a\xff" "b", "a" FFFD "b", true);
    expect("ISO_IR 192", false, "a\xe3\x81", "a" FFFD, true);
    expect("ISO_IR 192", false, "\xc0\xaf", FFFD FFFD, true);
    expect("ISO_IR 192", false, "\xed\xa0\x80", FFFD FFFD FFFD, true);
    expect("ISO_IR 192", false, "a\xf0\x9f\x98", "a" FFFD, true);
    expect("ISO_IR 192", false, "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD, true);
    /* a byte undefined in the ISO 8859 part */
    expect("ISO_IR 126", false, "\xff", FFFD, true);
    expect("ISO_IR 138", false, "\xc0" "a", FFFD "a", true);
    /* TIS-620 0xFF */
    expect("ISO_IR 166", false, "\xff", FFFD, true);
    /* katakana set: 0xE0 alone */
    expect("ISO_IR 13", false, "\xe0", FFFD, true);
    /* JIS X 0208 row 9 is unassigned; a lone first byte */
    expect("\\ISO 2022 IR 87", false, "\x1b$B)!$d\x1b(B", FFFD "\xe3\x82\x84", true);
    expect("\\ISO 2022 IR 87", false, "\x1b$B$", FFFD, true);
    expect("\\ISO 2022 IR 87", false, "\x1b$B$\r\n", FFFD "\r\n", true);
    /* KS X 1001: lone first byte, byte outside GR94 */
    expect("\\ISO 2022 IR 149", false, "\x1b$)C\xc8" "a", FFFD "a", true);
    expect("\\ISO 2022 IR 149", false, "\x1b$)C\xff\xc8\xab", FFFD "\xed\x99\x8d", true);
    /* GB18030 / GBK: invalid and incomplete */
    expect("GB18030", false, "a\xff" "b", "a" FFFD "b", true);
    expect("GB18030", false, "a\xd6", "a" FFFD, true);
    expect("GBK", false, "\xd6\xd0\xff", "\xe4\xb8\xad" FFFD, true);
    /* escape sequences: unknown, truncated, lone ESC */
    expect("\\ISO 2022 IR 87", false, "a\x1b$(Zb", "a" FFFD "b", true);
    expect("\\ISO 2022 IR 87", false, "a\x1b", "a" FFFD, true);
    expect("\\ISO 2022 IR 87", false, "a\x1b$", "a" FFFD, true);
    /* a known escape sequence where (0008,0005) declares no code extensions:
     * decoded, but flagged */
    expect("ISO_IR 100", false, "\x1b-L\xbb", "\xd0\x9b", true);
    expect(NULL, false, "\x1b$B$d\x1b(B", "\xe3\x82\x84", true);
    /* no G1 set at all: 8-bit bytes read as Latin-1 (like pydicom), flagged */
    expect(NULL, false, "J\xe9r\xf4me", "J\xc3\xa9r\xc3\xb4me", true);
    expect("ISO_IR 6", false, "\xe9", "\xc3\xa9", true);
    expect("\\ISO 2022 IR 87", true, "\xe9", "\xc3\xa9", true);
}

/* ---- terms ---------------------------------------------------------------- */

static void test_unknown_and_misspelled_terms(void **state)
{
    (void)state;
    /* unknown: read as ISO_IR 100 and flagged, even for ASCII */
    expect("ISO_IR 999", false, "J\xe9r\xf4me", "J\xc3\xa9r\xc3\xb4me", true);
    expect("KOI8-R", false, "abc", "abc", true);
    expect("ISO 2022 IR 87\\NONSENSE", false, "abc", "abc", true);
    assert_false(obia_charset_ascii_compatible((const uint8_t *)"ISO_IR 999", 10));
    /* misspellings pydicom corrects: decoded as meant, not flagged */
    expect("ISO-IR 144", false, "\xbb", "\xd0\x9b", false);
    expect("ISO IR 144", false, "\xbb", "\xd0\x9b", false);
    expect("ISO_IR144", false, "\xbb", "\xd0\x9b", false);
    expect("iso_ir 144", false, "\xbb", "\xd0\x9b", false);
    expect("ISO-2022-IR-149", false, "\xc8\xab", "\xed\x99\x8d", false);
    expect("UTF-8", false, "\xc3\xa9", "\xc3\xa9", false);
    assert_true(obia_charset_ascii_compatible((const uint8_t *)"ISO-IR 100", 10));
    /* a stand-alone set as value 1 wins; elsewhere it is ignored */
    expect("ISO_IR 192\\ISO 2022 IR 87", false, "\xc3\xa9", "\xc3\xa9", false);
    expect("ISO 2022 IR 100\\ISO_IR 192", false, "\xe9", "\xc3\xa9", false);
    /* the same value with and without the per-thread cache in between */
    expect("ISO_IR 100", false, "\xe9", "\xc3\xa9", false);
    expect("ISO_IR 101", false, "\xe9", "\xc3\xa9", false);
    expect("ISO_IR 100", false, "\xe9", "\xc3\xa9", false);
    /* a value longer than the cache */
    expect("ISO 2022 IR 100\\ISO 2022 IR 101\\ISO 2022 IR 109\\ISO 2022 IR 110\\ISO 2022 IR 144",
           false, "\xe9", "\xc3\xa9", false);
}

static void check_fails(const char *scs, const char *needle)
{
    obia_error err;
    obia_error_clear(&err);
    bool ok = obia_charset_check((const uint8_t *)scs, strlen(scs), &err);
    if (ok || err.code != OBIA_E_CHARSET || !strstr(err.message, needle)) {
        print_error("check \"%s\": ok %d code %d message \"%s\"; want \"%s\"\n", scs, ok,
                    err.code, err.message, needle);
        fail();
    }
}

static void test_check(void **state)
{
    (void)state;
    static const char *const good[] = {
        "", " ", "ISO_IR 6", "ISO_IR 100", "ISO_IR 101", "ISO_IR 109", "ISO_IR 110",
        "ISO_IR 144", "ISO_IR 127", "ISO_IR 126", "ISO_IR 138", "ISO_IR 148", "ISO_IR 203",
        "ISO_IR 13", "ISO_IR 166", "ISO_IR 192", "GB18030", "GBK", "ISO 2022 IR 6",
        "ISO 2022 IR 100", "ISO 2022 IR 13", "\\ISO 2022 IR 87",
        "ISO 2022 IR 13\\ISO 2022 IR 87", "\\ISO 2022 IR 149", "\\ISO 2022 IR 58",
        "ISO 2022 IR 6\\ISO 2022 IR 87\\ISO 2022 IR 159", "ISO_IR 100 ", "ISO_IR 192\0",
        "ISO 2022 IR 100\\ISO 2022 IR 144\\ISO 2022 IR 126\\ISO 2022 IR 166\\ISO 2022 IR 203",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        obia_error err;
        obia_error_clear(&err);
        size_t n = strlen(good[i]);
        if (i + 1 < sizeof good / sizeof good[0] && strcmp(good[i], "ISO_IR 192") == 0)
            n = 10;
        if (!obia_charset_check((const uint8_t *)good[i], n, &err)) {
            print_error("check \"%s\": %s\n", good[i], err.message);
            fail();
        }
    }
    static const char with_nul[] = "ISO_IR 192\0";
    assert_true(obia_charset_check((const uint8_t *)with_nul, sizeof with_nul - 1, NULL));
    assert_true(obia_charset_check(NULL, 0, NULL));

    check_fails("ISO_IR 999", "\"ISO_IR 999\"");
    check_fails("ISO 2022 IR 13\\ISO 2022 IR 88", "\"ISO 2022 IR 88\"");
    check_fails("ISO-IR 100", "\"ISO-IR 100\"");
    check_fails("ISO-IR 100", "ISO_IR 100");   /* names what it is read as */
    check_fails("ISO_IR 192\\ISO 2022 IR 87", "\"ISO_IR 192\"");
    check_fails("\\GB18030", "\"GB18030\"");
    check_fails("ISO_IR 100\\ISO 2022 IR 87", "\"ISO_IR 100\"");
    check_fails("ISO 2022 IR 87\\", "value 2 of 2 is empty");
    check_fails("ISO\x01IR", "\\x01");
    /* NULL err is allowed */
    assert_false(obia_charset_check((const uint8_t *)"X", 1, NULL));
}

/* ---- output limit --------------------------------------------------------- */

static void limit_case(const char *scs, const char *in, size_t max, size_t want_len)
{
    obia_buf out;
    obia_buf_init(&out, max);
    obia_error err;
    obia_error_clear(&err);
    bool ok = obia_charset_decode((const uint8_t *)scs, strlen(scs), true, (const uint8_t *)in,
                                  strlen(in), &out, NULL, &err);
    assert_false(ok);
    assert_int_equal(err.code, OBIA_E_LIMIT);
    assert_non_null(strstr(err.message, "limit"));
    assert_true(out.len <= max);
    (void)want_len;
    /* with just enough room it succeeds */
    obia_buf_free(&out);
    obia_buf_init(&out, want_len);
    obia_error_clear(&err);
    assert_true(obia_charset_decode((const uint8_t *)scs, strlen(scs), true, (const uint8_t *)in,
                                    strlen(in), &out, NULL, &err));
    assert_int_equal(out.len, want_len);
    obia_buf_free(&out);
}

static void test_output_limit(void **state)
{
    (void)state;
    limit_case("ISO_IR 100", "Buc^J\xe9r\xf4me", 5, 12);                 /* direct */
    limit_case("ISO_IR 100", "Buc^Jerome", 9, 10);                       /* ASCII copy */
    limit_case("ISO_IR 126", "\xc4\xe9\xef", 4, 6);                      /* table */
    limit_case("\\ISO 2022 IR 87", "\x1b$B;3ED\x1b(B", 4, 6);          /* iconv */
    limit_case("\\ISO 2022 IR 149", "\x1b$)C\xc8\xab\xc8\xab", 3, 6);   /* iconv */
    limit_case("ISO_IR 192", "a\xc3\xa9\xff", 3, 6);                     /* UTF-8 */
    limit_case("GB18030", "\xcd\xf5\xd0\xa1", 5, 6);                     /* iconv stream */
    limit_case("ISO_IR 13", "\xd4\xcf", 5, 6);                           /* katakana */
    limit_case("ISO_IR 126", "\xff\xff", 5, 6);                          /* U+FFFD */
    /* the first error wins: an error already set is kept */
    obia_buf out;
    obia_buf_init(&out, 1);
    obia_error err;
    obia_error_clear(&err);
    obia_error_set(&err, OBIA_E_IO, "earlier");
    assert_false(obia_charset_decode(NULL, 0, false, (const uint8_t *)"abc", 3, &out, NULL,
                                     &err));
    assert_int_equal(err.code, OBIA_E_IO);
    /* NULL err is allowed */
    assert_false(obia_charset_decode(NULL, 0, false, (const uint8_t *)"abc", 3, &out, NULL,
                                     NULL));
    obia_buf_free(&out);
}

/* ---- threads: per-thread iconv cache and its destructor ------------------ */

static void *thread_main(void *arg)
{
    (void)arg;
    bool ok = true;
    for (int i = 0; i < 200 && ok; i++) {
        obia_buf out;
        obia_buf_init(&out, 1024);
        bool rep = false;
        static const char scs[] = "\\ISO 2022 IR 87\\ISO 2022 IR 149";
        static const char in[] = "\x1b$B;3ED\x1b(B^\x1b$)C\xc8\xab\xce\xd4";
        static const char want[] = "\xe5\xb1\xb1\xe7\x94\xb0^\xed\x99\x8d\xe5\xa1\x8a";
        ok = obia_charset_decode((const uint8_t *)scs, sizeof scs - 1, true,
                                 (const uint8_t *)in, sizeof in - 1, &out, &rep, NULL) &&
             !rep && out.len == sizeof want - 1 && memcmp(out.data, want, out.len) == 0;
        ok = ok && obia_charset_decode((const uint8_t *)"ISO_IR 127", 10, false,
                                       (const uint8_t *)"\xd9", 1, &out, &rep, NULL);
        obia_buf_free(&out);
    }
    return ok ? arg : NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    static int tok[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &tok[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        assert_int_equal(pthread_join(t[i], &r), 0);
        assert_ptr_equal(r, &tok[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pydicom_files),
        cmocka_unit_test(test_single_byte_sets),
        cmocka_unit_test(test_iso2022_multibyte),
        cmocka_unit_test(test_resets),
        cmocka_unit_test(test_ascii_and_empty),
        cmocka_unit_test(test_long_multibyte),
        cmocka_unit_test(test_invalid_bytes),
        cmocka_unit_test(test_unknown_and_misspelled_terms),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_output_limit),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
