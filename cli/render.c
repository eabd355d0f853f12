/* obia render: one frame of an image as PNG, JPEG or its raw stored values. */
#include "cli.h"
#include "obia/pixel.h"
#include "obia/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct found {
    char hash[65];
} found;

static bool image_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    found *f = ctx;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], "object_hash") == 0 && values[i])
            snprintf(f->hash, sizeof f->hash, "%s", values[i]);
    return false;
}

/* A file path as given, or else the stored object of an image's SOP
 * Instance UID in the archive. */
static bool locate(const char *what, const char *dir, char *path, size_t cap)
{
    FILE *probe = fopen(what, "rb");
    if (probe) {
        fclose(probe);
        snprintf(path, cap, "%s", what);
        return true;
    }
    if (strspn(what, "0123456789.") != strlen(what)) {
        fprintf(stderr, "obia render: %s: %s\n", what, strerror(errno));
        return false;
    }
    obia_archive *a = NULL;
    obia_catalog *c = cli_open_catalog("render", dir, &a);
    if (!c)
        return false;
    obia_error err;
    obia_error_clear(&err);
    found f = {""};
    bool ok = obia_catalog_show(c, what, image_row, &f, &err);
    if (ok && !f.hash[0])
        ok = obia_error_set(&err, OBIA_E_NOTFOUND, "%s is not an image of the archive", what);
    obia_store *s = NULL;
    char root[4200];
    size_t nrep;
    const char *const *reps = ok ? obia_archive_replicas(a, &nrep) : NULL;
    if (ok)
        ok = (s = obia_store_open(obia_archive_file(a, "store", root, sizeof root), reps, nrep,
                                  &err)) != NULL &&
             obia_store_path(s, f.hash, path, cap);
    if (!ok)
        fprintf(stderr, "obia render: %s\n", err.message[0] ? err.message : "no such image");
    obia_store_close(s);
    obia_catalog_close(c);
    obia_archive_close(a);
    return ok;
}

int cmd_render(int argc, char **argv)
{
    const char *dir = NULL, *frame_s = NULL, *size_s = NULL, *window_s = NULL, *format = NULL,
               *out = NULL, *quality_s = NULL;
    bool bits16 = false;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        const char **slot;
        if (strcmp(a, "--16bit") == 0) {
            bits16 = true;
            continue;
        }
        if (strcmp(a, "--archive") == 0)
            slot = &dir;
        else if (strcmp(a, "--frame") == 0)
            slot = &frame_s;
        else if (strcmp(a, "--size") == 0)
            slot = &size_s;
        else if (strcmp(a, "--window") == 0)
            slot = &window_s;
        else if (strcmp(a, "--format") == 0)
            slot = &format;
        else if (strcmp(a, "--out") == 0)
            slot = &out;
        else if (strcmp(a, "--quality") == 0)
            slot = &quality_s;
        else
            return cli_usage_error("render", "unknown option '%s'", a);
        if (!(*slot = cli_option_value("render", a, argc, argv, &first)))
            return 2;
    }
    if (first + 1 != argc)
        return cli_usage_error("render", "give one FILE or SOP Instance UID");
    if (!out)
        return cli_usage_error("render", "--out FILE is required (- for standard output)");
    if (!format) {
        const char *dot = strrchr(out, '.');
        format = dot && (strcmp(dot, ".jpg") == 0 || strcmp(dot, ".jpeg") == 0) ? "jpeg"
                 : dot && strcmp(dot, ".raw") == 0                            ? "raw"
                                                                              : "png";
    }
    if (strcmp(format, "png") != 0 && strcmp(format, "jpeg") != 0 && strcmp(format, "raw") != 0)
        return cli_usage_error("render", "--format is png, jpeg or raw");
    char *end;
    unsigned long frame = 1, size = 256, quality = 90;
    if (frame_s && ((frame = strtoul(frame_s, &end, 10)) < 1 || *end || frame > 1000000))
        return cli_usage_error("render", "--frame takes a frame number from 1");
    if (size_s && ((size = strtoul(size_s, &end, 10)) > 65535 || *end))
        return cli_usage_error("render", "--size takes a number of pixels (0: as stored)");
    if (quality_s && ((quality = strtoul(quality_s, &end, 10)) < 1 || quality > 100 || *end))
        return cli_usage_error("render", "--quality takes 1 to 100");
    double center = 0, width = 0;
    if (window_s) {
        char *comma;
        center = strtod(window_s, &comma);
        if (comma == window_s || *comma != ',' || (width = strtod(comma + 1, &end), *end) ||
            end == comma + 1 || !(width >= 1))
            return cli_usage_error("render", "--window takes CENTER,WIDTH (width at least 1)");
    }
    if (bits16 && strcmp(format, "png") != 0)
        return cli_usage_error("render", "--16bit is for PNG");

    char path[4200];
    if (!locate(argv[first], dir, path, sizeof path))
        return 1;
    obia_error err;
    obia_error_clear(&err);
    obia_file *f = obia_file_read(path, NULL, &err);
    if (!f) {
        fprintf(stderr, "obia render: %s: %s\n", argv[first], err.message);
        return 1;
    }
    obia_frame fr;
    if (!obia_pixel_decode(f, (uint32_t)(frame - 1), &fr, &err)) {
        fprintf(stderr, "obia render: %s: %s\n", argv[first], err.message);
        obia_file_free(f);
        return 1;
    }
    FILE *fp = strcmp(out, "-") == 0 ? stdout : fopen(out, "wb");
    bool ok = fp != NULL;
    if (!fp)
        obia_error_set(&err, OBIA_E_IO, "cannot create %s: %s", out, strerror(errno));
    if (ok && strcmp(format, "raw") == 0) {
        ok = fwrite(fr.data, 1, fr.len, fp) == fr.len ||
             obia_error_set(&err, OBIA_E_IO, "cannot write %s", out);
    } else if (ok) {
        obia_render_options ro;
        obia_render_options_init(&ro);
        ro.size = (uint32_t)size;
        ro.bits16 = bits16;
        if (window_s) {
            ro.window = true;
            ro.center = center;
            ro.width = width;
        }
        obia_image im = {0};
        ok = obia_render(f, &fr, &ro, &im, &err) &&
             (strcmp(format, "png") == 0
                  ? obia_image_write_png(&im, obia_sink_stdio, fp, &err)
                  : obia_image_write_jpeg(&im, (int)quality, obia_sink_stdio, fp, &err));
        obia_image_free(&im);
    }
    if (fp && fp != stdout && fclose(fp) != 0 && ok)
        ok = obia_error_set(&err, OBIA_E_IO, "cannot write %s", out);
    if (!ok)
        fprintf(stderr, "obia render: %s: %s\n", argv[first], err.message);
    obia_frame_free(&fr);
    obia_file_free(f);
    return ok ? 0 : 1;
}
