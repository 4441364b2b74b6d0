/*
 * gw_admin.c: the administration commands on the same binary as the
 * daemon. They open the same LMDB environment (LMDB allows several
 * processes; writes queue behind the daemon's). Exit status: 0 done,
 * 1 usage or not found, 2 store error.
 */
#include "gateway/gw_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw_init.h"
#include "gateway/gw_log.h"
#include "store/store.h"

/* One line from stdin into secret memory, without its line end. */
static char *
gw_read_password(size_t *len_out)
{
	char *pw = sec_alloc(SEC_PASSWORD_MAX + 2);
	size_t n;

	if (fgets(pw, SEC_PASSWORD_MAX + 2, stdin) == NULL) {
		sec_free(pw, SEC_PASSWORD_MAX + 2);
		return NULL;
	}
	n = strlen(pw);
	while (n > 0 && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
		pw[--n] = '\0';
	*len_out = n;
	return pw;
}

static int
gw_user_add(const struct conf *conf, struct store *st, int argc, char **argv)
{
	struct store_account a;
	enum store_rc rc;
	size_t pwlen = 0;
	char *pw;

	if (argc != 4 || strcmp(argv[3], "--password-stdin") != 0) {
		fprintf(stderr, "usage: sealgate user add ADDRESS --password-stdin\n");
		return GW_EXIT_USAGE;
	}
	if ((pw = gw_read_password(&pwlen)) == NULL || pwlen == 0) {
		fprintf(stderr, "sealgate: no password on standard input\n");
		sec_free(pw, SEC_PASSWORD_MAX + 2);
		return GW_EXIT_USAGE;
	}
	rc = store_account_add(st, argv[2], pw, pwlen, conf->policy.password_kdf, &a);
	sec_free(pw, SEC_PASSWORD_MAX + 2);
	if (rc == STORE_EXISTS) {
		fprintf(stderr, "sealgate: %s already has an account\n", argv[2]);
		return GW_EXIT_USAGE;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "sealgate: cannot add %s: %s\n", argv[2], store_rc_str(rc));
		return rc == STORE_INVALID ? GW_EXIT_USAGE : GW_EXIT_STORE;
	}
	printf("%s active\n", a.address);
	return 0;
}

struct gw_subcmd {
	const char	*name;
	int		(*run)(const struct conf *conf, struct store *st, int argc, char **argv);
	bool		 write;
};

static const struct gw_subcmd gw_user_cmds[] = {
	{ "add", gw_user_add, true },
};

int
gw_cmd_user(const struct conf *conf, int argc, char **argv)
{
	struct store *st;
	char *err = NULL;
	size_t i;
	int rc;

	for (i = 0; argc >= 2 && i < SG_NITEMS(gw_user_cmds); i++)
		if (strcmp(argv[1], gw_user_cmds[i].name) == 0)
			break;
	if (argc < 2 || i == SG_NITEMS(gw_user_cmds)) {
		fprintf(stderr, "usage: sealgate user add ADDRESS --password-stdin\n");
		return GW_EXIT_USAGE;
	}
	if ((st = gw_vault_open(conf, !gw_user_cmds[i].write, &err)) == NULL) {
		fprintf(stderr, "sealgate: %s\n", err);
		free(err);
		return GW_EXIT_STORE;
	}
	rc = gw_user_cmds[i].run(conf, st, argc, argv);
	store_close(&st);
	return rc;
}
