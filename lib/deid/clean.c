/* The text cleaner of Clean Descriptors and the other "C" actions on free
 * text: identifying words taken from the same dataset (names, IDs,
 * institution), and patterns (dates, phone numbers, e-mail addresses, long
 * digit runs), are replaced by '*' in the text's own bytes. Matching ignores
 * ASCII case; the text keeps its character set since only ASCII is written
 * into it. */
#include "deid_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct term {
    uint8_t *p;
    size_t n;
    bool whole_word;     /* only where not inside a longer word */
} term;

struct deid_cleaner {
    term *terms;
    size_t n;
    size_t cap;
};

deid_cleaner *deid_cleaner_new(void)
{
    return calloc(1, sizeof(deid_cleaner));
}

void deid_cleaner_free(deid_cleaner *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->terms[i].p);
    free(c->terms);
    free(c);
}

static uint8_t lower(uint8_t b)
{
    return b >= 'A' && b <= 'Z' ? (uint8_t)(b + 32) : b;
}

static bool is_alnum(uint8_t b)
{
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80;
}

static bool is_digit(uint8_t b)
{
    return b >= '0' && b <= '9';
}

static void add_term(deid_cleaner *c, const uint8_t *p, size_t n, bool whole_word)
{
    while (n && (p[0] == ' ' || p[0] == 0)) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == 0))
        n--;
    if (n < 2)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (c->terms[i].n == n && memcmp(c->terms[i].p, p, n) == 0)
            return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        term *t = realloc(c->terms, cap * sizeof *t);
        if (!t)
            return;
        c->terms = t;
        c->cap = cap;
    }
    uint8_t *copy = malloc(n);
    if (!copy)
        return;
    memcpy(copy, p, n);
    c->terms[c->n++] = (term){copy, n, whole_word || n < 4};
}

void deid_cleaner_add_name(deid_cleaner *c, const uint8_t *p, size_t n)
{
    /* groups split by '=', components by '^': family, given, middle (the
     * prefix and suffix, "Dr" or "Jr", are not identifying on their own) */
    size_t comp = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        uint8_t b = i < n ? p[i] : '=';
        if (b == '^' || b == '=' || b == '\\' || b == ' ' || b == ',') {
            if (comp < 3)
                add_term(c, p + start, i - start, true);
            if (b == '^')
                comp++;
            else if (b == '=' || b == '\\')
                comp = 0;
            start = i + 1;
        }
    }
}

void deid_cleaner_add_phrase(deid_cleaner *c, const uint8_t *p, size_t n)
{
    /* each value of a multi-valued element on its own */
    size_t start = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || p[i] == '\\') {
            add_term(c, p + start, i - start, false);
            start = i + 1;
        }
}

static bool match_at(const uint8_t *s, size_t n, size_t at, const term *t)
{
    if (at + t->n > n)
        return false;
    for (size_t k = 0; k < t->n; k++)
        if (lower(s[at + k]) != lower(t->p[k]))
            return false;
    if (t->whole_word && ((at > 0 && is_alnum(s[at - 1])) ||
                          (at + t->n < n && is_alnum(s[at + t->n]))))
        return false;
    return true;
}

static void mask(uint8_t *m, size_t from, size_t to)
{
    memset(m + from, 1, to - from);
}

/* n digits at s+i, not preceded or followed by another digit */
static bool digit_run(const uint8_t *s, size_t len, size_t i, size_t n)
{
    if (i + n > len || (i > 0 && is_digit(s[i - 1])) || (i + n < len && is_digit(s[i + n])))
        return false;
    for (size_t k = 0; k < n; k++)
        if (!is_digit(s[i + k]))
            return false;
    return true;
}

/* A date at s+i: YYYYMMDD, or YYYY?MM?DD with one separator -, / or . ;
 * *len its length, *sep the separator (0 for none). */
static bool year_first_date(const uint8_t *s, size_t n, size_t i, size_t *len, uint8_t *sep,
                            uint8_t ymd[8])
{
    if (digit_run(s, n, i, 8)) {
        memcpy(ymd, s + i, 8);
        *len = 8;
        *sep = 0;
        char tmp[9];
        return deid_shift_da(ymd, 8, 0, tmp);
    }
    if (i + 10 <= n && digit_run(s, n, i, 4) && (s[i + 4] == '-' || s[i + 4] == '/' || s[i + 4] == '.') &&
        s[i + 7] == s[i + 4] && is_digit(s[i + 5]) && is_digit(s[i + 6]) && digit_run(s, n, i + 8, 2)) {
        memcpy(ymd, s + i, 4);
        memcpy(ymd + 4, s + i + 5, 2);
        memcpy(ymd + 6, s + i + 8, 2);
        *len = 10;
        *sep = s[i + 4];
        char tmp[9];
        return deid_shift_da(ymd, 8, 0, tmp);
    }
    return false;
}

/* DD?MM?YYYY or MM?DD?YYYY (1 or 2 digit day and month): removed, never
 * shifted, since day and month cannot be told apart. */
