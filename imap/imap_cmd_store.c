/*
 * imap_cmd_store.c: STORE (with CONDSTORE's UNCHANGEDSINCE), COPY and MOVE
 * (UIDPLUS COPYUID). Each is one write operation; its untagged answers are
 * rendered when the commit is done.
 */
#include "imap/imap_private.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw_conn.h"

static uint32_t
imap_sys_to_store(unsigned sys)
{
	return ((sys & IMAP_FLAG_SEEN) ? STORE_F_SEEN : 0) |
	    ((sys & IMAP_FLAG_ANSWERED) ? STORE_F_ANSWERED : 0) |
	    ((sys & IMAP_FLAG_FLAGGED) ? STORE_F_FLAGGED : 0) |
	    ((sys & IMAP_FLAG_DELETED) ? STORE_F_DELETED : 0) |
	    ((sys & IMAP_FLAG_DRAFT) ? STORE_F_DRAFT : 0);
}

uint32_t
imap_flags_to_store(const struct imap_flags *f)
{
	return imap_sys_to_store(f->sys);
}

/* Keyword names to a mask, adding new ones to the account's table. */
enum store_rc
imap_keywords_mask(struct store_txn *t, uint64_t account_id, const struct imap_flags *f,
    uint64_t *mask_out)
{
	size_t i;

	*mask_out = 0;
	for (i = 0; i < f->nkeywords; i++) {
		unsigned idx;
		enum store_rc rc;

		if (f->keywords[i].len > STORE_KEYWORD_LEN_MAX)
			return STORE_INVALID;
		rc = store_keyword_index(t, account_id, f->keywords[i].s, &idx);
		if (rc != STORE_OK)
			return rc;
		*mask_out |= 1ull << idx;
	}
	return STORE_OK;
}

/* Render a sorted UID list as a sequence set ("1:3,7"). */
void
imap_out_uidset(struct evbuffer *b, const uint32_t *u, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j + 1 < n && u[j + 1] == u[j] + 1)
			j++;
		evbuffer_add_printf(b, "%s%u", i ? "," : "", u[i]);
		if (j > i)
			evbuffer_add_printf(b, ":%u", u[j]);
		i = j + 1;
	}
}

/* ---- STORE ---- */

struct imap_store_res {
	uint32_t	uid;
	uint32_t	flags;
	uint64_t	keywords;
	uint64_t	modseq;
};

struct imap_store_job {
	struct imap_session		*s;
	const struct imap_args_store	*a;
	uint64_t			 account_id, mailbox_id;
	uint32_t			*uids;
	size_t				 n;
	struct imap_store_res		*res;
	size_t				 nres;
	uint32_t			*modified;	/* UNCHANGEDSINCE failures */
	size_t				 nmodified;
	uint64_t			 modseq_before, modseq_after;
};

static void
imap_store_apply(const struct imap_args_store *a, uint32_t sys, uint64_t kw, uint32_t *flags,
    uint64_t *keywords)
{
	switch (a->op) {
	case IMAP_STORE_REPLACE:
		*flags = sys;
		*keywords = kw;
		break;
	case IMAP_STORE_ADD:
		*flags |= sys;
		*keywords |= kw;
		break;
	case IMAP_STORE_REMOVE:
		*flags &= ~sys;
		*keywords &= ~kw;
		break;
	}
}

