/* obia clinical import: clinical data per individual from a CSV file. */
#include "cli.h"
#include "obia/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int cmd_clinical(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "import") != 0)
        return cli_usage_error("clinical", "usage: obia clinical import --collection ACC FILE.csv");
    const char *dir = NULL, *collection = NULL;
    int first = 2;
    for (const char *a; (a = cli_next_option(argc, argv, &first)) != NULL;) {
        const char **slot;
        if (strcmp(a, "--archive") == 0)
            slot = &dir;
        else if (strcmp(a, "--collection") == 0)
            slot = &collection;
        else
            return cli_usage_error("clinical", "unknown option '%s'", a);
        if (!(*slot = cli_option_value("clinical", a, argc, argv, &first)))
            return 2;
    }
    if (!collection)
        return cli_usage_error("clinical", "--collection ACCESSION is required");
    if (first + 1 != argc)
        return cli_usage_error("clinical", "give one CSV file");
    const char *path = argv[first];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "obia clinical: %s: %s\n", path, fd < 0 ? strerror(errno) : "not a file");
        if (fd >= 0)
            close(fd);
        return 1;
    }
    if (st.st_size > (off_t)1 << 30) {
        fprintf(stderr, "obia clinical: %s: larger than 1 GiB\n", path);
        close(fd);
        return 1;
    }
    size_t len = (size_t)st.st_size;
    char *data = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : (char *)"";
    close(fd);
    if (data == MAP_FAILED) {
        fprintf(stderr, "obia clinical: %s: %s\n", path, strerror(errno));
        return 1;
    }
    obia_error err;
    obia_error_clear(&err);
    obia_archive *a = obia_archive_open(obia_archive_default_dir(dir), &err);
    obia_clinical_summary s;
    bool ok = a && obia_clinical_import(a, collection, data, len, &s, &err);
    if (ok)
        printf("%llu individuals given clinical data (%llu not known before), %llu extra "
               "columns\n",
               (unsigned long long)s.rows, (unsigned long long)s.new_individuals,
               (unsigned long long)s.extra_columns);
    else
        fprintf(stderr, "obia clinical: %s: %s\n", path, err.message);
    if (len)
        munmap(data, len);
    obia_archive_close(a);
    return ok ? 0 : 1;
}
