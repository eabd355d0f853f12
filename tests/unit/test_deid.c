/* Unit tests of the de-identification engine (lib/deid).
 *
 * The table-driven test reads data/annex_e.tsv itself (not the generated C
 * table) and checks, for every row and for each option setting, that the
 * attribute -- at the top level and inside a sequence item -- gets the
 * action the table and options give, under the documented resolution:
 * C wins over K between options; the combined codes keep the attribute
 * present (Z/D, X/D, X/Z/D as D; X/Z as Z; X/Z/U* maps the UIDs inside),
 * except sequences: X/Z, X/D and X/Z/D remove them (an empty sequence is
 * invalid where it is Type 3) unless they are Type 2 where used, and D and
 * Z/D empty them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/deid.h"
#include "obia/dicom.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_DIR OBIA_TEST_DATA "/../../data"
#define OFFSET (-100)

/* ---- helpers ------------------------------------------------------------ */

static bool fixed_identity(void *ctx, const char *issuer, const char *patient_id,
                           const char *fallback, obia_deid_identity *out, obia_error *err)
{
    (void)ctx; (void)issuer; (void)patient_id; (void)fallback; (void)err;
    snprintf(out->pseudonym, sizeof out->pseudonym, "I000042");
    out->date_offset_days = OFFSET;
    return true;
}

static void config(obia_deid_config *cfg, unsigned options)
{
    obia_deid_config_init(cfg);
    cfg->options = options;
    for (int i = 0; i < 32; i++)
        cfg->uid_key[i] = (uint8_t)(i * 7 + 1);
    cfg->identify = fixed_identity;
}

/* Write ds as Part 10 and parse it back: an obia_file the engine can take. */
static obia_file *as_file(const obia_dataset *ds)
{
    static obia_buf out;
    static bool init;
    if (!init) {
        obia_buf_init(&out, 64u << 20);
        init = true;
    }
    obia_buf_reset(&out);
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_write_part10(ds, NULL, NULL, OBIA_WRITE_EXPLICIT_LE, obia_sink_buf, &out, &err));
    /* the file must outlive this buffer: copy */
    uint8_t *copy = malloc(out.len);
    memcpy(copy, out.data, out.len);
    obia_read_options opt;
    obia_read_options_init(&opt);
    opt.copy_values = true;
    obia_file *f = obia_file_parse(copy, out.len, &opt, &err);
    free(copy);
    assert_non_null(f);
    return f;
}

/* De-identify, write, and read back the result. */
static obia_file *deid_roundtrip(obia_file *f, unsigned options, obia_deid_result *res)
{
    obia_deid_config cfg;
    config(&cfg, options);
    obia_error err;
    obia_error_clear(&err);
    obia_deid_result local;
    if (!res)
        res = &local;
    if (!obia_deid_file(f, &cfg, NULL, NULL, res, &err))
        fail_msg("deid failed: %s", err.message);
    obia_buf out;
    obia_buf_init(&out, 64u << 20);
    assert_true(obia_file_write(f, OBIA_WRITE_EXPLICIT_LE, obia_sink_buf, &out, &err));
    obia_read_options opt;
    obia_read_options_init(&opt);
    opt.copy_values = true;
    obia_file *g = obia_file_parse(out.data, out.len, &opt, &err);
    assert_non_null(g);
    obia_buf_free(&out);
    obia_file_free(f);
    return g;
}

static bool bytes_eq(const obia_element *el, const void *p, size_t n)
{
    return el && obia_element_length(el) == n && (n == 0 || memcmp(obia_element_bytes(el), p, n) == 0);
}

