/*
 * gw_ops.c: the operator's commands: backup, restore, rotate-recovery-key
 * and audit. backup and audit work while the daemon runs (LMDB readers do
 * not block the writer); restore and rotate-recovery-key take the daemon's
 * lock (data_dir/sealgate.pid) and refuse while a daemon holds it: restore
 * would pull the store from under it, and a running daemon keeps the
 * recovery public key in memory for the invitations it makes.
 */
#define _GNU_SOURCE	/* strptime, timegm */
#include "gateway/gw_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/sec.h"
#include "gateway/gw_init.h"
#include "gateway/gw_log.h"
#include "gateway/gw_privs.h"
#include "store/store.h"

#define GW_OPS_ENV_DIR		"store"		/* as store/ names it in data_dir */
#define GW_OPS_AUDIT_PAGE	1000		/* entries per read transaction */
#define GW_OPS_COPY_BUF		(1024 * 1024)

/* The key files a backup holds beside store/ (see store_backup). */
static const char *const gw_ops_key_files[] = { "index.key", "queue.key", "recovery.pub",
    "recovery.key" };

static char *
gw_ops_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static bool
gw_ops_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* Is dir missing or empty? */
static bool
gw_ops_dir_unused(const char *dir)
{
	struct stat sb;
	char *probe;
	bool empty = true;
	size_t i;

	if (lstat(dir, &sb) != 0)
		return errno == ENOENT;
	if (!S_ISDIR(sb.st_mode))
		return false;
	for (i = 0; empty && i < SG_NITEMS(gw_ops_key_files); i++) {
		probe = gw_ops_path(dir, gw_ops_key_files[i]);
		empty = !gw_ops_exists(probe);
		free(probe);
	}
	probe = gw_ops_path(dir, GW_OPS_ENV_DIR);
	empty = empty && !gw_ops_exists(probe);
	free(probe);
	return empty;
}

static struct store *
gw_ops_open_at(const char *data_dir, bool read_only, char **err_out)
{
	struct store_opts o = { .data_dir = data_dir, .read_only = read_only };

	return store_open(&o, err_out);
}

static int
gw_ops_fail(const char *cmd, char *err, int status)
{
	fprintf(stderr, "sealgate %s: %s\n", cmd, err != NULL ? err : "failed");
	free(err);
	return status;
}

/* ---- backup ---- */

static int
gw_ops_stats_line(struct store *st, const char *what)
{
	struct store_stats s;
	struct store_txn *t;
	enum store_rc rc;

	if ((t = store_read_begin(st, &rc)) == NULL)
		return -1;
	rc = store_stats(t, &s);
	store_read_end(&t);
	if (rc != STORE_OK)
		return -1;
	printf("%s: %" PRIu64 " accounts, %" PRIu64 " messages, %" PRIu64 " bytes stored\n", what,
	    s.accounts[STORE_ACCT_INVITED] + s.accounts[STORE_ACCT_ACTIVE] +
	    s.accounts[STORE_ACCT_DISABLED], s.messages, s.bytes);
	return 0;
}

int
gw_cmd_backup(const struct conf *conf, int argc, char **argv)
{
	struct store *st, *copy;
	char *err = NULL;
	enum store_rc rc;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: sealgate backup DEST\n");
		return GW_EXIT_USAGE;
	}
	if (!gw_ops_dir_unused(argv[1])) {
		fprintf(stderr, "sealgate backup: %s already holds a store or keys; give a new "
		    "or empty directory\n", argv[1]);
		return GW_EXIT_USAGE;
	}
	if ((st = gw_vault_open(conf, true, &err)) == NULL)
		return gw_ops_fail("backup", err, GW_EXIT_STORE);
	rc = store_backup(st, argv[1], &err);
	store_close(&st);
	if (rc != STORE_OK)
		return gw_ops_fail("backup", err, GW_EXIT_STORE);
	/* A backup that does not open is no backup: check it now. */
	if ((copy = gw_ops_open_at(argv[1], true, &err)) == NULL)
		return gw_ops_fail("backup", xasprintf("the copy in %s does not open: %s",
		    argv[1], err), GW_EXIT_STORE);
	if (gw_ops_stats_line(copy, argv[1]) != 0)
		rc = STORE_CORRUPT;
	store_close(&copy);
	free(err);
	if (rc != STORE_OK)
		return gw_ops_fail("backup", xasprintf("the copy in %s cannot be read", argv[1]),
		    GW_EXIT_STORE);
	return 0;
}

