/*
 * smtp_parse.h: pure SMTP parsers, no I/O, no allocation, no session.
 *
 *   - smtp_parse_command(): one command line (without its CRLF) into a
 *     struct smtp_cmd whose strings point into the caller's line;
 *   - smtp_dot_feed(): the DATA stream, byte by byte: dot-unstuffing, the
 *     CRLF.CRLF terminator and the bytes RFC 5321 forbids (bare CR, bare LF,
 *     NUL), which sealgate rejects rather than guesses at (SMTP smuggling);
 *   - smtp_crlf_scan(): the same checks for BDAT chunks (no stuffing);
 *   - smtp_reply_line(): one line of a server reply, for the relay client;
 *   - address and xtext helpers.
 *
 * Every function is reentrant and may run on any thread.
 */
#ifndef SMTP_PARSE_H
#define SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Limits. RFC 5321 4.5.3.1.4 allows 512 octets per command line, and each
 * extension may add to it (RFC 1870 SIZE, RFC 3461 ORCPT of up to 500
 * octets...), so sealgate takes 2048 octets without the CRLF, as Postfix
 * does.
 */
#define SMTP_CMD_MAX		2048	/* command line, without CRLF */
#define SMTP_PATH_MAX		256	/* RFC 5321 4.5.3.1.3, with the angle brackets */
#define SMTP_ADDR_MAX		(SMTP_PATH_MAX - 2)	/* the mailbox itself */
#define SMTP_DOMAIN_MAX		255	/* RFC 5321 4.5.3.1.2 */
#define SMTP_LABEL_MAX		63	/* RFC 1035 2.3.4 */
#define SMTP_SIZE_DIGITS_MAX	20	/* UINT64_MAX has 20 digits */
#define SMTP_ENVID_MAX		100	/* RFC 3461 4.4 */
#define SMTP_ORCPT_MAX		500	/* RFC 3461 4.2 */
#define SMTP_MECH_MAX		20	/* RFC 4422 3.1 */
#define SMTP_REPLY_MAX		512	/* RFC 5321 4.5.3.1.5, without CRLF */

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_EHLO,
	SMTP_VERB_HELO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_VRFY,
	SMTP_VERB_HELP,
	SMTP_VERB_QUIT,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_COUNT
};

/* The verb's name in capitals ("MAIL"), "?" for SMTP_VERB_UNKNOWN. */
const char *smtp_verb_name(enum smtp_verb v);

enum smtp_parse_rc {
	SMTP_PARSE_OK,
	SMTP_PARSE_TOO_LONG,	/* longer than SMTP_CMD_MAX: 500 5.5.2 */
	SMTP_PARSE_BAD_CHAR,	/* NUL, CR, LF or another control byte: 500 5.5.2 */
	SMTP_PARSE_UNKNOWN,	/* no such verb: 500 5.5.2 */
	SMTP_PARSE_SYNTAX,	/* known verb, malformed arguments: 501 5.5.4 */
	SMTP_PARSE_BAD_PATH,	/* malformed or too long path: 501 5.1.7 (MAIL) or 5.1.3 */
	SMTP_PARSE_BAD_PARAM,	/* unknown ESMTP parameter: 555 5.5.4 */
	SMTP_PARSE_BAD_VALUE,	/* known parameter, bad or repeated: 501 5.5.4 */
};

enum smtp_body { SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };
enum smtp_ret { SMTP_RET_NONE, SMTP_RET_FULL, SMTP_RET_HDRS };

/* RCPT NOTIFY= (RFC 3461 4.1); 0 when absent. */
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

/* A MAIL or RCPT path; strings point into the command line. */
struct smtp_path {
	const char	*addr;		/* mailbox without <>, source route dropped */
	size_t		 len;		/* 0: the null path <> (MAIL only) */
	size_t		 at;		/* offset of the '@'; == len for <Postmaster> */
	bool		 utf8;		/* holds non-ASCII (needs SMTPUTF8) */
	bool		 quoted;	/* the local part is a quoted-string */
	bool		 literal;	/* the domain is an address literal [...] */
	bool		 postmaster;	/* RCPT TO:<Postmaster> without a domain */
};

struct smtp_cmd {
	enum smtp_verb	 verb;
	/* EHLO/HELO domain; VRFY, HELP, NOOP text; AUTH mechanism. */
	const char	*arg;
	size_t		 arg_len;
	/* AUTH initial response ("=" for an empty one). */
	const char	*arg2;
	size_t		 arg2_len;

	struct smtp_path path;		/* MAIL, RCPT */

	/* MAIL parameters */
	bool		 has_size;
	uint64_t	 size;
	enum smtp_body	 body;
	bool		 smtputf8;
	enum smtp_ret	 ret;
	const char	*envid;		/* xtext as sent */
	size_t		 envid_len;
	const char	*auth;		/* AUTH=: xtext or "<>" */
	size_t		 auth_len;

