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
    assert_int_equal(obia_catalog_schema_version(c), 1);

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
    assert_int_equal(added, OBIA_CATALOG_CONFLICT);
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
    assert_true(obia_catalog_stats(c, NULL, count_rows, &n, &err));
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
        cmocka_unit_test_setup_teardown(test_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
