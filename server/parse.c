/* Request targets, media types and QIDO-RS query parameters (see parse.h). */
#include "parse.h"

#include "obia/dicom.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- errors, bytes and characters --------------------------------------------------- */

/* Set "WHAT at byte AT: message" (and err->offset, when this is the first error). */
__attribute__((format(printf, 5, 6)))
static bool fail_at(obia_error *err, obia_status code, const char *what, size_t at,
                    const char *fmt, ...)
{
    bool fresh = err && err->code == OBIA_E_OK;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    obia_error_set(err, code, "%s at byte %zu: %s", what, at, msg);
    if (fresh)
        err->offset = at;
    return false;
}

/* p[0..n) for a message: printable ASCII kept, other bytes as \xNN, cut at
 * about 48 characters (client bytes must not make the message unreadable). */
static const char *show(char *buf, size_t cap, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (o >= 48) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", c);
    }
    buf[o] = '\0';
    return buf;
}

/* Whether s[0..n) is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
            return false;
        if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))
            return false;
        i += len;
    }
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 tchar */
static bool is_tchar(char c)
{
    unsigned char u = (unsigned char)c;
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9'))
        return true;
    return u != 0 && strchr("!#$%&'*+-.^_`|~", u) != NULL;
}

/* ---- request target ----------------------------------------------------------------- */

#define URI "request target"

/* Percent-decode uri[from..to) into out (room for to - from bytes); with
 * plus, '+' is a space (query strings). */
