/* FaultVFS: a VFS wrapper that injects the failures real disks produce.
 *
 * Every open/read/write/sync/truncate is counted per operation. A pending
 * fault fires on the nth call of its operation counted from when it was
 * armed ("any" counts all five operations together); a persistent fault
 * keeps firing from then on. A torn write writes only its first `keep`
 * bytes, then the VFS is "dead": every later call fails with EIO, as if the
 * machine had stopped. Power loss (MemFS base only) reverts every file to its
 * last synced contents and makes every handle opened before it stale, the
 * handles of a process that no longer exists: they fail with EIO and hold no
 * locks. Locks, sizes and closes are never failed, so cleanup always works.
 */
#define _GNU_SOURCE
#include "vfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAULTS 16

typedef struct fault {
    int op;                /* BZ_FOP_* or BZ_FOP_ANY */
    uint64_t at;           /* fires when the op's counter reaches this */
    int sys_errno;
    int persistent;
    int tear;              /* a torn write keeping `keep` bytes */
    size_t keep;
} fault;

typedef struct fault_file fault_file;

typedef struct faultvfs {
    bz_vfs base;
    int refs;
    bz_vfs *inner;
    uint64_t counts[BZ_FOP_COUNT + 1];   /* the last slot counts every op ("any") */
    fault faults[MAX_FAULTS];
    int nfaults;
    int dead;
    uint64_t epoch;                      /* bumped by power loss */
    fault_file *files;
} faultvfs;

struct fault_file {
    bz_file base;
    bz_file *inner;
    uint64_t epoch;
    fault_file *next;
};

/* Counts one call of op and decides whether it fails: returns the errno to
 * fail with, 0 to go ahead; *tear_keep is set (>= 0) for a torn write. */
static int decide(faultvfs *v, int op, long long *tear_keep)
{
    *tear_keep = -1;
    v->counts[op]++;
    v->counts[BZ_FOP_ANY]++;
    if (v->dead)
        return EIO;
    for (int i = 0; i < v->nfaults; i++) {
        fault *f = &v->faults[i];
        if (f->op != op && f->op != BZ_FOP_ANY)
            continue;
        uint64_t n = v->counts[f->op];
        if (n < f->at || (n > f->at && !f->persistent))
            continue;
        int e = f->sys_errno;
        if (f->tear) {
            *tear_keep = (long long)f->keep;
            v->dead = 1;
            e = EIO;
        }
        if (!f->persistent) {
            v->faults[i] = v->faults[--v->nfaults];
        }
        return e;
    }
    return 0;
}

static const char *op_name(int op)
{
    static const char *names[] = { "open", "read", "write", "sync", "truncate" };
    return op >= 0 && op < BZ_FOP_COUNT ? names[op] : "io";
}

static int injected(bz_err *err, int e, int op)
{
    int rc = bz_err_from_errno(err, e, op_name(op), "(injected fault)");
    return rc;
}

#define FV(f) ((faultvfs *)(f)->base.vfs)

static int stale(fault_file *f) { return f->epoch != FV(f)->epoch; }

static int ff_read(bz_file *bf, void *buf, size_t n, uint64_t off, size_t *got, bz_err *err)
{
    fault_file *f = (fault_file *)bf;
    long long keep;
    int e = stale(f) ? EIO : decide(FV(f), BZ_FOP_READ, &keep);
    if (e)
        return injected(err, e, BZ_FOP_READ);
    return f->inner->m->read(f->inner, buf, n, off, got, err);
}

static int ff_write(bz_file *bf, const void *buf, size_t n, uint64_t off, bz_err *err)
{
    fault_file *f = (fault_file *)bf;
    long long keep;
    int e = stale(f) ? EIO : decide(FV(f), BZ_FOP_WRITE, &keep);
    if (e) {
        if (keep > 0) {
            bz_err ignored;
            bz_err_clear(&ignored);
            (void)f->inner->m->write(f->inner, buf, (size_t)keep < n ? (size_t)keep : n, off, &ignored);
        }
        return injected(err, e, BZ_FOP_WRITE);
    }
    return f->inner->m->write(f->inner, buf, n, off, err);
}

static int ff_truncate(bz_file *bf, uint64_t size, bz_err *err)
{
    fault_file *f = (fault_file *)bf;
    long long keep;
    int e = stale(f) ? EIO : decide(FV(f), BZ_FOP_TRUNCATE, &keep);
    if (e)
        return injected(err, e, BZ_FOP_TRUNCATE);
    return f->inner->m->truncate(f->inner, size, err);
}

static int ff_sync(bz_file *bf, bz_err *err)
{
    fault_file *f = (fault_file *)bf;
    long long keep;
    int e = stale(f) ? EIO : decide(FV(f), BZ_FOP_SYNC, &keep);
    if (e)
        return injected(err, e, BZ_FOP_SYNC);
    return f->inner->m->sync(f->inner, err);
}

static int ff_size(bz_file *bf, uint64_t *out, bz_err *err)
{
    fault_file *f = (fault_file *)bf;
    if (stale(f) || FV(f)->dead)
        return injected(err, EIO, -1);
    return f->inner->m->size(f->inner, out, err);
}

static int ff_lock(bz_file *bf, int which, int mode, bz_err *err)
{
    fault_file *f = (fault_file *)bf;
    if (stale(f))   /* a dead process's locks are gone; it cannot take new ones */
        return mode == BZ_LOCK_UNLOCK ? BZ_OK : injected(err, EIO, -1);
    return f->inner->m->lock(f->inner, which, mode, err);
}

