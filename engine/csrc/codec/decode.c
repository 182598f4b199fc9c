/* Record decoder: bytes -> dict, for engine/doc/record_format.md §1.
 *
 * The input is untrusted (a fuzzer feeds it raw bytes; a damaged page may hold
 * anything), so every length is checked against the bytes that remain before
 * it is used, counts are bounded by the remaining bytes before anything is
 * allocated for them, recursion is bounded by MAX_DEPTH, and everything the
 * encoder would never write is rejected: a bad header or tag, non-minimal
 * varints, unsorted or duplicate keys, invalid UTF-8, out-of-range dates,
 * trailing bytes. So a successful decode is canonical: encode(decode(b)) == b.
 * Every failure is a CorruptRecordError naming the byte offset and field path.
 */
#include "codec.h"

#include <stdarg.h>

typedef struct {
    const unsigned char *start;
    const unsigned char *p;
    const unsigned char *end;
    Path path;
} Dec;

static PyObject *dec_value(Dec *d, int depth);

/* Raises CorruptRecordError about the byte at `at`; returns NULL. */
static PyObject *corrupt_at(Dec *d, const unsigned char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    if (msg != NULL) {
        path_raise(codec_CorruptRecordError, &d->path, "corrupt record, field",
                   "corrupt record", "%U (at byte %zd)", msg, (Py_ssize_t)(at - d->start));
        Py_DECREF(msg);
    }
    return NULL;
}

static inline size_t remaining(const Dec *d) { return (size_t)(d->end - d->p); }

static int get_varint_slow(Dec *d, uint64_t *out, const char *what);

/* Minimal LEB128 of at most 64 bits. */
static inline int get_varint(Dec *d, uint64_t *out, const char *what)
{
    if (d->p < d->end && *d->p < 0x80) {   /* one byte: the common case */
        *out = *d->p++;
        return 0;
    }
    return get_varint_slow(d, out, what);
}

static int get_varint_slow(Dec *d, uint64_t *out, const char *what)
{
    const unsigned char *at = d->p;
    uint64_t v = 0;
    for (int i = 0; i < VARINT_MAX; i++) {
        if (d->p >= d->end) {
            corrupt_at(d, at, "truncated: the %s runs past the end", what);
            return -1;
        }
        unsigned char b = *d->p++;
        if (i == VARINT_MAX - 1 && b > 1) {
            corrupt_at(d, at, "the %s overflows 64 bits", what);
            return -1;
        }
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0) {
                corrupt_at(d, at, "the %s is not minimally encoded (a trailing 0x00 byte)",
                           what);
                return -1;
            }
            *out = v;
            return 0;
        }
    }
    return -1;   /* unreachable: the tenth byte is <= 1 */
}

/* A count or byte length, checked against what the remaining input can hold. */
static inline int get_length(Dec *d, uint64_t *n, const char *what, uint64_t unit, uint64_t limit,
                      const char *limit_name)
{
    const unsigned char *at = d->p;
    if (get_varint(d, n, what) < 0)
        return -1;
    if (*n > limit) {
        corrupt_at(d, at, "%s %llu exceeds %s = %llu", what, (unsigned long long)*n,
                   limit_name, (unsigned long long)limit);
        return -1;
    }
    if (*n > remaining(d) / unit) {
        corrupt_at(d, at, "truncated: %s %llu needs at least %llu bytes, %zu remain", what,
                   (unsigned long long)*n, (unsigned long long)(*n * unit), remaining(d));
        return -1;
    }
    return 0;
}

static PyObject *utf8_or_corrupt(Dec *d, const unsigned char *at, const unsigned char *p,
                                 Py_ssize_t n, const char *what)
{
    PyObject *s = PyUnicode_DecodeUTF8((const char *)p, n, "strict");
    if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        Py_ssize_t bad = 0;
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (value == NULL || PyUnicodeDecodeError_GetStart(value, &bad) < 0)
            PyErr_Clear();
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return corrupt_at(d, at, "%s is not valid UTF-8 (bad byte 0x%02x at offset %zd)",
                          what, bad < n ? p[bad] : 0, bad);
    }
    return s;
}

#ifdef BLAZEDB_PLANT_BUGS
/* PLANTED BUG for the fuzzing self-test (tests and fuzz/build.py's "planted"
 * flavor); never compiled into normal builds. A string value, data value or
 * field name starting with "Zap!" is copied into a malloc'd scratch buffer
 * one byte too small for its NUL: a heap-buffer-overflow WRITE. The trigger
 * is a memcmp, which the sanitizer runtime reports to libFuzzer (its table of
 * recent compares turns the expected bytes into a mutation), and it runs on
 * every decoded string, so a fuzzer finds it within thousands of runs once
 * its inputs get past the header. */
static void planted_bug(const unsigned char *p, uint64_t n)
{
    if (n < 4 || memcmp(p, "Zap!", 4) != 0)
        return;
    volatile char *scratch = malloc(n);   /* volatile: the stray write stays */
    if (scratch == NULL)
        return;
    memcpy((char *)scratch, p, n);
    scratch[n] = '\0';
    free((char *)scratch);
}
#else
#define planted_bug(p, n) ((void)0)
#endif

