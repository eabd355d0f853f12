/* Statements built in pieces for the backend-neutral parts of the catalog:
 * the text grows in a capped buffer, the parameters made here live in an
 * arena freed with the statement. */
#include "catalog_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SQL (256 * 1024)

void catalog_sql_init(catalog_sql *q)
{
    obia_buf_init(&q->text, MAX_SQL);
    q->nparams = 0;
    q->too_many = false;
    q->nomem = false;
    q->arena = NULL;
}

void catalog_sql_free(catalog_sql *q)
{
    obia_buf_free(&q->text);
    obia_arena_free(q->arena);
    q->arena = NULL;
}

void catalog_sql_add(catalog_sql *q, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        q->nomem = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        obia_buf_append(&q->text, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        q->nomem = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    obia_buf_append(&q->text, big, (size_t)n);
    free(big);
}

void catalog_sql_param(catalog_sql *q, const char *v)
{
    if (q->nparams == CATALOG_SQL_MAX_PARAMS) {
        q->too_many = true;
        return;
    }
    q->params[q->nparams++] = v;
    obia_buf_append_byte(&q->text, '?');
}

/* Room for n bytes of a parameter made here. */
static char *param_space(catalog_sql *q, size_t n)
{
    if (!q->arena && !(q->arena = obia_arena_new(4096))) {
        q->nomem = true;
        return NULL;
    }
    char *p = obia_arena_alloc(q->arena, n);
    if (!p)
        q->nomem = true;
    return p;
}

void catalog_sql_paramf(catalog_sql *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? param_space(q, (size_t)n + 1) : NULL;
    if (!p) {
        q->nomem = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    catalog_sql_param(q, p);
}

void catalog_sql_like(catalog_sql *q, const char *before, const char *v, bool wildcards,
                      const char *after)
{
    size_t n = strlen(before) + 2 * strlen(v) + strlen(after) + 1;
    char *p = param_space(q, n), *o = p;
    if (!p)
        return;
    o = stpcpy(o, before);
    for (const char *s = v; *s; s++) {
        if (wildcards && *s == '*') {
            *o++ = '%';
        } else if (wildcards && *s == '?') {
            *o++ = '_';
        } else {
            if (*s == '%' || *s == '_' || *s == '\\')
                *o++ = '\\';
            *o++ = *s;
        }
    }
    strcpy(o, after);
    catalog_sql_param(q, p);
}

void catalog_sql_page(catalog_sql *q, long limit, long offset)
{
    if (limit > 0)
        catalog_sql_add(q, " LIMIT %ld", limit);
    else if (offset > 0)
        catalog_sql_add(q, " LIMIT 9223372036854775807");
    if (offset > 0)
        catalog_sql_add(q, " OFFSET %ld", offset);
}

static bool usable(catalog_sql *q, obia_error *err)
{
    if (q->too_many)
        return obia_error_set(err, OBIA_E_LIMIT, "a catalog query takes at most %d values",
                              CATALOG_SQL_MAX_PARAMS);
    if (q->nomem)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory making a catalog query");
    if (q->text.failed)
        return obia_error_set(err, OBIA_E_LIMIT, "a catalog query would be longer than %d bytes",
                              MAX_SQL);
    return obia_buf_cstr(&q->text) != NULL ||
           obia_error_set(err, OBIA_E_NOMEM, "out of memory");
}

bool catalog_sql_run(obia_catalog *c, catalog_sql *q, obia_row_fn fn, void *ctx, bool *any,
                     obia_error *err)
{
    return usable(q, err) && c->be->query(c->db, false, (const char *)q->text.data, q->params,
                                          q->nparams, fn, ctx, any, err);
}

static bool first_number(void *ctx, int n, const char *const *names, const char *const *values)
{
    (void)names;
    *(long *)ctx = n > 0 && values[0] ? atol(values[0]) : 0;
    return false;
}

bool catalog_sql_count(obia_catalog *c, catalog_sql *q, long *n, obia_error *err)
{
    *n = 0;
    return catalog_sql_run(c, q, first_number, n, NULL, err);
}

bool catalog_pager_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    catalog_pager *g = ctx;
    if (g->limit > 0 && g->seen >= g->limit) {
        g->more = true;
        return false;
    }
    g->seen++;
    return g->fn(g->ctx, n, names, values);
}
