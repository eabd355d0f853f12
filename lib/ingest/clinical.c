/* Clinical data per individual from a CSV file: checked whole, then written
 * in one catalog transaction. */
#include "obia/catalog.h"
#include "obia/deid.h"
#include "obia/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known[] = {"sex", "age", "disease", "diagnosis", "pathological_type",
                                    "medical_history", "family_history", "treatment"};

typedef struct row {
    size_t line;
    char **values;          /* one per column */
    char accession[17];
} row;

static bool is_known(const char *name)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i], name) == 0)
            return true;
    return false;
}

/* A column name: letters, digits and '_' (it becomes a field name). */
static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static bool check_value(const char *col, const char *v, size_t line, obia_error *err)
{
    if (!*v)
        return true;
    if (strcmp(col, "sex") == 0 && strcmp(v, "M") && strcmp(v, "F") && strcmp(v, "O"))
        return obia_error_set(err, OBIA_E_FORMAT, "line %zu: sex is M, F or O, not '%s'", line, v);
    if (strcmp(col, "age") == 0) {
        char *end;
        long a = strtol(v, &end, 10);
        if (*end || a < 0 || a > 150)
            return obia_error_set(err, OBIA_E_FORMAT,
                                  "line %zu: age is whole years from 0 to 150, not '%s'", line, v);
    }
    return true;
}

