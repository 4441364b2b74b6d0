/*
 * imap_parse.h: the incremental IMAP command parser (RFC 3501 9 and the
 * extensions of DESIGN.md "IMAP scope"). No I/O, no session: the session
 * feeds the octets it reads and gets back events and typed commands.
 *
 * Contract
 * --------
 * imap_parser_feed(p, buf, len, &used, &ev) consumes buf from the start and
 * stops at the first event; *used says how many octets it took, which the
 * caller drains (evbuffer_drain) before feeding the rest. Any split of the
 * input, down to one octet per call, gives the same events.
 *
 *   IMAP_PARSE_MORE     all of buf was consumed; feed more when it arrives.
 *   IMAP_PARSE_COMMAND  ev.cmd is a complete command; the caller owns it and
 *                       frees it with imap_cmd_free() (one arena, one call).
 *   IMAP_PARSE_LITERAL  a synchronizing literal {n} (not an APPEND message)
 *                       was announced and passed the size limits. Send
 *                       "+ Ready" and keep feeding; or refuse it: send
 *                       "<tag> NO/BAD ..." and call imap_parser_reject(); the
 *                       client does not send the literal then, and the next
 *                       octet starts a new command.
 *                       Non-synchronizing literals {n+} are not reported:
 *                       the parser checks them and reads them itself.
 *   IMAP_PARSE_APPEND   the message literal of an APPEND (one per message
 *                       with MULTIAPPEND). ev.append_mailbox, ev.append (its
 *                       flags and date) and ev.literal_size are known, and
 *                       the size is within append_max. Either
 *                        - accept: if ev.literal_sync, send "+ Ready"; then
 *                          take exactly ev.literal_size octets from the input
 *                          yourself (evbuffer_remove_buffer(), streaming to
 *                          the store), and call imap_parser_literal_done()
 *                          before feeding the rest of the command; or
 *                        - refuse: send "<tag> NO [TRYCREATE]" (or similar),
 *                          call imap_parser_reject() and keep feeding; for a
 *                          non-synchronizing literal the parser then discards
 *                          the literal and the rest of the command itself.
 *                       Feeding before one of these calls is a bug (asserts).
 *   IMAP_PARSE_ERROR    ev.err / ev.err_msg: reply "<tag> BAD <err_msg>" (or
 *                       "* BAD" when ev.tag is NULL; NO [TOOBIG] for
 *                       IMAP_PERR_APPEND_TOO_BIG, see enum imap_perr). If
 *                       ev.fatal, close the connection after the reply: the
 *                       stream cannot be resynchronized (an oversized {n+}),
 *                       and every later feed fails again. Otherwise keep
 *                       feeding: the parser discards the rest of the bad
 *                       command by itself, including the literals the client
 *                       will still send ({n+} ones; a {n} literal is not sent
 *                       without "+", so the command ends there), and returns
 *                       MORE until the next command starts.
 *
 * Pointers in the event (tag, append data) are borrowed until the next call
 * on the parser; the command's strings live as long as the command.
 *
 * A session's read callback, in outline:
 *
 *	while ((len = contiguous bytes at the head of the input) > 0) {
 *		rc = imap_parser_feed(p, data, len, &used, &ev);
 *		evbuffer_drain(in, used);
 *		switch (rc) {
 *		case IMAP_PARSE_MORE:	 continue;
 *		case IMAP_PARSE_COMMAND: dispatch(ev.cmd); (owns it; may go async)
 *		case IMAP_PARSE_LITERAL: send "+ Ready"; (or reply NO, reject)
 *		case IMAP_PARSE_APPEND:	 refuse?  reply NO [...], imap_parser_reject()
 *					 else "+ Ready" if sync, then stream exactly
 *					 ev.literal_size octets to the store (maybe
 *					 over several reads), imap_parser_literal_done()
 *		case IMAP_PARSE_ERROR:	 reply BAD (or NO [TOOBIG]); close if ev.fatal
 *		}
 *	}
 *
 * Line ends: CRLF, and also a bare LF unless limits.strict_crlf (RFC 3501
 * asks for CRLF, but a bare LF is unambiguous in IMAP, where literals are
 * counted, and servers such as Dovecot and Cyrus accept it; a bare CR is
 * always an error). Empty lines between commands are ignored. NUL is
 * refused everywhere (RFC 3501 CHAR8 excludes it), 8-bit octets are allowed
 * in quoted strings and literals only (UTF-8, RFC 6855), never in atoms.
 *
 * Strings: every struct imap_str points into the command's arena, is
 * NUL-terminated (NUL is never in the data) and has its length; s == NULL
 * means NIL where an nstring is allowed. Mailbox names are passed as sent,
 * still in modified UTF-7 (imap_utf7.h), except that any case of "INBOX"
 * becomes "INBOX" (RFC 3501 5.1).
 *
 * Threads: a parser belongs to one session, hence to the loop thread; a
 * command may be handed to a worker once returned.
 */
