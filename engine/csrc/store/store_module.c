/* engine._store: the Python binding of BlazeDB's storage core.
 *
 * Types (docs/CONTRACTS.md section 1):
 *   Store     a database file and its WAL (store.h does the work)
 *   MemFS     memory-backed files that outlive Store handles (vfs_mem.c)
 *   FaultVFS  a fault-injecting wrapper of a MemFS or the OS (vfs_fault.c)
 * Every failure becomes a class from engine.errors (imported at module init).
 *
 * Threads: every call runs with the GIL held, which also serializes MemFS and
 * FaultVFS. Each Store has its own lock as well, because waiting for a file
 * lock sleeps with the GIL released (pager_set_sleep_hook) and another thread
 * could otherwise enter the same Store meanwhile.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "vfs.h"
#include "wal.h"

/* ---- engine.errors ---- */

static PyObject *ErrStorage, *ErrDiskFull, *ErrReadOnly, *ErrTooManyFiles, *ErrCorrupt, *ErrLocked,
    *ErrTooLarge, *ErrTransaction, *ErrClosed, *ErrBlaze;

static PyObject *os_error(PyObject *cls, int sys_errno, const char *msg)
{
    PyObject *exc = sys_errno ? PyObject_CallFunction(cls, "is", sys_errno, msg)
                              : PyObject_CallFunction(cls, "s", msg);
    if (exc) {
        PyErr_SetObject(cls, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* Raises the engine.errors class for a failed call; returns NULL. */
static PyObject *raise_bz_text(int rc, const bz_err *e, const char *msg)
{
    switch (rc) {
    case BZ_IOERR:
        return os_error(ErrStorage, e->sys_errno ? e->sys_errno : EIO, msg);
    case BZ_FULL:
        return os_error(ErrDiskFull, e->sys_errno ? e->sys_errno : ENOSPC, msg);
    case BZ_READONLY:
        return os_error(ErrReadOnly, e->sys_errno, msg);
    case BZ_NOFILES:
        return os_error(ErrTooManyFiles, e->sys_errno ? e->sys_errno : EMFILE, msg);
    case BZ_NOTFOUND:
        return os_error(ErrStorage, ENOENT, msg);
    case BZ_CORRUPT: {
        PyObject *args = Py_BuildValue("(s)", msg);
        PyObject *kw = args ? PyDict_New() : NULL;
        if (kw) {
            PyObject *page = e->page >= 0 ? PyLong_FromLongLong(e->page) : Py_NewRef(Py_None);
            PyObject *frame = e->frame >= 0 ? PyLong_FromLongLong(e->frame) : Py_NewRef(Py_None);
            if (page && frame) {
                PyDict_SetItemString(kw, "page", page);
                PyDict_SetItemString(kw, "frame", frame);
                PyObject *exc = PyObject_Call(ErrCorrupt, args, kw);
                if (exc) {
                    PyErr_SetObject(ErrCorrupt, exc);
                    Py_DECREF(exc);
                }
            }
            Py_XDECREF(page);
            Py_XDECREF(frame);
        }
        Py_XDECREF(args);
        Py_XDECREF(kw);
        return NULL;
    }
    case BZ_LOCKED:
        PyErr_SetString(ErrLocked, msg);
        return NULL;
    case BZ_NOMEM:
        return PyErr_NoMemory();
    case BZ_TOOBIG:
        PyErr_SetString(ErrTooLarge, msg);
        return NULL;
    case BZ_MISUSE:
        PyErr_SetString(ErrTransaction, msg);
        return NULL;
    default:
        PyErr_Format(ErrBlaze, "%s (code %d)", msg, rc);
        return NULL;
    }
}

/* Messages quote tree names and other bytes read from the file, which need not
 * be UTF-8 (a damaged file): the text the exception carries escapes them. */
static PyObject *raise_bz(int rc, const bz_err *e)
{
    const char *raw = e->msg[0] ? e->msg : "storage error";
    PyObject *text = PyUnicode_DecodeUTF8(raw, (Py_ssize_t)strlen(raw), "backslashreplace");
    if (!text)
        return NULL;
    const char *msg = PyUnicode_AsUTF8(text);
    PyObject *result = msg ? raise_bz_text(rc, e, msg) : NULL;
    Py_DECREF(text);
    return result;
}

/* ---- waiting without the GIL ---- */

static void sleep_without_gil(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    Py_BEGIN_ALLOW_THREADS
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    Py_END_ALLOW_THREADS
}

/* fsync on the OS runs without the GIL (see bz_vfs_os_set_blocking_hooks). */
static void *gil_release(void) { return PyEval_SaveThread(); }
static void gil_reacquire(void *state) { PyEval_RestoreThread((PyThreadState *)state); }

/* ================================ MemFS ================================== */

typedef struct {
    PyObject_HEAD
    bz_vfs *vfs;
} VFSObject;   /* MemFS and FaultVFS share this layout */

typedef struct {
    PyObject_HEAD
    bz_vfs *vfs;
    PyObject *base;   /* the MemFS underneath, or NULL for the OS */
} FaultVFSObject;

static PyTypeObject MemFSType, FaultVFSType;

static PyObject *MemFS_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "power_loss", NULL };
    int power_loss = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$p:MemFS", kwlist, &power_loss))
        return NULL;
    VFSObject *self = (VFSObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->vfs = bz_memfs_new_ex(power_loss);
    if (!self->vfs) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void VFS_dealloc(VFSObject *self)
{
    if (self->vfs)
        self->vfs->release(self->vfs);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *MemFS_files(VFSObject *self, PyObject *unused)
{
    (void)unused;
    size_t n = bz_memfs_count(self->vfs);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *name = PyUnicode_FromString(bz_memfs_name(self->vfs, i));
        if (!name || PyList_Append(list, name) != 0) {
            Py_XDECREF(name);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(name);
    }
    if (list && PyList_Sort(list) != 0)
        Py_CLEAR(list);
    return list;
}

static PyObject *MemFS_read_file(VFSObject *self, PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    const uint8_t *data;
    size_t len;
    if (bz_memfs_contents(self->vfs, name, &data, &len) != BZ_OK) {
        PyErr_SetObject(PyExc_FileNotFoundError, arg);
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
}

static PyObject *MemFS_write_file(VFSObject *self, PyObject *args)
{
    const char *name;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "sy*:write_file", &name, &data))
        return NULL;
    bz_err err;
    bz_err_clear(&err);
    int rc = bz_memfs_put(self->vfs, name, data.buf, (size_t)data.len, &err);
    PyBuffer_Release(&data);
    if (rc)
        return raise_bz(rc, &err);
    Py_RETURN_NONE;
}

static PyObject *MemFS_remove(VFSObject *self, PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    bz_err err;
    bz_err_clear(&err);
    int rc = self->vfs->remove(self->vfs, name, &err);
    if (rc == BZ_NOTFOUND)
        Py_RETURN_FALSE;
    if (rc)
        return raise_bz(rc, &err);
    Py_RETURN_TRUE;
}

static PyMethodDef MemFS_methods[] = {
    { "files", (PyCFunction)MemFS_files, METH_NOARGS, "files() -> list[str]: the file names, sorted." },
    { "read_file", (PyCFunction)MemFS_read_file, METH_O, "read_file(name) -> bytes: current contents." },
    { "write_file", (PyCFunction)MemFS_write_file, METH_VARARGS,
      "write_file(name, data): creates or replaces a file (as if synced)." },
    { "remove", (PyCFunction)MemFS_remove, METH_O, "remove(name) -> bool: False if absent." },
    { NULL, NULL, 0, NULL },
};

static PyObject *MemFS_get_power_loss(VFSObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(bz_memfs_keeps_synced(self->vfs));
}

static PyGetSetDef MemFS_getset[] = {
    { "power_loss", (getter)MemFS_get_power_loss, NULL,
      "whether it keeps each file's synced contents, so that a FaultVFS over it can lose power", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject MemFSType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "engine._store.MemFS",
    .tp_basicsize = sizeof(VFSObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "MemFS(*, power_loss=True): memory-backed files that outlive Store handles.\n\n"
              "power_loss=False keeps no copy of what each file held at its last sync: sync\n"
              "costs nothing, and a FaultVFS over it refuses power_loss().",
    .tp_new = MemFS_new,
    .tp_dealloc = (destructor)VFS_dealloc,
    .tp_methods = MemFS_methods,
    .tp_getset = MemFS_getset,
};

/* =============================== FaultVFS ================================ */

static const char *OP_NAMES[] = { "open", "read", "write", "sync", "truncate" };

static PyObject *FaultVFS_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "base", NULL };
    PyObject *base = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:FaultVFS", kwlist, &base))
        return NULL;
    if (base != Py_None && !PyObject_TypeCheck(base, &MemFSType)) {
        PyErr_SetString(PyExc_TypeError, "FaultVFS(base): base must be a MemFS or None (the OS)");
        return NULL;
    }
    FaultVFSObject *self = (FaultVFSObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->vfs = bz_faultvfs_new(base == Py_None ? NULL : ((VFSObject *)base)->vfs);
    if (!self->vfs) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    if (base != Py_None)
        self->base = Py_NewRef(base);
    return (PyObject *)self;
}

static void FaultVFS_dealloc(FaultVFSObject *self)
{
    if (self->vfs)
        self->vfs->release(self->vfs);
    Py_XDECREF(self->base);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int parse_errno(const char *name)
{
    if (strcmp(name, "EIO") == 0)
        return EIO;
    if (strcmp(name, "ENOSPC") == 0)
        return ENOSPC;
    if (strcmp(name, "EROFS") == 0)
        return EROFS;
    if (strcmp(name, "EMFILE") == 0)
        return EMFILE;
    return -1;
}

static PyObject *FaultVFS_fail(FaultVFSObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "op", "nth", "errno", "persistent", NULL };
    const char *op, *ename = "EIO";
    long long nth = 1;
    int persistent = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|Lsp:fail", kwlist, &op, &nth, &ename, &persistent))
        return NULL;
    int opi = -1;
    if (strcmp(op, "any") == 0)
        opi = BZ_FOP_ANY;
    for (int i = 0; i < BZ_FOP_COUNT; i++)
        if (strcmp(op, OP_NAMES[i]) == 0)
            opi = i;
    if (opi < 0)
        return PyErr_Format(PyExc_ValueError,
                            "unknown op %R: expected open, read, write, sync, truncate or any",
                            PyTuple_GET_ITEM(args, 0));
    int e = parse_errno(ename);
    if (e < 0)
        return PyErr_Format(PyExc_ValueError, "unknown errno '%s': expected EIO, ENOSPC, EROFS or EMFILE",
                            ename);
    if (nth < 1)
        return PyErr_Format(PyExc_ValueError, "nth must be >= 1, got %lld", nth);
    bz_err err;
    bz_err_clear(&err);
    if (bz_faultvfs_fail(self->vfs, opi, (uint64_t)nth, e, persistent, &err) != BZ_OK) {
        PyErr_SetString(PyExc_ValueError, err.msg);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *FaultVFS_tear(FaultVFSObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "nth", "keep", NULL };
    long long nth = 1, keep = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|LL:tear", kwlist, &nth, &keep))
        return NULL;
    if (nth < 1 || keep < 0)
        return PyErr_Format(PyExc_ValueError, "tear(nth >= 1, keep >= 0), got nth=%lld keep=%lld", nth, keep);
    bz_err err;
    bz_err_clear(&err);
    if (bz_faultvfs_tear(self->vfs, (uint64_t)nth, (size_t)keep, &err) != BZ_OK) {
        PyErr_SetString(PyExc_ValueError, err.msg);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *FaultVFS_power_loss(FaultVFSObject *self, PyObject *unused)
{
    (void)unused;
    bz_err err;
    bz_err_clear(&err);
    if (bz_faultvfs_power_loss(self->vfs, &err) != BZ_OK) {
        PyErr_SetString(PyExc_ValueError, err.msg);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *FaultVFS_reset(FaultVFSObject *self, PyObject *unused)
{
    (void)unused;
    bz_faultvfs_reset(self->vfs);
    Py_RETURN_NONE;
}

static PyObject *FaultVFS_get_counts(FaultVFSObject *self, void *closure)
{
    (void)closure;
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < BZ_FOP_COUNT; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(bz_faultvfs_count(self->vfs, i));
        if (!v || PyDict_SetItemString(d, OP_NAMES[i], v) != 0) {
            Py_XDECREF(v);
            Py_CLEAR(d);
            break;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *FaultVFS_get_dead(FaultVFSObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(bz_faultvfs_dead(self->vfs));
}

static PyObject *FaultVFS_get_base(FaultVFSObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->base ? self->base : Py_None);
}

static PyMethodDef FaultVFS_methods[] = {
    { "fail", (PyCFunction)(void (*)(void))FaultVFS_fail, METH_VARARGS | METH_KEYWORDS,
      "fail(op, nth=1, errno='EIO', persistent=False): the nth call of op from now fails." },
    { "tear", (PyCFunction)(void (*)(void))FaultVFS_tear, METH_VARARGS | METH_KEYWORDS,
      "tear(nth=1, keep=0): the nth write from now writes `keep` bytes, then the VFS is dead." },
    { "power_loss", (PyCFunction)FaultVFS_power_loss, METH_NOARGS,
      "power_loss(): (MemFS base) every file reverts to its last synced contents; faults cleared." },
    { "reset", (PyCFunction)FaultVFS_reset, METH_NOARGS, "reset(): clears pending faults and the dead state." },
    { NULL, NULL, 0, NULL },
};

static PyGetSetDef FaultVFS_getset[] = {
    { "counts", (getter)FaultVFS_get_counts, NULL, "calls per operation so far", NULL },
    { "dead", (getter)FaultVFS_get_dead, NULL, "True after a torn write, until power_loss() or reset()", NULL },
    { "base", (getter)FaultVFS_get_base, NULL, "the MemFS underneath, or None for the OS", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject FaultVFSType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "engine._store.FaultVFS",
    .tp_basicsize = sizeof(FaultVFSObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "FaultVFS(base=None): injects I/O faults into a MemFS (or the OS file system when None).",
    .tp_new = FaultVFS_new,
    .tp_dealloc = (destructor)FaultVFS_dealloc,
    .tp_methods = FaultVFS_methods,
    .tp_getset = FaultVFS_getset,
};

/* ================================= Store ================================= */

typedef struct {
    PyObject_HEAD
    bz_store *s;                /* NULL once closed */
    PyObject *vfs_obj;          /* keeps a MemFS/FaultVFS alive */
    PyObject *path;
    PyThread_type_lock lock;
    /* Scratch for one result of get() or of a scan's next(): filled under the
     * store lock and copied into bytes objects before it is released, so one
     * pair serves every scan of the store (no buffers of their own to grow). */
    bz_buf key, val;
} StoreObject;

/* A read-only Store's scan must see one committed state from its first item
 * to its last, though each next() is a call of its own: it holds an outer
 * pager read (pager_read_begin nests) from creation until it ends. */
typedef struct {
    PyObject_HEAD
    StoreObject *store;
    bz_cursor *c;               /* NULL once exhausted */
    int snapshot;               /* holds an outer pager read (read-only store) */
} ScanObject;

static PyTypeObject StoreType, ScanType;
static void scan_release(ScanObject *it);

BZ_NO_COVERAGE static void store_lock(StoreObject *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

BZ_NO_COVERAGE static void store_unlock(StoreObject *self) { PyThread_release_lock(self->lock); }

/* Locks the store; NULL (ClosedError set) if it is closed. */
static bz_store *enter(StoreObject *self)
{
    store_lock(self);
    if (!self->s) {
        store_unlock(self);
        PyErr_SetString(ErrClosed, "the store is closed");
        return NULL;
    }
    return self->s;
}

static PyObject *Store_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "path", "vfs", "readonly", "create", "lock_timeout", "checkpoint_pages",
                              "cache_pages", NULL };
    PyObject *path_arg, *vfs_arg = Py_None;
    int readonly = 0, create = 1;
    double lock_timeout = 0.0;
    long long checkpoint_pages = 1000, cache_pages = 2048;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OppdLL:Store", kwlist, &path_arg, &vfs_arg, &readonly,
                                     &create, &lock_timeout, &checkpoint_pages, &cache_pages))
        return NULL;
    if (!(lock_timeout >= 0.0) || lock_timeout > 1e6)
        return PyErr_Format(PyExc_ValueError, "lock_timeout must be between 0 and 1e6 seconds");
    if (checkpoint_pages < 1 || checkpoint_pages > 1000000000LL)
        return PyErr_Format(PyExc_ValueError, "checkpoint_pages must be between 1 and 1e9, got %lld",
                            checkpoint_pages);
    if (cache_pages < 1 || cache_pages > 100000000LL)
        return PyErr_Format(PyExc_ValueError, "cache_pages must be between 1 and 1e8, got %lld", cache_pages);
    bz_vfs *vfs;
    if (vfs_arg == Py_None)
        vfs = bz_vfs_os();
    else if (PyObject_TypeCheck(vfs_arg, &MemFSType))
        vfs = ((VFSObject *)vfs_arg)->vfs;
    else if (PyObject_TypeCheck(vfs_arg, &FaultVFSType))
        vfs = ((FaultVFSObject *)vfs_arg)->vfs;
    else {
        PyErr_SetString(PyExc_TypeError, "vfs must be a MemFS, a FaultVFS or None");
        return NULL;
    }
    PyObject *path = PyOS_FSPath(path_arg);
    if (!path)
        return NULL;
    if (!PyUnicode_Check(path)) {
        Py_DECREF(path);
        PyErr_SetString(PyExc_TypeError, "path must be a str or an os.PathLike of str");
        return NULL;
    }
    PyObject *encoded = NULL;
    const char *cpath;
    if (vfs == bz_vfs_os()) {
        if (!PyUnicode_FSConverter(path, &encoded)) {
            Py_DECREF(path);
            return NULL;
        }
        cpath = PyBytes_AS_STRING(encoded);
    } else {
        cpath = PyUnicode_AsUTF8(path);
    }
    if (!cpath || strlen(cpath) == 0) {
        Py_XDECREF(encoded);
        Py_DECREF(path);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "path must not be empty");
        return NULL;
    }
    StoreObject *self = (StoreObject *)type->tp_alloc(type, 0);
    if (!self) {
        Py_XDECREF(encoded);
        Py_DECREF(path);
        return NULL;
    }
    self->path = path;
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        Py_XDECREF(encoded);
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    bz_pager_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.readonly = readonly;
    opts.lock_timeout = lock_timeout;
    opts.checkpoint_pages = (uint32_t)checkpoint_pages;
    opts.cache_pages = (uint32_t)cache_pages;
    opts.must_exist = !create;
    bz_err err;
    bz_err_clear(&err);
    int rc = bz_store_open(vfs, cpath, &opts, create, &self->s, &err);
    Py_XDECREF(encoded);
    if (rc) {
        self->s = NULL;
        Py_DECREF(self);
        return raise_bz(rc, &err);
    }
    if (vfs_arg != Py_None)
        self->vfs_obj = Py_NewRef(vfs_arg);
    return (PyObject *)self;
}

static int do_close(StoreObject *self, bz_err *err)
{
    if (!self->s)
        return BZ_OK;
    int rc = bz_store_close(self->s, err);
    self->s = NULL;
    return rc;
}

static void Store_dealloc(StoreObject *self)
{
    if (self->s) {
        bz_err err;
        bz_err_clear(&err);
        (void)do_close(self, &err);   /* an unclosed store still lets go of its lock */
    }
    if (self->lock)
        PyThread_free_lock(self->lock);
    bz_buf_free(&self->key);
    bz_buf_free(&self->val);
    Py_XDECREF(self->vfs_obj);
    Py_XDECREF(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Store_close(StoreObject *self, PyObject *unused)
{
    (void)unused;
    store_lock(self);
    bz_err err;
    bz_err_clear(&err);
    int rc = do_close(self, &err);
    store_unlock(self);
    if (rc)
        return raise_bz(rc, &err);
    Py_RETURN_NONE;
}

static PyObject *Store_enter(StoreObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->s) {
        PyErr_SetString(ErrClosed, "the store is closed");
        return NULL;
    }
    return Py_NewRef(self);
}

static PyObject *Store_exit(StoreObject *self, PyObject *args)
{
    PyObject *exc_type = PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0) : Py_None;
    store_lock(self);
    bz_err err;
    bz_err_clear(&err);
    int rc = do_close(self, &err);
    store_unlock(self);
    /* While an exception propagates, a failing close must not replace it. */
    if (rc && exc_type == Py_None)
        return raise_bz(rc, &err);
    Py_RETURN_FALSE;
}

typedef int (*txn_fn)(bz_store *, bz_err *);

static PyObject *simple_call(StoreObject *self, txn_fn fn)
{
    bz_store *s = enter(self);
    if (!s)
        return NULL;
    bz_err err;
    bz_err_clear(&err);
    int rc = fn(s, &err);
    store_unlock(self);
    if (rc)
        return raise_bz(rc, &err);
    Py_RETURN_NONE;
}

static PyObject *Store_begin(StoreObject *self, PyObject *u) { (void)u; return simple_call(self, bz_store_begin); }
static PyObject *Store_commit(StoreObject *self, PyObject *u) { (void)u; return simple_call(self, bz_store_commit); }
static PyObject *Store_rollback(StoreObject *self, PyObject *u) { (void)u; return simple_call(self, bz_store_rollback); }
static PyObject *Store_checkpoint(StoreObject *self, PyObject *u) { (void)u; return simple_call(self, bz_store_checkpoint); }

static PyObject *Store_get_in_transaction(StoreObject *self, void *closure)
{
    (void)closure;
    if (!self->s)
        Py_RETURN_FALSE;
    return PyBool_FromLong(bz_store_in_txn(self->s));
}

static PyObject *Store_get_closed(StoreObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->s == NULL);
}

static PyObject *Store_get_readonly(StoreObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->s && bz_store_readonly(self->s));
}

static PyObject *Store_get_path(StoreObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->path);
}

/* Tree names are str; the C layer sees their UTF-8 bytes. */
static const char *tree_name(PyObject *o, Py_ssize_t *len)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "tree name must be str, not %.100s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(o, len);
}

/* A failed tree operation: an unknown tree is KeyError(name). */
static PyObject *raise_tree(int rc, const bz_err *err, PyObject *name)
{
    if (rc == BZ_NOTFOUND) {
        PyErr_SetObject(PyExc_KeyError, name);
        return NULL;
    }
    return raise_bz(rc, err);
}

static int get_bytes(PyObject *o, Py_buffer *view, const char *what)
{
    if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes-like, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

static PyObject *Store_create_tree(StoreObject *self, PyObject *arg)
{
    Py_ssize_t n;
    const char *name = tree_name(arg, &n);
    if (!name)
        return NULL;
    bz_store *s = enter(self);
    if (!s)
        return NULL;
    bz_err err;
    bz_err_clear(&err);
    int created = 0;
    int rc = bz_store_create_tree(s, name, (size_t)n, &created, &err);
    store_unlock(self);
    if (rc)
        return raise_bz(rc, &err);
    return PyBool_FromLong(created);
}

static PyObject *Store_drop_tree(StoreObject *self, PyObject *arg)
{
    Py_ssize_t n;
    const char *name = tree_name(arg, &n);
    if (!name)
        return NULL;
    bz_store *s = enter(self);
    if (!s)
        return NULL;
    bz_err err;
    bz_err_clear(&err);
    int dropped = 0;
    int rc = bz_store_drop_tree(s, name, (size_t)n, &dropped, &err);
    store_unlock(self);
    if (rc == BZ_NOTFOUND)
        Py_RETURN_FALSE;
    if (rc)
        return raise_bz(rc, &err);
    return PyBool_FromLong(dropped);
}

static int append_tree(void *ctx, const char *name, size_t len)
{
    PyObject *s = PyUnicode_DecodeUTF8(name, (Py_ssize_t)len, "surrogateescape");
    if (!s || PyList_Append((PyObject *)ctx, s) != 0) {
        Py_XDECREF(s);
        return BZ_NOMEM;
    }
    Py_DECREF(s);
    return BZ_OK;
}

static PyObject *Store_trees(StoreObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    bz_store *s = enter(self);
    if (!s) {
        Py_DECREF(list);
        return NULL;
    }
    bz_err err;
    bz_err_clear(&err);
    int rc = bz_store_list_trees(s, append_tree, list, &err);
    store_unlock(self);
    if (rc) {
        Py_DECREF(list);
        if (PyErr_Occurred())
            return NULL;
        return raise_bz(rc, &err);
    }
    if (PyList_Sort(list) != 0)   /* str order (code points) == UTF-8 byte order */
        Py_CLEAR(list);
    return list;
}

static PyObject *Store_get(StoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "get(tree, key) takes 2 arguments (%zd given)", nargs);
    Py_ssize_t n;
    const char *name = tree_name(args[0], &n);
    if (!name)
        return NULL;
    Py_buffer key;
    if (get_bytes(args[1], &key, "key") != 0)
        return NULL;
    bz_store *s = enter(self);
    if (!s) {
        PyBuffer_Release(&key);
        return NULL;
    }
    bz_err err;
    bz_err_clear(&err);
    int found = 0;
    int rc = bz_store_get(s, name, (size_t)n, key.buf, (size_t)key.len, &self->val, &found, &err);
    PyObject *out = NULL;
    if (!rc)
        out = found ? PyBytes_FromStringAndSize((const char *)self->val.data, (Py_ssize_t)self->val.len)
                    : Py_NewRef(Py_None);
    store_unlock(self);
    PyBuffer_Release(&key);
    if (rc)
        return raise_tree(rc, &err, args[0]);
    return out;
}

static PyObject *Store_put(StoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3)
        return PyErr_Format(PyExc_TypeError, "put(tree, key, value) takes 3 arguments (%zd given)", nargs);
    Py_ssize_t n;
    const char *name = tree_name(args[0], &n);
    if (!name)
        return NULL;
    Py_buffer key, val;
    if (get_bytes(args[1], &key, "key") != 0)
        return NULL;
    if (get_bytes(args[2], &val, "value") != 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    int rc = BZ_OK, replaced = 0;
    bz_err err;
    bz_err_clear(&err);
    bz_store *s = enter(self);
    if (s) {
        rc = bz_store_put(s, name, (size_t)n, key.buf, (size_t)key.len, val.buf, (size_t)val.len,
                          &replaced, &err);
        store_unlock(self);
    }
    PyBuffer_Release(&key);
    PyBuffer_Release(&val);
    if (!s)
        return NULL;
    if (rc)
        return raise_tree(rc, &err, args[0]);
    return PyBool_FromLong(replaced);
}

static PyObject *Store_delete(StoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "delete(tree, key) takes 2 arguments (%zd given)", nargs);
    Py_ssize_t n;
    const char *name = tree_name(args[0], &n);
    if (!name)
        return NULL;
    Py_buffer key;
    if (get_bytes(args[1], &key, "key") != 0)
        return NULL;
    int rc = BZ_OK, existed = 0;
    bz_err err;
    bz_err_clear(&err);
    bz_store *s = enter(self);
    if (s) {
        rc = bz_store_delete(s, name, (size_t)n, key.buf, (size_t)key.len, &existed, &err);
        store_unlock(self);
    }
    PyBuffer_Release(&key);
    if (!s)
        return NULL;
    if (rc)
        return raise_tree(rc, &err, args[0]);
    return PyBool_FromLong(existed);
}

typedef int (*tree_count_fn)(bz_store *, const char *, size_t, uint64_t *, bz_err *);

static PyObject *tree_count_call(StoreObject *self, PyObject *arg, tree_count_fn fn)
{
    Py_ssize_t n;
    const char *name = tree_name(arg, &n);
    if (!name)
        return NULL;
    bz_store *s = enter(self);
    if (!s)
        return NULL;
    bz_err err;
    bz_err_clear(&err);
    uint64_t out = 0;
    int rc = fn(s, name, (size_t)n, &out, &err);
    store_unlock(self);
    if (rc)
        return raise_tree(rc, &err, arg);
    return PyLong_FromUnsignedLongLong(out);
}

static PyObject *Store_count(StoreObject *self, PyObject *arg) { return tree_count_call(self, arg, bz_store_count); }
static PyObject *Store_clear(StoreObject *self, PyObject *arg) { return tree_count_call(self, arg, bz_store_clear); }

static PyObject *Store_scan(StoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "tree", "start", "stop", "reverse", "include_start", "include_stop", NULL };
    PyObject *tree, *start = Py_None, *stop = Py_None;
    int reverse = 0, include_start = 1, include_stop = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO$ppp:scan", kwlist, &tree, &start, &stop, &reverse,
                                     &include_start, &include_stop))
        return NULL;
    Py_ssize_t n;
    const char *name = tree_name(tree, &n);
    if (!name)
        return NULL;
    Py_buffer bstart = { 0 }, bstop = { 0 };
    if (start != Py_None && get_bytes(start, &bstart, "start") != 0)
        return NULL;
    if (stop != Py_None && get_bytes(stop, &bstop, "stop") != 0) {
        if (start != Py_None)
            PyBuffer_Release(&bstart);
        return NULL;
    }
    bz_range r;
    memset(&r, 0, sizeof r);
    r.has_start = start != Py_None;
    r.start = bstart.buf;
    r.start_len = (size_t)bstart.len;
    r.include_start = include_start;
    r.has_stop = stop != Py_None;
    r.stop = bstop.buf;
    r.stop_len = (size_t)bstop.len;
    r.include_stop = include_stop;
    r.reverse = reverse;
    ScanObject *it = PyObject_New(ScanObject, &ScanType);
    bz_err err;
    bz_err_clear(&err);
    int rc = BZ_OK;
    bz_store *s = it ? enter(self) : NULL;
    if (s) {
        it->store = (StoreObject *)Py_NewRef(self);
        it->c = NULL;
        it->snapshot = 0;
        if (bz_store_readonly(s)) {
            rc = pager_read_begin(bz_store_pager(s), &err);
            it->snapshot = rc == BZ_OK;
        }
        if (rc == BZ_OK)
            rc = bz_cursor_open(s, name, (size_t)n, &r, &it->c, &err);
        if (rc)
            scan_release(it);
        store_unlock(self);
    } else if (it) {
        it->store = NULL;
        it->c = NULL;
        it->snapshot = 0;
    }
    if (start != Py_None)
        PyBuffer_Release(&bstart);
    if (stop != Py_None)
        PyBuffer_Release(&bstop);
    if (!s) {
        Py_XDECREF(it);
        return NULL;
    }
    if (rc) {
        it->c = NULL;
        Py_DECREF(it);
        return raise_tree(rc, &err, tree);
    }
    return (PyObject *)it;
}

