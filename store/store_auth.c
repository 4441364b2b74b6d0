/*
 * store_auth.c: the account verbs that open or make key wraps: user add,
 * enrollment, token lookup, login, password change, reset and
 * re-invitation in the three recovery deployments, recovery key rotation.
 *
 * Pattern: read what is needed in a read transaction, run the KDF or the
 * X25519 work with no transaction open, then write with store_write_wait()
 * through an op that first checks nothing changed in between (the token is
 * still the one spent, the wrap still the one verified); if it did, the op
 * answers STORE_NOTFOUND or STORE_DENIED and writes nothing.
 */
#include "store/store_private.h"

#include <stdlib.h>

#include "gateway/gw_log.h"

#define ROTATE_CHUNK	256	/* accounts re-wrapped per commit */

/* Read an account outside any op. */
static enum store_rc
acct_read(struct store *st, const char *address, struct store_acct_rec *r)
{
	char norm[STORE_ADDR_MAX + 1];
	struct store_txn *t;
	enum store_rc rc;

	memset(r, 0, sizeof *r);
	if (store_addr_norm(address, strlen(address), norm) != STORE_OK)
		return STORE_NOTFOUND;
	if ((t = store_read_begin(st, &rc)) == NULL)
		return rc;
	rc = store_acct_load(t, norm, r);
	store_read_end(&t);
	return rc;
}

static bool
kdf_ok(int level)
{
	return level >= SEC_KDF_INTERACTIVE && level <= SEC_KDF_SENSITIVE;
}

/* ---- user add ---- */

struct add_op {
	char			 address[STORE_ADDR_MAX + 1];
	uint8_t			 pk[SEC_KEY_BYTES];
	uint8_t			*pw_wrap, *rec_wrap;
	size_t			 pw_len, rec_len;
	struct store_account	 out;
};

static enum store_rc
add_op(struct store_txn *t, void *arg)
{
	struct add_op *o = arg;

	return store_acct_create_active(t, o->address, o->pk, o->pw_wrap, o->pw_len,
	    o->rec_wrap, o->rec_len, &o->out);
}

enum store_rc
store_account_add(struct store *st, const char *address, const char *pw, size_t pwlen,
    int kdf_level, struct store_account *out)
{
	struct add_op o = { .pw_wrap = NULL };
	struct sec_sk *k;
	enum store_rc rc;

	if (store_addr_norm(address, strlen(address), o.address) != STORE_OK ||
	    !kdf_ok(kdf_level) || pwlen > SEC_PASSWORD_MAX)
		return STORE_INVALID;
	k = sec_sk_new();
	memcpy(o.pk, k->pk, sizeof o.pk);
	sec_wrap_password(k, pw, pwlen, (enum sec_kdf)kdf_level, &o.pw_wrap, &o.pw_len);
	sec_wrap_recovery(k, st->recovery_pk, &o.rec_wrap, &o.rec_len);
	sec_sk_unref(&k);
	if (o.pw_wrap == NULL || o.rec_wrap == NULL)
		rc = STORE_TEMPFAIL;	/* Argon2 could not get its memory */
	else
		rc = store_write_wait(st, add_op, &o);
	if (rc == STORE_OK && out != NULL)
		*out = o.out;
	free(o.pw_wrap);
	free(o.rec_wrap);
	return rc;
}

/* ---- tokens: lookup and enrollment ---- */

/*
 * Find the invited account of a token. Unknown, spent and expired tokens
 * cost the same (one keyed hash, one lookup): a spent token's entry is
 * gone, so it is an unknown one. A malformed token is hashed and looked up
 * too, as all zeros, so that its timing says nothing either.
 */
static enum store_rc
token_find(struct store *st, const char *text, size_t len, uint8_t raw[SEC_TOKEN_BYTES],
    struct store_acct_rec *r)
{
	char address[STORE_ADDR_MAX + 1];
	uint8_t hash[STORE_HASH_BYTES];
	struct store_txn *t;
	int64_t expiry;
	enum store_rc rc;
	bool wellformed;

