/* Quality control, review states and the audit log in the catalog: portable
 * SQL run through the backend's exec and query methods. */
#include "catalog_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void now_iso(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool exec(obia_catalog *c, const char *sql, const char *const *params, int n,
                 long long *changes, long long *last_id, obia_error *err)
{
    return c->be->exec(c->db, sql, params, n, changes, last_id, err);
}

/* A transaction of our own unless the caller has one open. */
static bool tx_begin(obia_catalog *c, bool *own, obia_error *err)
{
    *own = !c->be->in_transaction(c->db);
    return !*own || c->be->begin(c->db, err);
}

static bool tx_end(obia_catalog *c, bool own, bool ok, obia_error *err)
{
    if (!own)
        return ok;
    if (ok && c->be->commit(c->db, err))
        return true;
    c->be->rollback(c->db);
    return false;
}

static const char *who_or_unknown(const char *who)
{
    return who && *who ? who : "unknown";
}

static bool audit(obia_catalog *c, const char *who, const char *action, const char *object,
                  const char *detail, obia_error *err)
{
    char now[32];
    now_iso(now);
    const char *p[] = {now, who_or_unknown(who), action, object, detail};
    return exec(c, "INSERT INTO audit (at, who, action, object, detail) VALUES (?, ?, ?, ?, ?)", p,
                5, NULL, NULL, err);
}

bool obia_catalog_audit(obia_catalog *c, const char *who, const char *action, const char *object,
                        const char *detail, obia_error *err)
{
    bool own;
    if (!action || !*action)
        return obia_error_set(err, OBIA_E_ARG, "no action to record");
    return tx_begin(c, &own, err) &&
           tx_end(c, own, audit(c, who, action, object, detail, err), err);
}

bool obia_catalog_audit_list(obia_catalog *c, const char *object, long limit, obia_row_fn fn,
                             void *ctx, obia_error *err)
{
    char lim[32];
    snprintf(lim, sizeof lim, "%ld", limit > 0 ? limit : -1L);
    const char *p[] = {object, lim};
    return c->be->query(c->db, false,
                        "SELECT at, who, action, object, detail FROM audit "
                        "WHERE (?1 IS NULL OR object = ?1) ORDER BY id DESC "
                        "LIMIT CAST(?2 AS INTEGER)",
                        p, 2, fn, ctx, NULL, err);
}

/* ---- quarantine ------------------------------------------------------------------ */

/* Q000012 -> "12"; false if not an item id. */
static bool item_number(const char *id, char out[24], obia_error *err)
{
    size_t n = id ? strlen(id) : 0;
    bool ok = n >= 2 && n <= 20 && id[0] == 'Q';
    for (size_t i = 1; ok && i < n; i++)
        ok = isdigit((unsigned char)id[i]);
    if (!ok)
        return obia_error_set(err, OBIA_E_ARG, "'%s' is not a quarantine id (Q000001)",
                              id ? id : "");
    snprintf(out, 24, "%lld", atoll(id + 1));
    return true;
}

static bool add_findings(obia_catalog *c, const char *num, const obia_qc_findings *f,
                         obia_error *err)
{
    bool ok = exec(c, "DELETE FROM quarantine_finding WHERE quarantine_id = CAST(? AS INTEGER)",
                   (const char *[]){num}, 1, NULL, NULL, err);
    for (size_t i = 0; ok && f && i < f->count; i++) {
        const obia_qc_check_info *ck = obia_qc_check(f->items[i].code);
        const char *p[] = {num, f->items[i].code,
                           obia_qc_severity_name(ck ? ck->severity : OBIA_QC_ERROR),
                           f->items[i].detail};
        ok = exec(c,
                  "INSERT INTO quarantine_finding (quarantine_id, code, severity, detail) "
                  "VALUES (CAST(? AS INTEGER), ?, ?, ?)",
                  p, 4, NULL, NULL, err);
    }
    return ok;
}

