/*
 * smtp_mail.h: the mails sealgate writes itself: invitations (plain text
 * and HTML alternative, from conf/templates), notices to enrolled and to
 * still-invited recipients, and RFC 3464 delivery status notifications.
 * None of them carries message content. An invitation is from the sender
 * (name and address); a notice names the sender and the subject only when
 * [policy] notify_subject allows, and is otherwise from
 * "Secure mail" <noreply@hostname>.
 *
 * Rendering is pure (no I/O) and runs on any thread; the templates are
 * loaded once at start-up and read-only afterwards.
 */
#ifndef SMTP_MAIL_H
#define SMTP_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/sec.h"
#include "smtp/smtp_parse.h"

/* The templates embedded at build time (smtp_templates.c, generated). */
struct smtp_tpl_file {
	const char	*name;
	const char	*text;
};
extern const struct smtp_tpl_file smtp_tpl_embedded[];
extern const size_t smtp_tpl_embedded_n;

enum smtp_tpl {
	SMTP_TPL_INVITE_TXT,	/* "invite.txt": "Subject: ..." line, blank line, body */
	SMTP_TPL_INVITE_HTML,	/* "invite.html": the HTML alternative */
	SMTP_TPL_NOTIFY_TXT,	/* "notify.txt": new mail for an enrolled recipient */
	SMTP_TPL_WAITING_TXT,	/* "waiting.txt": more mail for an invited recipient */
	SMTP_TPL_COUNT
};

#define SMTP_TPL_MAX		(64 * 1024)	/* bytes of one template file */
#define SMTP_NAME_MAX		64		/* characters of a display name we repeat */
#define SMTP_SUBJECT_MAX	120		/* characters of a subject we repeat */

struct smtp_templates {
	char	*text[SMTP_TPL_COUNT];
};

/*
 * The embedded templates, each replaced by the file of the same name in
 * dir when it exists (dir may be NULL). Blocking I/O: start-up only. A
 * file that cannot be read or is too large is logged and skipped.
 */
struct smtp_templates *smtp_templates_load(const char *dir);
void smtp_templates_free(struct smtp_templates **t);

enum smtp_mail_kind { SMTP_MAIL_INVITE, SMTP_MAIL_NOTIFY, SMTP_MAIL_WAITING };

struct smtp_mail_info {
	const char	*hostname;	/* [gateway] hostname */
	const char	*public_url;	/* [portal] public_url, no trailing slash */
	const char	*sender;	/* the internal sender's address (From) */
	const char	*sender_name;	/* display name, UTF-8, sanitized; or NULL */
	const char	*subject;	/* the message's subject, sanitized; or NULL */
	const char	*recipient;
	const char	*token;		/* invitations: the enrollment token */
	int64_t		 expiry;	/* invitations: when the token expires */
	int64_t		 now;
	bool		 details;	/* notices may name sender and subject */
};

/* Append a complete message (CRLF line ends) to out. Secret: an
 * invitation holds its token, so out must be wiped (sec_buf_wipe). */
void smtp_mail_render(const struct smtp_templates *t, enum smtp_mail_kind kind,
    const struct smtp_mail_info *mi, struct sec_buf *out);

/* ---- delivery status notifications (RFC 3464) ---- */

struct smtp_dsn_rcpt {
	const char	*addr;		/* final recipient */
	const char	*orcpt;		/* ORCPT= value as received ("rfc822;..."), or NULL */
	const char	*action;	/* "failed", "delayed", "delivered", "relayed" */
	const char	*status;	/* "5.1.1" */
	const char	*diag;		/* the remote server's reply, or NULL */
	const char	*remote;	/* the remote MTA's name, or NULL */
};

struct smtp_dsn {
	const char			*hostname;
	const char			*to;		/* the original envelope sender */
	const char			*envid;		/* ENVID= (xtext), or NULL */
	bool				 headers_only;	/* RET=HDRS */
	const struct smtp_dsn_rcpt	*rcpts;
	size_t				 nrcpts;
	const char			*msg;		/* the original message */
	size_t				 msg_len;
	int64_t				 arrival, now;
};

/* Append the DSN (multipart/report; report-type=delivery-status) to out. */
void smtp_mail_dsn(const struct smtp_dsn *d, struct sec_buf *out);

/* ---- helpers, exposed for tests ---- */

/* RFC 5322 date-time in UTC: "Thu, 27 Nov 2026 10:00:00 +0000" (32 bytes). */
void smtp_mail_date(char out[40], int64_t when);
/* Copy UTF-8 text for repeating in a mail: control characters and line
 * breaks become spaces, runs of space collapse, invalid UTF-8 is dropped,
 * at most max characters. Returns out (NUL-terminated, cap bytes). */
char *smtp_mail_clean(const char *in, size_t len, size_t max, char *out, size_t cap);

#endif
