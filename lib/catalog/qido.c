/* DICOMweb queries (QIDO-RS, PS3.18 10.6) over the catalog: the matching
 * rules of PS3.4 C.2.2.2 as portable SQL run through the backend's query
 * method. A page is found first, by the indexes, in an inner query; the
 * outer one adds the attributes, and counts series, instances and
 * modalities of the page's studies alone: a page costs about as much on an
 * archive of a million images as on a small one. */
#include "catalog_internal.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind {
    K_UID,        /* one UID or a list of them */
    K_TEXT,       /* a value or a pattern with * and ?; any case when fuzzy */
    K_NAME,       /* PN: as text, and when fuzzy also by the prefix of a word */
    K_CODE,       /* CS: as text, or a list of values */
    K_DATE,       /* DA: a date or a range */
    K_TIME,       /* TM: a time or a range */
    K_NUMBER,     /* IS, US: a number */
    K_MODALITIES, /* a study with a series of one of the modalities */
    K_RETURNED,   /* returned, not matched */
} kind;

typedef struct attr {
    uint32_t tag;
    const char *name;
    obia_qido_level level;
    kind kind;
    /* the value, an expression over the query's tables (s study, i
     * individual, c collection, r series, m image); NULL for the counts
     * made per study */
    const char *column;
    /* for exact matches, the indexed column behind a COALESCE with the
     * individual's accession (studies from catalogs before schema 4) */
    const char *stored;
    bool individual;      /* matching needs the individual's row */
} attr;

/* the individual's accession, looked up only when needed */
#define ACCESSION "(SELECT x.accession FROM individual x WHERE x.id = s.individual_id)"

static const attr attrs[] = {
    {0x00080020, "StudyDate", OBIA_QIDO_STUDY, K_DATE, "s.study_date", NULL, false},
    {0x00080030, "StudyTime", OBIA_QIDO_STUDY, K_TIME, "s.study_time", NULL, false},
    {0x00080050, "AccessionNumber", OBIA_QIDO_STUDY, K_TEXT, "s.accession_number", NULL, false},
    {0x00080061, "ModalitiesInStudy", OBIA_QIDO_STUDY, K_MODALITIES, NULL, NULL, false},
    {0x00080090, "ReferringPhysicianName", OBIA_QIDO_STUDY, K_NAME, "s.referring_physician",
     NULL, false},
    {0x00081030, "StudyDescription", OBIA_QIDO_STUDY, K_TEXT, "s.description", NULL, false},
    {0x00100010, "PatientName", OBIA_QIDO_STUDY, K_NAME, "COALESCE(s.patient_name, " ACCESSION ")",
     "s.patient_name", false},
    {0x00100020, "PatientID", OBIA_QIDO_STUDY, K_TEXT, "COALESCE(s.patient_id, " ACCESSION ")",
     "s.patient_id", false},
    {0x00100030, "PatientBirthDate", OBIA_QIDO_STUDY, K_DATE, "s.patient_birth_date", NULL, false},
    {0x00100040, "PatientSex", OBIA_QIDO_STUDY, K_CODE, "i.sex", NULL, true},
    {0x00101010, "PatientAge", OBIA_QIDO_STUDY, K_TEXT, "s.age_at_study", NULL, false},
    {0x0020000D, "StudyInstanceUID", OBIA_QIDO_STUDY, K_UID, "s.study_uid", NULL, false},
    {0x00200010, "StudyID", OBIA_QIDO_STUDY, K_TEXT, "s.dicom_study_id", NULL, false},
    {0x00201206, "NumberOfStudyRelatedSeries", OBIA_QIDO_STUDY, K_RETURNED, NULL, NULL, false},
    {0x00201208, "NumberOfStudyRelatedInstances", OBIA_QIDO_STUDY, K_RETURNED, NULL, NULL, false},
    {0x00080060, "Modality", OBIA_QIDO_SERIES, K_CODE, "r.modality", NULL, false},
    {0x0008103E, "SeriesDescription", OBIA_QIDO_SERIES, K_TEXT, "r.description", NULL, false},
    {0x00180015, "BodyPartExamined", OBIA_QIDO_SERIES, K_CODE, "r.body_part", NULL, false},
    {0x0020000E, "SeriesInstanceUID", OBIA_QIDO_SERIES, K_UID, "r.series_uid", NULL, false},
    {0x00200011, "SeriesNumber", OBIA_QIDO_SERIES, K_NUMBER, "r.series_number", NULL, false},
    {0x00201209, "NumberOfSeriesRelatedInstances", OBIA_QIDO_SERIES, K_RETURNED, "r.images",
     NULL, false},
    {0x00020010, "TransferSyntaxUID", OBIA_QIDO_INSTANCE, K_UID, "m.transfer_syntax", NULL, false},
    {0x00080016, "SOPClassUID", OBIA_QIDO_INSTANCE, K_UID, "m.sop_class_uid", NULL, false},
    {0x00080018, "SOPInstanceUID", OBIA_QIDO_INSTANCE, K_UID, "m.sop_instance_uid", NULL, false},
    {0x00200013, "InstanceNumber", OBIA_QIDO_INSTANCE, K_NUMBER,
     "CASE WHEN m.has_instance_number = 1 THEN m.instance_number END", NULL, false},
    {0x00280008, "NumberOfFrames", OBIA_QIDO_INSTANCE, K_NUMBER, "NULLIF(m.frames, 0)", NULL,
     false},
    {0x00280010, "Rows", OBIA_QIDO_INSTANCE, K_NUMBER, "NULLIF(m.rows_, 0)", NULL, false},
    {0x00280011, "Columns", OBIA_QIDO_INSTANCE, K_NUMBER, "NULLIF(m.columns_, 0)", NULL, false},
    {0x00280100, "BitsAllocated", OBIA_QIDO_INSTANCE, K_NUMBER, "m.bits_allocated", NULL, false},
};

