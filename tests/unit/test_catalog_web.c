/* Unit tests of what the catalog answers the server with (lib/catalog/qido.c
 * and browse.c): DICOMweb queries with every matching rule, browsing with
 * pages and totals, what the public sees, search paging and facets, and
 * the schema 4 migration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/catalog.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static obia_catalog *cat;

/* ---- rows kept for checking ----------------------------------------------------------- */

#define MAX_ROWS 64
#define MAX_COLS 48

typedef struct table {
    int n;
    int ncols;
    char names[MAX_COLS][64];
    char values[MAX_ROWS][MAX_COLS][160];
    bool null[MAX_ROWS][MAX_COLS];
} table;

static bool keep(void *ctx, int n, const char *const *names, const char *const *values)
{
    table *t = ctx;
    if (t->n == MAX_ROWS)
        fail_msg("more than %d rows", MAX_ROWS);
    t->ncols = n < MAX_COLS ? n : MAX_COLS;
    for (int k = 0; k < t->ncols; k++) {
        snprintf(t->names[k], sizeof t->names[k], "%s", names[k]);
        snprintf(t->values[t->n][k], sizeof t->values[t->n][k], "%s", values[k] ? values[k] : "");
        t->null[t->n][k] = !values[k];
    }
    t->n++;
    return true;
}

static table *fresh(void)
{
    table *t = calloc(1, sizeof *t);
    assert_non_null(t);
    return t;
}

/* A cell by column name; NULL for an SQL NULL. */
static const char *cell(const table *t, int row, const char *name)
{
    if (row >= t->n)
        fail_msg("no row %d (of %d) for column %s", row, t->n, name);
    for (int k = 0; k < t->ncols; k++)
        if (strcmp(t->names[k], name) == 0)
            return t->null[row][k] ? NULL : t->values[row][k];
    fail_msg("no column %s", name);
    return NULL;
}

static void expect_cell(const table *t, int row, const char *name, const char *want)
{
    const char *have = cell(t, row, name);
    if (!want && have)
        fail_msg("row %d %s: '%s', not NULL", row, name, have);
    if (want && (!have || strcmp(have, want) != 0))
        fail_msg("row %d %s: '%s', not '%s'", row, name, have ? have : "NULL", want);
}

/* ---- the catalog of the tests ------------------------------------------------------------ */

typedef struct spec {
    const char *collection, *individual, *sex, *study, *date, *time, *acc_no, *study_id,
        *physician, *name, *pid, *birth, *description, *age, *series, *modality, *body_part,
        *series_description;
    long series_number;
    const char *sop;
    long instance;
} spec;

static void add(const spec *s)
{
    char hash[65];
    snprintf(hash, sizeof hash, "h%s", s->sop);
    obia_catalog_image im = {
        .collection = s->collection, .individual = s->individual, .sex = s->sex,
        .study_uid = s->study, .study_date = s->date, .study_description = s->description,
        .age_at_study = s->age, .study_time = s->time, .accession_number = s->acc_no,
        .study_id = s->study_id, .referring_physician = s->physician, .patient_name = s->name,
        .patient_id = s->pid, .patient_birth_date = s->birth, .series_uid = s->series,
        .modality = s->modality, .body_part = s->body_part,
        .series_description = s->series_description, .series_number = s->series_number,
        .sop_class_uid = "1.2.840.10008.5.1.4.1.1.2", .sop_instance_uid = s->sop,
        .instance_number = s->instance, .object_hash = hash, .size = 1000,
        .transfer_syntax = "1.2.840.10008.1.2.1", .rows = 512, .columns = 256, .frames = 1,
        .bits_allocated = 16, .has_instance_number = true};
    obia_catalog_added added;
    obia_error err;
    obia_error_clear(&err);
    if (!obia_catalog_add_image(cat, &im, &added, &err))
        fail_msg("%s", err.message);
    assert_int_equal(added, OBIA_CATALOG_ADDED);
}

/*
 * OBIA0001 "Lung screening", released:
 *   I000001 (F)  S00000001 2.25.1 20190101 101500 "CT chest", DOE^JANE, PID1
 *                  2.25.11 CT CHEST #2, visible:     2.25.113 (3), 2.25.111 (1), 2.25.112 (2)
 *                  2.25.12 MR HEAD #1, not visible:  2.25.121 (1)
 *                S00000002 2.25.2 20200615 083000 "Follow-up", DOE^JANE, PID1
 *                  2.25.21 PT #1, visible:           2.25.211, 2.25.212
 *   I000002 (M)  S00000003 2.25.3 20210310 "MR brain", ROE^RICHARD^A, PID2
 *                  2.25.31 MR HEAD #1, unreviewed:   2.25.311
 * OBIA0002 "Brain draft", a draft:
 *   I000003 (M)  S00000004 2.25.4 20180101, no patient name or ID (as before schema 4)
 *                  2.25.41 CT #1, unreviewed:         2.25.411
 */
