/*
 * sec.h: every use of libsodium in sealgate goes through here; nothing
 * outside crypto/ calls libsodium. Formats carry a version byte first.
 *
 * Key hierarchy (DESIGN.md, Security model):
 *   account X25519 key pair; private key wrapped under Argon2id(password),
 *   under a key derived from the invitation token, and sealed to the
 *   organization's recovery public key;
 *   per-message random content key; message and summary encrypted with
 *   XChaCha20-Poly1305 secretstream under it; content key sealed to each
 *   recipient (crypto_box_seal).
 *
 * Unless stated otherwise functions are thread-safe and do not block on
 * I/O; the password functions are CPU-heavy (tens of ms) and must run on a
 * worker thread, never on the event loop.
 */
#ifndef SEC_H
#define SEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/sg.h"

#define SEC_VERSION		1
#define SEC_KEY_BYTES		32	/* X25519 keys, content keys, file keys */
#define SEC_HASH_BYTES		32	/* keyed hashes */
#define SEC_TOKEN_BYTES		32
#define SEC_TOKEN_TEXT_LEN	43	/* unpadded base64url of 32 bytes */
#define SEC_SEALED_KEY_BYTES	(1 + 32 + 24 + 48)	/* version 2: see sec_seal.c */
#define SEC_CHUNK		65536	/* plaintext bytes per secretstream chunk */
#define SEC_PASSWORD_MAX	1024

/* 0 on success; call once before anything else. */
SG_NODISCARD int sec_init(void);

/* ---- memory ---- */

/* Secret memory: guarded, locked where possible, zeroed on free. Aborts on
 * allocation failure. */
void *sec_alloc(size_t n);
void sec_free(void *p, size_t n);	/* accepts NULL */
void sec_wipe(void *p, size_t n);
/* Constant-time comparison. */
bool sec_equal(const void *a, const void *b, size_t n);
void sec_random(void *buf, size_t n);
uint32_t sec_random_uniform(uint32_t upper);

/* A growable byte buffer for ciphertext and plaintext outputs. Plaintext
 * buffers should be wiped by the caller (sec_buf_wipe) before freeing. */
struct sec_buf {
	uint8_t	*data;
	size_t	 len, cap;
};
void sec_buf_reserve(struct sec_buf *b, size_t extra);
void sec_buf_append(struct sec_buf *b, const void *p, size_t n);
void sec_buf_wipe(struct sec_buf *b);	/* zero, then free; b is reset */
void sec_buf_free(struct sec_buf *b);	/* free without zeroing (ciphertext) */

/* ---- account keys ---- */

/*
 * An account's private key in secret memory, reference counted so that the
 * login cache and every session of the account share one copy.
 */
struct sec_sk {
	_Atomic unsigned refs;
	uint8_t		 pk[SEC_KEY_BYTES];
	uint8_t		*sk;		/* SEC_KEY_BYTES of secret memory */
};
struct sec_sk *sec_sk_new(void);		/* fresh random key pair, refs 1 */
/* pk derived; NULL only if libsodium refuses the scalar (never in 1.0.18). */
struct sec_sk *sec_sk_from(const uint8_t sk[SEC_KEY_BYTES]);
struct sec_sk *sec_sk_ref(struct sec_sk *k);
void sec_sk_unref(struct sec_sk **k);		/* wipes at the last reference */

/* ---- content keys and sealing ---- */

void sec_content_key_new(uint8_t key[SEC_KEY_BYTES]);
/* pk comes from sec_sk_new() or sec_recovery_pub_load(): a small-order pk,
 * which X25519 refuses, is a broken invariant (SG_ASSERT). */
void sec_seal_key(const uint8_t key[SEC_KEY_BYTES], const uint8_t pk[SEC_KEY_BYTES],
    uint8_t out[SEC_SEALED_KEY_BYTES]);
/* 0, or -1 (key_out zeroed) if the sealed key is not for this key pair or
 * was altered. */
