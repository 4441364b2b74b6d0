/*
 * smtp_client.c: the relay client. One delivery (one envelope, one
 * message) to the relay host over a libevent bufferevent: greeting, EHLO
 * (HELO if refused), STARTTLS as [relay] starttls says, then MAIL, RCPT...
 * and DATA, sent in one burst when the server offers PIPELINING (RFC 2920)
 * and one by one otherwise, with SIZE (RFC 1870), BODY=8BITMIME, SMTPUTF8
 * and the DSN parameters when offered. Every recipient ends with the reply
 * that decided its fate; what never got a reply (connection lost, timeout)
 * is a temporary failure. Timeouts are RFC 5321 4.5.3.2's.
 */
#include "smtp/smtp_queue.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_log.h"

#define SMTP_CL_TIMEOUT_CMD	300	/* 4.5.3.2.1-4: greeting, MAIL, RCPT */
#define SMTP_CL_TIMEOUT_DATA	180	/* 4.5.3.2.5: each data block */
#define SMTP_CL_TIMEOUT_DOT	600	/* 4.5.3.2.6: after the final dot */
#define SMTP_CL_INPUT_MAX	(64 * 1024)
#define SMTP_CL_CMD_MAX		(SMTP_CMD_MAX + 16)

enum smtp_cl_state {
	SMTP_CL_CONNECT,
	SMTP_CL_GREET,
	SMTP_CL_EHLO,
	SMTP_CL_HELO,
	SMTP_CL_STARTTLS,
	SMTP_CL_HANDSHAKE,
	SMTP_CL_TXN,		/* replies to MAIL, RCPT..., DATA */
	SMTP_CL_DOT,		/* the reply to the end of data */
	SMTP_CL_DOT_ABORT,	/* a 354 nobody wanted: the empty data's reply */
	SMTP_CL_QUIT,
};

struct smtp_client {
	struct gw_ctx			*ctx;
	struct bufferevent		*bev;
	struct event			*ev_fail;	/* deferred early failure */
	const struct smtp_qmsg		*q;
	SSL_CTX				*tls_ctx;
	bool				 tls;
	const struct sockaddr_storage	*addrs;
	size_t				 naddrs, ai;
	enum smtp_cl_state		 state;
	/* EHLO */
	bool				 pipelining, starttls, eightbit, smtputf8, dsn;
	uint64_t			 max_size;
	/* the reply being read */
	unsigned			 code;
	char				 first[SMTP_REPLY_MAX + 1];
	/* the transaction */
	size_t				 ncmds, sent, answered, accepted;
	/* RCPT answered 2xx: only the reply to the data decides those (a
	 * connection lost before it leaves them undecided, to be retried) */
	bool				*rcpt_ok;
	struct smtp_client_result	 res;
	char				 fail[SMTP_REPLY_MAX + 1];	/* for the unanswered */
	bool				 size_ext;
	bool				 finished;	/* done() is on its way */
	smtp_client_done_fn		*done;
	void				*arg;
};

static void smtp_client_connect_next(struct smtp_client *c);
static void smtp_client_read_cb(struct bufferevent *bev, void *arg);
static void smtp_client_event_cb(struct bufferevent *bev, short what, void *arg);

void
smtp_client_free(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;

	if (c == NULL)
		return;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->ev_fail != NULL)
		event_free(c->ev_fail);
	free(c->res.rcpts);
	free(c->rcpt_ok);
	free(c);
	*cp = NULL;
}

/* Report and go away: done() runs exactly once, from ev_fail. */
static void
smtp_client_report(struct smtp_client *c)
{
	size_t i;

	for (i = 0; i < c->q->nrcpts; i++) {
		struct smtp_client_rcpt *r = &c->res.rcpts[i];

		if (r->code != 0)
			continue;
		r->code = (unsigned)(c->fail[0] - '0') * 100 + (unsigned)(c->fail[1] - '0') * 10 +
		    (unsigned)(c->fail[2] - '0');
		snprintf(r->text, sizeof r->text, "%s", c->fail);
	}
	c->res.tls = c->tls;
	c->res.dsn = c->dsn;
	c->done(c->arg, &c->res);
	smtp_client_free(&c);
}

/* End the session: the report follows from the loop, never from inside a
 * bufferevent callback that still uses c. */
