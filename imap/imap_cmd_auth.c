/*
 * imap_cmd_auth.c: the commands of the not-authenticated state and the
 * ones valid in every state: CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN,
 * AUTHENTICATE PLAIN (with SASL-IR), ID, ENABLE, NAMESPACE.
 */
#include "imap/imap_private.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/sec.h"
#include "gateway/gw_auth.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"

void
imap_cmd_capability(struct imap_session *s, struct imap_cmd *cmd)
{
	(void)cmd;
	imap_printf(s, "* CAPABILITY %s\r\n", imap_capabilities(s));
	imap_done(s, "OK", "CAPABILITY completed");
}

void
imap_cmd_noop(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_done(s, "OK", "%s completed", imap_cmd_name(cmd->id));
}

void
imap_cmd_check(struct imap_session *s, struct imap_cmd *cmd)
{
	imap_cmd_noop(s, cmd);
}

void
imap_cmd_logout(struct imap_session *s, struct imap_cmd *cmd)
{
	(void)cmd;
	imap_printf(s, "* BYE Logging out\r\n");
	imap_set_state(s, IMAP_ST_LOGOUT);
	imap_view_free(&s->view);	/* no untagged updates after BYE */
	imap_done(s, "OK", "LOGOUT completed");
	gw_conn_close(s->conn);
}

void
imap_cmd_starttls(struct imap_session *s, struct imap_cmd *cmd)
{
	(void)cmd;
	if (gw_conn_is_tls(s->conn)) {
		imap_done(s, "BAD", "TLS is already active");
		return;
	}
	imap_done(s, "OK", "Begin TLS negotiation now");
	/* RFC 3501 6.2.1: anything pipelined after STARTTLS is discarded. */
	imap_parser_reset(s->parser);
	if (gw_conn_starttls(s->conn) != 0)
		gw_conn_close(s->conn);
}

static void
imap_login_done(void *arg, struct gw_auth_result *res)
{
	struct imap_session *s = arg;

	s->auth = NULL;
	switch (res->rc) {
	case GW_AUTH_OK:
		s->account.id = res->account.id;
		memcpy(s->account.pk, res->account.pk, sizeof s->account.pk);
		free(s->account.address);
		s->account.address = xstrdup(res->account.address);
		s->sk = res->sk;
		res->sk = NULL;
		s->acct = imap_acct_get(s->server, s->account.id);
		imap_set_state(s, IMAP_ST_AUTH);
		imap_session_limits(s);
		log_info("imap", "session=%08x event=login account=%llu", gw_conn_id(s->conn),
		    (unsigned long long)s->account.id);
		imap_done(s, "OK", "[CAPABILITY %s] Logged in", imap_capabilities(s));
		break;
	case GW_AUTH_LOCKED:
		imap_done(s, "NO", "[UNAVAILABLE] Too many failed logins; try again later");
		break;
	case GW_AUTH_TEMPFAIL:
		imap_done(s, "NO", "[UNAVAILABLE] Temporary failure; try again later");
		break;
	default:
		imap_done(s, "NO", "[AUTHENTICATIONFAILED] Invalid credentials");
		break;
	}
}

