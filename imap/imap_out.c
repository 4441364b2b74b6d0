/*
 * imap_out.c: response syntax (RFC 3501 9): strings as quoted strings or
 * literals, mailbox names in modified UTF-7, flag lists, dates.
 */
#include "imap/imap_private.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/imap_utf7.h"

static bool
imap_quotable(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80)
			return false;
	}
	return true;
}

void
imap_out_astring(struct evbuffer *b, const char *p, size_t n)
{
	size_t i, start = 0;

	if (!imap_quotable(p, n)) {
		evbuffer_add_printf(b, "{%zu}\r\n", n);
		evbuffer_add(b, p, n);
		return;
	}
	evbuffer_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			evbuffer_add(b, p + start, i - start);
			evbuffer_add(b, "\\", 1);
			start = i;
		}
	}
	evbuffer_add(b, p + start, n - start);
	evbuffer_add(b, "\"", 1);
}

void
imap_out_nstring(struct evbuffer *b, const char *p, size_t n)
{
	if (p == NULL)
		evbuffer_add(b, "NIL", 3);
	else
		imap_out_astring(b, p, n);
}

void
imap_out_mailbox(struct imap_session *s, struct evbuffer *b, const char *name)
{
	size_t len = strlen(name), outlen = 0, size;
	char *enc;

	if (s->utf8) {
		imap_out_astring(b, name, len);
		return;
	}
	size = imap_utf7_encode_max(len);
	enc = xmalloc(size);
	if (imap_utf7_encode(name, len, enc, size, &outlen) == IMAP_UTF7_OK)
		imap_out_astring(b, enc, outlen);
	else
		imap_out_astring(b, name, len);	/* stored names are valid UTF-8 */
	free(enc);
}

int
imap_mailbox_decode(struct imap_session *s, const struct imap_str *in, char *out, size_t size)
{
	size_t outlen = 0;

	if (in->s == NULL || in->len == 0)
		return -1;
	if (s->utf8) {
		if (in->len >= size || !imap_utf8_valid(in->s, in->len))
			return -1;
		memcpy(out, in->s, in->len);
		out[in->len] = '\0';
	} else if (imap_utf7_decode(in->s, in->len, out, size, &outlen) != IMAP_UTF7_OK)
		return -1;
	else
		outlen = strlen(out);
	return strlen(out) > STORE_MBOX_NAME_MAX ? -1 : 0;
}

void
imap_out_flags(struct evbuffer *b, uint32_t flags, uint64_t keywords,
    const struct store_keywords *kw)
{
	static const struct { uint32_t bit; const char *name; } sys[] = {
		{ STORE_F_SEEN, "\\Seen" }, { STORE_F_ANSWERED, "\\Answered" },
		{ STORE_F_FLAGGED, "\\Flagged" }, { STORE_F_DELETED, "\\Deleted" },
		{ STORE_F_DRAFT, "\\Draft" },
	};
	const char *sep = "";
	size_t i;

	evbuffer_add(b, "(", 1);
	for (i = 0; i < SG_NITEMS(sys); i++)
		if (flags & sys[i].bit) {
			evbuffer_add(b, sep, strlen(sep));
			evbuffer_add(b, sys[i].name, strlen(sys[i].name));
			sep = " ";
		}
	for (i = 0; kw != NULL && i < kw->n && i < 64; i++)
		if (keywords & (1ull << i)) {
			evbuffer_add(b, sep, strlen(sep));
			evbuffer_add(b, kw->names[i], strlen(kw->names[i]));
			sep = " ";
		}
	evbuffer_add(b, ")", 1);
}

/* What printf would write for v, at a fraction of its cost: a listing of
 * ten thousand messages writes four numbers each. */
void
imap_out_num(struct evbuffer *b, uint64_t v)
{
	char d[SG_U64_DIGITS], *p = sg_u64_dec(d, v);

	evbuffer_add(b, p, (size_t)(d + sizeof d - p));
}

void
imap_out_date(struct evbuffer *b, int64_t t)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	/* RFC 3501 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz"; iOS is strict about it. */
	evbuffer_add_printf(b, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
	    mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