static void
smtp_client_finish(struct smtp_client *c)
{
	if (c->finished)
		return;
	c->finished = true;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->ev_fail, EV_TIMEOUT, 0);
}

/* What happens to the recipients still without an answer. */
SG_PRINTF(2, 3) static void
smtp_client_set_fail(struct smtp_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->fail, sizeof c->fail, fmt, ap);
	va_end(ap);
}

/* Every recipient not yet decided gets this reply. */
static void
smtp_client_decide_all(struct smtp_client *c, bool only_accepted, unsigned code,
    const char *text)
{
	size_t i;

	for (i = 0; i < c->q->nrcpts; i++) {
		struct smtp_client_rcpt *r = &c->res.rcpts[i];

		if (r->code != 0 || (only_accepted && !c->rcpt_ok[i]))
			continue;
		r->code = code;
		snprintf(r->text, sizeof r->text, "%s", text);
	}
}

SG_PRINTF(2, 3) static void
smtp_client_send(struct smtp_client *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

static void
smtp_client_timeouts(struct smtp_client *c, unsigned read_secs)
{
	struct timeval r = { (time_t)read_secs, 0 }, w = { SMTP_CL_TIMEOUT_DATA, 0 };

	bufferevent_set_timeouts(c->bev, &r, &w);
}

static void
smtp_client_quit(struct smtp_client *c)
{
	c->state = SMTP_CL_QUIT;
	smtp_client_send(c, "QUIT");
}

static void
smtp_client_ehlo(struct smtp_client *c)
{
	c->pipelining = c->starttls = c->eightbit = c->smtputf8 = c->dsn = c->size_ext = false;
	c->max_size = 0;
	c->state = SMTP_CL_EHLO;
	smtp_client_send(c, "EHLO %s", c->ctx->conf->gateway.hostname);
}

/* One EHLO keyword line. */
static void
smtp_client_ext(struct smtp_client *c, const char *t, size_t len)
{
	size_t kw;

	for (kw = 0; kw < len && t[kw] != ' '; kw++)
		;
	if (sg_ascii_ieq(t, kw, "PIPELINING"))
		c->pipelining = true;
	else if (sg_ascii_ieq(t, kw, "STARTTLS"))
		c->starttls = true;
	else if (sg_ascii_ieq(t, kw, "8BITMIME"))
		c->eightbit = true;
	else if (sg_ascii_ieq(t, kw, "SMTPUTF8"))
		c->smtputf8 = true;
	else if (sg_ascii_ieq(t, kw, "DSN"))
		c->dsn = true;
	else if (sg_ascii_ieq(t, kw, "SIZE")) {
		uint64_t v = 0;
		size_t i;

		c->size_ext = true;
		for (i = kw + 1; i < len && t[i] >= '0' && t[i] <= '9' && v < UINT64_MAX / 10; i++)
			v = v * 10 + (uint64_t)(t[i] - '0');
		c->max_size = v;
	}
}

static bool
smtp_client_8bit(const struct smtp_qmsg *q)
{
	size_t i;

	for (i = 0; i < q->msg_len; i++)
		if ((unsigned char)q->msg[i] >= 0x80)
			return true;
	return false;
}

static void
smtp_client_send_cmd(struct smtp_client *c, size_t i)
{
	const struct smtp_qmsg *q = c->q;
	char line[SMTP_CL_CMD_MAX];
	int n;

	if (i == 0) {
		n = snprintf(line, sizeof line, "MAIL FROM:<%s>", q->from);
		if (c->size_ext)
			n += snprintf(line + n, sizeof line - (size_t)n, " SIZE=%zu", q->msg_len);
		if (c->eightbit && smtp_client_8bit(q))
			n += snprintf(line + n, sizeof line - (size_t)n, " BODY=8BITMIME");
		if (q->smtputf8)
			n += snprintf(line + n, sizeof line - (size_t)n, " SMTPUTF8");
		if (c->dsn && q->ret != SMTP_RET_NONE)
			n += snprintf(line + n, sizeof line - (size_t)n, " RET=%s",
			    q->ret == SMTP_RET_HDRS ? "HDRS" : "FULL");
		if (c->dsn && q->envid != NULL)
			snprintf(line + n, sizeof line - (size_t)n, " ENVID=%s", q->envid);
	} else if (i <= q->nrcpts) {
		const struct smtp_qrcpt *r = &q->rcpts[i - 1];

		n = snprintf(line, sizeof line, "RCPT TO:<%s>", r->addr);
		if (c->dsn && r->notify != 0)
			n += snprintf(line + n, sizeof line - (size_t)n, " NOTIFY=%s%s%s%s",
			    r->notify & SMTP_NOTIFY_NEVER ? "NEVER" : "",
			    r->notify & SMTP_NOTIFY_SUCCESS ? "SUCCESS," : "",
			    r->notify & SMTP_NOTIFY_FAILURE ? "FAILURE," : "",
			    r->notify & SMTP_NOTIFY_DELAY ? "DELAY," : "");
		if (n > 0 && line[n - 1] == ',')
			line[--n] = '\0';
		if (c->dsn && r->orcpt != NULL)
			snprintf(line + n, sizeof line - (size_t)n, " ORCPT=%s", r->orcpt);
	} else
		snprintf(line, sizeof line, "DATA");
	smtp_client_send(c, "%s", line);
	c->sent = i + 1;
}

static void
smtp_client_txn(struct smtp_client *c)
{
	const struct smtp_qmsg *q = c->q;
	size_t i;

	if (c->max_size > 0 && q->msg_len > c->max_size) {
		smtp_client_decide_all(c, false, 552, "552 5.3.4 message too big for the relay host");
		smtp_client_quit(c);
		return;
	}
	if (q->smtputf8 && !c->smtputf8) {
		smtp_client_decide_all(c, false, 553, "553 5.6.7 relay host does not offer SMTPUTF8");
		smtp_client_quit(c);
		return;
	}
	c->state = SMTP_CL_TXN;
	c->ncmds = q->nrcpts + 2;
	c->sent = c->answered = c->accepted = 0;
	memset(c->rcpt_ok, 0, q->nrcpts * sizeof *c->rcpt_ok);
	if (c->pipelining)
		for (i = 0; i < c->ncmds; i++)
			smtp_client_send_cmd(c, i);
	else
		smtp_client_send_cmd(c, 0);
}

/* The message, dot-stuffed (RFC 5321 4.5.2), and the final dot. */
static void
smtp_client_body(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *p = c->q->msg, *end = p + c->q->msg_len, *nl;

	while (p < end) {
		if (*p == '.')
			evbuffer_add(out, ".", 1);
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl != NULL ? nl + 1 : end;
		evbuffer_add(out, p, (size_t)(nl - p));
		p = nl;
	}
	if (c->q->msg_len > 0 && (c->q->msg_len < 2 || memcmp(end - 2, "\r\n", 2) != 0))
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	c->state = SMTP_CL_DOT;
	smtp_client_timeouts(c, SMTP_CL_TIMEOUT_DOT);
}

/* A reply to cmds[answered] in the transaction. */
static void
smtp_client_txn_reply(struct smtp_client *c)
{
	size_t i = c->answered++, n = c->q->nrcpts;
	bool ok = c->code >= 200 && c->code < 300;

	if (i == 0 && !ok) {
		smtp_client_decide_all(c, false, c->code, c->first);
		smtp_client_quit(c);
		return;
	}
	if (i >= 1 && i <= n) {
		if (ok) {
			c->rcpt_ok[i - 1] = true;
			c->accepted++;
		} else {
			c->res.rcpts[i - 1].code = c->code;
			snprintf(c->res.rcpts[i - 1].text, sizeof c->res.rcpts[i - 1].text, "%s",
			    c->first);
		}
		if (i == n && !c->pipelining && c->accepted == 0) {
			smtp_client_quit(c);
			return;
		}
	}
	if (i == n + 1) {
		if (c->code == 354 && c->accepted > 0)
			smtp_client_body(c);
		else if (c->code == 354) {
			evbuffer_add(bufferevent_get_output(c->bev), ".\r\n", 3);
			c->state = SMTP_CL_DOT_ABORT;
		} else {
			smtp_client_decide_all(c, true, c->code, c->first);
			smtp_client_quit(c);
		}
		return;
	}
	if (!c->pipelining && c->sent < c->ncmds)
		smtp_client_send_cmd(c, c->sent);
}

static void
smtp_client_tls(struct smtp_client *c)
{
	SSL *ssl = SSL_new(c->tls_ctx);
	struct bufferevent *b;

	if (ssl == NULL) {
		smtp_client_set_fail(c, "451 4.7.5 TLS setup failed");
		smtp_client_finish(c);
		return;
	}
	if (strspn(c->res.remote, "0123456789.") != strlen(c->res.remote) &&
	    strchr(c->res.remote, ':') == NULL)
		SSL_set_tlsext_host_name(ssl, c->res.remote);	/* SNI takes names only */
	/* RFC 3207 4.2: nothing read before the handshake counts */
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	b = bufferevent_openssl_filter_new(c->ctx->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (b == NULL) {
		SSL_free(ssl);
		smtp_client_set_fail(c, "451 4.7.5 TLS setup failed");
		smtp_client_finish(c);
		return;
	}
	c->bev = b;
	bufferevent_setcb(c->bev, smtp_client_read_cb, NULL, smtp_client_event_cb, c);
	c->state = SMTP_CL_HANDSHAKE;
	smtp_client_set_fail(c, "451 4.7.5 TLS handshake with the relay host failed");
	smtp_client_timeouts(c, SMTP_CL_TIMEOUT_CMD);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* The end of EHLO (or HELO): STARTTLS per policy, or the transaction. */
static void
smtp_client_after_ehlo(struct smtp_client *c)
{
	int mode = c->ctx->conf->relay.starttls;

	if (!c->tls && c->starttls && mode != CONF_STARTTLS_OFF && c->tls_ctx != NULL) {
		c->state = SMTP_CL_STARTTLS;
		smtp_client_send(c, "STARTTLS");
		return;
	}
	if (!c->tls && mode == CONF_STARTTLS_REQUIRED) {
		smtp_client_set_fail(c, "451 4.7.4 relay host does not offer STARTTLS "
		    "(required by [relay] starttls)");
		smtp_client_quit(c);
		return;
	}
	smtp_client_txn(c);
}

/*
 * The relay refused the session itself (greeting, EHLO and HELO): like
 * Postfix with its relayhost, defer rather than bounce; a misconfigured
 * relay must not turn every queued mail into a bounce.
 */
static void
smtp_client_refused(struct smtp_client *c)
{
	smtp_client_set_fail(c, "451 4.4.2 relay host refused the session: %.400s", c->first);
	smtp_client_quit(c);
}

/* A complete reply: c->code, c->first. */
static void
smtp_client_reply(struct smtp_client *c)
{
	bool ok = c->code >= 200 && c->code < 300;

	switch (c->state) {
	case SMTP_CL_GREET:
		if (!ok)
			smtp_client_refused(c);
		else
			smtp_client_ehlo(c);
		break;
	case SMTP_CL_EHLO:
		if (ok)
			smtp_client_after_ehlo(c);
		else if (c->code >= 500) {
			c->state = SMTP_CL_HELO;
			smtp_client_send(c, "HELO %s", c->ctx->conf->gateway.hostname);
		} else
			smtp_client_refused(c);
		break;
	case SMTP_CL_HELO:
		if (ok)
			smtp_client_after_ehlo(c);
		else
			smtp_client_refused(c);
		break;
	case SMTP_CL_STARTTLS:
		if (c->code == 220)
			smtp_client_tls(c);
		else if (c->ctx->conf->relay.starttls == CONF_STARTTLS_REQUIRED) {
			smtp_client_set_fail(c, "451 4.7.4 relay host refused STARTTLS: %s",
			    c->first);
			smtp_client_quit(c);
		} else
			smtp_client_txn(c);
		break;
	case SMTP_CL_TXN:
		smtp_client_txn_reply(c);
		break;
	case SMTP_CL_DOT:
		smtp_client_decide_all(c, true, c->code, c->first);
		smtp_client_quit(c);
		break;
	case SMTP_CL_DOT_ABORT:
		smtp_client_quit(c);
		break;
	case SMTP_CL_QUIT:
		smtp_client_finish(c);
		break;
	default:
		break;
	}
}

static void
smtp_client_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *text;
	size_t n, tl;
	unsigned code;
	bool last;
	char *line;

	while (!c->finished && c->state != SMTP_CL_HANDSHAKE &&
	    (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		/* RFC 5321 4.5.3.1.5 says 512, some servers say more: keep the head */
		if (n > SMTP_REPLY_MAX)
			n = SMTP_REPLY_MAX;
		if (smtp_reply_line(line, n, &code, &last, &text, &tl) < 0 ||
		    (c->code != 0 && code != c->code)) {
			free(line);
			smtp_client_set_fail(c, "451 4.5.0 malformed reply from the relay host");
			smtp_client_finish(c);
			return;
		}
		if (c->code == 0) {
			c->code = code;
			snprintf(c->first, sizeof c->first, "%.*s", (int)n, line);
		} else if (c->state == SMTP_CL_EHLO)
			smtp_client_ext(c, text, tl);
		free(line);
		if (!last)
			continue;
		smtp_client_reply(c);
		c->code = 0;
	}
	if (!c->finished && evbuffer_get_length(in) > SMTP_CL_INPUT_MAX) {
		smtp_client_set_fail(c, "451 4.5.0 reply line too long from the relay host");
		smtp_client_finish(c);
	}
}

static void
smtp_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;

	(void)bev;
	if (c->finished)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == SMTP_CL_CONNECT) {
			c->state = SMTP_CL_GREET;
			smtp_client_set_fail(c, "451 4.4.2 relay host closed the connection");
		} else if (c->state == SMTP_CL_HANDSHAKE) {
			c->tls = true;
			smtp_client_set_fail(c, "451 4.4.2 relay host closed the connection");
			smtp_client_ehlo(c);
		}
		return;
	}
	if (c->state == SMTP_CL_CONNECT) {
		smtp_client_set_fail(c, "451 4.4.1 cannot connect to the relay host: %s",
		    (what & BEV_EVENT_TIMEOUT) ? "timeout" : strerror(EVUTIL_SOCKET_ERROR()));
		bufferevent_free(c->bev);
		c->bev = NULL;
		smtp_client_connect_next(c);
		return;
	}
	/* closed after QUIT (or before its 221): the outcome stands */
	if ((what & BEV_EVENT_TIMEOUT) && c->state != SMTP_CL_QUIT)
		smtp_client_set_fail(c, "451 4.4.2 timeout talking to the relay host");
	smtp_client_finish(c);
}

