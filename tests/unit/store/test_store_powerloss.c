/*
 * test_store_powerloss.c: test_store_crash.c with a power cut on top of
 * the kill. A child appends from four threads and reports every message
 * it was told is committed; the parent SIGKILLs it at a random instant,
 * 20 rounds. Then, for every 4 KiB block the child wrote since that
 * file's last fsync/fdatasync, the parent flips a coin: keep the block or
 * put back what the disk held before (writes through an O_DSYNC fd are
 * durable). That is what a disk may hold after the power goes. The store
 * must open and every reported message must be there and decrypt exactly.
 * The same with a log small enough that checkpoints and segment switches
 * happen all through a round, and with two processes writing at once (a
 * daemon and an admin command), both killed.
 *
 * The write calls are interposed by this program itself, not by
 * LD_PRELOAD (which ASan refuses): write, pwrite, writev, fsync, ... are
 * defined here and exported, so liblmdb.so (and store/, linked in) reach
 * them first; they pass the call on to the next definition (libc's, or
 * ASan's interceptor) found with dlsym(RTLD_NEXT). While recording is on,
 * which is only ever in a child, a write to a file under the test's
 * directory first appends to a journal outside it the durable content of
 * every block it touches for the first time since the file's last sync
 * by any process (a process the child forks records into the same
 * journal, with the same state). The parent replays the journal after the
 * kill.
 *
 * A self-test of the recorder and the reverter, without the store, runs
 * first.
 */
#define _GNU_SOURCE	/* RTLD_NEXT, fallocate's flags, renameat2's */
#include "store_test.h"

#include <dlfcn.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define ROUNDS		20
#define CHILD_THREADS	4
/* Rounds of the tests after the first: each round decrypts every message
 * reported so far, so the time grows with the square; the file stays
 * within a minute. */
#define SMALL_ROUNDS	12	/* test_power_cut_small_log */
#define DUO_ROUNDS	12	/* test_power_cut_two_writers */
#define DUO_THREADS	2	/* each: the daemon's 0..1, the admin command's 2..3 */
#define PW		"powerloss-test-password"

/* The plain and the 64 entry points (pwrite, pwrite64) share one
 * definition here; that is only right where off_t is always 64 bits. */
_Static_assert(sizeof(off_t) == 8 && sizeof(long) == 8, "LP64 only");

/* ---- the journal ---- */

#define PL_B		4096u		/* the block a disk writes or loses whole */
#define PL_MAXFILES	128
#define PL_MAGIC	0x314a4c50u	/* "PLJ1" */

enum pl_type {
	PL_FILE = 1,		/* a: dev, b: ino; payload: its path */
	PL_OLD,			/* a: block, b: file size then; payload: the block */
	PL_DURABLE,		/* a..b: blocks written through O_DSYNC, c: end offset */
	PL_SYNC_BEGIN,		/* a: sequence number */
	PL_SYNC_END,		/* a: the sequence number of its begin */
	PL_GONE,		/* the file was unlinked or renamed over */
};

struct pl_rec {
	uint32_t	magic;
	uint16_t	type;
	uint16_t	file;
	uint32_t	len;	/* payload bytes after this header */
	uint32_t	proc;	/* the child process that wrote it: 0, or 1 (its fork) */
	uint64_t	a, b, c;
};

/* Child exits the parent reports (any other exit is the store's). */
enum {
	PL_EXIT_JOURNAL = 90, PL_EXIT_FULL, PL_EXIT_READ, PL_EXIT_FILES, PL_EXIT_BIG,
	PL_EXIT_ALONE,		/* the admin command found the store not open */
	PL_EXIT_RECOVERED,	/* the admin command wrote data.mdb opening it */
};

/* ---- the real functions ---- */

