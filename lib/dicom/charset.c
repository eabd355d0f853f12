/*
 * Specific Character Set (0008,0005) -> UTF-8.
 *
 * DICOM PS3.5 6.1 and PS3.3 C.12.1.1.2.  Three families of values:
 *
 *  - single-byte sets and ISO 2022 code extensions (everything but the three
 *    below): decoded by one state machine holding the G0 code element (ASCII,
 *    or the two-byte JIS X 0208 / JIS X 0212) and the G1 code element (none,
 *    an ISO 8859 right half, TIS-620, JIS X 0201 katakana, KS X 1001 or
 *    GB 2312).  Value 1 of (0008,0005) gives the initial elements; escape
 *    sequences switch them; CR, LF, FF, TAB, '\' and, in person names, '^'
 *    and '=' return to the initial ones (PS3.5 6.1.2.5.3);
 *  - ISO_IR 192: UTF-8, validated and copied;
 *  - GB18030 and GBK: converted by iconv.
 *
 * Tables: Latin-1 and JIS X 0201 katakana are computed; the other ISO 8859
 * right halves and TIS-620 are 128-entry UTF-8 tables built once from glibc
 * iconv; the multi-byte sets go through iconv handles cached per thread
 * (opened lazily, closed by a thread-exit destructor).  Pure-ASCII input is
 * copied without looking further.
 *
 * Choices where the standard is silent or the data is wrong (all set
 * *replaced unless said otherwise):
 *  - bytes >= 0x80 while no G1 set is in force (default repertoire, or an
 *    ISO 2022 value before any G1 designation) are decoded with the first G1
 *    set named in (0008,0005) values 2..n, else as Latin-1 (pydicom decodes
 *    them as Latin-1);
 *  - escape sequences are honoured even when (0008,0005) does not declare
 *    code extensions or the designated set (no flag when the value does use
 *    ISO 2022; flagged otherwise); unknown escape sequences become U+FFFD;
 *  - JIS X 0201 Roman (ESC ( J, and G0 of ISO_IR 13) is decoded as ASCII,
 *    as pydicom does: 0x5C stays '\' (the value delimiter), 0x7E stays '~';
 *  - where JIS X 0201 katakana is in G1, a valid Shift_JIS double-byte pair
 *    (a frequent defect of ISO_IR 13 data) is decoded as Shift_JIS, not
 *    flagged (pydicom decodes ISO_IR 13 with its shift_jis codec);
 *  - value 1 "ISO 2022 IR 87"/"159" starts in ASCII (a two-byte G0 cannot
 *    hold the delimiters); two-byte G0 data is only left by an escape
 *    sequence or CR/LF/FF/TAB: a 0x5C or '^' byte inside it is part of a
 *    character, as in every ISO 2022 decoder;
 *  - misspelled terms pydicom corrects ("ISO-IR 100", "ISO IR 100",
 *    "ISO_IR100", "ISO 2022 IR100", lower case...) and "UTF-8", "ISO 2022
 *    GBK", "ISO 2022 58" are decoded as meant and not flagged by decode
 *    (obia_charset_check reports them);
 *  - with several values, a stand-alone set (ISO_IR 192, GB18030, GBK) as
 *    value 1 wins and the others are ignored; elsewhere it is ignored.
 */
#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ---- character sets ------------------------------------------------------ */

enum g1set {
    G1_NONE,
    G1_LATIN1,
    G1_8859_2,
    G1_8859_3,
    G1_8859_4,
    G1_8859_5,
    G1_8859_6,
    G1_8859_7,
    G1_8859_8,
    G1_8859_9,
    G1_8859_15,
    G1_TIS620,
    G1_KATAKANA,
    G1_KSX1001,
    G1_GB2312,
};
#define TABLE_FIRST G1_8859_2
#define N_TABLES (G1_TIS620 - G1_8859_2 + 1)

enum g0set { G0_ASCII, G0_JISX0208, G0_JISX0212 };

enum kind { K_ISO, K_UTF8, K_GB18030, K_GBK };

typedef struct term {
    const char *name;
    uint8_t kind;     /* enum kind */
    uint8_t g1;       /* enum g1set: G1 element it brings (K_ISO) */
    bool iso2022;     /* an "ISO 2022 ..." defined term */
} term;

