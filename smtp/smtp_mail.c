/*
 * smtp_mail.c: rendering the mails sealgate writes: invitations, notices
 * and bounces. Templates are plain files with {{name}} placeholders; a
 * value is HTML-escaped in the HTML template and cleaned of control
 * characters everywhere, and header text is RFC 2047-encoded when it is
 * not plain ASCII. Nothing here reads or writes files except
 * smtp_templates_load(), at start-up.
 */
#include "smtp/smtp_mail.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gw_log.h"
#include "gateway/sg.h"

#define SMTP_EW_CHUNK	45	/* bytes per encoded word: 60 base64 chars + 12 */

static const char *const smtp_tpl_names[SMTP_TPL_COUNT] = {
	"invite.txt", "invite.html", "notify.txt", "waiting.txt",
};

/* ---- templates ---- */

static char *
smtp_tpl_read(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name), *text = NULL;
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		free(path);
		return NULL;
	}
	text = xmalloc(SMTP_TPL_MAX + 1);
	n = fread(text, 1, SMTP_TPL_MAX + 1, f);
	if (ferror(f) || n > SMTP_TPL_MAX) {
		log_warn("smtp", "event=template_skipped path=%s reason=%s", path,
		    ferror(f) ? "read_error" : "too_large");
		free(text);
		text = NULL;
	} else {
		text[n] = '\0';
		log_info("smtp", "event=template_loaded path=%s", path);
	}
	fclose(f);
	free(path);
	return text;
}

struct smtp_templates *
smtp_templates_load(const char *dir)
{
	struct smtp_templates *t = xcalloc(1, sizeof *t);
	size_t i, j;

	for (i = 0; i < SMTP_TPL_COUNT; i++) {
		if (dir != NULL && (t->text[i] = smtp_tpl_read(dir, smtp_tpl_names[i])) != NULL)
			continue;
		for (j = 0; j < smtp_tpl_embedded_n; j++)
			if (strcmp(smtp_tpl_embedded[j].name, smtp_tpl_names[i]) == 0)
				t->text[i] = xstrdup(smtp_tpl_embedded[j].text);
		if (t->text[i] == NULL)
			t->text[i] = xstrdup("");
	}
	return t;
}

void
smtp_templates_free(struct smtp_templates **tp)
{
	size_t i;

	if (*tp == NULL)
		return;
	for (i = 0; i < SMTP_TPL_COUNT; i++)
		free((*tp)->text[i]);
	free(*tp);
	*tp = NULL;
}

/* ---- text helpers ---- */

/* "Thu, 04 Dec 2026 10:00 UTC", for people */
static void
smtp_expiry_text(char out[40], int64_t when)
{
	char full[40];

	smtp_mail_date(full, when);
	snprintf(out, 40, "%.22s UTC", full);
}

void
smtp_mail_date(char out[40], int64_t when)
{
	static const char days[][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)when;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
	    tm.tm_mday, months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

char *
smtp_mail_clean(const char *in, size_t len, size_t max, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, o = 0, chars = 0, n;
	bool space = true;	/* drops leading space */

	SG_ASSERT(cap > 0);
	while (i < len && chars < max) {
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == ' ') {
			i++;
			if (!space && o + 1 < cap) {
				out[o++] = ' ';
				chars++;
			}
			space = true;
			continue;
		}
		n = p[i] < 0x80 ? 1 : smtp_utf8_seq(p + i, len - i);
		if (n == 0) {
			i++;
			continue;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
		chars++;
		space = false;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return out;
}

static bool
smtp_is_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* RFC 2047 encoded words for UTF-8 text, split at character boundaries. */
static void
smtp_ew_append(struct sec_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n, take;
	bool first = true;

	while (i < len) {
		gchar *b64;

		for (take = 0; i + take < len; take += n) {
			n = p[i + take] < 0x80 ? 1 : smtp_utf8_seq(p + i + take, len - i - take);
			if (n == 0)
				n = 1;
			if (take + n > SMTP_EW_CHUNK)
				break;
		}
		b64 = g_base64_encode(p + i, take);
		if (!first)
			sec_buf_append(out, "\r\n ", 3);
		sec_buf_append(out, "=?utf-8?b?", 10);
		sec_buf_append(out, b64, strlen(b64));
		sec_buf_append(out, "?=", 2);
		g_free(b64);
		i += take;
		first = false;
	}
}

static void
smtp_append(struct sec_buf *out, const char *s)
{
	sec_buf_append(out, s, strlen(s));
}

SG_PRINTF(2, 3) static void
smtp_appendf(struct sec_buf *out, const char *fmt, ...)
{
	va_list ap;
	gchar *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	smtp_append(out, s);
	g_free(s);
}

/* Unstructured header text (Subject). */
static void
smtp_hdr_text(struct sec_buf *out, const char *name, const char *value)
{
	smtp_appendf(out, "%s: ", name);
	if (smtp_is_plain(value))
		smtp_append(out, value);
	else
		smtp_ew_append(out, value);
	smtp_append(out, "\r\n");
}

/* A mailbox with a display name: "Name" <addr>, or =?utf-8?b?...?= <addr>. */
static void
smtp_hdr_mailbox(struct sec_buf *out, const char *name, const char *display, const char *addr)
{
	const char *p;

	smtp_appendf(out, "%s: ", name);
	if (display != NULL && *display != '\0') {
		if (smtp_is_plain(display)) {
			smtp_append(out, "\"");
			for (p = display; *p != '\0'; p++) {
				if (*p == '"' || *p == '\\')
					smtp_append(out, "\\");
				sec_buf_append(out, p, 1);
			}
			smtp_append(out, "\" ");
		} else {
			smtp_ew_append(out, display);
			smtp_append(out, " ");
		}
	}
	smtp_appendf(out, "<%s>\r\n", addr);
}

static void
smtp_html_escape(struct sec_buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': smtp_append(out, "&lt;"); break;
		case '>': smtp_append(out, "&gt;"); break;
		case '&': smtp_append(out, "&amp;"); break;
		case '"': smtp_append(out, "&quot;"); break;
		case '\'': smtp_append(out, "&#39;"); break;
		default: sec_buf_append(out, s, 1); break;
		}
	}
}

