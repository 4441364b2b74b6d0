/*
 * imap_parse_util.c: the parser's arena and the grammar helpers every
 * command uses: strings (RFC 3501 9 atom, astring, string, nstring),
 * mailbox names, numbers, sequence sets, flags, dates.
 */
#include "imap/imap_parse_int.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define IMAP_ARENA_CHUNK	4096

struct imap_arena_chunk {
	struct imap_arena_chunk	*next;
	size_t			 size;
	size_t			 used;
	max_align_t		 data[];
};

struct imap_arena {
	struct imap_arena_chunk	*head;
};

/* A call through a volatile pointer cannot be dropped as a dead store. */
static void *(*const volatile imap_memset)(void *, int, size_t) = memset;

void
imap_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		(void)imap_memset(p, 0, n);
}

struct imap_arena *
imap_arena_new(void)
{
	return xcalloc(1, sizeof(struct imap_arena));
}

void
imap_arena_free(struct imap_arena **a)
{
	struct imap_arena_chunk *c, *next;

	if (*a == NULL)
		return;
	for (c = (*a)->head; c != NULL; c = next) {
		next = c->next;
		imap_wipe(c->data, c->used);
		free(c);
	}
	free(*a);
	*a = NULL;
}

void *
imap_arena_alloc(struct imap_arena *a, size_t n)
{
	const size_t al = alignof(max_align_t);
	struct imap_arena_chunk *c = a->head;
	void *p;

	if (n > SIZE_MAX / 2)
		fatal("imap arena: allocation of %zu", n);	/* callers check sizes first */
	n = (n + al - 1) & ~(al - 1);
	if (c == NULL || c->size - c->used < n) {
		size_t size = SG_MAX(n, (size_t)IMAP_ARENA_CHUNK);

		c = xcalloc(1, sizeof *c + size);
		c->size = size;
		c->next = a->head;
		a->head = c;
	}
	p = (unsigned char *)c->data + c->used;
	c->used += n;
	return p;
}

void *
imap_arena_array(struct imap_arena *a, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / 2 / size)
		fatal("imap arena: array of %zu x %zu", nmemb, size);
	return imap_arena_alloc(a, nmemb * size);
}

char *
imap_arena_strndup(struct imap_arena *a, const char *s, size_t n)
{
	char *p = imap_arena_alloc(a, n + 1);

	if (n > 0)
		memcpy(p, s, n);
	return p;
}

int
imap_gram_fail(struct imap_gram *g, const char *msg)
{
	if (g->err == IMAP_PERR_NONE) {
		g->err = IMAP_PERR_SYNTAX;
		g->msg = msg;
	}
	return -1;
}

int
imap_gram_limit(struct imap_gram *g, const char *msg)
{
	if (g->err == IMAP_PERR_NONE) {
		g->err = IMAP_PERR_LIMIT;
		g->msg = msg;
	}
	return -1;
}

/* RFC 3501 9: ATOM-CHAR is any CHAR except atom-specials. */
static bool
imap_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

bool
imap_atom_chars_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!imap_atom_char((unsigned char)s[i]))
			return false;
	}
	return len > 0;
}

/* ASTRING-CHAR = ATOM-CHAR / resp-specials ("]"). */
bool
imap_astring_chars_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != ']' && !imap_atom_char((unsigned char)s[i]))
			return false;
	}
	return len > 0;
}

/* list-char = ATOM-CHAR / list-wildcards / resp-specials */
static bool
imap_list_chars_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (strchr("%*]", s[i]) == NULL && !imap_atom_char((unsigned char)s[i]))
			return false;
	}
	return len > 0;
}

bool
imap_arg_is_atom(const struct imap_arg *a, const char *word)
{
	return a != NULL && a->type == IMAP_ARG_ATOM && sg_ascii_ieq(a->str.s, a->str.len, word);
}

bool
imap_arg_is_string(const struct imap_arg *a)
{
	return a != NULL && (a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL);
}