static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/obia-catalog-web-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    obia_error err;
    obia_error_clear(&err);
    cat = obia_catalog_open(path, true, &err);
    if (!cat)
        return -1;
    char a[16], i[16];
    obia_collection_info lung = {.title = "Lung screening", .disease = "lung adenocarcinoma"};
    obia_collection_info brain = {.title = "Brain draft", .disease = "glioma"};
    bool ok = obia_catalog_collection_create(cat, &lung, a, &err) &&
              obia_catalog_collection_create(cat, &brain, a, &err) &&
              obia_catalog_begin(cat, &err) &&
              obia_catalog_individual_new(cat, "OBIA0001", i, &err) &&
              obia_catalog_individual_new(cat, "OBIA0001", i, &err) &&
              obia_catalog_individual_new(cat, "OBIA0002", i, &err);
    if (!ok)
        return -1;
    spec s1 = {"OBIA0001", "I000001", "F", "2.25.1", "20190101", "101500", "ACC1", "1",
               "SMITH^JOHN", "DOE^JANE", "PID1", "19700101", "CT chest", "049Y", "2.25.11", "CT",
               "CHEST", "axial", 2, "2.25.113", 3};
    add(&s1);
    s1.sop = "2.25.111", s1.instance = 1;
    add(&s1);
    s1.sop = "2.25.112", s1.instance = 2;
    add(&s1);
    s1.series = "2.25.12", s1.modality = "MR", s1.body_part = "HEAD", s1.series_number = 1;
    s1.series_description = "t1 100% scout", s1.sop = "2.25.121", s1.instance = 1;
    add(&s1);
    spec s2 = {"OBIA0001", "I000001", "F", "2.25.2", "20200615", "083000", "ACC2", "2", NULL,
               "DOE^JANE", "PID1", "19700101", "Follow-up", "050Y", "2.25.21", "PT", "CHEST",
               "wb", 1, "2.25.211", 1};
    add(&s2);
    s2.sop = "2.25.212", s2.instance = 2;
    add(&s2);
    spec s3 = {"OBIA0001", "I000002", "M", "2.25.3", "20210310", NULL, "ACC3", NULL, NULL,
               "ROE^RICHARD^A", "PID2", NULL, "MR brain", "061Y", "2.25.31", "MR", "HEAD",
               "flair", 1, "2.25.311", 1};
    add(&s3);
    spec s4 = {"OBIA0002", "I000003", "M", "2.25.4", "20180101", NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, "070Y", "2.25.41", "CT", "HEAD", NULL, 1, "2.25.411", 1};
    add(&s4);
    long changed;
    ok = obia_catalog_commit(cat, &err) &&
         obia_catalog_review_set(cat, "2.25.11", "visible", "t", NULL, &changed, &err) &&
         obia_catalog_review_set(cat, "2.25.21", "visible", "t", NULL, &changed, &err) &&
         obia_catalog_review_set(cat, "2.25.12", "not-visible", "t", NULL, &changed, &err) &&
         obia_catalog_collection_release(cat, "OBIA0001", true, "t", "tests", &err);
    if (!ok)
        fprintf(stderr, "%s\n", err.message);
    return ok ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    obia_catalog_close(cat);
    cat = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- QIDO ------------------------------------------------------------------------------ */

typedef struct qido {
    obia_qido_query q;
    table *t;
    bool more;
    obia_error err;
} qido;

static qido *query(obia_qido_level level, long limit)
{
    qido *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->q.level = level;
    x->q.limit = limit;
    return x;
}

static qido *with(qido *x, uint32_t tag, const char *value)
{
    x->q.match[x->q.nmatch++] = (obia_qido_match){tag, value};
    return x;
}

/* Run: the rows, or -1 with x->err set. */
static int run(qido *x)
{
    free(x->t);
    x->t = fresh();
    obia_error_clear(&x->err);
    x->more = true;
    if (!obia_catalog_qido(cat, &x->q, keep, x->t, &x->more, &x->err))
        return -1;
    return x->t->n;
}

static void done(qido *x)
{
    free(x->t);
    free(x);
}

/* The number of rows one match gives at a level. */
static int count_of(obia_qido_level level, uint32_t tag, const char *value, bool fuzzy)
{
    qido *x = with(query(level, 50), tag, value);
    x->q.fuzzy = fuzzy;
    int n = run(x);
    if (n < 0)
        fail_msg("%s", x->err.message);
    done(x);
    return n;
}

/* A bad value: OBIA_E_ARG naming the attribute. */
static void refused(obia_qido_level level, uint32_t tag, const char *value, const char *name)
{
    qido *x = with(query(level, 50), tag, value);
    if (run(x) >= 0)
        fail_msg("%s '%s' accepted", name, value);
    assert_int_equal(x->err.code, OBIA_E_ARG);
    assert_int_equal(x->err.tag, tag);
    if (!strstr(x->err.message, name))
        fail_msg("'%s' does not name %s", x->err.message, name);
    done(x);
}

static void test_qido_keys(void **state)
{
    (void)state;
    assert_true(obia_catalog_qido_key(OBIA_QIDO_STUDY, 0x00100020));
    assert_true(obia_catalog_qido_key(OBIA_QIDO_STUDY, 0x00080061));
    assert_false(obia_catalog_qido_key(OBIA_QIDO_STUDY, 0x00080060));    /* a series' */
    assert_true(obia_catalog_qido_key(OBIA_QIDO_SERIES, 0x00080060));
    assert_true(obia_catalog_qido_key(OBIA_QIDO_SERIES, 0x00100020));    /* from above */
    assert_false(obia_catalog_qido_key(OBIA_QIDO_SERIES, 0x00080018));
    assert_true(obia_catalog_qido_key(OBIA_QIDO_INSTANCE, 0x00080018));
    assert_true(obia_catalog_qido_key(OBIA_QIDO_INSTANCE, 0x00020010));
    assert_false(obia_catalog_qido_key(OBIA_QIDO_STUDY, 0x00201206));    /* returned only */
    assert_false(obia_catalog_qido_key(OBIA_QIDO_INSTANCE, 0x00201209));
    assert_false(obia_catalog_qido_key(OBIA_QIDO_INSTANCE, 0x7FE00010));

    /* a key of another level, a returned attribute, no limit, too many */
    qido *x = with(query(OBIA_QIDO_STUDY, 10), 0x00080060, "CT");
    assert_int_equal(run(x), -1);
    assert_int_equal(x->err.code, OBIA_E_ARG);
    assert_non_null(strstr(x->err.message, "Modality is not a matching key of a study query"));
    done(x);
    x = with(query(OBIA_QIDO_SERIES, 10), 0x00201209, "3");
    assert_int_equal(run(x), -1);
    assert_int_equal(x->err.code, OBIA_E_ARG);
    done(x);
    x = query(OBIA_QIDO_STUDY, 0);
    assert_int_equal(run(x), -1);
    assert_int_equal(x->err.code, OBIA_E_ARG);
    x->q.limit = 5;
    x->q.offset = -1;
    assert_int_equal(run(x), -1);
    x->q.offset = 0;
    x->q.series_uid = "2.25.11";   /* a series scopes no studies */
    assert_int_equal(run(x), -1);
    assert_int_equal(x->err.code, OBIA_E_ARG);
    x->q.series_uid = NULL;
    x->q.nmatch = OBIA_QIDO_MAX_MATCHES + 1;
    assert_int_equal(run(x), -1);
    done(x);
}

