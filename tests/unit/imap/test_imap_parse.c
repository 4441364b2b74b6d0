/*
 * test_imap_parse.c: the parser's driver (lines, literals, errors and
 * recovery, limits) and the grammar of every command but FETCH and SEARCH.
 * Every input goes through imap_test_check*, which feeds it whole, octet by
 * octet and in uneven pieces and demands the same transcript each time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap_parse.h"
#include "imap_test.h"

#define CHECK_LIM(in, lim, want) do {					\
	struct imap_test_opts o_ = { (lim), false, false };		\
	imap_test_check_opts((in), sizeof(in) - 1, (want), &o_);	\
} while (0)

static struct imap_parse_limits
small_limits(void)
{
	struct imap_parse_limits l;

	imap_parse_limits_default(&l);
	l.line_max = 30;
	l.cmd_max = 100;
	l.literal_max = 10;
	l.append_max = 10;
	return l;
}

/* --- commands without arguments ------------------------------------------ */

static void
test_no_argument_commands(void **state)
{
	static const char *const names[] = { "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS",
		"NAMESPACE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "IDLE" };
	char line[64], want[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(line, sizeof line, "t%zu %s", i, names[i]);
		snprintf(want, sizeof want, "CMD t%zu %s", i, names[i]);
		imap_test_expect(line, want);
		snprintf(line, sizeof line, "t%zu %s x", i, names[i]);
		snprintf(want, sizeof want, "ERR t%zu SYNTAX Unexpected extra arguments", i);
		imap_test_expect(line, want);
	}
}

static void
test_command_names_case_insensitive(void **state)
{
	(void)state;
	imap_test_expect("a noop", "CMD a NOOP");
	imap_test_expect("a CaPaBiLiTy", "CMD a CAPABILITY");
	imap_test_expect("a uid fetch 1 flags", "CMD a UID FETCH set=1 atts=[FLAGS]");
}

static void
test_unknown_commands(void **state)
{
	(void)state;
	imap_test_expect("a FOO", "ERR a UNKNOWN Unknown command");
	imap_test_expect("a FOO bar baz", "ERR a UNKNOWN Unknown command");
	imap_test_expect("a UID NOOP", "ERR a UNKNOWN Unknown command");
	imap_test_expect("a UID", "ERR a UNKNOWN Unknown command");
	imap_test_expect("a UID LIST \"\" *", "ERR a UNKNOWN Unknown command");
	imap_test_expect("a  NOOP", "ERR a UNKNOWN Unknown command");
	imap_test_expect("a NOOP(", "ERR a UNKNOWN Unknown command");
}

static void
test_tags(void **state)
{
	(void)state;
	imap_test_expect("A0001 NOOP", "CMD A0001 NOOP");
	imap_test_expect("a.b-c_d]e[ NOOP", "CMD a.b-c_d]e[ NOOP");
	imap_test_expect("+ NOOP", "ERR * SYNTAX Invalid tag");
	imap_test_expect("* NOOP", "ERR * SYNTAX Invalid tag");
	imap_test_expect("a+b NOOP", "ERR * SYNTAX Invalid tag");
	imap_test_expect("\"a\" NOOP", "ERR * SYNTAX Invalid tag");
	imap_test_expect(" NOOP", "ERR * SYNTAX Invalid tag");
	imap_test_expect("abc", "ERR * SYNTAX Missing command");
	imap_test_expect("abc ", "ERR abc UNKNOWN Unknown command");
}

static void
test_tag_length_limit(void **state)
{
	char line[IMAP_TAG_MAX + 16], want[IMAP_TAG_MAX + 32];

	(void)state;
	memset(line, 'x', IMAP_TAG_MAX);
	strcpy(line + IMAP_TAG_MAX, " NOOP");
	snprintf(want, sizeof want, "CMD %.*s NOOP", IMAP_TAG_MAX, line);
	imap_test_expect(line, want);
	memset(line, 'x', IMAP_TAG_MAX + 1);
	strcpy(line + IMAP_TAG_MAX + 1, " NOOP");
	imap_test_expect(line, "ERR * SYNTAX Tag too long");
}

/* --- lines ------------------------------------------------------------------ */

static void
test_bare_lf_accepted(void **state)
{
	(void)state;
	imap_test_check("a NOOP\nb NOOP\r\n", "CMD a NOOP\nCMD b NOOP\n");
	imap_test_check("a LOGIN {2}\nab x\n", "LIT a 2\nCMD a LOGIN user=\"ab\" pass=\"x\"\n");
}

static void
test_bare_lf_strict(void **state)
{
	struct imap_parse_limits l;

	(void)state;
	imap_parse_limits_default(&l);
	l.strict_crlf = true;
	CHECK_LIM("a NOOP\nb NOOP\r\n", &l, "ERR a SYNTAX Bare LF\nCMD b NOOP\n");
	CHECK_LIM("a FOO {3+}\nabc\r\nb NOOP\r\n", &l, "ERR a SYNTAX Bare LF\nCMD b NOOP\n");
}

static void
test_bare_cr_refused(void **state)
{
	(void)state;
	imap_test_check("a NOOP\rb\r\nc NOOP\r\n",
	    "ERR a UNKNOWN Unknown command\nCMD c NOOP\n");
	imap_test_check("a LOGIN \"x\ry\" z\r\nc NOOP\r\n",
	    "ERR a SYNTAX Invalid character in quoted string\nCMD c NOOP\n");
	imap_test_check("a LOGIN x\ry z\r\nc NOOP\r\n",
	    "ERR a SYNTAX Expected space\nCMD c NOOP\n");
}

static void
test_empty_lines_ignored(void **state)
{
	(void)state;
	imap_test_check("\r\n\r\n\na NOOP\r\n\r\nb NOOP\r\n", "CMD a NOOP\nCMD b NOOP\n");
	imap_test_check("\r\n", "");
}

static void
test_need_more(void **state)
{
	(void)state;
	imap_test_check("a NOOP", "");
	imap_test_check("a NOOP\r", "");
	imap_test_check("a LOGIN {3}\r\nab", "LIT a 3\n");
	imap_test_check("a LOGIN {3+}\r\nabc", "");
}

static void
test_pipelined_commands(void **state)
{
	(void)state;
	imap_test_check("a NOOP\r\nb LOGIN x y\r\nc UID FETCH 1:* (FLAGS)\r\nd LOGOUT\r\n",
	    "CMD a NOOP\nCMD b LOGIN user=\"x\" pass=\"y\"\n"
	    "CMD c UID FETCH set=1:* atts=[FLAGS]\nCMD d LOGOUT\n");
}

static void
test_separators_strict(void **state)
{
	(void)state;
	imap_test_expect("a LOGIN  x y", "ERR a SYNTAX Unexpected space");
	imap_test_expect("a LOGIN x y ", "ERR a SYNTAX Unexpected space");
	imap_test_expect("a STATUS x ( MESSAGES)", "ERR a SYNTAX Unexpected space");
	imap_test_expect("a STATUS x (MESSAGES )", "ERR a SYNTAX Unexpected space");
	imap_test_expect("a STATUS x(MESSAGES)", "ERR a SYNTAX Expected space");
	imap_test_expect("a STATUS x (MESSAGES)(UNSEEN)", "ERR a SYNTAX Expected space");
	imap_test_expect("a LOGIN \"x\"y z", "ERR a SYNTAX Expected space");
	imap_test_expect("a STATUS x (MESSAGES", "ERR a SYNTAX Missing ')'");
	imap_test_expect("a STATUS x MESSAGES)", "ERR a SYNTAX Unexpected ')'");
	imap_test_expect("a LOGIN x\\y z", "ERR a SYNTAX Expected space");
}

static void
test_nul_and_8bit(void **state)
{
	(void)state;
	imap_test_check("a LOGIN x\0y z\r\nb NOOP\r\n", "ERR a SYNTAX NUL in command\nCMD b NOOP\n");
	imap_test_expect("a LOGIN \xc3\xa9 z", "ERR a SYNTAX Invalid character");
	imap_test_expect("a LOGIN \"\xc3\xa9t\xc3\xa9\" z",
	    "CMD a LOGIN user=\"\\xc3\\xa9t\\xc3\\xa9\" pass=\"z\"");
	imap_test_expect("a LOGIN \"a\tb\" z", "CMD a LOGIN user=\"a\\x09b\" pass=\"z\"");
}

static void
test_quoted_strings(void **state)
{
	(void)state;
	imap_test_expect("a LOGIN \"us\\\"er\" \"p\\\\w\"",
	    "CMD a LOGIN user=\"us\\x22er\" pass=\"p\\x5cw\"");
	imap_test_expect("a LOGIN \"\" \"\"", "CMD a LOGIN user=\"\" pass=\"\"");
	imap_test_expect("a LOGIN \"a\\b\" c", "ERR a SYNTAX Invalid escape in quoted string");
	imap_test_expect("a LOGIN \"abc", "ERR a SYNTAX Unterminated quoted string");
	imap_test_expect("a LOGIN \"abc\\", "ERR a SYNTAX Invalid escape in quoted string");
}

/* --- literals --------------------------------------------------------------- */

static void
test_sync_literal(void **state)
{
	(void)state;
	imap_test_check("a LOGIN {4}\r\nuser {8}\r\np\r\n\"ss\xff\x01\r\n",
	    "LIT a 4\nLIT a 8\nCMD a LOGIN user=\"user\" pass=\"p\\x0d\\x0a\\x22ss\\xff\\x01\"\n");
	imap_test_check("a LOGIN {0}\r\n {0}\r\n\r\n",
	    "LIT a 0\nLIT a 0\nCMD a LOGIN user=\"\" pass=\"\"\n");
	imap_test_check("a LOGIN {005}\r\nhello x\r\n",
	    "LIT a 5\nCMD a LOGIN user=\"hello\" pass=\"x\"\n");
}

static void
test_nonsync_literal(void **state)
{
	(void)state;
	imap_test_check("a LOGIN {4+}\r\nuser {3+}\r\npw!\r\nb NOOP\r\n",
	    "CMD a LOGIN user=\"user\" pass=\"pw!\"\nCMD b NOOP\n");
	imap_test_check("a LOGIN {0+}\r\n x\r\n", "CMD a LOGIN user=\"\" pass=\"x\"\n");
}

static void
test_literal_in_list(void **state)
{
	(void)state;
	imap_test_check("a ID ({4}\r\nname {3+}\r\nfoo)\r\n",
	    "LIT a 4\nCMD a ID (\"name\" \"foo\")\n");
	imap_test_check("a STATUS {5}\r\nINBOX (MESSAGES)\r\n",
	    "LIT a 5\nCMD a STATUS mbox=\"INBOX\" items=0x1\n");
}

static void
test_literal_rejected_by_session(void **state)
{
	struct imap_test_opts o = { NULL, true, false };
	static const char in[] = "a LOGIN {5}\r\nb NOOP\r\n";

	(void)state;
	/* the client does not send a {n} literal without "+": b starts a command */
	imap_test_check_opts(in, sizeof in - 1, "LIT a 5 rejected\nCMD b NOOP\n", &o);
}

static void
test_literal_syntax_errors(void **state)
{
	(void)state;
	imap_test_check("a LOGIN {abc}\r\nb NOOP\r\n", "ERR a SYNTAX Invalid literal\nCMD b NOOP\n");
	imap_test_check("a LOGIN {}\r\nb NOOP\r\n", "ERR a SYNTAX Invalid literal\nCMD b NOOP\n");
	imap_test_check("a LOGIN {+}\r\nb NOOP\r\n", "ERR a SYNTAX Invalid literal\nCMD b NOOP\n");
	imap_test_check("a LOGIN {-1}\r\nb NOOP\r\n", "ERR a SYNTAX Invalid literal\nCMD b NOOP\n");
	imap_test_check("a LOGIN {3} x\r\nb NOOP\r\n",
	    "ERR a SYNTAX Literal must end the line\nCMD b NOOP\n");
	imap_test_check("a LOGIN {3\r\nb NOOP\r\n",
	    "ERR a SYNTAX Literal must end the line\nCMD b NOOP\n");
	/* a sync literal the client will not send; an oversized one is just refused */
	imap_test_check("a LOGIN {4294967296}\r\nb NOOP\r\n",
	    "ERR a SYNTAX Invalid literal\nCMD b NOOP\n");
	/* a {n+} whose size cannot be read: no way to find the next command */
	imap_test_check("a LOGIN {4294967296+}\r\nb NOOP\r\n",
	    "ERR a SYNTAX Invalid literal FATAL\n");
}

static void
test_literal_nul_refused_and_skipped(void **state)
{
	(void)state;
	imap_test_check("a LOGIN {3+}\r\na\0b x\r\nb NOOP\r\n",
	    "ERR a SYNTAX NUL in literal\nCMD b NOOP\n");
	imap_test_check("a LOGIN {3}\r\n\0bc x {2+}\r\nzz\r\nb NOOP\r\n",
	    "LIT a 3\nERR a SYNTAX NUL in literal\nCMD b NOOP\n");
}

/*
 * After an error the rest of the command is discarded: a {n+} literal at the
 * end of the bad line still comes and is skipped, a {n} one does not come.
 */
static void
test_error_recovery_skips_literals(void **state)
{
	(void)state;
	imap_test_check("a FOO {5+}\r\nhe\r\nl\r\nb NOOP\r\n",
	    "ERR a UNKNOWN Unknown command\nCMD b NOOP\n");
	imap_test_check("a FOO {5+}\r\nhello {2+}\r\nxy {0+}\r\n\r\nb NOOP\r\n",
	    "ERR a UNKNOWN Unknown command\nCMD b NOOP\n");
	imap_test_check("a FOO {5}\r\nb NOOP\r\n", "ERR a UNKNOWN Unknown command\nCMD b NOOP\n");
	imap_test_check("a LOGIN \"x\"{5+}\r\nhello\r\nb NOOP\r\n",
	    "ERR a SYNTAX Expected space\nCMD b NOOP\n");
	imap_test_check("* LOGIN {5+}\r\nb NOO\r\nb NOOP\r\n", "ERR * SYNTAX Invalid tag\nCMD b NOOP\n");
	/* a grammar error found at the end: everything was read already */
	imap_test_check("a LOGIN {1}\r\nx\r\nb NOOP\r\n",
	    "LIT a 1\nERR a SYNTAX Missing argument\nCMD b NOOP\n");
	imap_test_check("a LOGIN {1+}\r\nx {2+}\r\nyy z\r\nb NOOP\r\n",
	    "ERR a SYNTAX Unexpected extra arguments\nCMD b NOOP\n");
}

/* --- limits: each at N and N+1 ------------------------------------------- */

static void
test_limit_line_max(void **state)
{
	struct imap_parse_limits l = small_limits();

	(void)state;
	/* 30 octets before CRLF: accepted; 31: refused, the rest skipped */
	CHECK_LIM("a LOGIN xxxxxxxxxx yyyyyyyyyyy\r\nb NOOP\r\n", &l,
	    "CMD a LOGIN user=\"xxxxxxxxxx\" pass=\"yyyyyyyyyyy\"\nCMD b NOOP\n");
	CHECK_LIM("a LOGIN xxxxxxxxxx yyyyyyyyyyyy\r\nb NOOP\r\n", &l,
	    "ERR a LINE Line too long\nCMD b NOOP\n");
	CHECK_LIM("a LOGIN xxxxxxxxxx yyyyyyyyyyyy\nb NOOP\r\n", &l,
	    "ERR a LINE Line too long\nCMD b NOOP\n");
	/* a long line ending in {n+}: its literal is skipped too */
	CHECK_LIM("a LOGIN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx {5+}\r\n"
	    "hello {2+}\r\nab\r\nb NOOP\r\n", &l, "ERR a LINE Line too long\nCMD b NOOP\n");
	/* the tag of a line too long to buffer is still found */
	CHECK_LIM("tag77 LOGIN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", &l,
	    "ERR tag77 LINE Line too long\n");
	CHECK_LIM("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", &l,
	    "ERR * LINE Line too long\n");
}

/* The defaults: 8 KiB before login, 64 KiB after (imap_parser_set_limits). */
static void
test_limit_line_max_defaults(void **state)
{
	static const size_t maxes[] = { IMAP_LINE_MAX_PREAUTH, IMAP_LINE_MAX_AUTH };
	struct imap_parse_limits l;
	size_t i, extra;

	(void)state;
	imap_parse_limits_default(&l);
	assert_int_equal(l.line_max, IMAP_LINE_MAX_PREAUTH);
	for (i = 0; i < 2; i++) {
		l.line_max = maxes[i];
		for (extra = 0; extra < 2; extra++) {
			size_t n = maxes[i] + extra;
			char *in = malloc(n + 16), *out;
			struct imap_test_opts o = { &l, false, false };

			assert_non_null(in);
			memcpy(in, "a LOGIN x ", 10);
			memset(in + 10, 'p', n - 10);
			memcpy(in + n, "\r\nb NOOP\r\n", 10);
			out = imap_test_run(in, n + 10, 0, &o);
			if (extra == 0)
				assert_non_null(strstr(out, "CMD a LOGIN"));
			else
				assert_string_equal(out, "ERR a LINE Line too long\nCMD b NOOP\n");
			free(out);
			free(in);
		}
	}
}

static void
test_limit_line_max_continuation(void **state)
{
	struct imap_parse_limits l = small_limits();

	(void)state;
	/* each line after a literal has its own budget, literal data apart */
	CHECK_LIM("a LOGIN {3+}\r\nabc xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", &l,
	    "CMD a LOGIN user=\"abc\" pass=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n");
	CHECK_LIM("a LOGIN {3+}\r\nabc xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nb NOOP\r\n", &l,
	    "ERR a LINE Line too long\nCMD b NOOP\n");
}

static void
test_limit_cmd_max(void **state)
{
	struct imap_parse_limits l = small_limits();

	(void)state;
	l.cmd_max = 40;
	/* lines, line ends and literals: 14 + 6 + 8 + 10 + 2 = 40 octets: accepted */
	CHECK_LIM("a LOGIN {6+}\r\nhello! {10+}\r\n0123456789\r\nb NOOP\r\n", &l,
	    "CMD a LOGIN user=\"hello!\" pass=\"0123456789\"\nCMD b NOOP\n");
	/* 41: refused at the last octet */
	CHECK_LIM("a LOGIN {7+}\r\nhello!! {10+}\r\n0123456789\r\nb NOOP\r\n", &l,
	    "ERR a CMD Command too long\nCMD b NOOP\n");
	/* a literal that would pass it is refused before "+" (14 + 5 + 6 = 25 read) */
	l.cmd_max = 30;
	CHECK_LIM("a LOGIN {5+}\r\nhello {6}\r\nb NOOP\r\n", &l,
	    "ERR a CMD Command too long\nCMD b NOOP\n");
	CHECK_LIM("a LOGIN {5+}\r\nhello {5}\r\nabcde\r\nb NOOP\r\n", &l,
	    "LIT a 5\nERR a CMD Command too long\nCMD b NOOP\n");
}

static void
test_limit_literal_max(void **state)
{
	struct imap_parse_limits l = small_limits();

	(void)state;
	CHECK_LIM("a LOGIN {10}\r\n0123456789 x\r\n", &l,
	    "LIT a 10\nCMD a LOGIN user=\"0123456789\" pass=\"x\"\n");
	CHECK_LIM("a LOGIN {11}\r\nb NOOP\r\n", &l,
	    "ERR a LITERAL Literal too big\nCMD b NOOP\n");
	CHECK_LIM("a LOGIN {10+}\r\n0123456789 x\r\n", &l,
	    "CMD a LOGIN user=\"0123456789\" pass=\"x\"\n");
	/* an oversized {n+}: the client sends it anyway, fatal (STYLE.md 4) */
	CHECK_LIM("a LOGIN {11+}\r\n01234567890 x\r\nb NOOP\r\n", &l,
	    "ERR a LITERAL Literal too big FATAL\n");
}

static void
test_limit_literal_minus(void **state)
{
	struct imap_parse_limits l;
	char *in;
	size_t n = 32 + IMAP_LITERAL_MINUS_MAX + 1;
	int len;

	(void)state;
	imap_parse_limits_default(&l);
	l.literal_minus = true;
	l.literal_max = 8192;
	in = malloc(n + 32);
	assert_non_null(in);
	len = snprintf(in, n, "a LOGIN {%d+}\r\n", IMAP_LITERAL_MINUS_MAX);
	memset(in + len, 'p', IMAP_LITERAL_MINUS_MAX);
	memcpy(in + len + IMAP_LITERAL_MINUS_MAX, " x\r\n", 4);
	{
		struct imap_test_opts o = { &l, false, false };
		char *out = imap_test_run(in, (size_t)len + IMAP_LITERAL_MINUS_MAX + 4, 0, &o);

		assert_non_null(strstr(out, "CMD a LOGIN user=\"pppp"));
		free(out);
	}
	free(in);
	CHECK_LIM("a LOGIN {4097+}\r\n", &l, "ERR a LITERAL Literal too big FATAL\n");
	CHECK_LIM("a LOGIN {4097}\r\nxx", &l, "LIT a 4097\n");
	CHECK_LIM("a APPEND x {4097+}\r\n", &l, "ERR a LITERAL Literal too big FATAL\n");
}

static void
test_limit_depth(void **state)
{
	struct imap_parse_limits l;

	(void)state;
	imap_parse_limits_default(&l);
	l.depth_max = 3;
	CHECK_LIM("a SEARCH (((ALL)))\r\n", &l,
	    "CMD a SEARCH nkeys=4 AND( AND( AND( AND( ALL ) ) ) )\n");
	CHECK_LIM("a SEARCH ((((ALL))))\r\nb NOOP\r\n", &l,
	    "ERR a LIMIT Too deeply nested\nCMD b NOOP\n");
	CHECK_LIM("a STATUS x (((MESSAGES)))\r\n", &l, "ERR a SYNTAX Unknown STATUS item\n");
}

static void
test_limit_args(void **state)
{
	struct imap_parse_limits l;

	(void)state;
	imap_parse_limits_default(&l);
	l.args_max = 4;
	/* the list counts as one argument, its elements as one each */
	CHECK_LIM("a ENABLE A B C D\r\n", &l, "CMD a ENABLE [\"A\" \"B\" \"C\" \"D\"]\n");
	CHECK_LIM("a ENABLE A B C D E\r\n", &l, "ERR a LIMIT Too many arguments\n");
	CHECK_LIM("a STATUS x (MESSAGES UNSEEN)\r\n", &l, "CMD a STATUS mbox=\"x\" items=0x11\n");
	CHECK_LIM("a STATUS x (MESSAGES UNSEEN RECENT)\r\n", &l, "ERR a LIMIT Too many arguments\n");
	CHECK_LIM("a LOGIN {1+}\r\nx y {1+}\r\nz {1+}\r\nw\r\nb NOOP\r\n", &l,
	    "ERR a SYNTAX Unexpected extra arguments\nCMD b NOOP\n");
	CHECK_LIM("a LOGIN {1+}\r\nx y {1+}\r\nz w {1+}\r\nv\r\nb NOOP\r\n", &l,
	    "ERR a LIMIT Too many arguments\nCMD b NOOP\n");
}

static void
test_limit_seq_ranges(void **state)
{
	struct imap_parse_limits l;

	(void)state;
	imap_parse_limits_default(&l);
	l.seq_ranges_max = 3;
	CHECK_LIM("a COPY 1,2:3,5:* x\r\n", &l, "CMD a COPY set=1,2:3,5:* mbox=\"x\"\n");
	CHECK_LIM("a COPY 1,2:3,5,7 x\r\n", &l, "ERR a LIMIT Too many ranges in sequence set\n");
	CHECK_LIM("a COPY 1,2:3,5,$ x\r\n", &l, "CMD a COPY set=1,2:3,5,$ mbox=\"x\"\n");
}

static void
test_limits_apply_from_next_command(void **state)
{
	struct imap_parse_limits l;
	struct imap_parser *p;
	struct imap_parse_event ev;
	static const char line[] = "a LOGIN xxxxxxxxxxxxxxxxxxxxxxxx y\r\n";
	size_t used;

	(void)state;
	imap_parse_limits_default(&l);
	l.line_max = 20;
	p = imap_parser_new(&l);
	assert_int_equal(imap_parser_feed(p, line, sizeof line - 1, &used, &ev), IMAP_PARSE_ERROR);
	assert_int_equal(ev.err, IMAP_PERR_LINE_TOO_LONG);
	assert_int_equal(imap_parser_feed(p, line + used, sizeof line - 1 - used, &used, &ev),
	    IMAP_PARSE_MORE);
	l.line_max = IMAP_LINE_MAX_AUTH;
	imap_parser_set_limits(p, &l);
	assert_int_equal(imap_parser_feed(p, line, sizeof line - 1, &used, &ev), IMAP_PARSE_COMMAND);
	assert_int_equal(used, sizeof line - 1);
	imap_cmd_free(&ev.cmd);
	imap_cmd_free(&ev.cmd);
	imap_parser_free(&p);
	imap_parser_free(&p);
}

/* --- authentication ---------------------------------------------------- */

static void
test_login(void **state)
{
	(void)state;
	imap_test_expect("a LOGIN alice@example.org secret",
	    "CMD a LOGIN user=\"alice@example.org\" pass=\"secret\"");
	imap_test_expect("a LOGIN \"alice\" \"s p a c e\"",
	    "CMD a LOGIN user=\"alice\" pass=\"s p a c e\"");
	imap_test_expect("a LOGIN a]b c", "CMD a LOGIN user=\"a]b\" pass=\"c\"");
	imap_test_expect("a LOGIN alice", "ERR a SYNTAX Missing argument");
	imap_test_expect("a LOGIN", "ERR a SYNTAX Missing argument");
	imap_test_expect("a LOGIN (a) b", "ERR a SYNTAX Expected a string");
	imap_test_expect("a LOGIN a% b", "ERR a SYNTAX Expected a string");
	imap_test_expect("a LOGIN NIL b", "CMD a LOGIN user=\"NIL\" pass=\"b\"");
}

static void
test_authenticate(void **state)
{
	(void)state;
	imap_test_expect("a AUTHENTICATE PLAIN", "CMD a AUTHENTICATE mech=\"PLAIN\"");
	/* INTEROP: SASL-IR as Thunderbird and Apple send it */
	imap_test_expect("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==",
	    "CMD a AUTHENTICATE mech=\"PLAIN\" ir=\"AGFsaWNlAHNlY3JldA==\"");
	imap_test_expect("a AUTHENTICATE PLAIN =", "CMD a AUTHENTICATE mech=\"PLAIN\" ir=\"\"");
	imap_test_expect("a AUTHENTICATE PLAIN AGFsaWNl", "CMD a AUTHENTICATE mech=\"PLAIN\" ir=\"AGFsaWNl\"");
	imap_test_expect("a AUTHENTICATE PLAIN AGFsaWN", "ERR a SYNTAX Invalid initial response");
	imap_test_expect("a AUTHENTICATE PLAIN AG=saWNl", "ERR a SYNTAX Invalid initial response");
	imap_test_expect("a AUTHENTICATE PLAIN A===", "ERR a SYNTAX Invalid initial response");
	imap_test_expect("a AUTHENTICATE PLAIN \"AGFs\"", "ERR a SYNTAX Invalid initial response");
	imap_test_expect("a AUTHENTICATE PLAIN AGFs AGFs", "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a AUTHENTICATE", "ERR a SYNTAX Missing argument");
	imap_test_expect("a AUTHENTICATE \"PLAIN\"", "ERR a SYNTAX Expected an atom");
}

static void
test_enable(void **state)
{
	(void)state;
	imap_test_expect("a ENABLE CONDSTORE UTF8=ACCEPT",
	    "CMD a ENABLE [\"CONDSTORE\" \"UTF8=ACCEPT\"]");
	imap_test_expect("a ENABLE", "ERR a SYNTAX Missing argument");
	imap_test_expect("a ENABLE \"CONDSTORE\"", "ERR a SYNTAX Expected an atom");
}

static void
test_id(void **state)
{
	(void)state;
	/* INTEROP: Thunderbird */
	imap_test_expect("a ID (\"name\" \"Thunderbird\" \"version\" \"128.0\")",
	    "CMD a ID (\"name\" \"Thunderbird\" \"version\" \"128.0\")");
	imap_test_expect("a ID NIL", "CMD a ID NIL");
	imap_test_expect("a ID nil", "CMD a ID NIL");
	imap_test_expect("a ID ()", "CMD a ID ()");
	imap_test_expect("a ID (\"name\" NIL)", "CMD a ID (\"name\" NIL)");
	imap_test_expect("a ID (\"name\")", "ERR a SYNTAX ID needs field and value pairs");
	imap_test_expect("a ID (name \"x\")", "ERR a SYNTAX Expected a quoted string or literal");
	imap_test_expect("a ID", "ERR a SYNTAX Missing argument");
	imap_test_expect("a ID () ()", "ERR a SYNTAX Unexpected extra arguments");
}

static void
test_id_pairs_limit(void **state)
{
	struct imap_tbuf line = { NULL, 0, 0 };
	char *out;
	int i;

	(void)state;
	imap_tbuf_printf(&line, "a ID (");
	for (i = 0; i < IMAP_ID_PAIRS_MAX; i++)
		imap_tbuf_printf(&line, "%s\"k%d\" \"v\"", i > 0 ? " " : "", i);
	imap_tbuf_printf(&line, ")");
	out = imap_test_parse1(line.s, NULL);
	assert_non_null(strstr(out, "CMD a ID (\"k0\""));
	free(out);
	line.len--;
	imap_tbuf_printf(&line, " \"k\" \"v\")");
	out = imap_test_parse1(line.s, NULL);
	assert_string_equal(out, "ERR a LIMIT Too many ID fields\n");
	free(out);
	imap_tbuf_free(&line);
}

/* --- mailboxes ------------------------------------------------------------- */

static void
test_select(void **state)
{
	(void)state;
	imap_test_expect("a SELECT INBOX", "CMD a SELECT mbox=\"INBOX\"");
	imap_test_expect("a SELECT inbox", "CMD a SELECT mbox=\"INBOX\"");
	imap_test_expect("a SELECT \"iNbOx\"", "CMD a SELECT mbox=\"INBOX\"");
	imap_test_expect("a SELECT INBOX/Sub", "CMD a SELECT mbox=\"INBOX/Sub\"");
	imap_test_expect("a EXAMINE \"Sent Messages\"", "CMD a EXAMINE mbox=\"Sent Messages\"");
	imap_test_expect("a SELECT &AMk-t&AOk-", "CMD a SELECT mbox=\"&AMk-t&AOk-\"");
	/* INTEROP: Apple after ENABLE CONDSTORE */
	imap_test_expect("a SELECT INBOX (CONDSTORE)", "CMD a SELECT mbox=\"INBOX\" CONDSTORE");
	imap_test_expect("a SELECT", "ERR a SYNTAX Missing argument");
	imap_test_expect("a SELECT INBOX ()", "ERR a SYNTAX Empty SELECT parameters");
	imap_test_expect("a SELECT INBOX (FOO)", "ERR a SYNTAX Unknown SELECT parameter");
	imap_test_expect("a SELECT INBOX CONDSTORE", "ERR a SYNTAX Expected a parenthesized list");
	imap_test_expect("a SELECT INBOX (CONDSTORE) x", "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a SELECT *", "ERR a SYNTAX Expected a string");
}

static void
test_select_qresync(void **state)
{
	(void)state;
	/* RFC 7162 3.2.5.2 examples */
	imap_test_expect("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
	    "CMD A02 SELECT mbox=\"INBOX\" QRESYNC 67890007 20050715194045000 known=41,43:211,214:541");
	imap_test_expect("B02 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 "
	    "(1:15,20 4231:4248,4300)))",
	    "CMD B02 SELECT mbox=\"INBOX\" QRESYNC 67890007 90060115194045000 known=41:211,214:541 "
	    "match=1:15,20/4231:4248,4300");
	imap_test_expect("a SELECT INBOX (QRESYNC (1 2))", "CMD a SELECT mbox=\"INBOX\" QRESYNC 1 2");
	imap_test_expect("a SELECT INBOX (CONDSTORE QRESYNC (1 2 (1 5)))",
	    "CMD a SELECT mbox=\"INBOX\" CONDSTORE QRESYNC 1 2 match=1/5");
	imap_test_expect("a SELECT INBOX (QRESYNC (0 2))", "ERR a SYNTAX Invalid number");
	imap_test_expect("a SELECT INBOX (QRESYNC (1))", "ERR a SYNTAX Missing argument");
	imap_test_expect("a SELECT INBOX (QRESYNC (1 2 1:*))", "ERR a SYNTAX Invalid known UIDs");
	imap_test_expect("a SELECT INBOX (QRESYNC (1 2 1 (1)))", "ERR a SYNTAX Missing argument");
	imap_test_expect("a SELECT INBOX (QRESYNC (1 2 1 (1 2) x))",
	    "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a SELECT INBOX (QRESYNC)", "ERR a SYNTAX Missing argument");
	imap_test_expect("a SELECT INBOX (QRESYNC (1 9223372036854775808))",
	    "ERR a SYNTAX Invalid number");
}

static void
test_create_delete_rename(void **state)
{
	(void)state;
	imap_test_expect("a CREATE Archive", "CMD a CREATE mbox=\"Archive\"");
	imap_test_expect("a CREATE inbox", "CMD a CREATE mbox=\"INBOX\"");
	imap_test_expect("a CREATE \"Sent Items\" (USE (\\Sent))",
	    "CMD a CREATE mbox=\"Sent Items\" use=[\"\\x5cSent\"]");
	imap_test_expect("a CREATE x (USE (\\Sent \\Archive))",
	    "CMD a CREATE mbox=\"x\" use=[\"\\x5cSent\" \"\\x5cArchive\"]");
	imap_test_expect("a CREATE x (USE ())", "CMD a CREATE mbox=\"x\" use=[]");
	imap_test_expect("a CREATE x (USE (Sent))", "ERR a SYNTAX Invalid special-use attribute");
	imap_test_expect("a CREATE x (FOO (\\Sent))", "ERR a SYNTAX Unknown CREATE parameter");
	imap_test_expect("a CREATE x (USE)", "ERR a SYNTAX Missing argument");
	imap_test_expect("a CREATE", "ERR a SYNTAX Missing argument");
	imap_test_expect("a DELETE Trash", "CMD a DELETE mbox=\"Trash\"");
	imap_test_expect("a DELETE", "ERR a SYNTAX Missing argument");
	imap_test_expect("a SUBSCRIBE \"a b\"", "CMD a SUBSCRIBE mbox=\"a b\"");
	imap_test_expect("a UNSUBSCRIBE Inbox", "CMD a UNSUBSCRIBE mbox=\"INBOX\"");
	imap_test_expect("a RENAME old \"new name\"", "CMD a RENAME from=\"old\" to=\"new name\"");
	imap_test_expect("a RENAME old", "ERR a SYNTAX Missing argument");
	imap_test_expect("a RENAME a b c", "ERR a SYNTAX Unexpected extra arguments");
}

static void
test_list(void **state)
{
	(void)state;
	imap_test_expect("a LIST \"\" \"*\"", "CMD a LIST ref=\"\" pats=[\"*\"]");
	imap_test_expect("a LIST \"\" *", "CMD a LIST ref=\"\" pats=[\"*\"]");
	imap_test_expect("a LIST \"\" %", "CMD a LIST ref=\"\" pats=[\"%\"]");
	imap_test_expect("a LIST \"\" \"\"", "CMD a LIST ref=\"\" pats=[\"\"]");
	imap_test_expect("a LIST ~/Mail/ INBOX/%", "CMD a LIST ref=\"~/Mail/\" pats=[\"INBOX/%\"]");
	/* INTEROP: the two forms clients use for special-use */
	imap_test_expect("a LIST \"\" \"*\" RETURN (SPECIAL-USE)",
	    "CMD a LIST ext sel=0x0 ref=\"\" pats=[\"*\"] ret=0x4 status=0x0");
	imap_test_expect("a LIST (SPECIAL-USE) \"\" \"*\"",
	    "CMD a LIST ext sel=0x8 ref=\"\" pats=[\"*\"] ret=0x0 status=0x0");
	imap_test_expect("a LIST () \"\" \"*\"",
	    "CMD a LIST ext sel=0x0 ref=\"\" pats=[\"*\"] ret=0x0 status=0x0");
	imap_test_expect("a LIST (SUBSCRIBED REMOTE RECURSIVEMATCH) \"\" (INBOX \"Sent*\" %) "
	    "RETURN (CHILDREN SUBSCRIBED STATUS (MESSAGES UNSEEN))",
	    "CMD a LIST ext sel=0x7 ref=\"\" pats=[\"INBOX\" \"Sent*\" \"%\"] ret=0xb status=0x11");
	imap_test_expect("a LIST \"\" * RETURN ()",
	    "CMD a LIST ext sel=0x0 ref=\"\" pats=[\"*\"] ret=0x0 status=0x0");
	imap_test_expect("a LIST (RECURSIVEMATCH) \"\" *",
	    "ERR a SYNTAX RECURSIVEMATCH without a base option");
	imap_test_expect("a LIST (FOO) \"\" *", "ERR a SYNTAX Unknown LIST selection option");
	imap_test_expect("a LIST \"\" * RETURN (FOO)", "ERR a SYNTAX Unknown LIST return option");
	imap_test_expect("a LIST \"\" * RETURN (STATUS ())", "ERR a SYNTAX Empty STATUS item list");
	imap_test_expect("a LIST \"\" * RETURN (STATUS)", "ERR a SYNTAX Missing argument");
	imap_test_expect("a LIST \"\" * RETURN", "ERR a SYNTAX Missing argument");
	imap_test_expect("a LIST \"\" * FOO", "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a LIST \"\" ()", "ERR a SYNTAX Empty pattern list");
	imap_test_expect("a LIST \"\"", "ERR a SYNTAX Missing argument");
	imap_test_expect("a LIST * *", "ERR a SYNTAX Expected a string");
	imap_test_expect("a LIST \"\" (a) RETURN (CHILDREN) x",
	    "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a LSUB \"\" \"*\"", "CMD a LSUB ref=\"\" pats=[\"*\"]");
	imap_test_expect("a LSUB \"\" (\"*\")", "ERR a SYNTAX Invalid mailbox pattern");
	imap_test_expect("a LSUB \"\"", "ERR a SYNTAX Missing argument");
}

static void
test_status(void **state)
{
	(void)state;
	/* INTEROP: Apple's STATUS sweep */
	imap_test_expect("a STATUS \"INBOX\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)",
	    "CMD a STATUS mbox=\"INBOX\" items=0x3d");
	imap_test_expect("a STATUS x (RECENT SIZE messages)", "CMD a STATUS mbox=\"x\" items=0x43");
	imap_test_expect("a STATUS x ()", "ERR a SYNTAX Empty STATUS item list");
	imap_test_expect("a STATUS x (FOO)", "ERR a SYNTAX Unknown STATUS item");
	imap_test_expect("a STATUS x MESSAGES", "ERR a SYNTAX Expected a parenthesized list");
	imap_test_expect("a STATUS x", "ERR a SYNTAX Missing argument");
}

/* --- APPEND ---------------------------------------------------------------- */

static void
test_append_interop(void **state)
{
	(void)state;
	/* INTEROP: Apple, LITERAL+, day padded with a space */
	imap_test_check("a APPEND Sent (\\Seen) \" 7-Feb-2026 10:11:12 +0100\" {5+}\r\nhello\r\n",
	    "APPEND a #0 mbox=Sent size=5 nosync (\\Seen) 2026-02-07T10:11:12+0100 data=\"hello\"\n"
	    "CMD a APPEND mbox=\"Sent\" {(\\Seen) 2026-02-07T10:11:12+0100 5+}\n");
	/* INTEROP: iOS, a day without its leading zero, synchronizing */
	imap_test_check("a APPEND Drafts (\\Draft) \"7-Feb-2026 10:11:12 +0100\" {12}\r\n"
	    "Subject: x\r\n\r\n",
	    "APPEND a #0 mbox=Drafts size=12 sync (\\Draft) 2026-02-07T10:11:12+0100 "
	    "data=\"Subject: x\\x0d\\x0a\"\n"
	    "CMD a APPEND mbox=\"Drafts\" {(\\Draft) 2026-02-07T10:11:12+0100 12}\n");
	imap_test_check("a APPEND inbox {3}\r\nabc\r\n",
	    "APPEND a #0 mbox=INBOX size=3 sync  data=\"abc\"\nCMD a APPEND mbox=\"INBOX\" { 3}\n");
	imap_test_check("a APPEND x () \"07-Feb-2026 23:59:60 -0330\" {0}\r\n\r\n",
	    "APPEND a #0 mbox=x size=0 sync () 2026-02-07T23:59:60-0330 data=\"\"\n"
	    "CMD a APPEND mbox=\"x\" {() 2026-02-07T23:59:60-0330 0}\n");
}

static void
test_append_flags_and_keywords(void **state)
{
	(void)state;
	imap_test_check("a APPEND x (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded) {1+}\r\nz\r\n",
	    "APPEND a #0 mbox=x size=1 nosync (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
	    "$Forwarded) data=\"z\"\n"
	    "CMD a APPEND mbox=\"x\" {(\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded) 1+}\n");
	imap_test_check("a APPEND x (\\Recent) {1+}\r\nz\r\nb NOOP\r\n",
	    "ERR a SYNTAX Invalid system flag\nCMD b NOOP\n");
	imap_test_check("a APPEND x (\\Recent) {1}\r\nb NOOP\r\n",
	    "ERR a SYNTAX Invalid system flag\nCMD b NOOP\n");
	imap_test_check("a APPEND x (\\Foo) {1}\r\nb NOOP\r\n",
	    "ERR a SYNTAX Invalid system flag\nCMD b NOOP\n");
	imap_test_check("a APPEND x (a%b) {1}\r\nb NOOP\r\n",
	    "ERR a SYNTAX Invalid keyword\nCMD b NOOP\n");
	imap_test_check("a APPEND x (\"a\") {1}\r\nb NOOP\r\n",
	    "ERR a SYNTAX Invalid flag\nCMD b NOOP\n");
}

static void
test_append_dates(void **state)
{
	(void)state;
	imap_test_check("a APPEND x \"29-Feb-2024 00:00:00 +0000\" {1+}\r\nz\r\n",
	    "APPEND a #0 mbox=x size=1 nosync  2024-02-29T00:00:00+0000 data=\"z\"\n"
	    "CMD a APPEND mbox=\"x\" { 2024-02-29T00:00:00+0000 1+}\n");
	imap_test_check("a APPEND x \"29-Feb-2026 00:00:00 +0000\" {1}\r\n",
	    "ERR a SYNTAX Invalid date-time\n");
	imap_test_check("a APPEND x \"7-Foo-2026 00:00:00 +0000\" {1}\r\n",
	    "ERR a SYNTAX Invalid date-time\n");
	imap_test_check("a APPEND x \"07-feb-2026 24:00:00 +0000\" {1}\r\n",
	    "ERR a SYNTAX Invalid date-time\n");
	imap_test_check("a APPEND x \"07-Feb-2026 10:00:00 +0060\" {1}\r\n",
	    "ERR a SYNTAX Invalid date-time\n");
	imap_test_check("a APPEND x \"007-Feb-2026 10:00:00 +0000\" {1}\r\n",
	    "ERR a SYNTAX Invalid date-time\n");
	imap_test_check("a APPEND x \"  7-Feb-2026 10:00:00 +0000\" {1}\r\n",
	    "ERR a SYNTAX Invalid date-time\n");
	imap_test_check("a APPEND x \"07-Feb-2026 10:00:00\" {1}\r\n",
	    "ERR a SYNTAX Invalid date-time\n");
	imap_test_check("a APPEND x \"07-Feb-2026 10:00:00 +0000 \" {1}\r\n",
	    "ERR a SYNTAX Invalid date-time\n");
	imap_test_check("a APPEND x 07-Feb-2026 {1}\r\n", "ERR a SYNTAX Invalid date-time\n");
	imap_test_check("a APPEND x \"07-Feb-2026 10:00:00 +0000\" () {1}\r\n",
	    "ERR a SYNTAX Unexpected extra arguments\n");
}

static void
test_append_datetime_to_unix(void **state)
{
	struct imap_datetime dt = { { 2026, 2, 7 }, 10, 11, 12, 60 };
	struct imap_datetime epoch = { { 1970, 1, 1 }, 0, 0, 0, 0 };
	struct imap_datetime west = { { 1969, 12, 31 }, 20, 30, 0, -210 };

	(void)state;
	assert_int_equal(imap_datetime_to_unix(&dt), 1770455472);
	assert_int_equal(imap_datetime_to_unix(&epoch), 0);
	assert_int_equal(imap_datetime_to_unix(&west), 0);
}

static void
test_multiappend(void **state)
{
	(void)state;
	imap_test_check("a APPEND Sent (\\Seen) {3+}\r\none \"1-Jan-2025 00:00:00 +0000\" {3}\r\n"
	    "two {5+}\r\nthree\r\n",
	    "APPEND a #0 mbox=Sent size=3 nosync (\\Seen) data=\"one\"\n"
	    "APPEND a #1 mbox=Sent size=3 sync  2025-01-01T00:00:00+0000 data=\"two\"\n"
	    "APPEND a #2 mbox=Sent size=5 nosync  data=\"three\"\n"
	    "CMD a APPEND mbox=\"Sent\" {(\\Seen) 3+} { 2025-01-01T00:00:00+0000 3} { 5+}\n");
	imap_test_check("a APPEND x {1+}\r\nz junk\r\n",
	    "APPEND a #0 mbox=x size=1 nosync  data=\"z\"\n"
	    "ERR a SYNTAX Unexpected extra arguments\n");
}

static void
test_append_mailbox_literal(void **state)
{
	(void)state;
	/* only top-level literals after the mailbox are messages */
	imap_test_check("a APPEND {6}\r\nDrafts {3}\r\nabc\r\n",
	    "LIT a 6\nAPPEND a #0 mbox=Drafts size=3 sync  data=\"abc\"\n"
	    "CMD a APPEND mbox=\"Drafts\" { 3}\n");
	/* a flag is an atom, never a literal: refused before the message's "+" */
	imap_test_check("a APPEND x ({5}\r\n\\Seen) {1}\r\nb NOOP\r\n",
	    "LIT a 5\nERR a SYNTAX Invalid flag\nCMD b NOOP\n");
}

static void
test_append_errors(void **state)
{
	(void)state;
	imap_test_expect("a APPEND x", "ERR a SYNTAX Missing message literal");
	imap_test_expect("a APPEND x (\\Seen)", "ERR a SYNTAX Missing message literal");
	imap_test_expect("a APPEND", "ERR a SYNTAX Missing message literal");
	imap_test_check("a APPEND x y {1}\r\nb NOOP\r\n", "ERR a SYNTAX Invalid date-time\nCMD b NOOP\n");
	imap_test_check("a APPEND x \"1-Jan-2025 00:00:00 +0000\" z {1+}\r\nq\r\nb NOOP\r\n",
	    "ERR a SYNTAX Unexpected extra arguments\nCMD b NOOP\n");
}

static void
test_append_too_big(void **state)
{
	struct imap_parse_limits l = small_limits();

	(void)state;
	CHECK_LIM("a APPEND x {10}\r\n0123456789\r\n", &l,
	    "APPEND a #0 mbox=x size=10 sync  data=\"0123456789\"\nCMD a APPEND mbox=\"x\" { 10}\n");
	/* before "+": NO [TOOBIG], and the client does not send the literal */
	CHECK_LIM("a APPEND x {11}\r\nb NOOP\r\n", &l, "ERR a TOOBIG Message too big\nCMD b NOOP\n");
	/* {n+}: the client sends it anyway: fatal (STYLE.md 4) */
	CHECK_LIM("a APPEND x {11+}\r\n01234567890\r\n", &l, "ERR a TOOBIG Message too big FATAL\n");
	/* APPEND messages do not count against literal_max or cmd_max */
	l.append_max = 200;
	{
		struct imap_test_opts o = { &l, false, false };
		char in[256], want[512];
		int n = snprintf(in, sizeof in, "a APPEND x {150+}\r\n");

		memset(in + n, 'm', 150);
		memcpy(in + n + 150, "\r\nb NOOP\r\n", 11);
		snprintf(want, sizeof want, "APPEND a #0 mbox=x size=150 nosync  data=\"%.150s\"\n"
		    "CMD a APPEND mbox=\"x\" { 150+}\nCMD b NOOP\n", in + n);
		imap_test_check_opts(in, (size_t)n + 160, want, &o);
	}
}

static void
test_append_rejected_by_session(void **state)
{
	struct imap_test_opts o = { NULL, false, true };
	static const char sync_in[] = "a APPEND x {5}\r\nb NOOP\r\n";
	static const char nosync_in[] = "a APPEND x {5+}\r\nhello {3+}\r\nabc\r\nb NOOP\r\n";
	static const char second[] = "a APPEND x {1+}\r\nz {2}\r\nb NOOP\r\n";

	(void)state;
	imap_test_check_opts(sync_in, sizeof sync_in - 1, "APPEND a #0 rejected\nCMD b NOOP\n", &o);
	/* {n+}: the parser discards the literal and the rest of the command */
	imap_test_check_opts(nosync_in, sizeof nosync_in - 1, "APPEND a #0 rejected\nCMD b NOOP\n",
	    &o);
	imap_test_check_opts(second, sizeof second - 1, "APPEND a #0 rejected\nCMD b NOOP\n", &o);
}

static void
test_append_session_takes_literal(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_parse_event ev;
	static const char in[] = "a APPEND INBOX {5}\r\nhello\r\n";
	size_t used;

	(void)state;
	assert_int_equal(imap_parser_feed(p, in, sizeof in - 1, &used, &ev), IMAP_PARSE_APPEND);
	assert_int_equal(used, 20);
	assert_int_equal(ev.literal_size, 5);
	assert_true(ev.literal_sync);
	assert_int_equal(ev.cmd_id, IMAP_CMD_APPEND);
	assert_int_equal(ev.tag_len, 1);
	assert_memory_equal(ev.tag, "a", 1);
	assert_string_equal(ev.append_mailbox->s, "INBOX");
	assert_false(ev.append->has_flags);
	imap_parser_literal_done(p);	/* the session took "hello" */
	assert_int_equal(imap_parser_feed(p, in + 25, 2, &used, &ev), IMAP_PARSE_COMMAND);
	assert_int_equal(ev.cmd->id, IMAP_CMD_APPEND);
	assert_int_equal(ev.cmd->u.append.nmsgs, 1);
	imap_cmd_free(&ev.cmd);
	imap_parser_free(&p);
}

/* --- EXPUNGE, STORE, COPY, MOVE ------------------------------------------ */

static void
test_expunge(void **state)
{
	(void)state;
	imap_test_expect("a EXPUNGE", "CMD a EXPUNGE");
	imap_test_expect("a UID EXPUNGE 3000:3002,3005", "CMD a UID EXPUNGE set=3000:3002,3005");
	imap_test_expect("a UID EXPUNGE", "ERR a SYNTAX Missing argument");
	imap_test_expect("a EXPUNGE 1", "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a UID EXPUNGE 0", "ERR a SYNTAX Invalid sequence set");
}

static void
test_store(void **state)
{
	(void)state;
	imap_test_expect("a STORE 2:4 +FLAGS (\\Deleted)",
	    "CMD a STORE set=2:4 +FLAGS (\\Deleted)");
	imap_test_expect("a UID STORE 1:* -FLAGS.SILENT (\\Seen $Junk)",
	    "CMD a UID STORE set=1:* -FLAGS.SILENT (\\Seen $Junk)");
	imap_test_expect("a STORE 1 FLAGS ()", "CMD a STORE set=1 FLAGS ()");
	imap_test_expect("a STORE 1 flags.silent \\Seen \\Flagged kw",
	    "CMD a STORE set=1 FLAGS.SILENT (\\Flagged \\Seen kw)");
	imap_test_expect("a STORE 1 +FLAGS \\Seen", "CMD a STORE set=1 +FLAGS (\\Seen)");
	imap_test_expect("a UID STORE 7 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)",
	    "CMD a UID STORE set=7 unchangedsince=320162338 +FLAGS.SILENT (\\Deleted)");
	imap_test_expect("a STORE 1 (UNCHANGEDSINCE 0) FLAGS ()",
	    "CMD a STORE set=1 unchangedsince=0 FLAGS ()");
	imap_test_expect("a STORE 1 +FLAGS", "ERR a SYNTAX Missing flags");
	imap_test_expect("a STORE 1 FLAG (\\Seen)", "ERR a SYNTAX Invalid STORE attribute");
	imap_test_expect("a STORE 1", "ERR a SYNTAX Missing argument");
	imap_test_expect("a STORE 1 +FLAGS (\\Recent)", "ERR a SYNTAX Invalid system flag");
	imap_test_expect("a STORE 1 +FLAGS (\\Seen) x", "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a STORE 1 +FLAGS \\Seen (x)", "ERR a SYNTAX Invalid flag");
	imap_test_expect("a STORE 1 () FLAGS ()", "ERR a SYNTAX Empty STORE modifiers");
	imap_test_expect("a STORE 1 (FOO 1) FLAGS ()", "ERR a SYNTAX Unknown STORE modifier");
	imap_test_expect("a STORE 1 (UNCHANGEDSINCE) FLAGS ()", "ERR a SYNTAX Missing argument");
	imap_test_expect("a STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()",
	    "ERR a SYNTAX Unknown STORE modifier");
	imap_test_expect("a STORE x FLAGS ()", "ERR a SYNTAX Invalid sequence set");
}

static void
test_copy_move(void **state)
{
	(void)state;
	imap_test_expect("a COPY 2:4 MEETING", "CMD a COPY set=2:4 mbox=\"MEETING\"");
	imap_test_expect("a UID COPY 4827313:4828442 \"Sent Items\"",
	    "CMD a UID COPY set=4827313:4828442 mbox=\"Sent Items\"");
	imap_test_expect("a MOVE 1 inbox", "CMD a MOVE set=1 mbox=\"INBOX\"");
	imap_test_expect("a UID MOVE 42,$ Trash", "CMD a UID MOVE set=42,$ mbox=\"Trash\"");
	imap_test_expect("a COPY 1", "ERR a SYNTAX Missing argument");
	imap_test_expect("a COPY (1) x", "ERR a SYNTAX Invalid sequence set");
	imap_test_expect("a MOVE 1 x y", "ERR a SYNTAX Unexpected extra arguments");
}

/* --- helpers ---------------------------------------------------------------- */

static void
test_idle_done(void **state)
{
	char big[IMAP_DONE_LINE_MAX + 8];
	size_t used;

	(void)state;
	assert_int_equal(imap_idle_done("DONE\r\n", 6, &used), IMAP_DONE_OK);
	assert_int_equal(used, 6);
	assert_int_equal(imap_idle_done("done\na NOOP\r\n", 13, &used), IMAP_DONE_OK);
	assert_int_equal(used, 5);
	assert_int_equal(imap_idle_done("DON", 3, &used), IMAP_DONE_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(imap_idle_done("DONE\r", 5, &used), IMAP_DONE_MORE);
	assert_int_equal(imap_idle_done("", 0, &used), IMAP_DONE_MORE);
	assert_int_equal(imap_idle_done("a NOOP\r\n", 8, &used), IMAP_DONE_BAD);
	assert_int_equal(used, 8);
	assert_int_equal(imap_idle_done("DONE \r\n", 7, &used), IMAP_DONE_BAD);
	/* a line of exactly IMAP_DONE_LINE_MAX octets is read; one more is not */
	memset(big, 'x', sizeof big);
	memcpy(big + IMAP_DONE_LINE_MAX, "\r\n", 2);
	assert_int_equal(imap_idle_done(big, IMAP_DONE_LINE_MAX + 2, &used), IMAP_DONE_BAD);
	assert_int_equal(used, IMAP_DONE_LINE_MAX + 2);
	memset(big, 'x', sizeof big);
	memcpy(big + IMAP_DONE_LINE_MAX + 1, "\r\n", 2);
	assert_int_equal(imap_idle_done(big, IMAP_DONE_LINE_MAX + 3, &used), IMAP_DONE_BAD);
	assert_int_equal(used, 0);
	assert_int_equal(imap_idle_done(big, IMAP_DONE_LINE_MAX + 1, &used), IMAP_DONE_MORE);
}

static void
test_reset_drops_partial_command(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_parse_event ev;
	size_t used;

	(void)state;
	assert_int_equal(imap_parser_feed(p, "a LOGIN {5+}\r\nhel", 17, &used, &ev), IMAP_PARSE_MORE);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "b NOOP\r\n", 8, &used, &ev), IMAP_PARSE_COMMAND);
	assert_string_equal(ev.cmd->tag.s, "b");
	imap_cmd_free(&ev.cmd);
	imap_parser_free(&p);
}

