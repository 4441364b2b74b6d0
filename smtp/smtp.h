/*
 * smtp.h: the SMTP side of sealgate, as the gateway sees it: inbound
 * sessions from the organization's MTA (mail into the vault), submission
 * sessions from enrolled users, and the outbound queue runner that relays
 * invitations, notices, bounces and replies to [relay] host (or writes
 * them to data_dir/outbox). Loop thread only.
 *
 * The mail templates are built in from conf/templates; files of the same
 * names in a "templates" folder beside the configuration file replace
 * them (read once, at smtp_server_new()).
 */
#ifndef SMTP_H
#define SMTP_H

#include "gateway/gw.h"

struct gw_conn;

/* Shared state of every SMTP session and the queue runner, whose timer
 * starts here (it waits for ctx->store and ctx->workers to exist). */
struct smtp_server *smtp_server_new(struct gw_ctx *ctx);
/* After the loop ended and the workers and the store completions were
 * drained: abandons deliveries in flight (their entries stay queued). */
void smtp_server_free(struct smtp_server **s);

/* Listener start functions (gw_proto_start_fn). */
void smtp_start_inbound(struct gw_ctx *ctx, struct gw_conn *c);
void smtp_start_submission(struct gw_ctx *ctx, struct gw_conn *c);

/* Something was queued in this process: look for due entries now rather
 * than at the next tick (within a second). Other processes (admin
 * commands) need not call anything: the runner reads the store. */
void smtp_queue_kick(struct gw_ctx *ctx);

#endif
