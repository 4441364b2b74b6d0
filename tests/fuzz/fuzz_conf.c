/*
 * fuzz_conf: arbitrary bytes as a configuration file through
 * conf_load_text(). A load either fails with a "NAME:..." message or gives
 * a configuration whose conf_print() output loads again and prints the same
 * (check-config's round trip), whatever the input was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
fuzz_print(const struct conf *c, size_t *len_out)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len_out);

	if (f == NULL)
		abort();
	conf_print(c, f);
	if (fclose(f) != 0)
		abort();
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c, *c2;
	char *err = NULL, *a, *b;
	size_t alen, blen;

	c = conf_load_text("fuzz", (const char *)data, size, &err);
	if (c == NULL) {
		if (err == NULL || strncmp(err, "fuzz", 4) != 0)
			abort();	/* every error names the file */
		free(err);
		return 0;
	}
	if (err != NULL)
		abort();
	a = fuzz_print(c, &alen);
	c2 = conf_load_text("printed", a, alen, &err);
	if (c2 == NULL) {
		fprintf(stderr, "printed configuration does not load: %s\n%s", err, a);
		abort();
	}
	b = fuzz_print(c2, &blen);
	if (alen != blen || memcmp(a, b, alen) != 0) {
		fprintf(stderr, "round trip differs:\n%s\n----\n%s", a, b);
		abort();
	}
	free(a);
	free(b);
	conf_free(&c);
	conf_free(&c2);
	return 0;
}
