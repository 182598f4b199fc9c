/* The store: named B+trees over one pager (one database file + its WAL).
 * This is the C API the Python binding (store_module.c) calls; it implements
 * docs/CONTRACTS.md section 1 `Store`.
 *
 * Conventions
 *  - Every function returns a bz_rc (BZ_OK on success) and fills *err on
 *    failure (bz_err_set). Nothing aborts.
 *  - Tree names and keys are byte strings with explicit lengths (the binding
 *    passes tree names UTF-8 encoded). Keys order bytewise: memcmp, shorter
 *    first on a common prefix.
 *  - An unknown tree name returns BZ_NOTFOUND with err->msg naming it (the
 *    binding raises KeyError(name)). "Key absent" is NOT an error: it is
 *    reported through the *found / *existed out-parameters with BZ_OK.
 *  - Limits: keys 0..BZ_MAX_KEY bytes, values 0..BZ_MAX_VALUE bytes, tree
 *    names 0..BZ_MAX_TREE_NAME bytes; beyond them BZ_TOOBIG (nothing changed).
 *  - A bz_store is not thread-safe: the binding serializes all calls on one
 *    store (and its cursors) with its own lock.
 *
 * Transactions
 *  - bz_store_begin/commit/rollback delegate to the pager. A nested begin, or
 *    commit/rollback without begin, is BZ_MISUSE.
 *  - A write outside a transaction autocommits: it runs in its own
 *    transaction that commits before the call returns (and is rolled back if
 *    the call fails, so a failed autocommit write changes nothing).
 *  - A write that fails inside an explicit transaction with an error that may
 *    have left pages half-changed (I/O errors, BZ_CORRUPT, BZ_NOMEM) rolls the
 *    whole transaction back in memory at once; the transaction is then
 *    "failed": bz_store_in_txn() still returns 1, every further write and
 *    commit returns BZ_MISUSE ("transaction failed; roll back"), reads see
 *    the last committed state, and bz_store_rollback() ends it with BZ_OK.
 *    Errors detected before anything changed (BZ_TOOBIG, BZ_NOTFOUND tree,
 *    BZ_MISUSE, BZ_READONLY) leave the transaction intact.
 *  - A readonly store reads a committed snapshot refreshed at the start of
 *    each call (pager_read_begin/end); its writes and begin return BZ_READONLY.
 */
#ifndef BZ_STORE_H
#define BZ_STORE_H

#include "bz.h"
#include "vfs.h"
#include "pager.h"
#include "btree.h"     /* bz_buf, BZ_MAX_KEY, BZ_MAX_VALUE */

#define BZ_MAX_TREE_NAME 255

typedef struct bz_store bz_store;
typedef struct bz_cursor bz_cursor;

/* ---- open / close ------------------------------------------------------ */

/* Opens (recovering the WAL) or, when `create` is nonzero and the file does
 * not exist, creates the database `path` in `vfs` (the vfs is retained while
 * open). With create == 0 and no file: BZ_NOTFOUND. Writer-lock waiting and
 * readonly mode are the pager's (opts). */
int  bz_store_open(bz_vfs *vfs, const char *path, const bz_pager_opts *opts, int create,
                   bz_store **out, bz_err *err);
/* Rolls back an open transaction, checkpoints (when writable), releases the
 * lock and frees the store. Open cursors are detached: their next returns
 * BZ_MISUSE; they must still be freed with bz_cursor_free. The store is freed
 * even when an error is returned. */
int  bz_store_close(bz_store *s, bz_err *err);
int  bz_store_readonly(const bz_store *s);
/* The store's pager, for the binding: a read-only scan holds an outer
 * pager_read_begin/end around its whole life to see one snapshot. */
bz_pager *bz_store_pager(bz_store *s);

/* ---- transactions ------------------------------------------------------ */
int  bz_store_begin(bz_store *s, bz_err *err);
int  bz_store_commit(bz_store *s, bz_err *err);
int  bz_store_rollback(bz_store *s, bz_err *err);
int  bz_store_in_txn(const bz_store *s);          /* 1 inside begin..commit/rollback */
int  bz_store_checkpoint(bz_store *s, bz_err *err);   /* BZ_MISUSE inside a transaction */

/* ---- trees ------------------------------------------------------------- */
int  bz_store_create_tree(bz_store *s, const char *name, size_t name_len,
                          int *created, bz_err *err);       /* *created = 0 if it existed */
int  bz_store_drop_tree(bz_store *s, const char *name, size_t name_len,
                        int *dropped, bz_err *err);         /* frees every page of the tree */
