/*
 * imap_session.c: IMAP sessions. The session feeds its input to the pure
 * parser (imap_parse.h) and runs one command at a time (STYLE.md §4:
 * pipelined commands wait in the input buffer while an asynchronous one
 * runs). Each command passes the state check of the table below before it
 * does anything; imap_done() is the one way a command ends: it sends the
 * untagged updates RFC 3501 7.4.1 allows at that moment, the tagged reply,
 * and resumes reading.
 */
#include "imap/imap_private.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_auth.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"

struct imap_cmd_def {
	unsigned	 states;
	imap_cmd_fn	*run;
};

static const struct imap_cmd_def imap_cmds[IMAP_CMD_COUNT] = {
	[IMAP_CMD_CAPABILITY]	= { IMAP_ST_ANY, imap_cmd_capability },
	[IMAP_CMD_NOOP]		= { IMAP_ST_ANY, imap_cmd_noop },
	[IMAP_CMD_LOGOUT]	= { IMAP_ST_ANY, imap_cmd_logout },
	[IMAP_CMD_STARTTLS]	= { IMAP_ST_NOTAUTH, imap_cmd_starttls },
	[IMAP_CMD_AUTHENTICATE]	= { IMAP_ST_NOTAUTH, imap_cmd_authenticate },
	[IMAP_CMD_LOGIN]	= { IMAP_ST_NOTAUTH, imap_cmd_login },
	[IMAP_CMD_ENABLE]	= { IMAP_ST_LOGGED, imap_cmd_enable },
	[IMAP_CMD_ID]		= { IMAP_ST_ANY, imap_cmd_id },
	[IMAP_CMD_NAMESPACE]	= { IMAP_ST_LOGGED, imap_cmd_namespace },
	[IMAP_CMD_SELECT]	= { IMAP_ST_LOGGED, imap_cmd_select },
	[IMAP_CMD_EXAMINE]	= { IMAP_ST_LOGGED, imap_cmd_select },
	[IMAP_CMD_CREATE]	= { IMAP_ST_LOGGED, imap_cmd_create },
	[IMAP_CMD_DELETE]	= { IMAP_ST_LOGGED, imap_cmd_delete },
	[IMAP_CMD_RENAME]	= { IMAP_ST_LOGGED, imap_cmd_rename },
	[IMAP_CMD_SUBSCRIBE]	= { IMAP_ST_LOGGED, imap_cmd_subscribe },
	[IMAP_CMD_UNSUBSCRIBE]	= { IMAP_ST_LOGGED, imap_cmd_subscribe },
	[IMAP_CMD_LIST]		= { IMAP_ST_LOGGED, imap_cmd_list },
	[IMAP_CMD_LSUB]		= { IMAP_ST_LOGGED, imap_cmd_list },
	[IMAP_CMD_STATUS]	= { IMAP_ST_LOGGED, imap_cmd_status },
	[IMAP_CMD_APPEND]	= { IMAP_ST_LOGGED, imap_cmd_append_done },
	[IMAP_CMD_CHECK]	= { IMAP_ST_SELECTED, imap_cmd_check },
	[IMAP_CMD_CLOSE]	= { IMAP_ST_SELECTED, imap_cmd_close },
	[IMAP_CMD_UNSELECT]	= { IMAP_ST_SELECTED, imap_cmd_unselect },
	[IMAP_CMD_EXPUNGE]	= { IMAP_ST_SELECTED, imap_cmd_expunge },
	[IMAP_CMD_SEARCH]	= { IMAP_ST_SELECTED, imap_cmd_search },
	[IMAP_CMD_FETCH]	= { IMAP_ST_SELECTED, imap_cmd_fetch },
	[IMAP_CMD_STORE]	= { IMAP_ST_SELECTED, imap_cmd_store },
	[IMAP_CMD_COPY]		= { IMAP_ST_SELECTED, imap_cmd_copy },
	[IMAP_CMD_MOVE]		= { IMAP_ST_SELECTED, imap_cmd_copy },
	[IMAP_CMD_IDLE]		= { IMAP_ST_LOGGED, imap_cmd_idle },
};

