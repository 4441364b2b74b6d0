/*
 * test_mime_render.c: ENVELOPE, BODYSTRUCTURE and BODY of every corpus
 * message against tests/mime/corpus/NAME.expected (escaped: \r \n \\ \xHH).
 * The expected files were written from RFC 3501 7.4.2 and checked against
 * Dovecot 2.3.19 (tests/mime/README.md lists where we differ on purpose).
 * MIME_REGEN=1 rewrites them from the current code, for review in a diff.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <glib.h>

#include "mime/mime.h"
#include "mime_test_util.h"

static char *
mt_render(const char *name)
{
	size_t len, el, bl, dl;
	char *msg = mt_read(name, &len), *e, *b, *d, *out;
	struct mime_summary *s = mime_summarize(msg, len);
	const char *env = mime_summary_envelope(s, &el);
	const char *bs = mime_summary_bodystructure(s, &bl);
	const char *bd = mime_summary_body(s, &dl);

	e = mt_escape(env, el);
	b = mt_escape(bs, bl);
	d = mt_escape(bd, dl);
	out = g_strdup_printf("ENVELOPE %s\nBODYSTRUCTURE %s\nBODY %s\n", e, b, d);
	g_free(e);
	g_free(b);
	g_free(d);
	mime_summary_free(&s);
	g_free(msg);
	return out;
}

static void
test_corpus_renders_as_expected(void **state)
{
	char **names = mt_corpus();
	size_t i;

	(void)state;
	for (i = 0; names[i] != NULL; i++) {
		char *base = g_strndup(names[i], strlen(names[i]) - 4);
		char *xname = g_strconcat(base, ".expected", NULL);
		char *path = g_build_filename(MIME_CORPUS_DIR, xname, NULL);
		char *got = mt_render(names[i]), *want = NULL;

		if (getenv("MIME_REGEN") != NULL)
			assert_true(g_file_set_contents(path, got, -1, NULL));
		assert_true(g_file_get_contents(path, &want, NULL, NULL));
		if (strcmp(got, want) != 0)
			print_error("%s:\n got: %s\nwant: %s\n", names[i], got, want);
		assert_string_equal(got, want);
		g_free(want);
		g_free(got);
		g_free(path);
		g_free(xname);
		g_free(base);
	}
	g_strfreev(names);
}

/* RFC 3501 9: no CR, LF or 8-bit in a quoted string; a literal instead. */
static void
test_eight_bit_subject_is_a_literal(void **state)
{
	static const char msg[] = "Subject: caf\xc3\xa9\r\n\r\n";
	struct mime_summary *s = mime_summarize(msg, sizeof msg - 1);
	size_t len;
	const char *env = mime_summary_envelope(s, &len);

	(void)state;
	assert_true(len > 16);
	assert_memory_equal(env, "(NIL {5}\r\ncaf\xc3\xa9 NIL", 19);
	mime_summary_free(&s);
}

static void
test_folded_subject_is_unfolded(void **state)
{
	static const char msg[] = "Subject: a\r\n  \"b\"\r\n\tc\\\r\n\r\n";
	struct mime_summary *s = mime_summarize(msg, sizeof msg - 1);
	size_t len;
	const char *env = mime_summary_envelope(s, &len);

	(void)state;
	assert_memory_equal(env, "(NIL \"a \\\"b\\\" c\\\\\" NIL", 22);
	mime_summary_free(&s);
}

/* RFC 3501 7.4.2: Sender and Reply-To default to From when absent or empty. */
static void
test_sender_and_reply_to_default_to_from(void **state)
{
	static const char msg[] = "From: a@b.c\r\nSender:\r\nTo: x@y.z\r\n\r\n";
	struct mime_summary *s = mime_summarize(msg, sizeof msg - 1);
	size_t len;
	const char *env = mime_summary_envelope(s, &len);
	static const char want[] = "(NIL NIL ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) "
	    "((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"x\" \"y.z\")) NIL NIL NIL NIL)";

	(void)state;
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(env, want, len);
	mime_summary_free(&s);
}

static void
test_empty_message_has_a_valid_bodystructure(void **state)
{
	struct mime_summary *s = mime_summarize("", 0);
	size_t len;
	const char *bs = mime_summary_bodystructure(s, &len);
	static const char want[] =
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)";

	(void)state;
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(bs, want, len);
	mime_summary_free(&s);
}

/* Found by fuzz_mime (clang UBSan: NULL + 0 in mime_alex_words): an empty quoted
 * string as the first word of an address, as a display name or local part. */
static void
test_empty_quoted_first_word(void **state)
{
	static const char msg[] = "From: \"\" <a@b.c>\r\nTo: \"\"@y.z\r\n\r\n";
	struct mime_summary *s = mime_summarize(msg, sizeof msg - 1);
	size_t len;
	const char *env = mime_summary_envelope(s, &len);
	static const char want[] = "(NIL NIL ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) "
	    "((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"\" \"y.z\")) NIL NIL NIL NIL)";

	(void)state;
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(env, want, len);
	mime_summary_free(&s);
}

/* Found by fuzz_mime (clang UBSan: NULL + 0 in mime_addrs_render_one): an
 * address whose every part is empty leaves nothing in the address buffer. */
static void
test_address_with_every_part_empty(void **state)
{
	static const char msg[] = "From:<";
	struct mime_summary *s = mime_summarize(msg, sizeof msg - 1);
	size_t len;
	const char *env = mime_summary_envelope(s, &len);
	static const char want[] = "(NIL NIL ((NIL NIL \"\" \"MISSING_DOMAIN\")) "
	    "((NIL NIL \"\" \"MISSING_DOMAIN\")) ((NIL NIL \"\" \"MISSING_DOMAIN\")) "
	    "NIL NIL NIL NIL NIL)";

	(void)state;
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(env, want, len);
	mime_summary_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_renders_as_expected),
		cmocka_unit_test(test_eight_bit_subject_is_a_literal),
		cmocka_unit_test(test_folded_subject_is_unfolded),
		cmocka_unit_test(test_sender_and_reply_to_default_to_from),
		cmocka_unit_test(test_empty_message_has_a_valid_bodystructure),
		cmocka_unit_test(test_empty_quoted_first_word),
		cmocka_unit_test(test_address_with_every_part_empty),
	};

	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
