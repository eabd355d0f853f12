/* obia search: series matching facets and text. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "40-60", "40-", "-60" or "45" into bounds; false if malformed. */
static bool parse_ages(const char *s, int *lo, int *hi)
{
    char *end;
    const char *dash = strchr(s, '-');
    *lo = *hi = -1;
    if (!dash) {
        long v = strtol(s, &end, 10);
        if (*end || end == s || v < 0 || v > 200)
            return false;
        *lo = *hi = (int)v;
        return true;
    }
    if (dash != s) {
        long v = strtol(s, &end, 10);
        if (end != dash || v < 0 || v > 200)
            return false;
        *lo = (int)v;
    }
    if (dash[1]) {
        long v = strtol(dash + 1, &end, 10);
        if (*end || v < 0 || v > 200)
            return false;
        *hi = (int)v;
    }
    return *lo >= 0 || *hi >= 0;
}

int cmd_search(int argc, char **argv)
{
    const char *dir = NULL;
    obia_catalog_query q = {.age_min = -1, .age_max = -1};
    bool json = false;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        const char **slot = NULL, *age = NULL, *limit = NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--public") == 0) {
            q.public_only = true;
            continue;
        }
        if (strcmp(a, "--archive") == 0)
            slot = &dir;
        else if (strcmp(a, "--collection") == 0)
            slot = &q.collection;
        else if (strcmp(a, "--modality") == 0)
            slot = &q.modality;
        else if (strcmp(a, "--body-part") == 0)
            slot = &q.body_part;
        else if (strcmp(a, "--sex") == 0)
            slot = &q.sex;
        else if (strcmp(a, "--disease") == 0)
            slot = &q.disease;
        else if (strcmp(a, "--text") == 0)
            slot = &q.text;
        else if (strcmp(a, "--age") == 0)
            slot = &age;
        else if (strcmp(a, "--limit") == 0)
            slot = &limit;
        else
            return cli_usage_error("search", "unknown option '%s'", a);
        if (!(*slot = cli_option_value("search", a, argc, argv, &first)))
            return 2;
        if (age && !parse_ages(age, &q.age_min, &q.age_max))
            return cli_usage_error("search", "--age takes N, A-B, A- or -B (years), not '%s'", age);
        if (limit) {
            char *end;
            q.limit = strtol(limit, &end, 10);
            if (*end || q.limit < 1)
                return cli_usage_error("search", "--limit takes a positive number, not '%s'", limit);
        }
        if (q.sex && strcmp(q.sex, "M") && strcmp(q.sex, "F") && strcmp(q.sex, "O"))
            return cli_usage_error("search", "--sex is M, F or O");
    }
    if (first < argc)
        return cli_usage_error("search", "unexpected argument '%s'", argv[first]);
    obia_archive *archive;
    obia_catalog *c = cli_open_catalog("search", dir, &archive);
    if (!c)
        return 1;
    obia_error err;
    obia_error_clear(&err);
    cli_rows rows = {.json = json};
    bool ok = obia_catalog_search(c, &q, cli_rows_print, &rows, &err);
    cli_rows_end(&rows);
    if (!ok)
        fprintf(stderr, "obia search: %s\n", err.message);
    else if (!json)
        fprintf(stderr, "%ld series\n", rows.count);
    obia_catalog_close(c);
    obia_archive_close(archive);
    return ok ? 0 : 1;
}
