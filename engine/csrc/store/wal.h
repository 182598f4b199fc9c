/* The write-ahead log: the file <db>-wal. Format and rules: engine/doc/wal_format.md.
 *
 * Only the pager uses this interface. The WAL keeps an index of the newest
 * committed frame of every page; the pager reads a page from the WAL when the
 * index has it and from the database file otherwise.
 *
 * Concurrency: one writer appends; readers (read-only handles, possibly in
 * other processes) re-scan the committed prefix at the start of each read.
 * The writer never overwrites a committed frame except when resetting the log
 * in a checkpoint, which the pager does only while holding the READ lock byte
 * exclusively.
 */
#ifndef BZ_WAL_H
#define BZ_WAL_H

#include "bz.h"
#include "vfs.h"

#define BZ_WAL_HEADER_SIZE 32
#define BZ_WAL_FRAME_HEADER 24

typedef struct bz_wal bz_wal;

/* The log's two checksums (wal_format.md), one definition for the writer,
 * recovery and the fuzzing resealer (store_module.c reseal_wal):
 * the header's, over its first 28 bytes (stored at byte 28), and a frame's,
 * chained from the previous one (the header's for the first frame) over the
 * frame header's first 20 bytes and the page (stored at frame byte 20). */
uint32_t wal_header_crc(const uint8_t *header);
uint32_t wal_frame_crc(uint32_t prev, const uint8_t *frame);

/* One page of a transaction being appended: `data` is a full page whose CRC
 * trailer the pager has already filled in. */
typedef struct bz_wal_page {
    bz_pgno pgno;
    const uint8_t *data;
} bz_wal_page;

/* Opens (the writer: creates) the log and recovers: scans it, indexing the
 * frames of committed transactions up to the first torn or invalid frame.
 * A read-only log whose file does not exist yet is empty. */
int  wal_open(bz_vfs *vfs, const char *wal_path, int readonly, bz_wal **out, bz_err *err);
void wal_close(bz_wal *w);

/* Readers: picks up transactions committed since the last look. *changed is
 * set when the visible state may differ (new commits, or a checkpoint reset). */
int  wal_refresh(bz_wal *w, int *changed, bz_err *err);

/* The newest committed frame holding pgno; 0 if the log has none. */
int  wal_find(const bz_wal *w, bz_pgno pgno, uint32_t *frame);
int  wal_read_page(bz_wal *w, uint32_t frame, uint8_t *buf, bz_err *err);

/* Appends one transaction (the last page becomes the commit frame, carrying
 * db_pages) and syncs the log once. On failure the log's committed state is
 * unchanged and the partial frames are cut off (best effort). */
int  wal_commit(bz_wal *w, const bz_wal_page *pages, size_t n, uint64_t txn_id,
                uint32_t db_pages, bz_err *err);

/* Copies every indexed page into the database file, syncs it, then resets the
 * log (new salt, no frames) and syncs that. The caller holds READ exclusively
 * and lends page_buf (BZ_PAGE_SIZE bytes) to read the pages through. */
int  wal_checkpoint(bz_wal *w, bz_file *db, uint8_t *page_buf, bz_err *err);

/* Resets the log (new salt, no frames) and syncs it; the caller holds READ
 * exclusively. Needed before the next commit when wal_needs_restart() says a
 * checkpoint's reset failed half-way. */
int  wal_restart(bz_wal *w, bz_err *err);
int  wal_needs_restart(const bz_wal *w);

uint32_t wal_frames(const bz_wal *w);          /* committed frames in the log */
/* How many distinct pages lo <= pgno < hi the committed log holds. */
uint32_t wal_count_pages(const bz_wal *w, bz_pgno lo, uint64_t hi);
uint64_t wal_last_txn(const bz_wal *w);        /* newest committed txn id (0: none) */
uint64_t wal_syncs(const bz_wal *w);

/* Page CRC trailer (shared with the pager): CRC32C of the page number
 * (4 bytes little-endian) followed by the first BZ_PAGE_USABLE bytes, so a
 * page written in the wrong place does not verify. */
uint32_t bz_page_crc(bz_pgno pgno, const uint8_t *page);
int      bz_page_verify(bz_pgno pgno, const uint8_t *page);
void     bz_page_seal(bz_pgno pgno, uint8_t *page);

static inline uint32_t bz_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void bz_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint64_t bz_get64(const uint8_t *p) { return bz_get32(p) | (uint64_t)bz_get32(p + 4) << 32; }
static inline void bz_put64(uint8_t *p, uint64_t v) { bz_put32(p, (uint32_t)v); bz_put32(p + 4, (uint32_t)(v >> 32)); }

#endif
