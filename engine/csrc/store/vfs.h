/* The VFS: every byte BlazeDB reads or writes goes through this interface
 * (after SQLite's sqlite3_vfs and LevelDB's Env). Three implementations:
 *   vfs_os.c    POSIX files, fsync, OFD byte-range locks
 *   vfs_mem.c   memory-backed files that outlive a handle (a "MemFS"),
 *               remembering what was last synced so power loss can be simulated
 *   vfs_fault.c a wrapper around another VFS that injects faults: fail the Nth
 *               open/read/write/sync with EIO/ENOSPC/EROFS/EMFILE, tear a write
 *               after K bytes, simulate power loss (needs a MemFS underneath)
 * Methods return BZ_OK or a bz_rc with err filled in (bz_err_from_errno).
 */
#ifndef BZ_VFS_H
#define BZ_VFS_H

#include "bz.h"

typedef struct bz_vfs bz_vfs;
typedef struct bz_file bz_file;

enum { BZ_OPEN_READONLY = 1, BZ_OPEN_CREATE = 2 };
enum { BZ_LOCK_WRITER = 0, BZ_LOCK_READ = 1 };          /* which lock byte */
enum { BZ_LOCK_UNLOCK = 0, BZ_LOCK_SHARED = 1, BZ_LOCK_EXCLUSIVE = 2 };

typedef struct bz_file_methods {
    int (*read)(bz_file *f, void *buf, size_t n, uint64_t off, size_t *got, bz_err *err);
    int (*write)(bz_file *f, const void *buf, size_t n, uint64_t off, bz_err *err);
    int (*truncate)(bz_file *f, uint64_t size, bz_err *err);
    int (*sync)(bz_file *f, bz_err *err);
    int (*size)(bz_file *f, uint64_t *out, bz_err *err);
    /* Non-blocking; BZ_LOCKED when held elsewhere (another handle, any process). */
    int (*lock)(bz_file *f, int which, int mode, bz_err *err);
    void (*close)(bz_file *f);
} bz_file_methods;

struct bz_file {
    const bz_file_methods *m;
    bz_vfs *vfs;
};

struct bz_vfs {
    int (*open)(bz_vfs *v, const char *path, int flags, bz_file **out, bz_err *err);
    int (*remove)(bz_vfs *v, const char *path, bz_err *err);  /* BZ_NOTFOUND if absent */
    int (*exists)(bz_vfs *v, const char *path, int *out, bz_err *err);
    void (*retain)(bz_vfs *v);           /* reference counting: files keep their vfs alive */
    void (*release)(bz_vfs *v);
};

bz_vfs *bz_vfs_os(void);                 /* a static singleton; retain/release are no-ops */
/* Called around fsync, the one slow call: the Python binding passes
 * PyEval_SaveThread/PyEval_RestoreThread so other threads run meanwhile. */
void bz_vfs_os_set_blocking_hooks(void *(*enter)(void), void (*leave)(void *state));

/* Lock bytes live far beyond any page the database will have (advisory OFD
 * locks may lie beyond the end of the file), like SQLite's pending byte. */
#define BZ_LOCK_OFFSET 0x40000000ull

/* ---- MemFS (vfs_mem.c) ------------------------------------------------------
 * Files live in memory for as long as the MemFS does. Each file keeps its
 * current bytes and the bytes it had at its last sync, so that a power loss
 * (bz_memfs_power_loss) can revert every file to what a disk would hold.
 * Made with keep_synced = 0, a MemFS keeps no synced copy: sync costs nothing
 * and a power loss is refused (fuzz targets that never simulate one).
 * Locks conflict between handles, also two handles of one process.
 * Not thread-safe on its own: the Python binding calls it under the GIL. */
bz_vfs *bz_memfs_new(void);              /* reference count 1; release() frees */
bz_vfs *bz_memfs_new_ex(int keep_synced);  /* bz_memfs_new() is bz_memfs_new_ex(1) */
int     bz_memfs_keeps_synced(const bz_vfs *v);
int     bz_memfs_is(const bz_vfs *v);
size_t  bz_memfs_count(bz_vfs *v);
const char *bz_memfs_name(bz_vfs *v, size_t i);          /* NULL beyond count */
/* The current bytes of a file: BZ_NOTFOUND if absent. The pointer stays valid
 * until the file is next written. */
int     bz_memfs_contents(bz_vfs *v, const char *name, const uint8_t **data, size_t *len);
/* Creates or replaces a file, both current and synced contents. */
int     bz_memfs_put(bz_vfs *v, const char *name, const void *data, size_t len, bz_err *err);
void    bz_memfs_power_loss(bz_vfs *v);   /* does nothing without synced copies */

/* ---- FaultVFS (vfs_fault.c) -------------------------------------------------
 * Wraps another VFS (a MemFS, or the OS VFS when base is NULL). Counts calls
 * per operation and fails the ones it is told to. */
enum bz_fault_op {
    BZ_FOP_OPEN = 0, BZ_FOP_READ, BZ_FOP_WRITE, BZ_FOP_SYNC, BZ_FOP_TRUNCATE,
    BZ_FOP_COUNT,
    BZ_FOP_ANY = BZ_FOP_COUNT
};
bz_vfs *bz_faultvfs_new(bz_vfs *base);   /* retains base; reference count 1 */
int     bz_faultvfs_is(const bz_vfs *v);
/* The nth call (1 = next) of op from now fails with sys_errno; persistent:
 * every later call of op fails too. BZ_MISUSE when too many are pending. */
int     bz_faultvfs_fail(bz_vfs *v, int op, uint64_t nth, int sys_errno, int persistent, bz_err *err);
/* The nth write from now writes only its first `keep` bytes, then the VFS is
 * dead: every later call fails with EIO until power loss or reset. */
int     bz_faultvfs_tear(bz_vfs *v, uint64_t nth, size_t keep, bz_err *err);
/* MemFS base only (else BZ_MISUSE): every file reverts to its last synced
 * contents, pending faults and the dead state are cleared, and every handle
 * opened before becomes stale (fails with EIO, holds no locks): the process
 * that had them "died". */
int     bz_faultvfs_power_loss(bz_vfs *v, bz_err *err);
void    bz_faultvfs_reset(bz_vfs *v);
uint64_t bz_faultvfs_count(bz_vfs *v, int op);
int     bz_faultvfs_dead(bz_vfs *v);

#endif
