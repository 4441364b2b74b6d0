/*
 * sec_mem.c: libsodium start-up, secret memory, randomness and the growable
 * byte buffer every crypto output goes through.
 */
#include "crypto/sec.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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

void *
sec_alloc(size_t n)
{
	size_t rounded;
	void *p;

	/*
	 * sodium_malloc() puts guard pages around the region and locks it (an
	 * mlock() over RLIMIT_MEMLOCK is not fatal: the memory is still guarded
	 * and zeroed on free). It returns the end of a page minus the size, so
	 * round the size up to keep structs with pointers and size_t aligned.
	 */
	if (n > SIZE_MAX - SEC_ALIGN)
		sec_alloc_fail(n);
	rounded = n == 0 ? SEC_ALIGN : (n + SEC_ALIGN - 1) / SEC_ALIGN * SEC_ALIGN;
	p = sodium_malloc(rounded);
	if (p == NULL)
		sec_alloc_fail(n);
	return p;
}

void
sec_free(void *p, size_t n)
{
	(void)n;		/* sodium_free() knows the size and zeroes it all */
	sodium_free(p);
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
