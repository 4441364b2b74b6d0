/*
 * smtp_queue.c: the queue runner (DESIGN.md flow 5). A timer on the loop
 * looks for due entries every second, and at once when poked after an
 * enqueue; admin commands in another process (queue flush: move
 * next_attempt to now) are noticed at the next tick.
 *
 * Each delivery: a worker opens the payload (store_queue_open) and either
 * writes data_dir/outbox/<id>.eml atomically (no relay host), or resolves
 * the relay host, after which the relay client (smtp_client.c) runs on
 * the loop. The outcome goes back to a worker, which builds bounces and
 * success reports (RFC 3464, honouring NOTIFY; never about a report) and
 * the entry of the recipients still to try, and one store operation then
 * deletes,
 * reschedules (exponential backoff: retry_initial doubling up to
 * retry_max) or replaces the entry. Temporary failures older than
 * bounce_after become permanent.
 *
 * Deliveries in flight are remembered by id so that a tick never starts
 * the same entry twice; at stop they are abandoned and stay queued.
 */
#include "smtp/smtp_queue.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gw_log.h"
#include "gateway/gw_tls.h"
#include "gateway/gw_worker.h"
#include "smtp/smtp_mail.h"
#include "smtp/smtp_private.h"
#include "store/store.h"

#define SMTP_ADDRS_MAX		8
#define SMTP_OUTBOX		"outbox"

struct smtp_delivery;

struct smtp_queue {
	struct gw_ctx		*ctx;
	struct event		*ev_tick;
	SSL_CTX			*tls;
	struct smtp_delivery	*inflight;	/* list */
	unsigned		 ninflight;
};

enum smtp_outcome { SMTP_OUT_DONE, SMTP_OUT_TEMP, SMTP_OUT_PERM };

struct smtp_delivery {
	struct smtp_queue	*q;
	struct smtp_delivery	*next;
	uint64_t		 id;
	int64_t			 created;
	uint32_t		 attempts;
	uint8_t			*ct;		/* the sealed payload */
	size_t			 ct_len;
	uint8_t			*pt;		/* opened payload (secret: wiped) */
	size_t			 pt_len;
	struct smtp_qmsg	 msg;		/* decoded from pt */
	bool			 bad;		/* payload does not open: drop it */
	struct sockaddr_storage	 addrs[SMTP_ADDRS_MAX];
	size_t			 naddrs;
	char			 err[128];	/* why all recipients failed (no reply) */
	bool			 err_perm;
	struct smtp_client	*client;
	struct smtp_client_rcpt	*res;		/* per recipient */
	bool			 tls;
	bool			 relay_dsn;	/* the relay host took over NOTIFY= */
	char			 remote[256];
	/* the finish job's results for the op */
	uint8_t			*dsn_ct, *rest_ct;
	size_t			 dsn_len, rest_len;
	bool			 delete;	/* delete the entry */
	bool			 reschedule;	/* keep it, try again later */
	int64_t			 next_attempt;
	unsigned		 done, temp, perm;
};

static void smtp_queue_tick(evutil_socket_t fd, short what, void *arg);

struct smtp_queue *
smtp_queue_new(struct gw_ctx *ctx)
{
	struct smtp_queue *q = xcalloc(1, sizeof *q);
	struct timeval tv = { SMTP_QUEUE_TICK_MS / 1000, (SMTP_QUEUE_TICK_MS % 1000) * 1000 };

	q->ctx = ctx;
	q->ev_tick = event_new(ctx->base, -1, EV_PERSIST, smtp_queue_tick, q);
	if (q->ev_tick == NULL || event_add(q->ev_tick, &tv) != 0)
		fatal("event=queue_timer error=failed");
	return q;
}

static void
smtp_delivery_free(struct smtp_delivery *d)
{
	smtp_client_free(&d->client);
	smtp_qmsg_clear(&d->msg);
	if (d->pt != NULL) {
		sec_wipe(d->pt, d->pt_len);
		free(d->pt);
	}
	free(d->ct);
	free(d->res);
	free(d->dsn_ct);
	free(d->rest_ct);
	free(d);
}

