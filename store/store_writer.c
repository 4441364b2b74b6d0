/*
 * store_writer.c: the one writer thread and its group commit.
 *
 * Callers queue operations (store_write, store_write_wait). The writer
 * takes everything queued (up to STORE_BATCH_OPS), runs the ops in one
 * write transaction, commits once (one fsync for the whole batch) and
 * only then tells the callers. An op that fails must leave nothing
 * behind: most fail before they write, and cost nothing; one that fails
 * after writing has the batch run again with each op in a nested
 * transaction, which undoes only its own changes. While a commit is
 * flushing, new ops queue up and form the next batch: the more
 * concurrent writers, the more ops share each fsync.
 *
 * A full map aborts the batch, grows the map (doubling, up to max_size)
 * and runs the same ops again (ops are re-runnable by contract). When the
 * map cannot grow, the op that found it full gets STORE_TEMPFAIL and the
 * rest of the batch runs again without it; a failed commit (ENOSPC, EIO)
 * gives every op of the batch STORE_TEMPFAIL. Earlier commits are never
 * at risk: LMDB is copy-on-write.
 */
#define _GNU_SOURCE	/* syscall */
#include "store/store_private.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gateway/gw_log.h"

struct store_wop {
	struct store_wop	*next;
	store_op_fn		*op;
	void			*arg;
	store_done_fn		*done;		/* async: run on the loop */
	void			(*release)(void *arg);	/* detached: run on the writer */
	enum store_rc		 rc;
	bool			 sync;		/* a store_write_wait() caller waits */
	_Atomic bool		 answered;	/* sync: the caller may go */
	bool			 skip;		/* decided TEMPFAIL: do not run again */
	bool			 lazy;		/* may wait STORE_LAZY_US for company */
};

struct batch {
	struct store_wop	*ops[STORE_BATCH_OPS];
	size_t			 n;		/* taken from the queue */
	size_t			 limit;		/* ops to try (a huge batch is cut) */
	size_t			 cut;		/* ops in the commit; the rest go back */
	size_t			 want;		/* the last batch's size */
	bool			 gathering;	/* batch_more may add ops */
	bool			 nested;	/* each op in its own child transaction */
	struct timespec		 deadline;	/* of the group window */
	struct store_idset	 mboxes, accts;
	struct store_walbuf	 wal;		/* the batch's log record */
	uint64_t		 commit_us;
};

enum batch_result { BATCH_DONE, BATCH_GROW, BATCH_RESIZED, BATCH_FAIL, BATCH_SHRINK,
	BATCH_NEST };

/* op_run's answer when a failed op wrote something that only a nested
 * run can undo (not an LMDB code: those are negative). */
#define OP_UNDO		1

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- queueing ---- */

static void
enqueue(struct store *st, struct store_wop *w)
{
	pthread_mutex_lock(&st->mu);
	w->next = NULL;
	if (!w->lazy)
		st->nurgent++;
	else if (st->nqueued == st->nurgent)
		st->lazy_since = mono_us();	/* the first lazy op waiting */
	if (st->tail != NULL)
		st->tail->next = w;
	else
		st->head = w;
	st->tail = w;
	st->nqueued++;
	pthread_cond_signal(&st->work_cv);
	pthread_mutex_unlock(&st->mu);
}

/* Put ops back at the front, in order (they did not fit in the batch). */
static void
requeue_front(struct store *st, struct store_wop **ops, size_t n)
{
	size_t i;

	pthread_mutex_lock(&st->mu);
	st->lazy_since = 0;			/* what was cut goes in the next commit */
	for (i = n; i > 0; i--) {
		st->nurgent += !ops[i - 1]->lazy;
		ops[i - 1]->next = st->head;
		st->head = ops[i - 1];
		if (st->tail == NULL)
			st->tail = ops[i - 1];
	}
	st->nqueued += n;
	pthread_mutex_unlock(&st->mu);
}

/* A CLOCK_REALTIME deadline us from now, for pthread_cond_timedwait. */
static struct timespec
deadline_in(uint64_t us)
{
	struct timespec d;

	clock_gettime(CLOCK_REALTIME, &d);
	d.tv_sec += (time_t)(us / 1000000u);
	d.tv_nsec += (long)(us % 1000000u) * 1000;
	if (d.tv_nsec >= 1000000000L) {
		d.tv_sec++;
		d.tv_nsec -= 1000000000L;
	}
	return d;
}

