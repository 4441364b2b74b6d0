/*
 * store_walrec.c: the write-ahead log's records, without files. A write
 * transaction records its puts and deletes here (store_db_put, reserve
 * and del call in), and a record read back is checked and walked here
 * (pure, for the fuzz target: tests/fuzz/fuzz_wal_record.c).
 *
 * A record: a 32-byte header ("SGWR", version, segment, generation,
 * transaction id, entries' length, CRC-32 of the whole record with the CRC
 * field zero), then entries: kind (put or delete), database, key length
 * (u16), value length (u32), key, value. Integers big-endian.
 */
#include "store/store_private.h"

#include <isa-l/crc.h>
#include <stdlib.h>
#include <zlib.h>

#define ENTRY_HEAD	8		/* kind, db, key length, value length */
#define WALBUF_KEEP	(8u << 20)	/* a record buffer larger than this is freed */

/*
 * zlib's CRC-32 (the gzip polynomial, so records written before read
 * back the same), computed by ISA-L with carry-less multiplication: a
 * 90 KiB record (a commit of 16 small messages) takes 1.4 us instead of
 * zlib's 19 us, on the writer thread, between the ops.
 */
uint32_t
store_wal_crc(uint32_t crc, const void *p, size_t n)
{
	return crc32_gzip_refl(crc, p, n);
}

/* ---- recording (any write transaction) ---- */

