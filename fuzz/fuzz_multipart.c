/*
 * libFuzzer harness for the multipart parser (STOW-RS bodies come from
 * anyone who can reach the server). The first byte chooses the boundary
 * (three fixed ones, or up to 16 characters made from the next bytes), the
 * next the size of the pieces the body is fed in; the rest is the body.
 *
 * Checked: callbacks come in order (begin, data..., end), data pieces are
 * never empty and never more than the body, header values are short
 * strings; feeding the body whole and in pieces gives the same events, the
 * same data and the same result and message; a boundary that
 * multipart_boundary() accepts from a Content-Type built from the input is
 * accepted by multipart_new().
 */
#include "multipart.h"

#include "obia/catalog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct trace {
    uint64_t hash;      /* FNV-1a over the events and the data bytes */
    size_t data_bytes;
    size_t parts;
    bool open;
    size_t body_len;
} trace;

static void mix(trace *t, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        t->hash ^= c[i];
        t->hash *= 0x100000001b3ULL;
    }
}

static void mix_header(trace *t, const char *v)
{
    if (!v) {
        mix(t, "\1", 1);
        return;
    }
    size_t n = strnlen(v, MULTIPART_MAX_HEADERS + 1);
    if (n > MULTIPART_MAX_HEADERS)
        abort();
    mix(t, v, n + 1);
}

static bool on_begin(void *ctx, const multipart_part *part, obia_error *err)
{
    trace *t = ctx;
    if (t->open)
        abort();
    t->open = true;
    t->parts++;
    mix(t, "B", 1);
    mix_header(t, part->content_type);
    mix_header(t, part->content_location);
    mix_header(t, part->content_id);
    mix_header(t, part->content_transfer_encoding);
    /* refuse now and then, the same way whatever the pieces */
    if (part->content_id && strcmp(part->content_id, "<refuse>") == 0)
        return obia_error_set(err, OBIA_E_UNSUPPORTED, "refused");
    return true;
}

static bool on_data(void *ctx, const char *p, size_t n, obia_error *err)
{
    trace *t = ctx;
    if (!t->open || n == 0)
        abort();
    t->data_bytes += n;
    if (t->data_bytes > t->body_len)
        abort();
    mix(t, p, n);
    return true;
}

static bool on_end(void *ctx, obia_error *err)
{
    trace *t = ctx;
    if (!t->open)
        abort();
    t->open = false;
    mix(t, "E", 1);
    return true;
}

static const multipart_handler handler = {on_begin, on_data, on_end};

/* Parse body in pieces of piece bytes (0: whole); the trace and the error. */
static bool run(const char *boundary, const uint8_t *body, size_t len, size_t piece, trace *t,
                obia_error *err)
{
    memset(t, 0, sizeof *t);
    t->hash = 0xcbf29ce484222325ULL;
    t->body_len = len;
    obia_error_clear(err);
    multipart *m = multipart_new(boundary, &handler, t, err);
    if (!m)
        abort();   /* the harness only makes valid boundaries */
    bool ok = true;
    if (piece == 0) {
        ok = multipart_feed(m, (const char *)body, len, err);
    } else {
        size_t at = 0, step = piece;
        while (ok && at < len) {
            size_t n = len - at < step ? len - at : step;
            ok = multipart_feed(m, (const char *)body + at, n, err);
            at += n;
            step = step * 5 % 97 + 1;   /* uneven pieces */
        }
    }
    if (ok)
        ok = multipart_finish(m, err);
    if (ok == (err->code != OBIA_E_OK) || (!ok && err->message[0] == '\0'))
        abort();
    if (ok && t->open)
        abort();   /* finished with a part open */
    multipart_free(m);
    return ok;
}

static const char bchars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    char boundary[MULTIPART_MAX_BOUNDARY + 1];
    size_t at = 0;
    uint8_t choice = data[at++];
    switch (choice & 3) {
    case 0:
        strcpy(boundary, "b");
        break;
    case 1:
        strcpy(boundary, "XyZ");
        break;
    case 2:
        strcpy(boundary, "--");
        break;
    default: {
        size_t n = (size_t)(choice >> 2) % 16 + 1;
        if (size - at < n + 1)
            return 0;
        for (size_t i = 0; i < n; i++)
            boundary[i] = bchars[data[at + i] % (sizeof bchars - 1)];
        if (boundary[n - 1] == ' ')
            boundary[n - 1] = '_';
        boundary[n] = '\0';
        at += n;
        break;
    }
    }
    size_t piece = data[at++];
    const uint8_t *body = data + at;
    size_t len = size - at;

    trace whole, split;
    obia_error werr, serr;
    bool wok = run(boundary, body, len, 0, &whole, &werr);
    bool sok = run(boundary, body, len, piece ? piece : 1, &split, &serr);
    if (wok != sok || whole.hash != split.hash || whole.data_bytes != split.data_bytes ||
        whole.parts != split.parts || strcmp(werr.message, serr.message) != 0)
        abort();

    /* a Content-Type header from the first bytes of the body */
    char header[256];
    size_t hn = len < 120 ? len : 120;
    memcpy(header, "multipart/related; type=\"application/dicom\"; boundary=", 55);
    memcpy(header + 55, body, hn);
    header[55 + hn] = '\0';
    char b[MULTIPART_MAX_BOUNDARY + 1], type[64];
    obia_error err;
    obia_error_clear(&err);
    if (multipart_boundary(header, b, sizeof b, type, sizeof type, &err)) {
        if (strcmp(type, "application/dicom") != 0)
            abort();
        multipart *m = multipart_new(b, &handler, NULL, &err);
        if (!m)
            abort();
        multipart_free(m);
    } else if (err.code == OBIA_E_OK || err.message[0] == '\0') {
        abort();
    }
    /* and the body's first bytes as the whole header */
    memcpy(header, body, hn);
    header[hn] = '\0';
    obia_error_clear(&err);
    if (multipart_boundary(header, b, sizeof b, NULL, 0, &err)) {
        multipart *m = multipart_new(b, &handler, NULL, &err);
        if (!m)
            abort();
        multipart_free(m);
    }
    return 0;
}