#define NATTRS (sizeof attrs / sizeof attrs[0])

/* The tables of a query: the level's own joined up to the study, then,
 * when the query needs them, the individual and the collection. */
#define INDIVIDUAL                                                                            \
    " JOIN individual i ON i.id = s.individual_id JOIN collection c ON c.id = i.collection_id"

static const struct {
    const char *name;
    const char *table;   /* the level's table and alias */
    const char *key;     /* its id */
    const char *study;   /* the joins up to the study */
    const char *order;
} levels[] = {
    {"study", "study s", "s.id", "", "s.id"},
    {"series", "series r", "r.id", " JOIN study s ON s.id = r.study_id",
     "r.study_id, r.series_number, r.id"},
    {"instance", "image m", "m.id",
     " JOIN series r ON r.id = m.series_id JOIN study s ON s.id = r.study_id",
     "s.id, r.series_number, r.id, m.instance_number, m.id"},
};

/* Instances walked study by study, series by series, in the order asked
 * (SQLite keeps the order of CROSS JOINs): a page of a million instances
 * without sorting them all. Not when a series or an instance is named. */
#define IMAGES_IN_ORDER "study s CROSS JOIN series r CROSS JOIN image m"

#define VISIBLE " AND v.review_state = 'visible'"
#define MAX_VALUE 1024                          /* a value, but for a list of UIDs */
#define MAX_UIDS (CATALOG_SQL_MAX_PARAMS / 2)   /* in a list */
#define MAX_UID_LIST (MAX_UIDS * 65)            /* its characters */

static const attr *find_attr(uint32_t tag)
{
    for (size_t i = 0; i < NATTRS; i++)
        if (attrs[i].tag == tag)
            return &attrs[i];
    return NULL;
}

bool obia_catalog_qido_key(obia_qido_level level, uint32_t tag)
{
    const attr *a = find_attr(tag);
    return a && a->kind != K_RETURNED && a->level <= level;
}

static bool bad(obia_error *err, const attr *a, const char *v, const char *why)
{
    return obia_error_set_at(err, OBIA_E_ARG, a->tag, OBIA_NO_OFFSET, "%s '%.80s'%s %s", a->name,
                             v, strlen(v) > 80 ? "..." : "", why);
}

/* ---- values -------------------------------------------------------------------- */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return n > 0;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool is_date(const char *s, size_t n)
{
    return n == 8 && digits(s, 8) && two(s + 4) >= 1 && two(s + 4) <= 12 && two(s + 6) >= 1 &&
           two(s + 6) <= 31;
}

