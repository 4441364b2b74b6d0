/*
 * store_private.h: what the store/ files share and nobody else sees: the
 * store and transaction structs, the named databases, LMDB helpers that
 * turn LMDB results into store results, and the record codecs.
 */
#ifndef STORE_PRIVATE_H
#define STORE_PRIVATE_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "crypto/sec.h"
#include "store/store.h"

enum store_db {
	STORE_DB_ACCOUNTS,	/* lowercased address -> account record */
	STORE_DB_ACCOUNT_IDS,	/* account id -> address */
	STORE_DB_TOKENS,	/* keyed hash of a token -> expiry, address */
	STORE_DB_MAILBOXES,	/* account id, name -> mailbox record */
	STORE_DB_MAILBOX_IDS,	/* mailbox id -> account id, name */
	STORE_DB_MESSAGES,	/* mailbox id, uid -> message record */
	STORE_DB_BLOBS,		/* blob id -> plaintext size, message ciphertext */
	STORE_DB_SUMMARIES,	/* blob id -> summary ciphertext */
	STORE_DB_KEYS,		/* blob id, account id -> refs, sealed content key */
	STORE_DB_KEYWORDS,	/* account id -> keyword names */
	STORE_DB_CORR,		/* account id, keyed hash -> (version only) */
	STORE_DB_QUEUE,		/* next attempt, id -> created, attempts, sealed payload */
	STORE_DB_QUEUE_IDS,	/* queue id -> next attempt (finds an entry by id) */
	STORE_DB_AUDIT,		/* time, seq -> event, address, ip, detail */
	STORE_DB_META,		/* counter name -> u64 */
	STORE_DB_COUNT
};

extern const char *const store_db_names[STORE_DB_COUNT];

#define STORE_ENV_DIR		"store"
#define STORE_SCHEMA		1
#define STORE_MAXREADERS	512
#define STORE_MAP_MIN		(256ull << 20)	/* initial map, unless max_size is lower */
#define STORE_MAP_DEFAULT_MAX	(1ull << 40)	/* max_size 0: 1 TiB of address space */
#define STORE_BATCH_OPS		1024		/* ops per group commit, at most */
#define STORE_BATCH_BYTES	(256ull << 20)	/* payload per group commit, about */
#define STORE_RESIZE_WAIT_MS	5000		/* how long a map resize waits for readers */
#define STORE_GROUP_WAIT_US	4000		/* group window: the longest wait for a batch */
#define STORE_LAZY_US		250000		/* the longest a lazy write waits */
#define STORE_WRAP_MAX		160		/* password 122, token 73, recovery 81 */
#define STORE_WAL_HEAD		32		/* a log record's header */
#define STORE_WAL_MAGIC		0x53475752u	/* "SGWR" */
#define STORE_WAL_VERSION	1
#define STORE_WAL_PUT		1		/* entry kinds */
#define STORE_WAL_DEL		2
#define STORE_WAL_SWITCH	(64ull << 20)	/* a segment this long: the next one, if free */
#define STORE_CKPT_BYTES	(32ull << 20)	/* a checkpoint after this much log: half a
						 * segment, so one is durable before the switch */
#define STORE_CKPT_SECS		1		/* or after this long, if anything was logged */

/*
 * The map lock: every LMDB transaction of this process (read or write)
 * holds it shared; resizing the map takes it exclusive, because
 * mdb_env_set_mapsize() remaps the file under every open transaction.
 * Writer-preferring (a waiting resize stops new readers), and the resize
 * waits at most STORE_RESIZE_WAIT_MS, so a thread that begins a second read
 * transaction while holding one cannot deadlock it for good.
 */
struct store_maplock {
	pthread_mutex_t	mu;
	pthread_cond_t	cv;
	unsigned	readers;
	unsigned	resizers_waiting;
	bool		resizing;
};

/* A small set of ids (mailboxes or accounts a batch touched). */
struct store_idset {
	uint64_t	*v;
	size_t		 n, cap;
};

struct store_wop;

