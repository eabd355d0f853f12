/* Finding and browsing what the archive holds, for the command and the REST
 * API: search with paging and facets, counts, collections, the children of
 * an object, and what the public may see. Portable SQL run through the
 * backend's query method.
 *
 * What the public sees: the series reviewed visible in released
 * collections; an individual, a study or a collection is visible when it
 * has one. */
#include "catalog_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERIES_JOINS                                                                          \
    "FROM series r JOIN study s ON s.id = r.study_id JOIN individual i ON i.id = "           \
    "s.individual_id JOIN collection c ON c.id = i.collection_id "
/* The same rows in the order of collection, individual, study and series
 * number, walked in that order (SQLite keeps the order of CROSS JOINs),
 * so that a page or a count of distinct individuals needs no sort. */
#define SERIES_IN_ORDER                                                                       \
    "FROM collection c CROSS JOIN individual i CROSS JOIN study s CROSS JOIN series r "       \
    "WHERE i.collection_id = c.id AND s.individual_id = i.id AND r.study_id = s.id"
#define PUBLIC_SERIES " AND c.status = 'released' AND r.review_state = 'visible'"
#define VISIBLE " AND r.review_state = 'visible'"

static bool check_page(long limit, long offset, obia_error *err)
{
    if (limit < 0 || offset < 0)
        return obia_error_set(err, OBIA_E_ARG,
                              "a page needs a limit and an offset of 0 or more, not %ld and %ld",
                              limit, offset);
    return true;
}

static bool set(const char *s)
{
    return s && *s;
}

/* ---- counting in one pass ------------------------------------------------------------
 * Counts per value of a few keys (the facets), made here from one pass over
 * the series rather than by a grouped query per key: at a million images,
 * one scan instead of six. Individuals and studies are counted once each
 * when the rows come in their order (individual, then study). */

#define NKEYS 6

typedef struct bucket {
    bool used;
    const char *value;          /* NULL: not known */
    long long individuals, studies, series, images, bytes;
    long long last_individual, last_study;
} bucket;

typedef struct tally {
    obia_arena *arena;
    bucket *slots[NKEYS];
    size_t cap[NKEYS], n[NKEYS];
    bool nomem;
} tally;

static void tally_free(tally *t)
{
    for (int k = 0; k < NKEYS; k++)
        free(t->slots[k]);
    obia_arena_free(t->arena);
}

