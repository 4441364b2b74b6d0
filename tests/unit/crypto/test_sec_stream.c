/*
 * test_sec_stream.c: secretstream message encryption: round trips at the
 * chunk boundaries and in odd piece sizes, exact lengths, ranges, and
 * tampering of every kind through every decryption path.
 */
#include "sec_test.h"

#include <string.h>

#define C		SEC_CHUNK
#define ABYTES		17
#define PREFIX		25
#define CT_CHUNK	(C + ABYTES)

static uint8_t key[SEC_KEY_BYTES];

static int
append_cb(void *arg, const uint8_t *pt, size_t len)
{
	sec_buf_append(arg, pt, len);
	return 0;
}

static uint8_t *
pattern(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n == 0 ? 1 : n);

	assert_non_null(p);
	fill_pattern(p, n, seed);
	return p;
}

/* piece 0: the one-shot sec_encrypt(). */
static void
encrypt_pieces(const uint8_t *pt, size_t n, size_t piece, struct sec_buf *out)
{
	struct sec_enc *e;
	size_t off;

	if (piece == 0) {
		sec_encrypt(key, pt, n, out);
		return;
	}
	e = sec_enc_new(key, out);
	for (off = 0; off < n; off += piece)
		sec_enc_update(e, pt + off, SG_MIN(piece, n - off));
	sec_enc_final(&e);
	assert_null(e);
}

/* The stream decoder fed in pieces; its plaintext is appended to out. */
static int
decrypt_pieces(const uint8_t *ct, size_t len, size_t piece, struct sec_buf *out)
{
	struct sec_dec *d = sec_dec_new(key, append_cb, out);
	size_t off;
	int rc = 0;

	for (off = 0; off < len && rc == 0; off += piece)
		rc = sec_dec_update(d, ct + off, SG_MIN(piece, len - off));
	if (rc != 0) {
		sec_dec_free(&d);
		assert_null(d);
		return rc;
	}
	rc = sec_dec_final(&d);
	assert_null(d);
	return rc;
}

static void
check_roundtrip(size_t n, size_t enc_piece, size_t dec_piece)
{
	uint8_t *pt = pattern(n, (uint32_t)n);
	struct sec_buf ct = { 0 }, out = { 0 };

	encrypt_pieces(pt, n, enc_piece, &ct);
	assert_int_equal(ct.len, n + SEC_STREAM_OVERHEAD(n));
	assert_int_equal(sec_plain_len(ct.len), (int64_t)n);
	assert_int_equal(ct.data[0], SEC_VERSION);

	assert_int_equal(sec_decrypt(key, ct.data, ct.len, &out), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data == NULL ? pt : out.data, pt, n);
	sec_buf_wipe(&out);

	assert_int_equal(decrypt_pieces(ct.data, ct.len, dec_piece, &out), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.data == NULL ? pt : out.data, pt, n);
	sec_buf_wipe(&out);
	sec_buf_free(&ct);
	free(pt);
}

static void
test_roundtrip_at_chunk_boundaries(void **state)
{
	static const size_t sizes[] = { 0, 1, C - 1, C, C + 1, 2 * C, 3 * C };
	static const size_t pieces[] = { 0, 1, 4096, C, C + 1 };
	size_t i, j;

	(void)state;
	sec_content_key_new(key);
	/* decrypt in other pieces than encrypt (1 byte up to just over a chunk) */
	for (i = 0; i < SG_NITEMS(sizes); i++) {
		for (j = 0; j < SG_NITEMS(pieces); j++)
			check_roundtrip(sizes[i], pieces[j], pieces[(j + 2) % SG_NITEMS(pieces)] +
			    1);
	}
}

static void
test_roundtrip_5mb_in_odd_pieces(void **state)
{
	static const size_t pieces[] = { 1, 7, 4096, 100000 };
	size_t i;

	(void)state;
	sec_content_key_new(key);
	for (i = 0; i < SG_NITEMS(pieces); i++)
		check_roundtrip(5 * 1024 * 1024, pieces[i], pieces[SG_NITEMS(pieces) - 1 - i]);
}

static void
test_encrypt_appends_to_existing_buffer(void **state)
{
	struct sec_buf ct = { 0 }, out = { 0 };
	uint8_t pt[100];

	(void)state;
	sec_content_key_new(key);
	fill_pattern(pt, sizeof pt, 3);
	sec_buf_append(&ct, "head", 4);
	sec_encrypt(key, pt, sizeof pt, &ct);
	assert_memory_equal(ct.data, "head", 4);
	sec_buf_append(&out, "x", 1);
	assert_int_equal(sec_decrypt(key, ct.data + 4, ct.len - 4, &out), 0);
	assert_int_equal(out.len, 1 + sizeof pt);
	assert_memory_equal(out.data + 1, pt, sizeof pt);
	sec_buf_wipe(&out);
	sec_buf_free(&ct);
}

