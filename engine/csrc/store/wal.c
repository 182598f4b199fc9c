/* The write-ahead log (format: engine/doc/wal_format.md).
 *
 * Layout: a 32-byte header, then frames of 24 header bytes + one page.
 *   header: magic u32 | version u32 | page size u32 | checkpoint seq u32 |
 *           salt1 u32 | salt2 u32 | reserved u32 (0) | crc32c of bytes 0..27
 *   frame:  pgno u32 | commit u32 (db page count in a commit frame, else 0) |
 *           txn id u64 | salt1 u32 | crc u32 | page (BZ_PAGE_SIZE bytes)
 * The frame crc is cumulative: CRC32C over frame bytes 0..19 and the page,
 * seeded with the crc of the previous frame (of the header for frame 0). A
 * frame is valid only if its salt matches the header and its crc chains, so
 * leftovers of an older log generation or of a cut-off transaction never
 * validate. All integers little-endian.
 */
#define _GNU_SOURCE
#include "wal.h"

#include "crc32c.h"
#include "pager.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAL_MAGIC 0x4C575A42u   /* "BZWL" */
#define WAL_VERSION 1u
#define FRAME_SIZE (BZ_WAL_FRAME_HEADER + BZ_PAGE_SIZE)
#define SCAN_BATCH 64           /* frames read per call while scanning */

typedef struct pending {
    bz_pgno pgno;
    uint32_t frame;
} pending;

struct bz_wal {
    bz_vfs *vfs;
    bz_file *f;                 /* NULL: read-only and the file does not exist yet */
    char *path;
    int readonly;
    int hdr_valid;              /* the header on disk is valid and ours */
    int reset_failed;           /* a checkpoint's reset failed: the old header may still be valid */
    uint32_t ckpt_seq, salt1, salt2, hdr_crc;
    uint32_t nframes;           /* committed frames: the valid, committed prefix */
    uint32_t end_crc;           /* chain crc after the last committed frame */
    uint64_t last_txn;
    uint64_t syncs;
    /* index: pgno -> newest committed frame, open addressing (key 0 is a real
     * page, so slots carry a used flag in the top bit of `frame+1`) */
    bz_pgno *keys;
    uint32_t *vals;             /* frame + 1; 0 = empty slot */
    size_t icap, icount;
    uint8_t *wbuf;              /* commit staging buffer, kept between commits */
    size_t wbuf_frames;         /* its capacity in frames */
    char pathbuf[];             /* what path points to */
};

uint32_t bz_page_crc(bz_pgno pgno, const uint8_t *page)
{
    uint8_t k[4];
    bz_put32(k, pgno);
    return crc32c_extend(crc32c(k, 4), page, BZ_PAGE_USABLE);
}

int bz_page_verify(bz_pgno pgno, const uint8_t *page)
{
    return bz_get32(page + BZ_PAGE_USABLE) == bz_page_crc(pgno, page);
}

void bz_page_seal(bz_pgno pgno, uint8_t *page)
{
    bz_put32(page + BZ_PAGE_USABLE, bz_page_crc(pgno, page));
}

/* ---- index ---- */

static size_t slot_of(bz_pgno k, size_t cap) { return (size_t)((k * 2654435761u) & (cap - 1)); }

static int index_put(bz_wal *w, bz_pgno pgno, uint32_t frame)
{
    if ((w->icount + 1) * 2 > w->icap) {
        size_t ncap = w->icap ? w->icap * 2 : 64;
        bz_pgno *nk = calloc(ncap, sizeof *nk);
        uint32_t *nv = calloc(ncap, sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return -1;
        }
        for (size_t i = 0; i < w->icap; i++) {
            if (!w->vals[i])
                continue;
            size_t s = slot_of(w->keys[i], ncap);
            while (nv[s])
                s = (s + 1) & (ncap - 1);
            nk[s] = w->keys[i];
            nv[s] = w->vals[i];
        }
        free(w->keys);
        free(w->vals);
        w->keys = nk;
        w->vals = nv;
        w->icap = ncap;
    }
    size_t s = slot_of(pgno, w->icap);
    while (w->vals[s] && w->keys[s] != pgno)
        s = (s + 1) & (w->icap - 1);
    if (!w->vals[s])
        w->icount++;
    w->keys[s] = pgno;
    w->vals[s] = frame + 1;
    return 0;
}

