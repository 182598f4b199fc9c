/* Dates: timezone-aware datetime <-> microseconds since 1970-01-01T00:00:00Z.
 *
 * The datetime C API is a per-file static (PyDateTime_IMPORT), so every use of
 * it lives in this file. The calendar arithmetic is Howard Hinnant's
 * days_from_civil / civil_from_days (proleptic Gregorian, exact for all years).
 *
 * Range: the UTC instant must lie in [0001-01-01T00:00:00Z, 9999-12-31T23:59:59.999999Z]
 * (what a UTC datetime can hold); an aware datetime whose offset pushes it
 * outside is rejected rather than clamped.
 */
#include "codec.h"

#include <datetime.h>

int date_init(void)
{
    PyDateTime_IMPORT;
    return PyDateTimeAPI == NULL ? -1 : 0;
}

int is_datetime(PyObject *v)
{
    return PyDateTime_Check(v);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

/* The UTC offset in microseconds: 0 for the UTC singleton without a call,
 * else through utcoffset() (tzinfo may be arbitrary Python code). */
static int offset_us(PyObject *v, PyObject *tz, int64_t *out, const char **why)
{
    if (tz == PyDateTime_TimeZone_UTC) {
        *out = 0;
        return 0;
    }
    PyObject *off = PyObject_CallMethod(v, "utcoffset", NULL);
    if (off == NULL)
        return -2;
    if (off == Py_None) {            /* Python's own definition of naive */
        Py_DECREF(off);
        *why = "naive";
        return -1;
    }
    if (!PyDelta_Check(off)) {
        Py_DECREF(off);
        PyErr_SetString(PyExc_TypeError, "utcoffset() did not return a timedelta");
        return -2;
    }
    *out = ((int64_t)PyDateTime_DELTA_GET_DAYS(off) * 86400
            + PyDateTime_DELTA_GET_SECONDS(off)) * 1000000
           + PyDateTime_DELTA_GET_MICROSECONDS(off);
    Py_DECREF(off);
    return 0;
}

int date_to_us(PyObject *v, int64_t *us, const char **why)
{
    PyObject *tz = PyDateTime_DATE_GET_TZINFO(v);
    if (tz == Py_None) {
        *why = "naive";
        return -1;
    }
    int64_t off;
    int rc = offset_us(v, tz, &off, why);
    if (rc != 0)
        return rc;
    int64_t days = days_from_civil(PyDateTime_GET_YEAR(v), (unsigned)PyDateTime_GET_MONTH(v),
                                   (unsigned)PyDateTime_GET_DAY(v));
    int64_t secs = days * 86400 + PyDateTime_DATE_GET_HOUR(v) * 3600
                   + PyDateTime_DATE_GET_MINUTE(v) * 60 + PyDateTime_DATE_GET_SECOND(v);
    /* |offset| < 1 day, so no overflow: years 1..9999 are ~3.2e17 us. */
    int64_t t = secs * 1000000 + PyDateTime_DATE_GET_MICROSECOND(v) - off;
    if (t < CODEC_DATE_MIN_US || t > CODEC_DATE_MAX_US) {
        *why = "range";
        return -1;
    }
    *us = t;
    return 0;
}

PyObject *date_from_us(int64_t us)
{
    int64_t secs = us / 1000000;
    int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    return PyDateTimeAPI->DateTime_FromDateAndTime(
        y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac,
        PyDateTime_TimeZone_UTC, PyDateTimeAPI->DateTimeType);
}
