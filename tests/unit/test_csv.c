/* Unit tests of the CSV reader (lib/util/csv.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/util.h"

#include <stdio.h>
#include <string.h>

/* Read all of s; the fields joined as "a|b;c|d;" (records end with ';'), or
 * "ERROR: message". */
static const char *read_all(const char *s, size_t len)
{
    static char out[4096];
    out[0] = '\0';
    obia_csv *c = obia_csv_new(s, len);
    const char *const *f;
    size_t n, line;
    obia_error err;
    obia_error_clear(&err);
    while (obia_csv_next(c, &f, &n, &line, &err)) {
        for (size_t i = 0; i < n; i++) {
            strcat(out, f[i]);
            strcat(out, i + 1 < n ? "|" : ";");
        }
    }
    if (err.code != OBIA_E_OK)
        snprintf(out, sizeof out, "ERROR: %s", err.message);
    obia_csv_free(c);
    return out;
}

#define READ(s) read_all(s, sizeof s - 1)

static void test_records(void **state)
{
    (void)state;
    assert_string_equal(READ("a,b\nc,d\n"), "a|b;c|d;");
    assert_string_equal(READ("a,b\r\nc,d"), "a|b;c|d;");
    assert_string_equal(READ("\xEF\xBB\xBFx,y\n"), "x|y;");
    assert_string_equal(READ("\"a,b\",\"say \"\"hi\"\"\"\n"), "a,b|say \"hi\";");
    assert_string_equal(READ("\"two\nlines\",x\n"), "two\nlines|x;");
    assert_string_equal(READ("a,,\n"), "a||;");
    assert_string_equal(READ("\n"), ";");
    assert_string_equal(READ("caf\xc3\xa9\n"), "caf\xc3\xa9;");
    assert_string_equal(READ(""), "");
}

static void test_lines(void **state)
{
    (void)state;
    static const char s[] = "h\n\"a\nb\nc\",x\nlast\n";
    obia_csv *c = obia_csv_new(s, sizeof s - 1);
    const char *const *f;
    size_t n, line;
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_csv_next(c, &f, &n, &line, &err));
    assert_int_equal(line, 1);
    assert_true(obia_csv_next(c, &f, &n, &line, &err));
    assert_int_equal(line, 2);   /* where the record starts */
    assert_true(obia_csv_next(c, &f, &n, &line, &err));
    assert_int_equal(line, 5);
    assert_string_equal(f[0], "last");
    assert_false(obia_csv_next(c, &f, &n, &line, &err));
    assert_int_equal(err.code, OBIA_E_OK);
    obia_csv_free(c);
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(READ("a\n\"open,x\n"), "ERROR: line 2: a quoted field is not closed before the end");
    assert_string_equal(READ("\"a\"b,c\n"), "ERROR: line 1: field 1 has characters after its closing quote");
    assert_string_equal(READ("a\"b\n"), "ERROR: line 1: field 1 has a quote inside an unquoted value");
    assert_string_equal(READ("ok\nbad\xff,x\n"), "ERROR: line 2: field 1 is not valid UTF-8");
    assert_string_equal(READ("a\xc0\xaf\n"), "ERROR: line 1: field 1 is not valid UTF-8");   /* overlong */
    assert_string_equal(READ("a\xed\xa0\x80\n"), "ERROR: line 1: field 1 is not valid UTF-8"); /* surrogate */
    assert_string_equal(READ("a\xe2\x82\n"), "ERROR: line 1: field 1 is not valid UTF-8");    /* cut short */
    assert_string_equal(read_all("a\0b\n", 4), "ERROR: line 1: a NUL byte");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