/* Value equal to s once its padding (space or NUL) is removed. */
static bool text_eq(const obia_element *el, const char *s)
{
    if (!el)
        return false;
    size_t n = obia_element_length(el);
    const uint8_t *p = obia_element_bytes(el);
    while (n && (p[n - 1] == ' ' || p[n - 1] == 0))
        n--;
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

static bool contains(const obia_element *el, const char *needle)
{
    if (!el)
        return false;
    size_t n = obia_element_length(el), k = strlen(needle);
    const uint8_t *p = obia_element_bytes(el);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return true;
    return false;
}

/* ---- the table ------------------------------------------------------------ */

static const char *const columns[] = {"rtn_safe_private", "rtn_uids", "rtn_device_identity",
                                      "rtn_institution_identity", "rtn_patient_characteristics",
                                      "rtn_long_full_dates", "rtn_long_modified_dates",
                                      "clean_descriptors", "clean_structured_content",
                                      "clean_graphics"};
static const unsigned column_bits[] = {
    OBIA_DEID_RETAIN_SAFE_PRIVATE, OBIA_DEID_RETAIN_UIDS, OBIA_DEID_RETAIN_DEVICE_IDENTITY,
    OBIA_DEID_RETAIN_INSTITUTION_IDENTITY, OBIA_DEID_RETAIN_PATIENT_CHARACTERISTICS,
    OBIA_DEID_RETAIN_FULL_DATES, OBIA_DEID_RETAIN_MODIFIED_DATES, OBIA_DEID_CLEAN_DESCRIPTORS,
    OBIA_DEID_CLEAN_STRUCTURED_CONTENT, OBIA_DEID_CLEAN_GRAPHICS};
#define NCOL 10

typedef struct row {
    uint32_t tag;
    char keyword[80];
    char basic[8];
    char opt[NCOL][4];
} row;

static row *rows;
static size_t nrows;

static void load_table(void)
{
    if (rows)
        return;
    FILE *fp = fopen(DATA_DIR "/annex_e.tsv", "r");
    assert_non_null(fp);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, fp));
    /* header: find the columns */
    int idx_basic = -1, idx_col[NCOL];
    {
        char *save, *tok = strtok_r(line, "\t\n", &save);
        for (int i = 0; tok; i++, tok = strtok_r(NULL, "\t\n", &save)) {
            if (strcmp(tok, "basic") == 0)
                idx_basic = i;
            for (int c = 0; c < NCOL; c++)
                if (strcmp(tok, columns[c]) == 0)
                    idx_col[c] = i;
        }
    }
    assert_int_not_equal(idx_basic, -1);
    rows = calloc(1000, sizeof *rows);
    while (fgets(line, sizeof line, fp)) {
        char *f[32];
        int nf = 0;
        char *p = line;
        f[nf++] = p;
        for (; *p && *p != '\n'; p++)
            if (*p == '\t') {
                *p = '\0';
                f[nf++] = p + 1;
            }
        *p = '\0';
        if (strcmp(f[0], "gggg,eeee") == 0)
            continue;
        row *r = &rows[nrows];
        char hex[9];
        memcpy(hex, f[0], 4);
        memcpy(hex + 4, f[0] + 5, 4);
        hex[8] = '\0';
        /* repeating groups: first group of the range, element 3000 for xxxx */
        for (int i = 0; i < 8; i++)
            if (hex[i] == 'x')
                hex[i] = i < 4 ? '0' : (i == 4 ? '3' : '0');
        r->tag = (uint32_t)strtoul(hex, NULL, 16);
        snprintf(r->keyword, sizeof r->keyword, "%s", f[1]);
        snprintf(r->basic, sizeof r->basic, "%s", f[idx_basic]);
        for (int c = 0; c < NCOL; c++)
            snprintf(r->opt[c], sizeof r->opt[c], "%s", f[idx_col[c]]);
        nrows++;
    }
    fclose(fp);
    assert_true(nrows >= 650);
}

/* The expected action code under options, from the table's columns. */
static const char *expected(const row *r, unsigned options, bool *shift)
{
    bool keep = false, clean = false;
    *shift = false;
    for (int c = 0; c < NCOL; c++) {
        if (!(options & column_bits[c]) || !r->opt[c][0])
            continue;
        if (strcmp(r->opt[c], "C") == 0) {
            clean = true;
            if (column_bits[c] == OBIA_DEID_RETAIN_MODIFIED_DATES)
                *shift = true;
        } else if (strcmp(r->opt[c], "K") == 0) {
            keep = true;
        }
    }
    if (clean)
        return "C";
    if (keep)
        return "K";
    return r->basic;
}

/* A value for the VR that the engine must not leak. */
static void put_value(obia_dataset *ds, uint32_t tag, obia_vr vr, size_t n)
{
    obia_error err;
    obia_error_clear(&err);
    char text[64];
    bool ok = true;
    switch (vr) {
    case OBIA_VR_DA: ok = obia_dataset_set_string(ds, tag, vr, "20200115", &err); break;
    case OBIA_VR_DT: ok = obia_dataset_set_string(ds, tag, vr, "20200115123000", &err); break;
    case OBIA_VR_TM: ok = obia_dataset_set_string(ds, tag, vr, "123000", &err); break;
    case OBIA_VR_UI:
        snprintf(text, sizeof text, "1.2.826.0.1.3680043.10.9999.%zu", n);
        ok = obia_dataset_set_string(ds, tag, vr, text, &err);
        break;
    case OBIA_VR_AS: ok = obia_dataset_set_string(ds, tag, vr, "045Y", &err); break;
    case OBIA_VR_AE: ok = obia_dataset_set_string(ds, tag, vr, "ZQXAE", &err); break;
    case OBIA_VR_CS: ok = obia_dataset_set_string(ds, tag, vr, "ZQX DOE", &err); break;
    case OBIA_VR_DS: ok = obia_dataset_set_string(ds, tag, vr, "12.5", &err); break;
    case OBIA_VR_IS: ok = obia_dataset_set_string(ds, tag, vr, "42", &err); break;
    case OBIA_VR_PN: ok = obia_dataset_set_string(ds, tag, vr, "DOE^ZQX", &err); break;
    case OBIA_VR_SH: case OBIA_VR_LO: case OBIA_VR_ST: case OBIA_VR_LT: case OBIA_VR_UT:
    case OBIA_VR_UC: case OBIA_VR_UR:
        snprintf(text, sizeof text, "ZQX%zu DOE", n);
        ok = obia_dataset_set_string(ds, tag, vr, text, &err);
        break;
    case OBIA_VR_SQ: {
        obia_dataset *item = obia_dataset_add_item(ds, tag, &err);
        assert_non_null(item);
        ok = obia_dataset_set_string(item, OBIA_TAG(0x0008, 0x0100), OBIA_VR_SH, "ZQXSQ", &err);
        break;
    }
    case OBIA_VR_OB: case OBIA_VR_OW: case OBIA_VR_UN:
        ok = obia_dataset_set_bytes(ds, tag, vr, "ZQX1", 4, &err);
        break;
    default: {
        uint8_t v[8] = {7};
        unsigned size = obia_vr_numeric_size(vr);
        ok = obia_dataset_set_bytes(ds, tag, vr, v, size ? size : 4, &err);
    }
    }
    if (!ok)
        fail_msg("cannot set (%04X,%04X): %s", OBIA_GROUP(tag), OBIA_ELEM(tag), err.message);
}

