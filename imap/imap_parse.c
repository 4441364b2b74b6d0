/*
 * imap_parse.c: the incremental driver of the IMAP command parser. It
 * collects lines and literals from whatever pieces the session feeds,
 * enforces the size limits before any memory is committed, reports the
 * literals the session must answer, and after an error discards exactly what
 * the client still sends of the bad command. See imap_parse.h for the
 * contract and imap_parse_int.h for the layers.
 */
#include "imap/imap_parse.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse_int.h"

#define IMAP_LINE_INITIAL	256
#define IMAP_TAIL_MAX		16	/* bounds: "{4294967295+}\r" is 14 octets */

enum imap_pstate {
	IMAP_PST_LINE,		/* reading a line of a command, or waiting for one */
	IMAP_PST_LITERAL,	/* reading a literal into the command */
	IMAP_PST_APPEND,	/* the session takes an APPEND message literal */
	IMAP_PST_SKIP_LINE,	/* discarding the rest of a bad command's line */
	IMAP_PST_SKIP_LITERAL,	/* discarding a {n+} literal of a bad command */
	IMAP_PST_DEAD,		/* after a fatal error */
};

/* What the session owes after the last event. */
enum imap_pending {
	IMAP_PENDING_NONE,
	IMAP_PENDING_LITERAL,	/* "+" or imap_parser_reject() */
	IMAP_PENDING_APPEND,	/* imap_parser_literal_done() or imap_parser_reject() */
};

struct imap_parser {
	struct imap_parse_limits	 lim;		/* of the command being read */
	struct imap_parse_limits	 next_lim;	/* from the next command on */
	enum imap_pstate		 state;
	enum imap_pending		 pending;
	struct imap_arena		*arena;		/* NULL between commands */
	struct imap_cmd			*cmd;
	struct imap_lex			 lex;
	struct imap_append_build	 append;
	char				*line;
	size_t				 line_len;
	size_t				 line_cap;
	size_t				 cmd_size;	/* octets of the command so far */
	char				*lit;
	uint32_t			 lit_size;
	uint32_t			 lit_got;
	uint64_t			 skip_left;
	char				 tail[IMAP_TAIL_MAX];
	size_t				 tail_len;
	enum imap_perr			 fatal_err;
	const char			*fatal_msg;
};

typedef enum imap_parse_rc imap_step_fn(struct imap_parser *p, const char *buf, size_t len,
    size_t *pos, struct imap_parse_event *ev);

void
imap_parse_limits_default(struct imap_parse_limits *lim)
{
	memset(lim, 0, sizeof *lim);
	lim->line_max = IMAP_LINE_MAX_PREAUTH;
	lim->cmd_max = IMAP_CMD_MAX;
	lim->literal_max = IMAP_LITERAL_MAX;
	lim->append_max = IMAP_APPEND_MAX;
	lim->depth_max = IMAP_DEPTH_MAX;
	lim->args_max = IMAP_ARGS_MAX;
	lim->fetch_atts_max = IMAP_FETCH_ATTS_MAX;
	lim->search_keys_max = IMAP_SEARCH_KEYS_MAX;
	lim->seq_ranges_max = IMAP_SEQ_RANGES_MAX;
}

struct imap_parser *
imap_parser_new(const struct imap_parse_limits *lim)
{
	struct imap_parser *p = xcalloc(1, sizeof *p);

	if (lim != NULL)
		imap_parser_set_limits(p, lim);
	else
		imap_parse_limits_default(&p->next_lim);
	p->lim = p->next_lim;
	imap_lex_init(&p->lex, NULL, &p->lim);
	return p;
}

void
imap_parser_set_limits(struct imap_parser *p, const struct imap_parse_limits *lim)
{
	SG_ASSERT(lim->line_max > 0 && lim->cmd_max > 0 && lim->depth_max > 0);
	p->next_lim = *lim;
}

/* Drops the command being read, wiping what the client sent of it. */
static void
imap_drop_command(struct imap_parser *p)
{
	imap_arena_free(&p->arena);
	p->cmd = NULL;
	p->lit = NULL;
	imap_wipe(p->line, p->line_len);
	p->line_len = 0;
	p->cmd_size = 0;
	memset(&p->append, 0, sizeof p->append);
}

