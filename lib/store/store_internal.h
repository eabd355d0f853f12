/* What the object store's files share: the store's layout in memory and the
 * durable-write steps both putting and repairing go through. */
#ifndef OBIA_STORE_INTERNAL_H
#define OBIA_STORE_INTERNAL_H

#include "obia/store.h"

#include <openssl/evp.h>
#include <stdatomic.h>

#define STORE_HASH_LEN 64
/* "ab/cd/" + hash */
#define STORE_REL_LEN (6 + STORE_HASH_LEN)

typedef struct store_root {
    char *path;
    int objects;   /* ROOT/objects, O_DIRECTORY */
    int tmp;       /* ROOT/tmp, O_DIRECTORY */
    /* Directories this process knows exist with a durable entry in their
     * parent, so each is made (and its parent fsync'ed) once, not per object. */
    atomic_uchar ab_ready[256];
    atomic_uchar leaf_ready[65536];
} store_root;

struct obia_store {
    size_t nroots;         /* primary + replicas */
    store_root *roots;     /* [0] is the primary */
    EVP_MD *sha256;        /* fetched once: implicit fetches cost per init */
};

/* A temporary file being filled in one root. */
typedef struct store_temp {
    int fd;          /* -1 when none */
    char name[48];   /* in ROOT/tmp; "" when none */
} store_temp;

void store_hex(const unsigned char digest[32], char hex[65]);
/* "ab/cd/<hash>" for a valid hash. */
void store_rel_path(const char *hash, char rel[STORE_REL_LEN + 1]);

bool store_io_error(obia_error *err, const store_root *r, const char *what, const char *name,
                    int errnum);

/* Create a temporary file in r's tmp/, locked against verify's clean-up. */
bool store_temp_create(const store_root *r, store_temp *t, obia_error *err);
/* The note of a put into several roots, tmp/PID-N.put holding the hash,
 * durable and locked until the put is done (then discarded like a temp). */
bool store_intent_create(const store_root *r, const char *hash, store_temp *t, obia_error *err);
/* Close and, unless it was renamed away, remove it. */
void store_temp_discard(const store_root *r, store_temp *t);
bool store_temp_sync(const store_root *r, store_temp *t, obia_error *err);
bool store_write_all(const store_root *r, store_temp *t, const void *p, size_t n,
                     obia_error *err);
/* Make r's objects/ab/cd exist with durable entries. */
bool store_ensure_leaf(store_root *r, const char *hash, obia_error *err);
bool store_sync_leaf(const store_root *r, const char *hash, obia_error *err);
/* Rename a synced t to the object's place and fsync the directory: the copy
 * is then durable.  t's name is cleared once renamed. */
bool store_install(store_root *r, store_temp *t, const char *hash, obia_error *err);

#endif