void
store_walbuf_reset(struct store_walbuf *b)
{
	/* A batch of large messages made it big: do not keep that for good. */
	if (b->cap > WALBUF_KEEP) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	if (b->cap < STORE_WAL_HEAD) {
		b->cap = 64 << 10;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	b->len = STORE_WAL_HEAD;	/* the record header goes in front */
	b->rsv = NULL;
	b->crc = 0;
	b->crc_at = STORE_WAL_HEAD;
}

void
store_walbuf_free(struct store_walbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

static uint8_t *
walbuf_grow(struct store_walbuf *b, size_t n)
{
	uint8_t *p;

	if (b->cap - b->len < n) {
		while (b->cap - b->len < n)
			b->cap *= 2;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	p = b->p + b->len;
	b->len += n;
	return p;
}

/* A reserved value is written by the op after the put: copy it in before
 * anything else changes (LMDB keeps the pointer valid until then). */
void
store_walbuf_settle(struct store_walbuf *b)
{
	if (b->rsv != NULL)
		memcpy(b->p + b->rsv_off, b->rsv, b->rsv_len);
	b->rsv = NULL;
}

static uint8_t *
entry_add(struct store_walbuf *b, uint8_t kind, enum store_db db, const void *k,
    size_t klen, size_t vlen)
{
	uint8_t *p;

	store_walbuf_settle(b);
	p = walbuf_grow(b, ENTRY_HEAD + klen + vlen);
	p[0] = kind;
	p[1] = (uint8_t)db;
	p[2] = (uint8_t)(klen >> 8);
	p[3] = (uint8_t)klen;
	store_be32_put(p + 4, (uint32_t)vlen);
	memcpy(p + ENTRY_HEAD, k, klen);
	return p + ENTRY_HEAD + klen;
}

void
store_walbuf_put(struct store_walbuf *b, enum store_db db, const void *k, size_t klen,
    const void *v, size_t vlen)
{
	memcpy(entry_add(b, STORE_WAL_PUT, db, k, klen, vlen), v, vlen);
}

/* The value comes later: the caller sets b->rsv to LMDB's reserved space,
 * and the next entry (or the commit) copies it. */
void
store_walbuf_reserve(struct store_walbuf *b, enum store_db db, const void *k, size_t klen,
    size_t vlen)
{
	uint8_t *p = entry_add(b, STORE_WAL_PUT, db, k, klen, vlen);

	b->rsv_off = (size_t)(p - b->p);
	b->rsv_len = vlen;
}

void
store_walbuf_del(struct store_walbuf *b, enum store_db db, const void *k, size_t klen)
{
	entry_add(b, STORE_WAL_DEL, db, k, klen, 0);
}

void
store_wal_head_fill(uint8_t *h, const struct store_walpos *pos, uint64_t txnid, size_t len)
{
	memset(h, 0, STORE_WAL_HEAD);
	store_be32_put(h, STORE_WAL_MAGIC);
	h[4] = STORE_WAL_VERSION;
	h[5] = pos->seg;
	store_be32_put(h + 8, pos->gen);
	store_be64_put(h + 12, txnid);
	store_be32_put(h + 20, (uint32_t)len);
}

/*
 * A batch's entries are checksummed op by op, while the writer waits for
 * the rest of its group anyway: a 90 KiB record's CRC then is not between
 * the last op and the flush.
 */
void
store_walbuf_checksum(struct store_walbuf *b)
{
	if (b->rsv != NULL)
		return;
	b->crc = store_wal_crc(b->crc, b->p + b->crc_at, b->len - b->crc_at);
	b->crc_at = b->len;
}

/* A CRC cannot take bytes back out: dropping checksummed entries starts
 * the checksum again (rare: an op checksummed is one that succeeded). */
void
store_walbuf_truncate(struct store_walbuf *b, size_t len)
{
	b->len = len;
	if (b->crc_at > len) {
		b->crc = 0;
		b->crc_at = STORE_WAL_HEAD;
	}
}

/* The header's crc covers the header (crc field zero) and the entries. */
void
store_wal_head_seal(struct store_walbuf *b)
{
	uint32_t crc;

	store_walbuf_checksum(b);
	crc = store_wal_crc(0, b->p, STORE_WAL_HEAD);
	crc = (uint32_t)crc32_combine(crc, b->crc, (z_off_t)(b->len - STORE_WAL_HEAD));
	store_be32_put(b->p + 24, crc);
}

/*
 * A record read back: its crc, then its entries one by one. Pure (the
 * fuzz target calls these on any bytes). store_wal_check: 0 if whole;
 * store_wal_entries: 0 after the last entry, MDB_CORRUPTED on a bad one,
 * or the first non-zero result of fn.
 */
int
store_wal_check(uint8_t *rec, size_t len)
{
	uint32_t crc;

	if (len < STORE_WAL_HEAD || len - STORE_WAL_HEAD != store_be32_get(rec + 20))
		return -1;
	crc = store_be32_get(rec + 24);
	store_be32_put(rec + 24, 0);
	return crc == store_wal_crc(0, rec, len) ? 0 : -1;
}

int
store_wal_entries(const uint8_t *rec, size_t len, store_wal_entry_fn *fn, void *arg)
{
	const uint8_t *p = rec + STORE_WAL_HEAD, *end = rec + len;
	size_t klen, vlen;
	int rc = 0;

	if (len < STORE_WAL_HEAD)
		return MDB_CORRUPTED;
	while (rc == 0 && p < end) {
		if (end - p < ENTRY_HEAD || p[1] >= STORE_DB_COUNT ||
		    (p[0] != STORE_WAL_PUT && p[0] != STORE_WAL_DEL))
			return MDB_CORRUPTED;
		klen = (size_t)p[2] << 8 | p[3];
		vlen = store_be32_get(p + 4);
		if ((size_t)(end - p) - ENTRY_HEAD < klen ||
		    (size_t)(end - p) - ENTRY_HEAD - klen < vlen ||
		    (p[0] == STORE_WAL_DEL && vlen != 0))
			return MDB_CORRUPTED;
		rc = fn(arg, p[0] == STORE_WAL_DEL, (enum store_db)p[1], p + ENTRY_HEAD, klen,
		    p + ENTRY_HEAD + klen, vlen);
		p += ENTRY_HEAD + klen + vlen;
	}
	return rc;
}

