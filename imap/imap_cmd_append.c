/*
 * imap_cmd_append.c: APPEND and MULTIAPPEND (RFC 3502) with UIDPLUS's
 * APPENDUID. The parser announces each message literal; the session checks
 * the target before the client sends it (a synchronizing literal to a
 * missing mailbox is refused with NO [TRYCREATE] before any byte travels)
 * and then takes the octets straight from the input. When the command is
 * complete, a worker summarizes and seals every message to the user's own
 * key, and one write appends them all.
 *
 * An appended message adds no correspondents: otherwise a user could
 * APPEND a made-up message naming a stranger and then write to them.
 */
#include "imap/imap_private.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"
#include "gateway/gw_worker.h"
#include "mime/mime.h"

struct imap_amsg {
	uint8_t		*data;		/* plaintext, wiped when freed */
	size_t		 len, got;
	uint32_t	 flags;
	char		**keywords;
	size_t		 nkeywords;
	int64_t		 date;
	/* sealed by the worker */
	struct sec_buf	 msg_ct, sum_ct;
	uint8_t		 sealed[SEC_SEALED_KEY_BYTES];
	uint32_t	 uid;
};

struct imap_append_job {
	struct imap_session	*s;
	char			 mailbox[IMAP_NAME_MAX];
	uint64_t		 account_id;
	uint8_t			 pk[SEC_KEY_BYTES];
	struct imap_amsg	*msgs;
	size_t			 n;
	uint32_t		 uidvalidity;
	bool			 refused;
};

static void
imap_amsg_clear(struct imap_amsg *m)
{
	size_t i;

	if (m->data != NULL) {
		sec_wipe(m->data, m->len);
		free(m->data);
	}
	for (i = 0; i < m->nkeywords; i++)
		free(m->keywords[i]);
	free(m->keywords);
	sec_buf_free(&m->msg_ct);
	sec_buf_free(&m->sum_ct);
	memset(m, 0, sizeof *m);
}

static void
imap_append_job_free(struct imap_append_job *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		imap_amsg_clear(&j->msgs[i]);
	free(j->msgs);
	free(j);
}

void
imap_append_abort(struct imap_session *s)
{
	if (s->append != NULL && s->append->s == s) {
		imap_append_job_free(s->append);
		s->append = NULL;
	}
}

static void
imap_append_refuse(struct imap_session *s, const struct imap_parse_event *ev, const char *resp)
{
	imap_printf(s, "%.*s %s\r\n", (int)ev->tag_len, ev->tag, resp);
	imap_parser_reject(s->parser);
	imap_append_abort(s);
}

/* The target must exist and be ours before the client sends the octets. */
static bool
imap_append_target(struct imap_session *s, const struct imap_parse_event *ev,
    struct imap_append_job *j)
{
	struct imap_str name = *ev->append_mailbox;
	struct store_mailbox m;
	struct store_txn *t;
	enum store_rc rc = STORE_TEMPFAIL;

	if (imap_mailbox_decode(s, &name, j->mailbox, sizeof j->mailbox) != 0) {
		imap_append_refuse(s, ev, "NO [CANNOT] Invalid mailbox name");
		return false;
	}
	if ((t = store_read_begin(s->ctx->store, &rc)) != NULL) {
		rc = store_mailbox_get(t, s->account.id, j->mailbox, &m);
		store_read_end(&t);
	}
	if (rc == STORE_NOTFOUND)
		imap_append_refuse(s, ev, "NO [TRYCREATE] No such mailbox");
	else if (rc != STORE_OK)
		imap_append_refuse(s, ev, "NO [SERVERBUG] Temporary failure");
	return rc == STORE_OK;
}

static void
imap_amsg_init(struct imap_amsg *m, const struct imap_append_msg *a, size_t size)
{
	size_t i;

	m->len = size;
	m->data = xmalloc(size + 1);
	m->flags = a->has_flags ? imap_flags_to_store(&a->flags) : 0;
	m->date = a->has_date ? imap_datetime_to_unix(&a->date) : sg_now();
	if (!a->has_flags || a->flags.nkeywords == 0)
		return;
	m->keywords = xcalloc(a->flags.nkeywords, sizeof *m->keywords);
	for (i = 0; i < a->flags.nkeywords; i++)
		m->keywords[m->nkeywords++] = xstrndup(a->flags.keywords[i].s,
		    a->flags.keywords[i].len);
}

void
imap_append_begin(struct imap_session *s, const struct imap_parse_event *ev)
{
	struct imap_append_job *j = s->append;

	if (s->state == IMAP_ST_NOTAUTH || s->state == IMAP_ST_LOGOUT) {
		imap_append_refuse(s, ev, "NO [AUTHENTICATIONFAILED] Log in first");
		return;
	}
	if (ev->append_index == 0 || j == NULL) {
		imap_append_abort(s);
		j = s->append = xcalloc(1, sizeof *j);
		j->s = s;
		j->account_id = s->account.id;
		memcpy(j->pk, s->account.pk, sizeof j->pk);
		if (!imap_append_target(s, ev, j))
			return;
	}
	j->msgs = xreallocarray(j->msgs, j->n + 1, sizeof *j->msgs);
	memset(&j->msgs[j->n], 0, sizeof j->msgs[j->n]);
	imap_amsg_init(&j->msgs[j->n++], ev->append, ev->literal_size);
	s->busy = IMAP_BUSY_APPEND;
	if (ev->literal_sync)
		imap_printf(s, "+ Ready for literal data\r\n");
}

