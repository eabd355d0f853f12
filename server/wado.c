/* WADO-RS (PS3.18 10.4): studies, series and instances as
 * multipart/related application/dicom streamed from the store in their
 * stored transfer syntax; metadata as DICOM JSON with BulkDataURIs; frames
 * as stored or decoded; bulk data; rendered images and thumbnails. */
#include "handlers.h"
#include "dicomweb.h"
#include "parse.h"

#include "obia/dicom.h"
#include "obia/pixel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPLICIT_LE "1.2.840.10008.1.2.1"
/* Decoded frames one request may hold before they are sent. */
#define WADO_MAX_DECODED (256u << 20)

/* ---- finding instances --------------------------------------------------------------- */

typedef struct instance {
    char study[65], series[65], sop[65], ts[68];
    char hash[65];
    long frames;
} instance;

typedef struct instance_list {
    instance *v;
    size_t n, cap;
    bool nomem;
} instance_list;

static const char *column(int n, const char *const *names, const char *const *v, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return v[i];
    return NULL;
}

static bool instance_row(void *ctx, int n, const char *const *names, const char *const *v)
{
    instance_list *l = ctx;
    if (!obia_array_grow(&l->v, &l->cap, l->n, sizeof *l->v, 64)) {
        l->nomem = true;
        return false;
    }
    instance *in = &l->v[l->n];
    memset(in, 0, sizeof *in);
    const char *s;
    snprintf(in->study, sizeof in->study, "%s", (s = column(n, names, v, "0020000D")) ? s : "");
    snprintf(in->series, sizeof in->series, "%s", (s = column(n, names, v, "0020000E")) ? s : "");
    snprintf(in->sop, sizeof in->sop, "%s", (s = column(n, names, v, "00080018")) ? s : "");
    snprintf(in->ts, sizeof in->ts, "%s", (s = column(n, names, v, "00020010")) ? s : EXPLICIT_LE);
    if (in->sop[0])
        l->n++;
    return true;
}

/* The instances a request names (study, series or one instance), visible
 * to it, with their objects; false when answered (404, 500). */
static bool find_instances(req *r, const char *study, const char *series, const char *sop,
                           instance_list *out)
{
    memset(out, 0, sizeof *out);
    obia_qido_query q;
    memset(&q, 0, sizeof q);
    q.level = OBIA_QIDO_INSTANCE;
    q.study_uid = study;
    q.series_uid = series;
    q.public_only = r->public_only;
    if (sop) {
        q.match[0].tag = 0x00080018;
        q.match[0].value = sop;
        q.nmatch = 1;
    }
    obia_error err;
    obia_error_clear(&err);
    obia_catalog *cat = srv_catalog(r->s);
    /* pages of instances until the last */
    const long page = 5000;
    for (q.offset = 0;; q.offset += page) {
        q.limit = page;
        bool more = false;
        if (!obia_catalog_qido(cat, &q, instance_row, out, &more, &err) || out->nomem) {
            free(out->v);
            if (out->nomem)
                respond_error(r, 503, "out-of-memory", "too many instances");
            else if (err.code == OBIA_E_ARG)
                respond_error(r, 404, "not-found", "%s", err.message);
            else
                respond_obia_error(r, &err);
            return false;
        }
        if (!more)
            break;
    }
    if (out->n == 0) {
        free(out->v);
        respond_error(r, 404, "not-found", "no such %s: %s", sop ? "instance" : series ? "series" : "study",
                      sop ? sop : series ? series : study);
        return false;
    }
    for (size_t i = 0; i < out->n; i++) {
        if (!obia_catalog_image_object(cat, out->v[i].sop, out->v[i].hash, &out->v[i].frames, &err)) {
            free(out->v);
            respond_obia_error(r, &err);
            return false;
        }
    }
    return true;
}

/* ---- negotiation ------------------------------------------------------------------------- */

/* What a multipart request may be answered with, in the client's order:
 * the part type and the transfer syntax ("*": as stored; ts_given false:
 * the type's default). */
typedef struct offer {
    char type[64];
    char ts[80];
    bool ts_given;
} offer;

