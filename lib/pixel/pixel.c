/* Pixel data: what the header says, where each frame is, and native
 * frames; compressed frames go to their codec (codec.h). */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- the header ------------------------------------------------------------------ */

static bool get_uint(const obia_dataset *ds, uint32_t tag, uint64_t *v)
{
    const obia_element *el = obia_dataset_get(ds, tag);
    return el && obia_element_vm(el) && obia_element_get_uint(el, 0, v, NULL);
}

static const obia_element *pixel_element(const obia_dataset *ds, bool *is_float)
{
    const obia_element *px = obia_dataset_get(ds, OBIA_TAG_PIXEL_DATA);
    *is_float = false;
    if (!px) {
        px = obia_dataset_get(ds, OBIA_TAG_FLOAT_PIXEL_DATA);
        if (!px)
            px = obia_dataset_get(ds, OBIA_TAG_DOUBLE_PIXEL_DATA);
        *is_float = px != NULL;
    }
    return px;
}

bool obia_pixel_info_get(const obia_file *f, obia_pixel_info *info, obia_error *err)
{
    memset(info, 0, sizeof *info);
    const obia_dataset *ds = obia_file_dataset(f);
    bool is_float;
    const obia_element *px = pixel_element(ds, &is_float);
    if (!px)
        return obia_error_set(err, OBIA_E_NOTFOUND, "no Pixel Data");
    uint64_t rows = 0, cols = 0, spp = 1, alloc = 0, stored = 0, high = 0, rep = 0, planar = 0;
    uint64_t frames = 1;
    if (!get_uint(ds, OBIA_TAG(0x0028, 0x0010), &rows) ||
        !get_uint(ds, OBIA_TAG(0x0028, 0x0011), &cols))
        return obia_error_set(err, OBIA_E_ARG, "no Rows or Columns");
    get_uint(ds, OBIA_TAG(0x0028, 0x0002), &spp);
    if (!get_uint(ds, OBIA_TAG(0x0028, 0x0100), &alloc)) {
        if (!is_float)
            return obia_error_set(err, OBIA_E_ARG, "no Bits Allocated");
        alloc = obia_element_tag(px) == OBIA_TAG_DOUBLE_PIXEL_DATA ? 64 : 32;
    }
    if (!get_uint(ds, OBIA_TAG(0x0028, 0x0101), &stored))
        stored = alloc;
    if (!get_uint(ds, OBIA_TAG(0x0028, 0x0102), &high))
        high = stored - 1;
    get_uint(ds, OBIA_TAG(0x0028, 0x0103), &rep);
    get_uint(ds, OBIA_TAG(0x0028, 0x0006), &planar);
    const obia_element *nf = obia_dataset_get(ds, OBIA_TAG(0x0028, 0x0008));
    int64_t nframes = 1;
    if (nf && obia_element_vm(nf) && obia_element_get_int(nf, 0, &nframes, NULL) && nframes < 1)
        return obia_error_set(err, OBIA_E_ARG, "Number of Frames is %lld", (long long)nframes);
    frames = (uint64_t)nframes;
    if (rows == 0 || cols == 0 || rows > 65535 || cols > 65535)
        return obia_error_set(err, OBIA_E_ARG, "Rows x Columns %llu x %llu is not an image",
                              (unsigned long long)rows, (unsigned long long)cols);
    if (spp != 1 && spp != 3)
        return obia_error_set(err, OBIA_E_UNSUPPORTED, "%llu samples per pixel (1 or 3 are)",
                              (unsigned long long)spp);
    if (alloc != 1 && alloc != 8 && alloc != 16 && alloc != 32 && !(alloc == 64 && is_float))
        return obia_error_set(err, OBIA_E_UNSUPPORTED, "%llu bits allocated",
                              (unsigned long long)alloc);
    if (is_float && alloc != 32 && alloc != 64)
        return obia_error_set(err, OBIA_E_ARG, "float pixel data of %llu bits",
                              (unsigned long long)alloc);
    if (stored == 0 || stored > alloc || high >= alloc)
        return obia_error_set(err, OBIA_E_ARG, "Bits Stored %llu / High Bit %llu do not fit in %llu "
                              "bits allocated", (unsigned long long)stored,
                              (unsigned long long)high, (unsigned long long)alloc);
    if (frames > 1000000)
        return obia_error_set(err, OBIA_E_LIMIT, "%llu frames", (unsigned long long)frames);
    info->rows = (uint32_t)rows;
    info->columns = (uint32_t)cols;
    info->frames = (uint32_t)frames;
    info->samples = (uint16_t)spp;
    info->bits_allocated = (uint16_t)alloc;
    info->bits_stored = (uint16_t)stored;
    info->high_bit = (uint16_t)high;
    info->is_signed = rep == 1;
    info->planar = planar == 1;
    info->is_float = is_float;
    info->encapsulated = obia_element_is_encapsulated(px);
    obia_buf b;
    obia_buf_init(&b, 256);
    const char *pi = obia_dataset_get_cstr(ds, OBIA_TAG(0x0028, 0x0004), &b);
    snprintf(info->photometric, sizeof info->photometric, "%s",
             pi && *pi ? pi : spp == 3 ? "RGB" : "MONOCHROME2");
    obia_buf_free(&b);
    snprintf(info->transfer_syntax, sizeof info->transfer_syntax, "%s",
             obia_file_transfer_syntax(f));
    return true;
}

