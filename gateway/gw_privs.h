/*
 * gw_privs.h: giving up root. `serve` started as root binds its listeners
 * and loads its keys, then becomes [gateway] user for good; `init` as root
 * hands the data directory to that user. Startup only (blocking, not
 * thread-safe: call before the loop runs).
 */
#ifndef GW_PRIVS_H
#define GW_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/conf.h"

struct gw_privs {
	bool	 drop;		/* started as root with a user to become */
	uid_t	 uid;
	gid_t	 gid;
	char	 name[64];
};

/*
 * Before anything is opened: decide what serve will do. As root, [gateway]
 * user must name an existing user other than root (else -1: serve refuses
 * to run as root), and data_dir must belong to it. Not root: with a user
 * set, we must already be that user (systemd's User=); nothing to drop.
 * 0, or -1 with *err_out (malloc'd).
 */
int gw_privs_prepare(const struct conf *conf, struct gw_privs *p, char **err_out);

/*
 * After binding and loading keys: setgroups (the user's groups),
 * setresgid, setresuid to the user, check that root cannot be regained,
 * and mark the process non-dumpable (no core holds a key) in every case.
 * 0, or -1 with *err_out; on -1 the caller must exit.
 */
int gw_privs_drop(const struct gw_privs *p, char **err_out);

/*
 * init as root with [gateway] user set: give data_dir and everything under
 * it to that user and its group (symbolic links are not followed). 0 when
 * there is nothing to do or it was done; -1 with *err_out.
 */
int gw_privs_chown_data(const struct conf *conf, char **err_out);

/*
 * The daemon's lock: data_dir/sealgate.pid, holding serve's pid under an
 * exclusive flock for as long as it runs, so that a second serve, restore
 * and rotate-recovery-key can tell that a daemon uses this data_dir.
 * Take it before the drop (the file is handed to the user). Returns the fd
 * (kept open until exit), or -1 with *err_out.
 */
int gw_privs_lock_take(const struct conf *conf, const struct gw_privs *p, char **err_out);
/* Is a daemon running on this data_dir? (Any user may ask.) */
bool gw_privs_daemon_running(const char *data_dir);

#endif
