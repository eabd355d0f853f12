/* The object store: opening roots, putting objects (from memory or streamed),
 * and the durable-write steps shared with repair (lib/store/verify.c). */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Streamed bytes are gathered into writes of this size: callers such as the
 * DICOM writer hand over one element at a time. */
#define WRITER_BUF_SIZE (256 * 1024)
#define TEMP_ATTEMPTS 100

struct obia_store_writer {
    obia_store *s;
    store_temp temp;        /* in the primary */
    EVP_MD_CTX *md;
    uint64_t size;
    unsigned char *buf;
    size_t len;
    bool failed;
    obia_error err;
};

/* Temporary names are pid and a sequence shared by every store of the
 * process; O_EXCL catches a name left by an earlier process with the same pid. */
static atomic_uint_fast64_t temp_seq;

/* ---- small helpers ---------------------------------------------------------------- */

void store_hex(const unsigned char digest[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}

bool obia_store_valid_hash(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < STORE_HASH_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[STORE_HASH_LEN] == '\0';
}

void store_rel_path(const char *hash, char rel[STORE_REL_LEN + 1])
{
    rel[0] = hash[0];
    rel[1] = hash[1];
    rel[2] = '/';
    rel[3] = hash[2];
    rel[4] = hash[3];
    rel[5] = '/';
    memcpy(rel + 6, hash, STORE_HASH_LEN);
    rel[STORE_REL_LEN] = '\0';
}

static void leaf_names(const char *hash, char ab[3], char leaf[6])
{
    ab[0] = leaf[0] = hash[0];
    ab[1] = leaf[1] = hash[1];
    ab[2] = '\0';
    leaf[2] = '/';
    leaf[3] = hash[2];
    leaf[4] = hash[3];
    leaf[5] = '\0';
}

static unsigned hex_value(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

bool store_io_error(obia_error *err, const store_root *r, const char *what, const char *name,
                    int errnum)
{
    char buf[128];
    /* the GNU strerror_r: thread-safe, returns the message */
    const char *msg = strerror_r(errnum, buf, sizeof buf);
    return obia_error_set(err, OBIA_E_IO, "object store root %s: %s %s: %s", r->path, what, name,
                          msg);
}

static bool temp_error(obia_error *err, const store_root *r, const char *what,
                       const store_temp *t, int errnum)
{
    char name[64];
    snprintf(name, sizeof name, "tmp/%s", t->name);
    return store_io_error(err, r, what, name, errnum);
}

/* ---- temporary files and installing them ------------------------------------------ */

/* A new file tmp/PID-N<suffix>, locked, in t. */
static bool temp_create(const store_root *r, store_temp *t, const char *suffix, obia_error *err)
{
    for (int attempt = 0; attempt < TEMP_ATTEMPTS; attempt++) {
        unsigned long long seq = atomic_fetch_add(&temp_seq, 1);
        snprintf(t->name, sizeof t->name, "%ld-%llu%s", (long)getpid(), seq, suffix);
        /* read-only: objects are never modified in place */
        int fd = openat(r->tmp, t->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            int e = errno;
            temp_error(err, r, "cannot create", t, e);
            t->name[0] = '\0';
            return false;
        }
        /* verify removes temporary files nobody holds locked; if it took this
         * one between open and flock, the name is already gone: try another */
        struct stat st;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                continue;
            unlinkat(r->tmp, t->name, 0);
            temp_error(err, r, "cannot lock", t, e);
            t->name[0] = '\0';
            return false;
        }
        if (fstat(fd, &st) != 0) {
            unlinkat(r->tmp, t->name, 0);
            close(fd);
            continue;
        }
        if (st.st_nlink == 0) {
            close(fd);
            continue;
        }
        t->fd = fd;
        return true;
    }
    t->name[0] = '\0';
    return obia_error_set(err, OBIA_E_IO,
                          "object store root %s: no free temporary file name in tmp/ after %d "
                          "attempts",
                          r->path, TEMP_ATTEMPTS);
}

bool store_temp_create(const store_root *r, store_temp *t, obia_error *err)
{
    return temp_create(r, t, ".tmp", err);
}

bool store_intent_create(const store_root *r, const char *hash, store_temp *t, obia_error *err)
{
    if (!temp_create(r, t, ".put", err))
        return false;
    /* the hash, then durable: the file and its name */
    int tmpfd = dup(r->tmp);
    bool ok = store_write_all(r, t, hash, STORE_HASH_LEN, err) && store_temp_sync(r, t, err);
    if (ok && (tmpfd < 0 || fsync(tmpfd) != 0))
        ok = store_io_error(err, r, "cannot sync", "tmp", errno);
    if (tmpfd >= 0)
        close(tmpfd);
    if (!ok)
        store_temp_discard(r, t);
    return ok;
}

void store_temp_discard(const store_root *r, store_temp *t)
{
    /* unlink while still locked, so verify never counts it as a leftover */
    if (t->name[0])
        unlinkat(r->tmp, t->name, 0);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->name[0] = '\0';
}

bool store_write_all(const store_root *r, store_temp *t, const void *p, size_t n,
                     obia_error *err)
{
    const unsigned char *q = p;
    while (n > 0) {
        ssize_t k = write(t->fd, q, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return temp_error(err, r, "cannot write", t, errno);
        }
        q += k;
        n -= (size_t)k;
    }
    return true;
}

/* Copy size bytes of src_fd (from offset 0) to t: in the kernel where it
 * can, else through a buffer. */
static bool copy_into(const store_root *r, store_temp *t, int src_fd, uint64_t size,
                      obia_error *err)
{
    off_t in = 0;
    uint64_t left = size;
    while (left > 0) {
        size_t chunk = left > (1u << 30) ? (1u << 30) : (size_t)left;
        ssize_t k = copy_file_range(src_fd, &in, t->fd, NULL, chunk, 0);
        if (k > 0) {
            left -= (uint64_t)k;
            continue;
        }
        if (k == 0)
            return temp_error(err, r, "cannot copy to", t, EIO);
        if (errno == EINTR)
            continue;
        if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
            errno == EPERM)
            break;
        return temp_error(err, r, "cannot copy to", t, errno);
    }
    if (left == 0)
        return true;
    unsigned char *buf = malloc(WRITER_BUF_SIZE);
    if (!buf)
        return obia_error_set(err, OBIA_E_NOMEM, "out of memory copying an object");
    bool ok = true;
    while (ok && left > 0) {
        size_t want = left > WRITER_BUF_SIZE ? WRITER_BUF_SIZE : (size_t)left;
        ssize_t k = pread(src_fd, buf, want, in);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            ok = temp_error(err, r, "cannot copy to", t, k < 0 ? errno : EIO);
            break;
        }
        ok = store_write_all(r, t, buf, (size_t)k, err);
        in += k;
        left -= (uint64_t)k;
    }
    free(buf);
    return ok;
}

