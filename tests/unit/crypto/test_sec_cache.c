/*
 * test_sec_cache.c: the login cache: hits, misses on another password,
 * forget, idle expiry on a shifted clock, references that outlive entries,
 * the generation guard, and concurrent use.
 */
#include "sec_test.h"

#include <pthread.h>
#include <string.h>

#include "gateway/sg.h"

#define IDLE	300

static const char pw[] = "hunter2hunter2";

static struct sec_sk *
get(struct sec_cache *c, const char *addr, const char *p)
{
	return sec_cache_get(c, addr, p, strlen(p));
}

static void
put(struct sec_cache *c, const char *addr, const char *p, struct sec_sk *k)
{
	sec_cache_put(c, addr, p, strlen(p), k);
}

static void
test_cache_put_then_get_hits(void **state)
{
	struct sec_cache *c = sec_cache_new(IDLE);
	struct sec_sk *k = sec_sk_new(), *hit;

	(void)state;
	put(c, "alice@example.org", pw, k);
	assert_int_equal(k->refs, 2);		/* the cache took its own */
	hit = get(c, "alice@example.org", pw);
	assert_ptr_equal(hit, k);
	assert_int_equal(k->refs, 3);
	sec_sk_unref(&hit);
	hit = get(c, "ALICE@Example.ORG", pw);	/* addresses compare case-blind */
	assert_ptr_equal(hit, k);
	sec_sk_unref(&hit);
	sec_cache_free(&c);
	assert_null(c);
	assert_int_equal(k->refs, 1);
	sec_sk_unref(&k);
	sec_cache_free(&c);			/* NULL: no-op */
}

static void
test_cache_other_password_misses(void **state)
{
	static const char *const wrong[] = {
		"hunter2hunter", "hunter2hunter22", "Hunter2hunter2", "", "hunter2hunter2\n",
	};
	struct sec_cache *c = sec_cache_new(IDLE);
	struct sec_sk *k = sec_sk_new();
	size_t i;

	(void)state;
	put(c, "alice@example.org", pw, k);
	for (i = 0; i < SG_NITEMS(wrong); i++)
		assert_null(get(c, "alice@example.org", wrong[i]));
	assert_null(sec_cache_get(c, "alice@example.org", pw, sizeof pw));	/* with NUL */
	assert_null(get(c, "bob@example.org", pw));
	assert_null(get(c, "alice@example.or", pw));
	/* the address and password are hashed as separate parts */
	assert_null(get(c, "alice@example.orgh", "unter2hunter2"));
	assert_int_equal(k->refs, 2);
	sec_cache_free(&c);
	sec_sk_unref(&k);
}

static void
test_cache_new_password_replaces_old(void **state)
{
	struct sec_cache *c = sec_cache_new(IDLE);
	struct sec_sk *k = sec_sk_new(), *k2 = sec_sk_new(), *hit;

	(void)state;
	put(c, "alice@example.org", pw, k);
	put(c, "Alice@example.org", "new password", k2);
	assert_null(get(c, "alice@example.org", pw));
	assert_int_equal(k->refs, 1);
	hit = get(c, "alice@example.org", "new password");
	assert_ptr_equal(hit, k2);
	sec_sk_unref(&hit);
	put(c, "alice@example.org", "new password", k);	/* same id: key replaced */
	hit = get(c, "alice@example.org", "new password");
	assert_ptr_equal(hit, k);
	assert_int_equal(sec_cache_expire(c, sg_now()), 1);
	sec_sk_unref(&hit);
	sec_cache_free(&c);
	sec_sk_unref(&k);
	sec_sk_unref(&k2);
}

static void
test_cache_forget_drops_all_of_address(void **state)
{
	struct sec_cache *c = sec_cache_new(IDLE);
	struct sec_sk *a = sec_sk_new(), *b = sec_sk_new(), *hit;

	(void)state;
	put(c, "alice@example.org", pw, a);
	put(c, "bob@example.org", pw, b);
	sec_cache_forget(c, "ALICE@EXAMPLE.ORG");
	assert_null(get(c, "alice@example.org", pw));
	assert_int_equal(a->refs, 1);
	hit = get(c, "bob@example.org", pw);
	assert_ptr_equal(hit, b);
	sec_sk_unref(&hit);
	sec_cache_forget(c, "nobody@example.org");
	assert_int_equal(sec_cache_expire(c, sg_now()), 1);
	sec_cache_free(&c);
	sec_sk_unref(&a);
	sec_sk_unref(&b);
}

static void
test_cache_expire_drops_idle_entries(void **state)
{
	struct sec_cache *c = sec_cache_new(IDLE);
	struct sec_sk *k = sec_sk_new(), *k2 = sec_sk_new(), *hit;

	(void)state;
	put(c, "alice@example.org", pw, k);
	put(c, "bob@example.org", pw, k2);
	sec_sk_unref(&k);			/* only the cache holds them now */
	sec_sk_unref(&k2);
	assert_int_equal(sec_cache_expire(c, sg_now()), 2);
	sg_now_shift(IDLE - 10);
	hit = get(c, "bob@example.org", pw);	/* a lookup is a use */
	assert_non_null(hit);
	sec_sk_unref(&hit);
	assert_int_equal(sec_cache_expire(c, sg_now()), 2);
	sg_now_shift(10);
	assert_int_equal(sec_cache_expire(c, sg_now()), 1);
	assert_null(get(c, "alice@example.org", pw));
	sg_now_shift(IDLE);
	assert_int_equal(sec_cache_expire(c, sg_now()), 0);
	assert_null(get(c, "bob@example.org", pw));
	sg_now_shift(-2 * IDLE);
	sec_cache_free(&c);
}