static obia_vr vr_of(uint32_t tag)
{
    const obia_dict_entry *e = obia_dict_lookup(tag);
    obia_vr vr = e ? e->vr : OBIA_VR_UN;
    if (vr == OBIA_VR_OB_OW)
        vr = OBIA_VR_OB;
    else if (vr == OBIA_VR_US_SS || vr == OBIA_VR_US_SS_OW || vr == OBIA_VR_US_OW)
        vr = OBIA_VR_US;
    else if (vr == OBIA_VR_NONE)
        vr = OBIA_VR_UN;
    return vr;
}

static void check_row(const row *r, size_t idx, unsigned options, bool in_item, int *checked)
{
    /* File Meta rows are checked on the meta; PatientName and PatientID
     * become the pseudonym at the top level */
    if (OBIA_GROUP(r->tag) == 0x0002 || OBIA_GROUP(r->tag) == 0x0000)
        return;
    if (!in_item && (r->tag == OBIA_TAG(0x0010, 0x0010) || r->tag == OBIA_TAG(0x0010, 0x0020)))
        return;
    obia_vr vr = vr_of(r->tag);
    obia_dataset *ds = obia_dataset_new();
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0008, 0x0016), OBIA_VR_UI, "1.2.840.10008.5.1.4.1.1.2", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0008, 0x0018), OBIA_VR_UI, "1.2.3.4", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0010, 0x0010), OBIA_VR_PN, "DOE^JOHN", &err));
    obia_dataset *where = ds;
    if (in_item) {
        where = obia_dataset_add_item(ds, OBIA_TAG(0x5200, 0x9229), &err);
        assert_non_null(where);
    }
    put_value(where, r->tag, vr, idx);
    obia_file *f = as_file(ds);
    obia_dataset_free(ds);
    const obia_element *orig_el = obia_dataset_get(
        in_item ? obia_element_item(obia_dataset_get(obia_file_dataset(f), OBIA_TAG(0x5200, 0x9229)), 0)
                : obia_file_dataset(f),
        r->tag);
    assert_non_null(orig_el);
    uint8_t orig[128];
    size_t orig_n = obia_element_length(orig_el);
    assert_true(orig_n <= sizeof orig);
    if (orig_n)
        memcpy(orig, obia_element_bytes(orig_el), orig_n);

    obia_file *g = deid_roundtrip(f, options, NULL);
    const obia_dataset *out = obia_file_dataset(g);
    if (in_item) {
        const obia_element *seq = obia_dataset_get(out, OBIA_TAG(0x5200, 0x9229));
        assert_non_null(seq);
        assert_int_equal(obia_element_item_count(seq), 1);
        out = obia_element_item(seq, 0);
    }
    const obia_element *el = obia_dataset_get(out, r->tag);
    bool shift;
    const char *a = expected(r, options, &shift);
    char where_s[160];
    snprintf(where_s, sizeof where_s, "(%04X,%04X) %s %s, options %#x%s, expected %s",
             OBIA_GROUP(r->tag), OBIA_ELEM(r->tag), r->keyword, obia_vr_name(vr), options,
             in_item ? " in an item" : "", a);
    bool ok = true;
    if (strcmp(a, "K") == 0) {
        if (vr == OBIA_VR_SQ)
            ok = el && obia_element_item_count(el) == 1;
        else
            ok = bytes_eq(el, orig, orig_n);
    } else if (strcmp(a, "X") == 0) {
        ok = el == NULL;
    } else if (vr == OBIA_VR_SQ && (strcmp(a, "X/Z") == 0 || strcmp(a, "X/D") == 0 ||
                                    strcmp(a, "X/Z/D") == 0)) {
        /* removed, but for a sequence that is Type 2 where it is used */
        ok = r->tag == OBIA_TAG(0x0040, 0x0555) ? el && obia_element_item_count(el) == 0 : el == NULL;
    } else if (strcmp(a, "Z") == 0 || strcmp(a, "X/Z") == 0) {
        ok = el && (vr == OBIA_VR_SQ ? obia_element_item_count(el) == 0 : obia_element_length(el) == 0);
    } else if (strcmp(a, "U") == 0 || (strcmp(a, "X/Z/U*") == 0 && vr == OBIA_VR_UI)) {
        char want[64];
        obia_deid_config cfg;
        config(&cfg, options);
        obia_deid_map_uid(cfg.uid_key, (const char *)orig, orig_n, want);
        ok = vr == OBIA_VR_UI ? text_eq(el, want) : el && !contains(el, "ZQX");
    } else if (strcmp(a, "X/Z/U*") == 0) {
        ok = el && (vr != OBIA_VR_SQ || obia_element_item_count(el) == 1);
    } else if (strcmp(a, "D") == 0 || strcmp(a, "Z/D") == 0 || strcmp(a, "X/D") == 0 ||
               strcmp(a, "X/Z/D") == 0) {
        if (vr == OBIA_VR_SQ)
            ok = el && obia_element_item_count(el) == 0;
        else if (vr == OBIA_VR_UI)
            ok = el && obia_element_length(el) > 5 && memcmp(obia_element_bytes(el), "2.25.", 5) == 0;
        else if (vr == OBIA_VR_UN)
            ok = el && obia_element_length(el) == 0;
        else
            ok = el && obia_element_length(el) > 0 && !bytes_eq(el, orig, orig_n) && !contains(el, "ZQX") &&
                 !contains(el, "DOE");
    } else if (strcmp(a, "C") == 0) {
        if (vr == OBIA_VR_SQ) {
            ok = el && obia_element_item_count(el) == 1;
        } else if (vr == OBIA_VR_DA) {
            ok = shift ? bytes_eq(el, "20191007", 8) : (el && obia_element_length(el) == 0);
        } else if (vr == OBIA_VR_DT) {
            ok = shift ? bytes_eq(el, "20191007123000", 14) : (el && obia_element_length(el) == 0);
        } else if (vr == OBIA_VR_TM) {
            ok = bytes_eq(el, orig, orig_n);
        } else if (vr == OBIA_VR_UI) {
            ok = el && memcmp(obia_element_bytes(el), "2.25.", 5) == 0;
        } else if (vr == OBIA_VR_AE || vr == OBIA_VR_PN) {
            ok = el && !contains(el, "ZQX") && !contains(el, "DOE");
        } else if (obia_vr_is_string(vr)) {
            /* cleaned: the patient's family name (DOE) is gone, the rest kept */
            ok = el && contains(el, "ZQX") && !contains(el, "DOE");
        } else if (vr == OBIA_VR_OB || vr == OBIA_VR_OW || vr == OBIA_VR_UN) {
            ok = el == NULL;   /* bytes that cannot be inspected go */
        } else {
            ok = bytes_eq(el, orig, orig_n);
        }
    } else {
        fail_msg("unknown action %s in the table", a);
    }
    if (!ok) {
        char got[200] = "absent";
        if (el) {
            size_t n = obia_element_length(el);
            snprintf(got, sizeof got, "VR %s, %zu bytes \"%.*s\", %zu items", obia_vr_name(obia_element_vr(el)),
                     n, (int)(n < 60 ? n : 60), (const char *)obia_element_bytes(el),
                     obia_element_vr(el) == OBIA_VR_SQ ? obia_element_item_count(el) : 0);
        }
        fail_msg("%s; got %s", where_s, got);
    }
    (*checked)++;
    obia_file_free(g);
}

