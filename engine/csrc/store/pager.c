/* The pager: a cache of fixed-size pages over the database file and its WAL,
 * write transactions with in-memory rollback, the header page and the free
 * list. File layout: engine/doc/file_format.md. WAL: wal.c.
 *
 * Invariants:
 *  - A page is read from the WAL when the WAL index has it, else from the
 *    database file; either way its CRC trailer is verified before use.
 *  - Pages changed in a transaction ("dirty") stay in memory, pinned, with
 *    their content as of begin in `orig` (none for pages new in the txn);
 *    commit writes them and the header page to the WAL; rollback copies
 *    `orig` back. Nothing reaches the database file outside a checkpoint.
 *  - Every commit writes the header page with a new transaction id as its
 *    commit frame, so the header always names the newest committed state.
 *  - Unreferenced clean pages sit on an LRU list and are evicted beyond
 *    cache_pages; referenced or dirty pages never are.
 *
 * Allocations: each one costs a recorded stack trace and a quarantine slot
 * under ASan, and a fuzz target opens, writes and closes a database several
 * times per input. So the pager, its hash table's first slots, its path and
 * its log's path are one block; a commit's page list lives in the pager up
 * to COMMIT_INLINE pages; and page-sized scratch buffers (the `orig` copies,
 * a checkpoint's read buffer) go back to a list of at most SCRATCH_KEEP idle
 * buffers when a transaction ends, poisoned under ASan while idle. Page
 * frames themselves (bz_page), which the B-tree holds pointers to, always
 * go through malloc/free: a stale pointer to an evicted page stays an ASan
 * report for as long as the quarantine holds it.
 */
#define _GNU_SOURCE
#include "pager.h"

#include "crc32c.h"
#include "wal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint8_t HDR_MAGIC[8] = { 'B', 'L', 'A', 'Z', 'E', 'D', 'B', 0 };
#define FORMAT_VERSION 1u
#define FREE_MAGIC 0x45455246u        /* "FREE" */
#define MIN_CACHE 16u
#define READER_WAIT 5.0               /* seconds a reader waits for a checkpoint */
#define HASH_INLINE 64u               /* hash slots inside the pager block */
#define COMMIT_INLINE 16u             /* commit list entries inside the pager block */
#define SCRATCH_KEEP 8u               /* idle page-sized buffers kept for reuse */

/* Header page fields (offsets in file_format.md). */
typedef struct hdr {
    uint32_t page_count, free_head, free_count, catalog_root;
    uint64_t last_txn;
} hdr;

struct bz_pager {
    bz_vfs *vfs;
    char *path;
    bz_file *db;
    bz_wal *wal;
    bz_pager_opts o;
    hdr h, h_begin;
    int in_txn;
    uint64_t next_txn;
    bz_page **hash;               /* hash0 until the cache outgrows it */
    size_t hcap, ncached;
    bz_page lru;                  /* sentinel: lru_next is the most recently used */
    size_t nlru;
    bz_page *dirty;
    size_t ndirty;
    int read_locked;
    int read_depth;               /* nested pager_read_begin calls */
    int opened;                   /* pager_open succeeded: close may checkpoint */
    uint64_t hits, misses, checkpoints, ck_skipped, commits, rollbacks;
    uint8_t *scratch[SCRATCH_KEEP];   /* idle page-sized buffers (poisoned under ASan) */
    size_t nscratch;
    bz_wal_page commit_list[COMMIT_INLINE];
    bz_page *hash0[HASH_INLINE];
    uint8_t hdrbuf[BZ_PAGE_SIZE];
    char names[];                 /* path, then the log's path ("<path>-wal") */
};

/* ---- waiting for locks ---- */

