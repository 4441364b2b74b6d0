/*
 * test_imap_parse_fetch.c: the FETCH grammar (imap_parse_fetch.c): every
 * attribute of RFC 3501 and CONDSTORE, sections at any depth, partials with
 * their bounds, macros, modifiers, and what real clients send verbatim.
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
test_fetch_thunderbird_header_list(void **state)
{
	(void)state;
	/* INTEROP: Thunderbird's header listing, verbatim */
	imap_test_expect("5 UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc "
	    "Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To "
	    "Content-Type Reply-To)])",
	    "CMD 5 UID FETCH set=1:* atts=[UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS [\"From\" "
	    "\"To\" \"Cc\" \"Bcc\" \"Subject\" \"Date\" \"Message-ID\" \"Priority\" \"X-Priority\" "
	    "\"References\" \"Newsgroups\" \"In-Reply-To\" \"Content-Type\" \"Reply-To\"]]]");
}

static void
test_fetch_apple_forms(void **state)
{
	(void)state;
	/* INTEROP: Mail.app resynchronizing after CONDSTORE */
	imap_test_expect("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 123)",
	    "CMD a UID FETCH set=1:* atts=[FLAGS] changedsince=123");
	/* INTEROP: iOS 393216-octet chunks */
	imap_test_expect("a UID FETCH 42 (BODY.PEEK[]<393216.393216>)",
	    "CMD a UID FETCH set=42 atts=[BODY.PEEK[]<393216.393216>]");
	imap_test_expect("a UID FETCH 42 (UID BODY.PEEK[2]<0.393216>)",
	    "CMD a UID FETCH set=42 atts=[UID BODY.PEEK[2]<0.393216>]");
	/* INTEROP: iOS 16.5 CHANGEDSINCE 0 */
	imap_test_expect("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 0)",
	    "CMD a UID FETCH set=1:* atts=[FLAGS] changedsince=0");
}

static void
test_fetch_simple_attributes(void **state)
{
	(void)state;
	imap_test_expect("a FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE "
	    "RFC822 RFC822.HEADER RFC822.TEXT MODSEQ)",
	    "CMD a FETCH set=1 atts=[UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE "
	    "RFC822 RFC822.HEADER RFC822.TEXT MODSEQ]");
	imap_test_expect("a FETCH 1 flags", "CMD a FETCH set=1 atts=[FLAGS]");
	imap_test_expect("a FETCH 1 rfc822.size", "CMD a FETCH set=1 atts=[RFC822.SIZE]");
	imap_test_expect("a FETCH 1 BODYSTRUCTURE", "CMD a FETCH set=1 atts=[BODYSTRUCTURE]");
	imap_test_expect("a FETCH 1 (FLAGS FLAGS)", "CMD a FETCH set=1 atts=[FLAGS FLAGS]");
}

static void
test_fetch_macros(void **state)
{
	(void)state;
	imap_test_expect("a FETCH 1:3 ALL",
	    "CMD a FETCH set=1:3 macro=ALL atts=[FLAGS INTERNALDATE RFC822.SIZE ENVELOPE]");
	imap_test_expect("a FETCH 1 fast", "CMD a FETCH set=1 macro=FAST atts=[FLAGS INTERNALDATE "
	    "RFC822.SIZE]");
	imap_test_expect("a FETCH 1 FULL", "CMD a FETCH set=1 macro=FULL atts=[FLAGS INTERNALDATE "
	    "RFC822.SIZE ENVELOPE BODY]");
	imap_test_expect("a FETCH 1 (ALL)", "ERR a SYNTAX Unknown FETCH attribute");
	imap_test_expect("a FETCH 1 ALL (CHANGEDSINCE 5)",
	    "CMD a FETCH set=1 macro=ALL atts=[FLAGS INTERNALDATE RFC822.SIZE ENVELOPE] "
	    "changedsince=5");
}

