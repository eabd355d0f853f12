/* The PHI review report of a collection: the catalog lists the images, the
 * store gives their headers, the keys database what the originals were. */
#include "obia/catalog.h"
#include "obia/deid.h"
#include "obia/ingest.h"
#include "obia/store.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct known_load {
    obia_hash_set *set;
    bool nomem;
} known_load;

static void known_put(void *ctx, const uint8_t h[16])
{
    known_load *l = ctx;
    if (!l->nomem && obia_hash_set_add(l->set, h) < 0)
        l->nomem = true;
}

typedef struct image_ref {
    char hash[65];
    char individual[17];
} image_ref;

typedef struct job {
    obia_store *store;
    obia_deid_keys *keys;
    const obia_hash_set *known;
    image_ref *images;
    size_t nimages;
    size_t next;
    pthread_mutex_t lock;
    obia_error err;      /* the first failure */
    bool failed;
} job;

/* One worker: its report, and the individual of the image it is counting. */
typedef struct worker_ctx {
    job *j;
    obia_qc_report *report;
    const char *individual;
} worker_ctx;

static unsigned known(void *ctx, const char *individual, const char *value, size_t len,
                      obia_vr vr)
{
    (void)individual; /* the catalog's individual is the one that counts */
    worker_ctx *w = ctx;
    const job *j = w->j;
    uint8_t h[16];
    if (vr == OBIA_VR_DA || vr == OBIA_VR_DT) {
        char d[8];
        size_t n = 0;
        for (size_t i = 0; i < len && n < 8; i++)
            if (isdigit((unsigned char)value[i]))
                d[n++] = value[i];
        if (n < 8)
            return 0;
        obia_deid_keys_hash(j->keys, w->individual, d, 8, h);
        return obia_hash_set_has(j->known, h) ? OBIA_QC_FLAG_DATE : 0;
    }
    /* code strings hold defined terms (ORIGINAL\PRIMARY, PERFUSION), which
     * names split into parts would match */
    if (vr == OBIA_VR_CS)
        return 0;
    obia_deid_keys_hash(j->keys, "", value, len, h);
    if (obia_hash_set_has(j->known, h))
        return OBIA_QC_FLAG_KNOWN;
    /* the parts of the value (4 characters or more): a name's components,
     * an ID within text (not of AE titles) */
    if (vr == OBIA_VR_AE)
        return 0;
    for (size_t a = 0, b; a < len; a = b + 1) {
        for (b = a; b < len && ((unsigned char)value[b] >= 0x80 || isalnum((unsigned char)value[b]));
             b++)
            ;
        if (b - a >= 4 && b - a < len) {
            obia_deid_keys_hash(j->keys, "", value + a, b - a, h);
            if (obia_hash_set_has(j->known, h))
                return OBIA_QC_FLAG_KNOWN;
        }
    }
    return 0;
}

static void *work(void *arg)
{
    worker_ctx *w = arg;
    job *j = w->j;
    obia_read_options ro;
    obia_read_options_init(&ro);
    ro.header_only = true;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->failed ? j->nimages : j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->nimages)
            return NULL;
        char path[4200];
        obia_error err;
        obia_error_clear(&err);
        obia_file *f = NULL;
        bool ok = obia_store_path(j->store, j->images[i].hash, path, sizeof path) &&
                  (f = obia_file_read(path, &ro, &err)) != NULL;
        if (ok) {
            w->individual = j->images[i].individual;
            ok = obia_qc_report_add(w->report, obia_file_dataset(f), &err);
        } else if (!err.message[0]) {
            obia_error_set(&err, OBIA_E_IO, "object %s is not in the store", j->images[i].hash);
        }
        obia_file_free(f);
        if (!ok) {
            pthread_mutex_lock(&j->lock);
            if (!j->failed)
                obia_error_set(&j->err, err.code, "%s", err.message);
            j->failed = true;
            pthread_mutex_unlock(&j->lock);
        }
    }
}

typedef struct image_list {
    image_ref *v;
    size_t n, cap;
    bool nomem;
} image_list;

static bool image_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    image_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        image_ref *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->nomem = true;
            return false;
        }
        l->v = v;
        l->cap = cap;
    }
    image_ref *r = &l->v[l->n++];
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "object_hash") == 0 && values[i])
            snprintf(r->hash, sizeof r->hash, "%s", values[i]);
        else if (strcmp(names[i], "individual") == 0 && values[i])
            snprintf(r->individual, sizeof r->individual, "%s", values[i]);
    }
    return true;
}

bool obia_ingest_report(obia_archive *a, const char *collection, int jobs, obia_qc_report **out,
                        obia_error *err)
{
    *out = NULL;
    char path[4200];
    image_list l = {0};
    obia_hash_set ks = {0};
    job j = {0};
    worker_ctx *w = NULL;
    pthread_t *threads = NULL;
    long started = 0;
    pthread_mutex_init(&j.lock, NULL);
    obia_catalog *cat = obia_catalog_open(obia_archive_file(a, "catalog.db", path, sizeof path),
                                          false, err);
    char profile[16];
    bool ok = cat && obia_catalog_collection_profile(cat, collection, profile, err) &&
              obia_catalog_collection_images(cat, collection, image_row, &l, err);
    if (ok && l.nomem)
        ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory listing the images");
    obia_catalog_close(cat);
    size_t nrep;
    const char *const *reps = obia_archive_replicas(a, &nrep);
    ok = ok &&
         (j.keys = obia_deid_keys_open(obia_archive_file(a, "keys.db", path, sizeof path), err)) &&
         (j.store = obia_store_open(obia_archive_file(a, "store", path, sizeof path), reps, nrep,
                                    err));
    /* the remembered hashes, in memory */
    known_load load = {&ks, false};
    ok = ok && obia_deid_keys_known(j.keys, known_put, &load, err);
    if (ok && load.nomem)
        ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory loading the known values");
    if (ok) {
        j.known = &ks;
        j.images = l.v;
        j.nimages = l.n;
        obia_error_clear(&j.err);
        if (jobs <= 0)
            jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (jobs < 1)
            jobs = 1;
        w = calloc((size_t)jobs, sizeof *w);
        threads = calloc((size_t)jobs, sizeof *threads);
        ok = w && threads;
        for (int i = 0; ok && i < jobs; i++) {
            w[i].j = &j;
            ok = (w[i].report = obia_qc_report_new(known, &w[i])) != NULL;
        }
        if (!ok)
            obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    }
    if (ok) {
        for (int i = 1; i < jobs; i++, started++)
            if (pthread_create(&threads[i], NULL, work, &w[i]) != 0)
                break;
        work(&w[0]);
        for (long i = 1; i <= started; i++)
            pthread_join(threads[i], NULL);
        if (j.failed)
            ok = obia_error_set(err, j.err.code, "%s", j.err.message);
        for (long i = 1; ok && i <= started; i++)
            ok = obia_qc_report_merge(w[0].report, w[i].report, err);
    }
    if (ok) {
        obia_qc_report_finish(w[0].report);
        *out = w[0].report;
        w[0].report = NULL;
    }
    for (int i = 0; w && i < jobs; i++)
        obia_qc_report_free(w[i].report);
    free(w);
    free(threads);
    obia_hash_set_free(&ks);
    free(l.v);
    obia_store_close(j.store);
    obia_deid_keys_close(j.keys);
    pthread_mutex_destroy(&j.lock);
    return ok;
}