static void default_sleep(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void (*sleep_hook)(double) = default_sleep;

void pager_set_sleep_hook(void (*fn)(double)) { sleep_hook = fn ? fn : default_sleep; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Takes a lock, retrying until `timeout` seconds have passed. The clock is
 * read only once the lock turns out to be busy: a free lock (the usual case,
 * several times per open, commit and checkpoint) costs one call. */
static int lock_wait(bz_file *f, int which, int mode, double timeout, bz_err *err)
{
    double deadline = -1, pause = 0.001;
    for (;;) {
        bz_err e;
        bz_err_clear(&e);
        int rc = f->m->lock(f, which, mode, &e);
        if (rc == BZ_LOCKED) {
            double t = now();
            if (deadline < 0)
                deadline = t + timeout;
            if (t < deadline) {
                sleep_hook(pause);
                if (pause < 0.05)
                    pause *= 2;
                continue;
            }
        }
        if (rc) {
            bz_err_set(err, rc, "%s", e.msg);
            err->sys_errno = e.sys_errno;
        }
        return rc;
    }
}

static void unlock(bz_file *f, int which)
{
    bz_err e;
    bz_err_clear(&e);
    (void)f->m->lock(f, which, BZ_LOCK_UNLOCK, &e);
}

/* ---- errors naming pages ---- */

static int corrupt2(bz_err *err, int64_t page, int64_t frame, const char *fmt, const char *path,
                    uint32_t a, uint32_t b)
{
    char what[160];
    snprintf(what, sizeof what, fmt, a, b);
    if (err->rc == BZ_OK) {
        bz_err_set(err, BZ_CORRUPT, "%s: %s", path, what);
        err->page = page;
        err->frame = frame;
    }
    return err->rc;
}

static int corrupt(bz_err *err, int64_t page, int64_t frame, const char *fmt, const char *path, uint32_t a)
{
    return corrupt2(err, page, frame, fmt, path, a, 0);
}

/* ---- the page cache ---- */

BZ_NO_COVERAGE static size_t hslot(const bz_pager *p, bz_pgno pgno) { return (pgno * 2654435761u) & (p->hcap - 1); }

BZ_NO_COVERAGE static bz_page *hash_find(bz_pager *p, bz_pgno pgno)
{
    for (bz_page *pg = p->hash[hslot(p, pgno)]; pg; pg = pg->hash_next)
        if (pg->pgno == pgno)
            return pg;
    return NULL;
}

static void hash_grow(bz_pager *p)
{
    size_t ncap = p->hcap * 2;
    bz_page **nh = calloc(ncap, sizeof *nh);
    if (!nh)
        return;   /* longer chains, still correct */
    for (size_t i = 0; i < p->hcap; i++) {
        bz_page *pg = p->hash[i];
        while (pg) {
            bz_page *next = pg->hash_next;
            size_t s = (pg->pgno * 2654435761u) & (ncap - 1);
            pg->hash_next = nh[s];
            nh[s] = pg;
            pg = next;
        }
    }
    if (p->hash != p->hash0)
        free(p->hash);
    p->hash = nh;
    p->hcap = ncap;
}

BZ_NO_COVERAGE static void hash_add(bz_pager *p, bz_page *pg)
{
    if (p->ncached >= p->hcap)
        hash_grow(p);
    size_t s = hslot(p, pg->pgno);
    pg->hash_next = p->hash[s];
    p->hash[s] = pg;
    p->ncached++;
}

BZ_NO_COVERAGE static void hash_remove(bz_pager *p, bz_page *pg)
{
    for (bz_page **pp = &p->hash[hslot(p, pg->pgno)]; *pp; pp = &(*pp)->hash_next) {
        if (*pp == pg) {
            *pp = pg->hash_next;
            p->ncached--;
            return;
        }
    }
}

BZ_NO_COVERAGE static void lru_add(bz_pager *p, bz_page *pg)
{
    pg->lru_next = p->lru.lru_next;
    pg->lru_prev = &p->lru;
    p->lru.lru_next->lru_prev = pg;
    p->lru.lru_next = pg;
    p->nlru++;
}

BZ_NO_COVERAGE static void lru_remove(bz_pager *p, bz_page *pg)
{
    pg->lru_prev->lru_next = pg->lru_next;
    pg->lru_next->lru_prev = pg->lru_prev;
    pg->lru_prev = pg->lru_next = NULL;
    p->nlru--;
}

static bz_page *page_new(bz_pgno pgno)
{
    bz_page *pg = calloc(1, sizeof *pg + BZ_PAGE_SIZE);
    if (!pg)
        return NULL;
    pg->pgno = pgno;
    pg->data = (uint8_t *)(pg + 1);
    return pg;
}

/* A page-sized buffer: an idle one if there is one, else a new one. */
static uint8_t *scratch_take(bz_pager *p)
{
    if (!p->nscratch)
        return malloc(BZ_PAGE_SIZE);
    uint8_t *b = p->scratch[--p->nscratch];
    BZ_UNPOISON(b, BZ_PAGE_SIZE);
    return b;
}

static void scratch_give(bz_pager *p, uint8_t *b)
{
    if (!b)
        return;
    if (p->nscratch == SCRATCH_KEEP) {
        free(b);
        return;
    }
    BZ_POISON(b, BZ_PAGE_SIZE);
    p->scratch[p->nscratch++] = b;
}

static void evict(bz_pager *p)
{
    while (p->ncached > p->o.cache_pages && p->nlru) {
        bz_page *victim = p->lru.lru_prev;
        lru_remove(p, victim);
        hash_remove(p, victim);
        free(victim);
    }
}

/* Drops every clean, unreferenced page (a reader saw the file change). */
static void drop_clean(bz_pager *p)
{
    while (p->nlru) {
        bz_page *victim = p->lru.lru_prev;
        lru_remove(p, victim);
        hash_remove(p, victim);
        free(victim);
    }
}

/* ---- reading pages from the files ---- */

static int read_raw(bz_pager *p, bz_pgno pgno, uint8_t *buf, int *beyond_eof, bz_err *err)
{
    uint32_t frame;
    *beyond_eof = 0;
    if (wal_find(p->wal, pgno, &frame)) {
        int rc = wal_read_page(p->wal, frame, buf, err);
        if (rc)
            return rc;
        if (!bz_page_verify(pgno, buf))
            return corrupt(err, pgno, frame, "page %u (in the WAL) fails its checksum", p->path, pgno);
        return BZ_OK;
    }
    size_t got = 0;
    int rc = p->db->m->read(p->db, buf, BZ_PAGE_SIZE, (uint64_t)pgno * BZ_PAGE_SIZE, &got, err);
    if (rc)
        return rc;
    if (got < BZ_PAGE_SIZE) {
        *beyond_eof = 1;
        if (got == 0 && pgno == 0)
            return BZ_OK;  /* caller decides: an empty file is a new database */
        memset(buf + got, 0, BZ_PAGE_SIZE - got);
        if (pgno == 0)
            return BZ_OK;
        return corrupt(err, pgno, -1, "page %u lies beyond the end of the file", p->path, pgno);
    }
    if (!bz_page_verify(pgno, buf))
        return corrupt(err, pgno, -1, "page %u fails its checksum", p->path, pgno);
    return BZ_OK;
}

/* ---- the header page ---- */

static void encode_hdr(const hdr *h, uint8_t *b)
{
    memset(b, 0, BZ_PAGE_SIZE);
    memcpy(b, HDR_MAGIC, 8);
    bz_put32(b + 8, FORMAT_VERSION);
    bz_put32(b + 12, BZ_PAGE_SIZE);
    bz_put32(b + 16, h->page_count);
    bz_put32(b + 20, h->free_head);
    bz_put32(b + 24, h->free_count);
    bz_put32(b + 28, h->catalog_root);
    bz_put64(b + 32, h->last_txn);
    bz_page_seal(0, b);
}

static int decode_hdr(bz_pager *p, const uint8_t *b, hdr *h, bz_err *err)
{
    if (memcmp(b, HDR_MAGIC, 8) != 0)
        return corrupt(err, 0, -1, "not a BlazeDB database (bad magic on page %u)", p->path, 0);
    if (bz_get32(b + 8) != FORMAT_VERSION)
        return corrupt(err, 0, -1, "unsupported format version %u", p->path, bz_get32(b + 8));
    if (bz_get32(b + 12) != BZ_PAGE_SIZE)
        return corrupt(err, 0, -1, "unsupported page size %u", p->path, bz_get32(b + 12));
    h->page_count = bz_get32(b + 16);
    h->free_head = bz_get32(b + 20);
    h->free_count = bz_get32(b + 24);
    h->catalog_root = bz_get32(b + 28);
    h->last_txn = bz_get64(b + 32);
    if (h->page_count < 1)
        return corrupt(err, 0, -1, "header page %u: page count is 0", p->path, 0);
    if (h->free_head >= h->page_count || h->catalog_root >= h->page_count ||
        h->free_count >= h->page_count || (h->free_head == 0) != (h->free_count == 0))
        return corrupt(err, 0, -1, "header page %u: free list or catalog root out of range", p->path, 0);
    return BZ_OK;
}

/* Loads the header: from the WAL when a commit put it there, else from page
 * 0 of the file. An empty file is a new database (*fresh): its header page
 * reaches the disk with the first commit, through the WAL like every page,
 * so a database file is either empty or at least one page long. */
/* Every page below the page count was written by some commit, so each one
 * beyond the end of the file is in the log; and the count never shrinks, so
 * every page in the log is below it. Anything else is damage, and believing
 * it would make the next checkpoint grow the file to match (terabytes, for a
 * page number near 2^32). `size` is the file's size in bytes; a new
 * database (`fresh`) has no page on disk yet, its header included. */
static int check_page_count(bz_pager *p, uint64_t size, int fresh, bz_err *err)
{
    uint64_t in_file = (size + BZ_PAGE_SIZE - 1) / BZ_PAGE_SIZE;
    if (!fresh && p->h.page_count > in_file) {
        uint32_t missing = p->h.page_count - (uint32_t)in_file;
        uint32_t logged = wal_count_pages(p->wal, (bz_pgno)in_file, p->h.page_count);
        if (logged != missing)
            return corrupt2(err, 0, -1, "header page 0: page count %u, but %u of its pages are "
                            "neither in the file nor in its log", p->path, p->h.page_count,
                            missing - logged);
    }
    uint32_t logged_beyond = wal_count_pages(p->wal, p->h.page_count, (uint64_t)UINT32_MAX + 1);
    if (logged_beyond)
        return corrupt2(err, 0, -1, "header page 0: page count %u, but the log holds %u page(s) "
                        "beyond it", p->path, p->h.page_count, logged_beyond);
    return BZ_OK;
}

static int load_hdr(bz_pager *p, int *fresh, bz_err *err)
{
    int beyond = 0;
    uint8_t *b = p->hdrbuf;
    *fresh = 0;
    int rc = read_raw(p, 0, b, &beyond, err);
    if (rc)
        return rc;
    if (beyond) {
        uint64_t size = 0;
        if ((rc = p->db->m->size(p->db, &size, err)) != BZ_OK)
            return rc;
        if (size != 0)
            return corrupt(err, 0, -1, "not a BlazeDB database: %u bytes, less than one page (truncated?)",
                           p->path, (uint32_t)size);
        *fresh = 1;
        memset(&p->h, 0, sizeof p->h);
        p->h.page_count = 1;
        return check_page_count(p, size, 1, err);   /* a log of pages without a header is damage */
    }
    if (!bz_page_verify(0, b))
        return corrupt(err, 0, -1, "header page %u fails its checksum", p->path, 0);
    if ((rc = decode_hdr(p, b, &p->h, err)) != BZ_OK)
        return rc;
    uint64_t size = 0;
    if ((rc = p->db->m->size(p->db, &size, err)) != BZ_OK)
        return rc;
    return check_page_count(p, size, 0, err);
}

/* ---- open / close ---- */

int pager_open(bz_vfs *vfs, const char *path, const bz_pager_opts *opts, bz_pager **out, bz_err *err)
{
    size_t plen = strlen(path);
    bz_pager *p = calloc(1, sizeof *p + 2 * (plen + 5));
    if (!p)
        return bz_err_set(err, BZ_NOMEM, "out of memory opening %s", path);
    p->vfs = vfs;
    vfs->retain(vfs);
    p->o = *opts;
    if (p->o.cache_pages < MIN_CACHE)
        p->o.cache_pages = MIN_CACHE;
    p->lru.lru_next = p->lru.lru_prev = &p->lru;
    p->hcap = HASH_INLINE;   /* grows with the cache; small so that open/close stay cheap */
    p->hash = p->hash0;
    p->path = p->names;
    memcpy(p->path, path, plen + 1);
    int rc;
    int flags = p->o.readonly ? BZ_OPEN_READONLY : (p->o.must_exist ? 0 : BZ_OPEN_CREATE);
    if ((rc = vfs->open(vfs, path, flags, &p->db, err)) != BZ_OK)
        goto fail;
    if (!p->o.readonly) {
        rc = lock_wait(p->db, BZ_LOCK_WRITER, BZ_LOCK_EXCLUSIVE, p->o.lock_timeout, err);
        if (rc) {
            if (rc == BZ_LOCKED) {
                err->msg[0] = 0;
                snprintf(err->msg, sizeof err->msg, "%s is locked by another writer", path);
            }
            goto fail;
        }
    } else if ((rc = lock_wait(p->db, BZ_LOCK_READ, BZ_LOCK_SHARED, READER_WAIT, err)) != BZ_OK) {
        goto fail;
    } else {
        p->read_locked = 1;
    }
    {
        char *wal_path = p->names + plen + 5;
        memcpy(wal_path, path, plen);
        memcpy(wal_path + plen, "-wal", 5);
        if ((rc = wal_open(vfs, wal_path, p->o.readonly, &p->wal, err)) != BZ_OK)
            goto fail;
    }
    int fresh;
    if ((rc = load_hdr(p, &fresh, err)) != BZ_OK)
        goto fail;
    if (p->read_locked) {
        unlock(p->db, BZ_LOCK_READ);
        p->read_locked = 0;
    }
    p->opened = 1;
    p->next_txn = (p->h.last_txn > wal_last_txn(p->wal) ? p->h.last_txn : wal_last_txn(p->wal)) + 1;
    *out = p;
    return BZ_OK;
fail:
    pager_close(p, NULL);
    return rc;
}

static void free_cache(bz_pager *p)
{
    for (size_t i = 0; i < p->hcap; i++) {
        bz_page *pg = p->hash[i];
        while (pg) {
            bz_page *next = pg->hash_next;
            free(pg->orig);
            free(pg);
            pg = next;
        }
    }
    if (p->hash != p->hash0)
        free(p->hash);
    while (p->nscratch)
        free(scratch_take(p));
}

static int checkpoint(bz_pager *p, double wait, int auto_mode, bz_err *err);
static void rollback_mem(bz_pager *p);

int pager_close(bz_pager *p, bz_err *err)
{
    bz_err scratch;
    bz_err_clear(&scratch);
    if (!err)
        err = &scratch;
    int rc = BZ_OK;
    if (p->in_txn)
        rollback_mem(p);
    /* Checkpoint on close unless a reader is busy (then the WAL stays; the
     * next writer keeps using it). */
    if (p->opened && !p->o.readonly && wal_frames(p->wal) > 0)
        rc = checkpoint(p, 0, 1, err);
    wal_close(p->wal);
    if (p->db)
        p->db->m->close(p->db);   /* closing drops our locks */
    free_cache(p);
    p->vfs->release(p->vfs);
    free(p);
    return rc;
}

int pager_readonly(const bz_pager *p) { return p->o.readonly; }

/* ---- read snapshots of read-only handles ---- */

int pager_read_begin(bz_pager *p, bz_err *err)
{
    if (!p->o.readonly)
        return BZ_OK;
    if (p->read_depth > 0) {
        p->read_depth++;      /* nested: stays on the snapshot of the outer read */
        return BZ_OK;
    }
    int rc = lock_wait(p->db, BZ_LOCK_READ, BZ_LOCK_SHARED, p->o.lock_timeout > READER_WAIT ? p->o.lock_timeout : READER_WAIT, err);
    if (rc)
        return rc;
    p->read_locked = 1;
    p->read_depth = 1;
    int changed = 0, fresh = 0;
    uint64_t before = p->h.last_txn;
    uint32_t before_pages = p->h.page_count;
    rc = wal_refresh(p->wal, &changed, err);
    if (!rc)
        rc = load_hdr(p, &fresh, err);
    if (rc) {
        drop_clean(p);
        pager_read_end(p);
        return rc;
    }
    if (changed || p->h.last_txn != before || p->h.page_count != before_pages)
        drop_clean(p);
    return BZ_OK;
}

void pager_read_end(bz_pager *p)
{
    if (p->read_depth > 0 && --p->read_depth > 0)
        return;
    if (p->o.readonly && p->read_locked) {
        unlock(p->db, BZ_LOCK_READ);
        p->read_locked = 0;
    }
}

/* ---- transactions ---- */

int pager_in_txn(const bz_pager *p) { return p->in_txn; }

int pager_begin(bz_pager *p, bz_err *err)
{
    if (p->o.readonly)
        return bz_err_set(err, BZ_READONLY, "%s was opened read-only", p->path);
    if (p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "a transaction is already active");
    p->in_txn = 1;
    p->h_begin = p->h;
    return BZ_OK;
}

static void rollback_mem(bz_pager *p)
{
    bz_page *pg = p->dirty;
    while (pg) {
        bz_page *next = pg->dirty_next;
        pg->dirty_next = NULL;
        pg->dirty = 0;
        if (pg->orig) {
            memcpy(pg->data, pg->orig, BZ_PAGE_SIZE);
            scratch_give(p, pg->orig);
            pg->orig = NULL;
            if (pg->refs == 0)
                lru_add(p, pg);
        } else {
            /* New in this transaction: beyond the restored page count. */
            hash_remove(p, pg);
            if (pg->refs == 0)
                free(pg);
            else
                pg->orphan = 1;
        }
        pg = next;
    }
    p->dirty = NULL;
    p->ndirty = 0;
    p->h = p->h_begin;
    p->in_txn = 0;
    evict(p);
}

int pager_rollback(bz_pager *p, bz_err *err)
{
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "rollback without an active transaction");
    rollback_mem(p);
    p->rollbacks++;
    return BZ_OK;
}

static int hdr_equal(const hdr *a, const hdr *b)
{
    return a->page_count == b->page_count && a->free_head == b->free_head &&
           a->free_count == b->free_count && a->catalog_root == b->catalog_root &&
           a->last_txn == b->last_txn;
}

int pager_commit(bz_pager *p, bz_err *err)
{
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "commit without an active transaction");
    if (p->ndirty == 0 && hdr_equal(&p->h, &p->h_begin)) {
        p->in_txn = 0;   /* nothing changed: no I/O, no sync */
        p->commits++;
        return BZ_OK;
    }
    if (wal_needs_restart(p->wal)) {
        /* Readers may still be reading the old log: restart it under READ. */
        int rc = lock_wait(p->db, BZ_LOCK_READ, BZ_LOCK_EXCLUSIVE,
                           p->o.lock_timeout > READER_WAIT ? p->o.lock_timeout : READER_WAIT, err);
        if (!rc) {
            rc = wal_restart(p->wal, err);
            unlock(p->db, BZ_LOCK_READ);
        }
        if (rc) {
            rollback_mem(p);
            p->rollbacks++;
            return rc;
        }
    }
    bz_wal_page *list = p->ndirty < COMMIT_INLINE ? p->commit_list
                                                  : malloc((p->ndirty + 1) * sizeof *list);
    if (!list) {
        rollback_mem(p);
        return bz_err_set(err, BZ_NOMEM, "out of memory committing to %s", p->path);
    }
    size_t n = 0;
    for (bz_page *pg = p->dirty; pg; pg = pg->dirty_next) {
        bz_page_seal(pg->pgno, pg->data);
        list[n].pgno = pg->pgno;
        list[n].data = pg->data;
        n++;
    }
    /* Transaction ids are never reused, not even those of failed commits. */
    p->h.last_txn = p->next_txn++;
    encode_hdr(&p->h, p->hdrbuf);
    list[n].pgno = 0;
    list[n].data = p->hdrbuf;
    n++;
    int rc = wal_commit(p->wal, list, n, p->h.last_txn, p->h.page_count, err);
    if (list != p->commit_list)
        free(list);
    if (rc) {
        rollback_mem(p);
        p->rollbacks++;
        return rc;
    }
    for (bz_page *pg = p->dirty; pg;) {
        bz_page *next = pg->dirty_next;
        pg->dirty_next = NULL;
        pg->dirty = 0;
        scratch_give(p, pg->orig);
        pg->orig = NULL;
        if (pg->refs == 0)
            lru_add(p, pg);
        pg = next;
    }
    p->dirty = NULL;
    p->ndirty = 0;
    p->in_txn = 0;
    p->commits++;
    evict(p);
    if (wal_frames(p->wal) > p->o.checkpoint_pages) {
        /* The commit is durable; a failed auto-checkpoint is retried later. */
        bz_err ignored;
        bz_err_clear(&ignored);
        (void)checkpoint(p, 0, 1, &ignored);
    }
    return BZ_OK;
}

