/*
 * imap_cmd_select.c: SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, and the
 * synchronisation of a selected mailbox with what other sessions and ingest
 * committed (untagged EXISTS, FETCH and EXPUNGE).
 */
#include "imap/imap_private.h"

#include "crypto/sec.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"

static void
imap_out_permflags(struct evbuffer *b, const struct store_keywords *kw, bool perm)
{
	size_t i;

	evbuffer_add_printf(b, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (i = 0; i < kw->n; i++)
		evbuffer_add_printf(b, " %s", kw->names[i]);
	evbuffer_add_printf(b, perm ? " \\*)" : ")");
}

static void
imap_select_reply(struct imap_session *s, const struct store_keywords *kw, uint32_t unseen)
{
	struct evbuffer *b = gw_conn_out(s->conn);
	const struct imap_view *v = s->view;

	evbuffer_add_printf(b, "* FLAGS ");
	imap_out_permflags(b, kw, false);
	evbuffer_add_printf(b, "\r\n* OK [PERMANENTFLAGS ");
	if (v->readonly)
		evbuffer_add_printf(b, "()");
	else
		imap_out_permflags(b, kw, true);
	evbuffer_add_printf(b, "] Flags permitted\r\n* %u EXISTS\r\n* 0 RECENT\r\n", v->n);
	if (unseen != 0)
		evbuffer_add_printf(b, "* OK [UNSEEN %u] First unseen\r\n", unseen);
	evbuffer_add_printf(b, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n"
	    "* OK [HIGHESTMODSEQ %llu] Highest\r\n", v->mbox.uidvalidity, v->mbox.uidnext,
	    (unsigned long long)v->mbox.highestmodseq);
}

/* SELECT and EXAMINE end here with the mailbox's state u (taken). */
static void
imap_select_finish(struct imap_session *s, const struct store_mailbox *m,
    struct imap_uids *u, const struct store_keywords *kw, bool examine)
{
	uint32_t unseen = u->first_unseen;

	s->view = imap_view_new(s->server, m, examine);
	imap_view_set_state(s->view, u);
	imap_uids_release(s->server, &u);
	imap_select_reply(s, kw, unseen);
	imap_set_state(s, IMAP_ST_SELECTED);
	imap_done(s, "OK", "[%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
	    examine ? "EXAMINE" : "SELECT");
}

struct imap_select_job {
	struct store_keywords	kw;
	bool			examine;
};

static void
imap_select_scanned(struct imap_session *s, struct imap_uids *u,
    const struct store_mailbox *m, enum store_rc rc, void *arg)
{
	struct imap_select_job *j = arg;

	if (!imap_session_alive(s))
		imap_uids_release(s->server, &u);
	else if (u == NULL)
		imap_done_store_error(s, rc, "SELECT");
	else
		imap_select_finish(s, m, u, &j->kw, j->examine);
	free(j);
}

/*
 * The mailbox's record and keywords are read here; its state is the one
 * another session published, or is read on a worker (every message's UID,
 * flags and modseq: for a large mailbox many pages, maybe cold).
 */
static void
imap_select_open(struct imap_session *s, const char *name, bool examine)
{
	struct imap_select_job *j = xcalloc(1, sizeof *j);
	struct imap_uids *u;
	struct store_mailbox m;
	struct store_txn *t;
	enum store_rc rc = STORE_TEMPFAIL;

	j->examine = examine;
	if ((t = store_read_begin(s->ctx->store, &rc)) != NULL) {
		rc = store_mailbox_get(t, s->account.id, name, &m);
		if (rc == STORE_OK)
			rc = store_keywords_get(t, s->account.id, &j->kw);
		store_read_end(&t);
	}
	if (rc != STORE_OK) {
		free(j);
		imap_done_store_error(s, rc, "SELECT");
	} else if ((u = imap_uids_cached(s->server, &m)) != NULL) {
		imap_select_finish(s, &m, u, &j->kw, j->examine);
		free(j);
	} else {
		imap_wait(s);
		imap_uids_scan_async(s, &m, imap_select_scanned, j);
	}
}

void
imap_cmd_select(struct imap_session *s, struct imap_cmd *cmd)
{
	const struct imap_args_select *a = &cmd->u.select;
	bool examine = cmd->id == IMAP_CMD_EXAMINE;
	struct imap_view *prev = s->view;
	char name[IMAP_NAME_MAX];

	/* RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected. The
	 * previous view goes only after the lookup: selecting the same mailbox
	 * again then finds its state still published. */
	if (prev != NULL) {
		s->view = NULL;
		imap_set_state(s, IMAP_ST_AUTH);
		imap_printf(s, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (a->condstore)
		s->condstore = true;
	if (imap_mailbox_decode(s, &a->mailbox, name, sizeof name) != 0)
		imap_done(s, "NO", "[CANNOT] Invalid mailbox name");
	else
		imap_select_open(s, name, examine);
	imap_view_free(&prev);
}

void
imap_cmd_unselect(struct imap_session *s, struct imap_cmd *cmd)
{
	(void)cmd;
	imap_view_free(&s->view);
	imap_set_state(s, IMAP_ST_AUTH);
	imap_done(s, "OK", "UNSELECT completed");
}

/* ---- expunge: CLOSE, EXPUNGE, UID EXPUNGE ---- */

struct imap_expunge_job {
	struct imap_session	*s;
	uint64_t		 mailbox_id;
	uint32_t		*uids;		/* candidates; only \Deleted ones go */
	size_t			 n;
	unsigned		 expunged;
	uint64_t		*blobs;		/* of the expunged, [expunged] */
	bool			 close;		/* CLOSE: unselect afterwards, silently */
};

static enum store_rc
imap_expunge_op(struct store_txn *t, void *arg)
{
	struct imap_expunge_job *j = arg;
	struct store_msg m;
	enum store_rc rc;
	size_t i;

	j->expunged = 0;
	for (i = 0; i < j->n; i++) {
		rc = store_msg_get(t, j->mailbox_id, j->uids[i], &m);
		if (rc == STORE_NOTFOUND || (rc == STORE_OK && !(m.flags & STORE_F_DELETED)))
			continue;
		if (rc == STORE_OK)
			rc = store_msg_expunge(t, j->mailbox_id, j->uids[i]);
		if (rc != STORE_OK)
			return rc;
		j->blobs[j->expunged++] = m.blob_id;
	}
	return STORE_OK;
}

/* The account's sessions need no key for what is gone (a copy elsewhere
 * opens its key again on first use). */
static void
imap_expunge_forget_keys(struct imap_session *s, const struct imap_expunge_job *j)
{
	struct sec_keyring *r = imap_acct_keyring(s->acct);
	unsigned i;

	for (i = 0; i < j->expunged; i++)
		sec_keyring_del(r, j->blobs[i]);
}

static void
imap_expunge_done(void *arg, enum store_rc rc)
{
	struct imap_expunge_job *j = arg;
	struct imap_session *s = j->s;

	if (imap_session_alive(s)) {
		if (rc == STORE_OK)
			imap_expunge_forget_keys(s, j);
		if (rc != STORE_OK)
			imap_done_store_error(s, rc, "EXPUNGE");
		else if (j->close) {
			imap_view_free(&s->view);
			imap_set_state(s, IMAP_ST_AUTH);
			imap_done(s, "OK", "CLOSE completed");
		} else
			imap_done(s, "OK", "EXPUNGE completed");
	}
	imap_session_unref(s);
	free(j->uids);
	free(j->blobs);
	free(j);
}

static void
imap_expunge_start(struct imap_session *s, uint32_t *uids, size_t n, bool close)
{
	struct imap_expunge_job *j = xcalloc(1, sizeof *j);

	j->s = s;
	j->mailbox_id = s->view->mbox.id;
	j->uids = uids;
	j->n = n;
	j->blobs = xcalloc(n + 1, sizeof *j->blobs);
	j->close = close;
	imap_session_ref(s);
	imap_wait(s);
	store_write(s->ctx->store, imap_expunge_op, imap_expunge_done, j);
}

void
imap_cmd_close(struct imap_session *s, struct imap_cmd *cmd)
{
	uint32_t *uids;

	if (s->view->readonly) {
		imap_cmd_unselect(s, cmd);
		return;
	}
	uids = xcalloc((size_t)s->view->n + 1, sizeof *uids);
	if (s->view->n > 0)
		memcpy(uids, s->view->uids, (size_t)s->view->n * sizeof *uids);
	/* The view goes before the reply: CLOSE sends no untagged EXPUNGE. */
	imap_expunge_start(s, uids, s->view->n, true);
}

void
imap_cmd_expunge(struct imap_session *s, struct imap_cmd *cmd)
{
	uint32_t *uids = NULL;
	size_t n;

	if (s->view->readonly) {
		imap_done(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (cmd->uid)
		n = imap_view_resolve(s, cmd->u.expunge.set, true, &uids);
	else {
		n = s->view->n;
		uids = xcalloc(n + 1, sizeof *uids);
		if (n > 0)
			memcpy(uids, s->view->uids, n * sizeof *uids);
	}
	imap_expunge_start(s, uids, n, false);
}

/* ---- synchronisation ---- */

/* EXPUNGE the view's UIDs that are gone, highest sequence number first so
 * that each number is still right when the client reads it. Returns how
 * many are gone. */
static size_t
imap_sync_expunges(struct imap_session *s, const struct imap_uids *now, bool allow)
{
	const struct imap_view *v = s->view;
	size_t i = v->n, j = now->n, gone = 0;

	while (i > 0) {
		uint32_t uid = v->uids[i - 1];

		while (j > 0 && now->v[j - 1] > uid)
			j--;
		if (j == 0 || now->v[j - 1] != uid) {
			gone++;
			if (allow)
				imap_printf(s, "* %zu EXPUNGE\r\n", i);
		}
		i--;
	}
	return gone;
}

/*
 * The view after a sync: when every expunge was announced it lists the
 * mailbox exactly as it is now (new UIDs are always above the old ones), and
 * shares that list with the other sessions at the same state; otherwise it
 * keeps the expunged UIDs and gains the new ones, privately.
 */
static void
imap_sync_view(struct imap_view *v, struct imap_uids *now, size_t gone, bool allow,
    uint32_t last)
{
	uint32_t *u;
	size_t i, n;

	if (allow || gone == 0) {
		imap_view_set_state(v, now);
		return;
	}
	u = xcalloc((size_t)v->n + now->n + 1, sizeof *u);
	memcpy(u, v->uids, (size_t)v->n * sizeof *u);
	for (n = v->n, i = 0; i < now->n; i++)
		if (now->v[i] > last)
			u[n++] = now->v[i];
	imap_view_set_private(v, u, (uint32_t)n);
	free(u);
}

/* FETCH FLAGS for the messages the view had that changed since `since`. */
static void
imap_sync_flags(struct imap_session *s, struct store_txn *t, const struct imap_uids *now,
    uint64_t since, uint32_t last)
{
	struct evbuffer *b = gw_conn_out(s->conn);
	struct store_keywords *kw = NULL;
	size_t i;

	for (i = 0; i < now->n && now->v[i] <= last; i++) {
		const struct imap_umeta *mt = &now->meta[i];
		uint32_t seq;

		if (mt->modseq <= since || (seq = imap_view_seq(s->view, now->v[i])) == 0)
			continue;
		if (kw == NULL) {
			kw = xcalloc(1, sizeof *kw);
			if (store_keywords_get(t, s->account.id, kw) != STORE_OK)
				break;
		}
		evbuffer_add_printf(b, "* %u FETCH (UID %u FLAGS ", seq, now->v[i]);
		imap_out_flags(b, mt->flags, mt->keywords, kw);
		if (s->condstore)
			evbuffer_add_printf(b, " MODSEQ (%llu)", (unsigned long long)mt->modseq);
		evbuffer_add(b, ")\r\n", 3);
	}
	free(kw);
}

static void
imap_sync_apply(struct imap_session *s, struct store_txn *t, struct imap_uids *now,
    bool allow_expunge)
{
	struct imap_view *v = s->view;
	uint32_t last = v->n ? v->uids[v->n - 1] : 0, before;
	uint64_t since = v->modseq;
	size_t gone;

	gone = imap_sync_expunges(s, now, allow_expunge);
	v->expunge_pending = gone > 0 && !allow_expunge;
	before = v->n - (allow_expunge ? (uint32_t)gone : 0);
	v->modseq = now->modseq;
	imap_sync_view(v, now, gone, allow_expunge, last);
	if (v->n != before)
		imap_printf(s, "* %u EXISTS\r\n", v->n);
	imap_sync_flags(s, t, now, since, last);
}

static void
imap_sync_close(struct imap_session *s)
{
	imap_printf(s, "* BYE The selected mailbox was deleted\r\n");
	gw_conn_close(s->conn);
}

/* Announce state now of the mailbox as m (read with it); t for the
 * keyword names. */
static void
imap_sync_to(struct imap_session *s, struct store_txn *t, const struct store_mailbox *m,
    struct imap_uids *now, bool allow_expunge)
{
	imap_view_set_mbox(s->view, m);
	imap_sync_apply(s, t, now, allow_expunge);
}

/*
 * What changed since the view's state: nothing (false), or a state another
 * session published, announced at once (false), or one to read on a worker
 * (true, *mp the mailbox as read here: a few pages).
 */
static bool
imap_sync_check(struct imap_session *s, bool allow_expunge, struct store_mailbox *mp)
{
	struct imap_view *v = s->view;
	struct imap_uids *now = NULL;
	struct store_txn *t;
	enum store_rc rc;
	bool changed;

	if (v == NULL || s->closed || (t = store_read_begin(s->ctx->store, &rc)) == NULL)
		return false;
	rc = store_mailbox_get_id(t, v->mbox.id, mp);
	changed = rc == STORE_OK && (mp->highestmodseq != v->modseq ||
	    (v->expunge_pending && allow_expunge));
	if (changed && (now = imap_uids_cached(s->server, mp)) != NULL)
		imap_sync_to(s, t, mp, now, allow_expunge);
	store_read_end(&t);
	if (rc == STORE_NOTFOUND)
		imap_sync_close(s);
	if (now == NULL)
		return changed;
	imap_uids_release(s->server, &now);
	return false;
}

/* Expunges may be announced but for the reply to FETCH, STORE or SEARCH
 * that waits for this sync. */
static bool
imap_sync_allow(const struct imap_session *s)
{
	return s->done_line == NULL || s->done_allow;
}

/* A state read on a worker, announced. */
static void
imap_sync_announce(struct imap_session *s, const struct store_mailbox *m,
    struct imap_uids *now)
{
	struct store_txn *t;
	enum store_rc rc;

	if ((t = store_read_begin(s->ctx->store, &rc)) == NULL)
		return;
	imap_sync_to(s, t, m, now, imap_sync_allow(s));
	store_read_end(&t);
}

static void imap_sync_scanned(struct imap_session *s, struct imap_uids *u,
    const struct store_mailbox *m, enum store_rc rc, void *arg);

/* Check again, and read on a worker if need be; true if it went there. */
static bool
imap_sync_start(struct imap_session *s)
{
	struct store_mailbox m;

	if (!imap_sync_check(s, imap_sync_allow(s), &m))
		return false;
	s->sync_busy = true;
	imap_uids_scan_async(s, &m, imap_sync_scanned, NULL);
	return true;
}

static void
imap_sync_scanned(struct imap_session *s, struct imap_uids *u, const struct store_mailbox *m,
    enum store_rc rc, void *arg)
{
	bool alive = imap_session_alive(s);

	(void)arg;
	s->sync_busy = false;
	/* The view cannot change meanwhile: the session waits for this. */
	if (alive && s->view != NULL && s->view->mbox.id == m->id) {
		if (rc == STORE_NOTFOUND)
			imap_sync_close(s);
		else if (u != NULL)
			imap_sync_announce(s, m, u);
	}
	imap_uids_release(s->server, &u);
	if (!alive)
		return;
	if (s->sync_again && !s->closed) {
		s->sync_again = false;
		if (imap_sync_start(s))
			return;
	}
	if (s->done_line != NULL)
		imap_done_resume(s);
}

void
imap_sync(struct imap_session *s)
{
	if (s->sync_busy)
		s->sync_again = true;
	else
		imap_sync_start(s);
}

bool
imap_sync_then(struct imap_session *s, bool allow_expunge, char *line)
{
	s->done_line = line;
	s->done_allow = allow_expunge;
	if (s->sync_busy) {
		s->sync_again = true;
		return true;
	}
	if (imap_sync_start(s))
		return true;
	s->done_line = NULL;
	return false;
}