struct smtp_var {
	const char	*name;
	const char	*value;
};

/*
 * Expand {{name}} placeholders (unknown names expand to nothing) and turn
 * every line end into CRLF.
 */
static void
smtp_expand(const char *tpl, const struct smtp_var *vars, size_t n, bool html,
    struct sec_buf *out)
{
	const char *p = tpl, *end;
	size_t i;

	while (*p != '\0') {
		if (p[0] == '{' && p[1] == '{' && (end = strstr(p + 2, "}}")) != NULL &&
		    end - p < 40) {
			for (i = 0; i < n; i++) {
				if (strlen(vars[i].name) == (size_t)(end - p - 2) &&
				    memcmp(vars[i].name, p + 2, (size_t)(end - p - 2)) == 0) {
					if (html)
						smtp_html_escape(out, vars[i].value);
					else
						smtp_append(out, vars[i].value);
					break;
				}
			}
			p = end + 2;
		} else if (*p == '\n') {
			smtp_append(out, "\r\n");
			p++;
		} else if (*p == '\r') {
			p++;	/* the template's own CRs: we write CRLF ourselves */
		} else {
			sec_buf_append(out, p, 1);
			p++;
		}
	}
}

/* A template is "Subject: ..." CRLF CRLF body; split it after expansion. */
static void
smtp_split_subject(struct sec_buf *txt, char **subject_out, size_t *body_off)
{
	const char *d = (const char *)txt->data, *eol;

	*subject_out = xstrdup("Secure message");
	*body_off = 0;
	if (txt->len < 9 || g_ascii_strncasecmp(d, "Subject:", 8) != 0)
		return;
	eol = memchr(d, '\r', txt->len);
	if (eol == NULL)
		return;
	free(*subject_out);
	*subject_out = xstrndup(d + 8, (size_t)(eol - d - 8));
	g_strstrip(*subject_out);
	*body_off = (size_t)(eol - d) + 2;
	if (txt->len >= *body_off + 2 && memcmp(d + *body_off, "\r\n", 2) == 0)
		*body_off += 2;
}

static bool
smtp_is_ascii(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] >= 0x80)
			return false;
	return true;
}

