/*
 * sec_keyfile.c: 32-byte keys in data_dir files ("sealgate-key v1 <kind>\n"
 * then the key in base64 and "\n"): the queue and index keys and the
 * recovery key pair. Like OpenSMTPD, a secret key file that group or others
 * could read is refused rather than trusted; so is a public key file others
 * could rewrite, since whoever substitutes recovery.pub receives every
 * account key sealed from then on.
 */
#include "crypto/sec.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/sec_private.h"

#define KF_MAGIC	"sealgate-key v1 "
#define KF_KIND_MAX	64
#define KF_B64_LEN	44	/* base64 of 32 bytes, with one '=' */
#define KF_MAX		(sizeof KF_MAGIC + KF_KIND_MAX + 1 + KF_B64_LEN + 1)
#define KF_SECRET_MODE	0600
#define KF_PUBLIC_MODE	0644
#define KIND_REC_SK	"recovery-secret"
#define KIND_REC_PK	"recovery-public"

_Static_assert(KF_B64_LEN + 1 ==
    sodium_base64_ENCODED_LEN(SEC_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL), "base64 length");

enum kf_class { KF_SECRET, KF_PUBLIC };

static char *
kf_errno(const char *what, const char *path)
{
	return xasprintf("%s %s: %s", what, path, strerror(errno));
}

/* Formats the file into buf (KF_MAX bytes); returns its length. */
static size_t
kf_format(char *buf, const char *kind, const uint8_t key[SEC_KEY_BYTES])
{
	size_t n = strlen(kind);
	size_t len;

	SG_ASSERT(n > 0 && n <= KF_KIND_MAX && strpbrk(kind, " \n") == NULL);
	len = sizeof KF_MAGIC - 1;
	memcpy(buf, KF_MAGIC, len);
	memcpy(buf + len, kind, n);
	len += n;
	buf[len++] = '\n';
	sodium_bin2base64(buf + len, KF_B64_LEN + 1, key, SEC_KEY_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	len += KF_B64_LEN;
	buf[len++] = '\n';
	/* bounds: magic + kind + '\n' + base64 + '\n' <= KF_MAX */
	return len;
}

static int
kf_sync_dir(const char *path, char **err_out)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".") :
	    xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	int fd, rc = -1;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		*err_out = kf_errno("cannot sync directory", dir);
	else
		rc = 0;
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

static int
kf_write_fd(int fd, const char *path, const char *buf, size_t len, mode_t mode,
    char **err_out)
{
	ssize_t n;

	/* Set the mode explicitly: the umask may only narrow the one given
	 * to open(), and mkstemp() always uses 0600. */
	if (fchmod(fd, mode) != 0) {
		*err_out = kf_errno("cannot chmod", path);
		return -1;
	}
	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err_out = kf_errno("cannot write", path);
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0) {
		*err_out = kf_errno("cannot sync", path);
		return -1;
	}
	return 0;
}

/*
 * Writes a key file. Without replace the file is created with O_EXCL, and
 * *exists_out tells an existing file (no error then) from a failure. With
 * replace it is written beside path and renamed over it, so readers see the
 * old file or the new one, never a part.
 */
static int
kf_write(const char *path, const char *kind, const uint8_t key[SEC_KEY_BYTES], mode_t mode,
    bool replace, bool *exists_out, char **err_out)
{
	char buf[KF_MAX];
	char *tmp = replace ? xasprintf("%s.XXXXXX", path) : NULL;
	size_t len = kf_format(buf, kind, key);
	int fd, rc;

	if (exists_out != NULL)
		*exists_out = false;
	if (replace)
		fd = mkstemp(tmp);
	else
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		if (!replace && errno == EEXIST && exists_out != NULL)
			*exists_out = true;
		else
			*err_out = kf_errno("cannot create", replace ? tmp : path);
		rc = -1;
	} else {
		rc = kf_write_fd(fd, path, buf, len, mode, err_out);
		if (close(fd) != 0 && rc == 0) {
			*err_out = kf_errno("cannot write", path);
			rc = -1;
		}
		if (rc == 0 && replace && rename(tmp, path) != 0) {
			*err_out = kf_errno("cannot rename onto", path);
			rc = -1;
		}
		if (rc != 0)
			unlink(replace ? tmp : path);
		else
			rc = kf_sync_dir(path, err_out);
	}
	sodium_memzero(buf, sizeof buf);
	free(tmp);
	return rc;
}

