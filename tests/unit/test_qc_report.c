/* Unit tests of the tag report (lib/qc/report.c, lib/qc/flags.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/qc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T(g, e) OBIA_TAG(0x##g, 0x##e)

static void set(obia_dataset *ds, uint32_t tag, obia_vr vr, const char *value)
{
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_string(ds, tag, vr, value, &err));
}

static obia_dataset *add_item(obia_dataset *ds, uint32_t tag)
{
    obia_error err;
    obia_error_clear(&err);
    obia_dataset *item = obia_dataset_add_item(ds, tag, &err);
    assert_non_null(item);
    return item;
}

static void add(obia_qc_report *r, const obia_dataset *ds)
{
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_qc_report_add(r, ds, &err));
    assert_int_equal(err.code, OBIA_E_OK);
}

/* The row of a path (and creator, when given) after finish, or NULL. */
static const obia_qc_report_row *row_of(const obia_qc_report *r, const char *path,
                                        const char *creator)
{
    static obia_qc_report_row row;
    for (size_t i = 0; i < obia_qc_report_rows(r); i++) {
        obia_qc_report_row_at(r, i, &row);
        if (strcmp(row.path, path) == 0 &&
            (!creator || (row.creator && strcmp(row.creator, creator) == 0)))
            return &row;
    }
    return NULL;
}

/* The flags a report gives one value of VR vr (in Study Description's place). */
static unsigned flags_of(obia_vr vr, const char *value)
{
    obia_dataset *ds = obia_dataset_new();
    set(ds, T(0008, 1030), vr, value);
    obia_qc_report *r = obia_qc_report_new(NULL, NULL);
    add(r, ds);
    obia_qc_report_finish(r);
    const obia_qc_report_row *row = row_of(r, "(0008,1030)", NULL);
    assert_non_null(row);
    unsigned f = row->flags;
    obia_qc_report_free(r);
    obia_dataset_free(ds);
    return f;
}

/* A small image: patient, modality, optional references. */
static obia_dataset *image(const char *patient, const char *modality, const char *const *refs,
                           size_t nrefs)
{
    obia_dataset *ds = obia_dataset_new();
    set(ds, T(0010, 0020), OBIA_VR_NONE, patient);
    set(ds, T(0010, 0010), OBIA_VR_NONE, patient);
    set(ds, T(0008, 0060), OBIA_VR_NONE, modality);
    for (size_t i = 0; i < nrefs; i++) {
        obia_dataset *item = add_item(ds, T(0008, 1140));
        set(item, T(0008, 1150), OBIA_VR_NONE, "1.2.840.10008.5.1.4.1.1.2");
        set(item, T(0008, 1155), OBIA_VR_NONE, refs[i]);
    }
    return ds;
}

static void test_counts_and_paths(void **state)
{
    (void)state;
    const char *a[] = {"1.2.3.1", "1.2.3.2"}, *b[] = {"1.2.3.1"};
    obia_dataset *ds[3] = {image("I000001", "CT", a, 2), image("I000001", "CT", b, 1),
                           image("I000002", "MR", NULL, 0)};
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_int(ds[2], T(0028, 0010), OBIA_VR_NONE, 512, &err));
    assert_true(obia_dataset_set_double(ds[2], T(0018, 0050), OBIA_VR_FD, 0.5, &err));
    obia_qc_report *r = obia_qc_report_new(NULL, NULL);
    for (size_t i = 0; i < 3; i++)
        add(r, ds[i]);
    obia_qc_report_finish(r);
    assert_int_equal(obia_qc_report_images(r), 3);
    /* 0008,0060 0008,1140 ...1150 ...1155 0010,0010 0010,0020 0018,0050 0028,0010 */
    assert_int_equal(obia_qc_report_rows(r), 8);
    assert_int_equal(obia_qc_report_flagged(r), 0);

    const obia_qc_report_row *row = row_of(r, "(0008,0060)", NULL);
    assert_non_null(row);
    assert_string_equal(row->keyword, "Modality");
    assert_string_equal(row->vr, "CS");
    assert_null(row->creator);
    assert_int_equal(row->images, 3);
    assert_int_equal(row->distinct, 2);
    assert_false(row->distinct_capped);
    assert_int_equal(row->ntop, 2);
    assert_string_equal(row->top[0], "CT");
    assert_int_equal(row->top_count[0], 2);
    assert_string_equal(row->top[1], "MR");
    assert_int_equal(row->top_count[1], 1);

    row = row_of(r, "(0008,1140)", NULL);
    assert_non_null(row);
    assert_string_equal(row->keyword, "ReferencedImageSequence");
    assert_string_equal(row->vr, "SQ");
    assert_int_equal(row->images, 2);
    assert_int_equal(row->distinct, 2); /* item counts: "<2 items>", "<1 item>" */
    assert_string_equal(row->top[0], "<1 item>");

    /* an image with two items is counted once */
    row = row_of(r, "(0008,1140)[].(0008,1155)", NULL);
    assert_non_null(row);
    assert_string_equal(row->keyword, "ReferencedSOPInstanceUID");
    assert_string_equal(row->vr, "UI");
    assert_int_equal(row->images, 2);
    assert_int_equal(row->distinct, 2);
    assert_string_equal(row->top[0], "1.2.3.1");
    assert_int_equal(row->top_count[0], 2);
    assert_string_equal(row->top[1], "1.2.3.2");
    assert_int_equal(row->top_count[1], 1);

    row = row_of(r, "(0028,0010)", NULL);
    assert_non_null(row);
    assert_string_equal(row->vr, "US");
    assert_int_equal(row->images, 1);
    assert_string_equal(row->top[0], "512");
    row = row_of(r, "(0018,0050)", NULL);
    assert_non_null(row);
    assert_string_equal(row->top[0], "0.5");

    /* no flags: rows in tag order, a sequence before its items' elements */
    const char *order[] = {"(0008,0060)", "(0008,1140)", "(0008,1140)[].(0008,1150)",
                           "(0008,1140)[].(0008,1155)", "(0010,0010)", "(0010,0020)",
                           "(0018,0050)", "(0028,0010)"};
    for (size_t i = 0; i < 8; i++) {
        obia_qc_report_row rw;
        obia_qc_report_row_at(r, i, &rw);
        assert_string_equal(rw.path, order[i]);
    }
    obia_qc_report_row rw;
    obia_qc_report_row_at(r, 8, &rw); /* out of range: an empty row */
    assert_string_equal(rw.path, "");
    assert_int_equal(rw.ntop, 0);
    obia_qc_report_free(r);
    for (size_t i = 0; i < 3; i++)
        obia_dataset_free(ds[i]);
}

