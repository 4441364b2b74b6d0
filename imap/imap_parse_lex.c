/*
 * imap_parse_lex.c: turns complete command lines into generic arguments.
 *
 * A command is one or more lines joined by literals: each line but the last
 * ends in "{n}" or "{n+}" and the literal's octets follow it. The driver
 * hands over each line without its line end; lists stay open across lines.
 * Separators are exact (RFC 3501 9: one SP between arguments, none inside
 * the parentheses), as clients send them.
 *
 * The lexer is deliberately more permissive in atoms than any single rule of
 * the grammar (it accepts "%", "*" and "]", and "\" first, so list patterns,
 * sequence sets, astrings and flags all lex as atoms); each grammar function
 * then checks the characters its own rule allows. The one context-sensitive
 * part is FETCH: there "[" opens a section, which may hold a list and
 * literals, "]" closes it and "<origin.count>" may follow.
 */
#include "imap/imap_parse_int.h"

#include <string.h>

/* "{4294967295+}": the longest literal announcement the tail check reads */
#define IMAP_LITERAL_ANNOUNCE_MAX	13
#define IMAP_PARTIAL_MAX		24	/* "<4294967295.4294967295>" inside */

enum imap_lex_expect {
	IMAP_EXPECT_SEP,	/* after a token: SP, a closer or the end of the line */
	IMAP_EXPECT_FIRST,	/* after "(" or "[": a token or the closer */
	IMAP_EXPECT_TOKEN,	/* after SP: a token */
};

void
imap_lex_init(struct imap_lex *lx, struct imap_arena *a, const struct imap_parse_limits *lim)
{
	memset(lx, 0, sizeof *lx);
	lx->arena = a;
	lx->lim = lim;
	lx->root.type = IMAP_ARG_LIST;
	lx->cur = &lx->root;
}

static enum imap_lex_rc
imap_lex_fail(struct imap_lex_result *res, enum imap_perr err, const char *msg)
{
	res->err = err;
	res->msg = msg;
	return IMAP_LEX_ERROR;
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool
imap_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\+", c) == NULL;
}

/* Length of the run of tag characters at the start of line. */
static size_t
imap_lex_tag_run(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len && imap_tag_char((unsigned char)line[i]); i++)
		;
	return i;
}

/* Length of the tag at the start of line if a valid one is followed by SP. */
static size_t
imap_lex_tag_len(const char *line, size_t len)
{
	size_t i = imap_lex_tag_run(line, len);

	return i > 0 && i < len && line[i] == ' ' ? i : 0;
}

void
imap_lex_peek_tag(struct imap_lex *lx, const char *line, size_t len)
{
	size_t n = imap_lex_tag_len(line, len);

	if (n == 0 || n > IMAP_TAG_MAX)
		return;
	memcpy(lx->tag, line, n);	/* bounds: n <= IMAP_TAG_MAX, tag has one more */
	lx->tag[n] = '\0';
	lx->tag_len = n;
	lx->has_tag = true;
}

/* The command name at line[*pos], up to SP or the end of the line. */
static const struct imap_cmd_def *
imap_lex_cmd_name(const char *line, size_t len, size_t *pos)
{
	size_t start = *pos, i;

	for (i = start; i < len && line[i] != ' '; i++)
		;
	*pos = i;
	return imap_cmd_def_find(line + start, i - start);
}

/* tag SP command [SP "UID" SP command]: the start of the first line. */
static int
imap_lex_start(struct imap_lex *lx, const char *line, size_t len, size_t *pos,
    struct imap_lex_result *res)
{
	const struct imap_cmd_def *def;
	size_t tl = imap_lex_tag_len(line, len);

	if (tl == 0) {
		(void)imap_lex_fail(res, IMAP_PERR_SYNTAX, len > 0 && imap_lex_tag_run(line, len) == len ?
		    "Missing command" : "Invalid tag");
		return -1;
	}
	if (tl > IMAP_TAG_MAX) {
		(void)imap_lex_fail(res, IMAP_PERR_SYNTAX, "Tag too long");
		return -1;
	}
	imap_lex_peek_tag(lx, line, len);
	*pos = tl + 1;
	def = imap_lex_cmd_name(line, len, pos);
	if (def != NULL && def->id == IMAP_CMD_NONE) {	/* "UID" */
		lx->uid = true;
		def = NULL;
		if (*pos < len) {
			(*pos)++;
			def = imap_lex_cmd_name(line, len, pos);
		}
		if (def != NULL && (def->flags & IMAP_CMDF_UID) == 0)
			def = NULL;
	}
	if (def == NULL) {
		(void)imap_lex_fail(res, IMAP_PERR_UNKNOWN_COMMAND, "Unknown command");
		return -1;
	}
	lx->def = def;
	lx->started = true;
	lx->after_token = true;
	return 0;
}

