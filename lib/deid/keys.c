/* The keys database of the standalone de-identifier: an SQLite file, mode
 * 0600, with the secret UID key, the identity map and each individual's
 * date offset. */
#include "obia/deid.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct obia_deid_keys {
    sqlite3 *db;
    sqlite3_stmt *find;
    sqlite3_stmt *insert;
    uint8_t uid_key[32];
    uint8_t hash_key[32];       /* derived from uid_key: the key of obia_deid_keys_hash */
    char path[4096];
};

/* Individuals are known within a scope: a collection of the archive, or ""
 * for the standalone de-identifier. */
#define INDIVIDUAL_TABLE                                                                       \
    "CREATE TABLE IF NOT EXISTS individual ("                                                  \
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"                                                  \
    "  scope TEXT NOT NULL DEFAULT '',"                                                        \
    "  issuer TEXT NOT NULL,"                                                                  \
    "  patient_key TEXT NOT NULL,"                                                             \
    "  pseudonym TEXT NOT NULL,"                                                               \
    "  date_offset_days INTEGER NOT NULL,"                                                     \
    "  UNIQUE (scope, issuer, patient_key), UNIQUE (scope, pseudonym));"

/* known: keyed hashes of original identifiers, names and (per individual)
 * dates, for the PHI review report; source: the input path of a
 * quarantined file kept without bytes, by a random reference. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS secret (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    INDIVIDUAL_TABLE
    "CREATE TABLE IF NOT EXISTS known (hash BLOB PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS source (ref TEXT PRIMARY KEY, path TEXT NOT NULL);";

/* The first keys databases had no scope: move their rows into scope "". */
static const char migrate_scope[] =
    "BEGIN IMMEDIATE;"
    "ALTER TABLE individual RENAME TO individual_v1;"
    INDIVIDUAL_TABLE
    "INSERT INTO individual (id, scope, issuer, patient_key, pseudonym, date_offset_days)"
    "  SELECT id, '', issuer, patient_key, pseudonym, date_offset_days FROM individual_v1;"
    "DROP TABLE individual_v1;"
    "COMMIT;";

static bool db_error(obia_deid_keys *k, obia_error *err, const char *what)
{
    return obia_error_set(err, OBIA_E_IO, "keys database %s: %s: %s", k->path, what,
                          sqlite3_errmsg(k->db));
}

obia_deid_keys *obia_deid_keys_open(const char *path, obia_error *err)
{
    if (sodium_init() < 0) {
        obia_error_set(err, OBIA_E_IO, "cannot initialise libsodium");
        return NULL;
    }
    /* create it owner-only before SQLite touches it */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        obia_error_set(err, OBIA_E_IO, "keys database %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
        close(fd);
        obia_error_set(err, OBIA_E_ARG,
                       "keys database %s is readable by others (mode %03o); chmod 600 it",
                       path, (unsigned)(st.st_mode & 0777));
        return NULL;
    }
    close(fd);

    obia_deid_keys *k = calloc(1, sizeof *k);
    if (!k) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(k->path, sizeof k->path, "%s", path);
    if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        db_error(k, err, "cannot open");
        obia_deid_keys_close(k);
        return NULL;
    }
    sqlite3_busy_timeout(k->db, 10000);
    char *msg = NULL;
    /* each new individual is committed on its own (a crash of the process
     * loses none); obia_deid_keys_sync() makes them durable */
    if (sqlite3_exec(k->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(k->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        obia_error_set(err, OBIA_E_IO, "keys database %s: not an obia keys database: %s", path,
                       msg ? msg : sqlite3_errmsg(k->db));
        sqlite3_free(msg);
        obia_deid_keys_close(k);
        return NULL;
    }
    sqlite3_stmt *cols = NULL;
    bool has_scope = false;
    if (sqlite3_prepare_v2(k->db, "SELECT 1 FROM pragma_table_info('individual') WHERE name = 'scope'",
                           -1, &cols, NULL) == SQLITE_OK)
        has_scope = sqlite3_step(cols) == SQLITE_ROW;
    sqlite3_finalize(cols);
    if (!has_scope && sqlite3_exec(k->db, migrate_scope, NULL, NULL, NULL) != SQLITE_OK) {
        db_error(k, err, "cannot update its schema");
        sqlite3_exec(k->db, "ROLLBACK", NULL, NULL, NULL);
        obia_deid_keys_close(k);
        return NULL;
    }
    /* the UID key: made once, random */
    sqlite3_stmt *st_key = NULL;
    bool ok = sqlite3_prepare_v2(k->db, "SELECT value FROM secret WHERE name = 'uid_key'", -1,
                                 &st_key, NULL) == SQLITE_OK;
    int rc = ok ? sqlite3_step(st_key) : SQLITE_ERROR;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st_key, 0) == 32) {
        memcpy(k->uid_key, sqlite3_column_blob(st_key, 0), 32);
    } else if (rc == SQLITE_DONE) {
        randombytes_buf(k->uid_key, sizeof k->uid_key);
        sqlite3_stmt *ins = NULL;
        ok = sqlite3_prepare_v2(k->db, "INSERT INTO secret (name, value) VALUES ('uid_key', ?)",
                                -1, &ins, NULL) == SQLITE_OK &&
             sqlite3_bind_blob(ins, 1, k->uid_key, 32, SQLITE_STATIC) == SQLITE_OK &&
             sqlite3_step(ins) == SQLITE_DONE;
        sqlite3_finalize(ins);
    } else {
        ok = false;
    }
    sqlite3_finalize(st_key);
    crypto_generichash(k->hash_key, sizeof k->hash_key, (const unsigned char *)"obia known values",
                       17, k->uid_key, sizeof k->uid_key);
    ok = ok &&
         sqlite3_prepare_v2(k->db,
                            "SELECT pseudonym, date_offset_days FROM individual "
                            "WHERE scope = ? AND issuer = ? AND patient_key = ?",
                            -1, &k->find, NULL) == SQLITE_OK &&
         sqlite3_prepare_v2(k->db,
                            "INSERT INTO individual (scope, issuer, patient_key, pseudonym, "
                            "date_offset_days) VALUES (?, ?, ?, IFNULL(?, printf('I%06d', "
                            "(SELECT IFNULL(MAX(id), 0) + 1 FROM individual))), ?) "
                            "RETURNING pseudonym",
                            -1, &k->insert, NULL) == SQLITE_OK;
    if (!ok) {
        db_error(k, err, "cannot read its keys");
        obia_deid_keys_close(k);
        return NULL;
    }
    return k;
}

