/* Unit tests of the streaming multipart parser (server/multipart.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "multipart.h"

#include "obia/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the handler saw: "<type|location|id|encoding>" at each begin, the
 * data as it came, "</>" at each end. */
typedef struct record {
    char log[1 << 17];
    size_t len;
    size_t data_bytes;        /* all data bytes passed */
    size_t begins, ends;
    int refuse_begin;         /* refuse the begin of this part (1-based), 0: none */
    bool refuse_data;         /* refuse the first data piece (without an error message) */
    bool refuse_end;
    bool calls_after_refusal; /* a callback came after one refused */
    bool refused;
} record;

static void add(record *r, const char *p, size_t n)
{
    assert_true(r->len + n < sizeof r->log);
    memcpy(r->log + r->len, p, n);
    r->len += n;
    r->log[r->len] = '\0';
}

static void add_str(record *r, const char *s)
{
    add(r, s ? s : "-", strlen(s ? s : "-"));
}

static bool on_begin(void *ctx, const multipart_part *part, obia_error *err)
{
    record *r = ctx;
    if (r->refused)
        r->calls_after_refusal = true;
    r->begins++;
    add_str(r, "<");
    add_str(r, part->content_type);
    add_str(r, "|");
    add_str(r, part->content_location);
    add_str(r, "|");
    add_str(r, part->content_id);
    add_str(r, "|");
    add_str(r, part->content_transfer_encoding);
    add_str(r, ">");
    if (r->refuse_begin == (int)r->begins) {
        r->refused = true;
        return obia_error_set(err, OBIA_E_UNSUPPORTED, "part %zu: not a DICOM file", r->begins);
    }
    return true;
}

static bool on_data(void *ctx, const char *p, size_t n, obia_error *err)
{
    record *r = ctx;
    if (r->refused)
        r->calls_after_refusal = true;
    assert_true(n > 0);
    add(r, p, n);
    r->data_bytes += n;
    if (r->refuse_data) {
        r->refused = true;
        return false;
    }
    return true;
}

static bool on_end(void *ctx, obia_error *err)
{
    record *r = ctx;
    if (r->refused)
        r->calls_after_refusal = true;
    r->ends++;
    add_str(r, "</>");
    if (r->refuse_end) {
        r->refused = true;
        return obia_error_set(err, OBIA_E_IO, "could not store the part");
    }
    return true;
}

static const multipart_handler handler = {on_begin, on_data, on_end};

/* Parse body[0..len) fed in pieces that end at cuts[0..ncuts) (ascending);
 * the log, or "ERROR: message" (after the log so far) on a failure. */
static const char *parse_cuts(record *r, const char *boundary, const char *body, size_t len,
                              const size_t *cuts, size_t ncuts)
{
    memset(r, 0, sizeof *r);
    obia_error err;
    obia_error_clear(&err);
    multipart *m = multipart_new(boundary, &handler, r, &err);
    assert_non_null(m);
    bool ok = true;
    size_t at = 0;
    for (size_t i = 0; i <= ncuts && ok; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        ok = multipart_feed(m, body + at, to - at, &err);
        at = to;
    }
    if (ok)
        ok = multipart_finish(m, &err);
    if (!ok) {
        assert_int_not_equal(err.code, OBIA_E_OK);
        /* the parser stays stopped, with the same error */
        obia_error again;
        obia_error_clear(&again);
        assert_false(multipart_feed(m, "x", 1, &again));
        assert_string_equal(again.message, err.message);
        obia_error_clear(&again);
        assert_false(multipart_finish(m, &again));
        assert_string_equal(again.message, err.message);
        add_str(r, "ERROR: ");
        add_str(r, err.message);
    } else {
        assert_int_equal(err.code, OBIA_E_OK);
    }
    assert_false(r->calls_after_refusal);
    multipart_free(m);
    return r->log;
}

static record rec;

