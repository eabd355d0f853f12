/* obia stats: counts per modality, body part, sex, age band, disease and
 * collection. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_stats(int argc, char **argv)
{
    const char *dir = NULL, *collection = NULL;
    bool json = false;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--archive") == 0 || strcmp(a, "--collection") == 0) {
            const char *v = cli_option_value("stats", a, argc, argv, &first);
            if (!v)
                return 2;
            *(a[2] == 'a' ? &dir : &collection) = v;
        } else {
            return cli_usage_error("stats", "unknown option '%s'", a);
        }
    }
    if (first < argc)
        return cli_usage_error("stats", "unexpected argument '%s'", argv[first]);
    obia_archive *archive;
    obia_catalog *c = cli_open_catalog("stats", dir, &archive);
    if (!c)
        return 1;
    obia_error err;
    obia_error_clear(&err);
    cli_rows rows = {.json = json};
    bool ok = obia_catalog_stats(c, collection, false, cli_rows_print, &rows, &err);
    cli_rows_end(&rows);
    if (!ok)
        fprintf(stderr, "obia stats: %s\n", err.message);
    obia_catalog_close(c);
    obia_archive_close(archive);
    return ok ? 0 : 1;
}
