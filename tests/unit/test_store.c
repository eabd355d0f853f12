/* Unit tests of the object store (lib/store).
 *
 * Every test works in a fresh directory under /tmp (removed afterwards) with
 * a primary root p/ and replica roots r1/, r2/.  Hashes are checked against
 * the FIPS 180-2 test vectors and against sha256sum run on the stored files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obia/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct fixture {
    char dir[64];
    char p[96], r1[96], r2[96];
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/obia-test-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    /* realpath: the store reports roots by their real path */
    char real[64];
    assert_non_null(realpath(f->dir, real));
    snprintf(f->dir, sizeof f->dir, "%s", real);
    snprintf(f->p, sizeof f->p, "%s/p", f->dir);
    snprintf(f->r1, sizeof f->r1, "%s/r1", f->dir);
    snprintf(f->r2, sizeof f->r2, "%s/r2", f->dir);
    assert_int_equal(mkdir(f->p, 0755), 0);
    assert_int_equal(mkdir(f->r1, 0755), 0);
    assert_int_equal(mkdir(f->r2, 0755), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------- */

static obia_store *open_store(const fixture *f, size_t nreplicas)
{
    const char *replicas[] = {f->r1, f->r2};
    obia_error err;
    obia_error_clear(&err);
    obia_store *s = obia_store_open(f->p, replicas, nreplicas, &err);
    if (!s)
        print_error("open: %s\n", err.message);
    assert_non_null(s);
    return s;
}

static void fill(unsigned char *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (unsigned char)(x >> 24);
    }
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return p;
}

static void write_all(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* SHA-256 of a file by the sha256sum program. */
static void sha256sum(const char *path, char out[65])
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *fp = popen(cmd, "r");
    assert_non_null(fp);
    char line[512] = "";
    assert_non_null(fgets(line, sizeof line, fp));
    assert_int_equal(pclose(fp), 0);
    memcpy(out, line, 64);
    out[64] = '\0';
}

/* Path of the copy of hash in root. */
static void copy_path(const char *root, const char *hash, char *out, size_t cap)
{
    snprintf(out, cap, "%s/objects/%.2s/%.2s/%s", root, hash, hash + 2, hash);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static size_t count_tmp(const char *root)
{
    char path[256];
    snprintf(path, sizeof path, "%s/tmp", root);
    return count_entries(path);
}

static size_t files_seen;   /* nftw has no context argument */

static int count_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)st;
    (void)ftw;
    if (flag == FTW_F)
        files_seen++;
    return 0;
}

/* Regular files under root/objects. */
static size_t count_objects(const char *root)
{
    char path[256];
    snprintf(path, sizeof path, "%s/objects", root);
    files_seen = 0;
    assert_int_equal(nftw(path, count_file, 16, FTW_PHYS), 0);
    return files_seen;
}

static void flip_byte(const char *path, long offset)
{
    assert_int_equal(chmod(path, 0644), 0);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, offset), 1);
    c ^= 0x01;
    assert_int_equal(pwrite(fd, &c, 1, offset), 1);
    close(fd);
}

typedef struct problems {
    size_t n;
    char root[16][256];
    char name[16][256];
    char what[16][640];
    uint64_t last_done, last_total, calls;
} problems;

static void on_problem(void *ctx, const char *root, const char *name, const char *what)
{
    problems *pr = ctx;
    if (pr->n < 16) {
        snprintf(pr->root[pr->n], sizeof pr->root[0], "%s", root);
        snprintf(pr->name[pr->n], sizeof pr->name[0], "%s", name);
        snprintf(pr->what[pr->n], sizeof pr->what[0], "%s", what);
    }
    pr->n++;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    problems *pr = ctx;
    assert_true(done <= total);
    pr->last_done = done;
    pr->last_total = total;
    pr->calls++;
}

/* The index of the problem about (root, name), or -1. */
static int find_problem(const problems *pr, const char *root, const char *name)
{
    for (size_t i = 0; i < pr->n && i < 16; i++)
        if (strcmp(pr->root[i], root) == 0 && strcmp(pr->name[i], name) == 0)
            return (int)i;
    return -1;
}

static obia_store_stats verify(obia_store *s, bool repair, problems *pr)
{
    memset(pr, 0, sizeof *pr);
    obia_store_stats st;
    obia_error err;
    obia_error_clear(&err);
    bool ok = obia_store_verify(s, repair, on_progress, on_problem, pr, &st, &err);
    if (!ok)
        print_error("verify: %s\n", err.message);
    assert_true(ok);
    return st;
}

