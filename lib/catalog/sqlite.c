/* The SQLite backend of the catalog. The SQL is kept portable (no SQLite-only
 * syntax in the queries) so that a PostgreSQL backend can share it; to that
 * end LIKE is case-sensitive here as it is there (PRAGMA case_sensitive_like),
 * and matching in any case is written LOWER(x) LIKE LOWER(pattern). The
 * planner makes no automatic indexes: every join has an index of the
 * schema's, and a transient index over the series, rebuilt by each query,
 * costs more than the query. */
#include "catalog_internal.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEMA_VERSION 4

/* Each migration takes the schema from version i to i + 1. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE counter (kind TEXT PRIMARY KEY, next INTEGER NOT NULL);"
    "INSERT INTO counter VALUES ('collection', 1), ('individual', 1), ('study', 1);"
    "CREATE TABLE collection ("
    "  id INTEGER PRIMARY KEY, accession TEXT NOT NULL UNIQUE, title TEXT NOT NULL,"
    "  description TEXT, keywords TEXT, submitter TEXT,"
    "  access TEXT NOT NULL DEFAULT 'open' CHECK (access IN ('open', 'controlled')),"
    "  disease TEXT, bioproject TEXT, profile TEXT NOT NULL DEFAULT 'obia',"
    "  status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'released')),"
    "  created TEXT NOT NULL, released TEXT);"
    "CREATE TABLE individual ("
    "  id INTEGER PRIMARY KEY, accession TEXT NOT NULL UNIQUE,"
    "  collection_id INTEGER NOT NULL REFERENCES collection (id),"
    "  sex TEXT, age INTEGER, disease TEXT, diagnosis TEXT, pathological_type TEXT,"
    "  medical_history TEXT, family_history TEXT, treatment TEXT, gsa_accession TEXT,"
    "  created TEXT NOT NULL);"
    "CREATE TABLE individual_extra ("
    "  individual_id INTEGER NOT NULL REFERENCES individual (id), name TEXT NOT NULL,"
    "  value TEXT NOT NULL, PRIMARY KEY (individual_id, name));"
    "CREATE TABLE study ("
    "  id INTEGER PRIMARY KEY, accession TEXT NOT NULL UNIQUE,"
    "  individual_id INTEGER NOT NULL REFERENCES individual (id),"
    "  study_uid TEXT NOT NULL UNIQUE, study_date TEXT, description TEXT, age_at_study TEXT,"
    "  age_years INTEGER);"
    "CREATE TABLE series ("
    "  id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES study (id),"
    "  series_uid TEXT NOT NULL UNIQUE, modality TEXT, body_part TEXT, description TEXT,"
    "  series_number INTEGER, images INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE image ("
    "  id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL REFERENCES series (id),"
    "  sop_class_uid TEXT NOT NULL, sop_instance_uid TEXT NOT NULL UNIQUE,"
    "  instance_number INTEGER, object_hash TEXT NOT NULL, size INTEGER NOT NULL,"
    "  transfer_syntax TEXT, rows_ INTEGER, columns_ INTEGER, frames INTEGER,"
    "  ingested TEXT NOT NULL);"
    "CREATE INDEX individual_collection ON individual (collection_id);"
    "CREATE INDEX individual_sex ON individual (sex);"
    "CREATE INDEX individual_age ON individual (age);"
    "CREATE INDEX study_individual ON study (individual_id);"
    "CREATE INDEX series_study ON series (study_id);"
    "CREATE INDEX series_modality ON series (modality);"
    "CREATE INDEX series_body_part ON series (body_part);"
    "CREATE INDEX image_series ON image (series_id);"
    "CREATE INDEX image_hash ON image (object_hash);",
    /* 1 -> 2: quality control, review states, audit */
    "ALTER TABLE study ADD COLUMN sex_fp TEXT;"
    "ALTER TABLE study ADD COLUMN birth_fp TEXT;"
    "ALTER TABLE series ADD COLUMN review_state TEXT NOT NULL DEFAULT 'unreviewed' CHECK "
    "  (review_state IN ('unreviewed', 'visible', 'not-visible', 'to-be-deleted'));"
    "ALTER TABLE series ADD COLUMN reviewed TEXT;"
    "ALTER TABLE image ADD COLUMN modality TEXT;"
    "ALTER TABLE image ADD COLUMN frame_of_reference TEXT;"
    "ALTER TABLE image ADD COLUMN position TEXT;"
    "ALTER TABLE image ADD COLUMN orientation TEXT;"
    "ALTER TABLE image ADD COLUMN has_instance_number INTEGER NOT NULL DEFAULT 1;"
    "CREATE INDEX series_review ON series (review_state);"
    "CREATE TABLE review ("
    "  id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL REFERENCES series (id),"
    "  state TEXT NOT NULL, at TEXT NOT NULL, who TEXT NOT NULL, reason TEXT);"
    "CREATE INDEX review_series ON review (series_id);"
    "CREATE TABLE quarantine ("
    "  id INTEGER PRIMARY KEY, accession TEXT UNIQUE,"
    "  collection_id INTEGER NOT NULL REFERENCES collection (id),"
    "  state TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'repaired', 'released', "
    "  'discarded')),"
    "  severity TEXT NOT NULL, codes TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,"
    "  has_bytes INTEGER NOT NULL, source_ref TEXT, sop_instance_uid TEXT, individual TEXT);"
    "CREATE INDEX quarantine_collection ON quarantine (collection_id, state);"
    "CREATE TABLE quarantine_finding ("
    "  quarantine_id INTEGER NOT NULL REFERENCES quarantine (id), code TEXT NOT NULL,"
    "  severity TEXT NOT NULL, detail TEXT, PRIMARY KEY (quarantine_id, code));"
    "CREATE TABLE finding ("
    "  series_id INTEGER NOT NULL REFERENCES series (id), code TEXT NOT NULL,"
    "  severity TEXT NOT NULL, detail TEXT, found TEXT NOT NULL, PRIMARY KEY (series_id, code));"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,"
    "  object TEXT, detail TEXT);"
    "CREATE INDEX audit_object ON audit (object);",
    /* 2 -> 3: thumbnails, cached in the object store */
    "CREATE TABLE thumbnail ("
    "  uid TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('series', 'image')),"
    "  size INTEGER NOT NULL, object_hash TEXT NOT NULL, created TEXT NOT NULL,"
    "  PRIMARY KEY (uid, size));",
    /* 3 -> 4: the study's DICOMweb attributes (dicom_study_id is StudyID,
     * 0020,0010), and the indexes of DICOMweb queries and browsing: the
     * series of a study and the images of a series come from the index in
     * their order; studies are found by date, patient and accession number,
     * and studies and series by modality (and review state) from a covering
     * index that has the series in their order too. The index of review
     * states goes: with four values it only misled the planner (a walk
     * through every visible series to find one study's). */
    "ALTER TABLE study ADD COLUMN study_time TEXT;"
    "ALTER TABLE study ADD COLUMN accession_number TEXT;"
    "ALTER TABLE study ADD COLUMN dicom_study_id TEXT;"
    "ALTER TABLE study ADD COLUMN referring_physician TEXT;"
    "ALTER TABLE study ADD COLUMN patient_name TEXT;"
    "ALTER TABLE study ADD COLUMN patient_id TEXT;"
    "ALTER TABLE study ADD COLUMN patient_birth_date TEXT;"
    "ALTER TABLE image ADD COLUMN bits_allocated INTEGER;"
    "CREATE INDEX study_date ON study (study_date);"
    "CREATE INDEX study_patient_id ON study (patient_id);"
    "CREATE INDEX study_patient_name ON study (patient_name);"
    "CREATE INDEX study_accession_number ON study (accession_number);"
    "DROP INDEX series_study;"
    "CREATE INDEX series_study ON series (study_id, series_number);"
    "DROP INDEX series_modality;"
    "CREATE INDEX series_modality ON series (modality, study_id, series_number, review_state);"
    "DROP INDEX image_series;"
    "CREATE INDEX image_series ON image (series_id, instance_number);"
    "DROP INDEX series_review;",
};

