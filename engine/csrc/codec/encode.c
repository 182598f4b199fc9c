/* Record encoder: dict -> bytes in the format of engine/doc/record_format.md §1.
 *
 * Canonical by construction: dictionary keys are written in ascending UTF-8
 * byte order (= code point order), varints are minimal, doubles keep their
 * bits, dates are normalised to UTC microseconds. Every value is checked
 * against the type table and the limits as it is written; the first problem
 * aborts the whole encode (no partial output) with an error naming the field
 * path. The only Python code the encoder can run is
 * a tzinfo's utcoffset() and a UUID subclass's `int`, so keys and values are
 * held by strong references while they are being encoded.
 */
#include "codec.h"

#include <stdio.h>

typedef struct {
    Buf out;
    Path path;
} Enc;

static int enc_value(Enc *e, PyObject *v, int depth);

static int fail(Enc *e, PyObject *cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    path_raisev(cls, &e->path, "field", "record", fmt, ap);
    va_end(ap);
    return -1;
}

static int reserve_failed(Enc *e, int rc);

static inline int reserve(Enc *e, size_t n)
{
    int rc = buf_reserve(&e->out, n);
    return rc == BUF_OK ? 0 : reserve_failed(e, rc);
}

static int reserve_failed(Enc *e, int rc)
{
    if (rc == BUF_NOMEM) {
        PyErr_NoMemory();
        return -1;
    }
    return fail(e, codec_RecordTooLargeError,
                "the encoded record would exceed MAX_RECORD_SIZE = %d bytes",
                CODEC_MAX_RECORD_SIZE);
}

static int enc_int(Enc *e, PyObject *v)
{
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) {
        PyObject *bits = PyObject_CallMethod(v, "bit_length", NULL);
        if (bits == NULL)
            return -1;
        long nbits = PyLong_AsLong(bits);
        Py_DECREF(bits);
        if (nbits <= 128)
            return fail(e, codec_InvalidRecordError,
                        "int %R is outside the signed 64-bit range [-2**63, 2**63-1]", v);
        return fail(e, codec_InvalidRecordError,
                    "an int of %ld bits is outside the signed 64-bit range [-2**63, 2**63-1]",
                    nbits);
    }
    if (x == -1 && PyErr_Occurred())
        return -1;
    uint64_t z = zigzag(x);
    if (reserve(e, 1 + varint_size(z)) < 0)
        return -1;
    buf_put1(&e->out, TAG_INT);
    buf_put_varint(&e->out, z);
    return 0;
}

static int enc_double(Enc *e, double d)
{
    if (reserve(e, 9) < 0)
        return -1;
    buf_put1(&e->out, TAG_DOUBLE);
    buf_put_le64(&e->out, double_bits(d));
    return 0;
}

/* UTF-8 of a str, or an InvalidRecordError naming the lone surrogate. */
static const char *utf8_of(Enc *e, PyObject *s, Py_ssize_t *n, const char *what)
{
    const char *p = PyUnicode_AsUTF8AndSize(s, n);
    if (p != NULL)
        return p;
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        return NULL;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    Py_ssize_t at = 0;
    if (value == NULL || PyUnicodeEncodeError_GetStart(value, &at) < 0)
        PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    Py_UCS4 c = at < PyUnicode_GET_LENGTH(s) ? PyUnicode_READ_CHAR(s, at) : 0;
    char code[16];   /* PyUnicode_FromFormat has no %X */
    snprintf(code, sizeof code, "U+%04X", (unsigned)c);
    fail(e, codec_InvalidRecordError,
         "%s holds the lone surrogate %s at index %zd; only valid Unicode can be stored",
         what, code, at);
    return NULL;
}

static int enc_str(Enc *e, PyObject *v)
{
    Py_ssize_t n;
    const char *s = utf8_of(e, v, &n, "string");
    if (s == NULL || reserve(e, 1 + varint_size((uint64_t)n) + (size_t)n) < 0)
        return -1;
    buf_put1(&e->out, TAG_STRING);
    buf_put_varint(&e->out, (uint64_t)n);
    buf_putn(&e->out, s, (size_t)n);
    return 0;
}

