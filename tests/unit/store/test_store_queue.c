/*
 * test_store_queue.c: the outbound queue (sealed payloads), the audit log,
 * statistics, backups, async writes through the poster, the change hook
 * and read-only stores.
 */
#include "store_test.h"

struct qop {
	struct store_qentry	 e;
	uint64_t		 id;
	int64_t			 when;
	uint32_t		 attempts;
	enum store_rc		 (*fn)(struct store_txn *, struct qop *);
};

static enum store_rc
run(struct store_txn *t, void *arg)
{
	struct qop *o = arg;

	return o->fn(t, o);
}

static enum store_rc
do_put(struct store_txn *t, struct qop *o)
{
	return store_queue_put(t, &o->e);
}

static enum store_rc
do_resched(struct store_txn *t, struct qop *o)
{
	return store_queue_reschedule(t, o->id, o->when, o->attempts);
}

static enum store_rc
do_delete(struct store_txn *t, struct qop *o)
{
	return store_queue_delete(t, o->id);
}

static uint64_t
q_put(struct store *st, const char *text, int64_t when)
{
	uint8_t *ct;
	size_t len;
	struct qop o = { .fn = do_put };

	store_queue_seal(st, text, strlen(text), &ct, &len);
	o.e.data = ct;
	o.e.len = len;
	o.e.next_attempt = when;
	CHECK_RC(store_write_wait(st, run, &o), STORE_OK);
	free(ct);
	CHECK(o.e.id > 0 && o.e.created > 0);
	return o.e.id;
}

struct qlist {
	uint64_t	ids[16];
	int64_t		when[16];
	uint32_t	attempts[16];
	int		n, stop_at;
};

static int
qlist_cb(void *arg, const struct store_qentry *e)
{
	struct qlist *l = arg;

	if (l->n < 16) {
		l->ids[l->n] = e->id;
		l->when[l->n] = e->next_attempt;
		l->attempts[l->n] = e->attempts;
	}
	return ++l->n == l->stop_at;
}

static struct qlist
q_list(struct store *st, int64_t due)
{
	struct qlist l = { .n = 0 };
	struct store_txn *t;
	enum store_rc rc;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_queue_list(t, due, qlist_cb, &l), STORE_OK);
	store_read_end(&t);
	return l;
}

static void
test_queue_put_list_reschedule_delete(void **state)
{
	struct t_fx *fx = *state;
	struct store *st = fx->st;
	int64_t now = sg_now();
	uint64_t a = q_put(st, "first", now + 100), b = q_put(st, "second", now - 5);
	uint64_t c = q_put(st, "third", now);
	struct qop o = { .fn = do_resched };
	struct qlist l;

	l = q_list(st, now);
	CHECK(l.n == 2 && l.ids[0] == b && l.ids[1] == c);	/* due, in attempt order */
	l = q_list(st, INT64_MAX);
	CHECK(l.n == 3 && l.ids[2] == a);
	o.id = b;
	o.when = now + 200;
	o.attempts = 3;
	CHECK_RC(store_write_wait(st, run, &o), STORE_OK);
	l = q_list(st, INT64_MAX);
	CHECK(l.n == 3 && l.ids[0] == c && l.ids[2] == b && l.attempts[2] == 3);
	CHECK(l.when[2] == now + 200);
	o.id = 777;
	CHECK_RC(store_write_wait(st, run, &o), STORE_NOTFOUND);
	o = (struct qop){ .id = c, .fn = do_delete };
	CHECK_RC(store_write_wait(st, run, &o), STORE_OK);
	CHECK_RC(store_write_wait(st, run, &o), STORE_NOTFOUND);
	l = q_list(st, INT64_MAX);
	CHECK(l.n == 2 && l.ids[0] == a);
	l = (struct qlist){ .stop_at = 1 };
	{
		struct store_txn *t;
		enum store_rc rc;

		CHECK((t = store_read_begin(st, &rc)) != NULL);
		CHECK_RC(store_queue_list(t, INT64_MAX, qlist_cb, &l), STORE_OK);
		store_read_end(&t);
	}
	CHECK(l.n == 1);
}

