/*
 * mime_summary.c: builds a summary from a message (scan, render, search
 * text), packs its strings into one blob, and the accessors.
 */
#include "mime/mime_private.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "gateway/sg.h"

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static void
mime_init_once(void)
{
	g_mime_init();
}

void
mime_init(void)
{
	pthread_once(&mime_once, mime_init_once);
}

/* The strings of a summary while it is built. */
struct mime_build {
	const struct mime_scan	*sc;
	struct mime_buf		 f[MIME_S__COUNT];
	GHashTable		*seen;		/* addresses already in MIME_S_ADDRS */
	struct mime_summary	*s;
};

/* Correspondents: "local@domain" lowercased, each once. */
static void
mime_build_addr(struct mime_build *b, const struct mime_addrs *a, const struct mime_addr *ad)
{
	struct mime_buf *o = &b->f[MIME_S_ADDRS];
	size_t start = o->len;

	if (ad->local_len == 0 || ad->domain_len == 0)
		return;
	mime_buf_add(o, a->buf.p + ad->local_off, ad->local_len);
	mime_buf_addc(o, '@');
	mime_buf_add(o, a->buf.p + ad->domain_off, ad->domain_len);
	sg_ascii_lower(o->p + start, o->len - start);
	mime_buf_addc(o, '\0');
	if (memchr(o->p + start, '\0', o->len - start - 1) != NULL ||
	    !g_hash_table_add(b->seen, g_strndup(o->p + start, o->len - start - 1)))
		o->len = start;
}

/* An address header: search text "name <addr>, ..." and correspondents. */
static void
mime_build_addrs(struct mime_build *b, const char *v, size_t len, enum mime_sfield sf)
{
	struct mime_addrs a = { 0 };
	struct mime_buf txt = { 0 };
	size_t i;

	mime_addrs_parse(&a, v, len);
	for (i = 0; i < a.n; i++) {
		const struct mime_addr *ad = &a.v[i];

		if (ad->kind != MIME_ADDR_MAILBOX)
			continue;
		mime_build_addr(b, &a, ad);
		if (sf == MIME_S__COUNT)
			continue;
		if (txt.len > 0)
			mime_buf_add(&txt, ", ", 2);
		if (ad->has_name) {
			mime_decode_header(&txt, a.buf.p + ad->name_off, ad->name_len);
			mime_buf_addc(&txt, ' ');
		}
		mime_buf_addc(&txt, '<');
		mime_buf_add(&txt, a.buf.p + ad->local_off, ad->local_len);
		if (ad->domain_len > 0) {
			mime_buf_addc(&txt, '@');
			mime_buf_add(&txt, a.buf.p + ad->domain_off, ad->domain_len);
		}
		mime_buf_addc(&txt, '>');
	}
	if (sf != MIME_S__COUNT && b->f[sf].len == 0)
		mime_fold_append(&b->f[sf], txt.p, txt.len, MIME_SEARCH_HEADERS_MAX);
	mime_buf_free(&txt);
	mime_addrs_clear(&a);
}

static void
mime_build_date(struct mime_build *b, const char *v, size_t len)
{
	struct mime_buf clean = { 0 };
	GDateTime *dt;
	int y, m, d;

	mime_text_clean(&clean, v, len);
	mime_buf_addc(&clean, '\0');
	dt = g_mime_utils_header_decode_date(clean.p);
	if (dt != NULL) {
		g_date_time_get_ymd(dt, &y, &m, &d);
		b->s->date = g_date_time_to_unix(dt);
		b->s->year = (uint16_t)y;
		b->s->month = (uint8_t)m;
		b->s->day = (uint8_t)d;
		b->s->flags |= MIME_SF_DATE;
		g_date_time_unref(dt);
	}
	mime_buf_free(&clean);
}

static const struct {
	const char		*name;
	enum mime_sfield	 sf;	/* MIME_S__COUNT: correspondents only */
} mime_addr_headers[] = {
	{ "from", MIME_S_FROM }, { "to", MIME_S_TO }, { "cc", MIME_S_CC },
	{ "bcc", MIME_S_BCC }, { "sender", MIME_S__COUNT }, { "reply-to", MIME_S__COUNT },
};