void
imap_parser_free(struct imap_parser **p)
{
	if (*p == NULL)
		return;
	imap_drop_command(*p);
	imap_wipe((*p)->line, (*p)->line_cap);
	free((*p)->line);
	free(*p);
	*p = NULL;
}

void
imap_parser_reset(struct imap_parser *p)
{
	imap_drop_command(p);
	p->state = IMAP_PST_LINE;
	p->pending = IMAP_PENDING_NONE;
	p->tail_len = 0;
	p->skip_left = 0;
	imap_lex_init(&p->lex, NULL, &p->lim);
}

void
imap_cmd_free(struct imap_cmd **cmd)
{
	struct imap_arena *a;

	if (*cmd == NULL)
		return;
	a = (*cmd)->arena;	/* the command lives in its own arena */
	imap_arena_free(&a);
	*cmd = NULL;
}

const char *
imap_cmd_name(enum imap_cmd_id id)
{
	const struct imap_cmd_def *d = imap_cmd_def_get(id);

	return d != NULL ? d->name : "?";
}

static void
imap_ev_tag(const struct imap_parser *p, struct imap_parse_event *ev)
{
	if (p->lex.has_tag) {
		ev->tag = p->lex.tag;
		ev->tag_len = p->lex.tag_len;
	}
	ev->cmd_id = p->lex.def != NULL ? p->lex.def->id : IMAP_CMD_NONE;
}

/* Reports err and drops the command; the caller sets the state that follows. */
static enum imap_parse_rc
imap_fail(struct imap_parser *p, struct imap_parse_event *ev, enum imap_perr err,
    const char *msg, bool fatal)
{
	imap_ev_tag(p, ev);
	ev->err = err;
	ev->err_msg = msg;
	ev->fatal = fatal;
	imap_drop_command(p);
	p->state = IMAP_PST_LINE;
	if (fatal) {
		p->state = IMAP_PST_DEAD;
		p->fatal_err = err;
		p->fatal_msg = msg;
	}
	return IMAP_PARSE_ERROR;
}

static void
imap_skip_literal_begin(struct imap_parser *p, uint64_t n)
{
	p->skip_left = n;
	p->tail_len = 0;
	p->state = n > 0 ? IMAP_PST_SKIP_LITERAL : IMAP_PST_SKIP_LINE;
}

/*
 * A bad command whose line has been read in full: the client still sends a
 * {n+} literal announced at its end (RFC 7888), but not a {n} one, for which
 * it waits for a "+" that will not come (RFC 3501 7.5). A {n+} whose size
 * cannot be read leaves no way to find the next command.
 */
static enum imap_parse_rc
imap_line_error(struct imap_parser *p, const char *line, size_t n, enum imap_perr err,
    const char *msg, struct imap_parse_event *ev)
{
	struct imap_lit_tail t;

	if (!p->lex.started)	/* the line was refused before its tag was read */
		imap_lex_peek_tag(&p->lex, line, n);
	if (imap_lex_tail_literal(line, n, &t) && !t.sync) {
		if (t.overflow)
			return imap_fail(p, ev, err, msg, true);
		(void)imap_fail(p, ev, err, msg, false);
		imap_skip_literal_begin(p, t.size);
		return IMAP_PARSE_ERROR;
	}
	return imap_fail(p, ev, err, msg, false);
}

/* A refused literal: a {n} is not sent, a {n+} could not be skipped safely. */
static enum imap_parse_rc
imap_literal_refuse(struct imap_parser *p, struct imap_parse_event *ev, enum imap_perr err,
    const char *msg, bool sync)
{
	return imap_fail(p, ev, err, msg, !sync);
}

/* A bad command at its literal: skip the literal the client sends anyway. */
static enum imap_parse_rc
imap_literal_error(struct imap_parser *p, struct imap_parse_event *ev, enum imap_perr err,
    const char *msg, uint32_t n, bool sync)
{
	(void)imap_fail(p, ev, err, msg, false);
	if (!sync)
		imap_skip_literal_begin(p, n);
	return IMAP_PARSE_ERROR;
}

