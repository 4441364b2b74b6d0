/*
 * portal_form.c: request bodies. Two pure parsers over (buf, len), both
 * strict: an application/x-www-form-urlencoded body (what an HTML form
 * posts) and a JSON object (RFC 8259) for the API. The values we want are
 * decoded straight into secret memory, because they are passwords.
 *
 * The JSON parser is ours rather than json-glib's: the API takes one flat
 * object of strings, which a hundred lines parse exactly, and a library
 * would copy each password into ordinary heap memory we cannot wipe.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/portal_private.h"

/* A value being decoded: at most PORTAL_FIELD_MAX bytes, secret memory. */
struct portal_val {
	char	*buf;
	size_t	 len;
	bool	 over;
};

static void
portal_val_init(struct portal_val *v)
{
	v->buf = sec_alloc(PORTAL_FIELD_MAX + 1);
	v->len = 0;
	v->over = false;
}

static void
portal_val_put(struct portal_val *v, char c)
{
	if (v->len >= PORTAL_FIELD_MAX) {
		v->over = true;
		return;
	}
	v->buf[v->len++] = c;
}

static void
portal_val_free(struct portal_val *v)
{
	sec_free(v->buf, PORTAL_FIELD_MAX + 1);
	v->buf = NULL;
}

void
portal_fields_free(struct portal_field *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		sec_free(f[i].value, PORTAL_FIELD_MAX + 1);
		f[i].value = NULL;
		f[i].len = 0;
	}
}

void
portal_fields_fill(struct portal_field *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (f[i].value == NULL) {
			f[i].value = sec_alloc(PORTAL_FIELD_MAX + 1);
			f[i].value[0] = '\0';
			f[i].len = 0;
		}
}

/* Give a decoded value to the field called name (name_len bytes), if
 * wanted. -1: a wanted field seen twice, a NUL, or not UTF-8. */
static int
portal_field_take(struct portal_field *f, size_t n, const char *name, size_t name_len,
    struct portal_val *v)
{
	size_t i;

	if (v->over || memchr(v->buf, '\0', v->len) != NULL ||
	    !g_utf8_validate(v->buf, (gssize)v->len, NULL))
		return -1;
	for (i = 0; i < n; i++) {
		if (strlen(f[i].name) != name_len || memcmp(f[i].name, name, name_len) != 0)
			continue;
		if (f[i].value != NULL)
			return -1;
		v->buf[v->len] = '\0';
		f[i].value = v->buf;
		f[i].len = v->len;
		v->buf = NULL;
		return 0;
	}
	return 0;
}

/* ---- application/x-www-form-urlencoded ---- */

static int
portal_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..len) into v; -1 on a broken %XX. */
static int
portal_form_decode(const char *s, size_t len, struct portal_val *v)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '+')
			portal_val_put(v, ' ');
		else if (s[i] != '%')
			portal_val_put(v, s[i]);
		else {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = portal_hexval(s[i + 1]);
			lo = portal_hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			portal_val_put(v, (char)(hi * 16 + lo));
			i += 2;
		}
	}
	return 0;
}

/* One "name=value" pair. Names are short ASCII: decoded on the stack. */
static int
portal_form_pair(const char *s, size_t len, struct portal_field *f, size_t n)
{
	const char *eq = memchr(s, '=', len);
	size_t nlen = eq != NULL ? (size_t)(eq - s) : len;
	struct portal_val name, val;
	int rc = -1;

	portal_val_init(&name);
	portal_val_init(&val);
	if (portal_form_decode(s, nlen, &name) == 0 && !name.over &&
	    (eq == NULL || portal_form_decode(eq + 1, len - nlen - 1, &val) == 0))
		rc = portal_field_take(f, n, name.buf, name.len, &val);
	portal_val_free(&name);
	portal_val_free(&val);
	return rc;
}

int
portal_form_parse(const char *body, size_t len, struct portal_field *f, size_t n)
{
	size_t start = 0, i;

	for (i = 0; i <= len; i++) {
		if (i < len && body[i] != '&')
			continue;
		if (i > start && portal_form_pair(body + start, i - start, f, n) != 0) {
			portal_fields_free(f, n);
			return -1;
		}
		start = i + 1;
	}
	return 0;
}

/* ---- JSON ---- */

struct portal_json {
	const char	*p, *end;
};