static void
test_queue_get_and_open(void **state)
{
	struct t_fx *fx = *state;
	struct store *st = fx->st;
	uint64_t id = q_put(st, "MAIL FROM:<a@b> payload", sg_now());
	struct store_qentry e;
	struct store_txn *t;
	enum store_rc rc;
	uint8_t *pt, *copy;
	size_t len;
	struct qop o = { .fn = do_put };

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_queue_get(t, id, &e), STORE_OK);
	CHECK(e.id == id && e.attempts == 0 && e.len > 23);
	CHECK(store_queue_open(st, e.data, e.len, &pt, &len) == 0);
	CHECK(len == 23 && memcmp(pt, "MAIL FROM:<a@b> payload", 23) == 0);
	sec_wipe(pt, len);
	free(pt);
	/* Damaged: refused, nothing returned. */
	copy = xmemdup(e.data, e.len);
	copy[e.len / 2] ^= 0x10;
	CHECK(store_queue_open(st, copy, e.len, &pt, &len) != 0);
	CHECK(pt == NULL && len == 0);
	free(copy);
	CHECK_RC(store_queue_get(t, id + 9, &e), STORE_NOTFOUND);
	store_read_end(&t);
	/* An explicit id that exists: EXISTS. Empty payloads work. */
	o.e.id = id;
	CHECK_RC(store_write_wait(st, run, &o), STORE_EXISTS);
	store_queue_seal(st, "", 0, &copy, &len);
	CHECK(store_queue_open(st, copy, len, &pt, &e.len) == 0 && e.len == 0 && pt != NULL);
	free(pt);
	free(copy);
}

struct audit_list {
	char	events[8][32];
	int	n;
};

static int
audit_cb(void *arg, const struct store_audit *a)
{
	struct audit_list *l = arg;

	if (l->n < 8)
		memcpy(l->events[l->n], a->event, sizeof a->event);
	l->n++;
	return 0;
}

static struct audit_list
audit_list(struct store *st, int64_t since, const char *address)
{
	struct audit_list l = { .n = 0 };
	struct store_txn *t;
	enum store_rc rc;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_audit_list(t, since, address, audit_cb, &l), STORE_OK);
	store_read_end(&t);
	return l;
}

struct audit_op {
	const char *event;
};

static enum store_rc
audit_op(struct store_txn *t, void *arg)
{
	struct audit_op *o = arg;

	return store_audit_add(t, o->event, "Zed@Example.org", "192.0.2.1", "in an op");
}

static void
test_audit(void **state)
{
	struct t_fx *fx = *state;
	struct store *st = fx->st;
	struct audit_op o = { "enroll" };
	char longdetail[600];
	struct audit_list l;
	int64_t t0 = sg_now();

	sg_now_shift(-50);
	store_audit(st, "login_fail", "zed@example.org", "192.0.2.1", "bad password");
	t_barrier(st);
	sg_now_shift(50);
	store_audit(st, "login", "ZED@example.org", "192.0.2.1", NULL);
	store_audit(st, "login", "yan@example.org", "2001:db8::1", "");
	memset(longdetail, 'd', sizeof longdetail - 1);
	longdetail[sizeof longdetail - 1] = '\0';
	store_audit(st, "reset", NULL, NULL, longdetail);	/* truncated, not refused */
	CHECK_RC(store_write_wait(st, audit_op, &o), STORE_OK);
	l = audit_list(st, 0, NULL);
	CHECK(l.n == 5 && strcmp(l.events[0], "login_fail") == 0);
	CHECK(strcmp(l.events[4], "enroll") == 0);	/* oldest first */
	l = audit_list(st, t0 - 10, NULL);
	CHECK(l.n == 4);
	l = audit_list(st, 0, "zed@EXAMPLE.org");
	CHECK(l.n == 3);
	l = audit_list(st, t0 - 10, "zed@example.org");
	CHECK(l.n == 2 && strcmp(l.events[0], "login") == 0);
	l = audit_list(st, 0, "nobody@example.org");
	CHECK(l.n == 0);
}

