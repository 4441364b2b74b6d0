/*
 * store.h: the vault. One LMDB environment in data_dir/store with the named
 * databases of DESIGN.md ("Store"); nothing outside store/ includes lmdb.h.
 * Everything the store writes is either ciphertext made by crypto/ or the
 * metadata the security model allows an attacker to see (addresses, counts,
 * sizes, dates, flags).
 *
 * Threads. Read transactions may be used on any thread (one thread at a
 * time per transaction). All writes run on the store's one writer thread,
 * which batches every operation queued while the previous commit was
 * flushing into one LMDB commit (group commit: one fsync for many
 * sessions). A caller learns "committed" only after mdb_txn_commit()
 * returned. Functions marked "slow" run Argon2id and must never be called
 * on the event loop thread.
 *
 * Formats. Every value starts with a version byte (STORE_FORMAT_VERSION),
 * except the tail of a blob kept in two parts, whose first part says so
 * with its own (store_msg.c). Integers in keys are big-endian so that LMDB
 * orders them numerically.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/sg.h"

struct sec_sk;

#define STORE_FORMAT_VERSION	1
#define STORE_ADDR_MAX		254	/* RFC 5321 path limit, less brackets */
/* bytes of UTF-8, whole hierarchical name; bounds: LMDB keys are at most
 * 511 bytes and a mailbox key is the 8-byte account id, then the name */
#define STORE_MBOX_NAME_MAX	500
#define STORE_MBOX_SEP		'/'
#define STORE_KEYWORDS_MAX	64	/* distinct keywords per account */
#define STORE_KEYWORD_LEN_MAX	64
#define STORE_MBOXES_MAX	4096	/* per account */
#define STORE_SEALED_KEY_BYTES	105	/* SEC_SEALED_KEY_BYTES */
#define STORE_HASH_BYTES	32
#define STORE_TOKEN_TEXT_LEN	43

enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND,		/* no such account, mailbox, message, token */
	STORE_EXISTS,		/* already exists */
	STORE_DENIED,		/* wrong password, disabled account, spent token */
	STORE_EXPIRED,		/* token past its expiry */
	STORE_INVALID,		/* bad name or argument (e.g. mailbox name) */
	STORE_LIMIT,		/* a per-account limit (mailboxes, keywords) */
	STORE_CHANGED,		/* UNCHANGEDSINCE failed; nothing written */
	STORE_TEMPFAIL,		/* map or disk full, I/O error: try again later */
	STORE_CORRUPT,		/* a stored value failed to decode or decrypt */
};

const char *store_rc_str(enum store_rc rc);

/* ---- lifecycle ---- */

struct store_opts {
	const char	*data_dir;	/* store/, index.key, queue.key, recovery.* */
	uint64_t	 max_size;	/* the map never grows beyond this (bytes);
					 * 0: 1 TiB of address space */
	uint64_t	 map_size;	/* initial map; 0: max(256 MiB, twice the data
					 * file), within max_size */
	bool		 read_only;	/* admin commands that only read */
	uint64_t	 wal_segment;	/* the log moves to its other file after this
					 * many bytes; 0: 64 MiB (tests make it small) */
	uint64_t	 checkpoint_bytes; /* a checkpoint after this much log;
					 * 0: 32 MiB */
};

/* Create data_dir/store, index.key, queue.key and the recovery key pair
 * when missing; idempotent; never replaces an existing key. 0 or -1. */
int store_init(const char *data_dir, char **err_out);

/* Open the environment and load index.key, queue.key, recovery.pub and,
 * when present, recovery.key. Starts the writer thread (unless read_only).
 * NULL with *err_out (malloc'd) on failure. */
struct store *store_open(const struct store_opts *o, char **err_out);
/* Finish every queued write, stop the writer, close the environment. */
void store_close(struct store **st);
/* Commits are durable in the write-ahead log; this makes the data file
 * durable up to now too (what the checkpoint thread does every second or
 * 32 MiB of log), so that recovery would have nothing to replay. 0 or -1. */
int store_checkpoint(struct store *st);

/* How completions of store_write() reach the event loop: post(ctx, fn, arg)
 * must run fn(arg) on the loop thread. Set once, before the first write.
 * Without a poster (admin commands, tests) done() runs on the writer
 * thread. */
typedef void store_task_fn(void *arg);
typedef void store_post_fn(void *ctx, store_task_fn *fn, void *arg);
void store_set_poster(struct store *st, store_post_fn *post, void *ctx);

