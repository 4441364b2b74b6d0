/*
 * store_bench.c: bench/store's measuring program. In one run, on one
 * disk: the disk's fsyncs per second (4 KiB write + fdatasync in the
 * store's directory), libsodium's single-core XChaCha20-Poly1305
 * secretstream throughput (through sec_encrypt), and sealed appends per
 * second of 4 KiB and 100 KiB messages with 1 and 16 producers. Each
 * append is what ingest does: a content key, sec_encrypt of the message
 * and of a 1 KiB summary, sec_seal_key to the recipient, then the write
 * op through store_write_wait(). Prints appends per commit, appends per
 * fsync (appends/s over the disk's fsyncs/s) and the share of producer
 * time spent in crypto.
 *
 * Acceptance (issue 3): 16 producers, 4 KiB: at least 5 appends per fsync.
 * Exit status 1 when that fails.
 */
#define _GNU_SOURCE	/* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdatomic.h>

#include "crypto/sec.h"
#include "gateway/gw_log.h"
#include "store/store.h"

#define SUMMARY_BYTES	1024
#define PRODUCERS_MAX	64
#define FSYNC_FILE	(1 << 20)
#define ACCEPT_RATIO	5.0

struct bench {
	const char	*dir;
	double		 secs;
	double		 fsyncs_per_s;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
rm_tree(const char *path)
{
	struct dirent *e;
	struct stat sb;
	DIR *d;
	char *p;

	if (lstat(path, &sb) != 0)
		return;
	if (!S_ISDIR(sb.st_mode) || (d = opendir(path)) == NULL) {
		unlink(path);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			p = xasprintf("%s/%s", path, e->d_name);
			rm_tree(p);
			free(p);
		}
	}
	closedir(d);
	rmdir(path);
}

/* ---- the disk ---- */

/*
 * The disk's fsyncs per second: a loop of 4 KiB write + fdatasync on a
 * file in the store's directory. Appending (the brief's plain loop, and
 * what LMDB's data file does while a vault grows) is what the rows use;
 * overwriting a preallocated file (no size or extent change to journal)
 * is the disk's best case, printed for reference.
 */
static double
measure_fsyncs(const char *dir, double secs, bool overwrite)
{
	char *path = xasprintf("%s/fsync.probe", dir);
	char block[4096];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	long n, nblocks = FSYNC_FILE / (long)sizeof block;
	double t0, t;

	if (fd < 0)
		fatal("%s: %s", path, strerror(errno));
	memset(block, 'f', sizeof block);
	for (n = 0; overwrite && n < nblocks; n++)
		if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
			fatal("%s: write: %s", path, strerror(errno));
	if (fsync(fd) != 0)
		fatal("%s: fsync: %s", path, strerror(errno));
	t0 = now_s();
	for (n = 0; (t = now_s()) - t0 < secs || n < 50; n++) {
		off_t off = overwrite ? (off_t)(n % nblocks) * (off_t)sizeof block :
		    (off_t)n * (off_t)sizeof block;

		if (pwrite(fd, block, sizeof block, off) != (ssize_t)sizeof block ||
		    fdatasync(fd) != 0)
			fatal("%s: %s", path, strerror(errno));
	}
	close(fd);
	unlink(path);
	free(path);
	return (double)n / (t - t0);
}

/* ---- crypto ---- */

static void
measure_crypto(double secs, double *mb_per_s, double *seal_us, double *open_us)
{
	size_t len = 1 << 20;
	uint8_t *pt = xmalloc(len), key[SEC_KEY_BYTES], sealed[SEC_SEALED_KEY_BYTES];
	struct sec_buf ct = { NULL, 0, 0 };
	struct sec_sk *k = sec_sk_new();
	double t0 = now_s(), t;
	long n;

	sec_random(pt, len);
	sec_content_key_new(key);
	for (n = 0; (t = now_s()) - t0 < secs || n < 4; n++) {
		ct.len = 0;
		sec_encrypt(key, pt, len, &ct);
	}
	*mb_per_s = (double)n * (double)len / (1 << 20) / (t - t0);
	t0 = now_s();
	for (n = 0; n < 2000; n++)
		sec_seal_key(key, k->pk, sealed);
	*seal_us = (now_s() - t0) / 2000 * 1e6;
	t0 = now_s();
	for (n = 0; n < 2000; n++)
		if (sec_open_key(sealed, sizeof sealed, k, key) != 0)
			fatal("bench: sec_open_key failed");
	*open_us = (now_s() - t0) / 2000 * 1e6;
	sec_buf_free(&ct);
	sec_sk_unref(&k);
	sec_wipe(key, sizeof key);
	free(pt);
}

