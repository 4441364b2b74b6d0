/*
 * imap_utf7.c: modified UTF-7 (RFC 3501 5.1.3) <-> UTF-8, strict both ways.
 *
 * Modified UTF-7 is RFC 2152 UTF-7 with "&" as the shift character, "," in
 * place of "/" in the base64 alphabet, no padding, and a mandatory "-" at the
 * end of each base64 run; "&-" stands for "&". The base64 text carries
 * UTF-16BE.
 */
#include "imap/imap_utf7.h"

#include <stdint.h>
#include <string.h>

static const char imap_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Output cursor: writes while room remains, counts always. */
struct imap_out {
	char	*buf;
	size_t	 size;
	size_t	 len;
};

static void
imap_out_byte(struct imap_out *o, unsigned char c)
{
	if (o->buf != NULL && o->len + 1 < o->size)	/* bounds: keep room for the NUL */
		o->buf[o->len] = (char)c;
	o->len++;
}

static enum imap_utf7_rc
imap_out_finish(struct imap_out *o, size_t *out_len)
{
	if (o->buf == NULL)
		return IMAP_UTF7_OK;
	if (o->len + 1 > o->size) {
		if (o->size > 0)
			o->buf[0] = '\0';
		return IMAP_UTF7_SPACE;
	}
	o->buf[o->len] = '\0';
	*out_len = o->len;
	return IMAP_UTF7_OK;
}

static int
imap_b64_value(unsigned char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(imap_b64, c);
	return p == NULL ? -1 : (int)(p - imap_b64);
}

