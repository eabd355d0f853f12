/* Answers that cost a pass over the catalog -- the facet counts and total
 * of a search, statistics -- kept until the catalog changes. The catalog's
 * version is read off its files: every commit writes to the WAL (its size
 * and modification time change), every checkpoint to the database file. A
 * version is taken before an answer is computed, so an answer computed
 * while a commit landed is kept under the older version and never served
 * after it. */
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CACHE_ENTRIES 256
#define CACHE_KEY 600
#define CACHE_MAX_VALUE (1u << 20)

typedef struct version {
    long long size[2];
    long long mtime_ns[2];
    unsigned long long ino[2];
} version;

typedef struct entry {
    char key[CACHE_KEY];
    version v;
    char *data;
    size_t len;
    long num;
    bool used;
} entry;

_Static_assert(sizeof(version) <= sizeof(srv_cache_stamp), "a version fits a stamp");

struct srv_cache {
    pthread_mutex_t lock;
    char db[4200], wal[4210];
    entry e[CACHE_ENTRIES];
    size_t next;                 /* the entry replaced next */
};

srv_cache *srv_cache_new(const char *catalog_path)
{
    srv_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    snprintf(c->db, sizeof c->db, "%s", catalog_path);
    snprintf(c->wal, sizeof c->wal, "%s-wal", catalog_path);
    return c;
}

void srv_cache_free(srv_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CACHE_ENTRIES; i++)
        free(c->e[i].data);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

bool srv_cache_version(const srv_cache *c, srv_cache_stamp *out)
{
    version v;
    memset(&v, 0, sizeof v);
    const char *paths[2] = {c->db, c->wal};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            if (i == 0)
                return false;
            continue;   /* no WAL: all is in the database file */
        }
        v.size[i] = (long long)st.st_size;
        v.mtime_ns[i] = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        v.ino[i] = (unsigned long long)st.st_ino;
    }
    memcpy(out->bytes, &v, sizeof v);
    return true;
}

bool srv_cache_get(srv_cache *c, const char *key, const srv_cache_stamp *now, obia_buf *out,
                   long *num)
{
    if (!c || strlen(key) >= CACHE_KEY)
        return false;
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < CACHE_ENTRIES && !hit; i++) {
        entry *e = &c->e[i];
        if (!e->used || strcmp(e->key, key) != 0)
            continue;
        if (memcmp(&e->v, now->bytes, sizeof e->v) != 0)
            break;   /* the catalog changed since */
        hit = obia_buf_append(out, e->data, e->len);
        if (num)
            *num = e->num;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void srv_cache_put(srv_cache *c, const char *key, const srv_cache_stamp *taken, const void *data,
                   size_t len, long num)
{
    if (!c || strlen(key) >= CACHE_KEY || len > CACHE_MAX_VALUE)
        return;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, data, len);
    pthread_mutex_lock(&c->lock);
    entry *e = NULL;
    for (size_t i = 0; i < CACHE_ENTRIES && !e; i++)
        if (c->e[i].used && strcmp(c->e[i].key, key) == 0)
            e = &c->e[i];
    if (!e) {
        e = &c->e[c->next];
        c->next = (c->next + 1) % CACHE_ENTRIES;
    }
    free(e->data);
    snprintf(e->key, sizeof e->key, "%s", key);
    memcpy(&e->v, taken->bytes, sizeof e->v);
    e->data = copy;
    e->len = len;
    e->num = num;
    e->used = true;
    pthread_mutex_unlock(&c->lock);
}
