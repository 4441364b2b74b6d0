/*
 * mime_scan.c: one pass over the raw message that finds every part's
 * header and body offsets. The rules follow Dovecot's message parser,
 * which the mail clients are used to:
 *   - a header block ends at the first empty line (a line without ':' does
 *     not end it), or at a boundary line of an enclosing multipart;
 *   - a line "--boundary" of any open multipart ends the current part and
 *     every part nested in it, so a missing close delimiter in a nested
 *     multipart is harmless; an exact match wins over a prefix match
 *     (RFC 2046 5.1.1 only asks that boundaries not be prefixes of each
 *     other's lines, which not every mailer honours);
 *   - the line break before a boundary line belongs to the boundary (RFC
 *     2046 5.1.1), so a part's body ends before it;
 *   - after "--boundary--" the rest until an outer boundary is epilogue;
 *     without it the last part runs to the end of the enclosing part.
 * Bare LF line ends are accepted everywhere, CRLF is never required.
 */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "gateway/sg.h"

struct mime_bound {
	uint32_t	node;		/* the multipart */
	size_t		off, len;	/* boundary, in the scan's boundary buffer */
	bool		closed;		/* close delimiter seen: epilogue */
};

struct mime_scanner {
	struct mime_scan	*sc;
	struct mime_bound	 b[MIME_DEPTH_MAX + 1];
	int			 nb;
	uint32_t		 chain[2 * MIME_DEPTH_MAX + 4];	/* open parts, root first */
	int			 nchain;
	struct mime_buf		 bounds;
	struct mime_ctype	 ct;
	bool			 capped;	/* MIME_PARTS_MAX reached */
};

struct mime_bmatch {
	int	level;
	size_t	line, next;	/* the boundary line, and the line after it */
	bool	close;
};

static const char *const mime_hdr_names[MIME_H__COUNT] = {
	[MIME_H_TYPE] = "type", [MIME_H_CTE] = "transfer-encoding", [MIME_H_ID] = "id",
	[MIME_H_DESC] = "description", [MIME_H_DISP] = "disposition",
	[MIME_H_LANG] = "language", [MIME_H_LOC] = "location", [MIME_H_MD5] = "md5",
};

static size_t
mime_scan_line_end(const struct mime_scan *sc, size_t pos)
{
	const char *lf = memchr(sc->msg + pos, '\n', sc->len - pos);

	return lf == NULL ? sc->len : (size_t)(lf - sc->msg) + 1;
}

static uint32_t
mime_scan_add(struct mime_scanner *s, uint32_t parent, size_t hdr_off)
{
	struct mime_scan *sc = s->sc;
	struct mime_snode *sn;

	if (sc->n == sc->cap) {
		sc->cap = sc->cap == 0 ? 16 : sc->cap * 2;
		sc->v = xreallocarray(sc->v, sc->cap, sizeof *sc->v);
	}
	sn = &sc->v[sc->n];
	memset(sn, 0, sizeof *sn);
	sn->n.hdr_off = sn->n.body_off = sn->n.body_end = hdr_off;
	sn->n.parent = parent;
	sn->n.first_child = sn->n.next_sibling = MIME_NONE;
	sn->n.kind = MIME_NODE_LEAF;
	if (parent != MIME_NONE)
		sn->depth = sc->v[parent].depth + 1;
	s->chain[s->nchain++] = sc->n;
	return sc->n++;
}

/*
 * Is the line at pos a boundary of an open multipart? Trailing blanks are
 * transport padding (RFC 2046 5.1.1). Innermost exact match first, then
 * the innermost prefix match.
 */
static bool
mime_scan_boundary(const struct mime_scanner *s, size_t pos, struct mime_bmatch *m)
{
	const struct mime_scan *sc = s->sc;
	const char *l = sc->msg + pos + 2;
	size_t next, n;
	int k, pass;

	if (s->nb == 0 || sc->len - pos < 3 || sc->msg[pos] != '-' || sc->msg[pos + 1] != '-')
		return false;
	next = mime_scan_line_end(sc, pos);
	n = next - pos - 2;
	while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r' || l[n - 1] == ' ' ||
	    l[n - 1] == '\t'))
		n--;
	for (pass = 0; pass < 2; pass++) {
		for (k = s->nb - 1; k >= 0; k--) {
			const char *b = s->bounds.p + s->b[k].off;
			size_t bl = s->b[k].len;

			if (s->b[k].closed || n < bl || memcmp(l, b, bl) != 0)
				continue;
			m->close = n >= bl + 2 && l[bl] == '-' && l[bl + 1] == '-';
			if (pass == 0 && n != bl && !(m->close && n == bl + 2))
				continue;
			m->level = k;
			m->line = pos;
			m->next = next;
			return true;
		}
	}
	return false;
}

