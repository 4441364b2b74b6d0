/* portal_private.h: shared by the portal's handler files. */
#ifndef PORTAL_PRIVATE_H
#define PORTAL_PRIVATE_H

#include "gateway/portal.h"

struct evhttp;
struct evhttp_request;

struct portal {
	struct gw_ctx	*ctx;
	struct evhttp	*http;
};

/* Content-Type plus the security headers every response carries. */
void portal_headers(struct evhttp_request *req, const char *content_type);
void portal_reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *text);

#endif