bool obia_clinical_import(obia_archive *a, const char *collection, const char *csv, size_t len,
                          obia_clinical_summary *summary, obia_error *err)
{
    memset(summary, 0, sizeof *summary);
    obia_csv *in = obia_csv_new(csv, len);
    if (!in)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    char **cols = NULL;
    size_t ncols = 0, nrows = 0, caprows = 0;
    row *rows = NULL;
    bool ok = true;
    int pid_col = -1, issuer_col = -1;
    const char *const *f;
    size_t n, line;

    /* 1. read and check everything */
    if (!obia_csv_next(in, &f, &n, &line, err)) {
        ok = err->code != OBIA_E_OK ? false : obia_error_set(err, OBIA_E_FORMAT, "the file is empty");
    } else {
        cols = calloc(n, sizeof *cols);
        ncols = n;
        for (size_t i = 0; ok && i < n; i++) {
            if (!valid_name(f[i]))
                ok = obia_error_set(err, OBIA_E_FORMAT,
                                    "line 1: column %zu: '%s' is not a name (letters, digits, _)",
                                    i + 1, f[i]);
            for (size_t k = 0; ok && k < i; k++)
                if (strcmp(cols[k], f[i]) == 0)
                    ok = obia_error_set(err, OBIA_E_FORMAT, "line 1: column %s appears twice", f[i]);
            if (ok && !(cols[i] = strdup(f[i])))
                ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory");
            if (ok && strcmp(f[i], "patient_id") == 0)
                pid_col = (int)i;
            if (ok && strcmp(f[i], "issuer") == 0)
                issuer_col = (int)i;
        }
        if (ok && pid_col < 0)
            ok = obia_error_set(err, OBIA_E_FORMAT, "line 1: no patient_id column");
    }
    while (ok && obia_csv_next(in, &f, &n, &line, err)) {
        if (n == 1 && f[0][0] == '\0')
            continue;   /* a blank line */
        if (n != ncols) {
            ok = obia_error_set(err, OBIA_E_FORMAT, "line %zu: %zu fields, the header has %zu",
                                line, n, ncols);
            break;
        }
        if (!f[pid_col][0]) {
            ok = obia_error_set(err, OBIA_E_FORMAT, "line %zu: no patient_id", line);
            break;
        }
        for (size_t i = 0; ok && i < n; i++)
            ok = check_value(cols[i], f[i], line, err);
        for (size_t k = 0; ok && k < nrows; k++)
            if (strcmp(rows[k].values[pid_col], f[pid_col]) == 0 &&
                (issuer_col < 0 || strcmp(rows[k].values[issuer_col], f[issuer_col]) == 0))
                ok = obia_error_set(err, OBIA_E_FORMAT,
                                    "line %zu: the same patient as line %zu", line, rows[k].line);
        if (!ok)
            break;
        if (nrows == caprows) {
            caprows = caprows ? caprows * 2 : 64;
            row *nr = realloc(rows, caprows * sizeof *nr);
            if (!nr) {
                ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory");
                break;
            }
            rows = nr;
        }
        row *r = &rows[nrows];
        memset(r, 0, sizeof *r);
        r->line = line;
        r->values = calloc(n, sizeof *r->values);
        nrows++;
        for (size_t i = 0; ok && i < n; i++)
            if (!r->values || !(r->values[i] = strdup(f[i])))
                ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    }
    if (err->code != OBIA_E_OK)
        ok = false;
    obia_csv_free(in);

    /* 2. who each row is: individuals known to the collection, or new */
    char path[4200];
    obia_catalog *cat = NULL;
    obia_deid_keys *keys = NULL;
    if (ok)
        ok = (cat = obia_catalog_open(obia_archive_file(a, "catalog.db", path, sizeof path), false,
                                      err)) != NULL;
    char profile[16];
    ok = ok && obia_catalog_collection_profile(cat, collection, profile, err);
    if (ok)
        ok = (keys = obia_deid_keys_open(obia_archive_file(a, "keys.db", path, sizeof path), err)) != NULL;
    for (size_t k = 0; ok && k < nrows; k++) {
        row *r = &rows[k];
        /* without an issuer column, the patient is matched whatever the
         * Issuer of Patient ID of its images */
        const char *issuer = issuer_col >= 0 ? r->values[issuer_col] : NULL;
        obia_deid_identity id;
        bool found;
        ok = obia_deid_keys_find(keys, collection, issuer, r->values[pid_col], "", &id, &found, err);
        if (!ok && err->code == OBIA_E_ARG) {
            obia_error_clear(err);
            ok = obia_error_set(err, OBIA_E_FORMAT, "line %zu: patient ID %s is known under "
                                "several issuers: add an issuer column", r->line, r->values[pid_col]);
        }
        if (!issuer)
            issuer = "";
        if (ok && !found) {
            char acc[16];
            ok = obia_catalog_begin(cat, err);
            if (ok && !(ok = obia_catalog_individual_new(cat, collection, acc, err)))
                obia_catalog_rollback(cat);
            ok = ok && obia_catalog_commit(cat, err) &&
                 obia_deid_keys_add(keys, collection, issuer, r->values[pid_col], "", acc, &id, err);
            summary->new_individuals += ok;
        }
        if (ok)
            snprintf(r->accession, sizeof r->accession, "%s", id.pseudonym);
    }

    /* 3. all the fields in one transaction */
    ok = ok && obia_catalog_begin(cat, err);
    for (size_t k = 0; ok && k < nrows; k++)
        for (size_t i = 0; ok && i < ncols; i++) {
            if ((int)i == pid_col || (int)i == issuer_col)
                continue;
            ok = obia_catalog_individual_set(cat, rows[k].accession, cols[i], rows[k].values[i], err);
        }
    if (ok)
        ok = obia_catalog_commit(cat, err);
    else if (cat && nrows)
        obia_catalog_rollback(cat);
    if (ok) {
        summary->rows = nrows;
        for (size_t i = 0; i < ncols; i++)
            summary->extra_columns += (int)i != pid_col && (int)i != issuer_col && !is_known(cols[i]);
    }
    if (keys)
        obia_deid_keys_sync(keys, NULL);
    obia_deid_keys_close(keys);
    obia_catalog_close(cat);
    for (size_t k = 0; k < nrows; k++) {
        for (size_t i = 0; rows[k].values && i < ncols; i++)
            free(rows[k].values[i]);
        free(rows[k].values);
    }
    free(rows);
    for (size_t i = 0; i < ncols; i++)
        free(cols[i]);
    free(cols);
    return ok;
}