/* HH, HHMM, HHMMSS or HHMMSS.F to FFFFFF */
static bool is_time(const char *s, size_t n)
{
    size_t whole = n;
    const char *dot = memchr(s, '.', n);
    if (dot) {
        whole = (size_t)(dot - s);
        size_t frac = n - whole - 1;
        if (whole != 6 || frac < 1 || frac > 6 || !digits(dot + 1, frac))
            return false;
    }
    if ((whole != 2 && whole != 4 && whole != 6) || !digits(s, whole))
        return false;
    return two(s) <= 23 && (whole < 4 || two(s + 2) <= 59) && (whole < 6 || two(s + 4) <= 60);
}

/* A time as the bound of a range, to compare as text with stored times:
 * the first instant it names (low: 10 is 100000) or the last (high: 10 is
 * 105959.999999). */
static void time_bound(const char *s, size_t n, bool high, char out[16])
{
    const char *full = high ? "595959.999999" : "000000.000000";
    memcpy(out, s, n);
    /* the parts left out, from HHMMSS.FFFFFF; a low bound needs no fraction */
    size_t want = high ? 13 : (n > 6 ? n : 6);
    for (; n < want; n++)
        out[n] = n == 6 ? '.' : full[n];
    out[n] = '\0';
}

static bool is_uid(const char *s, size_t n)
{
    if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isdigit((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] != '.')))
            return false;
    return true;
}

/* The values of a list: separated by backslash or comma. */
static size_t split(const char *v, const char *parts[], size_t lens[], size_t max)
{
    size_t n = 0;
    const char *p = v;
    for (;;) {
        size_t len = strcspn(p, "\\,");
        if (n < max) {
            parts[n] = p;
            lens[n] = len;
        }
        n++;
        if (!p[len])
            break;
        p += len + 1;
    }
    return n;
}

static bool only_stars(const char *v)
{
    if (!*v)
        return false;
    for (; *v; v++)
        if (*v != '*')
            return false;
    return true;
}

/* ---- conditions ------------------------------------------------------------------- */

/* "= v" or, for a pattern, "LIKE v" (a copy of v bound). */
static void equals_or_like(catalog_sql *q, const char *v, bool wild)
{
    if (wild) {
        catalog_sql_add(q, "LIKE ");
        catalog_sql_like(q, "", v, true, "");
        catalog_sql_add(q, " ESCAPE '\\'");
    } else {
        catalog_sql_add(q, "= ");
        catalog_sql_paramf(q, "%s", v);
    }
}

/* expr matches v as text (v one value). */
static void text_match(catalog_sql *q, const attr *a, const char *expr, const char *v, bool fuzzy)
{
    bool wild = strpbrk(v, "*?") != NULL;
    if (!fuzzy && a->stored) {
        /* the stored value by its index (a value, or a pattern with a fixed
         * start), else the individual's accession */
        catalog_sql_add(q, "(%s ", a->stored);
        equals_or_like(q, v, wild);
        if (wild) {
            catalog_sql_add(q, " OR (%s IS NULL AND " ACCESSION " ", a->stored);
            equals_or_like(q, v, wild);
        } else {
            catalog_sql_add(q, " OR (%s IS NULL AND s.individual_id = (SELECT x.id FROM "
                               "individual x WHERE x.accession = ",
                            a->stored);
            catalog_sql_paramf(q, "%s", v);
            catalog_sql_add(q, ")");
        }
        catalog_sql_add(q, "))");
    } else if (!fuzzy) {
        catalog_sql_add(q, "%s ", expr);
        equals_or_like(q, v, wild);
    } else if (a->kind == K_NAME) {
        /* any case, from the start of any word: of a family, given or
         * middle name, in any component group (a match of the whole value
         * is one too) */
        char words[MAX_VALUE + 1];
        snprintf(words, sizeof words, "%s", v);
        for (char *w = words; *w; w++)
            if (*w == '^' || *w == '=')
                *w = ' ';
        catalog_sql_add(q, "LOWER(' ' || REPLACE(REPLACE(%s, '^', ' '), '=', ' ')) LIKE LOWER(",
                        expr);
        catalog_sql_like(q, "% ", words, true, "%");
        catalog_sql_add(q, ") ESCAPE '\\'");
    } else {
        catalog_sql_add(q, "LOWER(%s) LIKE LOWER(", expr);
        catalog_sql_like(q, "", v, true, "");
        catalog_sql_add(q, ") ESCAPE '\\'");
    }
}

