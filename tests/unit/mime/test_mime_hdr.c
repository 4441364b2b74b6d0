/*
 * test_mime_hdr.c: HEADER.FIELDS / HEADER.FIELDS.NOT filtering (RFC 3501
 * 6.4.5): case-insensitive names, folded lines kept byte for byte, a blank
 * line CRLF at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mime/mime.h"

static const char hdr[] =
	"From: a@b.c\r\n"
	"Subject: folded\r\n"
	"\tcontinued\r\n"
	"X-Other: x\r\n"
	"subject: second\r\n"
	"\r\n";

static void
mt_fields(const char *h, size_t hlen, const char *const *names, size_t n, bool not_,
    const char *want)
{
	char *out = malloc(hlen + 4);
	size_t len = mime_header_fields(h, hlen, names, n, not_, out);

	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	free(out);
}

static void
test_fields_keep_folds_and_end_with_blank_line(void **state)
{
	static const char *const names[] = { "SUBJECT", "date" };

	(void)state;
	mt_fields(hdr, sizeof hdr - 1, names, 2, false,
	    "Subject: folded\r\n\tcontinued\r\nsubject: second\r\n\r\n");
}

static void
test_fields_not(void **state)
{
	static const char *const names[] = { "subject" };

	(void)state;
	mt_fields(hdr, sizeof hdr - 1, names, 1, true, "From: a@b.c\r\nX-Other: x\r\n\r\n");
}

static void
test_no_match_gives_blank_line(void **state)
{
	static const char *const names[] = { "Newsgroups" };

	(void)state;
	mt_fields(hdr, sizeof hdr - 1, names, 1, false, "\r\n");
	mt_fields("", 0, names, 1, true, "\r\n");
}

/* A header cut at the end (no blank line, no final line end) still ends well. */
static void
test_unterminated_header(void **state)
{
	static const char h[] = "From: a@b.c\nTo: x@y";
	static const char *const names[] = { "to", "from" };

	(void)state;
	mt_fields(h, sizeof h - 1, names, 2, false, "From: a@b.c\nTo: x@y\r\n\r\n");
}

/* Thunderbird's listing fetch, served from the summary's header copy. */
static void
test_listing_from_summary_header(void **state)
{
	static const char msg[] = "Received: x\r\nFrom: a@b.c\r\nTo: d@e.f\r\n"
	    "Subject: hi\r\n\r\nbody\r\n";
	static const char *const names[] = { "From", "To", "Cc", "Bcc", "Subject", "Date",
		"Message-ID", "Priority", "X-Priority", "References", "Newsgroups",
		"In-Reply-To", "Content-Type", "Reply-To" };
	struct mime_summary *s = mime_summarize(msg, sizeof msg - 1);
	size_t len;
	bool complete;
	const char *h = mime_summary_header(s, &len, &complete);

	(void)state;
	assert_true(complete);
	assert_int_equal(len, mime_summary_header_size(s));
	mt_fields(h, len, names, sizeof names / sizeof names[0], false,
	    "From: a@b.c\r\nTo: d@e.f\r\nSubject: hi\r\n\r\n");
	mime_summary_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_keep_folds_and_end_with_blank_line),
		cmocka_unit_test(test_fields_not),
		cmocka_unit_test(test_no_match_gives_blank_line),
		cmocka_unit_test(test_unterminated_header),
		cmocka_unit_test(test_listing_from_summary_header),
	};

	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
