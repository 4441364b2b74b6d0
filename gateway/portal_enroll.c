/*
 * portal_enroll.c: enrollment (DESIGN.md flow 2). GET /enroll/<token>
 * shows the form; POST /enroll/<token> and POST /api/v1/enroll check the
 * two passwords and the policy, then spend the token and wrap the private
 * key under Argon2id, all on a worker.
 *
 * An unknown, spent or expired token gets one answer: the same 410 page
 * (or {"error": "invalid_or_expired"}), built by the same function after
 * the same store work (the token lookup is a keyed hash and one read
 * whatever the token). The token is never logged: log lines name the
 * route, not the path.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_log.h"
#include "gateway/portal_private.h"
#include "store/store.h"

#define PORTAL_WHY_MAX		256
#define PORTAL_MSG_MAX		512
#define PORTAL_TOKEN_MAX	256	/* longer paths are no token: hashed as none */

enum { ENROLL_PASSWORD, ENROLL_CONFIRM, ENROLL_TOKEN, ENROLL_NFIELDS };

struct portal_enroll_job {
	struct portal_job	 j;		/* first: the job machinery's view */
	bool			 api;
	char			*token;		/* secret memory, PORTAL_TOKEN_MAX + 1 */
	size_t			 token_len;
	struct portal_field	 f[ENROLL_NFIELDS];
	/* results of the worker */
	enum store_rc		 rc;
	bool			 mismatch;
	enum portal_policy_rc	 policy;
	char			 why[PORTAL_WHY_MAX];
	struct store_account	 a;
};

/* ---- pages ---- */

/* The one answer for every token that does not work. */
static void
portal_enroll_gone(struct evhttp_request *req, const struct conf *conf, bool api)
{
	if (api)
		portal_reply_json_error(req, 410, "Gone", "invalid_or_expired");
	else
		portal_reply_message(req, conf, 410, "Gone", "This link no longer works",
		    "This invitation link is not valid: it has expired, or it was used "
		    "already. Ask the person who sent you the secure message to send you a new "
		    "invitation. If you have already created your password, set up your mail "
		    "app with it.");
}

static void
portal_unavailable(struct evhttp_request *req, const struct conf *conf, bool api)
{
	if (api)
		portal_reply_json_error(req, 503, "Service Unavailable", "temporary_failure");
	else
		portal_reply_message(req, conf, 503, "Service Unavailable",
		    "Please try again", "The service could not finish your request just now. "
		    "Nothing was changed; please try again in a few minutes.");
}

static void
portal_enroll_fields(struct evbuffer *b, const struct conf *conf, const char *address)
{
	unsigned min = conf->policy.password_min_length;

	evbuffer_add_printf(b, "<form method=\"post\">\n"
	    "<label for=\"username\">Email address</label>\n"
	    "<input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" "
	    "value=\"");
	portal_html_text(b, address);
	evbuffer_add_printf(b, "\" readonly>\n"
	    "<label for=\"password\">New password</label>\n"
	    "<input id=\"password\" name=\"password\" type=\"password\" "
	    "autocomplete=\"new-password\" minlength=\"%u\" maxlength=\"%d\" required "
	    "aria-describedby=\"password-hint\" autofocus>\n"
	    "<p class=\"hint\" id=\"password-hint\">At least %u characters. Not your email "
	    "address and not a word from a dictionary: a few unrelated words together make a "
	    "strong password that is easy to remember.</p>\n"
	    "<label for=\"confirm\">Confirm the password</label>\n"
	    "<input id=\"confirm\" name=\"confirm\" type=\"password\" "
	    "autocomplete=\"new-password\" minlength=\"%u\" maxlength=\"%d\" required>\n"
	    "<button type=\"submit\">Create password</button>\n</form>\n",
	    min, SEC_PASSWORD_MAX, min, min, SEC_PASSWORD_MAX);
}

static void
portal_enroll_form(struct evhttp_request *req, const struct conf *conf,
    const struct store_account *a, const char *error, int code, const char *reason)
{
	struct evbuffer *b = evbuffer_new();

	portal_html_begin(b, conf, "Create your password");
	evbuffer_add_printf(b, "<div class=\"card\">\n<h1>Create your password</h1>\n"
	    "<p>Secure mail is waiting for <strong>");
	portal_html_text(b, a->address);
	evbuffer_add_printf(b, "</strong>. Choose a password: with it, the mail app you "
	    "already use reads and answers your secure messages.</p>\n");
	if (error != NULL)
		portal_html_notice(b, "error", error);
	portal_enroll_fields(b, conf, a->address);
	evbuffer_add_printf(b, "<p class=\"hint\">This link works once, until ");
	portal_html_date(b, a->token_expiry);
	evbuffer_add_printf(b, ".</p>\n</div>\n");
	portal_html_end(b, conf);
	portal_reply_html(req, code, reason, b);
	evbuffer_free(b);
}