static void index_clear(bz_wal *w)
{
    if (w->icap)
        memset(w->vals, 0, w->icap * sizeof *w->vals);
    w->icount = 0;
}

int wal_find(const bz_wal *w, bz_pgno pgno, uint32_t *frame)
{
    if (!w->icount)
        return 0;
    size_t s = slot_of(pgno, w->icap);
    while (w->vals[s]) {
        if (w->keys[s] == pgno) {
            *frame = w->vals[s] - 1;
            return 1;
        }
        s = (s + 1) & (w->icap - 1);
    }
    return 0;
}

/* ---- header ---- */

static uint64_t frame_offset(uint32_t frame) { return BZ_WAL_HEADER_SIZE + (uint64_t)frame * FRAME_SIZE; }

static uint32_t new_salt(void)
{
    /* Salts only need to differ between generations of one log: mix the
     * clock, the pid and a counter through splitmix64. The counter is shared
     * by every log of the process, which threads may restart at once: atomic
     * (only distinct values matter, so relaxed). */
    static _Atomic uint64_t counter;
    uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t z = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^
                 (n * 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)(z ^ (z >> 31));
}

uint32_t wal_header_crc(const uint8_t *h)
{
    return crc32c(h, 28);
}

uint32_t wal_frame_crc(uint32_t prev, const uint8_t *frame)
{
    return crc32c_extend(crc32c_extend(prev, frame, 20), frame + BZ_WAL_FRAME_HEADER, BZ_PAGE_SIZE);
}

static void encode_header(const bz_wal *w, uint8_t *h)
{
    bz_put32(h, WAL_MAGIC);
    bz_put32(h + 4, WAL_VERSION);
    bz_put32(h + 8, BZ_PAGE_SIZE);
    bz_put32(h + 12, w->ckpt_seq);
    bz_put32(h + 16, w->salt1);
    bz_put32(h + 20, w->salt2);
    bz_put32(h + 24, 0);
    bz_put32(h + 28, wal_header_crc(h));
}

/* Reads the header; *valid = 0 when it is absent, torn or foreign (an invalid
 * header means an empty log: see wal_format.md, "Recovery"). */
static int read_header(bz_wal *w, int *valid, uint32_t *seq, uint32_t *s1, uint32_t *s2, uint32_t *crc,
                       bz_err *err)
{
    uint8_t h[BZ_WAL_HEADER_SIZE];
    size_t got = 0;
    *valid = 0;
    if (!w->f)
        return BZ_OK;
    int rc = w->f->m->read(w->f, h, sizeof h, 0, &got, err);
    if (rc)
        return rc;
    if (got < sizeof h || bz_get32(h) != WAL_MAGIC || bz_get32(h + 4) != WAL_VERSION ||
        bz_get32(h + 8) != BZ_PAGE_SIZE || bz_get32(h + 28) != wal_header_crc(h))
        return BZ_OK;
    *valid = 1;
    *seq = bz_get32(h + 12);
    *s1 = bz_get32(h + 16);
    *s2 = bz_get32(h + 20);
    *crc = bz_get32(h + 28);
    return BZ_OK;
}

/* ---- scanning (recovery and reader refresh) ---- */

/* Scans frames from w->nframes on, adding every complete committed
 * transaction to the index, and stops at the first frame that is torn,
 * fails its checksum, carries another salt, or breaks the transaction rules. */
