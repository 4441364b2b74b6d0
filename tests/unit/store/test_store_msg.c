/*
 * test_store_msg.c: messages: append and read back, listing, flags and
 * keywords with modseqs and UNCHANGEDSINCE, copy sharing the blob, move,
 * expunge releasing the blob with its last reference, STATUS counts,
 * correspondents and the retention sweep.
 */
#include "store_test.h"
#include "store/store_private.h"

struct msg_fx {
	struct t_fx		 fx;
	struct store_account	 a;
	uint64_t		 inbox, trash;
};

static int
setup(void **state)
{
	struct msg_fx *m = xcalloc(1, sizeof *m);
	void *inner;

	t_fx_setup(&inner);
	m->fx = *(struct t_fx *)inner;
	free(inner);
	m->a = t_invite(m->fx.st, "ann@example.org", NULL);
	m->inbox = t_mbox_id(m->fx.st, m->a.id, "INBOX");
	m->trash = t_mbox_id(m->fx.st, m->a.id, "Trash");
	*state = m;
	return 0;
}

static int
teardown(void **state)
{
	struct msg_fx *m = *state;
	struct t_fx *fx = xmemdup(&m->fx, sizeof m->fx);

	free(m);
	*state = fx;
	return t_fx_teardown(state);
}

/* ---- generic op runner: a closure over a small struct ---- */

struct op {
	uint64_t		 mbox, dest, unchangedsince, keywords, account_id;
	uint32_t		 uid, flags;
	const char		*name;
	struct store_msg	 out;
	unsigned		 idx;
	enum store_rc		 (*fn)(struct store_txn *, struct op *);
};

static enum store_rc
run(struct store_txn *t, void *arg)
{
	struct op *o = arg;

	return o->fn(t, o);
}

static enum store_rc
do_flags(struct store_txn *t, struct op *o)
{
	return store_msg_set_flags(t, o->mbox, o->uid, o->flags, o->keywords, o->unchangedsince,
	    &o->out);
}

static enum store_rc
do_expunge(struct store_txn *t, struct op *o)
{
	return store_msg_expunge(t, o->mbox, o->uid);
}

static enum store_rc
do_copy(struct store_txn *t, struct op *o)
{
	return store_msg_copy(t, o->mbox, o->uid, o->dest, &o->out);
}

/* MOVE (RFC 6851) is a copy and an expunge in one op. */
static enum store_rc
do_move(struct store_txn *t, struct op *o)
{
	enum store_rc rc = store_msg_copy(t, o->mbox, o->uid, o->dest, &o->out);

	return rc != STORE_OK ? rc : store_msg_expunge(t, o->mbox, o->uid);
}

static enum store_rc
do_keyword(struct store_txn *t, struct op *o)
{
	return store_keyword_index(t, o->account_id, o->name, &o->idx);
}

static enum store_rc
op_run(struct store *st, struct op *o)
{
	return store_write_wait(st, run, o);
}

static struct store_msg
msg_get(struct store *st, uint64_t mbox, uint32_t uid, enum store_rc want)
{
	struct store_msg m;
	struct store_txn *t;
	enum store_rc rc;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_msg_get(t, mbox, uid, &m), want);
	store_read_end(&t);
	return m;
}

static bool
blob_exists(struct store *st, uint64_t blob)
{
	const uint8_t *ct;
	struct store_txn *t;
	enum store_rc rc;
	size_t len;
	bool yes;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	yes = store_blob_get(t, blob, &ct, &len) == STORE_OK;
	CHECK(yes == (store_summary_get(t, blob, &ct, &len) == STORE_OK));
	store_read_end(&t);
	return yes;
}

