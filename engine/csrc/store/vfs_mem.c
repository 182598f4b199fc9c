/* MemFS: memory-backed files that outlive the handles opened on them.
 *
 * A file ("inode") holds two byte strings: `cur`, what reads see, and `synced`,
 * what a disk would still hold after a power loss (a copy of `cur` taken at
 * each sync). A bitmap marks the BLOCK-sized blocks of `cur` written (or
 * truncated/extended) since the last sync; every unmarked block below `len`
 * equals `synced` there, so a sync copies only the marked blocks: syncing
 * after a commit costs the frames it appended, not the whole file (under
 * ASan the whole-file copy was most of a commit). Names map to inodes; removing a name leaves open handles working
 * on the unlinked inode, as POSIX does. Each handle holds its own lock modes
 * on the two lock bytes, and lock requests check every other handle of the
 * inode, so two Stores in one process exclude each other like two processes.
 *
 * A MemFS made without synced copies (bz_memfs_new_ex(0)) skips all of that:
 * a sync returns at once and `synced` stays empty, so a power loss cannot be
 * simulated on it. Fuzz targets that never simulate one save a copy of every
 * block written per commit (0.7-0.9% of the ops target's instructions).
 *
 * Spare buffers: a fuzz target empties its MemFS before every input and grows
 * the same two files again. Freeing a file's buffers and growing new ones by
 * doubling (8 KB, 16 KB, ...) went through ASan's allocator, which maps,
 * poisons and quarantines every large block: about 3% of the ops target's
 * time under ASan (reusing them saved 1.5-3% per input here). So
 * a freed inode hands its buffers (cur, synced and the dirty bitmap, with
 * their capacities) to the file system, which gives them to the next new
 * file; at most MAX_SPARES sets are kept, all freed with the file system.
 * Nothing stale can be read: every read stops at len (synced_len for a power
 * loss), and bytes past len are zero-filled before a write or truncate
 * exposes them. Under ASan an idle spare is poisoned, so a stray access to
 * one is still reported.
 */
#define _GNU_SOURCE
#include "vfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct mem_handle mem_handle;
typedef struct memfs memfs;

typedef struct mem_inode {
    memfs *fs;               /* outlives the inode: every handle retains it */
    char *name;              /* NULL once removed */
    uint8_t *cur;
    size_t len, cap;
    uint8_t *synced;
    size_t synced_len, synced_cap;
    uint64_t *dirty;         /* one bit per BLOCK of cur[0, cap): changed since the last sync */
    int refs;                /* the name (if linked) + open handles */
    mem_handle *handles;
} mem_inode;

struct mem_handle {
    bz_file base;
    mem_inode *ino;
    int readonly;
    int lock[2];             /* BZ_LOCK_* per lock byte */
    mem_handle *next;
};

/* The buffers of a freed inode, kept for the next new one (see the top). */
typedef struct spare {
    uint8_t *cur, *synced;
    size_t cap, synced_cap;
    uint64_t *dirty;         /* BITMAP_WORDS(cap) words */
} spare;

#define MAX_SPARES 4

struct memfs {
    bz_vfs base;
    int refs;
    mem_inode **files;       /* linked inodes, in creation order */
    size_t n, cap;
    spare spares[MAX_SPARES];
    size_t nspares;
    int keep_synced;         /* 0: sync() keeps no copy; no power loss (see the top) */
};

#define BLOCK 4096u
#define BITMAP_WORDS(cap) (((cap) / BLOCK + 63) / 64)

/* An idle spare is poisoned under ASan (see the top); a taken or freed one is not. */
static void spare_poison(const spare *sp, int poisoned)
{
    if (poisoned) {
        BZ_POISON(sp->cur, sp->cap);
        if (sp->synced)
            BZ_POISON(sp->synced, sp->synced_cap);
    } else {
        BZ_UNPOISON(sp->cur, sp->cap);
        if (sp->synced)
            BZ_UNPOISON(sp->synced, sp->synced_cap);
    }
}

static void spare_free(spare *sp)
{
    free(sp->cur);
    free(sp->synced);
    free(sp->dirty);
}