static bool decode(const char *uri, size_t from, size_t to, bool plus, char *out, size_t *outlen,
                   obia_error *err)
{
    char shown[64];
    size_t o = 0;
    for (size_t i = from; i < to; i++) {
        char c = uri[i];
        if (c == '%') {
            if (to - i < 3) {
                return fail_at(err, OBIA_E_ARG, URI, i, "truncated percent escape \"%s\"",
                               show(shown, sizeof shown, uri + i, to - i));
            }
            int hi = hex_digit(uri[i + 1]), lo = hex_digit(uri[i + 2]);
            if (hi < 0 || lo < 0) {
                return fail_at(err, OBIA_E_ARG, URI, i, "bad percent escape \"%s\"",
                               show(shown, sizeof shown, uri + i, 3));
            }
            if (hi == 0 && lo == 0)
                return fail_at(err, OBIA_E_ARG, URI, i, "an encoded NUL (%%00)");
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (plus && c == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    *outlen = o;
    return true;
}

/* A decoded copy of uri[from..to) in the arena, checked to be UTF-8. */
static char *decode_dup(const char *uri, size_t from, size_t to, bool plus, const char *what,
                        obia_arena *a, size_t *outlen, obia_error *err)
{
    char *out = obia_arena_alloc(a, to - from + 1);
    if (!out) {
        obia_error_set(err, OBIA_E_NOMEM, "request target: out of memory");
        return NULL;
    }
    size_t n = 0;
    if (!decode(uri, from, to, plus, out, &n, err))
        return NULL;
    out[n] = '\0';
    if (!valid_utf8((const unsigned char *)out, n)) {
        fail_at(err, OBIA_E_ARG, URI, from, "%s is not valid UTF-8 once decoded", what);
        return NULL;
    }
    *outlen = n;
    return out;
}

static bool add_segment(const char *uri, size_t from, size_t to, obia_arena *a, req *r,
                        obia_error *err)
{
    if (r->nseg == REQ_MAX_SEGMENTS)
        return fail_at(err, OBIA_E_LIMIT, URI, from, "more than %d path segments",
                       REQ_MAX_SEGMENTS);
    char what[48];
    snprintf(what, sizeof what, "path segment %zu", r->nseg + 1);
    size_t n = 0;
    char *seg = decode_dup(uri, from, to, false, what, a, &n, err);
    if (!seg)
        return false;
    if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
        return fail_at(err, OBIA_E_ARG, URI, from, "%s is \"%s\"", what, seg);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)seg[i];
        if (c == '/')
            return fail_at(err, OBIA_E_ARG, URI, from, "%s holds an encoded '/'", what);
        if (c == '\\')
            return fail_at(err, OBIA_E_ARG, URI, from, "%s holds a '\\'", what);
        if (c < 0x20 || c == 0x7F)
            return fail_at(err, OBIA_E_ARG, URI, from, "%s holds a control character (0x%02X)",
                           what, c);
    }
    r->seg[r->nseg++] = seg;
    return true;
}

static bool add_param(const char *uri, size_t from, size_t to, obia_arena *a, req *r,
                      obia_error *err)
{
    if (r->nquery == REQ_MAX_PARAMS)
        return fail_at(err, OBIA_E_LIMIT, URI, from, "more than %d query parameters",
                       REQ_MAX_PARAMS);
    const char *eq = memchr(uri + from, '=', to - from);
    size_t name_end = eq ? (size_t)(eq - uri) : to;
    if (name_end == from)
        return fail_at(err, OBIA_E_ARG, URI, from, "query parameter %zu has an empty name",
                       r->nquery + 1);
    char what[48];
    size_t n = 0;
    snprintf(what, sizeof what, "the name of query parameter %zu", r->nquery + 1);
    char *name = decode_dup(uri, from, name_end, true, what, a, &n, err);
    if (!name)
        return false;
    snprintf(what, sizeof what, "the value of query parameter %zu", r->nquery + 1);
    char *value = eq ? decode_dup(uri, name_end + 1, to, true, what, a, &n, err)
                     : obia_arena_strndup(a, "", 0);
    if (!value)
        return obia_error_set(err, OBIA_E_NOMEM, "request target: out of memory");
    r->query[r->nquery].name = name;
    r->query[r->nquery].value = value;
    r->nquery++;
    return true;
}

bool http_uri_parse(const char *uri, obia_arena *a, req *r, obia_error *err)
{
    r->nseg = 0;
    r->nquery = 0;
    r->path = NULL;
    if (!uri || uri[0] != '/')
        return fail_at(err, OBIA_E_ARG, URI, 0, "does not start with '/'");
    size_t len = strlen(uri);
    const char *hash = memchr(uri, '#', len);
    size_t end = hash ? (size_t)(hash - uri) : len;
    const char *question = memchr(uri, '?', end);
    size_t path_end = question ? (size_t)(question - uri) : end;

    for (size_t i = 1; i <= path_end;) {
        const char *slash = memchr(uri + i, '/', path_end - i);
        size_t j = slash ? (size_t)(slash - uri) : path_end;
        if (j > i && !add_segment(uri, i, j, a, r, err))
            return false;
        i = j + 1;
    }
    size_t plen = 1;
    for (size_t k = 0; k < r->nseg; k++)
        plen += strlen(r->seg[k]) + 1;
    char *path = obia_arena_alloc(a, plen + 1);
    if (!path)
        return obia_error_set(err, OBIA_E_NOMEM, "request target: out of memory");
    size_t o = 0;
    path[o++] = '/';
    for (size_t k = 0; k < r->nseg; k++) {
        size_t n = strlen(r->seg[k]);
        if (k)
            path[o++] = '/';
        memcpy(path + o, r->seg[k], n);
        o += n;
    }
    path[o] = '\0';
    r->path = path;

    if (question) {
        for (size_t i = path_end + 1; i < end;) {
            const char *amp = memchr(uri + i, '&', end - i);
            size_t j = amp ? (size_t)(amp - uri) : end;
            if (j > i && !add_param(uri, i, j, a, r, err))
                return false;
            i = j + 1;
        }
    }
    return true;
}

/* ---- media types -------------------------------------------------------------------- */

#define MT "media type"

/* A qvalue (RFC 9110 12.4.2): "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"], as 0..1000. */
static bool parse_qvalue(const char *s, size_t n, int *q)
{
    if (n == 0 || n > 5 || (s[0] != '0' && s[0] != '1'))
        return false;
    int v = (s[0] - '0') * 1000;
    if (n > 1) {
        if (s[1] != '.')
            return false;
        int scale = 100;
        for (size_t i = 2; i < n; i++, scale /= 10) {
            if (s[i] < '0' || s[i] > '9')
                return false;
            v += (s[i] - '0') * scale;
        }
    }
    if (v > 1000)
        return false;
    *q = v;
    return true;
}

static void lower_copy(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    dst[n] = '\0';
}

/* One media type (or, with accept, one media range of an Accept header)
 * from s[0..len); byte offsets in messages count from base. */
static bool parse_media(const char *s, size_t len, size_t base, bool accept, media_type *out,
                        obia_error *err)
{
    char shown[64];
    memset(out, 0, sizeof *out);
    out->q = 1000;
    bool have_q = false;
    size_t i = 0;
    while (i < len && is_ows(s[i]))
        i++;
    size_t t0 = i;
    while (i < len && is_tchar(s[i]))
        i++;
    size_t t1 = i;
    if (t1 == t0)
        return fail_at(err, OBIA_E_ARG, MT, base + i, "expected a type (such as \"application\")");
    if (i >= len || s[i] != '/')
        return fail_at(err, OBIA_E_ARG, MT, base + i, "expected '/' after the type \"%s\"",
                       show(shown, sizeof shown, s + t0, t1 - t0));
    i++;
    size_t u0 = i;
    while (i < len && is_tchar(s[i]))
        i++;
    if (i == u0)
        return fail_at(err, OBIA_E_ARG, MT, base + i, "expected a subtype after \"%s/\"",
                       show(shown, sizeof shown, s + t0, t1 - t0));
    if (i - t0 >= sizeof out->type)
        return fail_at(err, OBIA_E_ARG, MT, base + t0, "the type is longer than %zu characters",
                       sizeof out->type - 1);
    lower_copy(out->type, s + t0, i - t0);
    if (accept && t1 - t0 == 1 && s[t0] == '*' && !(i - u0 == 1 && s[u0] == '*'))
        return fail_at(err, OBIA_E_ARG, MT, base + t0, "a range of any type with subtype \"%s\"",
                       show(shown, sizeof shown, s + u0, i - u0));

    for (;;) {
        while (i < len && is_ows(s[i]))
            i++;
        if (i == len)
            break;
        if (s[i] != ';')
            return fail_at(err, OBIA_E_ARG, MT, base + i, "expected ';' or the end, found \"%s\"",
                           show(shown, sizeof shown, s + i, 1));
        i++;
        while (i < len && is_ows(s[i]))
            i++;
        if (i == len || s[i] == ';')
            continue;   /* empty parameters are allowed */
        size_t n0 = i;
        while (i < len && is_tchar(s[i]))
            i++;
        size_t n1 = i;
        if (n1 == n0)
            return fail_at(err, OBIA_E_ARG, MT, base + i, "expected a parameter name, found \"%s\"",
                           show(shown, sizeof shown, s + i, 1));
        const char *name = s + n0;
        size_t nlen = n1 - n0;
        while (i < len && is_ows(s[i]))
            i++;
        if (i == len || s[i] != '=')
            return fail_at(err, OBIA_E_ARG, MT, base + i, "parameter \"%s\" has no '=' and value",
                           show(shown, sizeof shown, name, nlen));
        i++;
        while (i < len && is_ows(s[i]))
            i++;
        char value[sizeof out->param[0].value];
        size_t vlen = 0;
        if (i < len && s[i] == '"') {
            size_t open = i++;
            for (;;) {
                if (i == len)
                    return fail_at(err, OBIA_E_ARG, MT, base + open,
                                   "the quoted value of parameter \"%s\" is not closed",
                                   show(shown, sizeof shown, name, nlen));
                unsigned char c = (unsigned char)s[i];
                if (c == '"') {
                    i++;
                    break;
                }
                if (c == '\\') {
                    if (++i == len)
                        continue;   /* reported as not closed */
                    c = (unsigned char)s[i];
                }
                if ((c < 0x20 && c != '\t') || c == 0x7F)
                    return fail_at(err, OBIA_E_ARG, MT, base + i,
                                   "a control character (0x%02X) in the value of parameter \"%s\"",
                                   c, show(shown, sizeof shown, name, nlen));
                if (vlen + 1 >= sizeof value)
                    return fail_at(err, OBIA_E_ARG, MT, base + open,
                                   "the value of parameter \"%s\" is longer than %zu bytes",
                                   show(shown, sizeof shown, name, nlen), sizeof value - 1);
                value[vlen++] = (char)c;
                i++;
            }
        } else {
            /* a token, or '/' too: clients send type=application/dicom unquoted */
            size_t v0 = i;
            while (i < len && (is_tchar(s[i]) || s[i] == '/'))
                i++;
            if (i == v0)
                return fail_at(err, OBIA_E_ARG, MT, base + i,
                               "parameter \"%s\" has no value",
                               show(shown, sizeof shown, name, nlen));
            if (i - v0 >= sizeof value)
                return fail_at(err, OBIA_E_ARG, MT, base + v0,
                               "the value of parameter \"%s\" is longer than %zu bytes",
                               show(shown, sizeof shown, name, nlen), sizeof value - 1);
            vlen = i - v0;
            memcpy(value, s + v0, vlen);
        }
        value[vlen] = '\0';

        if (accept && nlen == 1 && (name[0] == 'q' || name[0] == 'Q')) {
            if (have_q)
                return fail_at(err, OBIA_E_ARG, MT, base + n0, "a second weight (q)");
            if (!parse_qvalue(value, vlen, &out->q))
                return fail_at(err, OBIA_E_ARG, MT, base + n0, "bad weight q=\"%s\"",
                               show(shown, sizeof shown, value, vlen));
            have_q = true;
            continue;
        }
        if (nlen >= sizeof out->param[0].name)
            return fail_at(err, OBIA_E_ARG, MT, base + n0,
                           "a parameter name longer than %zu characters",
                           sizeof out->param[0].name - 1);
        for (size_t k = 0; k < out->nparam; k++)
            if (strncasecmp(out->param[k].name, name, nlen) == 0 &&
                out->param[k].name[nlen] == '\0')
                return fail_at(err, OBIA_E_ARG, MT, base + n0, "parameter \"%s\" given twice",
                               out->param[k].name);
        if (out->nparam == MEDIA_MAX_PARAMS)
            return fail_at(err, OBIA_E_ARG, MT, base + n0, "more than %d parameters",
                           MEDIA_MAX_PARAMS);
        lower_copy(out->param[out->nparam].name, name, nlen);
        memcpy(out->param[out->nparam].value, value, vlen + 1);
        out->nparam++;
    }
    return true;
}

bool http_media_type_parse(const char *s, media_type *out, obia_error *err)
{
    if (!s) {
        memset(out, 0, sizeof *out);
        return obia_error_set(err, OBIA_E_ARG, "media type: none given");
    }
    return parse_media(s, strlen(s), 0, false, out, err);
}

const char *http_media_param(const media_type *mt, const char *name)
{
    for (size_t i = 0; i < mt->nparam; i++)
        if (strcasecmp(mt->param[i].name, name) == 0)
            return mt->param[i].value;
    return NULL;
}

size_t http_accept_parse(const char *s, media_type *out, size_t max)
{
    if (max == 0)
        return 0;
    size_t len = s ? strlen(s) : 0;
    size_t first = 0;
    while (first < len && is_ows(s[first]))
        first++;
    if (first == len) {
        memset(&out[0], 0, sizeof out[0]);
        strcpy(out[0].type, "*/*");
        out[0].q = 1000;
        return 1;
    }
    size_t count = 0;
    media_type range;
    for (size_t i = 0; i <= len;) {
        /* the element ends at a comma outside a quoted string */
        size_t start = i;
        bool quoted = false;
        for (; i < len; i++) {
            char c = s[i];
            if (quoted) {
                if (c == '\\' && i + 1 < len)
                    i++;
                else if (c == '"')
                    quoted = false;
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                break;
            }
        }
        size_t end = i++;
        size_t k = start;
        while (k < end && is_ows(s[k]))
            k++;
        if (k == end)
            continue;   /* empty list elements are allowed */
        obia_error ignored;
        obia_error_clear(&ignored);
        if (!parse_media(s + start, end - start, start, true, &range, &ignored) || range.q == 0)
            continue;
        size_t pos = count;
        while (pos > 0 && out[pos - 1].q < range.q)
            pos--;
        if (pos >= max)
            continue;
        size_t keep = count < max ? count : max - 1;
        memmove(&out[pos + 1], &out[pos], (keep - pos) * sizeof out[0]);
        out[pos] = range;
        if (count < max)
            count++;
    }
    return count;
}

bool http_media_match(const media_type *range, const char *type)
{
    const char *rslash = strchr(range->type, '/');
    const char *tslash = strchr(type, '/');
    if (!rslash || !tslash)
        return false;
    size_t rlen = (size_t)(rslash - range->type), tlen = (size_t)(tslash - type);
    bool any_sub = strcmp(rslash + 1, "*") == 0;
    if (rlen == 1 && range->type[0] == '*')
        return any_sub;
    if (rlen != tlen || strncasecmp(range->type, type, rlen) != 0)
        return false;
    return any_sub || strcasecmp(rslash + 1, tslash + 1) == 0;
}

/* ---- QIDO-RS query parameters ------------------------------------------------------- */

#define QIDO_MAX_PATH 8

/* An attribute or a sequence path, as tags from the outermost. */
typedef struct key_path {
    uint32_t tag[QIDO_MAX_PATH];
    size_t n;
} key_path;

/* One attribute: 8 hex digits or a keyword of the dictionary. */
static bool attribute_tag(const char *s, size_t n, uint32_t *tag)
{
    if (n == 8) {
        uint32_t v = 0;
        size_t i = 0;
        for (; i < 8; i++) {
            int d = hex_digit(s[i]);
            if (d < 0)
                break;
            v = v << 4 | (uint32_t)d;
        }
        if (i == 8) {
            *tag = v;
            return true;
        }
    }
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return false;
    }
    const obia_dict_entry *e = obia_dict_lookup_keyword(s, n);
    if (!e || !e->keyword || e->keyword[0] == '\0')
        return false;
    *tag = e->tag;
    return true;
}

