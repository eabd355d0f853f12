/* RLE Lossless (PS3.5 Annex G): a 64-byte header (number of segments, then
 * their offsets), then PackBits segments. Each segment holds one byte of
 * one sample of every pixel: segments go by sample, and within a sample
 * from the most significant byte to the least. Decoding scatters each
 * segment into its byte lane of the interleaved little-endian frame.
 *
 * 1-bit data (segmentations) is one segment per sample holding the frame's
 * bits packed as in native data (first pixel in the lowest bit), unpacked
 * here to one byte per pixel. Values come out exactly as native data would
 * hold them: signed ones are not sign-extended (RLE codes the bytes).
 *
 * Tolerated: a segment that decodes to more bytes than the frame needs (a
 * padding byte some encoders add); the surplus is ignored, as gdcm and
 * pydicom do. Anything less, a run past its segment's end, or offsets out
 * of order or outside the frame is an error. The caller owns src and dst. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#define RLE_HEADER 64
#define RLE_MAX_SEGMENTS 15

/* Decode segment p[0..n) into count bytes at out, stride apart. Returns the
 * number of bytes written; *bad is set to the segment-relative offset of a
 * run that goes past the segment's end (else left SIZE_MAX). */
static size_t rle_segment(const uint8_t *p, size_t n, uint8_t *out, size_t count, size_t stride,
                          size_t *bad)
{
    size_t i = 0, o = 0;
    while (o < count && i < n) {
        uint8_t h = p[i++];
        if (h < 0x80) {                       /* h + 1 literal bytes */
            size_t run = (size_t)h + 1, take = run < count - o ? run : count - o;
            if (take > n - i) {
                *bad = i - 1;
                return o;
            }
            if (stride == 1) {
                memcpy(out + o, p + i, take);
            } else {
                for (size_t k = 0; k < take; k++)
                    out[(o + k) * stride] = p[i + k];
            }
            i += run < n - i ? run : n - i;   /* a literal's unneeded tail may be cut off */
            o += take;
        } else if (h > 0x80) {                /* 257 - h copies of the next byte */
            if (i >= n) {
                *bad = i - 1;
                return o;
            }
            size_t run = 257 - (size_t)h, take = run < count - o ? run : count - o;
            uint8_t v = p[i++];
            if (stride == 1) {
                memset(out + o, v, take);
            } else {
                for (size_t k = 0; k < take; k++)
                    out[(o + k) * stride] = v;
            }
            o += take;
        }                                      /* 0x80: no operation */
    }
    return o;
}

bool pixel_rle_decode(const uint8_t *src, size_t len, const obia_pixel_info *info, uint8_t *dst,
                      size_t dst_len, char photometric[20], obia_error *err)
{
    (void)photometric;   /* RLE keeps the colours as they are */
    unsigned bits = info->bits_allocated, samples = info->samples;
    if (samples == 0 || (bits != 1 && (bits % 8 != 0 || bits == 0 || bits > 64)))
        return obia_error_set(err, OBIA_E_UNSUPPORTED,
                              "RLE Lossless: %u bits allocated and %u samples per pixel "
                              "cannot be decoded", bits, samples);
    size_t bps = bits == 1 ? 1 : bits / 8;      /* bytes per sample, in dst */
    size_t lanes = bits == 1 ? 1 : bps;         /* segments per sample */
    size_t want_segments = (size_t)samples * lanes;
    size_t pixels = (size_t)info->rows * info->columns, frame_bytes;
    if (__builtin_mul_overflow(pixels, (size_t)samples * bps, &frame_bytes) ||
        frame_bytes != dst_len)
        return obia_error_set(err, OBIA_E_ARG,
                              "RLE Lossless: the output holds %zu bytes, not the %u x %u x %u "
                              "samples of %zu bytes of a frame", dst_len, info->rows,
                              info->columns, samples, bps);
    if (want_segments > RLE_MAX_SEGMENTS)
        return obia_error_set(err, OBIA_E_UNSUPPORTED,
                              "RLE Lossless: %u samples of %u bits need %zu segments; "
                              "an RLE header holds at most 15", samples, bits, want_segments);
    if (len < RLE_HEADER)
        return obia_error_set(err, OBIA_E_FORMAT,
                              "RLE Lossless: the frame has %zu bytes, less than its 64-byte "
                              "header", len);

    uint32_t nseg = obia_rd32le(src);
    if (nseg != want_segments)
        return obia_error_set(err, OBIA_E_FORMAT,
                              "RLE Lossless: the header says %u segments; %u samples of %u "
                              "bits allocated need %zu", nseg, samples, bits, want_segments);
    size_t off[RLE_MAX_SEGMENTS + 1];
    for (size_t s = 0; s < nseg; s++) {
        off[s] = obia_rd32le(src + 4 + 4 * s);
        size_t lo = s == 0 ? RLE_HEADER : off[s - 1] + 1;
        if (off[s] < lo || off[s] >= len)
            return obia_error_set(err, OBIA_E_FORMAT,
                                  "RLE Lossless: segment %zu starts at offset %zu, %s", s + 1,
                                  off[s],
                                  off[s] >= len ? "past the end of the frame's data"
                                  : s == 0      ? "inside the 64-byte header"
                                                : "not after the previous segment");
    }
    off[nseg] = len;

    /* 1-bit frames: each segment is decoded packed, then unpacked */
    size_t packed = (pixels + 7) / 8;
    uint8_t *bitbuf = NULL;
    if (bits == 1 && !(bitbuf = malloc(packed ? packed : 1)))
        return obia_error_set(err, OBIA_E_NOMEM, "RLE Lossless: out of memory");

    bool ok = true;
    for (size_t s = 0; s < nseg && ok; s++) {
        size_t sample = s / lanes, byte_from_top = s % lanes;
        size_t count = bits == 1 ? packed : pixels;
        uint8_t *out = bits == 1 ? bitbuf : dst + sample * bps + (bps - 1 - byte_from_top);
        size_t stride = bits == 1 ? 1 : (size_t)samples * bps;
        size_t bad = SIZE_MAX;
        size_t got = rle_segment(src + off[s], off[s + 1] - off[s], out, count, stride, &bad);
        if (bad != SIZE_MAX)
            ok = obia_error_set(err, OBIA_E_FORMAT,
                                "RLE Lossless: segment %zu (sample %zu, byte %zu) has a run at "
                                "offset %zu that goes past the segment's end at offset %zu",
                                s + 1, sample + 1, byte_from_top + 1, off[s] + bad, off[s + 1]);
        else if (got < count)
            ok = obia_error_set(err, OBIA_E_FORMAT,
                                "RLE Lossless: segment %zu (sample %zu, byte %zu, offsets %zu "
                                "to %zu) decodes to %zu bytes; the frame needs %zu",
                                s + 1, sample + 1, byte_from_top + 1, off[s], off[s + 1], got,
                                count);
        else if (bits == 1)
            for (size_t i = 0; i < pixels; i++)
                dst[i * samples + sample] = (uint8_t)((bitbuf[i / 8] >> (i % 8)) & 1);
    }
    free(bitbuf);
    return ok;
}
