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

struct crash_fx {
	char			*dir;
	struct store_opts	 o;	/* the child's open and verify's */
	struct t_reports	 rp;
};

static void
child_main(const struct crash_fx *fx, uint32_t round, int fd)
{
	char *err = NULL;
	struct store *st;

	if ((st = store_open(&fx->o, &err)) == NULL)
		_exit(2);
	t_appenders_start(st, &fx->rp, round, 0, CHILD_THREADS, fd);
	for (;;)
		pause();	/* until SIGKILL */
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
		before = fx->rp.nseen;
		t_collect(&fx->rp, fds[0]);
		close(fds[0]);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		CHECK(fx->rp.nseen > before);	/* the child got something done */
		t_verify(&fx->rp, &fx->o, round);
	}
	print_message("# %zu committed appends verified over %d kills\n", fx->rp.nseen, ROUNDS);
}

static int
setup(void **state)
{
	struct crash_fx *fx = xcalloc(1, sizeof *fx);

	fx->dir = t_tmpdir();
	fx->o.data_dir = fx->dir;
	t_reports_init(&fx->rp, fx->dir, "crash", "crash@example.org", PW);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct crash_fx *fx = *state;

	t_reports_free(&fx->rp);
	t_rmtree(fx->dir);
	free(fx->dir);
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
