/*
 * imap_private.h: the IMAP session, shared by the command files of imap/.
 * Everything here belongs to the loop thread, except the job structs that
 * are handed to a worker (they carry their own copies and references).
 */
#ifndef IMAP_PRIVATE_H
#define IMAP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/gw.h"
#include "imap/imap.h"
#include "imap/imap_parse.h"
#include "store/store.h"

struct evbuffer;
struct event;
struct gw_conn;
struct gw_auth_req;
struct sec_sk;
struct sec_keyring;
struct mime_summary;
struct imap_acct;

#define IMAP_TIMEOUT_PREAUTH	60		/* seconds before login ([imap] autologout after) */
#define IMAP_READ_SLACK		(64 * 1024)	/* read watermark above the line limit */
#define IMAP_AUTH_MAX		4096		/* decoded SASL PLAIN message */
#define IMAP_NAME_MAX		(STORE_MBOX_NAME_MAX * 4 + 16)	/* a name on the wire */
#define IMAP_FETCH_BATCH	256		/* messages per FETCH job */
#define IMAP_FETCH_BATCH_BYTES	(1024u * 1024)	/* a batch stops after this output */
#define IMAP_SEARCH_BATCH	1024		/* messages per SEARCH job */

enum imap_state {
	IMAP_ST_NOTAUTH		= 0x01,
	IMAP_ST_AUTH		= 0x02,
	IMAP_ST_SELECTED	= 0x04,
	IMAP_ST_LOGOUT		= 0x08,
};
#define IMAP_ST_ANY	(IMAP_ST_NOTAUTH | IMAP_ST_AUTH | IMAP_ST_SELECTED)
#define IMAP_ST_LOGGED	(IMAP_ST_AUTH | IMAP_ST_SELECTED)

/* What the session is doing besides reading commands. */
enum imap_busy {
	IMAP_BUSY_NONE = 0,
	IMAP_BUSY_CMD,		/* an async command runs; input waits */
	IMAP_BUSY_IDLE,		/* IDLE: waiting for DONE */
	IMAP_BUSY_AUTH_CONT,	/* AUTHENTICATE: waiting for the client's response line */
	IMAP_BUSY_APPEND,	/* taking an APPEND literal from the input */
};

/*
 * The selected mailbox as this session has announced it: message sequence
 * number i is uids[i - 1]. Only UIDs are kept (4 bytes a message); flags
 * and the rest are read from the store when needed. The UID list itself is
 * shared (struct imap_uids, imap_view.c): every session that has announced
 * the same state of a mailbox points at one copy, so a thousand idle
 * sessions on a 10,000-message INBOX hold 40 KB of UIDs, not 40 MB.
 * uids and n mirror the shared list; only imap_view.c changes them.
 */
/* A list of UIDs, shared; read-only once published (imap_view.c). */
struct imap_umeta {
	uint32_t	flags;
	uint64_t	keywords;
	uint64_t	modseq;
};
struct imap_uids {
	unsigned		 refs;
	bool			 published;	/* in srv->uidsets */
	uint64_t		 mailbox_id, modseq;	/* the state it lists, if read */
	uint32_t		 uidvalidity;
	uint32_t		 first_unseen;	/* sequence number, 0: none */
	uint32_t		 n, cap;
	struct imap_umeta	*meta;		/* per UID when read from the store */
	struct imap_uids	*next;		/* srv->uidsets */
	uint32_t		 v[];
};

/* What a view keeps of its mailbox (not the 500-byte name: a thousand
 * sessions in IDLE hold a view each). */
struct imap_vmbox {
	uint64_t		id;
	uint64_t		highestmodseq;
	uint32_t		uidvalidity;
	uint32_t		uidnext;
};

struct imap_view {
	struct imap_server	*srv;
	struct imap_vmbox	 mbox;		/* as of the last sync */
	bool			 readonly;	/* EXAMINE */
	const uint32_t		*uids;
	uint32_t		 n;
	struct imap_uids	*u;		/* owns uids; shared, copy on write */
	uint64_t		 modseq;	/* changes up to here were announced */
	bool			 expunge_pending; /* others expunged; not yet told */
	uint32_t		*saved;		/* SEARCHRES "$" (UIDs), may be NULL */
	uint32_t		 nsaved;
};

/* What a session keeps of its account. */
struct imap_sacct {
	uint64_t		 id;
	uint8_t			 pk[32];
	char			*address;	/* owned */
};

struct imap_session {
	struct imap_server	*server;
	struct gw_ctx		*ctx;
	struct gw_conn		*conn;
	struct imap_parser	*parser;
	enum imap_state		 state;
	enum imap_busy		 busy;
	struct imap_cmd		*cmd;		/* the command in progress, owned */
	unsigned		 refs;		/* jobs in flight hold a reference */
	bool			 closed;	/* the conn is gone; free at refs 0 */

	/* after login */
	struct imap_sacct	 account;
	struct sec_sk		*sk;
	struct imap_acct	*acct;		/* shared with the account's sessions */
	struct gw_auth_req	*auth;
	bool			 condstore;	/* CONDSTORE enabled or used */
	bool			 utf8;		/* UTF8=ACCEPT enabled */

