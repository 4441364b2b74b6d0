/*
 * smtp_submit.c: mail from enrolled users (RFC 6409; DESIGN.md flow 4).
 *
 * MAIL must name the authenticated address (compared without ASCII case),
 * from an account that is still active and under [submission]
 * max_messages_per_hour. Each RCPT is either in internal_domains (relayed
 * through the queue to [relay] host) or an external address the policy
 * allows ([policy] external_recipients: a correspondent of the user, any,
 * or none); an external recipient gets the message sealed into their own
 * vault, with an invitation when new, exactly as ingest does.
 *
 * The message: a From: or Sender: naming someone else is refused (the
 * gateway must not let an outsider write as the organization's staff);
 * Date: and Message-ID: are added when missing (RFC 6409 8.2, 8.3), right
 * after our Received: header; the rest stays byte for byte. One store
 * operation then commits the queue entry for the internal recipients, the
 * vault writes for the external ones and the "submission" audit entry
 * that counts toward the hourly limit across restarts; 250 only after it.
 *
 * No leniency is lost to this: 8-bit bodies without BODY=8BITMIME are
 * taken as they come (iOS Mail, INTEROP.md), and SMTPUTF8 is passed on to
 * the relay host only when an address or a header needs it.
 */
#include "smtp/smtp_private.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"
#include "gateway/gw_worker.h"
#include "smtp/smtp_mail.h"
#include "smtp/smtp_queue.h"
#include "store/store.h"

#define SMTP_MSGID_RANDOM	12	/* random bytes in a Message-ID we make */
/* the Date: and Message-ID: lines we may add */
#define SMTP_ADDED_MAX		(SMTP_DOMAIN_MAX + 128)

/* ---- MAIL and RCPT ---- */

enum smtp_acct_check { SMTP_ACCT_ACTIVE, SMTP_ACCT_GONE, SMTP_ACCT_TEMPFAIL };

/* The account may have been disabled or deleted since the login. */
static enum smtp_acct_check
smtp_submit_account(struct smtp_session *s)
{
	struct store_account a;
	enum store_rc rc;
	struct store_txn *t = store_read_begin(s->ctx->store, &rc);

	if (t == NULL)
		return SMTP_ACCT_TEMPFAIL;
	rc = store_account_get_id(t, s->acct_id, &a);
	store_read_end(&t);
	if (rc == STORE_OK)
		return a.state == STORE_ACCT_ACTIVE ? SMTP_ACCT_ACTIVE : SMTP_ACCT_GONE;
	return rc == STORE_NOTFOUND ? SMTP_ACCT_GONE : SMTP_ACCT_TEMPFAIL;
}

/* Over max_messages_per_hour: 451 (RFC 5321 allows it for MAIL), audited. */
static bool
smtp_submit_over_limit(struct smtp_session *s, int64_t now)
{
	unsigned max = s->ctx->conf->submission.max_messages_per_hour;
	unsigned sent = smtp_rate_count(s->srv->rate, s->acct_id, now);
	char detail[64];

	if (sent < max)
		return false;
	log_info("smtp", "session=%08x event=rate_limited account=%llu sent=%u max=%u", s->id,
	    (unsigned long long)s->acct_id, sent, max);
	if (smtp_rate_note_refusal(s->srv->rate, s->acct_id, now)) {
		snprintf(detail, sizeof detail, "max_messages_per_hour=%u", max);
		store_audit(s->ctx->store, "submission_limited", s->acct_addr,
		    gw_conn_peer_ip(s->conn), detail);
	}
	return true;
}

bool
smtp_submit_sender(struct smtp_session *s, const char *addr, size_t len)
{
	if (len == 0 || strcmp(addr, s->acct_addr) != 0) {
		smtp_error(s, "553 5.7.1 Sender address must be your own address <%s>",
		    s->acct_addr);
		return false;
	}
	switch (smtp_submit_account(s)) {
	case SMTP_ACCT_GONE:
		log_info("smtp", "session=%08x event=refused reason=account_inactive", s->id);
		smtp_error(s, "550 5.7.1 This account may not send mail");
		return false;
	case SMTP_ACCT_TEMPFAIL:
		smtp_reply(s, "451 4.3.0 Temporary failure, please try again later");
		return false;
	default:
		break;
	}
	if (smtp_submit_over_limit(s, sg_now())) {
		smtp_reply(s, "451 4.7.1 You sent too many messages in the last hour; try again "
		    "later");
		return false;
	}
	return true;
}