static uint64_t hash_of(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    if (!s)
        return 0;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The bucket of a value (made if new), or NULL out of memory. */
static bucket *tally_bucket(tally *t, int key, const char *value)
{
    if (t->n[key] * 2 >= t->cap[key]) {
        size_t cap = t->cap[key] ? t->cap[key] * 2 : 64;
        bucket *nb = calloc(cap, sizeof *nb);
        if (!nb) {
            t->nomem = true;
            return NULL;
        }
        for (size_t k = 0; k < t->cap[key]; k++) {
            bucket *o = &t->slots[key][k];
            if (!o->used)
                continue;
            size_t at = hash_of(o->value) & (cap - 1);
            while (nb[at].used)
                at = (at + 1) & (cap - 1);
            nb[at] = *o;
        }
        free(t->slots[key]);
        t->slots[key] = nb;
        t->cap[key] = cap;
    }
    size_t mask = t->cap[key] - 1, at = hash_of(value) & mask;
    bucket *b;
    while ((b = &t->slots[key][at])->used) {
        if (same(b->value, value))
            return b;
        at = (at + 1) & mask;
    }
    if (value && (!t->arena && !(t->arena = obia_arena_new(8192))))
        t->nomem = true;
    char *copy = value && !t->nomem ? obia_arena_strndup(t->arena, value, strlen(value)) : NULL;
    if (value && !copy) {
        t->nomem = true;
        return NULL;
    }
    *b = (bucket){.used = true, .value = copy, .last_individual = -1, .last_study = -1};
    t->n[key]++;
    return b;
}

/* One series of a value: its individual and study (-1: not counted), its
 * images and bytes. */
static void tally_add(tally *t, int key, const char *value, long long individual,
                      long long study, long long images, long long bytes)
{
    bucket *b = tally_bucket(t, key, value);
    if (!b)
        return;
    if (individual >= 0 && individual != b->last_individual) {
        b->individuals++;
        b->last_individual = individual;
    }
    if (study >= 0 && study != b->last_study) {
        b->studies++;
        b->last_study = study;
    }
    b->series++;
    b->images += images;
    b->bytes += bytes;
}

static long long number(const char *s)
{
    return s ? atoll(s) : 0;
}

/* more first, then by value (the unknown first) */
static int bucket_order(const bucket *a, const bucket *b, long long na, long long nb)
{
    if (na != nb)
        return na > nb ? -1 : 1;
    if (!a->value || !b->value)
        return (a->value != NULL) - (b->value != NULL);
    return strcmp(a->value, b->value);
}

static int by_series(const void *x, const void *y)
{
    const bucket *a = *(const bucket *const *)x, *b = *(const bucket *const *)y;
    return bucket_order(a, b, a->series, b->series);
}

static int by_images(const void *x, const void *y)
{
    const bucket *a = *(const bucket *const *)x, *b = *(const bucket *const *)y;
    return bucket_order(a, b, a->images, b->images);
}

/* The buckets of a key, sorted by their series or their images: an array
 * to free, or NULL (nomem set). */
static bucket **tally_sorted(tally *t, int key, bool images, size_t *n)
{
    bucket **v = malloc((t->n[key] + 1) * sizeof *v);
    *n = 0;
    if (!v) {
        t->nomem = true;
        return NULL;
    }
    for (size_t k = 0; k < t->cap[key]; k++)
        if (t->slots[key][k].used)
            v[(*n)++] = &t->slots[key][k];
    qsort(v, *n, sizeof *v, images ? by_images : by_series);
    return v;
}

/* ---- search ----------------------------------------------------------------------- */

typedef enum facet_id {
    F_MODALITY,
    F_BODY_PART,
    F_SEX,
    F_AGE,
    F_DISEASE,
    F_COLLECTION,
} facet_id;

static const struct {
    const char *name;
    const char *value;
} facets[NKEYS] = {
    [F_MODALITY] = {"modality", "r.modality"},
    [F_BODY_PART] = {"body_part", "r.body_part"},
    [F_SEX] = {"sex", "i.sex"},
    [F_AGE] = {"age_band", "s.age_years"},   /* made a band in C */
    [F_DISEASE] = {"disease", "COALESCE(i.disease, c.disease)"},
    [F_COLLECTION] = {"collection", "c.accession"},
};

static bool has_filter(const obia_catalog_query *f, facet_id k)
{
    switch (k) {
    case F_MODALITY: return set(f->modality);
    case F_BODY_PART: return set(f->body_part);
    case F_SEX: return set(f->sex);
    case F_AGE: return f->age_min >= 0 || f->age_max >= 0;
    case F_DISEASE: return set(f->disease);
    case F_COLLECTION: return set(f->collection);
    }
    return false;
}

/* The filter of a facet, as a condition (has_filter true). */
static void facet_filter(catalog_sql *q, const obia_catalog_query *f, facet_id k)
{
    const char *code = k == F_MODALITY ? f->modality : k == F_BODY_PART ? f->body_part : f->sex;
    switch (k) {
    case F_MODALITY:
    case F_BODY_PART:
    case F_SEX:
        catalog_sql_add(q, "UPPER(%s) = UPPER(", facets[k].value);
        catalog_sql_param(q, code);
        catalog_sql_add(q, ")");
        break;
    case F_AGE:
        catalog_sql_add(q, "(1 = 1");
        if (f->age_min >= 0) {
            catalog_sql_add(q, " AND s.age_years >= CAST(");
            catalog_sql_paramf(q, "%d", f->age_min);
            catalog_sql_add(q, " AS INTEGER)");
        }
        if (f->age_max >= 0) {
            catalog_sql_add(q, " AND s.age_years <= CAST(");
            catalog_sql_paramf(q, "%d", f->age_max);
            catalog_sql_add(q, " AS INTEGER)");
        }
        catalog_sql_add(q, ")");
        break;
    case F_DISEASE:
        catalog_sql_add(q, "(LOWER(i.disease) LIKE LOWER(");
        catalog_sql_like(q, "%", f->disease, false, "%");
        catalog_sql_add(q, ") ESCAPE '\\' OR LOWER(c.disease) LIKE LOWER(");
        catalog_sql_like(q, "%", f->disease, false, "%");
        catalog_sql_add(q, ") ESCAPE '\\')");
        break;
    case F_COLLECTION:
        catalog_sql_add(q, "c.accession = ");
        catalog_sql_param(q, f->collection);
        break;
    }
}

/* The conditions no facet lifts: the text and what the public sees. */
static void common_filter(catalog_sql *q, const obia_catalog_query *f)
{
    if (set(f->text)) {
        /* an accession or a UID exactly, or a part of the descriptions; what
         * is of a study or a collection is looked at once, not per series */
        catalog_sql_add(q, " AND (r.series_uid = ");
        catalog_sql_param(q, f->text);
        catalog_sql_add(q, " OR LOWER(r.description) LIKE LOWER(");
        catalog_sql_like(q, "%", f->text, false, "%");
        catalog_sql_add(q, ") ESCAPE '\\' OR s.id IN (SELECT x.id FROM study x WHERE "
                           "x.accession = ");
        catalog_sql_param(q, f->text);
        catalog_sql_add(q, " OR x.study_uid = ");
        catalog_sql_param(q, f->text);
        catalog_sql_add(q, " OR LOWER(x.description) LIKE LOWER(");
        catalog_sql_like(q, "%", f->text, false, "%");
        catalog_sql_add(q, ") ESCAPE '\\') OR i.id IN (SELECT x.id FROM individual x WHERE "
                           "x.accession = ");
        catalog_sql_param(q, f->text);
        catalog_sql_add(q, ") OR c.id IN (SELECT x.id FROM collection x WHERE x.accession = ");
        catalog_sql_param(q, f->text);
        catalog_sql_add(q, " OR LOWER(x.title) LIKE LOWER(");
        catalog_sql_like(q, "%", f->text, false, "%");
        catalog_sql_add(q, ") ESCAPE '\\'))");
    }
    if (f->public_only)
        catalog_sql_add(q, PUBLIC_SERIES);
}

/* Every condition of a query, after a WHERE. */
static void search_where(catalog_sql *q, const obia_catalog_query *f)
{
    for (int k = 0; k < NKEYS; k++)
        if (has_filter(f, (facet_id)k)) {
            catalog_sql_add(q, " AND ");
            facet_filter(q, f, (facet_id)k);
        }
    common_filter(q, f);
}

bool obia_catalog_search(obia_catalog *c, const obia_catalog_query *f, obia_row_fn fn, void *ctx,
                         obia_error *err)
{
    if (!check_page(f->limit, f->offset, err))
        return false;
    catalog_sql q;
    catalog_sql_init(&q);
    catalog_sql_add(&q, "SELECT c.accession AS collection, i.accession AS individual, "
                        "s.accession AS study, r.series_uid, r.modality, r.body_part, "
                        "r.description AS series_description, s.description AS "
                        "study_description, s.study_date, s.age_years AS age, i.sex, i.disease, "
                        "r.images, r.bytes, r.review_state " SERIES_IN_ORDER);
    search_where(&q, f);
    catalog_sql_add(&q, " ORDER BY c.id, i.id, s.id, r.series_number, r.id");
    catalog_sql_page(&q, f->limit, f->offset);
    bool ok = catalog_sql_run(c, &q, fn, ctx, NULL, err);
    catalog_sql_free(&q);
    return ok;
}

bool obia_catalog_search_count(obia_catalog *c, const obia_catalog_query *f, long *total,
                               obia_error *err)
{
    catalog_sql q;
    catalog_sql_init(&q);
    catalog_sql_add(&q, "SELECT COUNT(*) " SERIES_JOINS "WHERE 1 = 1");
    search_where(&q, f);
    bool ok = catalog_sql_count(c, &q, total, err);
    catalog_sql_free(&q);
    return ok;
}

/* The value of a facet as the rows of the pass have it: ages in years
 * become ten-year bands (40-49). */
static const char *facet_value(int k, const char *raw, char band[48])
{
    if (k != F_AGE || !raw)
        return raw;
    long years = atol(raw) / 10 * 10;
    snprintf(band, 48, "%ld-%ld", years, years + 9);
    return band;
}

/* Facets: a row holds the six values, then whether it passes each filter
 * of the query (of those it has) */
typedef struct facet_pass {
    tally t;
    int filter_col[NKEYS];      /* the column of a facet's filter, or -1 */
} facet_pass;

static bool facet_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    facet_pass *p = ctx;
    (void)names;
    (void)n;
    int failed = 0, failed_key = -1;
    for (int k = 0; k < NKEYS; k++)
        if (p->filter_col[k] >= 0 && !same(values[p->filter_col[k]], "1")) {
            failed++;
            failed_key = k;
        }
    /* a row counts for the facets whose own filter is the only one it fails,
     * or for every facet when it fails none */
    char band[48];
    for (int k = 0; k < NKEYS && failed <= 1; k++)
        if (values[k] && (failed == 0 || failed_key == k))
            tally_add(&p->t, k, facet_value(k, values[k], band), -1, -1, 0, 0);
    return !p->t.nomem;
}