/*
 * Lazy ops (a login's audit record and last-login time) wait up to
 * STORE_LAZY_US for an urgent op to share its commit, or for each other:
 * a thousand clients reconnecting after a restart then cost a few fsyncs,
 * not two thousand, at the price of up to 250 ms of login
 * records on a crash.
 */
static void
lazy_wait(struct store *st)
{
	uint64_t due = st->lazy_since + STORE_LAZY_US, now;
	struct timespec deadline;
	int rc = 0;

	now = mono_us();
	if (st->lazy_since == 0 || now >= due)
		return;
	deadline = deadline_in(due - now);
	while (st->nurgent == 0 && !st->stopping && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&st->work_cv, &st->mu, &deadline);
}

/* Move what is queued into the batch; under st->mu. */
static size_t
take_locked(struct store *st, struct batch *b)
{
	struct store_wop *w;
	size_t n0 = b->n;

	while (b->n < STORE_BATCH_OPS && (w = st->head) != NULL) {
		st->head = w->next;
		if (st->head == NULL)
			st->tail = NULL;
		w->skip = false;
		st->nurgent -= !w->lazy;
		b->ops[b->n++] = w;
	}
	st->nqueued -= b->n - n0;
	b->limit = b->n;
	return b->n - n0;
}

/*
 * The group window. Without it, 2N producers that each wait for their
 * commit settle into two cohorts of N that alternate (one in the commit,
 * one queueing for the next), and every commit carries half of them.
 * So a batch smaller than the last one waits a little for the rest (at
 * most as long as the last commit took, and STORE_GROUP_WAIT_US): the
 * cohorts merge and each fsync carries all of them. A lone writer (last
 * batch of one) never waits. batch_take starts the batch with what is
 * queued; batch_more, called by the first run of a batch whenever it has
 * run every op it holds, brings in the latecomers, so the early ops run
 * while the rest of the group is still on its way.
 */
static bool
batch_take(struct store *st, struct batch *b)
{
	uint64_t window = SG_MIN(b->commit_us, (uint64_t)STORE_GROUP_WAIT_US);

	b->want = SG_MIN(b->cut, (size_t)STORE_BATCH_OPS);
	pthread_mutex_lock(&st->mu);
	while (st->head == NULL && !st->stopping)
		pthread_cond_wait(&st->work_cv, &st->mu);
	if (st->nurgent == 0)
		lazy_wait(st);
	b->n = 0;
	b->nested = false;
	take_locked(st, b);
	pthread_mutex_unlock(&st->mu);
	b->gathering = b->n < b->want && window > 0;
	if (b->gathering)
		b->deadline = deadline_in(window);
	return b->n > 0;
}

/* More ops for a short batch, waiting for them until the group window
 * closes. False when the batch is complete. */
static bool
batch_more(struct store *st, struct batch *b)
{
	size_t n0 = b->limit;
	int rc = 0;

	if (!b->gathering)
		return false;
	pthread_mutex_lock(&st->mu);
	while (st->head == NULL && b->n < b->want && !st->stopping && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&st->work_cv, &st->mu, &b->deadline);
	take_locked(st, b);
	pthread_mutex_unlock(&st->mu);
	b->gathering = b->n < b->want && rc != ETIMEDOUT && !st->stopping &&
	    b->n < STORE_BATCH_OPS;
	return b->limit > n0;
}

/* ---- running a batch ---- */

static bool
op_full(int mdb_err)
{
	return mdb_err == MDB_MAP_FULL || mdb_err == MDB_TXN_FULL;
}

/* A nested op's end: its changes go into the parent, or go. */
static void
op_nested_end(struct store_txn *t, struct store_wop *w)
{
	int mrc;

	if (w->rc != STORE_OK)
		mdb_txn_abort(t->txn);
	else if ((mrc = mdb_txn_commit(t->txn)) != 0)
		w->rc = store_mdb_rc(t, mrc, "commit_nested");
}