static void test_qido_studies(void **state)
{
    (void)state;
    /* universal: every study, in order, with every attribute */
    qido *x = query(OBIA_QIDO_STUDY, 10);
    assert_int_equal(run(x), 4);
    assert_false(x->more);
    table *t = x->t;
    expect_cell(t, 0, "0020000D", "2.25.1");
    expect_cell(t, 0, "00080020", "20190101");
    expect_cell(t, 0, "00080030", "101500");
    expect_cell(t, 0, "00080050", "ACC1");
    expect_cell(t, 0, "00080061", "CT\\MR");
    expect_cell(t, 0, "00080090", "SMITH^JOHN");
    expect_cell(t, 0, "00081030", "CT chest");
    expect_cell(t, 0, "00100010", "DOE^JANE");
    expect_cell(t, 0, "00100020", "PID1");
    expect_cell(t, 0, "00100030", "19700101");
    expect_cell(t, 0, "00100040", "F");
    expect_cell(t, 0, "00101010", "049Y");
    expect_cell(t, 0, "00200010", "1");
    expect_cell(t, 0, "00201206", "2");
    expect_cell(t, 0, "00201208", "4");
    expect_cell(t, 0, "collection", "OBIA0001");
    expect_cell(t, 0, "individual", "I000001");
    expect_cell(t, 0, "study_accession", "S00000001");
    expect_cell(t, 1, "0020000D", "2.25.2");
    expect_cell(t, 1, "00080090", NULL);
    expect_cell(t, 2, "0020000D", "2.25.3");
    expect_cell(t, 2, "00080030", NULL);
    /* a study of a catalog before schema 4: the individual as patient */
    expect_cell(t, 3, "0020000D", "2.25.4");
    expect_cell(t, 3, "00100010", "I000003");
    expect_cell(t, 3, "00100020", "I000003");
    expect_cell(t, 3, "00080061", "CT");
    assert_int_equal(t->ncols, 18);
    done(x);

    /* single values: exact, case-sensitive */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100020, "PID1", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100020, "pid1", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100020, "I000003", false), 1);  /* fallback */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100020, "I000001", false), 0);  /* has one */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "DOE^JANE", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "doe^jane", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "I000003", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080050, "ACC3", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080020, "20190101", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100040, "M", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00200010, "2", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x0020000D, "2.25.3", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00101010, "050Y", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100030, "19700101", false), 2);
    /* universal matching: an empty value, or only * */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "", false), 4);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080050, "*", false), 4);

    /* lists: of UIDs, of modalities; backslash or comma */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x0020000D, "2.25.1\\2.25.3", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x0020000D, "2.25.1,2.25.4,2.25.9", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080061, "PT,MR", false), 3);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080061, "CT", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080061, "MR\\US", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080061, "US", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100040, "F\\O", false), 2);

    /* wildcards, case-sensitive, with LIKE's own characters taken literally */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "DOE*", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "?OE^*", false), 3);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "doe*", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "DOE_J*", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "DOE%", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100020, "PID*", false), 3);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100020, "I00000?", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00081030, "*chest", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00081030, "*CHEST", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080061, "?T", false), 3);

    /* fuzzy: any case, and names by the start of any word */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "doe", true), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "jan", true), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "ric", true), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "ane", true), 0);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "roe^r", true), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "doe^jane", true), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100010, "i0000*", true), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080090, "john", true), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00081030, "ct CHEST", true), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00081030, "*up", true), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100020, "pid2", true), 1);

    /* date ranges */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080020, "20190101-20201231", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080020, "-20190101", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080020, "20210101-", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080020, "20200616-20210309", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00100030, "19600101-19701231", false), 2);
    refused(OBIA_QIDO_STUDY, 0x00080020, "2019-01-01", "StudyDate");
    refused(OBIA_QIDO_STUDY, 0x00080020, "20191301", "StudyDate");
    refused(OBIA_QIDO_STUDY, 0x00080020, "-", "StudyDate");
    refused(OBIA_QIDO_STUDY, 0x00080020, "2019*", "StudyDate");
    refused(OBIA_QIDO_STUDY, 0x00100030, "1970", "PatientBirthDate");
    /* time ranges: a bound names its first or last instant */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080030, "1000-1100", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080030, "-0900", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080030, "10-10", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080030, "083001-", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x00080030, "083000", false), 1);
    refused(OBIA_QIDO_STUDY, 0x00080030, "2500", "StudyTime");
    refused(OBIA_QIDO_STUDY, 0x00080030, "10:15", "StudyTime");
    refused(OBIA_QIDO_STUDY, 0x00080030, "101500.1234567", "StudyTime");

    /* bad UIDs and codes */
    refused(OBIA_QIDO_STUDY, 0x0020000D, "2.25.*", "StudyInstanceUID");
    refused(OBIA_QIDO_STUDY, 0x0020000D, "abc", "StudyInstanceUID");
    refused(OBIA_QIDO_STUDY, 0x0020000D, "2.25..1", "StudyInstanceUID");
    refused(OBIA_QIDO_STUDY, 0x00080061, "CT'--", "ModalitiesInStudy");

    /* long lists of UIDs, up to a limit */
    char *uids = malloc(600 * 16);
    assert_non_null(uids);
    char *o = uids;
    for (int k = 0; k < 600; k++)
        o += sprintf(o, "%s2.25.%d", k ? "\\" : "", k < 300 ? k : 1000 + k);
    o = uids;
    for (int k = 0; k < 300; k++)
        o = strchr(o, '\\') + 1;
    o[-1] = '\0';   /* 300 UIDs: 2.25.0 to 2.25.299, four of them studies */
    assert_int_equal(count_of(OBIA_QIDO_STUDY, 0x0020000D, uids, false), 4);
    o[-1] = '\\';  /* 600 */
    x = with(query(OBIA_QIDO_STUDY, 10), 0x0020000D, uids);
    assert_int_equal(run(x), -1);
    assert_int_equal(x->err.code, OBIA_E_LIMIT);
    assert_non_null(strstr(x->err.message, "StudyInstanceUID"));
    done(x);
    free(uids);
    x = with(query(OBIA_QIDO_STUDY, 10), 0x00100010, "");
    char *long_name = calloc(1, 2000);
    assert_non_null(long_name);
    memset(long_name, 'A', 1999);
    x->q.match[0].value = long_name;
    assert_int_equal(run(x), -1);
    assert_int_equal(x->err.code, OBIA_E_LIMIT);
    done(x);
    free(long_name);

    /* several keys: all of them */
    x = with(with(query(OBIA_QIDO_STUDY, 10), 0x00100020, "PID1"), 0x00080061, "PT");
    assert_int_equal(run(x), 1);
    expect_cell(x->t, 0, "0020000D", "2.25.2");
    done(x);
}

