/*
 * imap_cmd_idle.c: IDLE (RFC 2177). While idling the session hears of
 * commits to its mailbox at once (the store's change hook reaches
 * imap_server_notify through the loop) and sends an untagged OK every
 * [imap] keepalive so that NAT boxes keep the flow (INTEROP.md).
 */
#include "imap/imap_private.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gw_conn.h"

static void
imap_idle_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;
	struct timeval tv = { (time_t)s->ctx->conf->imap.keepalive, 0 };

	(void)fd;
	(void)what;
	if (s->busy != IMAP_BUSY_IDLE || s->closed)
		return;
	imap_printf(s, "* OK Still here\r\n");
	evtimer_add(s->idle_timer, &tv);
}

void
imap_cmd_idle(struct imap_session *s, struct imap_cmd *cmd)
{
	struct timeval tv = { (time_t)s->ctx->conf->imap.keepalive, 0 };

	/* An idling session may last for hours: keep the tag, not the command
	 * and its parser arena (a page each, for every idle connection). */
	snprintf(s->idle_tag, sizeof s->idle_tag, "%s", cmd->tag.s);
	imap_cmd_free(&s->cmd);
	s->busy = IMAP_BUSY_IDLE;
	imap_session_timeout(s);
	imap_printf(s, "+ idling\r\n");
	imap_sync(s);
	if (s->idle_timer == NULL)
		s->idle_timer = evtimer_new(s->ctx->base, imap_idle_keepalive, s);
	evtimer_add(s->idle_timer, &tv);
}

void
imap_idle_end(struct imap_session *s, bool done)
{
	evtimer_del(s->idle_timer);
	s->busy = IMAP_BUSY_NONE;
	imap_session_timeout(s);
	if (done)
		imap_done(s, "OK", "IDLE terminated");
	else
		imap_done(s, "BAD", "Expected DONE");
}

void
imap_idle_input(struct imap_session *s)
{
	struct evbuffer *in = gw_conn_in(s->conn);
	size_t len = evbuffer_get_length(in), used = 0;
	const char *data = (const char *)evbuffer_pullup(in, -1);
	enum imap_done_rc rc = imap_idle_done(data, len, &used);

	if (rc == IMAP_DONE_MORE) {
		if (len > IMAP_DONE_LINE_MAX) {
			evbuffer_drain(in, len);
			imap_idle_end(s, false);
		}
		return;
	}
	evbuffer_drain(in, used);
	imap_idle_end(s, rc == IMAP_DONE_OK);
}

void
imap_idle_notify(struct imap_session *s)
{
	imap_sync(s);
}
