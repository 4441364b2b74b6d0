/*
 * test_smtp_rate.c: the hourly submission count: a sliding hour by the
 * minute, messages in flight counted, the audit-log seed taken once and
 * only for an account not counted yet, refusals audited once per period,
 * and records dropped only when they say nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp/smtp_private.h"

#define T0	((int64_t)1800000000)	/* a minute boundary */

static void
test_window_slides_by_the_minute(void **state)
{
	struct smtp_rate *r = smtp_rate_new();
	int i;

	(void)state;
	assert_int_equal(smtp_rate_count(r, 7, T0), 0);
	for (i = 0; i < 3; i++) {
		smtp_rate_begin(r, 7);
		smtp_rate_end(r, 7, true, T0 + i * 600);	/* minutes 0, 10, 20 */
	}
	assert_int_equal(smtp_rate_count(r, 7, T0 + 1200), 3);
	assert_int_equal(smtp_rate_count(r, 8, T0 + 1200), 0);	/* per account */
	assert_int_equal(smtp_rate_count(r, 7, T0 + 3599), 3);
	assert_int_equal(smtp_rate_count(r, 7, T0 + 3600), 2);	/* minute 0 left */
	assert_int_equal(smtp_rate_count(r, 7, T0 + 4200), 1);
	assert_int_equal(smtp_rate_count(r, 7, T0 + 4800), 0);
	/* a bucket reused an hour later starts from zero */
	smtp_rate_begin(r, 7);
	smtp_rate_end(r, 7, true, T0 + 3600);
	assert_int_equal(smtp_rate_count(r, 7, T0 + 3600), 3);
	smtp_rate_free(&r);
	assert_null(r);
}

static void
test_in_flight_counts_and_failures_do_not(void **state)
{
	struct smtp_rate *r = smtp_rate_new();

	(void)state;
	smtp_rate_begin(r, 1);
	smtp_rate_begin(r, 1);
	assert_int_equal(smtp_rate_count(r, 1, T0), 2);
	smtp_rate_end(r, 1, false, T0);
	assert_int_equal(smtp_rate_count(r, 1, T0), 1);
	smtp_rate_end(r, 1, true, T0);
	assert_int_equal(smtp_rate_count(r, 1, T0), 1);
	smtp_rate_free(&r);
}

static void
test_seed_once_and_not_over_memory(void **state)
{
	struct smtp_rate *r = smtp_rate_new();
	const int64_t times[] = { T0 - 4000, T0 - 3000, T0 - 60, T0, T0 + 10 };

	(void)state;
	assert_false(smtp_rate_known(r, 5));
	/* older than an hour and in the future: not counted */
	smtp_rate_seed(r, 5, times, 5, T0);
	assert_true(smtp_rate_known(r, 5));
	assert_int_equal(smtp_rate_count(r, 5, T0), 3);
	/* a second seed (another session's login) adds nothing */
	smtp_rate_seed(r, 5, times, 5, T0);
	assert_int_equal(smtp_rate_count(r, 5, T0), 3);
	/* memory counted first: the audit log is not asked to add */
	smtp_rate_begin(r, 6);
	smtp_rate_end(r, 6, true, T0);
	assert_true(smtp_rate_known(r, 6));
	smtp_rate_seed(r, 6, times, 5, T0);
	assert_int_equal(smtp_rate_count(r, 6, T0), 1);
	/* an empty seed still marks the account known */
	smtp_rate_seed(r, 9, NULL, 0, T0);
	assert_true(smtp_rate_known(r, 9));
	smtp_rate_free(&r);
}

static void
test_refusals_audited_once_per_period(void **state)
{
	struct smtp_rate *r = smtp_rate_new();

	(void)state;
	assert_true(smtp_rate_note_refusal(r, 3, T0));
	assert_false(smtp_rate_note_refusal(r, 3, T0 + 1));
	assert_true(smtp_rate_note_refusal(r, 4, T0 + 1));
	assert_false(smtp_rate_note_refusal(r, 3, T0 + SMTP_RATE_AUDIT_EVERY - 1));
	assert_true(smtp_rate_note_refusal(r, 3, T0 + SMTP_RATE_AUDIT_EVERY));
	smtp_rate_free(&r);
}

static void
test_idle_records_are_swept_busy_ones_kept(void **state)
{
	struct smtp_rate *r = smtp_rate_new();
	uint64_t id;

	(void)state;
	/* 5000 accounts sent an hour ago; account 1 has a message in flight */
	for (id = 10; id < 5010; id++) {
		smtp_rate_begin(r, id);
		smtp_rate_end(r, id, true, T0);
	}
	smtp_rate_begin(r, 1);
	smtp_rate_begin(r, 2);
	smtp_rate_end(r, 2, true, T0 + 3000);
	/* the next end, an hour later, sweeps */
	smtp_rate_begin(r, 3);
	smtp_rate_end(r, 3, true, T0 + 3700);
	assert_false(smtp_rate_known(r, 10));
	assert_false(smtp_rate_known(r, 5009));
	assert_true(smtp_rate_known(r, 1));
	assert_int_equal(smtp_rate_count(r, 1, T0 + 3700), 1);
	assert_true(smtp_rate_known(r, 2));
	assert_int_equal(smtp_rate_count(r, 2, T0 + 3700), 1);
	assert_int_equal(smtp_rate_count(r, 3, T0 + 3700), 1);
	smtp_rate_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_slides_by_the_minute),
		cmocka_unit_test(test_in_flight_counts_and_failures_do_not),
		cmocka_unit_test(test_seed_once_and_not_over_memory),
		cmocka_unit_test(test_refusals_audited_once_per_period),
		cmocka_unit_test(test_idle_records_are_swept_busy_ones_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