/* Before TLS there is no login at all (RFC 3501 6.2.3, LOGINDISABLED). */
static bool
imap_login_allowed(struct imap_session *s)
{
	if (gw_conn_is_tls(s->conn))
		return true;
	imap_done(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
	return false;
}

static void
imap_login_start(struct imap_session *s, const char *user, size_t ulen, const char *pw,
    size_t pwlen)
{
	imap_wait(s);
	s->auth = gw_auth_login(s->ctx, GW_PROTO_IMAP, gw_conn_peer_ip(s->conn), user, ulen, pw,
	    pwlen, imap_login_done, s);
}

void
imap_cmd_login(struct imap_session *s, struct imap_cmd *cmd)
{
	if (!imap_login_allowed(s))
		return;
	imap_login_start(s, cmd->u.login.user.s, cmd->u.login.user.len, cmd->u.login.pass.s,
	    cmd->u.login.pass.len);
}

/* RFC 4616: authzid NUL authcid NUL passwd; authzid empty or the same user. */
static void
imap_auth_plain(struct imap_session *s, const char *b64, size_t b64len)
{
	uint8_t raw[IMAP_AUTH_MAX];
	size_t len = 0;
	const char *authz, *user, *pw, *end;
	size_t zlen, ulen;

	if (sec_base64_decode(raw, sizeof raw, &len, b64, b64len) != 0) {
		imap_done(s, "BAD", "Invalid base64 in AUTHENTICATE");
		goto out;
	}
	authz = (const char *)raw;
	end = authz + len;
	user = memchr(authz, '\0', len);
	pw = user != NULL ? memchr(user + 1, '\0', (size_t)(end - user - 1)) : NULL;
	if (user == NULL || pw == NULL) {
		imap_done(s, "BAD", "Malformed PLAIN response");
		goto out;
	}
	zlen = (size_t)(user - authz);
	user++;
	ulen = (size_t)(pw - user);
	pw++;
	if (zlen != 0 && (zlen != ulen || strncasecmp(authz, user, ulen) != 0)) {
		imap_done(s, "NO", "[AUTHORIZATIONFAILED] Cannot act as another user");
		goto out;
	}
	imap_login_start(s, user, ulen, pw, (size_t)(end - pw));
out:
	sec_wipe(raw, sizeof raw);
}

void
imap_cmd_authenticate(struct imap_session *s, struct imap_cmd *cmd)
{
	const struct imap_args_authenticate *a = &cmd->u.authenticate;

	if (!sg_ascii_ieq(a->mech.s, a->mech.len, "PLAIN")) {
		imap_done(s, "NO", "[CANNOT] Unsupported mechanism; use PLAIN");
		return;
	}
	if (!imap_login_allowed(s))
		return;
	if (a->has_ir) {
		imap_auth_plain(s, a->ir.s, a->ir.len);
		return;
	}
	/* Thunderbird sends the response after a "+" round trip. */
	imap_wait(s);
	s->busy = IMAP_BUSY_AUTH_CONT;
	gw_conn_resume(s->conn);
	imap_printf(s, "+ \r\n");
}

bool
imap_auth_input(struct imap_session *s)
{
	struct evbuffer *in = gw_conn_in(s->conn);
	struct evbuffer_ptr eol;
	size_t eol_len, n;
	char line[IMAP_AUTH_MAX * 2];

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos < 0) {
		if (evbuffer_get_length(in) >= sizeof line)
			goto toolong;
		return false;
	}
	if ((size_t)eol.pos >= sizeof line)
		goto toolong;
	n = (size_t)eol.pos;
	evbuffer_remove(in, line, n);	/* bounds: n < sizeof line */
	evbuffer_drain(in, eol_len);
	s->busy = IMAP_BUSY_CMD;
	if (n == 1 && line[0] == '*')
		imap_done(s, "BAD", "AUTHENTICATE cancelled");
	else
		imap_auth_plain(s, line, n);
	sec_wipe(line, sizeof line);
	return true;
toolong:
	evbuffer_drain(in, evbuffer_get_length(in));
	s->busy = IMAP_BUSY_CMD;
	imap_done(s, "BAD", "AUTHENTICATE response too long");
	return true;
}

void
imap_cmd_id(struct imap_session *s, struct imap_cmd *cmd)
{
	(void)cmd;
	imap_printf(s, "* ID (\"name\" \"sealgate\" \"version\" \"%s\")\r\n", SG_VERSION);
	imap_done(s, "OK", "ID completed");
}

void
imap_cmd_enable(struct imap_session *s, struct imap_cmd *cmd)
{
	const struct imap_args_enable *a = &cmd->u.enable;
	struct evbuffer *out = gw_conn_out(s->conn);
	size_t i;

	evbuffer_add_printf(out, "* ENABLED");
	for (i = 0; i < a->ncaps; i++) {
		if (sg_ascii_ieq(a->caps[i].s, a->caps[i].len, "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			evbuffer_add_printf(out, " CONDSTORE");
		}
	}
	evbuffer_add(out, "\r\n", 2);
	imap_done(s, "OK", "ENABLE completed");
}

void
imap_cmd_namespace(struct imap_session *s, struct imap_cmd *cmd)
{
	(void)cmd;
	imap_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_done(s, "OK", "NAMESPACE completed");
}
