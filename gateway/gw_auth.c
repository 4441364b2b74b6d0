/*
 * gw_auth.c: password checks for every protocol. The order of the checks
 * is the point:
 *   1. a locked address or account is refused before any work is done;
 *   2. the login cache answers a known (address, password) pair at once;
 *   3. otherwise Argon2id runs on a worker thread (store_login);
 *   4. a failure is answered only after a delay that doubles with each
 *      consecutive failure of the address or account (an event timer, so a
 *      flood costs no CPU), and enough failures lock both for a while.
 * Failures are kept in memory per address and per account; the account's
 * counters are also written to the store for the audit trail. An IPv6
 * client counts by its /64, since one host commonly holds the whole prefix.
 *
 * Checks in flight count against the lock: while an address (or account)
 * has as many Argon2id runs pending as it has failures left before the
 * lock, further attempts are refused at once, so a burst of parallel
 * guesses gets no more KDF work than auth_lock_after sequential ones.
 *
 * A login that repeats one already in flight (same address, same
 * password) waits for that check instead of running its own: mail apps open
 * many connections at once, all with the right password, and after a
 * restart (cold login cache) they must not be taken for parallel guesses
 * (INTEROP.md: refuse only what is wrong, never all of a user's
 * connections). The repeat costs no KDF work and counts no pending check.
 */
#include "gateway/gw_auth.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_log.h"
#include "gateway/gw_worker.h"

#define GW_LIMITS_BUCKETS	1024
#define GW_FAIL_KEY_MAX		(STORE_ADDR_MAX + 8)

struct gw_fail {
	char		 key[GW_FAIL_KEY_MAX + 1];	/* "ip:..." or "acct:..." */
	unsigned	 count;
	unsigned	 pending;	/* password checks in flight */
	int64_t		 last;
	int64_t		 locked_until;
	struct gw_fail	*next;
};

struct gw_limits {
	const struct conf	*conf;
	struct gw_fail		*buckets[GW_LIMITS_BUCKETS];
	struct gw_auth_req	*inflight;	/* checks on a worker; loop thread */
};

struct gw_auth_req {
	struct gw_ctx		*ctx;
	enum gw_proto		 proto;
	char			 ip[48];
	char			 address[STORE_ADDR_MAX + 1];
	char			*pw;		/* secret memory */
	size_t			 pwlen;
	uint64_t		 cache_gen;
	uint64_t		 started_ms;
	gw_auth_done_fn		*done;
	void			*arg;
	struct event		*timer;
	struct gw_auth_result	 res;
	enum store_rc		 store_rc;
	bool			 cancelled, in_worker;
	bool			 reserved;	/* counted in the records' pending */
	struct gw_auth_req	*next_inflight;	/* limits->inflight */
	struct gw_auth_req	*followers;	/* the same login, waiting on this one */
	struct gw_auth_req	*next_follower;
	bool			 following;	/* waits on another request */
};

struct gw_limits *
gw_limits_new(const struct conf *conf)
{
	struct gw_limits *l = xcalloc(1, sizeof *l);

	l->conf = conf;
	return l;
}

void
gw_limits_free(struct gw_limits **lp)
{
	struct gw_limits *l = *lp;
	struct gw_fail *f, *next;
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < GW_LIMITS_BUCKETS; i++)
		for (f = l->buckets[i]; f != NULL; f = next) {
			next = f->next;
			free(f);
		}
	free(l);
	*lp = NULL;
}

static unsigned
gw_limits_hash(const char *key)
{
	unsigned h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % GW_LIMITS_BUCKETS;
}

/* The record for key; created when `create`. Stale records are dropped on
 * the way: a record quiet for longer than the lock time starts over. */
static struct gw_fail *
gw_limits_find(struct gw_limits *l, const char *kind, const char *id, bool create)
{
	char key[GW_FAIL_KEY_MAX + 1];
	struct gw_fail **pp, *f;
	int64_t now = sg_now(), quiet = l->conf->limits.auth_lock_time;

	snprintf(key, sizeof key, "%s:%s", kind, id);
	pp = &l->buckets[gw_limits_hash(key)];
	while ((f = *pp) != NULL) {
		if (f->pending == 0 && f->locked_until <= now && now - f->last > quiet) {
			*pp = f->next;
			free(f);
			continue;
		}
		if (strcmp(f->key, key) == 0)
			return f;
		pp = &f->next;
	}
	if (!create)
		return NULL;
	f = xcalloc(1, sizeof *f);
	snprintf(f->key, sizeof f->key, "%s", key);
	f->next = l->buckets[gw_limits_hash(key)];
	l->buckets[gw_limits_hash(key)] = f;
	return f;
}

