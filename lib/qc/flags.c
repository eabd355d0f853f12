/*
 * The tag report's risk flags: plain shape rules over one value's text,
 * looking for what a de-identifier may have left behind (a name, a phone
 * number, an e-mail or postal address, a long identifier). They are kept
 * simple so that a curator can predict them; docs/qc-report.md states each
 * rule with examples and the flags they raise on clean data. The flags that
 * need the keys database (DATE, KNOWN) come from the report's callback.
 */
#include "report_internal.h"

#include <ctype.h>
#include <string.h>

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_alnum(unsigned char c) { return is_digit(c) || is_alpha(c); }
/* Letters of names: ASCII letters and the bytes of non-ASCII UTF-8 characters. */
static bool is_letter(unsigned char c) { return is_alpha(c) || c >= 0x80; }
static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c; }

static bool equal_nocase(const char *s, size_t n, const char *word)
{
    size_t k = 0;
    for (; k < n && word[k]; k++)
        if (lower((unsigned char)s[k]) != (unsigned char)word[k])
            return false;
    return k == n && word[k] == '\0';
}

static size_t count_digits(const char *s, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += is_digit((unsigned char)s[i]);
    return d;
}

/* VRs whose values are numbers, dates, times, ages or UIDs: none of the
 * free-text rules applies to them. */
static bool numeric_vr(obia_vr vr)
{
    switch (vr) {
    case OBIA_VR_AS: case OBIA_VR_DA: case OBIA_VR_DS: case OBIA_VR_DT:
    case OBIA_VR_IS: case OBIA_VR_TM: case OBIA_VR_UI:
        return true;
    default:
        return false;
    }
}

static bool single_valued(obia_vr vr)
{
    return vr == OBIA_VR_LT || vr == OBIA_VR_ST || vr == OBIA_VR_UT || vr == OBIA_VR_UR;
}

bool obia__qc_known_per_value(obia_vr vr)
{
    switch (vr) {
    case OBIA_VR_AE: case OBIA_VR_CS: case OBIA_VR_LO: case OBIA_VR_LT: case OBIA_VR_PN:
    case OBIA_VR_SH: case OBIA_VR_ST: case OBIA_VR_UC: case OBIA_VR_UR: case OBIA_VR_UT:
    case OBIA_VR_UN:
        return true;
    default:
        return false;
    }
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit((unsigned char)s[i]))
            return false;
    return n > 0;
}

bool obia__qc_is_accession(const char *s, size_t n)
{
    if (n >= 7 && s[0] == 'I')
        return all_digits(s + 1, n - 1);
    if (n >= 9 && s[0] == 'S')
        return all_digits(s + 1, n - 1);
    if (n >= 8 && memcmp(s, "OBIA", 4) == 0)
        return all_digits(s + 4, n - 4);
    return false;
}

/* ---- NAME --------------------------------------------------------------------- */

bool obia_qc_filler(const char *v, size_t n)
{
    /* obia's dummy for PN is ANONYMIZED, and ANONYMOUS for AE */
    static const char *const words[] = {"ANONYMIZED", "ANONYMISED", "ANONYMOUS", "ANON",
                                        "REMOVED", "DELETED", "UNKNOWN", "NONE", "NULL",
                                        "EMPTY", "TEST", "PATIENT", "NOTAPPLICABLE", "NA"};
    char norm[24];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)v[i]))
            continue;
        if (k == sizeof norm - 1)
            return false;
        norm[k++] = (char)toupper((unsigned char)v[i]);
    }
    norm[k] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(norm, words[i]) == 0)
            return true;
    return false;
}

static void trim_chars(const char **s, size_t *n, const char *chars)
{
    while (*n && strchr(chars, (*s)[0]))
        (*s)++, (*n)--;
    while (*n && strchr(chars, (*s)[*n - 1]))
        (*n)--;
}

/* A PN value names someone unless it is empty (or only component
 * delimiters), an archive pseudonym, or a filler word. */
static bool pn_names_someone(const char *s, size_t n)
{
    trim_chars(&s, &n, " ^=");
    return n != 0 && !obia__qc_is_accession(s, n) && !obia_qc_filler(s, n);
}

/* Words of exam trees written Region^Program (Siemens Study Description
 * "Head^Routine", "Abdomen^Liver"): a part equal to one of them is not a
 * name. */
static const char *const exam_words[] = {
    "abdomen", "angio", "body", "brain", "breast", "cardiac", "cardio", "chest", "emergency",
    "extremities", "extremity", "head", "heart", "library", "liver", "lung", "msk", "neck",
    "neuro", "oncology", "pediatric", "paediatric", "pelvis", "research", "routine", "shoulder",
    "spine", "thorax", "trauma", "vascular", "knee", "hip", "wholebody", "whole body",
};