static bool emit_row(obia_row_fn fn, void *ctx, int n, const char *const *names,
                     const char *const *values, bool *stop)
{
    if (!*stop && !fn(ctx, n, names, values))
        *stop = true;
    return !*stop;
}

bool obia_catalog_facets(obia_catalog *c, const obia_catalog_query *f, obia_row_fn fn, void *ctx,
                         obia_error *err)
{
    facet_pass p = {.t = {0}};
    catalog_sql q;
    catalog_sql_init(&q);
    catalog_sql_add(&q, "SELECT ");
    for (int k = 0; k < NKEYS; k++)
        catalog_sql_add(&q, "%s, ", facets[k].value);
    int col = NKEYS;
    for (int k = 0; k < NKEYS; k++) {
        p.filter_col[k] = has_filter(f, (facet_id)k) ? col++ : -1;
        if (p.filter_col[k] >= 0) {
            catalog_sql_add(&q, "CASE WHEN ");
            facet_filter(&q, f, (facet_id)k);
            catalog_sql_add(&q, " THEN 1 ELSE 0 END, ");
        }
    }
    catalog_sql_add(&q, "1 " SERIES_JOINS "WHERE 1 = 1");
    common_filter(&q, f);
    bool ok = catalog_sql_run(c, &q, facet_row, &p, NULL, err);
    catalog_sql_free(&q);
    if (ok && p.t.nomem)
        ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory counting facets");
    static const char *const names[] = {"facet", "value", "series"};
    bool stop = false;
    for (int k = 0; ok && !stop && k < NKEYS; k++) {
        size_t nb;
        bucket **v = tally_sorted(&p.t, k, false, &nb);
        if (!v)
            ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory counting facets");
        for (size_t b = 0; ok && b < nb; b++) {
            char series[24];
            snprintf(series, sizeof series, "%lld", v[b]->series);
            const char *values[] = {facets[k].name, v[b]->value, series};
            if (!emit_row(fn, ctx, 3, names, values, &stop))
                break;
        }
        free(v);
    }
    tally_free(&p.t);
    return ok;
}