static bool first_only(void *ctx, int n, const char *const *names, const char *const *values)
{
    (void)n;
    (void)names;
    (void)values;
    (*(int *)ctx)++;
    return false;
}

static void test_qido_paging(void **state)
{
    (void)state;
    static const char *const order[] = {"2.25.1", "2.25.2", "2.25.3", "2.25.4"};
    struct {
        long limit, offset;
        int rows;
        bool more;
    } pages[] = {{2, 0, 2, true}, {2, 2, 2, false}, {2, 3, 1, false}, {3, 0, 3, true},
                 {4, 0, 4, false}, {2, 4, 0, false}, {1, 1, 1, true}};
    for (size_t p = 0; p < sizeof pages / sizeof pages[0]; p++) {
        qido *x = query(OBIA_QIDO_STUDY, pages[p].limit);
        x->q.offset = pages[p].offset;
        assert_int_equal(run(x), pages[p].rows);
        if (x->more != pages[p].more)
            fail_msg("limit %ld offset %ld: more is %d", pages[p].limit, pages[p].offset,
                     x->more);
        for (int r = 0; r < x->t->n; r++)
            expect_cell(x->t, r, "0020000D", order[pages[p].offset + r]);
        done(x);
    }
    /* a callback that stops: no error, and no more rows */
    int seen = 0;
    obia_error err;
    obia_error_clear(&err);
    obia_qido_query q = {.level = OBIA_QIDO_INSTANCE, .limit = 100};
    bool more = true;
    assert_true(obia_catalog_qido(cat, &q, first_only, &seen, &more, &err));
    assert_int_equal(seen, 1);
    assert_false(more);
}

static void test_qido_series_instances(void **state)
{
    (void)state;
    /* the series of a study, by series number, with the study's attributes */
    qido *x = query(OBIA_QIDO_SERIES, 10);
    x->q.study_uid = "2.25.1";
    assert_int_equal(run(x), 2);
    expect_cell(x->t, 0, "0020000E", "2.25.12");
    expect_cell(x->t, 0, "00200011", "1");
    expect_cell(x->t, 0, "00080060", "MR");
    expect_cell(x->t, 0, "00180015", "HEAD");
    expect_cell(x->t, 0, "0008103E", "t1 100% scout");
    expect_cell(x->t, 0, "00201209", "1");
    expect_cell(x->t, 1, "0020000E", "2.25.11");
    expect_cell(x->t, 1, "00201209", "3");
    expect_cell(x->t, 1, "0020000D", "2.25.1");
    expect_cell(x->t, 1, "00201206", "2");
    expect_cell(x->t, 1, "00080061", "CT\\MR");
    expect_cell(x->t, 1, "study_accession", "S00000001");
    done(x);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x00080060, "MR", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x00080060, "CT\\PT", false), 3);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x00080060, "mr", true), 2);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x00200011, "2", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x00200011, "+1", false), 4);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x0008103E, "*100%*", false), 1);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x0008103E, "*100_*", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x0020000E, "2.25.21,2.25.41", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x00100020, "PID1", false), 3);
    assert_int_equal(count_of(OBIA_QIDO_SERIES, 0x00080061, "PT", false), 1);
    refused(OBIA_QIDO_SERIES, 0x00200011, "two", "SeriesNumber");
    refused(OBIA_QIDO_SERIES, 0x00200011, "1.5", "SeriesNumber");

    /* the instances of a series, by instance number */
    x = query(OBIA_QIDO_INSTANCE, 10);
    x->q.study_uid = "2.25.1";
    x->q.series_uid = "2.25.11";
    assert_int_equal(run(x), 3);
    for (int r = 0; r < 3; r++) {
        char n[8], sop[16];
        snprintf(n, sizeof n, "%d", r + 1);
        snprintf(sop, sizeof sop, "2.25.11%d", r + 1);
        expect_cell(x->t, r, "00200013", n);
        expect_cell(x->t, r, "00080018", sop);
    }
    expect_cell(x->t, 0, "00080016", "1.2.840.10008.5.1.4.1.1.2");
    expect_cell(x->t, 0, "00020010", "1.2.840.10008.1.2.1");
    expect_cell(x->t, 0, "00280010", "512");
    expect_cell(x->t, 0, "00280011", "256");
    expect_cell(x->t, 0, "00280100", "16");
    expect_cell(x->t, 0, "00280008", "1");
    expect_cell(x->t, 0, "0020000E", "2.25.11");
    expect_cell(x->t, 0, "00201209", "3");
    expect_cell(x->t, 0, "00100020", "PID1");
    expect_cell(x->t, 0, "00201208", "4");
    assert_int_equal(x->t->ncols, 32);
    /* a series of another study: nothing */
    x->q.study_uid = "2.25.2";
    assert_int_equal(run(x), 0);
    done(x);

    /* the instances of a study: series by number, then instances */
    static const char *const study_order[] = {"2.25.121", "2.25.111", "2.25.112", "2.25.113"};
    x = query(OBIA_QIDO_INSTANCE, 10);
    x->q.study_uid = "2.25.1";
    assert_int_equal(run(x), 4);
    for (int r = 0; r < 4; r++)
        expect_cell(x->t, r, "00080018", study_order[r]);
    /* and of the archive: studies in order */
    x->q.study_uid = NULL;
    x->q.limit = 5;
    assert_int_equal(run(x), 5);
    assert_true(x->more);
    for (int r = 0; r < 4; r++)
        expect_cell(x->t, r, "00080018", study_order[r]);
    expect_cell(x->t, 4, "00080018", "2.25.211");
    done(x);
    assert_int_equal(count_of(OBIA_QIDO_INSTANCE, 0x00080018, "2.25.212\\2.25.311", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_INSTANCE, 0x00200013, "2", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_INSTANCE, 0x00280010, "512", false), 8);
    assert_int_equal(count_of(OBIA_QIDO_INSTANCE, 0x00280100, "8", false), 0);
    assert_int_equal(count_of(OBIA_QIDO_INSTANCE, 0x00020010, "1.2.840.10008.1.2.1", false), 8);
    assert_int_equal(count_of(OBIA_QIDO_INSTANCE, 0x00080060, "PT", false), 2);
    assert_int_equal(count_of(OBIA_QIDO_INSTANCE, 0x00100020, "PID2", false), 1);
    refused(OBIA_QIDO_INSTANCE, 0x00080018, "2.25.1*", "SOPInstanceUID");
    refused(OBIA_QIDO_INSTANCE, 0x00280010, "big", "Rows");
}

