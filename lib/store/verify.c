/* Fixity: re-hash every copy in every root, report what is missing, corrupt
 * or does not belong, and repair from a good copy when asked.
 *
 * The roots are walked together one leaf directory (objects/ab/cd) at a
 * time, so memory stays bounded by the largest leaf, not by the archive. */
#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUF_SIZE (1024 * 1024)

typedef struct copy_entry {
    char name[STORE_HASH_LEN + 1];
    unsigned char root;
} copy_entry;

typedef enum copy_state { COPY_GOOD, COPY_MISSING, COPY_CORRUPT, COPY_UNREADABLE } copy_state;

typedef struct verifier {
    obia_store *s;
    bool repair;
    bool counting;           /* first pass: only count copies, for progress */
    obia_store_progress_fn progress;
    obia_store_problem_fn problem;
    void *ctx;
    obia_store_stats st;
    uint64_t done, total;
    obia_error *err;
    bool repair_failed;      /* verification goes on; the result is false */
    unsigned char *buf;
    EVP_MD_CTX *md;
    copy_entry *ents;
    size_t nents, cap;
    /* per root, for the object at hand */
    copy_state state[OBIA_STORE_MAX_REPLICAS + 1];
    char actual[OBIA_STORE_MAX_REPLICAS + 1][STORE_HASH_LEN + 1];
    int errnum[OBIA_STORE_MAX_REPLICAS + 1];
} verifier;

static bool is_hex2(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return false;
    return name[2] == '\0';
}

static unsigned hex2_value(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 2; i++)
        v = v << 4 | (unsigned)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
    return v;
}

static void report(verifier *v, size_t r, const char *hash_or_path, const char *what)
{
    if (v->problem)
        v->problem(v->ctx, v->s->roots[r].path, hash_or_path, what);
}

static void stray(verifier *v, size_t r, const char *dir, const char *name, const char *what)
{
    if (v->counting)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s%s", dir, name);
    v->st.stray++;
    report(v, r, path, what);
}

static void advance(verifier *v)
{
    v->done++;
    if (v->done > v->total)
        v->total = v->done;   /* objects added while verifying */
    if (v->progress)
        v->progress(v->ctx, v->done, v->total);
}

/* Open dir (relative to dirfd); *d is NULL when it does not exist. */
static bool open_dir(verifier *v, size_t r, int dirfd, const char *rel, const char *shown,
                     DIR **d)
{
    *d = NULL;
    int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ||
               store_io_error(v->err, &v->s->roots[r], "cannot open directory", shown, errno);
    *d = fdopendir(fd);
    if (!*d) {
        close(fd);
        return obia_error_set(v->err, OBIA_E_NOMEM, "out of memory reading %s/%s",
                              v->s->roots[r].path, shown);
    }
    return true;
}

/* readdir without . and ..; NULL at the end or on error (errno then set). */
static struct dirent *next_entry(DIR *d)
{
    struct dirent *e;
    do {
        errno = 0;
        e = readdir(d);
    } while (e && (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0));
    return e;
}

static bool read_error(verifier *v, size_t r, const char *shown)
{
    return store_io_error(v->err, &v->s->roots[r], "cannot read directory", shown, errno);
}

static unsigned char entry_type(DIR *d, const struct dirent *e)
{
    if (e->d_type != DT_UNKNOWN)
        return e->d_type;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return DT_UNKNOWN;
    return S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : DT_UNKNOWN;
}

/* ---- leftover temporary files -------------------------------------------------------- */

/* Whether name is "<pid>-..." of a process still running: its writer may be
 * between creating the file and locking it, so it is left for a later run. */