static void
test_append_and_read_back(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	const char *text = "Subject: hi\r\n\r\nbody one\r\n";
	struct store_msg a, b, got;
	struct store_mailbox mb;

	a = t_append(st, &m->a, m->inbox, text, 0);
	b = t_append(st, &m->a, m->inbox, "second", STORE_F_SEEN | STORE_F_FLAGGED);
	CHECK(a.uid == 1 && b.uid == 2 && a.modseq < b.modseq && a.blob_id != b.blob_id);
	CHECK(a.internal_date > 0 && a.size == strlen(text));
	got = msg_get(st, m->inbox, 2, STORE_OK);
	CHECK(got.blob_id == b.blob_id && got.flags == (STORE_F_SEEN | STORE_F_FLAGGED));
	CHECK(got.modseq == b.modseq && got.size == 6 && got.mailbox_id == m->inbox);
	CHECK(got.internal_date == b.internal_date && got.keywords == 0);
	(void)msg_get(st, m->inbox, 3, STORE_NOTFOUND);
	mb = t_mbox(st, m->inbox);
	CHECK(mb.messages == 2 && mb.unseen == 1 && mb.deleted == 0);
	CHECK(mb.size == a.size + b.size && mb.uidnext == 3 && mb.highestmodseq == b.modseq);
}

/* The account's private key, as a login would give it: from a user add. */
static struct sec_sk *
active_account(struct store *st, const char *addr, struct store_account *a)
{
	struct sec_sk *k = NULL;
	struct store_account l;

	CHECK_RC(store_account_add(st, addr, "pw-for-tests", 12, SEC_KDF_INTERACTIVE, a),
	    STORE_OK);
	CHECK_RC(store_login(st, addr, "pw-for-tests", 12, &l, &k), STORE_OK);
	return k;
}

static void
test_decrypts_message_and_summary(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct sec_buf pt = { NULL, 0, 0 }, sum = { NULL, 0, 0 };
	struct store_account a;
	struct sec_sk *k = active_account(st, "reader@example.org", &a), *other = sec_sk_new();
	struct store_msg msg = t_append(st, &a, t_mbox_id(st, a.id, "INBOX"), "hello vault", 0);

	CHECK(t_read(st, k, a.id, msg.blob_id, &pt, &sum) == 0);
	CHECK(pt.len == 11 && memcmp(pt.data, "hello vault", 11) == 0);
	CHECK(sum.len == 7 && memcmp(sum.data, "summary", 7) == 0);
	sec_buf_wipe(&pt);
	/* Another key opens nothing; another account has no key for it. */
	CHECK(t_read(st, other, a.id, msg.blob_id, &pt, NULL) != 0);
	CHECK(t_read(st, k, m->a.id, msg.blob_id, &pt, NULL) != 0);
	CHECK(pt.len == 0);
	sec_buf_wipe(&sum);
	sec_sk_unref(&k);
	sec_sk_unref(&other);
}

struct bad_append {
	uint64_t	account_id, mailbox_id, blob_id;
	int		mode;
};

static enum store_rc
bad_append_op(struct store_txn *t, void *arg)
{
	struct bad_append *b = arg;
	static const uint8_t ct[4] = { 1, 2, 3, 4 };
	struct store_blob blob = { ct, sizeof ct, ct, sizeof ct, 4 };
	struct store_blob empty = { NULL, 0, NULL, 0, 0 };
	uint8_t sealed[STORE_SEALED_KEY_BYTES] = { 1 };
	struct store_msg msg = { .mailbox_id = b->mailbox_id };
	enum store_rc rc;

	switch (b->mode) {
	case 0:	/* no key for the account */
		if ((rc = store_blob_put(t, &blob, &msg.blob_id)) != STORE_OK)
			return rc;
		return store_msg_append(t, &msg);
	case 1:
		return store_blob_put(t, &empty, &msg.blob_id);
	case 2:	/* no such blob */
		return store_key_put(t, 999999, b->account_id, sealed);
	case 3:	/* bad flags */
		msg.flags = 0x100;
		return store_msg_append(t, &msg);
	default: /* no such mailbox */
		if ((rc = store_blob_put(t, &blob, &msg.blob_id)) != STORE_OK ||
		    (rc = store_key_put(t, msg.blob_id, b->account_id, sealed)) != STORE_OK)
			return rc;
		msg.mailbox_id = 424242;
		return store_msg_append(t, &msg);
	}
}