static void
imap_tail_push(struct imap_parser *p, const char *s, size_t n)
{
	size_t keep;

	if (n == 0)
		return;
	if (n >= IMAP_TAIL_MAX) {
		memcpy(p->tail, s + n - IMAP_TAIL_MAX, IMAP_TAIL_MAX);
		p->tail_len = IMAP_TAIL_MAX;
		return;
	}
	keep = SG_MIN(p->tail_len, IMAP_TAIL_MAX - n);	/* bounds: keep + n <= IMAP_TAIL_MAX */
	memmove(p->tail, p->tail + p->tail_len - keep, keep);
	memcpy(p->tail + keep, s, n);
	p->tail_len = keep + n;
}

static enum imap_parse_rc
imap_step_skip_literal(struct imap_parser *p, const char *buf, size_t len, size_t *pos,
    struct imap_parse_event *ev)
{
	size_t k = (size_t)SG_MIN(p->skip_left, (uint64_t)(len - *pos));

	(void)buf;
	(void)ev;
	*pos += k;
	p->skip_left -= k;
	if (p->skip_left == 0)
		imap_skip_literal_begin(p, 0);
	return IMAP_PARSE_MORE;
}

static enum imap_parse_rc
imap_step_skip_line(struct imap_parser *p, const char *buf, size_t len, size_t *pos,
    struct imap_parse_event *ev)
{
	const char *s = buf + *pos;
	const char *lf = memchr(s, '\n', len - *pos);
	size_t take = lf != NULL ? (size_t)(lf - s) : len - *pos;
	struct imap_lit_tail t;
	size_t n;

	imap_tail_push(p, s, take);
	*pos += take;
	if (lf == NULL)
		return IMAP_PARSE_MORE;
	(*pos)++;
	n = p->tail_len - (p->tail_len > 0 && p->tail[p->tail_len - 1] == '\r');
	p->tail_len = 0;
	p->state = IMAP_PST_LINE;
	if (imap_lex_tail_literal(p->tail, n, &t) && !t.sync) {
		if (t.overflow)
			return imap_fail(p, ev, IMAP_PERR_SYNTAX, "Invalid literal", true);
		imap_skip_literal_begin(p, t.size);
	}
	return IMAP_PARSE_MORE;
}

/* Starts a command at its first complete line. */
static void
imap_cmd_begin(struct imap_parser *p)
{
	p->arena = imap_arena_new();
	p->cmd = imap_arena_alloc(p->arena, sizeof *p->cmd);
	p->lex.arena = p->arena;
	memset(&p->append, 0, sizeof p->append);
}

/* The last line is in: the grammar turns the arguments into the command. */
static enum imap_parse_rc
imap_cmd_finish(struct imap_parser *p, struct imap_parse_event *ev)
{
	struct imap_gram g;
	struct imap_cmd *cmd = p->cmd;

	memset(&g, 0, sizeof g);
	g.arena = p->arena;
	g.lim = &p->lim;
	g.cmd = cmd;
	g.append = &p->append;
	cmd->tag.s = imap_arena_strndup(p->arena, p->lex.tag, p->lex.tag_len);
	cmd->tag.len = p->lex.tag_len;
	cmd->id = p->lex.def->id;
	cmd->uid = p->lex.uid;
	if (imap_gram_command(&g, p->lex.root.child) < 0)
		return imap_fail(p, ev, g.err, g.msg, false);
	cmd->arena = p->arena;
	ev->cmd = cmd;
	p->arena = NULL;
	p->cmd = NULL;
	p->cmd_size = 0;
	return IMAP_PARSE_COMMAND;
}

static enum imap_parse_rc
imap_append_begin(struct imap_parser *p, uint32_t n, bool sync, struct imap_parse_event *ev);