static bool exam_word(const char *s, size_t n)
{
    trim_chars(&s, &n, " ");
    for (size_t k = 0; k < sizeof exam_words / sizeof *exam_words; k++)
        if (equal_nocase(s, n, exam_words[k]))
            return true;
    return false;
}

/* "Last^First" outside a PN: letters (with spaces, hyphens, apostrophes and
 * periods), a caret, letters, and nothing else but more such parts; not
 * when a part is a word of an exam tree. */
static bool name_shaped(const char *s, size_t n)
{
    trim_chars(&s, &n, " ");
    size_t carets = 0, before = 0, after = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '^')
            carets++;
        else if (is_letter(c))
            *(carets ? &after : &before) += 1;
        else if (c != ' ' && c != '-' && c != '\'' && c != '.')
            return false;
    }
    if (!carets || !before || !after)
        return false;
    for (size_t a = 0; a <= n;) {
        const char *caret = memchr(s + a, '^', n - a);
        size_t b = caret ? (size_t)(caret - s) : n;
        if (exam_word(s + a, b - a))
            return false;
        a = b + 1;
    }
    return true;
}

/* ---- PHONE -------------------------------------------------------------------- */

/* A date written with separators: 4-2-2 or 2-2-4 digits (one or two for day
 * and month). */
static bool date_groups(const size_t *g, size_t ng)
{
    return ng == 3 && ((g[0] == 4 && g[1] <= 2 && g[2] <= 2) ||
                       (g[0] <= 2 && g[1] <= 2 && g[2] == 4));
}

/* Whether a phone number starts at s[i]; *end is set past what was read
 * (at least i + 1) so the caller does not read the same run again. */
static bool phone_at(const char *s, size_t n, size_t i, size_t *end)
{
    enum { SEP_SPACE = 1, SEP_DASH = 2, SEP_DOT = 4 };
    unsigned char c = (unsigned char)s[i];
    *end = i + 1;
    if (!(is_digit(c) || c == '+' || c == '('))
        return false;
    if (i > 0) {
        unsigned char p = (unsigned char)s[i - 1];
        if (is_alnum(p) || p >= 0x80 || p == '.' || p == '-' || p == '_' || p == '/' || p == '+')
            return false;
    }
    size_t k = i, nd = 0, ng = 0, groups[3] = {0, 0, 0}, shortest_later = SIZE_MAX, last = i;
    bool plus = false, paren = false, round = true;
    unsigned seps = 0;
    if (s[k] == '+') {
        plus = true;
        k++;
    }
    for (;;) {
        size_t m, g;
        if (k < n && s[k] == '(') {
            for (m = k + 1; m < n && is_digit((unsigned char)s[m]); m++)
                ;
            if (m == k + 1 || m >= n || s[m] != ')')
                break;
            g = m - k - 1;
            k = m + 1;
            paren = true;
        } else {
            for (m = k; m < n && is_digit((unsigned char)s[m]); m++)
                ;
            if (m == k)
                break;
            g = m - k;
            k = m;
        }
        if (ng < 3)
            groups[ng] = g;
        if (ng && g < shortest_later)
            shortest_later = g;
        ng++;
        nd += g;
        last = k;
        round &= s[k - 1] == '0' || s[k - 1] == ')';
        if (k + 1 < n && (s[k] == ' ' || s[k] == '-' || s[k] == '.') &&
            (is_digit((unsigned char)s[k + 1]) || s[k + 1] == '(')) {
            seps |= s[k] == ' ' ? SEP_SPACE : s[k] == '-' ? SEP_DASH : SEP_DOT;
            k++;
            continue;
        }
        if (k < n && s[k - 1] == ')' && is_digit((unsigned char)s[k]))
            continue; /* "(555)123-4567" */
        break;
    }
    if (last > *end)
        *end = last;
    if (ng == 0 || nd < 7 || nd > 15)
        return false;
    if (last < n && (is_alnum((unsigned char)s[last]) || (unsigned char)s[last] >= 0x80))
        return false;
    if (plus || paren)
        return ng >= 2 || nd >= 10;
    if (ng < 2 || (seps & (seps - 1)) || shortest_later < 2)
        return false; /* one number; mixed separators; "1.2.840" */
    if (seps == SEP_DOT && ng == 2)
        return false; /* a decimal number */
    if (seps == SEP_SPACE && (groups[0] < 2 || round))
        return false; /* a list of numbers: "0 500 1000", "1000 1500 2000" */
    if (seps != SEP_SPACE && date_groups(groups, ng))
        return false;
    return true;
}

