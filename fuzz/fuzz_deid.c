/*
 * libFuzzer harness for de-identification: every dataset the parser accepts
 * is de-identified (obia profile, then basic) after markers are planted in
 * the patient's name and ID, at the top level and in the first item of every
 * top-level sequence; the engine must not fail or crash, and no marker may
 * survive anywhere in the written output.
 */
#include "obia/deid.h"
#include "obia/dicom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char MARK_NAME[] = "QZXMARKNAME";
static const char MARK_ID[] = "QZXMARKID77";

static bool identify(void *ctx, const char *issuer, const char *patient_id, const char *fallback,
                     obia_deid_identity *out, obia_error *err)
{
    (void)ctx; (void)issuer; (void)patient_id; (void)fallback; (void)err;
    snprintf(out->pseudonym, sizeof out->pseudonym, "I000001");
    out->date_offset_days = -400;
    return true;
}

static bool contains(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (p[i] == (uint8_t)s[0] && memcmp(p + i, s, k) == 0)
            return true;
    return false;
}

static void plant(obia_dataset *ds)
{
    obia_error err;
    obia_dataset_set_bytes(ds, OBIA_TAG(0x0010, 0x0010), OBIA_VR_PN, MARK_NAME, 11, &err);
    obia_dataset_set_bytes(ds, OBIA_TAG(0x0010, 0x0020), OBIA_VR_LO, MARK_ID, 11, &err);
    obia_dataset_set_bytes(ds, OBIA_TAG(0x0010, 0x1000), OBIA_VR_LO, MARK_ID, 11, &err);
}

static void run(const uint8_t *data, size_t size, unsigned options)
{
    obia_read_options opt;
    obia_read_options_init(&opt);
    opt.max_depth = 16;
    opt.max_elements = 100000;
    opt.max_inflated = 16u << 20;
    opt.copy_values = true;
    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_parse(data, size, &opt, &err);
    if (!f)
        return;
    obia_dataset *ds = obia_file_dataset(f);
    plant(ds);
    for (size_t i = 0; i < obia_dataset_count(ds); i++) {
        const obia_element *el = obia_dataset_at(ds, i);
        if (obia_element_vr(el) == OBIA_VR_SQ && obia_element_item_count(el))
            plant(obia_element_item(el, 0));
    }
    obia_deid_config cfg;
    obia_deid_config_init(&cfg);
    cfg.options = options;
    cfg.identify = identify;
    obia_deid_result res;
    if (!obia_deid_file(f, &cfg, NULL, NULL, &res, &err)) {
        fprintf(stderr, "de-identification failed: %s\n", err.message);
        abort();
    }
    obia_buf out;
    obia_buf_init(&out, 64u << 20);
    if (obia_file_write(f, OBIA_WRITE_EXPLICIT_LE, obia_sink_buf, &out, &err)) {
        if (contains(out.data, out.len, MARK_NAME) || contains(out.data, out.len, MARK_ID)) {
            fprintf(stderr, "a marker survived de-identification (options %#x)\n", options);
            abort();
        }
    }
    obia_buf_free(&out);
    obia_file_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* markers the input already holds may sit in attributes that are kept */
    if (contains(data, size, "QZXMARK"))
        return 0;
    run(data, size, OBIA_DEID_PROFILE_OBIA);
    run(data, size, OBIA_DEID_PROFILE_BASIC);
    return 0;
}
