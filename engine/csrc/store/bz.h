/* Shared definitions of BlazeDB's storage core: result codes and the error
 * record every layer fills in.  One concern per file, LevelDB style:
 *   vfs.h / vfs_os.c / vfs_mem.c / vfs_fault.c  all file I/O
 *   crc32c.[ch]                                  checksums
 *   pager.[ch]                                   pages, cache, free list, header page
 *   wal.[ch]                                     write-ahead log, recovery, checkpoints
 *   btree.[ch]                                   B+tree of byte keys, overflow chains
 *   store.[ch]                                   catalog of named trees, transactions, check()
 *   store_module.c                               the Python binding `engine._store`
 */
#ifndef BZ_H
#define BZ_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t bz_pgno;           /* page number; 0 is the header page, never a tree page */

enum bz_rc {
    BZ_OK = 0,
    BZ_NOTFOUND,      /* key / tree absent (not an error for most callers) */
    BZ_IOERR,         /* an OS-level I/O error; err->sys_errno says which */
    BZ_FULL,          /* ENOSPC / EFBIG */
    BZ_READONLY,      /* EROFS, or a write to a read-only handle */
    BZ_NOFILES,       /* EMFILE / ENFILE */
    BZ_CORRUPT,       /* bad checksum, bad structure; err->page / err->frame say where */
    BZ_LOCKED,        /* another writer holds the file */
    BZ_NOMEM,
    BZ_TOOBIG,        /* a key or value beyond the documented limits */
    BZ_MISUSE,        /* API misuse: commit without begin, use after close, ... */
    BZ_EXISTS         /* tree already exists */
};

/* The error record: the first failure wins; layers add context to msg. */
typedef struct bz_err {
    int rc;               /* enum bz_rc */
    int sys_errno;        /* errno for BZ_IOERR / BZ_FULL / BZ_READONLY / BZ_NOFILES */
    int64_t page;         /* -1 when not about a page */
    int64_t frame;        /* -1 when not about a WAL frame */
    char msg[256];
} bz_err;

void bz_err_clear(bz_err *e);
/* Sets e (unless already set) and returns rc; printf-style message. */
int bz_err_set(bz_err *e, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Maps an errno from a failed system call to BZ_IOERR/BZ_FULL/BZ_READONLY/BZ_NOFILES. */
int bz_err_from_errno(bz_err *e, int sys_errno, const char *what, const char *path);

/* For hot plumbing whose branches say nothing about the input (CRC loops,
 * cache lists, locks): no libFuzzer edge/comparison tracing there. Under the
 * fuzzing build the comparison hooks cost more than such functions' own work.
 * ASan still checks every access. */
#if defined(__clang__)
#define BZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define BZ_NO_COVERAGE
#endif

/* BZ_ASAN: built under AddressSanitizer (gcc says so with __SANITIZE_ADDRESS__,
 * clang with the address_sanitizer feature); <sanitizer/asan_interface.h> is
 * then available for manual poisoning and range checks. */
#if defined(__SANITIZE_ADDRESS__)
#define BZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BZ_ASAN 1
#endif
#endif

/* Memory a module keeps for reuse instead of freeing it (idle buffers) is
 * poisoned while idle, so that ASan still reports a stray access to it. */
#ifdef BZ_ASAN
#include <sanitizer/asan_interface.h>
#define BZ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define BZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define BZ_POISON(p, n) ((void)(p), (void)(n))
#define BZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif
