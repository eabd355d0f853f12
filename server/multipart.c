/* The streaming multipart parser (see multipart.h). */
#include "multipart.h"

#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum state {
    ST_DATA,       /* a part's data, or the preamble: looking for a delimiter */
    ST_AFTER,      /* just after "--boundary" */
    ST_DASH,       /* "--boundary-" */
    ST_PAD,        /* blanks after the boundary */
    ST_PAD_LF,     /* a CR after the boundary: its LF must follow */
    ST_HEADERS,    /* a part's header lines */
    ST_EPILOGUE,   /* after the closing delimiter: ignored */
};

/* The part headers reported; others are skipped. */
static const char *const known_headers[] = {
    "content-type", "content-location", "content-id", "content-transfer-encoding",
};
#define NKNOWN (sizeof known_headers / sizeof known_headers[0])

struct multipart {
    multipart_handler h;
    void *ctx;
    char boundary[MULTIPART_MAX_BOUNDARY + 1];
    char delim[3 + MULTIPART_MAX_BOUNDARY + 1];   /* "\n--" boundary */
    size_t dlen;
    enum state st;
    uint64_t pos;          /* body bytes before the current piece */

    /* delimiter recognition: bytes withheld from the data are always
     * "\r" (when cr) and delim[0..match), so they need no buffer */
    size_t match;
    bool cr;
    bool lead;             /* delim[0] of the match is implied (start of body or data) */
    bool in_part;          /* data belongs to a part (else to the preamble) */
    bool seen_delim;
    size_t nparts;

    /* the current part's header lines, each stored NUL-terminated */
    char hbuf[MULTIPART_MAX_HEADERS + 1];
    size_t hlen;           /* bytes stored */
    size_t hcount;         /* bytes of the header section read, line ends included */
    size_t line_start;     /* where the current line starts in hbuf */
    uint64_t line_pos;     /* and in the body */
    bool hcr;              /* a CR was read: LF must follow */
    size_t value[NKNOWN];  /* offsets of known header values in hbuf + 1; 0: absent */

    bool failed;
    obia_error error;
};

/* "multipart body at byte AT: message" */
__attribute__((format(printf, 4, 5)))
static bool fail(obia_error *err, obia_status code, uint64_t at, const char *fmt, ...)
{
    bool fresh = err->code == OBIA_E_OK;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    obia_error_set(err, code, "multipart body at byte %llu: %s", (unsigned long long)at, msg);
    if (fresh)
        err->offset = at;
    return false;
}

/* A callback said no: keep its error, or say so if it set none. */
static bool refused(multipart *m, const char *what, uint64_t at, obia_error *err)
{
    return fail(err, OBIA_E_ARG, at, "the handler refused %s of part %zu", what, m->nparts);
}

static bool is_bchar(char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("'()+_,-./:=? ", c) != NULL;
}

static bool check_boundary(const char *b, size_t n, obia_error *err)
{
    if (n == 0)
        return obia_error_set(err, OBIA_E_ARG, "multipart boundary is empty");
    if (n > MULTIPART_MAX_BOUNDARY)
        return obia_error_set(err, OBIA_E_ARG,
                              "multipart boundary is %zu characters long; at most %d are allowed",
                              n, MULTIPART_MAX_BOUNDARY);
    for (size_t i = 0; i < n; i++)
        if (!is_bchar(b[i])) {
            unsigned char c = (unsigned char)b[i];
            if (c >= 0x21 && c < 0x7F)
                return obia_error_set(err, OBIA_E_ARG,
                                      "multipart boundary: character %zu ('%c') is not allowed "
                                      "in a boundary (RFC 2046)", i + 1, c);
            return obia_error_set(err, OBIA_E_ARG,
                                  "multipart boundary: character %zu (0x%02X) is not allowed in "
                                  "a boundary (RFC 2046)", i + 1, c);
        }
    if (b[n - 1] == ' ')
        return obia_error_set(err, OBIA_E_ARG, "multipart boundary ends with a space");
    return true;
}

