/*
 * smtp_session.c: the RFC 5321 server on the inbound and submission
 * listeners: greeting and policy, the command table, EHLO/HELO, MAIL, RCPT,
 * RSET, NOOP, VRFY, HELP, QUIT, STARTTLS. DATA and BDAT are in
 * smtp_data.c, the sealing and commit of a message in smtp_ingest.c.
 *
 * One state enum, one transition function (smtp_set_state), one command
 * table. Commands are taken one at a time in order (PIPELINING): the read
 * callback parses every complete line already buffered, and the replies
 * leave together when the callback returns. While ingest runs the session
 * sits in SMTP_ST_WAIT and parses nothing; the connection is paused.
 */
#include "smtp/smtp_private.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "crypto/sec.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"
#include "smtp/smtp_mail.h"
#include "smtp/smtp_queue.h"

static const char *const smtp_state_names[] = {
	"refused", "greeted", "ready", "mail", "rcpt", "bdat", "data", "chunk", "wait",
	"closing", "auth",
};

static const char *
smtp_state_name(enum smtp_state st)
{
	unsigned i;

	for (i = 0; i < SG_NITEMS(smtp_state_names); i++)
		if ((unsigned)st == 1u << i)
			return smtp_state_names[i];
	return "?";
}

struct smtp_server *
smtp_server_new(struct gw_ctx *ctx)
{
	struct smtp_server *srv = xcalloc(1, sizeof *srv);
	gchar *dir = NULL, *tdir = NULL;

	srv->ctx = ctx;
	/* Templates beside the configuration file override the built-in ones. */
	if (ctx->conf->path != NULL) {
		dir = g_path_get_dirname(ctx->conf->path);
		tdir = g_build_filename(dir, "templates", NULL);
	}
	srv->templates = smtp_templates_load(tdir);
	g_free(dir);
	g_free(tdir);
	srv->queue = smtp_queue_new(ctx);
	srv->rate = smtp_rate_new();
	return srv;
}

void
smtp_server_free(struct smtp_server **srvp)
{
	if (*srvp == NULL)
		return;
	smtp_queue_free(&(*srvp)->queue);
	smtp_templates_free(&(*srvp)->templates);
	smtp_rate_free(&(*srvp)->rate);
	free(*srvp);
	*srvp = NULL;
}

/* ---- buffers, transactions, references ---- */

int
smtp_buf_reserve(struct smtp_buf *b, size_t extra)
{
	size_t want, cap;
	char *p;

	if (extra <= b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX - b->len)
		return -1;
	want = b->len + extra;
	cap = b->cap > 0 ? b->cap : SMTP_MSG_INITIAL;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	/* Peer-sized: a failure here is a 452 for the client, not an abort. */
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

void
smtp_buf_free(struct smtp_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

void
smtp_txn_reset(struct smtp_txn *t)
{
	size_t i;

	for (i = 0; i < t->nrcpts; i++) {
		free(t->rcpts[i].addr);
		free(t->rcpts[i].orcpt);
	}
	free(t->rcpts);
	free(t->from);
	free(t->envid);
	smtp_buf_free(&t->msg);
	memset(t, 0, sizeof *t);
}

void
smtp_session_ref(struct smtp_session *s)
{
	s->refs++;
}

void
smtp_session_unref(struct smtp_session **sp)
{
	struct smtp_session *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	SG_ASSERT(s->refs > 0);
	if (--s->refs > 0)
		return;
	SG_ASSERT(s->conn == NULL);
	smtp_txn_reset(&s->txn);
	free(s);
}

/* ---- replies and state ---- */

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->conn == NULL)
		return;
	va_start(ap, fmt);
	gw_conn_vprintf(s->conn, fmt, ap);
	va_end(ap);
	gw_conn_write(s->conn, "\r\n", 2);
}

void
smtp_set_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	log_debug("smtp", "session=%08x event=state from=%s to=%s", s->id,
	    smtp_state_name(s->state), smtp_state_name(st));
	s->state = st;
}

void
smtp_session_fatal(struct smtp_session *s, const char *reply)
{
	smtp_reply(s, "%s", reply);
	smtp_set_state(s, SMTP_ST_CLOSING);
	if (s->conn != NULL)
		gw_conn_close(s->conn);
}

