/*
 * sec_keys.c: account key pairs (shared, reference-counted copies in secret
 * memory) and per-message content keys (sealing them: sec_seal.c).
 */
#include "crypto/sec.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec_private.h"

_Static_assert(SEC_KEY_BYTES == crypto_box_SECRETKEYBYTES &&
    SEC_KEY_BYTES == crypto_box_PUBLICKEYBYTES, "X25519 key size");

static struct sec_sk *
sec_sk_alloc(void)
{
	struct sec_sk *k = xcalloc(1, sizeof *k);

	atomic_init(&k->refs, 1);
	k->sk = sec_alloc(SEC_KEY_BYTES);
	return k;
}

struct sec_sk *
sec_sk_new(void)
{
	struct sec_sk *k = sec_sk_alloc();

	/* crypto_box keys are X25519 keys: pk = X25519(sk, base). */
	if (crypto_box_keypair(k->pk, k->sk) != 0)
		fatal("sec: crypto_box_keypair failed");
	return k;
}

struct sec_sk *
sec_sk_from(const uint8_t sk[SEC_KEY_BYTES])
{
	struct sec_sk *k = sec_sk_alloc();

	memcpy(k->sk, sk, SEC_KEY_BYTES);
	if (crypto_scalarmult_base(k->pk, k->sk) != 0)
		sec_sk_unref(&k);	/* newer libsodium refuses some scalars */
	return k;
}

struct sec_sk *
sec_sk_ref(struct sec_sk *k)
{
	unsigned old = atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);

	SG_ASSERT(old > 0);
	return k;
}

void
sec_sk_unref(struct sec_sk **kp)
{
	struct sec_sk *k = *kp;
	unsigned old;

	if (k == NULL)
		return;
	*kp = NULL;
	old = atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel);
	SG_ASSERT(old > 0);
	if (old != 1)
		return;
	sec_free(k->sk, SEC_KEY_BYTES);		/* zeroes it */
	sodium_memzero(k->pk, sizeof k->pk);
	free(k);
}

bool
sec_pk_usable(const uint8_t pk[SEC_KEY_BYTES])
{
	uint8_t scalar[crypto_scalarmult_SCALARBYTES];
	uint8_t q[crypto_scalarmult_BYTES];
	int rc;

	/* X25519 with a small-order point gives all zeros, which
	 * crypto_scalarmult() (and so crypto_box_seal()) refuses. */
	randombytes_buf(scalar, sizeof scalar);
	rc = crypto_scalarmult(q, scalar, pk);
	sodium_memzero(scalar, sizeof scalar);
	sodium_memzero(q, sizeof q);
	return rc == 0;
}

void
sec_content_key_new(uint8_t key[SEC_KEY_BYTES])
{
	randombytes_buf(key, SEC_KEY_BYTES);
}
