/*
 * gw_init.c: `sealgate init`. Creates what the daemon needs and nothing it
 * already has: running it again is harmless, and it never overwrites a key
 * or certificate. Run as root with [gateway] user set, it hands data_dir
 * and everything in it to that user, who runs the daemon.
 */
#include "gateway/gw_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gw_log.h"
#include "gateway/gw_tls.h"
#include "gateway/gw_init.h"
#include "gateway/gw_privs.h"

/* mkdir -p; the last component gets mode. */
int
gw_mkdirs(const char *path, mode_t mode, char **err_out)
{
	char *p = xstrdup(path), *s;
	struct stat st;
	int rc = 0;

	for (s = p + 1; rc == 0 && (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, mode) != 0 && errno != EEXIST)
		rc = -1;
	if (rc == 0 && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
		rc = -1;
	if (rc == 0 && (st.st_mode & 07777) != mode && chmod(p, mode) != 0)
		rc = -1;
	if (rc != 0)
		*err_out = xasprintf("cannot create directory %s: %s", path, strerror(errno));
	free(p);
	return rc;
}

static bool
gw_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int
gw_init_tls(const struct conf *conf, char **err_out)
{
	char *dir = xasprintf("%s/tls", conf->gateway.data_dir);
	bool have_cert = gw_exists(conf->tls.cert), have_key = gw_exists(conf->tls.key);
	bool ours = strncmp(conf->tls.cert, dir, strlen(dir)) == 0 &&
	    strncmp(conf->tls.key, dir, strlen(dir)) == 0;
	int rc = 0;

	if (have_cert && have_key) {
		free(dir);
		return 0;
	}
	if (!ours || have_cert != have_key) {
		*err_out = xasprintf("[tls] cert %s or key %s is missing; init only makes a "
		    "self-signed pair when neither exists in %s", conf->tls.cert, conf->tls.key, dir);
		free(dir);
		return -1;
	}
	rc = gw_mkdirs(dir, 0700, err_out);
	if (rc == 0)
		rc = gw_tls_selfsigned(conf->tls.cert, conf->tls.key, conf->gateway.hostname,
		    err_out);
	if (rc == 0)
		printf("created self-signed certificate %s for %s\n", conf->tls.cert,
		    conf->gateway.hostname);
	free(dir);
	return rc;
}

int
gw_cmd_init(const struct conf *conf, int argc, char **argv)
{
	char *err = NULL, *outbox;
	int rc;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: sealgate init [-c FILE]\n");
		return GW_EXIT_USAGE;
	}
	outbox = xasprintf("%s/outbox", conf->gateway.data_dir);
	rc = gw_mkdirs(conf->gateway.data_dir, 0700, &err);
	if (rc == 0)
		rc = gw_mkdirs(outbox, 0700, &err);
	if (rc == 0)
		rc = gw_init_tls(conf, &err);
	if (rc == 0)
		rc = gw_init_vault(conf, &err);
	if (rc == 0)
		rc = gw_privs_chown_data(conf, &err);
	free(outbox);
	if (rc != 0) {
		fprintf(stderr, "sealgate init: %s\n", err);
		free(err);
		return GW_EXIT_STORE;
	}
	if (geteuid() == 0 && conf->gateway.user[0] != '\0')
		printf("data directory %s is ready, owned by %s\n", conf->gateway.data_dir,
		    conf->gateway.user);
	else
		printf("data directory %s is ready\n", conf->gateway.data_dir);
	return 0;
}
