/*
 * smtp_auth.c: AUTH on the submission listeners (RFC 4954), mechanisms
 * PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login), each with or
 * without an initial response. Only over TLS: before it, EHLO does not
 * offer AUTH and the command answers 530. The password check is the
 * gateway's (gw_auth_login): login cache, Argon2id on a worker, growing
 * delays, locks per address and account, audit. The session waits in
 * SMTP_ST_WAIT meanwhile and parses nothing.
 *
 * Secrets: the AUTH line and the response lines sit in s->line, which is
 * wiped after use; decoded responses live on the stack (wiped) or, for the
 * LOGIN user name between its two steps, in secret memory. Nothing of them
 * is logged.
 *
 * After the first successful login of an account since start, its
 * submissions of the last hour are counted from the audit log on a worker
 * (smtp_rate.c) before the 235, so that max_messages_per_hour survives a
 * restart.
 */
#include "smtp/smtp_private.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_auth.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"
#include "gateway/gw_worker.h"
#include "store/store.h"

/* A decoded response: authzid, authcid and password of at most
 * SEC_PASSWORD_MAX, with room; a response line holds at most
 * SMTP_CMD_MAX base64 characters anyway. bounds: 3/4 of the line. */
#define SMTP_SASL_MAX	(SMTP_CMD_MAX / 4 * 3 + 3)
#define SMTP_SEED_MAX	100000	/* entries counted per account: the limit's bound */

static const char smtp_auth_ok[] = "235 2.7.0 Authentication successful";

void
smtp_auth_reset(struct smtp_session *s)
{
	gw_auth_cancel(&s->auth_req);
	if (s->sasl_user != NULL)
		sec_free(s->sasl_user, SMTP_SASL_MAX);
	s->sasl_user = NULL;
	s->sasl_user_len = 0;
	s->sasl = SMTP_SASL_NONE;
}

/* ---- after the check ---- */

struct smtp_seed_job {
	struct smtp_session	*s;		/* a reference */
	uint64_t		 acct_id;
	char			 address[STORE_ADDR_MAX + 1];
	int64_t			 now;
	int64_t			*times;
	size_t			 n, cap;
	bool			 failed;
};

static int
smtp_seed_cb(void *arg, const struct store_audit *a)
{
	struct smtp_seed_job *j = arg;

	if (strcmp(a->event, "submission") != 0)
		return 0;
	if (j->n == j->cap) {
		j->cap = j->cap > 0 ? j->cap * 2 : 64;
		j->times = xreallocarray(j->times, j->cap, sizeof *j->times);
	}
	j->times[j->n++] = a->time;
	return j->n >= SMTP_SEED_MAX;
}

static void
smtp_seed_work(void *arg)
{
	struct smtp_seed_job *j = arg;
	struct store *st = j->s->ctx->store;
	enum store_rc rc;
	struct store_txn *t = store_read_begin(st, &rc);

	if (t == NULL) {
		j->failed = true;
		return;
	}
	rc = store_audit_list(t, j->now - SMTP_RATE_WINDOW, j->address, smtp_seed_cb, j);
	store_read_end(&t);
	j->failed = rc != STORE_OK;
}

static void
smtp_seed_done(void *arg)
{
	struct smtp_seed_job *j = arg;
	struct smtp_session *s = j->s;

	if (j->failed)
		log_warn("smtp", "session=%08x event=rate_seed_failed account=%llu", s->id,
		    (unsigned long long)j->acct_id);
	/* a failed read counts nothing: the memory count starts now */
	smtp_rate_seed(s->srv->rate, j->acct_id, j->times, j->n, sg_now());
	smtp_session_ingest_done(s, smtp_auth_ok);
	free(j->times);
	smtp_session_unref(&j->s);
	free(j);
}

