/*
 * gw_tls.c: OpenSSL server contexts. A reload builds a whole new SSL_CTX
 * and swaps it in only if it loaded; connections keep the context they
 * started with (SSL objects hold a reference), so SIGHUP never breaks an
 * open session.
 */
#include "gateway/gw_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gw_log.h"

/* Mozilla's "intermediate" TLS 1.2 suites; TLS 1.3 uses OpenSSL's defaults. */
#define GW_TLS12_CIPHERS						\
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"	\
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"	\
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"	\
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

#define GW_TLS_CERT_DAYS	825

struct gw_tls {
	const struct conf	*conf;
	SSL_CTX			*ctx;
};

static char *
gw_tls_err(const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return xasprintf("%s %s: %s", what, path, buf);
}

/* Group-readable keys are Debian's ssl-cert convention; world-readable never. */
static char *
gw_tls_check_key_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return xasprintf("cannot read key %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return xasprintf("refusing key %s: not a regular file", path);
	if (st.st_mode & S_IROTH)
		return xasprintf("refusing key %s: mode %04o is readable by others", path,
		    (unsigned)(st.st_mode & 07777));
	return NULL;
}

static SSL_CTX *
gw_tls_build(const struct conf *conf, char **err_out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int minv = conf->tls.min_version == CONF_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;

	*err_out = gw_tls_check_key_mode(conf->tls.key);
	if (*err_out != NULL || ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, minv);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* Idle connections (IMAP IDLE) should not hold 34 KiB of buffers each. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, GW_TLS12_CIPHERS) != 1) {
		*err_out = gw_tls_err("cannot set ciphers for", "TLS 1.2");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->tls.cert) != 1) {
		*err_out = gw_tls_err("cannot load certificate", conf->tls.cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, conf->tls.key, SSL_FILETYPE_PEM) != 1) {
		*err_out = gw_tls_err("cannot load key", conf->tls.key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*err_out = gw_tls_err("key does not match certificate", conf->tls.cert);
		goto fail;
	}
	return ctx;
fail:
	if (*err_out == NULL)
		*err_out = gw_tls_err("cannot create TLS context for", conf->tls.cert);
	SSL_CTX_free(ctx);
	return NULL;
}

struct gw_tls *
gw_tls_new(const struct conf *conf, char **err_out)
{
	struct gw_tls *t;
	SSL_CTX *ctx = gw_tls_build(conf, err_out);

	if (ctx == NULL)
		return NULL;
	t = xcalloc(1, sizeof *t);
	t->conf = conf;
	t->ctx = ctx;
	return t;
}

int
gw_tls_reload(struct gw_tls *t, char **err_out)
{
	SSL_CTX *ctx = gw_tls_build(t->conf, err_out);

	if (ctx == NULL)
		return -1;
	SSL_CTX_free(t->ctx);	/* live SSL objects keep their own reference */
	t->ctx = ctx;
	return 0;
}

SSL *
gw_tls_ssl_new(struct gw_tls *t)
{
	SSL *ssl = SSL_new(t->ctx);

	if (ssl == NULL)
		fatal("event=ssl_new error=oom");
	return ssl;
}

SSL_CTX *
gw_tls_client_ctx_new(const struct conf *conf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		fatal("event=ssl_ctx_new error=oom");
	SSL_CTX_set_min_proto_version(ctx,
	    conf->tls.min_version == CONF_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_verify_paths(ctx);
	return ctx;
}

void
gw_tls_free(struct gw_tls **tp)
{
	if (*tp == NULL)
		return;
	SSL_CTX_free((*tp)->ctx);
	free(*tp);
	*tp = NULL;
}

static int
gw_tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int rc;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

static X509 *
gw_tls_make_cert(EVP_PKEY *pkey, const char *hostname)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char *san = strcmp(hostname, "localhost") == 0 ?
	    xstrdup("DNS:localhost,IP:127.0.0.1,IP:::1") :
	    xasprintf("DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname);
	int ok = x != NULL;

	ok = ok && RAND_bytes(serial, sizeof serial) == 1;
	serial[0] &= 0x7f;	/* positive serial */
	ok = ok && (bn = BN_bin2bn(serial, sizeof serial, NULL)) != NULL;
	ok = ok && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	ok = ok && X509_set_version(x, 2) == 1;
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL;
	ok = ok && X509_gmtime_adj(X509_getm_notAfter(x), 86400L * GW_TLS_CERT_DAYS) != NULL;
	ok = ok && X509_set_pubkey(x, pkey) == 1;
	name = ok ? X509_get_subject_name(x) : NULL;
	ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"sealgate self-signed", -1, -1, 0) == 1;
	ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)hostname, -1, -1, 0) == 1;
	ok = ok && X509_set_issuer_name(x, name) == 1;
	ok = ok && gw_tls_add_ext(x, NID_subject_alt_name, san) == 0;
	ok = ok && gw_tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == 0;
	ok = ok && gw_tls_add_ext(x, NID_key_usage, "critical,digitalSignature") == 0;
	ok = ok && gw_tls_add_ext(x, NID_ext_key_usage, "serverAuth") == 0;
	ok = ok && gw_tls_add_ext(x, NID_subject_key_identifier, "hash") == 0;
	ok = ok && X509_sign(x, pkey, EVP_sha256()) > 0;
	BN_free(bn);
	free(san);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static FILE *
gw_tls_create_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	return fd < 0 ? NULL : fdopen(fd, "w");
}

static int
gw_tls_write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *x, char **err_out)
{
	FILE *f = gw_tls_create_file(path, mode);
	int ok;

	if (f == NULL) {
		*err_out = xasprintf("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	ok = pkey != NULL ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_X509(f, x);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0 || !ok) {
		*err_out = xasprintf("cannot write %s", path);
		unlink(path);
		return -1;
	}
	return 0;
}

int
gw_tls_selfsigned(const char *cert_path, const char *key_path, const char *hostname,
    char **err_out)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = pkey != NULL ? gw_tls_make_cert(pkey, hostname) : NULL;
	int rc = -1;

	*err_out = NULL;
	if (x == NULL)
		*err_out = gw_tls_err("cannot make a self-signed certificate for", hostname);
	else if (gw_tls_write_pem(key_path, 0600, pkey, NULL, err_out) == 0) {
		if (gw_tls_write_pem(cert_path, 0644, NULL, x, err_out) == 0)
			rc = 0;
		else
			unlink(key_path);
	}
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}
