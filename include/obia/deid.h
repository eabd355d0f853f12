/*
 * De-identification: the Basic Application Level Confidentiality Profile of
 * DICOM PS3.15 Annex E (2026c) with its options, applied to every attribute
 * of a dataset, inside sequence items and private blocks too.
 *
 * The engine edits a parsed file in place. What maps originals to the
 * archive's identities comes from the caller: a secret key for the UID map,
 * and an identity mapper giving each patient a pseudonym and a date offset
 * (the archive plugs in its catalog; `obia deid` uses a keys database,
 * obia_deid_keys below).
 */
#ifndef OBIA_DEID_H
#define OBIA_DEID_H

#include "obia/dicom.h"
#include "obia/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Options (bits of obia_deid_config.options). */
enum {
    OBIA_DEID_CLEAN_PIXEL_DATA = 1u << 0,       /* flag images that may show burned-in text */
    OBIA_DEID_CLEAN_DESCRIPTORS = 1u << 1,
    OBIA_DEID_RETAIN_MODIFIED_DATES = 1u << 2,  /* dates shifted per individual */
    OBIA_DEID_RETAIN_FULL_DATES = 1u << 3,
    OBIA_DEID_RETAIN_PATIENT_CHARACTERISTICS = 1u << 4,
    OBIA_DEID_RETAIN_DEVICE_IDENTITY = 1u << 5,
    OBIA_DEID_RETAIN_INSTITUTION_IDENTITY = 1u << 6,
    OBIA_DEID_RETAIN_UIDS = 1u << 7,
    OBIA_DEID_RETAIN_SAFE_PRIVATE = 1u << 8,
    OBIA_DEID_CLEAN_STRUCTURED_CONTENT = 1u << 9,
    OBIA_DEID_CLEAN_GRAPHICS = 1u << 10,
    OBIA_DEID_RETAIN_NUMERIC_PRIVATE = 1u << 11, /* private values made only of numbers */
};

/* The archive's profile: the six options of the OBIA paper, and numeric
 * private elements kept. */
#define OBIA_DEID_PROFILE_OBIA                                                                   \
    (OBIA_DEID_CLEAN_PIXEL_DATA | OBIA_DEID_CLEAN_DESCRIPTORS | OBIA_DEID_RETAIN_MODIFIED_DATES | \
     OBIA_DEID_RETAIN_PATIENT_CHARACTERISTICS | OBIA_DEID_RETAIN_DEVICE_IDENTITY |               \
     OBIA_DEID_RETAIN_SAFE_PRIVATE | OBIA_DEID_RETAIN_NUMERIC_PRIVATE)
#define OBIA_DEID_PROFILE_BASIC 0u

typedef struct obia_deid_option_info {
    const char *name;       /* command-line name, e.g. "clean-descriptors" */
    unsigned bit;
    const char *title;      /* e.g. "Clean Descriptors Option" */
    const char *code;       /* CID 7050 code value, or NULL */
} obia_deid_option_info;

/* All options, in a fixed order; *count set to their number. */
const obia_deid_option_info *obia_deid_options(size_t *count);
/* The option of a command-line name, or NULL. */
const obia_deid_option_info *obia_deid_option_by_name(const char *name);

/* Who a patient is in the archive. */
typedef struct obia_deid_identity {
    char pseudonym[17];          /* fits PN and LO, e.g. "I000123" */
    int32_t date_offset_days;    /* added to every date; never 0 */
} obia_deid_identity;

/* The identity mapper: the pseudonym and date offset of the patient known
 * by (issuer, patient_id) -- both UTF-8, either may be empty -- created for a
 * new patient. key_fallback names the patient when both are empty (the
 * study's UID, so one unidentified study is one individual). */
typedef bool (*obia_deid_identify_fn)(void *ctx, const char *issuer, const char *patient_id,
                                      const char *key_fallback, obia_deid_identity *out,
                                      obia_error *err);

typedef struct obia_deid_config {
    unsigned options;
    uint8_t uid_key[32];             /* secret key of the UID map */
    obia_deid_identify_fn identify;
    void *identify_ctx;
} obia_deid_config;

void obia_deid_config_init(obia_deid_config *cfg);   /* profile obia, zero key, no mapper */

/* Called for each attribute the engine changed or removed: path like
 * "00100010", "00081115[0].0020000E", action one of D Z X C U S (dates
 * shifted) or A (added). Never given a value. */