/* The line ended in "{n}" or "{n+}"; the size checks come before any "+". */
static enum imap_parse_rc
imap_literal_begin(struct imap_parser *p, uint32_t n, bool sync, struct imap_parse_event *ev)
{
	size_t max = p->lim.literal_max;

	/* APPEND's message literals are the top-level ones after the mailbox */
	if (p->lex.def->id == IMAP_CMD_APPEND && p->lex.depth == 0 && p->lex.root_count >= 1)
		return imap_append_begin(p, n, sync, ev);
	if (!sync && p->lim.literal_minus)
		max = SG_MIN(max, (size_t)IMAP_LITERAL_MINUS_MAX);
	if (n > max)
		return imap_literal_refuse(p, ev, IMAP_PERR_LITERAL_TOO_BIG, "Literal too big", sync);
	if (n > p->lim.cmd_max - p->cmd_size)	/* bounds: cmd_size <= cmd_max */
		return imap_literal_refuse(p, ev, IMAP_PERR_CMD_TOO_LONG, "Command too long", sync);
	p->lit = imap_arena_alloc(p->arena, (size_t)n + 1);
	p->lit_size = n;
	p->lit_got = 0;
	p->cmd_size += n;
	p->state = IMAP_PST_LITERAL;
	if (!sync)
		return IMAP_PARSE_MORE;
	p->pending = IMAP_PENDING_LITERAL;
	imap_ev_tag(p, ev);
	ev->literal_size = n;
	ev->literal_sync = true;
	return IMAP_PARSE_LITERAL;
}

/*
 * An APPEND message literal (RFC 3501 6.3.11, RFC 3502 MULTIAPPEND): check its
 * size and read the message's flags and date now, so the session can refuse
 * it (TOOBIG, TRYCREATE) before it answers "+".
 */
static enum imap_parse_rc
imap_append_begin(struct imap_parser *p, uint32_t n, bool sync, struct imap_parse_event *ev)
{
	struct imap_gram g;
	struct imap_lex_result res;
	struct imap_arg *a;
	struct imap_append_msg *msg;

	if (!sync && p->lim.literal_minus && n > IMAP_LITERAL_MINUS_MAX)
		return imap_fail(p, ev, IMAP_PERR_LITERAL_TOO_BIG, "Literal too big", true);
	if (n > p->lim.append_max)
		return imap_literal_refuse(p, ev, IMAP_PERR_APPEND_TOO_BIG, "Message too big", sync);
	memset(&g, 0, sizeof g);
	g.arena = p->arena;
	g.lim = &p->lim;
	g.cmd = p->cmd;
	g.append = &p->append;
	if (imap_gram_append_msg(&g, p->lex.root.child) < 0)
		return imap_literal_error(p, ev, g.err, g.msg, n, sync);
	a = imap_arena_alloc(p->arena, sizeof *a);
	a->type = IMAP_ARG_MSGLIT;
	a->size = n;
	if (imap_lex_add(&p->lex, a, &res) < 0)
		return imap_literal_error(p, ev, res.err, res.msg, n, sync);
	p->append.prev = a;	/* the next message starts after this literal */
	msg = &p->append.msgs[p->append.nmsgs - 1];
	msg->size = n;
	msg->sync = sync;
	p->state = IMAP_PST_APPEND;
	p->pending = IMAP_PENDING_APPEND;
	imap_ev_tag(p, ev);
	ev->literal_size = n;
	ev->literal_sync = sync;
	ev->append_index = p->append.nmsgs - 1;
	ev->append_mailbox = &p->append.mailbox;
	ev->append = msg;
	return IMAP_PARSE_APPEND;
}

/* A line is complete in p->line (line end included). */
static enum imap_parse_rc
imap_line_done(struct imap_parser *p, struct imap_parse_event *ev)
{
	struct imap_lex_result res;
	enum imap_lex_rc rc;
	size_t n = p->line_len;

	if (n > 0 && p->line[n - 1] == '\r')
		n--;
	else if (p->lim.strict_crlf)
		return imap_line_error(p, p->line, n, IMAP_PERR_SYNTAX, "Bare LF", ev);
	if (p->arena == NULL) {
		if (n == 0) {	/* an empty line between commands: ignored */
			p->line_len = 0;
			p->cmd_size = 0;
			return IMAP_PARSE_MORE;
		}
		imap_cmd_begin(p);
	}
	rc = imap_lex_line(&p->lex, p->line, n, &res);
	if (rc == IMAP_LEX_ERROR)
		return imap_line_error(p, p->line, n, res.err, res.msg, ev);
	imap_wipe(p->line, p->line_len);
	p->line_len = 0;
	if (rc == IMAP_LEX_LITERAL)
		return imap_literal_begin(p, res.lit_size, res.lit_sync, ev);
	return imap_cmd_finish(p, ev);
}