static void test_nested_and_binary(void **state)
{
    (void)state;
    obia_dataset *ds = obia_dataset_new();
    obia_dataset *item = add_item(ds, T(0040, 0275));
    obia_dataset *inner = add_item(item, T(0008, 1110));
    set(inner, T(0008, 1155), OBIA_VR_NONE, "2.25.1");
    inner = add_item(item, T(0008, 1110));
    set(inner, T(0008, 1155), OBIA_VR_NONE, "2.25.2");
    uint8_t pixels[8] = {0};
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_bytes(ds, OBIA_TAG_PIXEL_DATA, OBIA_VR_OW, pixels, 8, &err));
    assert_true(obia_dataset_set_empty_sequence(ds, T(0008, 1115), &err));
    obia_qc_report *r = obia_qc_report_new(NULL, NULL);
    add(r, ds);
    obia_qc_report_finish(r);
    const obia_qc_report_row *row = row_of(r, "(0040,0275)[].(0008,1110)[].(0008,1155)", NULL);
    assert_non_null(row);
    assert_int_equal(row->images, 1);
    assert_int_equal(row->distinct, 2);
    row = row_of(r, "(0040,0275)[].(0008,1110)", NULL);
    assert_non_null(row);
    assert_string_equal(row->top[0], "<2 items>");
    row = row_of(r, "(0008,1115)", NULL);
    assert_non_null(row);
    assert_string_equal(row->top[0], "<0 items>");
    row = row_of(r, "(7FE0,0010)", NULL);
    assert_non_null(row);
    assert_string_equal(row->keyword, "PixelData");
    assert_string_equal(row->vr, "OW");
    assert_string_equal(row->top[0], "<8 bytes>");
    assert_int_equal(row->flags, 0);
    obia_qc_report_free(r);
    obia_dataset_free(ds);
}