static bool owner_alive(const char *name)
{
    long pid = 0;
    int digits = 0;
    for (; name[digits] >= '0' && name[digits] <= '9' && digits < 10; digits++)
        pid = pid * 10 + (name[digits] - '0');
    if (digits == 0 || name[digits] != '-' || pid <= 0 || pid > INT32_MAX)
        return false;
    return pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static bool repair_copy(verifier *v, size_t src, size_t dst, const char *hash, obia_error *err);

/* A put that died between its renames: copy the object from a root that
 * has it to those that do not. The copy is checked against its name. */
static void finish_put(verifier *v, int fd)
{
    char hash[STORE_HASH_LEN + 1];
    ssize_t k = pread(fd, hash, STORE_HASH_LEN, 0);
    if (k != STORE_HASH_LEN)
        return;   /* the note itself was cut short: the put never began renaming */
    hash[STORE_HASH_LEN] = '\0';
    if (!obia_store_valid_hash(hash))
        return;
    obia_store *s = v->s;
    char rel[STORE_REL_LEN + 1];
    store_rel_path(hash, rel);
    uint64_t have = 0;
    for (size_t r = 0; r < s->nroots; r++) {
        struct stat st;
        if (fstatat(s->roots[r].objects, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            have |= UINT64_C(1) << r;
    }
    if (!have)
        return;
    bool finished = false;
    for (size_t dst = 0; dst < s->nroots; dst++) {
        if (have >> dst & 1)
            continue;
        bool done = false;
        for (size_t src = 0; !done && src < s->nroots; src++) {
            obia_error e;
            obia_error_clear(&e);
            done = (have >> src & 1) && repair_copy(v, src, dst, hash, &e);
        }
        finished |= done;
    }
    if (finished)
        v->st.interrupted++;
}

static bool clean_temps(verifier *v, size_t r)
{
    store_root *root = &v->s->roots[r];
    DIR *d;
    if (!open_dir(v, r, root->tmp, ".", "tmp", &d))
        return false;
    if (!d)
        return true;
    bool ok = true;
    struct dirent *e;
    while ((e = next_entry(d))) {
        if (entry_type(d, e) != DT_REG) {
            stray(v, r, "tmp/", e->d_name, "not a temporary file");
            continue;
        }
        if (owner_alive(e->d_name))
            continue;
        int fd = openat(root->tmp, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;   /* committed or aborted meanwhile */
        /* a writer holds its temporary file locked (which also covers writers
         * on other hosts sharing the root): only unlocked ones are leftovers */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            size_t len = strlen(e->d_name);
            if (r == 0 && len > 4 && strcmp(e->d_name + len - 4, ".put") == 0)
                finish_put(v, fd);
            if (unlinkat(root->tmp, e->d_name, 0) == 0)
                v->st.temp_removed++;
        }
        close(fd);
    }
    if (errno != 0)
        ok = read_error(v, r, "tmp");
    closedir(d);
    return ok;
}

/* ---- one object ----------------------------------------------------------------------- */

static int open_object(const store_root *root, const char *rel)
{
    /* atime updates would write to every disk on every fixity run */
    int fd = openat(root->objects, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = openat(root->objects, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    return fd;
}

/* Hash the copy in root r into v->actual[r]; false with errno on a read error. */
static bool hash_copy(verifier *v, size_t r, const char *rel)
{
    int fd = open_object(&v->s->roots[r], rel);
    if (fd < 0)
        return false;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    bool ok = EVP_DigestInit_ex(v->md, v->s->sha256, NULL);
    int e = ok ? 0 : EIO;
    for (;;) {
        ssize_t k = ok ? read(fd, v->buf, READ_BUF_SIZE) : 0;
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            ok = false;
            e = errno;
        }
        if (k <= 0)
            break;
        v->st.bytes += (uint64_t)k;
        if (!EVP_DigestUpdate(v->md, v->buf, (size_t)k)) {
            ok = false;
            e = EIO;
            break;
        }
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (ok && (!EVP_DigestFinal_ex(v->md, digest, &dlen) || dlen != 32)) {
        ok = false;
        e = EIO;
    }
    if (ok)
        store_hex(digest, v->actual[r]);
    /* a fixity run should not push the archive's hot files out of the cache */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    errno = e;
    return ok;
}

/* Copy the good copy in src to dst, hashing on the way: it is installed only
 * if it still matches its name. */
static bool repair_copy(verifier *v, size_t src, size_t dst, const char *hash, obia_error *err)
{
    store_root *from = &v->s->roots[src], *to = &v->s->roots[dst];
    char rel[STORE_REL_LEN + 1];
    store_rel_path(hash, rel);
    int fd = open_object(from, rel);
    if (fd < 0) {
        char name[STORE_REL_LEN + 16];
        snprintf(name, sizeof name, "objects/%s", rel);
        return store_io_error(err, from, "cannot open", name, errno);
    }
    store_temp t = {.fd = -1};
    bool ok = EVP_DigestInit_ex(v->md, v->s->sha256, NULL) ||
              obia_error_set(err, OBIA_E_IO, "object store: SHA-256 failed");
    ok = ok && store_temp_create(to, &t, err);
    while (ok) {
        ssize_t k = read(fd, v->buf, READ_BUF_SIZE);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            char name[STORE_REL_LEN + 16];
            snprintf(name, sizeof name, "objects/%s", rel);
            ok = store_io_error(err, from, "cannot read", name, errno);
        }
        if (k <= 0)
            break;
        ok = EVP_DigestUpdate(v->md, v->buf, (size_t)k) ||
             obia_error_set(err, OBIA_E_IO, "object store: SHA-256 failed");
        ok = ok && store_write_all(to, &t, v->buf, (size_t)k, err);
    }
    close(fd);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    char hex[65];
    if (ok) {
        ok = (EVP_DigestFinal_ex(v->md, digest, &dlen) && dlen == 32) ||
             obia_error_set(err, OBIA_E_IO, "object store: SHA-256 failed");
    }
    if (ok) {
        store_hex(digest, hex);
        if (strcmp(hex, hash) != 0)
            ok = obia_error_set(err, OBIA_E_IO,
                                "object store root %s: copy of %s changed while being read",
                                from->path, hash);
    }
    ok = ok && store_temp_sync(to, &t, err) && store_install(to, &t, hash, err);
    store_temp_discard(to, &t);
    return ok;
}

static void check_object(verifier *v, const char *hash, uint64_t present)
{
    obia_store *s = v->s;
    char rel[STORE_REL_LEN + 1];
    store_rel_path(hash, rel);
    v->st.objects++;
    size_t good = SIZE_MAX;
    for (size_t r = 0; r < s->nroots; r++) {
        if (!(present >> r & 1)) {
            /* a put may have added it since the directory was listed */
            struct stat st;
            if (fstatat(s->roots[r].objects, rel, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISREG(st.st_mode)) {
                v->state[r] = COPY_MISSING;
                v->st.missing++;
                continue;
            }
        }
        v->st.copies++;
        if (!hash_copy(v, r, rel)) {
            v->errnum[r] = errno;
            v->state[r] = errno == ENOENT ? COPY_MISSING : COPY_UNREADABLE;
        } else {
            v->state[r] = strcmp(v->actual[r], hash) == 0 ? COPY_GOOD : COPY_CORRUPT;
        }
        if (v->state[r] == COPY_GOOD) {
            v->st.good++;
            if (good == SIZE_MAX)
                good = r;
        } else if (v->state[r] == COPY_MISSING) {
            v->st.copies--;
            v->st.missing++;
        } else {
            v->st.corrupt++;
        }
        advance(v);
    }
    if (good == SIZE_MAX)
        v->st.unrepairable++;

    for (size_t r = 0; r < s->nroots; r++) {
        if (v->state[r] == COPY_GOOD)
            continue;
        char what[600], ebuf[128];
        int n;
        if (v->state[r] == COPY_MISSING)
            n = snprintf(what, sizeof what, "missing");
        else if (v->state[r] == COPY_CORRUPT)
            n = snprintf(what, sizeof what, "corrupt: content hashes to %s", v->actual[r]);
        else
            n = snprintf(what, sizeof what, "unreadable: %s",
                         strerror_r(v->errnum[r], ebuf, sizeof ebuf));
        size_t used = n < 0 ? 0 : (size_t)n < sizeof what ? (size_t)n : sizeof what - 1;
        if (good == SIZE_MAX) {
            snprintf(what + used, sizeof what - used, "; no good copy in any root");
        } else if (v->repair) {
            obia_error rerr;
            obia_error_clear(&rerr);
            if (repair_copy(v, good, r, hash, &rerr)) {
                v->st.repaired++;
                snprintf(what + used, sizeof what - used, "; repaired from %s",
                         s->roots[good].path);
            } else {
                v->repair_failed = true;
                if (v->err && !obia_error_is_set(v->err))
                    *v->err = rerr;
                snprintf(what + used, sizeof what - used, "; repair failed: %s", rerr.message);
            }
        }
        report(v, r, hash, what);
    }
}

/* ---- walking the roots ---------------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
    const copy_entry *x = a, *y = b;
    int c = memcmp(x->name, y->name, STORE_HASH_LEN);
    return c ? c : (int)x->root - (int)y->root;
}

static bool add_entry(verifier *v, const char *name, size_t r)
{
    if (v->nents == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        copy_entry *p = realloc(v->ents, cap * sizeof *p);
        if (!p)
            return obia_error_set(v->err, OBIA_E_NOMEM, "out of memory listing objects");
        v->ents = p;
        v->cap = cap;
    }
    memcpy(v->ents[v->nents].name, name, STORE_HASH_LEN + 1);
    v->ents[v->nents].root = (unsigned char)r;
    v->nents++;
    return true;
}

static bool check_leaf(verifier *v, unsigned ab, unsigned cd, uint64_t roots)
{
    char leaf[6], shown[24];
    snprintf(leaf, sizeof leaf, "%02x/%02x", ab, cd);
    snprintf(shown, sizeof shown, "objects/%s/", leaf);
    v->nents = 0;
    for (size_t r = 0; r < v->s->nroots; r++) {
        if (!(roots >> r & 1))
            continue;
        DIR *d;
        if (!open_dir(v, r, v->s->roots[r].objects, leaf, shown, &d))
            return false;
        if (!d)
            continue;
        bool ok = true;
        struct dirent *e;
        while (ok && (e = next_entry(d))) {
            const char *name = e->d_name;
            if (!obia_store_valid_hash(name))
                stray(v, r, shown, name, "not an object name");
            else if (hex2_value(name) != ab || hex2_value(name + 2) != cd)
                stray(v, r, shown, name, "in the wrong directory");
            else if (entry_type(d, e) != DT_REG)
                stray(v, r, shown, name, "not a regular file");
            else if (v->counting)
                v->total++;
            else
                ok = add_entry(v, name, r);
        }
        if (ok && errno != 0)
            ok = read_error(v, r, shown);
        closedir(d);
        if (!ok)
            return false;
    }
    if (v->counting)
        return true;
    if (v->nents > 1)
        qsort(v->ents, v->nents, sizeof *v->ents, entry_cmp);
    for (size_t i = 0; i < v->nents;) {
        uint64_t present = 0;
        size_t j = i;
        for (; j < v->nents && memcmp(v->ents[j].name, v->ents[i].name, STORE_HASH_LEN) == 0; j++)
            present |= UINT64_C(1) << v->ents[j].root;
        check_object(v, v->ents[i].name, present);
        i = j;
    }
    return true;
}

/* List the two-hex-digit subdirectories of rel in root r into mask[] (bit r);
 * anything else there is a stray. */
static bool list_level(verifier *v, size_t r, const char *rel, const char *shown,
                       uint64_t mask[256])
{
    DIR *d;
    if (!open_dir(v, r, v->s->roots[r].objects, rel, shown, &d))
        return false;
    if (!d)
        return true;
    struct dirent *e;
    while ((e = next_entry(d))) {
        if (!is_hex2(e->d_name))
            stray(v, r, shown, e->d_name, "not an object directory");
        else if (entry_type(d, e) != DT_DIR)
            stray(v, r, shown, e->d_name, "not a directory");
        else
            mask[hex2_value(e->d_name)] |= UINT64_C(1) << r;
    }
    bool ok = errno == 0 || read_error(v, r, shown);
    closedir(d);
    return ok;
}

static bool walk(verifier *v)
{
    uint64_t top[256] = {0};
    for (size_t r = 0; r < v->s->nroots; r++)
        if (!list_level(v, r, ".", "objects/", top))
            return false;
    for (unsigned ab = 0; ab < 256; ab++) {
        if (!top[ab])
            continue;
        uint64_t mid[256] = {0};
        char rel[3], shown[16];
        snprintf(rel, sizeof rel, "%02x", ab);
        snprintf(shown, sizeof shown, "objects/%02x/", ab);
        for (size_t r = 0; r < v->s->nroots; r++)
            if ((top[ab] >> r & 1) && !list_level(v, r, rel, shown, mid))
                return false;
        for (unsigned cd = 0; cd < 256; cd++)
            if (mid[cd] && !check_leaf(v, ab, cd, mid[cd]))
                return false;
    }
    return true;
}

bool obia_store_verify(obia_store *s, bool repair, obia_store_progress_fn progress,
                       obia_store_problem_fn problem, void *ctx, obia_store_stats *stats,
                       obia_error *err)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!s)
        return obia_error_set(err, OBIA_E_ARG, "obia_store_verify: no store");
    verifier *v = calloc(1, sizeof *v);
    if (v) {
        v->buf = malloc(READ_BUF_SIZE);
        v->md = EVP_MD_CTX_new();
    }
    bool ok = v && v->buf && v->md;
    if (!ok) {
        obia_error_set(err, OBIA_E_NOMEM, "out of memory verifying the object store");
    } else {
        v->s = s;
        v->repair = repair;
        v->progress = progress;
        v->problem = problem;
        v->ctx = ctx;
        v->err = err;
        for (size_t r = 0; ok && r < s->nroots; r++)
            ok = clean_temps(v, r);
        if (ok && progress) {
            v->counting = true;
            ok = walk(v);
            v->counting = false;
            if (ok)
                progress(ctx, 0, v->total);
        }
        ok = ok && walk(v) && !v->repair_failed;
        if (stats)
            *stats = v->st;
    }
    if (v) {
        free(v->buf);
        free(v->ents);
        EVP_MD_CTX_free(v->md);
        free(v);
    }
    return ok;
}
