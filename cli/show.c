/* obia show: one collection, individual, study, series or image. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_show(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--archive") == 0) {
            if (!(dir = cli_option_value("show", a, argc, argv, &first)))
                return 2;
        } else
            return cli_usage_error("show", "unknown option '%s'", a);
    }
    if (first + 1 != argc)
        return cli_usage_error("show", "give one accession or UID");
    obia_archive *archive;
    obia_catalog *c = cli_open_catalog("show", dir, &archive);
    if (!c)
        return 1;
    obia_error err;
    obia_error_clear(&err);
    cli_rows rows = {.json = json, .blocks = !json};
    bool ok = obia_catalog_show(c, argv[first], cli_rows_print, &rows, &err);
    if (ok)
        cli_rows_end(&rows);
    else
        fprintf(stderr, "obia show: %s\n", err.message);
    obia_catalog_close(c);
    obia_archive_close(archive);
    return ok ? 0 : 1;
}
