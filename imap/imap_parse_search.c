/*
 * imap_parse_search.c: the SEARCH grammar as a tree of keys: RFC 3501 6.4.4
 * in full (INTEROP 1-2: iOS sends "UID SEARCH 1:* NOT DELETED", and servers
 * that lacked NOT and OR broke Apple clients), ESEARCH's RETURN (RFC 4731),
 * SEARCHRES "$" and SAVE (RFC 5182), CONDSTORE's MODSEQ (RFC 7162 3.1.5).
 *
 *	search = "SEARCH" [SP "RETURN" SP "(" [opts] ")"]
 *	         [SP "CHARSET" SP astring] 1*(SP search-key)
 *
 * Keys are counted (search_keys_max) and their nesting through lists, NOT
 * and OR is bounded (depth_max), so the recursion below is bounded too.
 */
#include "imap/imap_parse_int.h"

#include <string.h>

enum imap_skey_arg {
	IMAP_SKA_NONE,
	IMAP_SKA_ASTRING,
	IMAP_SKA_KEYWORD,
	IMAP_SKA_DATE,
	IMAP_SKA_NUMBER,
	IMAP_SKA_HEADER,
	IMAP_SKA_SET,
	IMAP_SKA_NOT,
	IMAP_SKA_OR,
	IMAP_SKA_MODSEQ,
};

static const struct {
	const char		*name;
	enum imap_skey		 type;
	enum imap_skey_arg	 arg;
} imap_skey_defs[] = {
	{ "ALL",	IMAP_SKEY_ALL,		IMAP_SKA_NONE },
	{ "ANSWERED",	IMAP_SKEY_ANSWERED,	IMAP_SKA_NONE },
	{ "BCC",	IMAP_SKEY_BCC,		IMAP_SKA_ASTRING },
	{ "BEFORE",	IMAP_SKEY_BEFORE,	IMAP_SKA_DATE },
	{ "BODY",	IMAP_SKEY_BODY,		IMAP_SKA_ASTRING },
	{ "CC",		IMAP_SKEY_CC,		IMAP_SKA_ASTRING },
	{ "DELETED",	IMAP_SKEY_DELETED,	IMAP_SKA_NONE },
	{ "DRAFT",	IMAP_SKEY_DRAFT,	IMAP_SKA_NONE },
	{ "FLAGGED",	IMAP_SKEY_FLAGGED,	IMAP_SKA_NONE },
	{ "FROM",	IMAP_SKEY_FROM,		IMAP_SKA_ASTRING },
	{ "HEADER",	IMAP_SKEY_HEADER,	IMAP_SKA_HEADER },
	{ "KEYWORD",	IMAP_SKEY_KEYWORD,	IMAP_SKA_KEYWORD },
	{ "LARGER",	IMAP_SKEY_LARGER,	IMAP_SKA_NUMBER },
	{ "MODSEQ",	IMAP_SKEY_MODSEQ,	IMAP_SKA_MODSEQ },
	{ "NEW",	IMAP_SKEY_NEW,		IMAP_SKA_NONE },
	{ "NOT",	IMAP_SKEY_NOT,		IMAP_SKA_NOT },
	{ "OLD",	IMAP_SKEY_OLD,		IMAP_SKA_NONE },
	{ "ON",		IMAP_SKEY_ON,		IMAP_SKA_DATE },
	{ "OR",		IMAP_SKEY_OR,		IMAP_SKA_OR },
	{ "RECENT",	IMAP_SKEY_RECENT,	IMAP_SKA_NONE },
	{ "SEEN",	IMAP_SKEY_SEEN,		IMAP_SKA_NONE },
	{ "SENTBEFORE",	IMAP_SKEY_SENTBEFORE,	IMAP_SKA_DATE },
	{ "SENTON",	IMAP_SKEY_SENTON,	IMAP_SKA_DATE },
	{ "SENTSINCE",	IMAP_SKEY_SENTSINCE,	IMAP_SKA_DATE },
	{ "SINCE",	IMAP_SKEY_SINCE,	IMAP_SKA_DATE },
	{ "SMALLER",	IMAP_SKEY_SMALLER,	IMAP_SKA_NUMBER },
	{ "SUBJECT",	IMAP_SKEY_SUBJECT,	IMAP_SKA_ASTRING },
	{ "TEXT",	IMAP_SKEY_TEXT,		IMAP_SKA_ASTRING },
	{ "TO",		IMAP_SKEY_TO,		IMAP_SKA_ASTRING },
	{ "UID",	IMAP_SKEY_UID,		IMAP_SKA_SET },
	{ "UNANSWERED",	IMAP_SKEY_UNANSWERED,	IMAP_SKA_NONE },
	{ "UNDELETED",	IMAP_SKEY_UNDELETED,	IMAP_SKA_NONE },
	{ "UNDRAFT",	IMAP_SKEY_UNDRAFT,	IMAP_SKA_NONE },
	{ "UNFLAGGED",	IMAP_SKEY_UNFLAGGED,	IMAP_SKA_NONE },
	{ "UNKEYWORD",	IMAP_SKEY_UNKEYWORD,	IMAP_SKA_KEYWORD },
	{ "UNSEEN",	IMAP_SKEY_UNSEEN,	IMAP_SKA_NONE },
};

