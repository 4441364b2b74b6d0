/*
 * mime_addr.c: address lists (RFC 5322 3.4, with the obsolete forms of
 * 4.4) parsed leniently for ENVELOPE, search and correspondents, as
 * Dovecot does: display names keep their encoded words (the client
 * decodes them), quoted strings are unquoted, a mailbox without a domain
 * gets the host "MISSING_DOMAIN" (a NIL host would mean a group, RFC 3501
 * 7.4.2), and a comment stands in for a missing display name.
 */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/sg.h"

struct mime_alex {
	const char	*p;
	size_t		 i, len;
	struct mime_buf	*buf;
	size_t		 comment_off, comment_len;	/* last comment seen */
	bool		 has_comment;
};

static void
mime_alex_comment(struct mime_alex *l)
{
	int depth = 0;
	size_t off = l->buf->len;

	do {
		char c = l->p[l->i++];

		if (c == '\\' && l->i < l->len)
			c = l->p[l->i++];
		else if (c == '(' && depth++ == 0)
			continue;
		else if (c == ')' && --depth == 0)
			break;
		mime_buf_addc(l->buf, c);
	} while (l->i < l->len && depth > 0);
	l->comment_off = off;
	l->comment_len = l->buf->len - off;
	l->has_comment = true;
}

static void
mime_alex_skip(struct mime_alex *l)
{
	while (l->i < l->len) {
		char c = l->p[l->i];

		if (c == '(')
			mime_alex_comment(l);
		else if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			l->i++;
		else
			return;
	}
}

static bool
mime_is_aspecial(unsigned char c)
{
	return c <= ' ' || c == 0x7f || strchr("()<>[]:;@\\,.\"", c) != NULL;
}

/* Appends a quoted string's content, unquoted and unfolded. */
static void
mime_alex_quoted(struct mime_alex *l, struct mime_buf *out)
{
	l->i++;
	while (l->i < l->len && l->p[l->i] != '"') {
		char c = l->p[l->i++];

		if (c == '\\' && l->i < l->len)
			c = l->p[l->i++];
		else if (c == '\r' || c == '\n')
			continue;
		mime_buf_addc(out, c);
	}
	if (l->i < l->len)
		l->i++;
}

/*
 * Reads words (atoms, quoted strings, dots) up to a special. phrase gets
 * them joined by single spaces (a display name), local gets them packed
 * (a local part or a domain).
 */
static void
mime_alex_words(struct mime_alex *l, struct mime_buf *phrase, struct mime_buf *local)
{
	size_t start;

	for (;;) {
		mime_alex_skip(l);
		if (l->i >= l->len)
			return;
		if (l->p[l->i] == '"') {
			if (phrase->len > 0 && phrase->p[phrase->len - 1] != '.')
				mime_buf_addc(phrase, ' ');
			start = phrase->len;
			mime_alex_quoted(l, phrase);
			/* an empty "" first word leaves phrase->p NULL: no NULL + 0 */
			if (phrase->len > start)
				mime_buf_add(local, phrase->p + start, phrase->len - start);
		} else if (l->p[l->i] == '.') {
			mime_buf_addc(phrase, '.');
			mime_buf_addc(local, '.');
			l->i++;
		} else if (!mime_is_aspecial((unsigned char)l->p[l->i])) {
			start = l->i;
			while (l->i < l->len && !mime_is_aspecial((unsigned char)l->p[l->i]))
				l->i++;
			if (phrase->len > 0 && phrase->p[phrase->len - 1] != '.')
				mime_buf_addc(phrase, ' ');
			mime_buf_add(phrase, l->p + start, l->i - start);
			mime_buf_add(local, l->p + start, l->i - start);
		} else {
			return;
		}
	}
}

