/*
 * test_store_wal.c: the write-ahead log's recovery, case by case. A child
 * process appends and is killed; the parent then plays the disk: it puts
 * back data.mdb as it was at the last checkpoint (none of the unflushed
 * pages reached the disk), tears the log's last record, or replaces the
 * file, and checks what the next open makes of it. Also: a clean stop
 * leaves nothing to replay, a second process does not recover under a
 * live one, read-only opens refuse a store that needs recovery, and the
 * log alternates between its two files.
 * (test_store_powerloss.c loses random pages instead, round after round.)
 */
#include "store_test.h"
#include "store/store_private.h"

#include <signal.h>
#include <sys/wait.h>
#include <zlib.h>

#define NMSG		30
#define BIG		(1ull << 40)	/* no checkpoint but the one at open */

struct wal_fx {
	char			*dir;
	struct store_account	 a;
	uint64_t		 inbox;
	uint8_t			*base;		/* data.mdb right after the child's open */
	size_t			 base_len;
};

static struct store *
open_with(const char *dir, uint64_t seg, uint64_t ckpt, bool ro, char **err)
{
	struct store_opts o = { .data_dir = dir, .read_only = ro, .wal_segment = seg,
	    .checkpoint_bytes = ckpt };

	*err = NULL;
	return store_open(&o, err);
}

static char *
env_file(const struct wal_fx *fx, const char *name)
{
	return xasprintf("%s/store/%s", fx->dir, name);
}

static uint64_t
count(const struct wal_fx *fx, struct store *st)
{
	return t_mbox(st, fx->inbox).messages;
}

static void
append_n(const struct wal_fx *fx, struct store *st, int n, const char *tag)
{
	char text[256];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(text, sizeof text, "Subject: %s %d\r\n\r\nbody %d\r\n", tag, i, i);
		t_append(st, &fx->a, fx->inbox, text, 0);
	}
}

static void
write_all(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		_exit(9);
}

static void
read_byte(int fd)
{
	char c;

	CHECK(read(fd, &c, 1) == 1);
}

/*
 * The child opens the store (its open writes a checkpoint), tells the
 * parent, waits for a go, appends NMSG messages with no further
 * checkpoint, tells the parent, and waits to be killed. Before the go the
 * parent copies data.mdb: the checkpoint's durable state.
 */