/*
 * One op. Straight in the batch's transaction at first: a nested
 * transaction gets a dirty page list of its own from LMDB, later merged
 * into its parent's, and running without them gained about 6 % in
 * bench/store's 16 x 4 KiB row. An op that fails having written (or that
 * hit an LMDB error, which may leave the transaction unable to commit)
 * cannot be undone there: OP_UNDO has the batch run again nested, where
 * each op's changes go with it. Returns an LMDB code that needs the whole
 * batch redone, OP_UNDO, or 0.
 */
static int
op_run(struct store *st, MDB_txn *parent, struct store_wop *w, struct batch *b,
    uint64_t *bytes)
{
	struct store_txn t = { .st = st, .now = sg_now(), .write = true, .txn = parent,
	    .mboxes = &b->mboxes, .accts = &b->accts, .wal = &b->wal };
	size_t nm = b->mboxes.n, na = b->accts.n, logged = b->wal.len;
	bool undo;
	int mrc;

	if (b->nested && (mrc = mdb_txn_begin(st->env, parent, 0, &t.txn)) != 0) {
		w->rc = store_mdb_rc(&t, mrc, "begin_nested");
		return op_full(mrc) ? mrc : 0;
	}
	w->rc = w->op(&t, w->arg);
	free(t.scratch);
	undo = !b->nested && (t.mdb_err != 0 || (w->rc != STORE_OK && b->wal.len != logged));
	if (op_full(t.mdb_err) || undo) {
		if (b->nested)
			mdb_txn_abort(t.txn);
		b->wal.rsv = NULL;
		return op_full(t.mdb_err) ? t.mdb_err : OP_UNDO;
	}
	store_walbuf_settle(&b->wal);
	if (b->nested)
		op_nested_end(&t, w);
	if (w->rc != STORE_OK) {
		b->mboxes.n = nm;	/* a failed op changed nothing */
		b->accts.n = na;
		store_walbuf_truncate(&b->wal, logged);
	} else {
		store_walbuf_checksum(&b->wal);
		*bytes += t.bytes;
	}
	return op_full(t.mdb_err) ? t.mdb_err : 0;
}

/* Run the ops [0, limit), and on a first run the latecomers batch_more
 * brings, then commit. *full_op is the op that found the map
 * (or the transaction) full, or -1. */
static enum batch_result
batch_try(struct store *st, struct batch *b, long *full_op)
{
	uint64_t bytes = 0, t0;
	MDB_txn *parent;
	size_t i;
	int mrc;

	b->mboxes.n = b->accts.n = 0;
	store_walbuf_reset(&b->wal);
	b->cut = b->limit;
	*full_op = -1;
	store_maplock_rd(&st->maplock);
	if ((mrc = mdb_txn_begin(st->env, NULL, 0, &parent)) != 0) {
		store_maplock_rd_end(&st->maplock);
		if (mrc == MDB_MAP_RESIZED)
			return BATCH_RESIZED;
		log_error("store", "event=batch_begin error=\"%s\"", mdb_strerror(mrc));
		return BATCH_FAIL;
	}
	for (i = 0; i < b->limit || batch_more(st, b); i++) {
		if (b->ops[i]->skip) {
			b->ops[i]->rc = STORE_TEMPFAIL;
			continue;
		}
		if ((mrc = op_run(st, parent, b->ops[i], b, &bytes)) != 0) {
			mdb_txn_abort(parent);
			store_maplock_rd_end(&st->maplock);
			*full_op = (long)i;
			return mrc == OP_UNDO ? BATCH_NEST : mrc == MDB_MAP_FULL ? BATCH_GROW :
			    BATCH_SHRINK;
		}
		/* Dirty pages live in memory until the commit: bound them. */
		if (bytes >= STORE_BATCH_BYTES) {
			b->gathering = false;
			if (i + 1 < b->limit) {
				b->cut = i + 1;
				break;
			}
		}
	}
	if (i >= b->limit)
		b->cut = b->limit;
	t0 = mono_us();
	mrc = store_wal_commit(st, parent, &b->wal);
	b->commit_us = mono_us() - t0;
	store_maplock_rd_end(&st->maplock);
	if (mrc == MDB_MAP_FULL)
		return BATCH_GROW;
	if (mrc != 0) {
		log_error("store", "event=commit_failed ops=%zu error=\"%s\"", b->cut,
		    mdb_strerror(mrc));
		return BATCH_FAIL;
	}
	return BATCH_DONE;
}