void
smtp_error(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->conn == NULL)
		return;
	va_start(ap, fmt);
	gw_conn_vprintf(s->conn, fmt, ap);
	va_end(ap);
	gw_conn_write(s->conn, "\r\n", 2);
	if (++s->errors >= SMTP_ERRORS_MAX) {
		log_info("smtp", "session=%08x event=disconnect reason=errors", s->id);
		smtp_session_fatal(s, "421 4.7.0 Too many errors, closing connection");
	}
}

static void
smtp_txn_end(struct smtp_session *s)
{
	smtp_txn_reset(&s->txn);
	if (s->state & (SMTP_ST_MAIL | SMTP_ST_RCPT | SMTP_ST_BDAT | SMTP_ST_DATA |
	    SMTP_ST_CHUNK | SMTP_ST_WAIT))
		smtp_set_state(s, SMTP_ST_READY);
}

/* ---- commands ---- */

static void
smtp_do_helo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	size_t n = SG_MIN(cmd->arg_len, sizeof s->helo - 1);

	memcpy(s->helo, cmd->arg, n);
	s->helo[n] = '\0';
	s->esmtp = cmd->verb == SMTP_VERB_EHLO;
	smtp_txn_end(s);	/* RFC 5321 4.1.4: EHLO resets a transaction */
	smtp_set_state(s, SMTP_ST_READY);
	if (!s->esmtp) {
		smtp_reply(s, "250 %s", s->ctx->conf->gateway.hostname);
		return;
	}
	/* RFC 2034 3: no enhanced codes in the EHLO response */
	smtp_reply(s, "250-%s", s->ctx->conf->gateway.hostname);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %llu", (unsigned long long)s->ctx->conf->smtp.max_message_size);
	if (!gw_conn_is_tls(s->conn))
		smtp_reply(s, "250-STARTTLS");
	else if (s->submission)
		smtp_reply(s, "250-AUTH PLAIN LOGIN");	/* RFC 4954: only over TLS */
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250-CHUNKING");
	smtp_reply(s, "250-DSN");
	smtp_reply(s, "250 ENHANCEDSTATUSCODES");
}

/* Copy a parameter value (already validated) to the heap. */
static char *
smtp_dup(const char *p, size_t len)
{
	return p != NULL ? xstrndup(p, len) : NULL;
}

bool
smtp_domain_internal(const struct smtp_session *s, const char *addr, size_t at, size_t len)
{
	if (at >= len)
		return false;
	return conf_domain_match(&s->ctx->conf->policy.internal_domains, addr + at + 1,
	    len - at - 1);
}