/* The puts and deletes of one write transaction, as its log record. */
struct store_walbuf {
	uint8_t		*p;		/* STORE_WAL_HEAD bytes of header, entries */
	size_t		 len, cap;
	uint8_t		*rsv;		/* a reserved value the op is still filling */
	size_t		 rsv_off, rsv_len;
	uint32_t	 crc;		/* CRC-32 of the entries before crc_at */
	size_t		 crc_at;
};

struct store_walpos {
	uint64_t	 off;
	uint32_t	 gen;
	uint8_t		 seg;
};

/* store_wal.c's state. */
struct store_wal {
	char			*dir;
	bool			 on;		/* commits go through the log */
	bool			 alone;		/* nobody else had the store open */
	bool			 have_ckpt;
	int			 lock_fd, ckpt_fd, data_fd, seg_fd[2];
	uint64_t		 seg_len[2];	/* bytes the segment file is known to have */
	size_t			 psize;		/* LMDB's page size (blobs use it too) */
	uint64_t		 switch_at, ckpt_bytes;
	struct store_walpos	 start;		/* replay start of wal.ckpt at open */
	_Atomic uint64_t	 dirty;		/* log bytes since the last checkpoint */
	bool			 written;	/* a commit gave data.mdb pages (writer) */
	_Atomic uint32_t	 durable_gen;	/* generation the last checkpoint starts in */
	pthread_t		 thread;
	bool			 thread_started, stop;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	pthread_mutex_t		 ckpt_mu;	/* one checkpoint at a time */
	MDB_txn			*pin;		/* read txn on the last durable checkpoint */
};

struct store {
	MDB_env			*env;
	MDB_dbi			 dbi[STORE_DB_COUNT];
	char			*data_dir;
	bool			 read_only;
	uint64_t		 max_size;
	_Atomic uint64_t	 map_size;	/* changed only under the exclusive map lock */
	uint8_t			*index_key;	/* sec_alloc(SEC_KEY_BYTES) */
	uint8_t			*queue_key;	/* sec_alloc(SEC_KEY_BYTES) */
	uint8_t			 recovery_pk[SEC_KEY_BYTES];
	struct sec_sk		*recovery;	/* NULL unless recovery.key is here */
	struct store_maplock	 maplock;

	/* The writer: queued ops, completions of waiting callers. */
	pthread_mutex_t		 mu;
	pthread_cond_t		 work_cv;
	_Atomic uint32_t	 answered;	/* a futex: + 1 when waiting callers may go */
	struct store_wop	*head, *tail;
	size_t			 nqueued;
	size_t			 nurgent;	/* queued ops that are not lazy */
	uint64_t		 lazy_since;	/* when the oldest lazy op came; 0: due */
	bool			 stopping, writer_started;
	pthread_t		 writer;
	store_post_fn		*post;
	void			*post_ctx;
	store_change_fn		*change_fn;
	void			*change_ctx;
	struct store_wal	 wal;
};

struct store_txn {
	struct store		*st;
	MDB_txn			*txn;
	int64_t			 now;
	bool			 write;
	int			 mdb_err;	/* first LMDB failure the writer must see */
	struct store_idset	*mboxes, *accts;	/* write ops only */
	uint64_t		 bytes;		/* payload written (batch cap) */
	struct store_walbuf	*wal;		/* write txns: what to log */
	uint8_t			*scratch;	/* a split blob put together (store_msg.c) */
	size_t			 scratch_cap;
};

/* ---- store.c: the map lock, LMDB helpers ---- */

void store_maplock_rd(struct store_maplock *l);
void store_maplock_rd_end(struct store_maplock *l);
int store_maplock_wr(struct store_maplock *l, unsigned wait_ms);	/* 0 or -1 */
void store_maplock_wr_end(struct store_maplock *l);
/* Another process grew the map: adopt its size (takes the lock itself). */
int store_map_adopt(struct store *st);
/* Double the map, up to max_size (writer and recovery). 0, or -1. */
int store_map_grow(struct store *st);

