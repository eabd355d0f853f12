/* The archive directory: its layout, creation and opening. */
#include "obia/archive.h"
#include "obia/catalog.h"
#include "obia/deid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct obia_archive {
    char dir[4096];
    obia_config *config;
    char **replicas;
    size_t nreplicas;
};

const char *obia_archive_default_dir(const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv("OBIA_ARCHIVE");
    return env && *env ? env : "obia-archive";
}

static bool make_dir(const char *path, mode_t mode, obia_error *err)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return obia_error_set(err, OBIA_E_IO, "cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return obia_error_set(err, OBIA_E_IO, "%s exists and is not a directory", path);
    return true;
}

static bool sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

bool obia_archive_init(const char *dir, obia_error *err)
{
    char path[4096];
    if (strlen(dir) > 3000)
        return obia_error_set(err, OBIA_E_ARG, "archive path too long");
    if (!make_dir(dir, 0755, err))
        return false;
    snprintf(path, sizeof path, "%s/obia.conf", dir);
    if (access(path, F_OK) == 0)
        return obia_error_set(err, OBIA_E_ARG, "%s already holds an archive (%s exists)", dir, path);

    static const char *const subdirs[] = {"store", "quarantine", "logs"};
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, subdirs[i]);
        if (!make_dir(path, 0750, err))
            return false;
    }
    snprintf(path, sizeof path, "%s/keys.db", dir);
    obia_deid_keys *k = obia_deid_keys_open(path, err);
    if (!k)
        return false;
    bool ok = obia_deid_keys_sync(k, err);
    obia_deid_keys_close(k);
    if (!ok)
        return false;
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    obia_catalog *cat = obia_catalog_open(path, true, err);
    if (!cat)
        return false;
    obia_catalog_close(cat);

    /* the configuration last: its presence marks a complete archive */
    obia_config *c = obia_config_defaults(err);
    if (!c)
        return false;
    char tmp[4096];
    snprintf(path, sizeof path, "%s/obia.conf", dir);
    snprintf(tmp, sizeof tmp, "%s/obia.conf.tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        obia_config_free(c);
        return obia_error_set(err, OBIA_E_IO, "cannot create %s: %s", tmp, strerror(errno));
    }
    fprintf(f, "# obia archive configuration: obia help config tells every key.\n\n");
    ok = obia_config_write(c, f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    obia_config_free(c);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return obia_error_set(err, OBIA_E_IO, "cannot write %s: %s", path, strerror(errno));
    }
    sync_dir(dir);
    return true;
}

obia_archive *obia_archive_open(const char *dir, obia_error *err)
{
    char path[4096];
    if (strlen(dir) > 3000) {
        obia_error_set(err, OBIA_E_ARG, "archive path too long");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/obia.conf", dir);
    if (access(path, F_OK) != 0) {
        obia_error_set(err, OBIA_E_ARG, "%s is not an archive (no obia.conf); create one with obia init",
                       dir);
        return NULL;
    }
    obia_archive *a = calloc(1, sizeof *a);
    if (!a) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(a->dir, sizeof a->dir, "%s", dir);
    a->config = obia_config_load(path, err);
    if (!a->config) {
        free(a);
        return NULL;
    }
    /* replicas: comma-separated, relative to the archive */
    const char *list = obia_config_string(a->config, "store", "replicas");
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && p[n - 1] == ' ')
            n--;
        char **nr = realloc(a->replicas, (a->nreplicas + 1) * sizeof *nr);
        if (nr)
            a->replicas = nr;
        char *r = NULL;
        if (!nr || asprintf(&r, "%s%s%.*s", p[0] == '/' ? "" : dir, p[0] == '/' ? "" : "/",
                            (int)n, p) < 0) {
            obia_archive_close(a);
            obia_error_set(err, OBIA_E_NOMEM, "out of memory");
            return NULL;
        }
        a->replicas[a->nreplicas++] = r;
        p += n;
    }
    return a;
}

void obia_archive_close(obia_archive *a)
{
    if (!a)
        return;
    obia_config_free(a->config);
    for (size_t i = 0; i < a->nreplicas; i++)
        free(a->replicas[i]);
    free(a->replicas);
    free(a);
}

const obia_config *obia_archive_config(const obia_archive *a)
{
    return a->config;
}

const char *obia_archive_dir(const obia_archive *a)
{
    return a->dir;
}

const char *obia_archive_file(const obia_archive *a, const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", a->dir, name);
    return n < 0 || (size_t)n >= cap ? NULL : buf;
}

const char *const *obia_archive_replicas(const obia_archive *a, size_t *count)
{
    *count = a->nreplicas;
    return (const char *const *)a->replicas;
}