/* ---- restore ---- */

/* Copy src to dest (new file, mode), synced, through dest.tmp. */
static int
gw_ops_copy_file(const char *src, const char *dest, mode_t mode, char **err_out)
{
	char *tmp = xasprintf("%s.tmp", dest);
	char *buf = xmalloc(GW_OPS_COPY_BUF);
	int in = -1, out = -1, rc = -1;
	ssize_t n = 0;

	if ((in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    (out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)) < 0)
		goto out;
	while ((n = read(in, buf, GW_OPS_COPY_BUF)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	if (n == 0 && fsync(out) == 0 && close(out) == 0) {
		out = -1;
		rc = rename(tmp, dest);
	}
out:
	if (rc != 0)
		*err_out = xasprintf("cannot copy %s to %s: %s", src, dest, strerror(errno));
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	if (rc != 0)
		(void)unlink(tmp);
	sec_wipe(buf, GW_OPS_COPY_BUF);	/* key files passed through it */
	free(buf);
	free(tmp);
	return rc;
}

/* Move data_dir's store and keys into data_dir/restore-old-<time>/. */
static int
gw_ops_move_aside(const char *data_dir, char **aside_out, char **err_out)
{
	char stamp[32], *from, *to;
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	int rc = 0;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	*aside_out = xasprintf("%s/restore-old-%s", data_dir, stamp);
	if (mkdir(*aside_out, 0700) != 0) {
		*err_out = xasprintf("cannot create %s: %s", *aside_out, strerror(errno));
		return -1;
	}
	for (i = 0; rc == 0 && i <= SG_NITEMS(gw_ops_key_files); i++) {
		const char *name = i < SG_NITEMS(gw_ops_key_files) ? gw_ops_key_files[i] :
		    GW_OPS_ENV_DIR;

		from = gw_ops_path(data_dir, name);
		to = gw_ops_path(*aside_out, name);
		if (gw_ops_exists(from) && rename(from, to) != 0) {
			*err_out = xasprintf("cannot move %s to %s: %s", from, to, strerror(errno));
			rc = -1;
		}
		free(from);
		free(to);
	}
	return rc;
}

static int
gw_ops_restore_files(const char *src, const char *data_dir, char **err_out)
{
	char *env = gw_ops_path(data_dir, GW_OPS_ENV_DIR);
	char *from, *to;
	size_t i;
	int rc;

	if (mkdir(env, 0700) != 0) {
		*err_out = xasprintf("cannot create %s: %s", env, strerror(errno));
		free(env);
		return -1;
	}
	from = xasprintf("%s/%s/data.mdb", src, GW_OPS_ENV_DIR);
	to = gw_ops_path(env, "data.mdb");
	rc = gw_ops_copy_file(from, to, 0600, err_out);
	free(from);
	free(to);
	for (i = 0; rc == 0 && i < SG_NITEMS(gw_ops_key_files); i++) {
		from = gw_ops_path(src, gw_ops_key_files[i]);
		to = gw_ops_path(data_dir, gw_ops_key_files[i]);
		if (gw_ops_exists(from))	/* recovery.key may be offline */
			rc = gw_ops_copy_file(from, to,
			    strcmp(gw_ops_key_files[i], "recovery.pub") == 0 ? 0644 : 0600, err_out);
		free(from);
		free(to);
	}
	free(env);
	return rc;
}

int
gw_cmd_restore(const struct conf *conf, int argc, char **argv)
{
	struct gw_privs none = { .drop = false };
	const char *data_dir = conf->gateway.data_dir;
	char *err = NULL, *aside = NULL;
	struct store *st;
	int lock, rc;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: sealgate restore SRC\n");
		return GW_EXIT_USAGE;
	}
	/* Check the backup before touching anything. */
	if ((st = gw_ops_open_at(argv[1], true, &err)) == NULL)
		return gw_ops_fail("restore", xasprintf("%s is not a usable backup: %s", argv[1],
		    err), GW_EXIT_USAGE);
	rc = gw_ops_stats_line(st, argv[1]);
	store_close(&st);
	if (rc != 0)
		return gw_ops_fail("restore", xasprintf("%s cannot be read", argv[1]),
		    GW_EXIT_STORE);
	if (gw_mkdirs(data_dir, 0700, &err) != 0)
		return gw_ops_fail("restore", err, GW_EXIT_STORE);
	/* Holding the daemon's lock keeps a daemon from starting meanwhile. */
	if ((lock = gw_privs_lock_take(conf, &none, &err)) < 0) {
		free(err);
		return gw_ops_fail("restore", xasprintf("a sealgate daemon is running on %s; "
		    "stop it first (systemctl stop sealgate)", data_dir), GW_EXIT_USAGE);
	}
	rc = gw_ops_move_aside(data_dir, &aside, &err) == 0 &&
	    gw_ops_restore_files(argv[1], data_dir, &err) == 0 &&
	    gw_privs_chown_data(conf, &err) == 0 ? 0 : -1;
	close(lock);
	if (rc == 0 && (st = gw_vault_open(conf, true, &err)) != NULL) {
		rc = gw_ops_stats_line(st, data_dir);
		store_close(&st);
	} else
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "sealgate restore: %s\n", err != NULL ? err : "failed");
		if (aside != NULL)
			fprintf(stderr, "the previous store and keys are in %s\n", aside);
		free(err);
		free(aside);
		return GW_EXIT_STORE;
	}
	printf("restored %s into %s; the previous store and keys are in %s\n", argv[1],
	    data_dir, aside);
	free(aside);
	return 0;
}