	/* RCPT parameters */
	unsigned	 notify;	/* SMTP_NOTIFY_* */
	const char	*orcpt;		/* "addr-type;xtext" as sent */
	size_t		 orcpt_len;

	/* BDAT */
	uint64_t	 chunk;
	bool		 last;

	/* On error: a static description for the reply text. */
	const char	*err;
};

/*
 * Parse line[0..len), one command without its CRLF. Never reads past len;
 * NUL bytes are data (and rejected). On any result, cmd_out->verb is the
 * verb if it was recognized and cmd_out->err describes an error.
 */
enum smtp_parse_rc smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd_out);

/* ---- DATA (RFC 5321 4.1.1.4, 4.5.2) ---- */

#define SMTP_DOT_BARE_LF	0x01
#define SMTP_DOT_BARE_CR	0x02
#define SMTP_DOT_NUL		0x04

struct smtp_dot {
	int		state;		/* zero-initialize before the first feed */
	unsigned	bad;		/* SMTP_DOT_* seen so far */
};

/*
 * Feed DATA bytes in[0..len). Unstuffed message bytes are written to out,
 * which has room for len bytes (the output is never longer than the
 * input); out may be NULL to discard them. Returns true once the
 * terminating CRLF "." CRLF has been consumed: *used_out then counts the
 * input bytes up to and including it (the rest belongs to the next
 * command); otherwise every byte was used. The CRLF before the dot is part
 * of the message. Only that sequence ends the data: a bare LF or CR never
 * does, and sets d->bad (the message must then be refused), as does NUL.
 */
bool smtp_dot_feed(struct smtp_dot *d, const char *in, size_t len, char *out,
    size_t *used_out, size_t *out_len_out);

/*
 * The same checks for raw (BDAT) bytes, across chunk boundaries: a CR must
 * be followed by LF, an LF preceded by CR, no NUL. Call smtp_crlf_end()
 * after the last chunk (a trailing CR is bare).
 */
void smtp_crlf_scan(struct smtp_dot *d, const char *in, size_t len);
void smtp_crlf_end(struct smtp_dot *d);

/* ---- replies (the relay client) ---- */

/*
 * One reply line without CRLF: "250-text" or "250 text". 1 with the code
 * and *last_out (false for a continuation), or -1 if malformed. *text_out
 * points after the separator.
 */
int smtp_reply_line(const char *line, size_t len, unsigned *code_out, bool *last_out,
    const char **text_out, size_t *text_len_out);

/* ---- message header fields (submission, RFC 5322 2.2) ---- */

/* One header field; pointers into the message. The value runs from after
 * the colon to before the CRLF that ends the field, folding included. */
struct smtp_field {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

/*
 * The next field of the header section of msg[0..len) from *off (start at
 * 0). Returns true with *f filled and *off moved past the field; false at
 * the end of the header section: the empty line (*off then points at it),
 * the end of the message, or a line that is not a field (RFC 5322 3.6.8:
 * printable ASCII but ':' up to the colon; the obsolete space before the
 * colon is allowed); *off is then where the header section ends.
 * A field whose last line has no CRLF (the message ends there) is returned
 * as a field.
 */
bool smtp_header_next(const char *msg, size_t len, size_t *off, struct smtp_field *f);

/* Is the field's name `name` (ASCII, compared case-insensitively)? */
bool smtp_field_is(const struct smtp_field *f, const char *name);

/* ---- addresses and xtext ---- */

/*
 * The canonical form of a path's mailbox, as a NUL-terminated string in
 * out (cap bytes): ASCII letters lowercased (the vault's addresses are
 * lowercase), a quoted local part unquoted when it is a valid dot-string
 * anyway ("john"@x is john@x). Returns the length, or -1 if it does not fit.
 */
int smtp_addr_canon(const struct smtp_path *p, char *out, size_t cap);

/* Is s[0..len) valid xtext (RFC 3461 4)? utf8 also admits UTF-8 (RFC 6533). */
bool smtp_xtext_valid(const char *s, size_t len, bool utf8);
/* Decode xtext into out (cap bytes, NUL-terminated): length or -1. */
int smtp_xtext_decode(const char *s, size_t len, char *out, size_t cap);
/* Encode bytes as xtext into out (cap bytes, NUL-terminated): length or -1. */
int smtp_xtext_encode(const char *s, size_t len, char *out, size_t cap);

/* Length of the valid UTF-8 sequence (2 to 4 bytes) at p, or 0. */
size_t smtp_utf8_seq(const unsigned char *p, size_t avail);

#endif