/* A domain: atoms, dots and [literals], packed. */
static void
mime_alex_domain(struct mime_alex *l, struct mime_buf *out)
{
	struct mime_buf junk = { 0 };

	for (;;) {
		mime_alex_words(l, &junk, out);
		if (l->i >= l->len || l->p[l->i] != '[')
			break;
		while (l->i < l->len && l->p[l->i] != ']') {
			if (l->p[l->i] != '\r' && l->p[l->i] != '\n')
				mime_buf_addc(out, l->p[l->i]);
			l->i++;
		}
		if (l->i < l->len) {
			mime_buf_addc(out, ']');
			l->i++;
		}
	}
	mime_buf_free(&junk);
}

static struct mime_addr *
mime_addrs_push(struct mime_addrs *a, enum mime_addr_kind kind)
{
	struct mime_addr *ad;

	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 8 : a->cap * 2;
		a->v = xreallocarray(a->v, a->cap, sizeof *a->v);
	}
	ad = &a->v[a->n++];
	memset(ad, 0, sizeof *ad);
	ad->kind = kind;
	return ad;
}

/* Stores s[0..len) in the address buffer; returns its offset. */
static size_t
mime_addrs_keep(struct mime_addrs *a, const char *s, size_t len)
{
	size_t off = a->buf.len;

	mime_buf_add(&a->buf, s, len);
	return off;
}

static void
mime_addrs_name(struct mime_addrs *a, struct mime_addr *ad, const struct mime_buf *phrase,
    const struct mime_alex *l)
{
	if (phrase->len > 0) {
		ad->has_name = true;
		ad->name_off = mime_addrs_keep(a, phrase->p, phrase->len);
		ad->name_len = phrase->len;
	} else if (l->has_comment && l->comment_len > 0) {
		ad->has_name = true;
		ad->name_off = mime_addrs_keep(a, l->buf->p + l->comment_off, l->comment_len);
		ad->name_len = l->comment_len;
	}
}

/* "<[@route,@route:]local@domain>" (RFC 5322 3.4, obs-route 4.4). */
static void
mime_addrs_angle(struct mime_alex *l, struct mime_addrs *a, struct mime_addr *ad)
{
	struct mime_buf route = { 0 }, junk = { 0 }, local = { 0 }, dom = { 0 };

	l->i++;
	mime_alex_skip(l);
	if (l->i < l->len && l->p[l->i] == '@') {
		while (l->i < l->len && l->p[l->i] != ':' && l->p[l->i] != '>') {
			char c = l->p[l->i++];

			if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
				mime_buf_addc(&route, c);
		}
		if (l->i < l->len && l->p[l->i] == ':')
			l->i++;
		ad->has_route = true;
	}
	mime_alex_words(l, &junk, &local);
	if (l->i < l->len && l->p[l->i] == '@') {
		l->i++;
		mime_alex_domain(l, &dom);
	}
	while (l->i < l->len && l->p[l->i] != '>' && l->p[l->i] != ',')
		l->i++;
	if (l->i < l->len && l->p[l->i] == '>')
		l->i++;
	ad->route_off = mime_addrs_keep(a, route.p, route.len);
	ad->route_len = route.len;
	ad->local_off = mime_addrs_keep(a, local.p, local.len);
	ad->local_len = local.len;
	ad->domain_off = mime_addrs_keep(a, dom.p, dom.len);
	ad->domain_len = dom.len;
	mime_buf_free(&route);
	mime_buf_free(&junk);
	mime_buf_free(&local);
	mime_buf_free(&dom);
}

