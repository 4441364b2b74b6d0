/*
 * smtp.h: the SMTP side of sealgate, as the gateway sees it: inbound
 * sessions from the organization's MTA, submission sessions from enrolled
 * users, and (later) the queue runner that relays outbound mail.
 */
#ifndef SMTP_H
#define SMTP_H

#include "gateway/gw.h"

struct gw_conn;

/* Shared state of every SMTP session; loop thread only. */
struct smtp_server *smtp_server_new(struct gw_ctx *ctx);
void smtp_server_free(struct smtp_server **s);

/* Listener start functions (gw_proto_start_fn). */
void smtp_start_inbound(struct gw_ctx *ctx, struct gw_conn *c);
void smtp_start_submission(struct gw_ctx *ctx, struct gw_conn *c);

#endif