/* After each commit, on the writer thread: which mailboxes changed (new,
 * flagged, expunged messages; renamed or deleted mailboxes) and whose keys
 * changed (password change, reset, disable, delete). The hook must copy
 * what it needs and return quickly (typically: post to the loop). It runs
 * after the batch's completions were delivered or posted; each id appears
 * once per call. */
struct store_changes {
	const uint64_t	*mailboxes;
	size_t		 nmailboxes;
	const uint64_t	*accounts;
	size_t		 naccounts;
	uint64_t	 commit_us;	/* how long mdb_txn_commit() took */
	unsigned	 ops;		/* operations in this commit */
};
typedef void store_change_fn(void *ctx, const struct store_changes *ch);
void store_set_change_hook(struct store *st, store_change_fn *fn, void *ctx);

/* Is the recovery secret key on this machine (left in data_dir)? */
bool store_has_recovery_key(const struct store *st);

/* ---- transactions ---- */

struct store_txn;

/*
 * A read-only snapshot. Any thread; end it promptly: it pins pages, and a
 * map resize waits for every open read transaction (up to 5 s, then the
 * writes that needed the room fail with STORE_TEMPFAIL). So: never hold
 * one across store_write_wait() or a KDF, and do not begin a second one on
 * a thread that holds one. NULL with STORE_TEMPFAIL when LMDB refuses
 * (e.g. all reader slots, 512, in use).
 */
struct store_txn *store_read_begin(struct store *st, enum store_rc *rc_out);
void store_read_end(struct store_txn **t);

/*
 * A write operation runs on the writer thread inside the group's commit:
 * STORE_OK keeps its changes, anything else undoes them (other operations
 * in the group are unaffected). It may be run again, when the batch is
 * retried after the map grew or after an op of the group failed having
 * written, so it must only write through t and fill in its own output
 * fields (starting them afresh). It must be quick: no KDF, no large
 * crypto (prepare those on a worker first).
 */
typedef enum store_rc store_op_fn(struct store_txn *t, void *arg);
typedef void store_done_fn(void *arg, enum store_rc rc);

/* Queue op; done(arg, rc) runs on the loop (via the poster) after the
 * commit returned, or with the op's error. Loop or any thread. On a
 * read-only store done gets STORE_INVALID at once. */
void store_write(struct store *st, store_op_fn *op, store_done_fn *done, void *arg);
/* Queue op and wait for its commit. Never on the loop thread, nor from
 * inside an op. Completions go out in queue order: when this returns,
 * every op queued before it has been delivered (or posted). STORE_INVALID
 * on a read-only store. */
enum store_rc store_write_wait(struct store *st, store_op_fn *op, void *arg);

/* The store a transaction belongs to (ops reach the keys through it). */
struct store *store_txn_store(struct store_txn *t);
int64_t store_txn_now(struct store_txn *t);	/* sg_now() when the txn began */

/* ---- accounts ---- */

enum store_acct_state {
	STORE_ACCT_INVITED = 1,
	STORE_ACCT_ACTIVE = 2,
	STORE_ACCT_DISABLED = 3,
};
const char *store_acct_state_str(enum store_acct_state s);

struct store_account {
	uint64_t		id;
	char			address[STORE_ADDR_MAX + 1];	/* lowercased */
	enum store_acct_state	state;
	uint8_t			pk[32];
	int64_t			created;
	int64_t			enrolled;	/* 0 until enrollment */
	int64_t			token_expiry;	/* 0: no live token */
	int64_t			invited_at;	/* last invitation sent */
	int64_t			last_login;
	uint32_t		auth_failures;	/* consecutive */
	int64_t			locked_until;
	bool			has_password, has_token, has_recovery;
	bool			disabled_was_active;	/* enable restores active */
	uint64_t		kdf_ops, kdf_mem;	/* recorded Argon2id limits */
};

/* Addresses are compared lowercased; these lowercase internally. */
enum store_rc store_account_get(struct store_txn *t, const char *address,
    struct store_account *out);
enum store_rc store_account_get_id(struct store_txn *t, uint64_t id, struct store_account *out);
typedef int store_account_cb(void *arg, const struct store_account *a);	/* non-0 stops */
enum store_rc store_account_list(struct store_txn *t, store_account_cb *cb, void *arg);

/*
 * Invitations are prepared off the writer (key pair, token, wraps: ~0.2 ms)
 * and put inside an op, so that ingest creates the account in the same
 * transaction as the message it seals to the new key.
 */
struct store_invite {
	char		 address[STORE_ADDR_MAX + 1];
	char		 token[STORE_TOKEN_TEXT_LEN + 1];	/* for the link; secret */
	uint8_t		 pk[32];
	uint8_t		*token_wrap, *recovery_wrap;
	size_t		 token_wrap_len, recovery_wrap_len;
	uint8_t		 token_hash[STORE_HASH_BYTES];
	int64_t		 expiry;
};
/* Any thread. ttl in seconds from sg_now(). */
struct store_invite *store_invite_prepare(struct store *st, const char *address, int64_t ttl);
void store_invite_free(struct store_invite **inv);	/* wipes the token */

/* In an op: create the account in state invited with INBOX, Sent, Drafts,
 * Trash, Junk and Archive. STORE_EXISTS if the address has an account
 * (nothing written; *existing_out filled when non-NULL). */
enum store_rc store_account_create(struct store_txn *t, const struct store_invite *inv,
    struct store_account *out, struct store_account *existing_out);

/* In an op: give an invited account a new token (re-invitation). The
 * invite must carry the account's own key (see store_reinvite_prepare). */
enum store_rc store_account_set_token(struct store_txn *t, const struct store_invite *inv);
/* Note that an invitation mail went out now (flood control). */
enum store_rc store_account_mark_invited(struct store_txn *t, uint64_t account_id, int64_t when);

/* Re-invite an invited account, or reset an active/disabled one, keeping its
 * key: the private key comes from the recovery wrap, opened with recovery
 * (the store's own recovery.key when recovery is NULL). Slow-ish (X25519).
 * STORE_DENIED when no recovery key is available. */
enum store_rc store_reinvite_prepare(struct store *st, const char *address, int64_t ttl,
    const struct sec_sk *recovery, struct store_invite **inv_out);

/*
 * Blocking account verbs (worker thread or admin command; "slow" ones run
 * Argon2id). Each writes through store_write_wait().
 */

/* Create an active account with a password (user add). Slow. */
enum store_rc store_account_add(struct store *st, const char *address, const char *pw,
    size_t pwlen, int kdf_level, struct store_account *out);
/* Spend a token and set the password. STORE_NOTFOUND for an unknown or
 * spent token, STORE_EXPIRED for an expired one (callers must not tell
 * these apart to the user). Slow. */
enum store_rc store_enroll(struct store *st, const char *token_text, size_t token_len,
    const char *pw, size_t pwlen, int kdf_level, struct store_account *out);
/* Look up an invited account by token without spending it (portal GET). */
enum store_rc store_token_lookup(struct store *st, const char *token_text, size_t token_len,
    struct store_account *out);
/* Check a password; on success *sk_out is the account's private key.
 * STORE_DENIED for a wrong password or a non-active account (the latter
 * without running the KDF); STORE_NOTFOUND for an unknown address, at once
 * (answer it as DENIED); STORE_CORRUPT for a damaged wrap. *acct_out is
 * filled whenever the account exists. Slow. */
enum store_rc store_login(struct store *st, const char *address, const char *pw, size_t pwlen,
    struct store_account *acct_out, struct sec_sk **sk_out);
/* Re-wrap under a new password after checking the current one. Slow. */
enum store_rc store_password_change(struct store *st, const char *address, const char *cur,
    size_t curlen, const char *pw, size_t pwlen, int kdf_level);
/*
 * Reset: with a recovery key (recovery, or the store's own when NULL and
 * present) the account keeps its key and its mail and becomes invited with
 * a new token; without one (zero-access deployment, or when
 * force_new_key), the vault is emptied and a new key pair made. *token_out
 * receives the new invitation token (44 bytes with NUL); *kept_mail_out
 * tells which happened. A recovery key that does not open the account's
 * recovery wrap is STORE_DENIED, never a reason to empty the vault.
 * Callers: in the offline deployment (recovery.key moved away, so
 * store_has_recovery_key() is false), a reset without the key passed
 * empties the vault; ask for the key, or for explicit confirmation, first.
 */
enum store_rc store_account_reset(struct store *st, const char *address, int64_t ttl,
    const struct sec_sk *recovery, bool force_new_key, char *token_out, bool *kept_mail_out);
