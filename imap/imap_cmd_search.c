/*
 * imap_cmd_search.c: SEARCH and UID SEARCH with every RFC 3501 key, OR,
 * NOT and parentheses, CHARSET UTF-8, CONDSTORE's MODSEQ, ESEARCH's RETURN
 * (MIN MAX COUNT ALL) and SEARCHRES's SAVE. The key tree is compiled once
 * on the loop (needles folded, keywords and sets resolved); messages are
 * tested in batches on the workers, which decrypt a summary only when a key
 * needs text. Searching never changes a message (INTEROP.md, #12).
 */
#include "imap/imap_private.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/sec.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_worker.h"
#include "mime/mime.h"

struct imap_sk {
	enum imap_skey		 type;
	struct imap_sk		*sub, *next;
	struct mime_needle	*needle;	/* text keys */
	char			*header;	/* HEADER name */
	int			 kw;		/* keyword index, -1 if unknown */
	int64_t			 day;		/* dates: days since the epoch */
	uint64_t		 number;
	struct imap_seq_range	*ranges;	/* SET, UID: resolved */
	size_t			 nranges;
	bool			 saved;		/* "$" */
};

struct imap_search_op {
	struct imap_session	*s;
	struct imap_sk		*root;
	bool			 needs_summary;
	struct store		*store;
	uint64_t		 account_id, mailbox_id;
	struct sec_sk		*sk;
	struct sec_keyring	*keyring;
	uint32_t		*uids, *saved;
	size_t			 n, nsaved;
	uint8_t			*match;		/* per message */
	uint64_t		*modseqs;
	size_t			 nbatches, dispatched, finished;
	unsigned		 inflight;
	enum store_rc		 rc;
};

