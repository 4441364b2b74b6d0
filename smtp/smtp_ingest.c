/*
 * smtp_ingest.c: a finished message into the vault (DESIGN.md flow 1).
 *
 * On the loop, the session pauses and hands its transaction to a worker.
 * The worker summarizes the message once (mime_summarize), encrypts the
 * message and its summary under one random content key, and, for each
 * recipient, reads the account and seals the content key to its public
 * key, or prepares an invitation (new key pair and token) and seals to
 * the new key. Invitations and notices are rendered and sealed for the
 * queue there too. Then one store_write() operation commits it all: new
 * accounts, the blob once, a key and an INBOX message per recipient,
 * correspondents, queued mails. The client gets 250 only from the done
 * callback with STORE_OK; any failure is 451 4.3.0 (452 4.3.1 for a full
 * store) and nothing is kept.
 *
 * Submission (smtp_submit.c) uses the same steps for its external
 * recipients inside its own job and store operation (smtp_ingest_new,
 * _prepare, _write).
 *
 * Flooding: a recipient that already has an account never gets a second
 * link from ingest (the token is stored only hashed, so there is none to
 * resend); it gets at most one short notice per SMTP_NOTICE_INTERVAL,
 * tracked in the account's invited_at. An invited account whose token has
 * expired gets a fresh invitation (same key, new token) when the store can
 * open its recovery wrap.
 */
#include "smtp/smtp_private.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/sec.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"
#include "gateway/gw_worker.h"
#include "mime/mime.h"
#include "smtp/smtp_mail.h"
#include "smtp/smtp_queue.h"
#include "store/store.h"

#define SMTP_NOTICE_INTERVAL	(60 * 60)	/* seconds between notices to one recipient */

enum smtp_ing_kind { SMTP_ING_EXISTING, SMTP_ING_NEW, SMTP_ING_REINVITE };

struct smtp_ing_rcpt {
	char			*addr;
	char			*orcpt;
	unsigned		 notify;
	enum smtp_ing_kind	 kind;
	uint8_t			 pk[SEC_KEY_BYTES];	/* sealed to this key */
	uint8_t			 sealed[SEC_SEALED_KEY_BYTES];
	struct store_invite	*inv;
	enum smtp_mail_kind	 mail_kind;
	uint8_t			*mail_ct;	/* sealed queue payload, or NULL */
	size_t			 mail_len;
	/* the op's outputs */
	uint64_t		 acct_id;
	bool			 send;
};

struct smtp_ingest {
	struct gw_ctx		*ctx;
	struct smtp_session	*s;		/* a reference */
	char			 id[SMTP_ID_MAX];
	char			*from;
	char			*envid;
	enum smtp_ret		 ret;
	struct smtp_buf		 msg;		/* plaintext: wiped once encrypted */
	uint64_t		 size;
	int64_t			 now;
	uint8_t			*key;		/* content key, secret memory */
	struct sec_buf		 msg_ct, sum_ct;
	uint8_t			(*corr)[STORE_HASH_BYTES];
	size_t			 ncorr;
	struct smtp_ing_rcpt	*rcpts;
	size_t			 nrcpts, rcpts_cap;
	uint8_t			*dsn_ct;	/* a "delivered" DSN, or NULL */
	size_t			 dsn_len;
	bool			 from_checked;	/* submission: From: is the sender's */
	const char		*fail;		/* the worker's failure, for the log */
	uint64_t		 t_start, t_prepared;	/* smtp_ingest_us() marks, for the log */
	/* the op's outputs */
	uint64_t		 blob_id;
	unsigned		 queued;
};

/* What the invitation and notices say about the message. */
struct smtp_ing_about {
	char	name[SMTP_NAME_MAX * 4 + 1];
	char	address[SMTP_ADDR_MAX + 1];
	char	subject[SMTP_SUBJECT_MAX * 4 + 1];
	bool	has_subject;
};