static void test_private(void **state)
{
    (void)state;
    obia_error err;
    obia_error_clear(&err);
    obia_dataset *a = obia_dataset_new(), *b = obia_dataset_new();
    set(a, T(0009, 0010), OBIA_VR_LO, "GEMS_IDEN_01");
    set(a, T(0009, 1002), OBIA_VR_SH, "SUITE1");
    set(a, T(0011, 0010), OBIA_VR_LO, "ACME 1.0");
    set(a, T(0011, 1001), OBIA_VR_LO, "hello");
    /* UN that is text (read as text for the flags) and UN that is not */
    assert_true(obia_dataset_set_bytes(a, T(0011, 1002), OBIA_VR_UN, "SMITH^JOHN", 10, &err));
    assert_true(obia_dataset_set_bytes(a, T(0011, 1003), OBIA_VR_UN, "\x01\x02\x00\xff", 4, &err));
    set(b, T(0011, 0010), OBIA_VR_LO, "OTHER");
    set(b, T(0011, 1001), OBIA_VR_LO, "x");
    obia_qc_report *r = obia_qc_report_new(NULL, NULL);
    add(r, a);
    add(r, b);
    obia_qc_report_finish(r);

    const obia_qc_report_row *row = row_of(r, "(0009,1002)", "GEMS_IDEN_01");
    assert_non_null(row);
    assert_string_equal(row->keyword, "Suite id");
    row = row_of(r, "(0011,0010)", NULL);
    assert_non_null(row);
    assert_null(row->creator);
    assert_string_equal(row->keyword, "PrivateCreator");
    assert_int_equal(row->images, 2);
    assert_int_equal(row->distinct, 2);
    /* one row per creator for the same tag */
    row = row_of(r, "(0011,1001)", "ACME 1.0");
    assert_non_null(row);
    assert_string_equal(row->keyword, "");
    assert_int_equal(row->images, 1);
    assert_string_equal(row->top[0], "hello");
    row = row_of(r, "(0011,1001)", "OTHER");
    assert_non_null(row);
    assert_string_equal(row->top[0], "x");
    row = row_of(r, "(0011,1002)", "ACME 1.0");
    assert_non_null(row);
    assert_string_equal(row->vr, "UN");
    assert_string_equal(row->top[0], "SMITH^JOHN");
    assert_int_equal(row->flags, OBIA_QC_FLAG_NAME);
    row = row_of(r, "(0011,1003)", "ACME 1.0");
    assert_non_null(row);
    assert_string_equal(row->top[0], "<4 bytes>");
    assert_int_equal(row->flags, 0);
    assert_int_equal(obia_qc_report_flagged(r), 1);
    /* the flagged row comes first */
    obia_qc_report_row first;
    obia_qc_report_row_at(r, 0, &first);
    assert_string_equal(first.path, "(0011,1002)");
    obia_qc_report_free(r);
    obia_dataset_free(a);
    obia_dataset_free(b);
}

static void test_flag_names(void **state)
{
    (void)state;
    assert_string_equal(obia_qc_flag_name(OBIA_QC_FLAG_NAME), "name");
    assert_string_equal(obia_qc_flag_name(OBIA_QC_FLAG_DATE), "date");
    assert_string_equal(obia_qc_flag_name(OBIA_QC_FLAG_PHONE), "phone");
    assert_string_equal(obia_qc_flag_name(OBIA_QC_FLAG_EMAIL), "email");
    assert_string_equal(obia_qc_flag_name(OBIA_QC_FLAG_ADDRESS), "address");
    assert_string_equal(obia_qc_flag_name(OBIA_QC_FLAG_LONG_ID), "long-id");
    assert_string_equal(obia_qc_flag_name(OBIA_QC_FLAG_KNOWN), "known");
    assert_null(obia_qc_flag_name(0));
    assert_null(obia_qc_flag_name(OBIA_QC_FLAG_NAME | OBIA_QC_FLAG_DATE));
}

static void test_flag_name(void **state)
{
    (void)state;
    assert_int_equal(flags_of(OBIA_VR_PN, "DOE^JOHN"), OBIA_QC_FLAG_NAME);
    assert_int_equal(flags_of(OBIA_VR_PN, "Smith"), OBIA_QC_FLAG_NAME);
    assert_int_equal(flags_of(OBIA_VR_PN, "I000001\\DOE^JANE"), OBIA_QC_FLAG_NAME);
    assert_int_equal(flags_of(OBIA_VR_PN, "I000001"), 0);
    assert_int_equal(flags_of(OBIA_VR_PN, "I000001^^^^"), 0);
    assert_int_equal(flags_of(OBIA_VR_PN, "I12345678"), 0);
    assert_int_equal(flags_of(OBIA_VR_PN, "ANONYMIZED"), 0);
    assert_int_equal(flags_of(OBIA_VR_PN, ""), 0);
    assert_int_equal(flags_of(OBIA_VR_PN, "^^^"), 0);
    /* a short accession-like value is a name: I + fewer than 6 digits */
    assert_int_equal(flags_of(OBIA_VR_PN, "I0001"), OBIA_QC_FLAG_NAME);
    /* Last^First outside a PN */
    assert_int_equal(flags_of(OBIA_VR_LO, "Doe^John"), OBIA_QC_FLAG_NAME);
    assert_int_equal(flags_of(OBIA_VR_LO, "O'Brien-Smith^Mary Ann"), OBIA_QC_FLAG_NAME);
    assert_int_equal(flags_of(OBIA_VR_LO, "AXIAL\\DOE^JOHN"), OBIA_QC_FLAG_NAME);
    assert_int_equal(flags_of(OBIA_VR_LO, "DOE JOHN"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "T1^3D"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "^JOHN"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "Head^Routine"), 0);  /* Siemens exam tree */
    assert_int_equal(flags_of(OBIA_VR_LO, "Abdomen^Liver"), 0);
    assert_int_equal(flags_of(OBIA_VR_CS, "ORIGINAL\\PRIMARY\\AXIAL"), 0);
}