static void put_ok(obia_store *s, const void *p, size_t n, char hash[65], bool *existed)
{
    obia_error err;
    obia_error_clear(&err);
    bool ok = obia_store_put(s, p, n, hash, existed, &err);
    if (!ok)
        print_error("put: %s\n", err.message);
    assert_true(ok);
    assert_false(obia_error_is_set(&err));
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_put_round_trip(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 0);
    char hash[65], path[512];
    bool existed = true;

    put_ok(s, "abc", 3, hash, &existed);
    assert_string_equal(hash, SHA_ABC);
    assert_false(existed);
    assert_true(obia_store_has(s, hash));
    assert_true(obia_store_path(s, hash, path, sizeof path));
    size_t len;
    unsigned char *back = read_all(path, &len);
    assert_non_null(back);
    assert_int_equal(len, 3);
    assert_memory_equal(back, "abc", 3);
    free(back);

    put_ok(s, NULL, 0, hash, &existed);
    assert_string_equal(hash, SHA_EMPTY);
    assert_true(obia_store_has(s, SHA_EMPTY));

    /* a larger object against sha256sum, on the stored copy and on an
     * independent file of the same bytes */
    size_t n = 300001;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    fill(data, n, 7);
    put_ok(s, data, n, hash, &existed);
    assert_false(existed);
    char indep[256], sum[65];
    snprintf(indep, sizeof indep, "%s/independent.bin", f->dir);
    write_all(indep, data, n);
    sha256sum(indep, sum);
    assert_string_equal(hash, sum);
    assert_true(obia_store_path(s, hash, path, sizeof path));
    sha256sum(path, sum);
    assert_string_equal(hash, sum);
    back = read_all(path, &len);
    assert_non_null(back);
    assert_int_equal(len, n);
    assert_memory_equal(back, data, n);
    free(back);
    free(data);
    assert_false(obia_store_has(s, "0000000000000000000000000000000000000000000000000000000000000000"));
    obia_store_close(s);
}

static void test_layout(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 0);
    char hash[65], path[512], want[512];
    put_ok(s, "abc", 3, hash, NULL);
    assert_true(obia_store_path(s, hash, path, sizeof path));
    snprintf(want, sizeof want, "%s/objects/ba/78/%s", f->p, SHA_ABC);
    assert_string_equal(path, want);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0222, 0);   /* objects are read-only */
    snprintf(want, sizeof want, "%s/objects/ba/78", f->p);
    assert_int_equal(stat(want, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(count_entries(want), 1);
    snprintf(want, sizeof want, "%s/objects", f->p);
    assert_int_equal(count_entries(want), 1);
    assert_int_equal(count_tmp(f->p), 0);
    assert_int_equal(count_objects(f->p), 1);
    obia_store_close(s);
}

static void test_idempotent(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 1);
    unsigned char data[5000];
    fill(data, sizeof data, 3);
    char hash[65], again[65], path[512];
    bool existed = true;
    put_ok(s, data, sizeof data, hash, &existed);
    assert_false(existed);
    assert_true(obia_store_path(s, hash, path, sizeof path));
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);

    put_ok(s, data, sizeof data, again, &existed);
    assert_true(existed);
    assert_string_equal(again, hash);
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);   /* not rewritten */
    assert_int_equal(count_tmp(f->p), 0);
    assert_int_equal(count_tmp(f->r1), 0);

    /* a root missing its copy gets it back, the other is left alone */
    char rpath[512];
    copy_path(f->r1, hash, rpath, sizeof rpath);
    assert_int_equal(unlink(rpath), 0);
    put_ok(s, data, sizeof data, again, &existed);
    assert_true(existed);
    assert_int_equal(access(rpath, F_OK), 0);
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);

    /* a copy of the wrong size is replaced */
    assert_int_equal(unlink(path), 0);
    write_all(path, data, 10);
    put_ok(s, data, sizeof data, again, &existed);
    assert_false(existed);
    size_t len;
    unsigned char *back = read_all(path, &len);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(back, data, sizeof data);
    free(back);
    assert_int_equal(count_objects(f->p), 1);
    assert_int_equal(count_objects(f->r1), 1);
    obia_store_close(s);
}

