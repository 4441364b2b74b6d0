/*
 * portal.c: the HTTPS portal on evhttp. evhttp owns its connections; we
 * give it TLS bufferevents through evhttp_set_bevcb and sockets we bound
 * ourselves, so the portal shares the gateway's TLS context and reload.
 *
 * Every request goes through one route table (evhttp's own table has no
 * prefix match, and a table of our own lets us answer 404 and 405 with
 * the security headers). POSTs count against a per-address limit; work
 * that must not run on the loop goes through portal jobs (below).
 */
#include "gateway/portal.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/sec.h"
#include "gateway/gw_listen.h"
#include "gateway/gw_log.h"
#include "gateway/gw_tls.h"
#include "gateway/gw_worker.h"
#include "gateway/portal_private.h"

#define PORTAL_MAX_HEADERS	(16 * 1024)
#define PORTAL_MAX_BODY		(64 * 1024)
#define PORTAL_TIMEOUT		30
/* Every method evhttp knows reaches our table, so that the refusal of
 * PUT or DELETE is a 405 with our headers rather than evhttp's bare 501. */
#define PORTAL_METHODS_ALL	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | \
	EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | \
	EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)
#define PORTAL_GET		(EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

/*
 * POSTs per client address, as a generic cell rate: a burst of
 * PORTAL_POST_BURST, then one every PORTAL_POST_EVERY_MS. The limit is
 * generous for people (a form is posted a few times) and for the shared
 * authentication throttle, which keeps its own, stricter count of wrong
 * passwords; it stops scripted floods of enrollment attempts.
 */
#define PORTAL_POST_BURST	30
#define PORTAL_POST_EVERY_MS	2000
#define PORTAL_LIMIT_BUCKETS	1024
#define PORTAL_LIMIT_MAX	65536	/* addresses tracked at once */

struct portal_limit_ent {
	char			 ip[PORTAL_IP_MAX];
	uint64_t		 tat_ms;	/* theoretical arrival time of the next POST */
	struct portal_limit_ent	*next;
};

struct portal_limit {
	struct portal_limit_ent	*buckets[PORTAL_LIMIT_BUCKETS];
	size_t			 n;
};

/* ---- responses ---- */

static struct bufferevent *
portal_bevcb(struct event_base *base, void *arg)
{
	struct portal *p = arg;

	return bufferevent_openssl_socket_new(base, -1, gw_tls_ssl_new(p->ctx->tls),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

void
portal_headers(struct evhttp_request *req, const char *content_type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "Content-Security-Policy",
	    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
	    "frame-ancestors 'none'; base-uri 'none'");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
	evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
}

void
portal_reply(struct evhttp_request *req, int code, const char *reason,
    const char *content_type, struct evbuffer *b)
{
	portal_headers(req, content_type);
	evhttp_send_reply(req, code, reason, b);
}

void
portal_reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, text, strlen(text));
	portal_reply(req, code, reason, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

void
portal_reply_json_error(struct evhttp_request *req, int code, const char *reason,
    const char *error)
{
	struct evbuffer *b = evbuffer_new();
	char *q = portal_json_str(error);

	evbuffer_add_printf(b, "{\"error\": %s}\n", q);
	free(q);
	portal_reply(req, code, reason, "application/json", b);
	evbuffer_free(b);
}

void
portal_redirect(struct evhttp_request *req, const char *location)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", location);
	portal_reply(req, 303, "See Other", "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

/* ---- request helpers ---- */

const struct sockaddr *
portal_peer_addr(struct evhttp_request *req)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);

	return c != NULL ? evhttp_connection_get_addr(c) : NULL;
}

const char *
portal_peer_ip(struct evhttp_request *req, char buf[PORTAL_IP_MAX])
{
	const struct sockaddr *sa = portal_peer_addr(req);
	const void *a = NULL;

	if (sa != NULL && sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa != NULL && sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, buf, PORTAL_IP_MAX) == NULL)
		snprintf(buf, PORTAL_IP_MAX, "?");
	return buf;
}

