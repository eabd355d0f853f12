/* obia report: the PHI review report of a collection. */
#include "cli.h"
#include "obia/ingest.h"
#include "obia/qc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_report(int argc, char **argv)
{
    const char *dir = NULL, *collection = NULL, *format = NULL, *out = NULL, *jobs_s = NULL;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        const char **slot;
        if (strcmp(a, "--archive") == 0)
            slot = &dir;
        else if (strcmp(a, "--collection") == 0)
            slot = &collection;
        else if (strcmp(a, "--format") == 0)
            slot = &format;
        else if (strcmp(a, "--out") == 0)
            slot = &out;
        else if (strcmp(a, "--jobs") == 0)
            slot = &jobs_s;
        else
            return cli_usage_error("report", "unknown option '%s'", a);
        if (!(*slot = cli_option_value("report", a, argc, argv, &first)))
            return 2;
    }
    if (first < argc)
        return cli_usage_error("report", "unexpected argument '%s'", argv[first]);
    if (!collection)
        return cli_usage_error("report", "--collection ACCESSION is required");
    if (!format) /* from the output's name, else HTML */
        format = out && strlen(out) > 4 && strcmp(out + strlen(out) - 4, ".tsv") == 0 ? "tsv" : "html";
    if (strcmp(format, "html") != 0 && strcmp(format, "tsv") != 0)
        return cli_usage_error("report", "--format is html or tsv");
    int jobs = 0;
    if (jobs_s) {
        char *end;
        long j = strtol(jobs_s, &end, 10);
        if (*end || j < 1 || j > 256)
            return cli_usage_error("report", "--jobs takes a number from 1 to 256");
        jobs = (int)j;
    }
    obia_error err;
    obia_error_clear(&err);
    obia_archive *a = obia_archive_open(obia_archive_default_dir(dir), &err);
    if (!a) {
        fprintf(stderr, "obia report: %s\n", err.message);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    obia_qc_report *r = NULL;
    int rc = 0;
    if (!obia_ingest_report(a, collection, jobs, &r, &err)) {
        fprintf(stderr, "obia report: %s\n", err.message);
        obia_archive_close(a);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    FILE *fp = out ? fopen(out, "w") : stdout;
    if (!fp) {
        fprintf(stderr, "obia report: cannot create %s: %s\n", out, strerror(errno));
        rc = 1;
    } else {
        char title[128];
        snprintf(title, sizeof title, "PHI review report of %s", collection);
        bool ok = strcmp(format, "tsv") == 0
                      ? obia_qc_report_write_tsv(r, obia_sink_stdio, fp, &err)
                      : obia_qc_report_write_html(r, title, obia_sink_stdio, fp, &err);
        if (fflush(fp) != 0 || ferror(fp))
            ok = ok && obia_error_set(&err, OBIA_E_IO, "cannot write %s", out ? out : "the output");
        if (out && fclose(fp) != 0)
            ok = ok && obia_error_set(&err, OBIA_E_IO, "cannot write %s", out);
        if (!ok) {
            fprintf(stderr, "obia report: %s\n", err.message);
            rc = 1;
        }
    }
    fprintf(stderr, "obia report: %s: %llu images, %zu elements, %zu flagged, in %.2f s\n",
            collection, (unsigned long long)obia_qc_report_images(r), obia_qc_report_rows(r),
            obia_qc_report_flagged(r),
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    obia_qc_report_free(r);
    obia_archive_close(a);
    return rc;
}
