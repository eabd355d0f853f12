/* Tables generated at build time by tools/gen_tables.py (internal). */
#ifndef OBIA_DICOM_DICT_INTERNAL_H
#define OBIA_DICOM_DICT_INTERNAL_H

#include "obia/dicom.h"

extern const obia_dict_entry obia_dict_table[];  /* plain (sorted by tag), then repeating */
extern const size_t obia_dict_plain_count;
extern const size_t obia_dict_total_count;
extern const uint16_t obia_dict_by_keyword[];    /* indexes sorted by keyword */
extern const size_t obia_dict_keyword_count;
extern const obia_uid_entry obia_uid_table[];    /* sorted by UID */
extern const size_t obia_uid_count;

extern const obia_private_entry obia_private_table[]; /* sorted by creator (bytes) */
extern const size_t obia_private_count;

typedef struct obia_private_creator {
    const char *name;
    uint16_t len;
    uint16_t first;   /* index of its first entry in obia_private_table */
    uint16_t count;
} obia_private_creator;

extern const obia_private_creator obia_private_creators[]; /* sorted by name (bytes) */
extern const size_t obia_private_creator_count;

#endif