static const term terms[] = {
    {"ISO_IR 6", K_ISO, G1_NONE, false},
    {"ISO_IR 100", K_ISO, G1_LATIN1, false},
    {"ISO_IR 101", K_ISO, G1_8859_2, false},
    {"ISO_IR 109", K_ISO, G1_8859_3, false},
    {"ISO_IR 110", K_ISO, G1_8859_4, false},
    {"ISO_IR 144", K_ISO, G1_8859_5, false},
    {"ISO_IR 127", K_ISO, G1_8859_6, false},
    {"ISO_IR 126", K_ISO, G1_8859_7, false},
    {"ISO_IR 138", K_ISO, G1_8859_8, false},
    {"ISO_IR 148", K_ISO, G1_8859_9, false},
    {"ISO_IR 203", K_ISO, G1_8859_15, false},
    {"ISO_IR 13", K_ISO, G1_KATAKANA, false},
    {"ISO_IR 166", K_ISO, G1_TIS620, false},
    {"ISO_IR 192", K_UTF8, G1_NONE, false},
    {"GB18030", K_GB18030, G1_NONE, false},
    {"GBK", K_GBK, G1_NONE, false},
    {"ISO 2022 IR 6", K_ISO, G1_NONE, true},
    {"ISO 2022 IR 100", K_ISO, G1_LATIN1, true},
    {"ISO 2022 IR 101", K_ISO, G1_8859_2, true},
    {"ISO 2022 IR 109", K_ISO, G1_8859_3, true},
    {"ISO 2022 IR 110", K_ISO, G1_8859_4, true},
    {"ISO 2022 IR 144", K_ISO, G1_8859_5, true},
    {"ISO 2022 IR 127", K_ISO, G1_8859_6, true},
    {"ISO 2022 IR 126", K_ISO, G1_8859_7, true},
    {"ISO 2022 IR 138", K_ISO, G1_8859_8, true},
    {"ISO 2022 IR 148", K_ISO, G1_8859_9, true},
    {"ISO 2022 IR 203", K_ISO, G1_8859_15, true},
    {"ISO 2022 IR 13", K_ISO, G1_KATAKANA, true},
    {"ISO 2022 IR 166", K_ISO, G1_TIS620, true},
    {"ISO 2022 IR 87", K_ISO, G1_NONE, true},
    {"ISO 2022 IR 159", K_ISO, G1_NONE, true},
    {"ISO 2022 IR 149", K_ISO, G1_KSX1001, true},
    {"ISO 2022 IR 58", K_ISO, G1_GB2312, true},
};
#define N_TERMS (sizeof terms / sizeof terms[0])

/* Tolerated spellings (compared after squeezing, see squeeze()). */
static const struct {
    const char *squeezed;
    const char *meant;
} aliases[] = {
    {"UTF8", "ISO_IR 192"},
    {"ISO2022GBK", "GBK"},     /* pydicom, from CP 1234 */
    {"ISO202258", "ISO 2022 IR 58"},
};

/* Upper-case copy without ' ', '_' and '-'; false if it does not fit. */
static bool squeeze(const uint8_t *s, size_t n, char *o, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == ' ' || c == '_' || c == '-')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (uint8_t)(c - 'a' + 'A');
        if (k + 1 >= cap)
            return false;
        o[k++] = (char)c;
    }
    o[k] = '\0';
    return true;
}

/* The term spelled s[0..n), exactly (*exact = true) or as a tolerated
 * misspelling (*exact = false); NULL if unknown. */
static const term *find_term(const uint8_t *s, size_t n, bool *exact)
{
    for (size_t i = 0; i < N_TERMS; i++)
        if (strlen(terms[i].name) == n && memcmp(terms[i].name, s, n) == 0) {
            *exact = true;
            return &terms[i];
        }
    *exact = false;
    char sq[40], tq[40];
    if (!squeeze(s, n, sq, sizeof sq) || !sq[0])
        return NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(sq, aliases[i].squeezed) == 0) {
            const term *tm = find_term((const uint8_t *)aliases[i].meant,
                                       strlen(aliases[i].meant), exact);
            *exact = false;
            return tm;
        }
    for (size_t i = 0; i < N_TERMS; i++) {
        squeeze((const uint8_t *)terms[i].name, strlen(terms[i].name), tq, sizeof tq);
        if (strcmp(sq, tq) == 0)
            return &terms[i];
    }
    return NULL;
}

static const uint8_t empty[1];

/* Next backslash-separated value of scs from *pos, trimmed of spaces and
 * NULs at both ends.  False when there is none left. */
