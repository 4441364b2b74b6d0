/*
 * test_smtp_parse.c: the pure SMTP parsers: every verb, every path form,
 * every ESMTP parameter and its malformed forms, each limit at N and N+1,
 * the DATA terminator fed whole and byte at a time, and reply lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp/smtp_parse.h"

static enum smtp_parse_rc
parse(const char *line, struct smtp_cmd *cmd)
{
	return smtp_parse_command(line, strlen(line), cmd);
}

static void
assert_str_n(const char *p, size_t len, const char *want)
{
	assert_int_equal(len, strlen(want));
	assert_memory_equal(p, want, len);
}

/* A line of exactly n bytes: prefix, then 'a's, then suffix. */
static char *
make_line(const char *prefix, size_t n, const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *s = malloc(n + 1);

	assert_non_null(s);
	assert_true(n >= pl + sl);
	memcpy(s, prefix, pl);
	memset(s + pl, 'a', n - pl - sl);
	memcpy(s + n - sl, suffix, sl);
	s[n] = '\0';
	return s;
}

/* ---- verbs ---- */

static void
test_every_verb_in_any_case(void **state)
{
	static const struct { const char *line; enum smtp_verb verb; } cases[] = {
		{ "EHLO client.example", SMTP_VERB_EHLO }, { "helo client", SMTP_VERB_HELO },
		{ "MaIl FrOm:<a@b.example>", SMTP_VERB_MAIL }, { "rcpt to:<a@b>", SMTP_VERB_RCPT },
		{ "DATA", SMTP_VERB_DATA }, { "bdat 10", SMTP_VERB_BDAT },
		{ "RSET", SMTP_VERB_RSET }, { "NOOP", SMTP_VERB_NOOP },
		{ "VRFY someone", SMTP_VERB_VRFY }, { "HELP", SMTP_VERB_HELP },
		{ "quit", SMTP_VERB_QUIT }, { "StartTLS", SMTP_VERB_STARTTLS },
		{ "AUTH PLAIN", SMTP_VERB_AUTH },
	};
	struct smtp_cmd cmd;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(parse(cases[i].line, &cmd), SMTP_PARSE_OK);
		assert_int_equal(cmd.verb, cases[i].verb);
	}
	assert_string_equal(smtp_verb_name(SMTP_VERB_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_verb_name(SMTP_VERB_UNKNOWN), "?");
}

static void
test_unknown_verbs(void **state)
{
	static const char *const lines[] = { "EHLOX foo", "MAI FROM:<a@b>", "", " NOOP",
	    "XYZZY", "DATAX", "STARTTLSX", "ÉHLO x" };
	struct smtp_cmd cmd;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		assert_int_equal(parse(lines[i], &cmd), SMTP_PARSE_UNKNOWN);
		assert_int_equal(cmd.verb, SMTP_VERB_UNKNOWN);
		assert_non_null(cmd.err);
	}
}

static void
test_control_bytes_are_refused(void **state)
{
	static const char nul[] = "NOOP a\0b";
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(smtp_parse_command(nul, sizeof nul - 1, &cmd), SMTP_PARSE_BAD_CHAR);
	assert_int_equal(parse("NOOP\r", &cmd), SMTP_PARSE_BAD_CHAR);
	assert_int_equal(parse("NOOP\n", &cmd), SMTP_PARSE_BAD_CHAR);
	assert_int_equal(parse("NOOP\tx", &cmd), SMTP_PARSE_BAD_CHAR);
	assert_int_equal(parse("NOOP \x7f", &cmd), SMTP_PARSE_BAD_CHAR);
	assert_int_equal(parse("MAIL FROM:<a\x01@b>", &cmd), SMTP_PARSE_BAD_CHAR);
}