static void
smtp_delivery_unlink(struct smtp_delivery *d)
{
	struct smtp_delivery **pp;

	for (pp = &d->q->inflight; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			d->q->ninflight--;
			return;
		}
	}
}

void
smtp_queue_free(struct smtp_queue **qp)
{
	struct smtp_queue *q = *qp;

	if (q == NULL)
		return;
	while (q->inflight != NULL) {
		struct smtp_delivery *d = q->inflight;

		smtp_delivery_unlink(d);
		smtp_delivery_free(d);
	}
	if (q->ev_tick != NULL)
		event_free(q->ev_tick);
	if (q->tls != NULL)
		SSL_CTX_free(q->tls);
	free(q);
	*qp = NULL;
}

void
smtp_queue_poke(struct smtp_queue *q)
{
	if (q != NULL && !q->ctx->stopping)
		event_active(q->ev_tick, EV_TIMEOUT, 0);
}

void
smtp_queue_kick(struct gw_ctx *ctx)
{
	if (ctx->smtp != NULL)
		smtp_queue_poke(ctx->smtp->queue);
}

/* May new work start? Not while stopping, nor once the workers are gone. */
static bool
smtp_queue_running(const struct smtp_queue *q)
{
	return !q->ctx->stopping && q->ctx->workers != NULL && q->ctx->store != NULL;
}

/* The delivery ends here: off the in-flight list, freed. */
static void
smtp_delivery_end(struct smtp_delivery *d, bool poke)
{
	struct smtp_queue *q = d->q;

	smtp_delivery_unlink(d);
	smtp_delivery_free(d);
	if (poke)
		smtp_queue_poke(q);
}

/* ---- the store operation that records an outcome ---- */

static enum store_rc
smtp_queue_op(struct store_txn *t, void *arg)
{
	struct smtp_delivery *d = arg;
	int64_t now = store_txn_now(t);
	enum store_rc rc = STORE_OK;

	if (d->reschedule)
		rc = store_queue_reschedule(t, d->id, d->next_attempt, d->attempts + 1);
	else if (d->delete)
		rc = store_queue_delete(t, d->id);
	if (rc == STORE_NOTFOUND)
		rc = STORE_OK;	/* deleted by an admin meanwhile */
	if (rc == STORE_OK && d->rest_ct != NULL) {
		struct store_qentry e = { .next_attempt = d->next_attempt, .created = d->created,
		    .attempts = d->attempts + 1, .data = d->rest_ct, .len = d->rest_len };

		rc = store_queue_put(t, &e);
	}
	if (rc == STORE_OK && d->dsn_ct != NULL) {
		struct store_qentry e = { .next_attempt = now, .created = now, .data = d->dsn_ct,
		    .len = d->dsn_len };

		rc = store_queue_put(t, &e);
	}
	return rc;
}

static void
smtp_queue_recorded(void *arg, enum store_rc rc)
{
	struct smtp_delivery *d = arg;

	if (rc != STORE_OK)
		log_error("smtp", "event=queue_update_failed id=%llu rc=%s",
		    (unsigned long long)d->id, store_rc_str(rc));
	smtp_delivery_end(d, d->dsn_ct != NULL);
}

static void
smtp_queue_record(struct smtp_delivery *d)
{
	if (!smtp_queue_running(d->q)) {
		smtp_delivery_end(d, false);	/* stays queued; tried again after restart */
		return;
	}
	store_write(d->q->ctx->store, smtp_queue_op, smtp_queue_recorded, d);
}

/* ---- outcomes: bounces and the recipients left (worker) ---- */

static int64_t
smtp_queue_backoff(const struct conf *c, uint32_t attempts)
{
	int64_t delay = c->relay.retry_initial;
	uint32_t i;

	for (i = 0; i < attempts && delay < c->relay.retry_max; i++)
		delay *= 2;
	return SG_MIN(delay, c->relay.retry_max);
}

