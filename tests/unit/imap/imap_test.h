/*
 * imap_test.h: helpers for the IMAP parser tests: a text rendering of parsed
 * commands, and a harness that feeds an input to a parser whole, one octet at
 * a time and in uneven pieces, and checks that each way gives the same
 * transcript of events (STYLE.md 5).
 */
#ifndef IMAP_TEST_H
#define IMAP_TEST_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/imap_parse.h"

/* A growing NUL-terminated string. */
struct imap_tbuf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

void imap_tbuf_printf(struct imap_tbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void imap_tbuf_free(struct imap_tbuf *b);

/* Renders a command as one line, e.g. 'a1 UID FETCH set=1:* atts=[FLAGS]'. */
void imap_test_dump_cmd(struct imap_tbuf *b, const struct imap_cmd *cmd);

struct imap_test_opts {
	const struct imap_parse_limits	*lim;		/* NULL: defaults */
	bool				 reject_literal;	/* answer IMAP_PARSE_LITERAL with reject */
	bool				 reject_append;		/* answer IMAP_PARSE_APPEND with reject */
};

/*
 * Feeds in[0..len) in pieces of chunk octets (0: all at once) and returns the
 * transcript, one event per line:
 *   CMD <dump>          LIT <tag> <n>          ERR <tag|*> <code> <msg>[ FATAL]
 *   APPEND <tag> #<i> mbox=<m> size=<n> sync|nosync <flags/date> data="<octets>"
 * An input that ends inside a command adds nothing. The caller frees the result.
 */
char *imap_test_run(const char *in, size_t len, size_t chunk, const struct imap_test_opts *o);

/*
 * Runs in whole, octet by octet and in pieces of 2, 3 and 7, asserts that all
 * transcripts are equal to each other and to want.
 */
void imap_test_check_opts(const char *in, size_t len, const char *want,
    const struct imap_test_opts *o);
#define imap_test_check(in, want) \
	imap_test_check_opts((in), sizeof(in) - 1, (want), NULL)

/* Parses one complete command (in without CRLF) and returns its dump, or the ERR line. */
char *imap_test_parse1(const char *line, const struct imap_parse_limits *lim);

/* Asserts that line (CRLF added) gives want, fed all the ways above. */
void imap_test_expect(const char *line, const char *want);
void imap_test_expect_lim(const char *line, const char *want, const struct imap_parse_limits *lim);

#endif