static void
test_stats(void **state)
{
	struct t_fx *fx = *state;
	struct store *st = fx->st;
	struct store_account a = t_invite(st, "s1@example.org", NULL);
	struct store_stats s;
	struct store_txn *t;
	enum store_rc rc;

	(void)t_invite(st, "s2@example.org", NULL);
	CHECK_RC(store_account_set_state(st, "s2@example.org", STORE_ACCT_DISABLED), STORE_OK);
	(void)t_append(st, &a, t_mbox_id(st, a.id, "INBOX"), "stats", 0);
	(void)q_put(st, "q", sg_now());
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_stats(t, &s), STORE_OK);
	CHECK(s.accounts[STORE_ACCT_INVITED] == 1 && s.accounts[STORE_ACCT_DISABLED] == 1);
	CHECK(s.accounts[STORE_ACCT_ACTIVE] == 0);
	CHECK(s.messages == 1 && s.blobs == 1 && s.queue == 1);
	CHECK(s.bytes > 5 && s.map_size >= (256u << 20) && s.map_used > 0);
	CHECK(s.map_used < s.map_size);
	store_read_end(&t);
}

static void
test_backup_opens_and_holds_data(void **state)
{
	struct t_fx *fx = *state;
	struct store *st = fx->st, *copy;
	struct store_account a = t_invite(st, "bk@example.org", NULL), got;
	char *dest = xasprintf("%s/backup", fx->dir), *err = NULL, *p;
	struct store_msg m = t_append(st, &a, t_mbox_id(st, a.id, "INBOX"), "backed up", 0);
	uint8_t h1[STORE_HASH_BYTES], h2[STORE_HASH_BYTES];
	const uint8_t *ct;
	struct store_txn *t;
	struct stat sb;
	enum store_rc rc;
	size_t len;

	CHECK_RC(store_backup(st, dest, &err), STORE_OK);
	CHECK(err == NULL);
	p = t_path(dest, "queue.key");
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	free(p);
	/* A second backup into the same place refuses to overwrite. */
	CHECK_RC(store_backup(st, dest, &err), STORE_TEMPFAIL);
	CHECK(err != NULL);
	free(err);
	copy = t_open_opts(dest, 0, 0, true);
	CHECK(store_has_recovery_key(copy));
	store_corr_hash(st, "x@y", 3, h1);
	store_corr_hash(copy, "x@y", 3, h2);
	CHECK(memcmp(h1, h2, sizeof h1) == 0);	/* the same index.key */
	CHECK((t = store_read_begin(copy, &rc)) != NULL);
	CHECK_RC(store_account_get(t, "bk@example.org", &got), STORE_OK);
	CHECK(got.id == a.id && memcmp(got.pk, a.pk, 32) == 0);
	CHECK_RC(store_blob_get(t, m.blob_id, &ct, &len), STORE_OK);
	CHECK(len > 9);
	store_read_end(&t);
	/* Read-only: writes are refused, not queued. */
	CHECK_RC(store_write_wait(copy, t_nop_op, NULL), STORE_INVALID);
	store_close(&copy);
	free(dest);
}

/* ---- async writes through a poster, and the change hook ---- */

struct loop {
	pthread_mutex_t	 mu;
	store_task_fn	*fn[64];
	void		*arg[64];
	int		 n;
	pthread_t	 thread;
};

static void
post(void *ctx, store_task_fn *fn, void *arg)
{
	struct loop *l = ctx;

	pthread_mutex_lock(&l->mu);
	CHECK(l->n < 64);
	l->fn[l->n] = fn;
	l->arg[l->n++] = arg;
	pthread_mutex_unlock(&l->mu);
}

struct done {
	int		calls;
	enum store_rc	rc;
	pthread_t	thread;
};

static void
done_cb(void *arg, enum store_rc rc)
{
	struct done *d = arg;

	d->calls++;
	d->rc = rc;
	d->thread = pthread_self();
}

struct hook {
	pthread_mutex_t	mu;
	unsigned	commits, ops;
	uint64_t	mboxes[32], accts[32];
	size_t		nm, na;
};

static void
hook_cb(void *ctx, const struct store_changes *ch)
{
	struct hook *h = ctx;
	size_t i;

	pthread_mutex_lock(&h->mu);
	h->commits++;
	h->ops += ch->ops;
	for (i = 0; i < ch->nmailboxes && h->nm < 32; i++)
		h->mboxes[h->nm++] = ch->mailboxes[i];
	for (i = 0; i < ch->naccounts && h->na < 32; i++)
		h->accts[h->na++] = ch->accounts[i];
	pthread_mutex_unlock(&h->mu);
}

static enum store_rc
fail_op(struct store_txn *t, void *arg)
{
	(void)t;
	(void)arg;
	return STORE_INVALID;
}