/* Whether the line would pass a limit with s[0..take) (and its LF if eol). */
static enum imap_perr
imap_line_check(const struct imap_parser *p, const char *s, size_t take, bool eol)
{
	size_t total = p->line_len + take;
	char last = take > 0 ? s[take - 1] : p->line_len > 0 ? p->line[p->line_len - 1] : '\0';

	/* a CR at the end may be the first half of CRLF: not content */
	if (total - (last == '\r') > p->lim.line_max)
		return IMAP_PERR_LINE_TOO_LONG;
	if (total + eol > p->lim.cmd_max - p->cmd_size)	/* bounds: cmd_size <= cmd_max */
		return IMAP_PERR_CMD_TOO_LONG;
	return IMAP_PERR_NONE;
}

/* A line over a limit: report it now and discard the rest as it arrives. */
static enum imap_parse_rc
imap_line_too_long(struct imap_parser *p, const char *s, size_t take, enum imap_perr err,
    struct imap_parse_event *ev)
{
	char head[IMAP_TAG_MAX + 2];
	size_t k = SG_MIN(p->line_len, sizeof head);

	if (p->arena == NULL) {	/* first line: find the tag for the reply */
		if (k > 0)
			memcpy(head, p->line, k);
		if (take > 0 && k < sizeof head)
			memcpy(head + k, s, SG_MIN(take, sizeof head - k));
		imap_lex_peek_tag(&p->lex, head, k + SG_MIN(take, sizeof head - k));
	}
	p->tail_len = 0;
	imap_tail_push(p, p->line, p->line_len);
	(void)imap_fail(p, ev, err, err == IMAP_PERR_LINE_TOO_LONG ? "Line too long" :
	    "Command too long", false);
	p->state = IMAP_PST_SKIP_LINE;
	return IMAP_PARSE_ERROR;
}

static void
imap_line_append(struct imap_parser *p, const char *s, size_t n)
{
	size_t cap = p->line_cap > 0 ? p->line_cap : IMAP_LINE_INITIAL;

	while (cap < p->line_len + n)
		cap *= 2;
	if (cap != p->line_cap) {
		/* bounds: line_len + n <= line_max + 1 (a CR), checked by imap_line_check */
		char *nl = xmalloc(cap);

		if (p->line_len > 0)
			memcpy(nl, p->line, p->line_len);
		imap_wipe(p->line, p->line_cap);
		free(p->line);
		p->line = nl;
		p->line_cap = cap;
	}
	if (n > 0)
		memcpy(p->line + p->line_len, s, n);
	p->line_len += n;
}

static enum imap_parse_rc
imap_step_line(struct imap_parser *p, const char *buf, size_t len, size_t *pos,
    struct imap_parse_event *ev)
{
	const char *s = buf + *pos;
	const char *lf = memchr(s, '\n', len - *pos);
	size_t take = lf != NULL ? (size_t)(lf - s) : len - *pos;
	enum imap_perr err;

	if (p->arena == NULL && p->line_len == 0) {	/* a new command: new limits */
		p->lim = p->next_lim;
		imap_lex_init(&p->lex, NULL, &p->lim);
	}
	err = imap_line_check(p, s, take, lf != NULL);
	if (err != IMAP_PERR_NONE)
		return imap_line_too_long(p, s, take, err, ev);
	imap_line_append(p, s, take);
	*pos += take;
	if (lf == NULL)
		return IMAP_PARSE_MORE;
	(*pos)++;
	p->cmd_size += p->line_len + 1;
	return imap_line_done(p, ev);
}

static enum imap_parse_rc
imap_step_literal(struct imap_parser *p, const char *buf, size_t len, size_t *pos,
    struct imap_parse_event *ev)
{
	size_t k = SG_MIN((size_t)(p->lit_size - p->lit_got), len - *pos);
	struct imap_lex_result res;
	struct imap_arg *a;