static uint64_t
smtp_ingest_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void
smtp_ingest_free(struct smtp_ingest **jobp)
{
	struct smtp_ingest *job = *jobp;
	size_t i;

	if (job == NULL)
		return;
	*jobp = NULL;
	for (i = 0; i < job->nrcpts; i++) {
		struct smtp_ing_rcpt *r = &job->rcpts[i];

		free(r->addr);
		free(r->orcpt);
		store_invite_free(&r->inv);
		free(r->mail_ct);
	}
	free(job->rcpts);
	free(job->from);
	free(job->envid);
	if (job->msg.data != NULL)
		sec_wipe(job->msg.data, job->msg.len);
	smtp_buf_free(&job->msg);
	sec_free(job->key, SEC_KEY_BYTES);
	sec_buf_free(&job->msg_ct);
	sec_buf_free(&job->sum_ct);
	free(job->corr);
	free(job->dsn_ct);
	smtp_session_unref(&job->s);
	free(job);
}

/* ---- the worker ---- */

/* One header's unfolded value from the summary's header copy, or NULL. */
static char *
smtp_ingest_header(const struct mime_summary *sum, const char *name)
{
	const char *names[1] = { name };
	size_t hlen, n, i, o = 0;
	bool complete;
	const char *hdr = mime_summary_header(sum, &hlen, &complete);
	char *buf = xmalloc(hlen + 4), *v;

	n = mime_header_fields(hdr, hlen, names, 1, false, buf);
	if (n <= strlen(name) + 3) {
		free(buf);
		return NULL;
	}
	v = xmalloc(n + 1);
	for (i = strlen(name) + 1; i < n; i++)	/* after "Name:" */
		if (buf[i] != '\r' && buf[i] != '\n')
			v[o++] = buf[i];
	v[o] = '\0';
	free(buf);
	return v;
}

static void
smtp_ingest_about(struct smtp_ingest *job, const struct mime_summary *sum,
    struct smtp_ing_about *ab)
{
	const struct conf *conf = job->ctx->conf;
	char *from = smtp_ingest_header(sum, "From"), *subj = smtp_ingest_header(sum, "Subject");
	InternetAddressList *l;

	memset(ab, 0, sizeof *ab);
	snprintf(ab->address, sizeof ab->address, "%s", job->from);
	/* The From header names the sender when it is one of ours. */
	if (from != NULL && (l = internet_address_list_parse(NULL, from)) != NULL) {
		InternetAddress *ia = internet_address_list_length(l) > 0 ?
		    internet_address_list_get_address(l, 0) : NULL;

		if (ia != NULL && INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *addr = internet_address_mailbox_get_addr(
			    INTERNET_ADDRESS_MAILBOX(ia));
			const char *at = addr != NULL ? strrchr(addr, '@') : NULL;
			const char *name = internet_address_get_name(ia);

			if (at != NULL && strlen(addr) <= SMTP_ADDR_MAX && (job->from_checked ||
			    conf_domain_match(&conf->policy.internal_domains, at + 1,
			    strlen(at + 1)))) {
				snprintf(ab->address, sizeof ab->address, "%s", addr);
				sg_ascii_lower(ab->address, strlen(ab->address));
				if (name != NULL)
					smtp_mail_clean(name, strlen(name), SMTP_NAME_MAX, ab->name,
					    sizeof ab->name);
			}
		}
		g_object_unref(l);
	}
	if (subj != NULL) {
		char *dec = g_mime_utils_header_decode_text(NULL, subj);

		if (dec != NULL) {
			smtp_mail_clean(dec, strlen(dec), SMTP_SUBJECT_MAX, ab->subject,
			    sizeof ab->subject);
			ab->has_subject = true;
			g_free(dec);
		}
	}
	free(from);
	free(subj);
}

