/* JPEG-LS lossless and near-lossless frames (ISO/IEC 14495-1), decoded with
 * CharLS's C API: 2 to 16 bits, 1 or 3 components, any interleave mode.
 *
 * CharLS writes one byte per sample up to 8 bits and two (host order)
 * above, by pixel for line and sample interleave and plane after plane for
 * none; the frame is rearranged into the container of Bits Allocated,
 * samples interleaved, little endian. Any colour transform of the stream
 * (HP1-3) is undone by CharLS. JPEG-LS codes signed data as its bit
 * pattern (PS3.5 A.4.3 note), so when Pixel Representation is 1 the values
 * are sign-extended from the stored width, as pydicom and GDCM return them.
 * Memory: the decoder and a scratch buffer (when the layout differs) are
 * freed before returning. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#include <charls/charls.h>

#define HOST_LITTLE_ENDIAN (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

static bool charls_failed(obia_error *err, charls_jpegls_errc ec, const char *what)
{
    obia_status code = ec == CHARLS_JPEGLS_ERRC_NOT_ENOUGH_MEMORY ? OBIA_E_NOMEM : OBIA_E_FORMAT;
    return obia_error_set(err, code, "JPEG-LS: %s: %s", what, charls_get_error_message(ec));
}

/* Store v (already truncated or sign-extended) in bps little-endian bytes. */
static inline void put_sample(uint8_t *p, unsigned bps, int32_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)u;
    if (bps >= 2)
        p[1] = (uint8_t)(u >> 8);
    if (bps == 4) {
        p[2] = (uint8_t)(u >> 16);
        p[3] = (uint8_t)(u >> 24);
    }
}

static inline int32_t sign_extend(uint32_t v, unsigned bits)
{
    uint32_t sign = 1u << (bits - 1);
    v &= (sign << 1) - 1;
    return (int32_t)(v ^ sign) - (int32_t)sign;
}

