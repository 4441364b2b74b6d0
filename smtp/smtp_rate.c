/*
 * smtp_rate.c: how many messages each account submitted in the last hour
 * ([submission] max_messages_per_hour). One record per account that
 * submitted or logged in recently: 60 one-minute buckets, each tagged with
 * the minute it counts, so the window slides by the minute and old buckets
 * are reused without a sweep of their own. Records that counted nothing
 * for an hour and have nothing in flight are dropped when the table grows.
 * See smtp_private.h for the restart story (seeded from the audit log).
 */
#include "smtp/smtp_private.h"

#include <stdlib.h>
#include <string.h>

#define SMTP_RATE_BUCKETS	60			/* minutes per window */
#define SMTP_RATE_SLOT		(SMTP_RATE_WINDOW / SMTP_RATE_BUCKETS)
#define SMTP_RATE_HASH		1024
#define SMTP_RATE_SWEEP_AT	4096			/* records before a sweep */
#define SMTP_RATE_SWEEP_EVERY	60			/* seconds between sweeps */

struct smtp_rate_acct {
	uint64_t		 id;
	int64_t			 slot[SMTP_RATE_BUCKETS];	/* the minute counted */
	uint32_t		 count[SMTP_RATE_BUCKETS];
	unsigned		 pending;		/* messages in flight */
	int64_t			 audited_until;		/* refusals audited until */
	struct smtp_rate_acct	*next;
};

struct smtp_rate {
	struct smtp_rate_acct	*hash[SMTP_RATE_HASH];
	size_t			 n;
	int64_t			 last_sweep;
};

struct smtp_rate *
smtp_rate_new(void)
{
	return xcalloc(1, sizeof(struct smtp_rate));
}

void
smtp_rate_free(struct smtp_rate **rp)
{
	struct smtp_rate *r = *rp;
	struct smtp_rate_acct *a, *next;
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < SMTP_RATE_HASH; i++)
		for (a = r->hash[i]; a != NULL; a = next) {
			next = a->next;
			free(a);
		}
	free(r);
	*rp = NULL;
}

static size_t
smtp_rate_hash(uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 54) % SMTP_RATE_HASH;
}

static unsigned
smtp_rate_sum(const struct smtp_rate_acct *a, int64_t now)
{
	int64_t cur = now / SMTP_RATE_SLOT;
	unsigned sum = 0;
	size_t i;

	for (i = 0; i < SMTP_RATE_BUCKETS; i++)
		if (a->slot[i] > cur - SMTP_RATE_BUCKETS && a->slot[i] <= cur)
			sum += a->count[i];
	return sum;
}

/* Drop records that say nothing any more (nothing in the window, nothing
 * in flight, no refusal being remembered). */
static void
smtp_rate_sweep(struct smtp_rate *r, int64_t now)
{
	struct smtp_rate_acct **pp, *a;
	size_t i;

	if (r->n < SMTP_RATE_SWEEP_AT || now - r->last_sweep < SMTP_RATE_SWEEP_EVERY)
		return;
	r->last_sweep = now;
	for (i = 0; i < SMTP_RATE_HASH; i++) {
		pp = &r->hash[i];
		while ((a = *pp) != NULL) {
			if (a->pending == 0 && a->audited_until <= now &&
			    smtp_rate_sum(a, now) == 0) {
				*pp = a->next;
				free(a);
				r->n--;
			} else
				pp = &a->next;
		}
	}
}

static struct smtp_rate_acct *
smtp_rate_find(struct smtp_rate *r, uint64_t id, bool create)
{
	struct smtp_rate_acct *a;
	size_t h = smtp_rate_hash(id);

	for (a = r->hash[h]; a != NULL; a = a->next)
		if (a->id == id)
			return a;
	if (!create)
		return NULL;
	a = xcalloc(1, sizeof *a);
	a->id = id;
	a->next = r->hash[h];
	r->hash[h] = a;
	r->n++;
	return a;
}

static void
smtp_rate_put(struct smtp_rate_acct *a, int64_t when, int64_t now)
{
	int64_t slot = when / SMTP_RATE_SLOT;
	size_t i = (size_t)(slot % SMTP_RATE_BUCKETS);

	if (when > now || slot <= now / SMTP_RATE_SLOT - SMTP_RATE_BUCKETS || when < 0)
		return;
	if (a->slot[i] != slot) {
		a->slot[i] = slot;
		a->count[i] = 0;
	}
	if (a->count[i] < UINT32_MAX)
		a->count[i]++;
}

bool
smtp_rate_known(struct smtp_rate *r, uint64_t acct_id)
{
	return smtp_rate_find(r, acct_id, false) != NULL;
}

void
smtp_rate_seed(struct smtp_rate *r, uint64_t acct_id, const int64_t *times, size_t n,
    int64_t now)
{
	struct smtp_rate_acct *a;
	size_t i;

	if (smtp_rate_find(r, acct_id, false) != NULL)
		return;
	smtp_rate_sweep(r, now);
	a = smtp_rate_find(r, acct_id, true);
	for (i = 0; i < n; i++)
		smtp_rate_put(a, times[i], now);
}

unsigned
smtp_rate_count(struct smtp_rate *r, uint64_t acct_id, int64_t now)
{
	struct smtp_rate_acct *a = smtp_rate_find(r, acct_id, false);

	return a != NULL ? smtp_rate_sum(a, now) + a->pending : 0;
}

void
smtp_rate_begin(struct smtp_rate *r, uint64_t acct_id)
{
	smtp_rate_find(r, acct_id, true)->pending++;
}

void
smtp_rate_end(struct smtp_rate *r, uint64_t acct_id, bool accepted, int64_t now)
{
	struct smtp_rate_acct *a = smtp_rate_find(r, acct_id, true);

	if (a->pending > 0)
		a->pending--;
	if (accepted)
		smtp_rate_put(a, now, now);
	smtp_rate_sweep(r, now);
}

bool
smtp_rate_note_refusal(struct smtp_rate *r, uint64_t acct_id, int64_t now)
{
	struct smtp_rate_acct *a = smtp_rate_find(r, acct_id, true);

	if (a->audited_until > now)
		return false;
	a->audited_until = now + SMTP_RATE_AUDIT_EVERY;
	return true;
}