static void
batch_fail(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->cut; i++)
		b->ops[i]->rc = STORE_TEMPFAIL;
}

/* Returns true when something was committed. */
static bool
batch_run(struct store *st, struct batch *b)
{
	enum batch_result r;
	long full_op;

	for (;;) {
		r = batch_try(st, b, &full_op);
		b->gathering = false;	/* a batch run again runs the same ops */
		switch (r) {
		case BATCH_DONE:
			return true;
		case BATCH_RESIZED:
			if (store_map_adopt(st) == 0)
				continue;
			break;
		case BATCH_GROW:
			if (store_map_grow(st) == 0)
				continue;
			if (full_op < 0)
				break;
			/* This op does not fit: fail it alone, run the others again. */
			b->ops[full_op]->skip = true;
			continue;
		case BATCH_SHRINK:
			/* Too many dirty pages for one transaction: commit the ops
			 * before this one, the rest go to the next batch. */
			if (full_op > 0)
				b->limit = (size_t)full_op;
			else
				b->ops[0]->skip = true;
			continue;
		case BATCH_NEST:
			b->nested = true;	/* the same ops, each undoable alone */
			continue;
		case BATCH_FAIL:
			break;
		}
		b->cut = b->limit;
		batch_fail(b);
		return false;
	}
}

/* ---- completions ---- */

static void
wop_complete(void *arg)
{
	struct store_wop *w = arg;

	w->done(w->arg, w->rc);
	free(w);
}

/*
 * The callers waiting in store_write_wait sleep on one futex word, and one
 * wake lets all of a batch's go. A semaphore each cost the writer a
 * system call per caller, and each could hand the woken caller the
 * writer's CPU halfway through the batch (bench/store's 16 producers: the
 * wake-up step took twice as long). A caller of a later batch woken with
 * them finds its op unanswered and sleeps again.
 */
static long
futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static void
answer_waiters(struct store *st)
{
	atomic_fetch_add_explicit(&st->answered, 1, memory_order_release);
	futex(&st->answered, FUTEX_WAKE_PRIVATE, INT_MAX);
}

static void
wait_answer(struct store *st, struct store_wop *w)
{
	uint32_t seen;

	for (;;) {
		seen = atomic_load_explicit(&st->answered, memory_order_acquire);
		if (atomic_load_explicit(&w->answered, memory_order_acquire))
			return;
		/* Returns at once if a batch was answered since `seen`. */
		futex(&st->answered, FUTEX_WAIT_PRIVATE, seen);
	}
}

/* Completions go out in queue order: async ones are posted before the
 * waiting callers of the same batch wake up, so a caller that returns from
 * store_write_wait() knows everything queued before it was delivered. */
static void
batch_deliver(struct store *st, struct batch *b)
{
	store_post_fn *post;
	void *post_ctx;
	struct store_wop *w;
	bool waiters;
	size_t i;

	pthread_mutex_lock(&st->mu);
	post = st->post;
	post_ctx = st->post_ctx;
	pthread_mutex_unlock(&st->mu);
	for (i = 0; i < b->cut; i++) {
		w = b->ops[i];
		if (w->sync)
			continue;
		b->ops[i] = NULL;	/* freed below, or by the loop */
		if (w->release != NULL) {
			w->release(w->arg);
			free(w);
		} else if (w->done == NULL) {
			free(w);
		} else if (post != NULL) {
			post(post_ctx, wop_complete, w);
		} else {
			wop_complete(w);	/* no loop (admin commands, tests) */
		}
	}
	for (i = 0, waiters = false; i < b->cut; i++) {
		if (b->ops[i] != NULL) {
			/* The caller's from here on: not touched again. */
			atomic_store_explicit(&b->ops[i]->answered, true, memory_order_release);
			waiters = true;
		}
	}
	if (waiters)
		answer_waiters(st);
}