static ssize_t	(*real_write)(int, const void *, size_t);
static ssize_t	(*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t	(*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t	(*real_writev)(int, const struct iovec *, int);
static ssize_t	(*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t	(*real_pwritev64)(int, const struct iovec *, int, off_t);
static ssize_t	(*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static ssize_t	(*real_pwritev64v2)(int, const struct iovec *, int, off_t, int);
static int	(*real_fsync)(int);
static int	(*real_fdatasync)(int);
static int	(*real_ftruncate)(int, off_t);
static int	(*real_ftruncate64)(int, off_t);
static int	(*real_fallocate)(int, int, off_t, off_t);
static int	(*real_fallocate64)(int, int, off_t, off_t);
static int	(*real_unlink)(const char *);
static int	(*real_unlinkat)(int, const char *, int);
static int	(*real_remove)(const char *);
static int	(*real_rename)(const char *, const char *);
static int	(*real_renameat)(int, const char *, int, const char *);
static int	(*real_renameat2)(int, const char *, int, const char *, unsigned);

/* The next definition of name after ours, looked up once into *slot. */
static void *
pl_real(void **slot, const char *name)
{
	if (*slot == NULL && (*slot = dlsym(RTLD_NEXT, name)) == NULL)
		abort();	/* nothing to pass the call on to */
	return *slot;
}

/* Resolved on first use too: a wrapper may run before the constructor. */
#define REAL(f)	((__typeof__(real_##f))pl_real((void **)&real_##f, #f))

/* All looked up before main, single-threaded: the child's threads then
 * only read the pointers. */
__attribute__((constructor)) static void
pl_resolve(void)
{
	(void)REAL(write);
	(void)REAL(pwrite);
	(void)REAL(pwrite64);
	(void)REAL(writev);
	(void)REAL(pwritev);
	(void)REAL(pwritev64);
	(void)REAL(pwritev2);
	(void)REAL(pwritev64v2);
	(void)REAL(fsync);
	(void)REAL(fdatasync);
	(void)REAL(ftruncate);
	(void)REAL(ftruncate64);
	(void)REAL(fallocate);
	(void)REAL(fallocate64);
	(void)REAL(unlink);
	(void)REAL(unlinkat);
	(void)REAL(remove);
	(void)REAL(rename);
	(void)REAL(renameat);
	(void)REAL(renameat2);
}

/* ---- the recorder (runs in the child) ---- */

/*
 * Blocks journalled since their file's last sync: an open-addressing set
 * of file << 56 | epoch << 32 | block. A sync bumps the file's epoch,
 * which makes its entries stale in one step; no malloc in a write.
 */
#define PL_SETBITS	20
#define PL_SETSIZE	((size_t)1 << PL_SETBITS)
#define PL_TOMB		UINT64_MAX

/*
 * What the recording processes share: one child, or a child and the
 * process it forks (two writers). Blocks, files and syncs are per inode,
 * not per process: a sync by either makes what both wrote durable, and a
 * block either journalled since the last sync is not journalled again.
 * The mutex is held across a write and its journal record in every
 * process, so the journal's order is the order things happened in.
 */
struct pl_shared {
	pthread_mutex_t	mu;
	struct {
		dev_t		dev;
		ino_t		ino;
		uint32_t	epoch;
		bool		gone;
		bool		data;	/* data.mdb: pl_data_writes counts its writes */
	}		files[PL_MAXFILES];
	uint64_t	set[2][PL_SETSIZE];
	unsigned	cur;
	size_t		used;		/* slots not empty in set[cur] */
	unsigned	nfiles;
	uint64_t	seq;
};

static struct pl_shared	*pl;			/* mapped by pl_start, in the child */
static int		pl_on;			/* set in the child only */
static uint16_t		pl_proc;		/* which child process this is */
static unsigned long	pl_data_writes;		/* writes to data.mdb by this process */
static int		pl_jfd = -1;
static char		pl_root[PATH_MAX];	/* resolved; files under it are recorded */
static size_t		pl_rootlen;

static void
pl_log(unsigned type, unsigned file, uint64_t a, uint64_t b, uint64_t c, const void *p,
    size_t len)
{
	struct pl_rec r = { .magic = PL_MAGIC, .type = (uint16_t)type, .file = (uint16_t)file,
	    .len = (uint32_t)len, .proc = pl_proc, .a = a, .b = b, .c = c };
	struct iovec iov[2] = { { &r, sizeof r }, { (void *)p, len } };

	/* callers hold pl->mu; one writev a record, so a kill tears only the last */
	if (REAL(writev)(pl_jfd, iov, len > 0 ? 2 : 1) != (ssize_t)(sizeof r + len))
		_exit(PL_EXIT_JOURNAL);
}

static size_t
pl_hash(unsigned file, uint64_t block)
{
	uint64_t h = (file + 1) * 0x9e3779b97f4a7c15ull ^ block * 0xc2b2ae3d27d4eb4full;

	return (size_t)(h >> (64 - PL_SETBITS));
}

static uint64_t
pl_key(unsigned file, uint64_t block)
{
	return (uint64_t)file << 56 | (uint64_t)(pl->files[file].epoch & 0xffffff) << 32 | block;
}

static bool
pl_stale(uint64_t s)
{
	unsigned file = (unsigned)(s >> 56);

	return s == PL_TOMB || pl->files[file].gone ||
	    (uint32_t)(s >> 32 & 0xffffff) != (pl->files[file].epoch & 0xffffff);
}

/* Drop stale entries by moving the live ones to the other table. */
static void
pl_rehash(void)
{
	uint64_t *from = pl->set[pl->cur], *to = pl->set[pl->cur ^ 1];
	size_t i, j;

	memset(to, 0, sizeof pl->set[0]);
	pl->used = 0;
	for (i = 0; i < PL_SETSIZE; i++) {
		if (from[i] == 0 || pl_stale(from[i]))
			continue;
		for (j = pl_hash((unsigned)(from[i] >> 56), from[i] & 0xffffffff); to[j] != 0;
		    j = (j + 1) & (PL_SETSIZE - 1))
			;
		to[j] = from[i];
		pl->used++;
	}
	pl->cur ^= 1;
	if (pl->used >= PL_SETSIZE / 4 * 3)
		_exit(PL_EXIT_FULL);
}

/* Finds (file, block) in the set; its slot, or SIZE_MAX. *freep gets the
 * first reusable slot on the way, or the empty slot that ended it. */
static size_t
pl_find(unsigned file, uint64_t block, size_t *freep)
{
	uint64_t key = pl_key(file, block), *t = pl->set[pl->cur];
	size_t i;

	*freep = SIZE_MAX;
	for (i = pl_hash(file, block); t[i] != 0; i = (i + 1) & (PL_SETSIZE - 1)) {
		if (t[i] == key)
			return i;
		if (*freep == SIZE_MAX && pl_stale(t[i]))
			*freep = i;
	}
	if (*freep == SIZE_MAX) {
		*freep = i;
		pl->used++;
	}
	return SIZE_MAX;
}

/* Whether block was not yet journalled since file's last sync (now it is). */
static bool
pl_set_add(unsigned file, uint64_t block)
{
	size_t at;

	if (pl->used >= PL_SETSIZE / 2)
		pl_rehash();
	if (pl_find(file, block, &at) != SIZE_MAX)
		return false;
	pl->set[pl->cur][at] = pl_key(file, block);
	return true;
}

static void
pl_set_del(unsigned file, uint64_t block)
{
	size_t at, i = pl_find(file, block, &at);

	if (i != SIZE_MAX)
		pl->set[pl->cur][i] = PL_TOMB;
	else if (pl->set[pl->cur][at] == 0)
		pl->used--;	/* pl_find counted an empty slot we do not fill */
}

/* Whether path is one of ours: under the root, not deleted, not a lock
 * file (whose content does not matter across a power cut). */
static bool
pl_wanted(const char *path)
{
	static const char deleted[] = " (deleted)";
	const char *base = strrchr(path, '/') + 1;
	size_t len = strlen(path);

	if (strncmp(path, pl_root, pl_rootlen) != 0 || path[pl_rootlen] != '/')
		return false;
	if (len >= sizeof deleted && strcmp(path + len - (sizeof deleted - 1), deleted) == 0)
		return false;
	return strcmp(base, "lock.mdb") != 0 && strcmp(base, "wal.lock") != 0;
}

/* The slot of a live file (dev, ino), registering it; pl->mu held. */
static int
pl_file(dev_t dev, ino_t ino, const char *path)
{
	unsigned i;

	for (i = 0; i < pl->nfiles; i++)
		if (!pl->files[i].gone && pl->files[i].dev == dev && pl->files[i].ino == ino)
			return (int)i;
	if (pl->nfiles == PL_MAXFILES)
		_exit(PL_EXIT_FILES);
	pl->files[i].dev = dev;
	pl->files[i].ino = ino;
	pl->files[i].epoch = 1;
	pl->files[i].data = path != NULL && strcmp(strrchr(path, '/'), "/data.mdb") == 0;
	pl->nfiles++;
	if (path != NULL)
		pl_log(PL_FILE, i, (uint64_t)dev, (uint64_t)ino, 0, path, strlen(path));
	return (int)i;
}

/* If writes to fd are recorded: its file's slot, with pl->mu held.
 * Else -1. The path is looked up every time, not cached per fd: fds
 * are closed and reused behind our back. */
static int
pl_enter(int fd)
{
	char link[64], path[PATH_MAX];
	struct stat sb;
	ssize_t n;
	int f;

	if (!pl_on || fd == pl_jfd || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return -1;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof path - 1)) <= 0)
		return -1;
	path[n] = '\0';
	if (!pl_wanted(path))
		return -1;
	pthread_mutex_lock(&pl->mu);
	if ((f = pl_file(sb.st_dev, sb.st_ino, path)) < 0)
		pthread_mutex_unlock(&pl->mu);
	return f;
}

/* Journal the durable content of the blocks [off, off + len) touch that
 * are not journalled since the last sync: the first touch since a sync
 * is what the disk holds. */
static void
pl_touch(int fd, unsigned file, off_t off, uint64_t len)
{
	uint8_t buf[PL_B];
	char link[64];
	struct stat sb;
	uint64_t b, last;
	ssize_t n;
	int rfd = -1;

	if (len == 0 || off < 0)
		return;
	if (fstat(fd, &sb) != 0)
		_exit(PL_EXIT_READ);
	last = ((uint64_t)off + len - 1) / PL_B;
	if (last >= UINT32_MAX)
		_exit(PL_EXIT_BIG);
	for (b = (uint64_t)off / PL_B; b <= last; b++) {
		if (!pl_set_add(file, b))
			continue;
		n = 0;
		if ((uint64_t)sb.st_size > b * PL_B) {
			n = pread(rfd >= 0 ? rfd : fd, buf, PL_B, (off_t)(b * PL_B));
			if (n < 0 && errno == EBADF && rfd < 0) {
				/* a write-only fd: read through another */
				snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
				if ((rfd = open(link, O_RDONLY | O_CLOEXEC)) >= 0)
					n = pread(rfd, buf, PL_B, (off_t)(b * PL_B));
			}
			if (n < 0)
				_exit(PL_EXIT_READ);
		}
		pl_log(PL_OLD, file, b, (uint64_t)sb.st_size, 0, buf, (size_t)n);
	}
	if (rfd >= 0)
		close(rfd);
}

/* A write through O_DSYNC made [off, off + len) durable: whatever an
 * earlier write there left pending is on the disk now. */
static void
pl_durable(unsigned file, off_t off, uint64_t len)
{
	uint64_t b, first = (uint64_t)off / PL_B, last = ((uint64_t)off + len - 1) / PL_B;

	for (b = first; b <= last; b++)
		pl_set_del(file, b);
	pl_log(PL_DURABLE, file, first, last, (uint64_t)off + len, NULL, 0);
}

/* One write in progress. pl->mu is held from pl_pre to pl_post, across
 * the real write: a record in the journal before a sync's begin then
 * means a write finished before the sync started. */
struct pl_w {
	int	file;	/* -1: not recorded */
	bool	dsync;
	off_t	off;
};

/* off < 0: at the fd's own offset. */
static void
pl_pre(struct pl_w *w, int fd, off_t off, uint64_t len, bool dsync)
{
	struct stat sb;
	int fl;

	if ((w->file = pl_enter(fd)) < 0)
		return;
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_APPEND)) {
		/* even pwrite appends on Linux */
		off = fstat(fd, &sb) == 0 ? sb.st_size : -1;
	} else if (off < 0) {
		off = lseek(fd, 0, SEEK_CUR);
	}
	w->off = off;
	w->dsync = dsync || (fl >= 0 && (fl & (O_DSYNC | O_SYNC)) != 0);
	if (pl->files[w->file].data)
		pl_data_writes++;
	if (!w->dsync)
		pl_touch(fd, (unsigned)w->file, off, len);
}

