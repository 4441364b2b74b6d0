/*
 * sec_wrap.c: the three wraps of an account's private key: under
 * Argon2id(password), under a key derived from an invitation token, and
 * sealed to the organization's recovery public key.
 *
 * Password blob (122 bytes):
 *   0   version (1)
 *   1   algorithm (crypto_pwhash_ALG_ARGON2ID13)
 *   2   opslimit, u64 little endian
 *   10  memlimit, u64 little endian
 *   18  salt (16)
 *   34  nonce (24)
 *   58  crypto_secretbox of the 32-byte secret key (48)
 *   106 BLAKE2b-128 of bytes 0..105 (16)
 * The trailing checksum is what tells a damaged blob from a wrong password:
 * secretbox alone fails the same way for both. It is not a MAC (anyone may
 * recompute it), so the limits are still bounds-checked before Argon2 runs.
 *
 * Token blob (73 bytes): version | nonce (24) | secretbox (48), under
 * BLAKE2b-256 keyed by the token over a fixed context string.
 * Recovery blob (81 bytes): version | crypto_box_seal(secret key) (80).
 */
#include "crypto/sec.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec_private.h"
#include "gateway/gw_log.h"

#define PW_ALG		crypto_pwhash_ALG_ARGON2ID13
#define PW_OPS_MIN	crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
#define PW_OPS_MAX	crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE
#define PW_MEM_MIN	crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE
#define PW_MEM_MAX	crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE
#define SB_NONCE	crypto_secretbox_NONCEBYTES
#define SB_LEN		(crypto_secretbox_MACBYTES + SEC_KEY_BYTES)

#define PW_OFF_OPS	2
#define PW_OFF_MEM	10
#define PW_OFF_SALT	18
#define PW_OFF_NONCE	(PW_OFF_SALT + crypto_pwhash_SALTBYTES)
#define PW_OFF_BOX	(PW_OFF_NONCE + SB_NONCE)
#define PW_OFF_CHECK	(PW_OFF_BOX + SB_LEN)
#define PW_CHECK	16
#define PW_BLOB_LEN	(PW_OFF_CHECK + PW_CHECK)

#define TOK_CONTEXT	"sealgate/v1/token-wrap"
#define TOK_BLOB_LEN	(1 + SB_NONCE + SB_LEN)
#define REC_BLOB_LEN	(1 + crypto_box_SEALBYTES + SEC_KEY_BYTES)

_Static_assert(PW_BLOB_LEN == 122 && TOK_BLOB_LEN == 73 && REC_BLOB_LEN == 81,
    "wrap formats changed size");
_Static_assert(crypto_pwhash_SALTBYTES == 16, "salt size");

static const struct {
	uint64_t	ops, mem;
} pw_levels[] = {
	[SEC_KDF_INTERACTIVE] = { crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE },
	[SEC_KDF_MODERATE] = { crypto_pwhash_argon2id_OPSLIMIT_MODERATE,
	    crypto_pwhash_argon2id_MEMLIMIT_MODERATE },
	[SEC_KDF_SENSITIVE] = { crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE,
	    crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE },
};

static void
pw_checksum(const uint8_t *blob, uint8_t out[PW_CHECK])
{
	crypto_generichash(out, PW_CHECK, blob, PW_OFF_CHECK, NULL, 0);
}

/* 0 if blob is well formed and its limits are within ours. */
static int
pw_parse(const uint8_t *blob, size_t len, uint64_t *ops_out, uint64_t *mem_out)
{
	uint8_t check[PW_CHECK];
	uint64_t ops, mem;

	if (blob == NULL || len != PW_BLOB_LEN || blob[0] != SEC_VERSION || blob[1] != PW_ALG)
		return -1;
	pw_checksum(blob, check);
	if (!sec_equal(check, blob + PW_OFF_CHECK, PW_CHECK))
		return -1;
	/* A forged blob must not make Argon2 allocate 100 GB, nor weaken it. */
	ops = sec_le64_get(blob + PW_OFF_OPS);
	mem = sec_le64_get(blob + PW_OFF_MEM);
	if (ops < PW_OPS_MIN || ops > PW_OPS_MAX || mem < PW_MEM_MIN || mem > PW_MEM_MAX)
		return -1;
	*ops_out = ops;
	*mem_out = mem;
	return 0;
}

static int
pw_derive(uint8_t key[crypto_secretbox_KEYBYTES], const char *pw, size_t pwlen,
    const uint8_t *salt, uint64_t ops, uint64_t mem)
{
	if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, pw, pwlen, salt, ops, (size_t)mem,
	    PW_ALG) != 0) {
		/* Only an allocation failure makes Argon2id fail here. */
		log_warn("sec", "event=kdf_failed mem=%llu", (unsigned long long)mem);
		sodium_memzero(key, crypto_secretbox_KEYBYTES);
		return -1;
	}
	return 0;
}

void
sec_wrap_password(const struct sec_sk *k, const char *pw, size_t pwlen,
    enum sec_kdf level, uint8_t **out, size_t *outlen)
{
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint8_t *blob;

