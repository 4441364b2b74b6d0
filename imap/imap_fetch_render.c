/*
 * imap_fetch_render.c: one FETCH batch, on a worker thread. Listing
 * attributes (ENVELOPE, BODYSTRUCTURE, header fields) come from the
 * account's listing cache (imap_acct.c), else from the encrypted summary,
 * which then fills the cache; body sections are byte ranges of the decrypted
 * message (only the chunks up to the last byte needed are decrypted).
 * Every byte served is a slice of the stored message.
 */
#include "imap/imap_fetch.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_log.h"
#include "mime/mime.h"

struct imap_fmsg {
	struct store_msg	 m;
	uint8_t			 key[SEC_KEY_BYTES];
	bool			 have_key;
	struct mime_summary	*sum;
	const struct imap_lentry *le;		/* cached listing data, borrowed */
	struct sec_buf		 pt;		/* plaintext [pt_off, pt_off + pt.len) */
	uint64_t		 pt_off;
	bool			 have_pt;
};

bool
imap_fetch_needs_seen(const struct imap_args_fetch *a)
{
	size_t i;

	for (i = 0; i < a->natts; i++) {
		const struct imap_fetch_att *t = &a->atts[i];

		if ((t->type == IMAP_FATT_BODY_SECTION && !t->peek) || t->type == IMAP_FATT_RFC822 ||
		    t->type == IMAP_FATT_RFC822_TEXT)
			return true;
	}
	return false;
}

static enum store_rc
imap_fmsg_key(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm)
{
	uint8_t sealed[STORE_SEALED_KEY_BYTES];
	enum store_rc rc;

	if (fm->have_key)
		return STORE_OK;
	if (sec_keyring_get(imap_acct_keyring(env->acct), fm->m.blob_id, fm->key)) {
		fm->have_key = true;
		return STORE_OK;
	}
	rc = store_key_get(t, fm->m.blob_id, env->account_id, sealed);
	if (rc != STORE_OK)
		return rc;
	if (sec_open_key(sealed, sizeof sealed, env->sk, fm->key) != 0)
		return STORE_CORRUPT;
	sec_keyring_put(imap_acct_keyring(env->acct), fm->m.blob_id, fm->key);
	fm->have_key = true;
	return STORE_OK;
}

static enum store_rc
imap_fmsg_summary(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm)
{
	struct sec_buf pt = { 0 };
	const uint8_t *ct;
	size_t len;
	enum store_rc rc;

	if (fm->sum != NULL)
		return STORE_OK;
	if ((rc = imap_fmsg_key(t, env, fm)) != STORE_OK ||
	    (rc = store_summary_get(t, fm->m.blob_id, &ct, &len)) != STORE_OK)
		return rc;
	if (sec_decrypt(fm->key, ct, len, &pt) != 0)
		rc = STORE_CORRUPT;
	else if ((fm->sum = mime_summary_decode(pt.data, pt.len)) == NULL)
		rc = STORE_CORRUPT;
	sec_buf_wipe(&pt);
	return rc;
}

/* What a listing needs (ENVELOPE, BODYSTRUCTURE, BODY, the header block):
 * from the account's cache, else from the summary, which fills the cache. */
static enum store_rc
imap_fmsg_listing(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm)
{
	enum store_rc rc;

	if (fm->le != NULL || fm->sum != NULL)
		return STORE_OK;
	if ((fm->le = imap_acct_lookup(env->acct, fm->m.blob_id)) != NULL)
		return STORE_OK;
	if ((rc = imap_fmsg_summary(t, env, fm)) != STORE_OK)
		return rc;
	fm->le = imap_acct_insert(env->acct, fm->m.blob_id, fm->sum);
	return STORE_OK;
}

static const char *
imap_fmsg_field(const struct imap_fmsg *fm, enum imap_lfield f, size_t *len)
{
	if (fm->le != NULL)
		return imap_lentry_field(fm->le, f, len);
	switch (f) {
	case IMAP_LF_ENVELOPE:
		return mime_summary_envelope(fm->sum, len);
	case IMAP_LF_BODYSTRUCTURE:
		return mime_summary_bodystructure(fm->sum, len);
	default:
		return mime_summary_body(fm->sum, len);
	}
}

