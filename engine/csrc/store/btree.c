/* B+tree of byte-string keys over the pager. Format and invariants:
 * engine/doc/btree_format.md. In short:
 *
 *   node page  = [kind u8][0 u8][ncells u16][content u16][frag u16][right u32]
 *                [slot u16 * ncells ... gap ... cell content area]
 *   leaf cell  = [flags u8][klen u16][vlen u32][key][value | overflow pgno u32]
 *   inner cell = [child u32][klen u16][key]      keys in child < key <= keys right of it
 *   overflow   = [kind u8][0 u8][len u16][next u32][len bytes]
 *
 * All integers little-endian. Every read from a page is bounds-checked, so a
 * damaged page gives BZ_CORRUPT naming it, never an out-of-bounds access.
 */
#include "btree.h"

#include <stdlib.h>
#include <string.h>

#define U          BZ_PAGE_USABLE          /* bytes of a page the tree may use */
#define HDR        12                      /* node header */
#define CAP        (U - HDR)               /* room for slots + cells */
#define MAX_CELL   (CAP / 3 - 2)           /* a cell plus its slot fits 3 times in a page */
#define MIN_FILL   (CAP / 4)               /* non-root nodes below this are rebalanced */
#define LEAF_HDR   7
#define INNER_HDR  6
#define OVF_HDR    8
#define OVF_DATA   (U - OVF_HDR)
#define F_OVERFLOW 1

enum { K_LEAF = 'L', K_INNER = 'I', K_OVERFLOW = 'O' };

/* ---- little-endian helpers ---------------------------------------------- */
static inline uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

#define N_CELLS(d)  rd16((d) + 2)
#define CONTENT(d)  rd16((d) + 4)
#define FRAG(d)     rd16((d) + 6)
#define RIGHT(d)    rd32((d) + 8)
#define SLOT(d, i)  rd16((d) + HDR + 2 * (i))

int bt_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int corrupt(bz_err *err, bz_pgno pg, const char *what)
{
    int fresh = err->rc == BZ_OK;
    bz_err_set(err, BZ_CORRUPT, "B+tree page %u: %s", (unsigned)pg, what);
    if (fresh)
        err->page = pg;
    return BZ_CORRUPT;
}

static int nomem(bz_err *err) { return bz_err_set(err, BZ_NOMEM, "out of memory in the B+tree"); }

/* ---- bz_buf ----------------------------------------------------------------- */
void bz_buf_borrow(bz_buf *b, uint8_t *storage, size_t cap)
{
    b->data = storage;
    b->len = 0;
    b->cap = cap;
    b->borrowed = 1;
}

int bz_buf_reserve(bz_buf *b, size_t cap, bz_err *err)
{
    if (b->cap >= cap && b->data)
        return BZ_OK;
    size_t n = b->cap ? b->cap : 64;
    while (n < cap)
        n *= 2;
    uint8_t *d = realloc(b->borrowed ? NULL : b->data, n);
    if (!d)
        return nomem(err);
    if (b->borrowed && b->len)
        memcpy(d, b->data, b->len);
    b->data = d;
    b->cap = n;
    b->borrowed = 0;
    return BZ_OK;
}

int bz_buf_set(bz_buf *b, const void *data, size_t n, bz_err *err)
{
    int rc = bz_buf_reserve(b, n ? n : 1, err);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data, data, n);
    b->len = n;
    return BZ_OK;
}

void bz_buf_free(bz_buf *b)
{
    if (!b->borrowed)
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->borrowed = 0;
}

/* ---- page access ---------------------------------------------------------- */
static int valid_pgno(bz_pager *p, bz_pgno pg)
{
    return pg != 0 && pg < pager_page_count(p);
}

/* Gets page `pg`, referenced from page `from` (named in the error if `pg` is out of range). */
static int get_page(bz_pager *p, bz_pgno pg, bz_pgno from, bz_page **out, bz_err *err)
{
    if (!valid_pgno(p, pg))
        return corrupt(err, from, "points to a page outside the file");
    return pager_get(p, pg, out, err);
}

/* Validates a node header; returns the cell count in *n. */
static int node_header(const uint8_t *d, bz_pgno pg, uint32_t *n, bz_err *err)
{
    uint32_t kind = d[0], cnt = N_CELLS(d), content = CONTENT(d);
    if (kind != K_LEAF && kind != K_INNER)
        return corrupt(err, pg, "not a B+tree node");
    if (HDR + 2 * cnt > content || content > U || FRAG(d) > U - content)
        return corrupt(err, pg, "cell count or content offset out of range");
    if (kind == K_INNER && RIGHT(d) == 0)
        return corrupt(err, pg, "interior node without a right child");
    *n = cnt;
    return BZ_OK;
}

/* Reads page pg as a B+tree node whose header is valid: on success *out is
 * referenced (pager_unref it) and *n is its cell count; on failure nothing is
 * held. */
static int get_node(bz_pager *p, bz_pgno pg, bz_page **out, uint32_t *n, bz_err *err)
{
    int rc = pager_get(p, pg, out, err);
    if (rc)
        return rc;
    if ((rc = node_header((*out)->data, pg, n, err))) {
        pager_unref(p, *out);
        *out = NULL;
    }
    return rc;
}

typedef struct cell {
    const uint8_t *key;
    uint32_t klen, off, size;
    uint32_t child;            /* interior */
    uint32_t vlen, ovf;        /* leaf: value length, first overflow page (0 = inline) */
    const uint8_t *val;        /* leaf, inline */
} cell;

/* Parses cell i of a node whose header was validated; checks every bound. */
static int cell_get(const uint8_t *d, uint32_t i, bz_pgno pg, cell *c, bz_err *err)
{
    uint32_t off = SLOT(d, i);
    if (off < CONTENT(d))
        return corrupt(err, pg, "cell offset before the content area");
    if (d[0] == K_LEAF) {
        if (off > U - LEAF_HDR)
            return corrupt(err, pg, "cell header beyond the page");
        uint32_t flags = d[off], klen = rd16(d + off + 1), vlen = rd32(d + off + 3);
        if (flags > F_OVERFLOW || klen > BZ_MAX_KEY || vlen > BZ_MAX_VALUE)
            return corrupt(err, pg, "bad leaf cell header");
        uint32_t body = klen + (flags ? 4 : vlen);
        if (body > U - off - LEAF_HDR)
            return corrupt(err, pg, "leaf cell extends beyond the page");
        c->key = d + off + LEAF_HDR;
        c->klen = klen;
        c->vlen = vlen;
        c->size = LEAF_HDR + body;
        c->val = flags ? NULL : c->key + klen;
        c->ovf = flags ? rd32(c->key + klen) : 0;
        if (flags && c->ovf == 0)
            return corrupt(err, pg, "overflow cell without an overflow page");
        c->child = 0;
    } else {
        if (off > U - INNER_HDR)
            return corrupt(err, pg, "cell header beyond the page");
        uint32_t klen = rd16(d + off + 4);
        if (klen > BZ_MAX_KEY || klen > U - off - INNER_HDR)
            return corrupt(err, pg, "interior cell extends beyond the page");
        c->child = rd32(d + off);
        c->key = d + off + INNER_HDR;
        c->klen = klen;
        c->size = INNER_HDR + klen;
        c->vlen = c->ovf = 0;
        c->val = NULL;
    }
    c->off = off;
    return BZ_OK;
}

