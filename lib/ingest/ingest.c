/* The ingest pipeline: workers parse, de-identify, check and store; the
 * catalog, the keys database and the outcomes are shared under one lock,
 * and catalog rows are committed in batches. */
#include "obia/ingest.h"
#include "obia/catalog.h"
#include "obia/deid.h"
#include "obia/dicom.h"
#include "obia/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct pending {
    size_t index;
    obia_ingest_outcome outcome;
    uint64_t bytes;
    char detail[192];
} pending;

typedef struct run {
    obia_archive *a;
    const obia_ingest_options *opt;
    obia_catalog *cat;
    obia_store *store;
    obia_deid_keys *keys;
    obia_deid_config deid;
    bool deidentify;
    const char *const *files;
    size_t nfiles;
    size_t next;
    uint64_t done;
    uint64_t max_file_size;
    long batch;
    pthread_mutex_t lock;       /* everything below, the catalog and the keys */
    bool in_txn;
    pending *pending;
    size_t npending;
    obia_ingest_summary sum;
    FILE *log;
    char quarantine[4096];
    obia_error fatal;
    bool stop;
} run;

/* ---- outcomes ------------------------------------------------------------------ */

static const char *outcome_name(obia_ingest_outcome o)
{
    static const char *const names[] = {"accepted", "duplicate", "quarantined", "failed"};
    return names[o];
}

/* The archive's log: index of the file in the run, outcome and detail;
 * never the input's path, which may name the patient. */
static void log_outcome(run *r, size_t index, obia_ingest_outcome o, const char *detail)
{
    if (!r->log)
        return;
    fprintf(r->log, "{\"n\":%zu,\"outcome\":\"%s\",\"detail\":", index, outcome_name(o));
    obia_json_fputs(r->log, detail);
    fputs("}\n", r->log);
}

/* Final outcome of a file (lock held). */
static void emit(run *r, size_t index, obia_ingest_outcome o, const char *detail, uint64_t bytes)
{
    switch (o) {
    case OBIA_INGEST_ACCEPTED: r->sum.accepted++; r->sum.bytes_stored += bytes; break;
    case OBIA_INGEST_DUPLICATE: r->sum.duplicates++; break;
    case OBIA_INGEST_QUARANTINED: r->sum.quarantined++; break;
    case OBIA_INGEST_FAILED: r->sum.failed++; break;
    }
    log_outcome(r, index, o, detail);
    if (r->opt->on_outcome)
        r->opt->on_outcome(r->opt->ctx, r->files[index], o, detail);
    r->done++;
    if (r->opt->on_progress)
        r->opt->on_progress(r->opt->ctx, r->done, r->nfiles);
}

/* Commit the open batch and report its files (lock held). */
static bool flush(run *r)
{
    if (!r->in_txn)
        return true;
    obia_error err;
    obia_error_clear(&err);
    bool ok = obia_catalog_commit(r->cat, &err);
    r->in_txn = false;
    if (!ok) {
        obia_catalog_rollback(r->cat);
        if (!r->stop)
            obia_error_set(&r->fatal, OBIA_E_IO, "%s", err.message);
        r->stop = true;
    }
    for (size_t i = 0; i < r->npending; i++) {
        pending *p = &r->pending[i];
        if (ok)
            emit(r, p->index, p->outcome, p->detail, p->bytes);
        else
            emit(r, p->index, OBIA_INGEST_FAILED, err.message, 0);
    }
    r->npending = 0;
    return ok;
}

static void finish_now(run *r, size_t index, obia_ingest_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finish_now(run *r, size_t index, obia_ingest_outcome o, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&r->lock);
    emit(r, index, o, detail, 0);
    pthread_mutex_unlock(&r->lock);
}

/* ---- identities: the catalog's accessions, remembered in the keys database ---- */