/* "5.1.1" from "550 5.1.1 text", else the class's "5.0.0". */
static void
smtp_status_of(const struct smtp_client_rcpt *r, char out[16])
{
	const char *t = strlen(r->text) > 4 ? r->text + 4 : "";
	size_t i = 0;

	while (t[i] != '\0' && t[i] != ' ' && i < 15 && strchr("0123456789.", t[i]) != NULL)
		i++;
	if (i >= 5 && t[0] == (char)('0' + r->code / 100) && t[1] == '.') {
		memcpy(out, t, i);
		out[i] = '\0';
		return;
	}
	snprintf(out, 16, "%u.0.0", r->code / 100);
}

/* Should r's failure be reported to the sender (RFC 3461 4.1)? */
static bool
smtp_notify_failure(const struct smtp_qrcpt *r)
{
	return r->notify == 0 || (r->notify & SMTP_NOTIFY_FAILURE) != 0;
}

static void
smtp_queue_seal_msg(struct gw_ctx *ctx, const struct smtp_qmsg *m, uint8_t **ct, size_t *len)
{
	struct sec_buf pt = { 0 };

	smtp_qmsg_encode(m, &pt);
	store_queue_seal(ctx->store, pt.data, pt.len, ct, len);
	sec_buf_wipe(&pt);
}

/*
 * RFC 3461 / 3464: a report to the sender for the recipients that failed
 * for good (unless NOTIFY said otherwise) and for those delivered that
 * asked NOTIFY=SUCCESS when the relay host did not take the request over
 * ("relayed"; "delivered" into the outbox).
 */
static void
smtp_queue_report(struct smtp_delivery *d, const enum smtp_outcome *out)
{
	struct gw_ctx *ctx = d->q->ctx;
	const struct smtp_qmsg *m = &d->msg;
	struct smtp_dsn_rcpt *dr = xcalloc(m->nrcpts, sizeof *dr);
	char (*status)[16] = xcalloc(m->nrcpts, sizeof *status);
	struct smtp_dsn dsn = {
		.hostname = ctx->conf->gateway.hostname, .to = m->from, .envid = m->envid,
		/* an invitation's body holds its link: the sender gets headers only */
		.headers_only = m->ret == SMTP_RET_HDRS || m->kind == SMTP_QK_INVITE,
		.rcpts = dr, .msg = m->msg,
		.msg_len = m->msg_len, .arrival = m->arrival, .now = sg_now(),
	};
	struct smtp_qmsg bq = { .kind = SMTP_QK_DSN, .arrival = sg_now(), .from = (char *)"" };
	struct smtp_qrcpt br = { .addr = m->from };
	struct sec_buf mail = { 0 };
	const char *remote = d->remote[0] != '\0' ? d->remote : NULL;
	size_t i;

	for (i = 0; i < m->nrcpts; i++) {
		const struct smtp_qrcpt *r = &m->rcpts[i];

		smtp_status_of(&d->res[i], status[i]);
		if (out[i] == SMTP_OUT_PERM && smtp_notify_failure(r))
			dr[dsn.nrcpts++] = (struct smtp_dsn_rcpt){ .addr = r->addr,
			    .orcpt = r->orcpt, .action = "failed", .status = status[i],
			    .diag = d->res[i].text, .remote = remote };
		else if (out[i] == SMTP_OUT_DONE && (r->notify & SMTP_NOTIFY_SUCCESS) != 0 &&
		    !d->relay_dsn)
			dr[dsn.nrcpts++] = (struct smtp_dsn_rcpt){ .addr = r->addr,
			    .orcpt = r->orcpt, .action = remote != NULL ? "relayed" : "delivered",
			    .status = status[i], .remote = remote };
	}
	if (dsn.nrcpts > 0) {
		smtp_mail_dsn(&dsn, &mail);
		bq.rcpts = &br;
		bq.nrcpts = 1;
		bq.msg = (const char *)mail.data;
		bq.msg_len = mail.len;
		smtp_queue_seal_msg(ctx, &bq, &d->dsn_ct, &d->dsn_len);
		sec_buf_wipe(&mail);
	}
	free(dr);
	free(status);
}

