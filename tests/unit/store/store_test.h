/*
 * store_test.h: helpers shared by the store/ unit tests: a fresh store in
 * a temporary directory, LMDB-mtest style CHECK macros, and sealing the
 * way ingest does it (content key, sec_encrypt of message and summary,
 * the key sealed to the account).
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
