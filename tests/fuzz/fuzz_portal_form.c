/*
 * fuzz_portal_form: the portal's request bodies. The same bytes go through
 * portal_form_parse() (an HTML form post) and portal_json_parse() (the API).
 * Whatever parses gives NUL-free, UTF-8, bounded values; and each value,
 * written back with portal_url_encode() or portal_json_str(), parses again
 * to the same bytes. The first byte picks a field set, so that both the
 * enrollment and the password-change forms are exercised.
 *
 * XXX(issue 8): the portal's routing and handlers take a struct
 * evhttp_request, so only the body parsers are fuzzed; fuzz the request
 * handling too once it has a pure entry point.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/portal_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NFIELDS	4

static const char *const fuzz_sets[][FUZZ_NFIELDS] = {
	{ "password", "confirm", "token", "x" },
	{ "address", "current", "password", "confirm" },
};

static void
fuzz_fields(struct portal_field *f, unsigned set)
{
	size_t i;

	memset(f, 0, sizeof *f * FUZZ_NFIELDS);
	for (i = 0; i < FUZZ_NFIELDS; i++)
		f[i].name = fuzz_sets[set][i];
}

static void
fuzz_check(const struct portal_field *f)
{
	size_t i;

	for (i = 0; i < FUZZ_NFIELDS; i++) {
		if (f[i].value == NULL)
			continue;
		if (f[i].len > PORTAL_FIELD_MAX || strlen(f[i].value) != f[i].len ||
		    !g_utf8_validate(f[i].value, (gssize)f[i].len, NULL))
			abort();
	}
}

/* Each value written back as its own body must parse to the same bytes. */
static void
fuzz_round_trip(const struct portal_field *f, unsigned set)
{
	struct portal_field g[FUZZ_NFIELDS];
	size_t i;

	for (i = 0; i < FUZZ_NFIELDS; i++) {
		char *enc, *body;

		if (f[i].value == NULL)
			continue;
		enc = portal_url_encode(f[i].value);
		body = g_strdup_printf("%s=%s", f[i].name, enc);
		fuzz_fields(g, set);
		if (portal_form_parse(body, strlen(body), g, FUZZ_NFIELDS) != 0 ||
		    g[i].value == NULL || g[i].len != f[i].len ||
		    memcmp(g[i].value, f[i].value, f[i].len) != 0)
			abort();
		portal_fields_free(g, FUZZ_NFIELDS);
		free(enc);
		g_free(body);

		enc = portal_json_str(f[i].value);
		body = g_strdup_printf("{\"%s\": %s}", f[i].name, enc);
		fuzz_fields(g, set);
		if (portal_json_parse(body, strlen(body), g, FUZZ_NFIELDS) != 0 ||
		    g[i].value == NULL || g[i].len != f[i].len ||
		    memcmp(g[i].value, f[i].value, f[i].len) != 0)
			abort();
		portal_fields_free(g, FUZZ_NFIELDS);
		free(enc);
		g_free(body);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct portal_field f[FUZZ_NFIELDS];
	const char *body = (const char *)data + 1;
	unsigned set;

	if (!ready) {
		if (sec_init() != 0)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	set = data[0] & 1;
	size--;

	fuzz_fields(f, set);
	if (portal_form_parse(body, size, f, FUZZ_NFIELDS) == 0) {
		fuzz_check(f);
		fuzz_round_trip(f, set);
		portal_fields_free(f, FUZZ_NFIELDS);
	}
	fuzz_fields(f, set);
	if (portal_json_parse(body, size, f, FUZZ_NFIELDS) == 0) {
		fuzz_check(f);
		fuzz_round_trip(f, set);
		portal_fields_free(f, FUZZ_NFIELDS);
	}
	return 0;
}