/* ---- appends ---- */

/*
 * A row alternates slices: producers append for a while, then the gate
 * closes, in-flight appends finish, and the disk's fsync rate is measured
 * with nothing else writing; then again. Both rates are sampled through
 * the same minutes, so a shared disk's drift hits them alike.
 */
struct run {
	struct store		*st;
	struct store_account	 acct;
	uint64_t		 inbox;
	size_t			 size;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	atomic_bool		 open;		/* read by producers without mu */
	bool			 done;
	atomic_int		 inflight;
	atomic_ulong		 commits;
};

struct producer {
	struct run	*r;
	unsigned long	 appends, fails;
	double		 crypto_s;
};

struct append_arg {
	const struct sec_buf	*msg, *sum;
	const uint8_t		*sealed;
	uint64_t		 account_id, mailbox_id, size;
};

static enum store_rc
append_op(struct store_txn *t, void *arg)
{
	struct append_arg *a = arg;
	struct store_blob b = { a->msg->data, a->msg->len, a->sum->data, a->sum->len, a->size };
	struct store_msg m = { .mailbox_id = a->mailbox_id, .size = a->size };
	enum store_rc rc;

	if ((rc = store_blob_put(t, &b, &m.blob_id)) != STORE_OK ||
	    (rc = store_key_put(t, m.blob_id, a->account_id, a->sealed)) != STORE_OK)
		return rc;
	return store_msg_append(t, &m);
}

/* The last one out while the gate is closed tells slice_appends. */
static void
gate_leave(struct run *r)
{
	if (atomic_fetch_sub(&r->inflight, 1) == 1 && !atomic_load(&r->open)) {
		pthread_mutex_lock(&r->mu);
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
}

/*
 * The gate is the bench's, not the store's: while it is open a producer
 * passes it with one atomic add and leaves with one subtract. Sixteen
 * producers woken by one commit must not queue on a mutex of ours before
 * they reach the store, or the bench measures that queue.
 */
static bool
gate_pass(struct run *r)
{
	bool go;

	for (;;) {
		atomic_fetch_add(&r->inflight, 1);
		if (atomic_load(&r->open))
			return true;
		gate_leave(r);
		pthread_mutex_lock(&r->mu);
		while (!atomic_load(&r->open) && !r->done)
			pthread_cond_wait(&r->cv, &r->mu);
		go = !r->done;
		pthread_mutex_unlock(&r->mu);
		if (!go)
			return false;
	}
}

static void *
producer_main(void *arg)
{
	struct producer *p = arg;
	struct run *r = p->r;
	uint8_t *text = xmalloc(r->size), sum[SUMMARY_BYTES], key[SEC_KEY_BYTES];
	uint8_t sealed[SEC_SEALED_KEY_BYTES];
	struct sec_buf mct = { NULL, 0, 0 }, sct = { NULL, 0, 0 };
	struct append_arg a = { &mct, &sct, sealed, r->acct.id, r->inbox, r->size };
	double t0;

	sec_random(text, r->size);
	sec_random(sum, sizeof sum);
	while (gate_pass(r)) {
		t0 = now_s();
		mct.len = sct.len = 0;
		sec_content_key_new(key);
		sec_encrypt(key, text, r->size, &mct);
		sec_encrypt(key, sum, sizeof sum, &sct);
		sec_seal_key(key, r->acct.pk, sealed);
		p->crypto_s += now_s() - t0;
		if (store_write_wait(r->st, append_op, &a) == STORE_OK)
			p->appends++;
		else
			p->fails++;
		gate_leave(r);
	}
	sec_wipe(key, sizeof key);
	sec_buf_free(&mct);
	sec_buf_free(&sct);
	free(text);
	return NULL;
}

static void
count_commit(void *ctx, const struct store_changes *ch)
{
	struct run *r = ctx;

	(void)ch;
	atomic_fetch_add(&r->commits, 1);
}

struct create_arg {
	struct store_invite	*inv;
	struct store_account	 acct;
};

static enum store_rc
create_op(struct store_txn *t, void *arg)
{
	struct create_arg *c = arg;

	return store_account_create(t, c->inv, &c->acct, NULL);
}

static struct store *
run_store(const char *dir, struct run *r)
{
	struct create_arg c;
	struct store_opts o = { .data_dir = dir };
	struct store_mailbox m;
	struct store_txn *t;
	enum store_rc rc;
	char *err = NULL;
	struct store *st;

	if (store_init(dir, &err) != 0 || (st = store_open(&o, &err)) == NULL)
		fatal("bench: %s", err);
	c.inv = store_invite_prepare(st, "bench@example.org", 86400);
	if (c.inv == NULL || store_write_wait(st, create_op, &c) != STORE_OK)
		fatal("bench: cannot create the account");
	store_invite_free(&c.inv);
	r->acct = c.acct;
	if ((t = store_read_begin(st, &rc)) == NULL ||
	    store_mailbox_get(t, r->acct.id, "INBOX", &m) != STORE_OK)
		fatal("bench: no INBOX");
	store_read_end(&t);
	r->inbox = m.id;
	return st;
}

struct result {
	double		appends_per_s, commits_per_s, fsyncs_per_s, best_per_s, crypto_share;
	unsigned long	appends, fails;
};

#define SLICES		6
#define PROBE_SECS	0.3

/* Open the gate for secs of appends; returns how long appends ran (until
 * the last in-flight one finished). */
static double
slice_appends(struct run *r, double secs)
{
	double t0 = now_s();
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };

	pthread_mutex_lock(&r->mu);
	atomic_store(&r->open, true);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->open, false);
	while (atomic_load(&r->inflight) > 0)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	return now_s() - t0;
}

