/*
 * test_sec_keys.c: account key pairs, reference counts, content keys and
 * sealing them.
 */
#include "sec_test.h"

#include <sodium.h>
#include <string.h>

static void
test_sk_new_gives_matching_pair(void **state)
{
	struct sec_sk *k = sec_sk_new(), *k2;
	uint8_t pk[SEC_KEY_BYTES];

	(void)state;
	assert_non_null(k);
	assert_int_equal(k->refs, 1);
	assert_int_equal(crypto_scalarmult_base(pk, k->sk), 0);
	assert_memory_equal(pk, k->pk, SEC_KEY_BYTES);
	k2 = sec_sk_new();
	assert_memory_not_equal(k->pk, k2->pk, SEC_KEY_BYTES);
	sec_sk_unref(&k);
	sec_sk_unref(&k2);
}

static void
test_sk_from_derives_public_key(void **state)
{
	struct sec_sk *k = sec_sk_new(), *k2;

	(void)state;
	k2 = sec_sk_from(k->sk);
	assert_non_null(k2);
	assert_ptr_not_equal(k2->sk, k->sk);
	assert_memory_equal(k2->sk, k->sk, SEC_KEY_BYTES);
	assert_memory_equal(k2->pk, k->pk, SEC_KEY_BYTES);
	assert_int_equal(k2->refs, 1);
	sec_sk_unref(&k);
	sec_sk_unref(&k2);
}

static void
test_sk_refcount_and_unref_nulls_pointer(void **state)
{
	struct sec_sk *k = sec_sk_new(), *a, *b;

	(void)state;
	a = sec_sk_ref(k);
	b = sec_sk_ref(k);
	assert_ptr_equal(a, k);
	assert_int_equal(k->refs, 3);
	sec_sk_unref(&a);
	assert_null(a);
	assert_int_equal(k->refs, 2);
	sec_sk_unref(&b);
	assert_int_equal(k->refs, 1);
	sec_sk_unref(&k);
	assert_null(k);
	sec_sk_unref(&k);	/* NULL: no-op */
}

static void
test_content_keys_are_random(void **state)
{
	uint8_t a[SEC_KEY_BYTES], b[SEC_KEY_BYTES];

	(void)state;
	sec_content_key_new(a);
	sec_content_key_new(b);
	assert_memory_not_equal(a, b, SEC_KEY_BYTES);
}

static void
test_seal_open_roundtrip(void **state)
{
	struct sec_sk *k = sec_sk_new();
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];
	uint8_t sealed[SEC_SEALED_KEY_BYTES], sealed2[SEC_SEALED_KEY_BYTES];

	(void)state;
	assert_int_equal(SEC_SEALED_KEY_BYTES, 105);
	sec_content_key_new(key);
	sec_seal_key(key, k->pk, sealed);
	assert_int_equal(sealed[0], 2);
	assert_int_equal(sec_open_key(sealed, sizeof sealed, k, out), 0);
	assert_memory_equal(out, key, SEC_KEY_BYTES);
	sec_seal_key(key, k->pk, sealed2);	/* a fresh nonce each time */
	assert_memory_not_equal(sealed, sealed2, sizeof sealed);
	assert_memory_not_equal(sealed + 33, sealed2 + 33, 24);
	assert_int_equal(sec_open_key(sealed2, sizeof sealed2, k, out), 0);
	assert_memory_equal(out, key, SEC_KEY_BYTES);
	sec_sk_unref(&k);
}

/*
 * A recipient's ephemeral pair is reused within its window (the X25519
 * work is paid once, not per message), never across recipients, and is
 * replaced after SEAL_USES seals or sec_seal_wipe(); every seal opens.
 */