/* Is addr one of the user's correspondents (a keyed hash in the store)? */
static int
smtp_submit_correspondent(struct smtp_session *s, const char *addr, size_t len)
{
	uint8_t h[STORE_HASH_BYTES];
	enum store_rc rc;
	struct store_txn *t;
	bool has;

	store_corr_hash(s->ctx->store, addr, len, h);
	if ((t = store_read_begin(s->ctx->store, &rc)) == NULL)
		return -1;
	has = store_corr_has(t, s->acct_id, h);
	store_read_end(&t);
	return has ? 1 : 0;
}

bool
smtp_submit_recipient(struct smtp_session *s, const char *addr, size_t len,
    bool *internal_out)
{
	const char *at = strrchr(addr, '@');
	int ok = 0;

	*internal_out = at != NULL && smtp_domain_internal(s, addr, (size_t)(at - addr), len);
	if (*internal_out)
		return true;
	switch (s->ctx->conf->policy.external_recipients) {
	case CONF_EXT_ANY:
		return true;
	case CONF_EXT_NONE:
		log_info("smtp", "session=%08x event=rcpt_refused reason=external", s->id);
		smtp_error(s, "550 5.7.1 <%s>: you can only write to addresses of your "
		    "organization", addr);
		return false;
	default:
		break;
	}
	if ((ok = smtp_submit_correspondent(s, addr, len)) < 0) {
		smtp_reply(s, "451 4.3.0 Temporary failure, please try again later");
		return false;
	}
	if (ok == 0) {
		log_info("smtp", "session=%08x event=rcpt_refused reason=not_correspondent", s->id);
		smtp_error(s, "550 5.7.1 <%s>: you can only write to your organization and to "
		    "people who wrote to you or were copied with you", addr);
		return false;
	}
	return true;
}

void
smtp_submit_too_many(struct smtp_session *s)
{
	char detail[64];

	if (s->txn.rcpts_audited)
		return;
	s->txn.rcpts_audited = true;
	log_info("smtp", "session=%08x event=rcpt_limit account=%llu", s->id,
	    (unsigned long long)s->acct_id);
	snprintf(detail, sizeof detail, "max_recipients=%u",
	    s->ctx->conf->submission.max_recipients);
	store_audit(s->ctx->store, "submission_too_many_rcpts", s->acct_addr,
	    gw_conn_peer_ip(s->conn), detail);
}

/* ---- the message ---- */

struct smtp_submit {
	struct gw_ctx		*ctx;
	struct smtp_session	*s;		/* a reference */
	char			 id[SMTP_ID_MAX];
	uint64_t		 acct_id;
	char			 sender[SMTP_ADDR_MAX + 1];
	char			 ip[64];
	struct smtp_buf		 msg;		/* trace header + message; plaintext */
	size_t			 trace_len;
	bool			 smtputf8;	/* the client said SMTPUTF8 */
	struct smtp_qmsg	 q;		/* for the internal recipients */
	uint8_t			*q_ct;		/* q sealed under queue.key */
	size_t			 q_len;
	struct smtp_ingest	*ing;		/* the external recipients, or NULL */
	size_t			 nint, next;
	uint64_t		 size;
	const char		*fail;		/* temporary failure, for the log */
	const char		*refuse;	/* a permanent refusal, the reply */
	bool			 nomem;
	unsigned		 queued;	/* the op's output */
};

static void
smtp_submit_free(struct smtp_submit *job)
{
	if (job->msg.data != NULL)
		sec_wipe(job->msg.data, job->msg.len);
	smtp_buf_free(&job->msg);
	job->q.msg = NULL;
	smtp_qmsg_clear(&job->q);
	free(job->q_ct);
	smtp_ingest_free(&job->ing);
	smtp_session_unref(&job->s);
	free(job);
}

