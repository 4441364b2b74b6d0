/*
 * mime_hdr.c: header blocks as stored: iterating fields (RFC 5322 2.2,
 * with folded continuation lines and bare LF tolerated), cleaning values
 * for display, and the HEADER.FIELDS filter.
 */
#include "mime/mime_private.h"

#include <string.h>

#include "gateway/sg.h"

void
mime_hiter_init(struct mime_hiter *it, const char *buf, size_t len)
{
	it->buf = buf;
	it->pos = 0;
	it->end = len;
}

/* Offset after the line that starts at pos (its LF included). */
static size_t
mime_hdr_line_end(const char *buf, size_t pos, size_t end)
{
	const char *lf = memchr(buf + pos, '\n', end - pos);

	return lf == NULL ? end : (size_t)(lf - buf) + 1;
}

static bool
mime_hdr_is_blank_line(const char *buf, size_t pos, size_t end)
{
	if (buf[pos] == '\n')
		return true;
	return buf[pos] == '\r' && (pos + 1 == end || buf[pos + 1] == '\n');
}

/*
 * A field is its first line and every following line that starts with a
 * blank (RFC 5322 2.2.3 unfolding). A line without ':' is returned with
 * name NULL: Dovecot keeps such lines in the header rather than ending the
 * header there, and so do we, so BODY[HEADER] ends only at the blank line.
 */
bool
mime_hiter_next(struct mime_hiter *it, struct mime_hfield *f)
{
	const char *buf = it->buf, *colon;
	size_t pos = it->pos, eol, nl;

	if (pos >= it->end || mime_hdr_is_blank_line(buf, pos, it->end))
		return false;
	eol = mime_hdr_line_end(buf, pos, it->end);
	f->start = pos;
	colon = memchr(buf + pos, ':', eol - pos);
	if (colon != NULL) {
		f->name = buf + pos;
		f->name_len = (size_t)(colon - f->name);
		while (f->name_len > 0 && (f->name[f->name_len - 1] == ' ' ||
		    f->name[f->name_len - 1] == '\t'))
			f->name_len--;
		f->value = colon + 1;
	} else {
		f->name = NULL;
		f->name_len = 0;
		f->value = buf + pos;
	}
	while (eol < it->end && (buf[eol] == ' ' || buf[eol] == '\t')) {
		nl = mime_hdr_line_end(buf, eol, it->end);
		eol = nl;
	}
	f->value_len = (size_t)(buf + eol - f->value);
	f->end = eol;
	it->pos = eol;
	return true;
}

bool
mime_name_is(const char *name, size_t len, const char *lit)
{
	return name != NULL && sg_ascii_ieq(name, len, lit);
}

void
mime_text_clean(struct mime_buf *out, const char *p, size_t len)
{
	size_t i;
	bool lwsp = true;	/* drops leading blanks */

	mime_buf_reserve(out, len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r' || c == '\n')
			continue;
		if (c == ' ' || c == '\t') {
			if (!lwsp)
				out->p[out->len++] = ' ';
			lwsp = true;
			continue;
		}
		lwsp = false;
		if (c == '\0') {
			/* IMAP strings cannot hold NUL: U+FFFD, as Dovecot sends */
			mime_buf_add(out, "\xef\xbf\xbd", 3);
			mime_buf_reserve(out, len - i);
			continue;
		}
		out->p[out->len++] = (char)c;
	}
	if (lwsp && out->len > 0 && out->p[out->len - 1] == ' ')
		out->len--;
}

static bool
mime_hdr_name_listed(const struct mime_hfield *f, const char *const *names, size_t n)
{
	size_t i;

	if (f->name == NULL)
		return false;
	for (i = 0; i < n; i++) {
		if (sg_ascii_ieq(f->name, f->name_len, names[i]))
			return true;
	}
	return false;
}

size_t
mime_header_fields(const char *hdr, size_t hdr_len, const char *const *names,
    size_t n, bool not_, char *out)
{
	struct mime_hiter it;
	struct mime_hfield f;
	size_t o = 0;

	mime_hiter_init(&it, hdr, hdr_len);
	while (mime_hiter_next(&it, &f)) {
		if (mime_hdr_name_listed(&f, names, n) == not_)
			continue;
		/* bounds: fields are disjoint slices of hdr, in order */
		memcpy(out + o, hdr + f.start, f.end - f.start);
		o += f.end - f.start;
		/* a last field cut off without a line end still ends its line */
		if (out[o - 1] != '\n') {
			memcpy(out + o, "\r\n", 2);
			o += 2;
			break;
		}
	}
	memcpy(out + o, "\r\n", 2);	/* bounds: o <= hdr_len + 2; out holds hdr_len + 4 */
	return o + 2;
}
