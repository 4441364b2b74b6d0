/*
 * gw_admin.c: the administration commands on the same binary as the
 * daemon. They open the same LMDB environment (LMDB allows several
 * processes; writes queue behind the daemon's). Exit status: 0 done,
 * 1 usage or not found, 2 store error. This file holds what the commands
 * share (options, output), `user add` and the `user` dispatcher; the other
 * verbs are in gw_admin_user.c, gw_admin_invite.c and gw_admin_queue.c.
 *
 * Changes made here reach a running daemon through the store: it reads
 * account states at each login, and its queue runner polls every second.
 */
#include "gateway/gw_admin_private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/sec.h"
#include "gateway/gw_init.h"
#include "gateway/gw_log.h"
#include "gateway/portal_private.h"

#define GW_USER_USAGE \
	"usage: sealgate user list [--json]\n" \
	"       sealgate user show ADDRESS [--json]\n" \
	"       sealgate user disable|enable|delete ADDRESS [--json]\n" \
	"       sealgate user reset ADDRESS [--recovery-key FILE] [--new-key] [--json]\n" \
	"       sealgate user add ADDRESS --password-stdin [--json]\n"

/* ---- options and output ---- */

static void
gw_admin_remove(int *argc, char **argv, int i, int n)
{
	int j;

	for (j = i; j + n <= *argc; j++)
		argv[j] = argv[j + n];
	*argc -= n;
}

bool
gw_admin_flag(int *argc, char **argv, const char *flag)
{
	bool found = false;
	int i;

	for (i = 1; i < *argc; i++)
		if (strcmp(argv[i], flag) == 0) {
			gw_admin_remove(argc, argv, i--, 1);
			found = true;
		}
	return found;
}

int
gw_admin_option(int *argc, char **argv, const char *name, const char **value_out)
{
	size_t n = strlen(name);
	int i;

	for (i = 1; i < *argc; i++) {
		if (strcmp(argv[i], name) == 0) {
			if (i + 1 >= *argc)
				return -1;
			*value_out = argv[i + 1];
			gw_admin_remove(argc, argv, i, 2);
			return 1;
		}
		if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
			*value_out = argv[i] + n + 1;
			gw_admin_remove(argc, argv, i, 1);
			return 1;
		}
	}
	return 0;
}

bool
gw_admin_unknown_option(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strncmp(argv[i], "--", 2) == 0) {
			fprintf(stderr, "sealgate: unknown option '%s'\n", argv[i]);
			return true;
		}
	return false;
}

struct store *
gw_admin_open(const struct conf *conf, bool write)
{
	char *err = NULL;
	struct store *st = gw_vault_open(conf, !write, &err);

	if (st == NULL) {
		fprintf(stderr, "sealgate: %s\n", err);
		free(err);
	}
	return st;
}

int
gw_admin_fail(const char *what, enum store_rc rc)
{
	switch (rc) {
	case STORE_NOTFOUND:
		fprintf(stderr, "sealgate: %s: no such account\n", what);
		return GW_EXIT_USAGE;
	case STORE_INVALID:
		fprintf(stderr, "sealgate: %s: not a valid address or argument\n", what);
		return GW_EXIT_USAGE;
	default:
		fprintf(stderr, "sealgate: %s: store error: %s\n", what, store_rc_str(rc));
		return GW_EXIT_STORE;
	}
}

void
gw_admin_json_str(FILE *out, const char *s)
{
	char *q = portal_json_str(s);

	fputs(q, out);
	free(q);
}

void
gw_admin_json_time(FILE *out, int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		fputs("null", out);
	else
		fprintf(out, "\"%s\"", buf);
}

const char *
gw_admin_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%MZ",
	    &tm) == 0)
		snprintf(buf, size, "-");
	return buf;
}

char *
gw_admin_link(const struct conf *conf, const char *token)
{
	return xasprintf("%s/enroll/%s", conf->portal.public_url, token);
}

/* ---- user add ---- */

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
gw_user_add(const struct conf *conf, struct store *st, int argc, char **argv, bool json)
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
	if (rc != STORE_OK)
		return gw_admin_fail(argv[2], rc);
	if (json) {
		fputs("{\"address\": ", stdout);
		gw_admin_json_str(stdout, a.address);
		fputs(", \"state\": \"active\"}\n", stdout);
	} else
		printf("%s active\n", a.address);
	return 0;
}

/* ---- the user command ---- */

struct gw_subcmd {
	const char	*name;
	int		(*run)(const struct conf *conf, struct store *st, int argc, char **argv,
			    bool json);
	bool		 write;
	int		 min_argc, max_argc;	/* checked before the store is opened */
};

static const struct gw_subcmd gw_user_cmds[] = {
	{ "list", gw_admin_user_list, false, 2, 2 },
	{ "show", gw_admin_user_show, false, 3, 3 },
	{ "disable", gw_admin_user_disable, true, 3, 3 },
	{ "enable", gw_admin_user_enable, true, 3, 3 },
	{ "reset", gw_admin_user_reset, true, 3, 6 },	/* options parsed by the verb */
	{ "delete", gw_admin_user_delete, true, 3, 3 },
	{ "add", gw_user_add, true, 4, 4 },
};

int
gw_cmd_user(const struct conf *conf, int argc, char **argv)
{
	bool json = gw_admin_flag(&argc, argv, "--json");
	struct store *st;
	size_t i;
	int rc;

	for (i = 0; argc >= 2 && i < SG_NITEMS(gw_user_cmds); i++)
		if (strcmp(argv[1], gw_user_cmds[i].name) == 0)
			break;
	if (argc < 2 || i == SG_NITEMS(gw_user_cmds) || argc < gw_user_cmds[i].min_argc ||
	    argc > gw_user_cmds[i].max_argc) {
		fputs(GW_USER_USAGE, stderr);
		return GW_EXIT_USAGE;
	}
	if ((st = gw_admin_open(conf, gw_user_cmds[i].write)) == NULL)
		return GW_EXIT_STORE;
	rc = gw_user_cmds[i].run(conf, st, argc, argv, json);
	store_close(&st);
	return rc;
}
