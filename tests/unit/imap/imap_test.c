/*
 * imap_test.c: see imap_test.h.
 */
#include "imap_test.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

void
imap_tbuf_printf(struct imap_tbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->s == NULL) {
		b->cap = 256;
		b->len = 0;
		b->s = malloc(b->cap);
		assert_non_null(b->s);
	}
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, room, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
}

void
imap_tbuf_free(struct imap_tbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof *b);
}

static void
dump_str(struct imap_tbuf *b, const struct imap_str *s)
{
	size_t i;

	if (s->s == NULL) {
		imap_tbuf_printf(b, "NIL");
		return;
	}
	assert_int_equal(s->s[s->len], '\0');
	imap_tbuf_printf(b, "\"");
	for (i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			imap_tbuf_printf(b, "\\x%02x", c);
		else
			imap_tbuf_printf(b, "%c", c);
	}
	imap_tbuf_printf(b, "\"");
}

static void
dump_strs(struct imap_tbuf *b, const struct imap_str *s, size_t n)
{
	size_t i;

	imap_tbuf_printf(b, "[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			imap_tbuf_printf(b, " ");
		dump_str(b, &s[i]);
	}
	imap_tbuf_printf(b, "]");
}

static void
dump_seq(struct imap_tbuf *b, const struct imap_seq *set)
{
	char tmp[64];
	size_t need = imap_seq_render(set, tmp, sizeof tmp);
	char *big;

	if (need < sizeof tmp) {
		imap_tbuf_printf(b, "%s", tmp);
		return;
	}
	big = malloc(need + 1);
	assert_non_null(big);
	assert_int_equal(imap_seq_render(set, big, need + 1), need);
	imap_tbuf_printf(b, "%s", big);
	free(big);
}

static void
dump_flags(struct imap_tbuf *b, const struct imap_flags *f)
{
	static const char *const names[] = { "\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
		"\\Draft" };
	const char *sep = "";
	size_t i;

	imap_tbuf_printf(b, "(");
	for (i = 0; i < 5; i++) {
		if (f->sys & (1u << i)) {
			imap_tbuf_printf(b, "%s%s", sep, names[i]);
			sep = " ";
		}
	}
	for (i = 0; i < f->nkeywords; i++) {
		imap_tbuf_printf(b, "%s%s", sep, f->keywords[i].s);
		sep = " ";
	}
	imap_tbuf_printf(b, ")");
}

static void
dump_datetime(struct imap_tbuf *b, const struct imap_datetime *d)
{
	int z = d->zone_min < 0 ? -d->zone_min : d->zone_min;

	imap_tbuf_printf(b, "%04u-%02u-%02uT%02u:%02u:%02u%c%02d%02d", d->date.year, d->date.mon,
	    d->date.day, d->hour, d->min, d->sec, d->zone_min < 0 ? '-' : '+', z / 60, z % 60);
}

static void dump_skey(struct imap_tbuf *b, const struct imap_search_key *k);

static const char *const skey_names[] = {
	[IMAP_SKEY_AND] = "AND", [IMAP_SKEY_OR] = "OR", [IMAP_SKEY_NOT] = "NOT",
	[IMAP_SKEY_SET] = "SET", [IMAP_SKEY_UID] = "UID", [IMAP_SKEY_ALL] = "ALL",
	[IMAP_SKEY_ANSWERED] = "ANSWERED", [IMAP_SKEY_DELETED] = "DELETED",
	[IMAP_SKEY_DRAFT] = "DRAFT", [IMAP_SKEY_FLAGGED] = "FLAGGED", [IMAP_SKEY_NEW] = "NEW",
	[IMAP_SKEY_OLD] = "OLD", [IMAP_SKEY_RECENT] = "RECENT", [IMAP_SKEY_SEEN] = "SEEN",
	[IMAP_SKEY_UNANSWERED] = "UNANSWERED", [IMAP_SKEY_UNDELETED] = "UNDELETED",
	[IMAP_SKEY_UNDRAFT] = "UNDRAFT", [IMAP_SKEY_UNFLAGGED] = "UNFLAGGED",
	[IMAP_SKEY_UNSEEN] = "UNSEEN", [IMAP_SKEY_KEYWORD] = "KEYWORD",
	[IMAP_SKEY_UNKEYWORD] = "UNKEYWORD", [IMAP_SKEY_BCC] = "BCC", [IMAP_SKEY_BODY] = "BODY",
	[IMAP_SKEY_CC] = "CC", [IMAP_SKEY_FROM] = "FROM", [IMAP_SKEY_SUBJECT] = "SUBJECT",
	[IMAP_SKEY_TEXT] = "TEXT", [IMAP_SKEY_TO] = "TO", [IMAP_SKEY_HEADER] = "HEADER",
	[IMAP_SKEY_BEFORE] = "BEFORE", [IMAP_SKEY_ON] = "ON", [IMAP_SKEY_SINCE] = "SINCE",
	[IMAP_SKEY_SENTBEFORE] = "SENTBEFORE", [IMAP_SKEY_SENTON] = "SENTON",
	[IMAP_SKEY_SENTSINCE] = "SENTSINCE", [IMAP_SKEY_LARGER] = "LARGER",
	[IMAP_SKEY_SMALLER] = "SMALLER", [IMAP_SKEY_MODSEQ] = "MODSEQ",
};