static void
test_enc_writes_full_chunks_at_once(void **state)
{
	struct sec_buf ct = { 0 };
	uint8_t *pt = pattern(C + 10, 5);
	struct sec_enc *e;

	(void)state;
	sec_content_key_new(key);
	e = sec_enc_new(key, &ct);
	assert_int_equal(ct.len, PREFIX);
	sec_enc_update(e, pt, C - 1);
	assert_int_equal(ct.len, PREFIX);		/* buffered */
	sec_enc_update(e, pt + C - 1, 1);
	assert_int_equal(ct.len, PREFIX + CT_CHUNK);	/* a full chunk goes out */
	sec_enc_update(e, pt + C, 10);
	assert_int_equal(ct.len, PREFIX + CT_CHUNK);
	sec_enc_final(&e);
	assert_int_equal(ct.len, PREFIX + CT_CHUNK + 10 + ABYTES);
	sec_enc_final(&e);				/* NULL: no-op */
	sec_buf_free(&ct);
	free(pt);
}

static void
test_enc_free_abandons_stream(void **state)
{
	struct sec_buf ct = { 0 }, out = { 0 };
	struct sec_enc *e;
	uint8_t pt[100] = { 1 };

	(void)state;
	sec_content_key_new(key);
	e = sec_enc_new(key, &ct);
	sec_enc_update(e, pt, sizeof pt);
	sec_enc_free(&e);
	assert_null(e);
	sec_enc_free(&e);
	assert_int_equal(ct.len, PREFIX);
	assert_int_equal(sec_decrypt(key, ct.data, ct.len, &out), -1);
	assert_int_not_equal(decrypt_pieces(ct.data, ct.len, 7, &out), 0);
	assert_int_equal(out.len, 0);
	sec_buf_free(&ct);
}

/* Every length in a range is either exactly one plaintext length's
 * ciphertext (per SEC_STREAM_OVERHEAD) or impossible. */
static void
test_plain_len_is_exact(void **state)
{
	size_t max = PREFIX + 3 * CT_CHUNK + 200, n, x;
	int64_t *want = malloc((max + 1) * sizeof *want);

	(void)state;
	assert_non_null(want);
	for (x = 0; x <= max; x++)
		want[x] = -1;
	for (n = 0; n + SEC_STREAM_OVERHEAD(n) <= max; n++)
		want[n + SEC_STREAM_OVERHEAD(n)] = (int64_t)n;
	for (x = 0; x <= max; x++)
		assert_int_equal(sec_plain_len(x), want[x]);
	free(want);
	assert_int_equal(sec_plain_len(PREFIX + ABYTES - 1), -1);
	assert_int_equal(sec_plain_len(PREFIX + CT_CHUNK), -1);
	assert_int_equal(sec_plain_len(PREFIX + CT_CHUNK + ABYTES), C);
	assert_int_equal(sec_plain_len(SIZE_MAX), -1);
}

static void
test_decrypt_wrong_key_fails(void **state)
{
	struct sec_buf ct = { 0 }, out = { 0 };
	uint8_t other[SEC_KEY_BYTES];
	uint8_t *pt = pattern(C + 5, 9);

	(void)state;
	sec_content_key_new(key);
	sec_content_key_new(other);
	sec_encrypt(other, pt, C + 5, &ct);
	assert_int_equal(sec_decrypt(key, ct.data, ct.len, &out), -1);
	assert_int_equal(sec_decrypt_range(key, ct.data, ct.len, 0, 1, &out), -1);
	assert_int_not_equal(decrypt_pieces(ct.data, ct.len, 1000, &out), 0);
	assert_int_equal(out.len, 0);
	sec_buf_free(&out);
	sec_buf_free(&ct);
	free(pt);
}

/* ---- ranges ---- */

static void
check_range(const struct sec_buf *ct, const uint8_t *pt, size_t n, uint64_t off, uint64_t cnt)
{
	struct sec_buf out = { 0 };
	uint64_t end, want;

	sec_buf_append(&out, "pre", 3);
	assert_int_equal(sec_decrypt_range(key, ct->data, ct->len, off, cnt, &out), 0);
	end = off >= n ? off : off + SG_MIN(cnt, n - off);
	want = end - off;
	assert_int_equal(out.len, 3 + want);
	assert_memory_equal(out.data, "pre", 3);
	if (want > 0)
		assert_memory_equal(out.data + 3, pt + off, want);
	sec_buf_wipe(&out);
}