static void
test_fetch_sections(void **state)
{
	(void)state;
	imap_test_expect("a FETCH 1 (BODY[] BODY[HEADER] BODY[TEXT] BODY.PEEK[1] BODY[1.2.3] "
	    "BODY[1.MIME] BODY[4.2.HEADER] BODY[3.TEXT] body.peek[1.2.mime])",
	    "CMD a FETCH set=1 atts=[BODY[] BODY[HEADER] BODY[TEXT] BODY.PEEK[1] BODY[1.2.3] "
	    "BODY[1.MIME] BODY[4.2.HEADER] BODY[3.TEXT] BODY.PEEK[1.2.MIME]]");
	imap_test_expect("a FETCH 1 BODY[1.2.3.4.5.6.7.8.9.10.11.12]",
	    "CMD a FETCH set=1 atts=[BODY[1.2.3.4.5.6.7.8.9.10.11.12]]");
	imap_test_expect("a FETCH 1 BODY[HEADER.FIELDS.NOT (Received \"X-Spam\")]",
	    "CMD a FETCH set=1 atts=[BODY[HEADER.FIELDS.NOT [\"Received\" \"X-Spam\"]]]");
	imap_test_expect("a FETCH 1 BODY[2.HEADER.FIELDS (Subject)]<0.100>",
	    "CMD a FETCH set=1 atts=[BODY[2.HEADER.FIELDS [\"Subject\"]]<0.100>]");
	imap_test_expect("a FETCH 1 BODY[4294967295]", "CMD a FETCH set=1 atts=[BODY[4294967295]]");
}

static void
test_fetch_section_field_literal(void **state)
{
	(void)state;
	/* header-fld-name = astring: a literal works too, even split across lines */
	imap_test_check("a FETCH 1 BODY[HEADER.FIELDS ({4}\r\nFrom {2+}\r\nTo)]<0.10>\r\n",
	    "LIT a 4\nCMD a FETCH set=1 atts=[BODY[HEADER.FIELDS [\"From\" \"To\"]]<0.10>]\n");
}

static void
test_fetch_section_errors(void **state)
{
	(void)state;
	imap_test_expect("a FETCH 1 BODY[MIME]", "ERR a SYNTAX MIME needs a part number");
	imap_test_expect("a FETCH 1 BODY[0]", "ERR a SYNTAX Invalid section part");
	imap_test_expect("a FETCH 1 BODY[01]", "ERR a SYNTAX Invalid section part");
	imap_test_expect("a FETCH 1 BODY[4294967296]", "ERR a SYNTAX Invalid section part");
	imap_test_expect("a FETCH 1 BODY[1.]", "ERR a SYNTAX Invalid section");
	imap_test_expect("a FETCH 1 BODY[.1]", "ERR a SYNTAX Invalid section");
	imap_test_expect("a FETCH 1 BODY[1..2]", "ERR a SYNTAX Invalid section");
	imap_test_expect("a FETCH 1 BODY[FOO]", "ERR a SYNTAX Invalid section");
	imap_test_expect("a FETCH 1 BODY[1.FOO]", "ERR a SYNTAX Invalid section");
	imap_test_expect("a FETCH 1 BODY[HEADER.FIELDS]", "ERR a SYNTAX Missing argument");
	imap_test_expect("a FETCH 1 BODY[HEADER.FIELDS ()]", "ERR a SYNTAX Empty header list");
	imap_test_expect("a FETCH 1 BODY[HEADER.FIELDS From]",
	    "ERR a SYNTAX Expected a parenthesized list");
	imap_test_expect("a FETCH 1 BODY[HEADER (From)]", "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a FETCH 1 BODY[HEADER.FIELDS (From) x]",
	    "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a FETCH 1 BODY[HEADER.FIELDS (a%b)]", "ERR a SYNTAX Expected a string");
	imap_test_expect("a FETCH 1 BODY[\"HEADER\"]", "ERR a SYNTAX Expected an atom");
	imap_test_expect("a FETCH 1 BODY[HEADER", "ERR a SYNTAX Missing ')'");
	imap_test_expect("a FETCH 1 (BODY[HEADER)]", "ERR a SYNTAX Unexpected ')'");
	imap_test_expect("a FETCH 1 BODY]", "ERR a SYNTAX Unexpected ']'");
	imap_test_expect("a FETCH 1 BODY.PEEK", "ERR a SYNTAX Unknown FETCH attribute");
	imap_test_expect("a FETCH 1 BODY.PEEK(1)", "ERR a SYNTAX Expected space");
	imap_test_expect("a FETCH 1 RFC822[]", "ERR a SYNTAX Unknown FETCH attribute");
	imap_test_expect("a FETCH 1 BODY[] []", "ERR a SYNTAX Invalid character");
	imap_test_expect("a FETCH 1 BODY[]x", "ERR a SYNTAX Expected space");
}

