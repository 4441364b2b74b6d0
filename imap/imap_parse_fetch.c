/*
 * imap_parse_fetch.c: the FETCH grammar (RFC 3501 6.4.5 and 9, CONDSTORE and
 * QRESYNC modifiers from RFC 7162, BINARY from RFC 3516).
 *
 *	fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 *	        fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
 *
 * The lexer has already cut "BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100>"
 * into a SECTION argument named "BODY.PEEK", whose children are the atom
 * "1.2.HEADER.FIELDS" and the list, and whose partial is "0.100".
 */
#include "imap/imap_parse_int.h"

#include <string.h>

static const struct {
	const char			*name;
	enum imap_fetch_att_type	 type;
} imap_fetch_simple[] = {
	{ "UID",		IMAP_FATT_UID },
	{ "FLAGS",		IMAP_FATT_FLAGS },
	{ "INTERNALDATE",	IMAP_FATT_INTERNALDATE },
	{ "RFC822.SIZE",	IMAP_FATT_RFC822_SIZE },
	{ "ENVELOPE",		IMAP_FATT_ENVELOPE },
	{ "BODY",		IMAP_FATT_BODY },
	{ "BODYSTRUCTURE",	IMAP_FATT_BODYSTRUCTURE },
	{ "RFC822",		IMAP_FATT_RFC822 },
	{ "RFC822.HEADER",	IMAP_FATT_RFC822_HEADER },
	{ "RFC822.TEXT",	IMAP_FATT_RFC822_TEXT },
	{ "MODSEQ",		IMAP_FATT_MODSEQ },
};

/* Attributes with a section: which text parts and partials they allow. */
static const struct {
	const char			*name;
	enum imap_fetch_att_type	 type;
	bool				 peek;
	bool				 text;		/* HEADER, TEXT, MIME... allowed */
	bool				 partial;	/* <origin.count> allowed */
} imap_fetch_sectioned[] = {
	{ "BODY",		IMAP_FATT_BODY_SECTION,	false,	true,	true },
	{ "BODY.PEEK",		IMAP_FATT_BODY_SECTION,	true,	true,	true },
	{ "BINARY",		IMAP_FATT_BINARY,	false,	false,	true },
	{ "BINARY.PEEK",	IMAP_FATT_BINARY,	true,	false,	true },
	{ "BINARY.SIZE",	IMAP_FATT_BINARY_SIZE,	false,	false,	false },
};

static const struct {
	const char		*name;
	enum imap_section_text	 text;
} imap_section_texts[] = {
	{ "HEADER",		IMAP_SECTION_HEADER },
	{ "HEADER.FIELDS",	IMAP_SECTION_HEADER_FIELDS },
	{ "HEADER.FIELDS.NOT",	IMAP_SECTION_HEADER_FIELDS_NOT },
	{ "TEXT",		IMAP_SECTION_TEXT },
	{ "MIME",		IMAP_SECTION_MIME },
};

static const struct {
	const char		*name;
	enum imap_fetch_macro	 macro;
	unsigned		 natts;
	enum imap_fetch_att_type atts[5];
} imap_fetch_macros[] = {
	{ "ALL",  IMAP_FETCH_MACRO_ALL, 4, { IMAP_FATT_FLAGS, IMAP_FATT_INTERNALDATE,
	    IMAP_FATT_RFC822_SIZE, IMAP_FATT_ENVELOPE } },
	{ "FAST", IMAP_FETCH_MACRO_FAST, 3, { IMAP_FATT_FLAGS, IMAP_FATT_INTERNALDATE,
	    IMAP_FATT_RFC822_SIZE } },
	{ "FULL", IMAP_FETCH_MACRO_FULL, 5, { IMAP_FATT_FLAGS, IMAP_FATT_INTERNALDATE,
	    IMAP_FATT_RFC822_SIZE, IMAP_FATT_ENVELOPE, IMAP_FATT_BODY } },
};

/* The text after the part numbers: HEADER, TEXT, MIME... */
static int
imap_section_text(struct imap_gram *g, const char *s, size_t len, struct imap_section *sec,
    bool text_ok)
{
	size_t i;

	for (i = 0; i < SG_NITEMS(imap_section_texts); i++) {
		if (sg_ascii_ieq(s, len, imap_section_texts[i].name))
			break;
	}
	if (i == SG_NITEMS(imap_section_texts) || !text_ok)
		return imap_gram_fail(g, "Invalid section");
	sec->text = imap_section_texts[i].text;
	/* section-text: MIME only after a part number (RFC 3501 6.4.5) */
	if (sec->text == IMAP_SECTION_MIME && sec->nparts == 0)
		return imap_gram_fail(g, "MIME needs a part number");
	return 0;
}