bool pixel_check_output(const obia_pixel_info *info, size_t dst_len, unsigned max_samples,
                        const char *codec, unsigned *bps, obia_error *err)
{
    *bps = info->bits_allocated <= 8 ? 1u : info->bits_allocated / 8u;
    size_t row_bytes = (size_t)info->columns * info->samples * *bps;
    if (info->rows == 0 || info->columns == 0 || info->samples == 0 ||
        info->samples > max_samples || (*bps != 1 && *bps != 2 && *bps != 4) ||
        dst_len / row_bytes != info->rows || dst_len % row_bytes != 0 ||
        info->bits_stored == 0 || info->bits_stored > 8u * *bps)
        return obia_error_set(err, OBIA_E_ARG,
                              "%s: %zu output bytes do not hold %u x %u x %u samples of %u "
                              "bits allocated",
                              codec, dst_len, info->rows, info->columns, info->samples,
                              info->bits_allocated);
    return true;
}

static unsigned bytes_per_sample(const obia_pixel_info *info)
{
    return info->bits_allocated <= 8 ? 1 : info->bits_allocated / 8;
}

/* ---- encapsulated frames ------------------------------------------------------------- */

/* Whether a fragment starts a JPEG, JPEG-LS or JPEG 2000 codestream or a
 * JP2 file. */
static bool starts_frame(const uint8_t *p, size_t n)
{
    static const uint8_t jp2[] = {0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20};
    return (n >= 2 && p[0] == 0xFF && (p[1] == 0xD8 || p[1] == 0x4F)) ||
           (n >= 8 && memcmp(p, jp2, 8) == 0);
}

