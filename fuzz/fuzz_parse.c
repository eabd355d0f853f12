/*
 * libFuzzer harness for the DICOM parser, and the invariants every parsed
 * input must keep: listing and DICOM JSON never fail on a parsed dataset,
 * and writing it as Part 10 then reading that back gives an equal dataset
 * (for a DICOMDIR, whose record offsets move, writing that again gives the
 * same bytes).
 */
#include "obia/dicom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool null_sink(void *ctx, const void *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return true;
}

static void check_roundtrip(const obia_file *f, obia_write_syntax syntax)
{
    obia_buf out;
    obia_buf_init(&out, 64u << 20);
    obia_error err;
    obia_error_clear(&err);
    if (obia_file_write(f, syntax, obia_sink_buf, &out, &err)) {
        obia_file *g = obia_file_parse(out.data, out.len, NULL, &err);
        if (!g) {
            fprintf(stderr, "obia wrote a file it cannot read: %s\n", err.message);
            abort();
        }
        char why[512];
        if (obia_dataset_get(obia_file_dataset(f), OBIA_TAG(0x0004, 0x1220))) {
            /* A DICOMDIR's record offsets move with the records, so compare
             * the output with the output of writing what was read back. */
            obia_buf again;
            obia_buf_init(&again, 64u << 20);
            if (!obia_file_write(g, syntax, obia_sink_buf, &again, &err) || again.len != out.len ||
                memcmp(again.data, out.data, out.len) != 0) {
                fprintf(stderr, "rewriting a DICOMDIR is not stable\n");
                abort();
            }
            obia_buf_free(&again);
            obia_file_free(g);
            obia_buf_free(&out);
            return;
        }
        bool same = syntax == OBIA_WRITE_IMPLICIT_LE
                        ? obia_dataset_equivalent(obia_file_dataset(f), obia_file_dataset(g), why, sizeof why)
                        : obia_dataset_equal(obia_file_dataset(f), obia_file_dataset(g), why, sizeof why);
        if (!same) {
            fprintf(stderr, "round trip changed the dataset: %s\n", why);
            abort();
        }
        obia_file_free(g);
    }
    obia_buf_free(&out);
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
    if (!f) {
        if (err.code == OBIA_E_OK || err.message[0] == '\0')
            abort();   /* a failure must always say why */
        return 0;
    }
    obia_json_options jo;
    obia_json_options_init(&jo);
    jo.include_meta = true;
    if (!obia_json_write_file(f, &jo, null_sink, NULL, &err))
        abort();
    obia_dump_options dopt;
    obia_dump_options_init(&dopt);
    if (!obia_dump_file(f, &dopt, null_sink, NULL, &err))
        abort();
    /* text accessors over every top-level element */
    obia_dataset *ds = obia_file_dataset(f);
    obia_buf s;
    obia_buf_init(&s, 1u << 24);
    for (size_t i = 0; i < obia_dataset_count(ds); i++) {
        const obia_element *el = obia_dataset_at(ds, i);
        size_t vm = obia_element_vm(el);
        for (size_t k = 0; k < vm && k < 4; k++) {
            obia_buf_reset(&s);
            if (obia_vr_is_string(obia_element_vr(el)))
                obia_element_get_string(ds, el, k, &s, NULL);
            double d;
            obia_element_get_double(el, k, &d, NULL);
        }
    }
    obia_buf_free(&s);
    check_roundtrip(f, OBIA_WRITE_EXPLICIT_LE);
    check_roundtrip(f, OBIA_WRITE_IMPLICIT_LE);
    obia_file_free(f);
    return 0;
}
