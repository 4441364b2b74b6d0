/*
 * test_mime_section.c: section specs (RFC 3501 6.4.5) parsed and resolved
 * to exact byte slices, with Dovecot's rules for missing parts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <glib.h>

#include "mime/mime.h"
#include "mime_test_util.h"

struct mt_case {
	const char	*spec;
	const char	*want;	/* NULL: MIME_RANGE_EMPTY */
};

static void
mt_check_cases(const char *file, const struct mt_case *c, size_t n)
{
	size_t len, i, got_len;
	char *msg = mt_read(file, &len), *got;
	struct mime_summary *s = mime_summarize(msg, len);
	struct mime_section sec;
	struct mime_range r;

	for (i = 0; i < n; i++) {
		assert_int_equal(mime_section_parse(c[i].spec, strlen(c[i].spec), &sec), 0);
		if (c[i].want == NULL) {
			assert_int_equal(mime_section_range(s, &sec, &r), MIME_RANGE_EMPTY);
			continue;
		}
		got = mt_section(s, msg, c[i].spec, &got_len);
		if (strlen(c[i].want) != got_len || memcmp(got, c[i].want, got_len) != 0)
			print_error("%s [%s]: got \"%s\"\n", file, c[i].spec, got);
		assert_int_equal(got_len, strlen(c[i].want));
		assert_memory_equal(got, c[i].want, got_len);
		g_free(got);
	}
	mime_summary_free(&s);
	g_free(msg);
}

static void
test_rfc822_in_multipart_sections(void **state)
{
	static const struct mt_case c[] = {
		{ "1", "See the forwarded message." },
		{ "1.MIME", "Content-Type: text/plain\r\n\r\n" },
		{ "1.TEXT", NULL },		/* not message/rfc822 */
		{ "1.HEADER", NULL },
		{ "2.MIME", "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" },
		{ "2.1", "original text" },
		{ "2.2", "<b>original</b>" },
		{ "2.2.MIME", "Content-Type: text/html\r\n\r\n" },
		{ "2.1.1", "original text" },	/* a leaf's part 1 is itself */
		{ "2.1.2", NULL },
		{ "2.3", NULL },
		{ "3", NULL },
		{ "2.TEXT", "--b2\r\nContent-Type: text/plain\r\n\r\noriginal text\r\n--b2\r\n"
		    "Content-Type: text/html\r\n\r\n<b>original</b>\r\n--b2--" },
		{ "2.HEADER", "From: Carol <carol@example.org>\r\nTo: alice@example.com\r\n"
		    "Subject: original\r\nDate: Mon, 30 Jun 2003 09:00:00 -0700\r\n"
		    "Message-ID: <orig@example.org>\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n" },
	};

	(void)state;
	mt_check_cases("rfc822_in_multipart.eml", c, SG_NITEMS(c));
}

/* RFC 3501 6.4.5: a non-multipart message has only part 1, its body. */
static void
test_single_part_sections(void **state)
{
	static const struct mt_case c[] = {
		{ "1", "just text\r\n" },
		{ "TEXT", "just text\r\n" },
		{ "1.MIME", "From: alice@example.com\r\nSubject: no content type\r\n\r\n" },
		{ "HEADER", "From: alice@example.com\r\nSubject: no content type\r\n\r\n" },
		{ "2", NULL },
		{ "1.1", NULL },		/* Dovecot: no path below a leaf */
		{ "1.2", NULL },
		{ "1.1.1", NULL },
	};

	(void)state;
	mt_check_cases("no_content_type.eml", c, SG_NITEMS(c));
}

static void
test_toplevel_rfc822_sections(void **state)
{
	static const struct mt_case c[] = {
		{ "1.HEADER", "From: inner@example.org\r\nSubject: inner message\r\n\r\n" },
		{ "1.TEXT", "inner body\r\n" },
		{ "1.1", "inner body\r\n" },
		{ "1", "From: inner@example.org\r\nSubject: inner message\r\n\r\ninner body\r\n" },
	};

	(void)state;
	mt_check_cases("rfc822_toplevel.eml", c, SG_NITEMS(c));
}

