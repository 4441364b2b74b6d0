/*
 * test_mime_search.c: SEARCH text (RFC 3501 6.4.4) decoded before matching:
 * QP and base64 bodies, ISO-8859-1 and UTF-8, HTML, encoded words, 8-bit
 * headers; Unicode case folding; HEADER name value.
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

static struct mime_summary *
mt_load(const char *name)
{
	size_t len;
	char *msg = mt_read(name, &len);
	struct mime_summary *s = mime_summarize(msg, len);

	g_free(msg);
	return s;
}

static bool
mt_has(const struct mime_summary *s, enum mime_field f, const char *needle)
{
	return mime_search_match(s, f, needle, strlen(needle));
}

static void
test_qp_latin1_body(void **state)
{
	struct mime_summary *s = mt_load("qp_latin1.eml");

	(void)state;
	assert_true(mt_has(s, MIME_FIELD_BODY, "CAFÉ CRÈME"));
	assert_true(mt_has(s, MIME_FIELD_BODY, "coupée en deux"));	/* soft line break */
	assert_false(mt_has(s, MIME_FIELD_BODY, "=E9"));
	assert_true(mt_has(s, MIME_FIELD_TEXT, "brûlée"));
	mime_summary_free(&s);
}

static void
test_base64_utf8_body_folds_unicode(void **state)
{
	struct mime_summary *s = mt_load("base64_utf8.eml");

	(void)state;
	assert_true(mt_has(s, MIME_FIELD_BODY, "ΕΛΛΗΝΙΚΆ"));
	assert_true(mt_has(s, MIME_FIELD_BODY, "strasse"));	/* ß casefolds to ss */
	assert_true(mt_has(s, MIME_FIELD_BODY, "ÜNÏCÖDÉ"));
	mime_summary_free(&s);
}

static void
test_html_tags_and_entities(void **state)
{
	struct mime_summary *s = mt_load("html_only.eml");

	(void)state;
	assert_true(mt_has(s, MIME_FIELD_BODY, "hello & welcome"));
	assert_true(mt_has(s, MIME_FIELD_BODY, "sealgate"));
	assert_true(mt_has(s, MIME_FIELD_BODY, "€5"));
	assert_false(mt_has(s, MIME_FIELD_BODY, "<b>"));
	assert_false(mt_has(s, MIME_FIELD_BODY, "color"));	/* style content */
	mime_summary_free(&s);
}

static void
test_encoded_words_in_headers(void **state)
{
	struct mime_summary *s = mt_load("encoded_words.eml");

	(void)state;
	assert_true(mt_has(s, MIME_FIELD_SUBJECT, "GRÜSSE aus münchen und mehr"));
	assert_true(mt_has(s, MIME_FIELD_FROM, "Jörg Müller"));
	assert_true(mt_has(s, MIME_FIELD_FROM, "joerg@example.de"));
	assert_true(mt_has(s, MIME_FIELD_TO, "山田"));
	assert_true(mt_has(s, MIME_FIELD_TO, "renée"));
	assert_false(mt_has(s, MIME_FIELD_CC, "a"));
	assert_true(mt_has(s, MIME_FIELD_CC, ""));	/* empty needle matches */
	mime_summary_free(&s);
}

static void
test_eight_bit_headers(void **state)
{
	struct mime_summary *s = mt_load("eightbit.eml");

	(void)state;
	assert_true(mt_has(s, MIME_FIELD_SUBJECT, "grüße aus köln"));
	assert_true(mt_has(s, MIME_FIELD_FROM, "JÖRG"));
	assert_true(mt_has(s, MIME_FIELD_BODY, "naïve café"));
	mime_summary_free(&s);
}

static void
test_search_header_name_value(void **state)
{
	struct mime_summary *s = mt_load("simple.eml");
	struct mime_needle *n = mime_needle_new("SIMPLE-1", 8), *empty = mime_needle_new("", 0);

	(void)state;
	assert_true(mime_search_header(s, "message-id", 10, n));
	assert_false(mime_search_header(s, "Subject", 7, n));
	assert_true(mime_search_header(s, "Received", 8, empty));
	assert_false(mime_search_header(s, "X-Missing", 9, empty));
	assert_true(mime_search_match_needle(s, MIME_FIELD_HEADERS, n));
	mime_needle_free(&n);
	mime_needle_free(&empty);
	assert_null(n);
	mime_summary_free(&s);
}

static void
test_date_msgid_and_correspondents(void **state)
{
	struct mime_summary *s = mt_load("quoted_names.eml");
	struct mime_summary *t = mt_load("simple.eml");
	int64_t when;
	int y, m, d;
	size_t len;
	const char *a;

	(void)state;
	assert_false(mime_summary_date(s, &when, &y, &m, &d));
	assert_true(mime_summary_date(t, &when, &y, &m, &d));
	assert_int_equal(when, 1057049557);
	assert_int_equal(y, 2003);
	assert_int_equal(m, 7);
	assert_int_equal(d, 1);
	a = mime_summary_message_id(t, &len);
	assert_int_equal(len, 22);
	assert_memory_equal(a, "<simple-1@example.com>", len);
	a = mime_summary_address(s, 0, &len);
	assert_string_equal(a, "john.doe@example.com");
	assert_string_equal(mime_summary_address(s, 1, &len), "support@example.com");
	assert_string_equal(mime_summary_address(s, 2, &len), "plain@example.com");
	assert_string_equal(mime_summary_address(s, 3, &len), "ab@example.com");
	assert_string_equal(mime_summary_address(s, 4, &len), "quoted local@example.com");
	assert_string_equal(mime_summary_address(s, 5, &len), "routed@example.com");
	assert_null(mime_summary_address(s, 6, &len));
	mime_summary_free(&s);
	mime_summary_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qp_latin1_body),
		cmocka_unit_test(test_base64_utf8_body_folds_unicode),
		cmocka_unit_test(test_html_tags_and_entities),
		cmocka_unit_test(test_encoded_words_in_headers),
		cmocka_unit_test(test_eight_bit_headers),
		cmocka_unit_test(test_search_header_name_value),
		cmocka_unit_test(test_date_msgid_and_correspondents),
	};

	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
