/*
 * mime_render.c: IMAP strings for the pre-rendered responses. A quoted
 * string cannot hold CR, LF, NUL or (without UTF8=ACCEPT) 8-bit octets
 * (RFC 3501 9, "quoted" and "TEXT-CHAR"), so anything 8-bit goes out as a
 * literal {n}\r\n...; quotes and backslashes are escaped in a quoted
 * string. Callers clean header text first (mime_text_clean), so no CR,
 * LF or NUL reaches a literal.
 */
#include "mime/mime_private.h"

#include <string.h>

void
mime_imap_string(struct mime_buf *out, const char *p, size_t len)
{
	size_t i, esc = 0;
	bool literal = false;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x80 || c == '\r' || c == '\n' || c == '\0') {
			literal = true;
			break;
		}
		if (c == '"' || c == '\\')
			esc++;
	}
	if (literal) {
		mime_buf_addc(out, '{');
		mime_buf_add_u64(out, len);
		mime_buf_add(out, "}\r\n", 3);
		mime_buf_add(out, p, len);
		return;
	}
	mime_buf_reserve(out, len + esc + 2);
	out->p[out->len++] = '"';
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			out->p[out->len++] = '\\';
		out->p[out->len++] = p[i];
	}
	out->p[out->len++] = '"';
}

void
mime_imap_text(struct mime_buf *out, const char *p, size_t len)
{
	struct mime_buf tmp = { 0 };

	mime_text_clean(&tmp, p, len);
	mime_imap_string(out, tmp.p == NULL ? "" : tmp.p, tmp.len);
	mime_buf_free(&tmp);
}

/*
 * ENVELOPE and BODYSTRUCTURE (RFC 3501 7.4.2), rendered as Dovecot does:
 * header text cleaned (unfolded, blanks collapsed), parameters as
 * mime_param.c keeps them, a text part without a charset gets
 * ("charset" "us-ascii"), a multipart without parts gets one empty
 * text/plain part, and the extension data is md5, disposition, language
 * (always a list) and location.
 */
#define MIME_EMPTY_PART \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"

enum mime_env_id {
	MIME_E_DATE, MIME_E_SUBJECT, MIME_E_FROM, MIME_E_SENDER, MIME_E_REPLY_TO,
	MIME_E_TO, MIME_E_CC, MIME_E_BCC, MIME_E_IRT, MIME_E_MSGID, MIME_E__COUNT
};

