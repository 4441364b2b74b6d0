/*
 * portal.h: the HTTPS portal (enrollment, password change, client setup,
 * health and metrics), served with evhttp on the [portal] listeners.
 */
#ifndef PORTAL_H
#define PORTAL_H

#include "gateway/gw.h"

/* Bind every [portal] listen address. NULL with *err_out on failure. */
struct portal *portal_new(struct gw_ctx *ctx, char **err_out);
/* Close listeners and open connections at once (shutdown). */
void portal_free(struct portal **p);

#endif
