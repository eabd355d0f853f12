/* Walking the PATH arguments of a command: files as given, directories
 * recursively with entries in name order, skipping names starting with '.'. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_path(const char *command, const char *path, int depth, cli_file_fn fn, void *ctx);

static int walk_dir(const char *command, const char *path, int depth, cli_file_fn fn, void *ctx)
{
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "obia %s: %s: %s\n", command, path, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int failures = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            cap = ncap;
        }
        if ((names[n] = strdup(e->d_name)) == NULL)
            break;
        n++;
    }
    if (e != NULL) {
        fprintf(stderr, "obia %s: %s: out of memory listing the directory\n", command, path);
        failures++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    size_t plen = strlen(path);
    bool slash = plen && path[plen - 1] == '/';
    for (size_t i = 0; i < n; i++) {
        size_t len = plen + 1 + strlen(names[i]) + 1;
        char *child = malloc(len);
        if (child) {
            snprintf(child, len, "%s%s%s", path, slash ? "" : "/", names[i]);
            failures += walk_path(command, child, depth + 1, fn, ctx);
            free(child);
        } else {
            fprintf(stderr, "obia %s: %s/%s: out of memory\n", command, path, names[i]);
            failures++;
        }
        free(names[i]);
    }
    free(names);
    return failures;
}

static int walk_path(const char *command, const char *path, int depth, cli_file_fn fn, void *ctx)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "obia %s: %s: %s\n", command, path, strerror(errno));
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth >= 64) {
            fprintf(stderr, "obia %s: %s: directories nested deeper than 64 levels\n", command,
                    path);
            return 1;
        }
        return walk_dir(command, path, depth, fn, ctx);
    }
    if (S_ISREG(st.st_mode)) {
        fn(ctx, path);
        return 0;
    }
    if (depth == 0) {
        fprintf(stderr, "obia %s: %s: not a regular file or directory\n", command, path);
        return 1;
    }
    return 0;   /* sockets, devices met inside a directory are passed over */
}

int cli_walk(const char *command, const char *path, cli_file_fn fn, void *ctx)
{
    return walk_path(command, path, 0, fn, ctx);
}

void cli_files_add(void *ctx, const char *path)
{
    cli_files *f = ctx;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 1024;
        char **nv = realloc(f->v, cap * sizeof *nv);
        if (!nv) {
            f->failed = true;
            return;
        }
        f->v = nv;
        f->cap = cap;
    }
    if ((f->v[f->n] = strdup(path)) != NULL)
        f->n++;
    else
        f->failed = true;
}

void cli_files_free(cli_files *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
    f->v = NULL;
    f->n = f->cap = 0;
}
