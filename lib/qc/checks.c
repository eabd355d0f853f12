/* The quality checks: their table, the per-file checks and the per-series
 * checks. */
#include "obia/qc.h"

#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const obia_qc_check_info checks[] = {
    {"unreadable", OBIA_QC_ERROR, "file", "not readable as DICOM"},
    {"too-large", OBIA_QC_ERROR, "file", "larger than the archive accepts ([ingest] max_file_size)"},
    {"truncated", OBIA_QC_ERROR, "file", "the file ends before its data does"},
    {"pixel-length", OBIA_QC_ERROR, "file",
     "Pixel Data length does not match Rows x Columns x Samples x Bits Allocated x Frames"},
    {"fragments", OBIA_QC_ERROR, "file",
     "encapsulated fragments do not agree with the offset table or the number of frames"},
    {"header-empty", OBIA_QC_ERROR, "file", "the dataset is empty"},
    {"header-missing", OBIA_QC_ERROR, "file",
     "a required attribute is missing (SOP Class, SOP Instance, Study or Series Instance UID, "
     "Modality)"},
    {"patient-id-missing", OBIA_QC_ERROR, "file", "no Patient ID"},
    {"deid-failed", OBIA_QC_ERROR, "file", "de-identification failed"},
    {"burned-in", OBIA_QC_HOLD, "file", "the pixels may show burned-in text"},
    {"other-patient", OBIA_QC_ERROR, "archive",
     "the study or series belongs to another patient (original Patient IDs differ)"},
    {"patient-characteristics", OBIA_QC_HOLD, "archive",
     "patient sex or birth date differs from the other images of the study"},
    {"uid-conflict", OBIA_QC_ERROR, "archive",
     "the archive holds another image with this SOP Instance UID"},
    {"series-conflict", OBIA_QC_ERROR, "archive",
     "the Series Instance UID belongs to another study"},
    {"series-mixed-modality", OBIA_QC_WARNING, "series", "images of several modalities"},
    {"series-mixed-frame-of-reference", OBIA_QC_WARNING, "series",
     "images in several Frames of Reference"},
    {"series-instance-number-missing", OBIA_QC_WARNING, "series", "images without Instance Number"},
    {"series-instance-number-duplicate", OBIA_QC_WARNING, "series",
     "images sharing an Instance Number"},
    {"series-irregular-spacing", OBIA_QC_WARNING, "series",
     "slice positions of a volume are not evenly spaced (gap, overlap or repeat)"},
};

const obia_qc_check_info *obia_qc_checks(size_t *count)
{
    *count = sizeof checks / sizeof checks[0];
    return checks;
}

const obia_qc_check_info *obia_qc_check(const char *code)
{
    for (size_t i = 0; code && i < sizeof checks / sizeof checks[0]; i++)
        if (strcmp(checks[i].code, code) == 0)
            return &checks[i];
    return NULL;
}

const char *obia_qc_severity_name(obia_qc_severity s)
{
    switch (s) {
    case OBIA_QC_WARNING: return "warning";
    case OBIA_QC_HOLD: return "hold";
    case OBIA_QC_ERROR: return "error";
    }
    return "?";
}

void obia_qc_add(obia_qc_findings *f, const char *code, const char *fmt, ...)
{
    const obia_qc_check_info *c = obia_qc_check(code);
    if (!c || obia_qc_has(f, code) || f->count >= OBIA_QC_MAX_FINDINGS)
        return;
    obia_qc_finding *x = &f->items[f->count++];
    x->code = c->code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->detail, sizeof x->detail, fmt, ap);
    va_end(ap);
}

bool obia_qc_has(const obia_qc_findings *f, const char *code)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->items[i].code, code) == 0)
            return true;
    return false;
}

obia_qc_severity obia_qc_worst(const obia_qc_findings *f)
{
    obia_qc_severity w = OBIA_QC_WARNING;
    for (size_t i = 0; i < f->count; i++) {
        const obia_qc_check_info *c = obia_qc_check(f->items[i].code);
        if (c && c->severity > w)
            w = c->severity;
    }
    return w;
}

void obia_qc_codes(const obia_qc_findings *f, char *out, size_t cap)
{
    size_t n = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = 0; i < f->count && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", f->items[i].code);
}