static bool stats_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    tally *t = ctx;
    (void)n;
    (void)names;
    char band[48];
    long long individual = number(values[0]), study = number(values[1]);
    long long images = number(values[2]), bytes = number(values[3]);
    for (int k = 0; k < NKEYS; k++)
        tally_add(t, k, facet_value(k, values[4 + k], band), individual, study, images, bytes);
    return !t->nomem;
}

bool obia_catalog_stats(obia_catalog *c, const char *collection, bool public_only, obia_row_fn fn,
                        void *ctx, obia_error *err)
{
    tally t = {0};
    catalog_sql q;
    catalog_sql_init(&q);
    catalog_sql_add(&q, "SELECT i.id, s.id, r.images, r.bytes");
    for (int k = 0; k < NKEYS; k++)
        catalog_sql_add(&q, ", %s", facets[k].value);
    catalog_sql_add(&q, " " SERIES_IN_ORDER);
    if (set(collection)) {
        catalog_sql_add(&q, " AND c.accession = ");
        catalog_sql_param(&q, collection);
    }
    if (public_only)
        catalog_sql_add(&q, PUBLIC_SERIES);
    catalog_sql_add(&q, " ORDER BY c.id, i.id, s.id");
    bool ok = catalog_sql_run(c, &q, stats_row, &t, NULL, err);
    catalog_sql_free(&q);
    if (ok && t.nomem)
        ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory counting");
    static const char *const names[] = {"facet", "value", "individuals", "studies", "series",
                                        "images"};
    bool stop = false;
    for (int k = 0; ok && !stop && k < NKEYS; k++) {
        size_t nb;
        bucket **v = tally_sorted(&t, k, true, &nb);
        if (!v)
            ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory counting");
        for (size_t b = 0; ok && b < nb; b++) {
            char num[4][24];
            snprintf(num[0], sizeof num[0], "%lld", v[b]->individuals);
            snprintf(num[1], sizeof num[1], "%lld", v[b]->studies);
            snprintf(num[2], sizeof num[2], "%lld", v[b]->series);
            snprintf(num[3], sizeof num[3], "%lld", v[b]->images);
            const char *values[] = {facets[k].name, v[b]->value, num[0], num[1], num[2], num[3]};
            if (!emit_row(fn, ctx, 6, names, values, &stop))
                break;
        }
        free(v);
    }
    tally_free(&t);
    return ok;
}

