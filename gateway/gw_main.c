/*
 * gw_main.c: the sealgate command line. One binary is the daemon and the
 * administration tool; every command takes -c FILE.
 */
#include <gmime/gmime.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "crypto/sec.h"
#include "gateway/gw_cmd.h"
#include "gateway/gw_log.h"

static const struct gw_cmd gw_cmds[] = {
	{ "serve", gw_cmd_serve, "serve [-c FILE]            run the daemon in the foreground", true },
	{ "init", gw_cmd_init, "init [-c FILE]             create the data dir, store, keys, certificate", true },
	{ "user", gw_cmd_user, "user list|show|disable|enable|reset|delete|add ...  account administration", true },
	{ "invite", gw_cmd_invite, "invite ADDRESS [--json]    create or re-issue an invitation; prints the link", true },
	{ "queue", gw_cmd_queue, "queue list|flush|delete ID [--json]  the outbound queue", true },
	{ "stats", gw_cmd_stats, "stats [--json]             users by state, messages, bytes, queue depth", true },
	{ "backup", gw_cmd_backup, "backup DEST                a consistent hot copy of the store and keys", true },
	{ "restore", gw_cmd_restore, "restore SRC                put a backup in place (daemon stopped)", true },
	{ "rotate-recovery-key", gw_cmd_rotate_recovery_key, "rotate-recovery-key [--recovery-key FILE]  new recovery key pair, accounts re-wrapped", true },
	{ "audit", gw_cmd_audit, "audit [--since DATE|DURATION] [--account ADDR] [--json]  the audit log", true },
	{ "check-config", gw_cmd_check_config, "check-config [-c FILE]     validate and print the effective configuration", false },
};

static void
gw_usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: sealgate [-c FILE] COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < SG_NITEMS(gw_cmds); i++)
		fprintf(out, "  %s\n", gw_cmds[i].usage);
	fprintf(out, "\nWithout -c: ./sealgate.conf if present, else %s, else the embedded "
	    "default.\n", CONF_DEFAULT_SYSTEM);
}

int
gw_libs_init(void)
{
	if (sec_init() != 0)
		return -1;
	g_mime_init();
	return 0;
}

void
gw_libs_done(void)
{
	g_mime_shutdown();
}

/* Remove "-c FILE" / "--config FILE" / "--config=FILE" wherever it stands. */
static int
gw_take_config(int *argc, char **argv, const char **path_out)
{
	int i, j;

	for (i = 1; i < *argc; i++) {
		int take = 0;

		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= *argc)
				return -1;
			*path_out = argv[i + 1];
			take = 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			*path_out = argv[i] + 9;
			take = 1;
		}
		if (take > 0) {
			for (j = i; j + take <= *argc; j++)
				argv[j] = argv[j + take];
			*argc -= take;
			i--;
		}
	}
	return 0;
}

static const struct gw_cmd *
gw_cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < SG_NITEMS(gw_cmds); i++)
		if (strcmp(gw_cmds[i].name, name) == 0)
			return &gw_cmds[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	const struct gw_cmd *cmd;
	struct conf *conf;
	char *err = NULL;
	int rc;

	setlocale(LC_CTYPE, "C.UTF-8");
	if (gw_take_config(&argc, argv, &path) != 0 || argc < 2) {
		gw_usage(stderr);
		return GW_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		gw_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("sealgate %s\n", SG_VERSION);
		return 0;
	}
	if ((cmd = gw_cmd_find(argv[1])) == NULL) {
		fprintf(stderr, "sealgate: unknown command '%s'\n", argv[1]);
		gw_usage(stderr);
		return GW_EXIT_USAGE;
	}
	if (path == NULL)
		path = conf_default_path();
	if ((conf = conf_load(path, &err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return GW_EXIT_USAGE;
	}
	log_init((enum log_level)conf->gateway.log_level, (enum log_target)conf->gateway.log);
	if (cmd->libs && gw_libs_init() != 0) {
		conf_free(&conf);
		fatal("event=init error=libsodium");
	}
	rc = cmd->run(conf, argc - 1, argv + 1);
	if (cmd->libs)
		gw_libs_done();
	conf_free(&conf);
	return rc;
}

int
gw_cmd_check_config(const struct conf *conf, int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: sealgate check-config [-c FILE]\n");
		return GW_EXIT_USAGE;
	}
	conf_print(conf, stdout);
	return 0;
}
