/*
 * test_sec_box.c: symmetric boxes (queue, files): round trips, exact sizes,
 * and every flipped bit, truncation or extension failing.
 */
#include "sec_test.h"

#include <string.h>

#define BOX_OVERHEAD	(1 + 24 + 16)

static void
test_box_roundtrip_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 1000, 65536, 300000 };
	uint8_t key[SEC_KEY_BYTES];
	struct sec_buf ct = { 0 }, out = { 0 };
	uint8_t *pt;
	size_t i;

	(void)state;
	sec_content_key_new(key);
	for (i = 0; i < SG_NITEMS(sizes); i++) {
		pt = malloc(sizes[i] + 1);
		assert_non_null(pt);
		fill_pattern(pt, sizes[i], (uint32_t)i);
		sec_box(key, pt, sizes[i], &ct);
		assert_int_equal(ct.len, sizes[i] + BOX_OVERHEAD);
		assert_int_equal(ct.data[0], SEC_VERSION);
		assert_int_equal(sec_unbox(key, ct.data, ct.len, &out), 0);
		assert_int_equal(out.len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(out.data, pt, sizes[i]);
		sec_buf_wipe(&out);
		sec_buf_free(&ct);
		free(pt);
	}
}

static void
test_box_appends_and_nonces_differ(void **state)
{
	uint8_t key[SEC_KEY_BYTES];
	struct sec_buf a = { 0 }, b = { 0 }, out = { 0 };

	(void)state;
	sec_content_key_new(key);
	sec_buf_append(&a, "hdr", 3);
	sec_box(key, "same", 4, &a);
	sec_box(key, "same", 4, &b);
	assert_memory_equal(a.data, "hdr", 3);
	assert_memory_not_equal(a.data + 3, b.data, b.len);
	sec_buf_append(&out, ">", 1);
	assert_int_equal(sec_unbox(key, a.data + 3, a.len - 3, &out), 0);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, ">same", 5);
	sec_buf_free(&a);
	sec_buf_free(&b);
	sec_buf_wipe(&out);
}

static void
test_unbox_tampered_fails(void **state)
{
	uint8_t key[SEC_KEY_BYTES];
	struct sec_buf ct = { 0 }, out = { 0 };
	uint8_t *bad;
	size_t i, bit;

	(void)state;
	sec_content_key_new(key);
	sec_box(key, "attack at dawn", 14, &ct);
	bad = malloc(ct.len + 1);
	assert_non_null(bad);
	sec_buf_append(&out, "k", 1);
	for (i = 0; i < ct.len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, ct.data, ct.len);
			bad[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(sec_unbox(key, bad, ct.len, &out), -1);
			assert_int_equal(out.len, 1);
		}
	}
	memcpy(bad, ct.data, ct.len);
	bad[ct.len] = 0;
	assert_int_equal(sec_unbox(key, bad, ct.len + 1, &out), -1);
	for (i = 0; i < ct.len; i++)
		assert_int_equal(sec_unbox(key, bad, i, &out), -1);
	assert_int_equal(out.len, 1);
	free(bad);
	sec_buf_free(&ct);
	sec_buf_wipe(&out);
}

static void
test_unbox_wrong_key_fails(void **state)
{
	uint8_t key[SEC_KEY_BYTES], other[SEC_KEY_BYTES];
	struct sec_buf ct = { 0 }, out = { 0 };

	(void)state;
	sec_content_key_new(key);
	sec_content_key_new(other);
	sec_box(key, "x", 1, &ct);
	assert_int_equal(sec_unbox(other, ct.data, ct.len, &out), -1);
	assert_int_equal(out.len, 0);
	sec_buf_free(&ct);
	sec_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_box_roundtrip_sizes),
		cmocka_unit_test(test_box_appends_and_nonces_differ),
		cmocka_unit_test(test_unbox_tampered_fails),
		cmocka_unit_test(test_unbox_wrong_key_fails),
	};

	return SEC_TEST_MAIN(tests);
}
