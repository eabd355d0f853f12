/* JPEG 2000 (Part 1) and High-Throughput JPEG 2000 (Part 15) frames,
 * lossless and lossy, decoded with OpenJPEG 2.5 from memory: a bare
 * codestream (FF4F FF51) or a JP2 file (signature box), found by magic.
 *
 * OpenJPEG's messages go to a handler that keeps the first error for
 * obia_error; nothing is printed. Its strict mode (the default) makes a
 * truncated codestream an error.
 *
 * Values: the components (dx = dy = 1, the header's size and count) are
 * interleaved into the container of Bits Allocated, little endian. A
 * precision other than Bits Stored is accepted while it fits in the
 * container (many encoders write 12-bit data at 16 bits, or the reverse).
 * Signedness follows Pixel Representation: an unsigned codestream for
 * signed pixels is read as two's complement of its width, as pydicom's
 * J2K corrections do; a signed codestream for unsigned pixels keeps its bit
 * pattern. Lossy streams (a lossy transfer syntax or the 9-7 wavelet) are
 * clamped to the range of Bits Stored. When the codestream used the
 * multiple-component transform, OpenJPEG undid it, so YBR_ICT and YBR_RCT
 * become RGB. Memory: the codec, stream and image are freed before
 * returning. */
#include "codec.h"

#include <stdio.h>
#include <string.h>

#include <openjpeg.h>

typedef struct memory_stream {
    const uint8_t *data;
    size_t len, pos;
} memory_stream;

static OPJ_SIZE_T stream_read(void *buf, OPJ_SIZE_T n, void *user)
{
    memory_stream *m = user;
    size_t left = m->len - m->pos;
    if (left == 0)
        return (OPJ_SIZE_T)-1;
    if (n > left)
        n = left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return n;
}

static OPJ_OFF_T stream_skip(OPJ_OFF_T n, void *user)
{
    memory_stream *m = user;
    if (n < 0) {
        if ((uint64_t)-n > m->pos)
            return -1;
        m->pos -= (size_t)-n;
        return n;
    }
    if ((uint64_t)n > m->len - m->pos)
        n = (OPJ_OFF_T)(m->len - m->pos);
    m->pos += (size_t)n;
    return n;
}

static OPJ_BOOL stream_seek(OPJ_OFF_T n, void *user)
{
    memory_stream *m = user;
    if (n < 0 || (uint64_t)n > m->len)
        return OPJ_FALSE;
    m->pos = (size_t)n;
    return OPJ_TRUE;
}

typedef struct messages {
    char first_error[256];
} messages;

static void on_error(const char *msg, void *user)
{
    messages *m = user;
    if (m->first_error[0] != '\0')
        return;
    snprintf(m->first_error, sizeof(m->first_error), "%s", msg);
    size_t n = strlen(m->first_error);
    while (n > 0 && (m->first_error[n - 1] == '\n' || m->first_error[n - 1] == ' '))
        m->first_error[--n] = '\0';
}

static void on_quiet(const char *msg, void *user) {}

static const uint8_t jp2_signature[12] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50,
                                          0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A};
static const uint8_t j2k_soc_siz[4] = {0xFF, 0x4F, 0xFF, 0x51};

/* The transfer syntaxes that only carry reversible coding. */
static bool lossless_only(const char *ts)
{
    return strcmp(ts, "1.2.840.10008.1.2.4.90") == 0 ||
           strcmp(ts, "1.2.840.10008.1.2.4.201") == 0 ||
           strcmp(ts, "1.2.840.10008.1.2.4.202") == 0;
}

/* The codestream of a JP2 file: the contents of its top-level 'jp2c' box
 * (ISO/IEC 15444-1 I.5.4), or NULL. */
static const uint8_t *jp2_codestream(const uint8_t *p, size_t len, size_t *cs_len)
{
    size_t at = 0;
    while (len - at >= 8) {
        uint64_t box = obia_rd32be(p + at);
        size_t header = 8;
        if (box == 1) {
            if (len - at < 16)
                return NULL;
            box = (uint64_t)obia_rd32be(p + at + 8) << 32 | obia_rd32be(p + at + 12);
            header = 16;
        } else if (box == 0) {
            box = len - at;
        }
        if (box < header || box > len - at)
            return NULL;
        if (memcmp(p + at + 4, "jp2c", 4) == 0) {
            *cs_len = (size_t)box - header;
            return p + at + header;
        }
        at += (size_t)box;
    }
    return NULL;
}

/* Checks on the SIZ marker segment, which follows SOC, made before
 * OpenJPEG reads it: a few bytes can declare tens of thousands of tiny
 * tiles, for which opj_read_header() sets up hundreds of megabytes (634 MB
 * for 255 x 255 tiles of one pixel). A grid of tiles smaller than 64 x 64
 * pixels is refused. */