/* One top-level header field: HEADERS text and the special fields. */
static void
mime_build_field(struct mime_build *b, const struct mime_hfield *f)
{
	struct mime_buf *h = &b->f[MIME_S_HEADERS], dec = { 0 };
	size_t i;

	mime_decode_header(&dec, f->value, f->value_len);
	if (h->len < MIME_SEARCH_HEADERS_MAX) {
		mime_fold_append(h, f->name, f->name_len, MIME_SEARCH_HEADERS_MAX);
		mime_buf_add(h, ": ", 2);
		mime_fold_append(h, dec.p, dec.len, MIME_SEARCH_HEADERS_MAX);
		mime_buf_addc(h, '\n');
	}
	for (i = 0; i < SG_NITEMS(mime_addr_headers); i++) {
		if (mime_name_is(f->name, f->name_len, mime_addr_headers[i].name))
			mime_build_addrs(b, f->value, f->value_len, mime_addr_headers[i].sf);
	}
	if (mime_name_is(f->name, f->name_len, "subject") && b->f[MIME_S_SUBJECT].len == 0)
		mime_fold_append(&b->f[MIME_S_SUBJECT], dec.p, dec.len, MIME_SEARCH_HEADERS_MAX);
	else if (mime_name_is(f->name, f->name_len, "date") && !(b->s->flags & MIME_SF_DATE))
		mime_build_date(b, f->value, f->value_len);
	else if (mime_name_is(f->name, f->name_len, "message-id") && b->f[MIME_S_MSGID].len == 0)
		mime_text_clean(&b->f[MIME_S_MSGID], f->value, f->value_len);
	mime_buf_free(&dec);
}

static void
mime_build_headers(struct mime_build *b)
{
	const struct mime_node *root = &b->sc->v[0].n;
	struct mime_hiter it;
	struct mime_hfield f;

	mime_hiter_init(&it, b->sc->msg, root->body_off);
	while (mime_hiter_next(&it, &f)) {
		if (f.name != NULL)
			mime_build_field(b, &f);
	}
}

/* SEARCH BODY text: every text leaf, decoded, in message order. */
static void
mime_build_text(struct mime_build *b)
{
	const struct mime_scan *sc = b->sc;
	struct mime_ctype ct = { 0 };
	const char *v, *cte;
	size_t len, cte_len;
	uint32_t i;

	for (i = 0; i < sc->n && b->f[MIME_S_TEXT].len < MIME_SEARCH_BODY_MAX; i++) {
		const struct mime_snode *sn = &sc->v[i];

		if (sn->n.kind != MIME_NODE_LEAF || (sn->flags & MIME_SN_OPAQUE))
			continue;
		v = mime_scan_hdr(sc, i, MIME_H_TYPE, &len);
		mime_ctype_parse(&ct, v == NULL ? "" : v, len, false);
		if (ct.type_len > 0 && !mime_ctype_type_is(&ct, "text"))
			continue;
		cte = mime_scan_hdr(sc, i, MIME_H_CTE, &cte_len);
		mime_decode_text(&b->f[MIME_S_TEXT], sc->msg + sn->n.body_off,
		    sn->n.body_end - sn->n.body_off, &ct, cte, cte_len, MIME_SEARCH_BODY_MAX);
	}
	mime_buf_free(&ct.buf);
}

/* Moves the built strings into one blob the summary owns. */
static void
mime_build_pack(struct mime_build *b)
{
	struct mime_summary *s = b->s;
	size_t total = 0, off = 0, i;

	for (i = 0; i < MIME_S__COUNT; i++)
		total += b->f[i].len;
	s->blob = xmalloc(total + 1);
	s->blob_len = total;
	for (i = 0; i < MIME_S__COUNT; i++) {
		if (b->f[i].len > 0)
			memcpy(s->blob + off, b->f[i].p, b->f[i].len);
		s->f[i].p = s->blob + off;
		s->f[i].len = b->f[i].len;
		off += b->f[i].len;
		mime_buf_free(&b->f[i]);
	}
}

struct mime_summary *
mime_summarize(const char *msg, size_t len)
{
	struct mime_scan sc;
	struct mime_build b;
	struct mime_summary *s = xcalloc(1, sizeof *s);
	const struct mime_node *root;
	uint32_t i;

	mime_init();
	mime_scan_run(&sc, msg, len);
	root = &sc.v[0].n;
	memset(&b, 0, sizeof b);
	b.sc = &sc;
	b.s = s;
	b.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	s->size = len;
	s->hdr_len = root->body_off;
	mime_render_envelope(msg, root->body_off, &b.f[MIME_S_ENVELOPE]);
	mime_render_bodystructure(&sc, true, &b.f[MIME_S_BODYSTRUCTURE]);
	mime_render_bodystructure(&sc, false, &b.f[MIME_S_BODY]);
	mime_buf_add(&b.f[MIME_S_HEADER], msg, SG_MIN(root->body_off, MIME_HEADER_COPY_MAX));
	if (root->body_off > MIME_HEADER_COPY_MAX)
		s->flags |= MIME_SF_HDR_CUT;
	mime_build_headers(&b);
	mime_build_text(&b);
	mime_build_pack(&b);
	g_hash_table_destroy(b.seen);
	s->nnodes = sc.n;
	s->nodes = xreallocarray(NULL, sc.n, sizeof *s->nodes);
	for (i = 0; i < sc.n; i++)
		s->nodes[i] = sc.v[i].n;
	mime_scan_free(&sc);
	return s;
}

