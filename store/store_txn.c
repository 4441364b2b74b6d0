/*
 * store_txn.c: transactions and the small LMDB helpers every store file
 * uses: the map lock that lets the map grow under live readers, read
 * transactions, get/put/del that turn LMDB results into store results and
 * note the failures the writer must act on (a full map), meta counters,
 * and the sets of changed mailboxes and accounts.
 */
#include "store/store_private.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "gateway/gw_log.h"

/* ---- the map lock ---- */

void
store_maplock_rd(struct store_maplock *l)
{
	pthread_mutex_lock(&l->mu);
	while (l->resizing || l->resizers_waiting > 0)
		pthread_cond_wait(&l->cv, &l->mu);
	l->readers++;
	pthread_mutex_unlock(&l->mu);
}

void
store_maplock_rd_end(struct store_maplock *l)
{
	pthread_mutex_lock(&l->mu);
	SG_ASSERT(l->readers > 0);
	if (--l->readers == 0)
		pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void
maplock_deadline(struct timespec *ts, unsigned wait_ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += wait_ms / 1000;
	ts->tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
store_maplock_wr(struct store_maplock *l, unsigned wait_ms)
{
	struct timespec deadline;
	int rc = 0;

	maplock_deadline(&deadline, wait_ms);
	pthread_mutex_lock(&l->mu);
	l->resizers_waiting++;
	while ((l->readers > 0 || l->resizing) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&l->cv, &l->mu, &deadline);
	l->resizers_waiting--;
	if (l->readers > 0 || l->resizing) {
		/* A reader did not finish in time: give up, let readers on. */
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		return -1;
	}
	l->resizing = true;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

void
store_maplock_wr_end(struct store_maplock *l)
{
	pthread_mutex_lock(&l->mu);
	l->resizing = false;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

int
store_map_adopt(struct store *st)
{
	MDB_envinfo info;
	int rc;

	if (store_maplock_wr(&st->maplock, STORE_RESIZE_WAIT_MS) != 0) {
		log_warn("store", "event=map_adopt error=readers_busy");
		return -1;
	}
	/* Size 0: take the size another process recorded in the meta page. */
	rc = mdb_env_set_mapsize(st->env, 0);
	if (rc == 0 && mdb_env_info(st->env, &info) == 0)
		st->map_size = info.me_mapsize;
	store_maplock_wr_end(&st->maplock);
	if (rc != 0) {
		log_error("store", "event=map_adopt error=\"%s\"", mdb_strerror(rc));
		return -1;
	}
	log_info("store", "event=map_adopted size=%llu", (unsigned long long)st->map_size);
	return 0;
}

/* Double the map, up to max_size. 0, or -1 when it cannot grow. */
int
store_map_grow(struct store *st)
{
	uint64_t want;
	MDB_envinfo info;
	int rc;

	if (st->map_size >= st->max_size) {
		log_warn("store", "event=map_full size=%llu max=%llu",
		    (unsigned long long)st->map_size, (unsigned long long)st->max_size);
		return -1;
	}
	if (store_maplock_wr(&st->maplock, STORE_RESIZE_WAIT_MS) != 0) {
		log_warn("store", "event=map_grow error=readers_busy");
		return -1;
	}
	want = st->map_size >= st->max_size / 2 ? st->max_size : st->map_size * 2;
	want &= ~(uint64_t)4095;
	rc = want > st->map_size ? mdb_env_set_mapsize(st->env, (size_t)want) : -1;
	if (rc == 0 && mdb_env_info(st->env, &info) == 0)
		st->map_size = info.me_mapsize;
	store_maplock_wr_end(&st->maplock);
	if (rc != 0) {
		log_warn("store", "event=map_full size=%llu max=%llu",
		    (unsigned long long)st->map_size, (unsigned long long)st->max_size);
		return -1;
	}
	log_info("store", "event=map_grow size=%llu", (unsigned long long)want);
	return 0;
}

/* ---- read transactions ---- */

struct store_txn *
store_read_begin(struct store *st, enum store_rc *rc_out)
{
	struct store_txn *t = xcalloc(1, sizeof *t);
	int rc, tries;

	t->st = st;
	t->now = sg_now();
	for (tries = 0; tries < 3; tries++) {
		store_maplock_rd(&st->maplock);
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &t->txn);
		if (rc == 0) {
			*rc_out = STORE_OK;
			return t;
		}
		store_maplock_rd_end(&st->maplock);
		if (rc != MDB_MAP_RESIZED || store_map_adopt(st) != 0)
			break;
	}
	log_error("store", "event=read_begin error=\"%s\"", mdb_strerror(rc));
	free(t);
	*rc_out = STORE_TEMPFAIL;
	return NULL;
}

void
store_read_end(struct store_txn **tp)
{
	struct store_txn *t = *tp;

	if (t == NULL)
		return;
	SG_ASSERT(!t->write);
	mdb_txn_abort(t->txn);
	store_maplock_rd_end(&t->st->maplock);
	free(t->scratch);
	free(t);
	*tp = NULL;
}

struct store *
store_txn_store(struct store_txn *t)
{
	return t->st;
}

int64_t
store_txn_now(struct store_txn *t)
{
	return t->now;
}

/* ---- LMDB results ---- */

enum store_rc
store_mdb_rc(struct store_txn *t, int rc, const char *what)
{
	switch (rc) {
	case MDB_SUCCESS:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_NOTFOUND;
	case MDB_KEYEXIST:
		return STORE_EXISTS;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		/* The writer grows the map (or splits the batch) and retries. */
		if (t->mdb_err == 0)
			t->mdb_err = rc;
		return STORE_TEMPFAIL;
	default:
		if (t->mdb_err == 0)
			t->mdb_err = rc;
		log_error("store", "event=lmdb op=%s error=\"%s\"", what, mdb_strerror(rc));
		return STORE_TEMPFAIL;
	}
}

enum store_rc
store_db_get(struct store_txn *t, enum store_db db, const void *k, size_t klen, MDB_val *v)
{
	MDB_val key = { klen, (void *)(uintptr_t)k };

	return store_mdb_rc(t, mdb_get(t->txn, t->st->dbi[db], &key, v), "get");
}

/* Each put or delete is logged before LMDB sees it; one LMDB refused
 * leaves no entry behind (mark: the record's length before it). */
static enum store_rc
wal_undo_if_failed(struct store_txn *t, size_t mark, enum store_rc rc)
{
	if (rc != STORE_OK && t->wal != NULL)
		store_walbuf_truncate(t->wal, mark);
	return rc;
}

enum store_rc
store_db_put(struct store_txn *t, enum store_db db, const void *k, size_t klen,
    const void *v, size_t vlen)
{
	MDB_val key = { klen, (void *)(uintptr_t)k };
	MDB_val val = { vlen, (void *)(uintptr_t)v };
	size_t mark = t->wal != NULL ? t->wal->len : 0;
	enum store_rc rc;

	if (!t->write)
		return STORE_INVALID;
	/* Logged first: k or v may point into a page this put rewrites. */
	if (t->wal != NULL)
		store_walbuf_put(t->wal, db, k, klen, v, vlen);
	rc = store_mdb_rc(t, mdb_put(t->txn, t->st->dbi[db], &key, &val, 0), "put");
	return wal_undo_if_failed(t, mark, rc);
}

static enum store_rc
db_reserve(struct store_txn *t, enum store_db db, const void *k, size_t klen,
    size_t vlen, unsigned flags, uint8_t **p_out)
{
	MDB_val key = { klen, (void *)(uintptr_t)k };
	MDB_val val = { vlen, NULL };
	size_t mark = t->wal != NULL ? t->wal->len : 0;
	enum store_rc rc;
	int mrc;

	*p_out = NULL;
	if (!t->write)
		return STORE_INVALID;
	if (t->wal != NULL)
		store_walbuf_reserve(t->wal, db, k, klen, vlen);
	mrc = mdb_put(t->txn, t->st->dbi[db], &key, &val, MDB_RESERVE | flags);
	if (mrc == MDB_KEYEXIST && (flags & MDB_APPEND))	/* not the last key after all */
		mrc = mdb_put(t->txn, t->st->dbi[db], &key, &val, MDB_RESERVE);
	rc = store_mdb_rc(t, mrc, "reserve");
	if (rc == STORE_OK)
		*p_out = val.mv_data;
	if (t->wal != NULL && rc == STORE_OK)
		t->wal->rsv = val.mv_data;	/* copied once the op has filled it */
	return wal_undo_if_failed(t, mark, rc);
}

enum store_rc
store_db_reserve(struct store_txn *t, enum store_db db, const void *k, size_t klen,
    size_t vlen, uint8_t **p_out)
{
	return db_reserve(t, db, k, klen, vlen, 0, p_out);
}

/*
 * LMDB splits a full page in the middle, and for values of a kilobyte or
 * two that leaves every page of a sequentially filled tree half empty
 * (two 1 KiB summaries a page). Appending splits at the new key instead,
 * so each page is left as full as it got: a third fewer summary pages,
 * written and kept.
 */
enum store_rc
store_db_reserve_last(struct store_txn *t, enum store_db db, const void *k, size_t klen,
    size_t vlen, uint8_t **p_out)
{
	return db_reserve(t, db, k, klen, vlen, MDB_APPEND, p_out);
}

enum store_rc
store_db_del(struct store_txn *t, enum store_db db, const void *k, size_t klen)
{
	MDB_val key = { klen, (void *)(uintptr_t)k };
	size_t mark = t->wal != NULL ? t->wal->len : 0;
	enum store_rc rc;

	if (!t->write)
		return STORE_INVALID;
	if (t->wal != NULL)
		store_walbuf_del(t->wal, db, k, klen);
	rc = store_mdb_rc(t, mdb_del(t->txn, t->st->dbi[db], &key, NULL), "del");
	return wal_undo_if_failed(t, mark, rc);
}

enum store_rc
store_cursor_open(struct store_txn *t, enum store_db db, MDB_cursor **c_out)
{
	return store_mdb_rc(t, mdb_cursor_open(t->txn, t->st->dbi[db], c_out), "cursor");
}

bool
store_key_has_prefix(const MDB_val *k, const void *prefix, size_t len)
{
	return k->mv_size >= len && memcmp(k->mv_data, prefix, len) == 0;
}

/* ---- meta counters ---- */

enum store_rc
store_meta_get(struct store_txn *t, const char *name, uint64_t *out)
{
	struct store_rbuf r;
	enum store_rc rc;
	MDB_val v;

	*out = 0;
	rc = store_db_get(t, STORE_DB_META, name, strlen(name), &v);
	if (rc != STORE_OK)
		return rc;
	store_rb_init(&r, v.mv_data, v.mv_size);
	*out = store_rb_u64(&r);
	if (!store_rb_done(&r)) {
		log_error("store", "event=corrupt db=meta key=%s", name);
		return STORE_CORRUPT;
	}
	return STORE_OK;
}

enum store_rc
store_meta_set(struct store_txn *t, const char *name, uint64_t v)
{
	uint8_t buf[9];
	struct store_wbuf w;

	store_wb_init(&w, buf, sizeof buf);
	store_wb_u64(&w, v);
	return store_db_put(t, STORE_DB_META, name, strlen(name), buf, w.len);
}

enum store_rc
store_meta_next(struct store_txn *t, const char *name, uint64_t *out)
{
	enum store_rc rc = store_meta_get(t, name, out);

	if (rc == STORE_NOTFOUND) {
		*out = 1;	/* ids start at 1; 0 means "none" in the API */
		rc = STORE_OK;
	}
	if (rc != STORE_OK)
		return rc;
	return store_meta_set(t, name, *out + 1);
}

enum store_rc
store_meta_add(struct store_txn *t, const char *name, int64_t delta)
{
	uint64_t v;
	enum store_rc rc = store_meta_get(t, name, &v);

	if (rc == STORE_NOTFOUND)
		rc = STORE_OK;
	if (rc != STORE_OK)
		return rc;
	/* A counter never goes below 0, even if a record was lost. */
	if (delta < 0 && (uint64_t)-delta > v)
		v = 0;
	else
		v += (uint64_t)delta;
	return store_meta_set(t, name, v);
}

/* ---- change sets ---- */

static void
idset_add(struct store_idset *s, uint64_t id)
{
	size_t i;

	/* Most ops touch one or two ids: a short look back keeps sets small;
	 * the writer sorts and dedupes before the hook sees them. */
	for (i = s->n; i > 0 && s->n - i < 8; i--)
		if (s->v[i - 1] == id)
			return;
	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 16 : s->cap * 2;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
	}
	s->v[s->n++] = id;
}

void
store_note_mailbox(struct store_txn *t, uint64_t id)
{
	if (t->mboxes != NULL)
		idset_add(t->mboxes, id);
}

void
store_note_account(struct store_txn *t, uint64_t id)
{
	if (t->accts != NULL)
		idset_add(t->accts, id);
}