enum store_rc store_mdb_rc(struct store_txn *t, int rc, const char *what);
enum store_rc store_db_get(struct store_txn *t, enum store_db db, const void *k, size_t klen,
    MDB_val *v);
enum store_rc store_db_put(struct store_txn *t, enum store_db db, const void *k, size_t klen,
    const void *v, size_t vlen);
/* Reserve vlen bytes for the value and return where to write them. */
enum store_rc store_db_reserve(struct store_txn *t, enum store_db db, const void *k,
    size_t klen, size_t vlen, uint8_t **p_out);
/* The same for a key expected to sort after every key in db (a fresh id):
 * pages fill up. Any other key still goes in, as by store_db_reserve. */
enum store_rc store_db_reserve_last(struct store_txn *t, enum store_db db, const void *k,
    size_t klen, size_t vlen, uint8_t **p_out);
enum store_rc store_db_del(struct store_txn *t, enum store_db db, const void *k, size_t klen);
enum store_rc store_cursor_open(struct store_txn *t, enum store_db db, MDB_cursor **c_out);
/* Value of a meta counter, then store it incremented by one. */
enum store_rc store_meta_next(struct store_txn *t, const char *name, uint64_t *out);
enum store_rc store_meta_get(struct store_txn *t, const char *name, uint64_t *out);
enum store_rc store_meta_set(struct store_txn *t, const char *name, uint64_t v);
enum store_rc store_meta_add(struct store_txn *t, const char *name, int64_t delta);
void store_note_mailbox(struct store_txn *t, uint64_t id);
void store_note_account(struct store_txn *t, uint64_t id);
/* Does an LMDB key start with this prefix? */
bool store_key_has_prefix(const MDB_val *k, const void *prefix, size_t len);

/* ---- store_writer.c ---- */

int store_writer_start(struct store *st);
void store_writer_stop(struct store *st);
/* Queue an op whose arg the writer frees with release() after the commit
 * (fire-and-forget verbs). */
void store_write_detached(struct store *st, store_op_fn *op, void *arg,
    void (*release)(void *arg));
/* The same for records nobody waits on, which may wait STORE_LAZY_US for
 * other writes to share their commit. */
void store_write_lazy(struct store *st, store_op_fn *op, void *arg,
    void (*release)(void *arg));

/* ---- store_walrec.c: a log record, without files ---- */

void store_walbuf_reset(struct store_walbuf *b);
void store_walbuf_free(struct store_walbuf *b);
void store_walbuf_settle(struct store_walbuf *b);
void store_walbuf_put(struct store_walbuf *b, enum store_db db, const void *k, size_t klen,
    const void *v, size_t vlen);
void store_walbuf_reserve(struct store_walbuf *b, enum store_db db, const void *k,
    size_t klen, size_t vlen);
void store_walbuf_del(struct store_walbuf *b, enum store_db db, const void *k, size_t klen);
uint32_t store_wal_crc(uint32_t crc, const void *p, size_t n);
void store_wal_head_fill(uint8_t *h, const struct store_walpos *pos, uint64_t txnid,
    size_t len);
/* Checksum the entries recorded so far (settled: no reserve pending), so
 * that the commit has only the rest to do. */
void store_walbuf_checksum(struct store_walbuf *b);
/* Drop the entries after len (an op undone). */
void store_walbuf_truncate(struct store_walbuf *b, size_t len);
void store_wal_head_seal(struct store_walbuf *b);
typedef int store_wal_entry_fn(void *arg, bool del, enum store_db db, const uint8_t *k,
    size_t klen, const uint8_t *v, size_t vlen);
int store_wal_check(uint8_t *rec, size_t len);
int store_wal_entries(const uint8_t *rec, size_t len, store_wal_entry_fn *fn, void *arg);

/* ---- store_wal.c: the log's files, commits, checkpoints, recovery ---- */

int store_wal_open(struct store *st, const char *env_dir, const struct store_opts *o,
    char **err_out);
