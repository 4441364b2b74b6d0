/*
 * test_sec_mem.c: secret memory, comparison, randomness and sec_buf.
 */
#include "sec_test.h"

#include <string.h>

static void
test_init_is_idempotent(void **state)
{
	(void)state;
	assert_int_equal(sec_init(), 0);
	assert_int_equal(sec_init(), 0);
}

static void
test_alloc_is_aligned_and_writable(void **state)
{
	static const size_t sizes[] = { 0, 1, 7, 17, 32, 4095, 4096, 65536 + 3 };
	size_t i;
	uint8_t *p;

	(void)state;
	for (i = 0; i < SG_NITEMS(sizes); i++) {
		p = sec_alloc(sizes[i]);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 0x5a, sizes[i]);
		sec_free(p, sizes[i]);
	}
	sec_free(NULL, 0);
}

/* Freed blocks are zeroed and handed out again (the pool saves an mmap,
 * mprotects and an munmap per allocation); the contents never survive. */
static void
test_freed_block_comes_back_zeroed(void **state)
{
	uint8_t *a, *b;
	size_t i;

	(void)state;
	a = sec_alloc(100);
	memset(a, 0xa5, 100);
	sec_free(a, 100);
	b = sec_alloc(100);
	assert_ptr_equal(a, b);
	for (i = 0; i < 100; i++)
		assert_int_equal(b[i], 0);
	sec_free(b, 100);
}

/* A caller that frees with the wrong size gets sodium_free(), not the pool:
 * the block is not handed out for a size it cannot hold. */
static void
test_free_with_wrong_size_is_not_pooled(void **state)
{
	uint8_t *a, *b;

	(void)state;
	a = sec_alloc(32);
	sec_free(a, 4096);	/* wrong: must not be kept as a 4096-byte block */
	b = sec_alloc(4096);
	assert_ptr_not_equal(a, b);
	memset(b, 1, 4096);	/* would hit a guard page if it were a */
	sec_free(b, 4096);
}

static void
test_wipe_zeroes(void **state)
{
	uint8_t buf[64];
	size_t i;

	(void)state;
	memset(buf, 0xff, sizeof buf);
	sec_wipe(buf + 8, 32);
	for (i = 0; i < sizeof buf; i++)
		assert_int_equal(buf[i], i >= 8 && i < 40 ? 0 : 0xff);
	sec_wipe(NULL, 0);
	sec_wipe(buf, 0);
}

static void
test_equal_compares_all_bytes(void **state)
{
	uint8_t a[32], b[32];
	size_t i;

	(void)state;
	fill_pattern(a, sizeof a, 1);
	memcpy(b, a, sizeof b);
	assert_true(sec_equal(a, b, sizeof a));
	assert_true(sec_equal(a, b, 0));
	for (i = 0; i < sizeof a; i++) {
		b[i] ^= 0x80;
		assert_false(sec_equal(a, b, sizeof a));
		b[i] ^= 0x80;
	}
}

static void
test_random_fills_and_differs(void **state)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 }, zero[32] = { 0 };

	(void)state;
	sec_random(a, sizeof a);
	sec_random(b, sizeof b);
	assert_memory_not_equal(a, zero, sizeof a);
	assert_memory_not_equal(a, b, sizeof a);
}

static void
test_random_uniform_stays_in_range(void **state)
{
	unsigned seen[10] = { 0 };
	uint32_t v;
	int i;

	(void)state;
	for (i = 0; i < 2000; i++) {
		v = sec_random_uniform(10);
		assert_true(v < 10);
		seen[v]++;
	}
	for (i = 0; i < 10; i++)
		assert_true(seen[i] > 0);
	assert_int_equal(sec_random_uniform(1), 0);
}

static void
test_buf_append_grows_and_keeps_content(void **state)
{
	struct sec_buf b = { 0 };
	uint8_t chunk[1000];
	size_t i;

	(void)state;
	for (i = 0; i < 300; i++) {
		fill_pattern(chunk, sizeof chunk, (uint32_t)i);
		sec_buf_append(&b, chunk, (i * 37) % sizeof chunk);
	}
	assert_true(b.cap >= b.len);
	for (i = 0; i < 300; i++) {
		size_t n = (i * 37) % sizeof chunk, off = 0, j;

		for (j = 0; j < i; j++)
			off += (j * 37) % sizeof chunk;
		fill_pattern(chunk, sizeof chunk, (uint32_t)i);
		assert_memory_equal(b.data + off, chunk, n);
	}
	sec_buf_append(&b, NULL, 0);
	sec_buf_wipe(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void
test_buf_reserve_keeps_len(void **state)
{
	struct sec_buf b = { 0 };

	(void)state;
	sec_buf_append(&b, "abc", 3);
	sec_buf_reserve(&b, 100000);
	assert_int_equal(b.len, 3);
	assert_true(b.cap >= 100003);
	assert_memory_equal(b.data, "abc", 3);
	sec_buf_reserve(&b, 0);
	assert_int_equal(b.len, 3);
	sec_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	sec_buf_free(&b);
	sec_buf_wipe(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_idempotent),
		cmocka_unit_test(test_alloc_is_aligned_and_writable),
		cmocka_unit_test(test_wipe_zeroes),
		cmocka_unit_test(test_freed_block_comes_back_zeroed),
		cmocka_unit_test(test_free_with_wrong_size_is_not_pooled),
		cmocka_unit_test(test_equal_compares_all_bytes),
		cmocka_unit_test(test_random_fills_and_differs),
		cmocka_unit_test(test_random_uniform_stays_in_range),
		cmocka_unit_test(test_buf_append_grows_and_keeps_content),
		cmocka_unit_test(test_buf_reserve_keeps_len),
	};

	return SEC_TEST_MAIN(tests);
}
