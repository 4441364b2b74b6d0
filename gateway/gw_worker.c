/*
 * gw_worker.c: the worker pool and the loop queue. Workers take jobs from
 * one FIFO; a finished job's done callback travels back through the loop
 * queue, which wakes the event loop with event_active() (thread-safe since
 * main called evthread_use_pthreads()).
 */
#include "gateway/gw_worker.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "gateway/gw_log.h"

struct gw_task {
	gw_task_fn	*fn;
	gw_task_fn	*done;
	void		*arg;
	struct gw_task	*next;
};

struct gw_loopq {
	pthread_mutex_t	 mu;
	struct gw_task	*head, *tail;
	struct event	*ev;
};

struct gw_workers {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct gw_task	*head, *tail;
	struct gw_task	*slow_head, *slow_tail;	/* start when head is empty */
	bool		 quit;
	unsigned	 n;
	pthread_t	*threads;
	struct gw_loopq	*q;
};

static void
gw_task_push(struct gw_task **head, struct gw_task **tail, struct gw_task *t)
{
	t->next = NULL;
	if (*tail != NULL)
		(*tail)->next = t;
	else
		*head = t;
	*tail = t;
}

static void
gw_loopq_run(struct gw_loopq *q)
{
	struct gw_task *list, *t;

	pthread_mutex_lock(&q->mu);
	list = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->mu);
	while ((t = list) != NULL) {
		list = t->next;
		t->fn(t->arg);
		free(t);
	}
}

static void
gw_loopq_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gw_loopq_run(arg);
}

struct gw_loopq *
gw_loopq_new(struct event_base *base)
{
	struct gw_loopq *q = xcalloc(1, sizeof *q);

	pthread_mutex_init(&q->mu, NULL);
	q->ev = event_new(base, -1, 0, gw_loopq_cb, q);
	if (q->ev == NULL)
		fatal("event=loopq_new error=event_new");
	return q;
}

void
gw_loopq_post(struct gw_loopq *q, gw_task_fn *fn, void *arg)
{
	struct gw_task *t = xcalloc(1, sizeof *t);
	bool wake;

	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&q->mu);
	wake = q->head == NULL;
	gw_task_push(&q->head, &q->tail, t);
	pthread_mutex_unlock(&q->mu);
	if (wake)
		event_active(q->ev, EV_READ, 0);
}

void
gw_loopq_drain(struct gw_loopq *q)
{
	bool more = true;

	while (more) {
		gw_loopq_run(q);
		pthread_mutex_lock(&q->mu);
		more = q->head != NULL;
		pthread_mutex_unlock(&q->mu);
	}
}

void
gw_loopq_free(struct gw_loopq **qp)
{
	struct gw_loopq *q = *qp;

	if (q == NULL)
		return;
	gw_loopq_drain(q);
	event_free(q->ev);
	pthread_mutex_destroy(&q->mu);
	free(q);
	*qp = NULL;
}

/* The next job, the slow ones only when nothing else waits; under w->mu. */
static struct gw_task *
gw_task_take(struct gw_workers *w)
{
	struct gw_task **head = w->head != NULL ? &w->head : &w->slow_head;
	struct gw_task **tail = w->head != NULL ? &w->tail : &w->slow_tail;
	struct gw_task *t = *head;

	if (t != NULL && (*head = t->next) == NULL)
		*tail = NULL;
	return t;
}

static void *
gw_worker_main(void *arg)
{
	struct gw_workers *w = arg;
	struct gw_task *t;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->head == NULL && w->slow_head == NULL && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		t = gw_task_take(w);
		pthread_mutex_unlock(&w->mu);
		if (t == NULL)
			return NULL;

		t->fn(t->arg);
		if (t->done != NULL)
			gw_loopq_post(w->q, t->done, t->arg);
		free(t);
	}
}

struct gw_workers *
gw_workers_new(struct gw_loopq *q, unsigned n)
{
	struct gw_workers *w = xcalloc(1, sizeof *w);
	unsigned i;

	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		n = cpus < 2 ? 2 : (unsigned)cpus;
	}
	w->n = n;
	w->q = q;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->threads = xcalloc(n, sizeof *w->threads);
	for (i = 0; i < n; i++)
		if (pthread_create(&w->threads[i], NULL, gw_worker_main, w) != 0)
			fatal("event=worker_start error=pthread_create");
	return w;
}

unsigned
gw_workers_count(const struct gw_workers *w)
{
	return w->n;
}

static void
gw_workers_push(struct gw_workers *w, gw_task_fn *work, gw_task_fn *done, void *arg,
    bool slow)
{
	struct gw_task *t = xcalloc(1, sizeof *t);

	t->fn = work;
	t->done = done;
	t->arg = arg;
	pthread_mutex_lock(&w->mu);
	if (slow)
		gw_task_push(&w->slow_head, &w->slow_tail, t);
	else
		gw_task_push(&w->head, &w->tail, t);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
gw_workers_submit(struct gw_workers *w, gw_task_fn *work, gw_task_fn *done, void *arg)
{
	gw_workers_push(w, work, done, arg, false);
}

void
gw_workers_submit_slow(struct gw_workers *w, gw_task_fn *work, gw_task_fn *done, void *arg)
{
	gw_workers_push(w, work, done, arg, true);
}

void
gw_workers_free(struct gw_workers **wp)
{
	struct gw_workers *w = *wp;
	unsigned i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < w->n; i++)
		pthread_join(w->threads[i], NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w);
	*wp = NULL;
}
