/* STOW-RS (PS3.18 10.5): a multipart/related body of application/dicom
 * parts, read as a stream; each part, once whole (in memory, up to
 * [server] max_instance), goes through the ingest pipeline -- the same
 * de-identification, checks, store and catalog as obia ingest -- and is
 * committed before the next is read. The answer is the Store Instances
 * Response: ReferencedSOPSequence and FailedSOPSequence. */
#include "handlers.h"
#include "dicomweb.h"
#include "multipart.h"

#include "obia/dicom.h"
#include "obia/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Failure reasons (PS3.4 Annex GG, PS3.18 Table 10.5.3-2). */
#define FAIL_PROCESSING 0x0110       /* processing failure: quarantined, refused */
#define FAIL_NOT_AUTHORIZED 0x0124
#define FAIL_OUT_OF_RESOURCES 0xA700
#define FAIL_MISMATCH 0xA900         /* not of the study the request names */
#define FAIL_CANNOT_UNDERSTAND 0xC000
#define WARN_COERCED 0xB000          /* stored with changed attributes (de-identified) */

/* Instances one request may carry (each leaves a line in the answer). */
#define STOW_MAX_PARTS 20000

typedef struct result {
    char sop_class[68], sop[68];     /* as sent (may be empty when unreadable) */
    bool stored;
    unsigned reason;                 /* failure or warning reason, 0 none */
    char detail[300];
    char url[400];                   /* RetrieveURL of the stored instance */
} result;

typedef struct stow {
    req *r;
    multipart *mp;
    obia_ingest_session *session;
    char collection[16];
    const char *study;               /* the path's study, or NULL */
    obia_buf part;                   /* the current part */
    bool part_bad;                   /* not application/dicom, or too large */
    char part_why[200];
    unsigned part_reason;
    size_t nparts;
    result *res;
    size_t nres, cap;
    bool fatal;
    obia_error err;
    char base[300];
    uint64_t held;                   /* bytes of the upload budget the part holds */
} stow;

static void stow_free(void *ctx)
{
    stow *s = ctx;
    if (!s)
        return;
    multipart_free(s->mp);
    srv_upload_release(s->r->s, s->held);
    if (s->session)
        obia_ingest_session_close(s->session, NULL, NULL);
    obia_buf_free(&s->part);
    free(s->res);
    free(s);
}

static result *add_result(stow *s)
{
    if (!obia_array_grow(&s->res, &s->cap, s->nres, sizeof *s->res, 16))
        return NULL;
    result *x = &s->res[s->nres++];
    memset(x, 0, sizeof *x);
    return x;
}

static bool part_begin(void *ctx, const multipart_part *part, obia_error *err)
{
    stow *s = ctx;
    if (s->nparts == STOW_MAX_PARTS)
        return obia_error_set(err, OBIA_E_LIMIT,
                              "more than %d instances in one request; send them in several",
                              STOW_MAX_PARTS);
    s->nparts++;
    obia_buf_reset(&s->part);
    s->part.failed = false;
    s->part_bad = false;
    s->part_reason = 0;
    const char *ct = part->content_type;
    if (!ct || strncasecmp(ct, "application/dicom", 17) != 0 ||
        (ct[17] && ct[17] != ';' && ct[17] != ' ')) {
        s->part_bad = true;
        s->part_reason = FAIL_CANNOT_UNDERSTAND;
        snprintf(s->part_why, sizeof s->part_why, "part %zu is %.80s, not application/dicom",
                 s->nparts, ct ? ct : "without a Content-Type");
    }
    return true;
}

static bool part_data(void *ctx, const char *p, size_t n, obia_error *err)
{
    stow *s = ctx;
    if (s->part_bad)
        return true;
    /* every upload's parts share one budget of memory */
    if (!srv_upload_reserve(s->r->s, n)) {
        s->part_bad = true;
        s->part_reason = FAIL_OUT_OF_RESOURCES;
        snprintf(s->part_why, sizeof s->part_why,
                 "part %zu: the server holds [server] upload_memory bytes of uploads already; "
                 "send it again later",
                 s->nparts);
        srv_upload_release(s->r->s, s->held);
        s->held = 0;
        obia_buf_free(&s->part);
        obia_buf_init(&s->part, srv_max_instance(s->r->s));
        return true;
    }
    s->held += n;
    if (!obia_buf_append(&s->part, p, n)) {
        s->part_bad = true;
        s->part_reason = FAIL_OUT_OF_RESOURCES;
        snprintf(s->part_why, sizeof s->part_why,
                 "part %zu is larger than [server] max_instance (%llu bytes)", s->nparts,
                 (unsigned long long)srv_max_instance(s->r->s));
        srv_upload_release(s->r->s, s->held);
        s->held = 0;
        obia_buf_free(&s->part);
        obia_buf_init(&s->part, srv_max_instance(s->r->s));
    }
    return true;
}

