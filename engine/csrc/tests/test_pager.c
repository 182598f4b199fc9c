/* Unit tests of the lower storage layers: CRC32C, MemFS, FaultVFS, pager, WAL.
 * Built and run by tests/engine/test_c_units.py (gcc and clang with ASan/UBSan).
 * Usage: test_pager [scratch-dir]   (the OS-file tests use the directory) */
#include "../store/crc32c.h"
#include "../store/pager.h"
#include "../store/vfs.h"
#include "../store/wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
            failures++;                                                               \
        }                                                                             \
    } while (0)
#define OK(expr)                                                                      \
    do {                                                                              \
        bz_err_clear(&err);                                                           \
        int rc_ = (expr);                                                             \
        if (rc_ != BZ_OK) {                                                           \
            fprintf(stderr, "%s:%d: %s -> rc %d: %s\n", __FILE__, __LINE__, #expr, rc_, \
                    err.msg);                                                         \
            failures++;                                                               \
        }                                                                             \
    } while (0)

static bz_err err;
static const bz_pager_opts OPTS = { 0, 0.0, 1000, 64, 0 };

static void fill(uint8_t *data, uint32_t seed)
{
    for (int i = 0; i < BZ_PAGE_USABLE; i++)
        data[i] = (uint8_t)(seed * 31 + (uint32_t)i * 7);
}

static int matches(const uint8_t *data, uint32_t seed)
{
    for (int i = 0; i < BZ_PAGE_USABLE; i++)
        if (data[i] != (uint8_t)(seed * 31 + (uint32_t)i * 7))
            return 0;
    return 1;
}

/* Allocates n pages in one transaction, filling page k with seed base+k. */
static void write_pages(bz_pager *p, int n, uint32_t base, bz_pgno *out)
{
    OK(pager_begin(p, &err));
    for (int k = 0; k < n; k++) {
        bz_page *pg;
        OK(pager_alloc(p, &pg, &err));
        fill(pg->data, base + (uint32_t)k);
        out[k] = pg->pgno;
        pager_unref(p, pg);
    }
    OK(pager_commit(p, &err));
}

/* Inside the caller's transaction: page pgno now holds seed's pattern. */
static void overwrite_page(bz_pager *p, bz_pgno pgno, uint32_t seed)
{
    bz_page *pg;
    OK(pager_get(p, pgno, &pg, &err));
    OK(pager_write(p, pg, &err));
    fill(pg->data, seed);
    pager_unref(p, pg);
}

static int page_is(bz_pager *p, bz_pgno pgno, uint32_t seed)
{
    bz_page *pg;
    bz_err_clear(&err);
    if (pager_get(p, pgno, &pg, &err) != BZ_OK)
        return 0;
    int ok = matches(pg->data, seed);
    pager_unref(p, pg);
    return ok;
}

static void test_crc32c(void)
{
    /* Known answers: RFC 3720 B.4 and the classic check value. */
    CHECK(crc32c("123456789", 9) == 0xE3069283u);
    uint8_t zeros[32] = { 0 };
    CHECK(crc32c(zeros, 32) == 0x8A9136AAu);
    uint8_t buf[1000];
    for (int i = 0; i < 1000; i++)
        buf[i] = (uint8_t)(i * 13);
    CHECK(crc32c_extend(crc32c(buf, 333), buf + 333, 667) == crc32c(buf, 1000));
    CHECK(crc32c(buf + 1, 999) == crc32c_extend(0, buf + 1, 999));
}

/* The definition, one bit at a time: what every faster path must equal. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void test_crc32c_matches_the_definition_at_every_length_and_alignment(void)
{
    /* Every length up to 64, then lengths up to two pages in steps of 97 (so
     * across the hardware path's three-stride blocks and their tails), the
     * page and frame sizes; every start offset modulo 8; with a running CRC. */
    static uint8_t buf[2 * BZ_PAGE_SIZE + 64];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    size_t lengths[200], nl = 0;
    for (size_t n = 0; n <= 64; n++)
        lengths[nl++] = n;
    for (size_t n = 65; n <= 2 * BZ_PAGE_SIZE + 32; n += 97)
        lengths[nl++] = n;
    lengths[nl++] = BZ_PAGE_USABLE;
    lengths[nl++] = BZ_PAGE_SIZE;
    int bad = 0;
    for (size_t l = 0; l < nl; l++)
        for (size_t off = 0; off < 8; off++) {
            const uint8_t *p = buf + off;
            if (crc32c(p, lengths[l]) != crc32c_bitwise(0, p, lengths[l]) ||
                crc32c_extend(0xDEADBEEFu, p, lengths[l]) != crc32c_bitwise(0xDEADBEEFu, p, lengths[l]))
                bad++;
        }
    CHECK(nl <= sizeof lengths / sizeof *lengths);
    CHECK(bad == 0);
}

