/*
 * gw_conn.c: the connection abstraction shared by SMTP and IMAP. All
 * bufferevents use BEV_OPT_DEFER_CALLBACKS so that no session callback ever
 * runs inside a call the session made; closing is likewise deferred, which
 * gives sessions one simple rule: ops->closed is the only exit.
 */
#include "gateway/gw_conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/gw_listen.h"
#include "gateway/gw_log.h"
#include "gateway/gw_tls.h"
#include "crypto/sec.h"

#define GW_CONN_READ_HIGH_DEFAULT	(64 * 1024)

const char *const gw_close_reason_names[] = { "local", "eof", "error", "timeout", "shutdown" };

struct gw_conn {
	struct gw_ctx			*ctx;
	struct bufferevent		*bev;
	SSL				*ssl;		/* owned by bev */
	const struct gw_conn_ops	*ops;
	void				*arg;
	struct event			*ev_defer;
	struct gw_listener		*listener;	/* counted against; may be NULL */
	struct gw_conn			*next, *prev;	/* ctx->conns */
	struct sockaddr_storage		 peer;
	socklen_t			 peerlen;
	char				 peer_ip[INET6_ADDRSTRLEN];
	uint32_t			 id;
	unsigned			 refs;
	unsigned			 read_secs;
	size_t				 read_high;
	enum gw_proto			 proto;
	enum gw_close_reason		 reason;
	bool				 closing, closed, paused, redeliver;
};

static void gw_conn_setup_bev(struct gw_conn *c);

static void
gw_conn_peer_text(struct gw_conn *c)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer;
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, c->peer_ip, sizeof c->peer_ip) == NULL)
		snprintf(c->peer_ip, sizeof c->peer_ip, "unknown");
}

static void
gw_conn_link(struct gw_conn *c)
{
	struct gw_ctx *ctx = c->ctx;

	c->next = ctx->conns;
	if (ctx->conns != NULL)
		ctx->conns->prev = c;
	ctx->conns = c;
	ctx->nconns++;
	atomic_fetch_add(&ctx->metrics.sessions[c->proto], 1);
	atomic_fetch_add(&ctx->metrics.sessions_total[c->proto], 1);
}

static void
gw_conn_unlink(struct gw_conn *c)
{
	struct gw_ctx *ctx = c->ctx;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctx->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	ctx->nconns--;
	atomic_fetch_sub(&ctx->metrics.sessions[c->proto], 1);
}

/* The one way out: free the transport, tell the session, drop our ref. */
static void
gw_conn_finish(struct gw_conn *c, enum gw_close_reason why)
{
	if (c->closed)
		return;
	c->closed = true;
	c->reason = why;
	gw_conn_unlink(c);
	if (c->listener != NULL)
		gw_listen_conn_gone(c->listener);
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl))
		SSL_set_shutdown(c->ssl, SSL_RECEIVED_SHUTDOWN);
	bufferevent_free(c->bev);
	c->bev = NULL;
	c->ssl = NULL;
	event_free(c->ev_defer);
	c->ev_defer = NULL;
	log_debug(gw_proto_names[c->proto], "session=%08x event=closed reason=%s", c->id,
	    gw_close_reason_names[why]);
	if (c->ops != NULL && c->ops->closed != NULL)
		c->ops->closed(c, c->arg, why);
	gw_conn_unref(&c);
}

static void
gw_conn_deliver_read(struct gw_conn *c)
{
	if (c->closing || c->closed || c->paused || c->ops == NULL)
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		c->ops->read(c, c->arg);
}

/*
 * Bytes still to leave: with STARTTLS the filter hands its ciphertext to the
 * underlying socket bufferevent, whose progress the filter does not report,
 * so a closing conn polls until both are empty.
 */
static size_t
gw_conn_unsent(struct gw_conn *c)
{
	struct bufferevent *under = bufferevent_get_underlying(c->bev);
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

static void
gw_conn_try_finish(struct gw_conn *c)
{
	static const struct timeval poll = { 0, 10 * 1000 };

	if (gw_conn_unsent(c) == 0)
		gw_conn_finish(c, GW_CLOSE_LOCAL);
	else if (bufferevent_get_underlying(c->bev) != NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		event_add(c->ev_defer, &poll);
}

static void
gw_conn_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->closing) {
		gw_conn_try_finish(c);
		return;
	}
	if (c->redeliver) {
		c->redeliver = false;
		gw_conn_deliver_read(c);
	}
}

static void
gw_conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	gw_conn_deliver_read(arg);
}