bool
imap_append_take(struct imap_session *s)
{
	struct evbuffer *in = gw_conn_in(s->conn);
	struct imap_amsg *m = &s->append->msgs[s->append->n - 1];
	size_t want = m->len - m->got, have = evbuffer_get_length(in);
	size_t n = SG_MIN(want, have);

	if (n > 0)
		m->got += (size_t)evbuffer_remove(in, m->data + m->got, n);
	if (m->got < m->len)
		return false;
	s->busy = IMAP_BUSY_NONE;
	imap_parser_literal_done(s->parser);
	return true;
}

/* Worker: summary, one content key per message, both encrypted, key sealed
 * to the user's own public key; the plaintext is wiped as soon as it is
 * sealed. */
static void
imap_append_work(void *arg)
{
	struct imap_append_job *j = arg;
	size_t i;

	for (i = 0; i < j->n; i++) {
		struct imap_amsg *m = &j->msgs[i];
		struct mime_summary *sum = mime_summarize((const char *)m->data, m->len);
		uint8_t key[SEC_KEY_BYTES];
		unsigned char *enc = NULL;
		size_t enclen = 0;

		sec_content_key_new(key);
		if (mime_summary_encode(sum, &enc, &enclen) == 0) {
			sec_encrypt(key, enc, enclen, &m->sum_ct);
			sec_wipe(enc, enclen);
		}
		free(enc);
		mime_summary_free(&sum);
		sec_encrypt(key, m->data, m->len, &m->msg_ct);
		sec_seal_key(key, j->pk, m->sealed);
		sec_wipe(key, sizeof key);
		sec_wipe(m->data, m->len);
		free(m->data);
		m->data = NULL;
	}
}

static enum store_rc
imap_append_op(struct store_txn *t, void *arg)
{
	struct imap_append_job *j = arg;
	struct store_mailbox mb;
	enum store_rc rc;
	size_t i, k;

	if ((rc = store_mailbox_get(t, j->account_id, j->mailbox, &mb)) != STORE_OK)
		return rc;
	j->uidvalidity = mb.uidvalidity;
	for (i = 0; i < j->n; i++) {
		struct imap_amsg *m = &j->msgs[i];
		struct store_blob b = { m->msg_ct.data, m->msg_ct.len, m->sum_ct.data,
			m->sum_ct.len, m->len };
		struct store_msg msg = { .mailbox_id = mb.id, .flags = m->flags,
			.internal_date = m->date, .size = m->len };

		if (m->sum_ct.len == 0)
			return STORE_CORRUPT;
		for (k = 0; k < m->nkeywords; k++) {
			unsigned idx;

			if ((rc = store_keyword_index(t, j->account_id, m->keywords[k], &idx)) !=
			    STORE_OK)
				return rc;
			msg.keywords |= 1ull << idx;
		}
		if ((rc = store_blob_put(t, &b, &msg.blob_id)) != STORE_OK ||
		    (rc = store_key_put(t, msg.blob_id, j->account_id, m->sealed)) != STORE_OK ||
		    (rc = store_msg_append(t, &msg)) != STORE_OK)
			return rc;
		m->uid = msg.uid;
	}
	return STORE_OK;
}

static void
imap_append_written(void *arg, enum store_rc rc)
{
	struct imap_append_job *j = arg;
	struct imap_session *s = j->s;
	struct evbuffer *b;
	uint32_t *uids;
	size_t i, len;

	if (!imap_session_alive(s))
		goto out;
	if (rc == STORE_NOTFOUND) {
		imap_done(s, "NO", "[TRYCREATE] No such mailbox");
		goto out;
	}
	if (rc != STORE_OK) {
		imap_done_store_error(s, rc, "APPEND");
		goto out;
	}
	b = evbuffer_new();
	uids = xcalloc(j->n + 1, sizeof *uids);
	for (i = 0; i < j->n; i++)
		uids[i] = j->msgs[i].uid;
	imap_out_uidset(b, uids, j->n);
	len = evbuffer_get_length(b);
	imap_done(s, "OK", "[APPENDUID %u %.*s] APPEND completed", j->uidvalidity, (int)len,
	    (const char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	free(uids);
out:
	imap_session_unref(s);
	imap_append_job_free(j);
}

static void
imap_append_sealed(void *arg)
{
	struct imap_append_job *j = arg;

	if (!imap_session_alive(j->s)) {
		imap_session_unref(j->s);
		imap_append_job_free(j);
		return;
	}
	store_write(j->s->ctx->store, imap_append_op, imap_append_written, j);
}

void
imap_cmd_append_done(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_append_job *j = s->append;

	(void)cmd;
	if (j == NULL || j->n == 0) {
		imap_done(s, "NO", "[CANNOT] Nothing to append");
		return;
	}
	s->append = NULL;
	imap_session_ref(s);
	imap_wait(s);
	gw_workers_submit(s->ctx->workers, imap_append_work, imap_append_sealed, j);
}