/* section-spec = section-msgtext / (section-part ["." section-text]) */
static int
imap_section_spec(struct imap_gram *g, const struct imap_str *spec, struct imap_section *sec,
    bool text_ok)
{
	const char *s = spec->s;
	size_t len = spec->len, i = 0, j, nseg = 1;
	uint32_t *parts;
	uint64_t v;

	/* bounds: at most one part per "."-separated segment */
	for (j = 0; j < len; j++)
		nseg += s[j] == '.';
	parts = imap_arena_array(g->arena, nseg, sizeof *parts);
	sec->parts = parts;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		for (j = i; j < len && s[j] != '.'; j++)
			;
		if (!imap_number(s + i, j - i, 1, UINT32_MAX, &v))
			return imap_gram_fail(g, "Invalid section part");
		parts[sec->nparts++] = (uint32_t)v;
		if (j == len)
			return 0;
		i = j + 1;
		if (i == len)
			return imap_gram_fail(g, "Invalid section");
	}
	return imap_section_text(g, s + i, len - i, sec, text_ok);
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static int
imap_section_fields(struct imap_gram *g, const struct imap_arg **cur, struct imap_section *sec)
{
	const struct imap_arg *c, *a;
	struct imap_str *f;
	size_t n = 0;

	if (imap_gram_list(g, cur, &c) < 0)
		return -1;
	for (a = c; a != NULL; a = a->next)
		n++;
	if (n == 0)
		return imap_gram_fail(g, "Empty header list");
	f = imap_arena_array(g->arena, n, sizeof *f);
	sec->fields = f;
	for (a = c; a != NULL; sec->nfields++) {
		if (imap_gram_astring(g, &a, &f[sec->nfields]) < 0)
			return -1;
	}
	return 0;
}

static int
imap_section(struct imap_gram *g, const struct imap_arg *c, struct imap_section *sec,
    bool text_ok)
{
	struct imap_str spec;

	if (c == NULL)		/* BODY[]: the whole message */
		return 0;
	if (imap_gram_atom(g, &c, &spec) < 0 || imap_section_spec(g, &spec, sec, text_ok) < 0)
		return -1;
	if (sec->text == IMAP_SECTION_HEADER_FIELDS || sec->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		if (imap_section_fields(g, &c, sec) < 0)
			return -1;
	}
	return imap_gram_end(g, c);
}

/* partial = "<" number "." nz-number ">", each 32 bits (RFC 3501 9) */
static int
imap_partial(struct imap_gram *g, const struct imap_str *p, struct imap_fetch_att *att)
{
	const char *dot = memchr(p->s, '.', p->len);
	uint64_t origin, count;

	if (dot == NULL || !imap_number(p->s, (size_t)(dot - p->s), 0, UINT32_MAX, &origin) ||
	    !imap_number(dot + 1, p->len - (size_t)(dot - p->s) - 1, 1, UINT32_MAX, &count))
		return imap_gram_fail(g, "Invalid partial");
	att->partial = true;
	att->origin = (uint32_t)origin;
	att->count = (uint32_t)count;
	return 0;
}

static int
imap_fetch_sectioned_att(struct imap_gram *g, const struct imap_arg *a,
    struct imap_fetch_att *att)
{
	size_t i;

	for (i = 0; i < SG_NITEMS(imap_fetch_sectioned); i++) {
		if (sg_ascii_ieq(a->str.s, a->str.len, imap_fetch_sectioned[i].name))
			break;
	}
	if (i == SG_NITEMS(imap_fetch_sectioned))
		return imap_gram_fail(g, "Unknown FETCH attribute");
	att->type = imap_fetch_sectioned[i].type;
	att->peek = imap_fetch_sectioned[i].peek;
	if (imap_section(g, a->child, &att->section, imap_fetch_sectioned[i].text) < 0)
		return -1;
	if (a->partial.s == NULL)
		return 0;
	if (!imap_fetch_sectioned[i].partial)
		return imap_gram_fail(g, "Invalid partial");
	return imap_partial(g, &a->partial, att);
}