bool obia_pixel_encoded_frame(const obia_file *f, const obia_pixel_info *info, uint32_t index,
                              const uint8_t **data, size_t *len, bool *owned, obia_error *err)
{
    const obia_dataset *ds = obia_file_dataset(f);
    const obia_element *px = obia_dataset_get(ds, OBIA_TAG_PIXEL_DATA);
    *owned = false;
    if (!px || !obia_element_is_encapsulated(px))
        return obia_error_set(err, OBIA_E_ARG, "Pixel Data is not encapsulated");
    if (index >= info->frames)
        return obia_error_set(err, OBIA_E_ARG, "no frame %u (the image has %u)", index + 1,
                              info->frames);
    size_t nfrag = obia_element_fragment_count(px);
    if (nfrag < 2)
        return obia_error_set(err, OBIA_E_FORMAT, "encapsulated Pixel Data has no fragments");
    size_t nf = nfrag - 1;
    /* where each fragment's item starts, from the first fragment's item */
    uint64_t *at = malloc(nf * sizeof *at);
    if (!at)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    uint64_t pos = 0;
    for (size_t i = 0; i < nf; i++) {
        size_t l;
        obia_element_fragment(px, i + 1, &l, NULL);
        at[i] = pos;
        pos += 8 + (uint64_t)l;
    }
    size_t first = 0, last = 0;   /* fragments [first, last) of the frame */
    bool ok = true;
    size_t botlen;
    const uint8_t *bot = obia_element_fragment(px, 0, &botlen, NULL);
    const obia_element *eot = obia_dataset_get(ds, OBIA_TAG(0x7FE0, 0x0001));
    uint64_t start = UINT64_MAX, end = UINT64_MAX;
    if (eot && obia_element_length(eot) / 8 == info->frames) {
        memcpy(&start, obia_element_bytes(eot) + 8 * (size_t)index, 8);
        if (index + 1 < info->frames)
            memcpy(&end, obia_element_bytes(eot) + 8 * (size_t)(index + 1), 8);
        else
            end = pos;
    } else if (botlen >= 4 && botlen / 4 == info->frames) {
        start = obia_rd32le(bot + 4 * (size_t)index);
        end = index + 1 < info->frames ? obia_rd32le(bot + 4 * (size_t)(index + 1)) : pos;
    }
    if (start != UINT64_MAX) {
        /* by the offset table: the fragments from start to end */
        for (first = 0; first < nf && at[first] < start; first++)
            ;
        for (last = first; last < nf && at[last] < end; last++)
            ;
        if (first == nf || at[first] != start || last == first)
            ok = obia_error_set(err, OBIA_E_FORMAT,
                                "the offset table's entry for frame %u (%llu) does not start a "
                                "fragment",
                                index + 1, (unsigned long long)start);
    } else if (info->frames == 1) {
        first = 0, last = nf;
    } else if (nf == info->frames) {
        first = index, last = index + 1;
    } else {
        /* no table: frames start at fragments that begin a codestream */
        size_t k = 0;
        first = last = nf;
        for (size_t i = 0; i < nf; i++) {
            size_t l;
            const uint8_t *p = obia_element_fragment(px, i + 1, &l, NULL);
            if (!starts_frame(p, l))
                continue;
            if (k == index)
                first = i;
            else if (k == index + 1)
                last = i;
            k++;
        }
        if (k != info->frames || first == nf)
            ok = obia_error_set(err, OBIA_E_FORMAT,
                                "%zu fragments for %u frames, without an offset table, and %zu "
                                "of them start a codestream: cannot tell where frame %u is",
                                nf, info->frames, k, index + 1);
    }
    free(at);
    if (!ok)
        return false;
    if (last - first == 1) {
        *data = obia_element_fragment(px, first + 1, len, NULL);
        return true;
    }
    size_t total = 0;
    for (size_t i = first; i < last; i++) {
        size_t l;
        obia_element_fragment(px, i + 1, &l, NULL);
        total += l;
    }
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = first; i < last; i++) {
        size_t l;
        const uint8_t *p = obia_element_fragment(px, i + 1, &l, NULL);
        memcpy(buf + n, p, l);
        n += l;
    }
    *data = buf;
    *len = total;
    *owned = true;
    return true;
}

/* Deflated Image Frame Compression (1.2.840.10008.1.2.8.1): each frame's
 * native bytes deflated (RFC 1951; a zlib wrapper is accepted too). */
static bool deflate_decode(const uint8_t *src, size_t len, const obia_pixel_info *info,
                           uint8_t *dst, size_t dst_len, char photometric[20], obia_error *err)
{
    (void)photometric;
    uint64_t samples = (uint64_t)info->rows * info->columns * info->samples;
    uint64_t packed = info->bits_allocated == 1 ? (samples + 7) / 8 : dst_len;
    uint8_t *buf = info->bits_allocated == 1 ? malloc(packed ? packed : 1) : dst;
    if (!buf)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    bool ok = false;
    for (int wbits = -15; wbits <= 15 && !ok; wbits += 30) {   /* raw, then zlib */
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, wbits) != Z_OK)
            break;
        z.next_in = (Bytef *)src;
        z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
        z.next_out = buf;
        z.avail_out = (uInt)packed;
        int rc = inflate(&z, Z_FINISH);
        ok = (rc == Z_STREAM_END || rc == Z_BUF_ERROR || rc == Z_OK) && z.total_out == packed;
        inflateEnd(&z);
    }
    if (ok && info->bits_allocated == 1)
        for (uint64_t i = 0; i < samples; i++)
            dst[i] = (uint8_t)((buf[i / 8] >> (i % 8)) & 1);
    if (buf != dst)
        free(buf);
    return ok || obia_error_set(err, OBIA_E_FORMAT,
                                "a deflated frame does not inflate to its %llu bytes",
                                (unsigned long long)packed);
}