static void test_streaming(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 0);
    size_t n = 1500007;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    fill(data, n, 11);
    obia_error err;
    obia_error_clear(&err);

    obia_store_writer *w = obia_store_begin(s, &err);
    assert_non_null(w);
    assert_int_equal(count_tmp(f->p), 1);
    /* small chunks of every size 0..96, then one larger than the writer's
     * buffer, through the sink function */
    bool (*sink)(void *, const void *, size_t) = obia_store_sink;
    size_t off = 0, step = 0;
    while (off < n / 2) {
        size_t k = step++ % 97;
        assert_true(sink(w, data + off, k));
        off += k;
    }
    assert_true(obia_store_write(w, data + off, 400000));
    off += 400000;
    while (off < n) {
        size_t k = step++ % 97;
        if (k > n - off)
            k = n - off;
        assert_true(obia_store_write(w, data + off, k));
        off += k;
    }
    char hash[65], once[65];
    uint64_t size = 0;
    bool existed = true;
    assert_true(obia_store_commit(w, hash, &size, &existed, &err));
    assert_false(obia_error_is_set(&err));
    assert_int_equal(size, n);
    assert_false(existed);
    assert_int_equal(count_tmp(f->p), 0);

    put_ok(s, data, n, once, &existed);
    assert_string_equal(hash, once);
    assert_true(existed);
    char path[512], sum[65];
    assert_true(obia_store_path(s, hash, path, sizeof path));
    sha256sum(path, sum);
    assert_string_equal(sum, hash);

    /* abort leaves nothing */
    w = obia_store_begin(s, &err);
    assert_non_null(w);
    assert_true(obia_store_write(w, "xyz", 3));
    obia_store_abort(w);
    assert_int_equal(count_tmp(f->p), 0);
    assert_int_equal(count_objects(f->p), 1);

    /* a streamed duplicate is not rewritten */
    w = obia_store_begin(s, &err);
    assert_non_null(w);
    assert_true(obia_store_write(w, data, n));
    assert_true(obia_store_commit(w, hash, NULL, &existed, &err));
    assert_true(existed);
    assert_string_equal(hash, once);
    assert_int_equal(count_tmp(f->p), 0);
    free(data);
    obia_store_close(s);
}

static void test_replicas(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 2);
    size_t n = 200000;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    fill(data, n, 5);
    char hash[65], hash2[65], path[512];
    put_ok(s, data, n, hash, NULL);

    /* streamed: replicas are copied from the primary's temporary file */
    obia_error err;
    obia_error_clear(&err);
    obia_store_writer *w = obia_store_begin(s, &err);
    assert_non_null(w);
    assert_true(obia_store_write(w, data, n / 2));
    assert_true(obia_store_commit(w, hash2, NULL, NULL, &err));
    assert_string_not_equal(hash, hash2);

    const char *roots[] = {f->p, f->r1, f->r2};
    for (int r = 0; r < 3; r++) {
        size_t len;
        copy_path(roots[r], hash, path, sizeof path);
        unsigned char *back = read_all(path, &len);
        assert_non_null(back);
        assert_int_equal(len, n);
        assert_memory_equal(back, data, n);
        free(back);
        copy_path(roots[r], hash2, path, sizeof path);
        back = read_all(path, &len);
        assert_non_null(back);
        assert_int_equal(len, n / 2);
        assert_memory_equal(back, data, n / 2);
        free(back);
        assert_int_equal(count_objects(roots[r]), 2);
        assert_int_equal(count_tmp(roots[r]), 0);
    }
    free(data);
    obia_store_close(s);
}