/* Child pointer i of an interior node with n cells (i == n: the right child). */
static int child_at(const uint8_t *d, uint32_t i, uint32_t n, bz_pgno pg, bz_pgno *out, bz_err *err)
{
    if (i == n) {
        *out = RIGHT(d);
        return BZ_OK;
    }
    cell c;
    int rc = cell_get(d, i, pg, &c, err);
    if (rc)
        return rc;
    *out = c.child;
    return BZ_OK;
}

static void set_child_at(uint8_t *d, uint32_t i, uint32_t n, bz_pgno child)
{
    if (i == n)
        wr32(d + 8, child);
    else
        wr32(d + SLOT(d, i), child);     /* offset validated by an earlier cell_get */
}

/* Just the key of cell i (the search hot path): bounds-checked like cell_get. */
static inline int key_at(const uint8_t *d, uint32_t i, bz_pgno pg, const uint8_t **key, uint32_t *klen,
                         bz_err *err)
{
    uint32_t off = SLOT(d, i), hdr = d[0] == K_LEAF ? LEAF_HDR : INNER_HDR;
    if (off < CONTENT(d) || off > U - hdr)
        return corrupt(err, pg, "cell offset out of range");
    uint32_t n = rd16(d + off + hdr - 2 - (d[0] == K_LEAF ? 4 : 0));
    if (n > BZ_MAX_KEY || n > U - off - hdr)
        return corrupt(err, pg, "cell key extends beyond the page");
    *key = d + off + hdr;
    *klen = n;
    return BZ_OK;
}

/* Lowest i with key_i >= k (strict: key_i > k); *eq tells key_i == k. */
static int search(const uint8_t *d, uint32_t n, bz_pgno pg, const uint8_t *k, size_t klen, int strict,
                  uint32_t *idx, int *eq, bz_err *err)
{
    uint32_t lo = 0, hi = n;
    int found = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *ck = NULL;
        uint32_t cklen = 0;
        int rc = key_at(d, mid, pg, &ck, &cklen, err);
        if (rc)
            return rc;
        int cmp = bt_keycmp(ck, cklen, k, klen);
        if (cmp < 0 || (strict && cmp == 0)) {
            lo = mid + 1;
        } else {
            if (cmp == 0)
                found = 1;
            hi = mid;
        }
    }
    *idx = lo;
    if (eq)
        *eq = found && !strict;
    return BZ_OK;
}

static uint32_t node_used(const uint8_t *d)
{
    return (U - CONTENT(d) - FRAG(d)) + 2 * N_CELLS(d);
}

static void node_init(uint8_t *d, int kind, uint32_t right)
{
    memset(d, 0, U);
    d[0] = (uint8_t)kind;
    wr16(d + 4, U);
    wr32(d + 8, right);
}

/* Rewrites the content area compactly (cells keep their order). Returns 0,
 * changing nothing, when the cells do not add up (a damaged page). */
static int node_defrag(uint8_t *d)
{
    uint8_t tmp[U];
    uint32_t n = N_CELLS(d), content = U, total = 0;
    bz_err dummy;
    bz_err_clear(&dummy);
    for (uint32_t i = 0; i < n; i++) {
        cell c;
        if (cell_get(d, i, 0, &c, &dummy))
            return 0;
        total += c.size;
    }
    if (total != U - CONTENT(d) - FRAG(d))
        return 0;
    memcpy(tmp, d, U);
    for (uint32_t i = 0; i < n; i++) {
        cell c;
        cell_get(tmp, i, 0, &c, &dummy);      /* validated above */
        content -= c.size;
        memcpy(d + content, tmp + c.off, c.size);
        wr16(d + HDR + 2 * i, content);
    }
    memset(d + HDR + 2 * n, 0, content - (HDR + 2 * n));
    wr16(d + 4, content);
    wr16(d + 6, 0);
    return 1;
}

/* Inserts a cell at slot i when it fits (defragmenting if that helps); 0 if it does not. */
static int node_insert(uint8_t *d, uint32_t i, const uint8_t *cellp, uint32_t size)
{
    uint32_t n = N_CELLS(d), content = CONTENT(d);
    uint32_t gap = content - (HDR + 2 * n);
    if (gap < size + 2) {
        if (gap + FRAG(d) < size + 2 || !node_defrag(d))
            return 0;
        content = CONTENT(d);
    }
    content -= size;
    memcpy(d + content, cellp, size);
    memmove(d + HDR + 2 * (i + 1), d + HDR + 2 * i, 2 * (n - i));
    wr16(d + HDR + 2 * i, content);
    wr16(d + 2, n + 1);
    wr16(d + 4, content);
    return 1;
}

/* Removes cell i (already validated as c). */
static void node_remove(uint8_t *d, uint32_t i, const cell *c)
{
    uint32_t n = N_CELLS(d);
    if (c->off == CONTENT(d))
        wr16(d + 4, CONTENT(d) + c->size);
    else
        wr16(d + 6, FRAG(d) + c->size);
    memmove(d + HDR + 2 * i, d + HDR + 2 * (i + 1), 2 * (n - i - 1));
    wr16(d + 2, n - 1);
    if (n - 1 == 0) {
        wr16(d + 4, U);
        wr16(d + 6, 0);
    }
}

