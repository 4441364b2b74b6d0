/* mime_test_util.c: corpus access and generated messages for the mime tests. */
#include "mime_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

char *
mt_read(const char *name, size_t *len_out)
{
	char *path = g_build_filename(MIME_CORPUS_DIR, name, NULL), *data;
	gsize len;

	if (!g_file_get_contents(path, &data, &len, NULL)) {
		fprintf(stderr, "cannot read %s\n", path);
		abort();
	}
	g_free(path);
	*len_out = len;
	return data;
}

static gint
mt_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
mt_corpus(void)
{
	GDir *d = g_dir_open(MIME_CORPUS_DIR, 0, NULL);
	GPtrArray *v = g_ptr_array_new();
	const char *n;

	if (d == NULL)
		abort();
	while ((n = g_dir_read_name(d)) != NULL) {
		if (g_str_has_suffix(n, ".eml"))
			g_ptr_array_add(v, g_strdup(n));
	}
	g_dir_close(d);
	g_ptr_array_sort(v, mt_cmp);
	g_ptr_array_add(v, NULL);
	return (char **)g_ptr_array_free(v, FALSE);
}

char *
mt_escape(const char *p, size_t len)
{
	GString *s = g_string_new(NULL);
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r')
			g_string_append(s, "\\r");
		else if (c == '\n')
			g_string_append(s, "\\n");
		else if (c == '\\')
			g_string_append(s, "\\\\");
		else if (c < 0x20 || c >= 0x7f)
			g_string_append_printf(s, "\\x%02x", c);
		else
			g_string_append_c(s, (char)c);
	}
	return g_string_free(s, FALSE);
}

char *
mt_section(const struct mime_summary *s, const char *msg, const char *spec, size_t *len_out)
{
	struct mime_section sec;
	struct mime_range r;

	if (mime_section_parse(spec, strlen(spec), &sec) < 0)
		abort();
	if (mime_section_range(s, &sec, &r) == MIME_RANGE_EMPTY) {
		*len_out = 0;
		return g_strdup("");
	}
	*len_out = (size_t)r.len;
	return g_strndup(msg + r.off, (gsize)r.len);
}

/* multipart/mixed nested depth times, a text part at the bottom; no boundary
 * is a prefix of another (fixed width). */
char *
mt_gen_deep(int depth, size_t *len_out)
{
	GString *s = g_string_new("From: deep@example.com\r\nSubject: deep\r\n");
	int i;

	for (i = 0; i < depth; i++)
		g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=\"d%03d\"\r\n"
		    "\r\n--d%03d\r\n", i, i);
	g_string_append(s, "Content-Type: text/plain\r\n\r\nbottom\r\n");
	for (i = depth - 1; i >= 0; i--)
		g_string_append_printf(s, "--d%03d--\r\n", i);
	*len_out = s->len;
	return g_string_free(s, FALSE);
}

char *
mt_gen_many(int parts, size_t *len_out)
{
	GString *s = g_string_new("From: many@example.com\r\nSubject: many\r\n"
	    "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n");
	int i;

	for (i = 0; i < parts; i++)
		g_string_append_printf(s, "--m\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i);
	g_string_append(s, "--m--\r\n");
	*len_out = s->len;
	return g_string_free(s, FALSE);
}

char *
mt_gen_big_header(size_t line_len, size_t *len_out)
{
	GString *s = g_string_new("From: big@example.com\r\nX-Big: ");
	size_t i;

	for (i = 0; i < line_len; i++)
		g_string_append_c(s, (char)('a' + i % 26));
	g_string_append(s, "\r\nSubject: after the big one\r\n\r\nbody\r\n");
	*len_out = s->len;
	return g_string_free(s, FALSE);
}

/* A text part and a base64 attachment of the given decoded size. */
char *
mt_gen_attachment(size_t bytes, size_t *len_out)
{
	GString *s = g_string_new("From: big@example.com\r\nSubject: attachment\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"att\"\r\n\r\n"
	    "--att\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	    "--att\r\nContent-Type: application/octet-stream; name=big.bin\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, n = (bytes + 2) / 3 * 4;

	for (i = 0; i < n; i++) {
		g_string_append_c(s, b64[(i * 7) % 64]);
		if (i % 76 == 75)
			g_string_append(s, "\r\n");
	}
	g_string_append(s, "\r\n--att--\r\n");
	*len_out = s->len;
	return g_string_free(s, FALSE);
}