static size_t other_date(const uint8_t *s, size_t n, size_t i)
{
    size_t k = i, parts = 0;
    uint8_t sep = 0;
    while (parts < 2) {
        size_t d = 0;
        while (k + d < n && is_digit(s[k + d]))
            d++;
        if (d < 1 || d > 2 || (parts == 0 && i > 0 && is_digit(s[i - 1])))
            return 0;
        k += d;
        if (k >= n || (s[k] != '-' && s[k] != '/' && s[k] != '.') || (sep && s[k] != sep))
            return 0;
        sep = s[k++];
        parts++;
    }
    if (digit_run(s, n, k, 4))
        return k + 4 - i;
    if (digit_run(s, n, k, 2))
        return k + 2 - i;
    return 0;
}

/* Phone numbers: digits with - ( ) + . and space between, at least 7
 * digits and at least one separator. */
static size_t phone(const uint8_t *s, size_t n, size_t i)
{
    if (!(is_digit(s[i]) || s[i] == '+' || s[i] == '(') || (i > 0 && is_alnum(s[i - 1])))
        return 0;
    size_t k = i, nd = 0, nsep = 0, end = i;
    while (k < n && (is_digit(s[k]) || s[k] == '-' || s[k] == '(' || s[k] == ')' || s[k] == '+' ||
                     s[k] == ' ' || s[k] == '.')) {
        if (is_digit(s[k])) {
            nd++;
            end = k + 1;
        } else {
            nsep++;
        }
        k++;
    }
    if (end < n && is_alnum(s[end]))
        return 0;
    return nd >= 7 && nsep && nd <= 15 ? end - i : 0;
}

static bool email_local(uint8_t b)
{
    return is_alnum(b) || b == '.' || b == '_' || b == '%' || b == '+' || b == '-';
}

bool deid_clean_text(const deid_cleaner *c, const uint8_t *s, size_t n, bool shift,
                     int32_t shift_days, obia_buf *out)
{
    uint8_t *m = calloc(n ? n : 1, 1);
    /* dates to shift: start offset -> replacement, marked 2 in m */
    typedef struct { size_t at, len; char text[11]; } repl;
    repl *r = NULL;
    size_t nr = 0, capr = 0;
    bool changed = false;
    if (!m)
        return false;

    for (size_t i = 0; i < n; i++) {
        for (size_t t = 0; t < (c ? c->n : 0); t++)
            if (match_at(s, n, i, &c->terms[t]))
                mask(m, i, i + c->terms[t].n);
        if (s[i] == '@') {
            size_t a = i, b = i + 1;
            while (a > 0 && email_local(s[a - 1]))
                a--;
            bool dot = false;
            while (b < n && (is_alnum(s[b]) || s[b] == '.' || s[b] == '-')) {
                dot |= s[b] == '.';
                b++;
            }
            if (a < i && dot)
                mask(m, a, b);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (m[i] || !is_digit(s[i]) || (i > 0 && is_digit(s[i - 1])))
            continue;
        size_t len;
        uint8_t sep, ymd[8];
        if (year_first_date(s, n, i, &len, &sep, ymd)) {
            char moved[9];
            if (shift && deid_shift_da(ymd, 8, shift_days, moved)) {
                if (nr == capr) {
                    capr = capr ? capr * 2 : 8;
                    repl *nrp = realloc(r, capr * sizeof *r);
                    if (!nrp) {
                        mask(m, i, i + len);
                        continue;
                    }
                    r = nrp;
                }
                repl *x = &r[nr++];
                x->at = i;
                x->len = len;
                if (sep)
                    snprintf(x->text, sizeof x->text, "%.4s%c%.2s%c%.2s", moved, sep, moved + 4,
                             sep, moved + 6);
                else
                    memcpy(x->text, moved, 9);
                memset(m + i, 2, len);
            } else {
                mask(m, i, i + len);
            }
            i += len - 1;
            continue;
        }
        size_t k = other_date(s, n, i);
        if (!k)
            k = phone(s, n, i);
        if (k) {
            mask(m, i, i + k);
            i += k - 1;
            continue;
        }
        size_t d = 0;
        while (i + d < n && is_digit(s[i + d]))
            d++;
        if (d >= 5)
            mask(m, i, i + d);
        i += d - 1;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] == '(' && i + 1 < n && m[i + 1] == 1 && phone(s, n, i))
            m[i] = 1;

    size_t ri = 0;
    for (size_t i = 0; i < n;) {
        if (m[i] == 2) {
            while (ri < nr && r[ri].at < i)
                ri++;
            const repl *x = &r[ri];
            obia_buf_append(out, x->text, strlen(x->text));
            i += x->len;
            changed = true;
        } else if (m[i] == 1) {
            obia_buf_append_byte(out, '*');
            while (i < n && m[i] == 1)
                i++;
            changed = true;
        } else {
            obia_buf_append_byte(out, s[i++]);
        }
    }
    free(m);
    free(r);
    return changed;
}