/* ---- pages ---- */

int pager_get(bz_pager *p, bz_pgno pgno, bz_page **out, bz_err *err)
{
    if (pgno == 0)
        return corrupt(err, 0, -1, "a tree points to page %u, the header page", p->path, 0);
    if (pgno >= p->h.page_count)
        return corrupt(err, pgno, -1, "page %u is beyond the end of the database", p->path, pgno);
    bz_page *pg = hash_find(p, pgno);
    if (pg) {
        p->hits++;
        if (pg->refs == 0 && !pg->dirty)
            lru_remove(p, pg);
        pg->refs++;
        *out = pg;
        return BZ_OK;
    }
    p->misses++;
    pg = page_new(pgno);
    if (!pg)
        return bz_err_set(err, BZ_NOMEM, "out of memory reading page %u", pgno);
    int beyond;
    int rc = read_raw(p, pgno, pg->data, &beyond, err);
    if (rc) {
        free(pg);
        return rc;
    }
    pg->refs = 1;
    hash_add(p, pg);
    evict(p);
    *out = pg;
    return BZ_OK;
}

int pager_write(bz_pager *p, bz_page *pg, bz_err *err)
{
    if (p->o.readonly)
        return bz_err_set(err, BZ_READONLY, "%s was opened read-only", p->path);
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "page %u written outside a transaction", pg->pgno);
    if (pg->orphan)
        return bz_err_set(err, BZ_MISUSE, "page %u was rolled back", pg->pgno);
    if (pg->refs <= 0)   /* an unreferenced page may be evicted under the caller */
        return bz_err_set(err, BZ_MISUSE, "page %u written without a reference", pg->pgno);
    if (pg->dirty)
        return BZ_OK;
    pg->orig = scratch_take(p);
    if (!pg->orig)
        return bz_err_set(err, BZ_NOMEM, "out of memory writing page %u", pg->pgno);
    memcpy(pg->orig, pg->data, BZ_PAGE_SIZE);
    pg->dirty = 1;
    pg->dirty_next = p->dirty;
    p->dirty = pg;
    p->ndirty++;
    return BZ_OK;
}

