/* obia convert: rewrite a DICOM file (another transfer syntax, edits). */
#include "cli.h"
#include "obia/dicom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_convert(int argc, char **argv)
{
    obia_write_syntax syntax = OBIA_WRITE_EXPLICIT_LE;
    const char *in = NULL, *out = NULL;
    /* edits are applied in the order given */
    const char **edits = calloc((size_t)argc, sizeof *edits);
    bool *is_set = calloc((size_t)argc, sizeof *is_set);
    int nedits = 0, rc = 0;
    if (!edits || !is_set) {
        fprintf(stderr, "obia convert: out of memory\n");
        free(edits);
        free(is_set);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--explicit") == 0) {
            syntax = OBIA_WRITE_EXPLICIT_LE;
        } else if (strcmp(a, "--implicit") == 0) {
            syntax = OBIA_WRITE_IMPLICIT_LE;
        } else if (strcmp(a, "--deflated") == 0) {
            syntax = OBIA_WRITE_DEFLATED;
        } else if (strcmp(a, "--set") == 0 || strcmp(a, "--remove") == 0) {
            if (i + 1 >= argc) {
                rc = cli_usage_error("convert", "%s needs an argument", a);
                goto out;
            }
            is_set[nedits] = a[2] == 's';
            edits[nedits++] = argv[++i];
            if (is_set[nedits - 1] && !strchr(argv[i], '=')) {
                rc = cli_usage_error("convert", "--set takes PATH=VALUE, not '%s'", argv[i]);
                goto out;
            }
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error("convert", "unknown option '%s'", a);
            goto out;
        } else if (!in) {
            in = a;
        } else if (!out) {
            out = a;
        } else {
            rc = cli_usage_error("convert", "unexpected argument '%s'", a);
            goto out;
        }
    }
    if (!in || !out) {
        rc = cli_usage_error("convert", "INPUT and OUTPUT are required");
        goto out;
    }

    obia_error err;
    obia_error_clear(&err);
    obia_read_options ropt;
    obia_read_options_init(&ropt);
    obia_file *f = obia_file_read(in, &ropt, &err);
    if (!f) {
        fprintf(stderr, "obia convert: %s: %s\n", in, err.message);
        rc = 1;
        goto out;
    }
    for (int k = 0; k < nedits; k++) {
        bool ok;
        if (is_set[k]) {
            char *path = strdup(edits[k]);
            if (!path) {
                ok = obia_error_set(&err, OBIA_E_NOMEM, "out of memory");
            } else {
                char *eq = strchr(path, '=');
                *eq = '\0';
                ok = obia_dataset_set_path(obia_file_dataset(f), path, eq + 1, &err);
                free(path);
            }
        } else {
            ok = obia_dataset_remove_path(obia_file_dataset(f), edits[k], &err);
        }
        if (!ok) {
            fprintf(stderr, "obia convert: %s '%s': %s\n", is_set[k] ? "--set" : "--remove",
                    edits[k], err.message);
            obia_file_free(f);
            rc = 1;
            goto out;
        }
    }
    if (!obia_file_write_path(f, syntax, out, &err)) {
        fprintf(stderr, "obia convert: %s: %s\n", out, err.message);
        rc = 1;
    }
    obia_file_free(f);
out:
    free(edits);
    free(is_set);
    return rc;
}