bool obia_catalog_quarantine_add(obia_catalog *c, const obia_catalog_quarantine *q, char id[16],
                                 obia_error *err)
{
    if (!q->findings || q->findings->count == 0)
        return obia_error_set(err, OBIA_E_ARG, "a quarantined item needs a reason");
    char now[32], codes[512];
    now_iso(now);
    obia_qc_codes(q->findings, codes, sizeof codes);
    const char *sev = obia_qc_severity_name(obia_qc_worst(q->findings));
    const char *p[] = {sev, codes, now, now, q->has_bytes ? "1" : "0", q->source_ref,
                       q->sop_instance_uid, q->individual, q->collection};
    bool own;
    if (!tx_begin(c, &own, err))
        return false;
    long long changes = 0, rowid = 0;
    bool ok = exec(c,
                   "INSERT INTO quarantine (collection_id, severity, codes, created, updated, "
                   "has_bytes, source_ref, sop_instance_uid, individual) "
                   "SELECT id, ?, ?, ?, ?, CAST(? AS INTEGER), ?, ?, ? FROM collection "
                   "WHERE accession = ?",
                   p, 9, &changes, &rowid, err);
    if (ok && changes == 0)
        ok = obia_error_set(err, OBIA_E_NOTFOUND, "no collection %s", q->collection);
    char num[24];
    if (ok) {
        snprintf(id, 16, "Q%06lld", rowid);
        snprintf(num, sizeof num, "%lld", rowid);
        ok = exec(c, "UPDATE quarantine SET accession = ? WHERE id = CAST(? AS INTEGER)",
                  (const char *[]){id, num}, 2, NULL, NULL, err) &&
             add_findings(c, num, q->findings, err) &&
             audit(c, q->who, "quarantine", id, codes, err);
    }
    return tx_end(c, own, ok, err);
}

/* The state of an item, or NOTFOUND. */
static bool row_state(void *ctx, int n, const char *const *names, const char *const *values)
{
    (void)n;
    (void)names;
    snprintf(ctx, 16, "%s", values[0] ? values[0] : "");
    return false;
}

static bool held(obia_catalog *c, const char *id, const char *num, obia_error *err)
{
    char state[16] = "";
    bool any = false;
    if (!c->be->query(c->db, true, "SELECT state FROM quarantine WHERE id = CAST(? AS INTEGER)",
                      (const char *[]){num}, 1, row_state, state, &any, err))
        return false;
    if (!any)
        return obia_error_set(err, OBIA_E_NOTFOUND, "no quarantined item %s", id);
    if (strcmp(state, "held") != 0)
        return obia_error_set(err, OBIA_E_ARG, "%s is not held: it was %s", id, state);
    return true;
}

bool obia_catalog_quarantine_refind(obia_catalog *c, const char *id,
                                    const obia_catalog_quarantine *q, obia_error *err)
{
    char num[24], now[32], codes[512];
    if (!item_number(id, num, err))
        return false;
    if (!q->findings || q->findings->count == 0)
        return obia_error_set(err, OBIA_E_ARG, "a quarantined item needs a reason");
    now_iso(now);
    obia_qc_codes(q->findings, codes, sizeof codes);
    const char *p[] = {obia_qc_severity_name(obia_qc_worst(q->findings)), codes, now,
                       q->has_bytes ? "1" : "0", q->source_ref, q->sop_instance_uid,
                       q->individual, num};
    char detail[800];
    snprintf(detail, sizeof detail, "%s%s%.600s", codes, q->note && *q->note ? "; " : "",
             q->note ? q->note : "");
    bool own;
    if (!tx_begin(c, &own, err))
        return false;
    bool ok = held(c, id, num, err) &&
              exec(c,
                   "UPDATE quarantine SET severity = ?, codes = ?, updated = ?, "
                   "has_bytes = CAST(? AS INTEGER), source_ref = ?, sop_instance_uid = ?, "
                   "individual = ? WHERE id = CAST(? AS INTEGER)",
                   p, 8, NULL, NULL, err) &&
              add_findings(c, num, q->findings, err) &&
              audit(c, q->who, "qc-recheck", id, detail, err);
    return tx_end(c, own, ok, err);
}

bool obia_catalog_quarantine_close(obia_catalog *c, const char *id, const char *state,
                                   const char *who, const char *reason, obia_error *err)
{
    static const char *const states[][2] = {
        {"repaired", "qc-repair"}, {"released", "qc-release"}, {"discarded", "qc-discard"}};
    const char *action = NULL;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (state && strcmp(states[i][0], state) == 0)
            action = states[i][1];
    if (!action)
        return obia_error_set(err, OBIA_E_ARG, "'%s' is not a state an item can end in",
                              state ? state : "");
    char num[24], now[32];
    if (!item_number(id, num, err))
        return false;
    now_iso(now);
    bool own;
    if (!tx_begin(c, &own, err))
        return false;
    bool ok = held(c, id, num, err) &&
              /* what was kept is gone once the item ends */
              exec(c,
                   "UPDATE quarantine SET state = ?, updated = ?, has_bytes = 0, "
                   "source_ref = NULL WHERE id = CAST(? AS INTEGER)",
                   (const char *[]){state, now, num}, 3, NULL, NULL, err) &&
              audit(c, who, action, id, reason, err);
    return tx_end(c, own, ok, err);
}

