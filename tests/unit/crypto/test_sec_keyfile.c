/*
 * test_sec_keyfile.c: key files in a temporary data_dir: creation, modes,
 * loading, refusals with the path in the error, and the recovery pair
 * (including the offline deployment, recovery.pub without recovery.key).
 */
#include "sec_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/sg.h"

static char dir[64];

static char *
path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/sec_keyfile.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *p;

	(void)state;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		p = path_of(e->d_name);
		if (unlink(p) != 0 && errno == EISDIR)
			rmdir(p);
		else if (errno == EPERM)
			rmdir(p);
		free(p);
	}
	closedir(d);
	return rmdir(dir);
}

static size_t
dir_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static unsigned
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

static size_t
read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

static void
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* err must be exactly want_fmt with its "%s" replaced by the path. */
static void
assert_err(char **err, const char *want_fmt, const char *path)
{
	const char *at = strstr(want_fmt, "%s");
	char *want;

	assert_non_null(at);
	want = xasprintf("%.*s%s%s", (int)(at - want_fmt), want_fmt, path, at + 2);

	assert_non_null(*err);
	assert_string_equal(*err, want);
	free(want);
	free(*err);
	*err = NULL;
}

static void
assert_err_names(char **err, const char *path)
{
	assert_non_null(*err);
	assert_non_null(strstr(*err, path));
	free(*err);
	*err = NULL;
}

static void
test_keyfile_ensure_creates_0600_file(void **state)
{
	char *p = path_of("queue.key"), *err = NULL;
	char buf[256];
	mode_t old = umask(0);
	size_t n;

	(void)state;
	assert_int_equal(sec_keyfile_ensure(p, "queue", &err), 0);
	umask(old);
	assert_null(err);
	assert_int_equal(mode_of(p), 0600);
	n = read_file(p, buf, sizeof buf);
	assert_int_equal(n, strlen("sealgate-key v1 queue\n") + 44 + 1);
	assert_memory_equal(buf, "sealgate-key v1 queue\n", 22);
	assert_int_equal(buf[n - 1], '\n');
	assert_int_equal(buf[n - 2], '=');
	free(p);
}

static void
test_keyfile_ensure_is_idempotent_and_load_reads_key(void **state)
{
	char *p = path_of("index.key"), *err = NULL;
	char before[256], after[256];
	uint8_t *k1, *k2, want[SEC_KEY_BYTES];
	size_t n, wlen;

	(void)state;
	assert_int_equal(sec_keyfile_ensure(p, "index", &err), 0);
	read_file(p, before, sizeof before);
	assert_int_equal(sec_keyfile_ensure(p, "index", &err), 0);
	n = read_file(p, after, sizeof after);
	assert_string_equal(before, after);
	k1 = sec_keyfile_load(p, "index", &err);
	k2 = sec_keyfile_load(p, "index", &err);
	assert_null(err);
	assert_non_null(k1);
	assert_memory_equal(k1, k2, SEC_KEY_BYTES);
	assert_int_equal(sec_base64_decode(want, sizeof want, &wlen, after + 22, n - 23), 0);
	assert_int_equal(wlen, SEC_KEY_BYTES);
	assert_memory_equal(k1, want, SEC_KEY_BYTES);
	sec_free(k1, SEC_KEY_BYTES);
	sec_free(k2, SEC_KEY_BYTES);
	free(p);
}

static void
test_keyfile_refuses_group_or_world_access(void **state)
{
	static const struct {
		mode_t		 mode;
		const char	*err;
	} cases[] = {
		{ 0644, "refusing %s: mode 0644, must not be readable by group or others" },
		{ 0640, "refusing %s: mode 0640, must not be readable by group or others" },
		{ 0604, "refusing %s: mode 0604, must not be readable by group or others" },
		{ 0620, "refusing %s: mode 0620, must not be writable by group or others" },
		{ 0602, "refusing %s: mode 0602, must not be writable by group or others" },
	};
	char *p = path_of("queue.key"), *err = NULL;
	uint8_t *k;
	size_t i;

	(void)state;
	assert_int_equal(sec_keyfile_ensure(p, "queue", &err), 0);
	for (i = 0; i < SG_NITEMS(cases); i++) {
		assert_int_equal(chmod(p, cases[i].mode), 0);
		assert_null(sec_keyfile_load(p, "queue", &err));
		assert_err(&err, cases[i].err, p);
		/* ensure on an existing file checks it too */
		assert_int_equal(sec_keyfile_ensure(p, "queue", &err), -1);
		assert_err(&err, cases[i].err, p);
	}
	assert_int_equal(chmod(p, 0400), 0);
	k = sec_keyfile_load(p, "queue", &err);
	assert_non_null(k);
	sec_free(k, SEC_KEY_BYTES);
	free(p);
}

