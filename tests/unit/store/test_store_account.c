/*
 * test_store_account.c: accounts, invitations, enrollment, login,
 * password change, state, delete, and the three recovery deployments.
 * Argon2id runs at INTERACTIVE (~70 ms), so each case uses few.
 */
#include "store_test.h"

#define PW	"correct horse battery"
#define PW2	"another staple, longer"
#define KDF	SEC_KDF_INTERACTIVE

static struct sec_sk *
login_ok(struct store *st, const char *address, const char *pw)
{
	struct store_account a;
	struct sec_sk *k = NULL;

	CHECK_RC(store_login(st, address, pw, strlen(pw), &a, &k), STORE_OK);
	CHECK(k != NULL);
	CHECK(memcmp(k->pk, a.pk, 32) == 0);
	return k;
}

static struct store_account
acct_get(struct store *st, const char *address, enum store_rc want)
{
	struct store_account a;
	struct store_txn *t;
	enum store_rc rc;

	memset(&a, 0, sizeof a);
	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_account_get(t, address, &a), want);
	store_read_end(&t);
	return a;
}

static void
test_init_idempotent_and_keys(void **state)
{
	struct t_fx *fx = *state;
	const char *files[] = { "index.key", "queue.key", "recovery.key", "recovery.pub" };
	struct stat sb;
	char *err = NULL, *p;
	size_t i;

	CHECK(store_has_recovery_key(fx->st));
	CHECK(store_init(fx->dir, &err) == 0);	/* again: nothing replaced */
	for (i = 0; i < SG_NITEMS(files); i++) {
		p = t_path(fx->dir, files[i]);
		CHECK(stat(p, &sb) == 0);
		CHECK((sb.st_mode & 077 & ~044) == 0);
		free(p);
	}
	p = t_path(fx->dir, "store");
	CHECK(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700);
	free(p);
	CHECK(strcmp(store_rc_str(STORE_CORRUPT), "corrupt") == 0);
	CHECK(strcmp(store_acct_state_str(STORE_ACCT_DISABLED), "disabled") == 0);
}

static int
count_cb(void *arg, const struct store_account *a)
{
	(void)a;
	(*(int *)arg)++;
	return 0;
}

static int
mbox_cb(void *arg, const struct store_mailbox *m)
{
	(*(int *)arg)++;
	CHECK(m->subscribed);
	return 0;
}

static void
test_invite_creates_account_and_mailboxes(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a, b, again;
	struct t_create c = { .inv = store_invite_prepare(fx->st, "Bob@Example.ORG", T_TTL) };
	struct store_txn *t;
	enum store_rc rc;
	int n = 0;

	CHECK(c.inv != NULL && strcmp(c.inv->address, "bob@example.org") == 0);
	CHECK(strlen(c.inv->token) == STORE_TOKEN_TEXT_LEN);
	CHECK_RC(store_write_wait(fx->st, t_create_op, &c), STORE_OK);
	a = c.acct;
	CHECK(a.id > 0 && a.state == STORE_ACCT_INVITED && a.has_token && a.has_recovery);
	CHECK(!a.has_password && a.token_expiry > sg_now());
	/* Again: EXISTS, nothing written, the existing account reported. */
	CHECK_RC(store_write_wait(fx->st, t_create_op, &c), STORE_EXISTS);
	store_invite_free(&c.inv);
	CHECK(c.inv == NULL);
	CHECK(store_invite_prepare(fx->st, "bad address", T_TTL) == NULL);
	CHECK(store_invite_prepare(fx->st, "", T_TTL) == NULL);

	CHECK((t = store_read_begin(fx->st, &rc)) != NULL);
	CHECK_RC(store_account_get(t, "BOB@example.org", &b), STORE_OK);
	CHECK(b.id == a.id && strcmp(b.address, "bob@example.org") == 0);
	CHECK_RC(store_account_get_id(t, a.id, &again), STORE_OK);
	CHECK(memcmp(again.pk, a.pk, 32) == 0);
	CHECK_RC(store_account_get_id(t, a.id + 100, &again), STORE_NOTFOUND);
	CHECK_RC(store_account_get(t, "nobody@example.org", &again), STORE_NOTFOUND);
	CHECK_RC(store_account_list(t, count_cb, &n), STORE_OK);
	CHECK(n == 1);
	n = 0;
	CHECK_RC(store_mailbox_list(t, a.id, mbox_cb, &n), STORE_OK);
	CHECK(n == 6);
	store_read_end(&t);
	CHECK(t == NULL);
}

