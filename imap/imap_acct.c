/*
 * imap_acct.c: what the sessions of one account share while any of them is
 * open. Apple Mail and Thunderbird keep several connections per account
 * (INTEROP.md), and each would otherwise open every content key again and
 * decrypt every summary again to list the same mailbox. So, per account:
 *
 *   - the content keys opened so far (sec_keyring, secret memory);
 *   - the listing data of the messages listed so far, by blob: ENVELOPE,
 *     BODYSTRUCTURE, BODY and the top-level header block, the parts of the
 *     summary a listing needs (the search text, most of a summary's bytes,
 *     stays sealed). Entries live in slabs of secret memory (guarded,
 *     locked where possible) and are wiped with the account's last session.
 *
 * The slabs of all accounts together stay within [imap] cache_size (and one
 * account within IMAP_LC_MAX): past it, listings decrypt the summary each
 * time instead of caching more. Entries cannot be evicted one by one, since
 * workers use them outside the mutex; a soak of steady traffic reaches the
 * budget and then holds its memory flat.
 *
 * A blob never changes, so entries need no invalidation. Workers look up
 * and insert concurrently (a mutex); an entry, once inserted, stays put
 * until the account state is freed, which no job outlives (jobs hold a
 * reference to their session, sessions to their account).
 */
#include "imap/imap_private.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "mime/mime.h"

#define IMAP_LC_SLAB		(256u * 1024)	/* secret memory per slab */
#define IMAP_LC_MAX		(48u * 1024 * 1024)	/* cached bytes per account */
#define IMAP_LC_HDR_MAX		(8u * 1024)	/* header blocks kept up to this size */
#define IMAP_LC_MIN_CAP		1024		/* hash slots, a power of two */

struct imap_lentry {
	uint64_t	size;		/* RFC822.SIZE, from the summary */
	uint64_t	hdr_size;	/* BODY[HEADER] is [0, hdr_size) */
	uint32_t	len[IMAP_LF_COUNT];
	bool		hdr_complete;	/* the header copy is the whole block */
	char		data[];		/* the fields, one after the other */
};

struct imap_lslab {
	struct imap_lslab	*next;
	size_t			 used, cap;
	/* bounds: entries are carved from the bytes after this header */
};

struct imap_acct {
	struct imap_server	*srv;
	uint64_t		 id;
	unsigned		 refs;		/* sessions; loop thread only */
	struct sec_keyring	*keyring;
	struct imap_acct	*next;

	pthread_mutex_t		 mu;		/* the rest */
	uint64_t		*ids;		/* blob ids, 0: empty slot */
	struct imap_lentry	**entries;
	size_t			 cap, count;
	struct imap_lslab	*slabs;
	size_t			 bytes;
};

struct imap_acct *
imap_acct_get(struct imap_server *srv, uint64_t account_id)
{
	struct imap_acct *a;

	for (a = srv->accts; a != NULL; a = a->next)
		if (a->id == account_id) {
			a->refs++;
			return a;
		}
	a = xcalloc(1, sizeof *a);
	a->srv = srv;
	a->id = account_id;
	a->refs = 1;
	a->keyring = sec_keyring_new();
	if (pthread_mutex_init(&a->mu, NULL) != 0)
		fatal("imap: pthread_mutex_init failed");
	a->next = srv->accts;
	srv->accts = a;
	return a;
}

