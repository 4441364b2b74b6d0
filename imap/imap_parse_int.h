/*
 * imap_parse_int.h: what the parser's files share, never included outside
 * imap/imap_parse*.c.
 *
 * The parser works in two layers, as Dovecot's lib-imap does:
 *  1. the lexer (imap_parse_lex.c) turns each complete line into generic
 *     arguments: atoms, quoted strings, literals, lists, FETCH sections; the
 *     driver (imap_parse.c) collects lines and literals incrementally and
 *     enforces the size limits;
 *  2. once the command is complete, one grammar function per command
 *     (imap_parse_cmd.c, imap_parse_fetch.c, imap_parse_search.c) walks those
 *     arguments into the typed struct imap_cmd. APPEND alone is also walked
 *     at each message literal, so the session knows the message's target,
 *     flags and date before it takes the literal.
 * Everything a command owns comes from its arena (imap_parse_util.c).
 */
#ifndef IMAP_PARSE_INT_H
#define IMAP_PARSE_INT_H

#include "imap/imap_parse.h"

/* --- arena ---------------------------------------------------------------- */

struct imap_arena *imap_arena_new(void);
void imap_arena_free(struct imap_arena **a);	/* wipes, frees, NULLs */
void *imap_arena_alloc(struct imap_arena *a, size_t n);	/* zeroed, aligned */
void *imap_arena_array(struct imap_arena *a, size_t nmemb, size_t size);
char *imap_arena_strndup(struct imap_arena *a, const char *s, size_t n);

/* Clears memory that held client data in a way the compiler keeps. */
void imap_wipe(void *p, size_t n);

/* --- generic arguments ---------------------------------------------------- */

enum imap_arg_type {
	IMAP_ARG_ATOM,		/* str; may start with "\" (flags) */
	IMAP_ARG_QUOTED,	/* str, unescaped */
	IMAP_ARG_LITERAL,	/* str */
	IMAP_ARG_LIST,		/* child */
	IMAP_ARG_SECTION,	/* FETCH "name[child]<partial>": str = name */
	IMAP_ARG_MSGLIT,	/* an APPEND message literal: size only */
};

struct imap_arg {
	enum imap_arg_type	 type;
	struct imap_arg		*next;
	struct imap_str		 str;
	struct imap_arg		*child;		/* LIST, SECTION */
	struct imap_arg		*last;		/* last child, while lexing */
	struct imap_arg		*parent;	/* while lexing */
	struct imap_str		 partial;	/* SECTION: between "<" and ">" */
	uint32_t		 size;		/* MSGLIT */
};

/* --- command table (imap_parse_cmd.c) ------------------------------------- */

struct imap_gram;
typedef int imap_gram_fn(struct imap_gram *g, const struct imap_arg *args);

#define IMAP_CMDF_UID		0x01u	/* may follow "UID" */
#define IMAP_CMDF_SECTIONS	0x02u	/* "[" opens a FETCH section when lexing */

struct imap_cmd_def {
	const char	*name;
	enum imap_cmd_id id;
	unsigned	 flags;
	imap_gram_fn	*parse;
};

const struct imap_cmd_def *imap_cmd_def_find(const char *name, size_t len);
const struct imap_cmd_def *imap_cmd_def_get(enum imap_cmd_id id);

/* --- lexer (imap_parse_lex.c) --------------------------------------------- */

struct imap_lex {
	struct imap_arena		*arena;
	const struct imap_parse_limits	*lim;
	bool				 started;	/* tag and command read */
	const struct imap_cmd_def	*def;
	bool				 uid;
	char				 tag[IMAP_TAG_MAX + 1];
	size_t				 tag_len;
	bool				 has_tag;
	struct imap_arg			 root;		/* LIST of the arguments */
	struct imap_arg			*cur;		/* innermost open container */
	unsigned			 depth;
	unsigned			 nargs;
	size_t				 root_count;	/* arguments directly in root */
	bool				 after_token;	/* expecting SP, a closer or EOL */
};

enum imap_lex_rc {
	IMAP_LEX_END = 1,	/* the line ends the command (0: keep lexing) */
	IMAP_LEX_LITERAL,	/* the line ends in a literal announcement */
	IMAP_LEX_ERROR,
};

struct imap_lex_result {
	uint32_t	 lit_size;
	bool		 lit_sync;
	enum imap_perr	 err;
	const char	*msg;
};

void imap_lex_init(struct imap_lex *lx, struct imap_arena *a,
    const struct imap_parse_limits *lim);