/* Disable (active or invited), or enable (ACTIVE: restores what disable
 * left, so an account disabled while invited becomes invited again).
 * STORE_INVALID for any other transition (an invited account becomes
 * active only by enrolling). */
enum store_rc store_account_set_state(struct store *st, const char *address,
    enum store_acct_state state);
/* Remove the account, its mailboxes, messages, keys and tokens. */
enum store_rc store_account_delete(struct store *st, const char *address);
/* Record an authentication result (failure counter, lock, last login).
 * Async, fire-and-forget; a success may wait up to 250 ms to share a
 * commit (store_write_lazy). */
void store_account_auth_result(struct store *st, const char *address, bool ok,
    int64_t lock_until);
/* Re-wrap every account's recovery wrap to a new recovery public key,
 * opening each with old (rotation), 256 accounts per commit. Blocking.
 * *count_out: accounts done. STORE_CORRUPT if some wraps did not open with
 * old (the others are done). Open stores keep the recovery.pub they loaded:
 * reopen them after a rotation. */
enum store_rc store_recovery_rotate(struct store *st, const struct sec_sk *old,
    const uint8_t new_pk[32], size_t *count_out);

/* ---- mailboxes ---- */

enum store_special {
	STORE_SPECIAL_NONE = 0,
	STORE_SPECIAL_SENT, STORE_SPECIAL_DRAFTS, STORE_SPECIAL_TRASH,
	STORE_SPECIAL_JUNK, STORE_SPECIAL_ARCHIVE,
};

struct store_mailbox {
	uint64_t		id;
	uint64_t		account_id;
	char			name[STORE_MBOX_NAME_MAX + 1];	/* UTF-8, '/' separated */
	uint32_t		uidvalidity;
	uint32_t		uidnext;
	uint64_t		highestmodseq;	/* >= 1 */
	enum store_special	special;
	bool			subscribed;
	uint32_t		messages;
	uint32_t		unseen;
	uint32_t		deleted;	/* with \Deleted */
	uint64_t		size;		/* sum of RFC822.SIZE */
};

/* "INBOX" is matched case-insensitively; other names exactly. */
enum store_rc store_mailbox_get(struct store_txn *t, uint64_t account_id, const char *name,
    struct store_mailbox *out);
enum store_rc store_mailbox_get_id(struct store_txn *t, uint64_t mailbox_id,
    struct store_mailbox *out);
typedef int store_mailbox_cb(void *arg, const struct store_mailbox *m);	/* non-0 stops */
/* In name order. */
enum store_rc store_mailbox_list(struct store_txn *t, uint64_t account_id,
    store_mailbox_cb *cb, void *arg);
/* In ops. Parents are not created implicitly (IMAP does that). New
 * mailboxes are not subscribed. STORE_INVALID for a bad name (empty, too
 * long, empty levels, control characters, '%' or '*', malformed UTF-8),
 * STORE_NOTFOUND for an unknown account, STORE_LIMIT past
 * STORE_MBOXES_MAX. */
enum store_rc store_mailbox_create(struct store_txn *t, uint64_t account_id, const char *name,
    enum store_special special, struct store_mailbox *out);
/* Deletes the mailbox and its messages; STORE_EXISTS if it has children;
 * STORE_INVALID for INBOX. */
enum store_rc store_mailbox_delete(struct store_txn *t, uint64_t account_id, const char *name);
/* Renames the mailbox and its children (same ids, same UIDVALIDITY).
 * Renaming INBOX moves its messages into a new mailbox and leaves INBOX
 * empty (RFC 3501 6.3.5). */
enum store_rc store_mailbox_rename(struct store_txn *t, uint64_t account_id, const char *from,
    const char *to);
enum store_rc store_mailbox_subscribe(struct store_txn *t, uint64_t account_id,
    const char *name, bool on);

/* ---- keywords (per account; bit i of a message's mask is keyword i) ---- */

struct store_keywords {
	unsigned	n;
	char		names[STORE_KEYWORDS_MAX][STORE_KEYWORD_LEN_MAX + 1];
};
enum store_rc store_keywords_get(struct store_txn *t, uint64_t account_id,
    struct store_keywords *out);
/* In an op: the index of a keyword, added if new; STORE_LIMIT when full.
 * Matched case-insensitively (the first spelling is kept); STORE_INVALID
 * unless an IMAP atom of at most STORE_KEYWORD_LEN_MAX bytes. */