/* ---- overflow chains ------------------------------------------------------ */
static int ovf_write(bz_pager *p, const uint8_t *val, size_t vlen, bz_pgno *first, bz_err *err)
{
    bz_page *prev = NULL;
    size_t done = 0;
    int rc = BZ_OK;
    *first = 0;
    while (done < vlen) {
        bz_page *pg;
        rc = pager_alloc(p, &pg, err);
        if (rc)
            break;
        uint32_t len = (uint32_t)(vlen - done < OVF_DATA ? vlen - done : OVF_DATA);
        uint8_t *d = pg->data;
        memset(d, 0, OVF_HDR);
        d[0] = K_OVERFLOW;
        wr16(d + 2, len);
        memcpy(d + OVF_HDR, val + done, len);
        if (len < OVF_DATA)
            memset(d + OVF_HDR + len, 0, OVF_DATA - len);
        done += len;
        if (prev) {
            wr32(prev->data + 4, pg->pgno);
            pager_unref(p, prev);
        } else {
            *first = pg->pgno;
        }
        prev = pg;
    }
    if (prev)
        pager_unref(p, prev);
    return rc;
}

/* Walks a chain of `vlen` bytes starting at `first` (referenced from page
 * `from`): copies into out when given, frees the pages when `release`, and
 * reports each page to visit when given. */
static int ovf_walk(bz_pager *p, bz_pgno from, bz_pgno first, uint32_t vlen, uint8_t *out, int release,
                    int (*visit)(void *, bz_pgno, bz_err *), void *ctx, uint32_t *pages, bz_err *err)
{
    bz_pgno pg = first, ref = from;
    uint32_t done = 0, count = 0;
    int rc;
    while (done < vlen) {
        if (!valid_pgno(p, pg))
            return corrupt(err, ref, "overflow chain points outside the file");
        if (visit && (rc = visit(ctx, pg, err)))
            return rc;
        bz_page *page;
        if ((rc = pager_get(p, pg, &page, err)))
            return rc;
        const uint8_t *d = page->data;
        uint32_t len = rd16(d + 2);
        bz_pgno next = rd32(d + 4);
        /* Every page but the last is full, so a chain has at most vlen/OVF_DATA + 1 pages. */
        if (d[0] != K_OVERFLOW || len == 0 || len > OVF_DATA || len > vlen - done ||
            (len < OVF_DATA && len != vlen - done)) {
            pager_unref(p, page);
            return corrupt(err, pg, "bad overflow page");
        }
        if (out)
            memcpy(out + done, d + OVF_HDR, len);
        pager_unref(p, page);
        done += len;
        count++;
        if (done == vlen && next != 0)
            return corrupt(err, pg, "overflow chain longer than its value");
        if (release && (rc = pager_free(p, pg, err)))
            return rc;
        ref = pg;
        pg = next;
    }
    if (pages)
        *pages = count;
    return BZ_OK;
}

/* ---- descent ---------------------------------------------------------------- */
/* Walks from the root to the leaf where `key` is or belongs; fills the path. */
static int descend(bz_pager *p, bz_pgno root, const uint8_t *key, size_t klen, bt_cursor *c,
                   int *found, bz_err *err)
{
    bz_pgno pg = root;
    c->p = p;
    c->root = root;
    c->valid = 0;
    for (int lv = 0;; lv++) {
        if (lv >= BT_MAX_DEPTH)
            return corrupt(err, pg, "tree deeper than possible (a cycle?)");
        bz_page *page;
        uint32_t n = 0, idx = 0;
        int rc = get_node(p, pg, &page, &n, err);
        if (rc)
            return rc;
        const uint8_t *d = page->data;
        int eq = 0;
        rc = search(d, n, pg, key, klen, d[0] == K_INNER, &idx, &eq, err);
        bz_pgno child = 0;
        int leaf = d[0] == K_LEAF;
        if (rc == BZ_OK && !leaf)
            rc = child_at(d, idx, n, pg, &child, err);
        pager_unref(p, page);
        if (rc)
            return rc;
        c->pg[lv] = pg;
        c->idx[lv] = (int)idx;
        c->depth = lv + 1;
        if (leaf) {
            *found = eq;
            return BZ_OK;
        }
        if (!valid_pgno(p, child))
            return corrupt(err, pg, "child pointer outside the file");
        pg = child;
    }
}

/* ---- cells in memory (splits, merges) ----------------------------------------- */
typedef struct gather {
    uint8_t *buf;           /* copies of cells */
    uint32_t used;
    const uint8_t **cp;     /* cell i starts at cp[i] */
    uint32_t *size;
    uint32_t n;
} gather;

#define GATHER_MAX_CELLS (3 * (CAP / 8) + 4)
#define GATHER_BUF (3 * U + 2 * (BZ_MAX_KEY + 16))

static int gather_init(gather *g, bz_err *err)
{
    g->buf = malloc(GATHER_BUF);
    g->cp = malloc(sizeof *g->cp * GATHER_MAX_CELLS);
    g->size = malloc(sizeof *g->size * GATHER_MAX_CELLS);
    g->used = g->n = 0;
    if (!g->buf || !g->cp || !g->size) {
        free(g->buf); free(g->cp); free(g->size);
        return nomem(err);
    }
    return BZ_OK;
}

static void gather_free(gather *g)
{
    free(g->buf); free(g->cp); free(g->size);
}

/* Appends a copy of a cell; 0 when a damaged page claims more cells than fit. */
static int gather_add(gather *g, const uint8_t *cellp, uint32_t size)
{
    if (g->n >= GATHER_MAX_CELLS || size > GATHER_BUF - g->used)
        return 0;
    memcpy(g->buf + g->used, cellp, size);
    g->cp[g->n] = g->buf + g->used;
    g->size[g->n] = size;
    g->used += size;
    g->n++;
    return 1;
}

/* Appends every cell of node d. */
static int gather_node(gather *g, const uint8_t *d, bz_pgno pg, bz_err *err)
{
    uint32_t n = 0;
    int rc = node_header(d, pg, &n, err);
    for (uint32_t i = 0; rc == BZ_OK && i < n; i++) {
        cell c;
        if ((rc = cell_get(d, i, pg, &c, err)) == BZ_OK && !gather_add(g, d + c.off, c.size))
            rc = corrupt(err, pg, "more cell bytes than a page holds");
    }
    return rc;
}

static uint32_t gather_cost(const gather *g, uint32_t from, uint32_t to)
{
    uint32_t t = 0;
    for (uint32_t i = from; i < to; i++)
        t += g->size[i] + 2;
    return t;
}

static void cell_key(int kind, const uint8_t *cp, const uint8_t **key, uint32_t *klen)
{
    if (kind == K_LEAF) {
        *klen = rd16(cp + 1);
        *key = cp + LEAF_HDR;
    } else {
        *klen = rd16(cp + 4);
        *key = cp + INNER_HDR;
    }
}

