/*
 * gw_cmd.h: the sealgate commands. Each gets the loaded configuration and
 * its own arguments (argv[0] is the command name) and returns the process
 * exit status: 0 success, 1 usage, configuration or not found, 2 store error.
 */
#ifndef GW_CMD_H
#define GW_CMD_H

#include "conf/conf.h"

#define GW_EXIT_OK	0
#define GW_EXIT_USAGE	1
#define GW_EXIT_STORE	2

struct gw_cmd {
	const char	*name;
	int		(*run)(const struct conf *conf, int argc, char **argv);
	const char	*usage;
	bool		 libs;		/* needs sodium and GMime initialised */
};

int gw_cmd_serve(const struct conf *conf, int argc, char **argv);
int gw_cmd_init(const struct conf *conf, int argc, char **argv);
int gw_cmd_check_config(const struct conf *conf, int argc, char **argv);
int gw_cmd_user(const struct conf *conf, int argc, char **argv);
int gw_cmd_invite(const struct conf *conf, int argc, char **argv);
int gw_cmd_queue(const struct conf *conf, int argc, char **argv);
int gw_cmd_stats(const struct conf *conf, int argc, char **argv);
int gw_cmd_backup(const struct conf *conf, int argc, char **argv);
int gw_cmd_restore(const struct conf *conf, int argc, char **argv);
int gw_cmd_rotate_recovery_key(const struct conf *conf, int argc, char **argv);
int gw_cmd_audit(const struct conf *conf, int argc, char **argv);

/* Prepare the libraries every command may use (sodium, GMime); 0 or -1. */
int gw_libs_init(void);
void gw_libs_done(void);

#endif