static void ff_close(bz_file *bf)
{
    fault_file *f = (fault_file *)bf;
    faultvfs *v = FV(f);
    for (fault_file **pp = &v->files; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    f->inner->m->close(f->inner);
    free(f);
    v->base.release(&v->base);
}

static const bz_file_methods ff_methods = {
    ff_read, ff_write, ff_truncate, ff_sync, ff_size, ff_lock, ff_close,
};

static int fv_open(bz_vfs *bv, const char *path, int flags, bz_file **out, bz_err *err)
{
    faultvfs *v = (faultvfs *)bv;
    long long keep;
    int e = decide(v, BZ_FOP_OPEN, &keep);
    if (e)
        return bz_err_from_errno(err, e, "open", path);
    fault_file *f = calloc(1, sizeof *f);
    if (!f)
        return bz_err_from_errno(err, ENOMEM, "open", path);
    int rc = v->inner->open(v->inner, path, flags, &f->inner, err);
    if (rc) {
        free(f);
        return rc;
    }
    f->base.m = &ff_methods;
    f->base.vfs = bv;
    f->epoch = v->epoch;
    f->next = v->files;
    v->files = f;
    bv->retain(bv);
    *out = &f->base;
    return BZ_OK;
}

static int fv_remove(bz_vfs *bv, const char *path, bz_err *err)
{
    faultvfs *v = (faultvfs *)bv;
    if (v->dead)
        return bz_err_from_errno(err, EIO, "remove", path);
    return v->inner->remove(v->inner, path, err);
}

static int fv_exists(bz_vfs *bv, const char *path, int *out, bz_err *err)
{
    faultvfs *v = (faultvfs *)bv;
    if (v->dead)
        return bz_err_from_errno(err, EIO, "stat", path);
    return v->inner->exists(v->inner, path, out, err);
}

static void fv_retain(bz_vfs *bv) { ((faultvfs *)bv)->refs++; }

static void fv_release(bz_vfs *bv)
{
    faultvfs *v = (faultvfs *)bv;
    if (--v->refs > 0)
        return;
    v->inner->release(v->inner);
    free(v);
}

bz_vfs *bz_faultvfs_new(bz_vfs *base)
{
    faultvfs *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->base.open = fv_open;
    v->base.remove = fv_remove;
    v->base.exists = fv_exists;
    v->base.retain = fv_retain;
    v->base.release = fv_release;
    v->refs = 1;
    v->inner = base ? base : bz_vfs_os();
    v->inner->retain(v->inner);
    return &v->base;
}

int bz_faultvfs_is(const bz_vfs *v) { return v && v->open == fv_open; }

static int arm(faultvfs *v, fault f, bz_err *err)
{
    if (v->nfaults == MAX_FAULTS)
        return bz_err_set(err, BZ_MISUSE, "too many pending faults (at most %d)", MAX_FAULTS);
    if (f.at == 0)
        return bz_err_set(err, BZ_MISUSE, "nth must be at least 1");
    f.at += v->counts[f.op];
    v->faults[v->nfaults++] = f;
    return BZ_OK;
}

int bz_faultvfs_fail(bz_vfs *bv, int op, uint64_t nth, int sys_errno, int persistent, bz_err *err)
{
    if (op < 0 || op > BZ_FOP_ANY)
        return bz_err_set(err, BZ_MISUSE, "unknown operation %d", op);
    fault f = { op, nth, sys_errno, persistent, 0, 0 };
    return arm((faultvfs *)bv, f, err);
}

int bz_faultvfs_tear(bz_vfs *bv, uint64_t nth, size_t keep, bz_err *err)
{
    fault f = { BZ_FOP_WRITE, nth, EIO, 0, 1, keep };
    return arm((faultvfs *)bv, f, err);
}

int bz_faultvfs_power_loss(bz_vfs *bv, bz_err *err)
{
    faultvfs *v = (faultvfs *)bv;
    if (!bz_memfs_is(v->inner))
        return bz_err_set(err, BZ_MISUSE, "power_loss() needs a MemFS underneath (FaultVFS(MemFS()))");
    if (!bz_memfs_keeps_synced(v->inner))
        return bz_err_set(err, BZ_MISUSE, "power_loss() needs a MemFS that keeps synced contents "
                                          "(MemFS(), not MemFS(power_loss=False))");
    /* The process holding the old handles is gone, and so are its locks. */
    for (fault_file *f = v->files; f; f = f->next) {
        if (f->epoch != v->epoch)
            continue;
        bz_err ignored;
        bz_err_clear(&ignored);
        (void)f->inner->m->lock(f->inner, BZ_LOCK_WRITER, BZ_LOCK_UNLOCK, &ignored);
        (void)f->inner->m->lock(f->inner, BZ_LOCK_READ, BZ_LOCK_UNLOCK, &ignored);
    }
    v->epoch++;
    bz_memfs_power_loss(v->inner);
    v->nfaults = 0;
    v->dead = 0;
    return BZ_OK;
}

void bz_faultvfs_reset(bz_vfs *bv)
{
    faultvfs *v = (faultvfs *)bv;
    v->nfaults = 0;
    v->dead = 0;
}

uint64_t bz_faultvfs_count(bz_vfs *bv, int op)
{
    faultvfs *v = (faultvfs *)bv;
    return op >= 0 && op <= BZ_FOP_ANY ? v->counts[op] : 0;
}

int bz_faultvfs_dead(bz_vfs *bv) { return ((faultvfs *)bv)->dead; }