static void node_build(uint8_t *d, int kind, const gather *g, uint32_t from, uint32_t to, uint32_t right)
{
    node_init(d, kind, right);
    uint32_t content = U;
    for (uint32_t i = from; i < to; i++) {
        content -= g->size[i];
        memcpy(d + content, g->cp[i], g->size[i]);
        wr16(d + HDR + 2 * (i - from), content);
    }
    wr16(d + 2, to - from);
    wr16(d + 4, content);
}

/* Chooses where to cut g into two nodes. Leaves: left = [0,k), right = [k,n).
 * Interior: left = [0,k), cell k moves up, right = [k+1,n). Minimizes the
 * larger half; both halves must fit. */
static int choose_split(int kind, const gather *g, uint32_t *k_out)
{
    uint32_t total = gather_cost(g, 0, g->n), left = 0, best = UINT32_MAX, bestk = 0;
    for (uint32_t k = 1; k < g->n; k++) {
        left += g->size[k - 1] + 2;
        uint32_t right = total - left;
        if (kind == K_INNER) {
            if (k + 1 >= g->n)
                break;
            right -= g->size[k] + 2;
        }
        uint32_t worst = left > right ? left : right;
        if (worst < best) {
            best = worst;
            bestk = k;
        }
    }
    if (best > CAP || bestk == 0)
        return 0;
    *k_out = bestk;
    return 1;
}

/* Builds the separator cell [child][klen][key] for the cut at k into sep. */
static uint32_t make_sep(int kind, const gather *g, uint32_t k, bz_pgno child, uint8_t *sep)
{
    const uint8_t *key;
    uint32_t klen;
    if (kind == K_LEAF) {
        /* The shortest prefix of the right half's first key that is still
         * greater than the left half's last key. */
        const uint8_t *lk;
        uint32_t llen;
        cell_key(kind, g->cp[k - 1], &lk, &llen);
        cell_key(kind, g->cp[k], &key, &klen);
        uint32_t lcp = 0;
        while (lcp < llen && lcp < klen && lk[lcp] == key[lcp])
            lcp++;
        if (lcp + 1 < klen)
            klen = lcp + 1;
    } else {
        cell_key(kind, g->cp[k], &key, &klen);
    }
    wr32(sep, child);
    wr16(sep + 4, klen);
    memcpy(sep + INNER_HDR, key, klen);
    return INNER_HDR + klen;
}

/* Splits g over `left` (an existing writable page) and a newly allocated
 * page; returns the separator cell (child = left) and the new page number. */
static int split_into(bz_pager *p, int kind, const gather *g, uint32_t right_ptr, bz_page *left,
                      uint8_t *sep, uint32_t *sepsize, bz_pgno *newpg, bz_err *err)
{
    uint32_t k;
    if (!choose_split(kind, g, &k))
        return corrupt(err, left->pgno, "cells too large to split");
    bz_page *rp;
    int rc = pager_alloc(p, &rp, err);
    if (rc)
        return rc;
    *sepsize = make_sep(kind, g, k, left->pgno, sep);
    if (kind == K_LEAF) {
        node_build(rp->data, kind, g, k, g->n, 0);
        node_build(left->data, kind, g, 0, k, 0);
    } else {
        node_build(rp->data, kind, g, k + 1, g->n, right_ptr);
        node_build(left->data, kind, g, 0, k, rd32(g->cp[k]));
    }
    *newpg = rp->pgno;
    pager_unref(p, rp);
    return BZ_OK;
}

/* Splits the root: its cells go to two new pages, it becomes their parent. */
static int split_root(bz_pager *p, int kind, const gather *g, uint32_t right_ptr, bz_page *root, bz_err *err)
{
    bz_page *lp;
    uint8_t sep[INNER_HDR + BZ_MAX_KEY];
    uint32_t sepsize;
    bz_pgno rpg;
    int rc = pager_alloc(p, &lp, err);
    if (rc)
        return rc;
    rc = split_into(p, kind, g, right_ptr, lp, sep, &sepsize, &rpg, err);
    if (rc == BZ_OK) {
        node_init(root->data, K_INNER, rpg);
        node_insert(root->data, 0, sep, sepsize);
    }
    pager_unref(p, lp);
    return rc;
}

/* Inserts `cellp` at slot c->idx[lv] of node c->pg[lv], splitting upwards as
 * needed. fix_right != 0 (an interior insert after a child split) first
 * points the child pointer at that slot to fix_right, the new right half.
 * *split tells whether any node split. */
static int insert_at(bz_pager *p, bt_cursor *c, int lv, const uint8_t *cellp, uint32_t size,
                     bz_pgno fix_right, int *split, bz_err *err)
{
    uint8_t sepbuf[2][INNER_HDR + BZ_MAX_KEY];
    int which = 0;
    *split = 0;
    for (;;) {
        bz_page *pg;
        int rc = pager_get(p, c->pg[lv], &pg, err);
        if (rc)
            return rc;
        if ((rc = pager_write(p, pg, err))) {
            pager_unref(p, pg);
            return rc;
        }
        uint8_t *d = pg->data;
        uint32_t n = 0, at = (uint32_t)c->idx[lv];
        if ((rc = node_header(d, pg->pgno, &n, err)) == BZ_OK && at > n)
            rc = corrupt(err, pg->pgno, "insert position out of range");
        if (rc == BZ_OK && fix_right) {
            bz_pgno old;
            if ((rc = child_at(d, at, n, pg->pgno, &old, err)) == BZ_OK)
                set_child_at(d, at, n, fix_right);
        }
        if (rc == BZ_OK && node_insert(d, at, cellp, size)) {
            pager_unref(p, pg);
            return BZ_OK;
        }
        if (rc) {
            pager_unref(p, pg);
            return rc;
        }
        /* Does not fit: gather the cells with the new one and split. */
        *split = 1;
        int kind = d[0];
        uint32_t right = RIGHT(d);
        gather g;
        if ((rc = gather_init(&g, err))) {
            pager_unref(p, pg);
            return rc;
        }
        for (uint32_t i = 0; rc == BZ_OK && i <= n; i++) {
            if (i == at && !gather_add(&g, cellp, size))
                rc = corrupt(err, pg->pgno, "more cell bytes than a page holds");
            if (rc == BZ_OK && i < n) {
                cell cc;
                if ((rc = cell_get(d, i, pg->pgno, &cc, err)) == BZ_OK &&
                    !gather_add(&g, d + cc.off, cc.size))
                    rc = corrupt(err, pg->pgno, "more cell bytes than a page holds");
            }
        }
        uint32_t sepsize = 0;
        bz_pgno newpg = 0;
        if (rc == BZ_OK) {
            if (lv == 0)
                rc = split_root(p, kind, &g, right, pg, err);
            else
                rc = split_into(p, kind, &g, right, pg, sepbuf[which], &sepsize, &newpg, err);
        }
        gather_free(&g);
        pager_unref(p, pg);
        if (rc || lv == 0)
            return rc;
        cellp = sepbuf[which];
        size = sepsize;
        which ^= 1;
        fix_right = newpg;
        lv--;
    }
}

