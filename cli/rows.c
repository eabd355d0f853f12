/* Printing catalog rows: as "name: value" blocks, as a table, or as JSON. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_rows_print(void *ctx, int ncols, const char *const *names, const char *const *values)
{
    cli_rows *r = ctx;
    FILE *out = stdout;
    if (r->json) {
        fputs(r->count ? ",\n " : "[", out);
        fputc('{', out);
        for (int i = 0; i < ncols; i++) {
            if (i)
                fputc(',', out);
            obia_json_fputs(out, names[i]);
            fputc(':', out);
            if (values[i])
                obia_json_fputs(out, values[i]);
            else
                fputs("null", out);
        }
        fputc('}', out);
    } else if (r->blocks) {
        if (r->count)
            fputc('\n', out);
        for (int i = 0; i < ncols; i++)
            if (values[i] && *values[i])
                fprintf(out, "%-20s %s\n", names[i], values[i]);
    } else {
        if (r->count == 0) {
            for (int i = 0; i < ncols; i++)
                fprintf(out, "%s%s", i ? "\t" : "", names[i]);
            fputc('\n', out);
        }
        for (int i = 0; i < ncols; i++) {
            fputs(i ? "\t" : "", out);
            for (const char *p = values[i] ? values[i] : ""; *p; p++)
                fputc(*p == '\t' || *p == '\n' ? ' ' : *p, out);
        }
        fputc('\n', out);
    }
    r->count++;
    return true;
}

void cli_rows_end(cli_rows *r)
{
    if (r->json)
        fputs(r->count ? "]\n" : "[]\n", stdout);
}
