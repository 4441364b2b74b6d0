/*
 * test_sec_keyring.c: a session's content keys by blob id: lookups, growth
 * to 100k entries, replacement, deletion inside probe runs, the bound,
 * concurrent inserts, free.
 */
#include "sec_test.h"

#include <pthread.h>
#include <string.h>

static void
key_for(uint64_t id, uint8_t key[SEC_KEY_BYTES])
{
	fill_pattern(key, SEC_KEY_BYTES, (uint32_t)(id ^ (id >> 32)) + 1);
	memcpy(key, &id, sizeof id);
}

static void
test_keyring_put_get_and_miss(void **state)
{
	struct sec_keyring *r = sec_keyring_new();
	static const uint8_t zero[SEC_KEY_BYTES];
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];

	(void)state;
	assert_int_equal(sec_keyring_count(r), 0);
	memset(out, 0x11, sizeof out);
	assert_false(sec_keyring_get(r, 1, out));
	assert_memory_equal(out, zero, sizeof out);
	key_for(42, key);
	sec_keyring_put(r, 42, key);
	assert_int_equal(sec_keyring_count(r), 1);
	assert_true(sec_keyring_get(r, 42, out));
	assert_memory_equal(out, key, sizeof key);
	assert_false(sec_keyring_get(r, 43, out));
	sec_keyring_put(r, 0, key);		/* 0 and the largest id are ids too */
	sec_keyring_put(r, UINT64_MAX, key);
	assert_true(sec_keyring_get(r, 0, out));
	assert_true(sec_keyring_get(r, UINT64_MAX, out));
	assert_int_equal(sec_keyring_count(r), 3);
	sec_keyring_free(&r);
	assert_null(r);
	sec_keyring_free(&r);
}

static void
test_keyring_put_same_id_replaces(void **state)
{
	struct sec_keyring *r = sec_keyring_new();
	uint8_t a[SEC_KEY_BYTES], b[SEC_KEY_BYTES], out[SEC_KEY_BYTES];

	(void)state;
	key_for(1, a);
	key_for(2, b);
	sec_keyring_put(r, 7, a);
	sec_keyring_put(r, 7, b);
	assert_int_equal(sec_keyring_count(r), 1);
	assert_true(sec_keyring_get(r, 7, out));
	assert_memory_equal(out, b, sizeof b);
	sec_keyring_free(&r);
}

/* Entries survive every doubling, checked right after each one. */
static void
test_keyring_grows_keeping_entries(void **state)
{
	struct sec_keyring *r = sec_keyring_new();
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];
	uint64_t i, j;

	(void)state;
	for (i = 0; i < 2000; i++) {
		key_for(i * 3, key);
		sec_keyring_put(r, i * 3, key);
		if ((i & (i - 1)) == 0 || i % 97 == 0) {
			for (j = 0; j <= i; j++) {
				key_for(j * 3, key);
				assert_true(sec_keyring_get(r, j * 3, out));
				assert_memory_equal(out, key, sizeof key);
			}
		}
	}
	assert_int_equal(sec_keyring_count(r), 2000);
	sec_keyring_free(&r);
}

static void
test_keyring_holds_100k_entries(void **state)
{
	struct sec_keyring *r = sec_keyring_new();
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];
	uint64_t i, id;

	(void)state;
	for (i = 0; i < 100000; i++) {
		id = i * UINT64_C(0x9e3779b97f4a7c15);	/* spread, including high bits */
		key_for(id, key);
		sec_keyring_put(r, id, key);
	}
	for (i = 0; i < 100000; i += 1000)		/* sequential ids, the store's kind */
		sec_keyring_put(r, i * UINT64_C(0x9e3779b97f4a7c15), key);
	assert_int_equal(sec_keyring_count(r), 100000);
	for (i = 0; i < 100000; i++) {
		id = i * UINT64_C(0x9e3779b97f4a7c15);
		key_for(id, key);
		if (i % 1000 == 0)
			key_for(99999 * UINT64_C(0x9e3779b97f4a7c15), key);
		assert_true(sec_keyring_get(r, id, out));
		assert_memory_equal(out, key, sizeof key);
	}
	for (i = 0; i < 100000; i++)
		assert_false(sec_keyring_get(r, i * UINT64_C(0x9e3779b97f4a7c15) + 1, out));
	sec_keyring_free(&r);
}

