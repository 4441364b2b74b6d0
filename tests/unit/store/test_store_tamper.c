/*
 * test_store_tamper.c: one flipped bit in each kind of stored ciphertext
 * (message blob, either part of a blob kept in two, summary, sealed
 * content key, password wrap, token wrap, queue payload), made directly
 * in data.mdb while the store is closed, must make opening it fail, and
 * never yield other plaintext. LMDB has no checksums of its own: the
 * ciphertexts' tags are the only defence.
 */
#include "store_test.h"
#include "store/store_private.h"

#define PW	"tamper-test-password"

struct tamper_fx {
	char			*dir, *data, *pristine;
	struct store_account	 active, invited;
	char			 token[STORE_TOKEN_TEXT_LEN + 1];
	struct sec_sk		*sk;
	uint64_t		 blob, split, qid;
	/* The ciphertexts as stored, to find them in the file. */
	uint8_t			*ct[8];
	size_t			 ctlen[8];
};

enum kind { K_BLOB, K_SUMMARY, K_SEALED, K_PWWRAP, K_TOKWRAP, K_QUEUE, K_HEAD, K_TAIL };

static void
copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *p = t_slurp(from, &len);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(p != NULL && fd >= 0);
	CHECK(write(fd, p, len) == (ssize_t)len);
	close(fd);
	free(p);
}

static void
capture(struct tamper_fx *f, struct store *st)
{
	struct store_acct_rec r;
	struct store_qentry e;
	const uint8_t *p;
	struct store_txn *t;
	enum store_rc rc;
	size_t len;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_blob_get(t, f->blob, &p, &len), STORE_OK);
	f->ct[K_BLOB] = xmemdup(p, len);
	f->ctlen[K_BLOB] = len;
	/* A 4 KiB message's blob: a page's worth, and its tail apart
	 * (store_msg.c). */
	CHECK_RC(store_blob_get(t, f->split, &p, &len), STORE_OK);
	f->ctlen[K_TAIL] = (9 + len + 16) % (size_t)sysconf(_SC_PAGESIZE);
	CHECK(f->ctlen[K_TAIL] > 0 && f->ctlen[K_TAIL] < 1024);
	f->ctlen[K_HEAD] = len - f->ctlen[K_TAIL];
	f->ct[K_HEAD] = xmemdup(p, f->ctlen[K_HEAD]);
	f->ct[K_TAIL] = xmemdup(p + f->ctlen[K_HEAD], f->ctlen[K_TAIL]);
	CHECK_RC(store_summary_get(t, f->blob, &p, &len), STORE_OK);
	f->ct[K_SUMMARY] = xmemdup(p, len);
	f->ctlen[K_SUMMARY] = len;
	f->ct[K_SEALED] = xmalloc(STORE_SEALED_KEY_BYTES);
	f->ctlen[K_SEALED] = STORE_SEALED_KEY_BYTES;
	CHECK_RC(store_key_get(t, f->blob, f->active.id, f->ct[K_SEALED]), STORE_OK);
	CHECK_RC(store_acct_load(t, "act@example.org", &r), STORE_OK);
	f->ct[K_PWWRAP] = xmemdup(r.pw_wrap, r.pw_wrap_len);
	f->ctlen[K_PWWRAP] = r.pw_wrap_len;
	CHECK_RC(store_acct_load(t, "inv@example.org", &r), STORE_OK);
	f->ct[K_TOKWRAP] = xmemdup(r.token_wrap, r.token_wrap_len);
	f->ctlen[K_TOKWRAP] = r.token_wrap_len;
	CHECK_RC(store_queue_get(t, f->qid, &e), STORE_OK);
	f->ct[K_QUEUE] = xmemdup(e.data, e.len);
	f->ctlen[K_QUEUE] = e.len;
	store_read_end(&t);
}

struct q {
	struct store_qentry e;
};

static enum store_rc
q_op(struct store_txn *t, void *arg)
{
	return store_queue_put(t, &((struct q *)arg)->e);
}