/* Render one of our mails to r and seal it for the queue. */
static void
smtp_ingest_mail(struct smtp_ingest *job, struct smtp_ing_rcpt *r,
    const struct smtp_ing_about *ab, enum smtp_mail_kind kind)
{
	const struct conf *conf = job->ctx->conf;
	struct smtp_mail_info mi = {
		.hostname = conf->gateway.hostname, .public_url = conf->portal.public_url,
		.sender = ab->address, .sender_name = ab->name, .recipient = r->addr,
		.token = r->inv != NULL ? r->inv->token : NULL,
		.expiry = r->inv != NULL ? r->inv->expiry : 0, .now = job->now,
		.details = conf->policy.notify_subject,
		.subject = ab->has_subject ? ab->subject : NULL,
	};
	/* A notice that may not name the sender comes from the null sender:
	 * the recipient's Return-Path must not name them either. */
	struct smtp_qmsg q = {
		.kind = kind == SMTP_MAIL_INVITE ? SMTP_QK_INVITE : SMTP_QK_NOTICE,
		.arrival = job->now,
		.from = kind == SMTP_MAIL_INVITE || mi.details ? job->from : (char *)"",
	};
	struct smtp_qrcpt qr = { .addr = r->addr };
	struct sec_buf mail = { 0 }, pt = { 0 };

	smtp_mail_render(job->ctx->smtp->templates, kind, &mi, &mail);
	q.rcpts = &qr;
	q.nrcpts = 1;
	q.msg = (const char *)mail.data;
	q.msg_len = mail.len;
	smtp_qmsg_encode(&q, &pt);
	store_queue_seal(job->ctx->store, pt.data, pt.len, &r->mail_ct, &r->mail_len);
	r->mail_kind = kind;
	sec_buf_wipe(&pt);
	sec_buf_wipe(&mail);
}

/*
 * Seal the content key to r's account, or to the key of a new invitation;
 * decide which mail r gets. Runs in the worker's read transaction.
 */
static int
smtp_ingest_rcpt(struct smtp_ingest *job, struct store_txn *t, struct smtp_ing_rcpt *r,
    const struct smtp_ing_about *ab)
{
	const struct conf *conf = job->ctx->conf;
	struct store *st = job->ctx->store;
	struct store_account a;
	enum store_rc rc = store_account_get(t, r->addr, &a);
	bool due;

	if (rc == STORE_NOTFOUND) {
		if ((r->inv = store_invite_prepare(st, r->addr, conf->policy.invite_ttl)) == NULL)
			return -1;
		r->kind = SMTP_ING_NEW;
		memcpy(r->pk, r->inv->pk, sizeof r->pk);
		sec_seal_key(job->key, r->pk, r->sealed);
		smtp_ingest_mail(job, r, ab, SMTP_MAIL_INVITE);
		return 0;
	}
	if (rc != STORE_OK)
		return -1;
	r->kind = SMTP_ING_EXISTING;
	memcpy(r->pk, a.pk, sizeof r->pk);
	sec_seal_key(job->key, r->pk, r->sealed);
	due = job->now - a.invited_at >= SMTP_NOTICE_INTERVAL;
	if (!due)
		return 0;
	if (a.state == STORE_ACCT_INVITED) {
		/* an expired or spent link: a new one, for the same key */
		if ((!a.has_token || a.token_expiry <= job->now) &&
		    store_reinvite_prepare(st, r->addr, conf->policy.invite_ttl, NULL,
		    &r->inv) == STORE_OK) {
			r->kind = SMTP_ING_REINVITE;
			smtp_ingest_mail(job, r, ab, SMTP_MAIL_INVITE);
		} else
			smtp_ingest_mail(job, r, ab, SMTP_MAIL_WAITING);
	} else if (a.state == STORE_ACCT_ACTIVE && conf->policy.notify_enrolled)
		smtp_ingest_mail(job, r, ab, SMTP_MAIL_NOTIFY);
	return 0;
}

/* Keyed hashes of the envelope sender and every address of the message. */
static void
smtp_ingest_corr(struct smtp_ingest *job, const struct mime_summary *sum)
{
	const char *addr;
	size_t i, n, len;

	for (n = 0; mime_summary_address(sum, n, &len) != NULL; n++)
		;
	job->corr = xreallocarray(NULL, n + 1, sizeof *job->corr);
	store_corr_hash(job->ctx->store, job->from, strlen(job->from), job->corr[0]);
	job->ncorr = 1;
	for (i = 0; i < n; i++)
		if ((addr = mime_summary_address(sum, i, &len)) != NULL)
			store_corr_hash(job->ctx->store, addr, len, job->corr[job->ncorr++]);
}

