/*
 * sec_seal.c: sealing content keys to a recipient's public key.
 *
 * Version 1 was crypto_box_seal: a fresh ephemeral key pair per message,
 * two X25519 operations (60 us here), which made sealing most of the CPU a
 * worker spent on an ingested 4 KiB message. Version 2 keeps an ephemeral
 * key pair per recipient for at most SEAL_TTL seconds or SEAL_USES seals,
 * and encrypts each content key under their shared key (crypto_box_beforenm)
 * with a random nonce, the version and ephemeral pk as associated data:
 *
 *   2 | ephemeral pk (32) | nonce (24) | XChaCha20-Poly1305(key) (48)
 *
 * (X25519 ignores the top bit of a public key: without the associated
 * data, flipping it would still open.) What is stored is as before: only
 * the recipient's private key opens it. What changes is in memory: the
 * shared key of a recipient's current pair (secret memory) opens what was
 * sealed with it in its window, mail the gateway held in plaintext seconds
 * before. Expired shared keys are wiped by sec_seal_expire() (the daemon's
 * housekeeping, every 10 s) or when their slot is reused.
 */
#include "crypto/sec.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "crypto/sec_private.h"

#define SEAL_V2		2	/* version 1 (crypto_box_seal) never left development */
#define SEAL_SLOTS	256	/* recipients sealed to recently, by pk hash */
#define SEAL_TTL	10	/* seconds an ephemeral pair is used */
#define SEAL_USES	10000	/* seals per ephemeral pair, at most */

#define SEAL_AD		(1 + crypto_box_PUBLICKEYBYTES)		/* version, epk */
#define SEAL_NONCE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_CT		(SEC_KEY_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)

_Static_assert(SEC_SEALED_KEY_BYTES == SEAL_AD + SEAL_NONCE + SEAL_CT, "sealed key size");
_Static_assert(crypto_box_BEFORENMBYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES &&
    crypto_box_BEFORENMBYTES == SEC_KEY_BYTES, "shared key size");

struct seal_slot {
	uint8_t		pk[SEC_KEY_BYTES];	/* the recipient */
	uint8_t		epk[SEC_KEY_BYTES];	/* the ephemeral public key */
	int64_t		born;			/* 0: empty */
	unsigned	uses;
};

static pthread_mutex_t seal_mu = PTHREAD_MUTEX_INITIALIZER;
static struct seal_slot seal_slot[SEAL_SLOTS];
static uint8_t *seal_shared;		/* SEAL_SLOTS shared keys, secret memory */

static int64_t
seal_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec + 1;		/* never 0 */
}

static void
seal_slot_clear(size_t i)
{
	sodium_memzero(seal_shared + i * SEC_KEY_BYTES, SEC_KEY_BYTES);
	sodium_memzero(&seal_slot[i], sizeof seal_slot[i]);
}

/* A new ephemeral pair for slot i's recipient; only the shared key and the
 * public half are kept. Under seal_mu. */
static void
seal_slot_fill(size_t i, const uint8_t pk[SEC_KEY_BYTES], int64_t now)
{
	uint8_t esk[crypto_box_SECRETKEYBYTES];
	int rc;

	crypto_box_keypair(seal_slot[i].epk, esk);
	rc = crypto_box_beforenm(seal_shared + i * SEC_KEY_BYTES, pk, esk);
	sodium_memzero(esk, sizeof esk);
	/* Only a small-order pk fails; ours come from sec_sk_new() or from
	 * recovery.pub, which sec_recovery_pub_load() checks. */
	SG_ASSERT(rc == 0);
	memcpy(seal_slot[i].pk, pk, SEC_KEY_BYTES);
	seal_slot[i].born = now;
	seal_slot[i].uses = 0;
}

void
sec_seal_key(const uint8_t key[SEC_KEY_BYTES], const uint8_t pk[SEC_KEY_BYTES],
    uint8_t out[SEC_SEALED_KEY_BYTES])
{
	uint8_t shared[SEC_KEY_BYTES], *nonce = out + SEAL_AD;
	int64_t now = seal_now();
	size_t i;

	pthread_mutex_lock(&seal_mu);
	if (seal_shared == NULL)
		seal_shared = sec_alloc((size_t)SEAL_SLOTS * SEC_KEY_BYTES);
	i = (size_t)(pk[0] | pk[1] << 8) % SEAL_SLOTS;	/* pks are uniform */
	if (seal_slot[i].born == 0 || sodium_memcmp(seal_slot[i].pk, pk, SEC_KEY_BYTES) != 0 ||
	    now - seal_slot[i].born >= SEAL_TTL || seal_slot[i].uses >= SEAL_USES)
		seal_slot_fill(i, pk, now);
	seal_slot[i].uses++;
	memcpy(shared, seal_shared + i * SEC_KEY_BYTES, sizeof shared);
	memcpy(out + 1, seal_slot[i].epk, SEC_KEY_BYTES);
	pthread_mutex_unlock(&seal_mu);
	out[0] = SEAL_V2;
	randombytes_buf(nonce, SEAL_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + SEAL_NONCE, NULL, key, SEC_KEY_BYTES,
	    out, SEAL_AD, NULL, nonce, shared);
	sodium_memzero(shared, sizeof shared);
}

size_t
sec_seal_expire(void)
{
	int64_t now = seal_now();
	size_t i, left = 0;

	pthread_mutex_lock(&seal_mu);
	for (i = 0; seal_shared != NULL && i < SEAL_SLOTS; i++) {
		if (seal_slot[i].born != 0 && now - seal_slot[i].born >= SEAL_TTL)
			seal_slot_clear(i);
		left += seal_slot[i].born != 0;
	}
	pthread_mutex_unlock(&seal_mu);
	return left;
}

void
sec_seal_wipe(void)
{
	size_t i;

	pthread_mutex_lock(&seal_mu);
	for (i = 0; seal_shared != NULL && i < SEAL_SLOTS; i++)
		seal_slot_clear(i);
	pthread_mutex_unlock(&seal_mu);
}

int
sec_open_key(const uint8_t *sealed, size_t len, const struct sec_sk *k,
    uint8_t key_out[SEC_KEY_BYTES])
{
	const uint8_t *nonce = sealed + SEAL_AD;
	uint8_t shared[SEC_KEY_BYTES];
	int rc = -1;

	if (len == SEC_SEALED_KEY_BYTES && sealed[0] == SEAL_V2 &&
	    crypto_box_beforenm(shared, sealed + 1, k->sk) == 0)
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(key_out, NULL, NULL,
		    nonce + SEAL_NONCE, SEAL_CT, sealed, SEAL_AD, nonce, shared);
	sodium_memzero(shared, sizeof shared);
	if (rc != 0)
		sodium_memzero(key_out, SEC_KEY_BYTES);
	return rc != 0 ? -1 : 0;
}
