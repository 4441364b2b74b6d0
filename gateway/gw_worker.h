/*
 * gw_worker.h: a pool of worker threads for work that must not block the
 * event loop (Argon2id, large seal and unseal jobs), and a loop queue by
 * which any thread hands a callback to the loop thread.
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

#include "gateway/sg.h"

struct event_base;
struct gw_loopq;
struct gw_workers;

typedef void gw_task_fn(void *arg);

/* The loop queue: gw_loopq_post() from any thread; fn runs on the loop. */
struct gw_loopq *gw_loopq_new(struct event_base *base);
void gw_loopq_post(struct gw_loopq *q, gw_task_fn *fn, void *arg);
/* Run every queued callback now, on the calling thread (shutdown). */
void gw_loopq_drain(struct gw_loopq *q);
void gw_loopq_free(struct gw_loopq **q);

/* n == 0: one thread per CPU (at least 2). */
struct gw_workers *gw_workers_new(struct gw_loopq *q, unsigned n);
unsigned gw_workers_count(const struct gw_workers *w);
/*
 * Run work(arg) on a worker thread, then done(arg) on the loop thread.
 * done may be NULL. Jobs start in submission order.
 */
void gw_workers_submit(struct gw_workers *w, gw_task_fn *work, gw_task_fn *done, void *arg);
/*
 * The same for long CPU-bound work (Argon2id: 50-100 ms a run). These start
 * only when no other job waits, so that a thousand clients logging in at
 * once do not hold up FETCH, SEARCH or a mailbox's state for a minute; a
 * short job waits at most for one running slow job to end. In submission
 * order among themselves.
 */
void gw_workers_submit_slow(struct gw_workers *w, gw_task_fn *work, gw_task_fn *done,
    void *arg);
/* Finish queued jobs, join the threads; done callbacks go to the loopq. */
void gw_workers_free(struct gw_workers **w);

#endif