typedef void (*obia_deid_action_fn)(void *ctx, const char *path, char action);

typedef struct obia_deid_result {
    bool flagged;                /* may show burned-in text: not to be released */
    char reason[160];            /* why it was flagged */
    obia_deid_identity identity;
    bool dates_shifted;
} obia_deid_result;

/* De-identify a parsed file in place: its dataset and File Meta. The file
 * must have been read whole (not header_only). On success res says whether
 * the image is flagged; a flagged file is de-identified all the same. Errors:
 * the mapper's, or OBIA_E_NOMEM. */
bool obia_deid_file(obia_file *f, const obia_deid_config *cfg, obia_deid_action_fn on_action,
                    void *action_ctx, obia_deid_result *res, obia_error *err);

/* Whether an image may show burned-in text (PS3.15 E.3.1): reason written
 * to reason when it may. */
bool obia_deid_burned_in_risk(const obia_dataset *ds, char *reason, size_t reason_len);

/* The replacement of a UID: "2.25." and the decimal of the first 128 bits of
 * BLAKE2b keyed with key over the UID (trailing padding ignored). */
void obia_deid_map_uid(const uint8_t key[32], const char *uid, size_t len, char out[64]);

/* ---- keys database ---------------------------------------------------------
 * An SQLite file (mode 0600) with the UID key, the identity map and each
 * individual's date offset. Pseudonyms are I000001, I000002, ... */
typedef struct obia_deid_keys obia_deid_keys;

obia_deid_keys *obia_deid_keys_open(const char *path, obia_error *err);
void obia_deid_keys_close(obia_deid_keys *k);
void obia_deid_keys_uid_key(const obia_deid_keys *k, uint8_t key[32]);
/* Make every identity created so far durable (before the outputs naming
 * them are synced). */
bool obia_deid_keys_sync(obia_deid_keys *k, obia_error *err);
/* The individual known in scope (a collection accession; "" for the
 * standalone de-identifier) by issuer and Patient ID (or, without one, by
 * key_fallback): *found says whether there is one. issuer NULL matches any
 * issuer, if the Patient ID is known under one only (else an error). */
bool obia_deid_keys_find(obia_deid_keys *k, const char *scope, const char *issuer,
                         const char *patient_id, const char *key_fallback,
                         obia_deid_identity *out, bool *found, obia_error *err);
/* Record a new individual with a new random date offset; pseudonym NULL
 * makes the next I000001-style one of the database. Committed at once. */
bool obia_deid_keys_add(obia_deid_keys *k, const char *scope, const char *issuer,
                        const char *patient_id, const char *key_fallback, const char *pseudonym,
                        obia_deid_identity *out, obia_error *err);
/* An obia_deid_identify_fn in scope ""; ctx is the obia_deid_keys. */
bool obia_deid_keys_identify(void *ctx, const char *issuer, const char *patient_id,
                             const char *key_fallback, obia_deid_identity *out, obia_error *err);

/* Keyed hash (BLAKE2b-128, a key derived from the UID key) of a value
 * normalised to upper-case letters and digits (other ASCII dropped), in a
 * context ("" for identifiers and names; an individual's accession for
 * their dates; a field name for fingerprints). Never reversible without the
 * keys database. */
void obia_deid_keys_hash(const obia_deid_keys *k, const char *context, const char *value,
                         size_t len, uint8_t out[16]);
/* Remember hashes of original values (identifiers, names, dates), so the
 * PHI review report can tell when one is left in an image. */
bool obia_deid_keys_remember(obia_deid_keys *k, const uint8_t (*hashes)[16], size_t n,
                             obia_error *err);
/* Every remembered hash, to fn. */
bool obia_deid_keys_known(obia_deid_keys *k, void (*fn)(void *ctx, const uint8_t hash[16]),
                          void *ctx, obia_error *err);

/* The input path of a quarantined file kept without bytes (paths may name
 * patients, so they live here, not in the catalog), by a random reference. */
bool obia_deid_keys_source_put(obia_deid_keys *k, const char *path, char ref[33],
                               obia_error *err);
bool obia_deid_keys_source_get(obia_deid_keys *k, const char *ref, char *path, size_t cap,
                               obia_error *err);
bool obia_deid_keys_source_drop(obia_deid_keys *k, const char *ref, obia_error *err);

#endif
