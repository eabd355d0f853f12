/* Internal structures of lib/dicom (see include/obia/dicom.h for ownership). */
#ifndef OBIA_DICOM_INTERNAL_H
#define OBIA_DICOM_INTERNAL_H

#include "obia/dicom.h"

typedef struct obia_fragment {
    const uint8_t *data;
    uint32_t len;
    uint64_t offset;
} obia_fragment;

enum {
    EL_UNDEF_LEN = 1, /* read with undefined length */
    EL_ENCAP = 2,     /* value is fragments (encapsulated pixel data) */
};

struct obia_element {
    uint32_t tag;
    uint8_t vr;        /* obia_vr */
    uint8_t flags;
    uint32_t length;   /* value bytes; 0 for SQ and encapsulated */
    uint64_t offset;
    const uint8_t *value;
    union {
        obia_dataset **items;   /* SQ */
        obia_fragment *frags;   /* EL_ENCAP */
    } u;
    uint32_t nchild;
    uint32_t capchild;
};

struct obia_dataset {
    obia_element *elems;   /* malloc'd, sorted by tag */
    uint32_t n;
    uint32_t cap;
    obia_dataset *parent;
    obia_arena *arena;     /* shared by the whole tree */
    uint64_t offset;
    bool owns_arena;       /* a root made by obia_dataset_new() */
};

typedef struct obia_warning_node {
    obia_warning w;
} obia_warning_node;

struct obia_file {
    obia_arena *arena;
    obia_dataset *meta;
    obia_dataset *body;
    void *map;             /* mmap of the input, or NULL */
    size_t map_len;
    uint8_t *inflated;     /* malloc'd inflate output, or NULL */
    uint8_t *owned;        /* malloc'd copy of the input's first bytes, or NULL */
    uint64_t size;
    char ts[68];
    bool has_preamble;
    bool has_meta;
    bool stopped;
    obia_warning *warnings;
    size_t nwarn;
    size_t capwarn;
};

/* dataset.c */
obia_dataset *obia__dataset_new_in(obia_arena *arena, obia_dataset *parent);
void obia__dataset_release(obia_dataset *ds);          /* free element arrays, recursively */
obia_element *obia__dataset_slot(obia_dataset *ds, uint32_t tag, bool *existed); /* insert/replace */
bool obia__element_add_item(obia_element *el, obia_dataset *item);
bool obia__element_add_fragment(obia_element *el, const uint8_t *p, uint32_t len, uint64_t offset);
void obia__element_clear(obia_element *el);
/* The Specific Character Set value in force for ds (raw bytes). */
const uint8_t *obia__dataset_charset(const obia_dataset *ds, size_t *len);
/* VR resolved from the dictionary for tag (private creator LO, group length UL, UN). */
obia_vr obia__dict_vr(const obia_dataset *ds, uint32_t tag);
/* Resolve "US or SS" and friends using the dataset's other elements. */
obia_vr obia__resolve_ambiguous(const obia_dataset *ds, uint32_t tag, obia_vr vr, bool implicit,
                                bool undefined_length);
unsigned obia__swap_unit(obia_vr vr);

#endif
