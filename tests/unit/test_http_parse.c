/* Unit tests of the request parsers (server/parse.c): request targets, media
 * types and Accept headers, QIDO-RS query parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "parse.h"

#include <stdio.h>
#include <string.h>

/* ---- request targets ------------------------------------------------------------------ */

/* The parse of u as "path|seg,seg|name=value&name=value", or "ERROR: message". */
static const char *target(const char *u)
{
    static char out[8192];
    obia_arena *a = obia_arena_new(4096);
    req r;
    memset(&r, 0, sizeof r);
    obia_error err;
    obia_error_clear(&err);
    if (!http_uri_parse(u, a, &r, &err)) {
        snprintf(out, sizeof out, "ERROR: %s", err.message);
        assert_int_not_equal(err.code, OBIA_E_OK);
        obia_arena_free(a);
        return out;
    }
    assert_int_equal(err.code, OBIA_E_OK);
    size_t o = (size_t)snprintf(out, sizeof out, "%s|", r.path);
    for (size_t i = 0; i < r.nseg; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? "," : "", r.seg[i]);
    o += (size_t)snprintf(out + o, sizeof out - o, "|");
    for (size_t i = 0; i < r.nquery; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s=%s", i ? "&" : "", r.query[i].name,
                              r.query[i].value);
    obia_arena_free(a);
    return out;
}

static obia_status target_code(const char *u)
{
    obia_arena *a = obia_arena_new(4096);
    req r;
    memset(&r, 0, sizeof r);
    obia_error err;
    obia_error_clear(&err);
    bool ok = http_uri_parse(u, a, &r, &err);
    obia_arena_free(a);
    assert_true(ok == (err.code == OBIA_E_OK));
    return err.code;
}

static void test_uri_parts(void **state)
{
    (void)state;
    assert_string_equal(target("/dicomweb/studies?PatientID=AB%2A&limit=10"),
                        "/dicomweb/studies|dicomweb,studies|PatientID=AB*&limit=10");
    assert_string_equal(target("/"), "/||");
    assert_string_equal(target("/?"), "/||");
    assert_string_equal(target("//a///b/"), "/a/b|a,b|");
    assert_string_equal(target("/a%20b/c+d"), "/a b/c+d|a b,c+d|");
    assert_string_equal(target("/x?a=1+2&b=%2B&flag&&c=&d=x=y&"),
                        "/x|x|a=1 2&b=+&flag=&c=&d=x=y");
    assert_string_equal(target("/x?q=%2f%2e%2e%2F"), "/x|x|q=/../");
    assert_string_equal(target("/a#frag?x=1"), "/a|a|");
    assert_string_equal(target("/a?x=1#f&y=2"), "/a|a|x=1");
    assert_string_equal(target("/caf%C3%A9/%E2%82%AC?n=%F0%9F%98%80"),
                        "/caf\xc3\xa9/\xe2\x82\xac|caf\xc3\xa9,\xe2\x82\xac|n=\xf0\x9f\x98\x80");
    assert_string_equal(target("/a.b/..c/.../x?"), "/a.b/..c/.../x|a.b,..c,...,x|");
    assert_string_equal(target("/s?PatientName=D%C3%B6e%5E*&00100020=1%5C2"),
                        "/s|s|PatientName=D\xc3\xb6" "e^*&00100020=1\\2");
}

