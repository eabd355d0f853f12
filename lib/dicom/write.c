/* Part 10 writer: Explicit/Implicit VR Little Endian, Deflated, or the
 * source's encapsulated syntax for compressed pixel data. */
#include "dicom_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

bool obia_sink_buf(void *buf, const void *data, size_t len)
{
    return obia_buf_append(buf, data, len);
}

static bool null_sink(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return true;
}

bool obia_sink_stdio(void *fp, const void *data, size_t len)
{
    return fwrite(data, 1, len, fp) == len;
}

/* A DICOMDIR's records point at each other by the byte offset of their item
 * in the file (PS3.3 F.3.2.1).  Rewriting the file moves the items, so the
 * writer maps each old item offset to the new one. */
typedef struct offset_pair {
    uint64_t old_off;
    uint64_t new_off;
} offset_pair;

typedef struct offset_map {
    offset_pair *pairs;
    size_t n;
    size_t cap;
} offset_map;

typedef struct writer {
    obia_sink_fn sink;
    void *ctx;
    uint8_t buf[65536];
    size_t n;
    uint64_t pos;          /* bytes put so far, before any deflate */
    bool explicit_vr;
    z_stream *z;
    obia_error *err;
    bool failed;
    offset_map *record;    /* pass 1: collect directory record positions */
    const offset_map *remap; /* pass 2: rewrite offset values */
} writer;

#define TAG_DIRECTORY_RECORD_SEQ OBIA_TAG(0x0004, 0x1220)

static bool is_dicomdir_offset_tag(uint32_t tag)
{
    return tag == OBIA_TAG(0x0004, 0x1200) || tag == OBIA_TAG(0x0004, 0x1202) ||
           tag == OBIA_TAG(0x0004, 0x1400) || tag == OBIA_TAG(0x0004, 0x1420) ||
           tag == OBIA_TAG(0x0004, 0x1504);
}

static int pair_cmp(const void *a, const void *b)
{
    uint64_t x = ((const offset_pair *)a)->old_off, y = ((const offset_pair *)b)->old_off;
    return x < y ? -1 : x > y;
}

static bool map_lookup(const offset_map *m, uint64_t old_off, uint64_t *new_off)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->pairs[mid].old_off < old_off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->n && m->pairs[lo].old_off == old_off) {
        *new_off = m->pairs[lo].new_off;
        return true;
    }
    return false;
}

static bool raw_out(writer *w, const void *p, size_t len)
{
    if (!w->z) {
        if (!w->sink(w->ctx, p, len)) {
            w->failed = true;
            return obia_error_set(w->err, OBIA_E_IO, "cannot write the output");
        }
        return true;
    }
    uint8_t out[65536];
    w->z->next_in = (Bytef *)p;
    w->z->avail_in = (uInt)len;
    while (w->z->avail_in) {
        w->z->next_out = out;
        w->z->avail_out = sizeof out;
        if (deflate(w->z, Z_NO_FLUSH) == Z_STREAM_ERROR)
            return obia_error_set(w->err, OBIA_E_IO, "deflate failed");
        size_t have = sizeof out - w->z->avail_out;
        if (have && !w->sink(w->ctx, out, have)) {
            w->failed = true;
            return obia_error_set(w->err, OBIA_E_IO, "cannot write the output");
        }
    }
    return true;
}

static bool flush(writer *w)
{
    if (w->n == 0)
        return !w->failed;
    bool ok = raw_out(w, w->buf, w->n);
    w->n = 0;
    return ok;
}

static bool put(writer *w, const void *p, size_t len)
{
    if (w->failed)
        return false;
    w->pos += len;
    if (len > sizeof w->buf / 2) {
        return flush(w) && raw_out(w, p, len);
    }
    if (w->n + len > sizeof w->buf && !flush(w))
        return false;
    memcpy(w->buf + w->n, p, len);
    w->n += len;
    return true;
}

static bool put_header(writer *w, uint32_t tag, obia_vr vr, uint32_t len, bool explicit_vr)
{
    uint8_t h[12];
    obia_wr16le(h, OBIA_GROUP(tag));
    obia_wr16le(h + 2, OBIA_ELEM(tag));
    if (!explicit_vr || OBIA_GROUP(tag) == 0xFFFE) {
        obia_wr32le(h + 4, len);
        return put(w, h, 8);
    }
    const char *name = obia_vr_name(vr);
    h[4] = (uint8_t)name[0];
    h[5] = (uint8_t)name[1];
    if (obia_vr_long_length(vr)) {
        h[6] = h[7] = 0;
        obia_wr32le(h + 8, len);
        return put(w, h, 12);
    }
    obia_wr16le(h + 6, (uint16_t)len);
    return put(w, h, 8);
}

static bool put_dataset(writer *w, const obia_dataset *ds, bool top);