/*
 * The appends' deferred writes are theirs to pay for: the store's
 * checkpoint (data.mdb flushed; commits were durable in the log) and
 * whatever else of the slice the kernel still holds. Counted in the
 * slice's time, and done before the disk is probed, so that the probe
 * does not run under the slice's writeback.
 */
static double
settle(const struct bench *b, struct run *r)
{
	double t0 = now_s();
	int fd;

	if (store_checkpoint(r->st) != 0)
		fatal("bench: checkpoint failed");
	if ((fd = open(b->dir, O_RDONLY | O_DIRECTORY)) < 0 || syncfs(fd) != 0)
		fatal("%s: syncfs: %s", b->dir, strerror(errno));
	close(fd);
	return now_s() - t0;
}

static void
run_slices(const struct bench *b, struct run *r, struct result *res)
{
	double busy = 0, fsyncs = 0, best = 0;
	int i;

	for (i = 0; i < SLICES; i++) {
		busy += slice_appends(r, b->secs / SLICES);
		busy += settle(b, r);
		fsyncs += measure_fsyncs(b->dir, PROBE_SECS, false);
		best += measure_fsyncs(b->dir, PROBE_SECS, true);
	}
	res->fsyncs_per_s = fsyncs / SLICES;
	res->best_per_s = best / SLICES;
	res->appends_per_s = busy;	/* seconds, for now */
}

static struct result
run_appends(const struct bench *b, size_t size, int producers)
{
	char *dir = xasprintf("%s/store-%zu-%d", b->dir, size, producers);
	struct run r = { .size = size, .mu = PTHREAD_MUTEX_INITIALIZER,
	    .cv = PTHREAD_COND_INITIALIZER };
	struct producer p[PRODUCERS_MAX];
	pthread_t th[PRODUCERS_MAX];
	struct result res = { 0 };
	double busy, crypto = 0;
	int i;

	rm_tree(dir);
	r.st = run_store(dir, &r);
	store_set_change_hook(r.st, count_commit, &r);
	for (i = 0; i < producers; i++) {
		p[i] = (struct producer){ .r = &r };
		if (pthread_create(&th[i], NULL, producer_main, &p[i]) != 0)
			fatal("bench: pthread_create");
	}
	run_slices(b, &r, &res);
	busy = res.appends_per_s;
	pthread_mutex_lock(&r.mu);
	r.done = true;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	for (i = 0; i < producers; i++) {
		pthread_join(th[i], NULL);
		res.appends += p[i].appends;
		res.fails += p[i].fails;
		crypto += p[i].crypto_s;
	}
	store_close(&r.st);	/* after the last hook */
	res.appends_per_s = (double)res.appends / busy;
	res.commits_per_s = (double)atomic_load(&r.commits) / busy;
	res.crypto_share = crypto / (busy * producers);
	rm_tree(dir);
	free(dir);
	return res;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_store -d DIR [-t SECONDS] [-p PRODUCERS]\n"
	    "  -p N  also run 4 KiB with N producers (1..%d; not part of acceptance)\n",
	    PRODUCERS_MAX);
	exit(2);
}