/* Calls fn(ctx, name, name_len) for every tree in sorted (bytewise) order;
 * a nonzero return from fn stops the walk and is returned as is. */
int  bz_store_list_trees(bz_store *s, int (*fn)(void *ctx, const char *name, size_t name_len),
                         void *ctx, bz_err *err);

/* ---- records ----------------------------------------------------------- */
/* Value ownership: `val` is a caller-owned growable buffer (bz_buf, see
 * btree.h). get grows it with realloc as needed and sets val->len; the caller
 * keeps and reuses it across calls and releases it with bz_buf_free. On
 * *found == 0, val->len is 0. */
int  bz_store_get(bz_store *s, const char *tree, size_t tree_len,
                  const uint8_t *key, size_t klen, bz_buf *val, int *found, bz_err *err);
int  bz_store_put(bz_store *s, const char *tree, size_t tree_len,
                  const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                  int *replaced, bz_err *err);
int  bz_store_delete(bz_store *s, const char *tree, size_t tree_len,
                     const uint8_t *key, size_t klen, int *existed, bz_err *err);
int  bz_store_count(bz_store *s, const char *tree, size_t tree_len, uint64_t *out, bz_err *err);
int  bz_store_clear(bz_store *s, const char *tree, size_t tree_len, uint64_t *removed, bz_err *err);

/* ---- cursors (scan) ---------------------------------------------------- */
/* Bounds: keys k with start <= k < stop (each end optional; the include_*
 * flags choose <= / < ). reverse walks from the high end down. Bounds are
 * copied; the caller's buffers need not outlive the call. */
typedef struct bz_range {
    const uint8_t *start; size_t start_len; int has_start; int include_start;
    const uint8_t *stop;  size_t stop_len;  int has_stop;  int include_stop;
    int reverse;
} bz_range;

/* A cursor stays valid while the store changes: it remembers the last key it
 * returned and, when the store's change counter moved since, re-seeks to the
 * next key after (before, reversed) it. If its tree is dropped, it ends. */
int  bz_cursor_open(bz_store *s, const char *tree, size_t tree_len, const bz_range *range,
                    bz_cursor **out, bz_err *err);
/* Next pair: BZ_OK with *done = 0 and key/val filled (caller-owned bz_bufs as
 * for get), or BZ_OK with *done = 1 at the end (then every later call also
 * says done). */
int  bz_cursor_next(bz_cursor *c, bz_buf *key, bz_buf *val, int *done, bz_err *err);
void bz_cursor_free(bz_cursor *c);

/* ---- check ------------------------------------------------------------- */
typedef struct bz_check_tree {
    char *name; size_t name_len;   /* malloc'd, NUL-terminated copy */
    bz_pgno root;
    uint32_t depth;                /* levels; 1 = the root is a leaf */
    uint64_t entries;
    uint32_t leaf_pages, interior_pages, overflow_pages;
} bz_check_tree;

typedef struct bz_check_report {
    uint32_t page_count;           /* pages in the file, header included */
    uint32_t header_pages;         /* 1 */
    uint32_t catalog_pages;        /* pages of the catalog tree */
    uint32_t catalog_depth;
    uint32_t leaf_pages, interior_pages, overflow_pages;   /* all user trees */
    uint32_t free_pages;           /* pages owned by the free list (trunks included) */
    uint32_t underfull_pages;      /* non-root pages below the fill target (informational) */
    uint64_t entries;              /* all user trees */
    size_t ntrees;
    bz_check_tree *trees;          /* sorted by name */
} bz_check_report;

/* Verifies the whole database: every page 1..page_count-1 read (checksums)
 * and reachable exactly once (catalog, trees, overflow chains, free list),
 * none leaked; page kinds, cell bounds, key order within and across pages,
 * equal leaf depth, non-empty non-root pages, overflow lengths, entry counts
 * against the catalog. BZ_OK fills *out (free with bz_check_report_free);
 * BZ_CORRUPT sets err->page to the first bad page and err->msg says why. */
int  bz_store_check(bz_store *s, bz_check_report *out, bz_err *err);
void bz_check_report_free(bz_check_report *r);

/* ---- stats ------------------------------------------------------------- */
typedef struct bz_store_stats {
    bz_pager_stats pager;          /* pages, free pages, WAL frames, cache hits/misses, ... */
    uint32_t trees;                /* number of trees in the catalog */
    uint64_t changes;              /* the change counter (bumped by every write/rollback) */
} bz_store_stats;
int  bz_store_stats_get(bz_store *s, bz_store_stats *out, bz_err *err);

#endif
