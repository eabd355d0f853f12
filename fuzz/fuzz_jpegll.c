/*
 * libFuzzer harness for the JPEG Lossless decoder (lib/pixel/jpeg_lossless.c):
 * any bytes, with any small frame description, must decode or fail with a
 * message, never reading or writing out of bounds (the output buffer has
 * exactly the frame's size, so ASan sees the first byte past it).
 *
 * Input: byte 0 chooses the mode, then
 *   mode 0: bytes 1-3 describe the frame (rows and columns up to 64, at
 *           most 4096 samples in all, 1, 3 or 4 samples, 8 or 16 bits allocated, bits stored, signed), the
 *           rest is the stream;
 *   mode 1: the frame is what the stream's own SOF3 says (up to 64 x 64;
 *           the stream starts at the first FF D8, so DICOM files of the
 *           seed corpus give their first frame);
 *   mode 2: bytes 1-6 are parameters of a header the harness writes (SOI,
 *           SOF3, a DHT, maybe DRI, SOS: size, components, precision,
 *           selection value, point transform, restart interval,
 *           interleaving) and the rest is the entropy-coded data, so most
 *           inputs reach the scan decoder.
 */
#include "obia/pixel.h"
#include "../lib/pixel/codec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SIDE 64
#define MAX_SAMPLES 4096   /* rows x columns x components: keeps runs fast */

/* rows cut down so the frame has at most MAX_SAMPLES samples */
static unsigned capped_rows(unsigned rows, unsigned cols, unsigned nc)
{
    unsigned most = MAX_SAMPLES / (cols * nc);
    return rows < most ? rows : most ? most : 1;
}

/* A table of the 17 categories: 3 codes of 2 bits, then one of each length
 * from 3 to 16 bits (so long codes take the decoder's slow path). */
static const uint8_t dht[] = {0xFF, 0xC4, 0x00, 0x24, 0x00, 0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                              1,    1,    1,    1,    1,    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                              11,   12,   13,   14,   15,   16};

static size_t header(const uint8_t *p, obia_pixel_info *info, uint8_t *out)
{
    unsigned rows = 1 + p[0] % MAX_SIDE, cols = 1 + p[1] % MAX_SIDE;
    static const uint8_t comps[4] = {1, 3, 4, 1};
    unsigned nc = comps[p[2] & 3], precision = 2 + (p[2] >> 2) % 15;
    rows = capped_rows(rows, cols, nc);
    unsigned sv = 1 + p[3] % 7, pt = (p[3] >> 3) % precision;
    unsigned restart_rows = p[4] & 3;
    bool separate = p[4] & 4;
    size_t n = 0;
    memcpy(out, "\xFF\xD8", 2);
    n = 2;
    uint8_t sof[22] = {0xFF, 0xC3, 0, (uint8_t)(8 + 3 * nc), (uint8_t)precision, 0,
                       (uint8_t)rows, 0, (uint8_t)cols, (uint8_t)nc};
    for (unsigned c = 0; c < nc; c++) {
        sof[10 + 3 * c] = (uint8_t)(c + 1);
        sof[11 + 3 * c] = 0x11;
    }
    memcpy(out + n, sof, 10 + 3 * nc);
    n += 10 + 3 * nc;
    memcpy(out + n, dht, sizeof dht);
    n += sizeof dht;
    if (restart_rows) {
        unsigned ri = restart_rows * cols;
        uint8_t dri[6] = {0xFF, 0xDD, 0, 4, (uint8_t)(ri >> 8), (uint8_t)ri};
        memcpy(out + n, dri, 6);
        n += 6;
    }
    /* one scan header (the first component, or all); the data decides what
     * follows: a second SOS may come from it */
    unsigned ns = separate ? 1 : nc;
    uint8_t sos[16] = {0xFF, 0xDA, 0, (uint8_t)(6 + 2 * ns), (uint8_t)ns};
    for (unsigned j = 0; j < ns; j++) {
        sos[5 + 2 * j] = (uint8_t)(j + 1);
        sos[6 + 2 * j] = 0;
    }
    sos[5 + 2 * ns] = (uint8_t)sv;
    sos[6 + 2 * ns] = 0;
    sos[7 + 2 * ns] = (uint8_t)pt;
    memcpy(out + n, sos, 8 + 2 * ns);
    n += 8 + 2 * ns;

    info->rows = rows;
    info->columns = cols;
    info->samples = (uint16_t)nc;
    info->bits_allocated = precision <= 8 ? 8 : 16;
    info->bits_stored = (uint16_t)(precision - (p[5] & 1 && precision > 2));
    info->is_signed = p[5] & 2;
    return n;
}