static void
dump_skey_list(struct imap_tbuf *b, const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		imap_tbuf_printf(b, " ");
		dump_skey(b, k);
	}
}

static void
dump_skey(struct imap_tbuf *b, const struct imap_search_key *k)
{
	imap_tbuf_printf(b, "%s", skey_names[k->type]);
	switch (k->type) {
	case IMAP_SKEY_AND:
		imap_tbuf_printf(b, "(");
		dump_skey_list(b, k->u.sub);
		imap_tbuf_printf(b, " )");
		break;
	case IMAP_SKEY_OR:
		assert_non_null(k->u.sub);
		assert_non_null(k->u.sub->next);
		assert_null(k->u.sub->next->next);
		/* fall through */
	case IMAP_SKEY_NOT:
		imap_tbuf_printf(b, "(");
		dump_skey_list(b, k->u.sub);
		imap_tbuf_printf(b, " )");
		break;
	case IMAP_SKEY_SET:
	case IMAP_SKEY_UID:
		imap_tbuf_printf(b, "(");
		dump_seq(b, k->u.set);
		imap_tbuf_printf(b, ")");
		break;
	case IMAP_SKEY_KEYWORD: case IMAP_SKEY_UNKEYWORD: case IMAP_SKEY_BCC:
	case IMAP_SKEY_BODY: case IMAP_SKEY_CC: case IMAP_SKEY_FROM: case IMAP_SKEY_SUBJECT:
	case IMAP_SKEY_TEXT: case IMAP_SKEY_TO:
		imap_tbuf_printf(b, "(");
		dump_str(b, &k->u.str);
		imap_tbuf_printf(b, ")");
		break;
	case IMAP_SKEY_HEADER:
		imap_tbuf_printf(b, "(");
		dump_str(b, &k->u.header.name);
		imap_tbuf_printf(b, " ");
		dump_str(b, &k->u.header.value);
		imap_tbuf_printf(b, ")");
		break;
	case IMAP_SKEY_BEFORE: case IMAP_SKEY_ON: case IMAP_SKEY_SINCE:
	case IMAP_SKEY_SENTBEFORE: case IMAP_SKEY_SENTON: case IMAP_SKEY_SENTSINCE:
		imap_tbuf_printf(b, "(%04u-%02u-%02u)", k->u.date.year, k->u.date.mon, k->u.date.day);
		break;
	case IMAP_SKEY_LARGER: case IMAP_SKEY_SMALLER:
		imap_tbuf_printf(b, "(%llu)", (unsigned long long)k->u.number);
		break;
	case IMAP_SKEY_MODSEQ:
		imap_tbuf_printf(b, "(");
		if (k->u.modseq.entry.s != NULL) {
			dump_str(b, &k->u.modseq.entry);
			imap_tbuf_printf(b, " %d ", (int)k->u.modseq.entry_type);
		}
		imap_tbuf_printf(b, "%llu)", (unsigned long long)k->u.modseq.value);
		break;
	default:
		break;
	}
}