/* ---- one file -------------------------------------------------------------------- */

static bool has_text(const obia_dataset *ds, uint32_t tag)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    if (!el)
        return false;
    const uint8_t *p = obia_element_bytes(el);
    size_t n = obia_element_length(el);
    for (size_t i = 0; p && i < n; i++)
        if (p[i] != ' ' && p[i] != '\0')
            return true;
    return false;
}

static bool number(const obia_dataset *ds, uint32_t tag, int64_t *v)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    return el && obia_element_vm(el) && obia_element_get_int(el, 0, v, NULL);
}

static void check_truncation(const obia_file *f, obia_qc_findings *out)
{
    for (size_t i = 0; i < obia_file_warning_count(f); i++) {
        const obia_warning *w = obia_file_warning(f, i);
        if (strstr(w->message, "end of the data") || strstr(w->message, "cut short")) {
            obia_qc_add(out, "truncated", "at byte %llu: %s", (unsigned long long)w->offset,
                        w->message);
            return;
        }
    }
}

/* Encapsulated fragments against the Basic (or Extended) Offset Table and
 * the number of frames. */
static void check_fragments(const obia_dataset *ds, const obia_element *px, int64_t frames,
                            obia_qc_findings *out)
{
    size_t nfrag = obia_element_fragment_count(px);
    if (nfrag <= 1) {
        obia_qc_add(out, "fragments", "encapsulated Pixel Data has no fragments");
        return;
    }
    /* where each fragment's item starts, relative to the first fragment after the table */
    uint64_t total = 0;
    for (size_t i = 1; i < nfrag; i++) {
        size_t len;
        obia_element_fragment(px, i, &len, NULL);
        total += 8 + len;
    }
    size_t botlen;
    const uint8_t *bot = obia_element_fragment(px, 0, &botlen, NULL);
    const obia_element *eot = obia_dataset_get(ds, OBIA_TAG(0x7FE0, 0x0001));
    if (eot && obia_element_length(eot) > 0) {
        size_t n = obia_element_length(eot) / 8;
        if ((int64_t)n != frames) {
            obia_qc_add(out, "fragments", "Extended Offset Table has %zu entries for %lld frames",
                        n, (long long)frames);
            return;
        }
        const uint8_t *p = obia_element_bytes(eot);
        for (size_t i = 0; i < n; i++) {
            uint64_t off = 0;
            memcpy(&off, p + 8 * i, 8);
            if (off >= total) {
                obia_qc_add(out, "fragments",
                            "Extended Offset Table entry %zu (%llu) is past the fragments (%llu "
                            "bytes)",
                            i, (unsigned long long)off, (unsigned long long)total);
                return;
            }
        }
    } else if (botlen > 0) {
        if (botlen % 4 != 0 || (int64_t)(botlen / 4) != frames) {
            obia_qc_add(out, "fragments", "Basic Offset Table has %zu bytes for %lld frames",
                        botlen, (long long)frames);
            return;
        }
        uint32_t prev = 0;
        for (size_t i = 0; i < botlen / 4; i++) {
            uint32_t off = (uint32_t)bot[4 * i] | (uint32_t)bot[4 * i + 1] << 8 |
                           (uint32_t)bot[4 * i + 2] << 16 | (uint32_t)bot[4 * i + 3] << 24;
            if ((i == 0 && off != 0) || (i > 0 && off <= prev) || off >= total) {
                obia_qc_add(out, "fragments",
                            "Basic Offset Table entry %zu (%u) does not start a fragment within "
                            "the %llu bytes of fragments",
                            i, off, (unsigned long long)total);
                return;
            }
            /* it must point at the start of a fragment */
            uint64_t at = 0;
            bool starts = false;
            for (size_t k = 1; k < nfrag && at <= off; k++) {
                size_t len;
                obia_element_fragment(px, k, &len, NULL);
                if (at == off)
                    starts = true;
                at += 8 + len;
            }
            if (!starts) {
                obia_qc_add(out, "fragments",
                            "Basic Offset Table entry %zu (%u) points inside a fragment", i, off);
                return;
            }
            prev = off;
        }
    }
    if ((int64_t)(nfrag - 1) < frames)
        obia_qc_add(out, "fragments", "%zu fragments for %lld frames", nfrag - 1,
                    (long long)frames);
}

