/*
 * test_gw_util.c: the allocation and formatting helpers every module
 * uses: xasprintf and xvasprintf on both sides of their 256-byte stack
 * buffer (the long form formats a second time from a copy of the
 * arguments), and sg_u64_dec at its edges (digits at the end of its
 * buffer, unterminated).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/sg.h"

static char *
via_va(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

static void
test_asprintf_short_and_long(void **state)
{
	char want[1000], *p;
	size_t n;

	(void)state;
	for (n = 0; n < sizeof want - 1; n += 37) {
		memset(want, 'a' + (int)(n % 26), n);
		want[n] = '\0';
		p = xasprintf("%s|%d|%s", want, 42, "end");
		assert_int_equal(strlen(p), n + 7);
		assert_memory_equal(p, want, n);
		assert_string_equal(p + n, "|42|end");
		free(p);
		p = via_va("%s|%d|%s", want, 42, "end");
		assert_int_equal(strlen(p), n + 7);
		assert_memory_equal(p, want, n);
		assert_string_equal(p + n, "|42|end");
		free(p);
	}
	p = xasprintf("%s", "");
	assert_string_equal(p, "");
	free(p);
}

static void
test_u64_dec(void **state)
{
	char buf[SG_U64_DIGITS], want[32], *p;
	const uint64_t v[] = { 0, 9, 10, 4294967295u, 4294967296u, UINT64_MAX };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(want, sizeof want, "%llu", (unsigned long long)v[i]);
		p = sg_u64_dec(buf, v[i]);	/* digits up to the end, no NUL */
		assert_int_equal((size_t)(buf + sizeof buf - p), strlen(want));
		assert_memory_equal(p, want, strlen(want));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_asprintf_short_and_long),
		cmocka_unit_test(test_u64_dec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