static void
test_keyfile_refuses_directory_fifo_and_missing(void **state)
{
	char *d = path_of("dir.key"), *f = path_of("fifo.key"), *m = path_of("none.key");
	char *err = NULL;

	(void)state;
	assert_int_equal(mkdir(d, 0700), 0);
	assert_null(sec_keyfile_load(d, "queue", &err));
	assert_err(&err, "refusing %s: not a regular file", d);
	assert_int_equal(sec_keyfile_ensure(d, "queue", &err), -1);
	assert_err(&err, "refusing %s: not a regular file", d);
	assert_int_equal(mkfifo(f, 0600), 0);
	assert_null(sec_keyfile_load(f, "queue", &err));	/* must not block */
	assert_err(&err, "refusing %s: not a regular file", f);
	assert_null(sec_keyfile_load(m, "queue", &err));
	assert_err(&err, "cannot open %s: No such file or directory", m);
	free(d);
	free(f);
	free(m);
}

static void
test_keyfile_refuses_wrong_kind_and_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"sealgate-key v1 queue\n",
		"sealgate-key v1 queue",
		"sealgate-key v2 queue\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"sealgate-key v1 queue \nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"sealgate-key v1 queue\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
		"sealgate-key v1 queue\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		"sealgate-key v1 queue\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",
		"sealgate-key v1 queue\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
		"sealgate-key v1 queue\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nextra\n",
		"sealgate-key v1 queue\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n",
		"sealgate-key v1 queue\n\x80" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"sealgate-key v1 queue\n AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	};
	static const uint8_t zero[SEC_KEY_BYTES];
	char *p = path_of("queue.key"), *err = NULL;
	uint8_t *k;
	size_t i;

	(void)state;
	for (i = 0; i < SG_NITEMS(bad); i++) {
		write_file(p, bad[i], strlen(bad[i]), 0600);
		assert_null(sec_keyfile_load(p, "queue", &err));
		assert_err(&err, "%s: not a sealgate-key v1 queue file", p);
	}
	/* the last newline may be missing */
	write_file(p, "sealgate-key v1 queue\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 66,
	    0600);
	k = sec_keyfile_load(p, "queue", &err);
	assert_non_null(k);
	assert_memory_equal(k, zero, SEC_KEY_BYTES);
	sec_free(k, SEC_KEY_BYTES);
	assert_null(sec_keyfile_load(p, "index", &err));
	assert_err(&err, "%s: not a sealgate-key v1 index file", p);
	free(p);
}

/* ---- the recovery key pair ---- */

struct rec_paths {
	char	*key, *pub;
};

static struct rec_paths
rec_paths(void)
{
	struct rec_paths r = { path_of("recovery.key"), path_of("recovery.pub") };

	return r;
}

static void
rec_paths_free(struct rec_paths *r)
{
	free(r->key);
	free(r->pub);
}

static void
test_recovery_ensure_creates_matching_pair(void **state)
{
	struct rec_paths r = rec_paths();
	uint8_t pk[SEC_KEY_BYTES];
	struct sec_sk *k;
	char *err = NULL;
	char buf[256];

	(void)state;
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	assert_null(err);
	assert_int_equal(mode_of(r.key), 0600);
	assert_int_equal(mode_of(r.pub), 0644);
	read_file(r.key, buf, sizeof buf);
	assert_memory_equal(buf, "sealgate-key v1 recovery-secret\n", 32);
	read_file(r.pub, buf, sizeof buf);
	assert_memory_equal(buf, "sealgate-key v1 recovery-public\n", 32);
	k = sec_recovery_load(r.key, &err);
	assert_non_null(k);
	assert_int_equal(sec_recovery_pub_load(r.pub, pk, &err), 0);
	assert_memory_equal(pk, k->pk, SEC_KEY_BYTES);
	sec_sk_unref(&k);
	assert_int_equal(dir_entries(), 2);
	rec_paths_free(&r);
}

