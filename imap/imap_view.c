/*
 * imap_view.c: the selected mailbox as announced to the client, and the
 * resolution of sequence sets against it.
 *
 * UID lists are reference counted and shared. A list read from the store
 * describes a mailbox exactly at some HIGHESTMODSEQ, with each message's
 * flags, keywords and modseq, and is "published" in the server's table
 * (one per mailbox, the newest). Every change to a mailbox (append, flags,
 * expunge) raises its HIGHESTMODSEQ, so (mailbox id, UIDVALIDITY, modseq)
 * names one state: SELECT and the sync after a change use the published
 * state when there is one, so that a change seen by a thousand sessions is
 * read from the store once, not a thousand times. A session that may not
 * announce an expunge yet keeps a private list (UIDs only). Loop thread
 * only, but for imap_uids_scan: a state is read on a worker
 * (imap_uids_scan_async), for it may be many pages and some on disk.
 */
#include "imap/imap_private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/imap_seq.h"
#include "gateway/gw_worker.h"

#define IMAP_UIDS_MIN	64

/* Test only: each read of a mailbox's state takes this much longer, so a
 * test can see whether it holds up the loop (imap_server_new sets it). */
unsigned imap_test_scan_delay_ms;

static struct imap_uids *
imap_uids_new(uint32_t cap)
{
	struct imap_uids *u;

	cap = SG_MAX(cap, (uint32_t)IMAP_UIDS_MIN);
	/* bounds: cap <= UINT32_MAX, times 4 fits a size_t */
	u = xcalloc(1, sizeof *u + (size_t)cap * sizeof u->v[0]);
	u->refs = 1;
	u->cap = cap;
	return u;
}

static void
imap_uids_unpublish(struct imap_server *srv, struct imap_uids *u)
{
	struct imap_uids **pp;

	if (!u->published)
		return;
	for (pp = &srv->uidsets; *pp != u; pp = &(*pp)->next)
		;
	*pp = u->next;
	u->published = false;
}

void
imap_uids_release(struct imap_server *srv, struct imap_uids **up)
{
	struct imap_uids *u = *up;

	if (u == NULL)
		return;
	*up = NULL;
	if (--u->refs > 0)
		return;
	imap_uids_unpublish(srv, u);
	free(u->meta);
	free(u);
}

static void
imap_uids_publish(struct imap_server *srv, struct imap_uids *u)
{
	struct imap_uids *old;

	for (old = srv->uidsets; old != NULL; old = old->next)
		if (old->mailbox_id == u->mailbox_id)
			break;
	if (old != NULL)
		imap_uids_unpublish(srv, old);
	u->published = true;
	u->next = srv->uidsets;
	srv->uidsets = u;
}

/* Read the mailbox from the store: UIDs, flags, keywords, modseqs. */
static struct imap_uids *
imap_uids_scan(struct store_txn *t, const struct store_mailbox *m, enum store_rc *rc_out)
{
	struct store_cursor *c = store_msgs_open(t, m->id, 1);
	struct store_msg msg;
	struct imap_uids *u;

	if (c == NULL) {
		*rc_out = STORE_TEMPFAIL;
		return NULL;
	}
	u = imap_uids_new(m->messages + 1);
	u->meta = xcalloc(u->cap, sizeof *u->meta);
	while (store_msgs_next(c, &msg)) {
		if (u->n == u->cap) {
			uint32_t cap = u->cap > UINT32_MAX / 2 ? UINT32_MAX : u->cap * 2;

			/* bounds: cap <= UINT32_MAX, times 4 fits a size_t */
			u = xreallocarray(u, 1, sizeof *u + (size_t)cap * sizeof u->v[0]);
			u->meta = xreallocarray(u->meta, cap, sizeof *u->meta);
			u->cap = cap;
		}
		u->v[u->n] = msg.uid;
		u->meta[u->n] = (struct imap_umeta){ msg.flags, msg.keywords, msg.modseq };
		if (u->first_unseen == 0 && !(msg.flags & STORE_F_SEEN))
			u->first_unseen = u->n + 1;
		u->n++;
	}
	store_msgs_close(&c);
	u->mailbox_id = m->id;
	u->uidvalidity = m->uidvalidity;
	u->modseq = m->highestmodseq;
	if (imap_test_scan_delay_ms > 0)
		nanosleep(&(struct timespec){ imap_test_scan_delay_ms / 1000,
		    (long)(imap_test_scan_delay_ms % 1000) * 1000000 }, NULL);
	*rc_out = STORE_OK;
	return u;
}