static bool next_term(const uint8_t *scs, size_t len, size_t *pos, const uint8_t **t, size_t *n)
{
    if (!scs) {
        scs = empty;
        len = 0;
    }
    if (*pos > len)
        return false;
    size_t a = *pos, e = a;
    while (e < len && scs[e] != '\\')
        e++;
    *pos = e + 1;
    size_t b = e;
    while (a < b && (scs[a] == ' ' || scs[a] == '\0'))
        a++;
    while (b > a && (scs[b - 1] == ' ' || scs[b - 1] == '\0'))
        b--;
    *t = scs + a;
    *n = b - a;
    return true;
}

typedef struct scs_info {
    uint8_t kind;        /* enum kind */
    uint8_t init_g1;     /* G1 after each reset */
    uint8_t fallback_g1; /* used for bytes >= 0x80 while G1 is none */
    bool iso2022;        /* escape sequences are expected */
    bool unknown;        /* some term unknown */
} scs_info;

static void parse_scs(const uint8_t *scs, size_t len, scs_info *si)
{
    si->kind = K_ISO;
    si->init_g1 = G1_NONE;
    si->fallback_g1 = G1_NONE;
    si->iso2022 = false;
    si->unknown = false;
    if (!scs)
        len = 0;
    size_t pos = 0, idx = 0;
    const uint8_t *t;
    size_t n;
    bool exact;
    while (next_term(scs, len, &pos, &t, &n)) {
        idx++;
        if (n == 0)
            continue;
        const term *tm = find_term(t, n, &exact);
        if (!tm) {
            si->unknown = true;
            if (idx == 1)
                si->init_g1 = G1_LATIN1;
            continue;
        }
        if (tm->kind != K_ISO) {
            if (idx == 1) {
                si->kind = tm->kind;
                return;
            }
            continue;
        }
        if (idx == 1) {
            si->init_g1 = tm->g1;
            si->iso2022 = tm->iso2022;
        } else if (si->fallback_g1 == G1_NONE) {
            si->fallback_g1 = tm->g1;
        }
    }
    if (idx > 1)
        si->iso2022 = true;
    if (si->fallback_g1 == G1_NONE)
        si->fallback_g1 = G1_LATIN1;
}

/* ---- per-thread cache: iconv handles, last parsed value ------------------ */

enum cd_id { CD_EUCJP, CD_EUCKR, CD_EUCCN, CD_GB18030, CD_GBK, CD_SJIS, CD_COUNT };
static const char *const cd_names[CD_COUNT] = {"EUC-JP", "EUC-KR", "EUC-CN",
                                               "GB18030", "GBK", "SHIFT_JIS"};

#define SCS_CACHE_MAX 64

typedef struct tls_cache {
    iconv_t cd[CD_COUNT];
    bool tried[CD_COUNT];
    bool registered;       /* thread-exit destructor armed */
    bool scs_valid;
    size_t scs_len;
    uint8_t scs[SCS_CACHE_MAX];
    scs_info info;
} tls_cache;

static __thread tls_cache tlc;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static bool tls_key_ok;

static void tls_destroy(void *p)
{
    tls_cache *c = p;
    for (int i = 0; i < CD_COUNT; i++) {
        if (c->tried[i] && c->cd[i] != (iconv_t)-1)
            iconv_close(c->cd[i]);
        c->tried[i] = false;
    }
    c->registered = false;
}

static void tls_key_init(void)
{
    tls_key_ok = pthread_key_create(&tls_key, tls_destroy) == 0;
}

/* The cached handle converting cd_names[id] to UTF-8, or (iconv_t)-1. */
static iconv_t get_cd(int id)
{
    tls_cache *c = &tlc;
    if (!c->tried[id]) {
        if (!c->registered) {
            pthread_once(&tls_once, tls_key_init);
            if (tls_key_ok && pthread_setspecific(tls_key, c) == 0)
                c->registered = true;
        }
        c->cd[id] = iconv_open("UTF-8", cd_names[id]);
        c->tried[id] = true;
    }
    return c->cd[id];
}

static const scs_info *get_info(const uint8_t *scs, size_t len, scs_info *local)
{
    tls_cache *c = &tlc;
    if (!scs)
        len = 0;
    if (c->scs_valid && c->scs_len == len && (len == 0 || memcmp(c->scs, scs, len) == 0))
        return &c->info;
    if (len > SCS_CACHE_MAX) {
        parse_scs(scs, len, local);
        return local;
    }
    parse_scs(scs, len, &c->info);
    if (len)
        memcpy(c->scs, scs, len);
    c->scs_len = len;
    c->scs_valid = true;
    return &c->info;
}

