/*
 * store_account.c: account records, invitations and tokens; the account
 * verbs that need no KDF (create, set token, state, delete, auth results,
 * token sweeps). The slow verbs are in store_auth.c.
 *
 * `tokens` maps the keyed hash (under index.key) of a raw token to its
 * expiry and address; the account keeps the same hash, so a token is live
 * only while both agree. The store never holds a token itself.
 */
#include "store/store_private.h"

#include <stdlib.h>

#include "gateway/gw_log.h"

#define TOKEN_HASH_CONTEXT	"token"
#define TOKEN_VAL_MAX		(1 + 8 + STORE_ADDR_MAX)	/* bounds: version, expiry, address */
#define SWEEP_SCAN_FACTOR	32	/* records looked at per expired one, at most */

enum store_rc
store_addr_norm(const char *in, size_t len, char out[STORE_ADDR_MAX + 1])
{
	size_t i;

	out[0] = '\0';
	if (in == NULL || len == 0 || len > STORE_ADDR_MAX)
		return STORE_INVALID;
	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] <= 0x20 || in[i] == 0x7f)
			return STORE_INVALID;
	memcpy(out, in, len);	/* bounds: len <= STORE_ADDR_MAX */
	out[len] = '\0';
	sg_ascii_lower(out, len);
	return STORE_OK;
}

void
store_token_hash(const struct store *st, const uint8_t raw[SEC_TOKEN_BYTES],
    uint8_t out[STORE_HASH_BYTES])
{
	/* Domain-separated from correspondent hashes under the same key. */
	sec_keyed_hash2(st->index_key, TOKEN_HASH_CONTEXT, sizeof TOKEN_HASH_CONTEXT - 1, raw,
	    SEC_TOKEN_BYTES, out);
}

/* ---- records ---- */

enum store_rc
store_acct_load(struct store_txn *t, const char *address, struct store_acct_rec *r)
{
	size_t len = strlen(address);
	enum store_rc rc;
	MDB_val v;

	memset(r, 0, sizeof *r);
	if (len == 0 || len > STORE_ADDR_MAX)
		return STORE_NOTFOUND;
	if ((rc = store_db_get(t, STORE_DB_ACCOUNTS, address, len, &v)) != STORE_OK)
		return rc;
	if (!store_codec_acct_dec(&v, r)) {
		log_error("store", "event=corrupt db=accounts");
		return STORE_CORRUPT;
	}
	memcpy(r->a.address, address, len + 1);
	return STORE_OK;
}

enum store_rc
store_acct_load_id(struct store_txn *t, uint64_t id, struct store_acct_rec *r)
{
	char address[STORE_ADDR_MAX + 1];
	struct store_rbuf rb;
	uint8_t k[8];
	const uint8_t *p;
	enum store_rc rc;
	MDB_val v;

	memset(r, 0, sizeof *r);
	store_be64_put(k, id);
	if ((rc = store_db_get(t, STORE_DB_ACCOUNT_IDS, k, sizeof k, &v)) != STORE_OK)
		return rc;
	store_rb_init(&rb, v.mv_data, v.mv_size);
	p = store_rb_bytes(&rb, v.mv_size - 1);
	if (rb.bad || v.mv_size - 1 > STORE_ADDR_MAX) {
		log_error("store", "event=corrupt db=account_ids");
		return STORE_CORRUPT;
	}
	memcpy(address, p, v.mv_size - 1);	/* bounds: checked just above */
	address[v.mv_size - 1] = '\0';
	rc = store_acct_load(t, address, r);
	if (rc == STORE_OK && r->a.id != id)
		rc = STORE_CORRUPT;
	return rc;
}

enum store_rc
store_acct_save(struct store_txn *t, const struct store_acct_rec *r)
{
	uint8_t buf[STORE_ACCT_VAL_MAX];
	size_t len = store_codec_acct_enc(r, buf, sizeof buf);

	SG_ASSERT(len > 0);
	return store_db_put(t, STORE_DB_ACCOUNTS, r->a.address, strlen(r->a.address), buf, len);
}

static enum store_rc
acct_id_put(struct store_txn *t, uint64_t id, const char *address)
{
	uint8_t k[8], v[1 + STORE_ADDR_MAX];
	size_t len = strlen(address);

	store_be64_put(k, id);
	v[0] = STORE_FORMAT_VERSION;
	memcpy(v + 1, address, len);	/* bounds: addresses are normalized */
	return store_db_put(t, STORE_DB_ACCOUNT_IDS, k, sizeof k, v, 1 + len);
}

