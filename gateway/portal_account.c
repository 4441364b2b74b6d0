/*
 * portal_account.c: the password change, GET/POST /account/password and
 * POST /api/v1/password. The current password is checked by the store
 * on a worker (Argon2id); a wrong one goes through the shared throttle of
 * gw_auth.h, so the growing delays and the lock count IMAP, submission and
 * the portal together, and the answer waits on a timer, never a sleep.
 * On success the store re-wraps the key; its change hook then forgets the
 * cached keys of the account and ends its IMAP sessions' keys.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_auth.h"
#include "gateway/gw_log.h"
#include "gateway/portal_private.h"
#include "store/store.h"

#define PORTAL_WHY_MAX		256
#define PORTAL_MSG_MAX		512

enum { PW_ADDRESS, PW_CURRENT, PW_NEW, PW_CONFIRM, PW_NFIELDS };

enum portal_pw_outcome {
	PW_CHANGED,
	PW_WRONG,		/* unknown address, wrong current password, inactive */
	PW_LOCKED,
	PW_POLICY,
	PW_TEMPFAIL,
};

struct portal_pw_job {
	struct portal_job	 j;
	bool			 api;
	char			 address[STORE_ADDR_MAX + 1];
	struct portal_field	 f[PW_NFIELDS];
	enum portal_pw_outcome	 outcome;
	enum portal_policy_rc	 policy;
	char			 why[PORTAL_WHY_MAX];
};

/* ---- pages ---- */

static void
portal_pw_form(struct evhttp_request *req, const struct conf *conf, const char *address,
    const char *error, int code, const char *reason)
{
	struct evbuffer *b = evbuffer_new();
	unsigned min = conf->policy.password_min_length;

	portal_html_begin(b, conf, "Change your password");
	evbuffer_add_printf(b, "<div class=\"card\">\n<h1>Change your password</h1>\n"
	    "<p>Your mail apps will ask for the new password the next time they connect.</p>\n");
	if (error != NULL)
		portal_html_notice(b, "error", error);
	evbuffer_add_printf(b, "<form method=\"post\" action=\"/account/password\">\n"
	    "<label for=\"address\">Email address</label>\n"
	    "<input id=\"address\" name=\"address\" type=\"email\" autocomplete=\"username\" "
	    "required maxlength=\"%d\" value=\"", STORE_ADDR_MAX);
	portal_html_text(b, address != NULL ? address : "");
	evbuffer_add_printf(b, "\">\n"
	    "<label for=\"current\">Current password</label>\n"
	    "<input id=\"current\" name=\"current\" type=\"password\" "
	    "autocomplete=\"current-password\" required maxlength=\"%d\">\n"
	    "<label for=\"password\">New password</label>\n"
	    "<input id=\"password\" name=\"password\" type=\"password\" "
	    "autocomplete=\"new-password\" minlength=\"%u\" maxlength=\"%d\" required "
	    "aria-describedby=\"password-hint\">\n"
	    "<p class=\"hint\" id=\"password-hint\">At least %u characters, not your email "
	    "address, not a dictionary word.</p>\n"
	    "<label for=\"confirm\">Confirm the new password</label>\n"
	    "<input id=\"confirm\" name=\"confirm\" type=\"password\" "
	    "autocomplete=\"new-password\" minlength=\"%u\" maxlength=\"%d\" required>\n"
	    "<button type=\"submit\">Change password</button>\n</form>\n</div>\n",
	    SEC_PASSWORD_MAX, min, SEC_PASSWORD_MAX, min, min, SEC_PASSWORD_MAX);
	portal_html_end(b, conf);
	portal_reply_html(req, code, reason, b);
	evbuffer_free(b);
}

static void
portal_pw_changed_page(struct evhttp_request *req, const struct conf *conf,
    const char *address)
{
	struct evbuffer *b = evbuffer_new();
	char *enc = portal_url_encode(address);

	portal_html_begin(b, conf, "Password changed");
	evbuffer_add_printf(b, "<div class=\"card\">\n<h1>Password changed</h1>\n");
	portal_html_notice(b, "ok", "Your new password is active now.");
	evbuffer_add_printf(b, "<p>Mail apps that were connected with the old password will "
	    "ask for the new one. Enter it there to keep reading your secure mail.</p>\n"
	    "<a class=\"button\" href=\"/setup?address=%s\">Mail app settings</a>\n</div>\n", enc);
	portal_html_end(b, conf);
	portal_reply_html(req, 200, "OK", b);
	evbuffer_free(b);
	free(enc);
}

/* ---- the job ---- */

static void
portal_pw_release(struct portal_job *j)
{
	struct portal_pw_job *w = (struct portal_pw_job *)j;

	portal_fields_free(w->f, PW_NFIELDS);
	sec_wipe(w, sizeof *w);
	free(w);
}

