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

#endif