static void test_commit_reopen_rollback(bz_vfs *vfs, const char *path)
{
    bz_pager *p;
    bz_pgno pg[100];
    OK(pager_open(vfs, path, &OPTS, &p, &err));
    CHECK(pager_page_count(p) == 1);
    write_pages(p, 100, 1000, pg);
    CHECK(pg[0] == 1 && pg[99] == 100);
    CHECK(pager_page_count(p) == 101);
    /* Rollback restores changed pages, the page count and the catalog root. */
    OK(pager_begin(p, &err));
    bz_page *x;
    OK(pager_get(p, 5, &x, &err));
    OK(pager_write(p, x, &err));
    memset(x->data, 0xEE, 100);
    pager_unref(p, x);
    OK(pager_alloc(p, &x, &err));
    pager_unref(p, x);
    OK(pager_set_catalog_root(p, 7, &err));
    OK(pager_rollback(p, &err));
    CHECK(page_is(p, 5, 1004));
    CHECK(pager_page_count(p) == 101);
    CHECK(pager_catalog_root(p) == 0);
    OK(pager_begin(p, &err));
    OK(pager_set_catalog_root(p, 3, &err));
    OK(pager_commit(p, &err));
    OK(pager_close(p, &err));

    OK(pager_open(vfs, path, &OPTS, &p, &err));
    CHECK(pager_page_count(p) == 101);
    CHECK(pager_catalog_root(p) == 3);
    for (int k = 0; k < 100; k++)
        CHECK(page_is(p, pg[k], 1000 + (uint32_t)k));
    /* Out-of-range page numbers are corruption naming the page. */
    bz_err_clear(&err);
    CHECK(pager_get(p, 101, &x, &err) == BZ_CORRUPT && err.page == 101);
    bz_err_clear(&err);
    CHECK(pager_get(p, 0, &x, &err) == BZ_CORRUPT);
    /* Writes outside a transaction are misuse. */
    OK(pager_get(p, 1, &x, &err));
    bz_err_clear(&err);
    CHECK(pager_write(p, x, &err) == BZ_MISUSE);
    pager_unref(p, x);
    bz_err_clear(&err);
    CHECK(pager_commit(p, &err) == BZ_MISUSE);
    OK(pager_close(p, &err));
}

/* Transactions reuse the pager's idle page-sized buffers (the `orig` copies
 * and a checkpoint's read buffer): rollbacks and commits of more pages than it
 * keeps, in any order, and checkpoints in between, leave every page as the
 * committed history says. The pager's path is long, so its names block is too. */
static void test_scratch_buffers_across_transactions(void)
{
    bz_vfs *mem = bz_memfs_new();
    char path[400];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = 0;
    bz_pager *p;
    bz_pgno pg[24];
    uint32_t want[24];
    OK(pager_open(mem, path, &OPTS, &p, &err));
    write_pages(p, 24, 0, pg);
    for (int k = 0; k < 24; k++)
        want[k] = (uint32_t)k;
    for (uint32_t round = 1; round <= 30; round++) {
        int n = 1 + (int)(round * 7 % 24);           /* 1..24 pages, past what is kept */
        OK(pager_begin(p, &err));
        for (int k = 0; k < n; k++)
            overwrite_page(p, pg[(k * 5 + (int)round) % 24], 100 * round + (uint32_t)k);
        if (round % 3 == 0) {
            OK(pager_rollback(p, &err));
        } else {
            OK(pager_commit(p, &err));
            for (int k = 0; k < n; k++)
                want[(k * 5 + (int)round) % 24] = 100 * round + (uint32_t)k;
        }
        if (round % 4 == 0)
            OK(pager_checkpoint(p, &err));
        for (int k = 0; k < 24; k++)
            CHECK(page_is(p, pg[k], want[k]));
    }
    OK(pager_close(p, &err));
    OK(pager_open(mem, path, &OPTS, &p, &err));
    for (int k = 0; k < 24; k++)
        CHECK(page_is(p, pg[k], want[k]));
    OK(pager_close(p, &err));
    mem->release(mem);
}