static bool identify(void *ctx, const char *issuer, const char *patient_id, const char *fallback,
                     obia_deid_identity *out, obia_error *err)
{
    run *r = ctx;
    const char *coll = r->opt->collection;
    pthread_mutex_lock(&r->lock);
    bool found;
    bool ok = obia_deid_keys_find(r->keys, coll, issuer, patient_id, fallback, out, &found, err);
    if (ok && !found) {
        /* A new individual gets its accession in a transaction of its own,
         * committed before the keys database names it, so no image can
         * refer to an accession the catalog lost. */
        char acc[16];
        ok = flush(r) && obia_catalog_begin(r->cat, err);
        if (ok && !(ok = obia_catalog_individual_new(r->cat, coll, acc, err)))
            obia_catalog_rollback(r->cat);
        ok = ok && obia_catalog_commit(r->cat, err);
        ok = ok && obia_deid_keys_add(r->keys, coll, issuer, patient_id, fallback, acc, out, err);
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

/* ---- one file ---------------------------------------------------------------------- */

static const char *text(const obia_dataset *ds, uint32_t tag, obia_buf *b)
{
    obia_buf_reset(b);
    const char *s = obia_dataset_get_cstr(ds, tag, b);
    return s && *s ? s : NULL;
}

static long number(const obia_dataset *ds, uint32_t tag)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    int64_t v;
    return el && obia_element_vm(el) && obia_element_get_int(el, 0, &v, NULL) ? (long)v : 0;
}

/* Keep a flagged image (de-identified) for review: quarantine/COLLECTION/UID.dcm */
static bool keep_in_quarantine(run *r, const obia_file *f, const char *uid, char *where,
                               size_t cap, obia_error *err)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", r->quarantine, r->opt->collection);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return obia_error_set(err, OBIA_E_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(where, cap, "%s/%s.dcm", dir, uid);
    return obia_file_write_path(f, OBIA_WRITE_EXPLICIT_LE, where, err);
}

