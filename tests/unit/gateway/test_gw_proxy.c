/*
 * test_gw_proxy.c: the PROXY protocol parser: v1 and v2 headers, the
 * "read no further than the header" promise byte by byte, and every
 * malformed form a balancer would never send.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/gw_proxy.h"

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static enum gw_proxy_rc
parse(const void *buf, size_t len, struct gw_proxy_hdr *h, size_t *need)
{
	return gw_proxy_parse(buf, len, h, need);
}

static const char *
src_text(const struct gw_proxy_hdr *h, char *buf, size_t size)
{
	const void *a = h->src.ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)&h->src)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)&h->src)->sin6_addr;

	return inet_ntop(h->src.ss_family, a, buf, (socklen_t)size);
}

static unsigned
src_port(const struct gw_proxy_hdr *h)
{
	return h->src.ss_family == AF_INET ?
	    ntohs(((const struct sockaddr_in *)&h->src)->sin_port) :
	    ntohs(((const struct sockaddr_in6 *)&h->src)->sin6_port);
}

/* Feed the header as the listener does, reading exactly what the parser
 * asks for, with more bytes after the header that must never be read. */
static enum gw_proxy_rc
feed_as_listener(const uint8_t *wire, size_t wire_len, struct gw_proxy_hdr *h, size_t *taken)
{
	size_t have = 0, need = 0;
	enum gw_proxy_rc rc;

	for (;;) {
		rc = gw_proxy_parse(wire, have, h, &need);
		if (rc != GW_PROXY_MORE)
			break;
		assert_true(need >= 1);
		assert_true(have + need <= wire_len);
		have += need;
	}
	*taken = have;
	return rc;
}

static void
test_v1_tcp4(void **state)
{
	static const char in[] = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 993\r\n";
	struct gw_proxy_hdr h;
	size_t need;
	char buf[64];

	(void)state;
	assert_int_equal(parse(in, sizeof in - 1, &h, &need), GW_PROXY_OK);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.len, sizeof in - 1);
	assert_true(h.has_addr);
	assert_string_equal(src_text(&h, buf, sizeof buf), "192.0.2.10");
	assert_int_equal(src_port(&h), 56324);
}

static void
test_v1_tcp6(void **state)
{
	static const char in[] = "PROXY TCP6 2001:db8::7 2001:db8::1 65535 143\r\nA1 NOOP\r\n";
	struct gw_proxy_hdr h;
	size_t need;
	char buf[64];

	(void)state;
	assert_int_equal(parse(in, sizeof in - 1, &h, &need), GW_PROXY_OK);
	assert_int_equal(h.len, strlen("PROXY TCP6 2001:db8::7 2001:db8::1 65535 143\r\n"));
	assert_string_equal(src_text(&h, buf, sizeof buf), "2001:db8::7");
	assert_int_equal(src_port(&h), 65535);
}

static void
test_v1_unknown_keeps_real_peer(void **state)
{
	struct gw_proxy_hdr h;
	size_t need;

	(void)state;
	assert_int_equal(parse("PROXY UNKNOWN\r\n", 15, &h, &need), GW_PROXY_OK);
	assert_false(h.has_addr);
	assert_int_equal(h.len, 15);
	assert_int_equal(parse("PROXY UNKNOWN ffff:f::1 ffff::2 1 2\r\n", 37, &h, &need),
	    GW_PROXY_OK);
	assert_false(h.has_addr);
}

