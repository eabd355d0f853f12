/*
 * Rendered images out: PNG (libspng) and JPEG (libjpeg-turbo) written
 * through a sink, and contact sheets of thumbnails.
 *
 * Both encoders stream: rows go to the library one at a time and the
 * compressed bytes to the sink as they come, so nothing but a row and the
 * libraries' own state is held. A sink that refuses bytes, or a library
 * error, is reported in err; nothing aborts the program.
 */
#include "obia/pixel.h"

#include <jerror.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PNG_LEVEL 3               /* zlib's fast matcher: 10-15% larger than 6, twice as fast */
#define JPEG_BUFFER 16384
#define SHEET_MAX_SIDE 65500u     /* also JPEG's limit */
#define SHEET_MAX_BYTES (1u << 30)

void obia_image_free(obia_image *im)
{
    if (!im)
        return;
    free(im->data);
    memset(im, 0, sizeof *im);
}

/* The image is what obia_render makes: 1 or 3 channels of 8 or 16 bits,
 * data holding every row. */
static bool check_image(const obia_image *im, const char *what, obia_error *err)
{
    if (!im || !im->data)
        return obia_error_set(err, OBIA_E_ARG, "%s: no image", what);
    if (im->width == 0 || im->height == 0)
        return obia_error_set(err, OBIA_E_ARG, "%s: an image of %u x %u pixels", what, im->width,
                              im->height);
    if (im->channels != 1 && im->channels != 3)
        return obia_error_set(err, OBIA_E_ARG, "%s: %u channels (1 or 3 expected)", what,
                              im->channels);
    if (im->depth != 8 && im->depth != 16)
        return obia_error_set(err, OBIA_E_ARG, "%s: %u bits per sample (8 or 16 expected)", what,
                              im->depth);
    size_t row = (size_t)im->width * im->channels * (im->depth / 8);
    if (im->len / row < im->height)
        return obia_error_set(err, OBIA_E_ARG, "%s: %zu bytes for %u x %u pixels", what, im->len,
                              im->width, im->height);
    return true;
}

/* ---- PNG ----------------------------------------------------------------------------- */

typedef struct png_out {
    obia_sink_fn sink;
    void *ctx;
    bool refused;
} png_out;

static int png_write(spng_ctx *ctx, void *user, void *src, size_t len)
{
    (void)ctx;
    png_out *o = user;
    if (!o->sink(o->ctx, src, len)) {
        o->refused = true;
        return SPNG_IO_ERROR;
    }
    return 0;
}

bool obia_image_write_png(const obia_image *im, obia_sink_fn sink, void *ctx, obia_error *err)
{
    if (!check_image(im, "PNG", err))
        return false;
    if (!sink)
        return obia_error_set(err, OBIA_E_ARG, "PNG: no sink");
    png_out o = {sink, ctx, false};
    size_t row_len = (size_t)im->width * im->channels * (im->depth / 8);
    /* libspng takes 16-bit samples in host order (and writes them big
     * endian); ours are little endian */
    uint16_t *host = im->depth == 16 ? malloc(row_len) : NULL;
    spng_ctx *c = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!c || (im->depth == 16 && !host)) {
        spng_ctx_free(c);
        free(host);
        return obia_error_set(err, OBIA_E_NOMEM, "PNG: out of memory");
    }
    struct spng_ihdr ihdr = {
        .width = im->width,
        .height = im->height,
        .bit_depth = (uint8_t)im->depth,
        .color_type = im->channels == 3 ? SPNG_COLOR_TYPE_TRUECOLOR : SPNG_COLOR_TYPE_GRAYSCALE,
    };
    int rc = spng_set_png_stream(c, png_write, &o);
    if (!rc)
        rc = spng_set_ihdr(c, &ihdr);
    if (!rc)
        rc = spng_set_option(c, SPNG_IMG_COMPRESSION_LEVEL, PNG_LEVEL);
    /* one filter (Up: as small as Paeth on these images, cheaper); adaptive
     * choice costs five filters per row for a few % */
    if (!rc)
        rc = spng_set_option(c, SPNG_FILTER_CHOICE, SPNG_FILTER_CHOICE_UP);
    if (!rc)
        rc = spng_encode_image(c, NULL, 0, SPNG_FMT_PNG,
                               SPNG_ENCODE_PROGRESSIVE | SPNG_ENCODE_FINALIZE);
    for (uint32_t y = 0; !rc && y < im->height; y++) {
        const void *p = im->data + (size_t)y * row_len;
        if (host) {
            for (size_t i = 0; i < row_len / 2; i++)
                host[i] = obia_rd16le(im->data + (size_t)y * row_len + 2 * i);
            p = host;
        }
        rc = spng_encode_row(c, p, row_len);
        if (rc == SPNG_EOI && y + 1 == im->height)
            rc = 0;
    }
    spng_ctx_free(c);
    free(host);
    if (o.refused)
        return obia_error_set(err, OBIA_E_IO, "PNG: the output refused the bytes");
    if (rc)
        return obia_error_set(err, OBIA_E_FORMAT, "PNG: %s", spng_strerror(rc));
    return true;
}

