/* Unit tests of lib/util's small helpers: growable arrays. */
#include "obia/util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static void test_array_grow(void **state)
{
    (void)state;
    long *v = NULL;
    size_t cap = 0, n = 0;
    for (long i = 0; i < 1000; i++) {
        assert_true(obia_array_grow(&v, &cap, n, sizeof *v, 4));
        assert_true(cap > n);
        v[n++] = i;
    }
    /* doubled from the first size: 4, 8, ... 1024 */
    assert_int_equal(cap, 1024);
    for (long i = 0; i < 1000; i++)
        assert_int_equal(v[i], i);
    /* room left: nothing moves */
    long *before = v;
    assert_true(obia_array_grow(&v, &cap, 1000, sizeof *v, 4));
    assert_ptr_equal(v, before);
    /* a size that cannot be had leaves the array as it was */
    size_t huge = SIZE_MAX / 4;
    assert_false(obia_array_grow(&v, &huge, huge, sizeof *v, 4));
    assert_ptr_equal(v, before);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