static void
test_v1_malformed(void **state)
{
	static const char *const bad[] = {
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324\r\n",		/* no port */
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324 993 x\r\n",	/* extra */
		"PROXY TCP4  192.0.2.10 198.51.100.1 56324 993\r\n",	/* double space */
		"PROXY TCP4 192.0.2.10 198.51.100.1 056324 993\r\n",	/* leading zero */
		"PROXY TCP4 192.0.2.10 198.51.100.1 65536 993\r\n",	/* port range */
		"PROXY TCP4 2001:db8::1 198.51.100.1 1 993\r\n",	/* family */
		"PROXY TCP6 192.0.2.10 2001:db8::1 1 993\r\n",
		"PROXY TCP4 192.0.2.300 198.51.100.1 1 993\r\n",
		"PROXY UDP4 192.0.2.10 198.51.100.1 1 993\r\n",
		"PROXY TCP4 192.0.2.10 198.51.100.1 1 993\n",		/* bare LF */
		"PROXY TCP4 192.0.2.10\r198.51.100.1 1 993\r\n",	/* bare CR */
		"PROXY\tTCP4 192.0.2.10 198.51.100.1 1 993\r\n",
		"proxy TCP4 192.0.2.10 198.51.100.1 1 993\r\n",
		"GET / HTTP/1.0\r\n",
		"A1 LOGIN a b\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",		/* a TLS ClientHello */
	};
	struct gw_proxy_hdr h;
	size_t i, need;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(parse(bad[i], strlen(bad[i]), &h, &need), GW_PROXY_INVALID);
}

static void
test_v1_line_limit_at_107_and_108(void **state)
{
	char line[200];
	struct gw_proxy_hdr h;
	size_t need;

	(void)state;
	/* UNKNOWN with filler: exactly 107 bytes with CRLF is fine... */
	memset(line, 'x', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	assert_int_equal(parse(line, 107, &h, &need), GW_PROXY_OK);
	assert_int_equal(h.len, 107);
	/* ...108 is not, and 107 bytes without an end is not either. */
	memset(line, 'x', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 106, "\r\n", 2);
	assert_int_equal(parse(line, 108, &h, &need), GW_PROXY_INVALID);
	assert_int_equal(parse(line, 107, &h, &need), GW_PROXY_INVALID);
	/* 106 bytes, no CR yet: exactly one more may come (the 107th). */
	assert_int_equal(parse(line, 105, &h, &need), GW_PROXY_MORE);
	assert_int_equal(need, 2);
	assert_int_equal(parse(line, 106, &h, &need), GW_PROXY_MORE);
	assert_int_equal(need, 1);
}

static size_t
v2_header(uint8_t *out, uint8_t cmd, uint8_t fam, const uint8_t *body, size_t blen)
{
	memcpy(out, v2_sig, 12);
	out[12] = cmd;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	if (blen > 0)
		memcpy(out + 16, body, blen);	/* body may be NULL for LOCAL/UNSPEC */
	return 16 + blen;
}

static void
test_v2_tcp4_with_tlv(void **state)
{
	/* src 203.0.113.9:40000, dst 10.0.0.1:993, then a PP2_TYPE_ALPN TLV */
	static const uint8_t body[] = { 203, 0, 113, 9, 10, 0, 0, 1, 0x9c, 0x40, 0x03, 0xe1,
	    0x01, 0x00, 0x02, 'h', '2' };
	uint8_t wire[64];
	struct gw_proxy_hdr h;
	size_t n = v2_header(wire, 0x21, 0x11, body, sizeof body), need;
	char buf[64];

	(void)state;
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_OK);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.len, n);
	assert_true(h.has_addr);
	assert_string_equal(src_text(&h, buf, sizeof buf), "203.0.113.9");
	assert_int_equal(src_port(&h), 40000);
}

static void
test_v2_tcp6(void **state)
{
	uint8_t body[36] = { 0x20, 0x01, 0x0d, 0xb8 }, wire[64];
	struct gw_proxy_hdr h;
	size_t n, need;
	char buf[64];

	(void)state;
	body[15] = 0x42;
	body[32] = 0x01;
	body[33] = 0x02;
	n = v2_header(wire, 0x21, 0x21, body, sizeof body);
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_OK);
	assert_string_equal(src_text(&h, buf, sizeof buf), "2001:db8::42");
	assert_int_equal(src_port(&h), 258);
}

static void
test_v2_local_and_unspec_keep_real_peer(void **state)
{
	uint8_t wire[64];
	struct gw_proxy_hdr h;
	size_t n, need;

	(void)state;
	n = v2_header(wire, 0x20, 0x00, NULL, 0);
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_OK);
	assert_false(h.has_addr);
	assert_int_equal(h.len, 16);
	n = v2_header(wire, 0x21, 0x00, NULL, 0);
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_OK);
	assert_false(h.has_addr);
}