static void test_uri_refused(void **state)
{
    (void)state;
    assert_string_equal(target("dicomweb/studies"),
                        "ERROR: request target at byte 0: does not start with '/'");
    assert_string_equal(target(""), "ERROR: request target at byte 0: does not start with '/'");
    assert_string_equal(target("http://host/x"),
                        "ERROR: request target at byte 0: does not start with '/'");
    assert_string_equal(target("*"), "ERROR: request target at byte 0: does not start with '/'");
    /* escapes */
    assert_string_equal(target("/abc/%zz"),
                        "ERROR: request target at byte 5: bad percent escape \"%zz\"");
    assert_string_equal(target("/a%4g"),
                        "ERROR: request target at byte 2: bad percent escape \"%4g\"");
    assert_string_equal(target("/a%4"),
                        "ERROR: request target at byte 2: truncated percent escape \"%4\"");
    assert_string_equal(target("/a%"),
                        "ERROR: request target at byte 2: truncated percent escape \"%\"");
    assert_string_equal(target("/a%4/b"),
                        "ERROR: request target at byte 2: truncated percent escape \"%4\"");
    assert_string_equal(target("/a?x=%4"),
                        "ERROR: request target at byte 5: truncated percent escape \"%4\"");
    assert_string_equal(target("/a?x=%G1"),
                        "ERROR: request target at byte 5: bad percent escape \"%G1\"");
    assert_string_equal(target("/a%00b"),
                        "ERROR: request target at byte 2: an encoded NUL (%00)");
    assert_string_equal(target("/a?x=1%00"),
                        "ERROR: request target at byte 6: an encoded NUL (%00)");
    assert_string_equal(target("/a?%00=1"),
                        "ERROR: request target at byte 3: an encoded NUL (%00)");
    /* UTF-8 */
    assert_string_equal(target("/ok/%C3%28"),
                        "ERROR: request target at byte 4: path segment 2 is not valid UTF-8 once "
                        "decoded");
    assert_string_equal(target("/%ED%A0%80"),   /* a surrogate */
                        "ERROR: request target at byte 1: path segment 1 is not valid UTF-8 once "
                        "decoded");
    assert_string_equal(target("/%C0%AF"),   /* overlong '/' */
                        "ERROR: request target at byte 1: path segment 1 is not valid UTF-8 once "
                        "decoded");
    assert_string_equal(target("/%E0%80%AF"),   /* overlong in three bytes */
                        "ERROR: request target at byte 1: path segment 1 is not valid UTF-8 once "
                        "decoded");
    assert_string_equal(target("/%E0%9F%BF"),   /* U+07FF in three bytes */
                        "ERROR: request target at byte 1: path segment 1 is not valid UTF-8 once "
                        "decoded");
    assert_string_equal(target("/%E0%A0%80"), "/\xe0\xa0\x80|\xe0\xa0\x80|");
    assert_string_equal(target("/%F0%80%80%AF"),   /* overlong in four bytes */
                        "ERROR: request target at byte 1: path segment 1 is not valid UTF-8 once "
                        "decoded");
    assert_string_equal(target("/%E2%82%AC%F4%8F%BF%BF"), "/\xe2\x82\xac\xf4\x8f\xbf\xbf|"
                                                          "\xe2\x82\xac\xf4\x8f\xbf\xbf|");
    assert_string_equal(target("/%F4%90%80%80"),   /* beyond U+10FFFF */
                        "ERROR: request target at byte 1: path segment 1 is not valid UTF-8 once "
                        "decoded");
    assert_string_equal(target("/\xff"),
                        "ERROR: request target at byte 1: path segment 1 is not valid UTF-8 once "
                        "decoded");
    assert_string_equal(target("/x?a=1&b=%E2%82"),
                        "ERROR: request target at byte 9: the value of query parameter 2 is not "
                        "valid UTF-8 once decoded");
    assert_string_equal(target("/x?%FF=1"),
                        "ERROR: request target at byte 3: the name of query parameter 1 is not "
                        "valid UTF-8 once decoded");
    /* traversal and separators */
    assert_string_equal(target("/a/../b"),
                        "ERROR: request target at byte 3: path segment 2 is \"..\"");
    assert_string_equal(target("/a/./b"),
                        "ERROR: request target at byte 3: path segment 2 is \".\"");
    assert_string_equal(target("/.."), "ERROR: request target at byte 1: path segment 1 is \"..\"");
    assert_string_equal(target("/%2e%2E/etc"),
                        "ERROR: request target at byte 1: path segment 1 is \"..\"");
    assert_string_equal(target("/a/.%2e"),
                        "ERROR: request target at byte 3: path segment 2 is \"..\"");
    assert_string_equal(target("/web/..?x=1"),
                        "ERROR: request target at byte 5: path segment 2 is \"..\"");
    assert_string_equal(target("/a%2Fb"),
                        "ERROR: request target at byte 1: path segment 1 holds an encoded '/'");
    assert_string_equal(target("/a%2f..%2fb"),
                        "ERROR: request target at byte 1: path segment 1 holds an encoded '/'");
    assert_string_equal(target("/x/a%5Cb"),
                        "ERROR: request target at byte 3: path segment 2 holds a '\\'");
    assert_string_equal(target("/x/..\\..\\etc"),
                        "ERROR: request target at byte 3: path segment 2 holds a '\\'");
    assert_string_equal(target("/a%0Ab"),
                        "ERROR: request target at byte 1: path segment 1 holds a control character "
                        "(0x0A)");
    assert_string_equal(target("/a?=1"),
                        "ERROR: request target at byte 3: query parameter 1 has an empty name");
    assert_string_equal(target("/a?x=1&=2"),
                        "ERROR: request target at byte 7: query parameter 2 has an empty name");
    assert_int_equal(target_code("/a/../b"), OBIA_E_ARG);
    assert_int_equal(target_code("/a%zz"), OBIA_E_ARG);
}

