/* The server's core: libmicrohttpd set up (thread per connection, limits,
 * TLS), each request parsed, routed and checked for its scope, responses
 * queued on the handler's second call (so keep-alive works), an access log,
 * and shutdown on SIGTERM that lets the requests in flight finish. */
#include "server.h"
#include "parse.h"

#include "obia/ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

struct srv {
    obia_archive *a;
    obia_catalog *cat;           /* queries only: each thread reads on its own connection */
    obia_catalog *writer;        /* writes, under write_lock (a transaction open on it
                                  * would send the other threads' queries to it) */
    obia_store *store;
    const obia_config *conf;
    struct MHD_Daemon *d;
    unsigned scopes;             /* granted to every request (the access mode) */
    size_t max_url;
    uint64_t max_body;
    bool gzip;
    FILE *log;                   /* access log, or NULL */
    pthread_mutex_t lock;        /* the log and the counts below */
    pthread_cond_t idle;
    long inflight;               /* requests begun and not completed */
    char base[300];              /* http(s)://listen, when the Host header is absent */
    char web[4096];              /* static files */
    char upload_collection[16];
    uint64_t max_instance;
    long max_results;
    pthread_mutex_t write_lock;  /* the catalog's one writer */
    uint64_t upload_memory;      /* [server] upload_memory */
    uint64_t upload_held;        /* bytes of upload parts in memory now (lock) */
    srv_cache *answers;
};

srv_cache *srv_answers(const srv *s) { return s->answers; }

