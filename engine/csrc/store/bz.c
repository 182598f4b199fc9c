/* Error records shared by every layer of the storage core (see bz.h). */
#include "bz.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bz_err_clear(bz_err *e)
{
    e->rc = BZ_OK;
    e->sys_errno = 0;
    e->page = -1;
    e->frame = -1;
    e->msg[0] = '\0';
}

int bz_err_set(bz_err *e, int rc, const char *fmt, ...)
{
    /* The first failure wins: later layers unwinding the same error must not
     * overwrite the precise message of the layer that saw it. */
    if (e->rc != BZ_OK)
        return e->rc;
    e->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return rc;
}

int bz_err_from_errno(bz_err *e, int sys_errno, const char *what, const char *path)
{
    int rc;
    switch (sys_errno) {
    case ENOSPC:
    case EFBIG:
#ifdef EDQUOT
    case EDQUOT:
#endif
        rc = BZ_FULL;
        break;
    case EROFS:
        rc = BZ_READONLY;
        break;
    case EMFILE:
    case ENFILE:
        rc = BZ_NOFILES;
        break;
    case ENOMEM:
        rc = BZ_NOMEM;
        break;
    default:
        rc = BZ_IOERR;
        break;
    }
    if (e->rc != BZ_OK)
        return e->rc;
    bz_err_set(e, rc, "%s %s: %s", what, path ? path : "", strerror(sys_errno));
    e->sys_errno = sys_errno;
    return rc;
}