static void
check_ranges(size_t n)
{
	static const uint64_t lens[] = { 0, 1, 2, 10, C - 1, C, C + 1, 2 * C, UINT64_MAX };
	uint64_t offs[] = { 0, 1, C - 5, C - 1, C, C + 1, 2 * C - 1, 2 * C, 3 * C,
	    n - 1, n, n + 1, n + 100, UINT64_MAX };
	uint8_t *pt = pattern(n, 11);
	struct sec_buf ct = { 0 };
	size_t i, j;

	sec_encrypt(key, pt, n, &ct);
	for (i = 0; i < SG_NITEMS(offs); i++) {
		for (j = 0; j < SG_NITEMS(lens); j++)
			check_range(&ct, pt, n, offs[i], lens[j]);
	}
	sec_buf_free(&ct);
	free(pt);
}

static void
test_range_start_boundaries_and_clamp(void **state)
{
	(void)state;
	sec_content_key_new(key);
	check_ranges(3 * C + 1000);	/* ends with a short FINAL chunk */
	check_ranges(3 * C);		/* ends with an empty FINAL chunk */
	check_ranges(1);
}

static void
test_range_past_end_is_empty(void **state)
{
	struct sec_buf ct = { 0 }, out = { 0 };
	uint8_t pt[10] = { 0 };

	(void)state;
	sec_content_key_new(key);
	sec_encrypt(key, pt, sizeof pt, &ct);
	assert_int_equal(sec_decrypt_range(key, ct.data, ct.len, 10, 5, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(sec_decrypt_range(key, ct.data, ct.len, UINT64_MAX, UINT64_MAX, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(sec_decrypt_range(key, ct.data, ct.len, 5, UINT64_MAX, &out), 0);
	assert_int_equal(out.len, 5);
	sec_buf_wipe(&out);
	/* Even an empty message's stream is read through its FINAL chunk. */
	sec_buf_free(&ct);
	sec_encrypt(key, pt, 0, &ct);
	assert_int_equal(sec_decrypt(key, ct.data, ct.len, &out), 0);
	ct.data[ct.len - 1] ^= 1;
	assert_int_equal(sec_decrypt(key, ct.data, ct.len, &out), -1);
	assert_int_equal(out.len, 0);
	sec_buf_free(&ct);
}

/* ---- tampering ---- */

/* The chunks a range read opens: 0 .. last, or none (-1). */
static long
range_last_chunk(size_t n, uint64_t off, uint64_t cnt)
{
	uint64_t end;

	if (off >= n || cnt == 0)
		return -1;
	end = off + SG_MIN(cnt, n - off);
	return (long)(end == n ? n / C : (end - 1) / C);
}

/*
 * Decrypts a damaged ciphertext every way. Nothing may ever produce bytes
 * other than the original's; whole-message decryption must fail, and so
 * must every range read that opens chunk bad_chunk or a later one (of the
 * layout the damaged length implies: a range past its end opens nothing).
 */
static void
check_tampered(const uint8_t *ct, size_t len, const uint8_t *orig, size_t n, long bad_chunk)
{
	static const size_t pieces[] = { 1000, CT_CHUNK, SIZE_MAX };
	static const uint64_t ranges[][2] = {
		{ 0, 10 }, { 0, C }, { C - 5, 10 }, { C, C }, { 2 * C - 1, 2 }, { 3 * C, 50 },
		{ 3 * C + 50, 1000 }, { 0, UINT64_MAX }, { 5 * C, 1 },
	};
	int64_t dlen = sec_plain_len(len);
	struct sec_buf out = { 0 };
	size_t i;
	int rc;

	sec_buf_append(&out, "x", 1);
	assert_int_equal(sec_decrypt(key, ct, len, &out), -1);
	assert_int_equal(out.len, 1);
	sec_buf_free(&out);
	for (i = 0; i < SG_NITEMS(pieces); i++) {
		rc = decrypt_pieces(ct, len, pieces[i], &out);
		assert_int_not_equal(rc, 0);
		assert_true(out.len <= n);
		if (out.len > 0)
			assert_memory_equal(out.data, orig, out.len);
		sec_buf_wipe(&out);
	}
	for (i = 0; i < SG_NITEMS(ranges); i++) {
		rc = sec_decrypt_range(key, ct, len, ranges[i][0], ranges[i][1], &out);
		if (dlen < 0 || range_last_chunk((size_t)dlen, ranges[i][0], ranges[i][1]) >=
		    bad_chunk)
			assert_int_equal(rc, -1);
		if (rc != 0) {
			assert_int_equal(out.len, 0);
			continue;
		}
		if (out.len > 0) {
			assert_true(ranges[i][0] + out.len <= n);
			assert_memory_equal(out.data, orig + ranges[i][0], out.len);
		}
		sec_buf_wipe(&out);
	}
	sec_buf_free(&out);
}

static void
flip_and_check(const struct sec_buf *ct, const uint8_t *pt, size_t n, size_t pos)
{
	uint8_t *bad = malloc(ct->len);
	long chunk = pos < PREFIX ? 0 : (long)((pos - PREFIX) / CT_CHUNK);
	unsigned bit;

	assert_non_null(bad);
	for (bit = 0; bit < 8; bit++) {
		memcpy(bad, ct->data, ct->len);
		bad[pos] ^= (uint8_t)(1u << bit);
		check_tampered(bad, ct->len, pt, n, chunk);
	}
	free(bad);
}

static void
test_tamper_every_bit_class_fails(void **state)
{
	size_t n = 3 * C + 100, chunk, start, clen;
	uint8_t *pt = pattern(n, 21);
	struct sec_buf ct = { 0 };

	(void)state;
	sec_content_key_new(key);
	sec_encrypt(key, pt, n, &ct);
	flip_and_check(&ct, pt, n, 0);			/* version */
	flip_and_check(&ct, pt, n, 1);			/* header */
	flip_and_check(&ct, pt, n, 13);
	flip_and_check(&ct, pt, n, PREFIX - 1);
	for (chunk = 0; chunk < 4; chunk++) {
		start = PREFIX + chunk * CT_CHUNK;
		clen = chunk < 3 ? C : 100;
		flip_and_check(&ct, pt, n, start);		/* encrypted tag byte */
		flip_and_check(&ct, pt, n, start + 1);		/* ciphertext */
		flip_and_check(&ct, pt, n, start + 1 + clen / 2);
		flip_and_check(&ct, pt, n, start + clen);
		flip_and_check(&ct, pt, n, start + 1 + clen);	/* MAC */
		flip_and_check(&ct, pt, n, start + clen + ABYTES - 1);
	}
	flip_and_check(&ct, pt, n, ct.len - 1);
	sec_buf_free(&ct);
	free(pt);
}

static void
test_tamper_truncate_append_swap_fails(void **state)
{
	size_t n = 3 * C + 100;
	uint8_t *pt = pattern(n, 22);
	struct sec_buf ct = { 0 };
	uint8_t *bad;

	(void)state;
	sec_content_key_new(key);
	sec_encrypt(key, pt, n, &ct);
	bad = malloc(ct.len + 1);
	assert_non_null(bad);
	memcpy(bad, ct.data, ct.len);

	check_tampered(bad, ct.len - 1, pt, n, 3);		/* one byte short */
	check_tampered(bad, ct.len - CT_CHUNK, pt, n, 2);	/* a whole chunk short */
	check_tampered(bad, PREFIX + 3 * CT_CHUNK, pt, n, 0);	/* FINAL chunk dropped */
	check_tampered(bad, PREFIX + 3 * CT_CHUNK + ABYTES, pt, n, 3);
	check_tampered(bad, PREFIX, pt, n, 0);
	check_tampered(bad, 0, pt, n, 0);
	bad[ct.len] = 0;
	check_tampered(bad, ct.len + 1, pt, n, 3);		/* a byte after FINAL */

	memcpy(bad, ct.data, ct.len);				/* chunks 0 and 1 swapped */
	memcpy(bad + PREFIX, ct.data + PREFIX + CT_CHUNK, CT_CHUNK);
	memcpy(bad + PREFIX + CT_CHUNK, ct.data + PREFIX, CT_CHUNK);
	assert_memory_not_equal(bad + PREFIX, ct.data + PREFIX, CT_CHUNK);
	check_tampered(bad, ct.len, pt, n, 0);
	free(bad);
	sec_buf_free(&ct);
	free(pt);
}

static void
test_tamper_empty_final_chunk_dropped_fails(void **state)
{
	size_t n = 2 * C;
	uint8_t *pt = pattern(n, 23);
	struct sec_buf ct = { 0 };

	(void)state;
	sec_content_key_new(key);
	sec_encrypt(key, pt, n, &ct);
	assert_int_equal(ct.len, PREFIX + 2 * CT_CHUNK + ABYTES);
	check_tampered(ct.data, ct.len - ABYTES, pt, n, 0);
	check_tampered(ct.data, ct.len - ABYTES - CT_CHUNK, pt, n, 0);
	check_tampered(ct.data, ct.len - 1, pt, n, 2);
	sec_buf_free(&ct);
	free(pt);
}

/* ---- the decoder's contract ---- */

struct stop_arg {
	int	 calls;
	int	 rc;
};

static int
stop_cb(void *arg, const uint8_t *pt, size_t len)
{
	struct stop_arg *s = arg;

	(void)pt;
	(void)len;
	s->calls++;
	return s->rc;
}

static void
test_dec_callback_error_stops_decryption(void **state)
{
	struct stop_arg s = { 0, 7 };
	struct sec_buf ct = { 0 };
	uint8_t *pt = pattern(3 * C, 31);
	struct sec_dec *d;

	(void)state;
	sec_content_key_new(key);
	sec_encrypt(key, pt, 3 * C, &ct);
	d = sec_dec_new(key, stop_cb, &s);
	assert_int_equal(sec_dec_update(d, ct.data, ct.len), 7);
	assert_int_equal(s.calls, 1);
	assert_int_equal(sec_dec_update(d, ct.data, 1), 7);
	assert_int_equal(sec_dec_final(&d), 7);
	assert_null(d);
	assert_int_equal(s.calls, 1);
	sec_buf_free(&ct);
	free(pt);
}

static void
test_dec_final_without_full_header_fails(void **state)
{
	struct sec_buf ct = { 0 }, out = { 0 };
	struct sec_dec *d;

	(void)state;
	sec_content_key_new(key);
	sec_encrypt(key, "abc", 3, &ct);
	d = sec_dec_new(key, append_cb, &out);
	assert_int_equal(sec_dec_final(&d), -1);
	assert_null(d);
	d = sec_dec_new(key, append_cb, &out);
	assert_int_equal(sec_dec_update(d, ct.data, 10), 0);
	assert_int_equal(sec_dec_final(&d), -1);
	assert_int_equal(sec_dec_final(&d), -1);	/* NULL */
	sec_dec_free(&d);
	assert_int_equal(out.len, 0);
	sec_buf_free(&ct);
}

struct wipe_arg {
	const uint8_t	*prev;
	size_t		 prev_len;
	int		 calls;
	bool		 wiped;
};

/* On the second (short) chunk the buffer of the first must hold zeros
 * beyond the new plaintext: it was wiped after the first call. */
static int
wipe_cb(void *arg, const uint8_t *pt, size_t len)
{
	struct wipe_arg *w = arg;
	size_t i;

	if (w->calls++ == 1 && pt == w->prev) {
		w->wiped = true;
		for (i = len; i < w->prev_len; i++)
			w->wiped = w->wiped && pt[i] == 0;
	}
	w->prev = pt;
	w->prev_len = len;
	return 0;
}

static void
test_dec_wipes_plaintext_after_callback(void **state)
{
	struct wipe_arg w = { 0 };
	struct sec_buf ct = { 0 };
	uint8_t *pt = pattern(C + 10, 41);
	struct sec_dec *d;

	(void)state;
	memset(pt, 0xaa, C + 10);
	sec_content_key_new(key);
	sec_encrypt(key, pt, C + 10, &ct);
	d = sec_dec_new(key, wipe_cb, &w);
	assert_int_equal(sec_dec_update(d, ct.data, ct.len), 0);
	assert_int_equal(sec_dec_final(&d), 0);
	assert_int_equal(w.calls, 2);
	assert_true(w.wiped);
	sec_buf_free(&ct);
	free(pt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_at_chunk_boundaries),
		cmocka_unit_test(test_roundtrip_5mb_in_odd_pieces),
		cmocka_unit_test(test_encrypt_appends_to_existing_buffer),
		cmocka_unit_test(test_enc_writes_full_chunks_at_once),
		cmocka_unit_test(test_enc_free_abandons_stream),
		cmocka_unit_test(test_plain_len_is_exact),
		cmocka_unit_test(test_decrypt_wrong_key_fails),
		cmocka_unit_test(test_range_start_boundaries_and_clamp),
		cmocka_unit_test(test_range_past_end_is_empty),
		cmocka_unit_test(test_tamper_every_bit_class_fails),
		cmocka_unit_test(test_tamper_truncate_append_swap_fails),
		cmocka_unit_test(test_tamper_empty_final_chunk_dropped_fails),
		cmocka_unit_test(test_dec_callback_error_stops_decryption),
		cmocka_unit_test(test_dec_final_without_full_header_fails),
		cmocka_unit_test(test_dec_wipes_plaintext_after_callback),
	};

	return SEC_TEST_MAIN(tests);
}
