/* obia deid: de-identify files and folders into an output directory, with a
 * report that never holds an original value. */
#include "cli.h"
#include "obia/deid.h"
#include "obia/dicom.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct run {
    const char *out_dir;
    obia_deid_config cfg;
    FILE *report;
    obia_buf actions;     /* JSON members of the current file's actions */
    obia_buf line;
    size_t nactions;
    int written, flagged, errors;
} run;

static void json_string(obia_buf *b, const char *s)
{
    obia_buf_append_byte(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            obia_buf_append_byte(b, '\\');
            obia_buf_append_byte(b, *p);
        } else if (*p < 0x20 || *p == 0x7F) {
            obia_buf_appendf(b, "\\u%04x", *p);
        } else {
            obia_buf_append_byte(b, *p);
        }
    }
    obia_buf_append_byte(b, '"');
}

static void on_action(void *ctx, const char *path, char action)
{
    run *r = ctx;
    if (r->nactions++)
        obia_buf_append_byte(&r->actions, ',');
    obia_buf_appendf(&r->actions, "\"%s\":\"%c\"", path, action);
}

/* mkdir -p of the directories above file */
static bool make_parents(const char *file, obia_error *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", file) >= (int)sizeof buf)
        return obia_error_set(err, OBIA_E_ARG, "output path too long");
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return obia_error_set(err, OBIA_E_IO, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
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

static void report_line(run *r, const char *input, const char *key, const char *value,
                        const obia_deid_result *res)
{
    obia_buf *l = &r->line;
    obia_buf_reset(l);
    obia_buf_append_str(l, "{\"input\":");
    json_string(l, input);
    obia_buf_appendf(l, ",\"%s\":", key);
    json_string(l, value);
    if (res && strcmp(key, "output") == 0) {
        obia_buf_append_str(l, ",\"individual\":");
        json_string(l, res->identity.pseudonym);
        if (res->flagged) {
            obia_buf_append_str(l, ",\"burned_in_risk\":");
            json_string(l, res->reason);
        }
        obia_buf_append_str(l, ",\"actions\":{");
        obia_buf_append(l, r->actions.data, r->actions.len);
        obia_buf_append_byte(l, '}');
    }
    obia_buf_append_str(l, "}\n");
    fwrite(l->data, 1, l->len, r->report);
}

static void deid_one(void *ctx, const char *path)
{
    run *r = ctx;
    obia_error err;
    obia_error_clear(&err);
    obia_buf_reset(&r->actions);
    r->nactions = 0;
    obia_file *f = obia_file_read(path, NULL, &err);
    if (!f) {
        fprintf(stderr, "obia deid: %s: %s\n", path, err.message);
        report_line(r, path, "error", err.message, NULL);
        r->errors++;
        return;
    }
    obia_deid_result res;
    if (!obia_deid_file(f, &r->cfg, on_action, r, &res, &err)) {
        fprintf(stderr, "obia deid: %s: %s\n", path, err.message);
        report_line(r, path, "error", err.message, NULL);
        r->errors++;
        obia_file_free(f);
        return;
    }
    if (res.flagged && (r->cfg.options & OBIA_DEID_CLEAN_PIXEL_DATA)) {
        report_line(r, path, "flagged", res.reason, NULL);
        r->flagged++;
        obia_file_free(f);
        return;
    }
    const obia_dataset *ds = obia_file_dataset(f);
    char study[65], series[65], inst[65];
    if (!uid_component(ds, OBIA_TAG(0x0008, 0x0018), inst)) {
        const char *why = obia_dataset_get(ds, OBIA_TAG(0x0004, 0x1220))
                              ? "a DICOMDIR lists files and is not de-identified itself"
                              : "no SOP Instance UID: not a stored DICOM instance";
        fprintf(stderr, "obia deid: %s: %s\n", path, why);
        report_line(r, path, "error", why, NULL);
        r->errors++;
        obia_file_free(f);
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
    bool ok = make_parents(full, &err) &&
              obia_file_write_path_sync(f, OBIA_WRITE_EXPLICIT_LE, full, false, &err);
    obia_file_free(f);
    if (!ok) {
        fprintf(stderr, "obia deid: %s: %s\n", path, err.message);
        report_line(r, path, "error", err.message, NULL);
        r->errors++;
        return;
    }
    report_line(r, path, "output", rel, &res);
    r->written++;
}

int cmd_deid(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    obia_deid_config_init(&r.cfg);
    const char *keys_path = "obia-keys.db", *report_path = NULL;
    unsigned on = 0, off = 0;
    int first = 1;
    for (; first < argc; first++) {
        const char *a = argv[first];
        if (strcmp(a, "--") == 0) {
            first++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        const char *val = first + 1 < argc ? argv[first + 1] : NULL;
        bool takes = strcmp(a, "--out") == 0 || strcmp(a, "--keys") == 0 ||
                     strcmp(a, "--profile") == 0 || strcmp(a, "--option") == 0 ||
                     strcmp(a, "--no-option") == 0 || strcmp(a, "--report") == 0;
        if (!takes)
            return cli_usage_error("deid", "unknown option '%s'", a);
        if (!val)
            return cli_usage_error("deid", "%s needs a value", a);
        first++;
        if (strcmp(a, "--out") == 0) {
            r.out_dir = val;
        } else if (strcmp(a, "--keys") == 0) {
            keys_path = val;
        } else if (strcmp(a, "--report") == 0) {
            report_path = val;
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
    r.cfg.identify = obia_deid_keys_identify;
    r.cfg.identify_ctx = keys;

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
    obia_buf_init(&r.actions, 16u << 20);
    obia_buf_init(&r.line, 32u << 20);
    int problems = 0;
    for (int i = first; i < argc; i++)
        problems += cli_walk("deid", argv[i], deid_one, &r);

    /* everything written is made durable at once */
    bool ok = fflush(r.report) == 0 && fsync(fileno(r.report)) == 0;
    ok = (fclose(r.report) == 0) && ok;
    int dfd = open(r.out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ok = syncfs(dfd) == 0 && ok;
        close(dfd);
    }
    if (!ok)
        fprintf(stderr, "obia deid: cannot write %s: %s\n", report_path, strerror(errno));
    obia_buf_free(&r.actions);
    obia_buf_free(&r.line);
    obia_deid_keys_close(keys);
    fprintf(stderr, "obia deid: %d written, %d flagged, %d failed; report %s\n", r.written,
            r.flagged, r.errors + problems, report_path);
    return (r.errors || problems || !ok) ? 1 : 0;
}
