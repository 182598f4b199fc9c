/* index_key: a tuple of values -> bytes whose memcmp order is the total order
 * of engine/doc/semantics.md §1-2 (format: engine/doc/record_format.md §2).
 *
 * Each value's encoding starts with a class tag (ascending in class order) and
 * is self-delimiting (no value's encoding is a proper prefix of another's),
 * so a tuple's key is just the concatenation of its values' keys and compares
 * element by element. Values equal in the total order (1 and 1.0, 0.0 and
 * -0.0, all NaNs, one instant in any time zone) encode to identical bytes.
 */
#include "codec.h"

#include <stdarg.h>

enum {
    IK_END = 0x00,        /* ends an array / vector / dictionary; below every element */
    IK_MISSING = 0x01,
    IK_NULL = 0x02,
    IK_FALSE = 0x03,
    IK_TRUE = 0x04,
    IK_NUMBER = 0x05,     /* 8-byte sortable double floor + 2-byte big-endian remainder */
    IK_STRING = 0x06,     /* escaped UTF-8, 0x00 0x00 */
    IK_DATA = 0x07,       /* escaped bytes, 0x00 0x00 */
    IK_DATE = 0x08,       /* 8 bytes: UTC microseconds, sign bit flipped, big-endian */
    IK_UUID = 0x09,       /* the 16 bytes */
    IK_VECTOR = 0x0A,     /* (0x01, 8-byte sortable double)*, 0x00 */
    IK_ARRAY = 0x0B,      /* element keys, 0x00 */
    IK_DICT = 0x0C,       /* (string key of the field name, value key)*, 0x00 */
    IK_VECTOR_ELEM = 0x01
};

#define NUMBER_SIZE 10

typedef struct {
    Buf out;
    Path path;
} Key;

static int ik_value(Key *k, PyObject *v, int depth);

static int fail(Key *k, PyObject *cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    path_raisev(cls, &k->path, "index_key value", "index_key", fmt, ap);
    va_end(ap);
    return -1;
}

static int reserve(Key *k, size_t n)
{
    int rc = buf_reserve(&k->out, n);
    if (rc == BUF_OK)
        return 0;
    if (rc == BUF_NOMEM)
        PyErr_NoMemory();
    else
        fail(k, codec_RecordTooLargeError, "the key would exceed %zu bytes", k->out.limit);
    return -1;
}

/* Doubles as unsigned integers in the same order: flip the sign bit of
 * positives, all bits of negatives. d is not NaN; -0.0 becomes 0.0. */
static uint64_t sortable_double(double d)
{
    if (d == 0.0)
        d = 0.0;
    uint64_t u = double_bits(d);
    return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

/* NaN: all zero bytes, below sortable(-inf) = 0x000FFFFFFFFFFFFF (no number maps there). */
static void put_double_number(Buf *b, double d)
{
    if (d != d) {
        memset(b->data + b->len, 0, NUMBER_SIZE);
        b->len += NUMBER_SIZE;
        return;
    }
    buf_put_be64(b, sortable_double(d));
    buf_put1(b, 0);
    buf_put1(b, 0);
}

/* An int64 v as (f, r): f the largest double <= v, r = v - f exactly
 * (0 for |v| <= 2**53; below the spacing of doubles near 2**63, 1024, otherwise). */
static void put_int_number(Buf *b, int64_t v)
{
    double f = (double)v;
    if (f >= 9223372036854775808.0 || (int64_t)f > v) {
        /* rounded up: step to the next double below (|f| >= 2**53 here, so a
         * step of the bit pattern by one is one ulp toward -inf) */
        uint64_t u = double_bits(f);
        f = bits_double(f > 0 ? u - 1 : u + 1);
    }
    uint64_t r = (uint64_t)v - (uint64_t)(int64_t)f;
    buf_put_be64(b, sortable_double(f));
    buf_put1(b, (unsigned char)(r >> 8));
    buf_put1(b, (unsigned char)r);
}

/* tag, bytes with 0x00 -> 0x00 0xFF, then 0x00 0x00: order-preserving and prefix-free. */
static int put_escaped(Key *k, unsigned char tag, const char *p, Py_ssize_t n)
{
    if (reserve(k, 3 + 2 * (size_t)n) < 0)
        return -1;
    Buf *b = &k->out;
    buf_put1(b, tag);
    const char *end = p + n;
    while (p < end) {
        const char *zero = memchr(p, 0, (size_t)(end - p));
        size_t run = zero ? (size_t)(zero - p) : (size_t)(end - p);
        buf_putn(b, p, run);
        p += run;
        if (zero) {
            buf_put1(b, 0x00);
            buf_put1(b, 0xFF);
            p++;
        }
    }
    buf_put1(b, 0x00);
    buf_put1(b, 0x00);
    return 0;
}

static int ik_str(Key *k, PyObject *s)
{
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (p == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
            return -1;
        PyErr_Clear();
        return fail(k, codec_InvalidRecordError,
                    "string %R holds a lone surrogate; only valid Unicode is indexable", s);
    }
    return put_escaped(k, IK_STRING, p, n);
}

static int ik_int(Key *k, PyObject *v)
{
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow)
        return fail(k, codec_InvalidRecordError,
                    "int outside the signed 64-bit range [-2**63, 2**63-1] (no record can "
                    "hold it; clamp a query bound to the range instead)");
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (reserve(k, 1 + NUMBER_SIZE) < 0)
        return -1;
    buf_put1(&k->out, IK_NUMBER);
    put_int_number(&k->out, x);
    return 0;
}

