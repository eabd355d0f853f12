/* The REST API of the archive's own objects (JSON): collections,
 * individuals, studies, series and images with links to parents and
 * children, faceted search, statistics, thumbnails and rendered frames. */
#include "handlers.h"

#include "obia/dicom.h"
#include "obia/ingest.h"
#include "obia/pixel.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSON_MAX (256u << 20)

/* ---- rows as JSON ------------------------------------------------------------------ */

/* Columns whose values are numbers in JSON. */
static bool numeric_column(const char *name)
{
    static const char *const names[] = {
        "individuals", "studies", "series", "images", "bytes", "age", "size", "rows",
        "columns", "frames", "instance_number", "series_number", "count", "total",
        "age_years", "bits_allocated",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

static bool is_number(const char *v)
{
    if (!v || !*v)
        return false;
    const char *p = v;
    if (*p == '-')
        p++;
    if (!*p || strlen(p) > 18)
        return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* The fields of one row, without the braces; "id" (the catalog's row
 * number) is left out. */
void json_row_fields(obia_buf *b, int n, const char *const *names, const char *const *v)
{
    bool first = true;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "id") == 0)
            continue;
        if (!first)
            obia_buf_append_byte(b, ',');
        first = false;
        obia_json_append(b, names[i]);
        obia_buf_append_byte(b, ':');
        if (!v[i])
            obia_buf_append_str(b, "null");
        else if (numeric_column(names[i]) && is_number(v[i]))
            obia_buf_append_str(b, v[i]);
        else
            obia_json_append(b, v[i]);
    }
}

static const char *col(int n, const char *const *names, const char *const *v, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return v[i];
    return NULL;
}

/* Where an object of a kind lives in the API. */
static const struct {
    const char *kind, *path, *key, *child_kind;
} kinds[] = {
    {"collection", "/api/collections/", "accession", "individual"},
    {"individual", "/api/individuals/", "accession", "study"},
    {"study", "/api/studies/", "accession", "series"},
    {"series", "/api/series/", "series_uid", "image"},
    {"image", "/api/images/", "sop_instance_uid", NULL},
};

static int kind_index(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kind && strcmp(kinds[i].kind, kind) == 0)
            return (int)i;
    return -1;
}

static void link_to(obia_buf *b, const char *rel, int kind, const char *key)
{
    if (!key || kind < 0)
        return;
    obia_buf_append_byte(b, ',');
    obia_json_append(b, rel);
    obia_buf_append_str(b, ":\"");
    obia_buf_append_str(b, kinds[kind].path);
    /* accessions and UIDs need no escaping: checked to be [0-9A-Z.] */
    obia_buf_append_str(b, key);
    obia_buf_append_byte(b, '"');
}

/* A plain identifier: accession or UID characters only. */
static bool plain_key(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || *p == '.'))
            return false;
    return true;
}

typedef struct rows_out {
    obia_buf *b;
    long n;
    int kind;          /* the rows' kind, for their links; -1 none */
} rows_out;

static bool row_out(void *ctx, int n, const char *const *names, const char *const *v)
{
    rows_out *o = ctx;
    if (o->n++)
        obia_buf_append_byte(o->b, ',');
    obia_buf_append_byte(o->b, '{');
    json_row_fields(o->b, n, names, v);
    if (o->kind >= 0) {
        const char *key = col(n, names, v, kinds[o->kind].key);
        obia_buf_append_str(o->b, ",\"links\":{\"self\":\"");
        obia_buf_append_str(o->b, kinds[o->kind].path);
        obia_buf_append_str(o->b, key && plain_key(key) ? key : "");
        obia_buf_append_byte(o->b, '"');
        static const struct {
            const char *column;
            int kind;
        } parents[] = {{"collection", 0}, {"individual", 1}, {"study", 2}};
        for (size_t i = 0; i < sizeof parents / sizeof parents[0]; i++) {
            const char *p = col(n, names, v, parents[i].column);
            if (p && parents[i].kind < o->kind)
                link_to(o->b, parents[i].column, parents[i].kind, p);
        }
        obia_buf_append_byte(o->b, '}');
    }
    obia_buf_append_byte(o->b, '}');
    return !o->b->failed;
}

