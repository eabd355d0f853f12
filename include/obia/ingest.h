/*
 * The ingest pipeline, the one every entry point uses (the CLI now; uploads
 * and the DICOM listener later): parse -> de-identify (the collection's
 * profile; identities from the catalog's Individual accessions and the keys
 * database) -> checks -> object store -> catalog.
 *
 * Files are processed by worker threads, each holding one file at a time,
 * so memory stays bounded whatever the input. An image counts as ingested
 * only when its bytes are durable in the store and every replica and its
 * catalog rows are committed; outcomes are reported only then. Original
 * bytes never reach the archive's disk: what is stored is de-identified,
 * and a file that cannot be read or de-identified safely is quarantined as
 * a record of why with its source path (kept in the keys database, never a
 * copy of its bytes); an image that fails a check after de-identification
 * (burned-in text, conflicts with what the archive holds) is kept
 * de-identified in the quarantine for review. The checks and their codes
 * are lib/qc's (include/obia/qc.h); after a run the series it added to are
 * checked and their warnings recorded.
 */
#ifndef OBIA_INGEST_H
#define OBIA_INGEST_H

#include "obia/archive.h"
#include "obia/catalog.h"
#include "obia/store.h"
#include "obia/qc.h"
#include "obia/util.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum obia_ingest_outcome {
    OBIA_INGEST_ACCEPTED,      /* stored and cataloged */
    OBIA_INGEST_DUPLICATE,     /* this image was in the archive already, byte for byte */
    OBIA_INGEST_QUARANTINED,   /* set aside with a reason */
    OBIA_INGEST_FAILED,        /* an error of the archive (disk, database) */
} obia_ingest_outcome;

/* One file's outcome: the input as given, what happened, and the reason or
 * the accessions (study) and new SOP Instance UID. Called in no particular
 * order, from one thread at a time. A quarantined file's detail starts with
 * its item and codes: "Q000003 pixel-length,patient-id-missing: ...". */
typedef void (*obia_ingest_outcome_fn)(void *ctx, const char *input, obia_ingest_outcome outcome,
                                       const char *detail);