static int
id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t
idset_unique(struct store_idset *s)
{
	size_t i, n = 0;

	if (s->n > 1)
		qsort(s->v, s->n, sizeof *s->v, id_cmp);
	for (i = 0; i < s->n; i++)
		if (n == 0 || s->v[n - 1] != s->v[i])
			s->v[n++] = s->v[i];
	return s->n = n;
}

static void
batch_notify(struct store *st, struct batch *b)
{
	struct store_changes ch;
	store_change_fn *fn;
	void *ctx;

	pthread_mutex_lock(&st->mu);
	fn = st->change_fn;
	ctx = st->change_ctx;
	pthread_mutex_unlock(&st->mu);
	if (fn == NULL)
		return;
	ch.nmailboxes = idset_unique(&b->mboxes);
	ch.mailboxes = b->mboxes.v;
	ch.naccounts = idset_unique(&b->accts);
	ch.accounts = b->accts.v;
	ch.commit_us = b->commit_us;
	ch.ops = (unsigned)b->cut;
	fn(ctx, &ch);
}

static void *
writer_main(void *arg)
{
	struct store *st = arg;
	struct batch *b = xcalloc(1, sizeof *b);
	sigset_t all;
	bool committed;

	/* Signals are the loop thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (batch_take(st, b)) {
		committed = batch_run(st, b);
		batch_deliver(st, b);
		if (b->cut < b->n)
			requeue_front(st, b->ops + b->cut, b->n - b->cut);
		if (committed)
			batch_notify(st, b);
		store_wal_writeback(st);
	}
	free(b->mboxes.v);
	free(b->accts.v);
	store_walbuf_free(&b->wal);
	free(b);
	return NULL;
}

int
store_writer_start(struct store *st)
{
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0)
		return -1;
	st->writer_started = true;
	return 0;
}

void
store_writer_stop(struct store *st)
{
	if (!st->writer_started)
		return;
	pthread_mutex_lock(&st->mu);
	st->stopping = true;	/* the writer drains the queue first */
	pthread_cond_signal(&st->work_cv);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->writer, NULL);
	st->writer_started = false;
}

/* ---- the public verbs ---- */

void
store_set_poster(struct store *st, store_post_fn *post, void *ctx)
{
	pthread_mutex_lock(&st->mu);
	st->post = post;
	st->post_ctx = ctx;
	pthread_mutex_unlock(&st->mu);
}

void
store_set_change_hook(struct store *st, store_change_fn *fn, void *ctx)
{
	pthread_mutex_lock(&st->mu);
	st->change_fn = fn;
	st->change_ctx = ctx;
	pthread_mutex_unlock(&st->mu);
}

void
store_write(struct store *st, store_op_fn *op, store_done_fn *done, void *arg)
{
	struct store_wop *w = xcalloc(1, sizeof *w);

	w->op = op;
	w->done = done;
	w->arg = arg;
	if (st->read_only) {
		w->rc = STORE_INVALID;
		if (done == NULL)
			free(w);
		else if (st->post != NULL)
			st->post(st->post_ctx, wop_complete, w);
		else
			wop_complete(w);
		return;
	}
	enqueue(st, w);
}

static void
detached(struct store *st, store_op_fn *op, void *arg, void (*release)(void *), bool lazy)
{
	struct store_wop *w;

	if (st->read_only) {
		release(arg);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->op = op;
	w->arg = arg;
	w->release = release;
	w->lazy = lazy;
	enqueue(st, w);
}

void
store_write_detached(struct store *st, store_op_fn *op, void *arg, void (*release)(void *))
{
	detached(st, op, arg, release, false);
}

void
store_write_lazy(struct store *st, store_op_fn *op, void *arg, void (*release)(void *))
{
	detached(st, op, arg, release, true);
}

enum store_rc
store_write_wait(struct store *st, store_op_fn *op, void *arg)
{
	struct store_wop w = { .op = op, .arg = arg, .sync = true };

	if (st->read_only)
		return STORE_INVALID;
	/* From inside an op this would wait for itself. */
	SG_ASSERT(!pthread_equal(pthread_self(), st->writer));
	enqueue(st, &w);
	wait_answer(st, &w);
	return w.rc;
}