static void test_every_row_every_option(void **state)
{
    (void)state;
    load_table();
    unsigned settings[NCOL + 2];
    size_t ns = 0;
    settings[ns++] = OBIA_DEID_PROFILE_BASIC;
    settings[ns++] = OBIA_DEID_PROFILE_OBIA;
    for (int c = 0; c < NCOL; c++)
        settings[ns++] = column_bits[c];
    int checked = 0;
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < nrows; i++) {
            check_row(&rows[i], i, settings[s], false, &checked);
            check_row(&rows[i], i, settings[s], true, &checked);
        }
    print_message("checked %d (row, option setting, place) cases of %zu rows\n", checked, nrows);
    assert_true(checked > 15000);
}

/* ---- identity, UIDs, dates, marking ---------------------------------------- */

static obia_dataset *patient_dataset(void)
{
    obia_dataset *ds = obia_dataset_new();
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_path(ds, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.2", &err));
    assert_true(obia_dataset_set_path(ds, "SOPInstanceUID", "1.2.826.0.1.3680043.10.1.1", &err));
    assert_true(obia_dataset_set_path(ds, "StudyInstanceUID", "1.2.826.0.1.3680043.10.1.2", &err));
    assert_true(obia_dataset_set_path(ds, "SeriesInstanceUID", "1.2.826.0.1.3680043.10.1.3", &err));
    assert_true(obia_dataset_set_path(ds, "PatientName", "Smith^Jane^Q", &err));
    assert_true(obia_dataset_set_path(ds, "PatientID", "MRN-778899", &err));
    assert_true(obia_dataset_set_path(ds, "PatientBirthDate", "19700310", &err));
    assert_true(obia_dataset_set_path(ds, "PatientSex", "F", &err));
    assert_true(obia_dataset_set_path(ds, "StudyDate", "20200115", &err));
    assert_true(obia_dataset_set_path(ds, "StudyTime", "101500", &err));
    assert_true(obia_dataset_set_path(ds, "Modality", "CT", &err));
    assert_true(obia_dataset_set_path(ds, "AccessionNumber", "ACC4455", &err));
    assert_true(obia_dataset_set_path(ds, "InstitutionName", "Saint Elsewhere Hospital", &err));
    assert_true(obia_dataset_set_path(ds, "StudyDescription",
                                      "CT head for SMITH MRN-778899 on 2020-01-15 call 555-123-4567", &err));
    assert_true(obia_dataset_set_path(ds, "BurnedInAnnotation", "NO", &err));
    assert_true(obia_dataset_set_path(ds, "Rows", "2", &err));
    assert_true(obia_dataset_set_path(ds, "Columns", "2", &err));
    assert_true(obia_dataset_set_bytes(ds, OBIA_TAG(0x7FE0, 0x0010), OBIA_VR_OW, "\1\2\3\4\5\6\7\10", 8, &err));
    /* a referenced image inside a sequence, and a private block */
    assert_true(obia_dataset_set_path(ds, "ReferencedImageSequence[0].ReferencedSOPClassUID",
                                      "1.2.840.10008.5.1.4.1.1.2", &err));
    assert_true(obia_dataset_set_path(ds, "ReferencedImageSequence[0].ReferencedSOPInstanceUID",
                                      "1.2.826.0.1.3680043.10.1.1", &err));
    return ds;
}

static void test_identity_uids_dates(void **state)
{
    (void)state;
    obia_dataset *ds = patient_dataset();
    obia_file *f = as_file(ds);
    obia_dataset_free(ds);
    obia_deid_result res;
    obia_file *g = deid_roundtrip(f, OBIA_DEID_PROFILE_OBIA, &res);
    const obia_dataset *out = obia_file_dataset(g);
    assert_false(res.flagged);
    assert_string_equal(res.identity.pseudonym, "I000042");
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0010, 0x0010)), "I000042 ", 8));
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0010, 0x0020)), "I000042 ", 8));
    /* UIDs: mapped consistently, the reference follows the instance */
    const obia_element *sop = obia_dataset_get(out, OBIA_TAG(0x0008, 0x0018));
    obia_error err;
    obia_error_clear(&err);
    const obia_element *ref = obia_dataset_find(out, "ReferencedImageSequence[0].ReferencedSOPInstanceUID", &err);
    assert_non_null(sop);
    assert_non_null(ref);
    assert_true(bytes_eq(ref, obia_element_bytes(sop), obia_element_length(sop)));
    assert_memory_equal(obia_element_bytes(sop), "2.25.", 5);
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0008, 0x0016)), "1.2.840.10008.5.1.4.1.1.2", 26) ||
                bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0008, 0x0016)), "1.2.840.10008.5.1.4.1.1.2\0", 26));
    const obia_element *msi = obia_dataset_get(obia_file_meta(g), OBIA_TAG(0x0002, 0x0003));
    assert_true(bytes_eq(msi, obia_element_bytes(sop), obia_element_length(sop)));
    /* dates shifted by the individual's offset, times kept, age computed */
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0008, 0x0020)), "20191007", 8));
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0008, 0x0030)), "101500", 6));
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0010, 0x1010)), "049Y", 4));
    const obia_element *birth = obia_dataset_get(out, OBIA_TAG(0x0010, 0x0030));
    assert_true(birth == NULL || obia_element_length(birth) == 0);
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0010, 0x0040)), "F ", 2));
    /* descriptors cleaned: name, ID, phone gone; the date shifted; words kept */
    const obia_element *desc = obia_dataset_get(out, OBIA_TAG(0x0008, 0x1030));
    assert_non_null(desc);
    assert_true(contains(desc, "CT head for"));
    assert_false(contains(desc, "SMITH"));
    assert_false(contains(desc, "778899"));
    assert_false(contains(desc, "555"));
    assert_true(contains(desc, "2019-10-07"));
    /* institution and accession gone */
    const obia_element *inst = obia_dataset_get(out, OBIA_TAG(0x0008, 0x0080));
    assert_true(inst == NULL || !contains(inst, "Elsewhere"));
    const obia_element *acc = obia_dataset_get(out, OBIA_TAG(0x0008, 0x0050));
    assert_true(acc == NULL || obia_element_length(acc) == 0);
    /* pixels untouched */
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x7FE0, 0x0010)), "\1\2\3\4\5\6\7\10", 8));
    /* marked */
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0012, 0x0062)), "YES ", 4));
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0028, 0x0303)), "MODIFIED", 8));
    const obia_element *codes = obia_dataset_get(out, OBIA_TAG(0x0012, 0x0064));
    assert_non_null(codes);
    assert_int_equal(obia_element_item_count(codes), 7);   /* 113100 and six options */
    assert_true(bytes_eq(obia_dataset_get(obia_element_item(codes, 0), OBIA_TAG(0x0008, 0x0100)), "113100", 6));
    obia_file_free(g);

    /* Retain UIDs keeps them; the basic profile removes the dates */
    ds = patient_dataset();
    f = as_file(ds);
    obia_dataset_free(ds);
    g = deid_roundtrip(f, OBIA_DEID_RETAIN_UIDS, NULL);
    out = obia_file_dataset(g);
    assert_true(contains(obia_dataset_get(out, OBIA_TAG(0x0008, 0x0018)), "1.2.826.0.1.3680043.10.1.1"));
    const obia_element *sd = obia_dataset_get(out, OBIA_TAG(0x0008, 0x0020));
    assert_true(sd && obia_element_length(sd) == 0);
    assert_true(bytes_eq(obia_dataset_get(out, OBIA_TAG(0x0028, 0x0303)), "REMOVED ", 8));
    obia_file_free(g);
}

