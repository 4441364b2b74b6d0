/*
 * test_imap_utf7.c: modified UTF-7 (imap_utf7.c): RFC 3501 5.1.3 examples,
 * every non-canonical form the strict decoder refuses, UTF-8 validation,
 * buffer sizes, and a round trip over random code points.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap_utf7.h"

static void
check_pair(const char *utf7, const char *utf8)
{
	char out[256];
	size_t n;

	assert_int_equal(imap_utf7_decode(utf7, strlen(utf7), out, sizeof out, &n), IMAP_UTF7_OK);
	assert_int_equal(n, strlen(utf8));
	assert_string_equal(out, utf8);
	assert_int_equal(imap_utf7_encode(utf8, strlen(utf8), out, sizeof out, &n), IMAP_UTF7_OK);
	assert_int_equal(n, strlen(utf7));
	assert_string_equal(out, utf7);
	assert_true(imap_utf7_valid(utf7, strlen(utf7)));
}

static void
test_utf7_examples(void **state)
{
	(void)state;
	check_pair("INBOX", "INBOX");
	check_pair("", "");
	check_pair("&-", "&");
	check_pair("a&-b&-", "a&b&");
	check_pair("Entw&APw-rfe", "Entw\xc3\xbcrfe");
	check_pair("Envoy&AOk-s", "Envoy\xc3\xa9s");
	check_pair("&AOkA6Q-", "\xc3\xa9\xc3\xa9");
	/* RFC 3501 5.1.3 */
	check_pair("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	check_pair("&2D3eAA-", "\xf0\x9f\x98\x80");	/* a surrogate pair */
	check_pair("&AAk-", "\t");			/* controls are encoded */
	check_pair("&AH8-", "\x7f");
}

static void
test_utf7_refuses_noncanonical(void **state)
{
	static const char *const bad[] = {
		"&",		/* no run, no "-" */
		"&AOk",		/* missing "-" */
		"a&AOk-&",	/* "&" at the end */
		"&AGE-",	/* "a" must represent itself */
		"&ACY-",	/* "&" must be "&-" */
		"&ACA-",	/* " " too */
		"&AOk-&AOk-",	/* two adjacent runs */
		"&AOl-",	/* non-zero padding bits */
		"&AOkA-",	/* a whole extra sextet */
		"&A-",		/* less than a unit */
		"&2D0-",	/* lone high surrogate */
		"&3gA-",	/* lone low surrogate */
		"&2D3YPQ-",	/* high surrogate then another high */
		"&AAA-",	/* U+0000 */
		"&A/k-",	/* "/" is not in the modified alphabet */
		"&A?k-",
		"\t",		/* raw control */
		"\x7f",
		"\xc3\xa9",	/* raw 8-bit */
		"a\0b",
	};
	char out[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = strlen(bad[i]);

		if (i == sizeof bad / sizeof bad[0] - 1)
			len = 3;
		assert_false(imap_utf7_valid(bad[i], len));
		assert_int_equal(imap_utf7_decode(bad[i], len, out, sizeof out, &n),
		    IMAP_UTF7_INVALID);
		assert_string_equal(out, "");
	}
}

static void
test_utf8_validation(void **state)
{
	static const char *const bad[] = {
		"\xc0\xaf",		/* overlong "/" */
		"\xe0\x80\xaf",		/* overlong */
		"\xf0\x80\x80\xaf",	/* overlong */
		"\xed\xa0\x80",		/* a surrogate */
		"\xf4\x90\x80\x80",	/* past U+10FFFF */
		"\xc3",			/* truncated */
		"\xe6\x97",
		"\x80",			/* lone continuation */
		"\xff",
		"\xc3\x28",
	};
	char out[64];
	size_t i, n;

	(void)state;
	assert_true(imap_utf8_valid("", 0));
	assert_true(imap_utf8_valid("plain", 5));
	assert_true(imap_utf8_valid("\xf4\x8f\xbf\xbf", 4));	/* U+10FFFF */
	assert_true(imap_utf8_valid("\xef\xbf\xbf", 3));
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_false(imap_utf8_valid(bad[i], strlen(bad[i])));
		assert_int_equal(imap_utf7_encode(bad[i], strlen(bad[i]), out, sizeof out, &n),
		    IMAP_UTF7_INVALID);
	}
	assert_int_equal(imap_utf7_encode("a\0b", 3, out, sizeof out, &n), IMAP_UTF7_INVALID);
}

static void
test_utf7_buffer_sizes(void **state)
{
	char out[16];
	size_t n;

	(void)state;
	/* "Entw&APw-rfe" needs 12 + 1 */
	assert_int_equal(imap_utf7_encode("Entw\xc3\xbcrfe", 9, out, 13, &n), IMAP_UTF7_OK);
	assert_int_equal(imap_utf7_encode("Entw\xc3\xbcrfe", 9, out, 12, &n), IMAP_UTF7_SPACE);
	assert_int_equal(imap_utf7_decode("Entw&APw-rfe", 12, out, 10, &n), IMAP_UTF7_OK);
	assert_int_equal(imap_utf7_decode("Entw&APw-rfe", 12, out, 9, &n), IMAP_UTF7_SPACE);
	assert_string_equal(out, "");
	assert_int_equal(imap_utf7_decode("", 0, out, 1, &n), IMAP_UTF7_OK);
	assert_int_equal(imap_utf7_decode("a", 1, out, 0, &n), IMAP_UTF7_SPACE);
	assert_true(imap_utf7_decode_max(12) >= 13);
	assert_int_equal(imap_utf7_encode_max(SIZE_MAX), SIZE_MAX);
}

static size_t
put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Any valid UTF-8 name (no NUL) encodes, and decodes back to itself. */
static void
test_utf7_round_trip_random(void **state)
{
	char in[200], enc[700], dec[1500];
	size_t len, elen, dlen, k;
	uint32_t seed = 12345, cp;
	int round;

	(void)state;
	for (round = 0; round < 5000; round++) {
		len = 0;
		for (k = 0; k < 40; k++) {
			seed = seed * 1103515245u + 12345u;
			switch ((seed >> 16) % 4) {
			case 0:
				cp = 0x20 + (seed >> 8) % 0x5f;	/* printable, "&" included */
				break;
			case 1:
				cp = 1 + (seed >> 8) % 0xff;
				break;
			case 2:
				cp = 0x100 + (seed >> 4) % 0xd700;
				break;
			default:
				cp = 0x10000 + (seed >> 4) % 0x100000;
				break;
			}
			len += put_utf8(in + len, cp);
		}
		assert_true(imap_utf8_valid(in, len));
		assert_true(imap_utf7_encode_max(len) <= sizeof enc);
		assert_int_equal(imap_utf7_encode(in, len, enc, sizeof enc, &elen), IMAP_UTF7_OK);
		assert_true(imap_utf7_valid(enc, elen));
		assert_true(imap_utf7_decode_max(elen) <= sizeof dec);
		assert_int_equal(imap_utf7_decode(enc, elen, dec, sizeof dec, &dlen), IMAP_UTF7_OK);
		assert_int_equal(dlen, len);
		assert_memory_equal(dec, in, len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf7_examples),
		cmocka_unit_test(test_utf7_refuses_noncanonical),
		cmocka_unit_test(test_utf8_validation),
		cmocka_unit_test(test_utf7_buffer_sizes),
		cmocka_unit_test(test_utf7_round_trip_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