static void test_qido_public(void **state)
{
    (void)state;
    /* studies with a visible series of a released collection, counted by those */
    qido *x = query(OBIA_QIDO_STUDY, 10);
    x->q.public_only = true;
    assert_int_equal(run(x), 2);
    expect_cell(x->t, 0, "0020000D", "2.25.1");
    expect_cell(x->t, 0, "00201206", "1");
    expect_cell(x->t, 0, "00201208", "3");
    expect_cell(x->t, 0, "00080061", "CT");
    expect_cell(x->t, 1, "0020000D", "2.25.2");
    x->q.match[x->q.nmatch++] = (obia_qido_match){0x00080061, "MR"};
    assert_int_equal(run(x), 0);
    x->q.match[0].value = "CT,PT";
    assert_int_equal(run(x), 2);
    done(x);
    x = query(OBIA_QIDO_SERIES, 10);
    x->q.public_only = true;
    x->q.study_uid = "2.25.1";
    assert_int_equal(run(x), 1);
    expect_cell(x->t, 0, "0020000E", "2.25.11");
    x->q.study_uid = "2.25.3";
    assert_int_equal(run(x), 0);
    done(x);
    x = query(OBIA_QIDO_INSTANCE, 10);
    x->q.public_only = true;
    assert_int_equal(run(x), 5);
    x->q.series_uid = "2.25.12";
    assert_int_equal(run(x), 0);
    done(x);
}

/* ---- browsing ---------------------------------------------------------------------------- */