/* ---- collections ---------------------------------------------------------------------- */

/* The counts of the page's collections (key 0: by accession) and their
 * modalities (key 1: accession and modality) */
static bool collection_series_row(void *ctx, int n, const char *const *names,
                                  const char *const *values)
{
    tally *t = ctx;
    (void)n;
    (void)names;
    tally_add(t, 0, values[0], number(values[1]), number(values[2]), number(values[3]),
              number(values[4]));
    if (values[0] && values[5]) {
        char key[256];
        snprintf(key, sizeof key, "%s\n%s", values[0], values[5]);
        tally_add(t, 1, key, -1, -1, 0, 0);
    }
    return !t->nomem;
}

typedef struct collection_rows {
    tally *t;
    bool public_only;
    obia_row_fn fn;
    void *ctx;
    char *modalities;           /* of the row being handed on */
    size_t modalities_cap;
} collection_rows;

/* The modalities of a collection, sorted, comma-separated. */
static const char *modalities_of(collection_rows *r, const char *accession)
{
    size_t nb, len = 0, prefix = strlen(accession);
    bucket **v = tally_sorted(r->t, 1, false, &nb);
    if (!v)
        return NULL;
    const char **names = malloc((nb + 1) * sizeof *names);
    size_t nn = 0;
    for (size_t b = 0; names && b < nb; b++)
        if (strncmp(v[b]->value, accession, prefix) == 0 && v[b]->value[prefix] == '\n') {
            names[nn++] = v[b]->value + prefix + 1;
            len += strlen(v[b]->value + prefix + 1) + 1;
        }
    free(v);
    if (!names) {
        r->t->nomem = true;
        return NULL;
    }
    for (size_t a = 1; a < nn; a++)   /* few: insertion sort */
        for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
            const char *x = names[b];
            names[b] = names[b - 1];
            names[b - 1] = x;
        }
    if (len + 1 > r->modalities_cap) {
        char *m = realloc(r->modalities, len + 1);
        if (!m) {
            free(names);
            r->t->nomem = true;
            return NULL;
        }
        r->modalities = m;
        r->modalities_cap = len + 1;
    }
    char *o = r->modalities;
    *o = '\0';
    for (size_t k = 0; k < nn; k++)
        o = stpcpy(stpcpy(o, k ? "," : ""), names[k]);
    free(names);
    return nn ? r->modalities : NULL;
}

/* A collection's row with its counts added: the page query has the
 * collection's columns (and, counting all, its individuals and studies). */
static bool collection_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    collection_rows *r = ctx;
    static const char *const counted[] = {"individuals", "studies", "series", "images", "bytes",
                                          "modalities"};
    const char *all_names[32], *all_values[32];
    char num[5][24];
    int base = r->public_only ? n : n - 2, m = 0;
    if (base < 1 || base + 6 > 32)
        return false;
    bucket *b = tally_bucket(r->t, 0, values[0]);
    if (!b)
        return false;
    for (; m < base; m++) {
        all_names[m] = names[m];
        all_values[m] = values[m];
    }
    long long counts[5] = {b->individuals, b->studies, b->series, b->images, b->bytes};
    if (!r->public_only) {
        counts[0] = values[base] ? atoll(values[base]) : 0;
        counts[1] = values[base + 1] ? atoll(values[base + 1]) : 0;
    }
    for (int k = 0; k < 5; k++) {
        snprintf(num[k], sizeof num[k], "%lld", counts[k]);
        all_names[m] = counted[k];
        all_values[m++] = num[k];
    }
    all_names[m] = counted[5];
    all_values[m++] = modalities_of(r, values[0]);
    if (r->t->nomem)
        return false;
    return r->fn(r->ctx, m, all_names, all_values);
}

