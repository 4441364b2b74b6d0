/*
 * gw_listen.c: listeners. Limits are checked at accept time so that a flood
 * from one address cannot take the places of everyone else's connections;
 * over a limit only the new connection is refused (INTEROP.md: mail apps
 * open many connections, and dropping existing ones breaks them all).
 *
 * A listener with proxy_protocol reads the PROXY header itself, straight
 * from the socket and never past its end, before the connection object (and
 * so TLS, on implicit-TLS listeners) exists: the protocol then starts on the
 * client's first byte with the client's address. Only [limits]
 * proxy_networks may connect there; anyone else is closed at once. The
 * per-address limit counts the client's address, not the balancer's.
 */
#include "gateway/gw_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/gw_auth.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"
#include "gateway/gw_proxy.h"

#define GW_LISTEN_BACKLOG	511
#define GW_PROXY_TIMEOUT	10	/* seconds a balancer has to send the header */

struct gw_proxy_wait {
	struct gw_listener	*l;
	struct event		*ev;
	int			 fd;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	uint8_t			 buf[GW_PROXY_MAX];
	size_t			 have, need;
	uint64_t		 deadline_ms;	/* for the whole header, not per read */
	struct gw_proxy_wait	*next, *prev;
};

static bool
gw_listen_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

/* Connections from this address on this listener. Linear, but bounded by
 * max_connections, and cheap next to a TLS handshake. */
static unsigned
gw_listen_count_ip(struct gw_listener *l, const struct sockaddr *sa)
{
	struct gw_conn *c;
	unsigned n = 0;

	for (c = l->ctx->conns; c != NULL; c = gw_conn_next(c))
		if (gw_conn_listener(c) == l && gw_listen_same_ip(gw_conn_peer(c), sa))
			n++;
	return n;
}

static void
gw_listen_refuse(struct gw_listener *l, int fd, const char *why)
{
	const struct conf *conf = l->ctx->conf;
	char line[256];
	int n = 0;

	if (!l->implicit_tls && l->proto == GW_PROTO_IMAP)
		n = snprintf(line, sizeof line, "* BYE %s\r\n", why);
	else if (!l->implicit_tls && l->proto != GW_PROTO_PORTAL)
		n = snprintf(line, sizeof line, "421 4.7.0 %s %s, try again later\r\n",
		    conf->gateway.hostname, why);
	if (n > 0 && (size_t)n < sizeof line)
		(void)!send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

static const char *gw_listen_ip_text(const struct sockaddr *sa, char *buf, size_t size);

/*
 * An address locked for failed logins gets nothing on the listeners that
 * serve logins (IMAP, submission): a new connection there could only try
 * again, and refusing it before the TLS handshake makes a flood cheap.
 * Sessions already logged in go on; the inbound SMTP listener is not
 * concerned (the organization's MTA never logs in).
 */
static bool
gw_listen_locked_out(struct gw_listener *l, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN];

	if (l->proto != GW_PROTO_IMAP && l->proto != GW_PROTO_SUBMISSION)
		return false;
	return gw_auth_locked(l->ctx, gw_listen_ip_text(sa, ip, sizeof ip), NULL);
}

static void
gw_listen_start_conn(struct gw_listener *l, int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct gw_conn *c;

	if (gw_listen_locked_out(l, sa)) {
		log_debug(gw_proto_names[l->proto], "event=refused reason=auth_locked listen=%s",
		    l->addr->text);
		gw_listen_refuse(l, fd, "Too many failed logins from your address");
		return;
	}
	if (gw_listen_count_ip(l, sa) >= l->ctx->conf->limits.max_connections_per_ip) {
		log_warn(gw_proto_names[l->proto], "event=refused reason=max_connections_per_ip "
		    "listen=%s", l->addr->text);
		gw_listen_refuse(l, fd, "Too many connections from your address");
		return;
	}
	c = gw_conn_new(l->ctx, fd, sa, salen, l->proto, l->implicit_tls);
	if (c == NULL)
		return;
	l->nconns++;
	gw_conn_attach_listener(c, l);
	log_debug(gw_proto_names[l->proto], "session=%08x event=connect peer=%s listen=%s",
	    gw_conn_id(c), gw_conn_peer_ip(c), l->addr->text);
	l->start(l->ctx, c);
}

static void
gw_proxy_wait_free(struct gw_proxy_wait *w, bool close_fd)
{
	struct gw_listener *l = w->l;

	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		l->pending = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	SG_ASSERT(l->nconns > 0);
	l->nconns--;
	event_free(w->ev);
	if (close_fd)
		close(w->fd);
	free(w);
}

static const char *
gw_listen_ip_text(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "unknown");
	return buf;
}

