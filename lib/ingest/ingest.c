/* The ingest pipeline: workers parse, de-identify, check and store; the
 * catalog, the keys database and the outcomes are shared under one lock,
 * and catalog rows are committed in batches. */
#include "obia/ingest.h"
#include "obia/catalog.h"
#include "obia/store.h"
#include "obia/catalog.h"
#include "obia/deid.h"
#include "obia/dicom.h"
#include "obia/qc.h"
#include "obia/store.h"

#include <ctype.h>
#include <openssl/evp.h>
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
    char series_uid[65];        /* of an accepted image, for the series checks */
    char detail[512];
} pending;

/* A quarantined item going through the pipeline again (repair, release). */
typedef struct item_ctx {
    char id[16];
    char note[600];             /* what the curator did, for the audit log */
    bool deidentified;          /* its kept bytes: de-identified already */
    bool accept_burned_in;      /* released by a curator */
    bool accept_characteristics;
    bool had_bytes;
    char source_ref[40];
} item_ctx;

typedef struct run {
    obia_archive *a;
    const obia_ingest_options *opt;
    obia_catalog *cat;
    obia_store *store;
    obia_deid_keys *keys;
    obia_deid_config deid;
    bool deidentify;
    item_ctx *item;
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
    obia_hash_set known;        /* remembered in the keys database this run */
    uint8_t (*new_known)[16];   /* to remember at the next commit */
    size_t nnew_known, cap_new_known;
    char (*touched)[65];        /* series images were added to */
    size_t ntouched, cap_touched;
    obia_ingest_summary sum;
    FILE *log;
    char quarantine[4096];
    obia_error fatal;
    bool stop;
    /* a session (files one by one from memory): the current input's name
     * and the outcome of the last file */
    const char *session_name;
    obia_ingest_outcome last_outcome;
    char last_detail[512];
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
    r->last_outcome = o;
    snprintf(r->last_detail, sizeof r->last_detail, "%s", detail);
    if (r->opt->on_outcome)
        r->opt->on_outcome(r->opt->ctx, r->files ? r->files[index] : r->session_name, o, detail);
    r->done++;
    if (r->opt->on_progress)
        r->opt->on_progress(r->opt->ctx, r->done, r->nfiles);
}

static void touch(run *r, const char *series_uid)
{
    if (!*series_uid ||
        (r->ntouched && strcmp(r->touched[r->ntouched - 1], series_uid) == 0))
        return;
    if (r->ntouched == r->cap_touched) {
        size_t cap = r->cap_touched ? 2 * r->cap_touched : 64;
        char(*t)[65] = realloc(r->touched, cap * sizeof *t);
        if (!t)
            return; /* the series goes unchecked; obia qc check redoes it */
        r->touched = t;
        r->cap_touched = cap;
    }
    snprintf(r->touched[r->ntouched++], 65, "%s", series_uid);
}

/* Commit the open batch and report its files (lock held). */
static bool flush(run *r)
{
    obia_error err;
    obia_error_clear(&err);
    /* the original values this batch's images had, for the PHI report */
    if (r->nnew_known && !obia_deid_keys_remember(r->keys, r->new_known, r->nnew_known, &err)) {
        if (!r->stop)
            obia_error_set(&r->fatal, OBIA_E_IO, "%s", err.message);
        r->stop = true;
    }
    r->nnew_known = 0;
    /* (outcomes that wrote nothing -- duplicates -- may be pending without
     * a transaction: they are reported all the same) */
    bool ok = !r->in_txn || (!r->stop && obia_catalog_commit(r->cat, &err));
    bool had_txn = r->in_txn;
    r->in_txn = false;
    if (!ok && had_txn) {
        obia_catalog_rollback(r->cat);
        if (!r->stop)
            obia_error_set(&r->fatal, OBIA_E_IO, "%s", err.message);
        r->stop = true;
    }
    for (size_t i = 0; i < r->npending; i++) {
        pending *p = &r->pending[i];
        if (ok) {
            emit(r, p->index, p->outcome, p->detail, p->bytes);
            if (p->outcome == OBIA_INGEST_ACCEPTED)
                touch(r, p->series_uid);
        } else {
            emit(r, p->index, OBIA_INGEST_FAILED, r->fatal.message, 0);
        }
    }
    r->npending = 0;
    return ok;
}