/*
 * Sort the recipients into delivered, failed for good, and to try again,
 * and prepare what the op writes. Worker thread.
 */
static void
smtp_queue_outcome(void *arg)
{
	struct smtp_delivery *d = arg;
	const struct conf *c = d->q->ctx->conf;
	const struct smtp_qmsg *m = &d->msg;
	enum smtp_outcome *out = xcalloc(m->nrcpts + 1, sizeof *out);
	bool expired = sg_now() - d->created >= c->relay.bounce_after;
	struct smtp_qmsg rest = *m;
	size_t i;

	rest.rcpts = NULL;
	rest.nrcpts = 0;
	for (i = 0; i < m->nrcpts; i++) {
		unsigned code = d->res[i].code;

		if (code >= 200 && code < 300) {
			out[i] = SMTP_OUT_DONE;
			d->done++;
		} else if (code >= 500 || expired) {
			out[i] = SMTP_OUT_PERM;
			d->perm++;
		} else {
			out[i] = SMTP_OUT_TEMP;
			d->temp++;
			smtp_qmsg_add_rcpt(&rest, m->rcpts[i].addr, m->rcpts[i].orcpt,
			    m->rcpts[i].notify);
		}
	}
	/* never a report about a report, nor to the null sender */
	if (m->kind != SMTP_QK_DSN && m->from[0] != '\0')
		smtp_queue_report(d, out);
	d->next_attempt = sg_now() + smtp_queue_backoff(c, d->attempts);
	if (d->temp == m->nrcpts)
		d->reschedule = true;
	else {
		d->delete = true;
		if (d->temp > 0)
			smtp_queue_seal_msg(d->q->ctx, &rest, &d->rest_ct, &d->rest_len);
	}
	rest.from = NULL;
	rest.envid = NULL;
	for (i = 0; i < rest.nrcpts; i++) {
		free(rest.rcpts[i].addr);
		free(rest.rcpts[i].orcpt);
	}
	free(rest.rcpts);
	free(out);
}

static void
smtp_queue_outcome_done(void *arg)
{
	struct smtp_delivery *d = arg;

	log_info("smtp", "event=delivery id=%llu attempt=%u delivered=%u deferred=%u failed=%u "
	    "relay=%s tls=%s", (unsigned long long)d->id, d->attempts + 1, d->done, d->temp,
	    d->perm, d->remote[0] != '\0' ? d->remote : "outbox", d->tls ? "yes" : "no");
	smtp_queue_record(d);
}

/* Every recipient gets the same outcome (no SMTP reply: outbox, errors). */
static void
smtp_delivery_all(struct smtp_delivery *d, unsigned code, const char *text)
{
	size_t i;

	for (i = 0; i < d->msg.nrcpts; i++) {
		d->res[i].code = code;
		snprintf(d->res[i].text, sizeof d->res[i].text, "%s", text);
	}
}

static void
smtp_delivery_finish(struct smtp_delivery *d)
{
	if (!smtp_queue_running(d->q)) {
		smtp_delivery_end(d, false);
		return;
	}
	gw_workers_submit(d->q->ctx->workers, smtp_queue_outcome, smtp_queue_outcome_done, d);
}

/* ---- the outbox (no relay host) ---- */