/* After a node at level lv lost content: merges or redistributes underfull
 * nodes with a sibling, upwards, then collapses a root left with one child. */
static int rebalance(bz_pager *p, bt_cursor *c, int lv, bz_err *err)
{
    int rc = BZ_OK;
    while (lv > 0 && rc == BZ_OK) {
        bz_page *node, *parent = NULL, *lp = NULL, *rp = NULL;
        if ((rc = pager_get(p, c->pg[lv], &node, err)))
            return rc;
        uint32_t used = node_used(node->data);
        int kind = node->data[0];
        pager_unref(p, node);
        if (used >= MIN_FILL)
            break;
        if ((rc = pager_get(p, c->pg[lv - 1], &parent, err)))
            return rc;
        if ((rc = pager_write(p, parent, err))) {
            pager_unref(p, parent);
            return rc;
        }
        uint8_t *pd = parent->data;
        uint32_t pn = 0, j = (uint32_t)c->idx[lv - 1];
        if ((rc = node_header(pd, parent->pgno, &pn, err)) == BZ_OK && (pd[0] != K_INNER || j > pn))
            rc = corrupt(err, parent->pgno, "path does not match the parent node");
        if (rc == BZ_OK && pn == 0) {          /* no sibling: the parent is handled next */
            pager_unref(p, parent);
            lv--;
            continue;
        }
        uint32_t s = j < pn ? j : j - 1;       /* separator between children s and s+1 */
        bz_pgno lpg = 0, rpg = 0;
        cell sepc;
        if (rc == BZ_OK)
            rc = child_at(pd, s, pn, parent->pgno, &lpg, err);
        if (rc == BZ_OK)
            rc = child_at(pd, s + 1, pn, parent->pgno, &rpg, err);
        if (rc == BZ_OK)
            rc = cell_get(pd, s, parent->pgno, &sepc, err);
        if (rc == BZ_OK)
            rc = get_page(p, lpg, parent->pgno, &lp, err);
        if (rc == BZ_OK)
            rc = get_page(p, rpg, parent->pgno, &rp, err);
        if (rc == BZ_OK)
            rc = pager_write(p, lp, err);
        if (rc == BZ_OK)
            rc = pager_write(p, rp, err);
        if (rc == BZ_OK && (lpg == rpg || lpg == parent->pgno || rpg == parent->pgno))
            rc = corrupt(err, parent->pgno, "a child pointer repeats");
        if (rc == BZ_OK && (lp->data[0] != kind || rp->data[0] != kind))
            rc = corrupt(err, parent->pgno, "siblings of different kinds");
        gather g;
        int have_g = 0;
        if (rc == BZ_OK && (rc = gather_init(&g, err)) == BZ_OK)
            have_g = 1;
        if (rc == BZ_OK)
            rc = gather_node(&g, lp->data, lpg, err);
        if (rc == BZ_OK && kind == K_INNER) {
            /* The separator comes down between the two halves, pointing at L's right child. */
            uint8_t tmp[INNER_HDR + BZ_MAX_KEY];
            wr32(tmp, RIGHT(lp->data));
            wr16(tmp + 4, sepc.klen);
            memcpy(tmp + INNER_HDR, sepc.key, sepc.klen);
            if (!gather_add(&g, tmp, INNER_HDR + sepc.klen))
                rc = corrupt(err, lpg, "more cell bytes than a page holds");
        }
        if (rc == BZ_OK)
            rc = gather_node(&g, rp->data, rpg, err);
        int done = 0;
        if (rc == BZ_OK) {
            uint32_t right = RIGHT(rp->data);
            if (gather_cost(&g, 0, g.n) <= CAP) {
                /* Merge into L; drop R and the separator. */
                node_build(lp->data, kind, &g, 0, g.n, right);
                set_child_at(pd, s + 1, pn, lpg);
                node_remove(pd, s, &sepc);
                pager_unref(p, rp);
                rp = NULL;
                rc = pager_free(p, rpg, err);
            } else {
                /* Redistribute; the new separator replaces the old one. */
                uint32_t k;
                uint8_t sep[INNER_HDR + BZ_MAX_KEY];
                if (!choose_split(kind, &g, &k)) {
                    rc = corrupt(err, lpg, "cells too large to redistribute");
                } else {
                    uint32_t sepsize = make_sep(kind, &g, k, lpg, sep);
                    if (kind == K_LEAF) {
                        node_build(lp->data, kind, &g, 0, k, 0);
                        node_build(rp->data, kind, &g, k, g.n, 0);
                    } else {
                        node_build(lp->data, kind, &g, 0, k, rd32(g.cp[k]));
                        node_build(rp->data, kind, &g, k + 1, g.n, right);
                    }
                    node_remove(pd, s, &sepc);
                    pager_unref(p, parent);
                    parent = NULL;
                    c->idx[lv - 1] = (int)s;
                    int split;
                    rc = insert_at(p, c, lv - 1, sep, sepsize, 0, &split, err);
                    done = split;      /* a split leaves well-filled nodes; the path above is stale */
                }
            }
        }
        if (have_g)
            gather_free(&g);
        if (lp)
            pager_unref(p, lp);
        if (rp)
            pager_unref(p, rp);
        if (parent)
            pager_unref(p, parent);
        if (rc || done)
            return rc;
        lv--;
    }
    /* A root interior node left with only its right child takes that child's place. */
    for (int guard = 0; rc == BZ_OK && guard < BT_MAX_DEPTH; guard++) {
        bz_page *root, *child;
        if ((rc = pager_get(p, c->pg[0], &root, err)))
            return rc;
        if (root->data[0] != K_INNER || N_CELLS(root->data) != 0) {
            pager_unref(p, root);
            return BZ_OK;
        }
        bz_pgno cpg = RIGHT(root->data);
        if ((rc = get_page(p, cpg, root->pgno, &child, err))) {
            pager_unref(p, root);
            return rc;
        }
        uint32_t cn = 0;
        if ((rc = node_header(child->data, cpg, &cn, err)) == BZ_OK &&
            (rc = pager_write(p, root, err)) == BZ_OK) {
            memcpy(root->data, child->data, U);
        }
        pager_unref(p, child);
        pager_unref(p, root);
        if (rc == BZ_OK)
            rc = pager_free(p, cpg, err);
    }
    return rc;
}