/* One row. Returns appends per fsync. */
static double
report(const struct bench *b, size_t size, int producers, double *vs_best)
{
	struct result r = run_appends(b, size, producers);
	double per_fsync = r.appends_per_s / r.fsyncs_per_s;

	printf("%6zu KiB  %9d  %10.0f  %7.1f  %9.0f  %14.1f  %8.0f  %13.2f  %6.1f%%%s\n",
	    size / 1024, producers, r.appends_per_s, r.appends_per_s * (double)size / (1 << 20),
	    r.commits_per_s, r.commits_per_s > 0 ? r.appends_per_s / r.commits_per_s : 0,
	    r.fsyncs_per_s, per_fsync, r.crypto_share * 100, r.fails > 0 ? "  (failures!)" : "");
	fflush(stdout);
	if (vs_best != NULL)
		*vs_best = r.appends_per_s / r.best_per_s;
	return per_fsync;
}

int
main(int argc, char **argv)
{
	struct bench b = { .dir = NULL, .secs = 3 };
	int extra = 0;
	double mbps, seal_us, open_us, best, aps = 0, ratio = 0;
	int c;

	while ((c = getopt(argc, argv, "d:t:p:")) != -1) {
		if (c == 'd')
			b.dir = optarg;
		else if (c == 't' && (b.secs = strtod(optarg, NULL)) > 0)
			continue;
		else if (c == 'p' && (extra = (int)strtol(optarg, NULL, 10)) > 0 &&
		    extra <= PRODUCERS_MAX)
			continue;
		else
			usage();
	}
	if (b.dir == NULL || sec_init() != 0)
		usage();
	log_init(LOG_LVL_WARN, LOG_TARGET_STDERR);
	if (mkdir(b.dir, 0700) != 0 && errno != EEXIST)
		fatal("%s: %s", b.dir, strerror(errno));
	b.fsyncs_per_s = measure_fsyncs(b.dir, 2, false);
	best = measure_fsyncs(b.dir, 2, true);
	measure_crypto(1, &mbps, &seal_us, &open_us);
	printf("bench/store: %s, %.0f s per run, %ld cores\n", b.dir, b.secs,
	    sysconf(_SC_NPROCESSORS_ONLN));
	printf("disk:   %.0f fsyncs/s (4 KiB write + fdatasync, appending, same directory;\n"
	    "        each row measures it again between its append slices);\n"
	    "        %.0f fsyncs/s overwriting a preallocated file (best case)\n",
	    b.fsyncs_per_s, best);
	printf("crypto: %.0f MiB/s XChaCha20-Poly1305 secretstream, one core (sec_encrypt, "
	    "1 MiB);\n        sec_seal_key %.1f us (one recipient: its ephemeral pair reused),\n"
	    "        sec_open_key %.0f us (X25519)\n\n", mbps,
	    seal_us, open_us);
	printf("%10s  %9s  %10s  %7s  %9s  %14s  %8s  %13s  %7s\n", "message", "producers",
	    "appends/s", "MiB/s", "commits/s", "appends/commit", "fsyncs/s", "appends/fsync",
	    "crypto");
	report(&b, 4096, 1, NULL);
	ratio = report(&b, 4096, 16, &aps);
	report(&b, 100 * 1024, 1, NULL);
	report(&b, 100 * 1024, 16, NULL);
	if (extra > 0)
		report(&b, 4096, extra, NULL);
	printf("\nappends/fsync: appends/s over the disk's fsyncs/s (the 1-producer rows show\n"
	    "what one commit costs: one write + fdatasync of the write-ahead log, then LMDB\n"
	    "without its own flushes). 16 producers can share a commit at most 16 ways.\n"
	    "Each row's time includes flushing data.mdb after every slice (the checkpoint\n"
	    "the appends owe) before the disk is probed.\n"
	    "crypto: the share of producer time spent sealing (the rest waits for commits).\n");
	printf("\nacceptance: 16 producers, 4 KiB: %.2f appends per fsync (need >= %.0f): %s\n"
	    "            (%.2f against the best-case overwrite rate, also sampled between "
	    "slices)\n", ratio, ACCEPT_RATIO, ratio >= ACCEPT_RATIO ? "PASS" : "FAIL", aps);
	return ratio >= ACCEPT_RATIO ? 0 : 1;
}
