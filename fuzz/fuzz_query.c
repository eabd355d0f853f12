/*
 * libFuzzer harness for the request parsers: the input (up to its first NUL)
 * as a request target through http_uri_parse, its parameters through
 * qido_params_parse at every level, and the same text as an Accept header
 * and as a media type.
 *
 * Checked: what parses keeps its promises (a path of decoded, valid UTF-8
 * segments without "/", "." or "..", at most the allowed segments and
 * parameters; QIDO limits in range, matches pointing into the parameters;
 * Accept ranges ordered by weight with a type/subtype in lower case; media
 * parameters found again by name), and what fails says why.
 */
#include "parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (len == 0 || n - i < len)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

static void check_error(const obia_error *err)
{
    if (err->code == OBIA_E_OK || err->message[0] == '\0' ||
        strnlen(err->message, sizeof err->message) == sizeof err->message)
        abort();
}

static void check_qido(const req *r, obia_qido_level level)
{
    qido_request q;
    obia_error err;
    obia_error_clear(&err);
    if (!qido_params_parse(r->query, r->nquery, level, 100, 1000, &q, &err)) {
        check_error(&err);
        if (err.code != OBIA_E_ARG && err.code != OBIA_E_LIMIT)
            abort();
        return;
    }
    if (err.code != OBIA_E_OK || q.q.level != level || q.q.limit < 1 || q.q.limit > 1000 ||
        q.q.offset < 0 || q.q.nmatch > OBIA_QIDO_MAX_MATCHES || q.ninclude > QIDO_MAX_INCLUDE ||
        strnlen(q.unsupported, sizeof q.unsupported) == sizeof q.unsupported)
        abort();
    for (size_t i = 0; i < q.q.nmatch; i++) {
        bool found = false;
        for (size_t k = 0; k < r->nquery && !found; k++)
            found = q.q.match[i].value == r->query[k].value;
        if (!found || strlen(q.q.match[i].value) > QIDO_MAX_VALUE ||
            !obia_catalog_qido_key(level, q.q.match[i].tag))
            abort();
        for (size_t k = 0; k < i; k++)
            if (q.q.match[k].tag == q.q.match[i].tag)
                abort();
    }
    for (size_t i = 0; i < q.ninclude; i++)
        for (size_t k = 0; k < i; k++)
            if (q.include[k] == q.include[i])
                abort();
}

static void check_uri(const char *s)
{
    obia_arena *a = obia_arena_new(4096);
    if (!a)
        return;
    req r;
    memset(&r, 0, sizeof r);
    obia_error err;
    obia_error_clear(&err);
    if (!http_uri_parse(s, a, &r, &err)) {
        check_error(&err);
        obia_arena_free(a);
        return;
    }
    if (err.code != OBIA_E_OK || !r.path || r.path[0] != '/' || r.nseg > REQ_MAX_SEGMENTS ||
        r.nquery > REQ_MAX_PARAMS)
        abort();
    size_t plen = 1;
    for (size_t i = 0; i < r.nseg; i++) {
        const char *seg = r.seg[i];
        size_t n = strlen(seg);
        if (n == 0 || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0 || strchr(seg, '/') ||
            strchr(seg, '\\') || !valid_utf8((const unsigned char *)seg, n))
            abort();
        plen += n + (i ? 1 : 0);
    }
    if (strlen(r.path) != plen)
        abort();
    for (size_t i = 0; i < r.nquery; i++) {
        const char *name = r.query[i].name, *value = r.query[i].value;
        if (!name || !value || !name[0] || !valid_utf8((const unsigned char *)name, strlen(name)) ||
            !valid_utf8((const unsigned char *)value, strlen(value)))
            abort();
    }
    check_qido(&r, OBIA_QIDO_STUDY);
    check_qido(&r, OBIA_QIDO_SERIES);
    check_qido(&r, OBIA_QIDO_INSTANCE);
    obia_arena_free(a);
}

static void check_type(const char *type)
{
    const char *slash = strchr(type, '/');
    if (!slash || slash == type || slash[1] == '\0' || strchr(slash + 1, '/'))
        abort();
    for (const char *c = type; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            abort();
}

static void check_media(const char *s)
{
    static const char *const types[] = {
        "application/dicom", "application/dicom+json", "multipart/related", "image/png",
        "text/html",
    };
    media_type ranges[6];
    size_t n = http_accept_parse(s, ranges, 6);
    if (n > 6 || (!s[0] && n != 1))
        abort();
    for (size_t i = 0; i < n; i++) {
        if (ranges[i].q < 1 || ranges[i].q > 1000 || (i && ranges[i - 1].q < ranges[i].q) ||
            ranges[i].nparam > MEDIA_MAX_PARAMS)
            abort();
        check_type(ranges[i].type);
        if (http_media_param(&ranges[i], "q"))
            abort();   /* the weight is not a parameter */
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
            if (http_media_match(&ranges[i], types[k]) && strcmp(ranges[i].type, "*/*") != 0 &&
                strncmp(ranges[i].type, types[k], strcspn(ranges[i].type, "*")) != 0)
                abort();
    }

    media_type mt;
    obia_error err;
    obia_error_clear(&err);
    if (!http_media_type_parse(s, &mt, &err)) {
        check_error(&err);
        return;
    }
    check_type(mt.type);
    if (mt.q != 1000 || mt.nparam > MEDIA_MAX_PARAMS)
        abort();
    for (size_t i = 0; i < mt.nparam; i++)
        if (http_media_param(&mt, mt.param[i].name) != mt.param[i].value)
            abort();   /* names are unique */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_uri(s);
    check_media(s);
    free(s);
    return 0;
}