/* The address as counted: IPv4 as is, IPv6 by its /64 ("2001:db8:1:2::/64"). */
static const char *
gw_auth_ip_key(const char *ip, char *buf, size_t size)
{
	struct in6_addr a;

	if (inet_pton(AF_INET6, ip, &a) != 1 || IN6_IS_ADDR_V4MAPPED(&a))
		return ip;
	memset(a.s6_addr + 8, 0, 8);
	if (inet_ntop(AF_INET6, &a, buf, (socklen_t)size) == NULL ||
	    strlen(buf) + 4 >= size)
		return ip;
	memcpy(buf + strlen(buf), "/64", 4);	/* bounds: checked just above */
	return buf;
}

static bool
gw_fail_locked(const struct gw_fail *f)
{
	return f != NULL && f->locked_until > sg_now();
}

bool
gw_auth_locked(struct gw_ctx *ctx, const char *ip, const char *address)
{
	char key[INET6_ADDRSTRLEN + 4];

	ip = gw_auth_ip_key(ip, key, sizeof key);
	return gw_fail_locked(gw_limits_find(ctx->limits, "ip", ip, false)) ||
	    (address != NULL && address[0] != '\0' &&
	    gw_fail_locked(gw_limits_find(ctx->limits, "acct", address, false)));
}

/* Count one failure on f; returns its consecutive count. */
static unsigned
gw_fail_bump(const struct conf *conf, struct gw_fail *f, bool *locked_now)
{
	int64_t now = sg_now();

	f->count++;
	f->last = now;
	if (f->count >= conf->limits.auth_lock_after && f->locked_until <= now) {
		f->locked_until = now + conf->limits.auth_lock_time;
		*locked_now = true;
	}
	return f->count;
}

static unsigned
gw_auth_delay_ms(const struct conf *conf, unsigned count)
{
	uint64_t ms = (uint64_t)conf->limits.auth_delay * 1000;
	uint64_t max = (uint64_t)conf->limits.auth_delay_max * 1000;

	if (count == 0 || ms == 0)
		return 0;
	while (--count > 0 && ms < max)
		ms *= 2;
	return (unsigned)SG_MIN(ms, max);
}

unsigned
gw_auth_note_failure(struct gw_ctx *ctx, enum gw_proto proto, const char *ip,
    const char *address)
{
	const struct conf *conf = ctx->conf;
	char key[INET6_ADDRSTRLEN + 4];
	bool locked = false;
	unsigned n = gw_fail_bump(conf, gw_limits_find(ctx->limits, "ip",
	    gw_auth_ip_key(ip, key, sizeof key), true), &locked);
	int64_t lock_until = 0;

	if (address != NULL && address[0] != '\0') {
		struct gw_fail *f = gw_limits_find(ctx->limits, "acct", address, true);
		/* Apart from SG_MAX, which evaluates its arguments twice. */
		unsigned na = gw_fail_bump(conf, f, &locked);

		n = SG_MAX(n, na);
		lock_until = f->locked_until;
		if (ctx->store != NULL)
			store_account_auth_result(ctx->store, address, false, lock_until);
	}
	atomic_fetch_add(&ctx->metrics.auth_failures, 1);
	log_info(gw_proto_names[proto], "event=auth_failed ip=%s failures=%u%s", ip, n,
	    locked ? " locked=yes" : "");
	if (ctx->store != NULL) {
		store_audit(ctx->store, "auth_failed", address, ip, gw_proto_names[proto]);
		if (locked)
			store_audit(ctx->store, "auth_locked", address, ip, gw_proto_names[proto]);
	}
	return gw_auth_delay_ms(conf, n);
}

void
gw_auth_note_success(struct gw_ctx *ctx, const char *ip, const char *address)
{
	char key[INET6_ADDRSTRLEN + 4];
	struct gw_fail *f;

	ip = gw_auth_ip_key(ip, key, sizeof key);
	if ((f = gw_limits_find(ctx->limits, "ip", ip, false)) != NULL && !gw_fail_locked(f))
		f->count = 0;
	if ((f = gw_limits_find(ctx->limits, "acct", address, false)) != NULL &&
	    !gw_fail_locked(f))
		f->count = 0;
}

static void
gw_auth_req_free(struct gw_auth_req *r)
{
	if (r->timer != NULL)
		event_free(r->timer);
	sec_free(r->pw, r->pwlen + 1);
	sec_sk_unref(&r->res.sk);
	free(r);
}

static void
gw_auth_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_auth_req *r = arg;

	(void)fd;
	(void)what;
	if (!r->cancelled)
		r->done(r->arg, &r->res);
	gw_auth_req_free(r);
}

/* Answer after delay_ms, counted from when the request started, so that a
 * fast "no such account" and a slow wrong password look alike. */