/* ---- rotate-recovery-key ---- */

struct gw_rotate {
	const struct conf	*conf;
	const char		*key_file;	/* --recovery-key, or NULL */
	char			*key, *pub, *key_new, *pub_new, *key_old;
	bool			 online;	/* the old secret is data_dir/recovery.key */
};

static void
gw_rotate_paths(struct gw_rotate *r)
{
	const char *d = r->conf->gateway.data_dir;

	r->key = gw_ops_path(d, "recovery.key");
	r->pub = gw_ops_path(d, "recovery.pub");
	r->key_new = gw_ops_path(d, "recovery.key.new");
	r->pub_new = gw_ops_path(d, "recovery.pub.new");
	r->key_old = gw_ops_path(d, "recovery.key.old");
	r->online = r->key_file == NULL || strcmp(r->key_file, r->key) == 0;
}

static void
gw_rotate_free(struct gw_rotate *r)
{
	free(r->key);
	free(r->pub);
	free(r->key_new);
	free(r->pub_new);
	free(r->key_old);
}

/* The old key: loaded, and the match of recovery.pub. */
static struct sec_sk *
gw_rotate_old_key(struct gw_rotate *r, char **err_out)
{
	uint8_t pk[SEC_KEY_BYTES];
	struct sec_sk *old;

	if (gw_ops_exists(r->key_new) || gw_ops_exists(r->pub_new)) {
		*err_out = xasprintf("%s exists: an earlier rotation did not finish (see "
		    "sealgate(8), ROTATING THE RECOVERY KEY)", r->key_new);
		return NULL;
	}
	if (r->online && gw_ops_exists(r->key_old)) {
		*err_out = xasprintf("%s exists from an earlier rotation; move it offline or "
		    "delete it first", r->key_old);
		return NULL;
	}
	if (r->online && !gw_ops_exists(r->key)) {
		*err_out = xasprintf("%s is not here (offline or deleted): give the current "
		    "recovery key with --recovery-key FILE", r->key);
		return NULL;
	}
	if ((old = sec_recovery_load(r->online ? r->key : r->key_file, err_out)) == NULL)
		return NULL;
	if (sec_recovery_pub_load(r->pub, pk, err_out) != 0 ||
	    !sec_equal(pk, old->pk, SEC_KEY_BYTES)) {
		if (*err_out == NULL)
			*err_out = xasprintf("%s is not the secret key of %s",
			    r->online ? r->key : r->key_file, r->pub);
		sec_sk_unref(&old);
		return NULL;
	}
	return old;
}