/* ---- public: create / drop / clear ------------------------------------------------ */
int bt_create(bz_pager *p, bz_pgno *root, bz_err *err)
{
    bz_page *pg;
    int rc = pager_alloc(p, &pg, err);
    if (rc)
        return rc;
    node_init(pg->data, K_LEAF, 0);
    *root = pg->pgno;
    pager_unref(p, pg);
    return BZ_OK;
}

/* Frees the subtree under pg (pg itself too unless keep). */
static int free_subtree(bz_pager *p, bz_pgno pg, int depth, int keep, bz_err *err)
{
    if (depth >= BT_MAX_DEPTH)
        return corrupt(err, pg, "tree deeper than possible (a cycle?)");
    bz_page *page;
    uint32_t n = 0;
    int rc = get_node(p, pg, &page, &n, err);
    if (rc)
        return rc;
    const uint8_t *d = page->data;
    for (uint32_t i = 0; rc == BZ_OK && i <= n; i++) {
        if (d[0] == K_INNER) {
            bz_pgno child;
            if ((rc = child_at(d, i, n, pg, &child, err)) == BZ_OK) {
                if (!valid_pgno(p, child))
                    rc = corrupt(err, pg, "child pointer outside the file");
                else
                    rc = free_subtree(p, child, depth + 1, 0, err);
            }
        } else if (i < n) {
            cell c;
            if ((rc = cell_get(d, i, pg, &c, err)) == BZ_OK && c.ovf)
                rc = ovf_walk(p, pg, c.ovf, c.vlen, NULL, 1, NULL, NULL, NULL, err);
        }
    }
    pager_unref(p, page);
    if (rc == BZ_OK && !keep)
        rc = pager_free(p, pg, err);
    return rc;
}

int bt_drop(bz_pager *p, bz_pgno root, bz_err *err)
{
    return free_subtree(p, root, 0, 0, err);
}

int bt_clear(bz_pager *p, bz_pgno root, bz_err *err)
{
    int rc = free_subtree(p, root, 0, 1, err);
    if (rc)
        return rc;
    bz_page *pg;
    if ((rc = pager_get(p, root, &pg, err)))
        return rc;
    if ((rc = pager_write(p, pg, err)) == BZ_OK)
        node_init(pg->data, K_LEAF, 0);
    pager_unref(p, pg);
    return rc;
}

/* ---- public: get / put / delete ----------------------------------------------------- */
static int read_value(bz_pager *p, bz_pgno pg, const cell *c, bz_buf *val, bz_err *err)
{
    int rc = bz_buf_reserve(val, c->vlen ? c->vlen : 1, err);
    if (rc)
        return rc;
    val->len = 0;
    if (c->ovf)
        rc = ovf_walk(p, pg, c->ovf, c->vlen, val->data, 0, NULL, NULL, NULL, err);
    else if (c->vlen)
        memcpy(val->data, c->val, c->vlen);
    if (rc == BZ_OK)
        val->len = c->vlen;
    return rc;
}

int bt_get(bz_pager *p, bz_pgno root, const uint8_t *key, size_t klen, bz_buf *val, int *found,
           bz_err *err)
{
    bt_cursor c;
    *found = 0;
    if (val)
        val->len = 0;
    if (klen > BZ_MAX_KEY)
        return BZ_OK;                  /* no such key can exist */
    int rc = descend(p, root, key, klen, &c, found, err);
    if (rc || !*found || !val)
        return rc;
    bz_page *page;
    bz_pgno pg = c.pg[c.depth - 1];
    if ((rc = pager_get(p, pg, &page, err)))
        return rc;
    cell cc;
    if ((rc = cell_get(page->data, (uint32_t)c.idx[c.depth - 1], pg, &cc, err)) == BZ_OK)
        rc = read_value(p, pg, &cc, val, err);
    pager_unref(p, page);
    return rc;
}

static int limits(size_t klen, size_t vlen, bz_err *err)
{
    if (klen > BZ_MAX_KEY)
        return bz_err_set(err, BZ_TOOBIG, "key of %zu bytes exceeds the limit of %u bytes", klen, BZ_MAX_KEY);
    if (vlen > BZ_MAX_VALUE)
        return bz_err_set(err, BZ_TOOBIG, "value of %zu bytes exceeds the limit of %u bytes", vlen, BZ_MAX_VALUE);
    return BZ_OK;
}

int bt_put(bz_pager *p, bz_pgno root, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
           int *replaced, bz_err *err)
{
    int rc = limits(klen, vlen, err), found = 0, split;
    *replaced = 0;
    if (rc)
        return rc;
    bt_cursor c;
    if ((rc = descend(p, root, key, klen, &c, &found, err)))
        return rc;
    /* Build the new cell: inline when small enough, else an overflow chain. */
    uint8_t cellbuf[MAX_CELL];
    uint32_t size;
    int inline_value = LEAF_HDR + klen + vlen <= MAX_CELL;
    cellbuf[0] = inline_value ? 0 : F_OVERFLOW;
    wr16(cellbuf + 1, (uint32_t)klen);
    wr32(cellbuf + 3, (uint32_t)vlen);
    if (klen)
        memcpy(cellbuf + LEAF_HDR, key, klen);
    if (inline_value) {
        if (vlen)
            memcpy(cellbuf + LEAF_HDR + klen, val, vlen);
        size = (uint32_t)(LEAF_HDR + klen + vlen);
    } else {
        bz_pgno first;
        if ((rc = ovf_write(p, val, vlen, &first, err)))
            return rc;
        wr32(cellbuf + LEAF_HDR + klen, first);
        size = (uint32_t)(LEAF_HDR + klen + 4);
    }
    int leaf = c.depth - 1;
    if (found) {
        bz_page *pg;
        if ((rc = pager_get(p, c.pg[leaf], &pg, err)))
            return rc;
        cell old;
        if ((rc = pager_write(p, pg, err)) == BZ_OK &&
            (rc = cell_get(pg->data, (uint32_t)c.idx[leaf], pg->pgno, &old, err)) == BZ_OK) {
            bz_pgno ovf = old.ovf;
            uint32_t ovlen = old.vlen;
            *replaced = 1;
            if (old.size == size) {
                /* Same size (e.g. the catalog's fixed entries): overwrite in place. */
                memcpy(pg->data + old.off, cellbuf, size);
                pager_unref(p, pg);
                return ovf ? ovf_walk(p, c.pg[leaf], ovf, ovlen, NULL, 1, NULL, NULL, NULL, err) : BZ_OK;
            }
            node_remove(pg->data, (uint32_t)c.idx[leaf], &old);
            pager_unref(p, pg);
            if (ovf)
                rc = ovf_walk(p, c.pg[leaf], ovf, ovlen, NULL, 1, NULL, NULL, NULL, err);
        } else {
            pager_unref(p, pg);
        }
        if (rc)
            return rc;
        *replaced = 1;
    }
    if ((rc = insert_at(p, &c, leaf, cellbuf, size, 0, &split, err)))
        return rc;
    if (found && !split)
        rc = rebalance(p, &c, leaf, err);
    return rc;
}

