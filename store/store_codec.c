/*
 * store_codec.c: how records are laid out in LMDB values. Every value
 * starts with STORE_FORMAT_VERSION; integers are big-endian (in keys so
 * that LMDB's byte order is numeric order, in values for uniformity).
 * Decoders reject short, long or unknown-version values: a record that
 * does not decode is reported as STORE_CORRUPT, never guessed at.
 */
#include "store/store_private.h"

void
store_wb_init(struct store_wbuf *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->over = false;
	store_wb_u8(w, STORE_FORMAT_VERSION);
}

void
store_wb_bytes(struct store_wbuf *w, const void *p, size_t n)
{
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, p, n);
	w->len += n;
}

void
store_wb_u8(struct store_wbuf *w, uint8_t v)
{
	store_wb_bytes(w, &v, 1);
}

void
store_wb_u32(struct store_wbuf *w, uint32_t v)
{
	uint8_t b[4];

	store_be32_put(b, v);
	store_wb_bytes(w, b, sizeof b);
}

void
store_wb_u64(struct store_wbuf *w, uint64_t v)
{
	uint8_t b[8];

	store_be64_put(b, v);
	store_wb_bytes(w, b, sizeof b);
}

void
store_wb_str8(struct store_wbuf *w, const char *s)
{
	size_t n = strlen(s);

	if (n > UINT8_MAX) {
		w->over = true;
		return;
	}
	store_wb_u8(w, (uint8_t)n);
	store_wb_bytes(w, s, n);
}

void
store_wb_blob16(struct store_wbuf *w, const void *p, size_t n)
{
	uint8_t b[2];

	if (n > UINT16_MAX) {
		w->over = true;
		return;
	}
	b[0] = (uint8_t)(n >> 8);
	b[1] = (uint8_t)n;
	store_wb_bytes(w, b, sizeof b);
	store_wb_bytes(w, p, n);
}

void
store_rb_init(struct store_rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 1;
	r->bad = len < 1 || r->p[0] != STORE_FORMAT_VERSION;
}

