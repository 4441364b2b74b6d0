/*
 * imap_cmd_fetch.c: FETCH and UID FETCH. The message set is resolved on
 * the loop; non-PEEK body fetches first set \Seen in one write; then the
 * set is cut into batches rendered on the workers (several at once: a cold
 * listing spends most of its time opening sealed keys) and the results are
 * appended in order. A full output buffer pauses the rendering until the
 * client reads (imap_fetch_drained).
 */
#include "imap/imap_fetch.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_worker.h"

struct imap_fetch_job;

struct imap_fetch_op {
	struct imap_session		 *s;
	struct imap_fetch_env		  env;
	uint32_t			 *uids, *seqs;
	size_t				  n;
	size_t				  batch;	/* messages per batch */
	size_t				  next;		/* first one not dispatched */
	struct imap_fetch_job		 *head, *tail;	/* in flight, in output order */
	unsigned			  inflight;
	enum store_rc			  rc;
	uint32_t			 *seen;		/* \Seen set by this FETCH */
	size_t				  nseen;
	uint64_t			  modseq_before, modseq_after;
	bool				  seen_pending;	/* the \Seen write runs */
};

/*
 * A batch of consecutive messages. A worker stops rendering once the batch
 * holds IMAP_FETCH_BATCH_BYTES (after at least one message), so that whole
 * bodies never pile up: the rest of the range is rendered by the same job
 * again, still first in line, before anything after it is emitted.
 */
struct imap_fetch_job {
	struct imap_fetch_op	*op;
	struct imap_fetch_job	*next;
	bool			 done;
	bool			 parked;	/* the rest of the range waits for the client */
	struct imap_fetch_batch	 b;
};

static void imap_fetch_pump(struct imap_fetch_op *op);

static void
imap_fetch_op_free(struct imap_fetch_op *op)
{
	struct imap_fetch_job *j, *next;

	for (j = op->head; j != NULL; j = next) {
		next = j->next;
		if (j->b.out != NULL)
			evbuffer_free(j->b.out);
		free(j);
	}
	sec_sk_unref(&op->env.sk);
	free(op->uids);
	free(op->seqs);
	free(op->seen);
	free(op);
}

static void
imap_fetch_finish(struct imap_fetch_op *op)
{
	struct imap_session *s = op->s;

	s->fetch = NULL;
	if (imap_session_alive(s)) {
		if (s->view != NULL && op->modseq_before == s->view->modseq && op->modseq_after)
			s->view->modseq = op->modseq_after;	/* our own \Seen: told already */
		if (op->rc != STORE_OK)
			imap_done(s, "NO", "[SERVERBUG] Some messages could not be read");
		else
			imap_done(s, "OK", "%sFETCH completed", s->cmd->uid ? "UID " : "");
	}
	imap_session_unref(s);
	imap_fetch_op_free(op);
}

static void
imap_fetch_work(void *arg)
{
	struct imap_fetch_job *j = arg;

	imap_fetch_render(&j->b);
}

static void
imap_fetch_work_done(void *arg)
{
	struct imap_fetch_job *j = arg;
	struct imap_fetch_op *op = j->op;

	j->done = true;
	op->inflight--;
	if (j->b.rc != STORE_OK)
		op->rc = j->b.rc;
	imap_fetch_pump(op);
}

static void
imap_fetch_submit(struct imap_fetch_op *op, struct imap_fetch_job *j)
{
	j->done = false;
	op->inflight++;
	gw_workers_submit(op->s->ctx->workers, imap_fetch_work, imap_fetch_work_done, j);
}

static void
imap_fetch_dispatch(struct imap_fetch_op *op)
{
	struct imap_fetch_job *j = xcalloc(1, sizeof *j);

	j->op = op;
	j->b.env = &op->env;
	j->b.uids = op->uids + op->next;
	j->b.seqs = op->seqs + op->next;
	j->b.n = SG_MIN(op->batch, op->n - op->next);
	j->b.budget = IMAP_FETCH_BATCH_BYTES;
	op->next += j->b.n;
	if (op->tail != NULL)
		op->tail->next = j;
	else
		op->head = j;
	op->tail = j;
	imap_fetch_submit(op, j);
}

/*
 * Emit finished batches in order; render more only while the client keeps
 * up (the output below GW_CONN_OUT_HIGH): that goes for the rest of a batch
 * that stopped at its byte budget too, which waits first in line, parked.
 */
static void
imap_fetch_pump(struct imap_fetch_op *op)
{
	struct imap_session *s = op->s;
	bool alive = imap_session_alive(s);
	unsigned par = gw_workers_count(s->ctx->workers);
	struct imap_fetch_job *j;

	if (op->seen_pending)
		return;
	while ((j = op->head) != NULL && j->done) {
		if (alive)
			evbuffer_add_buffer(gw_conn_out(s->conn), j->b.out);
		evbuffer_free(j->b.out);
		j->b.out = NULL;
		if (alive && j->b.rendered < j->b.n && j->b.rc == STORE_OK) {
			j->b.uids += j->b.rendered;
			j->b.seqs += j->b.rendered;
			j->b.n -= j->b.rendered;
			j->done = false;
			j->parked = true;
			break;
		}
		op->head = j->next;
		if (op->head == NULL)
			op->tail = NULL;
		free(j);
	}
	if (!alive || (op->head == NULL && op->next == op->n)) {
		if (op->inflight == 0)
			imap_fetch_finish(op);
		return;		/* else when the last batch comes back */
	}
	while (op->inflight < par && gw_conn_out_len(s->conn) < GW_CONN_OUT_HIGH) {
		if (op->head != NULL && op->head->parked) {
			op->head->parked = false;
			imap_fetch_submit(op, op->head);
		} else if (op->next < op->n)
			imap_fetch_dispatch(op);
		else
			break;
	}
}

