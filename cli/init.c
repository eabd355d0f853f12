/* obia init: create an archive. */
#include "cli.h"
#include "obia/archive.h"

#include <stdio.h>
#include <string.h>

int cmd_init(int argc, char **argv)
{
    const char *dir = NULL;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        if (strcmp(a, "--archive") == 0) {
            if (!(dir = cli_option_value("init", a, argc, argv, &first)))
                return 2;
        } else {
            return cli_usage_error("init", "unknown option '%s'", a);
        }
    }
    if (first < argc)
        return cli_usage_error("init", "unexpected argument '%s'", argv[first]);
    dir = obia_archive_default_dir(dir);
    obia_error err;
    obia_error_clear(&err);
    if (!obia_archive_init(dir, &err)) {
        fprintf(stderr, "obia init: %s\n", err.message);
        return 1;
    }
    printf("created the archive %s\n", dir);
    return 0;
}
