/*
 * test_store_commit.c: the writer: group commit (16 threads share
 * commits; a waiting caller goes only once its own write committed;
 * writes that arrive while a batch runs join it; an op that fails
 * in a batch leaves nothing behind, the others commit), lazy writes (wait for company, never past 250 ms, never
 * delaying an urgent write, flushed at close), a full map (temporary failure, earlier data intact, never a
 * crash), a map that grows (also under a live reader), and a map grown by
 * another process (MDB_MAP_RESIZED).
 */
#include "store_test.h"

#include <semaphore.h>
#include <sys/wait.h>
#include <time.h>

#define THREADS		16
#define PER_THREAD	25
#define BIG		(64 * 1024)

struct counter {
	pthread_mutex_t	mu;
	unsigned	commits, ops, max_ops;
};

static void
count_hook(void *ctx, const struct store_changes *ch)
{
	struct counter *c = ctx;

	pthread_mutex_lock(&c->mu);
	c->commits++;
	c->ops += ch->ops;
	if (ch->ops > c->max_ops)
		c->max_ops = ch->ops;
	pthread_mutex_unlock(&c->mu);
}

struct producer {
	struct store		*st;
	struct store_account	 a;
	uint64_t		 inbox;
	int			 fails;
};

static void *
producer(void *arg)
{
	struct producer *p = arg;
	struct t_sealed s;
	struct t_append ap = { .s = &s, .account_id = p->a.id, .mailbox_id = p->inbox };
	int i;

	t_seal(&s, p->a.pk, "group commit message", 20, "sum", 3);
	for (i = 0; i < PER_THREAD; i++)
		if (store_write_wait(p->st, t_append_op, &ap) != STORE_OK)
			p->fails++;
	t_sealed_free(&s);
	return NULL;
}

static void
test_group_commit(void **state)
{
	struct t_fx *fx = *state;
	struct counter c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct producer p[THREADS];
	pthread_t th[THREADS];
	struct store_account a = t_invite(fx->st, "gc@example.org", NULL);
	uint64_t inbox = t_mbox_id(fx->st, a.id, "INBOX");
	struct store_mailbox m;
	unsigned commits, ops;
	int i;

	store_set_change_hook(fx->st, count_hook, &c);
	for (i = 0; i < THREADS; i++) {
		p[i] = (struct producer){ .st = fx->st, .a = a, .inbox = inbox };
		CHECK(pthread_create(&th[i], NULL, producer, &p[i]) == 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK(p[i].fails == 0);
	}
	t_barrier(fx->st);	/* the last batch's hook has run */
	store_set_change_hook(fx->st, NULL, NULL);
	pthread_mutex_lock(&c.mu);
	commits = c.commits;
	ops = c.ops;
	pthread_mutex_unlock(&c.mu);
	print_message("# %u appends in %u commits (largest batch %u ops)\n",
	    THREADS * PER_THREAD, commits, c.max_ops);
	CHECK(ops >= THREADS * PER_THREAD);
	CHECK(commits < THREADS * PER_THREAD);
	m = t_mbox(fx->st, inbox);
	CHECK(m.messages == THREADS * PER_THREAD && m.uidnext == THREADS * PER_THREAD + 1);
}

/* ---- waiting callers ---- */

#define WAITERS		12
#define WAITS_EACH	40

struct waiter {
	struct store		*st;
	struct store_account	 a;
	uint64_t		 inbox;
	int			 early, fails;
};

/*
 * Every return from store_write_wait is checked against a fresh read
 * transaction: the caller's own message must be there. One wake lets all
 * of a batch's callers go, and callers of the next batch wake with them:
 * one that took that for its own answer would find its message missing.
 */
static void *
waiter(void *arg)
{
	struct waiter *w = arg;
	struct t_sealed s;
	struct t_append ap = { .s = &s, .account_id = w->a.id, .mailbox_id = w->inbox };
	struct store_txn *t;
	struct store_msg m;
	enum store_rc rc;
	int i;

	t_seal(&s, w->a.pk, "waiting", 7, "sum", 3);
	for (i = 0; i < WAITS_EACH; i++) {
		if (store_write_wait(w->st, t_append_op, &ap) != STORE_OK) {
			w->fails++;
			continue;
		}
		if ((t = store_read_begin(w->st, &rc)) == NULL) {
			w->fails++;
			continue;
		}
		if (store_msg_get(t, w->inbox, ap.out.uid, &m) != STORE_OK)
			w->early++;
		store_read_end(&t);
	}
	t_sealed_free(&s);
	return NULL;
}

/* A slow op now and then keeps a batch busy while the next one queues. */
static enum store_rc
slow_op(struct store_txn *t, void *arg)
{
	(void)t;
	(void)arg;
	nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	return STORE_OK;
}

static void
test_waiters_go_after_their_commit(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "wait@example.org", NULL);
	uint64_t inbox = t_mbox_id(fx->st, a.id, "INBOX");
	struct waiter w[WAITERS];
	pthread_t th[WAITERS];
	int i, early = 0;

	for (i = 0; i < WAITERS; i++) {
		w[i] = (struct waiter){ .st = fx->st, .a = a, .inbox = inbox };
		CHECK(pthread_create(&th[i], NULL, waiter, &w[i]) == 0);
	}
	for (i = 0; i < 20; i++) {
		store_write(fx->st, slow_op, NULL, NULL);
		nanosleep(&(struct timespec){ 0, 3000000 }, NULL);
	}
	for (i = 0; i < WAITERS; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].fails == 0);
		early += w[i].early;
	}
	CHECK(early == 0);
	CHECK(t_mbox(fx->st, inbox).messages == WAITERS * WAITS_EACH);
}

