/* The decoders of compressed frames, one file each, behind one signature.
 *
 * A decoder gets the bytes of one frame and the header's description, and
 * writes the frame's stored values into dst, which holds exactly
 * rows x columns x samples x bytes-per-sample bytes (bytes per sample: 1 for
 * up to 8 bits allocated, 2 for 16, 4 for 32), samples interleaved, little
 * endian. It checks what the stream says (size, components, precision)
 * against info and fails on any difference, and never reads or writes out
 * of bounds whatever the stream holds. photometric (20 bytes, starting as
 * the header's) is changed when the codec transforms the colours (e.g. JPEG
 * YBR_FULL_422 decoded to RGB).
 *
 * Errors: OBIA_E_FORMAT for a broken or inconsistent stream (naming what
 * and where), OBIA_E_UNSUPPORTED for a valid stream obia cannot decode,
 * OBIA_E_NOMEM. */
#ifndef OBIA_PIXEL_CODEC_H
#define OBIA_PIXEL_CODEC_H

#include "obia/pixel.h"

/* The checks every decoder starts with: dst_len holds exactly rows x
 * columns x samples (1 or 3, up to max_samples) of 1, 2 or 4 bytes, with
 * Bits Stored within them; else OBIA_E_ARG naming codec. *bps gets the
 * bytes per sample. */
bool pixel_check_output(const obia_pixel_info *info, size_t dst_len, unsigned max_samples,
                        const char *codec, unsigned *bps, obia_error *err);

typedef bool (*pixel_decoder)(const uint8_t *src, size_t len, const obia_pixel_info *info,
                              uint8_t *dst, size_t dst_len, char photometric[20],
                              obia_error *err);

/* RLE Lossless (PS3.5 Annex G): own. */
bool pixel_rle_decode(const uint8_t *src, size_t len, const obia_pixel_info *info, uint8_t *dst,
                      size_t dst_len, char photometric[20], obia_error *err);
/* JPEG Lossless, process 14, every predictor (selection value 1 to 7),
 * 2 to 16 bits, 1 to 4 components: own (libjpeg-turbo 2.1 has none). */
bool pixel_jpeg_lossless_decode(const uint8_t *src, size_t len, const obia_pixel_info *info,
                                uint8_t *dst, size_t dst_len, char photometric[20],
                                obia_error *err);
/* JPEG Baseline (process 1) and Extended (process 2 and 4) of 8 bits:
 * libjpeg-turbo. 12-bit lossy: OBIA_E_UNSUPPORTED. */
bool pixel_jpeg_decode(const uint8_t *src, size_t len, const obia_pixel_info *info, uint8_t *dst,
                       size_t dst_len, char photometric[20], obia_error *err);
/* JPEG-LS lossless and near-lossless: CharLS. */
bool pixel_jpegls_decode(const uint8_t *src, size_t len, const obia_pixel_info *info,
                         uint8_t *dst, size_t dst_len, char photometric[20], obia_error *err);
/* JPEG 2000 and HTJ2K, lossless and lossy: OpenJPEG. */
bool pixel_j2k_decode(const uint8_t *src, size_t len, const obia_pixel_info *info, uint8_t *dst,
                      size_t dst_len, char photometric[20], obia_error *err);

#endif