/* A value of one or more CS codes: each a text match, any of them. */
static void codes_match(catalog_sql *q, const attr *a, const char *expr, const char *v,
                        bool fuzzy)
{
    const char *parts[64];
    size_t lens[64];
    size_t n = split(v, parts, lens, 64);
    if (n > 64)
        n = 64;
    catalog_sql_add(q, "(");
    for (size_t k = 0; k < n; k++) {
        char one[MAX_VALUE + 1];
        snprintf(one, sizeof one, "%.*s", (int)lens[k], parts[k]);
        if (k)
            catalog_sql_add(q, " OR ");
        text_match(q, a, expr, one, fuzzy);
    }
    catalog_sql_add(q, ")");
}

/* Whether some value of a list is universal ("*"), matching everything. */
static bool any_universal(const char *v)
{
    const char *parts[64];
    size_t lens[64];
    size_t n = split(v, parts, lens, 64);
    for (size_t k = 0; k < n && k < 64; k++) {
        char one[MAX_VALUE + 1];
        snprintf(one, sizeof one, "%.*s", (int)lens[k], parts[k]);
        if (only_stars(one))
            return true;
    }
    return false;
}

/* Append " AND <the condition>" for one matching key, or nothing for
 * universal matching. */
static bool match(catalog_sql *q, const obia_qido_query *qq, const attr *a, const char *v,
                  obia_error *err)
{
    size_t n = strlen(v);
    if (n > (a->kind == K_UID ? MAX_UID_LIST : MAX_VALUE))
        return obia_error_set_at(err, OBIA_E_LIMIT, a->tag, OBIA_NO_OFFSET,
                                 "%s has a value of %zu characters, more than %d", a->name, n,
                                 a->kind == K_UID ? MAX_UID_LIST : MAX_VALUE);
    switch (a->kind) {
    case K_UID: {
        if (strpbrk(v, "*?"))
            return bad(err, a, v, "has a wildcard, which UIDs cannot have");
        const char *parts[MAX_UIDS];
        size_t lens[MAX_UIDS];
        size_t count = split(v, parts, lens, MAX_UIDS);
        if (count > MAX_UIDS)
            return obia_error_set_at(err, OBIA_E_LIMIT, a->tag, OBIA_NO_OFFSET,
                                     "%s has %zu UIDs, more than %d", a->name, count, MAX_UIDS);
        for (size_t k = 0; k < count; k++)
            if (!is_uid(parts[k], lens[k]))
                return bad(err, a, v, "is not a UID or a list of UIDs");
        catalog_sql_add(q, " AND %s IN (", a->column);
        for (size_t k = 0; k < count; k++) {
            if (k)
                catalog_sql_add(q, ", ");
            catalog_sql_paramf(q, "%.*s", (int)lens[k], parts[k]);
        }
        catalog_sql_add(q, ")");
        return true;
    }
    case K_TEXT:
    case K_NAME:
        if (only_stars(v))
            return true;
        catalog_sql_add(q, " AND ");
        text_match(q, a, a->column, v, qq->fuzzy);
        return true;
    case K_CODE:
    case K_MODALITIES: {
        const char *parts[65];
        size_t lens[65];
        if (split(v, parts, lens, 65) > 64)
            return bad(err, a, v, "has more than 64 values");
        for (const char *p = v; *p; p++)
            if (*p != '\\' && *p != ',' && *p != '*' && *p != '?' && *p != ' ' && *p != '_' &&
                !isalnum((unsigned char)*p))
                return bad(err, a, v, "is not a code (letters, digits, space and _) or a list "
                                      "of codes");
        if (any_universal(v))
            return true;
        if (a->kind == K_CODE) {
            catalog_sql_add(q, " AND ");
            codes_match(q, a, a->column, v, qq->fuzzy);
        } else {
            /* the studies from the series of the modalities (an index), not
             * every study checked for such a series */
            catalog_sql_add(q, " AND s.id IN (SELECT v.study_id FROM series v WHERE ");
            codes_match(q, a, "v.modality", v, qq->fuzzy);
            catalog_sql_add(q, "%s)", qq->public_only ? VISIBLE : "");
        }
        return true;
    }
    case K_DATE:
    case K_TIME: {
        bool date = a->kind == K_DATE;
        bool (*valid)(const char *, size_t) = date ? is_date : is_time;
        const char *dash = strchr(v, '-');
        const char *why = date ? "is not a date or a date range (YYYYMMDD, A-B, A-, -B)"
                               : "is not a time or a time range (HHMMSS.FFFFFF, A-B, A-, -B)";
        if (!dash) {
            if (!valid(v, n))
                return bad(err, a, v, why);
            catalog_sql_add(q, " AND %s = ", a->column);
            catalog_sql_param(q, v);
            return true;
        }
        size_t lo = (size_t)(dash - v), hi = n - lo - 1;
        if (strchr(dash + 1, '-') || (lo == 0 && hi == 0) || (lo && !valid(v, lo)) ||
            (hi && !valid(dash + 1, hi)))
            return bad(err, a, v, why);
        if (lo) {
            char b[16];
            if (date)
                snprintf(b, sizeof b, "%.8s", v);
            else
                time_bound(v, lo, false, b);
            catalog_sql_add(q, " AND %s >= ", a->column);
            catalog_sql_paramf(q, "%s", b);
        }
        if (hi) {
            char b[16];
            if (date)
                snprintf(b, sizeof b, "%.8s", dash + 1);
            else
                time_bound(dash + 1, hi, true, b);
            catalog_sql_add(q, " AND %s <= ", a->column);
            catalog_sql_paramf(q, "%s", b);
        }
        return true;
    }
    case K_NUMBER: {
        const char *p = v + (*v == '+' || *v == '-');
        if (!digits(p, strlen(p)) || strlen(p) > 10)
            return bad(err, a, v, "is not a whole number");
        catalog_sql_add(q, " AND %s = CAST(", a->column);
        catalog_sql_paramf(q, "%lld", atoll(v));
        catalog_sql_add(q, " AS INTEGER)");
        return true;
    }
    case K_RETURNED:
        break;
    }
    return bad(err, a, v, "is returned, not matched");
}