#define ITEM_COLUMNS                                                                            \
    "q.accession AS id, c.accession AS collection, q.state, q.severity, q.codes, q.created, "  \
    "q.updated, q.has_bytes, q.source_ref, q.sop_instance_uid, q.individual "

bool obia_catalog_quarantine_get(obia_catalog *c, const char *id, obia_row_fn fn, void *ctx,
                                 obia_error *err)
{
    char num[24];
    bool any = false;
    if (!item_number(id, num, err) ||
        !c->be->query(c->db, c->be->in_transaction(c->db),
                      "SELECT " ITEM_COLUMNS "FROM quarantine q JOIN collection c ON c.id = "
                      "q.collection_id WHERE q.id = CAST(? AS INTEGER)",
                      (const char *[]){num}, 1, fn, ctx, &any, err))
        return false;
    return any || obia_error_set(err, OBIA_E_NOTFOUND, "no quarantined item %s", id);
}

bool obia_catalog_quarantine_findings(obia_catalog *c, const char *id, obia_row_fn fn, void *ctx,
                                      obia_error *err)
{
    char num[24];
    return item_number(id, num, err) &&
           c->be->query(c->db, false,
                        "SELECT code, severity, detail FROM quarantine_finding "
                        "WHERE quarantine_id = CAST(? AS INTEGER) ORDER BY rowid",
                        (const char *[]){num}, 1, fn, ctx, NULL, err);
}

bool obia_catalog_quarantine_list(obia_catalog *c, const char *collection, const char *code,
                                  const char *state, obia_row_fn fn, void *ctx, obia_error *err)
{
    const char *p[] = {collection, code, state};
    return c->be->query(c->db, false,
                        "SELECT " ITEM_COLUMNS "FROM quarantine q JOIN collection c ON c.id = "
                        "q.collection_id WHERE (?1 IS NULL OR c.accession = ?1) "
                        "AND (?2 IS NULL OR EXISTS (SELECT 1 FROM quarantine_finding f WHERE "
                        "f.quarantine_id = q.id AND f.code = ?2)) "
                        "AND (?3 IS NULL OR ?3 = 'all' OR q.state = ?3) ORDER BY q.id",
                        p, 3, fn, ctx, NULL, err);
}

/* ---- series warnings ------------------------------------------------------------- */

bool obia_catalog_series_findings_set(obia_catalog *c, const char *series_uid,
                                      const obia_qc_findings *f, obia_error *err)
{
    char now[32];
    now_iso(now);
    bool own;
    if (!tx_begin(c, &own, err))
        return false;
    bool ok = exec(c,
                   "DELETE FROM finding WHERE series_id = (SELECT id FROM series WHERE "
                   "series_uid = ?)",
                   (const char *[]){series_uid}, 1, NULL, NULL, err);
    for (size_t i = 0; ok && f && i < f->count; i++) {
        const obia_qc_check_info *ck = obia_qc_check(f->items[i].code);
        const char *p[] = {f->items[i].code,
                           obia_qc_severity_name(ck ? ck->severity : OBIA_QC_WARNING),
                           f->items[i].detail, now, series_uid};
        ok = exec(c,
                  "INSERT INTO finding (series_id, code, severity, detail, found) "
                  "SELECT id, ?, ?, ?, ? FROM series WHERE series_uid = ?",
                  p, 5, NULL, NULL, err);
    }
    return tx_end(c, own, ok, err);
}

#define SERIES_JOINS                                                                            \
    "JOIN study s ON s.id = r.study_id JOIN individual i ON i.id = s.individual_id "          \
    "JOIN collection c ON c.id = i.collection_id "

bool obia_catalog_series_findings(obia_catalog *c, const char *collection, const char *code,
                                  obia_row_fn fn, void *ctx, obia_error *err)
{
    const char *p[] = {collection, code};
    return c->be->query(c->db, false,
                        "SELECT c.accession AS collection, s.accession AS study, r.series_uid, "
                        "f.code, f.severity, f.detail, f.found FROM finding f JOIN series r ON "
                        "r.id = f.series_id " SERIES_JOINS
                        "WHERE (?1 IS NULL OR c.accession = ?1) AND (?2 IS NULL OR f.code = ?2) "
                        "ORDER BY c.id, s.id, r.id, f.code",
                        p, 2, fn, ctx, NULL, err);
}