/* Whether the request may see the object key; answers 404 if not (or if
 * there is no such object). */
bool api_visible(req *r, const char *key)
{
    if (!plain_key(key)) {
        respond_error(r, 404, "not-found", "no such object: '%.80s'", key);
        return false;
    }
    if (!r->public_only)
        return true;
    obia_error err;
    obia_error_clear(&err);
    bool pub = false;
    if (!obia_catalog_is_public(srv_catalog(r->s), key, &pub, &err)) {
        if (err.code == OBIA_E_NOTFOUND)
            respond_error(r, 404, "not-found", "no such object: %s", key);
        else
            respond_obia_error(r, &err);
        return false;
    }
    if (!pub) {
        /* not told apart from an absent one */
        respond_error(r, 404, "not-found", "no such object: %s", key);
        return false;
    }
    return true;
}

/* ---- GET /api ---------------------------------------------------------------------------- */

void api_index(req *r)
{
    size_t n;
    const route *routes = srv_routes(&n);
    obia_buf b;
    obia_buf_init(&b, JSON_MAX);
    obia_buf_append_str(&b, "{\"name\":");
    obia_json_append(&b, obia_config_string(srv_config(r->s), "archive", "name"));
    obia_buf_appendf(&b, ",\"version\":\"%s\",\"access\":\"%s\",\"endpoints\":[", OBIA_VERSION,
                     r->public_only ? "public" : "all");
    for (size_t i = 0; i < n; i++) {
        obia_buf_append_str(&b, i ? ",{\"method\":" : "{\"method\":");
        obia_json_append(&b, routes[i].method);
        obia_buf_append_str(&b, ",\"path\":");
        obia_json_append(&b, routes[i].pattern);
        obia_buf_append_str(&b, ",\"scope\":");
        obia_json_append(&b, routes[i].scope & SCOPE_PUBLIC   ? "public"
                             : routes[i].scope & SCOPE_UPLOAD ? "upload"
                                                              : "read-all");
        obia_buf_append_str(&b, ",\"allowed\":");
        obia_buf_append_str(&b, routes[i].scope & r->scopes ? "true" : "false");
        obia_buf_append_str(&b, ",\"doc\":");
        obia_json_append(&b, routes[i].doc);
        obia_buf_append_byte(&b, '}');
    }
    obia_buf_append_str(&b, "]}\n");
    respond_json(r, 200, &b);
}

/* ---- collections and the objects below them --------------------------------------------------- */

static void page_json(obia_buf *b, long total, long limit, long offset)
{
    obia_buf_appendf(b, "\"total\":%ld,\"limit\":%ld,\"offset\":%ld,\"items\":[", total, limit,
                     offset);
}

void api_collections(req *r)
{
    long limit, offset;
    if (!req_paging(r, 100, srv_max_results(r->s), &limit, &offset))
        return;
    obia_catalog_page p = {.limit = limit, .offset = offset, .public_only = r->public_only};
    obia_buf items;
    obia_buf_init(&items, JSON_MAX);
    rows_out o = {.b = &items, .kind = 0};
    long total = 0;
    obia_error err;
    obia_error_clear(&err);
    if (!obia_catalog_collection_list(srv_catalog(r->s), &p, row_out, &o, &total, &err)) {
        obia_buf_free(&items);
        respond_obia_error(r, &err);
        return;
    }
    obia_buf b;
    obia_buf_init(&b, JSON_MAX);
    obia_buf_append_byte(&b, '{');
    page_json(&b, total, limit, offset);
    obia_buf_append(&b, items.data, items.len);
    obia_buf_append_str(&b, "]}\n");
    obia_buf_free(&items);
    respond_json(r, 200, &b);
}

typedef struct show_out {
    obia_buf *b;
    char kind[16];
    char key[80];
    char parents[3][80];   /* collection, individual, study */
    bool any;
} show_out;

