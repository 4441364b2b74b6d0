/*
 * test_imap_parse_search.c: the SEARCH grammar (imap_parse_search.c): every
 * key of RFC 3501 6.4.4, NOT/OR/lists as a tree, ESEARCH RETURN, CHARSET,
 * MODSEQ, "$", dates, literals, and the key and depth limits.
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

static void
test_search_ios_not_deleted(void **state)
{
	(void)state;
	/* INTEROP 1: iOS Mail, verbatim */
	imap_test_expect("a UID SEARCH 1:* NOT DELETED",
	    "CMD a UID SEARCH nkeys=3 AND( SET(1:*) NOT( DELETED ) )");
}

static void
test_search_flag_keys(void **state)
{
	(void)state;
	imap_test_expect("a SEARCH ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN "
	    "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
	    "CMD a SEARCH nkeys=14 AND( ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN "
	    "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN )");
	imap_test_expect("a search unseen", "CMD a SEARCH nkeys=1 AND( UNSEEN )");
}

static void
test_search_string_keys(void **state)
{
	(void)state;
	imap_test_expect("a SEARCH BCC x CC \"y z\" FROM alice@example.org SUBJECT \"\" TEXT t "
	    "TO bob BODY \"hello world\"",
	    "CMD a SEARCH nkeys=7 AND( BCC(\"x\") CC(\"y z\") FROM(\"alice@example.org\") "
	    "SUBJECT(\"\") TEXT(\"t\") TO(\"bob\") BODY(\"hello world\") )");
	imap_test_expect("a SEARCH HEADER Message-ID \"<1@x>\" HEADER X-Empty \"\"",
	    "CMD a SEARCH nkeys=2 AND( HEADER(\"Message-ID\" \"<1@x>\") HEADER(\"X-Empty\" \"\") )");
	imap_test_expect("a SEARCH KEYWORD $Forwarded UNKEYWORD Junk",
	    "CMD a SEARCH nkeys=2 AND( KEYWORD(\"$Forwarded\") UNKEYWORD(\"Junk\") )");
	imap_test_expect("a SEARCH KEYWORD \\Seen", "ERR a SYNTAX Expected an atom");
	imap_test_expect("a SEARCH KEYWORD \"x\"", "ERR a SYNTAX Expected an atom");
	imap_test_expect("a SEARCH SUBJECT", "ERR a SYNTAX Missing argument");
	imap_test_expect("a SEARCH HEADER X", "ERR a SYNTAX Missing argument");
	imap_test_expect("a SEARCH FROM (x)", "ERR a SYNTAX Expected a string");
}

static void
test_search_charset_and_literals(void **state)
{
	(void)state;
	/* with CHARSET UTF-8 the strings are UTF-8 octets, in literals too */
	imap_test_check("a SEARCH CHARSET UTF-8 SUBJECT {5}\r\n\xc3\xa9t\xc3\xa9 BODY {3+}\r\nabc\r\n",
	    "LIT a 5\nCMD a SEARCH charset=\"UTF-8\" nkeys=2 AND( SUBJECT(\"\\xc3\\xa9t\\xc3\\xa9\") "
	    "BODY(\"abc\") )\n");
	imap_test_expect("a SEARCH CHARSET \"US-ASCII\" ALL",
	    "CMD a SEARCH charset=\"US-ASCII\" nkeys=1 AND( ALL )");
	imap_test_expect("a SEARCH CHARSET UTF-8", "ERR a SYNTAX Missing search key");
	imap_test_expect("a SEARCH CHARSET", "ERR a SYNTAX Missing argument");
}

static void
test_search_dates(void **state)
{
	(void)state;
	imap_test_expect("a SEARCH BEFORE 1-Feb-2026 ON \"07-Mar-2025\" SINCE 31-dec-1999 "
	    "SENTBEFORE 29-Feb-2024 SENTON 1-JAN-2000 SENTSINCE \"5-Jun-2020\"",
	    "CMD a SEARCH nkeys=6 AND( BEFORE(2026-02-01) ON(2025-03-07) SINCE(1999-12-31) "
	    "SENTBEFORE(2024-02-29) SENTON(2000-01-01) SENTSINCE(2020-06-05) )");
	imap_test_expect("a SEARCH SINCE 29-Feb-2025", "ERR a SYNTAX Invalid date");
	imap_test_expect("a SEARCH SINCE 32-Jan-2025", "ERR a SYNTAX Invalid date");
	imap_test_expect("a SEARCH SINCE 0-Jan-2025", "ERR a SYNTAX Invalid date");
	imap_test_expect("a SEARCH SINCE 001-Jan-2025", "ERR a SYNTAX Invalid date");
	imap_test_expect("a SEARCH SINCE 1-Jan-25", "ERR a SYNTAX Invalid date");
	imap_test_expect("a SEARCH SINCE 1-Jan-20255", "ERR a SYNTAX Invalid date");
	imap_test_expect("a SEARCH SINCE 1-Jun-2025x", "ERR a SYNTAX Invalid date");
	imap_test_expect("a SEARCH SINCE \" 1-Jun-2025\"", "ERR a SYNTAX Invalid date");
	imap_test_expect("a SEARCH SINCE 1/Jun/2025", "ERR a SYNTAX Invalid date");
	imap_test_expect("a SEARCH SINCE", "ERR a SYNTAX Missing date");
	imap_test_check("a SEARCH SINCE {10}\r\n1-Jun-2025\r\n",
	    "LIT a 10\nERR a SYNTAX Invalid date\n");
}