/* An address without an active account costs one Argon2id too, so that
 * the answer's timing does not tell which addresses have accounts. */
static bool
portal_pw_account_active(struct portal_pw_job *w)
{
	struct store *st = w->j.ctx->store;
	const struct portal_field *cur = &w->f[PW_CURRENT];
	struct store_account a;
	struct store_txn *t;
	enum store_rc rc = STORE_TEMPFAIL;
	struct sec_sk *k;
	uint8_t *blob = NULL;
	size_t blob_len = 0;

	if ((t = store_read_begin(st, &rc)) != NULL) {
		rc = store_account_get(t, w->address, &a);
		store_read_end(&t);
	}
	if (rc == STORE_OK && a.state == STORE_ACCT_ACTIVE && a.has_password)
		return true;
	k = sec_sk_new();
	sec_wrap_password(k, cur->value, cur->len,
	    (enum sec_kdf)w->j.ctx->conf->policy.password_kdf, &blob, &blob_len);
	free(blob);
	sec_sk_unref(&k);
	return false;
}

static void
portal_pw_work(struct portal_job *j)
{
	struct portal_pw_job *w = (struct portal_pw_job *)j;
	const struct portal_field *cur = &w->f[PW_CURRENT], *pw = &w->f[PW_NEW];
	enum store_rc rc;

	w->policy = portal_policy_check(j->policy, w->address, pw->value, pw->len, cur->value,
	    w->why, sizeof w->why);
	if (w->policy != PORTAL_POLICY_OK) {
		w->outcome = PW_POLICY;
		return;
	}
	if (!portal_pw_account_active(w)) {
		w->outcome = PW_WRONG;
		return;
	}
	rc = store_password_change(j->ctx->store, w->address, cur->value, cur->len, pw->value,
	    pw->len, j->ctx->conf->policy.password_kdf);
	if (rc == STORE_OK)
		w->outcome = PW_CHANGED;
	else if (rc == STORE_DENIED || rc == STORE_NOTFOUND)
		w->outcome = PW_WRONG;
	else
		w->outcome = PW_TEMPFAIL;
}

static void
portal_pw_reply_json(struct portal_pw_job *w, int code, const char *reason, const char *error,
    const char *message)
{
	struct evbuffer *b = evbuffer_new();
	char *q = portal_json_str(message);

	evbuffer_add_printf(b, "{\"error\": \"%s\", \"message\": %s}\n", error, q);
	free(q);
	portal_reply(w->j.req, code, reason, "application/json", b);
	evbuffer_free(b);
}

static void
portal_pw_reply_changed(struct portal_pw_job *w)
{
	struct evbuffer *b = evbuffer_new();
	char *q = portal_json_str(w->address);

	evbuffer_add_printf(b, "{\"address\": %s, \"changed\": true}\n", q);
	free(q);
	portal_reply(w->j.req, 200, "OK", "application/json", b);
	evbuffer_free(b);
}

static void
portal_pw_reply_refused(struct portal_pw_job *w, int code, const char *reason,
    const char *error, const char *message)
{
	if (w->api)
		portal_pw_reply_json(w, code, reason, error, message);
	else
		portal_pw_form(w->j.req, w->j.ctx->conf, w->address, message, code, reason);
}

/* Loop, after the delay the throttle asked for. */
static void
portal_pw_answer(struct portal_job *j)
{
	struct portal_pw_job *w = (struct portal_pw_job *)j;
	char msg[PORTAL_MSG_MAX];

	switch (w->outcome) {
	case PW_CHANGED:
		if (w->api)
			portal_pw_reply_changed(w);
		else
			portal_pw_changed_page(j->req, j->ctx->conf, w->address);
		break;
	case PW_WRONG:
		portal_pw_reply_refused(w, 403, "Forbidden", "invalid_credentials",
		    "The email address or the current password is not right.");
		break;
	case PW_LOCKED:
		evhttp_add_header(evhttp_request_get_output_headers(j->req), "Retry-After", "900");
		portal_pw_reply_refused(w, 429, "Too Many Requests", "locked",
		    "Too many wrong passwords: for your security, this address is locked for a "
		    "while. Please try again later.");
		break;
	case PW_POLICY:
		portal_policy_message(j->ctx->conf, w->policy, w->why, msg, sizeof msg);
		portal_pw_reply_refused(w, 422, "Unprocessable Entity",
		    portal_policy_code(w->policy), msg);
		break;
	case PW_TEMPFAIL:
		portal_pw_reply_refused(w, 503, "Service Unavailable", "temporary_failure",
		    "The service could not change your password just now. Nothing was changed; "
		    "please try again in a few minutes.");
		break;
	}
	portal_job_end(j);
}