bool store_temp_sync(const store_root *r, store_temp *t, obia_error *err)
{
    if (fsync(t->fd) != 0)
        return temp_error(err, r, "cannot sync", t, errno);
    return true;
}

static bool sync_dir(const store_root *r, const char *rel, obia_error *err)
{
    int fd = openat(r->objects, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char name[16];
    snprintf(name, sizeof name, "objects/%s", rel);
    if (fd < 0)
        return store_io_error(err, r, "cannot open directory", name, errno);
    bool ok = fsync(fd) == 0 || store_io_error(err, r, "cannot sync directory", name, errno);
    close(fd);
    return ok;
}

bool store_ensure_leaf(store_root *r, const char *hash, obia_error *err)
{
    unsigned ab = hex_value(hash[0]) << 4 | hex_value(hash[1]);
    unsigned leaf = ab << 8 | hex_value(hash[2]) << 4 | hex_value(hash[3]);
    if (atomic_load_explicit(&r->leaf_ready[leaf], memory_order_acquire))
        return true;
    char abname[3], leafname[6], name[16];
    leaf_names(hash, abname, leafname);
    /* the parent is synced even when the directory existed: another writer
     * may have made it and not synced yet */
    if (!atomic_load_explicit(&r->ab_ready[ab], memory_order_acquire)) {
        snprintf(name, sizeof name, "objects/%s", abname);
        if (mkdirat(r->objects, abname, 0755) != 0 && errno != EEXIST)
            return store_io_error(err, r, "cannot create directory", name, errno);
        if (!sync_dir(r, ".", err))
            return false;
        atomic_store_explicit(&r->ab_ready[ab], 1, memory_order_release);
    }
    snprintf(name, sizeof name, "objects/%s", leafname);
    if (mkdirat(r->objects, leafname, 0755) != 0 && errno != EEXIST)
        return store_io_error(err, r, "cannot create directory", name, errno);
    if (!sync_dir(r, abname, err))
        return false;
    atomic_store_explicit(&r->leaf_ready[leaf], 1, memory_order_release);
    return true;
}

bool store_sync_leaf(const store_root *r, const char *hash, obia_error *err)
{
    char abname[3], leafname[6];
    leaf_names(hash, abname, leafname);
    return sync_dir(r, leafname, err);
}

bool store_install(store_root *r, store_temp *t, const char *hash, obia_error *err)
{
    char rel[STORE_REL_LEN + 1];
    store_rel_path(hash, rel);
    if (!store_ensure_leaf(r, hash, err))
        return false;
    /* replacing a copy of the same name is fine: same bytes, or a bad copy */
    if (renameat(r->tmp, t->name, r->objects, rel) != 0) {
        char name[STORE_REL_LEN + 16];
        snprintf(name, sizeof name, "tmp/%s to objects/%s", t->name, rel);
        return store_io_error(err, r, "cannot rename", name, errno);
    }
    t->name[0] = '\0';
    return store_sync_leaf(r, hash, err);
}

/* ---- putting --------------------------------------------------------------------- */

static bool copy_present(const store_root *r, const char *rel, uint64_t size)
{
    struct stat st;
    return fstatat(r->objects, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
           (uint64_t)st.st_size == size;
}

/* Make the object durable in every root.  Its bytes come from mem, or from
 * src_fd (the streamed temporary file, which is temps[0]).  temps[] holds
 * one slot per root and is emptied on return.  Every copy's data is synced
 * before any is renamed, so a failure leaves no root with a new object. */
static bool place(obia_store *s, const char *hash, uint64_t size, const void *mem, int src_fd,
                  store_temp *temps, bool *existed, obia_error *err)
{
    char rel[STORE_REL_LEN + 1];
    store_rel_path(hash, rel);
    uint64_t need = 0;
    size_t nneed = 0;
    for (size_t r = 0; r < s->nroots; r++) {
        if (!copy_present(&s->roots[r], rel, size)) {
            need |= UINT64_C(1) << r;
            nneed++;
        }
    }
    if (existed)
        *existed = !(need & 1);

    bool ok = true;
    for (size_t r = 0; ok && r < s->nroots; r++) {
        if (!(need >> r & 1) || temps[r].fd >= 0)
            continue;
        ok = store_temp_create(&s->roots[r], &temps[r], err) &&
             (mem ? store_write_all(&s->roots[r], &temps[r], mem, (size_t)size, err)
                  : copy_into(&s->roots[r], &temps[r], src_fd, size, err));
    }
    /* start every disk writing before waiting on the first */
    if (ok && nneed > 1)
        for (size_t r = 0; r < s->nroots; r++)
            if (need >> r & 1)
                sync_file_range(temps[r].fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    for (size_t r = 0; ok && r < s->nroots; r++)
        if (need >> r & 1)
            ok = store_temp_sync(&s->roots[r], &temps[r], err);
    /* The renames into several roots cannot happen at once: a durable note
     * of the put, in the primary, lets verify finish it if the process dies
     * between them, so no root is left short of a copy. */
    store_temp intent = {.fd = -1};
    if (ok && nneed > 0 && s->nroots > 1)
        ok = store_intent_create(&s->roots[0], hash, &intent, err);
    for (size_t r = 0; ok && r < s->nroots; r++) {
        if (need >> r & 1)
            ok = store_install(&s->roots[r], &temps[r], hash, err);
        else
            /* the copy found may come from a writer that has not synced its
             * directory yet: acknowledging it is our promise too */
            ok = store_ensure_leaf(&s->roots[r], hash, err) &&
                 store_sync_leaf(&s->roots[r], hash, err);
    }
    for (size_t r = 0; r < s->nroots; r++)
        store_temp_discard(&s->roots[r], &temps[r]);
    store_temp_discard(&s->roots[0], &intent);
    return ok;
}

static void temps_init(store_temp *temps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        temps[i].fd = -1;
        temps[i].name[0] = '\0';
    }
}

bool obia_store_put(obia_store *s, const void *p, size_t n, char hash[65], bool *existed,
                    obia_error *err)
{
    if (!s || (!p && n > 0))
        return obia_error_set(err, OBIA_E_ARG, "obia_store_put: no store or no bytes");
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (!EVP_Digest(p ? p : "", n, digest, &dlen, s->sha256, NULL) || dlen != 32)
        return obia_error_set(err, OBIA_E_IO, "object store: SHA-256 failed");
    char hex[65];
    store_hex(digest, hex);
    store_temp temps[OBIA_STORE_MAX_REPLICAS + 1];
    temps_init(temps, s->nroots);
    if (!place(s, hex, n, p ? p : "", -1, temps, existed, err))
        return false;
    if (hash)
        memcpy(hash, hex, 65);
    return true;
}

obia_store_writer *obia_store_begin(obia_store *s, obia_error *err)
{
    if (!s) {
        obia_error_set(err, OBIA_E_ARG, "obia_store_begin: no store");
        return NULL;
    }
    obia_store_writer *w = calloc(1, sizeof *w);
    if (w) {
        w->md = EVP_MD_CTX_new();
        w->buf = malloc(WRITER_BUF_SIZE);
    }
    if (!w || !w->md || !w->buf) {
        if (w) {
            EVP_MD_CTX_free(w->md);
            free(w->buf);
            free(w);
        }
        obia_error_set(err, OBIA_E_NOMEM, "out of memory starting an object");
        return NULL;
    }
    w->s = s;
    obia_error_clear(&w->err);
    temps_init(&w->temp, 1);
    if (!EVP_DigestInit_ex(w->md, s->sha256, NULL)) {
        obia_error_set(err, OBIA_E_IO, "object store: SHA-256 initialisation failed");
        obia_store_abort(w);
        return NULL;
    }
    if (!store_temp_create(&s->roots[0], &w->temp, err)) {
        obia_store_abort(w);
        return NULL;
    }
    return w;
}

/* Hash and write bytes; on failure the temporary file goes at once. */
static bool writer_out(obia_store_writer *w, const void *p, size_t n)
{
    if (!EVP_DigestUpdate(w->md, p, n))
        obia_error_set(&w->err, OBIA_E_IO, "object store: SHA-256 failed");
    else if (store_write_all(&w->s->roots[0], &w->temp, p, n, &w->err))
        return true;
    w->failed = true;
    store_temp_discard(&w->s->roots[0], &w->temp);
    return false;
}

static bool writer_flush(obia_store_writer *w)
{
    size_t n = w->len;
    w->len = 0;
    return n == 0 || writer_out(w, w->buf, n);
}

bool obia_store_write(obia_store_writer *w, const void *p, size_t n)
{
    if (!w || w->failed)
        return false;
    if (n == 0)
        return true;
    if (!p) {
        obia_error_set(&w->err, OBIA_E_ARG, "obia_store_write: no bytes");
        w->failed = true;
        store_temp_discard(&w->s->roots[0], &w->temp);
        return false;
    }
    w->size += n;
    if (n <= WRITER_BUF_SIZE - w->len) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        return true;
    }
    if (!writer_flush(w))
        return false;
    if (n >= WRITER_BUF_SIZE)
        return writer_out(w, p, n);
    memcpy(w->buf, p, n);
    w->len = n;
    return true;
}

bool obia_store_sink(void *writer, const void *p, size_t n)
{
    return obia_store_write(writer, p, n);
}

bool obia_store_commit(obia_store_writer *w, char hash[65], uint64_t *size, bool *existed,
                       obia_error *err)
{
    if (!w)
        return obia_error_set(err, OBIA_E_ARG, "obia_store_commit: no writer");
    obia_store *s = w->s;
    bool ok = writer_flush(w) && !w->failed;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (ok && (!EVP_DigestFinal_ex(w->md, digest, &dlen) || dlen != 32)) {
        obia_error_set(&w->err, OBIA_E_IO, "object store: SHA-256 failed");
        ok = false;
    }
    if (!ok) {
        if (err && !obia_error_is_set(err))
            *err = w->err;
        obia_store_abort(w);
        return false;
    }
    char hex[65];
    store_hex(digest, hex);
    store_temp temps[OBIA_STORE_MAX_REPLICAS + 1];
    temps_init(temps, s->nroots);
    temps[0] = w->temp;
    w->temp.fd = -1;
    w->temp.name[0] = '\0';
    uint64_t n = w->size;
    ok = place(s, hex, n, NULL, temps[0].fd, temps, existed, err);
    obia_store_abort(w);
    if (ok) {
        if (hash)
            memcpy(hash, hex, 65);
        if (size)
            *size = n;
    }
    return ok;
}

void obia_store_abort(obia_store_writer *w)
{
    if (!w)
        return;
    store_temp_discard(&w->s->roots[0], &w->temp);
    EVP_MD_CTX_free(w->md);
    free(w->buf);
    free(w);
}

/* ---- finding ----------------------------------------------------------------------- */

bool obia_store_path(const obia_store *s, const char *hash, char *out, size_t cap)
{
    if (!s || !out || !obia_store_valid_hash(hash))
        return false;
    char rel[STORE_REL_LEN + 1];
    store_rel_path(hash, rel);
    int n = snprintf(out, cap, "%s/objects/%s", s->roots[0].path, rel);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return false;
    }
    return true;
}

