/* The archive's configuration: one table declares every key (its type,
 * default and help); loading, checking, `obia config show` and the default
 * obia.conf all come from it. */
#include "obia/archive.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const obia_conf_key keys[] = {
    {"archive", "name", OBIA_CONF_STRING, "obia archive", 0, 0, NULL,
     "A name for this archive, shown by the commands and the web site."},
    {"store", "replicas", OBIA_CONF_PATHS, "", 0, 0, NULL,
     "Directories holding a copy of every stored object, comma-separated (relative paths are "
     "relative to the archive). Put them on physically separate disks. Each must exist: a "
     "missing one (an unmounted disk) stops every write. An object is acknowledged only once "
     "it is durable in the store and in every replica."},
    {"ingest", "jobs", OBIA_CONF_INT, "0", 0, 256, NULL,
     "Files processed at once by obia ingest; 0 means one per processor."},
    {"ingest", "batch", OBIA_CONF_INT, "256", 1, 100000, NULL,
     "Images committed to the catalog in one transaction."},
    {"ingest", "max_file_size", OBIA_CONF_INT, "4294967296", 1024, 68719476736LL, NULL,
     "Largest file ingest accepts, in bytes; larger files are quarantined."},
    {"ingest", "thumbnail_size", OBIA_CONF_INT, "256", 0, 4096, NULL,
     "Longest side, in pixels, of the series thumbnails made by ingest (from each series' "
     "middle image); 0 makes none."},
    {"deid", "profile", OBIA_CONF_CHOICE, "obia", 0, 0, "obia|basic|none",
     "De-identification profile of new collections: obia (PS3.15 Annex E with the six options "
     "of the OBIA paper), basic (the Basic Profile alone) or none (the submitter "
     "de-identified the data: obia only checks it)."},
    {"server", "listen", OBIA_CONF_STRING, "127.0.0.1:8080", 0, 0, NULL,
     "Address and port obia serve listens on: an IPv4 address, or an IPv6 one in brackets "
     "([::1]:8080). The default is reachable from this machine only."},
    {"server", "access", OBIA_CONF_CHOICE, "public", 0, 0, "public|all",
     "What the server shows: public (visible series of released collections; no uploads) or "
     "all (everything the archive holds, and STOW-RS uploads) -- for a trusted network only."},
    {"server", "upload_collection", OBIA_CONF_STRING, "", 0, 0, NULL,
     "Collection (accession) STOW-RS uploads go to when the request names none "
     "(?collection=OBIA0001); empty: the request must name one."},
    {"server", "web", OBIA_CONF_STRING, "", 0, 0, NULL,
     "Directory of the web site's static files, served at /; empty: the one obia was built "
     "with."},
    {"server", "access_log", OBIA_CONF_STRING, "logs/access.log", 0, 0, NULL,
     "Access log, one line per request (time, client, method, target, status, bytes, "
     "duration); relative to the archive; - for standard error; empty for none."},
    {"server", "max_connections", OBIA_CONF_INT, "256", 1, 65536, NULL,
     "Connections served at once (a thread each); more wait to be accepted."},
    {"server", "timeout", OBIA_CONF_INT, "60", 1, 86400, NULL,
     "Seconds a connection may stay idle (between requests, or within a slow one) before it "
     "is closed."},
    {"server", "max_header", OBIA_CONF_INT, "32768", 4096, 1048576, NULL,
     "Bytes a request's line and headers may take; larger requests get 431 or 414."},
    {"server", "max_url", OBIA_CONF_INT, "8192", 256, 1048576, NULL,
     "Longest request target (path and query) in bytes; longer ones get 414."},
    {"server", "max_body", OBIA_CONF_INT, "17179869184", 0, 1099511627776LL, NULL,
     "Largest request body in bytes (STOW-RS uploads are read as a stream, one instance in "
     "memory at a time); larger ones get 413."},
    {"server", "max_instance", OBIA_CONF_INT, "1073741824", 1024, 68719476736LL, NULL,
     "Largest instance in an upload, in bytes (held in memory while it is ingested)."},
    {"server", "upload_memory", OBIA_CONF_INT, "4294967296", 1024, 1099511627776LL, NULL,
     "Bytes of uploaded instances all uploads together may hold in memory; a part beyond it "
     "fails (A700) and can be sent again."},
    {"server", "max_results", OBIA_CONF_INT, "1000", 1, 1000000, NULL,
     "Most results one search (QIDO-RS or /api/search) returns; more are had by offset."},
    {"server", "gzip", OBIA_CONF_BOOL, "true", 0, 0, NULL,
     "Compress JSON responses for clients that accept gzip."},
    {"server", "tls_cert", OBIA_CONF_STRING, "", 0, 0, NULL,
     "PEM certificate (chain) for HTTPS; with tls_key, the server speaks only HTTPS."},
    {"server", "tls_key", OBIA_CONF_STRING, "", 0, 0, NULL, "PEM private key for HTTPS."},
    {"server", "shutdown_timeout", OBIA_CONF_INT, "120", 0, 86400, NULL,
     "Seconds obia serve waits, after SIGTERM, for requests in flight (uploads) to finish."},
};

#define NKEYS (sizeof keys / sizeof keys[0])

const obia_conf_key *obia_conf_keys(size_t *count)
{
    *count = NKEYS;
    return keys;
}

struct obia_config {
    char *value[NKEYS];   /* NULL: the default */
    FILE *file;
    int lineno;           /* of the line being parsed */
    const char *path;
    obia_error *err;
    bool failed;
    char path_buf[4096];
};

