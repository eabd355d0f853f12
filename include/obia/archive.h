/*
 * An archive on disk: one directory holding
 *
 *   obia.conf     the configuration (INI), every key declared in one table
 *   catalog.db    the catalog of collections, individuals, studies, series, images
 *   keys.db       the keys database (mode 0600): UID key, identity map, date offsets
 *   store/        the primary root of the object store; replicas are named in obia.conf
 *   quarantine/   files set aside by ingest, with their reasons
 *   logs/         per-run outcome logs of ingest
 *
 * obia_archive_open() reads and checks the configuration; the parts (store,
 * catalog, keys) are opened by whoever needs them, from the paths given here.
 */
#ifndef OBIA_ARCHIVE_H
#define OBIA_ARCHIVE_H

#include "obia/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- configuration ---------------------------------------------------------- */

typedef enum obia_conf_type {
    OBIA_CONF_STRING,
    OBIA_CONF_INT,       /* decimal, within [min, max] */
    OBIA_CONF_BOOL,      /* true/false, yes/no, on/off, 1/0 */
    OBIA_CONF_CHOICE,    /* one of the words in choices, separated by '|' */
    OBIA_CONF_PATHS,     /* comma-separated directories; relative to the archive */
} obia_conf_type;

typedef struct obia_conf_key {
    const char *section;
    const char *name;
    obia_conf_type type;
    const char *default_value;
    long long min, max;          /* OBIA_CONF_INT */
    const char *choices;         /* OBIA_CONF_CHOICE */
    const char *help;
} obia_conf_key;

/* Every key the configuration may hold, in the order of obia.conf. */
const obia_conf_key *obia_conf_keys(size_t *count);

typedef struct obia_config obia_config;

/* Read path: an unknown section or key, a bad value or a malformed line is
 * an error naming the file, line and key. Keys left out take their default. */
obia_config *obia_config_load(const char *path, obia_error *err);
/* The defaults alone. */
obia_config *obia_config_defaults(obia_error *err);
void obia_config_free(obia_config *c);

const char *obia_config_string(const obia_config *c, const char *section, const char *name);
long long obia_config_int(const obia_config *c, const char *section, const char *name);
bool obia_config_bool(const obia_config *c, const char *section, const char *name);
/* Whether the value was set in the file (not the default). */
bool obia_config_is_set(const obia_config *c, const char *section, const char *name);

/* Write the whole configuration as INI, every key with its help as a comment. */
bool obia_config_write(const obia_config *c, FILE *out);

/* ---- the archive --------------------------------------------------------------- */

typedef struct obia_archive obia_archive;

/* Create an archive in dir (created if missing; refused if it already holds
 * an obia.conf): the layout above, a default obia.conf, an empty catalog and
 * keys database. */
bool obia_archive_init(const char *dir, obia_error *err);
obia_archive *obia_archive_open(const char *dir, obia_error *err);
void obia_archive_close(obia_archive *a);

const obia_config *obia_archive_config(const obia_archive *a);
const char *obia_archive_dir(const obia_archive *a);
/* dir/name, in buf; NULL if it does not fit. */
const char *obia_archive_file(const obia_archive *a, const char *name, char *buf, size_t cap);
/* The replica roots of the object store, resolved against the archive
 * directory; *count set. Valid while the archive is open. */
const char *const *obia_archive_replicas(const obia_archive *a, size_t *count);

/* The archive directory a command works on: --archive DIR, else
 * $OBIA_ARCHIVE, else ./obia-archive. */
const char *obia_archive_default_dir(const char *option);

#endif