/* The new pair takes the old one's place; the old secret stays beside it. */
static int
gw_rotate_swap(struct gw_rotate *r, char **err_out)
{
	if ((r->online && rename(r->key, r->key_old) != 0) ||
	    rename(r->key_new, r->key) != 0 || rename(r->pub_new, r->pub) != 0) {
		*err_out = xasprintf("cannot put the new key in place: %s", strerror(errno));
		return -1;
	}
	return gw_privs_chown_data(r->conf, err_out);
}

static int
gw_rotate_run(struct gw_rotate *r, size_t *count_out, char **err_out)
{
	struct sec_sk *old, *fresh = NULL;
	struct store *st = NULL;
	enum store_rc rc = STORE_TEMPFAIL;

	if ((old = gw_rotate_old_key(r, err_out)) == NULL)
		return -1;
	fresh = sec_sk_new();
	/* The new secret is on disk before any account is wrapped to it. */
	if (sec_recovery_write(fresh, r->key_new, r->pub_new, err_out) == 0 &&
	    (st = gw_vault_open(r->conf, false, err_out)) != NULL) {
		rc = store_recovery_rotate(st, old, fresh->pk, count_out);
		if (rc == STORE_OK) {
			char detail[64];

			snprintf(detail, sizeof detail, "accounts=%zu", *count_out);
			store_audit(st, "recovery_rotated", NULL, NULL, detail);
		}
		store_close(&st);	/* the audit entry is written before this returns */
		if (rc != STORE_OK)
			*err_out = xasprintf("re-wrapping stopped (%s) after %zu accounts; the old "
			    "key still opens the others, the new one (%s) those done",
			    store_rc_str(rc), *count_out, r->key_new);
	}
	sec_sk_unref(&old);
	sec_sk_unref(&fresh);
	if (rc != STORE_OK)
		return -1;
	return gw_rotate_swap(r, err_out);
}

int
gw_cmd_rotate_recovery_key(const struct conf *conf, int argc, char **argv)
{
	struct gw_rotate r = { .conf = conf };
	struct gw_privs none = { .drop = false };
	char *err = NULL;
	size_t count = 0;
	int lock, rc;

	if (argc == 3 && strcmp(argv[1], "--recovery-key") == 0)
		r.key_file = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: sealgate rotate-recovery-key [--recovery-key FILE]\n");
		return GW_EXIT_USAGE;
	}
	if ((lock = gw_privs_lock_take(conf, &none, &err)) < 0) {
		free(err);
		return gw_ops_fail("rotate-recovery-key", xasprintf("a sealgate daemon is running "
		    "on %s; stop it first (it holds the recovery public key in memory)",
		    conf->gateway.data_dir), GW_EXIT_USAGE);
	}
	gw_rotate_paths(&r);
	rc = gw_rotate_run(&r, &count, &err);
	close(lock);
	if (rc != 0) {
		gw_rotate_free(&r);
		return gw_ops_fail("rotate-recovery-key", err, GW_EXIT_STORE);
	}
	printf("%zu accounts re-wrapped to the new recovery key %s\n", count, r.key);
	if (r.online)
		printf("the old secret key is %s: keep it until you trust the new one, then "
		    "delete it\n", r.key_old);
	else
		printf("%s holds the new secret key: move it offline as you did the old one\n",
		    r.key);
	gw_rotate_free(&r);
	return 0;
}

/* ---- audit ---- */

struct gw_audit_page {
	struct store_audit	*v;
	size_t			 n;
	int64_t			 after_time;	/* skip up to (time, seq) already shown */
	uint64_t		 after_seq;
	bool			 skip;
};

static int
gw_audit_collect(void *arg, const struct store_audit *a)
{
	struct gw_audit_page *p = arg;

	if (p->skip && (a->time < p->after_time ||
	    (a->time == p->after_time && a->seq <= p->after_seq)))
		return 0;
	p->v[p->n++] = *a;
	return p->n == GW_OPS_AUDIT_PAGE;
}