static void test_flag_phone(void **state)
{
    (void)state;
    assert_int_equal(flags_of(OBIA_VR_LO, "+1 (555) 123-4567"), OBIA_QC_FLAG_PHONE);
    assert_int_equal(flags_of(OBIA_VR_LO, "call 555-123-4567 now"), OBIA_QC_FLAG_PHONE);
    assert_int_equal(flags_of(OBIA_VR_LT, "Tel: 020 7946 0958"), OBIA_QC_FLAG_PHONE);
    assert_int_equal(flags_of(OBIA_VR_SH, "(555)1234567"), OBIA_QC_FLAG_PHONE);
    assert_int_equal(flags_of(OBIA_VR_LO, "01.23.45.67.89"), OBIA_QC_FLAG_PHONE);
    assert_int_equal(flags_of(OBIA_VR_LO, "+33123456789"), OBIA_QC_FLAG_PHONE);
    /* numbers, dates and UIDs are not phones */
    assert_int_equal(flags_of(OBIA_VR_LO, "12.5"), 0);
    assert_int_equal(flags_of(OBIA_VR_DS, "12.5"), 0);
    assert_int_equal(flags_of(OBIA_VR_DA, "20230101"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "2023-01-01"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "01.02.2023"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "1.2.840.10008"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "1234567.89"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "120.25 130.75"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "0.5\\0.5"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "DWI b=0 500 1000"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "1000 1500 2000"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "syngo MR B17"), 0);
    assert_int_equal(flags_of(OBIA_VR_IS, "555 1234"), 0);
    assert_int_equal(flags_of(OBIA_VR_UI, "1.2.555.123.4567"), 0);
    assert_int_equal(flags_of(OBIA_VR_TM, "101010.123456"), 0);
}

static void test_flag_email(void **state)
{
    (void)state;
    assert_int_equal(flags_of(OBIA_VR_LO, "john.doe@example.org"), OBIA_QC_FLAG_EMAIL);
    assert_int_equal(flags_of(OBIA_VR_LT, "write to a_b+c@mail.hospital.co.uk."), OBIA_QC_FLAG_EMAIL);
    assert_int_equal(flags_of(OBIA_VR_LO, "user@localhost"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "@example.org"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "a@b.c1"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "T2 @ 3T"), 0);
}

static void test_flag_address(void **state)
{
    (void)state;
    assert_int_equal(flags_of(OBIA_VR_LO, "221B Baker Street"), OBIA_QC_FLAG_ADDRESS);
    assert_int_equal(flags_of(OBIA_VR_LO, "1600 Pennsylvania Ave. NW"), OBIA_QC_FLAG_ADDRESS);
    assert_int_equal(flags_of(OBIA_VR_LT, "lives at 12 old mill rd, Springfield"), OBIA_QC_FLAG_ADDRESS);
    assert_int_equal(flags_of(OBIA_VR_ST, "42 Main St"), OBIA_QC_FLAG_ADDRESS);
    assert_int_equal(flags_of(OBIA_VR_LO, "P.O. Box 1234"), OBIA_QC_FLAG_ADDRESS);
    assert_int_equal(flags_of(OBIA_VR_LO, "po box 7"), OBIA_QC_FLAG_ADDRESS);
    assert_int_equal(flags_of(OBIA_VR_LO, "3 CHEST CT"), 0);     /* a modality, not Court */
    assert_int_equal(flags_of(OBIA_VR_LO, "2 Way"), 0);          /* no word before the street word */
    assert_int_equal(flags_of(OBIA_VR_LO, "Series 5 Axial T2"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "Baker Street"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "Box 12"), 0);
}

static void test_flag_long_id(void **state)
{
    (void)state;
    assert_int_equal(flags_of(OBIA_VR_LO, "MRN1234567"), OBIA_QC_FLAG_LONG_ID);
    assert_int_equal(flags_of(OBIA_VR_SH, "12345678"), OBIA_QC_FLAG_LONG_ID);
    assert_int_equal(flags_of(OBIA_VR_LO, "AB-123456"), OBIA_QC_FLAG_LONG_ID);
    assert_int_equal(flags_of(OBIA_VR_LT, "patient id: X_99887 (old)"), OBIA_QC_FLAG_LONG_ID);
    assert_int_equal(flags_of(OBIA_VR_LO, "SN 12345678."), OBIA_QC_FLAG_LONG_ID);
    /* not long IDs */
    assert_int_equal(flags_of(OBIA_VR_LO, "syngo MR B17"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "12345"), 0);          /* too short */
    assert_int_equal(flags_of(OBIA_VR_LO, "ABCDEF1234"), 0);     /* four digits */
    assert_int_equal(flags_of(OBIA_VR_LO, "20230101"), 0);       /* a date */
    assert_int_equal(flags_of(OBIA_VR_LO, "2023-01-15"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "15-01-2023"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "20230101120000"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "I000001"), 0);        /* accessions */
    assert_int_equal(flags_of(OBIA_VR_SH, "S00000001"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "OBIA0001"), 0);
    assert_int_equal(flags_of(OBIA_VR_LO, "123456.789"), 0);     /* a decimal number */
    assert_int_equal(flags_of(OBIA_VR_LO, "1.2.840.113619.2.55"), 0);
    assert_int_equal(flags_of(OBIA_VR_DS, "123456789"), 0);
    assert_int_equal(flags_of(OBIA_VR_IS, "123456789"), 0);
    assert_int_equal(flags_of(OBIA_VR_UI, "2.25.123456789"), 0);
    assert_int_equal(flags_of(OBIA_VR_DT, "20230101120000"), 0);
}