static const char *const imap_state_names[] = {
	[IMAP_ST_NOTAUTH] = "notauth", [IMAP_ST_AUTH] = "auth",
	[IMAP_ST_SELECTED] = "selected", [IMAP_ST_LOGOUT] = "logout",
};

static void imap_read(struct gw_conn *c, void *arg);

struct imap_server *
imap_server_new(struct gw_ctx *ctx)
{
	struct imap_server *srv = xcalloc(1, sizeof *srv);
	const char *delay = getenv(IMAP_TEST_SCAN_DELAY_ENV);

	srv->ctx = ctx;
	if (delay != NULL && delay[0] != '\0') {
		imap_test_scan_delay_ms = (unsigned)strtoul(delay, NULL, 10) % 60000;
		log_warn("imap", "event=test_scan_delay ms=%u", imap_test_scan_delay_ms);
	}
	return srv;
}

void
imap_server_free(struct imap_server **srvp)
{
	struct imap_server *srv = *srvp;

	if (srv == NULL)
		return;
	SG_ASSERT(srv->sessions == NULL);
	free(srv);
	*srvp = NULL;
}

void
imap_server_notify(struct imap_server *srv, const uint64_t *mailboxes, size_t n)
{
	struct imap_session *s, *next;
	size_t i;

	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->busy != IMAP_BUSY_IDLE || s->view == NULL)
			continue;
		for (i = 0; i < n; i++)
			if (mailboxes[i] == s->view->mbox.id) {
				imap_idle_notify(s);
				break;
			}
	}
}

void
imap_server_drop_keys(struct imap_server *srv, const uint64_t *accounts, size_t n)
{
	struct imap_session *s;
	size_t i;

	for (s = srv->sessions; s != NULL; s = s->next)
		for (i = 0; i < n; i++)
			if (s->sk != NULL && s->account.id == accounts[i]) {
				/* The password changed or the account was reset or
				 * disabled: this session's key must not outlive it. */
				imap_printf(s, "* BYE Your credentials changed; log in again\r\n");
				gw_conn_close(s->conn);
				break;
			}
}

/*
 * The admin commands run in their own process, so the store's change hook
 * never tells this daemon that they disabled, reset or deleted an account.
 * The housekeeping timer calls this to end such accounts' open sessions:
 * a key must not outlive the credentials that unlocked it.
 */
void
imap_server_check_accounts(struct imap_server *srv)
{
	struct imap_session *s;
	struct store_account a;
	struct store_txn *t;
	enum store_rc rc;

	if (srv->sessions == NULL || (t = store_read_begin(srv->ctx->store, &rc)) == NULL)
		return;
	for (s = srv->sessions; s != NULL; s = s->next) {
		if (s->sk == NULL || s->closed || gw_conn_is_closed(s->conn))
			continue;
		rc = store_account_get_id(t, s->account.id, &a);
		if (rc == STORE_TEMPFAIL || (rc == STORE_OK && a.state == STORE_ACCT_ACTIVE &&
		    memcmp(a.pk, s->account.pk, sizeof a.pk) == 0))
			continue;
		log_info("imap", "session=%08x event=account_changed account=%llu",
		    gw_conn_id(s->conn), (unsigned long long)s->account.id);
		sec_cache_forget(srv->ctx->login_cache, s->account.address);
		imap_printf(s, "* BYE Your account was changed; log in again\r\n");
		gw_conn_close(s->conn);
	}
	store_read_end(&t);
}

void
imap_set_state(struct imap_session *s, enum imap_state st)
{
	if (s->state == st)
		return;
	log_debug("imap", "session=%08x event=state from=%s to=%s", gw_conn_id(s->conn),
	    imap_state_names[s->state], imap_state_names[st]);
	s->state = st;
}

void
imap_printf(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gw_conn_vprintf(s->conn, fmt, ap);
	va_end(ap);
}

void
imap_write(struct imap_session *s, const void *p, size_t n)
{
	gw_conn_write(s->conn, p, n);
}

/* RFC 3501 7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH (the
 * UID forms may see them: their numbers do not shift). */