static bool put_element(writer *w, const obia_element *el, bool top)
{
    obia_vr vr = (obia_vr)el->vr;
    if (vr == OBIA_VR_NONE || vr >= OBIA_VR_OB_OW)
        vr = OBIA_VR_UN;
    if (vr == OBIA_VR_SQ) {
        if (!put_header(w, el->tag, vr, OBIA_UNDEFINED_LENGTH, w->explicit_vr))
            return false;
        bool records = top && el->tag == TAG_DIRECTORY_RECORD_SEQ && w->record;
        for (uint32_t i = 0; i < el->nchild; i++) {
            const obia_dataset *item = el->u.items[i];
            if (records && item->offset) {
                offset_map *m = w->record;
                if (m->n == m->cap) {
                    size_t cap = m->cap ? m->cap * 2 : 64;
                    offset_pair *np = realloc(m->pairs, cap * sizeof *np);
                    if (!np) {
                        w->failed = true;
                        return obia_error_set(w->err, OBIA_E_NOMEM, "out of memory");
                    }
                    m->pairs = np;
                    m->cap = cap;
                }
                m->pairs[m->n].old_off = item->offset;
                m->pairs[m->n].new_off = w->pos;
                m->n++;
            }
            if (!put_header(w, OBIA_TAG_ITEM, OBIA_VR_NONE, OBIA_UNDEFINED_LENGTH, false) ||
                !put_dataset(w, el->u.items[i], false) ||
                !put_header(w, OBIA_TAG_ITEM_DELIM, OBIA_VR_NONE, 0, false))
                return false;
        }
        return put_header(w, OBIA_TAG_SEQ_DELIM, OBIA_VR_NONE, 0, false);
    }
    if (el->flags & EL_ENCAP) {
        if (!w->explicit_vr) {
            /* read back, an undefined length without a VR is a sequence */
            w->failed = true;
            return obia_error_set(w->err, OBIA_E_UNSUPPORTED,
                                  "(%04X,%04X) holds encapsulated fragments, which Implicit VR "
                                  "Little Endian cannot carry",
                                  OBIA_GROUP(el->tag), OBIA_ELEM(el->tag));
        }
        if (!put_header(w, el->tag, vr == OBIA_VR_OW ? OBIA_VR_OW : OBIA_VR_OB,
                        OBIA_UNDEFINED_LENGTH, w->explicit_vr))
            return false;
        for (uint32_t i = 0; i < el->nchild; i++) {
            const obia_fragment *fr = &el->u.frags[i];
            bool odd = fr->len & 1;
            if (!put_header(w, OBIA_TAG_ITEM, OBIA_VR_NONE, fr->len + odd, false) ||
                !put(w, fr->data, fr->len) || (odd && !put(w, "", 1)))
                return false;
        }
        return put_header(w, OBIA_TAG_SEQ_DELIM, OBIA_VR_NONE, 0, false);
    }
    uint32_t len = el->length;
    bool odd = len & 1;
    uint32_t padded = len + odd;
    uint8_t pad = obia_vr_pad(vr);   /* the value's own padding, even if sent as UN */
    /* A value too long for a 16-bit length field is written as UN (PS3.5 6.2.2) */
    if (w->explicit_vr && !obia_vr_long_length(vr) && padded > 0xFFFF)
        vr = OBIA_VR_UN;
    if (w->remap && len == 4 && is_dicomdir_offset_tag(el->tag)) {
        uint64_t to;
        uint32_t from = obia_rd32le(el->value);
        if (from && map_lookup(w->remap, from, &to) && to <= 0xFFFFFFFFu) {
            uint8_t v[4];
            obia_wr32le(v, (uint32_t)to);
            return put_header(w, el->tag, vr, 4, w->explicit_vr) && put(w, v, 4);
        }
    }
    if (!put_header(w, el->tag, vr, padded, w->explicit_vr) || (len && !put(w, el->value, len)))
        return false;
    if (odd)
        return put(w, &pad, 1);
    (void)top;
    return true;
}

static bool put_dataset(writer *w, const obia_dataset *ds, bool top)
{
    for (uint32_t i = 0; i < ds->n; i++) {
        const obia_element *el = &ds->elems[i];
        /* group lengths are retired and would be wrong after edits; File
         * Meta belongs in its own header */
        if (OBIA_ELEM(el->tag) == 0 || (top && OBIA_GROUP(el->tag) == 0x0002))
            continue;
        if (!put_element(w, el, top))
            return false;
    }
    return true;
}

static bool add_uid(obia_dataset *m, uint32_t tag, const char *uid, obia_error *err)
{
    return obia_dataset_set_bytes(m, tag, OBIA_VR_UI, uid, strlen(uid), err);
}