/* ---- the known callback ---------------------------------------------------------- */

typedef struct calls {
    int dates, others;
    char last_individual[32];
} calls;

static unsigned known(void *ctx, const char *individual, const char *value, size_t len,
                      obia_vr vr)
{
    calls *c = ctx;
    assert_int_equal(strlen(value), len);
    snprintf(c->last_individual, sizeof c->last_individual, "%s", individual);
    if (vr == OBIA_VR_DA || vr == OBIA_VR_DT) {
        c->dates++;
        /* I000001 was born on 1970-05-01 */
        return strcmp(individual, "I000001") == 0 && strncmp(value, "19700501", 8) == 0
                   ? OBIA_QC_FLAG_DATE
                   : 0;
    }
    c->others++;
    assert_true(vr != OBIA_VR_UI && vr != OBIA_VR_DS && vr != OBIA_VR_IS);
    /* the last bit is not the callback's to set */
    return (strcmp(value, "HOSP-ID-77") == 0 ? OBIA_QC_FLAG_KNOWN : 0) | (1u << 31);
}

static obia_dataset *dated(const char *patient, const char *date, const char *other_id)
{
    obia_dataset *ds = obia_dataset_new();
    set(ds, T(0010, 0020), OBIA_VR_LO, patient);
    set(ds, T(0008, 0020), OBIA_VR_DA, date);
    set(ds, T(0010, 1000), OBIA_VR_LO, other_id);
    set(ds, T(0020, 000D), OBIA_VR_UI, "2.25.7");
    set(ds, T(0018, 0050), OBIA_VR_DS, "1.5");
    return ds;
}

static void test_known_callback(void **state)
{
    (void)state;
    calls c = {0};
    obia_qc_report *r = obia_qc_report_new(known, &c);
    /* the same date is the original birth date of I000001 only */
    obia_dataset *a = dated("I000002", "19700501", "HOSP-ID-77");
    obia_dataset *b = dated("I000002", "19700501", "HOSP-ID-77");
    add(r, a);
    add(r, b);
    obia_qc_report_finish(r);
    assert_int_equal(c.dates, 2);   /* every image */
    assert_int_equal(c.others, 2);  /* once per distinct value: Patient ID, Other Patient IDs */
    assert_string_equal(c.last_individual, "I000002");
    const obia_qc_report_row *row = row_of(r, "(0008,0020)", NULL);
    assert_non_null(row);
    assert_int_equal(row->flags, 0);
    row = row_of(r, "(0010,1000)", NULL);
    assert_non_null(row);
    assert_int_equal(row->flags, OBIA_QC_FLAG_KNOWN);
    row = row_of(r, "(0010,0020)", NULL);
    assert_non_null(row);
    assert_int_equal(row->flags, 0);

    /* a third image, of I000001, with the same date value: the date is flagged */
    obia_dataset *d = dated("I000001", "19700501", "HOSP-ID-77");
    add(r, d);
    obia_qc_report_finish(r);
    assert_int_equal(c.dates, 3);
    assert_int_equal(c.others, 3);  /* only I000001 is new */
    row = row_of(r, "(0008,0020)", NULL);
    assert_non_null(row);
    assert_int_equal(row->flags, OBIA_QC_FLAG_DATE);
    assert_int_equal(obia_qc_report_flagged(r), 2);
    obia_qc_report_free(r);

    /* multi-valued dates are asked value by value; no Patient ID gives "" */
    calls c2 = {0};
    r = obia_qc_report_new(known, &c2);
    obia_dataset *e = obia_dataset_new();
    set(e, T(0008, 0020), OBIA_VR_DA, "20000101\\19700501");
    add(r, e);
    assert_int_equal(c2.dates, 2);
    assert_string_equal(c2.last_individual, "");
    obia_qc_report_free(r);
    obia_dataset_free(a);
    obia_dataset_free(b);
    obia_dataset_free(d);
    obia_dataset_free(e);
}

/* ---- merge ------------------------------------------------------------------------ */

