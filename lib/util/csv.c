/* A strict RFC 4180 CSV reader for files from outside (clinical data). */
#include "obia/util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FIELD (1u << 20)
#define MAX_FIELDS 1000

struct obia_csv {
    const char *p;
    size_t len, pos;
    size_t line;           /* of the character at pos */
    obia_buf text;         /* the fields of the current record, each NUL-terminated */
    size_t starts[MAX_FIELDS];
    const char *fields[MAX_FIELDS];
};

obia_csv *obia_csv_new(const char *data, size_t len)
{
    obia_csv *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->p = data;
    c->len = len;
    c->line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        c->pos = 3;
    obia_buf_init(&c->text, (size_t)MAX_FIELDS * 64 + MAX_FIELD * 4);
    return c;
}

void obia_csv_free(obia_csv *c)
{
    if (!c)
        return;
    obia_buf_free(&c->text);
    free(c);
}

/* Whether s[0..n) is valid UTF-8 (no overlongs, no surrogates). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        size_t k;
        uint32_t cp;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            k = 1, cp = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            k = 2, cp = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            k = 3, cp = b & 0x07;
        } else {
            return false;
        }
        if (i + k >= n)
            return false;   /* cut short */
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

static bool end_field(obia_csv *c, size_t *n, size_t start, size_t line, obia_error *err)
{
    size_t flen = c->text.len - start;
    if (flen > MAX_FIELD)
        return obia_error_set(err, OBIA_E_LIMIT, "line %zu: field %zu is longer than %u bytes", line,
                              *n + 1, MAX_FIELD);
    if (flen && !valid_utf8((const unsigned char *)c->text.data + start, flen))
        return obia_error_set(err, OBIA_E_FORMAT, "line %zu: field %zu is not valid UTF-8", line,
                              *n + 1);
    if (*n >= MAX_FIELDS)
        return obia_error_set(err, OBIA_E_LIMIT, "line %zu: more than %d fields", line, MAX_FIELDS);
    c->starts[(*n)++] = start;
    return obia_buf_append_byte(&c->text, '\0') || obia_error_set(err, OBIA_E_NOMEM, "out of memory");
}

bool obia_csv_next(obia_csv *c, const char *const **fields, size_t *n, size_t *line,
                   obia_error *err)
{
    if (c->pos >= c->len)
        return false;
    obia_buf_reset(&c->text);
    *n = 0;
    *line = c->line;
    size_t start = 0;
    bool quoted = false, after_quote = false;
    for (;;) {
        if (c->pos >= c->len) {
            if (quoted)
                return obia_error_set(err, OBIA_E_FORMAT,
                                      "line %zu: a quoted field is not closed before the end", *line);
            if (!end_field(c, n, start, *line, err))
                return false;
            break;
        }
        char ch = c->p[c->pos++];
        if (ch == '\0')
            return obia_error_set(err, OBIA_E_FORMAT, "line %zu: a NUL byte", c->line);
        if (quoted) {
            if (ch == '"') {
                if (c->pos < c->len && c->p[c->pos] == '"') {
                    c->pos++;
                    obia_buf_append_byte(&c->text, '"');
                } else {
                    quoted = false;
                    after_quote = true;
                }
            } else {
                if (ch == '\n')
                    c->line++;
                obia_buf_append_byte(&c->text, (uint8_t)ch);
            }
            continue;
        }
        if (ch == ',') {
            if (!end_field(c, n, start, *line, err))
                return false;
            start = c->text.len;
            after_quote = false;
        } else if (ch == '\n' || ch == '\r') {
            if (ch == '\r' && c->pos < c->len && c->p[c->pos] == '\n')
                c->pos++;
            c->line++;
            if (!end_field(c, n, start, *line, err))
                return false;
            break;
        } else if (after_quote) {
            return obia_error_set(err, OBIA_E_FORMAT,
                                  "line %zu: field %zu has characters after its closing quote",
                                  c->line, *n + 1);
        } else if (ch == '"') {
            if (c->text.len != start)
                return obia_error_set(err, OBIA_E_FORMAT,
                                      "line %zu: field %zu has a quote inside an unquoted value",
                                      c->line, *n + 1);
            quoted = true;
        } else {
            obia_buf_append_byte(&c->text, (uint8_t)ch);
        }
        if (c->text.failed)
            return obia_error_set(err, OBIA_E_LIMIT, "line %zu: record too long", *line);
    }
    if (c->text.failed)
        return obia_error_set(err, OBIA_E_LIMIT, "line %zu: record too long", *line);
    for (size_t i = 0; i < *n; i++)
        c->fields[i] = (const char *)c->text.data + c->starts[i];
    *fields = c->fields;
    return true;
}