static void
test_recovery_ensure_is_idempotent_and_detects_mismatch(void **state)
{
	struct rec_paths r = rec_paths();
	char *okey = path_of("other.key"), *opub = path_of("other.pub"), *err = NULL;
	char before[256], after[256];
	struct sec_sk *other = sec_sk_new();

	(void)state;
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	read_file(r.key, before, sizeof before);
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	read_file(r.key, after, sizeof after);
	assert_string_equal(before, after);

	assert_int_equal(sec_recovery_write(other, okey, opub, &err), 0);
	assert_int_equal(rename(opub, r.pub), 0);
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "is not the public key of"));
	assert_err_names(&err, r.pub);
	sec_sk_unref(&other);
	free(okey);
	free(opub);
	rec_paths_free(&r);
}

/* recovery.pub without recovery.key: the secret was moved offline. */
static void
test_recovery_offline_pub_without_key_left_alone(void **state)
{
	struct rec_paths r = rec_paths();
	uint8_t pk[SEC_KEY_BYTES], pk2[SEC_KEY_BYTES];
	char before[256], after[256];
	char *err = NULL;

	(void)state;
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	assert_int_equal(sec_recovery_pub_load(r.pub, pk, &err), 0);
	read_file(r.pub, before, sizeof before);
	assert_int_equal(unlink(r.key), 0);
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	assert_null(err);
	assert_int_equal(access(r.key, F_OK), -1);
	read_file(r.pub, after, sizeof after);
	assert_string_equal(before, after);
	assert_int_equal(sec_recovery_pub_load(r.pub, pk2, &err), 0);
	assert_memory_equal(pk, pk2, SEC_KEY_BYTES);
	assert_null(sec_recovery_load(r.key, &err));
	assert_err_names(&err, r.key);
	rec_paths_free(&r);
}

static void
test_recovery_key_without_pub_gets_pub_again(void **state)
{
	struct rec_paths r = rec_paths();
	uint8_t pk[SEC_KEY_BYTES];
	struct sec_sk *k;
	char *err = NULL;

	(void)state;
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	assert_int_equal(unlink(r.pub), 0);
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	k = sec_recovery_load(r.key, &err);
	assert_non_null(k);
	assert_int_equal(sec_recovery_pub_load(r.pub, pk, &err), 0);
	assert_memory_equal(pk, k->pk, SEC_KEY_BYTES);
	assert_int_equal(mode_of(r.pub), 0644);
	sec_sk_unref(&k);
	rec_paths_free(&r);
}

static void
test_recovery_files_refused_by_mode(void **state)
{
	struct rec_paths r = rec_paths();
	uint8_t pk[SEC_KEY_BYTES];
	char *err = NULL;

	(void)state;
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	assert_int_equal(chmod(r.key, 0644), 0);
	assert_null(sec_recovery_load(r.key, &err));
	assert_err(&err, "refusing %s: mode 0644, must not be readable by group or others",
	    r.key);
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), -1);
	assert_err_names(&err, r.key);
	assert_int_equal(chmod(r.key, 0600), 0);
	/* A public key others could replace would receive every account key. */
	assert_int_equal(chmod(r.pub, 0664), 0);
	assert_int_equal(sec_recovery_pub_load(r.pub, pk, &err), -1);
	assert_err(&err, "refusing %s: mode 0664, must not be writable by group or others",
	    r.pub);
	assert_int_equal(chmod(r.pub, 0444), 0);
	assert_int_equal(sec_recovery_pub_load(r.pub, pk, &err), 0);
	rec_paths_free(&r);
}