bool obia_catalog_collection_list(obia_catalog *c, const obia_catalog_page *p, obia_row_fn fn,
                                  void *ctx, long *total, obia_error *err)
{
    obia_catalog_page all = {0, 0, false};
    if (!p)
        p = &all;
    if (!check_page(p->limit, p->offset, err))
        return false;
    const char *released = p->public_only ? " WHERE c.status = 'released'" : "";
    catalog_sql q;
    catalog_sql_init(&q);
    catalog_sql_add(&q, "SELECT COUNT(*) FROM collection c%s", released);
    bool ok = !total || catalog_sql_count(c, &q, total, err);
    catalog_sql_free(&q);

    /* the series of the page's collections, counted in one pass */
    tally t = {0};
    catalog_sql_init(&q);
    catalog_sql_add(&q, "SELECT c.accession, i.id, s.id, r.images, r.bytes, r.modality "
                        SERIES_IN_ORDER " AND c.id IN (SELECT c.id FROM collection c%s "
                        "ORDER BY c.id",
                    released);
    catalog_sql_page(&q, p->limit, p->offset);
    catalog_sql_add(&q, ")%s ORDER BY c.id, i.id, s.id", p->public_only ? VISIBLE : "");
    ok = ok && catalog_sql_run(c, &q, collection_series_row, &t, NULL, err);
    catalog_sql_free(&q);

    /* then the page, with the counts */
    collection_rows r = {&t, p->public_only, fn, ctx, NULL, 0};
    catalog_sql_init(&q);
    catalog_sql_add(&q, "SELECT c.accession, c.title, c.description, c.keywords, c.submitter, "
                        "c.access, c.disease, c.bioproject, c.status, c.created, c.released");
    if (!p->public_only)
        /* every individual and study, with series or not */
        catalog_sql_add(&q, ", (SELECT COUNT(*) FROM individual i WHERE i.collection_id = c.id), "
                            "(SELECT COUNT(*) FROM individual i JOIN study s ON s.individual_id "
                            "= i.id WHERE i.collection_id = c.id)");
    catalog_sql_add(&q, " FROM collection c%s ORDER BY c.id", released);
    catalog_sql_page(&q, p->limit, p->offset);
    ok = ok && catalog_sql_run(c, &q, collection_row, &r, NULL, err);
    catalog_sql_free(&q);
    if (ok && t.nomem)
        ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory counting collections");
    free(r.modalities);
    tally_free(&t);
    return ok;
}

/* ---- objects by key ------------------------------------------------------------------ */

typedef enum object_kind {
    O_COLLECTION,
    O_INDIVIDUAL,
    O_STUDY,
    O_SERIES,
    O_IMAGE,
} object_kind;

typedef struct object {
    object_kind kind;
    char id[24];          /* the row's id */
    bool released;        /* its collection */
    bool visible;         /* the public may see it */
} object;

static bool take_object(void *ctx, int n, const char *const *names, const char *const *values)
{
    object *o = ctx;
    (void)names;
    if (n >= 3) {
        snprintf(o->id, sizeof o->id, "%s", values[0] ? values[0] : "");
        o->released = values[1] && strcmp(values[1], "1") == 0;
        o->visible = values[2] && strcmp(values[2], "1") == 0;
    }
    return false;
}

/* An accession: prefix then only digits. */
static bool accession_of(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(key, prefix, n) != 0 || !key[n])
        return false;
    for (const char *p = key + n; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    return true;
}

#define RELEASED "CASE WHEN c.status = 'released' THEN 1 ELSE 0 END"
#define HAS_VISIBLE(where)                                                                    \
    "CASE WHEN c.status = 'released' AND EXISTS (SELECT 1 FROM " where                       \
    " AND r.review_state = 'visible') THEN 1 ELSE 0 END"