/* ---- single-byte tables -------------------------------------------------- */

typedef struct u8c {
    uint8_t n;      /* 0: undefined */
    uint8_t b[3];
} u8c;

static const char *const table_names[N_TABLES] = {
    "ISO-8859-2", "ISO-8859-3", "ISO-8859-4", "ISO-8859-5",  "ISO-8859-6",
    "ISO-8859-7", "ISO-8859-8", "ISO-8859-9", "ISO-8859-15", "TIS-620",
};
static u8c tables[N_TABLES][128];
static atomic_bool table_ready[N_TABLES];
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

/* Table for bytes 0x80..0xFF of set g1 (TABLE_FIRST..G1_TIS620). */
static const u8c *get_table(int g1)
{
    int t = g1 - TABLE_FIRST;
    if (atomic_load_explicit(&table_ready[t], memory_order_acquire))
        return tables[t];
    pthread_mutex_lock(&table_mu);
    if (!atomic_load_explicit(&table_ready[t], memory_order_relaxed)) {
        iconv_t cd = iconv_open("UTF-8", table_names[t]);
        for (int i = 0; i < 128; i++) {
            u8c *e = &tables[t][i];
            e->n = 0;
            if (cd == (iconv_t)-1)
                continue;
            char in = (char)(0x80 + i), outb[8];
            char *ip = &in, *op = outb;
            size_t il = 1, ol = sizeof outb;
            iconv(cd, NULL, NULL, NULL, NULL);
            if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 && il == 0) {
                size_t k = (size_t)(op - outb);
                if (k >= 1 && k <= 3) {
                    memcpy(e->b, outb, k);
                    e->n = (uint8_t)k;
                }
            }
        }
        /* 0x80..0x9F: the C1 controls, as in every ISO 8859 part (glibc's
         * TIS-620 leaves them undefined; Python's maps them) */
        for (int i = 0; i < 0x20; i++)
            if (!tables[t][i].n) {
                tables[t][i].n = 2;
                tables[t][i].b[0] = 0xC2;
                tables[t][i].b[1] = (uint8_t)(0x80 + i);
            }
        if (cd != (iconv_t)-1)
            iconv_close(cd);
        atomic_store_explicit(&table_ready[t], true, memory_order_release);
    }
    pthread_mutex_unlock(&table_mu);
    return tables[t];
}

/* ---- output ------------------------------------------------------------- */

typedef struct dec {
    obia_buf *out;
    bool bad;           /* something replaced */
    obia_status fail;   /* why an append failed */
} dec;

static const uint8_t fffd[3] = {0xEF, 0xBF, 0xBD};

static inline bool emit(dec *d, const void *p, size_t n)
{
    obia_buf *b = d->out;
    if (!b->failed && b->len <= b->max && n <= b->max - b->len && b->cap - b->len > n) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return true;
    }
    if (obia_buf_append(b, p, n))
        return true;
    d->fail = b->len > b->max || n > b->max - b->len ? OBIA_E_LIMIT : OBIA_E_NOMEM;
    return false;
}

static inline bool emit_bad(dec *d)
{
    d->bad = true;
    return emit(d, fffd, 3);
}

static inline bool emit_cp(dec *d, uint32_t cp)
{
    uint8_t u[3];
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        return emit(d, u, 1);
    }
    if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return emit(d, u, 2);
    }
    u[0] = (uint8_t)(0xE0 | (cp >> 12));
    u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return emit(d, u, 3);
}

/* Length of the prefix of p free of bytes >= 0x80 (and of ESC if esc). */
static size_t ascii_prefix(const uint8_t *p, size_t n, bool esc)
{
    const uint64_t hi = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & hi)
            break;
        if (esc) {
            uint64_t x = w ^ (0x1B * ones);
            if ((x - ones) & ~x & hi)
                break;
        }
    }
    while (i < n && p[i] < 0x80 && !(esc && p[i] == 0x1B))
        i++;
    return i;
}

/* ---- iconv runs --------------------------------------------------------- */

/* Convert src (a sequence of whole characters of `unit` bytes each) with
 * handle id; an unmapped character becomes U+FFFD. */