static void
gw_auth_deliver(struct gw_auth_req *r, enum gw_auth_rc rc, unsigned delay_ms)
{
	uint64_t elapsed = sg_mono_ms() - r->started_ms;
	uint64_t wait = delay_ms > elapsed ? delay_ms - elapsed : 0;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };

	r->res.rc = rc;
	if (rc != GW_AUTH_OK)
		sec_sk_unref(&r->res.sk);
	r->timer = evtimer_new(r->ctx->base, gw_auth_deliver_cb, r);
	if (r->timer == NULL)
		fatal("event=auth_timer error=oom");
	evtimer_add(r->timer, &tv);
}

/* Count a password check in flight against the address and the account;
 * false when that could pass the lock (see the comment at the top). */
static bool
gw_auth_reserve(struct gw_auth_req *r)
{
	struct gw_limits *l = r->ctx->limits;
	unsigned after = r->ctx->conf->limits.auth_lock_after;
	char key[INET6_ADDRSTRLEN + 4];
	struct gw_fail *fi, *fa;

	fi = gw_limits_find(l, "ip", gw_auth_ip_key(r->ip, key, sizeof key), true);
	if (fi->count + fi->pending >= after)
		return false;
	fa = gw_limits_find(l, "acct", r->address, true);
	if (fa->count + fa->pending >= after)
		return false;
	fi->pending++;
	fa->pending++;
	r->reserved = true;
	return true;
}

static void
gw_auth_release(struct gw_auth_req *r)
{
	struct gw_limits *l = r->ctx->limits;
	char key[INET6_ADDRSTRLEN + 4];
	struct gw_fail *f;

	if (!r->reserved)
		return;
	r->reserved = false;
	/* Records with checks pending are never dropped, so both are there. */
	if ((f = gw_limits_find(l, "ip", gw_auth_ip_key(r->ip, key, sizeof key), false)) != NULL &&
	    f->pending > 0)
		f->pending--;
	if ((f = gw_limits_find(l, "acct", r->address, false)) != NULL && f->pending > 0)
		f->pending--;
}

/* A check in flight for the same address and password, or NULL. */
static struct gw_auth_req *
gw_auth_twin(const struct gw_auth_req *r)
{
	struct gw_auth_req *q;

	for (q = r->ctx->limits->inflight; q != NULL; q = q->next_inflight)
		if (q->pwlen == r->pwlen && strcmp(q->address, r->address) == 0 &&
		    sec_equal(q->pw, r->pw, r->pwlen))
			return q;
	return NULL;
}

static void
gw_auth_unlink_inflight(struct gw_auth_req *r)
{
	struct gw_auth_req **pp;

	for (pp = &r->ctx->limits->inflight; *pp != NULL; pp = &(*pp)->next_inflight)
		if (*pp == r) {
			*pp = r->next_inflight;
			break;
		}
}

static void gw_auth_finish_login(struct gw_auth_req *r);

/* The check a follower waited on is done: the same answer, without the
 * failure being counted twice (it was one guess). */
static void
gw_auth_answer_followers(struct gw_auth_req *r, enum gw_auth_rc rc, unsigned delay_ms)
{
	struct gw_auth_req *f, *next;

	for (f = r->followers; f != NULL; f = next) {
		next = f->next_follower;
		f->following = false;
		if (f->cancelled) {
			gw_auth_req_free(f);
			continue;
		}
		if (rc == GW_AUTH_OK) {
			f->res.account = r->res.account;
			f->res.sk = sec_sk_ref(r->res.sk);
			gw_auth_finish_login(f);
		} else {
			if (rc == GW_AUTH_FAILED)
				atomic_fetch_add(&f->ctx->metrics.auth_failures, 1);
			gw_auth_deliver(f, rc, delay_ms);
		}
	}
	r->followers = NULL;
}

static void
gw_auth_work(void *arg)
{
	struct gw_auth_req *r = arg;

	r->store_rc = store_login(r->ctx->store, r->address, r->pw, r->pwlen, &r->res.account,
	    &r->res.sk);
}

static void
gw_auth_finish_login(struct gw_auth_req *r)
{
	struct gw_ctx *ctx = r->ctx;

	gw_auth_note_success(ctx, r->ip, r->address);
	store_account_auth_result(ctx->store, r->address, true, 0);
	log_info(gw_proto_names[r->proto], "event=login ip=%s", r->ip);
	gw_auth_deliver(r, GW_AUTH_OK, 0);
}