const uint8_t *
store_rb_bytes(struct store_rbuf *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t
store_rb_u8(struct store_rbuf *r)
{
	const uint8_t *p = store_rb_bytes(r, 1);

	return p != NULL ? p[0] : 0;
}

uint32_t
store_rb_u32(struct store_rbuf *r)
{
	const uint8_t *p = store_rb_bytes(r, 4);

	return p != NULL ? store_be32_get(p) : 0;
}

uint64_t
store_rb_u64(struct store_rbuf *r)
{
	const uint8_t *p = store_rb_bytes(r, 8);

	return p != NULL ? store_be64_get(p) : 0;
}

void
store_rb_str8(struct store_rbuf *r, char *out, size_t cap)
{
	size_t n = store_rb_u8(r);
	const uint8_t *p = store_rb_bytes(r, n);

	out[0] = '\0';
	if (p == NULL || n >= cap || memchr(p, '\0', n) != NULL) {
		r->bad = true;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

void
store_rb_blob16(struct store_rbuf *r, uint8_t *out, size_t cap, size_t *len_out)
{
	const uint8_t *b = store_rb_bytes(r, 2);
	size_t n = b != NULL ? (size_t)b[0] << 8 | b[1] : 0;
	const uint8_t *p = store_rb_bytes(r, n);

	*len_out = 0;
	if (p == NULL || n > cap) {
		r->bad = true;
		return;
	}
	memcpy(out, p, n);
	*len_out = n;
}

bool
store_rb_done(const struct store_rbuf *r)
{
	return !r->bad && r->off == r->len;
}

/* ---- accounts ---- */

#define ACCT_F_WAS_ACTIVE	0x01

size_t
store_codec_acct_enc(const struct store_acct_rec *r, uint8_t *buf, size_t cap)
{
	const struct store_account *a = &r->a;
	struct store_wbuf w;

	store_wb_init(&w, buf, cap);
	store_wb_u8(&w, (uint8_t)a->state);
	store_wb_u8(&w, a->disabled_was_active ? ACCT_F_WAS_ACTIVE : 0);
	store_wb_u64(&w, a->id);
	store_wb_u64(&w, (uint64_t)a->created);
	store_wb_u64(&w, (uint64_t)a->enrolled);
	store_wb_u64(&w, (uint64_t)a->token_expiry);
	store_wb_u64(&w, (uint64_t)a->invited_at);
	store_wb_u64(&w, (uint64_t)a->last_login);
	store_wb_u32(&w, a->auth_failures);
	store_wb_u64(&w, (uint64_t)a->locked_until);
	store_wb_bytes(&w, a->pk, sizeof a->pk);
	store_wb_bytes(&w, r->token_hash, sizeof r->token_hash);
	store_wb_blob16(&w, r->pw_wrap, r->pw_wrap_len);
	store_wb_blob16(&w, r->token_wrap, r->token_wrap_len);
	store_wb_blob16(&w, r->rec_wrap, r->rec_wrap_len);
	return w.over ? 0 : w.len;
}

bool
store_codec_acct_dec(const MDB_val *v, struct store_acct_rec *r)
{
	struct store_account *a = &r->a;
	struct store_rbuf rb;
	const uint8_t *p;
	uint8_t state, flags;

	store_rb_init(&rb, v->mv_data, v->mv_size);
	state = store_rb_u8(&rb);
	flags = store_rb_u8(&rb);
	a->state = (enum store_acct_state)state;
	a->disabled_was_active = (flags & ACCT_F_WAS_ACTIVE) != 0;
	a->id = store_rb_u64(&rb);
	a->created = (int64_t)store_rb_u64(&rb);
	a->enrolled = (int64_t)store_rb_u64(&rb);
	a->token_expiry = (int64_t)store_rb_u64(&rb);
	a->invited_at = (int64_t)store_rb_u64(&rb);
	a->last_login = (int64_t)store_rb_u64(&rb);
	a->auth_failures = store_rb_u32(&rb);
	a->locked_until = (int64_t)store_rb_u64(&rb);
	if ((p = store_rb_bytes(&rb, sizeof a->pk)) != NULL)
		memcpy(a->pk, p, sizeof a->pk);
	if ((p = store_rb_bytes(&rb, sizeof r->token_hash)) != NULL)
		memcpy(r->token_hash, p, sizeof r->token_hash);
	store_rb_blob16(&rb, r->pw_wrap, sizeof r->pw_wrap, &r->pw_wrap_len);
	store_rb_blob16(&rb, r->token_wrap, sizeof r->token_wrap, &r->token_wrap_len);
	store_rb_blob16(&rb, r->rec_wrap, sizeof r->rec_wrap, &r->rec_wrap_len);
	if (!store_rb_done(&rb) || state < STORE_ACCT_INVITED || state > STORE_ACCT_DISABLED)
		return false;
	a->has_password = r->pw_wrap_len > 0;
	a->has_token = r->token_wrap_len > 0;
	a->has_recovery = r->rec_wrap_len > 0;
	a->kdf_ops = a->kdf_mem = 0;
	if (a->has_password &&
	    sec_wrap_password_limits(r->pw_wrap, r->pw_wrap_len, &a->kdf_ops, &a->kdf_mem) != 0)
		a->kdf_ops = a->kdf_mem = 0;	/* damaged: login reports it */
	return true;
}

/* ---- mailboxes ---- */

void
store_codec_mbox_enc(const struct store_mailbox *m, uint8_t buf[STORE_MBOX_VAL_LEN])
{
	struct store_wbuf w;

	store_wb_init(&w, buf, STORE_MBOX_VAL_LEN);
	store_wb_u64(&w, m->id);
	store_wb_u32(&w, m->uidvalidity);
	store_wb_u32(&w, m->uidnext);
	store_wb_u64(&w, m->highestmodseq);
	store_wb_u8(&w, (uint8_t)m->special);
	store_wb_u8(&w, m->subscribed ? 1 : 0);
	store_wb_u32(&w, m->messages);
	store_wb_u32(&w, m->unseen);
	store_wb_u32(&w, m->deleted);
	store_wb_u64(&w, m->size);
	SG_ASSERT(!w.over && w.len == STORE_MBOX_VAL_LEN);
}

bool
store_codec_mbox_dec(const MDB_val *v, struct store_mailbox *m)
{
	struct store_rbuf r;
	uint8_t special;

	store_rb_init(&r, v->mv_data, v->mv_size);
	m->id = store_rb_u64(&r);
	m->uidvalidity = store_rb_u32(&r);
	m->uidnext = store_rb_u32(&r);
	m->highestmodseq = store_rb_u64(&r);
	special = store_rb_u8(&r);
	m->special = (enum store_special)special;
	m->subscribed = store_rb_u8(&r) != 0;
	m->messages = store_rb_u32(&r);
	m->unseen = store_rb_u32(&r);
	m->deleted = store_rb_u32(&r);
	m->size = store_rb_u64(&r);
	return store_rb_done(&r) && special <= STORE_SPECIAL_ARCHIVE;
}

/* ---- messages ---- */

void
store_codec_msg_key(uint8_t k[STORE_MSG_KEY_LEN], uint64_t mailbox_id, uint32_t uid)
{
	store_be64_put(k, mailbox_id);
	store_be32_put(k + 8, uid);
}

void
store_codec_msg_enc(const struct store_msg *m, uint8_t buf[STORE_MSG_VAL_LEN])
{
	struct store_wbuf w;

	store_wb_init(&w, buf, STORE_MSG_VAL_LEN);
	store_wb_u64(&w, m->blob_id);
	store_wb_u32(&w, m->flags);
	store_wb_u64(&w, m->keywords);
	store_wb_u64(&w, (uint64_t)m->internal_date);
	store_wb_u64(&w, m->size);
	store_wb_u64(&w, m->modseq);
	SG_ASSERT(!w.over && w.len == STORE_MSG_VAL_LEN);
}

bool
store_codec_msg_dec(const MDB_val *v, struct store_msg *m)
{
	struct store_rbuf r;

	store_rb_init(&r, v->mv_data, v->mv_size);
	m->blob_id = store_rb_u64(&r);
	m->flags = store_rb_u32(&r);
	m->keywords = store_rb_u64(&r);
	m->internal_date = (int64_t)store_rb_u64(&r);
	m->size = store_rb_u64(&r);
	m->modseq = store_rb_u64(&r);
	return store_rb_done(&r);
}