static bool show_row(void *ctx, int n, const char *const *names, const char *const *v)
{
    show_out *o = ctx;
    o->any = true;
    const char *kind = col(n, names, v, "kind");
    snprintf(o->kind, sizeof o->kind, "%s", kind ? kind : "");
    int k = kind_index(kind);
    const char *key = k >= 0 ? col(n, names, v, kinds[k].key) : NULL;
    snprintf(o->key, sizeof o->key, "%s", key ? key : "");
    static const char *const parent_cols[] = {"collection", "individual", "study"};
    for (int i = 0; i < 3; i++) {
        const char *p = col(n, names, v, parent_cols[i]);
        snprintf(o->parents[i], sizeof o->parents[i], "%s", p && plain_key(p) ? p : "");
    }
    json_row_fields(o->b, n, names, v);
    return false;   /* one row */
}

/* GET /api/{kind}/{key}: the object's fields, links, and a page of its
 * children. */
static void show(req *r, const char *want_kind)
{
    const char *key = r->arg[0];
    if (!api_visible(r, key))
        return;
    long limit, offset;
    if (!req_paging(r, 100, srv_max_results(r->s), &limit, &offset))
        return;
    obia_catalog *cat = srv_catalog(r->s);
    obia_buf b;
    obia_buf_init(&b, JSON_MAX);
    obia_buf_append_byte(&b, '{');
    show_out o = {.b = &b};
    obia_error err;
    obia_error_clear(&err);
    if (!obia_catalog_show(cat, key, show_row, &o, &err) && err.code != OBIA_E_OK) {
        obia_buf_free(&b);
        respond_obia_error(r, &err);
        return;
    }
    if (!o.any || strcmp(o.kind, want_kind) != 0) {
        obia_buf_free(&b);
        respond_error(r, 404, "not-found", "no %s %s", want_kind, key);
        return;
    }
    int k = kind_index(o.kind);
    obia_buf_append_str(&b, ",\"links\":{");
    size_t mark = b.len;
    link_to(&b, "self", k, o.key);
    for (int i = 0; i < 3 && i < k; i++)
        link_to(&b, i == 0 ? "collection" : i == 1 ? "individual" : "study", i, o.parents[i]);
    if (k == 3)
        obia_buf_appendf(&b, ",\"thumbnail\":\"/api/series/%s/thumbnail\","
                             "\"contact_sheet\":\"/api/series/%s/contact-sheet\"",
                         o.key, o.key);
    if (k == 4)
        obia_buf_appendf(&b, ",\"thumbnail\":\"/api/images/%s/thumbnail\","
                             "\"render\":\"/api/images/%s/render\"",
                         o.key, o.key);
    /* drop the comma after the brace */
    if (b.len > mark && b.data[mark] == ',')
        memmove(b.data + mark, b.data + mark + 1, --b.len - mark);
    obia_buf_append_byte(&b, '}');
    if (kinds[k].child_kind) {
        obia_buf items;
        obia_buf_init(&items, JSON_MAX);
        rows_out ro = {.b = &items, .kind = kind_index(kinds[k].child_kind)};
        obia_catalog_page p = {.limit = limit, .offset = offset, .public_only = r->public_only};
        long total = 0;
        if (!obia_catalog_children(cat, o.key, &p, row_out, &ro, &total, &err)) {
            obia_buf_free(&items);
            obia_buf_free(&b);
            respond_obia_error(r, &err);
            return;
        }
        obia_buf_append_str(&b, ",\"children\":{\"kind\":");
        obia_json_append(&b, kinds[k].child_kind);
        obia_buf_append_byte(&b, ',');
        page_json(&b, total, limit, offset);
        obia_buf_append(&b, items.data, items.len);
        obia_buf_append_str(&b, "]}");
        obia_buf_free(&items);
    }
    obia_buf_append_str(&b, "}\n");
    respond_json(r, 200, &b);
}