enum store_rc store_keyword_index(struct store_txn *t, uint64_t account_id, const char *name,
    unsigned *idx_out);

/* ---- messages ---- */

#define STORE_F_SEEN		0x01
#define STORE_F_ANSWERED	0x02
#define STORE_F_FLAGGED		0x04
#define STORE_F_DELETED		0x08
#define STORE_F_DRAFT		0x10
#define STORE_F_ALL		0x1f

struct store_msg {
	uint64_t	mailbox_id;
	uint32_t	uid;
	uint64_t	blob_id;
	uint32_t	flags;		/* STORE_F_* */
	uint64_t	keywords;	/* mask over the account's keywords */
	int64_t		internal_date;
	uint64_t	size;		/* plaintext RFC822.SIZE */
	uint64_t	modseq;
};

/* A sealed message, ready to put: ciphertexts made by crypto/ on a worker. */
struct store_blob {
	const uint8_t	*msg_ct;	/* sec_encrypt() of the message */
	size_t		 msg_ct_len;
	const uint8_t	*sum_ct;	/* sec_encrypt() of the summary */
	size_t		 sum_ct_len;
	uint64_t	 size;		/* plaintext size of the message */
};

/* In an op: store the blob once, returning its id. */
enum store_rc store_blob_put(struct store_txn *t, const struct store_blob *b,
    uint64_t *blob_id_out);
/* In an op: the blob's content key sealed for one account. */
enum store_rc store_key_put(struct store_txn *t, uint64_t blob_id, uint64_t account_id,
    const uint8_t sealed[STORE_SEALED_KEY_BYTES]);
/* In an op: append to a mailbox (by id); assigns uid and modseq into *m
 * (mailbox_id, blob_id, flags, keywords, internal_date, size set by the
 * caller; internal_date 0: now). The blob must have a key for the
 * mailbox's account (STORE_INVALID otherwise). */
enum store_rc store_msg_append(struct store_txn *t, struct store_msg *m);

enum store_rc store_msg_get(struct store_txn *t, uint64_t mailbox_id, uint32_t uid,
    struct store_msg *out);
/* Iterate a mailbox in UID order from from_uid. */
struct store_cursor;
struct store_cursor *store_msgs_open(struct store_txn *t, uint64_t mailbox_id,
    uint32_t from_uid);
bool store_msgs_next(struct store_cursor *c, struct store_msg *out);
void store_msgs_close(struct store_cursor **c);

/* Zero-copy views, valid until the transaction ends; a small blob kept in
 * two parts comes put together in the transaction's buffer, valid until
 * the next store_blob_get on it. */
enum store_rc store_blob_get(struct store_txn *t, uint64_t blob_id, const uint8_t **ct,
    size_t *len);
enum store_rc store_summary_get(struct store_txn *t, uint64_t blob_id, const uint8_t **ct,
    size_t *len);
enum store_rc store_key_get(struct store_txn *t, uint64_t blob_id, uint64_t account_id,
    uint8_t sealed_out[STORE_SEALED_KEY_BYTES]);

/* In ops. Set flags and keywords to the given values (the caller computes
 * +FLAGS/-FLAGS); a new modseq is assigned when anything changed.
 * unchangedsince != 0: STORE_CHANGED if the message's modseq is higher. */
enum store_rc store_msg_set_flags(struct store_txn *t, uint64_t mailbox_id, uint32_t uid,
    uint32_t flags, uint64_t keywords, uint64_t unchangedsince, struct store_msg *out);
/* Remove a message; its blob goes when no message of any account uses it. */
enum store_rc store_msg_expunge(struct store_txn *t, uint64_t mailbox_id, uint32_t uid);
/* Copy into another mailbox of the same account (shares the blob);
 * STORE_INVALID across accounts (the key is sealed to one). */
enum store_rc store_msg_copy(struct store_txn *t, uint64_t mailbox_id, uint32_t uid,
    uint64_t dest_mailbox_id, struct store_msg *out);

/* ---- correspondents (keyed hashes under index.key) ---- */

/* Any thread: the keyed hash of a lowercased address. */
void store_corr_hash(const struct store *st, const char *address, size_t len,
    uint8_t out[STORE_HASH_BYTES]);
enum store_rc store_corr_add(struct store_txn *t, uint64_t account_id,
    const uint8_t hash[STORE_HASH_BYTES]);