static enum store_rc
existing_op(struct store_txn *t, void *arg)
{
	struct t_create *c = arg;
	struct store_account fresh, old;

	memset(&old, 0, sizeof old);
	CHECK_RC(store_account_create(t, c->inv, &fresh, &old), STORE_EXISTS);
	c->acct = old;
	return STORE_OK;
}

static void
test_create_reports_existing(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "carol@example.org", NULL);
	struct t_create c = { .inv = store_invite_prepare(fx->st, "carol@example.org", T_TTL) };

	CHECK_RC(store_write_wait(fx->st, existing_op, &c), STORE_OK);
	CHECK(c.acct.id == a.id);
	store_invite_free(&c.inv);
}

static void
test_enroll_then_token_spent(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1];
	struct store_account a = t_invite(fx->st, "dan@example.org", token), e, l;
	struct sec_sk *k;

	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_OK);
	CHECK(l.id == a.id);
	CHECK_RC(store_enroll(fx->st, token, strlen(token), PW, strlen(PW), KDF, &e), STORE_OK);
	CHECK(e.id == a.id && e.state == STORE_ACCT_ACTIVE && e.has_password && !e.has_token);
	CHECK(e.enrolled > 0 && e.kdf_ops > 0 && e.kdf_mem > 0);
	/* Spent: the same answer as an unknown token, and no KDF. */
	CHECK_RC(store_enroll(fx->st, token, strlen(token), PW, strlen(PW), KDF, &e),
	    STORE_NOTFOUND);
	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_NOTFOUND);
	k = login_ok(fx->st, "dan@example.org", PW);
	CHECK(memcmp(k->pk, a.pk, 32) == 0);	/* the key the invitation wrapped */
	sec_sk_unref(&k);
}

static void
test_unknown_and_malformed_tokens(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1];
	uint8_t raw[SEC_TOKEN_BYTES];
	struct store_account l;

	(void)t_invite(fx->st, "erin@example.org", NULL);
	sec_token_new(raw, token);
	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_NOTFOUND);
	CHECK_RC(store_enroll(fx->st, token, strlen(token), PW, strlen(PW), KDF, &l),
	    STORE_NOTFOUND);
	CHECK_RC(store_token_lookup(fx->st, "short", 5, &l), STORE_NOTFOUND);
	CHECK_RC(store_token_lookup(fx->st, token, 10, &l), STORE_NOTFOUND);
	CHECK_RC(store_token_lookup(fx->st, NULL, 0, &l), STORE_NOTFOUND);
	CHECK_RC(store_enroll(fx->st, token, strlen(token), PW, strlen(PW), 7, &l),
	    STORE_INVALID);
}

static void
test_expired_token(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1];
	struct store_account l;

	(void)t_invite(fx->st, "fay@example.org", token);
	sg_now_shift(T_TTL + 10);
	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_EXPIRED);
	CHECK_RC(store_enroll(fx->st, token, strlen(token), PW, strlen(PW), KDF, &l),
	    STORE_EXPIRED);
	sg_now_shift(-(T_TTL + 10));
	/* Still live at the real time. */
	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_OK);
}

struct sweep_arg {
	int64_t		now;
	unsigned	n;
};

static enum store_rc
sweep_op(struct store_txn *t, void *arg)
{
	struct sweep_arg *s = arg;

	return store_sweep_tokens(t, s->now, 100, &s->n);
}

static void
test_sweep_tokens(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1];
	struct sweep_arg s = { .now = sg_now() };
	struct store_account l, a;

	(void)t_invite(fx->st, "gus@example.org", token);
	CHECK_RC(store_write_wait(fx->st, sweep_op, &s), STORE_OK);
	CHECK(s.n == 0);
	s.now = sg_now() + T_TTL + 1;
	CHECK_RC(store_write_wait(fx->st, sweep_op, &s), STORE_OK);
	CHECK(s.n == 1);
	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_NOTFOUND);
	a = acct_get(fx->st, "gus@example.org", STORE_OK);
	CHECK(!a.has_token && a.token_expiry == 0 && a.state == STORE_ACCT_INVITED);
}

