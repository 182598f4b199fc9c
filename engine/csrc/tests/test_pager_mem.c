/* A test-only pager: the pager.h contract over plain memory, with rollback by
 * snapshot. Lets the B+tree tests run without the real pager/WAL, and lets a
 * test count page references (every get/write/alloc must be unref'd).
 * Not part of the module (engine/csrc/store/ has the real pager). */
#include "pager.h"

#include <stdlib.h>
#include <string.h>

struct bz_pager {
    uint32_t count;                 /* pages, header included */
    bz_page **pages;                /* [count], page 0 unused by trees */
    uint32_t *freel, nfree, capfree;
    bz_pgno catalog;
    int in_txn;
    /* snapshot at begin */
    uint32_t s_count, s_nfree;
    uint8_t **s_data;
    uint32_t *s_freel;
    bz_pgno s_catalog;
    long live_refs;
};

long test_pager_live_refs(bz_pager *p) { return p->live_refs; }

static bz_page *newpage(bz_pgno n)
{
    bz_page *pg = calloc(1, sizeof *pg);
    pg->pgno = n;
    pg->data = calloc(1, BZ_PAGE_SIZE);
    return pg;
}

int pager_open(bz_vfs *vfs, const char *path, const bz_pager_opts *opts, bz_pager **out, bz_err *err)
{
    (void)vfs; (void)path; (void)opts; (void)err;
    bz_pager *p = calloc(1, sizeof *p);
    p->count = 1;
    p->pages = calloc(1, sizeof *p->pages);
    p->pages[0] = newpage(0);
    *out = p;
    return BZ_OK;
}

static void drop_snapshot(bz_pager *p)
{
    if (!p->s_data)
        return;
    for (uint32_t i = 0; i < p->s_count; i++)
        free(p->s_data[i]);
    free(p->s_data);
    free(p->s_freel);
    p->s_data = NULL;
    p->s_freel = NULL;
}

int pager_close(bz_pager *p, bz_err *err)
{
    (void)err;
    drop_snapshot(p);
    for (uint32_t i = 0; i < p->count; i++) {
        free(p->pages[i]->data);
        free(p->pages[i]);
    }
    free(p->pages);
    free(p->freel);
    free(p);
    return BZ_OK;
}

int pager_begin(bz_pager *p, bz_err *err)
{
    if (p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "nested begin");
    p->in_txn = 1;
    p->s_count = p->count;
    p->s_data = malloc(sizeof *p->s_data * p->count);
    for (uint32_t i = 0; i < p->count; i++) {
        p->s_data[i] = malloc(BZ_PAGE_SIZE);
        memcpy(p->s_data[i], p->pages[i]->data, BZ_PAGE_SIZE);
    }
    p->s_nfree = p->nfree;
    p->s_freel = malloc(sizeof(uint32_t) * (p->nfree + 1));
    memcpy(p->s_freel, p->freel, sizeof(uint32_t) * p->nfree);
    p->s_catalog = p->catalog;
    return BZ_OK;
}

int pager_commit(bz_pager *p, bz_err *err)
{
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "commit without begin");
    drop_snapshot(p);
    p->in_txn = 0;
    return BZ_OK;
}

int pager_rollback(bz_pager *p, bz_err *err)
{
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "rollback without begin");
    for (uint32_t i = p->s_count; i < p->count; i++) {
        free(p->pages[i]->data);
        free(p->pages[i]);
    }
    p->count = p->s_count;
    for (uint32_t i = 0; i < p->count; i++)
        memcpy(p->pages[i]->data, p->s_data[i], BZ_PAGE_SIZE);
    p->nfree = p->s_nfree;
    memcpy(p->freel, p->s_freel, sizeof(uint32_t) * p->nfree);
    p->catalog = p->s_catalog;
    drop_snapshot(p);
    p->in_txn = 0;
    return BZ_OK;
}

int pager_in_txn(const bz_pager *p) { return p->in_txn; }
int pager_read_begin(bz_pager *p, bz_err *err) { (void)p; (void)err; return BZ_OK; }
void pager_read_end(bz_pager *p) { (void)p; }

int pager_get(bz_pager *p, bz_pgno pgno, bz_page **out, bz_err *err)
{
    if (pgno == 0 || pgno >= p->count) {
        int r = bz_err_set(err, BZ_CORRUPT, "page %u out of range", pgno);
        err->page = pgno;
        return r;
    }
    *out = p->pages[pgno];
    (*out)->refs++;
    p->live_refs++;
    return BZ_OK;
}

int pager_write(bz_pager *p, bz_page *pg, bz_err *err)
{
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "write outside a transaction");
    pg->dirty = 1;
    return BZ_OK;
}

int pager_alloc(bz_pager *p, bz_page **out, bz_err *err)
{
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "alloc outside a transaction");
    bz_pgno n;
    if (p->nfree) {
        n = p->freel[--p->nfree];
    } else {
        n = p->count++;
        p->pages = realloc(p->pages, sizeof *p->pages * p->count);
        p->pages[n] = newpage(n);
    }
    memset(p->pages[n]->data, 0, BZ_PAGE_SIZE);
    *out = p->pages[n];
    (*out)->refs++;
    p->live_refs++;
    return BZ_OK;
}

int pager_free(bz_pager *p, bz_pgno pgno, bz_err *err)
{
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "free outside a transaction");
    if (pgno == 0 || pgno >= p->count)
        return bz_err_set(err, BZ_CORRUPT, "free of page %u out of range", pgno);
    for (uint32_t i = 0; i < p->nfree; i++)
        if (p->freel[i] == pgno)
            return bz_err_set(err, BZ_CORRUPT, "double free of page %u", pgno);
    if (p->pages[pgno]->refs)
        return bz_err_set(err, BZ_MISUSE, "free of referenced page %u", pgno);
    if (p->nfree == p->capfree) {
        p->capfree = p->capfree ? 2 * p->capfree : 64;
        p->freel = realloc(p->freel, sizeof(uint32_t) * p->capfree);
    }
    memset(p->pages[pgno]->data, 0xEE, BZ_PAGE_SIZE);   /* poison: use-after-free shows */
    p->freel[p->nfree++] = pgno;
    return BZ_OK;
}

void pager_unref(bz_pager *p, bz_page *pg)
{
    pg->refs--;
    p->live_refs--;
}

bz_pgno pager_catalog_root(const bz_pager *p) { return p->catalog; }
int pager_set_catalog_root(bz_pager *p, bz_pgno root, bz_err *err)
{
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "catalog root change outside a transaction");
    p->catalog = root;
    return BZ_OK;
}
uint32_t pager_page_count(const bz_pager *p) { return p->count; }
int pager_checkpoint(bz_pager *p, bz_err *err) { (void)p; (void)err; return BZ_OK; }

int pager_walk_freelist(bz_pager *p, int (*fn)(void *ctx, bz_pgno pgno), void *ctx, bz_err *err)
{
    (void)err;
    for (uint32_t i = 0; i < p->nfree; i++) {
        int rc = fn(ctx, p->freel[i]);
        if (rc)
            return rc;
    }
    return BZ_OK;
}

void pager_stats(const bz_pager *p, bz_pager_stats *out)
{
    memset(out, 0, sizeof *out);
    out->page_count = p->count;
    out->free_pages = p->nfree;
}
