/* Shared definitions of BlazeDB's record codec, the extension `engine._codec`.
 * One concern per file:
 *   codec.h        limits, type tags, the output buffer, varints, the field path
 *   module.c       the Python module: encode / decode / index_key, constants, init
 *   encode.c       record -> bytes        (format: engine/doc/record_format.md §1)
 *   decode.c       bytes -> record, validating every byte (holds the planted bug)
 *   index_key.c    tuple -> order-preserving key   (record_format.md §2)
 *   path.c         field paths (`address.tags[3]`) and the error messages naming them
 *   date.c         aware datetime <-> UTC microseconds (the datetime C API lives here only)
 *   pyvalues.c     uuid.UUID, engine.types.Vector and MISSING seen from C
 */
#ifndef BZ_CODEC_H
#define BZ_CODEC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- format constants (documented in engine/doc/record_format.md) ---- */

#define CODEC_MAGIC0 0x42            /* 'B' */
#define CODEC_MAGIC1 0x5A            /* 'Z' */
#define CODEC_FORMAT_VERSION 1
#define CODEC_HEADER_SIZE 3

#define CODEC_MAX_RECORD_SIZE (16 * 1024 * 1024)  /* encoded bytes, header included */
#define CODEC_MAX_DEPTH 64           /* nested containers, the record itself counting as 1 */
#define CODEC_MAX_FIELD_NAME 255     /* bytes of UTF-8 in one dictionary key */
#define CODEC_MAX_ARRAY_LEN (1 << 20) /* elements of one array or vector */

/* Record value tags (one byte before every value). */
enum {
    TAG_NULL = 0x00,
    TAG_FALSE = 0x01,
    TAG_TRUE = 0x02,
    TAG_INT = 0x03,      /* zigzag LEB128 varint, minimal */
    TAG_DOUBLE = 0x04,   /* 8 bytes little-endian IEEE 754, bits kept as given */
    TAG_STRING = 0x05,   /* varint byte length, UTF-8 */
    TAG_DATA = 0x06,     /* varint byte length, bytes */
    TAG_DATE = 0x07,     /* zigzag varint: microseconds since 1970-01-01T00:00:00Z */
    TAG_UUID = 0x08,     /* 16 bytes, as uuid.UUID.bytes */
    TAG_ARRAY = 0x09,    /* varint count, values */
    TAG_DICT = 0x0A,     /* varint count, (varint key length, key UTF-8, value) by key */
    TAG_VECTOR = 0x0B,   /* varint count, count * 8 bytes little-endian float64 */
    TAG_LAST = TAG_VECTOR
};

/* Date range: the instants Python's datetime can hold in UTC,
 * 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z, in microseconds since the epoch. */
#define CODEC_DATE_MIN_US (-62135596800LL * 1000000LL)
#define CODEC_DATE_MAX_US (253402300799LL * 1000000LL + 999999LL)

/* ---- growable output buffer ---- */

typedef struct {
    unsigned char *data;
    size_t len;
    size_t cap;
    size_t limit;                 /* len may never exceed this */
    unsigned char inline_buf[512];/* small outputs never touch the heap */
} Buf;

enum { BUF_OK = 0, BUF_NOMEM = -1, BUF_TOO_LARGE = -2 };

static inline void buf_init(Buf *b, size_t limit)
{
    b->data = b->inline_buf;
    b->len = 0;
    b->cap = sizeof b->inline_buf;
    b->limit = limit;
}

static inline void buf_free(Buf *b)
{
    if (b->data != b->inline_buf)
        PyMem_Free(b->data);
    b->data = b->inline_buf;
}

int buf_grow(Buf *b, size_t need);   /* slow path of buf_reserve; in path.c */

/* Makes room for n more bytes: BUF_OK, BUF_NOMEM or BUF_TOO_LARGE (no exception set). */
static inline int buf_reserve(Buf *b, size_t n)
{
    if (n <= b->cap - b->len)
        return BUF_OK;
    return buf_grow(b, n);
}

