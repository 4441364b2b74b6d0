/*
 * fuzz_wal_record: arbitrary bytes as a write-ahead log record read back
 * from disk. The checks must refuse or accept without reading out of
 * bounds, and the entries the walk accepts must encode back, through the
 * recording functions a write transaction uses, to the same bytes, which
 * sealed with the checksum kept entry by entry make a record that checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
reencode(void *arg, bool del, enum store_db db, const uint8_t *k, size_t klen,
    const uint8_t *v, size_t vlen)
{
	struct store_walbuf *b = arg;

	if (del)
		store_walbuf_del(b, db, k, klen);
	else
		store_walbuf_put(b, db, k, klen, v, vlen);
	if (klen & 1)
		store_walbuf_checksum(b);	/* as the writer does after an op */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_walbuf b = { 0 };
	struct store_walpos pos = { 0, 1, 0 };
	uint8_t *copy = malloc(size + 1);

	memcpy(copy, data, size);
	(void)store_wal_check(copy, size);	/* zeroes the crc field it read */
	store_walbuf_reset(&b);
	if (store_wal_entries(data, size, reencode, &b) == 0 &&
	    (b.len != size || memcmp(b.p + STORE_WAL_HEAD, data + STORE_WAL_HEAD,
	    size - STORE_WAL_HEAD) != 0))
		abort();
	if (b.len == size && size > STORE_WAL_HEAD) {
		/* Sealed from the checksum kept along the way: a whole record. */
		store_wal_head_fill(b.p, &pos, 7, b.len - STORE_WAL_HEAD);
		store_wal_head_seal(&b);
		if (store_wal_check(b.p, b.len) != 0)
			abort();
	}
	store_walbuf_free(&b);
	free(copy);
	return 0;
}
