/* gw_metrics.c: the counters behind /metrics. */
#include "gateway/gw.h"

const char *const gw_proto_names[GW_PROTO_COUNT] = { "smtp", "submission", "imap", "portal" };

const double gw_commit_bucket_le[GW_COMMIT_BUCKETS] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, -1.0 /* +Inf */
};

void
gw_metrics_commit(struct gw_metrics *m, uint64_t micros)
{
	size_t i;

	atomic_fetch_add_explicit(&m->commits, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->commit_us_sum, micros, memory_order_relaxed);
	for (i = 0; i + 1 < GW_COMMIT_BUCKETS; i++)
		if ((double)micros <= gw_commit_bucket_le[i] * 1e6)
			break;
	atomic_fetch_add_explicit(&m->commit_buckets[i], 1, memory_order_relaxed);
}