	memset(r, 0, sizeof *r);
	wellformed = text != NULL && sec_token_decode(text, len, raw) == 0;
	if (!wellformed)
		memset(raw, 0, SEC_TOKEN_BYTES);
	store_token_hash(st, raw, hash);
	if ((t = store_read_begin(st, &rc)) == NULL)
		return rc;
	rc = store_token_get(t, hash, &expiry, address);
	if (rc == STORE_OK && !wellformed)
		rc = STORE_NOTFOUND;
	else if (rc == STORE_OK && expiry <= t->now)
		rc = STORE_EXPIRED;
	if (rc == STORE_OK)
		rc = store_acct_load(t, address, r);
	if (rc == STORE_OK && (r->a.state != STORE_ACCT_INVITED || !r->a.has_token ||
	    !sec_equal(r->token_hash, hash, sizeof hash)))
		rc = STORE_NOTFOUND;
	store_read_end(&t);
	return rc == STORE_CORRUPT ? STORE_CORRUPT : rc;
}

enum store_rc
store_token_lookup(struct store *st, const char *token_text, size_t token_len,
    struct store_account *out)
{
	uint8_t raw[SEC_TOKEN_BYTES];
	struct store_acct_rec r;
	enum store_rc rc;

	rc = token_find(st, token_text, token_len, raw, &r);
	sec_wipe(raw, sizeof raw);
	if (rc == STORE_OK && out != NULL)
		*out = r.a;
	return rc;
}

struct enroll_op {
	char			 address[STORE_ADDR_MAX + 1];
	uint8_t			 token_hash[STORE_HASH_BYTES];
	uint8_t			*pw_wrap;
	size_t			 pw_len;
	struct store_account	 out;
};

static enum store_rc
enroll_op(struct store_txn *t, void *arg)
{
	struct enroll_op *o = arg;
	struct store_acct_rec r;
	enum store_rc rc;

	if ((rc = store_acct_load(t, o->address, &r)) != STORE_OK)
		return rc;
	/* Spent by a concurrent enrollment, replaced, or disabled since. */
	if (r.a.state != STORE_ACCT_INVITED || !r.a.has_token ||
	    !sec_equal(r.token_hash, o->token_hash, STORE_HASH_BYTES))
		return STORE_NOTFOUND;
	if (r.a.token_expiry <= t->now)
		return STORE_EXPIRED;
	if (o->pw_len > STORE_WRAP_MAX)
		return STORE_INVALID;
	if ((rc = store_acct_clear_token(t, &r)) != STORE_OK)
		return rc;
	memcpy(r.pw_wrap, o->pw_wrap, o->pw_len);
	r.pw_wrap_len = o->pw_len;
	r.a.has_password = true;
	r.a.state = STORE_ACCT_ACTIVE;
	r.a.enrolled = t->now;
	r.a.auth_failures = 0;
	r.a.locked_until = 0;
	if ((rc = store_acct_save(t, &r)) != STORE_OK)
		return rc;
	store_note_account(t, r.a.id);
	if ((rc = store_acct_load(t, o->address, &r)) == STORE_OK)
		o->out = r.a;
	return rc;
}

/* The account's key from the token wrap, checked against its public key. */
static struct sec_sk *
token_unwrap(const struct store_acct_rec *r, const uint8_t raw[SEC_TOKEN_BYTES])
{
	struct sec_sk *k = sec_unwrap_token(r->token_wrap, r->token_wrap_len, raw);

	if (k != NULL && !sec_equal(k->pk, r->a.pk, SEC_KEY_BYTES))
		sec_sk_unref(&k);
	if (k == NULL)
		log_error("store", "event=corrupt kind=token_wrap account=%llu",
		    (unsigned long long)r->a.id);
	return k;
}