/* The frame of the stream's SOF3, if small enough. */
static bool from_sof(const uint8_t *p, size_t n, obia_pixel_info *info, uint8_t flags)
{
    for (size_t i = 0; i + 10 <= n; i++) {
        if (p[i] != 0xFF || p[i + 1] != 0xC3)
            continue;
        unsigned precision = p[i + 4], rows = obia_rd16be(p + i + 5),
                 cols = obia_rd16be(p + i + 7), nc = p[i + 9];
        if (rows == 0 || rows > MAX_SIDE || cols == 0 || cols > MAX_SIDE || nc == 0 || nc > 4 ||
            precision == 0 || precision > 16 || rows * cols * nc > MAX_SAMPLES)
            return false;
        info->rows = rows;
        info->columns = cols;
        info->samples = (uint16_t)nc;
        info->bits_allocated = precision <= 8 ? 8 : 16;
        info->bits_stored = (uint16_t)precision;
        info->is_signed = flags & 1;
        return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 7)
        return 0;
    obia_pixel_info info;
    memset(&info, 0, sizeof info);
    info.frames = 1;
    info.encapsulated = true;
    const uint8_t *src;
    size_t len;
    uint8_t *built = NULL;
    switch (data[0] % 3) {
    case 0: {
        static const uint8_t comps[4] = {1, 3, 4, 1};
        info.rows = 1 + data[1] % MAX_SIDE;
        info.columns = 1 + data[2] % MAX_SIDE;
        info.samples = comps[data[3] & 3];
        info.bits_allocated = data[3] & 4 ? 16 : 8;
        info.bits_stored = (uint16_t)(2 + (data[3] >> 3) % (info.bits_allocated - 1));
        info.is_signed = data[3] & 0x80;
        info.rows = capped_rows(info.rows, info.columns, info.samples);
        src = data + 4;
        len = size - 4;
        break;
    }
    case 1: {
        const uint8_t *soi = NULL;
        for (size_t i = 1; i + 1 < size && !soi; i++)
            if (data[i] == 0xFF && data[i + 1] == 0xD8)
                soi = data + i;
        if (!soi)
            return 0;
        src = soi;
        len = size - (size_t)(soi - data);
        if (!from_sof(src, len, &info, data[0] >> 2))
            return 0;
        break;
    }
    default:
        built = malloc(128 + size);
        if (!built)
            return 0;
        len = header(data + 1, &info, built);
        memcpy(built + len, data + 7, size - 7);
        len += size - 7;
        src = built;
        break;
    }
    memcpy(info.photometric, "MONOCHROME2", 12);
    size_t n = (size_t)info.rows * info.columns * info.samples * (info.bits_allocated / 8);
    uint8_t *dst = malloc(n);
    if (!dst) {
        free(built);
        return 0;
    }
    char photometric[20];
    memcpy(photometric, info.photometric, sizeof photometric);
    obia_error err;
    obia_error_clear(&err);
    bool ok = pixel_jpeg_lossless_decode(src, len, &info, dst, n, photometric, &err);
    if (ok != (err.code == OBIA_E_OK))
        abort();   /* success with an error set, or failure without one */
    if (!ok && err.message[0] == '\0')
        abort();   /* a failure must say why */
    if (memcmp(photometric, info.photometric, sizeof photometric) != 0)
        abort();   /* lossless JPEG never changes the colours */
    free(dst);
    free(built);
    return 0;
}
