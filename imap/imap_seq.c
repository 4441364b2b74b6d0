/*
 * imap_seq.c: sequence sets as lists of ranges (RFC 3501 9, RFC 5182).
 *
 *	sequence-set = (seq-number / seq-range) ["," sequence-set] / "$"
 *	seq-range    = seq-number ":" seq-number
 *	seq-number   = nz-number / "*"
 */
#include "imap/imap_seq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads one seq-number at s[*pos]; 0 stands for "*". */
static bool
imap_seq_number(const char *s, size_t len, size_t *pos, uint32_t *out)
{
	size_t i = *pos;
	uint64_t v = 0;

	if (i < len && s[i] == '*') {
		*out = IMAP_SEQ_STAR;
		*pos = i + 1;
		return true;
	}
	/* nz-number = digit-nz *DIGIT: no leading zero, so no "0" either */
	if (i >= len || s[i] < '1' || s[i] > '9')
		return false;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	*pos = i;
	return true;
}

/* Stores a range in its canonical order (see imap_seq.h). */
static struct imap_seq_range
imap_seq_make(uint32_t a, uint32_t b)
{
	struct imap_seq_range r;

	if (a == IMAP_SEQ_STAR || (b != IMAP_SEQ_STAR && a > b)) {
		r.lo = b;
		r.hi = a;
	} else {
		r.lo = a;
		r.hi = b;
	}
	return r;
}

size_t
imap_seq_count_hint(const char *s, size_t len)
{
	size_t n = 1, i;

	for (i = 0; i < len; i++)
		n += s[i] == ',';
	return n;
}

/* One element: "$", a number or a range; *n grows unless it is "$". */
static enum imap_seq_rc
imap_seq_element(const char *s, size_t len, size_t *pos, struct imap_seq_range *r,
    size_t max, size_t *n, bool *saved)
{
	uint32_t a, b;

	if (s[*pos] == '$') {
		/* RFC 5182 2.1: "$" may be combined with other sets by ",". */
		*saved = true;
		(*pos)++;
		return IMAP_SEQ_OK;
	}
	if (!imap_seq_number(s, len, pos, &a))
		return IMAP_SEQ_SYNTAX;
	b = a;
	if (*pos < len && s[*pos] == ':') {
		(*pos)++;
		if (!imap_seq_number(s, len, pos, &b))
			return IMAP_SEQ_SYNTAX;
	}
	if (*n >= max)
		return IMAP_SEQ_TOO_MANY;
	r[(*n)++] = imap_seq_make(a, b);
	return IMAP_SEQ_OK;
}

enum imap_seq_rc
imap_seq_parse_ranges(const char *s, size_t len, struct imap_seq_range *r, size_t max,
    size_t *n_out, bool *saved_out)
{
	size_t pos = 0, n = 0;
	bool saved = false;
	enum imap_seq_rc rc;

	*n_out = 0;
	*saved_out = false;
	for (;;) {
		if (pos >= len)
			return IMAP_SEQ_SYNTAX;	/* empty set or trailing "," */
		rc = imap_seq_element(s, len, &pos, r, max, &n, &saved);
		if (rc != IMAP_SEQ_OK)
			return rc;
		if (pos == len)
			break;
		if (s[pos] != ',')
			return IMAP_SEQ_SYNTAX;
		pos++;
	}
	*n_out = n;
	*saved_out = saved;
	return IMAP_SEQ_OK;
}

struct imap_seq *
imap_seq_parse(const char *s, size_t len, size_t max_ranges, enum imap_seq_rc *rc_out)
{
	size_t hint = SG_MIN(imap_seq_count_hint(s, len), max_ranges);
	struct imap_seq *set;
	enum imap_seq_rc rc;

	/* bounds: hint <= max_ranges, and r[] holds hint ranges (at least one) */
	set = xcalloc(1, sizeof *set + (hint + 1) * sizeof set->r[0]);
	rc = imap_seq_parse_ranges(s, len, set->r, max_ranges, &set->n, &set->saved);
	if (rc_out != NULL)
		*rc_out = rc;
	if (rc != IMAP_SEQ_OK)
		imap_seq_free(&set);
	return set;
}

void
imap_seq_free(struct imap_seq **set)
{
	free(*set);
	*set = NULL;
}

bool
imap_seq_has_star(const struct imap_seq *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		if (set->r[i].hi == IMAP_SEQ_STAR)
			return true;
	}
	return false;
}

void
imap_seq_range_resolve(const struct imap_seq_range *r, uint32_t star, uint32_t *lo_out,
    uint32_t *hi_out)
{
	uint32_t lo = r->lo == IMAP_SEQ_STAR ? star : r->lo;
	uint32_t hi = r->hi == IMAP_SEQ_STAR ? star : r->hi;

	*lo_out = SG_MIN(lo, hi);
	*hi_out = SG_MAX(lo, hi);
}

bool
imap_seq_contains(const struct imap_seq *set, uint32_t n, uint32_t star)
{
	uint32_t lo, hi;
	size_t i;

	for (i = 0; i < set->n; i++) {
		imap_seq_range_resolve(&set->r[i], star, &lo, &hi);
		if (n >= lo && n <= hi)
			return true;
	}
	return false;
}

/* Appends text to buf like snprintf would, tracking the full length. */
static void
imap_seq_put(char *buf, size_t size, size_t *len, const char *text)
{
	size_t tl = strlen(text);

	if (*len < size) {
		size_t room = size - *len - 1;	/* bounds: keep one byte for the NUL */
		size_t k = SG_MIN(tl, room);

		memcpy(buf + *len, text, k);
		buf[*len + k] = '\0';
	}
	*len += tl;
}

static void
imap_seq_put_num(char *buf, size_t size, size_t *len, uint32_t v)
{
	char num[16];	/* bounds: "4294967295" is 10 digits */

	if (v == IMAP_SEQ_STAR)
		imap_seq_put(buf, size, len, "*");
	else {
		(void)snprintf(num, sizeof num, "%u", (unsigned)v);
		imap_seq_put(buf, size, len, num);
	}
}

size_t
imap_seq_render(const struct imap_seq *set, char *buf, size_t size)
{
	size_t len = 0, i;

	if (size > 0)
		buf[0] = '\0';
	for (i = 0; i < set->n; i++) {
		if (i > 0)
			imap_seq_put(buf, size, &len, ",");
		imap_seq_put_num(buf, size, &len, set->r[i].lo);
		if (set->r[i].hi != set->r[i].lo) {
			imap_seq_put(buf, size, &len, ":");
			imap_seq_put_num(buf, size, &len, set->r[i].hi);
		}
	}
	if (set->saved)
		imap_seq_put(buf, size, &len, set->n > 0 ? ",$" : "$");
	return len;
}