/* A From: or Sender: value names the sender alone? GMime's parse first; a
 * tolerant look for a single <addr> second, since some clients write
 * display names GMime does not take (iOS: unescaped quotes in words). */
static bool
smtp_submit_author_ok(const char *v, size_t len, const char *sender)
{
	char *buf = xmalloc(len + 1);
	const char *lt, *gt, *a;
	InternetAddressList *l;
	size_t i, o = 0;
	bool ok = false;

	for (i = 0; i < len; i++)
		if (v[i] != '\r' && v[i] != '\n')
			buf[o++] = v[i];
	buf[o] = '\0';
	if ((l = internet_address_list_parse(NULL, buf)) != NULL) {
		InternetAddress *ia = internet_address_list_length(l) == 1 ?
		    internet_address_list_get_address(l, 0) : NULL;

		if (ia != NULL && INTERNET_ADDRESS_IS_MAILBOX(ia) &&
		    (a = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))) != NULL)
			ok = sg_ascii_ieq(a, strlen(a), sender);
		g_object_unref(l);
	}
	/* one <addr>, and no other address before or after it */
	if (!ok && (lt = strchr(buf, '<')) != NULL && strchr(lt + 1, '<') == NULL &&
	    (gt = strchr(lt, '>')) != NULL && strchr(gt + 1, '>') == NULL &&
	    memchr(buf, '@', (size_t)(lt - buf)) == NULL && strchr(gt, '@') == NULL &&
	    strchr(gt, ',') == NULL)
		ok = sg_ascii_ieq(lt + 1, (size_t)(gt - lt - 1), sender);
	if (!ok && strchr(buf, '<') == NULL) {
		size_t b = 0, e = o;

		while (b < e && (buf[b] == ' ' || buf[b] == '\t'))
			b++;
		while (e > b && (buf[e - 1] == ' ' || buf[e - 1] == '\t'))
			e--;
		ok = sg_ascii_ieq(buf + b, e - b, sender);
	}
	free(buf);
	return ok;
}

/*
 * Look at the header section: who it claims to be from, whether Date: and
 * Message-ID: are there, whether a header holds 8-bit text. Worker.
 */
static void
smtp_submit_headers(struct smtp_submit *job, bool *has_date, bool *has_msgid,
    bool *eightbit)
{
	const char *m = job->msg.data + job->trace_len;
	size_t len = job->msg.len - job->trace_len, off = 0, i;
	struct smtp_field f;

	*has_date = *has_msgid = *eightbit = false;
	while (smtp_header_next(m, len, &off, &f)) {
		if (smtp_field_is(&f, "Date"))
			*has_date = true;
		else if (smtp_field_is(&f, "Message-ID"))
			*has_msgid = true;
		else if ((smtp_field_is(&f, "From") || smtp_field_is(&f, "Sender")) &&
		    job->refuse == NULL &&
		    !smtp_submit_author_ok(f.value, f.value_len, job->sender))
			job->refuse = smtp_field_is(&f, "From") ?
			    "550 5.7.1 The From: header must be your own address" :
			    "550 5.7.1 The Sender: header must be your own address";
	}
	for (i = 0; i < off && !*eightbit; i++)
		*eightbit = (unsigned char)m[i] >= 0x80;
}

/* Date: and Message-ID: after our Received:, when the message has none. */
static int
smtp_submit_complete(struct smtp_submit *job, bool has_date, bool has_msgid)
{
	char add[SMTP_ADDED_MAX], date[40], rnd_hex[SMTP_MSGID_RANDOM * 2 + 1];
	uint8_t rnd[SMTP_MSGID_RANDOM];
	size_t n = 0, i;
	int k;

	if (!has_date) {
		smtp_mail_date(date, sg_now());
		n += (size_t)snprintf(add, sizeof add, "Date: %s\r\n", date);
	}
	if (!has_msgid) {
		sec_random(rnd, sizeof rnd);
		for (i = 0; i < sizeof rnd; i++)
			snprintf(rnd_hex + 2 * i, 3, "%02x", rnd[i]);
		k = snprintf(add + n, sizeof add - n, "Message-ID: <%s.%s@%s>\r\n", job->id,
		    rnd_hex, job->ctx->conf->gateway.hostname);
		if (k < 0 || (size_t)k >= sizeof add - n)
			return -1;
		n += (size_t)k;
	}
	if (n == 0)
		return 0;
	if (smtp_buf_reserve(&job->msg, n) != 0)
		return -1;
	memmove(job->msg.data + job->trace_len + n, job->msg.data + job->trace_len,
	    job->msg.len - job->trace_len);
	memcpy(job->msg.data + job->trace_len, add, n);
	job->msg.len += n;
	return 0;
}

