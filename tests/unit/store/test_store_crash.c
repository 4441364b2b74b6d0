/*
 * test_store_crash.c: a child process appends from four threads and
 * writes every message it was told is committed to a pipe; the parent
 * kills it with SIGKILL at a random instant, 20 rounds. After each round
 * the store must open cleanly and every reported message must be there
 * and decrypt to exactly what was sent.
 */
#include "store_test.h"

#include <signal.h>
#include <sys/wait.h>

#define ROUNDS		20
#define CHILD_THREADS	4
#define PW		"crash-test-password"

struct record {
	uint32_t	round, thread, seq, uid;
	uint64_t	blob;
};

struct crash_fx {
	char			*dir;
	struct store_account	 a;
	struct sec_sk		*sk;
	uint64_t		 inbox;
	struct record		*seen;
	size_t			 nseen, cap;
};

/* The message a (round, thread, seq) sends: a header naming it, then
 * 100..20000 bytes of a pattern from the same seed. */
static size_t
message_text(char **out, uint32_t round, uint32_t thread, uint32_t seq)
{
	uint32_t seed = round * 1000003u + thread * 7919u + seq, x = seed | 1;
	size_t head, pad = 100 + seed % 19901, i;
	char *p = xmalloc(64 + pad);

	head = (size_t)snprintf(p, 64, "Subject: crash %u/%u/%u\r\n\r\n", round, thread, seq);
	for (i = 0; i < pad; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[head + i] = (char)('a' + x % 26);
	}
	*out = p;
	return head + pad;
}

struct child {
	struct store		*st;
	const struct crash_fx	*fx;
	uint32_t		 round, thread;
	int			 fd;
};

static void *
child_thread(void *arg)
{
	struct child *c = arg;
	struct t_sealed s;
	struct t_append ap = { .s = &s, .account_id = c->fx->a.id,
	    .mailbox_id = c->fx->inbox };
	struct record r = { .round = c->round, .thread = c->thread };
	char *text;
	size_t len;

	for (r.seq = 0;; r.seq++) {
		len = message_text(&text, c->round, c->thread, r.seq);
		t_seal(&s, c->fx->a.pk, text, len, text, 20);
		if (store_write_wait(c->st, t_append_op, &ap) != STORE_OK)
			_exit(3);
		r.uid = ap.out.uid;
		r.blob = ap.out.blob_id;
		/* bounds: a record is far below PIPE_BUF, so the write is atomic */
		if (write(c->fd, &r, sizeof r) != (ssize_t)sizeof r)
			_exit(4);
		t_sealed_free(&s);
		free(text);
	}
	return NULL;
}

static void
child_main(const struct crash_fx *fx, uint32_t round, int fd)
{
	struct store_opts o = { .data_dir = fx->dir };
	struct child c[CHILD_THREADS];
	pthread_t th[CHILD_THREADS];
	char *err = NULL;
	struct store *st = store_open(&o, &err);
	uint32_t i;

	if (st == NULL)
		_exit(2);
	for (i = 0; i < CHILD_THREADS; i++) {
		c[i] = (struct child){ .st = st, .fx = fx, .round = round, .thread = i, .fd = fd };
		if (pthread_create(&th[i], NULL, child_thread, &c[i]) != 0)
			_exit(5);
	}
	for (;;)
		pause();	/* until SIGKILL */
}

static void
collect(struct crash_fx *fx, int fd)
{
	struct record r;
	ssize_t n;

	while ((n = read(fd, &r, sizeof r)) == (ssize_t)sizeof r) {
		if (fx->nseen == fx->cap) {
			fx->cap = fx->cap == 0 ? 1024 : fx->cap * 2;
			fx->seen = xreallocarray(fx->seen, fx->cap, sizeof *fx->seen);
		}
		fx->seen[fx->nseen++] = r;
	}
	CHECK(n == 0);	/* never a torn record */
}

/* Every reported message is there and decrypts to what was sent. */
static void
verify(struct crash_fx *fx)
{
	struct store *st = t_open_opts(fx->dir, 0, 0, false);
	struct sec_buf pt = { NULL, 0, 0 };
	struct store_msg m;
	struct store_txn *t;
	enum store_rc rc;
	size_t i, len;
	char *text;

	for (i = 0; i < fx->nseen; i++) {
		const struct record *r = &fx->seen[i];

		CHECK((t = store_read_begin(st, &rc)) != NULL);
		CHECK_RC(store_msg_get(t, fx->inbox, r->uid, &m), STORE_OK);
		store_read_end(&t);
		CHECK(m.blob_id == r->blob);
		CHECK(t_read(st, fx->sk, fx->a.id, m.blob_id, &pt, NULL) == 0);
		len = message_text(&text, r->round, r->thread, r->seq);
		CHECK(pt.len == len && memcmp(pt.data, text, len) == 0);
		free(text);
		sec_buf_wipe(&pt);
	}
	CHECK(t_mbox(st, fx->inbox).messages >= fx->nseen);
	store_close(&st);
}

static void
test_sigkill_loses_nothing(void **state)
{
	struct crash_fx *fx = *state;
	int fds[2], status;
	uint32_t round;
	size_t before;
	pid_t pid;

	for (round = 0; round < ROUNDS; round++) {
		CHECK(pipe(fds) == 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_main(fx, round, fds[1]);
		}
		close(fds[1]);
		t_sleep_ms(60 + sec_random_uniform(340));
		CHECK(kill(pid, SIGKILL) == 0);
		before = fx->nseen;
		collect(fx, fds[0]);
		close(fds[0]);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		CHECK(fx->nseen > before);	/* the child got something done */
		verify(fx);
	}
	print_message("# %zu committed appends verified over %d kills\n", fx->nseen, ROUNDS);
}

static int
setup(void **state)
{
	struct crash_fx *fx = xcalloc(1, sizeof *fx);
	struct store_account l;
	struct store *st;

	fx->dir = t_tmpdir();
	st = t_store_new(fx->dir);
	CHECK_RC(store_account_add(st, "crash@example.org", PW, strlen(PW), SEC_KDF_INTERACTIVE,
	    &fx->a), STORE_OK);
	CHECK_RC(store_login(st, "crash@example.org", PW, strlen(PW), &l, &fx->sk), STORE_OK);
	fx->inbox = t_mbox_id(st, fx->a.id, "INBOX");
	store_close(&st);	/* no writer thread is alive when we fork */
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct crash_fx *fx = *state;

	sec_sk_unref(&fx->sk);
	t_rmtree(fx->dir);
	free(fx->dir);
	free(fx->seen);
	free(fx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sigkill_loses_nothing, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return STORE_TEST_MAIN(tests);
}