static void inode_unref(mem_inode *ino)
{
    if (--ino->refs > 0)
        return;
    memfs *fs = ino->fs;
    spare sp = { ino->cur, ino->synced, ino->cap, ino->synced_cap, ino->dirty };
    if (ino->cap && fs->nspares < MAX_SPARES) {
        spare_poison(&sp, 1);
        fs->spares[fs->nspares++] = sp;
    } else {
        spare_free(&sp);
    }
    free(ino->name);
    free(ino);
}

/* Gives a new (empty) inode the buffers of a freed one, if any are kept. */
static void take_spare(memfs *fs, mem_inode *ino)
{
    if (!fs->nspares)
        return;
    spare sp = fs->spares[--fs->nspares];
    spare_poison(&sp, 0);
    memset(sp.dirty, 0, BITMAP_WORDS(sp.cap) * sizeof *sp.dirty);
    ino->cur = sp.cur;
    ino->cap = sp.cap;
    ino->synced = sp.synced;
    ino->synced_cap = sp.synced_cap;
    ino->dirty = sp.dirty;
}

static long find(memfs *fs, const char *name)
{
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->files[i]->name, name) == 0)
            return (long)i;
    return -1;
}

static int reserve(mem_inode *ino, size_t need)
{
    if (need <= ino->cap)
        return 0;
    size_t cap = ino->cap ? ino->cap : 8192;
    while (cap < need)
        cap *= 2;
    size_t old_words = BITMAP_WORDS(ino->cap), words = BITMAP_WORDS(cap);
    uint64_t *d = realloc(ino->dirty, words * sizeof *d);
    if (!d)
        return -1;
    memset(d + old_words, 0, (words - old_words) * sizeof *d);
    ino->dirty = d;
    uint8_t *p = realloc(ino->cur, cap);
    if (!p)
        return -1;
    ino->cur = p;
    ino->cap = cap;
    return 0;
}

/* Marks cur[from, to) as changed since the last sync (to <= cap). */
static void mark_dirty(mem_inode *ino, size_t from, size_t to)
{
    if (from >= to)
        return;
    for (size_t b = from / BLOCK, last = (to - 1) / BLOCK; b <= last; b++)
        ino->dirty[b / 64] |= (uint64_t)1 << (b % 64);
}

/* ---- file methods ---- */

static int mem_read(bz_file *f, void *buf, size_t n, uint64_t off, size_t *got, bz_err *err)
{
    (void)err;
    mem_inode *ino = ((mem_handle *)f)->ino;
    if (off >= ino->len) {
        *got = 0;
        return BZ_OK;
    }
    size_t avail = ino->len - (size_t)off;
    size_t k = n < avail ? n : avail;
    memcpy(buf, ino->cur + off, k);
    *got = k;
    return BZ_OK;
}

static int mem_write(bz_file *f, const void *buf, size_t n, uint64_t off, bz_err *err)
{
    mem_handle *h = (mem_handle *)f;
    mem_inode *ino = h->ino;
    if (h->readonly)
        return bz_err_from_errno(err, EBADF, "write", ino->name);
    if (off + n > ((uint64_t)1 << 40))
        return bz_err_from_errno(err, EFBIG, "write", ino->name);
    size_t end = (size_t)off + n;
    if (reserve(ino, end) != 0)
        return bz_err_from_errno(err, ENOSPC, "write", ino->name);
    /* from the old end when the write leaves a zero-filled gap */
    mark_dirty(ino, (size_t)off < ino->len ? (size_t)off : ino->len, end);
    if (off > ino->len)
        memset(ino->cur + ino->len, 0, (size_t)off - ino->len);
    memcpy(ino->cur + off, buf, n);
    if (end > ino->len)
        ino->len = end;
    return BZ_OK;
}

static int mem_truncate(bz_file *f, uint64_t size, bz_err *err)
{
    mem_handle *h = (mem_handle *)f;
    mem_inode *ino = h->ino;
    if (h->readonly)
        return bz_err_from_errno(err, EBADF, "truncate", ino->name);
    if (size > ino->len) {
        if (reserve(ino, (size_t)size) != 0)
            return bz_err_from_errno(err, ENOSPC, "truncate", ino->name);
        memset(ino->cur + ino->len, 0, (size_t)size - ino->len);
    }
    /* Growing changes [len, size); shrinking drops bytes, and whatever is
     * written there later gets marked then. */
    mark_dirty(ino, ino->len, (size_t)size);
    ino->len = (size_t)size;
    return BZ_OK;
}

