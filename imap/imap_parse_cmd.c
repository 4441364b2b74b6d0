/*
 * imap_parse_cmd.c: the command table and the grammar of every command but
 * FETCH and SEARCH (imap_parse_fetch.c, imap_parse_search.c). Each grammar
 * function walks the generic arguments after the command name and fills its
 * member of cmd->u; RFC 3501 9 unless a comment names an extension.
 */
#include "imap/imap_parse_int.h"

#include <string.h>

static int imap_gram_none(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_authenticate(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_login(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_enable(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_id(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_select(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_create(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_mailbox_only(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_rename(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_list_cmd(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_lsub(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_status(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_append(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_expunge(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_store(struct imap_gram *g, const struct imap_arg *args);
static int imap_gram_copy(struct imap_gram *g, const struct imap_arg *args);

/* "UID" has no id of its own: the lexer reads the command after it. */
static const struct imap_cmd_def imap_cmd_defs[] = {
	{ "APPEND",		IMAP_CMD_APPEND,	0,			imap_gram_append },
	{ "AUTHENTICATE",	IMAP_CMD_AUTHENTICATE,	0,			imap_gram_authenticate },
	{ "CAPABILITY",		IMAP_CMD_CAPABILITY,	0,			imap_gram_none },
	{ "CHECK",		IMAP_CMD_CHECK,		0,			imap_gram_none },
	{ "CLOSE",		IMAP_CMD_CLOSE,		0,			imap_gram_none },
	{ "COPY",		IMAP_CMD_COPY,		IMAP_CMDF_UID,		imap_gram_copy },
	{ "CREATE",		IMAP_CMD_CREATE,	0,			imap_gram_create },
	{ "DELETE",		IMAP_CMD_DELETE,	0,			imap_gram_mailbox_only },
	{ "ENABLE",		IMAP_CMD_ENABLE,	0,			imap_gram_enable },
	{ "EXAMINE",		IMAP_CMD_EXAMINE,	0,			imap_gram_select },
	{ "EXPUNGE",		IMAP_CMD_EXPUNGE,	IMAP_CMDF_UID,		imap_gram_expunge },
	{ "FETCH",		IMAP_CMD_FETCH,		IMAP_CMDF_UID | IMAP_CMDF_SECTIONS,
										imap_gram_fetch },
	{ "ID",			IMAP_CMD_ID,		0,			imap_gram_id },
	{ "IDLE",		IMAP_CMD_IDLE,		0,			imap_gram_none },
	{ "LIST",		IMAP_CMD_LIST,		0,			imap_gram_list_cmd },
	{ "LOGIN",		IMAP_CMD_LOGIN,		0,			imap_gram_login },
	{ "LOGOUT",		IMAP_CMD_LOGOUT,	0,			imap_gram_none },
	{ "LSUB",		IMAP_CMD_LSUB,		0,			imap_gram_lsub },
	{ "MOVE",		IMAP_CMD_MOVE,		IMAP_CMDF_UID,		imap_gram_copy },
	{ "NAMESPACE",		IMAP_CMD_NAMESPACE,	0,			imap_gram_none },
	{ "NOOP",		IMAP_CMD_NOOP,		0,			imap_gram_none },
	{ "RENAME",		IMAP_CMD_RENAME,	0,			imap_gram_rename },
	{ "SEARCH",		IMAP_CMD_SEARCH,	IMAP_CMDF_UID,		imap_gram_search },
	{ "SELECT",		IMAP_CMD_SELECT,	0,			imap_gram_select },
	{ "STARTTLS",		IMAP_CMD_STARTTLS,	0,			imap_gram_none },
	{ "STATUS",		IMAP_CMD_STATUS,	0,			imap_gram_status },
	{ "STORE",		IMAP_CMD_STORE,		IMAP_CMDF_UID,		imap_gram_store },
	{ "SUBSCRIBE",		IMAP_CMD_SUBSCRIBE,	0,			imap_gram_mailbox_only },
	{ "UID",		IMAP_CMD_NONE,		0,			NULL },
	{ "UNSELECT",		IMAP_CMD_UNSELECT,	0,			imap_gram_none },
	{ "UNSUBSCRIBE",	IMAP_CMD_UNSUBSCRIBE,	0,			imap_gram_mailbox_only },
};

const struct imap_cmd_def *
imap_cmd_def_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < SG_NITEMS(imap_cmd_defs); i++) {
		if (sg_ascii_ieq(name, len, imap_cmd_defs[i].name))
			return &imap_cmd_defs[i];
	}
	return NULL;
}

const struct imap_cmd_def *
imap_cmd_def_get(enum imap_cmd_id id)
{
	size_t i;

	for (i = 0; i < SG_NITEMS(imap_cmd_defs); i++) {
		if (id != IMAP_CMD_NONE && imap_cmd_defs[i].id == id)
			return &imap_cmd_defs[i];
	}
	return NULL;
}

int
imap_gram_command(struct imap_gram *g, const struct imap_arg *args)
{
	return imap_cmd_def_get(g->cmd->id)->parse(g, args);
}

int
imap_gram_words(struct imap_gram *g, const struct imap_arg *children,
    const struct imap_word *words, size_t nwords, unsigned *bits, const char *msg)
{
	const struct imap_arg *a;
	size_t i;

	for (a = children; a != NULL; a = a->next) {
		for (i = 0; i < nwords && !imap_arg_is_atom(a, words[i].name); i++)
			;
		if (i == nwords)
			return imap_gram_fail(g, msg);
		*bits |= words[i].bit;
	}
	return 0;
}

static int
imap_gram_none(struct imap_gram *g, const struct imap_arg *args)
{
	return imap_gram_end(g, args);
}

/* base64 = *(4base64-char) [base64-terminal] (RFC 3501 9), or "=" (RFC 4959) */
static bool
imap_base64_ok(const char *s, size_t len)
{
	size_t i, pad = 0;

	if (len == 1 && s[0] == '=')
		return true;
	if (len % 4 != 0)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '=')
			pad++;
		else if (pad > 0 || !((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
			return false;
	}
	return pad <= 2;
}

/* "AUTHENTICATE" SP auth-type [SP (base64 / "=")] (RFC 4959 SASL-IR) */
static int
imap_gram_authenticate(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_authenticate *x = &g->cmd->u.authenticate;
	const struct imap_arg *a = args;

	if (imap_gram_atom(g, &a, &x->mech) < 0)
		return -1;
	if (a == NULL)
		return 0;
	if (a->type != IMAP_ARG_ATOM || !imap_base64_ok(a->str.s, a->str.len))
		return imap_gram_fail(g, "Invalid initial response");
	x->has_ir = true;
	x->ir = a->str;
	if (a->str.len == 1) {	/* "=": an empty initial response */
		x->ir.s = "";
		x->ir.len = 0;
	}
	return imap_gram_end(g, a->next);
}

static int
imap_gram_login(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_login *x = &g->cmd->u.login;
	const struct imap_arg *a = args;

	if (imap_gram_astring(g, &a, &x->user) < 0 || imap_gram_astring(g, &a, &x->pass) < 0)
		return -1;
	return imap_gram_end(g, a);
}

/* "ENABLE" 1*(SP capability) (RFC 5161) */
static int
imap_gram_enable(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_enable *x = &g->cmd->u.enable;
	const struct imap_arg *a;
	struct imap_str *caps;
	size_t n = 0;

	for (a = args; a != NULL; a = a->next)
		n++;
	if (n == 0)
		return imap_gram_fail(g, "Missing argument");
	caps = imap_arena_array(g->arena, n, sizeof *caps);
	x->caps = caps;
	for (a = args; a != NULL; x->ncaps++) {
		if (imap_gram_atom(g, &a, &caps[x->ncaps]) < 0)
			return -1;
	}
	return 0;
}

/* "ID" SP ("(" *(string SP nstring) ")" / nil) (RFC 2971 3.3) */
static int
imap_gram_id(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_id *x = &g->cmd->u.id;
	const struct imap_arg *a = args, *c;
	struct imap_str *pairs;
	size_t n = 0, i;

	if (imap_arg_is_atom(a, "NIL")) {
		x->nil = true;
		return imap_gram_end(g, a->next);
	}
	if (imap_gram_list(g, &a, &c) < 0 || imap_gram_end(g, a) < 0)
		return -1;
	for (a = c; a != NULL; a = a->next)
		n++;
	if (n % 2 != 0)
		return imap_gram_fail(g, "ID needs field and value pairs");
	if (n / 2 > IMAP_ID_PAIRS_MAX)
		return imap_gram_limit(g, "Too many ID fields");
	pairs = imap_arena_array(g->arena, n + 1, sizeof *pairs);
	for (i = 0, a = c; a != NULL; i += 2) {
		if (imap_gram_string(g, &a, &pairs[i]) < 0 || imap_gram_nstring(g, &a, &pairs[i + 1]) < 0)
			return -1;
	}
	x->pairs = pairs;
	x->npairs = n / 2;
	return 0;
}

/* QRESYNC (uidvalidity mod-sequence-value [known-uids] [seq-match-data]), RFC 7162 3.2.5 */
static int
imap_gram_qresync(struct imap_gram *g, struct imap_args_select *x, const struct imap_arg *c)
{
	const struct imap_arg *m;
	uint64_t v;

	if (imap_gram_number(g, &c, 1, UINT32_MAX, &v) < 0)
		return -1;
	x->uidvalidity = (uint32_t)v;
	if (imap_gram_number(g, &c, 0, IMAP_NUMBER63_MAX, &x->modseq) < 0)
		return -1;
	if (c != NULL && c->type == IMAP_ARG_ATOM) {
		if (imap_gram_seq(g, &c, &x->known_uids) < 0)
			return -1;
		if (imap_seq_has_star(x->known_uids))	/* "MUST NOT contain '*'" */
			return imap_gram_fail(g, "Invalid known UIDs");
	}
	if (c != NULL) {
		if (imap_gram_list(g, &c, &m) < 0 || imap_gram_seq(g, &m, &x->match_seqs) < 0 ||
		    imap_gram_seq(g, &m, &x->match_uids) < 0 || imap_gram_end(g, m) < 0)
			return -1;
	}
	x->qresync = true;
	return imap_gram_end(g, c);
}

/* select-params = SP "(" select-param *(SP select-param) ")" (RFC 4466 2.1) */
static int
imap_gram_select(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_select *x = &g->cmd->u.select;
	const struct imap_arg *a = args, *c, *q;

	if (imap_gram_mailbox(g, &a, &x->mailbox) < 0)
		return -1;
	if (a == NULL)
		return 0;
	if (imap_gram_list(g, &a, &c) < 0 || imap_gram_end(g, a) < 0)
		return -1;
	if (c == NULL)
		return imap_gram_fail(g, "Empty SELECT parameters");
	while (c != NULL) {
		if (imap_arg_is_atom(c, "CONDSTORE")) {
			x->condstore = true;
			c = c->next;
		} else if (imap_arg_is_atom(c, "QRESYNC") && !x->qresync) {
			c = c->next;
			if (imap_gram_list(g, &c, &q) < 0 || imap_gram_qresync(g, x, q) < 0)
				return -1;
		} else
			return imap_gram_fail(g, "Unknown SELECT parameter");
	}
	return 0;
}

/* create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")" (RFC 6154 5.3) */
static int
imap_gram_create(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_create *x = &g->cmd->u.create;
	const struct imap_arg *a = args, *c, *u;
	struct imap_str *use;
	size_t n = 0;

	if (imap_gram_mailbox(g, &a, &x->mailbox) < 0)
		return -1;
	if (a == NULL)
		return 0;
	if (imap_gram_list(g, &a, &c) < 0 || imap_gram_end(g, a) < 0)
		return -1;
	if (!imap_arg_is_atom(c, "USE"))
		return imap_gram_fail(g, "Unknown CREATE parameter");
	c = c->next;
	if (imap_gram_list(g, &c, &u) < 0 || imap_gram_end(g, c) < 0)
		return -1;
	for (a = u; a != NULL; a = a->next) {
		if (a->type != IMAP_ARG_ATOM || a->str.s[0] != '\\' ||
		    !imap_atom_chars_ok(a->str.s + 1, a->str.len - 1))
			return imap_gram_fail(g, "Invalid special-use attribute");
		n++;
	}
	use = imap_arena_array(g->arena, n + 1, sizeof *use);
	for (a = u; a != NULL; a = a->next)
		use[x->nuse++] = a->str;
	x->use = use;
	return 0;
}

static int
imap_gram_mailbox_only(struct imap_gram *g, const struct imap_arg *args)
{
	const struct imap_arg *a = args;

	if (imap_gram_mailbox(g, &a, &g->cmd->u.mailbox.mailbox) < 0)
		return -1;
	return imap_gram_end(g, a);
}

static int
imap_gram_rename(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_rename *x = &g->cmd->u.rename;
	const struct imap_arg *a = args;

	if (imap_gram_mailbox(g, &a, &x->from) < 0 || imap_gram_mailbox(g, &a, &x->to) < 0)
		return -1;
	return imap_gram_end(g, a);
}

static const struct imap_word imap_status_words[] = {
	{ "MESSAGES",		IMAP_STATUS_MESSAGES },
	{ "RECENT",		IMAP_STATUS_RECENT },
	{ "UIDNEXT",		IMAP_STATUS_UIDNEXT },
	{ "UIDVALIDITY",	IMAP_STATUS_UIDVALIDITY },
	{ "UNSEEN",		IMAP_STATUS_UNSEEN },
	{ "HIGHESTMODSEQ",	IMAP_STATUS_HIGHESTMODSEQ },
	{ "SIZE",		IMAP_STATUS_SIZE },
};

/* "(" status-att *(SP status-att) ")" */
static int
imap_gram_status_items(struct imap_gram *g, const struct imap_arg **cur, unsigned *items)
{
	const struct imap_arg *c;

	if (imap_gram_list(g, cur, &c) < 0)
		return -1;
	if (c == NULL)
		return imap_gram_fail(g, "Empty STATUS item list");
	return imap_gram_words(g, c, imap_status_words, SG_NITEMS(imap_status_words), items,
	    "Unknown STATUS item");
}

static int
imap_gram_status(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_status *x = &g->cmd->u.status;
	const struct imap_arg *a = args;

	if (imap_gram_mailbox(g, &a, &x->mailbox) < 0 ||
	    imap_gram_status_items(g, &a, &x->items) < 0)
		return -1;
	return imap_gram_end(g, a);
}

static const struct imap_word imap_list_select_words[] = {
	{ "SUBSCRIBED",		IMAP_LIST_SEL_SUBSCRIBED },
	{ "REMOTE",		IMAP_LIST_SEL_REMOTE },
	{ "RECURSIVEMATCH",	IMAP_LIST_SEL_RECURSIVEMATCH },
	{ "SPECIAL-USE",	IMAP_LIST_SEL_SPECIAL_USE },
};

static const struct imap_word imap_list_return_words[] = {
	{ "SUBSCRIBED",		IMAP_LIST_RET_SUBSCRIBED },
	{ "CHILDREN",		IMAP_LIST_RET_CHILDREN },
	{ "SPECIAL-USE",	IMAP_LIST_RET_SPECIAL_USE },
};

/* list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")" */
static int
imap_gram_list_return(struct imap_gram *g, struct imap_args_list *x, const struct imap_arg *c)
{
	size_t i;

	while (c != NULL) {
		if (imap_arg_is_atom(c, "STATUS")) {	/* RFC 5819 */
			c = c->next;
			x->ret |= IMAP_LIST_RET_STATUS;
			if (imap_gram_status_items(g, &c, &x->status_items) < 0)
				return -1;
			continue;
		}
		for (i = 0; i < SG_NITEMS(imap_list_return_words) &&
		    !imap_arg_is_atom(c, imap_list_return_words[i].name); i++)
			;
		if (i == SG_NITEMS(imap_list_return_words))
			return imap_gram_fail(g, "Unknown LIST return option");
		x->ret |= imap_list_return_words[i].bit;
		c = c->next;
	}
	return 0;
}

/* patterns = "(" list-mailbox *(SP list-mailbox) ")", or a single one */
static int
imap_gram_list_patterns(struct imap_gram *g, struct imap_args_list *x,
    const struct imap_arg **cur)
{
	const struct imap_arg *c = *cur, *a;
	struct imap_str *pats;
	size_t n = 1;

	if (c != NULL && c->type == IMAP_ARG_LIST) {
		x->extended = true;
		*cur = c->next;
		c = c->child;
		for (n = 0, a = c; a != NULL; a = a->next)
			n++;
		if (n == 0)
			return imap_gram_fail(g, "Empty pattern list");
	} else
		*cur = c != NULL ? c->next : NULL;
	pats = imap_arena_array(g->arena, n, sizeof *pats);
	x->patterns = pats;
	for (x->npatterns = 0; x->npatterns < n; x->npatterns++) {
		if (imap_gram_list_mailbox(g, &c, &pats[x->npatterns]) < 0)
			return -1;
	}
	return 0;
}

/*
 * list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
 *        [SP list-return-opts]                          (RFC 5258 6)
 */
static int
imap_gram_list_cmd(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_list *x = &g->cmd->u.list;
	const struct imap_arg *a = args, *c;

	if (a != NULL && a->type == IMAP_ARG_LIST) {
		x->extended = true;
		if (imap_gram_words(g, a->child, imap_list_select_words,
		    SG_NITEMS(imap_list_select_words), &x->select, "Unknown LIST selection option") < 0)
			return -1;
		/* RFC 5258 3.1: RECURSIVEMATCH needs a base option to modify */
		if ((x->select & IMAP_LIST_SEL_RECURSIVEMATCH) && (x->select &
		    (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE)) == 0)
			return imap_gram_fail(g, "RECURSIVEMATCH without a base option");
		a = a->next;
	}
	if (imap_gram_astring(g, &a, &x->ref) < 0 || imap_gram_list_patterns(g, x, &a) < 0)
		return -1;
	if (a == NULL)
		return 0;
	if (!imap_arg_is_atom(a, "RETURN"))
		return imap_gram_fail(g, "Unexpected extra arguments");
	a = a->next;
	x->extended = true;
	if (imap_gram_list(g, &a, &c) < 0 || imap_gram_list_return(g, x, c) < 0)
		return -1;
	return imap_gram_end(g, a);
}

static int
imap_gram_lsub(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_list *x = &g->cmd->u.list;
	const struct imap_arg *a = args;
	struct imap_str *pat = imap_arena_alloc(g->arena, sizeof *pat);

	if (imap_gram_astring(g, &a, &x->ref) < 0 || imap_gram_list_mailbox(g, &a, pat) < 0)
		return -1;
	x->patterns = pat;
	x->npatterns = 1;
	return imap_gram_end(g, a);
}

/* Room for one more message in the APPEND build (arena: old arrays stay). */
static struct imap_append_msg *
imap_append_push(struct imap_gram *g)
{
	struct imap_append_build *b = g->append;

	if (b->nmsgs == b->cap) {
		size_t cap = b->cap > 0 ? b->cap * 2 : 4;
		struct imap_append_msg *m = imap_arena_array(g->arena, cap, sizeof *m);

		if (b->nmsgs > 0)
			memcpy(m, b->msgs, b->nmsgs * sizeof *m);
		b->msgs = m;
		b->cap = cap;
	}
	return &b->msgs[b->nmsgs++];
}

/*
 * append = "APPEND" SP mailbox 1*append-message       (RFC 3502)
 * append-message = [SP flag-list] [SP date-time] SP literal
 * Called at each message literal, before it is read, with the arguments up
 * to it: the mailbox the first time, then what follows the last literal.
 */
int
imap_gram_append_msg(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_append_build *b = g->append;
	const struct imap_arg *a = args;
	struct imap_append_msg m;

	if (b->prev == NULL) {
		if (imap_gram_mailbox(g, &a, &b->mailbox) < 0)
			return -1;
		b->prev = args;
	}
	a = b->prev->next;
	memset(&m, 0, sizeof m);
	if (a != NULL && a->type == IMAP_ARG_LIST) {
		m.has_flags = true;
		if (imap_gram_flag_list(g, &a, &m.flags) < 0)
			return -1;
	}
	if (a != NULL) {
		m.has_date = true;
		if (imap_gram_datetime(g, &a, &m.date) < 0)
			return -1;
	}
	if (imap_gram_end(g, a) < 0)
		return -1;
	*imap_append_push(g) = m;
	return 0;
}

/* At the end of the command: every message had its literal, nothing follows. */
static int
imap_gram_append(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_append *x = &g->cmd->u.append;
	struct imap_append_build *b = g->append;

	(void)args;
	if (b->nmsgs == 0)
		return imap_gram_fail(g, "Missing message literal");
	if (imap_gram_end(g, b->prev->next) < 0)
		return -1;
	x->mailbox = b->mailbox;
	x->msgs = b->msgs;
	x->nmsgs = b->nmsgs;
	return 0;
}

/* "EXPUNGE", and "UID EXPUNGE" SP sequence-set (RFC 4315 2.1) */
static int
imap_gram_expunge(struct imap_gram *g, const struct imap_arg *args)
{
	const struct imap_arg *a = args;

	if (g->cmd->uid && imap_gram_seq(g, &a, &g->cmd->u.expunge.set) < 0)
		return -1;
	return imap_gram_end(g, a);
}

/* store-modifiers = SP "(" store-modifier *(SP store-modifier) ")" (RFC 7162 3.1.3) */
static int
imap_gram_store_mods(struct imap_gram *g, struct imap_args_store *x, const struct imap_arg *c)
{
	if (c == NULL)
		return imap_gram_fail(g, "Empty STORE modifiers");
	while (c != NULL) {
		if (!imap_arg_is_atom(c, "UNCHANGEDSINCE") || x->unchangedsince_set)
			return imap_gram_fail(g, "Unknown STORE modifier");
		c = c->next;
		if (imap_gram_number(g, &c, 0, IMAP_NUMBER63_MAX, &x->unchangedsince) < 0)
			return -1;
		x->unchangedsince_set = true;
	}
	return 0;
}

static const struct {
	const char		*name;
	enum imap_store_op	 op;
	bool			 silent;
} imap_store_atts[] = {
	{ "FLAGS",		IMAP_STORE_REPLACE,	false },
	{ "FLAGS.SILENT",	IMAP_STORE_REPLACE,	true },
	{ "+FLAGS",		IMAP_STORE_ADD,		false },
	{ "+FLAGS.SILENT",	IMAP_STORE_ADD,		true },
	{ "-FLAGS",		IMAP_STORE_REMOVE,	false },
	{ "-FLAGS.SILENT",	IMAP_STORE_REMOVE,	true },
};

/*
 * store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
 * store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
 */
static int
imap_gram_store(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_store *x = &g->cmd->u.store;
	const struct imap_arg *a = args, *c;
	size_t i;

	if (imap_gram_seq(g, &a, &x->set) < 0)
		return -1;
	if (a != NULL && a->type == IMAP_ARG_LIST) {
		if (imap_gram_list(g, &a, &c) < 0 || imap_gram_store_mods(g, x, c) < 0)
			return -1;
	}
	for (i = 0; i < SG_NITEMS(imap_store_atts) && !imap_arg_is_atom(a, imap_store_atts[i].name); i++)
		;
	if (i == SG_NITEMS(imap_store_atts))
		return imap_gram_fail(g, a == NULL ? "Missing argument" : "Invalid STORE attribute");
	x->op = imap_store_atts[i].op;
	x->silent = imap_store_atts[i].silent;
	a = a->next;
	if (a == NULL)
		return imap_gram_fail(g, "Missing flags");
	if (a->type == IMAP_ARG_LIST) {
		if (imap_gram_flag_list(g, &a, &x->flags) < 0)
			return -1;
		return imap_gram_end(g, a);
	}
	return imap_gram_flags(g, a, &x->flags);
}

/* COPY / MOVE (RFC 6851) SP sequence-set SP mailbox */
static int
imap_gram_copy(struct imap_gram *g, const struct imap_arg *args)
{
	struct imap_args_copy *x = &g->cmd->u.copy;
	const struct imap_arg *a = args;

	if (imap_gram_seq(g, &a, &x->set) < 0 || imap_gram_mailbox(g, &a, &x->mailbox) < 0)
		return -1;
	return imap_gram_end(g, a);
}
