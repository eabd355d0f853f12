/* What the files of lib/ingest share. */
#ifndef OBIA_INGEST_INTERNAL_H
#define OBIA_INGEST_INTERNAL_H

#include "obia/catalog.h"
#include "obia/ingest.h"
#include "obia/store.h"

/* The thumbnail of a series or an image (obia_thumbnail) with the catalog
 * and store already open. */
bool ingest_thumbnail(obia_catalog *cat, obia_store *store, const char *uid, uint32_t size,
                      bool remake, char hash[65], obia_error *err);

#endif