static int mem_sync(bz_file *f, bz_err *err)
{
    mem_inode *ino = ((mem_handle *)f)->ino;
    if (!ino->fs->keep_synced)
        return BZ_OK;
    if (ino->len > ino->synced_cap || !ino->synced) {
        size_t cap = ino->synced_cap ? ino->synced_cap : 8192;
        while (cap < ino->len)
            cap *= 2;
        uint8_t *p = realloc(ino->synced, cap);
        if (!p)
            return bz_err_from_errno(err, ENOMEM, "sync", ino->name);
        ino->synced = p;
        ino->synced_cap = cap;
    }
    size_t words = BITMAP_WORDS(ino->cap);
    for (size_t w = 0; w < words; w++) {
        for (uint64_t bits = ino->dirty[w]; bits; bits &= bits - 1) {
            size_t from = (w * 64 + (size_t)__builtin_ctzll(bits)) * BLOCK;
            if (from >= ino->len)
                break;
            size_t to = from + BLOCK < ino->len ? from + BLOCK : ino->len;
            memcpy(ino->synced + from, ino->cur + from, to - from);
        }
    }
    if (words)
        memset(ino->dirty, 0, words * sizeof *ino->dirty);
    ino->synced_len = ino->len;
    return BZ_OK;
}

static int mem_size(bz_file *f, uint64_t *out, bz_err *err)
{
    (void)err;
    *out = ((mem_handle *)f)->ino->len;
    return BZ_OK;
}

static int mem_lock(bz_file *f, int which, int mode, bz_err *err)
{
    mem_handle *h = (mem_handle *)f;
    if (which < 0 || which > 1)
        return bz_err_set(err, BZ_MISUSE, "bad lock byte %d", which);
    if (mode != BZ_LOCK_UNLOCK) {
        for (mem_handle *o = h->ino->handles; o; o = o->next) {
            if (o == h || o->lock[which] == BZ_LOCK_UNLOCK)
                continue;
            if (mode == BZ_LOCK_EXCLUSIVE || o->lock[which] == BZ_LOCK_EXCLUSIVE)
                return bz_err_set(err, BZ_LOCKED, "%s is locked by another connection",
                                  h->ino->name ? h->ino->name : "(removed file)");
        }
    }
    h->lock[which] = mode;
    return BZ_OK;
}

static void mem_close(bz_file *f)
{
    mem_handle *h = (mem_handle *)f;
    mem_inode *ino = h->ino;
    for (mem_handle **pp = &ino->handles; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    bz_vfs *v = h->base.vfs;
    free(h);
    inode_unref(ino);
    v->release(v);
}

static const bz_file_methods mem_methods = {
    mem_read, mem_write, mem_truncate, mem_sync, mem_size, mem_lock, mem_close,
};

/* ---- vfs methods ---- */

static mem_inode *link_new(memfs *fs, const char *name)
{
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 8;
        mem_inode **p = realloc(fs->files, cap * sizeof *p);
        if (!p)
            return NULL;
        fs->files = p;
        fs->cap = cap;
    }
    mem_inode *ino = calloc(1, sizeof *ino);
    if (!ino)
        return NULL;
    ino->name = strdup(name);
    if (!ino->name) {
        free(ino);
        return NULL;
    }
    ino->fs = fs;
    ino->refs = 1;
    take_spare(fs, ino);
    fs->files[fs->n++] = ino;
    return ino;
}

static int mem_open(bz_vfs *v, const char *path, int flags, bz_file **out, bz_err *err)
{
    memfs *fs = (memfs *)v;
    long i = find(fs, path);
    mem_inode *ino;
    if (i >= 0) {
        ino = fs->files[i];
    } else {
        if (!(flags & BZ_OPEN_CREATE) || (flags & BZ_OPEN_READONLY))
            return bz_err_from_errno(err, ENOENT, "open", path);
        ino = link_new(fs, path);
        if (!ino)
            return bz_err_from_errno(err, ENOMEM, "open", path);
    }
    mem_handle *h = calloc(1, sizeof *h);
    if (!h)
        return bz_err_from_errno(err, ENOMEM, "open", path);
    h->base.m = &mem_methods;
    h->base.vfs = v;
    h->ino = ino;
    h->readonly = (flags & BZ_OPEN_READONLY) != 0;
    h->next = ino->handles;
    ino->handles = h;
    ino->refs++;
    v->retain(v);
    *out = &h->base;
    return BZ_OK;
}