static void
test_append_refusals(void **state)
{
	struct msg_fx *m = *state;
	struct bad_append b = { .account_id = m->a.id, .mailbox_id = m->inbox };
	struct store_stats s;
	struct store_txn *t;
	enum store_rc rc;

	CHECK_RC(store_write_wait(m->fx.st, bad_append_op, &b), STORE_INVALID);
	b.mode = 1;
	CHECK_RC(store_write_wait(m->fx.st, bad_append_op, &b), STORE_INVALID);
	b.mode = 2;
	CHECK_RC(store_write_wait(m->fx.st, bad_append_op, &b), STORE_NOTFOUND);
	b.mode = 3;
	CHECK_RC(store_write_wait(m->fx.st, bad_append_op, &b), STORE_INVALID);
	b.mode = 4;
	CHECK_RC(store_write_wait(m->fx.st, bad_append_op, &b), STORE_NOTFOUND);
	/* Failed ops left nothing behind (their nested txns were undone). */
	CHECK((t = store_read_begin(m->fx.st, &rc)) != NULL);
	CHECK_RC(store_stats(t, &s), STORE_OK);
	CHECK(s.blobs == 0 && s.messages == 0 && s.bytes == 0);
	store_read_end(&t);
	CHECK(t_mbox(m->fx.st, m->inbox).messages == 0);
}

static void
test_list_in_uid_order(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	uint64_t other = m->trash;
	struct store_cursor *c;
	struct store_txn *t;
	struct store_msg msg;
	enum store_rc rc;
	uint32_t want = 3, n = 0;
	int i;

	for (i = 0; i < 5; i++)
		(void)t_append(st, &m->a, m->inbox, "x", 0);
	(void)t_append(st, &m->a, other, "y", 0);
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	c = store_msgs_open(t, m->inbox, 3);
	CHECK(c != NULL);
	while (store_msgs_next(c, &msg)) {
		CHECK(msg.uid == want++ && msg.mailbox_id == m->inbox);
		n++;
	}
	CHECK(n == 3);
	CHECK(!store_msgs_next(c, &msg));
	store_msgs_close(&c);
	CHECK(c == NULL);
	store_msgs_close(&c);
	c = store_msgs_open(t, 987654, 0);
	CHECK(!store_msgs_next(c, &msg));
	store_msgs_close(&c);
	CHECK(!store_msgs_next(NULL, &msg));
	store_read_end(&t);
}

static void
test_flags_modseq_unchangedsince(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct store_msg a = t_append(st, &m->a, m->inbox, "flag me", 0);
	struct store_mailbox mb;
	struct op o = { .mbox = m->inbox, .uid = a.uid, .flags = STORE_F_SEEN | STORE_F_DELETED,
	    .fn = do_flags };
	uint64_t ms;

	CHECK_RC(op_run(st, &o), STORE_OK);
	CHECK(o.out.modseq > a.modseq && o.out.flags == (STORE_F_SEEN | STORE_F_DELETED));
	mb = t_mbox(st, m->inbox);
	CHECK(mb.highestmodseq == o.out.modseq && mb.unseen == 0 && mb.deleted == 1);
	ms = o.out.modseq;
	/* Same flags: nothing changes, no new modseq. */
	CHECK_RC(op_run(st, &o), STORE_OK);
	CHECK(o.out.modseq == ms && t_mbox(st, m->inbox).highestmodseq == ms);
	/* UNCHANGEDSINCE older than the message: refused, nothing written. */
	o.flags = 0;
	o.unchangedsince = a.modseq;
	CHECK_RC(op_run(st, &o), STORE_CHANGED);
	CHECK(o.out.modseq == ms);
	CHECK(msg_get(st, m->inbox, a.uid, STORE_OK).flags == (STORE_F_SEEN | STORE_F_DELETED));
	o.unchangedsince = ms;	/* equal: allowed */
	CHECK_RC(op_run(st, &o), STORE_OK);
	CHECK(o.out.modseq > ms && o.out.flags == 0);
	mb = t_mbox(st, m->inbox);
	CHECK(mb.unseen == 1 && mb.deleted == 0);
	o.flags = 0x40;
	CHECK_RC(op_run(st, &o), STORE_INVALID);
	o.flags = 0;
	o.uid = 99;
	CHECK_RC(op_run(st, &o), STORE_NOTFOUND);
}

