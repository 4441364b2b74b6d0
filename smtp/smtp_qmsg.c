/*
 * smtp_qmsg.c: the plaintext of a queue entry, before store_queue_seal():
 *
 *   u8 version, u8 kind, u8 flags (bit 0 SMTPUTF8, bits 1-2 RET),
 *   i64 arrival, str from, str envid, u32 nrcpts,
 *   nrcpts x (str addr, str orcpt, u8 notify), u64 msg_len, msg
 *
 * where str is a u16 length (0xffff for none) and the bytes; integers are
 * big-endian. The decoder bounds-checks everything (the payload is
 * authenticated, but a format bug must not become a memory error).
 */
#include "smtp/smtp_queue.h"

#include <stdlib.h>
#include <string.h>

#define SMTP_QSTR_NONE	0xffffu

static void
smtp_put_be(struct sec_buf *out, uint64_t v, unsigned bytes)
{
	uint8_t b[8];
	unsigned i;

	for (i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	sec_buf_append(out, b, bytes);
}

static void
smtp_put_str(struct sec_buf *out, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	SG_ASSERT(n < SMTP_QSTR_NONE);
	smtp_put_be(out, s != NULL ? n : SMTP_QSTR_NONE, 2);
	if (n > 0)
		sec_buf_append(out, s, n);
}

void
smtp_qmsg_encode(const struct smtp_qmsg *q, struct sec_buf *out)
{
	size_t i;

	smtp_put_be(out, SMTP_QMSG_VERSION, 1);
	smtp_put_be(out, (uint64_t)q->kind, 1);
	smtp_put_be(out, (q->smtputf8 ? 1u : 0u) | ((unsigned)q->ret & 3u) << 1, 1);
	smtp_put_be(out, (uint64_t)q->arrival, 8);
	smtp_put_str(out, q->from != NULL ? q->from : "");
	smtp_put_str(out, q->envid);
	smtp_put_be(out, q->nrcpts, 4);
	for (i = 0; i < q->nrcpts; i++) {
		smtp_put_str(out, q->rcpts[i].addr);
		smtp_put_str(out, q->rcpts[i].orcpt);
		smtp_put_be(out, q->rcpts[i].notify & 0xffu, 1);
	}
	smtp_put_be(out, q->msg_len, 8);
	if (q->msg_len > 0)
		sec_buf_append(out, q->msg, q->msg_len);
}

struct smtp_rd {
	const uint8_t	*p;
	size_t		 len, off;
	bool		 bad;
};

static uint64_t
smtp_get_be(struct smtp_rd *r, unsigned bytes)
{
	uint64_t v = 0;
	unsigned i;

	if (r->bad || r->len - r->off < bytes) {
		r->bad = true;
		return 0;
	}
	for (i = 0; i < bytes; i++)
		v = v << 8 | r->p[r->off + i];
	r->off += bytes;
	return v;
}

static char *
smtp_get_str(struct smtp_rd *r)
{
	uint64_t n = smtp_get_be(r, 2);
	char *s;

	if (r->bad || n == SMTP_QSTR_NONE)
		return NULL;
	if (r->len - r->off < n || memchr(r->p + r->off, '\0', n) != NULL) {
		r->bad = true;
		return NULL;
	}
	s = xstrndup((const char *)r->p + r->off, n);
	r->off += n;
	return s;
}

void
smtp_qmsg_add_rcpt(struct smtp_qmsg *q, const char *addr, const char *orcpt, unsigned notify)
{
	struct smtp_qrcpt *r;

	q->rcpts = xreallocarray(q->rcpts, q->nrcpts + 1, sizeof *q->rcpts);
	r = &q->rcpts[q->nrcpts++];
	r->addr = xstrdup(addr);
	r->orcpt = orcpt != NULL ? xstrdup(orcpt) : NULL;
	r->notify = notify;
}

int
smtp_qmsg_decode(const uint8_t *p, size_t len, struct smtp_qmsg *q)
{
	struct smtp_rd r = { p, len, 0, false };
	uint64_t n, i, flags, mlen;

	memset(q, 0, sizeof *q);
	if (smtp_get_be(&r, 1) != SMTP_QMSG_VERSION)
		return -1;
	q->kind = (enum smtp_qkind)smtp_get_be(&r, 1);
	flags = smtp_get_be(&r, 1);
	q->smtputf8 = (flags & 1) != 0;
	q->ret = (enum smtp_ret)((flags >> 1) & 3);
	q->arrival = (int64_t)smtp_get_be(&r, 8);
	q->from = smtp_get_str(&r);
	q->envid = smtp_get_str(&r);
	n = smtp_get_be(&r, 4);
	if (r.bad || q->from == NULL || n > SMTP_QMSG_RCPTS_MAX || q->kind < SMTP_QK_MAIL ||
	    q->kind > SMTP_QK_DSN || q->ret > SMTP_RET_HDRS)
		goto bad;
	if (n > 0)
		q->rcpts = xcalloc((size_t)n, sizeof *q->rcpts);
	for (i = 0; i < n; i++) {
		struct smtp_qrcpt *rc = &q->rcpts[i];

		q->nrcpts++;
		rc->addr = smtp_get_str(&r);
		rc->orcpt = smtp_get_str(&r);
		rc->notify = (unsigned)smtp_get_be(&r, 1);
		if (r.bad || rc->addr == NULL)
			goto bad;
	}
	mlen = smtp_get_be(&r, 8);
	if (r.bad || mlen != r.len - r.off)
		goto bad;
	q->msg = (const char *)p + r.off;
	q->msg_len = (size_t)mlen;
	return 0;
bad:
	smtp_qmsg_clear(q);
	return -1;
}

void
smtp_qmsg_clear(struct smtp_qmsg *q)
{
	size_t i;

	for (i = 0; i < q->nrcpts; i++) {
		free(q->rcpts[i].addr);
		free(q->rcpts[i].orcpt);
	}
	free(q->rcpts);
	free(q->from);
	free(q->envid);
	memset(q, 0, sizeof *q);
}