static int scan(bz_wal *w, bz_err *err)
{
    /* The buffer holds at most what the file has: a short log (the usual
     * case) must not cost a SCAN_BATCH-sized (~256 KiB) allocation per open
     * or per reader refresh. A file growing meanwhile is read in more rounds. */
    uint64_t size = 0;
    int rc = w->f->m->size(w->f, &size, err);
    if (rc)
        return rc;
    uint32_t frame = w->nframes, crc = w->end_crc;
    if (size < frame_offset(frame) + FRAME_SIZE)
        return BZ_OK;   /* not one more whole frame */
    uint64_t avail = (size - frame_offset(frame)) / FRAME_SIZE;
    size_t batch = avail < SCAN_BATCH ? (size_t)avail : SCAN_BATCH;
    uint8_t *buf = malloc(batch * FRAME_SIZE);
    pending *pend = NULL;
    size_t npend = 0, cappend = 0;
    if (!buf)
        return bz_err_set(err, BZ_NOMEM, "out of memory scanning %s", w->path);
    uint64_t pend_txn = 0;
    for (;;) {
        size_t got = 0;
        rc = w->f->m->read(w->f, buf, batch * FRAME_SIZE, frame_offset(frame), &got, err);
        if (rc)
            goto out;
        size_t nf = got / FRAME_SIZE;
        for (size_t i = 0; i < nf; i++, frame++) {
            const uint8_t *fh = buf + i * FRAME_SIZE;
            bz_pgno pgno = bz_get32(fh);
            uint32_t commit = bz_get32(fh + 4);
            uint64_t txn = bz_get64(fh + 8);
            if (bz_get32(fh + 16) != w->salt1)
                goto out;
            uint32_t c = wal_frame_crc(crc, fh);
            if (c != bz_get32(fh + 20))
                goto out;
            /* A transaction's frames share one id, newer than every committed one. */
            if (npend ? txn != pend_txn : txn <= w->last_txn)
                goto out;
            if (frame == UINT32_MAX - 1)
                goto out;
            if (npend == cappend) {
                size_t nc = cappend ? cappend * 2 : 64;
                pending *np = realloc(pend, nc * sizeof *np);
                if (!np) {
                    rc = bz_err_set(err, BZ_NOMEM, "out of memory scanning %s", w->path);
                    goto out;
                }
                pend = np;
                cappend = nc;
            }
            pend[npend].pgno = pgno;
            pend[npend].frame = frame;
            npend++;
            pend_txn = txn;
            crc = c;
            if (commit) {
                /* Every page of a transaction lies inside the database it
                 * commits; a frame claiming otherwise is not ours. */
                for (size_t k = 0; k < npend; k++)
                    if (pend[k].pgno >= commit)
                        goto out;
                for (size_t k = 0; k < npend; k++) {
                    if (index_put(w, pend[k].pgno, pend[k].frame) != 0) {
                        rc = bz_err_set(err, BZ_NOMEM, "out of memory indexing %s", w->path);
                        goto out;
                    }
                }
                npend = 0;
                w->nframes = frame + 1;
                w->end_crc = crc;
                w->last_txn = txn;
            }
        }
        if (nf < batch)
            break;
    }
out:
    free(buf);
    free(pend);
    return rc;
}

static int load(bz_wal *w, bz_err *err)
{
    int valid;
    uint32_t seq = 0, s1 = 0, s2 = 0, crc = 0;
    int rc = read_header(w, &valid, &seq, &s1, &s2, &crc, err);
    if (rc)
        return rc;
    index_clear(w);
    w->nframes = 0;
    w->hdr_valid = valid;
    if (!valid)
        return BZ_OK;
    w->ckpt_seq = seq;
    w->salt1 = s1;
    w->salt2 = s2;
    w->hdr_crc = crc;
    w->end_crc = crc;
    w->last_txn = 0;
    return scan(w, err);
}

static int open_file(bz_wal *w, bz_err *err)
{
    if (w->readonly) {
        int exists = 0;
        int rc = w->vfs->exists(w->vfs, w->path, &exists, err);
        if (rc || !exists)
            return rc;
        return w->vfs->open(w->vfs, w->path, BZ_OPEN_READONLY, &w->f, err);
    }
    return w->vfs->open(w->vfs, w->path, BZ_OPEN_CREATE, &w->f, err);
}

int wal_open(bz_vfs *vfs, const char *wal_path, int readonly, bz_wal **out, bz_err *err)
{
    size_t len = strlen(wal_path);
    bz_wal *w = calloc(1, sizeof *w + len + 1);   /* the path lives in the same block */
    if (!w)
        return bz_err_set(err, BZ_NOMEM, "out of memory opening %s", wal_path);
    w->path = w->pathbuf;
    memcpy(w->path, wal_path, len + 1);
    w->vfs = vfs;
    w->readonly = readonly;
    int rc = open_file(w, err);
    if (!rc)
        rc = load(w, err);
    if (rc) {
        wal_close(w);
        return rc;
    }
    *out = w;
    return BZ_OK;
}

void wal_close(bz_wal *w)
{
    if (!w)
        return;
    if (w->f)
        w->f->m->close(w->f);
    free(w->keys);
    free(w->vals);
    free(w->wbuf);
    free(w);
}