static void
test_fatal_is_sticky(void **state)
{
	struct imap_parse_limits l = small_limits();
	struct imap_parser *p = imap_parser_new(&l);
	struct imap_parse_event ev;
	size_t used;

	(void)state;
	assert_int_equal(imap_parser_feed(p, "a LOGIN {11+}\r\nxx", 17, &used, &ev), IMAP_PARSE_ERROR);
	assert_true(ev.fatal);
	assert_int_equal(used, 15);
	assert_int_equal(imap_parser_feed(p, "b NOOP\r\n", 8, &used, &ev), IMAP_PARSE_ERROR);
	assert_true(ev.fatal);
	assert_int_equal(used, 0);
	assert_int_equal(ev.err, IMAP_PERR_LITERAL_TOO_BIG);
	imap_parser_free(&p);
}

static void
test_cmd_name(void **state)
{
	(void)state;
	assert_string_equal(imap_cmd_name(IMAP_CMD_FETCH), "FETCH");
	assert_string_equal(imap_cmd_name(IMAP_CMD_UNSUBSCRIBE), "UNSUBSCRIBE");
	assert_string_equal(imap_cmd_name(IMAP_CMD_NONE), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_argument_commands),
		cmocka_unit_test(test_command_names_case_insensitive),
		cmocka_unit_test(test_unknown_commands),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_tag_length_limit),
		cmocka_unit_test(test_bare_lf_accepted),
		cmocka_unit_test(test_bare_lf_strict),
		cmocka_unit_test(test_bare_cr_refused),
		cmocka_unit_test(test_empty_lines_ignored),
		cmocka_unit_test(test_need_more),
		cmocka_unit_test(test_pipelined_commands),
		cmocka_unit_test(test_separators_strict),
		cmocka_unit_test(test_nul_and_8bit),
		cmocka_unit_test(test_quoted_strings),
		cmocka_unit_test(test_sync_literal),
		cmocka_unit_test(test_nonsync_literal),
		cmocka_unit_test(test_literal_in_list),
		cmocka_unit_test(test_literal_rejected_by_session),
		cmocka_unit_test(test_literal_syntax_errors),
		cmocka_unit_test(test_literal_nul_refused_and_skipped),
		cmocka_unit_test(test_error_recovery_skips_literals),
		cmocka_unit_test(test_limit_line_max),
		cmocka_unit_test(test_limit_line_max_defaults),
		cmocka_unit_test(test_limit_line_max_continuation),
		cmocka_unit_test(test_limit_cmd_max),
		cmocka_unit_test(test_limit_literal_max),
		cmocka_unit_test(test_limit_literal_minus),
		cmocka_unit_test(test_limit_depth),
		cmocka_unit_test(test_limit_args),
		cmocka_unit_test(test_limit_seq_ranges),
		cmocka_unit_test(test_limits_apply_from_next_command),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_authenticate),
		cmocka_unit_test(test_enable),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_id_pairs_limit),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_select_qresync),
		cmocka_unit_test(test_create_delete_rename),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_append_interop),
		cmocka_unit_test(test_append_flags_and_keywords),
		cmocka_unit_test(test_append_dates),
		cmocka_unit_test(test_append_datetime_to_unix),
		cmocka_unit_test(test_multiappend),
		cmocka_unit_test(test_append_mailbox_literal),
		cmocka_unit_test(test_append_errors),
		cmocka_unit_test(test_append_too_big),
		cmocka_unit_test(test_append_rejected_by_session),
		cmocka_unit_test(test_append_session_takes_literal),
		cmocka_unit_test(test_expunge),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_copy_move),
		cmocka_unit_test(test_idle_done),
		cmocka_unit_test(test_reset_drops_partial_command),
		cmocka_unit_test(test_fatal_is_sticky),
		cmocka_unit_test(test_cmd_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
