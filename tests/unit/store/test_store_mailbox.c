/*
 * test_store_mailbox.c: mailboxes: the six defaults, create, list order,
 * rename (with children, INBOX), delete (children refused), subscribe,
 * UIDVALIDITY after a recreate, name checks and the per-account limit.
 */
#include "store_test.h"

struct mb_op {
	uint64_t		 account_id;
	const char		*name, *to;
	enum store_special	 special;
	bool			 on;
	struct store_mailbox	 out;
	enum store_rc		 (*fn)(struct store_txn *, struct mb_op *);
};

static enum store_rc
mb_run(struct store_txn *t, void *arg)
{
	struct mb_op *o = arg;

	return o->fn(t, o);
}

static enum store_rc
do_create(struct store_txn *t, struct mb_op *o)
{
	return store_mailbox_create(t, o->account_id, o->name, o->special, &o->out);
}

static enum store_rc
do_delete(struct store_txn *t, struct mb_op *o)
{
	return store_mailbox_delete(t, o->account_id, o->name);
}

static enum store_rc
do_rename(struct store_txn *t, struct mb_op *o)
{
	return store_mailbox_rename(t, o->account_id, o->name, o->to);
}

static enum store_rc
do_subscribe(struct store_txn *t, struct mb_op *o)
{
	return store_mailbox_subscribe(t, o->account_id, o->name, o->on);
}

static enum store_rc
mb_create(struct store *st, uint64_t acct, const char *name, struct store_mailbox *out)
{
	struct mb_op o = { .account_id = acct, .name = name, .fn = do_create };
	enum store_rc rc = store_write_wait(st, mb_run, &o);

	if (out != NULL)
		*out = o.out;
	return rc;
}

static enum store_rc
mb_delete(struct store *st, uint64_t acct, const char *name)
{
	struct mb_op o = { .account_id = acct, .name = name, .fn = do_delete };

	return store_write_wait(st, mb_run, &o);
}

static enum store_rc
mb_rename(struct store *st, uint64_t acct, const char *from, const char *to)
{
	struct mb_op o = { .account_id = acct, .name = from, .to = to, .fn = do_rename };

	return store_write_wait(st, mb_run, &o);
}

static enum store_rc
mb_get(struct store *st, uint64_t acct, const char *name, struct store_mailbox *out)
{
	struct store_mailbox m;
	struct store_txn *t;
	enum store_rc rc, r;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	r = store_mailbox_get(t, acct, name, out != NULL ? out : &m);
	store_read_end(&t);
	return r;
}

struct names {
	char	v[16][STORE_MBOX_NAME_MAX + 1];
	int	special[16];
	bool	sub[16];
	int	n;
};

static int
names_cb(void *arg, const struct store_mailbox *m)
{
	struct names *l = arg;

	if (l->n < 16) {
		memcpy(l->v[l->n], m->name, sizeof m->name);
		l->special[l->n] = (int)m->special;
		l->sub[l->n] = m->subscribed;
	}
	l->n++;
	return 0;
}

static struct names
mb_list(struct store *st, uint64_t acct)
{
	struct names l = { .n = 0 };
	struct store_txn *t;
	enum store_rc rc;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_mailbox_list(t, acct, names_cb, &l), STORE_OK);
	store_read_end(&t);
	return l;
}

static void
test_defaults_and_list_order(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "a@example.org", NULL);
	static const char *const want[] = { "Archive", "Drafts", "INBOX", "Junk", "Sent",
	    "Trash", "Zeta", "Zeta/b" };
	struct store_mailbox m;
	struct names l;
	size_t i;

	CHECK_RC(mb_create(fx->st, a.id, "Zeta", &m), STORE_OK);
	CHECK(m.uidnext == 1 && m.highestmodseq == 1 && !m.subscribed && m.uidvalidity > 0);
	CHECK_RC(mb_create(fx->st, a.id, "Zeta/b", NULL), STORE_OK);
	l = mb_list(fx->st, a.id);
	CHECK(l.n == (int)SG_NITEMS(want));
	for (i = 0; i < SG_NITEMS(want); i++)
		CHECK(strcmp(l.v[i], want[i]) == 0);
	CHECK(l.special[0] == STORE_SPECIAL_ARCHIVE && l.special[1] == STORE_SPECIAL_DRAFTS);
	CHECK(l.special[2] == STORE_SPECIAL_NONE && l.special[3] == STORE_SPECIAL_JUNK);
	CHECK(l.special[4] == STORE_SPECIAL_SENT && l.special[5] == STORE_SPECIAL_TRASH);
	CHECK(l.sub[0] && l.sub[5] && !l.sub[6]);
	/* INBOX in any case; other names exactly. */
	CHECK_RC(mb_get(fx->st, a.id, "inbox", &m), STORE_OK);
	CHECK(strcmp(m.name, "INBOX") == 0 && m.account_id == a.id);
	CHECK_RC(mb_get(fx->st, a.id, "zeta", NULL), STORE_NOTFOUND);
	CHECK_RC(mb_get(fx->st, a.id + 1, "INBOX", NULL), STORE_NOTFOUND);
}

