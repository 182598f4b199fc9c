/* The pager: fixed-size pages of one database file, read through the WAL.
 *
 * Contract between the pager (pager.c, wal.c) and the B+tree (btree.c):
 *  - Pages are BZ_PAGE_SIZE bytes. The last BZ_PAGE_TRAILER bytes of every
 *    page belong to the pager (CRC32C of the rest); tree code uses only the
 *    first BZ_PAGE_USABLE bytes.
 *  - Page 0 is the header page (magic, version, page size, page count,
 *    free-list head, catalog root, checksum); the pager owns it. Tree code
 *    reads and sets the catalog root through pager_catalog_root/_set.
 *  - pager_get returns a read-only view, verified against its checksum the
 *    first time it is read from disk (BZ_CORRUPT naming the page otherwise).
 *  - Before changing a page, call pager_write: inside a write transaction it
 *    makes the page part of the transaction (copy-on-write) and returns the
 *    writable buffer. Writes outside a transaction are BZ_MISUSE.
 *  - pager_alloc returns a zeroed writable page (reusing a freed page first);
 *    pager_free puts a page at the head of the free list at once (a later
 *    pager_alloc in the same transaction may reuse it; rollback undoes both);
 *    drop your reference to the page before freeing it.
 *  - Every page handle obtained from get/write/alloc is released with
 *    pager_unref; the cache may evict unreferenced clean pages.
 *  - Rollback restores every page and the header as of begin.
 */
#ifndef BZ_PAGER_H
#define BZ_PAGER_H

#include "bz.h"
#include "vfs.h"

#define BZ_PAGE_SIZE 4096
#define BZ_PAGE_TRAILER 4
#define BZ_PAGE_USABLE (BZ_PAGE_SIZE - BZ_PAGE_TRAILER)

typedef struct bz_pager bz_pager;

typedef struct bz_page {
    bz_pgno pgno;
    uint8_t *data;        /* BZ_PAGE_SIZE bytes; writable only after pager_write */
    /* private to the pager below */
    int refs;
    int dirty;
    struct bz_page *hash_next, *lru_prev, *lru_next;
    struct bz_page *dirty_next;   /* the transaction's pages, newest first */
    uint8_t *orig;                /* content as of begin (NULL for a page new in this txn) */
    int orphan;                   /* dropped by rollback while still referenced */
} bz_page;

typedef struct bz_pager_opts {
    int readonly;
    double lock_timeout;          /* seconds to wait for the writer lock; 0 = fail at once */
    uint32_t checkpoint_pages;    /* auto-checkpoint when the WAL holds more frames than this */
    uint32_t cache_pages;         /* clean-page cache size */
    int must_exist;               /* Store(create=False): a missing file is an error */
} bz_pager_opts;

/* How the pager waits for a lock (default: nanosleep). The Python binding
 * installs one that releases the GIL so another thread can let go of it. */
void pager_set_sleep_hook(void (*sleep_fn)(double seconds));

int  pager_open(bz_vfs *vfs, const char *path, const bz_pager_opts *opts, bz_pager **out, bz_err *err);
int  pager_close(bz_pager *p, bz_err *err);   /* checkpoints when writable, releases locks */

int  pager_begin(bz_pager *p, bz_err *err);    /* start a write transaction */
int  pager_commit(bz_pager *p, bz_err *err);   /* WAL frames + commit frame + one sync */
int  pager_rollback(bz_pager *p, bz_err *err);
int  pager_in_txn(const bz_pager *p);

/* A read snapshot for a read-only handle of a file another process writes:
 * takes READ shared and refreshes the view of the WAL. No-op for the writer.
 * Calls nest: an inner begin/end pair stays on the outer snapshot, so holding
 * an outer read (e.g. for the life of a cursor) makes many calls see one
 * committed state. Every begin that returned BZ_OK needs one end. */
int  pager_read_begin(bz_pager *p, bz_err *err);
void pager_read_end(bz_pager *p);

int  pager_get(bz_pager *p, bz_pgno pgno, bz_page **out, bz_err *err);
int  pager_write(bz_pager *p, bz_page *pg, bz_err *err);
int  pager_alloc(bz_pager *p, bz_page **out, bz_err *err);
int  pager_free(bz_pager *p, bz_pgno pgno, bz_err *err);
void pager_unref(bz_pager *p, bz_page *pg);

bz_pgno pager_catalog_root(const bz_pager *p);
int  pager_set_catalog_root(bz_pager *p, bz_pgno root, bz_err *err);
uint32_t pager_page_count(const bz_pager *p);

/* Copies the WAL into the database file and resets the WAL. Waits up to
 * lock_timeout for read-only handles to finish a read (BZ_LOCKED otherwise).
 * BZ_MISUSE inside a transaction; a no-op on a read-only handle. */
int  pager_checkpoint(bz_pager *p, bz_err *err);
int  pager_readonly(const bz_pager *p);

/* For check(): calls fn for every page on the free list, in order. */
int  pager_walk_freelist(bz_pager *p, int (*fn)(void *ctx, bz_pgno pgno), void *ctx, bz_err *err);

/* Numbers for stats(): pages, free pages, WAL frames, cache hits/misses, ... */
typedef struct bz_pager_stats {
    uint32_t page_count, free_pages, wal_frames, wal_committed_frames;
    uint64_t cache_hits, cache_misses, checkpoints, syncs;
    uint64_t commits, rollbacks, checkpoints_skipped;
    uint32_t cached_pages;
} bz_pager_stats;
void pager_stats(const bz_pager *p, bz_pager_stats *out);

#endif
