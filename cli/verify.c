/* obia verify: re-hash every copy of every stored object; --repair restores
 * missing or corrupt copies from a good one. */
#include "cli.h"
#include "obia/store.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct verify_ui {
    bool tty;
    uint64_t problems;
} verify_ui;

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    verify_ui *u = ctx;
    if (u->tty && (done % 256 == 0 || done == total))
        fprintf(stderr, "\r%llu/%llu objects%s", (unsigned long long)done,
                (unsigned long long)total, done == total ? "\r\033[K" : "");
}

static void problem(void *ctx, const char *root, const char *what_path, const char *what)
{
    verify_ui *u = ctx;
    u->problems++;
    if (u->tty)
        fputs("\r\033[K", stderr);
    printf("%s: %s: %s\n", root, what_path, what);
}

int cmd_verify(int argc, char **argv)
{
    const char *dir = NULL;
    bool repair = false;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        if (strcmp(a, "--repair") == 0)
            repair = true;
        else if (strcmp(a, "--archive") == 0) {
            if (!(dir = cli_option_value("verify", a, argc, argv, &first)))
                return 2;
        } else
            return cli_usage_error("verify", "unknown option '%s'", a);
    }
    if (first < argc)
        return cli_usage_error("verify", "unexpected argument '%s'", argv[first]);
    obia_error err;
    obia_error_clear(&err);
    obia_archive *a = obia_archive_open(obia_archive_default_dir(dir), &err);
    if (!a) {
        fprintf(stderr, "obia verify: %s\n", err.message);
        return 1;
    }
    char path[4200];
    size_t nrep;
    const char *const *reps = obia_archive_replicas(a, &nrep);
    obia_store *s = obia_store_open(obia_archive_file(a, "store", path, sizeof path), reps, nrep, &err);
    if (!s) {
        fprintf(stderr, "obia verify: %s\n", err.message);
        obia_archive_close(a);
        return 1;
    }
    verify_ui u = {.tty = isatty(2) == 1};
    obia_store_stats st;
    bool ok = obia_store_verify(s, repair, progress, problem, &u, &st, &err);
    if (!ok)
        fprintf(stderr, "obia verify: %s\n", err.message);
    printf("%llu objects, %llu copies in %zu roots, %.1f MB: %llu good, %llu missing, %llu corrupt, "
           "%llu stray, %llu repaired, %llu unrepairable; %llu leftover temporary files removed, "
           "%llu interrupted writes finished\n",
           (unsigned long long)st.objects, (unsigned long long)st.copies, nrep + 1,
           st.bytes / 1e6, (unsigned long long)st.good, (unsigned long long)st.missing,
           (unsigned long long)st.corrupt, (unsigned long long)st.stray,
           (unsigned long long)st.repaired, (unsigned long long)st.unrepairable,
           (unsigned long long)st.temp_removed, (unsigned long long)st.interrupted);
    obia_store_close(s);
    obia_archive_close(a);
    bool clean = st.corrupt + st.missing + st.stray == st.repaired && st.unrepairable == 0;
    return ok && clean ? 0 : 1;
}