static void
test_v2_malformed(void **state)
{
	static const uint8_t short4[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t wire[64];
	struct gw_proxy_hdr h;
	size_t n, need;

	(void)state;
	n = v2_header(wire, 0x11, 0x11, short4, sizeof short4);	/* version 1 */
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_INVALID);
	n = v2_header(wire, 0x22, 0x11, short4, sizeof short4);	/* command 2 */
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_INVALID);
	n = v2_header(wire, 0x21, 0x11, short4, sizeof short4);	/* body too short */
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_INVALID);
	n = v2_header(wire, 0x21, 0x41, short4, sizeof short4);	/* family 4 */
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_INVALID);
	wire[11] = 0x0b;					/* signature */
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_INVALID);
}

static void
test_v2_body_limit_at_max_and_max_plus_one(void **state)
{
	static uint8_t wire[GW_PROXY_MAX + 1];
	static const uint8_t zero[GW_PROXY_V2_BODY_MAX + 1];
	struct gw_proxy_hdr h;
	size_t n, need;

	(void)state;
	n = v2_header(wire, 0x21, 0x11, zero, GW_PROXY_V2_BODY_MAX);
	assert_int_equal(parse(wire, n, &h, &need), GW_PROXY_OK);
	assert_int_equal(h.len, GW_PROXY_MAX);
	n = v2_header(wire, 0x21, 0x11, zero, GW_PROXY_V2_BODY_MAX + 1);
	assert_int_equal(parse(wire, 16, &h, &need), GW_PROXY_INVALID);
}

/* Byte by byte: "need more" until the last byte, then the same answer as
 * feeding the whole, and never a request to read past the header. */
static void
test_incremental_never_reads_past_header(void **state)
{
	static const char *const v1[] = {
		"PROXY TCP4 192.0.2.10 198.51.100.1 56324 993\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY TCP6 ::1 ::1 1 2\r\n",
	};
	static const uint8_t body[] = { 203, 0, 113, 9, 10, 0, 0, 1, 0x9c, 0x40, 0x03, 0xe1 };
	static const char trailer[] = "\x16\x03\x01 after the header";
	uint8_t wire[256];
	struct gw_proxy_hdr h, whole;
	size_t i, n, k, need, taken;

	(void)state;
	for (i = 0; i < sizeof v1 / sizeof v1[0]; i++) {
		n = strlen(v1[i]);
		memcpy(wire, v1[i], n);
		memcpy(wire + n, trailer, sizeof trailer);
		assert_int_equal(parse(wire, n, &whole, &need), GW_PROXY_OK);
		for (k = 0; k < n; k++)
			assert_int_equal(parse(wire, k, &h, &need), GW_PROXY_MORE);
		assert_int_equal(feed_as_listener(wire, n, &h, &taken), GW_PROXY_OK);
		assert_int_equal(taken, n);
		assert_int_equal(h.len, whole.len);
		assert_memory_equal(&h.src, &whole.src, sizeof h.src);
	}
	n = v2_header(wire, 0x21, 0x11, body, sizeof body);
	for (k = 0; k < n; k++)
		assert_int_equal(parse(wire, k, &h, &need), GW_PROXY_MORE);
	assert_int_equal(feed_as_listener(wire, n, &h, &taken), GW_PROXY_OK);
	assert_int_equal(taken, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_unknown_keeps_real_peer),
		cmocka_unit_test(test_v1_malformed),
		cmocka_unit_test(test_v1_line_limit_at_107_and_108),
		cmocka_unit_test(test_v2_tcp4_with_tlv),
		cmocka_unit_test(test_v2_tcp6),
		cmocka_unit_test(test_v2_local_and_unspec_keep_real_peer),
		cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_v2_body_limit_at_max_and_max_plus_one),
		cmocka_unit_test(test_incremental_never_reads_past_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