/* Ends the scan's hold on its snapshot; the store lock is held. */
static void scan_release(ScanObject *it)
{
    if (it->snapshot && it->store->s)
        pager_read_end(bz_store_pager(it->store->s));
    it->snapshot = 0;
}

static PyObject *Scan_next(ScanObject *it)
{
    if (!it->c)
        return NULL;
    StoreObject *st = it->store;
    store_lock(st);
    if (!st->s) {
        store_unlock(st);
        PyErr_SetString(ErrClosed, "the store was closed during the scan");
        return NULL;
    }
    bz_err err;
    bz_err_clear(&err);
    int done = 0;
    int rc = bz_cursor_next(it->c, &st->key, &st->val, &done, &err);
    if (rc || done) {
        bz_cursor_free(it->c);
        it->c = NULL;
        scan_release(it);
    }
    PyObject *key = NULL, *val = NULL;
    if (!rc && !done) {         /* copied out of the store's scratch while it is ours */
        key = PyBytes_FromStringAndSize((const char *)st->key.data, (Py_ssize_t)st->key.len);
        val = key ? PyBytes_FromStringAndSize((const char *)st->val.data, (Py_ssize_t)st->val.len) : NULL;
    }
    store_unlock(st);
    if (rc)
        return raise_bz(rc, &err);
    if (done)
        return NULL;
    if (!val) {
        Py_XDECREF(key);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, key, val);
    Py_DECREF(key);
    Py_DECREF(val);
    return pair;
}

