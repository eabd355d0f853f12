/* obia thumbnails: series and image thumbnails kept in the store. */
#include "cli.h"
#include "obia/ingest.h"
#include "obia/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_thumbnails(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("thumbnails", "usage: obia thumbnails rebuild|get|sheet ...");
    const char *sub = argv[1];
    const char *dir = NULL, *collection = NULL, *out = NULL, *size_s = NULL, *cell_s = NULL,
               *columns_s = NULL;
    int first = 2;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        const char **slot;
        if (strcmp(a, "--archive") == 0)
            slot = &dir;
        else if (strcmp(sub, "rebuild") == 0 && strcmp(a, "--collection") == 0)
            slot = &collection;
        else if (strcmp(sub, "rebuild") != 0 && strcmp(a, "--out") == 0)
            slot = &out;
        else if (strcmp(sub, "sheet") == 0 && strcmp(a, "--cell") == 0)
            slot = &cell_s;
        else if (strcmp(sub, "sheet") == 0 && strcmp(a, "--columns") == 0)
            slot = &columns_s;
        else if (strcmp(sub, "get") == 0 && strcmp(a, "--size") == 0)
            slot = &size_s;
        else
            return cli_usage_error("thumbnails", "unknown option '%s' for %s", a, sub);
        if (!(*slot = cli_option_value("thumbnails", a, argc, argv, &first)))
            return 2;
    }
    bool rebuild = strcmp(sub, "rebuild") == 0, get = strcmp(sub, "get") == 0,
         sheet = strcmp(sub, "sheet") == 0;
    if (!rebuild && !get && !sheet)
        return cli_usage_error("thumbnails", "unknown subcommand '%s' (rebuild, get or sheet)",
                               sub);
    if (sheet && (first + 1 != argc || !out))
        return cli_usage_error("thumbnails", "sheet takes one Series Instance UID and --out FILE");
    unsigned long cell = 128, columns = 8;
    char *e2;
    if (cell_s && ((cell = strtoul(cell_s, &e2, 10)) < 8 || cell > 1024 || *e2))
        return cli_usage_error("thumbnails", "--cell takes 8 to 1024 pixels");
    if (columns_s && ((columns = strtoul(columns_s, &e2, 10)) < 1 || columns > 64 || *e2))
        return cli_usage_error("thumbnails", "--columns takes 1 to 64");
    if (rebuild && first != argc)
        return cli_usage_error("thumbnails", "unexpected argument '%s'", argv[first]);
    if (get && (first + 1 != argc || !out))
        return cli_usage_error("thumbnails", "get takes one series or SOP Instance UID and --out FILE");
    unsigned long size = 0;
    char *end;
    if (size_s && ((size = strtoul(size_s, &end, 10)) < 1 || size > 4096 || *end))
        return cli_usage_error("thumbnails", "--size takes 1 to 4096 pixels");
    obia_error err;
    obia_error_clear(&err);
    obia_archive *a = obia_archive_open(obia_archive_default_dir(dir), &err);
    if (!a) {
        fprintf(stderr, "obia thumbnails: %s\n", err.message);
        return 1;
    }
    int rc = 0;
    if (sheet) {
        obia_buf png;
        obia_buf_init(&png, (size_t)1 << 31);
        uint64_t failed = 0;
        FILE *o = NULL;
        bool ok = obia_contact_sheet_series(a, argv[first], (uint32_t)cell, (uint32_t)columns,
                                            &png, &failed, &err);
        if (ok && !(o = strcmp(out, "-") == 0 ? stdout : fopen(out, "wb")))
            ok = obia_error_set(&err, OBIA_E_IO, "cannot create %s: %s", out, strerror(errno));
        if (ok && fwrite(png.data, 1, png.len, o) != png.len)
            ok = obia_error_set(&err, OBIA_E_IO, "cannot write %s", out);
        if (o && o != stdout && fclose(o) != 0 && ok)
            ok = obia_error_set(&err, OBIA_E_IO, "cannot write %s", out);
        if (!ok) {
            fprintf(stderr, "obia thumbnails: %s\n", err.message);
            rc = 1;
        } else if (failed) {
            fprintf(stderr, "obia thumbnails: %llu images could not be rendered (black cells)\n",
                    (unsigned long long)failed);
        }
        obia_buf_free(&png);
    } else if (rebuild) {
        uint64_t made, without, failed;
        obia_error first_failure;
        obia_error_clear(&first_failure);
        if (!obia_thumbnails_rebuild(a, collection, &made, &without, &failed, &first_failure,
                                     &err)) {
            fprintf(stderr, "obia thumbnails: %s\n", err.message);
            rc = 1;
        } else {
            printf("%llu series thumbnails made, %llu series without pixel data, %llu could not "
                   "be made\n",
                   (unsigned long long)made, (unsigned long long)without,
                   (unsigned long long)failed);
            if (failed)
                fprintf(stderr, "obia thumbnails: first failure: %s\n", first_failure.message);
        }
    } else {
        if (!size)
            size = (unsigned long)obia_config_int(obia_archive_config(a), "ingest",
                                                  "thumbnail_size");
        char hash[65], path[4200];
        obia_store *s = NULL;
        size_t nrep;
        const char *const *reps = obia_archive_replicas(a, &nrep);
        bool ok = size > 0 ? obia_thumbnail(a, argv[first], (uint32_t)size, false, hash, &err)
                           : obia_error_set(&err, OBIA_E_ARG, "give --size: [ingest] "
                                                              "thumbnail_size is 0");
        ok = ok && (s = obia_store_open(obia_archive_file(a, "store", path, sizeof path), reps,
                                        nrep, &err)) != NULL;
        ok = ok && obia_store_path(s, hash, path, sizeof path);
        FILE *in = ok ? fopen(path, "rb") : NULL;
        FILE *o = in ? (strcmp(out, "-") == 0 ? stdout : fopen(out, "wb")) : NULL;
        if (ok && !in)
            ok = obia_error_set(&err, OBIA_E_IO, "cannot read %s: %s", path, strerror(errno));
        else if (ok && !o)
            ok = obia_error_set(&err, OBIA_E_IO, "cannot create %s: %s", out, strerror(errno));
        char buf[65536];
        size_t n;
        while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
            ok = fwrite(buf, 1, n, o) == n || obia_error_set(&err, OBIA_E_IO, "cannot write %s", out);
        if (in)
            fclose(in);
        if (o && o != stdout && fclose(o) != 0 && ok)
            ok = obia_error_set(&err, OBIA_E_IO, "cannot write %s", out);
        if (!ok) {
            fprintf(stderr, "obia thumbnails: %s\n", err.message);
            rc = 1;
        }
        obia_store_close(s);
    }
    obia_archive_close(a);
    return rc;
}