/* Field names repeat across records: a small direct-mapped cache of ASCII key
 * objects saves creating and hashing a new str per field (the GIL guards it). */
#define KEY_CACHE_SIZE 1024
#define KEY_CACHE_MAX_LEN 64
static PyObject *key_cache[KEY_CACHE_SIZE];

static PyObject *dec_key(Dec *d, const unsigned char *at, const unsigned char *name, size_t len)
{
    if (len > KEY_CACHE_MAX_LEN)
        return utf8_or_corrupt(d, at, name, (Py_ssize_t)len, "field name");
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ name[i]) * 16777619u;
    PyObject **slot = &key_cache[(h ^ (h >> 16)) & (KEY_CACHE_SIZE - 1)];
    PyObject *k = *slot;
    if (k != NULL && (size_t)PyUnicode_GET_LENGTH(k) == len
        && memcmp(PyUnicode_DATA(k), name, len) == 0)
        return Py_NewRef(k);
    k = utf8_or_corrupt(d, at, name, (Py_ssize_t)len, "field name");
    if (k != NULL && PyUnicode_IS_ASCII(k)) {   /* ASCII: PyUnicode_DATA is the UTF-8 */
        Py_XSETREF(*slot, Py_NewRef(k));
    }
    return k;
}

static PyObject *dec_string(Dec *d, const unsigned char *at)
{
    uint64_t n;
    if (get_length(d, &n, "string length", 1, CODEC_MAX_RECORD_SIZE, "MAX_RECORD_SIZE") < 0)
        return NULL;
    const unsigned char *p = d->p;
    d->p += n;
    planted_bug(p, n);
    return utf8_or_corrupt(d, at, p, (Py_ssize_t)n, "string");
}

static PyObject *dec_data(Dec *d)
{
    uint64_t n;
    if (get_length(d, &n, "data length", 1, CODEC_MAX_RECORD_SIZE, "MAX_RECORD_SIZE") < 0)
        return NULL;
    planted_bug(d->p, n);
    PyObject *b = PyBytes_FromStringAndSize((const char *)d->p, (Py_ssize_t)n);
    d->p += n;
    return b;
}

static PyObject *dec_int(Dec *d)
{
    uint64_t u;
    if (get_varint(d, &u, "int") < 0)
        return NULL;
    return PyLong_FromLongLong(unzigzag(u));
}

static PyObject *dec_double(Dec *d, const unsigned char *at)
{
    if (remaining(d) < 8)
        return corrupt_at(d, at, "truncated: a double needs 8 bytes, %zu remain", remaining(d));
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = (u << 8) | d->p[i];
    d->p += 8;
    return PyFloat_FromDouble(bits_double(u));
}

static PyObject *dec_date(Dec *d, const unsigned char *at)
{
    uint64_t u;
    if (get_varint(d, &u, "date") < 0)
        return NULL;
    int64_t us = unzigzag(u);
    if (us < CODEC_DATE_MIN_US || us > CODEC_DATE_MAX_US)
        return corrupt_at(d, at, "date %lld us since the epoch is outside "
                          "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z", (long long)us);
    return date_from_us(us);
}

static PyObject *dec_uuid(Dec *d, const unsigned char *at)
{
    if (remaining(d) < 16)
        return corrupt_at(d, at, "truncated: a uuid needs 16 bytes, %zu remain", remaining(d));
    PyObject *u = uuid_from_bytes(d->p);
    d->p += 16;
    return u;
}

static PyObject *dec_vector(Dec *d)
{
    uint64_t n;
    if (get_length(d, &n, "vector length", 8, CODEC_MAX_ARRAY_LEN, "MAX_ARRAY_LEN") < 0)
        return NULL;
    PyObject *v = vector_from_le_bytes(d->p, (Py_ssize_t)n * 8);
    d->p += n * 8;
    return v;
}

static int check_depth(Dec *d, const unsigned char *at, int depth)
{
    if (depth <= CODEC_MAX_DEPTH)
        return 0;
    corrupt_at(d, at, "nesting exceeds MAX_DEPTH = %d containers", CODEC_MAX_DEPTH);
    return -1;
}