SG_NODISCARD int sec_open_key(const uint8_t *sealed, size_t len, const struct sec_sk *k,
    uint8_t key_out[SEC_KEY_BYTES]);
/* Wipe the ephemeral shared keys past their minute (housekeeping);
 * returns how many remain. sec_seal_wipe() wipes them all (shutdown). */
size_t sec_seal_expire(void);
void sec_seal_wipe(void);

/* ---- streamed message encryption (secretstream, SEC_CHUNK chunks) ----
 * Format: version | 24-byte header | chunks of SEC_CHUNK plaintext bytes
 * each + 17 bytes of tag; the last chunk (possibly empty) is tagged FINAL.
 * Truncation, reordering, or any flipped bit fails decryption. */

#define SEC_STREAM_OVERHEAD(n)	(1 + 24 + ((n) / SEC_CHUNK + 1) * 17)

struct sec_enc;
/* out is borrowed until sec_enc_final() or sec_enc_free(). */
struct sec_enc *sec_enc_new(const uint8_t key[SEC_KEY_BYTES], struct sec_buf *out);
/* Buffers at most one chunk; full chunks are appended to out at once. */
void sec_enc_update(struct sec_enc *e, const void *data, size_t len);
/* Writes the final chunk and frees e. */
void sec_enc_final(struct sec_enc **e);
/* Abandons the stream (no final chunk, so out does not decrypt); *e may be
 * NULL. */
void sec_enc_free(struct sec_enc **e);

struct sec_dec;
typedef int sec_dec_out_fn(void *arg, const uint8_t *pt, size_t len);
/* out() gets each non-empty plaintext chunk (wiped after the call); a
 * non-zero return stops decryption and is returned by update (or final).
 * A chunk is handed over only once authenticated, but the end of the
 * stream is known only at sec_dec_final(): until it returns 0, what was
 * delivered may be a truncated message. The last (short) chunk is
 * delivered by sec_dec_final(). */
struct sec_dec *sec_dec_new(const uint8_t key[SEC_KEY_BYTES], sec_dec_out_fn *out, void *arg);
SG_NODISCARD int sec_dec_update(struct sec_dec *d, const uint8_t *ct, size_t len);
/* 0 if the stream ended with its FINAL chunk and nothing after; frees d. */
SG_NODISCARD int sec_dec_final(struct sec_dec **d);
void sec_dec_free(struct sec_dec **d);

/* One-shot forms over whole buffers. On failure sec_decrypt leaves out as
 * it was (nothing appended). */
void sec_encrypt(const uint8_t key[SEC_KEY_BYTES], const void *pt, size_t len,
    struct sec_buf *out);
SG_NODISCARD int sec_decrypt(const uint8_t key[SEC_KEY_BYTES], const uint8_t *ct, size_t len,
    struct sec_buf *out);
/* Decrypt only plaintext bytes [off, off + n) (clamped to the end), reading
 * chunks from the start but keeping only the range; -1 on any tampering in
 * the chunks read. A range reaching the end reads the FINAL chunk too; an
 * empty range (n == 0, or off at or past the end) reads no chunk and gives
 * 0. On failure out is left as it was. */
SG_NODISCARD int sec_decrypt_range(const uint8_t key[SEC_KEY_BYTES], const uint8_t *ct,
    size_t len, uint64_t off, uint64_t n, struct sec_buf *out);
/* Plaintext length from a ciphertext length, or -1 if impossible. */
int64_t sec_plain_len(size_t ct_len);

/* ---- small authenticated boxes under a symmetric key (queue, files) ----
 * Format: version | 24-byte nonce | XChaCha20-Poly1305 ciphertext + tag. */
void sec_box(const uint8_t key[SEC_KEY_BYTES], const void *pt, size_t len,
    struct sec_buf *out);
SG_NODISCARD int sec_unbox(const uint8_t key[SEC_KEY_BYTES], const uint8_t *ct, size_t len,
    struct sec_buf *out);

/* ---- private key wraps ---- */

