/*
 * mime_search.c: the text SEARCH matches against, made once at ingest:
 * header values decoded from RFC 2047 words and 8-bit charsets, text parts
 * decoded from their transfer encoding and charset (INTEROP: raw-byte body
 * search misses base64 and QP parts), HTML tags dropped; all of it
 * case-folded and NFKC-normalized so a needle folded the same way matches
 * with memmem. GMime does the decoding; GLib the Unicode folding.
 */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "gateway/sg.h"

struct mime_needle {
	char	*p;
	size_t	 len;
};

static bool
mime_is_ascii(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)p[i] >= 0x80)
			return false;
	}
	return true;
}

/* Appends at most cap - out->len bytes of s, cut at a UTF-8 boundary. */
static void
mime_add_capped(struct mime_buf *out, const char *s, size_t len, size_t cap)
{
	if (out->len >= cap)
		return;
	if (len > cap - out->len) {
		len = cap - out->len;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	mime_buf_add(out, s, len);
}

void
mime_fold_append(struct mime_buf *out, const char *p, size_t len, size_t cap)
{
	gchar *valid = NULL, *folded, *norm;
	size_t i, start;

	if (out->len >= cap || len == 0)
		return;
	if (mime_is_ascii(p, len)) {
		start = out->len;
		mime_add_capped(out, p, len, cap);
		for (i = start; i < out->len; i++) {
			char c = out->p[i];

			if (c >= 'A' && c <= 'Z')
				out->p[i] = (char)(c + 32);
			else if (c == '\0')
				out->p[i] = ' ';
		}
		return;
	}
	if (!g_utf8_validate(p, (gssize)len, NULL)) {
		valid = g_utf8_make_valid(p, (gssize)len);
		p = valid;
		len = strlen(valid);
	}
	folded = g_utf8_casefold(p, (gssize)len);
	norm = g_utf8_normalize(folded, -1, G_NORMALIZE_ALL_COMPOSE);
	if (norm != NULL)
		mime_add_capped(out, norm, strlen(norm), cap);
	g_free(norm);
	g_free(folded);
	g_free(valid);
}

void
mime_decode_header(struct mime_buf *out, const char *p, size_t len)
{
	struct mime_buf clean = { 0 };
	char *dec;

	mime_text_clean(&clean, p, len);
	mime_buf_addc(&clean, '\0');
	if (mime_is_ascii(clean.p, clean.len - 1) && strstr(clean.p, "=?") == NULL) {
		mime_buf_add(out, clean.p, clean.len - 1);
	} else {
		dec = g_mime_utils_header_decode_text(NULL, clean.p);
		if (dec != NULL)
			mime_buf_adds(out, dec);
		g_free(dec);
	}
	mime_buf_free(&clean);
}

/* Decodes base64, quoted-printable or uuencode; NULL if identity. */
static char *
mime_decode_cte(const char *body, size_t len, const char *cte, size_t cte_len, size_t *out_len)
{
	char name[32];
	GMimeContentEncoding enc;
	GMimeEncoding st;
	char *out;

	if (cte == NULL || cte_len == 0 || cte_len >= sizeof name)
		return NULL;
	memcpy(name, cte, cte_len);
	name[cte_len] = '\0';
	g_strstrip(name);
	enc = g_mime_content_encoding_from_string(name);
	if (enc != GMIME_CONTENT_ENCODING_BASE64 && enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
	    enc != GMIME_CONTENT_ENCODING_UUENCODE)
		return NULL;
	g_mime_encoding_init_decode(&st, enc);
	out = xmalloc(g_mime_encoding_outlen(&st, len) + 1);
	*out_len = g_mime_encoding_flush(&st, body, len, out);
	return out;
}

/* Converts text in charset cs (may be NULL) to UTF-8; g_free the result. */
static char *
mime_to_utf8(const char *text, size_t len, const char *cs, size_t cs_len)
{
	char name[64];
	iconv_t cd;
	char *res = NULL;

	if (cs != NULL && cs_len > 0 && cs_len < sizeof name) {
		memcpy(name, cs, cs_len);
		name[cs_len] = '\0';
		if (g_ascii_strcasecmp(name, "utf-8") != 0 &&
		    g_ascii_strcasecmp(name, "us-ascii") != 0) {
			cd = g_mime_iconv_open("UTF-8", g_mime_charset_iconv_name(name));
			if (cd != (iconv_t)-1) {
				res = g_mime_iconv_strndup(cd, text, len);
				g_mime_iconv_close(cd);
				if (res != NULL)
					return res;
			}
		}
	}
	if (g_utf8_validate(text, (gssize)len, NULL))
		return g_strndup(text, len);
	/* unknown or lying charset: GMime's 8-bit guess (user charsets, latin1) */
	return g_mime_utils_decode_8bit(NULL, text, len);
}

static const struct {
	const char	*name;
	const char	*text;
} mime_html_entities[] = {
	{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" },
	{ "apos", "'" }, { "nbsp", " " },
};

/* Decodes the entity at p ('&'); returns the bytes consumed, 0 if none. */
static size_t
mime_html_entity(const char *p, size_t len, struct mime_buf *out)
{
	size_t i, n;
	unsigned long cp;
	char utf8[8], *end;

	for (n = 1; n < len && n < 12 && p[n] != ';'; n++)
		;
	if (n >= len || p[n] != ';' || n < 2)
		return 0;
	if (p[1] == '#') {
		char num[12];

		memcpy(num, p + 2, n - 2);
		num[n - 2] = '\0';
		cp = (num[0] == 'x' || num[0] == 'X') ? strtoul(num + 1, &end, 16) :
		    strtoul(num, &end, 10);
		if (*end != '\0' || cp == 0 || cp > 0x10ffff)
			return 0;
		mime_buf_add(out, utf8, (size_t)g_unichar_to_utf8((gunichar)cp, utf8));
		return n + 1;
	}
	for (i = 0; i < SG_NITEMS(mime_html_entities); i++) {
		if (strlen(mime_html_entities[i].name) == n - 1 &&
		    g_ascii_strncasecmp(p + 1, mime_html_entities[i].name, n - 1) == 0) {
			mime_buf_adds(out, mime_html_entities[i].text);
			return n + 1;
		}
	}
	return 0;
}

/* Skips a tag at p ('<'), and a script or style element's content too. */
static size_t
mime_html_tag(const char *p, size_t len)
{
	const char *gt = memchr(p, '>', len), *end;
	size_t n = gt == NULL ? len : (size_t)(gt - p) + 1;

	if (len > 7 && (g_ascii_strncasecmp(p, "<script", 7) == 0 ||
	    g_ascii_strncasecmp(p, "<style", 6) == 0)) {
		const char *close = g_ascii_tolower(p[2]) == 'c' ? "</script" : "</style";

		for (end = p + n; end < p + len; end++) {
			if (*end == '<' && (size_t)(p + len - end) >= strlen(close) &&
			    g_ascii_strncasecmp(end, close, strlen(close)) == 0)
				return (size_t)(end - p);
		}
		return len;
	}
	return n;
}

/* Crude HTML to text: tags become a space, a few entities decoded. */
static void
mime_html_strip(struct mime_buf *out, const char *p, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if (p[i] == '<') {
			i += mime_html_tag(p + i, len - i);
			mime_buf_addc(out, ' ');
		} else if (p[i] == '&' && (n = mime_html_entity(p + i, len - i, out)) > 0) {
			i += n;
		} else {
			mime_buf_addc(out, p[i++]);
		}
	}
}

void
mime_decode_text(struct mime_buf *out, const char *body, size_t len,
    const struct mime_ctype *ct, const char *cte, size_t cte_len, size_t cap)
{
	struct mime_buf html = { 0 };
	const char *cs;
	char *dec, *utf8;
	size_t dec_len = 0, cs_len, room;

	if (out->len >= cap)
		return;
	/* bounds: no encoding expands text more than 3x into its source */
	room = cap - out->len;
	len = SG_MIN(len, room * 3 + 4);
	dec = mime_decode_cte(body, len, cte, cte_len, &dec_len);
	if (dec == NULL)
		dec_len = len;
	cs = mime_ctype_param(ct, "charset", &cs_len);
	utf8 = mime_to_utf8(dec != NULL ? dec : body, dec_len, cs, cs_len);
	free(dec);
	if (utf8 == NULL)
		return;
	if (out->len > 0)
		mime_buf_addc(out, '\n');
	if (mime_ctype_sub_is(ct, "html")) {
		mime_html_strip(&html, utf8, strlen(utf8));
		mime_fold_append(out, html.p, html.len, cap);
	} else {
		mime_fold_append(out, utf8, strlen(utf8), cap);
	}
	mime_buf_free(&html);
	g_free(utf8);
}

struct mime_needle *
mime_needle_new(const char *utf8, size_t len)
{
	struct mime_needle *n = xcalloc(1, sizeof *n);
	struct mime_buf b = { 0 };

	mime_fold_append(&b, utf8, len, SIZE_MAX);
	n->p = b.p;
	n->len = b.len;
	return n;
}

void
mime_needle_free(struct mime_needle **np)
{
	if (*np == NULL)
		return;
	free((*np)->p);
	free(*np);
	*np = NULL;
}

/* memmem() is a GNU extension; this is the same with memchr doing the work. */
static bool
mime_contains(const struct mime_str *hay, const struct mime_needle *n)
{
	const char *p = hay->p, *last;

	if (n->len == 0)
		return true;
	if (hay->len < n->len)
		return false;
	last = hay->p + hay->len - n->len;
	while (p <= last && (p = memchr(p, n->p[0], (size_t)(last - p) + 1)) != NULL) {
		if (memcmp(p, n->p, n->len) == 0)
			return true;
		p++;
	}
	return false;
}

bool
mime_search_match_needle(const struct mime_summary *s, enum mime_field f,
    const struct mime_needle *n)
{
	static const enum mime_sfield map[] = {
		[MIME_FIELD_FROM] = MIME_S_FROM, [MIME_FIELD_TO] = MIME_S_TO,
		[MIME_FIELD_CC] = MIME_S_CC, [MIME_FIELD_BCC] = MIME_S_BCC,
		[MIME_FIELD_SUBJECT] = MIME_S_SUBJECT, [MIME_FIELD_HEADERS] = MIME_S_HEADERS,
		[MIME_FIELD_BODY] = MIME_S_TEXT,
	};

	if (f == MIME_FIELD_TEXT)
		return mime_contains(&s->f[MIME_S_HEADERS], n) || mime_contains(&s->f[MIME_S_TEXT], n);
	if ((size_t)f >= SG_NITEMS(map))
		return false;
	return mime_contains(&s->f[map[f]], n);
}

bool
mime_search_match(const struct mime_summary *s, enum mime_field f, const char *needle,
    size_t len)
{
	struct mime_needle *n = mime_needle_new(needle, len);
	bool r = mime_search_match_needle(s, f, n);

	mime_needle_free(&n);
	return r;
}

/* The HEADERS field holds one "name: value\n" line per header field. */
bool
mime_search_header(const struct mime_summary *s, const char *name, size_t name_len,
    const struct mime_needle *n)
{
	const char *p = s->f[MIME_S_HEADERS].p, *end = p + s->f[MIME_S_HEADERS].len;
	const char *eol;
	struct mime_str val;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) >= name_len + 2 && p[name_len] == ':' &&
		    p[name_len + 1] == ' ' && g_ascii_strncasecmp(p, name, name_len) == 0) {
			val.p = p + name_len + 2;
			val.len = (size_t)(eol - val.p);
			if (mime_contains(&val, n))
				return true;
		}
		p = eol + 1;
	}
	return false;
}