static void
test_create_checks(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "b@example.org", NULL);
	struct mb_op o = { .account_id = a.id, .name = "Special", .special = 99,
	    .fn = do_create };
	static const char *const bad[] = { "", "/a", "a/", "a//b", "a\tb", "a%", "a*b",
	    "\xff\xfe", "caf\xc3" };
	char longname[STORE_MBOX_NAME_MAX + 2];
	size_t i;

	CHECK_RC(mb_create(fx->st, a.id, "INBOX", NULL), STORE_EXISTS);
	CHECK_RC(mb_create(fx->st, a.id, "iNbOx", NULL), STORE_EXISTS);
	CHECK_RC(mb_create(fx->st, a.id, "Sent", NULL), STORE_EXISTS);
	CHECK_RC(mb_create(fx->st, a.id + 7, "New", NULL), STORE_NOTFOUND);
	for (i = 0; i < SG_NITEMS(bad); i++)
		CHECK_RC(mb_create(fx->st, a.id, bad[i], NULL), STORE_INVALID);
	CHECK_RC(mb_create(fx->st, a.id, "caf\xc3\xa9/\xe2\x82\xac", NULL), STORE_OK);
	memset(longname, 'x', sizeof longname - 1);
	longname[STORE_MBOX_NAME_MAX] = '\0';
	CHECK_RC(mb_create(fx->st, a.id, longname, NULL), STORE_OK);	/* exactly the max */
	longname[STORE_MBOX_NAME_MAX] = 'x';
	longname[STORE_MBOX_NAME_MAX + 1] = '\0';
	CHECK_RC(mb_create(fx->st, a.id, longname, NULL), STORE_INVALID);
	CHECK_RC(store_write_wait(fx->st, mb_run, &o), STORE_INVALID);
	o.special = STORE_SPECIAL_ARCHIVE;
	CHECK_RC(store_write_wait(fx->st, mb_run, &o), STORE_OK);
	CHECK(o.out.special == STORE_SPECIAL_ARCHIVE);
}

static void
test_uidvalidity_new_after_recreate(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "c@example.org", NULL);
	struct store_mailbox m1, m2;

	CHECK_RC(mb_create(fx->st, a.id, "Work", &m1), STORE_OK);
	(void)t_append(fx->st, &a, m1.id, "one", 0);
	CHECK_RC(mb_delete(fx->st, a.id, "Work"), STORE_OK);
	CHECK_RC(mb_get(fx->st, a.id, "Work", NULL), STORE_NOTFOUND);
	CHECK_RC(mb_create(fx->st, a.id, "Work", &m2), STORE_OK);
	CHECK(m2.uidvalidity > m1.uidvalidity && m2.id != m1.id);
	CHECK(m2.uidnext == 1 && m2.messages == 0);
}

