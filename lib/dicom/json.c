/* DICOM JSON (PS3.18 Annex F) streaming writer.  Memory use is constant:
 * values are encoded straight from the dataset into a small buffer. */
#include "charset.h"
#include "dicom_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void obia_json_options_init(obia_json_options *opt)
{
    opt->bulk_threshold = 1024;
    opt->bulk_uri_prefix = NULL;
    opt->include_meta = false;
    opt->pretty = false;
}

typedef struct jw {
    obia_sink_fn sink;
    void *ctx;
    const obia_json_options *opt;
    obia_error *err;
    bool failed;
    size_t n;
    uint8_t buf[32768];
    obia_buf scratch;   /* one decoded text value at a time */
    char path[512];     /* BulkDataURI path of the element being written */
} jw;

static bool jflush(jw *w)
{
    if (w->n && !w->failed && !w->sink(w->ctx, w->buf, w->n)) {
        w->failed = true;
        obia_error_set(w->err, OBIA_E_IO, "cannot write the output");
    }
    w->n = 0;
    return !w->failed;
}

static void jput(jw *w, const void *p, size_t len)
{
    const uint8_t *s = p;
    while (len && !w->failed) {
        size_t room = sizeof w->buf - w->n;
        size_t k = len < room ? len : room;
        memcpy(w->buf + w->n, s, k);
        w->n += k;
        s += k;
        len -= k;
        if (w->n == sizeof w->buf)
            jflush(w);
    }
}

static void jputs(jw *w, const char *s) { jput(w, s, strlen(s)); }

static void jputc(jw *w, char c)
{
    if (w->n == sizeof w->buf)
        jflush(w);
    w->buf[w->n++] = (uint8_t)c;
}

static void newline(jw *w, int depth)
{
    if (!w->opt->pretty)
        return;
    jputc(w, '\n');
    for (int i = 0; i < depth; i++)
        jput(w, "  ", 2);
}

/* JSON string from UTF-8 (invalid sequences were already replaced). */
static void jstring(jw *w, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jputc(w, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jput(w, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': jput(w, "\\\"", 2); break;
        case '\\': jput(w, "\\\\", 2); break;
        case '\n': jput(w, "\\n", 2); break;
        case '\r': jput(w, "\\r", 2); break;
        case '\t': jput(w, "\\t", 2); break;
        case '\b': jput(w, "\\b", 2); break;
        case '\f': jput(w, "\\f", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            jput(w, u, 6);
        }
        }
    }
    jput(w, s + run, n - run);
    jputc(w, '"');
}