/* One mailbox, or the start of a group. */
static void
mime_addrs_element(struct mime_alex *l, struct mime_addrs *a, bool *in_group)
{
	struct mime_buf phrase = { 0 }, local = { 0 }, dom = { 0 };
	struct mime_addr *ad;
	char c;

	l->has_comment = false;
	l->buf->len = 0;
	mime_alex_words(l, &phrase, &local);
	c = l->i < l->len ? l->p[l->i] : '\0';
	if (c == '<') {
		ad = mime_addrs_push(a, MIME_ADDR_MAILBOX);
		mime_addrs_angle(l, a, ad);
		mime_alex_skip(l);
		mime_addrs_name(a, ad, &phrase, l);
	} else if (c == ':' && !*in_group) {
		l->i++;
		ad = mime_addrs_push(a, MIME_ADDR_GROUP_START);
		ad->local_off = mime_addrs_keep(a, phrase.p, phrase.len);
		ad->local_len = phrase.len;
		*in_group = true;
	} else if (c == '@' || local.len > 0) {
		if (c == '@') {
			l->i++;
			mime_alex_domain(l, &dom);
		}
		ad = mime_addrs_push(a, MIME_ADDR_MAILBOX);
		ad->local_off = mime_addrs_keep(a, local.p, local.len);
		ad->local_len = local.len;
		ad->domain_off = mime_addrs_keep(a, dom.p, dom.len);
		ad->domain_len = dom.len;
		phrase.len = 0;
		mime_addrs_name(a, ad, &phrase, l);
	}
	mime_buf_free(&phrase);
	mime_buf_free(&local);
	mime_buf_free(&dom);
}

void
mime_addrs_parse(struct mime_addrs *a, const char *p, size_t len)
{
	struct mime_buf scratch = { 0 };
	struct mime_alex l = { .p = p, .len = len, .buf = &scratch };
	bool in_group = false;
	size_t start;

	/* Offsets index a->buf: give it storage even when every part is empty,
	 * so that rendering never computes NULL + 0 (found by fuzz_mime). */
	mime_buf_reserve(&a->buf, 1);
	while (l.i < l.len) {
		mime_alex_skip(&l);
		if (l.i >= l.len)
			break;
		if (l.p[l.i] == ',') {
			l.i++;
			continue;
		}
		if (l.p[l.i] == ';') {
			if (in_group)
				mime_addrs_push(a, MIME_ADDR_GROUP_END);
			in_group = false;
			l.i++;
			continue;
		}
		start = l.i;
		mime_addrs_element(&l, a, &in_group);
		if (l.i == start)
			l.i++;	/* a stray special: skip it */
	}
	if (in_group)
		mime_addrs_push(a, MIME_ADDR_GROUP_END);
	mime_buf_free(&scratch);
}

void
mime_addrs_clear(struct mime_addrs *a)
{
	mime_buf_free(&a->buf);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

static void
mime_addrs_render_one(const struct mime_addrs *a, const struct mime_addr *ad,
    struct mime_buf *out)
{
	const char *b = a->buf.p;

	if (ad->kind == MIME_ADDR_GROUP_END) {
		mime_buf_adds(out, "(NIL NIL NIL NIL)");
		return;
	}
	mime_buf_addc(out, '(');
	if (ad->kind == MIME_ADDR_GROUP_START) {
		mime_buf_adds(out, "NIL NIL ");
		mime_imap_text(out, b + ad->local_off, ad->local_len);
		mime_buf_adds(out, " NIL)");
		return;
	}
	if (ad->has_name)
		mime_imap_text(out, b + ad->name_off, ad->name_len);
	else
		mime_buf_adds(out, "NIL");
	mime_buf_addc(out, ' ');
	if (ad->has_route)
		mime_imap_text(out, b + ad->route_off, ad->route_len);
	else
		mime_buf_adds(out, "NIL");
	mime_buf_addc(out, ' ');
	mime_imap_text(out, b + ad->local_off, ad->local_len);
	mime_buf_addc(out, ' ');
	if (ad->domain_len > 0)
		mime_imap_text(out, b + ad->domain_off, ad->domain_len);
	else
		mime_buf_adds(out, "\"MISSING_DOMAIN\"");
	mime_buf_addc(out, ')');
}

void
mime_addrs_render(const struct mime_addrs *a, struct mime_buf *out)
{
	size_t i;

	if (a->n == 0) {
		mime_buf_adds(out, "NIL");
		return;
	}
	mime_buf_addc(out, '(');
	for (i = 0; i < a->n; i++)
		mime_addrs_render_one(a, &a->v[i], out);
	mime_buf_addc(out, ')');
}