/* RFC 3461 5.2.2: recipients that asked for NOTIFY=SUCCESS hear of it. */
static void
smtp_ingest_success_dsn(struct smtp_ingest *job, const char *msg, size_t len)
{
	const struct conf *conf = job->ctx->conf;
	struct smtp_dsn_rcpt dr[64];
	struct smtp_dsn d = {
		.hostname = conf->gateway.hostname, .to = job->from, .envid = job->envid,
		.headers_only = true, .rcpts = dr, .msg = msg, .msg_len = len,
		.arrival = job->now, .now = job->now,
	};
	struct smtp_qmsg q = { .kind = SMTP_QK_DSN, .arrival = job->now, .from = (char *)"" };
	struct smtp_qrcpt qr = { .addr = job->from };
	struct sec_buf mail = { 0 }, pt = { 0 };
	size_t i;

	for (i = 0; i < job->nrcpts && d.nrcpts < SG_NITEMS(dr); i++) {
		if ((job->rcpts[i].notify & SMTP_NOTIFY_SUCCESS) == 0)
			continue;
		dr[d.nrcpts++] = (struct smtp_dsn_rcpt){ .addr = job->rcpts[i].addr,
		    .orcpt = job->rcpts[i].orcpt, .action = "delivered", .status = "2.0.0" };
	}
	if (d.nrcpts == 0 || job->from[0] == '\0')
		return;
	smtp_mail_dsn(&d, &mail);
	q.rcpts = &qr;
	q.nrcpts = 1;
	q.msg = (const char *)mail.data;
	q.msg_len = mail.len;
	smtp_qmsg_encode(&q, &pt);
	store_queue_seal(job->ctx->store, pt.data, pt.len, &job->dsn_ct, &job->dsn_len);
	sec_buf_wipe(&pt);
	sec_buf_wipe(&mail);
}

static void smtp_ingest_committed(void *arg, enum store_rc rc);
static enum store_rc smtp_ingest_op(struct store_txn *t, void *arg);
static void smtp_ingest_failed(void *arg);

const char *
smtp_ingest_prepare(struct smtp_ingest *job)
{
	struct mime_summary *sum = mime_summarize(job->msg.data, job->msg.len);
	struct smtp_ing_about ab;
	struct store_txn *t;
	unsigned char *enc = NULL;
	size_t enc_len = 0, i;
	enum store_rc rc;

	job->size = job->msg.len;
	job->key = sec_alloc(SEC_KEY_BYTES);
	sec_content_key_new(job->key);
	if (mime_summary_encode(sum, &enc, &enc_len) != 0) {
		job->fail = "summary";
		goto out;
	}
	sec_encrypt(job->key, job->msg.data, job->msg.len, &job->msg_ct);
	sec_encrypt(job->key, enc, enc_len, &job->sum_ct);
	sec_wipe(enc, enc_len);
	free(enc);
	smtp_ingest_corr(job, sum);
	smtp_ingest_about(job, sum, &ab);
	smtp_ingest_success_dsn(job, job->msg.data, job->msg.len);
	if ((t = store_read_begin(job->ctx->store, &rc)) == NULL) {
		job->fail = "read_txn";
		goto out;
	}
	for (i = 0; i < job->nrcpts; i++) {
		if (smtp_ingest_rcpt(job, t, &job->rcpts[i], &ab) != 0) {
			job->fail = "account";
			break;
		}
	}
	store_read_end(&t);
out:
	mime_summary_free(&sum);
	sec_wipe(job->msg.data, job->msg.len);
	smtp_buf_free(&job->msg);
	job->t_prepared = smtp_ingest_us();
	return job->fail;
}

static void
smtp_ingest_work(void *arg)
{
	struct smtp_ingest *job = arg;

	if (smtp_ingest_prepare(job) != NULL)
		gw_loopq_post(job->ctx->loopq, smtp_ingest_failed, job);
	else
		store_write(job->ctx->store, smtp_ingest_op, smtp_ingest_committed, job);
}

/* ---- the store operation (writer thread) ---- */