static bool check_tiles(const uint8_t *cs, size_t len, obia_error *err)
{
    if (!cs || len < 4 + 38 || memcmp(cs, j2k_soc_siz, sizeof j2k_soc_siz) != 0)
        return true;   /* OpenJPEG says what is wrong */
    const uint8_t *siz = cs + 6;   /* after SOC, the marker and Lsiz: Rsiz */
    uint32_t x1 = obia_rd32be(siz + 2), y1 = obia_rd32be(siz + 6);
    uint32_t tw = obia_rd32be(siz + 18), th = obia_rd32be(siz + 22);
    uint32_t tx0 = obia_rd32be(siz + 26), ty0 = obia_rd32be(siz + 30);
    if (tw == 0 || th == 0 || tx0 >= x1 || ty0 >= y1)
        return true;
    uint64_t tiles = (uint64_t)((x1 - tx0) / tw + ((x1 - tx0) % tw != 0)) *
                     ((y1 - ty0) / th + ((y1 - ty0) % th != 0));
    if (tiles > 1 && (uint64_t)tw * th < 64 * 64)
        return obia_error_set(err, OBIA_E_UNSUPPORTED,
                              "JPEG 2000: %llu tiles of %u x %u pixels; tiles smaller than "
                              "64 x 64 pixels are not decoded",
                              (unsigned long long)tiles, tw, th);
    return true;
}

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

static bool failed(obia_error *err, const messages *msgs, const char *what)
{
    if (msgs->first_error[0])
        return obia_error_set(err, OBIA_E_FORMAT, "JPEG 2000: %s: %s", what, msgs->first_error);
    return obia_error_set(err, OBIA_E_FORMAT, "JPEG 2000: %s failed", what);
}