/* The SOP Class, SOP Instance and Study Instance UIDs the part says it has. */
static void sent_uids(const obia_buf *b, result *x, char *study, size_t study_cap)
{
    obia_read_options ro;
    obia_read_options_init(&ro);
    ro.header_only = true;
    obia_error e;
    obia_error_clear(&e);
    study[0] = '\0';
    obia_file *f = obia_file_parse(b->data, b->len, &ro, &e);
    if (!f)
        return;
    obia_dataset *ds = obia_file_dataset(f);
    struct {
        uint32_t tag;
        char *out;
        size_t cap;
    } want[] = {{0x00080016, x->sop_class, sizeof x->sop_class},
                {0x00080018, x->sop, sizeof x->sop},
                {0x0020000D, study, study_cap}};
    for (size_t i = 0; i < 3; i++) {
        const obia_element *el = obia_dataset_get(ds, want[i].tag);
        size_t len = el ? obia_element_length(el) : 0;
        const uint8_t *v = el ? obia_element_bytes(el) : NULL;
        while (len && v && (v[len - 1] == '\0' || v[len - 1] == ' '))
            len--;
        if (v && len < want[i].cap && !memchr(v, '\0', len)) {
            memcpy(want[i].out, v, len);
            want[i].out[len] = '\0';
        }
    }
    obia_file_free(f);
}

/* The stored instance's RetrieveURL, from the catalog. */
typedef struct url_row {
    char study[65], series[65];
} url_row;

static bool url_row_fn(void *ctx, int n, const char *const *names, const char *const *v)
{
    url_row *u = ctx;
    for (int i = 0; i < n; i++) {
        if (!v[i])
            continue;
        if (strcmp(names[i], "0020000D") == 0)
            snprintf(u->study, sizeof u->study, "%s", v[i]);
        else if (strcmp(names[i], "0020000E") == 0)
            snprintf(u->series, sizeof u->series, "%s", v[i]);
    }
    return false;
}

static void retrieve_url(stow *s, const char *sop, char *out, size_t cap)
{
    out[0] = '\0';
    obia_qido_query q;
    memset(&q, 0, sizeof q);
    q.level = OBIA_QIDO_INSTANCE;
    q.match[0].tag = 0x00080018;
    q.match[0].value = sop;
    q.nmatch = 1;
    q.limit = 1;
    url_row u = {"", ""};
    bool more;
    obia_error e;
    obia_error_clear(&e);
    if (obia_catalog_qido(srv_catalog(s->r->s), &q, url_row_fn, &u, &more, &e) && u.study[0] &&
        u.series[0])
        snprintf(out, cap, "%s/dicomweb/studies/%s/series/%s/instances/%s", s->base, u.study,
                 u.series, sop);
}

static bool part_end_in(stow *s, obia_error *err);

static bool part_end(void *ctx, obia_error *err)
{
    stow *s = ctx;
    bool ok = part_end_in(s, err);
    /* the part's memory back to the budget (and to the system) */
    srv_upload_release(s->r->s, s->held);
    s->held = 0;
    obia_buf_free(&s->part);
    obia_buf_init(&s->part, srv_max_instance(s->r->s));
    return ok;
}