/* ---- latecomers ---- */

/* An append that tells the test it runs, then waits for its word: the
 * test queues other writes while the writer is inside a batch. */
struct gate {
	sem_t			 running, go;
	struct t_append		 ap;
};

static enum store_rc
gate_op(struct store_txn *t, void *arg)
{
	struct gate *g = arg;

	sem_post(&g->running);
	while (sem_wait(&g->go) != 0)
		;
	return t_append_op(t, &g->ap);
}

static unsigned
wait_ops(struct counter *c, unsigned ops)
{
	unsigned n, i;

	for (i = 0; i < 2000; i++) {
		pthread_mutex_lock(&c->mu);
		n = c->ops;
		pthread_mutex_unlock(&c->mu);
		if (n >= ops)
			break;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return n;
}

/* Run g's op with late appends queued while it runs, and wait for
 * their commits' hooks. */
static void
gate_batch(struct store *st, struct counter *c, struct gate *g, struct t_append *late,
    int nlate)
{
	int i;

	pthread_mutex_lock(&c->mu);
	c->commits = c->ops = c->max_ops = 0;
	pthread_mutex_unlock(&c->mu);
	store_write(st, gate_op, NULL, g);
	while (sem_wait(&g->running) != 0)
		;
	for (i = 0; i < nlate; i++)
		store_write(st, t_append_op, NULL, &late[i]);
	sem_post(&g->go);
	/* A hook of the write before may still come in (it runs after its
	 * waiter was let go): at least, not exactly. */
	CHECK(wait_ops(c, (unsigned)nlate + 1) >= (unsigned)nlate + 1);
}

/*
 * A batch starts running its first ops while the rest of its group is
 * still arriving, and takes them into the same commit: the writes a
 * batch's first op is still running for join it (before, the batch was
 * fixed when it began and they waited for the next commit).
 */
static void
test_latecomers_join_a_running_batch(void **state)
{
	struct t_fx *fx = *state;
	struct counter c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct store_account a = t_invite(fx->st, "late@example.org", NULL);
	struct t_append late[4];
	struct t_sealed s;
	struct gate g;
	int i;

	t_seal(&s, a.pk, "late message", 12, "sum", 3);
	g.ap = (struct t_append){ .s = &s, .account_id = a.id,
	    .mailbox_id = t_mbox_id(fx->st, a.id, "INBOX") };
	for (i = 0; i < 4; i++)
		late[i] = g.ap;
	sem_init(&g.running, 0, 0);
	sem_init(&g.go, 0, 0);
	store_set_change_hook(fx->st, count_hook, &c);
	/* The four queued while the first op runs make a batch of four
	 * (or join it): the writer now expects groups of at least four. */
	gate_batch(fx->st, &c, &g, late, 4);
	CHECK(c.max_ops >= 4);
	/* So three latecomers join the gate's batch: one commit of four. */
	gate_batch(fx->st, &c, &g, late, 3);
	pthread_mutex_lock(&c.mu);
	print_message("# gate and 3 latecomers: %u commit(s), largest %u ops\n", c.commits,
	    c.max_ops);
	CHECK(c.max_ops == 4 && c.commits == 1);
	pthread_mutex_unlock(&c.mu);
	store_set_change_hook(fx->st, NULL, NULL);
	CHECK(t_mbox(fx->st, g.ap.mailbox_id).messages == 9);
	sem_destroy(&g.running);
	sem_destroy(&g.go);
	t_sealed_free(&s);
}

/* ---- failed ops ---- */

/* Ops that count their runs: an append that then fails (it wrote, so
 * its write must be undone), one that fails before writing, and a gate
 * that holds the batch open the first time it runs. */
struct mixed {
	struct t_append	 ap;
	sem_t		 running, go;
	int		 gate_runs, half_runs, early_runs;
	enum store_rc	 half_rc, early_rc;
};

static enum store_rc
mixed_gate_op(struct store_txn *t, void *arg)
{
	struct mixed *x = arg;

	if (x->gate_runs++ == 0) {
		sem_post(&x->running);
		while (sem_wait(&x->go) != 0)
			;
	}
	return t_append_op(t, &x->ap);
}

static enum store_rc
half_op(struct store_txn *t, void *arg)
{
	struct mixed *x = arg;

	x->half_runs++;
	CHECK_RC(t_append_op(t, &x->ap), STORE_OK);
	return STORE_LIMIT;
}

static enum store_rc
early_op(struct store_txn *t, void *arg)
{
	struct mixed *x = arg;

	(void)t;
	x->early_runs++;
	return STORE_NOTFOUND;
}

static void
half_done(void *arg, enum store_rc rc)
{
	((struct mixed *)arg)->half_rc = rc;
}

static void
early_done(void *arg, enum store_rc rc)
{
	((struct mixed *)arg)->early_rc = rc;
}

/*
 * Ops share one transaction, not one nested transaction each. A failed
 * op must still leave nothing behind: one that fails before writing just
 * fails; one that fails after writing has the batch run again with each op
 * nested. Either way the appends around it in the same commit stay.
 */
static void
test_failed_op_in_a_batch_leaves_nothing(void **state)
{
	struct t_fx *fx = *state;
	struct counter c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct store_account a = t_invite(fx->st, "mixed@example.org", NULL);
	struct t_append late[4];
	struct t_sealed s;
	struct gate g;
	struct mixed x = { .half_rc = STORE_OK, .early_rc = STORE_OK };
	int i;

	t_seal(&s, a.pk, "mixed batch", 11, "sum", 3);
	x.ap = g.ap = (struct t_append){ .s = &s, .account_id = a.id,
	    .mailbox_id = t_mbox_id(fx->st, a.id, "INBOX") };
	for (i = 0; i < 4; i++)
		late[i] = g.ap;
	sem_init(&g.running, 0, 0);
	sem_init(&g.go, 0, 0);
	sem_init(&x.running, 0, 0);
	sem_init(&x.go, 0, 0);
	store_set_change_hook(fx->st, count_hook, &c);
	gate_batch(fx->st, &c, &g, late, 4);	/* the writer expects groups of four */
	CHECK(t_mbox(fx->st, x.ap.mailbox_id).messages == 5);

	pthread_mutex_lock(&c.mu);
	c.commits = c.ops = c.max_ops = 0;
	pthread_mutex_unlock(&c.mu);
	store_write(fx->st, mixed_gate_op, NULL, &x);
	while (sem_wait(&x.running) != 0)
		;
	store_write(fx->st, t_append_op, NULL, &late[0]);
	store_write(fx->st, early_op, early_done, &x);
	store_write(fx->st, half_op, half_done, &x);
	store_write(fx->st, t_append_op, NULL, &late[1]);
	sem_post(&x.go);
	CHECK(wait_ops(&c, 5) >= 5);
	t_barrier(fx->st);
	store_set_change_hook(fx->st, NULL, NULL);

	CHECK(x.half_rc == STORE_LIMIT && x.early_rc == STORE_NOTFOUND);
	/* The gate and the two appends; the failed op's append is gone. */
	CHECK(t_mbox(fx->st, x.ap.mailbox_id).messages == 8);
	CHECK(t_mbox(fx->st, x.ap.mailbox_id).uidnext == 9);
	pthread_mutex_lock(&c.mu);
	print_message("# mixed batch: largest commit %u ops; half op ran %d times, "
	    "early op %d\n", c.max_ops, x.half_runs, x.early_runs);
	CHECK(c.max_ops == 5);
	pthread_mutex_unlock(&c.mu);
	/* Flat, then nested (it wrote before failing); the rest ran again too. */
	CHECK(x.half_runs == 2 && x.gate_runs == 2 && x.early_runs == 2);
	sem_destroy(&g.running);
	sem_destroy(&g.go);
	sem_destroy(&x.running);
	sem_destroy(&x.go);
	t_sealed_free(&s);
}

/* ---- lazy writes ---- */

static int
count_audit(void *arg, const struct store_audit *a)
{
	(*(int *)arg) += strcmp(a->event, "login") == 0;
	return 0;
}

static int
logins(struct store *st)
{
	struct store_txn *t;
	enum store_rc rc;
	int n = 0;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_audit_list(t, 0, NULL, count_audit, &n), STORE_OK);
	store_read_end(&t);
	return n;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A login storm: lazy records that trickle in for 40 ms share one commit,
 * which reaches the disk about 250 ms after the first without anything
 * else written; an urgent write takes a waiting one along at once; closing
 * the store writes what is still waiting.
 */
static void
test_lazy_writes_share_commits(void **state)
{
	struct t_fx *fx = *state;
	struct counter c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	double t0 = mono_s();
	int i;

	store_set_change_hook(fx->st, count_hook, &c);
	for (i = 0; i < 20; i++) {
		store_audit_lazy(fx->st, "login", "lazy@example.org", "192.0.2.1", "imap");
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	if (mono_s() - t0 < 0.08)		/* unless this machine is very busy */
		CHECK(logins(fx->st) == 0);	/* still waiting for company */
	while (logins(fx->st) < 20 && mono_s() - t0 < 2)
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	CHECK(logins(fx->st) == 20);
	CHECK(mono_s() - t0 < 0.5);
	pthread_mutex_lock(&c.mu);
	print_message("# 20 lazy records in %u commits\n", c.commits);
	CHECK(c.commits <= 2);			/* one each, without lazy writes */
	pthread_mutex_unlock(&c.mu);

	store_audit_lazy(fx->st, "login", "lazy@example.org", "192.0.2.1", "imap");
	t0 = mono_s();
	t_barrier(fx->st);			/* urgent: does not wait */
	CHECK(mono_s() - t0 < 0.09);
	CHECK(logins(fx->st) == 21);
	store_set_change_hook(fx->st, NULL, NULL);

	store_audit_lazy(fx->st, "login", "lazy@example.org", "192.0.2.1", "imap");
	store_close(&fx->st);
	fx->st = t_open_opts(fx->dir, 0, 0, false);
	CHECK(logins(fx->st) == 22);
}

/* ---- map full and growth ---- */

static int
append_big(struct store *st, const struct store_account *a, uint64_t mbox, int n,
    uint64_t *blobs, int *ok_out)
{
	static char text[BIG + 1];
	struct t_sealed s;
	struct t_append ap = { .s = &s, .account_id = a->id, .mailbox_id = mbox };
	enum store_rc rc = STORE_OK;
	int i, ok = 0, tempfail = 0;

	memset(text, 'b', BIG);
	for (i = 0; i < n; i++) {
		t_seal(&s, a->pk, text, BIG, "s", 1);
		rc = store_write_wait(st, t_append_op, &ap);
		t_sealed_free(&s);
		if (rc == STORE_OK && blobs != NULL)
			blobs[ok] = ap.out.blob_id;
		if (rc == STORE_OK)
			ok++;
		else if (rc == STORE_TEMPFAIL)
			tempfail++;
		else
			fail_msg("append: %s", store_rc_str(rc));
	}
	*ok_out = ok;
	return tempfail;
}

static void
test_map_full_is_tempfail(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "full@example.org", NULL), got;
	uint64_t blobs[64];
	struct store_stats s;
	const uint8_t *ct;
	struct store_txn *t;
	enum store_rc rc;
	int ok, i;
	size_t len;

	store_close(&fx->st);
	fx->st = t_open_opts(fx->dir, 2u << 20, 0, false);	/* 2 MiB, no growth */
	CHECK(append_big(fx->st, &a, t_mbox_id(fx->st, a.id, "INBOX"), 60, blobs, &ok) > 0);
	CHECK(ok > 0 && ok < 60);
	/* Everything committed before is intact and the store still reads. */
	CHECK((t = store_read_begin(fx->st, &rc)) != NULL);
	for (i = 0; i < ok; i++) {
		CHECK_RC(store_blob_get(t, blobs[i], &ct, &len), STORE_OK);
		CHECK(sec_plain_len(len) == BIG);
	}
	CHECK_RC(store_account_get(t, "full@example.org", &got), STORE_OK);
	CHECK_RC(store_stats(t, &s), STORE_OK);
	CHECK(s.messages == (uint64_t)ok && s.map_size == 2u << 20);
	store_read_end(&t);
	CHECK(t_mbox(fx->st, t_mbox_id(fx->st, a.id, "INBOX")).messages == (uint32_t)ok);
	/* Reopened with room to grow, from the same small map: appends work. */
	store_close(&fx->st);
	fx->st = t_open_opts(fx->dir, 64u << 20, 2u << 20, false);
	CHECK(append_big(fx->st, &a, t_mbox_id(fx->st, a.id, "INBOX"), 40, NULL, &i) == 0);
	CHECK(i == 40);
	CHECK((t = store_read_begin(fx->st, &rc)) != NULL);
	CHECK_RC(store_stats(t, &s), STORE_OK);
	CHECK(s.map_size > 2u << 20 && s.map_size <= 64u << 20);
	CHECK(s.messages == (uint64_t)ok + 40);
	store_read_end(&t);
}

struct holder {
	struct store	*st;
	unsigned	 ms;
};

static void *
hold_reader(void *arg)
{
	struct holder *h = arg;
	struct store_txn *t;
	enum store_rc rc;

	CHECK((t = store_read_begin(h->st, &rc)) != NULL);
	t_sleep_ms(h->ms);
	store_read_end(&t);
	return NULL;
}

/* The map grows while another thread holds a read transaction: the resize
 * waits for it (readers pin the old mapping). */
static void
test_map_grows_under_reader(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "grow@example.org", NULL);
	struct holder h = { .ms = 300 };
	pthread_t th;
	int ok;

	store_close(&fx->st);
	fx->st = t_open_opts(fx->dir, 256u << 20, 1u << 20, false);
	h.st = fx->st;
	CHECK(pthread_create(&th, NULL, hold_reader, &h) == 0);
	t_sleep_ms(20);
	CHECK(append_big(fx->st, &a, t_mbox_id(fx->st, a.id, "INBOX"), 40, NULL, &ok) == 0);
	CHECK(ok == 40);
	pthread_join(th, NULL);
}