/* Queue an outcome for the open batch (lock held). */
static void queue(run *r, size_t index, obia_ingest_outcome o, uint64_t bytes,
                  const char *series_uid, const char *detail)
{
    pending *p = &r->pending[r->npending++];
    p->index = index;
    p->outcome = o;
    p->bytes = bytes;
    snprintf(p->series_uid, sizeof p->series_uid, "%s", series_uid ? series_uid : "");
    snprintf(p->detail, sizeof p->detail, "%s", detail);
    if ((long)r->npending >= r->batch)
        flush(r);
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

/* ---- known values ------------------------------------------------------------------ */

/* What an image said about its patient before de-identification: the
 * identifiers and names (whole values and name parts), and the dates. */
typedef struct originals {
    obia_buf ids;      /* NUL-separated */
    obia_buf dates;    /* NUL-separated, digits */
    char sex[16];
    char birth[32];
} originals;

/* A value (at least min letters or digits) for the known list. */
static void add_value(obia_buf *b, const char *v, size_t n, size_t min)
{
    size_t alnum = 0;
    for (size_t i = 0; i < n; i++)
        alnum += ((unsigned char)v[i] >= 0x80) || isalnum((unsigned char)v[i]);
    if (alnum >= min && !obia_qc_filler(v, n)) {   /* else every image would match */
        obia_buf_append(b, v, n);
        obia_buf_append_byte(b, 0);
    }
}

static void collect_originals(const obia_dataset *ds, originals *o)
{
    static const uint32_t ids[] = {
        OBIA_TAG(0x0010, 0x0020), OBIA_TAG(0x0010, 0x1000), OBIA_TAG(0x0010, 0x0010),
        OBIA_TAG(0x0010, 0x1001), OBIA_TAG(0x0010, 0x1005), OBIA_TAG(0x0010, 0x1060),
        OBIA_TAG(0x0010, 0x2154), OBIA_TAG(0x0008, 0x0050), OBIA_TAG(0x0010, 0x1090),
        OBIA_TAG(0x0020, 0x0010), OBIA_TAG(0x0010, 0x1040),
    };
    obia_buf t;
    obia_buf_init(&t, 1u << 16);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const obia_element *el = obia_dataset_get(ds, ids[i]);
        obia_buf_reset(&t);
        if (!el || !obia_element_get_text(ds, el, &t, NULL) || t.len == 0)
            continue;
        const char *v = (const char *)t.data;
        bool pn = obia_element_vr(el) == OBIA_VR_PN;
        /* each value, and for names each part */
        for (size_t a = 0, b; a <= t.len; a = b + 1) {
            for (b = a; b < t.len && v[b] != '\\'; b++)
                ;
            add_value(&o->ids, v + a, b - a, 3);
            for (size_t x = a, y; pn && x < b; x = y + 1) {
                for (y = x; y < b && v[y] != '^' && v[y] != '=' && v[y] != ' '; y++)
                    ;
                if (y - x < b - a)
                    add_value(&o->ids, v + x, y - x, 4);
            }
        }
    }
    /* the Patient IDs of Other Patient IDs Sequence */
    const obia_element *seq = obia_dataset_get(ds, OBIA_TAG(0x0010, 0x1002));
    for (size_t i = 0; seq && i < obia_element_item_count(seq); i++) {
        obia_buf_reset(&t);
        const char *v = obia_dataset_get_cstr(obia_element_item(seq, i), OBIA_TAG(0x0010, 0x0020), &t);
        if (v)
            add_value(&o->ids, v, strlen(v), 3);
    }
    /* every top-level date */
    for (size_t i = 0; i < obia_dataset_count(ds); i++) {
        const obia_element *el = obia_dataset_at(ds, i);
        obia_vr vr = obia_element_vr(el);
        if (vr != OBIA_VR_DA && vr != OBIA_VR_DT)
            continue;
        obia_buf_reset(&t);
        if (!obia_element_get_text(ds, el, &t, NULL))
            continue;
        const char *v = (const char *)t.data;
        for (size_t a = 0, b; a <= t.len; a = b + 1) {
            for (b = a; b < t.len && v[b] != '\\'; b++)
                ;
            char d[9];
            size_t n = 0;
            for (size_t k = a; k < b && n < 8; k++)
                if (isdigit((unsigned char)v[k]))
                    d[n++] = v[k];
            if (n == 8) {
                obia_buf_append(&o->dates, d, 8);
                obia_buf_append_byte(&o->dates, 0);
            }
        }
    }
    obia_buf_reset(&t);
    const char *sex = obia_dataset_get_cstr(ds, OBIA_TAG(0x0010, 0x0040), &t);
    snprintf(o->sex, sizeof o->sex, "%s", sex ? sex : "");
    obia_buf_reset(&t);
    const char *birth = obia_dataset_get_cstr(ds, OBIA_TAG(0x0010, 0x0030), &t);
    snprintf(o->birth, sizeof o->birth, "%s", birth ? birth : "");
    obia_buf_free(&t);
}

/* Hash the originals (identifiers and names alone, dates with the
 * individual) and queue those new to the run (lock held). */
static void remember_originals(run *r, const originals *o, const char *individual)
{
    const obia_buf *lists[2] = {&o->ids, &o->dates};
    for (int l = 0; l < 2; l++) {
        const char *v = (const char *)lists[l]->data;
        for (size_t a = 0; v && a < lists[l]->len; a += strlen(v + a) + 1) {
            uint8_t h[16];
            obia_deid_keys_hash(r->keys, l ? individual : "", v + a, strlen(v + a), h);
            if (obia_hash_set_add(&r->known, h) == 0)
                continue;   /* (out of memory: remembered again rather than lost) */
            if (r->nnew_known == r->cap_new_known) {
                size_t cap = r->cap_new_known ? 2 * r->cap_new_known : 256;
                uint8_t(*nk)[16] = realloc(r->new_known, cap * 16);
                if (!nk)
                    continue;
                r->new_known = nk;
                r->cap_new_known = cap;
            }
            memcpy(r->new_known[r->nnew_known++], h, 16);
        }
    }
}

/* A fingerprint of an original value: hex of its keyed hash, or NULL. */
static const char *fingerprint(run *r, const char *what, const char *value, char out[33])
{
    if (!value || !*value)
        return NULL;
    uint8_t h[16];
    obia_deid_keys_hash(r->keys, what, value, strlen(value), h);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    return out;
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

static const char *whole_text(const obia_dataset *ds, uint32_t tag, obia_buf *b)
{
    obia_buf_reset(b);
    const obia_element *el = obia_dataset_get(ds, tag);
    if (!el || !obia_element_get_text(ds, el, b, NULL) || b->len == 0)
        return NULL;
    return obia_buf_cstr(b);
}

static long number(const obia_dataset *ds, uint32_t tag, bool *has)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    int64_t v;
    bool ok = el && obia_element_vm(el) && obia_element_get_int(el, 0, &v, NULL);
    if (has)
        *has = ok;
    return ok ? (long)v : 0;
}

/* Quarantine a file (lock held): kept (de-identified) is written to
 * quarantine/ID.dcm, or else the source path is remembered in the keys
 * database. The outcome joins the open batch. */
