/* mime_test_util.h: corpus access and helpers shared by the mime tests. */
#ifndef MIME_TEST_UTIL_H
#define MIME_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "mime/mime.h"

/* Reads tests/mime/corpus/NAME (g_free the result); aborts if missing. */
char *mt_read(const char *name, size_t *len_out);
/* The corpus's .eml names, sorted, NULL-terminated (g_strfreev). */
char **mt_corpus(void);
/* Printable form: \r \n \\ and \xHH escapes (g_free). */
char *mt_escape(const char *p, size_t len);
/* Bytes of a section of msg per the summary, as a new string (g_free). */
char *mt_section(const struct mime_summary *s, const char *msg, const char *spec,
    size_t *len_out);

/* Generated stress messages (g_free). */
char *mt_gen_deep(int depth, size_t *len_out);
char *mt_gen_many(int parts, size_t *len_out);
char *mt_gen_big_header(size_t line_len, size_t *len_out);
char *mt_gen_attachment(size_t bytes, size_t *len_out);

#endif