/* "Attr" or "Seq.Seq.Attr", each part an attribute. */
static bool parse_key_path(const char *s, size_t n, key_path *kp)
{
    kp->n = 0;
    size_t i = 0;
    for (;;) {
        const char *dot = memchr(s + i, '.', n - i);
        size_t j = dot ? (size_t)(dot - s) : n;
        if (kp->n == QIDO_MAX_PATH || !attribute_tag(s + i, j - i, &kp->tag[kp->n]))
            return false;
        kp->n++;
        if (!dot)
            return true;
        i = j + 1;
    }
}

static bool same_path(const key_path *a, const key_path *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->tag[i] != b->tag[i])
            return false;
    return true;
}

/* A whole number lo..hi from s (digits only). */
static bool parse_number(const char *s, long lo, long hi, long *out)
{
    if (!s[0])
        return false;
    long v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        long d = *c - '0';
        if (v > (hi - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v < lo)
        return false;
    *out = v;
    return true;
}

/* Add name to the comma-separated list; a list that runs out of room ends with "...". */
static void note_unsupported(char *list, size_t cap, const char *name)
{
    size_t len = strlen(list);
    if (len >= 3 && strcmp(list + len - 3, "...") == 0)
        return;
    size_t n = strlen(name);
    size_t sep = len ? 1 : 0;
    if (len + sep + n + 4 < cap) {
        if (sep)
            list[len++] = ',';
        memcpy(list + len, name, n + 1);
    } else {
        memcpy(list + len, sep ? ",..." : "...", sep + 4);
    }
}

static bool add_include(qido_request *out, uint32_t tag, obia_error *err)
{
    for (size_t i = 0; i < out->ninclude; i++)
        if (out->include[i] == tag)
            return true;
    if (out->ninclude == QIDO_MAX_INCLUDE)
        return obia_error_set(err, OBIA_E_ARG,
                              "query parameter includefield: more than %d attributes",
                              QIDO_MAX_INCLUDE);
    out->include[out->ninclude++] = tag;
    return true;
}

static bool parse_includefield(const char *value, qido_request *out, obia_error *err)
{
    char shown[64];
    size_t len = strlen(value);
    if (len == 0)
        return obia_error_set(err, OBIA_E_ARG, "query parameter includefield is empty");
    for (size_t i = 0; i <= len;) {
        const char *comma = memchr(value + i, ',', len - i);
        size_t j = comma ? (size_t)(comma - value) : len;
        size_t a = i, b = j;
        while (a < b && value[a] == ' ')
            a++;
        while (b > a && value[b - 1] == ' ')
            b--;
        if (a == b)
            return obia_error_set(err, OBIA_E_ARG,
                                  "query parameter includefield=\"%s\": an empty attribute name",
                                  show(shown, sizeof shown, value, len));
        key_path kp;
        if (b - a == 3 && memcmp(value + a, "all", 3) == 0) {
            out->include_all = true;
        } else if (parse_key_path(value + a, b - a, &kp)) {
            if (!add_include(out, kp.tag[0], err))
                return false;
        } else {
            return obia_error_set(err, OBIA_E_ARG,
                                  "query parameter includefield: \"%s\" is not a DICOM keyword "
                                  "or tag", show(shown, sizeof shown, value + a, b - a));
        }
        i = j + 1;
    }
    return true;
}

bool qido_params_parse(const param *p, size_t n, obia_qido_level level, long default_limit,
                       long max_limit, qido_request *out, obia_error *err)
{
    char shown[64], shown2[64];
    memset(out, 0, sizeof *out);
    out->q.level = level;
    out->q.limit = default_limit;
    out->q.offset = 0;
    if (n > REQ_MAX_PARAMS)
        return obia_error_set(err, OBIA_E_LIMIT, "more than %d query parameters", REQ_MAX_PARAMS);
    bool seen_limit = false, seen_offset = false, seen_fuzzy = false;
    key_path keys[REQ_MAX_PARAMS];
    const char *key_names[REQ_MAX_PARAMS];
    size_t nkeys = 0;

    for (size_t i = 0; i < n; i++) {
        const char *name = p[i].name ? p[i].name : "";
        const char *value = p[i].value ? p[i].value : "";
        if (strcmp(name, "limit") == 0 || strcmp(name, "offset") == 0) {
            bool is_limit = name[0] == 'l';
            bool *seen = is_limit ? &seen_limit : &seen_offset;
            if (*seen)
                return obia_error_set(err, OBIA_E_ARG, "query parameter %s given twice", name);
            *seen = true;
            long v;
            bool ok = is_limit ? parse_number(value, 1, max_limit, &v)
                               : parse_number(value, 0, LONG_MAX, &v);
            if (!ok && is_limit)
                return obia_error_set(err, OBIA_E_ARG,
                                      "query parameter limit=\"%s\": not a whole number from 1 "
                                      "to %ld", show(shown, sizeof shown, value, strlen(value)),
                                      max_limit);
            if (!ok)
                return obia_error_set(err, OBIA_E_ARG,
                                      "query parameter offset=\"%s\": not a whole number of 0 "
                                      "or more", show(shown, sizeof shown, value, strlen(value)));
            if (is_limit)
                out->q.limit = v;
            else
                out->q.offset = v;
        } else if (strcmp(name, "fuzzymatching") == 0) {
            if (seen_fuzzy)
                return obia_error_set(err, OBIA_E_ARG,
                                      "query parameter fuzzymatching given twice");
            seen_fuzzy = true;
            if (strcasecmp(value, "true") == 0)
                out->q.fuzzy = true;
            else if (strcasecmp(value, "false") == 0)
                out->q.fuzzy = false;
            else
                return obia_error_set(err, OBIA_E_ARG,
                                      "query parameter fuzzymatching=\"%s\": not true or false",
                                      show(shown, sizeof shown, value, strlen(value)));
        } else if (strcmp(name, "includefield") == 0) {
            if (!parse_includefield(value, out, err))
                return false;
        } else if (strcmp(name, "accept") == 0 || strcmp(name, "charset") == 0) {
            continue;
        } else {
            key_path kp;
            size_t nlen = strlen(name);
            if (!parse_key_path(name, nlen, &kp))
                return obia_error_set(err, OBIA_E_ARG,
                                      "query parameter \"%s\": not a DICOM keyword, tag or "
                                      "sequence path", show(shown, sizeof shown, name, nlen));
            if (strnlen(value, QIDO_MAX_VALUE + 1) > QIDO_MAX_VALUE)
                return obia_error_set(err, OBIA_E_ARG,
                                      "query parameter %s: the value is longer than %d bytes",
                                      name, QIDO_MAX_VALUE);
            for (size_t k = 0; k < nkeys; k++)
                if (same_path(&keys[k], &kp)) {
                    if (strcmp(key_names[k], name) == 0)
                        return obia_error_set(err, OBIA_E_ARG,
                                              "query parameter %s given twice", name);
                    return obia_error_set(err, OBIA_E_ARG,
                                          "query parameter %s names the attribute of %s again",
                                          show(shown, sizeof shown, name, nlen),
                                          show(shown2, sizeof shown2, key_names[k],
                                               strlen(key_names[k])));
                }
            keys[nkeys] = kp;
            key_names[nkeys++] = name;
            if (kp.n > 1 || !obia_catalog_qido_key(level, kp.tag[0])) {
                note_unsupported(out->unsupported, sizeof out->unsupported, name);
                continue;
            }
            if (out->q.nmatch == OBIA_QIDO_MAX_MATCHES)
                return obia_error_set(err, OBIA_E_ARG,
                                      "query parameter %s: more than %d matching keys", name,
                                      OBIA_QIDO_MAX_MATCHES);
            out->q.match[out->q.nmatch].tag = kp.tag[0];
            out->q.match[out->q.nmatch].value = value;
            out->q.nmatch++;
        }
    }
    return true;
}