int bt_delete(bz_pager *p, bz_pgno root, const uint8_t *key, size_t klen, int *existed, bz_err *err)
{
    int found = 0, rc;
    *existed = 0;
    if (klen > BZ_MAX_KEY)
        return BZ_OK;
    bt_cursor c;
    if ((rc = descend(p, root, key, klen, &c, &found, err)) || !found)
        return rc;
    *existed = 1;
#ifdef BLAZEDB_PLANT_BUGS
    /* PLANTED BUG (test builds only, see docs/CONTRACTS.md): reports success
     * but leaves a key ending in 0x2A in place. The ops fuzzer must find it. */
    if (klen > 0 && key[klen - 1] == 0x2A)
        return BZ_OK;
#endif
    int leaf = c.depth - 1;
    bz_page *pg;
    if ((rc = pager_get(p, c.pg[leaf], &pg, err)))
        return rc;
    cell old;
    bz_pgno ovf = 0;
    uint32_t ovlen = 0;
    if ((rc = pager_write(p, pg, err)) == BZ_OK &&
        (rc = cell_get(pg->data, (uint32_t)c.idx[leaf], pg->pgno, &old, err)) == BZ_OK) {
        ovf = old.ovf;
        ovlen = old.vlen;
        node_remove(pg->data, (uint32_t)c.idx[leaf], &old);
    }
    pager_unref(p, pg);
    if (rc == BZ_OK && ovf)
        rc = ovf_walk(p, c.pg[leaf], ovf, ovlen, NULL, 1, NULL, NULL, NULL, err);
    if (rc == BZ_OK)
        rc = rebalance(p, &c, leaf, err);
    return rc;
}

/* ---- public: cursors --------------------------------------------------------------- */
void bt_cursor_init(bt_cursor *c, bz_pager *p, bz_pgno root)
{
    memset(c, 0, sizeof *c);
    c->p = p;
    c->root = root;
}

#define IDX_LAST (1 << 30)      /* "the last slot", resolved when the node is read */

/* From the current path, moves forward (dir > 0) or backward to the nearest
 * entry at or after (before) it. A leaf slot past either end climbs up. */
static int settle(bt_cursor *c, int dir, bz_err *err)
{
    int lv = c->depth - 1;
    c->valid = 0;
    /* In a valid tree only the root may be an empty leaf, so one step climbs
     * and descends at most once; more means empty nodes (damage). */
    for (int steps = 0;; steps++) {
        if (steps > 4 * BT_MAX_DEPTH + 4)
            return corrupt(err, c->pg[lv], "empty nodes on the way to the next entry");
        bz_page *page;
        bz_pgno pg = c->pg[lv];
        uint32_t n = 0;
        int rc = get_node(c->p, pg, &page, &n, err);
        if (rc)
            return rc;
        const uint8_t *d = page->data;
        int leaf = d[0] == K_LEAF;
        int last = leaf ? (int)n - 1 : (int)n;
        if (c->idx[lv] == IDX_LAST)
            c->idx[lv] = last;
        int i = c->idx[lv];
        if (i < 0 || i > last) {                /* this node is exhausted: climb */
            pager_unref(c->p, page);
            if (lv == 0)
                return BZ_OK;
            lv--;
            c->idx[lv] += dir;
            continue;
        }
        if (leaf) {
            pager_unref(c->p, page);
            c->depth = lv + 1;
            c->valid = 1;
            return BZ_OK;
        }
        bz_pgno child;
        rc = child_at(d, (uint32_t)i, n, pg, &child, err);
        pager_unref(c->p, page);
        if (rc)
            return rc;
        if (lv + 1 >= BT_MAX_DEPTH)
            return corrupt(err, pg, "tree deeper than possible (a cycle?)");
        if (!valid_pgno(c->p, child))
            return corrupt(err, pg, "child pointer outside the file");
        lv++;
        c->pg[lv] = child;
        c->idx[lv] = dir > 0 ? 0 : IDX_LAST;
        c->depth = lv + 1;
    }
}

int bt_seek(bt_cursor *c, int mode, const uint8_t *key, size_t klen, bz_err *err)
{
    int found, rc;
    c->valid = 0;
    if (mode == BT_FIRST || mode == BT_LAST) {
        c->depth = 1;
        c->pg[0] = c->root;
        c->idx[0] = mode == BT_FIRST ? 0 : IDX_LAST;
        return settle(c, mode == BT_FIRST ? 1 : -1, err);
    }
    if ((rc = descend(c->p, c->root, key, klen, c, &found, err)))
        return rc;
    int leaf = c->depth - 1;
    /* descend left idx at the first key >= k; adjust for the mode. */
    if (mode == BT_SEEK_GT || mode == BT_SEEK_LE) {
        if (found)
            c->idx[leaf]++;           /* now the first key > k */
    }
    if (mode == BT_SEEK_LE || mode == BT_SEEK_LT) {
        c->idx[leaf]--;
        return settle(c, -1, err);
    }
    return settle(c, 1, err);
}

int bt_next(bt_cursor *c, bz_err *err)
{
    if (!c->valid)
        return BZ_OK;
    c->idx[c->depth - 1]++;
    return settle(c, 1, err);
}

int bt_prev(bt_cursor *c, bz_err *err)
{
    if (!c->valid)
        return BZ_OK;
    c->idx[c->depth - 1]--;
    return settle(c, -1, err);
}

int bt_read(bt_cursor *c, bz_buf *key, bz_buf *val, bz_err *err)
{
    if (!c->valid)
        return bz_err_set(err, BZ_MISUSE, "cursor is not on an entry");
    bz_page *page;
    bz_pgno pg = c->pg[c->depth - 1];
    int rc = pager_get(c->p, pg, &page, err);
    if (rc)
        return rc;
    uint32_t n = 0;
    cell cc;
    if ((rc = node_header(page->data, pg, &n, err)) == BZ_OK) {
        if (page->data[0] != K_LEAF || (uint32_t)c->idx[c->depth - 1] >= n)
            rc = corrupt(err, pg, "cursor position out of range");
        else
            rc = cell_get(page->data, (uint32_t)c->idx[c->depth - 1], pg, &cc, err);
    }
    if (rc == BZ_OK && key)
        rc = bz_buf_set(key, cc.key, cc.klen, err);
    if (rc == BZ_OK && val)
        rc = read_value(c->p, pg, &cc, val, err);
    pager_unref(c->p, page);
    return rc;
}