bool obia_catalog_series_images(obia_catalog *c, const char *series_uid, obia_row_fn fn,
                                void *ctx, obia_error *err)
{
    return c->be->query(c->db, c->be->in_transaction(c->db),
                        "SELECT m.sop_instance_uid, m.modality, m.frame_of_reference, "
                        "CASE WHEN m.has_instance_number = 1 THEN m.instance_number END AS "
                        "instance_number, m.position, m.orientation, m.frames FROM image m "
                        "JOIN series r ON r.id = m.series_id WHERE r.series_uid = ? ORDER BY m.id",
                        (const char *[]){series_uid}, 1, fn, ctx, NULL, err);
}

bool obia_catalog_collection_images(obia_catalog *c, const char *collection, obia_row_fn fn,
                                    void *ctx, obia_error *err)
{
    return c->be->query(c->db, false,
                        "SELECT m.sop_instance_uid, m.object_hash, i.accession AS individual, "
                        "r.series_uid, m.transfer_syntax FROM image m JOIN series r ON r.id = "
                        "m.series_id " SERIES_JOINS "WHERE c.accession = ? ORDER BY m.id",
                        (const char *[]){collection}, 1, fn, ctx, NULL, err);
}

/* ---- review states ------------------------------------------------------------------ */

bool obia_catalog_review_state_valid(const char *state)
{
    static const char *const states[] = {"unreviewed", "visible", "not-visible", "to-be-deleted"};
    for (size_t i = 0; state && i < sizeof states / sizeof states[0]; i++)
        if (strcmp(states[i], state) == 0)
            return true;
    return false;
}

static bool all_digits(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool row_count(void *ctx, int n, const char *const *names, const char *const *values)
{
    (void)n;
    (void)names;
    *(long long *)ctx = values[0] ? atoll(values[0]) : 0;
    return false;
}

static bool count(obia_catalog *c, const char *sql, const char *const *p, int n, long long *out,
                  obia_error *err)
{
    *out = 0;
    return c->be->query(c->db, true, sql, p, n, row_count, out, NULL, err);
}

bool obia_catalog_review_set(obia_catalog *c, const char *target, const char *state,
                             const char *who, const char *reason, long *changed, obia_error *err)
{
    *changed = 0;
    if (!obia_catalog_review_state_valid(state))
        return obia_error_set(err, OBIA_E_ARG,
                              "'%s' is not a review state (unreviewed, visible, not-visible, "
                              "to-be-deleted)",
                              state ? state : "");
    if (!target || !*target)
        return obia_error_set(err, OBIA_E_ARG, "no series, study or collection given");
    /* which series: of a collection (OBIA0001), of a study (S00000001), or one */
    const char *which;
    const char *kind;
    if (strncmp(target, "OBIA", 4) == 0 && strlen(target) >= 8 && all_digits(target + 4, strlen(target + 4))) {
        kind = "collection";
        which = "r.study_id IN (SELECT s.id FROM study s JOIN individual i ON i.id = "
                "s.individual_id JOIN collection c ON c.id = i.collection_id WHERE c.accession = ?)";
    } else if (target[0] == 'S' && all_digits(target + 1, 8)) {
        kind = "study";
        which = "r.study_id = (SELECT id FROM study WHERE accession = ?)";
    } else {
        kind = "series";
        which = "r.series_uid = ?";
    }
    char sql[1024], now[32];
    now_iso(now);
    bool own;
    if (!tx_begin(c, &own, err))
        return false;
    long long total = 0, n = 0;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM series r WHERE %s", which);
    bool ok = count(c, sql, (const char *[]){target}, 1, &total, err);
    if (ok && total == 0)
        ok = obia_error_set(err, OBIA_E_NOTFOUND, "no %s %s%s", kind, target,
                            strcmp(kind, "series") == 0 ? " (give a series UID, a study accession "
                                                          "S00000001 or a collection OBIA0001)"
                                                        : " with series");
    if (ok) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO review (series_id, state, at, who, reason) SELECT r.id, ?, ?, ?, ? "
                 "FROM series r WHERE %s AND r.review_state <> ?",
                 which);
        const char *p[] = {state, now, who_or_unknown(who), reason, target, state};
        ok = exec(c, sql, p, 6, &n, NULL, err);
    }
    if (ok) {
        snprintf(sql, sizeof sql,
                 "UPDATE series SET review_state = ?, reviewed = ? WHERE id IN (SELECT r.id FROM "
                 "series r WHERE %s AND r.review_state <> ?)",
                 which);
        const char *p[] = {state, now, target, state};
        ok = exec(c, sql, p, 4, NULL, NULL, err);
    }
    if (ok) {
        char detail[600];
        snprintf(detail, sizeof detail, "%s: %lld of %lld series%s%.400s", state, n, total,
                 reason && *reason ? "; " : "", reason ? reason : "");
        ok = audit(c, who, "review", target, detail, err);
    }
    *changed = (long)n;
    return tx_end(c, own, ok, err);
}

