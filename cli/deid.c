/* obia deid: de-identify files and folders into an output directory, with a
 * report that never holds an original value. */
#include "cli.h"
#include "obia/deid.h"
#include "obia/dicom.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct run {
    const char *out_dir;
    obia_deid_config cfg;
    obia_deid_keys *keys;
    FILE *report;
    cli_files list;
    char **files;             /* list.v */
    size_t nfiles;            /* list.n */
    size_t next_job;          /* next file to take */
    size_t next_line;         /* next report line to write, in input order */
    char **lines;             /* finished lines waiting for their turn */
    size_t *first_of;         /* the earliest input with the same SOP Instance UID */
    pthread_mutex_t lock;     /* guards the fields above, the keys and stderr */
    int written, flagged, errors, duplicates;
} run;

typedef struct worker {
    run *r;
    obia_buf actions;         /* JSON members of the current file's actions */
    obia_buf line;
    size_t nactions;
    char last_dir[4096];      /* directories already made */
    pthread_t thread;
} worker;

static void on_action(void *ctx, const char *path, char action)
{
    worker *w = ctx;
    if (w->nactions++)
        obia_buf_append_byte(&w->actions, ',');
    obia_buf_appendf(&w->actions, "\"%s\":\"%c\"", path, action);
}

/* The keys database is shared by the workers. */
static bool identify_locked(void *ctx, const char *issuer, const char *patient_id,
                            const char *fallback, obia_deid_identity *out, obia_error *err)
{
    run *r = ctx;
    pthread_mutex_lock(&r->lock);
    bool ok = obia_deid_keys_identify(r->keys, issuer, patient_id, fallback, out, err);
    pthread_mutex_unlock(&r->lock);
    return ok;
}

/* mkdir -p of the directories above file, unless done for the last file */
static bool make_parents(worker *w, const char *file, obia_error *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", file) >= (int)sizeof buf)
        return obia_error_set(err, OBIA_E_ARG, "output path too long");
    char *slash = strrchr(buf, '/');
    if (!slash)
        return true;
    *slash = '\0';
    if (strcmp(buf, w->last_dir) == 0)
        return true;
    *slash = '/';
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return obia_error_set(err, OBIA_E_IO, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    *slash = '\0';
    snprintf(w->last_dir, sizeof w->last_dir, "%s", buf);
    return true;
}

/* The value of a UID element as a file name component (UIDs are digits and
 * dots only; anything else is refused). */
static bool uid_component(const obia_dataset *ds, uint32_t tag, char out[65])
{
    const obia_element *el = obia_dataset_get(ds, tag);
    if (!el)
        return false;
    size_t n = obia_element_length(el);
    const uint8_t *p = obia_element_bytes(el);
    while (n && (p[n - 1] == 0 || p[n - 1] == ' '))
        n--;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || p[i] == '.'))
            return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Hand the report line of file i over; lines are written in input order. */
static void finish(worker *w, size_t i, const char *key, int *counter)
{
    run *r = w->r;
    char *line = malloc(w->line.len + 1);
    if (line) {
        memcpy(line, w->line.data, w->line.len);
        line[w->line.len] = '\0';
    }
    pthread_mutex_lock(&r->lock);
    (*counter)++;
    r->lines[i] = line ? line : strdup("");
    while (r->next_line < r->nfiles && r->lines[r->next_line]) {
        fputs(r->lines[r->next_line], r->report);
        free(r->lines[r->next_line]);
        r->lines[r->next_line] = NULL;
        r->next_line++;
    }
    pthread_mutex_unlock(&r->lock);
    (void)key;
}

