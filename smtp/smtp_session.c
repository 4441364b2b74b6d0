/*
 * smtp_session.c: SMTP sessions on the gateway's connections. This first
 * version greets, answers EHLO/HELO/NOOP/RSET/STARTTLS/QUIT and refuses
 * mail transactions; the Inbound SMTP issue (#4) grows it into the full
 * RFC 5321 server.
 */
#include "smtp/smtp.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"

#define SMTP_LINE_MAX		1000	/* RFC 5321 4.5.3.1.4, with CRLF */
#define SMTP_TIMEOUT_CMD	300	/* RFC 5321 4.5.3.2.7 */

struct smtp_server {
	struct gw_ctx	*ctx;
};

struct smtp_session {
	struct gw_ctx	*ctx;
	struct gw_conn	*conn;
	bool		 submission;
	bool		 helo;
	char		 line[SMTP_LINE_MAX + 1];
	size_t		 line_len;
};

struct smtp_server *
smtp_server_new(struct gw_ctx *ctx)
{
	struct smtp_server *s = xcalloc(1, sizeof *s);

	s->ctx = ctx;
	return s;
}

void
smtp_server_free(struct smtp_server **s)
{
	free(*s);
	*s = NULL;
}

static void
smtp_reply(struct smtp_session *s, const char *line)
{
	gw_conn_printf(s->conn, "%s\r\n", line);
}

/* 1: a line in s->line; 0: need more; -1: too long or bare LF. */
static int
smtp_next_line(struct smtp_session *s, struct evbuffer *in)
{
	size_t eol_len;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);

	if (eol.pos < 0)
		return evbuffer_get_length(in) > SMTP_LINE_MAX ? -1 : 0;
	if ((size_t)eol.pos > SMTP_LINE_MAX)
		return -1;
	evbuffer_remove(in, s->line, (size_t)eol.pos);	/* bounds: line is SMTP_LINE_MAX + 1 */
	evbuffer_drain(in, eol_len);
	if (eol.pos == 0 || s->line[eol.pos - 1] != '\r')
		return -1;
	s->line_len = (size_t)eol.pos - 1;
	s->line[s->line_len] = '\0';
	return 1;
}

static bool
smtp_verb_is(const struct smtp_session *s, const char *verb)
{
	size_t n = strlen(verb);

	return s->line_len >= n && sg_ascii_ieq(s->line, n, verb) &&
	    (s->line_len == n || s->line[n] == ' ');
}

static void
smtp_do_ehlo(struct smtp_session *s, bool extended)
{
	const char *host = s->ctx->conf->gateway.hostname;

	s->helo = true;
	if (!extended) {
		gw_conn_printf(s->conn, "250 %s\r\n", host);
		return;
	}
	gw_conn_printf(s->conn, "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n", host,
	    (unsigned long long)s->ctx->conf->smtp.max_message_size);
	if (!gw_conn_is_tls(s->conn))
		smtp_reply(s, "250-STARTTLS");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME");
}

static void
smtp_do_starttls(struct smtp_session *s)
{
	if (gw_conn_is_tls(s->conn)) {
		smtp_reply(s, "503 5.5.1 TLS already active");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	s->helo = false;	/* RFC 3207 4.2: forget everything learned before TLS */
	if (gw_conn_starttls(s->conn) != 0)
		gw_conn_close(s->conn);
}

static void
smtp_dispatch(struct smtp_session *s)
{
	if (smtp_verb_is(s, "EHLO") || smtp_verb_is(s, "HELO"))
		smtp_do_ehlo(s, smtp_verb_is(s, "EHLO"));
	else if (smtp_verb_is(s, "NOOP"))
		smtp_reply(s, "250 2.0.0 OK");
	else if (smtp_verb_is(s, "RSET"))
		smtp_reply(s, "250 2.0.0 Reset");
	else if (smtp_verb_is(s, "STARTTLS"))
		smtp_do_starttls(s);
	else if (smtp_verb_is(s, "QUIT")) {
		smtp_reply(s, "221 2.0.0 Bye");
		gw_conn_close(s->conn);
	} else
		smtp_reply(s, "502 5.5.1 Command not implemented");
}

static void
smtp_read(struct gw_conn *c, void *arg)
{
	struct smtp_session *s = arg;
	int rc;

	while (!gw_conn_is_closed(c) && (rc = smtp_next_line(s, gw_conn_in(c))) != 0) {
		if (rc < 0) {
			smtp_reply(s, "500 5.5.2 Line too long or not ended by CRLF");
			gw_conn_close(c);
			return;
		}
		smtp_dispatch(s);
		if (smtp_verb_is(s, "STARTTLS"))
			return;	/* the input belongs to the TLS layer now */
	}
}

static void
smtp_timeout(struct gw_conn *c, void *arg)
{
	(void)arg;
	gw_conn_printf(c, "421 4.4.2 %s Timeout, closing connection\r\n",
	    gw_conn_ctx(c)->conf->gateway.hostname);
	gw_conn_close(c);
}

static void
smtp_shutdown(struct gw_conn *c, void *arg)
{
	(void)arg;
	gw_conn_printf(c, "421 4.3.2 %s Service shutting down\r\n",
	    gw_conn_ctx(c)->conf->gateway.hostname);
	gw_conn_close(c);
}

static void
smtp_closed(struct gw_conn *c, void *arg, enum gw_close_reason why)
{
	(void)c;
	(void)why;
	free(arg);
}

static const struct gw_conn_ops smtp_ops = {
	.read = smtp_read,
	.timeout = smtp_timeout,
	.shutdown = smtp_shutdown,
	.closed = smtp_closed,
};

static void
smtp_start(struct gw_ctx *ctx, struct gw_conn *c, bool submission)
{
	struct smtp_session *s = xcalloc(1, sizeof *s);

	s->ctx = ctx;
	s->conn = c;
	s->submission = submission;
	gw_conn_set_timeout(c, SMTP_TIMEOUT_CMD);
	gw_conn_set_read_limit(c, 4 * SMTP_LINE_MAX);
	gw_conn_set_ops(c, &smtp_ops, s);
	gw_conn_printf(c, "220 %s ESMTP sealgate\r\n", ctx->conf->gateway.hostname);
}

void
smtp_start_inbound(struct gw_ctx *ctx, struct gw_conn *c)
{
	smtp_start(ctx, c, false);
}

void
smtp_start_submission(struct gw_ctx *ctx, struct gw_conn *c)
{
	smtp_start(ctx, c, true);
}
