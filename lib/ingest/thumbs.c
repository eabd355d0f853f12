/* Thumbnails: rendered from the stored image, kept as PNG objects of the
 * store, recorded in the catalog per UID and size. */
#include "obia/ingest.h"
#include "obia/catalog.h"
#include "obia/store.h"
#include "obia/pixel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool obia_thumbnail_with(obia_catalog *cat, obia_store *store, const char *uid, uint32_t size,
                      bool remake, char hash[65], obia_error *err)
{
    bool found = false;
    if (!remake && !obia_catalog_thumbnail_get(cat, uid, size, hash, &found, err))
        return false;
    if (found && obia_store_has(store, hash))
        return true;
    /* an image's own thumbnail, or its series' from the middle image */
    char object[65], sop[65];
    long frames = 1;
    const char *kind = "image";
    obia_error e;
    obia_error_clear(&e);
    if (!obia_catalog_image_object(cat, uid, object, &frames, &e)) {
        if (e.code != OBIA_E_NOTFOUND)
            return obia_error_set(err, e.code, "%s", e.message);
        obia_error_clear(&e);
        kind = "series";
        if (!obia_catalog_series_middle(cat, uid, sop, object, &frames, &e))
            return obia_error_set(err, e.code,
                                  e.code == OBIA_E_NOTFOUND ? "no image or series %s" : "%s",
                                  e.code == OBIA_E_NOTFOUND ? uid : e.message);
    }
    char path[4200];
    if (!obia_store_path(store, object, path, sizeof path))
        return obia_error_set(err, OBIA_E_IO, "the catalog names an invalid object %s", object);
    obia_file *f = obia_file_read(path, NULL, err);
    if (!f)
        return false;
    obia_frame fr = {0};
    obia_image im = {0};
    obia_buf png;
    obia_buf_init(&png, 64u << 20);
    obia_render_options ro;
    obia_render_options_init(&ro);
    ro.size = size;
    uint32_t frame = frames > 1 ? (uint32_t)(frames / 2) : 0;   /* the middle frame */
    bool existed;
    bool ok = obia_pixel_decode(f, frame, &fr, err) && obia_render(f, &fr, &ro, &im, err) &&
              obia_image_write_png(&im, obia_sink_buf, &png, err) &&
              obia_store_put(store, png.data, png.len, hash, &existed, err) &&
              obia_catalog_thumbnail_set(cat, uid, kind, size, hash, err);
    obia_buf_free(&png);
    obia_image_free(&im);
    obia_frame_free(&fr);
    obia_file_free(f);
    return ok;
}

/* The catalog and store of an archive. */
static bool open_both(obia_archive *a, obia_catalog **cat, obia_store **store, obia_error *err)
{
    char path[4200];
    size_t nrep;
    const char *const *reps = obia_archive_replicas(a, &nrep);
    *store = NULL;
    *cat = obia_catalog_open(obia_archive_file(a, "catalog.db", path, sizeof path), false, err);
    if (*cat && (*store = obia_store_open(obia_archive_file(a, "store", path, sizeof path), reps,
                                          nrep, err)))
        return true;
    obia_catalog_close(*cat);
    *cat = NULL;
    return false;
}

bool obia_thumbnail(obia_archive *a, const char *uid, uint32_t size, bool remake, char hash[65],
                    obia_error *err)
{
    if (size == 0 || size > 4096)
        return obia_error_set(err, OBIA_E_ARG, "a thumbnail of %u pixels", size);
    obia_catalog *cat;
    obia_store *store;
    if (!open_both(a, &cat, &store, err))
        return false;
    bool ok = obia_thumbnail_with(cat, store, uid, size, remake, hash, err);
    obia_store_close(store);
    obia_catalog_close(cat);
    return ok;
}

typedef struct series_list {
    char (*uid)[65];
    size_t n, cap;
    bool nomem;
} series_list;

static bool add_series(void *ctx, int n, const char *const *names, const char *const *v)
{
    series_list *l = ctx;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "series_uid") != 0 || !v[i])
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 256;
            char(*u)[65] = realloc(l->uid, cap * sizeof *u);
            if (!u) {
                l->nomem = true;
                return false;
            }
            l->uid = u;
            l->cap = cap;
        }
        snprintf(l->uid[l->n++], 65, "%s", v[i]);
    }
    return true;
}

