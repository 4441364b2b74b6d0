/*
 * gw_listen.c: listeners. Limits are checked at accept time so that a flood
 * from one address cannot take the places of everyone else's connections;
 * over a limit only the new connection is refused (INTEROP.md: mail apps
 * open many connections, and dropping existing ones breaks them all).
 */
#include "gateway/gw_listen.h"

#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"

#define GW_LISTEN_BACKLOG	511

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

static void
gw_listen_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct gw_listener *l = arg;
	const struct conf *conf = l->ctx->conf;
	struct gw_conn *c;

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
	if (gw_listen_count_ip(l, sa) >= conf->limits.max_connections_per_ip) {
		log_warn(gw_proto_names[l->proto], "event=refused reason=max_connections_per_ip "
		    "listen=%s", l->addr->text);
		gw_listen_refuse(l, fd, "Too many connections from your address");
		return;
	}
	c = gw_conn_new(l->ctx, fd, sa, (socklen_t)salen, l->proto, l->implicit_tls);
	if (c == NULL)
		return;
	l->nconns++;
	gw_conn_attach_listener(c, l);
	log_debug(gw_proto_names[l->proto], "session=%08x event=connect peer=%s listen=%s",
	    gw_conn_id(c), gw_conn_peer_ip(c), l->addr->text);
	l->start(l->ctx, c);
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
