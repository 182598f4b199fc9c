/* CRC32C: slicing-by-8 tables in software, the SSE4.2 crc32 instruction when
 * the CPU has it (chosen once, at first use).
 *
 * The instruction takes 3 cycles to produce its result but can start one per
 * cycle, so one dependent chain runs at a third of its speed. The hardware
 * path therefore runs three chains over three adjacent blocks of STRIDE bytes
 * and joins them. CRC arithmetic is linear: with reg(X, r) the register after
 * feeding X to a register holding r (no pre/post inversion),
 *     reg(A || B, r) = reg(A, r) * x^(8|B|)  XOR  reg(B, 0),
 * and "times x^(8k)" (feeding k zero bytes) is a linear map of the 32 register
 * bits, kept as four byte-indexed tables for k = STRIDE and k = 2 * STRIDE.
 * A 4 KB page took 146 ns instead of 430 here. */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

/* The CRC loops compare only lengths, never input bytes: BZ_NO_COVERAGE
 * (under the fuzzing build the tracing cost more than the CRC itself). */
#include "bz.h"

#define POLY 0x82F63B78u

/* Under ASan the loops below are not instrumented: a shadow check on every
 * 8-byte load made a checksum a tenth of an autocommit put (9.7 -> 8.5 us
 * per put here). crc32c_extend checks the whole range once instead, and an
 * overread is still reported, from there (tests/engine/test_c_units.py). */
#ifdef BZ_ASAN
#define NO_ASAN __attribute__((no_sanitize("address")))
#else
#define NO_ASAN
#endif

static uint32_t table[8][256];
static int ready;   /* 1: software, 2: hardware; set once, by init_once */
static pthread_once_t init_done = PTHREAD_ONCE_INIT;

/* Three strides cover the 4,092 checked bytes of a page (and the 4,096 of a
 * WAL frame's page) but for a tail of 12-16 bytes. Shorter strides leave
 * tails that run on one chain: 256 made a page only 2.4x faster. */
#define STRIDE 1360
_Static_assert(STRIDE % 8 == 0, "the hardware loop reads 8 bytes of each block at a time");
static uint32_t skip1[4][256], skip2[4][256];   /* times x^(8 STRIDE), x^(16 STRIDE) */

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

static uint32_t feed_zeros(uint32_t reg, size_t n)
{
    while (n--)
        reg = (reg >> 8) ^ table[0][reg & 0xff];
    return reg;
}

/* skip[j][b] = (b << 8j) fed `n` zero bytes, built from the 32 single-bit images. */
static void init_skip(uint32_t skip[4][256], size_t n)
{
    uint32_t bit[32];
    for (int k = 0; k < 32; k++)
        bit[k] = feed_zeros(1u << k, n);
    for (int j = 0; j < 4; j++)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int k = 0; k < 8; k++)
                if (b & (1u << k))
                    v ^= bit[8 * j + k];
            skip[j][b] = v;
        }
}

static inline uint32_t skip(const uint32_t t[4][256], uint32_t reg)
{
    return t[0][reg & 0xff] ^ t[1][(reg >> 8) & 0xff] ^ t[2][(reg >> 16) & 0xff] ^ t[3][reg >> 24];
}

NO_ASAN BZ_NO_COVERAGE static uint32_t crc_soft(uint32_t crc, const uint8_t *p, size_t n)
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
__attribute__((target("sse4.2"))) NO_ASAN BZ_NO_COVERAGE static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        n--;
    }
    while (n >= 3 * STRIDE) {
        uint64_t c1 = 0, c2 = 0;
        for (const uint8_t *end = p + STRIDE; p < end; p += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p, 8);
            memcpy(&w1, p + STRIDE, 8);
            memcpy(&w2, p + 2 * STRIDE, 8);
            c = __builtin_ia32_crc32di(c, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        c = skip(skip2, (uint32_t)c) ^ skip(skip1, (uint32_t)c1) ^ (uint32_t)c2;
        p += 2 * STRIDE;
        n -= 3 * STRIDE;
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

/* The tables are filled on first use, once for the process: two threads
 * opening their first stores at the same moment used to both write them (a
 * data race ThreadSanitizer reports: engine/csrc/tests/test_crc_threads.c).
 * pthread_once also publishes the tables to every thread that returns from it;
 * after the first call it costs one load. */
static void init_once(void)
{
    init_tables();
    init_skip(skip1, STRIDE);
    init_skip(skip2, 2 * STRIDE);
#ifdef HAVE_HW
    __builtin_cpu_init();
    ready = __builtin_cpu_supports("sse4.2") ? 2 : 1;
#else
    ready = 1;
#endif
}

BZ_NO_COVERAGE uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&init_done, init_once);
#ifdef BZ_ASAN
    /* An instrumented read of the first bad byte makes ASan report it here. */
    const volatile uint8_t *bad = __asan_region_is_poisoned((void *)data, n);
    if (bad)
        (void)*bad;
#endif
    crc = ~crc;
#ifdef HAVE_HW
    if (ready == 2)
        return ~crc_hw(crc, data, n);
#endif
    return ~crc_soft(crc, data, n);
}