static void Scan_dealloc(ScanObject *it)
{
    if (it->c || it->snapshot) {
        store_lock(it->store);
        if (it->c)
            bz_cursor_free(it->c);
        scan_release(it);
        store_unlock(it->store);
    }
    Py_XDECREF(it->store);
    PyObject_Free(it);
}

static PyTypeObject ScanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "engine._store.Scan",
    .tp_basicsize = sizeof(ScanObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An iterator of (key, value) pairs; survives changes to its tree.",
    .tp_dealloc = (destructor)Scan_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Scan_next,
};

/* Puts name -> unsigned integer into d; -1 on failure. */
static int set_u64(PyObject *d, const char *name, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    int rc = o ? PyDict_SetItemString(d, name, o) : -1;
    Py_XDECREF(o);
    return rc;
}

static PyObject *Store_check(StoreObject *self, PyObject *unused)
{
    (void)unused;
    bz_store *s = enter(self);
    if (!s)
        return NULL;
    bz_check_report r;
    memset(&r, 0, sizeof r);
    bz_err err;
    bz_err_clear(&err);
    int rc = bz_store_check(s, &r, &err);
    store_unlock(self);
    if (rc)
        return raise_bz(rc, &err);
    PyObject *d = PyDict_New(), *trees = PyDict_New();
    int bad = !d || !trees;
    bad = bad || set_u64(d, "page_count", r.page_count) || set_u64(d, "header_pages", r.header_pages) ||
          set_u64(d, "catalog_pages", r.catalog_pages) || set_u64(d, "catalog_depth", r.catalog_depth) ||
          set_u64(d, "leaf_pages", r.leaf_pages) || set_u64(d, "interior_pages", r.interior_pages) ||
          set_u64(d, "overflow_pages", r.overflow_pages) || set_u64(d, "free_pages", r.free_pages) ||
          set_u64(d, "underfull_pages", r.underfull_pages) || set_u64(d, "entries", r.entries);
    for (size_t i = 0; !bad && i < r.ntrees; i++) {
        bz_check_tree *t = &r.trees[i];
        PyObject *td = PyDict_New();
        PyObject *name = PyUnicode_DecodeUTF8(t->name, (Py_ssize_t)t->name_len, "surrogateescape");
        bad = !td || !name || set_u64(td, "root", t->root) || set_u64(td, "depth", t->depth) ||
              set_u64(td, "entries", t->entries) || set_u64(td, "leaf_pages", t->leaf_pages) ||
              set_u64(td, "interior_pages", t->interior_pages) ||
              set_u64(td, "overflow_pages", t->overflow_pages) || PyDict_SetItem(trees, name, td) != 0;
        Py_XDECREF(td);
        Py_XDECREF(name);
    }
    bz_check_report_free(&r);
    if (bad || PyDict_SetItemString(d, "trees", trees) != 0 || PyDict_SetItemString(d, "ok", Py_True) != 0) {
        Py_XDECREF(d);
        Py_XDECREF(trees);
        return NULL;
    }
    Py_DECREF(trees);
    return d;
}

