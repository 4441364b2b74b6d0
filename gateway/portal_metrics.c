/*
 * portal_metrics.c: GET /metrics in the Prometheus text format (0.0.4),
 * only for clients in [portal] metrics_networks. The counters are the
 * relaxed atomics of ctx->metrics; the queue depth comes from the store,
 * read on a worker because the store's statistics walk the accounts.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>

#include "gateway/gw_log.h"
#include "gateway/portal_private.h"
#include "imap/imap.h"
#include "store/store.h"

struct portal_metrics_job {
	struct portal_job	j;
	enum store_rc		rc;
	struct store_stats	stats;
};

static uint64_t
portal_load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void
portal_metric_head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
portal_metrics_sessions(struct evbuffer *b, struct gw_metrics *m)
{
	int i;

	portal_metric_head(b, "sealgate_sessions", "gauge", "Open sessions by protocol.");
	for (i = 0; i < GW_PROTO_PORTAL; i++)
		evbuffer_add_printf(b, "sealgate_sessions{protocol=\"%s\"} %llu\n",
		    gw_proto_names[i], (unsigned long long)portal_load(&m->sessions[i]));
	portal_metric_head(b, "sealgate_sessions_total", "counter",
	    "Sessions accepted since start, by protocol.");
	for (i = 0; i < GW_PROTO_PORTAL; i++)
		evbuffer_add_printf(b, "sealgate_sessions_total{protocol=\"%s\"} %llu\n",
		    gw_proto_names[i], (unsigned long long)portal_load(&m->sessions_total[i]));
}

/* Cumulative buckets, as Prometheus histograms are. */
static void
portal_metrics_commits(struct evbuffer *b, struct gw_metrics *m)
{
	uint64_t cum = 0;
	size_t i;

	portal_metric_head(b, "sealgate_commit_seconds", "histogram",
	    "Latency of store commits (one fsync for a group of writes).");
	for (i = 0; i < GW_COMMIT_BUCKETS; i++) {
		cum += portal_load(&m->commit_buckets[i]);
		if (gw_commit_bucket_le[i] < 0)
			evbuffer_add_printf(b, "sealgate_commit_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
		else
			evbuffer_add_printf(b, "sealgate_commit_seconds_bucket{le=\"%g\"} %llu\n",
			    gw_commit_bucket_le[i], (unsigned long long)cum);
	}
	evbuffer_add_printf(b, "sealgate_commit_seconds_sum %.6f\n",
	    (double)portal_load(&m->commit_us_sum) / 1e6);
	evbuffer_add_printf(b, "sealgate_commit_seconds_count %llu\n",
	    (unsigned long long)portal_load(&m->commits));
}

static void
portal_metrics_counter(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	portal_metric_head(b, name, "counter", help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void
portal_metrics_render(struct evbuffer *b, struct portal *p, const struct portal_metrics_job *mj)
{
	struct gw_metrics *m = &p->ctx->metrics;

	portal_metrics_sessions(b, m);
	portal_metrics_counter(b, "sealgate_messages_in_total",
	    "Messages accepted on the inbound SMTP listener.", portal_load(&m->messages_in));
	portal_metrics_counter(b, "sealgate_bytes_in_total",
	    "Bytes of the messages accepted on the inbound SMTP listener.",
	    portal_load(&m->bytes_in));
	portal_metrics_counter(b, "sealgate_auth_failures_total",
	    "Failed or refused authentications (IMAP, submission, portal).",
	    portal_load(&m->auth_failures));
	portal_metrics_counter(b, "sealgate_portal_requests_total",
	    "HTTP requests served by the portal.", p->requests);
	portal_metric_head(b, "sealgate_queue_depth", "gauge",
	    "Entries in the outbound queue.");
	if (mj->rc == STORE_OK)
		evbuffer_add_printf(b, "sealgate_queue_depth %llu\n",
		    (unsigned long long)mj->stats.queue);
	portal_metric_head(b, "sealgate_accounts", "gauge", "Accounts by state.");
	if (mj->rc == STORE_OK) {
		evbuffer_add_printf(b, "sealgate_accounts{state=\"invited\"} %llu\n",
		    (unsigned long long)mj->stats.accounts[STORE_ACCT_INVITED]);
		evbuffer_add_printf(b, "sealgate_accounts{state=\"active\"} %llu\n",
		    (unsigned long long)mj->stats.accounts[STORE_ACCT_ACTIVE]);
		evbuffer_add_printf(b, "sealgate_accounts{state=\"disabled\"} %llu\n",
		    (unsigned long long)mj->stats.accounts[STORE_ACCT_DISABLED]);
	}
	portal_metric_head(b, "sealgate_imap_cache_bytes", "gauge",
	    "Locked memory holding IMAP listing data ([imap] cache_size).");
	evbuffer_add_printf(b, "sealgate_imap_cache_bytes %llu\n",
	    (unsigned long long)portal_load(&m->imap_cache_bytes));
	if (p->ctx->imap != NULL) {
		portal_metric_head(b, "sealgate_imap_open_keys", "gauge",
		    "Message content keys that IMAP sessions hold open in memory.");
		evbuffer_add_printf(b, "sealgate_imap_open_keys %zu\n",
		    imap_server_open_keys(p->ctx->imap));
	}
	portal_metrics_commits(b, m);
}

static void
portal_metrics_work(struct portal_job *j)
{
	struct portal_metrics_job *mj = (struct portal_metrics_job *)j;
	struct store_txn *t;

	if ((t = store_read_begin(j->ctx->store, &mj->rc)) == NULL)
		return;
	mj->rc = store_stats(t, &mj->stats);
	store_read_end(&t);
}

static void
portal_metrics_done(struct portal_job *j)
{
	struct portal_metrics_job *mj = (struct portal_metrics_job *)j;
	struct evbuffer *b = evbuffer_new();

	portal_metrics_render(b, j->p, mj);
	portal_reply(j->req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
	portal_job_end(j);
}

static void
portal_metrics_release(struct portal_job *j)
{
	free(j);
}

void
portal_metrics(struct portal *p, struct evhttp_request *req)
{
	const struct sockaddr *sa = portal_peer_addr(req);
	char ip[PORTAL_IP_MAX];
	struct portal_metrics_job *mj;

	if (sa == NULL || !conf_net_match(&p->ctx->conf->portal.metrics_networks, sa)) {
		log_info("portal", "event=metrics_denied ip=%s", portal_peer_ip(req, ip));
		portal_reply_text(req, 403, "Forbidden", "forbidden\n");
		return;
	}
	mj = xcalloc(1, sizeof *mj);
	portal_job_start(p, req, &mj->j, portal_metrics_work, portal_metrics_done,
	    portal_metrics_release);
}
