/*
 * mime_dump: prints what sealgate would answer to
 * FETCH n (ENVELOPE BODYSTRUCTURE BODY) for each message file given, in
 * the form Dovecot prints it, so tests/mime/dovecot_compare.sh can diff
 * the two. A development tool, not a test.
 */
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "mime/mime.h"

int
main(int argc, char **argv)
{
	int i;

	mime_init();
	for (i = 1; i < argc; i++) {
		gchar *msg;
		gsize len;
		size_t el, bl, bdl;
		struct mime_summary *s;
		const char *env, *bs, *bd;

		if (!g_file_get_contents(argv[i], &msg, &len, NULL)) {
			fprintf(stderr, "%s: cannot read\n", argv[i]);
			return 1;
		}
		s = mime_summarize(msg, len);
		env = mime_summary_envelope(s, &el);
		bs = mime_summary_bodystructure(s, &bl);
		bd = mime_summary_body(s, &bdl);
		printf("* %d FETCH (ENVELOPE %.*s BODYSTRUCTURE %.*s BODY %.*s)\r\n", i,
		    (int)el, env, (int)bl, bs, (int)bdl, bd);
		mime_summary_free(&s);
		g_free(msg);
	}
	return 0;
}
