/* Internals of lib/deid: the generated tables and the text cleaner. */
#ifndef OBIA_DEID_INTERNAL_H
#define OBIA_DEID_INTERNAL_H

#include "obia/deid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Action codes of PS3.15 Table E.1-1. */
typedef enum deid_action {
    DEID_ACT_NONE = 0, /* no entry in this column */
    DEID_ACT_X,        /* remove */
    DEID_ACT_Z,        /* zero length (or dummy) */
    DEID_ACT_D,        /* dummy value */
    DEID_ACT_K,        /* keep */
    DEID_ACT_C,        /* clean */
    DEID_ACT_U,        /* consistent replacement UID */
    DEID_ACT_ZD,       /* Z unless D is needed */
    DEID_ACT_XZ,       /* X unless Z is needed */
    DEID_ACT_XD,       /* X unless D is needed */
    DEID_ACT_XZD,      /* X unless Z or D is needed */
    DEID_ACT_XZU,      /* X unless Z or replacement of the UIDs inside is needed */
} deid_action;

/* The option columns of Table E.1-1, in the order of the generated rows. */
enum deid_column {
    DEID_COL_SAFE_PRIVATE,
    DEID_COL_UIDS,
    DEID_COL_DEVICE,
    DEID_COL_INSTITUTION,
    DEID_COL_PATIENT_CHARS,
    DEID_COL_FULL_DATES,
    DEID_COL_MODIFIED_DATES,
    DEID_COL_CLEAN_DESCRIPTORS,
    DEID_COL_CLEAN_STRUCTURED,
    DEID_COL_CLEAN_GRAPHICS,
    DEID_NCOLUMNS
};

typedef struct deid_rule {
    uint32_t tag;
    uint32_t mask;                    /* 0xFFFFFFFF, or 0 digits where 'x' */
    uint8_t basic;                    /* deid_action */
    uint8_t option[DEID_NCOLUMNS];    /* deid_action or DEID_ACT_NONE */
} deid_rule;

typedef struct deid_safe_private {
    uint16_t group;
    uint8_t elem;                     /* low byte within the creator's block */
    const char *creator;
    size_t creator_len;
} deid_safe_private;

typedef struct deid_safe_attr {
    uint32_t tag;
    uint32_t mask;
    bool clean;                       /* kept after the text cleaner */
} deid_safe_attr;

typedef struct deid_code {
    const char *scheme;
    const char *value;
    const char *meaning;
} deid_code;

/* generated/deid_table.c */
extern const deid_rule deid_rules[];            /* sorted by tag */
extern const size_t deid_rule_count;
extern const deid_rule deid_patterns[];         /* repeating groups */
extern const size_t deid_pattern_count;
extern const deid_rule deid_private_rule;
extern const deid_safe_private deid_safe_privates[]; /* sorted by group, elem, creator */
extern const size_t deid_safe_private_count;
extern const deid_safe_attr deid_safe_attrs[];  /* plain tags, sorted */
extern const size_t deid_safe_attr_count;
extern const deid_safe_attr deid_safe_attr_patterns[]; /* repeating groups */
extern const size_t deid_safe_attr_pattern_count;
extern const deid_code deid_codes[];
extern const size_t deid_code_count;

/* tables.c */
const deid_rule *deid_rule_find(uint32_t tag);
/* The allow-list entry of a public attribute outside Table E.1-1, or NULL. */
const deid_safe_attr *deid_safe_attr_find(uint32_t tag);
bool deid_safe_private_find(uint16_t group, uint8_t elem, const char *creator, size_t len);
const deid_code *deid_code_find(const char *value);

/* clean.c: identifying words and numbers gathered from a dataset, removed
 * from free text. */
typedef struct deid_cleaner deid_cleaner;
deid_cleaner *deid_cleaner_new(void);
void deid_cleaner_free(deid_cleaner *c);
/* Words of a person name (family, given, middle of each component group). */
void deid_cleaner_add_name(deid_cleaner *c, const uint8_t *p, size_t n);
/* An identifier or phrase, removed wherever it appears (any case). */
void deid_cleaner_add_phrase(deid_cleaner *c, const uint8_t *p, size_t n);
/* Rewrites text in out with identifying content replaced by '*'; dates of
 * the forms YYYYMMDD, YYYY-MM-DD, YYYY/MM/DD and YYYY.MM.DD are shifted by
 * shift_days when shift is set, other dates, phone numbers, e-mail addresses
 * and runs of 5 or more digits are removed. Returns whether anything changed. */
bool deid_clean_text(const deid_cleaner *c, const uint8_t *p, size_t n, bool shift,
                     int32_t shift_days, obia_buf *out);

/* dates.c */
/* Shift a DICOM DA value (YYYYMMDD) by days; false if it is not a valid date. */
bool deid_shift_da(const uint8_t *p, size_t n, int32_t days, char out[9]);
/* Shift the date part of a DT value, keeping the rest; false if invalid. */
bool deid_shift_dt(const uint8_t *p, size_t n, int32_t days, obia_buf *out);
/* Days from DA value a to DA value b. */
bool deid_days_between(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, int64_t *days);
/* Whole years between two DA values (age at `on` of someone born `birth`). */
bool deid_years_between(const uint8_t *birth, size_t bn, const uint8_t *on, size_t on_n,
                        int *years);

#endif