bool obia_catalog_review_list(obia_catalog *c, const char *collection, const char *state,
                              obia_row_fn fn, void *ctx, obia_error *err)
{
    const char *p[] = {collection, state};
    return c->be->query(c->db, false,
                        "SELECT c.accession AS collection, s.accession AS study, r.series_uid, "
                        "r.modality, r.description, r.images, r.review_state AS state, "
                        "r.reviewed AS updated FROM series r " SERIES_JOINS
                        "WHERE (?1 IS NULL OR c.accession = ?1) AND (?2 IS NULL OR "
                        "r.review_state = ?2) ORDER BY c.id, s.id, r.series_number, r.id",
                        p, 2, fn, ctx, NULL, err);
}

bool obia_catalog_review_history(obia_catalog *c, const char *series_uid, obia_row_fn fn,
                                 void *ctx, obia_error *err)
{
    long long n = 0;
    if (!c->be->query(c->db, false, "SELECT COUNT(*) FROM series WHERE series_uid = ?",
                      (const char *[]){series_uid}, 1, row_count, &n, NULL, err))
        return false;
    if (n == 0)
        return obia_error_set(err, OBIA_E_NOTFOUND, "no series %s", series_uid);
    return c->be->query(c->db, false,
                        "SELECT v.at, v.who, v.state, v.reason FROM review v JOIN series r ON "
                        "r.id = v.series_id WHERE r.series_uid = ? ORDER BY v.id",
                        (const char *[]){series_uid}, 1, fn, ctx, NULL, err);
}

/* ---- release ------------------------------------------------------------------------ */

bool obia_catalog_collection_release(obia_catalog *c, const char *accession, bool force,
                                     const char *who, const char *reason, obia_error *err)
{
    if (force && (!reason || !*reason))
        return obia_error_set(err, OBIA_E_ARG, "a forced release needs a reason");
    char now[32];
    now_iso(now);
    bool own;
    if (!tx_begin(c, &own, err))
        return false;
    char status[16] = "";
    bool any = false;
    bool ok = c->be->query(c->db, true, "SELECT status FROM collection WHERE accession = ?",
                           (const char *[]){accession}, 1, row_state, status, &any, err);
    if (ok && !any)
        ok = obia_error_set(err, OBIA_E_NOTFOUND, "no collection %s", accession);
    if (ok && strcmp(status, "released") == 0)
        ok = obia_error_set(err, OBIA_E_ARG, "collection %s is released already", accession);
    long long unreviewed = 0, quarantined = 0;
    ok = ok &&
         count(c,
               "SELECT COUNT(*) FROM series r " SERIES_JOINS
               "WHERE c.accession = ? AND r.review_state = 'unreviewed'",
               (const char *[]){accession}, 1, &unreviewed, err) &&
         count(c,
               "SELECT COUNT(*) FROM quarantine q JOIN collection c ON c.id = q.collection_id "
               "WHERE c.accession = ? AND q.state = 'held'",
               (const char *[]){accession}, 1, &quarantined, err);
    char detail[700] = "";
    if (ok && (unreviewed || quarantined)) {
        if (!force)
            ok = obia_error_set(err, OBIA_E_ARG,
                                "collection %s has %lld unreviewed series and %lld quarantined "
                                "items: review the series (obia review set), resolve the items "
                                "(obia qc), or release with --force --reason",
                                accession, unreviewed, quarantined);
        else
            snprintf(detail, sizeof detail,
                     "forced with %lld unreviewed series and %lld quarantined items: %.500s",
                     unreviewed, quarantined, reason);
    } else if (ok && reason && *reason) {
        snprintf(detail, sizeof detail, "%.600s", reason);
    }
    ok = ok &&
         exec(c, "UPDATE collection SET status = 'released', released = ? WHERE accession = ?",
              (const char *[]){now, accession}, 2, NULL, NULL, err) &&
         audit(c, who, "collection-release", accession, detail, err);
    return tx_end(c, own, ok, err);
}