bool obia_store_has(const obia_store *s, const char *hash)
{
    if (!s || !obia_store_valid_hash(hash))
        return false;
    char rel[STORE_REL_LEN + 1];
    store_rel_path(hash, rel);
    struct stat st;
    return fstatat(s->roots[0].objects, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
}

/* ---- opening ---------------------------------------------------------------------- */

static bool open_root(store_root *r, const char *path, dev_t *dev, ino_t *ino, obia_error *err)
{
    char *real = realpath(path, NULL);
    if (!real)
        return obia_error_set(err, OBIA_E_IO, "object store root %s: %s", path, strerror(errno));
    r->path = real;
    int fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return obia_error_set(err, OBIA_E_IO, "object store root %s: %s", real, strerror(errno));
    struct stat st;
    bool ok = fstat(fd, &st) == 0 ||
              obia_error_set(err, OBIA_E_IO, "object store root %s: %s", real, strerror(errno));
    if (ok) {
        *dev = st.st_dev;
        *ino = st.st_ino;
    }
    bool made = false;
    static const char *const dirs[] = {"objects", "tmp"};
    for (size_t i = 0; ok && i < 2; i++) {
        if (mkdirat(fd, dirs[i], 0755) == 0)
            made = true;
        else if (errno != EEXIST)
            ok = store_io_error(err, r, "cannot create directory", dirs[i], errno);
    }
    if (ok && made && fsync(fd) != 0)
        ok = store_io_error(err, r, "cannot sync directory", ".", errno);
    if (ok) {
        r->objects = openat(fd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->objects < 0)
            ok = store_io_error(err, r, "cannot open directory", "objects", errno);
    }
    if (ok) {
        r->tmp = openat(fd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->tmp < 0)
            ok = store_io_error(err, r, "cannot open directory", "tmp", errno);
    }
    close(fd);
    return ok;
}

obia_store *obia_store_open(const char *primary, const char *const *replicas, size_t nreplicas,
                            obia_error *err)
{
    if (!primary || (nreplicas > 0 && !replicas)) {
        obia_error_set(err, OBIA_E_ARG, "obia_store_open: no primary root or no replica list");
        return NULL;
    }
    if (nreplicas > OBIA_STORE_MAX_REPLICAS) {
        obia_error_set(err, OBIA_E_LIMIT, "object store: %zu replicas, at most %d supported",
                       nreplicas, OBIA_STORE_MAX_REPLICAS);
        return NULL;
    }
    obia_store *s = calloc(1, sizeof *s);
    if (s) {
        s->nroots = 1 + nreplicas;
        s->roots = calloc(s->nroots, sizeof *s->roots);
    }
    if (!s || !s->roots) {
        free(s);
        obia_error_set(err, OBIA_E_NOMEM, "out of memory opening the object store");
        return NULL;
    }
    for (size_t i = 0; i < s->nroots; i++)
        s->roots[i].objects = s->roots[i].tmp = -1;
    bool ok = (s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) != NULL ||
              obia_error_set(err, OBIA_E_UNSUPPORTED, "object store: OpenSSL has no SHA-256");
    dev_t devs[OBIA_STORE_MAX_REPLICAS + 1];
    ino_t inos[OBIA_STORE_MAX_REPLICAS + 1];
    for (size_t i = 0; ok && i < s->nroots; i++) {
        const char *path = i == 0 ? primary : replicas[i - 1];
        if (!path) {
            ok = obia_error_set(err, OBIA_E_ARG, "object store: replica %zu has no path", i);
            break;
        }
        ok = open_root(&s->roots[i], path, &devs[i], &inos[i], err);
        for (size_t j = 0; ok && j < i; j++)
            if (devs[j] == devs[i] && inos[j] == inos[i])
                ok = obia_error_set(err, OBIA_E_ARG,
                                    "object store: root %s is given twice (as %s too)",
                                    s->roots[i].path, s->roots[j].path);
    }
    if (!ok) {
        obia_store_close(s);
        return NULL;
    }
    return s;
}

void obia_store_close(obia_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nroots; i++) {
        if (s->roots[i].objects >= 0)
            close(s->roots[i].objects);
        if (s->roots[i].tmp >= 0)
            close(s->roots[i].tmp);
        free(s->roots[i].path);
    }
    free(s->roots);
    EVP_MD_free(s->sha256);
    free(s);
}
