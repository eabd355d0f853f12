/* obia ingest: load files and folders into a collection of the archive. */
#include "cli.h"
#include "obia/ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct ui {
    bool tty;
    FILE *report;          /* --report: one JSON line per file, with its path */
    double start, last;
    /* quarantine reasons, counted by their first words */
    char reasons[32][64];
    uint64_t counts[32];
    int nreasons;
} ui;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_outcome(void *ctx, const char *input, obia_ingest_outcome o, const char *detail)
{
    ui *u = ctx;
    static const char *const names[] = {"accepted", "duplicate", "quarantined", "failed"};
    if (u->report) {
        fputs("{\"input\":", u->report);
        obia_json_fputs(u->report, input);
        fprintf(u->report, ",\"outcome\":\"%s\",\"detail\":", names[o]);
        obia_json_fputs(u->report, detail);
        fputs("}\n", u->report);
        fflush(u->report);   /* a line there is an outcome the archive stands by */
    }
    if (o == OBIA_INGEST_QUARANTINED || o == OBIA_INGEST_FAILED) {
        if (u->tty)
            fputs("\r\033[K", stderr);
        fprintf(stderr, "obia ingest: %s: %s: %s\n", input, names[o], detail);
        /* the kind of reason: the codes after the item id, up to the ':' */
        char kind[64];
        const char *codes = strchr(detail, ' ');
        snprintf(kind, sizeof kind, "%s", o == OBIA_INGEST_QUARANTINED && codes ? codes + 1 : detail);
        char *colon = strchr(kind, ':');
        if (colon)
            *colon = '\0';
        if (o == OBIA_INGEST_QUARANTINED) {
            int i;
            for (i = 0; i < u->nreasons && strcmp(u->reasons[i], kind) != 0; i++)
                ;
            if (i == u->nreasons && i < 32)
                snprintf(u->reasons[u->nreasons++], sizeof u->reasons[0], "%s", kind);
            if (i < 32)
                u->counts[i]++;
        }
    }
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    ui *u = ctx;
    if (!u->tty)
        return;
    double t = now_s();
    if (done != total && t - u->last < 0.1)
        return;
    u->last = t;
    int width = 30, filled = total ? (int)(width * done / total) : width;
    double rate = t > u->start ? done / (t - u->start) : 0;
    fprintf(stderr, "\r[%.*s%*s] %llu/%llu files  %.0f files/s", filled,
            "##############################", width - filled, "", (unsigned long long)done,
            (unsigned long long)total, rate);
    if (done == total)
        fputs("\r\033[K", stderr);
}

int cmd_ingest(int argc, char **argv)
{
    const char *dir = NULL, *report = NULL, *jobs_s = NULL, *user = NULL;
    obia_ingest_options opt = {0};
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        const char **slot;
        if (strcmp(a, "--archive") == 0)
            slot = &dir;
        else if (strcmp(a, "--collection") == 0)
            slot = &opt.collection;
        else if (strcmp(a, "--report") == 0)
            slot = &report;
        else if (strcmp(a, "--jobs") == 0)
            slot = &jobs_s;
        else if (strcmp(a, "--user") == 0)
            slot = &user;
        else
            return cli_usage_error("ingest", "unknown option '%s'", a);
        if (!(*slot = cli_option_value("ingest", a, argc, argv, &first)))
            return 2;
    }
    if (!opt.collection)
        return cli_usage_error("ingest", "--collection ACCESSION is required");
    if (first >= argc)
        return cli_usage_error("ingest", "no FILE or DIRECTORY given");
    if (jobs_s) {
        char *end;
        long j = strtol(jobs_s, &end, 10);
        if (*end || j < 1 || j > 256)
            return cli_usage_error("ingest", "--jobs takes a number from 1 to 256");
        opt.jobs = (int)j;
    }
    obia_error err;
    obia_error_clear(&err);
    obia_archive *a = obia_archive_open(obia_archive_default_dir(dir), &err);
    if (!a) {
        fprintf(stderr, "obia ingest: %s\n", err.message);
        return 1;
    }
    cli_files fl = {0};
    int problems = 0;
    for (int i = first; i < argc; i++)
        problems += cli_walk("ingest", argv[i], cli_files_add, &fl);
    if (fl.failed) {
        fprintf(stderr, "obia ingest: out of memory listing the files\n");
        obia_archive_close(a);
        return 1;
    }
    ui u = {.tty = isatty(2) == 1, .start = now_s()};
    if (report && !(u.report = fopen(report, "w"))) {
        fprintf(stderr, "obia ingest: cannot create %s: %s\n", report, strerror(errno));
        obia_archive_close(a);
        return 1;
    }
    opt.who = cli_who(user);
    opt.on_outcome = on_outcome;
    opt.on_progress = on_progress;
    opt.ctx = &u;
    obia_ingest_summary s;
    bool ok = obia_ingest_files(a, &opt, (const char *const *)fl.v, fl.n, &s, &err);
    if (!ok)
        fprintf(stderr, "obia ingest: %s\n", err.message);
    double secs = now_s() - u.start;
    fprintf(stderr,
            "obia ingest: %llu files into %s in %.1f s: %llu accepted, %llu duplicates, "
            "%llu quarantined, %llu failed; %.1f MB read, %.1f MB stored\n",
            (unsigned long long)fl.n, opt.collection, secs, (unsigned long long)s.accepted,
            (unsigned long long)s.duplicates, (unsigned long long)s.quarantined,
            (unsigned long long)s.failed, s.bytes_in / 1e6, s.bytes_stored / 1e6);
    for (int i = 0; i < u.nreasons; i++)
        fprintf(stderr, "  quarantined: %llu %s\n", (unsigned long long)u.counts[i], u.reasons[i]);
    if (s.series_checked)
        fprintf(stderr, "obia ingest: %llu series checked, %llu warnings (obia qc warnings)\n",
                (unsigned long long)s.series_checked, (unsigned long long)s.series_warnings);
    if (s.thumbnails || s.thumbnail_failures)
        fprintf(stderr, "obia ingest: %llu series thumbnails made%s\n",
                (unsigned long long)s.thumbnails,
                s.thumbnail_failures ? ", some could not be (obia thumbnails rebuild says why)"
                                     : "");
    if (s.quarantined)
        fprintf(stderr, "obia ingest: see the quarantine with obia qc list --collection %s\n",
                opt.collection);
    if (u.report && fclose(u.report) != 0) {
        fprintf(stderr, "obia ingest: cannot write %s\n", report);
        ok = false;
    }
    cli_files_free(&fl);
    obia_archive_close(a);
    return ok && !s.failed && !problems ? 0 : 1;
}