void obia_deid_keys_close(obia_deid_keys *k)
{
    if (!k)
        return;
    sqlite3_finalize(k->find);
    sqlite3_finalize(k->insert);
    sqlite3_close(k->db);
    sodium_memzero(k->uid_key, sizeof k->uid_key);
    sodium_memzero(k->hash_key, sizeof k->hash_key);
    free(k);
}

bool obia_deid_keys_sync(obia_deid_keys *k, obia_error *err)
{
    /* a checkpoint writes the log into the database and syncs it */
    if (sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_FULL, NULL, NULL) != SQLITE_OK)
        return db_error(k, err, "cannot write to disk");
    return true;
}

void obia_deid_keys_uid_key(const obia_deid_keys *k, uint8_t key[32])
{
    memcpy(key, k->uid_key, 32);
}

/* A date offset for a new individual: a whole number of days between one
 * and ten years back, never 0. */
static int32_t new_offset(void)
{
    return -(int32_t)(365 + randombytes_uniform(3288));
}

/* The patient's key in the database: the Patient ID, or the study when
 * there is none (one unidentified study, one individual). */
static const char *patient_key(const char *patient_id, const char *fallback, char *buf, size_t cap)
{
    if (patient_id && *patient_id)
        return patient_id;
    snprintf(buf, cap, "\x01study:%s", fallback ? fallback : "");
    return buf;
}