#ifndef IMAP_PARSE_H
#define IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/sg.h"
#include "imap/imap_seq.h"

/* Default limits (struct imap_parse_limits); each is tested at N and N+1. */
#define IMAP_LINE_MAX_PREAUTH	8192		/* one line before login */
#define IMAP_LINE_MAX_AUTH	65536		/* one line after login */
#define IMAP_CMD_MAX		(256 * 1024)	/* command, APPEND messages excluded */
#define IMAP_LITERAL_MAX	65536		/* a literal other than an APPEND message */
#define IMAP_LITERAL_MINUS_MAX	4096		/* RFC 7888 LITERAL-: {n+} cap */
#define IMAP_APPEND_MAX		(50u * 1024 * 1024) /* max_message_size default */
#define IMAP_DEPTH_MAX		32		/* nested lists, sections, search keys */
#define IMAP_ARGS_MAX		8192		/* tokens (strings, atoms, lists) per command */
#define IMAP_FETCH_ATTS_MAX	64		/* FETCH attributes after macro expansion */
#define IMAP_SEARCH_KEYS_MAX	1024		/* search keys, NOT/OR/() included */
#define IMAP_SEQ_RANGES_MAX	8192		/* ranges in one sequence set */
#define IMAP_TAG_MAX		64		/* octets in a tag */
#define IMAP_ID_PAIRS_MAX	30		/* RFC 2971 3.3 */
#define IMAP_DONE_LINE_MAX	64		/* the line that ends IDLE */

/*
 * A line is what lies between the command start or the end of a literal and
 * the next line end; literal data is not part of any line. cmd_max counts
 * every octet of a command (lines, line ends, literal data) except APPEND
 * message literals, which only append_max bounds.
 */
struct imap_parse_limits {
	size_t		line_max;	/* octets in one line, line end excluded */
	size_t		cmd_max;	/* octets in one command, APPEND messages excluded */
	size_t		literal_max;	/* one literal other than an APPEND message */
	size_t		append_max;	/* one APPEND message literal */
	unsigned	depth_max;
	unsigned	args_max;
	unsigned	fetch_atts_max;
	unsigned	search_keys_max;
	unsigned	seq_ranges_max;
	bool		literal_minus;	/* LITERAL- offered instead of LITERAL+ */
	bool		strict_crlf;	/* a bare LF is a syntax error */
};

/* Fills *lim with the defaults above (line_max = IMAP_LINE_MAX_PREAUTH). */
void imap_parse_limits_default(struct imap_parse_limits *lim);