bool pixel_jpegls_decode(const uint8_t *src, size_t len, const obia_pixel_info *info,
                         uint8_t *dst, size_t dst_len, char photometric[20], obia_error *err)
{
    unsigned bps;
    if (!pixel_check_output(info, dst_len, 3, "JPEG-LS", &bps, err))
        return false;
    if (len < 4 || src[0] != 0xFF || src[1] != 0xD8)
        return obia_error_set(err, OBIA_E_FORMAT,
                              "JPEG-LS: the frame does not start with an SOI marker (FFD8)");

    /* A stream cut short is refused here: CharLS 2.4.1 (Debian 12) can spend
     * many seconds on one before failing. A whole stream ends with EOI
     * (FFD9), perhaps followed by a padding byte or a few (fragments have
     * even lengths; encoders pad with 00 or FF). */
    size_t end = len;
    while (end > 2 && len - end < 16 && (src[end - 1] == 0x00 || src[end - 1] == 0xFF))
        end--;
    if (end < 4 || src[end - 2] != 0xFF || src[end - 1] != 0xD9)
        return obia_error_set(err, OBIA_E_FORMAT,
                              "JPEG-LS: the frame does not end with an EOI marker (FFD9): it "
                              "is cut short");

    bool ok = false;
    uint8_t *scratch = NULL;
    charls_jpegls_decoder *dec = charls_jpegls_decoder_create();
    if (!dec)
        return obia_error_set(err, OBIA_E_NOMEM, "JPEG-LS: cannot create a decoder");

    charls_jpegls_errc ec = charls_jpegls_decoder_set_source_buffer(dec, src, len);
    if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
        charls_failed(err, ec, "source");
        goto out;
    }
    ec = charls_jpegls_decoder_read_header(dec);
    if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
        charls_failed(err, ec, "header");
        goto out;
    }
    charls_frame_info frame;
    charls_interleave_mode ilv;
    int32_t near = 0;
    if ((ec = charls_jpegls_decoder_get_frame_info(dec, &frame)) != CHARLS_JPEGLS_ERRC_SUCCESS ||
        (ec = charls_jpegls_decoder_get_interleave_mode(dec, &ilv)) !=
            CHARLS_JPEGLS_ERRC_SUCCESS ||
        (ec = charls_jpegls_decoder_get_near_lossless(dec, 0, &near)) !=
            CHARLS_JPEGLS_ERRC_SUCCESS) {
        charls_failed(err, ec, "header");
        goto out;
    }
    if (frame.width != info->columns || frame.height != info->rows) {
        obia_error_set(err, OBIA_E_FORMAT,
                       "JPEG-LS: the stream is %u x %u pixels (columns x rows) but the header "
                       "says %u x %u",
                       frame.width, frame.height, info->columns, info->rows);
        goto out;
    }
    if (frame.component_count != (int32_t)info->samples) {
        obia_error_set(err, OBIA_E_FORMAT,
                       "JPEG-LS: the stream has %d components but Samples per Pixel is %u",
                       frame.component_count, info->samples);
        goto out;
    }
    /* A precision other than Bits Stored is common (12-bit MR coded as 16)
     * and lossless all the same; only one that cannot fit is refused. */
    if (frame.bits_per_sample < 2 || frame.bits_per_sample > 16 ||
        (unsigned)frame.bits_per_sample > 8u * bps ||
        (info->bits_allocated >= 8 && (unsigned)frame.bits_per_sample > info->bits_allocated)) {
        obia_error_set(err, OBIA_E_FORMAT,
                       "JPEG-LS: the stream has %d-bit samples, which do not fit in %u bits "
                       "allocated",
                       frame.bits_per_sample, info->bits_allocated);
        goto out;
    }

    unsigned cbps = frame.bits_per_sample <= 8 ? 1u : 2u;
    size_t need = 0;
    ec = charls_jpegls_decoder_get_destination_size(dec, 0, &need);
    if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
        charls_failed(err, ec, "header");
        goto out;
    }
    size_t pixels = (size_t)info->rows * info->columns;
    if (need != pixels * info->samples * cbps) {
        obia_error_set(err, OBIA_E_FORMAT, "JPEG-LS: the decoder wants %zu bytes for %zu pixels",
                       need, pixels);
        goto out;
    }

    bool planar = ilv == CHARLS_INTERLEAVE_MODE_NONE && info->samples > 1;
    bool direct = cbps == bps && !planar && HOST_LITTLE_ENDIAN;
    uint8_t *out = dst;
    if (!direct) {
        scratch = malloc(need);
        if (!scratch) {
            obia_error_set(err, OBIA_E_NOMEM, "JPEG-LS: no memory for %zu bytes", need);
            goto out;
        }
        out = scratch;
    }
    ec = charls_jpegls_decoder_decode_to_buffer(dec, out, need, 0);
    if (ec != CHARLS_JPEGLS_ERRC_SUCCESS) {
        charls_failed(err, ec, near ? "near-lossless data" : "lossless data");
        goto out;
    }

    unsigned width = info->bits_stored < (unsigned)frame.bits_per_sample
                         ? info->bits_stored
                         : (unsigned)frame.bits_per_sample;
    bool extend = info->is_signed && width >= 1 && width < 8u * bps;
    if (direct) {
        if (extend && bps == 2) {
            for (size_t i = 0; i < pixels * info->samples; i++)
                put_sample(dst + 2 * i, 2, sign_extend(obia_rd16le(dst + 2 * i), width));
        } else if (extend) {
            for (size_t i = 0; i < pixels * info->samples; i++)
                dst[i] = (uint8_t)sign_extend(dst[i], width);
        }
    } else {
        size_t n = pixels * info->samples;
        for (size_t i = 0; i < n; i++) {
            /* Output sample i is pixel i / samples, component i % samples. */
            size_t from = planar ? (i % info->samples) * pixels + i / info->samples : i;
            uint32_t v;
            if (cbps == 1) {
                v = scratch[from];
            } else {
                uint16_t h;
                memcpy(&h, scratch + 2 * from, 2);
                v = h;
            }
            put_sample(dst + i * bps, bps, extend ? sign_extend(v, width) : (int32_t)v);
        }
    }
    ok = true;

out:
    free(scratch);
    charls_jpegls_decoder_destroy(dec);
    return ok;
}