/* ---- public: check ---------------------------------------------------------------- */
typedef struct check_ctx {
    bz_pager *p;
    bz_pgno root;
    int (*visit)(void *, bz_pgno, bz_err *);
    void *vctx;
    int leaf_depth;
    bt_check_stats *st;
    bz_err *err;
} check_ctx;

/* Sets bits [from, to) of a bitmap; nonzero if any was already set. Whole
 * bytes at a time: check() visits every byte of every cell, and a bit-by-bit
 * loop was most of check()'s time under the fuzzing build. */
static int mark_covered(uint8_t *bits, uint32_t from, uint32_t to)
{
    unsigned clash = 0;
    for (; from < to && (from & 7); from++) {
        clash |= bits[from / 8] & (1u << (from % 8));
        bits[from / 8] |= (uint8_t)(1u << (from % 8));
    }
    for (; from + 8 <= to; from += 8) {
        clash |= bits[from / 8];
        bits[from / 8] = 0xff;
    }
    for (; from < to; from++) {
        clash |= bits[from / 8] & (1u << (from % 8));
        bits[from / 8] |= (uint8_t)(1u << (from % 8));
    }
    return clash != 0;
}

static int check_node(check_ctx *x, bz_pgno pg, int lv, const uint8_t *lo, uint32_t lolen, int has_lo,
                      const uint8_t *hi, uint32_t hilen, int has_hi)
{
    bz_err *err = x->err;
    int rc;
    if (lv >= BT_MAX_DEPTH)
        return corrupt(err, pg, "tree deeper than possible (a cycle?)");
    if ((rc = x->visit(x->vctx, pg, err)))
        return rc;
    bz_page *page;
    uint32_t n = 0;
    if ((rc = get_node(x->p, pg, &page, &n, err)))
        return rc;
    const uint8_t *d = page->data;
    int leaf = d[0] == K_LEAF;
    uint8_t covered[U / 8 + 1];
    memset(covered, 0, sizeof covered);
    uint32_t cell_bytes = 0;
    const uint8_t *prev = NULL;
    uint32_t prevlen = 0;
    if (pg != x->root && n == 0)
        rc = corrupt(err, pg, "non-root node without cells");
    if (rc == BZ_OK && pg != x->root && node_used(d) < MIN_FILL)
        x->st->underfull_pages++;
    if (leaf)
        x->st->leaf_pages++;
    else
        x->st->interior_pages++;
    for (uint32_t i = 0; rc == BZ_OK && i < n; i++) {
        cell c;
        if ((rc = cell_get(d, i, pg, &c, err)))
            break;
        if (mark_covered(covered, c.off, c.off + c.size)) {
            rc = corrupt(err, pg, "cells overlap");
            break;
        }
        cell_bytes += c.size;
        if (prev && bt_keycmp(prev, prevlen, c.key, c.klen) >= 0)
            rc = corrupt(err, pg, "keys out of order within the node");
        else if (has_lo && bt_keycmp(c.key, c.klen, lo, lolen) < 0)
            rc = corrupt(err, pg, "key below the separator of its parent");
        else if (has_hi && bt_keycmp(c.key, c.klen, hi, hilen) >= 0)
            rc = corrupt(err, pg, "key not below the separator of its parent");
        if (rc)
            break;
        prev = c.key;
        prevlen = c.klen;
        if (leaf) {
            x->st->entries++;
            int should_inline = LEAF_HDR + c.klen + c.vlen <= MAX_CELL;
            if (should_inline != (c.ovf == 0)) {
                rc = corrupt(err, pg, c.ovf ? "small value stored in an overflow chain"
                                            : "value too large to be stored inline");
                break;
            }
            if (c.ovf) {
                uint32_t pages = 0;
                rc = ovf_walk(x->p, pg, c.ovf, c.vlen, NULL, 0, x->visit, x->vctx, &pages, err);
                x->st->overflow_pages += pages;
            }
        }
    }
    if (rc == BZ_OK && cell_bytes + FRAG(d) != U - CONTENT(d))
        rc = corrupt(err, pg, "free-space accounting does not match the cells");
    if (rc == BZ_OK && leaf) {
        if (x->leaf_depth < 0)
            x->leaf_depth = lv + 1;
        else if (x->leaf_depth != lv + 1)
            rc = corrupt(err, pg, "leaves at different depths");
    }
    /* Children: child i holds keys in [key_{i-1}, key_i); the right child [key_{n-1}, hi). */
    for (uint32_t i = 0; rc == BZ_OK && !leaf && i <= n; i++) {
        bz_pgno child;
        cell cur, before;
        if ((rc = child_at(d, i, n, pg, &child, err)))
            break;
        if (!valid_pgno(x->p, child)) {
            rc = corrupt(err, pg, "child pointer outside the file");
            break;
        }
        const uint8_t *clo = lo, *chi = hi;
        uint32_t clolen = lolen, chilen = hilen;
        int chas_lo = has_lo, chas_hi = has_hi;
        if (i > 0 && (rc = cell_get(d, i - 1, pg, &before, err)) == BZ_OK) {
            clo = before.key; clolen = before.klen; chas_lo = 1;
        }
        if (rc == BZ_OK && i < n && (rc = cell_get(d, i, pg, &cur, err)) == BZ_OK) {
            chi = cur.key; chilen = cur.klen; chas_hi = 1;
        }
        if (rc == BZ_OK)
            rc = check_node(x, child, lv + 1, clo, clolen, chas_lo, chi, chilen, chas_hi);
    }
    pager_unref(x->p, page);
    return rc;
}

int bt_check(bz_pager *p, bz_pgno root, int (*visit)(void *ctx, bz_pgno pgno, bz_err *err), void *ctx,
             bt_check_stats *out, bz_err *err)
{
    memset(out, 0, sizeof *out);
    if (!valid_pgno(p, root))
        return bz_err_set(err, BZ_CORRUPT, "B+tree root %u outside the file", (unsigned)root);
    check_ctx x = { p, root, visit, ctx, -1, out, err };
    int rc = check_node(&x, root, 0, NULL, 0, 0, NULL, 0, 0);
    if (rc == BZ_OK)
        out->depth = (uint32_t)x.leaf_depth;
    return rc;
}
