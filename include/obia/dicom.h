/*
 * obia DICOM codec: Part 10 files and bare datasets, read, edit, write, and
 * render as DICOM JSON (PS3.18 Annex F) or as a dcmdump-like text listing.
 *
 * Memory: an obia_file owns everything it returns.  By default values point
 * into the input (a private read-only mmap for obia_file_read(), the caller's
 * buffer for obia_file_parse(), which must then outlive the file); with
 * copy_values they are copied.  Values that had to be transformed (byte-swapped
 * big-endian data, inflated deflate streams) live in the file's arena.  In
 * memory every binary value is little-endian, whatever the transfer syntax.
 * Element pointers stay valid until the dataset holding them is modified.
 *
 * Datasets keep their elements in ascending tag order.  Text values are
 * stored as read; obia_element_get_string() converts them to UTF-8 using the
 * Specific Character Set in force (the item's own, else its parent's).
 */
#ifndef OBIA_DICOM_H
#define OBIA_DICOM_H

#include "obia/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OBIA_TAG(g, e) ((uint32_t)(((uint32_t)(g) << 16) | (uint16_t)(e)))
#define OBIA_GROUP(t) ((uint16_t)((t) >> 16))
#define OBIA_ELEM(t) ((uint16_t)((t) & 0xFFFF))

#define OBIA_TAG_ITEM OBIA_TAG(0xFFFE, 0xE000)
#define OBIA_TAG_ITEM_DELIM OBIA_TAG(0xFFFE, 0xE00D)
#define OBIA_TAG_SEQ_DELIM OBIA_TAG(0xFFFE, 0xE0DD)
#define OBIA_TAG_PIXEL_DATA OBIA_TAG(0x7FE0, 0x0010)
#define OBIA_TAG_FLOAT_PIXEL_DATA OBIA_TAG(0x7FE0, 0x0008)
#define OBIA_TAG_DOUBLE_PIXEL_DATA OBIA_TAG(0x7FE0, 0x0009)
#define OBIA_TAG_SPECIFIC_CHARSET OBIA_TAG(0x0008, 0x0005)
#define OBIA_UNDEFINED_LENGTH 0xFFFFFFFFu

/* Value representations (PS3.5 6.2), plus the dictionary's ambiguous ones. */
#define OBIA_VR_LIST(X)                                                         \
    X(AE) X(AS) X(AT) X(CS) X(DA) X(DS) X(DT) X(FD) X(FL) X(IS) X(LO) X(LT)    \
    X(OB) X(OD) X(OF) X(OL) X(OV) X(OW) X(PN) X(SH) X(SL) X(SQ) X(SS) X(ST)    \
    X(SV) X(TM) X(UC) X(UI) X(UL) X(UN) X(UR) X(US) X(UT) X(UV)

typedef enum obia_vr {
    OBIA_VR_NONE = 0, /* items and delimiters, or unknown */
#define OBIA_VR_ENUM(v) OBIA_VR_##v,
    OBIA_VR_LIST(OBIA_VR_ENUM)
#undef OBIA_VR_ENUM
    OBIA_VR_OB_OW,     /* "OB or OW" (dictionary only) */
    OBIA_VR_US_SS,     /* "US or SS" */
    OBIA_VR_US_OW,     /* "US or OW" */
    OBIA_VR_US_SS_OW,  /* "US or SS or OW" */
    OBIA_VR_COUNT
} obia_vr;

const char *obia_vr_name(obia_vr vr);               /* "AE", "OB or OW", "" */
obia_vr obia_vr_from_chars(uint8_t a, uint8_t b);   /* OBIA_VR_NONE if not a VR */
bool obia_vr_is_string(obia_vr vr);                 /* value is text (incl. AE..UT) */
bool obia_vr_is_charset_text(obia_vr vr);           /* SH LO ST LT PN UC UT: Specific Character Set applies */
bool obia_vr_is_binary(obia_vr vr);                 /* OB OD OF OL OV OW UN */
unsigned obia_vr_numeric_size(obia_vr vr);          /* 2 US/SS/AT-half, 4 UL/SL/FL/AT, 8 FD/SV/UV; OW 2, OF/OL 4, OD/OV 8; else 0 */
bool obia_vr_long_length(obia_vr vr);               /* explicit VR uses a 4-byte length */
uint8_t obia_vr_pad(obia_vr vr);                    /* '\0' for UI and binary, ' ' for text */

/* ---- data dictionary (generated from data/dictionary.tsv) ---------------- */

typedef struct obia_dict_entry {
    uint32_t tag;      /* with the 'x' digits as 0 for repeating groups */
    uint32_t mask;     /* bits that must match; 0xFFFFFFFF for plain tags */
    obia_vr vr;
    const char *vm;
    const char *keyword;
    const char *name;
    bool retired;
} obia_dict_entry;