bool
portal_content_type_is(struct evhttp_request *req, const char *type)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	size_t n = strlen(type);

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return strncasecmp(ct, type, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

char *
portal_query_param(struct evhttp_request *req, const char *name)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	struct evkeyvalq kv;
	const char *v;
	char *out = NULL;

	if (q == NULL)
		return NULL;
	memset(&kv, 0, sizeof kv);	/* evhttp_parse_query_str initializes it */
	if (evhttp_parse_query_str(q, &kv) == 0 && (v = evhttp_find_header(&kv, name)) != NULL)
		out = xstrdup(v);
	evhttp_clear_headers(&kv);
	return out;
}

const char *
portal_body(struct evhttp_request *req, size_t *len_out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	const char *p = n > 0 ? (const char *)evbuffer_pullup(in, -1) : "";

	*len_out = p != NULL ? n : 0;
	return p != NULL ? p : "";
}

/* Passwords arrive in the body: wipe the copy in libevent's buffer as soon
 * as we have ours. (What TLS and the kernel saw is beyond our reach.) */
void
portal_body_wipe(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	unsigned char *p = n > 0 ? evbuffer_pullup(in, -1) : NULL;

	if (p != NULL)
		sec_wipe(p, n);
	evbuffer_drain(in, n);
}

/* ---- the POST limit ---- */

static unsigned
portal_limit_hash(const char *ip)
{
	unsigned h = 2166136261u;

	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % PORTAL_LIMIT_BUCKETS;
}

static void
portal_limit_free(struct portal_limit **lp)
{
	struct portal_limit_ent *e, *next;
	size_t i;

	if (*lp == NULL)
		return;
	for (i = 0; i < PORTAL_LIMIT_BUCKETS; i++)
		for (e = (*lp)->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(*lp);
	*lp = NULL;
}

/* The entry for ip, dropping on the way entries whose bucket is full again
 * (they remember nothing a fresh entry would not). */
static struct portal_limit_ent *
portal_limit_find(struct portal_limit *l, const char *ip, uint64_t now)
{
	struct portal_limit_ent **pp = &l->buckets[portal_limit_hash(ip)], *e;

	while ((e = *pp) != NULL) {
		if (strcmp(e->ip, ip) == 0)
			return e;
		if (e->tat_ms <= now) {
			*pp = e->next;
			free(e);
			l->n--;
			continue;
		}
		pp = &e->next;
	}
	if (l->n >= PORTAL_LIMIT_MAX)
		return NULL;	/* a flood of addresses: let the auth throttle decide */
	e = xcalloc(1, sizeof *e);
	snprintf(e->ip, sizeof e->ip, "%s", ip);
	e->tat_ms = now;
	e->next = l->buckets[portal_limit_hash(ip)];
	l->buckets[portal_limit_hash(ip)] = e;
	l->n++;
	return e;
}

bool
portal_limit_take(struct portal *p, const char *ip)
{
	uint64_t now = sg_mono_ms();
	uint64_t window = (uint64_t)(PORTAL_POST_BURST - 1) * PORTAL_POST_EVERY_MS;
	struct portal_limit_ent *e = portal_limit_find(p->limit, ip, now);

	if (e == NULL)
		return true;
	if (e->tat_ms < now)
		e->tat_ms = now;
	if (e->tat_ms > now + window) {
		log_info("portal", "event=rate_limited ip=%s", ip);
		return false;
	}
	e->tat_ms += PORTAL_POST_EVERY_MS;
	return true;
}

/* ---- jobs ---- */

static void
portal_job_unlink(struct portal_job *j)
{
	if (j->p == NULL)
		return;
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		j->p->jobs = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
}

static void
portal_job_work_cb(void *arg)
{
	struct portal_job *j = arg;

	j->work(j);
}

static void
portal_job_release(struct portal_job *j)
{
	struct portal_policy *policy = j->policy;

	j->release(j);
	portal_policy_unref(&policy);
}

static void
portal_job_done_cb(void *arg)
{
	struct portal_job *j = arg;

	j->in_worker = false;
	if (j->p == NULL)
		portal_job_release(j);	/* orphaned by portal_free */
	else
		j->done(j);
}

void
portal_job_start(struct portal *p, struct evhttp_request *req, struct portal_job *j,
    portal_job_fn *work, portal_job_fn *done, portal_job_fn *release)
{
	j->p = p;
	j->req = req;
	j->ctx = p->ctx;
	j->policy = portal_policy_ref(p->policy);
	j->started_ms = sg_mono_ms();
	j->work = work;
	j->done = done;
	j->release = release;
	portal_peer_ip(req, j->ip);
	j->next = p->jobs;
	if (p->jobs != NULL)
		p->jobs->prev = j;
	p->jobs = j;
	if (work == NULL) {
		done(j);
		return;
	}
	j->in_worker = true;
	if (j->slow)
		gw_workers_submit_slow(p->ctx->workers, portal_job_work_cb, portal_job_done_cb, j);
	else
		gw_workers_submit(p->ctx->workers, portal_job_work_cb, portal_job_done_cb, j);
}

static void
portal_job_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct portal_job *j = arg;

	(void)fd;
	(void)what;
	event_free(j->timer);
	j->timer = NULL;
	j->done(j);
}