bool store_corr_has(struct store_txn *t, uint64_t account_id,
    const uint8_t hash[STORE_HASH_BYTES]);

/* ---- outbound queue (payloads sealed under queue.key) ---- */

struct store_qentry {
	uint64_t	 id;
	int64_t		 next_attempt;
	int64_t		 created;
	uint32_t	 attempts;
	const uint8_t	*data;		/* sealed payload; valid until txn end */
	size_t		 len;
};

/* Any thread: seal or open a queue payload with queue.key. */
void store_queue_seal(const struct store *st, const void *pt, size_t len, uint8_t **out,
    size_t *outlen);
SG_NODISCARD int store_queue_open(const struct store *st, const uint8_t *ct, size_t len,
    uint8_t **out, size_t *outlen);	/* *out is malloc'd; wipe before free */

/* In an op: add an entry (e->id 0: assign one; written back; STORE_EXISTS
 * for an id in use; e->created 0: now). */
enum store_rc store_queue_put(struct store_txn *t, struct store_qentry *e);
/* In an op: move an entry to a new attempt time and count. */
enum store_rc store_queue_reschedule(struct store_txn *t, uint64_t id, int64_t next_attempt,
    uint32_t attempts);
enum store_rc store_queue_delete(struct store_txn *t, uint64_t id);
enum store_rc store_queue_get(struct store_txn *t, uint64_t id, struct store_qentry *out);
typedef int store_queue_cb(void *arg, const struct store_qentry *e);	/* non-0 stops */
/* Entries due at or before `due` (INT64_MAX: all), in attempt order. */
enum store_rc store_queue_list(struct store_txn *t, int64_t due, store_queue_cb *cb, void *arg);

/* ---- audit log ---- */

struct store_audit {
	int64_t		time;
	uint64_t	seq;
	char		event[32];
	char		address[STORE_ADDR_MAX + 1];
	char		ip[48];
	char		detail[256];
};
/* In an op. */
enum store_rc store_audit_add(struct store_txn *t, const char *event, const char *address,
    const char *ip, const char *detail);
/* Async, fire-and-forget, any thread. */
void store_audit(struct store *st, const char *event, const char *address, const char *ip,
    const char *detail);
/* The same for routine events (a login), which may wait up to 250 ms to
 * share a commit with other writes. */
void store_audit_lazy(struct store *st, const char *event, const char *address,
    const char *ip, const char *detail);
typedef int store_audit_cb(void *arg, const struct store_audit *a);	/* non-0 stops */
/* Entries since `since` (seconds) for address (NULL: all; compared
 * lowercased), oldest first. Fields longer than struct store_audit's are
 * truncated on the way in. */
enum store_rc store_audit_list(struct store_txn *t, int64_t since, const char *address,
    store_audit_cb *cb, void *arg);

/* ---- statistics and maintenance ---- */

struct store_stats {
	uint64_t	accounts[4];	/* by state */
	uint64_t	messages;	/* message records */
	uint64_t	blobs;
	uint64_t	bytes;		/* message and summary ciphertext */
	uint64_t	queue;
	uint64_t	map_size, map_used;
};
enum store_rc store_stats(struct store_txn *t, struct store_stats *out);

/* In an op: expunge up to max messages with internal_date < before, starting
 * after *cursor (opaque, 0 to begin); *done_out set when the scan ended.
 * Looks at no more than 32 * max records per call, so an op stays short. */
enum store_rc store_sweep_messages(struct store_txn *t, int64_t before, unsigned max,
    uint64_t *cursor, unsigned *expunged_out, bool *done_out);
/* In an op: drop tokens expired before `now`; returns how many. */
enum store_rc store_sweep_tokens(struct store_txn *t, int64_t now, unsigned max,
    unsigned *expired_out);

/* A consistent, compacted copy of the environment to dest_dir (hot; LMDB's
 * mdb_env_copy2 with MDB_CP_COMPACT): dest_dir/store/data.mdb, and copies
 * (0600) of index.key, queue.key, recovery.pub and, when present,
 * recovery.key, so that dest_dir opens as a data_dir. With recovery.key
 * the copy reads every account's mail: guard it like data_dir. dest_dir is
 * created (0700) if missing; existing files are never overwritten. */
enum store_rc store_backup(struct store *st, const char *dest_dir, char **err_out);

#endif