static void test_uri_limits(void **state)
{
    (void)state;
    char u[4096];
    size_t o = 0;
    for (int i = 0; i < REQ_MAX_SEGMENTS; i++)
        o += (size_t)snprintf(u + o, sizeof u - o, "/s%d", i);
    assert_int_equal(target_code(u), OBIA_E_OK);
    snprintf(u + o, sizeof u - o, "//");   /* empty segments do not count */
    assert_int_equal(target_code(u), OBIA_E_OK);
    snprintf(u + o, sizeof u - o, "/one-more");
    assert_int_equal(target_code(u), OBIA_E_LIMIT);
    assert_non_null(strstr(target(u), "more than 16 path segments"));

    o = (size_t)snprintf(u, sizeof u, "/q?");
    for (int i = 0; i < REQ_MAX_PARAMS; i++)
        o += (size_t)snprintf(u + o, sizeof u - o, "p%d=%d&", i, i);
    assert_int_equal(target_code(u), OBIA_E_OK);
    snprintf(u + o, sizeof u - o, "&&");   /* empty pieces do not count */
    assert_int_equal(target_code(u), OBIA_E_OK);
    snprintf(u + o, sizeof u - o, "last");
    assert_int_equal(target_code(u), OBIA_E_LIMIT);
    assert_non_null(strstr(target(u), "more than 64 query parameters"));
}