enum store_rc
store_account_get(struct store_txn *t, const char *address, struct store_account *out)
{
	char norm[STORE_ADDR_MAX + 1];
	struct store_acct_rec r;
	enum store_rc rc;

	if (store_addr_norm(address, strlen(address), norm) != STORE_OK)
		return STORE_NOTFOUND;
	if ((rc = store_acct_load(t, norm, &r)) == STORE_OK)
		*out = r.a;
	return rc;
}

enum store_rc
store_account_get_id(struct store_txn *t, uint64_t id, struct store_account *out)
{
	struct store_acct_rec r;
	enum store_rc rc;

	if ((rc = store_acct_load_id(t, id, &r)) == STORE_OK)
		*out = r.a;
	return rc;
}

enum store_rc
store_account_list(struct store_txn *t, store_account_cb *cb, void *arg)
{
	struct store_acct_rec r;
	MDB_cursor *c;
	MDB_val k, v;
	enum store_rc rc;
	int mrc;

	if ((rc = store_cursor_open(t, STORE_DB_ACCOUNTS, &c)) != STORE_OK)
		return rc;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		memset(&r, 0, sizeof r);
		if (k.mv_size > STORE_ADDR_MAX || !store_codec_acct_dec(&v, &r)) {
			log_error("store", "event=corrupt db=accounts");
			continue;
		}
		memcpy(r.a.address, k.mv_data, k.mv_size);
		r.a.address[k.mv_size] = '\0';
		if (cb(arg, &r.a) != 0)
			break;
	}
	mdb_cursor_close(c);
	return mrc == 0 || mrc == MDB_NOTFOUND ? STORE_OK : store_mdb_rc(t, mrc, "list");
}

/* ---- tokens ---- */

static enum store_rc
token_put(struct store_txn *t, const uint8_t hash[STORE_HASH_BYTES], int64_t expiry,
    const char *address)
{
	uint8_t buf[TOKEN_VAL_MAX];
	struct store_wbuf w;

	store_wb_init(&w, buf, sizeof buf);
	store_wb_u64(&w, (uint64_t)expiry);
	store_wb_bytes(&w, address, strlen(address));
	SG_ASSERT(!w.over);
	return store_db_put(t, STORE_DB_TOKENS, hash, STORE_HASH_BYTES, buf, w.len);
}

/* The token's entry: its expiry and address. */
enum store_rc
store_token_get(struct store_txn *t, const uint8_t hash[STORE_HASH_BYTES], int64_t *expiry,
    char address[STORE_ADDR_MAX + 1])
{
	struct store_rbuf r;
	const uint8_t *p;
	enum store_rc rc;
	MDB_val v;
	size_t n;

	if ((rc = store_db_get(t, STORE_DB_TOKENS, hash, STORE_HASH_BYTES, &v)) != STORE_OK)
		return rc;
	store_rb_init(&r, v.mv_data, v.mv_size);
	*expiry = (int64_t)store_rb_u64(&r);
	n = r.bad ? 0 : r.len - r.off;
	p = store_rb_bytes(&r, n);
	if (r.bad || n == 0 || n > STORE_ADDR_MAX) {
		log_error("store", "event=corrupt db=tokens");
		return STORE_CORRUPT;
	}
	memcpy(address, p, n);	/* bounds: n <= STORE_ADDR_MAX */
	address[n] = '\0';
	return STORE_OK;
}

/* Forget the account's token (spent, swept or replaced). */
enum store_rc
store_acct_clear_token(struct store_txn *t, struct store_acct_rec *r)
{
	enum store_rc rc;

	if (r->a.has_token) {
		rc = store_db_del(t, STORE_DB_TOKENS, r->token_hash, STORE_HASH_BYTES);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)	/* swept already */
			return rc;
	}
	sec_wipe(r->token_wrap, sizeof r->token_wrap);
	memset(r->token_hash, 0, sizeof r->token_hash);
	r->token_wrap_len = 0;
	r->a.has_token = false;
	r->a.token_expiry = 0;
	return STORE_OK;
}