int store_wal_open_ro(struct store *st, const char *env_dir, char **err_out);
void store_wal_open_done(struct store *st);
int store_wal_start(struct store *st, char **err_out);
int store_wal_commit(struct store *st, MDB_txn *txn, struct store_walbuf *b);
/* Start writing what the commits since the last call gave data.mdb
 * (the writer, once its callers have their answers). */
void store_wal_writeback(struct store *st);
void store_wal_close(struct store *st);

/* ---- store_codec.c ---- */

static inline void
store_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t
store_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
store_be64_put(uint8_t *p, uint64_t v)
{
	store_be32_put(p, (uint32_t)(v >> 32));
	store_be32_put(p + 4, (uint32_t)v);
}

static inline uint64_t
store_be64_get(const uint8_t *p)
{
	return (uint64_t)store_be32_get(p) << 32 | store_be32_get(p + 4);
}

/* Times in keys: the sign bit flipped, so that big-endian order is
 * numeric order for negative times too. */
static inline uint64_t
store_time_key(int64_t t)
{
	return (uint64_t)t ^ (1ull << 63);
}

static inline int64_t
store_time_unkey(uint64_t k)
{
	return (int64_t)(k ^ (1ull << 63));
}

/* Sequential writer into a caller's buffer; `over` records a too-small
 * buffer instead of writing past it. */
struct store_wbuf {
	uint8_t	*p;
	size_t	 cap, len;
	bool	 over;
};
void store_wb_init(struct store_wbuf *w, uint8_t *p, size_t cap);
void store_wb_u8(struct store_wbuf *w, uint8_t v);
void store_wb_u32(struct store_wbuf *w, uint32_t v);
void store_wb_u64(struct store_wbuf *w, uint64_t v);
void store_wb_bytes(struct store_wbuf *w, const void *p, size_t n);
void store_wb_str8(struct store_wbuf *w, const char *s);		/* u8 length + bytes */
void store_wb_blob16(struct store_wbuf *w, const void *p, size_t n);	/* u16 length + bytes */

/* Sequential reader over a value; `bad` records a short or malformed one. */
struct store_rbuf {
	const uint8_t	*p;
	size_t		 len, off;
	bool		 bad;
};
/* Starts the reader after the version byte; bad unless it is ours. */
void store_rb_init(struct store_rbuf *r, const void *p, size_t len);
uint8_t store_rb_u8(struct store_rbuf *r);
uint32_t store_rb_u32(struct store_rbuf *r);
uint64_t store_rb_u64(struct store_rbuf *r);
const uint8_t *store_rb_bytes(struct store_rbuf *r, size_t n);
/* u8 length + bytes into a NUL-terminated string of cap bytes. */
void store_rb_str8(struct store_rbuf *r, char *out, size_t cap);
/* u16 length + bytes into out[cap]. */
void store_rb_blob16(struct store_rbuf *r, uint8_t *out, size_t cap, size_t *len_out);
/* True when the whole value was read and nothing was malformed. */
bool store_rb_done(const struct store_rbuf *r);

/* An account as stored: the public view plus its wraps and token hash. */
struct store_acct_rec {
	struct store_account	a;
	uint8_t			token_hash[STORE_HASH_BYTES];
	uint8_t			pw_wrap[STORE_WRAP_MAX];
	uint8_t			token_wrap[STORE_WRAP_MAX];
	uint8_t			rec_wrap[STORE_WRAP_MAX];
	size_t			pw_wrap_len, token_wrap_len, rec_wrap_len;
};
/* bounds: 3 bytes of version, state, flags; 7 times and ids of 8; the
 * failure count (4); pk and token hash (32 each): 127 < 160; then three
 * wraps, each with a 2-byte length. */
#define STORE_ACCT_VAL_MAX	(160 + 3 * (2 + STORE_WRAP_MAX))
size_t store_codec_acct_enc(const struct store_acct_rec *r, uint8_t *buf, size_t cap);
/* Fills everything but a.address (the key). */
bool store_codec_acct_dec(const MDB_val *v, struct store_acct_rec *r);

