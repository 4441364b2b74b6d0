/*
 * test_sec_token.c: invitation tokens, keyed hashes and base64.
 */
#include "sec_test.h"

#include <sodium.h>
#include <string.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
test_token_text_is_43_urlsafe_chars(void **state)
{
	uint8_t raw[SEC_TOKEN_BYTES], raw2[SEC_TOKEN_BYTES], back[SEC_TOKEN_BYTES];
	char text[SEC_TOKEN_TEXT_LEN + 1], text2[SEC_TOKEN_TEXT_LEN + 1];
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		sec_token_new(raw, text);
		assert_int_equal(strlen(text), SEC_TOKEN_TEXT_LEN);
		assert_int_equal(strspn(text, b64url), SEC_TOKEN_TEXT_LEN);
		assert_int_equal(sec_token_decode(text, SEC_TOKEN_TEXT_LEN, back), 0);
		assert_memory_equal(back, raw, SEC_TOKEN_BYTES);
	}
	sec_token_new(raw2, text2);
	assert_memory_not_equal(raw, raw2, SEC_TOKEN_BYTES);
	assert_string_not_equal(text, text2);
}

static void
test_token_decode_known_vector(void **state)
{
	/* fb ff ff ... ff: 111110 111111 ... 1111(00) */
	uint8_t raw[SEC_TOKEN_BYTES], want[SEC_TOKEN_BYTES];
	char text[SEC_TOKEN_TEXT_LEN + 1];

	(void)state;
	memset(want, 0xff, sizeof want);
	want[0] = 0xfb;
	text[0] = '-';
	memset(text + 1, '_', 41);
	text[42] = '8';
	text[43] = '\0';
	assert_int_equal(sec_token_decode(text, SEC_TOKEN_TEXT_LEN, raw), 0);
	assert_memory_equal(raw, want, sizeof want);
}

static void
check_rejected(const char *text, size_t len)
{
	static const uint8_t zero[SEC_TOKEN_BYTES];
	uint8_t raw[SEC_TOKEN_BYTES];

	memset(raw, 0x55, sizeof raw);
	assert_int_equal(sec_token_decode(text, len, raw), -1);
	assert_memory_equal(raw, zero, sizeof raw);
}

static void
test_token_decode_rejects_bad_text(void **state)
{
	/* libsodium 1.0.18 alone decodes bytes >= 0x80 as alphabet letters */
	static const char bad_chars[] = "=+/ \t\r\n.\x80\xc3\xff";
	uint8_t raw[SEC_TOKEN_BYTES];
	char text[SEC_TOKEN_TEXT_LEN + 2], t[SEC_TOKEN_TEXT_LEN + 2];
	size_t i, pos;

	(void)state;
	sec_token_new(raw, text);
	check_rejected(text, SEC_TOKEN_TEXT_LEN - 1);		/* 42 */
	memcpy(t, text, SEC_TOKEN_TEXT_LEN);
	t[SEC_TOKEN_TEXT_LEN] = 'A';
	check_rejected(t, SEC_TOKEN_TEXT_LEN + 1);		/* 44 */
	t[SEC_TOKEN_TEXT_LEN] = '=';
	check_rejected(t, SEC_TOKEN_TEXT_LEN + 1);		/* padded */
	check_rejected(text, 0);
	check_rejected(NULL, SEC_TOKEN_TEXT_LEN);
	for (i = 0; i < sizeof bad_chars - 1; i++) {
		for (pos = 0; pos < SEC_TOKEN_TEXT_LEN; pos += 6) {
			memcpy(t, text, SEC_TOKEN_TEXT_LEN);
			t[pos] = bad_chars[i];
			check_rejected(t, SEC_TOKEN_TEXT_LEN);
		}
	}
	memcpy(t, text, SEC_TOKEN_TEXT_LEN);
	t[20] = '\0';
	check_rejected(t, SEC_TOKEN_TEXT_LEN);
	/* 42 characters and one '=' of padding */
	memcpy(t, text, SEC_TOKEN_TEXT_LEN);
	t[SEC_TOKEN_TEXT_LEN - 1] = '=';
	check_rejected(t, SEC_TOKEN_TEXT_LEN);
	/* The last character carries 4 bits; the 2 spare ones must be zero,
	 * or two texts would name one token. */
	memcpy(t, text, SEC_TOKEN_TEXT_LEN);
	pos = (size_t)(strchr(b64url, t[SEC_TOKEN_TEXT_LEN - 1]) - b64url);
	t[SEC_TOKEN_TEXT_LEN - 1] = b64url[pos | 1];
	check_rejected(t, SEC_TOKEN_TEXT_LEN);
	assert_int_equal(sec_token_decode(text, SEC_TOKEN_TEXT_LEN, raw), 0);
}