int
imap_lex_add(struct imap_lex *lx, struct imap_arg *a, struct imap_lex_result *res)
{
	struct imap_arg *c = lx->cur;

	if (++lx->nargs > lx->lim->args_max) {
		(void)imap_lex_fail(res, IMAP_PERR_LIMIT, "Too many arguments");
		return -1;
	}
	a->parent = c;
	if (c->last != NULL)
		c->last->next = a;
	else
		c->child = a;
	c->last = a;
	if (c == &lx->root)
		lx->root_count++;
	lx->after_token = true;
	return 0;
}

static struct imap_arg *
imap_lex_new(struct imap_lex *lx, enum imap_arg_type type, const char *s, size_t len)
{
	struct imap_arg *a = imap_arena_alloc(lx->arena, sizeof *a);

	a->type = type;
	if (s != NULL) {
		a->str.s = imap_arena_strndup(lx->arena, s, len);
		a->str.len = len;
	}
	return a;
}

/* Opens a list or a section: the new container becomes the current one. */
static int
imap_lex_open(struct imap_lex *lx, struct imap_arg *a, struct imap_lex_result *res)
{
	if (lx->depth >= lx->lim->depth_max) {
		(void)imap_lex_fail(res, IMAP_PERR_LIMIT, "Too deeply nested");
		return -1;
	}
	if (imap_lex_add(lx, a, res) < 0)
		return -1;
	lx->depth++;
	lx->cur = a;
	lx->after_token = false;
	return 0;
}

/*
 * quoted = DQUOTE *QUOTED-CHAR DQUOTE, QUOTED-CHAR = <any TEXT-CHAR except
 * quoted-specials> / "\" quoted-specials. 8-bit octets are let through for
 * UTF-8 (RFC 6855 3, RFC 9051); NUL and CR are not.
 */
static int
imap_lex_quoted(struct imap_lex *lx, const char *line, size_t len, size_t *pos,
    struct imap_lex_result *res)
{
	size_t i, n = 0;
	struct imap_arg *a;
	char *out;

	for (i = *pos + 1; i < len && line[i] != '"'; i++, n++) {
		if (line[i] == '\\') {
			if (++i == len || (line[i] != '"' && line[i] != '\\'))
				return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Invalid escape in quoted string");
		} else if (line[i] == '\0' || line[i] == '\r')
			return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Invalid character in quoted string");
	}
	if (i == len)
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Unterminated quoted string");
	a = imap_lex_new(lx, IMAP_ARG_QUOTED, NULL, 0);
	out = imap_arena_alloc(lx->arena, n + 1);	/* bounds: n unescaped octets + NUL */
	a->str.s = out;
	a->str.len = n;
	for (i = *pos + 1, n = 0; line[i] != '"'; i++) {
		if (line[i] == '\\')
			i++;
		out[n++] = line[i];
	}
	*pos = i + 1;
	return imap_lex_add(lx, a, res) < 0 ? IMAP_LEX_ERROR : 0;
}

/* "{" number ["+"] "}" at the very end of the line (RFC 3501 9, RFC 7888). */
static int
imap_lex_literal(const char *line, size_t len, size_t pos, struct imap_lex_result *res)
{
	struct imap_lit_tail t;

	if (line[len - 1] != '}')
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Literal must end the line");
	if (!imap_lex_tail_literal(line, len, &t) || t.at != pos || t.overflow)
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Invalid literal");
	res->lit_size = t.size;
	res->lit_sync = t.sync;
	return IMAP_LEX_LITERAL;
}

/* The permissive atom set (see the top of the file). */
static bool
imap_lex_atom_char(const struct imap_lex *lx, unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f || strchr("(){\"\\", c) != NULL)
		return false;
	return !((lx->def->flags & IMAP_CMDF_SECTIONS) && (c == '[' || c == ']'));
}

static int
imap_lex_atom(struct imap_lex *lx, const char *line, size_t len, size_t *pos,
    struct imap_lex_result *res)
{
	size_t start = *pos, i = start;
	struct imap_arg *a;

	if (line[i] == '\\')	/* flags: "\" atom */
		i++;
	while (i < len && imap_lex_atom_char(lx, (unsigned char)line[i]))
		i++;
	if (i == start || (i == start + 1 && line[start] == '\\'))
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Invalid character");
	*pos = i;
	if (i < len && line[i] == '[' && (lx->def->flags & IMAP_CMDF_SECTIONS)) {
		a = imap_lex_new(lx, IMAP_ARG_SECTION, line + start, i - start);
		*pos = i + 1;
		return imap_lex_open(lx, a, res) < 0 ? IMAP_LEX_ERROR : 0;
	}
	a = imap_lex_new(lx, IMAP_ARG_ATOM, line + start, i - start);
	return imap_lex_add(lx, a, res) < 0 ? IMAP_LEX_ERROR : 0;
}

