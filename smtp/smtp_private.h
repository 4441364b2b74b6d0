/*
 * smtp_private.h: what the files of smtp/ share, and nothing outside it
 * includes. Sessions (smtp_session.c, smtp_data.c) hand a finished message
 * to ingest (smtp_ingest.c), which seals it and commits it; the queue
 * runner (smtp_queue.c) delivers what ingest and submission queue, through
 * the relay client (smtp_client.c) or to the outbox; smtp_mail.c renders
 * the mails sealgate writes itself (invitations, notices, bounces).
 */
#ifndef SMTP_PRIVATE_H
#define SMTP_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/gw.h"
#include "smtp/smtp.h"
#include "smtp/smtp_parse.h"

struct gw_conn;
struct smtp_queue;
struct smtp_templates;

/* RFC 5321 4.5.3.2.7: the server waits at least 5 minutes for each command
 * and each block of data. */
#define SMTP_TIMEOUT_CMD	300
/* A client that may not send mail gets less patience. */
#define SMTP_TIMEOUT_UNTRUSTED	60
/* Bad commands before "421 Too many errors" (Postfix's hard error limit). */
#define SMTP_ERRORS_MAX		20
/* Input buffered per session: above SMTP_CMD_MAX so a full line always
 * fits, large enough that DATA arrives in big reads. */
#define SMTP_READ_HIGH		(256 * 1024)
#define SMTP_MSG_INITIAL	(64 * 1024)
#define SMTP_TRACE_MAX		2048	/* the Received: header we prepend */
#define SMTP_ID_MAX		32

/* Session states, one bit each so the command table can hold masks. */
enum smtp_state {
	SMTP_ST_REFUSED = 0x001,	/* not allowed to send mail: only QUIT */
	SMTP_ST_GREETED = 0x002,	/* before EHLO/HELO */
	SMTP_ST_READY = 0x004,		/* after EHLO/HELO, no transaction */
	SMTP_ST_MAIL = 0x008,		/* after MAIL */
	SMTP_ST_RCPT = 0x010,		/* after a RCPT */
	SMTP_ST_BDAT = 0x020,		/* between BDAT chunks */
	SMTP_ST_DATA = 0x040,		/* reading DATA lines */
	SMTP_ST_CHUNK = 0x080,		/* reading a BDAT chunk's bytes */
	SMTP_ST_WAIT = 0x100,		/* ingest in progress: parse nothing */
	SMTP_ST_CLOSING = 0x200,	/* QUIT or a fatal error; closing */
};

#define SMTP_ST_COMMAND	(SMTP_ST_GREETED | SMTP_ST_READY | SMTP_ST_MAIL | SMTP_ST_RCPT | \
	SMTP_ST_BDAT)

/* A growable byte buffer for peer-sized data: fails softly, never aborts. */
struct smtp_buf {
	char	*data;
	size_t	 len, cap;
};
/* Make room for `extra` more bytes; -1 (buffer unchanged) if memory is short. */
SG_NODISCARD int smtp_buf_reserve(struct smtp_buf *b, size_t extra);
void smtp_buf_free(struct smtp_buf *b);

struct smtp_rcpt {
	char		*addr;		/* canonical (lowercase) */
	char		*orcpt;		/* ORCPT= as sent (xtext), or NULL */
	unsigned	 notify;	/* SMTP_NOTIFY_* */
};

/* One mail transaction: the envelope, then the message. */
struct smtp_txn {
	char			 id[SMTP_ID_MAX];
	char			*from;		/* canonical; "" for <> */
	char			*envid;		/* ENVID= as sent (xtext), or NULL */
	enum smtp_body		 body;
	enum smtp_ret		 ret;
	bool			 smtputf8;
	uint64_t		 size_hint;	/* SIZE= */
	struct smtp_rcpt	*rcpts;
	size_t			 nrcpts, rcpts_cap;

	struct smtp_buf		 msg;		/* trace header + message */
	size_t			 trace_len;	/* bytes of msg that are our Received: */
	struct smtp_dot		 dot;		/* DATA / BDAT scanner */
	uint64_t		 bytes;		/* message bytes received (not stored) */
	bool			 bdat;		/* a BDAT transaction */
	bool			 too_big, nomem;
};

void smtp_txn_reset(struct smtp_txn *t);	/* frees everything, zeroes */

struct smtp_session {
	struct smtp_server	*srv;
	struct gw_ctx		*ctx;
	struct gw_conn		*conn;		/* NULL once closed */
	unsigned		 refs;
	uint32_t		 id;
	enum smtp_state		 state;
	bool			 submission;
	bool			 esmtp;		/* EHLO, not HELO */
	bool			 out_blocked;	/* waiting for output to drain */
	bool			 stop_after_wait; /* shutdown or timeout while in WAIT */
	unsigned		 errors;
	unsigned		 ntxn;		/* transactions begun */
	char			 helo[SMTP_DOMAIN_MAX + 1];
	char			 line[SMTP_CMD_MAX + 1];
	size_t			 line_len;
	struct smtp_txn		 txn;
	uint64_t		 chunk_left;	/* BDAT bytes still to read */
	bool			 chunk_last;
	bool			 chunk_discard;	/* read the chunk, store nothing */
	enum smtp_state		 chunk_return;	/* state after a discarded chunk */
	const char		*chunk_reply;	/* error to send once it is read */
};

struct smtp_server {
	struct gw_ctx		*ctx;
	struct smtp_queue	*queue;		/* the outbound queue runner */
	struct smtp_templates	*templates;	/* read-only after start-up */
};

/* smtp_session.c */
SG_PRINTF(2, 3) void smtp_reply(struct smtp_session *s, const char *fmt, ...);
void smtp_set_state(struct smtp_session *s, enum smtp_state st);
void smtp_session_ref(struct smtp_session *s);
void smtp_session_unref(struct smtp_session **s);
/* Back from ingest: send the reply (no CRLF), end the transaction, resume. */
void smtp_session_ingest_done(struct smtp_session *s, const char *reply);
/* A non-recoverable protocol error: reply, then close. */
void smtp_session_fatal(struct smtp_session *s, const char *reply);

/* smtp_data.c: DATA and BDAT. Each returns false when it cannot go on
 * (need more input, or the session left the state). */
void smtp_data_begin(struct smtp_session *s);
bool smtp_data_read(struct smtp_session *s);
void smtp_bdat_begin(struct smtp_session *s, const struct smtp_cmd *cmd);
bool smtp_chunk_read(struct smtp_session *s);

/* smtp_ingest.c: takes the session's transaction (message and envelope),
 * seals and commits it, then calls smtp_session_ingest_done(). */
void smtp_ingest_start(struct smtp_session *s);

#endif
