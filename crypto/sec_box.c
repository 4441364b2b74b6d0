/*
 * sec_box.c: small authenticated boxes under a symmetric key (the queue,
 * files): version | 24-byte nonce | XChaCha20-Poly1305 ciphertext + tag.
 * The version byte is the associated data, so it cannot be changed alone.
 */
#include "crypto/sec.h"

#include <sodium.h>

#include "crypto/sec_private.h"

#define BOX_NONCE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define BOX_ABYTES	crypto_aead_xchacha20poly1305_ietf_ABYTES
#define BOX_PREFIX	(1 + BOX_NONCE)

void
sec_box(const uint8_t key[SEC_KEY_BYTES], const void *pt, size_t len, struct sec_buf *out)
{
	static const uint8_t none[1];
	uint8_t *p;

	if (len > SIZE_MAX / 2 || len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX)
		fatal("sec: box of %zu bytes is too large", len);
	sec_buf_reserve(out, BOX_PREFIX + len + BOX_ABYTES);
	p = out->data + out->len;
	p[0] = SEC_VERSION;
	randombytes_buf(p + 1, BOX_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + BOX_PREFIX, NULL, len > 0 ? pt : none,
	    len, p, 1, NULL, p + 1, key);
	out->len += BOX_PREFIX + len + BOX_ABYTES;
}

int
sec_unbox(const uint8_t key[SEC_KEY_BYTES], const uint8_t *ct, size_t len, struct sec_buf *out)
{
	uint8_t none[1];
	size_t ptlen;
	uint8_t *dst;

	if (len < BOX_PREFIX + BOX_ABYTES || ct[0] != SEC_VERSION)
		return -1;
	ptlen = len - BOX_PREFIX - BOX_ABYTES;
	sec_buf_reserve(out, ptlen);
	dst = ptlen > 0 ? out->data + out->len : none;
	/* libsodium verifies the tag before it writes any plaintext. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, ct + BOX_PREFIX,
	    len - BOX_PREFIX, ct, 1, ct + 1, key) != 0)
		return -1;
	out->len += ptlen;
	return 0;
}