static void
smtp_random_hex(char *out, size_t bytes)
{
	uint8_t raw[16];
	size_t i;

	SG_ASSERT(bytes <= sizeof raw);
	sec_random(raw, bytes);
	for (i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void
smtp_common_headers(struct sec_buf *out, const struct smtp_mail_info *mi, const char *subject,
    const char *kind)
{
	char date[40], id[33];

	smtp_mail_date(date, mi->now);
	smtp_random_hex(id, 16);
	if (strcmp(kind, "invitation") == 0 || mi->details)
		smtp_hdr_mailbox(out, "From", mi->sender_name, mi->sender);
	else	/* a notice without details does not name the sender, not even here */
		smtp_appendf(out, "From: \"Secure mail\" <noreply@%s>\r\n", mi->hostname);
	smtp_appendf(out, "To: <%s>\r\n", mi->recipient);
	smtp_hdr_text(out, "Subject", subject);
	smtp_appendf(out, "Date: %s\r\nMessage-ID: <%s@%s>\r\n", date, id, mi->hostname);
	/* RFC 3834: no vacation replies to these */
	smtp_appendf(out, "Auto-Submitted: auto-generated\r\nX-Sealgate: %s\r\n"
	    "MIME-Version: 1.0\r\n", kind);
}

static void
smtp_part_headers(struct sec_buf *out, const char *type, const struct sec_buf *body,
    size_t off)
{
	smtp_appendf(out, "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: %s\r\n"
	    "\r\n", type, smtp_is_ascii(body->data + off, body->len - off) ? "7bit" : "8bit");
}

void
smtp_mail_render(const struct smtp_templates *t, enum smtp_mail_kind kind,
    const struct smtp_mail_info *mi, struct sec_buf *out)
{
	char expiry[40], *link, *details, *subject;
	const char *name = mi->sender_name != NULL && *mi->sender_name != '\0' ?
	    mi->sender_name : mi->sender;
	struct sec_buf txt = { 0 }, html = { 0 };
	size_t off;
	char bound[40];

	smtp_expiry_text(expiry, mi->expiry);
	link = xasprintf("%s/enroll/%s", mi->public_url, mi->token != NULL ? mi->token : "");
	details = mi->details ? xasprintf("\nFrom: %s <%s>%s%s\n", name, mi->sender,
	    mi->subject != NULL ? "\nSubject: " : "", mi->subject != NULL ? mi->subject : "") :
	    xstrdup("");
	{
		const struct smtp_var vars[] = {
			{ "sender_name", name }, { "sender_address", mi->sender },
			{ "recipient", mi->recipient }, { "link", link },
			{ "expiry", expiry }, { "hostname", mi->hostname },
			{ "public_url", mi->public_url }, { "details", details },
			{ "subject", "" },
		};
		enum smtp_tpl which = kind == SMTP_MAIL_INVITE ? SMTP_TPL_INVITE_TXT :
		    kind == SMTP_MAIL_NOTIFY ? SMTP_TPL_NOTIFY_TXT : SMTP_TPL_WAITING_TXT;

		smtp_expand(t->text[which], vars, SG_NITEMS(vars), false, &txt);
		smtp_split_subject(&txt, &subject, &off);
		if (kind == SMTP_MAIL_INVITE) {
			struct smtp_var hv[SG_NITEMS(vars)];

			memcpy(hv, vars, sizeof hv);
			hv[SG_NITEMS(vars) - 1].value = subject;
			smtp_expand(t->text[SMTP_TPL_INVITE_HTML], hv, SG_NITEMS(hv), true, &html);
		}
	}
	smtp_common_headers(out, mi, subject, kind == SMTP_MAIL_INVITE ? "invitation" :
	    "notice");
	if (kind == SMTP_MAIL_INVITE) {
		smtp_random_hex(bound, 12);
		smtp_appendf(out, "Content-Type: multipart/alternative; boundary=\"=_sg_%s\"\r\n"
		    "\r\nThis is a message in MIME format.\r\n\r\n--=_sg_%s\r\n", bound, bound);
		smtp_part_headers(out, "text/plain", &txt, off);
		sec_buf_append(out, txt.data + off, txt.len - off);
		smtp_appendf(out, "\r\n--=_sg_%s\r\n", bound);
		smtp_part_headers(out, "text/html", &html, 0);
		sec_buf_append(out, html.data, html.len);
		smtp_appendf(out, "\r\n--=_sg_%s--\r\n", bound);
	} else {
		smtp_part_headers(out, "text/plain", &txt, off);
		sec_buf_append(out, txt.data + off, txt.len - off);
	}
	sec_buf_wipe(&txt);
	sec_buf_wipe(&html);
	sec_wipe(link, strlen(link));
	free(link);
	free(details);
	free(subject);
}

/* ---- DSN ---- */

/* Printable ASCII only, for fields copied from a remote reply. */
static void
smtp_ascii(struct sec_buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		char c = (*s >= 0x20 && *s < 0x7f) ? *s : '?';

		sec_buf_append(out, &c, 1);
	}
}

static void
smtp_xtext_field(struct sec_buf *out, const char *name, const char *xtext)
{
	char dec[SMTP_ORCPT_MAX + 1];

	if (xtext == NULL || smtp_xtext_decode(xtext, strlen(xtext), dec, sizeof dec) < 0)
		return;
	smtp_appendf(out, "%s: ", name);
	smtp_ascii(out, dec);
	smtp_append(out, "\r\n");
}

static bool
smtp_dsn_failed(const struct smtp_dsn *d)
{
	size_t i;

	for (i = 0; i < d->nrcpts; i++)
		if (strcmp(d->rcpts[i].action, "failed") == 0)
			return true;
	return false;
}

static void
smtp_dsn_human(struct sec_buf *out, const struct smtp_dsn *d)
{
	size_t i;

	smtp_appendf(out, "This is the mail system at host %s.\r\n\r\n", d->hostname);
	smtp_append(out, smtp_dsn_failed(d) ?
	    "I'm sorry to have to inform you that your message could not\r\n"
	    "be delivered to one or more recipients. It's attached below.\r\n\r\n" :
	    "This is a delivery status notification about your message.\r\n\r\n");
	for (i = 0; i < d->nrcpts; i++) {
		smtp_appendf(out, "<%s>: %s", d->rcpts[i].addr, d->rcpts[i].action);
		if (d->rcpts[i].diag != NULL) {
			smtp_append(out, ": ");
			smtp_ascii(out, d->rcpts[i].diag);
		}
		smtp_append(out, "\r\n");
	}
}

static void
smtp_dsn_status(struct sec_buf *out, const struct smtp_dsn *d)
{
	char date[40];
	size_t i;

	smtp_mail_date(date, d->arrival);
	smtp_appendf(out, "Reporting-MTA: dns; %s\r\n", d->hostname);
	smtp_xtext_field(out, "Original-Envelope-Id", d->envid);
	smtp_appendf(out, "Arrival-Date: %s\r\n", date);
	for (i = 0; i < d->nrcpts; i++) {
		const struct smtp_dsn_rcpt *r = &d->rcpts[i];

		smtp_appendf(out, "\r\nFinal-Recipient: rfc822; %s\r\n", r->addr);
		if (r->orcpt != NULL) {
			const char *semi = strchr(r->orcpt, ';');
			char dec[SMTP_ORCPT_MAX + 1];

			if (semi != NULL && smtp_xtext_decode(semi + 1, strlen(semi + 1), dec,
			    sizeof dec) >= 0) {
				smtp_appendf(out, "Original-Recipient: %.*s;", (int)(semi -
				    r->orcpt), r->orcpt);
				smtp_ascii(out, dec);
				smtp_append(out, "\r\n");
			}
		}
		smtp_appendf(out, "Action: %s\r\nStatus: %s\r\n", r->action, r->status);
		if (r->remote != NULL) {
			smtp_append(out, "Remote-MTA: dns; ");
			smtp_ascii(out, r->remote);
			smtp_append(out, "\r\n");
		}
		if (r->diag != NULL) {
			smtp_append(out, "Diagnostic-Code: smtp; ");
			smtp_ascii(out, r->diag);
			smtp_append(out, "\r\n");
		}
	}
}

/* The original's header block, blank line excluded. */
static size_t
smtp_header_len(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i + 3 < len; i++)
		if (msg[i] == '\r' && memcmp(msg + i, "\r\n\r\n", 4) == 0)
			return i + 2;
	return len;
}

