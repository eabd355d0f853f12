/* obia config show: the archive's configuration, every key with its value. */
#include "cli.h"
#include "obia/archive.h"

#include <stdio.h>
#include <string.h>

int cmd_config(int argc, char **argv)
{
    const char *dir = NULL;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        if (strcmp(a, "--archive") == 0) {
            if (!(dir = cli_option_value("config", a, argc, argv, &first)))
                return 2;
        } else {
            return cli_usage_error("config", "unknown option '%s'", a);
        }
    }
    if (first >= argc || strcmp(argv[first], "show") != 0 || first + 1 != argc)
        return cli_usage_error("config", "usage: obia config [--archive DIR] show");
    obia_error err;
    obia_error_clear(&err);
    obia_archive *a = obia_archive_open(obia_archive_default_dir(dir), &err);
    if (!a) {
        fprintf(stderr, "obia config: %s\n", err.message);
        return 1;
    }
    bool ok = obia_config_write(obia_archive_config(a), stdout);
    obia_archive_close(a);
    return ok && fflush(stdout) == 0 ? 0 : 1;
}