	/* selected */
	struct imap_view	*view;
	bool			 sync_busy;	/* a sync's state read is on a worker */
	bool			 sync_again;	/* and another was asked for meanwhile */
	bool			 done_allow;	/* done_line's sync may announce expunges */
	char			*done_line;	/* the tagged reply waiting for the sync */

	/* FETCH in progress (output paced by the client's reading) */
	struct imap_fetch_op	*fetch;

	/* APPEND being received */
	struct imap_append_job	*append;

	/* IDLE */
	struct event		*idle_timer;
	char			 idle_tag[IMAP_TAG_MAX + 1];	/* the command is freed */

	struct imap_session	*next, *prev;	/* server->sessions */
};

struct imap_server {
	struct gw_ctx		*ctx;
	struct imap_session	*sessions;
	unsigned		 nsessions;
	struct imap_acct	*accts;		/* accounts with sessions */
	struct imap_uids	*uidsets;	/* the newest UID list of each mailbox */
	struct imap_scan	*scans;		/* mailbox states being read */
};

/* ---- imap_session.c ---- */
void imap_session_ref(struct imap_session *s);
/* Returns false if the session ended meanwhile (and frees it at 0). */
bool imap_session_unref(struct imap_session *s);
bool imap_session_alive(const struct imap_session *s);
void imap_set_state(struct imap_session *s, enum imap_state st);
/*
 * The one way a command ends: untagged updates of the selected mailbox as
 * RFC 3501 7.4.1 allows after this command, "<tag> status text", then the
 * command is freed and reading resumes.
 */
void imap_done(struct imap_session *s, const char *status, const char *fmt, ...)
    SG_PRINTF(3, 4);
/* Mark the current command as asynchronous: input waits until imap_done(). */
void imap_wait(struct imap_session *s);
void imap_printf(struct imap_session *s, const char *fmt, ...) SG_PRINTF(2, 3);
void imap_write(struct imap_session *s, const void *p, size_t n);
/*
 * Untagged updates for the selected mailbox: EXISTS, FETCH FLAGS and
 * EXPUNGE. imap_sync is for IDLE; imap_sync_then for the end of a command
 * (imap_done), with expunges only if allowed (not during FETCH, STORE,
 * SEARCH: RFC 3501 7.4.1): false when done at once, true when the state is
 * read on a worker first, and then imap_done_resume writes line (taken).
 */
void imap_sync(struct imap_session *s);
bool imap_sync_then(struct imap_session *s, bool allow_expunge, char *line);
void imap_done_resume(struct imap_session *s);
const char *imap_capabilities(const struct imap_session *s);

/* ---- imap_acct.c: what an account's sessions share ---- */
enum imap_lfield {
	IMAP_LF_ENVELOPE,
	IMAP_LF_BODYSTRUCTURE,
	IMAP_LF_BODY,
	IMAP_LF_HEADER,		/* the top-level header block; empty if too large */
	IMAP_LF_COUNT
};
struct imap_lentry;
/* Loop thread: a reference to the account's shared state (made on first
 * use), and its release (wiped with the last reference). */
struct imap_acct *imap_acct_get(struct imap_server *srv, uint64_t account_id);
void imap_acct_put(struct imap_acct **a);
/* Any thread: the account's opened content keys. */
struct sec_keyring *imap_acct_keyring(const struct imap_acct *a);
/* Any thread: the cached listing data of a blob, or NULL; insert copies it
 * from a decrypted summary (NULL when the account's budget is spent).
 * Entries are borrowed until the account state is freed. */
const struct imap_lentry *imap_acct_lookup(struct imap_acct *a, uint64_t blob_id);
const struct imap_lentry *imap_acct_insert(struct imap_acct *a, uint64_t blob_id,
    const struct mime_summary *sum);
const char *imap_lentry_field(const struct imap_lentry *e, enum imap_lfield f,
    size_t *len_out);
/* BODY[HEADER] size; *complete_out: the IMAP_LF_HEADER copy is all of it. */
uint64_t imap_lentry_header_size(const struct imap_lentry *e, bool *complete_out);
uint64_t imap_lentry_size(const struct imap_lentry *e);

/* ---- imap_out.c: response syntax ---- */
/* Appends a string as an atom, a quoted string or a literal. */
void imap_out_astring(struct evbuffer *b, const char *p, size_t n);
void imap_out_nstring(struct evbuffer *b, const char *p, size_t n);	/* NIL for NULL */
/* A mailbox name (UTF-8 inside) as the client expects it. */
void imap_out_mailbox(struct imap_session *s, struct evbuffer *b, const char *name);
/* "(\Seen \Answered kw1)" */
void imap_out_flags(struct evbuffer *b, uint32_t flags, uint64_t keywords,
    const struct store_keywords *kw);
/* "dd-Mon-yyyy hh:mm:ss +zzzz" in quotes */
void imap_out_date(struct evbuffer *b, int64_t t);
void imap_out_num(struct evbuffer *b, uint64_t v);	/* decimal */
/* Decode a mailbox name from the wire to UTF-8 (NUL-terminated); -1 if bad. */
int imap_mailbox_decode(struct imap_session *s, const struct imap_str *in, char *out,
    size_t size);

