/* CRC32C's tables are filled on first use. Threads that checksum their first
 * pages at the same moment must not race on that (built with
 * -fsanitize=thread by tests/engine/test_c_units.py, which fails on any
 * ThreadSanitizer report), and every thread gets the right answer. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../store/crc32c.h"

#define THREADS 8

static pthread_barrier_t start;
static uint8_t page[4096];
static uint32_t results[THREADS];

static void *checksum_at_once(void *arg)
{
    uint32_t *out = arg;
    pthread_barrier_wait(&start);
    *out = crc32c(page, sizeof page) ^ crc32c("123456789", 9);
    return NULL;
}

int main(void)
{
    pthread_t threads[THREADS];
    for (size_t i = 0; i < sizeof page; i++)
        page[i] = (uint8_t)(i * 7 + 3);
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, checksum_at_once, &results[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    uint32_t want = crc32c(page, sizeof page) ^ 0xE3069283u;
    for (int i = 0; i < THREADS; i++) {
        if (results[i] != want) {
            printf("thread %d: crc %08x, want %08x\n", i, results[i], want);
            return 1;
        }
    }
    printf("all checks passed\n");
    return 0;
}
