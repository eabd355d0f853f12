/* The method table every catalog backend provides, and the statement
 * builder of the backend-neutral parts (qc.c, qido.c, browse.c). */
#ifndef OBIA_CATALOG_INTERNAL_H
#define OBIA_CATALOG_INTERNAL_H

#include "obia/catalog.h"

typedef struct catalog_backend {
    const char *name;
    /* the aggregate joining text values with a separator, in the order the
     * rows come: NAME(value, separator) (GROUP_CONCAT, STRING_AGG) */
    const char *string_agg;
    void *(*open)(const char *path, bool create, int *version, obia_error *err);
    void (*close)(void *db);
    bool (*begin)(void *db, obia_error *err);
    bool (*commit)(void *db, obia_error *err);
    void (*rollback)(void *db);
    bool (*collection_create)(void *db, const obia_collection_info *in, char accession[16],
                              obia_error *err);
    bool (*collection_profile)(void *db, const char *accession, char profile[16], obia_error *err);
    bool (*individual_new)(void *db, const char *collection, char accession[16], obia_error *err);
    bool (*add_image)(void *db, const obia_catalog_image *im, obia_catalog_added *added,
                      obia_error *err);
    bool (*check_image)(void *db, const obia_catalog_image *im, obia_catalog_added *added,
                        char existing_hash[65], obia_error *err);
    bool (*individual_set)(void *db, const char *accession, const char *name, const char *value,
                           obia_error *err);
    bool (*collections)(void *db, obia_row_fn fn, void *ctx, obia_error *err);
    bool (*show)(void *db, const char *key, obia_row_fn fn, void *ctx, obia_error *err);
    /* Portable SQL for the rest (qc.c, qido.c, browse.c): ? parameters bound to
     * text parameters (NULL binds SQL NULL). exec runs on the writer, in its
     * transaction if one is open; *changes and *last_id as the statement
     * left them. query runs on the writer (writer true: sees the open
     * transaction) or the calling thread's reader. */
    bool (*exec)(void *db, const char *sql, const char *const *params, int nparams,
                 long long *changes, long long *last_id, obia_error *err);
    bool (*query)(void *db, bool writer, const char *sql, const char *const *params, int nparams,
                  obia_row_fn fn, void *ctx, bool *any, obia_error *err);
    bool (*in_transaction)(void *db);
} catalog_backend;

extern const catalog_backend catalog_sqlite;

struct obia_catalog {
    const catalog_backend *be;
    void *db;
    int version;
};

/* ---- statements built in pieces (sql.c) ------------------------------------------
 * Text and ? parameters are appended in the order they appear; a failure
 * (memory, too long, too many parameters) is remembered and reported by
 * catalog_sql_run or catalog_sql_count. */
#define CATALOG_SQL_MAX_PARAMS 1024

typedef struct catalog_sql {
    obia_buf text;
    const char *params[CATALOG_SQL_MAX_PARAMS];
    int nparams;
    bool too_many;
    bool nomem;
    obia_arena *arena;          /* the parameters made here */
} catalog_sql;

void catalog_sql_init(catalog_sql *q);
void catalog_sql_free(catalog_sql *q);
void catalog_sql_add(catalog_sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A ? bound to v, which the caller keeps until the statement has run. */
void catalog_sql_param(catalog_sql *q, const char *v);
/* A ? bound to formatted text (a copy). */
void catalog_sql_paramf(catalog_sql *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A ? bound to a LIKE pattern (ESCAPE '\'): before, then v with %, _ and \
 * escaped (and with wildcards, * and ? turned into % and _), then after. */
void catalog_sql_like(catalog_sql *q, const char *before, const char *v, bool wildcards,
                      const char *after);
/* LIMIT and OFFSET (limit <= 0: no limit). */
void catalog_sql_page(catalog_sql *q, long limit, long offset);
/* Run on the calling thread's reader. */
bool catalog_sql_run(obia_catalog *c, catalog_sql *q, obia_row_fn fn, void *ctx, bool *any,
                     obia_error *err);
/* The number in the first column of the first row (0 if none). */
bool catalog_sql_count(obia_catalog *c, catalog_sql *q, long *n, obia_error *err);

/* Row callback of pages fetched one row beyond their limit: hands on
 * limit rows, and at the next sets more and stops. */
typedef struct catalog_pager {
    obia_row_fn fn;
    void *ctx;
    long limit;
    long seen;
    bool more;
} catalog_pager;

bool catalog_pager_row(void *ctx, int n, const char *const *names, const char *const *values);

#endif
