/*
 * mime_param.c: Content-Type and Content-Disposition values (RFC 2045 5.1,
 * RFC 2183) with RFC 2231 parameter continuations.
 *
 * Parameters are kept as the client will parse them, the way Dovecot sends
 * them in BODYSTRUCTURE: names lowercased, values unquoted, and RFC 2231
 * continuations (name*0, name*1*, ...) joined into one parameter. A joined
 * value with any extended (charset'lang'%XX) segment keeps the encoding and
 * is named "name*": filename*0*=utf-8''%C3%A9; filename*1=".pdf" becomes
 * ("filename*" "utf-8''%C3%A9.pdf"). RFC 2047 words in values (name="=?..."),
 * which RFC 2047 5 forbids but every mailer sends, are passed through. Mail
 * clients (Thunderbird, Apple Mail) decode both forms themselves; decoding
 * here would need 8-bit strings, which a client that has not enabled
 * UTF8=ACCEPT cannot be sent.
 */
#include "mime/mime_private.h"

#include <string.h>

#include "gateway/sg.h"

struct mime_lex {
	const char	*p;
	size_t		 i, len;
};

static void
mime_lex_skip_cfws(struct mime_lex *l)
{
	int depth = 0;

	while (l->i < l->len) {
		char c = l->p[l->i];

		if (depth > 0 && c == '\\' && l->i + 1 < l->len) {
			l->i += 2;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return;
		l->i++;
	}
}

static bool
mime_is_tspecial(unsigned char c)
{
	return c <= ' ' || c == 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* A token, lenient about 8-bit octets. Returns its length. */
static size_t
mime_lex_token(struct mime_lex *l, const char **tok)
{
	size_t start = l->i;

	while (l->i < l->len && !mime_is_tspecial((unsigned char)l->p[l->i]))
		l->i++;
	*tok = l->p + start;
	return l->i - start;
}

/* Appends a quoted-string's content (RFC 5322 3.2.4), unfolded. */
static void
mime_lex_quoted(struct mime_lex *l, struct mime_buf *out)
{
	l->i++;		/* opening quote */
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
 * An unquoted value: a token, but also the '=', '/' and '?' that broken
 * mailers leave unquoted (boundary=----=_Part_1), up to ';' or a blank.
 */
static void
mime_lex_value(struct mime_lex *l, struct mime_buf *out)
{
	size_t start = l->i;

	while (l->i < l->len) {
		unsigned char c = (unsigned char)l->p[l->i];

		if (c <= ' ' || c == ';' || c == '"' || c == '(' || c == 0x7f)
			break;
		l->i++;
	}
	mime_buf_add(out, l->p + start, l->i - start);
}

struct mime_rawparam {
	size_t	key_off, key_len;	/* base name for RFC 2231 ones */
	size_t	val_off, val_len;
	int	idx;			/* -1: not an RFC 2231 segment */
	bool	extended;
};

/* Splits "name*3*" into base, index and extended flag, as Dovecot does. */
static void
mime_param_2231(const char *key, struct mime_rawparam *rp)
{
	const char *star = memchr(key, '*', rp->key_len);
	const char *p, *end = key + rp->key_len;
	int idx = 0;

	rp->idx = -1;
	rp->extended = false;
	if (star == NULL)
		return;
	p = star;
	if (p + 1 < end) {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
			if (idx < 100000)
				idx = idx * 10 + (*p - '0');
		}
	}
	if (p < end && *p == '*') {
		rp->extended = true;
		p++;
	}
	if (p != end)
		return;
	rp->idx = idx;
	rp->key_len = (size_t)(star - key);
}

static void
mime_param_emit(struct mime_ctype *ct, size_t koff, size_t klen, size_t voff, size_t vlen)
{
	struct mime_param *pp;

	if (ct->nparams == MIME_PARAMS_MAX)
		return;
	pp = &ct->params[ct->nparams++];
	pp->key_off = koff;
	pp->key_len = klen;
	pp->val_off = voff;
	pp->val_len = vlen;
}

/* Reads "; key=value" pairs into raw, keys lowercased, values unquoted. */
static size_t
mime_param_read(struct mime_lex *l, struct mime_buf *buf, struct mime_rawparam *raw)
{
	size_t n = 0, klen;
	const char *key;

	for (;;) {
		mime_lex_skip_cfws(l);
		if (l->i >= l->len)
			break;
		if (l->p[l->i] != ';') {
			/* junk: resynchronize on the next ';' */
			while (l->i < l->len && l->p[l->i] != ';')
				l->i++;
			continue;
		}
		l->i++;
		mime_lex_skip_cfws(l);
		klen = mime_lex_token(l, &key);
		mime_lex_skip_cfws(l);
		if (klen == 0 || l->i >= l->len || l->p[l->i] != '=')
			continue;
		l->i++;
		mime_lex_skip_cfws(l);
		if (n == MIME_PARAMS_MAX)
			continue;
		raw[n].key_off = buf->len;
		raw[n].key_len = klen;
		mime_buf_add(buf, key, klen);
		sg_ascii_lower(buf->p + raw[n].key_off, klen);
		raw[n].val_off = buf->len;
		if (l->i < l->len && l->p[l->i] == '"')
			mime_lex_quoted(l, buf);
		else
			mime_lex_value(l, buf);
		raw[n].val_len = buf->len - raw[n].val_off;
		mime_param_2231(buf->p + raw[n].key_off, &raw[n]);
		n++;
	}
	return n;
}

static int
mime_rawparam_cmp(const char *buf, const struct mime_rawparam *a, const struct mime_rawparam *b)
{
	size_t n = SG_MIN(a->key_len, b->key_len);
	int c = memcmp(buf + a->key_off, buf + b->key_off, n);

	if (c != 0)
		return c;
	if (a->key_len != b->key_len)
		return a->key_len < b->key_len ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Sorts the RFC 2231 segments by name, then index (insertion sort: n <= 64). */
static void
mime_param_sort(const char *buf, struct mime_rawparam **v, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		struct mime_rawparam *x = v[i];

		for (j = i; j > 0 && mime_rawparam_cmp(buf, v[j - 1], x) > 0; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Joins one name's segments v[0..n) (sorted) into a parameter. */
static void
mime_param_join(struct mime_ctype *ct, struct mime_rawparam **v, size_t n)
{
	bool ext = false, complete = true;
	size_t i, j, koff, voff, need = 2;

	for (i = 0; i < n; i++) {
		ext |= v[i]->extended;
		if (v[i]->idx != (int)i)
			complete = false;
		need += v[i]->key_len + 24 + v[i]->val_len * 3;
	}
	/* the appends below copy from ct->buf itself: it must not move */
	mime_buf_reserve(&ct->buf, need);
	if (!complete) {
		/* missing segments: keep them apart, named as sent */
		for (i = 0; i < n; i++) {
			koff = ct->buf.len;
			mime_buf_add(&ct->buf, ct->buf.p + v[i]->key_off, v[i]->key_len);
			mime_buf_addc(&ct->buf, '*');
			mime_buf_add_u64(&ct->buf, (uint64_t)v[i]->idx);
			if (v[i]->extended)
				mime_buf_addc(&ct->buf, '*');
			mime_param_emit(ct, koff, ct->buf.len - koff, v[i]->val_off, v[i]->val_len);
		}
		return;
	}
	koff = ct->buf.len;
	mime_buf_add(&ct->buf, ct->buf.p + v[0]->key_off, v[0]->key_len);
	if (ext)
		mime_buf_addc(&ct->buf, '*');
	voff = ct->buf.len;
	if (ext && !v[0]->extended)
		mime_buf_add(&ct->buf, "''", 2);
	for (i = 0; i < n; i++) {
		for (j = 0; j < v[i]->val_len; j++) {
			char c = ct->buf.p[v[i]->val_off + j];

			if (c == '%' && ext && !v[i]->extended)
				mime_buf_add(&ct->buf, "%25", 3);
			else
				mime_buf_addc(&ct->buf, c);
		}
	}
	mime_param_emit(ct, koff, voff - koff, voff, ct->buf.len - voff);
}

static void
mime_param_merge(struct mime_ctype *ct, struct mime_rawparam *raw, size_t n)
{
	struct mime_rawparam *seg[MIME_PARAMS_MAX];
	size_t i, j, nseg = 0;

	for (i = 0; i < n; i++) {
		if (raw[i].idx < 0)
			mime_param_emit(ct, raw[i].key_off, raw[i].key_len, raw[i].val_off,
			    raw[i].val_len);
		else
			seg[nseg++] = &raw[i];
	}
	mime_param_sort(ct->buf.p, seg, nseg);
	for (i = 0; i < nseg; i = j) {
		for (j = i + 1; j < nseg && seg[j]->key_len == seg[i]->key_len &&
		    memcmp(ct->buf.p + seg[j]->key_off, ct->buf.p + seg[i]->key_off,
		    seg[i]->key_len) == 0; j++)
			;
		mime_param_join(ct, seg + i, j - i);
	}
}

void
mime_ctype_parse(struct mime_ctype *ct, const char *p, size_t len, bool is_disp)
{
	struct mime_rawparam raw[MIME_PARAMS_MAX];
	struct mime_lex l = { p, 0, len };
	const char *tok;
	size_t tlen, n;

	mime_ctype_clear(ct);
	mime_lex_skip_cfws(&l);
	tlen = mime_lex_token(&l, &tok);
	if (tlen == 0)
		return;
	ct->type_off = ct->buf.len;
	ct->type_len = tlen;
	mime_buf_add(&ct->buf, tok, tlen);
	if (!is_disp) {
		mime_lex_skip_cfws(&l);
		if (l.i >= l.len || l.p[l.i] != '/') {
			ct->type_len = 0;	/* unparsable: the defaults apply */
			return;
		}
		l.i++;
		mime_lex_skip_cfws(&l);
		tlen = mime_lex_token(&l, &tok);
		if (tlen == 0) {
			ct->type_len = 0;
			return;
		}
		ct->sub_off = ct->buf.len;
		ct->sub_len = tlen;
		mime_buf_add(&ct->buf, tok, tlen);
	}
	n = mime_param_read(&l, &ct->buf, raw);
	mime_param_merge(ct, raw, n);
}

void
mime_ctype_clear(struct mime_ctype *ct)
{
	ct->buf.len = 0;
	ct->type_off = ct->type_len = 0;
	ct->sub_off = ct->sub_len = 0;
	ct->nparams = 0;
}

const char *
mime_ctype_param(const struct mime_ctype *ct, const char *key, size_t *len_out)
{
	size_t i;

	for (i = 0; i < ct->nparams; i++) {
		const struct mime_param *pp = &ct->params[i];

		if (sg_ascii_ieq(ct->buf.p + pp->key_off, pp->key_len, key)) {
			*len_out = pp->val_len;
			return ct->buf.p + pp->val_off;
		}
	}
	*len_out = 0;
	return NULL;
}

bool
mime_ctype_type_is(const struct mime_ctype *ct, const char *type)
{
	return ct->type_len > 0 && sg_ascii_ieq(ct->buf.p + ct->type_off, ct->type_len, type);
}

bool
mime_ctype_sub_is(const struct mime_ctype *ct, const char *sub)
{
	return ct->sub_len > 0 && sg_ascii_ieq(ct->buf.p + ct->sub_off, ct->sub_len, sub);
}