/* Takes the current argument, or fails with "Missing argument". */
static const struct imap_arg *
imap_gram_take(struct imap_gram *g, const struct imap_arg **cur)
{
	const struct imap_arg *a = *cur;

	if (a == NULL) {
		(void)imap_gram_fail(g, "Missing argument");
		return NULL;
	}
	*cur = a->next;
	return a;
}

int
imap_gram_atom(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out)
{
	const struct imap_arg *a = imap_gram_take(g, cur);

	if (a == NULL)
		return -1;
	if (a->type != IMAP_ARG_ATOM || !imap_atom_chars_ok(a->str.s, a->str.len))
		return imap_gram_fail(g, "Expected an atom");
	*out = a->str;
	return 0;
}

int
imap_gram_astring(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out)
{
	const struct imap_arg *a = imap_gram_take(g, cur);

	if (a == NULL)
		return -1;
	if (imap_arg_is_string(a) ||
	    (a->type == IMAP_ARG_ATOM && imap_astring_chars_ok(a->str.s, a->str.len))) {
		*out = a->str;
		return 0;
	}
	return imap_gram_fail(g, "Expected a string");
}

int
imap_gram_string(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out)
{
	const struct imap_arg *a = imap_gram_take(g, cur);

	if (a == NULL)
		return -1;
	if (!imap_arg_is_string(a))
		return imap_gram_fail(g, "Expected a quoted string or literal");
	*out = a->str;
	return 0;
}

int
imap_gram_nstring(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out)
{
	if (imap_arg_is_atom(*cur, "NIL")) {
		*cur = (*cur)->next;
		out->s = NULL;
		out->len = 0;
		return 0;
	}
	return imap_gram_string(g, cur, out);
}

/* RFC 3501 5.1: INBOX is case-insensitive; every spelling becomes "INBOX". */
int
imap_gram_mailbox(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out)
{
	if (imap_gram_astring(g, cur, out) < 0)
		return -1;
	if (sg_ascii_ieq(out->s, out->len, "INBOX")) {
		out->s = "INBOX";
		out->len = 5;
	}
	return 0;
}

/* list-mailbox = 1*list-char / string (RFC 3501 9) */
int
imap_gram_list_mailbox(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out)
{
	const struct imap_arg *a = imap_gram_take(g, cur);

	if (a == NULL)
		return -1;
	if (imap_arg_is_string(a) ||
	    (a->type == IMAP_ARG_ATOM && imap_list_chars_ok(a->str.s, a->str.len))) {
		*out = a->str;
		return 0;
	}
	return imap_gram_fail(g, "Invalid mailbox pattern");
}

