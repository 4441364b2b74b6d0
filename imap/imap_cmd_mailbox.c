/*
 * imap_cmd_mailbox.c: LIST (with LIST-EXTENDED, SPECIAL-USE, CHILDREN,
 * LIST-STATUS), LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and
 * STATUS. Names are UTF-8 in the store and modified UTF-7 on the wire
 * (unless UTF8=ACCEPT); the hierarchy delimiter is "/".
 */
#include "imap/imap_private.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw_conn.h"

static const char *const imap_special_names[] = {
	[STORE_SPECIAL_NONE] = NULL, [STORE_SPECIAL_SENT] = "\\Sent",
	[STORE_SPECIAL_DRAFTS] = "\\Drafts", [STORE_SPECIAL_TRASH] = "\\Trash",
	[STORE_SPECIAL_JUNK] = "\\Junk", [STORE_SPECIAL_ARCHIVE] = "\\Archive",
};

/* ---- pattern matching (RFC 3501 6.3.8): '*' any, '%' any but '/' ----
 * A bit-parallel NFA over the pattern (state i: p[0..i) matched), so that no
 * pattern a client can send costs more than a few word operations per
 * octet of each name: a backtracking matcher is exponential in '%'. */

#define IMAP_GLOB_WORDS	4
#define IMAP_GLOB_MAX	(IMAP_GLOB_WORDS * 64 - 1)	/* pattern octets */

struct imap_glob {
	uint64_t	lit[256][IMAP_GLOB_WORDS];	/* p[i] == c: i -> i+1 */
	uint64_t	star[IMAP_GLOB_WORDS];		/* p[i] == '*': i -> i */
	uint64_t	pct[IMAP_GLOB_WORDS];		/* p[i] == '%': i -> i unless '/' */
	size_t		len;
};

static void
imap_bits_set(uint64_t *w, size_t i)
{
	w[i / 64] |= 1ull << (i % 64);
}

static void
imap_bits_shl1(uint64_t *w)
{
	int i;

	for (i = IMAP_GLOB_WORDS - 1; i > 0; i--)
		w[i] = (w[i] << 1) | (w[i - 1] >> 63);
	w[0] <<= 1;
}

/* Wildcards match the empty string: state i with p[i] wild also reaches i+1. */
static void
imap_glob_close(const struct imap_glob *g, uint64_t *cur)
{
	uint64_t prev[IMAP_GLOB_WORDS], step[IMAP_GLOB_WORDS];
	int i;

	do {
		memcpy(prev, cur, sizeof prev);
		for (i = 0; i < IMAP_GLOB_WORDS; i++)
			step[i] = cur[i] & (g->star[i] | g->pct[i]);
		imap_bits_shl1(step);
		for (i = 0; i < IMAP_GLOB_WORDS; i++)
			cur[i] |= step[i];
	} while (memcmp(prev, cur, sizeof prev) != 0);
}

static bool
imap_glob_match(const struct imap_glob *g, const char *name)
{
	uint64_t cur[IMAP_GLOB_WORDS] = { 1 }, nxt[IMAP_GLOB_WORDS];
	const unsigned char *n;
	int i;

	imap_glob_close(g, cur);
	for (n = (const unsigned char *)name; *n != '\0'; n++) {
		for (i = 0; i < IMAP_GLOB_WORDS; i++)
			nxt[i] = cur[i] & g->lit[*n][i];
		imap_bits_shl1(nxt);
		for (i = 0; i < IMAP_GLOB_WORDS; i++)
			nxt[i] |= (cur[i] & g->star[i]) |
			    (*n != STORE_MBOX_SEP ? cur[i] & g->pct[i] : 0);
		memcpy(cur, nxt, sizeof cur);
		imap_glob_close(g, cur);
	}
	return (cur[g->len / 64] >> (g->len % 64)) & 1;
}

static int
imap_glob_compile(struct imap_glob *g, const char *p)
{
	size_t i;

	memset(g, 0, sizeof *g);
	g->len = strlen(p);
	if (g->len > IMAP_GLOB_MAX)
		return -1;
	for (i = 0; i < g->len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '*')
			imap_bits_set(g->star, i);
		else if (c == '%')
			imap_bits_set(g->pct, i);
		else
			imap_bits_set(g->lit[c], i);
	}
	return 0;
}

/* INBOX is case-insensitive in names and patterns (RFC 3501 5.1): patterns
 * starting with it in any case are rewritten to "INBOX" before compiling. */
