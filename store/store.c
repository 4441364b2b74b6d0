/*
 * store.c: the vault's life cycle: creating the environment and the key
 * files (init), opening them (keys into secret memory, the map sized from
 * the data file), closing, statistics and hot backups.
 *
 * Layout of data_dir: store/ (LMDB: data.mdb, lock.mdb; mode 0700),
 * index.key (keyed hashes of tokens and correspondents), queue.key (the
 * outbound queue's payloads), recovery.pub and, unless moved offline or
 * deleted, recovery.key.
 */
#include "store/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gw_log.h"

const char *const store_db_names[STORE_DB_COUNT] = {
	[STORE_DB_ACCOUNTS] = "accounts",
	[STORE_DB_ACCOUNT_IDS] = "account_ids",
	[STORE_DB_TOKENS] = "tokens",
	[STORE_DB_MAILBOXES] = "mailboxes",
	[STORE_DB_MAILBOX_IDS] = "mailbox_ids",
	[STORE_DB_MESSAGES] = "messages",
	[STORE_DB_BLOBS] = "blobs",
	[STORE_DB_SUMMARIES] = "summaries",
	[STORE_DB_KEYS] = "keys",
	[STORE_DB_KEYWORDS] = "keywords",
	[STORE_DB_CORR] = "correspondents",
	[STORE_DB_QUEUE] = "queue",
	[STORE_DB_QUEUE_IDS] = "queue_ids",
	[STORE_DB_AUDIT] = "audit",
	[STORE_DB_META] = "meta",
};

static const char *const key_files[] = { "index.key", "queue.key", "recovery.pub",
    "recovery.key" };

const char *
store_rc_str(enum store_rc rc)
{
	static const char *const names[] = {
		[STORE_OK] = "ok", [STORE_NOTFOUND] = "notfound", [STORE_EXISTS] = "exists",
		[STORE_DENIED] = "denied", [STORE_EXPIRED] = "expired",
		[STORE_INVALID] = "invalid", [STORE_LIMIT] = "limit",
		[STORE_CHANGED] = "changed", [STORE_TEMPFAIL] = "tempfail",
		[STORE_CORRUPT] = "corrupt",
	};

	if ((size_t)rc < SG_NITEMS(names) && names[rc] != NULL)
		return names[rc];
	return "unknown";
}

const char *
store_acct_state_str(enum store_acct_state s)
{
	switch (s) {
	case STORE_ACCT_INVITED:
		return "invited";
	case STORE_ACCT_ACTIVE:
		return "active";
	case STORE_ACCT_DISABLED:
		return "disabled";
	}
	return "unknown";
}

static char *
path_join(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static int
mkdir_private(const char *path, char **err_out)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	*err_out = xasprintf("%s: cannot create: %s", path, strerror(errno));
	return -1;
}

/* ---- the environment ---- */

/* Map size at open: room to grow before the first resize, within max. */
static uint64_t
map_initial(const char *env_dir, uint64_t want, uint64_t max)
{
	char *p = path_join(env_dir, "data.mdb");
	uint64_t fsize = 0;
	struct stat sb;

	if (stat(p, &sb) == 0 && sb.st_size > 0)
		fsize = (uint64_t)sb.st_size;
	free(p);
	if (want == 0)
		want = SG_MAX(STORE_MAP_MIN, fsize * 2);
	want = SG_MIN(want, max);
	want = SG_MAX(want, fsize);	/* LMDB would raise it to the used size anyway */
	return (want + 4095) & ~(uint64_t)4095;
}

static int
env_open(struct store *st, const char *env_dir, uint64_t map_size, char **err_out)
{
	/* MDB_NORDAHEAD: message records sit between encrypted bodies in the file;
	 * with the kernel's readahead, touching 10,000 records maps tens of MiB
	 * of bodies around them into every daemon's RSS. */
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (st->read_only ? MDB_RDONLY : 0);
	MDB_envinfo info;
	int rc, dead;

	if ((rc = mdb_env_create(&st->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, STORE_DB_COUNT + 1)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env, STORE_MAXREADERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, (size_t)map_size)) != 0 ||
	    (rc = mdb_env_open(st->env, env_dir, flags, 0600)) != 0) {
		*err_out = xasprintf("%s: cannot open the store: %s", env_dir, mdb_strerror(rc));
		if (st->env != NULL)
			mdb_env_close(st->env);
		st->env = NULL;
		return -1;
	}
	/* Reader slots of processes that died (a killed admin command) would
	 * pin old pages forever. */
	if (mdb_reader_check(st->env, &dead) == 0 && dead > 0)
		log_info("store", "event=stale_readers cleared=%d", dead);
	if (mdb_env_info(st->env, &info) == 0)
		st->map_size = info.me_mapsize;
	return 0;
}