enum imap_cmd_id {
	IMAP_CMD_NONE = 0,
	IMAP_CMD_CAPABILITY,
	IMAP_CMD_NOOP,
	IMAP_CMD_LOGOUT,
	IMAP_CMD_STARTTLS,
	IMAP_CMD_AUTHENTICATE,
	IMAP_CMD_LOGIN,
	IMAP_CMD_ENABLE,
	IMAP_CMD_ID,
	IMAP_CMD_NAMESPACE,
	IMAP_CMD_SELECT,
	IMAP_CMD_EXAMINE,
	IMAP_CMD_CREATE,
	IMAP_CMD_DELETE,
	IMAP_CMD_RENAME,
	IMAP_CMD_SUBSCRIBE,
	IMAP_CMD_UNSUBSCRIBE,
	IMAP_CMD_LIST,
	IMAP_CMD_LSUB,
	IMAP_CMD_STATUS,
	IMAP_CMD_APPEND,
	IMAP_CMD_CHECK,
	IMAP_CMD_CLOSE,
	IMAP_CMD_UNSELECT,
	IMAP_CMD_EXPUNGE,
	IMAP_CMD_SEARCH,
	IMAP_CMD_FETCH,
	IMAP_CMD_STORE,
	IMAP_CMD_COPY,
	IMAP_CMD_MOVE,
	IMAP_CMD_IDLE,
	IMAP_CMD_COUNT
};

/* Upper-case command name ("FETCH"), "?" for IMAP_CMD_NONE. */
const char *imap_cmd_name(enum imap_cmd_id id);

struct imap_str {
	const char	*s;	/* NUL-terminated; NULL for NIL */
	size_t		 len;
};

/* System flags (RFC 3501 2.3.2) as bits; \Recent is never settable. */
#define IMAP_FLAG_ANSWERED	0x01u
#define IMAP_FLAG_FLAGGED	0x02u
#define IMAP_FLAG_DELETED	0x04u
#define IMAP_FLAG_SEEN		0x08u
#define IMAP_FLAG_DRAFT		0x10u

struct imap_flags {
	unsigned		 sys;		/* IMAP_FLAG_* */
	const struct imap_str	*keywords;	/* atoms, as sent */
	size_t			 nkeywords;
};

struct imap_date {
	uint16_t	year;
	uint8_t		mon;		/* 1..12 */
	uint8_t		day;		/* 1..31, checked against the month */
};

struct imap_datetime {
	struct imap_date date;
	uint8_t		hour, min, sec;
	int16_t		zone_min;	/* "+0100" -> 60, "-0330" -> -210 */
};

/* Seconds since the epoch (UTC) of a date-time. */
int64_t imap_datetime_to_unix(const struct imap_datetime *dt);

/* --- per-command arguments ------------------------------------------------ */

struct imap_args_authenticate {
	struct imap_str	mech;		/* atom, as sent */
	bool		has_ir;		/* SASL-IR (RFC 4959) initial response */
	struct imap_str	ir;		/* base64 checked, not decoded; "=" -> "" */
};

struct imap_args_login {
	struct imap_str	user;
	struct imap_str	pass;
};

struct imap_args_enable {
	const struct imap_str	*caps;	/* atoms, as sent */
	size_t			 ncaps;
};

struct imap_args_id {
	bool			 nil;	/* "ID NIL" */
	const struct imap_str	*pairs;	/* field, value, field, value...; value may be NIL */
	size_t			 npairs;
};

struct imap_args_mailbox {		/* DELETE, SUBSCRIBE, UNSUBSCRIBE */
	struct imap_str	mailbox;
};

struct imap_args_select {		/* SELECT, EXAMINE (RFC 7162 for the params) */
	struct imap_str		 mailbox;
	bool			 condstore;
	bool			 qresync;
	uint32_t		 uidvalidity;	/* QRESYNC */
	uint64_t		 modseq;	/* QRESYNC */
	const struct imap_seq	*known_uids;	/* QRESYNC, optional */
	const struct imap_seq	*match_seqs;	/* QRESYNC seq-match-data, optional */
	const struct imap_seq	*match_uids;
};

struct imap_args_create {
	struct imap_str		 mailbox;
	const struct imap_str	*use;		/* RFC 6154 (USE (\Sent ...)), as sent */
	size_t			 nuse;
};

