/*
 * smtp_data.c: the message of a transaction, by DATA (RFC 5321 4.1.1.4) or
 * BDAT (RFC 3030). Bytes are unstuffed and checked as they arrive and
 * counted against max_message_size; the first byte past the limit stops
 * the copying (the rest is read and dropped) and the end of the message
 * gets 552. Only CRLF.CRLF ends DATA; a message with a bare CR, a bare LF
 * or a NUL is refused whole (554 5.6.0), which closes the door to SMTP
 * smuggling. The message buffer is peer-sized: when memory runs short the
 * client gets 452 4.3.1, never an abort.
 */
#include "smtp/smtp_private.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gw_conn.h"
#include "gateway/gw_log.h"

#define SMTP_PEEK_IOV	16

/* RFC 5322 3.3 date-time, in UTC, without the locale's names. */
static void
smtp_date(char *out, size_t cap, int64_t now)
{
	static const char days[][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
	    tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}

/* The HELO name as it may appear in a header comment-free clause. */
static void
smtp_trace_name(char *out, size_t cap, const char *helo)
{
	size_t i;

	for (i = 0; helo[i] != '\0' && i + 1 < cap; i++) {
		char c = helo[i];

		out[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(".-_[]:", c) != NULL) ? c : '_';
	}
	out[i] = '\0';
	if (i == 0)
		snprintf(out, cap, "unknown");
}

/*
 * The Received: header (RFC 5321 4.4), with the TLS version and cipher in
 * a comment, as Postfix writes them; "with" per RFC 3848 and RFC 6531.
 * "for" names the recipient only when there is one (no Bcc leak).
 */
static void
smtp_trace(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	const char *ver = gw_conn_tls_version(s->conn), *cipher = gw_conn_tls_cipher(s->conn);
	char helo[SMTP_DOMAIN_MAX + 1], date[64], with[16], tls[160] = "", rcpt[SMTP_ADDR_MAX + 16];
	char buf[SMTP_TRACE_MAX];
	int n;

	smtp_trace_name(helo, sizeof helo, s->helo);
	smtp_date(date, sizeof date, sg_now());
	/* RFC 3848, RFC 6531: S for TLS, A for an authenticated submission */
	snprintf(with, sizeof with, "%s%s%s", t->smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" :
	    "SMTP", ver != NULL ? "S" : "", s->authed ? "A" : "");
	if (ver != NULL)
		snprintf(tls, sizeof tls, "\r\n\t(using %s with cipher %s)", ver,
		    cipher != NULL ? cipher : "unknown");
	if (t->nrcpts == 1)
		snprintf(rcpt, sizeof rcpt, "\r\n\tfor <%s>", t->rcpts[0].addr);
	else
		rcpt[0] = '\0';
	n = snprintf(buf, sizeof buf, "Received: from %s ([%s])\r\n\tby %s (sealgate) with %s "
	    "id %s%s%s;\r\n\t%s\r\n", helo, gw_conn_peer_ip(s->conn),
	    s->ctx->conf->gateway.hostname, with, t->id, tls, rcpt, date);
	if (n < 0 || (size_t)n >= sizeof buf)
		n = snprintf(buf, sizeof buf, "Received: by sealgate id %s; %s\r\n", t->id, date);
	if (smtp_buf_reserve(&t->msg, (size_t)n) != 0) {
		t->nomem = true;
		return;
	}
	memcpy(t->msg.data, buf, (size_t)n);
	t->msg.len = t->trace_len = (size_t)n;
}

/* Room for the message, when the client announced its size (RFC 1870). */
static void
smtp_msg_start(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	uint64_t max = s->ctx->conf->smtp.max_message_size;
	size_t want = SMTP_MSG_INITIAL;

	if (t->size_hint > want)
		want = (size_t)SG_MIN(t->size_hint, max) + SMTP_TRACE_MAX;
	if (smtp_buf_reserve(&t->msg, want) != 0)
		t->nomem = true;
	else
		smtp_trace(s);
	memset(&t->dot, 0, sizeof t->dot);
}

void
smtp_data_begin(struct smtp_session *s)
{
	smtp_msg_start(s);
	smtp_set_state(s, SMTP_ST_DATA);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
smtp_msg_drop(struct smtp_txn *t, bool too_big)
{
	if (too_big)
		t->too_big = true;
	else
		t->nomem = true;
	smtp_buf_free(&t->msg);
}

/* The message is complete: refuse it, or hand it to ingest. */
static void
smtp_msg_end(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	const char *reply = NULL;

	if (t->too_big)
		reply = "552 5.3.4 Message size exceeds fixed maximum message size";
	else if (t->dot.bad != 0)
		reply = "554 5.6.0 Message contains a bare CR, bare LF or NUL; only CRLF "
		    "line ends are allowed";
	else if (t->nomem)
		reply = "452 4.3.1 Insufficient system storage";
	if (reply != NULL) {
		log_info("smtp", "session=%08x event=refused id=%s reason=%s size=%llu", s->id,
		    t->id, t->too_big ? "size" : t->dot.bad ? "bare_eol" : "memory",
		    (unsigned long long)t->bytes);
		smtp_reply(s, "%s", reply);
		smtp_txn_reset(t);
		smtp_set_state(s, SMTP_ST_READY);
		return;
	}
	smtp_set_state(s, SMTP_ST_WAIT);
	if (s->submission)
		smtp_submit_start(s);
	else
		smtp_ingest_start(s);
}

bool
smtp_data_read(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	struct evbuffer *in = gw_conn_in(s->conn);
	struct evbuffer_iovec v[SMTP_PEEK_IOV];
	uint64_t max = s->ctx->conf->smtp.max_message_size;
	size_t consumed = 0, used, olen;
	int i, n = evbuffer_peek(in, -1, NULL, v, SMTP_PEEK_IOV);
	bool end = false;

	for (i = 0; i < n && i < SMTP_PEEK_IOV && !end; i++) {
		char *out = NULL;

		if (!t->too_big && !t->nomem) {
			if (smtp_buf_reserve(&t->msg, v[i].iov_len) != 0)
				smtp_msg_drop(t, false);
			else
				out = t->msg.data + t->msg.len;
		}
		end = smtp_dot_feed(&t->dot, v[i].iov_base, v[i].iov_len, out, &used, &olen);
		consumed += used;
		t->bytes += olen;
		if (out != NULL)
			t->msg.len += olen;
		if (t->bytes > max && !t->too_big)
			smtp_msg_drop(t, true);
	}
	evbuffer_drain(in, consumed);
	if (end) {
		smtp_msg_end(s);
		return true;
	}
	return evbuffer_get_length(in) > 0;
}

static const char *
smtp_bdat_sequence_error(const struct smtp_session *s)
{
	switch (s->state) {
	case SMTP_ST_GREETED:
		return "503 5.5.1 Send EHLO or HELO first";
	case SMTP_ST_MAIL:
		return "554 5.5.1 No valid recipients";
	default:
		return "503 5.5.1 Need MAIL and RCPT first";
	}
}

/*
 * RFC 3030 3: the chunk follows the command whatever the reply will be, so
 * it is always read; a chunk that cannot be used is read and dropped, and
 * the error is the reply to its BDAT.
 */
void
smtp_bdat_begin(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_txn *t = &s->txn;
	uint64_t max = s->ctx->conf->smtp.max_message_size;

	s->chunk_left = cmd->chunk;
	s->chunk_last = cmd->last;
	s->chunk_discard = false;
	s->chunk_reply = NULL;
	if ((s->state & (SMTP_ST_RCPT | SMTP_ST_BDAT)) == 0) {
		s->chunk_discard = true;
		s->chunk_reply = smtp_bdat_sequence_error(s);
		s->chunk_return = s->state;
	} else {
		if (!t->bdat) {
			t->bdat = true;
			smtp_msg_start(s);
		}
		if (cmd->chunk > max || t->bytes + cmd->chunk > max) {
			if (!t->too_big)
				smtp_msg_drop(t, true);
		} else if (!t->too_big && !t->nomem &&
		    smtp_buf_reserve(&t->msg, (size_t)cmd->chunk) != 0)
			smtp_msg_drop(t, false);
	}
	smtp_set_state(s, SMTP_ST_CHUNK);	/* the read loop takes it from here */
}

static void
smtp_chunk_end(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;

	if (s->chunk_discard) {
		smtp_set_state(s, s->chunk_return);
		smtp_reply(s, "%s", s->chunk_reply);
		return;
	}
	if (s->chunk_last) {
		smtp_crlf_end(&t->dot);
		smtp_msg_end(s);
		return;
	}
	if (t->too_big || t->nomem || t->dot.bad != 0) {
		/* no point in reading more chunks: fail the transaction now */
		smtp_msg_end(s);
		return;
	}
	smtp_set_state(s, SMTP_ST_BDAT);
	smtp_reply(s, "250 2.0.0 %llu octets received", (unsigned long long)t->bytes);
}

bool
smtp_chunk_read(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	struct evbuffer *in = gw_conn_in(s->conn);
	size_t avail = evbuffer_get_length(in);
	size_t n = (size_t)SG_MIN((uint64_t)avail, s->chunk_left);
	bool keep = !s->chunk_discard && !t->too_big && !t->nomem;

	if (n > 0) {
		if (keep) {
			/* bounds: bdat_begin reserved the whole chunk */
			SG_ASSERT(t->msg.cap - t->msg.len >= n);
			if (evbuffer_remove(in, t->msg.data + t->msg.len, n) != (int)n)
				fatal("event=evbuffer_remove error=short");
			smtp_crlf_scan(&t->dot, t->msg.data + t->msg.len, n);
			t->msg.len += n;
		} else
			evbuffer_drain(in, n);
		if (!s->chunk_discard)
			t->bytes += n;
		s->chunk_left -= n;
	}
	if (s->chunk_left > 0)
		return false;
	smtp_chunk_end(s);
	return true;
}