/* "2026-01-02" or "2026-01-02T03:04:05[Z]" (UTC), or a duration back from
 * now ("7d", "12h"). */
static int
gw_audit_since(const char *s, int64_t *out)
{
	struct tm tm;
	const char *err, *end;
	int64_t d;

	memset(&tm, 0, sizeof tm);
	if (conf_parse_duration(s, &d, &err) == 0) {
		*out = sg_now() - d;
		return 0;
	}
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL) {
		memset(&tm, 0, sizeof tm);
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static void
gw_audit_json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Text output: control bytes and backslashes as \\xNN; detail is the last
 * field, so it may keep its spaces and '='. */
static void
gw_audit_text(const char *s, bool spaces_ok)
{
	if (*s == '\0') {
		putchar('-');
		return;
	}
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '\\' || (c == ' ' && !spaces_ok))
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void
gw_audit_print(const struct store_audit *a, bool json)
{
	char when[32];
	time_t t = (time_t)a->time;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (json) {
		printf("{\"time\":\"%s\",\"seq\":%" PRIu64 ",\"event\":", when, a->seq);
		gw_audit_json_str(a->event);
		fputs(",\"address\":", stdout);
		gw_audit_json_str(a->address);
		fputs(",\"ip\":", stdout);
		gw_audit_json_str(a->ip);
		fputs(",\"detail\":", stdout);
		gw_audit_json_str(a->detail);
		fputs("}\n", stdout);
		return;
	}
	printf("%s ", when);
	gw_audit_text(a->event, false);
	fputs(" address=", stdout);
	gw_audit_text(a->address, false);
	fputs(" ip=", stdout);
	gw_audit_text(a->ip, false);
	fputs(" detail=", stdout);
	gw_audit_text(a->detail, true);
	putchar('\n');
}

static int
gw_audit_dump(struct store *st, int64_t since, const char *account, bool json)
{
	struct gw_audit_page p = { .skip = false };
	struct store_txn *t;
	enum store_rc rc = STORE_OK;
	size_t i;

	p.v = xreallocarray(NULL, GW_OPS_AUDIT_PAGE, sizeof *p.v);
	/* One read transaction per page, so a slow reader of our output does
	 * not pin the daemon's old pages. */
	do {
		p.n = 0;
		if ((t = store_read_begin(st, &rc)) == NULL)
			break;
		rc = store_audit_list(t, since, account, gw_audit_collect, &p);
		store_read_end(&t);
		for (i = 0; rc == STORE_OK && i < p.n; i++)
			gw_audit_print(&p.v[i], json);
		if (p.n > 0) {
			since = p.after_time = p.v[p.n - 1].time;
			p.after_seq = p.v[p.n - 1].seq;
			p.skip = true;
		}
	} while (rc == STORE_OK && p.n == GW_OPS_AUDIT_PAGE);
	free(p.v);
	return rc == STORE_OK ? 0 : -1;
}

int
gw_cmd_audit(const struct conf *conf, int argc, char **argv)
{
	const char *account = NULL;
	int64_t since = 0;
	bool json = false;
	struct store *st;
	char *err = NULL;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc &&
		    gw_audit_since(argv[i + 1], &since) == 0)
			i++;
		else if (strcmp(argv[i], "--account") == 0 && i + 1 < argc)
			account = argv[++i];
		else {
			fprintf(stderr, "usage: sealgate audit [--since DATE|DURATION] "
			    "[--account ADDRESS] [--json]\n");
			return GW_EXIT_USAGE;
		}
	}
	if ((st = gw_vault_open(conf, true, &err)) == NULL)
		return gw_ops_fail("audit", err, GW_EXIT_STORE);
	rc = gw_audit_dump(st, since, account, json);
	store_close(&st);
	if (fflush(stdout) != 0 || rc != 0)
		return gw_ops_fail("audit", xasprintf("cannot read the audit log"), GW_EXIT_STORE);
	return 0;
}
