/*
 * portal_private.h: shared by the portal's handler files. portal.c routes
 * requests and owns the per-address POST limit and the asynchronous jobs;
 * portal_html.c renders pages; portal_form.c parses request bodies;
 * portal_policy.c checks new passwords; the handlers live in
 * portal_enroll.c, portal_account.c, portal_setup.c and portal_metrics.c.
 * Loop thread only, except the job's work function and the policy check.
 */
#ifndef PORTAL_PRIVATE_H
#define PORTAL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/portal.h"

struct event;
struct evbuffer;
struct evhttp;
struct evhttp_request;
struct portal_limit;
struct portal_policy;
struct portal_job;
struct sockaddr;

#define PORTAL_IP_MAX		48	/* text of an IPv6 address, with room */
#define PORTAL_FIELD_MAX	4096	/* bytes of one decoded form or JSON value */

struct portal {
	struct gw_ctx		*ctx;
	struct evhttp		*http;
	struct portal_limit	*limit;		/* POSTs per address */
	struct portal_policy	*policy;	/* password rules */
	struct portal_job	*jobs;		/* requests waiting on a worker or timer */
	uint64_t		 requests;	/* served, for /metrics */
};

/* ---- responses (portal.c) ---- */

/* Content-Type plus the security headers every response carries. */
void portal_headers(struct evhttp_request *req, const char *content_type);
void portal_reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *text);
/* Send b (emptied) with the headers of content_type. */
void portal_reply(struct evhttp_request *req, int code, const char *reason,
    const char *content_type, struct evbuffer *b);
/* {"error": "<code>"} with the given status. */
void portal_reply_json_error(struct evhttp_request *req, int code, const char *reason,
    const char *error);
/* 303 See Other to a path of this portal (already encoded). */
void portal_redirect(struct evhttp_request *req, const char *location);

/* ---- request helpers (portal.c) ---- */

/* The peer's address as text ("?" when unknown); never NULL. */
const char *portal_peer_ip(struct evhttp_request *req, char buf[PORTAL_IP_MAX]);
const struct sockaddr *portal_peer_addr(struct evhttp_request *req);
/* Does the Content-Type header name this media type (parameters ignored)? */
bool portal_content_type_is(struct evhttp_request *req, const char *type);
/* One query parameter, decoded; malloc'd, or NULL when absent. */
char *portal_query_param(struct evhttp_request *req, const char *name);
/* The request body, made contiguous; wipe it with portal_body_wipe(). */
const char *portal_body(struct evhttp_request *req, size_t *len_out);
void portal_body_wipe(struct evhttp_request *req);
/* Count a POST from ip; false when the address is over its limit. */
bool portal_limit_take(struct portal *p, const char *ip);

/* ---- asynchronous requests (portal.c) ----
 *
 * A handler that needs a worker (Argon2id, the dictionary check) or a
 * delay embeds a struct portal_job first in its own state. The portal may
 * go away first (shutdown): then the job is orphaned (p and req NULL) and
 * released without a reply when its worker returns. So work() reads only
 * ctx, policy and the embedding struct, never p or req.
 */
typedef void portal_job_fn(struct portal_job *j);

struct portal_job {
	struct portal		*p;		/* NULL once orphaned */
	struct evhttp_request	*req;		/* NULL once orphaned */
	struct gw_ctx		*ctx;
	struct portal_policy	*policy;	/* a reference: work may use it */
	char			 ip[PORTAL_IP_MAX];
	uint64_t		 started_ms;
	portal_job_fn		*work;		/* worker thread */
	portal_job_fn		*done;		/* loop, after work, or after a delay */
	portal_job_fn		*release;	/* frees the embedding struct */
	struct event		*timer;
	bool			 in_worker;
	bool			 slow;		/* work runs Argon2id (gw_workers_submit_slow) */
	struct portal_job	*prev, *next;
};

/* Register j (zeroed by the caller, embedded in its state) for req and run
 * work on a worker, then done on the loop. work NULL: done runs at once
 * (a job that only waits, see portal_job_delay). */
void portal_job_start(struct portal *p, struct evhttp_request *req, struct portal_job *j,
    portal_job_fn *work, portal_job_fn *done, portal_job_fn *release);
/* From done: run fn on the loop once delay_ms have passed since the job
 * started (so that fast and slow failures answer alike). */
void portal_job_delay(struct portal_job *j, unsigned delay_ms, portal_job_fn *fn);
/* The reply is sent: forget and release j. */
void portal_job_end(struct portal_job *j);

/* ---- HTML (portal_html.c) ---- */