static const struct imap_word imap_search_ret_words[] = {
	{ "MIN",	IMAP_SEARCH_RET_MIN },
	{ "MAX",	IMAP_SEARCH_RET_MAX },
	{ "ALL",	IMAP_SEARCH_RET_ALL },
	{ "COUNT",	IMAP_SEARCH_RET_COUNT },
	{ "SAVE",	IMAP_SEARCH_RET_SAVE },
};

static const struct imap_word imap_modseq_entry_words[] = {
	{ "priv",	IMAP_MODSEQ_ENTRY_PRIV },
	{ "shared",	IMAP_MODSEQ_ENTRY_SHARED },
	{ "all",	IMAP_MODSEQ_ENTRY_ALL },
};

static int imap_skey(struct imap_gram *g, const struct imap_arg **cur,
    struct imap_search_key **out);

/* Keys from *cur to the end of their list, chained by next (at least one). */
static int
imap_skey_seq(struct imap_gram *g, const struct imap_arg *c, struct imap_search_key **first)
{
	struct imap_search_key **tail = first;

	if (c == NULL)
		return imap_gram_fail(g, "Missing search key");
	while (c != NULL) {
		if (imap_skey(g, &c, tail) < 0)
			return -1;
		tail = &(*tail)->next;
	}
	return 0;
}

/* The keys NOT and OR apply to: one or two, one level deeper. */
static int
imap_skey_operands(struct imap_gram *g, const struct imap_arg **cur, struct imap_search_key *k,
    int n)
{
	int rc;

	g->depth++;
	rc = imap_skey(g, cur, &k->u.sub);
	if (rc == 0 && n == 2)
		rc = imap_skey(g, cur, &k->u.sub->next);
	g->depth--;
	return rc;
}

/* "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer (RFC 7162 3.1.5) */
static int
imap_skey_modseq(struct imap_gram *g, const struct imap_arg **cur, struct imap_search_key *k)
{
	const struct imap_arg *t;
	size_t i;

	if (*cur != NULL && (*cur)->type == IMAP_ARG_QUOTED) {
		if (imap_gram_string(g, cur, &k->u.modseq.entry) < 0)
			return -1;
		t = *cur;
		/* entry-type-req = entry-type-resp / "all" */
		for (i = 0; i < SG_NITEMS(imap_modseq_entry_words) &&
		    !imap_arg_is_atom(t, imap_modseq_entry_words[i].name); i++)
			;
		if (i == SG_NITEMS(imap_modseq_entry_words))
			return imap_gram_fail(g, "Invalid MODSEQ entry type");
		k->u.modseq.entry_type = (enum imap_modseq_entry)imap_modseq_entry_words[i].bit;
		*cur = t->next;
	}
	g->cmd->u.search.has_modseq = true;
	return imap_gram_number(g, cur, 0, IMAP_NUMBER63_MAX, &k->u.modseq.value);
}

