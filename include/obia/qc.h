/*
 * Quality control: the checks an image goes through on its way into the
 * archive, each with a stable code and a severity; the cross-file checks of
 * a series; and the tag report a curator reads to find leftover PHI (what
 * TagSniffer does for TCIA).
 *
 * Everything here is a pure function of datasets and descriptions: the
 * catalog records what the checks find, and ingest acts on it (quarantine,
 * warnings). The severities:
 *   error   the image is quarantined until it is repaired or discarded;
 *   hold    the image is quarantined until a curator releases it (with a
 *           reason), repairs or discards it;
 *   warning recorded against the series or image; it does not block.
 */
#ifndef OBIA_QC_H
#define OBIA_QC_H

#include "obia/dicom.h"
#include "obia/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum obia_qc_severity {
    OBIA_QC_WARNING = 0,
    OBIA_QC_HOLD = 1,
    OBIA_QC_ERROR = 2,
} obia_qc_severity;

const char *obia_qc_severity_name(obia_qc_severity s); /* "warning", "hold", "error" */

typedef struct obia_qc_check_info {
    const char *code;           /* stable, e.g. "pixel-length" */
    obia_qc_severity severity;
    const char *scope;          /* "file", "archive" (against what is stored) or "series" */
    const char *title;          /* one line for people */
} obia_qc_check_info;

/* Every check, in a fixed order; *count set to their number. */
const obia_qc_check_info *obia_qc_checks(size_t *count);
/* The check of a code, or NULL. */
const obia_qc_check_info *obia_qc_check(const char *code);

/* What the checks of one image or series found. */
#define OBIA_QC_MAX_FINDINGS 16
typedef struct obia_qc_finding {
    const char *code;           /* from the table */
    char detail[240];           /* the particulars; never a value that could be PHI */
} obia_qc_finding;

typedef struct obia_qc_findings {
    obia_qc_finding items[OBIA_QC_MAX_FINDINGS];
    size_t count;
} obia_qc_findings;

/* Add a finding (a code of the table; the same code is kept once, later
 * details dropped; findings beyond the maximum are dropped). */
void obia_qc_add(obia_qc_findings *f, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool obia_qc_has(const obia_qc_findings *f, const char *code);
/* The worst severity found (OBIA_QC_WARNING when none). */
obia_qc_severity obia_qc_worst(const obia_qc_findings *f);
/* Codes joined by commas, e.g. "pixel-length,patient-id-missing". */
void obia_qc_codes(const obia_qc_findings *f, char *out, size_t cap);

/* ---- per file ---------------------------------------------------------------
 * The checks of one file read whole, before de-identification: truncation
 * (from the parser's warnings), Pixel Data length against Rows x Columns x
 * Samples x Bits Allocated x Frames, encapsulated fragments against the
 * offset table and the frame count, an empty dataset, missing SOP Class,
 * SOP Instance, Study and Series Instance UIDs and Modality, a missing
 * Patient ID. */
void obia_qc_check_file(const obia_file *f, obia_qc_findings *out);

/* ---- per series ---------------------------------------------------------------
 * What the series checks need of each image (from the catalog). */
typedef struct obia_qc_series_image {
    const char *sop_instance_uid;
    const char *modality;            /* NULL if none */
    const char *frame_of_reference;  /* NULL if none */
    long instance_number;
    bool has_instance_number;
    bool has_geometry;               /* position and orientation known */
    double position[3];              /* Image Position (Patient) */
    double orientation[6];           /* Image Orientation (Patient) */
    long frames;
} obia_qc_series_image;

/* Warnings of a series: mixed modalities, mixed Frames of Reference,
 * missing or duplicated instance numbers, irregular slice spacing in a
 * volume (single-frame images of one orientation). */
void obia_qc_check_series(const obia_qc_series_image *im, size_t n, obia_qc_findings *out);

/* ---- the tag report ------------------------------------------------------------
 * Every element present in a set of images (at any depth: an element inside
 * a sequence is reported under its path), how many images carry it, its
 * distinct values and the most frequent ones, and risk flags. */
enum {
    OBIA_QC_FLAG_NAME = 1u << 0,       /* looks like a person's name */
    OBIA_QC_FLAG_DATE = 1u << 1,       /* a date equal to the individual's original date */
    OBIA_QC_FLAG_PHONE = 1u << 2,      /* looks like a phone number */
    OBIA_QC_FLAG_EMAIL = 1u << 3,      /* an e-mail address */
    OBIA_QC_FLAG_ADDRESS = 1u << 4,    /* looks like a postal address */
    OBIA_QC_FLAG_LONG_ID = 1u << 5,    /* looks like a long identifier (MRN, accession) */
    OBIA_QC_FLAG_KNOWN = 1u << 6,      /* equal to an original ID or name in the keys database */
};

/* Whether a value is a filler word written where a name or identifier was
 * removed (ANONYMIZED, REMOVED, UNKNOWN, TEST, ... in any case, spaces and
 * punctuation ignored): never a name, never remembered as an original. */
bool obia_qc_filler(const char *v, size_t n);

/* Names of the flags, for the report's columns: "name", "date", ... */
const char *obia_qc_flag_name(unsigned flag);

/* Whether a value is one the keys database knows: called with the image's
 * individual (its Patient ID in the archive, e.g. I000001, or "") and a
 * value of a text element (UTF-8, without padding); returns the
 * OBIA_QC_FLAG_KNOWN and/or OBIA_QC_FLAG_DATE bits that apply. Must be
 * callable from several threads at once. */
typedef unsigned (*obia_qc_known_fn)(void *ctx, const char *individual, const char *value,
                                     size_t len, obia_vr vr);

typedef struct obia_qc_report obia_qc_report;

obia_qc_report *obia_qc_report_new(obia_qc_known_fn known, void *known_ctx);
void obia_qc_report_free(obia_qc_report *r);
/* Count one image. One report per thread; merge them at the end. */
bool obia_qc_report_add(obia_qc_report *r, const obia_dataset *ds, obia_error *err);
/* Move everything counted in from into into (from is left empty). */
bool obia_qc_report_merge(obia_qc_report *into, obia_qc_report *from, obia_error *err);
/* Sort: flagged rows first, then by path. */
void obia_qc_report_finish(obia_qc_report *r);
uint64_t obia_qc_report_images(const obia_qc_report *r);
size_t obia_qc_report_rows(const obia_qc_report *r);
size_t obia_qc_report_flagged(const obia_qc_report *r);

/* One row, after finish (index < rows). */
typedef struct obia_qc_report_row {
    const char *path;          /* "(0010,0010)", "(0008,1140)[].(0008,1155)" */
    const char *keyword;       /* "PatientName", "" if unknown */
    const char *vr;
    const char *creator;       /* private creator of a private element, else NULL */
    uint64_t images;           /* images carrying it */
    uint64_t distinct;         /* distinct values (counted up to a cap, see more) */
    bool distinct_capped;      /* more distinct values than were counted */
    unsigned flags;            /* OBIA_QC_FLAG_* over all values */
    size_t ntop;
    const char *top[5];        /* the most frequent values, shortened for display */
    uint64_t top_count[5];
} obia_qc_report_row;
void obia_qc_report_row_at(const obia_qc_report *r, size_t index, obia_qc_report_row *out);

bool obia_qc_report_write_tsv(const obia_qc_report *r, obia_sink_fn sink, void *ctx,
                              obia_error *err);
/* One self-contained HTML file (inline style, no scripts needed to read). */
bool obia_qc_report_write_html(const obia_qc_report *r, const char *title, obia_sink_fn sink,
                               void *ctx, obia_error *err);

#endif