void api_collection(req *r) { show(r, "collection"); }
void api_individual(req *r) { show(r, "individual"); }
void api_study(req *r) { show(r, "study"); }
void api_series(req *r) { show(r, "series"); }
void api_image(req *r) { show(r, "image"); }

/* ---- search and statistics ------------------------------------------------------------------------ */

/* The filters of /api/search (and /api/stats): false (400 sent) on a bad one. */
static bool search_query(req *r, obia_catalog_query *q)
{
    memset(q, 0, sizeof *q);
    q->age_min = q->age_max = -1;
    static const char *const known[] = {"modality", "body_part", "sex", "age_min", "age_max",
                                        "disease", "collection", "q", "limit", "offset"};
    for (size_t i = 0; i < r->nquery; i++) {
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok = ok || strcmp(r->query[i].name, known[k]) == 0;
        if (!ok) {
            respond_error(r, 400, "bad-parameter",
                          "unknown parameter '%.60s' (modality, body_part, sex, age_min, age_max, "
                          "disease, collection, q, limit, offset)",
                          r->query[i].name);
            return false;
        }
        if (strlen(r->query[i].value) > 256) {
            respond_error(r, 400, "bad-parameter", "parameter %s is longer than 256 bytes",
                          r->query[i].name);
            return false;
        }
    }
    const char *v;
#define EMPTY_NULL(s) ((s) && *(s) ? (s) : NULL)
    q->modality = EMPTY_NULL(req_query(r, "modality"));
    q->body_part = EMPTY_NULL(req_query(r, "body_part"));
    q->sex = EMPTY_NULL(req_query(r, "sex"));
    q->disease = EMPTY_NULL(req_query(r, "disease"));
    q->collection = EMPTY_NULL(req_query(r, "collection"));
    q->text = EMPTY_NULL(req_query(r, "q"));
#undef EMPTY_NULL
    const char *names[2] = {"age_min", "age_max"};
    int *dest[2] = {&q->age_min, &q->age_max};
    for (int i = 0; i < 2; i++) {
        if (!(v = req_query(r, names[i])) || !*v)
            continue;
        int a = 0;
        const char *p = v;
        for (; *p >= '0' && *p <= '9' && a < 1000; p++)
            a = a * 10 + (*p - '0');
        if (*p || a > 200) {
            respond_error(r, 400, "bad-parameter", "%s must be whole years from 0 to 200, not '%.40s'",
                          names[i], v);
            return false;
        }
        *dest[i] = a;
    }
    q->public_only = r->public_only;
    return true;
}

typedef struct facet_out {
    obia_buf *b;
    char facet[32];
    bool any;
} facet_out;

/* Facet rows (facet, value, count columns) grouped into
 * "facet":[{"value":..., counts...}, ...]. */
static bool facet_row(void *ctx, int n, const char *const *names, const char *const *v)
{
    facet_out *o = ctx;
    const char *facet = col(n, names, v, "facet");
    if (!facet)
        return true;
    if (strcmp(facet, o->facet) != 0) {
        obia_buf_append_str(o->b, o->any ? "]," : "");
        obia_json_append(o->b, facet);
        obia_buf_append_str(o->b, ":[");
        snprintf(o->facet, sizeof o->facet, "%s", facet);
        o->any = true;
    } else {
        obia_buf_append_byte(o->b, ',');
    }
    obia_buf_append_byte(o->b, '{');
    bool first = true;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "facet") == 0)
            continue;
        if (!first)
            obia_buf_append_byte(o->b, ',');
        first = false;
        obia_json_append(o->b, strcmp(names[i], "series") == 0 && n == 3 ? "count" : names[i]);
        obia_buf_append_byte(o->b, ':');
        if (!v[i])
            obia_buf_append_str(o->b, "null");
        else if (strcmp(names[i], "value") != 0 && is_number(v[i]))
            obia_buf_append_str(o->b, v[i]);
        else
            obia_json_append(o->b, v[i]);
    }
    obia_buf_append_byte(o->b, '}');
    return !o->b->failed;
}

