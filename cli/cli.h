/* The obia command: one file per subcommand, dispatched from a table. */
#ifndef OBIA_CLI_H
#define OBIA_CLI_H

#include "obia/archive.h"
#include "obia/catalog.h"

#include <stdbool.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);   /* argv[0] is the command name */
    const char *summary;
};

int cmd_dump(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_deid(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_collection(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_clinical(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_qc(int argc, char **argv);
int cmd_review(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_thumbnails(int argc, char **argv);

/* Who is acting, for the audit log: --user, else $OBIA_USER, else the login name. */
const char *cli_who(const char *given);

/* Call fn for every regular file of path: path itself, or the files below a
 * directory, in name order. Problems (unreadable directory, missing path)
 * are printed as "obia COMMAND: PATH: why"; returns their number. */
typedef void (*cli_file_fn)(void *ctx, const char *file);
int cli_walk(const char *command, const char *path, cli_file_fn fn, void *ctx);
/* A list of paths to collect with cli_walk(..., cli_files_add, &list). */
typedef struct cli_files {
    char **v;
    size_t n, cap;
    bool failed;   /* out of memory: some paths are missing */
} cli_files;
void cli_files_add(void *ctx, const char *path);
void cli_files_free(cli_files *f);

/* The next option of argv from *i on, advancing *i; NULL where the options
 * end: at the first operand (left in argv[*i]) or after "--". */
const char *cli_next_option(int argc, char **argv, int *i);
/* The value of an option that takes one (argv[*i], advancing *i), or NULL
 * after printing a usage error. */
const char *cli_option_value(const char *command, const char *option, int argc, char **argv,
                             int *i);

/* Catalog rows on stdout: JSON (an array of objects), blocks of
 * "name value" lines (one object), or a tab-separated table with a header. */
typedef struct cli_rows {
    bool json;
    bool blocks;
    long count;
} cli_rows;
bool cli_rows_print(void *ctx, int ncols, const char *const *names, const char *const *values);
void cli_rows_end(cli_rows *r);

/* The archive (--archive DIR, $OBIA_ARCHIVE or ./obia-archive) and its
 * catalog; NULL after printing why. */
obia_catalog *cli_open_catalog(const char *command, const char *dir, obia_archive **archive);

/* Print the help page of a command (or the overview for NULL); false if none. */
bool cli_print_help(const char *command, bool to_stderr);
/* "obia CMD: usage error: ..." then a hint; returns 2. */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