static int enc_data(Enc *e, const void *p, Py_ssize_t n)
{
    if (reserve(e, 1 + varint_size((uint64_t)n) + (size_t)n) < 0)
        return -1;
    buf_put1(&e->out, TAG_DATA);
    buf_put_varint(&e->out, (uint64_t)n);
    buf_putn(&e->out, p, (size_t)n);
    return 0;
}

static int enc_buffer(Enc *e, PyObject *v)
{
    Py_buffer view;
    if (PyObject_GetBuffer(v, &view, PyBUF_FULL_RO) < 0)
        return -1;
    int rc = -1;
    if (reserve(e, 1 + varint_size((uint64_t)view.len) + (size_t)view.len) == 0) {
        buf_put1(&e->out, TAG_DATA);
        buf_put_varint(&e->out, (uint64_t)view.len);
        rc = PyBuffer_ToContiguous(e->out.data + e->out.len, &view, view.len, 'C');
        if (rc == 0)
            e->out.len += (size_t)view.len;
    }
    PyBuffer_Release(&view);
    return rc;
}

static int enc_date(Enc *e, PyObject *v)
{
    int64_t us;
    const char *why = NULL;
    int rc = date_to_us(v, &us, &why);
    if (rc == -2)
        return -1;
    if (rc == -1 && why[0] == 'n')
        return fail(e, codec_InvalidRecordError,
                    "datetime %R is naive; dates must be timezone-aware "
                    "(e.g. tzinfo=datetime.timezone.utc)", v);
    if (rc == -1)
        return fail(e, codec_InvalidRecordError,
                    "datetime %R is outside the storable range "
                    "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z", v);
    uint64_t z = zigzag(us);
    if (reserve(e, 1 + varint_size(z)) < 0)
        return -1;
    buf_put1(&e->out, TAG_DATE);
    buf_put_varint(&e->out, z);
    return 0;
}

static int enc_uuid(Enc *e, PyObject *v)
{
    unsigned char b[16];
    if (uuid_to_bytes(v, b) < 0 || reserve(e, 17) < 0)
        return -1;
    buf_put1(&e->out, TAG_UUID);
    buf_putn(&e->out, b, 16);
    return 0;
}

static int enc_vector(Enc *e, PyObject *v)
{
    PyObject *data = vector_data(v);
    if (data == NULL)
        return -1;
    Py_ssize_t n = PyBytes_GET_SIZE(data) / 8;
    if (n > CODEC_MAX_ARRAY_LEN)
        return fail(e, codec_RecordTooLargeError,
                    "vector of %zd elements exceeds MAX_ARRAY_LEN = %d", n, CODEC_MAX_ARRAY_LEN);
    if (reserve(e, 1 + varint_size((uint64_t)n) + (size_t)n * 8) < 0)
        return -1;
    buf_put1(&e->out, TAG_VECTOR);
    buf_put_varint(&e->out, (uint64_t)n);
    buf_putn(&e->out, PyBytes_AS_STRING(data), (size_t)n * 8);   /* already little-endian */
    return 0;
}

static int check_depth(Enc *e, int depth)
{
    if (depth <= CODEC_MAX_DEPTH)
        return 0;
    return fail(e, codec_RecordTooLargeError,
                "nesting exceeds MAX_DEPTH = %d containers (the record counts as 1)",
                CODEC_MAX_DEPTH);
}

/* list or tuple; `depth` is the array's own depth. */
static int enc_array(Enc *e, PyObject *v, int depth)
{
    int is_list = PyList_Check(v);
    Py_ssize_t n = is_list ? PyList_GET_SIZE(v) : PyTuple_GET_SIZE(v);
    if (check_depth(e, depth) < 0)
        return -1;
    if (n > CODEC_MAX_ARRAY_LEN)
        return fail(e, codec_RecordTooLargeError,
                    "array of %zd elements exceeds MAX_ARRAY_LEN = %d", n, CODEC_MAX_ARRAY_LEN);
    if (reserve(e, 1 + varint_size((uint64_t)n)) < 0)
        return -1;
    buf_put1(&e->out, TAG_ARRAY);
    buf_put_varint(&e->out, (uint64_t)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (is_list && i >= PyList_GET_SIZE(v))
            return fail(e, codec_InvalidRecordError, "list changed size during encoding");
        PyObject *item = is_list ? PyList_GET_ITEM(v, i) : PyTuple_GET_ITEM(v, i);
        Py_INCREF(item);
        path_push_index(&e->path, i);
        int rc = enc_value(e, item, depth);
        path_pop(&e->path);
        Py_DECREF(item);
        if (rc < 0)
            return -1;
    }
    return 0;
}

