/*
 * gw_privs.c: the privilege drop, in OpenSMTPD's order within one process:
 * as root, bind every listener and load the TLS, queue and recovery keys;
 * then setgroups, setresgid, setresuid to [gateway] user; check that root
 * cannot come back; PR_SET_DUMPABLE 0 so that no core file or ptrace holds
 * a key. Under systemd the unit starts us as the user already (User=, with
 * CAP_NET_BIND_SERVICE for the low ports), and only the last step remains.
 */
#define _GNU_SOURCE	/* setresuid, setresgid, getresuid, getgrouplist, setgroups */
#include "gateway/gw_privs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gw_log.h"

#define GW_PRIVS_PWBUF		16384
#define GW_PRIVS_GROUPS_MAX	64
#define GW_PRIVS_DEPTH_MAX	16	/* data_dir is shallow: store/, tls/, outbox/ */

/* The test harness and the Quick start (loopback ports, a developer's
 * machine) set this to run as root on purpose; a deployment never should. */
#define GW_PRIVS_ALLOW_ROOT_ENV	"SEALGATE_ALLOW_ROOT"

static int
gw_privs_lookup(const char *user, struct gw_privs *p, char **err_out)
{
	struct passwd pw, *res = NULL;
	char *buf = xmalloc(GW_PRIVS_PWBUF);
	int rc;

	rc = getpwnam_r(user, &pw, buf, GW_PRIVS_PWBUF, &res);
	if (rc != 0 || res == NULL) {
		*err_out = xasprintf("[gateway] user %s: no such user%s%s", user,
		    rc != 0 ? ": " : "", rc != 0 ? strerror(rc) : "");
		free(buf);
		return -1;
	}
	p->uid = pw.pw_uid;
	p->gid = pw.pw_gid;
	snprintf(p->name, sizeof p->name, "%s", pw.pw_name);
	free(buf);
	return 0;
}

int
gw_privs_prepare(const struct conf *conf, struct gw_privs *p, char **err_out)
{
	const char *user = conf->gateway.user;
	const char *allow = getenv(GW_PRIVS_ALLOW_ROOT_ENV);
	struct stat sb;

	memset(p, 0, sizeof *p);
	if (user[0] == '\0') {
		if (geteuid() != 0)
			return 0;
		if (allow != NULL && strcmp(allow, "1") == 0) {
			log_warn("core", "event=running_as_root reason=" GW_PRIVS_ALLOW_ROOT_ENV);
			return 0;
		}
		*err_out = xasprintf("refusing to run as root without [gateway] user "
		    "(set it to the service account, e.g. sealgate)");
		return -1;
	}
	if (gw_privs_lookup(user, p, err_out) != 0)
		return -1;
	if (p->uid == 0) {
		*err_out = xasprintf("[gateway] user %s is root; name an unprivileged user", user);
		return -1;
	}
	if (geteuid() != 0) {
		if (getuid() != p->uid || geteuid() != p->uid) {
			*err_out = xasprintf("[gateway] user is %s, but serve runs as uid %u and "
			    "cannot switch (start it as root or as %s)", user, (unsigned)geteuid(),
			    user);
			return -1;
		}
		return 0;	/* already the user (systemd User=) */
	}
	/* After the drop the daemon writes there (outbox, the map's growth). */
	if (stat(conf->gateway.data_dir, &sb) != 0 || sb.st_uid != p->uid) {
		*err_out = xasprintf("%s is not owned by %s; run sealgate init as root to hand "
		    "it over", conf->gateway.data_dir, user);
		return -1;
	}
	p->drop = true;
	return 0;
}

/* Try to become root again; any success is a broken drop. */
static bool
gw_privs_root_regained(void)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return true;
	if (r == 0 || e == 0 || s == 0 || rg == 0 || eg == 0 || sg == 0)
		return true;
	return setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setegid(0) == 0;
}