static int collect(void *ctx, bz_pgno pgno)
{
    bz_pgno **pp = ctx;
    *(*pp)++ = pgno;
    return BZ_OK;
}

static void test_free_list(void)
{
    bz_vfs *vfs = bz_memfs_new();
    bz_pager *p;
    bz_pgno pg[20];
    OK(pager_open(vfs, "db", &OPTS, &p, &err));
    write_pages(p, 20, 0, pg);
    OK(pager_begin(p, &err));
    for (int k = 2; k < 12; k++)
        OK(pager_free(p, pg[k], &err));
    OK(pager_commit(p, &err));
    bz_pager_stats st;
    pager_stats(p, &st);
    CHECK(st.free_pages == 10 && st.page_count == 21);
    bz_pgno walked[32], *w = walked;
    OK(pager_walk_freelist(p, collect, &w, &err));
    CHECK(w - walked == 10 && walked[0] == pg[11]);
    /* Freed pages are reused before the file grows. */
    bz_pgno again[10];
    write_pages(p, 10, 500, again);
    pager_stats(p, &st);
    CHECK(st.free_pages == 0 && st.page_count == 21);
    for (int k = 0; k < 10; k++)
        CHECK(again[k] >= pg[2] && again[k] <= pg[11]);
    OK(pager_close(p, &err));
    OK(pager_open(vfs, "db", &OPTS, &p, &err));
    for (int k = 0; k < 10; k++)
        CHECK(page_is(p, again[k], 500 + (uint32_t)k));
    OK(pager_close(p, &err));
    vfs->release(vfs);
}

static void test_checksums(void)
{
    bz_vfs *vfs = bz_memfs_new();
    bz_pager *p;
    bz_pgno pg[3];
    OK(pager_open(vfs, "db", &OPTS, &p, &err));
    write_pages(p, 3, 7, pg);
    OK(pager_close(p, &err));   /* checkpoints: the pages are in the file */
    const uint8_t *data;
    size_t len;
    CHECK(bz_memfs_contents(vfs, "db", &data, &len) == BZ_OK && len == 4 * BZ_PAGE_SIZE);
    uint8_t *copy = malloc(len);
    memcpy(copy, data, len);
    copy[2 * BZ_PAGE_SIZE + 100] ^= 1;
    OK(bz_memfs_put(vfs, "db", copy, len, &err));
    OK(pager_open(vfs, "db", &OPTS, &p, &err));
    bz_page *x;
    CHECK(page_is(p, 1, 7));
    bz_err_clear(&err);
    CHECK(pager_get(p, 2, &x, &err) == BZ_CORRUPT && err.page == 2);
    OK(pager_close(p, &err));
    /* A damaged header page refuses to open. */
    copy[2 * BZ_PAGE_SIZE + 100] ^= 1;
    copy[17] ^= 0x40;
    OK(bz_memfs_put(vfs, "db", copy, len, &err));
    bz_err_clear(&err);
    CHECK(pager_open(vfs, "db", &OPTS, &p, &err) == BZ_CORRUPT && err.page == 0);
    /* Short garbage is not a database; an empty file is a new one. */
    OK(bz_memfs_put(vfs, "junk", "hello", 5, &err));
    bz_err_clear(&err);
    CHECK(pager_open(vfs, "junk", &OPTS, &p, &err) == BZ_CORRUPT);
    OK(bz_memfs_put(vfs, "empty", "", 0, &err));
    OK(pager_open(vfs, "empty", &OPTS, &p, &err));
    OK(pager_close(p, &err));
    free(copy);
    vfs->release(vfs);
}

