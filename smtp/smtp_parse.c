/*
 * smtp_parse.c: the SMTP command grammar of RFC 5321 4.1 with the ESMTP
 * parameters sealgate knows (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531
 * SMTPUTF8, RFC 3461 DSN, RFC 4954 AUTH, RFC 3030 BDAT), the DATA
 * terminator and dot-unstuffing, and reply lines. Pure functions over
 * (ptr, len): no allocation, no I/O.
 */
#include "smtp/smtp_parse.h"

#include <string.h>

struct smtp_verb_name {
	const char	*name;
	size_t		 len;
	enum smtp_verb	 verb;
};

#define V(n, v)	{ n, sizeof n - 1, v }
static const struct smtp_verb_name smtp_verb_names[] = {
	V("EHLO", SMTP_VERB_EHLO), V("HELO", SMTP_VERB_HELO), V("MAIL", SMTP_VERB_MAIL),
	V("RCPT", SMTP_VERB_RCPT), V("DATA", SMTP_VERB_DATA), V("BDAT", SMTP_VERB_BDAT),
	V("RSET", SMTP_VERB_RSET), V("NOOP", SMTP_VERB_NOOP), V("VRFY", SMTP_VERB_VRFY),
	V("HELP", SMTP_VERB_HELP), V("QUIT", SMTP_VERB_QUIT), V("STARTTLS", SMTP_VERB_STARTTLS),
	V("AUTH", SMTP_VERB_AUTH),
};
#undef V

/* A cursor over the command line. */
struct smtp_scan {
	const char	*p;
	const char	*end;
};

static char
smtp_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static bool
smtp_ieq(const char *a, size_t alen, const char *b)
{
	size_t i;

	if (alen != strlen(b))
		return false;
	for (i = 0; i < alen; i++)
		if (smtp_upper(a[i]) != b[i])
			return false;
	return true;
}

static bool
smtp_is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
smtp_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
smtp_is_hex(unsigned char c)
{
	return smtp_is_digit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* RFC 5322 3.2.3 atext */
static bool
smtp_is_atext(unsigned char c)
{
	return smtp_is_alpha(c) || smtp_is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~",
	    c) != NULL);
}

const char *
smtp_verb_name(enum smtp_verb v)
{
	size_t i;

	for (i = 0; i < sizeof smtp_verb_names / sizeof smtp_verb_names[0]; i++)
		if (smtp_verb_names[i].verb == v)
			return smtp_verb_names[i].name;
	return "?";
}

size_t
smtp_utf8_seq(const unsigned char *p, size_t avail)
{
	size_t n, i;
	uint32_t cp;

	if (avail == 0 || p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	if (p[0] < 0xe0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] < 0xf0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else {
		n = 4;
		cp = p[0] & 0x07;
	}
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static enum smtp_parse_rc
smtp_fail(struct smtp_cmd *cmd, enum smtp_parse_rc rc, const char *err)
{
	cmd->err = err;
	return rc;
}

/* ---- paths ---- */

/* Dot-string (RFC 5321 4.1.2), with UTF-8 for SMTPUTF8. */
static bool
smtp_scan_dot_string(struct smtp_scan *s, bool *utf8)
{
	bool atom = false;	/* inside an atom */
	size_t n;

	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;

		if (c == '.') {
			if (!atom)
				return false;
			atom = false;
			s->p++;
		} else if (c >= 0x80) {
			if ((n = smtp_utf8_seq((const unsigned char *)s->p,
			    (size_t)(s->end - s->p))) == 0)
				return false;
			*utf8 = true;
			atom = true;
			s->p += n;
		} else if (smtp_is_atext(c)) {
			atom = true;
			s->p++;
		} else
			break;
	}
	return atom;
}

/* Quoted-string (RFC 5321 4.1.2 QcontentSMTP), with UTF-8. */
static bool
smtp_scan_quoted(struct smtp_scan *s, bool *utf8)
{
	size_t n;

	s->p++;		/* the opening DQUOTE */
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c == '\\') {
			if (s->end - s->p < 2 || (unsigned char)s->p[1] < 32 ||
			    (unsigned char)s->p[1] > 126)
				return false;
			s->p += 2;
		} else if (c >= 0x80) {
			if ((n = smtp_utf8_seq((const unsigned char *)s->p,
			    (size_t)(s->end - s->p))) == 0)
				return false;
			*utf8 = true;
			s->p += n;
		} else if (c >= 32 && c <= 126)
			s->p++;
		else
			return false;
	}
	return false;
}

