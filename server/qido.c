/* QIDO-RS (PS3.18 10.6): searches for studies, series and instances,
 * answered from the catalog as application/dicom+json with the standard's
 * default attributes per level, the matched ones and those asked by
 * includefield. */
#include "handlers.h"
#include "parse.h"
#include "dicomweb.h"

#include "obia/dicom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The attributes returned by default (PS3.18 Table 10.6.3-3 to -5). */
static const uint32_t study_defaults[] = {
    0x00080020, 0x00080030, 0x00080050, 0x00080056, 0x00080061, 0x00080090, 0x00081030,
    0x00081190, 0x00100010, 0x00100020, 0x00100030, 0x00100040, 0x0020000D, 0x00200010,
    0x00201206, 0x00201208,
};
static const uint32_t series_defaults[] = {
    0x00080060, 0x0008103E, 0x00200011, 0x0020000E, 0x00201209, 0x00081190, 0x0020000D,
};
static const uint32_t instance_defaults[] = {
    0x00080016, 0x00080018, 0x00080056, 0x00081190, 0x00200013, 0x00280010,
    0x00280011, 0x00280100, 0x00280008, 0x0020000D, 0x0020000E,
};

static bool in_list(const uint32_t *list, size_t n, uint32_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == tag)
            return true;
    return false;
}

typedef struct qido_out {
    req *r;
    const qido_request *qr;
    obia_buf *b;
    long n;
    const char *base;
} qido_out;