static void
test_keywords_up_to_limit(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct op o = { .account_id = m->a.id, .fn = do_keyword };
	struct store_msg a = t_append(st, &m->a, m->inbox, "kw", 0);
	struct store_keywords kw;
	struct store_txn *t;
	enum store_rc rc;
	char name[32];
	unsigned i;

	for (i = 0; i < STORE_KEYWORDS_MAX; i++) {
		snprintf(name, sizeof name, "$Label%u", i);
		o.name = name;
		CHECK_RC(op_run(st, &o), STORE_OK);
		CHECK(o.idx == i);
	}
	o.name = "$label5";	/* case-insensitive: the existing index */
	CHECK_RC(op_run(st, &o), STORE_OK);
	CHECK(o.idx == 5);
	o.name = "$OneTooMany";
	CHECK_RC(op_run(st, &o), STORE_LIMIT);
	o.name = "\\Seen";
	CHECK_RC(op_run(st, &o), STORE_INVALID);
	o.name = "two words";
	CHECK_RC(op_run(st, &o), STORE_INVALID);
	o.name = "";
	CHECK_RC(op_run(st, &o), STORE_INVALID);
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_keywords_get(t, m->a.id, &kw), STORE_OK);
	CHECK(kw.n == STORE_KEYWORDS_MAX && strcmp(kw.names[5], "$Label5") == 0);
	CHECK_RC(store_keywords_get(t, m->a.id + 50, &kw), STORE_OK);
	CHECK(kw.n == 0);
	store_read_end(&t);
	/* Keyword bits on a message, with a modseq. */
	o = (struct op){ .mbox = m->inbox, .uid = a.uid, .keywords = 1ull << 63 | 1,
	    .fn = do_flags };
	CHECK_RC(op_run(st, &o), STORE_OK);
	CHECK(msg_get(st, m->inbox, a.uid, STORE_OK).keywords == (1ull << 63 | 1));
	CHECK(o.out.modseq > a.modseq);
}

static void
test_copy_shares_blob_and_expunge_frees_last(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct store_msg a = t_append(st, &m->a, m->inbox, "shared", 0);
	struct op o = { .mbox = m->inbox, .uid = a.uid, .dest = m->trash, .fn = do_copy };
	struct store_account other = t_invite(st, "bea@example.org", NULL);
	struct store_stats s;
	struct store_txn *t;
	enum store_rc rc;
	struct store_msg copy;

	CHECK_RC(op_run(st, &o), STORE_OK);
	copy = o.out;
	CHECK(copy.blob_id == a.blob_id && copy.mailbox_id == m->trash && copy.uid == 1);
	CHECK(t_mbox(st, m->trash).messages == 1);
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_stats(t, &s), STORE_OK);
	CHECK(s.blobs == 1 && s.messages == 2);
	store_read_end(&t);
	/* Across accounts: refused (the key is sealed to one account). */
	o.dest = t_mbox_id(st, other.id, "INBOX");
	CHECK_RC(op_run(st, &o), STORE_INVALID);
	o.dest = 55555;
	CHECK_RC(op_run(st, &o), STORE_NOTFOUND);
	/* Expunge the original: the copy still holds the blob. */
	o = (struct op){ .mbox = m->inbox, .uid = a.uid, .fn = do_expunge };
	CHECK_RC(op_run(st, &o), STORE_OK);
	CHECK_RC(op_run(st, &o), STORE_NOTFOUND);
	CHECK(blob_exists(st, a.blob_id));
	o.mbox = m->trash;
	o.uid = copy.uid;
	CHECK_RC(op_run(st, &o), STORE_OK);
	CHECK(!blob_exists(st, a.blob_id));
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_stats(t, &s), STORE_OK);
	CHECK(s.blobs == 0 && s.messages == 0 && s.bytes == 0);
	store_read_end(&t);
}

