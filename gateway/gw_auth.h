/*
 * gw_auth.h: password authentication shared by IMAP, submission and the
 * portal. One place decides: the login cache, the Argon2id unwrap on a
 * worker thread, growing delays after failures (timers, never sleeps), the
 * temporary lock per address and per account, the audit entries and the
 * metrics. Loop thread only.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/gw.h"
#include "store/store.h"

struct sec_sk;

enum gw_auth_rc {
	GW_AUTH_OK,
	GW_AUTH_FAILED,		/* wrong address or password (never say which) */
	GW_AUTH_LOCKED,		/* too many failures: try later */
	GW_AUTH_DISABLED,	/* the account exists but may not log in */
	GW_AUTH_TEMPFAIL,	/* store error */
};

struct gw_auth_result {
	enum gw_auth_rc		rc;
	struct store_account	account;	/* valid when rc == GW_AUTH_OK */
	struct sec_sk		*sk;		/* a reference; the receiver owns it */
};

/* Called on the loop. To keep the key, take res->sk and set it to NULL;
 * whatever is left in res is released after the call. */
typedef void gw_auth_done_fn(void *arg, struct gw_auth_result *res);

/*
 * Check address/password for a session of `proto` from `ip`. The password
 * is copied into secret memory at once (the caller should wipe its own
 * copy); done() always runs later on the loop, never inside this call.
 * `owner` is a generation-checked handle the caller may use to discard a
 * late answer; see gw_auth_cancel().
 */
struct gw_auth_req;
struct gw_auth_req *gw_auth_login(struct gw_ctx *ctx, enum gw_proto proto, const char *ip,
    const char *address, size_t addrlen, const char *pw, size_t pwlen, gw_auth_done_fn *done,
    void *arg);
/* The session is going away: done() will not be called; the request's
 * memory is freed when the worker returns. */
void gw_auth_cancel(struct gw_auth_req **req);

/* Portal and admin use these too: true if ip or account is locked now. */
bool gw_auth_locked(struct gw_ctx *ctx, const char *ip, const char *address);
/* Record a failure decided elsewhere (e.g. a wrong current password on the
 * portal) so that delays and locks are shared; returns the delay in ms the
 * caller must wait before answering. */
unsigned gw_auth_note_failure(struct gw_ctx *ctx, enum gw_proto proto, const char *ip,
    const char *address);
void gw_auth_note_success(struct gw_ctx *ctx, const char *ip, const char *address);

struct gw_limits *gw_limits_new(const struct conf *conf);
void gw_limits_free(struct gw_limits **l);

#endif
