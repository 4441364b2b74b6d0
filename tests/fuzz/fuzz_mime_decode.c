/*
 * fuzz_mime_decode: the summary decoder on arbitrary bytes (it reads data
 * we wrote, but from storage an attacker may have touched); a decoded
 * summary is then used through the public accessors and sections.
 */
#include <stdint.h>
#include <stdlib.h>

#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const specs[] = { "", "1", "2.1", "1.MIME", "2.HEADER", "TEXT",
		"1.1.1", "3.2.TEXT" };
	struct mime_summary *s = mime_summary_decode(data, size);
	struct mime_section sec;
	struct mime_range r;
	size_t len, i;

	if (s == NULL)
		return 0;
	for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		if (mime_section_parse(specs[i], __builtin_strlen(specs[i]), &sec) == 0 &&
		    mime_section_range(s, &sec, &r) == MIME_RANGE_OK &&
		    (r.off > mime_summary_size(s) || r.len > mime_summary_size(s) - r.off))
			abort();
	}
	for (i = 0; mime_summary_address(s, i, &len) != NULL; i++)
		;
	(void)mime_search_match(s, MIME_FIELD_TEXT, "x", 1);
	mime_summary_free(&s);
	return 0;
}