static enum store_rc
smtp_ingest_account(struct smtp_ingest *job, struct store_txn *t, struct smtp_ing_rcpt *r,
    int64_t now)
{
	struct store_account a, existing;
	enum store_rc rc;
	bool reseal;

	r->send = false;
	if (r->kind == SMTP_ING_NEW) {
		rc = store_account_create(t, r->inv, &a, &existing);
		if (rc == STORE_EXISTS)
			a = existing;	/* another message invited them just now */
		else if (rc != STORE_OK)
			return rc;
		else
			r->send = true;
	} else if ((rc = store_account_get(t, r->addr, &a)) != STORE_OK)
		return rc;
	reseal = memcmp(a.pk, r->pk, sizeof r->pk) != 0;
	if (reseal) {
		/* the account changed keys (created or reset meanwhile) */
		memcpy(r->pk, a.pk, sizeof r->pk);
		sec_seal_key(job->key, r->pk, r->sealed);
	}
	if (r->kind == SMTP_ING_REINVITE && a.state == STORE_ACCT_INVITED && !reseal &&
	    now - a.invited_at >= SMTP_NOTICE_INTERVAL) {
		rc = store_account_set_token(t, r->inv);
		if (rc != STORE_OK && rc != STORE_INVALID)
			return rc;
		r->send = rc == STORE_OK;
	} else if (r->kind == SMTP_ING_EXISTING)
		r->send = now - a.invited_at >= SMTP_NOTICE_INTERVAL;
	r->send = r->send && r->mail_ct != NULL;
	r->acct_id = a.id;
	return STORE_OK;
}

static enum store_rc
smtp_ingest_queue(struct store_txn *t, const uint8_t *ct, size_t len, int64_t now)
{
	struct store_qentry e = { .next_attempt = now, .created = now, .data = ct, .len = len };

	return store_queue_put(t, &e);
}

static enum store_rc
smtp_ingest_deliver(struct smtp_ingest *job, struct store_txn *t, struct smtp_ing_rcpt *r,
    int64_t now)
{
	struct store_mailbox mb;
	struct store_msg m = { .blob_id = job->blob_id, .internal_date = now, .size = job->size };
	enum store_rc rc;
	size_t i;

	if ((rc = store_key_put(t, job->blob_id, r->acct_id, r->sealed)) != STORE_OK ||
	    (rc = store_mailbox_get(t, r->acct_id, "INBOX", &mb)) != STORE_OK)
		return rc;
	m.mailbox_id = mb.id;
	if ((rc = store_msg_append(t, &m)) != STORE_OK)
		return rc;
	for (i = 0; i < job->ncorr; i++)
		if ((rc = store_corr_add(t, r->acct_id, job->corr[i])) != STORE_OK)
			return rc;
	if (!r->send)
		return STORE_OK;
	if ((rc = smtp_ingest_queue(t, r->mail_ct, r->mail_len, now)) != STORE_OK ||
	    (rc = store_account_mark_invited(t, r->acct_id, now)) != STORE_OK)
		return rc;
	job->queued++;
	return STORE_OK;
}

enum store_rc
smtp_ingest_write(struct store_txn *t, struct smtp_ingest *job)
{
	struct store_blob b = {
		.msg_ct = job->msg_ct.data, .msg_ct_len = job->msg_ct.len,
		.sum_ct = job->sum_ct.data, .sum_ct_len = job->sum_ct.len, .size = job->size,
	};
	int64_t now = store_txn_now(t);
	enum store_rc rc;
	size_t i;

	job->queued = 0;
	for (i = 0; i < job->nrcpts; i++)
		if ((rc = smtp_ingest_account(job, t, &job->rcpts[i], now)) != STORE_OK)
			return rc;
	if ((rc = store_blob_put(t, &b, &job->blob_id)) != STORE_OK)
		return rc;
	for (i = 0; i < job->nrcpts; i++)
		if ((rc = smtp_ingest_deliver(job, t, &job->rcpts[i], now)) != STORE_OK)
			return rc;
	if (job->dsn_ct != NULL) {
		if ((rc = smtp_ingest_queue(t, job->dsn_ct, job->dsn_len, now)) != STORE_OK)
			return rc;
		job->queued++;
	}
	return STORE_OK;
}

unsigned
smtp_ingest_queued(const struct smtp_ingest *job)
{
	return job->queued;
}

static enum store_rc
smtp_ingest_op(struct store_txn *t, void *arg)
{
	return smtp_ingest_write(t, arg);
}

/* ---- back on the loop ---- */