static enum store_rc
imap_store_op(struct store_txn *t, void *arg)
{
	struct imap_store_job *j = arg;
	uint32_t sys = imap_flags_to_store(&j->a->flags);
	struct store_mailbox mb;
	struct store_msg m;
	uint64_t kw;
	enum store_rc rc;
	size_t i;

	j->nres = j->nmodified = 0;
	if ((rc = store_mailbox_get_id(t, j->mailbox_id, &mb)) != STORE_OK ||
	    (rc = imap_keywords_mask(t, j->account_id, &j->a->flags, &kw)) != STORE_OK)
		return rc;
	j->modseq_before = mb.highestmodseq;
	for (i = 0; i < j->n; i++) {
		uint32_t flags;
		uint64_t keywords;

		if ((rc = store_msg_get(t, j->mailbox_id, j->uids[i], &m)) == STORE_NOTFOUND)
			continue;
		if (rc != STORE_OK)
			return rc;
		flags = m.flags;
		keywords = m.keywords;
		imap_store_apply(j->a, sys, kw, &flags, &keywords);
		/* Every message has a modseq >= 1, so UNCHANGEDSINCE 0 always fails. */
		if (j->a->unchangedsince_set && j->a->unchangedsince == 0)
			rc = STORE_CHANGED;
		else
			rc = store_msg_set_flags(t, j->mailbox_id, m.uid, flags, keywords,
			    j->a->unchangedsince_set ? j->a->unchangedsince : 0, &m);
		if (rc == STORE_CHANGED) {
			j->modified[j->nmodified++] = m.uid;
			continue;
		}
		if (rc != STORE_OK)
			return rc;
		j->res[j->nres++] = (struct imap_store_res){ m.uid, m.flags, m.keywords, m.modseq };
	}
	if ((rc = store_mailbox_get_id(t, j->mailbox_id, &mb)) != STORE_OK)
		return rc;
	j->modseq_after = mb.highestmodseq;
	return STORE_OK;
}

static void
imap_store_reply(struct imap_session *s, struct imap_store_job *j)
{
	struct evbuffer *b = gw_conn_out(s->conn);
	struct store_keywords kw;
	struct store_txn *t;
	enum store_rc rc;
	size_t i;

	if (j->a->silent && !s->condstore)
		return;
	if ((t = store_read_begin(s->ctx->store, &rc)) == NULL)
		return;
	rc = store_keywords_get(t, s->account.id, &kw);
	store_read_end(&t);
	if (rc != STORE_OK)
		return;
	for (i = 0; i < j->nres; i++) {
		uint32_t seq = imap_view_seq(s->view, j->res[i].uid);

		if (seq == 0)
			continue;
		/* RFC 7162 3.2: .SILENT still reports the new MODSEQ. */
		evbuffer_add_printf(b, "* %u FETCH (UID %u", seq, j->res[i].uid);
		if (!j->a->silent) {
			evbuffer_add(b, " FLAGS ", 7);
			imap_out_flags(b, j->res[i].flags, j->res[i].keywords, &kw);
		}
		if (s->condstore)
			evbuffer_add_printf(b, " MODSEQ (%llu)",
			    (unsigned long long)j->res[i].modseq);
		evbuffer_add(b, ")\r\n", 3);
	}
}

static void
imap_store_done(void *arg, enum store_rc rc)
{
	struct imap_store_job *j = arg;
	struct imap_session *s = j->s;

	if (imap_session_alive(s) && rc != STORE_OK)
		imap_done_store_error(s, rc, "STORE");
	else if (imap_session_alive(s)) {
		imap_store_reply(s, j);
		if (j->modseq_before == s->view->modseq)
			s->view->modseq = j->modseq_after;	/* our changes: told above */
		if (j->nmodified > 0) {
			struct evbuffer *b = evbuffer_new();
			size_t len, i;

			if (!s->cmd->uid)	/* [MODIFIED] speaks the command's numbers */
				for (i = 0; i < j->nmodified; i++)
					j->modified[i] = imap_view_seq(s->view, j->modified[i]);
			imap_out_uidset(b, j->modified, j->nmodified);
			len = evbuffer_get_length(b);
			imap_done(s, "OK", "[MODIFIED %.*s] Conditional STORE failed",
			    (int)len, (const char *)evbuffer_pullup(b, -1));
			evbuffer_free(b);
		} else
			imap_done(s, "OK", "STORE completed");
	}
	imap_session_unref(s);
	free(j->uids);
	free(j->res);
	free(j->modified);
	free(j);
}