static int
gw_privs_switch(const struct gw_privs *p, char **err_out)
{
	gid_t groups[GW_PRIVS_GROUPS_MAX];
	int ngroups = GW_PRIVS_GROUPS_MAX;
	uid_t r, e, s;
	gid_t rg, eg, sg;

	/* The user's own groups (ssl-cert, say, for a key reloaded on SIGHUP),
	 * and none of root's. */
	if (getgrouplist(p->name, p->gid, groups, &ngroups) < 0) {
		groups[0] = p->gid;
		ngroups = 1;
	}
	if (setgroups((size_t)ngroups, groups) != 0 ||
	    setresgid(p->gid, p->gid, p->gid) != 0 ||
	    setresuid(p->uid, p->uid, p->uid) != 0) {
		*err_out = xasprintf("cannot become %s: %s", p->name, strerror(errno));
		return -1;
	}
	if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0 || r != p->uid ||
	    e != p->uid || s != p->uid || rg != p->gid || eg != p->gid || sg != p->gid ||
	    gw_privs_root_regained()) {
		*err_out = xasprintf("privilege drop to %s did not hold", p->name);
		return -1;
	}
	return 0;
}

int
gw_privs_drop(const struct gw_privs *p, char **err_out)
{
	if (p->drop && gw_privs_switch(p, err_out) != 0)
		return -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		*err_out = xasprintf("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return -1;
	}
	if (p->drop)
		log_info("core", "event=privileges_dropped user=%s uid=%u gid=%u", p->name,
		    (unsigned)p->uid, (unsigned)p->gid);
	return 0;
}

/* chown dirfd/name and, for a directory, everything in it (no symlinks
 * followed: a link's own owner changes, its target's does not). */
static int
gw_privs_chown_at(int atfd, const char *name, const char *path, const struct gw_privs *p,
    int depth, char **err_out)
{
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd, rc = 0;

	if (fstatat(atfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	    fchownat(atfd, name, p->uid, p->gid, AT_SYMLINK_NOFOLLOW) != 0) {
		*err_out = xasprintf("cannot chown %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode))
		return 0;
	if (depth >= GW_PRIVS_DEPTH_MAX) {
		*err_out = xasprintf("%s: too deep", path);
		return -1;
	}
	fd = openat(atfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		*err_out = xasprintf("cannot open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char *sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", path, de->d_name);
		rc = gw_privs_chown_at(dirfd(d), de->d_name, sub, p, depth + 1, err_out);
		free(sub);
	}
	closedir(d);
	return rc;
}

int
gw_privs_chown_data(const struct conf *conf, char **err_out)
{
	struct gw_privs p;

	if (geteuid() != 0 || conf->gateway.user[0] == '\0')
		return 0;
	if (gw_privs_lookup(conf->gateway.user, &p, err_out) != 0)
		return -1;
	if (p.uid == 0) {
		*err_out = xasprintf("[gateway] user %s is root; name an unprivileged user",
		    conf->gateway.user);
		return -1;
	}
	return gw_privs_chown_at(AT_FDCWD, conf->gateway.data_dir, conf->gateway.data_dir, &p, 0,
	    err_out);
}

#define GW_PRIVS_PIDFILE	"sealgate.pid"

int
gw_privs_lock_take(const struct conf *conf, const struct gw_privs *p, char **err_out)
{
	char *path = xasprintf("%s/%s", conf->gateway.data_dir, GW_PRIVS_PIDFILE);
	char pid[32];
	int fd, n;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		*err_out = xasprintf("cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		*err_out = xasprintf("%s: %s", path, errno == EWOULDBLOCK ?
		    "another sealgate serve uses this data_dir" : strerror(errno));
		close(fd);
		free(path);
		return -1;
	}
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n ||
	    (p->drop && fchown(fd, p->uid, p->gid) != 0)) {
		*err_out = xasprintf("cannot write %s: %s", path, strerror(errno));
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	return fd;
}

bool
gw_privs_daemon_running(const char *data_dir)
{
	char *path = xasprintf("%s/%s", data_dir, GW_PRIVS_PIDFILE);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	bool running = false;

	free(path);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
		running = true;
	close(fd);
	return running;
}
