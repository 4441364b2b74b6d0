/*
 * test_mime_summary.c: mime_summarize() never fails and its offsets always
 * slice the input: stress messages (2 MB header line, 100-deep nesting,
 * 10,000 parts, 20 MB attachment, random bytes), plus timing printed as
 * TAP comments (µs per 4 KiB and 100 KiB message, per decode).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <glib.h>

#include "mime/mime_private.h"
#include "mime_test_util.h"

/*
 * Every node inside the message and inside its parent, children in order.
 * One exception, as in Dovecot: a part whose header's blank line is also
 * the line break that belongs to the next boundary has an empty body just
 * past its parent's end.
 */
static void
mt_check_offsets(const struct mime_summary *s, size_t len)
{
	uint32_t i, prev;

	assert_int_equal(s->size, len);
	assert_true(s->nnodes >= 1);
	assert_int_equal(s->nodes[0].body_off, s->hdr_len);
	for (i = 0; i < s->nnodes; i++) {
		const struct mime_node *n = &s->nodes[i], *p;

		assert_true(n->hdr_off <= n->body_off);
		assert_true(n->body_off <= n->body_end);
		assert_true(n->body_end <= len);
		if (i == 0)
			continue;
		p = &s->nodes[n->parent];
		assert_true(n->hdr_off >= p->body_off);
		assert_true(n->body_end <= p->body_end || n->body_off == n->body_end);
	}
	for (i = 0; i < s->nnodes; i++) {
		prev = MIME_NONE;
		for (uint32_t c = s->nodes[i].first_child; c != MIME_NONE;
		    c = s->nodes[c].next_sibling) {
			if (prev != MIME_NONE)
				assert_true(s->nodes[prev].body_end <= s->nodes[c].hdr_off);
			prev = c;
		}
	}
}

static struct mime_summary *
mt_sum(const char *msg, size_t len)
{
	struct mime_summary *s = mime_summarize(msg, len);

	assert_non_null(s);
	mt_check_offsets(s, len);
	return s;
}

static void
test_two_megabyte_header_line(void **state)
{
	size_t len, hlen;
	char *msg = mt_gen_big_header(2u * 1024 * 1024, &len);
	struct mime_summary *s = mt_sum(msg, len);
	bool complete;

	(void)state;
	mime_summary_header(s, &hlen, &complete);
	assert_false(complete);
	assert_int_equal(hlen, MIME_HEADER_COPY_MAX);
	assert_true(mime_search_match(s, MIME_FIELD_SUBJECT, "after the big", 13));
	mime_summary_free(&s);
	g_free(msg);
}

/* Past MIME_DEPTH_MAX the innermost containers become opaque leaves. */
static void
test_hundred_deep_nesting_is_capped(void **state)
{
	size_t len, bl;
	char *msg = mt_gen_deep(100, &len);
	struct mime_summary *s = mt_sum(msg, len);
	const char *bs = mime_summary_bodystructure(s, &bl);

	(void)state;
	assert_int_equal(s->nnodes, MIME_DEPTH_MAX + 1);
	assert_non_null(g_strstr_len(bs, (gssize)bl, "\"application\" \"octet-stream\""));
	mime_summary_free(&s);
	g_free(msg);
}

static void
test_part_cap(void **state)
{
	size_t len;
	char *msg = mt_gen_many(MIME_PARTS_MAX + 10, &len);
	struct mime_summary *s = mt_sum(msg, len);

	(void)state;
	assert_int_equal(s->nnodes, MIME_PARTS_MAX);
	mime_summary_free(&s);
	g_free(msg);
}

static void
test_twenty_megabyte_attachment(void **state)
{
	size_t len;
	char *msg = mt_gen_attachment(20u * 1024 * 1024, &len);
	struct mime_summary *s = mt_sum(msg, len);

	(void)state;
	assert_int_equal(s->nnodes, 3);
	assert_true(s->nodes[2].body_end - s->nodes[2].body_off > 20u * 1024 * 1024);
	mime_summary_free(&s);
	g_free(msg);
}