/* Give the account the invitation's token (and recovery wrap). */
enum store_rc
store_acct_set_invite(struct store_txn *t, struct store_acct_rec *r,
    const struct store_invite *inv)
{
	enum store_rc rc;

	if (inv->token_wrap_len > STORE_WRAP_MAX || inv->recovery_wrap_len > STORE_WRAP_MAX)
		return STORE_INVALID;
	if ((rc = store_acct_clear_token(t, r)) != STORE_OK)
		return rc;
	memcpy(r->token_hash, inv->token_hash, STORE_HASH_BYTES);
	memcpy(r->token_wrap, inv->token_wrap, inv->token_wrap_len);
	r->token_wrap_len = inv->token_wrap_len;
	memcpy(r->rec_wrap, inv->recovery_wrap, inv->recovery_wrap_len);
	r->rec_wrap_len = inv->recovery_wrap_len;
	memcpy(r->a.pk, inv->pk, sizeof r->a.pk);
	r->a.token_expiry = inv->expiry;
	r->a.has_token = true;
	r->a.has_recovery = inv->recovery_wrap_len > 0;
	return token_put(t, inv->token_hash, inv->expiry, r->a.address);
}

/* ---- invitations ---- */

/* A new token for key k, its wraps and hash. */
static bool
invite_fill(const struct store *st, struct store_invite *inv, const struct sec_sk *k,
    int64_t ttl)
{
	uint8_t raw[SEC_TOKEN_BYTES];

	sec_token_new(raw, inv->token);
	memcpy(inv->pk, k->pk, sizeof inv->pk);
	sec_wrap_token(k, raw, &inv->token_wrap, &inv->token_wrap_len);
	sec_wrap_recovery(k, st->recovery_pk, &inv->recovery_wrap, &inv->recovery_wrap_len);
	store_token_hash(st, raw, inv->token_hash);
	sec_wipe(raw, sizeof raw);
	inv->expiry = sg_now() + ttl;
	return inv->token_wrap != NULL && inv->recovery_wrap != NULL;
}

struct store_invite *
store_invite_new(struct store *st, const char *address, int64_t ttl, const struct sec_sk *k)
{
	struct store_invite *inv = xcalloc(1, sizeof *inv);

	if (ttl <= 0 || store_addr_norm(address, strlen(address), inv->address) != STORE_OK ||
	    !invite_fill(st, inv, k, ttl))
		store_invite_free(&inv);
	return inv;
}

struct store_invite *
store_invite_prepare(struct store *st, const char *address, int64_t ttl)
{
	struct sec_sk *k = sec_sk_new();
	struct store_invite *inv = store_invite_new(st, address, ttl, k);

	sec_sk_unref(&k);
	return inv;
}

void
store_invite_free(struct store_invite **invp)
{
	struct store_invite *inv = *invp;

	if (inv == NULL)
		return;
	sec_wipe(inv->token, sizeof inv->token);
	free(inv->token_wrap);
	free(inv->recovery_wrap);
	free(inv);
	*invp = NULL;
}

enum store_rc
store_account_create(struct store_txn *t, const struct store_invite *inv,
    struct store_account *out, struct store_account *existing_out)
{
	struct store_acct_rec r;
	enum store_rc rc;

	rc = store_acct_load(t, inv->address, &r);
	if (rc == STORE_OK && existing_out != NULL)
		*existing_out = r.a;
	if (rc == STORE_OK)
		return STORE_EXISTS;
	if (rc != STORE_NOTFOUND)
		return rc;
	memset(&r, 0, sizeof r);
	memcpy(r.a.address, inv->address, sizeof r.a.address);
	r.a.state = STORE_ACCT_INVITED;
	r.a.created = t->now;
	if ((rc = store_meta_next(t, "next_account", &r.a.id)) != STORE_OK ||
	    (rc = store_acct_set_invite(t, &r, inv)) != STORE_OK ||
	    (rc = store_acct_save(t, &r)) != STORE_OK ||
	    (rc = acct_id_put(t, r.a.id, r.a.address)) != STORE_OK ||
	    (rc = store_mbox_create_defaults(t, r.a.id)) != STORE_OK)
		return rc;
	store_note_account(t, r.a.id);
	if (out != NULL)
		*out = r.a;
	return STORE_OK;
}

/* The account of an active-account verb, created with a password. */
enum store_rc
store_acct_create_active(struct store_txn *t, const char *address, const uint8_t pk[32],
    const uint8_t *pw_wrap, size_t pw_len, const uint8_t *rec_wrap, size_t rec_len,
    struct store_account *out)
{
	struct store_acct_rec r;
	enum store_rc rc;