void
portal_job_delay(struct portal_job *j, unsigned delay_ms, portal_job_fn *fn)
{
	uint64_t elapsed = sg_mono_ms() - j->started_ms;
	uint64_t wait = delay_ms > elapsed ? delay_ms - elapsed : 0;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };

	j->done = fn;
	if ((j->timer = evtimer_new(j->ctx->base, portal_job_timer_cb, j)) == NULL ||
	    evtimer_add(j->timer, &tv) != 0)
		fatal("event=portal_timer error=failed");
}

void
portal_job_end(struct portal_job *j)
{
	portal_job_unlink(j);
	if (j->timer != NULL)
		event_free(j->timer);
	j->timer = NULL;
	portal_job_release(j);
}

/* Shutdown: requests still waiting get no answer. A job on a worker is
 * released when the worker returns; one waiting on a timer, now. A
 * request whose client left is no longer evhttp's (it would have been
 * freed by our reply), so it is freed here. */
static void
portal_jobs_orphan(struct portal *p)
{
	struct portal_job *j, *next;

	for (j = p->jobs; j != NULL; j = next) {
		next = j->next;
		if (j->req != NULL && evhttp_request_get_connection(j->req) == NULL)
			evhttp_request_free(j->req);
		j->p = NULL;
		j->req = NULL;
		j->prev = j->next = NULL;
		if (!j->in_worker) {
			if (j->timer != NULL)
				event_free(j->timer);
			j->timer = NULL;
			portal_job_release(j);
		}
	}
	p->jobs = NULL;
}

/* ---- routes ---- */

static void
portal_healthz(struct portal *p, struct evhttp_request *req)
{
	if (p->ctx->stopping || p->ctx->store == NULL)
		portal_reply_text(req, 503, "Service Unavailable", "stopping\n");
	else
		portal_reply_text(req, 200, "OK", "ok\n");
}

typedef void portal_route_fn(struct portal *p, struct evhttp_request *req);

struct portal_route {
	const char	*path;
	unsigned	 methods;
	portal_route_fn	*run;
};

static const struct portal_route portal_routes[] = {
	{ "/", PORTAL_GET, portal_index },
	{ "/healthz", PORTAL_GET, portal_healthz },
	{ "/metrics", PORTAL_GET, portal_metrics },
	{ "/api/v1/enroll", EVHTTP_REQ_POST, portal_api_enroll },
	{ "/account/password", PORTAL_GET | EVHTTP_REQ_POST, portal_password },
	{ "/api/v1/password", EVHTTP_REQ_POST, portal_api_password },
	{ "/setup", PORTAL_GET, portal_setup },
	{ "/setup/apple.mobileconfig", PORTAL_GET, portal_mobileconfig },
	{ "/.well-known/autoconfig/mail/config-v1.1.xml", PORTAL_GET, portal_autoconfig },
	{ "/mail/config-v1.1.xml", PORTAL_GET, portal_autoconfig },
};