/* The object a key names: its kind, id and visibility. NOTFOUND if none. */
static bool find_object(obia_catalog *c, const char *key, object *o, obia_error *err)
{
    static const struct {
        object_kind kind;
        const char *prefix;   /* accessions; NULL: a UID */
        const char *sql;
    } tries[] = {
        {O_COLLECTION, "OBIA",
         "SELECT c.id, " RELEASED ", " HAS_VISIBLE(
             "individual i JOIN study s ON s.individual_id = i.id JOIN series r ON r.study_id = "
             "s.id WHERE i.collection_id = c.id") " FROM collection c WHERE c.accession = ?"},
        {O_INDIVIDUAL, "I",
         "SELECT i.id, " RELEASED ", " HAS_VISIBLE(
             "study s JOIN series r ON r.study_id = s.id WHERE s.individual_id = i.id") " FROM "
         "individual i JOIN collection c ON c.id = i.collection_id WHERE i.accession = ?"},
        {O_STUDY, "S",
         "SELECT s.id, " RELEASED ", " HAS_VISIBLE("series r WHERE r.study_id = s.id") " FROM "
         "study s JOIN individual i ON i.id = s.individual_id JOIN collection c ON c.id = "
         "i.collection_id WHERE s.accession = ?"},
        {O_STUDY, NULL,
         "SELECT s.id, " RELEASED ", " HAS_VISIBLE("series r WHERE r.study_id = s.id") " FROM "
         "study s JOIN individual i ON i.id = s.individual_id JOIN collection c ON c.id = "
         "i.collection_id WHERE s.study_uid = ?"},
        {O_SERIES, NULL,
         "SELECT r.id, " RELEASED ", CASE WHEN c.status = 'released' AND r.review_state = "
         "'visible' THEN 1 ELSE 0 END " SERIES_JOINS "WHERE r.series_uid = ?"},
        {O_IMAGE, NULL,
         "SELECT m.id, " RELEASED ", CASE WHEN c.status = 'released' AND r.review_state = "
         "'visible' THEN 1 ELSE 0 END FROM image m JOIN series r ON r.id = m.series_id JOIN "
         "study s ON s.id = r.study_id JOIN individual i ON i.id = s.individual_id JOIN "
         "collection c ON c.id = i.collection_id WHERE m.sop_instance_uid = ?"},
    };
    if (!key || !*key)
        return obia_error_set(err, OBIA_E_ARG, "no accession or UID given");
    bool accession = accession_of(key, "OBIA") || accession_of(key, "I") || accession_of(key, "S");
    for (size_t k = 0; k < sizeof tries / sizeof tries[0]; k++) {
        if (tries[k].prefix ? !accession_of(key, tries[k].prefix) : accession)
            continue;
        bool any = false;
        o->kind = tries[k].kind;
        if (!c->be->query(c->db, false, tries[k].sql, (const char *[]){key}, 1, take_object, o,
                          &any, err))
            return false;
        if (any)
            return true;
    }
    return obia_error_set(err, OBIA_E_NOTFOUND,
                          "no collection, individual, study, series or image '%s'", key);
}

bool obia_catalog_is_public(obia_catalog *c, const char *key, bool *pub, obia_error *err)
{
    object o;
    *pub = false;
    if (!find_object(c, key, &o, err))
        return false;
    *pub = o.visible;
    return true;
}

/* ---- children ------------------------------------------------------------------------- */

/* The children of each kind of object: which rows (a condition on the
 * parent's id, then the public's), their columns and order. */
static const struct {
    const char *from;
    const char *parent;
    const char *visible;
    const char *key;
    const char *order;
    bool counted;         /* columns with counts: computed for the page alone */
} kinds[] = {
    [O_COLLECTION] = {"individual i", "i.collection_id",
                      " AND EXISTS (SELECT 1 FROM study s JOIN series r ON r.study_id = s.id "
                      "WHERE s.individual_id = i.id" VISIBLE ")",
                      "i.id", "i.id", true},
    [O_INDIVIDUAL] = {"study s", "s.individual_id",
                      " AND EXISTS (SELECT 1 FROM series r WHERE r.study_id = s.id" VISIBLE ")",
                      "s.id",
                      "CASE WHEN s.study_date IS NULL THEN 1 ELSE 0 END, s.study_date, s.id", true},
    [O_STUDY] = {"series r", "r.study_id", VISIBLE, "r.id", "r.series_number, r.id", false},
    [O_SERIES] = {"image m", "m.series_id", "", "m.id", "m.instance_number, m.id", false},
};