/* The cached or summarized copy of the header block, when it holds all of
 * [0, want); NULL otherwise. */
static const char *
imap_fmsg_header(const struct imap_fmsg *fm, uint64_t want)
{
	bool complete;
	size_t hlen;
	const char *h;

	if (fm->le != NULL) {
		h = imap_lentry_field(fm->le, IMAP_LF_HEADER, &hlen);
		if (want <= hlen)
			return h;
	}
	if (fm->sum != NULL) {
		h = mime_summary_header(fm->sum, &hlen, &complete);
		if (want <= hlen)
			return h;
	}
	return NULL;
}

/* The message's plaintext [off, end) at least (end clamped to the size).
 * Only that range is kept: an iOS-sized chunk of a 20 MB attachment holds
 * 384 KB, not everything before it (the stream is still read from its
 * start: secretstream chunks chain). */
static enum store_rc
imap_fmsg_plain(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm,
    uint64_t off, uint64_t end)
{
	const uint8_t *ct;
	size_t len;
	enum store_rc rc;

	end = SG_MIN(end, fm->m.size);
	if (fm->have_pt && fm->pt_off <= off && fm->pt_off + fm->pt.len >= end)
		return STORE_OK;
	sec_buf_wipe(&fm->pt);
	fm->have_pt = false;
	if ((rc = imap_fmsg_key(t, env, fm)) != STORE_OK ||
	    (rc = store_blob_get(t, fm->m.blob_id, &ct, &len)) != STORE_OK)
		return rc;
	if (off >= end)
		return STORE_OK;
	if (sec_decrypt_range(fm->key, ct, len, off, end - off, &fm->pt) != 0)
		return STORE_CORRUPT;
	fm->pt_off = off;
	fm->have_pt = true;
	return STORE_OK;
}

static void
imap_fmsg_clear(struct imap_fmsg *fm)
{
	mime_summary_free(&fm->sum);
	fm->le = NULL;
	sec_buf_wipe(&fm->pt);
	sec_wipe(fm->key, sizeof fm->key);
	memset(fm, 0, sizeof *fm);
}

/* Header field names are echoed as the client sent them: as atoms when they
 * are atoms (as Dovecot does; clients compare the section they asked for). */
static void
imap_out_field_name(struct evbuffer *b, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f || strchr("(){%*\"\\]", p[i]) != NULL)
			break;
	if (i == n && n > 0)
		evbuffer_add(b, p, n);
	else
		imap_out_astring(b, p, n);
}

/* "BODY[1.2.HEADER.FIELDS (From To)]<0>" as the client asked, without PEEK. */
static void
imap_out_section_name(struct evbuffer *b, const struct imap_fetch_att *a)
{
	static const char *const texts[] = { "", "HEADER", "HEADER.FIELDS",
		"HEADER.FIELDS.NOT", "TEXT", "MIME" };
	const struct imap_section *sec = &a->section;
	size_t i;

	evbuffer_add_printf(b, "BODY[");
	for (i = 0; i < sec->nparts; i++)
		evbuffer_add_printf(b, "%s%u", i ? "." : "", sec->parts[i]);
	if (sec->text != IMAP_SECTION_ALL)
		evbuffer_add_printf(b, "%s%s", sec->nparts ? "." : "", texts[sec->text]);
	if (sec->text == IMAP_SECTION_HEADER_FIELDS || sec->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		evbuffer_add(b, " (", 2);
		for (i = 0; i < sec->nfields; i++) {
			if (i)
				evbuffer_add(b, " ", 1);
			imap_out_field_name(b, sec->fields[i].s, sec->fields[i].len);
		}
		evbuffer_add(b, ")", 1);
	}
	evbuffer_add(b, "]", 1);
	if (a->partial)
		evbuffer_add_printf(b, "<%u>", a->origin);
}

static void
imap_out_literal(struct evbuffer *b, const void *p, size_t n)
{
	evbuffer_add_printf(b, "{%zu}\r\n", n);
	if (n > 0)
		evbuffer_add(b, p, n);
}