#define PORTAL_ENROLL_PREFIX	"/enroll/"

static void
portal_method_not_allowed(struct evhttp_request *req, unsigned methods)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	    (methods & EVHTTP_REQ_POST) == 0 ? "GET, HEAD" :
	    (methods & EVHTTP_REQ_GET) == 0 ? "POST" : "GET, HEAD, POST");
	portal_reply_text(req, 405, "Method Not Allowed", "method not allowed\n");
}

/* Our log lines name the route, never the path: an enrollment path holds
 * its token. */
static void
portal_dispatch(struct evhttp_request *req, void *arg)
{
	struct portal *p = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	unsigned method = (unsigned)evhttp_request_get_command(req);
	char ip[PORTAL_IP_MAX];
	size_t i;

	p->requests++;
	if (path == NULL || path[0] == '\0')
		path = "/";
	if (strncmp(path, PORTAL_ENROLL_PREFIX, strlen(PORTAL_ENROLL_PREFIX)) == 0) {
		log_debug("portal", "event=request ip=%s route=/enroll/*",
		    portal_peer_ip(req, ip));
		if ((method & (PORTAL_GET | EVHTTP_REQ_POST)) == 0)
			portal_method_not_allowed(req, PORTAL_GET | EVHTTP_REQ_POST);
		else
			portal_enroll(p, req, path + strlen(PORTAL_ENROLL_PREFIX));
		return;
	}
	for (i = 0; i < SG_NITEMS(portal_routes); i++)
		if (strcmp(path, portal_routes[i].path) == 0)
			break;
	if (i == SG_NITEMS(portal_routes)) {
		log_debug("portal", "event=request ip=%s route=none", portal_peer_ip(req, ip));
		portal_reply_text(req, 404, "Not Found", "not found\n");
		return;
	}
	log_debug("portal", "event=request ip=%s route=%s", portal_peer_ip(req, ip),
	    portal_routes[i].path);
	if ((method & portal_routes[i].methods) == 0)
		portal_method_not_allowed(req, portal_routes[i].methods);
	else
		portal_routes[i].run(p, req);
}

static int
portal_bind(struct portal *p, char **err_out)
{
	const struct conf_addr_list *l = &p->ctx->conf->portal.listen;
	size_t i;

	for (i = 0; i < l->n; i++) {
		int fd = gw_listen_socket(&l->v[i], err_out);

		if (fd < 0)
			return -1;
		if (evhttp_accept_socket_with_handle(p->http, fd) == NULL) {
			*err_out = xasprintf("cannot serve HTTP on %s", l->v[i].text);
			return -1;
		}
		log_info("portal", "event=listen address=%s tls=implicit", l->v[i].text);
	}
	return 0;
}

struct portal *
portal_new(struct gw_ctx *ctx, char **err_out)
{
	struct portal *p = xcalloc(1, sizeof *p);

	p->ctx = ctx;
	p->limit = xcalloc(1, sizeof *p->limit);
	p->policy = portal_policy_new(ctx->conf);
	if ((p->http = evhttp_new(ctx->base)) == NULL)
		fatal("event=evhttp_new error=failed");
	evhttp_set_bevcb(p->http, portal_bevcb, p);
	evhttp_set_max_headers_size(p->http, PORTAL_MAX_HEADERS);
	evhttp_set_max_body_size(p->http, PORTAL_MAX_BODY);
	evhttp_set_timeout(p->http, PORTAL_TIMEOUT);
	evhttp_set_allowed_methods(p->http, PORTAL_METHODS_ALL);
	evhttp_set_gencb(p->http, portal_dispatch, p);
	if (portal_bind(p, err_out) != 0) {
		portal_free(&p);
		return NULL;
	}
	return p;
}

void
portal_free(struct portal **pp)
{
	struct portal *p = *pp;

	if (p == NULL)
		return;
	portal_jobs_orphan(p);
	if (p->http != NULL)
		evhttp_free(p->http);
	portal_limit_free(&p->limit);
	portal_policy_unref(&p->policy);
	free(p);
	*pp = NULL;
}