static int
setup(void **state)
{
	struct tamper_fx *f = xcalloc(1, sizeof *f);
	struct store_account l;
	struct store *st;
	struct store_msg m;
	struct q q = { .e = { .next_attempt = 1 } };
	uint8_t *ct;
	char big[3000], page[4097];

	f->dir = t_tmpdir();
	st = t_store_new(f->dir);
	CHECK_RC(store_account_add(st, "act@example.org", PW, strlen(PW), SEC_KDF_INTERACTIVE,
	    &f->active), STORE_OK);
	CHECK_RC(store_login(st, "act@example.org", PW, strlen(PW), &l, &f->sk), STORE_OK);
	f->invited = t_invite(st, "inv@example.org", f->token);
	memset(big, 'm', sizeof big);	/* big enough for an overflow page */
	big[sizeof big - 1] = '\0';
	m = t_append(st, &f->active, t_mbox_id(st, f->active.id, "INBOX"), big, 0);
	f->blob = m.blob_id;
	memset(page, 'p', sizeof page);
	page[sizeof page - 1] = '\0';
	f->split = t_append(st, &f->active, t_mbox_id(st, f->active.id, "INBOX"), page,
	    0).blob_id;
	store_queue_seal(st, "RCPT TO:<x@example.com>", 23, &ct, &q.e.len);
	q.e.data = ct;
	CHECK_RC(store_write_wait(st, q_op, &q), STORE_OK);
	free(ct);
	f->qid = q.e.id;
	capture(f, st);
	store_close(&st);
	f->data = xasprintf("%s/store/data.mdb", f->dir);
	f->pristine = xasprintf("%s/pristine.mdb", f->dir);
	copy_file(f->data, f->pristine);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct tamper_fx *f = *state;
	size_t i;

	for (i = 0; i < SG_NITEMS(f->ct); i++)
		free(f->ct[i]);
	sec_sk_unref(&f->sk);
	t_rmtree(f->dir);
	free(f->dir);
	free(f->data);
	free(f->pristine);
	free(f);
	return 0;
}

/* Flip one bit in the middle of every copy of needle in the data file
 * (copy-on-write leaves old copies in free pages). Returns the count. */
static int
flip(const char *path, const uint8_t *needle, size_t nlen)
{
	size_t len, off = 0;
	uint8_t *p = t_slurp(path, &len);
	const uint8_t *hit;
	int fd = open(path, O_WRONLY), n = 0;
	uint8_t b;

	CHECK(p != NULL && fd >= 0);
	while ((hit = t_memmem(p + off, len - off, needle, nlen)) != NULL) {
		size_t at = (size_t)(hit - p) + nlen / 2;

		b = p[at] ^ 0x04;
		CHECK(pwrite(fd, &b, 1, (off_t)at) == 1);
		off = (size_t)(hit - p) + nlen;
		n++;
	}
	close(fd);
	free(p);
	return n;
}

static struct store *
tampered(struct tamper_fx *f, enum kind k)
{
	copy_file(f->pristine, f->data);
	CHECK(flip(f->data, f->ct[k], f->ctlen[k]) >= 1);
	return t_open_opts(f->dir, 0, 0, false);
}

/* The message's content key, opened with the account key. */
static int
content_key(struct store *st, struct tamper_fx *f, uint64_t blob, uint8_t key[SEC_KEY_BYTES])
{
	uint8_t sealed[STORE_SEALED_KEY_BYTES];
	struct store_txn *t;
	enum store_rc rc;
	int r;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_key_get(t, blob, f->active.id, sealed), STORE_OK);
	r = sec_open_key(sealed, sizeof sealed, f->sk, key);
	store_read_end(&t);
	return r;
}

static void
test_untampered_reads(void **state)
{
	struct tamper_fx *f = *state;
	struct sec_buf pt = { NULL, 0, 0 }, sum = { NULL, 0, 0 };
	struct store *st;

	copy_file(f->pristine, f->data);
	st = t_open_opts(f->dir, 0, 0, false);
	CHECK(t_read(st, f->sk, f->active.id, f->blob, &pt, &sum) == 0);
	CHECK(pt.len == 2999 && sum.len == 7);
	sec_buf_wipe(&pt);
	sec_buf_wipe(&sum);
	store_close(&st);
}