static bool
smtp_submit_utf8_addr(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a >= 0x80)
			return true;
	return false;
}

/* The internal recipients' queue entry, sealed under queue.key. */
static void
smtp_submit_seal_queue(struct smtp_submit *job, bool eightbit_headers)
{
	struct sec_buf pt = { 0 };
	bool utf8 = eightbit_headers || smtp_submit_utf8_addr(job->q.from);
	size_t i;

	for (i = 0; i < job->q.nrcpts && !utf8; i++)
		utf8 = smtp_submit_utf8_addr(job->q.rcpts[i].addr);
	/* only when needed: an ASCII message must not bounce at a relay host
	 * without SMTPUTF8 because a client always asks for it */
	job->q.smtputf8 = job->smtputf8 && utf8;
	job->q.arrival = sg_now();
	job->q.msg = job->msg.data;
	job->q.msg_len = job->msg.len;
	smtp_qmsg_encode(&job->q, &pt);
	store_queue_seal(job->ctx->store, pt.data, pt.len, &job->q_ct, &job->q_len);
	sec_buf_wipe(&pt);
	job->q.msg = NULL;
	job->q.msg_len = 0;
}

static void smtp_submit_committed(void *arg, enum store_rc rc);
static void smtp_submit_failed(void *arg);

static enum store_rc
smtp_submit_op(struct store_txn *t, void *arg)
{
	struct smtp_submit *job = arg;
	int64_t now = store_txn_now(t);
	struct store_qentry e = { .next_attempt = now, .created = now, .data = job->q_ct,
	    .len = job->q_len };
	char detail[128];
	enum store_rc rc;

	job->queued = 0;
	if (job->ing != NULL) {
		if ((rc = smtp_ingest_write(t, job->ing)) != STORE_OK)
			return rc;
		job->queued += smtp_ingest_queued(job->ing);
	}
	if (job->q_ct != NULL) {
		if ((rc = store_queue_put(t, &e)) != STORE_OK)
			return rc;
		job->queued++;
	}
	snprintf(detail, sizeof detail, "id=%s size=%llu relayed=%zu sealed=%zu", job->id,
	    (unsigned long long)job->size, job->nint, job->next);
	return store_audit_add(t, "submission", job->sender, job->ip, detail);
}

static void
smtp_submit_work(void *arg)
{
	struct smtp_submit *job = arg;
	bool has_date, has_msgid, eightbit;

	smtp_submit_headers(job, &has_date, &has_msgid, &eightbit);
	if (job->refuse != NULL)
		goto out;
	if (smtp_submit_complete(job, has_date, has_msgid) != 0) {
		job->fail = "memory";
		job->nomem = true;
		goto out;
	}
	job->size = job->msg.len;
	if (job->nint > 0)
		smtp_submit_seal_queue(job, eightbit);
	if (job->ing != NULL) {
		smtp_ingest_set_msg(job->ing, &job->msg);	/* wiped by prepare */
		if ((job->fail = smtp_ingest_prepare(job->ing)) != NULL)
			goto out;
	} else {
		sec_wipe(job->msg.data, job->msg.len);
		smtp_buf_free(&job->msg);
	}
	store_write(job->ctx->store, smtp_submit_op, smtp_submit_committed, job);
	return;
out:
	gw_loopq_post(job->ctx->loopq, smtp_submit_failed, job);
}

/* ---- back on the loop ---- */

