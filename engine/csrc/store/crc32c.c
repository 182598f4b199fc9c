/* CRC32C: slicing-by-8 tables in software, the SSE4.2 crc32 instruction when
 * the CPU has it (chosen once, at first use). */
#include "crc32c.h"

#include <string.h>

/* The CRC loops compare only lengths, never input bytes: BZ_NO_COVERAGE
 * (under the fuzzing build the tracing cost more than the CRC itself). */
#include "bz.h"

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static int ready;   /* 0: untested, 1: software, 2: hardware */

static void init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

BZ_NO_COVERAGE static uint32_t crc_soft(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;   /* little-endian host assumed (x86-64, aarch64) */
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
              table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_HW 1
__attribute__((target("sse4.2"))) BZ_NO_COVERAGE static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

BZ_NO_COVERAGE uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n)
{
    if (!ready) {
        init_tables();
#ifdef HAVE_HW
        __builtin_cpu_init();
        ready = __builtin_cpu_supports("sse4.2") ? 2 : 1;
#else
        ready = 1;
#endif
    }
    crc = ~crc;
#ifdef HAVE_HW
    if (ready == 2)
        return ~crc_hw(crc, data, n);
#endif
    return ~crc_soft(crc, data, n);
}