static void
pl_post(struct pl_w *w, ssize_t r)
{
	int e = errno;

	if (w->file < 0)
		return;
	/* durable once it returned, not before: a kill during it may lose it */
	if (w->dsync && r > 0 && w->off >= 0)
		pl_durable((unsigned)w->file, w->off, (uint64_t)r);
	pthread_mutex_unlock(&pl->mu);
	errno = e;
}

static uint64_t
pl_iovlen(const struct iovec *iov, int n)
{
	uint64_t len = 0;
	int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/*
 * The wrappers. Assembler names, not C names: with _FILE_OFFSET_BITS=64
 * the headers turn pwrite into pwrite64 and so on, and both names must
 * be defined here.
 */
ssize_t	pl_write(int, const void *, size_t) __asm__("write");
ssize_t	pl_pwrite(int, const void *, size_t, off_t) __asm__("pwrite");
ssize_t	pl_pwrite64(int, const void *, size_t, off_t) __asm__("pwrite64");
ssize_t	pl_writev(int, const struct iovec *, int) __asm__("writev");
ssize_t	pl_pwritev(int, const struct iovec *, int, off_t) __asm__("pwritev");
ssize_t	pl_pwritev64(int, const struct iovec *, int, off_t) __asm__("pwritev64");
ssize_t	pl_pwritev2(int, const struct iovec *, int, off_t, int) __asm__("pwritev2");
ssize_t	pl_pwritev64v2(int, const struct iovec *, int, off_t, int) __asm__("pwritev64v2");
int	pl_fsync(int) __asm__("fsync");
int	pl_fdatasync(int) __asm__("fdatasync");
int	pl_ftruncate(int, off_t) __asm__("ftruncate");
int	pl_ftruncate64(int, off_t) __asm__("ftruncate64");
int	pl_fallocate(int, int, off_t, off_t) __asm__("fallocate");
int	pl_fallocate64(int, int, off_t, off_t) __asm__("fallocate64");
int	pl_unlink(const char *) __asm__("unlink");
int	pl_unlinkat(int, const char *, int) __asm__("unlinkat");
int	pl_remove(const char *) __asm__("remove");
int	pl_rename(const char *, const char *) __asm__("rename");
int	pl_renameat(int, const char *, int, const char *) __asm__("renameat");
int	pl_renameat2(int, const char *, int, const char *, unsigned) __asm__("renameat2");

ssize_t
pl_write(int fd, const void *buf, size_t n)
{
	struct pl_w w;
	ssize_t r;

	pl_pre(&w, fd, -1, n, false);
	r = REAL(write)(fd, buf, n);
	pl_post(&w, r);
	return r;
}

ssize_t
pl_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct pl_w w;
	ssize_t r;

	pl_pre(&w, fd, off, n, false);
	r = REAL(pwrite)(fd, buf, n, off);
	pl_post(&w, r);
	return r;
}

ssize_t
pl_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	struct pl_w w;
	ssize_t r;

	pl_pre(&w, fd, off, n, false);
	r = REAL(pwrite64)(fd, buf, n, off);
	pl_post(&w, r);
	return r;
}

ssize_t
pl_writev(int fd, const struct iovec *iov, int cnt)
{
	struct pl_w w;
	ssize_t r;

	pl_pre(&w, fd, -1, pl_iovlen(iov, cnt), false);
	r = REAL(writev)(fd, iov, cnt);
	pl_post(&w, r);
	return r;
}

ssize_t
pl_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct pl_w w;
	ssize_t r;

	pl_pre(&w, fd, off, pl_iovlen(iov, cnt), false);
	r = REAL(pwritev)(fd, iov, cnt, off);
	pl_post(&w, r);
	return r;
}

ssize_t
pl_pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct pl_w w;
	ssize_t r;

	pl_pre(&w, fd, off, pl_iovlen(iov, cnt), false);
	r = REAL(pwritev64)(fd, iov, cnt, off);
	pl_post(&w, r);
	return r;
}

/* off -1 is the fd's offset for pwritev2 too; RWF_DSYNC/RWF_SYNC make
 * this one write durable. */
ssize_t
pl_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	struct pl_w w;
	ssize_t r;

	pl_pre(&w, fd, off, pl_iovlen(iov, cnt), (flags & (RWF_DSYNC | RWF_SYNC)) != 0);
	r = REAL(pwritev2)(fd, iov, cnt, off, flags);
	pl_post(&w, r);
	return r;
}

ssize_t
pl_pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	struct pl_w w;
	ssize_t r;

	pl_pre(&w, fd, off, pl_iovlen(iov, cnt), (flags & (RWF_DSYNC | RWF_SYNC)) != 0);
	r = REAL(pwritev64v2)(fd, iov, cnt, off, flags);
	pl_post(&w, r);
	return r;
}

/*
 * A sync is journalled twice: its begin, and its end if it returned. Only
 * writes journalled before the begin are durable once it ends: one racing
 * with it may or may not have made it. The file's epoch moves at the begin,
 * so writes after it journal their blocks again; the parent keeps the
 * oldest record of a block still pending, which is right whether the sync
 * ended or not.
 */
static int
pl_sync(int fd, int (*fn)(int))
{
	int f = pl_enter(fd), r, e;
	uint64_t seq;

	if (f < 0)
		return fn(fd);
	seq = ++pl->seq;
	pl_log(PL_SYNC_BEGIN, (unsigned)f, seq, 0, 0, NULL, 0);
	pl->files[f].epoch++;
	pthread_mutex_unlock(&pl->mu);
	r = fn(fd);
	if (r == 0) {
		e = errno;
		pthread_mutex_lock(&pl->mu);
		pl_log(PL_SYNC_END, (unsigned)f, seq, 0, 0, NULL, 0);
		pthread_mutex_unlock(&pl->mu);
		errno = e;
	}
	return r;
}

int
pl_fsync(int fd)
{
	return pl_sync(fd, REAL(fsync));
}

int
pl_fdatasync(int fd)
{
	return pl_sync(fd, REAL(fdatasync));
}

/* A size change is a write of the blocks between the two sizes: growing
 * reads back zeros when lost, shrinking may come undone. */
static int
pl_truncate(int fd, off_t len, int (*fn)(int, off_t))
{
	struct pl_w w = { .file = pl_enter(fd) };
	struct stat sb;
	int r;

	if (w.file >= 0 && len >= 0 && fstat(fd, &sb) == 0 && sb.st_size != len)
		pl_touch(fd, (unsigned)w.file, SG_MIN(sb.st_size, len),
		    (uint64_t)(SG_MAX(sb.st_size, len) - SG_MIN(sb.st_size, len)));
	r = fn(fd, len);
	pl_post(&w, r);
	return r;
}