/* `depth` is the array's own depth. */
static PyObject *dec_array(Dec *d, const unsigned char *at, int depth)
{
    uint64_t n;
    if (check_depth(d, at, depth) < 0
        || get_length(d, &n, "array length", 1, CODEC_MAX_ARRAY_LEN, "MAX_ARRAY_LEN") < 0)
        return NULL;
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)n; i++) {
        path_push_index(&d->path, i);
        PyObject *item = dec_value(d, depth);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        path_pop(&d->path);
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

/* The count and entries of a dictionary (after its tag); `depth` is its own depth. */
static PyObject *dec_dict_body(Dec *d, const unsigned char *at, int depth)
{
    uint64_t n;
    /* each entry takes at least 2 bytes: a key length and a value tag */
    if (check_depth(d, at, depth) < 0
        || get_length(d, &n, "field count", 2, CODEC_MAX_RECORD_SIZE, "MAX_RECORD_SIZE") < 0)
        return NULL;
    /* Presized: no rehashing while filling it; capped so that a lying count in
     * a small input cannot make us allocate much before the entries run out. */
    PyObject *dict = n > 5 ? _PyDict_NewPresized(n < 256 ? (Py_ssize_t)n : 256) : PyDict_New();
    if (dict == NULL)
        return NULL;
    const unsigned char *prev = NULL;
    uint64_t prev_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        const unsigned char *key_at = d->p;
        uint64_t len;
        if (get_length(d, &len, "field name length", 1, CODEC_MAX_FIELD_NAME,
                       "MAX_FIELD_NAME") < 0)
            goto fail;
        const unsigned char *name = d->p;
        d->p += len;
        planted_bug(name, len);
        if (prev != NULL) {
            int c = memcmp(prev, name, prev_len < len ? prev_len : len);
            if (c > 0 || (c == 0 && prev_len >= len)) {
                path_push_name(&d->path, (const char *)name, (Py_ssize_t)len);
                corrupt_at(d, key_at, c == 0 && prev_len == len
                           ? "duplicate field name" : "field names are not in ascending order");
                goto fail;
            }
        }
        prev = name;
        prev_len = len;
        PyObject *key = dec_key(d, key_at, name, len);
        if (key == NULL)
            goto fail;
        path_push_name(&d->path, (const char *)name, (Py_ssize_t)len);
        PyObject *value = dec_value(d, depth);
        if (value == NULL) {
            Py_DECREF(key);
            goto fail;
        }
        path_pop(&d->path);
        int rc = PyDict_SetItem(dict, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        if (rc < 0)
            goto fail;
    }
    return dict;
fail:
    Py_DECREF(dict);
    return NULL;
}

/* `depth` is the depth of the container holding the value. */
static PyObject *dec_value(Dec *d, int depth)
{
    const unsigned char *at = d->p;
    if (d->p >= d->end)
        return corrupt_at(d, at, "truncated: a value is missing");
    unsigned char tag = *d->p++;
    switch (tag) {
    case TAG_NULL:
        Py_RETURN_NONE;
    case TAG_FALSE:
        Py_RETURN_FALSE;
    case TAG_TRUE:
        Py_RETURN_TRUE;
    case TAG_INT:
        return dec_int(d);
    case TAG_DOUBLE:
        return dec_double(d, at);
    case TAG_STRING:
        return dec_string(d, at);
    case TAG_DATA:
        return dec_data(d);
    case TAG_DATE:
        return dec_date(d, at);
    case TAG_UUID:
        return dec_uuid(d, at);
    case TAG_ARRAY:
        return dec_array(d, at, depth + 1);
    case TAG_DICT:
        return dec_dict_body(d, at, depth + 1);
    case TAG_VECTOR:
        return dec_vector(d);
    default:
        return corrupt_at(d, at, "unknown type tag 0x%02x (tags are 0x00..0x%02x)",
                          (unsigned)tag, (unsigned)TAG_LAST);
    }
}

PyObject *codec_decode(PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        PyErr_Format(PyExc_TypeError, "decode() takes bytes, bytearray or memoryview, not %s",
                     codec_type_name(data));
        return NULL;
    }
    Dec d;
    d.start = d.p = view.buf;
    d.end = d.start + view.len;
    d.path.n = 0;
    PyObject *record = NULL;
    if (view.len > CODEC_MAX_RECORD_SIZE) {
        corrupt_at(&d, d.start, "%zd bytes exceed MAX_RECORD_SIZE = %d", view.len,
                   CODEC_MAX_RECORD_SIZE);
    } else if (view.len < CODEC_HEADER_SIZE) {
        corrupt_at(&d, d.start, "truncated: %zd bytes, shorter than the %d-byte header",
                   view.len, CODEC_HEADER_SIZE);
    } else if (d.p[0] != CODEC_MAGIC0 || d.p[1] != CODEC_MAGIC1) {
        corrupt_at(&d, d.start, "bad magic 0x%02x%02x (a record starts with \"BZ\")",
                   d.p[0], d.p[1]);
    } else if (d.p[2] != CODEC_FORMAT_VERSION) {
        corrupt_at(&d, d.start + 2, "unknown format version %d (this build reads version %d)",
                   d.p[2], CODEC_FORMAT_VERSION);
    } else {
        d.p += CODEC_HEADER_SIZE;
        record = dec_dict_body(&d, d.p, 1);
        if (record != NULL && d.p != d.end) {
            corrupt_at(&d, d.p, "%zu trailing bytes after the record", remaining(&d));
            Py_CLEAR(record);
        }
    }
    PyBuffer_Release(&view);
    return record;
}