void
mime_summary_free(struct mime_summary **sp)
{
	struct mime_summary *s = *sp;

	if (s == NULL)
		return;
	free(s->blob);
	free(s->nodes);
	free(s);
	*sp = NULL;
}

bool
mime_summary_equal(const struct mime_summary *a, const struct mime_summary *b)
{
	size_t i;

	if (a->size != b->size || a->hdr_len != b->hdr_len || a->flags != b->flags ||
	    a->nnodes != b->nnodes)
		return false;
	if ((a->flags & MIME_SF_DATE) && (a->date != b->date || a->year != b->year ||
	    a->month != b->month || a->day != b->day))
		return false;
	for (i = 0; i < MIME_S__COUNT; i++) {
		if (a->f[i].len != b->f[i].len ||
		    (a->f[i].len > 0 && memcmp(a->f[i].p, b->f[i].p, a->f[i].len) != 0))
			return false;
	}
	for (i = 0; i < a->nnodes; i++) {
		const struct mime_node *x = &a->nodes[i], *y = &b->nodes[i];

		if (x->hdr_off != y->hdr_off || x->body_off != y->body_off ||
		    x->body_end != y->body_end || x->parent != y->parent ||
		    x->first_child != y->first_child || x->next_sibling != y->next_sibling ||
		    x->kind != y->kind)
			return false;
	}
	return true;
}

uint64_t
mime_summary_size(const struct mime_summary *s)
{
	return s->size;
}

uint64_t
mime_summary_header_size(const struct mime_summary *s)
{
	return s->hdr_len;
}

const char *
mime_summary_header(const struct mime_summary *s, size_t *len_out, bool *complete_out)
{
	*len_out = s->f[MIME_S_HEADER].len;
	if (complete_out != NULL)
		*complete_out = (s->flags & MIME_SF_HDR_CUT) == 0;
	return s->f[MIME_S_HEADER].p;
}

const char *
mime_summary_envelope(const struct mime_summary *s, size_t *len_out)
{
	*len_out = s->f[MIME_S_ENVELOPE].len;
	return s->f[MIME_S_ENVELOPE].p;
}

const char *
mime_summary_bodystructure(const struct mime_summary *s, size_t *len_out)
{
	*len_out = s->f[MIME_S_BODYSTRUCTURE].len;
	return s->f[MIME_S_BODYSTRUCTURE].p;
}

const char *
mime_summary_body(const struct mime_summary *s, size_t *len_out)
{
	*len_out = s->f[MIME_S_BODY].len;
	return s->f[MIME_S_BODY].p;
}

bool
mime_summary_date(const struct mime_summary *s, int64_t *t_out, int *year_out,
    int *month_out, int *day_out)
{
	if ((s->flags & MIME_SF_DATE) == 0)
		return false;
	if (t_out != NULL)
		*t_out = s->date;
	if (year_out != NULL)
		*year_out = s->year;
	if (month_out != NULL)
		*month_out = s->month;
	if (day_out != NULL)
		*day_out = s->day;
	return true;
}

const char *
mime_summary_message_id(const struct mime_summary *s, size_t *len_out)
{
	*len_out = s->f[MIME_S_MSGID].len;
	return s->f[MIME_S_MSGID].p;
}

/* MIME_S_ADDRS is a run of NUL-terminated strings. */
const char *
mime_summary_address(const struct mime_summary *s, size_t i, size_t *len_out)
{
	const char *p = s->f[MIME_S_ADDRS].p, *end = p + s->f[MIME_S_ADDRS].len, *nul;

	while (p < end) {
		nul = memchr(p, '\0', (size_t)(end - p));
		if (nul == NULL)
			return NULL;
		if (i-- == 0) {
			*len_out = (size_t)(nul - p);
			return p;
		}
		p = nul + 1;
	}
	return NULL;
}