static void
test_login_wrong_password_and_unknown(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a, out;
	struct sec_sk *k = NULL;

	CHECK_RC(store_account_add(fx->st, "hal@example.org", PW, strlen(PW), KDF, &a), STORE_OK);
	CHECK(a.state == STORE_ACCT_ACTIVE && a.has_password && a.has_recovery);
	CHECK_RC(store_login(fx->st, "hal@example.org", "wrong", 5, &out, &k), STORE_DENIED);
	CHECK(k == NULL && out.id == a.id);
	CHECK_RC(store_login(fx->st, "nobody@example.org", PW, strlen(PW), &out, &k),
	    STORE_NOTFOUND);
	k = login_ok(fx->st, "HAL@example.org", PW);
	sec_sk_unref(&k);
	/* user add again: EXISTS. */
	CHECK_RC(store_account_add(fx->st, "hal@example.org", PW, strlen(PW), KDF, &out),
	    STORE_EXISTS);
	CHECK_RC(store_account_add(fx->st, "bad address", PW, strlen(PW), KDF, &out),
	    STORE_INVALID);
	CHECK_RC(store_account_add(fx->st, "x@example.org", PW, strlen(PW), -1, &out),
	    STORE_INVALID);
}

static void
test_auth_result_counts(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a;

	(void)t_invite(fx->st, "ida@example.org", NULL);
	store_account_auth_result(fx->st, "ida@example.org", false, 0);
	store_account_auth_result(fx->st, "IDA@example.org", false, sg_now() + 60);
	t_barrier(fx->st);
	a = acct_get(fx->st, "ida@example.org", STORE_OK);
	CHECK(a.auth_failures == 2 && a.locked_until > sg_now());
	store_account_auth_result(fx->st, "ida@example.org", true, 0);
	store_account_auth_result(fx->st, "nobody@example.org", true, 0);
	store_account_auth_result(fx->st, "", true, 0);
	t_barrier(fx->st);
	a = acct_get(fx->st, "ida@example.org", STORE_OK);
	CHECK(a.auth_failures == 0 && a.locked_until == 0 && a.last_login > 0);
}

struct mark_arg {
	uint64_t	id;
};

static enum store_rc
mark_op(struct store_txn *t, void *arg)
{
	struct mark_arg *m = arg;

	CHECK(store_txn_store(t) != NULL && store_txn_now(t) > 0);
	return store_account_mark_invited(t, m->id, 12345);
}

static void
test_mark_invited(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "jo@example.org", NULL);
	struct mark_arg m = { a.id };

	CHECK_RC(store_write_wait(fx->st, mark_op, &m), STORE_OK);
	a = acct_get(fx->st, "jo@example.org", STORE_OK);
	CHECK(a.invited_at == 12345);
	m.id = 9999;
	CHECK_RC(store_write_wait(fx->st, mark_op, &m), STORE_NOTFOUND);
}

static void
test_disable_enable(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1];
	struct store_account a, l;
	struct sec_sk *k = NULL;

	CHECK_RC(store_account_add(fx->st, "kim@example.org", PW, strlen(PW), KDF, &a), STORE_OK);
	CHECK_RC(store_account_set_state(fx->st, "kim@example.org", STORE_ACCT_DISABLED),
	    STORE_OK);
	a = acct_get(fx->st, "kim@example.org", STORE_OK);
	CHECK(a.state == STORE_ACCT_DISABLED && a.disabled_was_active);
	/* A disabled account is refused before any KDF runs. */
	CHECK_RC(store_login(fx->st, "kim@example.org", PW, strlen(PW), &l, &k), STORE_DENIED);
	CHECK_RC(store_account_set_state(fx->st, "kim@example.org", STORE_ACCT_ACTIVE), STORE_OK);
	k = login_ok(fx->st, "kim@example.org", PW);
	sec_sk_unref(&k);
	/* An invited account: disable stops its token; enable makes it invited. */
	(void)t_invite(fx->st, "lee@example.org", token);
	CHECK_RC(store_account_set_state(fx->st, "lee@example.org", STORE_ACCT_DISABLED),
	    STORE_OK);
	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_NOTFOUND);
	CHECK_RC(store_login(fx->st, "lee@example.org", PW, strlen(PW), &l, &k), STORE_DENIED);
	CHECK_RC(store_account_set_state(fx->st, "lee@example.org", STORE_ACCT_ACTIVE), STORE_OK);
	a = acct_get(fx->st, "lee@example.org", STORE_OK);
	CHECK(a.state == STORE_ACCT_INVITED);
	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_OK);
	/* Invited cannot be made active by decree; unknown accounts. */
	CHECK_RC(store_account_set_state(fx->st, "lee@example.org", STORE_ACCT_ACTIVE),
	    STORE_INVALID);
	CHECK_RC(store_account_set_state(fx->st, "lee@example.org", STORE_ACCT_INVITED),
	    STORE_OK);
	CHECK_RC(store_account_set_state(fx->st, "nobody@example.org", STORE_ACCT_DISABLED),
	    STORE_NOTFOUND);
	CHECK_RC(store_account_set_state(fx->st, "lee@example.org", (enum store_acct_state)9),
	    STORE_INVALID);
}