static void
smtp_client_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	smtp_client_report(arg);
}

static void
smtp_client_connect_next(struct smtp_client *c)
{
	const struct sockaddr *sa;
	socklen_t len;

	while (c->ai < c->naddrs) {
		sa = (const struct sockaddr *)&c->addrs[c->ai++];
		len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
		    sizeof(struct sockaddr_in);
		c->bev = bufferevent_socket_new(c->ctx->base, -1,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (c->bev == NULL)
			break;
		bufferevent_setcb(c->bev, smtp_client_read_cb, NULL, smtp_client_event_cb, c);
		smtp_client_timeouts(c, SMTP_CL_TIMEOUT_CMD);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		c->state = SMTP_CL_CONNECT;
		if (bufferevent_socket_connect(c->bev, sa, (int)len) == 0)
			return;
		smtp_client_set_fail(c, "451 4.4.1 cannot connect to the relay host: %s",
		    strerror(errno));
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	/* no address left: report from a later loop iteration */
	smtp_client_finish(c);
}

struct smtp_client *
smtp_client_start(struct gw_ctx *ctx, const struct smtp_client_req *req,
    smtp_client_done_fn *done, void *arg)
{
	struct smtp_client *c = xcalloc(1, sizeof *c);

	c->ctx = ctx;
	c->q = req->q;
	c->tls_ctx = req->tls;
	c->addrs = req->addrs;
	c->naddrs = req->naddrs;
	c->done = done;
	c->arg = arg;
	c->res.rcpts = xcalloc(req->q->nrcpts, sizeof *c->res.rcpts);
	c->rcpt_ok = xcalloc(req->q->nrcpts, sizeof *c->rcpt_ok);
	snprintf(c->res.remote, sizeof c->res.remote, "%s", req->host);
	smtp_client_set_fail(c, "451 4.4.1 cannot connect to the relay host");
	if ((c->ev_fail = event_new(ctx->base, -1, 0, smtp_client_fail_cb, c)) == NULL)
		fatal("event=event_new error=failed");
	smtp_client_connect_next(c);
	return c;
}
