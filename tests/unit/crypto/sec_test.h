/*
 * sec_test.h: helpers shared by the crypto/ unit tests.
 */
#ifndef SEC_TEST_H
#define SEC_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "crypto/sec.h"

/* Deterministic bytes (xorshift), so a wrong offset shows as a mismatch. */
static inline void
fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 11);
	}
}

/* main() of every test program: libsodium first, then the cases. */
#define SEC_TEST_MAIN(tests)	\
	(sec_init() != 0 ? 1 : cmocka_run_group_tests(tests, NULL, NULL))

#endif
