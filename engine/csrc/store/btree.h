/* B+tree of byte-string keys over the pager; values of any size up to
 * BZ_MAX_VALUE (large ones in overflow chains). Page layouts and invariants:
 * engine/doc/btree_format.md.
 *
 *  - A tree is named by its root page number, which never changes for the
 *    life of the tree (a root split moves the root's contents to two new
 *    children; a root collapse pulls its only child back up).
 *  - Keys order bytewise (memcmp, shorter first on a common prefix).
 *  - Every write must run inside a pager write transaction. A failed write
 *    may leave the tree half-changed: the caller rolls the transaction back.
 *  - Every page read is validated (kind, counts, offsets, lengths); damage is
 *    BZ_CORRUPT with err->page naming the page. Nothing reads out of bounds.
 */
#ifndef BZ_BTREE_H
#define BZ_BTREE_H

#include "bz.h"
#include "pager.h"

#define BZ_MAX_KEY   1024u
#define BZ_MAX_VALUE (16u * 1024u * 1024u)
#define BT_MAX_DEPTH 40            /* deeper is a cycle or corruption */

/* A caller-owned growable byte buffer. Start zeroed ({0}); functions that
 * fill one grow it with realloc and set len; release with bz_buf_free.
 * bz_buf_borrow starts one on storage of the caller's instead (not freed;
 * growing past it moves the bytes to the heap). Under ASan, borrowed storage
 * should end its allocation, so that a write past cap still hits a redzone. */
typedef struct bz_buf {
    uint8_t *data;
    size_t len, cap;
    int borrowed;                 /* data is the caller's storage, not ours to free */
} bz_buf;
void bz_buf_borrow(bz_buf *b, uint8_t *storage, size_t cap);
int  bz_buf_reserve(bz_buf *b, size_t cap, bz_err *err);
int  bz_buf_set(bz_buf *b, const void *data, size_t n, bz_err *err);
void bz_buf_free(bz_buf *b);

/* Allocates an empty tree (one empty leaf) and returns its root. */
/* The key order of every tree: memcmp, and on a common prefix the shorter key first. */
int bt_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

int bt_create(bz_pager *p, bz_pgno *root, bz_err *err);
/* Frees every page of the tree, root included. */
int bt_drop(bz_pager *p, bz_pgno root, bz_err *err);
/* Frees every page but the root, which becomes an empty leaf. */
int bt_clear(bz_pager *p, bz_pgno root, bz_err *err);

int bt_get(bz_pager *p, bz_pgno root, const uint8_t *key, size_t klen,
           bz_buf *val, int *found, bz_err *err);
int bt_put(bz_pager *p, bz_pgno root, const uint8_t *key, size_t klen,
           const uint8_t *val, size_t vlen, int *replaced, bz_err *err);
int bt_delete(bz_pager *p, bz_pgno root, const uint8_t *key, size_t klen,
              int *existed, bz_err *err);

/* A position in a tree: the path of (page, index) from the root to a leaf
 * slot. Valid only while the tree is unchanged (the store re-seeks after a
 * change). Holds no page references. */
typedef struct bt_cursor {
    bz_pager *p;
    bz_pgno root;
    int depth;                       /* levels on the path; 0 = not positioned */
    int valid;                       /* 1: positioned on an entry */
    bz_pgno pg[BT_MAX_DEPTH];
    int idx[BT_MAX_DEPTH];           /* child index (interior) / slot (leaf) */
} bt_cursor;

enum bt_seek_mode {
    BT_SEEK_GE, BT_SEEK_GT,          /* first key >= / > k */
    BT_SEEK_LE, BT_SEEK_LT,          /* last key <= / < k */
    BT_FIRST, BT_LAST                /* k ignored */
};

void bt_cursor_init(bt_cursor *c, bz_pager *p, bz_pgno root);
/* Positions the cursor; c->valid says whether an entry was found. */
int  bt_seek(bt_cursor *c, int mode, const uint8_t *key, size_t klen, bz_err *err);
int  bt_next(bt_cursor *c, bz_err *err);          /* c->valid = 0 past the end */
int  bt_prev(bt_cursor *c, bz_err *err);
/* Reads the entry under a valid cursor; either buffer may be NULL. */
int  bt_read(bt_cursor *c, bz_buf *key, bz_buf *val, bz_err *err);

/* Structural verification of one tree. visit(ctx, pgno, err) is called once
 * for every page the tree owns (its nodes and overflow pages); it fails the
 * check (returning its rc) when a page is out of range or already seen. */
typedef struct bt_check_stats {
    uint32_t depth;
    uint64_t entries;
    uint32_t leaf_pages, interior_pages, overflow_pages, underfull_pages;
} bt_check_stats;
int bt_check(bz_pager *p, bz_pgno root, int (*visit)(void *ctx, bz_pgno pgno, bz_err *err),
             void *ctx, bt_check_stats *out, bz_err *err);

#endif