static void
test_password_change(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a, l;
	struct sec_sk *k = NULL, *k2;

	CHECK_RC(store_account_add(fx->st, "max@example.org", PW, strlen(PW), KDF, &a), STORE_OK);
	CHECK_RC(store_password_change(fx->st, "max@example.org", "wrong", 5, PW2, strlen(PW2),
	    KDF), STORE_DENIED);
	CHECK_RC(store_password_change(fx->st, "max@example.org", PW, strlen(PW), PW2,
	    strlen(PW2), KDF), STORE_OK);
	CHECK_RC(store_login(fx->st, "max@example.org", PW, strlen(PW), &l, &k), STORE_DENIED);
	k2 = login_ok(fx->st, "max@example.org", PW2);
	CHECK(memcmp(k2->pk, a.pk, 32) == 0);	/* same key, new wrap */
	sec_sk_unref(&k2);
	CHECK_RC(store_password_change(fx->st, "nobody@example.org", PW, strlen(PW), PW2,
	    strlen(PW2), KDF), STORE_NOTFOUND);
}

/* An account with one message in INBOX; returns its blob id. */
static uint64_t
with_mail(struct store *st, const struct store_account *a, const char *text)
{
	uint64_t inbox = t_mbox_id(st, a->id, "INBOX");

	return t_append(st, a, inbox, text, 0).blob_id;
}

static void
check_mail(struct store *st, const struct sec_sk *k, uint64_t account_id, uint64_t blob,
    const char *text)
{
	struct sec_buf pt = { NULL, 0, 0 };

	CHECK(t_read(st, k, account_id, blob, &pt, NULL) == 0);
	CHECK(pt.len == strlen(text) && memcmp(pt.data, text, pt.len) == 0);
	sec_buf_wipe(&pt);
}

/* Recovery online: reset keeps key and mail, the user enrolls again. */
static void
test_reset_recovery_online(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1];
	struct store_account a, b;
	struct sec_sk *k;
	uint64_t blob;
	bool kept = false;

	CHECK_RC(store_account_add(fx->st, "ned@example.org", PW, strlen(PW), KDF, &a), STORE_OK);
	blob = with_mail(fx->st, &a, "kept mail");
	CHECK_RC(store_account_reset(fx->st, "ned@example.org", T_TTL, NULL, false, token, &kept),
	    STORE_OK);
	CHECK(kept);
	b = acct_get(fx->st, "ned@example.org", STORE_OK);
	CHECK(b.state == STORE_ACCT_INVITED && !b.has_password && b.has_token);
	CHECK(memcmp(b.pk, a.pk, 32) == 0);
	CHECK_RC(store_login(fx->st, "ned@example.org", PW, strlen(PW), &b, &k), STORE_DENIED);
	CHECK_RC(store_enroll(fx->st, token, strlen(token), PW2, strlen(PW2), KDF, &b), STORE_OK);
	k = login_ok(fx->st, "ned@example.org", PW2);
	check_mail(fx->st, k, a.id, blob, "kept mail");
	sec_sk_unref(&k);
	CHECK_RC(store_account_reset(fx->st, "nobody@example.org", T_TTL, NULL, false, token,
	    &kept), STORE_NOTFOUND);
}

struct settoken {
	struct store_invite *inv;
};

static enum store_rc
settoken_op(struct store_txn *t, void *arg)
{
	return store_account_set_token(t, ((struct settoken *)arg)->inv);
}