static bool conv_units(dec *d, int id, const uint8_t *src, size_t len, size_t unit)
{
    iconv_t cd = get_cd(id);
    if (cd == (iconv_t)-1) {
        for (size_t i = 0; i < len; i += unit)
            if (!emit_bad(d))
                return false;
        return true;
    }
    iconv(cd, NULL, NULL, NULL, NULL);
    char *ip = (char *)src;
    size_t il = len;
    char obuf[1024];
    while (il > 0) {
        char *op = obuf;
        size_t ol = sizeof obuf;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        int e = errno;
        if (op > obuf && !emit(d, obuf, (size_t)(op - obuf)))
            return false;
        if (r != (size_t)-1 || e == E2BIG)
            continue;
        size_t done = (size_t)((const uint8_t *)ip - src);
        size_t next = (done / unit + 1) * unit;
        if (next > len)
            next = len;
        ip = (char *)src + next;
        il = len - next;
        iconv(cd, NULL, NULL, NULL, NULL);
        if (!emit_bad(d))
            return false;
    }
    return true;
}

/* Convert a whole value in a stateless multi-byte set (GB18030, GBK); an
 * invalid byte becomes U+FFFD, an incomplete tail one U+FFFD. */
static bool conv_stream(dec *d, int id, const uint8_t *src, size_t len)
{
    iconv_t cd = get_cd(id);
    if (cd == (iconv_t)-1) {
        /* no converter: keep ASCII, replace the rest */
        for (size_t i = 0; i < len; i++)
            if (src[i] < 0x80 ? !emit(d, src + i, 1) : !emit_bad(d))
                return false;
        return true;
    }
    iconv(cd, NULL, NULL, NULL, NULL);
    char *ip = (char *)src;
    size_t il = len;
    char obuf[1024];
    while (il > 0) {
        char *op = obuf;
        size_t ol = sizeof obuf;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        int e = errno;
        if (op > obuf && !emit(d, obuf, (size_t)(op - obuf)))
            return false;
        if (r != (size_t)-1 || e == E2BIG)
            continue;
        if (e == EINVAL) {
            il = 0;
        } else {
            ip++;
            il--;
        }
        iconv(cd, NULL, NULL, NULL, NULL);
        if (!emit_bad(d))
            return false;
    }
    return true;
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Copy valid UTF-8; each maximal ill-formed subpart becomes one U+FFFD
 * (Unicode 3.9 "substitution of maximal subparts", as Python). */
static bool decode_utf8(dec *d, const uint8_t *s, size_t n)
{
    size_t i = 0, start = 0;
    while (i < n) {
        i += ascii_prefix(s + i, n - i, false);
        if (i >= n)
            break;
        uint8_t c = s[i];
        size_t len = 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c == 0xE0)
            len = 3, lo = 0xA0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
            len = 3;
        else if (c == 0xED)
            len = 3, hi = 0x9F;
        else if (c == 0xF0)
            len = 4, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3)
            len = 4;
        else if (c == 0xF4)
            len = 4, hi = 0x8F;
        size_t k = 1;
        if (len && i + 1 < n && s[i + 1] >= lo && s[i + 1] <= hi) {
            k = 2;
            while (k < len && i + k < n && (s[i + k] & 0xC0) == 0x80)
                k++;
        }
        if (len && k == len) {
            i += len;
            continue;
        }
        if (!emit(d, s + start, i - start) || !emit_bad(d))
            return false;
        i += k;
        start = i;
    }
    return emit(d, s + start, n - start);
}

/* ---- ISO 2022 state machine --------------------------------------------- */

typedef struct iso_state {
    int g0;   /* enum g0set */
    int g1;   /* enum g1set */
} iso_state;

/* Parse the escape sequence at in[i] (in[i] == ESC); returns the bytes
 * used, 0 on output failure. */
