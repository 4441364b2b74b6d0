/*
 * sec_keyring.c: the content keys a session has opened, by blob id, so a
 * warm listing does no public-key work. Open addressing with linear probing;
 * the keys live in one block of secret memory that doubles when the table
 * is 70% full. A session's worker jobs may insert, hence the mutex.
 *
 * Sessions stay open for days, so the ring forgets: the keys of expunged
 * messages are deleted (nothing left to open with them, and the ring then
 * tracks the mailbox rather than every message it ever held), and at
 * RING_MAX_KEYS it is wiped and starts again rather than grow further.
 */
#include "crypto/sec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec_private.h"

#define RING_MIN_CAP	16
#define RING_LOAD_NUM	7	/* grow above 7/10 full */
#define RING_LOAD_DEN	10
#define RING_MAX_KEYS	(1u << 17)	/* 4 MiB of keys, 5.4 MiB in all */

struct sec_keyring {
	pthread_mutex_t	 mu;
	_Atomic size_t	 count;
	size_t		 cap;		/* a power of two */
	uint64_t	*ids;
	uint8_t		*used;
	uint8_t		*keys;		/* cap * SEC_KEY_BYTES, secret memory */
};

/* splitmix64's finalizer: blob ids are sequential, slots should not be. */
static uint64_t
ring_hash(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* The slot holding id, or the empty slot where it would go. */
static size_t
ring_slot(const struct sec_keyring *r, uint64_t id)
{
	size_t mask = r->cap - 1;
	size_t i = (size_t)ring_hash(id) & mask;

	while (r->used[i] && r->ids[i] != id)
		i = (i + 1) & mask;
	return i;
}

static void
ring_alloc(struct sec_keyring *r, size_t cap)
{
	SG_ASSERT(cap <= SIZE_MAX / (2 * SEC_KEY_BYTES));
	r->cap = cap;
	r->ids = xcalloc(cap, sizeof *r->ids);
	r->used = xcalloc(cap, 1);
	r->keys = sec_alloc(cap * SEC_KEY_BYTES);
}

static void
ring_grow(struct sec_keyring *r)
{
	struct sec_keyring old = *r;
	size_t i, j;

	ring_alloc(r, old.cap * 2);
	for (i = 0; i < old.cap; i++) {
		if (!old.used[i])
			continue;
		j = ring_slot(r, old.ids[i]);
		r->used[j] = 1;
		r->ids[j] = old.ids[i];
		memcpy(r->keys + j * SEC_KEY_BYTES, old.keys + i * SEC_KEY_BYTES, SEC_KEY_BYTES);
	}
	sec_free(old.keys, old.cap * SEC_KEY_BYTES);	/* zeroes the old copies */
	free(old.ids);
	free(old.used);
}

/* Forget every key, keeping the table's size. Under the mutex. */
static void
ring_clear(struct sec_keyring *r)
{
	sec_wipe(r->keys, r->cap * SEC_KEY_BYTES);
	memset(r->ids, 0, r->cap * sizeof *r->ids);
	memset(r->used, 0, r->cap);
	atomic_store(&r->count, 0);
}

struct sec_keyring *
sec_keyring_new(void)
{
	struct sec_keyring *r = xcalloc(1, sizeof *r);

	if (pthread_mutex_init(&r->mu, NULL) != 0)
		fatal("sec: pthread_mutex_init failed");
	atomic_init(&r->count, 0);
	ring_alloc(r, RING_MIN_CAP);
	return r;
}

bool
sec_keyring_get(struct sec_keyring *r, uint64_t blob_id, uint8_t key_out[SEC_KEY_BYTES])
{
	bool found;
	size_t i;

	pthread_mutex_lock(&r->mu);
	i = ring_slot(r, blob_id);
	found = r->used[i] != 0;
	if (found)
		memcpy(key_out, r->keys + i * SEC_KEY_BYTES, SEC_KEY_BYTES);
	else
		sec_wipe(key_out, SEC_KEY_BYTES);
	pthread_mutex_unlock(&r->mu);
	return found;
}

void
sec_keyring_put(struct sec_keyring *r, uint64_t blob_id, const uint8_t key[SEC_KEY_BYTES])
{
	size_t i, n;

	pthread_mutex_lock(&r->mu);
	n = atomic_load(&r->count);
	if (n >= RING_MAX_KEYS && !r->used[ring_slot(r, blob_id)]) {
		ring_clear(r);
		n = 0;
	}
	/* bounds: cap <= SIZE_MAX / 64, so neither product overflows */
	if ((n + 1) * RING_LOAD_DEN > r->cap * RING_LOAD_NUM)
		ring_grow(r);
	i = ring_slot(r, blob_id);
	if (!r->used[i]) {
		r->used[i] = 1;
		r->ids[i] = blob_id;
		atomic_store(&r->count, n + 1);
	}
	memcpy(r->keys + i * SEC_KEY_BYTES, key, SEC_KEY_BYTES);
	pthread_mutex_unlock(&r->mu);
}

/*
 * Linear probing cannot leave a hole in a run: each later entry of the run
 * whose home slot is not between the hole and itself moves into the hole,
 * which moves on, until the run ends (Knuth's Algorithm R).
 */
void
sec_keyring_del(struct sec_keyring *r, uint64_t blob_id)
{
	size_t mask, hole, j, home;

	pthread_mutex_lock(&r->mu);
	mask = r->cap - 1;
	hole = ring_slot(r, blob_id);
	if (!r->used[hole]) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	for (j = (hole + 1) & mask; r->used[j]; j = (j + 1) & mask) {
		home = (size_t)ring_hash(r->ids[j]) & mask;
		if (((j - home) & mask) < ((j - hole) & mask))
			continue;	/* its home is after the hole: it stays */
		r->ids[hole] = r->ids[j];
		memcpy(r->keys + hole * SEC_KEY_BYTES, r->keys + j * SEC_KEY_BYTES, SEC_KEY_BYTES);
		hole = j;
	}
	r->used[hole] = 0;
	r->ids[hole] = 0;
	sec_wipe(r->keys + hole * SEC_KEY_BYTES, SEC_KEY_BYTES);
	atomic_store(&r->count, atomic_load(&r->count) - 1);
	pthread_mutex_unlock(&r->mu);
}

size_t
sec_keyring_count(const struct sec_keyring *r)
{
	return atomic_load(&r->count);
}

void
sec_keyring_free(struct sec_keyring **rp)
{
	struct sec_keyring *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	sec_free(r->keys, r->cap * SEC_KEY_BYTES);	/* sodium_free() zeroes */
	free(r->ids);
	free(r->used);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
