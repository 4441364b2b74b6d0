/*
 * test_sec_wrap.c: the password, token and recovery wraps of an account's
 * private key: round trips, wrong secrets, damage, and forged limits.
 */
#include "sec_test.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#define PW_LEN		122
#define PW_OFF_OPS	2
#define PW_OFF_MEM	10
#define PW_OFF_CHECK	106
#define TOK_LEN		73
#define REC_LEN		81

static const char pw[] = "correct horse battery staple";

static double
now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
le64_put(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
le64_get(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* What a forger with the format in hand can do: fix the checksum. */
static void
fix_checksum(uint8_t *blob)
{
	crypto_generichash(blob + PW_OFF_CHECK, 16, blob, PW_OFF_CHECK, NULL, 0);
}

static void
assert_same_key(const struct sec_sk *a, const struct sec_sk *b)
{
	assert_non_null(a);
	assert_non_null(b);
	assert_memory_equal(a->sk, b->sk, SEC_KEY_BYTES);
	assert_memory_equal(a->pk, b->pk, SEC_KEY_BYTES);
}

static uint8_t *
wrap_pw(const struct sec_sk *k, enum sec_kdf level)
{
	uint8_t *blob;
	size_t len;

	sec_wrap_password(k, pw, strlen(pw), level, &blob, &len);
	assert_non_null(blob);
	assert_int_equal(len, PW_LEN);
	return blob;
}

static void
test_password_right_password_unwraps(void **state)
{
	struct sec_sk *k = sec_sk_new(), *u;
	uint8_t *blob = wrap_pw(k, SEC_KDF_INTERACTIVE), *blob2;
	bool bad = true;

	(void)state;
	assert_int_equal(blob[0], SEC_VERSION);
	assert_int_equal(blob[1], crypto_pwhash_ALG_ARGON2ID13);
	u = sec_unwrap_password(blob, PW_LEN, pw, strlen(pw), &bad);
	assert_false(bad);
	assert_same_key(u, k);
	assert_int_equal(u->refs, 1);
	sec_sk_unref(&u);
	blob2 = wrap_pw(k, SEC_KDF_INTERACTIVE);	/* fresh salt and nonce */
	assert_memory_not_equal(blob + 18, blob2 + 18, 16 + 24);
	free(blob);
	free(blob2);
	sec_sk_unref(&k);
}

static void
test_password_wrong_password_is_not_bad_format(void **state)
{
	static const char *const wrong[] = {
		"correct horse battery stapl", "correct horse battery staple ",
		"Correct horse battery staple", "",
	};
	struct sec_sk *k = sec_sk_new();
	uint8_t *blob = wrap_pw(k, SEC_KDF_INTERACTIVE);
	bool bad;
	size_t i;

	(void)state;
	for (i = 0; i < SG_NITEMS(wrong); i++) {
		bad = true;
		assert_null(sec_unwrap_password(blob, PW_LEN, wrong[i], strlen(wrong[i]), &bad));
		assert_false(bad);
	}
	/* An embedded NUL is part of the password, not its end. */
	assert_null(sec_unwrap_password(blob, PW_LEN, pw, sizeof pw, NULL));
	free(blob);
	sec_sk_unref(&k);
}

static void
test_password_empty_and_longest_passwords_work(void **state)
{
	char longest[SEC_PASSWORD_MAX + 1];
	struct sec_sk *k = sec_sk_new(), *u;
	uint8_t *blob;
	size_t len;

	(void)state;
	sec_wrap_password(k, "", 0, SEC_KDF_INTERACTIVE, &blob, &len);
	assert_non_null(blob);
	u = sec_unwrap_password(blob, len, "", 0, NULL);
	assert_same_key(u, k);
	sec_sk_unref(&u);
	free(blob);

	memset(longest, 'p', sizeof longest);
	sec_wrap_password(k, longest, SEC_PASSWORD_MAX, SEC_KDF_INTERACTIVE, &blob, &len);
	assert_non_null(blob);
	u = sec_unwrap_password(blob, len, longest, SEC_PASSWORD_MAX, NULL);
	assert_same_key(u, k);
	sec_sk_unref(&u);
	free(blob);
	sec_sk_unref(&k);
}

static void
test_password_longer_than_max_refused(void **state)
{
	char longer[SEC_PASSWORD_MAX + 1];
	struct sec_sk *k = sec_sk_new();
	uint8_t *blob = (uint8_t *)"x";
	size_t len = 99;
	bool bad = true;

	(void)state;
	memset(longer, 'p', sizeof longer);
	sec_wrap_password(k, longer, sizeof longer, SEC_KDF_INTERACTIVE, &blob, &len);
	assert_null(blob);
	assert_int_equal(len, 0);
	blob = wrap_pw(k, SEC_KDF_INTERACTIVE);
	assert_null(sec_unwrap_password(blob, PW_LEN, longer, sizeof longer, &bad));
	assert_false(bad);
	free(blob);
	sec_sk_unref(&k);
}

static void
test_password_damaged_blob_is_bad_format(void **state)
{
	struct sec_sk *k = sec_sk_new();
	uint8_t *blob = wrap_pw(k, SEC_KDF_INTERACTIVE);
	uint8_t big[PW_LEN + 1];
	uint64_t ops, mem;
	size_t i, bit;
	bool bad;

	(void)state;
	for (i = 0; i < PW_LEN; i++) {
		for (bit = 0; bit < 8; bit++) {
			blob[i] ^= (uint8_t)(1u << bit);
			bad = false;
			assert_null(sec_unwrap_password(blob, PW_LEN, pw, strlen(pw), &bad));
			assert_true(bad);
			assert_int_equal(sec_wrap_password_limits(blob, PW_LEN, &ops, &mem), -1);
			blob[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (i = 0; i < PW_LEN; i++) {
		bad = false;
		assert_null(sec_unwrap_password(blob, i, pw, strlen(pw), &bad));
		assert_true(bad);
	}
	memcpy(big, blob, PW_LEN);
	big[PW_LEN] = 0;
	bad = false;
	assert_null(sec_unwrap_password(big, sizeof big, pw, strlen(pw), &bad));
	assert_true(bad);
	bad = false;
	assert_null(sec_unwrap_password(NULL, 0, pw, strlen(pw), &bad));
	assert_true(bad);
	assert_null(sec_unwrap_password(big, sizeof big, pw, strlen(pw), NULL));
	free(blob);
	sec_sk_unref(&k);
}

static void
check_level(enum sec_kdf level, uint64_t want_ops, uint64_t want_mem)
{
	struct sec_sk *k = sec_sk_new(), *u;
	uint8_t *blob = wrap_pw(k, level);
	uint64_t ops = 0, mem = 0;

	assert_int_equal(sec_wrap_password_limits(blob, PW_LEN, &ops, &mem), 0);
	assert_int_equal(ops, want_ops);
	assert_int_equal(mem, want_mem);
	assert_int_equal(le64_get(blob + PW_OFF_OPS), want_ops);
	assert_int_equal(le64_get(blob + PW_OFF_MEM), want_mem);
	u = sec_unwrap_password(blob, PW_LEN, pw, strlen(pw), NULL);
	assert_same_key(u, k);
	sec_sk_unref(&u);
	free(blob);
	sec_sk_unref(&k);
}

/* The SENSITIVE level takes 1 GiB and a few seconds. */
static void
test_password_limits_recorded_and_read_back(void **state)
{
	(void)state;
	check_level(SEC_KDF_INTERACTIVE, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE);
	check_level(SEC_KDF_MODERATE, crypto_pwhash_OPSLIMIT_MODERATE,
	    crypto_pwhash_MEMLIMIT_MODERATE);
	check_level(SEC_KDF_SENSITIVE, crypto_pwhash_OPSLIMIT_SENSITIVE,
	    crypto_pwhash_MEMLIMIT_SENSITIVE);
}

/* Forged limits with a valid checksum are refused before Argon2 runs. */
static void
test_password_forged_limits_refused(void **state)
{
	static const uint64_t forged[][2] = {
		{ 2, UINT64_C(100) * 1000 * 1000 * 1000 },	/* 100 GB */
		{ 2, crypto_pwhash_MEMLIMIT_SENSITIVE + 1 },
		{ 2, UINT64_MAX },
		{ crypto_pwhash_OPSLIMIT_SENSITIVE + 1, crypto_pwhash_MEMLIMIT_INTERACTIVE },
		{ UINT64_MAX, crypto_pwhash_MEMLIMIT_INTERACTIVE },
		{ 1, crypto_pwhash_MEMLIMIT_INTERACTIVE },		/* weaker than we write */
		{ 0, crypto_pwhash_MEMLIMIT_INTERACTIVE },
		{ 2, 8192 },
		{ 2, 0 },
	};
	struct sec_sk *k = sec_sk_new();
	uint8_t *blob = wrap_pw(k, SEC_KDF_INTERACTIVE);
	uint8_t forge[PW_LEN];
	uint64_t ops, mem;
	double t0 = now_secs();
	size_t i;
	bool bad;

	(void)state;
	for (i = 0; i < SG_NITEMS(forged); i++) {
		memcpy(forge, blob, PW_LEN);
		le64_put(forge + PW_OFF_OPS, forged[i][0]);
		le64_put(forge + PW_OFF_MEM, forged[i][1]);
		fix_checksum(forge);
		bad = false;
		assert_null(sec_unwrap_password(forge, PW_LEN, pw, strlen(pw), &bad));
		assert_true(bad);
		assert_int_equal(sec_wrap_password_limits(forge, PW_LEN, &ops, &mem), -1);
	}
	memcpy(forge, blob, PW_LEN);
	forge[1] = crypto_pwhash_ALG_ARGON2I13;
	fix_checksum(forge);
	assert_null(sec_unwrap_password(forge, PW_LEN, pw, strlen(pw), &bad));
	assert_true(bad);
	forge[1] = blob[1];
	forge[0] = SEC_VERSION + 1;
	fix_checksum(forge);
	assert_null(sec_unwrap_password(forge, PW_LEN, pw, strlen(pw), &bad));
	assert_true(bad);
	assert_true(now_secs() - t0 < 2.0);	/* no Argon2 run at all */
	free(blob);
	sec_sk_unref(&k);
}

/* Limits changed within range (checksum fixed) derive another key: the
 * right password no longer opens it, and it is not called damage. */
static void
test_password_altered_limits_do_not_unwrap(void **state)
{
	struct sec_sk *k = sec_sk_new();
	uint8_t *blob = wrap_pw(k, SEC_KDF_INTERACTIVE);
	bool bad = true;

	(void)state;
	le64_put(blob + PW_OFF_OPS, crypto_pwhash_OPSLIMIT_INTERACTIVE + 1);
	fix_checksum(blob);
	assert_null(sec_unwrap_password(blob, PW_LEN, pw, strlen(pw), &bad));
	assert_false(bad);
	free(blob);
	sec_sk_unref(&k);
}

/* ---- token wrap ---- */

static void
test_token_wrap_roundtrip(void **state)
{
	struct sec_sk *k = sec_sk_new(), *u;
	uint8_t token[SEC_TOKEN_BYTES];
	char text[SEC_TOKEN_TEXT_LEN + 1];
	uint8_t *blob;
	size_t len;

	(void)state;
	sec_token_new(token, text);
	sec_wrap_token(k, token, &blob, &len);
	assert_int_equal(len, TOK_LEN);
	assert_int_equal(blob[0], SEC_VERSION);
	u = sec_unwrap_token(blob, len, token);
	assert_same_key(u, k);
	sec_sk_unref(&u);
	free(blob);
	sec_sk_unref(&k);
}

static void
test_token_wrap_wrong_token_or_damage_fails(void **state)
{
	struct sec_sk *k = sec_sk_new();
	uint8_t token[SEC_TOKEN_BYTES], other[SEC_TOKEN_BYTES];
	char text[SEC_TOKEN_TEXT_LEN + 1];
	uint8_t big[TOK_LEN + 1];
	uint8_t *blob;
	size_t len, i, bit;

	(void)state;
	sec_token_new(token, text);
	sec_wrap_token(k, token, &blob, &len);
	memcpy(other, token, sizeof other);
	other[31] ^= 1;
	assert_null(sec_unwrap_token(blob, len, other));
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			blob[i] ^= (uint8_t)(1u << bit);
			assert_null(sec_unwrap_token(blob, len, token));
			blob[i] ^= (uint8_t)(1u << bit);
		}
		assert_null(sec_unwrap_token(blob, i, token));
	}
	memcpy(big, blob, len);
	big[len] = 0;
	assert_null(sec_unwrap_token(big, sizeof big, token));
	assert_null(sec_unwrap_token(NULL, 0, token));
	free(blob);
	sec_sk_unref(&k);
}

/* ---- recovery wrap ---- */

static void
test_recovery_wrap_roundtrip(void **state)
{
	struct sec_sk *k = sec_sk_new(), *rec = sec_sk_new(), *u;
	uint8_t *blob;
	size_t len;

	(void)state;
	sec_wrap_recovery(k, rec->pk, &blob, &len);
	assert_non_null(blob);
	assert_int_equal(len, REC_LEN);
	assert_int_equal(blob[0], SEC_VERSION);
	u = sec_unwrap_recovery(blob, len, rec);
	assert_same_key(u, k);
	sec_sk_unref(&u);
	free(blob);
	sec_sk_unref(&k);
	sec_sk_unref(&rec);
}

static void
test_recovery_wrap_wrong_key_or_damage_fails(void **state)
{
	struct sec_sk *k = sec_sk_new(), *rec = sec_sk_new(), *other = sec_sk_new();
	uint8_t big[REC_LEN + 1];
	uint8_t *blob;
	size_t len, i, bit;

	(void)state;
	sec_wrap_recovery(k, rec->pk, &blob, &len);
	assert_null(sec_unwrap_recovery(blob, len, other));
	assert_null(sec_unwrap_recovery(blob, len, k));
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			blob[i] ^= (uint8_t)(1u << bit);
			assert_null(sec_unwrap_recovery(blob, len, rec));
			blob[i] ^= (uint8_t)(1u << bit);
		}
		assert_null(sec_unwrap_recovery(blob, i, rec));
	}
	memcpy(big, blob, len);
	big[len] = 0;
	assert_null(sec_unwrap_recovery(big, sizeof big, rec));
	free(blob);
	sec_sk_unref(&k);
	sec_sk_unref(&rec);
	sec_sk_unref(&other);
}

static void
test_recovery_wrap_to_small_order_key_gives_null(void **state)
{
	static const uint8_t zero[SEC_KEY_BYTES];
	struct sec_sk *k = sec_sk_new();
	uint8_t *blob = (uint8_t *)"x";
	size_t len = 5;

	(void)state;
	sec_wrap_recovery(k, zero, &blob, &len);
	assert_null(blob);
	assert_int_equal(len, 0);
	sec_sk_unref(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_right_password_unwraps),
		cmocka_unit_test(test_password_wrong_password_is_not_bad_format),
		cmocka_unit_test(test_password_empty_and_longest_passwords_work),
		cmocka_unit_test(test_password_longer_than_max_refused),
		cmocka_unit_test(test_password_damaged_blob_is_bad_format),
		cmocka_unit_test(test_password_limits_recorded_and_read_back),
		cmocka_unit_test(test_password_forged_limits_refused),
		cmocka_unit_test(test_password_altered_limits_do_not_unwrap),
		cmocka_unit_test(test_token_wrap_roundtrip),
		cmocka_unit_test(test_token_wrap_wrong_token_or_damage_fails),
		cmocka_unit_test(test_recovery_wrap_roundtrip),
		cmocka_unit_test(test_recovery_wrap_wrong_key_or_damage_fails),
		cmocka_unit_test(test_recovery_wrap_to_small_order_key_gives_null),
	};

	return SEC_TEST_MAIN(tests);
}