/* Shortest text that reads back as the same double (or float). */
static void jdouble(jw *w, double d, bool single)
{
    char tmp[40];
    if (isnan(d) || isinf(d)) {
        /* JSON has no NaN or infinity; keep them readable as strings */
        jputs(w, isnan(d) ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    if (d == floor(d) && fabs(d) < 1e15) {
        snprintf(tmp, sizeof tmp, "%.0f", d);
        if (strcmp(tmp, "-0") == 0)
            strcpy(tmp, "-0.0");
        jputs(w, tmp);
        return;
    }
    for (int prec = single ? 6 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (single ? (strtof(tmp, NULL) == (float)d) : (strtod(tmp, NULL) == d))
            break;
    }
    jputs(w, tmp);
}

static void jint(jw *w, int64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    jputs(w, tmp);
}

static void juint(jw *w, uint64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    jputs(w, tmp);
}

/* ---- base64 streaming ---------------------------------------------------- */

typedef struct b64 {
    uint8_t carry[3];
    int ncarry;
} b64;

static void b64_feed(jw *w, b64 *st, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    while (n && st->ncarry) {
        st->carry[st->ncarry++] = *p++;
        n--;
        if (st->ncarry == 3) {
            char o[4] = {tab[st->carry[0] >> 2], tab[((st->carry[0] & 3) << 4) | (st->carry[1] >> 4)],
                         tab[((st->carry[1] & 15) << 2) | (st->carry[2] >> 6)], tab[st->carry[2] & 63]};
            jput(w, o, 4);
            st->ncarry = 0;
        }
    }
    char out[4096];
    size_t k = 0;
    while (n >= 3) {
        uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        out[k++] = tab[v >> 18];
        out[k++] = tab[(v >> 12) & 63];
        out[k++] = tab[(v >> 6) & 63];
        out[k++] = tab[v & 63];
        p += 3;
        n -= 3;
        if (k == sizeof out) {
            jput(w, out, k);
            k = 0;
        }
    }
    if (k)
        jput(w, out, k);
    for (size_t i = 0; i < n; i++)
        st->carry[st->ncarry++] = p[i];
}

static void b64_end(jw *w, b64 *st)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (st->ncarry == 1) {
        char o[4] = {tab[st->carry[0] >> 2], tab[(st->carry[0] & 3) << 4], '=', '='};
        jput(w, o, 4);
    } else if (st->ncarry == 2) {
        char o[4] = {tab[st->carry[0] >> 2], tab[((st->carry[0] & 3) << 4) | (st->carry[1] >> 4)],
                     tab[(st->carry[1] & 15) << 2], '='};
        jput(w, o, 4);
    }
    st->ncarry = 0;
}

/* ---- elements --------------------------------------------------------------- */

static bool write_dataset(jw *w, const obia_dataset *ds, const obia_dataset *extra, int depth);

static size_t encap_size(const obia_element *el)
{
    size_t n = 0;
    for (uint32_t i = 0; i < el->nchild; i++)
        n += 8 + el->u.frags[i].len;
    return n;
}

static void write_binary(jw *w, const obia_element *el)
{
    size_t size = (el->flags & EL_ENCAP) ? encap_size(el) : el->length;
    if (size == 0)
        return;
    if (w->opt->bulk_uri_prefix && size > w->opt->bulk_threshold) {
        jputs(w, ",\"BulkDataURI\":");
        obia_buf_reset(&w->scratch);
        obia_buf_appendf(&w->scratch, "%s/%s", w->opt->bulk_uri_prefix, w->path);
        jstring(w, w->scratch.data, w->scratch.len);
        return;
    }
    jputs(w, ",\"InlineBinary\":\"");
    b64 st = {.ncarry = 0};
    if (el->flags & EL_ENCAP) {
        /* the value of encapsulated pixel data: items with their headers */
        for (uint32_t i = 0; i < el->nchild; i++) {
            uint8_t h[8];
            obia_wr16le(h, 0xFFFE);
            obia_wr16le(h + 2, 0xE000);
            obia_wr32le(h + 4, el->u.frags[i].len);
            b64_feed(w, &st, h, 8);
            b64_feed(w, &st, el->u.frags[i].data, el->u.frags[i].len);
        }
    } else {
        b64_feed(w, &st, el->value, el->length);
    }
    b64_end(w, &st);
    jputc(w, '"');
}

/* Split a string value at backslashes (not for single-valued text VRs). */
static bool next_value(const obia_element *el, size_t *pos, const uint8_t **s, size_t *n)
{
    obia_vr vr = (obia_vr)el->vr;
    if (*pos > el->length)
        return false;
    const uint8_t *start = el->value + *pos, *end = el->value + el->length;
    const uint8_t *bs = NULL;
    if (vr != OBIA_VR_LT && vr != OBIA_VR_ST && vr != OBIA_VR_UT && vr != OBIA_VR_UR)
        bs = memchr(start, '\\', (size_t)(end - start));
    const uint8_t *stop = bs ? bs : end;
    *s = start;
    *n = (size_t)(stop - start);
    *pos = (size_t)(stop - el->value) + 1;
    return true;
}

static void trim_value(obia_vr vr, const uint8_t **s, size_t *n)
{
    const uint8_t *p = *s;
    size_t k = *n;
    while (k && (p[k - 1] == ' ' || p[k - 1] == '\0'))
        k--;
    if (vr != OBIA_VR_LT && vr != OBIA_VR_ST && vr != OBIA_VR_UT && vr != OBIA_VR_UR &&
        vr != OBIA_VR_PN)
        while (k && p[0] == ' ') {
            p++;
            k--;
        }
    *s = p;
    *n = k;
}

static bool write_number_text(jw *w, obia_vr vr, const uint8_t *s, size_t n)
{
    char tmp[72];
    if (n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    if (vr == OBIA_VR_IS) {
        long long v = strtoll(tmp, &end, 10);
        if (*end == '\0') {
            jint(w, v);
            return true;
        }
    }
    double d = strtod(tmp, &end);
    if (*end != '\0' || end == tmp)
        return false;
    if (vr == OBIA_VR_IS && d == floor(d) && fabs(d) < 9e18) {
        jint(w, (int64_t)d);
        return true;
    }
    jdouble(w, d, false);
    return true;
}

static void write_pn(jw *w, const uint8_t *s, size_t n)
{
    static const char *const groups[3] = {"Alphabetic", "Ideographic", "Phonetic"};
    jputc(w, '{');
    bool first = true;
    size_t start = 0;
    int g = 0;
    for (size_t i = 0; i <= n && g < 3; i++) {
        if (i < n && s[i] != '=')
            continue;
        size_t len = i - start;
        const uint8_t *p = s + start;
        while (len && p[len - 1] == ' ')
            len--;
        if (len) {
            if (!first)
                jputc(w, ',');
            jputc(w, '"');
            jputs(w, groups[g]);
            jputs(w, "\":");
            jstring(w, p, len);
            first = false;
        }
        start = i + 1;
        g++;
    }
    jputc(w, '}');
}

static void write_values(jw *w, const obia_dataset *ds, const obia_element *el, int depth)
{
    obia_vr vr = (obia_vr)el->vr;
    if (el->flags & EL_ENCAP) {
        write_binary(w, el);
        return;
    }
    if (el->length == 0)
        return;
    if (obia_vr_is_string(vr)) {
        /* a value of padding alone is empty: no "Value" (PS3.18 F.2.5) */
        size_t k = 0;
        while (k < el->length && (el->value[k] == ' ' || el->value[k] == '\0'))
            k++;
        if (k == el->length)
            return;
    }
    if (obia_vr_is_binary(vr)) {
        write_binary(w, el);
        return;
    }
    unsigned size = obia_vr_numeric_size(vr);
    if (vr == OBIA_VR_AT) {
        jputs(w, ",\"Value\":[");
        for (uint32_t i = 0; i + 4 <= el->length; i += 4) {
            char tmp[12];
            snprintf(tmp, sizeof tmp, "%s\"%04X%04X\"", i ? "," : "", obia_rd16le(el->value + i),
                     obia_rd16le(el->value + i + 2));
            jputs(w, tmp);
        }
        jputc(w, ']');
        return;
    }
    if (size) {
        if (el->length < size) {
            /* too short for one value: keep the bytes visible */
            write_binary(w, el);
            return;
        }
        jputs(w, ",\"Value\":[");
        size_t count = el->length / size;
        for (size_t i = 0; i < count; i++) {
            if (i)
                jputc(w, ',');
            int64_t iv;
            uint64_t uv;
            double dv;
            if (vr == OBIA_VR_FL || vr == OBIA_VR_FD) {
                obia_element_get_double(el, i, &dv, NULL);
                jdouble(w, dv, vr == OBIA_VR_FL);
            } else if (vr == OBIA_VR_SS || vr == OBIA_VR_SL || vr == OBIA_VR_SV) {
                obia_element_get_int(el, i, &iv, NULL);
                jint(w, iv);
            } else {
                obia_element_get_uint(el, i, &uv, NULL);
                juint(w, uv);
            }
        }
        jputc(w, ']');
        return;
    }
    /* text values: text in a Specific Character Set is decoded whole before
     * it is split, since a multi-byte character may contain the byte 0x5C */
    jputs(w, ",\"Value\":[");
    obia_element text = *el;
    if (obia_vr_is_charset_text(vr)) {
        size_t cslen;
        const uint8_t *cs = obia__dataset_charset(ds, &cslen);
        obia_buf_reset(&w->scratch);
        obia_charset_decode(cs, cslen, vr == OBIA_VR_PN, el->value, el->length, &w->scratch, NULL,
                            NULL);
        text.value = w->scratch.data ? w->scratch.data : (const uint8_t *)"";
        text.length = (uint32_t)w->scratch.len;
    }
    size_t pos = 0;
    const uint8_t *s;
    size_t n;
    bool first = true;
    while (next_value(&text, &pos, &s, &n)) {
        if (!first)
            jputc(w, ',');
        first = false;
        trim_value(vr, &s, &n);
        if (n == 0) {
            jputs(w, "null");
            continue;
        }
        if (vr == OBIA_VR_IS || vr == OBIA_VR_DS) {
            if (!write_number_text(w, vr, s, n))
                jstring(w, s, n);   /* not a number: keep the text */
        } else if (vr == OBIA_VR_PN) {
            write_pn(w, s, n);
        } else {
            jstring(w, s, n);
        }
    }
    jputc(w, ']');
    (void)depth;
}

static void write_element(jw *w, const obia_dataset *ds, const obia_element *el, int depth,
                          bool first)
{
    char key[32];
    snprintf(key, sizeof key, "%s\"%08X\":", first ? "" : ",", el->tag);
    jputs(w, key);
    if (w->opt->pretty)
        jputc(w, ' ');
    jputs(w, "{\"vr\":\"");
    obia_vr vr = (obia_vr)el->vr;
    if (vr == OBIA_VR_NONE || vr >= OBIA_VR_OB_OW)
        vr = OBIA_VR_UN;
    jputs(w, obia_vr_name(vr));
    jputc(w, '"');
    size_t plen = strlen(w->path);
    if (plen + 10 < sizeof w->path)
        snprintf(w->path + plen, sizeof w->path - plen, "%s%08X", plen ? "/" : "", el->tag);
    if (vr == OBIA_VR_SQ) {
        if (el->nchild) {
            jputs(w, ",\"Value\":[");
            for (uint32_t i = 0; i < el->nchild && !w->failed; i++) {
                if (i)
                    jputc(w, ',');
                size_t ilen = strlen(w->path);
                if (ilen + 12 < sizeof w->path)
                    snprintf(w->path + ilen, sizeof w->path - ilen, "/%u", i);
                newline(w, depth + 1);
                write_dataset(w, el->u.items[i], NULL, depth + 1);
                w->path[ilen] = '\0';
            }
            jputc(w, ']');
        }
    } else {
        write_values(w, ds, el, depth);
    }
    w->path[plen] = '\0';
    jputc(w, '}');
}

static bool write_dataset(jw *w, const obia_dataset *ds, const obia_dataset *extra, int depth)
{
    jputc(w, '{');
    bool first = true;
    /* PS3.18 F.2.2: Group Length (gggg,0000) elements are not included */
    for (const obia_dataset *d = extra; d; d = NULL)
        for (uint32_t i = 0; i < d->n; i++) {
            if (OBIA_ELEM(d->elems[i].tag) == 0)
                continue;
            newline(w, depth + 1);
            write_element(w, d, &d->elems[i], depth + 1, first);
            first = false;
        }
    for (uint32_t i = 0; i < ds->n && !w->failed; i++) {
        if (OBIA_ELEM(ds->elems[i].tag) == 0)
            continue;
        newline(w, depth + 1);
        write_element(w, ds, &ds->elems[i], depth + 1, first);
        first = false;
    }
    if (!first)
        newline(w, depth);
    jputc(w, '}');
    return !w->failed;
}

static bool run(const obia_dataset *ds, const obia_dataset *meta, const obia_json_options *opt,
                obia_sink_fn sink, void *ctx, obia_error *err)
{
    obia_json_options defaults;
    if (!opt) {
        obia_json_options_init(&defaults);
        opt = &defaults;
    }
    jw *w = malloc(sizeof *w);
    if (!w)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    w->sink = sink;
    w->ctx = ctx;
    w->opt = opt;
    w->err = err;
    w->failed = false;
    w->n = 0;
    w->path[0] = '\0';
    obia_buf_init(&w->scratch, 1u << 30);
    bool ok = write_dataset(w, ds, meta, 0);
    ok = jflush(w) && ok;
    obia_buf_free(&w->scratch);
    free(w);
    return ok;
}

bool obia_json_write(const obia_dataset *ds, const obia_json_options *opt, obia_sink_fn sink,
                     void *ctx, obia_error *err)
{
    return run(ds, NULL, opt, sink, ctx, err);
}

bool obia_json_write_file(const obia_file *f, const obia_json_options *opt, obia_sink_fn sink,
                          void *ctx, obia_error *err)
{
    bool meta = opt && opt->include_meta && f->meta->n;
    return run(f->body, meta ? f->meta : NULL, opt, sink, ctx, err);
}
