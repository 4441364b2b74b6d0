/*
 * store_wal.c: the write-ahead log that makes one flush per group commit.
 *
 * An LMDB commit flushes twice (the pages, then the meta page that points
 * to them). Here a write transaction instead records every put and delete
 * it makes (store_db_put/reserve/del), and the commit appends that record
 * to a log file with one pwrite and one fdatasync before LMDB commits
 * with MDB_NOSYNC: readers see a change only once it is durable, and the
 * caller is told only after that. A checkpoint thread makes LMDB's file
 * durable now and then (one fdatasync of data.mdb) and writes down where
 * recovery starts: wal.ckpt holds a copy of the two meta pages of the
 * snapshot it flushed and the log position after that snapshot's record.
 * The writer starts the writeback of LMDB's pages after every commit
 * (store_wal_writeback), so that the device takes them while the next
 * batch gathers and the checkpoint's flush finds little left to write.
 *
 * Power loss leaves data.mdb with any subset of the unflushed pages. The
 * checkpoint's snapshot stays whole because a read transaction pins it
 * (LMDB never reuses a page freed after the oldest reader's snapshot) until
 * the next checkpoint is durable. So the first process to open the store
 * after everybody died writes the saved meta pages back (LMDB then opens
 * that snapshot), and applies the log's records from the saved position,
 * each in the transaction id it had. After a plain crash of the process
 * the file is whole and newer; the saved metas still name a whole snapshot
 * and the records take it to the same state.
 *
 * Several processes (the daemon and admin commands) may write: LMDB's
 * writer lock serialises their transactions, and the log position lives
 * in the meta database, so each appends where the last commit ended.
 *
 * The records themselves (what a transaction logs, how a record is checked
 * and walked) are store_walrec.c's.
 *
 * Files in store/: wal.0 and wal.1 (the log alternates between them: a
 * segment is reused once a checkpoint no longer needs it), wal.ckpt (two
 * slots, the newer valid one counts) and wal.lock (fcntl locks that make
 * recovery run alone).
 */
#define _GNU_SOURCE	/* F_OFD_SETLK: fcntl locks per open file */
#include "store/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/gw_log.h"

#define CKPT_MAGIC	0x5347434bu	/* "SGCK" */
#define CKPT_HEAD	64
#define FILL_CHUNK	(1u << 20)	/* a segment grows by zeros, at most this much at a time */

static const char wal_pos_key[] = "wal";

struct ckpt {
	MDB_txn			*pin;
	uint64_t		 txnid, seq, ino, dev;
	struct store_walpos	 pos;
	uint8_t			*metas;		/* 2 * psize */
};

/* ---- the log position, kept in the meta database ---- */

static int
pos_get(struct store *st, MDB_txn *txn, struct store_walpos *pos)
{
	MDB_val k = { sizeof wal_pos_key - 1, (void *)(uintptr_t)wal_pos_key }, v;
	const uint8_t *p;
	int rc;

	if ((rc = mdb_get(txn, st->dbi[STORE_DB_META], &k, &v)) == MDB_NOTFOUND) {
		*pos = (struct store_walpos){ .off = 0, .gen = 1, .seg = 0 };
		return 0;
	}
	if (rc != 0)
		return rc;
	if (v.mv_size != 14 || ((const uint8_t *)v.mv_data)[0] != STORE_WAL_VERSION)
		return MDB_CORRUPTED;
	p = v.mv_data;
	pos->seg = p[1] & 1;
	pos->gen = store_be32_get(p + 2);
	pos->off = store_be64_get(p + 6);
	return 0;
}

static int
pos_put(struct store *st, MDB_txn *txn, const struct store_walpos *pos)
{
	MDB_val k = { sizeof wal_pos_key - 1, (void *)(uintptr_t)wal_pos_key };
	uint8_t b[14];
	MDB_val v = { sizeof b, b };

	b[0] = STORE_WAL_VERSION;
	b[1] = pos->seg;
	store_be32_put(b + 2, pos->gen);
	store_be64_put(b + 6, pos->off);
	return mdb_put(txn, st->dbi[STORE_DB_META], &k, &v, 0);
}

