/*
 * The HTTP server: libmicrohttpd underneath, one route table over it.
 *
 * A request goes: raw URI (parsed by server/parse.c: path segments
 * percent-decoded, query string split into parameters) -> route table (method and path
 * pattern) -> access scope -> handler. A handler answers with one of the
 * respond_* functions exactly once; an error becomes a JSON body
 * { "error": code, "message": text } with the status of its kind.
 *
 * Handlers that take a body (STOW-RS) have a body function called with the
 * body in pieces as it arrives; nothing holds the whole body.
 */
#ifndef OBIA_SERVER_H
#define OBIA_SERVER_H

#include "obia/archive.h"
#include "obia/catalog.h"
#include "obia/store.h"
#include "obia/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the server as run by `obia serve` --------------------------------------------- */

typedef struct obia_server_options {
    const char *archive;        /* the archive directory */
    const char *listen;         /* "ADDRESS:PORT"; NULL: [server] listen */
    const char *web;            /* static files; NULL: [server] web, else the built-in path */
    const char *access;         /* "public" or "all"; NULL: [server] access */
    const char *tls_cert;       /* PEM files; NULL: [server] tls_cert / tls_key */
    const char *tls_key;
    bool quiet;                 /* no start-up line on stderr */
} obia_server_options;

/* Serve until SIGTERM or SIGINT, then finish the requests in flight and
 * return. False if the server could not start (err set). */
bool obia_server_run(const obia_server_options *opt, obia_error *err);

/* ---- what handlers see --------------------------------------------------------------- */

typedef struct srv srv;
typedef struct req req;

/* What a request may reach. The server grants scopes by its access mode
 * (public: PUBLIC only; all: every scope); accounts will grant them per
 * person. */
typedef enum scope {
    SCOPE_PUBLIC = 1,     /* released collections, their visible series */
    SCOPE_READ_ALL = 2,   /* everything the archive holds */
    SCOPE_UPLOAD = 4,     /* STOW-RS into a collection */
} scope;

typedef struct param {
    char *name;
    char *value;
} param;

#define REQ_MAX_PARAMS 64
#define REQ_MAX_SEGMENTS 16

struct req {
    srv *s;
    const char *method;              /* "GET", "POST", ... */
    char *path;                      /* "/" and the decoded segments (empty ones dropped) */
    char *seg[REQ_MAX_SEGMENTS];     /* its segments, decoded */
    size_t nseg;
    const char *arg[8];              /* the route's {captures}, in order */
    size_t narg;
    param query[REQ_MAX_PARAMS];     /* the query string, decoded, in order */
    size_t nquery;
    unsigned scopes;                 /* granted */
    bool public_only;                /* !(scopes & SCOPE_READ_ALL) */
    bool head;                       /* a HEAD request: headers only */
    obia_arena *arena;               /* freed with the request */
    void *conn;                      /* struct MHD_Connection * */
    void *handler_ctx;               /* a body handler's state */
    bool responded;
    unsigned status;                 /* for the access log */
    uint64_t bytes;                  /* body bytes sent (as far as known) */
};

/* The server's shared state, for handlers. */
obia_archive *srv_archive(const srv *s);
obia_catalog *srv_catalog(const srv *s);   /* queries only (thread-safe) */
/* The handle for writes, used under srv_write_lock only. */
obia_catalog *srv_catalog_writer(const srv *s);
obia_store *srv_store(const srv *s);
const obia_config *srv_config(const srv *s);
const char *srv_web(const srv *s);                 /* the static files' directory */
const char *srv_upload_collection(const srv *s);   /* "" when none */
uint64_t srv_max_instance(const srv *s);           /* [server] max_instance */
long srv_max_results(const srv *s);                /* [server] max_results */
/* ---- answers kept until the catalog changes (server/cache.c) -------------------------- */
typedef struct srv_cache srv_cache;
typedef struct srv_cache_stamp {
    unsigned char bytes[64];
} srv_cache_stamp;
srv_cache *srv_cache_new(const char *catalog_path);
void srv_cache_free(srv_cache *c);
/* The catalog's version now; false if it cannot be read (then keep nothing). */
bool srv_cache_version(const srv_cache *c, srv_cache_stamp *out);
/* The answer kept for key if the catalog is still at version now: appended
 * to out, with its number. */