static void ingest_one(run *r, size_t index)
{
    const char *path = r->files[index];
    struct stat st;
    if (stat(path, &st) != 0) {
        finish_now(r, index, OBIA_INGEST_QUARANTINED, "unreadable: %s", strerror(errno));
        return;
    }
    if ((uint64_t)st.st_size > r->max_file_size) {
        finish_now(r, index, OBIA_INGEST_QUARANTINED,
                   "too large: %lld bytes, more than [ingest] max_file_size",
                   (long long)st.st_size);
        return;
    }
    pthread_mutex_lock(&r->lock);
    r->sum.bytes_in += (uint64_t)st.st_size;
    pthread_mutex_unlock(&r->lock);

    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_read(path, NULL, &err);
    if (!f) {
        finish_now(r, index, OBIA_INGEST_QUARANTINED, "not readable as DICOM: %s", err.message);
        return;
    }
    obia_dataset *ds = obia_file_dataset(f);
    obia_buf b1, b2;
    obia_buf_init(&b1, 1u << 16);
    obia_buf_init(&b2, 1u << 16);
    /* the checks an archive cannot do without (the quality checks come
     * later), before any identity is made for the file */
    static const struct {
        uint32_t tag;
        const char *name;
    } required[] = {{OBIA_TAG(0x0008, 0x0016), "SOPClassUID"},
                    {OBIA_TAG(0x0008, 0x0018), "SOPInstanceUID"},
                    {OBIA_TAG(0x0020, 0x000D), "StudyInstanceUID"},
                    {OBIA_TAG(0x0020, 0x000E), "SeriesInstanceUID"}};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!text(ds, required[i].tag, &b1)) {
            finish_now(r, index, OBIA_INGEST_QUARANTINED, "no %s", required[i].name);
            goto out;
        }
    obia_deid_result res;
    memset(&res, 0, sizeof res);
    if (r->deidentify) {
        if (!obia_deid_file(f, &r->deid, NULL, NULL, &res, &err)) {
            bool archive_error = err.code == OBIA_E_IO;
            finish_now(r, index, archive_error ? OBIA_INGEST_FAILED : OBIA_INGEST_QUARANTINED,
                       "%s%s", archive_error ? "" : "cannot be de-identified: ", err.message);
            goto out;
        }
    } else {
        /* de-identified by the submitter: only the individual is looked up */
        const char *pid = text(ds, OBIA_TAG(0x0010, 0x0020), &b1);
        const char *study = text(ds, OBIA_TAG(0x0020, 0x000D), &b2);
        if (!identify(r, "", pid ? pid : "", study ? study : "", &res.identity, &err)) {
            finish_now(r, index, OBIA_INGEST_FAILED, "%s", err.message);
            goto out;
        }
    }

    char sop[65];
    snprintf(sop, sizeof sop, "%s", text(ds, OBIA_TAG(0x0008, 0x0018), &b1));
    if (res.flagged && (r->deid.options & OBIA_DEID_CLEAN_PIXEL_DATA)) {
        char where[4400];
        if (!keep_in_quarantine(r, f, sop, where, sizeof where, &err))
            finish_now(r, index, OBIA_INGEST_FAILED, "%s", err.message);
        else
            finish_now(r, index, OBIA_INGEST_QUARANTINED, "burned-in text: %s", res.reason);
        goto out;
    }

    /* durable in the store and every replica before the catalog knows it */
    obia_store_writer *w = obia_store_begin(r->store, &err);
    char hash[65];
    uint64_t size = 0;
    bool existed;
    bool written = w && obia_file_write(f, OBIA_WRITE_EXPLICIT_LE, obia_store_sink, w, &err);
    if (w && !written)
        obia_store_abort(w);
    /* commit frees the writer, whatever its outcome */
    if (!written || !obia_store_commit(w, hash, &size, &existed, &err)) {
        finish_now(r, index, OBIA_INGEST_FAILED, "%s", err.message);
        goto out;
    }

    const obia_element *px = obia_dataset_get(ds, OBIA_TAG(0x7FE0, 0x0010));
    obia_buf t[8];
    for (int i = 0; i < 8; i++)
        obia_buf_init(&t[i], 1u << 16);
    obia_catalog_image im = {
        .collection = r->opt->collection,
        .individual = res.identity.pseudonym,
        .sex = text(ds, OBIA_TAG(0x0010, 0x0040), &t[0]),
        .study_uid = text(ds, OBIA_TAG(0x0020, 0x000D), &t[1]),
        .study_date = text(ds, OBIA_TAG(0x0008, 0x0020), &t[2]),
        .study_description = text(ds, OBIA_TAG(0x0008, 0x1030), &t[3]),
        .age_at_study = text(ds, OBIA_TAG(0x0010, 0x1010), &t[4]),
        .series_uid = text(ds, OBIA_TAG(0x0020, 0x000E), &t[5]),
        .modality = text(ds, OBIA_TAG(0x0008, 0x0060), &t[6]),
        .body_part = text(ds, OBIA_TAG(0x0018, 0x0015), &t[7]),
        .series_description = text(ds, OBIA_TAG(0x0008, 0x103E), &b2),
        .series_number = number(ds, OBIA_TAG(0x0020, 0x0011)),
        .sop_class_uid = NULL,
        .sop_instance_uid = sop,
        .instance_number = number(ds, OBIA_TAG(0x0020, 0x0013)),
        .object_hash = hash,
        .size = size,
        .transfer_syntax = px && obia_element_is_encapsulated(px) ? obia_file_transfer_syntax(f)
                                                                    : OBIA_TS_EXPLICIT_LE,
        .rows = number(ds, OBIA_TAG(0x0028, 0x0010)),
        .columns = number(ds, OBIA_TAG(0x0028, 0x0011)),
        .frames = number(ds, OBIA_TAG(0x0028, 0x0008)),
    };
    obia_buf cls;
    obia_buf_init(&cls, 1u << 10);
    im.sop_class_uid = text(ds, OBIA_TAG(0x0008, 0x0016), &cls);
    if (im.frames == 0 && px)
        im.frames = 1;

    pthread_mutex_lock(&r->lock);
    obia_catalog_added added = OBIA_CATALOG_ADDED;
    bool ok = !r->stop && (r->in_txn || (r->in_txn = obia_catalog_begin(r->cat, &err)));
    ok = ok && obia_catalog_add_image(r->cat, &im, &added, &err);
    if (!ok) {
        if (!r->stop)
            emit(r, index, OBIA_INGEST_FAILED, err.message[0] ? err.message : "the run stopped", 0);
        else
            emit(r, index, OBIA_INGEST_FAILED, r->fatal.message, 0);
    } else if (added == OBIA_CATALOG_CONFLICT) {
        char d[256];
        snprintf(d, sizeof d,
                 "conflict: the archive holds another image with SOP Instance UID %s (or its "
                 "study under another individual)",
                 sop);
        emit(r, index, OBIA_INGEST_QUARANTINED, d, 0);
    } else {
        pending *p = &r->pending[r->npending++];
        p->index = index;
        p->outcome = added == OBIA_CATALOG_ADDED ? OBIA_INGEST_ACCEPTED : OBIA_INGEST_DUPLICATE;
        p->bytes = size;
        snprintf(p->detail, sizeof p->detail, "%s %s", res.identity.pseudonym, sop);
        if ((long)r->npending >= r->batch)
            flush(r);
    }
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < 8; i++)
        obia_buf_free(&t[i]);
    obia_buf_free(&cls);
out:
    obia_buf_free(&b1);
    obia_buf_free(&b2);
    obia_file_free(f);
}

static void *worker(void *arg)
{
    run *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        size_t i = r->stop ? r->nfiles : r->next;
        if (i < r->nfiles)
            r->next++;
        pthread_mutex_unlock(&r->lock);
        if (i >= r->nfiles)
            return NULL;
        ingest_one(r, i);
    }
}

/* ---- the run -------------------------------------------------------------------------- */