/* The key of an answer: what, who may see what, and the request's
 * parameters but paging. */
static void answer_key(req *r, const char *what, char *key, size_t cap)
{
    size_t k = (size_t)snprintf(key, cap, "%s|%d", what, r->public_only);
    for (size_t i = 0; i < r->nquery && k < cap; i++)
        if (strcmp(r->query[i].name, "limit") != 0 && strcmp(r->query[i].name, "offset") != 0)
            k += (size_t)snprintf(key + k, cap - k, "|%s=%s", r->query[i].name, r->query[i].value);
    if (k >= cap)
        key[0] = '\0';   /* too long to keep */
}

void api_search(req *r)
{
    obia_catalog_query q;
    long limit, offset;
    if (!search_query(r, &q) || !req_paging(r, 50, srv_max_results(r->s), &limit, &offset))
        return;
    q.limit = limit;
    q.offset = offset;
    obia_catalog *cat = srv_catalog(r->s);
    obia_error err;
    obia_error_clear(&err);
    /* the total and the facet counts are a pass over the catalog: kept
     * until it changes */
    char key[600];
    answer_key(r, "search", key, sizeof key);
    srv_cache_stamp stamp;
    bool stamped = key[0] && srv_cache_version(srv_answers(r->s), &stamp);
    obia_buf facets;
    obia_buf_init(&facets, JSON_MAX);
    long total = 0;
    bool ok = true;
    if (!stamped || !srv_cache_get(srv_answers(r->s), key, &stamp, &facets, &total)) {
        obia_buf_reset(&facets);
        facet_out f = {.b = &facets};
        ok = obia_catalog_search_count(cat, &q, &total, &err) &&
             obia_catalog_facets(cat, &q, facet_row, &f, &err);
        obia_buf_append_str(&facets, f.any ? "]}" : "}");
        if (ok && stamped && !facets.failed)
            srv_cache_put(srv_answers(r->s), key, &stamp, facets.data, facets.len, total);
    }
    obia_buf b;
    obia_buf_init(&b, JSON_MAX);
    obia_buf_append_byte(&b, '{');
    if (ok) {
        page_json(&b, total, limit, offset);
        rows_out o = {.b = &b, .kind = 3};
        ok = obia_catalog_search(cat, &q, row_out, &o, &err);
    }
    if (ok) {
        obia_buf_append_str(&b, "],\"facets\":{");
        obia_buf_append(&b, facets.data, facets.len);
        obia_buf_append_str(&b, "}\n");
    }
    obia_buf_free(&facets);
    if (!ok) {
        obia_buf_free(&b);
        respond_obia_error(r, &err);
        return;
    }
    respond_json(r, 200, &b);
}

typedef struct totals {
    long long individuals, studies, series, images;
} totals;

static bool stats_row(void *ctx, int n, const char *const *names, const char *const *v)
{
    void **pair = ctx;
    facet_out *f = pair[0];
    totals *t = pair[1];
    const char *facet = col(n, names, v, "facet");
    if (facet && strcmp(facet, "collection") == 0) {
        const char *x;
        if ((x = col(n, names, v, "individuals")))
            t->individuals += atoll(x);
        if ((x = col(n, names, v, "studies")))
            t->studies += atoll(x);
        if ((x = col(n, names, v, "series")))
            t->series += atoll(x);
        if ((x = col(n, names, v, "images")))
            t->images += atoll(x);
    }
    return facet_row(f, n, names, v);
}

