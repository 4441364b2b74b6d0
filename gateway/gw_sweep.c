/*
 * gw_sweep.c: the retention and expiry sweeper (see gw_sweep.h). A pass is
 * a chain of small write operations: each batch's completion, back on the
 * loop, queues the next, so other sessions' writes are grouped in between
 * and nothing waits for a whole pass.
 */
#include "gateway/gw_sweep.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "gateway/gw_log.h"
#include "store/store.h"

enum gw_sweep_phase { GW_SWEEP_IDLE, GW_SWEEP_MESSAGES, GW_SWEEP_TOKENS };

struct gw_sweep {
	struct gw_ctx		*ctx;
	struct event		*timer;
	enum gw_sweep_phase	 phase;
	bool			 stopped;
	bool			 in_flight;	/* a store_write has not completed */
	uint64_t		 started_ms;
	uint64_t		 total_messages, total_tokens;
	/* One batch: the op reads these... */
	int64_t			 retention;
	uint64_t		 cursor_in;
	/* ...and fills these (it may be run twice: never touch the inputs). */
	uint64_t		 cursor_out;
	unsigned		 n;
	bool			 done;
};

static void gw_sweep_next(struct gw_sweep *sw);

static void
gw_sweep_arm(struct gw_sweep *sw, int secs)
{
	struct timeval tv = { secs, 0 };

	if (!sw->stopped)
		evtimer_add(sw->timer, &tv);
}

static enum store_rc
gw_sweep_messages_op(struct store_txn *t, void *arg)
{
	struct gw_sweep *sw = arg;
	int64_t before = store_txn_now(t) - sw->retention;
	char detail[96];
	enum store_rc rc;

	sw->cursor_out = sw->cursor_in;
	rc = store_sweep_messages(t, before, GW_SWEEP_BATCH, &sw->cursor_out, &sw->n, &sw->done);
	if (rc != STORE_OK || sw->n == 0)
		return rc;
	snprintf(detail, sizeof detail, "messages=%u before=%" PRId64, sw->n, before);
	return store_audit_add(t, "retention_expunge", NULL, NULL, detail);
}

static enum store_rc
gw_sweep_tokens_op(struct store_txn *t, void *arg)
{
	struct gw_sweep *sw = arg;
	char detail[64];
	enum store_rc rc;

	rc = store_sweep_tokens(t, store_txn_now(t), GW_SWEEP_BATCH, &sw->n);
	/* A full batch may have left more behind. */
	sw->done = sw->n < GW_SWEEP_BATCH;
	if (rc != STORE_OK || sw->n == 0)
		return rc;
	snprintf(detail, sizeof detail, "invitations=%u", sw->n);
	return store_audit_add(t, "invite_expire", NULL, NULL, detail);
}

static void
gw_sweep_finish(struct gw_sweep *sw)
{
	if (sw->total_messages > 0 || sw->total_tokens > 0)
		log_info("sweep", "event=sweep_done expunged=%" PRIu64 " invitations_expired=%"
		    PRIu64 " ms=%" PRIu64, sw->total_messages, sw->total_tokens,
		    sg_mono_ms() - sw->started_ms);
	else
		log_debug("sweep", "event=sweep_done expunged=0 invitations_expired=0");
	sw->phase = GW_SWEEP_IDLE;
	gw_sweep_arm(sw, GW_SWEEP_INTERVAL);
}

static void
gw_sweep_done(void *arg, enum store_rc rc)
{
	struct gw_sweep *sw = arg;

	sw->in_flight = false;
	if (sw->stopped)
		return;
	if (rc != STORE_OK) {
		log_error("sweep", "event=sweep_failed phase=%s error=%s",
		    sw->phase == GW_SWEEP_MESSAGES ? "messages" : "invitations", store_rc_str(rc));
		sw->phase = GW_SWEEP_IDLE;
		gw_sweep_arm(sw, GW_SWEEP_INTERVAL);
		return;
	}
	if (sw->phase == GW_SWEEP_MESSAGES) {
		sw->total_messages += sw->n;
		sw->cursor_in = sw->cursor_out;
		if (sw->done)
			sw->phase = GW_SWEEP_TOKENS;
	} else {
		sw->total_tokens += sw->n;
		if (sw->done) {
			gw_sweep_finish(sw);
			return;
		}
	}
	gw_sweep_next(sw);
}

static void
gw_sweep_next(struct gw_sweep *sw)
{
	sw->in_flight = true;
	sw->n = 0;
	sw->done = false;
	if (sw->phase == GW_SWEEP_MESSAGES)
		store_write(sw->ctx->store, gw_sweep_messages_op, gw_sweep_done, sw);
	else
		store_write(sw->ctx->store, gw_sweep_tokens_op, gw_sweep_done, sw);
}

static void
gw_sweep_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_sweep *sw = arg;

	(void)fd;
	(void)what;
	if (sw->stopped || sw->phase != GW_SWEEP_IDLE || sw->ctx->stopping)
		return;
	sw->phase = GW_SWEEP_MESSAGES;
	sw->cursor_in = 0;
	sw->total_messages = sw->total_tokens = 0;
	sw->retention = sw->ctx->conf->policy.retention;
	sw->started_ms = sg_mono_ms();
	gw_sweep_next(sw);
}

struct gw_sweep *
gw_sweep_new(struct gw_ctx *ctx)
{
	struct gw_sweep *sw = xcalloc(1, sizeof *sw);

	sw->ctx = ctx;
	sw->timer = evtimer_new(ctx->base, gw_sweep_timer_cb, sw);
	if (sw->timer == NULL)
		fatal("event=sweep_timer error=oom");
	gw_sweep_arm(sw, GW_SWEEP_FIRST);
	return sw;
}

void
gw_sweep_stop(struct gw_sweep *sw)
{
	if (sw == NULL)
		return;
	sw->stopped = true;
	evtimer_del(sw->timer);
}

void
gw_sweep_free(struct gw_sweep **swp)
{
	struct gw_sweep *sw = *swp;

	if (sw == NULL)
		return;
	*swp = NULL;
	SG_ASSERT(!sw->in_flight);
	event_free(sw->timer);
	free(sw);
}