bool srv_upload_reserve(srv *s, uint64_t n)
{
    pthread_mutex_lock(&s->lock);
    bool ok = s->upload_held + n <= s->upload_memory;
    if (ok)
        s->upload_held += n;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

void srv_upload_release(srv *s, uint64_t n)
{
    pthread_mutex_lock(&s->lock);
    s->upload_held -= n <= s->upload_held ? n : s->upload_held;
    pthread_mutex_unlock(&s->lock);
}

void srv_write_lock(srv *s) { pthread_mutex_lock(&s->write_lock); }
void srv_write_unlock(srv *s) { pthread_mutex_unlock(&s->write_lock); }

const char *srv_web(const srv *s) { return s->web; }
const char *srv_upload_collection(const srv *s) { return s->upload_collection; }
uint64_t srv_max_instance(const srv *s) { return s->max_instance; }
long srv_max_results(const srv *s) { return s->max_results; }

obia_archive *srv_archive(const srv *s) { return s->a; }
obia_catalog *srv_catalog(const srv *s) { return s->cat; }
obia_catalog *srv_catalog_writer(const srv *s) { return s->writer; }
obia_store *srv_store(const srv *s) { return s->store; }
const obia_config *srv_config(const srv *s) { return s->conf; }

/* A request's life beyond what handlers see. */
typedef struct request {
    req r;
    char *uri;                       /* as received */
    const route *rt;
    int stage;                       /* 0 new, 1 reading the body, 2 answered */
    struct MHD_Response *resp;       /* made by a respond_*, queued by the core */
    unsigned resp_status;
    struct {
        char *name, *value;
    } headers[16];
    size_t nheaders;
    uint64_t body_len;               /* bytes of body received */
    bool body_failed;                /* the body function stopped the reading */
    struct timespec start;
    void (*cleanup)(void *ctx);      /* of handler_ctx */
} request;

static request *request_of(req *r) { return (request *)r; }

/* ---- request helpers ------------------------------------------------------------------- */

const char *req_query(const req *r, const char *name)
{
    for (size_t i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

const char *req_header(const req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_accept(const req *r)
{
    /* PS3.18 8.3.3.1: an accept query parameter stands for the header */
    const char *q = req_query(r, "accept");
    return q && *q ? q : req_header(r, "Accept");
}

const char *req_base_url(req *r)
{
    const char *host = req_header(r, "Host");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_PROTOCOL);
    bool tls = ci != NULL;
    if (!host || !*host || strlen(host) > 255 || strpbrk(host, " \"<>\\/'"))
        return r->s->base;
    size_t n = strlen(host) + 16;
    char *b = obia_arena_alloc(r->arena, n);
    if (!b)
        return r->s->base;
    snprintf(b, n, "%s://%s", tls ? "https" : "http", host);
    return b;
}

/* A decimal in [0, max] from an untrusted string. */
static bool parse_long(const char *s, long max, long *out)
{
    if (!s || !*s)
        return false;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (max - (*p - '0')) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

bool req_paging(req *r, long def_limit, long max_limit, long *limit, long *offset)
{
    const char *l = req_query(r, "limit"), *o = req_query(r, "offset");
    *limit = def_limit;
    *offset = 0;
    if (l && (!parse_long(l, max_limit, limit) || *limit < 1)) {
        respond_error(r, 400, "bad-parameter", "limit must be a number from 1 to %ld, not '%.40s'",
                      max_limit, l);
        return false;
    }
    if (o && !parse_long(o, 1000000000L, offset)) {
        respond_error(r, 400, "bad-parameter", "offset must be a number from 0, not '%.40s'", o);
        return false;
    }
    return true;
}

/* ---- responses ----------------------------------------------------------------------------- */

void req_add_header(req *r, const char *name, const char *value)
{
    request *q = request_of(r);
    if (q->nheaders >= sizeof q->headers / sizeof q->headers[0])
        return;
    q->headers[q->nheaders].name = obia_arena_strndup(r->arena, name, strlen(name));
    q->headers[q->nheaders].value = obia_arena_strndup(r->arena, value, strlen(value));
    if (q->headers[q->nheaders].name && q->headers[q->nheaders].value)
        q->nheaders++;
}

static void set_response(req *r, unsigned status, struct MHD_Response *resp,
                         const char *content_type)
{
    request *q = request_of(r);
    if (r->responded) {
        if (resp)
            MHD_destroy_response(resp);
        return;
    }
    r->responded = true;
    if (!resp) {
        /* out of memory: an empty 503 made from static storage */
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = 503;
        content_type = NULL;
        if (!resp)
            return;
    }
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; i < q->nheaders; i++)
        MHD_add_response_header(resp, q->headers[i].name, q->headers[i].value);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    q->resp = resp;
    q->resp_status = status;
    r->status = status;
}

/* Whether the client takes gzip (Accept-Encoding, q not 0). */
static bool accepts_gzip(req *r)
{
    const char *ae = req_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (!ae)
        return false;
    for (const char *p = ae; (p = strcasestr(p, "gzip")) != NULL; p += 4) {
        const char *e = p + 4;
        while (*e == ' ')
            e++;
        if (*e == ';') {
            const char *qv = strstr(e, "q=");
            if (qv && (strncmp(qv, "q=0", 3) == 0 && strspn(qv + 3, ".0") == strcspn(qv + 3, ",")))
                return false;
        }
        return true;
    }
    return false;
}

static bool gzip_buf(const obia_buf *in, obia_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    size_t bound = deflateBound(&z, in->len) + 32;
    obia_buf_init(out, bound + 1);
    bool ok = obia_buf_reserve(out, bound);
    if (ok) {
        z.next_in = in->data;
        z.avail_in = (uInt)in->len;
        z.next_out = out->data;
        z.avail_out = (uInt)bound;
        ok = deflate(&z, Z_FINISH) == Z_STREAM_END;
        out->len = bound - z.avail_out;
    }
    deflateEnd(&z);
    if (!ok)
        obia_buf_free(out);
    return ok;
}

void respond_buf(req *r, unsigned status, const char *content_type, obia_buf *body)
{
    if (body->failed) {
        obia_buf_free(body);
        respond_error(r, 500, "too-large", "the response grew beyond its limit");
        return;
    }
    bool text = content_type && (strstr(content_type, "json") || strncmp(content_type, "text/", 5) == 0);
    if (text && r->s->gzip && body->len > 1024 && accepts_gzip(r)) {
        obia_buf z;
        if (gzip_buf(body, &z)) {
            obia_buf_free(body);
            *body = z;
            req_add_header(r, "Content-Encoding", "gzip");
        }
    }
    if (text)
        req_add_header(r, "Vary", "Accept-Encoding");
    size_t len = body->len;
    void *data = body->data;
    struct MHD_Response *resp;
    if (data) {
        resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(data);
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    body->data = NULL;
    body->len = body->cap = 0;
    r->bytes = len;
    set_response(r, status, resp, content_type);
}

void respond_json(req *r, unsigned status, obia_buf *body)
{
    respond_buf(r, status, "application/json", body);
}

void respond_error(req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    obia_buf b;
    obia_buf_init(&b, 1u << 16);
    obia_buf_append_str(&b, "{\"error\":");
    obia_json_append(&b, code);
    obia_buf_append_str(&b, ",\"message\":");
    obia_json_append(&b, msg);
    obia_buf_append_str(&b, "}\n");
    respond_json(r, status, &b);
}

/* The one table from library errors to HTTP statuses. */
static const struct {
    obia_status code;
    unsigned http;
    const char *name;
} error_statuses[] = {
    {OBIA_E_NOTFOUND, 404, "not-found"},
    {OBIA_E_ARG, 400, "bad-request"},
    {OBIA_E_FORMAT, 400, "malformed"},
    {OBIA_E_TRUNCATED, 400, "truncated"},
    {OBIA_E_CHARSET, 400, "bad-charset"},
    {OBIA_E_LIMIT, 413, "too-large"},
    {OBIA_E_UNSUPPORTED, 415, "unsupported"},
    {OBIA_E_NOMEM, 503, "out-of-memory"},
    {OBIA_E_IO, 500, "internal"},
};

unsigned srv_error_status(obia_status code, const char **name)
{
    for (size_t i = 0; i < sizeof error_statuses / sizeof error_statuses[0]; i++)
        if (error_statuses[i].code == code) {
            if (name)
                *name = error_statuses[i].name;
            return error_statuses[i].http;
        }
    if (name)
        *name = "internal";
    return 500;
}

void respond_obia_error(req *r, const obia_error *err)
{
    const char *name;
    unsigned status = srv_error_status(err->code, &name);
    respond_error(r, status, name, "%s", err->message[0] ? err->message : obia_status_text(err->code));
}

void respond_empty(req *r, unsigned status)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    set_response(r, status, resp, NULL);
}

void respond_fd(req *r, unsigned status, const char *content_type, int fd, uint64_t offset,
                uint64_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!resp)
        close(fd);
    r->bytes = len;
    set_response(r, status, resp, content_type);
}

typedef struct stream_ctx {
    stream_fill_fn fill;
    void *ctx;
    void (*done)(void *ctx);
    req *r;
} stream_ctx;

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_ctx *s = cls;
    long n = s->fill(s->ctx, pos, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n;
}

static void stream_free(void *cls)
{
    stream_ctx *s = cls;
    if (s->done)
        s->done(s->ctx);
    free(s);
}

void respond_stream(req *r, unsigned status, const char *content_type, stream_fill_fn fill,
                    void *ctx, void (*done)(void *ctx))
{
    stream_ctx *s = calloc(1, sizeof *s);
    if (!s) {
        if (done)
            done(ctx);
        set_response(r, 503, NULL, NULL);
        return;
    }
    s->fill = fill;
    s->ctx = ctx;
    s->done = done;
    s->r = r;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_reader, s, stream_free);
    if (!resp)
        stream_free(s);
    set_response(r, status, resp, content_type);
}

void req_set_cleanup(req *r, void (*cleanup)(void *ctx))
{
    request_of(r)->cleanup = cleanup;
}

/* ---- routing ---------------------------------------------------------------------------------- */

/* Whether the path's segments match the pattern's; captures into r->arg.
 * A last pattern segment "{*}" matches one or more segments (their rest). */
static bool route_match(const route *rt, req *r)
{
    const char *p = rt->pattern;
    size_t i = 0;
    r->narg = 0;
    while (*p == '/')
        p++;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 3 && strncmp(p, "{*}", 3) == 0) {
            if (i >= r->nseg)
                return false;
            /* the rest of the path, from segment i */
            size_t len = 0;
            for (size_t k = i; k < r->nseg; k++)
                len += strlen(r->seg[k]) + 1;
            char *rest = obia_arena_alloc(r->arena, len + 1);
            if (!rest)
                return false;
            rest[0] = '\0';
            for (size_t k = i; k < r->nseg; k++) {
                if (k > i)
                    strcat(rest, "/");
                strcat(rest, r->seg[k]);
            }
            if (r->narg < sizeof r->arg / sizeof r->arg[0])
                r->arg[r->narg++] = rest;
            return true;
        }
        if (i >= r->nseg)
            return false;
        if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
            if (r->narg < sizeof r->arg / sizeof r->arg[0])
                r->arg[r->narg++] = r->seg[i];
        } else if (strlen(r->seg[i]) != n || strncmp(r->seg[i], p, n) != 0) {
            return false;
        }
        i++;
        p += n;
        while (*p == '/')
            p++;
    }
    return i == r->nseg;
}