static const char *const fatt_names[] = {
	[IMAP_FATT_UID] = "UID", [IMAP_FATT_FLAGS] = "FLAGS",
	[IMAP_FATT_INTERNALDATE] = "INTERNALDATE", [IMAP_FATT_RFC822_SIZE] = "RFC822.SIZE",
	[IMAP_FATT_ENVELOPE] = "ENVELOPE", [IMAP_FATT_BODY] = "BODY",
	[IMAP_FATT_BODYSTRUCTURE] = "BODYSTRUCTURE", [IMAP_FATT_RFC822] = "RFC822",
	[IMAP_FATT_RFC822_HEADER] = "RFC822.HEADER", [IMAP_FATT_RFC822_TEXT] = "RFC822.TEXT",
	[IMAP_FATT_MODSEQ] = "MODSEQ", [IMAP_FATT_BODY_SECTION] = "BODY",
	[IMAP_FATT_BINARY] = "BINARY", [IMAP_FATT_BINARY_SIZE] = "BINARY.SIZE",
};

static const char *const section_texts[] = {
	[IMAP_SECTION_ALL] = "", [IMAP_SECTION_HEADER] = "HEADER",
	[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
	[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT", [IMAP_SECTION_TEXT] = "TEXT",
	[IMAP_SECTION_MIME] = "MIME",
};

static void
dump_fetch_att(struct imap_tbuf *b, const struct imap_fetch_att *a)
{
	const struct imap_section *s = &a->section;
	size_t i;

	imap_tbuf_printf(b, "%s%s", fatt_names[a->type], a->peek ? ".PEEK" : "");
	if (a->type < IMAP_FATT_BODY_SECTION)
		return;
	imap_tbuf_printf(b, "[");
	for (i = 0; i < s->nparts; i++)
		imap_tbuf_printf(b, "%s%u", i > 0 ? "." : "", s->parts[i]);
	if (s->text != IMAP_SECTION_ALL)
		imap_tbuf_printf(b, "%s%s", s->nparts > 0 ? "." : "", section_texts[s->text]);
	if (s->nfields > 0) {
		imap_tbuf_printf(b, " ");
		dump_strs(b, s->fields, s->nfields);
	}
	imap_tbuf_printf(b, "]");
	if (a->partial)
		imap_tbuf_printf(b, "<%u.%u>", a->origin, a->count);
}

static void
dump_fetch(struct imap_tbuf *b, const struct imap_args_fetch *f)
{
	static const char *const macros[] = { "", "ALL", "FAST", "FULL" };
	size_t i;

	imap_tbuf_printf(b, " set=");
	dump_seq(b, f->set);
	if (f->macro != IMAP_FETCH_MACRO_NONE)
		imap_tbuf_printf(b, " macro=%s", macros[f->macro]);
	imap_tbuf_printf(b, " atts=[");
	for (i = 0; i < f->natts; i++) {
		if (i > 0)
			imap_tbuf_printf(b, " ");
		dump_fetch_att(b, &f->atts[i]);
	}
	imap_tbuf_printf(b, "]");
	if (f->changedsince_set)
		imap_tbuf_printf(b, " changedsince=%llu", (unsigned long long)f->changedsince);
	if (f->vanished)
		imap_tbuf_printf(b, " vanished");
}

static void
dump_search(struct imap_tbuf *b, const struct imap_args_search *s)
{
	if (s->esearch)
		imap_tbuf_printf(b, " ret=0x%x", s->ret);
	if (s->charset.s != NULL) {
		imap_tbuf_printf(b, " charset=");
		dump_str(b, &s->charset);
	}
	imap_tbuf_printf(b, " nkeys=%zu%s ", s->nkeys, s->has_modseq ? " modseq" : "");
	dump_skey(b, s->root);
}

static void
dump_list(struct imap_tbuf *b, const struct imap_args_list *l)
{
	if (l->extended)
		imap_tbuf_printf(b, " ext sel=0x%x", l->select);
	imap_tbuf_printf(b, " ref=");
	dump_str(b, &l->ref);
	imap_tbuf_printf(b, " pats=");
	dump_strs(b, l->patterns, l->npatterns);
	if (l->extended)
		imap_tbuf_printf(b, " ret=0x%x status=0x%x", l->ret, l->status_items);
}

static void
dump_select(struct imap_tbuf *b, const struct imap_args_select *s)
{
	imap_tbuf_printf(b, " mbox=");
	dump_str(b, &s->mailbox);
	if (s->condstore)
		imap_tbuf_printf(b, " CONDSTORE");
	if (!s->qresync)
		return;
	imap_tbuf_printf(b, " QRESYNC %u %llu", s->uidvalidity, (unsigned long long)s->modseq);
	if (s->known_uids != NULL) {
		imap_tbuf_printf(b, " known=");
		dump_seq(b, s->known_uids);
	}
	if (s->match_seqs != NULL) {
		imap_tbuf_printf(b, " match=");
		dump_seq(b, s->match_seqs);
		imap_tbuf_printf(b, "/");
		dump_seq(b, s->match_uids);
	}
}

static void
dump_append(struct imap_tbuf *b, const struct imap_args_append *a)
{
	size_t i;

	imap_tbuf_printf(b, " mbox=");
	dump_str(b, &a->mailbox);
	for (i = 0; i < a->nmsgs; i++) {
		const struct imap_append_msg *m = &a->msgs[i];

		imap_tbuf_printf(b, " {");
		if (m->has_flags)
			dump_flags(b, &m->flags);
		if (m->has_date) {
			imap_tbuf_printf(b, " ");
			dump_datetime(b, &m->date);
		}
		imap_tbuf_printf(b, " %u%s}", m->size, m->sync ? "" : "+");
	}
}

static void
dump_store(struct imap_tbuf *b, const struct imap_args_store *s)
{
	static const char *const ops[] = { "", "+", "-" };

	imap_tbuf_printf(b, " set=");
	dump_seq(b, s->set);
	if (s->unchangedsince_set)
		imap_tbuf_printf(b, " unchangedsince=%llu", (unsigned long long)s->unchangedsince);
	imap_tbuf_printf(b, " %sFLAGS%s ", ops[s->op], s->silent ? ".SILENT" : "");
	dump_flags(b, &s->flags);
}

static void
dump_id(struct imap_tbuf *b, const struct imap_args_id *id)
{
	size_t i;

	if (id->nil) {
		imap_tbuf_printf(b, " NIL");
		return;
	}
	imap_tbuf_printf(b, " (");
	for (i = 0; i < id->npairs * 2; i++) {
		if (i > 0)
			imap_tbuf_printf(b, " ");
		dump_str(b, &id->pairs[i]);
	}
	imap_tbuf_printf(b, ")");
}

static void
dump_args(struct imap_tbuf *b, const struct imap_cmd *c)
{
	switch (c->id) {
	case IMAP_CMD_AUTHENTICATE:
		imap_tbuf_printf(b, " mech=");
		dump_str(b, &c->u.authenticate.mech);
		if (c->u.authenticate.has_ir) {
			imap_tbuf_printf(b, " ir=");
			dump_str(b, &c->u.authenticate.ir);
		}
		break;
	case IMAP_CMD_LOGIN:
		imap_tbuf_printf(b, " user=");
		dump_str(b, &c->u.login.user);
		imap_tbuf_printf(b, " pass=");
		dump_str(b, &c->u.login.pass);
		break;
	case IMAP_CMD_ENABLE:
		imap_tbuf_printf(b, " ");
		dump_strs(b, c->u.enable.caps, c->u.enable.ncaps);
		break;
	case IMAP_CMD_ID:
		dump_id(b, &c->u.id);
		break;
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE:
		dump_select(b, &c->u.select);
		break;
	case IMAP_CMD_CREATE:
		imap_tbuf_printf(b, " mbox=");
		dump_str(b, &c->u.create.mailbox);
		if (c->u.create.use != NULL) {
			imap_tbuf_printf(b, " use=");
			dump_strs(b, c->u.create.use, c->u.create.nuse);
		}
		break;
	case IMAP_CMD_DELETE:
	case IMAP_CMD_SUBSCRIBE:
	case IMAP_CMD_UNSUBSCRIBE:
		imap_tbuf_printf(b, " mbox=");
		dump_str(b, &c->u.mailbox.mailbox);
		break;
	case IMAP_CMD_RENAME:
		imap_tbuf_printf(b, " from=");
		dump_str(b, &c->u.rename.from);
		imap_tbuf_printf(b, " to=");
		dump_str(b, &c->u.rename.to);
		break;
	case IMAP_CMD_LIST:
	case IMAP_CMD_LSUB:
		dump_list(b, &c->u.list);
		break;
	case IMAP_CMD_STATUS:
		imap_tbuf_printf(b, " mbox=");
		dump_str(b, &c->u.status.mailbox);
		imap_tbuf_printf(b, " items=0x%x", c->u.status.items);
		break;
	case IMAP_CMD_APPEND:
		dump_append(b, &c->u.append);
		break;
	case IMAP_CMD_EXPUNGE:
		if (c->u.expunge.set != NULL) {
			imap_tbuf_printf(b, " set=");
			dump_seq(b, c->u.expunge.set);
		}
		break;
	case IMAP_CMD_SEARCH:
		dump_search(b, &c->u.search);
		break;
	case IMAP_CMD_FETCH:
		dump_fetch(b, &c->u.fetch);
		break;
	case IMAP_CMD_STORE:
		dump_store(b, &c->u.store);
		break;
	case IMAP_CMD_COPY:
	case IMAP_CMD_MOVE:
		imap_tbuf_printf(b, " set=");
		dump_seq(b, c->u.copy.set);
		imap_tbuf_printf(b, " mbox=");
		dump_str(b, &c->u.copy.mailbox);
		break;
	default:
		break;
	}
}

void
imap_test_dump_cmd(struct imap_tbuf *b, const struct imap_cmd *c)
{
	assert_int_equal(c->tag.s[c->tag.len], '\0');
	imap_tbuf_printf(b, "%s %s%s", c->tag.s, c->uid ? "UID " : "", imap_cmd_name(c->id));
	dump_args(b, c);
}

static const char *const perr_names[] = {
	[IMAP_PERR_NONE] = "NONE", [IMAP_PERR_SYNTAX] = "SYNTAX",
	[IMAP_PERR_UNKNOWN_COMMAND] = "UNKNOWN", [IMAP_PERR_LINE_TOO_LONG] = "LINE",
	[IMAP_PERR_CMD_TOO_LONG] = "CMD", [IMAP_PERR_LITERAL_TOO_BIG] = "LITERAL",
	[IMAP_PERR_APPEND_TOO_BIG] = "TOOBIG", [IMAP_PERR_LIMIT] = "LIMIT",
};

static void
dump_tag(struct imap_tbuf *b, const struct imap_parse_event *ev)
{
	if (ev->tag == NULL)
		imap_tbuf_printf(b, "*");
	else
		imap_tbuf_printf(b, "%.*s", (int)ev->tag_len, ev->tag);
}

/* The session's side of an APPEND event: take the octets, as much as there is. */
static size_t
take_append(struct imap_tbuf *b, const struct imap_parse_event *ev, const char *in,
    size_t left)
{
	const struct imap_append_msg *m = ev->append;
	struct imap_str data;
	size_t k = SG_MIN((size_t)ev->literal_size, left);

	imap_tbuf_printf(b, "APPEND ");
	dump_tag(b, ev);
	imap_tbuf_printf(b, " #%zu mbox=%s size=%u %s ", ev->append_index, ev->append_mailbox->s,
	    ev->literal_size, ev->literal_sync ? "sync" : "nosync");
	assert_int_equal(m->size, ev->literal_size);
	if (m->has_flags)
		dump_flags(b, &m->flags);
	if (m->has_date) {
		imap_tbuf_printf(b, " ");
		dump_datetime(b, &m->date);
	}
	imap_tbuf_printf(b, " data=");
	data.s = strndup(in, k);	/* in is not NUL-terminated there */
	data.len = k;
	dump_str(b, &data);
	free((char *)data.s);
	imap_tbuf_printf(b, "\n");
	return k;
}

static void
record_error(struct imap_tbuf *b, const struct imap_parse_event *ev)
{
	imap_tbuf_printf(b, "ERR ");
	dump_tag(b, ev);
	imap_tbuf_printf(b, " %s %s%s\n", perr_names[ev->err], ev->err_msg,
	    ev->fatal ? " FATAL" : "");
}

/* Handles one event; returns false when the harness must stop. */
static bool
handle_event(struct imap_parser *p, enum imap_parse_rc rc, struct imap_parse_event *ev,
    struct imap_tbuf *b, const struct imap_test_opts *o, const char *in, size_t len,
    size_t *pos)
{
	switch (rc) {
	case IMAP_PARSE_COMMAND:
		imap_tbuf_printf(b, "CMD ");
		imap_test_dump_cmd(b, ev->cmd);
		imap_tbuf_printf(b, "\n");
		imap_cmd_free(&ev->cmd);
		assert_null(ev->cmd);
		return true;
	case IMAP_PARSE_LITERAL:
		imap_tbuf_printf(b, "LIT ");
		dump_tag(b, ev);
		imap_tbuf_printf(b, " %u%s\n", ev->literal_size, o->reject_literal ? " rejected" : "");
		if (o->reject_literal)
			imap_parser_reject(p);
		return true;
	case IMAP_PARSE_APPEND:
		if (o->reject_append) {
			imap_tbuf_printf(b, "APPEND ");
			dump_tag(b, ev);
			imap_tbuf_printf(b, " #%zu rejected\n", ev->append_index);
			imap_parser_reject(p);
			return true;
		}
		if (len - *pos < ev->literal_size) {
			(void)take_append(b, ev, in + *pos, len - *pos);
			*pos = len;
			return false;
		}
		*pos += take_append(b, ev, in + *pos, len - *pos);
		imap_parser_literal_done(p);
		return true;
	case IMAP_PARSE_ERROR:
		record_error(b, ev);
		return !ev->fatal;
	case IMAP_PARSE_MORE:
		break;
	}
	return true;
}

char *
imap_test_run(const char *in, size_t len, size_t chunk, const struct imap_test_opts *o)
{
	static const struct imap_test_opts none;
	struct imap_parser *p;
	struct imap_parse_event ev;
	struct imap_tbuf b = { NULL, 0, 0 };
	size_t pos = 0, used, n;
	enum imap_parse_rc rc;
	bool go = true;

	if (o == NULL)
		o = &none;
	p = imap_parser_new(o->lim);
	imap_tbuf_printf(&b, "%s", "");
	while (go && pos < len) {
		n = chunk == 0 ? len - pos : SG_MIN(chunk, len - pos);
		rc = imap_parser_feed(p, in + pos, n, &used, &ev);
		assert_true(used <= n);
		if (rc == IMAP_PARSE_MORE)
			assert_int_equal(used, n);
		pos += used;
		go = handle_event(p, rc, &ev, &b, o, in, len, &pos);
	}
	if (go) {
		/* feed nothing: an accepted empty literal completes */
		rc = imap_parser_feed(p, "", 0, &used, &ev);
		if (rc != IMAP_PARSE_MORE)
			(void)handle_event(p, rc, &ev, &b, o, in, len, &pos);
	}
	imap_parser_free(&p);
	assert_null(p);
	return b.s;
}

void
imap_test_check_opts(const char *in, size_t len, const char *want, const struct imap_test_opts *o)
{
	static const size_t chunks[] = { 1, 2, 3, 7 };
	char *whole = imap_test_run(in, len, 0, o);
	size_t i;

	assert_string_equal(whole, want);
	for (i = 0; i < SG_NITEMS(chunks); i++) {
		char *part = imap_test_run(in, len, chunks[i], o);

		if (strcmp(part, whole) != 0)
			fail_msg("chunk %zu differs:\n%s\nvs whole:\n%s", chunks[i], part, whole);
		free(part);
	}
	free(whole);
}

char *
imap_test_parse1(const char *line, const struct imap_parse_limits *lim)
{
	struct imap_test_opts o = { lim, false, false };
	size_t n = strlen(line);
	char *in = malloc(n + 3);
	char *out;

	assert_non_null(in);
	memcpy(in, line, n);
	memcpy(in + n, "\r\n", 3);
	out = imap_test_run(in, n + 2, 0, &o);
	free(in);
	return out;
}

void
imap_test_expect_lim(const char *line, const char *want, const struct imap_parse_limits *lim)
{
	struct imap_test_opts o = { lim, false, false };
	size_t n = strlen(line), wn = strlen(want);
	char *in = malloc(n + 3), *w = malloc(wn + 2);

	assert_non_null(in);
	assert_non_null(w);
	memcpy(in, line, n);
	memcpy(in + n, "\r\n", 3);
	memcpy(w, want, wn);
	memcpy(w + wn, "\n", 2);
	imap_test_check_opts(in, n + 2, w, &o);
	free(in);
	free(w);
}

void
imap_test_expect(const char *line, const char *want)
{
	imap_test_expect_lim(line, want, NULL);
}