bool srv_cache_get(srv_cache *c, const char *key, const srv_cache_stamp *now, obia_buf *out,
                   long *num);
/* Keep an answer computed at version taken (read before computing it). */
void srv_cache_put(srv_cache *c, const char *key, const srv_cache_stamp *taken, const void *data,
                   size_t len, long num);
srv_cache *srv_answers(const srv *s);

/* The budget of memory all uploads share ([server] upload_memory): take n
 * bytes of it (false: not that much left), and give them back. */
bool srv_upload_reserve(srv *s, uint64_t n);
void srv_upload_release(srv *s, uint64_t n);
/* Around writes through srv_catalog_writer() (thumbnails made on demand). */
void srv_write_lock(srv *s);
void srv_write_unlock(srv *s);
/* The HTTP status (and error code name) of a library error: the one table. */
unsigned srv_error_status(obia_status code, const char **name);
/* "http://host:port" as the client addressed the server (Host header). */
const char *req_base_url(req *r);

/* A query parameter's value (the first of that name), or NULL. */
const char *req_query(const req *r, const char *name);
/* The client's address as text ("-" when unknown). */
void req_client_addr(const req *r, char *out, size_t cap);
/* A request header, or NULL. */
const char *req_header(const req *r, const char *name);
/* What the client accepts: the accept query parameter, else the Accept
 * header (NULL: anything). */
const char *req_accept(const req *r);
/* limit/offset parameters: defaults when absent; false (400 sent) when not
 * a number in range. */
bool req_paging(req *r, long def_limit, long max_limit, long *limit, long *offset);

/* ---- responses (exactly one per request) ------------------------------------------ */

/* body (taken over: freed by the server) with a content type; JSON bodies
 * are gzipped when the client accepts it. */
void respond_buf(req *r, unsigned status, const char *content_type, obia_buf *body);
/* a JSON body from a buffer holding it */
void respond_json(req *r, unsigned status, obia_buf *body);
/* an error: { "error": code, "message": text } */
void respond_error(req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* an obia_error, with the status of its kind (NOTFOUND 404, ARG/FORMAT 400,
 * LIMIT 413, UNSUPPORTED 415, NOMEM 503, IO and the rest 500) */
void respond_obia_error(req *r, const obia_error *err);
/* no body */
void respond_empty(req *r, unsigned status);
/* a file's bytes [offset, offset+len) (sendfile); fd taken over */
void respond_fd(req *r, unsigned status, const char *content_type, int fd, uint64_t offset,
                uint64_t len);
/* a body made as it is sent: fill writes at most max bytes to buf and
 * returns how many, 0 at the end, -1 on an error (the connection is then
 * closed); done frees ctx. */
typedef long (*stream_fill_fn)(void *ctx, uint64_t pos, char *buf, size_t max);
void respond_stream(req *r, unsigned status, const char *content_type, stream_fill_fn fill,
                    void *ctx, void (*done)(void *ctx));
/* a header on the response (call before respond_*) */
void req_add_header(req *r, const char *name, const char *value);
/* what frees r->handler_ctx when the request ends, however it ends */
void req_set_cleanup(req *r, void (*cleanup)(void *ctx));

/* ---- routes ---------------------------------------------------------------------------- */

typedef void (*handler_fn)(req *r);
/* A body piece (len 0 at the end of the body). false: stop reading; the
 * handler must then have responded. */
typedef bool (*body_fn)(req *r, const char *data, size_t len);

typedef struct route {
    const char *method;      /* GET (also serves HEAD), POST, ... */
    const char *pattern;     /* /api/studies/{id}: {x} matches one segment */
    handler_fn handler;      /* called once the body (if any) has been read */
    body_fn body;            /* NULL: the route takes no body */
    unsigned scope;          /* a scope the request must hold */
    const char *doc;         /* one line, for GET /api */
    /* called once the headers are in, before any body is read (so a
     * refusal needs no body and no 100 Continue); false: it answered */
    bool (*begin)(req *r);
} route;

/* Every route, in dispatch order (first match wins). */
const route *srv_routes(size_t *count);

#endif