/* The published state of m, if it is m's current one: a new reference. */
struct imap_uids *
imap_uids_cached(struct imap_server *srv, const struct store_mailbox *m)
{
	struct imap_uids *u;

	for (u = srv->uidsets; u != NULL; u = u->next)
		if (u->mailbox_id == m->id)
			break;
	if (u == NULL || u->modseq != m->highestmodseq || u->uidvalidity != m->uidvalidity ||
	    u->meta == NULL)
		return NULL;
	u->refs++;
	return u;
}

/* ---- reading a state on a worker ----
 *
 * One read per mailbox at a time: sessions that need a mailbox's state
 * while it is being read wait for that read (after a change, every session
 * of the mailbox needs the new state at once), and take its result if it
 * is at least as new as the state they saw; else they wait for the next. */

struct imap_scan_waiter {
	struct imap_scan_waiter	*next;
	struct imap_session	*s;
	uint64_t		 need;		/* the least modseq it may take */
	imap_scan_fn		*done;
	void			*arg;
};

struct imap_scan {
	struct imap_scan	*next;		/* srv->scans */
	struct imap_server	*srv;
	struct store		*store;
	uint64_t		 mailbox_id;
	struct store_mailbox	 m;
	struct imap_uids	*u;
	enum store_rc		 rc;
	struct imap_scan_waiter	*waiters;
};

static void
imap_scan_work(void *arg)
{
	struct imap_scan *j = arg;
	struct store_txn *t;

	if ((t = store_read_begin(j->store, &j->rc)) == NULL)
		return;
	if ((j->rc = store_mailbox_get_id(t, j->mailbox_id, &j->m)) == STORE_OK)
		j->u = imap_uids_scan(t, &j->m, &j->rc);
	store_read_end(&t);
}

/* A state read on a worker is published unless a session read a newer one
 * of the same mailbox meanwhile. */
static void
imap_uids_offer(struct imap_server *srv, struct imap_uids *u)
{
	struct imap_uids *old;

	for (old = srv->uidsets; old != NULL; old = old->next)
		if (old->mailbox_id == u->mailbox_id)
			break;
	if (old != NULL && old->uidvalidity == u->uidvalidity && old->modseq >= u->modseq)
		return;
	imap_uids_publish(srv, u);
}

static void imap_scan_done(void *arg);

/* w waits for the mailbox's read in progress, or starts one. */
static void
imap_scan_join(struct imap_server *srv, uint64_t mailbox_id, struct imap_scan_waiter *w)
{
	struct imap_scan *j;

	for (j = srv->scans; j != NULL; j = j->next)
		if (j->mailbox_id == mailbox_id)
			break;
	if (j == NULL) {
		j = xcalloc(1, sizeof *j);
		j->srv = srv;
		j->store = srv->ctx->store;
		j->mailbox_id = mailbox_id;
		j->rc = STORE_TEMPFAIL;
		j->next = srv->scans;
		srv->scans = j;
		gw_workers_submit(srv->ctx->workers, imap_scan_work, imap_scan_done, j);
	}
	w->next = j->waiters;
	j->waiters = w;
}

static void
imap_scan_unlink(struct imap_scan *j)
{
	struct imap_scan **pp;

	for (pp = &j->srv->scans; *pp != j; pp = &(*pp)->next)
		;
	*pp = j->next;
}

static void
imap_scan_done(void *arg)
{
	struct imap_scan *j = arg;
	struct imap_scan_waiter *w, *next;

	imap_scan_unlink(j);
	if (j->u != NULL)
		imap_uids_offer(j->srv, j->u);
	if (j->rc != STORE_OK)
		j->m.id = j->mailbox_id;
	for (w = j->waiters; w != NULL; w = next) {
		next = w->next;
		if (j->u != NULL && j->u->modseq < w->need) {
			imap_scan_join(j->srv, j->mailbox_id, w);	/* read too early */
			continue;
		}
		if (j->u != NULL)
			j->u->refs++;
		w->done(w->s, j->u, &j->m, j->rc, w->arg);
		imap_session_unref(w->s);
		free(w);
	}
	imap_uids_release(j->srv, &j->u);
	free(j);
}