	rc = store_acct_load(t, address, &r);
	if (rc != STORE_NOTFOUND)
		return rc == STORE_OK ? STORE_EXISTS : rc;
	if (pw_len > STORE_WRAP_MAX || rec_len > STORE_WRAP_MAX)
		return STORE_INVALID;
	memset(&r, 0, sizeof r);
	memcpy(r.a.address, address, strlen(address) + 1);
	r.a.state = STORE_ACCT_ACTIVE;
	r.a.created = r.a.enrolled = t->now;
	memcpy(r.a.pk, pk, sizeof r.a.pk);
	memcpy(r.pw_wrap, pw_wrap, pw_len);
	r.pw_wrap_len = pw_len;
	memcpy(r.rec_wrap, rec_wrap, rec_len);
	r.rec_wrap_len = rec_len;
	if ((rc = store_meta_next(t, "next_account", &r.a.id)) != STORE_OK ||
	    (rc = store_acct_save(t, &r)) != STORE_OK ||
	    (rc = acct_id_put(t, r.a.id, r.a.address)) != STORE_OK ||
	    (rc = store_mbox_create_defaults(t, r.a.id)) != STORE_OK)
		return rc;
	store_note_account(t, r.a.id);
	if ((rc = store_acct_load(t, address, &r)) == STORE_OK && out != NULL)
		*out = r.a;
	return rc;
}

enum store_rc
store_account_set_token(struct store_txn *t, const struct store_invite *inv)
{
	struct store_acct_rec r;
	enum store_rc rc;

	if ((rc = store_acct_load(t, inv->address, &r)) != STORE_OK)
		return rc;
	/* A token wraps the account's own key: anything else would lock the
	 * user out of the mail sealed to it. */
	if (r.a.state != STORE_ACCT_INVITED || !sec_equal(r.a.pk, inv->pk, sizeof r.a.pk))
		return STORE_INVALID;
	if ((rc = store_acct_set_invite(t, &r, inv)) != STORE_OK ||
	    (rc = store_acct_save(t, &r)) != STORE_OK)
		return rc;
	store_note_account(t, r.a.id);
	return STORE_OK;
}

enum store_rc
store_account_mark_invited(struct store_txn *t, uint64_t account_id, int64_t when)
{
	struct store_acct_rec r;
	enum store_rc rc;

	if ((rc = store_acct_load_id(t, account_id, &r)) != STORE_OK)
		return rc;
	r.a.invited_at = when;
	return store_acct_save(t, &r);
}

/* ---- state, deletion, authentication results ---- */

struct state_op {
	char			address[STORE_ADDR_MAX + 1];
	enum store_acct_state	state;
};

static enum store_rc
state_apply(struct store_acct_rec *r, enum store_acct_state want)
{
	if (r->a.state == want)
		return STORE_OK;
	if (want == STORE_ACCT_DISABLED) {
		r->a.disabled_was_active = r->a.state == STORE_ACCT_ACTIVE;
		r->a.state = STORE_ACCT_DISABLED;
		return STORE_OK;
	}
	/* Enabling restores what disable left; an invited account becomes
	 * active only by enrolling, never by decree. */
	if (want == STORE_ACCT_ACTIVE && r->a.state == STORE_ACCT_DISABLED) {
		r->a.state = r->a.disabled_was_active ? STORE_ACCT_ACTIVE : STORE_ACCT_INVITED;
		r->a.disabled_was_active = false;
		r->a.auth_failures = 0;
		r->a.locked_until = 0;
		return STORE_OK;
	}
	return STORE_INVALID;
}

static enum store_rc
state_op(struct store_txn *t, void *arg)
{
	struct state_op *o = arg;
	struct store_acct_rec r;
	enum store_rc rc;

	if ((rc = store_acct_load(t, o->address, &r)) != STORE_OK ||
	    (rc = state_apply(&r, o->state)) != STORE_OK ||
	    (rc = store_acct_save(t, &r)) != STORE_OK)
		return rc;
	store_note_account(t, r.a.id);
	return STORE_OK;
}

enum store_rc
store_account_set_state(struct store *st, const char *address, enum store_acct_state state)
{
	struct state_op o = { .state = state };

	if (store_addr_norm(address, strlen(address), o.address) != STORE_OK)
		return STORE_NOTFOUND;
	if (state != STORE_ACCT_ACTIVE && state != STORE_ACCT_DISABLED &&
	    state != STORE_ACCT_INVITED)
		return STORE_INVALID;
	return store_write_wait(st, state_op, &o);
}