int wal_refresh(bz_wal *w, int *changed, bz_err *err)
{
    *changed = 0;
    if (!w->f) {
        int rc = open_file(w, err);
        if (rc)
            return rc;
        if (!w->f)
            return BZ_OK;
    }
    int valid;
    uint32_t seq = 0, s1 = 0, s2 = 0, crc = 0;
    int rc = read_header(w, &valid, &seq, &s1, &s2, &crc, err);
    if (rc)
        return rc;
    if (valid != w->hdr_valid || (valid && (seq != w->ckpt_seq || s1 != w->salt1 || s2 != w->salt2))) {
        *changed = 1;   /* a new generation of the log: start over */
        return load(w, err);
    }
    if (!valid)
        return BZ_OK;
    uint32_t before = w->nframes;
    rc = scan(w, err);
    *changed = w->nframes != before;
    return rc;
}

int wal_read_page(bz_wal *w, uint32_t frame, uint8_t *buf, bz_err *err)
{
    size_t got = 0;
    int rc = w->f->m->read(w->f, buf, BZ_PAGE_SIZE, frame_offset(frame) + BZ_WAL_FRAME_HEADER, &got, err);
    if (rc)
        return rc;
    if (got != BZ_PAGE_SIZE) {
        bz_err_set(err, BZ_CORRUPT, "%s: frame %u is cut off", w->path, frame);
        err->frame = frame;
        return BZ_CORRUPT;
    }
    return BZ_OK;
}

/* Starts a new generation of the log: new salt, no frames. Not synced here. */
static int reset(bz_wal *w, bz_err *err)
{
    uint8_t h[BZ_WAL_HEADER_SIZE];
    w->ckpt_seq++;
    w->salt1 = new_salt();
    w->salt2 = new_salt();
    encode_header(w, h);
    int rc = w->f->m->write(w->f, h, sizeof h, 0, err);
    if (!rc)
        rc = w->f->m->truncate(w->f, BZ_WAL_HEADER_SIZE, err);
    /* Whatever happened, the old frames are no longer ours to index. */
    index_clear(w);
    w->nframes = 0;
    w->hdr_crc = w->end_crc = bz_get32(h + 28);
    w->hdr_valid = rc == BZ_OK;
    return rc;
}

#define WBUF_KEEP 16   /* frames of staging buffer kept for the next commit */

static void wbuf_trim(bz_wal *w)
{
    if (w->wbuf_frames > WBUF_KEEP) {   /* a big transaction: do not hold on to its buffer */
        free(w->wbuf);
        w->wbuf = NULL;
        w->wbuf_frames = 0;
    }
}

int wal_commit(bz_wal *w, const bz_wal_page *pages, size_t n, uint64_t txn_id, uint32_t db_pages,
               bz_err *err)
{
    if (w->readonly || !w->f)
        return bz_err_set(err, BZ_READONLY, "%s is read-only", w->path);
    if (n == 0)
        return BZ_OK;
    if ((uint64_t)w->nframes + n >= UINT32_MAX - 1)
        return bz_err_set(err, BZ_FULL, "%s: the log is full; checkpoint first", w->path);
    int rc;
    if (!w->hdr_valid && (rc = reset(w, err)) != BZ_OK)
        return rc;
    size_t batch = n < SCAN_BATCH ? n : SCAN_BATCH;
    if (w->wbuf_frames < batch) {
        uint8_t *nb = realloc(w->wbuf, batch * FRAME_SIZE);
        if (!nb)
            return bz_err_set(err, BZ_NOMEM, "out of memory writing %s", w->path);
        w->wbuf = nb;
        w->wbuf_frames = batch;
    }
    uint8_t *buf = w->wbuf;
    uint32_t crc = w->end_crc;
    uint32_t frame = w->nframes;
    for (size_t i = 0; i < n;) {
        size_t k = n - i < batch ? n - i : batch;
        for (size_t j = 0; j < k; j++) {
            uint8_t *fh = buf + j * FRAME_SIZE;
            const bz_wal_page *pg = &pages[i + j];
            bz_put32(fh, pg->pgno);
            bz_put32(fh + 4, i + j == n - 1 ? db_pages : 0);
            bz_put64(fh + 8, txn_id);
            bz_put32(fh + 16, w->salt1);
            memcpy(fh + BZ_WAL_FRAME_HEADER, pg->data, BZ_PAGE_SIZE);
            crc = wal_frame_crc(crc, fh);
            bz_put32(fh + 20, crc);
        }
        rc = w->f->m->write(w->f, buf, k * FRAME_SIZE, frame_offset(frame + (uint32_t)i), err);
        if (rc)
            goto fail;
        i += k;
    }
    rc = w->f->m->sync(w->f, err);
    w->syncs++;
    if (rc)
        goto fail;
    wbuf_trim(w);
    for (size_t i = 0; i < n; i++) {
        if (index_put(w, pages[i].pgno, frame + (uint32_t)i) != 0) {
            /* The transaction is durable but cannot be indexed: reload it all. */
            bz_err_set(err, BZ_NOMEM, "out of memory indexing %s", w->path);
            return BZ_NOMEM;
        }
    }
    w->nframes = frame + (uint32_t)n;
    w->end_crc = crc;
    w->last_txn = txn_id;
    return BZ_OK;
fail:
    wbuf_trim(w);
    {
        /* Cut the frames off so that a later crash cannot resurrect a
         * transaction reported as failed; if this fails too, the chained
         * checksums and txn ids still keep the next transaction safe. */
        bz_err ignored;
        bz_err_clear(&ignored);
        (void)w->f->m->truncate(w->f, frame_offset(w->nframes), &ignored);
    }
    return rc;
}