static void test_uid_map(void **state)
{
    (void)state;
    uint8_t k1[32] = {1}, k2[32] = {2};
    char a[64], b[64], c[64], d[64];
    obia_deid_map_uid(k1, "1.2.3.4", 7, a);
    obia_deid_map_uid(k1, "1.2.3.4\0", 8, b);   /* padding ignored */
    obia_deid_map_uid(k2, "1.2.3.4", 7, c);
    obia_deid_map_uid(k1, "1.2.3.5", 7, d);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_memory_equal(a, "2.25.", 5);
    assert_true(strlen(a) <= 44);
    for (const char *p = a + 5; *p; p++)
        assert_true(*p >= '0' && *p <= '9');
    assert_true(a[5] != '0' || a[6] == '\0');   /* no leading zero */
}

/* ---- private elements ------------------------------------------------------ */

static void test_private(void **state)
{
    (void)state;
    obia_dataset *ds = patient_dataset();
    obia_error err;
    obia_error_clear(&err);
    /* a safe private element (PS3.15 Table E.3.10-1), a numeric one, a text
     * one, a private date that is all digits, and an orphan */
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x7053, 0x0010), OBIA_VR_LO, "Philips PET Private Group", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x7053, 0x1000), OBIA_VR_DS, "1.25", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0011, 0x0010), OBIA_VR_LO, "ACME 1", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0011, 0x1001), OBIA_VR_DS, "12.5\\3", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0011, 0x1002), OBIA_VR_LO, "hello Smith", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0011, 0x1003), OBIA_VR_LO, "20200115", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0013, 0x0010), OBIA_VR_LO, "ACME 2", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0013, 0x1001), OBIA_VR_LO, "only text", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0015, 0x1001), OBIA_VR_LO, "no creator", &err));
    obia_file *f = as_file(ds);
    obia_dataset_free(ds);
    obia_file *g = deid_roundtrip(f, OBIA_DEID_PROFILE_OBIA, NULL);
    const obia_dataset *out = obia_file_dataset(g);
    uint32_t safe = obia_dataset_private_tag(out, 0x7053, "Philips PET Private Group", 0x00);
    assert_int_not_equal(safe, 0);
    assert_true(contains(obia_dataset_get(out, safe), "1.25"));
    assert_true(contains(obia_dataset_get(out, OBIA_TAG(0x0011, 0x1001)), "12.5\\3"));
    assert_null(obia_dataset_get(out, OBIA_TAG(0x0011, 0x1002)));
    assert_null(obia_dataset_get(out, OBIA_TAG(0x0011, 0x1003)));   /* a date is not a number */
    assert_non_null(obia_dataset_get(out, OBIA_TAG(0x0011, 0x0010)));
    assert_null(obia_dataset_get(out, OBIA_TAG(0x0013, 0x1001)));
    assert_null(obia_dataset_get(out, OBIA_TAG(0x0013, 0x0010)));   /* creator left empty */
    assert_null(obia_dataset_get(out, OBIA_TAG(0x0015, 0x1001)));
    obia_file_free(g);

    /* the basic profile keeps no private element at all */
    ds = patient_dataset();
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x7053, 0x0010), OBIA_VR_LO, "Philips PET Private Group", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x7053, 0x1000), OBIA_VR_DS, "1.25", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0011, 0x0010), OBIA_VR_LO, "ACME 1", &err));
    assert_true(obia_dataset_set_string(ds, OBIA_TAG(0x0011, 0x1001), OBIA_VR_DS, "12.5", &err));
    f = as_file(ds);
    obia_dataset_free(ds);
    g = deid_roundtrip(f, OBIA_DEID_PROFILE_BASIC, NULL);
    out = obia_file_dataset(g);
    for (size_t i = 0; i < obia_dataset_count(out); i++)
        assert_true((OBIA_GROUP(obia_element_tag(obia_dataset_at(out, i))) & 1) == 0);
    obia_file_free(g);
}