static void
portal_enroll_get(struct portal *p, struct evhttp_request *req, const char *token)
{
	const struct conf *conf = p->ctx->conf;
	size_t len = strnlen(token, PORTAL_TOKEN_MAX + 1);
	struct store_account a;
	enum store_rc rc;

	rc = store_token_lookup(p->ctx->store, token, len > PORTAL_TOKEN_MAX ? 0 : len, &a);
	if (rc == STORE_OK)
		portal_enroll_form(req, conf, &a, NULL, 200, "OK");
	else if (rc == STORE_TEMPFAIL || rc == STORE_CORRUPT)
		portal_unavailable(req, conf, false);
	else
		portal_enroll_gone(req, conf, false);
}

/* ---- the job ---- */

static void
portal_enroll_release(struct portal_job *j)
{
	struct portal_enroll_job *e = (struct portal_enroll_job *)j;

	sec_free(e->token, PORTAL_TOKEN_MAX + 1);
	portal_fields_free(e->f, ENROLL_NFIELDS);
	sec_wipe(e, sizeof *e);
	free(e);
}

/* Worker: the same lookup for every token first, then the checks that need
 * the address, then the slow part. */
static void
portal_enroll_work(struct portal_job *j)
{
	struct portal_enroll_job *e = (struct portal_enroll_job *)j;
	const struct portal_field *pw = &e->f[ENROLL_PASSWORD], *cf = &e->f[ENROLL_CONFIRM];
	struct store *st = j->ctx->store;

	e->rc = store_token_lookup(st, e->token, e->token_len, &e->a);
	if (e->rc != STORE_OK)
		return;
	if (!e->api && (pw->len != cf->len || !sec_equal(pw->value, cf->value, pw->len))) {
		e->mismatch = true;
		return;
	}
	e->policy = portal_policy_check(j->policy, e->a.address, pw->value, pw->len, NULL,
	    e->why, sizeof e->why);
	if (e->policy != PORTAL_POLICY_OK)
		return;
	e->rc = store_enroll(st, e->token, e->token_len, pw->value, pw->len,
	    j->ctx->conf->policy.password_kdf, &e->a);
}

static void
portal_enroll_ok(struct portal_enroll_job *e)
{
	struct portal_job *j = &e->j;
	char *addr, *q, *loc;
	struct evbuffer *b;

	log_info("portal", "event=enrolled ip=%s account=%llu", j->ip,
	    (unsigned long long)e->a.id);
	store_audit(j->ctx->store, "enrolled", e->a.address, j->ip, "portal");
	if (e->api) {
		b = evbuffer_new();
		q = portal_json_str(e->a.address);
		evbuffer_add_printf(b, "{\"address\": %s}\n", q);
		free(q);
		portal_reply(j->req, 200, "OK", "application/json", b);
		evbuffer_free(b);
		return;
	}
	addr = portal_url_encode(e->a.address);
	loc = xasprintf("/setup?address=%s&enrolled=1", addr);
	portal_redirect(j->req, loc);
	free(loc);
	free(addr);
}

static void
portal_enroll_refused(struct portal_enroll_job *e)
{
	struct portal_job *j = &e->j;
	const struct conf *conf = j->ctx->conf;
	char msg[PORTAL_MSG_MAX];
	struct evbuffer *b;
	char *q;

	if (e->mismatch) {
		portal_enroll_form(j->req, conf, &e->a, "The two passwords are not the same. "
		    "Please type the same password twice.", 400, "Bad Request");
		return;
	}
	portal_policy_message(conf, e->policy, e->why, msg, sizeof msg);
	if (!e->api) {
		portal_enroll_form(j->req, conf, &e->a, msg, 422, "Unprocessable Entity");
		return;
	}
	b = evbuffer_new();
	q = portal_json_str(msg);
	evbuffer_add_printf(b, "{\"error\": \"%s\", \"message\": %s}\n",
	    portal_policy_code(e->policy), q);
	free(q);
	portal_reply(j->req, 422, "Unprocessable Entity", "application/json", b);
	evbuffer_free(b);
}