/* Domain (RFC 5321 4.1.2) with U-labels, or an address literal. */
static bool
smtp_scan_domain(struct smtp_scan *s, bool *utf8, bool *literal)
{
	const char *start = s->p, *label = s->p;
	size_t n;

	if (s->p < s->end && *s->p == '[') {
		/* address-literal: "[" 1*dcontent "]", dcontent = %d33-90 / %d94-126 */
		s->p++;
		while (s->p < s->end && *s->p != ']') {
			unsigned char c = (unsigned char)*s->p;

			if (c < 33 || c > 126 || c == '[' || c == '\\')
				return false;
			s->p++;
		}
		if (s->p >= s->end || s->p - start < 2)
			return false;
		s->p++;
		*literal = true;
		return (size_t)(s->p - start) <= SMTP_DOMAIN_MAX;
	}
	for (;;) {
		/* one label: Let-dig [Ldh-str], or a U-label */
		label = s->p;
		while (s->p < s->end) {
			unsigned char c = (unsigned char)*s->p;

			if (smtp_is_alpha(c) || smtp_is_digit(c) || c == '-')
				s->p++;
			else if (c >= 0x80) {
				if ((n = smtp_utf8_seq((const unsigned char *)s->p,
				    (size_t)(s->end - s->p))) == 0)
					return false;
				*utf8 = true;
				s->p += n;
			} else
				break;
		}
		if (s->p == label || (size_t)(s->p - label) > SMTP_LABEL_MAX || *label == '-' ||
		    s->p[-1] == '-')
			return false;
		if (s->p < s->end && *s->p == '.' && s->end - s->p > 1) {
			s->p++;
			continue;
		}
		break;
	}
	return (size_t)(s->p - start) <= SMTP_DOMAIN_MAX;
}

/* A-d-l ":" (RFC 5321 4.1.2): a source route, accepted and ignored. */
static bool
smtp_scan_route(struct smtp_scan *s)
{
	bool utf8 = false, literal = false;

	for (;;) {
		if (s->p >= s->end || *s->p != '@')
			return false;
		s->p++;
		if (!smtp_scan_domain(s, &utf8, &literal))
			return false;
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ':') {
			s->p++;
			return true;
		}
		return false;
	}
}

/*
 * Path = "<" [ A-d-l ":" ] Mailbox ">"; MAIL also takes "<>", RCPT also
 * "<Postmaster>" (RFC 5321 4.1.1.3, any case).
 */
static enum smtp_parse_rc
smtp_scan_path(struct smtp_scan *s, struct smtp_cmd *cmd, bool null_ok, bool pm_ok)
{
	struct smtp_path *p = &cmd->path;
	const char *open = s->p, *mbox, *close;

	if (s->p >= s->end || *s->p != '<')
		return smtp_fail(cmd, SMTP_PARSE_BAD_PATH, "Path must be in angle brackets");
	s->p++;
	if (null_ok && s->p < s->end && *s->p == '>') {
		s->p++;
		p->addr = s->p - 1;
		p->len = 0;
		return SMTP_PARSE_OK;
	}
	if (s->p < s->end && *s->p == '@' && !smtp_scan_route(s))
		return smtp_fail(cmd, SMTP_PARSE_BAD_PATH, "Bad source route");
	mbox = s->p;
	if (pm_ok && s->end - s->p >= 11 && smtp_ieq(s->p, 10, "POSTMASTER") && s->p[10] == '>') {
		s->p += 10;
		p->postmaster = true;
	} else {
		if (s->p < s->end && *s->p == '"') {
			if (!smtp_scan_quoted(s, &p->utf8))
				return smtp_fail(cmd, SMTP_PARSE_BAD_PATH, "Bad quoted local part");
			p->quoted = true;
		} else if (!smtp_scan_dot_string(s, &p->utf8))
			return smtp_fail(cmd, SMTP_PARSE_BAD_PATH, "Bad local part");
		if (s->p >= s->end || *s->p != '@')
			return smtp_fail(cmd, SMTP_PARSE_BAD_PATH, "Address needs a domain");
		p->at = (size_t)(s->p - mbox);
		s->p++;
		if (!smtp_scan_domain(s, &p->utf8, &p->literal))
			return smtp_fail(cmd, SMTP_PARSE_BAD_PATH, "Bad domain");
	}
	close = s->p;
	if (s->p >= s->end || *s->p != '>')
		return smtp_fail(cmd, SMTP_PARSE_BAD_PATH, "Bad address syntax");
	s->p++;
	if ((size_t)(s->p - open) > SMTP_PATH_MAX || (size_t)(close - mbox) > SMTP_ADDR_MAX)
		return smtp_fail(cmd, SMTP_PARSE_BAD_PATH, "Path too long");
	p->addr = mbox;
	p->len = (size_t)(close - mbox);
	if (p->postmaster)
		p->at = p->len;
	return SMTP_PARSE_OK;
}