struct imap_args_rename {
	struct imap_str	from;
	struct imap_str	to;
};

/* LIST-EXTENDED (RFC 5258) selection options */
#define IMAP_LIST_SEL_SUBSCRIBED	0x01u
#define IMAP_LIST_SEL_REMOTE		0x02u
#define IMAP_LIST_SEL_RECURSIVEMATCH	0x04u
#define IMAP_LIST_SEL_SPECIAL_USE	0x08u	/* RFC 6154 */
/* return options */
#define IMAP_LIST_RET_SUBSCRIBED	0x01u
#define IMAP_LIST_RET_CHILDREN		0x02u
#define IMAP_LIST_RET_SPECIAL_USE	0x04u	/* RFC 6154 */
#define IMAP_LIST_RET_STATUS		0x08u	/* RFC 5819 */

/* STATUS items */
#define IMAP_STATUS_MESSAGES		0x01u
#define IMAP_STATUS_RECENT		0x02u
#define IMAP_STATUS_UIDNEXT		0x04u
#define IMAP_STATUS_UIDVALIDITY		0x08u
#define IMAP_STATUS_UNSEEN		0x10u
#define IMAP_STATUS_HIGHESTMODSEQ	0x20u	/* RFC 7162 */
#define IMAP_STATUS_SIZE		0x40u	/* RFC 8438 */

struct imap_args_list {			/* LIST and LSUB */
	bool			 extended;	/* selection options, RETURN or a pattern list */
	unsigned		 select;	/* IMAP_LIST_SEL_* */
	struct imap_str		 ref;		/* as sent (no INBOX folding) */
	const struct imap_str	*patterns;	/* at least one; may be "" */
	size_t			 npatterns;
	unsigned		 ret;		/* IMAP_LIST_RET_* */
	unsigned		 status_items;	/* IMAP_STATUS_* with IMAP_LIST_RET_STATUS */
};

struct imap_args_status {
	struct imap_str	mailbox;
	unsigned	items;			/* IMAP_STATUS_*, at least one */
};

struct imap_append_msg {
	bool			has_flags;
	struct imap_flags	flags;
	bool			has_date;
	struct imap_datetime	date;
	uint32_t		size;		/* literal size; the session has the bytes */
	bool			sync;		/* {n} rather than {n+} */
};

struct imap_args_append {
	struct imap_str			 mailbox;
	const struct imap_append_msg	*msgs;	/* MULTIAPPEND (RFC 3502): one or more */
	size_t				 nmsgs;
};

struct imap_args_expunge {
	const struct imap_seq	*set;		/* UID EXPUNGE (RFC 4315); NULL otherwise */
};

struct imap_args_copy {			/* COPY, MOVE (RFC 6851) */
	const struct imap_seq	*set;
	struct imap_str		 mailbox;
};