static void
test_search_numbers(void **state)
{
	(void)state;
	imap_test_expect("a SEARCH LARGER 1024 SMALLER 4294967296",
	    "CMD a SEARCH nkeys=2 AND( LARGER(1024) SMALLER(4294967296) )");
	imap_test_expect("a SEARCH LARGER 0", "CMD a SEARCH nkeys=1 AND( LARGER(0) )");
	imap_test_expect("a SEARCH LARGER -1", "ERR a SYNTAX Invalid number");
	imap_test_expect("a SEARCH LARGER 9223372036854775808", "ERR a SYNTAX Invalid number");
	imap_test_expect("a SEARCH SMALLER", "ERR a SYNTAX Missing argument");
}

static void
test_search_sets_and_uid(void **state)
{
	(void)state;
	imap_test_expect("a SEARCH 1,3:5 UID 100:* NOT UID 1:99,$",
	    "CMD a SEARCH nkeys=4 AND( SET(1,3:5) UID(100:*) NOT( UID(1:99,$) ) )");
	imap_test_expect("a SEARCH $", "CMD a SEARCH nkeys=1 AND( SET($) )");
	imap_test_expect("a SEARCH *", "CMD a SEARCH nkeys=1 AND( SET(*) )");
	imap_test_expect("a SEARCH UID", "ERR a SYNTAX Missing argument");
	imap_test_expect("a SEARCH 1:", "ERR a SYNTAX Invalid sequence set");
	imap_test_expect("a SEARCH FOO", "ERR a SYNTAX Unknown search key");
	imap_test_expect("a SEARCH \"ALL\"", "ERR a SYNTAX Invalid search key");
}

static void
test_search_tree(void **state)
{
	(void)state;
	imap_test_expect("a SEARCH OR FROM alice (TO bob SUBJECT hi) NOT OR SEEN FLAGGED",
	    "CMD a SEARCH nkeys=9 AND( OR( FROM(\"alice\") AND( TO(\"bob\") SUBJECT(\"hi\") ) ) "
	    "NOT( OR( SEEN FLAGGED ) ) )");
	imap_test_expect("a SEARCH OR OR SEEN DRAFT NOT (DELETED)",
	    "CMD a SEARCH nkeys=7 AND( OR( OR( SEEN DRAFT ) NOT( AND( DELETED ) ) ) )");
	imap_test_expect("a SEARCH (OR SEEN DRAFT) (ALL)",
	    "CMD a SEARCH nkeys=6 AND( AND( OR( SEEN DRAFT ) ) AND( ALL ) )");
	imap_test_expect("a SEARCH OR SEEN", "ERR a SYNTAX Missing search key");
	imap_test_expect("a SEARCH NOT", "ERR a SYNTAX Missing search key");
	imap_test_expect("a SEARCH ()", "ERR a SYNTAX Missing search key");
	imap_test_expect("a SEARCH", "ERR a SYNTAX Missing search key");
	imap_test_expect("a SEARCH (SEEN (DRAFT NOT))", "ERR a SYNTAX Missing search key");
}

static void
test_search_return(void **state)
{
	(void)state;
	imap_test_expect("a UID SEARCH RETURN (MIN MAX COUNT) UNSEEN",
	    "CMD a UID SEARCH ret=0xb nkeys=1 AND( UNSEEN )");
	imap_test_expect("a SEARCH RETURN () ALL", "CMD a SEARCH ret=0x4 nkeys=1 AND( ALL )");
	imap_test_expect("a SEARCH RETURN (SAVE) CHARSET UTF-8 ALL",
	    "CMD a SEARCH ret=0x10 charset=\"UTF-8\" nkeys=1 AND( ALL )");
	imap_test_expect("a SEARCH RETURN (ALL SAVE) 1:*",
	    "CMD a SEARCH ret=0x14 nkeys=1 AND( SET(1:*) )");
	imap_test_expect("a SEARCH RETURN (FOO) ALL", "ERR a SYNTAX Unknown SEARCH return option");
	imap_test_expect("a SEARCH RETURN ALL", "ERR a SYNTAX Expected a parenthesized list");
	imap_test_expect("a SEARCH RETURN (MIN)", "ERR a SYNTAX Missing search key");
	imap_test_expect("a SEARCH CHARSET UTF-8 RETURN (MIN) ALL", "ERR a SYNTAX Unknown search key");
}