/* Append s HTML-escaped (text and attribute values alike). */
void portal_html_text(struct evbuffer *b, const char *s);
/* Open a page: doctype, head with the inline style, header, <main>. */
void portal_html_begin(struct evbuffer *b, const struct conf *conf, const char *title);
/* Close it with the footer. */
void portal_html_end(struct evbuffer *b, const struct conf *conf);
/* A notice box: kind is "error" (role=alert) or "ok" (role=status). */
void portal_html_notice(struct evbuffer *b, const char *kind, const char *text);
/* A date as "27 November 2026, 10:00 UTC". */
void portal_html_date(struct evbuffer *b, int64_t when);
/* A whole page with one card: a heading and a paragraph. */
void portal_reply_message(struct evhttp_request *req, const struct conf *conf, int code,
    const char *reason, const char *title, const char *text);
/* 429 with Retry-After, as a page or as JSON. */
void portal_reply_rate_limited(struct evhttp_request *req, const struct conf *conf, bool json);
/* Send a page. */
void portal_reply_html(struct evhttp_request *req, int code, const char *reason,
    struct evbuffer *b);

/* ---- bodies (portal_form.c) ---- */

struct portal_field {
	const char	*name;
	char		*value;		/* secret memory, NUL-terminated; NULL if absent */
	size_t		 len;
};

/* application/x-www-form-urlencoded, or a JSON object whose wanted
 * members are strings. Values of the named fields are decoded into
 * secret memory; other fields are ignored. 0, or -1 when the body is
 * malformed, not UTF-8, has a NUL, repeats a wanted field or has a value
 * over PORTAL_FIELD_MAX (fields are then freed). */
SG_NODISCARD int portal_form_parse(const char *body, size_t len, struct portal_field *f,
    size_t n);
SG_NODISCARD int portal_json_parse(const char *body, size_t len, struct portal_field *f,
    size_t n);
void portal_fields_free(struct portal_field *f, size_t n);
/* Give every absent field an empty value, so that workers see strings. */
void portal_fields_fill(struct portal_field *f, size_t n);
/* s as a JSON string literal with quotes; malloc'd. */
char *portal_json_str(const char *s);
/* s percent-encoded for a query value; malloc'd. */
char *portal_url_encode(const char *s);

/* ---- password policy (portal_policy.c) ---- */

enum portal_policy_rc {
	PORTAL_POLICY_OK,
	PORTAL_POLICY_SHORT,		/* under [policy] password_min_length */
	PORTAL_POLICY_LONG,		/* over SEC_PASSWORD_MAX */
	PORTAL_POLICY_ADDRESS,		/* holds the address, its local part or a domain label */
	PORTAL_POLICY_WEAK,		/* libpwquality refused it (dictionary, patterns) */
	PORTAL_POLICY_SAME,		/* the new password is the current one */
};

/* Reference counted: jobs on workers keep it past portal_free(). */
struct portal_policy *portal_policy_new(const struct conf *conf);
struct portal_policy *portal_policy_ref(struct portal_policy *pp);
void portal_policy_unref(struct portal_policy **pp);
/* Any thread (the dictionary check is serialized inside); blocks on the
 * dictionary files for a few ms, so call it on a worker. why_out (may be
 * NULL) receives libpwquality's explanation for PORTAL_POLICY_WEAK. */
enum portal_policy_rc portal_policy_check(struct portal_policy *pp, const char *address,
    const char *pw, size_t pwlen, const char *old, char *why_out, size_t why_size);
/* The sentence shown to the user for rc (why is libpwquality's text). */
void portal_policy_message(const struct conf *conf, enum portal_policy_rc rc, const char *why,
    char *out, size_t size);
/* The short code of rc for JSON answers ("password_too_short", ...). */
const char *portal_policy_code(enum portal_policy_rc rc);

/* ---- handlers ---- */

void portal_enroll(struct portal *p, struct evhttp_request *req, const char *token);
void portal_api_enroll(struct portal *p, struct evhttp_request *req);
void portal_password(struct portal *p, struct evhttp_request *req);
void portal_api_password(struct portal *p, struct evhttp_request *req);
void portal_index(struct portal *p, struct evhttp_request *req);
void portal_setup(struct portal *p, struct evhttp_request *req);
void portal_autoconfig(struct portal *p, struct evhttp_request *req);
void portal_mobileconfig(struct portal *p, struct evhttp_request *req);
void portal_metrics(struct portal *p, struct evhttp_request *req);

/* The client endpoints of this deployment (portal_setup.c): port 0 when a
 * listener is off. */
struct portal_endpoints {
	const char	*host;
	unsigned	 imaps, imap, smtps, submission;
};
void portal_endpoints_get(const struct conf *conf, struct portal_endpoints *out);

#endif
