/*
 * libFuzzer harness for the quality checks and the PHI review report on
 * hostile files: whatever the parser accepts, the per-file checks and the
 * report (counting, flags, merging, the TSV and HTML writers) must neither
 * crash nor read out of bounds, and the report must count the image.
 */
#include "obia/dicom.h"
#include "obia/qc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A stand-in for the keys database: values with "KNOWN" are known, dates
 * of 1970 are originals. */
static unsigned known(void *ctx, const char *individual, const char *value, size_t len, obia_vr vr)
{
    (void)ctx;
    (void)individual;
    if ((vr == OBIA_VR_DA || vr == OBIA_VR_DT) && len >= 4 && memcmp(value, "1970", 4) == 0)
        return OBIA_QC_FLAG_DATE;
    for (size_t i = 0; i + 5 <= len; i++)
        if (memcmp(value + i, "KNOWN", 5) == 0)
            return OBIA_QC_FLAG_KNOWN;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    obia_read_options opt;
    obia_read_options_init(&opt);
    opt.max_depth = 16;
    opt.max_elements = 100000;
    opt.max_inflated = 16u << 20;
    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_parse(data, size, &opt, &err);
    if (!f)
        return 0;
    obia_qc_findings F = {0};
    obia_qc_check_file(f, &F);
    if (F.count > OBIA_QC_MAX_FINDINGS)
        abort();
    for (size_t i = 0; i < F.count; i++)
        if (!obia_qc_check(F.items[i].code) || strlen(F.items[i].detail) >= sizeof F.items[i].detail)
            abort();

    obia_qc_report *a = obia_qc_report_new(known, NULL), *b = obia_qc_report_new(known, NULL);
    if (!a || !b)
        abort();
    obia_error_clear(&err);
    bool ok = obia_qc_report_add(a, obia_file_dataset(f), &err) &&
              obia_qc_report_add(b, obia_file_dataset(f), &err) &&
              obia_qc_report_merge(a, b, &err);
    if (ok) {
        obia_qc_report_finish(a);
        if (obia_qc_report_images(a) != 2)
            abort();
        obia_buf out;
        obia_buf_init(&out, 256u << 20);
        if (!obia_qc_report_write_tsv(a, obia_sink_buf, &out, &err) ||
            !obia_qc_report_write_html(a, "fuzz", obia_sink_buf, &out, &err))
            abort();
        obia_buf_free(&out);
    } else if (err.message[0] == '\0') {
        abort();   /* a failure must say why */
    }
    obia_qc_report_free(a);
    obia_qc_report_free(b);
    obia_file_free(f);
    return 0;
}