bool
imap_number(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	/* nz-number = digit-nz *DIGIT: no leading zero where 0 is not allowed */
	if (len == 0 || (min > 0 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return false;	/* overflow check before the multiply */
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min)
		return false;
	*out = v;
	return true;
}

int
imap_gram_number(struct imap_gram *g, const struct imap_arg **cur, uint64_t min, uint64_t max,
    uint64_t *out)
{
	const struct imap_arg *a = imap_gram_take(g, cur);

	if (a == NULL)
		return -1;
	if (a->type != IMAP_ARG_ATOM || !imap_number(a->str.s, a->str.len, min, max, out))
		return imap_gram_fail(g, "Invalid number");
	return 0;
}

int
imap_gram_seq(struct imap_gram *g, const struct imap_arg **cur, const struct imap_seq **out)
{
	const struct imap_arg *a = imap_gram_take(g, cur);
	struct imap_seq *set;
	size_t hint;

	if (a == NULL)
		return -1;
	if (a->type != IMAP_ARG_ATOM)
		return imap_gram_fail(g, "Invalid sequence set");
	hint = SG_MIN(imap_seq_count_hint(a->str.s, a->str.len), (size_t)g->lim->seq_ranges_max);
	/* bounds: hint <= seq_ranges_max, and parsing stops at hint ranges at most */
	set = imap_arena_alloc(g->arena, sizeof *set + (hint + 1) * sizeof set->r[0]);
	switch (imap_seq_parse_ranges(a->str.s, a->str.len, set->r, g->lim->seq_ranges_max,
	    &set->n, &set->saved)) {
	case IMAP_SEQ_OK:
		*out = set;
		return 0;
	case IMAP_SEQ_TOO_MANY:
		return imap_gram_limit(g, "Too many ranges in sequence set");
	default:
		return imap_gram_fail(g, "Invalid sequence set");
	}
}

int
imap_gram_list(struct imap_gram *g, const struct imap_arg **cur,
    const struct imap_arg **children_out)
{
	const struct imap_arg *a = imap_gram_take(g, cur);

	if (a == NULL)
		return -1;
	if (a->type != IMAP_ARG_LIST)
		return imap_gram_fail(g, "Expected a parenthesized list");
	*children_out = a->child;
	return 0;
}

int
imap_gram_end(struct imap_gram *g, const struct imap_arg *cur)
{
	return cur == NULL ? 0 : imap_gram_fail(g, "Unexpected extra arguments");
}

/* RFC 3501 2.3.2; \Recent and flag-extensions cannot be set by a client. */
static const struct {
	const char	*name;
	unsigned	 bit;
} imap_sys_flags[] = {
	{ "\\Answered",	IMAP_FLAG_ANSWERED },
	{ "\\Flagged",	IMAP_FLAG_FLAGGED },
	{ "\\Deleted",	IMAP_FLAG_DELETED },
	{ "\\Seen",	IMAP_FLAG_SEEN },
	{ "\\Draft",	IMAP_FLAG_DRAFT },
};

static int
imap_gram_flag(struct imap_gram *g, const struct imap_arg *a, struct imap_flags *f,
    struct imap_str *kw)
{
	size_t i;

	if (a->type != IMAP_ARG_ATOM)
		return imap_gram_fail(g, "Invalid flag");
	if (a->str.s[0] != '\\') {
		if (!imap_atom_chars_ok(a->str.s, a->str.len))
			return imap_gram_fail(g, "Invalid keyword");
		kw[f->nkeywords++] = a->str;
		return 0;
	}
	for (i = 0; i < SG_NITEMS(imap_sys_flags); i++) {
		if (sg_ascii_ieq(a->str.s, a->str.len, imap_sys_flags[i].name)) {
			f->sys |= imap_sys_flags[i].bit;
			return 0;
		}
	}
	return imap_gram_fail(g, "Invalid system flag");
}

/* flag *(SP flag): the arguments from first to the end of their list. */
int
imap_gram_flags(struct imap_gram *g, const struct imap_arg *first, struct imap_flags *out)
{
	const struct imap_arg *a;
	struct imap_str *kw;
	size_t n = 0;

	for (a = first; a != NULL; a = a->next)
		n++;
	kw = imap_arena_array(g->arena, n + 1, sizeof *kw);
	memset(out, 0, sizeof *out);
	out->keywords = kw;
	for (a = first; a != NULL; a = a->next) {
		if (imap_gram_flag(g, a, out, kw) < 0)
			return -1;
	}
	return 0;
}

/* flag-list = "(" [flag *(SP flag)] ")" */
int
imap_gram_flag_list(struct imap_gram *g, const struct imap_arg **cur, struct imap_flags *out)
{
	const struct imap_arg *children;

	if (imap_gram_list(g, cur, &children) < 0)
		return -1;
	return imap_gram_flags(g, children, out);
}

static const char imap_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static unsigned
imap_month_days(unsigned year, unsigned mon)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

/*
 * date-text = date-day "-" date-month "-" date-year, with date-day 1*2DIGIT;
 * also the " 7" form of date-day-fixed, as date-time has it. Returns the
 * octets read, 0 if invalid.
 */
static size_t
imap_date_text(const char *s, size_t len, struct imap_date *d)
{
	size_t i = 0, dl;
	uint64_t day, year;
	unsigned m;

	if (len > 0 && s[0] == ' ')
		i = 1;
	for (dl = 0; i + dl < len && dl < 3 && s[i + dl] >= '0' && s[i + dl] <= '9'; dl++)
		;
	/* "07" is a valid date-day, so no nz-number rule here */
	if (dl == 0 || dl > 2 || (i == 1 && dl != 1) || !imap_number(s + i, dl, 0, 31, &day) ||
	    day == 0)
		return 0;
	i += dl;
	if (len - i < 9 || s[i] != '-' || s[i + 4] != '-')
		return 0;
	for (m = 0; m < 12 && !sg_ascii_ieq(s + i + 1, 3, imap_months[m]); m++)
		;
	if (m == 12 || !imap_number(s + i + 5, 4, 0, 9999, &year) ||
	    day > imap_month_days((unsigned)year, m + 1))
		return 0;
	d->year = (uint16_t)year;
	d->mon = (uint8_t)(m + 1);
	d->day = (uint8_t)day;
	return i + 9;
}

/* date = date-text / DQUOTE date-text DQUOTE (SEARCH, RFC 3501 9) */
int
imap_gram_date(struct imap_gram *g, const struct imap_arg **cur, struct imap_date *out)
{
	const struct imap_arg *a = *cur;

	if (a == NULL)
		return imap_gram_fail(g, "Missing date");
	*cur = a->next;
	if ((a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED) || a->str.s[0] == ' ' ||
	    imap_date_text(a->str.s, a->str.len, out) != a->str.len)
		return imap_gram_fail(g, "Invalid date");
	return 0;
}

/* hh:mm:ss SP (+/-)hhmm */
static bool
imap_time_zone(const char *s, size_t len, struct imap_datetime *dt)
{
	uint64_t h, m, sec, zh, zm;

	if (len != 14 || s[2] != ':' || s[5] != ':' || s[8] != ' ' ||
	    (s[9] != '+' && s[9] != '-'))
		return false;
	if (!imap_number(s, 2, 0, 23, &h) || !imap_number(s + 3, 2, 0, 59, &m) ||
	    !imap_number(s + 6, 2, 0, 60, &sec) || !imap_number(s + 10, 2, 0, 99, &zh) ||
	    !imap_number(s + 12, 2, 0, 59, &zm))
		return false;
	dt->hour = (uint8_t)h;
	dt->min = (uint8_t)m;
	dt->sec = (uint8_t)sec;
	dt->zone_min = (int16_t)((s[9] == '-' ? -1 : 1) * (int)(zh * 60 + zm));
	return true;
}

/*
 * date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP
 * zone DQUOTE. RFC 3501 wants " 7" or "07"; INTEROP: some iOS versions send
 * "7", so a one-digit day is accepted too.
 */
int
imap_gram_datetime(struct imap_gram *g, const struct imap_arg **cur, struct imap_datetime *out)
{
	const struct imap_arg *a = *cur;
	size_t n;

	if (a == NULL || a->type != IMAP_ARG_QUOTED)
		return imap_gram_fail(g, "Invalid date-time");
	*cur = a->next;
	n = imap_date_text(a->str.s, a->str.len, &out->date);
	if (n == 0 || n >= a->str.len || a->str.s[n] != ' ' ||
	    !imap_time_zone(a->str.s + n + 1, a->str.len - n - 1, out))
		return imap_gram_fail(g, "Invalid date-time");
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's method). */
static int64_t
imap_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t
imap_datetime_to_unix(const struct imap_datetime *dt)
{
	int64_t days = imap_days_from_civil(dt->date.year, dt->date.mon, dt->date.day);

	return days * 86400 + dt->hour * 3600 + dt->min * 60 + dt->sec -
	    (int64_t)dt->zone_min * 60;
}
