/*
 * sec_mem.c: libsodium start-up, secret memory, randomness and the growable
 * byte buffer every crypto output goes through.
 */
#include "crypto/sec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/sec_private.h"
#include "gateway/gw_log.h"

#define SEC_BUF_MIN	256
#define SEC_ALIGN	16	/* max_align_t on the platforms we build for */

int
sec_init(void)
{
	/* 1 means "already initialized", which is fine. */
	return sodium_init() < 0 ? -1 : 0;
}

SG_NORETURN static void
sec_alloc_fail(size_t n)
{
	log_error("sec", "event=oom kind=secret size=%zu", n);
	abort();
}

/*
 * Each sodium_malloc() costs an mmap, two mprotects, an mlock and, on free,
 * an munmap whose TLB shootdown interrupts every core: several per ingested
 * message (its content key, two stream states). So freed blocks are zeroed
 * and kept, a few per size, and handed out again. They stay guarded and
 * locked; nothing secret survives the zeroing.
 */
#define SEC_POOL_CLASSES	8
#define SEC_POOL_DEPTH		32
#define SEC_POOL_MAX_SIZE	(256 * 1024)

struct sec_pool_class {
	size_t	 size;
	size_t	 n;
	void	*free[SEC_POOL_DEPTH];
};

static pthread_mutex_t sec_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sec_pool_class sec_pool[SEC_POOL_CLASSES];

static size_t
sec_round(size_t n)
{
	if (n > SIZE_MAX - SEC_ALIGN)
		sec_alloc_fail(n);
	return n == 0 ? SEC_ALIGN : (n + SEC_ALIGN - 1) / SEC_ALIGN * SEC_ALIGN;
}

static void *
sec_pool_get(size_t rounded)
{
	void *p = NULL;
	size_t i;

	pthread_mutex_lock(&sec_pool_mu);
	for (i = 0; i < SEC_POOL_CLASSES && sec_pool[i].size != 0; i++)
		if (sec_pool[i].size == rounded) {
			if (sec_pool[i].n > 0)
				p = sec_pool[i].free[--sec_pool[i].n];
			break;
		}
	pthread_mutex_unlock(&sec_pool_mu);
	return p;
}

/* sodium_malloc() ends a block exactly at its guard page, so a block whose
 * end is not page-aligned for this size was allocated with another size (a
 * caller passing the wrong n): it is neither zeroed by us nor kept. */
static bool
sec_pool_fits(const void *p, size_t rounded)
{
	static _Atomic long page;
	long pg = atomic_load(&page);

	if (pg == 0) {
		pg = sysconf(_SC_PAGESIZE);
		atomic_store(&page, pg);
	}
	return rounded <= SEC_POOL_MAX_SIZE && pg > 0 &&
	    ((uintptr_t)p + rounded) % (uintptr_t)pg == 0;
}

/* True if kept. */
static bool
sec_pool_put(void *p, size_t rounded)
{
	bool kept = false;
	size_t i;

	pthread_mutex_lock(&sec_pool_mu);
	for (i = 0; i < SEC_POOL_CLASSES; i++) {
		struct sec_pool_class *c = &sec_pool[i];

		if (c->size == 0)
			c->size = rounded;
		if (c->size != rounded)
			continue;
		if (c->n < SEC_POOL_DEPTH) {
			c->free[c->n++] = p;
			kept = true;
		}
		break;
	}
	pthread_mutex_unlock(&sec_pool_mu);
	return kept;
}

void *
sec_alloc(size_t n)
{
	size_t rounded = sec_round(n);
	void *p = sec_pool_get(rounded);

	if (p != NULL)
		return p;	/* zeroed when it was freed */
	/*
	 * sodium_malloc() puts guard pages around the region and locks it (an
	 * mlock() over RLIMIT_MEMLOCK is not fatal: the memory is still guarded
	 * and zeroed on free). It returns the end of a page minus the size, so
	 * round the size up to keep structs with pointers and size_t aligned.
	 * It fills new blocks with 0xdb; callers must not rely on either.
	 */
	p = sodium_malloc(rounded);
	if (p == NULL)
		sec_alloc_fail(n);
	return p;
}

void
sec_free(void *p, size_t n)
{
	size_t rounded;

	if (p == NULL)
		return;
	rounded = sec_round(n);
	if (sec_pool_fits(p, rounded)) {
		sodium_memzero(p, rounded);
		if (sec_pool_put(p, rounded))
			return;
	}
	sodium_free(p);		/* zeroes the whole block, whatever its size */
}

void
sec_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		sodium_memzero(p, n);
}

bool
sec_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

void
sec_random(void *buf, size_t n)
{
	randombytes_buf(buf, n);
}

uint32_t
sec_random_uniform(uint32_t upper)
{
	return randombytes_uniform(upper);
}

/*
 * Growing never uses realloc(): it could leave a stale copy of plaintext
 * behind in freed heap memory, so the old block is wiped before it is freed.
 */
void
sec_buf_reserve(struct sec_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra > SIZE_MAX - b->len) {
		log_error("sec", "event=oom kind=buf len=%zu extra=%zu", b->len, extra);
		abort();
	}
	need = b->len + extra;
	if (need <= b->cap)
		return;
	cap = b->cap < SEC_BUF_MIN ? SEC_BUF_MIN : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = xmalloc(cap);
	if (b->len > 0)
		memcpy(p, b->data, b->len);
	if (b->data != NULL) {
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
}

void
sec_buf_append(struct sec_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	sec_buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
sec_buf_wipe(struct sec_buf *b)
{
	if (b->data != NULL)
		sodium_memzero(b->data, b->cap);
	sec_buf_free(b);
}

void
sec_buf_free(struct sec_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
sec_le64_put(uint8_t out[8], uint64_t v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

uint64_t
sec_le64_get(const uint8_t in[8])
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)in[i] << (8 * i);
	return v;
}