static void
test_seal_reuses_an_ephemeral_pair_per_recipient(void **state)
{
	struct sec_sk *a = sec_sk_new(), *b = sec_sk_new();
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];
	uint8_t s1[SEC_SEALED_KEY_BYTES], s2[SEC_SEALED_KEY_BYTES], sb[SEC_SEALED_KEY_BYTES];
	bool changed = false;
	int i;

	(void)state;
	sec_content_key_new(key);
	sec_seal_key(key, a->pk, s1);
	sec_seal_key(key, b->pk, sb);
	sec_seal_key(key, a->pk, s2);
	assert_memory_equal(s1 + 1, s2 + 1, SEC_KEY_BYTES);
	assert_memory_not_equal(s1 + 1, sb + 1, SEC_KEY_BYTES);
	assert_int_equal(sec_open_key(sb, sizeof sb, b, out), 0);
	assert_int_equal(sec_open_key(sb, sizeof sb, a, out), -1);
	assert_true(sec_seal_expire() >= 2);	/* within their window: kept */
	for (i = 0; i < 10001 && !changed; i++) {
		sec_seal_key(key, a->pk, s2);
		changed = memcmp(s1 + 1, s2 + 1, SEC_KEY_BYTES) != 0;
	}
	assert_true(changed);
	assert_int_equal(sec_open_key(s2, sizeof s2, a, out), 0);
	assert_memory_equal(out, key, SEC_KEY_BYTES);
	memcpy(s1, s2, sizeof s1);
	sec_seal_wipe();
	assert_int_equal(sec_seal_expire(), 0);
	sec_seal_key(key, a->pk, s2);
	assert_memory_not_equal(s1 + 1, s2 + 1, SEC_KEY_BYTES);
	assert_int_equal(sec_open_key(s1, sizeof s1, a, out), 0);	/* old seals still open */
	sec_sk_unref(&a);
	sec_sk_unref(&b);
}

static void
test_open_with_other_key_pair_fails(void **state)
{
	struct sec_sk *k = sec_sk_new(), *other = sec_sk_new();
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];
	uint8_t sealed[SEC_SEALED_KEY_BYTES];

	(void)state;
	sec_content_key_new(key);
	sec_seal_key(key, k->pk, sealed);
	assert_int_equal(sec_open_key(sealed, sizeof sealed, other, out), -1);
	sec_sk_unref(&k);
	sec_sk_unref(&other);
}

static void
test_open_tampered_sealed_key_fails(void **state)
{
	struct sec_sk *k = sec_sk_new();
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES], zero[SEC_KEY_BYTES] = { 0 };
	uint8_t sealed[SEC_SEALED_KEY_BYTES + 1];
	size_t i, bit;

	(void)state;
	sec_content_key_new(key);
	sec_seal_key(key, k->pk, sealed);
	for (i = 0; i < SEC_SEALED_KEY_BYTES; i++) {
		for (bit = 0; bit < 8; bit++) {
			sealed[i] ^= (uint8_t)(1u << bit);
			memset(out, 0x77, sizeof out);
			assert_int_equal(sec_open_key(sealed, SEC_SEALED_KEY_BYTES, k, out), -1);
			assert_memory_equal(out, zero, sizeof out);
			sealed[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(sec_open_key(sealed, SEC_SEALED_KEY_BYTES - 1, k, out), -1);
	sealed[SEC_SEALED_KEY_BYTES] = 0;
	assert_int_equal(sec_open_key(sealed, SEC_SEALED_KEY_BYTES + 1, k, out), -1);
	assert_int_equal(sec_open_key(sealed, 0, k, out), -1);
	assert_int_equal(sec_open_key(sealed, SEC_SEALED_KEY_BYTES, k, out), 0);
	assert_memory_equal(out, key, SEC_KEY_BYTES);
	sec_sk_unref(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sk_new_gives_matching_pair),
		cmocka_unit_test(test_sk_from_derives_public_key),
		cmocka_unit_test(test_sk_refcount_and_unref_nulls_pointer),
		cmocka_unit_test(test_content_keys_are_random),
		cmocka_unit_test(test_seal_open_roundtrip),
		cmocka_unit_test(test_seal_reuses_an_ephemeral_pair_per_recipient),
		cmocka_unit_test(test_open_with_other_key_pair_fails),
		cmocka_unit_test(test_open_tampered_sealed_key_fails),
	};

	return SEC_TEST_MAIN(tests);
}
