/* obia dump: text or DICOM JSON listing of DICOM files. */
#include "cli.h"
#include "obia/dicom.h"

#include <stdio.h>
#include <string.h>

int cmd_dump(int argc, char **argv)
{
    bool json = false, pretty = false, meta = false, no_pixels = false, full = false,
         show_warnings = false;
    const char *bulk_uri = NULL;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        if (strcmp(a, "--bulk-uri") == 0) {
            if (!(bulk_uri = cli_option_value("dump", a, argc, argv, &first)))
                return 2;
            json = true;
        } else if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--pretty") == 0)
            pretty = true;
        else if (strcmp(a, "--meta") == 0)
            meta = true;
        else if (strcmp(a, "--no-pixels") == 0)
            no_pixels = true;
        else if (strcmp(a, "--full") == 0)
            full = true;
        else if (strcmp(a, "--warnings") == 0)
            show_warnings = true;
        else
            return cli_usage_error("dump", "unknown option '%s'", a);
    }
    if (first >= argc)
        return cli_usage_error("dump", "no FILE given");

    obia_read_options ropt;
    obia_read_options_init(&ropt);
    ropt.header_only = no_pixels;
    obia_json_options jopt;
    obia_json_options_init(&jopt);
    jopt.pretty = pretty;
    jopt.include_meta = meta;
    jopt.bulk_uri_prefix = bulk_uri;
    obia_dump_options dopt;
    obia_dump_options_init(&dopt);
    if (full)
        dopt.max_value_chars = 0;

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    int nfiles = argc - first, failures = 0, written = 0;
    bool array = json && nfiles > 1;
    if (array)
        fputs("[", stdout);
    for (int i = first; i < argc; i++) {
        const char *path = argv[i];
        obia_error err;
        obia_error_clear(&err);
        obia_file *f = obia_file_read(path, &ropt, &err);
        if (!f) {
            fflush(stdout);
            fprintf(stderr, "obia dump: %s: %s\n", path, err.message);
            failures++;
            continue;
        }
        if (show_warnings)
            for (size_t k = 0; k < obia_file_warning_count(f); k++)
                fprintf(stderr, "obia dump: %s: warning: %s\n", path, obia_file_warning(f, k)->message);
        bool ok;
        if (json) {
            if (array && written)
                fputs(pretty ? ",\n" : ",", stdout);
            ok = obia_json_write_file(f, &jopt, obia_sink_stdio, stdout, &err);
        } else {
            fprintf(stdout, "%s# %s\n", written ? "\n" : "", path);
            ok = obia_dump_file(f, &dopt, obia_sink_stdio, stdout, &err);
        }
        written++;
        if (!ok) {
            fflush(stdout);
            fprintf(stderr, "obia dump: %s: %s\n", path, err.message);
            failures++;
        }
        obia_file_free(f);
    }
    if (array)
        fputs("]", stdout);
    if (json && (written || array))
        fputs("\n", stdout);
    if (fflush(stdout) != 0) {
        perror("obia dump: stdout");
        return 1;
    }
    return failures ? 1 : 0;
}