static const char *parse_whole(const char *boundary, const char *body, size_t len)
{
    return parse_cuts(&rec, boundary, body, len, NULL, 0);
}

#define PARSE(b, s) parse_whole(b, s, sizeof s - 1)

/* The same result whatever the pieces: whole, byte by byte, cut at every
 * position, cut at every pair of positions. */
static void check_all_splits(const char *boundary, const char *body, size_t len, const char *want)
{
    static record r2;
    const char *whole = parse_whole(boundary, body, len);
    size_t elen = rec.len;
    char *expect = malloc(elen + 1);
    assert_non_null(expect);
    memcpy(expect, whole, elen + 1);
    if (want)
        assert_string_equal(expect, want);
#define SAME(got)                                                                          \
    do {                                                                                   \
        const char *got_ = (got);                                                          \
        assert_string_equal(got_, expect);                                                 \
        assert_int_equal(r2.len, elen);                                                    \
        assert_memory_equal(got_, expect, elen);                                           \
    } while (0)

    size_t *cuts = malloc((len + 2) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    SAME(parse_cuts(&r2, boundary, body, len, cuts, len));
    for (size_t i = 0; i <= len; i++) {
        cuts[0] = i;
        SAME(parse_cuts(&r2, boundary, body, len, cuts, 1));
    }
    for (size_t i = 0; i <= len; i++)
        for (size_t j = i; j <= len; j++) {
            cuts[0] = i;
            cuts[1] = j;
            SAME(parse_cuts(&r2, boundary, body, len, cuts, 2));
        }
#undef SAME
    free(cuts);
    free(expect);
}

#define CHECK_SPLITS(b, s, want) check_all_splits(b, s, sizeof s - 1, want)

static const char three_parts[] =
    "This is the preamble; --XyZ here is not a delimiter.\r\n"
    "--XyZ\r\n"
    "Content-Type: application/dicom\r\n"
    "Content-Location: a.dcm\r\n"
    "\r\n"
    "first\r\n--Xy\r\n-\r\r\n--xyz\n--XyY a--XyZ\r\n"
    "\r\n--XyZ  \t\r\n"
    "content-type:application/dicom\r\n"
    "CONTENT-ID:   <p2@obia>  \r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "X-Other: ignored\r\n"
    "\r\n"
    "DICM\0\x01\r\n\r\r\r\n\n--\r\n--X"
    "\r\n--XyZ\r\n"
    "\r\n"
    "\r\n--XyZ--\r\n"
    "epilogue\r\n--XyZ\r\n--XyZ-- ignored too";

static void test_three_parts(void **state)
{
    (void)state;
    static const char want[] =
        "<application/dicom|a.dcm|-|->"
        "first\r\n--Xy\r\n-\r\r\n--xyz\n--XyY a--XyZ\r\n</>"
        "<application/dicom|-|<p2@obia>|binary>"
        "DICM\0\x01\r\n\r\r\r\n\n--\r\n--X</>"
        "<-|-|-|->"
        "</>";
    const char *got = PARSE("XyZ", three_parts);
    assert_int_equal(rec.len, sizeof want - 1);
    assert_memory_equal(got, want, sizeof want - 1);
    assert_int_equal(rec.begins, 3);
    assert_int_equal(rec.ends, 3);
    /* the log holds a NUL: the splits are compared by length too */
    CHECK_SPLITS("XyZ", three_parts, NULL);
}

/* Delimiters at the very start, LF line ends, a close without a line end,
 * no parts at all, a delimiter right after a part's headers. */
static void test_shapes(void **state)
{
    (void)state;
    CHECK_SPLITS("b", "--b\r\nContent-Type: a/b\r\n\r\nx\r\n--b--", "<a/b|-|-|->x</>");
    CHECK_SPLITS("b", "\r\n--b\r\n\r\nx\r\n--b--\r\n", "<-|-|-|->x</>");
    CHECK_SPLITS("b", "--b--", "");
    CHECK_SPLITS("b", "junk\r\n--b--\r\nmore", "");
    CHECK_SPLITS("b", "--b\r\nContent-Type: a/b\r\n\r\n--b\r\n\r\nz\r\n--b--",
                 "<a/b|-|-|-></><-|-|-|->z</>");
    CHECK_SPLITS("b", "--b\r\n\r\n--bx",
                 "<-|-|-|-></>ERROR: multipart body at byte 10: the delimiter \"--b\" is followed "
                 "by 0x78, not a line end or \"--\"");
    /* bare LF line ends everywhere */
    CHECK_SPLITS("LF-only", "pre\n--LF-only\nContent-Type: application/dicom\nContent-ID: <1>\n\n"
                            "one\nline\n--LF-only\n\ntwo\r\n--LF-only--\n",
                 "<application/dicom|-|<1>|->one\nline</><-|-|-|->two</>");
    /* a CR ending the data of an LF body belongs to the delimiter */
    CHECK_SPLITS("b", "--b\n\ndata\r\r\n--b--", "<-|-|-|->data\r</>");
    /* a boundary of 70 characters with spaces and punctuation */
    static const char b70[] = "'()+_,-./:=? 0123456789abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char boundary[71];
    memcpy(boundary, b70, 70);
    boundary[70] = '\0';
    char body[512];
    int n = snprintf(body, sizeof body, "--%s\r\n\r\nbody --%s\r\n--%s--", boundary, boundary,
                     boundary);
    char want[256];
    snprintf(want, sizeof want, "<-|-|-|->body --%s</>", boundary);
    check_all_splits(boundary, body, (size_t)n, want);
}

/* Data that repeats prefixes of the delimiter around the pieces' edges. */
static void test_boundary_like_data(void **state)
{
    (void)state;
    CHECK_SPLITS("--", "----\r\n\r\n---\r\n---x-----\r\n\r\n----\r\n\r\na-\r\n-\r\n------",
                 "<-|-|-|->---\r\n---x-----\r\n</><-|-|-|->a-\r\n-</>");
    CHECK_SPLITS("aab", "--aab\r\n\r\n\r\n--aa\r\n--aaa\r\n--aab\r\n\r\n\n\n--aa\n--aab--",
                 "<-|-|-|->\r\n--aa\r\n--aaa</><-|-|-|->\n\n--aa</>");
    CHECK_SPLITS("b", "--b\r\n\r\n\r\r\r\n\r\n\n\r\n--b--", "<-|-|-|->\r\r\r\n\r\n\n</>");
    CHECK_SPLITS("b", "--b\r\n\r\n--c\r\n--b--", "<-|-|-|->--c</>");

    /* every byte value in a part */
    char body[600];
    size_t n = 0;
    memcpy(body, "--B0\r\n\r\n", 8);
    n = 8;
    for (int i = 0; i < 256; i++)
        body[n++] = (char)i;
    memcpy(body + n, "\r\n--B0--", 8);
    n += 8;
    record *r = &rec;
    parse_cuts(r, "B0", body, n, NULL, 0);
    assert_int_equal(r->data_bytes, 256);
    assert_memory_equal(r->log + 9, body + 8, 256);
}

static void test_truncated(void **state)
{
    (void)state;
    CHECK_SPLITS("XyZ", "--XyZ\r\nContent-Type: application/dicom\r\n\r\nfirst part, no end",
                 "<application/dicom|-|-|->first part, no endERROR: multipart body at byte 60: the "
                 "body ends inside "
                 "part 1: the closing delimiter \"--XyZ--\" is missing (a truncated body?)");
    CHECK_SPLITS("XyZ", "--XyZ\r\n\r\ndata\r\n--XyZ\r\nContent-Ty",
                 "<-|-|-|->data</>ERROR: multipart body at byte 32: the body ends inside the "
                 "headers of part 2 (a truncated body?)");
    CHECK_SPLITS("XyZ", "--XyZ\r\n\r\ndata\r\n--XyZ",
                 "<-|-|-|->data</>ERROR: multipart body at byte 20: the body ends after a "
                 "delimiter: the closing delimiter \"--XyZ--\" is missing (a truncated body?)");
    CHECK_SPLITS("XyZ", "--XyZ\r\n\r\ndata\r\n--XyZ-",
                 "<-|-|-|->data</>ERROR: multipart body at byte 21: the body ends after a "
                 "delimiter: the closing delimiter \"--XyZ--\" is missing (a truncated body?)");
    CHECK_SPLITS("XyZ", "--XyZ\r\n\r\ndata\r\n--Xy",
                 "<-|-|-|->dataERROR: multipart body at byte 19: the body ends inside part 1: the "
                 "closing delimiter \"--XyZ--\" is missing (a truncated body?)");
    CHECK_SPLITS("XyZ", "no delimiter at all\r\n--XyZZ",
                 "ERROR: multipart body at byte 26: the delimiter \"--XyZ\" is followed by 0x5A, "
                 "not a line end or \"--\"");
    CHECK_SPLITS("XyZ", "no delimiter at all\r\n--Xy",
                 "ERROR: multipart body at byte 25: the body ends without any delimiter \"--XyZ\"");
    CHECK_SPLITS("XyZ", "", "ERROR: multipart body at byte 0: the body ends without any "
                            "delimiter \"--XyZ\"");
}

static void test_malformed(void **state)
{
    (void)state;
    CHECK_SPLITS("b", "--b\r\nContent-Type: a/b\r\n continued\r\n\r\nx\r\n--b--",
                 "ERROR: multipart body at byte 24: part 1: a folded header line (obsolete, "
                 "refused)");
    CHECK_SPLITS("b", "--b\r\nContent-Type a/b\r\n\r\nx\r\n--b--",
                 "ERROR: multipart body at byte 17: part 1: header Content-Type is not followed "
                 "by ':'");
    CHECK_SPLITS("b", "--b\r\n: a/b\r\n\r\nx\r\n--b--",
                 "ERROR: multipart body at byte 5: part 1: a header line that does not start with "
                 "a name");
    CHECK_SPLITS("b", "--b\r\nContent-Type: a/b\r\ncontent-type: c/d\r\n\r\nx\r\n--b--",
                 "ERROR: multipart body at byte 24: part 1: header content-type given twice");
    CHECK_SPLITS("b", "--b\r\nContent-Type: a/b\rX: y\r\n\r\nx\r\n--b--",
                 "ERROR: multipart body at byte 22: part 1: a CR not followed by LF in the "
                 "headers");
    CHECK_SPLITS("b", "--b\r\nContent-Type: a\0b\r\n\r\nx\r\n--b--",
                 "ERROR: multipart body at byte 20: part 1: a control character (0x00) in the "
                 "headers");
    CHECK_SPLITS("b", "--b\rx\r\n\r\nx\r\n--b--",
                 "ERROR: multipart body at byte 3: a CR not followed by LF after the delimiter "
                 "\"--b\"");
    CHECK_SPLITS("b", "--b \tx\r\n\r\nx\r\n--b--",
                 "ERROR: multipart body at byte 5: the delimiter \"--b\" is followed by 0x78, not "
                 "a line end or \"--\"");
    CHECK_SPLITS("b", "--b\r\n\r\nx\r\n--b-\r\n",
                 "<-|-|-|->x</>ERROR: multipart body at byte 14: the delimiter \"--b-\" has one "
                 "'-' where the closing delimiter has two");
    /* the error keeps the offset for callers */
    obia_error err;
    obia_error_clear(&err);
    multipart *m = multipart_new("b", &handler, &rec, &err);
    memset(&rec, 0, sizeof rec);
    assert_false(multipart_feed(m, "--bZ", 4, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    assert_int_equal(err.offset, 3);
    multipart_free(m);
}

static void test_header_limit(void **state)
{
    (void)state;
    /* a header section of exactly MULTIPART_MAX_HEADERS bytes (the blank line
     * included) is fine; one more byte is not */
    size_t cap = MULTIPART_MAX_HEADERS + 64;
    char *body = malloc(cap);
    assert_non_null(body);
    for (int extra = 0; extra <= 1; extra++) {
        static const char prefix[] = "--b\r\nContent-Type: a/b\r\nX-Pad: ";
        size_t n = sizeof prefix - 1;
        memcpy(body, prefix, n);
        /* the section: the lines after "--b\r\n", the pad, its CRLF, the blank line */
        size_t section = MULTIPART_MAX_HEADERS + (size_t)extra;
        size_t pad = section - (n - 5) - 4;
        memset(body + n, 'p', pad);
        n += pad;
        memcpy(body + n, "\r\n\r\nok\r\n--b--", 13);
        n += 13;
        record *r = &rec;
        const char *got = parse_cuts(r, "b", body, n, NULL, 0);
        if (extra == 0) {
            assert_string_equal(got, "<a/b|-|-|->ok</>");
        } else {
            char want[256];
            snprintf(want, sizeof want,
                     "ERROR: multipart body at byte %d: the headers of part 1 exceed 16384 bytes",
                     5 + MULTIPART_MAX_HEADERS);
            assert_string_equal(got, want);
        }
    }
    /* many small header lines count together */
    size_t n = 0;
    memcpy(body, "--b\r\n", 5);
    n = 5;
    while (n < MULTIPART_MAX_HEADERS + 10) {
        memcpy(body + n, "X-A: b\r\n", 8);
        n += 8;
    }
    memcpy(body + n, "\r\n", 2);
    n += 2;
    obia_error err;
    obia_error_clear(&err);
    multipart *m = multipart_new("b", &handler, &rec, &err);
    memset(&rec, 0, sizeof rec);
    assert_false(multipart_feed(m, body, n, &err));
    assert_int_equal(err.code, OBIA_E_LIMIT);
    multipart_free(m);
    free(body);
}

static void test_refusal(void **state)
{
    (void)state;
    static const char body[] = "--b\r\nContent-Type: application/dicom\r\n\r\none\r\n--b\r\n"
                               "Content-Type: text/plain\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b--";
    record *r = &rec;

    /* begin refuses part 2 with its own error: kept, and nothing more is called */
    for (size_t cut = 0; cut <= sizeof body - 1; cut++) {
        memset(r, 0, sizeof *r);
        r->refuse_begin = 2;
        obia_error err;
        obia_error_clear(&err);
        multipart *m = multipart_new("b", &handler, r, &err);
        bool ok = multipart_feed(m, body, cut, &err) &&
                  multipart_feed(m, body + cut, sizeof body - 1 - cut, &err);
        assert_false(ok);
        assert_int_equal(err.code, OBIA_E_UNSUPPORTED);
        assert_string_equal(err.message, "part 2: not a DICOM file");
        assert_false(multipart_finish(m, &err));
        assert_false(r->calls_after_refusal);
        assert_int_equal(r->begins, 2);
        assert_int_equal(r->ends, 1);
        multipart_free(m);
    }

    /* data refuses without an error: the parser says so */
    memset(r, 0, sizeof *r);
    r->refuse_data = true;
    obia_error err;
    obia_error_clear(&err);
    multipart *m = multipart_new("b", &handler, r, &err);
    assert_false(multipart_feed(m, body, sizeof body - 1, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    assert_string_equal(err.message,
                        "multipart body at byte 40: the handler refused the data of part 1");
    assert_int_equal(r->ends, 0);
    multipart_free(m);

    /* end refuses */
    memset(r, 0, sizeof *r);
    r->refuse_end = true;
    obia_error_clear(&err);
    m = multipart_new("b", &handler, r, &err);
    assert_false(multipart_feed(m, body, sizeof body - 1, &err));
    assert_int_equal(err.code, OBIA_E_IO);
    assert_string_equal(err.message, "could not store the part");
    assert_int_equal(r->begins, 1);
    multipart_free(m);

    /* errors without an error object are still kept for later calls */
    memset(r, 0, sizeof *r);
    r->refuse_begin = 1;
    m = multipart_new("b", &handler, r, NULL);
    assert_false(multipart_feed(m, body, sizeof body - 1, NULL));
    obia_error_clear(&err);
    assert_false(multipart_finish(m, &err));
    assert_string_equal(err.message, "part 1: not a DICOM file");
    multipart_free(m);

    /* no callbacks at all */
    obia_error_clear(&err);
    m = multipart_new("b", NULL, NULL, &err);
    assert_true(multipart_feed(m, body, sizeof body - 1, &err));
    assert_true(multipart_finish(m, &err));
    multipart_free(m);
}

/* Part data goes on as it arrives: nothing waits for the end of the part
 * beyond what could still be a delimiter. */
static void test_streaming(void **state)
{
    (void)state;
    static const char boundary[] = "0123456789abcdef0123456789abcdef";
    size_t total = 1 << 20;
    char *data = malloc(total);
    assert_non_null(data);
    for (size_t i = 0; i < total; i++)
        data[i] = (char)((i * 131 + (i >> 9)) & 0xFF);
    record *r = &rec;
    memset(r, 0, sizeof *r);
    obia_error err;
    obia_error_clear(&err);
    multipart *m = multipart_new(boundary, &handler, r, &err);
    static const char head[] = "--0123456789abcdef0123456789abcdef\r\n"
                               "Content-Type: application/dicom\r\n\r\n";
    assert_true(multipart_feed(m, head, sizeof head - 1, &err));
    /* feed in uneven pieces; after each piece at most the boundary plus
     * "\r\n--" bytes are held back */
    size_t fed = 0, piece = 1;
    r->len = 0;
    while (fed < total) {
        size_t n = total - fed < piece ? total - fed : piece;
        assert_true(multipart_feed(m, data + fed, n, &err));
        fed += n;
        size_t passed = r->data_bytes;
        assert_true(passed <= fed);
        assert_true(fed - passed <= 4 + sizeof boundary - 1);
        piece = piece * 3 + 7;
        if (piece > 100000)
            piece = 1;
        r->len = 0;   /* only the counts matter here */
    }
    assert_int_equal(r->begins, 1);
    static const char tail[] = "\r\n--0123456789abcdef0123456789abcdef--\r\n";
    assert_true(multipart_feed(m, tail, sizeof tail - 1, &err));
    assert_true(multipart_finish(m, &err));
    assert_int_equal(r->data_bytes, total);
    assert_int_equal(r->ends, 1);
    multipart_free(m);
    free(data);
}

static void test_new_boundary(void **state)
{
    (void)state;
    struct {
        const char *boundary;
        const char *message;
    } cases[] = {
        {"", "multipart boundary is empty"},
        {"ab ", "multipart boundary ends with a space"},
        {"a\"b", "multipart boundary: character 2 ('\"') is not allowed in a boundary (RFC 2046)"},
        {"a\r\nb",
         "multipart boundary: character 2 (0x0D) is not allowed in a boundary (RFC 2046)"},
        {"a;b", "multipart boundary: character 2 (';') is not allowed in a boundary (RFC 2046)"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901",
         "multipart boundary is 71 characters long; at most 70 are allowed"},
        {NULL, "multipart boundary is missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        obia_error err;
        obia_error_clear(&err);
        assert_null(multipart_new(cases[i].boundary, &handler, NULL, &err));
        assert_int_equal(err.code, OBIA_E_ARG);
        assert_string_equal(err.message, cases[i].message);
    }
}

/* multipart_boundary on a Content-Type header: "boundary|type" or "CODE: message" */
static const char *boundary_of(const char *header, size_t cap)
{
    static char out[1024];
    char b[128], t[64];
    obia_error err;
    obia_error_clear(&err);
    assert_true(cap <= sizeof b);
    if (!multipart_boundary(header, b, cap, t, sizeof t, &err)) {
        snprintf(out, sizeof out, "%s: %s", obia_status_name(err.code), err.message);
        return out;
    }
    snprintf(out, sizeof out, "%s|%s", b, t);
    return out;
}

static void test_content_type(void **state)
{
    (void)state;
    assert_string_equal(boundary_of("multipart/related; type=\"application/dicom\"; boundary=XyZ",
                                    128),
                        "XyZ|application/dicom");
    assert_string_equal(boundary_of("Multipart/Related;Boundary=\"a b:c?\";"
                                    "TYPE=\"Application/DICOM\"", 128),
                        "a b:c?|application/dicom");
    assert_string_equal(boundary_of("multipart/related; boundary=x", 128), "x|");
    assert_string_equal(boundary_of("multipart/related; boundary=xyz", 4), "xyz|");
    assert_string_equal(boundary_of("multipart/related; boundary=xyz", 3),
                        "ARG: Content-Type: the boundary (3 characters) does not fit in 3");
    assert_string_equal(boundary_of("application/dicom", 128),
                        "UNSUPPORTED: Content-Type is application/dicom, not multipart/related");
    assert_string_equal(boundary_of("multipart/mixed; boundary=x", 128),
                        "UNSUPPORTED: Content-Type is multipart/mixed, not multipart/related");
    assert_string_equal(boundary_of(NULL, 128),
                        "UNSUPPORTED: no Content-Type header: multipart/related is expected");
    assert_string_equal(boundary_of("  ", 128),
                        "UNSUPPORTED: no Content-Type header: multipart/related is expected");
    assert_string_equal(boundary_of("multipart/related; type=\"application/dicom\"", 128),
                        "ARG: Content-Type multipart/related has no boundary parameter");
    assert_string_equal(boundary_of("multipart/related; boundary=", 128),
                        "ARG: Content-Type: media type at byte 28: parameter \"boundary\" has no "
                        "value");
    assert_string_equal(boundary_of("multipart/related; boundary=\"\"", 128),
                        "ARG: Content-Type: multipart boundary is empty");
    assert_string_equal(boundary_of("multipart/related; boundary=\"a b \"", 128),
                        "ARG: Content-Type: multipart boundary ends with a space");
    assert_string_equal(boundary_of("multipart/related; boundary=a;b", 128),
                        "ARG: Content-Type: media type at byte 31: parameter \"b\" has no '=' "
                        "and value");
    assert_string_equal(boundary_of("multipart/related; boundary=\"a;b\"", 128),
                        "ARG: Content-Type: multipart boundary: character 2 (';') is not allowed "
                        "in a boundary (RFC 2046)");
    assert_string_equal(boundary_of("multipart/related; boundary=a; boundary=b", 128),
                        "ARG: Content-Type: media type at byte 31: parameter \"boundary\" given "
                        "twice");
    assert_string_equal(
        boundary_of("multipart/related; boundary="
                    "12345678901234567890123456789012345678901234567890123456789012345678901",
                    128),
        "ARG: Content-Type: multipart boundary is 71 characters long; at most 70 are allowed");
    assert_string_equal(
        boundary_of("multipart/related; boundary=x; type=\"application/dicom+json; and more "
                    "and more and more and more and more\"",
                    128),
        "ARG: Content-Type: the type parameter is longer than 63 characters");

    /* type may be left out */
    char b[8];
    obia_error err;
    obia_error_clear(&err);
    assert_true(multipart_boundary("multipart/related;boundary=q;type=a/b", b, sizeof b, NULL, 0,
                                   &err));
    assert_string_equal(b, "q");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_parts),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_boundary_like_data),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_header_limit),
        cmocka_unit_test(test_refusal),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_new_boundary),
        cmocka_unit_test(test_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