static size_t accept_offers(req *r, const char *const *types, size_t ntypes, offer *out,
                            size_t max)
{
    media_type ranges[16];
    size_t n = http_accept_parse(req_accept(r), ranges, 16), k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        const media_type *m = &ranges[i];
        bool any = strcmp(m->type, "*/*") == 0;
        if (!any && strcmp(m->type, "multipart/related") != 0)
            continue;
        const char *t = any ? NULL : http_media_param(m, "type");
        for (size_t j = 0; j < ntypes && k < max; j++) {
            if (t && strcasecmp(t, types[j]) != 0)
                continue;
            const char *ts = any ? NULL : http_media_param(m, "transfer-syntax");
            snprintf(out[k].type, sizeof out[k].type, "%s", types[j]);
            snprintf(out[k].ts, sizeof out[k].ts, "%s", ts ? ts : "*");
            out[k].ts_given = ts != NULL;
            k++;
            if (!t)
                break;   /* any type: the first (the resource's own) is enough */
        }
    }
    return k;
}

static void not_acceptable(req *r, const char *what)
{
    const char *accept = req_accept(r);
    respond_error(r, 406, "not-acceptable", "%s (Accept: %.200s)", what, accept ? accept : "");
}

/* ---- multipart responses streamed from files --------------------------------------------- */

typedef struct part_src {
    char *header;            /* the part's delimiter and headers */
    char *path;              /* a file, opened when its turn comes, or NULL */
    int fd;                  /* the open file, or -1 */
    const uint8_t *data;     /* or bytes (owned when own) */
    bool own;
    uint64_t offset, len;
} part_src;

typedef struct multipart_out {
    part_src *parts;
    size_t n, cap;
    char boundary[48];
    size_t i;                /* the part being sent */
    int phase;               /* 0 header, 1 body, 2 done with the part */
    uint64_t pos;            /* within the phase */
    char trailer[64];
    bool trailer_sent;
    size_t trailer_pos;
    bool nomem;
} multipart_out;

static multipart_out *mp_new(void)
{
    multipart_out *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    uint8_t rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memset(rnd, 0x5A, sizeof rnd);
    int k = snprintf(m->boundary, sizeof m->boundary, "obia-");
    for (int i = 0; i < 16; i++)
        k += snprintf(m->boundary + k, sizeof m->boundary - (size_t)k, "%02x", rnd[i]);
    snprintf(m->trailer, sizeof m->trailer, "\r\n--%s--\r\n", m->boundary);
    return m;
}

static void mp_free(void *ctx)
{
    multipart_out *m = ctx;
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->parts[i].header);
        free(m->parts[i].path);
        if (m->parts[i].fd >= 0)
            close(m->parts[i].fd);
        if (m->parts[i].own)
            free((void *)m->parts[i].data);
    }
    free(m->parts);
    free(m);
}

static part_src *mp_add(multipart_out *m, const char *content_type, const char *location)
{
    if (!obia_array_grow(&m->parts, &m->cap, m->n, sizeof *m->parts, 16)) {
        m->nomem = true;
        return NULL;
    }
    part_src *p = &m->parts[m->n];
    memset(p, 0, sizeof *p);
    p->fd = -1;
    size_t len = strlen(content_type) + (location ? strlen(location) : 0) + 200;
    if (!(p->header = malloc(len))) {
        m->nomem = true;
        return NULL;
    }
    snprintf(p->header, len, "%s--%s\r\nContent-Type: %s\r\n%s%s%s\r\n", m->n ? "\r\n" : "",
             m->boundary, content_type, location ? "Content-Location: " : "",
             location ? location : "", location ? "\r\n" : "");
    m->n++;
    return p;
}

