/*
 * Specific Character Set (0008,0005) -> UTF-8 (internal to lib/dicom).
 *
 * A character set value is the raw bytes of (0008,0005): one or more defined
 * terms separated by backslashes, possibly space-padded, the first possibly
 * empty (meaning the default repertoire).  Single-byte sets without code
 * extensions (ISO_IR 100...), ISO 2022 sets with escape sequences (ISO 2022
 * IR 6/100/.../13/87/159/149/58), and the multi-byte sets without extensions
 * (ISO_IR 192 = UTF-8, GB18030, GBK) are supported.
 */
#ifndef OBIA_DICOM_CHARSET_H
#define OBIA_DICOM_CHARSET_H

#include "obia/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode a text value to UTF-8, appending to out.
 *   scs/scs_len: raw (0008,0005) value in force; NULL or 0 = default repertoire.
 *   is_pn: the value is a Person Name: '^' and '=' also return to the
 *          initial code elements (as do CR, LF, FF, TAB and '\' for all VRs).
 * Bytes invalid in the character set become U+FFFD and *replaced (if
 * given) is set true; an unknown defined term is treated as ISO_IR 100 and
 * also sets *replaced.  Returns false only if out fails (limit/memory),
 * setting err.
 * *replaced is only ever set, never cleared.  It is also set for 8-bit bytes
 * while no G1 set is in force (no or default (0008,0005): decoded as
 * Latin-1, like pydicom) and for escape sequences in a value whose (0008,0005)
 * declares no code extensions (decoded anyway).  The output is always valid
 * UTF-8.  Decode a multi-valued element whole, or split it after decoding:
 * in GBK/GB18030 and inside ISO 2022 two-byte G0 text (JIS X 0208/0212) a
 * 0x5C byte may be part of a character rather than the '\' delimiter. */
bool obia_charset_decode(const uint8_t *scs, size_t scs_len, bool is_pn, const uint8_t *in,
                         size_t in_len, obia_buf *out, bool *replaced, obia_error *err);

/* True when the character set value needs no conversion for pure-ASCII
 * input, i.e. its G0 is ASCII (all DICOM sets except none). Fast path: a
 * value whose bytes are all < 0x80 and contain no ESC can be copied as is.
 * False when a term is unknown, so that the caller decodes and gets the
 * *replaced report. */
bool obia_charset_ascii_compatible(const uint8_t *scs, size_t scs_len);

/* Validate a (0008,0005) value: every term known.  Names the bad term. */
bool obia_charset_check(const uint8_t *scs, size_t scs_len, obia_error *err);

#endif