/* Queries run on a read-only connection of their thread's own (WAL lets
 * readers go on while the one writer commits); the handle keeps them all to
 * close them with the catalog. */
typedef struct db db;

typedef struct reader {
    sqlite3 *h;
    db *d;
} reader;

struct db {
    sqlite3 *h;                 /* the writer */
    pthread_mutex_t readers_lock;
    reader **readers;
    size_t nreaders;
    pthread_key_t reader_key;   /* the thread's reader; closed when the thread ends */
    bool has_key;
    char path[4096];
    sqlite3_stmt *find_image, *find_series, *find_study, *add_image, *add_series, *add_study,
        *bump_series, *collection_id, *individual_id, *next_counter, *bump_counter,
        *add_individual, *add_collection, *individual_sex, *individual_age, *study_fp;
};

static bool fail(db *d, obia_error *err, const char *what)
{
    return obia_error_set(err, OBIA_E_IO, "catalog %s: %s: %s", d->path, what, sqlite3_errmsg(d->h));
}

static bool exec(db *d, const char *sql, obia_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        obia_error_set(err, OBIA_E_IO, "catalog %s: %s", d->path, msg ? msg : sqlite3_errmsg(d->h));
        sqlite3_free(msg);
        return false;
    }
    return true;
}

static void now_iso(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool prepare(db *d, sqlite3_stmt **st, const char *sql, obia_error *err)
{
    if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return fail(d, err, "cannot prepare a statement");
    return true;
}

/* A thread ends: its reader is closed (a server thread per connection
 * would otherwise leave one open per connection it ever served). */
static void reader_exit(void *p)
{
    reader *r = p;
    db *d = r->d;
    pthread_mutex_lock(&d->readers_lock);
    for (size_t i = 0; i < d->nreaders; i++)
        if (d->readers[i] == r) {
            d->readers[i] = d->readers[--d->nreaders];
            break;
        }
    pthread_mutex_unlock(&d->readers_lock);
    sqlite3_close(r->h);
    free(r);
}

static void be_close(void *p)
{
    db *d = p;
    if (!d)
        return;
    sqlite3_stmt **all[] = {&d->find_image, &d->find_series, &d->find_study, &d->add_image,
                            &d->add_series, &d->add_study, &d->bump_series, &d->collection_id,
                            &d->individual_id, &d->next_counter, &d->bump_counter,
                            &d->add_individual, &d->add_collection, &d->individual_sex,
                            &d->individual_age, &d->study_fp};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(*all[i]);
    /* (after the key is deleted no thread's exit closes a reader) */
    if (d->has_key)
        pthread_key_delete(d->reader_key);
    for (size_t i = 0; i < d->nreaders; i++) {
        sqlite3_close(d->readers[i]->h);
        free(d->readers[i]);
    }
    free(d->readers);
    pthread_mutex_destroy(&d->readers_lock);
    sqlite3_close(d->h);
    free(d);
}

static void *be_open(const char *path, bool create, int *version, obia_error *err)
{
    db *d = calloc(1, sizeof *d);
    if (!d) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(d->path, sizeof d->path, "%s", path);
    pthread_mutex_init(&d->readers_lock, NULL);
    d->has_key = pthread_key_create(&d->reader_key, reader_exit) == 0;
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &d->h, flags, NULL) != SQLITE_OK) {
        obia_error_set(err, OBIA_E_IO, "cannot open the catalog %s: %s", path,
                       d->h ? sqlite3_errmsg(d->h) : "out of memory");
        be_close(d);
        return NULL;
    }
    sqlite3_busy_timeout(d->h, 30000);
    /* a 64 MiB page cache keeps the UID indexes of a large catalog in memory,
     * so adding images does not slow down as the archive grows */
    bool ok = exec(d,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                   "PRAGMA cache_size=-65536; PRAGMA case_sensitive_like=ON; "
                   "PRAGMA automatic_index=OFF;",
                   err);
    /* schema version, migrated forward */
    int v = 0;
    sqlite3_stmt *st = NULL;
    if (ok && sqlite3_prepare_v2(d->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (ok && v > SCHEMA_VERSION) {
        obia_error_set(err, OBIA_E_UNSUPPORTED,
                       "catalog %s has schema version %d, newer than this obia (%d)", path, v,
                       SCHEMA_VERSION);
        ok = false;
    }
    while (ok && v < SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d;", v + 1);
        ok = exec(d, "BEGIN IMMEDIATE", err) && exec(d, migrations[v], err) && exec(d, sql, err) &&
             exec(d, "COMMIT", err);
        if (!ok)
            sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
        v++;
    }
    ok = ok &&
         prepare(d, &d->find_image,
                 "SELECT object_hash FROM image WHERE sop_instance_uid = ?", err) &&
         prepare(d, &d->find_series,
                 "SELECT r.id, r.study_id, s.individual_id FROM series r JOIN study s ON s.id = "
                 "r.study_id WHERE r.series_uid = ?",
                 err) &&
         prepare(d, &d->find_study,
                 "SELECT id, individual_id, sex_fp, birth_fp FROM study WHERE study_uid = ?", err) &&
         prepare(d, &d->study_fp,
                 "UPDATE study SET sex_fp = COALESCE(sex_fp, ?), birth_fp = COALESCE(birth_fp, ?) "
                 "WHERE id = ?",
                 err) &&
         prepare(d, &d->add_image,
                 "INSERT INTO image (series_id, sop_class_uid, sop_instance_uid, instance_number, "
                 "object_hash, size, transfer_syntax, rows_, columns_, frames, ingested, modality, "
                 "frame_of_reference, position, orientation, has_instance_number, bits_allocated) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 err) &&
         prepare(d, &d->add_series,
                 "INSERT INTO series (study_id, series_uid, modality, body_part, description, "
                 "series_number) VALUES (?, ?, ?, ?, ?, ?)",
                 err) &&
         prepare(d, &d->add_study,
                 "INSERT INTO study (accession, individual_id, study_uid, study_date, description, "
                 "age_at_study, age_years, sex_fp, birth_fp, study_time, accession_number, "
                 "dicom_study_id, referring_physician, patient_name, patient_id, "
                 "patient_birth_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 err) &&
         prepare(d, &d->bump_series,
                 "UPDATE series SET images = images + 1, bytes = bytes + ? WHERE id = ?", err) &&
         prepare(d, &d->collection_id, "SELECT id, profile FROM collection WHERE accession = ?", err) &&
         prepare(d, &d->individual_id,
                 "SELECT i.id FROM individual i JOIN collection c ON c.id = i.collection_id "
                 "WHERE i.accession = ? AND c.accession = ?",
                 err) &&
         prepare(d, &d->next_counter, "SELECT next FROM counter WHERE kind = ?", err) &&
         prepare(d, &d->bump_counter, "UPDATE counter SET next = next + 1 WHERE kind = ?", err) &&
         prepare(d, &d->add_individual,
                 "INSERT INTO individual (accession, collection_id, created) VALUES (?, ?, ?)", err) &&
         prepare(d, &d->add_collection,
                 "INSERT INTO collection (accession, title, description, keywords, submitter, "
                 "access, disease, bioproject, profile, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                 "?, ?)",
                 err) &&
         prepare(d, &d->individual_sex,
                 "UPDATE individual SET sex = ? WHERE id = ? AND sex IS NULL", err) &&
         prepare(d, &d->individual_age,
                 "UPDATE individual SET age = ? WHERE id = ? AND (age IS NULL OR age > ?)", err);
    if (!ok) {
        be_close(d);
        return NULL;
    }
    *version = v;
    return d;
}

static bool be_begin(void *p, obia_error *err)
{
    return exec(p, "BEGIN IMMEDIATE", err);
}

static bool be_commit(void *p, obia_error *err)
{
    return exec(p, "COMMIT", err);
}

static void be_rollback(void *p)
{
    db *d = p;
    sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* The next number of an accession kind, taken (in the caller's transaction). */
static bool take_number(db *d, const char *kind, long long *n, obia_error *err)
{
    sqlite3_reset(d->next_counter);
    sqlite3_bind_text(d->next_counter, 1, kind, -1, SQLITE_STATIC);
    if (sqlite3_step(d->next_counter) != SQLITE_ROW) {
        sqlite3_reset(d->next_counter);
        return fail(d, err, "cannot allocate an accession");
    }
    *n = sqlite3_column_int64(d->next_counter, 0);
    sqlite3_reset(d->next_counter);
    sqlite3_reset(d->bump_counter);
    sqlite3_bind_text(d->bump_counter, 1, kind, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(d->bump_counter) == SQLITE_DONE;
    sqlite3_reset(d->bump_counter);
    return ok || fail(d, err, "cannot allocate an accession");
}

static bool be_collection_create(void *p, const obia_collection_info *in, char accession[16],
                                 obia_error *err)
{
    db *d = p;
    long long n;
    char now[32];
    now_iso(now);
    if (!exec(d, "BEGIN IMMEDIATE", err))
        return false;
    bool ok = take_number(d, "collection", &n, err);
    if (ok) {
        snprintf(accession, 16, "OBIA%04lld", n);
        sqlite3_stmt *st = d->add_collection;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        bind_text(st, 1, accession);
        bind_text(st, 2, in->title);
        bind_text(st, 3, in->description);
        bind_text(st, 4, in->keywords);
        bind_text(st, 5, in->submitter);
        bind_text(st, 6, in->access ? in->access : "open");
        bind_text(st, 7, in->disease);
        bind_text(st, 8, in->bioproject);
        bind_text(st, 9, in->profile ? in->profile : "obia");
        bind_text(st, 10, now);
        ok = sqlite3_step(st) == SQLITE_DONE || fail(d, err, "cannot add the collection");
        sqlite3_reset(st);
    }
    if (ok)
        return exec(d, "COMMIT", err);
    be_rollback(d);
    return false;
}

static bool collection_row(db *d, const char *accession, long long *id, char profile[16],
                           obia_error *err)
{
    sqlite3_reset(d->collection_id);
    sqlite3_bind_text(d->collection_id, 1, accession, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(d->collection_id);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(d->collection_id, 0);
        if (profile)
            snprintf(profile, 16, "%s", (const char *)sqlite3_column_text(d->collection_id, 1));
    }
    sqlite3_reset(d->collection_id);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return obia_error_set(err, OBIA_E_NOTFOUND, "no collection %s", accession);
    return fail(d, err, "cannot read collections");
}

static bool be_collection_profile(void *p, const char *accession, char profile[16],
                                  obia_error *err)
{
    long long id;
    return collection_row(p, accession, &id, profile, err);
}

static bool be_individual_new(void *p, const char *collection, char accession[16], obia_error *err)
{
    db *d = p;
    long long cid = 0, n = 0;
    char now[32];
    now_iso(now);
    if (!collection_row(d, collection, &cid, NULL, err) || !take_number(d, "individual", &n, err))
        return false;
    snprintf(accession, 16, "I%06lld", n);
    sqlite3_stmt *st = d->add_individual;
    sqlite3_reset(st);
    bind_text(st, 1, accession);
    sqlite3_bind_int64(st, 2, cid);
    bind_text(st, 3, now);
    bool ok = sqlite3_step(st) == SQLITE_DONE || fail(d, err, "cannot add an individual");
    sqlite3_reset(st);
    return ok;
}

/* Whole years of a DICOM age string (045Y), or -1. */
static int age_years(const char *as)
{
    if (!as || strlen(as) < 4)
        return -1;
    int n = atoi(as);
    switch (as[3]) {
    case 'Y': return n;
    case 'M': return n / 12;
    case 'W': return n / 52;
    case 'D': return n / 365;
    default: return -1;
    }
}

/* Whether two fingerprints disagree (both known and different). */
static bool differ(const char *a, const char *b)
{
    return a && *a && b && *b && strcmp(a, b) != 0;
}

/* Add an image, or with write false only say what adding it would do
 * (with no object_hash yet, an instance already there gives DUPLICATE and
 * its hash in existing_hash). */
static bool add_or_check(db *d, const obia_catalog_image *im, obia_catalog_added *added,
                         bool write, char existing_hash[65], obia_error *err)
{
    /* look everything up before writing anything */
    sqlite3_reset(d->find_image);
    sqlite3_bind_text(d->find_image, 1, im->sop_instance_uid, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(d->find_image);
    if (rc == SQLITE_ROW) {
        const char *have = (const char *)sqlite3_column_text(d->find_image, 0);
        if (existing_hash)
            snprintf(existing_hash, 65, "%s", have ? have : "");
        bool same = !im->object_hash || strcmp(have ? have : "", im->object_hash) == 0;
        sqlite3_reset(d->find_image);
        *added = same ? OBIA_CATALOG_DUPLICATE : OBIA_CATALOG_CONFLICT;
        return true;
    }
    sqlite3_reset(d->find_image);
    if (rc != SQLITE_DONE)
        return fail(d, err, "cannot look up an image");

    /* the individual, in its collection */
    sqlite3_reset(d->individual_id);
    sqlite3_bind_text(d->individual_id, 1, im->individual, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(d->individual_id, 2, im->collection, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(d->individual_id);
    long long iid = rc == SQLITE_ROW ? sqlite3_column_int64(d->individual_id, 0) : -1;
    sqlite3_reset(d->individual_id);
    if (iid < 0)
        return obia_error_set(err, OBIA_E_NOTFOUND, "no individual %s in collection %s",
                              im->individual, im->collection);

    /* the study: of this individual, with the same patient characteristics */
    sqlite3_reset(d->find_study);
    sqlite3_bind_text(d->find_study, 1, im->study_uid, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(d->find_study);
    long long sid = -1, owner = -1;
    bool mismatch = false, new_sex_fp = false, new_birth_fp = false;
    if (rc == SQLITE_ROW) {
        sid = sqlite3_column_int64(d->find_study, 0);
        owner = sqlite3_column_int64(d->find_study, 1);
        const char *sex = (const char *)sqlite3_column_text(d->find_study, 2);
        const char *birth = (const char *)sqlite3_column_text(d->find_study, 3);
        mismatch = differ(sex, im->sex_fp) || differ(birth, im->birth_fp);
        new_sex_fp = !sex && im->sex_fp && *im->sex_fp;
        new_birth_fp = !birth && im->birth_fp && *im->birth_fp;
    }
    sqlite3_reset(d->find_study);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(d, err, "cannot look up a study");
    if (sid >= 0 && owner != iid) {
        *added = OBIA_CATALOG_OTHER_INDIVIDUAL;   /* a study cannot belong to two individuals */
        return true;
    }

    /* the series: of this study */
    sqlite3_reset(d->find_series);
    sqlite3_bind_text(d->find_series, 1, im->series_uid, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(d->find_series);
    long long serid = -1, series_study = -1, series_owner = -1;
    if (rc == SQLITE_ROW) {
        serid = sqlite3_column_int64(d->find_series, 0);
        series_study = sqlite3_column_int64(d->find_series, 1);
        series_owner = sqlite3_column_int64(d->find_series, 2);
    }
    sqlite3_reset(d->find_series);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(d, err, "cannot look up a series");
    if (serid >= 0 && series_owner != iid) {
        *added = OBIA_CATALOG_OTHER_INDIVIDUAL;
        return true;
    }
    if (serid >= 0 && series_study != sid) {
        *added = OBIA_CATALOG_SERIES_CONFLICT;
        return true;
    }
    if (mismatch && !im->accept_characteristics) {
        *added = OBIA_CATALOG_CHARACTERISTICS;
        return true;
    }
    if (!write) {
        *added = OBIA_CATALOG_ADDED;
        return true;
    }

    int years = age_years(im->age_at_study);
    if (im->sex && *im->sex) {
        sqlite3_reset(d->individual_sex);
        bind_text(d->individual_sex, 1, im->sex);
        sqlite3_bind_int64(d->individual_sex, 2, iid);
        sqlite3_step(d->individual_sex);
        sqlite3_reset(d->individual_sex);
    }
    if (years >= 0) {
        /* the individual's age: at the first study */
        sqlite3_reset(d->individual_age);
        sqlite3_bind_int(d->individual_age, 1, years);
        sqlite3_bind_int64(d->individual_age, 2, iid);
        sqlite3_bind_int(d->individual_age, 3, years);
        sqlite3_step(d->individual_age);
        sqlite3_reset(d->individual_age);
    }
    if (sid < 0) {
        long long n;
        if (!take_number(d, "study", &n, err))
            return false;
        char acc[16];
        snprintf(acc, sizeof acc, "S%08lld", n);
        sqlite3_stmt *st = d->add_study;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        bind_text(st, 1, acc);
        sqlite3_bind_int64(st, 2, iid);
        bind_text(st, 3, im->study_uid);
        bind_text(st, 4, im->study_date);
        bind_text(st, 5, im->study_description);
        bind_text(st, 6, im->age_at_study);
        if (years >= 0)
            sqlite3_bind_int(st, 7, years);
        bind_text(st, 8, im->sex_fp);
        bind_text(st, 9, im->birth_fp);
        bind_text(st, 10, im->study_time);
        bind_text(st, 11, im->accession_number);
        bind_text(st, 12, im->study_id);
        bind_text(st, 13, im->referring_physician);
        bind_text(st, 14, im->patient_name);
        bind_text(st, 15, im->patient_id);
        bind_text(st, 16, im->patient_birth_date);
        bool ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
        if (!ok)
            return fail(d, err, "cannot add a study");
        sid = sqlite3_last_insert_rowid(d->h);
    } else if (new_sex_fp || new_birth_fp) {
        /* the first image to say who the patient is sets the study's fingerprints */
        sqlite3_stmt *st = d->study_fp;
        sqlite3_reset(st);
        bind_text(st, 1, im->sex_fp);
        bind_text(st, 2, im->birth_fp);
        sqlite3_bind_int64(st, 3, sid);
        bool ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
        if (!ok)
            return fail(d, err, "cannot update a study");
    }
    if (serid < 0) {
        sqlite3_stmt *st = d->add_series;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_int64(st, 1, sid);
        bind_text(st, 2, im->series_uid);
        bind_text(st, 3, im->modality);
        bind_text(st, 4, im->body_part);
        bind_text(st, 5, im->series_description);
        sqlite3_bind_int64(st, 6, im->series_number);
        bool ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
        if (!ok)
            return fail(d, err, "cannot add a series");
        serid = sqlite3_last_insert_rowid(d->h);
    }

    char now[32];
    now_iso(now);
    sqlite3_stmt *st = d->add_image;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, serid);
    bind_text(st, 2, im->sop_class_uid);
    bind_text(st, 3, im->sop_instance_uid);
    sqlite3_bind_int64(st, 4, im->instance_number);
    bind_text(st, 5, im->object_hash);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)im->size);
    bind_text(st, 7, im->transfer_syntax);
    sqlite3_bind_int64(st, 8, im->rows);
    sqlite3_bind_int64(st, 9, im->columns);
    sqlite3_bind_int64(st, 10, im->frames);
    bind_text(st, 11, now);
    bind_text(st, 12, im->image_modality);
    bind_text(st, 13, im->frame_of_reference);
    bind_text(st, 14, im->position);
    bind_text(st, 15, im->orientation);
    sqlite3_bind_int(st, 16, im->has_instance_number);
    if (im->bits_allocated > 0)
        sqlite3_bind_int64(st, 17, im->bits_allocated);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    if (!ok)
        return fail(d, err, "cannot add an image");
    sqlite3_reset(d->bump_series);
    sqlite3_bind_int64(d->bump_series, 1, (sqlite3_int64)im->size);
    sqlite3_bind_int64(d->bump_series, 2, serid);
    ok = sqlite3_step(d->bump_series) == SQLITE_DONE;
    sqlite3_reset(d->bump_series);
    if (!ok)
        return fail(d, err, "cannot count an image");
    *added = OBIA_CATALOG_ADDED;
    return true;
}

static bool be_add_image(void *p, const obia_catalog_image *im, obia_catalog_added *added,
                         obia_error *err)
{
    if (!im->object_hash)
        return obia_error_set(err, OBIA_E_ARG, "an image needs its object's hash");
    return add_or_check(p, im, added, true, NULL, err);
}

static bool be_check_image(void *p, const obia_catalog_image *im, obia_catalog_added *added,
                           char existing_hash[65], obia_error *err)
{
    return add_or_check(p, im, added, false, existing_hash, err);
}

static const char *const clinical_columns[] = {"sex", "age", "disease", "diagnosis",
                                               "pathological_type", "medical_history",
                                               "family_history", "treatment"};

static bool be_individual_set(void *p, const char *accession, const char *name, const char *value,
                              obia_error *err)
{
    db *d = p;
    const char *column = NULL;
    for (size_t i = 0; i < sizeof clinical_columns / sizeof clinical_columns[0]; i++)
        if (strcmp(clinical_columns[i], name) == 0)
            column = clinical_columns[i];
    char sql[256];
    sqlite3_stmt *st = NULL;
    if (column)
        snprintf(sql, sizeof sql, "UPDATE individual SET %s = ? WHERE accession = ?", column);
    else if (value && *value)
        snprintf(sql, sizeof sql,
                 "INSERT INTO individual_extra (individual_id, name, value) "
                 "SELECT id, ?3, ?1 FROM individual WHERE accession = ?2 "
                 "ON CONFLICT (individual_id, name) DO UPDATE SET value = excluded.value");
    else
        snprintf(sql, sizeof sql,
                 "DELETE FROM individual_extra WHERE name = ?3 AND individual_id = "
                 "(SELECT id FROM individual WHERE accession = ?2 AND ?1 IS NULL)");
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(d, err, "cannot prepare a statement");
    if (column && strcmp(column, "age") == 0 && value && *value)
        sqlite3_bind_int(st, 1, atoi(value));
    else
        bind_text(st, 1, value);
    sqlite3_bind_text(st, 2, accession, -1, SQLITE_TRANSIENT);
    if (!column)
        sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
    bool ok = sqlite3_step(st) == SQLITE_DONE;
    int changed = sqlite3_changes(d->h);
    sqlite3_finalize(st);
    if (!ok)
        return fail(d, err, "cannot set a clinical field");
    if (column && changed == 0)
        return obia_error_set(err, OBIA_E_NOTFOUND, "no individual %s", accession);
    return true;
}

/* Run a query, handing each row to fn. */
static bool rows(db *d, sqlite3_stmt *st, obia_row_fn fn, void *ctx, bool *any, obia_error *err)
{
    const char *names[64], *values[64];
    int n = 0, rc;
    bool first = true;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (first) {
            /* the names after the first step, which may prepare the
             * statement again (for the value bound to a LIKE pattern) and
             * free those taken before */
            n = sqlite3_column_count(st);
            if (n > 64)
                n = 64;
            for (int i = 0; i < n; i++)
                names[i] = sqlite3_column_name(st, i);
            first = false;
        }
        if (any)
            *any = true;
        for (int i = 0; i < n; i++)
            values[i] = (const char *)sqlite3_column_text(st, i);
        if (!fn(ctx, n, names, values))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return obia_error_set(err, OBIA_E_IO, "catalog %s: cannot read: %s", d->path,
                              sqlite3_errmsg(sqlite3_db_handle(st)));
    return true;
}

/* The calling thread's read-only connection, opened on first use. */
static sqlite3 *reader_of(db *d, obia_error *err)
{
    reader *r = d->has_key ? pthread_getspecific(d->reader_key) : NULL;
    if (r)
        return r->h;
    sqlite3 *h = NULL;
    r = calloc(1, sizeof *r);
    pthread_mutex_lock(&d->readers_lock);
    reader **nr = r ? realloc(d->readers, (d->nreaders + 1) * sizeof *nr) : NULL;
    if (nr)
        d->readers = nr;
    if (!nr || !d->has_key ||
        sqlite3_open_v2(d->path, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        obia_error_set(err, OBIA_E_IO, "catalog %s: cannot open for reading: %s", d->path,
                       h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close(h);
        free(r);
        h = NULL;
    } else {
        sqlite3_busy_timeout(h, 30000);
        sqlite3_exec(h,
                     "PRAGMA cache_size=-16384; PRAGMA case_sensitive_like=ON; "
                     "PRAGMA automatic_index=OFF;",
                     NULL, NULL, NULL);
        r->h = h;
        r->d = d;
        d->readers[d->nreaders++] = r;
        pthread_setspecific(d->reader_key, r);
    }
    pthread_mutex_unlock(&d->readers_lock);
    return h;
}

static bool run_query(db *d, const char *sql, const char *const *params, int nparams,
                      obia_row_fn fn, void *ctx, bool *any, obia_error *err)
{
    sqlite3 *h = reader_of(d, err);
    if (!h)
        return false;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        return obia_error_set(err, OBIA_E_IO, "catalog %s: cannot prepare a query: %s", d->path,
                              sqlite3_errmsg(h));
    for (int i = 0; i < nparams; i++)
        bind_text(st, i + 1, params[i]);
    bool ok = rows(d, st, fn, ctx, any, err);
    sqlite3_finalize(st);
    return ok;
}

static bool be_collections(void *p, obia_row_fn fn, void *ctx, obia_error *err)
{
    static const char sql[] =
        "SELECT c.accession, c.title, c.access, c.status, c.disease, c.profile, c.created, "
        "(SELECT COUNT(*) FROM individual i WHERE i.collection_id = c.id) AS individuals, "
        "(SELECT COUNT(*) FROM study s JOIN individual i ON i.id = s.individual_id "
        " WHERE i.collection_id = c.id) AS studies, "
        "(SELECT COUNT(*) FROM series r JOIN study s ON s.id = r.study_id JOIN individual i ON "
        " i.id = s.individual_id WHERE i.collection_id = c.id) AS series, "
        "(SELECT COALESCE(SUM(r.images), 0) FROM series r JOIN study s ON s.id = r.study_id JOIN "
        " individual i ON i.id = s.individual_id WHERE i.collection_id = c.id) AS images "
        "FROM collection c ORDER BY c.id";
    return run_query(p, sql, NULL, 0, fn, ctx, NULL, err);
}

static bool be_show(void *p, const char *key, obia_row_fn fn, void *ctx, obia_error *err)
{
    static const struct {
        const char *sql;
    } tries[] = {
        {"SELECT 'collection' AS kind, c.*, (SELECT COUNT(*) FROM individual i WHERE "
         "i.collection_id = c.id) AS individuals FROM collection c WHERE c.accession = ?"},
        {"SELECT 'individual' AS kind, i.accession, c.accession AS collection, i.sex, i.age, "
         "i.disease, i.diagnosis, i.pathological_type, i.medical_history, i.family_history, "
         "i.treatment, i.gsa_accession, (SELECT GROUP_CONCAT(name || '=' || value, '; ') FROM "
         "individual_extra x WHERE x.individual_id = i.id) AS extra, (SELECT COUNT(*) FROM study "
         "s WHERE s.individual_id = i.id) AS studies FROM individual i JOIN collection c ON c.id "
         "= i.collection_id WHERE i.accession = ?"},
        {"SELECT 'study' AS kind, s.accession, s.study_uid, i.accession AS individual, "
         "c.accession AS collection, s.study_date, s.description, s.age_at_study, (SELECT "
         "COUNT(*) FROM series r WHERE r.study_id = s.id) AS series FROM study s JOIN individual "
         "i ON i.id = s.individual_id JOIN collection c ON c.id = i.collection_id WHERE "
         "s.accession = ? OR s.study_uid = ?1"},
        {"SELECT 'series' AS kind, r.series_uid, s.accession AS study, i.accession AS "
         "individual, c.accession AS collection, r.modality, r.body_part, r.description, "
         "r.series_number, r.images, r.bytes FROM series r JOIN study s ON s.id = r.study_id "
         "JOIN individual i ON i.id = s.individual_id JOIN collection c ON c.id = "
         "i.collection_id WHERE r.series_uid = ?"},
        {"SELECT 'image' AS kind, m.sop_instance_uid, m.sop_class_uid, r.series_uid, "
         "s.accession AS study, i.accession AS individual, c.accession AS collection, "
         "m.instance_number, m.object_hash, m.size, m.transfer_syntax, m.rows_ AS rows, "
         "m.columns_ AS columns, m.frames, m.ingested FROM image m JOIN series r ON r.id = "
         "m.series_id JOIN study s ON s.id = r.study_id JOIN individual i ON i.id = "
         "s.individual_id JOIN collection c ON c.id = i.collection_id WHERE "
         "m.sop_instance_uid = ?"},
    };
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        bool any = false;
        const char *params[1] = {key};
        if (!run_query(p, tries[i].sql, params, 1, fn, ctx, &any, err))
            return false;
        if (any)
            return true;
    }
    return obia_error_set(err, OBIA_E_NOTFOUND, "no collection, individual, study, series or image '%s'", key);
}

static bool be_exec(void *p, const char *sql, const char *const *params, int nparams,
                    long long *changes, long long *last_id, obia_error *err)
{
    db *d = p;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(d, err, "cannot prepare a statement");
    for (int i = 0; i < nparams; i++)
        bind_text(st, i + 1, params[i]);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(d, err, "cannot write");
    if (changes)
        *changes = sqlite3_changes(d->h);
    if (last_id)
        *last_id = sqlite3_last_insert_rowid(d->h);
    return true;
}

static bool be_query(void *p, bool writer, const char *sql, const char *const *params, int nparams,
                     obia_row_fn fn, void *ctx, bool *any, obia_error *err)
{
    db *d = p;
    if (!writer)
        return run_query(d, sql, params, nparams, fn, ctx, any, err);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(d, err, "cannot prepare a query");
    for (int i = 0; i < nparams; i++)
        bind_text(st, i + 1, params[i]);
    bool ok = rows(d, st, fn, ctx, any, err);
    sqlite3_finalize(st);
    return ok;
}

static bool be_in_transaction(void *p)
{
    db *d = p;
    return !sqlite3_get_autocommit(d->h);
}

const catalog_backend catalog_sqlite = {
    .name = "sqlite",
    .string_agg = "GROUP_CONCAT",
    .open = be_open,
    .close = be_close,
    .begin = be_begin,
    .commit = be_commit,
    .rollback = be_rollback,
    .collection_create = be_collection_create,
    .collection_profile = be_collection_profile,
    .individual_new = be_individual_new,
    .add_image = be_add_image,
    .check_image = be_check_image,
    .individual_set = be_individual_set,
    .collections = be_collections,
    .show = be_show,
    .exec = be_exec,
    .query = be_query,
    .in_transaction = be_in_transaction,
};