static void test_verify_repair(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 2);
    char h[3][65], path[512];
    unsigned char data[3][4096];
    for (int i = 0; i < 3; i++) {
        fill(data[i], sizeof data[i], (uint32_t)(100 + i));
        put_ok(s, data[i], sizeof data[i], h[i], NULL);
    }
    problems pr;
    obia_store_stats st = verify(s, false, &pr);
    assert_int_equal(st.objects, 3);
    assert_int_equal(st.copies, 9);
    assert_int_equal(st.good, 9);
    assert_int_equal(st.bytes, 9 * 4096);
    assert_int_equal(st.missing + st.corrupt + st.stray + st.unrepairable, 0);
    assert_int_equal(pr.n, 0);
    assert_int_equal(pr.last_done, 9);
    assert_int_equal(pr.last_total, 9);

    /* one corrupt copy in r1, one missing in r2 */
    copy_path(f->r1, h[0], path, sizeof path);
    flip_byte(path, 1000);
    copy_path(f->r2, h[1], path, sizeof path);
    assert_int_equal(unlink(path), 0);

    st = verify(s, false, &pr);
    assert_int_equal(st.objects, 3);
    assert_int_equal(st.copies, 8);
    assert_int_equal(st.good, 7);
    assert_int_equal(st.corrupt, 1);
    assert_int_equal(st.missing, 1);
    assert_int_equal(st.repaired, 0);
    assert_int_equal(st.unrepairable, 0);
    assert_int_equal(pr.n, 2);
    assert_int_equal(pr.last_done, 8);
    assert_int_equal(pr.last_total, 8);
    int i = find_problem(&pr, f->r1, h[0]);
    assert_true(i >= 0);
    assert_non_null(strstr(pr.what[i], "corrupt"));
    i = find_problem(&pr, f->r2, h[1]);
    assert_true(i >= 0);
    assert_string_equal(pr.what[i], "missing");
    /* without repair nothing changed */
    copy_path(f->r2, h[1], path, sizeof path);
    assert_int_not_equal(access(path, F_OK), 0);

    st = verify(s, true, &pr);
    assert_int_equal(st.corrupt, 1);
    assert_int_equal(st.missing, 1);
    assert_int_equal(st.repaired, 2);
    assert_int_equal(st.unrepairable, 0);
    assert_int_equal(pr.n, 2);
    i = find_problem(&pr, f->r1, h[0]);
    assert_true(i >= 0);
    assert_non_null(strstr(pr.what[i], "repaired from"));

    const char *roots[] = {f->p, f->r1, f->r2};
    for (int r = 0; r < 3; r++) {
        for (int k = 0; k < 3; k++) {
            size_t len;
            copy_path(roots[r], h[k], path, sizeof path);
            unsigned char *back = read_all(path, &len);
            assert_non_null(back);
            assert_int_equal(len, sizeof data[k]);
            assert_memory_equal(back, data[k], len);
            free(back);
        }
        assert_int_equal(count_tmp(roots[r]), 0);
    }

    st = verify(s, false, &pr);
    assert_int_equal(st.objects, 3);
    assert_int_equal(st.good, 9);
    assert_int_equal(st.missing + st.corrupt + st.repaired + st.unrepairable + st.stray, 0);
    assert_int_equal(pr.n, 0);

    /* the primary's copy can be restored from a replica too */
    assert_true(obia_store_path(s, h[2], path, sizeof path));
    assert_int_equal(unlink(path), 0);
    assert_false(obia_store_has(s, h[2]));
    st = verify(s, true, &pr);
    assert_int_equal(st.missing, 1);
    assert_int_equal(st.repaired, 1);
    assert_true(obia_store_has(s, h[2]));
    i = find_problem(&pr, f->p, h[2]);
    assert_true(i >= 0);
    obia_store_close(s);
}

static void test_verify_temp_files(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 1);
    char hash[65], path[512];
    put_ok(s, "abc", 3, hash, NULL);
    /* left by processes that are gone (no pid is this large) */
    snprintf(path, sizeof path, "%s/tmp/2000000000-17.tmp", f->p);
    write_all(path, "half an object", 14);
    snprintf(path, sizeof path, "%s/tmp/2000000000-18.tmp", f->r1);
    write_all(path, "", 0);
    snprintf(path, sizeof path, "%s/tmp/other", f->r1);
    write_all(path, "x", 1);

    /* a locked file is in use, whoever named it */
    snprintf(path, sizeof path, "%s/tmp/2000000000-19.tmp", f->p);
    write_all(path, "locked", 6);
    int locked = open(path, O_RDONLY);
    assert_true(locked >= 0);
    assert_int_equal(flock(locked, LOCK_EX), 0);

    /* a writer's temporary file in use is not a leftover */
    obia_error err;
    obia_error_clear(&err);
    obia_store_writer *w = obia_store_begin(s, &err);
    assert_non_null(w);
    assert_true(obia_store_write(w, "in flight", 9));
    assert_int_equal(count_tmp(f->p), 3);

    problems pr;
    obia_store_stats st = verify(s, false, &pr);
    assert_int_equal(st.temp_removed, 3);
    assert_int_equal(st.stray, 0);
    assert_int_equal(st.corrupt + st.missing, 0);
    assert_int_equal(st.good, 2);
    assert_int_equal(pr.n, 0);
    assert_int_equal(count_tmp(f->p), 2);
    assert_int_equal(count_tmp(f->r1), 0);
    assert_int_equal(access(path, F_OK), 0);
    close(locked);
    st = verify(s, false, &pr);
    assert_int_equal(st.temp_removed, 1);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(count_tmp(f->p), 1);

    char h2[65];
    assert_true(obia_store_commit(w, h2, NULL, NULL, &err));
    assert_true(obia_store_has(s, h2));
    assert_int_equal(count_tmp(f->p), 0);
    st = verify(s, false, &pr);
    assert_int_equal(st.temp_removed, 0);
    assert_int_equal(st.good, 4);
    obia_store_close(s);
}