static int
dbs_open(struct store *st, char **err_out)
{
	unsigned flags = st->read_only ? 0 : MDB_CREATE;
	MDB_txn *txn = NULL;
	size_t i;
	int rc;

	rc = mdb_txn_begin(st->env, NULL, st->read_only ? MDB_RDONLY : 0, &txn);
	for (i = 0; rc == 0 && i < STORE_DB_COUNT; i++)
		rc = mdb_dbi_open(txn, store_db_names[i], flags, &st->dbi[i]);
	if (rc != 0) {
		*err_out = xasprintf("store: cannot open database %s: %s",
		    i > 0 ? store_db_names[i - 1] : "(txn)", mdb_strerror(rc));
		if (txn != NULL)
			mdb_txn_abort(txn);
		return -1;
	}
	/* Handles opened in a transaction live on only if it commits. */
	if ((rc = mdb_txn_commit(txn)) != 0) {
		*err_out = xasprintf("store: cannot open databases: %s", mdb_strerror(rc));
		return -1;
	}
	return 0;
}

/* In a txn: record the schema version, seed UIDVALIDITY from the clock. */
static enum store_rc
meta_seed(struct store_txn *t, void *arg)
{
	uint64_t v;
	enum store_rc rc;

	(void)arg;
	rc = store_meta_get(t, "schema", &v);
	if (rc == STORE_NOTFOUND)
		rc = store_meta_set(t, "schema", STORE_SCHEMA);
	else if (rc == STORE_OK && v != STORE_SCHEMA)
		return STORE_INVALID;
	if (rc != STORE_OK)
		return rc;
	rc = store_meta_get(t, "next_uidvalidity", &v);
	if (rc == STORE_NOTFOUND)
		rc = store_meta_set(t, "next_uidvalidity", (uint32_t)SG_MAX(t->now, 1));
	return rc;
}

/* Run fn in one direct write transaction (init and open, before the
 * writer thread exists). */
static int
txn_direct(struct store *st, store_op_fn *fn, char **err_out)
{
	struct store_walbuf wb = { NULL, 0, 0, NULL, 0, 0 };
	struct store_txn t = { .st = st, .now = sg_now(), .write = true, .wal = &wb };
	enum store_rc rc;
	int mrc;

	if ((mrc = mdb_txn_begin(st->env, NULL, 0, &t.txn)) != 0) {
		*err_out = xasprintf("store: cannot begin: %s", mdb_strerror(mrc));
		return -1;
	}
	store_walbuf_reset(&wb);
	rc = fn(&t, NULL);
	free(t.scratch);
	if (rc != STORE_OK) {
		mdb_txn_abort(t.txn);
		store_walbuf_free(&wb);
		*err_out = xasprintf("store: %s", rc == STORE_INVALID ?
		    "unknown schema version (made by a newer sealgate?)" : store_rc_str(rc));
		return -1;
	}
	mrc = store_wal_commit(st, t.txn, &wb);
	store_walbuf_free(&wb);
	if (mrc != 0) {
		*err_out = xasprintf("store: cannot commit: %s", mdb_strerror(mrc));
		return -1;
	}
	return 0;
}

int
store_init(const char *data_dir, char **err_out)
{
	struct store st = { .read_only = false };
	char *env_dir = path_join(data_dir, STORE_ENV_DIR);
	char *p[4];
	size_t i;
	int rc = -1;

	for (i = 0; i < SG_NITEMS(p); i++)
		p[i] = path_join(data_dir, key_files[i]);
	if (mkdir_private(data_dir, err_out) == 0 && mkdir_private(env_dir, err_out) == 0 &&
	    sec_keyfile_ensure(p[0], "index", err_out) == 0 &&
	    sec_keyfile_ensure(p[1], "queue", err_out) == 0 &&
	    sec_recovery_ensure(p[3], p[2], err_out) == 0 &&
	    env_open(&st, env_dir, map_initial(env_dir, 0, STORE_MAP_DEFAULT_MAX),
	    err_out) == 0) {
		if (dbs_open(&st, err_out) == 0 && txn_direct(&st, meta_seed, err_out) == 0)
			rc = 0;
		mdb_env_close(st.env);
	}
	for (i = 0; i < SG_NITEMS(p); i++)
		free(p[i]);
	free(env_dir);
	return rc;
}

/* ---- keys ---- */