static bool
imap_expunge_allowed(const struct imap_cmd *cmd)
{
	if (cmd == NULL)
		return true;
	switch (cmd->id) {
	case IMAP_CMD_FETCH:
	case IMAP_CMD_STORE:
	case IMAP_CMD_SEARCH:
		return cmd->uid;
	default:
		return true;
	}
}

void
imap_wait(struct imap_session *s)
{
	s->busy = IMAP_BUSY_CMD;
	gw_conn_pause(s->conn);
}

/* The command is over: free it and read the next. */
static void
imap_done_finish(struct imap_session *s)
{
	imap_cmd_free(&s->cmd);
	s->idle_tag[0] = '\0';
	if (s->busy == IMAP_BUSY_CMD) {
		s->busy = IMAP_BUSY_NONE;
		if (!s->closed)
			gw_conn_resume(s->conn);
	}
}

void
imap_done(struct imap_session *s, const char *status, const char *fmt, ...)
{
	char *line, *text;
	va_list ap;

	if (s->closed) {
		imap_done_finish(s);
		return;
	}
	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	/* IDLE keeps only its tag (imap_cmd_idle.c). */
	line = xasprintf("%s %s %s\r\n", s->cmd != NULL ? s->cmd->tag.s :
	    s->idle_tag[0] != '\0' ? s->idle_tag : "*", status, text);
	free(text);
	if (s->view != NULL && (s->cmd == NULL || (s->cmd->id != IMAP_CMD_SELECT &&
	    s->cmd->id != IMAP_CMD_EXAMINE)) &&
	    imap_sync_then(s, imap_expunge_allowed(s->cmd), line)) {
		/* The reply waits for the mailbox's state: so does the input. */
		if (s->busy != IMAP_BUSY_CMD)
			imap_wait(s);
		return;
	}
	imap_write(s, line, strlen(line));
	free(line);
	imap_done_finish(s);
}

void
imap_done_resume(struct imap_session *s)
{
	char *line = s->done_line;

	s->done_line = NULL;
	if (!s->closed)
		imap_write(s, line, strlen(line));
	free(line);
	imap_done_finish(s);
}

void
imap_done_store_error(struct imap_session *s, enum store_rc rc, const char *what)
{
	switch (rc) {
	case STORE_NOTFOUND:
		imap_done(s, "NO", "[NONEXISTENT] %s: no such mailbox", what);
		break;
	case STORE_EXISTS:
		imap_done(s, "NO", "[ALREADYEXISTS] %s already exists", what);
		break;
	case STORE_INVALID:
		imap_done(s, "NO", "[CANNOT] %s: not allowed", what);
		break;
	case STORE_LIMIT:
		imap_done(s, "NO", "[LIMIT] %s: too many", what);
		break;
	case STORE_TEMPFAIL:
		imap_done(s, "NO", "[SERVERBUG] %s: temporary storage failure, try again", what);
		break;
	default:
		imap_done(s, "NO", "[SERVERBUG] %s failed (%s)", what, store_rc_str(rc));
		break;
	}
}

const char *
imap_capabilities(const struct imap_session *s)
{
	static char buf[512];	/* loop thread only */
	bool tls = gw_conn_is_tls(s->conn);

	if (s->state == IMAP_ST_NOTAUTH) {
		snprintf(buf, sizeof buf, "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE%s",
		    tls ? " AUTH=PLAIN" : " STARTTLS LOGINDISABLED");
		return buf;
	}
	snprintf(buf, sizeof buf, "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE "
	    "UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED "
	    "LIST-STATUS ESEARCH SEARCHRES CONDSTORE MULTIAPPEND APPENDLIMIT=%llu",
	    (unsigned long long)s->ctx->conf->smtp.max_message_size);
	return buf;
}

void
imap_session_ref(struct imap_session *s)
{
	s->refs++;
}

static void
imap_session_free(struct imap_session *s)
{
	struct imap_server *srv = s->server;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	srv->nsessions--;
	imap_cmd_free(&s->cmd);
	imap_parser_free(&s->parser);
	imap_view_free(&s->view);
	sec_sk_unref(&s->sk);
	imap_acct_put(&s->acct);
	if (s->idle_timer != NULL)
		event_free(s->idle_timer);
	free(s->account.address);
	free(s->done_line);
	free(s);
}