/* A put that died between renaming into the primary and into the replicas
 * left its note: verify finishes it (the replicas get their copies), and
 * does not count the copies as missing. */
static void test_interrupted_put(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 2);
    char hash[65], path[512], note[512];
    put_ok(s, "interrupted", 11, hash, NULL);
    copy_path(f->r1, hash, path, sizeof path);
    assert_int_equal(unlink(path), 0);
    copy_path(f->r2, hash, path, sizeof path);
    assert_int_equal(unlink(path), 0);
    snprintf(note, sizeof note, "%s/tmp/2000000000-5.put", f->p);
    write_all(note, hash, 64);
    /* a note of a put that never renamed anything is just removed */
    snprintf(path, sizeof path, "%s/tmp/2000000000-6.put", f->p);
    write_all(path, "0000000000000000000000000000000000000000000000000000000000000000", 64);
    problems pr = {0};
    obia_store_stats st = verify(s, false, &pr);
    assert_int_equal(st.interrupted, 1);
    assert_int_equal(st.missing, 0);
    assert_int_equal(st.temp_removed, 2);
    assert_int_equal(st.good, 3);
    copy_path(f->r2, hash, path, sizeof path);
    size_t n;
    unsigned char *back = read_all(path, &n);
    assert_int_equal(n, 11);
    assert_memory_equal(back, "interrupted", 11);
    free(back);
    assert_int_equal(access(note, F_OK), -1);
    st = verify(s, false, &pr);
    assert_int_equal(st.interrupted, 0);
    assert_int_equal(st.missing, 0);
    obia_store_close(s);
}

static void test_verify_strays(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 0);
    char hash[65], path[512];
    put_ok(s, "abc", 3, hash, NULL);
    /* not a hash, upper case, a valid hash in the wrong directory, junk at
     * the top and middle levels, a directory where an object should be */
    snprintf(path, sizeof path, "%s/objects/ba/78/notahash", f->p);
    write_all(path, "x", 1);
    snprintf(path, sizeof path, "%s/objects/ba/78/BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", f->p);
    write_all(path, "abc", 3);
    snprintf(path, sizeof path, "%s/objects/ba/78/" SHA_EMPTY, f->p);
    write_all(path, "", 0);
    snprintf(path, sizeof path, "%s/objects/README", f->p);
    write_all(path, "x", 1);
    snprintf(path, sizeof path, "%s/objects/ba/zz", f->p);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/objects/ba/78/ba78aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", f->p);
    assert_int_equal(mkdir(path, 0755), 0);

    problems pr;
    obia_store_stats st = verify(s, true, &pr);
    assert_int_equal(st.stray, 6);
    assert_int_equal(st.objects, 1);
    assert_int_equal(st.good, 1);
    assert_int_equal(st.corrupt + st.missing + st.repaired, 0);
    assert_int_equal(pr.n, 6);
    int i = find_problem(&pr, f->p, "objects/ba/78/notahash");
    assert_true(i >= 0);
    assert_string_equal(pr.what[i], "not an object name");
    i = find_problem(&pr, f->p, "objects/ba/78/" SHA_EMPTY);
    assert_true(i >= 0);
    assert_string_equal(pr.what[i], "in the wrong directory");
    assert_true(find_problem(&pr, f->p, "objects/README") >= 0);
    assert_true(find_problem(&pr, f->p, "objects/ba/zz") >= 0);
    i = find_problem(&pr, f->p, "objects/ba/78/ba78aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_true(i >= 0);
    assert_string_equal(pr.what[i], "not a regular file");
    /* strays are reported, never removed */
    snprintf(path, sizeof path, "%s/objects/ba/78/notahash", f->p);
    assert_int_equal(access(path, F_OK), 0);
    obia_store_close(s);
}