static void quarantine_locked(run *r, size_t index, const obia_file *kept, const char *source,
                              const obia_qc_findings *F, const char *sop, const char *individual)
{
    obia_error err;
    obia_error_clear(&err);
    char ref[40] = "";
    const char *refp = NULL;
    bool ok = !r->stop;
    if (ok && !kept) {
        if (r->item && r->item->source_ref[0]) {
            refp = r->item->source_ref;
        } else if (source) {
            ok = obia_deid_keys_source_put(r->keys, source, ref, &err);
            refp = ref;
        }
    }
    ok = ok && (r->in_txn || (r->in_txn = obia_catalog_begin(r->cat, &err)));
    obia_catalog_quarantine q = {
        .collection = r->opt->collection,
        .findings = F,
        .has_bytes = kept != NULL,
        .source_ref = refp,
        .sop_instance_uid = kept ? sop : NULL,
        .individual = kept ? individual : NULL,
        .who = r->opt->who,
        .note = r->item ? r->item->note : NULL,
    };
    char id[16] = "";
    if (ok && r->item) {
        snprintf(id, sizeof id, "%s", r->item->id);
        ok = obia_catalog_quarantine_refind(r->cat, id, &q, &err);
    } else if (ok) {
        ok = obia_catalog_quarantine_add(r->cat, &q, id, &err);
    }
    char where[4200];
    snprintf(where, sizeof where, "%s/%s.dcm", r->quarantine, id);
    if (ok && kept)
        ok = obia_file_write_path_sync(kept, OBIA_WRITE_EXPLICIT_LE, where, true, &err);
    /* de-identified now: where the original came from is not needed any more */
    if (ok && kept && r->item && r->item->source_ref[0] &&
        obia_deid_keys_source_drop(r->keys, r->item->source_ref, NULL))
        r->item->source_ref[0] = '\0';
    else if (ok && r->item && r->item->had_bytes)
        unlink(where);
    if (!ok) {
        emit(r, index, OBIA_INGEST_FAILED, r->stop ? r->fatal.message : err.message, 0);
        return;
    }
    char codes[300], detail[512];
    obia_qc_codes(F, codes, sizeof codes);
    snprintf(detail, sizeof detail, "%s %s: %.200s", id, codes, F->count ? F->items[0].detail : "");
    queue(r, index, OBIA_INGEST_QUARANTINED, 0, NULL, detail);
}

static void quarantine(run *r, size_t index, const obia_file *kept, const char *source,
                       const obia_qc_findings *F, const char *sop, const char *individual)
{
    pthread_mutex_lock(&r->lock);
    quarantine_locked(r, index, kept, source, F, sop, individual);
    pthread_mutex_unlock(&r->lock);
}