static void test_collections(void **state)
{
    (void)state;
    obia_error err;
    obia_error_clear(&err);
    table *t = fresh();
    long total = -1;
    assert_true(obia_catalog_collection_list(cat, NULL, keep, t, &total, &err));
    assert_int_equal(total, 2);
    assert_int_equal(t->n, 2);
    assert_int_equal(t->ncols, 17);
    static const char *const columns[] = {
        "accession", "title", "description", "keywords", "submitter", "access",
        "disease", "bioproject", "status", "created", "released", "individuals",
        "studies", "series", "images", "bytes", "modalities"};
    for (int k = 0; k < 17; k++)
        assert_string_equal(t->names[k], columns[k]);
    expect_cell(t, 0, "accession", "OBIA0001");
    expect_cell(t, 0, "status", "released");
    expect_cell(t, 0, "individuals", "2");
    expect_cell(t, 0, "studies", "3");
    expect_cell(t, 0, "series", "4");
    expect_cell(t, 0, "images", "7");
    expect_cell(t, 0, "bytes", "7000");
    expect_cell(t, 0, "modalities", "CT,MR,PT");
    expect_cell(t, 1, "accession", "OBIA0002");
    expect_cell(t, 1, "released", NULL);
    expect_cell(t, 1, "series", "1");
    expect_cell(t, 1, "modalities", "CT");
    free(t);

    /* the public's: released, and only the visible series counted */
    obia_catalog_page p = {.public_only = true};
    t = fresh();
    assert_true(obia_catalog_collection_list(cat, &p, keep, t, &total, &err));
    assert_int_equal(total, 1);
    assert_int_equal(t->n, 1);
    expect_cell(t, 0, "individuals", "1");
    expect_cell(t, 0, "studies", "2");
    expect_cell(t, 0, "series", "2");
    expect_cell(t, 0, "images", "5");
    expect_cell(t, 0, "modalities", "CT,PT");
    free(t);

    /* pages */
    p = (obia_catalog_page){.limit = 1, .offset = 1};
    t = fresh();
    assert_true(obia_catalog_collection_list(cat, &p, keep, t, &total, &err));
    assert_int_equal(total, 2);
    assert_int_equal(t->n, 1);
    expect_cell(t, 0, "accession", "OBIA0002");
    expect_cell(t, 0, "images", "1");
    free(t);
    p = (obia_catalog_page){.limit = -1};
    t = fresh();
    assert_false(obia_catalog_collection_list(cat, &p, keep, t, &total, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    free(t);
}

static void expect_public(const char *key, bool want)
{
    obia_error err;
    obia_error_clear(&err);
    bool pub = !want;
    if (!obia_catalog_is_public(cat, key, &pub, &err))
        fail_msg("%s: %s", key, err.message);
    if (pub != want)
        fail_msg("%s is %spublic", key, pub ? "" : "not ");
}

static void test_is_public(void **state)
{
    (void)state;
    expect_public("OBIA0001", true);
    expect_public("OBIA0002", false);
    expect_public("I000001", true);
    expect_public("I000002", false);    /* its series unreviewed */
    expect_public("I000003", false);
    expect_public("S00000001", true);
    expect_public("S00000003", false);
    expect_public("2.25.2", true);      /* a study UID */
    expect_public("2.25.3", false);
    expect_public("2.25.11", true);     /* series */
    expect_public("2.25.12", false);    /* not visible */
    expect_public("2.25.41", false);    /* not released */
    expect_public("2.25.112", true);    /* images */
    expect_public("2.25.121", false);
    const char *missing[] = {"OBIA0099", "I000099", "S00000099", "2.25.999", "nothing", ""};
    for (size_t k = 0; k < sizeof missing / sizeof missing[0]; k++) {
        obia_error err;
        obia_error_clear(&err);
        bool pub = true;
        assert_false(obia_catalog_is_public(cat, missing[k], &pub, &err));
        assert_false(pub);
        assert_int_equal(err.code, *missing[k] ? OBIA_E_NOTFOUND : OBIA_E_ARG);
    }
}

/* The children of key: their count, and *total. */
static table *children(const char *key, long limit, long offset, bool pub, long *total,
                       obia_error *err)
{
    table *t = fresh();
    obia_catalog_page p = {limit, offset, pub};
    obia_error_clear(err);
    *total = -1;
    if (!obia_catalog_children(cat, key, &p, keep, t, total, err)) {
        free(t);
        return NULL;
    }
    return t;
}

static void test_children(void **state)
{
    (void)state;
    obia_error err;
    long total;
    table *t = children("OBIA0001", 0, 0, false, &total, &err);
    assert_non_null(t);
    assert_int_equal(total, 2);
    assert_int_equal(t->n, 2);
    expect_cell(t, 0, "accession", "I000001");
    expect_cell(t, 0, "sex", "F");
    expect_cell(t, 0, "age", "49");
    expect_cell(t, 0, "studies", "2");
    expect_cell(t, 0, "series", "3");
    expect_cell(t, 0, "images", "6");
    expect_cell(t, 1, "accession", "I000002");
    cell(t, 0, "disease");
    free(t);
    t = children("OBIA0001", 0, 0, true, &total, &err);
    assert_int_equal(total, 1);
    assert_int_equal(t->n, 1);
    expect_cell(t, 0, "studies", "2");
    expect_cell(t, 0, "series", "2");
    expect_cell(t, 0, "images", "5");
    free(t);
    t = children("OBIA0001", 1, 1, false, &total, &err);
    assert_int_equal(total, 2);
    assert_int_equal(t->n, 1);
    expect_cell(t, 0, "accession", "I000002");
    free(t);

    /* an individual's studies, by date */
    t = children("I000001", 0, 0, false, &total, &err);
    assert_int_equal(total, 2);
    expect_cell(t, 0, "accession", "S00000001");
    expect_cell(t, 0, "study_uid", "2.25.1");
    expect_cell(t, 0, "study_date", "20190101");
    expect_cell(t, 0, "description", "CT chest");
    expect_cell(t, 0, "age_at_study", "049Y");
    expect_cell(t, 0, "modalities", "CT,MR");
    expect_cell(t, 0, "series", "2");
    expect_cell(t, 0, "images", "4");
    expect_cell(t, 1, "accession", "S00000002");
    free(t);
    t = children("I000001", 0, 0, true, &total, &err);
    expect_cell(t, 0, "modalities", "CT");
    expect_cell(t, 0, "series", "1");
    free(t);

    /* a study's series, by number; by accession or UID */
    t = children("S00000001", 0, 0, false, &total, &err);
    assert_int_equal(total, 2);
    expect_cell(t, 0, "series_uid", "2.25.12");
    expect_cell(t, 0, "modality", "MR");
    expect_cell(t, 0, "body_part", "HEAD");
    expect_cell(t, 0, "series_number", "1");
    expect_cell(t, 0, "review_state", "not-visible");
    expect_cell(t, 1, "series_uid", "2.25.11");
    expect_cell(t, 1, "images", "3");
    expect_cell(t, 1, "bytes", "3000");
    cell(t, 1, "description");
    free(t);
    t = children("2.25.1", 0, 0, true, &total, &err);
    assert_int_equal(total, 1);
    expect_cell(t, 0, "series_uid", "2.25.11");
    free(t);

    /* a series' images, by instance number, in pages */
    t = children("2.25.11", 2, 1, false, &total, &err);
    assert_int_equal(total, 3);
    assert_int_equal(t->n, 2);
    expect_cell(t, 0, "sop_instance_uid", "2.25.112");
    expect_cell(t, 0, "instance_number", "2");
    expect_cell(t, 0, "sop_class_uid", "1.2.840.10008.5.1.4.1.1.2");
    expect_cell(t, 0, "rows", "512");
    expect_cell(t, 0, "columns", "256");
    expect_cell(t, 0, "frames", "1");
    expect_cell(t, 0, "transfer_syntax", "1.2.840.10008.1.2.1");
    expect_cell(t, 0, "size", "1000");
    expect_cell(t, 1, "sop_instance_uid", "2.25.113");
    free(t);
    t = children("2.25.11", 5, 3, false, &total, &err);
    assert_int_equal(total, 3);
    assert_int_equal(t->n, 0);
    free(t);

    /* what is not there, or not public */
    assert_null(children("OBIA0099", 0, 0, false, &total, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);
    assert_null(children("2.25.112", 0, 0, false, &total, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    assert_null(children("OBIA0002", 0, 0, true, &total, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);
    assert_null(children("2.25.12", 0, 0, true, &total, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);
    assert_null(children("I000002", 0, 0, true, &total, &err));
    assert_int_equal(err.code, OBIA_E_NOTFOUND);
    assert_null(children("I000002", 0, -2, false, &total, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
}

/* ---- search, facets, stats ---------------------------------------------------------------- */

static long search_count(obia_catalog_query q)
{
    obia_error err;
    obia_error_clear(&err);
    long n = -1;
    if (!obia_catalog_search_count(cat, &q, &n, &err))
        fail_msg("%s", err.message);
    table *t = fresh();
    q.limit = q.offset = 0;
    assert_true(obia_catalog_search(cat, &q, keep, t, &err));
    assert_int_equal(t->n, n);   /* the count is of what search finds */
    free(t);
    return n;
}

#define QUERY(...) ((obia_catalog_query){.age_min = -1, .age_max = -1, __VA_ARGS__})

static void test_search(void **state)
{
    (void)state;
    assert_int_equal(search_count(QUERY()), 5);
    assert_int_equal(search_count(QUERY(.public_only = true)), 2);
    assert_int_equal(search_count(QUERY(.modality = "mr")), 2);
    /* text: an accession or a UID exactly, descriptions and titles in part */
    assert_int_equal(search_count(QUERY(.text = "OBIA0002")), 1);
    assert_int_equal(search_count(QUERY(.text = "I000002")), 1);
    assert_int_equal(search_count(QUERY(.text = "S00000002")), 1);
    assert_int_equal(search_count(QUERY(.text = "2.25.1")), 2);    /* a study */
    assert_int_equal(search_count(QUERY(.text = "2.25.12")), 1);   /* a series */
    assert_int_equal(search_count(QUERY(.text = "2.25")), 0);      /* no part of UIDs */
    assert_int_equal(search_count(QUERY(.text = "FOLLOW")), 1);
    assert_int_equal(search_count(QUERY(.text = "screening")), 4);
    assert_int_equal(search_count(QUERY(.text = "Brain")), 2);     /* a title, a description */
    assert_int_equal(search_count(QUERY(.text = "100%")), 1);
    assert_int_equal(search_count(QUERY(.text = "1_0")), 0);
    assert_int_equal(search_count(QUERY(.disease = "GLIO")), 1);
    assert_int_equal(search_count(QUERY(.disease = "%")), 0);
    obia_catalog_query old = QUERY();
    old.age_min = 60;
    assert_int_equal(search_count(old), 2);

    /* pages, in a stable order */
    static const char *const order[] = {"2.25.12", "2.25.11", "2.25.21", "2.25.31", "2.25.41"};
    for (long offset = 0; offset < 6; offset++) {
        obia_error err;
        obia_error_clear(&err);
        table *t = fresh();
        obia_catalog_query q = QUERY(.limit = 2, .offset = offset);
        assert_true(obia_catalog_search(cat, &q, keep, t, &err));
        assert_int_equal(t->n, offset >= 5 ? 0 : offset == 4 ? 1 : 2);
        for (int r = 0; r < t->n; r++)
            expect_cell(t, r, "series_uid", order[offset + r]);
        free(t);
    }
    obia_error err;
    obia_error_clear(&err);
    table *t = fresh();
    obia_catalog_query q = QUERY(.offset = 3);
    assert_true(obia_catalog_search(cat, &q, keep, t, &err));
    assert_int_equal(t->n, 2);
    q.offset = -1;
    assert_false(obia_catalog_search(cat, &q, keep, t, &err));
    assert_int_equal(err.code, OBIA_E_ARG);
    free(t);
}

/* The count of a facet's value, or -1 if not among the rows. */
static long facet(const table *t, const char *name, const char *value)
{
    for (int r = 0; r < t->n; r++)
        if (strcmp(cell(t, r, "facet"), name) == 0 && strcmp(cell(t, r, "value"), value) == 0)
            return atol(cell(t, r, "series"));
    return -1;
}

static table *facets(obia_catalog_query q)
{
    obia_error err;
    obia_error_clear(&err);
    table *t = fresh();
    if (!obia_catalog_facets(cat, &q, keep, t, &err))
        fail_msg("%s", err.message);
    assert_int_equal(t->ncols, 3);
    return t;
}

static void test_facets(void **state)
{
    (void)state;
    table *t = facets(QUERY());
    assert_int_equal(facet(t, "modality", "CT"), 2);
    assert_int_equal(facet(t, "modality", "MR"), 2);
    assert_int_equal(facet(t, "modality", "PT"), 1);
    assert_int_equal(facet(t, "sex", "F"), 3);
    assert_int_equal(facet(t, "sex", "M"), 2);
    assert_int_equal(facet(t, "age_band", "40-49"), 2);
    assert_int_equal(facet(t, "age_band", "70-79"), 1);
    assert_int_equal(facet(t, "collection", "OBIA0001"), 4);
    assert_int_equal(facet(t, "disease", "glioma"), 1);
    assert_int_equal(facet(t, "body_part", "HEAD"), 3);
    /* the most first, then by value */
    assert_string_equal(cell(t, 0, "facet"), "modality");
    assert_string_equal(cell(t, 0, "value"), "CT");
    assert_string_equal(cell(t, 1, "value"), "MR");
    free(t);

    /* a facet without its own filter, the others with it */
    t = facets(QUERY(.modality = "MR"));
    assert_int_equal(facet(t, "modality", "CT"), 2);
    assert_int_equal(facet(t, "modality", "MR"), 2);
    assert_int_equal(facet(t, "modality", "PT"), 1);
    assert_int_equal(facet(t, "sex", "F"), 1);
    assert_int_equal(facet(t, "sex", "M"), 1);
    assert_int_equal(facet(t, "body_part", "CHEST"), -1);
    assert_int_equal(facet(t, "collection", "OBIA0002"), -1);
    free(t);
    t = facets(QUERY(.modality = "MR", .sex = "M"));
    assert_int_equal(facet(t, "modality", "MR"), 1);
    assert_int_equal(facet(t, "modality", "CT"), 1);
    assert_int_equal(facet(t, "modality", "PT"), -1);
    assert_int_equal(facet(t, "sex", "F"), 1);
    assert_int_equal(facet(t, "sex", "M"), 1);
    assert_int_equal(facet(t, "collection", "OBIA0001"), 1);
    free(t);
    obia_catalog_query aged = QUERY(.collection = "OBIA0002");
    aged.age_min = 65;
    t = facets(aged);
    assert_int_equal(facet(t, "collection", "OBIA0002"), 1);
    assert_int_equal(facet(t, "collection", "OBIA0001"), -1);   /* none 65 or older */
    assert_int_equal(facet(t, "age_band", "70-79"), 1);
    assert_int_equal(facet(t, "age_band", "40-49"), -1);
    assert_int_equal(facet(t, "modality", "CT"), 1);
    free(t);
    t = facets(QUERY(.disease = "lung", .text = "chest"));
    assert_int_equal(facet(t, "disease", "glioma"), -1);          /* the text still applies */
    assert_int_equal(facet(t, "disease", "lung adenocarcinoma"), 2);
    free(t);
    /* the public's */
    t = facets(QUERY(.public_only = true));
    assert_int_equal(facet(t, "modality", "CT"), 1);
    assert_int_equal(facet(t, "modality", "PT"), 1);
    assert_int_equal(facet(t, "modality", "MR"), -1);
    assert_int_equal(facet(t, "collection", "OBIA0002"), -1);
    free(t);
}

static void test_stats(void **state)
{
    (void)state;
    obia_error err;
    obia_error_clear(&err);
    for (int pub = 0; pub < 2; pub++) {
        table *t = fresh();
        assert_true(obia_catalog_stats(cat, NULL, pub, keep, t, &err));
        long series = 0, images = 0;
        for (int r = 0; r < t->n; r++)
            if (strcmp(cell(t, r, "facet"), "modality") == 0) {
                series += atol(cell(t, r, "series"));
                images += atol(cell(t, r, "images"));
            }
        assert_int_equal(series, pub ? 2 : 5);
        assert_int_equal(images, pub ? 5 : 8);
        for (int r = 0; r < t->n; r++)
            if (strcmp(cell(t, r, "facet"), "sex") == 0 && strcmp(cell(t, r, "value"), "F") == 0) {
                assert_string_equal(cell(t, r, "individuals"), "1");
                assert_string_equal(cell(t, r, "studies"), "2");
                assert_string_equal(cell(t, r, "series"), pub ? "2" : "3");
            }
        free(t);
    }
    table *t = fresh();
    assert_true(obia_catalog_stats(cat, "OBIA0002", false, keep, t, &err));
    expect_cell(t, 0, "facet", "modality");
    expect_cell(t, 0, "value", "CT");
    expect_cell(t, 0, "individuals", "1");
    free(t);
}

/* ---- the schema 4 migration ------------------------------------------------------------- */

static bool has_index(const char *path, const char *table_name, const char *index)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_index_list('%s') WHERE name = '%s'",
             table_name, index);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    sqlite3_close(h);
    return found;
}

static void test_migration(void **state)
{
    (void)state;
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/v1.db", dir);
    snprintf(cmd, sizeof cmd, "cp '%s/../fixtures/catalog-v1.db' '%s'", OBIA_TEST_DATA, path);
    assert_int_equal(system(cmd), 0);
    obia_error err;
    obia_error_clear(&err);
    obia_catalog *c = obia_catalog_open(path, false, &err);
    if (!c)
        fail_msg("%s", err.message);
    assert_int_equal(obia_catalog_schema_version(c), 4);
    /* the old studies: the individual as patient */
    table *t = fresh();
    obia_qido_query q = {.level = OBIA_QIDO_STUDY, .limit = 10};
    bool more;
    assert_true(obia_catalog_qido(c, &q, keep, t, &more, &err));
    assert_int_equal(t->n, 2);
    expect_cell(t, 0, "00100020", cell(t, 0, "individual"));
    expect_cell(t, 0, "00100010", cell(t, 0, "individual"));
    expect_cell(t, 0, "00080061", "CT");
    expect_cell(t, 0, "00201208", "3");
    expect_cell(t, 0, "00080050", NULL);
    /* matching the fallback by its index */
    char individual[16];
    snprintf(individual, sizeof individual, "%s", cell(t, 1, "individual"));
    free(t);
    t = fresh();
    q.match[q.nmatch++] = (obia_qido_match){0x00100020, individual};
    assert_true(obia_catalog_qido(c, &q, keep, t, &more, &err));
    assert_int_equal(t->n, 1);
    expect_cell(t, 0, "individual", individual);
    free(t);

    /* a new study keeps its attributes */
    char acc[16];
    assert_true(obia_catalog_begin(c, &err));
    assert_true(obia_catalog_individual_new(c, "OBIA0001", acc, &err));
    obia_catalog *tests_catalog = cat;
    cat = c;
    spec s = {"OBIA0001", acc, "F", "2.25.77", "20240101", "120000", "NEWACC", "7", "WHO^DR",
              "NEW^PATIENT", "NEWPID", "19800101", "new", "044Y", "2.25.771", "MR", "HEAD", "x",
              1, "2.25.7711", 1};
    add(&s);
    cat = tests_catalog;
    assert_true(obia_catalog_commit(c, &err));
    t = fresh();
    q.match[0] = (obia_qido_match){0x00080050, "NEWACC"};
    assert_true(obia_catalog_qido(c, &q, keep, t, &more, &err));
    assert_int_equal(t->n, 1);
    expect_cell(t, 0, "00100010", "NEW^PATIENT");
    expect_cell(t, 0, "00100020", "NEWPID");
    expect_cell(t, 0, "00080030", "120000");
    expect_cell(t, 0, "00080090", "WHO^DR");
    expect_cell(t, 0, "00100030", "19800101");
    expect_cell(t, 0, "00200010", "7");
    free(t);
    t = fresh();
    q.level = OBIA_QIDO_INSTANCE;
    q.match[0] = (obia_qido_match){0x00080018, "2.25.7711"};
    assert_true(obia_catalog_qido(c, &q, keep, t, &more, &err));
    expect_cell(t, 0, "00280100", "16");
    free(t);
    obia_catalog_close(c);

    assert_true(has_index(path, "study", "study_date"));
    assert_true(has_index(path, "study", "study_patient_id"));
    assert_true(has_index(path, "study", "study_accession_number"));
    assert_true(has_index(path, "series", "series_study"));
    assert_true(has_index(path, "image", "image_series"));
    assert_false(has_index(path, "series", "series_review"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qido_keys),
        cmocka_unit_test(test_qido_studies),
        cmocka_unit_test(test_qido_paging),
        cmocka_unit_test(test_qido_series_instances),
        cmocka_unit_test(test_qido_public),
        cmocka_unit_test(test_collections),
        cmocka_unit_test(test_is_public),
        cmocka_unit_test(test_children),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_facets),
        cmocka_unit_test(test_stats),
    };
    const struct CMUnitTest migration[] = {
        cmocka_unit_test(test_migration),
    };
    int failed = cmocka_run_group_tests_name("catalog web", tests, setup, teardown);
    return failed + cmocka_run_group_tests_name("catalog migration", migration, setup, teardown);
}
