/*
 * imap_seq.h: IMAP sequence sets (RFC 3501 9 "sequence-set", RFC 5182 "$").
 *
 * A set is kept as it was written, as a list of ranges, never expanded:
 * "1:*" costs one range whatever the mailbox size. "*" stays symbolic until
 * the caller resolves it against the current largest number (message count
 * for sequence numbers, the largest UID for UID sets).
 *
 * Pure functions, no I/O; imap_seq_parse() and imap_seq_free() are the only
 * ones that allocate. Any thread.
 */
#ifndef IMAP_SEQ_H
#define IMAP_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/sg.h"

/* "*" in a range: 0 is never a valid sequence number or UID (nz-number). */
#define IMAP_SEQ_STAR		0u

/*
 * One range. Stored ordered: lo <= hi, except that IMAP_SEQ_STAR, whose value
 * is not known yet, always sits in hi ("*:5" and "5:*" are both {5, STAR};
 * "*" alone is {STAR, STAR}); "5:3" is stored as {3, 5}. A single number n
 * is {n, n}.
 */
struct imap_seq_range {
	uint32_t	 lo;
	uint32_t	 hi;
};

struct imap_seq {
	size_t			 n;		/* ranges in r[] */
	bool			 saved;		/* "$" (RFC 5182 SEARCHRES) appeared */
	struct imap_seq_range	 r[];
};

enum imap_seq_rc {
	IMAP_SEQ_OK = 0,
	IMAP_SEQ_SYNTAX,	/* not a sequence-set */
	IMAP_SEQ_TOO_MANY,	/* more ranges than the caller allows */
};

/* Upper bound on the ranges in s (commas + 1), to size storage. */
size_t imap_seq_count_hint(const char *s, size_t len);

/*
 * Parses s[0..len) into r[0..max). *n_out gets the number of ranges, *saved_out
 * whether "$" appeared ("$" adds no range: the caller substitutes the saved
 * search result). Numbers are nz-number: 1..4294967295, no leading zero.
 */
SG_NODISCARD enum imap_seq_rc imap_seq_parse_ranges(const char *s, size_t len,
    struct imap_seq_range *r, size_t max, size_t *n_out, bool *saved_out);

/*
 * Same, into a new set the caller owns (free with imap_seq_free); NULL on
 * error with *rc_out set. max_ranges bounds peer-chosen sizes.
 */
struct imap_seq *imap_seq_parse(const char *s, size_t len, size_t max_ranges,
    enum imap_seq_rc *rc_out);
void imap_seq_free(struct imap_seq **set);	/* *set may be NULL; NULLs it */

/* True if any range mentions "*". */
bool imap_seq_has_star(const struct imap_seq *set);

/*
 * Resolves one range against star, the largest number in use (0 in an empty
 * mailbox), into lo..hi with lo <= hi. RFC 3501 6.4.8: "559:*" in a mailbox
 * whose largest UID is 200 means 200:559, so it still contains 200.
 */
void imap_seq_range_resolve(const struct imap_seq_range *r, uint32_t star,
    uint32_t *lo_out, uint32_t *hi_out);

/*
 * Whether n is in one of the ranges (O(ranges); to walk a mailbox, resolve
 * the ranges once instead). The saved result ("$") is not consulted.
 */
bool imap_seq_contains(const struct imap_seq *set, uint32_t n, uint32_t star);

/*
 * Renders the set in sequence-set syntax ("1:*,3:5,$"), snprintf-style:
 * returns the length the full text needs (without the NUL); the output is
 * truncated and NUL-terminated when size is too small (size 0: nothing written).
 */
size_t imap_seq_render(const struct imap_seq *set, char *buf, size_t size);

#endif