static int ik_double(Key *k, double d)
{
    if (reserve(k, 1 + NUMBER_SIZE) < 0)
        return -1;
    buf_put1(&k->out, IK_NUMBER);
    put_double_number(&k->out, d);
    return 0;
}

static int ik_date(Key *k, PyObject *v)
{
    int64_t us;
    const char *why = NULL;
    int rc = date_to_us(v, &us, &why);
    if (rc == -2)
        return -1;
    if (rc == -1)
        return fail(k, codec_InvalidRecordError, why[0] == 'n'
                    ? "datetime %R is naive; dates must be timezone-aware"
                    : "datetime %R is outside 0001-01-01T00:00:00Z .. "
                      "9999-12-31T23:59:59.999999Z", v);
    if (reserve(k, 9) < 0)
        return -1;
    buf_put1(&k->out, IK_DATE);
    buf_put_be64(&k->out, (uint64_t)us ^ (UINT64_C(1) << 63));
    return 0;
}

static int ik_uuid(Key *k, PyObject *v)
{
    unsigned char b[16];
    if (uuid_to_bytes(v, b) < 0 || reserve(k, 17) < 0)
        return -1;
    buf_put1(&k->out, IK_UUID);
    buf_putn(&k->out, b, 16);
    return 0;
}

static int ik_vector(Key *k, PyObject *v)
{
    PyObject *data = vector_data(v);
    if (data == NULL)
        return -1;
    Py_ssize_t n = PyBytes_GET_SIZE(data) / 8;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(data);
    if (reserve(k, 2 + 9 * (size_t)n) < 0)
        return -1;
    buf_put1(&k->out, IK_VECTOR);
    for (Py_ssize_t i = 0; i < n; i++, p += 8) {
        uint64_t u = 0;
        for (int j = 7; j >= 0; j--)
            u = (u << 8) | p[j];
        double d = bits_double(u);
        buf_put1(&k->out, IK_VECTOR_ELEM);
        if (d != d) {
            buf_put_be64(&k->out, 0);
        } else {
            buf_put_be64(&k->out, sortable_double(d));
        }
    }
    buf_put1(&k->out, IK_END);
    return 0;
}

static int check_depth(Key *k, int depth)
{
    if (depth <= CODEC_MAX_DEPTH)
        return 0;
    return fail(k, codec_RecordTooLargeError, "nesting exceeds MAX_DEPTH = %d containers",
                CODEC_MAX_DEPTH);
}

static int ik_array(Key *k, PyObject *v, int depth)
{
    if (check_depth(k, depth) < 0 || reserve(k, 1) < 0)
        return -1;
    buf_put1(&k->out, IK_ARRAY);
    int is_list = PyList_Check(v);
    for (Py_ssize_t i = 0; i < (is_list ? PyList_GET_SIZE(v) : PyTuple_GET_SIZE(v)); i++) {
        PyObject *item = is_list ? PyList_GET_ITEM(v, i) : PyTuple_GET_ITEM(v, i);
        Py_INCREF(item);
        path_push_index(&k->path, i);
        int rc = ik_value(k, item, depth);
        path_pop(&k->path);
        Py_DECREF(item);
        if (rc < 0)
            return -1;
    }
    if (reserve(k, 1) < 0)
        return -1;
    buf_put1(&k->out, IK_END);
    return 0;
}

typedef struct {
    const char *name;
    Py_ssize_t len;
    PyObject *key;      /* owns `name` */
    PyObject *value;
} Field;