/* SEARCH (RFC 3501 6.4.4, ESEARCH RFC 4731, CONDSTORE RFC 7162, RFC 5182) */
enum imap_skey {
	IMAP_SKEY_AND,		/* u.sub: the keys of a list (or of the command) */
	IMAP_SKEY_OR,		/* u.sub and u.sub->next */
	IMAP_SKEY_NOT,		/* u.sub */
	IMAP_SKEY_SET,		/* u.set: message sequence numbers */
	IMAP_SKEY_UID,		/* u.set */
	IMAP_SKEY_ALL,
	IMAP_SKEY_ANSWERED,
	IMAP_SKEY_DELETED,
	IMAP_SKEY_DRAFT,
	IMAP_SKEY_FLAGGED,
	IMAP_SKEY_NEW,
	IMAP_SKEY_OLD,
	IMAP_SKEY_RECENT,
	IMAP_SKEY_SEEN,
	IMAP_SKEY_UNANSWERED,
	IMAP_SKEY_UNDELETED,
	IMAP_SKEY_UNDRAFT,
	IMAP_SKEY_UNFLAGGED,
	IMAP_SKEY_UNSEEN,
	IMAP_SKEY_KEYWORD,	/* u.str (flag-keyword atom) */
	IMAP_SKEY_UNKEYWORD,
	IMAP_SKEY_BCC,		/* u.str: astring, in the search charset */
	IMAP_SKEY_BODY,
	IMAP_SKEY_CC,
	IMAP_SKEY_FROM,
	IMAP_SKEY_SUBJECT,
	IMAP_SKEY_TEXT,
	IMAP_SKEY_TO,
	IMAP_SKEY_HEADER,	/* u.header */
	IMAP_SKEY_BEFORE,	/* u.date: internal date */
	IMAP_SKEY_ON,
	IMAP_SKEY_SINCE,
	IMAP_SKEY_SENTBEFORE,	/* u.date: Date: header */
	IMAP_SKEY_SENTON,
	IMAP_SKEY_SENTSINCE,
	IMAP_SKEY_LARGER,	/* u.number */
	IMAP_SKEY_SMALLER,
	IMAP_SKEY_MODSEQ,	/* u.modseq */
};

enum imap_modseq_entry {
	IMAP_MODSEQ_ENTRY_NONE = 0,
	IMAP_MODSEQ_ENTRY_PRIV,
	IMAP_MODSEQ_ENTRY_SHARED,
	IMAP_MODSEQ_ENTRY_ALL,
};

struct imap_search_key {
	enum imap_skey		 type;
	struct imap_search_key	*next;		/* next key of the enclosing AND/OR */
	union {
		struct imap_search_key	*sub;
		struct imap_str		 str;
		struct {
			struct imap_str	 name;
			struct imap_str	 value;
		} header;
		struct imap_date	 date;
		uint64_t		 number;
		const struct imap_seq	*set;
		struct {
			uint64_t		 value;
			struct imap_str		 entry;	/* s NULL when absent */
			enum imap_modseq_entry	 entry_type;
		} modseq;
	} u;
};

#define IMAP_SEARCH_RET_MIN	0x01u
#define IMAP_SEARCH_RET_MAX	0x02u
#define IMAP_SEARCH_RET_ALL	0x04u
#define IMAP_SEARCH_RET_COUNT	0x08u
#define IMAP_SEARCH_RET_SAVE	0x10u

struct imap_args_search {
	bool			 esearch;	/* RETURN (...) given: answer ESEARCH */
	unsigned		 ret;		/* IMAP_SEARCH_RET_*; "RETURN ()" = ALL */
	struct imap_str		 charset;	/* s NULL when absent */
	struct imap_search_key	*root;		/* IMAP_SKEY_AND of the top-level keys */
	size_t			 nkeys;
	bool			 has_modseq;	/* a MODSEQ key: reply with (MODSEQ n) */
};

/* FETCH (RFC 3501 6.4.5, CONDSTORE RFC 7162, BINARY RFC 3516) */
enum imap_fetch_att_type {
	IMAP_FATT_UID,
	IMAP_FATT_FLAGS,
	IMAP_FATT_INTERNALDATE,
	IMAP_FATT_RFC822_SIZE,
	IMAP_FATT_ENVELOPE,
	IMAP_FATT_BODY,			/* BODY without section: BODYSTRUCTURE sans extensions */
	IMAP_FATT_BODYSTRUCTURE,
	IMAP_FATT_RFC822,
	IMAP_FATT_RFC822_HEADER,
	IMAP_FATT_RFC822_TEXT,
	IMAP_FATT_MODSEQ,
	IMAP_FATT_BODY_SECTION,		/* BODY[...] and BODY.PEEK[...] */
	IMAP_FATT_BINARY,		/* BINARY[...] and BINARY.PEEK[...] */
	IMAP_FATT_BINARY_SIZE,
};