/* Commits survive a power loss without close; a torn transaction does not. */
static void test_recovery_and_torn_tail(void)
{
    bz_vfs *mem = bz_memfs_new();
    bz_vfs *fv = bz_faultvfs_new(mem);
    bz_pager *p;
    bz_pgno a[5], b[5];
    OK(pager_open(fv, "db", &OPTS, &p, &err));
    write_pages(p, 5, 100, a);
    /* The next transaction's frame write is torn half-way. */
    OK(bz_faultvfs_tear(fv, 1, 3000, &err));
    OK(pager_begin(p, &err));
    bz_page *x;
    OK(pager_alloc(p, &x, &err));
    fill(x->data, 9);
    pager_unref(p, x);
    bz_err_clear(&err);
    CHECK(pager_commit(p, &err) == BZ_IOERR);
    CHECK(bz_faultvfs_dead(fv));
    CHECK(pager_page_count(p) == 6);     /* rolled back in memory */
    OK(bz_faultvfs_power_loss(fv, &err));
    bz_err_clear(&err);
    pager_close(p, &err);                /* a stale handle: fails, frees */
    for (int round = 0; round < 2; round++) {   /* recovery is idempotent */
        OK(pager_open(fv, "db", &OPTS, &p, &err));
        CHECK(pager_page_count(p) == 6);
        for (int k = 0; k < 5; k++)
            CHECK(page_is(p, a[k], 100 + (uint32_t)k));
        OK(bz_faultvfs_power_loss(fv, &err));   /* crash again without closing */
        bz_err_clear(&err);
        pager_close(p, &err);
    }
    OK(pager_open(fv, "db", &OPTS, &p, &err));
    write_pages(p, 5, 200, b);
    OK(pager_close(p, &err));
    OK(pager_open(fv, "db", &OPTS, &p, &err));
    for (int k = 0; k < 5; k++)
        CHECK(page_is(p, a[k], 100 + (uint32_t)k) && page_is(p, b[k], 200 + (uint32_t)k));
    OK(pager_close(p, &err));
    fv->release(fv);
    mem->release(mem);
}

/* Every injected error comes back with its class, and the pager stays usable. */
static void test_faults(void)
{
    bz_vfs *mem = bz_memfs_new();
    bz_vfs *fv = bz_faultvfs_new(mem);
    bz_pager *p;
    bz_pgno a[3];
    OK(pager_open(fv, "db", &OPTS, &p, &err));
    write_pages(p, 3, 1, a);
    struct { int op, e, rc; } cases[] = {
        { BZ_FOP_WRITE, 28 /* ENOSPC */, BZ_FULL },
        { BZ_FOP_SYNC, 5 /* EIO */, BZ_IOERR },
        { BZ_FOP_WRITE, 30 /* EROFS */, BZ_READONLY },
        { BZ_FOP_ANY, 5, BZ_IOERR },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        OK(bz_faultvfs_fail(fv, cases[i].op, 1, cases[i].e, 0, &err));
        OK(pager_begin(p, &err));
        overwrite_page(p, a[0], 77);
        bz_err_clear(&err);
        CHECK(pager_commit(p, &err) == cases[i].rc);
        CHECK(!pager_in_txn(p));
        CHECK(page_is(p, a[0], 1));
    }
    bz_faultvfs_reset(fv);
    OK(pager_begin(p, &err));
    overwrite_page(p, a[0], 78);
    OK(pager_commit(p, &err));
    OK(pager_close(p, &err));
    OK(bz_faultvfs_fail(fv, BZ_FOP_OPEN, 1, 24 /* EMFILE */, 0, &err));
    bz_err_clear(&err);
    CHECK(pager_open(fv, "db", &OPTS, &p, &err) == BZ_NOFILES);
    OK(pager_open(fv, "db", &OPTS, &p, &err));
    CHECK(page_is(p, a[0], 78));
    /* A read error surfaces; the page is not cached half-read. */
    OK(bz_faultvfs_fail(fv, BZ_FOP_READ, 1, 5, 0, &err));
    bz_err_clear(&err);
    bz_page *x;
    CHECK(pager_get(p, a[1], &x, &err) == BZ_IOERR);
    CHECK(page_is(p, a[1], 2));
    OK(pager_close(p, &err));
    fv->release(fv);
    mem->release(mem);
}