static int field_cmp(const void *a, const void *b)
{
    const Field *x = a, *y = b;
    Py_ssize_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, (size_t)n);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static int ik_dict(Key *k, PyObject *d, int depth)
{
    if (check_depth(k, depth) < 0 || reserve(k, 1) < 0)
        return -1;
    buf_put1(&k->out, IK_DICT);
    Py_ssize_t n = PyDict_GET_SIZE(d), pos = 0, i = 0;
    Field *fields = PyMem_Malloc(((size_t)n + 1) * sizeof(Field));
    if (fields == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    /* Keys and values are held strongly: utcoffset() may run arbitrary code. */
    PyObject *key, *value;
    int rc = 0;
    while (i < n && PyDict_Next(d, &pos, &key, &value)) {
        if (!PyUnicode_Check(key)) {
            rc = fail(k, codec_InvalidRecordError,
                      "dictionary key %R is of type %s; field names must be str",
                      key, codec_type_name(key));
            break;
        }
        fields[i].name = PyUnicode_AsUTF8AndSize(key, &fields[i].len);
        if (fields[i].name == NULL) {
            PyErr_Clear();
            rc = fail(k, codec_InvalidRecordError,
                      "field name %R holds a lone surrogate; only valid Unicode is indexable",
                      key);
            break;
        }
        fields[i].key = Py_NewRef(key);
        fields[i].value = Py_NewRef(value);
        i++;
    }
    Py_ssize_t held = i;
    if (rc == 0) {
        qsort(fields, (size_t)held, sizeof(Field), field_cmp);
        for (i = 0; i < held && rc == 0; i++) {
            path_push_name(&k->path, fields[i].name, fields[i].len);
            rc = put_escaped(k, IK_STRING, fields[i].name, fields[i].len);
            if (rc == 0)
                rc = ik_value(k, fields[i].value, depth);
            if (rc == 0)
                path_pop(&k->path);
        }
        if (rc == 0 && reserve(k, 1) == 0)
            buf_put1(&k->out, IK_END);
        else
            rc = -1;
    }
    for (i = 0; i < held; i++) {
        Py_DECREF(fields[i].key);
        Py_DECREF(fields[i].value);
    }
    PyMem_Free(fields);
    return rc;
}

static int ik_other(Key *k, PyObject *v, int depth)
{
    if (PyLong_Check(v))
        return ik_int(k, v);
    if (PyFloat_Check(v))
        return ik_double(k, PyFloat_AS_DOUBLE(v));
    if (PyUnicode_Check(v))
        return ik_str(k, v);
    if (is_datetime(v))
        return ik_date(k, v);
    if (is_uuid(v))
        return ik_uuid(k, v);
    if (is_vector(v))
        return ik_vector(k, v);
    if (PyBytes_Check(v))
        return put_escaped(k, IK_DATA, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    if (PyByteArray_Check(v))
        return put_escaped(k, IK_DATA, PyByteArray_AS_STRING(v), PyByteArray_GET_SIZE(v));
    if (PyMemoryView_Check(v)) {
        PyObject *b = PyBytes_FromObject(v);
        if (b == NULL)
            return -1;
        int rc = put_escaped(k, IK_DATA, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
        Py_DECREF(b);
        return rc;
    }
    if (PyDict_Check(v))
        return ik_dict(k, v, depth + 1);
    if (PyList_Check(v) || PyTuple_Check(v))
        return ik_array(k, v, depth + 1);
    if (v == codec_MISSING)
        return fail(k, codec_InvalidRecordError,
                    "MISSING may only be a whole index_key value, not inside an array "
                    "or dictionary");
    return fail(k, codec_InvalidRecordError,
                "values of type %s cannot be indexed (indexable: str, int, float, bool, "
                "aware datetime, UUID, bytes, list, dict, Vector, None, MISSING)",
                codec_type_name(v));
}

/* `depth` is the depth of the container holding v (0 for the tuple's own values). */
static int ik_value(Key *k, PyObject *v, int depth)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type)
        return ik_str(k, v);
    if (t == &PyLong_Type)
        return ik_int(k, v);
    if (t == &PyFloat_Type)
        return ik_double(k, PyFloat_AS_DOUBLE(v));
    if (v == Py_None || t == &PyBool_Type || (v == codec_MISSING && depth == 0)) {
        if (reserve(k, 1) < 0)
            return -1;
        buf_put1(&k->out, v == Py_None ? IK_NULL : v == Py_True ? IK_TRUE
                          : v == Py_False ? IK_FALSE : IK_MISSING);
        return 0;
    }
    return ik_other(k, v, depth);
}

PyObject *codec_index_key(PyObject *values)
{
    if (!PyTuple_Check(values) && !PyList_Check(values)) {
        PyErr_Format(PyExc_TypeError, "index_key() takes a tuple of values, not %s",
                     codec_type_name(values));
        return NULL;
    }
    Key k;
    k.path.n = 0;
    buf_init(&k.out, (size_t)PY_SSIZE_T_MAX);
    PyObject *result = NULL;
    int rc = 0;
    int is_list = PyList_Check(values);
    for (Py_ssize_t i = 0;
         rc == 0 && i < (is_list ? PyList_GET_SIZE(values) : PyTuple_GET_SIZE(values)); i++) {
        PyObject *item = is_list ? PyList_GET_ITEM(values, i) : PyTuple_GET_ITEM(values, i);
        Py_INCREF(item);
        path_push_index(&k.path, i);
        rc = ik_value(&k, item, 0);
        path_pop(&k.path);
        Py_DECREF(item);
    }
    if (rc == 0)
        result = PyBytes_FromStringAndSize((const char *)k.out.data, (Py_ssize_t)k.out.len);
    buf_free(&k.out);
    return result;
}