static void
test_keyed_hash_is_keyed_blake2b(void **state)
{
	uint8_t key[SEC_KEY_BYTES], key2[SEC_KEY_BYTES];
	uint8_t h[SEC_HASH_BYTES], h2[SEC_HASH_BYTES], ref[SEC_HASH_BYTES];

	(void)state;
	sec_content_key_new(key);
	sec_content_key_new(key2);
	sec_keyed_hash(key, "alice@example.org", 17, h);
	crypto_generichash(ref, sizeof ref, (const uint8_t *)"alice@example.org", 17, key,
	    sizeof key);
	assert_memory_equal(h, ref, sizeof h);
	sec_keyed_hash(key, "alice@example.org", 17, h2);
	assert_memory_equal(h, h2, sizeof h);
	sec_keyed_hash(key2, "alice@example.org", 17, h2);
	assert_memory_not_equal(h, h2, sizeof h);
	sec_keyed_hash(key, "alice@example.orh", 17, h2);
	assert_memory_not_equal(h, h2, sizeof h);
	sec_keyed_hash(key, NULL, 0, h2);
	crypto_generichash(ref, sizeof ref, NULL, 0, key, sizeof key);
	assert_memory_equal(h2, ref, sizeof h2);
}

static void
test_keyed_hash2_separates_parts(void **state)
{
	uint8_t key[SEC_KEY_BYTES];
	uint8_t a[SEC_HASH_BYTES], b[SEC_HASH_BYTES], c[SEC_HASH_BYTES];

	(void)state;
	sec_content_key_new(key);
	sec_keyed_hash2(key, "ab", 2, "c", 1, a);
	sec_keyed_hash2(key, "a", 1, "bc", 2, b);
	assert_memory_not_equal(a, b, sizeof a);
	sec_keyed_hash2(key, "ab", 2, "c", 1, c);
	assert_memory_equal(a, c, sizeof a);
	sec_keyed_hash(key, "abc", 3, c);
	assert_memory_not_equal(a, c, sizeof a);
	sec_keyed_hash2(key, "", 0, "abc", 3, b);
	sec_keyed_hash2(key, "abc", 3, "", 0, c);
	assert_memory_not_equal(b, c, sizeof b);
	sec_keyed_hash2(key, NULL, 0, NULL, 0, c);
}

static void
test_base64_encode_known_vectors(void **state)
{
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
		{ "\xfb\xff", "+/8=" },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < SG_NITEMS(v); i++) {
		s = sec_base64_encode(v[i][0], strlen(v[i][0]));
		assert_string_equal(s, v[i][1]);
		free(s);
	}
}

static void
test_base64_decode_roundtrip_and_rejects(void **state)
{
	uint8_t out[16];
	size_t len = 99;

	(void)state;
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "Zm9vYmE=", 8), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "fooba", 5);
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "AGFsaWNlAHNlY3JldA==", 20), 0);
	assert_int_equal(len, 13);
	assert_memory_equal(out, "\0alice\0secret", 13);
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "+/8=", 4), 0);
	assert_int_equal(len, 2);
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "", 0), 0);
	assert_int_equal(len, 0);

	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "Zm9vYmE", 7), -1);
	assert_int_equal(len, 0);
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "Zm9v YmE=", 9), -1);
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "Zm9v\r\n", 6), -1);
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "-_8=", 4), -1);
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "Zm9v*A==", 8), -1);
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "Zm9vYmE==", 9), -1);
	/* libsodium 1.0.18 alone decodes bytes >= 0x80 as alphabet letters */
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "\x80m9v", 4), -1);
	assert_int_equal(sec_base64_decode(out, sizeof out, &len, "Zm9\xff", 4), -1);
	/* does not fit */
	assert_int_equal(sec_base64_decode(out, 4, &len, "Zm9vYmE=", 8), -1);
	assert_int_equal(len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_text_is_43_urlsafe_chars),
		cmocka_unit_test(test_token_decode_known_vector),
		cmocka_unit_test(test_token_decode_rejects_bad_text),
		cmocka_unit_test(test_keyed_hash_is_keyed_blake2b),
		cmocka_unit_test(test_keyed_hash2_separates_parts),
		cmocka_unit_test(test_base64_encode_known_vectors),
		cmocka_unit_test(test_base64_decode_roundtrip_and_rejects),
	};

	return SEC_TEST_MAIN(tests);
}