static void check_pixels(const obia_dataset *ds, obia_qc_findings *out)
{
    uint32_t tag = OBIA_TAG_PIXEL_DATA;
    const obia_element *px = obia_dataset_get(ds, tag);
    unsigned float_bits = 0;
    if (!px && (px = obia_dataset_get(ds, OBIA_TAG_FLOAT_PIXEL_DATA)))
        float_bits = 32;
    if (!px && (px = obia_dataset_get(ds, OBIA_TAG_DOUBLE_PIXEL_DATA)))
        float_bits = 64;
    if (!px)
        return;
    int64_t rows, cols, bits, spp = 1, frames = 1;
    bool have = number(ds, OBIA_TAG(0x0028, 0x0010), &rows) &&
                number(ds, OBIA_TAG(0x0028, 0x0011), &cols);
    bool have_bits = number(ds, OBIA_TAG(0x0028, 0x0100), &bits);
    if (float_bits)
        bits = float_bits, have_bits = true;
    number(ds, OBIA_TAG(0x0028, 0x0002), &spp);
    number(ds, OBIA_TAG(0x0028, 0x0008), &frames);
    if (!have || !have_bits || rows <= 0 || cols <= 0 || bits <= 0 || spp <= 0 || frames <= 0) {
        obia_qc_add(out, "pixel-length",
                    "Pixel Data without valid Rows, Columns, Bits Allocated, Samples per Pixel "
                    "and Number of Frames");
        return;
    }
    if (obia_element_is_encapsulated(px)) {
        check_fragments(ds, px, frames, out);
        return;
    }
    /* bits: rows*cols*spp*bits*frames, each at most 2^16 or so: 128-bit safe in double */
    double need_bits = (double)rows * (double)cols * (double)spp * (double)bits * (double)frames;
    uint64_t need = (uint64_t)ceil(need_bits / 8.0);
    uint64_t have_len = obia_element_length(px);
    /* an odd length is padded to even */
    if (have_len != need && !(need % 2 == 1 && have_len == need + 1))
        obia_qc_add(out, "pixel-length",
                    "Pixel Data has %llu bytes; %lld x %lld x %lld samples x %lld bits x %lld "
                    "frames needs %llu",
                    (unsigned long long)have_len, (long long)rows, (long long)cols,
                    (long long)spp, (long long)bits, (long long)frames, (unsigned long long)need);
}

void obia_qc_check_file(const obia_file *f, obia_qc_findings *out)
{
    const obia_dataset *ds = obia_file_dataset(f);
    check_truncation(f, out);
    if (obia_dataset_count(ds) == 0) {
        obia_qc_add(out, "header-empty", "the dataset has no elements");
        return;
    }
    static const struct {
        uint32_t tag;
        const char *name;
    } required[] = {{OBIA_TAG(0x0008, 0x0016), "SOPClassUID"},
                    {OBIA_TAG(0x0008, 0x0018), "SOPInstanceUID"},
                    {OBIA_TAG(0x0020, 0x000D), "StudyInstanceUID"},
                    {OBIA_TAG(0x0020, 0x000E), "SeriesInstanceUID"},
                    {OBIA_TAG(0x0008, 0x0060), "Modality"}};
    char missing[160] = "";
    size_t n = 0;
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!has_text(ds, required[i].tag))
            n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "",
                                  required[i].name);
    if (n)
        obia_qc_add(out, "header-missing", "no %s", missing);
    if (!has_text(ds, OBIA_TAG(0x0010, 0x0020)))
        obia_qc_add(out, "patient-id-missing", "no PatientID (0010,0020)");
    check_pixels(ds, out);
}

/* ---- one series -------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x, y);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Distinct non-NULL strings of a field: count and a short list "CT (4), MR (1)". */
static size_t distinct(const obia_qc_series_image *im, size_t n, size_t field_offset, char *list,
                       size_t cap)
{
    const char **v = malloc((n ? n : 1) * sizeof *v);
    size_t m = 0;
    for (size_t i = 0; v && i < n; i++) {
        const char *s = *(const char *const *)((const char *)&im[i] + field_offset);
        if (s && *s)
            v[m++] = s;
    }
    qsort(v, m, sizeof *v, cmp_str);
    size_t kinds = 0, len = 0;
    list[0] = '\0';
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && strcmp(v[j], v[i]) == 0)
            j++;
        if (len < cap)
            len += (size_t)snprintf(list + len, cap - len, "%s%.64s (%zu)", kinds ? ", " : "",
                                    v[i], j - i);
        kinds++;
        i = j;
    }
    free(v);
    return kinds;
}