void api_stats(req *r)
{
    const char *collection = req_query(r, "collection");
    for (size_t i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].name, "collection") != 0) {
            respond_error(r, 400, "bad-parameter", "unknown parameter '%.60s' (collection)",
                          r->query[i].name);
            return;
        }
    if (collection && *collection && !api_visible(r, collection))
        return;
    char key[600];
    answer_key(r, "stats", key, sizeof key);
    srv_cache_stamp stamp;
    bool stamped = key[0] && srv_cache_version(srv_answers(r->s), &stamp);
    obia_buf b;
    obia_buf_init(&b, JSON_MAX);
    if (stamped && srv_cache_get(srv_answers(r->s), key, &stamp, &b, NULL)) {
        respond_json(r, 200, &b);
        return;
    }
    obia_buf facets;
    obia_buf_init(&facets, JSON_MAX);
    facet_out f = {.b = &facets};
    totals t = {0};
    void *pair[2] = {&f, &t};
    obia_error err;
    obia_error_clear(&err);
    if (!obia_catalog_stats(srv_catalog(r->s), collection && *collection ? collection : NULL,
                            r->public_only, stats_row, pair, &err)) {
        obia_buf_free(&facets);
        obia_buf_free(&b);
        respond_obia_error(r, &err);
        return;
    }
    obia_buf_appendf(&b,
                     "{\"totals\":{\"individuals\":%lld,\"studies\":%lld,\"series\":%lld,"
                     "\"images\":%lld},\"facets\":{",
                     t.individuals, t.studies, t.series, t.images);
    obia_buf_append(&b, facets.data, facets.len);
    obia_buf_append_str(&b, f.any ? "]}}\n" : "}}\n");
    obia_buf_free(&facets);
    if (stamped && !b.failed)
        srv_cache_put(srv_answers(r->s), key, &stamp, b.data, b.len, 0);
    respond_json(r, 200, &b);
}

/* ---- images: thumbnails, rendering, contact sheets ------------------------------------------------- */

/* A whole number parameter in [lo, hi], def when absent; false (400 sent). */
static bool uint_param(req *r, const char *name, long lo, long hi, long def, long *out)
{
    const char *v = req_query(r, name);
    *out = def;
    if (!v)
        return true;
    long x = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9' && x <= hi; p++)
        x = x * 10 + (*p - '0');
    if (!*v || *p || x < lo || x > hi) {
        respond_error(r, 400, "bad-parameter", "%s must be a whole number from %ld to %ld, not '%.40s'",
                      name, lo, hi, v);
        return false;
    }
    *out = x;
    return true;
}

/* Respond with a stored object (PNG thumbnail) by its hash: ETag, caching,
 * 304 when the client has it. */
