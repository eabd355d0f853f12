/*
 * The catalog: what the archive holds, as the five objects of the OBIA data
 * model -- Collection (OBIA0001), Individual (I000001), Study (S00000001),
 * Series and Image -- with their accessions, allocated here in sequence and
 * never reused. Only de-identified values are stored: UIDs are the new ones,
 * dates the shifted ones; original patient IDs live in the keys database.
 *
 * The interface is backend-neutral (a method table behind obia_catalog);
 * the backend now is SQLite (WAL, one writer, readers per thread), its SQL
 * kept portable for a PostgreSQL backend. Query results come row by row
 * through a callback, as column names and text values (NULL for none).
 */
#ifndef OBIA_CATALOG_H
#define OBIA_CATALOG_H

#include "obia/qc.h"
#include "obia/util.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct obia_catalog obia_catalog;

/* Open the catalog at path; with create, make it (and its schema) if
 * missing. An older schema is migrated; a newer one is refused. */
obia_catalog *obia_catalog_open(const char *path, bool create, obia_error *err);
void obia_catalog_close(obia_catalog *c);
int obia_catalog_schema_version(const obia_catalog *c);

/* Transactions: the writes between begin and commit are all or nothing. */
bool obia_catalog_begin(obia_catalog *c, obia_error *err);
bool obia_catalog_commit(obia_catalog *c, obia_error *err);
void obia_catalog_rollback(obia_catalog *c);

/* ---- collections ------------------------------------------------------------ */

typedef struct obia_collection_info {
    const char *title;           /* required */
    const char *description;
    const char *keywords;        /* comma-separated */
    const char *submitter;
    const char *access;          /* "open" or "controlled" */
    const char *disease;
    const char *bioproject;      /* PRJCA... */
    const char *profile;         /* "obia", "basic" or "none" */
} obia_collection_info;

bool obia_catalog_collection_create(obia_catalog *c, const obia_collection_info *in,
                                    char accession[16], obia_error *err);
/* The de-identification profile of a collection; false (NOTFOUND) if none. */
bool obia_catalog_collection_profile(obia_catalog *c, const char *accession, char profile[16],
                                     obia_error *err);

/* ---- what ingest adds ---------------------------------------------------------- */

/* A new Individual in a collection. */
bool obia_catalog_individual_new(obia_catalog *c, const char *collection, char accession[16],
                                 obia_error *err);

typedef struct obia_catalog_image {
    const char *collection;        /* accession */
    const char *individual;        /* accession */
    const char *sex;               /* the individual's, from the image (M, F, O or NULL) */
    const char *study_uid;
    const char *study_date;        /* YYYYMMDD, shifted */
    const char *study_description;
    const char *age_at_study;      /* DICOM AS, e.g. 045Y */
    /* as the stored (de-identified) file has them, for DICOMweb queries;
     * NULL when absent */
    const char *study_time;        /* TM */
    const char *accession_number;  /* (0008,0050) */
    const char *study_id;          /* (0020,0010) */
    const char *referring_physician; /* (0008,0090) */
    const char *patient_name;      /* (0010,0010) */
    const char *patient_id;        /* (0010,0020) */
    const char *patient_birth_date; /* (0010,0030) */
    const char *series_uid;
    const char *modality;
    const char *body_part;
    const char *series_description;
    long series_number;
    const char *sop_class_uid;
    const char *sop_instance_uid;
    long instance_number;
    const char *object_hash;       /* SHA-256 of the stored bytes */
    uint64_t size;
    const char *transfer_syntax;
    long rows, columns, frames;
    long bits_allocated;           /* 0 when absent */
    /* for the checks: the image's own modality, frame of reference and
     * geometry ("x\\y\\z", "6 numbers"), and keyed fingerprints of the
     * patient's original sex and birth date (NULL when absent) */
    const char *image_modality;
    const char *frame_of_reference;
    const char *position;
    const char *orientation;
    bool has_instance_number;
    const char *sex_fp;
    const char *birth_fp;
    bool accept_characteristics;   /* a curator released a mismatch */
} obia_catalog_image;

typedef enum obia_catalog_added {
    OBIA_CATALOG_ADDED,       /* a new image */
    OBIA_CATALOG_DUPLICATE,   /* this instance is there already, with the same bytes */
    OBIA_CATALOG_CONFLICT,    /* this instance is there already, with other bytes */
    OBIA_CATALOG_OTHER_INDIVIDUAL, /* its study or series belongs to another individual */
    OBIA_CATALOG_SERIES_CONFLICT,  /* its series belongs to another study */
    OBIA_CATALOG_CHARACTERISTICS,  /* sex or birth date differ from the study's */
} obia_catalog_added;