static void
test_move(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct store_msg a = t_append(st, &m->a, m->inbox, "move me", STORE_F_SEEN);
	struct store_mailbox in0 = t_mbox(st, m->inbox), in, tr;
	struct op o = { .mbox = m->inbox, .uid = a.uid, .dest = m->trash, .fn = do_move };

	CHECK_RC(op_run(st, &o), STORE_OK);
	in = t_mbox(st, m->inbox);
	tr = t_mbox(st, m->trash);
	CHECK(in.messages == 0 && in.size == 0 && in.highestmodseq > in0.highestmodseq);
	CHECK(tr.messages == 1 && tr.size == a.size && tr.unseen == 0);
	(void)msg_get(st, m->inbox, a.uid, STORE_NOTFOUND);
	CHECK(msg_get(st, m->trash, o.out.uid, STORE_OK).flags == STORE_F_SEEN);
	CHECK(blob_exists(st, a.blob_id));
}

static void
test_status_counts(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct store_msg a, b, c;
	struct store_mailbox mb;
	struct op o = { .mbox = m->inbox, .fn = do_flags };

	a = t_append(st, &m->a, m->inbox, "aaaa", 0);
	b = t_append(st, &m->a, m->inbox, "bbbbbb", STORE_F_SEEN);
	c = t_append(st, &m->a, m->inbox, "cc", STORE_F_DELETED);
	mb = t_mbox(st, m->inbox);
	CHECK(mb.messages == 3 && mb.unseen == 2 && mb.deleted == 1 && mb.size == 12);
	CHECK(mb.uidnext == c.uid + 1 && mb.highestmodseq == c.modseq);
	o.uid = a.uid;
	o.flags = STORE_F_SEEN;
	CHECK_RC(op_run(st, &o), STORE_OK);
	o = (struct op){ .mbox = m->inbox, .uid = c.uid, .fn = do_expunge };
	CHECK_RC(op_run(st, &o), STORE_OK);
	mb = t_mbox(st, m->inbox);
	CHECK(mb.messages == 2 && mb.unseen == 0 && mb.deleted == 0 && mb.size == 10);
	(void)b;
}

struct corr {
	uint64_t	account_id;
	uint8_t		hash[STORE_HASH_BYTES];
};

static enum store_rc
corr_op(struct store_txn *t, void *arg)
{
	struct corr *c = arg;

	return store_corr_add(t, c->account_id, c->hash);
}

static void
test_correspondents(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct corr c = { .account_id = m->a.id };
	uint8_t h2[STORE_HASH_BYTES], h3[STORE_HASH_BYTES];
	struct store_txn *t;
	enum store_rc rc;

	store_corr_hash(st, "Boss@Example.COM", 16, c.hash);
	store_corr_hash(st, "boss@example.com", 16, h2);
	store_corr_hash(st, "other@example.com", 17, h3);
	CHECK(memcmp(c.hash, h2, sizeof h2) == 0);	/* lowercased */
	CHECK(memcmp(c.hash, h3, sizeof h3) != 0);
	CHECK_RC(store_write_wait(st, corr_op, &c), STORE_OK);
	CHECK_RC(store_write_wait(st, corr_op, &c), STORE_OK);	/* twice: fine */
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK(store_corr_has(t, m->a.id, h2));
	CHECK(!store_corr_has(t, m->a.id, h3));
	CHECK(!store_corr_has(t, m->a.id + 1, h2));
	store_read_end(&t);
	/* Account deletion forgets them. */
	CHECK_RC(store_account_delete(st, "ann@example.org"), STORE_OK);
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK(!store_corr_has(t, m->a.id, h2));
	store_read_end(&t);
}

struct sweep {
	int64_t		before;
	uint64_t	cursor;
	unsigned	expunged, total, rounds;
	bool		done;
};

static enum store_rc
sweep_op(struct store_txn *t, void *arg)
{
	struct sweep *s = arg;

	return store_sweep_messages(t, s->before, 2, &s->cursor, &s->expunged, &s->done);
}