void respond_object(req *r, const char *hash, const char *content_type)
{
    char etag[72];
    snprintf(etag, sizeof etag, "\"%.64s\"", hash);
    const char *cache = r->public_only ? "public, max-age=3600" : "private, max-age=3600";
    const char *inm = req_header(r, "If-None-Match");
    if (inm && strstr(inm, etag)) {
        req_add_header(r, "ETag", etag);
        req_add_header(r, "Cache-Control", cache);
        respond_empty(r, 304);
        return;
    }
    char path[4200];
    int fd = -1;
    struct stat st;
    if (!obia_store_path(srv_store(r->s), hash, path, sizeof path) ||
        (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        respond_error(r, 500, "internal", "stored object %.64s cannot be read", hash);
        return;
    }
    /* (caching headers on the picture only, never on an error) */
    req_add_header(r, "ETag", etag);
    req_add_header(r, "Cache-Control", cache);
    respond_fd(r, 200, content_type, fd, 0, (uint64_t)st.st_size);
}

/* The thumbnail of a series or an image: the stored one at [ingest]
 * thumbnail_size (made and kept if missing); another size is rendered for
 * the request and not kept, so clients cannot fill the store. */
static void thumbnail(req *r, const char *uid)
{
    long stored = obia_config_int(srv_config(r->s), "ingest", "thumbnail_size");
    long size;
    if (!api_visible(r, uid) || !uint_param(r, "size", 16, 1024, stored ? stored : 256, &size))
        return;
    obia_catalog *cat = srv_catalog(r->s);
    obia_error err;
    obia_error_clear(&err);
    char hash[65];
    if (size != stored) {
        long frames = 1;
        char sop[65];
        bool is_image = obia_catalog_image_object(cat, uid, hash, &frames, &err);
        if (!is_image && err.code == OBIA_E_NOTFOUND) {
            obia_error_clear(&err);
            if (!obia_catalog_series_middle(cat, uid, sop, hash, &frames, &err)) {
                respond_render_error(r, &err);
                return;
            }
        } else if (!is_image) {
            respond_obia_error(r, &err);
            return;
        }
        image_req ir = {.frame = frames > 1 ? frames / 2 + 1 : 1, .size = size, .quality = 90};
        obia_buf png;
        obia_buf_init(&png, 64u << 20);
        if (!api_render(r, hash, &ir, &png, &err)) {
            obia_buf_free(&png);
            respond_render_error(r, &err);
            return;
        }
        req_add_header(r, "Cache-Control", r->public_only ? "public, max-age=3600" : "private, max-age=3600");
        respond_buf(r, 200, "image/png", &png);
        return;
    }
    bool found = false;
    if (!obia_catalog_thumbnail_get(cat, uid, (uint32_t)size, hash, &found, &err)) {
        respond_obia_error(r, &err);
        return;
    }
    if (!found || !obia_store_has(srv_store(r->s), hash)) {
        srv_write_lock(r->s);
        bool ok = obia_thumbnail_with(srv_catalog_writer(r->s), srv_store(r->s), uid,
                                      (uint32_t)size, false, hash, &err);
        srv_write_unlock(r->s);
        if (!ok) {
            if (err.code == OBIA_E_NOTFOUND)
                respond_error(r, 404, "no-image", "%s has no image to show: %s", uid, err.message);
            else
                respond_error(r, err.code == OBIA_E_UNSUPPORTED ? 422 : 500, "render-failed",
                              "cannot render %s: %s", uid, err.message);
            return;
        }
    }
    respond_object(r, hash, "image/png");
}

void api_series_thumbnail(req *r) { thumbnail(r, r->arg[0]); }
void api_image_thumbnail(req *r) { thumbnail(r, r->arg[0]); }

/* frame, size, window=center,width, format (or Accept): false (answered). */
bool api_image_params(req *r, long frames, image_req *ir)
{
    memset(ir, 0, sizeof *ir);
    if (!uint_param(r, "frame", 1, frames > 0 ? frames : 1, frames > 1 ? frames / 2 + 1 : 1, &ir->frame) ||
        !uint_param(r, "size", 0, 8192, 512, &ir->size) ||
        !uint_param(r, "quality", 1, 100, 90, &ir->quality))
        return false;
    const char *w = req_query(r, "window");
    if (w) {
        char *end;
        ir->center = strtod(w, &end);
        if (end == w || *end != ',' || (ir->width = strtod(end + 1, &end), *end) || !(ir->width > 0) ||
            !(ir->center > -1e9 && ir->center < 1e9) || !(ir->width < 1e9)) {
            respond_error(r, 400, "bad-parameter", "window must be CENTER,WIDTH (width > 0), not '%.40s'",
                          w);
            return false;
        }
        ir->window = true;
    }
    const char *fmt = req_query(r, "format");
    const char *accept = req_accept(r);
    if (fmt) {
        if (strcmp(fmt, "jpeg") != 0 && strcmp(fmt, "png") != 0) {
            respond_error(r, 400, "bad-parameter", "format must be png or jpeg, not '%.20s'", fmt);
            return false;
        }
        ir->jpeg = strcmp(fmt, "jpeg") == 0;
    } else if (accept && strstr(accept, "image/jpeg") && !strstr(accept, "image/png")) {
        ir->jpeg = true;
    }
    return true;
}

/* Render frame (1-based) of a stored image; the encoded picture in out. */
bool api_render(req *r, const char *hash, const image_req *ir, obia_buf *out, obia_error *err)
{
    char path[4200];
    if (!obia_store_path(srv_store(r->s), hash, path, sizeof path))
        return obia_error_set(err, OBIA_E_IO, "invalid object %.64s", hash);
    obia_file *f = obia_file_read(path, NULL, err);
    if (!f)
        return false;
    obia_frame fr = {0};
    obia_image im = {0};
    obia_render_options ro;
    obia_render_options_init(&ro);
    ro.size = (uint32_t)ir->size;
    ro.window = ir->window;
    ro.center = ir->center;
    ro.width = ir->width;
    bool ok = obia_pixel_decode(f, (uint32_t)(ir->frame - 1), &fr, err) &&
              obia_render(f, &fr, &ro, &im, err) &&
              (ir->jpeg ? obia_image_write_jpeg(&im, (int)ir->quality, obia_sink_buf, out, err)
                        : obia_image_write_png(&im, obia_sink_buf, out, err));
    obia_image_free(&im);
    obia_frame_free(&fr);
    obia_file_free(f);
    return ok;
}

void respond_render_error(req *r, const obia_error *err)
{
    if (err->code == OBIA_E_NOTFOUND)
        respond_error(r, 404, "no-image", "%s", err->message);
    else if (err->code == OBIA_E_UNSUPPORTED || err->code == OBIA_E_FORMAT ||
             err->code == OBIA_E_TRUNCATED)
        respond_error(r, 422, "render-failed", "%s", err->message);
    else
        respond_obia_error(r, err);
}

void api_render_frame(req *r)
{
    const char *uid = r->arg[0];
    if (!api_visible(r, uid))
        return;
    char hash[65];
    long frames = 1;
    obia_error err;
    obia_error_clear(&err);
    if (!obia_catalog_image_object(srv_catalog(r->s), uid, hash, &frames, &err)) {
        respond_obia_error(r, &err);
        return;
    }
    image_req ir;
    if (!api_image_params(r, frames, &ir))
        return;
    obia_buf out;
    obia_buf_init(&out, 512u << 20);
    if (!api_render(r, hash, &ir, &out, &err)) {
        obia_buf_free(&out);
        respond_render_error(r, &err);
        return;
    }
    req_add_header(r, "Cache-Control", r->public_only ? "public, max-age=3600" : "private, max-age=3600");
    req_add_header(r, "Vary", "Accept");
    respond_buf(r, 200, ir.jpeg ? "image/jpeg" : "image/png", &out);
}

#define CONTACT_SHEET_MAX 1000

static bool count_row(void *ctx, int n, const char *const *names, const char *const *v)
{
    return true;
}

void api_contact_sheet(req *r)
{
    const char *uid = r->arg[0];
    long cell, columns;
    if (!api_visible(r, uid) || !uint_param(r, "cell", 16, 512, 128, &cell) ||
        !uint_param(r, "columns", 1, 64, 8, &columns))
        return;
    /* every image is decoded: a sheet is for series of a reasonable size */
    long nimages = 0;
    obia_catalog_page pg = {.limit = 1, .offset = 0, .public_only = r->public_only};
    obia_error cerr;
    obia_error_clear(&cerr);
    if (!obia_catalog_children(srv_catalog(r->s), uid, &pg, count_row, NULL, &nimages, &cerr)) {
        respond_obia_error(r, &cerr);
        return;
    }
    if (nimages > CONTACT_SHEET_MAX) {
        respond_error(r, 413, "too-large",
                      "a contact sheet shows at most %d images; series %s has %ld (see its "
                      "thumbnails page by page: /api/series/%s?limit=&offset=)",
                      CONTACT_SHEET_MAX, uid, nimages, uid);
        return;
    }
    obia_buf png;
    obia_buf_init(&png, 512u << 20);
    uint64_t failed = 0;
    obia_error err;
    obia_error_clear(&err);
    if (!obia_contact_sheet_series(srv_archive(r->s), uid, (uint32_t)cell, (uint32_t)columns, &png,
                                   &failed, &err)) {
        obia_buf_free(&png);
        respond_render_error(r, &err);
        return;
    }
    char n[32];
    snprintf(n, sizeof n, "%llu", (unsigned long long)failed);
    req_add_header(r, "X-Obia-Unrendered", n);
    respond_buf(r, 200, "image/png", &png);
}