static void
gw_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct gw_conn *c = arg;

	(void)bev;
	if (c->closing) {
		gw_conn_try_finish(c);
		return;
	}
	if (c->ops != NULL && c->ops->drained != NULL)
		c->ops->drained(c, c->arg);
}

static void
gw_conn_log_tls_error(struct gw_conn *c)
{
	unsigned long e;
	char buf[256];

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		ERR_error_string_n(e, buf, sizeof buf);
		log_debug(gw_proto_names[c->proto], "session=%08x event=tls_error error=\"%s\"",
		    c->id, buf);
	}
}

static void
gw_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct gw_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT) {
		if (!c->closing && (what & BEV_EVENT_READING) && c->ops != NULL &&
		    c->ops->timeout != NULL) {
			c->ops->timeout(c, c->arg);
			return;
		}
		gw_conn_finish(c, GW_CLOSE_TIMEOUT);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		gw_conn_log_tls_error(c);
	gw_conn_finish(c, (what & BEV_EVENT_EOF) ? GW_CLOSE_EOF : GW_CLOSE_ERROR);
}

static void
gw_conn_setup_bev(struct gw_conn *c)
{
	struct timeval rtv = { (time_t)c->read_secs, 0 }, wtv = { GW_CONN_WRITE_TIMEOUT, 0 };

	bufferevent_setcb(c->bev, gw_conn_read_cb, gw_conn_write_cb, gw_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, c->read_high);
	bufferevent_setwatermark(c->bev, EV_WRITE, c->closing ? 0 : GW_CONN_OUT_LOW, 0);
	bufferevent_set_timeouts(c->bev, c->read_secs ? &rtv : NULL, &wtv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

struct gw_conn *
gw_conn_new(struct gw_ctx *ctx, int fd, const struct sockaddr *peer, socklen_t peerlen,
    enum gw_proto proto, bool implicit_tls)
{
	struct gw_conn *c = xcalloc(1, sizeof *c);
	int opt = 1;
	int bopt = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

	c->ctx = ctx;
	c->proto = proto;
	c->refs = 1;
	c->read_high = GW_CONN_READ_HIGH_DEFAULT;
	c->read_secs = 60;
	c->id = sec_random_uniform(UINT32_MAX);
	if (peerlen > sizeof c->peer)
		peerlen = sizeof c->peer;
	memcpy(&c->peer, peer, peerlen);
	c->peerlen = peerlen;
	gw_conn_peer_text(c);
	evutil_make_socket_nonblocking(fd);
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &opt, sizeof opt);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &opt, sizeof opt);
	if (implicit_tls) {
		c->ssl = gw_tls_ssl_new(ctx->tls);
		c->bev = bufferevent_openssl_socket_new(ctx->base, fd, c->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, bopt);
	} else
		c->bev = bufferevent_socket_new(ctx->base, fd, bopt);
	c->ev_defer = event_new(ctx->base, -1, 0, gw_conn_defer_cb, c);
	if (c->bev == NULL || c->ev_defer == NULL) {
		log_error("core", "event=conn_new error=bufferevent");
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else {
			if (c->ssl != NULL)
				SSL_free(c->ssl);
			close(fd);
		}
		if (c->ev_defer != NULL)
			event_free(c->ev_defer);
		free(c);
		return NULL;
	}
	gw_conn_link(c);
	gw_conn_setup_bev(c);
	return c;
}

void
gw_conn_attach_listener(struct gw_conn *c, struct gw_listener *l)
{
	c->listener = l;
}

void
gw_conn_set_ops(struct gw_conn *c, const struct gw_conn_ops *ops, void *arg)
{
	c->ops = ops;
	c->arg = arg;
	/* Input that arrived before the session existed must not wait for more. */
	if (!c->closed && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		c->redeliver = true;
		event_active(c->ev_defer, EV_READ, 0);
	}
}

struct evbuffer *
gw_conn_in(struct gw_conn *c)
{
	return bufferevent_get_input(c->bev);
}

struct evbuffer *
gw_conn_out(struct gw_conn *c)
{
	return bufferevent_get_output(c->bev);
}