static void
gw_auth_work_done(void *arg)
{
	struct gw_auth_req *r = arg;
	struct gw_ctx *ctx = r->ctx;

	unsigned delay;

	r->in_worker = false;
	gw_auth_release(r);
	gw_auth_unlink_inflight(r);
	switch (r->store_rc) {
	case STORE_OK:
		(void)sec_cache_put_since(ctx->login_cache, r->cache_gen, r->address, r->pw,
		    r->pwlen, r->res.sk);
		gw_auth_answer_followers(r, GW_AUTH_OK, 0);
		if (r->cancelled)
			break;
		store_audit_lazy(ctx->store, "login", r->address, r->ip, gw_proto_names[r->proto]);
		gw_auth_finish_login(r);
		return;
	case STORE_TEMPFAIL:
	case STORE_CORRUPT:
		gw_auth_answer_followers(r, GW_AUTH_TEMPFAIL, 0);
		if (r->cancelled)
			break;
		gw_auth_deliver(r, GW_AUTH_TEMPFAIL, 0);
		return;
	default:
		delay = gw_auth_note_failure(ctx, r->proto, r->ip, r->address);
		gw_auth_answer_followers(r, GW_AUTH_FAILED, delay);
		if (r->cancelled)
			break;
		gw_auth_deliver(r, GW_AUTH_FAILED, delay);
		return;
	}
	gw_auth_req_free(r);
}

/* A cache hit still needs the account to be active now. */
static bool
gw_auth_cached(struct gw_auth_req *r)
{
	struct gw_ctx *ctx = r->ctx;
	struct sec_sk *sk = sec_cache_get(ctx->login_cache, r->address, r->pw, r->pwlen);
	struct store_txn *t;
	enum store_rc rc = STORE_NOTFOUND;

	if (sk == NULL)
		return false;
	if ((t = store_read_begin(ctx->store, &rc)) != NULL) {
		rc = store_account_get(t, r->address, &r->res.account);
		store_read_end(&t);
	}
	if (rc != STORE_OK || r->res.account.state != STORE_ACCT_ACTIVE ||
	    memcmp(r->res.account.pk, sk->pk, sizeof sk->pk) != 0) {
		sec_sk_unref(&sk);
		sec_cache_forget(ctx->login_cache, r->address);
		return false;
	}
	r->res.sk = sk;
	return true;
}

struct gw_auth_req *
gw_auth_login(struct gw_ctx *ctx, enum gw_proto proto, const char *ip, const char *address,
    size_t addrlen, const char *pw, size_t pwlen, gw_auth_done_fn *done, void *arg)
{
	struct gw_auth_req *r = xcalloc(1, sizeof *r), *twin;

	r->ctx = ctx;
	r->proto = proto;
	r->done = done;
	r->arg = arg;
	r->started_ms = sg_mono_ms();
	snprintf(r->ip, sizeof r->ip, "%s", ip);
	if (addrlen > STORE_ADDR_MAX)
		addrlen = STORE_ADDR_MAX;	/* no such account; fails below */
	memcpy(r->address, address, addrlen);
	r->address[addrlen] = '\0';
	sg_ascii_lower(r->address, addrlen);
	r->pwlen = SG_MIN(pwlen, (size_t)SEC_PASSWORD_MAX);
	r->pw = sec_alloc(r->pwlen + 1);
	memcpy(r->pw, pw, r->pwlen);
	r->pw[r->pwlen] = '\0';
	if (gw_auth_locked(ctx, r->ip, r->address)) {
		atomic_fetch_add(&ctx->metrics.auth_failures, 1);
		gw_auth_deliver(r, GW_AUTH_LOCKED,
		    (unsigned)ctx->conf->limits.auth_delay_max * 1000);
	} else if (gw_auth_cached(r))
		gw_auth_finish_login(r);
	else if ((twin = gw_auth_twin(r)) != NULL) {
		r->following = true;
		r->next_follower = twin->followers;
		twin->followers = r;
	} else if (!gw_auth_reserve(r)) {
		atomic_fetch_add(&ctx->metrics.auth_failures, 1);
		log_info(gw_proto_names[proto], "event=auth_refused ip=%s reason=in_flight", r->ip);
		gw_auth_deliver(r, GW_AUTH_LOCKED,
		    (unsigned)ctx->conf->limits.auth_delay_max * 1000);
	} else {
		r->cache_gen = sec_cache_generation(ctx->login_cache);
		r->in_worker = true;
		r->next_inflight = ctx->limits->inflight;
		ctx->limits->inflight = r;
		gw_workers_submit_slow(ctx->workers, gw_auth_work, gw_auth_work_done, r);
	}
	return r;
}

void
gw_auth_cancel(struct gw_auth_req **rp)
{
	struct gw_auth_req *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	r->cancelled = true;
	if (!r->in_worker && r->timer != NULL) {
		event_del(r->timer);
		gw_auth_req_free(r);
	}
}