void
smtp_mail_dsn(const struct smtp_dsn *d, struct sec_buf *out)
{
	char date[40], id[33], bound[25];
	size_t olen = d->headers_only ? smtp_header_len(d->msg, d->msg_len) : d->msg_len;

	smtp_mail_date(date, d->now);
	smtp_random_hex(id, 16);
	smtp_random_hex(bound, 12);
	smtp_appendf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\nTo: <%s>\r\n"
	    "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\nAuto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
	    "\r\n\tboundary=\"=_dsn_%s\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
	    "--=_dsn_%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n", d->hostname, d->to,
	    smtp_dsn_failed(d) ? "Undelivered Mail Returned to Sender" :
	    "Delivery Status Notification", date, id, d->hostname, bound, bound);
	smtp_dsn_human(out, d);
	smtp_appendf(out, "\r\n--=_dsn_%s\r\nContent-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n", bound);
	smtp_dsn_status(out, d);
	smtp_appendf(out, "\r\n--=_dsn_%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n\r\n",
	    bound, d->headers_only ? "Undelivered Message Headers" : "Undelivered Message",
	    d->headers_only ? "text/rfc822-headers" : "message/rfc822");
	sec_buf_append(out, d->msg, olen);
	if (olen < 2 || memcmp(d->msg + olen - 2, "\r\n", 2) != 0)
		smtp_append(out, "\r\n");
	smtp_appendf(out, "\r\n--=_dsn_%s--\r\n", bound);
}