static const enum mime_section_kind imap_mime_kind[] = {
	[IMAP_SECTION_ALL] = MIME_SECTION_BODY,
	[IMAP_SECTION_HEADER] = MIME_SECTION_HEADER,
	[IMAP_SECTION_HEADER_FIELDS] = MIME_SECTION_HEADER_FIELDS,
	[IMAP_SECTION_HEADER_FIELDS_NOT] = MIME_SECTION_HEADER_FIELDS_NOT,
	[IMAP_SECTION_TEXT] = MIME_SECTION_TEXT,
	[IMAP_SECTION_MIME] = MIME_SECTION_MIME,
};

/* The byte range of a section; MIME_RANGE_EMPTY for a part that is not there. */
static enum store_rc
imap_section_range(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm,
    const struct imap_section *is, struct mime_range *r, bool *empty)
{
	struct mime_section sec;
	enum store_rc rc;

	*empty = false;
	if (is->nparts == 0 && is->text == IMAP_SECTION_ALL) {
		*r = (struct mime_range){ 0, fm->m.size };
		return STORE_OK;
	}
	if (is->nparts == 0 && is->text != IMAP_SECTION_MIME) {
		/* HEADER, HEADER.FIELDS[.NOT], TEXT of the message itself: the
		 * header size is all it takes. */
		bool complete;
		uint64_t hs;

		if ((rc = imap_fmsg_listing(t, env, fm)) != STORE_OK)
			return rc;
		hs = fm->le != NULL ? imap_lentry_header_size(fm->le, &complete) :
		    mime_summary_header_size(fm->sum);
		*r = is->text == IMAP_SECTION_TEXT ? (struct mime_range){ hs, fm->m.size - hs } :
		    (struct mime_range){ 0, hs };
		return STORE_OK;
	}
	if ((rc = imap_fmsg_summary(t, env, fm)) != STORE_OK)
		return rc;
	if (is->nparts > MIME_SECTION_PATH_MAX) {
		*empty = true;
		return STORE_OK;
	}
	memset(&sec, 0, sizeof sec);
	if (is->nparts > 0)
		memcpy(sec.part, is->parts, is->nparts * sizeof *is->parts);
	sec.nparts = is->nparts;
	sec.kind = imap_mime_kind[is->text];
	*empty = mime_section_range(fm->sum, &sec, r) == MIME_RANGE_EMPTY;
	return STORE_OK;
}

/* Bytes [r.off, r.off + r.len) of the message: from the summary's header copy
 * when it covers them, else from the decrypted message. */
static enum store_rc
imap_section_bytes(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm,
    const struct mime_range *r, const char **p)
{
	enum store_rc rc;

	if (r->off == 0 && (*p = imap_fmsg_header(fm, r->len)) != NULL)
		return STORE_OK;
	if ((rc = imap_fmsg_plain(t, env, fm, r->off, r->off + r->len)) != STORE_OK)
		return rc;
	if (!fm->have_pt || r->off < fm->pt_off ||
	    r->off + r->len > fm->pt_off + fm->pt.len)
		return STORE_CORRUPT;
	*p = (const char *)fm->pt.data + (r->off - fm->pt_off);
	return STORE_OK;
}

/*
 * A large literal from the decrypted message goes out by reference: the
 * evbuffer takes the plaintext buffer (wiped and freed once sent), so a
 * body is in memory once, not twice. The message's next section, if any,
 * decrypts again.
 */
#define IMAP_LITERAL_REF_MIN	(64u * 1024)

struct imap_pt_ref {
	uint8_t	*data;
	size_t	 cap;
};

static void
imap_pt_release(const void *data, size_t len, void *extra)
{
	struct imap_pt_ref *ref = extra;

	(void)data;
	(void)len;
	sec_wipe(ref->data, ref->cap);
	free(ref->data);
	free(ref);
}