bool obia_deid_keys_find(obia_deid_keys *k, const char *scope, const char *issuer,
                         const char *patient_id, const char *key_fallback,
                         obia_deid_identity *out, bool *found, obia_error *err)
{
    char buf[160];
    const char *key = patient_key(patient_id, key_fallback, buf, sizeof buf);
    if (!issuer) {
        /* any issuer: the patient must be known under one only */
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(k->db,
                               "SELECT pseudonym, date_offset_days FROM individual "
                               "WHERE scope = ? AND patient_key = ? LIMIT 2",
                               -1, &st, NULL) != SQLITE_OK)
            return db_error(k, err, "cannot look up an individual");
        sqlite3_bind_text(st, 1, scope ? scope : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st), rows = 0;
        for (; rc == SQLITE_ROW; rc = sqlite3_step(st), rows++)
            if (rows == 0) {
                snprintf(out->pseudonym, sizeof out->pseudonym, "%s",
                         (const char *)sqlite3_column_text(st, 0));
                out->date_offset_days = sqlite3_column_int(st, 1);
            }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return db_error(k, err, "cannot look up an individual");
        if (rows > 1)
            return obia_error_set(err, OBIA_E_ARG,
                                  "patient ID %s is known under several issuers: say which", key);
        *found = rows == 1;
        return true;
    }
    sqlite3_reset(k->find);
    sqlite3_bind_text(k->find, 1, scope ? scope : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(k->find, 2, issuer ? issuer : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(k->find, 3, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(k->find);
    *found = rc == SQLITE_ROW;
    if (*found) {
        snprintf(out->pseudonym, sizeof out->pseudonym, "%s",
                 (const char *)sqlite3_column_text(k->find, 0));
        out->date_offset_days = sqlite3_column_int(k->find, 1);
    }
    sqlite3_reset(k->find);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(k, err, "cannot look up an individual");
    return true;
}

bool obia_deid_keys_add(obia_deid_keys *k, const char *scope, const char *issuer,
                        const char *patient_id, const char *key_fallback, const char *pseudonym,
                        obia_deid_identity *out, obia_error *err)
{
    char buf[160];
    const char *key = patient_key(patient_id, key_fallback, buf, sizeof buf);
    int32_t off = new_offset();
    sqlite3_reset(k->insert);
    sqlite3_bind_text(k->insert, 1, scope ? scope : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(k->insert, 2, issuer ? issuer : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(k->insert, 3, key, -1, SQLITE_TRANSIENT);
    if (pseudonym)
        sqlite3_bind_text(k->insert, 4, pseudonym, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(k->insert, 4);
    sqlite3_bind_int(k->insert, 5, off);
    int rc = sqlite3_step(k->insert);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(k->insert);
        return db_error(k, err, "cannot add an individual");
    }
    snprintf(out->pseudonym, sizeof out->pseudonym, "%s",
             (const char *)sqlite3_column_text(k->insert, 0));
    out->date_offset_days = off;
    sqlite3_step(k->insert);
    sqlite3_reset(k->insert);
    return true;
}

bool obia_deid_keys_identify(void *ctx, const char *issuer, const char *patient_id,
                             const char *key_fallback, obia_deid_identity *out, obia_error *err)
{
    obia_deid_keys *k = ctx;
    bool found;
    if (!obia_deid_keys_find(k, "", issuer, patient_id, key_fallback, out, &found, err))
        return false;
    return found || obia_deid_keys_add(k, "", issuer, patient_id, key_fallback, NULL, out, err);
}

/* ---- known values ------------------------------------------------------------------ */

void obia_deid_keys_hash(const obia_deid_keys *k, const char *context, const char *value,
                         size_t len, uint8_t out[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, k->hash_key, sizeof k->hash_key, 16);
    if (context && *context) {
        crypto_generichash_update(&st, (const unsigned char *)context, strlen(context));
        crypto_generichash_update(&st, (const unsigned char *)"\x1f", 1);
    }
    unsigned char buf[256];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)value[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (unsigned char)(ch - 'a' + 'A');
        else if (ch < 0x80 && !((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            continue;
        buf[n++] = ch;
        if (n == sizeof buf) {
            crypto_generichash_update(&st, buf, n);
            n = 0;
        }
    }
    crypto_generichash_update(&st, buf, n);
    crypto_generichash_final(&st, out, 16);
}

bool obia_deid_keys_remember(obia_deid_keys *k, const uint8_t (*hashes)[16], size_t n,
                             obia_error *err)
{
    if (n == 0)
        return true;
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_exec(k->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
              sqlite3_prepare_v2(k->db, "INSERT OR IGNORE INTO known (hash) VALUES (?)", -1, &st,
                                 NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_blob(st, 1, hashes[i], 16, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (ok && sqlite3_exec(k->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return true;
    db_error(k, err, "cannot record known values");
    sqlite3_exec(k->db, "ROLLBACK", NULL, NULL, NULL);
    return false;
}

bool obia_deid_keys_known(obia_deid_keys *k, void (*fn)(void *ctx, const uint8_t hash[16]),
                          void *ctx, obia_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(k->db, "SELECT hash FROM known", -1, &st, NULL) != SQLITE_OK)
        return db_error(k, err, "cannot read known values");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (sqlite3_column_bytes(st, 0) == 16)
            fn(ctx, sqlite3_column_blob(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || db_error(k, err, "cannot read known values");
}

/* ---- sources of quarantined files ------------------------------------------------------ */

bool obia_deid_keys_source_put(obia_deid_keys *k, const char *path, char ref[33],
                               obia_error *err)
{
    uint8_t r[16];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(ref, 33, r, sizeof r);
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(k->db, "INSERT INTO source (ref, path) VALUES (?, ?)", -1, &st,
                                 NULL) == SQLITE_OK &&
              sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
              sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok || db_error(k, err, "cannot record a source path");
}

bool obia_deid_keys_source_get(obia_deid_keys *k, const char *ref, char *path, size_t cap,
                               obia_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(k->db, "SELECT path FROM source WHERE ref = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return db_error(k, err, "cannot read a source path");
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(path, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return obia_error_set(err, OBIA_E_NOTFOUND, "the keys database %s has no source %s",
                              k->path, ref);
    return db_error(k, err, "cannot read a source path");
}

bool obia_deid_keys_source_drop(obia_deid_keys *k, const char *ref, obia_error *err)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(k->db, "DELETE FROM source WHERE ref = ?", -1, &st, NULL) ==
                  SQLITE_OK &&
              sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    return ok || db_error(k, err, "cannot forget a source path");
}
