/* The web site's static files: only regular files below the web directory
 * (the path's segments were checked when the request was parsed: no "..",
 * no encoded slashes), with their content type, an ETag and caching. */
#include "handlers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".woff", "font/woff"},
    {".txt", "text/plain; charset=utf-8"},
    {".wasm", "application/wasm"},
};

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

void static_file(req *r)
{
    if (r->nseg && (strcmp(r->seg[0], "api") == 0 || strcmp(r->seg[0], "dicomweb") == 0)) {
        respond_error(r, 404, "not-found", "no such endpoint: %s (GET /api lists them)", r->path);
        return;
    }
    char root[PATH_MAX];
    if (!realpath(srv_web(r->s), root)) {
        respond_error(r, 404, "not-found", "this server has no web site (%s: %s)", srv_web(r->s),
                      strerror(errno));
        return;
    }
    char path[PATH_MAX + 64];
    size_t n = (size_t)snprintf(path, sizeof path, "%s", root);
    for (size_t i = 0; i < r->nseg && n < sizeof path; i++) {
        /* hidden files (.git, .env) are never served */
        if (r->seg[i][0] == '.') {
            respond_error(r, 404, "not-found", "no such file: %s", r->path);
            return;
        }
        n += (size_t)snprintf(path + n, sizeof path - n, "/%s", r->seg[i]);
    }
    if (n >= sizeof path - 16) {
        respond_error(r, 414, "uri-too-long", "the path is too long");
        return;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(path + n, sizeof path - n, "/index.html");
    /* the file must be below the web root once links are resolved */
    char real[PATH_MAX];
    size_t rl = strlen(root);
    int fd = -1;
    if (!realpath(path, real) || strncmp(real, root, rl) != 0 || (real[rl] != '/' && real[rl]) ||
        (fd = open(real, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 ||
        !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        respond_error(r, 404, "not-found", "no such file: %s", r->path);
        return;
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL + (unsigned long long)st.st_mtim.tv_nsec);
    req_add_header(r, "ETag", etag);
    /* pages are checked every time; other files may be kept an hour */
    const char *type = content_type(real);
    req_add_header(r, "Cache-Control",
                   strncmp(type, "text/html", 9) == 0 ? "no-cache" : "public, max-age=3600");
    const char *inm = req_header(r, "If-None-Match");
    if (inm && strstr(inm, etag)) {
        close(fd);
        respond_empty(r, 304);
        return;
    }
    respond_fd(r, 200, type, fd, 0, (uint64_t)st.st_size);
}