static void
imap_out_body(struct evbuffer *b, struct imap_fmsg *fm, const char *p, size_t n)
{
	const char *base = (const char *)fm->pt.data;
	struct imap_pt_ref *ref;

	if (n < IMAP_LITERAL_REF_MIN || !fm->have_pt || p < base ||
	    p + n > base + fm->pt.len) {
		imap_out_literal(b, p, n);
		return;
	}
	ref = xmalloc(sizeof *ref);
	ref->data = fm->pt.data;
	ref->cap = fm->pt.cap;
	evbuffer_add_printf(b, "{%zu}\r\n", n);
	if (evbuffer_add_reference(b, p, n, imap_pt_release, ref) != 0) {
		free(ref);
		evbuffer_add(b, p, n);
		return;
	}
	fm->pt = (struct sec_buf){ 0 };
	fm->have_pt = false;
}

static enum store_rc
imap_render_fields(struct evbuffer *b, const struct imap_fetch_att *a, const char *hdr,
    size_t hlen)
{
	const char *names[IMAP_ARGS_MAX > 256 ? 256 : IMAP_ARGS_MAX];
	size_t n = SG_MIN(a->section.nfields, SG_NITEMS(names)), i, outlen;
	char *tmp = xmalloc(hlen + 4);
	struct mime_range r;

	for (i = 0; i < n; i++)
		names[i] = a->section.fields[i].s;
	outlen = mime_header_fields(hdr, hlen, names, n,
	    a->section.text == IMAP_SECTION_HEADER_FIELDS_NOT, tmp);
	r = (struct mime_range){ 0, outlen };
	if (a->partial)
		mime_range_partial(&r, a->origin, a->count);
	imap_out_literal(b, tmp + r.off, (size_t)r.len);
	free(tmp);
	return STORE_OK;
}

static enum store_rc
imap_render_section(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm,
    const struct imap_fetch_att *a, struct evbuffer *b)
{
	struct mime_range r;
	const char *p = NULL;
	bool empty;
	enum store_rc rc;

	if ((rc = imap_section_range(t, env, fm, &a->section, &r, &empty)) != STORE_OK)
		return rc;
	evbuffer_add(b, " ", 1);
	imap_out_section_name(b, a);
	evbuffer_add(b, " ", 1);
	if (empty) {
		imap_out_literal(b, "", 0);
		return STORE_OK;
	}
	if (a->section.text == IMAP_SECTION_HEADER_FIELDS ||
	    a->section.text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		if ((rc = imap_section_bytes(t, env, fm, &r, &p)) != STORE_OK)
			return rc;
		return imap_render_fields(b, a, p, (size_t)r.len);
	}
	/* INTEROP: partial fetches past the end give an empty string. */
	if (a->partial)
		mime_range_partial(&r, a->origin, a->count);
	if (r.len > 0 && (rc = imap_section_bytes(t, env, fm, &r, &p)) != STORE_OK)
		return rc;
	imap_out_body(b, fm, p, (size_t)r.len);
	return STORE_OK;
}

/* RFC822, RFC822.HEADER, RFC822.TEXT: BODY[], BODY[HEADER], BODY[TEXT]. */
static enum store_rc
imap_render_rfc822(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm,
    const struct imap_fetch_att *a, struct evbuffer *b)
{
	struct imap_section sec = { 0 };
	struct mime_range r;
	const char *p = NULL;
	bool empty;
	enum store_rc rc;

	sec.text = a->type == IMAP_FATT_RFC822_HEADER ? IMAP_SECTION_HEADER :
	    a->type == IMAP_FATT_RFC822_TEXT ? IMAP_SECTION_TEXT : IMAP_SECTION_ALL;
	if ((rc = imap_section_range(t, env, fm, &sec, &r, &empty)) != STORE_OK)
		return rc;
	evbuffer_add_printf(b, " %s ", a->type == IMAP_FATT_RFC822 ? "RFC822" :
	    a->type == IMAP_FATT_RFC822_HEADER ? "RFC822.HEADER" : "RFC822.TEXT");
	if (!empty && r.len > 0 && (rc = imap_section_bytes(t, env, fm, &r, &p)) != STORE_OK)
		return rc;
	imap_out_body(b, fm, p, empty ? 0 : (size_t)r.len);
	return STORE_OK;
}

