/*
 * portal.c: the HTTPS portal on evhttp. evhttp owns its connections; we
 * give it TLS bufferevents through evhttp_set_bevcb and sockets we bound
 * ourselves, so the portal shares the gateway's TLS context and reload.
 */
#include "gateway/portal.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_listen.h"
#include "gateway/gw_log.h"
#include "gateway/gw_tls.h"
#include "gateway/portal_private.h"

#define PORTAL_MAX_HEADERS	(16 * 1024)
#define PORTAL_MAX_BODY		(64 * 1024)
#define PORTAL_TIMEOUT		30

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
}

void
portal_reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	portal_headers(req, "text/plain; charset=utf-8");
	evbuffer_add(b, text, strlen(text));
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void
portal_healthz(struct evhttp_request *req, void *arg)
{
	struct portal *p = arg;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		portal_reply_text(req, 405, "Method Not Allowed", "method not allowed\n");
		return;
	}
	if (p->ctx->stopping)
		portal_reply_text(req, 503, "Service Unavailable", "stopping\n");
	else
		portal_reply_text(req, 200, "OK", "ok\n");
}

static void
portal_notfound(struct evhttp_request *req, void *arg)
{
	(void)arg;
	portal_reply_text(req, 404, "Not Found", "not found\n");
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
	if ((p->http = evhttp_new(ctx->base)) == NULL)
		fatal("event=evhttp_new error=failed");
	evhttp_set_bevcb(p->http, portal_bevcb, p);
	evhttp_set_max_headers_size(p->http, PORTAL_MAX_HEADERS);
	evhttp_set_max_body_size(p->http, PORTAL_MAX_BODY);
	evhttp_set_timeout(p->http, PORTAL_TIMEOUT);
	evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
	evhttp_set_cb(p->http, "/healthz", portal_healthz, p);
	evhttp_set_gencb(p->http, portal_notfound, p);
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
	if (p->http != NULL)
		evhttp_free(p->http);
	free(p);
	*pp = NULL;
}