/* ---- imap_view.c ---- */
#define IMAP_TEST_SCAN_DELAY_ENV	"SEALGATE_TEST_SCAN_DELAY_MS"
extern unsigned imap_test_scan_delay_ms;
struct imap_view *imap_view_new(struct imap_server *srv, const struct store_mailbox *m,
    bool readonly);
void imap_view_free(struct imap_view **v);
void imap_uids_release(struct imap_server *srv, struct imap_uids **u);
/* The published state of m if it is m's current one (a new reference),
 * else NULL: nothing is read from the store. */
struct imap_uids *imap_uids_cached(struct imap_server *srv, const struct store_mailbox *m);
/*
 * Read the state of mailbox m (at m->highestmodseq or newer) on a worker: a
 * large mailbox is many pages, some maybe on disk, not for the loop; the
 * sessions that need it meanwhile share the read. done runs on the loop
 * with the state (a reference it must release; NULL on a store error, rc
 * says which, STORE_NOTFOUND if the mailbox went), the mailbox as the same
 * transaction read it, and arg; also when the session ended meanwhile
 * (imap_session_alive).
 */
typedef void imap_scan_fn(struct imap_session *s, struct imap_uids *u,
    const struct store_mailbox *m, enum store_rc rc, void *arg);
void imap_uids_scan_async(struct imap_session *s, const struct store_mailbox *m,
    imap_scan_fn *done, void *arg);
/* The view lists exactly state u now (it takes its own reference). */
void imap_view_set_state(struct imap_view *v, struct imap_uids *u);
void imap_view_set_mbox(struct imap_view *v, const struct store_mailbox *m);
/* Replace the view's list by a private one (expunges not yet announced). */
void imap_view_set_private(struct imap_view *v, const uint32_t *uids, uint32_t n);
/* Sequence number of uid (1-based) or 0. */
uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid);
/* imap_view_seq of each of n UIDs, in one walk of the view where they
 * ascend (as resolved sets do). */
void imap_view_seqs(const struct imap_view *v, const uint32_t *uids, size_t n, uint32_t *seqs);
/* Expand a sequence set (UIDs if uid) to the UIDs it names, ascending.
 * *out is malloc'd. Returns the count. */
size_t imap_view_resolve(struct imap_session *s, const struct imap_seq *set, bool uid,
    uint32_t **out);

/* ---- commands, one file each ---- */
typedef void imap_cmd_fn(struct imap_session *s, struct imap_cmd *cmd);

imap_cmd_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_starttls,
    imap_cmd_login, imap_cmd_authenticate, imap_cmd_enable, imap_cmd_id, imap_cmd_namespace;
imap_cmd_fn imap_cmd_list, imap_cmd_create, imap_cmd_delete, imap_cmd_rename,
    imap_cmd_subscribe, imap_cmd_status;
imap_cmd_fn imap_cmd_select, imap_cmd_close, imap_cmd_unselect, imap_cmd_check,
    imap_cmd_expunge;
imap_cmd_fn imap_cmd_fetch, imap_cmd_store, imap_cmd_copy, imap_cmd_search, imap_cmd_idle;
imap_cmd_fn imap_cmd_append_done;

/* AUTHENTICATE: the client's response line is (maybe) in the input;
 * false when it is not complete yet. */
bool imap_auth_input(struct imap_session *s);
/* Parser limits, read watermark and timeout for the current state. */
void imap_session_limits(struct imap_session *s);
/* The read timeout for the current state: pre-auth, autologout, or none
 * while idling (keepalives run; a vanished peer fails on write). */
void imap_session_timeout(struct imap_session *s);
/* Output drained below the low watermark: a long FETCH may go on. */
void imap_fetch_drained(struct imap_session *s);
/* The session closed: a FETCH waiting for the client ends now. */
void imap_fetch_abort(struct imap_session *s);
/* IDLE: input while idling; DONE ends it. */
void imap_idle_input(struct imap_session *s);
void imap_idle_end(struct imap_session *s, bool done);
/* The server tells IDLE sessions about changes committed to a mailbox. */
void imap_idle_notify(struct imap_session *s);

/* APPEND streaming (imap_cmd_append.c) */
struct imap_append_job;
void imap_append_begin(struct imap_session *s, const struct imap_parse_event *ev);
/* Take literal octets from the input; returns true when the literal is complete. */
bool imap_append_take(struct imap_session *s);
void imap_append_abort(struct imap_session *s);

/* imap_cmd_store.c helpers shared with APPEND */
uint32_t imap_flags_to_store(const struct imap_flags *f);
enum store_rc imap_keywords_mask(struct store_txn *t, uint64_t account_id,
    const struct imap_flags *f, uint64_t *mask_out);
void imap_out_uidset(struct evbuffer *b, const uint32_t *u, size_t n);

/* End the command with the NO (and response code) a store error deserves. */
void imap_done_store_error(struct imap_session *s, enum store_rc rc, const char *what);

#endif