static void test_checkpoint_and_readers(void)
{
    bz_vfs *vfs = bz_memfs_new();
    bz_pager_opts o = OPTS;
    o.checkpoint_pages = 20;
    bz_pager *w, *r;
    bz_pgno a[8];
    OK(pager_open(vfs, "db", &o, &w, &err));
    write_pages(w, 8, 10, a);
    bz_pager_stats st;
    pager_stats(w, &st);
    CHECK(st.wal_frames == 9 && st.checkpoints == 0);
    bz_pager_opts ro = o;
    ro.readonly = 1;
    OK(pager_open(vfs, "db", &ro, &r, &err));
    OK(pager_read_begin(r, &err));
    CHECK(page_is(r, a[7], 17));
    pager_read_end(r);
    /* The writer's uncommitted changes are invisible to the reader. */
    OK(pager_begin(w, &err));
    overwrite_page(w, a[0], 999);
    OK(pager_read_begin(r, &err));
    CHECK(page_is(r, a[0], 10));
    bz_err_clear(&err);
    CHECK(pager_begin(r, &err) == BZ_READONLY);
    pager_read_end(r);
    OK(pager_commit(w, &err));
    OK(pager_read_begin(r, &err));
    CHECK(page_is(r, a[0], 999));
    /* A reader inside a read blocks checkpoints: auto skips, explicit fails. */
    bz_pgno b[32];
    write_pages(w, 20, 50, b);
    pager_stats(w, &st);
    CHECK(st.checkpoints == 0 && st.checkpoints_skipped == 1);
    bz_err_clear(&err);
    CHECK(pager_checkpoint(w, &err) == BZ_LOCKED);
    pager_read_end(r);
    OK(pager_checkpoint(w, &err));
    pager_stats(w, &st);
    CHECK(st.checkpoints == 1 && st.wal_frames == 0);
    OK(pager_read_begin(r, &err));
    CHECK(page_is(r, b[19], 69) && page_is(r, a[0], 999));
    pager_read_end(r);
    /* Beyond checkpoint_pages frames a commit checkpoints by itself. */
    write_pages(w, 25, 300, b);
    pager_stats(w, &st);
    CHECK(st.checkpoints == 2 && st.wal_frames == 0);
    OK(pager_read_begin(r, &err));
    CHECK(page_is(r, b[24], 324));
    pager_read_end(r);
    OK(pager_close(r, &err));
    OK(pager_close(w, &err));
    vfs->release(vfs);
}

/* A checkpoint whose log reset fails leaves a consistent database: readers
 * read the checkpointed file, and the next commit restarts the log. */
static void test_failed_log_reset(void)
{
    bz_vfs *mem = bz_memfs_new();
    bz_vfs *fv = bz_faultvfs_new(mem);
    bz_pager *w, *r;
    bz_pgno a[4];
    OK(pager_open(fv, "db", &OPTS, &w, &err));
    write_pages(w, 4, 40, a);
    bz_pager_opts ro = OPTS;
    ro.readonly = 1;
    OK(pager_open(fv, "db", &ro, &r, &err));
    OK(bz_faultvfs_fail(fv, BZ_FOP_TRUNCATE, 1, 5, 0, &err));
    bz_err_clear(&err);
    CHECK(pager_checkpoint(w, &err) == BZ_IOERR);
    OK(pager_read_begin(r, &err));
    CHECK(page_is(r, a[3], 43));
    pager_read_end(r);
    OK(pager_begin(w, &err));
    overwrite_page(w, a[3], 99);
    OK(pager_commit(w, &err));
    OK(pager_read_begin(r, &err));
    CHECK(page_is(r, a[3], 99) && page_is(r, a[0], 40));
    pager_read_end(r);
    OK(pager_close(r, &err));
    OK(pager_close(w, &err));
    OK(pager_open(fv, "db", &OPTS, &w, &err));
    CHECK(page_is(w, a[3], 99));
    OK(pager_close(w, &err));
    fv->release(fv);
    mem->release(mem);
}