static int
kf_check_stat(const char *path, const struct stat *st, enum kf_class cls, char **err_out)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (!S_ISREG(st->st_mode)) {
		*err_out = xasprintf("refusing %s: not a regular file", path);
		return -1;
	}
	if (cls == KF_SECRET && (mode & (S_IRGRP | S_IROTH)) != 0) {
		*err_out = xasprintf("refusing %s: mode %04o, must not be readable by group "
		    "or others", path, mode);
		return -1;
	}
	if ((mode & (S_IWGRP | S_IWOTH)) != 0) {
		*err_out = xasprintf("refusing %s: mode %04o, must not be writable by group "
		    "or others", path, mode);
		return -1;
	}
	return 0;
}

/* Reads at most cap bytes; -1 if the file is longer (not a key file). */
static int
kf_read_fd(int fd, char *buf, size_t cap, size_t *len_out)
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap)
			return -1;
	}
	*len_out = len;
	return 0;
}

/* The header line, the base64 line, and nothing else (the last newline may
 * have been lost to an editor). */
static int
kf_parse(const char *buf, size_t len, const char *kind, uint8_t key[SEC_KEY_BYTES])
{
	size_t mlen = sizeof KF_MAGIC - 1, klen = strlen(kind), hlen = mlen + klen + 1;
	size_t binlen = 0;
	const char *b64;

	if (len < hlen || memcmp(buf, KF_MAGIC, mlen) != 0 ||
	    memcmp(buf + mlen, kind, klen) != 0 || buf[mlen + klen] != '\n')
		return -1;
	b64 = buf + hlen;
	len -= hlen;
	if (len == KF_B64_LEN + 1 && b64[KF_B64_LEN] == '\n')
		len--;
	if (len != KF_B64_LEN || !sec_b64_ascii(b64, len))
		return -1;
	if (sodium_base642bin(key, SEC_KEY_BYTES, b64, len, NULL, &binlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || binlen != SEC_KEY_BYTES) {
		sodium_memzero(key, SEC_KEY_BYTES);
		return -1;
	}
	return 0;
}

static int
kf_read(const char *path, const char *kind, enum kf_class cls, uint8_t key[SEC_KEY_BYTES],
    char **err_out)
{
	char buf[KF_MAX];
	struct stat st;
	size_t len = 0;
	int fd, rc = -1;

	/* O_NONBLOCK: a FIFO planted at path must not hang start-up. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		*err_out = kf_errno("cannot open", path);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		*err_out = kf_errno("cannot stat", path);
	} else if (kf_check_stat(path, &st, cls, err_out) == 0) {
		if (kf_read_fd(fd, buf, sizeof buf, &len) != 0 ||
		    kf_parse(buf, len, kind, key) != 0)
			*err_out = xasprintf("%s: not a sealgate-key v1 %s file", path, kind);
		else
			rc = 0;
	}
	close(fd);
	sodium_memzero(buf, sizeof buf);
	return rc;
}

int
sec_keyfile_ensure(const char *path, const char *kind, char **err_out)
{
	uint8_t key[SEC_KEY_BYTES];
	bool exists;
	int rc;

	randombytes_buf(key, sizeof key);
	rc = kf_write(path, kind, key, KF_SECRET_MODE, false, &exists, err_out);
	/* An existing file must be one we would load: say so now, at init. */
	if (rc != 0 && exists)
		rc = kf_read(path, kind, KF_SECRET, key, err_out);
	sodium_memzero(key, sizeof key);
	return rc;
}

uint8_t *
sec_keyfile_load(const char *path, const char *kind, char **err_out)
{
	uint8_t *key = sec_alloc(SEC_KEY_BYTES);

	if (kf_read(path, kind, KF_SECRET, key, err_out) != 0) {
		sec_free(key, SEC_KEY_BYTES);
		return NULL;
	}
	return key;
}

int
sec_recovery_pub_load(const char *pub_path, uint8_t pk[SEC_KEY_BYTES], char **err_out)
{
	if (kf_read(pub_path, KIND_REC_PK, KF_PUBLIC, pk, err_out) != 0)
		return -1;
	if (!sec_pk_usable(pk)) {
		*err_out = xasprintf("%s: not a usable public key", pub_path);
		return -1;
	}
	return 0;
}

struct sec_sk *
sec_recovery_load(const char *key_path, char **err_out)
{
	uint8_t sk[SEC_KEY_BYTES];
	struct sec_sk *k = NULL;

	if (kf_read(key_path, KIND_REC_SK, KF_SECRET, sk, err_out) == 0) {
		k = sec_sk_from(sk);
		if (k == NULL)
			*err_out = xasprintf("%s: not a usable secret key", key_path);
	}
	sodium_memzero(sk, sizeof sk);
	return k;
}

int
sec_recovery_write(const struct sec_sk *k, const char *key_path, const char *pub_path,
    char **err_out)
{
	/* The secret first: a public key nobody holds the secret of would let
	 * accounts be wrapped to it and never recovered. */
	if (kf_write(key_path, KIND_REC_SK, k->sk, KF_SECRET_MODE, true, NULL, err_out) != 0)
		return -1;
	return kf_write(pub_path, KIND_REC_PK, k->pk, KF_PUBLIC_MODE, true, NULL, err_out);
}

/* 1 if something is at path (even a dangling link), 0 if not, -1 on error. */
static int
kf_exists(const char *path, char **err_out)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	*err_out = kf_errno("cannot stat", path);
	return -1;
}