/* The unchecked writers below require a prior buf_reserve. */
static inline void buf_put1(Buf *b, unsigned char c) { b->data[b->len++] = c; }

static inline void buf_putn(Buf *b, const void *p, size_t n)
{
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void buf_put_varint(Buf *b, uint64_t v)
{
    while (v >= 0x80) {
        b->data[b->len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (unsigned char)v;
}

static inline void buf_put_le64(Buf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b->data[b->len++] = (unsigned char)(v >> (8 * i));
}

static inline void buf_put_be64(Buf *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        b->data[b->len++] = (unsigned char)(v >> (8 * i));
}

#define VARINT_MAX 10

/* Bytes of the varint of v: reservations are exact so that MAX_RECORD_SIZE is exact. */
static inline size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzigzag(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

static inline uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* ---- field paths, for error messages ---- */

/* One step: a dictionary key (name != NULL; UTF-8, maybe invalid when decoding
 * garbage) or an array / vector / tuple position. */
typedef struct {
    const char *name;
    Py_ssize_t name_len;
    Py_ssize_t index;
} PathStep;

typedef struct {
    PathStep step[CODEC_MAX_DEPTH + 4];
    int n;
} Path;

static inline void path_push_name(Path *p, const char *name, Py_ssize_t len)
{
    PathStep *s = &p->step[p->n++];
    s->name = name;
    s->name_len = len;
    s->index = -1;
}

static inline void path_push_index(Path *p, Py_ssize_t i)
{
    PathStep *s = &p->step[p->n++];
    s->name = NULL;
    s->name_len = 0;
    s->index = i;
}

static inline void path_pop(Path *p) { p->n--; }

/* Error classes from engine/errors.py, set by module init. */
extern PyObject *codec_InvalidRecordError;
extern PyObject *codec_RecordTooLargeError;
extern PyObject *codec_CorruptRecordError;

/* Raises `cls` with "<what> <path>: <message>", e.g.
 * "field address.tags[3]: int 2**64 is outside signed 64-bit". `what` names the
 * root ("field", "index_key value"); with an empty path the root alone is named
 * by `root` ("record", "index_key"). Always returns -1. */
int path_raise(PyObject *cls, const Path *path, const char *what, const char *root,
               const char *fmt, ...);
/* Same, with the formatting already done (va_list variant). */
int path_raisev(PyObject *cls, const Path *path, const char *what, const char *root,
                const char *fmt, va_list ap);

/* ---- Python value glue (pyvalues.c, date.c) ---- */

int pyvalues_init(void);                         /* uuid, engine.types; -1 on error */
int is_uuid(PyObject *v);
int uuid_to_bytes(PyObject *v, unsigned char out[16]);  /* -1 with exception set */
PyObject *uuid_from_bytes(const unsigned char in[16]);
int is_vector(PyObject *v);
/* Borrowed `bytes` holding the little-endian float64s of a Vector; NULL on error. */
PyObject *vector_data(PyObject *v);
PyObject *vector_from_le_bytes(const unsigned char *p, Py_ssize_t n_bytes);
extern PyObject *codec_MISSING;

int date_init(void);
int is_datetime(PyObject *v);
/* Aware datetime -> UTC microseconds since the epoch.
 * Returns 0, or -1 with *why set (no exception): "naive" / "range"; -2 with an exception set. */
int date_to_us(PyObject *v, int64_t *us, const char **why);
PyObject *date_from_us(int64_t us);              /* us must be in range */

/* ---- the three entry points ---- */

PyObject *codec_encode(PyObject *record);
PyObject *codec_decode(PyObject *data);
PyObject *codec_index_key(PyObject *values);

/* Shared by encode.c and index_key.c: an int as int64, or -1 with `*overflow` set. */
const char *codec_type_name(PyObject *v);

#endif