/* ---- outside the table ------------------------------------------------------ */

static void test_outside_table(void **state)
{
    (void)state;
    obia_dataset *ds = patient_dataset();
    obia_error err;
    obia_error_clear(&err);
    /* allow-listed: kept; cleaned: kept without the name; other known
     * attributes: emptied; unknown even group: removed */
    assert_true(obia_dataset_set_path(ds, "SliceThickness", "2.5", &err));
    assert_true(obia_dataset_set_path(ds, "ConvolutionKernel", "B30f SMITH", &err));
    assert_true(obia_dataset_set_path(ds, "PositionReferenceIndicator", "SN", &err));
    assert_true(obia_dataset_set_path(ds, "ReasonForStudy", "pain since 2019", &err) ||
                obia_dataset_set_string(ds, OBIA_TAG(0x0032, 0x1030), OBIA_VR_LO, "pain", &err));
    assert_true(obia_dataset_set_bytes(ds, OBIA_TAG(0x0C00, 0x0010), OBIA_VR_LO, "unknown ", 8, &err));
    /* an overlay (its bitmap may hold text): removed with its description */
    assert_true(obia_dataset_set_int(ds, OBIA_TAG(0x6002, 0x0010), OBIA_VR_US, 2, &err));
    assert_true(obia_dataset_set_int(ds, OBIA_TAG(0x6002, 0x0011), OBIA_VR_US, 2, &err));
    assert_true(obia_dataset_set_bytes(ds, OBIA_TAG(0x6002, 0x3000), OBIA_VR_OW, "\xff\x00", 2, &err));
    obia_file *f = as_file(ds);
    obia_dataset_free(ds);
    obia_file *g = deid_roundtrip(f, OBIA_DEID_PROFILE_OBIA, NULL);
    const obia_dataset *out = obia_file_dataset(g);
    assert_true(contains(obia_dataset_get(out, OBIA_TAG(0x0018, 0x0050)), "2.5"));
    const obia_element *kernel = obia_dataset_get(out, OBIA_TAG(0x0018, 0x1210));
    assert_true(contains(kernel, "B30f") && !contains(kernel, "SMITH"));
    assert_true(contains(obia_dataset_get(out, OBIA_TAG(0x0020, 0x1040)), "SN"));
    assert_null(obia_dataset_get(out, OBIA_TAG(0x0C00, 0x0010)));
    for (size_t i = 0; i < obia_dataset_count(out); i++)
        assert_int_not_equal(OBIA_GROUP(obia_element_tag(obia_dataset_at(out, i))), 0x6002);
    obia_file_free(g);
}