static obia_dataset *varied(int i)
{
    char buf[64];
    obia_dataset *ds = obia_dataset_new();
    snprintf(buf, sizeof buf, "I%06d", i % 7);
    set(ds, T(0010, 0020), OBIA_VR_NONE, buf);
    set(ds, T(0010, 0010), OBIA_VR_NONE, i % 5 == 0 ? "DOE^JOHN" : buf);
    set(ds, T(0008, 0060), OBIA_VR_NONE, i % 3 ? "CT" : "MR");
    snprintf(buf, sizeof buf, "2.25.%d", i);
    set(ds, T(0008, 0018), OBIA_VR_NONE, buf);
    if (i % 4 == 0) {
        obia_dataset *item = add_item(ds, T(0008, 1140));
        snprintf(buf, sizeof buf, "2.25.%d", i / 8);
        set(item, T(0008, 1155), OBIA_VR_NONE, buf);
    }
    if (i % 6 == 0) {
        set(ds, T(0013, 0010), OBIA_VR_LO, i % 12 ? "ACME" : "OTHER");
        set(ds, T(0013, 1010), OBIA_VR_LO, "call 555-123-4567");
    }
    return ds;
}

static void assert_same_rows(const obia_qc_report *x, const obia_qc_report *y)
{
    assert_int_equal(obia_qc_report_images(x), obia_qc_report_images(y));
    assert_int_equal(obia_qc_report_rows(x), obia_qc_report_rows(y));
    assert_int_equal(obia_qc_report_flagged(x), obia_qc_report_flagged(y));
    for (size_t i = 0; i < obia_qc_report_rows(x); i++) {
        obia_qc_report_row a, b;
        obia_qc_report_row_at(x, i, &a);
        obia_qc_report_row_at(y, i, &b);
        assert_string_equal(a.path, b.path);
        assert_string_equal(a.keyword, b.keyword);
        assert_string_equal(a.vr, b.vr);
        assert_true((a.creator == NULL) == (b.creator == NULL));
        if (a.creator)
            assert_string_equal(a.creator, b.creator);
        assert_int_equal(a.images, b.images);
        assert_int_equal(a.distinct, b.distinct);
        assert_int_equal(a.distinct_capped, b.distinct_capped);
        assert_int_equal(a.flags, b.flags);
        assert_int_equal(a.ntop, b.ntop);
        for (size_t k = 0; k < a.ntop; k++) {
            assert_string_equal(a.top[k], b.top[k]);
            assert_int_equal(a.top_count[k], b.top_count[k]);
        }
    }
}

static void test_merge(void **state)
{
    (void)state;
    enum { N = 60 };
    obia_dataset *ds[N];
    for (int i = 0; i < N; i++)
        ds[i] = varied(i);
    obia_qc_report *all = obia_qc_report_new(NULL, NULL);
    obia_qc_report *one = obia_qc_report_new(NULL, NULL);
    obia_qc_report *two = obia_qc_report_new(NULL, NULL);
    for (int i = 0; i < N; i++) {
        add(all, ds[i]);
        add(i % 2 ? two : one, ds[i]); /* as two threads would share the work */
    }
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_qc_report_merge(one, two, &err));
    assert_int_equal(obia_qc_report_images(two), 0);
    assert_int_equal(obia_qc_report_rows(two), 0);
    obia_qc_report_finish(all);
    obia_qc_report_finish(one);
    assert_same_rows(all, one);
    assert_int_equal(obia_qc_report_flagged(all), 3); /* PatientName, the ACME and OTHER phones */
    const obia_qc_report_row *row = row_of(one, "(0013,1010)", "ACME");
    assert_non_null(row);
    assert_int_equal(row->flags, OBIA_QC_FLAG_PHONE);
    assert_int_equal(row->images, 5);
    /* the emptied report counts again, and merging more keeps counts exact */
    for (int i = 0; i < N; i++)
        add(two, ds[i]);
    assert_true(obia_qc_report_merge(one, two, &err));
    for (int i = 0; i < N; i++)
        add(all, ds[i]);
    obia_qc_report_finish(all);
    obia_qc_report_finish(one);
    assert_same_rows(all, one);
    row = row_of(one, "(0008,0018)", NULL);
    assert_non_null(row);
    assert_int_equal(row->images, 2 * N);
    assert_int_equal(row->distinct, N);
    assert_false(obia_qc_report_merge(one, one, &err));
    obia_qc_report_free(all);
    obia_qc_report_free(one);
    obia_qc_report_free(two);
    for (int i = 0; i < N; i++)
        obia_dataset_free(ds[i]);
}

/* ---- writers ----------------------------------------------------------------------- */

static char *write_report(const obia_qc_report *r, bool html, const char *title)
{
    obia_buf b;
    obia_buf_init(&b, 1 << 24);
    obia_error err;
    obia_error_clear(&err);
    bool ok = html ? obia_qc_report_write_html(r, title, obia_sink_buf, &b, &err)
                   : obia_qc_report_write_tsv(r, obia_sink_buf, &b, &err);
    assert_true(ok);
    obia_buf_cstr(&b);
    return (char *)b.data;
}

