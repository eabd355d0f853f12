/* obia qc: the checks, the quarantine and what curators do with it. */
#include "cli.h"
#include "obia/deid.h"
#include "obia/ingest.h"
#include "obia/qc.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_who(const char *given)
{
    if (given && *given)
        return given;
    const char *env = getenv("OBIA_USER");
    if (env && *env)
        return env;
    struct passwd *pw = getpwuid(geteuid());
    return pw && pw->pw_name ? pw->pw_name : "unknown";
}

/* ---- rows collected, to print as JSON with types ----------------------------------- */

typedef struct table {
    int ncols;
    char *names[32];
    char **cells;   /* nrows * ncols, NULL for SQL NULL */
    size_t nrows, cap;
} table;

static bool table_add(void *ctx, int n, const char *const *names, const char *const *v)
{
    table *t = ctx;
    if (n > 32)
        n = 32;
    if (!t->ncols) {
        t->ncols = n;
        for (int i = 0; i < n; i++)
            t->names[i] = strdup(names[i]);
    }
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
        if (!c)
            return false;
        t->cells = c;
        t->cap = cap;
    }
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = i < n && v[i] ? strdup(v[i]) : NULL;
    t->nrows++;
    return true;
}

static const char *cell(const table *t, size_t row, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->names[i], name) == 0)
            return t->cells[row * (size_t)t->ncols + (size_t)i];
    return NULL;
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    for (int i = 0; i < t->ncols; i++)
        free(t->names[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

static void json_key(const char *k, bool *first)
{
    fputs(*first ? "" : ",", stdout);
    *first = false;
    obia_json_fputs(stdout, k);
    fputc(':', stdout);
}

static void json_str(const char *k, const char *v, bool *first)
{
    json_key(k, first);
    if (v)
        obia_json_fputs(stdout, v);
    else
        fputs("null", stdout);
}

static void json_codes(const char *codes, bool *first)
{
    json_key("codes", first);
    fputc('[', stdout);
    const char *p = codes ? codes : "";
    for (int n = 0; *p; n++) {
        size_t len = strcspn(p, ",");
        char c[64];
        snprintf(c, sizeof c, "%.*s", (int)len, p);
        fputs(n ? "," : "", stdout);
        obia_json_fputs(stdout, c);
        p += len + (p[len] == ',');
    }
    fputc(']', stdout);
}

/* ---- options ------------------------------------------------------------------------ */

typedef struct opts {
    const char *dir, *collection, *reason, *state, *code, *user, *limit;
    bool json, all;
    const char *sets[64];
    size_t nsets;
} opts;

static int parse_one(const char *cmd, int argc, char **argv, int *i, opts *o);

/* Parse the options of obia CMD, before or after the operands; the
 * operands are moved to argv[*first...] in their order ("--" ends the
 * options). */
static int parse(const char *cmd, int argc, char **argv, int *first, opts *o)
{
    int start = *first, nops = 0;
    char **ops = calloc((size_t)argc + 1, sizeof *ops);
    if (!ops)
        return cli_usage_error(cmd, "out of memory");
    int rc = 0;
    for (int i = start; i < argc && !rc;) {
        if (strcmp(argv[i], "--") == 0) {
            while (++i < argc)
                ops[nops++] = argv[i];
            break;
        }
        if (argv[i][0] != '-' || argv[i][1] == '\0') {
            ops[nops++] = argv[i++];
            continue;
        }
        int j = i;
        rc = parse_one(cmd, argc, argv, &j, o);
        i = j;
    }
    /* options consumed: the operands take their places at the end */
    for (int k = 0; k < nops; k++)
        argv[argc - nops + k] = ops[k];
    *first = argc - nops;
    free(ops);
    return rc;
}

/* One option at argv[*i] (advancing *i past it and its value). */
static int parse_one(const char *cmd, int argc, char **argv, int *i, opts *o)
{
    for (const char *a; (a = cli_next_option(argc, argv, i)) != NULL;) {
        const char **slot = NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            return 0;
        }
        if (strcmp(a, "--archive") == 0)
            slot = &o->dir;
        else if (strcmp(a, "--collection") == 0)
            slot = &o->collection;
        else if (strcmp(a, "--reason") == 0)
            slot = &o->reason;
        else if (strcmp(a, "--state") == 0)
            slot = &o->state;
        else if (strcmp(a, "--code") == 0)
            slot = &o->code;
        else if (strcmp(a, "--user") == 0)
            slot = &o->user;
        else if (strcmp(a, "--limit") == 0)
            slot = &o->limit;
        else if (strcmp(a, "--set") == 0) {
            const char *v = cli_option_value(cmd, a, argc, argv, i);
            if (!v)
                return 2;
            if (o->nsets == sizeof o->sets / sizeof o->sets[0])
                return cli_usage_error(cmd, "too many --set options");
            o->sets[o->nsets++] = v;
            return 0;
        } else
            return cli_usage_error(cmd, "unknown option '%s'", a);
        if (!(*slot = cli_option_value(cmd, a, argc, argv, i)))
            return 2;
        return 0;
    }
    return 0;
}

/* ---- obia qc codes ---------------------------------------------------------------------- */

static int qc_codes(const opts *o)
{
    size_t n;
    const obia_qc_check_info *c = obia_qc_checks(&n);
    cli_rows rows = {.json = o->json};
    for (size_t i = 0; i < n; i++) {
        const char *names[] = {"code", "severity", "scope", "title"};
        const char *v[] = {c[i].code, obia_qc_severity_name(c[i].severity), c[i].scope,
                           c[i].title};
        cli_rows_print(&rows, 4, names, v);
    }
    cli_rows_end(&rows);
    return 0;
}

/* ---- obia qc list ------------------------------------------------------------------------ */

static const char *first_detail(obia_catalog *c, const char *id, table *f)
{
    obia_error err;
    obia_error_clear(&err);
    table_free(f);
    if (!obia_catalog_quarantine_findings(c, id, table_add, f, &err) || f->nrows == 0)
        return NULL;
    return cell(f, 0, "detail");
}

static int qc_list(obia_catalog *c, const opts *o)
{
    obia_error err;
    obia_error_clear(&err);
    /* --reason CODE (or --code CODE): the items with that code */
    const char *code = o->code ? o->code : o->reason;
    if (code && !obia_qc_check(code)) {
        fprintf(stderr, "obia qc: no check '%s' (see obia qc codes)\n", code);
        return 2;
    }
    static const char *const states[] = {"held", "repaired", "released", "discarded", "all"};
    bool valid = !o->state;
    for (size_t i = 0; !valid && i < sizeof states / sizeof states[0]; i++)
        valid = strcmp(o->state, states[i]) == 0;
    if (!valid) {
        fprintf(stderr, "obia qc: '%s' is not a state (held, repaired, released, discarded, all)\n",
                o->state);
        return 2;
    }
    table t = {0}, f = {0};
    if (!obia_catalog_quarantine_list(c, o->collection, code, o->state ? o->state : "held",
                                      table_add, &t, &err)) {
        fprintf(stderr, "obia qc: %s\n", err.message);
        table_free(&t);
        return 1;
    }
    if (o->json)
        fputc('[', stdout);
    cli_rows rows = {0};
    for (size_t r = 0; r < t.nrows; r++) {
        const char *id = cell(&t, r, "id");
        const char *detail = first_detail(c, id, &f);
        bool bytes = cell(&t, r, "has_bytes") && strcmp(cell(&t, r, "has_bytes"), "1") == 0;
        if (o->json) {
            bool first = true;
            fputs(r ? ",\n {" : "{", stdout);
            json_str("id", id, &first);
            json_str("collection", cell(&t, r, "collection"), &first);
            json_str("state", cell(&t, r, "state"), &first);
            json_str("severity", cell(&t, r, "severity"), &first);
            json_codes(cell(&t, r, "codes"), &first);
            json_str("created", cell(&t, r, "created"), &first);
            json_str("updated", cell(&t, r, "updated"), &first);
            json_key("has_bytes", &first);
            fputs(bytes ? "true" : "false", stdout);
            json_str("sop_instance_uid", cell(&t, r, "sop_instance_uid"), &first);
            json_str("detail", detail, &first);
            fputc('}', stdout);
        } else {
            const char *names[] = {"id", "collection", "state", "severity", "codes", "created",
                                   "kept", "detail"};
            const char *v[] = {id, cell(&t, r, "collection"), cell(&t, r, "state"),
                               cell(&t, r, "severity"), cell(&t, r, "codes"),
                               cell(&t, r, "created"), bytes ? "bytes" : "source", detail};
            cli_rows_print(&rows, 8, names, v);
        }
    }
    if (o->json)
        fputs("]\n", stdout);
    else if (t.nrows == 0)
        fprintf(stderr, "obia qc: no %s items\n", o->state ? o->state : "held");
    table_free(&t);
    table_free(&f);
    return 0;
}

/* ---- obia qc show ------------------------------------------------------------------------- */

static int qc_show(obia_archive *a, obia_catalog *c, const char *id, const opts *o)
{
    obia_error err;
    obia_error_clear(&err);
    table t = {0}, f = {0}, h = {0};
    bool ok = obia_catalog_quarantine_get(c, id, table_add, &t, &err) &&
              obia_catalog_quarantine_findings(c, id, table_add, &f, &err) &&
              obia_catalog_audit_list(c, id, 0, table_add, &h, &err);
    if (!ok) {
        fprintf(stderr, "obia qc: %s\n", err.message);
        table_free(&t);
        table_free(&f);
        table_free(&h);
        return 1;
    }
    bool bytes = cell(&t, 0, "has_bytes") && strcmp(cell(&t, 0, "has_bytes"), "1") == 0;
    char path[4200], source[4200] = "", kept[4300] = "";
    const char *ref = cell(&t, 0, "source_ref");
    if (ref && *ref && strcmp(cell(&t, 0, "state"), "held") == 0) {
        obia_deid_keys *k = obia_deid_keys_open(obia_archive_file(a, "keys.db", path, sizeof path),
                                                &err);
        if (!k || !obia_deid_keys_source_get(k, ref, source, sizeof source, &err))
            snprintf(source, sizeof source, "(unknown: %s)", err.message);
        obia_deid_keys_close(k);
    }
    if (bytes)
        snprintf(kept, sizeof kept, "%s/%s.dcm",
                 obia_archive_file(a, "quarantine", path, sizeof path), id);
    if (o->json) {
        bool first = true;
        fputc('{', stdout);
        static const char *const cols[] = {"id", "collection", "state", "severity"};
        for (size_t i = 0; i < 4; i++)
            json_str(cols[i], cell(&t, 0, cols[i]), &first);
        json_codes(cell(&t, 0, "codes"), &first);
        json_key("findings", &first);
        fputc('[', stdout);
        for (size_t r = 0; r < f.nrows; r++) {
            bool f1 = true;
            fputs(r ? ",{" : "{", stdout);
            json_str("code", cell(&f, r, "code"), &f1);
            json_str("severity", cell(&f, r, "severity"), &f1);
            json_str("detail", cell(&f, r, "detail"), &f1);
            fputc('}', stdout);
        }
        fputc(']', stdout);
        json_str("created", cell(&t, 0, "created"), &first);
        json_str("updated", cell(&t, 0, "updated"), &first);
        json_key("has_bytes", &first);
        fputs(bytes ? "true" : "false", stdout);
        json_str("file", bytes ? kept : NULL, &first);
        json_str("source", *source ? source : NULL, &first);
        json_str("sop_instance_uid", cell(&t, 0, "sop_instance_uid"), &first);
        json_str("individual", cell(&t, 0, "individual"), &first);
        json_key("history", &first);
        fputc('[', stdout);
        for (size_t r = h.nrows; r-- > 0;) {
            bool f1 = true;
            fputs(r + 1 < h.nrows ? ",{" : "{", stdout);
            json_str("at", cell(&h, r, "at"), &f1);
            json_str("who", cell(&h, r, "who"), &f1);
            json_str("action", cell(&h, r, "action"), &f1);
            json_str("reason", cell(&h, r, "detail"), &f1);
            fputc('}', stdout);
        }
        fputs("]}\n", stdout);
    } else {
        static const char *const cols[] = {"id", "collection", "state", "severity", "codes",
                                           "created", "updated", "sop_instance_uid", "individual"};
        for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
            if (cell(&t, 0, cols[i]))
                printf("%-20s %s\n", cols[i], cell(&t, 0, cols[i]));
        if (bytes)
            printf("%-20s %s\n", "file", kept);
        if (*source)
            printf("%-20s %s\n", "source", source);
        for (size_t r = 0; r < f.nrows; r++)
            printf("finding              %s (%s): %s\n", cell(&f, r, "code"),
                   cell(&f, r, "severity"), cell(&f, r, "detail") ? cell(&f, r, "detail") : "");
        for (size_t r = h.nrows; r-- > 0;)
            printf("history              %s %s %s%s%s\n", cell(&h, r, "at"), cell(&h, r, "who"),
                   cell(&h, r, "action"), cell(&h, r, "detail") ? ": " : "",
                   cell(&h, r, "detail") ? cell(&h, r, "detail") : "");
    }
    table_free(&t);
    table_free(&f);
    table_free(&h);
    return 0;
}

/* ---- actions ------------------------------------------------------------------------------ */

static int report_outcome(const char *id, bool ok, obia_ingest_outcome outcome,
                          const char *detail, const obia_error *err)
{
    if (!ok) {
        fprintf(stderr, "obia qc: %s\n", err->message);
        return 1;
    }
    switch (outcome) {
    case OBIA_INGEST_ACCEPTED: printf("%s accepted: %s\n", id, detail); return 0;
    case OBIA_INGEST_DUPLICATE: printf("%s accepted (duplicate of a stored image): %s\n", id, detail); return 0;
    case OBIA_INGEST_QUARANTINED: printf("%s still held: %s\n", id, detail); return 3;
    case OBIA_INGEST_FAILED: fprintf(stderr, "obia qc: %s: %s\n", id, detail); return 1;
    }
    return 1;
}

static int qc_warnings(obia_catalog *c, const opts *o)
{
    obia_error err;
    obia_error_clear(&err);
    cli_rows rows = {.json = o->json};
    bool ok = obia_catalog_series_findings(c, o->collection, o->code, cli_rows_print, &rows, &err);
    cli_rows_end(&rows);
    if (!ok)
        fprintf(stderr, "obia qc: %s\n", err.message);
    return ok ? 0 : 1;
}

int cmd_qc(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("qc", "usage: obia qc codes|list|show|repair|release|discard|warnings|check ...");
    const char *sub = argv[1];
    opts o = {0};
    int first = 2;
    int rc = parse("qc", argc, argv, &first, &o);
    if (rc)
        return rc;
    int operands = argc - first;
    if (strcmp(sub, "codes") == 0)
        return operands ? cli_usage_error("qc", "codes takes no argument") : qc_codes(&o);
    bool one_id = strcmp(sub, "show") == 0 || strcmp(sub, "repair") == 0 ||
                  strcmp(sub, "release") == 0 || strcmp(sub, "discard") == 0;
    bool none = strcmp(sub, "list") == 0 || strcmp(sub, "warnings") == 0 ||
                strcmp(sub, "check") == 0;
    if (!one_id && !none)
        return cli_usage_error("qc", "unknown subcommand '%s' (codes, list, show, repair, "
                                     "release, discard, warnings, check)", sub);
    if (one_id && operands != 1)
        return cli_usage_error("qc", "%s takes one item id (Q000001)", sub);
    if (none && operands)
        return cli_usage_error("qc", "unexpected argument '%s'", argv[first]);
    if (strcmp(sub, "repair") == 0 && o.nsets == 0)
        return cli_usage_error("qc", "repair needs at least one --set KEYWORD=VALUE");
    if (strcmp(sub, "release") == 0 && (!o.reason || !*o.reason))
        return cli_usage_error("qc", "release needs --reason TEXT");
    if (strcmp(sub, "check") == 0 && !o.collection)
        return cli_usage_error("qc", "check needs --collection ACCESSION");

    obia_archive *a = NULL;
    obia_catalog *c = cli_open_catalog("qc", o.dir, &a);
    if (!c)
        return 1;
    const char *id = one_id ? argv[first] : NULL;
    const char *who = cli_who(o.user);
    obia_error err;
    obia_error_clear(&err);
    char detail[600] = "";
    obia_ingest_outcome outcome = OBIA_INGEST_FAILED;
    if (strcmp(sub, "list") == 0) {
        rc = qc_list(c, &o);
    } else if (strcmp(sub, "show") == 0) {
        rc = qc_show(a, c, id, &o);
    } else if (strcmp(sub, "warnings") == 0) {
        rc = qc_warnings(c, &o);
    } else if (strcmp(sub, "check") == 0) {
        obia_catalog_close(c);
        c = NULL;
        obia_ingest_summary sum;
        if (obia_ingest_check_series(a, o.collection, &sum, &err)) {
            printf("%llu series checked, %llu warnings\n", (unsigned long long)sum.series_checked,
                   (unsigned long long)sum.series_warnings);
        } else {
            fprintf(stderr, "obia qc: %s\n", err.message);
            rc = 1;
        }
    } else {
        /* the pipeline opens the catalog itself */
        obia_catalog_close(c);
        c = NULL;
        if (strcmp(sub, "repair") == 0) {
            bool ok = obia_ingest_repair(a, id, o.sets, o.nsets, who, o.reason, &outcome, detail,
                                         sizeof detail, &err);
            rc = report_outcome(id, ok, outcome, detail, &err);
        } else if (strcmp(sub, "release") == 0) {
            bool ok = obia_ingest_release(a, id, who, o.reason, &outcome, detail, sizeof detail,
                                          &err);
            rc = report_outcome(id, ok, outcome, detail, &err);
        } else {
            if (obia_ingest_discard(a, id, who, o.reason, &err)) {
                printf("%s discarded\n", id);
            } else {
                fprintf(stderr, "obia qc: %s\n", err.message);
                rc = 1;
            }
        }
    }
    obia_catalog_close(c);
    obia_archive_close(a);
    return rc;
}

/* ---- obia audit ------------------------------------------------------------------------------ */

int cmd_audit(int argc, char **argv)
{
    opts o = {0};
    int first = 1;
    int rc = parse("audit", argc, argv, &first, &o);
    if (rc)
        return rc;
    if (first + 1 < argc)
        return cli_usage_error("audit", "give at most one object (an accession or item id)");
    long limit = 0;
    if (o.limit) {
        char *end;
        limit = strtol(o.limit, &end, 10);
        if (*end || limit < 1)
            return cli_usage_error("audit", "--limit takes a positive number");
    }
    obia_archive *a = NULL;
    obia_catalog *c = cli_open_catalog("audit", o.dir, &a);
    if (!c)
        return 1;
    obia_error err;
    obia_error_clear(&err);
    cli_rows rows = {.json = o.json};
    bool ok = obia_catalog_audit_list(c, first < argc ? argv[first] : NULL, limit, cli_rows_print,
                                      &rows, &err);
    cli_rows_end(&rows);
    if (!ok)
        fprintf(stderr, "obia audit: %s\n", err.message);
    obia_catalog_close(c);
    obia_archive_close(a);
    return ok ? 0 : 1;
}

/* ---- obia review ----------------------------------------------------------------------------- */

int cmd_review(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("review", "usage: obia review set|list|history ...");
    const char *sub = argv[1];
    opts o = {0};
    int first = 2;
    int rc = parse("review", argc, argv, &first, &o);
    if (rc)
        return rc;
    bool set = strcmp(sub, "set") == 0, list = strcmp(sub, "list") == 0,
         history = strcmp(sub, "history") == 0;
    if (!set && !list && !history)
        return cli_usage_error("review", "unknown subcommand '%s' (set, list or history)", sub);
    if (set && argc - first < 2)
        return cli_usage_error("review", "set needs a STATE and at least one series, study or "
                                         "collection");
    if (set && !obia_catalog_review_state_valid(argv[first]))
        return cli_usage_error("review", "'%s' is not a review state (unreviewed, visible, "
                                         "not-visible, to-be-deleted)", argv[first]);
    if (list && first != argc)
        return cli_usage_error("review", "unexpected argument '%s'", argv[first]);
    if (list && o.state && !obia_catalog_review_state_valid(o.state))
        return cli_usage_error("review", "'%s' is not a review state (unreviewed, visible, "
                                         "not-visible, to-be-deleted)", o.state);
    if (history && first + 1 != argc)
        return cli_usage_error("review", "history takes one series UID");
    obia_archive *a = NULL;
    obia_catalog *c = cli_open_catalog("review", o.dir, &a);
    if (!c)
        return 1;
    obia_error err;
    obia_error_clear(&err);
    if (set) {
        /* every target or none */
        const char *state = argv[first];
        const char *who = cli_who(o.user);
        long *n = calloc((size_t)argc, sizeof *n);
        bool ok = n && obia_catalog_begin(c, &err);
        for (int i = first + 1; ok && i < argc; i++)
            ok = obia_catalog_review_set(c, argv[i], state, who, o.reason, &n[i], &err);
        if (ok)
            ok = obia_catalog_commit(c, &err);
        else if (n)
            obia_catalog_rollback(c);
        for (int i = first + 1; ok && i < argc; i++)
            printf("%s: %ld series set %s\n", argv[i], n[i], state);
        if (!ok) {
            fprintf(stderr, "obia review: %s%s\n", n ? err.message : "out of memory",
                    n ? "; nothing was changed" : "");
            rc = 1;
        }
        free(n);
    } else {
        cli_rows rows = {.json = o.json};
        bool ok = list ? obia_catalog_review_list(c, o.collection, o.state, cli_rows_print, &rows,
                                                  &err)
                       : obia_catalog_review_history(c, argv[first], cli_rows_print, &rows, &err);
        cli_rows_end(&rows);
        if (!ok) {
            fprintf(stderr, "obia review: %s\n", err.message);
            rc = 1;
        }
    }
    obia_catalog_close(c);
    obia_archive_close(a);
    return rc;
}
