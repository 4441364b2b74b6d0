/*
 * test_imap_view.c: sequence numbers of UID lists (imap_view_seqs) against
 * one binary search per UID (imap_view_seq), on random views and lists:
 * ascending (FETCH's resolved sets, one walk), descending and mixed (a
 * new search each time), UIDs not in the view (0) and past its end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap_private.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t
next(uint32_t below)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (uint32_t)(rng % below);
}

static void
check(const struct imap_view *v, const uint32_t *uids, size_t n)
{
	uint32_t *seqs = calloc(n + 1, sizeof *seqs);
	size_t i;

	imap_view_seqs(v, uids, n, seqs);
	for (i = 0; i < n; i++)
		assert_int_equal(seqs[i], imap_view_seq(v, uids[i]));
	free(seqs);
}

static void
test_view_seqs_match_one_search_each(void **state)
{
	uint32_t vu[600], q[400];
	struct imap_view v = { .uids = vu };
	int round;
	size_t i, n;

	(void)state;
	for (round = 0; round < 300; round++) {
		uint32_t uid = 0;

		v.n = next(600);
		for (i = 0; i < v.n; i++)
			vu[i] = uid += 1 + next(4);	/* gaps: expunged messages */
		n = next(400);
		for (i = 0, uid = 0; i < n; i++)	/* ascending, some absent */
			q[i] = uid += next(5);
		check(&v, q, n);
		for (i = 0; i < n; i++)			/* any order */
			q[i] = next(uid + 3);
		check(&v, q, n);
		for (i = 0; i < n; i++)			/* descending */
			q[i] = (uint32_t)(n - i) * 3;
		check(&v, q, n);
	}
	v.n = 0;
	q[0] = 1;
	check(&v, q, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view_seqs_match_one_search_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
