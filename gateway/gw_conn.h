/*
 * gw_conn.h: one client connection over a libevent bufferevent, shared by
 * the SMTP and IMAP sessions. It can start in TLS or upgrade in place
 * (STARTTLS), applies timeouts and watermarks, and tells the session when
 * input arrives, output drains, time runs out, the daemon stops, or the
 * connection is gone. Loop thread only.
 *
 * Lifetime: the session calls gw_conn_close() to end; the conn then flushes
 * and calls ops->closed exactly once, from a later loop iteration, never
 * from inside a call the session made. After closed returns, the session
 * must not touch the conn, unless it holds a reference (gw_conn_ref), in
 * which case only gw_conn_is_closed() and gw_conn_unref() are allowed.
 */
#ifndef GW_CONN_H
#define GW_CONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gateway/gw.h"

struct evbuffer;

enum gw_close_reason {
	GW_CLOSE_LOCAL,		/* the session asked */
	GW_CLOSE_EOF,		/* the peer hung up */
	GW_CLOSE_ERROR,		/* socket or TLS error */
	GW_CLOSE_TIMEOUT,	/* timeout and no timeout handler */
	GW_CLOSE_SHUTDOWN,	/* daemon stopping and no shutdown handler */
};

extern const char *const gw_close_reason_names[];

struct gw_conn_ops {
	/* New input is in gw_conn_in(). Not called while paused. */
	void (*read)(struct gw_conn *c, void *arg);
	/* Output fell below the low watermark (optional). */
	void (*drained)(struct gw_conn *c, void *arg);
	/* The read timeout expired (optional; default closes). */
	void (*timeout)(struct gw_conn *c, void *arg);
	/* The daemon stops (optional): say goodbye, then gw_conn_close(). */
	void (*shutdown)(struct gw_conn *c, void *arg);
	/* Final: free the session. */
	void (*closed)(struct gw_conn *c, void *arg, enum gw_close_reason why);
};

/* Output queued beyond OUT_HIGH should make a producer wait for drained(). */
#define GW_CONN_OUT_HIGH	(256 * 1024)
#define GW_CONN_OUT_LOW		(64 * 1024)
#define GW_CONN_WRITE_TIMEOUT	300	/* seconds a peer may refuse to read */

/* Called by the listener; takes ownership of fd. Returns NULL on failure
 * (fd closed). The protocol's start function then calls gw_conn_set_ops. */
struct gw_conn *gw_conn_new(struct gw_ctx *ctx, int fd, const struct sockaddr *peer,
    socklen_t peerlen, enum gw_proto proto, bool implicit_tls);

void gw_conn_set_ops(struct gw_conn *c, const struct gw_conn_ops *ops, void *arg);

struct evbuffer *gw_conn_in(struct gw_conn *c);
struct evbuffer *gw_conn_out(struct gw_conn *c);
size_t gw_conn_out_len(struct gw_conn *c);

void gw_conn_write(struct gw_conn *c, const void *data, size_t len);
SG_PRINTF(2, 3) void gw_conn_printf(struct gw_conn *c, const char *fmt, ...);
SG_PRINTF(2, 0) void gw_conn_vprintf(struct gw_conn *c, const char *fmt, va_list ap);

/* Read timeout in seconds (0: none). */
void gw_conn_set_timeout(struct gw_conn *c, unsigned read_secs);
/* Reads stop when this much input is buffered; set it above the line limit. */
void gw_conn_set_read_limit(struct gw_conn *c, size_t high);

/* Stop delivering read callbacks (async work pending); resume re-delivers
 * any input that is already buffered. */
void gw_conn_pause(struct gw_conn *c);
void gw_conn_resume(struct gw_conn *c);

/*
 * Upgrade to TLS in place. Call after writing the protocol's "go ahead"
 * reply: it is flushed in plaintext before the handshake. Buffered input
 * (plaintext a client pipelined after STARTTLS) is discarded, as RFC 3207
 * and RFC 3501 require. Returns 0, or -1 if TLS is already on.
 */
int gw_conn_starttls(struct gw_conn *c);

bool gw_conn_is_tls(const struct gw_conn *c);
/* "TLSv1.3" etc., or NULL before the handshake completed / without TLS. */
const char *gw_conn_tls_version(const struct gw_conn *c);
const char *gw_conn_tls_cipher(const struct gw_conn *c);

uint32_t gw_conn_id(const struct gw_conn *c);
enum gw_proto gw_conn_proto(const struct gw_conn *c);
struct gw_ctx *gw_conn_ctx(const struct gw_conn *c);
const struct sockaddr *gw_conn_peer(const struct gw_conn *c);
/* The peer's IP as text (no port). */
const char *gw_conn_peer_ip(const struct gw_conn *c);
/* Replace the peer address (PROXY protocol). */
void gw_conn_set_peer(struct gw_conn *c, const struct sockaddr *sa, socklen_t len);

/* Flush, then close; ops->closed follows from the loop. Idempotent. */
void gw_conn_close(struct gw_conn *c);
bool gw_conn_is_closed(const struct gw_conn *c);

void gw_conn_ref(struct gw_conn *c);
void gw_conn_unref(struct gw_conn **c);

/* For gw_listen: count this conn against l until it closes. */
void gw_conn_attach_listener(struct gw_conn *c, struct gw_listener *l);
/* Walking ctx->conns (listener limits). */
struct gw_conn *gw_conn_next(const struct gw_conn *c);
struct gw_listener *gw_conn_listener(const struct gw_conn *c);

/* Daemon stop: ask every connection to say goodbye (gw_stop uses it). */
void gw_conn_shutdown_all(struct gw_ctx *ctx);
/* After the loop ended: close whatever is left, without flushing. */
void gw_conn_abort_all(struct gw_ctx *ctx);

#endif