static int key_index(const char *section, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

static bool parse_int(const char *s, long long *out)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, true;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

static bool in_choices(const char *choices, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

/* Why value is not valid for key k, or NULL. */
static const char *invalid(const obia_conf_key *k, const char *value, char *why, size_t cap)
{
    long long v;
    bool b;
    switch (k->type) {
    case OBIA_CONF_INT:
        if (!parse_int(value, &v))
            return snprintf(why, cap, "'%s' is not a whole number", value), why;
        if (v < k->min || v > k->max)
            return snprintf(why, cap, "%lld is not between %lld and %lld", v, k->min, k->max), why;
        return NULL;
    case OBIA_CONF_BOOL:
        return parse_bool(value, &b) ? NULL : (snprintf(why, cap, "'%s' is not true or false", value), why);
    case OBIA_CONF_CHOICE:
        return in_choices(k->choices, value)
                   ? NULL
                   : (snprintf(why, cap, "'%s' is not one of %s", value, k->choices), why);
    case OBIA_CONF_PATHS:
        for (const char *p = value; *p; p++)
            if (*p == '\n' || *p == '\r')
                return snprintf(why, cap, "a path list is one line"), why;
        return NULL;
    case OBIA_CONF_STRING:
        return NULL;
    }
    return NULL;
}

/* Lines for inih, counted so that errors can name theirs. */
static char *read_line(char *str, int num, void *stream)
{
    obia_config *c = stream;
    char *r = fgets(str, num, c->file);
    if (r)
        c->lineno++;
    return r;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    obia_config *c = user;
    int lineno = c->lineno;
    if (c->failed)
        return 0;
    int i = key_index(section, name);
    if (i < 0) {
        bool known_section = false;
        for (size_t k = 0; k < NKEYS; k++)
            known_section |= strcmp(keys[k].section, section) == 0;
        obia_error_set(c->err, OBIA_E_ARG, "%s:%d: %s [%s] %s", c->path, lineno,
                       known_section ? "unknown key" : "unknown section", section, name);
        c->failed = true;
        return 0;
    }
    char why[256];
    if (invalid(&keys[i], value, why, sizeof why)) {
        obia_error_set(c->err, OBIA_E_ARG, "%s:%d: [%s] %s: %s", c->path, lineno, section, name,
                       why);
        c->failed = true;
        return 0;
    }
    if (c->value[i]) {
        obia_error_set(c->err, OBIA_E_ARG, "%s:%d: [%s] %s is set twice", c->path, lineno, section,
                       name);
        c->failed = true;
        return 0;
    }
    c->value[i] = strdup(value);
    if (!c->value[i]) {
        obia_error_set(c->err, OBIA_E_NOMEM, "out of memory");
        c->failed = true;
        return 0;
    }
    return 1;
}

obia_config *obia_config_defaults(obia_error *err)
{
    obia_config *c = calloc(1, sizeof *c);
    if (!c)
        obia_error_set(err, OBIA_E_NOMEM, "out of memory");
    return c;
}

obia_config *obia_config_load(const char *path, obia_error *err)
{
    obia_config *c = obia_config_defaults(err);
    if (!c)
        return NULL;
    snprintf(c->path_buf, sizeof c->path_buf, "%s", path);
    c->path = c->path_buf;
    c->err = err;
    FILE *f = fopen(path, "r");
    if (!f) {
        obia_error_set(err, OBIA_E_IO, "%s: %s", path, strerror(errno));
        obia_config_free(c);
        return NULL;
    }
    c->file = f;
    int rc = ini_parse_stream(read_line, c, on_entry, c);
    c->file = NULL;
    fclose(f);
    if (c->failed) {
        obia_config_free(c);
        return NULL;
    }
    if (rc != 0) {
        obia_error_set(err, OBIA_E_ARG, "%s:%d: not a line of INI (\"[section]\" or \"key = value\")",
                       path, rc);
        obia_config_free(c);
        return NULL;
    }
    c->err = NULL;
    return c;
}

void obia_config_free(obia_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        free(c->value[i]);
    free(c);
}

static const char *get(const obia_config *c, const char *section, const char *name)
{
    int i = key_index(section, name);
    if (i < 0)
        abort();   /* a key the code uses must be in the table: a programming error */
    return c->value[i] ? c->value[i] : keys[i].default_value;
}

const char *obia_config_string(const obia_config *c, const char *section, const char *name)
{
    return get(c, section, name);
}

long long obia_config_int(const obia_config *c, const char *section, const char *name)
{
    long long v = 0;
    parse_int(get(c, section, name), &v);
    return v;
}

bool obia_config_bool(const obia_config *c, const char *section, const char *name)
{
    bool b = false;
    parse_bool(get(c, section, name), &b);
    return b;
}

bool obia_config_is_set(const obia_config *c, const char *section, const char *name)
{
    int i = key_index(section, name);
    return i >= 0 && c->value[i] != NULL;
}

/* The help text as comment lines of at most 78 columns. */
static void write_comment(FILE *out, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t n = strlen(p);
        if (n > 76) {
            n = 76;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0)
                n = 76;
        }
        fprintf(out, "# %.*s\n", (int)n, p);
        p += n;
        while (*p == ' ')
            p++;
    }
}

bool obia_config_write(const obia_config *c, FILE *out)
{
    const char *section = NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        if (!section || strcmp(section, keys[i].section) != 0) {
            section = keys[i].section;
            fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
        }
        write_comment(out, keys[i].help);
        if (keys[i].type == OBIA_CONF_INT)
            fprintf(out, "# (a whole number from %lld to %lld; default %s)\n", keys[i].min,
                    keys[i].max, keys[i].default_value);
        else if (keys[i].type == OBIA_CONF_CHOICE)
            fprintf(out, "# (one of %s; default %s)\n", keys[i].choices, keys[i].default_value);
        fprintf(out, "%s = %s\n", keys[i].name, c->value[i] ? c->value[i] : keys[i].default_value);
    }
    return !ferror(out);
}