/* The route for the request; *allow gets the methods of the routes that
 * have its path (empty: no route has it, 404 rather than 405). */
static const route *route_find(req *r, char *allow, size_t cap)
{
    size_t n;
    const route *routes = srv_routes(&n);
    const char *method = r->head ? "GET" : r->method;
    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!route_match(&routes[i], r))
            continue;
        if (strcmp(routes[i].method, method) == 0)
            return &routes[i];
        if (!strstr(allow, routes[i].method)) {
            size_t k = strlen(allow);
            snprintf(allow + k, cap - k, "%s%s%s", k ? ", " : "", routes[i].method,
                     strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
        }
    }
    return NULL;
}

void req_client_addr(const req *r, char *out, size_t cap)
{
    snprintf(out, cap, "-");
    const union MHD_ConnectionInfo *ci =
        r->conn ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* ---- the access log ------------------------------------------------------------------------------ */

static void log_request(srv *s, request *q, unsigned long long ms10)
{
    if (!s->log)
        return;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* the target as received, cut, control characters and spaces escaped */
    char target[1100];
    size_t k = 0;
    for (const char *p = q->uri ? q->uri : "-"; *p && k + 5 < sizeof target; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7F || c == '"')
            k += (size_t)snprintf(target + k, sizeof target - k, "%%%02X", c);
        else
            target[k++] = (char)c;
    }
    target[k] = '\0';
    char addr[INET6_ADDRSTRLEN];
    req_client_addr(&q->r, addr, sizeof addr);
    pthread_mutex_lock(&s->lock);
    fprintf(s->log, "%s %s %s %s %u %llu %llu.%llums\n", when, addr,
            q->r.method ? q->r.method : "-", target, q->r.status, (unsigned long long)q->r.bytes,
            ms10 / 10, ms10 % 10);
    fflush(s->log);
    pthread_mutex_unlock(&s->lock);
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------------------- */

/* The start of every request, with the target as received. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    srv *s = cls;
    request *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &q->start);
    q->r.s = s;
    q->r.conn = conn;
    q->r.arena = obia_arena_new(16 * 1024);
    size_t n = strlen(uri);
    q->uri = q->r.arena ? obia_arena_strndup(q->r.arena, uri, n) : NULL;
    pthread_mutex_lock(&s->lock);
    s->inflight++;
    pthread_mutex_unlock(&s->lock);
    return q;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv *s = cls;
    request *q = *con_cls;
    if (!q)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (now.tv_sec - q->start.tv_sec) * 1000000000LL + (now.tv_nsec - q->start.tv_nsec);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && q->r.status == 0)
        q->r.status = 499;   /* the client went away before an answer */
    log_request(s, q, (unsigned long long)(ns / 100000));
    if (q->cleanup && q->r.handler_ctx)
        q->cleanup(q->r.handler_ctx);
    if (q->resp)
        MHD_destroy_response(q->resp);
    obia_arena_free(q->r.arena);
    free(q);
    *con_cls = NULL;
    pthread_mutex_lock(&s->lock);
    if (--s->inflight == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result queue(request *q)
{
    q->stage = 2;
    if (!q->resp)
        respond_error(&q->r, 500, "internal", "the request was not answered");
    if (!q->resp)
        return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(q->r.conn, q->resp_status, q->resp);
    MHD_destroy_response(q->resp);
    q->resp = NULL;
    return ok;
}

/* The first call: parse, route, check scope and limits. False: answered. */
static bool begin(srv *s, request *q, const char *method)
{
    req *r = &q->r;
    r->method = obia_arena_strndup(r->arena, method, strlen(method));
    r->head = strcmp(method, "HEAD") == 0;
    r->scopes = s->scopes;
    r->public_only = !(s->scopes & SCOPE_READ_ALL);
    if (!r->method) {
        set_response(r, 503, NULL, NULL);
        return false;
    }
    if (strlen(q->uri) > s->max_url) {
        respond_error(r, 414, "uri-too-long", "the request target is %zu bytes, more than %zu",
                      strlen(q->uri), s->max_url);
        return false;
    }
    obia_error err;
    obia_error_clear(&err);
    if (!http_uri_parse(q->uri, r->arena, r, &err)) {
        respond_error(r, err.code == OBIA_E_LIMIT ? 414 : 400, "bad-uri", "%s", err.message);
        return false;
    }
    char allow[64];
    q->rt = route_find(r, allow, sizeof allow);
    if (!q->rt) {
        if (allow[0]) {
            req_add_header(r, "Allow", allow);
            respond_error(r, 405, "method-not-allowed", "%s is not allowed on %s", r->method, r->path);
        } else {
            respond_error(r, 404, "not-found", "no such endpoint: %s (GET /api lists them)", r->path);
        }
        return false;
    }
    if (!(q->rt->scope & r->scopes)) {
        respond_error(r, 403, "forbidden",
                      "this server does not allow %s %s (its access mode is public; uploads and "
                      "unreleased data need access 'all')",
                      r->method, q->rt->pattern);
        return false;
    }
    const char *cl = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    long clen;
    if (cl && parse_long(cl, 0x7FFFFFFFFFFFFFFFL, &clen) && (uint64_t)clen > s->max_body) {
        respond_error(r, 413, "too-large", "the body is %ld bytes, more than [server] max_body (%llu)",
                      clen, (unsigned long long)s->max_body);
        return false;
    }
    if (q->rt->begin && !q->rt->begin(r))
        return false;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    srv *s = cls;
    request *q = *con_cls;
    if (!q || !q->r.arena || !q->uri)
        return MHD_NO;   /* out of memory: drop the connection */
    req *r = &q->r;
    if (q->stage == 0) {
        q->stage = 1;
        if (!begin(s, q, method)) {
            /* answered at once: the connection closes after it if a body
             * was coming */
            q->body_failed = true;
            return queue(q);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* (libmicrohttpd takes a response only before the body or after
         * it: a request refused midway has the rest of its body read and
         * dropped, up to max_body, and its answer queued at the end) */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        q->body_len += n;
        if (q->body_len > s->max_body)
            return MHD_NO;   /* past the limit: the connection is closed */
        if (q->body_failed)
            return MHD_YES;
        if (!q->rt->body) {
            q->body_failed = true;
            respond_error(r, 400, "unexpected-body", "%s %s takes no body", r->method, r->path);
            return MHD_YES;
        }
        if (!q->rt->body(r, upload_data, n))
            q->body_failed = true;
        return MHD_YES;
    }
    /* the whole request is in */
    if (q->stage == 2)
        return MHD_YES;
    if (!q->body_failed) {
        if (q->rt->body && !q->rt->body(r, NULL, 0))
            q->body_failed = true;
        if (!r->responded)
            q->rt->handler(r);
    }
    return queue(q);
}

/* ---- starting and stopping ------------------------------------------------------------------------ */

static bool parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, obia_error *err)
{
    char host[256];
    const char *colon = strrchr(s, ':');
    long port;
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host ||
        !parse_long(colon + 1, 65535, &port))
        return obia_error_set(err, OBIA_E_ARG, "listen address '%s' is not ADDRESS:PORT", s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return obia_error_set(err, OBIA_E_ARG, "listen address '%s': not an IPv6 address", s);
        *len = sizeof *a6;
        return true;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return obia_error_set(err, OBIA_E_ARG,
                              "listen address '%s': not an IPv4 address (IPv6 in brackets)", s);
    *len = sizeof *a4;
    return true;
}

static char *read_text_file(const char *path, obia_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        obia_error_set(err, OBIA_E_IO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    obia_buf b;
    obia_buf_init(&b, 1u << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        obia_buf_append(&b, chunk, n);
    fclose(f);
    if (b.failed) {
        obia_buf_free(&b);
        obia_error_set(err, OBIA_E_LIMIT, "%s is larger than 1 MiB", path);
        return NULL;
    }
    return obia_buf_cstr(&b);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* a failed bind is said once, by obia_server_run, with the address */
    if (strncmp(msg, "Failed to bind to port", 22) == 0)
        return;
    fprintf(stderr, "obia serve: %s\n", msg);
}

bool obia_server_run(const obia_server_options *opt, obia_error *err)
{
    srv s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.idle, NULL);
    pthread_mutex_init(&s.write_lock, NULL);
    char *cert = NULL, *key = NULL;
    bool ok = (s.a = obia_archive_open(opt->archive, err)) != NULL;
    char path[4200];
    if (ok) {
        s.conf = obia_archive_config(s.a);
        ok = (s.cat = obia_catalog_open(obia_archive_file(s.a, "catalog.db", path, sizeof path),
                                        false, err)) != NULL &&
             (s.writer = obia_catalog_open(path, false, err)) != NULL;
    if (ok)
        s.answers = srv_cache_new(path);   /* (none: nothing is kept) */
    }
    if (ok) {
        size_t nrep;
        const char *const *reps = obia_archive_replicas(s.a, &nrep);
        ok = (s.store = obia_store_open(obia_archive_file(s.a, "store", path, sizeof path), reps,
                                        nrep, err)) != NULL;
    }
    const char *listen = NULL, *access = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    if (ok) {
        listen = opt->listen ? opt->listen : obia_config_string(s.conf, "server", "listen");
        access = opt->access ? opt->access : obia_config_string(s.conf, "server", "access");
        ok = parse_listen(listen, &ss, &sslen, err);
    }
    if (ok && strcmp(access, "public") != 0 && strcmp(access, "all") != 0)
        ok = obia_error_set(err, OBIA_E_ARG, "access must be 'public' or 'all', not '%s'", access);
    if (ok) {
        s.scopes = strcmp(access, "all") == 0 ? SCOPE_PUBLIC | SCOPE_READ_ALL | SCOPE_UPLOAD
                                              : SCOPE_PUBLIC;
        s.max_url = (size_t)obia_config_int(s.conf, "server", "max_url");
        s.max_body = (uint64_t)obia_config_int(s.conf, "server", "max_body");
        s.gzip = obia_config_bool(s.conf, "server", "gzip");
        const char *web = opt->web ? opt->web : obia_config_string(s.conf, "server", "web");
        snprintf(s.web, sizeof s.web, "%s", web && *web ? web : OBIA_WEB_DIR);
        snprintf(s.upload_collection, sizeof s.upload_collection, "%s",
                 obia_config_string(s.conf, "server", "upload_collection"));
        s.max_instance = (uint64_t)obia_config_int(s.conf, "server", "max_instance");
        s.max_results = (long)obia_config_int(s.conf, "server", "max_results");
        s.upload_memory = (uint64_t)obia_config_int(s.conf, "server", "upload_memory");
        const char *logname = obia_config_string(s.conf, "server", "access_log");
        if (logname && strcmp(logname, "-") == 0) {
            s.log = stderr;
        } else if (logname && *logname) {
            const char *lp = logname[0] == '/' ? logname
                                               : obia_archive_file(s.a, logname, path, sizeof path);
            s.log = fopen(lp, "a");
            if (!s.log)
                ok = obia_error_set(err, OBIA_E_IO, "cannot open the access log %s: %s", lp,
                                    strerror(errno));
        }
    }
    const char *cert_path = opt->tls_cert, *key_path = opt->tls_key;
    if (ok && !cert_path && *obia_config_string(s.conf, "server", "tls_cert"))
        cert_path = obia_config_string(s.conf, "server", "tls_cert");
    if (ok && !key_path && *obia_config_string(s.conf, "server", "tls_key"))
        key_path = obia_config_string(s.conf, "server", "tls_key");
    if (ok && (cert_path || key_path)) {
        if (!cert_path || !key_path)
            ok = obia_error_set(err, OBIA_E_ARG, "TLS needs both a certificate and a key");
        ok = ok && (cert = read_text_file(cert_path, err)) != NULL &&
             (key = read_text_file(key_path, err)) != NULL;
    }
    snprintf(s.base, sizeof s.base, "%s://%s", cert ? "https" : "http", listen ? listen : "");

    /* signals are taken by this thread alone (sigwait): block them before
     * libmicrohttpd's threads start, so they inherit the mask */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    signal(SIGPIPE, SIG_IGN);

    if (ok) {
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
        if (ss.ss_family == AF_INET6)
            flags |= MHD_USE_IPv6;
        if (cert)
            flags |= MHD_USE_TLS;
        struct MHD_OptionItem tls_opts[] = {
            {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
            {cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, key},
            {MHD_OPTION_END, 0, NULL},
        };
        s.d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_URI_LOG_CALLBACK, on_uri, &s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
            MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)obia_config_int(s.conf, "server", "max_connections"),
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)obia_config_int(s.conf, "server", "timeout"),
            MHD_OPTION_CONNECTION_MEMORY_LIMIT,
            (size_t)obia_config_int(s.conf, "server", "max_header"),
            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
        if (!s.d)
            ok = obia_error_set(err, OBIA_E_IO, "cannot listen on %s: %s", listen,
                                errno ? strerror(errno) : "libmicrohttpd refused the settings");
    }
    if (ok) {
        if (!opt->quiet)
            fprintf(stderr, "obia serve: %s on %s (access %s), archive %s\n",
                    cert ? "https" : "http", listen, access, obia_archive_dir(s.a));
        /* SIGHUP reopens the access log (after rotation); SIGTERM or
         * SIGINT stop */
        int sig = 0;
        char logpath[4200] = "";
        const char *logname = obia_config_string(s.conf, "server", "access_log");
        if (s.log && s.log != stderr)
            snprintf(logpath, sizeof logpath, "%s",
                     logname[0] == '/' ? logname
                                       : obia_archive_file(s.a, logname, path, sizeof path));
        while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
            if (!logpath[0])
                continue;
            FILE *nl = fopen(logpath, "a");
            if (!nl) {
                fprintf(stderr, "obia serve: cannot reopen the access log %s: %s\n", logpath,
                        strerror(errno));
                continue;
            }
            pthread_mutex_lock(&s.lock);
            fclose(s.log);
            s.log = nl;
            pthread_mutex_unlock(&s.lock);
        }
        if (!opt->quiet)
            fprintf(stderr, "obia serve: %s: finishing the requests in flight\n", strsignal(sig));
        /* stop taking connections; let what is in flight finish (a second
         * SIGTERM or SIGINT stops waiting) */
        MHD_socket lfd = MHD_quiesce_daemon(s.d);
        if (lfd != MHD_INVALID_SOCKET)
            close(lfd);
        long wait_s = (long)obia_config_int(s.conf, "server", "shutdown_timeout");
        struct timespec until, slice;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_s;
        const struct timespec zero = {0, 0};
        bool again = false;
        pthread_mutex_lock(&s.lock);
        while (s.inflight > 0 && !again) {
            clock_gettime(CLOCK_REALTIME, &slice);
            if (slice.tv_sec >= until.tv_sec)
                break;
            slice.tv_sec += 1;
            pthread_cond_timedwait(&s.idle, &s.lock, &slice);
            pthread_mutex_unlock(&s.lock);
            int more = sigtimedwait(&sigs, NULL, &zero);
            again = more == SIGTERM || more == SIGINT;
            pthread_mutex_lock(&s.lock);
        }
        long left = s.inflight;
        pthread_mutex_unlock(&s.lock);
        if (left && !opt->quiet)
            fprintf(stderr, "obia serve: %ld requests still running %s; stopping\n", left,
                    again ? "at a second signal" : "after [server] shutdown_timeout");
        MHD_stop_daemon(s.d);
        if (!opt->quiet)
            fprintf(stderr, "obia serve: stopped\n");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (s.log && s.log != stderr)
        fclose(s.log);
    free(cert);
    free(key);
    obia_store_close(s.store);
    srv_cache_free(s.answers);
    obia_catalog_close(s.writer);
    obia_catalog_close(s.cat);
    obia_archive_close(s.a);
    pthread_cond_destroy(&s.idle);
    pthread_mutex_destroy(&s.write_lock);
    pthread_mutex_destroy(&s.lock);
    return ok;
}