/* The blob no longer decrypts, whole or by range, and yields nothing. */
static void
blob_fails(struct tamper_fx *f, enum kind k, uint64_t blob)
{
	struct store *st = tampered(f, k);
	struct sec_buf pt = { NULL, 0, 0 };
	uint8_t key[SEC_KEY_BYTES];
	const uint8_t *ct;
	struct store_txn *t;
	enum store_rc rc;
	size_t len;

	CHECK(content_key(st, f, blob, key) == 0);
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_blob_get(t, blob, &ct, &len), STORE_OK);
	CHECK(sec_decrypt(key, ct, len, &pt) != 0);
	CHECK(pt.len == 0);
	CHECK(sec_decrypt_range(key, ct, len, 0, len, &pt) != 0 && pt.len == 0);
	store_read_end(&t);
	sec_buf_wipe(&pt);	/* a failed decrypt appends nothing, but may reserve */
	sec_wipe(key, sizeof key);
	store_close(&st);
}

static void
test_flipped_blob(void **state)
{
	struct tamper_fx *f = *state;

	blob_fails(f, K_BLOB, f->blob);
}

static void
test_flipped_split_blob_head(void **state)
{
	struct tamper_fx *f = *state;

	blob_fails(f, K_HEAD, f->split);
}

static void
test_flipped_split_blob_tail(void **state)
{
	struct tamper_fx *f = *state;

	blob_fails(f, K_TAIL, f->split);
}

static void
test_flipped_summary(void **state)
{
	struct tamper_fx *f = *state;
	struct store *st = tampered(f, K_SUMMARY);
	struct sec_buf pt = { NULL, 0, 0 }, sum = { NULL, 0, 0 };

	CHECK(t_read(st, f->sk, f->active.id, f->blob, &pt, &sum) != 0);
	CHECK(sum.len == 0);
	sec_buf_wipe(&pt);
	sec_buf_wipe(&sum);
	store_close(&st);
}

static void
test_flipped_sealed_key(void **state)
{
	struct tamper_fx *f = *state;
	struct store *st = tampered(f, K_SEALED);
	uint8_t key[SEC_KEY_BYTES], zero[SEC_KEY_BYTES] = { 0 };

	CHECK(content_key(st, f, f->blob, key) != 0);
	CHECK(memcmp(key, zero, sizeof key) == 0);
	store_close(&st);
}

static void
test_flipped_password_wrap(void **state)
{
	struct tamper_fx *f = *state;
	struct store *st = tampered(f, K_PWWRAP);
	struct store_account a;
	struct sec_sk *k = NULL;

	CHECK_RC(store_login(st, "act@example.org", PW, strlen(PW), &a, &k), STORE_CORRUPT);
	CHECK(k == NULL);
	store_close(&st);
}

static void
test_flipped_token_wrap(void **state)
{
	struct tamper_fx *f = *state;
	struct store *st = tampered(f, K_TOKWRAP);
	struct store_account a;

	CHECK_RC(store_enroll(st, f->token, strlen(f->token), PW, strlen(PW),
	    SEC_KDF_INTERACTIVE, &a), STORE_CORRUPT);
	/* Nothing was spent: the account is still invited. */
	CHECK_RC(store_token_lookup(st, f->token, strlen(f->token), &a), STORE_OK);
	CHECK(a.state == STORE_ACCT_INVITED);
	store_close(&st);
}

static void
test_flipped_queue_payload(void **state)
{
	struct tamper_fx *f = *state;
	struct store *st = tampered(f, K_QUEUE);
	struct store_qentry e;
	struct store_txn *t;
	enum store_rc rc;
	uint8_t *pt;
	size_t len;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_queue_get(t, f->qid, &e), STORE_OK);
	CHECK(store_queue_open(st, e.data, e.len, &pt, &len) != 0);
	CHECK(pt == NULL);
	store_read_end(&t);
	store_close(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untampered_reads),
		cmocka_unit_test(test_flipped_blob),
		cmocka_unit_test(test_flipped_split_blob_head),
		cmocka_unit_test(test_flipped_split_blob_tail),
		cmocka_unit_test(test_flipped_summary),
		cmocka_unit_test(test_flipped_sealed_key),
		cmocka_unit_test(test_flipped_password_wrap),
		cmocka_unit_test(test_flipped_token_wrap),
		cmocka_unit_test(test_flipped_queue_payload),
	};

	return sec_init() != 0 ? 1 : cmocka_run_group_tests(tests, setup, teardown);
}