static bool copy_element(obia_dataset *m, const obia_dataset *from, uint32_t tag, obia_vr vr,
                         obia_error *err)
{
    const obia_element *el = from ? obia_dataset_get(from, tag) : NULL;
    if (!el || el->vr == OBIA_VR_SQ || (el->flags & EL_ENCAP))
        return true;
    return obia_dataset_set_bytes(m, tag, vr, el->value ? el->value : (const uint8_t *)"",
                                  el->length, err);
}

bool obia_write_part10(const obia_dataset *ds, const obia_dataset *meta, const char *source_ts,
                       obia_write_syntax syntax, obia_sink_fn sink, void *ctx, obia_error *err)
{
    const obia_element *px = obia_dataset_get(ds, OBIA_TAG_PIXEL_DATA);
    bool encapsulated = px && (px->flags & EL_ENCAP);
    const obia_element *msc = meta ? obia_dataset_get(meta, OBIA_TAG(2, 2)) : NULL;
    bool dicomdir = obia_dataset_get(ds, TAG_DIRECTORY_RECORD_SEQ) ||
                    (msc && msc->length >= 20 && memcmp(msc->value, OBIA_SOP_MEDIA_STORAGE_DIRECTORY, 20) == 0);
    const char *ts;
    if (encapsulated) {
        if (!source_ts || !*source_ts)
            return obia_error_set(err, OBIA_E_ARG,
                                  "compressed pixel data needs its source transfer syntax");
        obia_ts_info info = obia_ts_classify(source_ts, strlen(source_ts));
        if (!info.encapsulated)
            return obia_error_set(err, OBIA_E_FORMAT,
                                  "encapsulated pixel data in non-encapsulated transfer syntax %s",
                                  source_ts);
        if (syntax != OBIA_WRITE_EXPLICIT_LE)
            return obia_error_set(err, OBIA_E_UNSUPPORTED,
                                  "compressed pixel data (%s) can only be written in its own "
                                  "transfer syntax",
                                  source_ts);
        ts = source_ts;
    } else if (dicomdir && syntax != OBIA_WRITE_EXPLICIT_LE) {
        return obia_error_set(err, OBIA_E_UNSUPPORTED,
                              "a DICOMDIR is always Explicit VR Little Endian (PS3.10)");
    } else {
        ts = syntax == OBIA_WRITE_IMPLICIT_LE ? OBIA_TS_IMPLICIT_LE
             : syntax == OBIA_WRITE_DEFLATED  ? OBIA_TS_DEFLATED_LE
                                              : OBIA_TS_EXPLICIT_LE;
    }

    /* Build the File Meta group. */
    obia_dataset *m = obia_dataset_new();
    if (!m)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    bool ok = true;
    static const uint8_t version[2] = {0, 1};
    ok = ok && obia_dataset_set_bytes(m, OBIA_TAG(2, 1), OBIA_VR_OB, version, 2, err);
    const obia_element *cls = obia_dataset_get(ds, OBIA_TAG(8, 0x16));
    const obia_element *inst = obia_dataset_get(ds, OBIA_TAG(8, 0x18));
    if (cls && cls->length)
        ok = ok && obia_dataset_set_bytes(m, OBIA_TAG(2, 2), OBIA_VR_UI, cls->value, cls->length, err);
    else
        ok = ok && copy_element(m, meta, OBIA_TAG(2, 2), OBIA_VR_UI, err);
    if (inst && inst->length)
        ok = ok && obia_dataset_set_bytes(m, OBIA_TAG(2, 3), OBIA_VR_UI, inst->value, inst->length, err);
    else
        ok = ok && copy_element(m, meta, OBIA_TAG(2, 3), OBIA_VR_UI, err);
    ok = ok && add_uid(m, OBIA_TAG(2, 0x10), ts, err);
    ok = ok && add_uid(m, OBIA_TAG(2, 0x12), OBIA_IMPLEMENTATION_CLASS_UID, err);
    ok = ok && obia_dataset_set_string(m, OBIA_TAG(2, 0x13), OBIA_VR_SH, OBIA_IMPLEMENTATION_VERSION, err);
    ok = ok && copy_element(m, meta, OBIA_TAG(2, 0x16), OBIA_VR_AE, err);
    ok = ok && copy_element(m, meta, OBIA_TAG(2, 0x100), OBIA_VR_UI, err);
    ok = ok && copy_element(m, meta, OBIA_TAG(2, 0x102), OBIA_VR_OB, err);
    if (!ok) {
        obia_dataset_free(m);
        return false;
    }

    writer *w = calloc(1, sizeof *w);
    if (!w) {
        obia_dataset_free(m);
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    }
    w->sink = sink;
    w->ctx = ctx;
    w->err = err;
    w->explicit_vr = true;

    /* meta: measure, then write with the group length first */
    obia_buf mb;
    obia_buf_init(&mb, 1u << 20);
    writer *mw = calloc(1, sizeof *mw);
    ok = mw != NULL;
    if (ok) {
        mw->sink = obia_sink_buf;
        mw->ctx = &mb;
        mw->err = err;
        mw->explicit_vr = true;
        for (uint32_t i = 0; ok && i < m->n; i++)
            ok = put_element(mw, &m->elems[i], true);
        ok = ok && flush(mw);
        free(mw);
    }
    static const uint8_t preamble[128];
    uint8_t gl[12] = {0x02, 0x00, 0x00, 0x00, 'U', 'L', 4, 0};
    obia_wr32le(gl + 8, (uint32_t)mb.len);
    /* DICOMDIR: a first pass, writing nowhere, finds where each record goes */
    offset_map map = {0};
    if (ok && dicomdir) {
        writer *cw = calloc(1, sizeof *cw);
        ok = cw != NULL;
        if (ok) {
            cw->sink = null_sink;
            cw->err = err;
            cw->explicit_vr = true;
            cw->pos = sizeof preamble + 4 + 12 + mb.len;
            cw->record = &map;
            ok = put_dataset(cw, ds, true) && flush(cw);
            free(cw);
        }
        if (ok) {
            if (map.n)
                qsort(map.pairs, map.n, sizeof *map.pairs, pair_cmp);
            w->remap = &map;
        }
    }
    ok = ok && put(w, preamble, sizeof preamble) && put(w, "DICM", 4) && put(w, gl, 12) &&
         put(w, mb.data, mb.len);
    obia_buf_free(&mb);
    obia_dataset_free(m);

    z_stream zs;
    bool zinit = false;
    if (ok && syntax == OBIA_WRITE_DEFLATED && !encapsulated) {
        ok = flush(w);
        memset(&zs, 0, sizeof zs);
        if (ok && deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
                               Z_DEFAULT_STRATEGY) != Z_OK)
            ok = obia_error_set(err, OBIA_E_NOMEM, "cannot start deflate");
        zinit = ok;
        if (ok)
            w->z = &zs;
    }
    w->explicit_vr = syntax != OBIA_WRITE_IMPLICIT_LE || encapsulated;
    ok = ok && put_dataset(w, ds, true) && flush(w);
    if (zinit) {
        uint8_t out[65536];
        int rc = Z_OK;
        while (ok && rc != Z_STREAM_END) {
            zs.next_in = NULL;
            zs.avail_in = 0;
            zs.next_out = out;
            zs.avail_out = sizeof out;
            rc = deflate(&zs, Z_FINISH);
            if (rc == Z_STREAM_ERROR)
                ok = obia_error_set(err, OBIA_E_IO, "deflate failed");
            size_t have = sizeof out - zs.avail_out;
            if (ok && have && !sink(ctx, out, have))
                ok = obia_error_set(err, OBIA_E_IO, "cannot write the output");
        }
        deflateEnd(&zs);
    }
    free(map.pairs);
    free(w);
    return ok;
}

