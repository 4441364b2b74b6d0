/*
 * gw_tls.h: the OpenSSL server context (TLS 1.2 minimum, modern ciphers),
 * reloaded from the certificate files on SIGHUP, and the self-signed
 * certificate that init makes when none is configured. Loop thread only,
 * except gw_tls_selfsigned.
 */
#ifndef GW_TLS_H
#define GW_TLS_H

#include <openssl/ssl.h>

#include "conf/conf.h"

struct gw_tls;

/* NULL with *err_out (malloc'd) if the certificate or key cannot be used. */
struct gw_tls *gw_tls_new(const struct conf *conf, char **err_out);
/* Load the files again; on failure the old context stays. 0 or -1. */
int gw_tls_reload(struct gw_tls *t, char **err_out);
/* A new server SSL object on the current context. */
SSL *gw_tls_ssl_new(struct gw_tls *t);
/* A client context for the relay (verification per caller). */
SSL_CTX *gw_tls_client_ctx_new(const struct conf *conf);
void gw_tls_free(struct gw_tls **t);

/* Write a self-signed P-256 certificate for hostname (SAN: hostname,
 * localhost, 127.0.0.1, ::1), key mode 0600. 0 or -1 with *err_out. */
int gw_tls_selfsigned(const char *cert_path, const char *key_path, const char *hostname,
    char **err_out);

#endif