static void
test_recovery_pub_small_order_key_refused(void **state)
{
	static const char zero_pk[] = "sealgate-key v1 recovery-public\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	char *p = path_of("recovery.pub"), *err = NULL;
	uint8_t pk[SEC_KEY_BYTES];

	(void)state;
	write_file(p, zero_pk, sizeof zero_pk - 1, 0644);
	assert_int_equal(sec_recovery_pub_load(p, pk, &err), -1);
	assert_err(&err, "%s: not a usable public key", p);
	free(p);
}

static void
test_recovery_write_rotates_atomically(void **state)
{
	struct rec_paths r = rec_paths();
	struct sec_sk *k = sec_sk_new(), *loaded;
	uint8_t pk[SEC_KEY_BYTES];
	char *err = NULL;

	(void)state;
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	assert_int_equal(sec_recovery_write(k, r.key, r.pub, &err), 0);
	assert_null(err);
	loaded = sec_recovery_load(r.key, &err);
	assert_non_null(loaded);
	assert_memory_equal(loaded->sk, k->sk, SEC_KEY_BYTES);
	assert_int_equal(sec_recovery_pub_load(r.pub, pk, &err), 0);
	assert_memory_equal(pk, k->pk, SEC_KEY_BYTES);
	assert_int_equal(mode_of(r.key), 0600);
	assert_int_equal(mode_of(r.pub), 0644);
	assert_int_equal(dir_entries(), 2);		/* no temporary left behind */
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	sec_sk_unref(&loaded);
	sec_sk_unref(&k);
	rec_paths_free(&r);
}

static void
test_recovery_files_open_account_wraps(void **state)
{
	struct rec_paths r = rec_paths();
	struct sec_sk *acct = sec_sk_new(), *rec, *u;
	uint8_t pk[SEC_KEY_BYTES];
	char *err = NULL;
	uint8_t *blob;
	size_t len;

	(void)state;
	assert_int_equal(sec_recovery_ensure(r.key, r.pub, &err), 0);
	assert_int_equal(sec_recovery_pub_load(r.pub, pk, &err), 0);
	sec_wrap_recovery(acct, pk, &blob, &len);
	assert_non_null(blob);
	rec = sec_recovery_load(r.key, &err);
	assert_non_null(rec);
	u = sec_unwrap_recovery(blob, len, rec);
	assert_non_null(u);
	assert_memory_equal(u->sk, acct->sk, SEC_KEY_BYTES);
	free(blob);
	sec_sk_unref(&u);
	sec_sk_unref(&rec);
	sec_sk_unref(&acct);
	rec_paths_free(&r);
}

static void
test_recovery_ensure_in_missing_directory_fails(void **state)
{
	char *key = path_of("nodir/recovery.key"), *pub = path_of("nodir/recovery.pub");
	char *err = NULL;

	(void)state;
	assert_int_equal(sec_recovery_ensure(key, pub, &err), -1);
	assert_err_names(&err, key);
	assert_int_equal(sec_keyfile_ensure(key, "queue", &err), -1);
	assert_err_names(&err, key);
	free(key);
	free(pub);
}

#define DIR_TEST(f)	cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DIR_TEST(test_keyfile_ensure_creates_0600_file),
		DIR_TEST(test_keyfile_ensure_is_idempotent_and_load_reads_key),
		DIR_TEST(test_keyfile_refuses_group_or_world_access),
		DIR_TEST(test_keyfile_refuses_directory_fifo_and_missing),
		DIR_TEST(test_keyfile_refuses_wrong_kind_and_garbage),
		DIR_TEST(test_recovery_ensure_creates_matching_pair),
		DIR_TEST(test_recovery_ensure_is_idempotent_and_detects_mismatch),
		DIR_TEST(test_recovery_offline_pub_without_key_left_alone),
		DIR_TEST(test_recovery_key_without_pub_gets_pub_again),
		DIR_TEST(test_recovery_files_refused_by_mode),
		DIR_TEST(test_recovery_pub_small_order_key_refused),
		DIR_TEST(test_recovery_write_rotates_atomically),
		DIR_TEST(test_recovery_files_open_account_wraps),
		DIR_TEST(test_recovery_ensure_in_missing_directory_fails),
	};

	return SEC_TEST_MAIN(tests);
}