const obia_dict_entry *obia_dict_lookup(uint32_t tag);
const obia_dict_entry *obia_dict_lookup_keyword(const char *keyword, size_t len);
size_t obia_dict_size(void);

/* Private dictionary (generated from data/private_dictionary.tsv): the VR,
 * VM and name of vendors' private elements, by Private Creator and tag
 * (gggg,xxee: the element's block byte is not significant). */
typedef struct obia_private_entry {
    const char *creator;
    uint32_t tag;
    uint32_t mask;
    obia_vr vr;
    const char *vm;
    const char *name;
} obia_private_entry;

const obia_private_entry *obia_private_dict_lookup(const char *creator, size_t len, uint32_t tag);

/* UID registry (generated from data/uids.tsv). */
typedef struct obia_uid_entry {
    const char *uid;
    const char *name;
    const char *type;     /* "Transfer Syntax", "SOP Class", ... */
    const char *keyword;
    bool retired;
} obia_uid_entry;

const obia_uid_entry *obia_uid_lookup(const char *uid, size_t len);

/* Transfer syntaxes. */
#define OBIA_TS_IMPLICIT_LE "1.2.840.10008.1.2"
#define OBIA_TS_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define OBIA_TS_DEFLATED_LE "1.2.840.10008.1.2.1.99"
#define OBIA_TS_EXPLICIT_BE "1.2.840.10008.1.2.2"

/* Media Storage Directory Storage: the SOP Class of a DICOMDIR (PS3.10). */
#define OBIA_SOP_MEDIA_STORAGE_DIRECTORY "1.2.840.10008.1.3.10"

typedef struct obia_ts_info {
    bool explicit_vr;
    bool big_endian;
    bool deflated;       /* the whole dataset is a deflate stream */
    bool encapsulated;   /* Pixel Data is a sequence of fragments */
    bool known;          /* in the UID registry as a transfer syntax */
} obia_ts_info;

/* Classify a transfer syntax UID.  Unknown UIDs are taken as encapsulated
 * Explicit VR Little Endian (every syntax defined since 1998 is). */
obia_ts_info obia_ts_classify(const char *uid, size_t len);

/* ---- datasets ------------------------------------------------------------- */

typedef struct obia_dataset obia_dataset;
typedef struct obia_element obia_element;
typedef struct obia_file obia_file;

obia_dataset *obia_dataset_new(void);
/* Frees a dataset made by obia_dataset_new(); datasets of a file or items
 * are freed with their owner. */
void obia_dataset_free(obia_dataset *ds);

size_t obia_dataset_count(const obia_dataset *ds);
const obia_element *obia_dataset_at(const obia_dataset *ds, size_t index); /* tag order */
const obia_element *obia_dataset_get(const obia_dataset *ds, uint32_t tag);
const obia_dataset *obia_dataset_parent(const obia_dataset *ds);
uint64_t obia_dataset_offset(const obia_dataset *ds);  /* of the item, or 0 */

/* Paths name elements at any depth: keywords or tags, items by index:
 *   "PatientName", "(0010,0010)", "00100010",
 *   "ReferencedSeriesSequence[0].SeriesInstanceUID",
 *   "(0009,\"GEMS_IDEN_01\",04)" -- private element by creator and low byte.
 * find returns NULL and sets err (NOTFOUND or ARG) when absent/invalid. */
const obia_element *obia_dataset_find(const obia_dataset *ds, const char *path, obia_error *err);
bool obia_dataset_find_tag(const obia_dataset *ds, const char *path, uint32_t *tag,
                           obia_dataset **owner, bool create_items, obia_error *err);

/* Editing.  vr OBIA_VR_NONE takes the dictionary's VR (UN for unknown tags,
 * LO for private creators).  Values are copied.  Strings are given as UTF-8;
 * a non-ASCII string is refused (OBIA_E_CHARSET) unless the dataset's
 * character set is ISO_IR 192 or no Specific Character Set is present and
 * the caller then sets (0008,0005) to ISO_IR 192. */
bool obia_dataset_set_bytes(obia_dataset *ds, uint32_t tag, obia_vr vr, const void *p, size_t n,
                            obia_error *err);
bool obia_dataset_set_string(obia_dataset *ds, uint32_t tag, obia_vr vr, const char *utf8,
                             obia_error *err);