void pager_unref(bz_pager *p, bz_page *pg)
{
    if (!pg || pg->refs <= 0)
        return;
    if (--pg->refs > 0)
        return;
    if (pg->orphan) {
        free(pg);
        return;
    }
    if (!pg->dirty) {
        lru_add(p, pg);
        evict(p);
    }
}

static int check_writable(bz_pager *p, const char *what, bz_err *err)
{
    if (p->o.readonly)
        return bz_err_set(err, BZ_READONLY, "%s was opened read-only", p->path);
    if (!p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "%s outside a transaction", what);
    return BZ_OK;
}

int pager_alloc(bz_pager *p, bz_page **out, bz_err *err)
{
    int rc = check_writable(p, "page allocation", err);
    if (rc)
        return rc;
    if (p->h.free_head) {
        bz_pgno pgno = p->h.free_head;
        bz_page *pg;
        if ((rc = pager_get(p, pgno, &pg, err)) != BZ_OK)
            return rc;
        bz_pgno next = bz_get32(pg->data + 4);
        if (bz_get32(pg->data) != FREE_MAGIC || next >= p->h.page_count || next == pgno ||
            p->h.free_count == 0 || (next == 0) != (p->h.free_count == 1)) {
            pager_unref(p, pg);
            return corrupt(err, pgno, -1, "free-list page %u is not a valid free page", p->path, pgno);
        }
        if ((rc = pager_write(p, pg, err)) != BZ_OK) {
            pager_unref(p, pg);
            return rc;
        }
        memset(pg->data, 0, BZ_PAGE_SIZE);
        p->h.free_head = next;
        p->h.free_count--;
        *out = pg;
        return BZ_OK;
    }
    if (p->h.page_count >= UINT32_MAX - 1)
        return bz_err_set(err, BZ_FULL, "%s has reached the maximum number of pages", p->path);
    bz_page *pg = page_new(p->h.page_count);
    if (!pg)
        return bz_err_set(err, BZ_NOMEM, "out of memory allocating a page");
    p->h.page_count++;
    pg->refs = 1;
    pg->dirty = 1;
    pg->dirty_next = p->dirty;
    p->dirty = pg;
    p->ndirty++;
    hash_add(p, pg);
    *out = pg;
    return BZ_OK;
}

