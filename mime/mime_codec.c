/*
 * mime_codec.c: the stored form of a summary (it is encrypted next to the
 * message). Version 1 layout, integers as LEB128 varints:
 *
 *   u8 version, varint size, varint header size, u8 flags,
 *   [flags & DATE: varint zigzag(date), varint year, u8 month, u8 day]
 *   varint length of each of the MIME_S__COUNT strings, then their bytes,
 *   varint node count, then per node: u8 kind, [node > 0: varint parent],
 *   varint header offset, varint header size, varint body size.
 *
 * The decoder treats its input as hostile (it gets a fuzz target): every
 * varint, length and offset is checked before use, and trailing bytes are
 * an error.
 */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/sg.h"

struct mime_rd {
	const unsigned char	*p;
	size_t			 len, pos;
	bool			 bad;
};

static void
mime_codec_put(struct mime_buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			tmp[n] |= 0x80;
		n++;
	} while (v != 0);
	mime_buf_add(b, tmp, n);
}

static uint64_t
mime_codec_get(struct mime_rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char c;

	do {
		if (r->pos >= r->len || shift > 63) {
			r->bad = true;
			return 0;
		}
		c = r->p[r->pos++];
		if (shift == 63 && (c & 0x7e) != 0) {
			r->bad = true;	/* more than 64 bits */
			return 0;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	return v;
}

static uint8_t
mime_codec_byte(struct mime_rd *r)
{
	if (r->pos >= r->len) {
		r->bad = true;
		return 0;
	}
	return r->p[r->pos++];
}

int
mime_summary_encode(const struct mime_summary *s, unsigned char **buf_out, size_t *len_out)
{
	struct mime_buf b = { 0 };
	size_t i;

	mime_buf_addc(&b, MIME_SUMMARY_VERSION);
	mime_codec_put(&b, s->size);
	mime_codec_put(&b, s->hdr_len);
	mime_buf_addc(&b, (char)s->flags);
	if (s->flags & MIME_SF_DATE) {
		mime_codec_put(&b, ((uint64_t)s->date << 1) ^ (uint64_t)(s->date >> 63));
		mime_codec_put(&b, s->year);
		mime_buf_addc(&b, (char)s->month);
		mime_buf_addc(&b, (char)s->day);
	}
	for (i = 0; i < MIME_S__COUNT; i++)
		mime_codec_put(&b, s->f[i].len);
	for (i = 0; i < MIME_S__COUNT; i++)
		mime_buf_add(&b, s->f[i].p, s->f[i].len);
	mime_codec_put(&b, s->nnodes);
	for (i = 0; i < s->nnodes; i++) {
		const struct mime_node *n = &s->nodes[i];

		mime_buf_addc(&b, (char)n->kind);
		if (i > 0)
			mime_codec_put(&b, n->parent);
		mime_codec_put(&b, n->hdr_off);
		mime_codec_put(&b, n->body_off - n->hdr_off);
		mime_codec_put(&b, n->body_end - n->body_off);
	}
	*buf_out = (unsigned char *)b.p;
	*len_out = b.len;
	return 0;
}

static bool
mime_codec_head(struct mime_rd *r, struct mime_summary *s)
{
	uint64_t v, year;

	if (mime_codec_byte(r) != MIME_SUMMARY_VERSION)
		return false;
	s->size = mime_codec_get(r);
	s->hdr_len = mime_codec_get(r);
	s->flags = mime_codec_byte(r);
	if (r->bad || s->hdr_len > s->size || (s->flags & ~MIME_SF__ALL) != 0)
		return false;
	if (s->flags & MIME_SF_DATE) {
		v = mime_codec_get(r);
		s->date = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
		year = mime_codec_get(r);
		s->month = mime_codec_byte(r);
		s->day = mime_codec_byte(r);
		if (r->bad || year > 9999 || s->month < 1 || s->month > 12 || s->day < 1 ||
		    s->day > 31)
			return false;
		s->year = (uint16_t)year;
	}
	return !r->bad;
}

static bool
mime_codec_strings(struct mime_rd *r, struct mime_summary *s)
{
	uint64_t lens[MIME_S__COUNT], total = 0;
	size_t i, off = 0;

	for (i = 0; i < MIME_S__COUNT; i++) {
		lens[i] = mime_codec_get(r);
		if (r->bad || lens[i] > r->len)
			return false;
		total += lens[i];	/* bounds: <= MIME_S__COUNT * r->len, no overflow */
	}
	/* the bytes follow all the lengths: check against what is left after them */
	if (total > r->len - r->pos)
		return false;
	s->blob = xmalloc((size_t)total + 1);
	s->blob_len = (size_t)total;
	memcpy(s->blob, r->p + r->pos, (size_t)total);
	r->pos += (size_t)total;
	for (i = 0; i < MIME_S__COUNT; i++) {
		s->f[i].p = s->blob + off;
		s->f[i].len = (size_t)lens[i];
		off += (size_t)lens[i];
	}
	return true;
}

static bool
mime_codec_node(struct mime_rd *r, const struct mime_summary *s, uint32_t i, struct mime_node *n)
{
	uint64_t parent = MIME_NONE, off, hs, bs;

	n->kind = mime_codec_byte(r);
	if (i > 0)
		parent = mime_codec_get(r);
	off = mime_codec_get(r);
	hs = mime_codec_get(r);
	bs = mime_codec_get(r);
	if (r->bad || n->kind > MIME_NODE_MESSAGE || (i > 0 && parent >= i))
		return false;
	if (off > s->size || hs > s->size - off || bs > s->size - off - hs)
		return false;
	n->parent = (uint32_t)parent;
	n->hdr_off = off;
	n->body_off = off + hs;
	n->body_end = off + hs + bs;
	n->first_child = n->next_sibling = MIME_NONE;
	return true;
}

static bool
mime_codec_nodes(struct mime_rd *r, struct mime_summary *s)
{
	uint64_t n = mime_codec_get(r);
	uint32_t i, p;
	struct mime_node *root;

	/* bounds: every node takes at least 4 bytes, so n cannot outgrow the input */
	if (r->bad || n == 0 || n > MIME_PARTS_MAX || n > (r->len - r->pos) / 4)
		return false;
	s->nnodes = (uint32_t)n;
	s->nodes = xreallocarray(NULL, s->nnodes, sizeof *s->nodes);
	for (i = 0; i < s->nnodes; i++) {
		if (!mime_codec_node(r, s, i, &s->nodes[i]))
			return false;
	}
	root = &s->nodes[0];
	if (root->hdr_off != 0 || root->body_off != s->hdr_len || root->body_end != s->size)
		return false;
	for (i = s->nnodes; i-- > 1;) {
		p = s->nodes[i].parent;
		s->nodes[i].next_sibling = s->nodes[p].first_child;
		s->nodes[p].first_child = i;
	}
	return true;
}

struct mime_summary *
mime_summary_decode(const void *buf, size_t len)
{
	struct mime_rd r = { buf, len, 0, false };
	struct mime_summary *s = xcalloc(1, sizeof *s);

	if (!mime_codec_head(&r, s) || !mime_codec_strings(&r, s) ||
	    !mime_codec_nodes(&r, s) || r.pos != r.len)
		mime_summary_free(&s);
	return s;
}