static void
smtp_submit_finish(struct smtp_submit *job, enum store_rc rc)
{
	struct smtp_session *s = job->s;
	bool ok = job->refuse == NULL && job->fail == NULL && rc == STORE_OK;
	char reply[128];

	smtp_rate_end(s->srv->rate, job->acct_id, ok, sg_now());
	if (ok) {
		log_info("smtp", "session=%08x event=submitted id=%s account=%llu size=%llu "
		    "relayed=%zu sealed=%zu queued=%u", s->id, job->id,
		    (unsigned long long)job->acct_id, (unsigned long long)job->size, job->nint,
		    job->next, job->queued);
		snprintf(reply, sizeof reply, "250 2.0.0 Ok: queued as %s", job->id);
		if (job->queued > 0 && s->srv->queue != NULL)
			smtp_queue_poke(s->srv->queue);
	} else if (job->refuse != NULL) {
		log_info("smtp", "session=%08x event=refused id=%s reason=author", s->id, job->id);
		snprintf(reply, sizeof reply, "%s", job->refuse);
	} else {
		log_warn("smtp", "session=%08x event=tempfail id=%s reason=%s", s->id, job->id,
		    job->fail != NULL ? job->fail : store_rc_str(rc));
		snprintf(reply, sizeof reply, "%s", job->nomem || rc == STORE_TEMPFAIL ?
		    "452 4.3.1 Insufficient system storage" :
		    "451 4.3.0 Temporary failure, please try again later");
	}
	smtp_session_ingest_done(s, reply);
	smtp_submit_free(job);
}

static void
smtp_submit_committed(void *arg, enum store_rc rc)
{
	smtp_submit_finish(arg, rc);
}

static void
smtp_submit_failed(void *arg)
{
	smtp_submit_finish(arg, STORE_OK);
}

void
smtp_submit_start(struct smtp_session *s)
{
	struct smtp_txn *tx = &s->txn;
	struct smtp_submit *job;
	size_t i;

	if (s->ctx->store == NULL || s->ctx->workers == NULL || s->srv->templates == NULL) {
		smtp_session_ingest_done(s, "451 4.3.0 Service not available, please try again "
		    "later");
		return;
	}
	/* other sessions of the account may have sent meanwhile */
	if (smtp_submit_over_limit(s, sg_now())) {
		smtp_session_ingest_done(s, "451 4.7.1 You sent too many messages in the last "
		    "hour; try again later");
		return;
	}
	job = xcalloc(1, sizeof *job);
	job->ctx = s->ctx;
	job->s = s;
	smtp_session_ref(s);
	memcpy(job->id, tx->id, sizeof job->id);
	job->acct_id = s->acct_id;
	snprintf(job->sender, sizeof job->sender, "%s", s->acct_addr);
	snprintf(job->ip, sizeof job->ip, "%s", gw_conn_peer_ip(s->conn));
	job->trace_len = tx->trace_len;
	job->smtputf8 = tx->smtputf8;
	job->q.kind = SMTP_QK_MAIL;
	job->q.ret = tx->ret;
	job->q.from = xstrdup(tx->from);
	job->q.envid = tx->envid != NULL ? xstrdup(tx->envid) : NULL;
	for (i = 0; i < tx->nrcpts; i++) {
		const struct smtp_rcpt *r = &tx->rcpts[i];

		if (r->internal) {
			smtp_qmsg_add_rcpt(&job->q, r->addr, r->orcpt, r->notify);
			job->nint++;
			continue;
		}
		if (job->ing == NULL) {
			job->ing = smtp_ingest_new(s->ctx, tx->id, tx->from, tx->envid, tx->ret);
			smtp_ingest_from_checked(job->ing);
		}
		smtp_ingest_add_rcpt(job->ing, r->addr, r->orcpt, r->notify);
		job->next++;
	}
	job->msg = tx->msg;
	memset(&tx->msg, 0, sizeof tx->msg);
	smtp_rate_begin(s->srv->rate, s->acct_id);
	gw_conn_pause(s->conn);
	gw_workers_submit(s->ctx->workers, smtp_submit_work, NULL, job);
}