static enum store_rc
delete_op(struct store_txn *t, void *arg)
{
	const char *address = arg;
	struct store_acct_rec r;
	uint8_t k[8];
	enum store_rc rc;

	if ((rc = store_acct_load(t, address, &r)) != STORE_OK ||
	    (rc = store_mbox_drop_all(t, r.a.id)) != STORE_OK ||
	    (rc = store_msg_forget_account(t, r.a.id)) != STORE_OK ||
	    (rc = store_acct_clear_token(t, &r)) != STORE_OK)
		return rc;
	store_be64_put(k, r.a.id);
	if ((rc = store_db_del(t, STORE_DB_ACCOUNT_IDS, k, sizeof k)) != STORE_OK ||
	    (rc = store_db_del(t, STORE_DB_ACCOUNTS, address, strlen(address))) != STORE_OK)
		return rc;
	store_note_account(t, r.a.id);
	return STORE_OK;
}

enum store_rc
store_account_delete(struct store *st, const char *address)
{
	char norm[STORE_ADDR_MAX + 1];

	if (store_addr_norm(address, strlen(address), norm) != STORE_OK)
		return STORE_NOTFOUND;
	return store_write_wait(st, delete_op, norm);
}

struct auth_op {
	char	address[STORE_ADDR_MAX + 1];
	bool	ok;
	int64_t	lock_until;
};

static enum store_rc
auth_op(struct store_txn *t, void *arg)
{
	struct auth_op *o = arg;
	struct store_acct_rec r;
	enum store_rc rc;

	if ((rc = store_acct_load(t, o->address, &r)) != STORE_OK)
		return rc;
	if (o->ok) {
		r.a.auth_failures = 0;
		r.a.locked_until = 0;
		r.a.last_login = t->now;
	} else {
		if (r.a.auth_failures < UINT32_MAX)
			r.a.auth_failures++;
		r.a.locked_until = o->lock_until;
	}
	return store_acct_save(t, &r);
}

void
store_account_auth_result(struct store *st, const char *address, bool ok, int64_t lock_until)
{
	struct auth_op *o = xcalloc(1, sizeof *o);

	if (store_addr_norm(address, strlen(address), o->address) != STORE_OK) {
		free(o);
		return;
	}
	o->ok = ok;
	o->lock_until = lock_until;
	if (ok)
		store_write_lazy(st, auth_op, o, free);
	else
		store_write_detached(st, auth_op, o, free);
}

/* ---- token sweep ---- */

/* Drop an expired token and the account's copy of it. */
static enum store_rc
token_expire(struct store_txn *t, const uint8_t hash[STORE_HASH_BYTES])
{
	char address[STORE_ADDR_MAX + 1];
	struct store_acct_rec r;
	int64_t expiry;
	enum store_rc rc;

	if ((rc = store_token_get(t, hash, &expiry, address)) != STORE_OK &&
	    rc != STORE_CORRUPT)
		return rc;
	if (rc == STORE_OK && store_acct_load(t, address, &r) == STORE_OK &&
	    r.a.has_token && sec_equal(r.token_hash, hash, STORE_HASH_BYTES)) {
		if ((rc = store_acct_clear_token(t, &r)) != STORE_OK ||
		    (rc = store_acct_save(t, &r)) != STORE_OK)
			return rc;
		return STORE_OK;
	}
	rc = store_db_del(t, STORE_DB_TOKENS, hash, STORE_HASH_BYTES);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

enum store_rc
store_sweep_tokens(struct store_txn *t, int64_t now, unsigned max, unsigned *expired_out)
{
	uint8_t (*hashes)[STORE_HASH_BYTES];
	size_t n = 0, scanned = 0, i;
	struct store_rbuf rb;
	MDB_cursor *c;
	MDB_val k, v;
	enum store_rc rc;
	int mrc;

	*expired_out = 0;
	if (max == 0)
		return STORE_OK;
	if ((rc = store_cursor_open(t, STORE_DB_TOKENS, &c)) != STORE_OK)
		return rc;
	hashes = xreallocarray(NULL, max, sizeof *hashes);
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	    mrc == 0 && n < max && scanned++ < (size_t)max * SWEEP_SCAN_FACTOR;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		store_rb_init(&rb, v.mv_data, v.mv_size);
		if (k.mv_size == STORE_HASH_BYTES && (int64_t)store_rb_u64(&rb) < now)
			memcpy(hashes[n++], k.mv_data, STORE_HASH_BYTES);
	}
	mdb_cursor_close(c);
	for (i = 0, rc = STORE_OK; i < n && rc == STORE_OK; i++)
		rc = token_expire(t, hashes[i]);
	free(hashes);
	if (rc == STORE_OK)
		*expired_out = (unsigned)n;
	return rc;
}