/* ---- ESMTP parameters ---- */

bool
smtp_xtext_valid(const char *s, size_t len, bool utf8)
{
	size_t i = 0, n;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			if (len - i < 3 || !smtp_is_hex((unsigned char)s[i + 1]) ||
			    !smtp_is_hex((unsigned char)s[i + 2]))
				return false;
			i += 3;
		} else if (c >= 0x80 && utf8) {
			if ((n = smtp_utf8_seq((const unsigned char *)s + i, len - i)) == 0)
				return false;
			i += n;
		} else if (c >= 33 && c <= 126 && c != '=')
			i++;
		else
			return false;
	}
	return true;
}

static unsigned
smtp_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	return (unsigned)(smtp_upper(c) - 'A' + 10);
}

int
smtp_xtext_decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	if (cap == 0)
		return -1;
	while (i < len) {
		char c = s[i];

		if (c == '+' && len - i >= 3 && smtp_is_hex((unsigned char)s[i + 1]) &&
		    smtp_is_hex((unsigned char)s[i + 2])) {
			c = (char)(smtp_hexval(s[i + 1]) << 4 | smtp_hexval(s[i + 2]));
			i += 3;
		} else
			i++;
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

int
smtp_xtext_encode(const char *s, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 33 && c <= 126 && c != '+' && c != '=') {
			if (o + 2 > cap)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 4 > cap)
				return -1;
			out[o++] = '+';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return (int)o;
}

static bool
smtp_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > SMTP_SIZE_DIGITS_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (!smtp_is_digit((unsigned char)s[i]))
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

struct smtp_param {
	const char	*key, *val;
	size_t		 key_len, val_len;
	bool		 has_val;
};

/* esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 4.1.2, RFC 6531 3.3) */
static enum smtp_parse_rc
smtp_scan_param(struct smtp_scan *s, struct smtp_cmd *cmd, struct smtp_param *pm)
{
	size_t n;

	memset(pm, 0, sizeof *pm);
	pm->key = s->p;
	if (s->p >= s->end || !(smtp_is_alpha((unsigned char)*s->p) ||
	    smtp_is_digit((unsigned char)*s->p)))
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Bad parameter syntax");
	while (s->p < s->end && (smtp_is_alpha((unsigned char)*s->p) ||
	    smtp_is_digit((unsigned char)*s->p) || *s->p == '-'))
		s->p++;
	pm->key_len = (size_t)(s->p - pm->key);
	if (s->p < s->end && *s->p == '=') {
		s->p++;
		pm->has_val = true;
		pm->val = s->p;
		while (s->p < s->end && *s->p != ' ') {
			unsigned char c = (unsigned char)*s->p;

			if (c >= 0x80) {
				if ((n = smtp_utf8_seq((const unsigned char *)s->p,
				    (size_t)(s->end - s->p))) == 0)
					return smtp_fail(cmd, SMTP_PARSE_SYNTAX,
					    "Bad parameter value");
				s->p += n;
			} else if (c < 33 || c > 126 || c == '=')
				return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Bad parameter value");
			else
				s->p++;
		}
		pm->val_len = (size_t)(s->p - pm->val);
		if (pm->val_len == 0)
			return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Empty parameter value");
	}
	if (s->p < s->end && *s->p != ' ')
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Bad parameter syntax");
	return SMTP_PARSE_OK;
}

#define SMTP_BAD_VALUE(cmd, what)	smtp_fail(cmd, SMTP_PARSE_BAD_VALUE, what)