/* ---- the query ------------------------------------------------------------------- */

static void column(catalog_sql *q, obia_catalog *c, const attr *a, bool public_only)
{
    const char *vis = public_only ? VISIBLE : "";
    if (a->column)
        catalog_sql_add(q, "%s", a->column);
    else if (a->kind == K_MODALITIES)
        catalog_sql_add(q,
                        "(SELECT %s(t.x, '\\') FROM (SELECT DISTINCT v.modality AS x FROM series "
                        "v WHERE v.study_id = s.id AND v.modality IS NOT NULL%s ORDER BY 1) t)",
                        c->be->string_agg, vis);
    else if (a->tag == 0x00201206)
        catalog_sql_add(q, "(SELECT COUNT(*) FROM series v WHERE v.study_id = s.id%s)", vis);
    else
        catalog_sql_add(q,
                        "(SELECT COALESCE(SUM(v.images), 0) FROM series v WHERE v.study_id = "
                        "s.id%s)",
                        vis);
    catalog_sql_add(q, " AS \"%08X\", ", (unsigned)a->tag);
}

bool obia_catalog_qido(obia_catalog *c, const obia_qido_query *qq, obia_row_fn fn, void *ctx,
                       bool *more, obia_error *err)
{
    if (more)
        *more = false;
    if (qq->level < OBIA_QIDO_STUDY || qq->level > OBIA_QIDO_INSTANCE)
        return obia_error_set(err, OBIA_E_ARG, "no such query level (%d)", (int)qq->level);
    if (qq->limit <= 0 || qq->offset < 0)
        return obia_error_set(err, OBIA_E_ARG,
                              "a query needs a limit above 0 and an offset of 0 or more, not "
                              "%ld and %ld",
                              qq->limit, qq->offset);
    if (qq->nmatch > OBIA_QIDO_MAX_MATCHES)
        return obia_error_set(err, OBIA_E_LIMIT, "a query has at most %d matching keys, not %zu",
                              OBIA_QIDO_MAX_MATCHES, qq->nmatch);
    if (qq->series_uid && qq->level == OBIA_QIDO_STUDY)
        return obia_error_set(err, OBIA_E_ARG,
                              "a series UID scopes a query of series or instances, not of studies");
    const char *level = levels[qq->level].name;
    for (size_t k = 0; k < qq->nmatch; k++) {
        uint32_t tag = qq->match[k].tag;
        if (!obia_catalog_qido_key(qq->level, tag))
            return obia_error_set_at(err, OBIA_E_ARG, tag, OBIA_NO_OFFSET,
                                     "%s is not a matching key of a %s query",
                                     find_attr(tag) ? find_attr(tag)->name : "the attribute",
                                     level);
    }

    catalog_sql q;
    catalog_sql_init(&q);
    /* the attributes of the level and the levels above */
    catalog_sql_add(&q, "SELECT ");
    for (size_t k = 0; k < NATTRS; k++)
        if (attrs[k].level <= qq->level)
            column(&q, c, &attrs[k], qq->public_only);
    catalog_sql_add(&q, "c.accession AS collection, i.accession AS individual, s.accession AS "
                        "study_accession FROM (");

    /* the page, by the indexes */
    bool named = qq->series_uid != NULL, individual = qq->public_only;
    for (size_t k = 0; k < qq->nmatch; k++) {
        if (!qq->match[k].value || !*qq->match[k].value)
            continue;
        named = named || qq->match[k].tag == 0x0020000E || qq->match[k].tag == 0x00080018;
        individual = individual || find_attr(qq->match[k].tag)->individual;
    }
    if (qq->level == OBIA_QIDO_INSTANCE && !named)
        catalog_sql_add(&q, "SELECT m.id AS k FROM " IMAGES_IN_ORDER "%s WHERE r.study_id = s.id "
                            "AND m.series_id = r.id",
                        individual ? INDIVIDUAL : "");
    else
        catalog_sql_add(&q, "SELECT %s AS k FROM %s%s%s WHERE 1 = 1", levels[qq->level].key,
                        levels[qq->level].table, levels[qq->level].study,
                        individual ? INDIVIDUAL : "");
    if (qq->study_uid) {
        catalog_sql_add(&q, " AND s.study_uid = ");
        catalog_sql_param(&q, qq->study_uid);
    }
    if (qq->series_uid) {
        catalog_sql_add(&q, " AND r.series_uid = ");
        catalog_sql_param(&q, qq->series_uid);
    }
    if (qq->public_only) {
        catalog_sql_add(&q, " AND c.status = 'released'");
        if (qq->level == OBIA_QIDO_STUDY)
            catalog_sql_add(&q, " AND EXISTS (SELECT 1 FROM series v WHERE v.study_id = s.id"
                                VISIBLE ")");
        else
            catalog_sql_add(&q, " AND r.review_state = 'visible'");
    }
    bool ok = true;
    for (size_t k = 0; ok && k < qq->nmatch; k++)
        if (qq->match[k].value && *qq->match[k].value)
            ok = match(&q, qq, find_attr(qq->match[k].tag), qq->match[k].value, err);
    catalog_sql_add(&q, " ORDER BY %s", levels[qq->level].order);
    catalog_sql_page(&q, qq->limit < LONG_MAX ? qq->limit + 1 : qq->limit, qq->offset);

    /* its rows, with their attributes */
    catalog_sql_add(&q, ") p JOIN %s ON %s = p.k%s" INDIVIDUAL " ORDER BY %s",
                    levels[qq->level].table, levels[qq->level].key, levels[qq->level].study,
                    levels[qq->level].order);
    catalog_pager g = {fn, ctx, qq->limit, 0, false};
    ok = ok && catalog_sql_run(c, &q, catalog_pager_row, &g, NULL, err);
    catalog_sql_free(&q);
    if (more)
        *more = g.more;
    return ok;
}