int
pl_ftruncate(int fd, off_t len)
{
	return pl_truncate(fd, len, REAL(ftruncate));
}

int
pl_ftruncate64(int fd, off_t len)
{
	return pl_truncate(fd, len, REAL(ftruncate64));
}

/* Punching or zeroing changes content: the range is written. Plain
 * allocation only changes the size when it grows the file; journalling
 * the block at the old end is enough for the parent to cut it back
 * (journalling a whole preallocated log would cost megabytes a call). */
static int
pl_alloc(int fd, int mode, off_t off, off_t len, int (*fn)(int, int, off_t, off_t))
{
	struct pl_w w = { .file = pl_enter(fd) };
	struct stat sb;
	int r;

	if (w.file >= 0 && off >= 0 && len > 0) {
		if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
			pl_touch(fd, (unsigned)w.file, off, (uint64_t)len);
		else if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))
			pl_touch(fd, (unsigned)w.file, off, fstat(fd, &sb) == 0 &&
			    sb.st_size > off ? (uint64_t)(sb.st_size - off + len) : (uint64_t)len);
		else if (!(mode & FALLOC_FL_KEEP_SIZE) && fstat(fd, &sb) == 0 &&
		    off + len > sb.st_size)
			pl_touch(fd, (unsigned)w.file, sb.st_size, 1);
	}
	r = fn(fd, mode, off, len);
	pl_post(&w, r);
	return r;
}

int
pl_fallocate(int fd, int mode, off_t off, off_t len)
{
	return pl_alloc(fd, mode, off, len, REAL(fallocate));
}

int
pl_fallocate64(int fd, int mode, off_t off, off_t len)
{
	return pl_alloc(fd, mode, off, len, REAL(fallocate64));
}

/*
 * Creating, renaming and unlinking are taken as durable. The file a name
 * loses is gone: its pending blocks do not matter any more, and its inode
 * number may come back for the next new file, which must not inherit its
 * journal.
 */
static int
pl_victim(int dirfd, const char *path)
{
	struct stat sb;
	unsigned i;
	int f = -1;

	if (!pl_on || fstatat(dirfd, path, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(sb.st_mode) || sb.st_nlink != 1)
		return -1;
	pthread_mutex_lock(&pl->mu);
	for (i = 0; i < pl->nfiles; i++)
		if (!pl->files[i].gone && pl->files[i].dev == sb.st_dev &&
		    pl->files[i].ino == sb.st_ino)
			f = (int)i;
	pthread_mutex_unlock(&pl->mu);
	return f;
}

static void
pl_gone(int f, int r)
{
	int e = errno;

	if (f < 0 || r != 0)
		return;
	pthread_mutex_lock(&pl->mu);
	pl->files[f].gone = true;
	pl_log(PL_GONE, (unsigned)f, 0, 0, 0, NULL, 0);
	pthread_mutex_unlock(&pl->mu);
	errno = e;
}

/* The file at `to' is gone if the rename replaces it with another. */
static int
pl_victim2(int ofd, const char *from, int nfd, const char *to)
{
	struct stat a, b;

	if (!pl_on || fstatat(ofd, from, &a, AT_SYMLINK_NOFOLLOW) != 0 ||
	    fstatat(nfd, to, &b, AT_SYMLINK_NOFOLLOW) != 0 ||
	    (a.st_dev == b.st_dev && a.st_ino == b.st_ino))
		return -1;
	return pl_victim(nfd, to);
}

int
pl_unlink(const char *path)
{
	int f = pl_victim(AT_FDCWD, path), r;

	r = REAL(unlink)(path);
	pl_gone(f, r);
	return r;
}

int
pl_unlinkat(int dirfd, const char *path, int flags)
{
	int f = (flags & AT_REMOVEDIR) ? -1 : pl_victim(dirfd, path), r;

	r = REAL(unlinkat)(dirfd, path, flags);
	pl_gone(f, r);
	return r;
}

int
pl_remove(const char *path)
{
	int f = pl_victim(AT_FDCWD, path), r;

	r = REAL(remove)(path);
	pl_gone(f, r);
	return r;
}

int
pl_rename(const char *from, const char *to)
{
	int f = pl_victim2(AT_FDCWD, from, AT_FDCWD, to), r;

	r = REAL(rename)(from, to);
	pl_gone(f, r);
	return r;
}

int
pl_renameat(int ofd, const char *from, int nfd, const char *to)
{
	int f = pl_victim2(ofd, from, nfd, to), r;

	r = REAL(renameat)(ofd, from, nfd, to);
	pl_gone(f, r);
	return r;
}

int
pl_renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
	int f = (flags & (RENAME_EXCHANGE | RENAME_NOREPLACE)) ? -1 :
	    pl_victim2(ofd, from, nfd, to), r;

	r = REAL(renameat2)(ofd, from, nfd, to, flags);
	pl_gone(f, r);
	return r;
}

/* In the parent, before forking: files under root will be recorded. */
static void
pl_set_root(const char *root)
{
	CHECK(realpath(root, pl_root) != NULL);
	pl_rootlen = strlen(pl_root);
}

/* In the child, before it writes anything: recording on, into jpath.
 * A process it forks after this records into the same journal and state
 * (O_APPEND: a record is one writev, whole, wherever either wrote last). */
