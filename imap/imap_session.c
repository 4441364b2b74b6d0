/*
 * imap_session.c: IMAP sessions. This first version greets and answers
 * CAPABILITY, NOOP, STARTTLS and LOGOUT; the IMAP issue (#9) grows it into
 * the full server.
 */
#include "imap/imap.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"

#define IMAP_LINE_MAX		8192
#define IMAP_TIMEOUT_PREAUTH	60

struct imap_server {
	struct gw_ctx	*ctx;
};

struct imap_session {
	struct gw_ctx	*ctx;
	struct gw_conn	*conn;
	char		 line[IMAP_LINE_MAX + 1];
	size_t		 line_len;
};

struct imap_server *
imap_server_new(struct gw_ctx *ctx)
{
	struct imap_server *s = xcalloc(1, sizeof *s);

	s->ctx = ctx;
	return s;
}

void
imap_server_free(struct imap_server **s)
{
	free(*s);
	*s = NULL;
}

static void
imap_capability(struct imap_session *s)
{
	gw_conn_printf(s->conn, "* CAPABILITY IMAP4rev1%s\r\n",
	    gw_conn_is_tls(s->conn) ? "" : " STARTTLS LOGINDISABLED");
}

static int
imap_next_line(struct imap_session *s, struct evbuffer *in)
{
	size_t eol_len;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);

	if (eol.pos < 0)
		return evbuffer_get_length(in) > IMAP_LINE_MAX ? -1 : 0;
	if ((size_t)eol.pos > IMAP_LINE_MAX)
		return -1;
	evbuffer_remove(in, s->line, (size_t)eol.pos);	/* bounds: line is IMAP_LINE_MAX + 1 */
	evbuffer_drain(in, eol_len);
	s->line_len = (size_t)eol.pos;
	s->line[s->line_len] = '\0';
	return 1;
}

/* Returns true if the input now belongs to TLS. */
static bool
imap_dispatch(struct imap_session *s)
{
	char *sp = strchr(s->line, ' '), *cmd;
	const char *tag = s->line;

	if (sp == NULL || sp == s->line) {
		gw_conn_printf(s->conn, "* BAD Missing tag or command\r\n");
		return false;
	}
	*sp = '\0';
	cmd = sp + 1;
	if (strcasecmp(cmd, "CAPABILITY") == 0) {
		imap_capability(s);
		gw_conn_printf(s->conn, "%s OK CAPABILITY completed\r\n", tag);
	} else if (strcasecmp(cmd, "NOOP") == 0)
		gw_conn_printf(s->conn, "%s OK NOOP completed\r\n", tag);
	else if (strcasecmp(cmd, "LOGOUT") == 0) {
		gw_conn_printf(s->conn, "* BYE Logging out\r\n%s OK LOGOUT completed\r\n", tag);
		gw_conn_close(s->conn);
	} else if (strcasecmp(cmd, "STARTTLS") == 0) {
		if (gw_conn_is_tls(s->conn)) {
			gw_conn_printf(s->conn, "%s BAD TLS is already active\r\n", tag);
			return false;
		}
		gw_conn_printf(s->conn, "%s OK Begin TLS negotiation now\r\n", tag);
		if (gw_conn_starttls(s->conn) != 0)
			gw_conn_close(s->conn);
		return true;
	} else
		gw_conn_printf(s->conn, "%s BAD Unknown command\r\n", tag);
	return false;
}

static void
imap_read(struct gw_conn *c, void *arg)
{
	struct imap_session *s = arg;
	int rc;

	while (!gw_conn_is_closed(c) && (rc = imap_next_line(s, gw_conn_in(c))) != 0) {
		if (rc < 0) {
			gw_conn_printf(c, "* BYE Line too long\r\n");
			gw_conn_close(c);
			return;
		}
		if (imap_dispatch(s))
			return;
	}
}

static void
imap_timeout(struct gw_conn *c, void *arg)
{
	(void)arg;
	gw_conn_printf(c, "* BYE Autologout; idle for too long\r\n");
	gw_conn_close(c);
}

static void
imap_shutdown(struct gw_conn *c, void *arg)
{
	(void)arg;
	gw_conn_printf(c, "* BYE Server shutting down\r\n");
	gw_conn_close(c);
}

static void
imap_closed(struct gw_conn *c, void *arg, enum gw_close_reason why)
{
	(void)c;
	(void)why;
	free(arg);
}

static const struct gw_conn_ops imap_ops = {
	.read = imap_read,
	.timeout = imap_timeout,
	.shutdown = imap_shutdown,
	.closed = imap_closed,
};

void
imap_start(struct gw_ctx *ctx, struct gw_conn *c)
{
	struct imap_session *s = xcalloc(1, sizeof *s);

	s->ctx = ctx;
	s->conn = c;
	gw_conn_set_timeout(c, IMAP_TIMEOUT_PREAUTH);
	gw_conn_set_read_limit(c, 2 * IMAP_LINE_MAX);
	gw_conn_set_ops(c, &imap_ops, s);
	gw_conn_printf(c, "* OK [CAPABILITY IMAP4rev1%s] sealgate ready\r\n",
	    gw_conn_is_tls(c) ? "" : " STARTTLS LOGINDISABLED");
}
