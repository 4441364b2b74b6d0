/*
 * gw.h: the daemon's one explicit context. Built in main, passed down to
 * every protocol; nothing else is global. Sessions belong to the loop
 * thread; only the fields marked "any thread" may be touched elsewhere.
 */
#ifndef GW_H
#define GW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "gateway/sg.h"

struct event_base;
struct event;
struct gw_conn;
struct gw_tls;
struct gw_workers;
struct gw_loopq;
struct gw_listener;
struct gw_limits;
struct store;
struct sec_cache;
struct smtp_server;
struct imap_server;
struct portal;
struct queue_runner;

enum gw_proto {
	GW_PROTO_SMTP,		/* inbound from the organization */
	GW_PROTO_SUBMISSION,	/* replies from enrolled users */
	GW_PROTO_IMAP,
	GW_PROTO_PORTAL,
	GW_PROTO_COUNT
};

extern const char *const gw_proto_names[GW_PROTO_COUNT];

#define GW_COMMIT_BUCKETS	12	/* commit latency histogram: 0.5 ms .. 1 s, +Inf */

/* Counters for /metrics; any thread (relaxed atomics). */
struct gw_metrics {
	_Atomic uint64_t sessions[GW_PROTO_COUNT];	/* open now */
	_Atomic uint64_t sessions_total[GW_PROTO_COUNT];
	_Atomic uint64_t messages_in;
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t auth_failures;
	_Atomic uint64_t commits;
	_Atomic uint64_t commit_us_sum;
	_Atomic uint64_t commit_buckets[GW_COMMIT_BUCKETS];
	_Atomic uint64_t imap_cache_bytes;	/* also the [imap] cache_size budget */
};

extern const double gw_commit_bucket_le[GW_COMMIT_BUCKETS];	/* seconds; last is +Inf */

/* Record one commit latency in the histogram (any thread). */
void gw_metrics_commit(struct gw_metrics *m, uint64_t micros);

struct gw_ctx {
	const struct conf	*conf;
	struct event_base	*base;
	struct gw_tls		*tls;
	struct gw_workers	*workers;	/* any thread may submit */
	struct gw_loopq		*loopq;		/* any thread may post */
	struct store		*store;		/* any thread; see store/store.h */
	struct sec_cache	*login_cache;	/* any thread */
	struct gw_limits	*limits;	/* auth throttling, shared by protocols */
	struct gw_metrics	 metrics;

	struct gw_listener	*listeners;	/* linked list */
	struct gw_conn		*conns;		/* every open connection */
	unsigned		 nconns;

	struct smtp_server	*smtp;
	struct imap_server	*imap;
	struct portal		*portal;
	struct queue_runner	*queue;

	struct event		*ev_stop_timer;
	bool			 stopping;
};

/* Begin an orderly stop: listeners close, sessions say goodbye. */
void gw_stop(struct gw_ctx *ctx);

#endif