static void report_line(worker *w, const char *input, const char *key, const char *value,
                        const obia_deid_result *res)
{
    obia_buf *l = &w->line;
    obia_buf_reset(l);
    obia_buf_append_str(l, "{\"input\":");
    obia_json_append(l, input);
    obia_buf_appendf(l, ",\"%s\":", key);
    obia_json_append(l, value);
    if (res && strcmp(key, "output") == 0) {
        obia_buf_append_str(l, ",\"individual\":");
        obia_json_append(l, res->identity.pseudonym);
        if (res->flagged) {
            obia_buf_append_str(l, ",\"burned_in_risk\":");
            obia_json_append(l, res->reason);
        }
        obia_buf_append_str(l, ",\"actions\":{");
        obia_buf_append(l, w->actions.data, w->actions.len);
        obia_buf_append_byte(l, '}');
    }
    obia_buf_append_str(l, "}\n");
}

static void fail_file(worker *w, size_t i, const char *path, const char *why)
{
    pthread_mutex_lock(&w->r->lock);
    fprintf(stderr, "obia deid: %s: %s\n", path, why);
    pthread_mutex_unlock(&w->r->lock);
    report_line(w, path, "error", why, NULL);
    finish(w, i, "error", &w->r->errors);
}

static void deid_one(worker *w, size_t i)
{
    run *r = w->r;
    const char *path = r->files[i];
    obia_error err;
    obia_error_clear(&err);
    if (r->first_of[i] != i) {
        /* the same instance again (the same image in another transfer
         * syntax, a copy): the first one stands */
        report_line(w, path, "duplicate", r->files[r->first_of[i]], NULL);
        finish(w, i, "duplicate", &r->duplicates);
        return;
    }
    obia_buf_reset(&w->actions);
    w->nactions = 0;
    obia_file *f = obia_file_read(path, NULL, &err);
    if (!f) {
        fail_file(w, i, path, err.message);
        return;
    }
    obia_deid_result res;
    if (!obia_deid_file(f, &r->cfg, on_action, w, &res, &err)) {
        obia_file_free(f);
        fail_file(w, i, path, err.message);
        return;
    }
    if (res.flagged && (r->cfg.options & OBIA_DEID_CLEAN_PIXEL_DATA)) {
        obia_file_free(f);
        report_line(w, path, "flagged", res.reason, NULL);
        finish(w, i, "flagged", &r->flagged);
        return;
    }
    const obia_dataset *ds = obia_file_dataset(f);
    char study[65], series[65], inst[65];
    if (!uid_component(ds, OBIA_TAG(0x0008, 0x0018), inst)) {
        const char *why = obia_dataset_get(ds, OBIA_TAG(0x0004, 0x1220))
                              ? "a DICOMDIR lists files and is not de-identified itself"
                              : "no SOP Instance UID: not a stored DICOM instance";
        obia_file_free(f);
        fail_file(w, i, path, why);
        return;
    }
    /* objects outside any study (palettes, hanging protocols) */
    if (!uid_component(ds, OBIA_TAG(0x0020, 0x000D), study))
        snprintf(study, sizeof study, "no-study");
    if (!uid_component(ds, OBIA_TAG(0x0020, 0x000E), series))
        snprintf(series, sizeof series, "no-series");
    char rel[512], full[4096];
    snprintf(rel, sizeof rel, "%s/%s/%s/%s.dcm", res.identity.pseudonym, study, series, inst);
    snprintf(full, sizeof full, "%s/%s", r->out_dir, rel);
    bool ok = make_parents(w, full, &err) &&
              obia_file_write_path_sync(f, OBIA_WRITE_EXPLICIT_LE, full, false, &err);
    obia_file_free(f);
    if (!ok) {
        fail_file(w, i, path, err.message);
        return;
    }
    report_line(w, path, "output", rel, &res);
    finish(w, i, "output", &r->written);
}

static void *work(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        size_t i = r->next_job < r->nfiles ? r->next_job++ : r->nfiles;
        pthread_mutex_unlock(&r->lock);
        if (i >= r->nfiles)
            return NULL;
        deid_one(w, i);
    }
}

/* Inputs holding an instance already seen, by its SOP Instance UID, read
 * from each header: the first in input order is de-identified, the others
 * reported as its duplicates, whatever the order the workers finish in. */