enum store_rc
store_enroll(struct store *st, const char *token_text, size_t token_len, const char *pw,
    size_t pwlen, int kdf_level, struct store_account *out)
{
	struct enroll_op o = { .pw_wrap = NULL };
	uint8_t raw[SEC_TOKEN_BYTES];
	struct store_acct_rec r;
	struct sec_sk *k = NULL;
	enum store_rc rc;

	if (!kdf_ok(kdf_level) || pwlen > SEC_PASSWORD_MAX)
		return STORE_INVALID;
	rc = token_find(st, token_text, token_len, raw, &r);
	if (rc == STORE_OK && (k = token_unwrap(&r, raw)) == NULL)
		rc = STORE_CORRUPT;
	sec_wipe(raw, sizeof raw);
	if (rc != STORE_OK)
		return rc;
	memcpy(o.address, r.a.address, sizeof o.address);
	memcpy(o.token_hash, r.token_hash, sizeof o.token_hash);
	sec_wrap_password(k, pw, pwlen, (enum sec_kdf)kdf_level, &o.pw_wrap, &o.pw_len);
	sec_sk_unref(&k);
	rc = o.pw_wrap == NULL ? STORE_TEMPFAIL : store_write_wait(st, enroll_op, &o);
	if (rc == STORE_OK && out != NULL)
		*out = o.out;
	free(o.pw_wrap);
	return rc;
}

/* ---- login and password change ---- */

/* The account's key from its password wrap. */
static enum store_rc
pw_unwrap(const struct store_acct_rec *r, const char *pw, size_t pwlen, struct sec_sk **k_out)
{
	bool bad_format = false;
	struct sec_sk *k;

	*k_out = NULL;
	if (r->a.state != STORE_ACCT_ACTIVE || !r->a.has_password || pwlen > SEC_PASSWORD_MAX)
		return STORE_DENIED;
	k = sec_unwrap_password(r->pw_wrap, r->pw_wrap_len, pw, pwlen, &bad_format);
	if (k == NULL && !bad_format)
		return STORE_DENIED;
	if (k == NULL || !sec_equal(k->pk, r->a.pk, SEC_KEY_BYTES)) {
		log_error("store", "event=corrupt kind=password_wrap account=%llu",
		    (unsigned long long)r->a.id);
		sec_sk_unref(&k);
		return STORE_CORRUPT;
	}
	*k_out = k;
	return STORE_OK;
}

enum store_rc
store_login(struct store *st, const char *address, const char *pw, size_t pwlen,
    struct store_account *acct_out, struct sec_sk **sk_out)
{
	struct store_acct_rec r;
	enum store_rc rc;

	*sk_out = NULL;
	if ((rc = acct_read(st, address, &r)) != STORE_OK)
		return rc;
	if (acct_out != NULL)
		*acct_out = r.a;
	return pw_unwrap(&r, pw, pwlen, sk_out);
}

struct pw_op {
	char	 address[STORE_ADDR_MAX + 1];
	uint8_t	 old_wrap[STORE_WRAP_MAX];
	size_t	 old_len;
	uint8_t	*pw_wrap;
	size_t	 pw_len;
};

static enum store_rc
pw_op(struct store_txn *t, void *arg)
{
	struct pw_op *o = arg;
	struct store_acct_rec r;
	enum store_rc rc;

	if ((rc = store_acct_load(t, o->address, &r)) != STORE_OK)
		return rc;
	/* Changed, reset or disabled since the current password was checked. */
	if (r.a.state != STORE_ACCT_ACTIVE || r.pw_wrap_len != o->old_len ||
	    !sec_equal(r.pw_wrap, o->old_wrap, o->old_len) || o->pw_len > STORE_WRAP_MAX)
		return STORE_DENIED;
	memcpy(r.pw_wrap, o->pw_wrap, o->pw_len);
	r.pw_wrap_len = o->pw_len;
	if ((rc = store_acct_save(t, &r)) != STORE_OK)
		return rc;
	store_note_account(t, r.a.id);
	return STORE_OK;
}

enum store_rc
store_password_change(struct store *st, const char *address, const char *cur, size_t curlen,
    const char *pw, size_t pwlen, int kdf_level)
{
	struct pw_op o = { .pw_wrap = NULL };
	struct store_acct_rec r;
	struct sec_sk *k;
	enum store_rc rc;

	if (!kdf_ok(kdf_level) || pwlen > SEC_PASSWORD_MAX)
		return STORE_INVALID;
	if ((rc = acct_read(st, address, &r)) != STORE_OK ||
	    (rc = pw_unwrap(&r, cur, curlen, &k)) != STORE_OK)
		return rc;
	memcpy(o.address, r.a.address, sizeof o.address);
	memcpy(o.old_wrap, r.pw_wrap, r.pw_wrap_len);
	o.old_len = r.pw_wrap_len;
	sec_wrap_password(k, pw, pwlen, (enum sec_kdf)kdf_level, &o.pw_wrap, &o.pw_len);
	sec_sk_unref(&k);
	rc = o.pw_wrap == NULL ? STORE_TEMPFAIL : store_write_wait(st, pw_op, &o);
	free(o.pw_wrap);
	return rc;
}

