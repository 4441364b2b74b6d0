/*
 * imap.h: the IMAP server as the gateway sees it.
 */
#ifndef IMAP_H
#define IMAP_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/gw.h"

struct gw_conn;

/* Shared state of every IMAP session (mailbox watchers); loop thread only. */
struct imap_server *imap_server_new(struct gw_ctx *ctx);
void imap_server_free(struct imap_server **s);

/* Changes committed to these mailboxes: IDLE sessions hear of them now. */
void imap_server_notify(struct imap_server *s, const uint64_t *mailboxes, size_t n);
/* These accounts' keys changed: their sessions end (they must log in again). */
void imap_server_drop_keys(struct imap_server *s, const uint64_t *accounts, size_t n);

/* End the sessions of accounts that another process disabled, reset or
 * deleted (housekeeping; the store's change hook covers this process). */
void imap_server_check_accounts(struct imap_server *s);

/* Content keys that open sessions hold in memory, all accounts together. */
size_t imap_server_open_keys(const struct imap_server *s);

/* Listener start function (gw_proto_start_fn). */
void imap_start(struct gw_ctx *ctx, struct gw_conn *c);

#endif