/* ---- decoding ---------------------------------------------------------------------------- */

static const struct {
    const char *uid;
    pixel_decoder decode;
} codecs[] = {
    {"1.2.840.10008.1.2.5", pixel_rle_decode},
    {"1.2.840.10008.1.2.8.1", deflate_decode},
    {"1.2.840.10008.1.2.4.50", pixel_jpeg_decode},
    {"1.2.840.10008.1.2.4.51", pixel_jpeg_decode},
    {"1.2.840.10008.1.2.4.53", pixel_jpeg_decode},   /* retired: spectral selection */
    {"1.2.840.10008.1.2.4.55", pixel_jpeg_decode},   /* retired: progressive */
    {"1.2.840.10008.1.2.4.57", pixel_jpeg_lossless_decode},
    {"1.2.840.10008.1.2.4.70", pixel_jpeg_lossless_decode},
    {"1.2.840.10008.1.2.4.80", pixel_jpegls_decode},
    {"1.2.840.10008.1.2.4.81", pixel_jpegls_decode},
    {"1.2.840.10008.1.2.4.90", pixel_j2k_decode},
    {"1.2.840.10008.1.2.4.91", pixel_j2k_decode},
    {"1.2.840.10008.1.2.4.201", pixel_j2k_decode},
    {"1.2.840.10008.1.2.4.202", pixel_j2k_decode},
    {"1.2.840.10008.1.2.4.203", pixel_j2k_decode},
};

/* A native frame: its bytes (1-bit data unpacked, planes interleaved). */
static bool native_frame(const obia_file *f, const obia_pixel_info *info, uint32_t index,
                         obia_frame *out, obia_error *err)
{
    bool is_float;
    const obia_element *px = pixel_element(obia_file_dataset(f), &is_float);
    const uint8_t *p = obia_element_bytes(px);
    uint64_t have = obia_element_length(px);
    uint64_t pixels = (uint64_t)info->rows * info->columns;
    uint64_t samples = pixels * info->samples;
    unsigned bps = bytes_per_sample(info);
    if (info->bits_allocated == 1) {
        uint64_t first_bit = samples * index, last_bit = first_bit + samples;
        if ((last_bit + 7) / 8 > have)
            return obia_error_set(err, OBIA_E_TRUNCATED,
                                  "Pixel Data has %llu bytes; frame %u needs %llu",
                                  (unsigned long long)have, index + 1,
                                  (unsigned long long)((last_bit + 7) / 8));
        for (uint64_t i = 0; i < samples; i++) {
            uint64_t bit = first_bit + i;
            out->data[i] = (uint8_t)((p[bit / 8] >> (bit % 8)) & 1);
        }
        return true;
    }
    /* YBR_FULL_422 native data holds two luminance samples and one pair of
     * chrominance samples for every two pixels of a row (PS3.3 C.7.6.3.1.2) */
    bool ybr422 = info->samples == 3 && strcmp(info->photometric, "YBR_FULL_422") == 0;
    if (ybr422 && info->columns % 2)
        return obia_error_set(err, OBIA_E_FORMAT, "YBR_FULL_422 with an odd number of columns");
    uint64_t frame_bytes = (ybr422 ? pixels * 2 : samples) * bps;
    uint64_t off = frame_bytes * index;
    if (off + frame_bytes > have)
        return obia_error_set(err, OBIA_E_TRUNCATED,
                              "Pixel Data has %llu bytes; frame %u needs %llu",
                              (unsigned long long)have, index + 1,
                              (unsigned long long)(off + frame_bytes));
    const uint8_t *src = p + off;
    /* A big endian file's OW value was swapped as 16-bit words when read:
     * put 8-bit samples back in order, and 32- and 64-bit ones together */
    uint8_t *unswapped = NULL;
    if (bps != 2 && obia_element_vr(px) == OBIA_VR_OW &&
        strcmp(info->transfer_syntax, OBIA_TS_EXPLICIT_BE) == 0) {
        if (!(unswapped = malloc(frame_bytes ? frame_bytes : 1)))
            return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        for (uint64_t i = 0; i < frame_bytes; i++) {
            /* byte i of a value of bps bytes: its 16-bit words reversed */
            uint64_t v = i / bps * bps, b = i % bps;
            uint64_t at = bps == 1 ? (off + i) ^ 1 : off + v + (bps - 2 - (b & ~1ull)) + (b & 1);
            unswapped[i] = at < have ? p[at] : 0;
        }
        src = unswapped;
    }
    if (ybr422) {
        for (uint64_t i = 0; i < pixels / 2; i++)
            for (unsigned k = 0; k < bps; k++) {
                const uint8_t *q = src + 4 * i * bps;   /* Y1 Y2 Cb Cr */
                uint8_t *o = out->data + 6 * i * bps;   /* Y1 Cb Cr Y2 Cb Cr */
                o[k] = q[k];
                o[bps + k] = o[4 * bps + k] = q[2 * bps + k];
                o[2 * bps + k] = o[5 * bps + k] = q[3 * bps + k];
                o[3 * bps + k] = q[bps + k];
            }
        snprintf(out->photometric, sizeof out->photometric, "YBR_FULL");
    } else if (info->samples == 3 && info->planar) {
        for (uint64_t s = 0; s < 3; s++)
            for (uint64_t i = 0; i < pixels; i++)
                memcpy(out->data + (i * 3 + s) * bps, src + (s * pixels + i) * bps, bps);
    } else {
        memcpy(out->data, src, frame_bytes);
    }
    free(unswapped);
    return true;
}

