/*
 * imap_view.c: the selected mailbox as announced to the client, and the
 * resolution of sequence sets against it.
 */
#include "imap/imap_private.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap_seq.h"

struct imap_view *
imap_view_new(const struct store_mailbox *m, bool readonly)
{
	struct imap_view *v = xcalloc(1, sizeof *v);

	v->mbox = *m;
	v->readonly = readonly;
	v->modseq = m->highestmodseq;
	return v;
}

void
imap_view_free(struct imap_view **vp)
{
	struct imap_view *v = *vp;

	if (v == NULL)
		return;
	free(v->uids);
	free(v->saved);
	free(v);
	*vp = NULL;
}

void
imap_view_add(struct imap_view *v, uint32_t uid)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->uids = xreallocarray(v->uids, v->cap, sizeof *v->uids);
	}
	v->uids[v->n++] = uid;
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