/* A file that could not be read or checked: no bytes, its path. */
static void quarantine_unread(run *r, size_t index, const char *source, const char *code,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void quarantine_unread(run *r, size_t index, const char *source, const char *code,
                              const char *fmt, ...)
{
    obia_qc_findings F = {0};
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    obia_qc_add(&F, code, "%s", msg);
    quarantine(r, index, NULL, source, &F, NULL, NULL);
}

/* The store's name for a file (SHA-256 of its Part 10 bytes), without
 * storing it. */
static bool hash_sink(void *ctx, const void *p, size_t n)
{
    return EVP_DigestUpdate(ctx, p, n) == 1;
}

static bool hash_of(const obia_file *f, char hash[65], uint64_t *size, obia_error *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int dl = 0;
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
              obia_file_write(f, OBIA_WRITE_EXPLICIT_LE, hash_sink, md, err) &&
              EVP_DigestFinal_ex(md, d, &dl) == 1 && dl == 32;
    EVP_MD_CTX_free(md);
    if (!ok) {
        if (!err->message[0])
            obia_error_set(err, OBIA_E_NOMEM, "cannot hash an image");
        return false;
    }
    for (int i = 0; i < 32; i++)
        snprintf(hash + 2 * i, 3, "%02x", d[i]);
    *size = 0;
    return true;
}

/* Parse -> checks -> de-identify -> checks -> store -> catalog. */
static void process(run *r, size_t index, obia_file *f, const char *source)
{
    obia_dataset *ds = obia_file_dataset(f);
    bool kept_deid = r->item && r->item->deidentified;
    obia_qc_findings F = {0};
    obia_qc_check_file(f, &F);
    if (obia_qc_has(&F, "header-empty") || obia_qc_has(&F, "header-missing") ||
        obia_qc_has(&F, "patient-id-missing")) {
        /* no identity to de-identify it under: nothing of it is kept but
         * where it came from (bytes already de-identified stay kept) */
        quarantine(r, index, kept_deid ? f : NULL, source, &F, NULL, NULL);
        return;
    }
    /* broken pixels (truncated, wrong length, fragments) are de-identified
     * and kept so, with their findings, for the curator */
    obia_error err;
    obia_error_clear(&err);
    obia_buf b1, b2;
    obia_buf_init(&b1, 1u << 16);
    obia_buf_init(&b2, 1u << 16);
    originals orig;
    memset(&orig, 0, sizeof orig);
    obia_buf_init(&orig.ids, 1u << 16);
    obia_buf_init(&orig.dates, 1u << 16);
    if (!kept_deid)
        collect_originals(ds, &orig);

    obia_deid_result res;
    memset(&res, 0, sizeof res);
    if (kept_deid) {
        /* the archive's own bytes: the individual is their Patient ID */
        const char *pid = text(ds, OBIA_TAG(0x0010, 0x0020), &b1);
        snprintf(res.identity.pseudonym, sizeof res.identity.pseudonym, "%s", pid ? pid : "");
    } else if (r->deidentify) {
        if (!obia_deid_file(f, &r->deid, NULL, NULL, &res, &err)) {
            if (err.code == OBIA_E_IO) {
                finish_now(r, index, OBIA_INGEST_FAILED, "%s", err.message);
            } else {
                obia_qc_add(&F, "deid-failed", "%s", err.message);
                quarantine(r, index, NULL, source, &F, NULL, NULL);
            }
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
    const char *sop_text = text(ds, OBIA_TAG(0x0008, 0x0018), &b1);
    snprintf(sop, sizeof sop, "%s", sop_text ? sop_text : "");
    bool burned_in = kept_deid ? obia_deid_burned_in_risk(ds, res.reason, sizeof res.reason)
                               : res.flagged;
    if (burned_in && (r->deid.options & OBIA_DEID_CLEAN_PIXEL_DATA) &&
        !(r->item && r->item->accept_burned_in))
        obia_qc_add(&F, "burned-in", "%s", res.reason);
    if (F.count) {
        pthread_mutex_lock(&r->lock);
        remember_originals(r, &orig, res.identity.pseudonym);
        quarantine_locked(r, index, f, source, &F, sop, res.identity.pseudonym);
        pthread_mutex_unlock(&r->lock);
        goto out;
    }

    const obia_element *px = obia_dataset_get(ds, OBIA_TAG(0x7FE0, 0x0010));
    enum { NT = 20 };
    obia_buf t[NT];
    for (int i = 0; i < NT; i++)
        obia_buf_init(&t[i], 1u << 16);
    char sex_fp[33], birth_fp[33];
    bool has_number;
    obia_catalog_image im = {
        .collection = r->opt->collection,
        .individual = res.identity.pseudonym,
        .sex = text(ds, OBIA_TAG(0x0010, 0x0040), &t[0]),
        .study_uid = text(ds, OBIA_TAG(0x0020, 0x000D), &t[1]),
        .study_date = text(ds, OBIA_TAG(0x0008, 0x0020), &t[2]),
        .study_description = text(ds, OBIA_TAG(0x0008, 0x1030), &t[3]),
        .age_at_study = text(ds, OBIA_TAG(0x0010, 0x1010), &t[4]),
        .study_time = text(ds, OBIA_TAG(0x0008, 0x0030), &t[13]),
        .accession_number = text(ds, OBIA_TAG(0x0008, 0x0050), &t[14]),
        .study_id = text(ds, OBIA_TAG(0x0020, 0x0010), &t[15]),
        .referring_physician = whole_text(ds, OBIA_TAG(0x0008, 0x0090), &t[16]),
        .patient_name = whole_text(ds, OBIA_TAG(0x0010, 0x0010), &t[17]),
        .patient_id = text(ds, OBIA_TAG(0x0010, 0x0020), &t[18]),
        .patient_birth_date = text(ds, OBIA_TAG(0x0010, 0x0030), &t[19]),
        .series_uid = text(ds, OBIA_TAG(0x0020, 0x000E), &t[5]),
        .modality = text(ds, OBIA_TAG(0x0008, 0x0060), &t[6]),
        .body_part = text(ds, OBIA_TAG(0x0018, 0x0015), &t[7]),
        .series_description = text(ds, OBIA_TAG(0x0008, 0x103E), &b2),
        .series_number = number(ds, OBIA_TAG(0x0020, 0x0011), NULL),
        .sop_class_uid = text(ds, OBIA_TAG(0x0008, 0x0016), &t[8]),
        .sop_instance_uid = sop,
        .instance_number = number(ds, OBIA_TAG(0x0020, 0x0013), &has_number),
        .transfer_syntax = px && obia_element_is_encapsulated(px) ? obia_file_transfer_syntax(f)
                                                                    : OBIA_TS_EXPLICIT_LE,
        .rows = number(ds, OBIA_TAG(0x0028, 0x0010), NULL),
        .columns = number(ds, OBIA_TAG(0x0028, 0x0011), NULL),
        .frames = number(ds, OBIA_TAG(0x0028, 0x0008), NULL),
        .bits_allocated = number(ds, OBIA_TAG(0x0028, 0x0100), NULL),
        .image_modality = text(ds, OBIA_TAG(0x0008, 0x0060), &t[9]),
        .frame_of_reference = text(ds, OBIA_TAG(0x0020, 0x0052), &t[10]),
        .position = whole_text(ds, OBIA_TAG(0x0020, 0x0032), &t[11]),
        .orientation = whole_text(ds, OBIA_TAG(0x0020, 0x0037), &t[12]),
        .sex_fp = kept_deid ? NULL : fingerprint(r, "sex", orig.sex, sex_fp),
        .birth_fp = kept_deid ? NULL : fingerprint(r, "birth", orig.birth, birth_fp),
        .accept_characteristics = r->item && r->item->accept_characteristics,
    };
    im.has_instance_number = has_number;
    if (im.frames == 0 && px)
        im.frames = 1;

    /* what the catalog would say, before anything is stored: an image it
     * refuses never reaches the store */
    char existing[65] = "", hash[65] = "";
    uint64_t size = 0;
    obia_catalog_added added = OBIA_CATALOG_ADDED;
    pthread_mutex_lock(&r->lock);
    remember_originals(r, &orig, res.identity.pseudonym);
    bool ok = !r->stop && obia_catalog_check_image(r->cat, &im, &added, existing, &err);
    pthread_mutex_unlock(&r->lock);
    if (ok && added == OBIA_CATALOG_DUPLICATE) {
        /* the instance is there: the same bytes, or a conflict */
        ok = hash_of(f, hash, &size, &err);
        added = ok && strcmp(hash, existing) == 0 ? OBIA_CATALOG_DUPLICATE : OBIA_CATALOG_CONFLICT;
    } else if (ok && added == OBIA_CATALOG_ADDED) {
        /* durable in the store and every replica before the catalog knows it */
        obia_store_writer *w = obia_store_begin(r->store, &err);
        bool existed;
        bool written = w && obia_file_write(f, OBIA_WRITE_EXPLICIT_LE, obia_store_sink, w, &err);
        if (w && !written)
            obia_store_abort(w);
        /* commit frees the writer, whatever its outcome */
        ok = written && obia_store_commit(w, hash, &size, &existed, &err);
    }
    if (!ok) {
        finish_now(r, index, OBIA_INGEST_FAILED, "%s",
                   r->stop ? r->fatal.message : err.message[0] ? err.message : "the run stopped");
        goto free_t;
    }
    im.object_hash = hash;
    im.size = size;

    pthread_mutex_lock(&r->lock);
    if (added == OBIA_CATALOG_ADDED) {
        /* (another worker may have added the instance meanwhile: then this
         * is a duplicate or a conflict after all) */
        ok = !r->stop && (r->in_txn || (r->in_txn = obia_catalog_begin(r->cat, &err)));
        ok = ok && obia_catalog_add_image(r->cat, &im, &added, &err);
    }
    if (!ok) {
        emit(r, index, OBIA_INGEST_FAILED,
             r->stop ? r->fatal.message : err.message[0] ? err.message : "the run stopped", 0);
    } else if (added == OBIA_CATALOG_ADDED || added == OBIA_CATALOG_DUPLICATE) {
        char detail[128];
        snprintf(detail, sizeof detail, "%s %s", res.identity.pseudonym, sop);
        queue(r, index, added == OBIA_CATALOG_ADDED ? OBIA_INGEST_ACCEPTED : OBIA_INGEST_DUPLICATE,
              size, im.series_uid, detail);
    } else {
        switch (added) {
        case OBIA_CATALOG_CONFLICT:
            obia_qc_add(&F, "uid-conflict",
                        "the archive holds another image with SOP Instance UID %s", sop);
            break;
        case OBIA_CATALOG_OTHER_INDIVIDUAL:
            obia_qc_add(&F, "other-patient",
                        "study %s or series %s belongs to another individual than %s",
                        im.study_uid, im.series_uid, res.identity.pseudonym);
            break;
        case OBIA_CATALOG_SERIES_CONFLICT:
            obia_qc_add(&F, "series-conflict", "series %s belongs to another study than %s",
                        im.series_uid, im.study_uid);
            break;
        default:
            obia_qc_add(&F, "patient-characteristics",
                        "patient sex or birth date differs from the other images of study %s",
                        im.study_uid);
            break;
        }
        quarantine_locked(r, index, f, source, &F, sop, res.identity.pseudonym);
    }
    pthread_mutex_unlock(&r->lock);
free_t:
    for (int i = 0; i < NT; i++)
        obia_buf_free(&t[i]);
out:
    obia_buf_free(&orig.ids);
    obia_buf_free(&orig.dates);
    obia_buf_free(&b1);
    obia_buf_free(&b2);
}

static void ingest_one(run *r, size_t index)
{
    const char *path = r->files[index];
    struct stat st;
    if (stat(path, &st) != 0) {
        quarantine_unread(r, index, path, "unreadable", "cannot read the file: %s",
                          strerror(errno));
        return;
    }
    if ((uint64_t)st.st_size > r->max_file_size) {
        quarantine_unread(r, index, path, "too-large",
                          "%lld bytes, more than [ingest] max_file_size", (long long)st.st_size);
        return;
    }
    pthread_mutex_lock(&r->lock);
    r->sum.bytes_in += (uint64_t)st.st_size;
    pthread_mutex_unlock(&r->lock);

    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_read(path, NULL, &err);
    if (!f) {
        quarantine_unread(r, index, path, "unreadable", "%s", err.message);
        return;
    }
    process(r, index, f, path);
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

/* ---- series checks ------------------------------------------------------------------- */

typedef struct series_rows {
    obia_qc_series_image *im;
    size_t n, cap;
    obia_arena *arena;
} series_rows;

static size_t parse_numbers(const char *s, double *out, size_t max)
{
    size_t n = 0;
    while (s && *s && n < max) {
        char *end;
        double v = strtod(s, &end);
        if (end == s)
            break;
        out[n++] = v;
        s = *end == '\\' ? end + 1 : end;
        if (*end != '\\')
            break;
    }
    return n;
}

static const char *adup(obia_arena *a, const char *s)
{
    return obia_arena_strndup(a, s, strlen(s));
}

static bool series_row(void *ctx, int n, const char *const *names, const char *const *v)
{
    (void)names;
    series_rows *s = ctx;
    if (n < 7)
        return false;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        obia_qc_series_image *im = realloc(s->im, cap * sizeof *im);
        if (!im)
            return false;
        s->im = im;
        s->cap = cap;
    }
    obia_qc_series_image *x = &s->im[s->n++];
    memset(x, 0, sizeof *x);
    x->sop_instance_uid = adup(s->arena, v[0] ? v[0] : "");
    x->modality = v[1] ? adup(s->arena, v[1]) : NULL;
    x->frame_of_reference = v[2] ? adup(s->arena, v[2]) : NULL;
    x->has_instance_number = v[3] != NULL;
    x->instance_number = v[3] ? atol(v[3]) : 0;
    x->has_geometry = parse_numbers(v[4], x->position, 3) == 3 &&
                      parse_numbers(v[5], x->orientation, 6) == 6;
    x->frames = v[6] ? atol(v[6]) : 1;
    return true;
}

static int cmp_uid(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Check the series touched and record their warnings, in one transaction. */
static bool check_series(obia_catalog *cat, char (*uids)[65], size_t n, obia_ingest_summary *sum,
                         obia_error *err)
{
    qsort(uids, n, sizeof *uids, cmp_uid);
    if (!obia_catalog_begin(cat, err))
        return false;
    bool ok = true;
    series_rows s = {0};
    for (size_t i = 0; ok && i < n; i++) {
        if (i && strcmp(uids[i], uids[i - 1]) == 0)
            continue;
        s.n = 0;
        obia_arena_free(s.arena);
        s.arena = obia_arena_new(1u << 16);
        ok = s.arena && obia_catalog_series_images(cat, uids[i], series_row, &s, err);
        obia_qc_findings F = {0};
        if (ok)
            obia_qc_check_series(s.im, s.n, &F);
        ok = ok && obia_catalog_series_findings_set(cat, uids[i], &F, err);
        sum->series_checked++;
        sum->series_warnings += F.count;
    }
    free(s.im);
    obia_arena_free(s.arena);
    if (ok)
        return obia_catalog_commit(cat, err);
    obia_catalog_rollback(cat);
    return false;
}

/* ---- the run -------------------------------------------------------------------------- */

static unsigned profile_options(const char *profile, bool *deidentify)
{
    *deidentify = strcmp(profile, "none") != 0;
    return strcmp(profile, "basic") == 0 ? OBIA_DEID_PROFILE_BASIC : OBIA_DEID_PROFILE_OBIA;
}

static void run_close(run *r)
{
    if (!r)
        return;
    if (r->keys)
        obia_deid_keys_sync(r->keys, NULL);
    obia_store_close(r->store);
    obia_deid_keys_close(r->keys);
    obia_catalog_close(r->cat);
    pthread_mutex_destroy(&r->lock);
    free(r->pending);
    obia_hash_set_free(&r->known);
    free(r->new_known);
    free(r->touched);
    free(r);
}

/* Open what a run needs: catalog, keys, store, the collection's profile and
 * the run's log. */
static run *run_open(obia_archive *a, const obia_ingest_options *opt, obia_error *err)
{
    if (!opt->collection || !*opt->collection) {
        obia_error_set(err, OBIA_E_ARG, "no collection given");
        return NULL;
    }
    const obia_config *conf = obia_archive_config(a);
    run *r = calloc(1, sizeof *r);
    if (!r) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    r->a = a;
    r->opt = opt;
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
        r->log = fopen(obia_archive_file(a, name, path, sizeof path), "a");
        if (!r->log)
            ok = obia_error_set(err, OBIA_E_IO, "cannot create %s: %s", path, strerror(errno));
    }
    if (!ok) {
        if (r->log)
            fclose(r->log);
        r->log = NULL;
        run_close(r);
        return NULL;
    }
    return r;
}

/* The thumbnails of the series the run added to (after check_series, which
 * sorted them); one that cannot be made is counted, not fatal. */
static void series_thumbnails(run *r)
{
    uint32_t size =
        (uint32_t)obia_config_int(obia_archive_config(r->a), "ingest", "thumbnail_size");
    for (size_t i = 0; size && i < r->ntouched; i++) {
        if (i && strcmp(r->touched[i], r->touched[i - 1]) == 0)
            continue;
        char hash[65];
        obia_error e;
        obia_error_clear(&e);
        if (obia_thumbnail_with(r->cat, r->store, r->touched[i], size, true, hash, &e))
            r->sum.thumbnails++;
        else if (e.code != OBIA_E_NOTFOUND)   /* (not: a series without pixels) */
            r->sum.thumbnail_failures++;
    }
}

/* Run the workers over the files, then the series checks. */
static bool run_files(run *r, obia_ingest_summary *summary, obia_error *err)
{
    bool ok = true;
    long jobs = r->opt->jobs > 0 ? r->opt->jobs
                                 : (long)obia_config_int(obia_archive_config(r->a), "ingest", "jobs");
    if (jobs <= 0)
        jobs = sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1)
        jobs = 1;
    if ((size_t)jobs > r->nfiles)
        jobs = r->nfiles ? (long)r->nfiles : 1;
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
    for (size_t i = r->next; i < r->nfiles; i++)
        emit(r, i, OBIA_INGEST_FAILED, r->fatal.message, 0);
    if (r->stop)
        ok = obia_error_set(err, r->fatal.code, "%s", r->fatal.message);
    if (ok && r->ntouched)
        ok = check_series(r->cat, r->touched, r->ntouched, &r->sum, err);
    if (ok)
        series_thumbnails(r);
    if (r->log) {
        if (fflush(r->log) != 0 || fsync(fileno(r->log)) != 0)
            ok = ok && obia_error_set(err, OBIA_E_IO, "cannot write the ingest log: %s",
                                      strerror(errno));
        fclose(r->log);
        r->log = NULL;
    }
    *summary = r->sum;
    return ok;
}

bool obia_ingest_files(obia_archive *a, const obia_ingest_options *opt, const char *const *files,
                       size_t nfiles, obia_ingest_summary *summary, obia_error *err)
{
    memset(summary, 0, sizeof *summary);
    run *r = run_open(a, opt, err);
    if (!r)
        return false;
    r->files = files;
    r->nfiles = nfiles;
    bool ok = run_files(r, summary, err);
    run_close(r);
    return ok;
}

/* ---- sessions: files one at a time, from memory ------------------------------------- */

struct obia_ingest_session {
    run *r;
    size_t n;
};

obia_ingest_session *obia_ingest_session_open(obia_archive *a, const obia_ingest_options *opt,
                                              obia_error *err)
{
    obia_ingest_session *s = calloc(1, sizeof *s);
    if (!s) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    if (!(s->r = run_open(a, opt, err))) {
        free(s);
        return NULL;
    }
    return s;
}

bool obia_ingest_session_add(obia_ingest_session *s, const char *name, const void *data,
                             size_t len, obia_ingest_outcome *outcome, char *detail,
                             size_t detail_cap, obia_error *err)
{
    run *r = s->r;
    size_t index = s->n++;
    r->session_name = name;
    r->nfiles = s->n;
    r->last_outcome = OBIA_INGEST_FAILED;
    snprintf(r->last_detail, sizeof r->last_detail, "not processed");
    if (r->stop)
        return obia_error_set(err, r->fatal.code, "%s", r->fatal.message);
    pthread_mutex_lock(&r->lock);
    r->sum.bytes_in += len;
    pthread_mutex_unlock(&r->lock);
    /* (no source path: the bytes came from memory and are gone after
     * this call, so an item that keeps none can only be discarded) */
    if ((uint64_t)len > r->max_file_size) {
        quarantine_unread(r, index, NULL, "too-large",
                          "%zu bytes, more than [ingest] max_file_size", len);
    } else {
        obia_error e;
        obia_error_clear(&e);
        obia_file *f = obia_file_parse(data, len, NULL, &e);
        if (!f) {
            quarantine_unread(r, index, NULL, "unreadable", "%s", e.message);
        } else {
            process(r, index, f, NULL);
            obia_file_free(f);
        }
    }
    /* committed before the caller hears of it */
    pthread_mutex_lock(&r->lock);
    flush(r);
    pthread_mutex_unlock(&r->lock);
    if (outcome)
        *outcome = r->last_outcome;
    if (detail && detail_cap)
        snprintf(detail, detail_cap, "%s", r->last_detail);
    if (r->stop)
        return obia_error_set(err, r->fatal.code, "%s", r->fatal.message);
    return true;
}

bool obia_ingest_session_close(obia_ingest_session *s, obia_ingest_summary *summary,
                               obia_error *err)
{
    if (!s)
        return true;
    run *r = s->r;
    obia_ingest_summary sum;
    /* nothing left to process: run_files only flushes, checks the series
     * added to and makes their thumbnails */
    r->next = r->nfiles;
    bool ok = run_files(r, &sum, err);
    if (summary)
        *summary = sum;
    run_close(r);
    free(s);
    return ok;
}

/* ---- quarantined items --------------------------------------------------------------- */

typedef struct item_row {
    bool found;
    char collection[16], state[16], codes[512], severity[16], sop[65], individual[17];
    char source_ref[40];
    bool has_bytes;
} item_row;

static bool item_row_fn(void *ctx, int n, const char *const *names, const char *const *v)
{
    item_row *it = ctx;
    it->found = true;
    for (int i = 0; i < n; i++) {
        const char *x = v[i] ? v[i] : "";
        if (strcmp(names[i], "collection") == 0)
            snprintf(it->collection, sizeof it->collection, "%s", x);
        else if (strcmp(names[i], "state") == 0)
            snprintf(it->state, sizeof it->state, "%s", x);
        else if (strcmp(names[i], "codes") == 0)
            snprintf(it->codes, sizeof it->codes, "%s", x);
        else if (strcmp(names[i], "severity") == 0)
            snprintf(it->severity, sizeof it->severity, "%s", x);
        else if (strcmp(names[i], "sop_instance_uid") == 0)
            snprintf(it->sop, sizeof it->sop, "%s", x);
        else if (strcmp(names[i], "individual") == 0)
            snprintf(it->individual, sizeof it->individual, "%s", x);
        else if (strcmp(names[i], "source_ref") == 0)
            snprintf(it->source_ref, sizeof it->source_ref, "%s", x);
        else if (strcmp(names[i], "has_bytes") == 0)
            it->has_bytes = strcmp(x, "1") == 0;
    }
    return false;
}

/* The item's row, which must be held. */
static bool load_item(obia_archive *a, const char *id, item_row *it, obia_error *err)
{
    char path[4200];
    memset(it, 0, sizeof *it);
    obia_catalog *cat = obia_catalog_open(obia_archive_file(a, "catalog.db", path, sizeof path),
                                          false, err);
    if (!cat)
        return false;
    bool ok = obia_catalog_quarantine_get(cat, id, item_row_fn, it, err);
    obia_catalog_close(cat);
    if (ok && strcmp(it->state, "held") != 0)
        ok = obia_error_set(err, OBIA_E_ARG, "%s is not held: it was %s", id, it->state);
    return ok;
}

typedef struct one_outcome {
    obia_ingest_outcome outcome;
    char *detail;
    size_t cap;
    bool seen;
} one_outcome;

static void on_one(void *ctx, const char *input, obia_ingest_outcome o, const char *detail)
{
    (void)input;
    one_outcome *x = ctx;
    x->outcome = o;
    x->seen = true;
    snprintf(x->detail, x->cap, "%s", detail);
}

/* Take an item through the pipeline again: its kept bytes, or its source
 * file, with values set; the item ends as end_state if the image goes in. */
static bool reingest(obia_archive *a, const char *id, item_ctx *item, const item_row *it,
                     const char *const *sets, size_t nsets, const char *who, const char *reason,
                     const char *end_state, obia_ingest_outcome *outcome, char *detail,
                     size_t cap, obia_error *err)
{
    one_outcome x = {OBIA_INGEST_FAILED, detail, cap, false};
    obia_ingest_options opt = {.collection = it->collection, .jobs = 1, .who = who,
                               .on_outcome = on_one, .ctx = &x};
    run *r = run_open(a, &opt, err);
    if (!r)
        return false;
    r->item = item;
    char source[4200] = "";
    const char *input = source;
    bool ok = true;
    if (it->has_bytes)
        snprintf(source, sizeof source, "%s/%s.dcm", r->quarantine, id);
    else if (it->source_ref[0])
        ok = obia_deid_keys_source_get(r->keys, it->source_ref, source, sizeof source, err);
    else
        ok = obia_error_set(err, OBIA_E_NOTFOUND, "%s has neither kept bytes nor a source", id);
    r->files = &input;
    r->nfiles = 1;
    obia_file *f = NULL;
    if (ok && !(f = obia_file_read(source, NULL, err)))
        err->code = OBIA_E_IO,
        ok = obia_error_set(err, OBIA_E_IO, "%s: cannot read %s: %s", id,
                            it->has_bytes ? "its kept bytes" : "its source file", err->message);
    for (size_t i = 0; ok && i < nsets; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq || eq == sets[i]) {
            ok = obia_error_set(err, OBIA_E_ARG, "'%s' is not KEYWORD=VALUE", sets[i]);
            break;
        }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - sets[i]), sets[i]);
        if (!obia_dataset_set_path(obia_file_dataset(f), key, eq + 1, err))
            ok = obia_error_set(err, err->code, "--set %s: %s", sets[i], err->message);
    }
    if (ok) {
        process(r, 0, f, it->has_bytes ? NULL : source);
        pthread_mutex_lock(&r->lock);
        flush(r);
        pthread_mutex_unlock(&r->lock);
        if (r->stop)
            ok = obia_error_set(err, r->fatal.code, "%s", r->fatal.message);
    }
    obia_file_free(f);
    if (ok && x.seen && x.outcome == OBIA_INGEST_FAILED)
        ok = obia_error_set(err, OBIA_E_IO, "%s", x.detail);
    if (ok && (x.outcome == OBIA_INGEST_ACCEPTED || x.outcome == OBIA_INGEST_DUPLICATE)) {
        ok = obia_catalog_quarantine_close(r->cat, id, end_state, who, reason, err);
        if (ok && it->has_bytes)
            unlink(source);
        if (ok && it->source_ref[0])
            obia_deid_keys_source_drop(r->keys, it->source_ref, NULL);
        if (ok && r->ntouched)
            ok = check_series(r->cat, r->touched, r->ntouched, &r->sum, err);
        if (ok)
            series_thumbnails(r);
    }
    if (r->log) {
        fclose(r->log);
        r->log = NULL;
    }
    run_close(r);
    *outcome = x.outcome;
    return ok;
}

