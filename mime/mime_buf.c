/*
 * mime_buf.c: the growable byte buffer the summary is built in. Sizes are
 * bounded by the message and the documented caps, so growth aborts on OOM
 * like every internal allocation (xreallocarray).
 */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/sg.h"

void
mime_buf_reserve(struct mime_buf *b, size_t more)
{
	size_t want;

	if (more > SIZE_MAX - b->len)
		fatal("mime_buf: size overflow");
	want = b->len + more;
	if (want <= b->cap)
		return;
	if (b->cap < 64)
		b->cap = 64;
	while (b->cap < want)
		b->cap = b->cap > SIZE_MAX / 2 ? want : b->cap * 2;
	b->p = xreallocarray(b->p, b->cap, 1);
}

void
mime_buf_add(struct mime_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	mime_buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
mime_buf_addc(struct mime_buf *b, char c)
{
	if (b->len == b->cap)
		mime_buf_reserve(b, 1);
	b->p[b->len++] = c;
}

void
mime_buf_adds(struct mime_buf *b, const char *s)
{
	mime_buf_add(b, s, strlen(s));
}

void
mime_buf_add_u64(struct mime_buf *b, uint64_t v)
{
	char tmp[SG_U64_DIGITS], *p = sg_u64_dec(tmp, v);

	mime_buf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

void
mime_buf_free(struct mime_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