static void test_unrepairable(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 1);
    char hash[65], good[65], path[512];
    unsigned char data[3000];
    fill(data, sizeof data, 9);
    put_ok(s, data, sizeof data, hash, NULL);
    put_ok(s, "abc", 3, good, NULL);
    copy_path(f->p, hash, path, sizeof path);
    flip_byte(path, 0);
    copy_path(f->r1, hash, path, sizeof path);
    flip_byte(path, 2999);

    problems pr;
    obia_store_stats st = verify(s, true, &pr);
    assert_int_equal(st.objects, 2);
    assert_int_equal(st.corrupt, 2);
    assert_int_equal(st.good, 2);
    assert_int_equal(st.unrepairable, 1);
    assert_int_equal(st.repaired, 0);
    assert_int_equal(pr.n, 2);
    int i = find_problem(&pr, f->p, hash);
    assert_true(i >= 0);
    assert_non_null(strstr(pr.what[i], "corrupt"));
    assert_non_null(strstr(pr.what[i], "no good copy in any root"));
    i = find_problem(&pr, f->r1, hash);
    assert_true(i >= 0);
    assert_non_null(strstr(pr.what[i], "no good copy in any root"));

    /* a file whose content is not its name, in one root only */
    char bogus[512];
    copy_path(f->p, SHA_ABC, bogus, sizeof bogus);
    bogus[strlen(bogus) - 1] = '0';
    write_all(bogus, "abc", 3);
    st = verify(s, true, &pr);
    assert_int_equal(st.objects, 3);
    assert_int_equal(st.unrepairable, 2);
    assert_int_equal(st.corrupt, 3);
    assert_int_equal(st.missing, 1);
    const char *name = strrchr(bogus, '/') + 1;
    i = find_problem(&pr, f->p, name);
    assert_true(i >= 0);
    assert_non_null(strstr(pr.what[i], "content hashes to " SHA_ABC));
    i = find_problem(&pr, f->r1, name);
    assert_true(i >= 0);
    assert_non_null(strstr(pr.what[i], "missing; no good copy"));
    obia_store_close(s);
}

static void test_full_disk(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 1);
    /* larger than the writer's buffer, so a streamed write itself fails */
    size_t n = 600000;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    fill(data, n, 13);

    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    small = old;
    small.rlim_cur = 16384;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);

    obia_error err;
    obia_error_clear(&err);
    char hash[65] = "";
    bool put = obia_store_put(s, data, n, hash, NULL, &err);
    bool began = false, wrote = true, committed = false;
    size_t tmp_after_failed_write = 99;
    obia_error werr;
    obia_error_clear(&werr);
    obia_store_writer *w = obia_store_begin(s, &werr);
    if (w) {
        began = true;
        for (size_t off = 0; off < n && wrote; off += 1000)
            wrote = obia_store_write(w, data + off, n - off < 1000 ? n - off : 1000);
        tmp_after_failed_write = count_tmp(f->p);
        committed = obia_store_commit(w, NULL, NULL, NULL, &werr);
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    assert_false(put);
    assert_int_equal(err.code, OBIA_E_IO);
    assert_non_null(strstr(err.message, f->p));
    assert_non_null(strstr(err.message, strerror(EFBIG)));
    assert_true(began);
    assert_false(wrote);
    assert_int_equal(tmp_after_failed_write, 0);   /* gone at the failure, not only at commit */
    assert_false(committed);
    assert_int_equal(werr.code, OBIA_E_IO);
    assert_non_null(strstr(werr.message, strerror(EFBIG)));
    assert_int_equal(count_objects(f->p), 0);
    assert_int_equal(count_objects(f->r1), 0);
    assert_int_equal(count_tmp(f->p), 0);
    assert_int_equal(count_tmp(f->r1), 0);

    /* works again once there is room */
    put_ok(s, data, n, hash, NULL);
    assert_int_equal(count_objects(f->p), 1);
    assert_int_equal(count_objects(f->r1), 1);

    /* the primary has it, the replica's copy is lost and its disk is full */
    char rpath[512];
    copy_path(f->r1, hash, rpath, sizeof rpath);
    assert_int_equal(unlink(rpath), 0);
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    obia_error_clear(&err);
    put = obia_store_put(s, data, n, hash, NULL, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_false(put);
    char want[256];
    snprintf(want, sizeof want, "object store root %s:", f->r1);
    assert_non_null(strstr(err.message, want));
    assert_int_equal(count_objects(f->p), 1);
    assert_int_equal(count_objects(f->r1), 0);
    assert_int_equal(count_tmp(f->r1), 0);
    free(data);
    obia_store_close(s);
}

static void test_replica_failure(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 2);
    /* r2's tmp/ vanishes under the open store: its copy cannot be made */
    char path[512];
    snprintf(path, sizeof path, "%s/tmp", f->r2);
    assert_int_equal(rmdir(path), 0);
    write_all(path, "not a directory", 15);

    obia_error err;
    obia_error_clear(&err);
    char hash[65];
    assert_false(obia_store_put(s, "abc", 3, hash, NULL, &err));
    assert_int_equal(err.code, OBIA_E_IO);
    char want[256];
    snprintf(want, sizeof want, "object store root %s:", f->r2);
    assert_non_null(strstr(err.message, want));
    /* nothing was renamed into any root, no temporary file is left */
    assert_false(obia_store_has(s, SHA_ABC));
    assert_int_equal(count_objects(f->p), 0);
    assert_int_equal(count_objects(f->r1), 0);
    assert_int_equal(count_tmp(f->p), 0);
    assert_int_equal(count_tmp(f->r1), 0);

    obia_error_clear(&err);
    obia_store_writer *w = obia_store_begin(s, &err);
    assert_non_null(w);
    assert_true(obia_store_write(w, "abc", 3));
    assert_false(obia_store_commit(w, hash, NULL, NULL, &err));
    assert_non_null(strstr(err.message, want));
    assert_int_equal(count_objects(f->p), 0);
    assert_int_equal(count_tmp(f->p), 0);
    assert_int_equal(count_tmp(f->r1), 0);
    obia_store_close(s);
}