static void
imap_acct_free(struct imap_acct *a)
{
	struct imap_lslab *sl, *next;

	sec_keyring_free(&a->keyring);
	for (sl = a->slabs; sl != NULL; sl = next) {
		next = sl->next;
		sec_free(sl, sl->cap);		/* zeroes the listing data */
	}
	atomic_fetch_sub_explicit(&a->srv->ctx->metrics.imap_cache_bytes, a->bytes,
	    memory_order_relaxed);
	free(a->ids);
	free(a->entries);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

void
imap_acct_put(struct imap_acct **ap)
{
	struct imap_acct *a = *ap, **pp;

	if (a == NULL)
		return;
	*ap = NULL;
	SG_ASSERT(a->refs > 0);
	if (--a->refs > 0)
		return;
	for (pp = &a->srv->accts; *pp != a; pp = &(*pp)->next)
		;
	*pp = a->next;
	imap_acct_free(a);
}

struct sec_keyring *
imap_acct_keyring(const struct imap_acct *a)
{
	return a->keyring;
}

size_t
imap_server_open_keys(const struct imap_server *srv)
{
	const struct imap_acct *a;
	size_t n = 0;

	for (a = srv->accts; a != NULL; a = a->next)
		n += sec_keyring_count(a->keyring);
	return n;
}

/* splitmix64's finalizer: blob ids are sequential, slots should not be. */
static size_t
imap_acct_slot(const uint64_t *ids, size_t cap, uint64_t id)
{
	uint64_t x = id;
	size_t i;

	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	for (i = (size_t)x & (cap - 1); ids[i] != 0 && ids[i] != id; i = (i + 1) & (cap - 1))
		;
	return i;
}

static void
imap_acct_grow(struct imap_acct *a)
{
	size_t cap = a->cap ? a->cap * 2 : IMAP_LC_MIN_CAP, i, j;
	uint64_t *ids = xcalloc(cap, sizeof *ids);
	struct imap_lentry **entries = xcalloc(cap, sizeof *entries);

	for (i = 0; i < a->cap; i++) {
		if (a->ids[i] == 0)
			continue;
		j = imap_acct_slot(ids, cap, a->ids[i]);
		ids[j] = a->ids[i];
		entries[j] = a->entries[i];
	}
	free(a->ids);
	free(a->entries);
	a->ids = ids;
	a->entries = entries;
	a->cap = cap;
}

const struct imap_lentry *
imap_acct_lookup(struct imap_acct *a, uint64_t blob_id)
{
	const struct imap_lentry *e = NULL;
	size_t i;

	pthread_mutex_lock(&a->mu);
	if (a->cap > 0 && blob_id != 0) {
		i = imap_acct_slot(a->ids, a->cap, blob_id);
		if (a->ids[i] == blob_id)
			e = a->entries[i];
	}
	pthread_mutex_unlock(&a->mu);
	return e;
}

/* Takes a slab's worth of the server-wide budget, or says there is none. */
static bool
imap_acct_reserve(struct imap_acct *a)
{
	_Atomic uint64_t *used = &a->srv->ctx->metrics.imap_cache_bytes;
	uint64_t budget = a->srv->ctx->conf->imap.cache_size;

	if (a->bytes + IMAP_LC_SLAB > IMAP_LC_MAX)
		return false;
	if (atomic_fetch_add_explicit(used, IMAP_LC_SLAB, memory_order_relaxed) +
	    IMAP_LC_SLAB <= budget)
		return true;
	atomic_fetch_sub_explicit(used, IMAP_LC_SLAB, memory_order_relaxed);
	return false;
}

/* Room for n bytes in the newest slab, or a new slab; NULL when the
 * account's or the server's budget is spent. Under the mutex. */
static void *
imap_acct_carve(struct imap_acct *a, size_t n)
{
	struct imap_lslab *sl = a->slabs;
	size_t hdr = (sizeof *sl + 15) & ~(size_t)15;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > IMAP_LC_SLAB - hdr)
		return NULL;
	if (sl == NULL || sl->cap - sl->used < n) {
		if (!imap_acct_reserve(a))
			return NULL;
		sl = sec_alloc(IMAP_LC_SLAB);
		sl->cap = IMAP_LC_SLAB;
		sl->used = hdr;
		sl->next = a->slabs;
		a->slabs = sl;
		a->bytes += IMAP_LC_SLAB;
	}
	p = (char *)sl + sl->used;
	sl->used += n;
	return p;
}

const struct imap_lentry *
imap_acct_insert(struct imap_acct *a, uint64_t blob_id, const struct mime_summary *sum)
{
	const char *f[IMAP_LF_COUNT];
	size_t len[IMAP_LF_COUNT], total = 0, i;
	struct imap_lentry *e = NULL;
	bool complete;
	char *p;

	f[IMAP_LF_ENVELOPE] = mime_summary_envelope(sum, &len[IMAP_LF_ENVELOPE]);
	f[IMAP_LF_BODYSTRUCTURE] = mime_summary_bodystructure(sum, &len[IMAP_LF_BODYSTRUCTURE]);
	f[IMAP_LF_BODY] = mime_summary_body(sum, &len[IMAP_LF_BODY]);
	f[IMAP_LF_HEADER] = mime_summary_header(sum, &len[IMAP_LF_HEADER], &complete);
	if (len[IMAP_LF_HEADER] > IMAP_LC_HDR_MAX) {
		len[IMAP_LF_HEADER] = 0;	/* big headers: listings use the summary */
		complete = false;
	}
	for (i = 0; i < IMAP_LF_COUNT; i++) {
		if (len[i] > UINT32_MAX)
			return NULL;
		total += len[i];	/* bounds: each is a summary string, all in memory */
	}
	pthread_mutex_lock(&a->mu);
	if (a->cap == 0 || (a->count + 1) * 10 > a->cap * 7)
		imap_acct_grow(a);
	i = imap_acct_slot(a->ids, a->cap, blob_id);
	if (a->ids[i] == blob_id)
		e = a->entries[i];		/* another worker was first */
	else if ((e = imap_acct_carve(a, sizeof *e + total)) != NULL) {
		e->size = mime_summary_size(sum);
		e->hdr_size = mime_summary_header_size(sum);
		e->hdr_complete = complete;
		for (p = e->data, i = 0; i < IMAP_LF_COUNT; i++) {
			e->len[i] = (uint32_t)len[i];
			if (len[i] > 0)
				memcpy(p, f[i], len[i]);
			p += len[i];
		}
		i = imap_acct_slot(a->ids, a->cap, blob_id);
		a->ids[i] = blob_id;
		a->entries[i] = e;
		a->count++;
	}
	pthread_mutex_unlock(&a->mu);
	return e;
}

const char *
imap_lentry_field(const struct imap_lentry *e, enum imap_lfield f, size_t *len_out)
{
	const char *p = e->data;
	int i;

	for (i = 0; i < (int)f; i++)
		p += e->len[i];
	*len_out = e->len[f];
	return p;
}

uint64_t
imap_lentry_header_size(const struct imap_lentry *e, bool *complete_out)
{
	*complete_out = e->hdr_complete;
	return e->hdr_size;
}

uint64_t
imap_lentry_size(const struct imap_lentry *e)
{
	return e->size;
}