bool obia_file_write(const obia_file *f, obia_write_syntax syntax, obia_sink_fn sink, void *ctx,
                     obia_error *err)
{
    if (f->stopped)
        return obia_error_set(err, OBIA_E_ARG,
                              "the file was read without its pixel data and cannot be written");
    return obia_write_part10(f->body, f->meta, f->ts, syntax, sink, ctx, err);
}

bool obia_file_write_path(const obia_file *f, obia_write_syntax syntax, const char *path,
                          obia_error *err)
{
    return obia_file_write_path_sync(f, syntax, path, true, err);
}

bool obia_file_write_path_sync(const obia_file *f, obia_write_syntax syntax, const char *path,
                               bool sync, obia_error *err)
{
    /* a temporary name of its own: several threads may write the same path */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return obia_error_set(err, OBIA_E_ARG, "path too long");
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd >= 0)
        fchmod(fd, 0644);
    if (fd < 0)
        return obia_error_set(err, OBIA_E_IO, "cannot create %s: %s", tmp, strerror(errno));
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        close(fd);
        unlink(tmp);
        return obia_error_set(err, OBIA_E_IO, "cannot open %s: %s", tmp, strerror(errno));
    }
    bool ok = obia_file_write(f, syntax, obia_sink_stdio, fp, err);
    if (ok && fflush(fp) != 0)
        ok = obia_error_set(err, OBIA_E_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (ok && sync && fsync(fileno(fp)) != 0)
        ok = obia_error_set(err, OBIA_E_IO, "cannot sync %s: %s", tmp, strerror(errno));
    if (fclose(fp) != 0 && ok)
        ok = obia_error_set(err, OBIA_E_IO, "cannot close %s: %s", tmp, strerror(errno));
    if (ok && rename(tmp, path) != 0)
        ok = obia_error_set(err, OBIA_E_IO, "cannot rename to %s: %s", path, strerror(errno));
    if (!ok)
        unlink(tmp);
    return ok;
}
