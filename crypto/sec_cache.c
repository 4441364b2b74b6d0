/*
 * sec_cache.c: the login cache. After a successful unwrap the private key
 * is kept here, keyed by a keyed hash of (lowercased address, password)
 * under a per-process random key, so that the several connections a mail
 * client opens do not each pay Argon2id, and the cache never holds the
 * password. A lookup with another password cannot find the entry.
 *
 * Entries are few (one per recently active account) and lookups rare (one
 * per login), so a flat array scanned under one mutex is enough.
 */
#include "crypto/sec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec_private.h"

struct cache_entry {
	uint8_t		 id[SEC_HASH_BYTES];	/* keyed hash of (address, password) */
	char		*addr;			/* lowercased */
	struct sec_sk	*k;			/* the cache's own reference */
	int64_t		 last_use;
};

struct sec_cache {
	pthread_mutex_t		 mu;
	unsigned		 idle_secs;
	uint8_t			*hkey;		/* SEC_KEY_BYTES of secret memory */
	uint64_t		 gen;		/* advanced by every forget */
	struct cache_entry	*v;
	size_t			 n, cap;
};

struct sec_cache *
sec_cache_new(unsigned idle_secs)
{
	struct sec_cache *c = xcalloc(1, sizeof *c);

	if (pthread_mutex_init(&c->mu, NULL) != 0)
		fatal("sec: pthread_mutex_init failed");
	c->idle_secs = idle_secs;
	c->hkey = sec_alloc(SEC_KEY_BYTES);
	sec_random(c->hkey, SEC_KEY_BYTES);
	return c;
}

static char *
cache_lower(const char *address)
{
	char *s = xstrdup(address);

	sg_ascii_lower(s, strlen(s));
	return s;
}

static void
cache_id(const struct sec_cache *c, const char *addr, const char *pw, size_t pwlen,
    uint8_t id[SEC_HASH_BYTES])
{
	sec_keyed_hash2(c->hkey, addr, strlen(addr), pw, pwlen, id);
}

/* Index of the entry with this id, or c->n. Called locked. */
static size_t
cache_find(const struct sec_cache *c, const uint8_t id[SEC_HASH_BYTES])
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (sec_equal(c->v[i].id, id, SEC_HASH_BYTES))
			break;
	}
	return i;
}

/* Called locked; moves the last entry into slot i. */
static void
cache_remove(struct sec_cache *c, size_t i)
{
	struct cache_entry *e = &c->v[i];

	sec_sk_unref(&e->k);
	free(e->addr);
	sec_wipe(e->id, sizeof e->id);
	if (i != c->n - 1)
		*e = c->v[c->n - 1];
	c->n--;
}

struct sec_sk *
sec_cache_get(struct sec_cache *c, const char *address, const char *pw, size_t pwlen)
{
	char *addr = cache_lower(address);
	uint8_t id[SEC_HASH_BYTES];
	struct sec_sk *k = NULL;
	size_t i;

	cache_id(c, addr, pw, pwlen, id);
	pthread_mutex_lock(&c->mu);
	i = cache_find(c, id);
	if (i < c->n) {
		c->v[i].last_use = sg_now();
		k = sec_sk_ref(c->v[i].k);
	}
	pthread_mutex_unlock(&c->mu);
	sec_wipe(id, sizeof id);
	free(addr);
	return k;
}

/* Called locked. A key unwrapped with this password proves any other
 * password cached for the address stale, so those entries go. */
static void
cache_insert(struct sec_cache *c, char *addr, const uint8_t id[SEC_HASH_BYTES],
    struct sec_sk *k)
{
	struct cache_entry *e;
	size_t i;

	for (i = c->n; i > 0; i--) {
		if (strcmp(c->v[i - 1].addr, addr) == 0 &&
		    !sec_equal(c->v[i - 1].id, id, SEC_HASH_BYTES))
			cache_remove(c, i - 1);
	}
	i = cache_find(c, id);
	if (i < c->n) {
		e = &c->v[i];
		sec_sk_unref(&e->k);
		free(addr);
	} else {
		if (c->n == c->cap) {
			c->cap = c->cap == 0 ? 16 : c->cap * 2;
			c->v = xreallocarray(c->v, c->cap, sizeof *c->v);
		}
		e = &c->v[c->n++];
		memcpy(e->id, id, SEC_HASH_BYTES);
		e->addr = addr;
	}
	e->k = sec_sk_ref(k);
	e->last_use = sg_now();
}

static bool
cache_put(struct sec_cache *c, const uint64_t *gen, const char *address, const char *pw,
    size_t pwlen, struct sec_sk *k)
{
	char *addr = cache_lower(address);
	uint8_t id[SEC_HASH_BYTES];
	bool stored = false;

	cache_id(c, addr, pw, pwlen, id);
	pthread_mutex_lock(&c->mu);
	if (gen == NULL || *gen == c->gen) {
		cache_insert(c, addr, id, k);	/* takes addr */
		addr = NULL;
		stored = true;
	}
	pthread_mutex_unlock(&c->mu);
	sec_wipe(id, sizeof id);
	free(addr);
	return stored;
}

void
sec_cache_put(struct sec_cache *c, const char *address, const char *pw, size_t pwlen,
    struct sec_sk *k)
{
	(void)cache_put(c, NULL, address, pw, pwlen, k);
}

uint64_t
sec_cache_generation(struct sec_cache *c)
{
	uint64_t gen;

	pthread_mutex_lock(&c->mu);
	gen = c->gen;
	pthread_mutex_unlock(&c->mu);
	return gen;
}

bool
sec_cache_put_since(struct sec_cache *c, uint64_t gen, const char *address, const char *pw,
    size_t pwlen, struct sec_sk *k)
{
	return cache_put(c, &gen, address, pw, pwlen, k);
}

void
sec_cache_forget(struct sec_cache *c, const char *address)
{
	char *addr = cache_lower(address);
	size_t i;

	pthread_mutex_lock(&c->mu);
	c->gen++;
	for (i = c->n; i > 0; i--) {
		if (strcmp(c->v[i - 1].addr, addr) == 0)
			cache_remove(c, i - 1);
	}
	pthread_mutex_unlock(&c->mu);
	free(addr);
}

/*
 * A key some session still holds (a reference besides the cache's own)
 * counts as in use: its idle time starts when the last session lets go,
 * as seen by the first sweep after that.
 */
size_t
sec_cache_expire(struct sec_cache *c, int64_t now)
{
	struct cache_entry *e;
	size_t i, left;

	pthread_mutex_lock(&c->mu);
	for (i = c->n; i > 0; i--) {
		e = &c->v[i - 1];
		if (atomic_load(&e->k->refs) > 1) {
			if (now > e->last_use)
				e->last_use = now;
		} else if (now - e->last_use >= (int64_t)c->idle_secs) {
			cache_remove(c, i - 1);
		}
	}
	left = c->n;
	pthread_mutex_unlock(&c->mu);
	return left;
}

void
sec_cache_free(struct sec_cache **cp)
{
	struct sec_cache *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	while (c->n > 0)
		cache_remove(c, c->n - 1);
	free(c->v);
	sec_free(c->hkey, SEC_KEY_BYTES);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
