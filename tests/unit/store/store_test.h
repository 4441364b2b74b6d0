/*
 * store_test.h: helpers shared by the store/ unit tests: a fresh store in
 * a temporary directory, LMDB-mtest style CHECK macros, and sealing the
 * way ingest does it (content key, sec_encrypt of message and summary,
 * the key sealed to the account); and the appenders the crash and
 * power-loss tests kill, with the check of what they reported.
 */
#ifndef STORE_TEST_H
#define STORE_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto/sec.h"
#include "store/store.h"

#define CHECK(e)							\
	do {								\
		if (!(e))						\
			fail_msg("%s:%d: CHECK(%s)", __FILE__, __LINE__, #e); \
	} while (0)

#define CHECK_RC(e, want)						\
	do {								\
		enum store_rc rc_ = (e), want_ = (want);		\
		if (rc_ != want_)					\
			fail_msg("%s:%d: %s -> %s, want %s", __FILE__,	\
			    __LINE__, #e, store_rc_str(rc_), store_rc_str(want_)); \
	} while (0)

#define T_TTL	(7 * 86400)

static inline void
t_sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- temporary directories ---- */

static inline char *
t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	p = xasprintf("%s/sgstore.XXXXXX", base);
	CHECK(mkdtemp(p) != NULL);
	return p;
}

static inline void
t_rmtree(const char *path)
{
	struct dirent *e;
	struct stat sb;
	DIR *d;
	char *p;

	if (lstat(path, &sb) != 0)
		return;
	if (S_ISDIR(sb.st_mode) && (d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			p = xasprintf("%s/%s", path, e->d_name);
			t_rmtree(p);
			free(p);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static inline char *
t_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* ---- a store ---- */

static inline struct store *
t_open_opts(const char *dir, uint64_t max_size, uint64_t map_size, bool ro)
{
	struct store_opts o = { .data_dir = dir, .max_size = max_size, .map_size = map_size,
	    .read_only = ro };
	struct store *st;
	char *err = NULL;

	st = store_open(&o, &err);
	if (st == NULL)
		fail_msg("store_open: %s", err != NULL ? err : "?");
	return st;
}

/* store_init, then store_open: a fresh vault in dir. */
static inline struct store *
t_store_new(const char *dir)
{
	char *err = NULL;

	if (store_init(dir, &err) != 0)
		fail_msg("store_init: %s", err != NULL ? err : "?");
	return t_open_opts(dir, 0, 0, false);
}

/* A fixture: a fresh store in its own directory. */
struct t_fx {
	char		*dir;
	struct store	*st;
};

static inline int
t_fx_setup(void **state)
{
	struct t_fx *fx = xcalloc(1, sizeof *fx);

	fx->dir = t_tmpdir();
	fx->st = t_store_new(fx->dir);
	*state = fx;
	return 0;
}

static inline int
t_fx_teardown(void **state)
{
	struct t_fx *fx = *state;

	store_close(&fx->st);
	t_rmtree(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* ---- ops the tests run often ---- */

struct t_create {
	struct store_invite	*inv;
	struct store_account	 acct;
};

static inline enum store_rc
t_create_op(struct store_txn *t, void *arg)
{
	struct t_create *c = arg;

	return store_account_create(t, c->inv, &c->acct, NULL);
}

/* An invited account (no KDF); *token_out (44 bytes) gets its token. */
static inline struct store_account
t_invite(struct store *st, const char *address, char *token_out)
{
	struct t_create c = { .inv = store_invite_prepare(st, address, T_TTL) };

	CHECK(c.inv != NULL);
	CHECK_RC(store_write_wait(st, t_create_op, &c), STORE_OK);
	if (token_out != NULL)
		memcpy(token_out, c.inv->token, STORE_TOKEN_TEXT_LEN + 1);
	store_invite_free(&c.inv);
	return c.acct;
}

static inline uint64_t
t_mbox_id(struct store *st, uint64_t account_id, const char *name)
{
	struct store_mailbox m;
	struct store_txn *t;
	enum store_rc rc;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_mailbox_get(t, account_id, name, &m), STORE_OK);
	store_read_end(&t);
	return m.id;
}

static inline struct store_mailbox
t_mbox(struct store *st, uint64_t mailbox_id)
{
	struct store_mailbox m;
	struct store_txn *t;
	enum store_rc rc;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	CHECK_RC(store_mailbox_get_id(t, mailbox_id, &m), STORE_OK);
	store_read_end(&t);
	return m;
}

/* A sealed message as ingest makes it. */
struct t_sealed {
	struct sec_buf	msg, sum;
	uint8_t		sealed[STORE_SEALED_KEY_BYTES];
	uint64_t	size;
};

static inline void
t_seal(struct t_sealed *s, const uint8_t pk[32], const void *msg, size_t len,
    const void *sum, size_t sumlen)
{
	uint8_t key[SEC_KEY_BYTES];

	memset(s, 0, sizeof *s);
	sec_content_key_new(key);
	sec_encrypt(key, msg, len, &s->msg);
	sec_encrypt(key, sum, sumlen, &s->sum);
	sec_seal_key(key, pk, s->sealed);
	sec_wipe(key, sizeof key);
	s->size = len;
}

static inline void
t_sealed_free(struct t_sealed *s)
{
	sec_buf_free(&s->msg);
	sec_buf_free(&s->sum);
}

struct t_append {
	const struct t_sealed	*s;
	uint64_t		 account_id, mailbox_id;
	uint32_t		 flags;
	struct store_msg	 out;
};

static inline enum store_rc
t_append_op(struct store_txn *t, void *arg)
{
	struct t_append *a = arg;
	struct store_blob b = { a->s->msg.data, a->s->msg.len, a->s->sum.data, a->s->sum.len,
	    a->s->size };
	enum store_rc rc;

	memset(&a->out, 0, sizeof a->out);
	a->out.mailbox_id = a->mailbox_id;
	a->out.flags = a->flags;
	a->out.size = a->s->size;
	if ((rc = store_blob_put(t, &b, &a->out.blob_id)) != STORE_OK ||
	    (rc = store_key_put(t, a->out.blob_id, a->account_id, a->s->sealed)) != STORE_OK)
		return rc;
	return store_msg_append(t, &a->out);
}

/* Seal and append text to a mailbox; returns the message record. */
static inline struct store_msg
t_append(struct store *st, const struct store_account *acct, uint64_t mailbox_id,
    const char *text, uint32_t flags)
{
	struct t_sealed s;
	struct t_append a = { .s = &s, .account_id = acct->id, .mailbox_id = mailbox_id,
	    .flags = flags };

	t_seal(&s, acct->pk, text, strlen(text), "summary", 7);
	CHECK_RC(store_write_wait(st, t_append_op, &a), STORE_OK);
	t_sealed_free(&s);
	return a.out;
}

/* Open a message's key with k and decrypt its blob (and summary) into pt;
 * 0, or -1 if anything fails to open. */
static inline int
t_read(struct store *st, const struct sec_sk *k, uint64_t account_id, uint64_t blob_id,
    struct sec_buf *pt, struct sec_buf *sum)
{
	uint8_t sealed[STORE_SEALED_KEY_BYTES], key[SEC_KEY_BYTES];
	const uint8_t *ct;
	struct store_txn *t;
	enum store_rc rc;
	size_t len;
	int r = -1;

	CHECK((t = store_read_begin(st, &rc)) != NULL);
	if (store_key_get(t, blob_id, account_id, sealed) == STORE_OK &&
	    sec_open_key(sealed, sizeof sealed, k, key) == 0 &&
	    store_blob_get(t, blob_id, &ct, &len) == STORE_OK &&
	    sec_decrypt(key, ct, len, pt) == 0)
		r = 0;
	if (r == 0 && sum != NULL && (store_summary_get(t, blob_id, &ct, &len) != STORE_OK ||
	    sec_decrypt(key, ct, len, sum) != 0))
		r = -1;
	store_read_end(&t);
	sec_wipe(key, sizeof key);
	return r;
}

/* A no-op write: once it returns, every op queued before it committed. */
static inline enum store_rc
t_nop_op(struct store_txn *t, void *arg)
{
	(void)t;
	(void)arg;
	return STORE_OK;
}

static inline void
t_barrier(struct store *st)
{
	CHECK_RC(store_write_wait(st, t_nop_op, NULL), STORE_OK);
}

/* ---- appenders killed mid-write (test_store_crash.c, test_store_powerloss.c) ---- */

/* What an appender reports on its pipe for each append it was told is
 * committed, as it is in memory: keep it small (one write of it must be
 * atomic) and its layout as it is. */
struct t_record {
	uint32_t	round, thread, seq, uid;
	uint64_t	blob;
};
_Static_assert(sizeof(struct t_record) < 512, "a record within POSIX's least PIPE_BUF");

/* The account the appenders write to, and every record they reported. */
struct t_reports {
	const char		*tag;	/* in each message's Subject */
	struct store_account	 a;
	struct sec_sk		*sk;
	uint64_t		 inbox;
	struct t_record		*seen;
	size_t			 nseen, cap;
};

/* A fresh store in dir with an account to append to, logged in for its
 * key. */
static inline void
t_reports_init(struct t_reports *rp, const char *dir, const char *tag, const char *address,
    const char *pw)
{
	struct store *st = t_store_new(dir);
	struct store_account l;

	memset(rp, 0, sizeof *rp);
	rp->tag = tag;
	CHECK_RC(store_account_add(st, address, pw, strlen(pw), SEC_KDF_INTERACTIVE, &rp->a),
	    STORE_OK);
	CHECK_RC(store_login(st, address, pw, strlen(pw), &l, &rp->sk), STORE_OK);
	rp->inbox = t_mbox_id(st, rp->a.id, "INBOX");
	store_close(&st);	/* no writer thread is alive when the test forks */
}

static inline void
t_reports_free(struct t_reports *rp)
{
	sec_sk_unref(&rp->sk);
	free(rp->seen);
	rp->seen = NULL;
	rp->nseen = rp->cap = 0;
}

/* The message a (round, thread, seq) sends: a header naming it, then
 * 100..20000 bytes of a pattern from the same seed. */
static inline size_t
t_message_text(char **out, const char *tag, uint32_t round, uint32_t thread, uint32_t seq)
{
	uint32_t seed = round * 1000003u + thread * 7919u + seq, x = seed | 1;
	size_t head, hmax = 64 + strlen(tag), pad = 100 + seed % 19901, i;
	char *p = xmalloc(hmax + pad);

	head = (size_t)snprintf(p, hmax, "Subject: %s %u/%u/%u\r\n\r\n", tag, round, thread,
	    seq);
	for (i = 0; i < pad; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[head + i] = (char)('a' + x % 26);
	}
	*out = p;
	return head + pad;
}

struct t_appender {
	struct store		*st;
	const struct t_reports	*rp;
	uint32_t		 round, thread;
	int			 fd;
};

/* Appends (round, thread, 0, 1, ...) until the process is killed and
 * reports each on fd once it is committed; exits 3 when an append fails,
 * 4 when a report does. */
static inline void *
t_appender(void *arg)
{
	struct t_appender *c = arg;
	struct t_sealed s;
	struct t_append ap = { .s = &s, .account_id = c->rp->a.id,
	    .mailbox_id = c->rp->inbox };
	struct t_record r = { .round = c->round, .thread = c->thread };
	char *text;
	size_t len;

	for (r.seq = 0;; r.seq++) {
		len = t_message_text(&text, c->rp->tag, c->round, c->thread, r.seq);
		t_seal(&s, c->rp->a.pk, text, len, text, 20);
		if (store_write_wait(c->st, t_append_op, &ap) != STORE_OK)
			_exit(3);
		r.uid = ap.out.uid;
		r.blob = ap.out.blob_id;
		/* bounds: a record is far below PIPE_BUF, so the write is atomic */
		if (write(c->fd, &r, sizeof r) != (ssize_t)sizeof r)
			_exit(4);
		t_sealed_free(&s);
		free(text);
	}
	return NULL;
}

/* n appenders on st, numbered from first, each reporting to fd; exits 5
 * when one does not start. */
static inline void
t_appenders_start(struct store *st, const struct t_reports *rp, uint32_t round,
    uint32_t first, uint32_t n, int fd)
{
	struct t_appender *c = xcalloc(n, sizeof *c);	/* theirs until the kill */
	pthread_t th;
	uint32_t i;

	for (i = 0; i < n; i++) {
		c[i] = (struct t_appender){ .st = st, .rp = rp, .round = round,
		    .thread = first + i, .fd = fd };
		if (pthread_create(&th, NULL, t_appender, &c[i]) != 0)
			_exit(5);
	}
}

static inline void
t_reports_add(struct t_reports *rp, const struct t_record *r)
{
	if (rp->nseen == rp->cap) {
		rp->cap = rp->cap == 0 ? 1024 : rp->cap * 2;
		rp->seen = xreallocarray(rp->seen, rp->cap, sizeof *rp->seen);
	}
	rp->seen[rp->nseen++] = *r;
}

/* The reports on fd until every writer end is closed. */
static inline void
t_collect(struct t_reports *rp, int fd)
{
	struct t_record r;
	ssize_t n;

	while ((n = read(fd, &r, sizeof r)) == (ssize_t)sizeof r)
		t_reports_add(rp, &r);
	CHECK(n == 0);	/* never a torn record */
}

/* Every reported message is there and decrypts to what was sent, in the
 * store opened with o after round. */
static inline void
t_verify(const struct t_reports *rp, const struct store_opts *o, uint32_t round)
{
	struct sec_buf pt = { NULL, 0, 0 };
	struct store_msg m;
	struct store_txn *t;
	struct store *st;
	enum store_rc rc;
	size_t i, len;
	char *text, *err = NULL;

	if ((st = store_open(o, &err)) == NULL)
		fail_msg("round %u: store_open: %s", round, err != NULL ? err : "?");
	for (i = 0; i < rp->nseen; i++) {
		const struct t_record *r = &rp->seen[i];

		CHECK((t = store_read_begin(st, &rc)) != NULL);
		rc = store_msg_get(t, rp->inbox, r->uid, &m);
		store_read_end(&t);
		if (rc != STORE_OK)
			fail_msg("round %u: message %u/%u/%u (uid %u) lost: %s", round,
			    r->round, r->thread, r->seq, r->uid, store_rc_str(rc));
		CHECK(m.blob_id == r->blob);
		CHECK(t_read(st, rp->sk, rp->a.id, m.blob_id, &pt, NULL) == 0);
		len = t_message_text(&text, rp->tag, r->round, r->thread, r->seq);
		CHECK(pt.len == len && memcmp(pt.data, text, len) == 0);
		free(text);
		sec_buf_wipe(&pt);
	}
	CHECK(t_mbox(st, rp->inbox).messages >= rp->nseen);
	store_close(&st);
}

/* ---- files ---- */

/* Read a whole file (malloc'd), or NULL. */
static inline uint8_t *
t_slurp(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *p;
	ssize_t n;
	size_t off = 0;
	int fd = open(path, O_RDONLY);

	*len = 0;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	p = xmalloc((size_t)sb.st_size + 1);
	while (off < (size_t)sb.st_size && (n = read(fd, p + off, (size_t)sb.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	*len = off;
	return p;
}

static inline const uint8_t *
t_memmem(const uint8_t *hay, size_t hlen, const void *needle, size_t nlen)
{
	size_t i;

	if (nlen == 0 || nlen > hlen)
		return NULL;
	for (i = 0; i + nlen <= hlen; i++)
		if (hay[i] == *(const uint8_t *)needle && memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

#define STORE_TEST_MAIN(tests)	\
	(sec_init() != 0 ? 1 : cmocka_run_group_tests(tests, NULL, NULL))

#endif
