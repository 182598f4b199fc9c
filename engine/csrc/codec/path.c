/* Field paths in error messages, and the buffer's slow path.
 *
 * A path names where in a record a problem is, the way a user would write it:
 * `address.tags[3]`. Keys that would read ambiguously in that notation (empty,
 * or holding '.', '[', ']' or non-printable characters) are shown as
 * `["key with.dot"]` using Python's repr. Paths are only formatted on the
 * error path; the hot paths only push and pop pointers.
 */
#include "codec.h"

#include <stdarg.h>

int buf_grow(Buf *b, size_t need)
{
    if (need > b->limit - b->len)
        return BUF_TOO_LARGE;
    size_t want = b->len + need;
    size_t cap = b->cap * 2;
    if (cap < want)
        cap = want;
    if (cap > b->limit)
        cap = b->limit;
    unsigned char *p;
    if (b->data == b->inline_buf) {
        p = PyMem_Malloc(cap);
        if (p != NULL)
            memcpy(p, b->data, b->len);
    } else {
        p = PyMem_Realloc(b->data, cap);
    }
    if (p == NULL)
        return BUF_NOMEM;
    b->data = p;
    b->cap = cap;
    return BUF_OK;
}

/* A key can be shown bare when it is non-empty printable text without path syntax. */
static int plain_key(PyObject *key)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(key);
    if (n == 0)
        return 0;
    int kind = PyUnicode_KIND(key);
    const void *data = PyUnicode_DATA(key);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c == '.' || c == '[' || c == ']' || !Py_UNICODE_ISPRINTABLE(c))
            return 0;
    }
    return 1;
}

/* Appends the step to `parts` (a list of str); -1 on error. */
static int append_step(PyObject *parts, const PathStep *s, int first)
{
    PyObject *piece;
    if (s->name == NULL) {
        piece = PyUnicode_FromFormat("[%zd]", s->index);
    } else {
        /* Names come from the record (valid UTF-8) or from garbage being decoded. */
        PyObject *key = PyUnicode_DecodeUTF8(s->name, s->name_len, "backslashreplace");
        if (key == NULL)
            return -1;
        if (plain_key(key))
            piece = first ? Py_NewRef(key) : PyUnicode_FromFormat(".%U", key);
        else
            piece = PyUnicode_FromFormat("[%R]", key);
        Py_DECREF(key);
    }
    if (piece == NULL)
        return -1;
    int rc = PyList_Append(parts, piece);
    Py_DECREF(piece);
    return rc;
}

static PyObject *format_path(const Path *path)
{
    PyObject *parts = PyList_New(0);
    if (parts == NULL)
        return NULL;
    for (int i = 0; i < path->n; i++) {
        if (append_step(parts, &path->step[i], i == 0) < 0) {
            Py_DECREF(parts);
            return NULL;
        }
    }
    PyObject *empty = PyUnicode_FromString("");
    PyObject *joined = empty ? PyUnicode_Join(empty, parts) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(parts);
    return joined;
}

int path_raisev(PyObject *cls, const Path *path, const char *what, const char *root,
                const char *fmt, va_list ap)
{
    PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
    if (msg == NULL)
        return -1;
    PyObject *full;
    if (path->n == 0) {
        full = PyUnicode_FromFormat("%s: %U", root, msg);
    } else {
        PyObject *where = format_path(path);
        full = where ? PyUnicode_FromFormat("%s %U: %U", what, where, msg) : NULL;
        Py_XDECREF(where);
    }
    Py_DECREF(msg);
    if (full == NULL)
        return -1;
    PyErr_SetObject(cls, full);
    Py_DECREF(full);
    return -1;
}

int path_raise(PyObject *cls, const Path *path, const char *what, const char *root,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = path_raisev(cls, path, what, root, fmt, ap);
    va_end(ap);
    return rc;
}

const char *codec_type_name(PyObject *v)
{
    return Py_TYPE(v)->tp_name;
}