static void
smtp_do_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_txn *t = &s->txn;
	char addr[SMTP_ADDR_MAX + 1] = "";
	int n = 0;

	if (s->submission && !s->authed) {
		smtp_error(s, "530 5.7.0 Authentication required");
		return;
	}
	if (cmd->path.utf8 && !cmd->smtputf8) {
		smtp_error(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		return;
	}
	if (cmd->body == SMTP_BODY_BINARYMIME) {
		smtp_error(s, "555 5.5.4 BODY=BINARYMIME is not supported");
		return;
	}
	if (cmd->has_size && cmd->size > s->ctx->conf->smtp.max_message_size) {
		smtp_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	if (cmd->path.len > 0 && (n = smtp_addr_canon(&cmd->path, addr, sizeof addr)) < 0) {
		smtp_error(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if (s->submission) {
		/* DESIGN.md flow 4: the authenticated address, within its limits */
		if (!smtp_submit_sender(s, addr, (size_t)n))
			return;
	} else if (n == 0 || !smtp_domain_internal(s, addr,
	    (size_t)(strrchr(addr, '@') - addr), (size_t)n)) {
		/* DESIGN.md flow 1: only the organization's own senders */
		smtp_error(s, "553 5.7.1 Sender address must be in an internal domain");
		return;
	}
	smtp_txn_reset(t);
	t->from = xstrndup(addr, (size_t)n);
	t->envid = smtp_dup(cmd->envid, cmd->envid_len);
	t->body = cmd->body;
	t->ret = cmd->ret;
	t->smtputf8 = cmd->smtputf8;
	t->size_hint = cmd->has_size ? cmd->size : 0;
	s->ntxn++;
	snprintf(t->id, sizeof t->id, "%08x%04x", s->id, s->ntxn & 0xffffu);
	smtp_set_state(s, SMTP_ST_MAIL);
	smtp_reply(s, "250 2.1.0 Sender OK");
}

static void
smtp_do_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const struct conf *conf = s->ctx->conf;
	struct smtp_txn *t = &s->txn;
	char addr[SMTP_ADDR_MAX + 1];
	struct smtp_rcpt *r;
	bool internal = false;
	size_t i;
	int n;

	if (cmd->path.utf8 && !t->smtputf8) {
		smtp_error(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		return;
	}
	if (t->nrcpts >= (s->submission ? conf->submission.max_recipients :
	    conf->smtp.max_recipients)) {
		if (s->submission)
			smtp_submit_too_many(s);
		smtp_reply(s, "452 4.5.3 Too many recipients");	/* RFC 5321 4.5.3.1.10 */
		return;
	}
	if (s->submission && cmd->path.postmaster) {
		smtp_error(s, "550 5.1.3 <Postmaster> needs a domain here: write to the "
		    "postmaster of your organization with its full address");
		return;
	}
	if (!s->submission && (cmd->path.postmaster || smtp_domain_internal(s, cmd->path.addr,
	    cmd->path.at, cmd->path.len))) {
		smtp_error(s, "550 5.7.1 Recipient is in an internal domain, not a secure "
		    "recipient");
		return;
	}
	if (cmd->path.literal) {
		smtp_error(s, "550 5.1.3 Address literals are not accepted");
		return;
	}
	if ((n = smtp_addr_canon(&cmd->path, addr, sizeof addr)) < 0) {
		smtp_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	for (i = 0; i < t->nrcpts; i++) {
		if (strcmp(t->rcpts[i].addr, addr) == 0) {
			smtp_reply(s, "250 2.1.5 Recipient OK (duplicate)");
			return;
		}
	}
	/* DESIGN.md flow 4: the organization, or a correspondent per policy */
	if (s->submission && !smtp_submit_recipient(s, addr, (size_t)n, &internal))
		return;
	if (t->nrcpts == t->rcpts_cap) {
		t->rcpts_cap = t->rcpts_cap ? t->rcpts_cap * 2 : 8;
		t->rcpts = xreallocarray(t->rcpts, t->rcpts_cap, sizeof *t->rcpts);
	}
	r = &t->rcpts[t->nrcpts++];
	r->addr = xstrndup(addr, (size_t)n);
	r->orcpt = smtp_dup(cmd->orcpt, cmd->orcpt_len);
	r->notify = cmd->notify;
	r->internal = internal;
	smtp_set_state(s, SMTP_ST_RCPT);
	smtp_reply(s, "250 2.1.5 Recipient OK");
}

static void
smtp_do_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	if (s->state == SMTP_ST_MAIL) {
		/* RFC 5321 3.3: no valid recipients */
		smtp_error(s, "554 5.5.1 No valid recipients");
		return;
	}
	smtp_data_begin(s);
}

static void
smtp_do_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	smtp_bdat_begin(s, cmd);
}

static void
smtp_do_rset(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_txn_end(s);
	smtp_reply(s, "250 2.0.0 Reset");
}

static void
smtp_do_noop(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, "250 2.0.0 OK");
}

static void
smtp_do_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	/* RFC 5321 3.5.3: no address harvesting */
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt "
	    "delivery");
}

static void
smtp_do_help(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP");
	smtp_reply(s, "214 2.0.0 QUIT STARTTLS%s", s->submission ? " AUTH" : "");
}

static void
smtp_do_quit(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_session_fatal(s, "221 2.0.0 Bye");
}