static void
test_line_limit_at_n_and_n_plus_1(void **state)
{
	struct smtp_cmd cmd;
	char *ok = make_line("NOOP ", SMTP_CMD_MAX, "");
	char *big = make_line("NOOP ", SMTP_CMD_MAX + 1, "");

	(void)state;
	assert_int_equal(parse(ok, &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.arg_len, SMTP_CMD_MAX - 5);
	assert_int_equal(parse(big, &cmd), SMTP_PARSE_TOO_LONG);
	free(ok);
	free(big);
}

static void
test_no_argument_verbs(void **state)
{
	static const char *const bad[] = { "DATA x", "RSET now", "QUIT please", "STARTTLS x" };
	struct smtp_cmd cmd;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(parse(bad[i], &cmd), SMTP_PARSE_SYNTAX);
	/* trailing spaces are harmless */
	assert_int_equal(parse("QUIT  ", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("DATA ", &cmd), SMTP_PARSE_OK);
}

static void
test_text_verbs(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("NOOP", &cmd), SMTP_PARSE_OK);
	assert_null(cmd.arg);
	assert_int_equal(parse("NOOP hello there", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.arg, cmd.arg_len, "hello there");
	assert_int_equal(parse("HELP", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("HELP MAIL", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.arg, cmd.arg_len, "MAIL");
	assert_int_equal(parse("VRFY", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("VRFY <john@example.com>", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.arg, cmd.arg_len, "<john@example.com>");
	assert_int_equal(parse("NOOPx", &cmd), SMTP_PARSE_UNKNOWN);
}

/* ---- EHLO / HELO ---- */

static void
test_ehlo_forms(void **state)
{
	struct smtp_cmd cmd;
	char *ok, *big;

	(void)state;
	assert_int_equal(parse("EHLO mail.example.com", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.arg, cmd.arg_len, "mail.example.com");
	assert_int_equal(parse("EHLO [127.0.0.1]", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.arg, cmd.arg_len, "[127.0.0.1]");
	assert_int_equal(parse("EHLO [IPv6:::1]", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("EHLO bücher.example", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("EHLO", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(cmd.verb, SMTP_VERB_EHLO);
	assert_int_equal(parse("HELO", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("EHLO a b", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("EHLO \xff\xfe", &cmd), SMTP_PARSE_SYNTAX);
	ok = make_line("EHLO ", 5 + SMTP_DOMAIN_MAX, "");
	big = make_line("EHLO ", 5 + SMTP_DOMAIN_MAX + 1, "");
	assert_int_equal(parse(ok, &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse(big, &cmd), SMTP_PARSE_SYNTAX);
	free(ok);
	free(big);
}

/* ---- MAIL / RCPT paths ---- */

static void
test_mail_from_null_sender(void **state)
{
	static const char line[] = "MAIL FROM:<> SIZE=2048";
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(smtp_parse_command(line, sizeof line - 1, &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.verb, SMTP_VERB_MAIL);
	assert_int_equal(cmd.path.len, 0);
	assert_true(cmd.has_size);
	assert_int_equal(cmd.size, 2048);
}

static void
test_null_path_only_for_mail(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("RCPT TO:<>", &cmd), SMTP_PARSE_BAD_PATH);
	assert_int_equal(cmd.verb, SMTP_VERB_RCPT);
}

static void
test_plain_paths(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("MAIL FROM:<alice@example.com>", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.path.addr, cmd.path.len, "alice@example.com");
	assert_int_equal(cmd.path.at, 5);
	assert_false(cmd.path.utf8);
	assert_false(cmd.path.quoted);
	assert_int_equal(parse("RCPT TO:<first.last+tag@sub.ext.test>", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.path.addr, cmd.path.len, "first.last+tag@sub.ext.test");
	assert_int_equal(parse("RCPT TO:<!#$%&'*+-/=?^_`{|}~@x-y.z>", &cmd), SMTP_PARSE_OK);
	/* a space after the colon, as some clients send */
	assert_int_equal(parse("MAIL FROM: <a@b>", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.path.addr, cmd.path.len, "a@b");
	assert_int_equal(parse("MAIL FROM:  <a@b>", &cmd), SMTP_PARSE_BAD_PATH);
}

static void
test_malformed_paths(void **state)
{
	static const char *const bad[] = {
		"MAIL FROM:a@b", "MAIL FROM:<a@b", "MAIL FROM:<a>", "MAIL FROM:<@b>",
		"MAIL FROM:<a@>", "MAIL FROM:<.a@b>", "MAIL FROM:<a.@b>", "MAIL FROM:<a..b@c>",
		"MAIL FROM:<a@b.>", "MAIL FROM:<a@.b>", "MAIL FROM:<a@-b>", "MAIL FROM:<a@b->",
		"MAIL FROM:<a@b..c>", "MAIL FROM:<a b@c>", "MAIL FROM:<a@b c>", "MAIL FROM:<a@b>x",
		"MAIL FROM:<a@@b>", "MAIL FROM:<a@b_c>", "MAIL FROM:<\"a@b>", "MAIL FROM:<a(b)@c>",
		"MAIL FROM:<a@[]>", "MAIL FROM:<a@[1.2.3.4>", "MAIL FROM:<a@b><c@d>",
		"MAIL FROM:<\xc3\x28@b>", "MAIL FROM:<\xed\xa0\x80@b>", "MAIL FROM:<\xc0\xafx@b>",
		"MAIL FROM:<@a:b@c>x", "MAIL FROM:<@a b:c@d>", "MAIL FROM:<@a,b:c@d>",
		"RCPT TO:<Postmaster@>", "RCPT TO:<postmasterx>",
	};
	struct smtp_cmd cmd;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum smtp_parse_rc rc = parse(bad[i], &cmd);

		if (rc != SMTP_PARSE_BAD_PATH)
			fail_msg("%s: rc %d", bad[i], rc);
		assert_non_null(cmd.err);
	}
	assert_int_equal(parse("MAIL TO:<a@b>", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("MAIL", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("RCPT FROM:<a@b>", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("MAIL FROM", &cmd), SMTP_PARSE_SYNTAX);
}

static void
test_quoted_local_parts(void **state)
{
	struct smtp_cmd cmd;
	char canon[SMTP_ADDR_MAX + 1];

	(void)state;
	assert_int_equal(parse("RCPT TO:<\"john doe\"@ext.test>", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.path.quoted);
	assert_str_n(cmd.path.addr, cmd.path.len, "\"john doe\"@ext.test");
	assert_int_equal(cmd.path.at, 10);
	assert_int_equal(smtp_addr_canon(&cmd.path, canon, sizeof canon), 19);
	assert_string_equal(canon, "\"john doe\"@ext.test");
	assert_int_equal(parse("RCPT TO:<\"a\\\"b\\\\c@d\"@ext.test>", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("RCPT TO:<\"\"@ext.test>", &cmd), SMTP_PARSE_OK);
	/* a quoted local part that needs no quotes is canonically unquoted */
	assert_int_equal(parse("RCPT TO:<\"John.Doe\"@EXT.test>", &cmd), SMTP_PARSE_OK);
	assert_int_equal(smtp_addr_canon(&cmd.path, canon, sizeof canon), 17);
	assert_string_equal(canon, "john.doe@ext.test");
	assert_int_equal(parse("RCPT TO:<\"J\\ohn\"@x>", &cmd), SMTP_PARSE_OK);
	assert_int_equal(smtp_addr_canon(&cmd.path, canon, sizeof canon), 6);
	assert_string_equal(canon, "john@x");
	assert_int_equal(parse("RCPT TO:<\"a\\\x01\"@x>", &cmd), SMTP_PARSE_BAD_CHAR);
	assert_int_equal(parse("RCPT TO:<\"ab@x>", &cmd), SMTP_PARSE_BAD_PATH);
	assert_int_equal(parse("RCPT TO:<\"ab\\\"@x>", &cmd), SMTP_PARSE_BAD_PATH);
}

static void
test_canonical_form_lowercases(void **state)
{
	struct smtp_cmd cmd;
	char canon[8];

	(void)state;
	assert_int_equal(parse("RCPT TO:<Bob@Ext.TEST>", &cmd), SMTP_PARSE_OK);
	assert_int_equal(smtp_addr_canon(&cmd.path, canon, sizeof canon), -1);	/* 12 > 7 */
	assert_int_equal(parse("RCPT TO:<B@X.Y>", &cmd), SMTP_PARSE_OK);
	assert_int_equal(smtp_addr_canon(&cmd.path, canon, 6), 5);
	assert_string_equal(canon, "b@x.y");
	assert_int_equal(smtp_addr_canon(&cmd.path, canon, 5), -1);
}

static void
test_smtputf8_paths(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("MAIL FROM:<jörg@bücher.example> SMTPUTF8", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.path.utf8);
	assert_true(cmd.smtputf8);
	assert_int_equal(parse("RCPT TO:<用户@例子.广告>", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.path.utf8);
	assert_int_equal(parse("RCPT TO:<\"ü x\"@a>", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.path.utf8);
	assert_int_equal(parse("RCPT TO:<a@b>", &cmd), SMTP_PARSE_OK);
	assert_false(cmd.path.utf8);
	/* 4-byte sequences */
	assert_int_equal(parse("RCPT TO:<\xf0\x9f\x98\x80@x>", &cmd), SMTP_PARSE_OK);
	/* beyond U+10FFFF, truncated sequence */
	assert_int_equal(parse("RCPT TO:<\xf4\x90\x80\x80@x>", &cmd), SMTP_PARSE_BAD_PATH);
	assert_int_equal(parse("RCPT TO:<\xe4\xbd@x>", &cmd), SMTP_PARSE_BAD_PATH);
}

static void
test_source_route_is_dropped(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("RCPT TO:<@relay.one,@relay.two:joe@ext.test>", &cmd),
	    SMTP_PARSE_OK);
	assert_str_n(cmd.path.addr, cmd.path.len, "joe@ext.test");
	assert_int_equal(parse("MAIL FROM:<@a:b@c>", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.path.addr, cmd.path.len, "b@c");
}

static void
test_postmaster_and_literals(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("RCPT TO:<Postmaster>", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.path.postmaster);
	assert_int_equal(cmd.path.at, cmd.path.len);
	assert_int_equal(parse("RCPT TO:<POSTMASTER> NOTIFY=NEVER", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("MAIL FROM:<postmaster>", &cmd), SMTP_PARSE_BAD_PATH);
	assert_int_equal(parse("RCPT TO:<postmaster@ext.test>", &cmd), SMTP_PARSE_OK);
	assert_false(cmd.path.postmaster);
	assert_int_equal(parse("RCPT TO:<a@[192.0.2.1]>", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.path.literal);
	assert_int_equal(parse("RCPT TO:<a@[IPv6:2001:db8::1]>", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.path.literal);
}

/* The path limit is 256 octets with the brackets (RFC 5321 4.5.3.1.3). */
static void
test_path_limit_at_n_and_n_plus_1(void **state)
{
	struct smtp_cmd cmd;
	char line[600], addr[300];
	size_t n;

	(void)state;
	for (n = SMTP_ADDR_MAX; n <= SMTP_ADDR_MAX + 1; n++) {
		/* local part of 60, then labels of 60 to fill the domain */
		size_t dlen = n - 61, o = 0, lab = 0;

		memset(addr, 'l', 60);
		addr[60] = '@';
		o = 61;
		while (o < 61 + dlen) {
			if (lab == 60 && o + 1 < 61 + dlen) {
				addr[o++] = '.';
				lab = 0;
			} else {
				addr[o++] = 'd';
				lab++;
			}
		}
		addr[o] = '\0';
		assert_int_equal(strlen(addr), n);
		snprintf(line, sizeof line, "RCPT TO:<%s>", addr);
		if (n == SMTP_ADDR_MAX) {
			assert_int_equal(parse(line, &cmd), SMTP_PARSE_OK);
			assert_int_equal(cmd.path.len, SMTP_ADDR_MAX);
		} else {
			assert_int_equal(parse(line, &cmd), SMTP_PARSE_BAD_PATH);
			assert_string_equal(cmd.err, "Path too long");
		}
	}
}

static void
test_label_limit_at_n_and_n_plus_1(void **state)
{
	struct smtp_cmd cmd;
	char line[200];
	char label[SMTP_LABEL_MAX + 2];

	(void)state;
	memset(label, 'x', sizeof label);
	label[SMTP_LABEL_MAX] = '\0';
	snprintf(line, sizeof line, "RCPT TO:<a@%s.test>", label);
	assert_int_equal(parse(line, &cmd), SMTP_PARSE_OK);
	label[SMTP_LABEL_MAX] = 'x';
	label[SMTP_LABEL_MAX + 1] = '\0';
	snprintf(line, sizeof line, "RCPT TO:<a@%s.test>", label);
	assert_int_equal(parse(line, &cmd), SMTP_PARSE_BAD_PATH);
}

/* ---- ESMTP parameters ---- */

static void
test_mail_parameters(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS "
	    "ENVID=QQ314159+2B AUTH=<>", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.has_size);
	assert_int_equal(cmd.size, 1000);
	assert_int_equal(cmd.body, SMTP_BODY_8BITMIME);
	assert_true(cmd.smtputf8);
	assert_int_equal(cmd.ret, SMTP_RET_HDRS);
	assert_str_n(cmd.envid, cmd.envid_len, "QQ314159+2B");
	assert_str_n(cmd.auth, cmd.auth_len, "<>");
	assert_int_equal(parse("mail from:<a@b> size=0 body=7bit ret=full", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.size, 0);
	assert_int_equal(cmd.body, SMTP_BODY_7BIT);
	assert_int_equal(cmd.ret, SMTP_RET_FULL);
	assert_int_equal(parse("MAIL FROM:<a@b> BODY=BINARYMIME", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.body, SMTP_BODY_BINARYMIME);
	assert_int_equal(parse("MAIL FROM:<a@b> AUTH=joe+40example.com", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("MAIL FROM:<a@b>", &cmd), SMTP_PARSE_OK);
	assert_false(cmd.has_size);
	assert_int_equal(cmd.body, SMTP_BODY_NONE);
	assert_int_equal(cmd.ret, SMTP_RET_NONE);
}

static void
test_bad_mail_parameters(void **state)
{
	static const struct { const char *line; enum smtp_parse_rc rc; } cases[] = {
		{ "MAIL FROM:<a@b> SIZE", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> SIZE=", SMTP_PARSE_SYNTAX },
		{ "MAIL FROM:<a@b> SIZE=12x", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> SIZE=-1", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> SIZE=18446744073709551616", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> SIZE=1 SIZE=2", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> BODY=9BIT", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> BODY=8BITMIME BODY=7BIT", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> SMTPUTF8=yes", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> SMTPUTF8 SMTPUTF8", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> RET=ALL", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> RET", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> ENVID=a+zz", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> ENVID=a+2", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> ENVID=ü", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> AUTH=a+", SMTP_PARSE_BAD_VALUE },
		{ "MAIL FROM:<a@b> XFOO=1", SMTP_PARSE_BAD_PARAM },
		{ "MAIL FROM:<a@b> NOTIFY=NEVER", SMTP_PARSE_BAD_PARAM },
		{ "MAIL FROM:<a@b> -SIZE=1", SMTP_PARSE_SYNTAX },
		{ "MAIL FROM:<a@b> SIZE=1=2", SMTP_PARSE_SYNTAX },
		{ "MAIL FROM:<a@b> SI_ZE=1", SMTP_PARSE_SYNTAX },
		{ "MAIL FROM:<a@b> BODY=\xff", SMTP_PARSE_SYNTAX },
	};
	struct smtp_cmd cmd;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum smtp_parse_rc rc = parse(cases[i].line, &cmd);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d", cases[i].line, rc, cases[i].rc);
		assert_non_null(cmd.err);
	}
}

static void
test_size_digits_at_n_and_n_plus_1(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("MAIL FROM:<a@b> SIZE=18446744073709551615", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.size, UINT64_MAX);
	assert_int_equal(parse("MAIL FROM:<a@b> SIZE=000000000000000000001", &cmd),
	    SMTP_PARSE_BAD_VALUE);	/* 21 digits */
	assert_int_equal(parse("MAIL FROM:<a@b> SIZE=00000000000000000001", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.size, 1);
}

static void
test_envid_limit_at_n_and_n_plus_1(void **state)
{
	struct smtp_cmd cmd;
	char *ok = make_line("MAIL FROM:<a@b> ENVID=", 22 + SMTP_ENVID_MAX, "");
	char *big = make_line("MAIL FROM:<a@b> ENVID=", 22 + SMTP_ENVID_MAX + 1, "");

	(void)state;
	assert_int_equal(parse(ok, &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.envid_len, SMTP_ENVID_MAX);
	assert_int_equal(parse(big, &cmd), SMTP_PARSE_BAD_VALUE);
	free(ok);
	free(big);
}

static void
test_rcpt_parameters(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b", &cmd),
	    SMTP_PARSE_OK);
	assert_int_equal(cmd.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE);
	assert_str_n(cmd.orcpt, cmd.orcpt_len, "rfc822;a+40b");
	assert_int_equal(parse("RCPT TO:<a@b> NOTIFY=never", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.notify, SMTP_NOTIFY_NEVER);
	assert_int_equal(parse("RCPT TO:<a@b> NOTIFY=DELAY", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.notify, SMTP_NOTIFY_DELAY);
	assert_int_equal(parse("RCPT TO:<a@b> ORCPT=utf-8;jörg@x", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("RCPT TO:<a@b>", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.notify, 0);
	assert_null(cmd.orcpt);
}

static void
test_bad_rcpt_parameters(void **state)
{
	static const struct { const char *line; enum smtp_parse_rc rc; } cases[] = {
		{ "RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> NOTIFY=SUCCESS,SUCCESS", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> NOTIFY=SUCCESS,", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> NOTIFY=,SUCCESS", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> NOTIFY=SOMETIMES", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> NOTIFY", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> NOTIFY=DELAY NOTIFY=DELAY", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> ORCPT=a@b", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> ORCPT=;a@b", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> ORCPT=rfc822;", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> ORCPT=rfc822;jörg", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> ORCPT=rfc_822;a", SMTP_PARSE_BAD_VALUE },
		{ "RCPT TO:<a@b> SIZE=10", SMTP_PARSE_BAD_PARAM },
		{ "RCPT TO:<a@b> X=1", SMTP_PARSE_BAD_PARAM },
	};
	struct smtp_cmd cmd;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum smtp_parse_rc rc = parse(cases[i].line, &cmd);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d", cases[i].line, rc, cases[i].rc);
	}
}

static void
test_orcpt_limit_at_n_and_n_plus_1(void **state)
{
	struct smtp_cmd cmd;
	char *ok = make_line("RCPT TO:<a@b> ORCPT=rfc822;", 20 + SMTP_ORCPT_MAX, "");
	char *big = make_line("RCPT TO:<a@b> ORCPT=rfc822;", 20 + SMTP_ORCPT_MAX + 1, "");

	(void)state;
	assert_int_equal(parse(ok, &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.orcpt_len, SMTP_ORCPT_MAX);
	assert_int_equal(parse(big, &cmd), SMTP_PARSE_BAD_VALUE);
	free(ok);
	free(big);
}

/* ---- BDAT, AUTH ---- */

static void
test_bdat_forms(void **state)
{
	struct smtp_cmd cmd;

	(void)state;
	assert_int_equal(parse("BDAT 1000", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.chunk, 1000);
	assert_false(cmd.last);
	assert_int_equal(parse("BDAT 0 LAST", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.chunk, 0);
	assert_true(cmd.last);
	assert_int_equal(parse("bdat 5 last", &cmd), SMTP_PARSE_OK);
	assert_true(cmd.last);
	assert_int_equal(parse("BDAT 18446744073709551615 LAST", &cmd), SMTP_PARSE_OK);
	assert_int_equal(cmd.chunk, UINT64_MAX);
	assert_int_equal(parse("BDAT 18446744073709551616", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("BDAT", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(cmd.verb, SMTP_VERB_BDAT);
	assert_int_equal(parse("BDAT x", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("BDAT -1", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("BDAT 10 FIRST", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("BDAT 10 LAST x", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("BDAT  10", &cmd), SMTP_PARSE_SYNTAX);
}

static void
test_auth_forms(void **state)
{
	struct smtp_cmd cmd;
	char *ok, *big;

	(void)state;
	assert_int_equal(parse("AUTH PLAIN", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.arg, cmd.arg_len, "PLAIN");
	assert_null(cmd.arg2);
	assert_int_equal(parse("AUTH PLAIN AGpvZQBzZWNyZXQ=", &cmd), SMTP_PARSE_OK);
	assert_str_n(cmd.arg2, cmd.arg2_len, "AGpvZQBzZWNyZXQ=");
	assert_int_equal(parse("AUTH PLAIN =", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("AUTH login", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("AUTH SCRAM-SHA-256", &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse("AUTH", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("AUTH PL@IN", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("AUTH PLAIN abc", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("AUTH PLAIN a=bc", &cmd), SMTP_PARSE_SYNTAX);
	assert_int_equal(parse("AUTH PLAIN ab!c", &cmd), SMTP_PARSE_SYNTAX);
	ok = make_line("AUTH ", 5 + SMTP_MECH_MAX, "");
	big = make_line("AUTH ", 5 + SMTP_MECH_MAX + 1, "");
	assert_int_equal(parse(ok, &cmd), SMTP_PARSE_OK);
	assert_int_equal(parse(big, &cmd), SMTP_PARSE_SYNTAX);
	free(ok);
	free(big);
}

/* ---- xtext ---- */

static void
test_xtext_round_trip(void **state)
{
	char enc[64], dec[64];

	(void)state;
	assert_int_equal(smtp_xtext_encode("a+b=c d", 7, enc, sizeof enc), 13);
	assert_string_equal(enc, "a+2Bb+3Dc+20d");
	assert_true(smtp_xtext_valid(enc, strlen(enc), false));
	assert_int_equal(smtp_xtext_decode(enc, strlen(enc), dec, sizeof dec), 7);
	assert_string_equal(dec, "a+b=c d");
	assert_int_equal(smtp_xtext_encode("abc", 3, enc, 4), 3);
	assert_int_equal(smtp_xtext_encode("abc", 3, enc, 3), -1);
	assert_int_equal(smtp_xtext_encode("+", 1, enc, 3), -1);
	assert_int_equal(smtp_xtext_decode("abc", 3, dec, 3), -1);
	assert_false(smtp_xtext_valid("a=b", 3, false));
	assert_false(smtp_xtext_valid("a b", 3, false));
	assert_true(smtp_xtext_valid("", 0, false));
}

/* ---- DATA ---- */

static size_t
dot_all(const char *in, size_t len, char *out, size_t *used, unsigned *bad, bool *end)
{
	struct smtp_dot d = { 0 };
	size_t olen;

	*end = smtp_dot_feed(&d, in, len, out, used, &olen);
	*bad = d.bad;
	return olen;
}

/* The same input one byte at a time: "need more" until the end marker. */
static size_t
dot_bytewise(const char *in, size_t len, char *out, size_t *used, unsigned *bad, bool *end)
{
	struct smtp_dot d = { 0 };
	size_t i, o = 0, u, olen;

	*end = false;
	for (i = 0; i < len && !*end; i++) {
		*end = smtp_dot_feed(&d, in + i, 1, out + o, &u, &olen);
		assert_int_equal(u, 1);
		o += olen;
	}
	*used = i;
	*bad = d.bad;
	return o;
}

static void
check_dot(const char *in, size_t len, const char *want, size_t want_len, size_t want_used,
    unsigned want_bad, bool want_end)
{
	char out1[256], out2[256];
	size_t u1, u2, o1, o2;
	unsigned b1, b2;
	bool e1, e2;

	o1 = dot_all(in, len, out1, &u1, &b1, &e1);
	o2 = dot_bytewise(in, len, out2, &u2, &b2, &e2);
	assert_int_equal(e1, want_end);
	assert_int_equal(e2, want_end);
	assert_int_equal(b1, want_bad);
	assert_int_equal(b2, want_bad);
	assert_int_equal(u1, want_used);
	assert_int_equal(u2, want_used);
	assert_int_equal(o1, want_len);
	assert_int_equal(o2, want_len);
	assert_memory_equal(out1, want, want_len);
	assert_memory_equal(out2, want, want_len);
}

#define CHECK_DOT(in, want, used, bad, end)	\
	check_dot(in, sizeof in - 1, want, sizeof want - 1, used, bad, end)

static void
test_dot_terminator_and_unstuffing(void **state)
{
	(void)state;
	CHECK_DOT("Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n", 23, 0, true);
	/* empty message */
	CHECK_DOT(".\r\n", "", 3, 0, true);
	/* stuffed dots, and a dot inside a line */
	CHECK_DOT("..x\r\n...\r\na.b\r\n.\r\n", ".x\r\n..\r\na.b\r\n", 18, 0, true);
	/* what follows the terminator is the next command */
	CHECK_DOT("a\r\n.\r\nQUIT\r\n", "a\r\n", 6, 0, true);
	/* not yet ended */
	CHECK_DOT("a\r\n.\r", "a\r\n", 5, 0, false);
	CHECK_DOT("a\r\n.", "a\r\n", 4, 0, false);
	CHECK_DOT("a\r\n", "a\r\n", 3, 0, false);
	/* ".x" at the start of a line loses its dot (RFC 5321 4.5.2) */
	CHECK_DOT(".x\r\n.\r\n", "x\r\n", 7, 0, true);
}

static void
test_dot_bare_lf_and_cr_never_end_data(void **state)
{
	(void)state;
	/* the smuggling forms: LF.LF, LF.CRLF, CRLF.LF, CR.CR */
	CHECK_DOT("a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", 10, SMTP_DOT_BARE_LF, true);
	CHECK_DOT("a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", "a\n.\r\nMAIL FROM:<x@y>\r\n", 25,
	    SMTP_DOT_BARE_LF, true);
	CHECK_DOT("a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", 11, SMTP_DOT_BARE_LF, true);
	CHECK_DOT("a\r.\rb\r\n.\r\n", "a\r.\rb\r\n", 10, SMTP_DOT_BARE_CR, true);
	CHECK_DOT("a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", 11, SMTP_DOT_BARE_CR, true);
	CHECK_DOT("\n", "\n", 1, SMTP_DOT_BARE_LF, false);
	CHECK_DOT("a\0b\r\n.\r\n", "a\0b\r\n", 8, SMTP_DOT_NUL, true);
	CHECK_DOT("a\r\r\n.\r\n", "a\r\r\n", 7, SMTP_DOT_BARE_CR, true);
}

static void
test_dot_discards_without_out(void **state)
{
	struct smtp_dot d = { 0 };
	size_t used, olen;

	(void)state;
	assert_true(smtp_dot_feed(&d, "abc\r\n.\r\n", 8, NULL, &used, &olen));
	assert_int_equal(used, 8);
	assert_int_equal(olen, 5);
}

static void
test_crlf_scan_across_chunks(void **state)
{
	struct smtp_dot d = { 0 };

	(void)state;
	smtp_crlf_scan(&d, "abc\r", 4);
	smtp_crlf_scan(&d, "\ndef\r\n", 6);
	smtp_crlf_end(&d);
	assert_int_equal(d.bad, 0);
	memset(&d, 0, sizeof d);
	smtp_crlf_scan(&d, "abc\r", 4);
	smtp_crlf_end(&d);
	assert_int_equal(d.bad, SMTP_DOT_BARE_CR);
	memset(&d, 0, sizeof d);
	smtp_crlf_scan(&d, "a\nb", 3);
	assert_int_equal(d.bad, SMTP_DOT_BARE_LF);
	memset(&d, 0, sizeof d);
	smtp_crlf_scan(&d, "a\rb\0", 4);
	assert_int_equal(d.bad, SMTP_DOT_BARE_CR | SMTP_DOT_NUL);
	memset(&d, 0, sizeof d);
	smtp_crlf_scan(&d, "\n", 1);
	assert_int_equal(d.bad, SMTP_DOT_BARE_LF);
}

/* ---- replies ---- */

static void
test_reply_lines(void **state)
{
	unsigned code;
	bool last;
	const char *text;
	size_t tl;
	char *ok, *big;

	(void)state;
	assert_int_equal(smtp_reply_line("250-PIPELINING", 14, &code, &last, &text, &tl), 1);
	assert_int_equal(code, 250);
	assert_false(last);
	assert_str_n(text, tl, "PIPELINING");
	assert_int_equal(smtp_reply_line("550 5.1.1 no", 12, &code, &last, &text, &tl), 1);
	assert_int_equal(code, 550);
	assert_true(last);
	assert_int_equal(smtp_reply_line("220", 3, &code, &last, &text, &tl), 1);
	assert_true(last);
	assert_int_equal(tl, 0);
	assert_int_equal(smtp_reply_line("25", 2, &code, &last, &text, &tl), -1);
	assert_int_equal(smtp_reply_line("2500", 4, &code, &last, &text, &tl), -1);
	assert_int_equal(smtp_reply_line("650 x", 5, &code, &last, &text, &tl), -1);
	assert_int_equal(smtp_reply_line("1x0 x", 5, &code, &last, &text, &tl), -1);
	ok = make_line("250 ", SMTP_REPLY_MAX, "");
	big = make_line("250 ", SMTP_REPLY_MAX + 1, "");
	assert_int_equal(smtp_reply_line(ok, SMTP_REPLY_MAX, &code, &last, &text, &tl), 1);
	assert_int_equal(smtp_reply_line(big, SMTP_REPLY_MAX + 1, &code, &last, &text, &tl), -1);
	free(ok);
	free(big);
}

/* ---- header fields (submission) ---- */

static void
test_header_fields_in_order_with_folding(void **state)
{
	static const char msg[] = "From: Alice\r\n <alice@ext.test>\r\nSubject : hi\r\n"
	    "message-id:<x@y>\r\n\r\nFrom: not a header\r\n";
	struct smtp_field f;
	size_t off = 0;

	(void)state;
	assert_true(smtp_header_next(msg, sizeof msg - 1, &off, &f));
	assert_true(smtp_field_is(&f, "from"));
	assert_str_n(f.value, f.value_len, " Alice\r\n <alice@ext.test>");
	assert_true(smtp_header_next(msg, sizeof msg - 1, &off, &f));
	assert_true(smtp_field_is(&f, "Subject"));	/* obs: space before the colon */
	assert_str_n(f.value, f.value_len, " hi");
	assert_true(smtp_header_next(msg, sizeof msg - 1, &off, &f));
	assert_true(smtp_field_is(&f, "Message-ID"));
	assert_false(smtp_field_is(&f, "Message-I"));
	assert_str_n(f.value, f.value_len, "<x@y>");
	assert_false(smtp_header_next(msg, sizeof msg - 1, &off, &f));
	assert_memory_equal(msg + off, "\r\nFrom:", 7);	/* stops at the empty line */
}

static void
test_header_section_ends_at_a_non_field(void **state)
{
	static const char *const ends[] = {
		"",			/* empty message */
		"\r\nbody\r\n",		/* no header at all */
		" folded first\r\n",	/* a continuation with nothing before it */
		"no colon here\r\n",
		": empty name\r\n",
		"Na\xc3\xa9me: 8-bit name\r\n",
	};
	struct smtp_field f;
	size_t i, off;

	(void)state;
	for (i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		off = 0;
		assert_false(smtp_header_next(ends[i], strlen(ends[i]), &off, &f));
		assert_int_equal(off, 0);
	}
}

static void
test_header_field_without_final_crlf(void **state)
{
	static const char msg[] = "Date: Thu, 1 Jan 2026\r\n\tfolded";
	struct smtp_field f;
	size_t off = 0, i;

	(void)state;
	assert_true(smtp_header_next(msg, sizeof msg - 1, &off, &f));
	assert_str_n(f.value, f.value_len, " Thu, 1 Jan 2026\r\n\tfolded");
	assert_int_equal(off, sizeof msg - 1);
	assert_false(smtp_header_next(msg, sizeof msg - 1, &off, &f));
	/* every prefix is read without reading past its end */
	for (i = 0; i < sizeof msg - 1; i++) {
		char *cut = malloc(i + 1);

		assert_non_null(cut);
		memcpy(cut, msg, i);
		off = 0;
		(void)smtp_header_next(cut, i, &off, &f);
		assert_true(off <= i);
		free(cut);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_verb_in_any_case),
		cmocka_unit_test(test_unknown_verbs),
		cmocka_unit_test(test_control_bytes_are_refused),
		cmocka_unit_test(test_line_limit_at_n_and_n_plus_1),
		cmocka_unit_test(test_no_argument_verbs),
		cmocka_unit_test(test_text_verbs),
		cmocka_unit_test(test_ehlo_forms),
		cmocka_unit_test(test_mail_from_null_sender),
		cmocka_unit_test(test_null_path_only_for_mail),
		cmocka_unit_test(test_plain_paths),
		cmocka_unit_test(test_malformed_paths),
		cmocka_unit_test(test_quoted_local_parts),
		cmocka_unit_test(test_canonical_form_lowercases),
		cmocka_unit_test(test_smtputf8_paths),
		cmocka_unit_test(test_source_route_is_dropped),
		cmocka_unit_test(test_postmaster_and_literals),
		cmocka_unit_test(test_path_limit_at_n_and_n_plus_1),
		cmocka_unit_test(test_label_limit_at_n_and_n_plus_1),
		cmocka_unit_test(test_mail_parameters),
		cmocka_unit_test(test_bad_mail_parameters),
		cmocka_unit_test(test_size_digits_at_n_and_n_plus_1),
		cmocka_unit_test(test_envid_limit_at_n_and_n_plus_1),
		cmocka_unit_test(test_rcpt_parameters),
		cmocka_unit_test(test_bad_rcpt_parameters),
		cmocka_unit_test(test_orcpt_limit_at_n_and_n_plus_1),
		cmocka_unit_test(test_bdat_forms),
		cmocka_unit_test(test_auth_forms),
		cmocka_unit_test(test_xtext_round_trip),
		cmocka_unit_test(test_dot_terminator_and_unstuffing),
		cmocka_unit_test(test_dot_bare_lf_and_cr_never_end_data),
		cmocka_unit_test(test_dot_discards_without_out),
		cmocka_unit_test(test_crlf_scan_across_chunks),
		cmocka_unit_test(test_reply_lines),
		cmocka_unit_test(test_header_fields_in_order_with_folding),
		cmocka_unit_test(test_header_section_ends_at_a_non_field),
		cmocka_unit_test(test_header_field_without_final_crlf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