/* Whether a tag is returned for this request. */
static bool wanted(const qido_out *o, uint32_t tag)
{
    const qido_request *qr = o->qr;
    if (qr->include_all)
        return true;
    obia_qido_level level = qr->q.level;
    if (in_list(qr->include, qr->ninclude, tag))
        return true;
    for (size_t i = 0; i < qr->q.nmatch; i++)
        if (qr->q.match[i].tag == tag)
            return true;
    if (level == OBIA_QIDO_STUDY)
        return in_list(study_defaults, sizeof study_defaults / 4, tag);
    if (level == OBIA_QIDO_SERIES)
        return in_list(series_defaults, sizeof series_defaults / 4, tag) ||
               (!qr->q.study_uid && in_list(study_defaults, sizeof study_defaults / 4, tag));
    return in_list(instance_defaults, sizeof instance_defaults / 4, tag) ||
           (!qr->q.series_uid && in_list(series_defaults, sizeof series_defaults / 4, tag)) ||
           (!qr->q.study_uid && in_list(study_defaults, sizeof study_defaults / 4, tag));
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool parse_tag(const char *s, uint32_t *tag)
{
    uint32_t t = 0;
    for (int i = 0; i < 8; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return false;
        t = t << 4 | (uint32_t)h;
    }
    if (s[8])
        return false;
    *tag = t;
    return true;
}

/* One attribute from catalog text: DICOM JSON by the dictionary's VR. */
void dicomweb_attr(obia_buf *b, bool *first, uint32_t tag, const char *value)
{
    const obia_dict_entry *e = obia_dict_lookup(tag);
    const char *vr = e ? obia_vr_name(e->vr) : "UN";
    obia_buf_appendf(b, "%s\"%08X\":{\"vr\":\"%s\"", *first ? "" : ",", tag, vr);
    *first = false;
    if (value && *value) {
        obia_buf_append_str(b, ",\"Value\":[");
        bool number = strcmp(vr, "IS") == 0 || strcmp(vr, "DS") == 0 || strcmp(vr, "US") == 0 ||
                      strcmp(vr, "UL") == 0 || strcmp(vr, "SS") == 0 || strcmp(vr, "SL") == 0;
        bool pn = strcmp(vr, "PN") == 0;
        const char *p = value;
        for (int k = 0;; k++) {
            const char *end = strchr(p, '\\');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            if (k)
                obia_buf_append_byte(b, ',');
            char tmp[1024];
            snprintf(tmp, sizeof tmp, "%.*s", (int)(n < sizeof tmp ? n : sizeof tmp - 1), p);
            /* trim the padding DICOM text may carry */
            size_t tl = strlen(tmp);
            while (tl && tmp[tl - 1] == ' ')
                tmp[--tl] = '\0';
            const char *t = tmp;
            while (*t == ' ')
                t++;
            if (!*t) {
                obia_buf_append_str(b, "null");
            } else if (number) {
                char *endp;
                double d = strtod(t, &endp);
                if (*endp || d != d)
                    obia_json_append(b, t);
                else if (strcmp(vr, "DS") == 0)
                    obia_buf_appendf(b, "%.17g", d);
                else
                    obia_buf_appendf(b, "%lld", (long long)d);
            } else if (pn) {
                obia_buf_append_str(b, "{\"Alphabetic\":");
                obia_json_append(b, t);
                obia_buf_append_byte(b, '}');
            } else {
                obia_json_append(b, t);
            }
            if (!end || pn)
                break;
            p = end + 1;
        }
        obia_buf_append_byte(b, ']');
    }
    obia_buf_append_byte(b, '}');
}

static bool qido_row(void *ctx, int n, const char *const *names, const char *const *v)
{
    qido_out *o = ctx;
    obia_buf *b = o->b;
    obia_buf_append_str(b, o->n++ ? ",{" : "{");
    bool first = true;
    const char *study = NULL, *series = NULL, *sop = NULL;
    for (int i = 0; i < n; i++) {
        uint32_t tag;
        if (!parse_tag(names[i], &tag))
            continue;   /* the archive's own columns (accessions) */
        if (tag == 0x0020000D)
            study = v[i];
        else if (tag == 0x0020000E)
            series = v[i];
        else if (tag == 0x00080018)
            sop = v[i];
        if (wanted(o, tag))
            dicomweb_attr(b, &first, tag, v[i]);
    }
    if (wanted(o, 0x00080056))
        dicomweb_attr(b, &first, 0x00080056, "ONLINE");
    if (wanted(o, 0x00081190) && study) {
        obia_buf url;
        obia_buf_init(&url, 4096);
        obia_buf_appendf(&url, "%s/dicomweb/studies/%s", o->base, study);
        if (o->qr->q.level >= OBIA_QIDO_SERIES && series)
            obia_buf_appendf(&url, "/series/%s", series);
        if (o->qr->q.level == OBIA_QIDO_INSTANCE && sop)
            obia_buf_appendf(&url, "/instances/%s", sop);
        dicomweb_attr(b, &first, 0x00081190, obia_buf_cstr(&url));
        obia_buf_free(&url);
    }
    obia_buf_append_byte(b, '}');
    return !b->failed;
}

/* Whether the client takes DICOM JSON; 406 sent if not. */
bool dicomweb_accepts_json(req *r)
{
    media_type ranges[16];
    size_t n = http_accept_parse(req_accept(r), ranges, 16);
    for (size_t i = 0; i < n; i++)
        if (http_media_match(&ranges[i], "application/dicom+json") ||
            http_media_match(&ranges[i], "application/json"))
            return true;
    respond_error(r, 406, "not-acceptable",
                  "this resource is available as application/dicom+json only (Accept: %.200s)",
                  req_accept(r));
    return false;
}

static void qido(req *r, obia_qido_level level, const char *study, const char *series)
{
    if (!dicomweb_accepts_json(r))
        return;
    qido_request qr;
    obia_error err;
    obia_error_clear(&err);
    long max = srv_max_results(r->s);
    if (!qido_params_parse(r->query, r->nquery, level, max < 100 ? max : 100, max, &qr, &err)) {
        respond_error(r, 400, "bad-parameter", "%s", err.message);
        return;
    }
    qr.q.study_uid = study;
    qr.q.series_uid = series;
    qr.q.public_only = r->public_only;
    obia_buf b;
    obia_buf_init(&b, 512u << 20);
    obia_buf_append_byte(&b, '[');
    qido_out o = {.r = r, .qr = &qr, .b = &b, .base = req_base_url(r)};
    bool more = false;
    if (!obia_catalog_qido(srv_catalog(r->s), &qr.q, qido_row, &o, &more, &err)) {
        obia_buf_free(&b);
        respond_error(r, err.code == OBIA_E_ARG ? 400 : srv_error_status(err.code, NULL),
                      err.code == OBIA_E_ARG ? "bad-parameter" : "internal", "%s", err.message);
        return;
    }
    obia_buf_append_str(&b, "]\n");
    char warn[512];
    if (qr.unsupported[0]) {
        snprintf(warn, sizeof warn, "299 obia \"The matching keys %.300s are not supported and were ignored\"",
                 qr.unsupported);
        req_add_header(r, "Warning", warn);
    }
    if (more) {
        req_add_header(r, "Warning",
                       "299 obia \"There are additional results that can be requested\"");
    }
    if (o.n == 0) {
        obia_buf_free(&b);
        respond_empty(r, 204);
        return;
    }
    respond_buf(r, 200, "application/dicom+json", &b);
}

void qido_studies(req *r) { qido(r, OBIA_QIDO_STUDY, NULL, NULL); }
void qido_study_series(req *r) { qido(r, OBIA_QIDO_SERIES, r->arg[0], NULL); }
void qido_series(req *r) { qido(r, OBIA_QIDO_SERIES, NULL, NULL); }
void qido_study_instances(req *r) { qido(r, OBIA_QIDO_INSTANCE, r->arg[0], NULL); }
void qido_series_instances(req *r) { qido(r, OBIA_QIDO_INSTANCE, r->arg[0], r->arg[1]); }
void qido_instances(req *r) { qido(r, OBIA_QIDO_INSTANCE, NULL, NULL); }