/* A session's reference keeps its key alive, and the entry too. */
static void
test_cache_session_ref_outlives_expiry(void **state)
{
	struct sec_cache *c = sec_cache_new(IDLE);
	struct sec_sk *k = sec_sk_new(), *session;
	uint8_t key[SEC_KEY_BYTES], sealed[SEC_SEALED_KEY_BYTES], out[SEC_KEY_BYTES];

	(void)state;
	put(c, "alice@example.org", pw, k);
	sec_sk_unref(&k);
	session = get(c, "alice@example.org", pw);
	sg_now_shift(IDLE * 3);
	assert_int_equal(sec_cache_expire(c, sg_now()), 1);	/* held: stays */
	sec_sk_unref(&session);
	assert_int_equal(sec_cache_expire(c, sg_now()), 1);	/* idle from here on */
	sg_now_shift(IDLE);
	assert_int_equal(sec_cache_expire(c, sg_now()), 0);

	/* forget drops the entry at once; the session's key stays usable */
	k = sec_sk_new();
	put(c, "alice@example.org", pw, k);
	session = k;
	sec_cache_forget(c, "alice@example.org");
	assert_int_equal(session->refs, 1);
	sec_content_key_new(key);
	sec_seal_key(key, session->pk, sealed);
	assert_int_equal(sec_open_key(sealed, sizeof sealed, session, out), 0);
	assert_memory_equal(out, key, SEC_KEY_BYTES);

	put(c, "alice@example.org", pw, session);
	sec_cache_free(&c);				/* the session outlives the cache */
	assert_int_equal(session->refs, 1);
	assert_int_equal(sec_open_key(sealed, sizeof sealed, session, out), 0);
	sec_sk_unref(&session);
	sg_now_shift(-IDLE * 4);
}

static void
test_cache_put_since_refuses_after_forget(void **state)
{
	struct sec_cache *c = sec_cache_new(IDLE);
	struct sec_sk *k = sec_sk_new(), *hit;
	uint64_t gen;

	(void)state;
	gen = sec_cache_generation(c);
	/* ... a password change runs while the login unwraps ... */
	sec_cache_forget(c, "alice@example.org");
	assert_false(sec_cache_put_since(c, gen, "alice@example.org", pw, strlen(pw), k));
	assert_null(get(c, "alice@example.org", pw));
	assert_int_equal(k->refs, 1);
	gen = sec_cache_generation(c);
	assert_true(sec_cache_put_since(c, gen, "alice@example.org", pw, strlen(pw), k));
	hit = get(c, "alice@example.org", pw);
	assert_ptr_equal(hit, k);
	sec_sk_unref(&hit);
	sec_cache_free(&c);
	sec_sk_unref(&k);
}

static void
test_cache_many_accounts(void **state)
{
	struct sec_cache *c = sec_cache_new(IDLE);
	struct sec_sk *k = sec_sk_new(), *hit;
	char addr[64];
	int i;

	(void)state;
	for (i = 0; i < 500; i++) {
		snprintf(addr, sizeof addr, "user%d@example.org", i);
		put(c, addr, pw, k);
	}
	assert_int_equal(k->refs, 501);
	for (i = 0; i < 500; i += 7) {
		snprintf(addr, sizeof addr, "USER%d@example.org", i);
		hit = get(c, addr, pw);
		assert_ptr_equal(hit, k);
		sec_sk_unref(&hit);
		sec_cache_forget(c, addr);
	}
	assert_int_equal(sec_cache_expire(c, sg_now()), 500 - 72);
	sec_cache_free(&c);
	assert_int_equal(k->refs, 1);
	sec_sk_unref(&k);
}

struct worker {
	struct sec_cache	*c;
	struct sec_sk		*k;
	int			 id;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct sec_sk *hit;
	char addr[64];
	int i;

	for (i = 0; i < 3000; i++) {
		snprintf(addr, sizeof addr, "user%d@example.org", (i + w->id) % 13);
		switch (i % 5) {
		case 0:
			sec_cache_put(w->c, addr, pw, strlen(pw), w->k);
			break;
		case 3:
			sec_cache_forget(w->c, addr);
			break;
		case 4:
			(void)sec_cache_expire(w->c, sg_now());
			break;
		default:
			hit = sec_cache_get(w->c, addr, pw, strlen(pw));
			if (hit != NULL)
				assert_non_null(hit->sk);
			sec_sk_unref(&hit);
		}
	}
	return NULL;
}

static void
test_cache_concurrent_use(void **state)
{
	struct worker w[4];
	pthread_t t[4];
	struct sec_cache *c = sec_cache_new(0);
	struct sec_sk *k = sec_sk_new();
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ c, k, i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	sec_cache_free(&c);
	assert_int_equal(k->refs, 1);
	sec_sk_unref(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_put_then_get_hits),
		cmocka_unit_test(test_cache_other_password_misses),
		cmocka_unit_test(test_cache_new_password_replaces_old),
		cmocka_unit_test(test_cache_forget_drops_all_of_address),
		cmocka_unit_test(test_cache_expire_drops_idle_entries),
		cmocka_unit_test(test_cache_session_ref_outlives_expiry),
		cmocka_unit_test(test_cache_put_since_refuses_after_forget),
		cmocka_unit_test(test_cache_many_accounts),
		cmocka_unit_test(test_cache_concurrent_use),
	};

	return SEC_TEST_MAIN(tests);
}
