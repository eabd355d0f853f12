/* Unit tests of the archive configuration (lib/archive) and the catalog
 * (lib/catalog, SQLite backend). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/archive.h"
#include "obia/catalog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/obia-catalog-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_conf(const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/test.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void conf_error(const char *text, const char *expect)
{
    obia_error err;
    obia_error_clear(&err);
    obia_config *c = obia_config_load(write_conf(text), &err);
    if (c)
        fail_msg("accepted: %s", text);
    if (!strstr(err.message, expect))
        fail_msg("error '%s' does not say '%s'", err.message, expect);
}

static void test_config(void **state)
{
    (void)state;
    obia_error err;
    obia_error_clear(&err);
    obia_config *c = obia_config_load(write_conf("[ingest]\njobs = 3\n\n[store]\nreplicas = /a, b\n"), &err);
    assert_non_null(c);
    assert_int_equal(obia_config_int(c, "ingest", "jobs"), 3);
    assert_int_equal(obia_config_int(c, "ingest", "batch"), 256);   /* default */
    assert_true(obia_config_is_set(c, "ingest", "jobs"));
    assert_false(obia_config_is_set(c, "ingest", "batch"));
    assert_string_equal(obia_config_string(c, "store", "replicas"), "/a, b");
    assert_string_equal(obia_config_string(c, "deid", "profile"), "obia");
    /* written and read back: the same values */
    char path[128];
    snprintf(path, sizeof path, "%s/again.conf", dir);
    FILE *f = fopen(path, "w");
    assert_true(obia_config_write(c, f));
    fclose(f);
    obia_config *d = obia_config_load(path, &err);
    assert_non_null(d);
    assert_int_equal(obia_config_int(d, "ingest", "jobs"), 3);
    assert_string_equal(obia_config_string(d, "store", "replicas"), "/a, b");
    obia_config_free(c);
    obia_config_free(d);

    conf_error("[ingest]\nthreads = 2\n", "test.conf:2: unknown key [ingest] threads");
    conf_error("[nosuch]\nx = 1\n", "test.conf:2: unknown section [nosuch] x");
    conf_error("[ingest]\njobs = many\n", "test.conf:2: [ingest] jobs: 'many' is not a whole number");
    conf_error("[ingest]\njobs = 999\n", "is not between 0 and 256");
    conf_error("[deid]\nprofile = fancy\n", "'fancy' is not one of obia|basic|none");
    conf_error("[ingest]\njobs = 1\njobs = 2\n", "test.conf:3: [ingest] jobs is set twice");
    conf_error("[ingest]\nthis line has no equals sign\n", "test.conf:2: not a line of INI");
    obia_config_load("/nonexistent/obia.conf", &err);
    assert_non_null(strstr(err.message, "No such file"));
}

static bool count_rows(void *ctx, int n, const char *const *names, const char *const *values)
{
    (void)n; (void)names; (void)values;
    (*(int *)ctx)++;
    return true;
}

/* The value of column name in the last row seen. */
typedef struct last_row {
    char names[64][64];
    char values[64][256];
    int n;
    int rows;
} last_row;

static bool keep_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    last_row *r = ctx;
    r->n = n < 64 ? n : 64;
    for (int i = 0; i < r->n; i++) {
        snprintf(r->names[i], sizeof r->names[i], "%s", names[i]);
        snprintf(r->values[i], sizeof r->values[i], "%s", values[i] ? values[i] : "");
    }
    r->rows++;
    return true;
}

static const char *col(const last_row *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->names[i], name) == 0)
            return r->values[i];
    fail_msg("no column %s", name);
    return NULL;
}

static obia_catalog_image image(const char *coll, const char *ind, const char *study,
                                const char *series, const char *sop, const char *hash,
                                const char *modality, const char *sex, const char *age)
{
    obia_catalog_image im = {
        .collection = coll, .individual = ind, .sex = sex, .study_uid = study,
        .study_date = "20190101", .study_description = "CT chest", .age_at_study = age,
        .series_uid = series, .modality = modality, .body_part = "CHEST",
        .series_description = "axial", .series_number = 1,
        .sop_class_uid = "1.2.840.10008.5.1.4.1.1.2", .sop_instance_uid = sop,
        .instance_number = 1, .object_hash = hash, .size = 1000,
        .transfer_syntax = "1.2.840.10008.1.2.1", .rows = 512, .columns = 512, .frames = 1};
    return im;
}