static int
rec_create(const char *key_path, const char *pub_path, char **err_out)
{
	struct sec_sk *k = sec_sk_new();
	bool exists;
	int rc;

	rc = kf_write(key_path, KIND_REC_SK, k->sk, KF_SECRET_MODE, false, &exists, err_out);
	if (rc != 0 && exists)
		*err_out = xasprintf("%s appeared while it was being created", key_path);
	if (rc == 0) {
		rc = kf_write(pub_path, KIND_REC_PK, k->pk, KF_PUBLIC_MODE, false, &exists,
		    err_out);
		if (rc != 0 && exists)
			*err_out = xasprintf("%s appeared while it was being created", pub_path);
	}
	sec_sk_unref(&k);
	return rc;
}

/* recovery.key exists: it must load, and recovery.pub must be its public
 * key; a missing recovery.pub is derived from it again. */
static int
rec_check(const char *key_path, const char *pub_path, bool has_pub, char **err_out)
{
	struct sec_sk *k = sec_recovery_load(key_path, err_out);
	uint8_t pk[SEC_KEY_BYTES];
	bool exists;
	int rc;

	if (k == NULL)
		return -1;
	if (!has_pub) {
		rc = kf_write(pub_path, KIND_REC_PK, k->pk, KF_PUBLIC_MODE, false, &exists,
		    err_out);
		if (rc != 0 && exists)
			*err_out = xasprintf("%s appeared while it was being created", pub_path);
	} else {
		rc = sec_recovery_pub_load(pub_path, pk, err_out);
		if (rc == 0 && !sec_equal(pk, k->pk, SEC_KEY_BYTES)) {
			*err_out = xasprintf("%s is not the public key of %s", pub_path,
			    key_path);
			rc = -1;
		}
	}
	sec_sk_unref(&k);
	return rc;
}

int
sec_recovery_ensure(const char *key_path, const char *pub_path, char **err_out)
{
	uint8_t pk[SEC_KEY_BYTES];
	int has_key, has_pub;

	if ((has_key = kf_exists(key_path, err_out)) < 0 ||
	    (has_pub = kf_exists(pub_path, err_out)) < 0)
		return -1;
	if (has_key)
		return rec_check(key_path, pub_path, has_pub, err_out);
	/* recovery.pub alone is the offline deployment: the admin moved the
	 * secret key away on purpose. Check the public key and leave it. */
	if (has_pub)
		return sec_recovery_pub_load(pub_path, pk, err_out);
	return rec_create(key_path, pub_path, err_out);
}
