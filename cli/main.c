#include "cli.h"
#include "help.h"
#include "obia/dicom.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct command commands[] = {
    {"dump", cmd_dump, "list the elements of DICOM files as text or DICOM JSON"},
    {"scan", cmd_scan, "one line of identifying attributes per DICOM file, from its header"},
    {"convert", cmd_convert, "rewrite a DICOM file in another transfer syntax"},
    {"deid", cmd_deid, "de-identify DICOM files (PS3.15 Annex E with options)"},
    {"init", cmd_init, "create an archive"},
    {"config", cmd_config, "show the archive's configuration"},
    {"collection", cmd_collection, "create, list, show and release collections"},
    {"ingest", cmd_ingest, "load files and folders into a collection"},
    {"verify", cmd_verify, "check every stored copy; --repair restores bad ones"},
    {"clinical", cmd_clinical, "import clinical data per individual from a CSV file"},
    {"search", cmd_search, "find series by modality, body part, sex, age, disease or text"},
    {"show", cmd_show, "show a collection, individual, study, series or image"},
    {"stats", cmd_stats, "counts per modality, body part, sex, age band, disease, collection"},
    {"qc", cmd_qc, "quality control: the checks, the quarantine, repair, release, discard"},
    {"review", cmd_review, "review states of series: visible, not visible, to be deleted"},
    {"report", cmd_report, "the PHI review report of a collection: every element, flagged"},
    {"audit", cmd_audit, "the audit log: who did what, when"},
    {"serve", cmd_serve, "serve the archive over HTTP: REST API, DICOMweb, web site"},
    {"render", cmd_render, "one frame of an image as PNG, JPEG or its raw stored values"},
    {"thumbnails", cmd_thumbnails, "series thumbnails, contact sheets, and getting one as PNG"},
    {"synth", cmd_synth, "write realistic synthetic DICOM studies and a clinical CSV"},
};

bool cli_print_help(const char *command, bool to_stderr)
{
    for (const struct help_page *h = help_pages; h->command; h++) {
        if (strcmp(h->command, command ? command : "") == 0) {
            fputs(h->text, to_stderr ? stderr : stdout);
            return true;
        }
    }
    return false;
}

const char *cli_next_option(int argc, char **argv, int *i)
{
    if (*i >= argc)
        return NULL;
    const char *a = argv[*i];
    if (strcmp(a, "--") == 0) {
        (*i)++;
        return NULL;
    }
    if (a[0] != '-' || a[1] == '\0')
        return NULL;
    (*i)++;
    return a;
}

const char *cli_option_value(const char *command, const char *option, int argc, char **argv,
                             int *i)
{
    if (*i >= argc) {
        cli_usage_error(command, "%s needs a value", option);
        return NULL;
    }
    return argv[(*i)++];
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "obia %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'obia help %s'.\n", command);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_print_help(NULL, true);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        cli_print_help(NULL, false);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("obia %s\n", OBIA_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc > 2 && !cli_print_help(argv[2], false)) {
            fprintf(stderr, "obia help: no command '%s'\n", argv[2]);
            return 2;
        }
        if (argc <= 2)
            cli_print_help(NULL, false);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, cmd) == 0) {
            for (int k = 2; k < argc; k++)
                if (strcmp(argv[k], "--help") == 0) {
                    cli_print_help(cmd, false);
                    return 0;
                } else if (strcmp(argv[k], "--") == 0) {
                    break;
                }
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "obia: unknown command '%s'\nTry 'obia --help'.\n", cmd);
    return 2;
}