/* ---- another process grows the map ---- */

static int
grow_child(const char *dir)
{
	struct store *st;
	struct store_account a;
	struct store_txn *t;
	enum store_rc rc;
	int ok;

	if (sec_init() != 0)
		return 2;
	st = t_open_opts(dir, 0, 0, false);
	t = store_read_begin(st, &rc);
	if (t == NULL || store_account_get(t, "proc@example.org", &a) != STORE_OK)
		return 3;
	store_read_end(&t);
	if (append_big(st, &a, t_mbox_id(st, a.id, "INBOX"), 40, NULL, &ok) != 0 || ok != 40)
		return 4;
	store_close(&st);
	return 0;
}

static void
test_map_resized_by_other_process(void **state)
{
	struct t_fx *fx = *state;
	struct store_account a = t_invite(fx->st, "proc@example.org", NULL);
	struct store_mailbox m;
	struct store_txn *t;
	enum store_rc rc;
	int status, ok;
	pid_t pid;

	store_close(&fx->st);
	fx->st = t_open_opts(fx->dir, 1u << 30, 1u << 20, false);	/* a 1 MiB map */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_store_commit", "--grow", fx->dir, (char *)NULL);
		_exit(127);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Our map is smaller than the data now: reads and writes adopt the
	 * size the other process recorded. */
	CHECK((t = store_read_begin(fx->st, &rc)) != NULL);
	CHECK_RC(store_mailbox_get(t, a.id, "INBOX", &m), STORE_OK);
	CHECK(m.messages == 40);
	store_read_end(&t);
	CHECK(append_big(fx->st, &a, m.id, 2, NULL, &ok) == 0 && ok == 2);
	CHECK(t_mbox(fx->st, m.id).messages == 42);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, t_fx_setup, t_fx_teardown)
		T(test_group_commit),
		T(test_waiters_go_after_their_commit),
		T(test_latecomers_join_a_running_batch),
		T(test_failed_op_in_a_batch_leaves_nothing),
		T(test_lazy_writes_share_commits),
		T(test_map_full_is_tempfail),
		T(test_map_grows_under_reader),
		T(test_map_resized_by_other_process),
#undef T
	};

	if (argc == 3 && strcmp(argv[1], "--grow") == 0)
		return grow_child(argv[2]);
	return STORE_TEST_MAIN(tests);
}