static int
keys_load(struct store *st, char **err_out)
{
	char *p[4];
	struct stat sb;
	size_t i;
	int rc = -1;

	for (i = 0; i < SG_NITEMS(p); i++)
		p[i] = path_join(st->data_dir, key_files[i]);
	if ((st->index_key = sec_keyfile_load(p[0], "index", err_out)) == NULL ||
	    (st->queue_key = sec_keyfile_load(p[1], "queue", err_out)) == NULL ||
	    sec_recovery_pub_load(p[2], st->recovery_pk, err_out) != 0)
		goto out;
	/* recovery.key is optional: offline or deleted on purpose. */
	if (lstat(p[3], &sb) == 0) {
		if ((st->recovery = sec_recovery_load(p[3], err_out)) == NULL)
			goto out;
		if (!sec_equal(st->recovery->pk, st->recovery_pk, SEC_KEY_BYTES)) {
			*err_out = xasprintf("%s is not the secret key of %s", p[3], p[2]);
			goto out;
		}
	} else if (errno != ENOENT) {
		*err_out = xasprintf("%s: %s", p[3], strerror(errno));
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < SG_NITEMS(p); i++)
		free(p[i]);
	return rc;
}

static void
keys_free(struct store *st)
{
	sec_free(st->index_key, SEC_KEY_BYTES);
	sec_free(st->queue_key, SEC_KEY_BYTES);
	st->index_key = st->queue_key = NULL;
	sec_sk_unref(&st->recovery);
}

bool
store_has_recovery_key(const struct store *st)
{
	return st->recovery != NULL;
}

/* ---- open and close ---- */

static void
sync_init(struct store *st)
{
	pthread_mutex_init(&st->maplock.mu, NULL);
	pthread_cond_init(&st->maplock.cv, NULL);
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->work_cv, NULL);
}

static void
sync_destroy(struct store *st)
{
	pthread_mutex_destroy(&st->maplock.mu);
	pthread_cond_destroy(&st->maplock.cv);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->work_cv);
}

static int
store_open_env(struct store *st, const struct store_opts *o, char **err_out)
{
	char *env_dir = path_join(o->data_dir, STORE_ENV_DIR);
	uint64_t map;
	int rc;

	map = map_initial(env_dir, o->map_size, st->max_size);
	/* The log's locks and recovery come first: LMDB must open the
	 * checkpoint's snapshot after a crash, not a file the power cut tore. */
	rc = st->read_only ? store_wal_open_ro(st, env_dir, err_out) :
	    store_wal_open(st, env_dir, o, err_out);
	if (rc == 0)
		rc = env_open(st, env_dir, map, err_out);
	free(env_dir);
	store_wal_open_done(st);
	if (rc != 0 || dbs_open(st, err_out) != 0)
		return -1;
	if (!st->read_only)
		return store_wal_start(st, err_out) == 0 ? txn_direct(st, meta_seed, err_out) : -1;
	return 0;
}

struct store *
store_open(const struct store_opts *o, char **err_out)
{
	struct store *st = xcalloc(1, sizeof *st);

	*err_out = NULL;
	st->data_dir = xstrdup(o->data_dir);
	st->read_only = o->read_only;
	st->max_size = o->max_size != 0 ? o->max_size : STORE_MAP_DEFAULT_MAX;
	sync_init(st);
	if (keys_load(st, err_out) != 0 || store_open_env(st, o, err_out) != 0 ||
	    (!st->read_only && store_writer_start(st) != 0)) {
		if (*err_out == NULL)
			*err_out = xstrdup("store: cannot start the writer thread");
		store_wal_close(st);
		if (st->env != NULL)
			mdb_env_close(st->env);
		keys_free(st);
		sync_destroy(st);
		free(st->data_dir);
		free(st);
		return NULL;
	}
	log_debug("store", "event=open map=%llu max=%llu recovery=%s",
	    (unsigned long long)st->map_size, (unsigned long long)st->max_size,
	    st->recovery != NULL ? "online" : "offline");
	return st;
}

void
store_close(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	store_writer_stop(st);
	store_wal_close(st);	/* the last checkpoint; its pin goes before the env */
	mdb_env_close(st->env);
	keys_free(st);
	sync_destroy(st);
	free(st->data_dir);
	free(st);
	*stp = NULL;
}

/* ---- statistics ---- */

static enum store_rc
stats_accounts(struct store_txn *t, struct store_stats *out)
{
	MDB_cursor *c;
	MDB_val k, v;
	enum store_rc rc;
	const uint8_t *p;
	int mrc;

	if ((rc = store_cursor_open(t, STORE_DB_ACCOUNTS, &c)) != STORE_OK)
		return rc;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		p = v.mv_data;
		/* The state is the byte after the version (store_codec.c). */
		if (v.mv_size > 1 && p[1] < SG_NITEMS(out->accounts))
			out->accounts[p[1]]++;
	}
	mdb_cursor_close(c);
	return mrc == MDB_NOTFOUND ? STORE_OK : store_mdb_rc(t, mrc, "stats");
}

