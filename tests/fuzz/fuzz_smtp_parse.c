/*
 * fuzz_smtp_parse: one command line through smtp_parse_command() (every
 * pointer it returns must lie inside the line; the canonical address and
 * xtext helpers must stay in bounds), and the same bytes as a DATA stream:
 * fed whole and fed in two pieces, smtp_dot_feed() must agree, never write
 * more than it read, and never end the data anywhere but after CRLF.CRLF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_inside(const char *line, size_t len, const char *p, size_t n)
{
	if (p != NULL && (p < line || p + n > line + len))
		abort();
}

static void
fuzz_command(const char *line, size_t len)
{
	struct smtp_cmd cmd;
	char canon[SMTP_ADDR_MAX + 1], dec[SMTP_CMD_MAX + 1];

	if (smtp_parse_command(line, len, &cmd) != SMTP_PARSE_OK)
		return;
	check_inside(line, len, cmd.arg, cmd.arg_len);
	check_inside(line, len, cmd.arg2, cmd.arg2_len);
	check_inside(line, len, cmd.envid, cmd.envid_len);
	check_inside(line, len, cmd.orcpt, cmd.orcpt_len);
	check_inside(line, len, cmd.auth, cmd.auth_len);
	if (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT) {
		check_inside(line, len, cmd.path.addr, cmd.path.len);
		if (cmd.path.len > SMTP_ADDR_MAX || cmd.path.at > cmd.path.len)
			abort();
		if (cmd.path.len > 0 && smtp_addr_canon(&cmd.path, canon, sizeof canon) < 0)
			abort();	/* a parsed address always fits */
	}
	if (cmd.envid != NULL &&
	    smtp_xtext_decode(cmd.envid, cmd.envid_len, dec, sizeof dec) < 0)
		abort();
}

/* The BDAT checks, one byte at a time, as the reference. */
static unsigned
crlf_reference(const char *in, size_t len)
{
	unsigned bad = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (in[i] == '\r' && (i + 1 == len || in[i + 1] != '\n'))
			bad |= SMTP_DOT_BARE_CR;
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			bad |= SMTP_DOT_BARE_LF;
		if (in[i] == '\0')
			bad |= SMTP_DOT_NUL;
	}
	return bad;
}

static void
fuzz_data(const char *in, size_t len)
{
	struct smtp_dot d1 = { 0 }, d2 = { 0 };
	char *o1 = malloc(len + 1), *o2 = malloc(len + 1);
	size_t u1, n1, u2a, n2a, u2b = 0, n2b = 0, cut = len / 2;
	bool e1, e2;

	if (o1 == NULL || o2 == NULL)
		abort();
	e1 = smtp_dot_feed(&d1, in, len, o1, &u1, &n1);
	e2 = smtp_dot_feed(&d2, in, cut, o2, &u2a, &n2a);
	if (!e2)
		e2 = smtp_dot_feed(&d2, in + cut, len - cut, o2 + n2a, &u2b, &n2b);
	if (u1 > len || n1 > u1 || e1 != e2 || u1 != u2a + u2b || n1 != n2a + n2b ||
	    memcmp(o1, o2, n1) != 0 || d1.bad != d2.bad)
		abort();
	/* it ended right after CRLF "." CRLF (or ".\r\n" at the very start) */
	if (e1 && (u1 < 3 || memcmp(in + u1 - 3, ".\r\n", 3) != 0 ||
	    (u1 > 3 && (u1 < 5 || memcmp(in + u1 - 5, "\r\n", 2) != 0))))
		abort();
	/* in two chunks, like two BDATs */
	memset(&d1, 0, sizeof d1);
	smtp_crlf_scan(&d1, in, cut);
	smtp_crlf_scan(&d1, in + cut, len - cut);
	smtp_crlf_end(&d1);
	if (d1.bad != crlf_reference(in, len))
		abort();
	free(o1);
	free(o2);
}

/* Submission's header walk: fields lie inside the message, each call moves
 * forward, and the walk ends where the header section ends. */
static void
fuzz_header(const char *msg, size_t len)
{
	struct smtp_field f;
	size_t off = 0, prev;

	for (;;) {
		prev = off;
		if (!smtp_header_next(msg, len, &off, &f))
			break;
		if (off <= prev || off > len || f.name_len == 0)
			abort();
		check_inside(msg, len, f.name, f.name_len);
		check_inside(msg, len, f.value, f.value_len);
		if (f.name < msg + prev || f.value + f.value_len > msg + off)
			abort();
		(void)smtp_field_is(&f, "Message-ID");
	}
	if (off < prev || off > len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_command((const char *)data, size);
	fuzz_data((const char *)data, size);
	fuzz_header((const char *)data, size);
	return 0;
}
