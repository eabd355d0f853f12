/* Help pages generated from docs/man/NAME.txt (see tools/gen_help.py). */
#ifndef OBIA_CLI_HELP_H
#define OBIA_CLI_HELP_H

struct help_page {
    const char *command;   /* "" for the overview */
    const char *text;
};

extern const struct help_page help_pages[];

#endif
