/* JPEG Baseline (process 1) and Extended (processes 2 and 4) frames of 8-bit
 * precision, decoded with libjpeg-turbo (libjpeg API, memory source).
 *
 * libjpeg's fatal errors longjmp back here, so a broken stream becomes an
 * OBIA_E_FORMAT error instead of exit(). Its warnings about the
 * entropy-coded data (premature end, bad Huffman code, lost sync) are errors
 * too: libjpeg would fill the rest of the image with guesses. Warnings
 * about markers (extraneous bytes, unknown JFIF or Adobe versions) are
 * tolerated silently.
 *
 * Colour: libjpeg converts YCbCr to RGB where the stream is YCbCr, and the
 * photometric interpretation becomes "RGB". A stream whose header says RGB
 * without an Adobe marker is taken as not colour-transformed (PS3.5 8.2.1:
 * RGB means the components were compressed as they are), which is what
 * pydicom with Pillow, GDCM and DCMTK do; with an Adobe marker its
 * transform flag decides. Memory: everything libjpeg allocates lives in its
 * pools and goes with jpeg_destroy_decompress(). */
#include "codec.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
/* after jpeglib.h: which messages exist depends on its configuration */
#include <jerror.h>

/* Progressive streams can hold any number of scans; each one costs a pass
 * over the whole image. libjpeg-turbo's djpeg offers the same cap. */
#define MAX_SCANS 1000

typedef struct jpeg_failure {
    struct jpeg_error_mgr mgr;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    obia_status code;
    char message[JMSG_LENGTH_MAX + 64];
} jpeg_failure;

static size_t consumed(j_decompress_ptr cinfo, size_t len)
{
    return cinfo->src ? len - cinfo->src->bytes_in_buffer : 0;
}

static void on_error(j_common_ptr cinfo)
{
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    f->code = OBIA_E_FORMAT;
    snprintf(f->message, sizeof(f->message), "%s", text);
    longjmp(f->jump, 1);
}

/* Warnings (level -1) about the coded data are fatal; trace messages
 * (level >= 0) and marker oddities are dropped. */
static void on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0)
        return;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_NOT_SEQUENTIAL:
        on_error(cinfo);
        break;
    default:
        cinfo->err->num_warnings++;
        break;
    }
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_SCANS) {
        jpeg_failure *f = (jpeg_failure *)cinfo->err;
        f->code = OBIA_E_FORMAT;
        snprintf(f->message, sizeof(f->message), "more than %d progressive scans", MAX_SCANS);
        longjmp(f->jump, 1);
    }
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Store one 8-bit sample in a little-endian container of bps bytes. */
static inline void put_sample(uint8_t *p, unsigned bps, JSAMPLE v)
{
    p[0] = v;
    for (unsigned i = 1; i < bps; i++)
        p[i] = 0;
}