static void
pl_start(const char *jpath)
{
	pthread_mutexattr_t ma;

	pl = mmap(NULL, sizeof *pl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pl == MAP_FAILED || pthread_mutexattr_init(&ma) != 0 ||
	    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutex_init(&pl->mu, &ma) != 0)
		_exit(PL_EXIT_JOURNAL);
	pthread_mutexattr_destroy(&ma);
	pl_jfd = open(jpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (pl_jfd < 0)
		_exit(PL_EXIT_JOURNAL);
	pl_on = 1;
}

/* ---- the power cut (runs in the parent) ---- */

enum pl_policy { PL_RANDOM, PL_REVERT_ALL, PL_KEEP_ALL };

struct pl_stats {
	unsigned long	reverted, kept;
};

struct pl_old {
	size_t		 at;		/* its index among the PL_OLD records */
	unsigned	 file;
	uint64_t	 block, size;
	const uint8_t	*data;
	size_t		 len;
	bool		 dropped;	/* made durable since */
};

struct pl_jfile {
	uint64_t	 dev, ino;
	char		*path;
	bool		 known, gone;
	size_t		 synced;	/* PL_OLD records before this index are durable */
	uint64_t	 durable_end;	/* end of the furthest O_DSYNC write */
};

static int
pl_old_cmp(const void *a, const void *b)
{
	const struct pl_old *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* The path of (dev, ino) under dir now (it may have been renamed). */
static char *
pl_locate(const char *dir, uint64_t dev, uint64_t ino)
{
	struct dirent *e;
	struct stat sb;
	char *p, *found = NULL;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return NULL;
	while (found == NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			found = pl_locate(p, dev, ino);
		else if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (uint64_t)sb.st_dev == dev && (uint64_t)sb.st_ino == ino)
			found = xstrdup(p);
		free(p);
	}
	closedir(d);
	return found;
}

/* Put back (or keep) a file's pending blocks old[0..n), sorted by block. */
static void
pl_cut_file(const struct pl_jfile *jf, const struct pl_old *old, size_t n, uint64_t dsize,
    enum pl_policy pol, struct pl_stats *stats)
{
	static const uint8_t zeros[PL_B];
	uint64_t at, cut = SG_MAX(dsize, jf->durable_end);
	bool revert, all_beyond = true;
	struct stat sb;
	size_t i;
	char *path = pl_locate(pl_root, jf->dev, jf->ino);
	int fd;

	if (path == NULL)
		return;		/* unlinked by something we do not see: gone */
	CHECK((fd = open(path, O_RDWR | O_CLOEXEC)) >= 0);
	for (i = 0; i < n; i++) {
		revert = pol == PL_REVERT_ALL ||
		    (pol == PL_RANDOM && sec_random_uniform(2) == 0);
		at = old[i].block * PL_B;
		if (!revert) {
			stats->kept++;
			if (at + PL_B > cut)
				all_beyond = false;
			continue;
		}
		stats->reverted++;
		if (old[i].len > 0)
			CHECK(pwrite(fd, old[i].data, old[i].len, (off_t)at) ==
			    (ssize_t)old[i].len);
		/* past the old end of file: zeros, as a lost write reads back */
		CHECK(fstat(fd, &sb) == 0);
		if ((uint64_t)sb.st_size > at + old[i].len)
			CHECK(pwrite(fd, zeros, (size_t)(SG_MIN((uint64_t)sb.st_size, at + PL_B) -
			    (at + old[i].len)), (off_t)(at + old[i].len)) >= 0);
	}
	/* every block past the durable size lost: so is the size */
	CHECK(fstat(fd, &sb) == 0);
	if (all_beyond && (uint64_t)sb.st_size > cut)
		CHECK(ftruncate(fd, (off_t)cut) == 0);
	close(fd);
	free(path);
}

/* Replay jpath, the journal of a child killed under pl_root, and make its
 * files what the disk may hold after the power went. */
static void
pl_power_cut(const char *jpath, enum pl_policy pol, struct pl_stats *stats)
{
	struct pl_jfile files[PL_MAXFILES];
	struct pl_old *old = NULL;
	size_t nold = 0, cap = 0, *begins = NULL, nbegins = 0, off = 0, jlen, i, j, k;
	uint64_t dsize[PL_MAXFILES];
	bool have_dsize[PL_MAXFILES];
	uint8_t *jbuf = t_slurp(jpath, &jlen);
	struct pl_jfile *jf;
	struct pl_rec r;

	memset(files, 0, sizeof files);
	memset(have_dsize, 0, sizeof have_dsize);
	if (jbuf == NULL)
		return;		/* the child died before it wrote anything */
	while (jlen - off >= sizeof r) {
		memcpy(&r, jbuf + off, sizeof r);
		if (r.magic != PL_MAGIC)
			fail_msg("%s: bad record at %zu", jpath, off);
		if (r.len > jlen - off - sizeof r)
			break;	/* torn by the kill: its write never happened */
		CHECK(r.file < PL_MAXFILES);
		jf = &files[r.file];
		switch (r.type) {
		case PL_FILE:
			jf->dev = r.a;
			jf->ino = r.b;
			jf->path = xstrndup((const char *)jbuf + off + sizeof r, r.len);
			jf->known = true;
			break;
		case PL_OLD:
			CHECK(r.len <= PL_B);
			if (nold == cap) {
				cap = cap == 0 ? 1024 : cap * 2;
				old = xreallocarray(old, cap, sizeof *old);
			}
			old[nold] = (struct pl_old){ .at = nold, .file = r.file, .block = r.a,
			    .size = r.b, .data = jbuf + off + sizeof r, .len = r.len };
			nold++;
			break;
		case PL_DURABLE:
			for (i = nold; i-- > jf->synced;)
				if (old[i].file == r.file && old[i].block >= r.a &&
				    old[i].block <= r.b)
					old[i].dropped = true;
			jf->durable_end = SG_MAX(jf->durable_end, r.c);
			break;
		case PL_SYNC_BEGIN:
			if (r.a >= nbegins) {
				begins = xreallocarray(begins, r.a + 1024, sizeof *begins);
				nbegins = r.a + 1024;
			}
			begins[r.a] = nold;
			break;
		case PL_SYNC_END:
			CHECK(r.a < nbegins);
			jf->synced = SG_MAX(jf->synced, begins[r.a]);
			break;
		case PL_GONE:
			jf->gone = true;
			break;
		default:
			fail_msg("%s: record type %u at %zu", jpath, r.type, off);
		}
		off += sizeof r + r.len;
	}

	/* Pending: not durable, of a file still there. The oldest record of
	 * a block is its durable content; the oldest record of a file gives
	 * its durable size. */
	for (i = j = 0; i < nold; i++) {
		jf = &files[old[i].file];
		if (old[i].dropped || old[i].at < jf->synced || jf->gone || !jf->known)
			continue;
		if (!have_dsize[old[i].file]) {
			have_dsize[old[i].file] = true;
			dsize[old[i].file] = old[i].size;
		}
		old[j++] = old[i];
	}
	nold = j;
	qsort(old, nold, sizeof *old, pl_old_cmp);
	for (i = j = 0; i < nold; i++)
		if (j == 0 || old[j - 1].file != old[i].file || old[j - 1].block != old[i].block)
			old[j++] = old[i];
	nold = j;
	for (i = 0; i < nold; i = k) {
		for (k = i; k < nold && old[k].file == old[i].file; k++)
			;
		pl_cut_file(&files[old[i].file], old + i, k - i, dsize[old[i].file], pol, stats);
	}

	for (i = 0; i < PL_MAXFILES; i++)
		free(files[i].path);
	free(begins);
	free(old);
	free(jbuf);
}

/*
 * What a journal shows the store did, added to *cs: the log's commits
 * (syncs of wal.0 and wal.1; the log moved to the other segment when the
 * next one syncs the other file), checkpoints (completed syncs of
 * wal.ckpt), which wal.ckpt slot each wrote, and syncs of data.mdb; per
 * child process where it says so. A write after a sync always journals
 * its first block, and store_wal.c syncs after every log record and every
 * checkpoint slot it writes, so each one shows here.
 */
enum { PLC_WAL0, PLC_WAL1, PLC_CKPT, PLC_DATA, PLC_OTHER };

struct pl_census {
	unsigned long	seg_rounds[2];	/* rounds that wrote wal.0, wal.1 */
	unsigned long	commits[2];	/* log syncs completed by process 0, 1 */
	unsigned long	switches;	/* the log moved to the other segment */
	unsigned long	ckpts[2];	/* wal.ckpt syncs completed by process 0, 1 */
	unsigned long	slots[2];	/* wal.ckpt slot 0, 1 written */
	unsigned long	data_syncs;	/* data.mdb syncs completed */
};

static void
pl_census(const char *jpath, struct pl_census *cs)
{
	/* store_wal.c's slot_size(): a 4 KiB head, then the two meta pages */
	uint64_t slot = 4096 + 2 * (uint64_t)sysconf(_SC_PAGESIZE);
	static const char *const names[PLC_OTHER] = { "wal.0", "wal.1", "wal.ckpt", "data.mdb" };
	unsigned kind[PL_MAXFILES], last_seg = 2, k;
	bool seg_written[2] = { false, false };
	size_t off, jlen;
	uint8_t *jbuf = t_slurp(jpath, &jlen);
	char *path, *base;
	struct pl_rec r;

	for (k = 0; k < PL_MAXFILES; k++)
		kind[k] = PLC_OTHER;
	for (off = 0; jbuf != NULL && jlen - off >= sizeof r; off += sizeof r + r.len) {
		memcpy(&r, jbuf + off, sizeof r);
		if (r.len > jlen - off - sizeof r)
			break;	/* torn by the kill */
		CHECK(r.magic == PL_MAGIC && r.file < PL_MAXFILES && r.proc < 2);
		if (r.type == PL_FILE) {
			path = xstrndup((const char *)jbuf + off + sizeof r, r.len);
			base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
			for (k = 0; k < PLC_OTHER && strcmp(base, names[k]) != 0; k++)
				;
			kind[r.file] = k;
			free(path);
		} else if (r.type == PL_OLD && kind[r.file] <= PLC_WAL1) {
			seg_written[kind[r.file]] = true;
		} else if (r.type == PL_OLD && kind[r.file] == PLC_CKPT &&
		    r.a * PL_B % slot == 0) {
			cs->slots[r.a * PL_B / slot == 0 ? 0 : 1]++;
		} else if (r.type == PL_SYNC_BEGIN && kind[r.file] <= PLC_WAL1) {
			/* commits hold LMDB's writer lock: their syncs begin in order */
			if (last_seg != 2 && last_seg != kind[r.file])
				cs->switches++;
			last_seg = kind[r.file];
		} else if (r.type == PL_SYNC_END && kind[r.file] <= PLC_WAL1) {
			cs->commits[r.proc]++;
		} else if (r.type == PL_SYNC_END && kind[r.file] == PLC_CKPT) {
			cs->ckpts[r.proc]++;
		} else if (r.type == PL_SYNC_END && kind[r.file] == PLC_DATA) {
			cs->data_syncs++;
		}
	}
	cs->seg_rounds[0] += seg_written[0];
	cs->seg_rounds[1] += seg_written[1];
	free(jbuf);
}

/* ---- the self-test ---- */

static void
pl_fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + i / 251);
}

