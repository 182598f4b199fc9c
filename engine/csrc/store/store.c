/* The store: a catalog of named B+trees, transactions, check() and stats.
 * API and transaction semantics: store.h. Catalog format:
 * engine/doc/btree_format.md ("Catalog").
 *
 * The catalog is itself a B+tree rooted at pager_catalog_root(): key = tree
 * name, value = [root u32][entries u64] (little-endian). Names resolve
 * through an in-memory cache that also carries the entry counts of the
 * current transaction; changed counts are written to the catalog just before
 * commit, so a put costs no catalog write. Any rollback empties the cache.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#define CAT_VALUE 12
#define TAB_INLINE 16      /* name-cache slots inside the store block */
#define LAST_INLINE 64     /* bytes of a cursor's last key inside its block */

typedef struct tentry {
    struct tentry *next;
    uint32_t hash;
    bz_pgno root;
    uint64_t count;
    int dirty;                    /* count differs from the catalog's */
    size_t len;
    char name[];
} tentry;

struct bz_store {
    bz_pager *p;
    int readonly;
    int failed;                   /* explicit transaction rolled back after an error */
    uint64_t changes;
    tentry **tab;                 /* tab0 until the cache outgrows it */
    size_t tcap, tn;
    bz_cursor *cursors;
    bz_buf scratch;
    tentry *tab0[TAB_INLINE];
};

struct bz_cursor {
    bz_store *s;                  /* NULL once the store is closed */
    bz_cursor *prev, *next;
    char *tree;
    size_t tree_len;
    uint8_t *start, *stop;
    size_t start_len, stop_len;
    int has_start, has_stop, include_start, include_stop, reverse;
    int started, done;
    uint64_t seen;                /* store->changes when bc was last positioned */
    bt_cursor bc;
    bz_buf last;                  /* the last key returned */
    int last_valid;
};

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