bool pixel_jpeg_decode(const uint8_t *src, size_t len, const obia_pixel_info *info, uint8_t *dst,
                       size_t dst_len, char photometric[20], obia_error *err)
{
    unsigned bps;
    if (!pixel_check_output(info, dst_len, 3, "JPEG", &bps, err))
        return false;
    size_t row_bytes = (size_t)info->columns * info->samples * bps;
    if (len < 4 || src[0] != 0xFF || src[1] != 0xD8)
        return obia_error_set(err, OBIA_E_FORMAT,
                              "JPEG: the frame does not start with an SOI marker (FFD8)");

    /* Everything changed between setjmp and a longjmp back is volatile. */
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    volatile bool created = false;
    volatile bool ok = false;
    memset(&cinfo, 0, sizeof(cinfo));
    memset(&failure, 0, sizeof(failure));
    cinfo.err = jpeg_std_error(&failure.mgr);
    failure.mgr.error_exit = on_error;
    failure.mgr.emit_message = on_message;
    failure.progress.progress_monitor = on_progress;

    if (setjmp(failure.jump)) {
        if (failure.code == OBIA_E_OK)
            failure.code = OBIA_E_FORMAT;
        int code = failure.mgr.msg_code;
        if (code == JERR_BAD_PRECISION && cinfo.data_precision == 12)
            obia_error_set(err, OBIA_E_UNSUPPORTED,
                           "12-bit lossy JPEG is not supported: no Debian library decodes it");
        else if (code == JERR_SOF_UNSUPPORTED)
            obia_error_set(err, OBIA_E_UNSUPPORTED,
                           "JPEG: %s (lossless and hierarchical JPEG are not decoded here)",
                           failure.message);
        else if (code == JERR_UNKNOWN_MARKER && failure.mgr.msg_parm.i[0] == 0xF7)
            obia_error_set(err, OBIA_E_UNSUPPORTED,
                           "JPEG: the frame is JPEG-LS (SOF55), not JPEG of ITU T.81");
        else if (code == JERR_BAD_PRECISION)
            obia_error_set(err, OBIA_E_UNSUPPORTED, "JPEG: %s", failure.message);
        else if (code == JERR_OUT_OF_MEMORY)
            obia_error_set(err, OBIA_E_NOMEM, "JPEG: %s", failure.message);
        else
            obia_error_set(err, failure.code, "JPEG stream at byte %zu of %zu: %s",
                           consumed(&cinfo, len), len, failure.message);
        goto out;
    }

    jpeg_create_decompress(&cinfo);
    created = true;
    cinfo.progress = &failure.progress;
    jpeg_mem_src(&cinfo, src, (unsigned long)len);
    if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
        obia_error_set(err, OBIA_E_FORMAT, "JPEG: the stream holds tables but no image");
        goto out;
    }
    if (cinfo.image_width != info->columns || cinfo.image_height != info->rows) {
        obia_error_set(err, OBIA_E_FORMAT,
                       "JPEG: the stream is %u x %u pixels (columns x rows) but the header "
                       "says %u x %u",
                       cinfo.image_width, cinfo.image_height, info->columns, info->rows);
        goto out;
    }
    if (cinfo.num_components != info->samples) {
        obia_error_set(err, OBIA_E_FORMAT,
                       "JPEG: the stream has %d components but Samples per Pixel is %u",
                       cinfo.num_components, info->samples);
        goto out;
    }
    if (info->bits_stored > 8 || info->bits_allocated < info->bits_stored) {
        obia_error_set(err, OBIA_E_FORMAT,
                       "JPEG: the stream has 8-bit samples but Bits Stored is %u (Bits "
                       "Allocated %u)",
                       info->bits_stored, info->bits_allocated);
        goto out;
    }

    bool to_rgb = false;
    if (info->samples == 1) {
        cinfo.out_color_space = JCS_GRAYSCALE;
    } else {
        if (!cinfo.saw_Adobe_marker && strcmp(info->photometric, "RGB") == 0)
            cinfo.jpeg_color_space = JCS_RGB;
        if (strcmp(info->photometric, "RGB") == 0 || starts_with(info->photometric, "YBR_FULL")) {
            cinfo.out_color_space = JCS_RGB;
            to_rgb = true;
        } else {
            /* e.g. YBR_PARTIAL_422: give the values as coded, say so. */
            cinfo.out_color_space = cinfo.jpeg_color_space;
        }
    }
    cinfo.dct_method = JDCT_ISLOW;

    jpeg_start_decompress(&cinfo);
    if (cinfo.output_width != info->columns || cinfo.output_height != info->rows ||
        cinfo.output_components != (int)info->samples) {
        obia_error_set(err, OBIA_E_FORMAT, "JPEG: the decoder's output is %u x %u x %d",
                       cinfo.output_width, cinfo.output_height, cinfo.output_components);
        goto out;
    }

    size_t samples_per_row = (size_t)info->columns * info->samples;
    JSAMPARRAY rows = NULL;
    if (bps != 1)
        rows = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE,
                                          (JDIMENSION)samples_per_row,
                                          (JDIMENSION)cinfo.rec_outbuf_height);
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        JSAMPROW direct[8];
        JDIMENSION want = (JDIMENSION)cinfo.rec_outbuf_height;
        if (want > 8)
            want = 8;
        if (want > cinfo.output_height - y)
            want = cinfo.output_height - (JDIMENSION)y;
        if (bps == 1) {
            for (JDIMENSION i = 0; i < want; i++)
                direct[i] = dst + (y + i) * row_bytes;
        }
        JDIMENSION got = jpeg_read_scanlines(&cinfo, bps == 1 ? direct : rows, want);
        if (got == 0) {
            obia_error_set(err, OBIA_E_FORMAT, "JPEG: no data for row %zu", y);
            goto out;
        }
        if (bps != 1) {
            for (JDIMENSION i = 0; i < got; i++) {
                uint8_t *out = dst + (y + i) * row_bytes;
                for (size_t s = 0; s < samples_per_row; s++)
                    put_sample(out + s * bps, bps, rows[i][s]);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    if (to_rgb)
        snprintf(photometric, 20, "RGB");
    ok = true;

out:
    if (created)
        jpeg_destroy_decompress(&cinfo);
    return ok;
}