/* Re-invitation of an invited account keeps its key: old token dies,
 * the new one unwraps the same key. */
static void
test_reinvite_keeps_key(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1];
	struct store_account a = t_invite(fx->st, "oli@example.org", token), l, e;
	struct settoken s;
	struct sec_sk *k;
	uint64_t blob = with_mail(fx->st, &a, "before enrolment");

	CHECK_RC(store_reinvite_prepare(fx->st, "oli@example.org", T_TTL, NULL, &s.inv),
	    STORE_OK);
	CHECK(memcmp(s.inv->pk, a.pk, 32) == 0);
	CHECK_RC(store_write_wait(fx->st, settoken_op, &s), STORE_OK);
	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_NOTFOUND);
	CHECK_RC(store_enroll(fx->st, s.inv->token, strlen(s.inv->token), PW, strlen(PW), KDF,
	    &e), STORE_OK);
	store_invite_free(&s.inv);
	k = login_ok(fx->st, "oli@example.org", PW);
	check_mail(fx->st, k, a.id, blob, "before enrolment");
	sec_sk_unref(&k);
	/* set_token refuses another key, and active accounts. */
	s.inv = store_invite_prepare(fx->st, "oli@example.org", T_TTL);
	CHECK_RC(store_write_wait(fx->st, settoken_op, &s), STORE_INVALID);
	store_invite_free(&s.inv);
	CHECK_RC(store_reinvite_prepare(fx->st, "nobody@example.org", T_TTL, NULL, &s.inv),
	    STORE_NOTFOUND);
}

/* Move recovery.key away: the offline deployment. Returns its new path. */
static char *
recovery_offline(struct t_fx *fx)
{
	char *from = t_path(fx->dir, "recovery.key"), *to = xasprintf("%s.offline", fx->dir);

	store_close(&fx->st);
	CHECK(rename(from, to) == 0);
	free(from);
	fx->st = t_open_opts(fx->dir, 0, 0, false);
	CHECK(!store_has_recovery_key(fx->st));
	return to;
}

static void
test_reset_recovery_offline(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1], *keyfile, *err = NULL;
	struct store_account a, b;
	struct store_invite *inv;
	struct sec_sk *rk, *k;
	uint64_t blob;
	bool kept = false;

	CHECK_RC(store_account_add(fx->st, "pat@example.org", PW, strlen(PW), KDF, &a), STORE_OK);
	blob = with_mail(fx->st, &a, "offline kept");
	keyfile = recovery_offline(fx);
	CHECK_RC(store_reinvite_prepare(fx->st, "pat@example.org", T_TTL, NULL, &inv),
	    STORE_DENIED);
	rk = sec_recovery_load(keyfile, &err);
	CHECK(rk != NULL);
	CHECK_RC(store_account_reset(fx->st, "pat@example.org", T_TTL, rk, false, token, &kept),
	    STORE_OK);
	CHECK(kept);
	b = acct_get(fx->st, "pat@example.org", STORE_OK);
	CHECK(memcmp(b.pk, a.pk, 32) == 0 && b.state == STORE_ACCT_INVITED);
	/* A wrong recovery key is refused, never a reason to wipe. */
	k = sec_sk_new();
	CHECK_RC(store_account_reset(fx->st, "pat@example.org", T_TTL, k, false, token, &kept),
	    STORE_DENIED);
	sec_sk_unref(&k);
	CHECK_RC(store_enroll(fx->st, token, strlen(token), PW, strlen(PW), KDF, &b), STORE_OK);
	k = login_ok(fx->st, "pat@example.org", PW);
	check_mail(fx->st, k, a.id, blob, "offline kept");
	sec_sk_unref(&k);
	sec_sk_unref(&rk);
	unlink(keyfile);
	free(keyfile);
}

