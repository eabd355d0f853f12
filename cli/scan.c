/* obia scan: one line of identifying attributes per DICOM file, reading
 * only each file's header; directories are walked recursively. */
#include "cli.h"
#include "obia/dicom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
    obia_read_options ropt;
    obia_buf val;
    obia_buf line;
    bool show_warnings;
    int failures;
    int files;
} scan;

static const struct column {
    const char *name;
    uint32_t tag;
} columns[] = {
    {"sop_class", OBIA_TAG(0x0008, 0x0016)},
    {"modality", OBIA_TAG(0x0008, 0x0060)},
    {"patient_id", OBIA_TAG(0x0010, 0x0020)},
    {"study_uid", OBIA_TAG(0x0020, 0x000D)},
    {"series_uid", OBIA_TAG(0x0020, 0x000E)},
    {"instance_uid", OBIA_TAG(0x0008, 0x0018)},
    {"rows", OBIA_TAG(0x0028, 0x0010)},
    {"columns", OBIA_TAG(0x0028, 0x0011)},
    {"frames", OBIA_TAG(0x0028, 0x0008)},
};

/* Append text with tabs, newlines and other controls as spaces, so a
 * hostile value cannot break the one-line-per-file format. */
static void append_field(obia_buf *line, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        obia_buf_append_byte(line, c < 0x20 || c == 0x7F ? ' ' : c);
    }
}

static void scan_file(scan *sc, const char *path)
{
    obia_error err;
    obia_error_clear(&err);
    sc->files++;
    obia_file *f = obia_file_read(path, &sc->ropt, &err);
    if (!f) {
        fflush(stdout);
        fprintf(stderr, "obia scan: %s: %s\n", path, err.message);
        sc->failures++;
        return;
    }
    if (sc->show_warnings)
        for (size_t k = 0; k < obia_file_warning_count(f); k++) {
            fflush(stdout);
            fprintf(stderr, "obia scan: %s: warning: %s\n", path, obia_file_warning(f, k)->message);
        }
    obia_buf *line = &sc->line;
    obia_buf_reset(line);
    append_field(line, path, strlen(path));
    obia_buf_append_byte(line, '\t');
    obia_buf_append_str(line, obia_file_transfer_syntax(f));
    const obia_dataset *ds = obia_file_dataset(f);
    for (size_t c = 0; c < sizeof columns / sizeof columns[0]; c++) {
        obia_buf_append_byte(line, '\t');
        const obia_element *el = obia_dataset_get(ds, columns[c].tag);
        if (!el)
            continue;
        obia_buf_reset(&sc->val);
        obia_error verr;
        obia_error_clear(&verr);
        if (obia_vr_is_string(obia_element_vr(el))) {
            if (obia_element_get_string(ds, el, 0, &sc->val, &verr))
                append_field(line, (const char *)sc->val.data, sc->val.len);
        } else {
            int64_t v;
            if (obia_element_vm(el) && obia_element_get_int(el, 0, &v, &verr))
                obia_buf_appendf(line, "%lld", (long long)v);
        }
    }
    obia_buf_appendf(line, "\t%llu\t%zu\n", (unsigned long long)obia_file_size(f),
                     obia_file_warning_count(f));
    fwrite(line->data, 1, line->len, stdout);
    obia_file_free(f);
}

static void scan_one(void *ctx, const char *path)
{
    scan_file(ctx, path);
}

int cmd_scan(int argc, char **argv)
{
    scan sc;
    memset(&sc, 0, sizeof sc);
    bool header = true;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        if (strcmp(a, "--no-header") == 0)
            header = false;
        else if (strcmp(a, "--warnings") == 0)
            sc.show_warnings = true;
        else
            return cli_usage_error("scan", "unknown option '%s'", a);
    }
    if (first >= argc)
        return cli_usage_error("scan", "no FILE or DIRECTORY given");

    obia_read_options_init(&sc.ropt);
    sc.ropt.header_only = true;
    obia_buf_init(&sc.val, 1u << 20);
    obia_buf_init(&sc.line, 1u << 22);
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    if (header) {
        fputs("path\ttransfer_syntax", stdout);
        for (size_t c = 0; c < sizeof columns / sizeof columns[0]; c++)
            printf("\t%s", columns[c].name);
        fputs("\tsize\twarnings\n", stdout);
    }
    for (int i = first; i < argc; i++)
        sc.failures += cli_walk("scan", argv[i], scan_one, &sc);
    obia_buf_free(&sc.val);
    obia_buf_free(&sc.line);
    if (fflush(stdout) != 0) {
        perror("obia scan: stdout");
        return 1;
    }
    return sc.failures ? 1 : 0;
}