/* ---- re-invitation and reset ---- */

enum store_rc
store_reinvite_prepare(struct store *st, const char *address, int64_t ttl,
    const struct sec_sk *recovery, struct store_invite **inv_out)
{
	const struct sec_sk *rk = recovery != NULL ? recovery : st->recovery;
	struct store_acct_rec r;
	struct sec_sk *k;
	enum store_rc rc;

	*inv_out = NULL;
	if ((rc = acct_read(st, address, &r)) != STORE_OK)
		return rc;
	if (rk == NULL || !r.a.has_recovery)
		return STORE_DENIED;
	/* NULL: another recovery key (a wrong file, or one rotated away). */
	if ((k = sec_unwrap_recovery(r.rec_wrap, r.rec_wrap_len, rk)) == NULL)
		return STORE_DENIED;
	if (!sec_equal(k->pk, r.a.pk, SEC_KEY_BYTES))
		rc = STORE_CORRUPT;
	else if ((*inv_out = store_invite_new(st, r.a.address, ttl, k)) == NULL)
		rc = STORE_INVALID;
	sec_sk_unref(&k);
	return rc;
}

struct reset_op {
	uint64_t			 id;
	uint8_t				 old_pk[SEC_KEY_BYTES];
	const struct store_invite	*inv;
	bool				 keep;
};

static enum store_rc
reset_op(struct store_txn *t, void *arg)
{
	struct reset_op *o = arg;
	struct store_acct_rec r;
	enum store_rc rc;

	if ((rc = store_acct_load(t, o->inv->address, &r)) != STORE_OK)
		return rc;
	if (r.a.id != o->id)
		return STORE_NOTFOUND;	/* deleted and made again meanwhile */
	if (!sec_equal(r.a.pk, o->old_pk, SEC_KEY_BYTES))
		return STORE_DENIED;	/* reset by someone else meanwhile */
	/* A new key: mail sealed to the old one is unreadable, drop it. */
	if (!o->keep && ((rc = store_mbox_empty_all(t, r.a.id)) != STORE_OK ||
	    (rc = store_msg_forget_account(t, r.a.id)) != STORE_OK))
		return rc;
	if ((rc = store_acct_set_invite(t, &r, o->inv)) != STORE_OK)
		return rc;
	sec_wipe(r.pw_wrap, sizeof r.pw_wrap);
	r.pw_wrap_len = 0;
	r.a.has_password = false;
	r.a.state = STORE_ACCT_INVITED;
	r.a.disabled_was_active = false;
	r.a.enrolled = 0;
	r.a.auth_failures = 0;
	r.a.locked_until = 0;
	if ((rc = store_acct_save(t, &r)) != STORE_OK)
		return rc;
	store_note_account(t, r.a.id);
	return STORE_OK;
}

enum store_rc
store_account_reset(struct store *st, const char *address, int64_t ttl,
    const struct sec_sk *recovery, bool force_new_key, char *token_out, bool *kept_mail_out)
{
	struct reset_op o = { .keep = false };
	struct store_invite *inv = NULL;
	struct store_acct_rec r;
	enum store_rc rc;

	if ((rc = acct_read(st, address, &r)) != STORE_OK)
		return rc;
	o.id = r.a.id;
	memcpy(o.old_pk, r.a.pk, sizeof o.old_pk);
	if (!force_new_key && (recovery != NULL || st->recovery != NULL)) {
		/* A recovery key that does not open the wrap is an error, never
		 * a reason to empty the vault. */
		if ((rc = store_reinvite_prepare(st, address, ttl, recovery, &inv)) != STORE_OK)
			return rc;
		o.keep = true;
	} else if ((inv = store_invite_prepare(st, address, ttl)) == NULL) {
		return STORE_INVALID;
	}
	o.inv = inv;
	rc = store_write_wait(st, reset_op, &o);
	if (rc == STORE_OK && token_out != NULL)
		memcpy(token_out, inv->token, sizeof inv->token);
	if (rc == STORE_OK && kept_mail_out != NULL)
		*kept_mail_out = o.keep;
	store_invite_free(&inv);
	return rc;
}