static void
test_reset_zero_access(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1], *keyfile;
	struct store_account a, b;
	struct store_mailbox m;
	struct store_stats s;
	struct store_txn *t;
	struct sec_sk *k;
	enum store_rc rc;
	bool kept = true;

	CHECK_RC(store_account_add(fx->st, "quin@example.org", PW, strlen(PW), KDF, &a),
	    STORE_OK);
	(void)with_mail(fx->st, &a, "lost forever");
	keyfile = recovery_offline(fx);
	unlink(keyfile);	/* deleted: zero access */
	free(keyfile);
	CHECK_RC(store_account_reset(fx->st, "quin@example.org", T_TTL, NULL, false, token,
	    &kept), STORE_OK);
	CHECK(!kept);
	b = acct_get(fx->st, "quin@example.org", STORE_OK);
	CHECK(memcmp(b.pk, a.pk, 32) != 0 && b.state == STORE_ACCT_INVITED);
	m = t_mbox(fx->st, t_mbox_id(fx->st, a.id, "INBOX"));
	CHECK(m.messages == 0 && m.size == 0);
	CHECK((t = store_read_begin(fx->st, &rc)) != NULL);
	CHECK_RC(store_stats(t, &s), STORE_OK);
	CHECK(s.blobs == 0 && s.messages == 0 && s.bytes == 0);
	store_read_end(&t);
	CHECK_RC(store_enroll(fx->st, token, strlen(token), PW, strlen(PW), KDF, &b), STORE_OK);
	k = login_ok(fx->st, "quin@example.org", PW);
	CHECK(memcmp(k->pk, b.pk, 32) == 0);
	sec_sk_unref(&k);
}

/* Without a recovery key, an invited account cannot be re-invited with
 * its key: reset makes a new key and drops the mail sealed to the old. */
static void
test_reinvite_without_recovery_drops_mail(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1], *keyfile;
	struct store_account a = t_invite(fx->st, "ray@example.org", NULL), b;
	struct store_invite *inv;
	bool kept = true;

	(void)with_mail(fx->st, &a, "sealed to the first key");
	keyfile = recovery_offline(fx);
	CHECK_RC(store_reinvite_prepare(fx->st, "ray@example.org", T_TTL, NULL, &inv),
	    STORE_DENIED);
	CHECK_RC(store_account_reset(fx->st, "ray@example.org", T_TTL, NULL, false, token, &kept),
	    STORE_OK);
	CHECK(!kept);
	b = acct_get(fx->st, "ray@example.org", STORE_OK);
	CHECK(memcmp(b.pk, a.pk, 32) != 0);
	CHECK(t_mbox(fx->st, t_mbox_id(fx->st, a.id, "INBOX")).messages == 0);
	unlink(keyfile);
	free(keyfile);
}

static void
test_reset_force_new_key(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1];
	struct store_account a = t_invite(fx->st, "sam@example.org", NULL), b;
	bool kept = true;

	(void)with_mail(fx->st, &a, "dropped on purpose");
	CHECK_RC(store_account_reset(fx->st, "sam@example.org", T_TTL, NULL, true, token, &kept),
	    STORE_OK);
	CHECK(!kept);
	b = acct_get(fx->st, "sam@example.org", STORE_OK);
	CHECK(memcmp(b.pk, a.pk, 32) != 0);
}

struct share {
	const struct t_sealed	*s;
	uint64_t		 a_id, a_inbox, b_id, b_inbox;
	uint64_t		 blob;
};

/* One message to two accounts: one blob, two sealed keys. */
static enum store_rc
share_op(struct store_txn *t, void *arg)
{
	struct share *sh = arg;
	struct store_blob b = { sh->s->msg.data, sh->s->msg.len, sh->s->sum.data,
	    sh->s->sum.len, sh->s->size };
	struct store_msg m1 = { .size = sh->s->size }, m2 = { .size = sh->s->size };
	enum store_rc rc;

	if ((rc = store_blob_put(t, &b, &sh->blob)) != STORE_OK ||
	    (rc = store_key_put(t, sh->blob, sh->a_id, sh->s->sealed)) != STORE_OK ||
	    (rc = store_key_put(t, sh->blob, sh->b_id, sh->s->sealed)) != STORE_OK)
		return rc;
	m1.mailbox_id = sh->a_inbox;
	m2.mailbox_id = sh->b_inbox;
	m1.blob_id = m2.blob_id = sh->blob;
	if ((rc = store_msg_append(t, &m1)) != STORE_OK)
		return rc;
	return store_msg_append(t, &m2);
}

