/* Python classes the codec reads and builds: uuid.UUID, engine.types.Vector, MISSING.
 *
 * engine/types.py is pure Python and imports nothing native, so importing it
 * from module init cannot cycle. Both UUID and Vector keep their state in
 * __slots__; decoding fills those slots through their member descriptors
 * (what UUID's own __setstate__ does) instead of calling the Python
 * constructors, which re-validate what the decoder has already checked.
 */
#include "codec.h"

PyObject *codec_MISSING;
static PyTypeObject *uuid_type;
static PyObject *uuid_int_slot;       /* member descriptor UUID.int, or NULL */
static PyObject *uuid_safe_slot;      /* member descriptor UUID.is_safe, or NULL */
static PyObject *uuid_safe_unknown;   /* uuid.SafeUUID.unknown */
static PyTypeObject *vector_type;
static PyObject *vector_data_slot;    /* member descriptor Vector._data */
static PyObject *vector_hash_slot;    /* member descriptor Vector._hash */
static PyObject *str_int;

static PyObject *member_slot(PyTypeObject *type, const char *name)
{
    PyObject *d = PyDict_GetItemString(type->tp_dict, name);   /* borrowed */
    if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type))
        return NULL;
    return Py_NewRef(d);
}

static PyTypeObject *get_type(PyObject *module, const char *name)
{
    PyObject *t = PyObject_GetAttrString(module, name);
    if (t == NULL)
        return NULL;
    if (!PyType_Check(t)) {
        PyErr_Format(PyExc_ImportError, "engine._codec: %s is not a class", name);
        Py_DECREF(t);
        return NULL;
    }
    return (PyTypeObject *)t;
}

int pyvalues_init(void)
{
    PyObject *uuid_mod = PyImport_ImportModule("uuid");
    if (uuid_mod == NULL)
        return -1;
    uuid_type = get_type(uuid_mod, "UUID");
    PyObject *safe = uuid_type ? PyObject_GetAttrString(uuid_mod, "SafeUUID") : NULL;
    uuid_safe_unknown = safe ? PyObject_GetAttrString(safe, "unknown") : NULL;
    Py_XDECREF(safe);
    Py_DECREF(uuid_mod);
    if (uuid_safe_unknown == NULL)
        return -1;
    uuid_int_slot = member_slot(uuid_type, "int");
    uuid_safe_slot = member_slot(uuid_type, "is_safe");

    PyObject *types_mod = PyImport_ImportModule("engine.types");
    if (types_mod == NULL)
        return -1;
    vector_type = get_type(types_mod, "Vector");
    codec_MISSING = vector_type ? PyObject_GetAttrString(types_mod, "MISSING") : NULL;
    Py_DECREF(types_mod);
    if (codec_MISSING == NULL)
        return -1;
    vector_data_slot = member_slot(vector_type, "_data");
    vector_hash_slot = member_slot(vector_type, "_hash");
    if (vector_data_slot == NULL || vector_hash_slot == NULL) {
        PyErr_SetString(PyExc_ImportError,
                        "engine._codec: engine.types.Vector lacks the __slots__ _data/_hash");
        return -1;
    }
    str_int = PyUnicode_InternFromString("int");
    return str_int ? 0 : -1;
}

int is_uuid(PyObject *v)
{
    return Py_IS_TYPE(v, uuid_type) || PyObject_TypeCheck(v, uuid_type);
}

int uuid_to_bytes(PyObject *v, unsigned char out[16])
{
    PyObject *n = PyObject_GetAttr(v, str_int);
    if (n == NULL)
        return -1;
    if (!PyLong_Check(n)) {
        Py_DECREF(n);
        PyErr_SetString(PyExc_TypeError, "UUID.int is not an int");
        return -1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t rc = PyLong_AsNativeBytes(n, out, 16, Py_ASNATIVEBYTES_BIG_ENDIAN
                                         | Py_ASNATIVEBYTES_UNSIGNED_BUFFER);
    Py_DECREF(n);
    if (rc < 0)
        return -1;
    if (rc > 16) {
        PyErr_SetString(PyExc_ValueError, "UUID.int does not fit in 128 bits");
        return -1;
    }
    return 0;
#else
    int rc = _PyLong_AsByteArray((PyLongObject *)n, out, 16, 0 /* big endian */, 0);
    Py_DECREF(n);
    return rc < 0 ? -1 : 0;
#endif
}

PyObject *uuid_from_bytes(const unsigned char in[16])
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *n = PyLong_FromUnsignedNativeBytes(in, 16, Py_ASNATIVEBYTES_BIG_ENDIAN);
#else
    PyObject *n = _PyLong_FromByteArray(in, 16, 0 /* big endian */, 0 /* unsigned */);
#endif
    if (n == NULL)
        return NULL;
    PyObject *u;
    if (uuid_int_slot != NULL && uuid_safe_slot != NULL) {
        u = uuid_type->tp_alloc(uuid_type, 0);
        if (u != NULL && (Py_TYPE(uuid_int_slot)->tp_descr_set(uuid_int_slot, u, n) < 0
                          || Py_TYPE(uuid_safe_slot)->tp_descr_set(uuid_safe_slot, u,
                                                                   uuid_safe_unknown) < 0))
            Py_CLEAR(u);
    } else {   /* some other uuid implementation: the public constructor */
        PyObject *kw = Py_BuildValue("{sO}", "int", n);
        PyObject *noargs = PyTuple_New(0);
        u = kw && noargs ? PyObject_Call((PyObject *)uuid_type, noargs, kw) : NULL;
        Py_XDECREF(kw);
        Py_XDECREF(noargs);
    }
    Py_DECREF(n);
    return u;
}

int is_vector(PyObject *v)
{
    return Py_IS_TYPE(v, vector_type) || PyObject_TypeCheck(v, vector_type);
}

PyObject *vector_data(PyObject *v)
{
    PyObject *data = Py_TYPE(vector_data_slot)->tp_descr_get(vector_data_slot, v,
                                                            (PyObject *)Py_TYPE(v));
    if (data == NULL)
        return NULL;
    Py_DECREF(data);   /* the instance keeps it alive */
    if (!PyBytes_Check(data) || PyBytes_GET_SIZE(data) % 8 != 0) {
        PyErr_SetString(PyExc_TypeError, "Vector._data is not bytes of float64s");
        return NULL;
    }
    return data;
}

PyObject *vector_from_le_bytes(const unsigned char *p, Py_ssize_t n_bytes)
{
    PyObject *data = PyBytes_FromStringAndSize((const char *)p, n_bytes);
    if (data == NULL)
        return NULL;
    PyObject *v = vector_type->tp_alloc(vector_type, 0);
    if (v != NULL && (Py_TYPE(vector_data_slot)->tp_descr_set(vector_data_slot, v, data) < 0
                      || Py_TYPE(vector_hash_slot)->tp_descr_set(vector_hash_slot, v,
                                                                 Py_None) < 0))
        Py_CLEAR(v);
    Py_DECREF(data);
    return v;
}