/* ---- threads ---------------------------------------------------------------------- */

#define THREADS 4
#define SHARED 20
#define OWN 20
#define OBJ_SIZE 3000

typedef struct worker {
    obia_store *s;
    pthread_barrier_t *barrier;
    int id;
    int failures;
    char shared[SHARED][65];
    char own[OWN][65];
    int existed;
} worker;

static void *work(void *arg)
{
    worker *wk = arg;
    unsigned char data[OBJ_SIZE];
    for (int i = 0; i < SHARED + OWN; i++) {
        bool shared = i < SHARED;
        fill(data, sizeof data, shared ? (uint32_t)(1000 + i) : (uint32_t)(2000 + wk->id * 100 + i));
        char *hash = shared ? wk->shared[i] : wk->own[i - SHARED];
        obia_error err;
        obia_error_clear(&err);
        bool existed = false, ok;
        /* all threads start each shared object together */
        if (shared)
            pthread_barrier_wait(wk->barrier);
        if ((i + wk->id) % 2) {
            ok = obia_store_put(wk->s, data, sizeof data, hash, &existed, &err);
        } else {
            obia_store_writer *w = obia_store_begin(wk->s, &err);
            ok = w != NULL;
            for (size_t off = 0; ok && off < sizeof data; off += 700)
                ok = obia_store_write(w, data + off,
                                      sizeof data - off < 700 ? sizeof data - off : 700);
            ok = w && obia_store_commit(w, hash, NULL, &existed, &err) && ok;
        }
        if (!ok) {
            fprintf(stderr, "thread %d object %d: %s\n", wk->id, i, err.message);
            wk->failures++;
        }
        wk->existed += existed;
    }
    return NULL;
}

typedef struct checker {
    obia_store *s;
    atomic_int *stop;
    int runs, failures;
    uint64_t temp_removed;
} checker;

/* Verification running while the workers put: it must not take their
 * temporary files away. */