bool obia_dataset_set_int(obia_dataset *ds, uint32_t tag, obia_vr vr, int64_t v, obia_error *err);
bool obia_dataset_set_double(obia_dataset *ds, uint32_t tag, obia_vr vr, double v, obia_error *err);
/* Make tag a sequence with no items (replacing any value). */
bool obia_dataset_set_empty_sequence(obia_dataset *ds, uint32_t tag, obia_error *err);
/* Ensure tag is a sequence and append an empty item to it. */
obia_dataset *obia_dataset_add_item(obia_dataset *ds, uint32_t tag, obia_error *err);
bool obia_dataset_remove(obia_dataset *ds, uint32_t tag);
/* Path forms of the above; set parses text per the VR of the element
 * (numbers for US/SS/UL/SL/FL/FD/SV/UV, hex tags for AT, backslash for VM>1). */
bool obia_dataset_set_path(obia_dataset *ds, const char *path, const char *value, obia_error *err);
bool obia_dataset_remove_path(obia_dataset *ds, const char *path, obia_error *err);

/* Deep equality of tags, VRs, values, items and fragments.  On a
 * difference, writes where and what into why (if given) and returns false. */
bool obia_dataset_equal(const obia_dataset *a, const obia_dataset *b, char *why, size_t why_len);
/* As obia_dataset_equal, but VRs may differ where Implicit VR cannot carry
 * them (UN for private elements, ambiguous or non-dictionary VRs), as long
 * as the value bytes are equal. */
bool obia_dataset_equivalent(const obia_dataset *a, const obia_dataset *b, char *why,
                             size_t why_len);

/* Private Creator of a private element (its block's (gggg,00xx) value,
 * trailing spaces trimmed).  False for non-private tags or missing creators. */
bool obia_dataset_private_creator(const obia_dataset *ds, uint32_t tag, const char **creator,
                                  size_t *len);
/* The tag of element `low` of the block reserved by creator in group, or 0. */
uint32_t obia_dataset_private_tag(const obia_dataset *ds, uint16_t group, const char *creator,
                                  uint8_t low);

/* ---- elements --------------------------------------------------------------- */

uint32_t obia_element_tag(const obia_element *el);
obia_vr obia_element_vr(const obia_element *el);
uint64_t obia_element_offset(const obia_element *el);   /* of its header in the input */
bool obia_element_undefined_length(const obia_element *el); /* as read */
size_t obia_element_length(const obia_element *el);     /* value bytes (0 for SQ) */
const uint8_t *obia_element_bytes(const obia_element *el);
size_t obia_element_vm(const obia_element *el);          /* values, per VR */

size_t obia_element_item_count(const obia_element *el);
obia_dataset *obia_element_item(const obia_element *el, size_t index);

/* Encapsulated pixel data: fragment 0 is the Basic Offset Table (maybe empty). */
bool obia_element_is_encapsulated(const obia_element *el);
size_t obia_element_fragment_count(const obia_element *el);
const uint8_t *obia_element_fragment(const obia_element *el, size_t index, size_t *len,
                                     uint64_t *offset);

/* Value `index` of a text element as UTF-8 (decoded with the character set
 * in force in ds, which must be the dataset holding el), with the padding
 * and insignificant spaces of its VR removed.  For VM-1 text VRs (LT, ST,
 * UT, UR) index 0 is the whole value.  Appends to out. */
bool obia_element_get_string(const obia_dataset *ds, const obia_element *el, size_t index,
                             obia_buf *out, obia_error *err);
/* Whole value as UTF-8, values separated by backslashes; trailing pad removed. */
bool obia_element_get_text(const obia_dataset *ds, const obia_element *el, obia_buf *out,
                           obia_error *err);
/* Numbers from binary VRs (US SS UL SL SV UV FL FD OW OF ...) and text VRs (IS DS). */
bool obia_element_get_int(const obia_element *el, size_t index, int64_t *out, obia_error *err);
bool obia_element_get_uint(const obia_element *el, size_t index, uint64_t *out, obia_error *err);
bool obia_element_get_double(const obia_element *el, size_t index, double *out, obia_error *err);
/* Convenience: value 0 of tag as a NUL-terminated UTF-8 string in out. */
const char *obia_dataset_get_cstr(const obia_dataset *ds, uint32_t tag, obia_buf *out);

/* ---- reading -------------------------------------------------------------- */

typedef struct obia_read_options {
    bool header_only;          /* stop before top-level Pixel Data */
    bool copy_values;          /* copy values instead of pointing into the input */
    uint64_t max_value_length; /* largest element value accepted */
    uint32_t max_depth;        /* deepest sequence nesting accepted */
    uint64_t max_elements;     /* most elements (all levels) accepted */
    uint64_t max_inflated;     /* largest inflated size of a deflated dataset */
} obia_read_options;

void obia_read_options_init(obia_read_options *opt);

typedef struct obia_warning {
    uint32_t tag;        /* OBIA_NO_TAG if none */
    uint64_t offset;
    const char *message;
} obia_warning;