static void
mime_scan_note_field(struct mime_snode *sn, const char *msg, size_t start, size_t end)
{
	const char *colon = memchr(msg + start, ':', end - start);
	size_t nlen, i;

	if (colon == NULL)
		return;
	nlen = (size_t)(colon - (msg + start));
	while (nlen > 0 && (msg[start + nlen - 1] == ' ' || msg[start + nlen - 1] == '\t'))
		nlen--;
	if (nlen < 9 || g_ascii_strncasecmp(msg + start, "content-", 8) != 0)
		return;
	for (i = 0; i < MIME_H__COUNT; i++) {
		if ((sn->hset & (1u << i)) == 0 &&
		    sg_ascii_ieq(msg + start + 8, nlen - 8, mime_hdr_names[i])) {
			sn->hset |= 1u << i;
			sn->hoff[i] = (size_t)(colon + 1 - msg);
			sn->hlen[i] = end - sn->hoff[i];
			return;
		}
	}
}

/* Where a part ends before the boundary line at line: without its line break. */
static size_t
mime_scan_before(const struct mime_scan *sc, size_t line)
{
	size_t end = line;

	if (end > 0 && sc->msg[end - 1] == '\n') {
		end--;
		if (end > 0 && sc->msg[end - 1] == '\r')
			end--;
	}
	return end;
}

/*
 * Reads the header block of the innermost open part from pos. Returns
 * true if it ended at a boundary line (*m set), false at the blank line
 * or the end of the message; the part's body_off is set either way.
 */
static bool
mime_scan_header(struct mime_scanner *s, size_t pos, struct mime_bmatch *m)
{
	struct mime_scan *sc = s->sc;
	struct mime_snode *sn = &sc->v[s->chain[s->nchain - 1]];
	size_t fe;

	while (pos < sc->len) {
		if (mime_scan_boundary(s, pos, m))
			return true;
		if (sc->msg[pos] == '\n' || (sc->msg[pos] == '\r' &&
		    (pos + 1 == sc->len || sc->msg[pos + 1] == '\n'))) {
			sn->n.body_off = mime_scan_line_end(sc, pos);
			return false;
		}
		fe = mime_scan_line_end(sc, pos);
		while (fe < sc->len && (sc->msg[fe] == ' ' || sc->msg[fe] == '\t'))
			fe = mime_scan_line_end(sc, fe);
		mime_scan_note_field(sn, sc->msg, pos, fe);
		pos = fe;
	}
	sn->n.body_off = sc->len;
	return false;
}

/* The next boundary line at or after pos, if any. */
static bool
mime_scan_body(const struct mime_scanner *s, size_t pos, struct mime_bmatch *m)
{
	const struct mime_scan *sc = s->sc;
	const char *lf;

	if (s->nb == 0)
		return false;
	while (pos < sc->len) {
		if (sc->msg[pos] == '-' && mime_scan_boundary(s, pos, m))
			return true;
		lf = memchr(sc->msg + pos, '\n', sc->len - pos);
		if (lf == NULL)
			break;
		pos = (size_t)(lf - sc->msg) + 1;
	}
	return false;
}

static bool
mime_scan_room(const struct mime_scanner *s, const struct mime_snode *sn)
{
	return sn->depth < MIME_DEPTH_MAX && s->sc->n < MIME_PARTS_MAX;
}

/*
 * Decides what the part whose header was just read is. Returns the
 * embedded message's new node for message/rfc822 (its header is next),
 * MIME_NONE otherwise (its body is next).
 */
static uint32_t
mime_scan_classify(struct mime_scanner *s, uint32_t i)
{
	struct mime_snode *sn = &s->sc->v[i];
	const char *v, *b;
	size_t vlen, blen;
	bool digest_default;

	v = mime_scan_hdr(s->sc, i, MIME_H_TYPE, &vlen);
	mime_ctype_parse(&s->ct, v == NULL ? "" : v, vlen, false);
	digest_default = (sn->flags & MIME_SN_DIGEST) && s->ct.type_len == 0;
	if (mime_ctype_type_is(&s->ct, "multipart")) {
		if (!mime_scan_room(s, sn)) {
			sn->flags |= MIME_SN_OPAQUE;
			return MIME_NONE;
		}
		sn->n.kind = MIME_NODE_MULTIPART;
		if (mime_ctype_sub_is(&s->ct, "digest"))
			sn->flags |= MIME_SN_DIGEST_PARENT;
		b = mime_ctype_param(&s->ct, "boundary", &blen);
		if (b == NULL || blen == 0 || s->capped)
			return MIME_NONE;	/* no parts: all preamble */
		s->b[s->nb].node = i;
		s->b[s->nb].off = s->bounds.len;
		s->b[s->nb].len = blen;
		s->b[s->nb].closed = false;
		mime_buf_add(&s->bounds, b, blen);
		s->nb++;
		return MIME_NONE;
	}
	if (digest_default || (mime_ctype_type_is(&s->ct, "message") &&
	    mime_ctype_sub_is(&s->ct, "rfc822"))) {
		if (!mime_scan_room(s, sn)) {
			sn->flags |= MIME_SN_OPAQUE;
			return MIME_NONE;
		}
		sn->n.kind = MIME_NODE_MESSAGE;
		return mime_scan_add(s, i, sn->n.body_off);
	}
	return MIME_NONE;
}