size_t
gw_conn_out_len(struct gw_conn *c)
{
	return c->bev != NULL ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

void
gw_conn_write(struct gw_conn *c, const void *data, size_t len)
{
	if (c->closed || c->closing)
		return;
	bufferevent_write(c->bev, data, len);
}

void
gw_conn_vprintf(struct gw_conn *c, const char *fmt, va_list ap)
{
	if (c->closed || c->closing)
		return;
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
}

void
gw_conn_printf(struct gw_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gw_conn_vprintf(c, fmt, ap);
	va_end(ap);
}

void
gw_conn_set_timeout(struct gw_conn *c, unsigned read_secs)
{
	struct timeval rtv = { (time_t)read_secs, 0 }, wtv = { GW_CONN_WRITE_TIMEOUT, 0 };

	c->read_secs = read_secs;
	if (c->bev != NULL)
		bufferevent_set_timeouts(c->bev, read_secs ? &rtv : NULL, &wtv);
}

void
gw_conn_set_read_limit(struct gw_conn *c, size_t high)
{
	c->read_high = high;
	if (c->bev != NULL)
		bufferevent_setwatermark(c->bev, EV_READ, 0, high);
}

void
gw_conn_pause(struct gw_conn *c)
{
	c->paused = true;
}

void
gw_conn_resume(struct gw_conn *c)
{
	if (!c->paused || c->closed)
		return;
	c->paused = false;
	/* libevent will not call us again for bytes it already delivered. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		c->redeliver = true;
		event_active(c->ev_defer, EV_READ, 0);
	}
}

int
gw_conn_starttls(struct gw_conn *c)
{
	struct bufferevent *tls;
	struct evbuffer *in;
	SSL *ssl;

	if (c->ssl != NULL || c->closed || c->closing)
		return -1;
	in = bufferevent_get_input(c->bev);
	/* RFC 3207 4.2 / RFC 3501 6.2.1: plaintext sent before the handshake
	 * must not be taken as if it had come over TLS (command injection). */
	evbuffer_drain(in, evbuffer_get_length(in));
	ssl = gw_tls_ssl_new(c->ctx->tls);
	tls = bufferevent_openssl_filter_new(c->ctx->base, c->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tls == NULL) {
		SSL_free(ssl);
		return -1;
	}
	c->bev = tls;
	c->ssl = ssl;
	gw_conn_setup_bev(c);
	return 0;
}

bool
gw_conn_is_tls(const struct gw_conn *c)
{
	return c->ssl != NULL;
}

const char *
gw_conn_tls_version(const struct gw_conn *c)
{
	if (c->ssl == NULL || !SSL_is_init_finished(c->ssl))
		return NULL;
	return SSL_get_version(c->ssl);
}

const char *
gw_conn_tls_cipher(const struct gw_conn *c)
{
	if (c->ssl == NULL || !SSL_is_init_finished(c->ssl))
		return NULL;
	return SSL_get_cipher_name(c->ssl);
}

uint32_t
gw_conn_id(const struct gw_conn *c)
{
	return c->id;
}

enum gw_proto
gw_conn_proto(const struct gw_conn *c)
{
	return c->proto;
}

struct gw_ctx *
gw_conn_ctx(const struct gw_conn *c)
{
	return c->ctx;
}

const struct sockaddr *
gw_conn_peer(const struct gw_conn *c)
{
	return (const struct sockaddr *)&c->peer;
}

const char *
gw_conn_peer_ip(const struct gw_conn *c)
{
	return c->peer_ip;
}

void
gw_conn_set_peer(struct gw_conn *c, const struct sockaddr *sa, socklen_t len)
{
	if (len > sizeof c->peer)
		len = sizeof c->peer;
	memset(&c->peer, 0, sizeof c->peer);
	memcpy(&c->peer, sa, len);
	c->peerlen = len;
	gw_conn_peer_text(c);
}

void
gw_conn_close(struct gw_conn *c)
{
	if (c->closing || c->closed)
		return;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	event_active(c->ev_defer, EV_READ, 0);
}

bool
gw_conn_is_closed(const struct gw_conn *c)
{
	return c->closed || c->closing;
}

void
gw_conn_ref(struct gw_conn *c)
{
	c->refs++;
}

void
gw_conn_unref(struct gw_conn **cp)
{
	struct gw_conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	SG_ASSERT(c->refs > 0);
	if (--c->refs > 0)
		return;
	/* The conn holds its own reference until gw_conn_finish(). */
	SG_ASSERT(c->closed);
	free(c);
}

void
gw_conn_shutdown_all(struct gw_ctx *ctx)
{
	struct gw_conn *c;

	for (c = ctx->conns; c != NULL; c = c->next) {
		if (c->closing)
			continue;
		if (c->ops != NULL && c->ops->shutdown != NULL)
			c->ops->shutdown(c, c->arg);
		else
			gw_conn_close(c);
	}
}

struct gw_conn *
gw_conn_next(const struct gw_conn *c)
{
	return c->next;
}

struct gw_listener *
gw_conn_listener(const struct gw_conn *c)
{
	return c->listener;
}

void
gw_conn_abort_all(struct gw_ctx *ctx)
{
	while (ctx->conns != NULL)
		gw_conn_finish(ctx->conns, GW_CLOSE_SHUTDOWN);
}