static void
test_search_modseq(void **state)
{
	(void)state;
	/* RFC 7162 3.1.5 examples */
	imap_test_expect("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338",
	    "CMD a SEARCH nkeys=1 modseq AND( MODSEQ(\"/flags/\\x5cdraft\" 3 620162338) )");
	imap_test_expect("a SEARCH OR NOT MODSEQ 720162338 LARGER 50000",
	    "CMD a SEARCH nkeys=4 modseq AND( OR( NOT( MODSEQ(720162338) ) LARGER(50000) ) )");
	imap_test_expect("a SEARCH MODSEQ \"/flags/\\\\seen\" priv 0",
	    "CMD a SEARCH nkeys=1 modseq AND( MODSEQ(\"/flags/\\x5cseen\" 1 0) )");
	imap_test_expect("a SEARCH MODSEQ \"/flags/x\" shared 5",
	    "CMD a SEARCH nkeys=1 modseq AND( MODSEQ(\"/flags/x\" 2 5) )");
	imap_test_expect("a SEARCH MODSEQ \"/flags/x\" mine 5", "ERR a SYNTAX Invalid MODSEQ entry type");
	imap_test_expect("a SEARCH MODSEQ \"/flags/x\" 5", "ERR a SYNTAX Invalid MODSEQ entry type");
	imap_test_expect("a SEARCH MODSEQ", "ERR a SYNTAX Missing argument");
	imap_test_expect("a SEARCH MODSEQ x", "ERR a SYNTAX Invalid number");
}

static void
test_search_keys_limit(void **state)
{
	struct imap_parse_limits l;

	(void)state;
	imap_parse_limits_default(&l);
	/* NOT, OR and lists count as keys */
	l.search_keys_max = 4;
	imap_test_expect_lim("a SEARCH NOT OR SEEN DRAFT ALL", "ERR a LIMIT Too many search keys",
	    &l);
	l.search_keys_max = 5;
	imap_test_expect_lim("a SEARCH NOT OR SEEN DRAFT ALL",
	    "CMD a SEARCH nkeys=5 AND( NOT( OR( SEEN DRAFT ) ) ALL )", &l);
	l.search_keys_max = 4;
	imap_test_expect_lim("a SEARCH SEEN DRAFT ALL NEW", "CMD a SEARCH nkeys=4 AND( SEEN DRAFT "
	    "ALL NEW )", &l);
	imap_test_expect_lim("a SEARCH SEEN DRAFT ALL NEW OLD", "ERR a LIMIT Too many search keys",
	    &l);
}

static void
test_search_depth_limit(void **state)
{
	struct imap_parse_limits l;

	(void)state;
	imap_parse_limits_default(&l);
	l.depth_max = 3;
	/* NOT and OR nest like parentheses */
	imap_test_expect_lim("a SEARCH NOT NOT NOT ALL",
	    "CMD a SEARCH nkeys=4 AND( NOT( NOT( NOT( ALL ) ) ) )", &l);
	imap_test_expect_lim("a SEARCH NOT NOT NOT NOT ALL", "ERR a LIMIT Search too deeply nested",
	    &l);
	imap_test_expect_lim("a SEARCH (NOT (ALL))", "CMD a SEARCH nkeys=4 AND( AND( NOT( AND( ALL ) "
	    ") ) )", &l);
	imap_test_expect_lim("a SEARCH (NOT (NOT ALL))", "ERR a LIMIT Search too deeply nested", &l);
}

static void
test_search_deep_default_limits(void **state)
{
	struct imap_tbuf line = { NULL, 0, 0 };
	char *out;
	int i;

	(void)state;
	/* a long NOT chain cannot recurse past depth_max */
	imap_tbuf_printf(&line, "a SEARCH");
	for (i = 0; i < 1000; i++)
		imap_tbuf_printf(&line, " NOT");
	imap_tbuf_printf(&line, " ALL");
	out = imap_test_parse1(line.s, NULL);
	assert_string_equal(out, "ERR a LIMIT Search too deeply nested\n");
	free(out);
	imap_tbuf_free(&line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_search_ios_not_deleted),
		cmocka_unit_test(test_search_flag_keys),
		cmocka_unit_test(test_search_string_keys),
		cmocka_unit_test(test_search_charset_and_literals),
		cmocka_unit_test(test_search_dates),
		cmocka_unit_test(test_search_numbers),
		cmocka_unit_test(test_search_sets_and_uid),
		cmocka_unit_test(test_search_tree),
		cmocka_unit_test(test_search_return),
		cmocka_unit_test(test_search_modseq),
		cmocka_unit_test(test_search_keys_limit),
		cmocka_unit_test(test_search_depth_limit),
		cmocka_unit_test(test_search_deep_default_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