static void
pl_put(const char *path, int flags, off_t off, const uint8_t *p, size_t len)
{
	int fd = open(path, flags | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || pwrite(fd, p, len, off) != (ssize_t)len)
		_exit(3);
	close(fd);
}

/* X: a's synced content; Y: overwritten in place; W: appended, no sync;
 * Z: b through O_DSYNC; c: P synced, Q pending, R over Q's first block
 * through O_DSYNC; e: new, renamed, no sync; d.old: new, unlinked, and d
 * made after it (often on its inode) gets R, no sync; lock.mdb: ignored. */
static uint8_t X[14000], Y[6000], W[10000], Z[9000], P[5000], Q[5000], R[4096], E[5000];

static void
pl_selftest_child(const char *dir, int fd)
{
	struct iovec iov[2] = { { Y, 3000 }, { Y + 3000, 3000 } };
	char *a = t_path(dir, "a"), *b = t_path(dir, "b"), *c = t_path(dir, "c");
	char *sub = t_path(dir, "store"), *lock = t_path(sub, "lock.mdb");
	char *etmp = t_path(sub, "e.tmp"), *e = t_path(sub, "e");
	char *dold = t_path(sub, "d.old"), *d = t_path(sub, "d");
	int afd, bfd, cfd;

	if ((afd = open(a, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    pwrite(afd, X, sizeof X, 0) != (ssize_t)sizeof X || fdatasync(afd) != 0 ||
	    lseek(afd, 1000, SEEK_SET) != 1000 ||
	    writev(afd, iov, 2) != (ssize_t)sizeof Y)
		_exit(3);
	if ((bfd = open(b, O_WRONLY | O_CREAT | O_DSYNC | O_CLOEXEC, 0600)) < 0 ||
	    write(bfd, Z, sizeof Z) != (ssize_t)sizeof Z)
		_exit(3);
	if (pwrite(afd, W, sizeof W, sizeof X) != (ssize_t)sizeof W)
		_exit(3);
	if ((cfd = open(c, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    pwrite(cfd, P, sizeof P, 0) != (ssize_t)sizeof P || fsync(cfd) != 0 ||
	    pwrite(cfd, Q, sizeof Q, 0) != (ssize_t)sizeof Q)
		_exit(3);
	pl_put(c, O_WRONLY | O_DSYNC, 0, R, sizeof R);
	pl_put(lock, O_WRONLY, 0, W, sizeof W);
	pl_put(etmp, O_WRONLY, 0, E, sizeof E);
	if (rename(etmp, e) != 0)
		_exit(3);
	pl_put(dold, O_WRONLY, 0, E, sizeof E);
	if (unlink(dold) != 0)
		_exit(3);
	pl_put(d, O_WRONLY, 0, R, sizeof R);
	if (write(fd, "", 1) != 1)
		_exit(3);
	for (;;)
		pause();	/* until SIGKILL */
}

static void
pl_expect(const char *dir, const char *name, const uint8_t *want, size_t len)
{
	char *p = t_path(dir, name);
	uint8_t *got;
	size_t glen;

	got = t_slurp(p, &glen);
	if (got == NULL || glen != len || (len > 0 && memcmp(got, want, len) != 0))
		fail_msg("%s: %zu bytes, not the %zu expected%s", name, glen, len,
		    got != NULL && glen == len ? " (content differs)" : "");
	free(got);
	free(p);
}

/* A directory for one self-test round: torn down even when it fails. */
struct pl_self {
	char	*dir, *jpath;
};

static int
pl_self_setup(void **state)
{
	struct pl_self *ps = xcalloc(1, sizeof *ps);
	char *sub;

	pl_fill(X, sizeof X, 1);
	pl_fill(Y, sizeof Y, 2);
	pl_fill(W, sizeof W, 3);
	pl_fill(Z, sizeof Z, 4);
	pl_fill(P, sizeof P, 5);
	pl_fill(Q, sizeof Q, 6);
	pl_fill(R, sizeof R, 7);
	pl_fill(E, sizeof E, 8);
	ps->dir = t_tmpdir();
	ps->jpath = xasprintf("%s.plj", ps->dir);
	sub = t_path(ps->dir, "store");
	CHECK(mkdir(sub, 0700) == 0);
	free(sub);
	*state = ps;
	return 0;
}

static int
pl_self_teardown(void **state)
{
	struct pl_self *ps = *state;

	t_rmtree(ps->dir);
	unlink(ps->jpath);
	free(ps->jpath);
	free(ps->dir);
	free(ps);
	return 0;
}

/*
 * The child's writes, SIGKILL, then the power cut with pol. Pending: a's
 * blocks 0-1 (Y) and 3-5 (W), c's block 1, e's 0-1 and d's 0 (not
 * d.old's: gone, even when d got its inode number), 9 in all.
 */
static void
pl_selftest_round(const struct pl_self *ps, enum pl_policy pol)
{
	struct pl_stats stats = { 0, 0 };
	const char *dir = ps->dir;
	uint8_t want[sizeof X + sizeof W];
	int fds[2], status;
	char c;
	pid_t pid;

	pl_set_root(dir);
	CHECK(pipe(fds) == 0);
	CHECK((pid = fork()) >= 0);
	if (pid == 0) {
		close(fds[0]);
		pl_start(ps->jpath);
		pl_selftest_child(dir, fds[1]);
	}
	close(fds[1]);
	CHECK(read(fds[0], &c, 1) == 1);
	close(fds[0]);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFSIGNALED(status))
		fail_msg("self-test child exited %d", WEXITSTATUS(status));
	pl_power_cut(ps->jpath, pol, &stats);

	pl_expect(dir, "b", Z, sizeof Z);
	pl_expect(dir, "store/lock.mdb", W, sizeof W);
	memcpy(want, R, sizeof R);
	if (pol == PL_REVERT_ALL) {
		CHECK(stats.reverted == 9 && stats.kept == 0);
		pl_expect(dir, "a", X, sizeof X);
		memcpy(want + sizeof R, P + sizeof R, sizeof P - sizeof R);
		pl_expect(dir, "c", want, sizeof P);
		pl_expect(dir, "store/e", NULL, 0);
		pl_expect(dir, "store/d", NULL, 0);
	} else {
		CHECK(stats.reverted == 0 && stats.kept == 9);
		memcpy(want + sizeof R, Q + sizeof R, sizeof Q - sizeof R);
		pl_expect(dir, "c", want, sizeof Q);
		memcpy(want, X, sizeof X);
		memcpy(want + 1000, Y, sizeof Y);
		memcpy(want + sizeof X, W, sizeof W);
		pl_expect(dir, "a", want, sizeof X + sizeof W);
		pl_expect(dir, "store/e", E, sizeof E);
		pl_expect(dir, "store/d", R, sizeof R);
	}
}

/* The recorder and the reverter on plain files, first: putting every
 * pending block back leaves the synced and the O_DSYNC content... */
static void
test_simulator_revert_all(void **state)
{
	pl_selftest_round(*state, PL_REVERT_ALL);
}

/* ...keeping every one leaves what the child wrote last. */
static void
test_simulator_keep_all(void **state)
{
	pl_selftest_round(*state, PL_KEEP_ALL);
}

static void
pl_step(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(3);
}

/*
 * Two recording processes, one file each way: f's block 0 written by the
 * child (Y), then by its fork (W), never synced; g's block 0 the same, and
 * block 1 written by the fork (W), all of it synced by the child, then
 * block 1 again by the fork (Z). f and g start as X's first two blocks,
 * synced.
 */
static void
pl_duo_child(const char *dir, int fd)
{
	char *f = t_path(dir, "f"), *g = t_path(dir, "g");
	int ffd, gfd, ab[2], ba[2], status;
	pid_t pid;

	if ((ffd = open(f, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    (gfd = open(g, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    pwrite(ffd, X, 2 * PL_B, 0) != 2 * PL_B || fdatasync(ffd) != 0 ||
	    pwrite(gfd, X, 2 * PL_B, 0) != 2 * PL_B || fdatasync(gfd) != 0 ||
	    pipe(ab) != 0 || pipe(ba) != 0 || (pid = fork()) < 0)
		_exit(3);
	if (pid == 0) {
		pl_proc = 1;
		pl_step(ab[0]);
		if (pwrite(ffd, W, PL_B, 0) != PL_B || pwrite(gfd, W, PL_B, 0) != PL_B ||
		    pwrite(gfd, W, PL_B, PL_B) != PL_B || write(ba[1], "", 1) != 1)
			_exit(3);
		pl_step(ab[0]);
		if (pwrite(gfd, Z, PL_B, PL_B) != PL_B)
			_exit(3);
		_exit(0);
	}
	if (pwrite(ffd, Y, PL_B, 0) != PL_B || pwrite(gfd, Y, PL_B, 0) != PL_B ||
	    write(ab[1], "", 1) != 1)
		_exit(3);
	pl_step(ba[0]);
	if (fdatasync(gfd) != 0 || write(ab[1], "", 1) != 1 || waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0 || write(fd, "", 1) != 1)
		_exit(3);
	for (;;)
		pause();	/* until SIGKILL */
}

/*
 * Pending: f's block 0, whose durable content is X's, not Y's (what the
 * fork found there); g's block 1, whose is W's: the child's sync made the
 * fork's writes durable, and the fork's next write to the block journals
 * it again.
 */
static void
pl_duo_round(const struct pl_self *ps, enum pl_policy pol)
{
	struct pl_stats stats = { 0, 0 };
	uint8_t want[2 * PL_B];
	int fds[2], status;
	char c;
	pid_t pid;

	pl_set_root(ps->dir);
	CHECK(pipe(fds) == 0);
	CHECK((pid = fork()) >= 0);
	if (pid == 0) {
		close(fds[0]);
		pl_start(ps->jpath);
		pl_duo_child(ps->dir, fds[1]);
	}
	close(fds[1]);
	CHECK(read(fds[0], &c, 1) == 1);
	close(fds[0]);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFSIGNALED(status))
		fail_msg("self-test child exited %d", WEXITSTATUS(status));
	pl_power_cut(ps->jpath, pol, &stats);

	CHECK(stats.reverted + stats.kept == 2);
	memcpy(want, pol == PL_REVERT_ALL ? X : W, PL_B);
	memcpy(want + PL_B, X + PL_B, PL_B);
	pl_expect(ps->dir, "f", want, sizeof want);
	memcpy(want, W, PL_B);
	memcpy(want + PL_B, pol == PL_REVERT_ALL ? W : Z, PL_B);
	pl_expect(ps->dir, "g", want, sizeof want);
}

/* Both processes' writes and syncs count as one disk's. */
static void
test_simulator_two_processes(void **state)
{
	pl_duo_round(*state, PL_REVERT_ALL);
	pl_duo_round(*state, PL_KEEP_ALL);
}

/* ---- the store under power cuts ---- */

struct pl_fx {
	char			*dir, *jpath;
	struct store_opts	 o;	/* every open, the children's and verify's */
	struct t_reports	 rp;
};

static void
child_main(const struct pl_fx *fx, uint32_t round, int fd)
{
	char *err = NULL;
	struct store *st;

	pl_start(fx->jpath);	/* before the store writes anything */
	if ((st = store_open(&fx->o, &err)) == NULL)
		_exit(2);
	t_appenders_start(st, &fx->rp, round, 0, CHILD_THREADS, fd);
	for (;;)
		pause();	/* until SIGKILL */
}

/* One child appending from CHILD_THREADS threads, killed, the power cut
 * (counted into *cs when not NULL), every report checked. */
static void
power_cut_round(struct pl_fx *fx, uint32_t round, struct pl_stats *stats,
    struct pl_census *cs)
{
	int fds[2], status;
	size_t before;
	pid_t pid;

	CHECK(pipe(fds) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_main(fx, round, fds[1]);
	}
	close(fds[1]);
	t_sleep_ms(60 + sec_random_uniform(340));
	CHECK(kill(pid, SIGKILL) == 0);
	before = fx->rp.nseen;
	t_collect(&fx->rp, fds[0]);
	close(fds[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("round %u: the child exited %d (90..94: the recorder)", round,
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK(fx->rp.nseen > before);	/* the child got something done */
	if (cs != NULL)
		pl_census(fx->jpath, cs);
	pl_power_cut(fx->jpath, PL_RANDOM, stats);
	unlink(fx->jpath);
	t_verify(&fx->rp, &fx->o, round);
}

static void
test_power_cut_loses_nothing(void **state)
{
	struct pl_fx *fx = *state;
	struct pl_stats stats = { 0, 0 };
	uint32_t round;

	pl_set_root(fx->dir);
	for (round = 0; round < ROUNDS; round++)
		power_cut_round(fx, round, &stats, NULL);
	print_message("# %zu committed appends verified over %d power cuts; "
	    "%lu blocks reverted, %lu kept\n", fx->rp.nseen, ROUNDS, stats.reverted, stats.kept);
}

/* A log small enough for a round to see many checkpoints and switches. */
static void
small_log(struct pl_fx *fx)
{
	fx->o.wal_segment = 256 << 10;
	fx->o.checkpoint_bytes = 128 << 10;
}

static void
census_print(const char *what, const struct pl_census *cs)
{
	print_message("# %s: %lu + %lu log commits, %lu segment switches (wal.0 written "
	    "in %lu rounds, wal.1 in %lu); %lu + %lu checkpoints (wal.ckpt slot 0 written "
	    "%lu times, slot 1 %lu); data.mdb synced %lu times\n", what, cs->commits[0],
	    cs->commits[1], cs->switches, cs->seg_rounds[0], cs->seg_rounds[1], cs->ckpts[0],
	    cs->ckpts[1], cs->slots[0], cs->slots[1], cs->data_syncs);
}

/* The log went round, and checkpoints ran besides the one each process
 * makes when it opens the store (opens of them a round), or the test did
 * not test what it says. The bounds are a fraction of what an ASan build
 * shows. */
static void
census_check(const struct pl_census *cs, uint32_t rounds, unsigned opens)
{
	CHECK(cs->seg_rounds[0] > 0 && cs->seg_rounds[1] > 0);
	CHECK(cs->switches >= rounds);
	CHECK(cs->ckpts[0] + cs->ckpts[1] > opens * rounds + rounds / 2);
	CHECK(cs->slots[0] >= rounds && cs->slots[1] >= rounds);
}

/*
 * test_power_cut_loses_nothing with a 256 KiB segment and a checkpoint
 * every 128 KiB of log: the power goes with many checkpoints (the pin
 * moving, wal.ckpt's slots taking turns) and segment switches behind it.
 */
static void
test_power_cut_small_log(void **state)
{
	struct pl_fx *fx = *state;
	struct pl_stats stats = { 0, 0 };
	struct pl_census cs;
	uint32_t round;

	memset(&cs, 0, sizeof cs);
	small_log(fx);
	pl_set_root(fx->dir);
	for (round = 0; round < SMALL_ROUNDS; round++)
		power_cut_round(fx, round, &stats, &cs);
	print_message("# small log: %zu committed appends verified over %d power cuts; "
	    "%lu blocks reverted, %lu kept\n", fx->rp.nseen, SMALL_ROUNDS, stats.reverted,
	    stats.kept);
	census_print("small log", &cs);
	census_check(&cs, SMALL_ROUNDS, 1);
}

/*
 * The admin command of test_power_cut_two_writers: it opens the store
 * while the daemon has it open, so it must not recover (put back the
 * checkpoint's meta pages, replay the log): it writes nothing to data.mdb
 * before its own first commit.
 */
static void
admin_main(const struct pl_fx *fx, uint32_t round, int fd)
{
	/* store_wal.c's LOCK_LIVE: held shared by every process with it open */
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2,
	    .l_len = 1 };
	char *err = NULL, *p = xasprintf("%s/store/wal.lock", fx->dir);
	struct store *st;
	int lfd;

	if ((lfd = open(p, O_RDONLY | O_CLOEXEC)) < 0 || fcntl(lfd, F_OFD_GETLK, &fl) != 0 ||
	    fl.l_type != F_RDLCK)
		_exit(PL_EXIT_ALONE);
	close(lfd);
	free(p);
	if ((st = store_open(&fx->o, &err)) == NULL)
		_exit(2);
	if (pl_data_writes != 0)
		_exit(PL_EXIT_RECOVERED);
	t_appenders_start(st, &fx->rp, round, DUO_THREADS, DUO_THREADS, fd);
	for (;;)
		pause();	/* until SIGKILL */
}

/*
 * The daemon: it forks the admin command while it has no threads, opens
 * the store, starts appending, and then lets the admin command open it.
 * Both record into one journal and report on fd, in a process group of
 * their own that the parent kills whole.
 */
static void
daemon_main(const struct pl_fx *fx, uint32_t round, int fd)
{
	char *err = NULL, c;
	struct store *st;
	int go[2];
	pid_t pid;

	if (setpgid(0, 0) != 0)
		_exit(6);
	pl_start(fx->jpath);
	if (pipe(go) != 0 || (pid = fork()) < 0)
		_exit(6);
	if (pid == 0) {
		pl_proc = 1;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(7);	/* the daemon died first */
		close(go[0]);
		admin_main(fx, round, fd);
	}
	close(go[0]);
	if ((st = store_open(&fx->o, &err)) == NULL)
		_exit(2);
	t_appenders_start(st, &fx->rp, round, 0, DUO_THREADS, fd);
	if (write(go[1], "", 1) != 1)
		_exit(6);
	for (;;)
		pause();	/* until SIGKILL */
}

/* Reports until both processes sent one: false when the reports stop
 * (one of them exited) or do not come. */
static bool
duo_started(struct pl_fx *fx, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	bool daemon = false, admin = false;
	struct t_record r;

	while (!daemon || !admin) {
		if (poll(&pfd, 1, 30000) != 1 || read(fd, &r, sizeof r) != (ssize_t)sizeof r)
			return false;
		t_reports_add(&fx->rp, &r);
		if (r.thread < DUO_THREADS)
			daemon = true;
		else
			admin = true;
	}
	return true;
}

/* Reap the daemon, then the admin command (ours once the daemon is
 * gone: we are a subreaper); both must have died of the kill. */
static void
duo_reap(pid_t pid, uint32_t round)
{
	int status, n;
	pid_t w;

	for (n = 0; (w = waitpid(-pid, &status, 0)) > 0; n++)
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("round %u: the %s exited %d (90..96: the recorder or the test)",
			    round, w == pid ? "daemon" : "admin command",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK(errno == ECHILD);
	if (n != 2)
		fail_msg("round %u: %d processes reaped, not 2", round, n);
}

/*
 * A daemon and an admin command appending to the same store at once, two
 * threads each, then the power goes under both: the last sync of a file
 * by either counts for both, and a block either wrote since goes back to
 * what it held before the first of them wrote it.
 */
static void
test_power_cut_two_writers(void **state)
{
	struct pl_fx *fx = *state;
	struct pl_stats stats = { 0, 0 };
	struct pl_census cs;
	size_t i, before, per[2] = { 0, 0 };
	int fds[2];
	uint32_t round;
	bool started;
	pid_t pid;

	memset(&cs, 0, sizeof cs);
	small_log(fx);
	pl_set_root(fx->dir);
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	for (round = 0; round < DUO_ROUNDS; round++) {
		CHECK(pipe(fds) == 0);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			daemon_main(fx, round, fds[1]);
		}
		close(fds[1]);
		(void)setpgid(pid, pid);	/* the child does too: whoever is first */
		before = fx->rp.nseen;
		if ((started = duo_started(fx, fds[0])))
			t_sleep_ms(sec_random_uniform(300));
		CHECK(kill(-pid, SIGKILL) == 0);
		t_collect(&fx->rp, fds[0]);
		close(fds[0]);
		duo_reap(pid, round);
		if (!started)
			fail_msg("round %u: no append from both processes", round);
		for (i = before; i < fx->rp.nseen; i++)
			per[fx->rp.seen[i].thread < DUO_THREADS ? 0 : 1]++;
		pl_census(fx->jpath, &cs);
		pl_power_cut(fx->jpath, PL_RANDOM, &stats);
		unlink(fx->jpath);
		t_verify(&fx->rp, &fx->o, round);
	}
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0) == 0);
	print_message("# two writers: %zu committed appends (daemon %zu, admin %zu) verified "
	    "over %d power cuts; %lu blocks reverted, %lu kept\n", fx->rp.nseen, per[0], per[1],
	    DUO_ROUNDS, stats.reverted, stats.kept);
	census_print("two writers", &cs);
	CHECK(cs.commits[0] > 0 && cs.commits[1] > 0);
	CHECK(cs.ckpts[0] > 0 && cs.ckpts[1] > 0);
	census_check(&cs, DUO_ROUNDS, 2);
}

static int
setup(void **state)
{
	struct pl_fx *fx = xcalloc(1, sizeof *fx);

	fx->dir = t_tmpdir();
	fx->jpath = xasprintf("%s.plj", fx->dir);	/* outside the recorded tree */
	fx->o.data_dir = fx->dir;
	t_reports_init(&fx->rp, fx->dir, "powerloss", "powerloss@example.org", PW);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct pl_fx *fx = *state;

	t_reports_free(&fx->rp);
	t_rmtree(fx->dir);
	unlink(fx->jpath);
	free(fx->jpath);
	free(fx->dir);
	free(fx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_simulator_revert_all, pl_self_setup,
		    pl_self_teardown),
		cmocka_unit_test_setup_teardown(test_simulator_keep_all, pl_self_setup,
		    pl_self_teardown),
		cmocka_unit_test_setup_teardown(test_simulator_two_processes, pl_self_setup,
		    pl_self_teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_loses_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_small_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_two_writers, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return STORE_TEST_MAIN(tests);
}