	/* RFC 3501 9: CHAR8 = %x01-ff; the literal is sent in full all the same */
	if (k > 0 && memchr(buf + *pos, '\0', k) != NULL) {
		uint32_t left = p->lit_size - p->lit_got;

		(void)imap_fail(p, ev, IMAP_PERR_SYNTAX, "NUL in literal", false);
		imap_skip_literal_begin(p, left);
		return IMAP_PARSE_ERROR;
	}
	if (k > 0)
		memcpy(p->lit + p->lit_got, buf + *pos, k);
	p->lit_got += (uint32_t)k;
	*pos += k;
	if (p->lit_got < p->lit_size)
		return IMAP_PARSE_MORE;
	a = imap_arena_alloc(p->arena, sizeof *a);
	a->type = IMAP_ARG_LITERAL;
	a->str.s = p->lit;
	a->str.len = p->lit_size;
	p->lit = NULL;
	p->state = IMAP_PST_LINE;
	if (imap_lex_add(&p->lex, a, &res) < 0) {
		(void)imap_fail(p, ev, res.err, res.msg, false);
		p->tail_len = 0;
		p->state = IMAP_PST_SKIP_LINE;
		return IMAP_PARSE_ERROR;
	}
	return IMAP_PARSE_MORE;
}

static enum imap_parse_rc
imap_step_dead(struct imap_parser *p, const char *buf, size_t len, size_t *pos,
    struct imap_parse_event *ev)
{
	(void)buf;
	(void)len;
	(void)pos;
	ev->err = p->fatal_err;
	ev->err_msg = p->fatal_msg;
	ev->fatal = true;
	return IMAP_PARSE_ERROR;
}

static imap_step_fn *const imap_steps[] = {
	[IMAP_PST_LINE] = imap_step_line,
	[IMAP_PST_LITERAL] = imap_step_literal,
	[IMAP_PST_APPEND] = NULL,	/* the session reads the literal itself */
	[IMAP_PST_SKIP_LINE] = imap_step_skip_line,
	[IMAP_PST_SKIP_LITERAL] = imap_step_skip_literal,
	[IMAP_PST_DEAD] = imap_step_dead,
};

/* Steps that can complete without input: an empty literal, a dead parser. */
static bool
imap_step_ready(const struct imap_parser *p)
{
	return (p->state == IMAP_PST_LITERAL && p->lit_got == p->lit_size) ||
	    p->state == IMAP_PST_DEAD;
}

enum imap_parse_rc
imap_parser_feed(struct imap_parser *p, const char *buf, size_t len, size_t *used_out,
    struct imap_parse_event *ev_out)
{
	enum imap_parse_rc rc = IMAP_PARSE_MORE;
	size_t pos = 0;

	memset(ev_out, 0, sizeof *ev_out);
	/* an APPEND literal is the session's to take (imap_parser_literal_done) */
	SG_ASSERT(p->pending != IMAP_PENDING_APPEND);
	p->pending = IMAP_PENDING_NONE;	/* feeding after LITERAL accepts it */
	while (rc == IMAP_PARSE_MORE && (pos < len || imap_step_ready(p)))
		rc = imap_steps[p->state](p, buf, len, &pos, ev_out);
	*used_out = pos;
	return rc;
}

void
imap_parser_literal_done(struct imap_parser *p)
{
	SG_ASSERT(p->pending == IMAP_PENDING_APPEND && p->state == IMAP_PST_APPEND);
	p->pending = IMAP_PENDING_NONE;
	p->state = IMAP_PST_LINE;
}

void
imap_parser_reject(struct imap_parser *p)
{
	bool skip = false;
	uint32_t n = 0;

	SG_ASSERT(p->pending != IMAP_PENDING_NONE);
	if (p->pending == IMAP_PENDING_APPEND) {
		skip = !p->append.msgs[p->append.nmsgs - 1].sync;
		n = p->append.msgs[p->append.nmsgs - 1].size;
	}
	p->pending = IMAP_PENDING_NONE;
	imap_drop_command(p);
	p->state = IMAP_PST_LINE;
	if (skip)	/* a {n+} message comes all the same: discard it and the rest */
		imap_skip_literal_begin(p, n);
}

enum imap_done_rc
imap_idle_done(const char *buf, size_t len, size_t *used_out)
{
	const char *lf = memchr(buf, '\n', SG_MIN(len, (size_t)IMAP_DONE_LINE_MAX + 2));
	size_t n;

	*used_out = 0;
	if (lf == NULL)
		return len > IMAP_DONE_LINE_MAX + 1 ? IMAP_DONE_BAD : IMAP_DONE_MORE;
	n = (size_t)(lf - buf);
	*used_out = n + 1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	return sg_ascii_ieq(buf, n, "DONE") ? IMAP_DONE_OK : IMAP_DONE_BAD;
}