/* The argument of a named key. */
static int
imap_skey_arg(struct imap_gram *g, const struct imap_arg **cur, struct imap_search_key *k,
    enum imap_skey_arg arg)
{
	switch (arg) {
	case IMAP_SKA_NONE:
		return 0;
	case IMAP_SKA_ASTRING:
		return imap_gram_astring(g, cur, &k->u.str);
	case IMAP_SKA_KEYWORD:
		return imap_gram_atom(g, cur, &k->u.str);
	case IMAP_SKA_DATE:
		return imap_gram_date(g, cur, &k->u.date);
	case IMAP_SKA_NUMBER:	/* RFC 9051 widens LARGER/SMALLER to number64 */
		return imap_gram_number(g, cur, 0, IMAP_NUMBER63_MAX, &k->u.number);
	case IMAP_SKA_HEADER:
		if (imap_gram_astring(g, cur, &k->u.header.name) < 0)
			return -1;
		return imap_gram_astring(g, cur, &k->u.header.value);
	case IMAP_SKA_SET:
		return imap_gram_seq(g, cur, &k->u.set);
	case IMAP_SKA_NOT:
		return imap_skey_operands(g, cur, k, 1);
	case IMAP_SKA_OR:
		return imap_skey_operands(g, cur, k, 2);
	case IMAP_SKA_MODSEQ:
		return imap_skey_modseq(g, cur, k);
	}
	return imap_gram_fail(g, "Invalid search key");
}

/* An atom key: a name from the table, else a sequence set. */
static int
imap_skey_atom(struct imap_gram *g, const struct imap_arg **cur, struct imap_search_key *k)
{
	const struct imap_arg *a = *cur;
	size_t i;

	for (i = 0; i < SG_NITEMS(imap_skey_defs); i++) {
		if (imap_arg_is_atom(a, imap_skey_defs[i].name)) {
			k->type = imap_skey_defs[i].type;
			*cur = a->next;
			return imap_skey_arg(g, cur, k, imap_skey_defs[i].arg);
		}
	}
	if (strchr("0123456789*$", a->str.s[0]) == NULL)
		return imap_gram_fail(g, "Unknown search key");
	k->type = IMAP_SKEY_SET;
	return imap_gram_seq(g, cur, &k->u.set);
}

static int
imap_skey(struct imap_gram *g, const struct imap_arg **cur, struct imap_search_key **out)
{
	const struct imap_arg *a = *cur;
	struct imap_search_key *k;

	if (a == NULL)
		return imap_gram_fail(g, "Missing search key");
	if (++g->nkeys > g->lim->search_keys_max)
		return imap_gram_limit(g, "Too many search keys");
	if (g->depth > g->lim->depth_max)	/* as deep as the lexer lets lists go */
		return imap_gram_limit(g, "Search too deeply nested");
	k = imap_arena_alloc(g->arena, sizeof *k);
	*out = k;
	if (a->type == IMAP_ARG_LIST) {	/* "(" search-key *(SP search-key) ")" */
		int rc;

		k->type = IMAP_SKEY_AND;
		*cur = a->next;
		g->depth++;
		rc = imap_skey_seq(g, a->child, &k->u.sub);
		g->depth--;
		return rc;
	}
	if (a->type != IMAP_ARG_ATOM)
		return imap_gram_fail(g, "Invalid search key");
	return imap_skey_atom(g, cur, k);
}

/* search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP ...)] ")" */
static int
imap_search_return(struct imap_gram *g, const struct imap_arg **cur, struct imap_args_search *x)
{
	const struct imap_arg *c;

	*cur = (*cur)->next;
	if (imap_gram_list(g, cur, &c) < 0 ||
	    imap_gram_words(g, c, imap_search_ret_words, SG_NITEMS(imap_search_ret_words), &x->ret,
	    "Unknown SEARCH return option") < 0)
		return -1;
	x->esearch = true;
	if (x->ret == 0)	/* RFC 4731 3.1: "RETURN ()" means ALL */
		x->ret = IMAP_SEARCH_RET_ALL;
	return 0;
}

int
imap_gram_search(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_search *x = &g->cmd->u.search;
	const struct imap_arg *a = args;

	if (imap_arg_is_atom(a, "RETURN") && imap_search_return(g, &a, x) < 0)
		return -1;
	if (imap_arg_is_atom(a, "CHARSET")) {
		a = a->next;
		if (imap_gram_astring(g, &a, &x->charset) < 0)
			return -1;
	}
	x->root = imap_arena_alloc(g->arena, sizeof *x->root);
	x->root->type = IMAP_SKEY_AND;
	if (imap_skey_seq(g, a, &x->root->u.sub) < 0)
		return -1;
	x->nkeys = g->nkeys;
	return 0;
}