static void test_catalog(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    obia_error err;
    obia_error_clear(&err);
    assert_null(obia_catalog_open(path, false, &err));   /* not created without create */
    obia_catalog *c = obia_catalog_open(path, true, &err);
    assert_non_null(c);
    assert_int_equal(obia_catalog_schema_version(c), 4);

    char a1[16], a2[16];
    obia_collection_info in = {.title = "Ovarian", .disease = "ovarian cancer", .access = "controlled"};
    assert_true(obia_catalog_collection_create(c, &in, a1, &err));
    in.title = "Lung";
    in.disease = "lung adenocarcinoma";
    in.access = NULL;
    assert_true(obia_catalog_collection_create(c, &in, a2, &err));
    assert_string_equal(a1, "OBIA0001");
    assert_string_equal(a2, "OBIA0002");
    in.access = "public";
    assert_false(obia_catalog_collection_create(c, &in, a2, &err));
    in.access = NULL;
    in.title = "";
    assert_false(obia_catalog_collection_create(c, &in, a2, &err));
    char profile[16];
    obia_error_clear(&err);
    assert_true(obia_catalog_collection_profile(c, "OBIA0001", profile, &err));
    assert_string_equal(profile, "obia");
    assert_false(obia_catalog_collection_profile(c, "OBIA0099", profile, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);

    char i1[16], i2[16], i3[16];
    obia_error_clear(&err);
    assert_true(obia_catalog_begin(c, &err));
    assert_true(obia_catalog_individual_new(c, "OBIA0001", i1, &err));
    assert_true(obia_catalog_individual_new(c, "OBIA0001", i2, &err));
    assert_true(obia_catalog_individual_new(c, "OBIA0002", i3, &err));
    assert_string_equal(i1, "I000001");
    assert_string_equal(i3, "I000003");
    obia_catalog_added added;
    obia_catalog_image im = image("OBIA0001", i1, "2.25.1", "2.25.11", "2.25.111", "aa", "CT", "F", "045Y");
    assert_true(obia_catalog_add_image(c, &im, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_ADDED);
    im.sop_instance_uid = "2.25.112";
    im.object_hash = "ab";
    assert_true(obia_catalog_add_image(c, &im, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_ADDED);
    /* the same instance again: duplicate if the same bytes, conflict if not */
    assert_true(obia_catalog_add_image(c, &im, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_DUPLICATE);
    im.object_hash = "ff";
    assert_true(obia_catalog_add_image(c, &im, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_CONFLICT);
    /* a study cannot change individual */
    obia_catalog_image other = image("OBIA0001", i2, "2.25.1", "2.25.12", "2.25.121", "cc", "CT", "M", "050Y");
    assert_true(obia_catalog_add_image(c, &other, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_OTHER_INDIVIDUAL);
    obia_catalog_image mr = image("OBIA0002", i3, "2.25.3", "2.25.31", "2.25.311", "dd", "MR", "M", "062Y");
    assert_true(obia_catalog_add_image(c, &mr, &added, &err));
    obia_catalog_image bad = image("OBIA0002", i1, "2.25.4", "2.25.41", "2.25.411", "ee", "MR", "M", "062Y");
    assert_false(obia_catalog_add_image(c, &bad, &added, &err));   /* i1 is not in OBIA0002 */
    if (err.code != OBIA_E_NOTFOUND)
        fail_msg("%s", err.message);
    obia_error_clear(&err);
    assert_true(obia_catalog_commit(c, &err));

    /* a rolled back transaction leaves nothing */
    assert_true(obia_catalog_begin(c, &err));
    obia_catalog_image gone = image("OBIA0002", i3, "2.25.5", "2.25.51", "2.25.511", "gg", "PT", "M", "062Y");
    assert_true(obia_catalog_add_image(c, &gone, &added, &err));
    obia_catalog_rollback(c);
    last_row r = {0};
    assert_false(obia_catalog_show(c, "2.25.511", keep_row, &r, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);

    /* clinical fields, known and extra */
    obia_error_clear(&err);
    assert_true(obia_catalog_individual_set(c, i1, "disease", "ovarian serous carcinoma", &err));
    assert_true(obia_catalog_individual_set(c, i1, "smoking", "never", &err));
    assert_false(obia_catalog_individual_set(c, "I999999", "disease", "x", &err));

    /* show: every kind of key */
    memset(&r, 0, sizeof r);
    assert_true(obia_catalog_show(c, i1, keep_row, &r, &err));
    assert_string_equal(col(&r, "kind"), "individual");
    assert_string_equal(col(&r, "sex"), "F");
    assert_string_equal(col(&r, "age"), "45");
    assert_string_equal(col(&r, "disease"), "ovarian serous carcinoma");
    assert_string_equal(col(&r, "extra"), "smoking=never");
    assert_true(obia_catalog_show(c, "S00000001", keep_row, &r, &err));
    assert_string_equal(col(&r, "study_uid"), "2.25.1");
    assert_true(obia_catalog_show(c, "2.25.11", keep_row, &r, &err));
    assert_string_equal(col(&r, "kind"), "series");
    assert_string_equal(col(&r, "images"), "2");
    assert_true(obia_catalog_show(c, "2.25.112", keep_row, &r, &err));
    assert_string_equal(col(&r, "object_hash"), "ab");
    assert_true(obia_catalog_show(c, "OBIA0002", keep_row, &r, &err));
    assert_string_equal(col(&r, "title"), "Lung");

    /* search */
    int n = 0;
    obia_catalog_query q = {.age_min = -1, .age_max = -1};
    assert_true(obia_catalog_search(c, &q, count_rows, &n, &err));
    assert_int_equal(n, 2);
    q.modality = "mr";
    n = 0;
    assert_true(obia_catalog_search(c, &q, count_rows, &n, &err));
    assert_int_equal(n, 1);
    q.modality = NULL;
    q.age_min = 40;
    q.age_max = 50;
    n = 0;
    assert_true(obia_catalog_search(c, &q, keep_row, &r, &err));
    memset(&r, 0, sizeof r);
    assert_true(obia_catalog_search(c, &q, keep_row, &r, &err));
    assert_int_equal(r.rows, 1);
    assert_string_equal(col(&r, "individual"), "I000001");
    q = (obia_catalog_query){.age_min = -1, .age_max = -1, .disease = "ADENO"};
    memset(&r, 0, sizeof r);
    assert_true(obia_catalog_search(c, &q, keep_row, &r, &err));
    assert_int_equal(r.rows, 1);
    assert_string_equal(col(&r, "collection"), "OBIA0002");
    q = (obia_catalog_query){.age_min = -1, .age_max = -1, .sex = "F", .collection = "OBIA0002"};
    n = 0;
    assert_true(obia_catalog_search(c, &q, count_rows, &n, &err));
    assert_int_equal(n, 0);

    /* stats: six facets */
    n = 0;
    assert_true(obia_catalog_stats(c, NULL, false, count_rows, &n, &err));
    assert_true(n >= 6);
    obia_catalog_close(c);

    /* reopened: the data and the counters survive */
    c = obia_catalog_open(path, false, &err);
    assert_non_null(c);
    char a3[16];
    in = (obia_collection_info){.title = "Third"};
    assert_true(obia_catalog_collection_create(c, &in, a3, &err));
    assert_string_equal(a3, "OBIA0003");
    n = 0;
    assert_true(obia_catalog_collections(c, count_rows, &n, &err));
    assert_int_equal(n, 3);
    obia_catalog_close(c);
}

/* ---- quality control, review, release, audit ------------------------------------ */

static int count_of(obia_catalog *c, bool (*list)(obia_catalog *, obia_row_fn, void *, obia_error *))
{
    int n = 0;
    obia_error err;
    obia_error_clear(&err);
    assert_true(list(c, count_rows, &n, &err));
    return n;
}

static obia_catalog *qc_catalog;
static const char *qc_state;

static bool list_review(obia_catalog *c, obia_row_fn fn, void *ctx, obia_error *err)
{
    return obia_catalog_review_list(c, "OBIA0001", qc_state, fn, ctx, err);
}

static bool list_held(obia_catalog *c, obia_row_fn fn, void *ctx, obia_error *err)
{
    return obia_catalog_quarantine_list(c, "OBIA0001", NULL, qc_state, fn, ctx, err);
}

static void test_qc(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    obia_error err;
    obia_error_clear(&err);
    obia_catalog *c = obia_catalog_open(path, true, &err);
    assert_non_null(c);
    qc_catalog = c;
    char acc[16], i1[16], i2[16];
    obia_collection_info in = {.title = "QC"};
    assert_true(obia_catalog_collection_create(c, &in, acc, &err));
    assert_true(obia_catalog_begin(c, &err));
    assert_true(obia_catalog_individual_new(c, acc, i1, &err));
    assert_true(obia_catalog_individual_new(c, acc, i2, &err));
    assert_true(obia_catalog_commit(c, &err));

    /* the study's patient characteristics: a different sex fingerprint is
     * held unless accepted; an unknown one is no conflict */
    obia_catalog_added added;
    obia_catalog_image im = image(acc, i1, "2.25.1", "2.25.11", "2.25.111", "aa", "CT", "F", "045Y");
    im.sex_fp = "f1";
    im.birth_fp = "b1";
    assert_true(obia_catalog_add_image(c, &im, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_ADDED);
    im.sop_instance_uid = "2.25.112";
    im.object_hash = "ab";
    im.sex_fp = "m1";
    assert_true(obia_catalog_add_image(c, &im, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_CHARACTERISTICS);
    im.sex_fp = NULL;
    im.birth_fp = NULL;
    assert_true(obia_catalog_add_image(c, &im, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_ADDED);
    im.sop_instance_uid = "2.25.113";
    im.object_hash = "ac";
    im.birth_fp = "b2";
    im.accept_characteristics = true;
    assert_true(obia_catalog_add_image(c, &im, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_ADDED);
    /* a series of another study, and a series of another individual */
    obia_catalog_image moved = image(acc, i1, "2.25.2", "2.25.11", "2.25.211", "ba", "CT", "F", "045Y");
    assert_true(obia_catalog_add_image(c, &moved, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_SERIES_CONFLICT);
    moved.individual = i2;
    assert_true(obia_catalog_add_image(c, &moved, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_OTHER_INDIVIDUAL);
    /* nothing of the refused images was written: study 2.25.2 does not exist */
    last_row r = {0};
    assert_false(obia_catalog_show(c, "2.25.2", keep_row, &r, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);
    obia_error_clear(&err);
    obia_catalog_image mr = image(acc, i2, "2.25.3", "2.25.31", "2.25.311", "ca", "MR", "M", "050Y");
    assert_true(obia_catalog_add_image(c, &mr, &added, &err));
    assert_int_equal(added, OBIA_CATALOG_ADDED);

    /* the quarantine */
    obia_qc_findings f = {0};
    obia_qc_add(&f, "burned-in", "BurnedInAnnotation is YES");
    obia_qc_add(&f, "no-such-code", "dropped");
    assert_int_equal(f.count, 1);
    obia_catalog_quarantine q = {.collection = acc, .findings = &f, .has_bytes = true,
                                 .sop_instance_uid = "2.25.999", .individual = i1, .who = "ann"};
    char q1[16], q2[16];
    assert_true(obia_catalog_quarantine_add(c, &q, q1, &err));
    assert_string_equal(q1, "Q000001");
    obia_qc_findings g = {0};
    obia_qc_add(&g, "patient-id-missing", "no PatientID");
    obia_qc_add(&g, "pixel-length", "short");
    assert_int_equal(obia_qc_worst(&g), OBIA_QC_ERROR);
    q = (obia_catalog_quarantine){.collection = acc, .findings = &g, .source_ref = "ref1", .who = "ann"};
    assert_true(obia_catalog_quarantine_add(c, &q, q2, &err));
    q.collection = "OBIA0099";
    assert_false(obia_catalog_quarantine_add(c, &q, q2, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);
    q.collection = acc;
    q.findings = &(obia_qc_findings){0};
    assert_false(obia_catalog_quarantine_add(c, &q, q2, &err));   /* no reason */
    obia_error_clear(&err);
    memset(&r, 0, sizeof r);
    assert_true(obia_catalog_quarantine_get(c, "Q000002", keep_row, &r, &err));
    assert_string_equal(col(&r, "codes"), "patient-id-missing,pixel-length");
    assert_string_equal(col(&r, "severity"), "error");
    assert_string_equal(col(&r, "source_ref"), "ref1");
    assert_string_equal(col(&r, "has_bytes"), "0");
    int n = 0;
    assert_true(obia_catalog_quarantine_list(c, acc, "pixel-length", NULL, count_rows, &n, &err));
    assert_int_equal(n, 1);
    /* a failed repair: new findings */
    obia_qc_findings h = {0};
    obia_qc_add(&h, "burned-in", "Modality US");
    q = (obia_catalog_quarantine){.collection = acc, .findings = &h, .has_bytes = true,
                                  .sop_instance_uid = "2.25.998", .individual = i2, .who = "bo",
                                  .note = "repair: set PatientID"};
    assert_true(obia_catalog_quarantine_refind(c, "Q000002", &q, &err));
    memset(&r, 0, sizeof r);
    assert_true(obia_catalog_quarantine_get(c, "Q000002", keep_row, &r, &err));
    assert_string_equal(col(&r, "severity"), "hold");
    assert_string_equal(col(&r, "has_bytes"), "1");
    n = 0;
    assert_true(obia_catalog_quarantine_findings(c, "Q000002", count_rows, &n, &err));
    assert_int_equal(n, 1);
    /* closing: once */
    assert_true(obia_catalog_quarantine_close(c, "Q000001", "released", "ann", "checked", &err));
    assert_false(obia_catalog_quarantine_close(c, "Q000001", "discarded", "ann", NULL, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    assert_false(obia_catalog_quarantine_close(c, "Q000002", "held", "ann", NULL, &err));
    assert_false(obia_catalog_quarantine_close(c, "Q0x", "discarded", "ann", NULL, &err));
    obia_error_clear(&err);
    assert_false(obia_catalog_quarantine_get(c, "Q000077", keep_row, &r, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);
    obia_error_clear(&err);
    qc_state = "held";
    assert_int_equal(count_of(c, list_held), 1);
    qc_state = "all";
    assert_int_equal(count_of(c, list_held), 2);

    /* series warnings, replaced */
    obia_qc_findings w = {0};
    obia_qc_add(&w, "series-mixed-modality", "CT (1), MR (1)");
    assert_true(obia_catalog_series_findings_set(c, "2.25.11", &w, &err));
    assert_true(obia_catalog_series_findings_set(c, "2.25.11", &w, &err));
    n = 0;
    assert_true(obia_catalog_series_findings(c, acc, NULL, count_rows, &n, &err));
    assert_int_equal(n, 1);
    assert_true(obia_catalog_series_findings_set(c, "2.25.11", NULL, &err));
    n = 0;
    assert_true(obia_catalog_series_findings(c, acc, NULL, count_rows, &n, &err));
    assert_int_equal(n, 0);
    n = 0;
    assert_true(obia_catalog_series_images(c, "2.25.11", count_rows, &n, &err));
    assert_int_equal(n, 3);

    /* review states: all start unreviewed; release refused until reviewed
     * and nothing is held */
    qc_state = "unreviewed";
    assert_int_equal(count_of(c, list_review), 2);
    assert_false(obia_catalog_collection_release(c, acc, false, "ann", NULL, &err));
    assert_non_null(strstr(err.message, "2 unreviewed series and 1 quarantined"));
    long changed = 0;
    assert_false(obia_catalog_review_set(c, "2.25.11", "shown", "ann", NULL, &changed, &err));
    obia_error_clear(&err);
    assert_false(obia_catalog_review_set(c, "2.25.404", "visible", "ann", NULL, &changed, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);
    assert_true(obia_catalog_review_set(c, "S00000001", "visible", "ann", "looked", &changed, &err));
    assert_int_equal(changed, 1);
    assert_true(obia_catalog_review_set(c, acc, "visible", "ann", NULL, &changed, &err));
    assert_int_equal(changed, 1);   /* the other was visible already */
    assert_true(obia_catalog_review_set(c, "2.25.31", "not-visible", "bo", "scout", &changed, &err));
    n = 0;
    assert_true(obia_catalog_review_history(c, "2.25.31", count_rows, &n, &err));
    assert_int_equal(n, 2);
    assert_false(obia_catalog_review_history(c, "2.25.404", count_rows, &n, &err));
    obia_error_clear(&err);
    qc_state = "unreviewed";
    assert_int_equal(count_of(c, list_review), 0);
    /* still one item held */
    assert_false(obia_catalog_collection_release(c, acc, false, "ann", NULL, &err));
    assert_non_null(strstr(err.message, "0 unreviewed series and 1 quarantined"));
    assert_false(obia_catalog_collection_release(c, acc, true, "ann", "", &err));  /* no reason */
    /* public search: nothing before release */
    obia_catalog_query pq = {.age_min = -1, .age_max = -1, .public_only = true};
    n = 0;
    assert_true(obia_catalog_search(c, &pq, count_rows, &n, &err));
    assert_int_equal(n, 0);
    assert_true(obia_catalog_collection_release(c, acc, true, "ann", "deadline", &err));
    assert_false(obia_catalog_collection_release(c, acc, true, "ann", "again", &err));
    n = 0;
    assert_true(obia_catalog_search(c, &pq, count_rows, &n, &err));
    assert_int_equal(n, 1);   /* the visible series, not the not-visible one */

    /* the audit log has every action, newest first */
    n = 0;
    assert_true(obia_catalog_audit_list(c, NULL, 0, count_rows, &n, &err));
    assert_int_equal(n, 8);   /* 2 quarantine, recheck, release, 3 review, release */
    memset(&r, 0, sizeof r);
    assert_true(obia_catalog_audit_list(c, acc, 1, keep_row, &r, &err));
    assert_string_equal(col(&r, "action"), "collection-release");
    assert_non_null(strstr(col(&r, "detail"), "forced with 0 unreviewed series and 1 quarantined"));
    memset(&r, 0, sizeof r);
    assert_true(obia_catalog_audit_list(c, "Q000002", 1, keep_row, &r, &err));
    assert_string_equal(col(&r, "action"), "qc-recheck");
    assert_string_equal(col(&r, "who"), "bo");
    assert_non_null(strstr(col(&r, "detail"), "repair: set PatientID"));
    obia_catalog_close(c);
}

/* A catalog of schema 1 is migrated with its data, and takes the new rows. */
static void test_migration(void **state)
{
    (void)state;
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    snprintf(cmd, sizeof cmd, "cp '%s/../fixtures/catalog-v1.db' '%s'", OBIA_TEST_DATA, path);
    assert_int_equal(system(cmd), 0);
    obia_error err;
    obia_error_clear(&err);
    obia_catalog *c = obia_catalog_open(path, false, &err);
    if (!c)
        fail_msg("%s", err.message);
    assert_int_equal(obia_catalog_schema_version(c), 4);
    last_row r = {0};
    assert_true(obia_catalog_show(c, "OBIA0001", keep_row, &r, &err));
    assert_string_equal(col(&r, "title"), "Version one");
    assert_true(obia_catalog_show(c, "2.25.127029512403005640641126502244824912865", keep_row, &r, &err));
    assert_string_equal(col(&r, "images"), "3");
    qc_state = "unreviewed";
    assert_int_equal(count_of(c, list_review), 2);
    int n = 0;
    assert_true(obia_catalog_series_images(c, "2.25.127029512403005640641126502244824912865",
                                           count_rows, &n, &err));
    assert_int_equal(n, 3);
    /* new accessions continue the old counters */
    char acc[16];
    obia_collection_info in = {.title = "After"};
    assert_true(obia_catalog_collection_create(c, &in, acc, &err));
    assert_string_equal(acc, "OBIA0002");
    obia_qc_findings f = {0};
    obia_qc_add(&f, "unreadable", "x");
    obia_catalog_quarantine q = {.collection = "OBIA0001", .findings = &f};
    char id[16];
    assert_true(obia_catalog_quarantine_add(c, &q, id, &err));
    assert_string_equal(id, "Q000001");
    obia_catalog_close(c);
}

typedef struct query_arg {
    obia_catalog *c;
    const char *key;
    bool found;
    int collections;
} query_arg;

static void *query_thread(void *p)
{
    query_arg *q = p;
    obia_error err;
    obia_error_clear(&err);
    last_row r = {0};
    q->found = obia_catalog_show(q->c, q->key, keep_row, &r, &err);
    q->collections = 0;
    obia_catalog_collections(q->c, count_rows, &q->collections, &err);
    return NULL;
}

/* Queries run on each thread's own read connection: they go on while the
 * writer holds a transaction, and see only what is committed. */
static void test_readers(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    obia_error err;
    obia_error_clear(&err);
    obia_catalog *c = obia_catalog_open(path, true, &err);
    assert_non_null(c);
    char acc[16], ind[16];
    obia_collection_info in = {.title = "Readers"};
    assert_true(obia_catalog_collection_create(c, &in, acc, &err));
    assert_true(obia_catalog_begin(c, &err));
    assert_true(obia_catalog_individual_new(c, acc, ind, &err));
    obia_catalog_image im = image(acc, ind, "2.25.9", "2.25.99", "2.25.999", "h9", "CT", "F", "030Y");
    obia_catalog_added added;
    assert_true(obia_catalog_add_image(c, &im, &added, &err));
    query_arg q[2] = {{c, "2.25.999", true, 0}, {c, "2.25.999", true, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, query_thread, &q[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_false(q[i].found);            /* not committed yet */
        assert_int_equal(q[i].collections, 1);
    }
    assert_true(obia_catalog_commit(c, &err));
    query_thread(&q[0]);
    assert_true(q[0].found);
    obia_catalog_close(c);
}

static void test_archive(void **state)
{
    (void)state;
    char adir[128];
    snprintf(adir, sizeof adir, "%s/arc", dir);
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_archive_init(adir, &err));
    assert_false(obia_archive_init(adir, &err));   /* not twice */
    assert_non_null(strstr(err.message, "already holds an archive"));
    char conf[256];
    snprintf(conf, sizeof conf, "%s/obia.conf", adir);
    /* name two replicas in the written configuration */
    FILE *f = fopen(conf, "r");
    char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    char *line = strstr(text, "replicas = \n");
    assert_non_null(line);
    f = fopen(conf, "w");
    fprintf(f, "%.*sreplicas = copy1, /tmp/elsewhere\n%s", (int)(line - text), text,
            line + strlen("replicas = \n"));
    fclose(f);
    obia_error_clear(&err);
    obia_archive *a = obia_archive_open(adir, &err);
    if (!a)
        fail_msg("%s", err.message);
    size_t n;
    const char *const *rep = obia_archive_replicas(a, &n);
    assert_int_equal(n, 2);
    char want[256];
    snprintf(want, sizeof want, "%s/copy1", adir);
    assert_string_equal(rep[0], want);
    assert_string_equal(rep[1], "/tmp/elsewhere");
    obia_archive_close(a);
    assert_null(obia_archive_open(dir, &err));   /* not an archive */
    assert_non_null(strstr(err.message, "not an archive"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