static void children_columns(catalog_sql *q, obia_catalog *c, object_kind kind, bool public_only)
{
    const char *vis = public_only ? VISIBLE : "";
    switch (kind) {
    case O_COLLECTION:
        catalog_sql_add(q, "SELECT i.accession, i.sex, i.age, i.disease, ");
        if (public_only)
            catalog_sql_add(q, "(SELECT COUNT(*) FROM study s WHERE s.individual_id = i.id AND "
                               "EXISTS (SELECT 1 FROM series r WHERE r.study_id = s.id" VISIBLE
                               ")) AS studies, ");
        else
            catalog_sql_add(q, "(SELECT COUNT(*) FROM study s WHERE s.individual_id = i.id) AS "
                               "studies, ");
        catalog_sql_add(q, "(SELECT COUNT(*) FROM study s JOIN series r ON r.study_id = s.id "
                           "WHERE s.individual_id = i.id%s) AS series, (SELECT "
                           "COALESCE(SUM(r.images), 0) FROM study s JOIN series r ON r.study_id "
                           "= s.id WHERE s.individual_id = i.id%s) AS images ",
                        vis, vis);
        break;
    case O_INDIVIDUAL:
        catalog_sql_add(q, "SELECT s.accession, s.study_uid, s.study_date, s.description, "
                           "s.age_at_study, (SELECT %s(t.x, ',') FROM (SELECT DISTINCT "
                           "r.modality AS x FROM series r WHERE r.study_id = s.id AND r.modality "
                           "IS NOT NULL%s ORDER BY 1) t) AS modalities, (SELECT COUNT(*) FROM "
                           "series r WHERE r.study_id = s.id%s) AS series, (SELECT "
                           "COALESCE(SUM(r.images), 0) FROM series r WHERE r.study_id = s.id%s) "
                           "AS images ",
                        c->be->string_agg, vis, vis, vis);
        break;
    case O_STUDY:
        catalog_sql_add(q, "SELECT r.series_uid, r.modality, r.body_part, r.description, "
                           "r.series_number, r.images, r.bytes, r.review_state ");
        break;
    case O_SERIES:
        catalog_sql_add(q, "SELECT m.sop_instance_uid, m.sop_class_uid, CASE WHEN "
                           "m.has_instance_number = 1 THEN m.instance_number END AS "
                           "instance_number, m.rows_ AS rows, m.columns_ AS columns, m.frames, "
                           "m.transfer_syntax, m.size ");
        break;
    case O_IMAGE:
        break;
    }
}

/* WHERE: the children of the parent, and with public_only those visible. */
static void children_where(catalog_sql *q, const object *o, bool public_only)
{
    catalog_sql_add(q, " WHERE %s = CAST(", kinds[o->kind].parent);
    catalog_sql_param(q, o->id);
    catalog_sql_add(q, " AS INTEGER)%s", public_only ? kinds[o->kind].visible : "");
}

bool obia_catalog_children(obia_catalog *c, const char *key, const obia_catalog_page *p,
                           obia_row_fn fn, void *ctx, long *total, obia_error *err)
{
    obia_catalog_page all = {0, 0, false};
    if (!p)
        p = &all;
    object o;
    if (!check_page(p->limit, p->offset, err) || !find_object(c, key, &o, err))
        return false;
    /* what the public may not see is not there; a released collection is
     * listed even before any of its series is visible */
    if (p->public_only && !(o.kind == O_COLLECTION ? o.released : o.visible))
        return obia_error_set(err, OBIA_E_NOTFOUND,
                              "no collection, individual, study, series or image '%s'", key);
    if (o.kind == O_IMAGE)
        return obia_error_set(err, OBIA_E_ARG, "%s is an image, which has no children", key);

    catalog_sql q;
    catalog_sql_init(&q);
    catalog_sql_add(&q, "SELECT COUNT(*) FROM %s", kinds[o.kind].from);
    children_where(&q, &o, p->public_only);
    bool ok = !total || catalog_sql_count(c, &q, total, err);
    catalog_sql_free(&q);
    if (!ok)
        return false;

    catalog_sql_init(&q);
    children_columns(&q, c, o.kind, p->public_only);
    if (kinds[o.kind].counted) {
        /* the page first, its counts after */
        catalog_sql_add(&q, "FROM (SELECT %s AS k FROM %s", kinds[o.kind].key, kinds[o.kind].from);
        children_where(&q, &o, p->public_only);
        catalog_sql_add(&q, " ORDER BY %s", kinds[o.kind].order);
        catalog_sql_page(&q, p->limit, p->offset);
        catalog_sql_add(&q, ") p JOIN %s ON %s = p.k ORDER BY %s", kinds[o.kind].from,
                        kinds[o.kind].key, kinds[o.kind].order);
    } else {
        catalog_sql_add(&q, "FROM %s", kinds[o.kind].from);
        children_where(&q, &o, p->public_only);
        catalog_sql_add(&q, " ORDER BY %s", kinds[o.kind].order);
        catalog_sql_page(&q, p->limit, p->offset);
    }
    ok = catalog_sql_run(c, &q, fn, ctx, NULL, err);
    catalog_sql_free(&q);
    return ok;
}