static void
smtp_do_starttls(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	if (gw_conn_is_tls(s->conn)) {
		smtp_error(s, "503 5.5.1 TLS already active");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* RFC 3207 4.2: forget everything learned before TLS */
	smtp_txn_end(s);
	smtp_auth_reset(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	smtp_set_state(s, SMTP_ST_GREETED);
	if (gw_conn_starttls(s->conn) != 0)
		smtp_session_fatal(s, "454 4.7.0 TLS not available");
}

static void
smtp_do_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	smtp_auth_command(s, cmd);
}

struct smtp_verb_def {
	enum smtp_verb	 verb;
	unsigned	 allowed;	/* SMTP_ST_* mask */
	void		(*run)(struct smtp_session *, const struct smtp_cmd *);
};

/*
 * BDAT runs in every command state: its chunk must be read whatever
 * happens (RFC 3030 3), so smtp_bdat_begin() makes its own sequence check.
 */
static const struct smtp_verb_def smtp_verbs[] = {
	{ SMTP_VERB_EHLO, SMTP_ST_COMMAND, smtp_do_helo },
	{ SMTP_VERB_HELO, SMTP_ST_COMMAND, smtp_do_helo },
	{ SMTP_VERB_MAIL, SMTP_ST_READY, smtp_do_mail },
	{ SMTP_VERB_RCPT, SMTP_ST_MAIL | SMTP_ST_RCPT, smtp_do_rcpt },
	{ SMTP_VERB_DATA, SMTP_ST_MAIL | SMTP_ST_RCPT, smtp_do_data },
	{ SMTP_VERB_BDAT, SMTP_ST_COMMAND, smtp_do_bdat },
	{ SMTP_VERB_RSET, SMTP_ST_COMMAND, smtp_do_rset },
	{ SMTP_VERB_NOOP, SMTP_ST_COMMAND, smtp_do_noop },
	{ SMTP_VERB_VRFY, SMTP_ST_COMMAND, smtp_do_vrfy },
	{ SMTP_VERB_HELP, SMTP_ST_COMMAND, smtp_do_help },
	{ SMTP_VERB_QUIT, SMTP_ST_COMMAND | SMTP_ST_REFUSED, smtp_do_quit },
	{ SMTP_VERB_STARTTLS, SMTP_ST_GREETED | SMTP_ST_READY, smtp_do_starttls },
	/* RFC 4954 4: after EHLO, outside a mail transaction */
	{ SMTP_VERB_AUTH, SMTP_ST_READY, smtp_do_auth },
};

static const struct smtp_verb_def *
smtp_verb_find(enum smtp_verb v)
{
	size_t i;

	for (i = 0; i < SG_NITEMS(smtp_verbs); i++)
		if (smtp_verbs[i].verb == v)
			return &smtp_verbs[i];
	return NULL;
}

static const char *
smtp_sequence_error(const struct smtp_session *s, enum smtp_verb v)
{
	if (s->state == SMTP_ST_REFUSED)
		return "503 5.7.1 Not allowed to send mail from here; QUIT";
	if (s->state == SMTP_ST_GREETED && (v == SMTP_VERB_MAIL || v == SMTP_VERB_RCPT ||
	    v == SMTP_VERB_DATA))
		return "503 5.5.1 Send EHLO or HELO first";
	if (v == SMTP_VERB_AUTH)
		return s->state == SMTP_ST_GREETED ? "503 5.5.1 Send EHLO first" :
		    "503 5.5.1 AUTH is not allowed during a mail transaction";
	if (v == SMTP_VERB_MAIL)
		return "503 5.5.1 Nested MAIL command";
	if (v == SMTP_VERB_RCPT || v == SMTP_VERB_DATA)
		return s->state == SMTP_ST_BDAT ? "503 5.5.1 BDAT transaction in progress" :
		    "503 5.5.1 Need MAIL command first";
	return "503 5.5.1 Bad sequence of commands";
}

/* Each parse result gets its reply in this one place. */
static void
smtp_parse_error(struct smtp_session *s, enum smtp_parse_rc rc, const struct smtp_cmd *cmd)
{
	switch (rc) {
	case SMTP_PARSE_UNKNOWN:
		smtp_error(s, "500 5.5.2 Command not recognized");
		break;
	case SMTP_PARSE_TOO_LONG:
	case SMTP_PARSE_BAD_CHAR:
		smtp_error(s, "500 5.5.2 %s", cmd->err);
		break;
	case SMTP_PARSE_BAD_PATH:
		smtp_error(s, "501 %s %s", cmd->verb == SMTP_VERB_MAIL ? "5.1.7" : "5.1.3",
		    cmd->err);
		break;
	case SMTP_PARSE_BAD_PARAM:
		smtp_error(s, "555 5.5.4 %s", cmd->err);
		break;
	case SMTP_PARSE_SYNTAX:
	case SMTP_PARSE_BAD_VALUE:
	default:
		if (cmd->verb == SMTP_VERB_BDAT)	/* unknown size: cannot resynchronize */
			smtp_session_fatal(s, "501 5.5.4 Syntax: BDAT size [LAST]; closing");
		else
			smtp_error(s, "501 5.5.4 %s", cmd->err);
		break;
	}
}

static void
smtp_dispatch(struct smtp_session *s)
{
	struct smtp_cmd cmd;
	enum smtp_parse_rc rc = smtp_parse_command(s->line, s->line_len, &cmd);
	const struct smtp_verb_def *d;

	if (rc != SMTP_PARSE_OK) {
		if (s->state == SMTP_ST_REFUSED && rc != SMTP_PARSE_UNKNOWN)
			smtp_error(s, "%s", smtp_sequence_error(s, cmd.verb));
		else
			smtp_parse_error(s, rc, &cmd);
	} else {
		log_debug("smtp", "session=%08x event=command verb=%s", s->id,
		    smtp_verb_name(cmd.verb));
		if ((d = smtp_verb_find(cmd.verb)) == NULL)
			smtp_error(s, "502 5.5.1 Command not implemented");
		else if ((d->allowed & s->state) == 0)
			smtp_error(s, "%s", smtp_sequence_error(s, cmd.verb));
		else
			d->run(s, &cmd);
	}
	/* an AUTH line may hold a password */
	if (cmd.verb == SMTP_VERB_AUTH)
		sec_wipe(s->line, s->line_len);
}

/*
 * 1: a line without its CRLF in s->line; 0: need more; -1: too long, or a
 * bare LF (no CR before it), which is refused rather than guessed at.
 */
static int
smtp_next_line(struct smtp_session *s, struct evbuffer *in)
{
	size_t eol_len;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	size_t n;

	if (eol.pos < 0)
		return evbuffer_get_length(in) > SMTP_CMD_MAX + 1 ? -1 : 0;
	n = (size_t)eol.pos;
	if (n > SMTP_CMD_MAX + 1)
		return -1;
	evbuffer_remove(in, s->line, n);	/* bounds: line is SMTP_CMD_MAX + 1 */
	evbuffer_drain(in, eol_len);
	if (n == 0 || s->line[n - 1] != '\r')
		return -1;
	s->line_len = n - 1;
	s->line[s->line_len] = '\0';
	return 1;
}

static void
smtp_read(struct gw_conn *c, void *arg)
{
	struct smtp_session *s = arg;
	int rc;

	while (s->conn != NULL && !gw_conn_is_closed(c)) {
		if (gw_conn_out_len(c) > GW_CONN_OUT_HIGH) {
			/* the client does not read its replies: wait for drained() */
			s->out_blocked = true;
			gw_conn_pause(c);
			return;
		}
		switch (s->state) {
		case SMTP_ST_DATA:
			if (!smtp_data_read(s))
				return;
			continue;
		case SMTP_ST_CHUNK:
			if (!smtp_chunk_read(s))
				return;
			continue;
		case SMTP_ST_WAIT:
		case SMTP_ST_CLOSING:
			return;
		default:
			break;
		}
		if ((rc = smtp_next_line(s, gw_conn_in(c))) == 0)
			return;
		if (rc < 0) {
			log_info("smtp", "session=%08x event=disconnect reason=bad_line", s->id);
			smtp_session_fatal(s, "500 5.5.2 Line too long or not ended by CRLF");
			return;
		}
		if (s->state == SMTP_ST_AUTH) {
			/* a SASL response: may hold a password */
			smtp_auth_input(s);
			sec_wipe(s->line, s->line_len);
			continue;
		}
		/* After STARTTLS, gw_conn_in() is the TLS layer's (empty) buffer. */
		smtp_dispatch(s);
	}
}

static void
smtp_drained(struct gw_conn *c, void *arg)
{
	struct smtp_session *s = arg;

	if (!s->out_blocked || gw_conn_out_len(c) > GW_CONN_OUT_LOW)
		return;
	s->out_blocked = false;
	if (s->state != SMTP_ST_WAIT)
		gw_conn_resume(c);
}

/* A 421 and the end; while a commit is in flight its answer goes first
 * (the client waits for it) and the session ends after it. */
static void
smtp_goodbye(struct smtp_session *s, struct gw_conn *c, const char *code, const char *text)
{
	gw_conn_printf(c, "421 %s %s %s\r\n", code, s->ctx->conf->gateway.hostname, text);
	smtp_set_state(s, SMTP_ST_CLOSING);
	gw_conn_close(c);
}

static void
smtp_timeout(struct gw_conn *c, void *arg)
{
	struct smtp_session *s = arg;

	if (s->state == SMTP_ST_WAIT) {
		s->stop_after_wait = true;
		return;
	}
	log_info("smtp", "session=%08x event=disconnect reason=timeout state=%s", s->id,
	    smtp_state_name(s->state));
	smtp_goodbye(s, c, "4.4.2", "Timeout, closing connection");
}

static void
smtp_shutdown(struct gw_conn *c, void *arg)
{
	struct smtp_session *s = arg;

	if (s->state == SMTP_ST_WAIT) {
		s->stop_after_wait = true;
		return;
	}
	smtp_goodbye(s, c, "4.3.2", "Service shutting down");
}

void
smtp_session_ingest_done(struct smtp_session *s, const char *reply)
{
	if (s->conn == NULL)
		return;
	smtp_reply(s, "%s", reply);
	smtp_txn_end(s);
	if (s->stop_after_wait) {
		smtp_goodbye(s, s->conn, "4.3.2", "Service shutting down");
		return;
	}
	if (!s->out_blocked)
		gw_conn_resume(s->conn);
}

static void
smtp_closed(struct gw_conn *c, void *arg, enum gw_close_reason why)
{
	struct smtp_session *s = arg;

	(void)c;
	(void)why;	/* gw_conn logs it */
	smtp_auth_reset(s);	/* a password check in flight answers no one */
	s->conn = NULL;
	smtp_session_unref(&s);
}

static const struct gw_conn_ops smtp_ops = {
	.read = smtp_read,
	.drained = smtp_drained,
	.timeout = smtp_timeout,
	.shutdown = smtp_shutdown,
	.closed = smtp_closed,
};

static void
smtp_start(struct gw_ctx *ctx, struct gw_conn *c, bool submission)
{
	struct smtp_session *s = xcalloc(1, sizeof *s);
	const char *host = ctx->conf->gateway.hostname;
	bool trusted;

	s->srv = ctx->smtp;
	s->ctx = ctx;
	s->conn = c;
	s->refs = 1;
	s->id = gw_conn_id(c);
	s->submission = submission;
	trusted = submission || conf_net_match(&ctx->conf->smtp.trusted_networks, gw_conn_peer(c));
	s->state = trusted ? SMTP_ST_GREETED : SMTP_ST_REFUSED;
	/* submission: less patience until AUTH (smtp_auth.c sets the full one) */
	gw_conn_set_timeout(c, trusted && !submission ? SMTP_TIMEOUT_CMD : SMTP_TIMEOUT_UNTRUSTED);
	gw_conn_set_read_limit(c, SMTP_READ_HIGH);
	gw_conn_set_ops(c, &smtp_ops, s);
	log_info("smtp", "session=%08x event=connect ip=%s listener=%s trusted=%s", s->id,
	    gw_conn_peer_ip(c), submission ? "submission" : "inbound", trusted ? "yes" : "no");
	if (!trusted) {
		/* RFC 5321 3.1: 554 at connect, then only QUIT */
		gw_conn_printf(c, "554 5.7.1 %s Not accepting mail from this network\r\n", host);
		return;
	}
	gw_conn_printf(c, "220 %s ESMTP sealgate\r\n", host);
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
