/*
 * mime_section.c: IMAP section specs (RFC 3501 6.4.5) resolved to byte
 * ranges of the stored message through the summary's part table. Part
 * lookup follows Dovecot's imap_msgpart_find(), which clients have been
 * tested against for years.
 */
#include "mime/mime_private.h"

#include <string.h>

#include "gateway/sg.h"

static const struct {
	const char		*text;
	enum mime_section_kind	 kind;
} mime_section_texts[] = {
	{ "HEADER", MIME_SECTION_HEADER },
	{ "HEADER.FIELDS", MIME_SECTION_HEADER_FIELDS },
	{ "HEADER.FIELDS.NOT", MIME_SECTION_HEADER_FIELDS_NOT },
	{ "TEXT", MIME_SECTION_TEXT },
	{ "MIME", MIME_SECTION_MIME },
};

/* section-part = nz-number *("." nz-number): no zero, no leading zero. */
static int
mime_section_number(const char *spec, size_t len, size_t *i, uint32_t *out)
{
	uint64_t v = 0;

	if (spec[*i] == '0')
		return -1;
	while (*i < len && spec[*i] >= '0' && spec[*i] <= '9') {
		v = v * 10 + (uint64_t)(spec[*i] - '0');
		if (v > UINT32_MAX)
			return -1;
		(*i)++;
	}
	*out = (uint32_t)v;
	return 0;
}

int
mime_section_parse(const char *spec, size_t len, struct mime_section *out)
{
	size_t i = 0, k;

	memset(out, 0, sizeof *out);
	out->kind = MIME_SECTION_BODY;
	while (i < len && spec[i] >= '0' && spec[i] <= '9') {
		if (out->nparts == MIME_SECTION_PATH_MAX ||
		    mime_section_number(spec, len, &i, &out->part[out->nparts]) < 0)
			return -1;
		out->nparts++;
		if (i == len)
			return 0;
		if (spec[i] != '.' || ++i == len)
			return -1;
	}
	if (i == len)
		return 0;	/* "" */
	for (k = 0; k < SG_NITEMS(mime_section_texts); k++) {
		if (sg_ascii_ieq(spec + i, len - i, mime_section_texts[k].text)) {
			out->kind = mime_section_texts[k].kind;
			/* RFC 3501 9: "MIME" only follows a part number */
			return out->kind == MIME_SECTION_MIME && out->nparts == 0 ? -1 : 0;
		}
	}
	return -1;
}

static void
mime_range_set(struct mime_range *r, uint64_t from, uint64_t to)
{
	r->off = from;
	r->len = to - from;
}

/* The part a path names, or MIME_NONE (see mime.h for the rules). */
static uint32_t
mime_section_find(const struct mime_summary *s, const struct mime_section *sec)
{
	uint32_t node = 0, c, j;
	size_t k;

	for (k = 0; k < sec->nparts; k++) {
		const struct mime_node *n = &s->nodes[node];
		bool more = k + 1 < sec->nparts;

		if (n->kind == MIME_NODE_MULTIPART) {
			c = n->first_child;
			for (j = 1; j < sec->part[k] && c != MIME_NONE; j++)
				c = s->nodes[c].next_sibling;
			if (c == MIME_NONE)
				return MIME_NONE;
			node = c;
		} else if (sec->part[k] != 1 || (more && n->kind != MIME_NODE_MESSAGE)) {
			return MIME_NONE;
		}
		if (more && s->nodes[node].kind == MIME_NODE_MESSAGE) {
			node = s->nodes[node].first_child;
			if (node == MIME_NONE)
				return MIME_NONE;
		}
	}
	return node;
}

enum mime_range_rc
mime_section_range(const struct mime_summary *s, const struct mime_section *sec,
    struct mime_range *out)
{
	const struct mime_node *n;
	uint32_t node;

	out->off = out->len = 0;
	if (sec->nparts == 0) {
		if (sec->kind == MIME_SECTION_BODY)
			mime_range_set(out, 0, s->size);
		else if (sec->kind == MIME_SECTION_TEXT)
			mime_range_set(out, s->hdr_len, s->size);
		else if (sec->kind != MIME_SECTION_MIME)
			mime_range_set(out, 0, s->hdr_len);
		else
			return MIME_RANGE_EMPTY;
		return MIME_RANGE_OK;
	}
	node = mime_section_find(s, sec);
	if (node == MIME_NONE)
		return MIME_RANGE_EMPTY;
	n = &s->nodes[node];
	if (sec->kind == MIME_SECTION_BODY) {
		mime_range_set(out, n->body_off, n->body_end);
		return MIME_RANGE_OK;
	}
	if (sec->kind == MIME_SECTION_MIME) {
		mime_range_set(out, n->hdr_off, n->body_off);
		return MIME_RANGE_OK;
	}
	/* HEADER, TEXT and the field lists name an embedded message's parts */
	if (n->kind != MIME_NODE_MESSAGE || n->first_child == MIME_NONE)
		return MIME_RANGE_EMPTY;
	n = &s->nodes[n->first_child];
	if (sec->kind == MIME_SECTION_TEXT)
		mime_range_set(out, n->body_off, n->body_end);
	else
		mime_range_set(out, n->hdr_off, n->body_off);
	return MIME_RANGE_OK;
}

void
mime_range_partial(struct mime_range *r, uint64_t off, uint64_t len)
{
	if (off >= r->len) {
		r->off += r->len;
		r->len = 0;
		return;
	}
	r->off += off;
	r->len = SG_MIN(r->len - off, len);
}