int pager_free(bz_pager *p, bz_pgno pgno, bz_err *err)
{
    int rc = check_writable(p, "freeing a page", err);
    if (rc)
        return rc;
    bz_page *pg;
    if ((rc = pager_get(p, pgno, &pg, err)) != BZ_OK)
        return rc;
    if ((rc = pager_write(p, pg, err)) != BZ_OK) {
        pager_unref(p, pg);
        return rc;
    }
    memset(pg->data, 0, BZ_PAGE_SIZE);
    bz_put32(pg->data, FREE_MAGIC);
    bz_put32(pg->data + 4, p->h.free_head);
    p->h.free_head = pgno;
    p->h.free_count++;
    pager_unref(p, pg);
    return BZ_OK;
}

int pager_walk_freelist(bz_pager *p, int (*fn)(void *ctx, bz_pgno pgno), void *ctx, bz_err *err)
{
    bz_pgno pgno = p->h.free_head;
    uint32_t count = 0;
    while (pgno) {
        if (count >= p->h.free_count)
            return corrupt(err, pgno, -1, "the free list is longer than its count (a cycle?) at page %u",
                           p->path, pgno);
        bz_page *pg;
        int rc = pager_get(p, pgno, &pg, err);
        if (rc)
            return rc;
        uint32_t magic = bz_get32(pg->data);
        bz_pgno next = bz_get32(pg->data + 4);
        pager_unref(p, pg);
        if (magic != FREE_MAGIC)
            return corrupt(err, pgno, -1, "free-list page %u is not marked free", p->path, pgno);
        if (fn && (rc = fn(ctx, pgno)) != BZ_OK)
            return rc;
        count++;
        pgno = next;
    }
    if (count != p->h.free_count)
        return corrupt(err, 0, -1, "the free list holds fewer pages than header page %u says", p->path, 0);
    return BZ_OK;
}

