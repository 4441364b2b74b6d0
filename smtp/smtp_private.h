/*
 * smtp_private.h: what the files of smtp/ share, and nothing outside it
 * includes. Sessions (smtp_session.c, smtp_data.c) hand a finished message
 * to ingest (smtp_ingest.c), which seals it and commits it, or on the
 * submission listeners, after AUTH (smtp_auth.c), to smtp_submit.c, which
 * queues it for the relay host and seals it for external recipients; the queue
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

struct store;
struct store_txn;
struct gw_auth_req;
struct gw_conn;
struct smtp_queue;
struct smtp_rate;
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

/* What an AUTH exchange waits for (RFC 4954 4). */
enum smtp_sasl {
	SMTP_SASL_NONE,
	SMTP_SASL_PLAIN,	/* the PLAIN response after "334 " */
	SMTP_SASL_LOGIN_USER,	/* LOGIN: "334 VXNlcm5hbWU6" sent */
	SMTP_SASL_LOGIN_PASS,	/* LOGIN: "334 UGFzc3dvcmQ6" sent */
};

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
	SMTP_ST_AUTH = 0x400,		/* reading a SASL response line (AUTH) */
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
	bool		 internal;	/* submission: relayed, not sealed */
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
	bool			 rcpts_audited;	/* submission: too many, audited once */
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

	/* submission (smtp_auth.c): the SASL exchange and who logged in */
	enum smtp_sasl		 sasl;		/* what SMTP_ST_AUTH waits for */
	char			*sasl_user;	/* LOGIN: the user, until the password */
	size_t			 sasl_user_len;
	struct gw_auth_req	*auth_req;	/* a password check in flight */
	bool			 authed;
	uint64_t		 acct_id;
	char			 acct_addr[SMTP_ADDR_MAX + 1];	/* lowercase */
};

struct smtp_server {
	struct gw_ctx		*ctx;
	struct smtp_queue	*queue;		/* the outbound queue runner */
	struct smtp_templates	*templates;	/* read-only after start-up */
	struct smtp_rate	*rate;		/* submission: messages per hour */
};

/* smtp_session.c */
SG_PRINTF(2, 3) void smtp_reply(struct smtp_session *s, const char *fmt, ...);
void smtp_set_state(struct smtp_session *s, enum smtp_state st);
void smtp_session_ref(struct smtp_session *s);
void smtp_session_unref(struct smtp_session **s);
/* Back from ingest, submission or an AUTH check: send the reply (no
 * CRLF), end the transaction, resume reading. */
void smtp_session_ingest_done(struct smtp_session *s, const char *reply);
/* A refused command: reply, and count it against SMTP_ERRORS_MAX. */
SG_PRINTF(2, 3) void smtp_error(struct smtp_session *s, const char *fmt, ...);
/* Is the domain of addr[0..len) (its '@' at `at`) one of internal_domains? */
bool smtp_domain_internal(const struct smtp_session *s, const char *addr, size_t at,
    size_t len);
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

/*
 * The vault half on its own, for submission's external recipients: a job
 * built on the loop, prepared on a worker, written inside the caller's
 * store op; no session involved.
 */
struct smtp_ingest;
struct smtp_ingest *smtp_ingest_new(struct gw_ctx *ctx, const char *id, const char *from,
    const char *envid, enum smtp_ret ret);
void smtp_ingest_add_rcpt(struct smtp_ingest *job, const char *addr, const char *orcpt,
    unsigned notify);
/* The From: header was checked to be the sender's: invitations and
 * notices may use its display name whatever its domain. */
void smtp_ingest_from_checked(struct smtp_ingest *job);
/* Takes the bytes of msg (which is left empty). */
void smtp_ingest_set_msg(struct smtp_ingest *job, struct smtp_buf *msg);
/* Worker thread: summarize, encrypt once, seal per recipient, prepare
 * invitations and notices; the plaintext is wiped and freed. NULL, or a
 * static reason for the log. */
const char *smtp_ingest_prepare(struct smtp_ingest *job);
/* Writer thread, inside an op: the accounts, blob, keys, INBOX messages,
 * correspondents and queued mails. May run again (map growth). */
enum store_rc smtp_ingest_write(struct store_txn *t, struct smtp_ingest *job);
unsigned smtp_ingest_queued(const struct smtp_ingest *job);	/* after the write */
void smtp_ingest_free(struct smtp_ingest **job);

/* smtp_auth.c: AUTH PLAIN and LOGIN on submission (RFC 4954, 4616). */
void smtp_auth_command(struct smtp_session *s, const struct smtp_cmd *cmd);
/* In SMTP_ST_AUTH: the response line is in s->line. */
void smtp_auth_input(struct smtp_session *s);
/* The session goes away or restarts TLS: forget the exchange. */
void smtp_auth_reset(struct smtp_session *s);

/* smtp_submit.c: MAIL and RCPT checks of submission (DESIGN.md flow 4),
 * and the message: relayed for internal recipients, sealed into the
 * vaults of external ones, in one commit. */
/* MAIL: may the session send from addr (canonical, "" for <>) now? Replies
 * when not. */
bool smtp_submit_sender(struct smtp_session *s, const char *addr, size_t len);
/* RCPT: may it write to addr (canonical)? *internal_out: relayed (true) or
 * sealed into the recipient's vault. Replies when not. */
bool smtp_submit_recipient(struct smtp_session *s, const char *addr, size_t len,
    bool *internal_out);
/* RCPT past max_recipients: the audit entry (once per transaction). */
void smtp_submit_too_many(struct smtp_session *s);
/* The message is complete (session in SMTP_ST_WAIT): check, complete and
 * commit it, then smtp_session_ingest_done(). */
void smtp_submit_start(struct smtp_session *s);

/*
 * smtp_rate.c: messages per account and hour for submission, counted in
 * memory per minute (60 buckets: a sliding hour to the minute). Messages
 * in flight count too, so parallel sessions cannot overshoot. Across
 * restarts the count is seeded, the first time an account logs in, from
 * the "submission" entries of the audit log (smtp_auth.c reads them on a
 * worker), so a restart does not reset anyone's limit. Loop thread only.
 */
#define SMTP_RATE_WINDOW	3600	/* seconds */
struct smtp_rate *smtp_rate_new(void);
void smtp_rate_free(struct smtp_rate **r);
/* Has the account been seeded (or counted) since start? */
bool smtp_rate_known(struct smtp_rate *r, uint64_t acct_id);
/* Times of the account's submissions from the audit log; ignored when
 * the account is known already (memory is then the better count). */
void smtp_rate_seed(struct smtp_rate *r, uint64_t acct_id, const int64_t *times, size_t n,
    int64_t now);
/* Messages accepted in the hour before now, plus those in flight. */
unsigned smtp_rate_count(struct smtp_rate *r, uint64_t acct_id, int64_t now);
/* A message goes to the store (begin), and came back (end). */
void smtp_rate_begin(struct smtp_rate *r, uint64_t acct_id);
void smtp_rate_end(struct smtp_rate *r, uint64_t acct_id, bool accepted, int64_t now);
/* A refusal for the limit: true when it should be audited (the first of
 * each SMTP_RATE_AUDIT_EVERY seconds per account). */
#define SMTP_RATE_AUDIT_EVERY	600
bool smtp_rate_note_refusal(struct smtp_rate *r, uint64_t acct_id, int64_t now);

#endif