/*
 * A boundary line of level m->level ends every part nested in that
 * multipart at the line break before it; then either the next part starts
 * after the line, or (close delimiter) the multipart's epilogue does.
 * Returns the offset to continue from; *in_header tells which state.
 */
static size_t
mime_scan_on_boundary(struct mime_scanner *s, const struct mime_bmatch *m, bool *in_header)
{
	struct mime_scan *sc = s->sc;
	uint32_t mp = s->b[m->level].node;
	size_t end = mime_scan_before(sc, m->line);
	uint32_t top, c;

	while (s->nchain > 0 && (top = s->chain[s->nchain - 1]) != mp) {
		struct mime_node *n = &sc->v[top].n;

		n->body_end = SG_MAX(end, n->body_off);
		s->nchain--;
	}
	s->nb = m->level + 1;
	*in_header = false;
	if (m->close) {
		s->b[m->level].closed = true;
		return m->next;
	}
	if (sc->n >= MIME_PARTS_MAX) {
		/* too many parts: the rest is this multipart's body */
		s->capped = true;
		s->nb = 0;
		return m->next;
	}
	c = mime_scan_add(s, mp, m->next);
	if (sc->v[mp].flags & MIME_SN_DIGEST_PARENT)
		sc->v[c].flags |= MIME_SN_DIGEST;	/* RFC 2046 5.1.5 */
	*in_header = true;
	return m->next;
}

static void
mime_scan_link(struct mime_scan *sc)
{
	uint32_t i, p;

	for (i = sc->n; i-- > 1;) {
		p = sc->v[i].n.parent;
		sc->v[i].n.next_sibling = sc->v[p].n.first_child;
		sc->v[p].n.first_child = i;
	}
}

/*
 * A part's header is read, then (multipart, leaf) its body is scanned for
 * the next boundary of any open multipart, or (message/rfc822) the
 * embedded message's header is read next. A header cut short by a boundary
 * still classifies its part, so an empty multipart or message/rfc822 part
 * keeps its type, as in Dovecot.
 */
void
mime_scan_run(struct mime_scan *sc, const char *msg, size_t len)
{
	struct mime_scanner s;
	struct mime_bmatch m;
	struct mime_node *n;
	bool in_header = true, hit;
	size_t pos = 0;
	uint32_t top;

	memset(sc, 0, sizeof *sc);
	memset(&s, 0, sizeof s);
	sc->msg = msg;
	sc->len = len;
	s.sc = sc;
	mime_scan_add(&s, MIME_NONE, 0);
	for (;;) {
		top = s.chain[s.nchain - 1];
		if (in_header) {
			hit = mime_scan_header(&s, pos, &m);
			n = &sc->v[top].n;
			if (hit)
				n->body_off = SG_MAX(n->hdr_off, mime_scan_before(sc, m.line));
			if (mime_scan_classify(&s, top) != MIME_NONE && !hit) {
				pos = sc->v[top].n.body_off;
				continue;	/* the embedded message's header */
			}
			if (!hit) {
				in_header = false;
				pos = sc->v[top].n.body_off;
				continue;
			}
		} else {
			hit = mime_scan_body(&s, pos, &m);
		}
		if (!hit)
			break;
		pos = mime_scan_on_boundary(&s, &m, &in_header);
	}
	while (s.nchain > 0) {
		n = &sc->v[s.chain[--s.nchain]].n;
		n->body_end = len;
	}
	mime_scan_link(sc);
	mime_buf_free(&s.bounds);
	mime_buf_free(&s.ct.buf);
}

void
mime_scan_free(struct mime_scan *sc)
{
	free(sc->v);
	sc->v = NULL;
	sc->n = sc->cap = 0;
}

const char *
mime_scan_hdr(const struct mime_scan *sc, uint32_t i, enum mime_hdr_id h, size_t *len_out)
{
	const struct mime_snode *sn = &sc->v[i];

	if ((sn->hset & (1u << h)) == 0) {
		*len_out = 0;
		return NULL;
	}
	*len_out = sn->hlen[h];
	return sc->msg + sn->hoff[h];
}