static int
imap_pattern_canon(char *pat)
{
	if (strncasecmp(pat, "INBOX", 5) == 0 && (pat[5] == '\0' || pat[5] == STORE_MBOX_SEP))
		memcpy(pat, "INBOX", 5);
	return 0;
}

struct imap_mbox_list {
	struct store_mailbox	*v;
	size_t			 n, cap;
};

static int
imap_mbox_collect(void *arg, const struct store_mailbox *m)
{
	struct imap_mbox_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
	}
	l->v[l->n++] = *m;
	return 0;
}

static bool
imap_has_children(const struct imap_mbox_list *l, const char *name)
{
	size_t len = strlen(name), i;

	for (i = 0; i < l->n; i++)
		if (strncmp(l->v[i].name, name, len) == 0 && l->v[i].name[len] == STORE_MBOX_SEP)
			return true;
	return false;
}

static bool
imap_has_subscribed_child(const struct imap_mbox_list *l, const char *name)
{
	size_t len = strlen(name), i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].subscribed && strncmp(l->v[i].name, name, len) == 0 &&
		    l->v[i].name[len] == STORE_MBOX_SEP)
			return true;
	return false;
}

static void
imap_status_items(struct evbuffer *b, const struct store_mailbox *m, unsigned items)
{
	const char *sep = "";

	evbuffer_add(b, "(", 1);
	if (items & IMAP_STATUS_MESSAGES) {
		evbuffer_add_printf(b, "%sMESSAGES %u", sep, m->messages);
		sep = " ";
	}
	if (items & IMAP_STATUS_RECENT) {
		evbuffer_add_printf(b, "%sRECENT 0", sep);
		sep = " ";
	}
	if (items & IMAP_STATUS_UIDNEXT) {
		evbuffer_add_printf(b, "%sUIDNEXT %u", sep, m->uidnext);
		sep = " ";
	}
	if (items & IMAP_STATUS_UIDVALIDITY) {
		evbuffer_add_printf(b, "%sUIDVALIDITY %u", sep, m->uidvalidity);
		sep = " ";
	}
	if (items & IMAP_STATUS_UNSEEN) {
		evbuffer_add_printf(b, "%sUNSEEN %u", sep, m->unseen);
		sep = " ";
	}
	if (items & IMAP_STATUS_HIGHESTMODSEQ) {
		evbuffer_add_printf(b, "%sHIGHESTMODSEQ %llu", sep,
		    (unsigned long long)m->highestmodseq);
		sep = " ";
	}
	if (items & IMAP_STATUS_SIZE)
		evbuffer_add_printf(b, "%sSIZE %llu", sep, (unsigned long long)m->size);
	evbuffer_add(b, ")", 1);
}

/* ---- LIST / LSUB ---- */

#define IMAP_LIST_PATTERNS_MAX	8

struct imap_list_ctx {
	struct imap_session		*s;
	const struct imap_args_list	*a;
	bool				 lsub;
	struct imap_mbox_list		 all;
	struct imap_glob		 globs[IMAP_LIST_PATTERNS_MAX];
	size_t				 npatterns;
};

static bool
imap_list_matches(const struct imap_list_ctx *lc, const char *name)
{
	size_t i;

	for (i = 0; i < lc->npatterns; i++)
		if (imap_glob_match(&lc->globs[i], name))
			return true;
	return false;
}

static void
imap_list_one(struct imap_list_ctx *lc, const struct store_mailbox *m, const char *name,
    bool noselect)
{
	struct imap_session *s = lc->s;
	struct evbuffer *b = gw_conn_out(s->conn);
	const struct imap_args_list *a = lc->a;
	const char *sep = "";
	bool children = imap_has_children(&lc->all, name);

	evbuffer_add_printf(b, "* %s (", lc->lsub ? "LSUB" : "LIST");
	if (noselect) {
		evbuffer_add_printf(b, "\\Noselect");
		sep = " ";
	}
	if (!lc->lsub) {
		evbuffer_add_printf(b, "%s%s", sep, children ? "\\HasChildren" :
		    "\\HasNoChildren");
		sep = " ";
	}
	/* Apple Mail needs special-use on plain LIST too (INTEROP.md). */
	if (m != NULL && imap_special_names[m->special] != NULL) {
		evbuffer_add_printf(b, "%s%s", sep, imap_special_names[m->special]);
		sep = " ";
	}
	if (!lc->lsub && m != NULL && m->subscribed &&
	    (a->ret & IMAP_LIST_RET_SUBSCRIBED || a->select & IMAP_LIST_SEL_SUBSCRIBED))
		evbuffer_add_printf(b, "%s\\Subscribed", sep);
	evbuffer_add_printf(b, ") \"/\" ");
	imap_out_mailbox(s, b, name);
	evbuffer_add(b, "\r\n", 2);
	if (m != NULL && !noselect && (a->ret & IMAP_LIST_RET_STATUS)) {
		evbuffer_add_printf(b, "* STATUS ");
		imap_out_mailbox(s, b, name);
		evbuffer_add(b, " ", 1);
		imap_status_items(b, m, a->status_items);
		evbuffer_add(b, "\r\n", 2);
	}
}