static void check_spacing(const obia_qc_series_image *im, size_t n, obia_qc_findings *out)
{
    const obia_qc_series_image *first = NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!im[i].has_geometry || im[i].frames > 1)
            continue;
        if (!first)
            first = &im[i];
        for (int k = 0; k < 6; k++)
            if (fabs(im[i].orientation[k] - first->orientation[k]) > 1e-3)
                return; /* several orientations (a localizer, a multi-planar series) */
        m++;
    }
    if (m < 3)
        return;
    const double *o = first->orientation;
    double nx = o[1] * o[5] - o[2] * o[4], ny = o[2] * o[3] - o[0] * o[5],
           nz = o[0] * o[4] - o[1] * o[3];
    double *z = malloc(m * sizeof *z), *d = malloc(m * sizeof *d);
    if (!z || !d) {
        free(z);
        free(d);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (im[i].has_geometry && im[i].frames <= 1)
            z[k++] = im[i].position[0] * nx + im[i].position[1] * ny + im[i].position[2] * nz;
    qsort(z, m, sizeof *z, cmp_double);
    for (size_t i = 0; i + 1 < m; i++)
        d[i] = z[i + 1] - z[i];
    size_t repeats = 0;
    for (size_t i = 0; i + 1 < m; i++)
        repeats += d[i] < 1e-3;
    double *sorted = malloc((m - 1) * sizeof *sorted);
    if (sorted) {
        memcpy(sorted, d, (m - 1) * sizeof *d);
        qsort(sorted, m - 1, sizeof *sorted, cmp_double);
        double med = sorted[(m - 1) / 2];
        size_t off = 0;
        double worst = med;
        for (size_t i = 0; i + 1 < m; i++)
            if (fabs(d[i] - med) > 0.1 * med + 0.01) {
                off++;
                if (fabs(d[i] - med) > fabs(worst - med))
                    worst = d[i];
            }
        if (repeats)
            obia_qc_add(out, "series-irregular-spacing",
                        "%zu of %zu slices repeat a position of another", repeats, m);
        else if (off)
            obia_qc_add(out, "series-irregular-spacing",
                        "%zu of %zu gaps differ from the usual %.3g mm (one is %.3g mm)", off,
                        m - 1, med, worst);
    }
    free(sorted);
    free(z);
    free(d);
}

void obia_qc_check_series(const obia_qc_series_image *im, size_t n, obia_qc_findings *out)
{
    if (n == 0)
        return;
    char list[200];
    if (distinct(im, n, offsetof(obia_qc_series_image, modality), list, sizeof list) > 1)
        obia_qc_add(out, "series-mixed-modality", "%s", list);
    size_t fors = distinct(im, n, offsetof(obia_qc_series_image, frame_of_reference), list,
                           sizeof list);
    if (fors > 1)
        obia_qc_add(out, "series-mixed-frame-of-reference", "%zu Frames of Reference", fors);

    long *num = malloc(n * sizeof *num);
    size_t m = 0;
    for (size_t i = 0; num && i < n; i++)
        if (im[i].has_instance_number)
            num[m++] = im[i].instance_number;
    if (m < n)
        obia_qc_add(out, "series-instance-number-missing", "%zu of %zu images have none", n - m,
                    n);
    if (num) {
        qsort(num, m, sizeof *num, cmp_long);
        size_t dups = 0;
        long example = 0;
        for (size_t i = 0; i + 1 < m; i++)
            if (num[i] == num[i + 1]) {
                if (!dups)
                    example = num[i];
                dups++;
            }
        if (dups)
            obia_qc_add(out, "series-instance-number-duplicate",
                        "%zu repeated Instance Numbers (e.g. %ld)", dups, example);
    }
    free(num);
    check_spacing(im, n, out);
}