/* Whether s[from..to) is part of a phone number (which is flagged as one,
 * not as an identifier too): a phone number starting at most 24 characters
 * before it, in a run of phone characters, reaches its end. */
static bool in_phone(const char *s, size_t n, size_t from, size_t to)
{
    for (size_t k = 0; k <= 24 && k <= from; k++) {
        size_t at = from - k, end;
        unsigned char c = (unsigned char)s[at];
        if (!is_digit(c) && (!c || !strchr("+() -.", c)))
            break;
        if (phone_at(s, n, at, &end) && end >= to)
            return true;
    }
    return false;
}

static bool has_phone(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t end;
        if (phone_at(s, n, i, &end))
            return true;
        i = end;
    }
    return false;
}

/* ---- EMAIL -------------------------------------------------------------------- */

static bool email_local(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool has_email(const char *s, size_t n)
{
    for (const char *at = memchr(s, '@', n); at; at = memchr(at + 1, '@', (size_t)(s + n - at - 1))) {
        size_t i = (size_t)(at - s);
        if (i == 0 || !email_local((unsigned char)s[i - 1]))
            continue;
        size_t b = i + 1;
        while (b < n && (is_alnum((unsigned char)s[b]) || s[b] == '-' || s[b] == '.'))
            b++;
        while (b > i + 1 && s[b - 1] == '.')
            b--;
        /* domain s[i+1..b): labels and a top-level domain of two or more letters */
        size_t dot = b;
        while (dot > i + 1 && s[dot - 1] != '.')
            dot--;
        if (dot <= i + 2 || s[i + 1] == '.')
            continue;
        size_t tld = b - dot;
        bool letters = tld >= 2;
        for (size_t k = dot; k < b && letters; k++)
            letters = is_alpha((unsigned char)s[k]);
        if (letters)
            return true;
    }
    return false;
}

/* ---- ADDRESS ------------------------------------------------------------------ */

static const char *const street_words[] = {
    "street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr",
    "boulevard", "blvd", "way", "court", "ct", "place", "pl", "square", "sq",
    "terrace", "ter", "crescent", "cres", "highway", "hwy", "parkway", "pkwy",
    "circle", "cir", "alley", "gardens", "strasse", "gasse", "weg", "rue",
};

/* s[0..n) is a word; dot whether a period follows it. */
static bool street_word(const char *s, size_t n, bool dot)
{
    /* "CT" and "DR" in capitals are modalities ("3 CHEST CT"), not Court and Drive */
    if (n == 2 && !dot && ((s[0] == 'C' && s[1] == 'T') || (s[0] == 'D' && s[1] == 'R')))
        return false;
    for (size_t k = 0; k < sizeof street_words / sizeof *street_words; k++)
        if (equal_nocase(s, n, street_words[k]))
            return true;
    return false;
}

/* A house number (1 to 5 digits, maybe one letter: "221B") at s[i],
 * followed by one to four words and a street word. */
static bool street_address_at(const char *s, size_t n, size_t i)
{
    size_t k = i;
    while (k < n && is_digit((unsigned char)s[k]) && k - i < 6)
        k++;
    if (k - i > 5)
        return false;
    if (k < n && is_alpha((unsigned char)s[k]) && (k + 1 >= n || !is_alnum((unsigned char)s[k + 1])))
        k++;
    for (size_t words = 0; words < 5; words++) {
        size_t sp = k;
        while (k < n && s[k] == ' ')
            k++;
        if (k == sp)
            return false;
        size_t w = k;
        while (k < n && (is_letter((unsigned char)s[k]) || s[k] == '\''))
            k++;
        if (k == w || (k < n && is_digit((unsigned char)s[k])))
            return false;
        bool dot = k < n && s[k] == '.';
        if (words > 0 && street_word(s + w, k - w, dot))
            return true;
        if (dot)
            return false;
    }
    return false;
}

/* "PO Box 12", "P.O. Box 12", "P. O. Box 12" in any case */
static bool po_box_at(const char *s, size_t n, size_t i)
{
    size_t k = i;
    if (lower((unsigned char)s[k++]) != 'p')
        return false;
    if (k < n && s[k] == '.')
        k++;
    while (k < n && s[k] == ' ')
        k++;
    if (k >= n || lower((unsigned char)s[k++]) != 'o')
        return false;
    if (k < n && s[k] == '.')
        k++;
    while (k < n && s[k] == ' ')
        k++;
    if (k + 3 > n || !equal_nocase(s + k, 3, "box"))
        return false;
    k += 3;
    while (k < n && (s[k] == ' ' || s[k] == '#' || s[k] == '.'))
        k++;
    return k < n && is_digit((unsigned char)s[k]);
}

static bool has_address(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i > 0 && (is_alnum((unsigned char)s[i - 1]) || (unsigned char)s[i - 1] >= 0x80))
            continue;
        if (is_digit(c) && street_address_at(s, n, i))
            return true;
        if ((c | 0x20) == 'p' && po_box_at(s, n, i))
            return true;
    }
    return false;
}