/* Random bytes, with MIME-looking lines mixed in, never break the summary. */
static void
test_random_input(void **state)
{
	static const char *const frags[] = { "\r\n", "\n", "--b\r\n", "--b--\n", "\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=b\r\n",
		"Content-Type: message/rfc822\n", "From: \"x\" <a@b>, (c\n", "\0", "=?utf-8?q?" };
	GRand *r = g_rand_new_with_seed(42);
	GString *m = g_string_new(NULL);
	int i, k;

	(void)state;
	for (i = 0; i < 2000; i++) {
		g_string_truncate(m, 0);
		for (k = g_rand_int_range(r, 0, 40); k > 0; k--) {
			if (g_rand_boolean(r)) {
				const char *f = frags[g_rand_int_range(r, 0, SG_NITEMS(frags))];

				g_string_append_len(m, f, f[0] == '\0' ? 1 : (gssize)strlen(f));
			} else {
				g_string_append_c(m, (char)g_rand_int_range(r, 0, 256));
			}
		}
		struct mime_summary *s = mt_sum(m->str, m->len);

		mime_summary_free(&s);
	}
	g_string_free(m, TRUE);
	g_rand_free(r);
}

static double
mt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A typical message: headers, text and HTML alternatives, about size bytes. */
static char *
mt_typical(size_t size, size_t *len_out)
{
	GString *s = g_string_new("Received: from mta.example.com (mta [192.0.2.1]) by gw.example.net;"
	    " Tue, 1 Jul 2003 10:52:37 +0200\r\nFrom: \"Alice Example\" <alice@example.com>\r\n"
	    "To: Bob <bob@ext.test>, carol@ext.test\r\nCc: =?utf-8?q?Ren=C3=A9e?= <renee@ext.test>\r\n"
	    "Subject: =?utf-8?q?Quarterly_r=C3=A9port?=\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
	    "Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
	    "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	size_t half = size / 2;

	while (s->len < half)
		g_string_append(s, "Lorem ipsum dolor sit amet, consectetur adipiscing elit, caf=C3=A9.\r\n");
	g_string_append(s, "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>");
	while (s->len < size - 40)
		g_string_append(s, "<p>Lorem ipsum <b>dolor</b> sit amet.</p>\r\n");
	g_string_append(s, "</body></html>\r\n--alt--\r\n");
	*len_out = s->len;
	return g_string_free(s, FALSE);
}

static void
mt_bench(const char *what, const char *msg, size_t len, int iters)
{
	struct mime_summary *s = NULL, *d;
	unsigned char *buf;
	size_t blen;
	double t0, t1, t2;
	int i;

	t0 = mt_now();
	for (i = 0; i < iters; i++) {
		mime_summary_free(&s);
		s = mime_summarize(msg, len);
	}
	t1 = mt_now();
	assert_int_equal(mime_summary_encode(s, &buf, &blen), 0);
	for (i = 0; i < iters * 10; i++) {
		d = mime_summary_decode(buf, blen);
		mime_summary_free(&d);
	}
	t2 = mt_now();
	print_message("# bench %s (%zu bytes): summarize %.1f us, decode %.2f us (summary %zu bytes)\n",
	    what, len, (t1 - t0) * 1e6 / iters, (t2 - t1) * 1e6 / (iters * 10), blen);
	free(buf);
	mime_summary_free(&s);
}

static void
test_timing(void **state)
{
	size_t len;
	char *msg;

	(void)state;
	msg = mt_typical(4096, &len);
	mt_bench("4KiB", msg, len, 2000);
	g_free(msg);
	msg = mt_typical(100 * 1024, &len);
	mt_bench("100KiB", msg, len, 200);
	g_free(msg);
	msg = mt_gen_attachment(100 * 1024, &len);
	mt_bench("100KiB-attachment", msg, len, 500);
	g_free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_megabyte_header_line),
		cmocka_unit_test(test_hundred_deep_nesting_is_capped),
		cmocka_unit_test(test_part_cap),
		cmocka_unit_test(test_twenty_megabyte_attachment),
		cmocka_unit_test(test_random_input),
		cmocka_unit_test(test_timing),
	};

	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