/* ---- the segments ---- */

static int
pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	const uint8_t *q = p;
	ssize_t w;

	while (n > 0) {
		if ((w = pwrite(fd, q, n, off)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		q += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static int
pread_all(int fd, void *p, size_t n, off_t off)
{
	uint8_t *q = p;
	ssize_t r;

	while (n > 0) {
		if ((r = pread(fd, q, n, off)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return -1;	/* short: past the end */
		q += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/*
 * Zeros ahead of the record: a record written into blocks the file
 * already has costs one flush; one that extends the file also makes the
 * flush write the inode and the allocation bitmaps.
 */
static int
seg_fill(struct store_wal *w, int seg, uint64_t end)
{
	static const uint8_t zeros[64 << 10];
	uint64_t at, target, step;
	struct stat sb;

	if (w->seg_len[seg] >= end)
		return 0;
	if (fstat(w->seg_fd[seg], &sb) != 0)
		return -1;
	at = (uint64_t)sb.st_size;	/* another process may have filled it */
	/* Steps that grow with the file: a small vault keeps a small log. */
	step = SG_MIN((uint64_t)FILL_CHUNK, SG_MAX((uint64_t)sizeof zeros, at));
	target = SG_MAX(at, (end + step - 1) / step * step);
	for (; at < target; at += sizeof zeros)
		if (pwrite_all(w->seg_fd[seg], zeros, sizeof zeros, (off_t)at) != 0)
			return -1;
	w->seg_len[seg] = at;
	return 0;
}

/* ---- commit ---- */

/* A record whose transaction did not commit must not come back at
 * recovery (its callers were told to try again): zero its header. */
static void
rec_void(struct store_wal *w, const struct store_walpos *pos)
{
	static const uint8_t zeros[STORE_WAL_HEAD];

	if (pwrite_all(w->seg_fd[pos->seg], zeros, sizeof zeros, (off_t)pos->off) == 0)
		(void)fdatasync(w->seg_fd[pos->seg]);
}

static bool
segment_free(struct store_wal *w, const struct store_walpos *pos)
{
	/* The other segment holds the generation before this one: free once
	 * the last durable checkpoint starts in this generation. */
	return pos->gen == atomic_load(&w->durable_gen);
}

/*
 * Commit a write transaction: the record, then LMDB. Returns 0 or an LMDB
 * (or errno) code; the transaction is gone either way. MDB_MAP_FULL from
 * the position update lets the writer grow the map and run the batch again.
 */
int
store_wal_commit(struct store *st, MDB_txn *txn, struct store_walbuf *b)
{
	struct store_wal *w = &st->wal;
	struct store_walpos pos, next;
	size_t len;
	int rc;

	if (!w->on || b == NULL || b->len <= STORE_WAL_HEAD)
		return mdb_txn_commit(txn);
	store_walbuf_settle(b);
	if ((rc = pos_get(st, txn, &pos)) != 0)
		goto abort;
	if (pos.off >= w->switch_at && segment_free(w, &pos))
		pos = (struct store_walpos){ .off = 0, .gen = pos.gen + 1, .seg = pos.seg ^ 1 };
	len = b->len;
	next = pos;
	next.off += len;
	if ((rc = pos_put(st, txn, &next)) != 0)
		goto abort;
	store_wal_head_fill(b->p, &pos, mdb_txn_id(txn), len - STORE_WAL_HEAD);
	store_wal_head_seal(b);
	errno = 0;
	if (seg_fill(w, pos.seg, next.off) != 0 ||
	    pwrite_all(w->seg_fd[pos.seg], b->p, len, (off_t)pos.off) != 0 ||
	    fdatasync(w->seg_fd[pos.seg]) != 0) {
		rc = errno != 0 ? errno : EIO;
		log_error("store", "event=wal_write seg=%u error=\"%s\"", pos.seg, strerror(rc));
		mdb_txn_abort(txn);
		rec_void(w, &pos);
		return rc;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		rec_void(w, &pos);
		return rc;
	}
	w->written = true;
	if (atomic_fetch_add(&w->dirty, len) + len >= w->ckpt_bytes) {
		pthread_mutex_lock(&w->mu);
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	return 0;
abort:
	mdb_txn_abort(txn);
	return rc;
}

/*
 * Left to the checkpoint, a second of commits is tens of megabytes of
 * data.mdb flushed at once, and every log flush issued meanwhile waits
 * behind it (bench/store saw commits stall for milliseconds). Started
 * after each commit, the writes are a commit's worth (some 40 pages for
 * 16 small messages) and the device finishes them while the next batch
 * gathers, before its log flush. Only a start: durability is still the
 * log's and the checkpoint's (an error here shows there, in fdatasync).
 */
void
store_wal_writeback(struct store *st)
{
	struct store_wal *w = &st->wal;

	if (!w->written)
		return;
	w->written = false;
	(void)sync_file_range(w->data_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

/* ---- checkpoints ---- */

static size_t
slot_size(const struct store_wal *w)
{
	return 4096 + 2 * w->psize;
}

/* Under a write transaction (no commit can come in between): pin the
 * last snapshot, copy its meta pages and the log position after it. */
static int
capture(struct store *st, struct ckpt *c)
{
	struct store_wal *w = &st->wal;
	MDB_txn *wtxn = NULL;
	struct stat sb;
	int rc;

	store_maplock_rd(&st->maplock);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &wtxn)) == 0 &&
	    (rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &c->pin)) == 0) {
		c->txnid = mdb_txn_id(c->pin);
		if ((rc = pos_get(st, c->pin, &c->pos)) == 0 &&
		    pread_all(w->data_fd, c->metas, 2 * w->psize, 0) != 0)
			rc = errno != 0 ? errno : EIO;
		if (rc != 0) {
			mdb_txn_abort(c->pin);
			c->pin = NULL;
		}
	}
	if (wtxn != NULL)
		mdb_txn_abort(wtxn);
	store_maplock_rd_end(&st->maplock);
	if (rc == 0 && fstat(w->data_fd, &sb) == 0) {
		c->ino = (uint64_t)sb.st_ino;
		c->dev = (uint64_t)sb.st_dev;
	}
	return rc;
}

static void
ckpt_encode(const struct store_wal *w, const struct ckpt *c, uint8_t *slot)
{
	uint32_t crc;

	memset(slot, 0, CKPT_HEAD);
	store_be32_put(slot, CKPT_MAGIC);
	slot[4] = STORE_WAL_VERSION;
	slot[5] = c->pos.seg;
	store_be64_put(slot + 8, c->seq);
	store_be64_put(slot + 16, c->txnid);
	store_be64_put(slot + 24, c->pos.off);
	store_be32_put(slot + 32, c->pos.gen);
	store_be32_put(slot + 36, (uint32_t)w->psize);
	store_be64_put(slot + 40, c->ino);
	store_be64_put(slot + 48, c->dev);
	memcpy(slot + 4096, c->metas, 2 * w->psize);
	crc = store_wal_crc(store_wal_crc(0, slot, CKPT_HEAD), slot + 4096, 2 * w->psize);
	store_be32_put(slot + 56, crc);
}

static bool
ckpt_decode(const struct store_wal *w, uint8_t *slot, struct ckpt *c)
{
	uint32_t crc = store_be32_get(slot + 56);

	store_be32_put(slot + 56, 0);
	if (store_be32_get(slot) != CKPT_MAGIC || slot[4] != STORE_WAL_VERSION ||
	    store_be32_get(slot + 36) != w->psize ||
	    crc != store_wal_crc(store_wal_crc(0, slot, CKPT_HEAD), slot + 4096, 2 * w->psize))
		return false;
	c->pos.seg = slot[5] & 1;
	c->seq = store_be64_get(slot + 8);
	c->txnid = store_be64_get(slot + 16);
	c->pos.off = store_be64_get(slot + 24);
	c->pos.gen = store_be32_get(slot + 32);
	c->ino = store_be64_get(slot + 40);
	c->dev = store_be64_get(slot + 48);
	return true;
}

/* The newer valid slot into c (c->metas: room for two pages); false when
 * neither is valid. slot_out: its index. */
static bool
ckpt_read(const struct store_wal *w, struct ckpt *c, int *slot_out)
{
	size_t n = slot_size(w);
	uint8_t *buf = xmalloc(n);
	struct ckpt t;
	bool found = false;
	int i;

	for (i = 0; i < 2; i++) {
		t.metas = buf + 4096;	/* decoded in place */
		if (pread_all(w->ckpt_fd, buf, n, (off_t)(i * n)) != 0 ||
		    !ckpt_decode(w, buf, &t) || (found && t.seq <= c->seq))
			continue;
		t.metas = c->metas;
		memcpy(c->metas, buf + 4096, 2 * w->psize);
		t.pin = c->pin;
		*c = t;
		*slot_out = i;
		found = true;
	}
	free(buf);
	return found;
}

/*
 * Open file description locks on wal.lock (fcntl, per open file, so two
 * handles in one process exclude each other too): byte 0 while a process
 * opens the store (recovery runs alone), byte 1 while one writes a
 * checkpoint, byte 2 shared for as long as a process has the store open
 * (exclusive only when nobody else does).
 */
#define LOCK_OPEN	0
#define LOCK_CKPT	1
#define LOCK_LIVE	2

static int
range_lock(int fd, short type, off_t at, bool wait)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = at, .l_len = 1 };
	int rc;

	while ((rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl)) != 0 && errno == EINTR)
		;
	return rc;
}

/* Write c into the older slot unless a newer checkpoint is there. */
static int
ckpt_write(struct store_wal *w, struct ckpt *c)
{
	struct ckpt cur = { .metas = xmalloc(2 * w->psize) };
	size_t n = slot_size(w);
	uint8_t *buf;
	int slot = 1, rc = 0;

	range_lock(w->lock_fd, F_WRLCK, LOCK_CKPT, true);
	if (ckpt_read(w, &cur, &slot) && cur.txnid >= c->txnid)
		goto out;	/* another process checkpointed later */
	c->seq = cur.seq + 1;
	buf = xcalloc(1, n);
	ckpt_encode(w, c, buf);
	if (pwrite_all(w->ckpt_fd, buf, n, (off_t)((slot ^ 1) * n)) != 0 ||
	    fdatasync(w->ckpt_fd) != 0)
		rc = -1;
	free(buf);
out:
	range_lock(w->lock_fd, F_UNLCK, LOCK_CKPT, true);
	free(cur.metas);
	return rc;
}

static int checkpoint_locked(struct store *st);

/* One at a time: the pin always moves forward. */
static int
checkpoint(struct store *st)
{
	int rc;

	pthread_mutex_lock(&st->wal.ckpt_mu);
	rc = checkpoint_locked(st);
	pthread_mutex_unlock(&st->wal.ckpt_mu);
	return rc;
}

int
store_checkpoint(struct store *st)
{
	return st->wal.on ? checkpoint(st) : 0;
}

/* Capture, flush data.mdb, record, move the pin. */
static int
checkpoint_locked(struct store *st)
{
	struct store_wal *w = &st->wal;
	struct ckpt c = { .metas = xmalloc(2 * w->psize) };
	uint64_t dirty = atomic_exchange(&w->dirty, 0);
	MDB_txn *old;
	int rc;

	if ((rc = capture(st, &c)) == 0 && fdatasync(w->data_fd) != 0)
		rc = errno;
	if (rc == 0 && ckpt_write(w, &c) != 0)
		rc = errno != 0 ? errno : EIO;
	if (rc != 0) {
		log_error("store", "event=checkpoint error=\"%s\"", mdb_strerror(rc));
		if (c.pin != NULL)
			mdb_txn_abort(c.pin);
		atomic_fetch_add(&w->dirty, dirty);	/* try again later */
		free(c.metas);
		return -1;
	}
	pthread_mutex_lock(&w->mu);
	old = w->pin;
	w->pin = c.pin;
	pthread_mutex_unlock(&w->mu);
	atomic_store(&w->durable_gen, c.pos.gen);
	if (old != NULL)
		mdb_txn_abort(old);
	log_debug("store", "event=checkpoint txn=%llu seg=%u gen=%u off=%llu",
	    (unsigned long long)c.txnid, c.pos.seg, c.pos.gen, (unsigned long long)c.pos.off);
	free(c.metas);
	return 0;
}

static void *
ckpt_main(void *arg)
{
	struct store *st = arg;
	struct store_wal *w = &st->wal;
	struct timespec deadline;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += STORE_CKPT_SECS;
		if (atomic_load(&w->dirty) < w->ckpt_bytes)
			pthread_cond_timedwait(&w->cv, &w->mu, &deadline);
		if (w->stop || atomic_load(&w->dirty) == 0)
			continue;
		pthread_mutex_unlock(&w->mu);
		checkpoint(st);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- recovery ---- */

struct rec {
	struct store_walpos	 pos;
	uint64_t		 txnid;
	uint8_t			*p;		/* header and entries */
	size_t			 len, cap;
};

/* The record at r->pos, if whole and of the right generation. */
static bool
rec_read(struct store_wal *w, struct rec *r)
{
	uint8_t h[STORE_WAL_HEAD];
	struct stat sb;
	size_t len;

	if (pread_all(w->seg_fd[r->pos.seg], h, sizeof h, (off_t)r->pos.off) != 0 ||
	    store_be32_get(h) != STORE_WAL_MAGIC || h[4] != STORE_WAL_VERSION || h[5] != r->pos.seg ||
	    store_be32_get(h + 8) != r->pos.gen || fstat(w->seg_fd[r->pos.seg], &sb) != 0)
		return false;
	len = STORE_WAL_HEAD + store_be32_get(h + 20);
	if (r->pos.off + len > (uint64_t)sb.st_size)
		return false;	/* a header from a torn write */
	if (len > r->cap) {
		r->cap = len;
		r->p = xreallocarray(r->p, r->cap, 1);
	}
	if (pread_all(w->seg_fd[r->pos.seg], r->p, len, (off_t)r->pos.off) != 0 ||
	    store_wal_check(r->p, len) != 0)
		return false;
	r->txnid = store_be64_get(h + 12);
	r->len = len;
	return true;
}

/* The next record: here, or at the start of the other segment. */
static bool
rec_next(struct store_wal *w, struct rec *r)
{
	struct store_walpos here = r->pos;

	if (rec_read(w, r))
		return true;
	if (here.off == 0)
		return false;
	r->pos = (struct store_walpos){ .off = 0, .gen = here.gen + 1, .seg = here.seg ^ 1 };
	if (rec_read(w, r))
		return true;
	r->pos = here;
	return false;
}

struct apply {
	struct store	*st;
	MDB_txn		*txn;
};

static int
entry_apply(void *arg, bool del, enum store_db db, const uint8_t *k, size_t klen,
    const uint8_t *v, size_t vlen)
{
	struct apply *a = arg;
	MDB_val key = { klen, (void *)(uintptr_t)k }, val = { vlen, (void *)(uintptr_t)v };
	int rc;

	if (del)
		rc = mdb_del(a->txn, a->st->dbi[db], &key, NULL);
	else
		rc = mdb_put(a->txn, a->st->dbi[db], &key, &val, 0);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
rec_apply_entries(struct store *st, MDB_txn *txn, const struct rec *r)
{
	struct apply a = { st, txn };

	return store_wal_entries(r->p, r->len, entry_apply, &a);
}

/* One record in its own transaction, which must get the record's id. */
static int
rec_apply(struct store *st, const struct rec *r)
{
	struct store_walpos next = r->pos;
	MDB_txn *txn;
	int rc;

	next.off += r->len;
	for (;;) {
		if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
			return rc;
		if (mdb_txn_id(txn) != r->txnid) {
			mdb_txn_abort(txn);
			return MDB_BAD_TXN;
		}
		if ((rc = rec_apply_entries(st, txn, r)) == 0 &&
		    (rc = pos_put(st, txn, &next)) == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc != MDB_MAP_FULL || store_map_grow(st) != 0)
			return rc;
	}
}

/* Apply every record after the snapshot LMDB opened. */
static int
replay(struct store *st, const struct ckpt *c, char **err_out)
{
	struct store_wal *w = &st->wal;
	struct rec r = { .pos = c->pos };
	MDB_envinfo info;
	uint64_t last, applied = 0;
	int rc = 0;

	if (mdb_env_info(st->env, &info) != 0)
		return -1;
	last = info.me_last_txnid;
	while (rec_next(w, &r)) {
		if (r.txnid <= last) {		/* already in the file */
			r.pos.off += r.len;
			continue;
		}
		if (r.txnid != last + 1)
			break;
		if ((rc = rec_apply(st, &r)) != 0) {
			*err_out = xasprintf("%s/wal.%u: cannot apply the record of "
			    "transaction %llu: %s", st->wal.dir, r.pos.seg,
			    (unsigned long long)r.txnid, mdb_strerror(rc));
			break;
		}
		last = r.txnid;
		r.pos.off += r.len;
		applied++;
	}
	free(r.p);
	if (applied > 0)
		log_info("store", "event=wal_replay records=%llu last_txn=%llu",
		    (unsigned long long)applied, (unsigned long long)last);
	return rc == 0 ? 0 : -1;
}

static char *
wal_path(const struct store_wal *w, const char *name)
{
	return xasprintf("%s/%s", w->dir, name);
}

static int
open_file(struct store_wal *w, const char *name, int *fd_out, char **err_out)
{
	char *p = wal_path(w, name);

	*fd_out = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd_out < 0)
		*err_out = xasprintf("%s: %s", p, strerror(errno));
	free(p);
	return *fd_out < 0 ? -1 : 0;
}

/* Does data.mdb start with the checkpoint's meta pages? */
static bool
metas_match(const struct store_wal *w, const struct ckpt *c)
{
	char *p = wal_path(w, "data.mdb");
	uint8_t *cur = xmalloc(2 * w->psize);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	bool same;

	same = fd >= 0 && pread_all(fd, cur, 2 * w->psize, 0) == 0 &&
	    memcmp(cur, c->metas, 2 * w->psize) == 0;
	if (fd >= 0)
		close(fd);
	free(cur);
	free(p);
	return same;
}

/*
 * Put the checkpoint's meta pages back, so that LMDB opens its snapshot.
 * Nothing to do when they are what the file has (a clean stop).
 */
static int
metas_restore(struct store_wal *w, const struct ckpt *c, char **err_out)
{
	char *p;
	int fd, rc = 0;
	struct stat sb;

	if (metas_match(w, c))
		return 0;
	p = wal_path(w, "data.mdb");
	if ((fd = open(p, O_RDWR | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		*err_out = xasprintf("%s: %s (wal.ckpt names it)", p, strerror(errno));
		rc = -1;
	} else if ((uint64_t)sb.st_ino != c->ino || (uint64_t)sb.st_dev != c->dev) {
		*err_out = xasprintf("%s was replaced after a crash (restored from a backup?): "
		    "its write-ahead log does not belong to it; to open the file as it is, "
		    "move %s/wal.ckpt away", p, w->dir);
		rc = -1;
	} else if (pwrite_all(fd, c->metas, 2 * w->psize, 0) != 0 || fdatasync(fd) != 0) {
		*err_out = xasprintf("%s: cannot restore the checkpoint: %s", p, strerror(errno));
		rc = -1;
	} else {
		log_info("store", "event=wal_restore txn=%llu", (unsigned long long)c->txnid);
	}
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}

/* What both kinds of opener set up before touching a file. */
static void
wal_init(struct store_wal *w, const char *env_dir)
{
	w->dir = xstrdup(env_dir);
	w->psize = (size_t)sysconf(_SC_PAGESIZE);
	w->lock_fd = w->ckpt_fd = w->data_fd = w->seg_fd[0] = w->seg_fd[1] = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_mutex_init(&w->ckpt_mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

/*
 * Before LMDB opens: take the open lock, and if no process has the store
 * open, go back to the last checkpoint. The open lock is held until
 * store_wal_start has replayed the log.
 */
int
store_wal_open(struct store *st, const char *env_dir, const struct store_opts *o,
    char **err_out)
{
	struct store_wal *w = &st->wal;
	struct ckpt c;
	int slot;

	wal_init(w, env_dir);
	w->switch_at = o->wal_segment != 0 ? o->wal_segment : STORE_WAL_SWITCH;
	w->ckpt_bytes = o->checkpoint_bytes != 0 ? o->checkpoint_bytes : STORE_CKPT_BYTES;
	if (open_file(w, "wal.lock", &w->lock_fd, err_out) != 0 ||
	    open_file(w, "wal.ckpt", &w->ckpt_fd, err_out) != 0 ||
	    open_file(w, "wal.0", &w->seg_fd[0], err_out) != 0 ||
	    open_file(w, "wal.1", &w->seg_fd[1], err_out) != 0)
		return -1;
	if (range_lock(w->lock_fd, F_WRLCK, LOCK_OPEN, true) != 0) {
		*err_out = xasprintf("%s/wal.lock: %s", env_dir, strerror(errno));
		return -1;
	}
	w->alone = range_lock(w->lock_fd, F_WRLCK, LOCK_LIVE, false) == 0;
	if (range_lock(w->lock_fd, F_RDLCK, LOCK_LIVE, true) != 0) {
		*err_out = xasprintf("%s/wal.lock: %s", env_dir, strerror(errno));
		return -1;
	}
	c.metas = xmalloc(2 * w->psize);
	w->have_ckpt = ckpt_read(w, &c, &slot);
	if (w->have_ckpt) {
		w->start = c.pos;
		atomic_store(&w->durable_gen, c.pos.gen);
	}
	if (w->have_ckpt && w->alone && metas_restore(w, &c, err_out) != 0) {
		free(c.metas);
		return -1;
	}
	free(c.metas);
	return 0;
}

/*
 * A read-only opener waits for a recovery in progress and counts as a
 * user of the store. It cannot recover: when it is the only one and the
 * file is not what the last checkpoint says (the last process stopped
 * without its final checkpoint, maybe with the power), it refuses rather
 * than read what may be a torn file.
 */
int
store_wal_open_ro(struct store *st, const char *env_dir, char **err_out)
{
	struct store_wal *w = &st->wal;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_LIVE,
	    .l_len = 1 };
	struct ckpt c;
	char *p;
	int slot;

	wal_init(w, env_dir);
	p = wal_path(w, "wal.lock");
	w->lock_fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (w->lock_fd < 0)
		return 0;	/* never opened for writing by this version */
	if (range_lock(w->lock_fd, F_RDLCK, LOCK_OPEN, true) != 0 ||
	    fcntl(w->lock_fd, F_OFD_GETLK, &fl) != 0 ||
	    range_lock(w->lock_fd, F_RDLCK, LOCK_LIVE, true) != 0) {
		*err_out = xasprintf("%s/wal.lock: %s", env_dir, strerror(errno));
		return -1;
	}
	p = wal_path(w, "wal.ckpt");
	w->ckpt_fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	c.metas = xmalloc(2 * w->psize);
	c.pin = NULL;
	if (fl.l_type == F_UNLCK && w->ckpt_fd >= 0 && ckpt_read(w, &c, &slot) &&
	    !metas_match(w, &c)) {
		*err_out = xasprintf("%s: the store was not closed cleanly; start sealgate "
		    "(or run a command that writes) to recover it first", env_dir);
		free(c.metas);
		return -1;
	}
	free(c.metas);
	return 0;
}

/* A read-only opener has LMDB open: recoveries wait for it to go. */
void
store_wal_open_done(struct store *st)
{
	if (st->read_only && st->wal.lock_fd >= 0)
		range_lock(st->wal.lock_fd, F_UNLCK, LOCK_OPEN, true);
}

/* A log with no checkpoint (a new store, one from before the log, a
 * restored backup): start it afresh, in a generation no record left in the
 * files has. */
static int
pos_reset(struct store *st)
{
	struct store_walpos pos;
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		return rc;
	if ((rc = pos_get(st, txn, &pos)) == 0) {
		pos = (struct store_walpos){ .off = 0, .gen = pos.gen + 1, .seg = 0 };
		rc = pos_put(st, txn, &pos);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);	/* LMDB's own flushes: no log yet */
}

/* Alone: back to the checkpoint (store_wal_open put its meta pages
 * back) and forward through the log. With others: the file is what they
 * made it, nothing to do. */
static int
recover(struct store *st, char **err_out)
{
	struct store_wal *w = &st->wal;
	struct ckpt c = { .pos = w->start };
	int rc;

	if (!w->alone)
		return 0;
	if (!w->have_ckpt) {
		if ((rc = pos_reset(st)) != 0)
			*err_out = xasprintf("%s: cannot start the log: %s", w->dir,
			    mdb_strerror(rc));
		return rc == 0 ? 0 : -1;
	}
	/* The replay pins the checkpoint's snapshot too: a crash during it
	 * comes back to the same place. */
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &w->pin)) != 0) {
		*err_out = xasprintf("%s: %s", w->dir, mdb_strerror(rc));
		return -1;
	}
	mdb_env_set_flags(st->env, MDB_NOSYNC, 1);
	return replay(st, &c, err_out);
}

/* After LMDB and its databases are open: replay (when alone), then log
 * from here on, checkpoint, and let other processes open. */
int
store_wal_start(struct store *st, char **err_out)
{
	struct store_wal *w = &st->wal;
	int rc;

	w->data_fd = -1;
	if (mdb_env_get_fd(st->env, &w->data_fd) != 0) {
		*err_out = xasprintf("%s: no data file descriptor", w->dir);
		return -1;
	}
	rc = recover(st, err_out);
	if (rc == 0) {
		mdb_env_set_flags(st->env, MDB_NOSYNC, 1);
		w->on = true;
		if (checkpoint(st) != 0) {
			*err_out = xasprintf("%s: cannot write a checkpoint (see the log)", w->dir);
			rc = -1;
		}
	}
	range_lock(w->lock_fd, F_UNLCK, LOCK_OPEN, true);
	if (rc != 0)
		return -1;
	if (pthread_create(&w->thread, NULL, ckpt_main, st) != 0) {
		*err_out = xstrdup("store: cannot start the checkpoint thread");
		return -1;
	}
	w->thread_started = true;
	return 0;
}

/* The last checkpoint, then nothing is left to replay. */
void
store_wal_close(struct store *st)
{
	struct store_wal *w = &st->wal;
	int i;

	if (w->dir == NULL)
		return;
	if (w->thread_started) {
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
		w->thread_started = false;
	}
	if (w->on)
		checkpoint(st);	/* a clean stop: the file is what wal.ckpt says */
	if (w->pin != NULL)
		mdb_txn_abort(w->pin);
	w->pin = NULL;
	w->on = false;
	if (w->lock_fd >= 0)
		close(w->lock_fd);	/* drops our locks */
	if (w->ckpt_fd >= 0)
		close(w->ckpt_fd);
	for (i = 0; i < 2; i++)
		if (w->seg_fd[i] >= 0)
			close(w->seg_fd[i]);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->ckpt_mu);
	pthread_cond_destroy(&w->cv);
	free(w->dir);
	w->dir = NULL;
}