static bool
imap_printable(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static void
imap_out_utf8(struct imap_out *o, uint32_t cp)
{
	if (cp < 0x80)
		imap_out_byte(o, (unsigned char)cp);
	else if (cp < 0x800) {
		imap_out_byte(o, (unsigned char)(0xc0 | (cp >> 6)));
		imap_out_byte(o, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		imap_out_byte(o, (unsigned char)(0xe0 | (cp >> 12)));
		imap_out_byte(o, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
		imap_out_byte(o, (unsigned char)(0x80 | (cp & 0x3f)));
	} else {
		imap_out_byte(o, (unsigned char)(0xf0 | (cp >> 18)));
		imap_out_byte(o, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
		imap_out_byte(o, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
		imap_out_byte(o, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

/* One UTF-16 unit of a base64 run; *high holds a pending high surrogate. */
static bool
imap_utf7_unit(struct imap_out *o, uint32_t unit, uint32_t *high)
{
	if (*high != 0) {
		if (unit < 0xdc00 || unit > 0xdfff)
			return false;
		imap_out_utf8(o, 0x10000 + ((*high - 0xd800) << 10) + (unit - 0xdc00));
		*high = 0;
		return true;
	}
	if (unit >= 0xd800 && unit <= 0xdbff) {
		*high = unit;
		return true;
	}
	/* RFC 3501 5.1.3: printable ASCII must represent itself, never base64 */
	if ((unit >= 0xdc00 && unit <= 0xdfff) || imap_printable(unit) || unit == 0)
		return false;
	imap_out_utf8(o, unit);
	return true;
}

/* Decodes the base64 run at in[*pos] (after "&") up to and including "-". */
static bool
imap_utf7_run(const char *in, size_t len, size_t *pos, struct imap_out *o)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0, units = 0;
	size_t i;
	int v;

	for (i = *pos; i < len && in[i] != '-'; i++) {
		v = imap_b64_value((unsigned char)in[i]);
		if (v < 0)
			return false;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if (!imap_utf7_unit(o, (bits >> nbits) & 0xffff, &high))
				return false;
			units++;
		}
		bits &= (1u << nbits) - 1;
	}
	/* the run needs its "-", whole units, zero padding bits, no lone surrogate */
	if (i == len || units == 0 || nbits >= 6 || bits != 0 || high != 0)
		return false;
	*pos = i + 1;
	/* two adjacent runs would be one run in canonical form */
	return !(*pos + 1 < len && in[*pos] == '&' && in[*pos + 1] != '-');
}

static enum imap_utf7_rc
imap_utf7_decode_to(const char *in, size_t len, struct imap_out *o)
{
	size_t i = 0;
	unsigned char c;

	while (i < len) {
		c = (unsigned char)in[i];
		if (!imap_printable(c))
			return IMAP_UTF7_INVALID;
		i++;
		if (c != '&')
			imap_out_byte(o, c);
		else if (i < len && in[i] == '-') {
			imap_out_byte(o, '&');
			i++;
		} else if (!imap_utf7_run(in, len, &i, o))
			return IMAP_UTF7_INVALID;
	}
	return IMAP_UTF7_OK;
}

size_t
imap_utf7_decode_max(size_t len)
{
	/* bounds: 8 base64 chars carry 3 UTF-16 units -> at most 9 UTF-8 octets */
	return len > (SIZE_MAX - 2) / 2 ? SIZE_MAX : len * 2 + 2;
}

size_t
imap_utf7_encode_max(size_t len)
{
	/* bounds: worst is one 2-octet char between ASCII: "&" + 3 + "-" = 5 for 2 */
	return len > (SIZE_MAX - 2) / 3 ? SIZE_MAX : len * 3 + 2;
}

enum imap_utf7_rc
imap_utf7_decode(const char *in, size_t len, char *out, size_t size, size_t *out_len)
{
	struct imap_out o = { out, size, 0 };
	enum imap_utf7_rc rc = imap_utf7_decode_to(in, len, &o);

	*out_len = 0;
	if (rc != IMAP_UTF7_OK) {
		if (size > 0)
			out[0] = '\0';
		return rc;
	}
	return imap_out_finish(&o, out_len);
}

bool
imap_utf7_valid(const char *in, size_t len)
{
	struct imap_out o = { NULL, 0, 0 };

	return imap_utf7_decode_to(in, len, &o) == IMAP_UTF7_OK;
}

/*
 * Reads one UTF-8 sequence at s[*pos] into *cp. Rejects overlong forms,
 * surrogates and code points past U+10FFFF (RFC 3629 4).
 */
static bool
imap_utf8_next(const unsigned char *s, size_t len, size_t *pos, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	unsigned char c = s[*pos];
	size_t n, k;
	uint32_t v;

	if (c < 0x80)
		n = 1, v = c;
	else if (c >= 0xc2 && c <= 0xdf)
		n = 2, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, v = c & 0x07;
	else
		return false;
	if (len - *pos < n)
		return false;
	for (k = 1; k < n; k++) {
		if ((s[*pos + k] & 0xc0) != 0x80)
			return false;
		v = (v << 6) | (s[*pos + k] & 0x3f);
	}
	if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return false;
	*pos += n;
	*cp = v;
	return true;
}

bool
imap_utf8_valid(const char *s, size_t len)
{
	size_t pos = 0;
	uint32_t cp;

	while (pos < len) {
		if (!imap_utf8_next((const unsigned char *)s, len, &pos, &cp))
			return false;
	}
	return true;
}

/* Base64 encoder state for one run. */
struct imap_b64w {
	uint32_t	bits;
	unsigned	nbits;
	bool		open;
};

static void
imap_b64w_unit(struct imap_out *o, struct imap_b64w *w, uint32_t unit)
{
	w->bits = (w->bits << 16) | unit;
	w->nbits += 16;
	while (w->nbits >= 6) {
		w->nbits -= 6;
		imap_out_byte(o, (unsigned char)imap_b64[(w->bits >> w->nbits) & 0x3f]);
	}
	w->bits &= (1u << w->nbits) - 1;
}

static void
imap_b64w_close(struct imap_out *o, struct imap_b64w *w)
{
	if (!w->open)
		return;
	if (w->nbits > 0)	/* pad the last sextet with zero bits */
		imap_out_byte(o, (unsigned char)imap_b64[(w->bits << (6 - w->nbits)) & 0x3f]);
	imap_out_byte(o, '-');
	w->bits = 0;
	w->nbits = 0;
	w->open = false;
}

static void
imap_b64w_char(struct imap_out *o, struct imap_b64w *w, uint32_t cp)
{
	if (!w->open) {
		imap_out_byte(o, '&');
		w->open = true;
	}
	if (cp >= 0x10000) {
		cp -= 0x10000;
		imap_b64w_unit(o, w, 0xd800 | (cp >> 10));
		imap_b64w_unit(o, w, 0xdc00 | (cp & 0x3ff));
	} else
		imap_b64w_unit(o, w, cp);
}

enum imap_utf7_rc
imap_utf7_encode(const char *in, size_t len, char *out, size_t size, size_t *out_len)
{
	struct imap_out o = { out, size, 0 };
	struct imap_b64w w = { 0, 0, false };
	size_t pos = 0;
	uint32_t cp;

	*out_len = 0;
	while (pos < len) {
		if (!imap_utf8_next((const unsigned char *)in, len, &pos, &cp) || cp == 0) {
			if (size > 0)
				out[0] = '\0';
			return IMAP_UTF7_INVALID;
		}
		if (!imap_printable(cp)) {
			imap_b64w_char(&o, &w, cp);
			continue;
		}
		imap_b64w_close(&o, &w);
		imap_out_byte(&o, (unsigned char)cp);
		if (cp == '&')
			imap_out_byte(&o, '-');
	}
	imap_b64w_close(&o, &w);
	return imap_out_finish(&o, out_len);
}