enum store_rc
store_stats(struct store_txn *t, struct store_stats *out)
{
	MDB_stat ms, es;
	MDB_envinfo info;
	enum store_rc rc;

	memset(out, 0, sizeof *out);
	if ((rc = stats_accounts(t, out)) != STORE_OK)
		return rc;
	if (mdb_stat(t->txn, t->st->dbi[STORE_DB_MESSAGES], &ms) == 0)
		out->messages = ms.ms_entries;
	/* One summary per blob; a split blob has two entries in blobs. */
	if (mdb_stat(t->txn, t->st->dbi[STORE_DB_SUMMARIES], &ms) == 0)
		out->blobs = ms.ms_entries;
	if (mdb_stat(t->txn, t->st->dbi[STORE_DB_QUEUE], &ms) == 0)
		out->queue = ms.ms_entries;
	rc = store_meta_get(t, "bytes", &out->bytes);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	if (mdb_env_info(t->st->env, &info) == 0 && mdb_env_stat(t->st->env, &es) == 0) {
		out->map_size = info.me_mapsize;
		out->map_used = ((uint64_t)info.me_last_pgno + 1) * es.ms_psize;
	}
	return STORE_OK;
}

/* ---- backup ---- */

static int
fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Copy a small key file to dest, 0600, refusing to replace anything. */
static int
copy_keyfile(const char *src, const char *dest, char **err_out)
{
	char buf[4096];
	ssize_t n;
	int in, out, rc = -1;

	if ((in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;	/* recovery.key is optional */
		*err_out = xasprintf("%s: %s", src, strerror(errno));
		return -1;
	}
	n = read(in, buf, sizeof buf);
	close(in);
	if (n < 0 || (size_t)n == sizeof buf) {
		*err_out = xasprintf("%s: cannot read the key file", src);
		goto out;
	}
	out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		*err_out = xasprintf("%s: %s", dest, strerror(errno));
		goto out;
	}
	if (write(out, buf, (size_t)n) == n && fsync(out) == 0)
		rc = 0;
	else
		*err_out = xasprintf("%s: cannot write: %s", dest, strerror(errno));
	close(out);
out:
	sec_wipe(buf, sizeof buf);
	return rc;
}

static int
backup_env(struct store *st, const char *env_dest, char **err_out)
{
	char *data;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		/* The copy reads under its own read transaction: no resize meanwhile. */
		store_maplock_rd(&st->maplock);
		rc = mdb_env_copy2(st->env, env_dest, MDB_CP_COMPACT);
		store_maplock_rd_end(&st->maplock);
		if (rc != MDB_MAP_RESIZED || store_map_adopt(st) != 0)
			break;
	}
	if (rc != 0) {
		*err_out = xasprintf("%s: copy failed: %s", env_dest, mdb_strerror(rc));
		return -1;
	}
	data = path_join(env_dest, "data.mdb");
	rc = fsync_path(data);
	free(data);
	if (rc != 0 || fsync_path(env_dest) != 0) {
		*err_out = xasprintf("%s: cannot sync the copy: %s", env_dest, strerror(errno));
		return -1;
	}
	return 0;
}

enum store_rc
store_backup(struct store *st, const char *dest_dir, char **err_out)
{
	char *env_dest = path_join(dest_dir, STORE_ENV_DIR);
	char *src, *dst;
	size_t i;
	int rc;

	*err_out = NULL;
	rc = mkdir_private(dest_dir, err_out) == 0 && mkdir_private(env_dest, err_out) == 0 &&
	    backup_env(st, env_dest, err_out) == 0 ? 0 : -1;
	for (i = 0; rc == 0 && i < SG_NITEMS(key_files); i++) {
		src = path_join(st->data_dir, key_files[i]);
		dst = path_join(dest_dir, key_files[i]);
		rc = copy_keyfile(src, dst, err_out);
		free(src);
		free(dst);
	}
	if (rc == 0 && fsync_path(dest_dir) != 0) {
		*err_out = xasprintf("%s: cannot sync: %s", dest_dir, strerror(errno));
		rc = -1;
	}
	free(env_dest);
	if (rc != 0) {
		log_error("store", "event=backup_failed");
		return STORE_TEMPFAIL;
	}
	return STORE_OK;
}