void
imap_uids_scan_async(struct imap_session *s, const struct store_mailbox *m,
    imap_scan_fn *done, void *arg)
{
	struct imap_scan_waiter *w = xcalloc(1, sizeof *w);

	w->s = s;
	w->need = m->highestmodseq;
	w->done = done;
	w->arg = arg;
	imap_session_ref(s);
	imap_scan_join(s->server, m->id, w);
}

static void
imap_view_attach(struct imap_view *v, struct imap_uids *u)
{
	imap_uids_release(v->srv, &v->u);
	v->u = u;
	v->uids = u->v;
	v->n = u->n;
}

struct imap_view *
imap_view_new(struct imap_server *srv, const struct store_mailbox *m, bool readonly)
{
	struct imap_view *v = xcalloc(1, sizeof *v);

	v->srv = srv;
	imap_view_set_mbox(v, m);
	v->readonly = readonly;
	v->modseq = m->highestmodseq;
	imap_view_attach(v, imap_uids_new(0));
	return v;
}

void
imap_view_free(struct imap_view **vp)
{
	struct imap_view *v = *vp;

	if (v == NULL)
		return;
	imap_uids_release(v->srv, &v->u);
	free(v->saved);
	free(v);
	*vp = NULL;
}

void
imap_view_set_mbox(struct imap_view *v, const struct store_mailbox *m)
{
	v->mbox = (struct imap_vmbox){ .id = m->id, .highestmodseq = m->highestmodseq,
	    .uidvalidity = m->uidvalidity, .uidnext = m->uidnext };
}

void
imap_view_set_state(struct imap_view *v, struct imap_uids *u)
{
	if (u == v->u)
		return;
	u->refs++;
	imap_view_attach(v, u);
}

void
imap_view_set_private(struct imap_view *v, const uint32_t *uids, uint32_t n)
{
	struct imap_uids *u = imap_uids_new(n);

	if (n > 0)
		memcpy(u->v, uids, (size_t)n * sizeof *uids);
	u->n = n;
	imap_view_attach(v, u);
}

/* Index of the first uid >= x. */
static uint32_t
imap_view_lower(const struct imap_view *v, uint32_t x)
{
	uint32_t lo = 0, hi = v->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v->uids[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t
imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	uint32_t i = imap_view_lower(v, uid);

	return i < v->n && v->uids[i] == uid ? i + 1 : 0;
}

void
imap_view_seqs(const struct imap_view *v, const uint32_t *uids, size_t n, uint32_t *seqs)
{
	uint32_t j = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i == 0 || uids[i] < uids[i - 1])
			j = imap_view_lower(v, uids[i]);
		while (j < v->n && v->uids[j] < uids[i])
			j++;
		seqs[i] = j < v->n && v->uids[j] == uids[i] ? j + 1 : 0;
	}
}

static int
imap_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and drop duplicates (several ranges may overlap). */
static size_t
imap_uids_normalize(uint32_t *u, size_t n)
{
	size_t i, o = 0;

	qsort(u, n, sizeof *u, imap_u32_cmp);
	for (i = 0; i < n; i++)
		if (o == 0 || u[o - 1] != u[i])
			u[o++] = u[i];
	return o;
}

static void
imap_push(uint32_t **out, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*out = xreallocarray(*out, *cap, sizeof **out);
	}
	(*out)[(*n)++] = x;
}

size_t
imap_view_resolve(struct imap_session *s, const struct imap_seq *set, bool uid,
    uint32_t **out)
{
	const struct imap_view *v = s->view;
	uint32_t star = uid ? (v->n ? v->uids[v->n - 1] : 0) : v->n;
	size_t n = 0, cap = 0, r, i;

	*out = NULL;
	for (r = 0; r < set->n; r++) {
		uint32_t lo, hi;

		imap_seq_range_resolve(&set->r[r], star, &lo, &hi);
		if (uid) {
			for (i = imap_view_lower(v, lo); i < v->n && v->uids[i] <= hi; i++)
				imap_push(out, &n, &cap, v->uids[i]);
		} else {
			for (i = lo; i <= hi && i <= v->n; i++)
				if (i >= 1)
					imap_push(out, &n, &cap, v->uids[i - 1]);
		}
	}
	if (set->saved)
		for (i = 0; i < v->nsaved; i++)
			if (imap_view_seq(v, v->saved[i]) != 0)
				imap_push(out, &n, &cap, v->saved[i]);
	if (set->n + (set->saved ? 1 : 0) > 1)
		n = imap_uids_normalize(*out, n);
	return n;
}