enum sec_kdf { SEC_KDF_INTERACTIVE, SEC_KDF_MODERATE, SEC_KDF_SENSITIVE };

/* Argon2id(password, per-wrap salt) with the level's limits, recorded in
 * the blob (122 bytes, with a checksum that tells damage from a wrong
 * password). *out is malloc'd, or NULL when pwlen > SEC_PASSWORD_MAX or
 * Argon2 could not get its memory. Slow: worker thread only. */
void sec_wrap_password(const struct sec_sk *k, const char *pw, size_t pwlen,
    enum sec_kdf level, uint8_t **out, size_t *outlen);
/* A new key object, or NULL: *bad_format_out tells a damaged blob (or one
 * whose limits are outside INTERACTIVE..SENSITIVE) apart from a wrong
 * password; bad_format_out may be NULL. Slow: worker thread only. */
struct sec_sk *sec_unwrap_password(const uint8_t *blob, size_t len, const char *pw,
    size_t pwlen, bool *bad_format_out);
/* The limits recorded in a password blob (so they can be raised later);
 * 0, or -1 if the blob is damaged. Fast. */
int sec_wrap_password_limits(const uint8_t *blob, size_t len, uint64_t *ops_out,
    uint64_t *mem_out);

/* Under a key derived from the 256-bit invitation token (fast). The blob
 * is 73 bytes; *out is malloc'd. */
void sec_wrap_token(const struct sec_sk *k, const uint8_t token[SEC_TOKEN_BYTES],
    uint8_t **out, size_t *outlen);
struct sec_sk *sec_unwrap_token(const uint8_t *blob, size_t len,
    const uint8_t token[SEC_TOKEN_BYTES]);

/* Sealed to the recovery public key; opened with the recovery key pair.
 * The blob is 81 bytes; *out is malloc'd, or NULL if recovery_pk is a
 * small-order point (sec_recovery_pub_load() never returns one). */
void sec_wrap_recovery(const struct sec_sk *k, const uint8_t recovery_pk[SEC_KEY_BYTES],
    uint8_t **out, size_t *outlen);
struct sec_sk *sec_unwrap_recovery(const uint8_t *blob, size_t len,
    const struct sec_sk *recovery);

/* ---- tokens and keyed hashes ---- */

/* 32 random bytes and their unpadded base64url text (NUL-terminated). */
void sec_token_new(uint8_t raw[SEC_TOKEN_BYTES], char text[SEC_TOKEN_TEXT_LEN + 1]);
/* 0 if text is exactly 43 base64url characters in canonical form (the 2
 * spare bits zero); else -1 with raw zeroed. Constant time in content. */
SG_NODISCARD int sec_token_decode(const char *text, size_t len, uint8_t raw[SEC_TOKEN_BYTES]);
/* BLAKE2b-256 keyed with key over (data). Used for token hashes,
 * correspondent hashes and the login cache. */
void sec_keyed_hash(const uint8_t key[SEC_KEY_BYTES], const void *data, size_t len,
    uint8_t out[SEC_HASH_BYTES]);
/* Same over two parts separated unambiguously (length-prefixed). */
void sec_keyed_hash2(const uint8_t key[SEC_KEY_BYTES], const void *a, size_t alen,
    const void *b, size_t blen, uint8_t out[SEC_HASH_BYTES]);

/* ---- base64 (standard alphabet, for SASL) ---- */
/* 0 or -1 (bad input or does not fit). */
SG_NODISCARD int sec_base64_decode(uint8_t *out, size_t outcap, size_t *outlen,
    const char *b64, size_t b64len);
/* Returns a malloc'd NUL-terminated string. */
char *sec_base64_encode(const void *data, size_t len);

/* ---- key files in data_dir (recovery.key, queue.key, index.key) ----
 * Files are "sealgate-key v1 <kind>\n" + base64 of the 32 bytes + "\n";
 * secret files are created 0600 and refused when not regular files or when
 * group or others may read or write them; recovery.pub (0644) is refused
 * when group or others may write it. Errors name the path. These functions
 * block on I/O (fsync): start-up and admin commands only. */