static void
test_fetch_partial_bounds(void **state)
{
	(void)state;
	imap_test_expect("a FETCH 1 BODY[]<0.1>", "CMD a FETCH set=1 atts=[BODY[]<0.1>]");
	imap_test_expect("a FETCH 1 BODY[]<4294967295.4294967295>",
	    "CMD a FETCH set=1 atts=[BODY[]<4294967295.4294967295>]");
	imap_test_expect("a FETCH 1 BODY[]<4294967296.1>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<1.4294967296>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<0.0>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<0>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<.5>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<5.>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<1.2.3>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<-1.2>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<1.2", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<000000000000000000000000000000.1>",
	    "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BODY[]<00000000000000000001.1>",
	    "CMD a FETCH set=1 atts=[BODY[]<1.1>]");
}

static void
test_fetch_binary(void **state)
{
	(void)state;
	imap_test_expect("a FETCH 1 (BINARY[1] BINARY.PEEK[1.2]<0.10> BINARY.SIZE[3] BINARY[])",
	    "CMD a FETCH set=1 atts=[BINARY[1] BINARY.PEEK[1.2]<0.10> BINARY.SIZE[3] BINARY[]]");
	imap_test_expect("a FETCH 1 BINARY[1.MIME]", "ERR a SYNTAX Invalid section");
	imap_test_expect("a FETCH 1 BINARY[HEADER]", "ERR a SYNTAX Invalid section");
	imap_test_expect("a FETCH 1 BINARY.SIZE[1]<0.1>", "ERR a SYNTAX Invalid partial");
	imap_test_expect("a FETCH 1 BINARY", "ERR a SYNTAX Unknown FETCH attribute");
}

static void
test_fetch_modifiers(void **state)
{
	(void)state;
	imap_test_expect("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
	    "CMD a UID FETCH set=1:* atts=[FLAGS] changedsince=12345 vanished");
	imap_test_expect("a UID FETCH 1:* (FLAGS) (VANISHED CHANGEDSINCE 9223372036854775807)",
	    "CMD a UID FETCH set=1:* atts=[FLAGS] changedsince=9223372036854775807 vanished");
	imap_test_expect("a UID FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)",
	    "ERR a SYNTAX Invalid number");
	imap_test_expect("a FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
	    "ERR a SYNTAX VANISHED needs UID FETCH and CHANGEDSINCE");
	imap_test_expect("a UID FETCH 1:* (FLAGS) (VANISHED)",
	    "ERR a SYNTAX VANISHED needs UID FETCH and CHANGEDSINCE");
	imap_test_expect("a FETCH 1 FLAGS ()", "ERR a SYNTAX Empty FETCH modifiers");
	imap_test_expect("a FETCH 1 FLAGS (FOO)", "ERR a SYNTAX Unknown FETCH modifier");
	imap_test_expect("a FETCH 1 FLAGS (CHANGEDSINCE)", "ERR a SYNTAX Missing argument");
	imap_test_expect("a FETCH 1 FLAGS (CHANGEDSINCE x)", "ERR a SYNTAX Invalid number");
	imap_test_expect("a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
	    "ERR a SYNTAX Unknown FETCH modifier");
	imap_test_expect("a FETCH 1 FLAGS (CHANGEDSINCE 1) x",
	    "ERR a SYNTAX Unexpected extra arguments");
	imap_test_expect("a FETCH 1 FLAGS CHANGEDSINCE", "ERR a SYNTAX Expected a parenthesized list");
}