static bool
imap_list_selected(const struct imap_list_ctx *lc, const struct store_mailbox *m)
{
	const struct imap_args_list *a = lc->a;

	if ((lc->lsub || (a->select & IMAP_LIST_SEL_SUBSCRIBED)) && !m->subscribed)
		return lc->lsub ? false : imap_has_subscribed_child(&lc->all, m->name) &&
		    (a->select & IMAP_LIST_SEL_RECURSIVEMATCH);
	if ((a->select & IMAP_LIST_SEL_SPECIAL_USE) && m->special == STORE_SPECIAL_NONE)
		return false;
	return true;
}

/* Parents that do not exist as mailboxes are listed \Noselect when a '%'
 * pattern stops at their level (RFC 3501 6.3.8). */
static void
imap_list_parents(struct imap_list_ctx *lc, const char *name, char (*done)[IMAP_NAME_MAX],
    size_t *ndone)
{
	char parent[IMAP_NAME_MAX];
	const char *p;
	size_t i, k;

	for (p = strchr(name, STORE_MBOX_SEP); p != NULL; p = strchr(p + 1, STORE_MBOX_SEP)) {
		k = (size_t)(p - name);
		memcpy(parent, name, k);
		parent[k] = '\0';
		for (i = 0; i < lc->all.n; i++)
			if (strcmp(lc->all.v[i].name, parent) == 0)
				break;
		if (i < lc->all.n || !imap_list_matches(lc, parent))
			continue;
		for (i = 0; i < *ndone; i++)
			if (strcmp(done[i], parent) == 0)
				break;
		if (i < *ndone || *ndone >= 64)
			continue;
		snprintf(done[(*ndone)++], IMAP_NAME_MAX, "%s", parent);
		imap_list_one(lc, NULL, parent, true);
	}
}

static int
imap_list_prepare(struct imap_list_ctx *lc)
{
	const struct imap_args_list *a = lc->a;
	char ref[IMAP_NAME_MAX], pat[IMAP_NAME_MAX];
	struct imap_str r = a->ref;
	size_t i;

	ref[0] = '\0';
	if (r.len > 0 && imap_mailbox_decode(lc->s, &r, ref, sizeof ref) != 0)
		return -1;
	for (i = 0; i < a->npatterns && i < IMAP_LIST_PATTERNS_MAX; i++) {
		char full[IMAP_NAME_MAX * 2];

		if (a->patterns[i].len == 0)
			continue;
		if (imap_mailbox_decode(lc->s, &a->patterns[i], pat, sizeof pat) != 0)
			return -1;
		/* RFC 3501 6.3.8: the reference is prefixed to the pattern; there
		 * is one namespace, so a plain join is right. */
		snprintf(full, sizeof full, "%s%s", ref, pat);
		imap_pattern_canon(full);
		if (imap_glob_compile(&lc->globs[lc->npatterns++], full) != 0)
			return -1;
	}
	return 0;
}