/* Files done so far of the total, from one thread at a time. */
typedef void (*obia_ingest_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct obia_ingest_summary {
    uint64_t accepted, duplicates, quarantined, failed;
    uint64_t bytes_in, bytes_stored;
    uint64_t series_checked, series_warnings;   /* series checks after the run */
    uint64_t thumbnails, thumbnail_failures;     /* series thumbnails made after the run */
} obia_ingest_summary;

typedef struct obia_ingest_options {
    const char *collection;            /* accession, required */
    int jobs;                          /* 0: the archive's [ingest] jobs */
    const char *who;                   /* for the audit log; NULL: "unknown" */
    obia_ingest_outcome_fn on_outcome;
    obia_ingest_progress_fn on_progress;
    void *ctx;
} obia_ingest_options;

/* Ingest the files (not directories) given. False only when the run itself
 * could not go on (archive, catalog or store unusable); each file's fate is
 * in the outcomes and the summary. */
bool obia_ingest_files(obia_archive *a, const obia_ingest_options *opt, const char *const *files,
                       size_t nfiles, obia_ingest_summary *summary, obia_error *err);

/* A run fed one file at a time from memory (uploads over HTTP): each file
 * goes through the same pipeline, in the caller's thread, and is committed
 * before obia_ingest_session_add returns with its outcome and detail (as
 * given to on_outcome, which is also called). name is what the outcome and
 * a quarantine record call the input (never stored with image bytes).
 * Closing runs the series checks and makes the thumbnails of the series
 * added to. A session is used by one thread at a time. */
typedef struct obia_ingest_session obia_ingest_session;

obia_ingest_session *obia_ingest_session_open(obia_archive *a, const obia_ingest_options *opt,
                                              obia_error *err);
/* False only when the run cannot go on (archive, catalog or store
 * unusable); the file's fate is in *outcome and detail. */
bool obia_ingest_session_add(obia_ingest_session *s, const char *name, const void *data,
                             size_t len, obia_ingest_outcome *outcome, char *detail,
                             size_t detail_cap, obia_error *err);
bool obia_ingest_session_close(obia_ingest_session *s, obia_ingest_summary *summary,
                               obia_error *err);

/* ---- quarantined items -------------------------------------------------------------
 * What a curator does with an item of the quarantine (obia qc). Each is
 * recorded in the audit log as who did it. */

/* Repair: set KEYWORD=VALUE (or any path obia_dataset_set_path takes) in
 * the item's file -- the kept de-identified bytes, or else the original at
 * its source path -- check it again and ingest it if it is now clean.
 * *outcome says what happened (QUARANTINED: still held, with the new
 * findings in detail). */
bool obia_ingest_repair(obia_archive *a, const char *id, const char *const *sets, size_t nsets,
                        const char *who, const char *reason, obia_ingest_outcome *outcome,
                        char *detail, size_t cap, obia_error *err);
/* Release: a curator accepts an item held only by hold-level findings
 * (burned-in text suspected, patient characteristics); its kept bytes are
 * ingested without those checks. Refused (OBIA_E_ARG) for error-level
 * findings. A reason is required. */
bool obia_ingest_release(obia_archive *a, const char *id, const char *who, const char *reason,
                         obia_ingest_outcome *outcome, char *detail, size_t cap,
                         obia_error *err);
/* Discard: the item ends, its kept bytes and source path are forgotten. */
bool obia_ingest_discard(obia_archive *a, const char *id, const char *who, const char *reason,
                         obia_error *err);
/* Check the series of a collection (all of them) again; their warnings are
 * replaced. */
bool obia_ingest_check_series(obia_archive *a, const char *collection,
                              obia_ingest_summary *summary, obia_error *err);

/* ---- thumbnails -----------------------------------------------------------------------
 * PNG thumbnails, kept as objects of the store and recorded in the catalog.
 * Ingest makes one per series it added to (of its middle image, at
 * [ingest] thumbnail_size); images get theirs on demand. */

/* The thumbnail of a series (by Series Instance UID) or an image (by SOP
 * Instance UID) at size pixels: the cached one, or made now (always with
 * remake). *hash names the PNG in the store. */
bool obia_thumbnail(obia_archive *a, const char *uid, uint32_t size, bool remake, char hash[65],
                    obia_error *err);
/* The same with the catalog and store already open (the catalog's writer
 * is used when a thumbnail is made: one thread at a time). */
bool obia_thumbnail_with(obia_catalog *cat, obia_store *store, const char *uid, uint32_t size,
                         bool remake, char hash[65], obia_error *err);
/* A contact sheet of a series: a thumbnail of every image in instance
 * order (each image's middle frame), cell pixels each, columns across, as
 * PNG appended to png. Images that cannot be rendered leave a black cell
 * and are counted in *failed. */
bool obia_contact_sheet_series(obia_archive *a, const char *series_uid, uint32_t cell,
                               uint32_t columns, obia_buf *png, uint64_t *failed,
                               obia_error *err);
/* Make again the series thumbnails of a collection (NULL: every collection)
 * at [ingest] thumbnail_size; series without pixel data (reports,
 * structure sets) are counted in *without, images that cannot be rendered
 * in *failed with the first reason in err_first (may be NULL). A thumbnail
 * of something without Pixel Data fails with OBIA_E_NOTFOUND. */
bool obia_thumbnails_rebuild(obia_archive *a, const char *collection, uint64_t *made,
                             uint64_t *without, uint64_t *failed, obia_error *err_first,
                             obia_error *err);

/* ---- the PHI review report ----------------------------------------------------------
 * The report of include/obia/qc.h over every image of a collection: each
 * image's header read from the store (header only, workers per core), its
 * values compared with what the keys database remembers of the originals
 * (identifiers and names; dates per individual). *out is finished (sorted)
 * and the caller frees it. */
bool obia_ingest_report(obia_archive *a, const char *collection, int jobs, obia_qc_report **out,
                        obia_error *err);

/* ---- clinical data ------------------------------------------------------------------ */

typedef struct obia_clinical_summary {
    uint64_t rows;            /* individuals given data */
    uint64_t new_individuals; /* of them, not known to the collection before */
    uint64_t extra_columns;   /* columns kept as extra fields */
} obia_clinical_summary;

/* Import a CSV (RFC 4180, UTF-8) of clinical data into a collection: one row
 * per individual, keyed by the original Patient ID (column patient_id, with
 * an optional column issuer), mapped to the individual's accession through
 * the keys database and never stored in the catalog. Known columns: sex
 * (M, F, O), age (whole years), disease, diagnosis, pathological_type,
 * medical_history, family_history, treatment; others are kept as extra
 * fields. Every row is checked before anything is written; a bad row is an
 * error naming its line, and then nothing is imported. Individuals not yet
 * known are created. */
bool obia_clinical_import(obia_archive *a, const char *collection, const char *csv, size_t len,
                          obia_clinical_summary *summary, obia_error *err);

#endif