static void
test_delete_rules(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "d@example.org", NULL);
	struct store_mailbox m;
	struct store_stats s;
	struct store_txn *t;
	enum store_rc rc;

	CHECK_RC(mb_create(fx->st, a.id, "P", NULL), STORE_OK);
	CHECK_RC(mb_create(fx->st, a.id, "P/c", &m), STORE_OK);
	(void)t_append(fx->st, &a, m.id, "child mail", 0);
	CHECK_RC(mb_delete(fx->st, a.id, "P"), STORE_EXISTS);	/* has a child */
	CHECK_RC(mb_delete(fx->st, a.id, "INBOX"), STORE_INVALID);
	CHECK_RC(mb_delete(fx->st, a.id, "inbox"), STORE_INVALID);
	CHECK_RC(mb_delete(fx->st, a.id, "Nope"), STORE_NOTFOUND);
	CHECK_RC(mb_delete(fx->st, a.id, "P/c"), STORE_OK);
	CHECK_RC(mb_delete(fx->st, a.id, "P"), STORE_OK);
	CHECK((t = store_read_begin(fx->st, &rc)) != NULL);
	CHECK_RC(store_mailbox_get_id(t, m.id, &m), STORE_NOTFOUND);
	CHECK_RC(store_stats(t, &s), STORE_OK);
	CHECK(s.messages == 0 && s.blobs == 0);	/* its message and blob went too */
	store_read_end(&t);
	/* "P" had a child "P/c"; a sibling "Pa" is not a child. */
	CHECK_RC(mb_create(fx->st, a.id, "Q", NULL), STORE_OK);
	CHECK_RC(mb_create(fx->st, a.id, "Qa", NULL), STORE_OK);
	CHECK_RC(mb_delete(fx->st, a.id, "Q"), STORE_OK);
}

static void
test_rename_with_children(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "e@example.org", NULL);
	struct store_mailbox p, c, g, after;
	struct store_msg msg;
	struct store_txn *t;
	enum store_rc rc;

	CHECK_RC(mb_create(fx->st, a.id, "Proj", &p), STORE_OK);
	CHECK_RC(mb_create(fx->st, a.id, "Proj/x", &c), STORE_OK);
	CHECK_RC(mb_create(fx->st, a.id, "Proj/x/y", &g), STORE_OK);
	CHECK_RC(mb_create(fx->st, a.id, "Projector", NULL), STORE_OK);
	msg = t_append(fx->st, &a, c.id, "in the child", 0);
	CHECK_RC(mb_rename(fx->st, a.id, "Proj", "Old/Proj"), STORE_OK);
	CHECK_RC(mb_get(fx->st, a.id, "Proj", NULL), STORE_NOTFOUND);
	CHECK_RC(mb_get(fx->st, a.id, "Old/Proj", &after), STORE_OK);
	CHECK(after.id == p.id && after.uidvalidity == p.uidvalidity);
	CHECK_RC(mb_get(fx->st, a.id, "Old/Proj/x", &after), STORE_OK);
	CHECK(after.id == c.id && after.messages == 1);
	CHECK_RC(mb_get(fx->st, a.id, "Old/Proj/x/y", &after), STORE_OK);
	CHECK(after.id == g.id);
	CHECK_RC(mb_get(fx->st, a.id, "Projector", NULL), STORE_OK);	/* not a child */
	CHECK((t = store_read_begin(fx->st, &rc)) != NULL);
	CHECK_RC(store_mailbox_get_id(t, c.id, &after), STORE_OK);
	CHECK(strcmp(after.name, "Old/Proj/x") == 0);
	CHECK_RC(store_msg_get(t, c.id, msg.uid, &msg), STORE_OK);
	store_read_end(&t);
	/* Refusals. */
	CHECK_RC(mb_rename(fx->st, a.id, "Nope", "X"), STORE_NOTFOUND);
	CHECK_RC(mb_rename(fx->st, a.id, "Projector", "Sent"), STORE_EXISTS);
	CHECK_RC(mb_rename(fx->st, a.id, "Projector", "inbox"), STORE_EXISTS);
	CHECK_RC(mb_rename(fx->st, a.id, "Projector", "Projector/sub"), STORE_INVALID);
	CHECK_RC(mb_rename(fx->st, a.id, "Projector", "bad//name"), STORE_INVALID);
	/* A child's new name that exists: nothing renamed. */
	CHECK_RC(mb_create(fx->st, a.id, "New/x", NULL), STORE_OK);
	CHECK_RC(mb_rename(fx->st, a.id, "Old/Proj", "New"), STORE_EXISTS);
	CHECK_RC(mb_get(fx->st, a.id, "Old/Proj/x", NULL), STORE_OK);
}