static size_t escape(dec *d, const scs_info *si, const uint8_t *in, size_t n, size_t i,
                     iso_state *st)
{
    size_t rest = n - i;
    uint8_t a = rest > 1 ? in[i + 1] : 0, b = rest > 2 ? in[i + 2] : 0,
            c = rest > 3 ? in[i + 3] : 0;
    int g0 = -1, g1 = -1;
    size_t used = 0;
    if (a == '(' && (b == 'B' || b == 'J')) {
        g0 = G0_ASCII, used = 3;
    } else if (a == ')' && b == 'I') {
        g1 = G1_KATAKANA, used = 3;
    } else if (a == '-') {
        static const char finals[] = "ABCDFGHLMTb";
        static const uint8_t sets[] = {G1_LATIN1, G1_8859_2, G1_8859_3, G1_8859_4,
                                       G1_8859_7, G1_8859_6, G1_8859_8, G1_8859_5,
                                       G1_8859_9, G1_TIS620, G1_8859_15};
        const char *f = b ? strchr(finals, b) : NULL;
        if (f)
            g1 = sets[f - finals], used = 3;
    } else if (a == '$') {
        if (b == 'B' || b == '@')
            g0 = G0_JISX0208, used = 3;
        else if (b == '(' && (c == 'B' || c == '@'))
            g0 = G0_JISX0208, used = 4;
        else if (b == '(' && c == 'D')
            g0 = G0_JISX0212, used = 4;
        else if (b == ')' && c == 'C')
            g1 = G1_KSX1001, used = 4;
        else if (b == ')' && c == 'A')
            g1 = G1_GB2312, used = 4;
    }
    if (used) {
        if (g0 >= 0)
            st->g0 = g0;
        if (g1 >= 0)
            st->g1 = g1;
        if (!si->iso2022)
            d->bad = true;
        return used;
    }
    /* unknown: skip ESC, intermediates 0x20..0x2F and a final 0x30..0x7E */
    size_t k = i + 1;
    while (k < n && in[k] >= 0x20 && in[k] <= 0x2F)
        k++;
    if (k < n && in[k] >= 0x30 && in[k] <= 0x7E)
        k++;
    return emit_bad(d) ? k - i : 0;
}

static inline bool is_reset(uint8_t c, bool is_pn, int g0)
{
    if (c == '\r' || c == '\n' || c == '\f' || c == '\t')
        return true;
    return g0 == G0_ASCII && (c == '\\' || (is_pn && (c == '^' || c == '=')));
}

static inline bool in94(uint8_t c) { return c >= 0x21 && c <= 0x7E; }
static inline bool gr94(uint8_t c) { return c >= 0xA1 && c <= 0xFE; }

/* Two-byte G0 characters from in[*pi]; returns false on output failure. */
static bool g0_double(dec *d, int g0, const uint8_t *in, size_t n, size_t *pi)
{
    uint8_t tmp[768];   /* multiple of 2 and 3 */
    size_t k = 0, i = *pi;
    size_t unit = g0 == G0_JISX0212 ? 3 : 2;
    while (i + 1 < n && in94(in[i]) && in94(in[i + 1])) {
        if (k + unit > sizeof tmp) {
            if (!conv_units(d, CD_EUCJP, tmp, k, unit))
                return false;
            k = 0;
        }
        if (unit == 3)
            tmp[k++] = 0x8F;
        tmp[k++] = (uint8_t)(in[i] | 0x80);
        tmp[k++] = (uint8_t)(in[i + 1] | 0x80);
        i += 2;
    }
    if (k && !conv_units(d, CD_EUCJP, tmp, k, unit))
        return false;
    if (i < n && in94(in[i]) && (i + 1 >= n || !in94(in[i + 1]))) {
        /* a lone first byte */
        i++;
        if (!emit_bad(d))
            return false;
    }
    *pi = i;
    return true;
}

/* KS X 1001:1998 Annex 3 make-up sequence at p: HANGUL FILLER, initial,
 * medial and final jamo (or FILLER), each A4xx; the precomposed syllable as
 * Python's euc_kr decodes it, or 0 when p is not one. */
static uint32_t hangul_makeup(const uint8_t *p, size_t n)
{
    /* index among the 19 initials / 1 + index among the 27 finals, of the
     * 30 consonants A4A1..A4BE; -1: cannot be one */
    static const int8_t cho[30] = {0,  1,  -1, 2,  -1, -1, 3,  4,  5,  -1,
                                   -1, -1, -1, -1, -1, -1, 6,  7,  8,  -1,
                                   9,  10, 11, 12, 13, 14, 15, 16, 17, 18};
    static const int8_t jong[30] = {1,  2,  3,  4,  5,  6,  7,  -1, 8,  9,
                                    10, 11, 12, 13, 14, 15, 16, 17, -1, 18,
                                    19, 20, 21, 22, -1, 23, 24, 25, 26, 27};
    if (n < 8 || p[0] != 0xA4 || p[1] != 0xD4 || p[2] != 0xA4 || p[4] != 0xA4 || p[6] != 0xA4)
        return 0;
    int c = p[3] >= 0xA1 && p[3] <= 0xBE ? cho[p[3] - 0xA1] : -1;
    int v = p[5] >= 0xBF && p[5] <= 0xD3 ? p[5] - 0xBF : -1;
    int f = p[7] == 0xD4 ? 0 : p[7] >= 0xA1 && p[7] <= 0xBE ? jong[p[7] - 0xA1] : -1;
    if (c < 0 || v < 0 || f < 0)
        return 0;
    return 0xAC00u + (uint32_t)(c * 588 + v * 28 + f);
}

