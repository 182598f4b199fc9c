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

#endif
