/* Test fixture, not BlazeDB: an empty `_store` module so that the fixture
 * tree has both modules engine/_native.py loads. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *ping(PyObject *self, PyObject *unused) { return PyLong_FromLong(1); }

static PyMethodDef methods[] = {
    {"ping", ping, METH_NOARGS, "Return 1."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_store", NULL, -1, methods};

PyMODINIT_FUNC PyInit__store(void) { return PyModule_Create(&module); }