void
imap_cmd_list(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_list_ctx *lc = xcalloc(1, sizeof *lc);
	char (*done)[IMAP_NAME_MAX] = xcalloc(64, IMAP_NAME_MAX);
	struct store_txn *t;
	enum store_rc rc = STORE_TEMPFAIL;
	size_t i, ndone = 0;

	lc->s = s;
	lc->a = &cmd->u.list;
	lc->lsub = cmd->id == IMAP_CMD_LSUB;
	if (lc->a->npatterns == 1 && lc->a->patterns[0].len == 0 && !lc->lsub) {
		/* LIST "" "": the delimiter and the root (RFC 3501 6.3.8). */
		imap_printf(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_done(s, "OK", "LIST completed");
		goto out;
	}
	if (imap_list_prepare(lc) != 0) {
		imap_done(s, "BAD", "Invalid mailbox name in pattern");
		goto out;
	}
	if ((t = store_read_begin(s->ctx->store, &rc)) != NULL) {
		rc = store_mailbox_list(t, s->account.id, imap_mbox_collect, &lc->all);
		store_read_end(&t);
	}
	if (rc != STORE_OK) {
		imap_done_store_error(s, rc, "LIST");
		goto out;
	}
	for (i = 0; i < lc->all.n; i++) {
		const struct store_mailbox *m = &lc->all.v[i];

		if (!lc->lsub && !(lc->a->select & IMAP_LIST_SEL_SUBSCRIBED))
			imap_list_parents(lc, m->name, done, &ndone);
		if (imap_list_matches(lc, m->name) && imap_list_selected(lc, m))
			imap_list_one(lc, m, m->name, false);
	}
	imap_done(s, "OK", "%s completed", lc->lsub ? "LSUB" : "LIST");
out:
	free(lc->all.v);
	free(lc);
	free(done);
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE: one write job ---- */

enum imap_mbox_op { IMAP_MB_CREATE, IMAP_MB_DELETE, IMAP_MB_RENAME, IMAP_MB_SUBSCRIBE };

struct imap_mbox_job {
	struct imap_session	*s;
	enum imap_mbox_op	 op;
	uint64_t		 account_id;
	char			 name[IMAP_NAME_MAX];
	char			 to[IMAP_NAME_MAX];
	enum store_special	 special;
	bool			 on;
	const char		*what;
};

/* RFC 3501 6.3.3: "the server SHOULD create any superior hierarchical
 * names that are needed" (so LIST never shows holes we made). */
static enum store_rc
imap_create_parents(struct store_txn *t, uint64_t account_id, const char *name)
{
	char parent[IMAP_NAME_MAX];
	struct store_mailbox m;
	const char *p;
	enum store_rc rc;

	for (p = strchr(name, STORE_MBOX_SEP); p != NULL; p = strchr(p + 1, STORE_MBOX_SEP)) {
		memcpy(parent, name, (size_t)(p - name));
		parent[p - name] = '\0';
		rc = store_mailbox_get(t, account_id, parent, &m);
		if (rc == STORE_NOTFOUND)
			rc = store_mailbox_create(t, account_id, parent, STORE_SPECIAL_NONE, &m);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

static enum store_rc
imap_mbox_op(struct store_txn *t, void *arg)
{
	struct imap_mbox_job *j = arg;
	struct store_mailbox m;
	enum store_rc rc;

	switch (j->op) {
	case IMAP_MB_CREATE:
		if ((rc = imap_create_parents(t, j->account_id, j->name)) != STORE_OK)
			return rc;
		rc = store_mailbox_create(t, j->account_id, j->name, j->special, &m);
		if (rc == STORE_OK)
			rc = store_mailbox_subscribe(t, j->account_id, j->name, true);
		return rc;
	case IMAP_MB_DELETE:
		return store_mailbox_delete(t, j->account_id, j->name);
	case IMAP_MB_RENAME:
		if ((rc = imap_create_parents(t, j->account_id, j->to)) != STORE_OK)
			return rc;
		return store_mailbox_rename(t, j->account_id, j->name, j->to);
	case IMAP_MB_SUBSCRIBE:
		return store_mailbox_subscribe(t, j->account_id, j->name, j->on);
	}
	return STORE_INVALID;
}

static void
imap_mbox_done(void *arg, enum store_rc rc)
{
	struct imap_mbox_job *j = arg;
	struct imap_session *s = j->s;

	if (imap_session_alive(s)) {
		if (rc == STORE_OK)
			imap_done(s, "OK", "%s completed", j->what);
		else if (rc == STORE_EXISTS && j->op == IMAP_MB_DELETE)
			imap_done(s, "NO", "[INUSE] Mailbox has children, delete them first");
		else if (rc == STORE_EXISTS)
			imap_done(s, "NO", "[ALREADYEXISTS] Mailbox already exists");
		else if (rc == STORE_NOTFOUND)
			imap_done(s, "NO", "[NONEXISTENT] No such mailbox");
		else
			imap_done_store_error(s, rc, j->what);
	}
	imap_session_unref(s);
	free(j);
}

static struct imap_mbox_job *
imap_mbox_job_new(struct imap_session *s, enum imap_mbox_op op, const struct imap_str *name)
{
	struct imap_mbox_job *j = xcalloc(1, sizeof *j);
	size_t len;

	j->s = s;
	j->op = op;
	j->account_id = s->account.id;
	j->what = imap_cmd_name(s->cmd->id);
	if (imap_mailbox_decode(s, name, j->name, sizeof j->name) != 0) {
		free(j);
		imap_done(s, "NO", "[CANNOT] Invalid mailbox name");
		return NULL;
	}
	/* A trailing delimiter only says children may follow (RFC 3501 6.3.3). */
	len = strlen(j->name);
	while (len > 1 && j->name[len - 1] == STORE_MBOX_SEP)
		j->name[--len] = '\0';
	if (j->name[0] == STORE_MBOX_SEP || strstr(j->name, "//") != NULL) {
		free(j);
		imap_done(s, "NO", "[CANNOT] Invalid mailbox name");
		return NULL;
	}
	return j;
}

static void
imap_mbox_submit(struct imap_session *s, struct imap_mbox_job *j)
{
	imap_session_ref(s);
	imap_wait(s);
	store_write(s->ctx->store, imap_mbox_op, imap_mbox_done, j);
}

static enum store_special
imap_special_parse(const struct imap_str *use, size_t n, bool *bad)
{
	enum store_special sp = STORE_SPECIAL_NONE;
	size_t i, k;

	*bad = false;
	for (i = 0; i < n; i++) {
		for (k = 1; k < SG_NITEMS(imap_special_names); k++)
			if (sg_ascii_ieq(use[i].s, use[i].len, imap_special_names[k]))
				break;
		if (k == SG_NITEMS(imap_special_names) || sp != STORE_SPECIAL_NONE)
			*bad = true;
		else
			sp = (enum store_special)k;
	}
	return sp;
}

void
imap_cmd_create(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_mbox_job *j = imap_mbox_job_new(s, IMAP_MB_CREATE, &cmd->u.create.mailbox);
	bool bad;

	if (j == NULL)
		return;
	j->special = imap_special_parse(cmd->u.create.use, cmd->u.create.nuse, &bad);
	if (bad) {
		free(j);
		imap_done(s, "NO", "[USEATTR] Unsupported special-use attribute");
		return;
	}
	if (strcasecmp(j->name, "INBOX") == 0) {
		free(j);
		imap_done(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		return;
	}
	imap_mbox_submit(s, j);
}

void
imap_cmd_delete(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_mbox_job *j = imap_mbox_job_new(s, IMAP_MB_DELETE, &cmd->u.mailbox.mailbox);

	if (j == NULL)
		return;
	if (strcasecmp(j->name, "INBOX") == 0) {
		free(j);
		imap_done(s, "NO", "[CANNOT] INBOX cannot be deleted");
		return;
	}
	imap_mbox_submit(s, j);
}

void
imap_cmd_rename(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_mbox_job *j = imap_mbox_job_new(s, IMAP_MB_RENAME, &cmd->u.rename.from);
	size_t len;

	if (j == NULL)
		return;
	if (imap_mailbox_decode(s, &cmd->u.rename.to, j->to, sizeof j->to) != 0 ||
	    strcasecmp(j->to, "INBOX") == 0) {
		free(j);
		imap_done(s, "NO", "[CANNOT] Invalid target name");
		return;
	}
	len = strlen(j->to);
	while (len > 1 && j->to[len - 1] == STORE_MBOX_SEP)
		j->to[--len] = '\0';
	imap_mbox_submit(s, j);
}

void
imap_cmd_subscribe(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_mbox_job *j = imap_mbox_job_new(s, IMAP_MB_SUBSCRIBE,
	    &cmd->u.mailbox.mailbox);

	if (j == NULL)
		return;
	j->on = cmd->id == IMAP_CMD_SUBSCRIBE;
	imap_mbox_submit(s, j);
}

void
imap_cmd_status(struct imap_session *s, struct imap_cmd *cmd)
{
	char name[IMAP_NAME_MAX];
	struct store_mailbox m;
	struct store_txn *t;
	enum store_rc rc = STORE_TEMPFAIL;
	struct evbuffer *b;

	if (imap_mailbox_decode(s, &cmd->u.status.mailbox, name, sizeof name) != 0) {
		imap_done(s, "NO", "[CANNOT] Invalid mailbox name");
		return;
	}
	if ((t = store_read_begin(s->ctx->store, &rc)) != NULL) {
		rc = store_mailbox_get(t, s->account.id, name, &m);
		store_read_end(&t);
	}
	if (rc != STORE_OK) {
		imap_done_store_error(s, rc, "STATUS");
		return;
	}
	if (cmd->u.status.items & IMAP_STATUS_HIGHESTMODSEQ)
		s->condstore = true;
	b = gw_conn_out(s->conn);
	evbuffer_add_printf(b, "* STATUS ");
	imap_out_mailbox(s, b, m.name);
	evbuffer_add(b, " ", 1);
	imap_status_items(b, &m, cmd->u.status.items);
	evbuffer_add(b, "\r\n", 2);
	imap_done(s, "OK", "STATUS completed");
}