enum imap_section_text {
	IMAP_SECTION_ALL = 0,		/* BODY[] or BODY[1.2] */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,		/* only after a part number */
};

struct imap_section {
	const uint32_t		*parts;		/* 1.2.3 -> {1, 2, 3}; none for the message */
	size_t			 nparts;
	enum imap_section_text	 text;
	const struct imap_str	*fields;	/* HEADER.FIELDS[.NOT] names, as sent */
	size_t			 nfields;
};

struct imap_fetch_att {
	enum imap_fetch_att_type type;
	bool			 peek;		/* BODY.PEEK / BINARY.PEEK */
	struct imap_section	 section;	/* BODY_SECTION, BINARY, BINARY_SIZE */
	bool			 partial;	/* <origin.count> */
	uint32_t		 origin;
	uint32_t		 count;		/* > 0; origin + count may pass 2^32: use 64 bits */
};

enum imap_fetch_macro {
	IMAP_FETCH_MACRO_NONE = 0,
	IMAP_FETCH_MACRO_ALL,		/* FLAGS INTERNALDATE RFC822.SIZE ENVELOPE */
	IMAP_FETCH_MACRO_FAST,		/* FLAGS INTERNALDATE RFC822.SIZE */
	IMAP_FETCH_MACRO_FULL,		/* ALL + BODY */
};

struct imap_args_fetch {
	const struct imap_seq		*set;
	enum imap_fetch_macro		 macro;		/* atts[] holds the expansion */
	const struct imap_fetch_att	*atts;		/* in the order sent */
	size_t				 natts;
	bool				 changedsince_set;	/* (CHANGEDSINCE n) */
	uint64_t			 changedsince;		/* 0 accepted (iOS 16.5) */
	bool				 vanished;		/* (VANISHED), RFC 7162 3.2.6 */
};

enum imap_store_op {
	IMAP_STORE_REPLACE,		/* FLAGS */
	IMAP_STORE_ADD,			/* +FLAGS */
	IMAP_STORE_REMOVE,		/* -FLAGS */
};

struct imap_args_store {
	const struct imap_seq	*set;
	bool			 unchangedsince_set;
	uint64_t		 unchangedsince;
	enum imap_store_op	 op;
	bool			 silent;
	struct imap_flags	 flags;
};

struct imap_arena;

struct imap_cmd {
	struct imap_str	 tag;
	enum imap_cmd_id id;
	bool		 uid;		/* UID FETCH/SEARCH/STORE/COPY/MOVE/EXPUNGE */
	union {
		struct imap_args_authenticate	 authenticate;
		struct imap_args_login		 login;
		struct imap_args_enable		 enable;
		struct imap_args_id		 id;
		struct imap_args_select		 select;	/* SELECT, EXAMINE */
		struct imap_args_create		 create;
		struct imap_args_mailbox	 mailbox;	/* DELETE, (UN)SUBSCRIBE */
		struct imap_args_rename		 rename;
		struct imap_args_list		 list;		/* LIST, LSUB */
		struct imap_args_status		 status;
		struct imap_args_append		 append;
		struct imap_args_expunge	 expunge;
		struct imap_args_search		 search;
		struct imap_args_fetch		 fetch;
		struct imap_args_store		 store;
		struct imap_args_copy		 copy;		/* COPY, MOVE */
	} u;
	struct imap_arena *arena;	/* private: owns the command and its strings */
};

/* Frees the command and everything it points to; *cmd may be NULL; NULLs it.
 * The memory is wiped first (LOGIN and AUTHENTICATE carry secrets). */
void imap_cmd_free(struct imap_cmd **cmd);

/* --- the parser ------------------------------------------------------------ */

enum imap_parse_rc {
	IMAP_PARSE_MORE = 0,
	IMAP_PARSE_COMMAND,
	IMAP_PARSE_LITERAL,
	IMAP_PARSE_APPEND,
	IMAP_PARSE_ERROR,
};

