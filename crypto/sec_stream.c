/*
 * sec_stream.c: message encryption with libsodium's secretstream
 * (XChaCha20-Poly1305), in SEC_CHUNK plaintext chunks.
 *
 * Format: version | 24-byte header | chunks. Every chunk but the last holds
 * exactly SEC_CHUNK plaintext bytes and is tagged MESSAGE; the last holds
 * 0 to SEC_CHUNK - 1 bytes and is tagged FINAL. So the chunk sizes follow
 * from the ciphertext length alone, a chunk's length says which tag it must
 * carry, and a full-length chunk is never the last one.
 */
#include "crypto/sec.h"

#include <sodium.h>
#include <string.h>

#include "crypto/sec_private.h"

#define ST_HEADER	crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define ST_ABYTES	crypto_secretstream_xchacha20poly1305_ABYTES
#define ST_TAG_MESSAGE	crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define ST_TAG_FINAL	crypto_secretstream_xchacha20poly1305_TAG_FINAL
#define ST_PREFIX	(1 + ST_HEADER)			/* version + header */
#define ST_CT_CHUNK	(SEC_CHUNK + ST_ABYTES)		/* a full chunk's ciphertext */

_Static_assert(ST_HEADER == 24 && ST_ABYTES == 17, "SEC_STREAM_OVERHEAD is out of date");

struct sec_enc {
	crypto_secretstream_xchacha20poly1305_state	 st;
	struct sec_buf	*out;			/* borrowed */
	size_t		 len;			/* plaintext bytes waiting in buf */
	uint8_t		 buf[SEC_CHUNK];
};

struct sec_dec {
	crypto_secretstream_xchacha20poly1305_state	 st;
	sec_dec_out_fn	*out;
	void		*arg;
	int		 err;			/* sticky: the first failure */
	size_t		 hlen;			/* bytes of hdr received */
	size_t		 len;			/* ciphertext bytes waiting in buf */
	uint8_t		 key[SEC_KEY_BYTES];	/* until the header is complete */
	uint8_t		 hdr[ST_PREFIX];
	uint8_t		 buf[ST_CT_CHUNK];
	uint8_t		 pt[SEC_CHUNK];
};

int64_t
sec_plain_len(size_t ct_len)
{
	size_t body, full, rem;

	if (ct_len < ST_PREFIX + ST_ABYTES || ct_len > INT64_MAX)
		return -1;
	body = ct_len - ST_PREFIX;
	full = body / ST_CT_CHUNK;
	rem = body % ST_CT_CHUNK;
	if (rem < ST_ABYTES)
		return -1;	/* no room for the final chunk's tag */
	/* bounds: plaintext is shorter than ct_len, which fits in int64_t */
	return (int64_t)(full * SEC_CHUNK + rem - ST_ABYTES);
}

static void
stream_start(crypto_secretstream_xchacha20poly1305_state *st, const uint8_t key[SEC_KEY_BYTES],
    struct sec_buf *out)
{
	sec_buf_reserve(out, ST_PREFIX);
	out->data[out->len] = SEC_VERSION;
	crypto_secretstream_xchacha20poly1305_init_push(st, out->data + out->len + 1, key);
	out->len += ST_PREFIX;
}

static void
stream_push(crypto_secretstream_xchacha20poly1305_state *st, struct sec_buf *out,
    const uint8_t *pt, size_t len)
{
	static const uint8_t none[1];
	unsigned char tag = len == SEC_CHUNK ? ST_TAG_MESSAGE : ST_TAG_FINAL;

	SG_ASSERT(len <= SEC_CHUNK);
	sec_buf_reserve(out, len + ST_ABYTES);
	crypto_secretstream_xchacha20poly1305_push(st, out->data + out->len, NULL,
	    len > 0 ? pt : none, len, NULL, 0, tag);
	out->len += len + ST_ABYTES;
}

/* pt receives ctlen - ST_ABYTES bytes, and keeps nothing on failure. */
static int
stream_pull(crypto_secretstream_xchacha20poly1305_state *st, uint8_t *pt, const uint8_t *ct,
    size_t ctlen)
{
	unsigned char tag;
	unsigned char want = ctlen == ST_CT_CHUNK ? ST_TAG_MESSAGE : ST_TAG_FINAL;

	if (ctlen < ST_ABYTES || ctlen > ST_CT_CHUNK)
		return -1;
	/* libsodium checks the tag before it writes any plaintext. */
	if (crypto_secretstream_xchacha20poly1305_pull(st, pt, NULL, &tag, ct, ctlen,
	    NULL, 0) != 0)
		return -1;
	if (tag != want) {
		sodium_memzero(pt, ctlen - ST_ABYTES);
		return -1;
	}
	return 0;
}

