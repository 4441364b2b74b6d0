/*
 * fuzz_mime: summarize arbitrary bytes, check every offset slices the
 * input, then encode, decode and compare (decode(encode(x)) == x).
 */
#include <stdint.h>
#include <stdlib.h>

#include "mime/mime_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_summary *s, *d;
	unsigned char *buf;
	size_t len;
	uint32_t i;

	mime_init();
	s = mime_summarize((const char *)data, size);
	for (i = 0; i < s->nnodes; i++) {
		const struct mime_node *n = &s->nodes[i];

		if (n->hdr_off > n->body_off || n->body_off > n->body_end || n->body_end > size)
			abort();
	}
	if (mime_summary_encode(s, &buf, &len) != 0)
		abort();
	d = mime_summary_decode(buf, len);
	if (d == NULL || !mime_summary_equal(s, d))
		abort();
	free(buf);
	mime_summary_free(&d);
	mime_summary_free(&s);
	return 0;
}