/* Bytes >= 0x80 from in[*pi] in G1 set g1. */
static bool g1_run(dec *d, int g1, bool is_pn, const uint8_t *in, size_t n, size_t *pi)
{
    size_t i = *pi;
    switch (g1) {
    case G1_LATIN1:
        for (; i < n && in[i] >= 0x80; i++) {
            uint8_t u[2] = {(uint8_t)(0xC0 | (in[i] >> 6)), (uint8_t)(0x80 | (in[i] & 0x3F))};
            if (!emit(d, u, 2))
                return false;
        }
        break;
    case G1_KATAKANA:
        while (i < n && in[i] >= 0x80) {
            uint8_t c = in[i];
            if (c >= 0xA1 && c <= 0xDF) {
                if (!emit_cp(d, 0xFF61u + (uint32_t)(c - 0xA1)))
                    return false;
                i++;
                continue;
            }
            /* Shift_JIS double byte? */
            if (((c >= 0x81 && c <= 0x9F) || (c >= 0xE0 && c <= 0xFC)) && i + 1 < n) {
                uint8_t t = in[i + 1];
                if (((t >= 0x40 && t <= 0x7E) || (t >= 0x80 && t <= 0xFC)) && t != '\\' &&
                    !(is_pn && t == '^')) {
                    size_t before = d->out->len;
                    bool was_bad = d->bad;
                    d->bad = false;
                    if (!conv_units(d, CD_SJIS, in + i, 2, 2))
                        return false;
                    if (!d->bad) {
                        d->bad = was_bad;
                        i += 2;
                        continue;
                    }
                    /* not a character: undo, replace the lead byte alone */
                    d->out->len = before;
                }
            }
            if (!emit_bad(d))
                return false;
            i++;
        }
        break;
    case G1_KSX1001:
    case G1_GB2312: {
        int id = g1 == G1_KSX1001 ? CD_EUCKR : CD_EUCCN;
        while (i < n && in[i] >= 0x80) {
            size_t j = i;
            uint32_t cp = 0;
            while (j + 1 < n && gr94(in[j]) && gr94(in[j + 1])) {
                if (g1 == G1_KSX1001 && in[j] == 0xA4 && in[j + 1] == 0xD4 &&
                    (cp = hangul_makeup(in + j, n - j)) != 0)
                    break;
                j += 2;
            }
            if (j > i && !conv_units(d, id, in + i, j - i, 2))
                return false;
            i = j;
            if (cp) {
                if (!emit_cp(d, cp))
                    return false;
                i += 8;
                continue;
            }
            if (i < n && in[i] >= 0x80) {
                if (!emit_bad(d))
                    return false;
                i++;
            }
        }
        break;
    }
    default: {
        const u8c *tab = get_table(g1);
        for (; i < n && in[i] >= 0x80; i++) {
            const u8c *e = &tab[in[i] - 0x80];
            if (!(e->n ? emit(d, e->b, e->n) : emit_bad(d)))
                return false;
        }
        break;
    }
    }
    *pi = i;
    return true;
}

static bool decode_iso(dec *d, const scs_info *si, bool is_pn, const uint8_t *in, size_t n)
{
    iso_state st = {G0_ASCII, si->init_g1};
    size_t i = 0;
    while (i < n) {
        uint8_t c = in[i];
        if (c == 0x1B) {
            size_t used = escape(d, si, in, n, i, &st);
            if (!used)
                return false;
            i += used;
            continue;
        }
        if (c >= 0x80) {
            int g1 = st.g1;
            if (g1 == G1_NONE) {
                g1 = si->fallback_g1;
                d->bad = true;
            }
            if (!g1_run(d, g1, is_pn, in, n, &i))
                return false;
            continue;
        }
        if (st.g0 != G0_ASCII && in94(c)) {
            if (!g0_double(d, st.g0, in, n, &i))
                return false;
            continue;
        }
        size_t j = i;
        if (st.g0 == G0_ASCII && st.g1 == si->init_g1) {
            /* initial state: resets change nothing */
            j += ascii_prefix(in + j, n - j, true);
        } else {
            while (j < n && in[j] < 0x80 && in[j] != 0x1B && !is_reset(in[j], is_pn, st.g0) &&
                   !(st.g0 != G0_ASCII && in94(in[j])))
                j++;
            if (j == i && is_reset(in[j], is_pn, st.g0)) {
                st.g0 = G0_ASCII;
                st.g1 = si->init_g1;
                j++;
            }
        }
        if (!emit(d, in + i, j - i))
            return false;
        i = j;
    }
    return true;
}