static int
stream_init_pull(crypto_secretstream_xchacha20poly1305_state *st,
    const uint8_t key[SEC_KEY_BYTES], const uint8_t *prefix)
{
	if (prefix[0] != SEC_VERSION)
		return -1;
	return crypto_secretstream_xchacha20poly1305_init_pull(st, prefix + 1, key) == 0 ? 0 : -1;
}

/* ---- incremental encryption ---- */

struct sec_enc *
sec_enc_new(const uint8_t key[SEC_KEY_BYTES], struct sec_buf *out)
{
	struct sec_enc *e = sec_alloc(sizeof *e);

	e->out = out;
	e->len = 0;
	stream_start(&e->st, key, out);
	return e;
}

void
sec_enc_update(struct sec_enc *e, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t n;

	if (e->len > 0) {
		n = SG_MIN(len, SEC_CHUNK - e->len);
		memcpy(e->buf + e->len, p, n);
		e->len += n;
		p += n;
		len -= n;
		if (e->len < SEC_CHUNK)
			return;
		stream_push(&e->st, e->out, e->buf, SEC_CHUNK);
		e->len = 0;
	}
	/* Whole chunks go straight from the caller's buffer. */
	for (; len >= SEC_CHUNK; p += SEC_CHUNK, len -= SEC_CHUNK)
		stream_push(&e->st, e->out, p, SEC_CHUNK);
	if (len > 0)
		memcpy(e->buf, p, len);
	e->len = len;
}

void
sec_enc_final(struct sec_enc **ep)
{
	struct sec_enc *e = *ep;

	if (e == NULL)
		return;
	stream_push(&e->st, e->out, e->buf, e->len);
	sec_enc_free(ep);
}

void
sec_enc_free(struct sec_enc **ep)
{
	sec_free(*ep, sizeof **ep);	/* zeroes the state and buffered plaintext */
	*ep = NULL;
}

/* ---- incremental decryption ---- */

struct sec_dec *
sec_dec_new(const uint8_t key[SEC_KEY_BYTES], sec_dec_out_fn *out, void *arg)
{
	struct sec_dec *d = sec_alloc(sizeof *d);

	d->out = out;
	d->arg = arg;
	d->err = 0;
	d->hlen = 0;
	d->len = 0;
	memcpy(d->key, key, SEC_KEY_BYTES);
	return d;
}

static int
dec_chunk(struct sec_dec *d, const uint8_t *ct, size_t ctlen)
{
	size_t ptlen;
	int rc;

	if (stream_pull(&d->st, d->pt, ct, ctlen) != 0)
		return -1;
	ptlen = ctlen - ST_ABYTES;
	if (ptlen == 0)
		return 0;
	rc = d->out(d->arg, d->pt, ptlen);
	sodium_memzero(d->pt, ptlen);
	return rc;
}

/* Consumes header bytes; returns how many. */
static size_t
dec_header(struct sec_dec *d, const uint8_t *ct, size_t len)
{
	size_t n = SG_MIN(len, ST_PREFIX - d->hlen);

	memcpy(d->hdr + d->hlen, ct, n);
	d->hlen += n;
	if (d->hlen == ST_PREFIX) {
		if (stream_init_pull(&d->st, d->key, d->hdr) != 0)
			d->err = -1;
		sodium_memzero(d->key, sizeof d->key);
	}
	return n;
}

int
sec_dec_update(struct sec_dec *d, const uint8_t *ct, size_t len)
{
	size_t n;
	int rc = 0;

	if (d->err == 0 && d->hlen < ST_PREFIX && len > 0) {
		n = dec_header(d, ct, len);
		ct += n;
		len -= n;
	}
	/*
	 * A full-length chunk is never the last one, so it is decrypted as soon
	 * as it is complete; a shorter remainder waits for sec_dec_final().
	 */
	while (d->err == 0 && len > 0) {
		if (d->len == 0 && len >= ST_CT_CHUNK) {
			rc = dec_chunk(d, ct, ST_CT_CHUNK);
			ct += ST_CT_CHUNK;
			len -= ST_CT_CHUNK;
		} else {
			n = SG_MIN(len, ST_CT_CHUNK - d->len);
			memcpy(d->buf + d->len, ct, n);
			d->len += n;
			ct += n;
			len -= n;
			if (d->len == ST_CT_CHUNK) {
				rc = dec_chunk(d, d->buf, ST_CT_CHUNK);
				d->len = 0;
			}
		}
		if (rc != 0)
			d->err = rc;
	}
	return d->err;
}

int
sec_dec_final(struct sec_dec **dp)
{
	struct sec_dec *d = *dp;
	int rc;

	if (d == NULL)
		return -1;
	if (d->err != 0)
		rc = d->err;
	else if (d->hlen < ST_PREFIX)
		rc = -1;
	else
		rc = dec_chunk(d, d->buf, d->len);	/* must be the FINAL chunk */
	sec_dec_free(dp);
	return rc;
}