static void
test_fetch_errors(void **state)
{
	(void)state;
	imap_test_expect("a FETCH", "ERR a SYNTAX Missing argument");
	imap_test_expect("a FETCH 1", "ERR a SYNTAX Missing FETCH attributes");
	imap_test_expect("a FETCH 1 ()", "ERR a SYNTAX Empty FETCH attribute list");
	imap_test_expect("a FETCH 1 (FOO)", "ERR a SYNTAX Unknown FETCH attribute");
	imap_test_expect("a FETCH 1 \"FLAGS\"", "ERR a SYNTAX Invalid FETCH attribute");
	imap_test_expect("a FETCH 1 ((FLAGS))", "ERR a SYNTAX Invalid FETCH attribute");
	imap_test_expect("a FETCH 0 FLAGS", "ERR a SYNTAX Invalid sequence set");
	imap_test_expect("a FETCH 1:x FLAGS", "ERR a SYNTAX Invalid sequence set");
	imap_test_expect("a FETCH FLAGS", "ERR a SYNTAX Invalid sequence set");
}

static void
test_fetch_sequence_sets(void **state)
{
	(void)state;
	imap_test_expect("a FETCH 5:3,*,7:*,$ FLAGS", "CMD a FETCH set=3:5,*,7:*,$ atts=[FLAGS]");
	imap_test_expect("a UID FETCH *:4 FLAGS", "CMD a UID FETCH set=4:* atts=[FLAGS]");
	imap_test_expect("a FETCH $ FLAGS", "CMD a FETCH set=$ atts=[FLAGS]");
}

static void
test_fetch_atts_limit(void **state)
{
	struct imap_parse_limits l;

	(void)state;
	imap_parse_limits_default(&l);
	l.fetch_atts_max = 4;
	imap_test_expect_lim("a FETCH 1 (UID FLAGS ENVELOPE BODY[])",
	    "CMD a FETCH set=1 atts=[UID FLAGS ENVELOPE BODY[]]", &l);
	imap_test_expect_lim("a FETCH 1 (UID FLAGS ENVELOPE BODY[] MODSEQ)",
	    "ERR a LIMIT Too many FETCH attributes", &l);
	imap_test_expect_lim("a FETCH 1 ALL",
	    "CMD a FETCH set=1 macro=ALL atts=[FLAGS INTERNALDATE RFC822.SIZE ENVELOPE]", &l);
	imap_test_expect_lim("a FETCH 1 FULL", "ERR a LIMIT Too many FETCH attributes", &l);
}

static void
test_fetch_brackets_only_in_fetch(void **state)
{
	(void)state;
	/* "[" and "]" are ordinary astring characters elsewhere (mailbox names) */
	imap_test_expect("a SELECT [Gmail]/Sent", "CMD a SELECT mbox=\"[Gmail]/Sent\"");
	imap_test_expect("a COPY 1 [Gmail]", "CMD a COPY set=1 mbox=\"[Gmail]\"");
	imap_test_expect("a FETCH 1 BODY[HEADER.FIELDS (X])]", "ERR a SYNTAX Unexpected ']'");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_thunderbird_header_list),
		cmocka_unit_test(test_fetch_apple_forms),
		cmocka_unit_test(test_fetch_simple_attributes),
		cmocka_unit_test(test_fetch_macros),
		cmocka_unit_test(test_fetch_sections),
		cmocka_unit_test(test_fetch_section_field_literal),
		cmocka_unit_test(test_fetch_section_errors),
		cmocka_unit_test(test_fetch_partial_bounds),
		cmocka_unit_test(test_fetch_binary),
		cmocka_unit_test(test_fetch_modifiers),
		cmocka_unit_test(test_fetch_errors),
		cmocka_unit_test(test_fetch_sequence_sets),
		cmocka_unit_test(test_fetch_atts_limit),
		cmocka_unit_test(test_fetch_brackets_only_in_fetch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