typedef struct ck_entry {
    bz_pgno pgno;
    uint32_t frame;
} ck_entry;

static int by_pgno(const void *a, const void *b)
{
    bz_pgno x = ((const ck_entry *)a)->pgno, y = ((const ck_entry *)b)->pgno;
    return x < y ? -1 : x > y;
}

int wal_checkpoint(bz_wal *w, bz_file *db, uint8_t *page, bz_err *err)
{
    if (w->readonly || !w->f)
        return bz_err_set(err, BZ_READONLY, "%s is read-only", w->path);
    int rc = BZ_OK;
    if (w->icount) {
        ck_entry *list = malloc(w->icount * sizeof *list);
        if (!list)
            return bz_err_set(err, BZ_NOMEM, "out of memory in checkpoint");
        size_t n = 0;
        for (size_t i = 0; i < w->icap; i++)
            if (w->vals[i]) {
                list[n].pgno = w->keys[i];
                list[n].frame = w->vals[i] - 1;
                n++;
            }
        qsort(list, n, sizeof *list, by_pgno);
        for (size_t i = 0; i < n && !rc; i++) {
            rc = wal_read_page(w, list[i].frame, page, err);
            if (!rc && !bz_page_verify(list[i].pgno, page)) {
                rc = bz_err_set(err, BZ_CORRUPT, "%s: frame %u (page %u) fails its checksum", w->path,
                                list[i].frame, list[i].pgno);
                err->frame = list[i].frame;
                err->page = list[i].pgno;
            }
            if (!rc)
                rc = db->m->write(db, page, BZ_PAGE_SIZE, (uint64_t)list[i].pgno * BZ_PAGE_SIZE, err);
        }
        free(list);
        if (!rc) {
            rc = db->m->sync(db, err);
            w->syncs++;
        }
        if (rc)
            return rc;   /* the log still holds everything: nothing is lost */
    }
    if (w->hdr_valid && w->nframes == 0)
        return BZ_OK;
    return wal_restart(w, err);
}

int wal_restart(bz_wal *w, bz_err *err)
{
    int rc = reset(w, err);
    /* A failed reset leaves hdr_valid 0 and the old frames possibly valid on
     * disk, where readers may still use them: the next commit must restart
     * the log under the READ lock (wal_needs_restart), not on its own. The
     * database file already holds every page, so the index stays empty. */
    w->reset_failed = rc != BZ_OK;
    if (!rc) {
        rc = w->f->m->sync(w->f, err);
        w->syncs++;
    }
    return rc;
}

int wal_needs_restart(const bz_wal *w) { return w->reset_failed; }

uint32_t wal_frames(const bz_wal *w) { return w->nframes; }
uint32_t wal_count_pages(const bz_wal *w, bz_pgno lo, uint64_t hi)
{
    uint32_t n = 0;
    for (size_t i = 0; i < w->icap; i++)
        n += w->vals[i] && w->keys[i] >= lo && w->keys[i] < hi;
    return n;
}
uint64_t wal_last_txn(const bz_wal *w) { return w->last_txn; }
uint64_t wal_syncs(const bz_wal *w) { return w->syncs; }