	SG_ASSERT((size_t)level < SG_NITEMS(pw_levels));
	*out = NULL;
	*outlen = 0;
	if (pwlen > SEC_PASSWORD_MAX)
		return;
	blob = xmalloc(PW_BLOB_LEN);
	blob[0] = SEC_VERSION;
	blob[1] = PW_ALG;
	sec_le64_put(blob + PW_OFF_OPS, pw_levels[level].ops);
	sec_le64_put(blob + PW_OFF_MEM, pw_levels[level].mem);
	randombytes_buf(blob + PW_OFF_SALT, crypto_pwhash_SALTBYTES);
	randombytes_buf(blob + PW_OFF_NONCE, SB_NONCE);
	if (pw_derive(key, pw, pwlen, blob + PW_OFF_SALT, pw_levels[level].ops,
	    pw_levels[level].mem) != 0) {
		free(blob);
		return;
	}
	crypto_secretbox_easy(blob + PW_OFF_BOX, k->sk, SEC_KEY_BYTES, blob + PW_OFF_NONCE, key);
	sodium_memzero(key, sizeof key);
	pw_checksum(blob, blob + PW_OFF_CHECK);
	*out = blob;
	*outlen = PW_BLOB_LEN;
}

struct sec_sk *
sec_unwrap_password(const uint8_t *blob, size_t len, const char *pw, size_t pwlen,
    bool *bad_format_out)
{
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint8_t sk[SEC_KEY_BYTES];
	struct sec_sk *k = NULL;
	uint64_t ops, mem;

	if (bad_format_out != NULL)
		*bad_format_out = false;
	if (pw_parse(blob, len, &ops, &mem) != 0) {
		if (bad_format_out != NULL)
			*bad_format_out = true;
		return NULL;
	}
	if (pwlen > SEC_PASSWORD_MAX)
		return NULL;	/* sec_wrap_password() never accepts one */
	if (pw_derive(key, pw, pwlen, blob + PW_OFF_SALT, ops, mem) != 0)
		return NULL;
	if (crypto_secretbox_open_easy(sk, blob + PW_OFF_BOX, SB_LEN, blob + PW_OFF_NONCE,
	    key) == 0)
		k = sec_sk_from(sk);
	sodium_memzero(key, sizeof key);
	sodium_memzero(sk, sizeof sk);
	return k;
}

int
sec_wrap_password_limits(const uint8_t *blob, size_t len, uint64_t *ops_out,
    uint64_t *mem_out)
{
	return pw_parse(blob, len, ops_out, mem_out);
}

static void
token_key(const uint8_t token[SEC_TOKEN_BYTES], uint8_t key[crypto_secretbox_KEYBYTES])
{
	static const char ctx[] = TOK_CONTEXT;

	crypto_generichash(key, crypto_secretbox_KEYBYTES, (const uint8_t *)ctx,
	    sizeof ctx - 1, token, SEC_TOKEN_BYTES);
}

void
sec_wrap_token(const struct sec_sk *k, const uint8_t token[SEC_TOKEN_BYTES],
    uint8_t **out, size_t *outlen)
{
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint8_t *blob = xmalloc(TOK_BLOB_LEN);

	blob[0] = SEC_VERSION;
	randombytes_buf(blob + 1, SB_NONCE);
	token_key(token, key);
	crypto_secretbox_easy(blob + 1 + SB_NONCE, k->sk, SEC_KEY_BYTES, blob + 1, key);
	sodium_memzero(key, sizeof key);
	*out = blob;
	*outlen = TOK_BLOB_LEN;
}

struct sec_sk *
sec_unwrap_token(const uint8_t *blob, size_t len, const uint8_t token[SEC_TOKEN_BYTES])
{
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint8_t sk[SEC_KEY_BYTES];
	struct sec_sk *k = NULL;

	if (blob == NULL || len != TOK_BLOB_LEN || blob[0] != SEC_VERSION)
		return NULL;
	token_key(token, key);
	if (crypto_secretbox_open_easy(sk, blob + 1 + SB_NONCE, SB_LEN, blob + 1, key) == 0)
		k = sec_sk_from(sk);
	sodium_memzero(key, sizeof key);
	sodium_memzero(sk, sizeof sk);
	return k;
}

void
sec_wrap_recovery(const struct sec_sk *k, const uint8_t recovery_pk[SEC_KEY_BYTES],
    uint8_t **out, size_t *outlen)
{
	uint8_t *blob = xmalloc(REC_BLOB_LEN);

	blob[0] = SEC_VERSION;
	if (crypto_box_seal(blob + 1, k->sk, SEC_KEY_BYTES, recovery_pk) != 0) {
		free(blob);	/* a small-order public key */
		*out = NULL;
		*outlen = 0;
		return;
	}
	*out = blob;
	*outlen = REC_BLOB_LEN;
}

struct sec_sk *
sec_unwrap_recovery(const uint8_t *blob, size_t len, const struct sec_sk *recovery)
{
	uint8_t sk[SEC_KEY_BYTES];
	struct sec_sk *k = NULL;

	if (blob == NULL || len != REC_BLOB_LEN || blob[0] != SEC_VERSION)
		return NULL;
	if (crypto_box_seal_open(sk, blob + 1, len - 1, recovery->pk, recovery->sk) == 0)
		k = sec_sk_from(sk);
	sodium_memzero(sk, sizeof sk);
	return k;
}