bool obia_pixel_decode(const obia_file *f, uint32_t index, obia_frame *out, obia_error *err)
{
    memset(out, 0, sizeof *out);
    obia_pixel_info info;
    if (!obia_pixel_info_get(f, &info, err))
        return false;
    if (index >= info.frames)
        return obia_error_set(err, OBIA_E_ARG, "no frame %u (the image has %u)", index + 1,
                              info.frames);
    unsigned bps = bytes_per_sample(&info);
    uint64_t len = (uint64_t)info.rows * info.columns * info.samples * bps;
    if (len > ((uint64_t)1 << 32))
        return obia_error_set(err, OBIA_E_LIMIT, "a frame of %llu bytes is too large",
                              (unsigned long long)len);
    out->rows = info.rows;
    out->columns = info.columns;
    out->samples = info.samples;
    out->bytes_per_sample = (uint16_t)bps;
    out->bits_stored = info.bits_stored;
    out->is_signed = info.is_signed;
    out->is_float = info.is_float;
    snprintf(out->photometric, sizeof out->photometric, "%s", info.photometric);
    out->len = (size_t)len;
    out->data = malloc(out->len ? out->len : 1);
    if (!out->data)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory for a frame of %zu bytes",
                              out->len);
    bool ok;
    if (!info.encapsulated) {
        ok = native_frame(f, &info, index, out, err);
    } else {
        pixel_decoder decode = NULL;
        for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
            if (strcmp(codecs[i].uid, info.transfer_syntax) == 0)
                decode = codecs[i].decode;
        const uint8_t *src;
        size_t srclen;
        bool owned = false;
        if (!decode) {
            const obia_uid_entry *u = obia_uid_lookup(info.transfer_syntax,
                                                      strlen(info.transfer_syntax));
            ok = obia_error_set(err, OBIA_E_UNSUPPORTED, "unsupported transfer syntax %s%s%s%s",
                                info.transfer_syntax, u ? " (" : "", u ? u->name : "",
                                u ? ")" : "");
        } else {
            ok = obia_pixel_encoded_frame(f, &info, index, &src, &srclen, &owned, err) &&
                 decode(src, srclen, &info, out->data, out->len, out->photometric, err);
            if (owned)
                free((void *)src);
        }
    }
    if (!ok)
        obia_frame_free(out);
    return ok;
}

void obia_frame_free(obia_frame *fr)
{
    if (!fr)
        return;
    free(fr->data);
    fr->data = NULL;
    fr->len = 0;
}
