/*
 * gw_listen.h: one listener per configured address. Accepted connections
 * are counted against [limits] (total and per address); the protocol's
 * start function takes each new connection. Loop thread only.
 */
#ifndef GW_LISTEN_H
#define GW_LISTEN_H

#include "gateway/gw.h"

struct gw_conn;
struct gw_proxy_wait;

/* Called for each accepted connection; must call gw_conn_set_ops(). */
typedef void gw_proto_start_fn(struct gw_ctx *ctx, struct gw_conn *c);

struct gw_listener {
	struct gw_ctx		*ctx;
	struct evconnlistener	*lev;
	const struct conf_addr	*addr;
	enum gw_proto		 proto;
	bool			 implicit_tls;
	bool			 proxy;		/* expects a PROXY header */
	gw_proto_start_fn	*start;
	unsigned		 nconns;	/* open, and awaiting a PROXY header */
	struct gw_proxy_wait	*pending;	/* awaiting a PROXY header */
	struct gw_listener	*next;
};

/* Bind addr; on failure returns -1 with *err_out (malloc'd). The listener
 * is linked into ctx->listeners. */
int gw_listen_add(struct gw_ctx *ctx, const struct conf_addr *addr, enum gw_proto proto,
    bool implicit_tls, bool proxy, gw_proto_start_fn *start, char **err_out);
/* Bind an already-open listening socket (the portal uses evhttp instead). */
int gw_listen_socket(const struct conf_addr *addr, char **err_out);
/* Stop accepting and free every listener. */
void gw_listen_close_all(struct gw_ctx *ctx);

/* gw_conn calls this when a counted connection ends. */
void gw_listen_conn_gone(struct gw_listener *l);

#endif