void
imap_fetch_drained(struct imap_session *s)
{
	if (s->fetch != NULL)
		imap_fetch_pump(s->fetch);
}

void
imap_fetch_abort(struct imap_session *s)
{
	if (s->fetch != NULL)
		imap_fetch_pump(s->fetch);
}

/* ---- \Seen for non-PEEK body fetches (RFC 3501 6.4.5) ---- */

static enum store_rc
imap_fetch_seen_op(struct store_txn *t, void *arg)
{
	struct imap_fetch_op *op = arg;
	struct store_mailbox mb;
	struct store_msg m;
	enum store_rc rc;
	size_t i;

	op->nseen = 0;
	if ((rc = store_mailbox_get_id(t, op->env.mailbox_id, &mb)) != STORE_OK)
		return rc;
	op->modseq_before = mb.highestmodseq;
	for (i = 0; i < op->n; i++) {
		rc = store_msg_get(t, op->env.mailbox_id, op->uids[i], &m);
		if (rc == STORE_NOTFOUND || (rc == STORE_OK && (m.flags & STORE_F_SEEN)))
			continue;
		if (rc == STORE_OK)
			rc = store_msg_set_flags(t, op->env.mailbox_id, m.uid,
			    m.flags | STORE_F_SEEN, m.keywords, 0, &m);
		if (rc != STORE_OK)
			return rc;
		op->seen[op->nseen++] = m.uid;
	}
	if ((rc = store_mailbox_get_id(t, op->env.mailbox_id, &mb)) != STORE_OK)
		return rc;
	op->modseq_after = mb.highestmodseq;
	return STORE_OK;
}

static void
imap_fetch_seen_done(void *arg, enum store_rc rc)
{
	struct imap_fetch_op *op = arg;

	op->seen_pending = false;
	if (rc != STORE_OK) {
		op->nseen = 0;
		op->modseq_after = 0;
		op->rc = rc;
	}
	op->env.seen_set = op->seen;
	op->env.nseen_set = op->nseen;
	op->env.flags_forced = op->nseen > 0;
	imap_fetch_pump(op);
}

static bool
imap_fetch_refuse(struct imap_session *s, const struct imap_args_fetch *a)
{
	size_t i;

	for (i = 0; i < a->natts; i++)
		if (a->atts[i].type == IMAP_FATT_BINARY || a->atts[i].type == IMAP_FATT_BINARY_SIZE) {
			imap_done(s, "BAD", "BINARY is not supported");
			return true;
		}
	if (a->vanished) {
		imap_done(s, "BAD", "VANISHED needs QRESYNC, which is not enabled");
		return true;
	}
	return false;
}

/* Attributes that may carry whole bodies get small batches, so that one
 * batch never holds many large messages in memory at once. */
static bool
imap_fetch_heavy(const struct imap_args_fetch *a)
{
	size_t i;

	for (i = 0; i < a->natts; i++) {
		const struct imap_fetch_att *t = &a->atts[i];

		if (t->type == IMAP_FATT_RFC822 || t->type == IMAP_FATT_RFC822_TEXT)
			return true;
		if (t->type == IMAP_FATT_BODY_SECTION && (t->section.text == IMAP_SECTION_ALL ||
		    t->section.text == IMAP_SECTION_TEXT))
			return true;
	}
	return false;
}

void
imap_cmd_fetch(struct imap_session *s, struct imap_cmd *cmd)
{
	const struct imap_args_fetch *a = &cmd->u.fetch;
	struct imap_fetch_op *op;

	if (imap_fetch_refuse(s, a))
		return;
	op = xcalloc(1, sizeof *op);
	op->s = s;
	op->n = imap_view_resolve(s, a->set, cmd->uid, &op->uids);
	op->seqs = xcalloc(op->n + 1, sizeof *op->seqs);
	imap_view_seqs(s->view, op->uids, op->n, op->seqs);
	if (a->changedsince_set)
		s->condstore = true;
	op->env = (struct imap_fetch_env){ .store = s->ctx->store, .account_id = s->account.id,
		.mailbox_id = s->view->mbox.id, .sk = sec_sk_ref(s->sk), .acct = s->acct,
		.args = a, .modseq = a->changedsince_set };
	op->batch = imap_fetch_heavy(a) ? 8 : IMAP_FETCH_BATCH;
	op->seen = xcalloc(op->n + 1, sizeof *op->seen);
	s->fetch = op;
	imap_session_ref(s);
	imap_wait(s);
	if (!s->view->readonly && op->n > 0 && imap_fetch_needs_seen(a)) {
		op->seen_pending = true;
		store_write(s->ctx->store, imap_fetch_seen_op, imap_fetch_seen_done, op);
	}
	else
		imap_fetch_pump(op);
}
