/*
 * test_mime_codec.c: decode(encode(x)) == x for every corpus message and
 * the stress messages; the decoder refuses truncated, extended, corrupted
 * and wrong-version input without reading out of bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <glib.h>

#include "mime/mime.h"
#include "mime_test_util.h"

static void
mt_roundtrip(const char *msg, size_t len)
{
	struct mime_summary *s = mime_summarize(msg, len), *d;
	unsigned char *buf;
	size_t blen;

	assert_int_equal(mime_summary_encode(s, &buf, &blen), 0);
	assert_int_equal(buf[0], MIME_SUMMARY_VERSION);
	d = mime_summary_decode(buf, blen);
	assert_non_null(d);
	assert_true(mime_summary_equal(s, d));
	mime_summary_free(&d);
	assert_null(d);
	free(buf);
	mime_summary_free(&s);
}

static void
test_corpus_roundtrips(void **state)
{
	char **names = mt_corpus(), *msg;
	size_t len, i;

	(void)state;
	for (i = 0; names[i] != NULL; i++) {
		msg = mt_read(names[i], &len);
		mt_roundtrip(msg, len);
		g_free(msg);
	}
	g_strfreev(names);
	mt_roundtrip("", 0);
}

static void
test_stress_messages_roundtrip(void **state)
{
	size_t len;
	char *msg;

	(void)state;
	msg = mt_gen_many(10000, &len);
	mt_roundtrip(msg, len);
	g_free(msg);
	msg = mt_gen_deep(100, &len);
	mt_roundtrip(msg, len);
	g_free(msg);
}

/* Every prefix and every one-byte change of a valid encoding is safe. */
static void
test_truncated_and_corrupted_input_is_refused_safely(void **state)
{
	size_t len, blen, i;
	char *msg = mt_read("rfc822_in_multipart.eml", &len);
	struct mime_summary *s = mime_summarize(msg, len), *d;
	unsigned char *buf, *copy;

	(void)state;
	assert_int_equal(mime_summary_encode(s, &buf, &blen), 0);
	for (i = 0; i < blen; i++) {
		copy = g_memdup2(buf, i);	/* exact-size copy: ASan sees overreads */
		assert_null(mime_summary_decode(copy, i));
		g_free(copy);
	}
	copy = g_malloc(blen + 1);
	memcpy(copy, buf, blen);
	copy[blen] = 0;
	assert_null(mime_summary_decode(copy, blen + 1));	/* trailing byte */
	for (i = 0; i < blen; i++) {
		memcpy(copy, buf, blen);
		copy[i] ^= 0xff;
		d = mime_summary_decode(copy, blen);
		mime_summary_free(&d);
	}
	memcpy(copy, buf, blen);
	copy[0] = MIME_SUMMARY_VERSION + 1;
	assert_null(mime_summary_decode(copy, blen));
	g_free(copy);
	free(buf);
	mime_summary_free(&s);
	g_free(msg);
}

static void
test_hostile_headers_are_refused(void **state)
{
	/* version, huge varint, overlong varint, header size > size */
	static const unsigned char v0[] = { 0 };
	static const unsigned char big[] = { 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0x01 };
	static const unsigned char hdr[] = { 1, 5, 6, 0 };
	static const unsigned char nodes[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0xff, 0xff, 0x03 };

	/* fuzz_mime_decode crash: string lengths checked before the last length */
	static const unsigned char lens[] = { 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 'a', 'b', 'c' };
	unsigned char *copy = g_memdup2(lens, sizeof lens);

	(void)state;
	assert_null(mime_summary_decode(copy, sizeof lens));
	g_free(copy);
	assert_null(mime_summary_decode(v0, sizeof v0));
	assert_null(mime_summary_decode(big, sizeof big));
	assert_null(mime_summary_decode(hdr, sizeof hdr));
	assert_null(mime_summary_decode(nodes, sizeof nodes));
	assert_null(mime_summary_decode(NULL, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_roundtrips),
		cmocka_unit_test(test_stress_messages_roundtrip),
		cmocka_unit_test(test_truncated_and_corrupted_input_is_refused_safely),
		cmocka_unit_test(test_hostile_headers_are_refused),
	};

	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