/* After "]": an optional "<...>" whose content the FETCH grammar checks. */
static int
imap_lex_partial(struct imap_lex *lx, struct imap_arg *sec, const char *line, size_t len,
    size_t *pos, struct imap_lex_result *res)
{
	size_t i;

	if (*pos >= len || line[*pos] != '<')
		return 0;
	for (i = *pos + 1; i < len && i - *pos <= IMAP_PARTIAL_MAX && line[i] != '>'; i++)
		;
	if (i == len || line[i] != '>')
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Invalid partial");
	sec->partial.s = imap_arena_strndup(lx->arena, line + *pos + 1, i - *pos - 1);
	sec->partial.len = i - *pos - 1;
	*pos = i + 1;
	return 0;
}

/* ")" or "]" closing the current container, if it matches. */
static int
imap_lex_close(struct imap_lex *lx, const char *line, size_t len, size_t *pos,
    struct imap_lex_result *res)
{
	struct imap_arg *c = lx->cur;
	char want = c->type == IMAP_ARG_SECTION ? ']' : ')';

	if (c == &lx->root || line[*pos] != want)
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, line[*pos] == ')' ?
		    "Unexpected ')'" : "Unexpected ']'");
	(*pos)++;
	lx->cur = c->parent;
	lx->depth--;
	lx->after_token = true;
	if (c->type == IMAP_ARG_SECTION)
		return imap_lex_partial(lx, c, line, len, pos, res);
	return 0;
}

static bool
imap_lex_is_closer(const struct imap_lex *lx, char c)
{
	return c == ')' || (c == ']' && (lx->def->flags & IMAP_CMDF_SECTIONS));
}

/* One token at line[*pos]; IMAP_LEX_LITERAL ends the line. */
static int
imap_lex_token(struct imap_lex *lx, const char *line, size_t len, size_t *pos,
    struct imap_lex_result *res)
{
	switch (line[*pos]) {
	case '(':
		(*pos)++;
		return imap_lex_open(lx, imap_lex_new(lx, IMAP_ARG_LIST, NULL, 0), res) < 0 ?
		    IMAP_LEX_ERROR : 0;
	case '"':
		return imap_lex_quoted(lx, line, len, pos, res);
	case '{':
		return imap_lex_literal(line, len, *pos, res);
	case ' ':
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Unexpected space");
	default:
		return imap_lex_atom(lx, line, len, pos, res);
	}
}

/* Where a separator is due: SP then a token, a closer, or the end of the line. */
static int
imap_lex_sep(struct imap_lex *lx, const char *line, size_t len, size_t *pos,
    struct imap_lex_result *res)
{
	if (imap_lex_is_closer(lx, line[*pos]))
		return imap_lex_close(lx, line, len, pos, res);
	if (line[*pos] != ' ')
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Expected space");
	(*pos)++;
	if (*pos == len || imap_lex_is_closer(lx, line[*pos]))
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Unexpected space");
	return imap_lex_token(lx, line, len, pos, res);
}

enum imap_lex_rc
imap_lex_line(struct imap_lex *lx, const char *line, size_t len, struct imap_lex_result *res)
{
	size_t pos = 0;
	int rc = 0;

	memset(res, 0, sizeof *res);
	if (memchr(line, '\0', len) != NULL)
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "NUL in command");
	if (!lx->started && imap_lex_start(lx, line, len, &pos, res) < 0)
		return IMAP_LEX_ERROR;
	while (rc == 0 && pos < len) {
		if (lx->after_token)
			rc = imap_lex_sep(lx, line, len, &pos, res);
		else if (imap_lex_is_closer(lx, line[pos]))	/* "()" or "[]" */
			rc = imap_lex_close(lx, line, len, &pos, res);
		else
			rc = imap_lex_token(lx, line, len, &pos, res);
	}
	if (rc != 0)
		return (enum imap_lex_rc)rc;
	if (lx->depth > 0 || !lx->after_token)
		return imap_lex_fail(res, IMAP_PERR_SYNTAX, "Missing ')'");
	return IMAP_LEX_END;
}

/*
 * Reads "{n}" / "{n+}" backwards from the end of the line: the lexer checks
 * it is the token it stands on, error recovery needs only the line's tail.
 */
bool
imap_lex_tail_literal(const char *line, size_t len, struct imap_lit_tail *t)
{
	size_t end, start;
	uint64_t n = 0;

	memset(t, 0, sizeof *t);
	if (len < 3 || line[len - 1] != '}')
		return false;
	end = len - 1;
	t->sync = line[end - 1] != '+';
	if (!t->sync)
		end--;
	for (start = end; start > 0 && line[start - 1] >= '0' && line[start - 1] <= '9'; start--)
		;
	if (start == end || start == 0 || line[start - 1] != '{')
		return false;
	t->overflow = !imap_number(line + start, end - start, 0, UINT32_MAX, &n);
	t->size = (uint32_t)n;
	t->at = start - 1;
	return true;
}