/*
 * Errors. All are answered BAD with err_msg, except IMAP_PERR_APPEND_TOO_BIG
 * when not fatal: "NO [TOOBIG]" (RFC 4469 / RFC 7889). The *_TOO_* ones may
 * carry [TOOBIG] in a BAD as well. Fatal errors (ev.fatal) close the session.
 */
enum imap_perr {
	IMAP_PERR_NONE = 0,
	IMAP_PERR_SYNTAX,		/* malformed command */
	IMAP_PERR_UNKNOWN_COMMAND,	/* "BAD Unknown command" */
	IMAP_PERR_LINE_TOO_LONG,	/* a line over line_max */
	IMAP_PERR_CMD_TOO_LONG,		/* command over cmd_max */
	IMAP_PERR_LITERAL_TOO_BIG,	/* literal over literal_max (or LITERAL- 4096) */
	IMAP_PERR_APPEND_TOO_BIG,	/* APPEND message over append_max */
	IMAP_PERR_LIMIT,		/* depth, args, atts, keys, ranges */
};

struct imap_parse_event {
	/* IMAP_PARSE_COMMAND: the caller owns it now */
	struct imap_cmd			*cmd;

	/* LITERAL, APPEND, ERROR: the tag (NULL if none could be read) */
	const char			*tag;
	size_t				 tag_len;
	enum imap_cmd_id		 cmd_id;	/* IMAP_CMD_NONE if unknown yet */

	/* LITERAL, APPEND */
	uint32_t			 literal_size;
	bool				 literal_sync;

	/* APPEND: message index (0 first), target and metadata of this message */
	size_t				 append_index;
	const struct imap_str		*append_mailbox;
	const struct imap_append_msg	*append;

	/* ERROR */
	enum imap_perr			 err;
	const char			*err_msg;	/* static text for the BAD reply */
	bool				 fatal;
};

struct imap_parser;

/* New parser; lim NULL means imap_parse_limits_default(). Never NULL. */
struct imap_parser *imap_parser_new(const struct imap_parse_limits *lim);
void imap_parser_free(struct imap_parser **p);	/* *p may be NULL; NULLs it */

/*
 * Replaces the limits (after login: a longer line_max). Applies from the next
 * command; call it between commands.
 */
void imap_parser_set_limits(struct imap_parser *p, const struct imap_parse_limits *lim);

/* See the contract at the top. buf may be NULL when len is 0. */
SG_NODISCARD enum imap_parse_rc imap_parser_feed(struct imap_parser *p, const char *buf,
    size_t len, size_t *used_out, struct imap_parse_event *ev_out);

/* After IMAP_PARSE_APPEND: the session consumed the literal_size octets. */
void imap_parser_literal_done(struct imap_parser *p);

/*
 * After IMAP_PARSE_LITERAL or IMAP_PARSE_APPEND: the session refused the
 * literal (and answered the tag). The command is dropped; see the contract.
 */
void imap_parser_reject(struct imap_parser *p);

/*
 * Forgets any partial command and error state (STARTTLS: buffered plaintext
 * is dropped, RFC 3501 6.2.1). Limits stay.
 */
void imap_parser_reset(struct imap_parser *p);

/*
 * IDLE (RFC 2177): looks for the client's "DONE" line at the start of buf.
 * IMAP_DONE_MORE: no full line yet (and none too long); IMAP_DONE_OK: the line
 * is DONE (any case); IMAP_DONE_BAD: some other line, or a line longer than
 * IMAP_DONE_LINE_MAX (end IDLE with BAD). *used_out is the line with its
 * CRLF or LF; it is 0 for MORE and for a too-long line, which is left to
 * imap_parser_feed() to discard as it discards any over-long command line.
 */
enum imap_done_rc {
	IMAP_DONE_MORE = 0,
	IMAP_DONE_OK,
	IMAP_DONE_BAD,
};
enum imap_done_rc imap_idle_done(const char *buf, size_t len, size_t *used_out);

#endif
