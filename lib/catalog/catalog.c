/* The catalog's public functions: argument checks, then the backend. */
#include "catalog_internal.h"

#include <stdlib.h>
#include <string.h>

obia_catalog *obia_catalog_open(const char *path, bool create, obia_error *err)
{
    obia_catalog *c = calloc(1, sizeof *c);
    if (!c) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    c->be = &catalog_sqlite;
    c->db = c->be->open(path, create, &c->version, err);
    if (!c->db) {
        free(c);
        return NULL;
    }
    return c;
}

void obia_catalog_close(obia_catalog *c)
{
    if (!c)
        return;
    c->be->close(c->db);
    free(c);
}

int obia_catalog_schema_version(const obia_catalog *c)
{
    return c->version;
}

bool obia_catalog_begin(obia_catalog *c, obia_error *err)
{
    return c->be->begin(c->db, err);
}

bool obia_catalog_commit(obia_catalog *c, obia_error *err)
{
    return c->be->commit(c->db, err);
}

void obia_catalog_rollback(obia_catalog *c)
{
    c->be->rollback(c->db);
}

static bool valid_text(const char *s, size_t max)
{
    return !s || strlen(s) <= max;
}

bool obia_catalog_collection_create(obia_catalog *c, const obia_collection_info *in,
                                    char accession[16], obia_error *err)
{
    if (!in->title || !*in->title)
        return obia_error_set(err, OBIA_E_ARG, "a collection needs a title");
    if (in->access && strcmp(in->access, "open") != 0 && strcmp(in->access, "controlled") != 0)
        return obia_error_set(err, OBIA_E_ARG, "access is open or controlled, not '%s'", in->access);
    if (in->profile && strcmp(in->profile, "obia") != 0 && strcmp(in->profile, "basic") != 0 &&
        strcmp(in->profile, "none") != 0)
        return obia_error_set(err, OBIA_E_ARG, "profile is obia, basic or none, not '%s'",
                              in->profile);
    if (in->bioproject && *in->bioproject && strncmp(in->bioproject, "PRJ", 3) != 0)
        return obia_error_set(err, OBIA_E_ARG, "'%s' is not a BioProject accession (PRJ...)",
                              in->bioproject);
    if (!valid_text(in->title, 1000) || !valid_text(in->description, 100000) ||
        !valid_text(in->keywords, 10000) || !valid_text(in->submitter, 1000) ||
        !valid_text(in->disease, 1000) || !valid_text(in->bioproject, 64))
        return obia_error_set(err, OBIA_E_LIMIT, "a collection field is too long");
    return c->be->collection_create(c->db, in, accession, err);
}

bool obia_catalog_collection_profile(obia_catalog *c, const char *accession, char profile[16],
                                     obia_error *err)
{
    return c->be->collection_profile(c->db, accession, profile, err);
}

bool obia_catalog_individual_new(obia_catalog *c, const char *collection, char accession[16],
                                 obia_error *err)
{
    return c->be->individual_new(c->db, collection, accession, err);
}

bool obia_catalog_add_image(obia_catalog *c, const obia_catalog_image *im,
                            obia_catalog_added *added, obia_error *err)
{
    if (!im->collection || !im->individual || !im->study_uid || !im->series_uid ||
        !im->sop_instance_uid || !im->sop_class_uid || !im->object_hash)
        return obia_error_set(err, OBIA_E_ARG, "an image needs its collection, individual, "
                                               "study, series and SOP UIDs and its object");
    return c->be->add_image(c->db, im, added, err);
}

bool obia_catalog_check_image(obia_catalog *c, const obia_catalog_image *im,
                              obia_catalog_added *added, char existing_hash[65], obia_error *err)
{
    if (!im->collection || !im->individual || !im->study_uid || !im->series_uid ||
        !im->sop_instance_uid)
        return obia_error_set(err, OBIA_E_ARG, "an image needs its collection, individual, "
                                               "study, series and SOP Instance UID");
    if (existing_hash)
        existing_hash[0] = '\0';
    return c->be->check_image(c->db, im, added, existing_hash, err);
}

bool obia_catalog_individual_set(obia_catalog *c, const char *accession, const char *name,
                                 const char *value, obia_error *err)
{
    if (!name || !*name || strlen(name) > 64)
        return obia_error_set(err, OBIA_E_ARG, "a clinical field needs a name of 1 to 64 characters");
    if (value && strlen(value) > 100000)
        return obia_error_set(err, OBIA_E_LIMIT, "value of %s is too long", name);
    return c->be->individual_set(c->db, accession, name, value, err);
}

bool obia_catalog_collections(obia_catalog *c, obia_row_fn fn, void *ctx, obia_error *err)
{
    return c->be->collections(c->db, fn, ctx, err);
}

bool obia_catalog_show(obia_catalog *c, const char *key, obia_row_fn fn, void *ctx,
                       obia_error *err)
{
    return c->be->show(c->db, key, fn, ctx, err);
}