typedef struct {
    const char *name;
    Py_ssize_t len;
    PyObject *key;
    PyObject *value;
} Entry;

static int entry_cmp(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    Py_ssize_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, (size_t)n);
    if (c != 0)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Records are small: insertion sort beats qsort's setup up to a few dozen keys. */
static void sort_entries(Entry *ents, Py_ssize_t n)
{
    if (n > 24) {
        qsort(ents, (size_t)n, sizeof(Entry), entry_cmp);
        return;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        Entry x = ents[i];
        Py_ssize_t j = i;
        for (; j > 0 && entry_cmp(&ents[j - 1], &x) > 0; j--)
            ents[j] = ents[j - 1];
        ents[j] = x;
    }
}

/* Fills ents[0..*held) (at most n) with strong references; returns -1 (refs
 * released) on a bad key. */
static int collect_entries(Enc *e, PyObject *d, Entry *ents, Py_ssize_t n, int *sorted,
                           Py_ssize_t *held)
{
    Py_ssize_t pos = 0, i = 0;
    *held = 0;
    PyObject *k, *v;
    *sorted = 1;
    while (i < n && PyDict_Next(d, &pos, &k, &v)) {
        const char *err = NULL;
        if (!PyUnicode_Check(k)) {
            err = "type";
        } else {
            ents[i].name = utf8_of(e, k, &ents[i].len, "field name");
            if (ents[i].name == NULL)
                err = "utf8";
            else if (ents[i].len > CODEC_MAX_FIELD_NAME)
                err = "long";
        }
        if (err != NULL) {
            for (Py_ssize_t j = 0; j < i; j++) {
                Py_DECREF(ents[j].key);
                Py_DECREF(ents[j].value);
            }
            if (err[0] == 't')
                return fail(e, codec_InvalidRecordError,
                            "dictionary key %R is of type %s; field names must be str",
                            k, codec_type_name(k));
            if (err[0] == 'l') {
                path_push_name(&e->path, ents[i].name, ents[i].len);
                return fail(e, codec_RecordTooLargeError,
                            "field name of %zd UTF-8 bytes exceeds MAX_FIELD_NAME = %d",
                            ents[i].len, CODEC_MAX_FIELD_NAME);
            }
            return -1;
        }
        ents[i].key = Py_NewRef(k);
        ents[i].value = Py_NewRef(v);
        if (i > 0 && *sorted && entry_cmp(&ents[i - 1], &ents[i]) > 0)
            *sorted = 0;
        *held = ++i;
    }
    return 0;
}