static void
test_bare_lf_and_missing_boundary_sections(void **state)
{
	static const struct mt_case lf[] = {
		{ "1", "first part" },
		{ "2", "second part" },
		{ "2.MIME", "Content-Type: text/plain\n\n" },
	};
	static const struct mt_case cut[] = {
		{ "2", "two, and then the message just stops\r\n" },
	};
	static const struct mt_case empty[] = {
		{ "1", "" },
		{ "2", "no headers in this part" },
		{ "2.MIME", "\r\n" },
		{ "3", "" },
		{ "3.MIME", "Content-Type: text/plain" },
		{ "4.HEADER", "" },
		{ "5", NULL },
	};

	(void)state;
	mt_check_cases("bare_lf.eml", lf, SG_NITEMS(lf));
	mt_check_cases("missing_final_boundary.eml", cut, SG_NITEMS(cut));
	mt_check_cases("empty_parts.eml", empty, SG_NITEMS(empty));
}

static void
test_section_parse(void **state)
{
	static const char *const good[] = {
		"", "1", "1.2.3", "HEADER", "header.fields", "HEADER.FIELDS.NOT", "TEXT",
		"1.MIME", "4.2.HEADER", "3.text", "4294967295",
	};
	static const char *const bad[] = {
		"0", "01", "1.", ".1", "MIME", "1.FOO", "1..2", "HEADERS", "4294967296",
		"1 ", "1.MIME.1",
	};
	struct mime_section sec;
	size_t i;

	(void)state;
	for (i = 0; i < SG_NITEMS(good); i++)
		assert_int_equal(mime_section_parse(good[i], strlen(good[i]), &sec), 0);
	for (i = 0; i < SG_NITEMS(bad); i++)
		assert_int_equal(mime_section_parse(bad[i], strlen(bad[i]), &sec), -1);
	assert_int_equal(mime_section_parse("4.2.HEADER.FIELDS", 17, &sec), 0);
	assert_int_equal(sec.nparts, 2);
	assert_int_equal(sec.part[1], 2);
	assert_int_equal(sec.kind, MIME_SECTION_HEADER_FIELDS);
}

static void
test_path_at_limit(void **state)
{
	GString *spec = g_string_new("1");
	struct mime_section sec;
	int i;

	(void)state;
	for (i = 1; i < MIME_SECTION_PATH_MAX; i++)
		g_string_append(spec, ".1");
	assert_int_equal(mime_section_parse(spec->str, spec->len, &sec), 0);
	g_string_append(spec, ".1");
	assert_int_equal(mime_section_parse(spec->str, spec->len, &sec), -1);
	g_string_free(spec, TRUE);
}

/* INTEROP: iOS asks past the end; clamp, and an offset past it is empty. */
static void
test_partial_clamps(void **state)
{
	struct mime_range r = { 100, 50 };

	(void)state;
	mime_range_partial(&r, 10, 20);
	assert_int_equal(r.off, 110);
	assert_int_equal(r.len, 20);
	r = (struct mime_range){ 100, 50 };
	mime_range_partial(&r, 40, 393216);
	assert_int_equal(r.off, 140);
	assert_int_equal(r.len, 10);
	r = (struct mime_range){ 100, 50 };
	mime_range_partial(&r, 50, 10);
	assert_int_equal(r.len, 0);
	r = (struct mime_range){ 100, 50 };
	mime_range_partial(&r, UINT64_MAX, UINT64_MAX);
	assert_int_equal(r.len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc822_in_multipart_sections),
		cmocka_unit_test(test_single_part_sections),
		cmocka_unit_test(test_toplevel_rfc822_sections),
		cmocka_unit_test(test_bare_lf_and_missing_boundary_sections),
		cmocka_unit_test(test_section_parse),
		cmocka_unit_test(test_path_at_limit),
		cmocka_unit_test(test_partial_clamps),
	};

	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