/* ---- the name cache ------------------------------------------------------ */
static uint32_t hash_name(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static tentry *cache_find(bz_store *s, const char *name, size_t len, uint32_t h)
{
    if (!s->tcap)
        return NULL;
    for (tentry *e = s->tab[h & (s->tcap - 1)]; e; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
            return e;
    return NULL;
}

static void cache_clear(bz_store *s)
{
    for (size_t i = 0; i < s->tcap; i++) {
        tentry *e = s->tab[i];
        while (e) {
            tentry *n = e->next;
            free(e);
            e = n;
        }
        s->tab[i] = NULL;
    }
    s->tn = 0;
}

static tentry *cache_add(bz_store *s, const char *name, size_t len, uint32_t h, bz_pgno root,
                         uint64_t count, bz_err *err)
{
    if (s->tn + 1 > s->tcap / 2) {
        size_t ncap = s->tcap * 2;
        tentry **nt = calloc(ncap, sizeof *nt);
        if (!nt) {
            bz_err_set(err, BZ_NOMEM, "out of memory caching tree names");
            return NULL;
        }
        for (size_t i = 0; i < s->tcap; i++) {
            tentry *e = s->tab[i];
            while (e) {
                tentry *n = e->next;
                e->next = nt[e->hash & (ncap - 1)];
                nt[e->hash & (ncap - 1)] = e;
                e = n;
            }
        }
        if (s->tab != s->tab0)
            free(s->tab);
        s->tab = nt;
        s->tcap = ncap;
    }
    tentry *e = malloc(sizeof *e + len + 1);
    if (!e) {
        bz_err_set(err, BZ_NOMEM, "out of memory caching tree names");
        return NULL;
    }
    e->hash = h;
    e->root = root;
    e->count = count;
    e->dirty = 0;
    e->len = len;
    if (len)
        memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->next = s->tab[h & (s->tcap - 1)];
    s->tab[h & (s->tcap - 1)] = e;
    s->tn++;
    return e;
}

static void cache_remove(bz_store *s, tentry *victim)
{
    tentry **pp = &s->tab[victim->hash & (s->tcap - 1)];
    while (*pp != victim)
        pp = &(*pp)->next;
    *pp = victim->next;
    free(victim);
    s->tn--;
}

/* ---- catalog -------------------------------------------------------------- */
static int decode_entry(const bz_buf *v, const char *name, size_t len, bz_pgno cat, bz_pgno *root,
                        uint64_t *count, bz_err *err)
{
    if (v->len != CAT_VALUE || get32(v->data) == 0) {
        int fresh = err->rc == BZ_OK;
        bz_err_set(err, BZ_CORRUPT, "catalog entry of tree '%.*s' is malformed", (int)len, name);
        if (fresh)
            err->page = cat;
        return BZ_CORRUPT;
    }
    *root = get32(v->data);
    *count = get64(v->data + 4);
    return BZ_OK;
}

static int name_ok(size_t len, bz_err *err)
{
    if (len > BZ_MAX_TREE_NAME)
        return bz_err_set(err, BZ_TOOBIG, "tree name of %zu bytes exceeds the limit of %d bytes", len,
                          BZ_MAX_TREE_NAME);
    return BZ_OK;
}

/* Resolves a tree name; BZ_NOTFOUND (with a message) when absent. */
static int lookup(bz_store *s, const char *name, size_t len, tentry **out, bz_err *err)
{
    int rc = name_ok(len, err);
    if (rc)
        return rc;
    uint32_t h = hash_name(name, len);
    tentry *e = cache_find(s, name, len, h);
    if (!e) {
        bz_pgno cat = pager_catalog_root(s->p), root = 0;
        uint64_t count = 0;
        int found = 0;
        if (cat && (rc = bt_get(s->p, cat, (const uint8_t *)name, len, &s->scratch, &found, err)))
            return rc;
        if (!found)
            return bz_err_set(err, BZ_NOTFOUND, "no tree named '%.*s'", (int)len, name);
        if ((rc = decode_entry(&s->scratch, name, len, cat, &root, &count, err)))
            return rc;
        if (!(e = cache_add(s, name, len, h, root, count, err)))
            return BZ_NOMEM;
    }
    *out = e;
    return BZ_OK;
}

static int write_entry(bz_store *s, const char *name, size_t len, bz_pgno root, uint64_t count, bz_err *err)
{
    uint8_t v[CAT_VALUE];
    int replaced;
    put32(v, root);
    put64(v + 4, count);
    return bt_put(s->p, pager_catalog_root(s->p), (const uint8_t *)name, len, v, sizeof v, &replaced, err);
}

static int flush_counts(bz_store *s, bz_err *err)
{
    for (size_t i = 0; i < s->tcap; i++)
        for (tentry *e = s->tab[i]; e; e = e->next)
            if (e->dirty) {
                int rc = write_entry(s, e->name, e->len, e->root, e->count, err);
                if (rc)
                    return rc;
                e->dirty = 0;
            }
    return BZ_OK;
}

/* ---- transactions ------------------------------------------------------------ */
static int rollback_now(bz_store *s)
{
    bz_err ignored;
    bz_err_clear(&ignored);
    if (pager_in_txn(s->p))
        pager_rollback(s->p, &ignored);
    cache_clear(s);
    s->changes++;
    return BZ_OK;
}

static int commit_now(bz_store *s, bz_err *err)
{
    int rc = flush_counts(s, err);
    if (rc == BZ_OK)
        rc = pager_commit(s->p, err);     /* rolls back by itself when it fails */
    if (rc)
        rollback_now(s);
    return rc;
}

/* Errors that are detected before a write changes anything. */
static int pristine_error(int rc)
{
    return rc == BZ_TOOBIG || rc == BZ_NOTFOUND || rc == BZ_MISUSE || rc == BZ_EXISTS || rc == BZ_READONLY;
}

static int write_begin(bz_store *s, int *autocommit, bz_err *err)
{
    *autocommit = 0;
    if (s->readonly)
        return bz_err_set(err, BZ_READONLY, "the store was opened read-only");
    if (s->failed)
        return bz_err_set(err, BZ_MISUSE, "the transaction failed and was rolled back; call rollback()");
    if (pager_in_txn(s->p))
        return BZ_OK;
    int rc = pager_begin(s->p, err);
    if (rc == BZ_OK)
        *autocommit = 1;
    return rc;
}

static int write_end(bz_store *s, int autocommit, int rc, bz_err *err)
{
    if (rc == BZ_OK) {
        s->changes++;
        return autocommit ? commit_now(s, err) : BZ_OK;
    }
    if (autocommit) {
        rollback_now(s);
    } else if (!pristine_error(rc)) {
        rollback_now(s);
        s->failed = 1;
    }
    return rc;
}

static int read_begin(bz_store *s, bz_err *err)
{
    if (!s->readonly)
        return BZ_OK;
    cache_clear(s);                 /* another process may have changed anything */
    s->changes++;
    return pager_read_begin(s->p, err);
}

static void read_end(bz_store *s)
{
    if (s->readonly)
        pager_read_end(s->p);
}

int bz_store_begin(bz_store *s, bz_err *err)
{
    if (s->readonly)
        return bz_err_set(err, BZ_READONLY, "the store was opened read-only");
    if (s->failed || pager_in_txn(s->p))
        return bz_err_set(err, BZ_MISUSE, "a transaction is already active");
    return pager_begin(s->p, err);
}

int bz_store_commit(bz_store *s, bz_err *err)
{
    if (s->failed)
        return bz_err_set(err, BZ_MISUSE, "the transaction failed and was rolled back; call rollback()");
    if (!pager_in_txn(s->p))
        return bz_err_set(err, BZ_MISUSE, "commit without an active transaction");
    return commit_now(s, err);
}

int bz_store_rollback(bz_store *s, bz_err *err)
{
    if (s->failed) {
        s->failed = 0;
        return BZ_OK;
    }
    if (!pager_in_txn(s->p))
        return bz_err_set(err, BZ_MISUSE, "rollback without an active transaction");
    return rollback_now(s);
}

int bz_store_in_txn(const bz_store *s) { return s->failed || pager_in_txn(s->p); }

int bz_store_checkpoint(bz_store *s, bz_err *err)
{
    if (bz_store_in_txn(s))
        return bz_err_set(err, BZ_MISUSE, "checkpoint inside a transaction");
    return pager_checkpoint(s->p, err);
}

/* ---- open / close --------------------------------------------------------------- */
int bz_store_open(bz_vfs *vfs, const char *path, const bz_pager_opts *opts, int create, bz_store **out,
                  bz_err *err)
{
    *out = NULL;
    if (!create) {
        int exists = 0;
        int rc = vfs->exists(vfs, path, &exists, err);
        if (rc)
            return rc;
        if (!exists)
            return bz_err_set(err, BZ_NOTFOUND, "no database at %s", path);
    }
    bz_store *s = calloc(1, sizeof *s);
    if (!s)
        return bz_err_set(err, BZ_NOMEM, "out of memory opening %s", path);
    bz_pager_opts o = *opts;
    if (!create)
        o.must_exist = 1;
    int rc = pager_open(vfs, path, &o, &s->p, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->readonly = opts->readonly;
    s->tab = s->tab0;
    s->tcap = TAB_INLINE;
    *out = s;
    return BZ_OK;
}

int bz_store_readonly(const bz_store *s) { return s->readonly; }

bz_pager *bz_store_pager(bz_store *s) { return s->p; }

int bz_store_close(bz_store *s, bz_err *err)
{
    for (bz_cursor *c = s->cursors; c; c = c->next)
        c->s = NULL;
    if (pager_in_txn(s->p))
        rollback_now(s);
    int rc = pager_close(s->p, err);
    cache_clear(s);
    if (s->tab != s->tab0)
        free(s->tab);
    bz_buf_free(&s->scratch);
    free(s);
    return rc;
}

/* ---- trees ---------------------------------------------------------------------- */
static int ensure_catalog(bz_store *s, bz_err *err)
{
    if (pager_catalog_root(s->p))
        return BZ_OK;
    bz_pgno root;
    int rc = bt_create(s->p, &root, err);
    if (rc == BZ_OK)
        rc = pager_set_catalog_root(s->p, root, err);
    return rc;
}

int bz_store_create_tree(bz_store *s, const char *name, size_t len, int *created, bz_err *err)
{
    int autocommit, rc;
    tentry *e;
    *created = 0;
    if ((rc = name_ok(len, err)) || (rc = write_begin(s, &autocommit, err)))
        return rc;
    rc = lookup(s, name, len, &e, err);
    if (rc == BZ_OK)                      /* exists already: nothing to do */
        return write_end(s, autocommit, BZ_OK, err);
    if (rc != BZ_NOTFOUND)
        return write_end(s, autocommit, rc, err);
    bz_err_clear(err);
    bz_pgno root = 0;
    if ((rc = ensure_catalog(s, err)) == BZ_OK && (rc = bt_create(s->p, &root, err)) == BZ_OK &&
        (rc = write_entry(s, name, len, root, 0, err)) == BZ_OK) {
        if (!cache_add(s, name, len, hash_name(name, len), root, 0, err))
            rc = BZ_NOMEM;
        else
            *created = 1;
    }
    rc = write_end(s, autocommit, rc, err);
    if (rc)
        *created = 0;
    return rc;
}

int bz_store_drop_tree(bz_store *s, const char *name, size_t len, int *dropped, bz_err *err)
{
    int autocommit, rc, existed;
    tentry *e;
    *dropped = 0;
    if ((rc = name_ok(len, err)) || (rc = write_begin(s, &autocommit, err)))
        return rc;
    rc = lookup(s, name, len, &e, err);
    if (rc == BZ_NOTFOUND) {
        bz_err_clear(err);
        return write_end(s, autocommit, BZ_OK, err);
    }
    if (rc == BZ_OK && (rc = bt_drop(s->p, e->root, err)) == BZ_OK &&
        (rc = bt_delete(s->p, pager_catalog_root(s->p), (const uint8_t *)name, len, &existed, err)) == BZ_OK) {
        cache_remove(s, e);
        *dropped = 1;
    }
    rc = write_end(s, autocommit, rc, err);
    if (rc)
        *dropped = 0;
    return rc;
}

int bz_store_list_trees(bz_store *s, int (*fn)(void *ctx, const char *name, size_t name_len), void *ctx,
                        bz_err *err)
{
    int rc = read_begin(s, err);
    if (rc)
        return rc;
    bz_pgno cat = pager_catalog_root(s->p);
    if (cat) {
        bt_cursor c;
        bt_cursor_init(&c, s->p, cat);
        rc = bt_seek(&c, BT_FIRST, NULL, 0, err);
        while (rc == BZ_OK && c.valid) {
            if ((rc = bt_read(&c, &s->scratch, NULL, err)))
                break;
            if ((rc = fn(ctx, (const char *)s->scratch.data, s->scratch.len)))
                break;
            rc = bt_next(&c, err);
        }
    }
    read_end(s);
    return rc;
}

/* ---- records ----------------------------------------------------------------------- */
int bz_store_get(bz_store *s, const char *tree, size_t tree_len, const uint8_t *key, size_t klen, bz_buf *val,
                 int *found, bz_err *err)
{
    tentry *e;
    *found = 0;
    val->len = 0;
    int rc = read_begin(s, err);
    if (rc)
        return rc;
    if ((rc = lookup(s, tree, tree_len, &e, err)) == BZ_OK)
        rc = bt_get(s->p, e->root, key, klen, val, found, err);
    read_end(s);
    return rc;
}

int bz_store_put(bz_store *s, const char *tree, size_t tree_len, const uint8_t *key, size_t klen,
                 const uint8_t *val, size_t vlen, int *replaced, bz_err *err)
{
    int autocommit, rc;
    tentry *e;
    *replaced = 0;
    if (klen > BZ_MAX_KEY)
        return bz_err_set(err, BZ_TOOBIG, "key of %zu bytes exceeds the limit of %u bytes", klen, BZ_MAX_KEY);
    if (vlen > BZ_MAX_VALUE)
        return bz_err_set(err, BZ_TOOBIG, "value of %zu bytes exceeds the limit of %u bytes", vlen,
                          BZ_MAX_VALUE);
    if ((rc = write_begin(s, &autocommit, err)))
        return rc;
    if ((rc = lookup(s, tree, tree_len, &e, err)) == BZ_OK &&
        (rc = bt_put(s->p, e->root, key, klen, val, vlen, replaced, err)) == BZ_OK && !*replaced) {
        e->count++;
        e->dirty = 1;
    }
    return write_end(s, autocommit, rc, err);
}

int bz_store_delete(bz_store *s, const char *tree, size_t tree_len, const uint8_t *key, size_t klen,
                    int *existed, bz_err *err)
{
    int autocommit, rc;
    tentry *e;
    *existed = 0;
    if ((rc = write_begin(s, &autocommit, err)))
        return rc;
    if ((rc = lookup(s, tree, tree_len, &e, err)) == BZ_OK &&
        (rc = bt_delete(s->p, e->root, key, klen, existed, err)) == BZ_OK && *existed) {
        e->count--;
        e->dirty = 1;
    }
    return write_end(s, autocommit, rc, err);
}

int bz_store_count(bz_store *s, const char *tree, size_t tree_len, uint64_t *out, bz_err *err)
{
    tentry *e;
    *out = 0;
    int rc = read_begin(s, err);
    if (rc)
        return rc;
    if ((rc = lookup(s, tree, tree_len, &e, err)) == BZ_OK)
        *out = e->count;
    read_end(s);
    return rc;
}

int bz_store_clear(bz_store *s, const char *tree, size_t tree_len, uint64_t *removed, bz_err *err)
{
    int autocommit, rc;
    tentry *e;
    *removed = 0;
    if ((rc = write_begin(s, &autocommit, err)))
        return rc;
    if ((rc = lookup(s, tree, tree_len, &e, err)) == BZ_OK && (rc = bt_clear(s->p, e->root, err)) == BZ_OK) {
        *removed = e->count;
        e->count = 0;
        e->dirty = 1;
    }
    rc = write_end(s, autocommit, rc, err);
    if (rc)
        *removed = 0;
    return rc;
}

static uint8_t *dup_bytes(const uint8_t *src, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, src, n);
    return d;
}

/* ---- cursors ------------------------------------------------------------------------ */
/* A cursor, its own copies of the tree name and range bounds, and the first
 * LAST_INLINE bytes for the last key it returned are one allocation (the rest
 * follows the struct, the key storage last, so that ASan's redzone still
 * follows it): a query opens several cursors, and under ASan every malloc
 * records a stack trace. A longer key moves `last` to a buffer of its own. */
int bz_cursor_open(bz_store *s, const char *tree, size_t tree_len, const bz_range *r, bz_cursor **out,
                   bz_err *err)
{
    tentry *e;
    *out = NULL;
    int rc = read_begin(s, err);
    if (rc)
        return rc;
    rc = lookup(s, tree, tree_len, &e, err);      /* an unknown tree fails at once */
    read_end(s);
    if (rc)
        return rc;
    size_t start_len = r->has_start ? r->start_len : 0, stop_len = r->has_stop ? r->stop_len : 0;
    bz_cursor *c = calloc(1, sizeof *c + tree_len + start_len + stop_len + LAST_INLINE);
    if (!c)
        return bz_err_set(err, BZ_NOMEM, "out of memory opening a cursor");
    uint8_t *copies = (uint8_t *)(c + 1);
    c->tree = (char *)copies;
    c->tree_len = tree_len;
    if (tree_len)
        memcpy(c->tree, tree, tree_len);
    c->has_start = r->has_start;
    c->has_stop = r->has_stop;
    c->include_start = r->include_start;
    c->include_stop = r->include_stop;
    c->reverse = r->reverse;
    c->start = copies + tree_len;
    c->start_len = start_len;
    if (start_len)
        memcpy(c->start, r->start, start_len);
    c->stop = c->start + start_len;
    c->stop_len = stop_len;
    if (stop_len)
        memcpy(c->stop, r->stop, stop_len);
    bz_buf_borrow(&c->last, c->stop + stop_len, LAST_INLINE);
    c->s = s;
    c->next = s->cursors;
    if (s->cursors)
        s->cursors->prev = c;
    s->cursors = c;
    *out = c;
    return BZ_OK;
}

void bz_cursor_free(bz_cursor *c)
{
    if (!c)
        return;
    if (c->s) {
        if (c->prev)
            c->prev->next = c->next;
        else
            c->s->cursors = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    bz_buf_free(&c->last);
    free(c);
}

/* Positions c->bc for the next entry: first call, re-seek after a change, or a step. */
static int cursor_step(bz_cursor *c, bz_err *err)
{
    bz_store *s = c->s;
    if (c->started && c->seen == s->changes)
        return c->reverse ? bt_prev(&c->bc, err) : bt_next(&c->bc, err);
    tentry *e;
    int rc = lookup(s, c->tree, c->tree_len, &e, err);
    if (rc == BZ_NOTFOUND) {              /* the tree was dropped: the scan ends */
        bz_err_clear(err);
        c->bc.valid = 0;
        return BZ_OK;
    }
    if (rc)
        return rc;
    bt_cursor_init(&c->bc, s->p, e->root);
    if (c->started)
        return bt_seek(&c->bc, c->reverse ? BT_SEEK_LT : BT_SEEK_GT, c->last.data, c->last.len, err);
    if (!c->reverse)
        return c->has_start ? bt_seek(&c->bc, c->include_start ? BT_SEEK_GE : BT_SEEK_GT, c->start,
                                      c->start_len, err)
                            : bt_seek(&c->bc, BT_FIRST, NULL, 0, err);
    return c->has_stop ? bt_seek(&c->bc, c->include_stop ? BT_SEEK_LE : BT_SEEK_LT, c->stop, c->stop_len, err)
                       : bt_seek(&c->bc, BT_LAST, NULL, 0, err);
}

int bz_cursor_next(bz_cursor *c, bz_buf *key, bz_buf *val, int *done, bz_err *err)
{
    *done = 1;
    if (!c->s)
        return bz_err_set(err, BZ_MISUSE, "the store of this cursor is closed");
    if (c->done)
        return BZ_OK;
    bz_store *s = c->s;
    int rc = read_begin(s, err);
    if (rc)
        return rc;
    if ((rc = cursor_step(c, err)) == BZ_OK) {
        c->seen = s->changes;
        c->started = 1;
        if (!c->bc.valid)
            c->done = 1;
        else
            rc = bt_read(&c->bc, key, val, err);
    }
    if (rc == BZ_OK && !c->done && c->last_valid) {
        /* Keys must move strictly onwards; anything else is a damaged tree
         * (and would make a scan of a page graph with shared nodes endless). */
        int cmp = bt_keycmp(key->data, key->len, c->last.data, c->last.len);
        if (c->reverse ? cmp >= 0 : cmp <= 0) {
            int fresh = err->rc == BZ_OK;
            rc = bz_err_set(err, BZ_CORRUPT, "tree '%.*s' returns keys out of order", (int)c->tree_len, c->tree);
            if (fresh)
                err->page = c->bc.pg[c->bc.depth - 1];
        }
    }
    if (rc == BZ_OK && !c->done) {
        if (!c->reverse && c->has_stop) {
            int cmp = bt_keycmp(key->data, key->len, c->stop, c->stop_len);
            if (cmp > 0 || (cmp == 0 && !c->include_stop))
                c->done = 1;
        } else if (c->reverse && c->has_start) {
            int cmp = bt_keycmp(key->data, key->len, c->start, c->start_len);
            if (cmp < 0 || (cmp == 0 && !c->include_start))
                c->done = 1;
        }
        if (!c->done && (rc = bz_buf_set(&c->last, key->data, key->len, err)) == BZ_OK)
            c->last_valid = 1;
    }
    read_end(s);
    if (rc == BZ_OK && !c->done)
        *done = 0;
    if (c->done) {
        key->len = 0;
        val->len = 0;
    }
    return rc;
}

/* ---- check ------------------------------------------------------------------------------ */
typedef struct check_ctx {
    uint8_t *seen;
    uint32_t count;
    bz_pgno dup;                  /* a free-list page seen twice / out of range */
    uint32_t free_pages;
    bz_err *err;
} check_ctx;

static int mark(check_ctx *x, bz_pgno pg)
{
    if (pg == 0 || pg >= x->count || (x->seen[pg / 8] & (1u << (pg % 8)))) {
        x->dup = pg;
        return BZ_CORRUPT;
    }
    x->seen[pg / 8] |= (uint8_t)(1u << (pg % 8));
    return BZ_OK;
}

static int visit_tree_page(void *ctx, bz_pgno pg, bz_err *err)
{
    check_ctx *x = ctx;
    if (mark(x, pg) == BZ_OK)
        return BZ_OK;
    int fresh = err->rc == BZ_OK;
    if (pg == 0 || pg >= x->count)
        bz_err_set(err, BZ_CORRUPT, "a tree points to page %u outside the file", (unsigned)pg);
    else
        bz_err_set(err, BZ_CORRUPT, "page %u is referenced twice", (unsigned)pg);
    if (fresh)
        err->page = pg;
    return BZ_CORRUPT;
}

static int visit_free_page(void *ctx, bz_pgno pg)
{
    check_ctx *x = ctx;
    x->free_pages++;
    return mark(x, pg);
}

void bz_check_report_free(bz_check_report *r)
{
    for (size_t i = 0; i < r->ntrees; i++)
        free(r->trees[i].name);
    free(r->trees);
    r->trees = NULL;
    r->ntrees = 0;
}

static int check_trees(bz_store *s, check_ctx *x, bz_check_report *out, bz_err *err)
{
    bz_pgno cat = pager_catalog_root(s->p);
    if (!cat)
        return BZ_OK;
    bt_check_stats st;
    int rc = bt_check(s->p, cat, visit_tree_page, x, &st, err);
    if (rc)
        return rc;
    out->catalog_pages = st.leaf_pages + st.interior_pages + st.overflow_pages;
    out->catalog_depth = st.depth;
    size_t cap = 0;
    bz_buf name = {0}, val = {0};
    bt_cursor c;
    bt_cursor_init(&c, s->p, cat);
    rc = bt_seek(&c, BT_FIRST, NULL, 0, err);
    while (rc == BZ_OK && c.valid) {
        bz_pgno root;
        uint64_t count;
        if ((rc = bt_read(&c, &name, &val, err)))
            break;
        if (name.len > BZ_MAX_TREE_NAME) {
            rc = bz_err_set(err, BZ_CORRUPT, "catalog holds a tree name of %zu bytes", name.len);
            err->page = cat;
            break;
        }
        if ((rc = decode_entry(&val, (const char *)name.data, name.len, cat, &root, &count, err)))
            break;
        tentry *e = cache_find(s, (const char *)name.data, name.len, hash_name((const char *)name.data, name.len));
        if (e && e->dirty)
            count = e->count;
        if ((rc = bt_check(s->p, root, visit_tree_page, x, &st, err)))
            break;
        if (st.entries != count) {
            rc = bz_err_set(err, BZ_CORRUPT, "tree '%.*s' holds %llu entries, its catalog entry says %llu",
                            (int)name.len, (const char *)name.data, (unsigned long long)st.entries,
                            (unsigned long long)count);
            err->page = root;
            break;
        }
        if (out->ntrees == cap) {
            cap = cap ? 2 * cap : 8;
            bz_check_tree *nt = realloc(out->trees, cap * sizeof *nt);
            if (!nt) {
                rc = bz_err_set(err, BZ_NOMEM, "out of memory in check()");
                break;
            }
            out->trees = nt;
        }
        bz_check_tree *t = &out->trees[out->ntrees];
        t->name = (char *)dup_bytes(name.data, name.len + 1);
        if (!t->name) {
            rc = bz_err_set(err, BZ_NOMEM, "out of memory in check()");
            break;
        }
        t->name[name.len] = '\0';
        t->name_len = name.len;
        t->root = root;
        t->depth = st.depth;
        t->entries = st.entries;
        t->leaf_pages = st.leaf_pages;
        t->interior_pages = st.interior_pages;
        t->overflow_pages = st.overflow_pages;
        out->ntrees++;
        out->leaf_pages += st.leaf_pages;
        out->interior_pages += st.interior_pages;
        out->overflow_pages += st.overflow_pages;
        out->underfull_pages += st.underfull_pages;
        out->entries += st.entries;
        rc = bt_next(&c, err);
    }
    bz_buf_free(&name);
    bz_buf_free(&val);
    return rc;
}

int bz_store_check(bz_store *s, bz_check_report *out, bz_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = read_begin(s, err);
    if (rc)
        return rc;
    check_ctx x = { NULL, pager_page_count(s->p), 0, 0, err };
    x.seen = calloc(x.count / 8 + 1, 1);
    if (!x.seen) {
        read_end(s);
        return bz_err_set(err, BZ_NOMEM, "out of memory in check()");
    }
    x.seen[0] = 1;                        /* the header page */
    out->page_count = x.count;
    out->header_pages = 1;
    rc = pager_walk_freelist(s->p, visit_free_page, &x, err);
    if (rc == BZ_CORRUPT && err->rc == BZ_OK) {
        bz_err_set(err, BZ_CORRUPT, "free-list page %u is out of range or referenced twice", (unsigned)x.dup);
        err->page = x.dup;
    }
    if (rc == BZ_OK)
        rc = check_trees(s, &x, out, err);
    for (bz_pgno pg = 1; rc == BZ_OK && pg < x.count; pg++) {
        if (x.seen[pg / 8] & (1u << (pg % 8)))
            continue;
        rc = bz_err_set(err, BZ_CORRUPT, "page %u is leaked: neither in a tree nor on the free list",
                        (unsigned)pg);
        err->page = pg;
    }
    out->free_pages = x.free_pages;
    free(x.seen);
    read_end(s);
    if (rc)
        bz_check_report_free(out);
    return rc;
}

/* ---- stats ------------------------------------------------------------------------------- */
static int count_tree(void *ctx, const char *name, size_t len)
{
    (void)name;
    (void)len;
    (*(uint32_t *)ctx)++;
    return BZ_OK;
}

int bz_store_stats_get(bz_store *s, bz_store_stats *out, bz_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = bz_store_list_trees(s, count_tree, &out->trees, err);
    pager_stats(s->p, &out->pager);
    out->changes = s->changes;
    return rc;
}