static void
test_async_write_and_change_hook(void **state)
{
	struct t_fx *fx = *state;
	struct store *st = fx->st;
	struct loop l = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct hook h = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct done d1 = { 0 }, d2 = { 0 };
	struct store_account a;
	unsigned commits, ops;
	uint64_t inbox;
	int i;

	store_set_poster(st, post, &l);
	store_set_change_hook(st, hook_cb, &h);
	a = t_invite(st, "hook@example.org", NULL);
	inbox = t_mbox_id(st, a.id, "INBOX");
	(void)t_append(st, &a, inbox, "hooked", 0);
	store_write(st, t_nop_op, done_cb, &d1);
	store_write(st, fail_op, done_cb, &d2);
	t_barrier(st);
	/* Completions wait for the loop; nothing ran on the writer. */
	CHECK(d1.calls == 0 && d2.calls == 0 && l.n == 2);
	for (i = 0; i < l.n; i++)
		l.fn[i](l.arg[i]);
	CHECK(d1.calls == 1 && d1.rc == STORE_OK && pthread_equal(d1.thread, pthread_self()));
	CHECK(d2.calls == 1 && d2.rc == STORE_INVALID);
	/* The hook runs after the completions: one more commit makes sure
	 * the previous one's hook returned. */
	t_barrier(st);
	store_set_change_hook(st, NULL, NULL);
	pthread_mutex_lock(&h.mu);
	commits = h.commits;
	ops = h.ops;
	pthread_mutex_unlock(&h.mu);
	CHECK(commits >= 3 && ops >= 5);
	CHECK(h.na >= 1 && h.accts[0] == a.id);
	for (i = 0; i < (int)h.nm && h.mboxes[i] != inbox; i++)
		;
	CHECK(i < (int)h.nm);	/* the append named INBOX */
	store_set_poster(st, NULL, NULL);
	/* No poster: done runs on the writer thread. */
	d1.calls = 0;
	store_write(st, t_nop_op, done_cb, &d1);
	store_write(st, t_nop_op, NULL, NULL);
	t_barrier(st);
	CHECK(d1.calls == 1 && !pthread_equal(d1.thread, pthread_self()));
}

static void
test_read_only_store(void **state)
{
	struct t_fx *fx = *state;
	struct store *ro;
	struct done d = { 0 };
	struct store_account a = t_invite(fx->st, "ro@example.org", NULL), got;
	struct store_txn *t;
	enum store_rc rc;

	ro = t_open_opts(fx->dir, 0, 0, true);
	CHECK((t = store_read_begin(ro, &rc)) != NULL);
	CHECK_RC(store_account_get(t, "ro@example.org", &got), STORE_OK);
	CHECK(got.id == a.id);
	store_read_end(&t);
	store_write(ro, t_nop_op, done_cb, &d);
	CHECK(d.calls == 1 && d.rc == STORE_INVALID);
	store_audit(ro, "x", NULL, NULL, NULL);	/* dropped, no leak */
	store_account_auth_result(ro, "ro@example.org", true, 0);
	/* The writer of the other handle still works alongside. */
	(void)t_invite(fx->st, "ro2@example.org", NULL);
	store_close(&ro);
	CHECK(ro == NULL);
	store_close(&ro);
}

static void
test_open_errors(void **state)
{
	struct t_fx *fx = *state;
	struct store_opts o = { .data_dir = "/nonexistent/sealgate" };
	char *err = NULL, *p;

	CHECK(store_open(&o, &err) == NULL && err != NULL);
	free(err);
	err = NULL;
	CHECK(store_init("/proc/nope/sealgate", &err) == -1 && err != NULL);
	free(err);
	err = NULL;
	/* A key file with loose permissions is refused. */
	p = t_path(fx->dir, "queue.key");
	CHECK(chmod(p, 0644) == 0);
	o.data_dir = fx->dir;
	CHECK(store_open(&o, &err) == NULL && err != NULL);
	free(err);
	CHECK(chmod(p, 0600) == 0);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, t_fx_setup, t_fx_teardown)
		T(test_queue_put_list_reschedule_delete),
		T(test_queue_get_and_open),
		T(test_audit),
		T(test_stats),
		T(test_backup_opens_and_holds_data),
		T(test_async_write_and_change_hook),
		T(test_read_only_store),
		T(test_open_errors),
#undef T
	};

	return STORE_TEST_MAIN(tests);
}