/* The header is whole: start the connection with the client's address. */
static void
gw_proxy_done(struct gw_proxy_wait *w, const struct gw_proxy_hdr *h)
{
	struct gw_listener *l = w->l;
	char via[INET6_ADDRSTRLEN], client[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd = w->fd;

	if (h->has_addr) {
		ss = h->src;
		sslen = h->srclen;
	} else {
		ss = w->peer;
		sslen = w->peerlen;
	}
	log_info(gw_proto_names[l->proto], "event=proxy peer=%s via=%s version=%u%s",
	    gw_listen_ip_text((const struct sockaddr *)&ss, client, sizeof client),
	    gw_listen_ip_text((const struct sockaddr *)&w->peer, via, sizeof via), h->version,
	    h->has_addr ? "" : " local=yes");
	gw_proxy_wait_free(w, false);
	gw_listen_start_conn(l, fd, (const struct sockaddr *)&ss, sslen);
}

static void
gw_proxy_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_proxy_wait *w = arg;
	struct gw_proxy_hdr h;
	const char *why = NULL;
	char via[INET6_ADDRSTRLEN];
	ssize_t n;

	if ((what & EV_TIMEOUT) || sg_mono_ms() > w->deadline_ms)
		why = "timeout";
	else if ((n = recv(fd, w->buf + w->have, w->need, 0)) == 0)
		why = "eof";
	else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		why = "error";
	else if (n > 0) {
		/* After a short read the parser asks for the rest again. */
		w->have += (size_t)n;
		switch (gw_proxy_parse(w->buf, w->have, &h, &w->need)) {
		case GW_PROXY_OK:
			gw_proxy_done(w, &h);
			return;
		case GW_PROXY_MORE:
			return;
		case GW_PROXY_INVALID:
			why = "invalid";
			break;
		}
	}
	if (why == NULL)
		return;
	log_warn(gw_proto_names[w->l->proto], "event=refused reason=proxy_%s via=%s listen=%s",
	    why, gw_listen_ip_text((const struct sockaddr *)&w->peer, via, sizeof via),
	    w->l->addr->text);
	gw_proxy_wait_free(w, true);
}

static void
gw_proxy_wait_new(struct gw_listener *l, int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct gw_proxy_wait *w = xcalloc(1, sizeof *w);
	struct timeval tv = { GW_PROXY_TIMEOUT, 0 };

	w->l = l;
	w->fd = fd;
	if (salen > sizeof w->peer)
		salen = sizeof w->peer;
	memcpy(&w->peer, sa, salen);
	w->peerlen = salen;
	w->need = GW_PROXY_V1_MIN;	/* no header is shorter */
	w->deadline_ms = sg_mono_ms() + GW_PROXY_TIMEOUT * 1000;
	evutil_make_socket_nonblocking(fd);
	w->ev = event_new(l->ctx->base, fd, EV_READ | EV_PERSIST, gw_proxy_read_cb, w);
	if (w->ev == NULL || event_add(w->ev, &tv) != 0)
		fatal("event=proxy_wait error=event");
	w->next = l->pending;
	if (l->pending != NULL)
		l->pending->prev = w;
	l->pending = w;
	l->nconns++;
}

static void
gw_listen_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct gw_listener *l = arg;
	const struct conf *conf = l->ctx->conf;
	char ip[INET6_ADDRSTRLEN];

	(void)lev;
	if (l->ctx->stopping) {
		close(fd);
		return;
	}
	if (l->nconns >= conf->limits.max_connections) {
		log_warn(gw_proto_names[l->proto], "event=refused reason=max_connections "
		    "listen=%s", l->addr->text);
		gw_listen_refuse(l, fd, "Too many connections");
		return;
	}
	if (!l->proxy) {
		gw_listen_start_conn(l, fd, sa, (socklen_t)salen);
		return;
	}
	/* A PROXY listener talks to load balancers only: anyone else could
	 * claim any address. No greeting, since they speak no PROXY either. */
	if (!conf_net_match(&conf->limits.proxy_networks, sa)) {
		log_warn(gw_proto_names[l->proto], "event=refused reason=proxy_untrusted peer=%s "
		    "listen=%s", gw_listen_ip_text(sa, ip, sizeof ip), l->addr->text);
		close(fd);
		return;
	}
	gw_proxy_wait_new(l, fd, sa, (socklen_t)salen);
}

int
gw_listen_socket(const struct conf_addr *addr, char **err_out)
{
	int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0) {
		*err_out = xasprintf("cannot listen on %s: %s", addr->text, strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (addr->ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0 ||
	    listen(fd, GW_LISTEN_BACKLOG) != 0) {
		*err_out = xasprintf("cannot listen on %s: %s", addr->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
gw_listen_add(struct gw_ctx *ctx, const struct conf_addr *addr, enum gw_proto proto,
    bool implicit_tls, bool proxy, gw_proto_start_fn *start, char **err_out)
{
	struct gw_listener *l;
	int fd = gw_listen_socket(addr, err_out);

	if (fd < 0)
		return -1;
	l = xcalloc(1, sizeof *l);
	l->ctx = ctx;
	l->addr = addr;
	l->proto = proto;
	l->implicit_tls = implicit_tls;
	l->proxy = proxy;
	l->start = start;
	l->lev = evconnlistener_new(ctx->base, gw_listen_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->lev == NULL) {
		*err_out = xasprintf("cannot listen on %s: evconnlistener", addr->text);
		close(fd);
		free(l);
		return -1;
	}
	l->next = ctx->listeners;
	ctx->listeners = l;
	log_info(gw_proto_names[proto], "event=listen address=%s tls=%s", addr->text,
	    implicit_tls ? "implicit" : (proto == GW_PROTO_PORTAL ? "implicit" : "starttls"));
	return 0;
}

void
gw_listen_close_all(struct gw_ctx *ctx)
{
	struct gw_listener *l, *next;

	for (l = ctx->listeners; l != NULL; l = next) {
		next = l->next;
		while (l->pending != NULL)
			gw_proxy_wait_free(l->pending, true);
		evconnlistener_free(l->lev);
		l->lev = NULL;
		/* Open connections still point here until they close. */
		if (l->nconns == 0)
			free(l);
		else
			l->ctx = NULL;
	}
	ctx->listeners = NULL;
}

void
gw_listen_conn_gone(struct gw_listener *l)
{
	SG_ASSERT(l->nconns > 0);
	l->nconns--;
	if (l->ctx == NULL && l->nconns == 0)
		free(l);
}