static bool part_end_in(stow *s, obia_error *err)
{
    result *x = add_result(s);
    if (!x)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    if (s->part_bad) {
        x->reason = s->part_reason;
        snprintf(x->detail, sizeof x->detail, "%s", s->part_why);
        return true;
    }
    char study[68];
    sent_uids(&s->part, x, study, sizeof study);
    if (s->study && strcmp(study, s->study) != 0) {
        x->reason = FAIL_MISMATCH;
        snprintf(x->detail, sizeof x->detail, "part %zu is of study %.70s, not of %.70s", s->nparts,
                 study[0] ? study : "(none)", s->study);
        return true;
    }
    char name[64], detail[512];
    snprintf(name, sizeof name, "STOW-RS part %zu", s->nparts);
    obia_ingest_outcome outcome;
    obia_error e;
    obia_error_clear(&e);
    if (!obia_ingest_session_add(s->session, name, s->part.data, s->part.len, &outcome, detail,
                                 sizeof detail, &e)) {
        /* the archive cannot go on (disk, database): stop reading */
        s->fatal = true;
        s->err = e;
        return obia_error_set(err, e.code, "%s", e.message);
    }
    switch (outcome) {
    case OBIA_INGEST_ACCEPTED:
    case OBIA_INGEST_DUPLICATE: {
        x->stored = true;
        /* detail: "INDIVIDUAL NEW-SOP-UID" */
        const char *sp = strchr(detail, ' ');
        const char *new_sop = sp ? sp + 1 : "";
        if (strcmp(new_sop, x->sop) != 0)
            x->reason = WARN_COERCED;
        snprintf(x->detail, sizeof x->detail, "%s as %.70s",
                 outcome == OBIA_INGEST_ACCEPTED ? "stored" : "stored already", new_sop);
        retrieve_url(s, new_sop, x->url, sizeof x->url);
        break;
    }
    case OBIA_INGEST_QUARANTINED:
        x->reason = FAIL_PROCESSING;
        snprintf(x->detail, sizeof x->detail, "held for review: %.280s", detail);
        break;
    case OBIA_INGEST_FAILED:
        x->reason = FAIL_OUT_OF_RESOURCES;
        snprintf(x->detail, sizeof x->detail, "%.290s", detail);
        break;
    }
    return true;
}

static const multipart_handler handler = {part_begin, part_data, part_end};

/* Who is storing, for the audit log. */
static void who(req *r, char *out, size_t cap)
{
    char addr[64];
    req_client_addr(r, addr, sizeof addr);
    snprintf(out, cap, "stow-rs@%s", addr);
}

/* The headers are in: check what the request says, open the run. */
static stow *stow_open(req *r)
{
    stow *s = calloc(1, sizeof *s);
    if (!s) {
        respond_error(r, 503, "out-of-memory", "out of memory");
        return NULL;
    }
    s->r = r;
    r->handler_ctx = s;
    req_set_cleanup(r, stow_free);
    obia_buf_init(&s->part, srv_max_instance(r->s));
    snprintf(s->base, sizeof s->base, "%s", req_base_url(r));
    s->study = r->narg ? r->arg[0] : NULL;
    obia_error err;
    obia_error_clear(&err);
    char boundary[80], type[80];
    const char *ct = req_header(r, "Content-Type");
    if (!ct) {
        respond_error(r, 415, "unsupported-media-type",
                      "STOW-RS takes multipart/related; type=\"application/dicom\"; the request has "
                      "no Content-Type");
        return NULL;
    }
    if (!multipart_boundary(ct, boundary, sizeof boundary, type, sizeof type, &err)) {
        respond_error(r, 415, "unsupported-media-type", "%s", err.message);
        return NULL;
    }
    if (type[0] && strcasecmp(type, "application/dicom") != 0) {
        respond_error(r, 415, "unsupported-media-type",
                      "parts of type %.60s are not taken: only application/dicom (not the JSON or "
                      "XML metadata forms)",
                      type);
        return NULL;
    }
    const char *coll = req_query(r, "collection");
    if (!coll || !*coll)
        coll = srv_upload_collection(r->s);
    if (!coll || !*coll) {
        respond_error(r, 400, "no-collection",
                      "name the collection to store into (?collection=OBIA0001); this server has no "
                      "[server] upload_collection");
        return NULL;
    }
    if (strlen(coll) >= sizeof s->collection) {
        respond_error(r, 404, "not-found", "no collection %.40s to store into", coll);
        return NULL;
    }
    snprintf(s->collection, sizeof s->collection, "%s", coll);
    if (!(s->mp = multipart_new(boundary, &handler, s, &err))) {
        respond_obia_error(r, &err);
        return NULL;
    }
    char by[128];
    who(r, by, sizeof by);
    /* the run keeps the options by pointer: they live as long as the request */
    obia_ingest_options opt = {.collection = s->collection, .who = by};
    obia_ingest_options *kept = obia_arena_alloc(r->arena, sizeof *kept);
    char *who_kept = obia_arena_strndup(r->arena, by, strlen(by));
    if (!kept || !who_kept) {
        respond_error(r, 503, "out-of-memory", "out of memory");
        return NULL;
    }
    *kept = opt;
    kept->who = who_kept;
    /* (the run checks the collection, on a connection of its own) */
    if (!(s->session = obia_ingest_session_open(srv_archive(r->s), kept, &err))) {
        if (err.code == OBIA_E_NOTFOUND)
            respond_error(r, 404, "not-found", "no collection %.40s to store into", coll);
        else
            respond_obia_error(r, &err);
        return NULL;
    }
    return s;
}