static void
portal_json_ws(struct portal_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
portal_json_hex4(struct portal_json *j, unsigned *out)
{
	unsigned v = 0;
	int i, h;

	if (j->end - j->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((h = portal_hexval(j->p[i])) < 0)
			return -1;
		v = v * 16 + (unsigned)h;
	}
	j->p += 4;
	*out = v;
	return 0;
}

static void
portal_json_utf8(struct portal_val *v, unsigned cp)
{
	if (cp < 0x80)
		portal_val_put(v, (char)cp);
	else if (cp < 0x800) {
		portal_val_put(v, (char)(0xc0 | (cp >> 6)));
		portal_val_put(v, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		portal_val_put(v, (char)(0xe0 | (cp >> 12)));
		portal_val_put(v, (char)(0x80 | ((cp >> 6) & 0x3f)));
		portal_val_put(v, (char)(0x80 | (cp & 0x3f)));
	} else {
		portal_val_put(v, (char)(0xf0 | (cp >> 18)));
		portal_val_put(v, (char)(0x80 | ((cp >> 12) & 0x3f)));
		portal_val_put(v, (char)(0x80 | ((cp >> 6) & 0x3f)));
		portal_val_put(v, (char)(0x80 | (cp & 0x3f)));
	}
}

/* \uXXXX, with a surrogate pair joined; a lone surrogate is an error. */
static int
portal_json_unicode(struct portal_json *j, struct portal_val *v)
{
	unsigned hi, lo;

	if (portal_json_hex4(j, &hi) != 0)
		return -1;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return -1;
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
			return -1;
		j->p += 2;
		if (portal_json_hex4(j, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
			return -1;
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	}
	portal_json_utf8(v, hi);
	return 0;
}

static int
portal_json_escape(struct portal_json *j, struct portal_val *v)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;

	if (j->p >= j->end)
		return -1;
	if (*j->p == 'u') {
		j->p++;
		return portal_json_unicode(j, v);
	}
	if ((e = memchr(from, *j->p, sizeof from - 1)) == NULL)
		return -1;
	portal_val_put(v, to[e - from]);
	j->p++;
	return 0;
}

/* A string at j->p (which is '"'), decoded into v. */
static int
portal_json_string(struct portal_json *j, struct portal_val *v)
{
	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p;

		if (c == '"') {
			j->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;	/* RFC 8259 7: control characters must be escaped */
		if (c == '\\') {
			j->p++;
			if (portal_json_escape(j, v) != 0)
				return -1;
		} else {
			portal_val_put(v, (char)c);
			j->p++;
		}
	}
	return -1;
}

/* One "name": "value" member. */
static int
portal_json_member(struct portal_json *j, struct portal_field *f, size_t n)
{
	struct portal_val name, val;
	int rc = -1;

	portal_val_init(&name);
	portal_val_init(&val);
	if (portal_json_string(j, &name) == 0 && !name.over) {
		portal_json_ws(j);
		if (j->p < j->end && *j->p == ':') {
			j->p++;
			portal_json_ws(j);
			if (portal_json_string(j, &val) == 0)
				rc = portal_field_take(f, n, name.buf, name.len, &val);
		}
	}
	portal_val_free(&name);
	portal_val_free(&val);
	return rc;
}

static int
portal_json_object(struct portal_json *j, struct portal_field *f, size_t n)
{
	portal_json_ws(j);
	if (j->p >= j->end || *j->p++ != '{')
		return -1;
	portal_json_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (portal_json_member(j, f, n) != 0)
			return -1;
		portal_json_ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == '}') {
			j->p++;
			return 0;
		}
		if (*j->p++ != ',')
			return -1;
		portal_json_ws(j);
	}
}

int
portal_json_parse(const char *body, size_t len, struct portal_field *f, size_t n)
{
	struct portal_json j = { body, body + len };

	if (!g_utf8_validate(body, (gssize)len, NULL) || portal_json_object(&j, f, n) != 0)
		goto bad;
	portal_json_ws(&j);
	if (j.p != j.end)
		goto bad;
	return 0;
bad:
	portal_fields_free(f, n);
	return -1;
}

char *
portal_json_str(const char *s)
{
	GString *g = g_string_sized_new(strlen(s) + 2);
	char *out;

	g_string_append_c(g, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			g_string_append_printf(g, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(g, "\\u%04x", c);
		else
			g_string_append_c(g, (char)c);
	}
	g_string_append_c(g, '"');
	out = xstrdup(g->str);
	g_string_free(g, TRUE);
	return out;
}

char *
portal_url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	GString *g = g_string_sized_new(strlen(s) * 3 + 1);
	char *out;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@')
			g_string_append_c(g, (char)c);
		else {
			g_string_append_c(g, '%');
			g_string_append_c(g, hex[c >> 4]);
			g_string_append_c(g, hex[c & 15]);
		}
	}
	out = xstrdup(g->str);
	g_string_free(g, TRUE);
	return out;
}