static void unlink_at(memfs *fs, size_t i)
{
    mem_inode *ino = fs->files[i];
    memmove(fs->files + i, fs->files + i + 1, (fs->n - i - 1) * sizeof *fs->files);
    fs->n--;
    inode_unref(ino);
}

static int mem_remove(bz_vfs *v, const char *path, bz_err *err)
{
    (void)err;
    memfs *fs = (memfs *)v;
    long i = find(fs, path);
    if (i < 0)
        return BZ_NOTFOUND;
    unlink_at(fs, (size_t)i);
    return BZ_OK;
}

static int mem_exists(bz_vfs *v, const char *path, int *out, bz_err *err)
{
    (void)err;
    *out = find((memfs *)v, path) >= 0;
    return BZ_OK;
}

static void mem_retain(bz_vfs *v) { ((memfs *)v)->refs++; }

static void mem_release(bz_vfs *v)
{
    memfs *fs = (memfs *)v;
    if (--fs->refs > 0)
        return;
    while (fs->n)
        unlink_at(fs, fs->n - 1);
    while (fs->nspares) {
        spare *sp = &fs->spares[--fs->nspares];
        spare_poison(sp, 0);
        spare_free(sp);
    }
    free(fs->files);
    free(fs);
}

bz_vfs *bz_memfs_new_ex(int keep_synced)
{
    memfs *fs = calloc(1, sizeof *fs);
    if (!fs)
        return NULL;
    fs->base.open = mem_open;
    fs->base.remove = mem_remove;
    fs->base.exists = mem_exists;
    fs->base.retain = mem_retain;
    fs->base.release = mem_release;
    fs->refs = 1;
    fs->keep_synced = keep_synced != 0;
    return &fs->base;
}

bz_vfs *bz_memfs_new(void) { return bz_memfs_new_ex(1); }

int bz_memfs_keeps_synced(const bz_vfs *v) { return ((const memfs *)v)->keep_synced; }

int bz_memfs_is(const bz_vfs *v) { return v && v->open == mem_open; }

size_t bz_memfs_count(bz_vfs *v) { return ((memfs *)v)->n; }

const char *bz_memfs_name(bz_vfs *v, size_t i)
{
    memfs *fs = (memfs *)v;
    return i < fs->n ? fs->files[i]->name : NULL;
}

int bz_memfs_contents(bz_vfs *v, const char *name, const uint8_t **data, size_t *len)
{
    memfs *fs = (memfs *)v;
    long i = find(fs, name);
    if (i < 0)
        return BZ_NOTFOUND;
    *data = fs->files[i]->cur;
    *len = fs->files[i]->len;
    return BZ_OK;
}

int bz_memfs_put(bz_vfs *v, const char *name, const void *data, size_t len, bz_err *err)
{
    memfs *fs = (memfs *)v;
    long i = find(fs, name);
    mem_inode *ino = i >= 0 ? fs->files[i] : link_new(fs, name);
    if (!ino)
        return bz_err_from_errno(err, ENOMEM, "write", name);
    if (reserve(ino, len) != 0)
        return bz_err_from_errno(err, ENOMEM, "write", name);
    if (len)
        memcpy(ino->cur, data, len);
    ino->len = len;
    mark_dirty(ino, 0, len);
    mem_handle tmp = { .ino = ino };
    return mem_sync(&tmp.base, err);
}

void bz_memfs_power_loss(bz_vfs *v)
{
    memfs *fs = (memfs *)v;
    if (!fs->keep_synced)
        return;     /* nothing to revert to: callers refuse first (bz_faultvfs_power_loss) */
    for (size_t i = 0; i < fs->n; i++) {
        mem_inode *ino = fs->files[i];
        if (reserve(ino, ino->synced_len) != 0)
            continue;   /* cannot happen: cap >= synced_len was true when it synced */
        if (ino->synced_len)
            memcpy(ino->cur, ino->synced, ino->synced_len);
        ino->len = ino->synced_len;
        if (ino->cap)
            memset(ino->dirty, 0, BITMAP_WORDS(ino->cap) * sizeof *ino->dirty);
    }
}