enum imap_lex_rc imap_lex_line(struct imap_lex *lx, const char *line, size_t len,
    struct imap_lex_result *res);
/* Adds a finished literal (or APPEND message) as the next token; -1 on limits. */
int imap_lex_add(struct imap_lex *lx, struct imap_arg *a, struct imap_lex_result *res);
/* A literal announcement at the end of a line. */
struct imap_lit_tail {
	size_t		at;		/* offset of "{" */
	uint32_t	size;
	bool		sync;		/* "{n}" rather than "{n+}" */
	bool		overflow;	/* n > 2^32 - 1: size is meaningless */
};

/* Whether the line ends in "{n}" or "{n+}" (true, *t filled) or not. */
bool imap_lex_tail_literal(const char *line, size_t len, struct imap_lit_tail *t);
/* Reads the tag of a (partial) first line, for errors before it is lexed. */
void imap_lex_peek_tag(struct imap_lex *lx, const char *line, size_t len);

/* --- grammar (imap_parse_util.c and the command files) -------------------- */

struct imap_append_build {
	const struct imap_arg	*prev;		/* the mailbox, then the last message literal */
	struct imap_append_msg	*msgs;
	size_t			 nmsgs;
	size_t			 cap;
	bool			 have_mailbox;
	struct imap_str		 mailbox;
};

struct imap_gram {
	struct imap_arena		*arena;
	const struct imap_parse_limits	*lim;
	struct imap_cmd			*cmd;
	struct imap_append_build	*append;
	enum imap_perr			 err;
	const char			*msg;
	unsigned			 depth;		/* search key nesting */
	size_t				 nkeys;
};

int imap_gram_fail(struct imap_gram *g, const char *msg);
int imap_gram_limit(struct imap_gram *g, const char *msg);

/* Runs the command's grammar over the arguments (after the command name). */
int imap_gram_command(struct imap_gram *g, const struct imap_arg *args);
/* APPEND: reads the next message's [flags] [date] up to its literal. */
int imap_gram_append_msg(struct imap_gram *g, const struct imap_arg *args);

bool imap_arg_is_atom(const struct imap_arg *a, const char *word);
bool imap_arg_is_string(const struct imap_arg *a);
bool imap_atom_chars_ok(const char *s, size_t len);
bool imap_astring_chars_ok(const char *s, size_t len);

/* Each takes *cur, checks it and advances it; -1 (error set in g) if absent or bad. */
int imap_gram_atom(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out);
int imap_gram_astring(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out);
int imap_gram_string(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out);
int imap_gram_nstring(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out);
int imap_gram_mailbox(struct imap_gram *g, const struct imap_arg **cur, struct imap_str *out);
int imap_gram_list_mailbox(struct imap_gram *g, const struct imap_arg **cur,
    struct imap_str *out);
int imap_gram_seq(struct imap_gram *g, const struct imap_arg **cur, const struct imap_seq **out);
int imap_gram_list(struct imap_gram *g, const struct imap_arg **cur,
    const struct imap_arg **children_out);
int imap_gram_end(struct imap_gram *g, const struct imap_arg *cur);
int imap_gram_flag_list(struct imap_gram *g, const struct imap_arg **cur,
    struct imap_flags *out);
int imap_gram_flags(struct imap_gram *g, const struct imap_arg *first, struct imap_flags *out);
int imap_gram_date(struct imap_gram *g, const struct imap_arg **cur, struct imap_date *out);
int imap_gram_datetime(struct imap_gram *g, const struct imap_arg **cur,
    struct imap_datetime *out);

/* A keyword and the bit it sets, for the option lists of LIST, STATUS, SEARCH. */
struct imap_word {
	const char	*name;
	unsigned	 bit;
};

/* Each element of the list children must be an atom named in words[]. */
int imap_gram_words(struct imap_gram *g, const struct imap_arg *children,
    const struct imap_word *words, size_t nwords, unsigned *bits, const char *msg);

/* Parses a decimal number in [min, max] (RFC 3501 number / nz-number / number64). */
bool imap_number(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out);
int imap_gram_number(struct imap_gram *g, const struct imap_arg **cur, uint64_t min,
    uint64_t max, uint64_t *out);

/* Grammar entry points of the command files. */
int imap_gram_fetch(struct imap_gram *g, const struct imap_arg *args);
int imap_gram_search(struct imap_gram *g, const struct imap_arg *args);

#define IMAP_NUMBER32_MAX	UINT32_MAX
#define IMAP_NUMBER63_MAX	((uint64_t)INT64_MAX)	/* RFC 7162 mod-sequence-value */

#endif