static void
killed_after_appends(struct wal_fx *fx)
{
	int up[2], down[2], status;
	struct store *st;
	char *err, *p;
	pid_t pid;

	CHECK(pipe(up) == 0 && pipe(down) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if ((st = open_with(fx->dir, 0, BIG, false, &err)) == NULL)
			_exit(2);
		write_all(up[1], "o", 1);
		if (read(down[0], &status, 1) != 1)
			_exit(3);
		append_n(fx, st, NMSG, "killed");
		write_all(up[1], "a", 1);
		for (;;)
			pause();
	}
	read_byte(up[0]);
	p = env_file(fx, "data.mdb");
	free(fx->base);
	fx->base = t_slurp(p, &fx->base_len);
	free(p);
	write_all(down[1], "g", 1);
	read_byte(up[0]);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

/* data.mdb back to the checkpoint, in place (same inode): a power cut
 * before any page written since reached the disk. */
static void
lose_unflushed_pages(const struct wal_fx *fx)
{
	char *p = env_file(fx, "data.mdb");
	int fd = open(p, O_WRONLY | O_TRUNC);

	CHECK(fd >= 0);
	CHECK(write(fd, fx->base, fx->base_len) == (ssize_t)fx->base_len);
	CHECK(fsync(fd) == 0);
	close(fd);
	free(p);
}

static void
test_log_replays_what_data_file_lost(void **state)
{
	struct wal_fx *fx = *state;
	struct store *st;
	char *err;

	killed_after_appends(fx);
	lose_unflushed_pages(fx);
	CHECK((st = open_with(fx->dir, 0, 0, false, &err)) != NULL);
	CHECK(count(fx, st) == NMSG);
	append_n(fx, st, 1, "after");		/* and it takes writes again */
	CHECK(count(fx, st) == NMSG + 1);
	store_close(&st);
}

/* The last record's offset in wal.0: walk the records from the start. */
static size_t
last_record(const uint8_t *log, size_t len, size_t *rec_len)
{
	size_t at = 0, last = SIZE_MAX, n;

	while (at + STORE_WAL_HEAD <= len && memcmp(log + at, "SGWR", 4) == 0) {
		n = STORE_WAL_HEAD + ((size_t)log[at + 20] << 24 |
		    (size_t)log[at + 21] << 16 | (size_t)log[at + 22] << 8 | log[at + 23]);
		last = at;
		*rec_len = n;
		at += n;
	}
	return last;
}

static void
test_torn_last_record_is_not_replayed(void **state)
{
	struct wal_fx *fx = *state;
	char *p = env_file(fx, "wal.0"), *err;
	size_t len, at, rec_len = 0;
	struct store *st;
	uint8_t *log;
	int fd;

	killed_after_appends(fx);
	lose_unflushed_pages(fx);
	log = t_slurp(p, &len);
	at = last_record(log, len, &rec_len);
	CHECK(at != SIZE_MAX && rec_len > 64);
	/* The disk kept the header but not a block of the body. */
	CHECK((fd = open(p, O_WRONLY)) >= 0);
	CHECK(pwrite(fd, "\xff", 1, (off_t)(at + rec_len - 5)) == 1);
	close(fd);
	CHECK((st = open_with(fx->dir, 0, 0, false, &err)) != NULL);
	CHECK(count(fx, st) == NMSG - 1);
	append_n(fx, st, 1, "after");
	CHECK(count(fx, st) == NMSG);
	store_close(&st);
	free(log);
	free(p);
}

static void
test_replaced_data_file_is_refused(void **state)
{
	struct wal_fx *fx = *state;
	char *p = env_file(fx, "data.mdb"), *tmp = env_file(fx, "data.mdb.new");
	char *ck = env_file(fx, "wal.ckpt"), *ck2 = env_file(fx, "wal.ckpt.old");
	struct store *st;
	char *err;
	int fd;

	size_t len;
	uint8_t *now;

	killed_after_appends(fx);
	/* The same bytes in another file put in its place (a copy moved
	 * back, a backup restored): a new inode, not the checkpoint's. */
	now = t_slurp(p, &len);
	CHECK((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	CHECK(write(fd, now, len) == (ssize_t)len);
	close(fd);
	free(now);
	CHECK(rename(tmp, p) == 0);
	CHECK(open_with(fx->dir, 0, 0, false, &err) == NULL);
	CHECK(err != NULL && strstr(err, "wal.ckpt") != NULL && strstr(err, "replaced") != NULL);
	free(err);
	/* As the message says: move wal.ckpt away, and the file opens as it is. */
	CHECK(rename(ck, ck2) == 0);
	CHECK((st = open_with(fx->dir, 0, 0, false, &err)) != NULL);
	CHECK(count(fx, st) == NMSG);
	store_close(&st);
	free(p);
	free(tmp);
	free(ck);
	free(ck2);
}

static void
test_read_only_waits_for_recovery(void **state)
{
	struct wal_fx *fx = *state;
	struct store *st;
	char *err;

	killed_after_appends(fx);
	CHECK(open_with(fx->dir, 0, 0, true, &err) == NULL);
	CHECK(err != NULL && strstr(err, "not closed cleanly") != NULL);
	free(err);
	CHECK((st = open_with(fx->dir, 0, 0, false, &err)) != NULL);
	store_close(&st);
	CHECK((st = open_with(fx->dir, 0, 0, true, &err)) != NULL);
	CHECK(count(fx, st) == NMSG);
	store_close(&st);
}

static void
test_clean_close_needs_no_log(void **state)
{
	struct wal_fx *fx = *state;
	char *w0 = env_file(fx, "wal.0"), *w1 = env_file(fx, "wal.1"), *err;
	struct store *st;

	CHECK((st = open_with(fx->dir, 0, BIG, false, &err)) != NULL);
	append_n(fx, st, NMSG, "clean");
	store_close(&st);
	CHECK(unlink(w0) == 0 && unlink(w1) == 0);
	CHECK((st = open_with(fx->dir, 0, 0, false, &err)) != NULL);
	CHECK(count(fx, st) == NMSG);
	store_close(&st);
	free(w0);
	free(w1);
}

/*
 * An admin command opens the store while the daemon has it open: it must
 * not go back to the checkpoint (the daemon's commits since are in the
 * file, not yet flushed), and both write.
 */
static void
test_second_process_does_not_recover(void **state)
{
	struct wal_fx *fx = *state;
	int go[2], status;
	struct store *st;
	char *err;
	pid_t pid;

	/* Forked before the parent opens: no store thread is copied. */
	CHECK(pipe(go) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &status, 1) != 1 ||
		    (st = open_with(fx->dir, 0, 0, false, &err)) == NULL)
			_exit(2);
		append_n(fx, st, 5, "admin");
		_exit(count(fx, st) == 10 ? (store_close(&st), 0) : 4);
	}
	close(go[0]);
	CHECK((st = open_with(fx->dir, 0, BIG, false, &err)) != NULL);
	append_n(fx, st, 5, "daemon");
	write_all(go[1], "g", 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	CHECK(WEXITSTATUS(status) == 0);
	CHECK(count(fx, st) == 10);
	append_n(fx, st, 5, "daemon");
	store_close(&st);
	close(go[1]);
	CHECK((st = open_with(fx->dir, 0, 0, false, &err)) != NULL);
	CHECK(count(fx, st) == 15);
	store_close(&st);
}

static off_t
file_size(const struct wal_fx *fx, const char *name)
{
	char *p = env_file(fx, name);
	struct stat sb;

	CHECK(stat(p, &sb) == 0);
	free(p);
	return sb.st_size;
}

/* A small log: it moves to its other file once a checkpoint lets it, and
 * stays small; everything survives a reopen. */
static void
test_log_alternates_between_files(void **state)
{
	struct wal_fx *fx = *state;
	struct store *st;
	char *err;
	int i;

	CHECK((st = open_with(fx->dir, 32 << 10, 16 << 10, false, &err)) != NULL);
	for (i = 0; i < 40; i++) {
		append_n(fx, st, 5, "switch");
		CHECK(store_checkpoint(st) == 0);
	}
	CHECK(file_size(fx, "wal.0") > 0 && file_size(fx, "wal.1") > 0);
	/* Bounded by the segment size plus one fill step of zeros. */
	CHECK(file_size(fx, "wal.0") <= (2 << 20) && file_size(fx, "wal.1") <= (2 << 20));
	store_close(&st);
	CHECK((st = open_with(fx->dir, 0, 0, false, &err)) != NULL);
	CHECK(count(fx, st) == 200);
	store_close(&st);
}

/*
 * The writer checksums a record op by op (store_walbuf_checksum) and the
 * commit finishes it: that must equal the CRC of the whole record, also
 * after entries were dropped behind or before the point checksummed.
 */
static void
test_record_checksummed_in_steps(void **state)
{
	struct store_walbuf b = { 0 };
	struct store_walpos pos = { .off = 0, .gen = 3, .seg = 1 };
	uint8_t v[3000], *rsv;
	size_t mark;

	(void)state;
	memset(v, 0x5a, sizeof v);
	store_walbuf_reset(&b);
	store_walbuf_put(&b, STORE_DB_META, "a", 1, v, 100);
	store_walbuf_checksum(&b);
	store_walbuf_reserve(&b, STORE_DB_BLOBS, "bb", 2, sizeof v);
	rsv = xmalloc(sizeof v);
	memset(rsv, 0xa5, sizeof v);
	b.rsv = rsv;
	store_walbuf_checksum(&b);	/* not yet: the value is still being filled */
	store_walbuf_settle(&b);
	store_walbuf_checksum(&b);
	mark = b.len;
	store_walbuf_put(&b, STORE_DB_KEYS, "c", 1, v, 10);
	store_walbuf_truncate(&b, mark);	/* a failed op's entry dropped */
	store_walbuf_del(&b, STORE_DB_KEYS, "d", 1);
	store_walbuf_checksum(&b);
	store_walbuf_truncate(&b, STORE_WAL_HEAD + 20);	/* behind the checksummed part */
	store_walbuf_put(&b, STORE_DB_MESSAGES, "e", 1, v, 2000);
	store_wal_head_fill(b.p, &pos, 42, b.len - STORE_WAL_HEAD);
	store_wal_head_seal(&b);
	CHECK(store_wal_check(b.p, b.len) == 0);
	b.p[b.len - 1] ^= 1;
	CHECK(store_wal_check(b.p, b.len) != 0);
	free(rsv);
	store_walbuf_free(&b);
}

/*
 * Entries dropped behind the checksummed point and then outgrown by new
 * ones: the checksum must start again, not carry the dropped bytes.
 */
static void
test_record_checksum_after_drop_and_regrowth(void **state)
{
	struct store_walbuf b = { 0 };
	struct store_walpos pos = { .off = 0, .gen = 1, .seg = 0 };
	uint8_t v[2000];
	size_t mark;

	(void)state;
	memset(v, 0x33, sizeof v);
	store_walbuf_reset(&b);
	store_walbuf_put(&b, STORE_DB_META, "a", 1, v, 10);
	mark = b.len;
	store_walbuf_put(&b, STORE_DB_KEYS, "b", 1, v, 100);
	store_walbuf_checksum(&b);
	store_walbuf_truncate(&b, mark);	/* the last op undone */
	store_walbuf_put(&b, STORE_DB_MESSAGES, "c", 1, v, sizeof v);
	store_wal_head_fill(b.p, &pos, 9, b.len - STORE_WAL_HEAD);
	store_wal_head_seal(&b);
	CHECK(store_wal_check(b.p, b.len) == 0);
	store_walbuf_free(&b);
}

/*
 * The log's CRC is zlib's (what records written before ISA-L computed it
 * carry), for any length and alignment, whole or in pieces; and a sealed
 * record checks against zlib's CRC of it with the CRC field zero.
 */
static void
test_record_crc_is_zlibs(void **state)
{
	struct store_walbuf b = { 0 };
	struct store_walpos pos = { .off = 0, .gen = 2, .seg = 0 };
	size_t n = 100 << 10, len, off, cut, i;
	uint8_t *buf = xmalloc(n + 64), saved[4];
	uint32_t mine;
	uLong z;

	(void)state;
	sec_random(buf, n + 64);
	for (i = 0; i < 300; i++) {
		off = buf[i] % 64;
		len = i < 100 ? i : (size_t)store_be32_get(buf + i) % n;
		cut = len > 0 ? (size_t)buf[i + 1] * len / 256 : 0;
		z = crc32(0, buf + off, (uInt)len);
		CHECK(store_wal_crc(0, buf + off, len) == (uint32_t)z);
		mine = store_wal_crc(store_wal_crc(0, buf + off, cut), buf + off + cut, len - cut);
		CHECK(mine == (uint32_t)z);
	}
	store_walbuf_reset(&b);
	store_walbuf_put(&b, STORE_DB_BLOBS, "k", 1, buf, 70000);
	store_walbuf_put(&b, STORE_DB_META, "m", 1, buf + 7, 33);
	store_wal_head_fill(b.p, &pos, 5, b.len - STORE_WAL_HEAD);
	store_wal_head_seal(&b);
	memcpy(saved, b.p + 24, 4);
	memset(b.p + 24, 0, 4);
	z = crc32(0, b.p, (uInt)b.len);
	CHECK(store_be32_get(saved) == (uint32_t)z);
	store_walbuf_free(&b);
	free(buf);
}

static int
setup(void **state)
{
	struct wal_fx *fx = xcalloc(1, sizeof *fx);
	struct store *st;

	fx->dir = t_tmpdir();
	st = t_store_new(fx->dir);
	fx->a = t_invite(st, "wal@example.org", NULL);
	fx->inbox = t_mbox_id(st, fx->a.id, "INBOX");
	store_close(&st);	/* no store thread is alive when a test forks */
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct wal_fx *fx = *state;

	t_rmtree(fx->dir);
	free(fx->dir);
	free(fx->base);
	free(fx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_checksummed_in_steps),
		cmocka_unit_test(test_record_checksum_after_drop_and_regrowth),
		cmocka_unit_test(test_record_crc_is_zlibs),
		cmocka_unit_test_setup_teardown(test_log_replays_what_data_file_lost,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_record_is_not_replayed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_data_file_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_waits_for_recovery,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_close_needs_no_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_process_does_not_recover,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_alternates_between_files,
		    setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return STORE_TEST_MAIN(tests);
}
