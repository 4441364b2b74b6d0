/*
 * test_mime_scan.c: the part table against GMime's own parse. For every
 * corpus message and the generated stress messages, the tree shapes must
 * agree, each leaf's body must be exactly the bytes GMime (with a
 * persistent stream) reads as that part's content, and each part's header
 * block must start where GMime's first header is and hold the same fields.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <gmime/gmime.h>

#include "mime/mime_private.h"
#include "mime_test_util.h"

struct mt_cmp {
	const struct mime_summary	*s;
	const char			*msg;
	size_t				 len;
	int				 leaves;
};

static uint32_t
mt_nchildren(const struct mime_summary *s, uint32_t i)
{
	uint32_t c, n = 0;

	for (c = s->nodes[i].first_child; c != MIME_NONE; c = s->nodes[c].next_sibling)
		n++;
	return n;
}

static uint32_t
mt_child(const struct mime_summary *s, uint32_t i, int k)
{
	uint32_t c = s->nodes[i].first_child;

	while (k-- > 0)
		c = s->nodes[c].next_sibling;
	return c;
}

/* The header names of our block, in order, against GMime's list. */
static void
mt_check_headers(struct mt_cmp *m, uint32_t i, GMimeObject *o)
{
	const struct mime_node *n = &m->s->nodes[i];
	GMimeHeaderList *hl = g_mime_object_get_header_list(o);
	struct mime_hiter it;
	struct mime_hfield f;
	int k = 0, count = g_mime_header_list_get_count(hl);

	mime_hiter_init(&it, m->msg + n->hdr_off, n->body_off - n->hdr_off);
	while (mime_hiter_next(&it, &f) && k < count) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, k);

		if (f.name == NULL)
			continue;
		assert_true(sg_ascii_ieq(f.name, f.name_len, g_mime_header_get_name(h)));
		assert_int_equal(g_mime_header_get_offset(h), n->hdr_off + f.start);
		k++;
	}
	assert_int_equal(k, count);
}

static void
mt_walk(struct mt_cmp *m, uint32_t i, GMimeObject *o, bool check_headers)
{
	const struct mime_node *n = &m->s->nodes[i];
	int k;

	if (check_headers)
		mt_check_headers(m, i, o);
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);

		assert_int_equal(n->kind, MIME_NODE_MULTIPART);
		assert_int_equal(mt_nchildren(m->s, i), g_mime_multipart_get_count(mp));
		for (k = 0; k < g_mime_multipart_get_count(mp); k++)
			mt_walk(m, mt_child(m->s, i, k), g_mime_multipart_get_part(mp, k), true);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *em = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		assert_int_equal(n->kind, MIME_NODE_MESSAGE);
		if (em != NULL && g_mime_message_get_mime_part(em) != NULL)
			mt_walk(m, n->first_child, g_mime_message_get_mime_part(em), false);
	} else {
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
		GMimeStream *st = w == NULL ? NULL : g_mime_data_wrapper_get_stream(w);

		assert_int_equal(n->kind, MIME_NODE_LEAF);
		if (st != NULL) {
			assert_int_equal(st->bound_start, n->body_off);
			assert_int_equal(st->bound_end, n->body_end);
		} else {
			assert_int_equal(n->body_off, n->body_end);
		}
		m->leaves++;
	}
}

/* Parses msg with GMime over a persistent memory stream, compares. */
static void
mt_check(const char *name, const char *msg, size_t len)
{
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(msg, len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *gm;
	struct mt_cmp m = { .msg = msg, .len = len };
	struct mime_summary *s = mime_summarize(msg, len);

	g_mime_parser_set_persist_stream(p, TRUE);
	gm = g_mime_parser_construct_message(p, NULL);
	m.s = s;
	print_message("# %s: %u parts\n", name, s->nnodes);
	if (gm != NULL && g_mime_message_get_mime_part(gm) != NULL)
		mt_walk(&m, 0, g_mime_message_get_mime_part(gm), false);
	if (gm != NULL)
		g_object_unref(gm);
	g_object_unref(p);
	g_object_unref(st);
	mime_summary_free(&s);
}

static void
test_corpus_matches_gmime(void **state)
{
	char **names = mt_corpus(), *msg;
	size_t len, i;

	(void)state;
	for (i = 0; names[i] != NULL; i++) {
		msg = mt_read(names[i], &len);
		mt_check(names[i], msg, len);
		g_free(msg);
	}
	g_strfreev(names);
}

static void
test_deep_nesting_within_cap_matches_gmime(void **state)
{
	size_t len;
	char *msg = mt_gen_deep(MIME_DEPTH_MAX - 1, &len);

	(void)state;
	mt_check("deep", msg, len);
	g_free(msg);
}

static void
test_ten_thousand_parts_match_gmime(void **state)
{
	size_t len;
	char *msg = mt_gen_many(10000, &len);

	(void)state;
	mt_check("many", msg, len);
	g_free(msg);
}

static void
test_big_attachment_matches_gmime(void **state)
{
	size_t len;
	char *msg = mt_gen_attachment(20u * 1024 * 1024, &len);

	(void)state;
	mt_check("20MB", msg, len);
	g_free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_matches_gmime),
		cmocka_unit_test(test_deep_nesting_within_cap_matches_gmime),
		cmocka_unit_test(test_ten_thousand_parts_match_gmime),
		cmocka_unit_test(test_big_attachment_matches_gmime),
	};

	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