bool obia_thumbnails_rebuild(obia_archive *a, const char *collection, uint64_t *made,
                             uint64_t *without, uint64_t *failed, obia_error *err_first,
                             obia_error *err)
{
    *made = *without = *failed = 0;
    uint32_t size = (uint32_t)obia_config_int(obia_archive_config(a), "ingest", "thumbnail_size");
    if (size == 0)
        return obia_error_set(err, OBIA_E_ARG, "[ingest] thumbnail_size is 0: no thumbnails");
    obia_catalog *cat;
    obia_store *store;
    if (!open_both(a, &cat, &store, err))
        return false;
    series_list l = {0};
    char profile[16];
    bool ok = (!collection || obia_catalog_collection_profile(cat, collection, profile, err)) &&
              obia_catalog_review_list(cat, collection, NULL, add_series, &l, err);
    if (ok && l.nomem)
        ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory listing the series");
    for (size_t i = 0; ok && i < l.n; i++) {
        char hash[65];
        obia_error e;
        obia_error_clear(&e);
        if (obia_thumbnail_with(cat, store, l.uid[i], size, true, hash, &e)) {
            ++*made;
        } else if (e.code == OBIA_E_NOTFOUND) {
            ++*without;   /* no Pixel Data: a report, a structure set */
        } else {
            if (err_first && !*failed)
                obia_error_set(err_first, e.code, "series %s: %s", l.uid[i], e.message);
            ++*failed;
        }
    }
    free(l.uid);
    obia_store_close(store);
    obia_catalog_close(cat);
    return ok;
}

/* ---- contact sheets ---------------------------------------------------------------------- */

typedef struct sheet_rows {
    char (*hash)[65];
    long *frames;
    size_t n, cap;
    bool nomem;
} sheet_rows;

static bool add_object(void *ctx, int n, const char *const *names, const char *const *v)
{
    sheet_rows *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char(*h)[65] = realloc(l->hash, cap * sizeof *h);
        long *fr = h ? realloc(l->frames, cap * sizeof *fr) : NULL;
        if (h)
            l->hash = h;
        if (!h || !fr) {
            l->nomem = true;
            return false;
        }
        l->frames = fr;
        l->cap = cap;
    }
    l->hash[l->n][0] = '\0';
    l->frames[l->n] = 1;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "object_hash") == 0 && v[i])
            snprintf(l->hash[l->n], 65, "%s", v[i]);
        else if (strcmp(names[i], "frames") == 0 && v[i])
            l->frames[l->n] = atol(v[i]);
    }
    l->n++;
    return true;
}

bool obia_contact_sheet_series(obia_archive *a, const char *series_uid, uint32_t cell,
                               uint32_t columns, obia_buf *png, uint64_t *failed,
                               obia_error *err)
{
    *failed = 0;
    if (cell < 8 || cell > 1024 || columns < 1 || columns > 64)
        return obia_error_set(err, OBIA_E_ARG, "cells of 8 to 1024 pixels, 1 to 64 across");
    obia_catalog *cat;
    obia_store *store;
    if (!open_both(a, &cat, &store, err))
        return false;
    sheet_rows l = {0};
    bool ok = obia_catalog_series_objects(cat, series_uid, add_object, &l, err);
    if (ok && l.nomem)
        ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory listing the images");
    if (ok && l.n == 0)
        ok = obia_error_set(err, OBIA_E_NOTFOUND, "no series %s with images", series_uid);
    if (ok && l.n > 10000)
        ok = obia_error_set(err, OBIA_E_LIMIT, "series %s has %zu images: too many for one sheet",
                            series_uid, l.n);
    obia_image *thumbs = ok ? calloc(l.n, sizeof *thumbs) : NULL;
    const obia_image **ptrs = ok ? calloc(l.n, sizeof *ptrs) : NULL;
    if (ok && (!thumbs || !ptrs))
        ok = obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    for (size_t i = 0; ok && i < l.n; i++) {
        char path[4200];
        obia_error e;
        obia_error_clear(&e);
        obia_file *f = obia_store_path(store, l.hash[i], path, sizeof path)
                           ? obia_file_read(path, NULL, &e) : NULL;
        obia_frame fr = {0};
        obia_render_options ro;
        obia_render_options_init(&ro);
        ro.size = cell;
        uint32_t frame = l.frames[i] > 1 ? (uint32_t)(l.frames[i] / 2) : 0;
        if (f && obia_pixel_decode(f, frame, &fr, &e) && obia_render(f, &fr, &ro, &thumbs[i], &e))
            ptrs[i] = &thumbs[i];
        else
            ++*failed;   /* a black cell */
        obia_frame_free(&fr);
        obia_file_free(f);
    }
    obia_image sheet = {0};
    ok = ok && obia_contact_sheet(ptrs, l.n, cell, columns, &sheet, err) &&
         obia_image_write_png(&sheet, obia_sink_buf, png, err);
    obia_image_free(&sheet);
    for (size_t i = 0; thumbs && i < l.n; i++)
        obia_image_free(&thumbs[i]);
    free(thumbs);
    free(ptrs);
    free(l.hash);
    free(l.frames);
    obia_store_close(store);
    obia_catalog_close(cat);
    return ok;
}