static int64_t
imap_days(int y, int m, int d)
{
	/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static void
imap_sk_free(struct imap_sk *k)
{
	while (k != NULL) {
		struct imap_sk *next = k->next;

		imap_sk_free(k->sub);
		mime_needle_free(&k->needle);
		free(k->header);
		free(k->ranges);
		free(k);
		k = next;
	}
}

static bool
imap_sk_text(enum imap_skey t)
{
	return t == IMAP_SKEY_BCC || t == IMAP_SKEY_BODY || t == IMAP_SKEY_CC ||
	    t == IMAP_SKEY_FROM || t == IMAP_SKEY_SUBJECT || t == IMAP_SKEY_TEXT ||
	    t == IMAP_SKEY_TO || t == IMAP_SKEY_HEADER;
}

static struct imap_sk *
imap_sk_compile(struct imap_search_op *op, const struct imap_search_key *k,
    const struct store_keywords *kw, uint32_t star_seq, uint32_t star_uid)
{
	struct imap_sk *head = NULL, **tail = &head;
	size_t i;

	for (; k != NULL; k = k->next) {
		struct imap_sk *c = xcalloc(1, sizeof *c);

		c->type = k->type;
		c->kw = -1;
		switch (k->type) {
		case IMAP_SKEY_AND: case IMAP_SKEY_OR: case IMAP_SKEY_NOT:
			c->sub = imap_sk_compile(op, k->u.sub, kw, star_seq, star_uid);
			break;
		case IMAP_SKEY_SET: case IMAP_SKEY_UID:
			c->nranges = k->u.set->n;
			c->ranges = xcalloc(c->nranges + 1, sizeof *c->ranges);
			for (i = 0; i < c->nranges; i++)
				imap_seq_range_resolve(&k->u.set->r[i],
				    k->type == IMAP_SKEY_UID ? star_uid : star_seq,
				    &c->ranges[i].lo, &c->ranges[i].hi);
			c->saved = k->u.set->saved;
			break;
		case IMAP_SKEY_KEYWORD: case IMAP_SKEY_UNKEYWORD:
			for (i = 0; i < kw->n; i++)
				if (sg_ascii_ieq(k->u.str.s, k->u.str.len, kw->names[i]))
					c->kw = (int)i;
			break;
		case IMAP_SKEY_HEADER:
			c->header = xstrndup(k->u.header.name.s, k->u.header.name.len);
			c->needle = mime_needle_new(k->u.header.value.s, k->u.header.value.len);
			op->needs_summary = true;
			break;
		case IMAP_SKEY_BEFORE: case IMAP_SKEY_ON: case IMAP_SKEY_SINCE:
		case IMAP_SKEY_SENTBEFORE: case IMAP_SKEY_SENTON: case IMAP_SKEY_SENTSINCE:
			c->day = imap_days(k->u.date.year, k->u.date.mon, k->u.date.day);
			op->needs_summary |= k->type >= IMAP_SKEY_SENTBEFORE;
			break;
		case IMAP_SKEY_LARGER: case IMAP_SKEY_SMALLER: case IMAP_SKEY_MODSEQ:
			c->number = k->type == IMAP_SKEY_MODSEQ ? k->u.modseq.value : k->u.number;
			break;
		default:
			if (imap_sk_text(k->type)) {
				c->needle = mime_needle_new(k->u.str.s, k->u.str.len);
				op->needs_summary = true;
			}
			break;
		}
		*tail = c;
		tail = &c->next;
	}
	return head;
}

/* ---- evaluation (worker) ---- */

struct imap_smsg {
	struct imap_search_op	*op;
	struct store_txn	*t;
	struct store_msg	 m;
	uint32_t		 seq;
	struct mime_summary	*sum;
	bool			 sum_tried;
	enum store_rc		 rc;
};

static struct mime_summary *
imap_smsg_summary(struct imap_smsg *x)
{
	struct imap_search_op *op = x->op;
	uint8_t sealed[STORE_SEALED_KEY_BYTES], key[SEC_KEY_BYTES];
	struct sec_buf pt = { 0 };
	const uint8_t *ct;
	size_t len;

	if (x->sum_tried)
		return x->sum;
	x->sum_tried = true;
	if (!sec_keyring_get(op->keyring, x->m.blob_id, key)) {
		if (store_key_get(x->t, x->m.blob_id, op->account_id, sealed) != STORE_OK ||
		    sec_open_key(sealed, sizeof sealed, op->sk, key) != 0) {
			x->rc = STORE_CORRUPT;
			return NULL;
		}
		sec_keyring_put(op->keyring, x->m.blob_id, key);
	}
	if (store_summary_get(x->t, x->m.blob_id, &ct, &len) == STORE_OK &&
	    sec_decrypt(key, ct, len, &pt) == 0)
		x->sum = mime_summary_decode(pt.data, pt.len);
	if (x->sum == NULL)
		x->rc = STORE_CORRUPT;
	sec_buf_wipe(&pt);
	sec_wipe(key, sizeof key);
	return x->sum;
}

static bool
imap_in_ranges(const struct imap_sk *k, uint32_t n, const struct imap_search_op *op,
    uint32_t uid)
{
	size_t i;

	for (i = 0; i < k->nranges; i++)
		if (n >= k->ranges[i].lo && n <= k->ranges[i].hi)
			return true;
	for (i = 0; k->saved && i < op->nsaved; i++)
		if (op->saved[i] == uid)
			return true;
	return false;
}

static enum mime_field
imap_text_field(enum imap_skey t)
{
	switch (t) {
	case IMAP_SKEY_BCC: return MIME_FIELD_BCC;
	case IMAP_SKEY_CC: return MIME_FIELD_CC;
	case IMAP_SKEY_FROM: return MIME_FIELD_FROM;
	case IMAP_SKEY_SUBJECT: return MIME_FIELD_SUBJECT;
	case IMAP_SKEY_TO: return MIME_FIELD_TO;
	case IMAP_SKEY_BODY: return MIME_FIELD_BODY;
	default: return MIME_FIELD_TEXT;
	}
}

static bool imap_sk_all(const struct imap_sk *k, struct imap_smsg *x);

static bool
imap_sk_sent(const struct imap_sk *k, struct imap_smsg *x)
{
	struct mime_summary *sum = imap_smsg_summary(x);
	int y, mo, d;
	int64_t day;

	if (sum == NULL || !mime_summary_date(sum, NULL, &y, &mo, &d))
		return false;
	day = imap_days(y, mo, d);
	return k->type == IMAP_SKEY_SENTBEFORE ? day < k->day :
	    k->type == IMAP_SKEY_SENTON ? day == k->day : day >= k->day;
}

static bool
imap_sk_one(const struct imap_sk *k, struct imap_smsg *x)
{
	const struct store_msg *m = &x->m;
	int64_t day = m->internal_date >= 0 ? m->internal_date / 86400 :
	    -((-m->internal_date + 86399) / 86400);
	struct mime_summary *sum;

	switch (k->type) {
	case IMAP_SKEY_AND: return imap_sk_all(k->sub, x);
	case IMAP_SKEY_OR: return imap_sk_one(k->sub, x) || imap_sk_one(k->sub->next, x);
	case IMAP_SKEY_NOT: return !imap_sk_one(k->sub, x);
	case IMAP_SKEY_SET: return imap_in_ranges(k, x->seq, x->op, m->uid);
	case IMAP_SKEY_UID: return imap_in_ranges(k, m->uid, x->op, m->uid);
	case IMAP_SKEY_ALL: case IMAP_SKEY_OLD: return true;
	case IMAP_SKEY_NEW: case IMAP_SKEY_RECENT: return false;	/* no \Recent */
	case IMAP_SKEY_ANSWERED: return m->flags & STORE_F_ANSWERED;
	case IMAP_SKEY_DELETED: return m->flags & STORE_F_DELETED;
	case IMAP_SKEY_DRAFT: return m->flags & STORE_F_DRAFT;
	case IMAP_SKEY_FLAGGED: return m->flags & STORE_F_FLAGGED;
	case IMAP_SKEY_SEEN: return m->flags & STORE_F_SEEN;
	case IMAP_SKEY_UNANSWERED: return !(m->flags & STORE_F_ANSWERED);
	case IMAP_SKEY_UNDELETED: return !(m->flags & STORE_F_DELETED);
	case IMAP_SKEY_UNDRAFT: return !(m->flags & STORE_F_DRAFT);
	case IMAP_SKEY_UNFLAGGED: return !(m->flags & STORE_F_FLAGGED);
	case IMAP_SKEY_UNSEEN: return !(m->flags & STORE_F_SEEN);
	case IMAP_SKEY_KEYWORD: return k->kw >= 0 && (m->keywords >> k->kw) & 1;
	case IMAP_SKEY_UNKEYWORD: return k->kw < 0 || !((m->keywords >> k->kw) & 1);
	case IMAP_SKEY_BEFORE: return day < k->day;
	case IMAP_SKEY_ON: return day == k->day;
	case IMAP_SKEY_SINCE: return day >= k->day;
	case IMAP_SKEY_SENTBEFORE: case IMAP_SKEY_SENTON: case IMAP_SKEY_SENTSINCE:
		return imap_sk_sent(k, x);
	case IMAP_SKEY_LARGER: return m->size > k->number;
	case IMAP_SKEY_SMALLER: return m->size < k->number;
	case IMAP_SKEY_MODSEQ: return m->modseq >= k->number;
	case IMAP_SKEY_HEADER:
		sum = imap_smsg_summary(x);
		return sum != NULL && mime_search_header(sum, k->header, strlen(k->header),
		    k->needle);
	default:
		sum = imap_smsg_summary(x);
		return sum != NULL && mime_search_match_needle(sum, imap_text_field(k->type),
		    k->needle);
	}
}

static bool
imap_sk_all(const struct imap_sk *k, struct imap_smsg *x)
{
	for (; k != NULL; k = k->next)
		if (!imap_sk_one(k, x))
			return false;
	return true;
}

struct imap_search_job {
	struct imap_search_op	*op;
	size_t			 start, n;
	enum store_rc		 rc;
};

static void
imap_search_work(void *arg)
{
	struct imap_search_job *j = arg;
	struct imap_search_op *op = j->op;
	struct store_txn *t = store_read_begin(op->store, &j->rc);
	struct store_cursor *c = NULL;
	struct store_msg m;
	bool have;
	size_t i;

	/* The view's UIDs ascend: one walk of the mailbox from the batch's first
	 * UID costs far less than a lookup per message. */
	if (t != NULL && j->n > 0 && (c = store_msgs_open(t, op->mailbox_id,
	    op->uids[j->start])) == NULL)
		j->rc = STORE_TEMPFAIL;
	have = c != NULL && store_msgs_next(c, &m);
	for (i = j->start; c != NULL && i < j->start + j->n; i++) {
		struct imap_smsg x = { .op = op, .t = t, .seq = (uint32_t)i + 1 };

		while (have && m.uid < op->uids[i])
			have = store_msgs_next(c, &m);
		if (!have || m.uid != op->uids[i])
			continue;	/* expunged meanwhile: no match */
		x.m = m;
		op->match[i] = imap_sk_all(op->root, &x);
		op->modseqs[i] = x.m.modseq;
		if (x.rc != STORE_OK)
			j->rc = x.rc;
		mime_summary_free(&x.sum);
	}
	store_msgs_close(&c);
	store_read_end(&t);
}

/* ---- results ---- */

static void
imap_search_op_free(struct imap_search_op *op)
{
	imap_sk_free(op->root);
	sec_sk_unref(&op->sk);
	free(op->uids);
	free(op->saved);
	free(op->match);
	free(op->modseqs);
	free(op);
}

/* Numbers of the matches: UIDs for UID SEARCH, else sequence numbers. */
static size_t
imap_search_hits(const struct imap_search_op *op, bool uid, uint32_t **out,
    uint64_t *maxmodseq)
{
	size_t i, n = 0;

	*out = xcalloc(op->n + 1, sizeof **out);
	*maxmodseq = 0;
	for (i = 0; i < op->n; i++)
		if (op->match[i]) {
			(*out)[n++] = uid ? op->uids[i] : (uint32_t)(i + 1);
			*maxmodseq = SG_MAX(*maxmodseq, op->modseqs[i]);
		}
	return n;
}

static void
imap_search_esearch(struct imap_session *s, const struct imap_args_search *a,
    const uint32_t *hits, size_t n, uint64_t maxmodseq)
{
	struct evbuffer *b = gw_conn_out(s->conn);

	evbuffer_add_printf(b, "* ESEARCH (TAG \"%s\")%s", s->cmd->tag.s,
	    s->cmd->uid ? " UID" : "");
	if (n > 0 && (a->ret & IMAP_SEARCH_RET_MIN))
		evbuffer_add_printf(b, " MIN %u", hits[0]);
	if (n > 0 && (a->ret & IMAP_SEARCH_RET_MAX))
		evbuffer_add_printf(b, " MAX %u", hits[n - 1]);
	if (a->ret & IMAP_SEARCH_RET_COUNT)
		evbuffer_add_printf(b, " COUNT %zu", n);
	if (n > 0 && (a->ret & IMAP_SEARCH_RET_ALL)) {
		evbuffer_add(b, " ALL ", 5);
		imap_out_uidset(b, hits, n);
	}
	if (n > 0 && a->has_modseq)
		evbuffer_add_printf(b, " MODSEQ %llu", (unsigned long long)maxmodseq);
	evbuffer_add(b, "\r\n", 2);
}

static void
imap_search_reply(struct imap_session *s, struct imap_search_op *op)
{
	const struct imap_args_search *a = &s->cmd->u.search;
	uint64_t maxmodseq;
	uint32_t *hits;
	size_t n = imap_search_hits(op, s->cmd->uid, &hits, &maxmodseq), i;

	if (a->ret & IMAP_SEARCH_RET_SAVE) {
		/* RFC 5182: "$" keeps the UIDs of the result. */
		free(s->view->saved);
		s->view->saved = xcalloc(n + 1, sizeof *s->view->saved);
		s->view->nsaved = 0;
		for (i = 0; i < op->n; i++)
			if (op->match[i])
				s->view->saved[s->view->nsaved++] = op->uids[i];
	}
	if (a->esearch && (a->ret & ~IMAP_SEARCH_RET_SAVE) != 0)
		imap_search_esearch(s, a, hits, n, maxmodseq);
	else if (!a->esearch) {
		struct evbuffer *b = gw_conn_out(s->conn);

		evbuffer_add_printf(b, "* SEARCH");
		for (i = 0; i < n; i++)
			evbuffer_add_printf(b, " %u", hits[i]);
		if (n > 0 && a->has_modseq)
			evbuffer_add_printf(b, " (MODSEQ %llu)", (unsigned long long)maxmodseq);
		evbuffer_add(b, "\r\n", 2);
	}
	free(hits);
}

static void imap_search_pump(struct imap_search_op *op);

static void
imap_search_work_done(void *arg)
{
	struct imap_search_job *j = arg;
	struct imap_search_op *op = j->op;

	op->inflight--;
	op->finished++;
	if (j->rc != STORE_OK)
		op->rc = j->rc;
	free(j);
	imap_search_pump(op);
}

static void
imap_search_pump(struct imap_search_op *op)
{
	struct imap_session *s = op->s;
	bool alive = imap_session_alive(s);

	while (alive && op->dispatched < op->nbatches &&
	    op->inflight < gw_workers_count(s->ctx->workers)) {
		struct imap_search_job *j = xcalloc(1, sizeof *j);

		j->op = op;
		j->start = op->dispatched++ * IMAP_SEARCH_BATCH;
		j->n = SG_MIN((size_t)IMAP_SEARCH_BATCH, op->n - j->start);
		op->inflight++;
		gw_workers_submit(s->ctx->workers, imap_search_work, imap_search_work_done, j);
	}
	if (op->inflight > 0 || (alive && op->finished < op->nbatches))
		return;
	if (alive && op->rc != STORE_OK)
		imap_done(s, "NO", "[SERVERBUG] Some messages could not be searched");
	else if (alive) {
		imap_search_reply(s, op);
		imap_done(s, "OK", "%sSEARCH completed", s->cmd->uid ? "UID " : "");
	}
	imap_session_unref(s);
	imap_search_op_free(op);
}

static bool
imap_charset_ok(const struct imap_str *cs)
{
	return cs->s == NULL || sg_ascii_ieq(cs->s, cs->len, "UTF-8") ||
	    sg_ascii_ieq(cs->s, cs->len, "US-ASCII");
}

void
imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd)
{
	const struct imap_args_search *a = &cmd->u.search;
	struct imap_search_op *op;
	struct store_keywords kw;
	struct store_txn *t;
	enum store_rc rc = STORE_TEMPFAIL;
	const struct imap_view *v = s->view;

	if (!imap_charset_ok(&a->charset)) {
		/* INTEROP: a clean NO [BADCHARSET], not BAD. */
		imap_done(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return;
	}
	if ((t = store_read_begin(s->ctx->store, &rc)) != NULL) {
		rc = store_keywords_get(t, s->account.id, &kw);
		store_read_end(&t);
	}
	if (rc != STORE_OK) {
		imap_done_store_error(s, rc, "SEARCH");
		return;
	}
	if (a->has_modseq)
		s->condstore = true;
	op = xcalloc(1, sizeof *op);
	op->s = s;
	op->root = imap_sk_compile(op, a->root, &kw, v->n, v->n ? v->uids[v->n - 1] : 0);
	op->store = s->ctx->store;
	op->account_id = s->account.id;
	op->mailbox_id = v->mbox.id;
	op->sk = sec_sk_ref(s->sk);
	op->keyring = imap_acct_keyring(s->acct);
	op->n = v->n;
	op->uids = xcalloc(op->n + 1, sizeof *op->uids);
	if (op->n > 0)
		memcpy(op->uids, v->uids, op->n * sizeof *op->uids);
	op->nsaved = v->nsaved;
	op->saved = xcalloc(op->nsaved + 1, sizeof *op->saved);
	if (op->nsaved > 0)
		memcpy(op->saved, v->saved, op->nsaved * sizeof *op->saved);
	op->match = xcalloc(op->n + 1, 1);
	op->modseqs = xcalloc(op->n + 1, sizeof *op->modseqs);
	op->nbatches = (op->n + IMAP_SEARCH_BATCH - 1) / IMAP_SEARCH_BATCH;
	imap_session_ref(s);
	imap_wait(s);
	imap_search_pump(op);
}