bool pixel_j2k_decode(const uint8_t *src, size_t len, const obia_pixel_info *info, uint8_t *dst,
                      size_t dst_len, char photometric[20], obia_error *err)
{
    unsigned bps;
    if (!pixel_check_output(info, dst_len, 4, "JPEG 2000", &bps, err))
        return false;

    OPJ_CODEC_FORMAT format;
    if (len >= sizeof(jp2_signature) && memcmp(src, jp2_signature, sizeof(jp2_signature)) == 0)
        format = OPJ_CODEC_JP2;
    else if (len >= sizeof(j2k_soc_siz) && memcmp(src, j2k_soc_siz, sizeof(j2k_soc_siz)) == 0)
        format = OPJ_CODEC_J2K;
    else
        return obia_error_set(err, OBIA_E_FORMAT,
                              "JPEG 2000: the frame is neither a codestream (FF4F FF51) nor a "
                              "JP2 file (signature box)");

    size_t cs_len = len;
    const uint8_t *cs = format == OPJ_CODEC_JP2 ? jp2_codestream(src, len, &cs_len) : src;
    if (!check_tiles(cs, cs_len, err))
        return false;

    bool ok = false;
    messages msgs = {{0}};
    memory_stream mem = {src, len, 0};
    opj_image_t *image = NULL;
    opj_codestream_info_v2_t *cstr = NULL;
    opj_stream_t *stream = NULL;
    opj_codec_t *codec = opj_create_decompress(format);
    if (!codec)
        return obia_error_set(err, OBIA_E_NOMEM, "JPEG 2000: cannot create a decoder");
    opj_set_error_handler(codec, on_error, &msgs);
    opj_set_warning_handler(codec, on_quiet, NULL);
    opj_set_info_handler(codec, on_quiet, NULL);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(codec, &params)) {
        failed(err, &msgs, "decoder setup");
        goto out;
    }

    stream = opj_stream_create(len < OPJ_J2K_STREAM_CHUNK_SIZE ? len : OPJ_J2K_STREAM_CHUNK_SIZE,
                               OPJ_TRUE);
    if (!stream) {
        obia_error_set(err, OBIA_E_NOMEM, "JPEG 2000: cannot create a stream");
        goto out;
    }
    opj_stream_set_user_data(stream, &mem, NULL);
    opj_stream_set_user_data_length(stream, len);
    opj_stream_set_read_function(stream, stream_read);
    opj_stream_set_skip_function(stream, stream_skip);
    opj_stream_set_seek_function(stream, stream_seek);

    if (!opj_read_header(stream, codec, &image) || !image) {
        failed(err, &msgs, "header");
        goto out;
    }
    if (image->x1 < image->x0 || image->y1 < image->y0 || image->x1 - image->x0 != info->columns ||
        image->y1 - image->y0 != info->rows) {
        obia_error_set(err, OBIA_E_FORMAT,
                       "JPEG 2000: the codestream is %u x %u pixels (columns x rows) but the "
                       "header says %u x %u",
                       image->x1 - image->x0, image->y1 - image->y0, info->columns, info->rows);
        goto out;
    }
    if (image->numcomps != info->samples) {
        obia_error_set(err, OBIA_E_FORMAT,
                       "JPEG 2000: the codestream has %u components but Samples per Pixel is %u",
                       image->numcomps, info->samples);
        goto out;
    }
    for (unsigned c = 0; c < image->numcomps; c++) {
        const opj_image_comp_t *comp = &image->comps[c];
        if (comp->dx != 1 || comp->dy != 1) {
            obia_error_set(err, OBIA_E_UNSUPPORTED,
                           "JPEG 2000: component %u is subsampled (%u x %u); DICOM pixels are "
                           "not",
                           c, comp->dx, comp->dy);
            goto out;
        }
        if (comp->prec < 1 || comp->prec > 8u * bps || comp->prec > 31 ||
            (info->bits_allocated >= 8 && comp->prec > info->bits_allocated)) {
            obia_error_set(err, OBIA_E_FORMAT,
                           "JPEG 2000: component %u has %u-bit %s samples, which do not fit in "
                           "%u bits allocated",
                           c, comp->prec, comp->sgnd ? "signed" : "unsigned",
                           info->bits_allocated);
            goto out;
        }
    }

    bool mct = false, irreversible = false;
    cstr = opj_get_cstr_info(codec);
    if (!cstr) {
        obia_error_set(err, OBIA_E_NOMEM, "JPEG 2000: no memory for the codestream description");
        goto out;
    }
    mct = cstr->m_default_tile_info.mct != 0;
    for (unsigned c = 0; c < cstr->nbcomps && cstr->m_default_tile_info.tccp_info; c++)
        if (cstr->m_default_tile_info.tccp_info[c].qmfbid == 0)
            irreversible = true;

    if (!opj_decode(codec, stream, image) || !opj_end_decompress(codec, stream)) {
        failed(err, &msgs, "data");
        goto out;
    }
    /* Again after decoding: a JP2 palette (pclr) or channel definition
     * (cdef) box changes the components. */
    if (image->numcomps != info->samples) {
        obia_error_set(err, OBIA_E_FORMAT,
                       "JPEG 2000: the image decoded to %u components but Samples per Pixel is "
                       "%u",
                       image->numcomps, info->samples);
        goto out;
    }
    for (unsigned c = 0; c < image->numcomps; c++) {
        const opj_image_comp_t *comp = &image->comps[c];
        if (!comp->data || comp->w != info->columns || comp->h != info->rows ||
            comp->prec < 1 || comp->prec > 8u * bps || comp->prec > 31) {
            obia_error_set(err, OBIA_E_FORMAT,
                           "JPEG 2000: component %u decoded to %u x %u pixels of %u bits, not "
                           "%u x %u",
                           c, comp->w, comp->h, comp->prec, info->columns, info->rows);
            goto out;
        }
    }

    /* The range of Bits Stored, for clamping lossy values. */
    unsigned bs = info->bits_stored;
    int64_t lo = info->is_signed ? -((int64_t)1 << (bs - 1)) : 0;
    int64_t hi = info->is_signed ? ((int64_t)1 << (bs - 1)) - 1 : ((int64_t)1 << bs) - 1;
    bool clamp = irreversible || !lossless_only(info->transfer_syntax);
    size_t pixels = (size_t)info->rows * info->columns;
    for (unsigned c = 0; c < image->numcomps; c++) {
        const opj_image_comp_t *comp = &image->comps[c];
        const OPJ_INT32 *in = comp->data;
        uint8_t *out = dst + (size_t)c * bps;
        size_t step = (size_t)info->samples * bps;
        /* Unsigned codestream, signed pixels: two's complement of the narrower
         * of the two widths (right whether the encoder kept the stored bits
         * or sign-extended them to the container). */
        unsigned width = comp->prec < bs ? comp->prec : bs;
        bool reinterpret = info->is_signed && !comp->sgnd;
        int64_t sign = (int64_t)1 << (width - 1), mask = ((int64_t)1 << width) - 1;
        for (size_t i = 0; i < pixels; i++, out += step) {
            int64_t v = in[i];
            if (reinterpret)
                v = ((v & mask) ^ sign) - sign;
            if (clamp)
                v = v < lo ? lo : v > hi ? hi : v;
            put_sample(out, bps, (int32_t)v);
        }
    }
    if (mct && info->samples == 3 &&
        (strcmp(info->photometric, "YBR_ICT") == 0 || strcmp(info->photometric, "YBR_RCT") == 0))
        snprintf(photometric, 20, "RGB");
    ok = true;

out:
    if (cstr)
        opj_destroy_cstr_info(&cstr);
    if (image)
        opj_image_destroy(image);
    if (stream)
        opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    return ok;
}