static void
smtp_ingest_finish(struct smtp_ingest *job, enum store_rc rc)
{
	struct smtp_session *s = job->s;
	char reply[128];

	if (job->fail == NULL && rc == STORE_OK) {
		atomic_fetch_add(&job->ctx->metrics.messages_in, 1);
		atomic_fetch_add(&job->ctx->metrics.bytes_in, job->size);
		log_info("smtp", "session=%08x event=accepted id=%s size=%llu rcpts=%zu queued=%u",
		    s->id, job->id, (unsigned long long)job->size, job->nrcpts, job->queued);
		log_debug("smtp", "session=%08x event=ingest_timing id=%s prepare_us=%llu "
		    "commit_us=%llu", s->id, job->id,
		    (unsigned long long)(job->t_prepared - job->t_start),
		    (unsigned long long)(smtp_ingest_us() - job->t_prepared));
		snprintf(reply, sizeof reply, "250 2.0.0 Ok: queued as %s", job->id);
		if (job->queued > 0 && job->ctx->smtp != NULL && job->ctx->smtp->queue != NULL)
			smtp_queue_poke(job->ctx->smtp->queue);
	} else {
		log_warn("smtp", "session=%08x event=tempfail id=%s reason=%s", s->id, job->id,
		    job->fail != NULL ? job->fail : store_rc_str(rc));
		snprintf(reply, sizeof reply, "%s", rc == STORE_TEMPFAIL ?
		    "452 4.3.1 Insufficient system storage" :
		    "451 4.3.0 Temporary failure, please try again later");
	}
	smtp_session_ingest_done(s, reply);
	smtp_ingest_free(&job);
}

static void
smtp_ingest_committed(void *arg, enum store_rc rc)
{
	smtp_ingest_finish(arg, rc);
}

static void
smtp_ingest_failed(void *arg)
{
	smtp_ingest_finish(arg, STORE_OK);
}

struct smtp_ingest *
smtp_ingest_new(struct gw_ctx *ctx, const char *id, const char *from, const char *envid,
    enum smtp_ret ret)
{
	struct smtp_ingest *job = xcalloc(1, sizeof *job);

	job->ctx = ctx;
	snprintf(job->id, sizeof job->id, "%s", id);
	job->from = xstrdup(from);
	job->envid = envid != NULL ? xstrdup(envid) : NULL;
	job->ret = ret;
	job->now = sg_now();
	job->t_start = smtp_ingest_us();
	return job;
}

void
smtp_ingest_add_rcpt(struct smtp_ingest *job, const char *addr, const char *orcpt,
    unsigned notify)
{
	struct smtp_ing_rcpt *r;

	if (job->nrcpts == job->rcpts_cap) {
		job->rcpts_cap = job->rcpts_cap > 0 ? job->rcpts_cap * 2 : 4;
		job->rcpts = xreallocarray(job->rcpts, job->rcpts_cap, sizeof *job->rcpts);
	}
	r = &job->rcpts[job->nrcpts++];
	memset(r, 0, sizeof *r);
	r->addr = xstrdup(addr);
	r->orcpt = orcpt != NULL ? xstrdup(orcpt) : NULL;
	r->notify = notify;
}

void
smtp_ingest_from_checked(struct smtp_ingest *job)
{
	job->from_checked = true;
}

void
smtp_ingest_set_msg(struct smtp_ingest *job, struct smtp_buf *msg)
{
	job->msg = *msg;
	job->size = msg->len;
	memset(msg, 0, sizeof *msg);
}

void
smtp_ingest_start(struct smtp_session *s)
{
	struct smtp_txn *tx = &s->txn;
	struct smtp_ingest *job;
	size_t i;

	if (s->ctx->store == NULL || s->ctx->workers == NULL || s->srv->templates == NULL) {
		smtp_session_ingest_done(s, "451 4.3.0 Vault not available, please try again later");
		return;
	}
	job = smtp_ingest_new(s->ctx, tx->id, tx->from, tx->envid, tx->ret);
	job->s = s;
	smtp_session_ref(s);
	for (i = 0; i < tx->nrcpts; i++)
		smtp_ingest_add_rcpt(job, tx->rcpts[i].addr, tx->rcpts[i].orcpt,
		    tx->rcpts[i].notify);
	smtp_ingest_set_msg(job, &tx->msg);
	gw_conn_pause(s->conn);
	gw_workers_submit(s->ctx->workers, smtp_ingest_work, NULL, job);
}