void
imap_cmd_store(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_store_job *j;

	if (s->view->readonly) {
		imap_done(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->s = s;
	j->a = &cmd->u.store;
	j->account_id = s->account.id;
	j->mailbox_id = s->view->mbox.id;
	j->n = imap_view_resolve(s, j->a->set, cmd->uid, &j->uids);
	j->res = xcalloc(j->n + 1, sizeof *j->res);
	j->modified = xcalloc(j->n + 1, sizeof *j->modified);
	if (j->a->unchangedsince_set)
		s->condstore = true;
	imap_session_ref(s);
	imap_wait(s);
	store_write(s->ctx->store, imap_store_op, imap_store_done, j);
}

/* ---- COPY and MOVE (RFC 6851) ---- */

struct imap_copy_job {
	struct imap_session	*s;
	bool			 move;
	uint64_t		 account_id, mailbox_id;
	char			 dest[IMAP_NAME_MAX];
	uint32_t		*uids, *newuids;
	size_t			 n, ncopied;
	uint32_t		 dest_uidvalidity;
	uint32_t		*src;		/* the UIDs actually copied */
};

static enum store_rc
imap_copy_op(struct store_txn *t, void *arg)
{
	struct imap_copy_job *j = arg;
	struct store_mailbox dst;
	struct store_msg m;
	enum store_rc rc;
	size_t i;

	j->ncopied = 0;
	if ((rc = store_mailbox_get(t, j->account_id, j->dest, &dst)) != STORE_OK)
		return rc;
	j->dest_uidvalidity = dst.uidvalidity;
	for (i = 0; i < j->n; i++) {
		rc = store_msg_copy(t, j->mailbox_id, j->uids[i], dst.id, &m);
		if (rc == STORE_NOTFOUND)
			continue;	/* expunged meanwhile */
		if (rc == STORE_OK && j->move)
			rc = store_msg_expunge(t, j->mailbox_id, j->uids[i]);
		if (rc != STORE_OK)
			return rc;
		j->src[j->ncopied] = j->uids[i];
		j->newuids[j->ncopied++] = m.uid;
	}
	return STORE_OK;
}

static void
imap_copyuid(struct imap_copy_job *j, struct evbuffer *b)
{
	evbuffer_add_printf(b, "[COPYUID %u ", j->dest_uidvalidity);
	imap_out_uidset(b, j->src, j->ncopied);
	evbuffer_add(b, " ", 1);
	imap_out_uidset(b, j->newuids, j->ncopied);
	evbuffer_add(b, "]", 1);
}

static void
imap_copy_reply(struct imap_session *s, struct imap_copy_job *j)
{
	struct evbuffer *code = evbuffer_new();
	size_t len;
	const char *p;

	if (j->ncopied > 0)
		imap_copyuid(j, code);
	len = evbuffer_get_length(code);
	p = (const char *)evbuffer_pullup(code, -1);
	if (j->move) {
		/* RFC 6851 4.3: COPYUID in an untagged OK before the EXPUNGEs. */
		if (len > 0)
			imap_printf(s, "* OK %.*s Moved\r\n", (int)len, p);
		imap_done(s, "OK", "MOVE completed");
	} else
		imap_done(s, "OK", "%.*s%sCOPY completed", (int)len, p, len ? " " : "");
	evbuffer_free(code);
}

static void
imap_copy_done(void *arg, enum store_rc rc)
{
	struct imap_copy_job *j = arg;
	struct imap_session *s = j->s;

	if (imap_session_alive(s)) {
		if (rc == STORE_NOTFOUND)
			imap_done(s, "NO", "[TRYCREATE] No such mailbox");
		else if (rc != STORE_OK)
			imap_done_store_error(s, rc, j->move ? "MOVE" : "COPY");
		else
			imap_copy_reply(s, j);
	}
	imap_session_unref(s);
	free(j->uids);
	free(j->newuids);
	free(j->src);
	free(j);
}

void
imap_cmd_copy(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_copy_job *j = xcalloc(1, sizeof *j);

	j->s = s;
	j->move = cmd->id == IMAP_CMD_MOVE;
	if (j->move && s->view->readonly) {
		free(j);
		imap_done(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (imap_mailbox_decode(s, &cmd->u.copy.mailbox, j->dest, sizeof j->dest) != 0) {
		free(j);
		imap_done(s, "NO", "[CANNOT] Invalid mailbox name");
		return;
	}
	j->account_id = s->account.id;
	j->mailbox_id = s->view->mbox.id;
	j->n = imap_view_resolve(s, cmd->u.copy.set, cmd->uid, &j->uids);
	j->newuids = xcalloc(j->n + 1, sizeof *j->newuids);
	j->src = xcalloc(j->n + 1, sizeof *j->src);
	imap_session_ref(s);
	imap_wait(s);
	store_write(s->ctx->store, imap_copy_op, imap_copy_done, j);
}
