/*
 * sec_token.c: invitation tokens (32 random bytes as unpadded base64url),
 * keyed BLAKE2b hashes, and standard base64 for SASL.
 */
#include "crypto/sec.h"

#include <sodium.h>
#include <string.h>

#include "crypto/sec_private.h"

#define TOKEN_VARIANT	sodium_base64_VARIANT_URLSAFE_NO_PADDING

_Static_assert(sodium_base64_ENCODED_LEN(SEC_TOKEN_BYTES, TOKEN_VARIANT) ==
    SEC_TOKEN_TEXT_LEN + 1, "token text length");
_Static_assert(SEC_HASH_BYTES >= crypto_generichash_BYTES_MIN &&
    SEC_HASH_BYTES <= crypto_generichash_BYTES_MAX, "hash length");

void
sec_token_new(uint8_t raw[SEC_TOKEN_BYTES], char text[SEC_TOKEN_TEXT_LEN + 1])
{
	randombytes_buf(raw, SEC_TOKEN_BYTES);
	sodium_bin2base64(text, SEC_TOKEN_TEXT_LEN + 1, raw, SEC_TOKEN_BYTES, TOKEN_VARIANT);
}

/*
 * libsodium 1.0.18's decoder reads characters as signed char, so every byte
 * from 0x80 up decodes as some letter of the alphabet: "\x80QUJD" passes.
 * Refuse them first, without branching on the content.
 */
bool
sec_b64_ascii(const char *s, size_t len)
{
	unsigned high = 0;
	size_t i;

	for (i = 0; i < len; i++)
		high |= (unsigned char)s[i];
	return (high & 0x80) == 0;
}

/*
 * For ASCII, libsodium's decoder maps characters without table lookups or
 * branches on their value, refuses padding, whitespace (no ignore set) and
 * anything left over, and refuses non-zero trailing bits, so each token has
 * exactly one text form.
 */
int
sec_token_decode(const char *text, size_t len, uint8_t raw[SEC_TOKEN_BYTES])
{
	size_t binlen = 0;

	if (text == NULL || len != SEC_TOKEN_TEXT_LEN || !sec_b64_ascii(text, len)) {
		sodium_memzero(raw, SEC_TOKEN_BYTES);
		return -1;
	}
	if (sodium_base642bin(raw, SEC_TOKEN_BYTES, text, len, NULL, &binlen, NULL,
	    TOKEN_VARIANT) != 0 || binlen != SEC_TOKEN_BYTES) {
		sodium_memzero(raw, SEC_TOKEN_BYTES);
		return -1;
	}
	return 0;
}

void
sec_keyed_hash(const uint8_t key[SEC_KEY_BYTES], const void *data, size_t len,
    uint8_t out[SEC_HASH_BYTES])
{
	static const uint8_t none[1];

	crypto_generichash(out, SEC_HASH_BYTES, len > 0 ? data : none, len, key,
	    SEC_KEY_BYTES);
}

static void
hash_part(crypto_generichash_state *st, const void *p, size_t n)
{
	uint8_t le[8];

	sec_le64_put(le, (uint64_t)n);
	crypto_generichash_update(st, le, sizeof le);
	if (n > 0)
		crypto_generichash_update(st, p, n);
}

void
sec_keyed_hash2(const uint8_t key[SEC_KEY_BYTES], const void *a, size_t alen,
    const void *b, size_t blen, uint8_t out[SEC_HASH_BYTES])
{
	crypto_generichash_state st;

	/* Length prefixes keep ("ab", "c") and ("a", "bc") apart. */
	crypto_generichash_init(&st, key, SEC_KEY_BYTES, SEC_HASH_BYTES);
	hash_part(&st, a, alen);
	hash_part(&st, b, blen);
	crypto_generichash_final(&st, out, SEC_HASH_BYTES);
	sodium_memzero(&st, sizeof st);
}

int
sec_base64_decode(uint8_t *out, size_t outcap, size_t *outlen, const char *b64,
    size_t b64len)
{
	size_t n = 0;
	int rc;

	*outlen = 0;
	if (b64len == 0)
		return 0;
	if (!sec_b64_ascii(b64, b64len))
		return -1;
	rc = sodium_base642bin(out, outcap, b64, b64len, NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL);
	if (rc != 0) {
		sec_wipe(out, outcap);	/* may hold part of a password */
		return -1;
	}
	*outlen = n;
	return 0;
}

char *
sec_base64_encode(const void *data, size_t len)
{
	size_t cap;
	char *s;

	if (len > SIZE_MAX / 4 * 3 - 3)
		fatal("sec: %zu bytes are too many to encode", len);
	cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	s = xmalloc(cap);
	if (len == 0) {
		s[0] = '\0';
		return s;
	}
	sodium_bin2base64(s, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
	return s;
}
