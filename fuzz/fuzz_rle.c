/*
 * libFuzzer harness for the RLE Lossless decoder (lib/pixel/rle.c): any
 * bytes, with any small frame description, must decode or fail with a
 * message, never reading or writing out of bounds (the output buffer has
 * exactly the frame's size, so ASan sees the first byte past it).
 *
 * Input: byte 0 chooses the mode, bytes 1-3 the frame (rows and columns up
 * to 64, samples 1 or 3, bits allocated 1, 8, 16 or 32); then
 *   mode even: the rest is the whole RLE frame, header included;
 *   mode odd:  the rest is segment data, and the harness writes a header
 *              with the right number of segments, cutting the data at
 *              offsets taken from the bytes after the mode, so most inputs
 *              reach the segment decoder.
 */
#include "obia/pixel.h"
#include "../lib/pixel/codec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    static const uint16_t bits[4] = {8, 16, 32, 1};
    obia_pixel_info info;
    memset(&info, 0, sizeof info);
    info.rows = 1 + data[1] % 64;
    info.columns = 1 + data[2] % 64;
    info.bits_allocated = bits[data[3] & 3];
    info.samples = (data[3] & 4) && info.bits_allocated != 1 ? 3 : 1;
    info.bits_stored = info.bits_allocated;
    info.is_signed = data[3] & 8;
    info.frames = 1;
    info.encapsulated = true;
    memcpy(info.photometric, info.samples == 3 ? "RGB" : "MONOCHROME2",
           info.samples == 3 ? 4 : 12);
    size_t bps = info.bits_allocated <= 8 ? 1 : info.bits_allocated / 8;
    size_t n = (size_t)info.rows * info.columns * info.samples * bps;

    const uint8_t *src = data + 4;
    size_t len = size - 4;
    uint8_t *built = NULL;
    if (data[0] & 1) {
        /* a header with the right segment count; offsets from the data */
        size_t nseg = info.samples * (info.bits_allocated == 1 ? 1 : bps);
        built = malloc(64 + len);
        if (!built)
            return 0;
        memset(built, 0, 64);
        obia_wr32le(built, (uint32_t)nseg);
        size_t at = 64;
        for (size_t s = 0; s < nseg; s++) {
            obia_wr32le(built + 4 + 4 * s, (uint32_t)at);
            at += len / nseg + (s < len % nseg);
        }
        memcpy(built + 64, src, len);
        src = built;
        len += 64;
    }
    uint8_t *dst = malloc(n);
    if (!dst) {
        free(built);
        return 0;
    }
    char photometric[20];
    memcpy(photometric, info.photometric, sizeof photometric);
    obia_error err;
    obia_error_clear(&err);
    bool ok = pixel_rle_decode(src, len, &info, dst, n, photometric, &err);
    if (ok != (err.code == OBIA_E_OK))
        abort();   /* success with an error set, or failure without one */
    if (!ok && err.message[0] == '\0')
        abort();   /* a failure must say why */
    if (memcmp(photometric, info.photometric, sizeof photometric) != 0)
        abort();   /* RLE never changes the colours */
    free(dst);
    free(built);
    return 0;
}