/* Add an image, creating its study and series as needed (a study's
 * accession is allocated with it). Nothing is written unless *added is
 * OBIA_CATALOG_ADDED. */
bool obia_catalog_add_image(obia_catalog *c, const obia_catalog_image *im,
                            obia_catalog_added *added, obia_error *err);

/* What obia_catalog_add_image would say, writing nothing. im->object_hash
 * may be NULL (the bytes not stored yet): an instance already there then
 * gives DUPLICATE and its hash in existing_hash (may be NULL), for the
 * caller to compare. */
bool obia_catalog_check_image(obia_catalog *c, const obia_catalog_image *im,
                              obia_catalog_added *added, char existing_hash[65], obia_error *err);

/* ---- clinical data --------------------------------------------------------------- */

/* Set an individual's clinical fields: names are sex, age, disease,
 * diagnosis, pathological_type, medical_history, family_history, treatment;
 * any other name is kept as an extra field. NULL or "" clears a field. */
bool obia_catalog_individual_set(obia_catalog *c, const char *accession, const char *name,
                                 const char *value, obia_error *err);

/* ---- finding things ---------------------------------------------------------------- */

typedef bool (*obia_row_fn)(void *ctx, int ncols, const char *const *names,
                            const char *const *values);

bool obia_catalog_collections(obia_catalog *c, obia_row_fn fn, void *ctx, obia_error *err);

typedef struct obia_catalog_query {
    const char *collection;     /* accession, or NULL */
    const char *modality;
    const char *body_part;
    const char *sex;
    int age_min, age_max;       /* years, at the study; -1 for no bound */
    const char *disease;        /* substring, any case */
    const char *text;           /* an accession (OBIA..., I..., S...) or a study or series
                                 * UID exactly, or a substring of the study and series
                                 * descriptions and the collection's title, any case */
    bool public_only;           /* visible series of released collections only */
    long limit;                 /* 0: no limit */
    long offset;                /* rows skipped first */
} obia_catalog_query;

/* Series matching the query, with their study, individual and collection,
 * in a stable order (collection, individual, study, series number). */
bool obia_catalog_search(obia_catalog *c, const obia_catalog_query *q, obia_row_fn fn, void *ctx,
                         obia_error *err);
/* How many series match the query (its limit and offset aside). */
bool obia_catalog_search_count(obia_catalog *c, const obia_catalog_query *q, long *total,
                               obia_error *err);
/* Counts for the facets of a search: rows of facet (modality, body_part,
 * sex, age_band, disease, collection), value and series (matching series).
 * Each facet is counted with every filter of q but its own, so that its
 * rows are the alternatives to offer; unknown values are left out. */
bool obia_catalog_facets(obia_catalog *c, const obia_catalog_query *q, obia_row_fn fn, void *ctx,
                         obia_error *err);
/* One object by accession (OBIA..., I..., S...) or UID (study, series or
 * SOP instance): its fields in one row. NOTFOUND if none. */
bool obia_catalog_show(obia_catalog *c, const char *key, obia_row_fn fn, void *ctx,
                       obia_error *err);
/* Counts per facet (modality, body part, sex, age band, disease,
 * collection): rows of facet, value, individuals, studies, series, images.
 * collection NULL for all; public_only counts only the visible series of
 * released collections. */
bool obia_catalog_stats(obia_catalog *c, const char *collection, bool public_only, obia_row_fn fn,
                        void *ctx, obia_error *err);

/* ---- browsing ------------------------------------------------------------------------
 * Pages of objects with their counts, in a stable order. With public_only,
 * only what the public may see: released collections and in them the
 * series reviewed visible (an individual or a study when it has one); the
 * counts are of those. */
typedef struct obia_catalog_page {
    long limit;                 /* 0: no limit */
    long offset;                /* rows skipped first */
    bool public_only;
} obia_catalog_page;

/* Collections, oldest first: accession, title, description, keywords,
 * submitter, access, disease, bioproject, status, created, released,
 * individuals, studies, series, images, bytes, modalities (comma-separated).
 * *total (if total is not NULL) gets the count of all. p NULL: all of them. */
bool obia_catalog_collection_list(obia_catalog *c, const obia_catalog_page *p, obia_row_fn fn,
                                  void *ctx, long *total, obia_error *err);
/* Whether the public may see an object, by accession (OBIA..., I..., S...)
 * or study, series or SOP instance UID: its collection is released and its
 * series visible (a series, an image) or one of its series visible (a
 * collection, an individual, a study). NOTFOUND if no such object. */