static void
test_rename_inbox(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "f@example.org", NULL);
	uint64_t inbox = t_mbox_id(fx->st, a.id, "INBOX");
	struct store_mailbox before, in, moved;
	struct store_msg m1, m2, got;
	struct store_txn *t;
	enum store_rc rc;

	CHECK_RC(mb_create(fx->st, a.id, "INBOX/kid", NULL), STORE_OK);
	m1 = t_append(fx->st, &a, inbox, "first", 0);
	m2 = t_append(fx->st, &a, inbox, "second", STORE_F_SEEN);
	before = t_mbox(fx->st, inbox);
	CHECK_RC(mb_rename(fx->st, a.id, "inbox", "Old Inbox"), STORE_OK);
	in = t_mbox(fx->st, inbox);
	CHECK(in.messages == 0 && in.unseen == 0 && in.size == 0);
	CHECK(in.highestmodseq > before.highestmodseq && in.uidnext == before.uidnext);
	CHECK_RC(mb_get(fx->st, a.id, "Old Inbox", &moved), STORE_OK);
	CHECK(moved.id != inbox && moved.uidvalidity > before.uidvalidity);
	CHECK(moved.messages == 2 && moved.unseen == 1 && moved.size == before.size);
	CHECK(moved.uidnext >= before.uidnext);
	CHECK_RC(mb_get(fx->st, a.id, "INBOX/kid", NULL), STORE_OK);	/* children stay */
	CHECK((t = store_read_begin(fx->st, &rc)) != NULL);
	CHECK_RC(store_msg_get(t, moved.id, m1.uid, &got), STORE_OK);
	CHECK(got.blob_id == m1.blob_id);
	CHECK_RC(store_msg_get(t, moved.id, m2.uid, &got), STORE_OK);
	CHECK(got.flags == STORE_F_SEEN);
	CHECK_RC(store_msg_get(t, inbox, m1.uid, &got), STORE_NOTFOUND);
	store_read_end(&t);
	/* New mail still lands in INBOX, after the old UIDs. */
	m1 = t_append(fx->st, &a, inbox, "third", 0);
	CHECK(m1.uid == before.uidnext);
}

static void
test_subscribe(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "g@example.org", NULL);
	struct mb_op o = { .account_id = a.id, .name = "Lists", .on = true,
	    .fn = do_subscribe };
	struct store_mailbox m;

	CHECK_RC(store_write_wait(fx->st, mb_run, &o), STORE_NOTFOUND);
	CHECK_RC(mb_create(fx->st, a.id, "Lists", NULL), STORE_OK);
	CHECK_RC(store_write_wait(fx->st, mb_run, &o), STORE_OK);
	CHECK_RC(store_write_wait(fx->st, mb_run, &o), STORE_OK);	/* twice: fine */
	CHECK_RC(mb_get(fx->st, a.id, "Lists", &m), STORE_OK);
	CHECK(m.subscribed);
	o.on = false;
	o.name = "INBOX";
	CHECK_RC(store_write_wait(fx->st, mb_run, &o), STORE_OK);
	CHECK_RC(mb_get(fx->st, a.id, "INBOX", &m), STORE_OK);
	CHECK(!m.subscribed);
}

struct many {
	uint64_t	account_id;
	unsigned	made;
};

static enum store_rc
many_op(struct store_txn *t, void *arg)
{
	struct many *o = arg;
	char name[32];
	enum store_rc rc;

	for (;;) {
		snprintf(name, sizeof name, "box%05u", o->made);
		if ((rc = store_mailbox_create(t, o->account_id, name, STORE_SPECIAL_NONE,
		    NULL)) != STORE_OK)
			return rc == STORE_LIMIT ? STORE_OK : rc;
		o->made++;
	}
}

static void
test_mailbox_limit(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "h@example.org", NULL);
	struct many o = { .account_id = a.id };

	CHECK_RC(store_write_wait(fx->st, many_op, &o), STORE_OK);
	CHECK(o.made + 6 == STORE_MBOXES_MAX);
	CHECK_RC(mb_create(fx->st, a.id, "one more", NULL), STORE_LIMIT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, t_fx_setup, t_fx_teardown)
		T(test_defaults_and_list_order),
		T(test_create_checks),
		T(test_uidvalidity_new_after_recreate),
		T(test_delete_rules),
		T(test_rename_with_children),
		T(test_rename_inbox),
		T(test_subscribe),
		T(test_mailbox_limit),
#undef T
	};

	return STORE_TEST_MAIN(tests);
}