static void
test_sweep_messages(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct sweep s = { .before = sg_now() - 100 };
	int i;

	sg_now_shift(-1000);
	for (i = 0; i < 5; i++)
		(void)t_append(st, &m->a, i % 2 ? m->inbox : m->trash, "old", 0);
	sg_now_shift(1000);
	for (i = 0; i < 3; i++)
		(void)t_append(st, &m->a, m->inbox, "new", 0);
	do {
		CHECK_RC(store_write_wait(st, sweep_op, &s), STORE_OK);
		s.total += s.expunged;
		CHECK(++s.rounds < 20);
	} while (!s.done);
	CHECK(s.total == 5);
	CHECK(t_mbox(st, m->inbox).messages == 3 && t_mbox(st, m->trash).messages == 0);
}

/* ---- blobs around page boundaries ---- */

struct many {
	struct t_append	*a;
	size_t		 n;
};

static enum store_rc
many_op(struct store_txn *t, void *arg)
{
	struct many *mm = arg;
	enum store_rc rc = STORE_OK;
	size_t i;

	for (i = 0; i < mm->n && rc == STORE_OK; i++)
		rc = t_append_op(t, &mm->a[i]);
	return rc;
}

static uint64_t
pages_used(struct store *st)
{
	struct store_stats s;
	struct store_txn *t;
	enum store_rc rc;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_stats(t, &s), STORE_OK);
	store_read_end(&t);
	return s.map_used / (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Text of n bytes that differs with n, so a mixed-up tail shows. */
static char *
sized_text(size_t n)
{
	char *p = xmalloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + n) % 26);
	p[n] = '\0';
	return p;
}

/*
 * LMDB gives a large value whole pages: a 4 KiB message, 4,147 bytes
 * sealed, took two. Its last bytes now go in a small record of their own
 * (store_msg.c), so 64 of them in one commit take about one page each.
 */
static void
test_four_kib_messages_take_one_page(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct t_sealed s[64];
	struct t_append a[64];
	struct many mm = { a, 64 };
	char *text = sized_text(4096);
	struct store_account acct;
	struct sec_sk *k = active_account(st, "pages@example.org", &acct);
	uint64_t before, inbox = t_mbox_id(st, acct.id, "INBOX");
	size_t i;

	for (i = 0; i < 64; i++) {
		t_seal(&s[i], acct.pk, text, 4096, "summary", 7);
		a[i] = (struct t_append){ .s = &s[i], .account_id = acct.id, .mailbox_id = inbox };
	}
	before = pages_used(st);
	CHECK_RC(store_write_wait(st, many_op, &mm), STORE_OK);
	/* 64 blob pages, the tails and summaries, a few tree pages; two
	 * pages a blob would be 128 and more. */
	CHECK(pages_used(st) - before < 96);
	for (i = 0; i < 64; i += 21) {
		struct sec_buf pt = { NULL, 0, 0 };

		CHECK(t_read(st, k, acct.id, a[i].out.blob_id, &pt, NULL) == 0);
		CHECK(pt.len == 4096 && memcmp(pt.data, text, 4096) == 0);
		sec_buf_wipe(&pt);
	}
	for (i = 0; i < 64; i++)
		t_sealed_free(&s[i]);
	sec_sk_unref(&k);
	free(text);
}

/*
 * Summaries of a kilobyte fill their pages: LMDB splits a full page in
 * the middle, which left two of them to a page; new ids are appended
 * (split at the new key), three to a page. 96 in one commit.
 */