/* ---- burned-in text ---------------------------------------------------------- */

static bool flagged_with(const char *modality, const char *bia, const char *image_type,
                         const char *sop_class)
{
    obia_dataset *ds = obia_dataset_new();
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_bytes(ds, OBIA_TAG(0x7FE0, 0x0010), OBIA_VR_OW, "\0\0", 2, &err));
    if (modality)
        assert_true(obia_dataset_set_path(ds, "Modality", modality, &err));
    if (bia)
        assert_true(obia_dataset_set_path(ds, "BurnedInAnnotation", bia, &err));
    if (image_type)
        assert_true(obia_dataset_set_path(ds, "ImageType", image_type, &err));
    if (sop_class)
        assert_true(obia_dataset_set_path(ds, "SOPClassUID", sop_class, &err));
    char why[160] = "";
    bool r = obia_deid_burned_in_risk(ds, why, sizeof why);
    if (r)
        assert_true(why[0] != '\0');
    obia_dataset_free(ds);
    return r;
}

static void test_burned_in(void **state)
{
    (void)state;
    assert_true(flagged_with("CT", "YES", NULL, NULL));
    assert_false(flagged_with("US", "NO", NULL, NULL));
    assert_true(flagged_with("US", NULL, NULL, NULL));
    assert_true(flagged_with("XA", NULL, NULL, NULL));
    assert_true(flagged_with("CT", NULL, NULL, "1.2.840.10008.5.1.4.1.1.7"));
    assert_true(flagged_with("CT", NULL, NULL, "1.2.840.10008.5.1.4.1.1.7.2"));
    assert_false(flagged_with("CT", NULL, NULL, "1.2.840.10008.5.1.4.1.1.77.1"));
    assert_true(flagged_with("CT", NULL, "DERIVED\\SECONDARY\\SCREEN SAVE", NULL));
    assert_true(flagged_with("MR", NULL, "DERIVED\\PRIMARY", NULL));
    assert_false(flagged_with("MR", NULL, "ORIGINAL\\PRIMARY", NULL));
    assert_false(flagged_with("CT", NULL, NULL, "1.2.840.10008.5.1.4.1.1.2"));
    /* no pixels, nothing burned in */
    obia_dataset *ds = obia_dataset_new();
    obia_error err;
    obia_error_clear(&err);
    assert_true(obia_dataset_set_path(ds, "Modality", "US", &err));
    char why[80];
    assert_false(obia_deid_burned_in_risk(ds, why, sizeof why));
    obia_dataset_free(ds);
}