/* ---- LONG_ID ------------------------------------------------------------------ */

static unsigned number(const char *s, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

static bool valid_ymd(unsigned y, unsigned m, unsigned d)
{
    return y >= 1800 && y <= 2199 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

/* YYYYMMDD, optionally followed by HH, HHMM or HHMMSS; or a date written
 * with one kind of separator, - or _: 4-2-2 or 2-2-4 digits (the year-last
 * forms with one or two digits for day and month). */
static bool date_token(const char *s, size_t n)
{
    if (all_digits(s, n)) {
        if (n != 8 && n != 10 && n != 12 && n != 14)
            return false;
        if (!valid_ymd(number(s, 4), number(s + 4, 2), number(s + 6, 2)))
            return false;
        return (n < 10 || number(s + 8, 2) < 24) && (n < 12 || number(s + 10, 2) < 60) &&
               (n < 14 || number(s + 12, 2) < 61);
    }
    size_t part[3], len[3], np = 0, k = 0;
    char sep = 0;
    while (np < 3) {
        part[np] = k;
        while (k < n && is_digit((unsigned char)s[k]))
            k++;
        len[np] = k - part[np];
        np++;
        if (k == n)
            break;
        if ((s[k] != '-' && s[k] != '_') || (sep && s[k] != sep))
            return false;
        sep = s[k++];
    }
    if (np != 3 || k != n)
        return false;
    if (len[0] == 4 && len[1] == 2 && len[2] == 2)
        return valid_ymd(number(s, 4), number(s + part[1], 2), number(s + part[2], 2));
    if (len[0] >= 1 && len[0] <= 2 && len[1] >= 1 && len[1] <= 2 && len[2] == 4) {
        unsigned a = number(s, len[0]), b = number(s + part[1], len[1]);
        unsigned y = number(s + part[2], 4);
        return valid_ymd(y, a, b) || valid_ymd(y, b, a);
    }
    return false;
}

static bool token_char(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '_' || c == '.' || c >= 0x80;
}

/* A token (split at spaces and punctuation other than - _ and .) of six
 * characters or more with five digits or more and no decimal point, that is
 * not a date, one of the archive's accessions or a phone number. */
static bool has_long_id(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (!token_char((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t a = i;
        while (i < n && token_char((unsigned char)s[i]))
            i++;
        const char *t = s + a;
        size_t len = i - a;
        trim_chars(&t, &len, "-_.");
        size_t chars = 0, digits = 0;
        bool point = false;
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)t[k];
            chars += (c & 0xC0) != 0x80;
            digits += is_digit(c);
            point |= c == '.';
        }
        if (chars < 6 || digits < 5 || point || obia__qc_is_accession(t, len) ||
            date_token(t, len))
            continue;
        if (!in_phone(s, n, (size_t)(t - s), (size_t)(t - s) + len))
            return true;
    }
    return false;
}

/* ---- all together --------------------------------------------------------------- */

unsigned obia__qc_text_flags(obia_vr vr, const char *s, size_t n)
{
    unsigned f = 0;
    if (n == 0)
        return 0;
    /* NAME looks at each value of a multi-valued element */
    if (vr == OBIA_VR_PN || !numeric_vr(vr)) {
        const char *p = s, *end = s + n;
        for (;;) {
            const char *bs = single_valued(vr) ? NULL : memchr(p, '\\', (size_t)(end - p));
            const char *q = bs ? bs : end;
            if (vr == OBIA_VR_PN ? pn_names_someone(p, (size_t)(q - p))
                                 : name_shaped(p, (size_t)(q - p))) {
                f |= OBIA_QC_FLAG_NAME;
                break;
            }
            if (!bs)
                break;
            p = bs + 1;
        }
    }
    if (numeric_vr(vr))
        return f;
    if (memchr(s, '@', n) && has_email(s, n))
        f |= OBIA_QC_FLAG_EMAIL;
    size_t digits = count_digits(s, n);
    if (digits == 0)
        return f;
    if (digits >= 7 && has_phone(s, n))
        f |= OBIA_QC_FLAG_PHONE;
    if (has_address(s, n))
        f |= OBIA_QC_FLAG_ADDRESS;
    if (digits >= 5 && has_long_id(s, n))
        f |= OBIA_QC_FLAG_LONG_ID;
    return f;
}
