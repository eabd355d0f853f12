/* Internal to lib/qc: the risk-flag rules of the tag report (flags.c), used by
 * report.c. Each rule is a pure function of one value's UTF-8 text; the rules
 * are listed with examples in docs/qc-report.md. */
#ifndef OBIA_QC_REPORT_INTERNAL_H
#define OBIA_QC_REPORT_INTERNAL_H

#include "obia/qc.h"

#include <stdbool.h>
#include <stddef.h>

/* The NAME, PHONE, EMAIL, ADDRESS and LONG_ID flags of a text value s (n
 * bytes of UTF-8, padding removed, several values separated by
 * backslashes) of an element of VR vr. UN is given for a UN value read as
 * text (it is then taken as free text). Dates and known values are the
 * callback's business, not this function's. */
unsigned obia__qc_text_flags(obia_vr vr, const char *s, size_t n);

/* The archive's own accessions and pseudonyms: I + 6 or more digits
 * (individuals), S + 8 or more digits (studies), OBIA + 4 or more digits
 * (collections). */
bool obia__qc_is_accession(const char *s, size_t n);

/* Whether the known callback is asked about values of vr once per distinct
 * value (text that can hold an ID or a name). DA and DT are asked per image
 * instead; UI, AS, DS, IS, TM and binary VRs are not asked. */
bool obia__qc_known_per_value(obia_vr vr);

#endif