static PyObject *Store_stats(StoreObject *self, PyObject *unused)
{
    (void)unused;
    bz_store *s = enter(self);
    if (!s)
        return NULL;
    bz_store_stats st;
    memset(&st, 0, sizeof st);
    bz_err err;
    bz_err_clear(&err);
    int rc = bz_store_stats_get(s, &st, &err);
    store_unlock(self);
    if (rc)
        return raise_bz(rc, &err);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    const bz_pager_stats *p = &st.pager;
    if (set_u64(d, "pages", p->page_count) || set_u64(d, "free_pages", p->free_pages) ||
        set_u64(d, "wal_frames", p->wal_frames) || set_u64(d, "wal_committed_frames", p->wal_committed_frames) ||
        set_u64(d, "cache_hits", p->cache_hits) || set_u64(d, "cache_misses", p->cache_misses) ||
        set_u64(d, "cached_pages", p->cached_pages) || set_u64(d, "checkpoints", p->checkpoints) ||
        set_u64(d, "checkpoints_skipped", p->checkpoints_skipped) || set_u64(d, "syncs", p->syncs) ||
        set_u64(d, "commits", p->commits) || set_u64(d, "rollbacks", p->rollbacks) ||
        set_u64(d, "trees", st.trees) || set_u64(d, "changes", st.changes) ||
        set_u64(d, "page_size", BZ_PAGE_SIZE)) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *Store_repr(StoreObject *self)
{
    return PyUnicode_FromFormat("<engine._store.Store %R%s>", self->path, self->s ? "" : " (closed)");
}

static PyMethodDef Store_methods[] = {
    { "begin", (PyCFunction)Store_begin, METH_NOARGS, "begin(): start a transaction." },
    { "commit", (PyCFunction)Store_commit, METH_NOARGS, "commit(): make the transaction durable (one log sync)." },
    { "rollback", (PyCFunction)Store_rollback, METH_NOARGS, "rollback(): undo the transaction." },
    { "create_tree", (PyCFunction)Store_create_tree, METH_O, "create_tree(name) -> bool: False if it existed." },
    { "drop_tree", (PyCFunction)Store_drop_tree, METH_O, "drop_tree(name) -> bool: False if absent." },
    { "trees", (PyCFunction)Store_trees, METH_NOARGS, "trees() -> list[str], sorted." },
    { "get", (PyCFunction)(void (*)(void))Store_get, METH_FASTCALL, "get(tree, key) -> bytes | None" },
    { "put", (PyCFunction)(void (*)(void))Store_put, METH_FASTCALL,
      "put(tree, key, value) -> bool: True if it replaced a value." },
    { "delete", (PyCFunction)(void (*)(void))Store_delete, METH_FASTCALL,
      "delete(tree, key) -> bool: True if it existed." },
    { "scan", (PyCFunction)(void (*)(void))Store_scan, METH_VARARGS | METH_KEYWORDS,
      "scan(tree, start=None, stop=None, *, reverse=False, include_start=True, include_stop=False)" },
    { "count", (PyCFunction)Store_count, METH_O, "count(tree) -> int" },
    { "clear", (PyCFunction)Store_clear, METH_O, "clear(tree) -> int: entries removed." },
    { "checkpoint", (PyCFunction)Store_checkpoint, METH_NOARGS, "checkpoint(): copy the WAL into the file." },
    { "check", (PyCFunction)Store_check, METH_NOARGS, "check() -> dict; raises CorruptDatabaseError." },
    { "stats", (PyCFunction)Store_stats, METH_NOARGS, "stats() -> dict" },
    { "close", (PyCFunction)Store_close, METH_NOARGS, "close(): roll back, checkpoint, unlock. Idempotent." },
    { "__enter__", (PyCFunction)Store_enter, METH_NOARGS, NULL },
    { "__exit__", (PyCFunction)Store_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL },
};

static PyGetSetDef Store_getset[] = {
    { "in_transaction", (getter)Store_get_in_transaction, NULL, "True between begin() and commit()/rollback()", NULL },
    { "closed", (getter)Store_get_closed, NULL, "True after close()", NULL },
    { "readonly", (getter)Store_get_readonly, NULL, "True for Store(readonly=True)", NULL },
    { "path", (getter)Store_get_path, NULL, "the path it was opened with", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject StoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "engine._store.Store",
    .tp_basicsize = sizeof(StoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Store(path, *, vfs=None, readonly=False, create=True, lock_timeout=0.0, "
              "checkpoint_pages=1000, cache_pages=2048): named B+trees in one database file.",
    .tp_new = Store_new,
    .tp_dealloc = (destructor)Store_dealloc,
    .tp_repr = (reprfunc)Store_repr,
    .tp_methods = Store_methods,
    .tp_getset = Store_getset,
};

/* ================================ module ================================= */

/* A new bytes object holding what the buffer `arg` holds (the resealers edit it). */
static PyObject *bytes_copy(PyObject *arg)
{
    Py_buffer in;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize((const char *)in.buf, in.len);
    PyBuffer_Release(&in);
    return out;
}

/* reseal_pages(data) -> bytes: a copy of a database file image in which every
 * whole page carries the checksum trailer its page number and contents call
 * for (bz_page_seal); a partial last page is copied as it is. For fuzzing and
 * corruption tests: a mutated page then passes its checksum and reaches the
 * header and B+tree code behind it. */
static PyObject *module_reseal_pages(PyObject *module, PyObject *arg)
{
    (void)module;
    PyObject *out = bytes_copy(arg);
    if (!out)
        return NULL;
    uint8_t *image = (uint8_t *)PyBytes_AS_STRING(out);
    size_t pages = (size_t)PyBytes_GET_SIZE(out) / BZ_PAGE_SIZE;
    for (size_t i = 0; i < pages && i <= UINT32_MAX; i++)
        bz_page_seal((bz_pgno)i, image + i * BZ_PAGE_SIZE);
    return out;
}

/* reseal_wal(data) -> bytes: a copy of a log image (engine/doc/wal_format.md)
 * whose checksums are what a writer of its contents would have written: the
 * header CRC, then for every whole frame its page's trailer (bound to the
 * frame's page number) and the cumulative frame CRC. Salts, transaction ids
 * and commit page counts are left as they are: recovery still judges those. */
static PyObject *module_reseal_wal(PyObject *module, PyObject *arg)
{
    (void)module;
    PyObject *out = bytes_copy(arg);
    if (!out)
        return NULL;
    uint8_t *log = (uint8_t *)PyBytes_AS_STRING(out);
    size_t len = (size_t)PyBytes_GET_SIZE(out);
    if (len < BZ_WAL_HEADER_SIZE)
        return out;
    uint32_t crc = wal_header_crc(log);
    bz_put32(log + 28, crc);
    const size_t frame_size = BZ_WAL_FRAME_HEADER + BZ_PAGE_SIZE;
    for (size_t off = BZ_WAL_HEADER_SIZE; off + frame_size <= len; off += frame_size) {
        uint8_t *frame = log + off, *page = frame + BZ_WAL_FRAME_HEADER;
        bz_page_seal(bz_get32(frame), page);
        crc = wal_frame_crc(crc, frame);
        bz_put32(frame + 20, crc);
    }
    return out;
}

static PyMethodDef module_methods[] = {
    { "reseal_pages", module_reseal_pages, METH_O,
      "reseal_pages(data) -> bytes: the database file image with every whole page's "
      "checksum recomputed (for fuzzing and corruption tests)." },
    { "reseal_wal", module_reseal_wal, METH_O,
      "reseal_wal(data) -> bytes: the log image with its header and frame checksums "
      "recomputed (for fuzzing and corruption tests)." },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef store_module = {
    PyModuleDef_HEAD_INIT, "_store",
    "BlazeDB's storage core: Store, MemFS and FaultVFS (docs/CONTRACTS.md section 1).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

static int load_errors(void)
{
    PyObject *m = PyImport_ImportModule("engine.errors");
    if (!m)
        return -1;
    struct { PyObject **slot; const char *name; } names[] = {
        { &ErrBlaze, "BlazeError" },          { &ErrStorage, "StorageError" },
        { &ErrDiskFull, "DiskFullError" },    { &ErrReadOnly, "ReadOnlyError" },
        { &ErrTooManyFiles, "TooManyOpenFilesError" }, { &ErrCorrupt, "CorruptDatabaseError" },
        { &ErrLocked, "LockedError" },        { &ErrTooLarge, "RecordTooLargeError" },
        { &ErrTransaction, "TransactionError" }, { &ErrClosed, "ClosedError" },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        *names[i].slot = PyObject_GetAttrString(m, names[i].name);
        if (!*names[i].slot) {
            Py_DECREF(m);
            return -1;
        }
    }
    Py_DECREF(m);
    return 0;
}

__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__store(void)
{
    if (load_errors() != 0)
        return NULL;
    if (PyType_Ready(&MemFSType) < 0 || PyType_Ready(&FaultVFSType) < 0 || PyType_Ready(&StoreType) < 0 ||
        PyType_Ready(&ScanType) < 0)
        return NULL;
    pager_set_sleep_hook(sleep_without_gil);
    bz_vfs_os_set_blocking_hooks(gil_release, gil_reacquire);
    PyObject *m = PyModule_Create(&store_module);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Store", (PyObject *)&StoreType) < 0 ||
        PyModule_AddObjectRef(m, "MemFS", (PyObject *)&MemFSType) < 0 ||
        PyModule_AddObjectRef(m, "FaultVFS", (PyObject *)&FaultVFSType) < 0 ||
        PyModule_AddIntConstant(m, "MAX_KEY_SIZE", BZ_MAX_KEY) < 0 ||
        PyModule_AddIntConstant(m, "MAX_VALUE_SIZE", BZ_MAX_VALUE) < 0 ||
        PyModule_AddIntConstant(m, "PAGE_SIZE", BZ_PAGE_SIZE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