static void
test_summaries_fill_their_pages(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct t_sealed s[96];
	struct t_append a[96];
	struct many mm = { a, 96 };
	char sum[1024];
	struct store_account acct;
	struct sec_sk *k = active_account(st, "summaries@example.org", &acct);
	uint64_t before, used, inbox = t_mbox_id(st, acct.id, "INBOX");
	size_t i;

	memset(sum, 's', sizeof sum);
	for (i = 0; i < 96; i++) {
		t_seal(&s[i], acct.pk, "short", 5, sum, sizeof sum);
		a[i] = (struct t_append){ .s = &s[i], .account_id = acct.id, .mailbox_id = inbox };
	}
	before = pages_used(st);
	CHECK_RC(store_write_wait(st, many_op, &mm), STORE_OK);
	used = pages_used(st) - before;
	print_message("# 96 summaries of 1 KiB: %llu pages\n", (unsigned long long)used);
	/* 32 summary pages and about 16 for the rest: 48 measured; 64 with
	 * two summaries a page. */
	CHECK(used < 56);
	CHECK(t_mbox(st, inbox).messages == 96);
	for (i = 0; i < 96; i++)
		t_sealed_free(&s[i]);
	sec_sk_unref(&k);
}

/* Sizes on both sides of one, two, sixteen and twenty-five pages read back
 * byte-exact; expunged, they leave no blob and no byte behind. */
static void
test_blobs_across_page_boundaries(void **state)
{
	static const size_t base[] = { 4096 - 64, 8192 - 64, 65536 - 64, 100 * 1024 - 64 };
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	struct store_stats stats;
	struct store_txn *t;
	enum store_rc rc;
	struct store_account acct;
	struct sec_sk *key = active_account(st, "sizes@example.org", &acct);
	uint64_t inbox = t_mbox_id(st, acct.id, "INBOX");
	uint32_t uids[64];
	size_t i, n, k = 0;

	for (i = 0; i < SG_NITEMS(base); i++) {
		for (n = base[i]; n <= base[i] + 120 && k < SG_NITEMS(uids); n += 15) {
			struct sec_buf pt = { NULL, 0, 0 };
			char *text = sized_text(n);
			struct store_msg msg = t_append(st, &acct, inbox, text, 0);

			CHECK(t_read(st, key, acct.id, msg.blob_id, &pt, NULL) == 0);
			CHECK(pt.len == n && memcmp(pt.data, text, n) == 0);
			sec_buf_wipe(&pt);
			free(text);
			uids[k++] = msg.uid;
		}
	}
	for (i = 0; i < k; i++) {
		struct op o = { .mbox = inbox, .uid = uids[i], .fn = do_expunge };

		CHECK_RC(op_run(st, &o), STORE_OK);
	}
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_stats(t, &stats), STORE_OK);
	CHECK(stats.blobs == 0 && stats.messages == 0 && stats.bytes == 0);
	store_read_end(&t);
	sec_sk_unref(&key);
}

static enum store_rc
drop_tail_op(struct store_txn *t, void *arg)
{
	uint8_t k[9];

	store_be64_put(k, *(const uint64_t *)arg);
	k[8] = 1;
	return store_db_del(t, STORE_DB_BLOBS, k, sizeof k);
}

/* A split blob whose tail went missing is corrupt, not short. */
static void
test_split_blob_without_tail_is_corrupt(void **state)
{
	struct msg_fx *m = *state;
	struct store *st = m->fx.st;
	char *text = sized_text(4096);
	struct store_msg msg = t_append(st, &m->a, m->inbox, text, 0);
	const uint8_t *ct;
	struct store_txn *t;
	enum store_rc rc;
	size_t len;

	CHECK_RC(store_write_wait(st, drop_tail_op, &msg.blob_id), STORE_OK);
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_blob_get(t, msg.blob_id, &ct, &len), STORE_CORRUPT);
	CHECK(ct == NULL && len == 0);
	store_read_end(&t);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_append_and_read_back),
		T(test_decrypts_message_and_summary),
		T(test_append_refusals),
		T(test_list_in_uid_order),
		T(test_flags_modseq_unchangedsince),
		T(test_keywords_up_to_limit),
		T(test_copy_shares_blob_and_expunge_frees_last),
		T(test_four_kib_messages_take_one_page),
		T(test_summaries_fill_their_pages),
		T(test_blobs_across_page_boundaries),
		T(test_split_blob_without_tail_is_corrupt),
		T(test_move),
		T(test_status_counts),
		T(test_correspondents),
		T(test_sweep_messages),
#undef T
	};

	return STORE_TEST_MAIN(tests);
}
