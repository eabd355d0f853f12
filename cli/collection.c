/* obia collection create|list|show: the archive's collections. */
#include "cli.h"
#include "obia/archive.h"
#include "obia/catalog.h"

#include <stdio.h>
#include <string.h>

obia_catalog *cli_open_catalog(const char *command, const char *dir, obia_archive **archive)
{
    obia_error err;
    obia_error_clear(&err);
    obia_archive *a = obia_archive_open(obia_archive_default_dir(dir), &err);
    if (!a) {
        fprintf(stderr, "obia %s: %s\n", command, err.message);
        return NULL;
    }
    char path[4096];
    obia_catalog *c = obia_catalog_open(obia_archive_file(a, "catalog.db", path, sizeof path), false, &err);
    if (!c) {
        fprintf(stderr, "obia %s: %s\n", command, err.message);
        obia_archive_close(a);
        return NULL;
    }
    *archive = a;
    return c;
}

int cmd_collection(int argc, char **argv)
{
    const char *dir = NULL, *reason = NULL, *user = NULL;
    obia_collection_info in = {0};
    bool json = false, force = false;
    int first = 1;
    if (argc < 2)
        return cli_usage_error("collection", "usage: obia collection create|list|show|release ...");
    const char *sub = argv[1];
    /* options may come before or after the operands: the operands are
     * gathered at the end of argv */
    char *ops[8];
    int nops = 0;
    for (int i = 2; i < argc;) {
        if (strcmp(argv[i], "--") == 0) {
            for (i++; i < argc && nops < 8; i++)
                ops[nops++] = argv[i];
            break;
        }
        if (argv[i][0] != '-' || argv[i][1] == '\0') {
            if (nops == 8)
                return cli_usage_error("collection", "too many arguments");
            ops[nops++] = argv[i++];
            continue;
        }
        int j = i;
        const char *a = cli_next_option(argc, argv, &j);
        const char **slot = NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            i = j;
            continue;
        }
        if (strcmp(sub, "release") == 0 && strcmp(a, "--force") == 0) {
            force = true;
            i = j;
            continue;
        }
        if (strcmp(a, "--archive") == 0)
            slot = &dir;
        else if (strcmp(sub, "release") == 0 && strcmp(a, "--reason") == 0)
            slot = &reason;
        else if (strcmp(sub, "release") == 0 && strcmp(a, "--user") == 0)
            slot = &user;
        else if (strcmp(sub, "create") == 0 && strcmp(a, "--title") == 0)
            slot = &in.title;
        else if (strcmp(sub, "create") == 0 && strcmp(a, "--description") == 0)
            slot = &in.description;
        else if (strcmp(sub, "create") == 0 && strcmp(a, "--keywords") == 0)
            slot = &in.keywords;
        else if (strcmp(sub, "create") == 0 && strcmp(a, "--submitter") == 0)
            slot = &in.submitter;
        else if (strcmp(sub, "create") == 0 && strcmp(a, "--access") == 0)
            slot = &in.access;
        else if (strcmp(sub, "create") == 0 && strcmp(a, "--disease") == 0)
            slot = &in.disease;
        else if (strcmp(sub, "create") == 0 && strcmp(a, "--bioproject") == 0)
            slot = &in.bioproject;
        else if (strcmp(sub, "create") == 0 && strcmp(a, "--profile") == 0)
            slot = &in.profile;
        else
            return cli_usage_error("collection", "unknown option '%s' for %s", a, sub);
        if (!(*slot = cli_option_value("collection", a, argc, argv, &j)))
            return 2;
        i = j;
    }
    for (int k = 0; k < nops; k++)
        argv[argc - nops + k] = ops[k];
    first = argc - nops;
    obia_archive *archive = NULL;
    obia_error err;
    obia_error_clear(&err);
    int rc = 0;
    if (strcmp(sub, "create") == 0) {
        if (first < argc)
            return cli_usage_error("collection", "unexpected argument '%s'", argv[first]);
        if (!in.title)
            return cli_usage_error("collection", "create needs --title");
        obia_catalog *c = cli_open_catalog("collection", dir, &archive);
        if (!c)
            return 1;
        if (!in.profile)
            in.profile = obia_config_string(obia_archive_config(archive), "deid", "profile");
        char acc[16];
        if (obia_catalog_collection_create(c, &in, acc, &err)) {
            printf("%s\n", acc);
        } else {
            fprintf(stderr, "obia collection: %s\n", err.message);
            rc = err.code == OBIA_E_ARG || err.code == OBIA_E_LIMIT ? 2 : 1;
        }
        obia_catalog_close(c);
    } else if (strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0) {
        bool show = sub[0] == 's';
        if (show ? first + 1 != argc : first != argc)
            return cli_usage_error("collection", show ? "show takes one accession" : "list takes no argument");
        obia_catalog *c = cli_open_catalog("collection", dir, &archive);
        if (!c)
            return 1;
        cli_rows rows = {.json = json, .blocks = show && !json};
        bool ok = show ? obia_catalog_show(c, argv[first], cli_rows_print, &rows, &err)
                       : obia_catalog_collections(c, cli_rows_print, &rows, &err);
        cli_rows_end(&rows);
        if (!ok) {
            fprintf(stderr, "obia collection: %s\n", err.message);
            rc = 1;
        }
        obia_catalog_close(c);
    } else if (strcmp(sub, "release") == 0) {
        if (first + 1 != argc)
            return cli_usage_error("collection", "release takes one accession");
        if (force && (!reason || !*reason))
            return cli_usage_error("collection", "--force needs --reason TEXT");
        obia_catalog *c = cli_open_catalog("collection", dir, &archive);
        if (!c)
            return 1;
        if (obia_catalog_collection_release(c, argv[first], force, cli_who(user), reason, &err)) {
            printf("%s released\n", argv[first]);
        } else {
            fprintf(stderr, "obia collection: %s\n", err.message);
            rc = 1;
        }
        obia_catalog_close(c);
    } else {
        return cli_usage_error("collection", "unknown subcommand '%s' (create, list, show or release)", sub);
    }
    obia_archive_close(archive);
    return rc;
}