/* The count and the sorted entries of a dictionary (no tag); `depth` is its own depth. */
static int enc_dict_body(Enc *e, PyObject *d, int depth)
{
    if (check_depth(e, depth) < 0)
        return -1;
    Py_ssize_t n = PyDict_GET_SIZE(d);
    Entry small[32];
    Entry *ents = small;
    if (n > (Py_ssize_t)(sizeof small / sizeof small[0])) {
        ents = PyMem_Malloc((size_t)n * sizeof(Entry));
        if (ents == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    int sorted;
    int rc = collect_entries(e, d, ents, n, &sorted, &n);   /* n: the entries now held */
    if (rc == 0) {
        if (!sorted)
            sort_entries(ents, n);
        rc = reserve(e, varint_size((uint64_t)n));
        if (rc == 0)
            buf_put_varint(&e->out, (uint64_t)n);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (rc == 0) {
                path_push_name(&e->path, ents[i].name, ents[i].len);
                rc = reserve(e, varint_size((uint64_t)ents[i].len) + (size_t)ents[i].len);
                if (rc == 0) {
                    buf_put_varint(&e->out, (uint64_t)ents[i].len);
                    buf_putn(&e->out, ents[i].name, (size_t)ents[i].len);
                    rc = enc_value(e, ents[i].value, depth);
                }
                if (rc == 0)
                    path_pop(&e->path);   /* on error the path stays for the message */
            }
            Py_DECREF(ents[i].key);
            Py_DECREF(ents[i].value);
        }
    }
    if (ents != small)
        PyMem_Free(ents);
    return rc;
}

/* Everything that is not one of the exact builtin types tried first. */
static int enc_other(Enc *e, PyObject *v, int depth)
{
    if (PyLong_Check(v))                       /* bool was handled before */
        return enc_int(e, v);
    if (PyFloat_Check(v))
        return enc_double(e, PyFloat_AS_DOUBLE(v));
    if (PyUnicode_Check(v))
        return enc_str(e, v);
    if (is_datetime(v))
        return enc_date(e, v);
    if (is_uuid(v))
        return enc_uuid(e, v);
    if (is_vector(v))
        return enc_vector(e, v);
    if (PyBytes_Check(v))
        return enc_data(e, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    if (PyByteArray_Check(v))
        return enc_data(e, PyByteArray_AS_STRING(v), PyByteArray_GET_SIZE(v));
    if (PyMemoryView_Check(v))
        return enc_buffer(e, v);
    if (PyDict_Check(v)) {
        if (reserve(e, 1) < 0)
            return -1;
        buf_put1(&e->out, TAG_DICT);
        return enc_dict_body(e, v, depth + 1);
    }
    if (PyList_Check(v) || PyTuple_Check(v))
        return enc_array(e, v, depth + 1);
    if (v == codec_MISSING)
        return fail(e, codec_InvalidRecordError,
                    "MISSING marks an absent field and cannot be stored; leave the field out");
    return fail(e, codec_InvalidRecordError,
                "values of type %s cannot be stored (BlazeDB stores str, int, float, bool, "
                "aware datetime, UUID, bytes, list, dict, Vector and None)",
                codec_type_name(v));
}

/* `depth` is the depth of the container holding v. Exact builtin types first: the common case. */
static int enc_value(Enc *e, PyObject *v, int depth)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type)
        return enc_str(e, v);
    if (t == &PyLong_Type)
        return enc_int(e, v);
    if (t == &PyFloat_Type)
        return enc_double(e, PyFloat_AS_DOUBLE(v));
    if (v == Py_None || t == &PyBool_Type) {
        if (reserve(e, 1) < 0)
            return -1;
        buf_put1(&e->out, v == Py_None ? TAG_NULL : v == Py_True ? TAG_TRUE : TAG_FALSE);
        return 0;
    }
    if (t == &PyDict_Type) {
        if (reserve(e, 1) < 0)
            return -1;
        buf_put1(&e->out, TAG_DICT);
        return enc_dict_body(e, v, depth + 1);
    }
    if (t == &PyList_Type)
        return enc_array(e, v, depth + 1);
    return enc_other(e, v, depth);
}

PyObject *codec_encode(PyObject *record)
{
    Enc e;
    e.path.n = 0;
    if (!PyDict_Check(record)) {
        path_raise(codec_InvalidRecordError, &e.path, "field", "record",
                   "a record must be a dict, not %s", codec_type_name(record));
        return NULL;
    }
    buf_init(&e.out, CODEC_MAX_RECORD_SIZE);
    PyObject *result = NULL;
    if (reserve(&e, CODEC_HEADER_SIZE) == 0) {
        buf_put1(&e.out, CODEC_MAGIC0);
        buf_put1(&e.out, CODEC_MAGIC1);
        buf_put1(&e.out, CODEC_FORMAT_VERSION);
        if (enc_dict_body(&e, record, 1) == 0)
            result = PyBytes_FromStringAndSize((const char *)e.out.data,
                                               (Py_ssize_t)e.out.len);
    }
    buf_free(&e.out);
    return result;
}