/* ---- thumbnails ----------------------------------------------------------------------- */

typedef struct hash_row {
    char *hash;
    long *frames;
    char *sop;
    bool found;
} hash_row;

static bool take_hash(void *ctx, int n, const char *const *names, const char *const *v)
{
    hash_row *h = ctx;
    h->found = true;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "object_hash") == 0)
            snprintf(h->hash, 65, "%s", v[i] ? v[i] : "");
        else if (strcmp(names[i], "frames") == 0 && h->frames)
            *h->frames = v[i] ? atol(v[i]) : 1;
        else if (strcmp(names[i], "sop_instance_uid") == 0 && h->sop)
            snprintf(h->sop, 65, "%s", v[i] ? v[i] : "");
    }
    return false;
}

bool obia_catalog_thumbnail_get(obia_catalog *c, const char *uid, uint32_t size, char hash[65],
                                bool *found, obia_error *err)
{
    char sz[16];
    snprintf(sz, sizeof sz, "%u", size);
    hash_row h = {hash, NULL, NULL, false};
    hash[0] = '\0';
    bool ok = c->be->query(c->db, c->be->in_transaction(c->db),
                           "SELECT object_hash FROM thumbnail WHERE uid = ? AND size = "
                           "CAST(? AS INTEGER)",
                           (const char *[]){uid, sz}, 2, take_hash, &h, NULL, err);
    *found = ok && h.found;
    return ok;
}

bool obia_catalog_thumbnail_set(obia_catalog *c, const char *uid, const char *kind,
                                uint32_t size, const char *hash, obia_error *err)
{
    char sz[16], now[32];
    snprintf(sz, sizeof sz, "%u", size);
    now_iso(now);
    bool own;
    if (!tx_begin(c, &own, err))
        return false;
    bool ok = exec(c,
                   "INSERT INTO thumbnail (uid, kind, size, object_hash, created) "
                   "VALUES (?, ?, CAST(? AS INTEGER), ?, ?) ON CONFLICT (uid, size) DO UPDATE "
                   "SET object_hash = excluded.object_hash, created = excluded.created",
                   (const char *[]){uid, kind, sz, hash, now}, 5, NULL, NULL, err);
    return tx_end(c, own, ok, err);
}

bool obia_catalog_series_middle(obia_catalog *c, const char *series_uid, char sop[65],
                                char hash[65], long *frames, obia_error *err)
{
    hash_row h = {hash, frames, sop, false};
    if (!c->be->query(c->db, c->be->in_transaction(c->db),
                      "SELECT m.sop_instance_uid, m.object_hash, m.frames FROM image m "
                      "JOIN series r ON r.id = m.series_id WHERE r.series_uid = ?1 "
                      "ORDER BY m.instance_number, m.id LIMIT 1 OFFSET "
                      "(SELECT COUNT(*) FROM image m2 JOIN series r2 ON r2.id = m2.series_id "
                      "WHERE r2.series_uid = ?1) / 2",
                      (const char *[]){series_uid}, 1, take_hash, &h, NULL, err))
        return false;
    return h.found || obia_error_set(err, OBIA_E_NOTFOUND, "no series %s with images", series_uid);
}

bool obia_catalog_image_object(obia_catalog *c, const char *sop_uid, char hash[65],
                               long *frames, obia_error *err)
{
    hash_row h = {hash, frames, NULL, false};
    if (!c->be->query(c->db, c->be->in_transaction(c->db),
                      "SELECT object_hash, frames FROM image WHERE sop_instance_uid = ?",
                      (const char *[]){sop_uid}, 1, take_hash, &h, NULL, err))
        return false;
    return h.found || obia_error_set(err, OBIA_E_NOTFOUND, "no image %s", sop_uid);
}

bool obia_catalog_series_objects(obia_catalog *c, const char *series_uid, obia_row_fn fn,
                                 void *ctx, obia_error *err)
{
    return c->be->query(c->db, false,
                        "SELECT m.sop_instance_uid, m.object_hash, m.frames FROM image m "
                        "JOIN series r ON r.id = m.series_id WHERE r.series_uid = ? "
                        "ORDER BY m.instance_number, m.id",
                        (const char *[]){series_uid}, 1, fn, ctx, NULL, err);
}