bool obia_ingest_repair(obia_archive *a, const char *id, const char *const *sets, size_t nsets,
                        const char *who, const char *reason, obia_ingest_outcome *outcome,
                        char *detail, size_t cap, obia_error *err)
{
    item_row it;
    if (!load_item(a, id, &it, err))
        return false;
    item_ctx item = {.deidentified = it.has_bytes, .had_bytes = it.has_bytes};
    snprintf(item.id, sizeof item.id, "%s", id);
    /* the keywords set (not their values, which may be PHI) and the reason */
    size_t n = (size_t)snprintf(item.note, sizeof item.note, "repair: set");
    for (size_t i = 0; i < nsets && n < sizeof item.note; i++)
        n += (size_t)snprintf(item.note + n, sizeof item.note - n, " %.*s",
                              (int)strcspn(sets[i], "="), sets[i]);
    if (reason && *reason && n < sizeof item.note)
        snprintf(item.note + n, sizeof item.note - n, "; %s", reason);
    snprintf(item.source_ref, sizeof item.source_ref, "%s", it.source_ref);
    return reingest(a, id, &item, &it, sets, nsets, who, reason, "repaired", outcome, detail,
                    cap, err);
}

bool obia_ingest_release(obia_archive *a, const char *id, const char *who, const char *reason,
                         obia_ingest_outcome *outcome, char *detail, size_t cap,
                         obia_error *err)
{
    if (!reason || !*reason)
        return obia_error_set(err, OBIA_E_ARG, "a release needs a reason");
    item_row it;
    if (!load_item(a, id, &it, err))
        return false;
    /* every code must be one a curator may accept */
    char errors[512] = "";
    size_t n = 0;
    for (char *save = NULL, *c = strtok_r(it.codes, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        const obia_qc_check_info *ck = obia_qc_check(c);
        if (!ck || ck->severity == OBIA_QC_ERROR)
            n += (size_t)snprintf(errors + n, sizeof errors - n, "%s%s", n ? ", " : "", c);
    }
    if (n)
        return obia_error_set(err, OBIA_E_ARG,
                              "%s cannot be released: %s %s errors, not warnings; repair (obia qc "
                              "repair) or discard it",
                              id, errors, strchr(errors, ',') ? "are" : "is");
    if (!it.has_bytes)
        return obia_error_set(err, OBIA_E_ARG, "%s has no kept bytes to release", id);
    item_ctx item = {.deidentified = true, .had_bytes = true, .accept_burned_in = true,
                     .accept_characteristics = true};
    snprintf(item.id, sizeof item.id, "%s", id);
    return reingest(a, id, &item, &it, NULL, 0, who, reason, "released", outcome, detail, cap,
                    err);
}

bool obia_ingest_discard(obia_archive *a, const char *id, const char *who, const char *reason,
                         obia_error *err)
{
    item_row it;
    if (!load_item(a, id, &it, err))
        return false;
    char path[4200];
    obia_catalog *cat = obia_catalog_open(obia_archive_file(a, "catalog.db", path, sizeof path),
                                          false, err);
    if (!cat)
        return false;
    bool ok = obia_catalog_quarantine_close(cat, id, "discarded", who, reason, err);
    obia_catalog_close(cat);
    if (ok && it.has_bytes) {
        char q[4200], f[4300];
        snprintf(f, sizeof f, "%s/%s.dcm", obia_archive_file(a, "quarantine", q, sizeof q), id);
        if (unlink(f) != 0 && errno != ENOENT)
            ok = obia_error_set(err, OBIA_E_IO, "cannot remove %s: %s", f, strerror(errno));
    }
    if (ok && it.source_ref[0]) {
        obia_deid_keys *k = obia_deid_keys_open(obia_archive_file(a, "keys.db", path, sizeof path),
                                                err);
        ok = k && obia_deid_keys_source_drop(k, it.source_ref, err);
        obia_deid_keys_close(k);
    }
    return ok;
}

typedef struct uid_list {
    char (*uid)[65];
    size_t n, cap;
} uid_list;

static bool collect_uid(void *ctx, int n, const char *const *names, const char *const *v)
{
    uid_list *l = ctx;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "series_uid") != 0 || !v[i])
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 256;
            char(*u)[65] = realloc(l->uid, cap * sizeof *u);
            if (!u)
                return false;
            l->uid = u;
            l->cap = cap;
        }
        snprintf(l->uid[l->n++], 65, "%s", v[i]);
    }
    return true;
}

bool obia_ingest_check_series(obia_archive *a, const char *collection,
                              obia_ingest_summary *summary, obia_error *err)
{
    memset(summary, 0, sizeof *summary);
    char path[4200];
    obia_catalog *cat = obia_catalog_open(obia_archive_file(a, "catalog.db", path, sizeof path),
                                          false, err);
    if (!cat)
        return false;
    char profile[16];
    uid_list l = {0};
    bool ok = obia_catalog_collection_profile(cat, collection, profile, err) &&
              obia_catalog_review_list(cat, collection, NULL, collect_uid, &l, err);
    ok = ok && (l.n == 0 || check_series(cat, l.uid, l.n, summary, err));
    free(l.uid);
    obia_catalog_close(cat);
    return ok;
}
