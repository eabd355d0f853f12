/*
 * Pixel data: decode any frame of any image the archive holds, and render
 * it (modality and VOI LUTs, photometric interpretation, downsampling) as
 * PNG or JPEG.
 *
 * Decoding gives the frame's stored values: samples interleaved (R G B R G
 * B ...), little endian, each sample in 1, 2, 4 or 8 bytes (1-bit data
 * unpacked to one byte per pixel, 0 or 1), signed when Pixel
 * Representation is 1, no LUT applied. Codecs that define a colour
 * transform apply it (JPEG baseline YBR_FULL_422 comes out RGB, JPEG 2000
 * with the multiple-component transform too); the frame's photometric
 * interpretation says what the values are. Every decoded frame is checked
 * against the header (size, bits, samples): a mismatch is an error, never
 * an out-of-bounds read or write.
 */
#ifndef OBIA_PIXEL_H
#define OBIA_PIXEL_H

#include "obia/dicom.h"
#include "obia/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the header says about the pixels. */
typedef struct obia_pixel_info {
    uint32_t rows, columns, frames;
    uint16_t samples;              /* Samples per Pixel: 1 or 3 */
    uint16_t bits_allocated;       /* 1, 8, 16, 32 or 64 */
    uint16_t bits_stored;
    uint16_t high_bit;
    bool is_signed;                /* Pixel Representation 1 */
    bool planar;                   /* Planar Configuration 1 (native data) */
    bool is_float;                 /* Float (32) or Double Float (64) Pixel Data */
    bool encapsulated;
    char photometric[20];          /* MONOCHROME2, RGB, YBR_FULL_422, PALETTE COLOR, ... */
    char transfer_syntax[68];
} obia_pixel_info;

/* The pixel description of a file; NOTFOUND without pixel data, ARG when
 * the attributes are missing or impossible (rows 0, 12 bits allocated...). */
bool obia_pixel_info_get(const obia_file *f, obia_pixel_info *info, obia_error *err);

/* One decoded frame: rows x columns x samples values of bytes_per_sample. */
typedef struct obia_frame {
    uint32_t rows, columns;
    uint16_t samples;
    uint16_t bytes_per_sample;     /* 1, 2, 4 or 8 */
    uint16_t bits_stored;
    bool is_signed;
    bool is_float;
    char photometric[20];          /* of the decoded values */
    uint8_t *data;
    size_t len;
} obia_frame;

/* Decode frame index (from 0). Transfer syntaxes: native (Implicit,
 * Explicit LE and BE, Deflated), RLE Lossless, JPEG Baseline and Extended
 * (8 bits), JPEG Lossless (process 14, any selection value, 2 to 16 bits),
 * JPEG-LS lossless and near-lossless, JPEG 2000 and HTJ2K. Others (12-bit
 * lossy JPEG among them) fail with OBIA_E_UNSUPPORTED. */
bool obia_pixel_decode(const obia_file *f, uint32_t index, obia_frame *out, obia_error *err);
void obia_frame_free(obia_frame *fr);

/* The bytes of encapsulated frame index: its fragments joined (split by the
 * Basic or Extended Offset Table, or without one by fragment boundaries
 * and JPEG markers). *owned says whether *data must be freed. */
bool obia_pixel_encoded_frame(const obia_file *f, const obia_pixel_info *info, uint32_t index,
                              const uint8_t **data, size_t *len, bool *owned, obia_error *err);

/* ---- rendering -------------------------------------------------------------
 * A decoded frame to an image a person looks at: Modality LUT (Rescale
 * Slope/Intercept or the Modality LUT Sequence), VOI LUT (a window from the
 * file -- LINEAR, LINEAR_EXACT or SIGMOID --, one given, the VOI LUT
 * Sequence, or else automatic from the histogram), MONOCHROME1 inversion
 * and Presentation LUT Shape for grey images; PALETTE COLOR through its
 * (segmented or 16-bit) palettes, YBR to RGB, for colour; then scaled to
 * the size asked by area averaging. */
typedef struct obia_render_options {
    uint32_t size;            /* longest side of the output; 0: as stored (never enlarged) */
    bool window;              /* center/width given */
    double center, width;
    uint32_t voi_index;       /* which of the file's windows or VOI LUTs (0: the first) */
    bool bits16;              /* 16-bit grey output (lossless PNG export), not 8 */
} obia_render_options;

void obia_render_options_init(obia_render_options *opt);   /* 256, file's window, 8 bits */

/* A rendered image: width x height pixels of channels (1 grey, 3 RGB)
 * samples of depth bits (8, or 16 for bits16 grey), row by row, 16-bit
 * samples little endian. */
typedef struct obia_image {
    uint32_t width, height;
    uint16_t channels;
    uint16_t depth;
    uint8_t *data;
    size_t len;
} obia_image;

/* Render frame fr of f (fr from obia_pixel_decode(f, ...)). */
bool obia_render(const obia_file *f, const obia_frame *fr, const obia_render_options *opt,
                 obia_image *out, obia_error *err);
void obia_image_free(obia_image *im);

/* Encoders: PNG (libspng; 8 or 16 bits) and JPEG (libjpeg-turbo; 8 bits,
 * quality 1 to 100). */
bool obia_image_write_png(const obia_image *im, obia_sink_fn sink, void *ctx, obia_error *err);
bool obia_image_write_jpeg(const obia_image *im, int quality, obia_sink_fn sink, void *ctx,
                           obia_error *err);

/* A contact sheet: the images (thumbnails, in order) in a grid of columns
 * cells of cell x cell pixels, each centred, on black; grey images become
 * RGB when any is colour. */
bool obia_contact_sheet(const obia_image *const *images, size_t n, uint32_t cell,
                        uint32_t columns, obia_image *out, obia_error *err);

#endif
