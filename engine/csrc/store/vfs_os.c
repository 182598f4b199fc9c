/* The operating-system VFS: POSIX files, fsync, and open-file-description
 * (OFD) byte-range locks, which conflict between two open() calls even inside
 * one process (classic POSIX record locks would not). */
#define _GNU_SOURCE
#include "vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct os_file {
    bz_file base;
    int fd;
    char *path;
} os_file;

static int os_read(bz_file *f, void *buf, size_t n, uint64_t off, size_t *got, bz_err *err)
{
    os_file *o = (os_file *)f;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(o->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return bz_err_from_errno(err, errno, "read", o->path);
        }
        if (r == 0)
            break;   /* end of file: the caller sees a short count */
        done += (size_t)r;
    }
    *got = done;
    return BZ_OK;
}

static int os_write(bz_file *f, const void *buf, size_t n, uint64_t off, bz_err *err)
{
    os_file *o = (os_file *)f;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(o->fd, (const char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return bz_err_from_errno(err, errno, "write", o->path);
        }
        done += (size_t)r;
    }
    return BZ_OK;
}

static int os_truncate(bz_file *f, uint64_t size, bz_err *err)
{
    os_file *o = (os_file *)f;
    while (ftruncate(o->fd, (off_t)size) != 0) {
        if (errno != EINTR)
            return bz_err_from_errno(err, errno, "truncate", o->path);
    }
    return BZ_OK;
}

static void *(*blocking_enter)(void);
static void (*blocking_leave)(void *);

void bz_vfs_os_set_blocking_hooks(void *(*enter)(void), void (*leave)(void *))
{
    blocking_enter = enter;
    blocking_leave = leave;
}

static int os_sync(bz_file *f, bz_err *err)
{
    os_file *o = (os_file *)f;
    /* fdatasync would do for overwrites, but a growing file needs its size
     * made durable too; fsync covers both. */
    void *state = blocking_enter ? blocking_enter() : NULL;
    int rc, e = 0;
    while ((rc = fsync(o->fd)) != 0 && (e = errno) == EINTR) {
    }
    if (blocking_leave)
        blocking_leave(state);
    if (rc != 0)
        return bz_err_from_errno(err, e, "sync", o->path);
    return BZ_OK;
}

static int os_size(bz_file *f, uint64_t *out, bz_err *err)
{
    os_file *o = (os_file *)f;
    struct stat st;
    if (fstat(o->fd, &st) != 0)
        return bz_err_from_errno(err, errno, "stat", o->path);
    *out = (uint64_t)st.st_size;
    return BZ_OK;
}

static int os_lock(bz_file *f, int which, int mode, bz_err *err)
{
    os_file *o = (os_file *)f;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = mode == BZ_LOCK_EXCLUSIVE ? F_WRLCK : mode == BZ_LOCK_SHARED ? F_RDLCK : F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)(BZ_LOCK_OFFSET + (uint64_t)which);
    fl.l_len = 1;
    /* A shared lock needs read access, an exclusive one write access; a
     * read-only descriptor cannot take F_WRLCK (EBADF). */
    while (fcntl(o->fd, F_OFD_SETLK, &fl) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EACCES)
            return bz_err_set(err, BZ_LOCKED, "%s is locked by another connection", o->path);
        return bz_err_from_errno(err, errno, "lock", o->path);
    }
    return BZ_OK;
}

static void os_close(bz_file *f)
{
    os_file *o = (os_file *)f;
    close(o->fd);   /* also drops the OFD locks */
    free(o->path);
    free(o);
}

static const bz_file_methods os_methods = {
    os_read, os_write, os_truncate, os_sync, os_size, os_lock, os_close,
};

/* A newly created file survives a crash only once its directory entry does. */
static void sync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(copy);
}

static int os_open(bz_vfs *v, const char *path, int flags, bz_file **out, bz_err *err)
{
    int oflags = O_CLOEXEC | ((flags & BZ_OPEN_READONLY) ? O_RDONLY : O_RDWR);
    int created = 0;
    if ((flags & BZ_OPEN_CREATE) && !(flags & BZ_OPEN_READONLY)) {
        if (access(path, F_OK) != 0)
            created = 1;
        oflags |= O_CREAT;
    }
    int fd;
    do {
        fd = open(path, oflags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return bz_err_from_errno(err, errno, "open", path);
    os_file *o = calloc(1, sizeof *o);
    char *p = strdup(path);
    if (!o || !p) {
        free(o);
        free(p);
        close(fd);
        return bz_err_set(err, BZ_NOMEM, "out of memory opening %s", path);
    }
    if (created)
        sync_parent_dir(path);
    o->base.m = &os_methods;
    o->base.vfs = v;
    o->fd = fd;
    o->path = p;
    *out = &o->base;
    return BZ_OK;
}

static int os_remove(bz_vfs *v, const char *path, bz_err *err)
{
    (void)v;
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return BZ_NOTFOUND;
        return bz_err_from_errno(err, errno, "remove", path);
    }
    return BZ_OK;
}

static int os_exists(bz_vfs *v, const char *path, int *out, bz_err *err)
{
    (void)v;
    struct stat st;
    if (stat(path, &st) == 0) {
        *out = 1;
        return BZ_OK;
    }
    if (errno == ENOENT || errno == ENOTDIR) {
        *out = 0;
        return BZ_OK;
    }
    return bz_err_from_errno(err, errno, "stat", path);
}

static void os_noop(bz_vfs *v) { (void)v; }

static bz_vfs os_vfs = { os_open, os_remove, os_exists, os_noop, os_noop };

bz_vfs *bz_vfs_os(void) { return &os_vfs; }
