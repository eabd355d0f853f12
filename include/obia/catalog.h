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
} obia_catalog_image;

typedef enum obia_catalog_added {
    OBIA_CATALOG_ADDED,       /* a new image */
    OBIA_CATALOG_DUPLICATE,   /* this instance is there already, with the same bytes */
    OBIA_CATALOG_CONFLICT,    /* this instance is there already, with other bytes */
} obia_catalog_added;

/* Add an image, creating its study and series as needed (a study's
 * accession is allocated with it). */
bool obia_catalog_add_image(obia_catalog *c, const obia_catalog_image *im,
                            obia_catalog_added *added, obia_error *err);

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
    const char *text;           /* substring of descriptions, any case */
    long limit;                 /* 0: no limit */
} obia_catalog_query;

/* Series matching the query, with their study, individual and collection. */
bool obia_catalog_search(obia_catalog *c, const obia_catalog_query *q, obia_row_fn fn, void *ctx,
                         obia_error *err);
/* One object by accession (OBIA..., I..., S...) or UID (study, series or
 * SOP instance): its fields in one row. NOTFOUND if none. */
bool obia_catalog_show(obia_catalog *c, const char *key, obia_row_fn fn, void *ctx,
                       obia_error *err);
/* Counts per facet (modality, body part, sex, age band, disease,
 * collection): rows of facet, value, individuals, studies, series, images. */
bool obia_catalog_stats(obia_catalog *c, const char *collection, obia_row_fn fn, void *ctx,
                        obia_error *err);

#endif