static enum smtp_parse_rc
smtp_mail_param(struct smtp_cmd *cmd, const struct smtp_param *pm)
{
	const char *k = pm->key, *v = pm->val;
	size_t kl = pm->key_len, vl = pm->val_len;

	if (smtp_ieq(k, kl, "SIZE")) {
		if (cmd->has_size || !pm->has_val || !smtp_parse_u64(v, vl, &cmd->size))
			return SMTP_BAD_VALUE(cmd, "Bad SIZE parameter");
		cmd->has_size = true;
	} else if (smtp_ieq(k, kl, "BODY")) {
		if (cmd->body != SMTP_BODY_NONE || !pm->has_val)
			return SMTP_BAD_VALUE(cmd, "Bad BODY parameter");
		if (smtp_ieq(v, vl, "7BIT"))
			cmd->body = SMTP_BODY_7BIT;
		else if (smtp_ieq(v, vl, "8BITMIME"))
			cmd->body = SMTP_BODY_8BITMIME;
		else if (smtp_ieq(v, vl, "BINARYMIME"))
			cmd->body = SMTP_BODY_BINARYMIME;
		else
			return SMTP_BAD_VALUE(cmd, "Bad BODY parameter");
	} else if (smtp_ieq(k, kl, "SMTPUTF8")) {
		if (cmd->smtputf8 || pm->has_val)
			return SMTP_BAD_VALUE(cmd, "Bad SMTPUTF8 parameter");
		cmd->smtputf8 = true;
	} else if (smtp_ieq(k, kl, "RET")) {
		if (cmd->ret != SMTP_RET_NONE || !pm->has_val)
			return SMTP_BAD_VALUE(cmd, "Bad RET parameter");
		if (smtp_ieq(v, vl, "FULL"))
			cmd->ret = SMTP_RET_FULL;
		else if (smtp_ieq(v, vl, "HDRS"))
			cmd->ret = SMTP_RET_HDRS;
		else
			return SMTP_BAD_VALUE(cmd, "Bad RET parameter");
	} else if (smtp_ieq(k, kl, "ENVID")) {
		if (cmd->envid != NULL || !pm->has_val || vl > SMTP_ENVID_MAX ||
		    !smtp_xtext_valid(v, vl, false))
			return SMTP_BAD_VALUE(cmd, "Bad ENVID parameter");
		cmd->envid = v;
		cmd->envid_len = vl;
	} else if (smtp_ieq(k, kl, "AUTH")) {
		if (cmd->auth != NULL || !pm->has_val ||
		    !((vl == 2 && memcmp(v, "<>", 2) == 0) || smtp_xtext_valid(v, vl, true)))
			return SMTP_BAD_VALUE(cmd, "Bad AUTH parameter");
		cmd->auth = v;
		cmd->auth_len = vl;
	} else
		return smtp_fail(cmd, SMTP_PARSE_BAD_PARAM, "Unknown MAIL parameter");
	return SMTP_PARSE_OK;
}

