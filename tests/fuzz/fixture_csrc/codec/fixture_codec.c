/* Test fixture, not BlazeDB: a tiny `_codec` module for the fuzz runner's tests.
 *
 * parse(data) reads a TLV list: a tag byte, a length byte, then `length`
 * bytes. With -DBLAZEDB_PLANT_BUGS a tag 0x7F entry is copied into a
 * fixed 8-byte heap buffer without a bounds check (a heap overflow the
 * fuzzer must find), and a non-empty tag 0x7E entry overflows a signed int
 * (for UBSan); otherwise long 0x7F entries are rejected with ValueError. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static PyObject *parse(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *p = view.buf;
    Py_ssize_t n = view.len, i = 0, entries = 0;
    while (i + 2 <= n) {
        unsigned char tag = p[i], len = p[i + 1];
        i += 2;
        if (i + len > n) break;
#ifdef BLAZEDB_PLANT_BUGS
        if (tag == 0x7E) {
            volatile int big = INT_MAX;
            entries += (big + (int)len) & 0; /* planted: signed overflow (UBSan) */
        }
#endif
        if (tag == 0x7F) {
#ifdef BLAZEDB_PLANT_BUGS
            unsigned char *box = malloc(8);
            memcpy(box, p + i, len); /* planted: no check that len <= 8 */
            entries += box[len ? len - 1 : 0] & 0; /* keeps the copy observable */
            free(box);
#else
            if (len > 8) {
                PyBuffer_Release(&view);
                PyErr_SetString(PyExc_ValueError, "tag 0x7F entry longer than 8 bytes");
                return NULL;
            }
#endif
        }
        i += len;
        entries++;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(entries);
}

static PyMethodDef methods[] = {
    {"parse", parse, METH_O, "Count the TLV entries of a bytes object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_codec", NULL, -1, methods};

PyMODINIT_FUNC PyInit__codec(void) { return PyModule_Create(&module); }
