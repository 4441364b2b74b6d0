/*
 * test_gw_worker.c: the worker pool: jobs run in submission order, and
 * slow jobs (Argon2id) start only when no other job waits, so a queue of
 * logins does not hold up a short job behind it.
 */
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "gateway/gw_worker.h"

#define NJOBS	8

struct order {
	pthread_mutex_t	 mu;
	int		 seen[NJOBS];
	int		 n;
	sem_t		 gate, ran, holding;
};

struct job {
	struct order	*o;
	int		 id;
	bool		 hold;	/* wait at the gate: keeps a worker busy */
};

static void
job_run(void *arg)
{
	struct job *j = arg;

	if (j->hold) {
		sem_post(&j->o->holding);
		sem_wait(&j->o->gate);
	}
	pthread_mutex_lock(&j->o->mu);
	j->o->seen[j->o->n++] = j->id;
	pthread_mutex_unlock(&j->o->mu);
	sem_post(&j->o->ran);
}

/* One worker and a loop queue (no loop runs: the jobs have no done). */
struct fx {
	struct event_base	*base;
	struct gw_loopq		*q;
	struct gw_workers	*w;
	struct order		 o;
};

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	f->base = event_base_new();
	f->q = gw_loopq_new(f->base);
	f->w = gw_workers_new(f->q, 1);
	pthread_mutex_init(&f->o.mu, NULL);
	sem_init(&f->o.gate, 0, 0);
	sem_init(&f->o.ran, 0, 0);
	sem_init(&f->o.holding, 0, 0);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	gw_workers_free(&f->w);
	gw_loopq_free(&f->q);
	event_base_free(f->base);
	sem_destroy(&f->o.gate);
	sem_destroy(&f->o.ran);
	sem_destroy(&f->o.holding);
	pthread_mutex_destroy(&f->o.mu);
	free(f);
	return 0;
}

/* Let the holding job go and wait for n jobs in all to have run. */
static void
release_and_wait(struct order *o, int n)
{
	sem_post(&o->gate);
	while (n-- > 0)
		sem_wait(&o->ran);
}

/*
 * One worker, held by a slow job; three more slow jobs and then two short
 * ones are queued. When the worker comes free the short ones run first
 * (in their order), then the slow ones in theirs.
 */
static void
test_short_jobs_pass_queued_slow_ones(void **state)
{
	struct fx *f = *state;
	struct job jobs[6];
	const int want[] = { 0, 4, 5, 1, 2, 3 };
	int i;

	for (i = 0; i < 6; i++)
		jobs[i] = (struct job){ .o = &f->o, .id = i, .hold = i == 0 };
	gw_workers_submit_slow(f->w, job_run, NULL, &jobs[0]);
	sem_wait(&f->o.holding);		/* the worker is busy with it */
	for (i = 1; i < 4; i++)
		gw_workers_submit_slow(f->w, job_run, NULL, &jobs[i]);
	for (i = 4; i < 6; i++)
		gw_workers_submit(f->w, job_run, NULL, &jobs[i]);
	release_and_wait(&f->o, 6);
	assert_int_equal(f->o.n, 6);
	assert_memory_equal(f->o.seen, want, sizeof want);
}

/* Without slow jobs: submission order. */
static void
test_jobs_start_in_submission_order(void **state)
{
	struct fx *f = *state;
	struct job jobs[NJOBS];
	int i;

	for (i = 0; i < NJOBS; i++) {
		jobs[i] = (struct job){ .o = &f->o, .id = i, .hold = i == 0 };
		gw_workers_submit(f->w, job_run, NULL, &jobs[i]);
	}
	release_and_wait(&f->o, NJOBS);
	for (i = 0; i < NJOBS; i++)
		assert_int_equal(f->o.seen[i], i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_jobs_start_in_submission_order, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_short_jobs_pass_queued_slow_ones, fx_setup,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