/* ---- recovery key rotation ---- */

struct rotate_item {
	char	address[STORE_ADDR_MAX + 1];
	uint8_t	old_wrap[STORE_WRAP_MAX], new_wrap[STORE_WRAP_MAX];
	size_t	old_len, new_len;
};

struct rotate_list {
	struct rotate_item	*v;
	size_t			 n, cap;
	size_t			 done;
};

static int
rotate_collect(void *arg, const struct store_account *a)
{
	struct rotate_list *l = arg;

	if (!a->has_recovery)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 64 : l->cap * 2;
		l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
	}
	memset(&l->v[l->n], 0, sizeof l->v[l->n]);
	memcpy(l->v[l->n++].address, a->address, sizeof a->address);
	return 0;
}

struct rotate_op {
	struct rotate_item	*items;
	size_t			 n, done;
};

static enum store_rc
rotate_op(struct store_txn *t, void *arg)
{
	struct rotate_op *o = arg;
	struct store_acct_rec r;
	enum store_rc rc;
	size_t i;

	o->done = 0;
	for (i = 0; i < o->n; i++) {
		struct rotate_item *it = &o->items[i];

		if (it->new_len == 0 || store_acct_load(t, it->address, &r) != STORE_OK)
			continue;
		/* Re-wrapped since we read it (a reset in another process):
		 * leave it; running the rotation again picks it up. */
		if (r.rec_wrap_len != it->old_len || !sec_equal(r.rec_wrap, it->old_wrap,
		    it->old_len))
			continue;
		memcpy(r.rec_wrap, it->new_wrap, it->new_len);
		r.rec_wrap_len = it->new_len;
		if ((rc = store_acct_save(t, &r)) != STORE_OK)
			return rc;
		o->done++;
	}
	return STORE_OK;
}

/* Re-wrap one item: 0, or -1 when the old key does not open its wrap. */
static int
rotate_prepare(struct store *st, struct rotate_item *it, const struct sec_sk *old,
    const uint8_t new_pk[32])
{
	struct store_acct_rec r;
	struct sec_sk *k;
	uint8_t *w = NULL;
	size_t wlen = 0;

	if (acct_read(st, it->address, &r) != STORE_OK || !r.a.has_recovery)
		return 0;
	if ((k = sec_unwrap_recovery(r.rec_wrap, r.rec_wrap_len, old)) == NULL)
		return -1;
	sec_wrap_recovery(k, new_pk, &w, &wlen);
	sec_sk_unref(&k);
	if (w == NULL || wlen > STORE_WRAP_MAX) {
		free(w);
		return -1;
	}
	memcpy(it->old_wrap, r.rec_wrap, r.rec_wrap_len);
	it->old_len = r.rec_wrap_len;
	memcpy(it->new_wrap, w, wlen);
	it->new_len = wlen;
	free(w);
	return 0;
}

enum store_rc
store_recovery_rotate(struct store *st, const struct sec_sk *old, const uint8_t new_pk[32],
    size_t *count_out)
{
	struct rotate_list l = { .v = NULL };
	struct rotate_op o;
	struct store_txn *t;
	enum store_rc rc, worst = STORE_OK;
	size_t i, j;

	*count_out = 0;
	if ((t = store_read_begin(st, &rc)) == NULL)
		return rc;
	rc = store_account_list(t, rotate_collect, &l);
	store_read_end(&t);
	for (i = 0; rc == STORE_OK && i < l.n; i += ROTATE_CHUNK) {
		o.items = l.v + i;
		o.n = SG_MIN((size_t)ROTATE_CHUNK, l.n - i);
		for (j = 0; j < o.n; j++)
			if (rotate_prepare(st, &o.items[j], old, new_pk) != 0)
				worst = STORE_CORRUPT;
		if ((rc = store_write_wait(st, rotate_op, &o)) == STORE_OK)
			*count_out += o.done;
	}
	free(l.v);
	if (worst != STORE_OK && rc == STORE_OK)
		log_error("store", "event=rotate_incomplete");
	return rc != STORE_OK ? rc : worst;
}
