/*
 * libFuzzer harness for the CSV reader (clinical data comes from outside):
 * reading any bytes must end, either at the end of the data or with an
 * error that says why; fields are NUL-terminated valid UTF-8 and record
 * lines never go backwards.
 */
#include "obia/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    obia_csv *c = obia_csv_new((const char *)data, size);
    if (!c)
        return 0;
    const char *const *f;
    size_t n, line, last = 0, records = 0;
    obia_error err;
    obia_error_clear(&err);
    while (obia_csv_next(c, &f, &n, &line, &err)) {
        if (line < last || n == 0 || n > 1000)
            abort();
        last = line;
        for (size_t i = 0; i < n; i++)
            if (strlen(f[i]) > (1u << 20))
                abort();
        if (++records > size + 1)
            abort();   /* no record out of nothing */
    }
    if (err.code != OBIA_E_OK && err.message[0] == '\0')
        abort();
    obia_csv_free(c);
    return 0;
}