void
sec_dec_free(struct sec_dec **dp)
{
	sec_free(*dp, sizeof **dp);
	*dp = NULL;
}

/* ---- one-shot forms ---- */

void
sec_encrypt(const uint8_t key[SEC_KEY_BYTES], const void *pt, size_t len,
    struct sec_buf *out)
{
	const uint8_t *p = pt;
	crypto_secretstream_xchacha20poly1305_state st;

	if (len > SIZE_MAX / 2)
		fatal("sec: message of %zu bytes is too large to encrypt", len);
	sec_buf_reserve(out, len + SEC_STREAM_OVERHEAD(len));
	stream_start(&st, key, out);
	for (; len >= SEC_CHUNK; p += SEC_CHUNK, len -= SEC_CHUNK)
		stream_push(&st, out, p, SEC_CHUNK);
	stream_push(&st, out, p, len);
	sodium_memzero(&st, sizeof st);
}

/*
 * Plaintext chunk i starts at i * SEC_CHUNK; reads chunks 0 .. last,
 * appending the bytes of [off, end) to out. A chunk entirely inside the
 * range is decrypted in place in out; the (at most two) partial ones go
 * through tmp, secret memory.
 */
struct range_read {
	crypto_secretstream_xchacha20poly1305_state	 st;
	const uint8_t	*ct;		/* the next chunk */
	uint64_t	 plen, off, end;
	uint8_t		*tmp;
};

static int
range_chunk(struct range_read *r, uint64_t pos, struct sec_buf *out)
{
	uint64_t clen = SG_MIN((uint64_t)SEC_CHUNK, r->plen - pos);
	uint64_t from = SG_MAX(pos, r->off), to = SG_MIN(pos + clen, r->end);
	uint8_t none[1];
	int rc;

	if (clen == 0) {
		rc = stream_pull(&r->st, none, r->ct, ST_ABYTES);
	} else if (from == pos && to == pos + clen) {
		rc = stream_pull(&r->st, out->data + out->len, r->ct, clen + ST_ABYTES);
		if (rc == 0)
			out->len += clen;
	} else {
		if (r->tmp == NULL)
			r->tmp = sec_alloc(SEC_CHUNK);
		rc = stream_pull(&r->st, r->tmp, r->ct, clen + ST_ABYTES);
		if (rc == 0 && to > from)
			sec_buf_append(out, r->tmp + (from - pos), to - from);
		sodium_memzero(r->tmp, clen);
	}
	r->ct += clen + ST_ABYTES;
	return rc;
}

/* Reads [off, end) of a stream of plen plaintext bytes; end > off, or the
 * whole stream when plen is 0. */
static int
range_run(const uint8_t key[SEC_KEY_BYTES], const uint8_t *ct, uint64_t plen, uint64_t off,
    uint64_t end, struct sec_buf *out)
{
	struct range_read r;
	uint64_t last, i;
	size_t start = out->len;
	int rc = 0;

	if (stream_init_pull(&r.st, key, ct) != 0)
		return -1;
	r.ct = ct + ST_PREFIX;
	r.plen = plen;
	r.off = off;
	r.end = end;
	r.tmp = NULL;
	/* A range reaching the end also reads the FINAL chunk, so that a
	 * stream cut at a chunk boundary cannot pass for a whole one. */
	last = end == plen ? plen / SEC_CHUNK : (end - 1) / SEC_CHUNK;
	sec_buf_reserve(out, (size_t)(end - off));
	for (i = 0; i <= last && rc == 0; i++)
		rc = range_chunk(&r, i * SEC_CHUNK, out);
	sodium_memzero(&r.st, sizeof r.st);
	if (r.tmp != NULL)
		sec_free(r.tmp, SEC_CHUNK);
	if (rc != 0 && out->len > start) {
		sodium_memzero(out->data + start, out->len - start);
		out->len = start;
	}
	return rc;
}

int
sec_decrypt_range(const uint8_t key[SEC_KEY_BYTES], const uint8_t *ct, size_t len,
    uint64_t off, uint64_t n, struct sec_buf *out)
{
	int64_t plen = sec_plain_len(len);

	if (plen < 0 || ct[0] != SEC_VERSION)
		return -1;
	/* Nothing to read: no chunk is opened. */
	if (off >= (uint64_t)plen || n == 0)
		return 0;
	return range_run(key, ct, (uint64_t)plen, off, off + SG_MIN(n, (uint64_t)plen - off), out);
}

int
sec_decrypt(const uint8_t key[SEC_KEY_BYTES], const uint8_t *ct, size_t len,
    struct sec_buf *out)
{
	int64_t plen = sec_plain_len(len);

	if (plen < 0)
		return -1;
	return range_run(key, ct, (uint64_t)plen, 0, (uint64_t)plen, out);
}