static unsigned profile_options(const char *profile, bool *deidentify)
{
    *deidentify = strcmp(profile, "none") != 0;
    return strcmp(profile, "basic") == 0 ? OBIA_DEID_PROFILE_BASIC : OBIA_DEID_PROFILE_OBIA;
}

bool obia_ingest_files(obia_archive *a, const obia_ingest_options *opt, const char *const *files,
                       size_t nfiles, obia_ingest_summary *summary, obia_error *err)
{
    memset(summary, 0, sizeof *summary);
    if (!opt->collection || !*opt->collection)
        return obia_error_set(err, OBIA_E_ARG, "no collection given");
    const obia_config *conf = obia_archive_config(a);
    run *r = calloc(1, sizeof *r);
    if (!r)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    r->a = a;
    r->opt = opt;
    r->files = files;
    r->nfiles = nfiles;
    r->batch = (long)obia_config_int(conf, "ingest", "batch");
    r->max_file_size = (uint64_t)obia_config_int(conf, "ingest", "max_file_size");
    r->pending = calloc((size_t)r->batch, sizeof *r->pending);
    obia_error_clear(&r->fatal);
    pthread_mutex_init(&r->lock, NULL);
    bool ok = r->pending != NULL || obia_error_set(err, OBIA_E_NOMEM, "out of memory");

    char path[4200];
    if (ok)
        ok = (r->cat = obia_catalog_open(obia_archive_file(a, "catalog.db", path, sizeof path),
                                         false, err)) != NULL;
    char profile[16];
    ok = ok && obia_catalog_collection_profile(r->cat, opt->collection, profile, err);
    if (ok)
        ok = (r->keys = obia_deid_keys_open(obia_archive_file(a, "keys.db", path, sizeof path),
                                            err)) != NULL;
    size_t nrep;
    const char *const *reps = obia_archive_replicas(a, &nrep);
    if (ok)
        ok = (r->store = obia_store_open(obia_archive_file(a, "store", path, sizeof path), reps,
                                         nrep, err)) != NULL;
    if (ok) {
        obia_deid_config_init(&r->deid);
        r->deid.options = profile_options(profile, &r->deidentify);
        obia_deid_keys_uid_key(r->keys, r->deid.uid_key);
        r->deid.identify = identify;
        r->deid.identify_ctx = r;
        obia_archive_file(a, "quarantine", r->quarantine, sizeof r->quarantine);
        /* the run's log: logs/ingest-TIME-PID.jsonl */
        char name[128];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(name, sizeof name, "logs/ingest-%Y%m%dT%H%M%SZ", &tm);
        snprintf(name + strlen(name), sizeof name - strlen(name), "-%ld.jsonl", (long)getpid());
        r->log = fopen(obia_archive_file(a, name, path, sizeof path), "w");
        if (!r->log)
            ok = obia_error_set(err, OBIA_E_IO, "cannot create %s: %s", path, strerror(errno));
    }
    if (ok) {
        long jobs = opt->jobs > 0 ? opt->jobs : (long)obia_config_int(conf, "ingest", "jobs");
        if (jobs <= 0)
            jobs = sysconf(_SC_NPROCESSORS_ONLN);
        if (jobs < 1)
            jobs = 1;
        if ((size_t)jobs > nfiles)
            jobs = nfiles ? (long)nfiles : 1;
        pthread_t *threads = calloc((size_t)jobs, sizeof *threads);
        long started = 0;
        for (long j = 1; threads && j < jobs; j++, started++)
            if (pthread_create(&threads[j], NULL, worker, r) != 0)
                break;
        worker(r);
        for (long j = 1; j <= started; j++)
            pthread_join(threads[j], NULL);
        free(threads);
        pthread_mutex_lock(&r->lock);
        flush(r);
        pthread_mutex_unlock(&r->lock);
        /* files never started because the run stopped */
        for (size_t i = r->next; i < nfiles; i++)
            emit(r, i, OBIA_INGEST_FAILED, r->fatal.message, 0);
        if (r->stop)
            ok = obia_error_set(err, r->fatal.code, "%s", r->fatal.message);
    }
    if (r->log) {
        if (fflush(r->log) != 0 || fsync(fileno(r->log)) != 0)
            ok = ok && obia_error_set(err, OBIA_E_IO, "cannot write the ingest log: %s", strerror(errno));
        fclose(r->log);
    }
    *summary = r->sum;
    if (r->keys)
        obia_deid_keys_sync(r->keys, NULL);
    obia_store_close(r->store);
    obia_deid_keys_close(r->keys);
    obia_catalog_close(r->cat);
    pthread_mutex_destroy(&r->lock);
    free(r->pending);
    free(r);
    return ok;
}
