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
 * a record of why (never as a copy of its bytes); an image flagged for
 * burned-in text is kept de-identified in the quarantine for review.
 */
#ifndef OBIA_INGEST_H
#define OBIA_INGEST_H

#include "obia/archive.h"
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
 * order, from one thread at a time. */
typedef void (*obia_ingest_outcome_fn)(void *ctx, const char *input, obia_ingest_outcome outcome,
                                       const char *detail);
/* Files done so far of the total, from one thread at a time. */
typedef void (*obia_ingest_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct obia_ingest_summary {
    uint64_t accepted, duplicates, quarantined, failed;
    uint64_t bytes_in, bytes_stored;
} obia_ingest_summary;

typedef struct obia_ingest_options {
    const char *collection;            /* accession, required */
    int jobs;                          /* 0: the archive's [ingest] jobs */
    obia_ingest_outcome_fn on_outcome;
    obia_ingest_progress_fn on_progress;
    void *ctx;
} obia_ingest_options;

/* Ingest the files (not directories) given. False only when the run itself
 * could not go on (archive, catalog or store unusable); each file's fate is
 * in the outcomes and the summary. */
bool obia_ingest_files(obia_archive *a, const obia_ingest_options *opt, const char *const *files,
                       size_t nfiles, obia_ingest_summary *summary, obia_error *err);

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