static void
test_account_delete(void **state)
{
	struct t_fx *fx = *state;
	char token[STORE_TOKEN_TEXT_LEN + 1];
	struct store_account a = t_invite(fx->st, "tom@example.org", token), b, l;
	struct t_sealed s;
	struct share sh = { .s = &s };
	uint8_t sealed[STORE_SEALED_KEY_BYTES];
	struct store_stats st;
	struct store_mailbox m;
	struct store_txn *t;
	enum store_rc rc;
	uint64_t own;

	b = t_invite(fx->st, "uma@example.org", NULL);
	own = with_mail(fx->st, &a, "only tom's");
	t_seal(&s, a.pk, "to both", 7, "s", 1);
	sh.a_id = a.id;
	sh.b_id = b.id;
	sh.a_inbox = t_mbox_id(fx->st, a.id, "INBOX");
	sh.b_inbox = t_mbox_id(fx->st, b.id, "INBOX");
	CHECK_RC(store_write_wait(fx->st, share_op, &sh), STORE_OK);
	t_sealed_free(&s);
	CHECK_RC(store_account_delete(fx->st, "TOM@example.org"), STORE_OK);
	CHECK_RC(store_account_delete(fx->st, "tom@example.org"), STORE_NOTFOUND);
	CHECK_RC(store_token_lookup(fx->st, token, strlen(token), &l), STORE_NOTFOUND);
	CHECK((t = store_read_begin(fx->st, &rc)) != NULL);
	CHECK_RC(store_account_get(t, "tom@example.org", &l), STORE_NOTFOUND);
	CHECK_RC(store_account_get_id(t, a.id, &l), STORE_NOTFOUND);
	CHECK_RC(store_mailbox_get(t, a.id, "INBOX", &m), STORE_NOTFOUND);
	CHECK_RC(store_mailbox_get_id(t, sh.a_inbox, &m), STORE_NOTFOUND);
	CHECK_RC(store_blob_get(t, own, &(const uint8_t *){ NULL }, &(size_t){ 0 }),
	    STORE_NOTFOUND);
	/* The shared blob stays for uma. */
	CHECK_RC(store_key_get(t, sh.blob, a.id, sealed), STORE_NOTFOUND);
	CHECK_RC(store_key_get(t, sh.blob, b.id, sealed), STORE_OK);
	CHECK_RC(store_stats(t, &st), STORE_OK);
	CHECK(st.blobs == 1 && st.messages == 1 && st.accounts[STORE_ACCT_INVITED] == 1);
	store_read_end(&t);
}

static void
test_recovery_rotate(void **state)
{
	struct t_fx *fx = *state;
	struct store_invite *inv = NULL;
	struct sec_sk *nk = sec_sk_new(), *old;
	char *err = NULL, *p = t_path(fx->dir, "recovery.key");
	size_t n = 0;

	(void)t_invite(fx->st, "val@example.org", NULL);
	(void)t_invite(fx->st, "wes@example.org", NULL);
	old = sec_recovery_load(p, &err);
	CHECK(old != NULL);
	CHECK_RC(store_recovery_rotate(fx->st, old, nk->pk, &n), STORE_OK);
	CHECK(n == 2);
	CHECK_RC(store_reinvite_prepare(fx->st, "val@example.org", T_TTL, nk, &inv), STORE_OK);
	store_invite_free(&inv);
	CHECK_RC(store_reinvite_prepare(fx->st, "val@example.org", T_TTL, old, &inv),
	    STORE_DENIED);
	/* Rotating with the wrong old key opens nothing. */
	CHECK_RC(store_recovery_rotate(fx->st, old, nk->pk, &n), STORE_CORRUPT);
	CHECK(n == 0);
	sec_sk_unref(&old);
	sec_sk_unref(&nk);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, t_fx_setup, t_fx_teardown)
		T(test_init_idempotent_and_keys),
		T(test_invite_creates_account_and_mailboxes),
		T(test_create_reports_existing),
		T(test_enroll_then_token_spent),
		T(test_unknown_and_malformed_tokens),
		T(test_expired_token),
		T(test_sweep_tokens),
		T(test_login_wrong_password_and_unknown),
		T(test_auth_result_counts),
		T(test_mark_invited),
		T(test_disable_enable),
		T(test_password_change),
		T(test_reset_recovery_online),
		T(test_reinvite_keeps_key),
		T(test_reset_recovery_offline),
		T(test_reset_zero_access),
		T(test_reinvite_without_recovery_drops_mail),
		T(test_reset_force_new_key),
		T(test_account_delete),
		T(test_recovery_rotate),
#undef T
	};

	return STORE_TEST_MAIN(tests);
}
