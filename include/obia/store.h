/*
 * The object store: where the archive keeps the bytes of every stored image.
 *
 * An object is named by the SHA-256 of its bytes (64 lowercase hex digits)
 * and kept as ROOT/objects/ab/cd/<hash>, ab and cd being the hash's first two
 * pairs of digits.  A store has a primary root and zero or more replica roots
 * (directories on physically separate disks); every object is written to all
 * of them before a put returns true, each copy through a temporary file in
 * ROOT/tmp that is fsync'ed, renamed into place, and whose directory is
 * fsync'ed.  Verification re-hashes every copy in every root and can repair
 * missing or corrupt copies from a good one.  docs/store.md says what is
 * guaranteed.
 *
 * Memory: the store owns its handle and writers; callers own every buffer
 * they pass.  Threads: one store may be shared by any number of threads, each
 * with its own writers (a writer is used by one thread at a time).  Other
 * processes may use the same roots at the same time.
 */
#ifndef OBIA_STORE_H
#define OBIA_STORE_H

#include "obia/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct obia_store obia_store;

#define OBIA_STORE_MAX_REPLICAS 63

/* Open a store.  Every root must be an existing directory (an unmounted disk
 * is not silently replaced by its mount point's parent); objects/ and tmp/
 * are created in it when missing.  Two roots may not be the same directory. */
obia_store *obia_store_open(const char *primary, const char *const *replicas, size_t nreplicas,
                            obia_error *err);
void obia_store_close(obia_store *s);

/* ---- putting objects ------------------------------------------------------------ */

/* Put n bytes from memory.  True once the object is durable in every root;
 * hash receives its name.  existed (may be NULL) says the primary already had
 * it: then nothing is rewritten there, but a root missing its copy (or
 * holding one of the wrong size) gets it written. */
bool obia_store_put(obia_store *s, const void *p, size_t n, char hash[65], bool *existed,
                    obia_error *err);

/* Streaming put: bytes written to a temporary file and hashed on the way. */
typedef struct obia_store_writer obia_store_writer;

obia_store_writer *obia_store_begin(obia_store *s, obia_error *err);
/* Append bytes.  The first failure is kept (and the temporary file removed);
 * later writes do nothing and return false; commit reports the error. */
bool obia_store_write(obia_store_writer *w, const void *p, size_t n);
/* obia_store_write as an obia_sink_fn (include/obia/dicom.h); ctx is the writer. */
bool obia_store_sink(void *writer, const void *p, size_t n);
/* Finish: true once the object is durable in every root, as obia_store_put.
 * hash, size and existed may be NULL.  The writer is freed whatever the
 * outcome; do not abort it afterwards. */
bool obia_store_commit(obia_store_writer *w, char hash[65], uint64_t *size, bool *existed,
                       obia_error *err);
/* Give up: the temporary file is removed and the writer freed.  NULL is a no-op. */
void obia_store_abort(obia_store_writer *w);

/* ---- finding objects ------------------------------------------------------------- */

/* Whether s is 64 lowercase hex digits. */
bool obia_store_valid_hash(const char *s);
/* Path of an object's primary copy, written to out (NUL-terminated).  False
 * if hash is not a valid hash or the path does not fit in cap. */
bool obia_store_path(const obia_store *s, const char *hash, char *out, size_t cap);
/* Whether the primary holds a regular file named hash (its content is not
 * checked; that is verification's job). */
bool obia_store_has(const obia_store *s, const char *hash);

/* ---- verification ---------------------------------------------------------------- */

typedef struct obia_store_stats {
    uint64_t objects;       /* distinct objects found in any root */
    uint64_t copies;        /* object files found, all roots together */
    uint64_t bytes;         /* bytes hashed */
    uint64_t good;          /* copies whose content matches their name */
    uint64_t missing;       /* copies absent from a root while another root has the object */
    uint64_t corrupt;       /* copies whose content does not match their name, or unreadable */
    uint64_t stray;         /* entries that are not objects (bad name, wrong directory, not a file) */
    uint64_t temp_removed;  /* leftover temporary files removed */
    uint64_t repaired;      /* copies restored from a good copy */
    uint64_t unrepairable;  /* objects with no good copy in any root */
    uint64_t interrupted;   /* puts cut short between their roots, finished by verify */
} obia_store_stats;

/* done and total count object files examined; total is known before the first call. */
typedef void (*obia_store_progress_fn)(void *ctx, uint64_t done, uint64_t total);
/* One call per problem: root is the root's path; hash_or_path the object's
 * hash, or for a stray the entry's path relative to the root; what says what
 * is wrong and, when repair was asked, what was done ("missing; repaired from
 * /disk2/archive"). */
typedef void (*obia_store_problem_fn)(void *ctx, const char *root, const char *hash_or_path,
                                      const char *what);

/* Verify every copy in every root; with repair, restore missing and corrupt
 * copies from a good one (same durability as a put; a restored copy is
 * hashed while written).  Leftover temporary files not in use by a writer are
 * removed whatever repair says; strays are only reported.  Callbacks and
 * stats may be NULL.  Returns false only when verification could not be
 * carried out (a root cannot be read, out of memory) or a repair failed; the
 * problems found are in stats and the callbacks. */
bool obia_store_verify(obia_store *s, bool repair, obia_store_progress_fn progress,
                       obia_store_problem_fn problem, void *ctx, obia_store_stats *stats,
                       obia_error *err);

#endif
