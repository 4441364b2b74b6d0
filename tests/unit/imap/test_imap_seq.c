/*
 * test_imap_seq.c: sequence sets (imap_seq.c): parsing with every edge of
 * the grammar, the range limit at N and N+1, "*" resolution, membership and
 * rendering with snprintf semantics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap_seq.h"

/* Parses s and renders it back; "ERR" or "MANY" on failure. */
static void
check_render(const char *s, size_t max, const char *want)
{
	enum imap_seq_rc rc;
	struct imap_seq *set = imap_seq_parse(s, strlen(s), max, &rc);
	char out[128];

	if (set == NULL) {
		assert_string_equal(rc == IMAP_SEQ_TOO_MANY ? "MANY" : "ERR", want);
		return;
	}
	assert_int_equal(rc, IMAP_SEQ_OK);
	assert_int_equal(imap_seq_render(set, out, sizeof out), strlen(want));
	assert_string_equal(out, want);
	imap_seq_free(&set);
	assert_null(set);
}

static void
test_seq_parse_valid(void **state)
{
	(void)state;
	check_render("1", 100, "1");
	check_render("1:5", 100, "1:5");
	check_render("5:1", 100, "1:5");
	check_render("3:3", 100, "3");
	check_render("*", 100, "*");
	check_render("1:*", 100, "1:*");
	check_render("*:1", 100, "1:*");
	check_render("*:*", 100, "*");
	check_render("1,2,3:4,7:*", 100, "1,2,3:4,7:*");
	check_render("4294967295", 100, "4294967295");
	check_render("4294967295:1", 100, "1:4294967295");
	check_render("$", 100, "$");
	check_render("1,$", 100, "1,$");
	check_render("$,1", 100, "1,$");
}

static void
test_seq_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "0", "01", "0:5", "5:0", "4294967296", "99999999999999999999", "1,", ",1",
		"1,,2", "1::2", "1:", ":1", "a", "1 2", "1:2:3", "$:1", "1:$", "-1", "+1", "1.2",
		"**", "*1", "1*",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_render(bad[i], 100, "ERR");
}

static void
test_seq_range_limit(void **state)
{
	(void)state;
	check_render("1,3,5", 3, "1,3,5");
	check_render("1,3,5,7", 3, "MANY");
	check_render("1,3,5,$", 3, "1,3,5,$");	/* "$" adds no range */
	assert_int_equal(imap_seq_count_hint("1,3,5", 5), 3);
	assert_int_equal(imap_seq_count_hint("", 0), 1);
}

static void
test_seq_parse_ranges_into_caller_storage(void **state)
{
	struct imap_seq_range r[2];
	size_t n;
	bool saved;

	(void)state;
	assert_int_equal(imap_seq_parse_ranges("9:7,*", 5, r, 2, &n, &saved), IMAP_SEQ_OK);
	assert_int_equal(n, 2);
	assert_false(saved);
	assert_int_equal(r[0].lo, 7);
	assert_int_equal(r[0].hi, 9);
	assert_int_equal(r[1].lo, IMAP_SEQ_STAR);
	assert_int_equal(r[1].hi, IMAP_SEQ_STAR);
	assert_int_equal(imap_seq_parse_ranges("1,2,3", 5, r, 2, &n, &saved), IMAP_SEQ_TOO_MANY);
	assert_int_equal(imap_seq_parse_ranges("1,x", 3, r, 2, &n, &saved), IMAP_SEQ_SYNTAX);
	assert_int_equal(n, 0);
}

static void
test_seq_resolve_star(void **state)
{
	struct imap_seq_range r = { 559, IMAP_SEQ_STAR };
	uint32_t lo, hi;

	(void)state;
	/* RFC 3501 6.4.8: 559:* includes the last UID even when it is below 559 */
	imap_seq_range_resolve(&r, 200, &lo, &hi);
	assert_int_equal(lo, 200);
	assert_int_equal(hi, 559);
	imap_seq_range_resolve(&r, 1000, &lo, &hi);
	assert_int_equal(lo, 559);
	assert_int_equal(hi, 1000);
	r.lo = IMAP_SEQ_STAR;
	imap_seq_range_resolve(&r, 7, &lo, &hi);
	assert_int_equal(lo, 7);
	assert_int_equal(hi, 7);
}

static void
test_seq_contains(void **state)
{
	struct imap_seq *set = imap_seq_parse("2:4,559:*,*", 11, 10, NULL);

	(void)state;
	assert_non_null(set);
	assert_true(imap_seq_has_star(set));
	assert_false(imap_seq_contains(set, 1, 200));
	assert_true(imap_seq_contains(set, 2, 200));
	assert_true(imap_seq_contains(set, 4, 200));
	assert_false(imap_seq_contains(set, 5, 200));
	assert_false(imap_seq_contains(set, 199, 200));
	assert_true(imap_seq_contains(set, 200, 200));
	assert_true(imap_seq_contains(set, 600, 1000));
	assert_false(imap_seq_contains(set, 558, 1000));
	assert_true(imap_seq_contains(set, 1000, 1000));
	imap_seq_free(&set);
	set = imap_seq_parse("1,3", 3, 10, NULL);
	assert_false(imap_seq_has_star(set));
	assert_false(imap_seq_contains(set, 2, 10));
	imap_seq_free(&set);
	imap_seq_free(&set);
}

static void
test_seq_render_truncates(void **state)
{
	struct imap_seq *set = imap_seq_parse("1:100,200", 9, 10, NULL);
	char out[6];

	(void)state;
	assert_int_equal(imap_seq_render(set, out, sizeof out), 9);
	assert_string_equal(out, "1:100");
	assert_int_equal(imap_seq_render(set, out, 1), 9);
	assert_string_equal(out, "");
	assert_int_equal(imap_seq_render(set, NULL, 0), 9);
	imap_seq_free(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_parse_valid),
		cmocka_unit_test(test_seq_parse_invalid),
		cmocka_unit_test(test_seq_range_limit),
		cmocka_unit_test(test_seq_parse_ranges_into_caller_storage),
		cmocka_unit_test(test_seq_resolve_star),
		cmocka_unit_test(test_seq_contains),
		cmocka_unit_test(test_seq_render_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
