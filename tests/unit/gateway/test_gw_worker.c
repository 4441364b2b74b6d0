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

/*
 * One worker, held by a slow job; three more slow jobs and then two short
 * ones are queued. When the worker comes free the short ones run first
 * (in their order), then the slow ones in theirs.
 */
static void
test_short_jobs_pass_queued_slow_ones(void **state)
{
	struct event_base *base = event_base_new();
	struct gw_loopq *q = gw_loopq_new(base);
	struct gw_workers *w = gw_workers_new(q, 1);
	struct order o = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct job jobs[6];
	const int want[] = { 0, 4, 5, 1, 2, 3 };
	int i;

	(void)state;
	sem_init(&o.gate, 0, 0);
	sem_init(&o.ran, 0, 0);
	sem_init(&o.holding, 0, 0);
	for (i = 0; i < 6; i++)
		jobs[i] = (struct job){ .o = &o, .id = i, .hold = i == 0 };
	gw_workers_submit_slow(w, job_run, NULL, &jobs[0]);
	sem_wait(&o.holding);		/* the worker is busy with it */
	for (i = 1; i < 4; i++)
		gw_workers_submit_slow(w, job_run, NULL, &jobs[i]);
	for (i = 4; i < 6; i++)
		gw_workers_submit(w, job_run, NULL, &jobs[i]);
	sem_post(&o.gate);
	for (i = 0; i < 6; i++)
		sem_wait(&o.ran);
	assert_int_equal(o.n, 6);
	assert_memory_equal(o.seen, want, sizeof want);
	gw_workers_free(&w);
	gw_loopq_free(&q);
	event_base_free(base);
	sem_destroy(&o.gate);
	sem_destroy(&o.ran);
	sem_destroy(&o.holding);
}

/* Without slow jobs: submission order. */
static void
test_jobs_start_in_submission_order(void **state)
{
	struct event_base *base = event_base_new();
	struct gw_loopq *q = gw_loopq_new(base);
	struct gw_workers *w = gw_workers_new(q, 1);
	struct order o = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct job jobs[NJOBS];
	int i;

	(void)state;
	sem_init(&o.gate, 0, 0);
	sem_init(&o.ran, 0, 0);
	sem_init(&o.holding, 0, 0);
	for (i = 0; i < NJOBS; i++) {
		jobs[i] = (struct job){ .o = &o, .id = i, .hold = i == 0 };
		gw_workers_submit(w, job_run, NULL, &jobs[i]);
	}
	sem_post(&o.gate);
	for (i = 0; i < NJOBS; i++)
		sem_wait(&o.ran);
	for (i = 0; i < NJOBS; i++)
		assert_int_equal(o.seen[i], i);
	gw_workers_free(&w);
	gw_loopq_free(&q);
	event_base_free(base);
	sem_destroy(&o.gate);
	sem_destroy(&o.ran);
	sem_destroy(&o.holding);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_start_in_submission_order),
		cmocka_unit_test(test_short_jobs_pass_queued_slow_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