/* ---- keys database ------------------------------------------------------------ */

static void test_keys(void **state)
{
    (void)state;
    char path[] = "/tmp/obia-keys-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    obia_error err;
    obia_error_clear(&err);
    obia_deid_keys *k = obia_deid_keys_open(path, &err);
    assert_non_null(k);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    obia_deid_identity a, b, c, d;
    assert_true(obia_deid_keys_identify(k, "", "P1", "", &a, &err));
    assert_true(obia_deid_keys_identify(k, "", "P2", "", &b, &err));
    assert_true(obia_deid_keys_identify(k, "", "P1", "", &c, &err));
    assert_true(obia_deid_keys_identify(k, "", "", "1.2.3", &d, &err));   /* no ID: by study */
    assert_string_equal(a.pseudonym, "I000001");
    assert_string_equal(b.pseudonym, "I000002");
    assert_string_equal(c.pseudonym, "I000001");
    assert_string_equal(d.pseudonym, "I000003");
    assert_int_equal(a.date_offset_days, c.date_offset_days);
    assert_true(a.date_offset_days <= -365 && a.date_offset_days >= -3652);
    uint8_t key1[32], key2[32];
    obia_deid_keys_uid_key(k, key1);
    obia_deid_keys_close(k);
    /* reopened: the same key and the same people */
    k = obia_deid_keys_open(path, &err);
    assert_non_null(k);
    obia_deid_keys_uid_key(k, key2);
    assert_memory_equal(key1, key2, 32);
    assert_true(obia_deid_keys_identify(k, "", "P2", "", &c, &err));
    assert_string_equal(c.pseudonym, "I000002");
    assert_int_equal(c.date_offset_days, b.date_offset_days);
    obia_deid_keys_close(k);
    /* a keys file others can read is refused */
    assert_int_equal(chmod(path, 0644), 0);
    assert_null(obia_deid_keys_open(path, &err));
    assert_non_null(strstr(err.message, "readable by others"));
    unlink(path);
    char wal[64];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
}

/* A keys database of the first schema (no scope) is migrated, keeping its
 * individuals and key. */
static void test_keys_migration(void **state)
{
    (void)state;
    char path[] = "/tmp/obia-keys-old-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
        "CREATE TABLE secret (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
        "INSERT INTO secret VALUES ('uid_key', zeroblob(32));"
        "CREATE TABLE individual (id INTEGER PRIMARY KEY AUTOINCREMENT, issuer TEXT NOT NULL,"
        " patient_key TEXT NOT NULL, pseudonym TEXT NOT NULL UNIQUE,"
        " date_offset_days INTEGER NOT NULL, UNIQUE (issuer, patient_key));"
        "INSERT INTO individual VALUES (1, '', 'P1', 'I000001', -500);",
        NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(chmod(path, 0600), 0);
    obia_error err;
    obia_error_clear(&err);
    obia_deid_keys *k = obia_deid_keys_open(path, &err);
    if (!k)
        fail_msg("%s", err.message);
    obia_deid_identity id;
    bool found;
    assert_true(obia_deid_keys_find(k, "", "", "P1", "", &id, &found, &err));
    assert_true(found);
    assert_string_equal(id.pseudonym, "I000001");
    assert_int_equal(id.date_offset_days, -500);
    uint8_t key[32], zero[32] = {0};
    obia_deid_keys_uid_key(k, key);
    assert_memory_equal(key, zero, 32);
    /* a scope of its own for a collection; the next pseudonym follows on */
    assert_true(obia_deid_keys_find(k, "OBIA0001", "", "P1", "", &id, &found, &err));
    assert_false(found);
    assert_true(obia_deid_keys_identify(k, "", "P2", "", &id, &err));
    assert_string_equal(id.pseudonym, "I000002");
    obia_deid_keys_close(k);
    unlink(path);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uid_map),
        cmocka_unit_test(test_identity_uids_dates),
        cmocka_unit_test(test_private),
        cmocka_unit_test(test_outside_table),
        cmocka_unit_test(test_burned_in),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_keys_migration),
        cmocka_unit_test(test_every_row_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