/*
 * Random puts and deletes against a plain array of what should be there;
 * a small id space packs the table into long probe runs, so most deletes
 * have entries to move into their hole.
 */
static void
test_keyring_delete_keeps_the_rest_findable(void **state)
{
	enum { SPACE = 3000, OPS = 60000 };
	static bool present[SPACE];
	struct sec_keyring *r = sec_keyring_new();
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];
	static const uint8_t zero[SEC_KEY_BYTES];
	uint64_t x = 88172645463325252u, id;
	size_t n = 0, i;

	(void)state;
	memset(present, 0, sizeof present);
	for (i = 0; i < OPS; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		id = (x >> 8) % SPACE;
		if ((x & 3) != 0) {	/* puts outnumber deletes: the table fills */
			key_for(id, key);
			sec_keyring_put(r, id, key);
			n += !present[id];
			present[id] = true;
		} else {
			sec_keyring_del(r, id);
			n -= present[id];
			present[id] = false;
		}
		assert_int_equal(sec_keyring_count(r), n);
	}
	for (id = 0; id < SPACE; id++) {
		assert_int_equal(sec_keyring_get(r, id, out), present[id]);
		if (present[id]) {
			key_for(id, key);
			assert_memory_equal(out, key, sizeof key);
		} else
			assert_memory_equal(out, zero, sizeof out);
	}
	sec_keyring_del(r, SPACE + 1);		/* absent: nothing happens */
	assert_int_equal(sec_keyring_count(r), n);
	sec_keyring_free(&r);
}

/* A session open for weeks does not keep every key it ever opened: past
 * 2^17 keys the ring starts again, and the key just put is there. */
static void
test_keyring_is_bounded(void **state)
{
	struct sec_keyring *r = sec_keyring_new();
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];
	uint64_t id, most = 0;

	(void)state;
	for (id = 1; id <= 300000; id++) {
		key_for(id, key);
		sec_keyring_put(r, id, key);
		if (sec_keyring_count(r) > most)
			most = sec_keyring_count(r);
	}
	assert_int_equal(most, 1u << 17);
	assert_true(sec_keyring_count(r) <= (1u << 17));
	key_for(300000, key);
	assert_true(sec_keyring_get(r, 300000, out));
	assert_memory_equal(out, key, sizeof key);
	assert_false(sec_keyring_get(r, 1, out));
	sec_keyring_free(&r);
}

struct ring_worker {
	struct sec_keyring	*r;
	uint64_t		 base;
};

static void *
ring_worker_run(void *arg)
{
	struct ring_worker *w = arg;
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];
	uint64_t i;

	for (i = 0; i < 20000; i++) {
		key_for(w->base + i, key);
		sec_keyring_put(w->r, w->base + i, key);
		if (i % 10 == 0)
			(void)sec_keyring_get(w->r, w->base + i / 2, out);
	}
	return NULL;
}

static void
test_keyring_concurrent_inserts(void **state)
{
	struct sec_keyring *r = sec_keyring_new();
	struct ring_worker w[4];
	uint8_t key[SEC_KEY_BYTES], out[SEC_KEY_BYTES];
	pthread_t t[4];
	uint64_t i;
	int n;

	(void)state;
	for (n = 0; n < 4; n++) {
		w[n] = (struct ring_worker){ r, (uint64_t)n * 1000000 };
		assert_int_equal(pthread_create(&t[n], NULL, ring_worker_run, &w[n]), 0);
	}
	for (n = 0; n < 4; n++)
		pthread_join(t[n], NULL);
	assert_int_equal(sec_keyring_count(r), 80000);
	for (n = 0; n < 4; n++) {
		for (i = 0; i < 20000; i++) {
			key_for(w[n].base + i, key);
			assert_true(sec_keyring_get(r, w[n].base + i, out));
			assert_memory_equal(out, key, sizeof key);
		}
	}
	sec_keyring_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyring_put_get_and_miss),
		cmocka_unit_test(test_keyring_put_same_id_replaces),
		cmocka_unit_test(test_keyring_grows_keeping_entries),
		cmocka_unit_test(test_keyring_holds_100k_entries),
		cmocka_unit_test(test_keyring_delete_keeps_the_rest_findable),
		cmocka_unit_test(test_keyring_is_bounded),
		cmocka_unit_test(test_keyring_concurrent_inserts),
	};

	return SEC_TEST_MAIN(tests);
}