static void
smtp_auth_success(struct smtp_session *s, const struct store_account *a)
{
	struct smtp_seed_job *j;

	s->authed = true;
	s->acct_id = a->id;
	snprintf(s->acct_addr, sizeof s->acct_addr, "%s", a->address);
	sg_ascii_lower(s->acct_addr, strlen(s->acct_addr));
	gw_conn_set_timeout(s->conn, SMTP_TIMEOUT_CMD);
	log_info("smtp", "session=%08x event=auth account=%llu", s->id,
	    (unsigned long long)a->id);
	if (smtp_rate_known(s->srv->rate, a->id) || s->ctx->workers == NULL) {
		smtp_session_ingest_done(s, smtp_auth_ok);
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->s = s;
	smtp_session_ref(s);
	j->acct_id = a->id;
	j->now = sg_now();
	snprintf(j->address, sizeof j->address, "%s", s->acct_addr);
	gw_workers_submit(s->ctx->workers, smtp_seed_work, smtp_seed_done, j);
}

static void
smtp_auth_done(void *arg, struct gw_auth_result *res)
{
	struct smtp_session *s = arg;
	const char *reply;

	s->auth_req = NULL;
	switch (res->rc) {
	case GW_AUTH_OK:
		if (res->account.state == STORE_ACCT_ACTIVE) {
			smtp_auth_success(s, &res->account);
			return;
		}
		reply = "535 5.7.8 Authentication credentials invalid";
		break;
	case GW_AUTH_LOCKED:
		reply = "454 4.7.0 Too many failed authentications; try again later";
		break;
	case GW_AUTH_TEMPFAIL:
		reply = "454 4.7.0 Temporary authentication failure; try again later";
		break;
	default:
		/* wrong password, unknown, invited-only or disabled: never say which */
		reply = "535 5.7.8 Authentication credentials invalid";
		break;
	}
	log_info("smtp", "session=%08x event=auth_failed reply=%.3s", s->id, reply);
	smtp_session_ingest_done(s, reply);
	if (++s->errors >= SMTP_ERRORS_MAX && s->state != SMTP_ST_CLOSING)
		smtp_session_fatal(s, "421 4.7.0 Too many errors, closing connection");
}

/* Hand the credentials to the gateway; the session waits. */
static void
smtp_auth_check(struct smtp_session *s, const char *user, size_t ulen, const char *pw,
    size_t pwlen)
{
	smtp_set_state(s, SMTP_ST_WAIT);
	gw_conn_pause(s->conn);
	s->auth_req = gw_auth_login(s->ctx, GW_PROTO_SUBMISSION, gw_conn_peer_ip(s->conn), user,
	    ulen, pw, pwlen, smtp_auth_done, s);
}

/* ---- the mechanisms ---- */

/* Back to READY with an error for the exchange (501, 535...). */
static void
smtp_sasl_fail(struct smtp_session *s, const char *reply)
{
	smtp_auth_reset(s);
	smtp_set_state(s, SMTP_ST_READY);
	smtp_error(s, "%s", reply);
}

/* Decode one base64 response ("=" in an initial response is empty); a
 * response that does not decode ends the exchange with 501. */
static bool
smtp_sasl_decode(struct smtp_session *s, const char *b64, size_t len, uint8_t *raw,
    size_t *raw_len)
{
	if (len == 1 && b64[0] == '=')
		len = 0;
	if (sec_base64_decode(raw, SMTP_SASL_MAX, raw_len, b64, len) == 0)
		return true;
	smtp_sasl_fail(s, "501 5.5.2 Cannot decode the response");
	return false;
}

/* RFC 4616 2: [authzid] NUL authcid NUL passwd; authzid empty or the user. */
static void
smtp_auth_plain(struct smtp_session *s, const char *b64, size_t len)
{
	uint8_t raw[SMTP_SASL_MAX];
	size_t n = 0, zlen, ulen;
	const char *authz, *user, *pw, *end;

	if (!smtp_sasl_decode(s, b64, len, raw, &n))
		goto out;
	authz = (const char *)raw;
	end = authz + n;
	user = memchr(authz, '\0', n);
	pw = user != NULL ? memchr(user + 1, '\0', (size_t)(end - user - 1)) : NULL;
	if (user == NULL || pw == NULL || pw == user + 1) {
		smtp_sasl_fail(s, "501 5.5.2 Malformed PLAIN response");
		goto out;
	}
	zlen = (size_t)(user - authz);
	user++;
	ulen = (size_t)(pw - user);
	pw++;
	if (zlen != 0 && !sg_ascii_ieq(user, ulen, authz)) {	/* authz ends at its NUL */
		smtp_sasl_fail(s, "535 5.7.8 Cannot act as another user");
		goto out;
	}
	smtp_auth_reset(s);
	smtp_auth_check(s, user, ulen, pw, (size_t)(end - pw));
out:
	sec_wipe(raw, sizeof raw);
}

/* LOGIN, first step: the user name, kept in secret memory for the second. */
static void
smtp_auth_login_user(struct smtp_session *s, const char *b64, size_t len)
{
	uint8_t raw[SMTP_SASL_MAX];
	size_t n = 0;

	if (!smtp_sasl_decode(s, b64, len, raw, &n))
		goto out;
	if (n == 0 || memchr(raw, '\0', n) != NULL) {
		smtp_sasl_fail(s, "501 5.5.2 Malformed user name");
		goto out;
	}
	if (s->sasl_user == NULL)
		s->sasl_user = sec_alloc(SMTP_SASL_MAX);
	memcpy(s->sasl_user, raw, n);	/* bounds: n <= SMTP_SASL_MAX */
	s->sasl_user_len = n;
	s->sasl = SMTP_SASL_LOGIN_PASS;
	smtp_set_state(s, SMTP_ST_AUTH);
	smtp_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
out:
	sec_wipe(raw, sizeof raw);
}

/* LOGIN, second step: the password. */
static void
smtp_auth_login_pass(struct smtp_session *s, const char *b64, size_t len)
{
	uint8_t raw[SMTP_SASL_MAX];
	size_t n = 0;
	char user[SMTP_SASL_MAX];
	size_t ulen = s->sasl_user_len;

	if (!smtp_sasl_decode(s, b64, len, raw, &n))
		goto out;
	memcpy(user, s->sasl_user, ulen);	/* bounds: ulen <= SMTP_SASL_MAX */
	smtp_auth_reset(s);
	smtp_auth_check(s, user, ulen, (const char *)raw, n);
	sec_wipe(user, sizeof user);
out:
	sec_wipe(raw, sizeof raw);
}

/* RFC 4954 4: the session is READY, over TLS, not yet authenticated. */
void
smtp_auth_command(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	bool plain = sg_ascii_ieq(cmd->arg, cmd->arg_len, "PLAIN");
	bool login = sg_ascii_ieq(cmd->arg, cmd->arg_len, "LOGIN");

	if (!s->submission) {
		smtp_error(s, "502 5.5.1 AUTH not available");
		return;
	}
	if (!gw_conn_is_tls(s->conn)) {
		smtp_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->authed) {
		smtp_error(s, "503 5.5.1 Already authenticated");
		return;
	}
	if (!plain && !login) {
		smtp_error(s, "504 5.5.4 Unrecognized authentication type; use PLAIN or LOGIN");
		return;
	}
	smtp_auth_reset(s);
	if (cmd->arg2 != NULL) {
		if (plain)
			smtp_auth_plain(s, cmd->arg2, cmd->arg2_len);
		else
			smtp_auth_login_user(s, cmd->arg2, cmd->arg2_len);
		return;
	}
	s->sasl = plain ? SMTP_SASL_PLAIN : SMTP_SASL_LOGIN_USER;
	smtp_set_state(s, SMTP_ST_AUTH);
	/* RFC 4954 4: an empty challenge for PLAIN; LOGIN asks "Username:" */
	smtp_reply(s, "%s", plain ? "334 " : "334 VXNlcm5hbWU6");
}

void
smtp_auth_input(struct smtp_session *s)
{
	const char *line = s->line;
	size_t len = s->line_len;

	if (len == 1 && line[0] == '*') {
		/* RFC 4954 4: the client cancels */
		smtp_sasl_fail(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	switch (s->sasl) {
	case SMTP_SASL_PLAIN:
		smtp_auth_plain(s, line, len);
		break;
	case SMTP_SASL_LOGIN_USER:
		smtp_auth_login_user(s, line, len);
		break;
	case SMTP_SASL_LOGIN_PASS:
		smtp_auth_login_pass(s, line, len);
		break;
	default:
		smtp_sasl_fail(s, "503 5.5.1 Bad sequence of commands");
		break;
	}
}
