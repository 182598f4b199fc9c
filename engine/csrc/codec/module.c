/* The extension module `engine._codec`: BlazeDB's record codec and index keys.
 *
 *   encode(record: dict) -> bytes        InvalidRecordError / RecordTooLargeError
 *   decode(data: bytes-like) -> dict     CorruptRecordError on any malformed input
 *   index_key(values: tuple) -> bytes    order-preserving key (MISSING allowed)
 *
 * Formats: engine/doc/record_format.md. Type mapping: engine/types.py.
 * Errors are the classes of engine/errors.py, imported here at load time.
 */
#include "codec.h"

PyObject *codec_InvalidRecordError;
PyObject *codec_RecordTooLargeError;
PyObject *codec_CorruptRecordError;

static PyObject *py_encode(PyObject *self, PyObject *record)
{
    (void)self;
    return codec_encode(record);
}

static PyObject *py_decode(PyObject *self, PyObject *data)
{
    (void)self;
    return codec_decode(data);
}

static PyObject *py_index_key(PyObject *self, PyObject *values)
{
    (void)self;
    return codec_index_key(values);
}

static PyMethodDef codec_methods[] = {
    {"encode", py_encode, METH_O,
     "encode(record: dict) -> bytes\n\n"
     "The canonical encoding of a record (engine/doc/record_format.md). Raises\n"
     "InvalidRecordError for a value BlazeDB cannot store and RecordTooLargeError\n"
     "beyond a limit; both name the field path."},
    {"decode", py_decode, METH_O,
     "decode(data: bytes) -> dict\n\n"
     "The record encoded in `data`. Raises CorruptRecordError, naming the byte\n"
     "offset and field path, for anything encode() would not have produced."},
    {"index_key", py_index_key, METH_O,
     "index_key(values: tuple) -> bytes\n\n"
     "A byte string whose bytewise order is the total order of BlazeDB values\n"
     "(engine/doc/semantics.md), element by element. MISSING is allowed as a\n"
     "whole value. Equal values (1 and 1.0, all NaNs) give equal keys."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef codec_module = {
    PyModuleDef_HEAD_INIT,
    "engine._codec",
    "BlazeDB's record codec and order-preserving index keys (C).",
    -1,
    codec_methods,
    NULL, NULL, NULL, NULL,
};

static PyObject *error_class(PyObject *errors, const char *name)
{
    PyObject *cls = PyObject_GetAttrString(errors, name);
    if (cls != NULL && !PyExceptionClass_Check(cls)) {
        PyErr_Format(PyExc_ImportError, "engine.errors.%s is not an exception class", name);
        Py_CLEAR(cls);
    }
    return cls;
}

static int add_constants(PyObject *m)
{
    static const struct { const char *name; long long value; } ints[] = {
        {"FORMAT_VERSION", CODEC_FORMAT_VERSION},
        {"MAX_RECORD_SIZE", CODEC_MAX_RECORD_SIZE},
        {"MAX_DEPTH", CODEC_MAX_DEPTH},
        {"MAX_FIELD_NAME", CODEC_MAX_FIELD_NAME},
        {"MAX_ARRAY_LEN", CODEC_MAX_ARRAY_LEN},
        {"DATE_MIN_US", CODEC_DATE_MIN_US},
        {"DATE_MAX_US", CODEC_DATE_MAX_US},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        PyObject *v = PyLong_FromLongLong(ints[i].value);
        if (v == NULL || PyModule_AddObject(m, ints[i].name, v) < 0) {
            Py_XDECREF(v);
            return -1;
        }
    }
    static const char magic[2] = {CODEC_MAGIC0, CODEC_MAGIC1};
    PyObject *mg = PyBytes_FromStringAndSize(magic, 2);
    if (mg == NULL || PyModule_AddObject(m, "MAGIC", mg) < 0) {
        Py_XDECREF(mg);
        return -1;
    }
#ifdef BLAZEDB_PLANT_BUGS
    const long planted = 1;
#else
    const long planted = 0;
#endif
    return PyModule_AddIntConstant(m, "PLANTED_BUGS", planted);
}

PyMODINIT_FUNC PyInit__codec(void)
{
    PyObject *errors = PyImport_ImportModule("engine.errors");
    if (errors == NULL)
        return NULL;
    codec_InvalidRecordError = error_class(errors, "InvalidRecordError");
    codec_RecordTooLargeError = error_class(errors, "RecordTooLargeError");
    codec_CorruptRecordError = error_class(errors, "CorruptRecordError");
    Py_DECREF(errors);
    if (codec_InvalidRecordError == NULL || codec_RecordTooLargeError == NULL
        || codec_CorruptRecordError == NULL)
        return NULL;
    if (date_init() < 0 || pyvalues_init() < 0)
        return NULL;
    PyObject *m = PyModule_Create(&codec_module);
    if (m == NULL)
        return NULL;
    if (add_constants(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
