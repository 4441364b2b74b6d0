/* fuzz_proxy.c: libFuzzer target for the PROXY protocol header parser. */
#include <stddef.h>
#include <stdint.h>

#include "gateway/gw_proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_proxy_hdr h;
	size_t need;

	if (gw_proxy_parse(data, size, &h, &need) == GW_PROXY_OK && h.len > size)
		__builtin_trap();	/* the header must lie within the input */
	return 0;
}