/* The arena owns every string; a second parse into the same req starts over. */
static void test_uri_reuse(void **state)
{
    (void)state;
    obia_arena *a = obia_arena_new(256);
    req r;
    memset(&r, 0, sizeof r);
    obia_error err;
    obia_error_clear(&err);
    assert_true(http_uri_parse("/a/b/c?x=1&y=2", a, &r, &err));
    assert_int_equal(r.nseg, 3);
    assert_true(http_uri_parse("/d?z", a, &r, &err));
    assert_int_equal(r.nseg, 1);
    assert_string_equal(r.seg[0], "d");
    assert_int_equal(r.nquery, 1);
    assert_string_equal(r.query[0].name, "z");
    assert_string_equal(r.query[0].value, "");
    assert_false(http_uri_parse(NULL, a, &r, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    obia_arena_free(a);
}

/* ---- media types ---------------------------------------------------------------------- */

/* "type;name=value;..." or "ERROR: message" */
static const char *media(const char *s)
{
    static char out[4096];
    media_type mt;
    obia_error err;
    obia_error_clear(&err);
    if (!http_media_type_parse(s, &mt, &err)) {
        assert_int_equal(err.code, OBIA_E_ARG);
        snprintf(out, sizeof out, "ERROR: %s", err.message);
        return out;
    }
    assert_int_equal(mt.q, 1000);
    size_t o = (size_t)snprintf(out, sizeof out, "%s", mt.type);
    for (size_t i = 0; i < mt.nparam; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, ";%s=%s", mt.param[i].name,
                              mt.param[i].value);
    return out;
}

static void test_media_type(void **state)
{
    (void)state;
    assert_string_equal(media("application/dicom"), "application/dicom");
    assert_string_equal(media("Multipart/Related; Type=\"application/dicom\"; boundary=abc-123"),
                        "multipart/related;type=application/dicom;boundary=abc-123");
    assert_string_equal(media("  text/html ;  charset = UTF-8 ; "), "text/html;charset=UTF-8");
    assert_string_equal(media("text/html;;charset=utf-8;"), "text/html;charset=utf-8");
    assert_string_equal(media("a/b; x=\"q\\\"uo\\\\te\""), "a/b;x=q\"uo\\te");
    assert_string_equal(media("a/b; x=\"semi;colon, comma = equals\""),
                        "a/b;x=semi;colon, comma = equals");
    assert_string_equal(media("a/b; x=\"\""), "a/b;x=");
    assert_string_equal(media("a/b;q=0.5"), "a/b;q=0.5");   /* not a weight here */
    assert_string_equal(media("application/dicom+json; transfer-syntax=1.2.840.10008.1.2.1"),
                        "application/dicom+json;transfer-syntax=1.2.840.10008.1.2.1");
    assert_string_equal(media("a/b; x=\"caf\xc3\xa9\""), "a/b;x=caf\xc3\xa9");
    assert_string_equal(media("a/b; x=\"tab\there\""), "a/b;x=tab\there");
    assert_string_equal(media("multipart/related; type=application/dicom; boundary=b"),
                        "multipart/related;type=application/dicom;boundary=b");

    assert_string_equal(media(""), "ERROR: media type at byte 0: expected a type (such as "
                                   "\"application\")");
    assert_string_equal(media("text"), "ERROR: media type at byte 4: expected '/' after the type "
                                       "\"text\"");
    assert_string_equal(media("text/"), "ERROR: media type at byte 5: expected a subtype after "
                                        "\"text/\"");
    assert_string_equal(media("/html"), "ERROR: media type at byte 0: expected a type (such as "
                                        "\"application\")");
    assert_string_equal(media("text/html x"), "ERROR: media type at byte 10: expected ';' or the "
                                              "end, found \"x\"");
    assert_string_equal(media("text/html; x"), "ERROR: media type at byte 12: parameter \"x\" has "
                                               "no '=' and value");
    assert_string_equal(media("text/html; x="), "ERROR: media type at byte 13: parameter \"x\" has "
                                                "no value");
    assert_string_equal(media("text/html; x=a b"), "ERROR: media type at byte 15: expected ';' or "
                                                   "the end, found \"b\"");
    assert_string_equal(media("text/html; x=\"abc"), "ERROR: media type at byte 13: the quoted "
                                                     "value of parameter \"x\" is not closed");
    assert_string_equal(media("text/html; x=\"abc\\"), "ERROR: media type at byte 13: the quoted "
                                                       "value of parameter \"x\" is not closed");
    assert_string_equal(media("text/html; x=\"a\rb\""), "ERROR: media type at byte 15: a control "
                                                        "character (0x0D) in the value of "
                                                        "parameter \"x\"");
    assert_string_equal(media("text/html; =1"), "ERROR: media type at byte 11: expected a "
                                                "parameter name, found \"=\"");
    assert_string_equal(media("text/html; x=1; X=2"), "ERROR: media type at byte 16: parameter "
                                                      "\"x\" given twice");
    assert_string_equal(media("te xt/html"), "ERROR: media type at byte 2: expected '/' after the "
                                             "type \"te\"");
    assert_string_equal(media("a/b;p1=1;p2=2;p3=3;p4=4;p5=5;p6=6;p7=7;p8=8"),
                        "a/b;p1=1;p2=2;p3=3;p4=4;p5=5;p6=6;p7=7;p8=8");
    assert_string_equal(media("a/b;p1=1;p2=2;p3=3;p4=4;p5=5;p6=6;p7=7;p8=8;p9=9"),
                        "ERROR: media type at byte 44: more than 8 parameters");

    char s[512], v[256];
    memset(v, 'v', 199);
    v[199] = '\0';
    snprintf(s, sizeof s, "a/b; x=%s", v);
    assert_string_equal(media(s) + 6, v);
    snprintf(s, sizeof s, "a/b; x=\"%s\"", v);
    assert_string_equal(media(s) + 6, v);
    snprintf(s, sizeof s, "a/b; x=%sv", v);
    assert_string_equal(media(s), "ERROR: media type at byte 7: the value of parameter \"x\" is "
                                  "longer than 199 bytes");
    snprintf(s, sizeof s, "a/b; x=\"%sv\"", v);
    assert_string_equal(media(s), "ERROR: media type at byte 7: the value of parameter \"x\" is "
                                  "longer than 199 bytes");
    memset(v, 'n', 40);
    v[40] = '\0';
    snprintf(s, sizeof s, "a/b; %s=1", v);
    assert_string_equal(media(s), "ERROR: media type at byte 5: a parameter name longer than 39 "
                                  "characters");
    memset(v, 't', 80);
    v[80] = '\0';
    snprintf(s, sizeof s, "a/%s", v);
    assert_string_equal(media(s), "ERROR: media type at byte 0: the type is longer than 79 "
                                  "characters");

    media_type mt;
    obia_error err;
    obia_error_clear(&err);
    assert_false(http_media_type_parse(NULL, &mt, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    obia_error_clear(&err);
    assert_true(http_media_type_parse("multipart/related; TYPE=\"application/dicom\"; "
                                      "Boundary=\"a b:c\"", &mt, &err));
    assert_string_equal(http_media_param(&mt, "boundary"), "a b:c");
    assert_string_equal(http_media_param(&mt, "BOUNDARY"), "a b:c");
    assert_string_equal(http_media_param(&mt, "Type"), "application/dicom");
    assert_null(http_media_param(&mt, "charset"));
    assert_null(http_media_param(&mt, "boundar"));
}

/* The parsed ranges as "type;q" joined by ",", with parameters in brackets. */
static const char *accept_list(const char *s, size_t max)
{
    static char out[4096];
    media_type r[16];
    assert_true(max <= 16);
    size_t n = http_accept_parse(s, r, max);
    assert_true(n <= max);
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s;%d", i ? "," : "", r[i].type, r[i].q);
        for (size_t k = 0; k < r[i].nparam; k++)
            o += (size_t)snprintf(out + o, sizeof out - o, "[%s=%s]", r[i].param[k].name,
                                  r[i].param[k].value);
        if (i)
            assert_true(r[i - 1].q >= r[i].q);
    }
    return out;
}

static void test_accept(void **state)
{
    (void)state;
    assert_string_equal(accept_list(NULL, 8), "*/*;1000");
    assert_string_equal(accept_list("", 8), "*/*;1000");
    assert_string_equal(accept_list(" \t ", 8), "*/*;1000");
    assert_string_equal(accept_list("application/dicom+json", 8), "application/dicom+json;1000");
    assert_string_equal(accept_list("text/html;q=0.5, application/json, image/*;q=0.8, */*;q=0", 8),
                        "application/json;1000,image/*;800,text/html;500");
    /* equal weights keep their order */
    assert_string_equal(accept_list("a/x;q=0.5, b/y, c/z;q=0.50, d/w;Q=1", 8),
                        "b/y;1000,d/w;1000,a/x;500,c/z;500");
    /* malformed ranges are skipped */
    assert_string_equal(accept_list("bogus, text/plain, */html, a/b;q=2, c/d;q=0.1234, e/f;q=1.000,"
                                    " g/h;q=1.001, i/j;q=, k/l;q=0.5;q=0.6, m/n;q=.5, o/p;x",
                                    8),
                        "text/plain;1000,e/f;1000");
    assert_string_equal(accept_list("a/b;q=1., c/d;q=0., e/f;q=0.001, g/h;q=0.000", 8),
                        "a/b;1000,e/f;1");
    /* commas inside quoted strings do not split ranges */
    assert_string_equal(accept_list("multipart/related; type=\"application/dicom, x\"; q=0.9, "
                                    "application/json",
                                    8),
                        "application/json;1000,multipart/related;900[type=application/dicom, x]");
    assert_string_equal(accept_list("multipart/related; type=\"a\\\",b\";transfer-syntax=*, a/b",
                                    8),
                        "multipart/related;1000[type=a\",b][transfer-syntax=*],a/b;1000");
    /* empty elements */
    assert_string_equal(accept_list(",, a/b ,,c/d,", 8), "a/b;1000,c/d;1000");
    /* nothing acceptable */
    assert_string_equal(accept_list("a/b;q=0", 8), "");
    assert_string_equal(accept_list("garbage", 8), "");
    /* more ranges than room: the best weighted are kept */
    assert_string_equal(accept_list("a/a;q=0.1, b/b;q=0.2, c/c;q=0.3", 2), "c/c;300,b/b;200");
    assert_string_equal(accept_list("a/a, b/b, c/c", 2), "a/a;1000,b/b;1000");
    assert_string_equal(accept_list("a/a;q=0.1, b/b, c/c;q=0.3, d/d", 3),
                        "b/b;1000,d/d;1000,c/c;300");
    assert_string_equal(accept_list("a/a", 0), "");
    assert_string_equal(accept_list(NULL, 0), "");
}

static void test_media_match(void **state)
{
    (void)state;
    media_type r[4];
    assert_int_equal(http_accept_parse("*/*, image/*, application/DICOM, bad", r, 4), 3);
    assert_true(http_media_match(&r[0], "application/dicom"));
    assert_true(http_media_match(&r[0], "image/png"));
    assert_false(http_media_match(&r[0], "nonsense"));
    assert_true(http_media_match(&r[1], "image/png"));
    assert_true(http_media_match(&r[1], "IMAGE/JPEG"));
    assert_false(http_media_match(&r[1], "application/png"));
    assert_false(http_media_match(&r[1], "imagex/png"));
    assert_false(http_media_match(&r[1], "imag/png"));
    assert_true(http_media_match(&r[2], "application/dicom"));
    assert_true(http_media_match(&r[2], "Application/Dicom"));
    assert_false(http_media_match(&r[2], "application/dicom+json"));
    assert_false(http_media_match(&r[2], "application/dico"));
    assert_false(http_media_match(&r[2], "application"));
}

/* ---- QIDO-RS parameters ----------------------------------------------------------------- */

#define P(n, v) {(char *)(n), (char *)(v)}

static obia_error qido(const param *p, size_t n, obia_qido_level level, qido_request *out)
{
    obia_error err;
    obia_error_clear(&err);
    bool ok = qido_params_parse(p, n, level, 25, 1000, out, &err);
    assert_true(ok == (err.code == OBIA_E_OK));
    return err;
}

static void test_qido_params(void **state)
{
    (void)state;
    qido_request q;
    param none[1] = {{NULL, NULL}};
    obia_error err = qido(none, 0, OBIA_QIDO_SERIES, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_int_equal(q.q.level, OBIA_QIDO_SERIES);
    assert_int_equal(q.q.limit, 25);
    assert_int_equal(q.q.offset, 0);
    assert_false(q.q.fuzzy);
    assert_int_equal(q.q.nmatch, 0);
    assert_int_equal(q.ninclude, 0);
    assert_false(q.include_all);
    assert_string_equal(q.unsupported, "");
    assert_null(q.q.study_uid);
    assert_null(q.q.series_uid);

    param p[] = {
        P("PatientName", "Doe^J*"), P("00100020", "AB"), P("limit", "10"), P("offset", "5"),
        P("fuzzymatching", "true"), P("StudyDate", "20200101-20201231"), P("accept", "x"),
        P("charset", "utf-8"), P("0020000d", ""),
    };
    err = qido(p, sizeof p / sizeof p[0], OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_int_equal(q.q.limit, 10);
    assert_int_equal(q.q.offset, 5);
    assert_true(q.q.fuzzy);
    assert_int_equal(q.q.nmatch, 4);
    assert_int_equal(q.q.match[0].tag, 0x00100010);
    assert_ptr_equal(q.q.match[0].value, p[0].value);   /* points into the parameters */
    assert_int_equal(q.q.match[1].tag, 0x00100020);
    assert_string_equal(q.q.match[1].value, "AB");
    assert_int_equal(q.q.match[2].tag, 0x00080020);
    assert_int_equal(q.q.match[3].tag, 0x0020000D);
    assert_string_equal(q.q.match[3].value, "");
    assert_string_equal(q.unsupported, "");

    param f[] = {P("fuzzymatching", "FALSE"), P("limit", "1000"), P("offset", "0")};
    err = qido(f, 3, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_false(q.q.fuzzy);
    assert_int_equal(q.q.limit, 1000);
    assert_int_equal(q.q.offset, 0);

    param big[] = {P("offset", "9223372036854775807"), P("limit", "0001")};
    err = qido(big, 2, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_int_equal(q.q.offset, 9223372036854775807L);
    assert_int_equal(q.q.limit, 1);
}

static void test_qido_includefield(void **state)
{
    (void)state;
    qido_request q;
    param p[] = {
        P("includefield", "PatientAge,00101010"), P("includefield", "StudyDescription"),
        P("includefield", " PatientAge , 00081030 "),   /* repeats are kept once */
        P("includefield", "ReferencedSeriesSequence.SeriesInstanceUID"),
        P("includefield", "7fe00010"),
    };
    obia_error err = qido(p, sizeof p / sizeof p[0], OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_false(q.include_all);
    assert_int_equal(q.ninclude, 4);
    assert_int_equal(q.include[0], 0x00101010);
    assert_int_equal(q.include[1], 0x00081030);
    assert_int_equal(q.include[2], 0x00081115);
    assert_int_equal(q.include[3], 0x7FE00010);
    assert_int_equal(q.q.nmatch, 0);

    param all[] = {P("includefield", "all"), P("includefield", "PatientAge")};
    err = qido(all, 2, OBIA_QIDO_INSTANCE, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_true(q.include_all);
    assert_int_equal(q.ninclude, 1);

    param list[] = {P("includefield", "PatientAge,all,StudyID")};
    err = qido(list, 1, OBIA_QIDO_INSTANCE, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_true(q.include_all);
    assert_int_equal(q.ninclude, 2);

    param empty[] = {P("includefield", "")};
    err = qido(empty, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
    assert_string_equal(err.message, "query parameter includefield is empty");

    param hole[] = {P("includefield", "PatientAge,,StudyID")};
    err = qido(hole, 1, OBIA_QIDO_STUDY, &q);
    assert_string_equal(err.message, "query parameter includefield=\"PatientAge,,StudyID\": an "
                                     "empty attribute name");
    param trailing[] = {P("includefield", "PatientAge,")};
    err = qido(trailing, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);

    param unknown[] = {P("includefield", "PatientAge,PatientShoeSize")};
    err = qido(unknown, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
    assert_string_equal(err.message, "query parameter includefield: \"PatientShoeSize\" is not a "
                                     "DICOM keyword or tag");
    param badtag[] = {P("includefield", "0010001G")};
    err = qido(badtag, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
    param all_caps[] = {P("includefield", "ALL")};
    err = qido(all_caps, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);

    /* at most QIDO_MAX_INCLUDE distinct attributes */
    char values[3][1024];
    param many[3];
    for (int k = 0; k < 3; k++) {
        size_t o = 0;
        for (int i = 0; i < 30; i++)
            o += (size_t)snprintf(values[k] + o, sizeof values[k] - o, "%s0011%04X",
                                  i ? "," : "", (unsigned)(k * 30 + i));
        many[k].name = (char *)"includefield";
        many[k].value = values[k];
    }
    err = qido(many, 2, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_int_equal(q.ninclude, 60);
    err = qido(many, 3, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
    assert_string_equal(err.message, "query parameter includefield: more than 64 attributes");
}

static void test_qido_unsupported(void **state)
{
    (void)state;
    qido_request q;
    param p[] = {
        P("PatientID", "X"), P("PixelData", "1"), P("00091001", "v"),
        P("ReferencedSeriesSequence.SeriesInstanceUID", "1.2"), P("SOPInstanceUID", "1.2.3"),
    };
    obia_error err = qido(p, sizeof p / sizeof p[0], OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_int_equal(q.q.nmatch, 1);
    assert_int_equal(q.q.match[0].tag, 0x00100020);
    assert_string_equal(q.unsupported,
                        "PixelData,00091001,ReferencedSeriesSequence.SeriesInstanceUID,"
                        "SOPInstanceUID");

    /* an instance attribute is a key at instance level */
    err = qido(p, sizeof p / sizeof p[0], OBIA_QIDO_INSTANCE, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_int_equal(q.q.nmatch, 2);
    assert_int_equal(q.q.match[1].tag, 0x00080018);
    assert_string_equal(q.unsupported,
                        "PixelData,00091001,ReferencedSeriesSequence.SeriesInstanceUID");

    /* a long list is cut short with "..." */
    char names[REQ_MAX_PARAMS][16];
    param many[REQ_MAX_PARAMS];
    for (int i = 0; i < REQ_MAX_PARAMS; i++) {
        snprintf(names[i], sizeof names[i], "0009%04X", (unsigned)(0x1000 + i));
        many[i].name = names[i];
        many[i].value = (char *)"x";
    }
    err = qido(many, REQ_MAX_PARAMS, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_int_equal(q.q.nmatch, 0);
    size_t len = strlen(q.unsupported);
    assert_true(len < sizeof q.unsupported);
    assert_true(len > 200);
    assert_string_equal(q.unsupported + len - 4, ",...");
    assert_memory_equal(q.unsupported, "00091000,00091001,", 18);

    /* a bad sequence path is still an error */
    param bad[] = {P("ReferencedSeriesSequence.NoSuchThing", "1")};
    err = qido(bad, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
    param dots[] = {P("ReferencedSeriesSequence..SeriesInstanceUID", "1")};
    err = qido(dots, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
    param trailing_dot[] = {P("PatientID.", "1")};
    err = qido(trailing_dot, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
}

static void test_qido_errors(void **state)
{
    (void)state;
    qido_request q;
    struct {
        param p[2];
        size_t n;
        const char *message;
    } cases[] = {
        {{P("PatientNme", "x")}, 1,
         "query parameter \"PatientNme\": not a DICOM keyword, tag or sequence path"},
        {{P("patientname", "x")}, 1,
         "query parameter \"patientname\": not a DICOM keyword, tag or sequence path"},
        {{P("0010002", "x")}, 1,
         "query parameter \"0010002\": not a DICOM keyword, tag or sequence path"},
        {{P("001000200", "x")}, 1,
         "query parameter \"001000200\": not a DICOM keyword, tag or sequence path"},
        {{P("", "x")}, 1, "query parameter \"\": not a DICOM keyword, tag or sequence path"},
        {{P("Patient Name", "x")}, 1,
         "query parameter \"Patient Name\": not a DICOM keyword, tag or sequence path"},
        {{P("a\"b\n", "x")}, 1,
         "query parameter \"a\\x22b\\x0A\": not a DICOM keyword, tag or sequence path"},
        {{P("PatientID", "1"), P("PatientID", "2")}, 2, "query parameter PatientID given twice"},
        {{P("PatientID", "1"), P("00100020", "2")}, 2,
         "query parameter 00100020 names the attribute of PatientID again"},
        {{P("PixelData", "1"), P("7FE00010", "2")}, 2,
         "query parameter 7FE00010 names the attribute of PixelData again"},
        {{P("limit", "0")}, 1, "query parameter limit=\"0\": not a whole number from 1 to 1000"},
        {{P("limit", "1001")}, 1,
         "query parameter limit=\"1001\": not a whole number from 1 to 1000"},
        {{P("limit", "")}, 1, "query parameter limit=\"\": not a whole number from 1 to 1000"},
        {{P("limit", "-1")}, 1, "query parameter limit=\"-1\": not a whole number from 1 to 1000"},
        {{P("limit", "+5")}, 1, "query parameter limit=\"+5\": not a whole number from 1 to 1000"},
        {{P("limit", "5 ")}, 1, "query parameter limit=\"5 \": not a whole number from 1 to 1000"},
        {{P("limit", "0x10")}, 1,
         "query parameter limit=\"0x10\": not a whole number from 1 to 1000"},
        {{P("limit", "99999999999999999999999")}, 1,
         "query parameter limit=\"99999999999999999999999\": not a whole number from 1 to 1000"},
        {{P("limit", "5"), P("limit", "5")}, 2, "query parameter limit given twice"},
        {{P("offset", "-1")}, 1, "query parameter offset=\"-1\": not a whole number of 0 or more"},
        {{P("offset", "9223372036854775808")}, 1,
         "query parameter offset=\"9223372036854775808\": not a whole number of 0 or more"},
        {{P("offset", "1"), P("offset", "2")}, 2, "query parameter offset given twice"},
        {{P("fuzzymatching", "yes")}, 1,
         "query parameter fuzzymatching=\"yes\": not true or false"},
        {{P("fuzzymatching", "true"), P("fuzzymatching", "true")}, 2,
         "query parameter fuzzymatching given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        obia_error err = qido(cases[i].p, cases[i].n, OBIA_QIDO_STUDY, &q);
        assert_int_equal(err.code, OBIA_E_ARG);
        assert_string_equal(err.message, cases[i].message);
    }

    /* values up to QIDO_MAX_VALUE bytes */
    char v[QIDO_MAX_VALUE + 2];
    memset(v, 'a', QIDO_MAX_VALUE);
    v[QIDO_MAX_VALUE] = '\0';
    param longv[] = {{(char *)"PatientName", v}};
    obia_error err = qido(longv, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    v[QIDO_MAX_VALUE] = 'a';
    v[QIDO_MAX_VALUE + 1] = '\0';
    err = qido(longv, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
    assert_string_equal(err.message,
                        "query parameter PatientName: the value is longer than 1024 bytes");
    longv[0].name = (char *)"PixelData";   /* ignored keys too */
    err = qido(longv, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);

    /* more parameters than a request can hold */
    param many[REQ_MAX_PARAMS + 1];
    for (size_t i = 0; i < REQ_MAX_PARAMS + 1; i++)
        many[i] = (param)P("accept", "x");
    err = qido(many, REQ_MAX_PARAMS, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    err = qido(many, REQ_MAX_PARAMS + 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_LIMIT);
    assert_string_equal(err.message, "more than 64 query parameters");

    /* NULL names and values are treated as empty */
    param nulls[] = {{NULL, NULL}};
    err = qido(nulls, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
    param nullv[] = {{(char *)"PatientID", NULL}};
    err = qido(nullv, 1, OBIA_QIDO_STUDY, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_string_equal(q.q.match[0].value, "");
}

/* At most OBIA_QIDO_MAX_MATCHES matching keys: checked with attributes the
 * catalog supports at instance level, whichever catalog is linked. */
static void test_qido_too_many_matches(void **state)
{
    (void)state;
    static const char *const candidates[] = {
        "StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy",
        "ReferringPhysicianName", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
        "StudyInstanceUID", "StudyID", "StudyDescription", "Modality", "SeriesDescription",
        "SeriesInstanceUID", "SeriesNumber", "SeriesDate", "BodyPartExamined", "SOPClassUID",
        "SOPInstanceUID", "InstanceNumber", "Rows", "Columns", "BitsAllocated", "NumberOfFrames",
        "ImageType", "ContentDate", "ContentTime", "PatientOrientation",
        "PhotometricInterpretation", "SamplesPerPixel", "BitsStored", "PixelRepresentation",
        "SliceThickness", "SeriesTime", "PatientAge", "PatientWeight", "PatientSize",
        "InstitutionName", "Manufacturer", "ManufacturerModelName", "StationName",
        "ProtocolName", "AcquisitionDate", "AcquisitionTime", "Laterality", "ViewPosition",
        "ImageLaterality", "InstanceCreationDate", "InstanceCreationTime",
    };
    param p[OBIA_QIDO_MAX_MATCHES + 1];
    size_t n = 0;
    size_t ncandidates = sizeof candidates / sizeof candidates[0];
    for (size_t i = 0; i < ncandidates && n < OBIA_QIDO_MAX_MATCHES + 1; i++) {
        const obia_dict_entry *e = obia_dict_lookup_keyword(candidates[i], strlen(candidates[i]));
        assert_non_null(e);
        if (obia_catalog_qido_key(OBIA_QIDO_INSTANCE, e->tag))
            p[n++] = (param)P(candidates[i], "");
    }
    if (n < OBIA_QIDO_MAX_MATCHES + 1)
        skip();
    qido_request q;
    obia_error err = qido(p, OBIA_QIDO_MAX_MATCHES, OBIA_QIDO_INSTANCE, &q);
    assert_int_equal(err.code, OBIA_E_OK);
    assert_int_equal(q.q.nmatch, OBIA_QIDO_MAX_MATCHES);
    err = qido(p, OBIA_QIDO_MAX_MATCHES + 1, OBIA_QIDO_INSTANCE, &q);
    assert_int_equal(err.code, OBIA_E_ARG);
    char want[256];
    snprintf(want, sizeof want, "query parameter %s: more than 32 matching keys",
             p[OBIA_QIDO_MAX_MATCHES].name);
    assert_string_equal(err.message, want);
}

/* A whole request: the target's parameters straight into the QIDO parser. */
static void test_uri_to_qido(void **state)
{
    (void)state;
    obia_arena *a = obia_arena_new(4096);
    req r;
    memset(&r, 0, sizeof r);
    obia_error err;
    obia_error_clear(&err);
    assert_true(http_uri_parse("/dicomweb/studies?PatientName=Doe%5EJ*&includefield=00081030,"
                               "PatientAge&includefield=all&limit=10&fuzzymatching=true&"
                               "PixelData=1",
                               a, &r, &err));
    qido_request q;
    assert_true(qido_params_parse(r.query, r.nquery, OBIA_QIDO_STUDY, 100, 1000, &q, &err));
    assert_int_equal(q.q.nmatch, 1);
    assert_string_equal(q.q.match[0].value, "Doe^J*");
    assert_int_equal(q.ninclude, 2);
    assert_true(q.include_all);
    assert_int_equal(q.q.limit, 10);
    assert_true(q.q.fuzzy);
    assert_string_equal(q.unsupported, "PixelData");
    obia_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_parts),
        cmocka_unit_test(test_uri_refused),
        cmocka_unit_test(test_uri_limits),
        cmocka_unit_test(test_uri_reuse),
        cmocka_unit_test(test_media_type),
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_media_match),
        cmocka_unit_test(test_qido_params),
        cmocka_unit_test(test_qido_includefield),
        cmocka_unit_test(test_qido_unsupported),
        cmocka_unit_test(test_qido_errors),
        cmocka_unit_test(test_qido_too_many_matches),
        cmocka_unit_test(test_uri_to_qido),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