bz_pgno pager_catalog_root(const bz_pager *p) { return p->h.catalog_root; }

int pager_set_catalog_root(bz_pager *p, bz_pgno root, bz_err *err)
{
    int rc = check_writable(p, "setting the catalog root", err);
    if (rc)
        return rc;
    if (root >= p->h.page_count)
        return bz_err_set(err, BZ_MISUSE, "catalog root %u beyond the end of the database", root);
    p->h.catalog_root = root;
    return BZ_OK;
}

uint32_t pager_page_count(const bz_pager *p) { return p->h.page_count; }

/* ---- checkpoints ---- */

static int checkpoint(bz_pager *p, double wait, int auto_mode, bz_err *err)
{
    /* Readers hold READ shared while they read; copying pages into the
     * database file and resetting the log must not happen under them. */
    bz_err e;
    bz_err_clear(&e);
    int rc = lock_wait(p->db, BZ_LOCK_READ, BZ_LOCK_EXCLUSIVE, wait, &e);
    if (rc == BZ_LOCKED && auto_mode) {
        p->ck_skipped++;
        return BZ_OK;
    }
    if (rc) {
        if (rc == BZ_LOCKED)
            return bz_err_set(err, BZ_LOCKED, "%s: checkpoint blocked by readers", p->path);
        bz_err_set(err, rc, "%s", e.msg);
        err->sys_errno = e.sys_errno;
        return rc;
    }
    uint8_t *page = scratch_take(p);
    rc = page ? wal_checkpoint(p->wal, p->db, page, err)
              : bz_err_set(err, BZ_NOMEM, "out of memory in checkpoint");
    scratch_give(p, page);
    unlock(p->db, BZ_LOCK_READ);
    if (!rc)
        p->checkpoints++;
    return rc;
}

int pager_checkpoint(bz_pager *p, bz_err *err)
{
    if (p->o.readonly)
        return BZ_OK;
    if (p->in_txn)
        return bz_err_set(err, BZ_MISUSE, "checkpoint inside a transaction");
    return checkpoint(p, p->o.lock_timeout, 0, err);
}

void pager_stats(const bz_pager *p, bz_pager_stats *out)
{
    memset(out, 0, sizeof *out);
    out->page_count = p->h.page_count;
    out->free_pages = p->h.free_count;
    out->wal_frames = wal_frames(p->wal);
    out->wal_committed_frames = wal_frames(p->wal);
    out->cache_hits = p->hits;
    out->cache_misses = p->misses;
    out->checkpoints = p->checkpoints;
    out->syncs = wal_syncs(p->wal);
    out->commits = p->commits;
    out->rollbacks = p->rollbacks;
    out->checkpoints_skipped = p->ck_skipped;
    out->cached_pages = (uint32_t)p->ncached;
}