/* Loop, when the worker returns (or at once for a locked address). */
static void
portal_pw_done(struct portal_job *j)
{
	struct portal_pw_job *w = (struct portal_pw_job *)j;
	struct gw_ctx *ctx = j->ctx;
	unsigned delay = 0;

	switch (w->outcome) {
	case PW_CHANGED:
		gw_auth_note_success(ctx, j->ip, w->address);
		store_audit(ctx->store, "password_changed", w->address, j->ip, "portal");
		log_info("portal", "event=password_changed ip=%s", j->ip);
		break;
	case PW_WRONG:
		delay = gw_auth_note_failure(ctx, GW_PROTO_PORTAL, j->ip, w->address);
		if (gw_auth_locked(ctx, j->ip, w->address))
			w->outcome = PW_LOCKED;
		break;
	case PW_LOCKED:
		atomic_fetch_add(&ctx->metrics.auth_failures, 1);
		delay = (unsigned)ctx->conf->limits.auth_delay_max * 1000;
		log_info("portal", "event=auth_locked ip=%s", j->ip);
		break;
	default:
		break;
	}
	portal_job_delay(j, delay, portal_pw_answer);
}

/* ---- handlers ---- */

static void
portal_pw_post(struct portal *p, struct evhttp_request *req, bool api)
{
	const struct conf *conf = p->ctx->conf;
	struct portal_pw_job *w;
	struct portal_field f[PW_NFIELDS] = {
		{ .name = "address" }, { .name = "current" }, { .name = "password" },
		{ .name = "confirm" },
	};
	size_t len;
	const char *body = portal_body(req, &len);
	int rc = api ? portal_json_parse(body, len, f, PW_NFIELDS) :
	    portal_form_parse(body, len, f, PW_NFIELDS);

	portal_body_wipe(req);
	if (rc != 0 || f[PW_ADDRESS].value == NULL || f[PW_ADDRESS].len == 0 ||
	    f[PW_ADDRESS].len > STORE_ADDR_MAX || f[PW_CURRENT].value == NULL ||
	    f[PW_NEW].value == NULL) {
		if (api)
			portal_reply_json_error(req, 400, "Bad Request", "invalid_request");
		else
			portal_pw_form(req, conf, NULL, "Please fill in every field.", 400,
			    "Bad Request");
		portal_fields_free(f, PW_NFIELDS);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->api = api;
	memcpy(w->f, f, sizeof w->f);
	portal_fields_fill(w->f, PW_NFIELDS);
	memcpy(w->address, w->f[PW_ADDRESS].value, w->f[PW_ADDRESS].len);
	sg_ascii_lower(w->address, w->f[PW_ADDRESS].len);
	if (!api && (w->f[PW_NEW].len != w->f[PW_CONFIRM].len ||
	    !sec_equal(w->f[PW_NEW].value, w->f[PW_CONFIRM].value, w->f[PW_NEW].len))) {
		portal_pw_form(req, conf, w->address, "The two new passwords are not the same. "
		    "Please type the same new password twice.", 400, "Bad Request");
		portal_pw_release(&w->j);
		return;
	}
	if (gw_auth_locked(p->ctx, portal_peer_ip(req, w->j.ip), w->address)) {
		w->outcome = PW_LOCKED;
		portal_job_start(p, req, &w->j, NULL, portal_pw_done, portal_pw_release);
		return;
	}
	w->j.slow = true;
	portal_job_start(p, req, &w->j, portal_pw_work, portal_pw_done, portal_pw_release);
}

static bool
portal_pw_admit(struct portal *p, struct evhttp_request *req, bool api)
{
	char ip[PORTAL_IP_MAX];
	const char *type = api ? "application/json" : "application/x-www-form-urlencoded";

	if (!portal_limit_take(p, portal_peer_ip(req, ip))) {
		portal_body_wipe(req);
		portal_reply_rate_limited(req, p->ctx->conf, api);
		return false;
	}
	if (!portal_content_type_is(req, type)) {
		portal_body_wipe(req);
		if (api)
			portal_reply_json_error(req, 415, "Unsupported Media Type",
			    "unsupported_media_type");
		else
			portal_pw_form(req, p->ctx->conf, NULL, "The form could not be read; "
			    "please send it again.", 415, "Unsupported Media Type");
		return false;
	}
	return true;
}

void
portal_password(struct portal *p, struct evhttp_request *req)
{
	char *address;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		if (portal_pw_admit(p, req, false))
			portal_pw_post(p, req, false);
		return;
	}
	address = portal_query_param(req, "address");
	portal_pw_form(req, p->ctx->conf, address, NULL, 200, "OK");
	free(address);
}

void
portal_api_password(struct portal *p, struct evhttp_request *req)
{
	if (portal_pw_admit(p, req, true))
		portal_pw_post(p, req, true);
}