static int
smtp_outbox_write(struct smtp_delivery *d, char *err, size_t errlen)
{
	const struct conf *c = d->q->ctx->conf;
	char *dir = xasprintf("%s/%s", c->gateway.data_dir, SMTP_OUTBOX);
	char *tmp = xasprintf("%s/.%llu.tmp", dir, (unsigned long long)d->id);
	char *path = xasprintf("%s/%llu.eml", dir, (unsigned long long)d->id);
	struct sec_buf hdr = { 0 };
	const char *p;
	size_t i, n, off;
	ssize_t w;
	int fd = -1, dfd = -1, rc = -1;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto out;
	sec_buf_append(&hdr, "Return-Path: <", 14);
	sec_buf_append(&hdr, d->msg.from, strlen(d->msg.from));
	sec_buf_append(&hdr, ">\r\n", 3);
	for (i = 0; i < d->msg.nrcpts; i++) {
		sec_buf_append(&hdr, "X-Envelope-To: <", 16);
		sec_buf_append(&hdr, d->msg.rcpts[i].addr, strlen(d->msg.rcpts[i].addr));
		sec_buf_append(&hdr, ">\r\n", 3);
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto out;
	for (i = 0; i < 2; i++) {
		p = i == 0 ? (const char *)hdr.data : d->msg.msg;
		n = i == 0 ? hdr.len : d->msg.msg_len;
		for (off = 0; off < n; off += (size_t)w)
			if ((w = write(fd, p + off, n - off)) < 0 && errno != EINTR)
				goto out;
			else if (w < 0)
				w = 0;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		(void)fsync(dfd);
	rc = 0;
out:
	if (rc != 0) {
		snprintf(err, errlen, "451 4.3.0 outbox write failed: %s", strerror(errno));
		(void)unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	sec_buf_free(&hdr);
	free(dir);
	free(tmp);
	free(path);
	return rc;
}

/* ---- opening a payload, resolving the relay (worker) ---- */

static void
smtp_delivery_resolve(struct smtp_delivery *d)
{
	const struct conf *c = d->q->ctx->conf;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL, *ai;
	char port[8];
	int e;

	snprintf(port, sizeof port, "%u", c->relay.port);
	snprintf(d->remote, sizeof d->remote, "%s", c->relay.host);
	if ((e = getaddrinfo(c->relay.host, port, &hints, &res)) != 0) {
		snprintf(d->err, sizeof d->err, "451 4.4.3 cannot resolve relay host: %s",
		    gai_strerror(e));
		d->err_perm = false;
		return;
	}
	for (ai = res; ai != NULL && d->naddrs < SMTP_ADDRS_MAX; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof d->addrs[0])
			continue;
		memcpy(&d->addrs[d->naddrs++], ai->ai_addr, ai->ai_addrlen);
	}
	freeaddrinfo(res);
	if (d->naddrs == 0)
		snprintf(d->err, sizeof d->err, "451 4.4.3 relay host has no address");
}

static void
smtp_delivery_open(void *arg)
{
	struct smtp_delivery *d = arg;
	const struct conf *c = d->q->ctx->conf;

	if (store_queue_open(d->q->ctx->store, d->ct, d->ct_len, &d->pt, &d->pt_len) != 0 ||
	    smtp_qmsg_decode(d->pt, d->pt_len, &d->msg) != 0 || d->msg.nrcpts == 0) {
		d->bad = true;
		return;
	}
	d->res = xcalloc(d->msg.nrcpts, sizeof *d->res);
	if (c->relay.host == NULL || c->relay.host[0] == '\0') {
		if (smtp_outbox_write(d, d->err, sizeof d->err) == 0)
			smtp_delivery_all(d, 250, "250 2.0.0 written to the outbox");
		else
			smtp_delivery_all(d, 451, d->err);
		smtp_queue_outcome(d);	/* already on a worker */
		return;
	}
	smtp_delivery_resolve(d);
}

static void
smtp_delivery_client_done(void *arg, const struct smtp_client_result *r)
{
	struct smtp_delivery *d = arg;

	memcpy(d->res, r->rcpts, d->msg.nrcpts * sizeof *d->res);
	d->tls = r->tls;
	d->relay_dsn = r->dsn;
	d->client = NULL;	/* it frees itself after calling us */
	smtp_delivery_finish(d);
}

static void
smtp_delivery_opened(void *arg)
{
	struct smtp_delivery *d = arg;
	struct smtp_queue *q = d->q;
	struct smtp_client_req req;

	if (d->bad) {
		/* not ours (queue.key changed?) or damaged: keep it for an admin */
		log_error("smtp", "event=queue_entry_unreadable id=%llu",
		    (unsigned long long)d->id);
		d->reschedule = true;
		d->next_attempt = sg_now() + q->ctx->conf->relay.retry_max;
		smtp_queue_record(d);
		return;
	}
	if (d->delete || d->reschedule) {	/* the outbox finished on the worker */
		smtp_queue_outcome_done(d);
		return;
	}
	if (d->naddrs == 0 || !smtp_queue_running(q)) {
		smtp_delivery_all(d, 451, d->err[0] != '\0' ? d->err : "451 4.3.2 stopping");
		smtp_delivery_finish(d);
		return;
	}
	if (q->tls == NULL && q->ctx->conf->relay.starttls != CONF_STARTTLS_OFF) {
		q->tls = gw_tls_client_ctx_new(q->ctx->conf);
		/* Like Postfix's "may" and "encrypt" levels: the relay is the
		 * organization's own MTA, often with a private certificate. */
		SSL_CTX_set_verify(q->tls, SSL_VERIFY_NONE, NULL);
	}
	req = (struct smtp_client_req){ .addrs = d->addrs, .naddrs = d->naddrs,
	    .host = d->remote, .q = &d->msg, .tls = q->tls };
	d->client = smtp_client_start(q->ctx, &req, smtp_delivery_client_done, d);
}

/* ---- the tick ---- */

struct smtp_queue_scan {
	struct smtp_queue	*q;
	struct smtp_delivery	*found;		/* list, newest first */
	unsigned		 n;
};

static bool
smtp_queue_busy(const struct smtp_queue *q, uint64_t id)
{
	const struct smtp_delivery *d;

	for (d = q->inflight; d != NULL; d = d->next)
		if (d->id == id)
			return true;
	return false;
}

static int
smtp_queue_scan_cb(void *arg, const struct store_qentry *e)
{
	struct smtp_queue_scan *sc = arg;
	struct smtp_delivery *d;

	if (sc->q->ninflight + sc->n >= SMTP_QUEUE_INFLIGHT || sc->n >= SMTP_QUEUE_BATCH)
		return 1;
	if (smtp_queue_busy(sc->q, e->id))
		return 0;
	d = xcalloc(1, sizeof *d);
	d->q = sc->q;
	d->id = e->id;
	d->created = e->created;
	d->attempts = e->attempts;
	d->ct = xmemdup(e->data, e->len > 0 ? e->len : 1);
	d->ct_len = e->len;
	d->next = sc->found;
	sc->found = d;
	sc->n++;
	return 0;
}

static void
smtp_queue_tick(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_queue *q = arg;
	struct smtp_queue_scan sc = { .q = q };
	struct store_txn *t;
	enum store_rc rc;

	(void)fd;
	(void)what;
	if (!smtp_queue_running(q) || q->ninflight >= SMTP_QUEUE_INFLIGHT)
		return;
	if ((t = store_read_begin(q->ctx->store, &rc)) == NULL)
		return;
	rc = store_queue_list(t, sg_now(), smtp_queue_scan_cb, &sc);
	store_read_end(&t);
	if (rc != STORE_OK)
		log_warn("smtp", "event=queue_list_failed rc=%s", store_rc_str(rc));
	while (sc.found != NULL) {
		struct smtp_delivery *d = sc.found;

		sc.found = d->next;
		d->next = q->inflight;
		q->inflight = d;
		q->ninflight++;
		gw_workers_submit(q->ctx->workers, smtp_delivery_open, smtp_delivery_opened, d);
	}
}
