/* The method table every catalog backend provides. */
#ifndef OBIA_CATALOG_INTERNAL_H
#define OBIA_CATALOG_INTERNAL_H

#include "obia/catalog.h"

typedef struct catalog_backend {
    const char *name;
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
    bool (*search)(void *db, const obia_catalog_query *q, obia_row_fn fn, void *ctx,
                   obia_error *err);
    bool (*show)(void *db, const char *key, obia_row_fn fn, void *ctx, obia_error *err);
    bool (*stats)(void *db, const char *collection, obia_row_fn fn, void *ctx, obia_error *err);
    /* Portable SQL for the rest (lib/catalog/qc.c): ? parameters bound to
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

#endif