multipart *multipart_new(const char *boundary, const multipart_handler *h, void *ctx,
                         obia_error *err)
{
    if (!boundary) {
        obia_error_set(err, OBIA_E_ARG, "multipart boundary is missing");
        return NULL;
    }
    size_t n = strlen(boundary);
    if (!check_boundary(boundary, n, err))
        return NULL;
    multipart *m = calloc(1, sizeof *m);
    if (!m) {
        obia_error_set(err, OBIA_E_NOMEM, "multipart parser: out of memory");
        return NULL;
    }
    if (h)
        m->h = *h;
    m->ctx = ctx;
    memcpy(m->boundary, boundary, n);
    memcpy(m->delim, "\n--", 3);
    memcpy(m->delim + 3, boundary, n);
    m->dlen = 3 + n;
    m->st = ST_DATA;
    m->match = 1;   /* the body may start with the delimiter */
    m->lead = true;
    obia_error_clear(&m->error);
    return m;
}

void multipart_free(multipart *m)
{
    free(m);
}

static bool emit(multipart *m, const char *p, size_t n, uint64_t at, obia_error *err)
{
    if (n == 0 || !m->in_part || !m->h.data)
        return true;
    if (m->h.data(m->ctx, p, n, err))
        return true;
    return refused(m, "the data", at, err);
}

/* Give back the bytes withheld for a match that failed at byte at. */
static bool release(multipart *m, uint64_t at, obia_error *err)
{
    size_t skip = m->lead ? 1 : 0;
    uint64_t from = at - (m->match - skip) - (m->cr ? 1 : 0);
    bool ok = (!m->cr || emit(m, "\r", 1, from, err)) &&
              emit(m, m->delim + skip, m->match - skip, from + (m->cr ? 1 : 0), err);
    m->cr = false;
    m->match = 0;
    m->lead = false;
    return ok;
}

static bool delimiter_seen(multipart *m, uint64_t at, obia_error *err)
{
    m->match = 0;
    m->cr = false;
    m->lead = false;
    m->seen_delim = true;
    m->st = ST_AFTER;
    if (m->in_part) {
        m->in_part = false;
        if (m->h.end && !m->h.end(m->ctx, err))
            return refused(m, "the end", at, err);
    }
    return true;
}

static void begin_headers(multipart *m, uint64_t at)
{
    m->st = ST_HEADERS;
    m->nparts++;
    m->hlen = 0;
    m->hcount = 0;
    m->line_start = 0;
    m->line_pos = at;
    m->hcr = false;
    memset(m->value, 0, sizeof m->value);
}