bool stow_begin(req *r)
{
    return stow_open(r) != NULL;
}

bool stow_body(req *r, const char *data, size_t len)
{
    stow *s = r->handler_ctx;
    if (!s)
        return false;   /* (stow_begin answered) */
    obia_error err;
    obia_error_clear(&err);
    bool ok = len == 0 ? multipart_finish(s->mp, &err) : multipart_feed(s->mp, data, len, &err);
    if (!ok) {
        if (s->fatal)
            respond_obia_error(r, &s->err);
        else
            respond_error(r, 400, "bad-multipart", "%s (%zu parts read before it)", err.message,
                          s->nres);
    }
    return ok;
}

static void item_attr_us(obia_buf *b, bool *first, uint32_t tag, unsigned v)
{
    obia_buf_appendf(b, "%s\"%08X\":{\"vr\":\"US\",\"Value\":[%u]}", *first ? "" : ",", tag, v);
    *first = false;
}

void stow_done(req *r)
{
    stow *s = r->handler_ctx;
    if (!s) {
        respond_error(r, 500, "internal", "the upload was not begun");
        return;
    }
    if (s->nres == 0) {
        respond_error(r, 400, "no-instances", "the body holds no parts");
        return;
    }
    /* series checks and thumbnails of what was added */
    obia_error err;
    obia_error_clear(&err);
    obia_ingest_session *session = s->session;
    s->session = NULL;
    if (!obia_ingest_session_close(session, NULL, &err)) {
        respond_obia_error(r, &err);
        return;
    }
    size_t stored = 0, failed = 0, warned = 0;
    for (size_t i = 0; i < s->nres; i++) {
        if (s->res[i].stored)
            stored++, warned += s->res[i].reason != 0;
        else
            failed++;
    }
    obia_buf b;
    obia_buf_init(&b, 64u << 20);
    obia_buf_append_byte(&b, '{');
    bool first = true;
    for (int pass = 0; pass < 2; pass++) {
        /* FailedSOPSequence (0008,1198), then ReferencedSOPSequence (0008,1199) */
        size_t count = pass == 0 ? failed : stored;
        if (!count)
            continue;
        obia_buf_appendf(&b, "%s\"%s\":{\"vr\":\"SQ\",\"Value\":[", first ? "" : ",",
                         pass == 0 ? "00081198" : "00081199");
        first = false;
        bool first_item = true;
        for (size_t i = 0; i < s->nres; i++) {
            result *x = &s->res[i];
            if (x->stored != (pass == 1))
                continue;
            obia_buf_append_str(&b, first_item ? "{" : ",{");
            first_item = false;
            bool f2 = true;
            dicomweb_attr(&b, &f2, 0x00081150, x->sop_class[0] ? x->sop_class : NULL);
            dicomweb_attr(&b, &f2, 0x00081155, x->sop[0] ? x->sop : NULL);
            if (pass == 1 && x->url[0])
                dicomweb_attr(&b, &f2, 0x00081190, x->url);
            if (x->reason)
                item_attr_us(&b, &f2, pass == 0 ? 0x00081197 : 0x00081196, x->reason);
            /* what happened, in words (Error Comment) */
            dicomweb_attr(&b, &f2, 0x00000902, x->detail);
            obia_buf_append_byte(&b, '}');
        }
        obia_buf_append_str(&b, "]}");
    }
    obia_buf_append_str(&b, "}\n");
    /* 200 all stored, 202 some failed (or stored with changes), 409 none */
    unsigned status = failed == 0 ? (warned ? 202 : 200) : stored ? 202 : 409;
    respond_buf(r, status, "application/dicom+json", &b);
}
