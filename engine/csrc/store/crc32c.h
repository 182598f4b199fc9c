/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * every page and every WAL frame. crc32c_extend(crc32c(a), b) == crc32c(a||b). */
#ifndef BZ_CRC32C_H
#define BZ_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n);
static inline uint32_t crc32c(const void *data, size_t n) { return crc32c_extend(0, data, n); }

#endif
