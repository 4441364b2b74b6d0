/*
 * imap.h: the IMAP server as the gateway sees it.
 */
#ifndef IMAP_H
#define IMAP_H

#include "gateway/gw.h"

struct gw_conn;

/* Shared state of every IMAP session (mailbox watchers); loop thread only. */
struct imap_server *imap_server_new(struct gw_ctx *ctx);
void imap_server_free(struct imap_server **s);

/* Listener start function (gw_proto_start_fn). */
void imap_start(struct gw_ctx *ctx, struct gw_conn *c);

#endif