/* ---- interface ---------------------------------------------------------- */

bool obia_charset_decode(const uint8_t *scs, size_t scs_len, bool is_pn, const uint8_t *in,
                         size_t in_len, obia_buf *out, bool *replaced, obia_error *err)
{
    scs_info local;
    const scs_info *si = get_info(scs, scs_len, &local);
    dec d = {out, si->unknown, OBIA_E_LIMIT};
    bool ok = true;
    if (!in) {
        in = empty;
        in_len = 0;
    }
    size_t head = ascii_prefix(in, in_len, si->kind == K_ISO);
    if (head == in_len) {
        ok = emit(&d, in, in_len);
    } else {
        switch (si->kind) {
        case K_UTF8:
            ok = decode_utf8(&d, in, in_len);
            break;
        case K_GB18030:
        case K_GBK:
            ok = emit(&d, in, head) &&
                 conv_stream(&d, si->kind == K_GBK ? CD_GBK : CD_GB18030, in + head,
                             in_len - head);
            break;
        default:
            ok = decode_iso(&d, si, is_pn, in, in_len);
            break;
        }
    }
    if (replaced && d.bad)
        *replaced = true;
    if (!ok)
        return d.fail == OBIA_E_NOMEM
                   ? obia_error_set(err, OBIA_E_NOMEM, "out of memory decoding text")
                   : obia_error_set(err, OBIA_E_LIMIT,
                                    "decoded text exceeds the output limit of %zu bytes",
                                    out->max);
    return true;
}

bool obia_charset_ascii_compatible(const uint8_t *scs, size_t scs_len)
{
    scs_info local;
    return !get_info(scs, scs_len, &local)->unknown;
}

/* Printable rendering of a term for messages. */
static void show(const uint8_t *t, size_t n, char *o, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i++) {
        if (t[i] >= 0x20 && t[i] < 0x7F && t[i] != '"')
            o[k++] = (char)t[i];
        else
            k += (size_t)snprintf(o + k, cap - k, "\\x%02X", t[i]);
    }
    o[k] = '\0';
}

bool obia_charset_check(const uint8_t *scs, size_t scs_len, obia_error *err)
{
    if (!scs)
        scs_len = 0;
    size_t count = 0, pos = 0, n;
    const uint8_t *t;
    while (next_term(scs, scs_len, &pos, &t, &n))
        count++;
    pos = 0;
    size_t idx = 0;
    char shown[128];
    while (next_term(scs, scs_len, &pos, &t, &n)) {
        idx++;
        if (n == 0) {
            if (idx == 1)
                continue;
            return obia_error_set(err, OBIA_E_CHARSET,
                                  "Specific Character Set value %zu of %zu is empty", idx,
                                  count);
        }
        bool exact;
        const term *tm = find_term(t, n, &exact);
        show(t, n, shown, sizeof shown);
        if (!tm)
            return obia_error_set(err, OBIA_E_CHARSET,
                                  "unknown Specific Character Set term \"%s\"", shown);
        if (!exact)
            return obia_error_set(err, OBIA_E_CHARSET,
                                  "non-standard Specific Character Set term \"%s\""
                                  " (read as \"%s\")",
                                  shown, tm->name);
        if (count > 1 && tm->kind != K_ISO)
            return obia_error_set(err, OBIA_E_CHARSET,
                                  "Specific Character Set term \"%s\" cannot be used with"
                                  " code extensions (value %zu of %zu)",
                                  shown, idx, count);
        if (count > 1 && !tm->iso2022)
            return obia_error_set(err, OBIA_E_CHARSET,
                                  "Specific Character Set term \"%s\" in a multi-valued"
                                  " (0008,0005) must be an ISO 2022 term",
                                  shown);
    }
    return true;
}
