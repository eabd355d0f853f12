/* obia serve: the archive over HTTP -- REST API, DICOMweb and the web site. */
#include "cli.h"
#include "server.h"

#include <stdio.h>
#include <string.h>

int cmd_serve(int argc, char **argv)
{
    obia_server_options opt;
    memset(&opt, 0, sizeof opt);
    const char *dir = NULL;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        const char **slot;
        if (strcmp(a, "--quiet") == 0) {
            opt.quiet = true;
            continue;
        }
        if (strcmp(a, "--archive") == 0)
            slot = &dir;
        else if (strcmp(a, "--listen") == 0)
            slot = &opt.listen;
        else if (strcmp(a, "--access") == 0)
            slot = &opt.access;
        else if (strcmp(a, "--web") == 0)
            slot = &opt.web;
        else if (strcmp(a, "--tls-cert") == 0)
            slot = &opt.tls_cert;
        else if (strcmp(a, "--tls-key") == 0)
            slot = &opt.tls_key;
        else
            return cli_usage_error("serve", "unknown option '%s'", a);
        if (!(*slot = cli_option_value("serve", a, argc, argv, &first)))
            return 2;
    }
    if (first < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[first]);
    if (opt.access && strcmp(opt.access, "public") != 0 && strcmp(opt.access, "all") != 0)
        return cli_usage_error("serve", "--access is public or all");
    if ((opt.tls_cert != NULL) != (opt.tls_key != NULL))
        return cli_usage_error("serve", "--tls-cert and --tls-key go together");
    opt.archive = obia_archive_default_dir(dir);
    obia_error err;
    obia_error_clear(&err);
    if (!obia_server_run(&opt, &err)) {
        fprintf(stderr, "obia serve: %s\n", err.message);
        return 1;
    }
    return 0;
}