static long mp_fill(void *ctx, uint64_t pos, char *buf, size_t max)
{
    multipart_out *m = ctx;
    (void)pos;
    size_t out = 0;
    while (out < max) {
        if (m->i >= m->n) {
            size_t tl = strlen(m->trailer);
            if (m->trailer_pos >= tl)
                break;
            size_t k = tl - m->trailer_pos < max - out ? tl - m->trailer_pos : max - out;
            memcpy(buf + out, m->trailer + m->trailer_pos, k);
            m->trailer_pos += k;
            out += k;
            continue;
        }
        part_src *p = &m->parts[m->i];
        if (m->phase == 0) {
            size_t hl = strlen(p->header);
            size_t k = hl - m->pos < max - out ? hl - m->pos : max - out;
            memcpy(buf + out, p->header + m->pos, k);
            m->pos += k;
            out += k;
            if (m->pos == hl) {
                m->phase = 1;
                m->pos = 0;
                /* one file open at a time, whatever the number of parts */
                if (p->path && p->fd < 0 && (p->fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0)
                    return -1;
            }
            continue;
        }
        uint64_t left = p->len - m->pos;
        size_t k = left < max - out ? (size_t)left : max - out;
        if (k) {
            if (p->path) {
                ssize_t got = pread(p->fd, buf + out, k, (off_t)(p->offset + m->pos));
                if (got <= 0)
                    return out ? (long)out : -1;   /* the file shrank: end the response badly */
                k = (size_t)got;
            } else {
                memcpy(buf + out, p->data + p->offset + m->pos, k);
            }
            m->pos += k;
            out += k;
        }
        if (m->pos == p->len) {
            if (p->fd >= 0) {
                close(p->fd);
                p->fd = -1;
            }
            m->i++;
            m->phase = 0;
            m->pos = 0;
        }
    }
    return (long)out;
}

static void respond_multipart(req *r, multipart_out *m, const char *type, const char *ts)
{
    if (m->nomem) {
        mp_free(m);
        respond_error(r, 503, "out-of-memory", "out of memory");
        return;
    }
    char ct[256];
    snprintf(ct, sizeof ct, "multipart/related; type=\"%s\"; boundary=%s%s%s", type, m->boundary,
             ts ? "; transfer-syntax=" : "", ts ? ts : "");
    respond_stream(r, 200, ct, mp_fill, m, mp_free);
}

/* ---- instances ----------------------------------------------------------------------------- */

static void retrieve(req *r, const char *study, const char *series, const char *sop)
{
    static const char *const types[] = {"application/dicom"};
    offer offers[16];
    size_t noffers = accept_offers(r, types, 1, offers, 16);
    if (!noffers) {
        not_acceptable(r, "instances are sent as multipart/related; type=\"application/dicom\"");
        return;
    }
    instance_list l;
    if (!find_instances(r, study, series, sop, &l))
        return;
    /* sent as stored: the first offer every instance's stored syntax meets */
    size_t pick = noffers;
    for (size_t k = 0; k < noffers && pick == noffers; k++) {
        bool all = true;
        for (size_t i = 0; all && i < l.n; i++)
            all = strcmp(offers[k].ts, "*") == 0 || strcmp(l.v[i].ts, offers[k].ts) == 0;
        if (all)
            pick = k;
    }
    if (pick == noffers) {
        char why[400];
        snprintf(why, sizeof why,
                 "instances are sent in their stored transfer syntax (%s for %s); ask for "
                 "transfer-syntax=* or that one",
                 l.v[0].ts, l.v[0].sop);
        for (size_t i = 0; i < l.n; i++)
            if (strcmp(l.v[i].ts, offers[0].ts) != 0) {
                snprintf(why, sizeof why,
                         "instance %s is stored as %s and is sent as stored (obia does not "
                         "transcode); ask for transfer-syntax=* or %s",
                         l.v[i].sop, l.v[i].ts, l.v[i].ts);
                break;
            }
        free(l.v);
        not_acceptable(r, why);
        return;
    }
    multipart_out *m = mp_new();
    if (!m) {
        free(l.v);
        respond_error(r, 503, "out-of-memory", "out of memory");
        return;
    }
    const char *base = req_base_url(r);
    for (size_t i = 0; i < l.n; i++) {
        char path[4200], ct[160], loc[600];
        struct stat st;
        if (!obia_store_path(srv_store(r->s), l.v[i].hash, path, sizeof path) ||
            stat(path, &st) != 0) {
            respond_error(r, 500, "internal", "stored object of %s cannot be read", l.v[i].sop);
            mp_free(m);
            free(l.v);
            return;
        }
        snprintf(ct, sizeof ct, "application/dicom; transfer-syntax=%s", l.v[i].ts);
        snprintf(loc, sizeof loc, "%s/dicomweb/studies/%s/series/%s/instances/%s", base,
                 l.v[i].study, l.v[i].series, l.v[i].sop);
        part_src *p = mp_add(m, ct, loc);
        if (!p || !(p->path = strdup(path))) {
            m->nomem = true;
            break;
        }
        p->len = (uint64_t)st.st_size;
    }
    free(l.v);
    respond_multipart(r, m, "application/dicom", NULL);
}

void wado_study(req *r) { retrieve(r, r->arg[0], NULL, NULL); }
void wado_series(req *r) { retrieve(r, r->arg[0], r->arg[1], NULL); }
void wado_instance(req *r) { retrieve(r, r->arg[0], r->arg[1], r->arg[2]); }

/* ---- metadata ------------------------------------------------------------------------------- */

static bool open_instance(req *r, const instance *in, obia_file **f, obia_error *err)
{
    char path[4200];
    if (!obia_store_path(srv_store(r->s), in->hash, path, sizeof path))
        return obia_error_set(err, OBIA_E_IO, "invalid object for %s", in->sop);
    return (*f = obia_file_read(path, NULL, err)) != NULL;
}

static void metadata(req *r, const char *study, const char *series, const char *sop)
{
    if (!dicomweb_accepts_json(r))
        return;
    instance_list l;
    if (!find_instances(r, study, series, sop, &l))
        return;
    obia_buf b;
    obia_buf_init(&b, 1024u << 20);
    obia_buf_append_byte(&b, '[');
    const char *base = req_base_url(r);
    obia_error err;
    obia_error_clear(&err);
    bool ok = true;
    for (size_t i = 0; ok && i < l.n; i++) {
        obia_file *f = NULL;
        ok = open_instance(r, &l.v[i], &f, &err);
        if (!ok)
            break;
        char prefix[700];
        snprintf(prefix, sizeof prefix, "%s/dicomweb/studies/%s/series/%s/instances/%s/bulkdata",
                 base, l.v[i].study, l.v[i].series, l.v[i].sop);
        obia_json_options jo;
        obia_json_options_init(&jo);
        jo.bulk_uri_prefix = prefix;
        if (i)
            obia_buf_append_byte(&b, ',');
        ok = obia_json_write_file(f, &jo, obia_sink_buf, &b, &err);
        obia_file_free(f);
    }
    free(l.v);
    if (!ok) {
        obia_buf_free(&b);
        respond_obia_error(r, &err);
        return;
    }
    obia_buf_append_str(&b, "]\n");
    respond_buf(r, 200, "application/dicom+json", &b);
}

void wado_study_metadata(req *r) { metadata(r, r->arg[0], NULL, NULL); }
void wado_series_metadata(req *r) { metadata(r, r->arg[0], r->arg[1], NULL); }
void wado_instance_metadata(req *r) { metadata(r, r->arg[0], r->arg[1], r->arg[2]); }

/* ---- frames and bulk data ---------------------------------------------------------------------- */

/* The media type of a stored encapsulated syntax (PS3.18 Table 8.7.3-2). */
static const char *image_type(const char *ts)
{
    static const struct {
        const char *prefix, *type;
    } t[] = {
        {"1.2.840.10008.1.2.4.50", "image/jpeg"}, {"1.2.840.10008.1.2.4.51", "image/jpeg"},
        {"1.2.840.10008.1.2.4.57", "image/jpeg"}, {"1.2.840.10008.1.2.4.70", "image/jpeg"},
        {"1.2.840.10008.1.2.4.80", "image/jls"},  {"1.2.840.10008.1.2.4.81", "image/jls"},
        {"1.2.840.10008.1.2.4.90", "image/jp2"},  {"1.2.840.10008.1.2.4.91", "image/jp2"},
        {"1.2.840.10008.1.2.4.201", "image/jphc"}, {"1.2.840.10008.1.2.4.202", "image/jphc"},
        {"1.2.840.10008.1.2.4.203", "image/jphc"}, {"1.2.840.10008.1.2.5", "image/x-dicom-rle"},
        {"1.2.840.10008.1.2.4.100", "video/mpeg"}, {"1.2.840.10008.1.2.4.102", "video/mp4"},
        {"1.2.840.10008.1.2.4.103", "video/mp4"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(ts, t[i].prefix) == 0)
            return t[i].type;
    return "application/octet-stream";
}

/* "1,3,5" into 0-based indexes, each within frames; false (400/404 sent). */
static bool frame_list(req *r, const char *s, long frames, uint32_t *out, size_t max, size_t *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        long v = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9' && v < 100000000)
            v = v * 10 + (*p++ - '0');
        if (p == start || (*p && *p != ',') || v < 1) {
            respond_error(r, 400, "bad-parameter", "frame list '%.80s' is not numbers from 1, comma-separated", s);
            return false;
        }
        if (v > frames) {
            respond_error(r, 404, "not-found", "frame %ld of an instance with %ld", v, frames);
            return false;
        }
        if (*n == max) {
            respond_error(r, 400, "bad-parameter", "more than %zu frames asked at once", max);
            return false;
        }
        out[(*n)++] = (uint32_t)(v - 1);
        if (*p == ',')
            p++;
    }
    if (!*n) {
        respond_error(r, 400, "bad-parameter", "no frame given");
        return false;
    }
    return true;
}

/* Holds the file while its frames are sent. */
typedef struct file_hold {
    multipart_out *m;
    obia_file *f;
} file_hold;

static void hold_free(void *ctx)
{
    file_hold *h = ctx;
    mp_free(h->m);
    obia_file_free(h->f);
    free(h);
}

static long hold_fill(void *ctx, uint64_t pos, char *buf, size_t max)
{
    return mp_fill(((file_hold *)ctx)->m, pos, buf, max);
}

/* Send m's parts, which may point into f; both are freed once sent. When
 * !ok, err is answered instead (and both freed now). */
static void respond_held(req *r, bool ok, multipart_out *m, obia_file *f, const char *type,
                         obia_error *err)
{
    file_hold *h = ok ? calloc(1, sizeof *h) : NULL;
    if (!h) {
        if (!err->code)
            obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        mp_free(m);
        obia_file_free(f);
        respond_render_error(r, err);
        return;
    }
    h->m = m;
    h->f = f;
    char ct[256];
    snprintf(ct, sizeof ct, "multipart/related; type=\"%s\"; boundary=%s", type, m->boundary);
    respond_stream(r, 200, ct, hold_fill, h, hold_free);
}

/* Add frames of f to m: as stored (encapsulated: the frame's codestream;
 * native: its bytes) or decoded to native little endian. */
static bool add_frames(multipart_out *m, const obia_file *f, const obia_pixel_info *info,
                       const uint32_t *idx, size_t n, bool decode, const char *part_type,
                       const char *base_loc, obia_error *err)
{
    const obia_element *px = obia_dataset_get(obia_file_dataset(f), 0x7FE00010);
    if (!px)
        px = obia_dataset_get(obia_file_dataset(f), 0x7FE00008);
    if (!px)
        px = obia_dataset_get(obia_file_dataset(f), 0x7FE00009);
    if (!px)
        return obia_error_set(err, OBIA_E_NOTFOUND, "the instance has no pixel data");
    for (size_t i = 0; i < n; i++) {
        char ct[200], loc[800];
        snprintf(loc, sizeof loc, "%s/frames/%u", base_loc, idx[i] + 1);
        const uint8_t *data = NULL;
        size_t len = 0;
        bool own = false;
        if (decode || (!info->encapsulated && info->bits_allocated == 1)) {
            obia_frame fr = {0};
            if (!obia_pixel_decode(f, idx[i], &fr, err))
                return false;
            data = fr.data;
            len = fr.len;
            own = true;
            snprintf(ct, sizeof ct, "%s; transfer-syntax=%s", part_type, EXPLICIT_LE);
        } else if (info->encapsulated) {
            if (!obia_pixel_encoded_frame(f, info, idx[i], &data, &len, &own, err))
                return false;
            snprintf(ct, sizeof ct, "%s; transfer-syntax=%s",
                     strcmp(part_type, "application/octet-stream") == 0 ? part_type
                                                                         : image_type(info->transfer_syntax),
                     info->transfer_syntax);
        } else {
            uint64_t fb = (uint64_t)info->rows * info->columns * info->samples *
                          (info->bits_allocated / 8);
            uint64_t off = fb * idx[i];
            if (off + fb > obia_element_length(px))
                return obia_error_set(err, OBIA_E_TRUNCATED, "frame %u ends beyond the pixel data",
                                      idx[i] + 1);
            data = obia_element_bytes(px) + off;
            len = (size_t)fb;
            snprintf(ct, sizeof ct, "%s; transfer-syntax=%s", part_type, EXPLICIT_LE);
        }
        part_src *p = mp_add(m, ct, loc);
        if (!p) {
            if (own)
                free((void *)data);
            return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        }
        p->data = data;
        p->own = own;
        p->len = len;
    }
    return true;
}

static bool one_instance(req *r, instance *in)
{
    instance_list l;
    if (!find_instances(r, r->arg[0], r->arg[1], r->arg[2], &l))
        return false;
    *in = l.v[0];
    free(l.v);
    return true;
}

/* Whether frames stored as info can be sent for an offer, and how. */
static bool frames_offer(const obia_pixel_info *info, const offer *o, bool *decode)
{
    bool octet = strcmp(o->type, "application/octet-stream") == 0;
    bool any_ts = strcmp(o->ts, "*") == 0;
    if (octet) {
        /* without a syntax, octet-stream means Explicit VR Little Endian
         * (PS3.18 8.7.3.5): encapsulated frames are decoded */
        if (!o->ts_given || strcmp(o->ts, EXPLICIT_LE) == 0) {
            *decode = info->encapsulated;
            return true;
        }
        *decode = false;
        return any_ts || strcmp(o->ts, info->transfer_syntax) == 0;
    }
    *decode = false;
    return info->encapsulated && strcmp(image_type(info->transfer_syntax), o->type) == 0 &&
           (any_ts || strcmp(o->ts, info->transfer_syntax) == 0);
}

void wado_frames(req *r)
{
    static const char *const types[] = {"application/octet-stream", "image/jpeg", "image/jls",
                                        "image/jp2", "image/jphc", "image/x-dicom-rle"};
    offer offers[16];
    size_t noffers = accept_offers(r, types, sizeof types / sizeof types[0], offers, 16);
    if (!noffers) {
        not_acceptable(r, "frames are sent as multipart/related; type=\"application/octet-stream\" "
                          "or the image type of their stored encoding");
        return;
    }
    instance in;
    if (!one_instance(r, &in))
        return;
    uint32_t idx[1024];
    size_t n;
    if (!frame_list(r, r->arg[3], in.frames > 0 ? in.frames : 1, idx, 1024, &n))
        return;
    obia_file *f = NULL;
    obia_error err;
    obia_error_clear(&err);
    obia_pixel_info info;
    if (!open_instance(r, &in, &f, &err) || !obia_pixel_info_get(f, &info, &err)) {
        obia_file_free(f);
        respond_render_error(r, &err);
        return;
    }
    bool decode = false;
    size_t pick = noffers;
    for (size_t k = 0; k < noffers && pick == noffers; k++)
        if (frames_offer(&info, &offers[k], &decode))
            pick = k;
    if (pick == noffers) {
        char why[300];
        snprintf(why, sizeof why,
                 "the frames are stored as %s (%s): they are sent as stored, as "
                 "application/octet-stream with transfer-syntax=* or %s, or decoded (%s)",
                 info.transfer_syntax, info.encapsulated ? image_type(info.transfer_syntax) : "native",
                 info.transfer_syntax, EXPLICIT_LE);
        obia_file_free(f);
        not_acceptable(r, why);
        return;
    }
    const char *type = offers[pick].type;
    /* what the frames will take in memory before they are sent */
    uint64_t fbytes = (uint64_t)info.rows * info.columns * info.samples *
                      (info.bits_allocated > 8 ? (info.bits_allocated + 7) / 8 : 1);
    if ((decode || (!info.encapsulated && info.bits_allocated == 1)) &&
        fbytes * n > WADO_MAX_DECODED) {
        obia_file_free(f);
        respond_error(r, 413, "too-large",
                      "%zu decoded frames of %llu bytes are more than %u MiB at once; ask fewer", n,
                      (unsigned long long)fbytes, (unsigned)(WADO_MAX_DECODED >> 20));
        return;
    }
    multipart_out *m = mp_new();
    char base_loc[700];
    snprintf(base_loc, sizeof base_loc, "%s/dicomweb/studies/%s/series/%s/instances/%s",
             req_base_url(r), in.study, in.series, in.sop);
    bool ok = m && add_frames(m, f, &info, idx, n, decode, type, base_loc, &err);
    respond_held(r, ok, m, f, type, &err);
}

/* BulkDataURI paths (7FE00010, 00540016/0/00181072) as element paths. */
static bool bulk_path(const char *rest, char *out, size_t cap)
{
    size_t k = 0;
    bool tag = true;
    for (const char *p = rest; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (tag) {
            if (n != 8 || strspn(p, "0123456789ABCDEFabcdef") < 8)
                return false;
            k += (size_t)snprintf(out + k, cap > k ? cap - k : 0, "%s%.8s", k ? "." : "", p);
        } else {
            if (n == 0 || n > 6 || strspn(p, "0123456789") < n)
                return false;
            k += (size_t)snprintf(out + k, cap > k ? cap - k : 0, "[%.*s]", (int)n, p);
        }
        if (k >= cap)
            return false;
        tag = !tag;
        p += n;
        if (*p == '/')
            p++;
    }
    return !tag && k > 0;   /* ends with a tag */
}

void wado_bulkdata(req *r)
{
    static const char *const types[] = {"application/octet-stream"};
    offer offers[4];
    if (!accept_offers(r, types, 1, offers, 4)) {
        not_acceptable(r, "bulk data is sent as multipart/related; type=\"application/octet-stream\"");
        return;
    }
    const char *type = types[0];
    char path[600];
    if (!bulk_path(r->arg[3], path, sizeof path)) {
        respond_error(r, 404, "not-found", "no bulk data %.100s (tags and item numbers expected)",
                      r->arg[3]);
        return;
    }
    instance in;
    if (!one_instance(r, &in))
        return;
    obia_file *f = NULL;
    obia_error err;
    obia_error_clear(&err);
    if (!open_instance(r, &in, &f, &err)) {
        respond_obia_error(r, &err);
        return;
    }
    const obia_element *el = obia_dataset_find(obia_file_dataset(f), path, &err);
    if (!el || (!obia_vr_is_binary(obia_element_vr(el)) && !obia_element_is_encapsulated(el))) {
        obia_file_free(f);
        respond_error(r, 404, "not-found", "no bulk data at %s", r->arg[3]);
        return;
    }
    multipart_out *m = mp_new();
    char base_loc[700];
    snprintf(base_loc, sizeof base_loc, "%s/dicomweb/studies/%s/series/%s/instances/%s",
             req_base_url(r), in.study, in.series, in.sop);
    bool ok = m != NULL;
    if (ok && obia_element_is_encapsulated(el)) {
        /* encapsulated pixel data: its frames as stored */
        obia_pixel_info info;
        ok = obia_pixel_info_get(f, &info, &err);
        uint32_t *idx = ok ? calloc(info.frames ? info.frames : 1, sizeof *idx) : NULL;
        for (uint32_t i = 0; idx && i < info.frames; i++)
            idx[i] = i;
        ok = ok && idx && add_frames(m, f, &info, idx, info.frames, false, type, base_loc, &err);
        free(idx);
    } else if (ok) {
        part_src *p = mp_add(m, "application/octet-stream", NULL);
        ok = p != NULL;
        if (p) {
            p->data = obia_element_bytes(el);
            p->len = obia_element_length(el);
        }
    }
    respond_held(r, ok, m, f, "application/octet-stream", &err);
}

/* ---- rendered and thumbnails ---------------------------------------------------------------------- */

/* Rendered parameters (PS3.18 8.3.5): viewport=vw,vh, window=c,w[,fn],
 * quality; the type by Accept (image/jpeg unless image/png comes first). */
static bool rendered_params(req *r, long frames, image_req *ir)
{
    memset(ir, 0, sizeof *ir);
    ir->frame = frames > 1 ? frames / 2 + 1 : 1;
    ir->size = 0;
    ir->quality = 90;
    for (size_t i = 0; i < r->nquery; i++) {
        const char *name = r->query[i].name, *v = r->query[i].value;
        char *end;
        if (strcmp(name, "viewport") == 0) {
            long w = strtol(v, &end, 10), h = w;
            if (*end == ',')
                h = strtol(end + 1, &end, 10);
            if (end == v || (*end && *end != ',') || w < 1 || h < 1 || w > 8192 || h > 8192) {
                respond_error(r, 400, "bad-parameter", "viewport must be WIDTH,HEIGHT, not '%.40s'", v);
                return false;
            }
            ir->size = w > h ? w : h;
        } else if (strcmp(name, "window") == 0) {
            ir->center = strtod(v, &end);
            if (end == v || *end != ',' || (ir->width = strtod(end + 1, &end), *end && *end != ',') ||
                !(ir->width > 0) || !(ir->width < 1e9) || !(ir->center > -1e9 && ir->center < 1e9)) {
                respond_error(r, 400, "bad-parameter", "window must be CENTER,WIDTH[,FUNCTION], not '%.40s'", v);
                return false;
            }
            ir->window = true;
        } else if (strcmp(name, "quality") == 0) {
            ir->quality = strtol(v, &end, 10);
            if (end == v || *end || ir->quality < 1 || ir->quality > 100) {
                respond_error(r, 400, "bad-parameter", "quality must be from 1 to 100, not '%.40s'", v);
                return false;
            }
        } else if (strcmp(name, "size") == 0) {
            ir->size = strtol(v, &end, 10);
            if (end == v || *end || ir->size < 1 || ir->size > 8192) {
                respond_error(r, 400, "bad-parameter", "size must be from 1 to 8192, not '%.40s'", v);
                return false;
            }
        }
    }
    media_type ranges[16];
    size_t n = http_accept_parse(req_accept(r), ranges, 16);
    for (size_t i = 0; i < n; i++) {
        if (http_media_match(&ranges[i], "image/jpeg")) {
            ir->jpeg = true;
            return true;
        }
        if (http_media_match(&ranges[i], "image/png")) {
            ir->jpeg = false;
            return true;
        }
    }
    respond_error(r, 406, "not-acceptable", "rendered images are image/jpeg or image/png");
    return false;
}

static void render_instance(req *r, const instance *in, long frame, const image_req *given)
{
    image_req ir;
    if (given)
        ir = *given;
    else if (!rendered_params(r, in->frames, &ir))
        return;
    if (frame > 0)
        ir.frame = frame;
    else if (given)
        ir.frame = in->frames > 1 ? in->frames / 2 + 1 : 1;
    obia_buf out;
    obia_buf_init(&out, 512u << 20);
    obia_error err;
    obia_error_clear(&err);
    if (!api_render(r, in->hash, &ir, &out, &err)) {
        obia_buf_free(&out);
        respond_render_error(r, &err);
        return;
    }
    req_add_header(r, "Vary", "Accept");
    respond_buf(r, 200, ir.jpeg ? "image/jpeg" : "image/png", &out);
}

/* The middle instance of a series or a study's first series. */
static bool middle_instance(req *r, const char *study, const char *series, instance *in)
{
    instance_list l;
    if (!find_instances(r, study, series, NULL, &l))
        return false;
    size_t first_end = 0;
    while (first_end < l.n && strcmp(l.v[first_end].series, l.v[0].series) == 0)
        first_end++;
    *in = l.v[first_end / 2];
    free(l.v);
    return true;
}

void wado_study_rendered(req *r)
{
    instance in;
    if (middle_instance(r, r->arg[0], NULL, &in))
        render_instance(r, &in, 0, NULL);
}

void wado_series_rendered(req *r)
{
    instance in;
    if (middle_instance(r, r->arg[0], r->arg[1], &in))
        render_instance(r, &in, 0, NULL);
}

void wado_instance_rendered(req *r)
{
    instance in;
    if (one_instance(r, &in))
        render_instance(r, &in, 0, NULL);
}

void wado_frames_rendered(req *r)
{
    instance in;
    if (!one_instance(r, &in))
        return;
    uint32_t idx[1];
    size_t n;
    if (!frame_list(r, r->arg[3], in.frames > 0 ? in.frames : 1, idx, 1, &n))
        return;
    render_instance(r, &in, (long)idx[0] + 1, NULL);
}

static void thumbnail_of(req *r, const instance *in, bool series)
{
    image_req ir;
    if (!rendered_params(r, 1, &ir))
        return;
    /* PNG whenever the client takes it */
    media_type ranges[16];
    size_t n = http_accept_parse(req_accept(r), ranges, 16);
    for (size_t i = 0; i < n; i++)
        if (http_media_match(&ranges[i], "image/png"))
            ir.jpeg = false;
    if (ir.jpeg || ir.size || ir.window) {
        /* a JPEG or another size than the stored thumbnails: rendered now */
        if (!ir.size)
            ir.size = 128;
        render_instance(r, in, 0, &ir);
        return;
    }
    /* the stored PNG thumbnail */
    req_add_header(r, "Vary", "Accept");
    r->arg[0] = series ? in->series : in->sop;
    api_series_thumbnail(r);
}

void wado_study_thumbnail(req *r)
{
    instance in;
    if (middle_instance(r, r->arg[0], NULL, &in))
        thumbnail_of(r, &in, true);
}

void wado_series_thumbnail(req *r)
{
    instance in;
    if (middle_instance(r, r->arg[0], r->arg[1], &in))
        thumbnail_of(r, &in, true);
}

void wado_instance_thumbnail(req *r)
{
    instance in;
    if (one_instance(r, &in))
        thumbnail_of(r, &in, false);
}