static int
imap_fetch_att(struct imap_gram *g, const struct imap_arg *a, struct imap_fetch_att *att)
{
	size_t i;

	memset(att, 0, sizeof *att);
	if (a->type == IMAP_ARG_SECTION)
		return imap_fetch_sectioned_att(g, a, att);
	if (a->type != IMAP_ARG_ATOM)
		return imap_gram_fail(g, "Invalid FETCH attribute");
	for (i = 0; i < SG_NITEMS(imap_fetch_simple); i++) {
		if (imap_arg_is_atom(a, imap_fetch_simple[i].name)) {
			att->type = imap_fetch_simple[i].type;
			return 0;
		}
	}
	return imap_gram_fail(g, "Unknown FETCH attribute");
}

/* ALL / FAST / FULL (RFC 3501 6.4.5): 1 if a is a macro, 0 if not, -1 on limits. */
static int
imap_fetch_macro(struct imap_gram *g, const struct imap_arg *a, struct imap_args_fetch *x)
{
	struct imap_fetch_att *atts;
	size_t i, k;

	for (i = 0; i < SG_NITEMS(imap_fetch_macros); i++) {
		if (imap_arg_is_atom(a, imap_fetch_macros[i].name))
			break;
	}
	if (i == SG_NITEMS(imap_fetch_macros))
		return 0;
	if (imap_fetch_macros[i].natts > g->lim->fetch_atts_max)
		return imap_gram_limit(g, "Too many FETCH attributes");
	atts = imap_arena_array(g->arena, imap_fetch_macros[i].natts, sizeof *atts);
	for (k = 0; k < imap_fetch_macros[i].natts; k++)
		atts[k].type = imap_fetch_macros[i].atts[k];
	x->macro = imap_fetch_macros[i].macro;
	x->atts = atts;
	x->natts = imap_fetch_macros[i].natts;
	return 1;
}

/* One attribute, or a list of them. */
static int
imap_fetch_atts(struct imap_gram *g, const struct imap_arg *a, struct imap_args_fetch *x)
{
	struct imap_fetch_att *atts;
	const struct imap_arg *c = a;
	size_t n = 1;

	if (a->type == IMAP_ARG_LIST) {
		c = a->child;
		for (n = 0, a = c; a != NULL; a = a->next)
			n++;
		if (n == 0)
			return imap_gram_fail(g, "Empty FETCH attribute list");
	}
	if (n > g->lim->fetch_atts_max)
		return imap_gram_limit(g, "Too many FETCH attributes");
	atts = imap_arena_array(g->arena, n, sizeof *atts);
	x->atts = atts;
	for (x->natts = 0; x->natts < n; x->natts++, c = c->next) {
		if (imap_fetch_att(g, c, &atts[x->natts]) < 0)
			return -1;
	}
	return 0;
}

/* fetch-modifier = "CHANGEDSINCE" SP mod-sequence-valzer / "VANISHED" (RFC 7162) */
static int
imap_fetch_mods(struct imap_gram *g, const struct imap_arg *c, struct imap_args_fetch *x)
{
	if (c == NULL)
		return imap_gram_fail(g, "Empty FETCH modifiers");
	while (c != NULL) {
		if (imap_arg_is_atom(c, "CHANGEDSINCE") && !x->changedsince_set) {
			c = c->next;
			/* INTEROP: iOS 16.5 sends CHANGEDSINCE 0 */
			if (imap_gram_number(g, &c, 0, IMAP_NUMBER63_MAX, &x->changedsince) < 0)
				return -1;
			x->changedsince_set = true;
		} else if (imap_arg_is_atom(c, "VANISHED") && !x->vanished) {
			x->vanished = true;
			c = c->next;
		} else
			return imap_gram_fail(g, "Unknown FETCH modifier");
	}
	/* RFC 7162 3.2.6: VANISHED only in UID FETCH, and with CHANGEDSINCE */
	if (x->vanished && (!g->cmd->uid || !x->changedsince_set))
		return imap_gram_fail(g, "VANISHED needs UID FETCH and CHANGEDSINCE");
	return 0;
}

int
imap_gram_fetch(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_fetch *x = &g->cmd->u.fetch;
	const struct imap_arg *a = args, *c;
	int rc;

	if (imap_gram_seq(g, &a, &x->set) < 0)
		return -1;
	if (a == NULL)
		return imap_gram_fail(g, "Missing FETCH attributes");
	rc = imap_fetch_macro(g, a, x);
	if (rc < 0 || (rc == 0 && imap_fetch_atts(g, a, x) < 0))
		return -1;
	a = a->next;
	if (a != NULL) {
		if (imap_gram_list(g, &a, &c) < 0 || imap_fetch_mods(g, c, x) < 0)
			return -1;
	}
	return imap_gram_end(g, a);
}