static obia_qc_report *hostile_report(void)
{
    obia_dataset *ds = obia_dataset_new();
    set(ds, T(0008, 1030), OBIA_VR_LO, "<script>alert('x')</script> & \"q\"");
    set(ds, T(0020, 4000), OBIA_VR_LT, "one\ttwo\nthree\\four\rfive\x01");
    set(ds, T(0010, 0010), OBIA_VR_PN, "DOE^JOHN");
    set(ds, T(0008, 103E), OBIA_VR_LO, "");
    set(ds, T(0009, 0010), OBIA_VR_LO, "<b>EVIL\tCREATOR</b>");
    set(ds, T(0009, 1001), OBIA_VR_LO, "v");
    obia_qc_report *r = obia_qc_report_new(NULL, NULL);
    add(r, ds);
    add(r, ds);
    obia_qc_report_finish(r);
    obia_dataset_free(ds);
    return r;
}

static void test_html(void **state)
{
    (void)state;
    obia_qc_report *r = hostile_report();
    char *html = write_report(r, true, "Collection <OBIA0001>");
    assert_non_null(strstr(html, "<!DOCTYPE html>"));
    assert_non_null(strstr(html, "<title>Collection &lt;OBIA0001&gt;</title>"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<b>EVIL"));
    assert_non_null(strstr(html, "&lt;b&gt;EVIL\\tCREATOR&lt;/b&gt;"));
    assert_non_null(strstr(html, "one\\ttwo\\nthree\\four\\rfive\\x01"));
    assert_non_null(strstr(html, "<b>2</b> images"));
    assert_non_null(strstr(html, "<b>1</b> flagged"));
    assert_non_null(strstr(html, "<tr class=\"flagged\"><td><code>(0010,0010)</code>"));
    assert_non_null(strstr(html, "<span class=\"badge name\">name</span>"));
    assert_non_null(strstr(html, "(empty)"));
    assert_null(strstr(html, "http"));   /* no external resources */
    assert_null(strstr(html, "src="));
    assert_non_null(strstr(html, "</html>\n"));
    free(html);
    html = write_report(r, true, NULL);
    assert_non_null(strstr(html, "<title>Tag report</title>"));
    free(html);
    obia_qc_report_free(r);
}

static void test_tsv(void **state)
{
    (void)state;
    obia_qc_report *r = hostile_report();
    char *tsv = write_report(r, false, NULL);
    size_t lines = 0;
    for (char *line = tsv, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        size_t tabs = 0;
        for (char *p = line; p < nl; p++)
            tabs += *p == '\t';
        assert_int_equal(tabs, 7);
        lines++;
    }
    assert_int_equal(lines, obia_qc_report_rows(r) + 1);
    assert_true(strncmp(tsv, "path\tkeyword\tvr\tcreator\timages\tdistinct\tflags\ttop_values\n",
                        57) == 0);
    /* the flagged row first */
    assert_non_null(strstr(tsv, "\n(0010,0010)\tPatientName\tPN\t\t2\t1\tname\tDOE^JOHN (2)\n"));
    assert_non_null(strstr(tsv, "\tone\\ttwo\\nthree\\\\four\\rfive\\x01 (2)\n"));
    assert_non_null(strstr(tsv, "\t<b>EVIL\\tCREATOR</b>\t"));
    assert_non_null(strstr(tsv, "\t(empty) (2)\n"));
    free(tsv);
    obia_qc_report_free(r);
}

static bool failing_sink(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return false;
}

static void test_sink_error(void **state)
{
    (void)state;
    obia_qc_report *r = hostile_report();
    obia_error err;
    obia_error_clear(&err);
    assert_false(obia_qc_report_write_tsv(r, failing_sink, NULL, &err));
    assert_int_equal(err.code, OBIA_E_IO);
    obia_error_clear(&err);
    assert_false(obia_qc_report_write_html(r, "t", failing_sink, NULL, &err));
    assert_int_equal(err.code, OBIA_E_IO);
    obia_qc_report_free(r);
}

static void test_display(void **state)
{
    (void)state;
    char long_value[101];
    for (int i = 0; i < 100; i++)
        long_value[i] = (char)('a' + i % 26);
    long_value[100] = '\0';
    obia_dataset *ds = obia_dataset_new();
    set(ds, T(0020, 4000), OBIA_VR_LT, long_value);
    set(ds, T(0008, 0005), OBIA_VR_CS, "ISO_IR 192");
    set(ds, T(0010, 0010), OBIA_VR_PN, "\xC3\x9Cnal^Ay\xC5\x9F" "e");
    obia_qc_report *r = obia_qc_report_new(NULL, NULL);
    add(r, ds);
    obia_qc_report_finish(r);
    const obia_qc_report_row *row = row_of(r, "(0020,4000)", NULL);
    assert_non_null(row);
    assert_int_equal(strlen(row->top[0]), 64 + 3);
    assert_memory_equal(row->top[0], long_value, 64);
    assert_string_equal(row->top[0] + 64, "\xE2\x80\xA6");
    row = row_of(r, "(0010,0010)", NULL);
    assert_non_null(row);
    assert_string_equal(row->top[0], "\xC3\x9Cnal^Ay\xC5\x9F" "e");
    assert_int_equal(row->flags, OBIA_QC_FLAG_NAME);
    obia_qc_report_free(r);
    obia_dataset_free(ds);
}

/* More distinct values than a path counts: the count stops, marked capped. */
static void test_distinct_cap(void **state)
{
    (void)state;
    obia_dataset *ds = obia_dataset_new();
    char buf[32];
    for (int i = 0; i < 100100; i++) {
        obia_dataset *item = add_item(ds, T(0008, 1140));
        snprintf(buf, sizeof buf, "2.25.%d", i);
        set(item, T(0008, 1155), OBIA_VR_UI, buf);
        if (i < 3) /* a value seen again late still counts */
            set(item, T(0008, 1150), OBIA_VR_UI, "1.2.3");
    }
    obia_dataset *item = add_item(ds, T(0008, 1140));
    set(item, T(0008, 1155), OBIA_VR_UI, "2.25.5");
    obia_qc_report *r = obia_qc_report_new(NULL, NULL);
    add(r, ds);
    obia_qc_report_finish(r);
    const obia_qc_report_row *row = row_of(r, "(0008,1140)[].(0008,1155)", NULL);
    assert_non_null(row);
    assert_int_equal(row->distinct, 100000);
    assert_true(row->distinct_capped);
    assert_string_equal(row->top[0], "2.25.5");
    assert_int_equal(row->top_count[0], 2);
    assert_int_equal(row->ntop, 5);
    char *tsv = write_report(r, false, NULL);
    assert_non_null(strstr(tsv, "\t1\t100000+\t"));
    free(tsv);
    obia_qc_report_free(r);
    obia_dataset_free(ds);
}

/* Many small images: exact counts. */
static void test_many_images(void **state)
{
    (void)state;
    enum { N = 20000 };
    obia_qc_report *r = obia_qc_report_new(NULL, NULL);
    char buf[64];
    for (int i = 0; i < N; i++) {
        obia_dataset *ds = obia_dataset_new();
        snprintf(buf, sizeof buf, "I%06d", i % 100);
        set(ds, T(0010, 0020), OBIA_VR_LO, buf);
        set(ds, T(0010, 0010), OBIA_VR_PN, buf);
        snprintf(buf, sizeof buf, "2.25.%d", i);
        set(ds, T(0008, 0018), OBIA_VR_UI, buf);
        set(ds, T(0008, 0060), OBIA_VR_CS, i % 2 ? "CT" : "MR");
        snprintf(buf, sizeof buf, "%d", i % 250 + 1);
        set(ds, T(0020, 0013), OBIA_VR_IS, buf);
        obia_error err;
        obia_error_clear(&err);
        assert_true(obia_dataset_set_int(ds, T(0028, 0010), OBIA_VR_US, 256 << (i % 2), &err));
        if (i % 10 == 0) {
            obia_dataset *item = add_item(ds, T(0008, 1140));
            set(item, T(0008, 1155), OBIA_VR_UI, buf);
        }
        add(r, ds);
        obia_dataset_free(ds);
    }
    obia_qc_report_finish(r);
    assert_int_equal(obia_qc_report_images(r), N);
    assert_int_equal(obia_qc_report_rows(r), 8);
    assert_int_equal(obia_qc_report_flagged(r), 0);
    const obia_qc_report_row *row = row_of(r, "(0008,0018)", NULL);
    assert_int_equal(row->images, N);
    assert_int_equal(row->distinct, N);
    assert_false(row->distinct_capped);
    assert_int_equal(row->top_count[0], 1);
    row = row_of(r, "(0010,0020)", NULL);
    assert_int_equal(row->distinct, 100);
    assert_int_equal(row->top_count[0], N / 100);
    assert_string_equal(row->top[0], "I000000"); /* ties in value order */
    row = row_of(r, "(0020,0013)", NULL);
    assert_int_equal(row->distinct, 250);
    row = row_of(r, "(0028,0010)", NULL);
    assert_int_equal(row->distinct, 2);
    assert_string_equal(row->top[0], "256");
    assert_string_equal(row->top[1], "512");
    row = row_of(r, "(0008,1140)[].(0008,1155)", NULL);
    assert_int_equal(row->images, N / 10);
    assert_int_equal(row->distinct, 25);
    obia_qc_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_paths),
        cmocka_unit_test(test_nested_and_binary),
        cmocka_unit_test(test_private),
        cmocka_unit_test(test_flag_names),
        cmocka_unit_test(test_flag_name),
        cmocka_unit_test(test_flag_phone),
        cmocka_unit_test(test_flag_email),
        cmocka_unit_test(test_flag_address),
        cmocka_unit_test(test_flag_long_id),
        cmocka_unit_test(test_known_callback),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_tsv),
        cmocka_unit_test(test_sink_error),
        cmocka_unit_test(test_display),
        cmocka_unit_test(test_distinct_cap),
        cmocka_unit_test(test_many_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