static void test_locks(bz_vfs *vfs, const char *path)
{
    bz_pager *a, *b;
    OK(pager_open(vfs, path, &OPTS, &a, &err));
    bz_pager_opts o = OPTS;
    o.lock_timeout = 0.05;
    bz_err_clear(&err);
    CHECK(pager_open(vfs, path, &o, &b, &err) == BZ_LOCKED);
    o.readonly = 1;            /* readers take no writer lock */
    OK(pager_open(vfs, path, &o, &b, &err));
    OK(pager_close(b, &err));
    OK(pager_close(a, &err));
    o.readonly = 0;
    OK(pager_open(vfs, path, &o, &b, &err));
    OK(pager_close(b, &err));
}

/* MemFS keeps the bytes of its last sync so that power loss can revert to
 * them; a sync copies only the 4 KiB blocks written since the one before.
 * Random scattered writes, truncates, syncs, power losses and removals (the
 * new file gets the old one's buffers) are checked byte for byte against a
 * model holding the current and the synced file. */
#define MODEL_MAX (64 * 1024)
static void test_memfs_sync_model(void)
{
    static uint8_t now[MODEL_MAX], synced[MODEL_MAX], buf[MODEL_MAX];
    size_t now_len = 0, synced_len = 0;
    bz_vfs *mem = bz_memfs_new();
    bz_file *f = NULL;
    OK(mem->open(mem, "f", BZ_OPEN_CREATE, &f, &err));
    uint32_t rng = 12345;
#define NEXT() (rng = rng * 1103515245u + 12345u, (rng >> 8))
    for (int step = 0; step < 4000 && f; step++) {
        uint32_t roll = NEXT() % 100;
        if (roll < 60) {                             /* a write anywhere, also past the end */
            size_t off = NEXT() % (MODEL_MAX - 9000), n = 1 + NEXT() % 9000;
            for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)NEXT();
            OK(f->m->write(f, buf, n, off, &err));
            if (off > now_len)
                memset(now + now_len, 0, off - now_len);
            memcpy(now + off, buf, n);
            if (off + n > now_len)
                now_len = off + n;
        } else if (roll < 70) {                      /* truncate, shorter or longer */
            size_t len = NEXT() % MODEL_MAX;
            OK(f->m->truncate(f, len, &err));
            if (len > now_len)
                memset(now + now_len, 0, len - now_len);
            now_len = len;
        } else if (roll < 88) {
            OK(f->m->sync(f, &err));
            memcpy(synced, now, now_len);
            synced_len = now_len;
        } else if (roll < 94) {                      /* a new file in the removed one's buffers */
            f->m->close(f);
            f = NULL;
            OK(mem->remove(mem, "f", &err));
            OK(mem->open(mem, "f", BZ_OPEN_CREATE, &f, &err));
            now_len = synced_len = 0;
        } else {                                     /* power loss: back to the last sync */
            f->m->close(f);
            f = NULL;
            bz_memfs_power_loss(mem);
            OK(mem->open(mem, "f", BZ_OPEN_CREATE, &f, &err));
            memcpy(now, synced, synced_len);
            now_len = synced_len;
        }
        const uint8_t *data;
        size_t len;
        CHECK(bz_memfs_contents(mem, "f", &data, &len) == BZ_OK);
        if (len != now_len || memcmp(data, now, len) != 0) {
            fprintf(stderr, "memfs differs from the model after step %d (%zu vs %zu bytes)\n",
                    step, len, now_len);
            failures++;
            break;
        }
    }
#undef NEXT
    if (f)
        f->m->close(f);
    mem->release(mem);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/test_pager_%d.db", dir, (int)getpid());
    char wal[520];
    snprintf(wal, sizeof wal, "%s-wal", path);

    test_crc32c();
    test_crc32c_matches_the_definition_at_every_length_and_alignment();
    bz_vfs *mem = bz_memfs_new();
    test_commit_reopen_rollback(mem, "db");
    test_locks(mem, "db");
    mem->release(mem);
    test_commit_reopen_rollback(bz_vfs_os(), path);
    test_locks(bz_vfs_os(), path);
    unlink(path);
    unlink(wal);
    test_scratch_buffers_across_transactions();
    test_free_list();
    test_checksums();
    test_recovery_and_torn_tail();
    test_faults();
    test_checkpoint_and_readers();
    test_failed_log_reset();
    test_memfs_sync_model();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_pager: all checks passed\n");
    return 0;
}
