/*
 * gw_sweep.h: retention and expiry on the daemon's loop. A timer runs a
 * pass shortly after start and every GW_SWEEP_INTERVAL: messages older than
 * [policy] retention are expunged and invitation tokens past their expiry
 * dropped, GW_SWEEP_BATCH at a time, one store_write after the other, so
 * neither the loop nor the writer is held for long. Each batch is audited
 * in its own transaction. IMAP sessions learn of the expunges through the
 * store's change hook like any other. Loop thread only.
 */
#ifndef GW_SWEEP_H
#define GW_SWEEP_H

#include "gateway/gw.h"

#define GW_SWEEP_FIRST		10	/* seconds after start */
#define GW_SWEEP_INTERVAL	600	/* seconds between passes */
#define GW_SWEEP_BATCH		200	/* items per transaction */

struct gw_sweep;

/* Arm the timer; ctx->store must be open. */
struct gw_sweep *gw_sweep_new(struct gw_ctx *ctx);
/* No new batch starts after this; one in flight finishes harmlessly. */
void gw_sweep_stop(struct gw_sweep *sw);
/* After store_close() and the last loop-queue drain (a batch's completion
 * may still be queued until then). */
void gw_sweep_free(struct gw_sweep **sw);

#endif
