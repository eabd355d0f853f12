/*
 * libFuzzer harness for pixel data as a whole: whatever the parser accepts,
 * finding each frame (offset tables, fragments, codestream markers),
 * decoding it with whichever codec its transfer syntax names, rendering it
 * (LUTs, palettes, windows, scaling) and encoding the PNG must never crash
 * nor read or write out of bounds, and every failure must say why.
 */
#include "obia/dicom.h"
#include "obia/pixel.h"

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
    if (!f)
        return 0;
    obia_pixel_info info;
    /* JPEG-LS is left out: CharLS 2.4.1 (Debian 12) can spend tens of
     * seconds on some corrupt streams before failing (fixed upstream in
     * CharLS pull request 334); obia's JPEG-LS wrapper is tested with
     * hostile streams in test_pixel_codecs */
    bool jpegls = strncmp(obia_file_transfer_syntax(f), "1.2.840.10008.1.2.4.8", 21) == 0;
    if (!jpegls && obia_pixel_info_get(f, &info, &err) &&
        (uint64_t)info.rows * info.columns * info.samples <= (1u << 22)) {
        uint32_t frames = info.frames < 3 ? info.frames : 3;
        for (uint32_t i = 0; i < frames; i++) {
            obia_frame fr;
            obia_error_clear(&err);
            if (!obia_pixel_decode(f, i, &fr, &err)) {
                if (!err.message[0])
                    abort();
                continue;
            }
            obia_render_options ro;
            obia_render_options_init(&ro);
            ro.size = 64;
            obia_image im = {0};
            obia_error_clear(&err);
            if (obia_render(f, &fr, &ro, &im, &err)) {
                if (!obia_image_write_png(&im, null_sink, NULL, &err))
                    abort();   /* a rendered image always encodes */
            } else if (!err.message[0]) {
                abort();
            }
            obia_image_free(&im);
            obia_frame_free(&fr);
        }
    } else if (err.code != OBIA_E_OK && !err.message[0]) {
        abort();
    }
    obia_file_free(f);
    return 0;
}