static const char *const mime_env_names[MIME_E__COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

static void
mime_render_addrs(const char *v, size_t len, struct mime_buf *out)
{
	struct mime_addrs a = { 0 };

	mime_addrs_parse(&a, v, len);
	mime_addrs_render(&a, out);
	mime_addrs_clear(&a);
}

/* True if the value holds at least one address (RFC 3501: "present but empty"). */
static bool
mime_render_has_addr(const char *v, size_t len)
{
	struct mime_addrs a = { 0 };
	bool r;

	if (v == NULL)
		return false;
	mime_addrs_parse(&a, v, len);
	r = a.n > 0;
	mime_addrs_clear(&a);
	return r;
}

void
mime_render_envelope(const char *hdr, size_t len, struct mime_buf *out)
{
	struct mime_hiter it;
	struct mime_hfield f;
	const char *v[MIME_E__COUNT] = { 0 };
	size_t vl[MIME_E__COUNT] = { 0 }, i;

	mime_hiter_init(&it, hdr, len);
	while (mime_hiter_next(&it, &f)) {
		for (i = 0; i < MIME_E__COUNT; i++) {
			if (v[i] == NULL && mime_name_is(f.name, f.name_len, mime_env_names[i])) {
				v[i] = f.value;
				vl[i] = f.value_len;
				break;
			}
		}
	}
	/* RFC 3501 7.4.2: absent or empty Sender and Reply-To default to From */
	for (i = MIME_E_SENDER; i <= MIME_E_REPLY_TO; i++) {
		if (!mime_render_has_addr(v[i], vl[i])) {
			v[i] = v[MIME_E_FROM];
			vl[i] = vl[MIME_E_FROM];
		}
	}
	mime_buf_addc(out, '(');
	for (i = 0; i < MIME_E__COUNT; i++) {
		if (i > 0)
			mime_buf_addc(out, ' ');
		if (v[i] == NULL)
			mime_buf_adds(out, "NIL");
		else if (i >= MIME_E_FROM && i <= MIME_E_BCC)
			mime_render_addrs(v[i], vl[i], out);
		else
			mime_imap_text(out, v[i], vl[i]);
	}
	mime_buf_addc(out, ')');
}

struct mime_render {
	const struct mime_scan	*sc;
	struct mime_ctype	 ct;	/* the part's Content-Type */
	struct mime_ctype	 aux;	/* its Content-Transfer-Encoding, Disposition */
};

static uint64_t
mime_render_lines(const struct mime_scan *sc, const struct mime_node *n)
{
	const char *p = sc->msg + n->body_off, *end = sc->msg + n->body_end;
	uint64_t lines = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	return lines;
}

/* "(k v k v ...)" or NIL; adds ("charset" "us-ascii") if want_charset. */
static void
mime_render_params(const struct mime_ctype *ct, bool want_charset, struct mime_buf *out)
{
	size_t i;
	bool has_charset = false;

	if (ct->nparams == 0 && !want_charset) {
		mime_buf_adds(out, "NIL");
		return;
	}
	mime_buf_addc(out, '(');
	for (i = 0; i < ct->nparams; i++) {
		const struct mime_param *p = &ct->params[i];

		if (i > 0)
			mime_buf_addc(out, ' ');
		mime_imap_text(out, ct->buf.p + p->key_off, p->key_len);
		mime_buf_addc(out, ' ');
		mime_imap_text(out, ct->buf.p + p->val_off, p->val_len);
		if (sg_ascii_ieq(ct->buf.p + p->key_off, p->key_len, "charset"))
			has_charset = true;
	}
	if (want_charset && !has_charset)
		mime_buf_adds(out, i > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	mime_buf_addc(out, ')');
}

static void
mime_render_nstring(const struct mime_scan *sc, uint32_t i, enum mime_hdr_id h,
    struct mime_buf *out)
{
	size_t len;
	const char *v = mime_scan_hdr(sc, i, h, &len);

	if (v == NULL)
		mime_buf_adds(out, "NIL");
	else
		mime_imap_text(out, v, len);
}

/* RFC 3501 body-fld-dsp: ("type" (params)) or NIL. */
static void
mime_render_disposition(struct mime_render *r, uint32_t i, struct mime_buf *out)
{
	size_t len;
	const char *v = mime_scan_hdr(r->sc, i, MIME_H_DISP, &len);

	if (v != NULL)
		mime_ctype_parse(&r->aux, v, len, true);
	if (v == NULL || r->aux.type_len == 0) {
		mime_buf_adds(out, "NIL");
		return;
	}
	mime_buf_addc(out, '(');
	mime_imap_text(out, r->aux.buf.p + r->aux.type_off, r->aux.type_len);
	mime_buf_addc(out, ' ');
	mime_render_params(&r->aux, false, out);
	mime_buf_addc(out, ')');
}

/* body-fld-lang: Content-Language's tags as a list ("en" "de") or NIL. */
static void
mime_render_language(const struct mime_scan *sc, uint32_t i, struct mime_buf *out)
{
	size_t len, j = 0, start, n = 0;
	const char *v = mime_scan_hdr(sc, i, MIME_H_LANG, &len);

	for (; v != NULL && j < len; n++) {
		while (j < len && strchr(" \t\r\n,", v[j]) != NULL)
			j++;
		start = j;
		while (j < len && strchr(" \t\r\n,()\";", v[j]) == NULL)
			j++;
		if (j == start)
			break;
		mime_buf_adds(out, n == 0 ? "(" : " ");
		mime_imap_string(out, v + start, j - start);
		while (j < len && strchr(" \t\r\n", v[j]) != NULL)
			j++;
		if (j < len && v[j] != ',')
			break;
	}
	mime_buf_adds(out, n == 0 ? "NIL" : ")");
}

/* The extension data shared by both part kinds: dsp, lang, loc. */
static void
mime_render_ext_tail(struct mime_render *r, uint32_t i, struct mime_buf *out)
{
	mime_buf_addc(out, ' ');
	mime_render_disposition(r, i, out);
	mime_buf_addc(out, ' ');
	mime_render_language(r->sc, i, out);
	mime_buf_addc(out, ' ');
	mime_render_nstring(r->sc, i, MIME_H_LOC, out);
}

static void mime_render_part(struct mime_render *r, uint32_t i, bool ext, struct mime_buf *out);

/* body-type-1part: basic, text (+ lines) or message (+ envelope, body, lines). */
static void
mime_render_leaf(struct mime_render *r, uint32_t i, bool ext, struct mime_buf *out)
{
	const struct mime_snode *sn = &r->sc->v[i];
	const struct mime_ctype *ct = &r->ct;
	bool msg = sn->n.kind == MIME_NODE_MESSAGE, text = false;
	size_t len;
	const char *v = mime_scan_hdr(r->sc, i, MIME_H_TYPE, &len);

	mime_ctype_parse(&r->ct, v == NULL ? "" : v, len, false);
	if (msg) {
		mime_buf_adds(out, "\"message\" \"rfc822\"");
	} else if (sn->flags & MIME_SN_OPAQUE) {
		mime_buf_adds(out, "\"application\" \"octet-stream\"");
	} else if (ct->type_len == 0) {
		mime_buf_adds(out, "\"text\" \"plain\"");
		text = true;
	} else {
		text = mime_ctype_type_is(ct, "text");
		mime_imap_text(out, ct->buf.p + ct->type_off, ct->type_len);
		mime_buf_addc(out, ' ');
		mime_imap_text(out, ct->buf.p + ct->sub_off, ct->sub_len);
	}
	mime_buf_addc(out, ' ');
	mime_render_params(ct, text, out);
	mime_buf_addc(out, ' ');
	mime_render_nstring(r->sc, i, MIME_H_ID, out);
	mime_buf_addc(out, ' ');
	mime_render_nstring(r->sc, i, MIME_H_DESC, out);
	mime_buf_addc(out, ' ');
	v = mime_scan_hdr(r->sc, i, MIME_H_CTE, &len);
	if (v != NULL)
		mime_ctype_parse(&r->aux, v, len, true);
	if (v != NULL && r->aux.type_len > 0)
		mime_imap_text(out, r->aux.buf.p + r->aux.type_off, r->aux.type_len);
	else
		mime_buf_adds(out, "\"7bit\"");
	mime_buf_addc(out, ' ');
	mime_buf_add_u64(out, sn->n.body_end - sn->n.body_off);
	if (msg) {
		const struct mime_node *c = &r->sc->v[sn->n.first_child].n;

		mime_buf_addc(out, ' ');
		mime_render_envelope(r->sc->msg + c->hdr_off, c->body_off - c->hdr_off, out);
		mime_buf_addc(out, ' ');
		mime_render_part(r, sn->n.first_child, ext, out);
	}
	if (msg || text) {
		mime_buf_addc(out, ' ');
		mime_buf_add_u64(out, mime_render_lines(r->sc, &sn->n));
	}
	if (!ext)
		return;
	mime_buf_addc(out, ' ');
	mime_render_nstring(r->sc, i, MIME_H_MD5, out);
	mime_render_ext_tail(r, i, out);
}

/* body-type-mpart: the parts, the subtype, then params and the tail. */
static void
mime_render_multipart(struct mime_render *r, uint32_t i, bool ext, struct mime_buf *out)
{
	const struct mime_snode *sn = &r->sc->v[i];
	uint32_t c;
	size_t len;
	const char *v;

	for (c = sn->n.first_child; c != MIME_NONE; c = r->sc->v[c].n.next_sibling)
		mime_render_part(r, c, ext, out);
	if (sn->n.first_child == MIME_NONE) {
		mime_buf_adds(out, MIME_EMPTY_PART);
		mime_buf_adds(out, ext ? " NIL NIL NIL NIL)" : ")");
	}
	v = mime_scan_hdr(r->sc, i, MIME_H_TYPE, &len);
	mime_ctype_parse(&r->ct, v == NULL ? "" : v, len, false);
	mime_buf_addc(out, ' ');
	if (r->ct.sub_len > 0)
		mime_imap_text(out, r->ct.buf.p + r->ct.sub_off, r->ct.sub_len);
	else
		mime_buf_adds(out, "\"x-unknown\"");
	if (!ext)
		return;
	mime_buf_addc(out, ' ');
	mime_render_params(&r->ct, false, out);
	mime_render_ext_tail(r, i, out);
}

static void
mime_render_part(struct mime_render *r, uint32_t i, bool ext, struct mime_buf *out)
{
	mime_buf_addc(out, '(');
	if (r->sc->v[i].n.kind == MIME_NODE_MULTIPART)
		mime_render_multipart(r, i, ext, out);
	else
		mime_render_leaf(r, i, ext, out);
	mime_buf_addc(out, ')');
}

void
mime_render_bodystructure(const struct mime_scan *sc, bool ext, struct mime_buf *out)
{
	struct mime_render r;

	memset(&r, 0, sizeof r);
	r.sc = sc;
	mime_render_part(&r, 0, ext, out);
	mime_buf_free(&r.ct.buf);
	mime_buf_free(&r.aux.buf);
}
