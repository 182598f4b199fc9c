/* Logs restarted by many threads at once, each on its own MemFS: every
 * restart draws new salts from one process-wide counter, which must not race
 * (built with -fsanitize=thread by tests/engine/test_c_units.py, which fails
 * on any ThreadSanitizer report), and each log's generations must still get
 * salts that differ from the previous generation's. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../store/bz.h"
#include "../store/vfs.h"
#include "../store/wal.h"

#define THREADS 8
#define RESTARTS 200

static pthread_barrier_t start;
static const char *failure[THREADS];

/* salt1 and salt2 of the log's header (wal.c: bytes 16..23). */
static int read_salts(bz_vfs *vfs, uint32_t out[2])
{
    const uint8_t *data;
    size_t len;
    if (bz_memfs_contents(vfs, "t.wal", &data, &len) != BZ_OK || len < 24)
        return 1;
    out[0] = bz_get32(data + 16);
    out[1] = bz_get32(data + 20);
    return 0;
}

static void *restart_at_once(void *arg)
{
    const char **why = arg;
    bz_err err;
    bz_err_clear(&err);
    bz_vfs *vfs = bz_memfs_new();
    bz_wal *w = NULL;
    if (!vfs || wal_open(vfs, "t.wal", 0, &w, &err) != BZ_OK) {
        *why = "could not open a log";
        goto out;
    }
    pthread_barrier_wait(&start);
    uint32_t before[2] = {0, 0}, after[2];
    for (int i = 0; i < RESTARTS && !*why; i++) {
        if (wal_restart(w, &err) != BZ_OK || read_salts(vfs, after))
            *why = "a restart failed";
        else if (i > 0 && after[0] == before[0] && after[1] == before[1])
            *why = "a restart kept the previous generation's salts";
        memcpy(before, after, sizeof before);
    }
out:
    wal_close(w);
    if (vfs)
        vfs->release(vfs);
    return NULL;
}

int main(void)
{
    pthread_t threads[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, restart_at_once, &failure[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        if (failure[i]) {
            printf("thread %d: %s\n", i, failure[i]);
            return 1;
        }
    }
    printf("all checks passed\n");
    return 0;
}