bool
imap_session_unref(struct imap_session *s)
{
	SG_ASSERT(s->refs > 0);
	if (--s->refs == 0) {
		imap_session_free(s);
		return false;
	}
	return !s->closed;
}

bool
imap_session_alive(const struct imap_session *s)
{
	return !s->closed;
}

static void
imap_dispatch(struct imap_session *s, struct imap_cmd *cmd)
{
	const struct imap_cmd_def *d = &imap_cmds[cmd->id];

	s->cmd = cmd;
	log_debug("imap", "session=%08x event=command cmd=%s%s", gw_conn_id(s->conn),
	    cmd->uid ? "UID " : "", imap_cmd_name(cmd->id));
	if (d->run == NULL)
		imap_done(s, "BAD", "Unknown command");
	else if ((d->states & s->state) == 0) {
		if (s->state == IMAP_ST_NOTAUTH)
			imap_done(s, "NO", "[AUTHENTICATIONFAILED] Log in first");
		else if (cmd->id == IMAP_CMD_LOGIN || cmd->id == IMAP_CMD_AUTHENTICATE ||
		    cmd->id == IMAP_CMD_STARTTLS)
			imap_done(s, "BAD", "Already logged in");
		else
			imap_done(s, "BAD", "No mailbox selected");
	} else
		d->run(s, cmd);
}

static void
imap_parse_error(struct imap_session *s, const struct imap_parse_event *ev)
{
	const char *code = ev->err == IMAP_PERR_LINE_TOO_LONG ||
	    ev->err == IMAP_PERR_CMD_TOO_LONG || ev->err == IMAP_PERR_LITERAL_TOO_BIG ?
	    "[TOOBIG] " : "";

	if (ev->tag != NULL)
		imap_printf(s, "%.*s ", (int)ev->tag_len, ev->tag);
	else
		imap_printf(s, "* ");
	if (ev->err == IMAP_PERR_APPEND_TOO_BIG && !ev->fatal)
		imap_printf(s, "NO [TOOBIG] Message too large (APPENDLIMIT=%llu)\r\n",
		    (unsigned long long)s->ctx->conf->smtp.max_message_size);
	else
		imap_printf(s, "BAD %s%s\r\n", code, ev->err_msg);
	imap_append_abort(s);	/* a MULTIAPPEND that went wrong keeps nothing */
	if (ev->fatal) {
		imap_printf(s, "* BYE Cannot continue after that\r\n");
		gw_conn_close(s->conn);
	}
}

/* One parser event; false when reading must stop for now. */
static bool
imap_handle_event(struct imap_session *s, enum imap_parse_rc rc, struct imap_parse_event *ev)
{
	switch (rc) {
	case IMAP_PARSE_MORE:
		return false;
	case IMAP_PARSE_COMMAND:
		imap_dispatch(s, ev->cmd);
		return true;
	case IMAP_PARSE_LITERAL:
		if (s->state == IMAP_ST_NOTAUTH && ev->cmd_id != IMAP_CMD_LOGIN &&
		    ev->cmd_id != IMAP_CMD_AUTHENTICATE) {
			imap_printf(s, "%.*s BAD Literals need a login first\r\n",
			    (int)ev->tag_len, ev->tag);
			imap_parser_reject(s->parser);
		} else
			imap_printf(s, "+ Ready for literal data\r\n");
		return true;
	case IMAP_PARSE_APPEND:
		imap_append_begin(s, ev);
		return true;
	case IMAP_PARSE_ERROR:
		imap_parse_error(s, ev);
		return !ev->fatal;
	}
	return false;
}