static enum store_rc
imap_render_summary_att(struct store_txn *t, const struct imap_fetch_env *env,
    struct imap_fmsg *fm, const struct imap_fetch_att *a, struct evbuffer *b)
{
	const char *p;
	size_t len;
	enum store_rc rc;

	if ((rc = imap_fmsg_listing(t, env, fm)) != STORE_OK)
		return rc;
	if (a->type == IMAP_FATT_ENVELOPE) {
		p = imap_fmsg_field(fm, IMAP_LF_ENVELOPE, &len);
		evbuffer_add(b, " ENVELOPE ", 10);
	} else if (a->type == IMAP_FATT_BODYSTRUCTURE) {
		p = imap_fmsg_field(fm, IMAP_LF_BODYSTRUCTURE, &len);
		evbuffer_add(b, " BODYSTRUCTURE ", 15);
	} else {
		p = imap_fmsg_field(fm, IMAP_LF_BODY, &len);
		evbuffer_add(b, " BODY ", 6);
	}
	evbuffer_add(b, p, len);
	return STORE_OK;
}

static bool
imap_uid_in(const uint32_t *set, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set[mid] == uid)
			return true;
		if (set[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static enum store_rc
imap_render_att(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm,
    const struct imap_fetch_att *a, const struct store_keywords *kw, struct evbuffer *b)
{
	switch (a->type) {
	case IMAP_FATT_UID:
		return STORE_OK;	/* always first, see below */
	case IMAP_FATT_FLAGS:
		evbuffer_add(b, " FLAGS ", 7);
		imap_out_flags(b, fm->m.flags, fm->m.keywords, kw);
		return STORE_OK;
	case IMAP_FATT_INTERNALDATE:
		evbuffer_add(b, " INTERNALDATE ", 14);
		imap_out_date(b, fm->m.internal_date);
		return STORE_OK;
	case IMAP_FATT_RFC822_SIZE:
		evbuffer_add(b, " RFC822.SIZE ", 13);
		imap_out_num(b, fm->m.size);
		return STORE_OK;
	case IMAP_FATT_MODSEQ:
		evbuffer_add_printf(b, " MODSEQ (%llu)", (unsigned long long)fm->m.modseq);
		return STORE_OK;
	case IMAP_FATT_ENVELOPE:
	case IMAP_FATT_BODY:
	case IMAP_FATT_BODYSTRUCTURE:
		return imap_render_summary_att(t, env, fm, a, b);
	case IMAP_FATT_RFC822:
	case IMAP_FATT_RFC822_HEADER:
	case IMAP_FATT_RFC822_TEXT:
		return imap_render_rfc822(t, env, fm, a, b);
	case IMAP_FATT_BODY_SECTION:
		return imap_render_section(t, env, fm, a, b);
	default:
		return STORE_INVALID;	/* BINARY: refused before we get here */
	}
}

/* One message's untagged FETCH, all or nothing. */
static enum store_rc
imap_render_msg(struct store_txn *t, const struct imap_fetch_env *env, struct imap_fmsg *fm,
    uint32_t seq, const struct store_keywords *kw, struct evbuffer *b)
{
	const struct imap_args_fetch *args = env->args;
	bool have_flags = false, have_modseq = false;
	enum store_rc rc = STORE_OK;
	size_t i;

	/* Thunderbird mixes messages up unless UID comes first (INTEROP.md). */
	evbuffer_add(b, "* ", 2);
	imap_out_num(b, seq);
	evbuffer_add(b, " FETCH (UID ", 12);
	imap_out_num(b, fm->m.uid);
	for (i = 0; i < args->natts && rc == STORE_OK; i++) {
		have_flags |= args->atts[i].type == IMAP_FATT_FLAGS;
		have_modseq |= args->atts[i].type == IMAP_FATT_MODSEQ;
		rc = imap_render_att(t, env, fm, &args->atts[i], kw, b);
	}
	if (rc != STORE_OK)
		return rc;
	if (!have_flags && env->flags_forced && imap_uid_in(env->seen_set, env->nseen_set,
	    fm->m.uid)) {
		evbuffer_add(b, " FLAGS ", 7);
		imap_out_flags(b, fm->m.flags, fm->m.keywords, kw);
	}
	if (!have_modseq && env->modseq)
		evbuffer_add_printf(b, " MODSEQ (%llu)", (unsigned long long)fm->m.modseq);
	evbuffer_add(b, ")\r\n", 3);
	return STORE_OK;
}

/*
 * The connection hands its output to TLS chain by chain, one record per
 * chain (bufferevent_openssl), and a listing renders a few hundred bytes a
 * message: gather small responses into large chains so that records are
 * full, instead of one 500-byte record (and one read for the client) per
 * message. Large responses (bodies) keep their own chains.
 */
#define IMAP_GATHER_CHUNK	(64u * 1024)

struct imap_gather {
	char	*p;
	size_t	 len, cap;
};

static void
imap_gather_release(const void *data, size_t len, void *extra)
{
	(void)len;
	(void)extra;
	free((void *)(uintptr_t)data);
}

static void
imap_gather_flush(struct imap_gather *g, struct evbuffer *out)
{
	if (g->len > 0 && evbuffer_add_reference(out, g->p, g->len, imap_gather_release,
	    NULL) == 0)
		g->p = NULL;
	free(g->p);
	*g = (struct imap_gather){ 0 };
}

static void
imap_gather_take(struct imap_gather *g, struct evbuffer *one, struct evbuffer *out)
{
	size_t n = evbuffer_get_length(one);

	if (n > IMAP_GATHER_CHUNK / 4) {
		imap_gather_flush(g, out);
		evbuffer_add_buffer(out, one);
		return;
	}
	if (g->len + n > g->cap) {
		imap_gather_flush(g, out);
		g->cap = IMAP_GATHER_CHUNK;
		g->p = xmalloc(g->cap);
	}
	evbuffer_remove(one, g->p + g->len, n);	/* bounds: len + n <= cap */
	g->len += n;
}

void
imap_fetch_render(struct imap_fetch_batch *bt)
{
	struct imap_gather g = { 0 };
	const struct imap_fetch_env *env = bt->env;
	struct store_keywords *kw = xcalloc(1, sizeof *kw);
	struct evbuffer *one = evbuffer_new();
	struct store_txn *t = store_read_begin(env->store, &bt->rc);
	struct store_cursor *c = NULL;
	struct store_msg m;
	bool have;
	size_t i;

	bt->out = evbuffer_new();
	bt->rendered = 0;
	if (t == NULL || (bt->rc = store_keywords_get(t, env->account_id, kw)) != STORE_OK)
		goto out;
	/* The batch's UIDs ascend: one walk of the mailbox from the first costs
	 * far less than a lookup per message. */
	if ((c = store_msgs_open(t, env->mailbox_id, bt->uids[0])) == NULL) {
		bt->rc = STORE_TEMPFAIL;
		goto out;
	}
	have = store_msgs_next(c, &m);
	for (i = 0; i < bt->n; i++) {
		struct imap_fmsg fm = { 0 };
		enum store_rc rc;

		if (i > 0 && bt->budget > 0 && g.len + evbuffer_get_length(bt->out) >= bt->budget)
			break;
		while (have && m.uid < bt->uids[i])
			have = store_msgs_next(c, &m);
		if (!have || m.uid != bt->uids[i]) {
			bt->missing++;		/* expunged meanwhile */
			continue;
		}
		if (env->args->changedsince_set && m.modseq <= env->args->changedsince)
			continue;
		fm.m = m;
		rc = imap_render_msg(t, env, &fm, bt->seqs[i], kw, one);
		if (rc == STORE_OK)
			imap_gather_take(&g, one, bt->out);
		else {
			evbuffer_drain(one, evbuffer_get_length(one));
			log_error("imap", "event=fetch_failed uid=%u error=%s", bt->uids[i],
			    store_rc_str(rc));
			bt->rc = rc;
		}
		imap_fmsg_clear(&fm);
	}
	bt->rendered = i;
out:
	imap_gather_flush(&g, bt->out);
	store_msgs_close(&c);
	store_read_end(&t);
	evbuffer_free(one);
	free(kw);
}
