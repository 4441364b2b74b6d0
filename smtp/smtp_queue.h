/*
 * smtp_queue.h: the outbound queue inside smtp/: the payload format of a
 * queue entry (an envelope and a message, sealed under queue.key by the
 * store), the runner that delivers due entries, and the relay client.
 *
 * A payload is plaintext only in memory: it is built on a worker, sealed
 * with store_queue_seal(), and opened again on a worker for delivery.
 */
#ifndef SMTP_QUEUE_H
#define SMTP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/sec.h"
#include "gateway/gw.h"
#include "smtp/smtp_parse.h"

#define SMTP_QMSG_VERSION	1
#define SMTP_QMSG_RCPTS_MAX	100000
#define SMTP_QUEUE_INFLIGHT	32	/* deliveries at once */
#define SMTP_QUEUE_BATCH	64	/* due entries looked at per tick */
#define SMTP_QUEUE_TICK_MS	1000

enum smtp_qkind {
	SMTP_QK_MAIL = 1,	/* a user's mail to an internal recipient */
	SMTP_QK_INVITE,		/* an invitation (holds a token) */
	SMTP_QK_NOTICE,		/* "a secure message is waiting" */
	SMTP_QK_DSN,		/* a bounce: never bounced itself */
};

struct smtp_qrcpt {
	char		*addr;
	char		*orcpt;		/* ORCPT= (xtext) or NULL */
	unsigned	 notify;	/* SMTP_NOTIFY_*; 0: not given */
};

/* A queued mail. Strings are owned (smtp_qmsg_clear); msg is borrowed
 * from the buffer it was decoded from, or set by the producer. */
struct smtp_qmsg {
	enum smtp_qkind		 kind;
	bool			 smtputf8;
	enum smtp_ret		 ret;
	int64_t			 arrival;	/* when the original was accepted */
	char			*from;		/* "" for the null sender */
	char			*envid;		/* ENVID= (xtext) or NULL */
	struct smtp_qrcpt	*rcpts;
	size_t			 nrcpts;
	const char		*msg;
	size_t			 msg_len;
};

/* Serialize q (version byte first) and append to out; plaintext: wipe it. */
void smtp_qmsg_encode(const struct smtp_qmsg *q, struct sec_buf *out);
/* Parse a payload; strings are copied, q->msg points into p. 0 or -1. */
SG_NODISCARD int smtp_qmsg_decode(const uint8_t *p, size_t len, struct smtp_qmsg *q);
void smtp_qmsg_add_rcpt(struct smtp_qmsg *q, const char *addr, const char *orcpt,
    unsigned notify);
void smtp_qmsg_clear(struct smtp_qmsg *q);

/* ---- the runner (smtp_queue.c); loop thread ---- */

struct smtp_server;
struct smtp_queue *smtp_queue_new(struct gw_ctx *ctx);
/* Abandon deliveries in flight (their entries stay queued), free. */
void smtp_queue_free(struct smtp_queue **q);
/* Look for due entries now (after an enqueue). */
void smtp_queue_poke(struct smtp_queue *q);

/* ---- the relay client (smtp_client.c); loop thread ---- */

/* The outcome of one recipient. code 0 never happens in a result. */
struct smtp_client_rcpt {
	unsigned	 code;		/* the reply code that decided */
	char		 text[SMTP_REPLY_MAX + 1];	/* that reply, one line */
};

struct smtp_client_result {
	struct smtp_client_rcpt	*rcpts;		/* one per q->rcpts[i] */
	bool			 tls;		/* the session used TLS */
	bool			 dsn;		/* the relay took NOTIFY= (offered DSN) */
	char			 remote[256];	/* relay host name */
};

typedef void smtp_client_done_fn(void *arg, const struct smtp_client_result *r);

struct smtp_client_req {
	const struct sockaddr_storage	*addrs;	/* resolved relay addresses */
	size_t				 naddrs;
	const char			*host;	/* the relay's name (SNI, Remote-MTA) */
	const struct smtp_qmsg		*q;	/* borrowed until done */
	void				*tls;	/* SSL_CTX *, borrowed */
};

struct smtp_client;
/* Start a delivery; done(arg, r) is called exactly once, later, on the
 * loop (r is valid during the call), unless smtp_client_free() comes first. */
struct smtp_client *smtp_client_start(struct gw_ctx *ctx, const struct smtp_client_req *req,
    smtp_client_done_fn *done, void *arg);
void smtp_client_free(struct smtp_client **c);

#endif