static void
portal_enroll_done(struct portal_job *j)
{
	struct portal_enroll_job *e = (struct portal_enroll_job *)j;
	const struct conf *conf = j->ctx->conf;

	switch (e->rc) {
	case STORE_OK:
		if (e->mismatch || e->policy != PORTAL_POLICY_OK)
			portal_enroll_refused(e);
		else
			portal_enroll_ok(e);
		break;
	case STORE_NOTFOUND:
	case STORE_EXPIRED:
	case STORE_DENIED:
	case STORE_INVALID:
		portal_enroll_gone(j->req, conf, e->api);
		break;
	default:
		log_warn("portal", "event=enroll_failed ip=%s error=%s", j->ip,
		    store_rc_str(e->rc));
		portal_unavailable(j->req, conf, e->api);
		break;
	}
	portal_job_end(j);
}

/* Start the job; takes the fields (password, confirm) and copies the
 * token into secret memory. */
static void
portal_enroll_start(struct portal *p, struct evhttp_request *req, bool api, const char *token,
    size_t token_len, struct portal_field *f)
{
	struct portal_enroll_job *e = xcalloc(1, sizeof *e);

	e->api = api;
	e->token = sec_alloc(PORTAL_TOKEN_MAX + 1);
	e->token_len = token_len > PORTAL_TOKEN_MAX ? 0 : token_len;
	memcpy(e->token, token, e->token_len);
	e->token[e->token_len] = '\0';
	memcpy(e->f, f, sizeof e->f);
	memset(f, 0, ENROLL_NFIELDS * sizeof *f);
	portal_fields_fill(e->f, ENROLL_NFIELDS);
	e->j.slow = true;
	portal_job_start(p, req, &e->j, portal_enroll_work, portal_enroll_done,
	    portal_enroll_release);
}

/* ---- handlers ---- */

static bool
portal_enroll_body(struct evhttp_request *req, bool api, struct portal_field *f)
{
	size_t len;
	const char *body = portal_body(req, &len);
	int rc;

	f[ENROLL_PASSWORD].name = "password";
	f[ENROLL_CONFIRM].name = "confirm";
	f[ENROLL_TOKEN].name = "token";
	rc = api ? portal_json_parse(body, len, f, ENROLL_NFIELDS) :
	    portal_form_parse(body, len, f, ENROLL_NFIELDS);
	portal_body_wipe(req);
	return rc == 0;
}

static void
portal_enroll_post(struct portal *p, struct evhttp_request *req, const char *token)
{
	const struct conf *conf = p->ctx->conf;
	struct portal_field f[ENROLL_NFIELDS];
	char ip[PORTAL_IP_MAX];

	memset(f, 0, sizeof f);
	if (!portal_limit_take(p, portal_peer_ip(req, ip))) {
		portal_body_wipe(req);
		portal_reply_rate_limited(req, conf, false);
		return;
	}
	if (!portal_content_type_is(req, "application/x-www-form-urlencoded")) {
		portal_body_wipe(req);
		portal_reply_message(req, conf, 415, "Unsupported Media Type",
		    "The form could not be read", "Please go back and send the form again.");
		return;
	}
	if (!portal_enroll_body(req, false, f)) {
		portal_reply_message(req, conf, 400, "Bad Request", "The form could not be read",
		    "Please go back and send the form again.");
		return;
	}
	portal_fields_free(&f[ENROLL_TOKEN], 1);	/* the token is the one in the path */
	portal_enroll_start(p, req, false, token, strnlen(token, PORTAL_TOKEN_MAX + 1), f);
}

void
portal_enroll(struct portal *p, struct evhttp_request *req, const char *token)
{
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST)
		portal_enroll_post(p, req, token);
	else
		portal_enroll_get(p, req, token);
}

void
portal_api_enroll(struct portal *p, struct evhttp_request *req)
{
	struct portal_field f[ENROLL_NFIELDS];
	char ip[PORTAL_IP_MAX];

	memset(f, 0, sizeof f);
	if (!portal_limit_take(p, portal_peer_ip(req, ip))) {
		portal_body_wipe(req);
		portal_reply_rate_limited(req, p->ctx->conf, true);
		return;
	}
	/* Only application/json: a cross-site form cannot send it without a
	 * CORS preflight, which this portal never grants. */
	if (!portal_content_type_is(req, "application/json")) {
		portal_body_wipe(req);
		portal_reply_json_error(req, 415, "Unsupported Media Type",
		    "unsupported_media_type");
		return;
	}
	if (!portal_enroll_body(req, true, f) || f[ENROLL_TOKEN].value == NULL ||
	    f[ENROLL_PASSWORD].value == NULL) {
		portal_fields_free(f, ENROLL_NFIELDS);
		portal_reply_json_error(req, 400, "Bad Request", "invalid_request");
		return;
	}
	portal_enroll_start(p, req, true, f[ENROLL_TOKEN].value, f[ENROLL_TOKEN].len, f);
	/* the job copied the token; the field itself went with the others */
}