bool obia_catalog_is_public(obia_catalog *c, const char *key, bool *pub, obia_error *err);
/* A page of an object's children (key as for obia_catalog_is_public), and
 * in *total (if not NULL) the count of all of them:
 *   collection -> individuals: accession, sex, age, disease, studies, series, images
 *   individual -> studies, by date: accession, study_uid, study_date, description,
 *                 age_at_study, modalities (comma-separated), series, images
 *   study -> series, by series number: series_uid, modality, body_part, description,
 *                 series_number, images, bytes, review_state
 *   series -> images, by instance number: sop_instance_uid, sop_class_uid,
 *                 instance_number, rows, columns, frames, transfer_syntax, size
 * NOTFOUND for an unknown key, and with public_only for an object the
 * public may not see (a collection: one not released); OBIA_E_ARG for an
 * image, which has no children. p NULL: all of them. */
bool obia_catalog_children(obia_catalog *c, const char *key, const obia_catalog_page *p,
                           obia_row_fn fn, void *ctx, long *total, obia_error *err);

/* ---- quality control, review and audit -----------------------------------------
 * Writes join the caller's transaction when one is open (begin/commit),
 * else each is a transaction of its own. who is the person (or process)
 * acting, recorded in the audit log. */

/* A quarantined item: an image held back with the findings of the checks. */
typedef struct obia_catalog_quarantine {
    const char *collection;          /* accession */
    const obia_qc_findings *findings;
    bool has_bytes;                  /* de-identified bytes kept in quarantine/ID.dcm */
    const char *source_ref;          /* the keys database's name for its source path, or NULL */
    const char *sop_instance_uid;    /* of the kept bytes */
    const char *individual;          /* accession of the kept bytes' individual */
    const char *who;
    const char *note;                /* for the audit log, e.g. a repair's reason */
} obia_catalog_quarantine;

/* Record an item (also in the audit log); id gets Q000001-style. */
bool obia_catalog_quarantine_add(obia_catalog *c, const obia_catalog_quarantine *q, char id[16],
                                 obia_error *err);
/* Replace an item's findings and what is kept (after a failed repair). */
bool obia_catalog_quarantine_refind(obia_catalog *c, const char *id,
                                    const obia_catalog_quarantine *q, obia_error *err);
/* End an item: state "repaired", "released" or "discarded", with a reason. */
bool obia_catalog_quarantine_close(obia_catalog *c, const char *id, const char *state,
                                   const char *who, const char *reason, obia_error *err);
/* One item: id, collection, state, severity, codes, created, updated,
 * has_bytes, source_ref, sop_instance_uid, individual. NOTFOUND if none. */
bool obia_catalog_quarantine_get(obia_catalog *c, const char *id, obia_row_fn fn, void *ctx,
                                 obia_error *err);
/* Its findings: code, severity, detail. */
bool obia_catalog_quarantine_findings(obia_catalog *c, const char *id, obia_row_fn fn, void *ctx,
                                      obia_error *err);
/* Items, oldest first; NULL filters match all; state "all" too. */
bool obia_catalog_quarantine_list(obia_catalog *c, const char *collection, const char *code,
                                  const char *state, obia_row_fn fn, void *ctx, obia_error *err);

/* Replace the warnings of a series with these (none clears them). */
bool obia_catalog_series_findings_set(obia_catalog *c, const char *series_uid,
                                      const obia_qc_findings *f, obia_error *err);
/* Series warnings: collection, study, series_uid, code, severity, detail, found. */
bool obia_catalog_series_findings(obia_catalog *c, const char *collection, const char *code,
                                  obia_row_fn fn, void *ctx, obia_error *err);
/* What the series checks need of its images: sop_instance_uid, modality,
 * frame_of_reference, instance_number (NULL if none), position,
 * orientation, frames. */
bool obia_catalog_series_images(obia_catalog *c, const char *series_uid, obia_row_fn fn,
                                void *ctx, obia_error *err);
/* Every image of a collection: sop_instance_uid, object_hash, individual,
 * series_uid, transfer_syntax. */
bool obia_catalog_collection_images(obia_catalog *c, const char *collection, obia_row_fn fn,
                                    void *ctx, obia_error *err);

/* Review states of series (as in TCIA's QC tool). */
bool obia_catalog_review_state_valid(const char *state); /* unreviewed visible not-visible to-be-deleted */
/* Set the state of a series (by UID), of every series of a study (S...)
 * or of a collection (OBIA...); *count gets the series changed. */
bool obia_catalog_review_set(obia_catalog *c, const char *target, const char *state,
                             const char *who, const char *reason, long *count, obia_error *err);
/* Series with their state: collection, study, series_uid, modality,
 * description, images, state, updated. */
bool obia_catalog_review_list(obia_catalog *c, const char *collection, const char *state,
                              obia_row_fn fn, void *ctx, obia_error *err);