/* Create path with a fresh random 32-byte key if it does not exist
 * (idempotent; an existing file is checked as sec_keyfile_load would, so
 * init reports a bad one at once). 0, or -1 with *err_out malloc'd. */
int sec_keyfile_ensure(const char *path, const char *kind, char **err_out);
/* Load a 32-byte symmetric key into secret memory (sec_alloc(32)); NULL on
 * error with *err_out. */
uint8_t *sec_keyfile_load(const char *path, const char *kind, char **err_out);
/* The recovery key pair: recovery.key holds the secret key (kind
 * "recovery-secret"), recovery.pub the public key ("recovery-public").
 * ensure creates both when neither exists; when both exist it checks that
 * they match; recovery.pub alone is the offline deployment (left alone,
 * success); recovery.key alone gets its recovery.pub written again. */
int sec_recovery_ensure(const char *key_path, const char *pub_path, char **err_out);
int sec_recovery_pub_load(const char *pub_path, uint8_t pk[SEC_KEY_BYTES], char **err_out);
struct sec_sk *sec_recovery_load(const char *key_path, char **err_out);
/* Write a new recovery key pair to the given paths (rotation): each file
 * is written beside its path and renamed over it, the secret one first. */
int sec_recovery_write(const struct sec_sk *k, const char *key_path, const char *pub_path,
    char **err_out);

/* ---- the login cache ----
 * Unwrapped private keys, keyed by a keyed hash of (address, password) under
 * a per-process random key, so the cache never holds the password. Entries
 * are dropped after idle_secs without a lookup while no session holds the
 * account, and at once by sec_cache_forget (password change, disable, reset). */
struct sec_cache;
struct sec_cache *sec_cache_new(unsigned idle_secs);
/* A new reference to the cached key, or NULL on a miss. */
struct sec_sk *sec_cache_get(struct sec_cache *c, const char *address, const char *pw,
    size_t pwlen);
/* The cache takes its own reference to k; the caller keeps its own. Other
 * passwords cached for the address are dropped (this one unwrapped). */
void sec_cache_put(struct sec_cache *c, const char *address, const char *pw, size_t pwlen,
    struct sec_sk *k);
/*
 * A login that unwraps while a password change runs could cache the key
 * under the old password after the change's sec_cache_forget(). So: read
 * sec_cache_generation() before reading the wrapped key, and cache with
 * sec_cache_put_since(), which stores nothing (false) if any forget ran
 * since.
 */
uint64_t sec_cache_generation(struct sec_cache *c);
bool sec_cache_put_since(struct sec_cache *c, uint64_t gen, const char *address,
    const char *pw, size_t pwlen, struct sec_sk *k);
void sec_cache_forget(struct sec_cache *c, const char *address);
/* Drop entries idle for idle_secs or more whose key no session holds (a
 * reference besides the cache's); a held key's idle time restarts at now.
 * Returns how many entries remain. */
size_t sec_cache_expire(struct sec_cache *c, int64_t now);
void sec_cache_free(struct sec_cache **c);

/* ---- a session's opened content keys, by blob id ----
 * Thread-safe; get copies the key out (and zeroes key_out on a miss); put
 * replaces the key of an id already present. */
struct sec_keyring;
struct sec_keyring *sec_keyring_new(void);
bool sec_keyring_get(struct sec_keyring *r, uint64_t blob_id, uint8_t key_out[SEC_KEY_BYTES]);
void sec_keyring_put(struct sec_keyring *r, uint64_t blob_id, const uint8_t key[SEC_KEY_BYTES]);
/* Forgets blob_id's key (wiped); nothing if it is not there. */
void sec_keyring_del(struct sec_keyring *r, uint64_t blob_id);
size_t sec_keyring_count(const struct sec_keyring *r);
void sec_keyring_free(struct sec_keyring **r);	/* wipes */

#endif