typedef struct uid_index {
    char *uid;
    size_t index;
} uid_index;

static int uid_index_cmp(const void *a, const void *b)
{
    const uid_index *x = a, *y = b;
    int c = strcmp(x->uid, y->uid);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static bool find_duplicates(run *r)
{
    r->first_of = malloc((r->nfiles ? r->nfiles : 1) * sizeof *r->first_of);
    uid_index *ix = malloc((r->nfiles ? r->nfiles : 1) * sizeof *ix);
    if (!r->first_of || !ix) {
        free(ix);
        return false;
    }
    obia_read_options opt;
    obia_read_options_init(&opt);
    opt.header_only = true;
    obia_buf uid;
    obia_buf_init(&uid, 1u << 10);
    size_t n = 0;
    for (size_t i = 0; i < r->nfiles; i++) {
        r->first_of[i] = i;
        obia_error err;
        obia_file *f = obia_file_read(r->files[i], &opt, &err);
        if (!f)
            continue;   /* its error is reported by the main pass */
        const char *u = obia_dataset_get_cstr(obia_file_dataset(f), OBIA_TAG(0x0008, 0x0018), &uid);
        if (u && *u && (ix[n].uid = strdup(u)) != NULL)
            ix[n++].index = i;
        obia_file_free(f);
    }
    obia_buf_free(&uid);
    qsort(ix, n, sizeof *ix, uid_index_cmp);
    for (size_t k = 1; k < n; k++)
        if (strcmp(ix[k].uid, ix[k - 1].uid) == 0)
            r->first_of[ix[k].index] = r->first_of[ix[k - 1].index];
    for (size_t k = 0; k < n; k++)
        free(ix[k].uid);
    free(ix);
    return true;
}

int cmd_deid(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    obia_deid_config_init(&r.cfg);
    const char *keys_path = "obia-keys.db", *report_path = NULL;
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned on = 0, off = 0;
    int first = 1;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        bool takes = strcmp(a, "--out") == 0 || strcmp(a, "--keys") == 0 ||
                     strcmp(a, "--profile") == 0 || strcmp(a, "--option") == 0 ||
                     strcmp(a, "--no-option") == 0 || strcmp(a, "--report") == 0 ||
                     strcmp(a, "--jobs") == 0;
        if (!takes)
            return cli_usage_error("deid", "unknown option '%s'", a);
        const char *val = cli_option_value("deid", a, argc, argv, &first);
        if (!val)
            return 2;
        if (strcmp(a, "--out") == 0) {
            r.out_dir = val;
        } else if (strcmp(a, "--keys") == 0) {
            keys_path = val;
        } else if (strcmp(a, "--report") == 0) {
            report_path = val;
        } else if (strcmp(a, "--jobs") == 0) {
            char *end;
            jobs = strtol(val, &end, 10);
            if (*end || jobs < 1 || jobs > 256)
                return cli_usage_error("deid", "--jobs takes a number from 1 to 256");
        } else if (strcmp(a, "--profile") == 0) {
            if (strcmp(val, "obia") == 0)
                r.cfg.options = OBIA_DEID_PROFILE_OBIA;
            else if (strcmp(val, "basic") == 0)
                r.cfg.options = OBIA_DEID_PROFILE_BASIC;
            else
                return cli_usage_error("deid", "unknown profile '%s' (obia or basic)", val);
        } else {
            const obia_deid_option_info *o = obia_deid_option_by_name(val);
            if (!o)
                return cli_usage_error("deid", "unknown option name '%s' (see obia help deid)", val);
            if (strcmp(a, "--option") == 0)
                on |= o->bit;
            else
                off |= o->bit;
        }
    }
    if (!r.out_dir)
        return cli_usage_error("deid", "--out DIR is required");
    if (first >= argc)
        return cli_usage_error("deid", "no FILE or DIRECTORY given");
    if (on & off)
        return cli_usage_error("deid", "an option is both switched on and off");
    r.cfg.options = (r.cfg.options | on) & ~off;

    if (mkdir(r.out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "obia deid: cannot create %s: %s\n", r.out_dir, strerror(errno));
        return 1;
    }
    obia_error err;
    obia_error_clear(&err);
    obia_deid_keys *keys = obia_deid_keys_open(keys_path, &err);
    if (!keys) {
        fprintf(stderr, "obia deid: %s\n", err.message);
        return 1;
    }
    obia_deid_keys_uid_key(keys, r.cfg.uid_key);
    r.keys = keys;
    r.cfg.identify = identify_locked;
    r.cfg.identify_ctx = &r;

    char default_report[4096];
    if (!report_path) {
        snprintf(default_report, sizeof default_report, "%s/deid-report.jsonl", r.out_dir);
        report_path = default_report;
    }
    r.report = fopen(report_path, "w");
    if (!r.report) {
        fprintf(stderr, "obia deid: cannot create %s: %s\n", report_path, strerror(errno));
        obia_deid_keys_close(keys);
        return 1;
    }
    int problems = 0;
    for (int i = first; i < argc; i++)
        problems += cli_walk("deid", argv[i], cli_files_add, &r.list);
    r.files = r.list.v;
    r.nfiles = r.list.n;
    if (r.list.failed) {
        fprintf(stderr, "obia deid: out of memory listing the files\n");
        return 1;
    }
    r.lines = calloc(r.nfiles ? r.nfiles : 1, sizeof *r.lines);
    if (!r.lines || !find_duplicates(&r)) {
        fprintf(stderr, "obia deid: out of memory\n");
        return 1;
    }
    if ((size_t)jobs > r.nfiles)
        jobs = r.nfiles ? (long)r.nfiles : 1;
    pthread_mutex_init(&r.lock, NULL);
    worker *workers = calloc((size_t)jobs, sizeof *workers);
    long started = 0;
    for (long j = 0; workers && j < jobs; j++) {
        workers[j].r = &r;
        obia_buf_init(&workers[j].actions, 16u << 20);
        obia_buf_init(&workers[j].line, 32u << 20);
        if (j > 0 && pthread_create(&workers[j].thread, NULL, work, &workers[j]) != 0)
            break;
        started = j + 1;
    }
    if (workers)
        work(&workers[0]);   /* the main thread works too */
    for (long j = 1; j < started; j++)
        pthread_join(workers[j].thread, NULL);
    for (long j = 0; workers && j < jobs; j++) {
        obia_buf_free(&workers[j].actions);
        obia_buf_free(&workers[j].line);
    }
    free(workers);
    pthread_mutex_destroy(&r.lock);

    /* everything written is made durable at once: the identities first, so
     * no output can name a pseudonym the keys database lacks */
    bool ok = obia_deid_keys_sync(keys, &err);
    if (!ok)
        fprintf(stderr, "obia deid: %s\n", err.message);
    bool rep_ok = fflush(r.report) == 0 && fsync(fileno(r.report)) == 0;
    rep_ok = (fclose(r.report) == 0) && rep_ok;
    if (!rep_ok)
        fprintf(stderr, "obia deid: cannot write %s: %s\n", report_path, strerror(errno));
    int dfd = open(r.out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || syncfs(dfd) != 0) {
        fprintf(stderr, "obia deid: cannot sync %s: %s\n", r.out_dir, strerror(errno));
        ok = false;
    }
    if (dfd >= 0)
        close(dfd);
    ok = ok && rep_ok;
    cli_files_free(&r.list);
    free(r.lines);
    free(r.first_of);
    obia_deid_keys_close(keys);
    fprintf(stderr, "obia deid: %d written, %d flagged, %d duplicates, %d failed; report %s\n",
            r.written, r.flagged, r.duplicates, r.errors + problems, report_path);
    return (r.errors || problems || !ok) ? 1 : 0;
}