/* A series' history: at, who, state, reason (oldest first). NOTFOUND if no series. */
bool obia_catalog_review_history(obia_catalog *c, const char *series_uid, obia_row_fn fn,
                                 void *ctx, obia_error *err);

/* Release a collection: refused (OBIA_E_ARG naming the counts) while
 * series are unreviewed or items quarantined, unless force with a reason. */
bool obia_catalog_collection_release(obia_catalog *c, const char *accession, bool force,
                                     const char *who, const char *reason, obia_error *err);

/* ---- thumbnails --------------------------------------------------------------------
 * PNG thumbnails are objects of the store; the catalog knows which is
 * whose: a series' (from its middle image) or an image's, per size. */
bool obia_catalog_thumbnail_get(obia_catalog *c, const char *uid, uint32_t size, char hash[65],
                                bool *found, obia_error *err);
bool obia_catalog_thumbnail_set(obia_catalog *c, const char *uid, const char *kind,
                                uint32_t size, const char *hash, obia_error *err);
/* The middle image of a series in instance order: its SOP Instance UID,
 * object hash and frames. NOTFOUND if the series has no image. */
bool obia_catalog_series_middle(obia_catalog *c, const char *series_uid, char sop[65],
                                char hash[65], long *frames, obia_error *err);
/* Every image of a series in instance order: sop_instance_uid,
 * object_hash, frames. */
bool obia_catalog_series_objects(obia_catalog *c, const char *series_uid, obia_row_fn fn,
                                 void *ctx, obia_error *err);
/* An image's object hash and frames. NOTFOUND if none. */
bool obia_catalog_image_object(obia_catalog *c, const char *sop_uid, char hash[65],
                               long *frames, obia_error *err);

/* The audit log. */
bool obia_catalog_audit(obia_catalog *c, const char *who, const char *action, const char *object,
                        const char *detail, obia_error *err);
/* Newest first: at, who, action, object, detail; object NULL for all. */
bool obia_catalog_audit_list(obia_catalog *c, const char *object, long limit, obia_row_fn fn,
                             void *ctx, obia_error *err);

/* ---- DICOMweb queries (QIDO-RS, PS3.18 10.6) ----------------------------------------
 * Matching on the attributes the catalog keeps, at study, series or
 * instance level, with the standard's matching rules: single value, list
 * of UIDs (separated by backslash or comma), wildcards * and ? (not in
 * UIDs, dates or numbers), date and time ranges (a-b, -b, a-), and
 * universal matching (empty value: the attribute is only returned). */
typedef enum obia_qido_level {
    OBIA_QIDO_STUDY,
    OBIA_QIDO_SERIES,
    OBIA_QIDO_INSTANCE,
} obia_qido_level;

typedef struct obia_qido_match {
    uint32_t tag;               /* the attribute, e.g. 0x00100020 PatientID */
    const char *value;          /* as given in the query (already percent-decoded) */
} obia_qido_match;

#define OBIA_QIDO_MAX_MATCHES 32

typedef struct obia_qido_query {
    obia_qido_level level;
    const char *study_uid;      /* the request's study (path), or NULL */
    const char *series_uid;     /* the request's series (path), or NULL */
    obia_qido_match match[OBIA_QIDO_MAX_MATCHES];
    size_t nmatch;
    bool fuzzy;                 /* fuzzymatching=true: names by word prefix, any case */
    long limit;                 /* at most this many rows (> 0) */
    long offset;                /* rows skipped first */
    bool public_only;           /* visible series of released collections only */
} obia_qido_query;

/* Whether tag can be a matching key at level (attributes of the level
 * and of the levels above it; the Number Of ... Related counts are
 * returned, not matched). */
bool obia_catalog_qido_key(obia_qido_level level, uint32_t tag);
/* The results, in a stable order (study, series, instance number): one
 * row per object, columns named by tag as 8 upper-case hex digits
 * ("0020000D"), values as text (multiple values joined by backslash, NULL
 * when empty). Every attribute the catalog keeps for the level and the
 * levels above is a column, including NumberOfStudyRelatedSeries,
 * NumberOfStudyRelatedInstances, ModalitiesInStudy and
 * NumberOfSeriesRelatedInstances (counting, with public_only, only what
 * the public sees), and the archive's accessions as columns collection,
 * individual and study_accession. A study stored without PatientName or
 * PatientID (before schema 4) has its individual's accession for both.
 * *more is set when rows beyond offset + limit match. A bad matching
 * value (a malformed date range, a wildcard in a UID) is OBIA_E_ARG naming
 * the attribute (and err->tag set to it). */
bool obia_catalog_qido(obia_catalog *c, const obia_qido_query *q, obia_row_fn fn, void *ctx,
                       bool *more, obia_error *err);

#endif
