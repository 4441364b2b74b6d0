/*
 * fuzz_smtp_qmsg: arbitrary bytes as an opened queue payload. The decoder
 * must refuse or accept without reading out of bounds, and what it accepts
 * must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_qmsg q;
	struct sec_buf b = { 0 };

	if (smtp_qmsg_decode(data, size, &q) != 0)
		return 0;
	smtp_qmsg_encode(&q, &b);
	/* the flags byte may carry bits the decoder ignores: compare the rest */
	if (b.len != size || memcmp(b.data, data, 2) != 0 || memcmp(b.data + 3, data + 3,
	    size - 3) != 0)
		abort();
	smtp_qmsg_clear(&q);
	sec_buf_free(&b);
	return 0;
}