#define STORE_MBOX_VAL_LEN	(1 + 8 + 4 + 4 + 8 + 1 + 1 + 4 + 4 + 4 + 8)
void store_codec_mbox_enc(const struct store_mailbox *m, uint8_t buf[STORE_MBOX_VAL_LEN]);
/* Fills the value's fields (not name or account id). */
bool store_codec_mbox_dec(const MDB_val *v, struct store_mailbox *m);

#define STORE_MSG_KEY_LEN	12
#define STORE_MSG_VAL_LEN	(1 + 8 + 4 + 8 + 8 + 8 + 8)
void store_codec_msg_key(uint8_t k[STORE_MSG_KEY_LEN], uint64_t mailbox_id, uint32_t uid);
void store_codec_msg_enc(const struct store_msg *m, uint8_t buf[STORE_MSG_VAL_LEN]);
/* Fills all but mailbox_id and uid (the key). */
bool store_codec_msg_dec(const MDB_val *v, struct store_msg *m);

/* ---- store_account.c ---- */

/* Lowercase and check an address: STORE_INVALID if empty, too long or
 * holding spaces or control characters. */
enum store_rc store_addr_norm(const char *in, size_t len, char out[STORE_ADDR_MAX + 1]);
enum store_rc store_acct_load(struct store_txn *t, const char *address,
    struct store_acct_rec *r);
enum store_rc store_acct_load_id(struct store_txn *t, uint64_t id, struct store_acct_rec *r);
enum store_rc store_acct_save(struct store_txn *t, const struct store_acct_rec *r);
enum store_rc store_token_get(struct store_txn *t, const uint8_t hash[STORE_HASH_BYTES],
    int64_t *expiry, char address[STORE_ADDR_MAX + 1]);
/* Forget the account's token (spent, swept or replaced); r is not saved. */
enum store_rc store_acct_clear_token(struct store_txn *t, struct store_acct_rec *r);
/* Give the account the invitation's key, token and recovery wrap; r is not
 * saved. */
enum store_rc store_acct_set_invite(struct store_txn *t, struct store_acct_rec *r,
    const struct store_invite *inv);
/* An invitation for key k (re-invitation keeps the account's key). */
struct store_invite *store_invite_new(struct store *st, const char *address, int64_t ttl,
    const struct sec_sk *k);
/* Create an active account (user add); STORE_EXISTS if there is one. */
enum store_rc store_acct_create_active(struct store_txn *t, const char *address,
    const uint8_t pk[32], const uint8_t *pw_wrap, size_t pw_len, const uint8_t *rec_wrap,
    size_t rec_len, struct store_account *out);
/* The keyed hash a token is stored under. */
void store_token_hash(const struct store *st, const uint8_t raw[SEC_TOKEN_BYTES],
    uint8_t out[STORE_HASH_BYTES]);

/* ---- store_mailbox.c ---- */

enum store_rc store_mbox_save(struct store_txn *t, const struct store_mailbox *m);
/* The six mailboxes of a new account. */
enum store_rc store_mbox_create_defaults(struct store_txn *t, uint64_t account_id);
/* Drop every mailbox of an account with its messages (account delete). */
enum store_rc store_mbox_drop_all(struct store_txn *t, uint64_t account_id);
/* Expunge every message of every mailbox of an account (zero-access reset). */
enum store_rc store_mbox_empty_all(struct store_txn *t, uint64_t account_id);

/* ---- store_msg.c ---- */

/* Remove every message of a mailbox, releasing keys and blobs; the
 * mailbox record is updated in *m (the caller saves it). */
enum store_rc store_msg_drop_all(struct store_txn *t, struct store_mailbox *m);
/* Move a mailbox's messages to another (renaming INBOX). */
enum store_rc store_msg_move_all(struct store_txn *t, struct store_mailbox *from,
    struct store_mailbox *to);
/* Drop the account's keywords and correspondents. */
enum store_rc store_msg_forget_account(struct store_txn *t, uint64_t account_id);

#endif