/* ---- JPEG ------------------------------------------------------------------------------ */

typedef struct jpeg_out {
    struct jpeg_destination_mgr pub;
    obia_sink_fn sink;
    void *ctx;
    bool refused;
    JOCTET buf[JPEG_BUFFER];
} jpeg_out;

typedef struct jpeg_fail {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_fail;

static void jpeg_dest_init(j_compress_ptr c)
{
    jpeg_out *d = (jpeg_out *)c->dest;
    d->pub.next_output_byte = d->buf;
    d->pub.free_in_buffer = sizeof d->buf;
}

static boolean jpeg_dest_empty(j_compress_ptr c)
{
    jpeg_out *d = (jpeg_out *)c->dest;
    if (!d->sink(d->ctx, d->buf, sizeof d->buf)) {
        d->refused = true;
        ERREXIT(c, JERR_FILE_WRITE);
    }
    jpeg_dest_init(c);
    return TRUE;
}

static void jpeg_dest_term(j_compress_ptr c)
{
    jpeg_out *d = (jpeg_out *)c->dest;
    size_t n = sizeof d->buf - d->pub.free_in_buffer;
    if (n && !d->sink(d->ctx, d->buf, n)) {
        d->refused = true;
        ERREXIT(c, JERR_FILE_WRITE);
    }
}

static void jpeg_on_error(j_common_ptr c)
{
    jpeg_fail *f = (jpeg_fail *)c->err;
    (*c->err->format_message)(c, f->message);
    longjmp(f->jump, 1);
}

static void jpeg_on_message(j_common_ptr c)
{
    (void)c;   /* warnings are not printed */
}

bool obia_image_write_jpeg(const obia_image *im, int quality, obia_sink_fn sink, void *ctx,
                           obia_error *err)
{
    if (!check_image(im, "JPEG", err))
        return false;
    if (im->depth != 8)
        return obia_error_set(err, OBIA_E_ARG, "JPEG: %u-bit samples (JPEG takes 8 bits)",
                              im->depth);
    if (quality < 1 || quality > 100)
        return obia_error_set(err, OBIA_E_ARG, "JPEG: quality %d (1 to 100)", quality);
    if (!sink)
        return obia_error_set(err, OBIA_E_ARG, "JPEG: no sink");
    if (im->width > JPEG_MAX_DIMENSION || im->height > JPEG_MAX_DIMENSION)
        return obia_error_set(err, OBIA_E_ARG, "JPEG: %u x %u pixels exceed JPEG's %u",
                              im->width, im->height, (unsigned)JPEG_MAX_DIMENSION);
    jpeg_out *d = calloc(1, sizeof *d);
    if (!d)
        return obia_error_set(err, OBIA_E_NOMEM, "JPEG: out of memory");
    struct jpeg_compress_struct c;
    jpeg_fail f;
    memset(&c, 0, sizeof c);
    c.err = jpeg_std_error(&f.pub);
    f.pub.error_exit = jpeg_on_error;
    f.pub.output_message = jpeg_on_message;
    f.message[0] = '\0';
    if (setjmp(f.jump)) {
        jpeg_destroy_compress(&c);
        bool refused = d->refused;
        free(d);
        if (refused)
            return obia_error_set(err, OBIA_E_IO, "JPEG: the output refused the bytes");
        return obia_error_set(err, OBIA_E_FORMAT, "JPEG: %s", f.message);
    }
    jpeg_create_compress(&c);
    d->sink = sink;
    d->ctx = ctx;
    d->pub.init_destination = jpeg_dest_init;
    d->pub.empty_output_buffer = jpeg_dest_empty;
    d->pub.term_destination = jpeg_dest_term;
    c.dest = &d->pub;
    c.image_width = im->width;
    c.image_height = im->height;
    c.input_components = im->channels;
    c.in_color_space = im->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    size_t row_len = (size_t)im->width * im->channels;
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(im->data + (size_t)c.next_scanline * row_len);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(d);
    return true;
}

/* ---- contact sheet ------------------------------------------------------------------------- */

bool obia_contact_sheet(const obia_image *const *images, size_t n, uint32_t cell,
                        uint32_t columns, obia_image *out, obia_error *err)
{
    if (!out)
        return obia_error_set(err, OBIA_E_ARG, "contact sheet: no output image");
    memset(out, 0, sizeof *out);
    if (!images || n == 0)
        return obia_error_set(err, OBIA_E_ARG, "contact sheet: no images");
    if (cell == 0 || columns == 0)
        return obia_error_set(err, OBIA_E_ARG, "contact sheet: cells of %u pixels, %u columns",
                              cell, columns);
    uint64_t rows = (n + columns - 1) / columns;
    uint64_t width = (uint64_t)columns * cell, height = rows * cell;
    bool colour = false;
    for (size_t i = 0; i < n; i++) {
        if (!images[i])
            continue;   /* an empty cell */
        if (!check_image(images[i], "contact sheet", err))
            return false;
        colour |= images[i]->channels == 3;
    }
    unsigned ch = colour ? 3 : 1;
    if (width > SHEET_MAX_SIDE || height > SHEET_MAX_SIDE ||
        width * height * ch > SHEET_MAX_BYTES)
        return obia_error_set(err, OBIA_E_LIMIT,
                              "contact sheet: %llu x %llu pixels is more than obia makes",
                              (unsigned long long)width, (unsigned long long)height);
    out->len = (size_t)(width * height * ch);
    out->data = calloc(1, out->len);
    if (!out->data) {
        out->len = 0;
        return obia_error_set(err, OBIA_E_NOMEM, "contact sheet: out of memory");
    }
    out->width = (uint32_t)width;
    out->height = (uint32_t)height;
    out->channels = (uint16_t)ch;
    out->depth = 8;
    for (size_t i = 0; i < n; i++) {
        const obia_image *im = images[i];
        if (!im)
            continue;
        /* centred in its cell; a larger image shows its centre */
        uint32_t cw = im->width < cell ? im->width : cell;
        uint32_t chh = im->height < cell ? im->height : cell;
        uint32_t sx = (im->width - cw) / 2, sy = (im->height - chh) / 2;
        size_t ox = (size_t)(i % columns) * cell + (cell - cw) / 2;
        size_t oy = (size_t)(i / columns) * cell + (cell - chh) / 2;
        unsigned bytes = im->depth / 8;
        for (uint32_t y = 0; y < chh; y++) {
            const uint8_t *p = im->data + (((size_t)(sy + y) * im->width + sx) * im->channels) * bytes;
            uint8_t *o = out->data + ((oy + y) * width + ox) * ch;
            for (uint32_t x = 0; x < cw; x++) {
                uint8_t v[3];
                for (unsigned c = 0; c < im->channels; c++, p += bytes)
                    v[c] = bytes == 1 ? p[0]
                                      : (uint8_t)(((uint32_t)obia_rd16le(p) * 255 + 32767) / 65535);
                if (im->channels == 1)
                    v[1] = v[2] = v[0];
                memcpy(o, v, ch);
                o += ch;
            }
        }
    }
    return true;
}