static bool is_tchar(char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The header line hbuf[line_start..hlen) is complete (its NUL included). */
static bool header_line(multipart *m, obia_error *err)
{
    char *line = m->hbuf + m->line_start;
    size_t n = m->hlen - m->line_start - 1;   /* without its NUL */
    uint64_t at = m->line_pos;
    if (line[0] == ' ' || line[0] == '\t')
        return fail(err, OBIA_E_ARG, at, "part %zu: a folded header line (obsolete, refused)",
                    m->nparts);
    size_t colon = 0;
    while (colon < n && is_tchar(line[colon]))
        colon++;
    if (colon == 0)
        return fail(err, OBIA_E_ARG, at, "part %zu: a header line that does not start with a name",
                    m->nparts);
    if (colon == n || line[colon] != ':')
        return fail(err, OBIA_E_ARG, at + colon,
                    "part %zu: header %.*s is not followed by ':'", m->nparts, (int)colon, line);
    size_t v0 = colon + 1, v1 = n;
    while (v0 < v1 && (line[v0] == ' ' || line[v0] == '\t'))
        v0++;
    while (v1 > v0 && (line[v1 - 1] == ' ' || line[v1 - 1] == '\t'))
        v1--;
    line[v1] = '\0';
    for (size_t k = 0; k < NKNOWN; k++) {
        if (strlen(known_headers[k]) != colon || strncasecmp(line, known_headers[k], colon) != 0)
            continue;
        if (m->value[k])
            return fail(err, OBIA_E_ARG, at, "part %zu: header %.*s given twice", m->nparts,
                        (int)colon, line);
        m->value[k] = m->line_start + v0 + 1;
    }
    return true;
}

static bool headers_done(multipart *m, uint64_t at, obia_error *err)
{
    const char *v[NKNOWN];
    for (size_t k = 0; k < NKNOWN; k++)
        v[k] = m->value[k] ? m->hbuf + m->value[k] - 1 : NULL;
    multipart_part part = {v[0], v[1], v[2], v[3]};
    m->st = ST_DATA;
    m->in_part = true;
    m->match = 1;   /* the data may start with the delimiter */
    m->lead = true;
    m->cr = false;
    if (m->h.begin && !m->h.begin(m->ctx, &part, err))
        return refused(m, "the headers", at, err);
    return true;
}

/* One byte of the header section. */
static bool header_byte(multipart *m, char c, uint64_t at, obia_error *err)
{
    if (++m->hcount > MULTIPART_MAX_HEADERS)
        return fail(err, OBIA_E_LIMIT, at, "the headers of part %zu exceed %d bytes", m->nparts,
                    MULTIPART_MAX_HEADERS);
    if (m->hcr && c != '\n')
        return fail(err, OBIA_E_ARG, at - 1, "part %zu: a CR not followed by LF in the headers",
                    m->nparts);
    if (c == '\r') {
        m->hcr = true;
        return true;
    }
    if (c == '\n') {
        m->hcr = false;
        if (m->hlen == m->line_start)
            return headers_done(m, at + 1, err);
        m->hbuf[m->hlen++] = '\0';
        if (!header_line(m, err))
            return false;
        m->line_start = m->hlen;
        m->line_pos = at + 1;
        return true;
    }
    unsigned char u = (unsigned char)c;
    if ((u < 0x20 && u != '\t') || u == 0x7F)
        return fail(err, OBIA_E_ARG, at, "part %zu: a control character (0x%02X) in the headers",
                    m->nparts, u);
    m->hbuf[m->hlen++] = c;
    return true;
}

static bool feed(multipart *m, const char *data, size_t len, obia_error *err)
{
    size_t i = 0;
    while (i < len) {
        uint64_t at = m->pos + i;
        char c = data[i];
        switch (m->st) {
        case ST_DATA:
            if (m->match > 0) {
                if (c == m->delim[m->match]) {
                    i++;
                    if (++m->match == m->dlen && !delimiter_seen(m, at, err))
                        return false;
                } else if (!release(m, at, err)) {
                    return false;
                }
                break;
            }
            if (m->cr) {
                if (c == '\n') {
                    m->match = 1;
                    i++;
                    break;
                }
                if (!release(m, at, err))
                    return false;
            }
            {
                const char *nl = memchr(data + i, '\n', len - i);
                size_t j = nl ? (size_t)(nl - data) : len;
                size_t keep = j;
                if (j > i && data[j - 1] == '\r') {
                    keep = j - 1;
                    m->cr = true;
                }
                if (!emit(m, data + i, keep - i, at, err))
                    return false;
                if (nl) {
                    m->match = 1;
                    j++;
                }
                i = j;
            }
            break;
        case ST_AFTER:
        case ST_PAD:
            i++;
            if (c == '-' && m->st == ST_AFTER)
                m->st = ST_DASH;
            else if (c == ' ' || c == '\t')
                m->st = ST_PAD;
            else if (c == '\r')
                m->st = ST_PAD_LF;
            else if (c == '\n')
                begin_headers(m, at + 1);
            else
                return fail(err, OBIA_E_ARG, at,
                            "the delimiter \"--%s\" is followed by 0x%02X, not a line end or "
                            "\"--\"", m->boundary, (unsigned char)c);
            break;
        case ST_DASH:
            i++;
            if (c != '-')
                return fail(err, OBIA_E_ARG, at,
                            "the delimiter \"--%s-\" has one '-' where the closing delimiter "
                            "has two", m->boundary);
            m->st = ST_EPILOGUE;
            break;
        case ST_PAD_LF:
            i++;
            if (c != '\n')
                return fail(err, OBIA_E_ARG, at - 1,
                            "a CR not followed by LF after the delimiter \"--%s\"", m->boundary);
            begin_headers(m, at + 1);
            break;
        case ST_HEADERS:
            i++;
            if (!header_byte(m, c, at, err))
                return false;
            break;
        case ST_EPILOGUE:
            i = len;
            break;
        }
    }
    return true;
}

/* Keep the first error for later calls; make sure one is set. */
static bool stop(multipart *m, obia_error *err, obia_error *local)
{
    obia_error *e = err ? err : local;
    if (e->code == OBIA_E_OK)
        obia_error_set(e, OBIA_E_ARG, "multipart body: parsing stopped");
    m->failed = true;
    m->error = *e;
    return false;
}

static bool stopped(const multipart *m, obia_error *err)
{
    if (err && err->code == OBIA_E_OK)
        *err = m->error;
    return false;
}

bool multipart_feed(multipart *m, const char *data, size_t len, obia_error *err)
{
    if (m->failed)
        return stopped(m, err);
    obia_error local;
    obia_error_clear(&local);
    if (!feed(m, data, len, err ? err : &local))
        return stop(m, err, &local);
    m->pos += len;
    return true;
}

bool multipart_finish(multipart *m, obia_error *err)
{
    if (m->failed)
        return stopped(m, err);
    obia_error local;
    obia_error_clear(&local);
    obia_error *e = err ? err : &local;
    uint64_t at = m->pos;
    switch (m->st) {
    case ST_EPILOGUE:
        return true;
    case ST_DATA:
        if (!m->seen_delim)
            fail(e, OBIA_E_ARG, at, "the body ends without any delimiter \"--%s\"", m->boundary);
        else
            fail(e, OBIA_E_ARG, at,
                 "the body ends inside part %zu: the closing delimiter \"--%s--\" is missing "
                 "(a truncated body?)", m->nparts, m->boundary);
        break;
    case ST_HEADERS:
        fail(e, OBIA_E_ARG, at,
             "the body ends inside the headers of part %zu (a truncated body?)", m->nparts);
        break;
    case ST_AFTER:
    case ST_DASH:
    case ST_PAD:
    case ST_PAD_LF:
        fail(e, OBIA_E_ARG, at,
             "the body ends after a delimiter: the closing delimiter \"--%s--\" is missing "
             "(a truncated body?)", m->boundary);
        break;
    }
    return stop(m, err, &local);
}

bool multipart_boundary(const char *content_type_header, char *boundary, size_t cap, char *type,
                        size_t type_cap, obia_error *err)
{
    if (cap)
        boundary[0] = '\0';
    if (type && type_cap)
        type[0] = '\0';
    const char *s = content_type_header;
    while (s && (*s == ' ' || *s == '\t'))
        s++;
    if (!s || !*s)
        return obia_error_set(err, OBIA_E_UNSUPPORTED,
                              "no Content-Type header: multipart/related is expected");
    media_type mt;
    obia_error perr;
    obia_error_clear(&perr);
    if (!http_media_type_parse(content_type_header, &mt, &perr))
        return obia_error_set(err, perr.code, "Content-Type: %s", perr.message);
    if (strcmp(mt.type, "multipart/related") != 0)
        return obia_error_set(err, OBIA_E_UNSUPPORTED,
                              "Content-Type is %s, not multipart/related", mt.type);
    const char *b = http_media_param(&mt, "boundary");
    if (!b)
        return obia_error_set(err, OBIA_E_ARG,
                              "Content-Type multipart/related has no boundary parameter");
    obia_error berr;
    obia_error_clear(&berr);
    size_t n = strlen(b);
    if (!check_boundary(b, n, &berr))
        return obia_error_set(err, berr.code, "Content-Type: %s", berr.message);
    if (n >= cap)
        return obia_error_set(err, OBIA_E_ARG,
                              "Content-Type: the boundary (%zu characters) does not fit in %zu",
                              n, cap);
    memcpy(boundary, b, n + 1);
    const char *t = http_media_param(&mt, "type");
    if (t && type && type_cap) {
        size_t tn = strlen(t);
        if (tn >= type_cap)
            return obia_error_set(err, OBIA_E_ARG,
                                  "Content-Type: the type parameter is longer than %zu characters",
                                  type_cap - 1);
        for (size_t i = 0; i <= tn; i++)
            type[i] = (t[i] >= 'A' && t[i] <= 'Z') ? (char)(t[i] - 'A' + 'a') : t[i];
    }
    return true;
}