static bool
smtp_parse_notify(const char *v, size_t vl, unsigned *out)
{
	const char *end = v + vl, *w;
	unsigned bits = 0, bit;

	if (smtp_ieq(v, vl, "NEVER")) {
		*out = SMTP_NOTIFY_NEVER;
		return true;
	}
	while (v < end) {
		for (w = v; w < end && *w != ','; w++)
			;
		if (smtp_ieq(v, (size_t)(w - v), "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (smtp_ieq(v, (size_t)(w - v), "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (smtp_ieq(v, (size_t)(w - v), "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return false;	/* also NEVER in a list, and empty items */
		if (bits & bit)
			return false;
		bits |= bit;
		if (w == end)
			break;
		v = w + 1;
		if (v == end)
			return false;	/* trailing comma */
	}
	*out = bits;
	return bits != 0;
}

/* ORCPT = addr-type ";" xtext (RFC 3461 4.2; utf-8 type: RFC 6533) */
static bool
smtp_orcpt_valid(const char *v, size_t vl)
{
	size_t i;

	for (i = 0; i < vl && v[i] != ';'; i++)
		if (!smtp_is_alpha((unsigned char)v[i]) && !smtp_is_digit((unsigned char)v[i]) &&
		    v[i] != '-')
			return false;
	if (i == 0 || i == vl || i + 1 == vl)
		return false;
	return smtp_xtext_valid(v + i + 1, vl - i - 1, smtp_ieq(v, i, "UTF-8"));
}

static enum smtp_parse_rc
smtp_rcpt_param(struct smtp_cmd *cmd, const struct smtp_param *pm)
{
	if (smtp_ieq(pm->key, pm->key_len, "NOTIFY")) {
		if (cmd->notify != 0 || !pm->has_val ||
		    !smtp_parse_notify(pm->val, pm->val_len, &cmd->notify))
			return SMTP_BAD_VALUE(cmd, "Bad NOTIFY parameter");
	} else if (smtp_ieq(pm->key, pm->key_len, "ORCPT")) {
		if (cmd->orcpt != NULL || !pm->has_val || pm->val_len > SMTP_ORCPT_MAX ||
		    !smtp_orcpt_valid(pm->val, pm->val_len))
			return SMTP_BAD_VALUE(cmd, "Bad ORCPT parameter");
		cmd->orcpt = pm->val;
		cmd->orcpt_len = pm->val_len;
	} else
		return smtp_fail(cmd, SMTP_PARSE_BAD_PARAM, "Unknown RCPT parameter");
	return SMTP_PARSE_OK;
}

/* "MAIL FROM:" / "RCPT TO:" path *(SP param) */
static enum smtp_parse_rc
smtp_parse_mail_rcpt(struct smtp_scan *s, struct smtp_cmd *cmd)
{
	bool mail = cmd->verb == SMTP_VERB_MAIL;
	const char *kw = mail ? " FROM:" : " TO:";
	size_t kwlen = strlen(kw);
	struct smtp_param pm;
	enum smtp_parse_rc rc;

	if ((size_t)(s->end - s->p) < kwlen || !smtp_ieq(s->p, kwlen, kw))
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX,
		    mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
	s->p += kwlen;
	if (s->p < s->end && *s->p == ' ')	/* "MAIL FROM: <a@b>", as many clients send */
		s->p++;
	if ((rc = smtp_scan_path(s, cmd, mail, !mail)) != SMTP_PARSE_OK)
		return rc;
	while (s->p < s->end) {
		if (*s->p != ' ')
			return smtp_fail(cmd, SMTP_PARSE_BAD_PATH, "Bad address syntax");
		while (s->p < s->end && *s->p == ' ')
			s->p++;
		if (s->p == s->end)
			break;
		if ((rc = smtp_scan_param(s, cmd, &pm)) != SMTP_PARSE_OK)
			return rc;
		rc = mail ? smtp_mail_param(cmd, &pm) : smtp_rcpt_param(cmd, &pm);
		if (rc != SMTP_PARSE_OK)
			return rc;
	}
	return SMTP_PARSE_OK;
}

/* EHLO / HELO: one domain or address literal (leniently: one printable token). */
static enum smtp_parse_rc
smtp_parse_helo(struct smtp_scan *s, struct smtp_cmd *cmd)
{
	const char *start;
	size_t n;

	if (s->p >= s->end || *s->p != ' ' || s->end - s->p < 2)
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Syntax: EHLO hostname");
	start = ++s->p;
	while (s->p < s->end && *s->p != ' ') {
		if ((unsigned char)*s->p >= 0x80) {
			if ((n = smtp_utf8_seq((const unsigned char *)s->p,
			    (size_t)(s->end - s->p))) == 0)
				return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Bad hostname");
			s->p += n;
		} else
			s->p++;
	}
	if (s->p != s->end || s->p == start || (size_t)(s->p - start) > SMTP_DOMAIN_MAX)
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Syntax: EHLO hostname");
	cmd->arg = start;
	cmd->arg_len = (size_t)(s->p - start);
	return SMTP_PARSE_OK;
}

/* BDAT chunk-size [SP "LAST"] (RFC 3030 2) */
static enum smtp_parse_rc
smtp_parse_bdat(struct smtp_scan *s, struct smtp_cmd *cmd)
{
	const char *num;

	if (s->p >= s->end || *s->p != ' ')
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Syntax: BDAT size [LAST]");
	num = ++s->p;
	while (s->p < s->end && *s->p != ' ')
		s->p++;
	if (!smtp_parse_u64(num, (size_t)(s->p - num), &cmd->chunk))
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Bad BDAT chunk size");
	if (s->p == s->end)
		return SMTP_PARSE_OK;
	s->p++;
	if (!smtp_ieq(s->p, (size_t)(s->end - s->p), "LAST"))
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Syntax: BDAT size [LAST]");
	cmd->last = true;
	return SMTP_PARSE_OK;
}

/* AUTH mechanism [SP initial-response] (RFC 4954 4) */
static enum smtp_parse_rc
smtp_parse_auth(struct smtp_scan *s, struct smtp_cmd *cmd)
{
	const char *p;

	if (s->p >= s->end || *s->p != ' ')
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Syntax: AUTH mechanism");
	cmd->arg = ++s->p;
	while (s->p < s->end && *s->p != ' ') {
		char c = smtp_upper(*s->p);

		if (!((c >= 'A' && c <= 'Z') || smtp_is_digit((unsigned char)c) || c == '-' ||
		    c == '_'))
			return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Bad mechanism name");
		s->p++;
	}
	cmd->arg_len = (size_t)(s->p - cmd->arg);
	if (cmd->arg_len == 0 || cmd->arg_len > SMTP_MECH_MAX)
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Bad mechanism name");
	if (s->p == s->end)
		return SMTP_PARSE_OK;
	cmd->arg2 = ++s->p;
	cmd->arg2_len = (size_t)(s->end - s->p);
	if (cmd->arg2_len == 1 && *cmd->arg2 == '=')
		return SMTP_PARSE_OK;
	for (p = cmd->arg2; p < s->end; p++) {
		unsigned char c = (unsigned char)*p;

		if (!(smtp_is_alpha(c) || smtp_is_digit(c) || c == '+' || c == '/' ||
		    (c == '=' && p + 2 >= s->end)))
			return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Bad initial response");
	}
	if (cmd->arg2_len == 0 || cmd->arg2_len % 4 != 0)
		return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Bad initial response");
	return SMTP_PARSE_OK;
}

static enum smtp_parse_rc
smtp_parse_args(struct smtp_scan *s, struct smtp_cmd *cmd)
{
	switch (cmd->verb) {
	case SMTP_VERB_EHLO:
	case SMTP_VERB_HELO:
		return smtp_parse_helo(s, cmd);
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
		return smtp_parse_mail_rcpt(s, cmd);
	case SMTP_VERB_BDAT:
		return smtp_parse_bdat(s, cmd);
	case SMTP_VERB_AUTH:
		return smtp_parse_auth(s, cmd);
	case SMTP_VERB_VRFY:
	case SMTP_VERB_HELP:
	case SMTP_VERB_NOOP:
		/* RFC 5321 4.1.1.6-4.1.1.9: a string; VRFY needs one */
		if (s->p < s->end) {
			if (*s->p != ' ' || s->end - s->p < 2)
				return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Syntax error");
			cmd->arg = s->p + 1;
			cmd->arg_len = (size_t)(s->end - s->p - 1);
		} else if (cmd->verb == SMTP_VERB_VRFY)
			return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "Syntax: VRFY address");
		return SMTP_PARSE_OK;
	default:
		/* DATA, RSET, QUIT, STARTTLS take nothing (RFC 3207 4: STARTTLS 501) */
		if (s->p != s->end)
			return smtp_fail(cmd, SMTP_PARSE_SYNTAX, "No parameters allowed");
		return SMTP_PARSE_OK;
	}
}

enum smtp_parse_rc
smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd)
{
	struct smtp_scan s;
	const char *vend;
	size_t i;

	memset(cmd, 0, sizeof *cmd);
	if (len > SMTP_CMD_MAX)
		return smtp_fail(cmd, SMTP_PARSE_TOO_LONG, "Line too long");
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 32 || (unsigned char)line[i] == 127)
			return smtp_fail(cmd, SMTP_PARSE_BAD_CHAR,
			    "Control characters not allowed");
	while (len > 0 && line[len - 1] == ' ')	/* trailing spaces are harmless */
		len--;
	s.p = line;
	s.end = line + len;
	for (vend = line; vend < s.end && *vend != ' '; vend++)
		;
	for (i = 0; i < sizeof smtp_verb_names / sizeof smtp_verb_names[0]; i++) {
		if (smtp_ieq(line, (size_t)(vend - line), smtp_verb_names[i].name)) {
			cmd->verb = smtp_verb_names[i].verb;
			break;
		}
	}
	if (cmd->verb == SMTP_VERB_UNKNOWN)
		return smtp_fail(cmd, SMTP_PARSE_UNKNOWN, "Command not recognized");
	s.p = vend;
	return smtp_parse_args(&s, cmd);
}

/* ---- DATA ---- */

enum {
	SMTP_DOT_ST_BOL = 0,	/* at the beginning of a line */
	SMTP_DOT_ST_MID,	/* inside a line */
	SMTP_DOT_ST_CR,		/* after CR inside the message */
	SMTP_DOT_ST_DOT,	/* "." at the beginning of a line, held */
	SMTP_DOT_ST_DOT_CR,	/* "." CR at the beginning of a line, held */
	SMTP_DOT_ST_END,
};

/* Bytes at p before the first CR, LF or NUL (memchr is vectorized). */
static size_t
smtp_plain_span(const char *p, size_t n)
{
	const char *c;

	if ((c = memchr(p, '\r', n)) != NULL)
		n = (size_t)(c - p);
	if ((c = memchr(p, '\n', n)) != NULL)
		n = (size_t)(c - p);
	if ((c = memchr(p, '\0', n)) != NULL)
		n = (size_t)(c - p);
	return n;
}

bool
smtp_dot_feed(struct smtp_dot *d, const char *in, size_t len, char *out, size_t *used_out,
    size_t *out_len_out)
{
	size_t i = 0, o = 0, n;

#define EMIT(c)	do { if (out != NULL) out[o] = (c); o++; } while (0)
	while (i < len && d->state != SMTP_DOT_ST_END) {
		char c = in[i];

		switch (d->state) {
		case SMTP_DOT_ST_MID:
		case SMTP_DOT_ST_BOL:
			if (d->state == SMTP_DOT_ST_BOL && c == '.') {
				d->state = SMTP_DOT_ST_DOT;
				i++;
				break;
			}
			/* the common case: copy up to the next CR, LF or NUL */
			n = smtp_plain_span(in + i, len - i);
			if (out != NULL && n > 0)
				memcpy(out + o, in + i, n);
			o += n;
			i += n;
			d->state = SMTP_DOT_ST_MID;
			if (i == len)
				break;
			c = in[i++];
			EMIT(c);
			if (c == '\r')
				d->state = SMTP_DOT_ST_CR;
			else if (c == '\n')
				/* not a line start: "LF . CRLF" must not end the data */
				d->bad |= SMTP_DOT_BARE_LF;
			else
				d->bad |= SMTP_DOT_NUL;
			break;
		case SMTP_DOT_ST_CR:
			if (c == '\n') {
				EMIT(c);
				i++;
				d->state = SMTP_DOT_ST_BOL;
			} else {
				d->bad |= SMTP_DOT_BARE_CR;
				d->state = SMTP_DOT_ST_MID;	/* c is looked at again */
			}
			break;
		case SMTP_DOT_ST_DOT:
			if (c == '\r') {
				d->state = SMTP_DOT_ST_DOT_CR;
				i++;
			} else
				d->state = SMTP_DOT_ST_MID;	/* the dot was stuffing */
			break;
		case SMTP_DOT_ST_DOT_CR:
			if (c == '\n') {
				d->state = SMTP_DOT_ST_END;
				i++;
			} else {
				/* "." CR x: a bare CR after an unstuffed dot */
				d->bad |= SMTP_DOT_BARE_CR;
				EMIT('\r');
				d->state = SMTP_DOT_ST_MID;
			}
			break;
		}
	}
#undef EMIT
	*used_out = i;
	*out_len_out = o;
	return d->state == SMTP_DOT_ST_END;
}

void
smtp_crlf_scan(struct smtp_dot *d, const char *in, size_t len)
{
	size_t i = 0;

	while (i < len) {
		char c = in[i++];

		if (d->state == SMTP_DOT_ST_CR && c != '\n')
			d->bad |= SMTP_DOT_BARE_CR;
		if (c == '\r') {
			d->state = SMTP_DOT_ST_CR;
			continue;
		}
		if (c == '\n' && d->state != SMTP_DOT_ST_CR)
			d->bad |= SMTP_DOT_BARE_LF;
		else if (c == '\0')
			d->bad |= SMTP_DOT_NUL;
		d->state = SMTP_DOT_ST_MID;
		i += smtp_plain_span(in + i, len - i);
	}
}

void
smtp_crlf_end(struct smtp_dot *d)
{
	if (d->state == SMTP_DOT_ST_CR)
		d->bad |= SMTP_DOT_BARE_CR;
	d->state = SMTP_DOT_ST_BOL;
}

/* ---- replies ---- */

int
smtp_reply_line(const char *line, size_t len, unsigned *code_out, bool *last_out,
    const char **text_out, size_t *text_len_out)
{
	if (len < 3 || len > SMTP_REPLY_MAX || line[0] < '2' || line[0] > '5' ||
	    !smtp_is_digit((unsigned char)line[1]) || !smtp_is_digit((unsigned char)line[2]))
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	*code_out = (unsigned)((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
	*last_out = len == 3 || line[3] == ' ';
	*text_out = len > 3 ? line + 4 : line + 3;
	*text_len_out = len > 3 ? len - 4 : 0;
	return 1;
}

/* ---- message header fields ---- */

/* The end of the line at p (the offset of its CR, or len), and of the CRLF. */
static size_t
smtp_line_end(const char *msg, size_t len, size_t p, size_t *next_out)
{
	const char *cr;

	while ((cr = memchr(msg + p, '\r', len - p)) != NULL) {
		size_t i = (size_t)(cr - msg);

		if (i + 1 < len && msg[i + 1] == '\n') {
			*next_out = i + 2;
			return i;
		}
		p = i + 1;
	}
	*next_out = len;
	return len;
}

bool
smtp_header_next(const char *msg, size_t len, size_t *off, struct smtp_field *f)
{
	size_t p = *off, i, eol, next;

	if (p >= len || msg[p] == '\r' || msg[p] == ' ' || msg[p] == '\t')
		return false;
	/* field-name: 1*ftext, then WSP* (obs-optional), then ':' */
	for (i = p; i < len && (unsigned char)msg[i] > 32 && (unsigned char)msg[i] < 127 &&
	    msg[i] != ':'; i++)
		;
	f->name = msg + p;
	f->name_len = i - p;
	while (i < len && (msg[i] == ' ' || msg[i] == '\t'))
		i++;
	if (f->name_len == 0 || i >= len || msg[i] != ':')
		return false;
	f->value = msg + i + 1;
	/* the value goes on through lines that begin with WSP */
	eol = smtp_line_end(msg, len, i + 1, &next);
	while (next < len && (msg[next] == ' ' || msg[next] == '\t'))
		eol = smtp_line_end(msg, len, next, &next);
	f->value_len = eol - (i + 1);
	*off = next;
	return true;
}

bool
smtp_field_is(const struct smtp_field *f, const char *name)
{
	size_t i, n = strlen(name);

	if (f->name_len != n)
		return false;
	for (i = 0; i < n; i++)
		if (smtp_upper(f->name[i]) != smtp_upper(name[i]))
			return false;
	return true;
}

/* ---- addresses ---- */

/* Would s[0..len) be a valid dot-string without the quotes? */
static bool
smtp_dot_string_ok(const char *s, size_t len)
{
	struct smtp_scan sc = { s, s + len };
	bool utf8 = false;

	return len > 0 && smtp_scan_dot_string(&sc, &utf8) && sc.p == sc.end;
}

int
smtp_addr_canon(const struct smtp_path *p, char *out, size_t cap)
{
	size_t o = 0, i, start = 0, local_end = p->at;
	bool unquote = false;
	char unq[SMTP_ADDR_MAX + 1];
	size_t unq_len = 0;

	if (p->quoted && p->at >= 2) {
		/* the quoted content, with quoted-pairs resolved */
		for (i = 1; i + 1 < p->at && unq_len < sizeof unq; i++) {
			if (p->addr[i] == '\\' && i + 2 < p->at)
				i++;
			unq[unq_len++] = p->addr[i];
		}
		unquote = smtp_dot_string_ok(unq, unq_len);
	}
	if (unquote) {
		if (unq_len >= cap)
			return -1;
		for (i = 0; i < unq_len; i++)
			out[o++] = (unq[i] >= 'A' && unq[i] <= 'Z') ? (char)(unq[i] + 32) : unq[i];
		start = local_end;
	}
	for (i = start; i < p->len; i++) {
		char c = p->addr[i];

		if (o + 1 >= cap)
			return -1;
		out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return (int)o;
}