static void
imap_read(struct gw_conn *c, void *arg)
{
	struct imap_session *s = arg;
	struct evbuffer *in = gw_conn_in(c);

	imap_session_ref(s);
	while (!s->closed && !gw_conn_is_closed(c)) {
		struct imap_parse_event ev;
		enum imap_parse_rc rc;
		size_t len, used = 0;
		const char *data;

		if (s->busy == IMAP_BUSY_APPEND) {
			if (!imap_append_take(s))
				break;
			continue;
		}
		if (s->busy == IMAP_BUSY_IDLE) {
			if (evbuffer_get_length(in) == 0)
				break;
			imap_idle_input(s);
			if (s->busy == IMAP_BUSY_IDLE)
				break;
			continue;
		}
		if (s->busy != IMAP_BUSY_NONE && s->busy != IMAP_BUSY_AUTH_CONT)
			break;
		if ((len = evbuffer_get_length(in)) == 0)
			break;
		if (s->busy == IMAP_BUSY_AUTH_CONT) {
			if (!imap_auth_input(s))
				break;
			continue;
		}
		data = (const char *)evbuffer_pullup(in, -1);
		memset(&ev, 0, sizeof ev);
		rc = imap_parser_feed(s->parser, data, len, &used, &ev);
		evbuffer_drain(in, used);
		if (!imap_handle_event(s, rc, &ev))
			break;
	}
	imap_session_unref(s);
}

static void
imap_timeout(struct gw_conn *c, void *arg)
{
	struct imap_session *s = arg;

	(void)s;
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
imap_drained(struct gw_conn *c, void *arg)
{
	(void)c;
	imap_fetch_drained(arg);
}

static void
imap_closed(struct gw_conn *c, void *arg, enum gw_close_reason why)
{
	struct imap_session *s = arg;

	log_debug("imap", "session=%08x event=disconnect reason=%s", gw_conn_id(c),
	    gw_close_reason_names[why]);
	s->closed = true;
	gw_auth_cancel(&s->auth);
	imap_append_abort(s);
	imap_fetch_abort(s);
	if (s->idle_timer != NULL)
		event_del(s->idle_timer);
	imap_session_unref(s);
}

static const struct gw_conn_ops imap_ops = {
	.read = imap_read,
	.drained = imap_drained,
	.timeout = imap_timeout,
	.shutdown = imap_shutdown,
	.closed = imap_closed,
};

void
imap_session_limits(struct imap_session *s)
{
	struct imap_parse_limits lim;
	bool logged = s->state != IMAP_ST_NOTAUTH;

	imap_parse_limits_default(&lim);
	lim.line_max = logged ? IMAP_LINE_MAX_AUTH : IMAP_LINE_MAX_PREAUTH;
	lim.append_max = s->ctx->conf->smtp.max_message_size;
	if (!logged) {
		/* Tighter before login (STYLE.md §4): small literals, few args. */
		lim.cmd_max = 2 * IMAP_LINE_MAX_PREAUTH;
		lim.literal_max = IMAP_AUTH_MAX;
		lim.args_max = 64;
	}
	imap_parser_set_limits(s->parser, &lim);
	gw_conn_set_read_limit(s->conn, lim.line_max + IMAP_READ_SLACK);
	imap_session_timeout(s);
}

/*
 * RFC 3501 5.4: the autologout timer is at least 30 minutes ([imap]
 * autologout). RFC 2177 lets a server drop IDLE after 29 minutes, but
 * clients differ in how often they renew it (INTEROP.md): an idling session
 * keeps its connection while the keepalives get through.
 */
void
imap_session_timeout(struct imap_session *s)
{
	unsigned secs = IMAP_TIMEOUT_PREAUTH;

	if (s->busy == IMAP_BUSY_IDLE)
		secs = 0;
	else if (s->state != IMAP_ST_NOTAUTH)
		secs = (unsigned)s->ctx->conf->imap.autologout;
	gw_conn_set_timeout(s->conn, secs);
}

void
imap_start(struct gw_ctx *ctx, struct gw_conn *c)
{
	struct imap_server *srv = ctx->imap;
	struct imap_session *s = xcalloc(1, sizeof *s);

	s->server = srv;
	s->ctx = ctx;
	s->conn = c;
	s->refs = 1;	/* the connection's */
	s->state = IMAP_ST_NOTAUTH;
	s->parser = imap_parser_new(NULL);
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	imap_session_limits(s);
	gw_conn_set_ops(c, &imap_ops, s);
	imap_printf(s, "* OK [CAPABILITY %s] %s sealgate IMAP ready\r\n", imap_capabilities(s),
	    ctx->conf->gateway.hostname);
}