static void *check_loop(void *arg)
{
    checker *c = arg;
    while (!atomic_load(c->stop) || c->runs == 0) {
        obia_store_stats st;
        obia_error err;
        obia_error_clear(&err);
        if (!obia_store_verify(c->s, false, NULL, NULL, NULL, &st, &err)) {
            fprintf(stderr, "verify: %s\n", err.message);
            c->failures++;
        }
        c->temp_removed += st.temp_removed;
        c->runs++;
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 1);
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, THREADS), 0);
    worker wk[THREADS];
    pthread_t th[THREADS];
    memset(wk, 0, sizeof wk);
    for (int t = 0; t < THREADS; t++) {
        wk[t].s = s;
        wk[t].barrier = &barrier;
        wk[t].id = t;
        assert_int_equal(pthread_create(&th[t], NULL, work, &wk[t]), 0);
    }
    atomic_int stop = 0;
    checker chk = {.s = s, .stop = &stop};
    pthread_t cth;
    assert_int_equal(pthread_create(&cth, NULL, check_loop, &chk), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    atomic_store(&stop, 1);
    assert_int_equal(pthread_join(cth, NULL), 0);
    pthread_barrier_destroy(&barrier);
    assert_true(chk.runs > 0);
    assert_int_equal(chk.failures, 0);
    assert_int_equal(chk.temp_removed, 0);

    int existed = 0;
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(wk[t].failures, 0);
        existed += wk[t].existed;
        for (int i = 0; i < SHARED; i++)
            assert_string_equal(wk[t].shared[i], wk[0].shared[i]);
        for (int i = 0; i < OWN; i++) {
            assert_true(obia_store_valid_hash(wk[t].own[i]));
            if (t > 0)
                assert_string_not_equal(wk[t].own[i], wk[0].own[i]);
        }
    }
    /* own objects never existed; each shared one was new to at least one thread */
    assert_true(existed <= SHARED * (THREADS - 1));
    assert_int_equal(count_objects(f->p), SHARED + THREADS * OWN);
    assert_int_equal(count_objects(f->r1), SHARED + THREADS * OWN);
    assert_int_equal(count_tmp(f->p), 0);
    assert_int_equal(count_tmp(f->r1), 0);
    problems pr;
    obia_store_stats st = verify(s, false, &pr);
    assert_int_equal(st.objects, SHARED + THREADS * OWN);
    assert_int_equal(st.good, 2 * (SHARED + THREADS * OWN));
    assert_int_equal(st.corrupt + st.missing + st.stray + st.temp_removed, 0);
    obia_store_close(s);
}

/* ---- names and opening ------------------------------------------------------------ */

static void test_invalid_hash(void **state)
{
    fixture *f = *state;
    obia_store *s = open_store(f, 0);
    char path[512];
    static const char *const bad[] = {
        "",
        "abc",
        SHA_ABC "0",                                                          /* 65 digits */
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",   /* 63 */
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",  /* upper case */
        "ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "../../../../../../../../../../../../../../../../../../etc/passwd",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a/",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015 d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(path, "unchanged");
        assert_false(obia_store_path(s, bad[i], path, sizeof path));
        assert_false(obia_store_valid_hash(bad[i]));
        assert_false(obia_store_has(s, bad[i]));
    }
    assert_false(obia_store_path(s, NULL, path, sizeof path));
    assert_false(obia_store_valid_hash(NULL));
    assert_true(obia_store_valid_hash(SHA_ABC));
    assert_true(obia_store_path(s, SHA_ABC, path, sizeof path));
    /* too small a buffer */
    assert_false(obia_store_path(s, SHA_ABC, path, strlen(f->p) + 20));
    obia_store_close(s);
}

static void test_open_errors(void **state)
{
    fixture *f = *state;
    obia_error err;
    char missing[256];
    snprintf(missing, sizeof missing, "%s/no-such-disk", f->dir);
    obia_error_clear(&err);
    assert_null(obia_store_open(missing, NULL, 0, &err));
    assert_non_null(strstr(err.message, missing));

    const char *replicas[] = {f->r1, missing};
    obia_error_clear(&err);
    assert_null(obia_store_open(f->p, replicas, 2, &err));
    assert_non_null(strstr(err.message, missing));

    char same[256];
    snprintf(same, sizeof same, "%s/../p/", f->r1);
    const char *twice[] = {same};
    obia_error_clear(&err);
    assert_null(obia_store_open(f->p, twice, 1, &err));
    assert_non_null(strstr(err.message, "given twice"));

    char file[256];
    snprintf(file, sizeof file, "%s/a-file", f->dir);
    write_all(file, "x", 1);
    obia_error_clear(&err);
    assert_null(obia_store_open(file, NULL, 0, &err));
    assert_non_null(strstr(err.message, strerror(ENOTDIR)));

    /* opening makes objects/ and tmp/ */
    obia_error_clear(&err);
    obia_store *s = obia_store_open(f->p, NULL, 0, &err);
    assert_non_null(s);
    char path[256];
    snprintf(path, sizeof path, "%s/objects", f->p);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/tmp", f->p);
    assert_int_equal(access(path, F_OK), 0);
    obia_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_repair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_temp_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_strays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrepairable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