obia_file *obia_file_read(const char *path, const obia_read_options *opt, obia_error *err);
obia_file *obia_file_parse(const uint8_t *data, size_t len, const obia_read_options *opt,
                           obia_error *err);
void obia_file_free(obia_file *f);

obia_dataset *obia_file_meta(const obia_file *f);      /* group 0002, maybe empty */
obia_dataset *obia_file_dataset(const obia_file *f);
const char *obia_file_transfer_syntax(const obia_file *f); /* as read, or as guessed */
bool obia_file_has_preamble(const obia_file *f);
bool obia_file_has_meta(const obia_file *f);
bool obia_file_stopped_at_pixels(const obia_file *f);  /* header_only stopped early */
uint64_t obia_file_size(const obia_file *f);
size_t obia_file_warning_count(const obia_file *f);
const obia_warning *obia_file_warning(const obia_file *f, size_t index);

/* ---- writing --------------------------------------------------------------- */

/* Output goes to a sink; it returns false to abort the write. */
typedef bool (*obia_sink_fn)(void *ctx, const void *data, size_t len);
bool obia_sink_buf(void *buf /* obia_buf* */, const void *data, size_t len);
bool obia_sink_stdio(void *fp /* FILE* */, const void *data, size_t len);

typedef enum obia_write_syntax {
    OBIA_WRITE_EXPLICIT_LE,   /* Explicit VR LE (or the source's encapsulated syntax) */
    OBIA_WRITE_IMPLICIT_LE,   /* Implicit VR LE (native pixel data only) */
    OBIA_WRITE_DEFLATED       /* Deflated Explicit VR LE (native pixel data only) */
} obia_write_syntax;

/* Write ds as a Part 10 file: preamble, "DICM", File Meta (group length,
 * version, SOP Class/Instance from ds or meta, transfer syntax, obia's
 * Implementation Class UID and version name; Source AE and private meta
 * elements kept from meta if given), then the dataset.  If ds holds
 * encapsulated Pixel Data, source_ts (its syntax) is kept and syntax must
 * be EXPLICIT_LE.  Sequences and items are written with undefined length. */
bool obia_write_part10(const obia_dataset *ds, const obia_dataset *meta, const char *source_ts,
                       obia_write_syntax syntax, obia_sink_fn sink, void *ctx, obia_error *err);
/* Write a file as read back to Part 10 in the given syntax. */
bool obia_file_write(const obia_file *f, obia_write_syntax syntax, obia_sink_fn sink, void *ctx,
                     obia_error *err);
bool obia_file_write_path(const obia_file *f, obia_write_syntax syntax, const char *path,
                          obia_error *err);
/* As obia_file_write_path; with sync false the file is not fsync'ed (the
 * caller syncs a whole batch at once, e.g. with syncfs). */
bool obia_file_write_path_sync(const obia_file *f, obia_write_syntax syntax, const char *path,
                               bool sync, obia_error *err);

#define OBIA_IMPLEMENTATION_CLASS_UID "2.25.229467051209380462283402358163393437447"
#define OBIA_IMPLEMENTATION_VERSION "OBIA_" OBIA_VERSION_SHORT
#define OBIA_VERSION_SHORT "0.1"
#define OBIA_VERSION "0.1.0"

/* ---- DICOM JSON (PS3.18 Annex F) ------------------------------------------- */

typedef struct obia_json_options {
    size_t bulk_threshold;        /* binary values longer than this become BulkDataURI... */
    const char *bulk_uri_prefix;  /* ...when a prefix is given; NULL: always InlineBinary */
    bool include_meta;            /* obia_json_write_file: also group 0002 */
    bool pretty;                  /* newlines and indentation */
} obia_json_options;

void obia_json_options_init(obia_json_options *opt);
/* Stream ds as one JSON object.  Memory use does not depend on value sizes. */
bool obia_json_write(const obia_dataset *ds, const obia_json_options *opt, obia_sink_fn sink,
                     void *ctx, obia_error *err);
bool obia_json_write_file(const obia_file *f, const obia_json_options *opt, obia_sink_fn sink,
                          void *ctx, obia_error *err);

/* ---- text listing ----------------------------------------------------------- */

typedef struct obia_dump_options {
    size_t max_value_chars;   /* longer values are cut with "..."; 0: no limit */
    bool show_meta;           /* list group 0002 first */
} obia_dump_options;

void obia_dump_options_init(obia_dump_options *opt);
bool obia_dump_file(const obia_file *f, const obia_dump_options *opt, obia_sink_fn sink, void *ctx,
                    obia_error *err);
bool obia_dump_dataset(const obia_dataset *ds, const obia_dump_options *opt, obia_sink_fn sink,
                       void *ctx, obia_error *err);

#endif
